/**
 * The typed, validated configuration of the agent. Built only by loadConfig (src/config/load.ts)
 * from the option table (src/config/options.ts); the table is typed against this interface, so every
 * field has exactly one option and the compiler checks their value types agree.
 *
 * Unit rule: every time span is held in milliseconds in a field ending in `Ms`, whatever unit the user
 * typed (NTH's integer seconds such as NODE_TERMINATION_GRACE_PERIOD=120 → 120000, Spot Guard's
 * durations such as `2m` → 120000). The one exception is `podTerminationGracePeriodSeconds`: -1 is
 * meaningful ("each pod's own grace period") and it is sent to the Eviction API in seconds.
 *
 * Optional options with no default are `undefined` when unset (the field is always present).
 */
import type { LogLevel } from '../observability/logger.js';

export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
export type TaintEffect = (typeof TAINT_EFFECTS)[number];

export interface Config {
  // ---- NTH-compatible (IMDS mode) ------------------------------------------------------------
  /** NODE_NAME: this node's Kubernetes name (required). */
  nodeName: string;
  /** INSTANCE_METADATA_URL: IMDS base URL, no trailing slash. */
  instanceMetadataUrl: string;
  /** METADATA_TRIES: attempts per IMDS request. */
  metadataTries: number;
  enableSpotInterruptionDraining: boolean;
  enableScheduledEventDraining: boolean;
  enableRebalanceMonitoring: boolean;
  enableRebalanceDraining: boolean;
  enableAsgLifecycleDraining: boolean;
  dryRun: boolean;
  cordonOnly: boolean;
  taintNode: boolean;
  taintEffect: TaintEffect;
  ignoreDaemonSets: boolean;
  deleteLocalData: boolean;
  /** POD_TERMINATION_GRACE_PERIOD: seconds; -1 = each pod's own terminationGracePeriodSeconds. */
  podTerminationGracePeriodSeconds: number;
  /** NODE_TERMINATION_GRACE_PERIOD (integer seconds) in ms: the drain deadline. */
  nodeTerminationGracePeriodMs: number;
  excludeFromLoadBalancers: boolean;
  emitKubernetesEvents: boolean;
  kubernetesEventsExtraAnnotations: Record<string, string>;
  /** Secret (redacted for display). */
  webhookUrl: string | undefined;
  /** Secret values (redacted for display). Default NTH's {"Content-type":"application/json"}. */
  webhookHeaders: Record<string, string>;
  webhookTemplate: string;
  /** When set, the template is read from this file instead of webhookTemplate (never both set by the user). */
  webhookTemplateFile: string | undefined;
  /** http(s) proxy URL; credentials redacted for display. */
  webhookProxy: string | undefined;
  enablePrometheusServer: boolean;
  prometheusServerPort: number;
  enableProbesServer: boolean;
  probesServerPort: number;
  probesServerEndpoint: string;
  logLevel: LogLevel;
  jsonLogging: boolean;
  /** POD_NAME: own pod, never evicted. */
  podName: string | undefined;
  /** NAMESPACE: own namespace, where Leases live. Default: service-account namespace file, else `default`. */
  namespace: string;
  /** AWS_REGION: unset = the region from IMDS at startup. */
  awsRegion: string | undefined;
  /** AWS_ENDPOINT: Auto Scaling API endpoint override (testing / simulator). */
  awsEndpoint: string | undefined;

  // ---- Spot Guard -----------------------------------------------------------------------------
  enableSpotGuard: boolean;
  spotAsgName: string | undefined;
  onDemandAsgName: string | undefined;
  spotGuardScaleTimeoutMs: number;
  spotGuardCapacityCheckTimeoutMs: number;
  spotGuardPollIntervalMs: number;
  spotGuardCapacityCacheTtlMs: number;
  spotGuardTaintKey: string;
  spotGuardTaintValue: string;
  spotGuardTaintEffect: TaintEffect;
  spotGuardRetireAfterDrain: boolean;
  /** Revert to spot: replace on-demand fallback nodes with spot once spot is healthy again. */
  spotGuardRevert: boolean;
  spotGuardMinimumWaitDurationMs: number;
  spotGuardSpotStabilityDurationMs: number;
  spotGuardCheckIntervalMs: number;
  spotGuardRevertConcurrency: number;
  /** `always`, `never` or weekly UTC windows (validated by parseRevertWindow). */
  spotGuardRevertWindow: string;
  spotGuardRevertBackoffMs: number;
  spotGuardRevertBackoffMaxMs: number;

  // ---- agent ----------------------------------------------------------------------------------
  /** KUBECONFIG: kubeconfig path; unset = in-cluster config. */
  kubeconfig: string | undefined;
  imdsPollIntervalMs: number;
  /** METADATA_TIMEOUT: per IMDS request. */
  metadataTimeoutMs: number;
  /** WEBHOOK_URL_FILE: webhookUrl is read from this file at startup (a mounted Secret). */
  webhookUrlFile: string | undefined;
  /** PROBES_KUBERNETES_UNREACHABLE_AFTER: the probe fails when the Kubernetes API has not answered for this long. */
  probesKubernetesUnreachableAfterMs: number;
  /** SHUTDOWN_TIMEOUT: bound for the graceful stop after SIGTERM. */
  shutdownTimeoutMs: number;
}

export type ConfigKey = keyof Config;

/**
 * Where a value came from. `file` = read from a file as the documented default (NAMESPACE from the
 * service-account namespace file).
 */
export type ConfigSource = 'flag' | 'env' | 'default' | 'file';

/** What loadConfig may read besides argv and env; injectable for tests. */
export interface LoadDeps {
  /** Contents of a file, or undefined when it cannot be read. Default: fs.readFileSync. */
  readFile(path: string): string | undefined;
}

export interface LoadedConfig {
  config: Config;
  sources: Record<ConfigKey, ConfigSource>;
  /** Non-fatal findings (ignored options, contradictions NTH tolerated, deprecated names). */
  warnings: string[];
}

/** Invalid configuration: one message per problem, all problems at once. */
export class ConfigError extends Error {
  readonly problems: string[];
  /** Warnings found along the way (shown with the problems). */
  readonly warnings: string[];
  constructor(problems: string[], warnings: string[] = []) {
    super(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration (${problems.length} problems):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
    this.warnings = warnings;
  }
}

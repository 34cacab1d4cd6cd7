/**
 * THE option table: the single source of truth for every configuration option. Commander flags
 * (addConfigOptions), env parsing and validation (loadConfig), redaction (redact.ts) and
 * docs/configuration.md (render-docs.ts) are all generated from it.
 *
 * Naming: the env var is the option's name; the flag is the same name in kebab case
 * (NODE_TERMINATION_GRACE_PERIOD ⇄ --node-termination-grace-period). NTH's differently spelled flags
 * and deprecated env names are accepted as hidden aliases.
 * Precedence: flag > flag alias > env > env alias > default. An empty env var counts as unset (as in NTH).
 */
import { REVERT_WINDOW_HELP, parseRevertWindow } from '../capacity/revert-window.js';
import { LOG_LEVELS } from '../observability/logger.js';
import { NTH_DEFAULT_WEBHOOK_TEMPLATE as NTH_WEBHOOK_TEMPLATE } from '../observability/webhook-template.js';
import {
  DNS1123_LABEL_RE,
  DNS1123_SUBDOMAIN,
  bool,
  duration,
  int,
  jsonHeaders,
  keyValueList,
  oneOf,
  path,
  port,
  qualifiedName,
  seconds,
  str,
  url,
  type Kind,
} from './kinds.js';
import { TAINT_EFFECTS, type Config, type ConfigKey, type LoadDeps } from './schema.js';

export type OptionGroup = 'nth' | 'spot-guard' | 'agent';

/**
 * How a secret is hidden for display (`spot-guard config`, startup logs):
 * - url-origin: keep scheme://host[:port], replace the rest (path, query, credentials) with ***
 * - url-credentials: keep the URL, replace user:password with ***:***
 * - map-values: keep keys, replace values with *** (except Content-Type, Accept, User-Agent)
 */
export type Redaction = 'url-origin' | 'url-credentials' | 'map-values';

export interface OptionDef<T> {
  /** Env var name (UPPER_SNAKE); the flag is derived from it. */
  env: string;
  kind: Kind<T>;
  /** Value when not set. Omitted for required options and optional ones that default to undefined. */
  default?: T;
  required?: boolean;
  /** Computed default (tried before `default`), e.g. NAMESPACE from the service-account file. */
  computeDefault?: (deps: LoadDeps) => T | undefined;
  /** Default in prose for docs and --help, when it is not simply `default` (e.g. "region from IMDS"). */
  defaultText?: string;
  description: string;
  group: OptionGroup;
  /** Set for secrets; how they are redacted. */
  secret?: Redaction;
  /** Other accepted spellings (hidden from --help); `deprecated`: using one of them gives a warning. */
  aliases?: { flags?: string[]; env?: string[]; deprecated?: boolean };
}

export type OptionTable = { [K in ConfigKey]: OptionDef<Config[K]> };

const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';


const nodeNameKind = str({
  maxLength: 253,
  pattern: DNS1123_SUBDOMAIN,
  allowed: 'a Kubernetes node name (lowercase DNS subdomain, at most 253 characters)',
  placeholder: '<name>',
});

const asgNameKind = str({
  maxLength: 255,
  pattern: /^[^\p{Cc}]+$/u,
  allowed: 'an Auto Scaling group name (1 to 255 characters, no control characters)',
  placeholder: '<name>',
  optional: true,
});

export const OPTIONS: OptionTable = {
  // ================================ NTH-compatible (IMDS mode) ================================
  nodeName: {
    env: 'NODE_NAME',
    kind: nodeNameKind,
    required: true,
    group: 'nth',
    description: 'Name of the Kubernetes node this agent runs on (downward API: spec.nodeName).',
  },
  instanceMetadataUrl: {
    env: 'INSTANCE_METADATA_URL',
    kind: url({ stripTrailingSlash: true }),
    default: 'http://169.254.169.254',
    group: 'nth',
    aliases: { flags: ['--metadata-url'] },
    description: 'Base URL of the EC2 instance metadata service (change only for testing).',
  },
  metadataTries: {
    env: 'METADATA_TRIES',
    kind: int({ min: 1, max: 100 }),
    default: 3,
    group: 'nth',
    description: 'Attempts per IMDS request (3 = 1 try + 2 retries).',
  },
  enableSpotInterruptionDraining: {
    env: 'ENABLE_SPOT_INTERRUPTION_DRAINING',
    kind: bool(),
    default: true,
    group: 'nth',
    description: 'Watch for spot interruption notices (ITN) and taint, cordon and drain the node.',
  },
  enableScheduledEventDraining: {
    env: 'ENABLE_SCHEDULED_EVENT_DRAINING',
    kind: bool(),
    default: true,
    group: 'nth',
    description: 'Watch scheduled maintenance events; drain before them and uncordon after a reboot.',
  },
  enableRebalanceMonitoring: {
    env: 'ENABLE_REBALANCE_MONITORING',
    kind: bool(),
    default: false,
    group: 'nth',
    description: 'Watch rebalance recommendations and cordon the node (no drain unless ENABLE_REBALANCE_DRAINING).',
  },
  enableRebalanceDraining: {
    env: 'ENABLE_REBALANCE_DRAINING',
    kind: bool(),
    default: false,
    group: 'nth',
    description: 'On a rebalance recommendation cordon and drain the node (implies rebalance monitoring).',
  },
  enableAsgLifecycleDraining: {
    env: 'ENABLE_ASG_LIFECYCLE_DRAINING',
    kind: bool(),
    default: false,
    group: 'nth',
    description: 'Watch the ASG target lifecycle state and drain when it becomes Terminated.',
  },
  dryRun: {
    env: 'DRY_RUN',
    kind: bool(),
    default: false,
    group: 'nth',
    description: 'Only log what would be done; write nothing to Kubernetes or AWS.',
  },
  cordonOnly: {
    env: 'CORDON_ONLY',
    kind: bool(),
    default: false,
    group: 'nth',
    description: 'Cordon (and taint, if enabled) but never drain.',
  },
  taintNode: {
    env: 'TAINT_NODE',
    kind: bool(),
    default: false,
    group: 'nth',
    description: "Taint the node with NTH's taint keys (aws-node-termination-handler/…) on an event.",
  },
  taintEffect: {
    env: 'TAINT_EFFECT',
    kind: oneOf(TAINT_EFFECTS),
    default: 'NoSchedule',
    group: 'nth',
    description: 'Effect of the NTH taints (with TAINT_NODE).',
  },
  ignoreDaemonSets: {
    env: 'IGNORE_DAEMON_SETS',
    kind: bool(),
    default: true,
    group: 'nth',
    description: 'Skip DaemonSet pods when draining.',
  },
  deleteLocalData: {
    env: 'DELETE_LOCAL_DATA',
    kind: bool(),
    default: true,
    group: 'nth',
    description: 'Evict pods that use emptyDir volumes (their local data is lost).',
  },
  podTerminationGracePeriodSeconds: {
    env: 'POD_TERMINATION_GRACE_PERIOD',
    kind: int({
      allowed: "-1 (each pod's own grace period) or an integer >= 0 (seconds)",
      check: (n) => n === -1 || n >= 0,
    }),
    default: -1,
    group: 'nth',
    aliases: { flags: ['--grace-period'], env: ['GRACE_PERIOD'], deprecated: true },
    description: "Grace period in seconds given to each evicted pod; -1 uses each pod's own.",
  },
  nodeTerminationGracePeriodMs: {
    env: 'NODE_TERMINATION_GRACE_PERIOD',
    kind: seconds({ min: 1 }),
    default: 120_000,
    group: 'nth',
    description: 'Integer seconds the drain of a node may take (the drain deadline).',
  },
  excludeFromLoadBalancers: {
    env: 'EXCLUDE_FROM_LOAD_BALANCERS',
    kind: bool(),
    default: false,
    group: 'nth',
    description: 'Label the node node.kubernetes.io/exclude-from-external-load-balancers on an event.',
  },
  emitKubernetesEvents: {
    env: 'EMIT_KUBERNETES_EVENTS',
    kind: bool(),
    default: false,
    group: 'nth',
    description: 'Emit Kubernetes events on the Node for notices and actions.',
  },
  kubernetesEventsExtraAnnotations: {
    env: 'KUBERNETES_EVENTS_EXTRA_ANNOTATIONS',
    kind: keyValueList(),
    default: {},
    group: 'nth',
    description: 'Extra annotations on emitted events, e.g. first=annotation,example.com/number=two.',
  },
  webhookUrl: {
    env: 'WEBHOOK_URL',
    kind: url({ optional: true }),
    group: 'nth',
    secret: 'url-origin',
    description: 'POST a notification to this URL on each event.',
  },
  webhookHeaders: {
    env: 'WEBHOOK_HEADERS',
    kind: jsonHeaders(),
    default: { 'Content-type': 'application/json' },
    group: 'nth',
    secret: 'map-values',
    description: 'Webhook HTTP headers as a JSON object; replaces the default.',
  },
  webhookTemplate: {
    env: 'WEBHOOK_TEMPLATE',
    kind: str({ allowed: 'a non-empty Go-style template', placeholder: '<template>' }),
    default: NTH_WEBHOOK_TEMPLATE,
    defaultText: "NTH's Slack-style text template",
    group: 'nth',
    description:
      "Webhook body template in NTH's Go template syntax ({{ .EventID }}, {{ .Kind }}, {{ .InstanceID }}, {{ .NodeName }}, …; subset and variables in docs/observability.md); checked at startup.",
  },
  webhookTemplateFile: {
    env: 'WEBHOOK_TEMPLATE_FILE',
    kind: path(),
    group: 'nth',
    description: 'Read the webhook template from this file instead (must exist at startup).',
  },
  webhookProxy: {
    env: 'WEBHOOK_PROXY',
    kind: url({ optional: true }),
    group: 'nth',
    secret: 'url-credentials',
    description: 'HTTP(S) proxy for webhook requests, e.g. http://proxy:3128.',
  },
  enablePrometheusServer: {
    env: 'ENABLE_PROMETHEUS_SERVER',
    kind: bool(),
    default: false,
    group: 'nth',
    description: 'Serve Prometheus metrics on /metrics.',
  },
  prometheusServerPort: {
    env: 'PROMETHEUS_SERVER_PORT',
    kind: port(),
    default: 9092,
    group: 'nth',
    description: 'Port of the metrics server.',
  },
  enableProbesServer: {
    env: 'ENABLE_PROBES_SERVER',
    kind: bool(),
    default: false,
    group: 'nth',
    description: 'Serve a liveness probe endpoint.',
  },
  probesServerPort: {
    env: 'PROBES_SERVER_PORT',
    kind: port(),
    default: 8080,
    group: 'nth',
    description: 'Port of the probes server.',
  },
  probesServerEndpoint: {
    env: 'PROBES_SERVER_ENDPOINT',
    kind: str({
      pattern: /^\/[^\s?#]*$/,
      allowed: 'an HTTP path starting with "/"',
      placeholder: '<path>',
    }),
    default: '/healthz',
    group: 'nth',
    description: 'Path of the liveness probe.',
  },
  logLevel: {
    env: 'LOG_LEVEL',
    kind: oneOf(LOG_LEVELS),
    default: 'info',
    group: 'nth',
    description: "Log level, any case (NTH's INFO, DEBUG, ERROR work).",
  },
  jsonLogging: {
    env: 'JSON_LOGGING',
    kind: bool(),
    default: false,
    group: 'nth',
    description: 'Log JSON lines instead of text.',
  },
  podName: {
    env: 'POD_NAME',
    kind: str({
      maxLength: 253,
      pattern: DNS1123_SUBDOMAIN,
      allowed: 'a Kubernetes pod name (lowercase DNS subdomain)',
      placeholder: '<name>',
      optional: true,
    }),
    group: 'nth',
    description: "This agent's own pod (never evicted by its drain; downward API metadata.name).",
  },
  namespace: {
    env: 'NAMESPACE',
    kind: str({
      maxLength: 63,
      pattern: DNS1123_LABEL_RE,
      allowed: 'a Kubernetes namespace (lowercase DNS label, at most 63 characters)',
      placeholder: '<namespace>',
    }),
    computeDefault: (deps) => {
      const ns = deps.readFile(SERVICE_ACCOUNT_NAMESPACE_FILE)?.trim();
      return ns && DNS1123_LABEL_RE.test(ns) ? ns : undefined;
    },
    default: 'default',
    defaultText: 'service-account namespace, else default',
    group: 'nth',
    aliases: { flags: ['--pod-namespace'] },
    description: "This agent's namespace (own pod, Leases that serialize ASG capacity changes).",
  },
  awsRegion: {
    env: 'AWS_REGION',
    kind: str({
      pattern: /^[a-z]{2}(-[a-z]+)+-\d+$/,
      allowed: 'an AWS region name such as us-east-1',
      placeholder: '<region>',
      optional: true,
    }),
    defaultText: 'region from IMDS',
    group: 'nth',
    description: 'Region of the Auto Scaling API; unset = read from instance metadata at startup.',
  },
  awsEndpoint: {
    env: 'AWS_ENDPOINT',
    kind: url({ optional: true }),
    group: 'nth',
    description: '[testing] Auto Scaling API endpoint (e.g. the simulator); unset = the AWS default.',
  },

  // ========================================= Spot Guard =========================================
  enableSpotGuard: {
    env: 'ENABLE_SPOT_GUARD',
    kind: bool(),
    default: false,
    group: 'spot-guard',
    description:
      'On a rebalance recommendation get replacement capacity first (spot +1, else on-demand +1), then taint, drain and retire the node; revert on-demand fallback to spot.',
  },
  spotAsgName: {
    env: 'SPOT_ASG_NAME',
    kind: asgNameKind,
    group: 'spot-guard',
    description: 'Auto Scaling group of the spot nodes (required with ENABLE_SPOT_GUARD).',
  },
  onDemandAsgName: {
    env: 'ON_DEMAND_ASG_NAME',
    kind: asgNameKind,
    group: 'spot-guard',
    description: 'Auto Scaling group used as on-demand fallback (required with ENABLE_SPOT_GUARD).',
  },
  spotGuardScaleTimeoutMs: {
    env: 'SPOT_GUARD_SCALE_TIMEOUT',
    kind: duration({ minMs: 1_000, maxMs: 3_600_000 }),
    default: 120_000,
    group: 'spot-guard',
    description: 'How long a scale-up may take to get its own new instance before falling back.',
  },
  spotGuardCapacityCheckTimeoutMs: {
    env: 'SPOT_GUARD_CAPACITY_CHECK_TIMEOUT',
    kind: duration({ minMs: 1_000, maxMs: 3_600_000 }),
    default: 120_000,
    group: 'spot-guard',
    description: 'How long the new instance may take to become a Ready node.',
  },
  spotGuardPollIntervalMs: {
    env: 'SPOT_GUARD_POLL_INTERVAL',
    kind: duration({ minMs: 100, maxMs: 600_000 }),
    default: 10_000,
    group: 'spot-guard',
    description: 'How often Auto Scaling group state is polled while waiting.',
  },
  spotGuardCapacityCacheTtlMs: {
    env: 'SPOT_GUARD_CAPACITY_CACHE_TTL',
    kind: duration({ minMs: 0, maxMs: 86_400_000 }),
    default: 180_000,
    group: 'spot-guard',
    description: 'How long a "no spot capacity" result is remembered cluster-wide (0 = not cached).',
  },
  spotGuardTaintKey: {
    env: 'SPOT_GUARD_TAINT_KEY',
    kind: qualifiedName(),
    default: 'spot-instance-terminating',
    group: 'spot-guard',
    description: 'Taint key put on the at-risk node once replacement capacity is there.',
  },
  spotGuardTaintValue: {
    env: 'SPOT_GUARD_TAINT_VALUE',
    kind: str({
      maxLength: 63,
      pattern: /^[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
      allowed: 'a Kubernetes label value (1-63 alphanumerics, "-", "_", ".")',
      placeholder: '<value>',
    }),
    default: 'true',
    group: 'spot-guard',
    description: 'Value of that taint.',
  },
  spotGuardTaintEffect: {
    env: 'SPOT_GUARD_TAINT_EFFECT',
    kind: oneOf(TAINT_EFFECTS),
    default: 'NoSchedule',
    group: 'spot-guard',
    description: 'Effect of that taint.',
  },
  spotGuardRetireAfterDrain: {
    env: 'SPOT_GUARD_RETIRE_AFTER_DRAIN',
    kind: bool(),
    default: true,
    group: 'spot-guard',
    description:
      'After the drain, remove the at-risk instance with TerminateInstanceInAutoScalingGroup(decrement) so the fleet keeps its size.',
  },

  spotGuardRevert: {
    env: 'SPOT_GUARD_REVERT',
    kind: bool(),
    default: true,
    group: 'spot-guard',
    description: 'Revert to spot: replace on-demand nodes Spot Guard launched as fallback with spot nodes once spot capacity is healthy again.',
  },
  spotGuardMinimumWaitDurationMs: {
    env: 'SPOT_GUARD_MINIMUM_WAIT_DURATION',
    kind: duration({ minMs: 0, maxMs: 7 * 86_400_000 }),
    default: 600_000,
    group: 'spot-guard',
    description: 'A fallback node must have been Ready this long before it may be reverted to spot.',
  },
  spotGuardSpotStabilityDurationMs: {
    env: 'SPOT_GUARD_SPOT_STABILITY_DURATION',
    kind: duration({ minMs: 0, maxMs: 86_400_000 }),
    default: 120_000,
    group: 'spot-guard',
    description:
      'Spot counts as healthy only after this long with no failed spot launch, no rebalance/ITN in the spot group, and all spot instances InService with Ready nodes; any bad signal restarts it.',
  },
  spotGuardCheckIntervalMs: {
    env: 'SPOT_GUARD_CHECK_INTERVAL',
    kind: duration({ minMs: 1_000, maxMs: 3_600_000 }),
    default: 30_000,
    group: 'spot-guard',
    description: 'How often a fallback node checks whether it can be reverted to spot.',
  },
  spotGuardRevertConcurrency: {
    env: 'SPOT_GUARD_REVERT_CONCURRENCY',
    kind: int({ min: 1, max: 100 }),
    default: 1,
    group: 'spot-guard',
    description: 'At most this many reverts in flight per on-demand group, cluster-wide (Lease slots).',
  },
  spotGuardRevertWindow: {
    env: 'SPOT_GUARD_REVERT_WINDOW',
    kind: str({
      allowed: REVERT_WINDOW_HELP,
      check: (v) => {
        try {
          parseRevertWindow(v);
          return undefined;
        } catch (err) {
          return (err as Error).message;
        }
      },
    }),
    default: 'always',
    group: 'spot-guard',
    description: 'When reverts may start: always, never, or weekly UTC windows like Mon:22:00-Tue:04:00 (comma-separated).',
  },
  spotGuardRevertBackoffMs: {
    env: 'SPOT_GUARD_REVERT_BACKOFF',
    kind: duration({ minMs: 1_000, maxMs: 86_400_000 }),
    default: 600_000,
    group: 'spot-guard',
    description: 'After a failed spot probe, the next probe for the group waits this long, doubling on every further failure.',
  },
  spotGuardRevertBackoffMaxMs: {
    env: 'SPOT_GUARD_REVERT_BACKOFF_MAX',
    kind: duration({ minMs: 1_000, maxMs: 7 * 86_400_000 }),
    default: 7_200_000,
    group: 'spot-guard',
    description: 'Cap of the doubling probe backoff.',
  },

  // =========================================== agent ===========================================
  kubeconfig: {
    env: 'KUBECONFIG',
    kind: path(),
    defaultText: 'in-cluster config',
    group: 'agent',
    description: 'Kubeconfig file; unset = in-cluster service-account config.',
  },
  imdsPollIntervalMs: {
    env: 'IMDS_POLL_INTERVAL',
    kind: duration({ minMs: 10, maxMs: 60_000 }),
    default: 2_000,
    group: 'agent',
    description: 'How often IMDS is polled for notices.',
  },
  metadataTimeoutMs: {
    env: 'METADATA_TIMEOUT',
    kind: duration({ minMs: 10, maxMs: 60_000 }),
    default: 2_000,
    group: 'agent',
    description: 'Timeout of one IMDS request (each of METADATA_TRIES).',
  },
  webhookUrlFile: {
    env: 'WEBHOOK_URL_FILE',
    kind: path(),
    group: 'agent',
    description:
      'Read WEBHOOK_URL from this file (e.g. a mounted Secret key), read once at startup; cannot be combined with WEBHOOK_URL.',
  },
  probesKubernetesUnreachableAfterMs: {
    env: 'PROBES_KUBERNETES_UNREACHABLE_AFTER',
    kind: duration({ minMs: 10_000, maxMs: 86_400_000 }),
    default: 300_000,
    group: 'agent',
    description:
      'The liveness probe answers 503 when no Kubernetes API call has succeeded for this long (the agent cannot cordon or drain).',
  },
  shutdownTimeoutMs: {
    env: 'SHUTDOWN_TIMEOUT',
    kind: duration({ minMs: 0, maxMs: 3_600_000 }),
    default: 25_000,
    group: 'agent',
    description:
      'Bound on the graceful stop after SIGTERM (keep below the pod terminationGracePeriodSeconds, 30 s by default).',
  },
};

/** NTH options of queue (SQS) mode: accepted only to be refused with a clear message. */
export interface RefusedOption {
  env: string;
  kind: 'boolean' | 'string';
  description: string;
}

export const QUEUE_MODE_MESSAGE =
  'queue mode is not supported by spot-guard (it implements NTH IMDS mode only); remove this option or keep NTH in queue mode for SQS events';

export const REFUSED_OPTIONS: readonly RefusedOption[] = [
  {
    env: 'ENABLE_SQS_TERMINATION_DRAINING',
    kind: 'boolean',
    description: 'NTH queue mode. Refused when true.',
  },
  {
    env: 'QUEUE_URL',
    kind: 'string',
    description: 'NTH queue mode SQS queue. Refused when set.',
  },
];

/** NTH env vars spot-guard does not implement: a warning when set, never an error. Env only (unknown flags are errors). */
export const IGNORED_NTH_ENV: readonly { env: string; reason: string }[] = [
  { env: 'ENABLE_OUT_OF_SERVICE_TAINT', reason: 'the out-of-service taint is not implemented' },
  { env: 'CHECK_TAG_BEFORE_DRAINING', reason: 'queue mode only' },
  { env: 'CHECK_ASG_TAG_BEFORE_DRAINING', reason: 'queue mode only' },
  { env: 'MANAGED_TAG', reason: 'queue mode only' },
  { env: 'MANAGED_ASG_TAG', reason: 'queue mode only' },
  { env: 'USE_PROVIDER_ID', reason: 'queue mode only' },
  { env: 'DELETE_SQS_MSG_IF_NODE_NOT_FOUND', reason: 'queue mode only' },
  { env: 'COMPLETE_LIFECYCLE_ACTION_DELAY_SECONDS', reason: 'queue mode only' },
  { env: 'HEARTBEAT_INTERVAL', reason: 'queue mode only' },
  { env: 'HEARTBEAT_UNTIL', reason: 'queue mode only' },
  { env: 'WORKERS', reason: 'events of one node are reconciled one at a time' },
  { env: 'LOG_FORMAT_VERSION', reason: 'spot-guard has one log format (JSON_LOGGING selects JSON)' },
  { env: 'UPTIME_FROM_FILE', reason: 'not implemented' },
  { env: 'USE_APISERVER_CACHE', reason: 'not implemented' },
];

// ---------------------------------------------------------------------------------------------
// helpers over the table

/** `NODE_TERMINATION_GRACE_PERIOD` → `--node-termination-grace-period`. */
export function flagFor(env: string): string {
  return `--${env.toLowerCase().replace(/_/g, '-')}`;
}

export interface OptionEntry {
  key: ConfigKey;
  flag: string;
  def: OptionDef<unknown>;
}

/** Every option in table order, with its key and flag. */
export function optionEntries(): OptionEntry[] {
  return (Object.keys(OPTIONS) as ConfigKey[]).map((key) => {
    const def = OPTIONS[key] as OptionDef<unknown>;
    return { key, flag: flagFor(def.env), def };
  });
}

/** `TAINT_EFFECT (--taint-effect)`: how messages name an option. */
export function optionLabel(key: ConfigKey): string {
  const env = OPTIONS[key].env;
  return `${env} (${flagFor(env)})`;
}

/** The default as text for docs and --help. */
export function defaultText(def: OptionDef<unknown>): string | undefined {
  if (def.defaultText !== undefined) return def.defaultText;
  if (def.required) return undefined;
  if (def.default === undefined) return undefined;
  const shown = def.kind.format(def.default);
  return typeof shown === 'string' ? shown : JSON.stringify(shown);
}

import type { KubeConfig } from '@kubernetes/client-node';
import type { Config } from './config/schema.js';
import { ImdsClient } from './imds/client.js';
import type { InstanceMetadata } from './imds/notices.js';
import { DryRunKube } from './kube/dry-run.js';
import { KubeApi } from './kube/kube-api.js';
import type { NodePort, PodPort } from './kube/types.js';
import { MonitorLoop } from './monitors/monitor-loop.js';
import { asgLifecycleMonitor, rebalanceMonitor, scheduledEventMonitor, spotItnMonitor, type Monitor } from './monitors/monitors.js';
import { evaluateHealth } from './observability/health.js';
import { startSmallServer, type SmallServer } from './observability/http-server.js';
import type { Logger } from './observability/logger.js';
import type { Notifier } from './observability/notifier.js';
import { Metrics } from './observability/metrics.js';
import { buildNotificationSinks } from './observability/notifications.js';
import { wantsDrain } from './workflow/decide.js';
import type { EventRecord } from './workflow/record.js';
import { backoffDelay } from './shared/backoff.js';
import { isAbortError, type Clock } from './shared/clock.js';
import { errorMessage } from './shared/errors.js';
import type { InterruptionNotice } from './workflow/notice.js';
import { NodeWorkflow, type DrainSettings, type NodeWorkflowDeps } from './workflow/node-workflow.js';
import { RevertController } from './capacity/revert-controller.js';
import type { RevertPolicy } from './capacity/revert-decide.js';
import { parseRevertWindow } from './capacity/revert-window.js';
import { LeaseSemaphore, LocalSemaphore } from './kube/lease-semaphore.js';
import type { WorkflowPolicy } from './workflow/policy.js';
import { AwsAutoScaling, checkGroups } from './capacity/aws-autoscaling.js';
import { LeaseCapacityCache, ReadOnlyCapacityCache } from './capacity/capacity-cache.js';
import { ReplacementSteps } from './capacity/replacement.js';
import { LeaseLock, LocalLock } from './kube/lease-lock.js';

export interface AgentDeps {
  config: Config;
  clock: Clock;
  logger: Logger;
  kubeConfig: KubeConfig;
  /** Own registry by default; the simulated world gives each agent its own. */
  metrics?: Metrics;
  /** Bind probes/metrics servers here (0.0.0.0 in a pod, 127.0.0.1 in simulations). */
  listenHost?: string;
  onStep?: NodeWorkflowDeps['onStep'];
  /**
   * An extra notification sink, told about every notable step besides the ones the configuration
   * asks for (EMIT_KUBERNETES_EVENTS, WEBHOOK_URL).
   */
  notifier?: Notifier;
  /** Bound on one Kubernetes API call (clock time); default 30 s. */
  kubeCallTimeoutMs?: number;
  onPass?: (notices: InterruptionNotice[]) => void;
  /** Static credentials for the Auto Scaling client (the simulated world); unset = the default provider chain. */
  awsCredentials?: { accessKeyId: string; secretAccessKey: string };
  /** SDK retry mode; the simulated world uses 'standard' (adaptive rate limiting waits in real time). */
  awsRetryMode?: 'adaptive' | 'standard';
  /** Bound on one Auto Scaling call, SDK retries included (clock time); default 20 s. */
  awsCallTimeoutMs?: number;
}

export interface RunningAgent {
  metrics: Metrics;
  workflow: NodeWorkflow;
  monitorLoop: MonitorLoop;
  /** Resolves when IMDS answered the identity questions and the loops are running. */
  ready: Promise<InstanceMetadata | null>;
  /** Resolves when the agent has stopped. */
  done: Promise<void>;
  /** Set when the agent stopped because it cannot work (e.g. an Auto Scaling group does not exist). */
  fatal?: Error;
  probesPort?: number;
  metricsPort?: number;
  /**
   * Graceful stop (SIGTERM): stop polling, let the step in hand finish within SHUTDOWN_TIMEOUT, then
   * abandon it — every step is recorded on the Node, so the next start resumes it.
   */
  stop(): Promise<void>;
  /** Hard stop, as if the process were killed: in-flight work is abandoned at once. */
  kill(): Promise<void>;
}

/** On a graceful stop, how long queued notifications may still take (clock time). */
const NOTIFICATION_FLUSH_MS = 5_000;

/**
 * Whether a cordon is the last action for an event of this kind (NTH then posts its webhook after
 * the cordon). Spot Guard always drains the at-risk node once its replacement is Ready.
 */
function cordonIsFinal(kind: string, policy: WorkflowPolicy): boolean {
  if (kind === 'REBALANCE_RECOMMENDATION' && policy.spotGuard) return false;
  return !wantsDrain({ kind } as EventRecord, policy);
}

export function workflowPolicy(config: Config): WorkflowPolicy {
  const spotGuard =
    config.enableSpotGuard && config.spotAsgName && config.onDemandAsgName
      ? {
          spotGroup: config.spotAsgName,
          onDemandGroup: config.onDemandAsgName,
          taint: { key: config.spotGuardTaintKey, value: config.spotGuardTaintValue, effect: config.spotGuardTaintEffect },
          pollIntervalMs: config.spotGuardPollIntervalMs,
          scaleTimeoutMs: config.spotGuardScaleTimeoutMs,
          capacityCheckTimeoutMs: config.spotGuardCapacityCheckTimeoutMs,
          capacityCacheTtlMs: config.spotGuardCapacityCacheTtlMs,
          retireAfterDrain: config.spotGuardRetireAfterDrain,
        }
      : undefined;
  return {
    ...(spotGuard ? { spotGuard } : {}),
    cordonOnly: config.cordonOnly,
    taintNode: config.taintNode,
    taintEffect: config.taintEffect,
    excludeFromLoadBalancers: config.excludeFromLoadBalancers,
    rebalanceDrain: config.enableRebalanceDraining,
    nodeTerminationGracePeriodMs: config.nodeTerminationGracePeriodMs,
  };
}

function buildMonitors(config: Config, imds: ImdsClient, instanceId: string, clock: Clock): Monitor[] {
  const monitors: Monitor[] = [];
  if (config.enableSpotInterruptionDraining) monitors.push(spotItnMonitor(imds, instanceId));
  if (config.enableRebalanceMonitoring || config.enableRebalanceDraining) monitors.push(rebalanceMonitor(imds, instanceId));
  if (config.enableScheduledEventDraining) monitors.push(scheduledEventMonitor(imds));
  if (config.enableAsgLifecycleDraining) monitors.push(asgLifecycleMonitor(imds, instanceId, () => clock.now()));
  return monitors;
}

/** Wires config → IMDS client, Kubernetes port, monitors, workflow and servers, and starts them. */
export async function startAgent(deps: AgentDeps): Promise<RunningAgent> {
  const { config, clock } = deps;
  const logger = deps.logger.child({ node: config.nodeName });
  const metrics = deps.metrics ?? new Metrics({ processMetrics: true });
  const startedAt = clock.now();
  const hard = new AbortController();

  const imds = new ImdsClient({
    baseUrl: config.instanceMetadataUrl,
    tries: config.metadataTries,
    requestTimeoutMs: config.metadataTimeoutMs,
    clock,
    logger: logger.child({ component: 'imds' }),
    onError: (kind) => metrics.imdsErrors.inc({ kind }),
  });
  const realKube = new KubeApi({
    kubeConfig: deps.kubeConfig,
    clock,
    logger,
    metrics,
    ...(deps.kubeCallTimeoutMs ? { callTimeoutMs: deps.kubeCallTimeoutMs } : {}),
  });
  const kube: NodePort & PodPort = config.dryRun ? new DryRunKube(realKube, logger) : realKube;
  if (config.dryRun) logger.warn('DRY_RUN is on: nothing will be written; actions are logged as "would have …"');

  // ---- notifications (Kubernetes events, webhooks): queued and delivered in the background ----
  const identity: { md?: InstanceMetadata } = {};
  const sinks = buildNotificationSinks({
    config,
    clock,
    logger,
    metrics,
    kubeConfig: deps.kubeConfig,
    kube,
    metadata: () => identity.md,
    cordonIsFinal: (kind) => cordonIsFinal(kind, workflowPolicy(config)),
    ...(deps.notifier ? { extra: deps.notifier } : {}),
  });
  const notifier = sinks.notifier;

  const workflow = new NodeWorkflow({
    nodeName: config.nodeName,
    kube,
    clock,
    logger,
    metrics,
    policy: workflowPolicy(config),
    drain: drainSettings(config),
    ...(deps.onStep ? { onStep: deps.onStep } : {}),
    notifier,
  });
  // Monitors need the instance id; the loop is created now so health can read it before start.
  const monitors: Monitor[] = [];
  const monitorLoop = new MonitorLoop({
    monitors,
    clock,
    intervalMs: config.imdsPollIntervalMs,
    logger,
    metrics,
    onNotices: (n) => workflow.observe(n),
    ...(deps.onPass ? { onPass: deps.onPass } : {}),
  });

  const servers: SmallServer[] = [];
  const host = deps.listenHost ?? '0.0.0.0';
  let probesPort: number | undefined;
  let metricsPort: number | undefined;
  if (config.enableProbesServer) {
    const staleAfterMs = Math.max(10 * config.imdsPollIntervalMs, 30_000) + config.metadataTimeoutMs * config.metadataTries;
    const s = await startSmallServer(config.probesServerPort, {
      [config.probesServerEndpoint]: (_req, res) => {
        const report = evaluateHealth({
          clock,
          monitorLastPassAt: () => monitorLoop.lastPassAt,
          startedAt,
          staleAfterMs,
          kubernetes: { lastSuccessAt: () => realKube.lastSuccessAt, unreachableAfterMs: config.probesKubernetesUnreachableAfterMs },
        });
        res.writeHead(report.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(report) + '\n');
      },
    }, host);
    servers.push(s);
    probesPort = s.port;
  }
  if (config.enablePrometheusServer) {
    const s = await startSmallServer(config.prometheusServerPort, {
      '/metrics': async (_req, res) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(await metrics.registry.metrics());
      },
    }, host);
    servers.push(s);
    metricsPort = s.port;
  }

  // Identity first (instance id makes event ids stable); retried until it works or we are stopped.
  const ready = (async (): Promise<InstanceMetadata | null> => {
    for (let attempt = 0; !hard.signal.aborted; attempt++) {
      try {
        const md = await imds.getInstanceMetadata(hard.signal);
        logger.info(
          { instanceId: md.instanceId, instanceType: md.instanceType, az: md.availabilityZone, lifeCycle: md.lifeCycle, imds: imds.protocol },
          'instance metadata read',
        );
        identity.md = md;
        return md;
      } catch (err) {
        if (isAbortError(err) || hard.signal.aborted) return null;
        const wait = backoffDelay(attempt, { baseMs: 1_000, maxMs: 30_000, jitter: 0.5 });
        logger.warn({ err: errorMessage(err), retryInMs: wait }, 'cannot read instance metadata yet; retrying');
        await clock.sleep(wait, hard.signal).catch(() => undefined);
      }
    }
    return null;
  })();

  const monitorSignal = new AbortController();
  hard.signal.addEventListener('abort', () => monitorSignal.abort(), { once: true });
  const result: { fatal?: Error } = {};
  /** Loops started later (revert to spot); the agent is done when they are. */
  const background: Promise<void>[] = [];
  const loops = (async () => {
    const md = await ready;
    if (!md) return;
    if (config.enableSpotGuard) {
      // In the background: interruption handling must not wait for AWS. A group that does not
      // exist is a configuration error: the agent stops (non-zero exit) rather than half-working.
      startSpotGuard({ ...deps, notifier }, config, md, logger, metrics, kube, hard.signal).then(
        ({ steps, revert }) => {
          workflow.setReplacement(steps);
          if (revert) background.push(revert.run(monitorSignal.signal));
        },
        (err: unknown) => {
          if (isAbortError(err) || hard.signal.aborted) return;
          result.fatal = err instanceof Error ? err : new Error(String(err));
          logger.error({ err: errorMessage(err) }, `Spot Guard cannot start: ${errorMessage(err)}`);
          hard.abort();
        },
      );
    }
    monitors.push(...buildMonitors(config, imds, md.instanceId, clock));
    if (monitors.length === 0) logger.warn('no monitor is enabled: the agent will only resume recorded work');
    logger.info({ monitors: monitors.map((m) => m.name), pollIntervalMs: config.imdsPollIntervalMs }, 'monitoring started');
    await Promise.all([monitorLoop.run(monitorSignal.signal), workflow.run(hard.signal)]);
    await Promise.all(background);
  })();

  const closeServers = () => Promise.all(servers.map((s) => s.close())).then(() => undefined);
  const done = loops
    .catch((err: unknown) => {
      if (!isAbortError(err)) logger.error({ err: errorMessage(err) }, 'agent loop failed');
    })
    .finally(closeServers);

  let stopping: Promise<void> | null = null;
  return {
    get fatal() {
      return result.fatal;
    },
    metrics,
    workflow,
    monitorLoop,
    ready,
    done,
    ...(probesPort !== undefined ? { probesPort } : {}),
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    stop() {
      stopping ??= (async () => {
        logger.info({ timeoutMs: config.shutdownTimeoutMs }, 'stopping: finishing the step in hand');
        monitorSignal.abort();
        workflow.requestStop();
        const timer = new AbortController();
        const finished = await Promise.race([
          done.then(() => true),
          clock.sleep(config.shutdownTimeoutMs, timer.signal).then(() => false, () => false),
        ]);
        timer.abort();
        if (!finished) {
          logger.warn('shutdown timeout reached: abandoning the step in hand (it resumes on the next start)');
          hard.abort();
          await done;
        }
        hard.abort();
        // Queued webhooks and events get a bounded chance to go out (the drain is long done).
        await sinks.flush(NOTIFICATION_FLUSH_MS);
        logger.info('stopped');
      })();
      return stopping;
    },
    async kill() {
      hard.abort();
      sinks.close();
      await done;
    },
  };
}

/** Spot Guard's parts: the Auto Scaling adapter, the per-group Lease lock and the capacity cache. */
async function startSpotGuard(
  deps: AgentDeps,
  config: Config,
  md: InstanceMetadata,
  logger: Logger,
  metrics: Metrics,
  kube: NodePort & PodPort,
  signal: AbortSignal,
): Promise<{ steps: ReplacementSteps; revert: RevertController | null }> {
  const { clock } = deps;
  const policy = workflowPolicy(config);
  if (!policy.spotGuard) throw new Error('ENABLE_SPOT_GUARD needs SPOT_ASG_NAME and ON_DEMAND_ASG_NAME');
  const region = config.awsRegion ?? md.region;
  const asg = new AwsAutoScaling({
    region,
    ...(config.awsEndpoint ? { endpoint: config.awsEndpoint } : {}),
    ...(deps.awsCredentials ? { credentials: deps.awsCredentials } : {}),
    ...(deps.awsRetryMode ? { retryMode: deps.awsRetryMode } : {}),
    ...(deps.awsCallTimeoutMs ? { callTimeoutMs: deps.awsCallTimeoutMs } : {}),
    clock,
    logger: logger.child({ component: 'autoscaling' }),
    onCall: (operation) => metrics.autoScalingCalls.inc({ operation }),
    onError: (operation, kind) => metrics.autoScalingErrors.inc({ operation, kind }),
  });
  signal.throwIfAborted();
  const { warnings } = await checkGroups(
    asg,
    { spot: policy.spotGuard.spotGroup, onDemand: policy.spotGuard.onDemandGroup },
    { clock, logger, deadlineMs: 5 * 60_000 },
  );
  for (const w of warnings) logger.warn(w);
  const callTimeoutMs = deps.kubeCallTimeoutMs ?? 10_000;
  const realCache = new LeaseCapacityCache({ kubeConfig: deps.kubeConfig, namespace: config.namespace, clock, logger, callTimeoutMs });
  const cache = config.dryRun ? new ReadOnlyCapacityCache({ source: realCache, clock, logger }) : realCache;
  const steps = new ReplacementSteps({
    nodeName: config.nodeName,
    asg,
    lock: config.dryRun
      ? new LocalLock()
      : new LeaseLock({
          kubeConfig: deps.kubeConfig,
          namespace: config.namespace,
          clock,
          logger: logger.child({ component: 'lease' }),
          // Waiters poll the Lease; once a second (jittered) keeps 50 contenders light on the API server.
          pollMs: 1_000,
          callTimeoutMs,
        }),
    cache,
    kube,
    clock,
    logger,
    metrics,
    policy: { ...policy, spotGuard: policy.spotGuard },
    dryRun: config.dryRun,
    ...(deps.notifier ? { notifier: deps.notifier } : {}),
  });
  logger.info(
    { spotGroup: policy.spotGuard.spotGroup, onDemandGroup: policy.spotGuard.onDemandGroup, region },
    'Spot Guard on: rebalance recommendations get a Ready replacement before the node is drained',
  );
  const revert = config.spotGuardRevert
    ? new RevertController({
        nodeName: config.nodeName,
        kube,
        ops: steps.ops,
        asg,
        cache,
        semaphore: config.dryRun
          ? new LocalSemaphore()
          : new LeaseSemaphore({ kubeConfig: deps.kubeConfig, namespace: config.namespace, clock, logger, callTimeoutMs }),
        clock,
        logger,
        metrics,
        ...(deps.notifier ? { notifier: deps.notifier } : {}),
        sg: policy.spotGuard,
        revert: revertPolicy(config),
        drain: drainSettings(config),
        drainTimeoutMs: config.nodeTerminationGracePeriodMs,
      })
    : null;
  return { steps, revert };
}

export function revertPolicy(config: Config): RevertPolicy {
  return {
    enabled: config.spotGuardRevert,
    minimumWaitMs: config.spotGuardMinimumWaitDurationMs,
    stabilityMs: config.spotGuardSpotStabilityDurationMs,
    checkIntervalMs: config.spotGuardCheckIntervalMs,
    concurrency: config.spotGuardRevertConcurrency,
    window: parseRevertWindow(config.spotGuardRevertWindow),
    backoffInitialMs: config.spotGuardRevertBackoffMs,
    backoffMaxMs: config.spotGuardRevertBackoffMaxMs,
  };
}

function drainSettings(config: Config): DrainSettings {
  return {
    ignoreDaemonSets: config.ignoreDaemonSets,
    deleteLocalData: config.deleteLocalData,
    podGracePeriodSeconds: config.podTerminationGracePeriodSeconds,
    ...(config.podName ? { selfPod: { namespace: config.namespace, name: config.podName } } : {}),
  };
}

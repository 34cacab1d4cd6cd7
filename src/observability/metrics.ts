import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The agent's metrics. One registry per agent instance, so the simulated world can run many agents
 * in one process without them sharing counters. Names follow NTH where NTH has one.
 */
export class Metrics {
  readonly registry = new Registry();

  /** NTH: actions taken on the node, e.g. node_action="cordon-and-drain", node_status="success". */
  readonly actions = new Counter({
    name: 'actions_total',
    help: 'Number of actions taken on the node, by action and result',
    labelNames: ['node_action', 'node_status'] as const,
    registers: [this.registry],
  });

  /** NTH: errors while processing interruption events. */
  readonly eventErrors = new Counter({
    name: 'events_error_total',
    help: 'Number of errors while processing interruption events, by kind',
    labelNames: ['event_error_where'] as const,
    registers: [this.registry],
  });

  readonly imdsErrors = new Counter({
    name: 'spot_guard_imds_errors_total',
    help: 'IMDS request failures and surprising answers, by kind (transport, timeout, status, too_large, malformed, unauthorized)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly kubeErrors = new Counter({
    name: 'spot_guard_kubernetes_errors_total',
    help: 'Kubernetes API call failures, by operation and HTTP status',
    labelNames: ['operation', 'code'] as const,
    registers: [this.registry],
  });

  readonly monitorLastRun = new Gauge({
    name: 'spot_guard_monitor_last_run_timestamp_seconds',
    help: 'When the IMDS monitor loop last completed a pass (clock time)',
    registers: [this.registry],
  });

  readonly drains = new Counter({
    name: 'spot_guard_drains_total',
    help: 'Node drains, by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly drainDuration = new Histogram({
    name: 'spot_guard_drain_duration_seconds',
    help: 'Time to drain a node (clock seconds)',
    buckets: [1, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });

  readonly evictionsBlocked = new Counter({
    name: 'spot_guard_evictions_blocked_total',
    help: 'Evictions refused by a PodDisruptionBudget (HTTP 429) and retried',
    registers: [this.registry],
  });

  // ---- Spot Guard ----
  readonly scaleUps = new Counter({
    name: 'spot_guard_scale_ups_total',
    help: 'Replacement capacity requests, by group, capacity type and result (requested, ready, failed, max_size, error)',
    labelNames: ['group', 'capacity_type', 'result'] as const,
    registers: [this.registry],
  });

  readonly fallbacks = new Counter({
    name: 'spot_guard_fallbacks_total',
    help: 'Replacements requested from the on-demand group because spot was unavailable',
    labelNames: ['group'] as const,
    registers: [this.registry],
  });

  readonly capacityCacheHits = new Counter({
    name: 'spot_guard_capacity_cache_hits_total',
    help: 'Spot requests skipped because the shared capacity cache says spot is unavailable',
    labelNames: ['group'] as const,
    registers: [this.registry],
  });

  readonly noCapacity = new Counter({
    name: 'spot_guard_no_capacity_total',
    help: 'Rebalance recommendations for which neither spot nor on-demand capacity could be had (node cordoned, not drained)',
    registers: [this.registry],
  });

  readonly retirements = new Counter({
    name: 'spot_guard_retirements_total',
    help: 'Drained at-risk instances terminated with the desired capacity decremented',
    labelNames: ['group'] as const,
    registers: [this.registry],
  });

  readonly replacementReadySeconds = new Histogram({
    name: 'spot_guard_replacement_ready_seconds',
    help: 'Time from the rebalance recommendation to a Ready replacement node (clock seconds)',
    labelNames: ['capacity_type'] as const,
    buckets: [30, 60, 90, 120, 180, 240, 300, 600],
    registers: [this.registry],
  });

  readonly reverts = new Counter({
    name: 'spot_guard_reverts_total',
    help: 'Revert-to-spot steps for on-demand fallback nodes, by on-demand group and result (started, replaced, retired, failed)',
    labelNames: ['group', 'result'] as const,
    registers: [this.registry],
  });

  readonly autoScalingCalls = new Counter({
    name: 'spot_guard_autoscaling_calls_total',
    help: 'Auto Scaling API calls, by operation',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });

  readonly autoScalingErrors = new Counter({
    name: 'spot_guard_autoscaling_errors_total',
    help: 'Auto Scaling API call failures, by operation and kind',
    labelNames: ['operation', 'kind'] as const,
    registers: [this.registry],
  });

  // ---- notifications and reachability ----
  readonly kubernetesEvents = new Counter({
    name: 'spot_guard_kubernetes_events_total',
    help: 'Kubernetes events about the Node (EMIT_KUBERNETES_EVENTS), by reason and result (emitted, failed, dropped, dry_run)',
    labelNames: ['reason', 'result'] as const,
    registers: [this.registry],
  });

  readonly webhooks = new Counter({
    name: 'spot_guard_webhooks_total',
    help: 'Webhook notifications (WEBHOOK_URL), by reason and final result (delivered, failed, dropped, render_error)',
    labelNames: ['reason', 'result'] as const,
    registers: [this.registry],
  });

  readonly webhookAttempts = new Counter({
    name: 'spot_guard_webhook_attempts_total',
    help: 'Webhook HTTP attempts, by outcome (success, http_error, timeout, network)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly kubernetesLastSuccess = new Gauge({
    name: 'spot_guard_kubernetes_last_success_timestamp_seconds',
    help: 'When a Kubernetes API call last succeeded (clock time); the probe turns unhealthy when this is too old',
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}

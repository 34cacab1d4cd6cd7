import { Deadline, isAbortError, type Clock } from '../shared/clock.js';
import { backoffDelay } from '../shared/backoff.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { drainNode } from '../kube/drain.js';
import type { NodePort, NodeView, PodPort } from '../kube/types.js';
import { admitNotices } from './admit.js';
import { decide, phaseAfterCordon, phaseAfterDrain, type Step } from './decide.js';
import { KIND_URGENCY, type InterruptionNotice } from './notice.js';
import { cordonChange, recordChange, recordsChange, recordsOf, taintFor, uncordonChange } from './node-changes.js';
import type { WorkflowPolicy } from './policy.js';
import type { SpotGuardStep } from './spot-guard-decide.js';
import { nullNotifier, type Notification, type NotificationReason, type Notifier } from '../observability/notifier.js';
import { parseRecords, type EventRecord } from './record.js';

const SPOT_GUARD_STEPS: ReadonlySet<string> = new Set([
  'request-capacity',
  'confirm-request',
  'await-replacement',
  'undo-request',
  'no-capacity',
  'mark-drained',
  'retire',
]);
const isSpotGuardStep = (s: Step): s is SpotGuardStep => SPOT_GUARD_STEPS.has(s.type);

const RECEIVED_REASON: Record<EventRecord['kind'], NotificationReason> = {
  SPOT_ITN: 'SpotInterruption',
  REBALANCE_RECOMMENDATION: 'RebalanceRecommendation',
  SCHEDULED_EVENT: 'ScheduledEvent',
  ASG_LIFECYCLE: 'ASGLifecycle',
};

/** Phases from which a cordon step may start (Spot Guard cordons after Replacing / NoCapacity). */
const CORDONABLE: ReadonlySet<string> = new Set(['Pending', 'Replacing', 'NoCapacity']);

export interface DrainSettings {
  ignoreDaemonSets: boolean;
  deleteLocalData: boolean;
  podGracePeriodSeconds: number;
  selfPod?: { namespace: string; name: string };
}

export interface NodeWorkflowDeps {
  nodeName: string;
  kube: NodePort & PodPort;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  policy: WorkflowPolicy;
  drain: DrainSettings;
  /** Re-reconcile at least this often even when nothing wakes the loop. */
  resyncMs?: number;
  /** Spot Guard's capacity steps (replacement before drain); absent when Spot Guard is off. */
  replacement?: { execute(step: SpotGuardStep, rec: EventRecord): Promise<void> };
  /** Kubernetes events, webhooks: told about every notable step (never blocks). */
  notifier?: Notifier;
  /** Observer for the simulated world's timeline and for tests. */
  onStep?: (info: { event: EventRecord; step: Step['type']; outcome: 'ok' | 'failed'; detail?: string }) => void;
}

/**
 * The per-node reconcile loop (observe → decide → act → record). Monitors hand it notices;
 * every pass reads the Node, folds new notices into the records persisted on it, and carries out
 * the next step of the most urgent event. Each step is one idempotent write or a resumable drain.
 */
export class NodeWorkflow {
  private notices = new Map<string, InterruptionNotice>();
  private wakeUp: (() => void) | null = null;
  private wakePending = false;
  private readonly retryAt = new Map<string, number>();
  private readonly lastPollAt = new Map<string, number>();
  private failures = 0;
  /** Set when a stop is requested: finish the step in hand, start no new one. */
  private stopping = false;
  lastPassAt = 0;

  constructor(private readonly deps: NodeWorkflowDeps) {}


  /** Called by the monitor loop with everything it saw on one poll. */
  observe(notices: InterruptionNotice[]): void {
    // Replaced wholesale each poll, so a notice that vanished from IMDS is forgotten. Wake the loop
    // only for something new: a moving ITN/rebalance time (the metadata mock) is not news.
    let fresh = false;
    const next = new Map<string, InterruptionNotice>();
    for (const n of notices) {
      const prev = this.notices.get(n.id);
      if (
        !prev ||
        prev.scheduled?.state !== n.scheduled?.state ||
        (n.kind === 'SCHEDULED_EVENT' && prev.startTime !== n.startTime)
      ) {
        fresh = true;
      }
      next.set(n.id, n);
    }
    this.notices = next;
    if (fresh) {
      // Mid-pass there is nobody to wake: remember it, so the loop does not sleep past the news.
      if (this.wakeUp) this.wakeUp();
      else this.wakePending = true;
    }
  }

  /** Spot Guard's capacity steps become available once the Auto Scaling groups are checked. */
  setReplacement(r: NonNullable<NodeWorkflowDeps['replacement']>): void {
    this.deps.replacement = r;
    if (this.wakeUp) this.wakeUp();
    else this.wakePending = true;
  }

  requestStop(): void {
    this.stopping = true;
    this.wakeUp?.();
  }

  /** Runs until `signal` aborts (hard stop: an in-flight drain is abandoned and resumes next start). */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, logger } = this.deps;
    while (!signal.aborted && !this.stopping) {
      let waitMs = this.deps.resyncMs ?? 10_000;
      try {
        const next = await this.reconcileOnce(signal);
        this.failures = 0;
        if (next !== undefined) waitMs = Math.max(0, Math.min(waitMs, next - clock.now()));
      } catch (err) {
        if (isAbortError(err) || signal.aborted) break;
        this.failures++;
        this.deps.metrics.eventErrors.inc({ event_error_where: 'reconcile' });
        waitMs = backoffDelay(this.failures - 1, { baseMs: 1_000, maxMs: 30_000, jitter: 0.5 });
        logger.warn({ err: errorMessage(err), retryInMs: waitMs }, 'reconcile failed; will retry');
      }
      if (this.stopping) break;
      await this.sleepOrWake(waitMs, signal);
    }
  }

  private async sleepOrWake(ms: number, signal: AbortSignal): Promise<void> {
    // Aborted during the pass: the 'abort' event has already fired, so the listener below would never run.
    if (signal.aborted) return;
    if (this.wakePending) {
      this.wakePending = false;
      return;
    }
    const wake = new AbortController();
    const onAbort = () => wake.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    this.wakeUp = () => wake.abort();
    try {
      await this.deps.clock.sleep(ms, wake.signal);
    } catch {
      // woken early: new notices or a stop
    } finally {
      this.wakeUp = null;
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** One pass. Returns when the next time-based step is due (epoch ms), if any. */
  async reconcileOnce(signal?: AbortSignal): Promise<number | undefined> {
    const { kube, nodeName, clock, logger } = this.deps;
    let node = await kube.getNode(nodeName);
    this.lastPassAt = clock.now();
    if (!node) {
      logger.warn({ node: nodeName }, 'node not found in the Kubernetes API; will retry');
      this.deps.metrics.eventErrors.inc({ event_error_where: 'node_not_found' });
      return undefined;
    }
    const parsed = parseRecords(node.annotations);
    for (const p of parsed.problems) logger.warn({ node: nodeName }, `ignoring unreadable progress record: ${p}`);

    if (this.notices.size) node = await this.admit(node);

    // Bounded: each pass handles at most a few steps, then returns to the loop (which re-polls).
    for (let i = 0; i < 16; i++) {
      if (signal?.aborted || this.stopping) return undefined;
      const now = clock.now();
      const records = Object.values(recordsOf(node)).sort(
        (a, b) => KIND_URGENCY[a.kind] - KIND_URGENCY[b.kind] || a.detectedAt.localeCompare(b.detectedAt),
      );
      let nextAt: number | undefined;
      let acted = false;
      const drainedBy = records.filter((r) => r.phase === 'Drained' || r.phase === 'AwaitingReboot').map((r) => r.id);
      for (const rec of records) {
        const retryAt = this.retryAt.get(rec.id);
        const lastPollAt = this.lastPollAt.get(rec.id);
        const step = decide(rec, {
          now,
          node,
          policy: this.deps.policy,
          siblingDrained: drainedBy.some((id) => id !== rec.id),
          ...(retryAt !== undefined ? { retryAt } : {}),
          ...(lastPollAt !== undefined ? { lastPollAt } : {}),
        });
        if (step.type === 'none') continue;
        if (isSpotGuardStep(step) && !this.deps.replacement) continue; // Spot Guard still starting
        if (step.type === 'wait') {
          if (step.until !== undefined) nextAt = Math.min(nextAt ?? Infinity, step.until);
          continue;
        }
        node = await this.execute(step, rec, node, signal);
        // A step went through: progress, so a later failure starts its backoff afresh. Without this,
        // one transient error per step piles up into 30 s waits and a 2-minute ITN drains too late.
        this.failures = 0;
        acted = true;
        break;
      }
      if (!acted) return nextAt;
    }
    return clock.now();
  }

  private async admit(node: NodeView): Promise<NodeView> {
    const { kube, nodeName, clock, logger } = this.deps;
    const notices = [...this.notices.values()];
    let result: ReturnType<typeof admitNotices> = null;
    const written = await kube.updateNode(nodeName, (fresh) => {
      result = admitNotices(recordsOf(fresh), notices, { now: clock.now(), bootId: fresh.bootId });
      return result ? recordsChange(result.records) : null;
    });
    const r = result as ReturnType<typeof admitNotices>;
    if (r) {
      this.failures = 0; // written: progress (see reconcileOnce)
      for (const rec of r.admitted) {
        logger.info(this.fields(rec), `${rec.kind} received: ${rec.description}`);
        this.notify(rec, RECEIVED_REASON[rec.kind], rec.description);
      }
      for (const rec of r.canceled) logger.info(this.fields(rec), `${rec.kind} ${rec.id} was canceled`);
      for (const rec of r.rescheduled) logger.info(this.fields(rec), `${rec.kind} ${rec.id} rescheduled to ${rec.startTime}`);
      for (const rec of r.completed) logger.info(this.fields(rec), `${rec.kind} ${rec.id} was completed before it was due; nothing to do`);
    }
    return r ? written : node;
  }

  private notify(rec: EventRecord, reason: NotificationReason, message: string, type: Notification['type'] = 'Normal'): void {
    (this.deps.notifier ?? nullNotifier).notify({
      reason,
      type,
      message,
      nodeName: this.deps.nodeName,
      at: this.deps.clock.now(),
      event: { id: rec.id, kind: rec.kind, startTime: rec.startTime, description: rec.description, phase: rec.phase },
    });
  }

  private fields(rec: EventRecord): Record<string, unknown> {
    return { eventId: rec.id, kind: rec.kind, node: this.deps.nodeName, phase: rec.phase };
  }

  private async execute(step: Step, rec: EventRecord, node: NodeView, signal?: AbortSignal): Promise<NodeView> {
    const { kube, nodeName, clock, logger, metrics, policy } = this.deps;
    const log = logger.child(this.fields(rec));
    const report = (outcome: 'ok' | 'failed', detail?: string) =>
      this.deps.onStep?.({ event: rec, step: step.type, outcome, ...(detail ? { detail } : {}) });
    switch (step.type) {
      case 'cordon': {
        const next = phaseAfterCordon(rec, policy);
        try {
          const written = await kube.updateNode(nodeName, (fresh) => {
            const current = recordsOf(fresh)[rec.id] ?? rec;
            return CORDONABLE.has(current.phase) ? cordonChange(fresh, current, policy, next, clock.now()) : null;
          });
          metrics.actions.inc({ node_action: 'cordon', node_status: 'success' });
          const taint = taintFor(rec, policy);
          log.info(
            { taint: taint ? `${taint.key}=${taint.value ?? ''}:${taint.effect}` : null },
            `node ${nodeName} ${taint ? 'tainted and ' : ''}cordoned`,
          );
          report('ok');
          this.notify(rec, 'Cordon', `node ${nodeName} ${taint ? `tainted ${taint.key}=${taint.value ?? ''}:${taint.effect} and ` : ''}cordoned`);
          return written;
        } catch (err) {
          metrics.actions.inc({ node_action: 'cordon', node_status: 'error' });
          this.notify(rec, 'CordonError', `could not cordon node ${nodeName}: ${errorMessage(err)}`, 'Warning');
          report('failed', errorMessage(err));
          throw err;
        }
      }
      case 'drain':
        return this.drain(rec, node, log, report, signal);
      case 'uncordon': {
        const written = await kube.updateNode(nodeName, (fresh) => {
          const current = recordsOf(fresh)[rec.id];
          return current && current.phase !== 'Done' ? uncordonChange(fresh, current, policy, clock.now()) : null;
        });
        metrics.actions.inc({ node_action: 'uncordon', node_status: 'success' });
        log.info(`node ${nodeName} uncordoned: ${step.reason}`);
        report('ok', step.reason);
        this.notify(rec, 'Uncordon', `node ${nodeName} uncordoned: ${step.reason}`);
        return written;
      }
      case 'wait':
      case 'none':
        return node;
      default: {
        // Spot Guard's capacity steps.
        if (!this.deps.replacement) throw new Error(`step ${step.type} needs Spot Guard, which is not configured`);
        if (step.type === 'await-replacement') this.lastPollAt.set(rec.id, clock.now());
        try {
          await this.deps.replacement.execute(step, rec);
          report('ok');
        } catch (err) {
          report('failed', errorMessage(err));
          throw err;
        }
        return (await kube.getNode(nodeName)) ?? node;
      }
    }
  }

  private async drain(
    rec: EventRecord,
    node: NodeView,
    log: Logger,
    report: (outcome: 'ok' | 'failed', detail?: string) => void,
    signal?: AbortSignal,
  ): Promise<NodeView> {
    const { kube, nodeName, clock, metrics, policy, drain } = this.deps;
    if (rec.phase !== 'Draining') {
      node = await kube.updateNode(nodeName, (fresh) => {
        const current = recordsOf(fresh)[rec.id];
        return current && current.phase === 'Cordoned' ? recordChange(fresh, { ...current, phase: 'Draining' }, clock.now()) : null;
      });
      log.info(`draining node ${nodeName}`);
      this.notify(rec, 'PreDrain', `draining node ${nodeName}`);
    } else {
      log.info(`resuming the drain of node ${nodeName}`);
    }
    const started = clock.now();
    const result = await drainNode(kube, {
      nodeName,
      ignoreDaemonSets: drain.ignoreDaemonSets,
      deleteLocalData: drain.deleteLocalData,
      podGracePeriodSeconds: drain.podGracePeriodSeconds,
      ...(drain.selfPod ? { selfPod: drain.selfPod } : {}),
      deadline: Deadline.after(clock, policy.nodeTerminationGracePeriodMs),
      clock,
      logger: log,
      ...(signal ? { signal } : {}),
      onEvicted: (pod) => log.info({ pod: `${pod.namespace}/${pod.name}` }, `evicted pod ${pod.namespace}/${pod.name}`),
      onBlocked: () => metrics.evictionsBlocked.inc(),
    });
    metrics.drainDuration.observe((clock.now() - started) / 1000);
    if (result.complete) {
      this.retryAt.delete(rec.id);
      metrics.drains.inc({ result: 'success' });
      metrics.actions.inc({ node_action: 'cordon-and-drain', node_status: 'success' });
      const written = await kube.updateNode(nodeName, (fresh) => {
        const current = recordsOf(fresh)[rec.id];
        return current && current.phase === 'Draining'
          ? recordChange(fresh, { ...current, phase: phaseAfterDrain(current), drainAttempts: current.drainAttempts + 1 }, clock.now())
          : null;
      });
      log.info({ evicted: result.evicted, skipped: result.skipped }, `node ${nodeName} drained`);
      report('ok', `${result.evicted} pods evicted`);
      this.notify(rec, 'CordonAndDrain', `node ${nodeName} drained: ${result.evicted} pods evicted`);
      return written;
    }
    // Not done within the deadline (budgets, stuck pods) or refused: record why, back off, try again.
    const why = result.refusals.length
      ? `drain refused: ${result.refusals.join('; ')}`
      : `drain incomplete after ${Math.round(policy.nodeTerminationGracePeriodMs / 1000)} s: ${result.remaining.length} pods left (${result.remaining.slice(0, 5).join(', ')})`;
    metrics.drains.inc({ result: 'incomplete' });
    metrics.actions.inc({ node_action: 'cordon-and-drain', node_status: 'error' });
    metrics.eventErrors.inc({ event_error_where: 'drain' });
    const attempts = rec.drainAttempts + 1;
    this.retryAt.set(rec.id, clock.now() + backoffDelay(attempts - 1, { baseMs: 5_000, maxMs: 60_000, jitter: 0.2 }));
    log.warn({ attempts }, why);
    report('failed', why);
    this.notify(rec, 'CordonAndDrainError', why, 'Warning');
    return kube.updateNode(nodeName, (fresh) => {
      const current = recordsOf(fresh)[rec.id];
      return current ? recordChange(fresh, { ...current, drainAttempts: attempts, lastError: why.slice(0, 500) }, clock.now()) : null;
    });
  }
}

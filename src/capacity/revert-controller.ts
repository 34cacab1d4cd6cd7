import { createHash } from 'node:crypto';
import { AbortError, Deadline, isAbortError, type Clock } from '../shared/clock.js';
import { backoffDelay } from '../shared/backoff.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { nullNotifier, type NotificationReason, type Notifier } from '../observability/notifier.js';
import { drainNode } from '../kube/drain.js';
import type { Semaphore } from '../kube/lease-semaphore.js';
import type { NodeChange, NodePort, NodeView, PodPort } from '../kube/types.js';
import type { DrainSettings } from '../workflow/node-workflow.js';
import type { SpotGuardPolicy } from '../workflow/policy.js';
import { RECORDS_ANNOTATION, parseRecords } from '../workflow/record.js';
import { instanceIdFromProviderId } from './assess.js';
import type { CapacityCache } from './capacity-cache.js';
import type { CapacityOps} from './capacity-ops.js';
import { REPLACEMENT_ANNOTATION, iso, parseClaim, type RequestLedger } from './capacity-ops.js';
import { decideRevert, type RevertPolicy, type RevertStep } from './revert-decide.js';
import { CA_SCALE_DOWN_DISABLED, REVERT_ANNOTATION, parseRevert, serializeRevert, type RevertRecord } from './revert-record.js';
import { judgeStability, type Stability } from './stability.js';
import type { AutoScalingPort } from './types.js';

export interface RevertDeps {
  nodeName: string;
  kube: NodePort & PodPort;
  ops: CapacityOps;
  asg: AutoScalingPort;
  cache: CapacityCache;
  semaphore: Semaphore;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  notifier?: Notifier;
  sg: SpotGuardPolicy;
  revert: RevertPolicy;
  drain: DrainSettings;
  /** Bound on one drain attempt (NODE_TERMINATION_GRACE_PERIOD). */
  drainTimeoutMs: number;
}

/** How far back failed spot launches count against stability. */
const ACTIVITY_LOOKBACK_MS = 60 * 60_000;

/**
 * Revert to spot, run by the agent on each node: it acts only on its own node, and only when
 * that node is on-demand capacity Spot Guard launched as a fallback. Replacement first (spot +1,
 * wait for that node to be Ready, protect it from Cluster Autoscaler), then taint, cordon, drain,
 * and remove this instance with decrement. Every step is recorded on the Node; at most N reverts
 * run per on-demand group (Lease slots); a failed probe backs off cluster-wide.
 */
export class RevertController {
  private lastBad: number;
  private lastPollAt: number | undefined;
  private drainRetryAt: number | undefined;
  private lastReason = '';
  /** The run's stop signal: once it aborts, no further write is made (a killed agent writes nothing more). */
  private signal: AbortSignal | undefined;
  lastPassAt = 0;

  constructor(private readonly deps: RevertDeps) {
    this.lastBad = deps.clock.now();
  }

  private get log(): Logger {
    return this.deps.logger.child({ component: 'revert', node: this.deps.nodeName, group: this.deps.sg.onDemandGroup });
  }

  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let wait = this.deps.revert.checkIntervalMs;
      try {
        const next = await this.passOnce(signal);
        failures = 0;
        if (next !== undefined) wait = Math.max(0, Math.min(wait, next - this.deps.clock.now()));
      } catch (err) {
        if (isAbortError(err) || signal.aborted) return;
        failures++;
        wait = backoffDelay(failures - 1, { baseMs: 5_000, maxMs: this.deps.revert.checkIntervalMs * 4, jitter: 0.5 });
        this.deps.metrics.eventErrors.inc({ event_error_where: 'revert' });
        this.log.warn({ err: errorMessage(err), retryInMs: wait }, 'revert check failed; will retry');
      }
      await this.deps.clock.sleep(wait, signal).catch(() => undefined);
    }
  }

  /** One look: decide and carry out at most a few steps. Returns when to look again, if sooner. */
  async passOnce(signal?: AbortSignal): Promise<number | undefined> {
    this.signal = signal;
    for (let i = 0; i < 8; i++) {
      if (signal?.aborted) return undefined;
      const self = await this.deps.kube.getNode(this.deps.nodeName);
      this.lastPassAt = this.deps.clock.now();
      if (!self) return undefined;
      const claim = parseClaim(self.annotations[REPLACEMENT_ANNOTATION]);
      const { record, problem } = parseRevert(self.annotations);
      if (problem) this.log.warn(`ignoring an unreadable revert record: ${problem}`);
      // Cheap exit for the common case: not fallback capacity, nothing under way.
      if (!record && !(claim?.fallback && claim.capacityType === 'on-demand')) return undefined;
      const now = this.deps.clock.now();
      const facts = record ? {} : await this.eligibilityFacts(now);
      const step = decideRevert({
        now,
        policy: this.deps.revert,
        claim,
        record,
        pollIntervalMs: this.deps.sg.pollIntervalMs,
        ...facts,
        ...(this.lastPollAt !== undefined ? { lastPollAt: this.lastPollAt } : {}),
        ...(this.drainRetryAt !== undefined ? { drainRetryAt: this.drainRetryAt } : {}),
      });
      if (record && record.phase !== 'Done') await this.renewSlot(record);
      if (step.type === 'none' || step.type === 'wait') {
        this.explain(step);
        return step.type === 'wait' ? step.until : undefined;
      }
      await this.act(step, self, record);
    }
    return this.deps.clock.now();
  }

  /** Every decision is logged with its reason, once per change (not on every check). */
  private explain(step: Extract<RevertStep, { type: 'none' | 'wait' }>): void {
    if (step.reason === this.lastReason) return;
    this.lastReason = step.reason;
    if (step.reason !== 'not fallback capacity') this.log.info(`revert to spot: ${step.type === 'wait' ? 'not yet' : 'nothing to do'}: ${step.reason}`);
  }

  private async eligibilityFacts(now: number): Promise<{ cacheUntil: number | null; backoffUntil: number | null; stability: Stability }> {
    const { cache, sg } = this.deps;
    const [entry, backoff] = await Promise.all([cache.get(sg.spotGroup), cache.probeBackoff(sg.spotGroup)]);
    return { cacheUntil: entry?.until ?? null, backoffUntil: backoff?.until ?? null, stability: await this.observeStability(now, entry) };
  }

  private async observeStability(now: number, entry: Awaited<ReturnType<CapacityCache['get']>>): Promise<Stability> {
    const { asg, kube, sg } = this.deps;
    const [group, activities, nodes] = await Promise.all([
      asg.describeGroup(sg.spotGroup),
      asg.activitiesSince(sg.spotGroup, now - ACTIVITY_LOOKBACK_MS),
      kube.listNodes(),
    ]);
    const spotIds = new Set((group?.instances ?? []).map((i) => i.instanceId));
    const nodeReady = new Map<string, boolean>();
    const interruptions: number[] = [];
    for (const n of nodes) {
      const id = instanceIdFromProviderId(n.providerId);
      if (!id || !spotIds.has(id)) continue;
      nodeReady.set(id, n.ready);
      const raw = n.annotations[RECORDS_ANNOTATION];
      if (!raw) continue;
      for (const r of Object.values(parseRecords({ [RECORDS_ANNOTATION]: raw }).records)) {
        if (r.kind === 'REBALANCE_RECOMMENDATION' || r.kind === 'SPOT_ITN') interruptions.push(Date.parse(r.detectedAt));
      }
    }
    const s = judgeStability(
      { now, group, activities, nodeReady, interruptions, unavailable: entry ? { at: entry.at, until: entry.until, reason: entry.reason } : null },
      this.lastBad,
      this.deps.revert.stabilityMs,
    );
    this.lastBad = s.since;
    return s;
  }

  private notify(record: RevertRecord, reason: NotificationReason, message: string, type: 'Normal' | 'Warning' = 'Normal'): void {
    (this.deps.notifier ?? nullNotifier).notify({
      reason,
      type,
      message,
      nodeName: this.deps.nodeName,
      at: this.deps.clock.now(),
      group: this.deps.sg.onDemandGroup,
      event: { id: record.id, kind: 'SPOT_REVERT', startTime: record.startedAt, description: 'revert on-demand fallback capacity to spot', phase: record.phase },
    });
  }

  /** Writes the revert record (read fresh) as `f` changes it, together with `extra` node changes. */
  private async save(f: (cur: RevertRecord | null) => RevertRecord | null, extra?: (fresh: NodeView) => NodeChange): Promise<void> {
    this.stopIfAborted();
    await this.deps.kube.updateNode(this.deps.nodeName, (fresh) => {
      const cur = parseRevert(fresh.annotations).record;
      const next = f(cur);
      if (next === cur) return null;
      const change = extra?.(fresh) ?? {};
      return {
        ...change,
        annotations: { ...change.annotations, [REVERT_ANNOTATION]: next ? serializeRevert({ ...next, updatedAt: iso(this.deps.clock.now()) }) : null },
      };
    });
    // Stopped while writing: the step in hand ends here (the next start resumes from the record),
    // rather than going on to act on AWS after the agent was told to stop.
    this.stopIfAborted();
  }

  private stopIfAborted(): void {
    if (this.signal?.aborted) throw new AbortError('revert stopped');
  }

  private ledger(record: RevertRecord): RequestLedger {
    let requests = record.requests;
    return {
      id: record.id,
      last: () => requests.at(-1),
      count: () => requests.length,
      all: () => requests,
      append: async (req) => {
        await this.save((cur) => (cur ? { ...cur, requests: (requests = [...cur.requests, req].slice(-8)) } : null));
      },
      updateLast: async (f) => {
        await this.save((cur) => {
          const last = cur?.requests.at(-1);
          return cur && last ? { ...cur, requests: (requests = [...cur.requests.slice(0, -1), f(last)]) } : null;
        });
      },
    };
  }

  private async renewSlot(record: RevertRecord): Promise<void> {
    const ok = await this.deps.semaphore.renew(this.deps.sg.onDemandGroup, this.deps.nodeName, record.slot).catch(() => true);
    if (!ok) this.log.warn({ slot: record.slot }, 'lost the revert slot (Lease taken after expiry); finishing this revert anyway');
  }

  private async act(step: Exclude<RevertStep, { type: 'none' | 'wait' }>, self: NodeView, record: RevertRecord | null): Promise<void> {
    const { ops, sg, clock, metrics, semaphore } = this.deps;
    const log = this.log.child(record ? { revertId: record.id, phase: record.phase } : {});
    this.lastReason = '';
    switch (step.type) {
      case 'start': {
        const slot = await semaphore.tryAcquire(sg.onDemandGroup, this.deps.nodeName, this.deps.revert.concurrency);
        if (slot === null) {
          this.explain({ type: 'wait', reason: `${this.deps.revert.concurrency} revert(s) already in flight for ${sg.onDemandGroup}` });
          return;
        }
        const now = clock.now();
        const id = `revert-${createHash('sha256').update(`${this.deps.nodeName}|${now}`).digest('hex').slice(0, 12)}`;
        const fresh: RevertRecord = { v: 1, id, phase: 'Probing', slot, startedAt: iso(now), updatedAt: iso(now), requests: [], protectedNodes: [], drainAttempts: 0 };
        await this.save((cur) => cur ?? fresh);
        metrics.reverts.inc({ group: sg.onDemandGroup, result: 'started' });
        log.info({ slot }, `reverting fallback node ${this.deps.nodeName} to spot: probing ${sg.spotGroup} with +1`);
        this.notify(fresh, 'SpotGuardRevert', `spot capacity looks healthy: replacing on-demand fallback node ${this.deps.nodeName} with a spot node`);
        return;
      }
      case 'request-spot':
        await ops.requestCapacity(this.ledger(record!), 'spot', sg.spotGroup, log.child({ group: sg.spotGroup }), { checkCache: false });
        return;
      case 'confirm-request':
        return ops.confirmRequest(this.ledger(record!), log);
      case 'undo-request':
        return ops.undoRequest(this.ledger(record!), log);
      case 'await-spot':
        return this.awaitSpot(record!, log);
      case 'abandon':
        return this.abandon(record!, step.reason, log);
      case 'cordon':
        await this.save(
          (cur) => (cur && cur.phase === 'Probing' ? { ...cur, phase: 'Cordoned' } : cur),
          (fresh) => ({
            unschedulable: true,
            taints: [...fresh.taints.filter((t) => !(t.key === sg.taint.key && t.effect === sg.taint.effect)), sg.taint],
          }),
        );
        log.info(`spot replacement ${record!.replacement?.node} is Ready: node ${this.deps.nodeName} tainted and cordoned`);
        return;
      case 'drain':
        return this.drain(record!, log);
      case 'retire':
        return this.retire(self, record!, log);
    }
  }

  private async awaitSpot(record: RevertRecord, log: Logger): Promise<void> {
    const { ops, kube, clock, sg } = this.deps;
    this.lastPollAt = clock.now();
    const ledger = this.ledger(record);
    const a = await ops.assessLast(ledger, { node: this.deps.nodeName, capacityType: 'spot', fallback: false });
    if (a.kind === 'waiting' || a.kind === 'lost-claim') return;
    if (a.kind === 'failed') {
      await ledger.updateLast((r) => ({ ...r, outcome: 'failed', reason: a.reason }));
      await ops.markUnavailable(sg.spotGroup, a.reason);
      log.warn(`spot probe failed: ${a.reason}`);
      return;
    }
    // Keep Cluster Autoscaler off the new node until the move is done (only if nobody set it).
    let protectedNode: string | null = null;
    if (a.node !== '(dry-run)') {
      const written = await kube.updateNode(a.node, (fresh) =>
        fresh.annotations[CA_SCALE_DOWN_DISABLED] === undefined ? { annotations: { [CA_SCALE_DOWN_DISABLED]: 'true' } } : null,
      );
      if (written.annotations[CA_SCALE_DOWN_DISABLED] === 'true') protectedNode = a.node;
    }
    await this.save((cur) =>
      cur
        ? {
            ...cur,
            requests: cur.requests.map((r, i) => (i === cur.requests.length - 1 ? { ...r, outcome: 'ready' as const } : r)),
            replacement: { instanceId: a.instanceId, node: a.node, readyAt: iso(clock.now()) },
            protectedNodes: protectedNode && !cur.protectedNodes.includes(protectedNode) ? [...cur.protectedNodes, protectedNode] : cur.protectedNodes,
          }
        : null,
    );
    this.deps.metrics.reverts.inc({ group: sg.onDemandGroup, result: 'replaced' });
    log.info({ replacement: a.node, instanceId: a.instanceId }, `spot replacement ${a.node} (${a.instanceId}) is Ready`);
  }

  private async abandon(record: RevertRecord, reason: string, log: Logger): Promise<void> {
    const { cache, semaphore, sg, metrics, revert } = this.deps;
    const backoff = await cache.recordProbeFailure(sg.spotGroup, { initialMs: revert.backoffInitialMs, maxMs: revert.backoffMaxMs });
    await this.save(() => null);
    await semaphore.release(sg.onDemandGroup, this.deps.nodeName, record.slot).catch(() => undefined);
    this.lastPollAt = undefined;
    metrics.reverts.inc({ group: sg.onDemandGroup, result: 'failed' });
    log.warn({ backoffUntil: iso(backoff.until), failures: backoff.failures }, `spot probe failed (${reason}); next probe for ${sg.spotGroup} not before ${iso(backoff.until)}`);
    this.notify(record, 'SpotGuardRevertFailed', `spot probe failed (${reason}); backing off until ${iso(backoff.until)}`, 'Warning');
  }

  private async drain(record: RevertRecord, log: Logger): Promise<void> {
    const { kube, clock, drain, metrics } = this.deps;
    if (record.phase === 'Cordoned') await this.save((cur) => (cur && cur.phase === 'Cordoned' ? { ...cur, phase: 'Draining' } : cur));
    log.info(`draining fallback node ${this.deps.nodeName}`);
    const result = await drainNode(kube, {
      nodeName: this.deps.nodeName,
      ignoreDaemonSets: drain.ignoreDaemonSets,
      deleteLocalData: drain.deleteLocalData,
      podGracePeriodSeconds: drain.podGracePeriodSeconds,
      ...(drain.selfPod ? { selfPod: drain.selfPod } : {}),
      deadline: Deadline.after(clock, this.deps.drainTimeoutMs),
      ...(this.signal ? { signal: this.signal } : {}),
      clock,
      logger: log,
      onBlocked: () => metrics.evictionsBlocked.inc(),
    });
    if (result.complete) {
      this.drainRetryAt = undefined;
      metrics.drains.inc({ result: 'success' });
      await this.save((cur) => (cur ? { ...cur, phase: 'Retiring', drainAttempts: cur.drainAttempts + 1 } : null));
      log.info({ evicted: result.evicted }, `fallback node ${this.deps.nodeName} drained`);
      return;
    }
    const why = result.refusals.length ? `drain refused: ${result.refusals.join('; ')}` : `drain incomplete: ${result.remaining.length} pods left`;
    metrics.drains.inc({ result: 'incomplete' });
    this.drainRetryAt = clock.now() + backoffDelay(record.drainAttempts, { baseMs: 10_000, maxMs: 120_000, jitter: 0.2 });
    await this.save((cur) => (cur ? { ...cur, drainAttempts: cur.drainAttempts + 1, lastError: why.slice(0, 300) } : null));
    log.warn(`${why}; retrying (disruption budgets are respected)`);
  }

  private async retire(self: NodeView, record: RevertRecord, log: Logger): Promise<void> {
    const { ops, kube, semaphore, cache, sg, metrics } = this.deps;
    const instanceId = instanceIdFromProviderId(self.providerId);
    // Remove only what we added: the Cluster Autoscaler annotation on the replacement. The move is
    // done (this node is drained), and it goes first: once this instance is terminating, this agent
    // may die with it at any moment, and nothing else would ever take the annotation off. A failure
    // here is retried (the step repeats); a replacement node that is gone has nothing to remove.
    for (const n of record.protectedNodes) {
      if (!(await kube.getNode(n))) continue;
      await kube.updateNode(n, (fresh) => (fresh.annotations[CA_SCALE_DOWN_DISABLED] === 'true' ? { annotations: { [CA_SCALE_DOWN_DISABLED]: null } } : null));
    }
    if (instanceId) await ops.retireInstance(instanceId, record.id, log);
    await cache.clearProbeBackoff(sg.spotGroup).catch(() => undefined);
    await this.save((cur) => (cur ? { ...cur, phase: 'Done' } : null));
    await semaphore.release(sg.onDemandGroup, this.deps.nodeName, record.slot).catch(() => undefined);
    metrics.reverts.inc({ group: sg.onDemandGroup, result: 'retired' });
    log.info({ instanceId }, `reverted to spot: fallback node ${this.deps.nodeName} drained and removed`);
    this.notify(record, 'SpotGuardRevertDone', `reverted to spot: ${record.replacement?.node ?? 'a spot node'} replaced on-demand fallback node ${this.deps.nodeName}`);
  }
}

import type { Clock } from '../shared/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { nullNotifier, type NotificationReason, type Notifier } from '../observability/notifier.js';
import type { Lock } from '../kube/lease-lock.js';
import type { NodePort } from '../kube/types.js';
import type { SpotGuardStep } from '../workflow/spot-guard-decide.js';
import type { SpotGuardPolicy, WorkflowPolicy } from '../workflow/policy.js';
import { cordonChange, recordChange, recordsOf } from '../workflow/node-changes.js';
import type { CapacityRequestRecord, EventRecord, Phase, SpotGuardState } from '../workflow/record.js';
import { instanceIdFromProviderId } from './assess.js';
import type { CapacityCache } from './capacity-cache.js';
import { CapacityOps, iso, type RequestLedger } from './capacity-ops.js';
import type { AutoScalingPort, CapacityType } from './types.js';

export { REPLACEMENT_ANNOTATION, FALLBACK_LABEL, LOCK_PREFIX, parseClaim, type ReplacementClaim } from './capacity-ops.js';

export interface ReplacementDeps {
  nodeName: string;
  asg: AutoScalingPort;
  lock: Lock;
  cache: CapacityCache;
  kube: NodePort;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  policy: WorkflowPolicy & { spotGuard: SpotGuardPolicy };
  dryRun: boolean;
  notifier?: Notifier;
}

/** Requests kept per event: enough to explain the story, bounded however long capacity stays away. */
const MAX_REQUESTS_KEPT = 8;

/**
 * Carries out Spot Guard's steps for a rebalance recommendation (decided by
 * src/workflow/spot-guard-decide.ts) with the shared capacity operations, keeping the event's
 * capacity requests in its record on the at-risk Node.
 */
export class ReplacementSteps {
  readonly ops: CapacityOps;

  constructor(private readonly deps: ReplacementDeps) {
    this.ops = new CapacityOps({ ...deps, sg: deps.policy.spotGuard });
  }

  private get sg(): SpotGuardPolicy {
    return this.deps.policy.spotGuard;
  }

  private groupFor(t: CapacityType): string {
    return t === 'spot' ? this.sg.spotGroup : this.sg.onDemandGroup;
  }

  async execute(step: SpotGuardStep, rec: EventRecord): Promise<void> {
    // Every Spot Guard line names the group it is about: the one asked for, else the one last asked.
    const group = step.type === 'request-capacity' ? this.groupFor(step.capacityType) : (state(rec).requests.at(-1)?.group ?? this.sg.spotGroup);
    const log = this.deps.logger.child({ eventId: rec.id, kind: rec.kind, node: this.deps.nodeName, phase: rec.phase, group });
    const ledger = this.ledger(rec);
    switch (step.type) {
      case 'request-capacity':
        return this.requestCapacity(rec, ledger, step.capacityType, log);
      case 'confirm-request':
        return this.ops.confirmRequest(ledger, log);
      case 'await-replacement':
        return this.awaitReplacement(rec, ledger, log);
      case 'undo-request':
        return this.ops.undoRequest(ledger, log);
      case 'no-capacity':
        return this.noCapacity(rec, log);
      case 'mark-drained':
        await this.save(rec.id, (cur) => ({ ...cur, phase: 'Drained' }));
        log.info('node already drained by another event; going on to retire it');
        return;
      case 'retire':
        return this.retire(rec, log);
    }
  }

  /** Writes the event's record (read fresh from the Node) as `f` changes it; null = no change. */
  private async save(id: string, f: (cur: EventRecord) => EventRecord | null): Promise<void> {
    await this.deps.kube.updateNode(this.deps.nodeName, (fresh) => {
      const cur = recordsOf(fresh)[id];
      const next = cur ? f(cur) : null;
      return next ? recordChange(fresh, next, this.deps.clock.now()) : null;
    });
  }

  /** The event's capacity requests, kept in its record; appending also moves Pending → Replacing. */
  private ledger(rec: EventRecord): RequestLedger {
    let requests = state(rec).requests;
    const phase: Phase = rec.phase === 'NoCapacity' ? 'NoCapacity' : 'Replacing';
    return {
      id: rec.id,
      last: () => requests.at(-1),
      count: () => requests.length,
      all: () => requests,
      append: async (req) => {
        await this.save(rec.id, (cur) => {
          const sg = state(cur);
          requests = [...sg.requests, req].slice(-MAX_REQUESTS_KEPT);
          return { ...cur, phase, spotGuard: { ...sg, requests } };
        });
      },
      updateLast: async (f) => {
        await this.save(rec.id, (cur) => {
          const sg = state(cur);
          const last = sg.requests.at(-1);
          if (!last) return null;
          requests = [...sg.requests.slice(0, -1), f(last)];
          return { ...cur, spotGuard: { ...sg, requests } };
        });
      },
    };
  }

  private notify(rec: EventRecord, reason: NotificationReason, message: string, group?: string, type: 'Normal' | 'Warning' = 'Normal'): void {
    (this.deps.notifier ?? nullNotifier).notify({
      reason,
      type,
      message,
      nodeName: this.deps.nodeName,
      at: this.deps.clock.now(),
      ...(group ? { group } : {}),
      event: { id: rec.id, kind: rec.kind, startTime: rec.startTime, description: rec.description, phase: rec.phase },
    });
  }

  private async requestCapacity(rec: EventRecord, ledger: RequestLedger, type: CapacityType, log: Logger): Promise<void> {
    const group = this.groupFor(type);
    await this.ops.requestCapacity(ledger, type, group, log.child({ group }), {
      checkCache: type === 'spot',
      onRequested: (before) => {
        if (type === 'on-demand') this.deps.metrics.fallbacks.inc({ group });
        this.notify(
          rec,
          type === 'spot' ? 'SpotGuardScaleUp' : 'SpotGuardFallback',
          type === 'spot'
            ? `requested a spot replacement: ${group} desired ${before} → ${before + 1}`
            : `spot unavailable; requested an on-demand replacement: ${group} desired ${before} → ${before + 1}`,
          group,
          type === 'spot' ? 'Normal' : 'Warning',
        );
      },
    });
  }

  private async awaitReplacement(rec: EventRecord, ledger: RequestLedger, log: Logger): Promise<void> {
    const last = ledger.last();
    if (!last) return;
    const { clock, metrics } = this.deps;
    const glog = log.child({ group: last.group });
    const a = await this.ops.assessLast(ledger, { node: this.deps.nodeName, capacityType: last.capacityType, fallback: last.capacityType === 'on-demand' });
    if (a.kind === 'waiting') {
      glog.debug({ detail: a.detail }, 'replacement not Ready yet');
      return;
    }
    if (a.kind === 'lost-claim') {
      glog.debug('another event claimed that node first; looking again');
      return;
    }
    if (a.kind === 'failed') {
      await ledger.updateLast((r) => ({ ...r, outcome: 'failed', reason: a.reason }));
      await this.ops.markUnavailable(last.group, a.reason);
      metrics.scaleUps.inc({ group: last.group, capacity_type: last.capacityType, result: 'failed' });
      glog.warn({ capacityType: last.capacityType }, `${last.capacityType} replacement failed: ${a.reason}`);
      return;
    }
    const readyAt = clock.now();
    await this.save(rec.id, (cur) => {
      const sg = state(cur);
      const requests = sg.requests.map((r, i) => (i === sg.requests.length - 1 ? { ...r, outcome: 'ready' as const } : r));
      return {
        ...cur,
        spotGuard: { ...sg, requests, replacement: { instanceId: a.instanceId, node: a.node, capacityType: last.capacityType, readyAt: iso(readyAt) } },
      };
    });
    if (last.dryRun) {
      glog.info(`dry-run: assuming the ${last.capacityType} replacement is Ready`);
      return;
    }
    metrics.scaleUps.inc({ group: last.group, capacity_type: last.capacityType, result: 'ready' });
    metrics.replacementReadySeconds.observe({ capacity_type: last.capacityType }, (readyAt - Date.parse(rec.detectedAt)) / 1000);
    glog.info({ replacement: a.node, instanceId: a.instanceId }, `${last.capacityType} replacement ${a.node} (${a.instanceId}) is Ready`);
    this.notify(rec, 'SpotGuardReplacementReady', `${last.capacityType} replacement ${a.node} (${a.instanceId}) is Ready`, last.group);
  }

  private async noCapacity(rec: EventRecord, log: Logger): Promise<void> {
    const { kube, clock, metrics, policy } = this.deps;
    const retryAt = clock.now() + this.sg.capacityCacheTtlMs;
    await kube.updateNode(this.deps.nodeName, (fresh) => {
      const cur = recordsOf(fresh)[rec.id];
      if (!cur) return null;
      const next = { ...cur, spotGuard: { ...state(cur), retryAt: iso(retryAt) } };
      return cordonChange(fresh, next, policy, 'NoCapacity', clock.now());
    });
    metrics.noCapacity.inc();
    this.notify(
      rec,
      'SpotGuardNoCapacity',
      `no spot or on-demand capacity: node tainted and cordoned, not drained; retrying at ${iso(retryAt)}`,
      this.sg.spotGroup,
      'Warning',
    );
    log.warn(
      { retryAt: iso(retryAt) },
      `no replacement capacity in ${this.sg.spotGroup} (spot) or ${this.sg.onDemandGroup} (on-demand): ` +
        `node ${this.deps.nodeName} tainted and cordoned but NOT drained (its pods have nowhere to go); retrying replacement at ${iso(retryAt)}`,
    );
  }

  private async retire(rec: EventRecord, log: Logger): Promise<void> {
    const self = await this.deps.kube.getNode(this.deps.nodeName);
    const instanceId = self ? instanceIdFromProviderId(self.providerId) : null;
    // Retired early (an ITN drained the node before the replacement came): the replacement is still awaited.
    const early = rec.phase === 'Replacing' || rec.phase === 'NoCapacity';
    if (!instanceId) log.warn(`cannot retire: node ${this.deps.nodeName} has no AWS providerID`);
    const group = instanceId ? await this.ops.retireInstance(instanceId, rec.id, log) : null;
    if (group && !this.deps.dryRun) {
      this.notify(rec, 'SpotGuardRetire', `retired ${instanceId}: terminating it with the desired capacity of ${group} decremented`, group);
    }
    await this.save(rec.id, (cur) => ({ ...cur, phase: early ? cur.phase : 'Done', spotGuard: { ...state(cur), retired: true } }));
  }
}

function state(rec: EventRecord): SpotGuardState {
  return rec.spotGuard ?? { requests: [], retired: false };
}

export type { CapacityRequestRecord };

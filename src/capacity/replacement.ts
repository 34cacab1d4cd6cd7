import { Deadline, type Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { nullNotifier, type NotificationReason, type Notifier } from '../observability/notifier.js';
import { LockTimeoutError, leaseNameFor, type Lock } from '../kube/lease-lock.js';
import type { NodePort, NodeView } from '../kube/types.js';
import type { SpotGuardStep } from '../workflow/spot-guard-decide.js';
import type { SpotGuardPolicy, WorkflowPolicy } from '../workflow/policy.js';
import { cordonChange, recordChange, recordsOf } from '../workflow/node-changes.js';
import type { CapacityRequestRecord, EventRecord, Phase, SpotGuardState } from '../workflow/record.js';
import { assessReplacement, instanceIdFromProviderId, outstandingLaunches, unclaimedNewInstances, type CandidateNode } from './assess.js';
import type { CapacityCache } from './capacity-cache.js';
import { AutoScalingError, type AutoScalingPort, type CapacityType } from './types.js';

/** On the replacement Node: which event and at-risk node it replaces; fallback capacity is on-demand. */
export const REPLACEMENT_ANNOTATION = 'spot-guard.io/replacement-for';
export const FALLBACK_LABEL = 'spot-guard.io/fallback';
export const LOCK_PREFIX = 'spot-guard-asg';
/** How long a +1 may queue for its group's lock behind other nodes' +1s. */
const LOCK_QUEUE_MS = 10 * 60_000;

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

export interface ReplacementClaim {
  event: string;
  node: string;
  capacityType: CapacityType;
  fallback: boolean;
  at: string;
}

export function parseClaim(raw: string | undefined): ReplacementClaim | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Partial<ReplacementClaim>;
    return typeof v.event === 'string' ? (v as ReplacementClaim) : null;
  } catch {
    return null;
  }
}

/**
 * Carries out Spot Guard's steps (decided by src/workflow/spot-guard-decide.ts). Every change to a
 * group's desired capacity — +1, undo, retire with decrement — happens under that group's Lease, so
 * N nodes asking at once give exactly +N. Each outcome is written to the event's record on the
 * at-risk Node before the next step, so a restarted agent resumes instead of scaling twice.
 */
export class ReplacementSteps {
  private readonly firstAttempt = new Map<string, number>();

  constructor(private readonly deps: ReplacementDeps) {}

  private get sg(): SpotGuardPolicy {
    return this.deps.policy.spotGuard;
  }

  private groupFor(t: CapacityType): string {
    return t === 'spot' ? this.sg.spotGroup : this.sg.onDemandGroup;
  }

  private holder(rec: EventRecord): string {
    return `${this.deps.nodeName}/${rec.id}`;
  }

  async execute(step: SpotGuardStep, rec: EventRecord): Promise<void> {
    const log = this.deps.logger.child({ eventId: rec.id, kind: rec.kind, node: this.deps.nodeName, phase: rec.phase });
    switch (step.type) {
      case 'request-capacity':
        return this.requestCapacity(rec, step.capacityType, log);
      case 'confirm-request':
        return this.confirmRequest(rec, log);
      case 'await-replacement':
        return this.awaitReplacement(rec, log);
      case 'undo-request':
        return this.undoRequest(rec, log);
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
  private async save(id: string, f: (cur: EventRecord) => EventRecord | null): Promise<EventRecord | null> {
    let saved: EventRecord | null = null;
    await this.deps.kube.updateNode(this.deps.nodeName, (fresh) => {
      const cur = recordsOf(fresh)[id];
      if (!cur) return null;
      const next = f(cur);
      saved = next;
      return next ? recordChange(fresh, next, this.deps.clock.now()) : null;
    });
    return saved;
  }

  private withLastRequest(rec: EventRecord, f: (r: CapacityRequestRecord) => CapacityRequestRecord): EventRecord {
    const sg = state(rec);
    const last = sg.requests.at(-1);
    if (!last) return rec;
    return { ...rec, spotGuard: { ...sg, requests: [...sg.requests.slice(0, -1), f(last)] } };
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

  private lockFor(group: string) {
    return leaseNameFor(LOCK_PREFIX, group);
  }

  private async requestCapacity(rec: EventRecord, type: CapacityType, log: Logger): Promise<void> {
    const { asg, cache, clock, metrics, lock } = this.deps;
    const group = this.groupFor(type);
    const phase: Phase = rec.phase === 'NoCapacity' ? 'NoCapacity' : 'Replacing';
    const now = clock.now();

    if (type === 'spot') {
      // The cache only saves time: if it cannot be read, try spot as if it were empty.
      const entry = await cache.get(group).catch((err: unknown) => {
        log.warn({ group, err: errorMessage(err) }, 'cannot read the shared capacity cache; trying spot');
        return null;
      });
      if (entry) {
        metrics.capacityCacheHits.inc({ group });
        log.info({ group, until: new Date(entry.until).toISOString() }, `spot capacity recently unavailable in ${group}; going straight to on-demand`);
        await this.save(rec.id, (cur) =>
          appendRequest(cur, phase, {
            capacityType: type,
            group,
            requestedAt: iso(now),
            desiredBefore: -1,
            desiredAfter: -1,
            baseline: [],
            confirmed: true,
            outcome: 'failed',
            reason: `capacity cache: ${entry.reason} (until ${new Date(entry.until).toISOString()})`,
            undone: true,
          }),
        );
        return;
      }
    }

    const key = `${rec.id}/${state(rec).requests.length}`;
    const first = this.firstAttempt.get(key) ?? now;
    this.firstAttempt.set(key, first);
    // Waiting for the group's lock is queueing behind other nodes' +1s, each of which makes
    // progress: it gets a longer bound than the Auto Scaling calls themselves.
    const scaleDeadlineAt = first + this.sg.scaleTimeoutMs;
    const lockDeadline = Deadline.at(clock, first + Math.max(this.sg.scaleTimeoutMs, LOCK_QUEUE_MS));
    let confirmed = false;
    try {
      await lock.withLock(this.lockFor(group), this.holder(rec), lockDeadline, async () => {
        const g = await asg.describeGroup(group);
        const requestedAt = iso(clock.now());
        if (!g) {
          await this.save(rec.id, (cur) => appendRequest(cur, phase, failedRequest(type, group, requestedAt, `Auto Scaling group ${group} not found`)));
          return;
        }
        if (g.desiredCapacity + 1 > g.maxSize) {
          const reason = `MaxSize ${g.maxSize} reached (desired ${g.desiredCapacity})`;
          await this.save(rec.id, (cur) => appendRequest(cur, phase, failedRequest(type, group, requestedAt, reason)));
          await this.markUnavailable(group, reason);
          metrics.scaleUps.inc({ group, capacity_type: type, result: 'max_size' });
          log.warn({ group }, `cannot add ${type} capacity: ${reason}`);
          return;
        }
        // Intent first: if we die between this write and the call, the next agent finds out which it was.
        const intent: CapacityRequestRecord = {
          capacityType: type,
          group,
          requestedAt,
          desiredBefore: g.desiredCapacity,
          desiredAfter: g.desiredCapacity + 1,
          baseline: g.instances.map((i) => i.instanceId),
          confirmed: false,
          outcome: 'waiting',
          undone: false,
          ...(this.deps.dryRun ? { dryRun: true } : {}),
        };
        await this.save(rec.id, (cur) => appendRequest(cur, phase, intent));
        if (this.deps.dryRun) {
          log.info({ group }, `dry-run: would have set the desired capacity of ${group} from ${g.desiredCapacity} to ${g.desiredCapacity + 1}`);
        } else {
          await asg.setDesiredCapacity(group, g.desiredCapacity + 1);
          log.info({ group, capacityType: type }, `${group} (${type}) desired capacity ${g.desiredCapacity} → ${g.desiredCapacity + 1}: replacement requested`);
          this.notify(
            rec,
            type === 'spot' ? 'SpotGuardScaleUp' : 'SpotGuardFallback',
            type === 'spot'
              ? `requested a spot replacement: ${group} desired ${g.desiredCapacity} → ${g.desiredCapacity + 1}`
              : `spot unavailable; requested an on-demand replacement: ${group} desired ${g.desiredCapacity} → ${g.desiredCapacity + 1}`,
            group,
            type === 'spot' ? 'Normal' : 'Warning',
          );
        }
        confirmed = true;
        metrics.scaleUps.inc({ group, capacity_type: type, result: 'requested' });
        if (type === 'on-demand') metrics.fallbacks.inc({ group });
      });
      // Outside the lock, to keep the critical section short: a crash before this write is
      // settled by confirm-request (the group shows whether the +1 happened).
      if (confirmed) await this.save(rec.id, (cur) => this.withLastRequest(cur, (r) => ({ ...r, confirmed: true })));
      this.firstAttempt.delete(key);
    } catch (err) {
      // A +1 we could not get accepted within the scale timeout counts as a failure (fall back).
      const permanent = err instanceof AutoScalingError && !err.retriable;
      if (permanent || err instanceof LockTimeoutError || clock.now() >= scaleDeadlineAt) {
        this.firstAttempt.delete(key);
        const reason = `could not scale ${group} up: ${errorMessage(err)}`;
        await this.save(rec.id, (cur) => {
          const last = state(cur).requests.at(-1);
          // An unconfirmed intent stays for confirm-request to settle; otherwise record the failure.
          if (last && !last.confirmed) return null;
          return appendRequest(cur, phase, failedRequest(type, group, iso(clock.now()), reason));
        });
        metrics.scaleUps.inc({ group, capacity_type: type, result: 'error' });
        log.warn({ group }, reason);
        return;
      }
      throw err;
    }
  }

  /** After a crash between recording the intent and knowing the call's outcome. */
  private async confirmRequest(rec: EventRecord, log: Logger): Promise<void> {
    const last = state(rec).requests.at(-1);
    if (!last) return;
    const { asg, lock, clock } = this.deps;
    await lock.withLock(this.lockFor(last.group), this.holder(rec), Deadline.after(clock, this.sg.scaleTimeoutMs), async () => {
      const g = await asg.describeGroup(last.group);
      if (!g) {
        await this.save(rec.id, (cur) => this.withLastRequest(cur, (r) => ({ ...r, confirmed: true, outcome: 'failed', undone: true, reason: 'group not found' })));
        return;
      }
      if (g.desiredCapacity >= last.desiredAfter) {
        log.info({ group: last.group }, `the +1 on ${last.group} had been applied before the restart`);
        await this.save(rec.id, (cur) => this.withLastRequest(cur, (r) => ({ ...r, confirmed: true })));
        return;
      }
      // Not applied (or taken back since): ask again from where the group is now.
      if (g.desiredCapacity + 1 > g.maxSize) {
        await this.save(rec.id, (cur) =>
          this.withLastRequest(cur, (r) => ({ ...r, confirmed: true, outcome: 'failed', undone: true, reason: `MaxSize ${g.maxSize} reached` })),
        );
        return;
      }
      if (!this.deps.dryRun) await asg.setDesiredCapacity(last.group, g.desiredCapacity + 1);
      log.info({ group: last.group }, `${last.group} desired capacity ${g.desiredCapacity} → ${g.desiredCapacity + 1} (re-requested after restart)`);
      await this.save(rec.id, (cur) =>
        this.withLastRequest(cur, (r) => ({ ...r, confirmed: true, desiredBefore: g.desiredCapacity, desiredAfter: g.desiredCapacity + 1 })),
      );
    });
  }

  private async awaitReplacement(rec: EventRecord, log: Logger): Promise<void> {
    const last = state(rec).requests.at(-1);
    if (!last) return;
    const { asg, kube, clock, metrics } = this.deps;
    if (last.dryRun) {
      log.info(`dry-run: assuming the ${last.capacityType} replacement is Ready`);
      await this.save(rec.id, (cur) => ({
        ...this.withLastRequest(cur, (r) => ({ ...r, outcome: 'ready' })),
        spotGuard: {
          ...state(this.withLastRequest(cur, (r) => ({ ...r, outcome: 'ready' }))),
          replacement: { instanceId: '(dry-run)', node: '(dry-run)', capacityType: last.capacityType, readyAt: iso(clock.now()) },
        },
      }));
      return;
    }
    const requestedAt = Date.parse(last.requestedAt);
    const [group, activities, nodes] = await Promise.all([
      asg.describeGroup(last.group),
      asg.activitiesSince(last.group, requestedAt),
      kube.listNodes(),
    ]);
    const a = assessReplacement({
      eventId: rec.id,
      request: {
        capacityType: last.capacityType,
        group: last.group,
        desiredBefore: last.desiredBefore,
        desiredAfter: last.desiredAfter,
        baseline: last.baseline,
        requestedAt,
        ...(last.extendedUntil ? { extendedUntil: Date.parse(last.extendedUntil) } : {}),
      },
      group,
      activities,
      nodes: nodes.map(toCandidate).filter((c): c is CandidateNode => c !== null),
      now: clock.now(),
      timeoutMs: this.sg.capacityCheckTimeoutMs,
    });
    if (a.kind === 'waiting') {
      log.debug({ group: last.group, detail: a.detail }, 'replacement not Ready yet');
      return;
    }
    if (a.kind === 'failed') {
      await this.save(rec.id, (cur) => this.withLastRequest(cur, (r) => ({ ...r, outcome: 'failed', reason: a.reason })));
      await this.markUnavailable(last.group, a.reason);
      metrics.scaleUps.inc({ group: last.group, capacity_type: last.capacityType, result: 'failed' });
      log.warn({ group: last.group, capacityType: last.capacityType }, `${last.capacityType} replacement failed: ${a.reason}`);
      return;
    }
    if (!a.alreadyClaimed && !(await this.claim(a.node, rec, last.capacityType))) {
      log.debug({ candidate: a.node }, 'another event claimed that node first; looking again');
      return;
    }
    const readyAt = clock.now();
    await this.save(rec.id, (cur) => {
      const withOutcome = this.withLastRequest(cur, (r) => ({ ...r, outcome: 'ready' }));
      return {
        ...withOutcome,
        spotGuard: {
          ...state(withOutcome),
          replacement: { instanceId: a.instanceId, node: a.node, capacityType: last.capacityType, readyAt: iso(readyAt) },
        },
      };
    });
    metrics.scaleUps.inc({ group: last.group, capacity_type: last.capacityType, result: 'ready' });
    metrics.replacementReadySeconds.observe({ capacity_type: last.capacityType }, (readyAt - Date.parse(rec.detectedAt)) / 1000);
    log.info(
      { group: last.group, replacement: a.node, instanceId: a.instanceId },
      `${last.capacityType} replacement ${a.node} (${a.instanceId}) is Ready`,
    );
    this.notify(rec, 'SpotGuardReplacementReady', `${last.capacityType} replacement ${a.node} (${a.instanceId}) is Ready`, last.group);
  }

  /** Marks the new Node as this event's replacement; false when another event got it first. */
  private async claim(nodeName: string, rec: EventRecord, capacityType: CapacityType): Promise<boolean> {
    const claim: ReplacementClaim = {
      event: rec.id,
      node: this.deps.nodeName,
      capacityType,
      fallback: capacityType === 'on-demand',
      at: iso(this.deps.clock.now()),
    };
    const written = await this.deps.kube.updateNode(nodeName, (fresh) => {
      const existing = parseClaim(fresh.annotations[REPLACEMENT_ANNOTATION]);
      if (existing) return null;
      return {
        annotations: { [REPLACEMENT_ANNOTATION]: JSON.stringify(claim) },
        ...(claim.fallback ? { labels: { [FALLBACK_LABEL]: 'true' } } : {}),
      };
    });
    return parseClaim(written.annotations[REPLACEMENT_ANNOTATION])?.event === rec.id;
  }

  /** Takes back an unfilled +1 — never by lowering desired below what is running (that would pick a victim). */
  private async undoRequest(rec: EventRecord, log: Logger): Promise<void> {
    const last = state(rec).requests.at(-1);
    if (!last) return;
    const { asg, lock, clock } = this.deps;
    if (last.dryRun || last.desiredAfter < 0) {
      await this.save(rec.id, (cur) => this.withLastRequest(cur, (r) => ({ ...r, undone: true })));
      return;
    }
    await lock.withLock(this.lockFor(last.group), this.holder(rec), Deadline.after(clock, this.sg.scaleTimeoutMs), async () => {
      const g = await asg.describeGroup(last.group);
      if (g && outstandingLaunches(g) >= 1 && g.desiredCapacity - 1 >= g.minSize) {
        await asg.setDesiredCapacity(last.group, g.desiredCapacity - 1);
        log.info({ group: last.group }, `took back the unfilled +1 on ${last.group}: desired ${g.desiredCapacity} → ${g.desiredCapacity - 1}`);
      } else if (g && !last.extendedUntil) {
        // The +1 was filled after all, just late: lowering desired now would let Auto Scaling pick a
        // victim. If an unclaimed new instance exists, it may well be ours: wait for it once more.
        const claimed = new Set(
          (await this.deps.kube.listNodes())
            .map(toCandidate)
            .filter((c): c is CandidateNode => Boolean(c?.claimedBy))
            .map((c) => c.instanceId),
        );
        if (unclaimedNewInstances(g, last.baseline, claimed).length > 0) {
          const until = clock.now() + this.sg.capacityCheckTimeoutMs;
          log.info({ group: last.group }, `the +1 on ${last.group} was filled late; waiting for the new instance until ${iso(until)}`);
          await this.save(rec.id, (cur) => this.withLastRequest(cur, (r) => ({ ...r, outcome: 'waiting', extendedUntil: iso(until) })));
          return;
        }
        log.info({ group: last.group }, `nothing to take back on ${last.group} (no launch outstanding)`);
      } else {
        log.info({ group: last.group }, `nothing to take back on ${last.group} (no launch outstanding)`);
      }
      await this.save(rec.id, (cur) => this.withLastRequest(cur, (r) => ({ ...r, undone: true })));
    });
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
    const { asg, kube, clock, lock, metrics } = this.deps;
    const self = await kube.getNode(this.deps.nodeName);
    const instanceId = self ? instanceIdFromProviderId(self.providerId) : null;
    // Retired early (an ITN drained the node before the replacement came): the replacement is still awaited.
    const early = rec.phase === 'Replacing' || rec.phase === 'NoCapacity';
    const done = () =>
      this.save(rec.id, (cur) => ({ ...cur, phase: early ? cur.phase : 'Done', spotGuard: { ...state(cur), retired: true } }));
    if (!instanceId) {
      log.warn(`cannot retire: node ${this.deps.nodeName} has no AWS providerID`);
      await done();
      return;
    }
    const group = await asg.groupOfInstance(instanceId);
    if (group !== this.sg.spotGroup && group !== this.sg.onDemandGroup) {
      log.warn({ instanceId, group }, `not retiring ${instanceId}: it is not in ${this.sg.spotGroup} or ${this.sg.onDemandGroup}`);
      await done();
      return;
    }
    await lock.withLock(this.lockFor(group), this.holder(rec), Deadline.after(clock, this.sg.scaleTimeoutMs), async () => {
      if (this.deps.dryRun) {
        log.info({ instanceId, group }, `dry-run: would have terminated ${instanceId} in ${group} with ShouldDecrementDesiredCapacity=true`);
      } else {
        const r = await asg.terminateInstance(instanceId, true);
        log.info({ instanceId, group, result: r }, `retired ${instanceId}: terminating with the desired capacity of ${group} decremented`);
        this.notify(rec, 'SpotGuardRetire', `retired ${instanceId}: terminating it with the desired capacity of ${group} decremented`, group);
      }
      await done();
    });
    metrics.retirements.inc({ group });
  }

  private async markUnavailable(group: string, reason: string): Promise<void> {
    const now = this.deps.clock.now();
    try {
      await this.deps.cache.markUnavailable({
        group,
        until: now + this.sg.capacityCacheTtlMs,
        reason: reason.slice(0, 300),
        recordedBy: this.deps.nodeName,
        at: now,
      });
    } catch (err) {
      // The cache only speeds others up; failing to write it must not stop this event.
      this.deps.logger.warn({ group, err: errorMessage(err) }, 'could not record unavailable capacity in the shared cache');
    }
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

function state(rec: EventRecord): SpotGuardState {
  return rec.spotGuard ?? { requests: [], retired: false };
}

/** Requests kept per event: enough to explain the story, bounded however long capacity stays away. */
const MAX_REQUESTS_KEPT = 8;

function appendRequest(cur: EventRecord, phase: Phase, req: CapacityRequestRecord): EventRecord {
  const sg = state(cur);
  return { ...cur, phase, spotGuard: { ...sg, requests: [...sg.requests, req].slice(-MAX_REQUESTS_KEPT) } };
}

function failedRequest(type: CapacityType, group: string, requestedAt: string, reason: string): CapacityRequestRecord {
  return {
    capacityType: type,
    group,
    requestedAt,
    desiredBefore: -1,
    desiredAfter: -1,
    baseline: [],
    confirmed: true,
    outcome: 'failed',
    reason,
    undone: true,
  };
}

function toCandidate(n: NodeView): CandidateNode | null {
  const instanceId = instanceIdFromProviderId(n.providerId);
  if (!instanceId) return null;
  const claim = parseClaim(n.annotations[REPLACEMENT_ANNOTATION]);
  return { name: n.name, instanceId, ready: n.ready, ...(claim ? { claimedBy: claim.event } : {}) };
}

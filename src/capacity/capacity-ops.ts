import { Deadline, type Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { LockTimeoutError, leaseNameFor, type Lock } from '../kube/lease-lock.js';
import type { NodePort, NodeView } from '../kube/types.js';
import type { SpotGuardPolicy } from '../workflow/policy.js';
import type { CapacityRequestRecord } from '../workflow/record.js';
import {
  assessReplacement,
  instanceIdFromProviderId,
  outstandingLaunches,
  unclaimedNewInstances,
  type Assessment,
  type CandidateNode,
} from './assess.js';
import type { CapacityCache } from './capacity-cache.js';
import { AutoScalingError, type AutoScalingPort, type CapacityType } from './types.js';

/** On a replacement Node: which event (or revert) and which node it replaces. */
export const REPLACEMENT_ANNOTATION = 'spot-guard.io/replacement-for';
export const FALLBACK_LABEL = 'spot-guard.io/fallback';
export const LOCK_PREFIX = 'spot-guard-asg';
/** How long a +1 may queue for its group's lock behind other nodes' changes. */
const LOCK_QUEUE_MS = 10 * 60_000;

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

export function toCandidate(n: NodeView): CandidateNode | null {
  const instanceId = instanceIdFromProviderId(n.providerId);
  if (!instanceId) return null;
  const claim = parseClaim(n.annotations[REPLACEMENT_ANNOTATION]);
  return {
    name: n.name,
    instanceId,
    ready: n.ready,
    ...(claim ? { claimedBy: claim.event } : {}),
    ...(n.creationTimestamp ? { createdAt: Date.parse(n.creationTimestamp) } : {}),
  };
}

/**
 * Where a piece of work keeps its capacity requests (a rebalance event's record, a revert's record),
 * so the operations below can persist each step before the next — the same way for both.
 */
export interface RequestLedger {
  /** Event (or revert) id: claims name it; lock holder identity. */
  id: string;
  last(): CapacityRequestRecord | undefined;
  count(): number;
  all(): readonly CapacityRequestRecord[];
  append(req: CapacityRequestRecord): Promise<void>;
  updateLast(f: (r: CapacityRequestRecord) => CapacityRequestRecord): Promise<void>;
}

export interface CapacityOpsDeps {
  nodeName: string;
  asg: AutoScalingPort;
  lock: Lock;
  cache: CapacityCache;
  kube: NodePort;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  sg: SpotGuardPolicy;
  dryRun: boolean;
}

export type RequestOutcome = 'requested' | 'failed' | 'cache-hit';

/**
 * The Auto Scaling operations Spot Guard is built from: +1 a group, find and claim *this*
 * request's new instance, take back an unfilled +1, terminate an instance with decrement. Every
 * change to a group's desired capacity runs under that group's Lease, so concurrent requests
 * from many nodes give exactly one change each; every outcome is written to the ledger first.
 */
export class CapacityOps {
  private readonly firstAttempt = new Map<string, number>();

  constructor(readonly deps: CapacityOpsDeps) {}

  holder(id: string): string {
    return `${this.deps.nodeName}/${id}`;
  }

  lockName(group: string): string {
    return leaseNameFor(LOCK_PREFIX, group);
  }

  /** Asks `group` for one more instance; `checkCache` skips spot that is known to be unavailable. */
  async requestCapacity(
    ledger: RequestLedger,
    type: CapacityType,
    group: string,
    log: Logger,
    opts: { checkCache: boolean; onRequested?: (desiredBefore: number) => void },
  ): Promise<RequestOutcome> {
    const { asg, cache, clock, metrics, lock } = this.deps;
    const now = clock.now();
    if (opts.checkCache) {
      // The cache only saves time: if it cannot be read, try as if it were empty.
      const entry = await cache.get(group).catch((err: unknown) => {
        log.warn({ group, err: errorMessage(err) }, 'cannot read the shared capacity cache; trying anyway');
        return null;
      });
      if (entry) {
        metrics.capacityCacheHits.inc({ group });
        log.info({ group, until: iso(entry.until) }, `${type} capacity recently unavailable in ${group}; not asking`);
        await ledger.append(failedRequest(type, group, iso(now), `capacity cache: ${entry.reason} (until ${iso(entry.until)})`));
        return 'cache-hit';
      }
    }

    const key = `${ledger.id}/${ledger.count()}`;
    const first = this.firstAttempt.get(key) ?? now;
    this.firstAttempt.set(key, first);
    // Waiting for the group's lock is queueing behind other nodes' changes, each of which makes
    // progress: it gets a longer bound than the Auto Scaling calls themselves.
    const scaleDeadlineAt = first + this.deps.sg.scaleTimeoutMs;
    const lockDeadline = Deadline.at(clock, first + Math.max(this.deps.sg.scaleTimeoutMs, LOCK_QUEUE_MS));
    let outcome = 'failed' as RequestOutcome;
    try {
      await lock.withLock(this.lockName(group), this.holder(ledger.id), lockDeadline, async () => {
        // Queued behind others, someone may have found the group out of capacity meanwhile.
        const entry = opts.checkCache ? await cache.get(group).catch(() => null) : null;
        if (entry) {
          metrics.capacityCacheHits.inc({ group });
          await ledger.append(failedRequest(type, group, iso(clock.now()), `capacity cache: ${entry.reason} (until ${iso(entry.until)})`));
          outcome = 'cache-hit';
          return;
        }
        const g = await asg.describeGroup(group);
        const requestedAt = iso(clock.now());
        if (!g) {
          await ledger.append(failedRequest(type, group, requestedAt, `Auto Scaling group ${group} not found`));
          return;
        }
        if (g.desiredCapacity + 1 > g.maxSize) {
          const reason = `MaxSize ${g.maxSize} reached (desired ${g.desiredCapacity})`;
          await ledger.append(failedRequest(type, group, requestedAt, reason));
          await this.markUnavailable(group, reason);
          metrics.scaleUps.inc({ group, capacity_type: type, result: 'max_size' });
          log.warn({ group }, `cannot add ${type} capacity: ${reason}`);
          return;
        }
        // Intent first: if we die between this write and the call, the next agent finds out which it was.
        await ledger.append({
          capacityType: type,
          group,
          requestedAt,
          desiredBefore: g.desiredCapacity,
          desiredAfter: g.desiredCapacity + 1,
          baseline: this.baselineFor(ledger, group, g.instances.map((i) => i.instanceId)),
          confirmed: false,
          outcome: 'waiting',
          undone: false,
          ...(this.deps.dryRun ? { dryRun: true } : {}),
        });
        if (this.deps.dryRun) {
          log.info({ group }, `dry-run: would have set the desired capacity of ${group} from ${g.desiredCapacity} to ${g.desiredCapacity + 1}`);
        } else {
          await asg.setDesiredCapacity(group, g.desiredCapacity + 1);
          log.info({ group, capacityType: type }, `${group} (${type}) desired capacity ${g.desiredCapacity} → ${g.desiredCapacity + 1}`);
          opts.onRequested?.(g.desiredCapacity);
        }
        outcome = 'requested';
        metrics.scaleUps.inc({ group, capacity_type: type, result: 'requested' });
      });
      // Outside the lock, to keep the critical section short: a crash before this write is
      // settled by confirmRequest (the group shows whether the +1 happened).
      if (outcome === 'requested') await ledger.updateLast((r) => ({ ...r, confirmed: true }));
      this.firstAttempt.delete(key);
      return outcome;
    } catch (err) {
      // A +1 we could not get accepted within the scale timeout counts as a failure.
      const permanent = err instanceof AutoScalingError && !err.retriable;
      if (permanent || err instanceof LockTimeoutError || clock.now() >= scaleDeadlineAt) {
        this.firstAttempt.delete(key);
        const reason = `could not scale ${group} up: ${errorMessage(err)}`;
        // An unconfirmed intent stays for confirmRequest to settle; otherwise record the failure.
        const last = ledger.last();
        if (!last || last.confirmed) await ledger.append(failedRequest(type, group, iso(clock.now()), reason));
        metrics.scaleUps.inc({ group, capacity_type: type, result: 'error' });
        log.warn({ group }, reason);
        return 'failed';
      }
      throw err;
    }
  }

  /**
   * A retry on a group this work already asked keeps the first request's baseline: an instance
   * launched late for the earlier +1 (after that wait gave up) is then still a candidate, rather
   * than staying unclaimed beside a second new instance.
   */
  private baselineFor(ledger: RequestLedger, group: string, current: string[]): string[] {
    const first = ledger.all().find((r) => r.group === group && r.desiredAfter >= 0 && r.baseline.length > 0);
    if (!first) return current;
    const still = new Set(current);
    return first.baseline.filter((id) => still.has(id));
  }

  /** After a crash between recording the intent and knowing the call's outcome. */
  async confirmRequest(ledger: RequestLedger, log: Logger): Promise<void> {
    const last = ledger.last();
    if (!last) return;
    const { asg, lock, clock } = this.deps;
    await lock.withLock(this.lockName(last.group), this.holder(ledger.id), Deadline.after(clock, this.deps.sg.scaleTimeoutMs), async () => {
      const g = await asg.describeGroup(last.group);
      if (!g) {
        await ledger.updateLast((r) => ({ ...r, confirmed: true, outcome: 'failed', undone: true, reason: 'group not found' }));
        return;
      }
      if (g.desiredCapacity >= last.desiredAfter) {
        log.info({ group: last.group }, `the +1 on ${last.group} had been applied before the restart`);
        await ledger.updateLast((r) => ({ ...r, confirmed: true }));
        return;
      }
      // Not applied (or taken back since): ask again from where the group is now.
      if (g.desiredCapacity + 1 > g.maxSize) {
        await ledger.updateLast((r) => ({ ...r, confirmed: true, outcome: 'failed', undone: true, reason: `MaxSize ${g.maxSize} reached` }));
        return;
      }
      if (!this.deps.dryRun) await asg.setDesiredCapacity(last.group, g.desiredCapacity + 1);
      log.info({ group: last.group }, `${last.group} desired capacity ${g.desiredCapacity} → ${g.desiredCapacity + 1} (re-requested after restart)`);
      await ledger.updateLast((r) => ({ ...r, confirmed: true, desiredBefore: g.desiredCapacity, desiredAfter: g.desiredCapacity + 1 }));
    });
  }

  /**
   * Looks once for the last request's own new instance with a Ready Node. On 'ready' the node is
   * claimed for `claim` (false → another piece of work got it first: look again later).
   */
  async assessLast(ledger: RequestLedger, claim: Omit<ReplacementClaim, 'event' | 'at'>): Promise<Assessment | { kind: 'lost-claim' }> {
    const last = ledger.last();
    if (!last) return { kind: 'waiting', detail: 'no request' };
    const { asg, kube, clock } = this.deps;
    if (last.dryRun) return { kind: 'ready', instanceId: '(dry-run)', node: '(dry-run)', alreadyClaimed: true };
    const requestedAt = Date.parse(last.requestedAt);
    const [group, activities, nodes] = await Promise.all([asg.describeGroup(last.group), asg.activitiesSince(last.group, requestedAt), kube.listNodes()]);
    const a = assessReplacement({
      eventId: ledger.id,
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
      timeoutMs: this.deps.sg.capacityCheckTimeoutMs,
    });
    if (a.kind === 'ready' && !a.alreadyClaimed && !(await this.claim(a.node, { ...claim, event: ledger.id, at: iso(clock.now()) }))) {
      return { kind: 'lost-claim' };
    }
    return a;
  }

  /** Marks the new Node as this work's replacement; false when another got it first. */
  private async claim(nodeName: string, claim: ReplacementClaim): Promise<boolean> {
    const written = await this.deps.kube.updateNode(nodeName, (fresh) => {
      if (parseClaim(fresh.annotations[REPLACEMENT_ANNOTATION])) return null;
      return {
        annotations: { [REPLACEMENT_ANNOTATION]: JSON.stringify(claim) },
        ...(claim.fallback ? { labels: { [FALLBACK_LABEL]: 'true' } } : {}),
      };
    });
    return parseClaim(written.annotations[REPLACEMENT_ANNOTATION])?.event === claim.event;
  }

  /** Takes back an unfilled +1 — never by lowering desired below what runs (that would pick a victim). */
  async undoRequest(ledger: RequestLedger, log: Logger): Promise<void> {
    const last = ledger.last();
    if (!last) return;
    const { asg, lock, clock } = this.deps;
    if (last.dryRun || last.desiredAfter < 0) {
      await ledger.updateLast((r) => ({ ...r, undone: true }));
      return;
    }
    await lock.withLock(this.lockName(last.group), this.holder(ledger.id), Deadline.after(clock, this.deps.sg.scaleTimeoutMs), async () => {
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
          const until = clock.now() + this.deps.sg.capacityCheckTimeoutMs;
          log.info({ group: last.group }, `the +1 on ${last.group} was filled late; waiting for the new instance until ${iso(until)}`);
          await ledger.updateLast((r) => ({ ...r, outcome: 'waiting', extendedUntil: iso(until) }));
          return;
        }
        log.info({ group: last.group }, `nothing to take back on ${last.group} (no launch outstanding)`);
      } else {
        log.info({ group: last.group }, `nothing to take back on ${last.group} (no launch outstanding)`);
      }
      await ledger.updateLast((r) => ({ ...r, undone: true }));
    });
  }

  /**
   * TerminateInstanceInAutoScalingGroup(instance, ShouldDecrementDesiredCapacity=true) under the
   * group's lock. Returns the group, or null when the instance is in neither of our groups.
   */
  async retireInstance(instanceId: string, holderId: string, log: Logger): Promise<string | null> {
    const { asg, lock, clock, metrics } = this.deps;
    const group = await asg.groupOfInstance(instanceId);
    if (group !== this.deps.sg.spotGroup && group !== this.deps.sg.onDemandGroup) {
      log.warn({ instanceId, group }, `not retiring ${instanceId}: it is not in ${this.deps.sg.spotGroup} or ${this.deps.sg.onDemandGroup}`);
      return null;
    }
    await lock.withLock(this.lockName(group), this.holder(holderId), Deadline.after(clock, this.deps.sg.scaleTimeoutMs), async () => {
      if (this.deps.dryRun) {
        log.info({ instanceId, group }, `dry-run: would have terminated ${instanceId} in ${group} with ShouldDecrementDesiredCapacity=true`);
        return;
      }
      const r = await asg.terminateInstance(instanceId, true);
      log.info({ instanceId, group, result: r }, `retired ${instanceId}: terminating with the desired capacity of ${group} decremented`);
    });
    metrics.retirements.inc({ group });
    return group;
  }

  /** Records "no capacity" in the shared cache; failure to write it never stops the work. */
  async markUnavailable(group: string, reason: string): Promise<void> {
    const now = this.deps.clock.now();
    try {
      await this.deps.cache.markUnavailable({
        group,
        until: now + this.deps.sg.capacityCacheTtlMs,
        reason: reason.slice(0, 300),
        recordedBy: this.deps.nodeName,
        at: now,
      });
    } catch (err) {
      this.deps.logger.warn({ group, err: errorMessage(err) }, 'could not record unavailable capacity in the shared cache');
    }
  }
}

export const iso = (ms: number) => new Date(ms).toISOString();

export function failedRequest(type: CapacityType, group: string, requestedAt: string, reason: string): CapacityRequestRecord {
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

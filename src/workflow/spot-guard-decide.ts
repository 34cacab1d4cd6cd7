import { drainOrBackoff, type DecideContext, type Step } from './decide.js';
import type { SpotGuardPolicy } from './policy.js';
import type { EventRecord } from './record.js';

/** Spot Guard's steps for a rebalance recommendation; carried out by src/capacity/replacement.ts. */
export type SpotGuardStep =
  /** Under the group's Lease: describe, check MaxSize, record intent, +1, record confirmation. */
  | { type: 'request-capacity'; capacityType: 'spot' | 'on-demand' }
  /** A +1 whose outcome a crash left unknown: find out from the group and finish it. */
  | { type: 'confirm-request' }
  /** Look once for this request's own new instance with a Ready Node; claim it, or detect failure. */
  | { type: 'await-replacement' }
  /** Take back the +1 of a request that could not be filled, so the group does not launch it later. */
  | { type: 'undo-request' }
  /** Spot and on-demand both failed: taint + cordon (no drain), retry after the cache TTL. */
  | { type: 'no-capacity' }
  /** The node was drained by another event (an ITN): go on to retire it. */
  | { type: 'mark-drained' }
  /** TerminateInstanceInAutoScalingGroup(at-risk instance, ShouldDecrementDesiredCapacity=true). */
  | { type: 'retire' };

/**
 * Pure: the next Spot Guard step for a rebalance recommendation. Replacement first: the at-risk
 * node is not tainted, cordoned or drained until a replacement Node is Ready (except that, with no
 * capacity anywhere, it is tainted and cordoned — never drained — while replacement is retried).
 */
export function decideSpotGuard(rec: EventRecord, ctx: DecideContext, sg: SpotGuardPolicy): Step {
  const state = rec.spotGuard;
  switch (rec.phase) {
    case 'Pending':
      return { type: 'request-capacity', capacityType: 'spot' };
    case 'Replacing':
    case 'NoCapacity': {
      if (state?.replacement) return { type: 'cordon' };
      const last = state?.requests.at(-1);
      if (!last) return { type: 'request-capacity', capacityType: 'spot' };
      if (!last.confirmed) return { type: 'confirm-request' };
      // Another event (an ITN) drained the node while its replacement is on its way: the instance is
      // about to be reclaimed, and the group would replace it on top of our +1 (the fleet would grow
      // by one). Retire it now, with decrement; the record goes on (claim, fallback) while the node lives.
      if (ctx.siblingDrained && sg.retireAfterDrain && !state?.retired && last.outcome === 'waiting') return { type: 'retire' };
      if (last.outcome === 'waiting' || last.outcome === 'ready') {
        const due = (ctx.lastPollAt ?? 0) + sg.pollIntervalMs;
        if (ctx.now < due) return { type: 'wait', until: due, reason: 'waiting for the replacement' };
        return { type: 'await-replacement' };
      }
      if (!last.undone) return { type: 'undo-request' };
      if (last.capacityType === 'spot') return { type: 'request-capacity', capacityType: 'on-demand' };
      // On-demand failed too: this round is over. Record "no capacity" (once per round), then retry
      // with spot when its time comes.
      const retryAt = state?.retryAt ? Date.parse(state.retryAt) : undefined;
      if (rec.phase === 'Replacing' || retryAt === undefined || retryAt < Date.parse(last.requestedAt)) return { type: 'no-capacity' };
      if (ctx.now < retryAt) return { type: 'wait', until: retryAt, reason: 'no capacity; retrying replacement later' };
      return { type: 'request-capacity', capacityType: 'spot' };
    }
    case 'Cordoned':
      if (ctx.policy.cordonOnly) return { type: 'none' };
      if (ctx.policy.rebalanceDrain) return drainOrBackoff(ctx);
      if (ctx.siblingDrained) return { type: 'mark-drained' };
      return { type: 'none' };
    case 'Draining':
      return drainOrBackoff(ctx);
    case 'Drained':
      return sg.retireAfterDrain && !state?.retired ? { type: 'retire' } : { type: 'none' };
    case 'AwaitingReboot':
    case 'Canceled':
    case 'Done':
      return { type: 'none' };
  }
}

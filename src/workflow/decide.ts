import type { NodeView } from '../kube/types.js';
import { REBOOT_CODES } from './notice.js';
import type { WorkflowPolicy } from './policy.js';
import { decideSpotGuard, type SpotGuardStep } from './spot-guard-decide.js';
import type { EventRecord, Phase } from './record.js';

/** The next thing to do for one event. Pure data; the reconciler carries it out. */
export type Step =
  | SpotGuardStep
  /** Taint (per policy), cordon, label; one write that also records phase Cordoned. */
  | { type: 'cordon' }
  /** Evict the pods and wait until they are gone; records Draining, then Drained/AwaitingReboot. */
  | { type: 'drain' }
  /** Undo what we did (taints, labels, cordon unless someone else wants it) and record Done. */
  | { type: 'uncordon'; reason: string }
  /** Nothing to do until `until` (epoch ms), or until something changes when absent. */
  | { type: 'wait'; until?: number; reason: string }
  /** Finished, or nothing more to do under this configuration. */
  | { type: 'none' };

export interface DecideContext {
  now: number;
  node: Pick<NodeView, 'bootId'>;
  policy: WorkflowPolicy;
  /** When a failed drain may be tried again (in-memory backoff), epoch ms. */
  retryAt?: number;
  /** Spot Guard: when this event last looked for its replacement (in-memory), epoch ms. */
  lastPollAt?: number;
  /** Another event on this node (an ITN) has already drained it. */
  siblingDrained?: boolean;
}

/** Whether this event, under this configuration, ends in a drain (true) or just a cordon. */
export function wantsDrain(rec: EventRecord, policy: WorkflowPolicy): boolean {
  if (policy.cordonOnly) return false;
  if (rec.kind === 'REBALANCE_RECOMMENDATION') return policy.rebalanceDrain;
  return true;
}

/** NTH starts acting NODE_TERMINATION_GRACE_PERIOD before the interruption (at once for ITNs). */
export function actAt(rec: EventRecord, policy: WorkflowPolicy): number {
  return Date.parse(rec.startTime) - policy.nodeTerminationGracePeriodMs;
}

export function phaseAfterDrain(rec: EventRecord): Phase {
  return rec.kind === 'SCHEDULED_EVENT' && rec.code && REBOOT_CODES.has(rec.code) ? 'AwaitingReboot' : 'Drained';
}

export function decide(rec: EventRecord, ctx: DecideContext): Step {
  if (rec.kind === 'REBALANCE_RECOMMENDATION' && ctx.policy.spotGuard) return decideSpotGuard(rec, ctx, ctx.policy.spotGuard);
  switch (rec.phase) {
    case 'Pending': {
      const at = actAt(rec, ctx.policy);
      if (ctx.now < at) return { type: 'wait', until: at, reason: `acting ${Math.round((at - ctx.now) / 1000)} s before the event` };
      return { type: 'cordon' };
    }
    case 'Cordoned':
      return wantsDrain(rec, ctx.policy) ? drainOrBackoff(ctx) : { type: 'none' };
    case 'Draining':
      return drainOrBackoff(ctx);
    case 'AwaitingReboot':
      if (ctx.node.bootId && ctx.node.bootId !== rec.bootId) return { type: 'uncordon', reason: 'node rebooted' };
      return { type: 'wait', reason: 'waiting for the reboot' };
    case 'Canceled':
      return { type: 'uncordon', reason: 'event canceled' };
    case 'Drained':
    case 'Done':
    case 'Replacing':
    case 'NoCapacity':
      return { type: 'none' };
  }
}

export function drainOrBackoff(ctx: DecideContext): Step {
  if (ctx.retryAt !== undefined && ctx.now < ctx.retryAt) return { type: 'wait', until: ctx.retryAt, reason: 'drain retry backoff' };
  return { type: 'drain' };
}

/**
 * Cordon-only handling of a reboot event still waits for the reboot to uncordon, as NTH does.
 * Any other cordon-only event stays Cordoned: 'Drained' would claim the pods are gone when they are not.
 */
export function phaseAfterCordon(rec: EventRecord, policy: WorkflowPolicy): Phase {
  if (wantsDrain(rec, policy)) return 'Cordoned';
  return phaseAfterDrain(rec) === 'AwaitingReboot' ? 'AwaitingReboot' : 'Cordoned';
}

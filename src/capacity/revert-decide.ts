import type { ReplacementClaim } from './capacity-ops.js';
import type { RevertRecord } from './revert-record.js';
import { inRevertWindow, type RevertWindow } from './revert-window.js';
import type { Stability } from './stability.js';

export interface RevertPolicy {
  enabled: boolean;
  /** A fallback node must have been Ready this long before it may be replaced (SPOT_GUARD_MINIMUM_WAIT_DURATION). */
  minimumWaitMs: number;
  /** Spot must be healthy this long (SPOT_GUARD_SPOT_STABILITY_DURATION). */
  stabilityMs: number;
  /** How often the revert controller looks (SPOT_GUARD_CHECK_INTERVAL). */
  checkIntervalMs: number;
  /** Reverts in flight per on-demand group, cluster-wide (SPOT_GUARD_REVERT_CONCURRENCY). */
  concurrency: number;
  window: RevertWindow;
  backoffInitialMs: number;
  backoffMaxMs: number;
}

export type RevertStep =
  | { type: 'none'; reason: string }
  | { type: 'wait'; reason: string; until?: number }
  /** Take a revert slot and record the revert (phase Probing). */
  | { type: 'start' }
  | { type: 'request-spot' }
  | { type: 'confirm-request' }
  | { type: 'await-spot' }
  | { type: 'undo-request' }
  /** The probe failed: back off (cluster-wide), release the slot, forget the revert. */
  | { type: 'abandon'; reason: string }
  /** Replacement Ready: protect it from Cluster Autoscaler, taint + cordon this node. */
  | { type: 'cordon' }
  | { type: 'drain' }
  /** Terminate this instance with decrement, unprotect the replacement, release the slot. */
  | { type: 'retire' };

export interface RevertFacts {
  now: number;
  policy: RevertPolicy;
  /** This node's fallback claim (null: not fallback capacity — never reverted). */
  claim: ReplacementClaim | null;
  record: RevertRecord | null;
  /** Eligibility inputs; only needed when no revert is under way. */
  cacheUntil?: number | null;
  backoffUntil?: number | null;
  stability?: Stability;
  /** In-memory: when the last await-spot poll happened; when a failed drain may be retried. */
  lastPollAt?: number;
  drainRetryAt?: number;
  pollIntervalMs: number;
}

/** Pure: the next step of reverting this node to spot, with the reason for any wait. */
export function decideRevert(f: RevertFacts): RevertStep {
  const r = f.record;
  if (!r) {
    if (!f.policy.enabled) return { type: 'none', reason: 'revert to spot is off' };
    if (!f.claim?.fallback) return { type: 'none', reason: 'not fallback capacity' };
    if (!inRevertWindow(f.policy.window, f.now)) return { type: 'wait', reason: 'outside the revert window' };
    const readyAt = Date.parse(f.claim.at);
    // No readable time: we cannot tell how long it has run; leave it alone rather than guess.
    if (!Number.isFinite(readyAt)) return { type: 'none', reason: 'fallback claim has no readable time' };
    const eligibleAt = readyAt + f.policy.minimumWaitMs;
    if (f.now < eligibleAt) return { type: 'wait', until: eligibleAt, reason: `minimum wait: eligible in ${secs(eligibleAt - f.now)} s` };
    if (f.cacheUntil && f.cacheUntil > f.now) return { type: 'wait', until: f.cacheUntil, reason: `spot recently unavailable (capacity cache, ${secs(f.cacheUntil - f.now)} s left)` };
    if (f.backoffUntil && f.backoffUntil > f.now) return { type: 'wait', until: f.backoffUntil, reason: `backing off after a failed spot probe (${secs(f.backoffUntil - f.now)} s left)` };
    if (!f.stability?.stable) return { type: 'wait', reason: f.stability?.reason ?? 'spot stability unknown' };
    return { type: 'start' };
  }
  switch (r.phase) {
    case 'Probing': {
      if (r.replacement) return { type: 'cordon' };
      const last = r.requests.at(-1);
      if (!last) return { type: 'request-spot' };
      if (!last.confirmed) return { type: 'confirm-request' };
      if (last.outcome === 'waiting' || last.outcome === 'ready') {
        const due = (f.lastPollAt ?? 0) + f.pollIntervalMs;
        if (f.now < due) return { type: 'wait', until: due, reason: 'waiting for the spot replacement' };
        return { type: 'await-spot' };
      }
      if (!last.undone) return { type: 'undo-request' };
      return { type: 'abandon', reason: last.reason ?? 'spot probe failed' };
    }
    case 'Cordoned':
    case 'Draining':
      if (f.drainRetryAt !== undefined && f.now < f.drainRetryAt) return { type: 'wait', until: f.drainRetryAt, reason: 'drain retry backoff' };
      return { type: 'drain' };
    case 'Retiring':
      return { type: 'retire' };
    case 'Done':
      return { type: 'none', reason: 'reverted; this node is going away' };
  }
}

const secs = (ms: number) => Math.round(ms / 1000);

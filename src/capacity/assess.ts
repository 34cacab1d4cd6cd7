import { capacityFailuresSince } from './capacity-failures.js';
import type { ActivityView, GroupView } from './types.js';

/** A capacity request as recorded on the at-risk Node. */
export interface CapacityRequest {
  capacityType: 'spot' | 'on-demand';
  group: string;
  requestedAt: number;
  desiredBefore: number;
  desiredAfter: number;
  /** Instance ids in the group when the request was made: anything else is new. */
  baseline: string[];
  /** Epoch ms: a later end of the wait than requestedAt + timeout (a late-filled +1). */
  extendedUntil?: number;
}

/** A Node as the replacement search sees it. */
export interface CandidateNode {
  name: string;
  instanceId: string;
  ready: boolean;
  /** Event id that already claimed this node as its replacement, if any. */
  claimedBy?: string;
  /** When the Node registered (epoch ms): a stand-in for the instance's launch order. */
  createdAt?: number;
}

export type Assessment =
  | { kind: 'ready'; instanceId: string; node: string; alreadyClaimed: boolean }
  | { kind: 'waiting'; detail: string }
  | { kind: 'failed'; reason: string };

const GONE = /^(Terminating|Terminated|Detaching|Detached)/;

export function instanceIdFromProviderId(providerId: string): string | null {
  const m = /^aws:\/\/\/[^/]*\/(i-[0-9a-f]+)$/.exec(providerId);
  return m ? (m[1] ?? null) : null;
}

/**
 * Pure: has *this* request got its replacement? Success is a specific new instance (not in the
 * baseline) that is InService with a Ready Node nobody else has claimed — never a count of the
 * group, which unrelated launches and terminations would fool. Failure is a capacity failure of a
 * launch that started after the request (with no unclaimed new instance still on its way that
 * could be ours), MaxSize, or the deadline.
 */
export function assessReplacement(input: {
  eventId: string;
  request: CapacityRequest;
  group: GroupView | null;
  activities: ActivityView[];
  nodes: CandidateNode[];
  now: number;
  timeoutMs: number;
}): Assessment {
  const { request, group, eventId } = input;
  if (!group) return { kind: 'failed', reason: `Auto Scaling group ${request.group} not found` };

  const byInstance = new Map(input.nodes.map((n) => [n.instanceId, n]));
  // Restarted agent: a node this event already claimed is its replacement, whatever else changed.
  for (const n of input.nodes) if (n.claimedBy === eventId && n.ready) return { kind: 'ready', instanceId: n.instanceId, node: n.name, alreadyClaimed: true };

  const baseline = new Set(request.baseline);
  const fresh = group.instances.filter((i) => !baseline.has(i.instanceId) && !GONE.test(i.lifecycleState));
  const unclaimed = fresh.filter((i) => {
    const n = byInstance.get(i.instanceId);
    return !n?.claimedBy;
  });
  const ready = unclaimed
    .filter((i) => i.lifecycleState === 'InService')
    .map((i) => byInstance.get(i.instanceId))
    .filter((n): n is CandidateNode => Boolean(n?.ready))
    // Oldest first: a later request's baseline already holds the older new instances, so only an
    // earlier request can use them; taking a newer one would strand an older one unclaimed.
    .sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0) || a.name.localeCompare(b.name));
  if (ready[0]) return { kind: 'ready', instanceId: ready[0].instanceId, node: ready[0].name, alreadyClaimed: false };

  const failures = capacityFailuresSince(input.activities, input.request.requestedAt);
  // Still-unclaimed new instances may be ours; with several waiters, each takes one as it turns Ready.
  if (failures.length && unclaimed.length === 0) return { kind: 'failed', reason: `capacity unavailable: ${failures[0]}` };
  const waitEnd = request.extendedUntil ?? request.requestedAt + input.timeoutMs;
  if (input.now >= waitEnd) {
    return {
      kind: 'failed',
      reason: `no Ready replacement within ${Math.round(input.timeoutMs / 1000)} s (${unclaimed.length} new instance(s) still starting)`,
    };
  }
  const starting = unclaimed.map((i) => `${i.instanceId}:${i.lifecycleState}${byInstance.get(i.instanceId) ? '' : '/no-node'}`);
  return { kind: 'waiting', detail: starting.length ? `new instances ${starting.join(', ')}` : 'no new instance yet' };
}

/** Launches the group still owes: desired minus instances that are not on their way out. */
export function outstandingLaunches(group: GroupView): number {
  return group.desiredCapacity - group.instances.filter((i) => !GONE.test(i.lifecycleState)).length;
}

/** New instances (not in the baseline, not on their way out) that no event has claimed. */
export function unclaimedNewInstances(group: GroupView, baseline: string[], claimed: ReadonlySet<string>): string[] {
  const base = new Set(baseline);
  return group.instances
    .filter((i) => !base.has(i.instanceId) && !GONE.test(i.lifecycleState) && !claimed.has(i.instanceId))
    .map((i) => i.instanceId);
}

import { capacityFailureReason } from './capacity-failures.js';
import type { ActivityView, GroupView } from './types.js';

/** What the revert controller saw of the spot group on one check. */
export interface SpotObservation {
  now: number;
  group: GroupView | null;
  /** Recent scaling activities of the spot group. */
  activities: ActivityView[];
  /** Ready state of the Nodes of the group's instances, by instance id (missing = no Node yet). */
  nodeReady: Map<string, boolean>;
  /** Times (epoch ms) of rebalance recommendations / ITNs recorded on the group's nodes. */
  interruptions: number[];
  /** The shared capacity cache's entry for the group: "spot unavailable" recorded at `at`, valid until `until`. */
  unavailable?: { at: number; until: number; reason: string } | null;
}

export interface Stability {
  stable: boolean;
  /** Start of the current quiet period (epoch ms). */
  since: number;
  reason: string;
}

const ACTIVE = /^(InService)$/;

/**
 * Pure: spot counts as healthy only after `windowMs` with no bad signal — a failed spot launch,
 * a rebalance recommendation or ITN in the group, an instance not InService or a Node not Ready,
 * an entry in the capacity cache. Every bad signal restarts the window (the reference
 * implementation's timer never reset, so flapping spot looked stable). `lastBad` carries what
 * earlier checks saw (instances come and go between checks).
 */
export function judgeStability(o: SpotObservation, lastBad: number, windowMs: number): Stability {
  let bad = lastBad;
  // `lastBad` is the agent's start or a bad signal an earlier check saw (which may be gone by now).
  let why = 'last bad signal seen (or agent start)';
  const note = (t: number, reason: string) => {
    if (t >= bad) {
      bad = t;
      why = reason;
    }
  };
  if (!o.group) note(o.now, 'spot group not found');
  for (const i of o.group?.instances ?? []) {
    if (!ACTIVE.test(i.lifecycleState)) note(o.now, `spot instance ${i.instanceId} is ${i.lifecycleState}`);
    else if (o.nodeReady.get(i.instanceId) !== true) note(o.now, `spot instance ${i.instanceId} has no Ready node`);
  }
  if (o.group && o.group.instances.length < o.group.desiredCapacity) note(o.now, 'spot group below its desired capacity');
  for (const a of o.activities) {
    const reason = capacityFailureReason(a);
    // A launch fails when it ends (a spot request can wait a long time before it fails), not when it starts.
    if (reason) note(Math.max(a.startTime, a.endTime ?? a.startTime), `failed spot launch: ${reason.slice(0, 120)}`);
  }
  for (const t of o.interruptions) note(t, 'rebalance recommendation or interruption in the spot group');
  if (o.unavailable) note(o.unavailable.until > o.now ? o.now : o.unavailable.at, `capacity cache: ${o.unavailable.reason.slice(0, 120)}`);
  const quietFor = o.now - bad;
  return {
    stable: quietFor >= windowMs,
    since: bad,
    reason: quietFor >= windowMs ? `spot stable for ${Math.round(quietFor / 1000)} s` : `spot not stable: ${why} ${Math.round(quietFor / 1000)} s ago`,
  };
}

import type { NodeChange, NodeView, Taint } from '../kube/types.js';
import {
  ACTION_UNCORDON_AFTER_REBOOT,
  EXCLUDE_LB_VALUE,
  LABEL_ACTION,
  LABEL_ACTION_TIME,
  LABEL_EVENT_ID,
  LABEL_EXCLUDE_LB,
  NTH_TAINT_KEYS,
  labelValue,
} from './labels.js';
import { REBOOT_CODES } from './notice.js';
import type { WorkflowPolicy } from './policy.js';
import {
  RECORDS_ANNOTATION,
  holdsCordon,
  parseRecords,
  serializeRecords,
  type EventRecord,
  type Phase,
  type Records,
} from './record.js';

/**
 * Pure functions from (fresh node, event) to the one NodeChange that performs a step AND records it,
 * so a crash can never leave an action done but unrecorded (or recorded but not done).
 */

export function recordsOf(node: NodeView): Records {
  return parseRecords(node.annotations).records;
}

function withRecord(node: NodeView, rec: EventRecord, now: number): Record<string, string> {
  const records = { ...recordsOf(node), [rec.id]: { ...rec, updatedAt: new Date(now).toISOString() } };
  return { [RECORDS_ANNOTATION]: serializeRecords(records) };
}

/** Only records the new phase (and fields) of an event. */
export function recordChange(node: NodeView, rec: EventRecord, now: number): NodeChange {
  return { annotations: withRecord(node, rec, now) };
}

/** Writes the whole record set (admission of new notices). */
export function recordsChange(records: Records): NodeChange {
  return { annotations: { [RECORDS_ANNOTATION]: serializeRecords(records) } };
}

function sameTaint(a: Taint, b: Taint): boolean {
  return a.key === b.key && a.effect === b.effect;
}

function isRebootEvent(rec: EventRecord): boolean {
  return rec.kind === 'SCHEDULED_EVENT' && rec.code !== undefined && REBOOT_CODES.has(rec.code);
}

export function taintFor(rec: EventRecord, policy: WorkflowPolicy): Taint | null {
  if (policy.spotGuard) {
    // Spot Guard's decisions (BRIEF §2): its own taint after a replacement, NTH's ITN taint always.
    if (rec.kind === 'REBALANCE_RECOMMENDATION') return policy.spotGuard.taint;
    if (rec.kind === 'SPOT_ITN') return { key: NTH_TAINT_KEYS.SPOT_ITN, value: labelValue(rec.id), effect: 'NoSchedule' };
  }
  if (!policy.taintNode) return null;
  return { key: NTH_TAINT_KEYS[rec.kind], value: labelValue(rec.id), effect: policy.taintEffect };
}

export function cordonChange(node: NodeView, rec: EventRecord, policy: WorkflowPolicy, next: Phase, now: number): NodeChange {
  const change: NodeChange = { unschedulable: true, labels: { [LABEL_EVENT_ID]: labelValue(rec.id) } };
  const taint = taintFor(rec, policy);
  if (taint) change.taints = [...node.taints.filter((t) => !sameTaint(t, taint)), taint];
  if (policy.excludeFromLoadBalancers) change.labels![LABEL_EXCLUDE_LB] = EXCLUDE_LB_VALUE;
  if (isRebootEvent(rec)) {
    change.labels![LABEL_ACTION] = ACTION_UNCORDON_AFTER_REBOOT;
    change.labels![LABEL_ACTION_TIME] = String(Math.floor(now / 1000));
  }
  // Someone (an admin, another tool) had cordoned the node before us: undoing our work must not undo theirs.
  // When another of our events already holds the cordon, the node's state before us is what that event saw;
  // inherit it, or the last of our events to finish would lift the admin's cordon.
  const holders = Object.values(recordsOf(node)).filter((r) => r.id !== rec.id && holdsCordon(r));
  const wasUnschedulable =
    !holdsCordon(rec)
      ? node.unschedulable && (holders.length === 0 || holders.some((r) => r.wasUnschedulable === true))
      : rec.wasUnschedulable;
  change.annotations = withRecord(node, { ...rec, phase: next, ...(wasUnschedulable ? { wasUnschedulable } : {}) }, now);
  return change;
}

/**
 * Undo for a canceled event or after a reboot: remove this event's taint and NTH labels; uncordon
 * and drop the load-balancer exclusion only when no other active event still needs them.
 */
export function uncordonChange(node: NodeView, rec: EventRecord, policy: WorkflowPolicy, now: number): NodeChange {
  const others = Object.values(recordsOf(node)).filter((r) => r.id !== rec.id && holdsCordon(r));
  const change: NodeChange = { labels: {} };
  const key = NTH_TAINT_KEYS[rec.kind];
  const remaining = node.taints.filter((t) => !(t.key === key && t.value === labelValue(rec.id)));
  if (remaining.length !== node.taints.length) change.taints = remaining;
  if (node.labels[LABEL_EVENT_ID] === labelValue(rec.id)) change.labels![LABEL_EVENT_ID] = null;
  // The UncordonAfterReboot labels stay while another reboot event still holds the node.
  if (rec.kind === 'SCHEDULED_EVENT' && !others.some(isRebootEvent)) {
    if (node.labels[LABEL_ACTION] !== undefined) change.labels![LABEL_ACTION] = null;
    if (node.labels[LABEL_ACTION_TIME] !== undefined) change.labels![LABEL_ACTION_TIME] = null;
  }
  if (others.length === 0) {
    if (!rec.wasUnschedulable && node.unschedulable) change.unschedulable = false;
    if (policy.excludeFromLoadBalancers && node.labels[LABEL_EXCLUDE_LB] === EXCLUDE_LB_VALUE) change.labels![LABEL_EXCLUDE_LB] = null;
  }
  change.annotations = withRecord(node, { ...rec, phase: 'Done' }, now);
  return change;
}

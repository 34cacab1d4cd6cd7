import type { NodeView } from '../../src/kube/types.js';
import type { EventKind, InterruptionNotice } from '../../src/workflow/notice.js';
import type { WorkflowPolicy } from '../../src/workflow/policy.js';
import { newRecord, RECORDS_ANNOTATION, serializeRecords, type EventRecord, type Phase, type Records } from '../../src/workflow/record.js';

export const T0 = Date.parse('2025-01-01T00:00:00Z');
export const SEC = 1_000;
export const DAY = 24 * 3600 * SEC;

export function policy(over: Partial<WorkflowPolicy> = {}): WorkflowPolicy {
  return {
    cordonOnly: false,
    taintNode: false,
    taintEffect: 'NoSchedule',
    excludeFromLoadBalancers: false,
    rebalanceDrain: false,
    nodeTerminationGracePeriodMs: 120 * SEC,
    ...over,
  };
}

export function record(
  id: string,
  kind: EventKind,
  over: Partial<Omit<EventRecord, 'id' | 'kind'>> & { phase?: Phase } = {},
  at: { startTime?: number; now?: number; bootId?: string } = {},
): EventRecord {
  const base = newRecord(id, kind, {
    startTime: at.startTime ?? T0 + 120 * SEC,
    now: at.now ?? T0,
    bootId: at.bootId ?? 'boot-1',
    description: `${kind} ${id}`,
  });
  return { ...base, ...over };
}

export function notice(id: string, kind: EventKind, startTime: number, scheduled?: InterruptionNotice['scheduled']): InterruptionNotice {
  return { id, kind, monitor: `${kind}_MONITOR`, startTime, description: `${kind} ${id}`, ...(scheduled ? { scheduled } : {}) };
}

export function node(over: Partial<NodeView> = {}, records?: Records): NodeView {
  const n: NodeView = {
    name: 'node-a',
    uid: 'uid-a',
    resourceVersion: '1',
    unschedulable: false,
    taints: [],
    labels: {},
    annotations: {},
    bootId: 'boot-1',
    providerId: 'aws:///us-east-1a/i-0123',
    ready: true,
    ...over,
  };
  if (records) n.annotations = { ...n.annotations, [RECORDS_ANNOTATION]: serializeRecords(records) };
  return n;
}

export function recordsMap(...recs: EventRecord[]): Records {
  return Object.fromEntries(recs.map((r) => [r.id, r]));
}

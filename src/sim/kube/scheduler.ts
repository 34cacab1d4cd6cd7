/**
 * The simulated kube-scheduler: binds Pending, unbound pods to a Ready node that is schedulable,
 * whose NoSchedule/NoExecute taints the pod tolerates, whose labels satisfy the pod's nodeSelector,
 * and whose allocatable cpu/memory/pods still fit the pod. Among fitting nodes, the least loaded wins.
 * Pods that fit nowhere get PodScheduled=False/Unschedulable and are retried on the next change.
 *
 * A node without an allocatable entry for a resource is treated as unlimited in it, so scenarios
 * that do not care about capacity need not model it.
 */
import type { ObjectStore } from './store.js';
import type { ResourceDef } from './resources.js';
import { findResource } from './resources.js';
import { hasCondition, isTerminal, isTerminating, phaseOf, podRequests, setCondition, type Requests } from './pod-state.js';
import { quantityOrZero } from './quantity.js';
import type { Node, Pod, Taint, Toleration } from './types.js';

const PODS = findResource('', 'v1', 'pods') as ResourceDef;
const NODES = findResource('', 'v1', 'nodes') as ResourceDef;

export const UNSCHEDULABLE_TAINT: Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

export function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  const op = toleration.operator ?? 'Equal';
  if (!toleration.key) return op === 'Exists'; // empty key + Exists tolerates everything
  if (toleration.key !== taint.key) return false;
  if (op === 'Exists') return true;
  return (toleration.value ?? '') === (taint.value ?? '');
}

export function toleratesAll(tolerations: Toleration[] | undefined, taints: Taint[]): boolean {
  return taints.every((t) => (tolerations ?? []).some((tol) => tolerates(tol, t)));
}

interface NodeLoad {
  node: Node;
  capacity: { cpu: number; memory: number; pods: number };
  used: Requests & { pods: number };
}

function allocatable(node: Node, key: string): number {
  const v = node.status?.allocatable?.[key];
  return v === undefined ? Infinity : quantityOrZero(v);
}

type Rejection = 'NotReady' | 'Unschedulable' | 'Taint' | 'NodeSelector' | 'Insufficient cpu' | 'Insufficient memory' | 'Too many pods';

const REJECTION_TEXT: Record<Rejection, string> = {
  NotReady: "node(s) had untolerated taint {node.kubernetes.io/not-ready: }",
  Unschedulable: 'node(s) were unschedulable',
  Taint: 'node(s) had untolerated taint(s)',
  NodeSelector: "node(s) didn't match Pod's node affinity/selector",
  'Insufficient cpu': 'Insufficient cpu',
  'Insufficient memory': 'Insufficient memory',
  'Too many pods': 'Too many pods',
};

function rejection(pod: Pod, req: Requests, load: NodeLoad): Rejection | undefined {
  const node = load.node;
  if (!hasCondition(node.status?.conditions, 'Ready')) return 'NotReady';
  const blocking = (node.spec?.taints ?? []).filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
  // Like the NodeUnschedulable plugin: a cordoned node is one with an implicit taint, so pods that
  // tolerate it (DaemonSet pods) still land there.
  if (node.spec?.unschedulable && !toleratesAll(pod.spec.tolerations, [UNSCHEDULABLE_TAINT])) return 'Unschedulable';
  if (!toleratesAll(pod.spec.tolerations, blocking)) return 'Taint';
  for (const [k, v] of Object.entries(pod.spec.nodeSelector ?? {})) {
    if (node.metadata.labels?.[k] !== v) return 'NodeSelector';
  }
  if (load.used.cpu + req.cpu > load.capacity.cpu + 1e-9) return 'Insufficient cpu';
  if (load.used.memory + req.memory > load.capacity.memory) return 'Insufficient memory';
  if (load.used.pods + 1 > load.capacity.pods) return 'Too many pods';
  return undefined;
}

/** Fraction of the node in use after placing `req`; unlimited dimensions do not count. */
function loadAfter(load: NodeLoad, req: Requests): number {
  const fractions: number[] = [];
  if (Number.isFinite(load.capacity.cpu) && load.capacity.cpu > 0) fractions.push((load.used.cpu + req.cpu) / load.capacity.cpu);
  if (Number.isFinite(load.capacity.memory) && load.capacity.memory > 0) fractions.push((load.used.memory + req.memory) / load.capacity.memory);
  if (fractions.length === 0) return Number.isFinite(load.capacity.pods) ? (load.used.pods + 1) / load.capacity.pods : load.used.pods;
  return fractions.reduce((a, b) => a + b, 0) / fractions.length;
}

export function needsScheduling(pod: Pod): boolean {
  return !pod.spec?.nodeName && !isTerminating(pod) && phaseOf(pod) === 'Pending';
}

export class Scheduler {
  constructor(private readonly store: ObjectStore) {}

  /** One scheduling pass over all unbound pods, oldest first. */
  schedulePending(): void {
    const pending = (this.store.list(PODS) as Pod[]).filter(needsScheduling);
    if (pending.length === 0) return;
    pending.sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
    const loads = this.nodeLoads();
    const now = this.store.now();
    for (const pod of pending) {
      const req = podRequests(pod);
      const reasons = new Map<Rejection, number>();
      let best: NodeLoad | undefined;
      let bestScore = Infinity;
      for (const load of loads) {
        const why = rejection(pod, req, load);
        if (why) {
          reasons.set(why, (reasons.get(why) ?? 0) + 1);
          continue;
        }
        const score = loadAfter(load, req);
        if (score < bestScore || (score === bestScore && best && load.used.pods < best.used.pods)) {
          best = load;
          bestScore = score;
        }
      }
      if (best) {
        best.used.cpu += req.cpu;
        best.used.memory += req.memory;
        best.used.pods += 1;
        const nodeName = best.node.metadata.name;
        this.store.mutate(PODS, pod.metadata.namespace, pod.metadata.name, (draft) => {
          const p = draft as Pod;
          p.spec = { ...p.spec, nodeName };
          p.status = {
            ...(p.status ?? {}),
            phase: 'Pending',
            conditions: setCondition(p.status?.conditions, { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now }),
          };
        });
      } else {
        this.markUnschedulable(pod, loads.length, reasons, now);
      }
    }
  }

  private markUnschedulable(pod: Pod, nodeCount: number, reasons: Map<Rejection, number>, now: string): void {
    const parts = [...reasons.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([r, n]) => `${n} ${REJECTION_TEXT[r]}`);
    const message = `0/${nodeCount} nodes are available${parts.length ? ': ' + parts.join(', ') : ''}.`;
    const prev = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (prev && prev.status === 'False' && prev.reason === 'Unschedulable' && prev.message === message) return;
    this.store.mutate(PODS, pod.metadata.namespace, pod.metadata.name, (draft) => {
      const p = draft as Pod;
      p.status = {
        ...(p.status ?? {}),
        phase: 'Pending',
        conditions: setCondition(p.status?.conditions, {
          type: 'PodScheduled',
          status: 'False',
          reason: 'Unschedulable',
          message,
          lastProbeTime: null,
          lastTransitionTime: now,
        }),
      };
    });
  }

  private nodeLoads(): NodeLoad[] {
    const byName = new Map<string, NodeLoad>();
    for (const node of this.store.list(NODES) as Node[]) {
      byName.set(node.metadata.name, {
        node,
        capacity: { cpu: allocatable(node, 'cpu'), memory: allocatable(node, 'memory'), pods: allocatable(node, 'pods') },
        used: { cpu: 0, memory: 0, pods: 0 },
      });
    }
    for (const pod of this.store.list(PODS) as Pod[]) {
      const load = pod.spec?.nodeName ? byName.get(pod.spec.nodeName) : undefined;
      if (!load || isTerminal(pod)) continue;
      const r = podRequests(pod);
      load.used.cpu += r.cpu;
      load.used.memory += r.memory;
      load.used.pods += 1;
    }
    return [...byName.values()];
  }
}

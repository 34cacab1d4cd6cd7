/** Small predicates over pods shared by the scheduler, the kubelet, the RS controller and eviction. */
import { quantityOrZero } from './quantity.js';
import type { Condition, KubeObject, OwnerReference, Pod } from './types.js';

export const ANNOTATION_SHUTDOWN_SECONDS = 'sim.spot-guard.io/shutdown-seconds';
export const ANNOTATION_START_SECONDS = 'sim.spot-guard.io/start-seconds';
export const ANNOTATION_MIRROR = 'kubernetes.io/config.mirror';

export function isTerminating(obj: KubeObject): boolean {
  return Boolean(obj.metadata?.deletionTimestamp);
}

export function phaseOf(pod: Pod): string {
  return pod.status?.phase ?? 'Pending';
}

export function isTerminal(pod: Pod): boolean {
  const p = phaseOf(pod);
  return p === 'Succeeded' || p === 'Failed';
}

export function hasCondition(conditions: Condition[] | undefined, type: string, status = 'True'): boolean {
  return (conditions ?? []).some((c) => c.type === type && c.status === status);
}

/** Counts toward a disruption budget: running, ready and not on its way out. */
export function isHealthy(pod: Pod): boolean {
  return phaseOf(pod) === 'Running' && hasCondition(pod.status?.conditions, 'Ready') && !isTerminating(pod);
}

export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((o) => o.controller === true);
}

export interface Requests {
  cpu: number;
  memory: number;
}

/** Effective requests as the scheduler sees them: sum of containers, or the largest init container if bigger. */
export function podRequests(pod: Pod): Requests {
  const sum: Requests = { cpu: 0, memory: 0 };
  for (const c of pod.spec.containers ?? []) {
    sum.cpu += quantityOrZero(c.resources?.requests?.cpu);
    sum.memory += quantityOrZero(c.resources?.requests?.memory);
  }
  for (const c of pod.spec.initContainers ?? []) {
    sum.cpu = Math.max(sum.cpu, quantityOrZero(c.resources?.requests?.cpu));
    sum.memory = Math.max(sum.memory, quantityOrZero(c.resources?.requests?.memory));
  }
  return sum;
}

/** Seconds from an annotation, or the fallback when absent or not a number ≥ 0. */
export function annotationSeconds(obj: KubeObject, key: string, fallback: number): number {
  const raw = obj.metadata?.annotations?.[key];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** Replaces (or adds) a condition by type, keeping lastTransitionTime when the status is unchanged. */
export function setCondition(conditions: Condition[] | undefined, next: Condition): Condition[] {
  const list = [...(conditions ?? [])];
  const idx = list.findIndex((c) => c.type === next.type);
  const prev = idx >= 0 ? list[idx] : undefined;
  const merged: Condition = { ...next };
  if (prev && prev.status === next.status && prev.lastTransitionTime) merged.lastTransitionTime = prev.lastTransitionTime;
  if (idx >= 0) list[idx] = merged;
  else list.push(merged);
  return list;
}

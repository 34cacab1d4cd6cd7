/**
 * PodDisruptionBudget arithmetic, used both to decide evictions (synchronously, from live pod
 * state, so concurrent evictions can never overshoot a budget) and to keep `.status` current.
 */
import type { ObjectStore } from './store.js';
import type { ResourceDef } from './resources.js';
import { findResource } from './resources.js';
import { labelSelectorMatcher } from './selectors.js';
import { controllerOf, isHealthy } from './pod-state.js';
import type { Pod, PodDisruptionBudget, ReplicaSet } from './types.js';

export const PODS = findResource('', 'v1', 'pods') as ResourceDef;
export const PDBS = findResource('policy', 'v1', 'poddisruptionbudgets') as ResourceDef;
export const REPLICASETS = findResource('apps', 'v1', 'replicasets') as ResourceDef;

export interface BudgetState {
  expectedPods: number;
  currentHealthy: number;
  desiredHealthy: number;
  disruptionsAllowed: number;
}

export function podsOfBudget(store: ObjectStore, pdb: PodDisruptionBudget): Pod[] {
  const matches = labelSelectorMatcher(pdb.spec.selector);
  return (store.list(PODS, pdb.metadata.namespace) as Pod[]).filter((p) => matches(p.metadata.labels));
}

export function budgetsForPod(store: ObjectStore, pod: Pod): PodDisruptionBudget[] {
  return (store.list(PDBS, pod.metadata.namespace) as PodDisruptionBudget[]).filter((pdb) =>
    labelSelectorMatcher(pdb.spec.selector)(pod.metadata.labels),
  );
}

/** Integer or percentage of `total`, rounding up as the disruption controller does. */
function scaled(value: number | string, total: number): number {
  if (typeof value === 'number') return value;
  const m = /^(\d+)%$/.exec(value.trim());
  if (m) return Math.ceil((Number(m[1]) * total) / 100);
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

/**
 * Expected pods: for pods controlled by a simulated ReplicaSet, its desired replicas (so a pod
 * that is gone but not yet replaced still counts as missing); for any other pod, the matching
 * pods themselves, terminating ones included.
 */
function expectedCount(store: ObjectStore, pods: Pod[]): number {
  let expected = 0;
  const counted = new Set<string>();
  for (const pod of pods) {
    const owner = controllerOf(pod);
    if (owner?.kind === 'ReplicaSet') {
      if (counted.has(owner.uid)) continue;
      const rs = store.get(REPLICASETS, pod.metadata.namespace, owner.name) as ReplicaSet | undefined;
      if (rs && rs.metadata.uid === owner.uid) {
        counted.add(owner.uid);
        expected += rs.spec.replicas ?? 1;
        continue;
      }
    }
    expected++;
  }
  return expected;
}

export function evaluateBudget(store: ObjectStore, pdb: PodDisruptionBudget): BudgetState {
  const pods = podsOfBudget(store, pdb);
  const expectedPods = expectedCount(store, pods);
  const currentHealthy = pods.filter(isHealthy).length;
  let desiredHealthy: number;
  if (pdb.spec.maxUnavailable !== undefined && pdb.spec.maxUnavailable !== null) {
    desiredHealthy = Math.max(0, expectedPods - scaled(pdb.spec.maxUnavailable, expectedPods));
  } else if (pdb.spec.minAvailable !== undefined && pdb.spec.minAvailable !== null) {
    desiredHealthy = scaled(pdb.spec.minAvailable, expectedPods);
  } else {
    // policy/v1 defaults minAvailable to 1.
    desiredHealthy = 1;
  }
  const disruptionsAllowed = Math.max(0, currentHealthy - desiredHealthy);
  return { expectedPods, currentHealthy, desiredHealthy, disruptionsAllowed };
}

/** The status the disruption controller would write for the budget now. */
export function budgetStatus(store: ObjectStore, pdb: PodDisruptionBudget, now: string): Record<string, unknown> {
  const s = evaluateBudget(store, pdb);
  const prevConditions = (pdb.status?.conditions as { status?: string; lastTransitionTime?: string }[] | undefined) ?? [];
  const allowed = s.disruptionsAllowed > 0;
  const status = allowed ? 'True' : 'False';
  const prev = prevConditions.find((c) => (c as { type?: string }).type === 'DisruptionAllowed');
  return {
    observedGeneration: pdb.metadata.generation ?? 1,
    disruptionsAllowed: s.disruptionsAllowed,
    currentHealthy: s.currentHealthy,
    desiredHealthy: s.desiredHealthy,
    expectedPods: s.expectedPods,
    conditions: [
      {
        type: 'DisruptionAllowed',
        status,
        reason: allowed ? 'SufficientPods' : 'InsufficientPods',
        message: '',
        observedGeneration: pdb.metadata.generation ?? 1,
        lastTransitionTime: prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : now,
      },
    ],
  };
}

/** Keeps every budget's status in line with the pods it covers. */
export function reconcileBudgetStatuses(store: ObjectStore): void {
  const now = store.now();
  for (const pdb of store.list(PDBS) as PodDisruptionBudget[]) {
    const next = budgetStatus(store, pdb, now);
    if (JSON.stringify(next) === JSON.stringify(pdb.status)) continue;
    store.mutate(PDBS, pdb.metadata.namespace, pdb.metadata.name, (draft) => {
      draft.status = next;
    });
  }
}


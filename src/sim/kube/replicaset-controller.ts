/**
 * The simulated ReplicaSet controller: keeps `spec.replicas` non-terminating pods per ReplicaSet
 * (creating Pending, unbound pods from the template, or deleting surplus), keeps `.status` current,
 * and garbage-collects the pods of a deleted ReplicaSet.
 */
import type { ObjectStore } from './store.js';
import type { ResourceDef } from './resources.js';
import { findResource } from './resources.js';
import { deleteObject } from './deletion.js';
import { controllerOf, hasCondition, isTerminal, isTerminating, phaseOf } from './pod-state.js';
import { labelSelectorMatcher } from './selectors.js';
import type { Pod, ReplicaSet } from './types.js';

const PODS = findResource('', 'v1', 'pods') as ResourceDef;
const REPLICASETS = findResource('apps', 'v1', 'replicasets') as ResourceDef;

/** Lower is deleted first when scaling down: unbound, then pending, then unready, then newest. */
function deletionRank(pod: Pod): number {
  if (!pod.spec.nodeName) return 0;
  if (phaseOf(pod) === 'Pending') return 1;
  if (!hasCondition(pod.status?.conditions, 'Ready')) return 2;
  return 3;
}

export class ReplicaSetController {
  constructor(private readonly store: ObjectStore) {}

  reconcileAll(): void {
    const pods = this.store.list(PODS) as Pod[];
    const byOwner = new Map<string, Pod[]>();
    for (const pod of pods) {
      const owner = controllerOf(pod);
      if (owner?.kind !== 'ReplicaSet') continue;
      const list = byOwner.get(owner.uid) ?? [];
      list.push(pod);
      byOwner.set(owner.uid, list);
    }
    const live = new Set<string>();
    for (const rs of this.store.list(REPLICASETS) as ReplicaSet[]) {
      live.add(rs.metadata.uid);
      this.reconcile(rs, byOwner.get(rs.metadata.uid) ?? []);
    }
    // Background cascading deletion of pods whose ReplicaSet is gone.
    for (const [uid, owned] of byOwner) {
      if (live.has(uid)) continue;
      for (const pod of owned) {
        if (!isTerminating(pod)) deleteObject(this.store, PODS, pod.metadata.namespace, pod.metadata.name);
      }
    }
  }

  private reconcile(rs: ReplicaSet, owned: Pod[]): void {
    if (isTerminating(rs)) return;
    const desired = rs.spec.replicas ?? 1;
    const active = owned.filter((p) => !isTerminating(p) && !isTerminal(p));
    if (active.length < desired) {
      for (let i = active.length; i < desired; i++) active.push(this.createPod(rs));
    } else if (active.length > desired) {
      const surplus = [...active]
        .sort((a, b) => deletionRank(a) - deletionRank(b) || Number(b.metadata.resourceVersion) - Number(a.metadata.resourceVersion))
        .slice(0, active.length - desired);
      for (const pod of surplus) deleteObject(this.store, PODS, pod.metadata.namespace, pod.metadata.name);
    }
    this.updateStatus(rs);
  }

  private createPod(rs: ReplicaSet): Pod {
    const template = rs.spec.template ?? {};
    const tmeta = template.metadata ?? {};
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: `${rs.metadata.name}-`,
        namespace: rs.metadata.namespace,
        labels: { ...(tmeta.labels ?? {}) },
        ...(tmeta.annotations ? { annotations: { ...tmeta.annotations } } : {}),
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata.name, uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true },
        ],
      },
      spec: structuredClone(template.spec ?? { containers: [] }),
      status: { phase: 'Pending' },
    };
    return this.store.create(PODS, pod, rs.metadata.namespace) as Pod;
  }

  private updateStatus(rs: ReplicaSet): void {
    const current = this.store.get(REPLICASETS, rs.metadata.namespace, rs.metadata.name) as ReplicaSet | undefined;
    if (!current || current.metadata.uid !== rs.metadata.uid) return;
    const owned = (this.store.list(PODS, rs.metadata.namespace) as Pod[]).filter(
      (p) => controllerOf(p)?.uid === rs.metadata.uid && !isTerminating(p) && !isTerminal(p),
    );
    const matches = labelSelectorMatcher(current.spec.selector);
    const ready = owned.filter((p) => phaseOf(p) === 'Running' && hasCondition(p.status?.conditions, 'Ready')).length;
    const next = {
      replicas: owned.length,
      fullyLabeledReplicas: owned.filter((p) => matches(p.metadata.labels)).length,
      readyReplicas: ready,
      availableReplicas: ready,
      observedGeneration: current.metadata.generation ?? 1,
    };
    if (JSON.stringify(next) === JSON.stringify(current.status)) return;
    this.store.mutate(REPLICASETS, rs.metadata.namespace, rs.metadata.name, (draft) => {
      draft.status = next;
    });
  }
}

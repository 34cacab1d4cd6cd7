/**
 * DELETE semantics shared by the HTTP API, evictions, the controllers and in-process helpers.
 * Pods are deleted gracefully (deletionTimestamp now, removal later by the simulated kubelet);
 * everything else goes at once.
 */
import type { ObjectStore } from './store.js';
import type { ResourceDef } from './resources.js';
import { RESOURCES } from './resources.js';
import { ApiError } from './status.js';
import type { Pod, StoredObject } from './types.js';
import { isTerminal, isTerminating } from './pod-state.js';

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: string;
}

export interface DeleteResult {
  object: StoredObject;
  /** True when the object is gone; false when it is terminating. */
  removed: boolean;
}

const DEFAULT_GRACE_SECONDS = 30;

function checkPreconditions(def: ResourceDef, obj: StoredObject, pre: DeleteOptions['preconditions']): void {
  if (!pre) return;
  if (pre.uid && pre.uid !== obj.metadata.uid) {
    throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`, {
      name: obj.metadata.name,
      group: def.group,
      kind: def.plural,
    });
  }
  if (pre.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion) {
    throw new ApiError(
      409,
      'Conflict',
      `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`,
      { name: obj.metadata.name, group: def.group, kind: def.plural },
    );
  }
}

export function gracePeriodFor(pod: Pod, requested: number | undefined): number {
  if (requested !== undefined && Number.isFinite(requested) && requested >= 0) return Math.floor(requested);
  const own = pod.spec?.terminationGracePeriodSeconds;
  if (typeof own === 'number' && own >= 0) return own;
  return DEFAULT_GRACE_SECONDS;
}

export function deleteObject(
  store: ObjectStore,
  def: ResourceDef,
  namespace: string | undefined,
  name: string,
  opts: DeleteOptions = {},
): DeleteResult {
  const current = store.mustGet(def, namespace, name);
  checkPreconditions(def, current, opts.preconditions);
  if (def.plural === 'pods' && def.group === '') return deletePod(store, def, current as Pod, opts);
  if (def.plural === 'namespaces' && def.group === '') {
    // No namespace controller: the contents go with the namespace, at once.
    for (const r of RESOURCES) {
      if (!r.namespaced) continue;
      for (const o of store.list(r, name)) store.remove(r, name, o.metadata.name);
    }
  }
  return { object: store.remove(def, namespace, name), removed: true };
}

function deletePod(store: ObjectStore, def: ResourceDef, pod: Pod, opts: DeleteOptions): DeleteResult {
  const grace = gracePeriodFor(pod, opts.gracePeriodSeconds);
  const ns = pod.metadata.namespace;
  const name = pod.metadata.name;
  // As the real registry does: pods no kubelet runs (unscheduled or finished) need no grace.
  if (grace === 0 || !pod.spec?.nodeName || isTerminal(pod)) {
    return { object: store.remove(def, ns, name), removed: true };
  }
  if (isTerminating(pod)) {
    const existing = pod.metadata.deletionGracePeriodSeconds ?? Infinity;
    if (grace >= existing) return { object: pod, removed: false };
  }
  const deadline = store.now();
  const updated = store.mutate(def, ns, name, (draft) => {
    draft.metadata.deletionTimestamp = new Date(Date.parse(deadline) + grace * 1000).toISOString().replace('.000Z', 'Z');
    draft.metadata.deletionGracePeriodSeconds = grace;
  });
  return { object: updated, removed: false };
}

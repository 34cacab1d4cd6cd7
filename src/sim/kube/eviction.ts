/**
 * The pods/eviction subresource: a delete that respects PodDisruptionBudgets. The decision and the
 * delete happen in one synchronous step, so any number of concurrent evictions see each other's
 * effect and can never take a budget below its floor.
 */
import type { ObjectStore } from './store.js';
import { deleteObject, type DeleteOptions } from './deletion.js';
import { budgetsForPod, evaluateBudget, PODS } from './disruption.js';
import { ApiError, notFound } from './status.js';
import { hasCondition, isTerminating, phaseOf } from './pod-state.js';
import type { Pod } from './types.js';

export interface EvictionBody {
  metadata?: { name?: string; namespace?: string };
  deleteOptions?: DeleteOptions;
}

export type EvictionOutcome = 'evicted' | 'already-terminating';

export function evictPod(store: ObjectStore, namespace: string, name: string, body: EvictionBody = {}, dryRun = false): EvictionOutcome {
  if (body.metadata?.name && body.metadata.name !== name) {
    throw new ApiError(400, 'BadRequest', `name in URL does not match name in Eviction object`);
  }
  const pod = store.get(PODS, namespace, name) as Pod | undefined;
  if (!pod) throw notFound('', 'pods', name);
  // The real API answers 200 for a pod already on its way out, without touching it.
  if (isTerminating(pod)) return 'already-terminating';

  const phase = phaseOf(pod);
  // A pod that is not running cannot reduce availability, so budgets do not protect it.
  const budgetsApply = phase === 'Running';
  if (budgetsApply) {
    const budgets = budgetsForPod(store, pod);
    if (budgets.length > 1) {
      throw new ApiError(500, 'InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
    }
    const pdb = budgets[0];
    if (pdb) {
      const s = evaluateBudget(store, pdb);
      // Default unhealthyPodEvictionPolicy (IfHealthyBudget): an unready pod may go while the budget is met.
      const ready = hasCondition(pod.status?.conditions, 'Ready');
      const allowed = ready ? s.disruptionsAllowed >= 1 : s.currentHealthy >= s.desiredHealthy;
      if (!allowed) {
        throw new ApiError(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
          causes: [
            {
              reason: 'DisruptionBudget',
              message: `The disruption budget ${pdb.metadata.name} needs ${s.desiredHealthy} healthy pods and has ${s.currentHealthy} currently`,
            },
          ],
        });
      }
    }
  }
  if (!dryRun) deleteObject(store, PODS, namespace, name, body.deleteOptions ?? {});
  return 'evicted';
}

import type { Clock, Deadline } from '../shared/clock.js';
import { backoffDelay } from '../shared/backoff.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../observability/logger.js';
import type { PodPort, PodView } from './types.js';

export interface DrainOptions {
  nodeName: string;
  /** IGNORE_DAEMON_SETS: skip DaemonSet pods; when false their presence fails the drain (kubectl). */
  ignoreDaemonSets: boolean;
  /** DELETE_LOCAL_DATA: evict pods with emptyDir; when false their presence fails the drain (kubectl). */
  deleteLocalData: boolean;
  /** POD_TERMINATION_GRACE_PERIOD: -1 keeps each pod's own terminationGracePeriodSeconds. */
  podGracePeriodSeconds: number;
  /** The agent's own pod is never evicted. */
  selfPod?: { namespace: string; name: string };
  /** The whole drain, evictions and waiting, ends here (NODE_TERMINATION_GRACE_PERIOD). */
  deadline: Deadline;
  clock: Clock;
  logger: Logger;
  signal?: AbortSignal;
  /** kubectl retries a budget-blocked eviction every 5 s. */
  evictionRetryMs?: number;
  /** How often to check whether evicted pods are gone. */
  pollMs?: number;
  /** At most this many evictions in flight, so 110 pods do not open 110 sockets at once. */
  concurrency?: number;
  onEvicted?: (pod: PodView) => void;
  onBlocked?: (pod: PodView) => void;
}

export interface DrainPlan {
  evict: PodView[];
  skipped: { pod: PodView; reason: string }[];
  /** Pods that make kubectl refuse the drain (DaemonSet pods without IGNORE_DAEMON_SETS, emptyDir without DELETE_LOCAL_DATA). */
  refusals: string[];
}

export interface DrainResult {
  complete: boolean;
  evicted: number;
  skipped: number;
  /** Pods still on the node when the drain ended (empty when complete). */
  remaining: string[];
  blockedByBudget: number;
  refusals: string[];
}

const podKey = (p: PodView) => `${p.namespace}/${p.name}`;

/** Pure: which pods a kubectl-style drain evicts, skips or refuses. */
export function planDrain(pods: PodView[], opts: Pick<DrainOptions, 'ignoreDaemonSets' | 'deleteLocalData' | 'selfPod'>): DrainPlan {
  const plan: DrainPlan = { evict: [], skipped: [], refusals: [] };
  for (const pod of pods) {
    if (opts.selfPod && pod.namespace === opts.selfPod.namespace && pod.name === opts.selfPod.name) {
      plan.skipped.push({ pod, reason: 'the agent itself' });
    } else if (pod.isMirror) {
      plan.skipped.push({ pod, reason: 'mirror (static) pod' });
    } else if (pod.ownerKinds.includes('DaemonSet')) {
      if (opts.ignoreDaemonSets) plan.skipped.push({ pod, reason: 'DaemonSet-managed' });
      else plan.refusals.push(`${podKey(pod)} is managed by a DaemonSet (set IGNORE_DAEMON_SETS=true to skip it)`);
    } else if (pod.hasEmptyDir && !opts.deleteLocalData) {
      plan.refusals.push(`${podKey(pod)} uses emptyDir local storage (set DELETE_LOCAL_DATA=true to evict it)`);
    } else {
      plan.evict.push(pod);
    }
  }
  return plan;
}

/**
 * Drains a node the way `kubectl drain` does: every eligible pod evicted concurrently through the
 * Eviction API, a 429 from a disruption budget retried until the deadline, then wait until the
 * evicted pods are gone. Safe to repeat: pods already gone count as done.
 */
export async function drainNode(pods: PodPort, opts: DrainOptions): Promise<DrainResult> {
  const { logger, deadline } = opts;
  const retryMs = opts.evictionRetryMs ?? 5_000;
  const pollMs = opts.pollMs ?? 1_000;
  const current = await pods.listPodsOnNode(opts.nodeName);
  const plan = planDrain(current, opts);
  const result: DrainResult = {
    complete: false,
    evicted: 0,
    skipped: plan.skipped.length,
    remaining: [],
    blockedByBudget: 0,
    refusals: plan.refusals,
  };
  if (plan.refusals.length) {
    result.remaining = plan.evict.map(podKey);
    return result;
  }
  for (const s of plan.skipped) logger.debug({ pod: podKey(s.pod), reason: s.reason }, 'drain skips pod');

  const evictOne = async (pod: PodView): Promise<void> => {
    for (let attempt = 0; !deadline.expired(); attempt++) {
      opts.signal?.throwIfAborted();
      try {
        const outcome = await pods.evictPod(
          pod.namespace,
          pod.name,
          opts.podGracePeriodSeconds >= 0 ? opts.podGracePeriodSeconds : undefined,
        );
        if (outcome !== 'blocked') {
          result.evicted++;
          opts.onEvicted?.(pod);
          return;
        }
        result.blockedByBudget++;
        opts.onBlocked?.(pod);
        logger.info({ pod: podKey(pod) }, 'eviction blocked by a disruption budget; retrying');
        await deadline.sleep(retryMs, opts.signal);
      } catch (err) {
        if (err instanceof Error && err.name === 'AbortError') throw err;
        logger.warn({ pod: podKey(pod), err: errorMessage(err), attempt }, 'eviction failed; retrying');
        await deadline.sleep(backoffDelay(attempt, { baseMs: 500, maxMs: retryMs, jitter: 0.5 }), opts.signal);
      }
    }
  };

  await runLimited(plan.evict, opts.concurrency ?? 32, evictOne);

  // Completion means the pods are gone, not merely that evictions were accepted.
  const waitingFor = new Set(plan.evict.map((p) => p.uid));
  for (;;) {
    const left = (await pods.listPodsOnNode(opts.nodeName)).filter((p) => waitingFor.has(p.uid));
    result.remaining = left.map(podKey);
    if (left.length === 0) {
      result.complete = true;
      return result;
    }
    if (deadline.expired()) return result;
    await deadline.sleep(pollMs, opts.signal);
  }
}

async function runLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}


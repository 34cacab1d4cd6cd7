/**
 * The simulated kubelets (one for the whole cluster): a pod bound to a node starts after its start
 * delay and becomes Running and Ready; a terminating pod disappears after min(grace period, its
 * shutdown time). Also the pod garbage collector: pods bound to a node that no longer exists go.
 *
 * Timing comes from annotations so scenarios can model slow starters and slow shutdowns:
 * `sim.spot-guard.io/start-seconds` (default 1) and `sim.spot-guard.io/shutdown-seconds` (default 1).
 */
import type { Clock } from '../../shared/clock.js';
import type { ObjectStore, StoreEvent } from './store.js';
import type { ResourceDef } from './resources.js';
import { findResource } from './resources.js';
import type { SimTimers } from './timers.js';
import {
  ANNOTATION_SHUTDOWN_SECONDS,
  ANNOTATION_START_SECONDS,
  annotationSeconds,
  isTerminating,
  phaseOf,
  setCondition,
} from './pod-state.js';
import type { Pod } from './types.js';

const PODS = findResource('', 'v1', 'pods') as ResourceDef;
const NODES = findResource('', 'v1', 'nodes') as ResourceDef;

const DEFAULT_START_SECONDS = 1;
const DEFAULT_SHUTDOWN_SECONDS = 1;

export class PodLifecycle {
  /** uids of pods whose start is already scheduled (one start per pod). */
  private readonly starting = new Set<string>();
  /** uid → clock time at which the terminating pod will be removed. */
  private readonly removals = new Map<string, number>();
  private ipCounter = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly clock: Clock,
    private readonly timers: SimTimers,
  ) {}

  /** Reacts to one store change. */
  observe(ev: StoreEvent): void {
    if (ev.def === NODES && ev.type === 'DELETED') {
      const nodeName = ev.object.metadata.name;
      // Never write from inside a change notification: watchers must see changes in order.
      this.timers.after(0, () => this.collectOrphans(nodeName));
      return;
    }
    if (ev.def !== PODS) return;
    const pod = ev.object as Pod;
    const uid = pod.metadata.uid;
    if (ev.type === 'DELETED') {
      this.starting.delete(uid);
      this.removals.delete(uid);
      return;
    }
    if (isTerminating(pod)) this.scheduleRemoval(pod);
    else if (pod.spec?.nodeName && phaseOf(pod) === 'Pending') this.scheduleStart(pod);
  }

  /** Catches up on pods that existed before the lifecycle started observing. */
  resync(): void {
    for (const pod of this.store.list(PODS) as Pod[]) {
      this.observe({ type: 'ADDED', resource: 'pods', def: PODS, rv: 0, object: pod });
    }
  }

  private scheduleStart(pod: Pod): void {
    const uid = pod.metadata.uid;
    if (this.starting.has(uid)) return;
    this.starting.add(uid);
    const delayMs = annotationSeconds(pod, ANNOTATION_START_SECONDS, DEFAULT_START_SECONDS) * 1000;
    const { namespace, name } = pod.metadata;
    this.timers.after(delayMs, () => this.start(namespace, name, uid));
  }

  private start(namespace: string | undefined, name: string, uid: string): void {
    this.starting.delete(uid);
    const pod = this.store.get(PODS, namespace, name) as Pod | undefined;
    if (!pod || pod.metadata.uid !== uid || isTerminating(pod) || phaseOf(pod) !== 'Pending' || !pod.spec.nodeName) return;
    if (!this.store.get(NODES, undefined, pod.spec.nodeName)) return; // no kubelet to run it
    const now = this.store.now();
    const ip = this.nextIp();
    this.store.mutate(PODS, namespace, name, (draft) => {
      const p = draft as Pod;
      let conditions = p.status?.conditions;
      for (const type of ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled']) {
        conditions = setCondition(conditions, { type, status: 'True', lastProbeTime: null, lastTransitionTime: now });
      }
      p.status = {
        ...(p.status ?? {}),
        phase: 'Running',
        conditions,
        hostIP: p.status?.hostIP ?? '10.0.0.1',
        podIP: p.status?.podIP ?? ip,
        podIPs: [{ ip: (p.status?.podIP as string | undefined) ?? ip }],
        startTime: (p.status?.startTime as string | undefined) ?? now,
        containerStatuses: (p.spec.containers ?? []).map((c) => ({
          name: c.name,
          image: c.image ?? '',
          imageID: '',
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: now } },
        })),
      };
    });
  }

  private scheduleRemoval(pod: Pod): void {
    const uid = pod.metadata.uid;
    const grace = pod.metadata.deletionGracePeriodSeconds ?? 0;
    const shutdown = annotationSeconds(pod, ANNOTATION_SHUTDOWN_SECONDS, DEFAULT_SHUTDOWN_SECONDS);
    const due = this.clock.now() + Math.min(grace, shutdown) * 1000;
    const scheduled = this.removals.get(uid);
    // A second delete may shorten the grace period; never lengthen an existing schedule.
    if (scheduled !== undefined && scheduled <= due) return;
    this.removals.set(uid, due);
    const { namespace, name } = pod.metadata;
    this.timers.after(due - this.clock.now(), () => this.remove(namespace, name, uid, due));
  }

  private remove(namespace: string | undefined, name: string, uid: string, due: number): void {
    if (this.removals.get(uid) !== due) return; // superseded by an earlier removal
    this.removals.delete(uid);
    const pod = this.store.get(PODS, namespace, name);
    if (pod && pod.metadata.uid === uid) this.store.remove(PODS, namespace, name);
  }

  private collectOrphans(nodeName: string): void {
    for (const pod of this.store.list(PODS) as Pod[]) {
      if (pod.spec?.nodeName === nodeName) this.store.remove(PODS, pod.metadata.namespace, pod.metadata.name);
    }
  }

  private nextIp(): string {
    const n = ++this.ipCounter;
    return `10.244.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
  }
}

/**
 * The simulated controllers (ReplicaSet controller, scheduler, disruption controller, kubelet),
 * driven by store changes. A burst of changes triggers one coalesced pass; the passes repeat
 * until nothing changes. Nothing here polls.
 */
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../observability/logger.js';
import type { ObjectStore, StoreEvent } from './store.js';
import { Coalescer, SimTimers } from './timers.js';
import { PodLifecycle } from './pod-lifecycle.js';
import { ReplicaSetController } from './replicaset-controller.js';
import { Scheduler } from './scheduler.js';
import { reconcileBudgetStatuses } from './disruption.js';

/** Store keys whose changes can give the controllers work. */
const WATCHED = new Set(['pods', 'nodes', 'replicasets.apps', 'poddisruptionbudgets.policy']);

export class ControlPlane {
  private readonly timers: SimTimers;
  private readonly pass: Coalescer;
  private readonly lifecycle: PodLifecycle;
  private readonly replicaSets: ReplicaSetController;
  private readonly scheduler: Scheduler;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: ObjectStore,
    clock: Clock,
    logger?: Logger,
  ) {
    const onError = (err: unknown) => logger?.error({ err }, 'sim-kube: controller error');
    this.timers = new SimTimers(clock, onError);
    this.pass = new Coalescer(() => this.reconcile(), onError);
    this.lifecycle = new PodLifecycle(store, clock, this.timers);
    this.replicaSets = new ReplicaSetController(store);
    this.scheduler = new Scheduler(store);
  }

  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.store.onEvent((ev) => this.observe(ev));
    this.lifecycle.resync();
    this.pass.kick();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.pass.stop();
    this.timers.stop();
  }

  private observe(ev: StoreEvent): void {
    if (!WATCHED.has(ev.resource)) return;
    this.lifecycle.observe(ev);
    this.pass.kick();
  }

  private reconcile(): void {
    this.replicaSets.reconcileAll();
    this.scheduler.schedulePending();
    reconcileBudgetStatuses(this.store);
  }
}

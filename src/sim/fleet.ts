import { setMaxListeners } from 'node:events';
/**
 * The simulated fleet: instances of the simulated Auto Scaling groups become Kubernetes nodes.
 *
 * An instance that goes InService joins the cluster as a Node named like EKS names them
 * (`ip-10-0-x-y.ec2.internal`, providerID `aws:///<az>/<instance-id>`) with its own IMDS; the Node
 * is NotReady at first and turns Ready after the group's join delay (kubelet start, CNI, node
 * registration). A group's initial instances model a fleet that already exists: they join Ready at
 * once. A terminated instance's Node is deleted (the simulated API server then removes its pods and
 * the ReplicaSet controller recreates them as Pending), its IMDS stops and its agent is killed.
 *
 * The fleet decides *when*; the world (see world.ts) builds and removes nodes through `FleetHost`,
 * with the one node builder that static nodes use too.
 */
import type { Logger } from '../observability/logger.js';
import { isAbortError, type Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { SimAsgGroupSpec, SimAutoScaling, SimInstanceEvent } from './autoscaling/index.js';

/** Default time from InService to a Ready Node (simulated). */
export const DEFAULT_JOIN_DELAY_MS = 30_000;

/** Label naming the Auto Scaling group a node belongs to. */
export const ASG_LABEL = 'spot-guard.io/asg';

export interface SimGroupNodeOptions {
  /** Extra labels on the group's nodes. */
  nodeLabels?: Record<string, string>;
  allocatable?: { cpu: string; memory: string; pods?: string };
  /** InService → Node Ready (simulated ms); default 30 s. */
  joinDelayMs?: number;
}

export type SimGroupSpec = SimAsgGroupSpec & SimGroupNodeOptions;

/** What the fleet asks the world to build: one instance's machine and how its Node looks. */
export interface FleetJoin {
  instanceId: string;
  availabilityZone: string;
  instanceType: string;
  lifeCycle: 'spot' | 'on-demand';
  group: string;
  labels: Record<string, string>;
  allocatable?: { cpu: string; memory: string; pods?: string };
  ready: boolean;
}

/** The world's side of the fleet. */
export interface FleetHost {
  /** Creates the Node and its IMDS (and DaemonSet pods, agent); returns the node name. */
  joinNode(join: FleetJoin): Promise<string>;
  setNodeReady(nodeName: string, ready: boolean): void;
  /** Kills the node's agent, stops its IMDS, deletes the Node. Idempotent. */
  removeNode(nodeName: string): Promise<void>;
}

export type FleetEventType = 'launched' | 'joined' | 'ready' | 'terminated';

export interface FleetEvent {
  type: FleetEventType;
  group: string;
  instanceId: string;
  az: string;
  /** Set once the instance has a node. */
  node?: string;
}

/**
 * Timers and fire-and-forget work on the simulated clock, all cancelled by stop() and awaited by
 * it, so nothing outlives the world.
 */
export class BackgroundTasks {
  private readonly ctl = (() => {
    // Many joins and timers share this one stop signal.
    const c = new AbortController();
    setMaxListeners(0, c.signal);
    return c;
  })();
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Timers not yet fired and work not yet finished. */
  get pending(): number {
    return this.inflight.size;
  }

  get stopped(): boolean {
    return this.ctl.signal.aborted;
  }

  /** Runs `fn` after `ms` of clock time unless stopped first; errors are logged. */
  later(ms: number, what: string, fn: () => void | Promise<void>): void {
    if (this.stopped) return;
    this.track(
      what,
      this.clock.sleep(Math.max(0, ms), this.ctl.signal).then(() => (this.stopped ? undefined : fn())),
    );
  }

  /** Runs `fn` now, in the background; errors are logged. */
  run(what: string, fn: () => Promise<unknown>): void {
    if (this.stopped) return;
    this.track(what, fn());
  }

  async stop(): Promise<void> {
    this.ctl.abort();
    while (this.inflight.size) await Promise.all([...this.inflight]);
  }

  private track(what: string, work: Promise<unknown>): void {
    const p: Promise<void> = work.then(
      () => undefined,
      (err: unknown) => {
        if (!isAbortError(err)) this.logger.warn({ err: errorMessage(err) }, `sim: ${what} failed`);
      },
    );
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }
}

interface Member {
  group: string;
  az: string;
  node?: string;
  ready: boolean;
}

/** Labels that make a node recognisably part of a group (on top of the world's standard node labels). */
export function groupNodeLabels(spec: { name: string } & SimGroupNodeOptions): Record<string, string> {
  return { [ASG_LABEL]: spec.name, ...(spec.nodeLabels ?? {}) };
}

export class SimFleet {
  private readonly groups = new Map<string, SimGroupNodeOptions>();
  /** instance id → its membership, from InService until terminated. */
  private readonly members = new Map<string, Member>();
  private readonly listeners = new Set<(ev: FleetEvent) => void>();
  /** Instance events are handled one at a time, in order (a join is async, a termination may follow it at once). */
  private queue: Promise<void> = Promise.resolve();
  private pendingEvents = 0;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly asg: SimAutoScaling,
    private readonly host: FleetHost,
    private readonly tasks: BackgroundTasks,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = asg.onInstance((ev) => this.enqueue(() => this.onInstance(ev)));
  }

  /** Creates the group in the Auto Scaling simulator; its initial instances join as Ready nodes. */
  async addGroup(spec: SimGroupSpec): Promise<void> {
    const { nodeLabels, allocatable, joinDelayMs, ...asgSpec } = spec;
    this.groups.set(spec.name, {
      ...(nodeLabels ? { nodeLabels } : {}),
      ...(allocatable ? { allocatable } : {}),
      ...(joinDelayMs !== undefined ? { joinDelayMs } : {}),
    });
    this.asg.createGroup(asgSpec);
    const initial = this.asg.instances(spec.name).filter((i) => i.lifecycleState === 'InService');
    for (const i of initial) this.enqueue(() => this.join(i, true));
    await this.queue;
  }

  onEvent(listener: (ev: FleetEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Node names of a group's instances, in the order they joined. */
  nodesOf(group: string): string[] {
    return [...this.members.values()].filter((m) => m.group === group && m.node).map((m) => m.node as string);
  }

  /** Nothing on its way: no instance Pending or Terminating, every joined node Ready, no event unhandled. */
  settled(): boolean {
    if (this.pendingEvents > 0) return false;
    if ([...this.members.values()].some((m) => !m.ready)) return false;
    return this.asg.groupNames().every((g) => this.asg.instances(g).every((i) => i.lifecycleState === 'InService'));
  }

  /** Waits for the events in hand to be handled. */
  async idle(): Promise<void> {
    await this.queue;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.queue;
  }

  // ---- internals --------------------------------------------------------------------------------

  private enqueue(work: () => Promise<void>): void {
    this.pendingEvents++;
    this.queue = this.queue
      .then(work)
      .catch((err: unknown) => this.logger.error({ err: errorMessage(err) }, 'sim fleet: instance event failed'))
      .finally(() => this.pendingEvents--);
  }

  private async onInstance(ev: SimInstanceEvent): Promise<void> {
    if (ev.type === 'launched') this.emit({ type: 'launched', group: ev.group, instanceId: ev.instanceId, az: ev.az });
    else if (ev.type === 'in-service') await this.join(ev, false);
    else await this.leave(ev);
  }

  private async join(ev: Omit<SimInstanceEvent, 'type'>, initial: boolean): Promise<void> {
    if (this.members.has(ev.instanceId) || this.tasks.stopped) return;
    const opts = this.groups.get(ev.group) ?? {};
    const member: Member = { group: ev.group, az: ev.az, ready: initial };
    this.members.set(ev.instanceId, member);
    let node: string;
    try {
      node = await this.host.joinNode({
        instanceId: ev.instanceId,
        availabilityZone: ev.az,
        instanceType: ev.instanceType,
        lifeCycle: ev.capacityType,
        group: ev.group,
        labels: groupNodeLabels({ name: ev.group, ...opts }),
        ...(opts.allocatable ? { allocatable: opts.allocatable } : {}),
        ready: initial,
        });
    } catch (err) {
      this.members.delete(ev.instanceId);
      throw err;
    }
    member.node = node;
    const base = { group: ev.group, instanceId: ev.instanceId, az: ev.az, node };
    this.emit({ type: 'joined', ...base });
    if (initial) return;
    this.tasks.later(opts.joinDelayMs ?? DEFAULT_JOIN_DELAY_MS, `node ${node} ready`, () => {
      if (this.members.get(ev.instanceId) !== member) return; // terminated before it became Ready
      this.host.setNodeReady(node, true);
      member.ready = true;
      this.emit({ type: 'ready', ...base });
    });
  }

  private async leave(ev: SimInstanceEvent): Promise<void> {
    const member = this.members.get(ev.instanceId);
    this.members.delete(ev.instanceId);
    if (member?.node) await this.host.removeNode(member.node);
    this.emit({ type: 'terminated', group: ev.group, instanceId: ev.instanceId, az: ev.az, ...(member?.node ? { node: member.node } : {}) });
  }

  private emit(ev: FleetEvent): void {
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (err) {
        this.logger.warn({ err: errorMessage(err) }, 'sim fleet: event listener threw');
      }
    }
  }
}

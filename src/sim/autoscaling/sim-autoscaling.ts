/**
 * A simulated EC2 Auto Scaling endpoint: real AWS Query protocol over HTTP on loopback, so the real
 * `@aws-sdk/client-auto-scaling` (and the AWS CLI) talk to it through an endpoint URL, plus a
 * programmatic side for the simulated world (spot capacity per AZ, instance lifecycle events,
 * spot reclaims) and for tests (fault injection, call counts, planted activities).
 *
 * Timing defaults (simulated time, from the shared Clock):
 * - launchDelayMs 60 s: Pending → InService (EC2 boot + ASG health check grace is typically 30–90 s).
 * - terminateDelayMs 30 s: Terminating → gone (no lifecycle hooks; EC2 shutdown takes tens of seconds).
 * - launchRetryMs 60 s: between failed launch attempts. Real groups keep retrying failed launches
 *   and record a Failed activity per attempt; AWS does not document the interval (it appears to
 *   back off from tens of seconds to minutes; unverified), so a fixed, configurable interval keeps
 *   scenarios predictable. A new SetDesiredCapacity triggers an immediate attempt.
 * - tickMs 10 s: periodic reconcile; API calls and capacity changes wake the loop at once.
 */
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../observability/logger.js';
import type { ActionContext } from './actions.js';
import { CapacityPools } from './capacity-pool.js';
import { Faults } from './faults.js';
import { GroupController, type GroupTimings } from './group-controller.js';
import {
  type SimAsgActivity,
  type SimAsgGroupSnapshot,
  type SimAsgGroupSpec,
  type SimAsgInstance,
  type SimInstanceEvent,
} from './model.js';
import { healthCheckTerminateCause } from './activity-text.js';
import { QueryServer } from './server.js';

export interface SimAutoScalingOptions {
  clock: Clock;
  logger?: Logger;
  region?: string;
  accountId?: string;
  /** Pending → InService; default 60 s. */
  launchDelayMs?: number;
  /** Terminating → gone; default 30 s. */
  terminateDelayMs?: number;
  /** Interval between failed launch attempts while desired > actual; default 60 s. */
  launchRetryMs?: number;
  /** Periodic reconcile interval; default 10 s. */
  tickMs?: number;
  /** Default 0: any free port (kept across stop()/start()). */
  port?: number;
}

export type SimInstanceListener = (ev: SimInstanceEvent) => void;

export class SimAutoScaling {
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly region: string;
  private readonly accountId: string;
  private readonly timings: GroupTimings;
  private readonly pools = new CapacityPools();
  private readonly faults = new Faults();
  private readonly groupMap = new Map<string, GroupController>();
  private readonly listeners = new Set<SimInstanceListener>();
  private readonly server: QueryServer;
  private seq = 0;
  private running = false;

  constructor(opts: SimAutoScalingOptions) {
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.region = opts.region ?? 'us-east-1';
    this.accountId = opts.accountId ?? '123456789012';
    this.timings = {
      launchDelayMs: opts.launchDelayMs ?? 60_000,
      terminateDelayMs: opts.terminateDelayMs ?? 30_000,
      launchRetryMs: opts.launchRetryMs ?? 60_000,
      tickMs: opts.tickMs ?? 10_000,
    };
    const ctx: ActionContext = {
      groups: this.groupMap,
      findInstance: (id) => this.findInstance(id),
    };
    this.server = new QueryServer(ctx, this.faults, opts.port ?? 0, this.logger);
  }

  /** `http://127.0.0.1:<port>`; valid after start(). */
  get url(): string {
    return this.server.url;
  }

  async start(): Promise<void> {
    await this.server.start();
    this.running = true;
    for (const g of this.groupMap.values()) g.start();
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all([...this.groupMap.values()].map((g) => g.stop()));
    await this.server.stop();
  }

  // ---- world side -------------------------------------------------------------------------------

  createGroup(spec: SimAsgGroupSpec): void {
    if (this.groupMap.has(spec.name)) throw new Error(`Auto Scaling group ${spec.name} already exists`);
    const group = new GroupController(spec, {
      clock: this.clock,
      pools: this.pools,
      region: this.region,
      accountId: this.accountId,
      timings: this.timings,
      emit: (ev) => this.emit(ev),
      nextSeq: () => ++this.seq,
      ...(this.logger ? { logger: this.logger } : {}),
    });
    this.groupMap.set(spec.name, group);
    if (this.running) group.start();
  }

  /** How many more spot instances can launch in `az` now (for one instance type, when given); Infinity (default) = unlimited. */
  setSpotCapacity(az: string, instances: number, instanceType?: string): void {
    this.pools.set('spot', az, instances, instanceType);
    this.wakeAll();
  }

  /** As setSpotCapacity, for on-demand launches (unlimited by default). */
  setOnDemandCapacity(az: string, instances: number, instanceType?: string): void {
    this.pools.set('on-demand', az, instances, instanceType);
    this.wakeAll();
  }

  /** Instance launched (Pending), InService, terminated (gone). Returns an unsubscribe function. */
  onInstance(listener: SimInstanceListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  group(name: string): SimAsgGroupSnapshot {
    return this.requireGroup(name).snapshot();
  }

  groupNames(): string[] {
    return [...this.groupMap.keys()];
  }

  instances(name: string): SimAsgInstance[] {
    return this.requireGroup(name).snapshot().instances;
  }

  /** Newest first, like DescribeScalingActivities. */
  activities(name: string): SimAsgActivity[] {
    return [...this.requireGroup(name).activities]
      .sort((a, b) => b.startTime - a.startTime || b.seq - a.seq)
      .map((a) => ({ ...a }));
  }

  /**
   * The world takes an instance away (e.g. spot reclaimed it): it goes Terminating with the cause AWS
   * records for an EC2-side termination. Without `decrement` the group launches a replacement.
   */
  terminateInstance(instanceId: string, opts: { decrement?: boolean; cause?: string } = {}): SimAsgActivity {
    const found = this.findInstance(instanceId);
    if (!found) throw new Error(`no managed instance ${instanceId}`);
    return found.group.terminate(instanceId, opts.decrement ?? false, opts.cause ?? healthCheckTerminateCause(this.clock.now()));
  }

  /** Marks an instance protected (or not) from scale-in. */
  setInstanceProtection(instanceId: string, protectedFromScaleIn: boolean): void {
    const found = this.findInstance(instanceId);
    if (!found) throw new Error(`no managed instance ${instanceId}`);
    found.instance.protectedFromScaleIn = protectedFromScaleIn;
  }

  // ---- tests and benchmarks ---------------------------------------------------------------------

  /** A `fraction` of all calls (any action) fail with Throttling "Rate exceeded". */
  setThrottle(fraction: number, random?: () => number): void {
    this.faults.setThrottle(fraction, random);
  }

  /** Extra latency per request in REAL milliseconds (it models the network, not simulated time). */
  setLatencyMs(ms: number): void {
    this.faults.setLatencyMs(ms);
  }

  /** The next `times` calls of `action` fail with `code` / `message` (e.g. ScalingActivityInProgress). */
  injectError(action: string, code: string, message: string, times: number): void {
    this.faults.inject(action, code, message, times);
  }

  /** Requests received per action (throttled and failed ones included). */
  callCounts(): Record<string, number> {
    return this.server.callCounts();
  }

  /** Plants an activity (e.g. a stale Failed launch from an hour ago). */
  addActivity(group: string, activity: Partial<SimAsgActivity>): SimAsgActivity {
    return { ...this.requireGroup(group).addActivity(activity) };
  }

  // ---- internals --------------------------------------------------------------------------------

  private requireGroup(name: string): GroupController {
    const g = this.groupMap.get(name);
    if (!g) throw new Error(`no Auto Scaling group ${name}`);
    return g;
  }

  private findInstance(instanceId: string): { group: GroupController; instance: SimAsgInstance } | undefined {
    for (const group of this.groupMap.values()) {
      const instance = group.instances.get(instanceId);
      if (instance) return { group, instance };
    }
    return undefined;
  }

  private wakeAll(): void {
    for (const g of this.groupMap.values()) g.wake();
  }

  private emit(ev: SimInstanceEvent): void {
    for (const l of this.listeners) l(ev);
  }
}

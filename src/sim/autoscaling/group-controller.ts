/**
 * One simulated Auto Scaling group and the loop that reconciles it, the way the real service does:
 * the API only records intent (desired capacity, an instance to terminate) and returns at once; a
 * background loop, driven by the shared Clock, launches and terminates instances to match, moves
 * Pending instances to InService after `launchDelayMs`, and records scaling activities as it goes.
 *
 * Launch failures (no capacity in any of the group's AZs) are recorded as Failed activities and
 * retried every `launchRetryMs` while desired > actual, as real groups keep retrying (and keep
 * recording failures) until capacity appears or the desired capacity is lowered.
 */
import { isAbortError, type Clock } from '../../shared/clock.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../observability/logger.js';
import type { CapacityPools } from './capacity-pool.js';
import { AsgApiError, validationError } from './errors.js';
import {
  activityDetails,
  newActivityId,
  newInstanceId,
  type SimAsgActivity,
  type SimAsgGroupSnapshot,
  type SimAsgGroupSpec,
  type SimAsgInstance,
  type SimAsgLaunchTemplate,
  type SimInstanceEvent,
} from './model.js';
import {
  failedLaunchDescription,
  insufficientCapacityMessage,
  launchCause,
  launchDescription,
  scaleInCause,
  terminateDescription,
  userSetDesiredCause,
  userTerminateCause,
} from './activity-text.js';

export interface GroupTimings {
  /** Pending → InService. */
  launchDelayMs: number;
  /** Terminating → gone. */
  terminateDelayMs: number;
  /** Between failed launch attempts while desired > actual. */
  launchRetryMs: number;
  /** Periodic reconcile even when nothing is due (a safety net; changes wake the loop at once). */
  tickMs: number;
}

export interface GroupDeps {
  clock: Clock;
  pools: CapacityPools;
  logger?: Logger;
  region: string;
  accountId: string;
  timings: GroupTimings;
  emit: (ev: SimInstanceEvent) => void;
  /** A service-wide counter, so activities of all groups have one order. */
  nextSeq: () => number;
}

/** Default cooldown of a new group (AWS default: 300 s); only consulted for HonorCooldown=true. */
const DEFAULT_COOLDOWN_SEC = 300;

export class GroupController {
  readonly name: string;
  readonly arn: string;
  readonly createdTime: number;
  readonly launchTemplate: SimAsgLaunchTemplate;
  minSize: number;
  maxSize: number;
  desired: number;
  /** Launch order (Map keeps insertion order), which scale-in uses to find the newest. */
  readonly instances = new Map<string, SimAsgInstance>();
  /** Unsorted; readers sort newest first. */
  readonly activities: SimAsgActivity[] = [];

  private nextLaunchAttemptAt = 0;
  /** The user-request sentence AWS prefixes to the causes of the launches/terminations it triggers. */
  private causePrefix: string | undefined;
  private lastScalingEndAt = -Infinity;
  private stopCtl: AbortController | undefined;
  private wakeCtl: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    readonly spec: SimAsgGroupSpec,
    private readonly deps: GroupDeps,
  ) {
    validateSpec(spec);
    this.name = spec.name;
    this.minSize = spec.minSize;
    this.maxSize = spec.maxSize;
    this.desired = spec.desiredCapacity;
    this.createdTime = deps.clock.now();
    const uuid = newActivityId();
    this.arn = `arn:aws:autoscaling:${deps.region}:${deps.accountId}:autoScalingGroup:${uuid}:autoScalingGroupName/${spec.name}`;
    this.launchTemplate = spec.launchTemplate ?? {
      id: `lt-${uuid.replace(/-/g, '').slice(0, 17)}`,
      name: `${spec.name}-lt`,
      version: '$Default',
    };
    // The initial fleet already exists: InService at once, no activities, but it does occupy capacity.
    for (let i = 0; i < spec.desiredCapacity; i++) {
      const pick = this.pickAz();
      const az = pick.az;
      const inst = this.newInstance(az, pick.poolKey ?? undefined);
      inst.lifecycleState = 'InService';
      delete inst.readyAt;
      this.instances.set(inst.instanceId, inst);
    }
  }

  // ---- loop ---------------------------------------------------------------------------------

  start(): void {
    if (this.loop) return;
    this.stopCtl = new AbortController();
    this.loop = this.run(this.stopCtl.signal);
  }

  async stop(): Promise<void> {
    this.stopCtl?.abort();
    await this.loop;
    this.loop = undefined;
  }

  /** Reconcile promptly (after an API call or a capacity change) instead of at the next tick. */
  wake(): void {
    this.wakeCtl?.abort();
  }

  private async run(stop: AbortSignal): Promise<void> {
    const { clock, timings } = this.deps;
    while (!stop.aborted) {
      let nextDue = Infinity;
      try {
        nextDue = this.reconcile(clock.now());
      } catch (err) {
        this.deps.logger?.error({ group: this.name, err: errorMessage(err) }, 'sim autoscaling reconcile failed');
      }
      const waitMs = Math.max(1, Math.min(timings.tickMs, nextDue - clock.now()));
      // One controller per sleep, aborted by wake() or by stop (forwarded by hand rather than with
      // AbortSignal.any, whose composite signals pile up on the long-lived stop signal in Node 20).
      const wakeCtl = new AbortController();
      this.wakeCtl = wakeCtl;
      const onStop = () => wakeCtl.abort();
      stop.addEventListener('abort', onStop, { once: true });
      try {
        await clock.sleep(waitMs, wakeCtl.signal);
      } catch (err) {
        if (!isAbortError(err)) throw err;
      } finally {
        stop.removeEventListener('abort', onStop);
      }
    }
  }

  // ---- API-level operations (synchronous; the loop does the work) -----------------------------

  setDesiredCapacity(value: number, honorCooldown: boolean): void {
    const now = this.deps.clock.now();
    if (value > this.maxSize) {
      throw validationError(`New SetDesiredCapacity value ${value} is above max value ${this.maxSize} for the AutoScalingGroup.`);
    }
    if (value < this.minSize) {
      throw validationError(`New SetDesiredCapacity value ${value} is below min value ${this.minSize} for the AutoScalingGroup.`);
    }
    if (honorCooldown && now < this.lastScalingEndAt + DEFAULT_COOLDOWN_SEC * 1000) {
      // Our reading of HonorCooldown=true: refuse while the group's cooldown runs (AWS's exact text unverified).
      throw new AsgApiError('ScalingActivityInProgress', 'Scaling activity cooldown is in effect for this AutoScalingGroup.');
    }
    if (value === this.desired) return;
    this.causePrefix = userSetDesiredCause(now, this.desired, value);
    this.desired = value;
    // A new request is a fresh attempt: do not make it wait out the retry interval of an old failure.
    this.nextLaunchAttemptAt = 0;
    this.wake();
  }

  /**
   * Starts terminating one instance (API or world). With `decrement`, desired drops by one (refused
   * below MinSize, as AWS does); without it, the loop launches a replacement.
   */
  terminate(instanceId: string, decrement: boolean, cause?: string): SimAsgActivity {
    const inst = this.instances.get(instanceId);
    if (!inst) throw new Error(`instance ${instanceId} is not in group ${this.name}`);
    const now = this.deps.clock.now();
    if (inst.lifecycleState === 'Terminating') {
      // Already on its way out: hand back the activity that is doing it (idempotent for retries).
      const existing = this.activities.find((a) => a.activityId === inst.terminateActivityId);
      if (existing) return existing;
    }
    let change: { from: number; to: number } | undefined;
    if (decrement) {
      if (this.desired - 1 < this.minSize) {
        throw validationError(
          `Currently, desiredSize equals minSize (${this.minSize}). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.`,
        );
      }
      change = { from: this.desired, to: this.desired - 1 };
      this.desired -= 1;
    }
    const activity = this.beginTermination(inst, now, cause ?? userTerminateCause(now, instanceId, change));
    this.wake();
    return activity;
  }

  addActivity(partial: Partial<SimAsgActivity>): SimAsgActivity {
    const now = this.deps.clock.now();
    const activity: SimAsgActivity = {
      activityId: partial.activityId ?? newActivityId(),
      autoScalingGroupName: this.name,
      description: partial.description ?? 'Launching a new EC2 instance.',
      cause: partial.cause ?? 'added by test',
      startTime: partial.startTime ?? now,
      statusCode: partial.statusCode ?? 'Successful',
      progress: partial.progress ?? 100,
      seq: this.deps.nextSeq(),
      ...(partial.endTime !== undefined ? { endTime: partial.endTime } : {}),
      ...(partial.statusMessage !== undefined ? { statusMessage: partial.statusMessage } : {}),
      ...(partial.details !== undefined ? { details: partial.details } : {}),
    };
    this.activities.push(activity);
    return activity;
  }

  nonTerminating(): SimAsgInstance[] {
    return [...this.instances.values()].filter((i) => i.lifecycleState !== 'Terminating');
  }

  snapshot(): SimAsgGroupSnapshot {
    return {
      name: this.name,
      arn: this.arn,
      capacityType: this.spec.capacityType,
      instanceType: this.spec.instanceType,
      availabilityZones: [...this.spec.availabilityZones],
      minSize: this.minSize,
      maxSize: this.maxSize,
      desiredCapacity: this.desired,
      capacityRebalance: this.spec.capacityRebalance ?? false,
      tags: { ...(this.spec.tags ?? {}) },
      launchTemplate: { ...this.launchTemplate },
      createdTime: this.createdTime,
      defaultCooldownSec: DEFAULT_COOLDOWN_SEC,
      instances: [...this.instances.values()].map((i) => ({ ...i })),
    };
  }

  // ---- reconcile ------------------------------------------------------------------------------

  /** One pass; returns the clock time at which something next falls due (Infinity: nothing). */
  reconcile(now: number): number {
    let nextDue = Infinity;

    for (const inst of [...this.instances.values()]) {
      if (inst.lifecycleState === 'Pending' && inst.readyAt !== undefined) {
        if (inst.readyAt <= now) this.markInService(inst, now);
        else nextDue = Math.min(nextDue, inst.readyAt);
      } else if (inst.lifecycleState === 'Terminating' && inst.goneAt !== undefined) {
        if (inst.goneAt <= now) this.remove(inst, now);
        else nextDue = Math.min(nextDue, inst.goneAt);
      }
    }

    const active = this.nonTerminating().length;
    if (this.desired > active) {
      if (now >= this.nextLaunchAttemptAt) this.launchBatch(now, active);
      if (this.nonTerminating().length < this.desired) nextDue = Math.min(nextDue, this.nextLaunchAttemptAt);
    } else if (this.desired < active) {
      this.scaleIn(now, active);
    } else {
      this.causePrefix = undefined;
    }
    return nextDue;
  }

  /** Launches up to desired − actual instances; the first launch with no capacity anywhere ends the batch. */
  private launchBatch(now: number, from: number): void {
    const to = this.desired;
    const cause = launchCause(this.causePrefix, now, from, to);
    for (let active = from; active < to; active++) {
      const pick = this.pickAz();
      if (pick.poolKey === null) {
        this.recordFailedLaunch(now, pick.az, cause);
        this.nextLaunchAttemptAt = now + this.deps.timings.launchRetryMs;
        return;
      }
      this.launch(now, pick.az, pick.poolKey, cause);
    }
    this.causePrefix = undefined;
  }

  /**
   * AZ balance, as AWS does: the AZ with the fewest active instances first (ties: the group's AZ
   * order), skipping AZs without capacity. `poolKey` null = no AZ has room (`az` = where AWS would have tried).
   */
  private pickAz(): { az: string; poolKey: string | null | undefined } {
    const { capacityType, instanceType, availabilityZones } = this.spec;
    const counts = new Map<string, number>(availabilityZones.map((az) => [az, 0]));
    for (const i of this.nonTerminating()) counts.set(i.az, (counts.get(i.az) ?? 0) + 1);
    const ordered = [...availabilityZones].sort((a, b) => (counts.get(a) ?? 0) - (counts.get(b) ?? 0));
    for (const az of ordered) {
      const key = this.deps.pools.take(capacityType, az, instanceType);
      if (key !== null) return { az, poolKey: key };
    }
    return { az: ordered[0] ?? availabilityZones[0] ?? 'unknown', poolKey: null };
  }

  private newInstance(az: string, poolKey: string | undefined, now = this.deps.clock.now()): SimAsgInstance {
    return {
      instanceId: newInstanceId(),
      group: this.name,
      az,
      instanceType: this.spec.instanceType,
      capacityType: this.spec.capacityType,
      lifecycleState: 'Pending',
      healthStatus: 'Healthy',
      protectedFromScaleIn: false,
      launchTemplate: this.launchTemplate,
      launchedAt: now,
      readyAt: now + this.deps.timings.launchDelayMs,
      ...(poolKey !== undefined ? { poolKey } : {}),
    };
  }

  private launch(now: number, az: string, poolKey: string | undefined, cause: string): void {
    const inst = this.newInstance(az, poolKey, now);
    // While the instance is Pending the activity is PreInService; it becomes Successful with InService.
    const activity = this.addActivity({
      description: launchDescription(inst.instanceId),
      cause,
      startTime: now,
      statusCode: 'PreInService',
      progress: 30,
      details: activityDetails(az),
    });
    inst.launchActivityId = activity.activityId;
    this.instances.set(inst.instanceId, inst);
    this.deps.logger?.debug({ group: this.name, instanceId: inst.instanceId, az }, 'sim autoscaling: launched');
    this.emit('launched', inst);
  }

  private recordFailedLaunch(now: number, az: string, cause: string): void {
    const message = insufficientCapacityMessage(this.spec.capacityType, this.spec.instanceType, az);
    this.addActivity({
      description: failedLaunchDescription(message),
      cause,
      startTime: now,
      endTime: now,
      statusCode: 'Failed',
      statusMessage: message,
      progress: 100,
      details: activityDetails(az),
    });
    this.deps.logger?.debug({ group: this.name, az }, 'sim autoscaling: launch failed, no capacity');
  }

  private markInService(inst: SimAsgInstance, now: number): void {
    inst.lifecycleState = 'InService';
    delete inst.readyAt;
    this.finishActivity(inst.launchActivityId, now, 'Successful');
    this.emit('in-service', inst);
  }

  /**
   * Default termination policy, simplified: the AZ with the most instances first, then (within it)
   * Pending before InService and the newest first. Protected instances are never picked.
   */
  private scaleIn(now: number, from: number): void {
    const cause = scaleInCause(this.causePrefix, now, from, this.desired);
    let active = from;
    while (active > this.desired) {
      const candidates = this.nonTerminating().filter((i) => !i.protectedFromScaleIn);
      if (candidates.length === 0) break;
      const perAz = new Map<string, number>();
      for (const i of this.nonTerminating()) perAz.set(i.az, (perAz.get(i.az) ?? 0) + 1);
      const ranked = candidates
        .map((inst, order) => ({ inst, order }))
        .sort(
          (a, b) =>
            (perAz.get(b.inst.az) ?? 0) - (perAz.get(a.inst.az) ?? 0) ||
            pendingFirst(a.inst) - pendingFirst(b.inst) ||
            b.inst.launchedAt - a.inst.launchedAt ||
            b.order - a.order,
        );
      const victim = ranked[0]?.inst;
      if (!victim) break;
      this.beginTermination(victim, now, cause);
      active--;
    }
    this.causePrefix = undefined;
  }

  private beginTermination(inst: SimAsgInstance, now: number, cause: string): SimAsgActivity {
    if (inst.lifecycleState === 'Pending') {
      // It never made it to InService: its launch activity ends with the termination.
      this.finishActivity(inst.launchActivityId, now, 'Cancelled');
      delete inst.readyAt;
    }
    inst.lifecycleState = 'Terminating';
    inst.goneAt = now + this.deps.timings.terminateDelayMs;
    const activity = this.addActivity({
      description: terminateDescription(inst.instanceId),
      cause,
      startTime: now,
      statusCode: 'InProgress',
      progress: 0,
      details: activityDetails(inst.az),
    });
    inst.terminateActivityId = activity.activityId;
    return activity;
  }

  private remove(inst: SimAsgInstance, now: number): void {
    this.instances.delete(inst.instanceId);
    this.deps.pools.release(inst.poolKey);
    this.finishActivity(inst.terminateActivityId, now, 'Successful');
    this.emit('terminated', inst);
  }

  private finishActivity(id: string | undefined, now: number, status: 'Successful' | 'Cancelled'): void {
    const a = this.activities.find((x) => x.activityId === id);
    if (!a || a.endTime !== undefined) return;
    a.statusCode = status;
    a.progress = 100;
    a.endTime = now;
    this.lastScalingEndAt = now;
  }

  private emit(type: SimInstanceEvent['type'], inst: SimAsgInstance): void {
    try {
      this.deps.emit({
        type,
        group: this.name,
        instanceId: inst.instanceId,
        az: inst.az,
        instanceType: inst.instanceType,
        capacityType: inst.capacityType,
      });
    } catch (err) {
      // A listener's bug must not stop the group's reconcile loop.
      this.deps.logger?.warn({ err: errorMessage(err) }, 'sim autoscaling: instance listener threw');
    }
  }
}

function pendingFirst(i: SimAsgInstance): number {
  return i.lifecycleState === 'Pending' ? 0 : 1;
}

function validateSpec(spec: SimAsgGroupSpec): void {
  const bad = (why: string): never => {
    throw new Error(`invalid Auto Scaling group spec ${JSON.stringify(spec.name)}: ${why}`);
  };
  if (!spec.name) bad('name is empty');
  if (spec.availabilityZones.length === 0) bad('no availability zones');
  if (!(spec.minSize >= 0 && spec.minSize <= spec.maxSize)) bad('need 0 <= minSize <= maxSize');
  if (!(spec.desiredCapacity >= spec.minSize && spec.desiredCapacity <= spec.maxSize)) bad('need minSize <= desiredCapacity <= maxSize');
}

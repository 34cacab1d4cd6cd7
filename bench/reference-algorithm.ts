/**
 * A re-implementation of the seeds' reference algorithm (the Go fork of NTH described in
 * /work/shared/seeds/001–003), for the mass-rebalance benchmark only. It reproduces the fork's
 * capacity logic on purpose, known failures included (BRIEF §3: 1 read-modify-write without a lock,
 * 2 success by counting InService instances of the whole group, 3 activities scanned without a time
 * filter for a generic word, 7/no retire), so the benchmark can show what they cost next to Spot
 * Guard in the same world. Everything else — the IMDS poll, taint, cordon and drain — uses the same
 * wire protocols and our real Kubernetes port and drain (src/kube), so only the capacity algorithm
 * differs between the two rows.
 *
 * Per node, as the seeds describe it:
 *  1. Poll IMDS `events/recommendations/rebalance` every 2 s (seed 003; IMDSv1 GET). The first 200
 *     starts the handler once (NTH de-duplicates the event by id).
 *  2. ScaleUpWithFallback → scaleUpASG(spot): DescribeAutoScalingGroups, read desired D and MaxSize;
 *     D + 1 > MaxSize is an error; else SetDesiredCapacity(D + 1, HonorCooldown=false). No lock.
 *  3. waitForNewInstance: every 10 s (first check 10 s after the +1, a Go ticker) count the group's
 *     InService instances (DescribeAutoScalingGroups); count >= D + 1 → success. Otherwise
 *     checkForCapacityIssues: DescribeScalingActivities(MaxRecords=10), the newest 10 activities of
 *     the group, any status, no time filter; if the StatusMessage or Description of any of them
 *     contains "capacity" (case-insensitive) → capacity issue → fall back. 120 s
 *     (SPOT_GUARD_CAPACITY_CHECK_TIMEOUT) without success → fall back.
 *  4. fallbackToOnDemand: the same scaleUpASG + waitForNewInstance on the on-demand group.
 *  5. Whatever the outcome (success, fallback success, both failed: seed 003 "Node still tainted"),
 *     the PreDrainTask taints `spot-instance-terminating=true:NoSchedule`, and NTH then cordons and
 *     drains (ENABLE_REBALANCE_DRAINING): one drain attempt bounded by NODE_TERMINATION_GRACE_PERIOD
 *     (120 s), as NTH does not retry a failed drain. The at-risk instance is NOT retired.
 *
 * Deviation (kept small, for a bounded benchmark): the fork's wait loop skipped its deadline check
 * after an API error (BRIEF §3.5). This loop always checks it. No faults are injected in the
 * benchmark, so that path does not run either way. Only the Cause field is not scanned for
 * "capacity": every launch cause says "…difference between desired and actual capacity…", which
 * would make every check of a launching group look like a capacity failure — scanning it would make
 * the reference look even worse than the seeds suggest, so we give it the benefit of the doubt.
 */
import {
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  SetDesiredCapacityCommand,
  type AutoScalingClient,
} from '@aws-sdk/client-auto-scaling';
import { drainNode, type DrainResult } from '../src/kube/drain.js';
import type { NodePort, PodPort } from '../src/kube/types.js';
import { IMDS_PATHS } from '../src/imds/paths.js';
import type { Logger } from '../src/observability/logger.js';
import { Deadline, isAbortError, type Clock } from '../src/shared/clock.js';
import { errorMessage } from '../src/shared/errors.js';

export const REFERENCE_TAINT = { key: 'spot-instance-terminating', value: 'true', effect: 'NoSchedule' as const };

export interface ReferenceHooks {
  /** The IMDS poll saw the rebalance recommendation. */
  onDetected?(node: string, at: number): void;
  /** A +1 was accepted: SetDesiredCapacity(group, desiredRead + 1). */
  onScaleUp?(node: string, group: string, desiredRead: number, at: number): void;
  /** waitForNewInstance declared success (the InService count reached `expected`). */
  onSuccess?(node: string, group: string, expected: number, inService: number, at: number): void;
  /** A scale-up on `group` failed (capacity word, timeout, MaxSize, API error). */
  onFailure?(node: string, group: string, reason: string, at: number): void;
  /** Taint + cordon written; the drain starts. */
  onCordoned?(node: string, at: number): void;
  onDone?(node: string, outcome: ReferenceOutcome): void;
}

export interface ReferenceOutcome {
  capacity: 'spot' | 'on-demand' | 'none';
  drain: DrainResult | { error: string };
  finishedAt: number;
}

export interface ReferenceOptions {
  nodeName: string;
  imdsUrl: string;
  autoscaling: AutoScalingClient;
  kube: NodePort & PodPort;
  clock: Clock;
  logger: Logger;
  spotGroup: string;
  onDemandGroup: string;
  hooks?: ReferenceHooks;
  /** IMDS poll interval (seed 003: 2 s). */
  imdsPollMs?: number;
  /** InService check interval (seed 002/003: 10 s). */
  checkIntervalMs?: number;
  /** SPOT_GUARD_CAPACITY_CHECK_TIMEOUT (120 s). */
  capacityCheckTimeoutMs?: number;
  /** NODE_TERMINATION_GRACE_PERIOD: the drain's deadline (120 s). */
  drainTimeoutMs?: number;
}

type ScaleResult = { ok: true } | { ok: false; reason: string };

/** One node's reference handler: poll IMDS, then scale up with fallback, taint, cordon, drain. */
export class ReferenceHandler {
  private readonly imdsPollMs: number;
  private readonly checkIntervalMs: number;
  private readonly timeoutMs: number;
  private readonly drainTimeoutMs: number;
  outcome: ReferenceOutcome | undefined;

  constructor(private readonly o: ReferenceOptions) {
    this.imdsPollMs = o.imdsPollMs ?? 2_000;
    this.checkIntervalMs = o.checkIntervalMs ?? 10_000;
    this.timeoutMs = o.capacityCheckTimeoutMs ?? 120_000;
    this.drainTimeoutMs = o.drainTimeoutMs ?? 120_000;
  }

  /** Polls IMDS until a rebalance recommendation appears, then handles it once; ends when handled or aborted. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, nodeName } = this.o;
    while (!signal.aborted) {
      if (await this.rebalanceNotice(signal)) {
        this.o.hooks?.onDetected?.(nodeName, clock.now());
        await this.handle(signal);
        return;
      }
      await clock.sleep(this.imdsPollMs, signal).catch(() => undefined);
    }
  }

  private async rebalanceNotice(signal: AbortSignal): Promise<boolean> {
    // One controller per request (real-time bound 5 s), linked by hand to the long-lived signal.
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => ctl.abort(), 5_000);
    try {
      const res = await fetch(this.o.imdsUrl + IMDS_PATHS.rebalanceRecommendation, { signal: ctl.signal });
      await res.arrayBuffer();
      return res.status === 200;
    } catch (err) {
      if (!signal.aborted) this.o.logger.debug({ err: errorMessage(err) }, 'reference: IMDS poll failed');
      return false;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async handle(signal: AbortSignal): Promise<void> {
    const { clock, kube, nodeName, hooks } = this.o;
    // PreDrainTask: ScaleUpWithFallback, then taint whatever the outcome.
    let capacity: ReferenceOutcome['capacity'] = 'none';
    const spot = await this.scaleUpAndWait(this.o.spotGroup, signal);
    if (spot.ok) capacity = 'spot';
    else {
      hooks?.onFailure?.(nodeName, this.o.spotGroup, spot.reason, clock.now());
      const od = await this.scaleUpAndWait(this.o.onDemandGroup, signal);
      if (od.ok) capacity = 'on-demand';
      else hooks?.onFailure?.(nodeName, this.o.onDemandGroup, od.reason, clock.now());
    }
    let drain: ReferenceOutcome['drain'];
    try {
      await kube.updateNode(nodeName, (n) =>
        n.taints.some((t) => t.key === REFERENCE_TAINT.key) ? null : { taints: [...n.taints, REFERENCE_TAINT] },
      );
      // NTH: cordon, then drain (kubectl semantics), one attempt bounded by the node grace period.
      await kube.updateNode(nodeName, (n) => (n.unschedulable ? null : { unschedulable: true }));
      hooks?.onCordoned?.(nodeName, clock.now());
      drain = await drainNode(kube, {
        nodeName,
        ignoreDaemonSets: true,
        deleteLocalData: true,
        podGracePeriodSeconds: -1,
        deadline: Deadline.after(clock, this.drainTimeoutMs),
        clock,
        logger: this.o.logger,
        signal,
      });
    } catch (err) {
      if (isAbortError(err)) throw err;
      drain = { error: errorMessage(err) };
    }
    this.outcome = { capacity, drain, finishedAt: clock.now() };
    hooks?.onDone?.(nodeName, this.outcome);
  }

  /** scaleUpASG + waitForNewInstance. */
  private async scaleUpAndWait(group: string, signal: AbortSignal): Promise<ScaleResult> {
    const { autoscaling, clock, nodeName, hooks } = this.o;
    let expected: number;
    try {
      const g = await this.describe(group, signal);
      const desired = g.DesiredCapacity ?? 0;
      if (desired + 1 > (g.MaxSize ?? 0)) return { ok: false, reason: `cannot scale ${group}: ${desired} + 1 > MaxSize ${g.MaxSize}` };
      await autoscaling.send(
        new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: desired + 1, HonorCooldown: false }),
        { abortSignal: signal },
      );
      hooks?.onScaleUp?.(nodeName, group, desired, clock.now());
      expected = desired + 1;
    } catch (err) {
      if (signal.aborted) throw err;
      return { ok: false, reason: `scale-up of ${group} failed: ${errorMessage(err)}` };
    }
    const deadline = clock.now() + this.timeoutMs;
    for (;;) {
      await clock.sleep(this.checkIntervalMs, signal);
      if (clock.now() >= deadline) return { ok: false, reason: `timeout: no new InService instance in ${group} within ${this.timeoutMs / 1000} s` };
      try {
        const g = await this.describe(group, signal);
        const inService = (g.Instances ?? []).filter((i) => i.LifecycleState === 'InService').length;
        if (inService >= expected) {
          hooks?.onSuccess?.(nodeName, group, expected, inService, clock.now());
          return { ok: true };
        }
        const acts = await autoscaling.send(
          new DescribeScalingActivitiesCommand({ AutoScalingGroupName: group, MaxRecords: 10 }),
          { abortSignal: signal },
        );
        const hit = (acts.Activities ?? []).find((a) => `${a.StatusMessage ?? ''} ${a.Description ?? ''}`.toLowerCase().includes('capacity'));
        if (hit) return { ok: false, reason: `capacity issue in ${group}: ${hit.StatusMessage ?? hit.Description ?? ''}` };
      } catch (err) {
        if (signal.aborted) throw err;
        this.o.logger.debug({ group, err: errorMessage(err) }, 'reference: check failed; waiting on');
      }
    }
  }

  private async describe(group: string, signal: AbortSignal) {
    const out = await this.o.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }), {
      abortSignal: signal,
    });
    const g = out.AutoScalingGroups?.[0];
    if (!g) throw new Error(`Auto Scaling group ${group} not found`);
    return g;
  }
}

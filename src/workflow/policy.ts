import type { Taint } from '../kube/types.js';

/** The parts of the configuration that decide what happens to a node; derived from Config once. */
export interface WorkflowPolicy {
  cordonOnly: boolean;
  taintNode: boolean;
  taintEffect: Taint['effect'];
  excludeFromLoadBalancers: boolean;
  /** ENABLE_REBALANCE_DRAINING: drain on a rebalance recommendation (otherwise cordon only). */
  rebalanceDrain: boolean;
  /** NODE_TERMINATION_GRACE_PERIOD: drain starts this long before the interruption, and must end within it. */
  nodeTerminationGracePeriodMs: number;
  /** Spot Guard on: rebalance recommendations get replacement capacity before the drain. */
  spotGuard?: SpotGuardPolicy;
}

export interface SpotGuardPolicy {
  spotGroup: string;
  onDemandGroup: string;
  /** Put on the at-risk node once its replacement is Ready (spot-instance-terminating=true:NoSchedule). */
  taint: Taint;
  /** How often to look at the group and the nodes while waiting (SPOT_GUARD_POLL_INTERVAL). */
  pollIntervalMs: number;
  /** Bound on getting a +1 accepted: lock, describe, SetDesiredCapacity (SPOT_GUARD_SCALE_TIMEOUT). */
  scaleTimeoutMs: number;
  /** Bound on the wait for the replacement to be InService with a Ready Node (SPOT_GUARD_CAPACITY_CHECK_TIMEOUT). */
  capacityCheckTimeoutMs: number;
  /** How long "spot unavailable" is believed, and the retry delay when nothing is available. */
  capacityCacheTtlMs: number;
  /** Terminate the drained at-risk instance with ShouldDecrementDesiredCapacity=true. */
  retireAfterDrain: boolean;
}

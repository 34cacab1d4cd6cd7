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
}

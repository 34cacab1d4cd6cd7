/**
 * Spot Guard's view of EC2 Auto Scaling: the small port the workflow needs. The real adapter
 * (aws-autoscaling.ts) speaks to AWS through @aws-sdk/client-auto-scaling; decision logic never
 * imports the SDK.
 */

export type CapacityType = 'spot' | 'on-demand';

export interface GroupInstance {
  instanceId: string;
  availabilityZone: string;
  /** Pending, Pending:Wait, InService, Terminating, Terminated, Standby, … */
  lifecycleState: string;
  healthStatus: string;
  instanceType?: string;
}

export interface GroupView {
  name: string;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  capacityRebalance: boolean;
  instances: GroupInstance[];
}

export interface ActivityView {
  activityId: string;
  groupName: string;
  /** Successful | Failed | Cancelled | InProgress | PendingSpotBidPlacement | WaitingForSpotInstanceId | PreInService | … */
  statusCode: string;
  statusMessage: string;
  description: string;
  cause: string;
  startTime: number;
  endTime?: number;
}

/** Why an Auto Scaling call failed, so callers can decide to retry or give up. */
export type AutoScalingErrorKind =
  | 'throttled'
  | 'scaling-in-progress'
  | 'resource-contention'
  | 'validation'
  | 'not-found'
  | 'transport'
  | 'other';

export class AutoScalingError extends Error {
  constructor(
    readonly kind: AutoScalingErrorKind,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AutoScalingError';
  }
  /** Worth trying again later (the step is retried by the reconcile loop). */
  get retriable(): boolean {
    return this.kind !== 'validation' && this.kind !== 'not-found';
  }
}

export interface AutoScalingPort {
  /** null when the group does not exist. */
  describeGroup(name: string): Promise<GroupView | null>;
  /** SetDesiredCapacity with HonorCooldown=false. */
  setDesiredCapacity(name: string, desired: number): Promise<void>;
  /**
   * TerminateInstanceInAutoScalingGroup. Resolves 'terminating' when accepted, 'not-found' when the
   * instance is not (or no longer) in a group — both mean the instance is on its way out.
   */
  terminateInstance(instanceId: string, decrementDesired: boolean): Promise<'terminating' | 'not-found'>;
  /** The group an instance belongs to, or null. */
  groupOfInstance(instanceId: string): Promise<string | null>;
  /** Activities that started at or after `since` (epoch ms), newest first, following pagination. */
  activitiesSince(groupName: string, since: number): Promise<ActivityView[]>;
}

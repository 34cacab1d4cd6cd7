/**
 * The data the simulated Auto Scaling service keeps: groups, their instances and scaling activities.
 * Times are clock milliseconds (the simulator's Clock), converted to ISO strings only on the wire.
 */
import { randomBytes, randomUUID } from 'node:crypto';

export type CapacityType = 'spot' | 'on-demand';

export interface SimAsgLaunchTemplate {
  id: string;
  name: string;
  version: string;
}

export interface SimAsgGroupSpec {
  name: string;
  capacityType: CapacityType;
  instanceType: string;
  availabilityZones: string[];
  minSize: number;
  maxSize: number;
  /** The group starts with this many InService instances (a fleet that already exists), no activities. */
  desiredCapacity: number;
  capacityRebalance?: boolean;
  tags?: Record<string, string>;
  /** Reported on the group and its instances; a made-up one when absent (real groups always have one). */
  launchTemplate?: SimAsgLaunchTemplate;
}

/** Lifecycle states the simulator produces (a subset of AWS's: no lifecycle hooks, no warm pools, no Standby). */
export type SimLifecycleState = 'Pending' | 'InService' | 'Terminating';

export interface SimAsgInstance {
  instanceId: string;
  group: string;
  az: string;
  instanceType: string;
  capacityType: CapacityType;
  lifecycleState: SimLifecycleState;
  healthStatus: 'Healthy' | 'Unhealthy';
  protectedFromScaleIn: boolean;
  launchTemplate: SimAsgLaunchTemplate;
  launchedAt: number;
  /** Pending → InService at this clock time. */
  readyAt?: number;
  /** Terminating → gone at this clock time. */
  goneAt?: number;
  /** The capacity-pool key this instance took a slot from, so termination gives it back. */
  poolKey?: string;
  launchActivityId?: string;
  terminateActivityId?: string;
}

export type SimActivityStatus =
  | 'PendingSpotBidPlacement'
  | 'WaitingForSpotInstanceRequestId'
  | 'WaitingForSpotInstanceId'
  | 'WaitingForInstanceId'
  | 'PreInService'
  | 'InProgress'
  | 'WaitingForELBConnectionDraining'
  | 'MidLifecycleAction'
  | 'WaitingForInstanceWarmup'
  | 'Successful'
  | 'Failed'
  | 'Cancelled'
  | 'WaitingForConnectionDraining';

export interface SimAsgActivity {
  activityId: string;
  autoScalingGroupName: string;
  description: string;
  cause: string;
  startTime: number;
  endTime?: number;
  statusCode: SimActivityStatus;
  statusMessage?: string;
  progress: number;
  /** JSON text, as AWS returns it (e.g. `{"Subnet ID":"subnet-…","Availability Zone":"us-east-1a"}`). */
  details?: string;
  /** Insertion order; breaks StartTime ties so "newest first" and pagination are stable. */
  seq: number;
}

/** A read-only view of a group for the world and tests. */
export interface SimAsgGroupSnapshot {
  name: string;
  arn: string;
  capacityType: CapacityType;
  instanceType: string;
  availabilityZones: string[];
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  capacityRebalance: boolean;
  tags: Record<string, string>;
  launchTemplate: SimAsgLaunchTemplate;
  createdTime: number;
  defaultCooldownSec: number;
  instances: SimAsgInstance[];
}

export type SimInstanceEventType = 'launched' | 'in-service' | 'terminated';

export interface SimInstanceEvent {
  type: SimInstanceEventType;
  group: string;
  instanceId: string;
  az: string;
  instanceType: string;
  capacityType: CapacityType;
}

/** EC2 instance ids: `i-` and 17 lower-case hex digits. */
export function newInstanceId(): string {
  return `i-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

/** Activity ids are UUIDs in AWS. */
export function newActivityId(): string {
  return randomUUID();
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A stable fake subnet per AZ, for activity Details and VPCZoneIdentifier. */
export function subnetFor(az: string): string {
  let h = 0;
  for (const c of az) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `subnet-${h.toString(16).padStart(8, '0')}${'0'.repeat(9)}`.slice(0, 24);
}

export function activityDetails(az: string): string {
  return JSON.stringify({ 'Subnet ID': subnetFor(az), 'Availability Zone': az });
}

/**
 * The wording of scaling activities, copied from what real Auto Scaling groups record, so agent code
 * that matches reasons in StatusMessage / Description / Cause is tested against realistic text.
 */
import { iso, type CapacityType } from './model.js';

export function launchDescription(instanceId: string): string {
  return `Launching a new EC2 instance: ${instanceId}`;
}

export function terminateDescription(instanceId: string): string {
  return `Terminating EC2 instance: ${instanceId}`;
}

/** The EC2 reason for a launch that found no capacity (spot: InsufficientInstanceCapacity as AWS words it). */
export function insufficientCapacityMessage(capacityType: CapacityType, instanceType: string, az: string): string {
  if (capacityType === 'spot') {
    return 'Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available that matches your request. Launching EC2 instance failed.';
  }
  return (
    `We currently do not have sufficient ${instanceType} capacity in the Availability Zone you requested (${az}). ` +
    'Our system will be working on provisioning additional capacity. You can currently get ' +
    `${instanceType} capacity by not specifying an Availability Zone in your request or choosing ` +
    'a different Availability Zone. Launching EC2 instance failed.'
  );
}

/** Failed launches have no instance id; AWS puts the reason into the description too (note the two spaces). */
export function failedLaunchDescription(statusMessage: string): string {
  return `Launching a new EC2 instance.  Status Reason: ${statusMessage}`;
}

export function userSetDesiredCause(at: number, from: number, to: number): string {
  return `At ${isoSec(at)} a user request explicitly set group desired capacity changing the desired capacity from ${from} to ${to}.`;
}

export function launchCause(prefix: string | undefined, at: number, from: number, to: number): string {
  const own = `At ${isoSec(at)} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from ${from} to ${to}.`;
  return prefix ? `${prefix}  ${own}` : own;
}

export function scaleInCause(prefix: string | undefined, at: number, from: number, to: number): string {
  const own = `At ${isoSec(at)} an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from ${from} to ${to}.`;
  return prefix ? `${prefix}  ${own}` : own;
}

export function userTerminateCause(at: number, instanceId: string, decrement: { from: number; to: number } | undefined): string {
  const base = `At ${isoSec(at)} instance ${instanceId} was taken out of service in response to a user request`;
  return decrement ? `${base}, shrinking the capacity from ${decrement.from} to ${decrement.to}.` : `${base}.`;
}

/** What AWS records when EC2 itself took the instance away (e.g. spot reclaimed it). */
export function healthCheckTerminateCause(at: number): string {
  return `At ${isoSec(at)} an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped.`;
}

/** Causes carry second-precision timestamps (`2024-05-01T10:00:00Z`). */
function isoSec(ms: number): string {
  return iso(ms).replace(/\.\d{3}Z$/, 'Z');
}

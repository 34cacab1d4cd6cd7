/** XML for the Auto Scaling shapes, element names as in the SDK's schemas (AutoScalingGroup, Instance, Activity, …). */
import type { GroupController } from './group-controller.js';
import { iso, subnetFor, type SimAsgActivity, type SimAsgInstance, type SimAsgLaunchTemplate } from './model.js';
import { leaf, memberList, node, scalarList } from './query-protocol.js';

export function renderLaunchTemplate(lt: SimAsgLaunchTemplate): string {
  return node('LaunchTemplate', leaf('LaunchTemplateId', lt.id), leaf('LaunchTemplateName', lt.name), leaf('Version', lt.version));
}

/** An Instance inside DescribeAutoScalingGroups (HealthStatus `Healthy`). */
export function renderGroupInstance(i: SimAsgInstance): string {
  return (
    leaf('InstanceId', i.instanceId) +
    leaf('InstanceType', i.instanceType) +
    leaf('AvailabilityZone', i.az) +
    leaf('LifecycleState', i.lifecycleState) +
    leaf('HealthStatus', i.healthStatus) +
    renderLaunchTemplate(i.launchTemplate) +
    leaf('ProtectedFromScaleIn', i.protectedFromScaleIn)
  );
}

/** AutoScalingInstanceDetails: DescribeAutoScalingInstances reports health upper-case (`HEALTHY`), as AWS does. */
export function renderInstanceDetails(i: SimAsgInstance): string {
  return (
    leaf('InstanceId', i.instanceId) +
    leaf('InstanceType', i.instanceType) +
    leaf('AutoScalingGroupName', i.group) +
    leaf('AvailabilityZone', i.az) +
    leaf('LifecycleState', i.lifecycleState) +
    leaf('HealthStatus', i.healthStatus.toUpperCase()) +
    renderLaunchTemplate(i.launchTemplate) +
    leaf('ProtectedFromScaleIn', i.protectedFromScaleIn)
  );
}

export function renderGroup(g: GroupController): string {
  const s = g.snapshot();
  const tags = Object.entries(s.tags).map(
    ([k, v]) =>
      leaf('ResourceId', s.name) +
      leaf('ResourceType', 'auto-scaling-group') +
      leaf('Key', k) +
      leaf('Value', v) +
      leaf('PropagateAtLaunch', true),
  );
  return (
    leaf('AutoScalingGroupName', s.name) +
    leaf('AutoScalingGroupARN', s.arn) +
    renderLaunchTemplate(s.launchTemplate) +
    leaf('MinSize', s.minSize) +
    leaf('MaxSize', s.maxSize) +
    leaf('DesiredCapacity', s.desiredCapacity) +
    leaf('DefaultCooldown', s.defaultCooldownSec) +
    scalarList('AvailabilityZones', s.availabilityZones) +
    memberList('LoadBalancerNames', []) +
    memberList('TargetGroupARNs', []) +
    leaf('HealthCheckType', 'EC2') +
    leaf('HealthCheckGracePeriod', 300) +
    memberList('Instances', s.instances.map(renderGroupInstance)) +
    leaf('CreatedTime', iso(s.createdTime)) +
    memberList('SuspendedProcesses', []) +
    leaf('VPCZoneIdentifier', s.availabilityZones.map(subnetFor).join(',')) +
    memberList('EnabledMetrics', []) +
    memberList('Tags', tags) +
    scalarList('TerminationPolicies', ['Default']) +
    leaf('NewInstancesProtectedFromScaleIn', false) +
    leaf('ServiceLinkedRoleARN', s.arn.replace(/:autoscaling:[^:]*:(\d+):.*/, ':iam::$1:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling')) +
    leaf('CapacityRebalance', s.capacityRebalance)
  );
}

export function renderActivity(a: SimAsgActivity): string {
  return (
    leaf('ActivityId', a.activityId) +
    leaf('AutoScalingGroupName', a.autoScalingGroupName) +
    leaf('Description', a.description) +
    leaf('Cause', a.cause) +
    leaf('StartTime', iso(a.startTime)) +
    leaf('EndTime', a.endTime === undefined ? undefined : iso(a.endTime)) +
    leaf('StatusCode', a.statusCode) +
    leaf('StatusMessage', a.statusMessage) +
    leaf('Progress', a.progress) +
    leaf('Details', a.details)
  );
}

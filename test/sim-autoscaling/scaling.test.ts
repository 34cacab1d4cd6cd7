import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DescribeAutoScalingGroupsCommand,
  DescribeScalingActivitiesCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  type AutoScalingClient,
} from '@aws-sdk/client-auto-scaling';
import type { SimInstanceEvent } from '../../src/sim/autoscaling/index.js';
import { expectAwsError, spotSpec, startAsg, waitFor, type TestAsg } from './helpers.js';

async function describeGroup(client: AutoScalingClient, name: string) {
  const out = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
  const g = out.AutoScalingGroups?.[0];
  assert.ok(g, `group ${name}`);
  return g;
}

describe('sim autoscaling: scaling', () => {
  let t: TestAsg | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('SetDesiredCapacity up: a new instance goes Pending, then InService; its activity ends Successful', async () => {
    t = await startAsg([spotSpec({ desiredCapacity: 1 })]);
    const { client, clock, sim } = t;
    const events: SimInstanceEvent[] = [];
    sim.onInstance((ev) => events.push(ev));
    const before = new Set((await describeGroup(client, 'spot-asg')).Instances?.map((i) => i.InstanceId));

    await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 2, HonorCooldown: false }));
    assert.equal((await describeGroup(client, 'spot-asg')).DesiredCapacity, 2);

    // The new instance is identified by set difference (never by counting InService).
    const newId = await waitFor(clock, 'a new instance', async () => {
      const g = await describeGroup(client, 'spot-asg');
      return g.Instances?.find((i) => !before.has(i.InstanceId))?.InstanceId;
    });
    const act = await client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'spot-asg' }));
    const launch = act.Activities?.find((a) => a.Description === `Launching a new EC2 instance: ${newId}`);
    assert.ok(launch, 'launch activity');
    assert.match(launch.Cause ?? '', /a user request explicitly set group desired capacity changing the desired capacity from 1 to 2\./);
    assert.match(launch.Cause ?? '', /an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 1 to 2\./);
    assert.ok(launch.StartTime instanceof Date);
    assert.match(launch.Details ?? '', /"Availability Zone":"us-east-1[abc]"/);

    await waitFor(clock, 'InService', async () => {
      const g = await describeGroup(client, 'spot-asg');
      return g.Instances?.find((i) => i.InstanceId === newId)?.LifecycleState === 'InService';
    });
    const done = await client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'spot-asg', ActivityIds: [launch.ActivityId!] }));
    assert.equal(done.Activities?.[0]?.StatusCode, 'Successful');
    assert.equal(done.Activities?.[0]?.Progress, 100);
    assert.ok(done.Activities?.[0]?.EndTime instanceof Date);
    assert.deepEqual(
      events.filter((e) => e.instanceId === newId).map((e) => [e.type, e.capacityType, e.instanceType]),
      [
        ['launched', 'spot', 'm5.large'],
        ['in-service', 'spot', 'm5.large'],
      ],
    );
  });

  it('launches are balanced across AZs', async () => {
    t = await startAsg([spotSpec({ desiredCapacity: 0 })]);
    await t.client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 6 }));
    const sim = t.sim;
    await waitFor(t.clock, '6 instances', () => sim.instances('spot-asg').length === 6);
    const perAz = new Map<string, number>();
    for (const i of sim.instances('spot-asg')) perAz.set(i.az, (perAz.get(i.az) ?? 0) + 1);
    assert.deepEqual([...perAz.values()], [2, 2, 2]);
  });

  it('SetDesiredCapacity above MaxSize or below MinSize is a ValidationError with AWS wording', async () => {
    t = await startAsg([spotSpec({ minSize: 1, maxSize: 4, desiredCapacity: 2 })]);
    const above = await expectAwsError(t.client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 5 })));
    assert.equal(above.name, 'ValidationError');
    assert.equal(above.status, 400);
    assert.equal(above.message, 'New SetDesiredCapacity value 5 is above max value 4 for the AutoScalingGroup.');
    const below = await expectAwsError(t.client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 0 })));
    assert.equal(below.message, 'New SetDesiredCapacity value 0 is below min value 1 for the AutoScalingGroup.');
    assert.equal((await describeGroup(t.client, 'spot-asg')).DesiredCapacity, 2);
  });

  it('SetDesiredCapacity down: instances go Terminating and disappear', async () => {
    t = await startAsg([spotSpec({ desiredCapacity: 3 })]);
    const { client, clock, sim } = t;
    await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 1 }));
    const acts = await waitFor(clock, 'termination activities', () => {
      const a = sim.activities('spot-asg').filter((x) => x.description.startsWith('Terminating EC2 instance: '));
      return a.length === 2 ? a : undefined;
    });
    assert.match(acts[0]?.cause ?? '', /shrinking the capacity from 3 to 1\./);
    await waitFor(clock, 'one instance left', async () => (await describeGroup(client, 'spot-asg')).Instances?.length === 1);
    assert.ok(sim.activities('spot-asg').every((a) => a.statusCode === 'Successful'));
  });

  it('TerminateInstanceInAutoScalingGroup with decrement: desired drops and the instance disappears', async () => {
    t = await startAsg([spotSpec({ desiredCapacity: 2 })]);
    const { client, clock } = t;
    const victim = (await describeGroup(client, 'spot-asg')).Instances![0]!.InstanceId!;
    const out = await client.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: victim, ShouldDecrementDesiredCapacity: true }));
    assert.equal(out.Activity?.Description, `Terminating EC2 instance: ${victim}`);
    assert.equal(out.Activity?.StatusCode, 'InProgress');
    assert.equal(out.Activity?.AutoScalingGroupName, 'spot-asg');
    assert.match(out.Activity?.Cause ?? '', new RegExp(`instance ${victim} was taken out of service in response to a user request, shrinking the capacity from 2 to 1\\.`));

    const g = await describeGroup(client, 'spot-asg');
    assert.equal(g.DesiredCapacity, 1);
    assert.equal(g.Instances?.find((i) => i.InstanceId === victim)?.LifecycleState, 'Terminating');

    await waitFor(clock, 'victim gone', async () => {
      const now = await describeGroup(client, 'spot-asg');
      return !now.Instances?.some((i) => i.InstanceId === victim);
    });
    const final = await describeGroup(client, 'spot-asg');
    assert.equal(final.Instances?.length, 1, 'no replacement was launched');
    // Repeating the call for a gone instance is an error, as in AWS.
    const again = await expectAwsError(client.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: victim, ShouldDecrementDesiredCapacity: true })));
    assert.equal(again.name, 'ValidationError');
  });

  it('TerminateInstanceInAutoScalingGroup without decrement: a replacement is launched', async () => {
    t = await startAsg([spotSpec({ desiredCapacity: 2 })]);
    const { client, clock, sim } = t;
    const victim = sim.instances('spot-asg')[0]!.instanceId;
    await client.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: victim, ShouldDecrementDesiredCapacity: false }));
    assert.equal(sim.group('spot-asg').desiredCapacity, 2);
    await waitFor(clock, 'replacement in service', () => {
      const inst = sim.instances('spot-asg');
      return !inst.some((i) => i.instanceId === victim) && inst.length === 2 && inst.every((i) => i.lifecycleState === 'InService');
    });
  });

  it('terminating the last instance above MinSize with decrement is refused', async () => {
    t = await startAsg([spotSpec({ minSize: 1, desiredCapacity: 1 })]);
    const victim = t.sim.instances('spot-asg')[0]!.instanceId;
    const err = await expectAwsError(
      t.client.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: victim, ShouldDecrementDesiredCapacity: true })),
    );
    assert.equal(err.name, 'ValidationError');
    assert.match(err.message, /min size constraint/);
    assert.equal(t.sim.instances('spot-asg')[0]?.lifecycleState, 'InService');
  });

  it('an unknown instance is a ValidationError with AWS wording', async () => {
    t = await startAsg();
    const err = await expectAwsError(
      t.client.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: 'i-0123456789abcdef0', ShouldDecrementDesiredCapacity: true })),
    );
    assert.equal(err.name, 'ValidationError');
    assert.equal(err.status, 400);
    assert.equal(err.message, 'Instance Id not found - No managed instance found for instance ID: i-0123456789abcdef0');
  });

  it('the world can take an instance away (spot reclaim): health-check cause, replacement follows', async () => {
    t = await startAsg([spotSpec({ desiredCapacity: 1 })]);
    const { clock, sim } = t;
    const events: SimInstanceEvent[] = [];
    sim.onInstance((ev) => events.push(ev));
    const victim = sim.instances('spot-asg')[0]!.instanceId;
    const act = sim.terminateInstance(victim);
    assert.match(act.cause, /EC2 health check indicating it has been terminated or stopped/);
    await waitFor(clock, 'replacement', () => events.some((e) => e.type === 'in-service') && events.some((e) => e.type === 'terminated' && e.instanceId === victim));
  });
});

import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeScalingActivitiesCommand, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import { AZS, onDemandSpec, spotSpec, startAsg, waitFor, type TestAsg } from './helpers.js';

const SPOT_MESSAGE =
  'Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available that matches your request. Launching EC2 instance failed.';

describe('sim autoscaling: capacity', () => {
  let t: TestAsg | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('spot pool exhausted → Failed activity with the real message, retried; capacity restored → launch succeeds', async () => {
    t = await startAsg([spotSpec({ desiredCapacity: 1 })]);
    const { client, clock, sim } = t;
    for (const az of AZS) sim.setSpotCapacity(az, 0);
    const requestedAt = new Date(clock.now());
    await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 2 }));

    // Real groups keep retrying and record a Failed activity per attempt: wait for two of them.
    const failed = await waitFor(clock, 'two failed launch activities', async () => {
      const out = await client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'spot-asg' }));
      const f = (out.Activities ?? []).filter((a) => a.StatusCode === 'Failed');
      return f.length >= 2 ? f : undefined;
    });
    const a = failed[0]!;
    assert.equal(a.StatusMessage, SPOT_MESSAGE);
    assert.equal(a.Description, `Launching a new EC2 instance.  Status Reason: ${SPOT_MESSAGE}`);
    assert.match(a.Cause ?? '', /increasing the capacity from 1 to 2\./);
    assert.ok(a.StartTime! >= new Date(requestedAt.getTime() - 1000));
    assert.ok(a.EndTime instanceof Date);
    assert.equal(sim.instances('spot-asg').length, 1);

    sim.setSpotCapacity('us-east-1b', 1);
    const launched = await waitFor(clock, 'a launch in us-east-1b', () => sim.instances('spot-asg').find((i) => i.az === 'us-east-1b' && i.lifecycleState === 'InService' && i.launchActivityId));
    assert.equal(launched.capacityType, 'spot');
    const ok = sim.activities('spot-asg').find((x) => x.activityId === launched.launchActivityId);
    assert.equal(ok?.statusCode, 'Successful');
    // The slot was taken: the pool is empty again.
    assert.equal(sim.instances('spot-asg').length, 2);
  });

  it('launches prefer AZs that have capacity; a terminated instance gives its slot back', async () => {
    t = await startAsg([spotSpec({ desiredCapacity: 0 })]);
    const { client, clock, sim } = t;
    sim.setSpotCapacity('us-east-1a', 0);
    sim.setSpotCapacity('us-east-1b', 0);
    sim.setSpotCapacity('us-east-1c', 2);
    await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 2 }));
    await waitFor(clock, 'two instances', () => sim.instances('spot-asg').length === 2);
    assert.deepEqual(sim.instances('spot-asg').map((i) => i.az), ['us-east-1c', 'us-east-1c']);
    assert.ok(!sim.activities('spot-asg').some((a) => a.statusCode === 'Failed'));

    // Pool now empty; terminating one (no decrement) frees a slot the replacement can use.
    const victim = sim.instances('spot-asg')[0]!.instanceId;
    sim.terminateInstance(victim);
    await waitFor(clock, 'replacement', () => {
      const inst = sim.instances('spot-asg');
      return inst.length === 2 && !inst.some((i) => i.instanceId === victim) && inst.every((i) => i.lifecycleState === 'InService');
    });
  });

  it('on-demand pool exhausted → Failed activity with the on-demand wording for the AZ', async () => {
    t = await startAsg([onDemandSpec({ availabilityZones: ['us-east-1a'] })]);
    const { client, clock, sim } = t;
    sim.setOnDemandCapacity('us-east-1a', 0);
    await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'od-asg', DesiredCapacity: 1 }));
    const f = await waitFor(clock, 'failed activity', () => sim.activities('od-asg').find((a) => a.statusCode === 'Failed'));
    assert.match(
      f.statusMessage ?? '',
      /^We currently do not have sufficient m5\.large capacity in the Availability Zone you requested \(us-east-1a\)\. Our system will be working on provisioning additional capacity\..*Launching EC2 instance failed\.$/,
    );
    // Spot exhaustion does not affect on-demand groups and vice versa.
    sim.setSpotCapacity('us-east-1a', 0);
    sim.setOnDemandCapacity('us-east-1a', Infinity);
    await waitFor(clock, 'on-demand launch', () => sim.instances('od-asg').length === 1);
  });

  it('lowering desired capacity stops the retries', async () => {
    t = await startAsg([spotSpec({ desiredCapacity: 0 })]);
    const { client, clock, sim } = t;
    for (const az of AZS) sim.setSpotCapacity(az, 0);
    await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 1 }));
    await waitFor(clock, 'failed activity', () => sim.activities('spot-asg').some((a) => a.statusCode === 'Failed'));
    await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 0 }));
    const count = sim.activities('spot-asg').length;
    await clock.sleep(3 * 60_000); // three retry intervals
    assert.equal(sim.activities('spot-asg').length, count);
  });
});

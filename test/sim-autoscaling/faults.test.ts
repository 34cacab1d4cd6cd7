import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DescribeAutoScalingGroupsCommand,
  ScalingActivityInProgressFault,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { expectAwsError, spotSpec, startAsg, waitFor, type TestAsg } from './helpers.js';

/** A deterministic "random" source: yields the given values, then 0.99 forever. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++] ?? 0.99;
}

describe('sim autoscaling: fault injection', () => {
  let t: TestAsg | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('throttling: a single-attempt client sees Throttling "Rate exceeded" (HTTP 400)', async () => {
    t = await startAsg();
    t.sim.setThrottle(1);
    const err = await expectAwsError(t.client1.send(new DescribeAutoScalingGroupsCommand({})));
    assert.equal(err.name, 'Throttling');
    assert.equal(err.message, 'Rate exceeded');
    assert.equal(err.status, 400);
    // One bucket for every action.
    const err2 = await expectAwsError(t.client1.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 3 })));
    assert.equal(err2.name, 'Throttling');
    assert.equal(t.sim.group('spot-asg').desiredCapacity, 2, 'a throttled call changes nothing');
  });

  it('throttling: the default client retries and eventually succeeds', async () => {
    t = await startAsg();
    // Half the calls throttled; the deterministic source throttles the first two attempts only.
    t.sim.setThrottle(0.5, sequence(0.1, 0.2));
    const out = await t.client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['spot-asg'] }));
    assert.equal(out.AutoScalingGroups?.length, 1);
    assert.equal(out.$metadata.attempts, 3);
    assert.equal(t.sim.callCounts().DescribeAutoScalingGroups, 3);
  });

  it('injected ScalingActivityInProgress surfaces as the SDK fault, then clears', async () => {
    t = await startAsg();
    t.sim.injectError('SetDesiredCapacity', 'ScalingActivityInProgress', 'Scaling activity is in progress.', 1);
    let caught: unknown;
    try {
      await t.client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 3 }));
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof ScalingActivityInProgressFault, `got ${String(caught)}`);
    assert.equal(caught.message, 'Scaling activity is in progress.');
    assert.equal(t.sim.group('spot-asg').desiredCapacity, 2);
    await t.client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 3 }));
    assert.equal(t.sim.group('spot-asg').desiredCapacity, 3);
  });

  it('injected ResourceContention is a server error (HTTP 500) the SDK retries', async () => {
    t = await startAsg();
    t.sim.injectError('DescribeAutoScalingGroups', 'ResourceContention', 'You already have a pending update to an Auto Scaling resource.', 1);
    const err = await expectAwsError(t.client1.send(new DescribeAutoScalingGroupsCommand({})));
    assert.equal(err.name, 'ResourceContentionFault');
    assert.equal(err.status, 500);
    t.sim.injectError('DescribeAutoScalingGroups', 'ResourceContention', 'You already have a pending update to an Auto Scaling resource.', 1);
    const ok = await t.client.send(new DescribeAutoScalingGroupsCommand({}));
    assert.equal(ok.$metadata.attempts, 2);
  });

  it('HonorCooldown=true is refused while the group cooldown runs', async () => {
    t = await startAsg([spotSpec({ desiredCapacity: 1 })]);
    const victim = t.sim.instances('spot-asg')[0]!.instanceId;
    t.sim.terminateInstance(victim, { decrement: false });
    // The termination and the replacement launch end scaling activities; cooldown (300 s) starts then.
    const { clock, sim } = t;
    await waitFor(clock, 'an ended activity', () => sim.activities('spot-asg').some((a) => a.endTime !== undefined));
    const err = await expectAwsError(
      t.client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 2, HonorCooldown: true })),
    );
    assert.equal(err.name, 'ScalingActivityInProgressFault');
    await t.client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 2, HonorCooldown: false }));
  });

  it('counts calls per action and adds latency (real ms)', async () => {
    t = await startAsg();
    t.sim.setLatencyMs(20);
    await t.client.send(new DescribeAutoScalingGroupsCommand({}));
    await t.client.send(new DescribeAutoScalingGroupsCommand({}));
    await t.client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'spot-asg', DesiredCapacity: 2 }));
    assert.deepEqual(t.sim.callCounts(), { DescribeAutoScalingGroups: 2, SetDesiredCapacity: 1 });
  });
});

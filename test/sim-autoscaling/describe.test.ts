import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { AZS, expectAwsError, onDemandSpec, spotSpec, startAsg, type TestAsg } from './helpers.js';

const run = promisify(execFile);

describe('sim autoscaling: describe', () => {
  let t: TestAsg;
  before(async () => {
    t = await startAsg([spotSpec({ desiredCapacity: 3, capacityRebalance: true, tags: { team: 'a&b <c>' } }), onDemandSpec({ desiredCapacity: 1 })]);
  });
  after(async () => t.close());

  it('DescribeAutoScalingGroups returns the group as the SDK models it', async () => {
    const out = await t.client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['spot-asg'] }));
    assert.equal(out.AutoScalingGroups?.length, 1);
    const g = out.AutoScalingGroups![0]!;
    assert.equal(g.AutoScalingGroupName, 'spot-asg');
    assert.equal(g.MinSize, 0);
    assert.equal(g.MaxSize, 10);
    assert.equal(g.DesiredCapacity, 3);
    assert.equal(g.CapacityRebalance, true);
    assert.deepEqual(g.AvailabilityZones, AZS);
    assert.match(g.AutoScalingGroupARN ?? '', /^arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:[0-9a-f-]{36}:autoScalingGroupName\/spot-asg$/);
    assert.ok(g.CreatedTime instanceof Date);
    assert.deepEqual(
      g.Tags?.map((x) => [x.Key, x.Value, x.ResourceId, x.ResourceType, x.PropagateAtLaunch]),
      [['team', 'a&b <c>', 'spot-asg', 'auto-scaling-group', true]],
    );
    assert.equal(g.Instances?.length, 3);
    for (const i of g.Instances ?? []) {
      assert.match(i.InstanceId ?? '', /^i-[0-9a-f]{17}$/);
      assert.equal(i.LifecycleState, 'InService');
      assert.equal(i.HealthStatus, 'Healthy');
      assert.equal(i.InstanceType, 'm5.large');
      assert.equal(i.ProtectedFromScaleIn, false);
      assert.ok(AZS.includes(i.AvailabilityZone ?? ''));
      assert.ok(i.LaunchTemplate?.LaunchTemplateId);
    }
    // The initial fleet is spread across the AZs.
    assert.equal(new Set(g.Instances?.map((i) => i.AvailabilityZone)).size, 3);
  });

  it('filters by name, returns all without a filter, ignores unknown names', async () => {
    const all = await t.client.send(new DescribeAutoScalingGroupsCommand({}));
    assert.deepEqual(all.AutoScalingGroups?.map((g) => g.AutoScalingGroupName).sort(), ['od-asg', 'spot-asg']);
    const none = await t.client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['nope'] }));
    assert.deepEqual(none.AutoScalingGroups, []);
    const od = await t.client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['od-asg', 'nope'] }));
    assert.deepEqual(od.AutoScalingGroups?.map((g) => g.AutoScalingGroupName), ['od-asg']);
    assert.equal(od.AutoScalingGroups?.[0]?.CapacityRebalance, false);
    assert.deepEqual(od.AutoScalingGroups?.[0]?.Tags, []);
  });

  it('paginates groups with MaxRecords / NextToken', async () => {
    const p1 = await t.client.send(new DescribeAutoScalingGroupsCommand({ MaxRecords: 1 }));
    assert.equal(p1.AutoScalingGroups?.length, 1);
    assert.ok(p1.NextToken);
    const p2 = await t.client.send(new DescribeAutoScalingGroupsCommand({ MaxRecords: 1, NextToken: p1.NextToken }));
    assert.equal(p2.AutoScalingGroups?.length, 1);
    assert.equal(p2.NextToken, undefined);
    assert.notEqual(p1.AutoScalingGroups?.[0]?.AutoScalingGroupName, p2.AutoScalingGroups?.[0]?.AutoScalingGroupName);
  });

  it('DescribeAutoScalingInstances finds instances by id across groups (HealthStatus upper-case, as AWS)', async () => {
    const spotIds = t.sim.instances('spot-asg').map((i) => i.instanceId);
    const odIds = t.sim.instances('od-asg').map((i) => i.instanceId);
    const out = await t.client.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [spotIds[0]!, odIds[0]!, 'i-00000000000000000'] }),
    );
    assert.equal(out.AutoScalingInstances?.length, 2);
    const [a, b] = out.AutoScalingInstances!;
    assert.equal(a?.InstanceId, spotIds[0]);
    assert.equal(a?.AutoScalingGroupName, 'spot-asg');
    assert.equal(a?.HealthStatus, 'HEALTHY');
    assert.equal(a?.LifecycleState, 'InService');
    assert.equal(b?.AutoScalingGroupName, 'od-asg');
    const all = await t.client.send(new DescribeAutoScalingInstancesCommand({}));
    assert.equal(all.AutoScalingInstances?.length, 4);
  });

  it('SetDesiredCapacity on an unknown group is a ValidationError', async () => {
    const err = await expectAwsError(t.client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: 'nope', DesiredCapacity: 1 })));
    assert.equal(err.name, 'ValidationError');
    assert.equal(err.status, 400);
    assert.match(err.message, /AutoScalingGroup name not found/);
  });

  it('an unknown action is refused with InvalidAction', async () => {
    const res = await fetch(t.sim.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=DescribeNothing&Version=2011-01-01',
    });
    assert.equal(res.status, 400);
    const text = await res.text();
    assert.match(text, /<ErrorResponse xmlns="http:\/\/autoscaling\.amazonaws\.com\/doc\/2011-01-01\/"><Error><Type>Sender<\/Type><Code>InvalidAction<\/Code>/);
  });

  it('the AWS CLI can describe the groups', async (ctx) => {
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'x',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_PAGER: '',
    };
    try {
      await run('aws', ['--version'], { env, timeout: 30_000 });
    } catch {
      ctx.skip('aws CLI not available');
      return;
    }
    const { stdout } = await run(
      'aws',
      ['autoscaling', 'describe-auto-scaling-groups', '--auto-scaling-group-names', 'spot-asg', '--endpoint-url', t.sim.url, '--output', 'json'],
      { env, timeout: 60_000 },
    );
    const parsed = JSON.parse(stdout) as { AutoScalingGroups: Array<{ AutoScalingGroupName: string; DesiredCapacity: number; Instances: unknown[] }> };
    assert.equal(parsed.AutoScalingGroups.length, 1);
    assert.equal(parsed.AutoScalingGroups[0]?.AutoScalingGroupName, 'spot-asg');
    assert.equal(parsed.AutoScalingGroups[0]?.DesiredCapacity, 3);
    assert.equal(parsed.AutoScalingGroups[0]?.Instances.length, 3);
  });
});

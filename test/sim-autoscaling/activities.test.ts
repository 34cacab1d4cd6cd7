import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeScalingActivitiesCommand, paginateDescribeScalingActivities } from '@aws-sdk/client-auto-scaling';
import { expectAwsError, onDemandSpec, spotSpec, startAsg, type TestAsg } from './helpers.js';

describe('sim autoscaling: DescribeScalingActivities', () => {
  let t: TestAsg;
  const planted: string[] = [];
  before(async () => {
    t = await startAsg([spotSpec({ desiredCapacity: 0 }), onDemandSpec()]);
    const base = t.clock.now() - 3_600_000;
    // 7 activities an hour ago, one minute apart, the last one a stale Failed launch.
    for (let i = 0; i < 7; i++) {
      const a = t.sim.addActivity('spot-asg', {
        startTime: base + i * 60_000,
        endTime: base + i * 60_000 + 1000,
        statusCode: i === 6 ? 'Failed' : 'Successful',
        description: `activity ${i}`,
        ...(i === 6 ? { statusMessage: 'There is no Spot capacity available that matches your request.' } : {}),
      });
      planted.push(a.activityId);
    }
    t.sim.addActivity('od-asg', { startTime: base, description: 'od activity' });
  });
  after(async () => t.close());

  it('returns the group\'s activities newest first', async () => {
    const out = await t.client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'spot-asg' }));
    assert.deepEqual(out.Activities?.map((a) => a.Description), [6, 5, 4, 3, 2, 1, 0].map((i) => `activity ${i}`));
    assert.equal(out.NextToken, undefined);
    const stale = out.Activities![0]!;
    assert.equal(stale.StatusCode, 'Failed');
    assert.equal(stale.StatusMessage, 'There is no Spot capacity available that matches your request.');
    assert.ok(stale.StartTime!.getTime() < t.clock.now() - 3_000_000);
  });

  it('paginates with MaxRecords and NextToken', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await t.client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'spot-asg', MaxRecords: 3, NextToken: token }));
      assert.ok((out.Activities?.length ?? 0) <= 3);
      seen.push(...(out.Activities ?? []).map((a) => a.Description ?? ''));
      token = out.NextToken;
      pages++;
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [6, 5, 4, 3, 2, 1, 0].map((i) => `activity ${i}`));
  });

  it('pages stay stable when new activities are recorded between them', async () => {
    const p1 = await t.client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'spot-asg', MaxRecords: 2 }));
    t.sim.addActivity('spot-asg', { description: 'newer', startTime: t.clock.now() - 1000 });
    const p2 = await t.client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'spot-asg', MaxRecords: 2, NextToken: p1.NextToken }));
    assert.deepEqual(p2.Activities?.map((a) => a.Description), ['activity 4', 'activity 3']);
  });

  it('works with the SDK paginator', async () => {
    const all: string[] = [];
    for await (const page of paginateDescribeScalingActivities({ client: t.client, pageSize: 4 }, { AutoScalingGroupName: 'spot-asg' })) {
      all.push(...(page.Activities ?? []).map((a) => a.Description ?? ''));
    }
    assert.equal(all.length, 8);
    assert.equal(all[0], 'newer');
  });

  it('filters by ActivityIds; without a group name it covers all groups', async () => {
    const out = await t.client.send(new DescribeScalingActivitiesCommand({ ActivityIds: [planted[1]!, planted[3]!] }));
    assert.deepEqual(out.Activities?.map((a) => a.Description), ['activity 3', 'activity 1']);
    const all = await t.client.send(new DescribeScalingActivitiesCommand({}));
    assert.ok(all.Activities?.some((a) => a.AutoScalingGroupName === 'od-asg'));
  });

  it('rejects MaxRecords above 100 and a bad NextToken', async () => {
    const big = await expectAwsError(t.client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'spot-asg', MaxRecords: 101 })));
    assert.equal(big.name, 'ValidationError');
    const bad = await expectAwsError(t.client.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: 'spot-asg', NextToken: 'garbage' })));
    assert.equal(bad.name, 'InvalidNextToken');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assessReplacement, instanceIdFromProviderId, outstandingLaunches, type CandidateNode } from '../../src/capacity/assess.js';
import { capacityFailureReason } from '../../src/capacity/capacity-failures.js';
import type { ActivityView, GroupView } from '../../src/capacity/types.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const request = { capacityType: 'spot' as const, group: 'spot', requestedAt: T0, desiredBefore: 2, desiredAfter: 3, baseline: ['i-a', 'i-b'] };

function group(instances: [string, string][], desired = 3): GroupView {
  return {
    name: 'spot',
    minSize: 0,
    maxSize: 10,
    desiredCapacity: desired,
    capacityRebalance: false,
    instances: instances.map(([instanceId, lifecycleState]) => ({ instanceId, lifecycleState, availabilityZone: 'us-east-1a', healthStatus: 'Healthy' })),
  };
}

function activity(statusCode: string, statusMessage: string, startTime: number): ActivityView {
  return { activityId: `a-${startTime}`, groupName: 'spot', statusCode, statusMessage, description: 'Launching a new EC2 instance.', cause: '', startTime };
}

const node = (name: string, instanceId: string, ready = true, claimedBy?: string): CandidateNode => ({
  name,
  instanceId,
  ready,
  ...(claimedBy ? { claimedBy } : {}),
});

const ICE = 'Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available that matches your request. Launching EC2 instance failed.';

describe('assessReplacement', () => {
  const base = { eventId: 'ev-1', request, now: T0 + 30_000, timeoutMs: 120_000 };

  it('is ready only with a NEW instance that is InService and whose Node is Ready', () => {
    const g = group([['i-a', 'InService'], ['i-b', 'InService'], ['i-c', 'InService']]);
    assert.deepEqual(assessReplacement({ ...base, group: g, activities: [], nodes: [node('n-c', 'i-c')] }), {
      kind: 'ready',
      instanceId: 'i-c',
      node: 'n-c',
      alreadyClaimed: false,
    });
    // InService but the Node is not Ready yet: wait.
    assert.equal(assessReplacement({ ...base, group: g, activities: [], nodes: [node('n-c', 'i-c', false)] }).kind, 'waiting');
    // Pending instance: wait.
    const pending = group([['i-a', 'InService'], ['i-b', 'InService'], ['i-c', 'Pending']]);
    assert.equal(assessReplacement({ ...base, group: pending, activities: [], nodes: [node('n-c', 'i-c')] }).kind, 'waiting');
  });

  it('is not fooled by counts: baseline instances never count, even when others terminate', () => {
    // i-b terminated and i-a is InService: the group "has 1 InService" but nothing new exists.
    const g = group([['i-a', 'InService'], ['i-b', 'Terminating']], 2);
    const a = assessReplacement({ ...base, group: g, activities: [], nodes: [node('n-a', 'i-a')] });
    assert.equal(a.kind, 'waiting');
  });

  it('never takes a node another event claimed; resumes with its own claim after a restart', () => {
    const g = group([['i-a', 'InService'], ['i-b', 'InService'], ['i-c', 'InService'], ['i-d', 'InService']], 4);
    const nodes = [node('n-c', 'i-c', true, 'ev-other'), node('n-d', 'i-d', true)];
    assert.deepEqual(assessReplacement({ ...base, group: g, activities: [], nodes }), { kind: 'ready', instanceId: 'i-d', node: 'n-d', alreadyClaimed: false });
    const mine = [node('n-c', 'i-c', true, 'ev-other'), node('n-d', 'i-d', true, 'ev-1')];
    assert.deepEqual(assessReplacement({ ...base, group: g, activities: [], nodes: mine }), { kind: 'ready', instanceId: 'i-d', node: 'n-d', alreadyClaimed: true });
  });

  it('fails early on a capacity failure that started after the request', () => {
    const g = group([['i-a', 'InService'], ['i-b', 'InService']]);
    const a = assessReplacement({ ...base, group: g, activities: [activity('Failed', ICE, T0 + 5_000)], nodes: [] });
    assert.equal(a.kind, 'failed');
    assert.match((a as { reason: string }).reason, /InsufficientInstanceCapacity/);
  });

  it('ignores stale failures from before the request and unrelated failures', () => {
    const g = group([['i-a', 'InService'], ['i-b', 'InService']]);
    const stale = activity('Failed', ICE, T0 - 60_000);
    const unrelated = activity('Failed', 'The requested configuration is currently not supported: launch template capacity reservation mismatch', T0 + 1_000);
    assert.equal(assessReplacement({ ...base, group: g, activities: [stale, unrelated], nodes: [] }).kind, 'waiting');
  });

  it('keeps waiting after a capacity failure while an unclaimed new instance is still coming (it may be ours)', () => {
    const g = group([['i-a', 'InService'], ['i-b', 'InService'], ['i-c', 'Pending']], 4);
    const a = assessReplacement({ ...base, group: g, activities: [activity('Failed', ICE, T0 + 5_000)], nodes: [] });
    assert.equal(a.kind, 'waiting');
  });

  it('fails at the deadline', () => {
    const g = group([['i-a', 'InService'], ['i-b', 'InService'], ['i-c', 'Pending']]);
    const a = assessReplacement({ ...base, now: T0 + 120_000, group: g, activities: [], nodes: [] });
    assert.equal(a.kind, 'failed');
    assert.match((a as { reason: string }).reason, /within 120 s/);
  });

  it('fails when the group is gone', () => {
    assert.equal(assessReplacement({ ...base, group: null, activities: [], nodes: [] }).kind, 'failed');
  });
});

describe('capacity failure matching', () => {
  it('matches specific insufficient-capacity reasons only', () => {
    assert.ok(capacityFailureReason(activity('Failed', ICE, T0)));
    assert.ok(
      capacityFailureReason(
        activity('Failed', 'We currently do not have sufficient m5.large capacity in the Availability Zone you requested (us-east-1a). Launching EC2 instance failed.', T0),
      ),
    );
    assert.ok(capacityFailureReason(activity('Cancelled', 'MaxSpotInstanceCountExceeded', T0)));
    assert.equal(capacityFailureReason(activity('Failed', 'capacity reservation not found', T0)), null, 'the bare word "capacity" is not enough');
    assert.equal(capacityFailureReason(activity('Successful', ICE, T0)), null, 'only failed activities');
  });
});

describe('helpers', () => {
  it('reads instance ids from providerIDs', () => {
    assert.equal(instanceIdFromProviderId('aws:///us-east-1a/i-0abc123'), 'i-0abc123');
    assert.equal(instanceIdFromProviderId('kind://docker/node'), null);
  });
  it('counts launches the group still owes', () => {
    assert.equal(outstandingLaunches(group([['i-a', 'InService'], ['i-b', 'Terminating']], 3)), 2);
    assert.equal(outstandingLaunches(group([['i-a', 'InService'], ['i-b', 'Pending']], 2)), 0);
  });
});

describe('late-filled +1', () => {
  it('an extended wait ends later than requestedAt + timeout', () => {
    const g = group([['i-a', 'InService'], ['i-b', 'InService'], ['i-c', 'Pending']]);
    const late = { ...request, extendedUntil: T0 + 300_000 };
    const a = assessReplacement({ eventId: 'ev-1', request: late, group: g, activities: [], nodes: [], now: T0 + 200_000, timeoutMs: 120_000 });
    assert.equal(a.kind, 'waiting');
  });
});

describe('which new instance a waiter takes', () => {
  it('takes the oldest Ready new instance, leaving newer ones to later requests', () => {
    const g = group([['i-a', 'InService'], ['i-b', 'InService'], ['i-c', 'InService'], ['i-d', 'InService']], 4);
    const nodes = [
      { name: 'ip-10-0-0-99', instanceId: 'i-d', ready: true, createdAt: T0 + 60_000 },
      { name: 'ip-10-0-0-104', instanceId: 'i-c', ready: true, createdAt: T0 + 30_000 },
    ];
    const a = assessReplacement({ eventId: 'ev-1', request, group: g, activities: [], nodes, now: T0 + 90_000, timeoutMs: 120_000 });
    assert.equal(a.kind === 'ready' ? a.instanceId : a.kind, 'i-c');
  });
});

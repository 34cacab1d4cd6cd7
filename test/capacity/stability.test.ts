import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { judgeStability, type SpotObservation } from '../../src/capacity/stability.js';
import type { ActivityView, GroupInstance, GroupView } from '../../src/capacity/types.js';

const MIN = 60_000;
const WINDOW = 10 * MIN;
const T0 = Date.parse('2025-03-01T00:00:00Z');

const INSUFFICIENT =
  'We currently do not have sufficient m5.large capacity in the Availability Zone you requested (us-east-1a). ' +
  'Our system will be working on provisioning additional capacity. You can currently get m5.large capacity by not ' +
  'specifying an Availability Zone in your request or choosing us-east-1b, us-east-1c. Launching EC2 instance failed.';

function instance(id: string, lifecycleState = 'InService'): GroupInstance {
  return { instanceId: id, availabilityZone: 'us-east-1a', lifecycleState, healthStatus: 'Healthy', instanceType: 'm5.large' };
}

function group(instances: GroupInstance[], desiredCapacity = instances.length): GroupView {
  return { name: 'spot', minSize: 0, maxSize: 10, desiredCapacity, capacityRebalance: false, instances };
}

let activitySeq = 0;
function activity(startTime: number, statusCode: string, statusMessage: string, extra: Partial<ActivityView> = {}): ActivityView {
  return {
    activityId: `act-${++activitySeq}`,
    groupName: 'spot',
    statusCode,
    statusMessage,
    description: 'Launching a new EC2 instance.  Status Reason: ' + statusMessage,
    cause: `At ${new Date(startTime).toISOString()} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from 2 to 3.`,
    startTime,
    ...extra,
  };
}

/** A healthy observation: two InService instances, both with Ready nodes, nothing else. */
function healthy(now: number, over: Partial<SpotObservation> = {}): SpotObservation {
  return {
    now,
    group: group([instance('i-a'), instance('i-b')]),
    activities: [],
    nodeReady: new Map([
      ['i-a', true],
      ['i-b', true],
    ]),
    interruptions: [],
    unavailable: null,
    ...over,
  };
}

describe('judgeStability', () => {
  it('stable only once the whole window has passed with no bad signal', () => {
    const lastBad = T0;
    const before = judgeStability(healthy(T0 + WINDOW - 1), lastBad, WINDOW);
    assert.equal(before.stable, false);
    assert.equal(before.since, T0);
    assert.match(before.reason, /^spot not stable/);
    const atWindow = judgeStability(healthy(T0 + WINDOW), lastBad, WINDOW);
    assert.equal(atWindow.stable, true);
    assert.equal(atWindow.since, T0);
    assert.match(atWindow.reason, /spot stable for 600 s/);
    assert.equal(judgeStability(healthy(T0 + 3 * WINDOW), lastBad, WINDOW).stable, true);
  });

  const badSignals: [string, (now: number) => Partial<SpotObservation>, RegExp][] = [
    ['an instance not InService', () => ({ group: group([instance('i-a'), instance('i-b', 'Pending')]) }), /i-b is Pending/],
    ['an instance Terminating', () => ({ group: group([instance('i-a'), instance('i-b', 'Terminating:Wait')]) }), /i-b is Terminating:Wait/],
    [
      'a node not Ready',
      () => ({
        nodeReady: new Map([
          ['i-a', true],
          ['i-b', false],
        ]),
      }),
      /i-b has no Ready node/,
    ],
    ['a missing node', () => ({ nodeReady: new Map([['i-a', true]]) }), /i-b has no Ready node/],
    ['the group below its desired capacity', () => ({ group: group([instance('i-a'), instance('i-b')], 3) }), /below its desired capacity/],
    ['the group not found', () => ({ group: null }), /spot group not found/],
    ['a live capacity-cache entry', (now) => ({ unavailable: { at: now - 2 * MIN, until: now + MIN, reason: 'InsufficientInstanceCapacity' } }), /capacity cache: InsufficientInstanceCapacity/],
  ];

  for (const [name, bad, why] of badSignals) {
    it(`${name} restarts the window now`, () => {
      const lastBad = T0;
      const now = T0 + 2 * WINDOW; // would be stable without the signal
      assert.equal(judgeStability(healthy(now), lastBad, WINDOW).stable, true);
      const s = judgeStability(healthy(now, bad(now)), lastBad, WINDOW);
      assert.equal(s.stable, false);
      assert.equal(s.since, now);
      assert.match(s.reason, why);
      // Once the signal is gone, a full window must pass again from `since`.
      assert.equal(judgeStability(healthy(now + WINDOW - 1), s.since, WINDOW).stable, false);
      assert.equal(judgeStability(healthy(now + WINDOW), s.since, WINDOW).stable, true);
    });
  }

  it('a capacity failure restarts the window from the activity start time', () => {
    const lastBad = T0;
    const failedAt = T0 + 15 * MIN;
    const now = T0 + 20 * MIN;
    const s = judgeStability(healthy(now, { activities: [activity(failedAt, 'Failed', INSUFFICIENT)] }), lastBad, WINDOW);
    assert.equal(s.stable, false);
    assert.equal(s.since, failedAt);
    assert.match(s.reason, /failed spot launch: We currently do not have sufficient m5\.large capacity/);
    // The same activity is still listed later; it counts from its own time, not from each look.
    assert.equal(judgeStability(healthy(failedAt + WINDOW - 1, { activities: [activity(failedAt, 'Failed', INSUFFICIENT)] }), s.since, WINDOW).stable, false);
    const later = judgeStability(healthy(failedAt + WINDOW, { activities: [activity(failedAt, 'Failed', INSUFFICIENT)] }), s.since, WINDOW);
    assert.equal(later.stable, true);
    assert.equal(later.since, failedAt);
  });

  it('a launch that waited long and then failed counts from when it failed (its end), not from its start', () => {
    const started = T0 + 5 * MIN;
    const failed = T0 + 24 * MIN;
    const now = T0 + 25 * MIN;
    const a = activity(started, 'Failed', 'There is no Spot capacity available that matches your request. Launching EC2 instance failed.', { endTime: failed });
    const s = judgeStability(healthy(now, { activities: [a] }), T0, WINDOW);
    assert.equal(s.stable, false, 'a failure a minute ago is not 20 minutes old');
    assert.equal(s.since, failed);
    assert.equal(judgeStability(healthy(failed + WINDOW, { activities: [a] }), s.since, WINDOW).stable, true);
  });

  it('other capacity-failure texts and codes count too (message, description or cause)', () => {
    const now = T0 + 30 * MIN;
    const t = T0 + 25 * MIN;
    const failures = [
      activity(t, 'Failed', 'There is no Spot capacity available that matches your request. Launching EC2 instance failed.'),
      activity(t, 'Cancelled', '', { description: 'Launching a new EC2 instance. Status Reason: UnfulfillableCapacity', cause: '' }),
      activity(t, 'Failed', 'Launching EC2 instance failed.', { cause: 'InsufficientInstanceCapacity: no m5.large in us-east-1a' }),
    ];
    for (const a of failures) {
      const s = judgeStability(healthy(now, { activities: [a] }), T0, WINDOW);
      assert.equal(s.stable, false, a.statusMessage || a.description);
      assert.equal(s.since, t);
    }
  });

  it('failed activities that are not capacity failures, and unfinished ones, do not count', () => {
    const now = T0 + 30 * MIN;
    const t = T0 + 25 * MIN;
    const harmless = [
      activity(t, 'Failed', 'Invalid IAM Instance Profile name. Launching EC2 instance failed.'),
      activity(t, 'Failed', 'The requested configuration is currently not supported. Please check the documentation for supported configurations. Launching EC2 instance failed.'),
      activity(t, 'Failed', 'You are not authorized to perform this operation. Launching EC2 instance failed.'),
      // Successful launch whose cause talks about "capacity" (as every launch's cause does).
      activity(t, 'Successful', ''),
      // Still in progress: not (yet) a failure, whatever it says.
      activity(t, 'InProgress', INSUFFICIENT),
      activity(t, 'PendingSpotBidPlacement', 'Placing Spot instance request. Status Reason: capacity-not-available'),
    ];
    const s = judgeStability(healthy(now, { activities: harmless }), T0, WINDOW);
    assert.equal(s.stable, true, s.reason);
    assert.equal(s.since, T0);
  });

  it('a rebalance recommendation or ITN restarts the window from its time', () => {
    const now = T0 + 30 * MIN;
    const itn = T0 + 24 * MIN;
    const rebalance = T0 + 22 * MIN;
    const s = judgeStability(healthy(now, { interruptions: [rebalance, itn] }), T0, WINDOW);
    assert.equal(s.stable, false);
    assert.equal(s.since, itn, 'the latest signal wins');
    assert.match(s.reason, /rebalance recommendation or interruption/);
    assert.equal(judgeStability(healthy(itn + WINDOW, { interruptions: [rebalance, itn] }), s.since, WINDOW).stable, true);
  });

  it('an expired capacity-cache entry counts from when it was recorded', () => {
    const recorded = T0 + 18 * MIN;
    const entry = { at: recorded, until: recorded + 3 * MIN, reason: 'no spot' };
    const s = judgeStability(healthy(T0 + 25 * MIN, { unavailable: entry }), T0, WINDOW);
    assert.equal(s.stable, false);
    assert.equal(s.since, recorded);
    assert.equal(judgeStability(healthy(recorded + WINDOW, { unavailable: entry }), s.since, WINDOW).stable, true);
  });

  it('signals older than the last bad time change nothing', () => {
    const lastBad = T0 + 20 * MIN;
    const s = judgeStability(
      healthy(T0 + 25 * MIN, { interruptions: [T0 + 5 * MIN], activities: [activity(T0 + 10 * MIN, 'Failed', INSUFFICIENT)] }),
      lastBad,
      WINDOW,
    );
    assert.equal(s.since, lastBad);
    assert.equal(s.stable, false);
  });

  it('flapping spot (bad, quiet a minute, bad, …) never becomes stable', () => {
    // The reference implementation's timer never reset: flapping spot looked stable (brief §3, failure 9).
    let lastBad = T0;
    let now = T0;
    for (let i = 0; i < 60; i++) {
      // A bad moment of some kind…
      now += 30_000;
      const kind = i % 4;
      const bad: Partial<SpotObservation> =
        kind === 0
          ? { group: group([instance('i-a'), instance('i-b', 'Pending')]) }
          : kind === 1
            ? { activities: [activity(now - 10_000, 'Failed', INSUFFICIENT)] }
            : kind === 2
              ? { interruptions: [now - 5_000] }
              : { nodeReady: new Map([['i-a', true]]) };
      let s = judgeStability(healthy(now, bad), lastBad, WINDOW);
      assert.equal(s.stable, false, `step ${i} (bad)`);
      lastBad = s.since;
      // …then a quiet minute, checked every 10 s.
      for (let q = 0; q < 6; q++) {
        now += 10_000;
        s = judgeStability(healthy(now), lastBad, WINDOW);
        assert.equal(s.stable, false, `step ${i}.${q} (quiet)`);
        lastBad = s.since;
      }
    }
    // After the flapping stops, a full quiet window from the last bad signal is needed.
    assert.equal(judgeStability(healthy(lastBad + WINDOW - 1_000), lastBad, WINDOW).stable, false);
    assert.equal(judgeStability(healthy(lastBad + WINDOW), lastBad, WINDOW).stable, true);
  });

  it('lastBad is carried across calls: a bad signal that has since gone still counts', () => {
    const badAt = T0 + 20 * MIN;
    const first = judgeStability(healthy(badAt, { group: group([instance('i-a'), instance('i-b', 'Pending')]) }), T0, WINDOW);
    assert.equal(first.since, badAt);
    // The Pending instance is gone (or InService) by the next check: the restart still holds.
    const second = judgeStability(healthy(badAt + 5 * MIN), first.since, WINDOW);
    assert.equal(second.stable, false);
    assert.equal(second.since, badAt);
    assert.match(second.reason, /^spot not stable: last bad signal seen \(or agent start\) 300 s ago$/);
    const third = judgeStability(healthy(badAt + WINDOW), second.since, WINDOW);
    assert.equal(third.stable, true);
    assert.equal(third.since, badAt);
    // A fresh caller starting from "now" (agent start) waits a full window even with a healthy group.
    const fresh = judgeStability(healthy(badAt + WINDOW), badAt + WINDOW, WINDOW);
    assert.equal(fresh.stable, false);
  });

  it('an empty, healthy group with desired 0 is judged only by the other signals', () => {
    const s = judgeStability(healthy(T0 + WINDOW, { group: group([], 0), nodeReady: new Map() }), T0, WINDOW);
    assert.equal(s.stable, true);
  });
});

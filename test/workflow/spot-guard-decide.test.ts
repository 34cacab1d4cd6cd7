import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide } from '../../src/workflow/decide.js';
import type { SpotGuardPolicy } from '../../src/workflow/policy.js';
import type { CapacityRequestRecord, EventRecord } from '../../src/workflow/record.js';
import { SEC, T0, policy, record } from './fixtures.js';

const sg: SpotGuardPolicy = {
  spotGroup: 'spot',
  onDemandGroup: 'od',
  taint: { key: 'spot-instance-terminating', value: 'true', effect: 'NoSchedule' },
  pollIntervalMs: 10 * SEC,
  scaleTimeoutMs: 120 * SEC,
  capacityCheckTimeoutMs: 120 * SEC,
  capacityCacheTtlMs: 180 * SEC,
  retireAfterDrain: true,
};

function req(over: Partial<CapacityRequestRecord> = {}): CapacityRequestRecord {
  return {
    capacityType: 'spot',
    group: 'spot',
    requestedAt: new Date(T0).toISOString(),
    desiredBefore: 2,
    desiredAfter: 3,
    baseline: [],
    confirmed: true,
    outcome: 'waiting',
    undone: false,
    ...over,
  };
}

function rebalance(phase: EventRecord['phase'], requests: CapacityRequestRecord[] = [], extra: Partial<NonNullable<EventRecord['spotGuard']>> = {}) {
  return record('rb-1', 'REBALANCE_RECOMMENDATION', { phase, spotGuard: { requests, retired: false, ...extra } });
}

const ctx = (over: Partial<Parameters<typeof decide>[1]> = {}) => ({
  now: T0 + 60 * SEC,
  node: { bootId: 'boot-1' },
  policy: policy({ rebalanceDrain: true, spotGuard: sg }),
  ...over,
});

describe('Spot Guard decisions (replacement before drain)', () => {
  it('asks for spot first and never cordons before a replacement exists', () => {
    assert.deepEqual(decide(rebalance('Pending'), ctx()), { type: 'request-capacity', capacityType: 'spot' });
    const waiting = rebalance('Replacing', [req()]);
    assert.equal(decide(waiting, ctx()).type, 'await-replacement');
    assert.equal(decide(waiting, ctx({ lastPollAt: T0 + 55 * SEC })).type, 'wait', 'polls every SPOT_GUARD_POLL_INTERVAL');
  });

  it('settles an unconfirmed +1 (crash window) before anything else', () => {
    assert.equal(decide(rebalance('Replacing', [req({ confirmed: false })]), ctx()).type, 'confirm-request');
  });

  it('spot failed → undo its +1 → on-demand → both failed → no capacity', () => {
    assert.equal(decide(rebalance('Replacing', [req({ outcome: 'failed' })]), ctx()).type, 'undo-request');
    assert.deepEqual(decide(rebalance('Replacing', [req({ outcome: 'failed', undone: true })]), ctx()), {
      type: 'request-capacity',
      capacityType: 'on-demand',
    });
    const both = [req({ outcome: 'failed', undone: true }), req({ capacityType: 'on-demand', group: 'od', outcome: 'failed', undone: false })];
    assert.equal(decide(rebalance('Replacing', both), ctx()).type, 'undo-request', 'an unfilled on-demand +1 is taken back too');
    both[1]!.undone = true;
    assert.equal(decide(rebalance('Replacing', both), ctx()).type, 'no-capacity');
  });

  it('no capacity: waits for the retry time, then asks for spot again', () => {
    const failed = [req({ outcome: 'failed', undone: true }), req({ capacityType: 'on-demand', group: 'od', outcome: 'failed', undone: true })];
    const retryAt = new Date(T0 + 240 * SEC).toISOString();
    const rec = rebalance('NoCapacity', failed, { retryAt });
    assert.deepEqual(decide(rec, ctx()), { type: 'wait', until: T0 + 240 * SEC, reason: 'no capacity; retrying replacement later' });
    assert.deepEqual(decide(rec, ctx({ now: T0 + 241 * SEC })), { type: 'request-capacity', capacityType: 'spot' });
  });

  it('replacement Ready → cordon (taint) → drain → retire', () => {
    const replacement = { instanceId: 'i-new', node: 'n-new', capacityType: 'spot' as const, readyAt: new Date(T0).toISOString() };
    assert.equal(decide(rebalance('Replacing', [req({ outcome: 'ready' })], { replacement }), ctx()).type, 'cordon');
    assert.equal(decide(rebalance('Cordoned', [], { replacement }), ctx()).type, 'drain');
    assert.equal(decide(rebalance('Drained', [], { replacement }), ctx()).type, 'retire');
    assert.equal(decide(rebalance('Drained', [], { replacement, retired: true }), ctx()).type, 'none');
    const noRetire = ctx({ policy: policy({ rebalanceDrain: true, spotGuard: { ...sg, retireAfterDrain: false } }) });
    assert.equal(decide(rebalance('Drained', [], { replacement }), noRetire).type, 'none');
  });

  it('without ENABLE_REBALANCE_DRAINING it stays cordoned until an ITN drains the node, then retires', () => {
    const monitorOnly = policy({ rebalanceDrain: false, spotGuard: sg });
    assert.equal(decide(rebalance('Cordoned'), ctx({ policy: monitorOnly })).type, 'none');
    assert.equal(decide(rebalance('Cordoned'), ctx({ policy: monitorOnly, siblingDrained: true })).type, 'mark-drained');
  });

  it('an ITN drained the node while the replacement is on its way: retire now (once), keep awaiting the replacement', () => {
    const waiting = [req()];
    assert.equal(decide(rebalance('Replacing', waiting), ctx({ siblingDrained: true })).type, 'retire');
    assert.equal(decide(rebalance('Replacing', waiting, { retired: true }), ctx({ siblingDrained: true })).type, 'await-replacement');
    assert.equal(decide(rebalance('Replacing', [req({ confirmed: false })]), ctx({ siblingDrained: true })).type, 'confirm-request');
    assert.equal(decide(rebalance('Replacing', [req({ outcome: 'failed' })]), ctx({ siblingDrained: true })).type, 'undo-request');
    const noRetire = ctx({ siblingDrained: true, policy: policy({ rebalanceDrain: true, spotGuard: { ...sg, retireAfterDrain: false } }) });
    assert.equal(decide(rebalance('Replacing', waiting), noRetire).type, 'await-replacement');
  });

  it('is not used when Spot Guard is off (NTH rebalance handling)', () => {
    assert.equal(decide(rebalance('Pending'), ctx({ policy: policy({ rebalanceDrain: true }), now: T0 + 500 * SEC })).type, 'cordon');
  });
});

describe('Spot Guard no-capacity rounds', () => {
  const failedRound = (at: number) => [
    req({ requestedAt: new Date(at).toISOString(), outcome: 'failed', undone: true }),
    req({ capacityType: 'on-demand', group: 'od', requestedAt: new Date(at + SEC).toISOString(), outcome: 'failed', undone: true }),
  ];

  it('a retry round whose spot request hits the capacity cache goes on to on-demand, not round and round', () => {
    const cacheHit = req({ requestedAt: new Date(T0 + 300 * SEC).toISOString(), desiredBefore: -1, desiredAfter: -1, outcome: 'failed', undone: true });
    const rec = rebalance('NoCapacity', [...failedRound(T0), cacheHit], { retryAt: new Date(T0 + 200 * SEC).toISOString() });
    assert.deepEqual(decide(rec, ctx({ now: T0 + 301 * SEC })), { type: 'request-capacity', capacityType: 'on-demand' });
  });

  it('when the retry round fails too, "no capacity" is recorded again (new retry time) before any new request', () => {
    const round2 = failedRound(T0 + 300 * SEC);
    const rec = rebalance('NoCapacity', [...failedRound(T0), ...round2], { retryAt: new Date(T0 + 200 * SEC).toISOString() });
    assert.equal(decide(rec, ctx({ now: T0 + 400 * SEC })).type, 'no-capacity');
    const after = rebalance('NoCapacity', [...failedRound(T0), ...round2], { retryAt: new Date(T0 + 500 * SEC).toISOString() });
    assert.equal(decide(after, ctx({ now: T0 + 400 * SEC })).type, 'wait');
  });
});

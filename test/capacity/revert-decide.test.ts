import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideRevert, type RevertFacts, type RevertPolicy } from '../../src/capacity/revert-decide.js';
import type { ReplacementClaim } from '../../src/capacity/capacity-ops.js';
import type { RevertPhase, RevertRecord } from '../../src/capacity/revert-record.js';
import { parseRevertWindow } from '../../src/capacity/revert-window.js';
import type { Stability } from '../../src/capacity/stability.js';
import type { CapacityRequestRecord } from '../../src/workflow/record.js';

const MIN = 60_000;
// A Wednesday, 12:00 UTC.
const NOW = Date.parse('2025-01-08T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

const policy = (over: Partial<RevertPolicy> = {}): RevertPolicy => ({
  enabled: true,
  minimumWaitMs: 30 * MIN,
  stabilityMs: 10 * MIN,
  checkIntervalMs: MIN,
  concurrency: 1,
  window: { kind: 'always' },
  backoffInitialMs: 10 * MIN,
  backoffMaxMs: 120 * MIN,
  ...over,
});

const claim = (over: Partial<ReplacementClaim> = {}): ReplacementClaim => ({
  event: 'evt-1',
  node: 'ip-10-0-0-1',
  capacityType: 'on-demand',
  fallback: true,
  at: iso(NOW - 2 * 60 * MIN),
  ...over,
});

const STABLE: Stability = { stable: true, since: NOW - 60 * MIN, reason: 'spot stable for 3600 s' };
const UNSTABLE: Stability = { stable: false, since: NOW - 2 * MIN, reason: 'spot not stable: failed spot launch: no capacity 120 s ago' };

/** Facts for a fallback node with no revert under way and everything clear. */
const eligible = (over: Partial<RevertFacts> = {}): RevertFacts => ({
  now: NOW,
  policy: policy(),
  claim: claim(),
  record: null,
  cacheUntil: null,
  backoffUntil: null,
  stability: STABLE,
  pollIntervalMs: 10_000,
  ...over,
});

const request = (over: Partial<CapacityRequestRecord> = {}): CapacityRequestRecord => ({
  capacityType: 'spot',
  group: 'spot-asg',
  requestedAt: iso(NOW - 5 * MIN),
  desiredBefore: 3,
  desiredAfter: 4,
  baseline: ['i-1', 'i-2', 'i-3'],
  confirmed: true,
  outcome: 'waiting',
  undone: false,
  ...over,
});

const record = (phase: RevertPhase, over: Partial<RevertRecord> = {}): RevertRecord => ({
  v: 1,
  id: 'revert-1',
  phase,
  slot: 0,
  startedAt: iso(NOW - 10 * MIN),
  updatedAt: iso(NOW - MIN),
  requests: [],
  protectedNodes: [],
  drainAttempts: 0,
  ...over,
});

/** Facts with a revert under way (eligibility inputs are not gathered then). */
const underway = (r: RevertRecord, over: Partial<RevertFacts> = {}): RevertFacts => ({
  now: NOW,
  policy: policy(),
  claim: claim(),
  record: r,
  pollIntervalMs: 10_000,
  ...over,
});

describe('decideRevert: before a revert starts', () => {
  it('a node that is not fallback capacity is never reverted', () => {
    assert.deepEqual(decideRevert(eligible({ claim: null })), { type: 'none', reason: 'not fallback capacity' });
    assert.deepEqual(decideRevert(eligible({ claim: claim({ fallback: false }) })), { type: 'none', reason: 'not fallback capacity' });
  });

  it('revert to spot switched off: nothing to do', () => {
    const step = decideRevert(eligible({ policy: policy({ enabled: false }) }));
    assert.equal(step.type, 'none');
    assert.match((step as { reason: string }).reason, /off/);
  });

  it('outside the revert window: wait', () => {
    // NOW is Wednesday 12:00 UTC.
    const step = decideRevert(eligible({ policy: policy({ window: parseRevertWindow('Mon:22:00-Tue:04:00') }) }));
    assert.equal(step.type, 'wait');
    assert.match((step as { reason: string }).reason, /outside the revert window/);
    assert.equal(decideRevert(eligible({ policy: policy({ window: { kind: 'never' } }) })).type, 'wait');
    // Inside the window: go.
    assert.deepEqual(decideRevert(eligible({ policy: policy({ window: parseRevertWindow('Wed:11:00-Wed:13:00') }) })), { type: 'start' });
  });

  it('minimum wait: waits until claim.at + minimumWait, then starts', () => {
    const claimedAt = NOW - 10 * MIN;
    const facts = eligible({ claim: claim({ at: iso(claimedAt) }) });
    const step = decideRevert(facts);
    assert.equal(step.type, 'wait');
    assert.equal((step as { until?: number }).until, claimedAt + 30 * MIN);
    assert.match((step as { reason: string }).reason, /minimum wait: eligible in 1200 s/);
    assert.equal(decideRevert({ ...facts, now: claimedAt + 30 * MIN - 1 }).type, 'wait');
    assert.deepEqual(decideRevert({ ...facts, now: claimedAt + 30 * MIN }), { type: 'start' });
  });

  it('a live capacity-cache entry: wait until it expires', () => {
    const until = NOW + 3 * MIN;
    const step = decideRevert(eligible({ cacheUntil: until }));
    assert.equal(step.type, 'wait');
    assert.equal((step as { until?: number }).until, until);
    assert.match((step as { reason: string }).reason, /capacity cache, 180 s left/);
    // Expired entry: no obstacle.
    assert.deepEqual(decideRevert(eligible({ cacheUntil: NOW })), { type: 'start' });
  });

  it('a cluster-wide probe backoff: wait until it ends', () => {
    const until = NOW + 20 * MIN;
    const step = decideRevert(eligible({ backoffUntil: until }));
    assert.equal(step.type, 'wait');
    assert.equal((step as { until?: number }).until, until);
    assert.match((step as { reason: string }).reason, /backing off after a failed spot probe \(1200 s left\)/);
    assert.deepEqual(decideRevert(eligible({ backoffUntil: NOW - 1 })), { type: 'start' });
  });

  it('spot not stable: wait, giving the stability reason', () => {
    assert.deepEqual(decideRevert(eligible({ stability: UNSTABLE })), { type: 'wait', reason: UNSTABLE.reason });
    const unknown = eligible();
    delete unknown.stability;
    assert.equal(decideRevert(unknown).type, 'wait', 'no stability judgement means no start');
  });

  it('all clear: start', () => {
    assert.deepEqual(decideRevert(eligible()), { type: 'start' });
  });

  it('checks in order: switch, fallback, window, minimum wait, cache, backoff, stability', () => {
    const all: Partial<RevertFacts> = {
      policy: policy({ window: { kind: 'never' } }),
      claim: claim({ at: iso(NOW) }),
      cacheUntil: NOW + MIN,
      backoffUntil: NOW + MIN,
      stability: UNSTABLE,
    };
    const reason = (f: Partial<RevertFacts>) => (decideRevert(eligible(f)) as { reason?: string }).reason ?? '';
    assert.match(reason({ ...all, policy: policy({ enabled: false }) }), /off/);
    assert.match(reason({ ...all, claim: claim({ fallback: false }) }), /not fallback/);
    assert.match(reason(all), /outside the revert window/);
    assert.match(reason({ ...all, policy: policy() }), /minimum wait/);
    assert.match(reason({ ...all, policy: policy(), claim: claim() }), /capacity cache/);
    assert.match(reason({ ...all, policy: policy(), claim: claim(), cacheUntil: null }), /backing off/);
    assert.match(reason({ ...all, policy: policy(), claim: claim(), cacheUntil: null, backoffUntil: null }), /not stable/);
  });
});

describe('decideRevert: a revert under way', () => {
  it('Probing with no request yet: request spot', () => {
    assert.deepEqual(decideRevert(underway(record('Probing'))), { type: 'request-spot' });
  });

  it('Probing with an unconfirmed request (crash window): confirm it', () => {
    assert.deepEqual(decideRevert(underway(record('Probing', { requests: [request({ confirmed: false })] }))), { type: 'confirm-request' });
  });

  it('Probing and waiting: await the spot node, at most once per poll interval', () => {
    const r = record('Probing', { requests: [request()] });
    assert.deepEqual(decideRevert(underway(r)), { type: 'await-spot' }, 'first look: poll at once');
    const lastPollAt = NOW - 4_000;
    const step = decideRevert(underway(r, { lastPollAt }));
    assert.equal(step.type, 'wait');
    assert.equal((step as { until?: number }).until, lastPollAt + 10_000);
    assert.deepEqual(decideRevert(underway(r, { lastPollAt: NOW - 10_000 })), { type: 'await-spot' });
    // 'ready' (the assessment found it) but not yet recorded as the replacement: keep polling.
    assert.deepEqual(decideRevert(underway(record('Probing', { requests: [request({ outcome: 'ready' })] }))), { type: 'await-spot' });
  });

  it('Probing, the request failed and the +1 is not undone: undo it', () => {
    const r = record('Probing', { requests: [request({ outcome: 'failed', reason: 'no spot capacity' })] });
    assert.deepEqual(decideRevert(underway(r)), { type: 'undo-request' });
  });

  it('Probing, the request failed and was undone: abandon with its reason', () => {
    const r = record('Probing', { requests: [request({ outcome: 'failed', reason: 'no spot capacity', undone: true })] });
    assert.deepEqual(decideRevert(underway(r)), { type: 'abandon', reason: 'no spot capacity' });
    const noReason = record('Probing', { requests: [request({ outcome: 'failed', undone: true })] });
    assert.deepEqual(decideRevert(underway(noReason)), { type: 'abandon', reason: 'spot probe failed' });
  });

  it('only the last request counts', () => {
    const r = record('Probing', { requests: [request({ outcome: 'failed', undone: true }), request({ confirmed: false })] });
    assert.deepEqual(decideRevert(underway(r)), { type: 'confirm-request' });
  });

  it('Probing with a Ready replacement: cordon (whatever the request says)', () => {
    const replacement = { instanceId: 'i-new', node: 'ip-10-0-9-9', readyAt: iso(NOW - MIN) };
    assert.deepEqual(decideRevert(underway(record('Probing', { replacement, requests: [request({ outcome: 'ready' })] }))), { type: 'cordon' });
    assert.deepEqual(decideRevert(underway(record('Probing', { replacement, requests: [request()] }), { lastPollAt: NOW })), { type: 'cordon' });
  });

  for (const phase of ['Cordoned', 'Draining'] as const) {
    it(`${phase}: drain, honouring the drain retry backoff`, () => {
      const r = record(phase, { replacement: { instanceId: 'i-new', node: 'n', readyAt: iso(NOW - MIN) } });
      assert.deepEqual(decideRevert(underway(r)), { type: 'drain' });
      const retryAt = NOW + 30_000;
      const step = decideRevert(underway(r, { drainRetryAt: retryAt }));
      assert.equal(step.type, 'wait');
      assert.equal((step as { until?: number }).until, retryAt);
      assert.match((step as { reason: string }).reason, /drain retry/);
      assert.deepEqual(decideRevert(underway(r, { drainRetryAt: retryAt, now: retryAt })), { type: 'drain' });
    });
  }

  it('Retiring: retire', () => {
    assert.deepEqual(decideRevert(underway(record('Retiring'))), { type: 'retire' });
  });

  it('Done: nothing more', () => {
    assert.equal(decideRevert(underway(record('Done'))).type, 'none');
  });

  it('a revert under way is finished even if the switch, the window or the claim changed since it started', () => {
    const r = record('Draining');
    assert.deepEqual(decideRevert(underway(r, { policy: policy({ enabled: false }) })), { type: 'drain' });
    assert.deepEqual(decideRevert(underway(r, { policy: policy({ window: { kind: 'never' } }) })), { type: 'drain' });
    assert.deepEqual(decideRevert(underway(record('Retiring'), { claim: null })), { type: 'retire' });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateHealth } from '../../src/observability/health.js';
import type { Clock } from '../../src/shared/clock.js';

const clockAt = (t: number): Clock => ({ now: () => t, sleep: async () => {} });
const START = 1_000_000;
const base = { monitorLastPassAt: () => START + 100_000, startedAt: START, staleAfterMs: 30_000 };

describe('evaluateHealth: Kubernetes API reachability', () => {
  it('a recent successful call is healthy; its age is reported', () => {
    const r = evaluateHealth({ ...base, clock: clockAt(START + 101_000), kubernetes: { lastSuccessAt: () => START + 90_000, unreachableAfterMs: 60_000 } });
    assert.equal(r.healthy, true);
    assert.equal(r.kubernetesLastSuccessAgeMs, 11_000);
  });

  it('no success for longer than the bound is unhealthy, with a reason', () => {
    const r = evaluateHealth({ ...base, clock: clockAt(START + 101_000), kubernetes: { lastSuccessAt: () => START + 30_000, unreachableAfterMs: 60_000 } });
    assert.equal(r.healthy, false);
    assert.deepEqual(r.reasons, ['Kubernetes API unreachable: last successful call 71 s ago (limit 60 s)']);
  });

  it('never reached: counted from start-up', () => {
    const early = evaluateHealth({ ...base, clock: clockAt(START + 50_000), monitorLastPassAt: () => START + 45_000, kubernetes: { lastSuccessAt: () => 0, unreachableAfterMs: 60_000 } });
    assert.equal(early.healthy, true);
    assert.equal(early.kubernetesLastSuccessAgeMs, null);
    const late = evaluateHealth({ ...base, clock: clockAt(START + 101_000), kubernetes: { lastSuccessAt: () => 0, unreachableAfterMs: 60_000 } });
    assert.match(late.reasons[0]!, /no successful call since start 101 s ago/);
  });

  it('both problems are reported together', () => {
    const r = evaluateHealth({ ...base, clock: clockAt(START + 200_000), kubernetes: { lastSuccessAt: () => START, unreachableAfterMs: 60_000 } });
    assert.equal(r.reasons.length, 2);
  });
});

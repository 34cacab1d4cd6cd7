import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateHealth } from '../../src/observability/health.js';
import type { Clock } from '../../src/shared/clock.js';

const clockAt = (t: number): Clock => ({ now: () => t, sleep: async () => {} });
const START = 1_000_000;

describe('evaluateHealth (liveness of the monitor loop)', () => {
  it('a recent pass is healthy', () => {
    const r = evaluateHealth({ clock: clockAt(START + 65_000), monitorLastPassAt: () => START + 60_000, startedAt: START, staleAfterMs: 30_000 });
    assert.equal(r.healthy, true);
    assert.deepEqual(r.reasons, []);
    assert.equal(r.monitorLastPassAgeMs, 5_000);
  });

  it('a stale loop is unhealthy, with a reason that says how stale', () => {
    const r = evaluateHealth({ clock: clockAt(START + 100_000), monitorLastPassAt: () => START + 10_000, startedAt: START, staleAfterMs: 30_000 });
    assert.equal(r.healthy, false);
    assert.equal(r.reasons.length, 1);
    assert.match(r.reasons[0]!, /90 s ago/);
    assert.equal(r.monitorLastPassAgeMs, 90_000);
  });

  it('start-up gets the same allowance before the first pass, then fails', () => {
    const early = evaluateHealth({ clock: clockAt(START + 10_000), monitorLastPassAt: () => 0, startedAt: START, staleAfterMs: 30_000 });
    assert.equal(early.healthy, true);
    assert.equal(early.monitorLastPassAgeMs, null);
    const late = evaluateHealth({ clock: clockAt(START + 45_000), monitorLastPassAt: () => 0, startedAt: START, staleAfterMs: 30_000 });
    assert.equal(late.healthy, false);
    assert.match(late.reasons[0]!, /not run since start/);
  });
});

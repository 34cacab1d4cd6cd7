import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../src/shared/backoff.js';

const noJitter = { baseMs: 1_000, maxMs: 30_000, jitter: 0 };

describe('backoffDelay', () => {
  it('doubles per attempt', () => {
    assert.deepEqual([0, 1, 2, 3].map((a) => backoffDelay(a, noJitter)), [1_000, 2_000, 4_000, 8_000]);
  });

  it('is capped, even for huge attempt numbers', () => {
    assert.equal(backoffDelay(5, noJitter), 30_000);
    assert.equal(backoffDelay(10_000, noJitter), 30_000);
  });

  it('treats a negative attempt as the first', () => {
    assert.equal(backoffDelay(-3, noJitter), 1_000);
  });

  it('keeps jitter within [delay × (1 − jitter), delay]', () => {
    const policy = { baseMs: 1_000, maxMs: 30_000, jitter: 0.5 };
    assert.equal(backoffDelay(2, policy, () => 0), 2_000);
    assert.equal(backoffDelay(2, policy, () => 0.999999), 4_000);
    assert.equal(backoffDelay(2, policy, () => 0.5), 3_000);
    assert.equal(backoffDelay(9, policy, () => 0.999999), 30_000, 'jitter never exceeds the cap');
  });

  it('uses the injected random source', () => {
    let calls = 0;
    backoffDelay(1, { baseMs: 100, maxMs: 1_000, jitter: 0.2 }, () => {
      calls++;
      return 0.3;
    });
    assert.equal(calls, 1);
  });
});

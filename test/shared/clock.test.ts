import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AbortError, Deadline, ScaledClock, isAbortError, type Clock } from '../../src/shared/clock.js';

function manualClock(start: number): Clock & { t: number; slept: number[] } {
  return {
    t: start,
    slept: [],
    now() {
      return this.t;
    },
    async sleep(ms: number) {
      this.slept.push(ms);
      this.t += ms;
    },
  };
}

describe('ScaledClock', () => {
  it('starts at the given time and refuses a non-positive scale', () => {
    const c = new ScaledClock(1000, 5_000_000);
    assert.ok(c.now() >= 5_000_000);
    assert.throws(() => new ScaledClock(0));
    assert.throws(() => new ScaledClock(Number.NaN));
  });

  it('a simulated minute passes in well under a real second', async () => {
    const c = new ScaledClock(1000);
    const before = c.now();
    await c.sleep(60_000);
    assert.ok(c.now() - before >= 60_000 - 1000);
  });

  it('sleep rejects with an AbortError when aborted, before or during', async () => {
    const c = new ScaledClock(1);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(c.sleep(10, ac.signal), (e) => isAbortError(e));
    const ac2 = new AbortController();
    const p = c.sleep(60_000, ac2.signal);
    ac2.abort();
    await assert.rejects(p, (e) => e instanceof AbortError);
  });
});

describe('Deadline', () => {
  it('expires at its time and never sleeps past it', async () => {
    const clock = manualClock(1_000);
    const d = Deadline.after(clock, 10_000);
    assert.equal(d.at, 11_000);
    assert.equal(d.expired(), false);
    await d.sleep(4_000);
    assert.equal(d.remainingMs(), 6_000);
    await d.sleep(60_000);
    assert.deepEqual(clock.slept, [4_000, 6_000]);
    assert.equal(d.expired(), true);
    assert.equal(d.remainingMs(), 0);
  });
});

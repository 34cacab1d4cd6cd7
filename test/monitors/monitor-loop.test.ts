import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MonitorLoop } from '../../src/monitors/monitor-loop.js';
import type { Monitor } from '../../src/monitors/monitors.js';
import { Metrics } from '../../src/observability/metrics.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ScaledClock, type Clock } from '../../src/shared/clock.js';
import type { InterruptionNotice } from '../../src/workflow/notice.js';

const itn: InterruptionNotice = { id: 'spot-itn-1', kind: 'SPOT_ITN', monitor: 'good', startTime: 0, description: 'itn' };

const good: Monitor = { name: 'good', poll: async () => [itn] };
const broken: Monitor = {
  name: 'broken',
  poll: async () => {
    throw new Error('IMDS said 500');
  },
};

async function errorCount(metrics: Metrics): Promise<number> {
  const m = await metrics.registry.getSingleMetric('events_error_total')?.get();
  return (m?.values ?? []).reduce((s, v) => s + v.value, 0);
}

function manualClock(start: number): Clock & { t: number } {
  return { t: start, now() { return this.t; }, sleep: async () => {} };
}

describe('MonitorLoop', () => {
  it('a throwing monitor is counted and does not stop the others', async () => {
    const metrics = new Metrics();
    const handed: InterruptionNotice[][] = [];
    const loop = new MonitorLoop({
      monitors: [broken, good],
      clock: manualClock(1_000),
      intervalMs: 2_000,
      logger: silentLogger(),
      metrics,
      onNotices: (n) => handed.push(n),
    });
    const seen = await loop.pollOnce();
    assert.deepEqual(seen, [itn]);
    assert.deepEqual(handed, [[itn]]);
    assert.equal(await errorCount(metrics), 1);
    const text = await metrics.registry.getSingleMetricAsString('events_error_total');
    assert.match(text, /events_error_total\{event_error_where="monitor"\} 1/);
    await loop.pollOnce();
    assert.equal(await errorCount(metrics), 2, 'every failed poll counts');
  });

  it('hands over the empty set when nothing was seen, so vanished notices are forgotten', async () => {
    const handed: InterruptionNotice[][] = [];
    const passes: InterruptionNotice[][] = [];
    const loop = new MonitorLoop({
      monitors: [{ name: 'quiet', poll: async () => [] }],
      clock: manualClock(1_000),
      intervalMs: 2_000,
      logger: silentLogger(),
      metrics: new Metrics(),
      onNotices: (n) => handed.push(n),
      onPass: (n) => passes.push(n),
    });
    await loop.pollOnce();
    assert.deepEqual(handed, [[]]);
    assert.deepEqual(passes, [[]]);
  });

  it('lastPassAt advances with every pass, even when all monitors fail', async () => {
    const clock = manualClock(5_000);
    const loop = new MonitorLoop({ monitors: [broken], clock, intervalMs: 2_000, logger: silentLogger(), metrics: new Metrics(), onNotices: () => {} });
    assert.equal(loop.lastPassAt, 0);
    await loop.pollOnce();
    assert.equal(loop.lastPassAt, 5_000);
    clock.t = 7_000;
    await loop.pollOnce();
    assert.equal(loop.lastPassAt, 7_000);
    assert.equal(loop.passes, 2);
  });

  it('run polls every interval until aborted', async () => {
    const clock = new ScaledClock(1000);
    const ac = new AbortController();
    let polls = 0;
    const loop = new MonitorLoop({
      monitors: [{ name: 'count', poll: async () => { if (++polls === 3) ac.abort(); return []; } }],
      clock,
      intervalMs: 2_000,
      logger: silentLogger(),
      metrics: new Metrics(),
      onNotices: () => {},
    });
    await loop.run(ac.signal);
    assert.equal(polls, 3);
    assert.ok(loop.lastPassAt > 0);
  });
});

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { waitUntil } from './harness.js';
import { ON_DEMAND, SPOT, desired, liveInstances, recordsOn, startSpotGuardWorld } from './spot-guard-harness.js';

it('rebalance + ITN together, instance reclaimed', async () => {
  const t = await startSpotGuardWorld({ spot: { joinDelayMs: 100_000 } });
  const { world: w, clock } = t;
  try {
    const atRisk = w.groupNodes(SPOT)[0]!;
    const spot0 = desired(w, SPOT), od0 = desired(w, ON_DEMAND);
    const fleet = () => liveInstances(w, SPOT).length + liveInstances(w, ON_DEMAND).length;
    const f0 = fleet();
    w.imds(atRisk).setRebalanceRecommendation({});
    w.reclaimSpotInstance(atRisk);
    await waitUntil(clock, () => !w.nodeNames().includes(atRisk), { what: 'gone', timeoutMs: 600_000 });
    await waitUntil(clock, () => w.settled(), { what: 'settled', timeoutMs: 600_000 });
    await clock.sleep(200_000);
    await waitUntil(clock, () => w.settled(), { what: 'settled', timeoutMs: 600_000 });
    console.log({ spot0, od0, f0, spot: desired(w, SPOT), od: desired(w, ON_DEMAND), f: fleet() });
    assert.equal(fleet(), f0);
  } finally { await t.stop(); }
});

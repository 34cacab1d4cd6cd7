import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { REPLACEMENT_ANNOTATION, parseClaim } from '../../src/capacity/replacement.js';
import { waitUntil } from './harness.js';
import { ON_DEMAND, SPOT, desired, liveInstances, recordsOn, startSpotGuardWorld, type SpotGuardWorld } from './spot-guard-harness.js';

interface NodeShape {
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean; taints?: { key: string; value?: string; effect: string }[]; providerID?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

const ready = (n: NodeShape | undefined) => n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Watches the API server: at the moment the at-risk node is first tainted or cordoned, was a replacement Ready? */
function watchOrder(t: SpotGuardWorld, atRisk: string) {
  const seen: { touchedAt?: number; replacementReadyWhenTouched?: boolean } = {};
  const unsubscribe = t.world.kube.onChange((ev) => {
    if (ev.resource !== 'nodes' || seen.touchedAt !== undefined) return;
    const n = ev.object as unknown as NodeShape;
    if (n.metadata.name !== atRisk) return;
    if (n.spec?.unschedulable || (n.spec?.taints ?? []).some((x) => x.key === 'spot-instance-terminating')) {
      seen.touchedAt = t.clock.now();
      seen.replacementReadyWhenTouched = t.world.kube
        .list<NodeShape>('nodes')
        .some((o) => parseClaim(o.metadata.annotations?.[REPLACEMENT_ANNOTATION])?.node === atRisk && ready(o));
    }
  });
  return { seen, unsubscribe };
}

describe('Spot Guard: replacement before drain', () => {
  let t: SpotGuardWorld | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('spot success: a Ready spot replacement first, then taint, cordon, drain, retire; fleet size unchanged', async () => {
    t = await startSpotGuardWorld();
    const { world, clock } = t;
    const spotBefore = desired(world, SPOT);
    const odBefore = desired(world, ON_DEMAND);
    const atRisk = world.groupNodes(SPOT)[0]!;
    const order = watchOrder(t, atRisk);
    world.imds(atRisk).setRebalanceRecommendation({});

    await waitUntil(clock, () => recordsOn(world, atRisk).some((r) => r.phase === 'Done'), { what: 'rebalance handled to the end', timeoutMs: 900_000 });
    order.unsubscribe();
    const rec = recordsOn(world, atRisk).find((r) => r.kind === 'REBALANCE_RECOMMENDATION')!;
    assert.equal(rec.spotGuard?.replacement?.capacityType, 'spot');
    assert.equal(rec.spotGuard?.retired, true);
    assert.equal(rec.spotGuard?.requests.length, 1, 'one scale-up');
    assert.equal(order.seen.replacementReadyWhenTouched, true, 'the replacement was Ready before the at-risk node was touched');

    // The at-risk instance is retired and its node leaves; the group is back to its size.
    await waitUntil(clock, () => !world.nodeNames().includes(atRisk), { what: 'at-risk node gone', timeoutMs: 300_000 });
    assert.equal(desired(world, SPOT), spotBefore);
    assert.equal(desired(world, ON_DEMAND), odBefore);
    assert.equal(liveInstances(world, SPOT).length, spotBefore);
    const replacement = world.kube.get<NodeShape>('nodes', undefined, rec.spotGuard!.replacement!.node)!;
    assert.equal(parseClaim(replacement.metadata.annotations?.[REPLACEMENT_ANNOTATION])?.fallback, false);
  });
});

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { REPLACEMENT_ANNOTATION, parseClaim } from '../../src/capacity/replacement.js';
import { waitUntil } from './harness.js';
import { AZS, ON_DEMAND, SPOT, desired, liveInstances, recordsOn, startSpotGuardWorld, type SpotGuardWorld } from './spot-guard-harness.js';

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

  const fleetSize = (t: SpotGuardWorld) => liveInstances(t.world, SPOT).length + liveInstances(t.world, ON_DEMAND).length;
  const noSpot = (t: SpotGuardWorld) => AZS.forEach((az) => t.world.autoscaling!.setSpotCapacity(az, 0));
  const rebalanceRecord = (t: SpotGuardWorld, node: string) => recordsOn(t.world, node).find((r) => r.kind === 'REBALANCE_RECOMMENDATION');

  it('spot insufficient capacity → on-demand fallback; the unfilled spot +1 is taken back; fleet size unchanged', async () => {
    t = await startSpotGuardWorld();
    const { world, clock } = t;
    const before = { spot: desired(world, SPOT), od: desired(world, ON_DEMAND), fleet: fleetSize(t) };
    noSpot(t);
    const atRisk = world.groupNodes(SPOT)[0]!;
    const order = watchOrder(t, atRisk);
    world.imds(atRisk).setRebalanceRecommendation({});
    await waitUntil(clock, () => rebalanceRecord(t!, atRisk)?.phase === 'Done', { what: 'fallback handled', timeoutMs: 900_000 });
    order.unsubscribe();
    const rec = rebalanceRecord(t, atRisk)!;
    const [spotReq, odReq] = rec.spotGuard!.requests;
    assert.equal(spotReq?.outcome, 'failed');
    assert.match(spotReq!.reason ?? '', /InsufficientInstanceCapacity|Spot capacity/);
    assert.equal(spotReq?.undone, true);
    assert.equal(odReq?.capacityType, 'on-demand');
    assert.equal(rec.spotGuard!.replacement!.capacityType, 'on-demand');
    assert.equal(order.seen.replacementReadyWhenTouched, true);
    const fallbackNode = world.kube.get<NodeShape>('nodes', undefined, rec.spotGuard!.replacement!.node)!;
    const claim = parseClaim(fallbackNode.metadata.annotations?.[REPLACEMENT_ANNOTATION]);
    assert.deepEqual({ fallback: claim?.fallback, event: claim?.event, node: claim?.node }, { fallback: true, event: rec.id, node: atRisk });
    assert.equal(fallbackNode.metadata.labels?.['spot-guard.io/fallback'], 'true');
    await waitUntil(clock, () => !world.nodeNames().includes(atRisk), { what: 'at-risk node gone', timeoutMs: 300_000 });
    assert.equal(desired(world, SPOT), before.spot - 1, 'spot: +1 taken back, then the at-risk instance retired');
    assert.equal(desired(world, ON_DEMAND), before.od + 1);
    assert.equal(fleetSize(t), before.fleet);
  });

  it('a second node within the cache TTL goes straight to on-demand', async () => {
    t = await startSpotGuardWorld();
    const { world, clock } = t;
    noSpot(t);
    const [first, second] = world.groupNodes(SPOT);
    world.imds(first!).setRebalanceRecommendation({});
    await waitUntil(clock, () => rebalanceRecord(t!, first!)?.spotGuard?.requests[0]?.outcome === 'failed', { what: 'spot failed once', timeoutMs: 600_000 });
    const callsBefore = world.autoscaling!.callCounts().SetDesiredCapacity ?? 0;
    world.imds(second!).setRebalanceRecommendation({});
    await waitUntil(clock, () => ['Done'].includes(rebalanceRecord(t!, second!)?.phase ?? ''), { what: 'second handled', timeoutMs: 900_000 });
    const rec = rebalanceRecord(t, second!)!;
    assert.match(rec.spotGuard!.requests[0]!.reason ?? '', /capacity cache/, 'spot skipped thanks to the cache');
    assert.equal(rec.spotGuard!.requests[0]!.desiredAfter, -1, 'no spot +1 was made');
    assert.equal(rec.spotGuard!.replacement!.capacityType, 'on-demand');
    const hits = await world.agent(second!)?.metrics.registry.getSingleMetricAsString('spot_guard_capacity_cache_hits_total');
    if (hits) assert.match(hits, /spot_guard_capacity_cache_hits_total\{group="spot-asg"\} 1/);
    assert.ok((world.autoscaling!.callCounts().SetDesiredCapacity ?? 0) > callsBefore);
  });

  it('MaxSize reached on spot → on-demand without touching the spot group', async () => {
    t = await startSpotGuardWorld({ spot: { maxSize: 3 } });
    const { world, clock } = t;
    const before = { spot: desired(world, SPOT), fleet: fleetSize(t) };
    const atRisk = world.groupNodes(SPOT)[0]!;
    world.imds(atRisk).setRebalanceRecommendation({});
    await waitUntil(clock, () => rebalanceRecord(t!, atRisk)?.phase === 'Done', { what: 'handled', timeoutMs: 900_000 });
    const rec = rebalanceRecord(t, atRisk)!;
    assert.match(rec.spotGuard!.requests[0]!.reason ?? '', /MaxSize 3 reached/);
    assert.equal(rec.spotGuard!.replacement!.capacityType, 'on-demand');
    await waitUntil(clock, () => !world.nodeNames().includes(atRisk), { what: 'at-risk node gone', timeoutMs: 300_000 });
    assert.equal(desired(world, SPOT), before.spot - 1);
    assert.equal(fleetSize(t), before.fleet);
  });

  it('both fail: tainted and cordoned but NOT drained; replacement retried after the TTL once capacity returns', async () => {
    t = await startSpotGuardWorld({ env: { SPOT_GUARD_CAPACITY_CACHE_TTL: '2m' } });
    const { world, clock } = t;
    const before = fleetSize(t);
    noSpot(t);
    AZS.forEach((az) => world.autoscaling!.setOnDemandCapacity(az, 0));
    const atRisk = world.groupNodes(SPOT)[0]!;
    const podsOn = () =>
      world.kube
        .list<{ metadata: { ownerReferences?: { kind: string }[] } }>('pods', { fieldSelector: `spec.nodeName=${atRisk}` })
        .filter((p) => !(p.metadata.ownerReferences ?? []).some((o) => o.kind === 'DaemonSet')).length;
    const podsBefore = podsOn();
    world.imds(atRisk).setRebalanceRecommendation({});
    await waitUntil(clock, () => rebalanceRecord(t!, atRisk)?.phase === 'NoCapacity', { what: 'no capacity', timeoutMs: 900_000 });
    const n = world.kube.get<NodeShape>('nodes', undefined, atRisk)!;
    assert.equal(n.spec?.unschedulable, true);
    assert.ok((n.spec?.taints ?? []).some((x) => x.key === 'spot-instance-terminating'));
    assert.equal(podsOn(), podsBefore, 'nothing evicted without a replacement');
    const noCap = await world.agent(atRisk)!.metrics.registry.getSingleMetricAsString('spot_guard_no_capacity_total');
    assert.match(noCap, /spot_guard_no_capacity_total [1-9]/);

    // Capacity returns: the retry after the TTL finds spot again.
    AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 5));
    await waitUntil(clock, () => rebalanceRecord(t!, atRisk)?.phase === 'Done', { what: 'replaced and retired after capacity returned', timeoutMs: 1_200_000 });
    const rec = rebalanceRecord(t, atRisk)!;
    assert.equal(rec.spotGuard!.replacement!.capacityType, 'spot');
    await waitUntil(clock, () => !world.nodeNames().includes(atRisk), { what: 'at-risk node gone', timeoutMs: 300_000 });
    assert.equal(fleetSize(t), before);
  });

  it('20 simultaneous recommendations → desired exactly +20 and 20 distinct replacements; fleet size unchanged', async () => {
    // Speed 10: 25 agents share one process here, and real CPU time is amplified into simulated time.
    t = await startSpotGuardWorld({ spot: { desiredCapacity: 22, maxSize: 60 }, replicas: 20, speed: 10 });
    const { world, clock } = t;
    const before = { spot: desired(world, SPOT), fleet: fleetSize(t) };
    const atRisk = world.groupNodes(SPOT).slice(0, 20);
    // Each +1 as recorded by its event: (desired before → after). A lost update would show as two
    // events that read the same "before".
    const increments = new Map<string, string>();
    const unsubscribe = world.kube.onChange((ev) => {
      if (ev.resource !== 'nodes') return;
      const n = ev.object as unknown as NodeShape;
      for (const r of recordsOn(world, n.metadata.name)) {
        for (const q of r.spotGuard?.requests ?? []) if (q.confirmed && q.desiredAfter > 0) increments.set(`${n.metadata.name}/${q.group}`, `${q.desiredBefore}->${q.desiredAfter}`);
      }
    });
    for (const n of atRisk) world.imds(n).setRebalanceRecommendation({});
    await waitUntil(clock, () => atRisk.every((n) => !world.nodeNames().includes(n) || rebalanceRecord(t!, n)?.phase === 'Done' || rebalanceRecord(t!, n)?.phase === 'Drained'), {
      what: 'all 20 handled',
      timeoutMs: 1_800_000,
    });
    unsubscribe();
    // Every recommendation got its own replacement: 20 distinct claimed nodes, each naming its at-risk node.
    const claims = world.kube
      .list<NodeShape>('nodes')
      .map((n) => parseClaim(n.metadata.annotations?.[REPLACEMENT_ANNOTATION]))
      .filter((c) => c !== null);
    assert.equal(new Set(claims.map((c) => c!.node)).size, 20);
    assert.equal(claims.length, 20);
    const spotIncrements = [...increments.entries()].filter(([k]) => k.endsWith(`/${SPOT}`)).map(([, v]) => v);
    assert.equal(spotIncrements.length, 20, 'one +1 per recommendation');
    assert.equal(new Set(spotIncrements.map((v) => v.split('->')[0])).size, 20, 'no two +1s read the same desired capacity (no lost update)');
    await waitUntil(clock, () => atRisk.every((n) => !world.nodeNames().includes(n)), { what: 'at-risk nodes retired', timeoutMs: 600_000 });
    assert.equal(desired(world, SPOT), before.spot);
    assert.equal(fleetSize(t), before.fleet);
  });
});

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { REPLACEMENT_ANNOTATION, parseClaim } from '../../src/capacity/capacity-ops.js';
import { CA_SCALE_DOWN_DISABLED, REVERT_ANNOTATION, parseRevert } from '../../src/capacity/revert-record.js';
import type { SimWorld } from '../../src/sim/world.js';
import { waitUntil } from './harness.js';
import { AZS, ON_DEMAND, SPOT, desired, liveInstances, startSpotGuardWorld, type SpotGuardWorld } from './spot-guard-harness.js';

interface NodeShape {
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean; providerID?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

const fleetSize = (w: SimWorld) => liveInstances(w, SPOT).length + liveInstances(w, ON_DEMAND).length;
const nodes = (w: SimWorld) => w.kube.list<NodeShape>('nodes');
const fallbackNodes = (w: SimWorld) => nodes(w).filter((n) => parseClaim(n.metadata.annotations?.[REPLACEMENT_ANNOTATION])?.fallback);
const pendingPods = (w: SimWorld) =>
  w.kube.list<{ spec?: { nodeName?: string }; metadata: { namespace?: string; deletionTimestamp?: string } }>('pods').filter(
    (p) => p.metadata.namespace === 'default' && !p.spec?.nodeName && !p.metadata.deletionTimestamp,
  ).length;

/** A fallback: spot exhausted, a rebalance on one spot node → an on-demand replacement. */
async function withFallback(t: SpotGuardWorld): Promise<string> {
  const { world, clock } = t;
  AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 0));
  const atRisk = world.groupNodes(SPOT)[0]!;
  world.imds(atRisk).setRebalanceRecommendation({});
  await waitUntil(clock, () => fallbackNodes(world).length === 1 && !world.nodeNames().includes(atRisk), { what: 'fallback in place', timeoutMs: 900_000 });
  return fallbackNodes(world)[0]!.metadata.name;
}

describe('revert to spot', () => {
  let t: SpotGuardWorld | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('spot returns after 15 min: the fallback node is replaced by spot and removed; fleet size unchanged; nothing Pending', async () => {
    t = await startSpotGuardWorld({ speed: 100 });
    const { world, clock } = t;
    const before = { fleet: fleetSize(world), spot: desired(world, SPOT), od: desired(world, ON_DEMAND) };
    const fallback = await withFallback(t);
    assert.equal(desired(world, ON_DEMAND), before.od + 1);
    let maxPending = 0;
    let drainedWithoutReplacement = false;
    const unsubscribe = world.kube.onChange((ev) => {
      maxPending = Math.max(maxPending, pendingPods(world));
      if (ev.resource !== 'nodes') return;
      const n = ev.object as unknown as NodeShape;
      if (n.metadata.name === fallback && n.spec?.unschedulable) {
        const rec = parseRevert(n.metadata.annotations ?? {}).record;
        const repl = rec?.replacement ? world.kube.get<NodeShape>('nodes', undefined, rec.replacement.node) : undefined;
        const ready = repl?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        if (!ready) drainedWithoutReplacement = true;
      }
    });
    const restoreAt = clock.now() + 15 * 60_000;
    await clock.sleep(restoreAt - clock.now());
    AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 10));
    let revertMetrics = '';
    await waitUntil(
      clock,
      async () => {
        const agent = world.nodeNames().includes(fallback) ? world.agent(fallback) : undefined;
        if (agent) revertMetrics = await agent.metrics.registry.getSingleMetricAsString('spot_guard_reverts_total');
        return !world.nodeNames().includes(fallback);
      },
      { what: 'fallback node removed', timeoutMs: 1_800_000 },
    );
    await waitUntil(clock, () => world.settled(), { what: 'fleet settled', timeoutMs: 600_000 });
    unsubscribe();
    assert.equal(drainedWithoutReplacement, false, 'the fallback node was never cordoned before its spot replacement was Ready');
    assert.equal(desired(world, ON_DEMAND), before.od, 'on-demand back to its size');
    assert.equal(desired(world, SPOT), before.spot, 'spot back to its size');
    assert.equal(fleetSize(world), before.fleet);
    assert.equal(maxPending <= 1, true, `no pods left Pending for lack of capacity (max ${maxPending})`);
    // Only what Spot Guard added is removed: the Cluster Autoscaler annotation is gone from the new spot node.
    const spotNodes = nodes(world).filter((n) => parseClaim(n.metadata.annotations?.[REPLACEMENT_ANNOTATION])?.node === fallback);
    assert.equal(spotNodes.length, 1, 'one spot node replaced the fallback');
    assert.equal(spotNodes[0]!.metadata.annotations?.[CA_SCALE_DOWN_DISABLED], undefined);
    // Spot came back at 15 min; a probe before that (signals looked quiet) may have failed and backed off.
    const count = (result: string) => Number(new RegExp(`result="${result}"\\} (\\d+)`).exec(revertMetrics)?.[1] ?? 0);
    assert.equal(count('replaced'), 1);
    assert.equal(count('started'), count('failed') + 1, 'every probe but the last failed and backed off');
    assert.ok(count('started') <= 2, 'a failed probe backs off (10 min) instead of retrying at once');
  });

  it('baseline on-demand nodes (not fallback) are never touched', async () => {
    t = await startSpotGuardWorld({ speed: 100, onDemand: { desiredCapacity: 2 } });
    const { world, clock } = t;
    const od = world.groupNodes(ON_DEMAND);
    await clock.sleep(13 * 60_000); // past the 10 min minimum wait a fallback node would need
    assert.deepEqual(world.groupNodes(ON_DEMAND), od);
    for (const n of od) {
      assert.equal(world.kube.get<NodeShape>('nodes', undefined, n)?.spec?.unschedulable, undefined);
      assert.equal(world.kube.get<NodeShape>('nodes', undefined, n)?.metadata.annotations?.[REVERT_ANNOTATION], undefined);
    }
    assert.equal(desired(world, ON_DEMAND), 2);
  });

  it('revert window "never": nothing moves', async () => {
    t = await startSpotGuardWorld({ speed: 100, env: { SPOT_GUARD_REVERT_WINDOW: 'never' } });
    const { world, clock } = t;
    const fallback = await withFallback(t);
    AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 10));
    const spotBefore = desired(world, SPOT);
    await clock.sleep(16 * 60_000);
    assert.ok(world.nodeNames().includes(fallback));
    assert.equal(desired(world, SPOT), spotBefore);
    assert.equal(parseRevert(world.kube.get<NodeShape>('nodes', undefined, fallback)!.metadata.annotations ?? {}).record, null);
  });
});

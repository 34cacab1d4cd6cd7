/**
 * Revert to spot under adversity (issue 4, tests): the agent killed and restarted in every phase of
 * a revert, five fallback nodes with one revert slot, dry run, and the Cluster Autoscaler annotation
 * under API errors. Every scenario watches the whole run (kube change events) for the two promises
 * the feature makes: no on-demand node is cordoned or drained before its spot replacement is Ready,
 * and the cluster's schedulable capacity never drops below what it had. (Spot flapping for an hour:
 * revert-flapping.test.ts.)
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { CA_SCALE_DOWN_DISABLED, REVERT_ANNOTATION, type RevertRecord } from '../../src/capacity/revert-record.js';
import { waitUntil } from './harness.js';
import {
  MIN,
  asgWrites,
  captureLogs,
  claimOf,
  fallbackNodes,
  fleetSize,
  getNode,
  kubeWrites,
  makeFallback,
  nodes,
  pendingPods,
  revertOf,
  schedulable,
  watchLaunches,
  watchReverts,
  type NodeShape,
  type PodShape,
} from './revert-harness.js';
import { AZS, ON_DEMAND, SPOT, desired, spotGuardEnv, startSpotGuardWorld, type SpotGuardWorld } from './spot-guard-harness.js';

describe('revert to spot: restarts, concurrency, dry run', () => {
  let t: SpotGuardWorld | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('the Cluster Autoscaler annotation comes off the replacement even when the API server refuses at first', async () => {
    t = await startSpotGuardWorld({ speed: 100 });
    const { world, clock } = t;
    AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 0));
    const fallback = await makeFallback(t, world.groupNodes(SPOT)[0]!);
    AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 10));
    let replacement = '';
    const unsubscribe = world.kube.onChange((ev) => {
      if (ev.resource !== 'nodes' || ev.type === 'DELETED' || (ev.object as unknown as NodeShape).metadata.name !== fallback) return;
      const rec = revertOf(ev.object as unknown as NodeShape);
      if (rec?.phase === 'Retiring' && !replacement) {
        replacement = rec.replacement!.node;
        // The first two attempts to take the annotation off fail.
        world.kube.injectFault({ method: 'PATCH', resource: 'nodes', name: replacement, status: 503, times: 2 });
      }
    });
    await waitUntil(clock, () => !world.nodeNames().includes(fallback) && world.settled(), { what: 'fallback node reverted and removed', timeoutMs: 60 * MIN });
    unsubscribe();
    assert.ok(replacement, 'the revert reached Retiring');
    assert.equal(getNode(world, replacement)?.metadata.annotations?.[CA_SCALE_DOWN_DISABLED], undefined, 'annotation removed after the retries');
    assert.equal(fleetSize(world), 4);
  });

  it('five fallback nodes, concurrency 1: reverted one at a time, all five, fleet size unchanged', async () => {
    t = await startSpotGuardWorld({ speed: 100, spot: { desiredCapacity: 5 } });
    const { world, clock } = t;
    const before = { fleet: fleetSize(world), spot: desired(world, SPOT), od: desired(world, ON_DEMAND), schedulable: schedulable(world) };
    AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 0));
    const atRisk = world.groupNodes(SPOT);
    assert.equal(atRisk.length, 5);
    for (const n of atRisk) world.imds(n).setRebalanceRecommendation({});
    await waitUntil(clock, () => fallbackNodes(world).length === 5 && atRisk.every((n) => !world.nodeNames().includes(n)), {
      what: 'five fallback nodes in place',
      timeoutMs: 30 * MIN,
    });
    const fallbacks = fallbackNodes(world).map((n) => n.metadata.name);
    assert.equal(desired(world, ON_DEMAND), before.od + 5);
    const watch = watchReverts(world);
    AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 10));
    await waitUntil(clock, () => fallbackNodes(world).length === 0 && world.settled(), { what: 'all five fallback nodes reverted', timeoutMs: 90 * MIN, pollMs: 2_000 });
    watch.unsubscribe();

    const probes = watch.list();
    const reverted = probes.filter((p) => p.outcome === 'reverted');
    assert.deepEqual(reverted.map((p) => p.node).sort(), [...fallbacks].sort(), 'each of the five reverted once');
    assert.equal(watch.maxInFlight, 1, `never two reverts in flight at once (${JSON.stringify(watch.inFlightSamples)})`);
    // One at a time: each revert started after the one before it was Done.
    for (let i = 1; i < reverted.length; i++) assert.ok(reverted[i]!.startedAt >= reverted[i - 1]!.endedAt! - 1_000, `revert ${i + 1} started after revert ${i} was done`);
    assert.deepEqual(watch.violations, []);
    assert.ok(watch.minSchedulable >= before.schedulable, `schedulable Ready nodes never below ${before.schedulable} (min ${watch.minSchedulable})`);
    assert.equal(desired(world, SPOT), before.spot);
    assert.equal(desired(world, ON_DEMAND), before.od);
    assert.equal(fleetSize(world), before.fleet);
  });

  it('dry run: a fallback node with DRY_RUN agents writes nothing and nothing moves', async () => {
    t = await startSpotGuardWorld({ speed: 100 });
    const { world, clock } = t;
    AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 0));
    const fallback = await makeFallback(t, world.groupNodes(SPOT)[0]!);
    await waitUntil(clock, () => world.settled(), { what: 'fleet settled after the fallback' });
    // The same agents, now in dry run (the real ones made the fallback).
    await Promise.all(world.nodeNames().map((n) => world.agent(n)?.kill()));
    const { logger, lines } = captureLogs();
    for (const n of world.nodeNames()) await world.startAgent(n, spotGuardEnv({ DRY_RUN: 'true' }), n === fallback ? { logger } : {});
    const before = { spot: desired(world, SPOT), od: desired(world, ON_DEMAND), nodes: world.nodeNames().sort(), leases: JSON.stringify(world.kube.list('leases')) };
    const asgBefore = asgWrites(world);
    const launches = watchLaunches(world);
    world.kube.resetRequestCounts();
    AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 10));

    await waitUntil(clock, () => lines.some((l) => /dry-run: would have terminated/.test(l)), { what: 'the dry-run revert went through to the retire step', timeoutMs: 40 * MIN });
    await clock.sleep(2 * MIN);
    launches.unsubscribe();
    assert.ok(lines.some((l) => /dry-run: would have set the desired capacity of spot-asg/.test(l)), 'logged the spot +1 it would have made');
    assert.deepEqual(asgWrites(world), asgBefore, 'no Auto Scaling write call');
    assert.deepEqual(kubeWrites(world), {}, 'no write request reached the API server');
    assert.equal(JSON.stringify(world.kube.list('leases')), before.leases, 'Leases untouched (no slot, no backoff)');
    assert.equal(launches.in(SPOT) + launches.in(ON_DEMAND), 0, 'nothing launched');
    assert.equal(desired(world, SPOT), before.spot);
    assert.equal(desired(world, ON_DEMAND), before.od);
    assert.deepEqual(world.nodeNames().sort(), before.nodes, 'no node came or went');
    const fb = getNode(world, fallback)!;
    assert.equal(fb.spec?.unschedulable, undefined, 'the fallback node is not cordoned');
    assert.equal(fb.metadata.annotations?.[REVERT_ANNOTATION], undefined, 'no revert record');
    for (const n of nodes(world)) assert.equal(n.metadata.annotations?.[CA_SCALE_DOWN_DISABLED], undefined);
  });

  // A kill happens inside the change event that reaches the point (a node write, a pod eviction, an
  // instance launch), so the agent dies right after it: every crash window of a revert, split over
  // two runs because some exclude each other ("+1 intent recorded" vs "+1 made, not yet confirmed").
  type Point =
    | 'Probing: +1 intent recorded, call not made'
    | 'Probing: +1 made, not confirmed'
    | 'Probing: +1 confirmed'
    | 'Cordoned'
    | 'Draining: evictions under way'
    | 'Retiring';
  const variants: Point[][] = [
    ['Probing: +1 intent recorded, call not made', 'Cordoned', 'Retiring'],
    ['Probing: +1 made, not confirmed', 'Probing: +1 confirmed', 'Draining: evictions under way'],
  ];
  for (const variant of variants) {
    it(`agent killed and restarted (${variant.join('; ')}): the revert completes with exactly one spot +1`, async () => {
      await killedInPhases(variant);
    });
  }

  async function killedInPhases(variant: Point[]): Promise<void> {
    t = await startSpotGuardWorld({ speed: 100 });
    const { world, clock } = t;
    const before = { fleet: fleetSize(world), spot: desired(world, SPOT), od: desired(world, ON_DEMAND), schedulable: schedulable(world) };
    AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 0));
    const fallback = await makeFallback(t, world.groupNodes(SPOT)[0]!);
    // Pods that take a while to stop (and a PDB), so the drain spans a kill.
    world.addWorkload({ name: 'slow', replicas: 4, cpu: '100m', memory: '128Mi', pdb: { maxUnavailable: 1 }, shutdownSeconds: 20, terminationGracePeriodSeconds: 60 });
    await waitUntil(clock, () => pendingPods(world) === 0, { what: 'slow pods scheduled' });
    const watch = watchReverts(world);
    const launches = watchLaunches(world);
    const setDesiredBefore = world.autoscaling!.callCounts().SetDesiredCapacity ?? 0;
    const spotBeforeRevert = desired(world, SPOT);
    AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 10));

    let spotLaunched = 0;
    let evictedFromFallback = 0;
    const tests: Record<Point, (r: RevertRecord) => boolean> = {
      'Probing: +1 intent recorded, call not made': (r) => r.phase === 'Probing' && r.requests.at(-1)?.confirmed === false && spotLaunched === 0,
      'Probing: +1 made, not confirmed': (r) => r.phase === 'Probing' && r.requests.at(-1)?.confirmed === false && spotLaunched > 0,
      'Probing: +1 confirmed': (r) => r.phase === 'Probing' && r.requests.at(-1)?.confirmed === true && !r.replacement,
      Cordoned: (r) => r.phase === 'Cordoned',
      'Draining: evictions under way': (r) => r.phase === 'Draining' && evictedFromFallback > 0,
      Retiring: (r) => r.phase === 'Retiring',
    };
    const points = variant.map((name) => [name, tests[name]] as const);
    const killedAt: Point[] = [];
    const spotDesiredAfterKill = new Map<Point, number>();
    let lastRecord: RevertRecord | null = null;
    let killing: Promise<void> | undefined;
    const kill = () => {
      const hit = lastRecord ? points.find(([name, test]) => !killedAt.includes(name) && test(lastRecord!)) : undefined;
      const agent = world.nodeNames().includes(fallback) ? world.agent(fallback) : undefined;
      if (!hit || !agent || killing) return;
      killedAt.push(hit[0]);
      killing = agent.kill();
    };
    const unsubscribe = world.kube.onChange((ev) => {
      if (ev.resource === 'pods') {
        const p = ev.object as unknown as PodShape;
        if (p.spec?.nodeName === fallback && p.metadata.namespace === 'default' && p.metadata.deletionTimestamp) {
          evictedFromFallback++;
          kill();
        }
      }
      if (ev.resource !== 'nodes' || ev.type === 'DELETED') return;
      const n = ev.object as unknown as NodeShape;
      if (n.metadata.name !== fallback) return;
      lastRecord = revertOf(n) ?? lastRecord;
      kill();
    });
    const offLaunch = world.autoscaling!.onInstance((ev) => {
      if (ev.type !== 'launched' || ev.group !== SPOT) return;
      spotLaunched++;
      kill();
    });
    // The DaemonSet: a killed agent comes back 20 s later.
    await waitUntil(
      clock,
      async () => {
        if (killing) {
          await killing;
          killing = undefined;
          spotDesiredAfterKill.set(killedAt.at(-1)!, desired(world, SPOT));
          await clock.sleep(20_000);
          if (world.nodeNames().includes(fallback)) await world.startAgent(fallback, spotGuardEnv());
        }
        return !world.nodeNames().includes(fallback);
      },
      { what: 'fallback node reverted and removed', timeoutMs: 60 * MIN, pollMs: 1_000 },
    );
    await waitUntil(clock, () => world.settled(), { what: 'fleet settled', timeoutMs: 10 * MIN });
    unsubscribe();
    offLaunch();
    watch.unsubscribe();
    launches.unsubscribe();

    const rec = lastRecord as RevertRecord | null;
    assert.deepEqual(killedAt, variant, 'killed once at every point');
    // A dead agent makes no further call: killed with only the intent recorded, the +1 was made by the restarted one.
    if (variant.includes('Probing: +1 intent recorded, call not made')) assert.equal(spotDesiredAfterKill.get('Probing: +1 intent recorded, call not made'), spotBeforeRevert);
    if (variant.includes('Probing: +1 made, not confirmed')) assert.equal(spotDesiredAfterKill.get('Probing: +1 made, not confirmed'), spotBeforeRevert + 1);
    assert.equal(rec?.phase, 'Done');
    assert.equal(rec?.requests.length, 1, 'one spot request in the revert record');
    assert.equal(world.autoscaling!.callCounts().SetDesiredCapacity! - setDesiredBefore, 1, 'one SetDesiredCapacity');
    assert.equal(launches.in(SPOT), 1, 'one spot instance launched');
    assert.equal(launches.in(ON_DEMAND), 0);
    const spotNodes = nodes(world).filter((n) => claimOf(n)?.node === fallback);
    assert.equal(spotNodes.length, 1, 'one spot node claimed as the replacement of the fallback node');
    assert.equal(spotNodes[0]!.metadata.name, rec?.replacement?.node);
    assert.equal(spotNodes[0]!.metadata.annotations?.[CA_SCALE_DOWN_DISABLED], undefined, 'Cluster Autoscaler annotation removed');
    assert.deepEqual(watch.violations, []);
    assert.ok(watch.minSchedulable >= before.schedulable, `schedulable Ready nodes never below ${before.schedulable} (min ${watch.minSchedulable})`);
    assert.equal(desired(world, SPOT), before.spot);
    assert.equal(desired(world, ON_DEMAND), before.od);
    assert.equal(fleetSize(world), before.fleet);
    assert.equal(world.kube.list('leases').filter((l) => /slot/.test((l as NodeShape).metadata.name) && (l as { spec?: { holderIdentity?: string } }).spec?.holderIdentity).length, 0, 'the revert slot was released');
  }
});

/**
 * Spot Guard under adversity: agents killed mid-replacement, an ITN during the wait, a throttled
 * Auto Scaling API, stale failed activities, dry run, and start-up checks. Every scenario that
 * completes must leave the fleet at its original size.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { afterEach, describe, it } from 'node:test';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import type { SimInstanceEvent } from '../../src/sim/autoscaling/index.js';
import type { SimWorld } from '../../src/sim/world.js';
import type { EventRecord } from '../../src/workflow/record.js';
import { isCordoned, taintKeys, waitUntil, workloadPodsOn } from './harness.js';
import {
  ON_DEMAND,
  SPOT,
  desired,
  liveInstances,
  recordsOn,
  spotGuardEnv,
  startSpotGuardWorld,
  type SpotGuardWorld,
  type SpotGuardWorldOptions,
} from './spot-guard-harness.js';

const ITN_TAINT = 'aws-node-termination-handler/spot-itn';
const SPOT_GUARD_TAINT = 'spot-instance-terminating';
const INSUFFICIENT_SPOT =
  'Could not launch Spot Instances. InsufficientInstanceCapacity - There is no Spot capacity available that matches your request. Launching EC2 instance failed.';

function rebalanceOf(world: SimWorld, node: string): EventRecord | undefined {
  return recordsOn(world, node).find((r) => r.kind === 'REBALANCE_RECOMMENDATION');
}

function fleetSize(world: SimWorld): number {
  return liveInstances(world, SPOT).length + liveInstances(world, ON_DEMAND).length;
}

/** What the fleet looks like before a scenario, and instance launches from then on. */
function baseline(world: SimWorld) {
  const launched: SimInstanceEvent[] = [];
  const unsubscribe = world.autoscaling!.onInstance((ev) => {
    if (ev.type === 'launched') launched.push(ev);
  });
  return {
    spot: desired(world, SPOT),
    onDemand: desired(world, ON_DEMAND),
    fleet: fleetSize(world),
    launched,
    launchesIn: (group: string) => launched.filter((e) => e.group === group).length,
    unsubscribe,
  };
}

/** The scenario is over: the at-risk node is gone and the fleet is as it was. */
async function assertFleetRestored(t: SpotGuardWorld, atRisk: string, before: ReturnType<typeof baseline>): Promise<void> {
  const { world, clock } = t;
  await waitUntil(clock, () => !world.nodeNames().includes(atRisk), { what: `at-risk node ${atRisk} gone`, timeoutMs: 300_000 });
  await waitUntil(clock, () => world.settled(), { what: 'fleet settled (no launch under way, every node Ready)', timeoutMs: 600_000 });
  assert.equal(desired(world, SPOT), before.spot, 'spot desired capacity back to its original value');
  assert.equal(desired(world, ON_DEMAND), before.onDemand, 'on-demand desired capacity unchanged');
  assert.equal(fleetSize(world), before.fleet, 'fleet size (live instances in both groups) unchanged');
}

/** The last rebalance record seen on a node (it outlives the Node, which goes away with its instance). */
function lastRebalanceRecord(world: SimWorld, node: string): { rec?: EventRecord; unsubscribe: () => void } {
  const out: { rec?: EventRecord; unsubscribe: () => void } = { unsubscribe: () => undefined };
  out.unsubscribe = world.kube.onChange((ev) => {
    if (ev.resource !== 'nodes' || ev.type === 'DELETED') return;
    if ((ev.object as { metadata?: { name?: string } }).metadata?.name !== node) return;
    const rec = rebalanceOf(world, node);
    if (rec) out.rec = rec;
  });
  return out;
}

/** JSON log lines of one agent, for asserting on what it said. */
function captureLogs(): { logger: Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const j = JSON.parse(line) as { level?: number; msg?: string };
          lines.push({ level: j.level ?? 0, msg: j.msg ?? '' });
        } catch {
          lines.push({ level: 0, msg: line });
        }
      }
      cb();
    },
  });
  return { logger: createLogger({ level: 'info', json: true, destination: stream }), lines };
}

const WRITE_VERBS = /^(CREATE|UPDATE|PATCH|DELETE|DELETECOLLECTION) /;
function kubeWrites(world: SimWorld): Record<string, number> {
  return Object.fromEntries(Object.entries(world.kube.requestCounts()).filter(([k]) => WRITE_VERBS.test(k)));
}

describe('Spot Guard resilience', () => {
  let t: SpotGuardWorld | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  async function world(opts: SpotGuardWorldOptions = {}): Promise<SpotGuardWorld> {
    t = await startSpotGuardWorld(opts);
    return t;
  }

  it('agent killed after the scale-up and before the taint, then restarted: exactly one scale-up', async () => {
    const { world: w, clock } = await world({ noAgents: true });
    const atRisk = w.groupNodes(SPOT)[0]!;
    await (await w.startAgent(atRisk, spotGuardEnv())).ready;
    const before = baseline(w);
    w.imds(atRisk).setRebalanceRecommendation({});

    await waitUntil(clock, () => rebalanceOf(w, atRisk)?.spotGuard?.requests[0]?.confirmed === true, { what: 'scale-up confirmed' });
    assert.equal(rebalanceOf(w, atRisk)?.phase, 'Replacing', 'killed before the taint');
    await w.agent(atRisk)!.kill();
    assert.equal(desired(w, SPOT), before.spot + 1, 'the +1 was applied before the kill');
    assert.equal(isCordoned(w, atRisk), false);
    assert.ok(!taintKeys(w, atRisk).includes(SPOT_GUARD_TAINT));

    // Down for a while (the new instance comes up meanwhile), then the DaemonSet restarts it.
    await clock.sleep(30_000);
    await w.startAgent(atRisk, spotGuardEnv());
    await waitUntil(clock, () => rebalanceOf(w, atRisk)?.phase === 'Done', { what: 'rebalance Done after the restart', timeoutMs: 600_000 });

    const rec = rebalanceOf(w, atRisk)!;
    assert.equal(rec.spotGuard?.requests.length, 1, 'one scale-up');
    assert.equal(rec.spotGuard?.replacement?.capacityType, 'spot');
    assert.equal(rec.spotGuard?.retired, true);
    assert.equal(w.autoscaling!.callCounts().SetDesiredCapacity, 1, 'one SetDesiredCapacity call');
    await assertFleetRestored(t!, atRisk, before);
    assert.equal(before.launchesIn(SPOT), 1, 'exactly one instance launched in the spot group');
    assert.equal(before.launchesIn(ON_DEMAND), 0);
    before.unsubscribe();
  });

  it('agent killed between recording the intent and a +1 that was not applied: the restarted agent applies it once', async () => {
    const { world: w, clock } = await world({ noAgents: true });
    const atRisk = w.groupNodes(SPOT)[0]!;
    await (await w.startAgent(atRisk, spotGuardEnv())).ready;
    const before = baseline(w);
    // The SDK does not retry ScalingActivityInProgress; the agent retries the step with back-off
    // (1 s, 2 s, 4 s, …), so the unconfirmed intent stays on the Node for a while.
    w.autoscaling!.injectError('SetDesiredCapacity', 'ScalingActivityInProgress', 'Scaling activity in progress', 6);
    w.imds(atRisk).setRebalanceRecommendation({});

    await waitUntil(
      clock,
      () => {
        const r = rebalanceOf(w, atRisk)?.spotGuard?.requests[0];
        return r !== undefined && !r.confirmed && (w.autoscaling!.callCounts().SetDesiredCapacity ?? 0) >= 1;
      },
      { what: 'intent recorded, call refused' },
    );
    await w.agent(atRisk)!.kill();
    const rec0 = rebalanceOf(w, atRisk)!;
    assert.equal(rec0.spotGuard?.requests.length, 1);
    assert.equal(rec0.spotGuard?.requests[0]?.confirmed, false, 'killed with the intent unconfirmed');
    assert.equal(desired(w, SPOT), before.spot, 'the +1 was not applied before the kill');

    await w.startAgent(atRisk, spotGuardEnv());
    await waitUntil(clock, () => rebalanceOf(w, atRisk)?.phase === 'Done', { what: 'rebalance Done after the restart', timeoutMs: 600_000 });
    const rec = rebalanceOf(w, atRisk)!;
    assert.equal(rec.spotGuard?.requests.length, 1, 'one request');
    assert.equal(rec.spotGuard?.requests[0]?.desiredAfter, before.spot + 1);
    assert.equal(rec.spotGuard?.replacement?.capacityType, 'spot');
    await assertFleetRestored(t!, atRisk, before);
    assert.equal(before.launchesIn(SPOT), 1, 'exactly one instance launched in the spot group');
    assert.equal(before.launchesIn(ON_DEMAND), 0);
    before.unsubscribe();
  });

  it('agent killed after a +1 was applied but before it was recorded: the restarted agent does not add another', async () => {
    const { world: w, clock } = await world({ noAgents: true });
    const atRisk = w.groupNodes(SPOT)[0]!;
    await (await w.startAgent(atRisk, spotGuardEnv())).ready;
    const before = baseline(w);
    // As soon as the intent is on the Node, every later write to the Node fails: the +1 goes
    // through, its confirmation cannot be recorded.
    let blocked = false;
    const unsubscribe = w.kube.onChange((ev) => {
      if (blocked || ev.resource !== 'nodes') return;
      const n = ev.object as { metadata?: { name?: string } };
      if (n.metadata?.name !== atRisk) return;
      const r = rebalanceOf(w, atRisk)?.spotGuard?.requests[0];
      if (r && !r.confirmed) {
        blocked = true;
        w.kube.injectFault({ method: 'patch', resource: 'nodes', name: atRisk, status: 500, times: 1_000_000, message: 'injected: etcd unavailable' });
      }
    });
    w.imds(atRisk).setRebalanceRecommendation({});

    await waitUntil(clock, () => blocked && desired(w, SPOT) === before.spot + 1, { what: '+1 applied, confirmation blocked' });
    await clock.sleep(10_000); // the agent keeps failing to record it
    await w.agent(atRisk)!.kill();
    unsubscribe();
    assert.equal(rebalanceOf(w, atRisk)?.spotGuard?.requests[0]?.confirmed, false, 'killed with the +1 unrecorded');
    w.kube.clearFaults();

    await w.startAgent(atRisk, spotGuardEnv());
    await waitUntil(clock, () => rebalanceOf(w, atRisk)?.phase === 'Done', { what: 'rebalance Done after the restart', timeoutMs: 600_000 });
    const rec = rebalanceOf(w, atRisk)!;
    assert.equal(rec.spotGuard?.requests.length, 1, 'one request');
    assert.equal(w.autoscaling!.callCounts().SetDesiredCapacity, 1, 'the +1 was not repeated');
    assert.equal(rec.spotGuard?.replacement?.capacityType, 'spot');
    await assertFleetRestored(t!, atRisk, before);
    assert.equal(before.launchesIn(SPOT), 1, 'exactly one instance launched in the spot group');
    before.unsubscribe();
  });

  it('an ITN while waiting for the replacement drains the node at once, and the node is retired', async () => {
    // The replacement's Node takes a while to turn Ready (40 s launch + 60 s join): a wide window.
    const { world: w, clock } = await world({ spot: { joinDelayMs: 60_000 } });
    const atRisk = w.groupNodes(SPOT)[0]!;
    const before = baseline(w);
    const last = lastRebalanceRecord(w, atRisk);
    w.imds(atRisk).setRebalanceRecommendation({});
    await waitUntil(clock, () => rebalanceOf(w, atRisk)?.spotGuard?.requests[0]?.confirmed === true, { what: 'scale-up confirmed' });
    assert.ok(workloadPodsOn(w, atRisk).length > 0, 'the at-risk node runs workload pods');

    w.imds(atRisk).setSpotInterruption({ action: 'terminate' });
    await waitUntil(
      clock,
      () =>
        taintKeys(w, atRisk).includes(ITN_TAINT) &&
        isCordoned(w, atRisk) &&
        workloadPodsOn(w, atRisk).length === 0 &&
        recordsOn(w, atRisk).find((r) => r.kind === 'SPOT_ITN')?.phase === 'Drained',
      { what: 'ITN taint, cordon, drained', timeoutMs: 90_000 },
    );
    const during = rebalanceOf(w, atRisk)!;
    assert.equal(during.phase, 'Replacing', 'the rebalance is still waiting for its replacement');
    assert.equal(during.spotGuard?.replacement, undefined);

    // The drained instance is about to be reclaimed: it is retired now (terminate with decrement),
    // so the group does not replace it on top of the +1; the +1 still arrives.
    await assertFleetRestored(t!, atRisk, before);
    assert.equal(last.rec?.spotGuard?.retired, true, 'the at-risk instance was retired');
    assert.equal(last.rec?.spotGuard?.requests.length, 1);
    assert.equal(w.autoscaling!.callCounts().TerminateInstanceInAutoScalingGroup, 1);
    assert.equal(before.launchesIn(SPOT), 1);
    assert.equal(before.launchesIn(ON_DEMAND), 0);
    last.unsubscribe();
    before.unsubscribe();
  });

  it('rebalance and ITN together, instance reclaimed before the replacement is Ready: the fleet does not grow', async () => {
    // The replacement is Ready 140 s after the +1 (40 s launch + 100 s join), after the 2-minute notice.
    const { world: w } = await world({ spot: { joinDelayMs: 100_000 } });
    const atRisk = w.groupNodes(SPOT)[0]!;
    const before = baseline(w);
    w.imds(atRisk).setRebalanceRecommendation({});
    w.reclaimSpotInstance(atRisk);

    await assertFleetRestored(t!, atRisk, before);
    assert.equal(before.launchesIn(SPOT), 1, 'one instance launched: the +1, not also a replacement of the reclaimed one');
    assert.equal(before.launchesIn(ON_DEMAND), 0);
    before.unsubscribe();
  });

  it('30 % of Auto Scaling calls throttled: still exactly one replacement', async () => {
    // The SDK's retries wait in real time, which a fast clock stretches; the timeouts are not under test here.
    const env = { SPOT_GUARD_SCALE_TIMEOUT: '15m', SPOT_GUARD_CAPACITY_CHECK_TIMEOUT: '15m' };
    const { world: w, clock } = await world({ env });
    const atRisk = w.groupNodes(SPOT)[0]!;
    const before = baseline(w);
    w.autoscaling!.setThrottle(0.3);
    w.imds(atRisk).setRebalanceRecommendation({});

    await waitUntil(clock, () => rebalanceOf(w, atRisk)?.phase === 'Done', { what: 'rebalance Done', timeoutMs: 900_000 });
    const rec = rebalanceOf(w, atRisk)!;
    assert.equal(rec.spotGuard?.requests.length, 1, 'one request');
    assert.equal(rec.spotGuard?.replacement?.capacityType, 'spot');
    await assertFleetRestored(t!, atRisk, before);
    w.autoscaling!.setThrottle(0);
    assert.equal(before.launchesIn(SPOT), 1, 'exactly one instance launched');
    assert.equal(before.launchesIn(ON_DEMAND), 0);
    before.unsubscribe();
  });

  it('a spot +1 filled after the wait gave up is used (waited for once more), not left as an extra instance', async () => {
    // The capacity-check timeout (30 s) is shorter than launch (40 s) + join (20 s): the first wait
    // times out while the instance is still Pending; the undo finds the +1 filled and waits again.
    const { world: w, clock } = await world({ env: { SPOT_GUARD_CAPACITY_CHECK_TIMEOUT: '30s' } });
    const atRisk = w.groupNodes(SPOT)[0]!;
    const before = baseline(w);
    w.imds(atRisk).setRebalanceRecommendation({});
    const last = lastRebalanceRecord(w, atRisk);
    await waitUntil(clock, () => !w.nodeNames().includes(atRisk) || rebalanceOf(w, atRisk)?.phase === 'Done', { what: 'rebalance Done', timeoutMs: 600_000 });
    last.unsubscribe();
    const rec = last.rec!;
    assert.equal(rec.spotGuard?.requests.length, 1, 'no on-demand fallback');
    assert.ok(rec.spotGuard?.requests[0]?.extendedUntil, 'the wait was extended once');
    assert.equal(rec.spotGuard?.replacement?.capacityType, 'spot');
    await assertFleetRestored(t!, atRisk, before);
    assert.equal(before.launchesIn(ON_DEMAND), 0, 'nothing launched on-demand');
    before.unsubscribe();
  });

  it('stale failed activities from before the request do not trigger the fallback', async () => {
    const { world: w, clock } = await world();
    const atRisk = w.groupNodes(SPOT)[0]!;
    const now = clock.now();
    for (const agoMs of [3_600_000, 600_000, 60_000, 1_000]) {
      w.autoscaling!.addActivity(SPOT, {
        description: `Launching a new EC2 instance.  Status Reason: ${INSUFFICIENT_SPOT}`,
        cause: 'At 2024-01-01T00:00:00Z an instance was started in response to a difference between desired and actual capacity.',
        statusCode: 'Failed',
        statusMessage: INSUFFICIENT_SPOT,
        startTime: now - agoMs,
        endTime: now - agoMs + 1_000,
        progress: 100,
      });
    }
    await clock.sleep(2_000);
    const before = baseline(w);
    w.imds(atRisk).setRebalanceRecommendation({});

    await waitUntil(clock, () => rebalanceOf(w, atRisk)?.phase === 'Done', { what: 'rebalance Done', timeoutMs: 600_000 });
    const rec = rebalanceOf(w, atRisk)!;
    assert.equal(rec.spotGuard?.requests.length, 1, 'no fallback request');
    assert.equal(rec.spotGuard?.replacement?.capacityType, 'spot');
    assert.equal(desired(w, ON_DEMAND), before.onDemand);
    await assertFleetRestored(t!, atRisk, before);
    assert.equal(before.launchesIn(ON_DEMAND), 0, 'nothing launched on-demand');
    before.unsubscribe();
  });

  it('dry run: a rebalance writes nothing to Auto Scaling or Kubernetes', async () => {
    const { world: w, clock } = await world({ noAgents: true });
    const atRisk = w.groupNodes(SPOT)[0]!;
    const before = baseline(w);
    const writesBefore = kubeWrites(w);
    const leasesBefore = w.kube.list('leases').length;
    const podsBefore = workloadPodsOn(w, atRisk).map((p) => p.metadata.name).sort();
    const { logger, lines } = captureLogs();
    await (await w.startAgent(atRisk, spotGuardEnv({ DRY_RUN: 'true' }), { logger })).ready;
    w.imds(atRisk).setRebalanceRecommendation({});

    await waitUntil(clock, () => lines.some((l) => /dry-run: would have terminated/.test(l.msg)), {
      what: 'the dry run went through to the retire step',
      timeoutMs: 600_000,
    });
    await clock.sleep(30_000);
    const calls = w.autoscaling!.callCounts();
    assert.equal(calls.SetDesiredCapacity, undefined, 'no SetDesiredCapacity');
    assert.equal(calls.TerminateInstanceInAutoScalingGroup, undefined, 'no TerminateInstanceInAutoScalingGroup');
    assert.deepEqual(kubeWrites(w), writesBefore, 'no write requests reached the API server');
    assert.equal(w.kube.list('leases').length, leasesBefore, 'no Lease created');
    assert.equal(desired(w, SPOT), before.spot);
    assert.equal(desired(w, ON_DEMAND), before.onDemand);
    assert.equal(fleetSize(w), before.fleet);
    assert.equal(before.launched.length, 0, 'nothing launched');
    assert.deepEqual(recordsOn(w, atRisk), [], 'no record written');
    assert.equal(isCordoned(w, atRisk), false);
    assert.deepEqual(taintKeys(w, atRisk), []);
    assert.deepEqual(workloadPodsOn(w, atRisk).map((p) => p.metadata.name).sort(), podsBefore, 'no pod evicted');
    assert.ok(lines.some((l) => /dry-run: would have set the desired capacity of spot-asg from 3 to 4/.test(l.msg)), 'logged the +1 it would have made');
    before.unsubscribe();
  });

  describe('start-up checks', () => {
    it('a missing on-demand group stops the agent with an error naming it', async () => {
      const { world: w, clock } = await world({ noAgents: true });
      const node = w.groupNodes(SPOT)[0]!;
      const agent = await w.startAgent(node, spotGuardEnv({ ON_DEMAND_ASG_NAME: 'no-such-od-asg' }));
      let stopped = false;
      void agent.done.then(() => (stopped = true));
      await waitUntil(clock, () => stopped, { what: 'agent stopped', timeoutMs: 120_000 });
      assert.ok(agent.fatal, 'fatal is set');
      assert.match(agent.fatal.message, /no-such-od-asg/);
      assert.match(agent.fatal.message, /ON_DEMAND_ASG_NAME/);
      assert.equal(w.agent(node), undefined, 'the agent is gone');
    });

    it('CapacityRebalance on the spot group is warned about', async () => {
      const { world: w, clock } = await world({ noAgents: true, spot: { capacityRebalance: true } });
      const node = w.groupNodes(SPOT)[0]!;
      const { logger, lines } = captureLogs();
      const agent = await w.startAgent(node, spotGuardEnv(), { logger });
      await agent.ready;
      await waitUntil(clock, () => lines.some((l) => l.level === 40 && /CapacityRebalance/.test(l.msg)), { what: 'CapacityRebalance warning' });
      assert.equal(agent.fatal, undefined, 'a warning, not a stop');
      assert.ok(lines.some((l) => l.level === 40 && /CapacityRebalance/.test(l.msg) && l.msg.includes(SPOT)), 'names the group');
    });
  });
});

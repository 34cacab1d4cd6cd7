/**
 * Revert to spot when spot flaps (issue 4, tests): spot capacity toggled 0 ↔ 10 every 3 minutes for
 * an hour after a fallback, with a rebalance recommendation in the spot group now and then. The
 * number of probes stays bounded by the doubling backoff, no probe starts inside the stability
 * window after a bad signal, no fallback node is drained before its spot replacement is Ready, and
 * the schedulable capacity never drops.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { capacityFailureReason } from '../../src/capacity/capacity-failures.js';
import { CA_SCALE_DOWN_DISABLED } from '../../src/capacity/revert-record.js';
import { waitUntil } from './harness.js';
import { MIN, claimOf, fallbackNodes, fleetSize, getNode, isReady, makeFallback, nodes, schedulable, watchReverts } from './revert-harness.js';
import { AZS, ON_DEMAND, SPOT, desired, startSpotGuardWorld, type SpotGuardWorld } from './spot-guard-harness.js';

describe('revert to spot: spot flapping', () => {
  let t: SpotGuardWorld | undefined;
  afterEach(async () => {
    await t?.stop();
    t = undefined;
  });

  it('spot flapping every 3 min for an hour: probes bounded by the backoff, never a drain without a Ready replacement, capacity never lower', async () => {
    t = await startSpotGuardWorld({ speed: 100 });
    const { world, clock } = t;
    const before = { fleet: fleetSize(world), spot: desired(world, SPOT), od: desired(world, ON_DEMAND), schedulable: schedulable(world) };
    const watch = watchReverts(world);
    AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 0));
    const first = await makeFallback(t, world.groupNodes(SPOT)[0]!);
    let firstMetrics = '';
    const readMetrics = async () => {
      const agent = world.nodeNames().includes(first) ? world.agent(first) : undefined;
      if (agent) firstMetrics = await agent.metrics.registry.getSingleMetricAsString('spot_guard_reverts_total');
    };

    // An hour of flapping from now: spot 10, then toggled 0 ↔ 10 every 3 min, in phase with the
    // fallback node's eligibility (claim + 10 min minimum wait): the first toggle to 0 comes
    // 3.5 min after the claim, so the first probe (just after eligibility) lands in a "0" phase
    // and fails, and the next, 10 min later, in a "10" phase, both away from the phase edges so
    // runs agree. Now and then a rebalance recommendation on a
    const start = clock.now();
    const rebalanceAt = [12.5 * MIN, 27.5 * MIN, 48.5 * MIN];
    const rebalances: number[] = [];
    const claimAt = Date.parse(claimOf(getNode(world, first)!)!.at);
    const toggles = Array.from({ length: 21 }, (_, k) => claimAt + 3.5 * MIN + k * 3 * MIN).filter((at) => at < start + 60 * MIN);
    let spotOn = true;
    AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 10));
    for (const at of [...toggles, start + 60 * MIN]) {
      while (clock.now() < at) {
        const due = rebalanceAt.find((r) => start + r <= clock.now() && !rebalances.includes(r));
        if (due !== undefined) {
          rebalances.push(due);
          const victim = world
            .groupNodes(SPOT)
            .find((n) => isReady(getNode(world, n)) && !getNode(world, n)?.spec?.unschedulable && !getNode(world, n)?.metadata.annotations?.[CA_SCALE_DOWN_DISABLED]);
          assert.ok(victim, 'a spot node to send a rebalance recommendation to');
          world.imds(victim).setRebalanceRecommendation({});
        }
        await readMetrics();
        await clock.sleep(Math.min(5_000, at - clock.now()));
      }
      if (at >= start + 60 * MIN) break;
      spotOn = !spotOn;
      AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, spotOn ? 10 : 0));
    }
    const hourProbes = watch.list().filter((p) => p.startedAt < start + 60 * MIN);

    // Spot back for good: every fallback node is reverted eventually (the backoff may be long now).
    AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 10));
    await waitUntil(
      clock,
      async () => {
        await readMetrics();
        return fallbackNodes(world).length === 0 && world.settled();
      },
      { what: 'every fallback node reverted', timeoutMs: 150 * MIN, pollMs: 5_000 },
    );
    watch.unsubscribe();

    const summary = hourProbes.map((p) => `${p.node}@${Math.round((p.startedAt - start) / 1000)}s:${p.outcome ?? 'open'}`).join(', ');
    assert.deepEqual(watch.violations, [], 'no fallback node cordoned or drained before its spot replacement was Ready');
    assert.deepEqual(watch.touchedBaseline, [], 'the baseline on-demand node was never touched');
    assert.ok(watch.minSchedulable >= before.schedulable, `schedulable Ready nodes never below ${before.schedulable} (min ${watch.minSchedulable})`);
    assert.ok(watch.maxInFlight <= 1, 'one revert at a time (concurrency 1)');
    assert.ok(watch.maxPending <= 1, `no pods left Pending for lack of capacity (max ${watch.maxPending})`);
    // Bounded probes: a fallback node's first probe needs the 10 min minimum wait; each failure
    // doubles the group's wait (10, 20, 40 min) and only a success resets it. So an hour holds at
    // most 3 failed probes in a row, and at most one successful probe per fallback node.
    const fallbacksMade = new Set(watch.list().map((p) => p.node)).size;
    const failed = hourProbes.filter((p) => p.outcome === 'failed').length;
    assert.ok(failed <= 4, `failed probes in the hour: ${failed} (${summary})`);
    assert.ok(hourProbes.length - failed <= fallbacksMade, `one successful probe per fallback node (${summary})`);
    for (const node of new Set(hourProbes.map((p) => p.node))) {
      assert.ok(hourProbes.filter((p) => p.node === node).length <= 3, `at most 3 probes for ${node} in the hour (${summary})`);
    }
    assert.equal(hourProbes[0]?.outcome, 'failed', `the first probe fell into a "0" phase and failed (${summary})`);
    assert.ok(hourProbes.length <= 6, `probes in the hour of flapping: ${hourProbes.length} (${summary})`);
    // The backoff itself: after n failures in a row, the next probe waits 10 min × 2^(n-1).
    let failuresInRow = 0;
    let lastFailEnd = 0;
    for (const p of watch.list()) {
      if (failuresInRow > 0) {
        const wait = Math.min(120, 10 * 2 ** (failuresInRow - 1)) * MIN;
        assert.ok(p.startedAt >= lastFailEnd + wait - 5_000, `probe ${p.id} started ${Math.round((p.startedAt - lastFailEnd) / 1000)} s after a failure; backoff ${wait / 1000} s (${summary})`);
      }
      if (p.outcome === 'failed') {
        failuresInRow++;
        lastFailEnd = p.endedAt!;
      } else failuresInRow = 0;
    }
    // Stability restarts on every bad signal: no probe starts within the 2 min window after a failed
    // spot launch (flapping must not look stable, reference failure 9).
    const failedLaunches = world
      .autoscaling!.activities(SPOT)
      .filter((a) => capacityFailureReason({ ...a, groupName: a.autoScalingGroupName, statusMessage: a.statusMessage ?? '' }) !== null).map((a) => a.startTime);
    assert.ok(failedLaunches.length > 0, 'failed spot launches were seen (the check below is not vacuous)');
    for (const p of watch.list()) {
      const recent = failedLaunches.filter((f) => f > p.startedAt - 2 * MIN + 1_000 && f < p.startedAt - 15_000);
      assert.deepEqual(recent, [], `probe ${p.id} started within 2 min of a failed spot launch`);
      const rb = rebalances.map((r) => start + r).filter((r) => r > p.startedAt - 2 * MIN + 5_000 && r < p.startedAt - 20_000);
      assert.deepEqual(rb, [], `probe ${p.id} started within 2 min of a rebalance recommendation in the spot group`);
    }
    // Per-agent metric, read while the first fallback node lived: one "started" per probe it made.
    const started = Number(/result="started"\} (\d+)/.exec(firstMetrics)?.[1] ?? 0);
    assert.equal(started, watch.list().filter((p) => p.node === first).length, `spot_guard_reverts_total{result="started"} on ${first}`);
    assert.equal(desired(world, ON_DEMAND), before.od, 'on-demand back to its size');
    assert.equal(desired(world, SPOT), before.spot, 'spot back to its size');
    assert.equal(fleetSize(world), before.fleet, 'fleet size unchanged');
    for (const n of nodes(world)) assert.equal(n.metadata.annotations?.[CA_SCALE_DOWN_DISABLED], undefined, `no Cluster Autoscaler annotation left on ${n.metadata.name}`);
  });

});

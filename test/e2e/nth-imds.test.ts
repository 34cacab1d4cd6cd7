import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isCordoned, records, startHarness, taintKeys, waitUntil, workloadPodsOn, elapse, runningPods, type Harness } from './harness.js';

/** The scenarios NTH's own e2e suite checks in IMDS mode, against the real agent over HTTP. */

describe('spot ITN drain', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.stop());

  it('taints, cordons and drains the node; pods move elsewhere; handled once despite repeated polls', async () => {
    const { world, clock } = h;
    await world.startAgent('node-a', { TAINT_NODE: 'true' });
    await world.agent('node-a')!.ready;
    assert.ok(workloadPodsOn(world, 'node-a').length > 0, 'precondition: workload pods on node-a');
    world.imds('node-a').setSpotInterruption({ action: 'terminate' });

    await waitUntil(clock, () => records(world, 'node-a').some((r) => r.phase === 'Drained'), { what: 'ITN drained' });
    assert.equal(isCordoned(world, 'node-a'), true);
    assert.ok(taintKeys(world, 'node-a').includes('aws-node-termination-handler/spot-itn'));
    assert.equal(workloadPodsOn(world, 'node-a').length, 0, 'no workload pods left on node-a');
    // DaemonSet pod stays.
    assert.equal(world.kube.list('pods', { fieldSelector: 'spec.nodeName=node-a' }).length, 1);
    await waitUntil(clock, () => runningPods(world).filter((p) => p.metadata.namespace === 'default').length === 6, {
      what: 'all 6 web pods running elsewhere',
    });

    // Many more polls of the same notice: still exactly one record, nothing redone.
    await elapse(clock, 30_000);
    const recs = records(world, 'node-a');
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.kind, 'SPOT_ITN');
    assert.equal(recs[0]!.drainAttempts, 1);
  });
});

describe('cordon-only', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.stop());

  it('cordons on an ITN but evicts nothing', async () => {
    const { world, clock } = h;
    await world.startAgent('node-a', { CORDON_ONLY: 'true' });
    const before = workloadPodsOn(world, 'node-a').length;
    world.imds('node-a').setSpotInterruption({ action: 'terminate' });
    await waitUntil(clock, () => isCordoned(world, 'node-a'), { what: 'cordoned' });
    await elapse(clock, 30_000);
    assert.equal(workloadPodsOn(world, 'node-a').length, before);
    assert.deepEqual(records(world, 'node-a').map((r) => r.phase), ['Cordoned']);
    assert.deepEqual(taintKeys(world, 'node-a'), [], 'no taint without TAINT_NODE');
  });
});

describe('dry-run', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.stop());

  it('writes nothing to Kubernetes', async () => {
    const { world, clock } = h;
    await world.startAgent('node-a', { DRY_RUN: 'true', TAINT_NODE: 'true' });
    await world.agent('node-a')!.ready;
    const writes = () =>
      Object.entries(world.kube.requestCounts())
        .filter(([k]) => /^(CREATE|UPDATE|PATCH|DELETE)/.test(k))
        .reduce((n, [, v]) => n + v, 0);
    const writesBefore = writes();
    const podsBefore = workloadPodsOn(world, 'node-a').map((p) => p.metadata.name).sort();
    world.imds('node-a').setSpotInterruption({ action: 'terminate' });
    await waitUntil(clock, () => world.imds('node-a').requestCount('/latest/meta-data/spot/instance-action') > 5, {
      what: 'agent polled the notice several times',
    });
    await elapse(clock, 60_000);
    assert.equal(writes(), writesBefore, 'no write requests reached the API server');
    assert.equal(isCordoned(world, 'node-a'), false);
    assert.deepEqual(records(world, 'node-a'), []);
    assert.deepEqual(workloadPodsOn(world, 'node-a').map((p) => p.metadata.name).sort(), podsBefore);
    const metrics = await world.agent('node-a')!.metrics.registry.getSingleMetricAsString('actions_total');
    assert.match(metrics, /node_action="cordon-and-drain",node_status="success"\} 1/, 'the agent went through the (virtual) drain once');
  });
});

describe('IMDSv2 only', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ imdsMode: 'required' });
  });
  after(() => h.stop());

  it('handles an ITN when IMDS requires tokens', async () => {
    const { world, clock } = h;
    await world.startAgent('node-a', {});
    world.imds('node-a').setSpotInterruption({ action: 'terminate' });
    await waitUntil(clock, () => records(world, 'node-a').some((r) => r.phase === 'Drained'), { what: 'drained with IMDSv2' });
    assert.equal(workloadPodsOn(world, 'node-a').length, 0);
  });
});

describe('amazon-ec2-metadata-mock behaviour (times move on every request)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ aemmDynamicTimes: true });
  });
  after(() => h.stop());

  it('handles a moving ITN and a moving rebalance notice once each', async () => {
    const { world, clock } = h;
    await world.startAgent('node-a', { ENABLE_REBALANCE_MONITORING: 'true' });
    world.imds('node-a').setRebalanceRecommendation({});
    world.imds('node-a').setSpotInterruption({ action: 'terminate' });
    await waitUntil(clock, () => records(world, 'node-a').some((r) => r.kind === 'SPOT_ITN' && r.phase === 'Drained'), {
      what: 'ITN drained',
    });
    await elapse(clock, 60_000); // ~30 more polls, each with a new time
    const recs = records(world, 'node-a');
    assert.deepEqual(recs.map((r) => r.kind).sort(), ['REBALANCE_RECOMMENDATION', 'SPOT_ITN']);
    assert.equal(recs.find((r) => r.kind === 'SPOT_ITN')!.drainAttempts, 1);
  });
});

describe('graceful stop (SIGTERM) mid-drain', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      workloads: [{ name: 'slow', replicas: 6, cpu: '100m', memory: '128Mi', shutdownSeconds: 100, terminationGracePeriodSeconds: 150 }],
    });
  });
  after(() => h.stop());

  it('stops within SHUTDOWN_TIMEOUT, leaves the drain recorded, and the next agent finishes it', async () => {
    const { world, clock } = h;
    const agent = await world.startAgent('node-a', { SHUTDOWN_TIMEOUT: '5s' });
    world.imds('node-a').setSpotInterruption({ action: 'terminate' });
    await waitUntil(clock, () => workloadPodsOn(world, 'node-a').some((p) => p.metadata.deletionTimestamp), { what: 'evictions started' });
    await agent.stop();
    // Pods take 100 s to stop; stop() returned without waiting for them (its bound is 5 s).
    assert.ok(workloadPodsOn(world, 'node-a').length > 0, 'stop() did not wait for the whole drain');
    assert.equal(records(world, 'node-a')[0]!.phase, 'Draining');

    await world.startAgent('node-a', {});
    await waitUntil(clock, () => records(world, 'node-a')[0]?.phase === 'Drained', { what: 'drain finished after restart' });
    assert.equal(workloadPodsOn(world, 'node-a').length, 0);
  });
});

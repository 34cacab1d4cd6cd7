import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  elapse,
  isCordoned,
  node,
  records,
  startHarness,
  taintKeys,
  waitUntil,
  workloadPodsOn,
  type Harness,
} from './harness.js';

describe('scheduled events', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.stop());

  it('a system-reboot event drains before NotBefore and uncordons after the reboot', async () => {
    const { world, clock } = h;
    await world.startAgent('node-b', { TAINT_NODE: 'true', NODE_TERMINATION_GRACE_PERIOD: '60' });
    await world.agent('node-b')!.ready;
    const notBefore = new Date(clock.now() + 180_000);
    world.addScheduledEvent('node-b', {
      code: 'system-reboot',
      eventId: 'instance-event-0reboot1',
      state: 'active',
      description: 'scheduled reboot',
      notBefore,
      notAfter: new Date(notBefore.getTime() + 3600_000),
    });
    // Recorded at once, but nothing happens until NotBefore − NODE_TERMINATION_GRACE_PERIOD.
    await waitUntil(clock, () => records(world, 'node-b').length === 1, { what: 'event recorded' });
    assert.equal(records(world, 'node-b')[0]!.phase, 'Pending');
    assert.equal(isCordoned(world, 'node-b'), false);
    await waitUntil(clock, () => records(world, 'node-b')[0]?.phase === 'AwaitingReboot', { what: 'drained, awaiting reboot' });
    assert.ok(clock.now() >= notBefore.getTime() - 60_000, 'did not act before NotBefore − grace period');
    assert.equal(isCordoned(world, 'node-b'), true);
    assert.equal(node(world, 'node-b').metadata.labels?.['aws-node-termination-handler/action'], 'UncordonAfterReboot');
    assert.ok(taintKeys(world, 'node-b').includes('aws-node-termination-handler/scheduled-maintenance'));
    assert.equal(workloadPodsOn(world, 'node-b').length, 0);

    world.rebootNode('node-b');
    world.setScheduledEventState('node-b', 'instance-event-0reboot1', 'completed');
    await waitUntil(clock, () => records(world, 'node-b')[0]?.phase === 'Done', { what: 'uncordoned after reboot' });
    assert.equal(isCordoned(world, 'node-b'), false);
    assert.equal(node(world, 'node-b').metadata.labels?.['aws-node-termination-handler/action'], undefined);
    assert.deepEqual(taintKeys(world, 'node-b'), []);
  });

  it('a canceled event is undone: uncordoned, taint removed', async () => {
    const { world, clock } = h;
    await world.startAgent('node-c', { TAINT_NODE: 'true', NODE_TERMINATION_GRACE_PERIOD: '120', CORDON_ONLY: 'true' });
    const notBefore = new Date(clock.now() + 60_000);
    world.addScheduledEvent('node-c', {
      code: 'instance-stop',
      eventId: 'instance-event-0cancel1',
      state: 'active',
      description: 'scheduled stop',
      notBefore,
    });
    await waitUntil(clock, () => isCordoned(world, 'node-c'), { what: 'cordoned for the event' });
    assert.ok(taintKeys(world, 'node-c').includes('aws-node-termination-handler/scheduled-maintenance'));
    world.setScheduledEventState('node-c', 'instance-event-0cancel1', 'canceled');
    await waitUntil(clock, () => !isCordoned(world, 'node-c'), { what: 'uncordoned after cancel' });
    assert.deepEqual(taintKeys(world, 'node-c'), []);
    assert.equal(records(world, 'node-c')[0]!.phase, 'Done');
  });

  it('leaves a node cordoned that an admin had cordoned before the event', async () => {
    const { world, clock } = h;
    world.kube.patch('nodes', undefined, 'node-a', { spec: { unschedulable: true } });
    await world.startAgent('node-a', { CORDON_ONLY: 'true' });
    world.addScheduledEvent('node-a', {
      code: 'system-maintenance',
      eventId: 'instance-event-0admin1',
      state: 'active',
      description: 'maintenance',
      notBefore: new Date(clock.now() + 30_000),
    });
    await waitUntil(clock, () => records(world, 'node-a')[0]?.phase === 'Cordoned', { what: 'handled' });
    world.setScheduledEventState('node-a', 'instance-event-0admin1', 'canceled');
    await waitUntil(clock, () => records(world, 'node-a')[0]?.phase === 'Done', { what: 'cancel handled' });
    assert.equal(isCordoned(world, 'node-a'), true, "the admin's cordon stays");
  });
});

describe('rebalance recommendation', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.stop());

  it('monitoring only cordons; the ITN that follows drains', async () => {
    const { world, clock } = h;
    await world.startAgent('node-a', { ENABLE_REBALANCE_MONITORING: 'true', TAINT_NODE: 'true' });
    const podsBefore = workloadPodsOn(world, 'node-a').length;
    assert.ok(podsBefore > 0);
    world.imds('node-a').setRebalanceRecommendation({});
    await waitUntil(clock, () => isCordoned(world, 'node-a'), { what: 'cordoned on rebalance' });
    assert.ok(taintKeys(world, 'node-a').includes('aws-node-termination-handler/rebalance-recommendation'));
    await elapse(clock, 30_000);
    assert.equal(workloadPodsOn(world, 'node-a').length, podsBefore, 'rebalance monitoring does not drain');

    world.imds('node-a').setSpotInterruption({ action: 'terminate' });
    await waitUntil(clock, () => records(world, 'node-a').some((r) => r.kind === 'SPOT_ITN' && r.phase === 'Drained'), {
      what: 'ITN drained',
    });
    assert.equal(workloadPodsOn(world, 'node-a').length, 0);
    assert.ok(taintKeys(world, 'node-a').includes('aws-node-termination-handler/spot-itn'));
  });

  it('rebalance draining cordons and drains', async () => {
    const { world, clock } = h;
    await world.startAgent('node-b', { ENABLE_REBALANCE_DRAINING: 'true' });
    world.imds('node-b').setRebalanceRecommendation({});
    await waitUntil(clock, () => records(world, 'node-b').some((r) => r.phase === 'Drained'), { what: 'rebalance drained' });
    assert.equal(isCordoned(world, 'node-b'), true);
    assert.equal(workloadPodsOn(world, 'node-b').length, 0);
  });
});

describe('ASG lifecycle', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.stop());

  it('target lifecycle state Terminated drains the node', async () => {
    const { world, clock } = h;
    await world.startAgent('node-a', { ENABLE_ASG_LIFECYCLE_DRAINING: 'true', TAINT_NODE: 'true' });
    world.imds('node-a').setTargetLifecycleState('InService');
    await elapse(clock, 10_000);
    assert.equal(isCordoned(world, 'node-a'), false, 'InService does nothing');
    world.imds('node-a').setTargetLifecycleState('Terminated');
    await waitUntil(clock, () => records(world, 'node-a').some((r) => r.kind === 'ASG_LIFECYCLE' && r.phase === 'Drained'), {
      what: 'ASG lifecycle drained',
    });
    assert.ok(taintKeys(world, 'node-a').includes('aws-node-termination-handler/asg-lifecycle-termination'));
    assert.equal(workloadPodsOn(world, 'node-a').length, 0);
  });
});

describe('disruption budget', () => {
  let h: Harness;
  before(async () => {
    // Two nodes only, and a budget that allows no disruption until a replacement is Ready elsewhere.
    h = await startHarness({
      nodes: [{ name: 'node-a' }, { name: 'node-b' }],
      workloads: [{ name: 'db', replicas: 2, cpu: '100m', memory: '128Mi', pdb: { minAvailable: 2 }, startSeconds: 5 }],
    });
  });
  after(() => h.stop());

  it('holds the drain (429) until the budget allows, then completes', async () => {
    const { world, clock } = h;
    await world.startAgent('node-a', { NODE_TERMINATION_GRACE_PERIOD: '600' });
    const onA = workloadPodsOn(world, 'node-a').length;
    assert.ok(onA > 0, 'precondition: a db pod on node-a');
    world.imds('node-a').setSpotInterruption({ action: 'terminate', time: new Date(clock.now() + 600_000) });
    await waitUntil(clock, () => records(world, 'node-a')[0]?.phase === 'Draining', { what: 'draining' });
    await elapse(clock, 30_000);
    // minAvailable 2 of 2: nothing may be evicted; the agent keeps retrying.
    assert.equal(workloadPodsOn(world, 'node-a').length, onA, 'budget held the pods');
    const blocked = await world.agent('node-a')!.metrics.registry.getSingleMetricAsString('spot_guard_evictions_blocked_total');
    assert.match(blocked, /spot_guard_evictions_blocked_total [1-9]/);
    // The owner relaxes the budget: the drain completes.
    world.kube.patch('poddisruptionbudgets', 'default', 'db', { spec: { minAvailable: 1 } });
    await waitUntil(clock, () => records(world, 'node-a')[0]?.phase === 'Drained', { what: 'drained once allowed' });
    assert.equal(workloadPodsOn(world, 'node-a').length, 0);
  });
});

describe('agent restarted mid-drain', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      workloads: [{ name: 'slow', replicas: 6, cpu: '100m', memory: '128Mi', shutdownSeconds: 20, terminationGracePeriodSeconds: 60 }],
    });
  });
  after(() => h.stop());

  it('resumes the drain from the record instead of starting over', async () => {
    const { world, clock } = h;
    await world.startAgent('node-a', { TAINT_NODE: 'true' });
    world.imds('node-a').setSpotInterruption({ action: 'terminate' });
    await waitUntil(clock, () => records(world, 'node-a')[0]?.phase === 'Draining', { what: 'draining' });
    await waitUntil(clock, () => workloadPodsOn(world, 'node-a').some((p) => p.metadata.deletionTimestamp), { what: 'evictions started' });
    await world.agent('node-a')!.kill();
    const detectedAt = records(world, 'node-a')[0]!.detectedAt;

    await world.startAgent('node-a', { TAINT_NODE: 'true' });
    await waitUntil(clock, () => records(world, 'node-a')[0]?.phase === 'Drained', { what: 'drain finished by the new agent' });
    const recs = records(world, 'node-a');
    assert.equal(recs.length, 1, 'still one event');
    assert.equal(recs[0]!.detectedAt, detectedAt, 'the same record was resumed, not re-created');
    assert.equal(workloadPodsOn(world, 'node-a').length, 0);
    const taints = (node(world, 'node-a').spec?.taints ?? []).filter((t) => t.key === 'aws-node-termination-handler/spot-itn');
    assert.equal(taints.length, 1, 'taint not duplicated');

    // A third start after completion does nothing.
    await world.agent('node-a')!.kill();
    await world.startAgent('node-a', { TAINT_NODE: 'true' });
    await elapse(clock, 20_000);
    assert.equal(records(world, 'node-a')[0]!.drainAttempts, 1, 'a drained node is never drained again');
  });
});

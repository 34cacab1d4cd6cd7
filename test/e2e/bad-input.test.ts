import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { RunningAgent } from '../../src/agent.js';
import type { SimWorld } from '../../src/sim/world.js';
import { RECORDS_ANNOTATION, parseRecords, type Phase } from '../../src/workflow/record.js';
import { elapse, isCordoned, records, startHarness, waitUntil, workloadPodsOn, type Harness, type NodeShape } from './harness.js';

/**
 * Bad input end to end: IMDS answering garbage, huge bodies or nothing at all, and the Kubernetes API
 * answering 409/500. The agent must not crash, must not give up, must count the problem, and must
 * still do the right thing once the input is good again.
 */

const ITN_PATH = '/latest/meta-data/spot/instance-action';

/** Sum of a metric's samples whose labels include `labels` (0 when none). */
async function metricValue(agent: RunningAgent, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await agent.metrics.registry.getSingleMetricAsString(name);
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/** True when `p` has settled (resolved or rejected); a macrotask turn lets an already-settled promise report. */
async function hasSettled(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  return settled;
}

/** The agent must still be the one running on the node: alive, not exited. */
async function assertAlive(world: SimWorld, nodeName: string, agent: RunningAgent): Promise<void> {
  assert.equal(await hasSettled(agent.done), false, 'agent.done must not have settled: the agent exited');
  assert.equal(world.agent(nodeName), agent);
}

const drained = (world: SimWorld, name: string) => records(world, name).some((r) => r.phase === 'Drained');

/**
 * Watches one node for the whole test: the IMDS request count on the ITN path when the node was first
 * cordoned or got a record, and every (unschedulable, record phases) state it went through.
 */
function watchNode(world: SimWorld, nodeName: string) {
  const seen = { firstRecordAtRequest: -1, firstCordonAtRequest: -1, violations: [] as string[], phases: [] as Phase[] };
  const off = world.kube.onChange((ev) => {
    if (ev.resource !== 'nodes') return;
    const n = ev.object as NodeShape;
    if (n.metadata.name !== nodeName) return;
    const annotations = n.metadata.annotations ?? {};
    const recs = Object.values(parseRecords(annotations).records);
    const count = world.imds(nodeName).requestCount(ITN_PATH);
    if (recs.length && seen.firstRecordAtRequest < 0) seen.firstRecordAtRequest = count;
    for (const r of recs) if (seen.phases.at(-1) !== r.phase) seen.phases.push(r.phase);
    if (n.spec?.unschedulable === true) {
      if (seen.firstCordonAtRequest < 0) seen.firstCordonAtRequest = count;
      // Never half-applied: a cordon we made is always recorded (Cordoned or later) in the same write.
      if (!recs.some((r) => r.phase !== 'Pending')) {
        seen.violations.push(`unschedulable with records ${JSON.stringify(recs.map((r) => r.phase))} (${annotations[RECORDS_ANNOTATION] ?? 'none'})`);
      }
    }
  });
  return { seen, off };
}

/**
 * Shared shape of the "IMDS answers garbage for a while" cases: `times` bad answers on the ITN path
 * with a valid notice already waiting behind them.
 */
async function garbageThenNotice(h: Harness, nodeName: string, body: string, times: number): Promise<void> {
  const { world, clock } = h;
  const agent = await world.startAgent(nodeName, {});
  await agent.ready;
  const { seen, off } = watchNode(world, nodeName);
  try {
    const imds = world.imds(nodeName);
    const base = imds.requestCount(ITN_PATH);
    imds.setFault(ITN_PATH, { body, times });
    imds.setSpotInterruption({ action: 'terminate' });

    // Part-way through the bad period: counted, nothing done.
    await waitUntil(clock, () => imds.requestCount(ITN_PATH) >= base + Math.ceil(times / 2), { what: 'agent polled the bad answers' });
    assert.ok((await metricValue(agent, 'spot_guard_imds_errors_total', { kind: 'malformed' })) >= 1);
    assert.equal(isCordoned(world, nodeName), false);
    assert.deepEqual(records(world, nodeName), []);

    await waitUntil(clock, () => drained(world, nodeName), { what: 'ITN drained once the answer is valid' });
    assert.equal(await metricValue(agent, 'spot_guard_imds_errors_total', { kind: 'malformed' }), times, 'one malformed error per bad answer');
    // The first cordon (and the first record) came from a poll after the last bad answer.
    assert.ok(seen.firstRecordAtRequest > base + times, `record written at ITN request ${seen.firstRecordAtRequest}, bad answers ended at ${base + times}`);
    assert.ok(seen.firstCordonAtRequest > base + times);
    assert.deepEqual(seen.violations, []);
    assert.equal(workloadPodsOn(world, nodeName).length, 0);
    const recs = records(world, nodeName);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.drainAttempts, 1);
    await assertAlive(world, nodeName, agent);
  } finally {
    off();
  }
}

describe('IMDS answers malformed JSON for a while', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.stop());

  it('counts each answer as malformed, does nothing, then drains on the valid notice', async () => {
    await garbageThenNotice(h, 'node-a', '{"action": "terminate", "time": "2025-01-01T00:0', 6);
  });

  it('treats a JSON body with the wrong field types the same way', async () => {
    await garbageThenNotice(h, 'node-b', '{"action": 5, "time": "x"}', 6);
  });
});

describe('IMDS answers a huge body', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.stop());

  it('counts too_large, keeps polling (the loop stays live), then handles a valid notice', async () => {
    const { world, clock } = h;
    const agent = await world.startAgent('node-a', {});
    await agent.ready;
    const imds = world.imds('node-a');
    imds.setFault(ITN_PATH, { bodyBytes: 5 * 1024 * 1024 });
    imds.setSpotInterruption({ action: 'terminate' });

    await waitUntil(clock, async () => (await metricValue(agent, 'spot_guard_imds_errors_total', { kind: 'too_large' })) >= 1, {
      what: 'first too_large',
    });
    const passAt = agent.monitorLoop.lastPassAt;
    const passes = agent.monitorLoop.passes;
    await waitUntil(clock, async () => (await metricValue(agent, 'spot_guard_imds_errors_total', { kind: 'too_large' })) >= 4, {
      what: 'more too_large answers',
    });
    await waitUntil(clock, () => agent.monitorLoop.passes >= passes + 2, { what: 'monitor passes continue' });
    assert.ok(agent.monitorLoop.lastPassAt > passAt, 'lastPassAt keeps advancing while IMDS answers huge bodies');
    assert.equal(isCordoned(world, 'node-a'), false);
    assert.deepEqual(records(world, 'node-a'), []);
    await assertAlive(world, 'node-a', agent);

    imds.setFault(ITN_PATH, null);
    await waitUntil(clock, () => drained(world, 'node-a'), { what: 'ITN drained after the huge answers stopped' });
    assert.equal(workloadPodsOn(world, 'node-a').length, 0);
    assert.equal(records(world, 'node-a').length, 1);
    assert.equal(await metricValue(agent, 'spot_guard_imds_errors_total', { kind: 'malformed' }), 0, 'a cut-off body is not parsed');
  });

  it('handles an ITN while another monitor keeps failing (garbage on the scheduled-events path)', async () => {
    const { world, clock } = h;
    const imds = world.imds('node-b');
    imds.setFault('/latest/meta-data/events/maintenance/scheduled', { body: '<html>oops</html>' });
    const agent = await world.startAgent('node-b', {});
    await agent.ready;
    await waitUntil(clock, async () => (await metricValue(agent, 'spot_guard_imds_errors_total', { kind: 'malformed' })) >= 2, {
      what: 'scheduled-events monitor failing',
    });
    imds.setSpotInterruption({ action: 'terminate' });
    await waitUntil(clock, () => drained(world, 'node-b'), { what: 'ITN drained despite the failing monitor' });
    assert.ok((await metricValue(agent, 'events_error_total', { event_error_where: 'monitor' })) >= 2);
    assert.equal(records(world, 'node-b').length, 1);
    await assertAlive(world, 'node-b', agent);
    imds.setFault('/latest/meta-data/events/maintenance/scheduled', null);
  });
});

describe('IMDS down for a minute', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.stop());

  it('counts the failures, keeps running, and handles an ITN posted after IMDS is back', async () => {
    const { world, clock } = h;
    const agent = await world.startAgent('node-a', {});
    await agent.ready;
    const imds = world.imds('node-a');
    const errors = async () =>
      (await metricValue(agent, 'spot_guard_imds_errors_total', { kind: 'transport' })) +
      (await metricValue(agent, 'spot_guard_imds_errors_total', { kind: 'timeout' }));
    assert.equal(await errors(), 0, 'precondition: no IMDS errors before the outage');

    imds.setDown(true);
    await elapse(clock, 60_000);
    const during = await errors();
    assert.ok(during >= 3, `IMDS outage counted (${during} transport/timeout errors)`);
    await assertAlive(world, 'node-a', agent);
    assert.equal(isCordoned(world, 'node-a'), false);
    const passesBefore = agent.monitorLoop.passes;

    imds.setDown(false);
    await waitUntil(clock, () => agent.monitorLoop.passes >= passesBefore + 2, { what: 'monitor passes after IMDS is back' });
    imds.setSpotInterruption({ action: 'terminate' });
    await waitUntil(clock, () => drained(world, 'node-a'), { what: 'ITN drained after the outage' });
    assert.equal(workloadPodsOn(world, 'node-a').length, 0);
    assert.equal(records(world, 'node-a').length, 1);
    await assertAlive(world, 'node-a', agent);
  });

  it('keeps retrying the identity lookup when IMDS is down at start, then works normally', async () => {
    const { world, clock } = h;
    const imds = world.imds('node-b');
    imds.setDown(true);
    const agent = await world.startAgent('node-b', {});
    await elapse(clock, 60_000);
    assert.equal(await hasSettled(agent.ready), false, 'not ready while IMDS is down');
    await assertAlive(world, 'node-b', agent);
    assert.ok((await metricValue(agent, 'spot_guard_imds_errors_total', { kind: 'transport' })) >= 1);

    imds.setDown(false);
    let ready = false;
    void agent.ready.then(() => (ready = true));
    await waitUntil(clock, () => ready, { what: 'agent ready once IMDS is back' });
    assert.ok(await agent.ready, 'instance metadata read');
    imds.setSpotInterruption({ action: 'terminate' });
    await waitUntil(clock, () => drained(world, 'node-b'), { what: 'ITN drained after a late start' });
    assert.equal(workloadPodsOn(world, 'node-b').length, 0);
    await assertAlive(world, 'node-b', agent);
  });
});

describe('Kubernetes API answers 409 Conflict on node PATCH', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.stop());

  it('re-reads and still cordons and drains exactly once', async () => {
    const { world, clock } = h;
    const agent = await world.startAgent('node-a', {});
    await agent.ready;
    const { seen, off } = watchNode(world, 'node-a');
    // A conflict on every kind of write: recording the event, cordoning, starting the drain. The burst
    // after Pending outlasts the client's conflict retries, so a whole reconcile pass fails too.
    const injectedAt = new Set<Phase>();
    const inject = (phase: Phase, times: number) => {
      if (injectedAt.has(phase)) return;
      injectedAt.add(phase);
      world.kube.injectFault({ method: 'PATCH', resource: 'nodes', name: 'node-a', status: 409, times });
    };
    const offInject = world.kube.onChange((ev) => {
      if (ev.resource !== 'nodes' || (ev.object as NodeShape).metadata.name !== 'node-a') return;
      for (const r of Object.values(parseRecords((ev.object as NodeShape).metadata.annotations ?? {}).records)) {
        if (r.phase === 'Pending') inject('Pending', 7);
        if (r.phase === 'Cordoned') inject('Cordoned', 2);
      }
    });
    try {
      world.kube.injectFault({ method: 'PATCH', resource: 'nodes', name: 'node-a', status: 409, times: 3 });
      world.imds('node-a').setSpotInterruption({ action: 'terminate' });
      await waitUntil(clock, () => drained(world, 'node-a'), { what: 'drained despite conflicts' });
      assert.deepEqual([...injectedAt].sort(), ['Cordoned', 'Pending'], 'every burst of conflicts was injected');
      await elapse(clock, 20_000);

      assert.ok((await metricValue(agent, 'spot_guard_kubernetes_errors_total', { operation: 'patch_node', code: '409' })) >= 12);
      const recs = records(world, 'node-a');
      assert.equal(recs.length, 1);
      assert.equal(recs[0]!.drainAttempts, 1);
      assert.equal(isCordoned(world, 'node-a'), true);
      assert.equal(workloadPodsOn(world, 'node-a').length, 0);
      assert.deepEqual(seen.phases, ['Pending', 'Cordoned', 'Draining', 'Drained'], 'phases in order, none repeated');
      assert.deepEqual(seen.violations, []);
      assert.equal(await metricValue(agent, 'actions_total', { node_action: 'cordon', node_status: 'success' }), 1);
      assert.equal(await metricValue(agent, 'actions_total', { node_action: 'cordon-and-drain', node_status: 'success' }), 1);
      await assertAlive(world, 'node-a', agent);
    } finally {
      offInject();
      off();
    }
  });
});

describe('Kubernetes API answers 500 on node PATCH', () => {
  let h: Harness;
  before(async () => {
    // Slower than the default: this test checks the drain beats the 2-minute notice, so loopback
    // latency (scaled into simulated time) must stay small next to the agent's own retry delays.
    h = await startHarness({ speed: 20 });
  });
  after(() => h.stop());

  it('counts the errors, retries, ends drained, and never leaves a half-applied step', async () => {
    const { world, clock } = h;
    const agent = await world.startAgent('node-a', {});
    await agent.ready;
    const { seen, off } = watchNode(world, 'node-a');
    // Failures on each write: recording the event, cordoning, starting the drain, recording the result.
    const injectedAt = new Set<Phase>();
    const inject = (phase: Phase, times: number) => {
      if (injectedAt.has(phase)) return;
      injectedAt.add(phase);
      world.kube.injectFault({ method: 'PATCH', resource: 'nodes', name: 'node-a', status: 500, times });
    };
    const offInject = world.kube.onChange((ev) => {
      if (ev.resource !== 'nodes' || (ev.object as NodeShape).metadata.name !== 'node-a') return;
      for (const r of Object.values(parseRecords((ev.object as NodeShape).metadata.annotations ?? {}).records)) {
        if (r.phase === 'Pending' || r.phase === 'Cordoned' || r.phase === 'Draining') inject(r.phase, 3);
      }
    });
    try {
      world.kube.injectFault({ method: 'PATCH', resource: 'nodes', name: 'node-a', status: 500, times: 3 });
      world.imds('node-a').setSpotInterruption({ action: 'terminate' });
      await waitUntil(clock, () => drained(world, 'node-a'), { what: 'drained despite 500s' });
      assert.deepEqual([...injectedAt].sort(), ['Cordoned', 'Draining', 'Pending']);

      assert.equal(await metricValue(agent, 'spot_guard_kubernetes_errors_total', { operation: 'patch_node', code: '500' }), 12);
      assert.equal(await metricValue(agent, 'events_error_total', { event_error_where: 'reconcile' }), 12, 'each failed pass counted');
      const recs = records(world, 'node-a');
      // The point of handling an ITN: the pods are off the node before EC2 takes the instance back.
      // A few transient errors on each write must not add up to a backoff that outlasts the notice.
      assert.ok(
        Date.parse(recs[0]!.updatedAt) < Date.parse(recs[0]!.startTime),
        `drained at ${recs[0]!.updatedAt}, after the instance was reclaimed at ${recs[0]!.startTime}`,
      );
      assert.equal(recs.length, 1);
      // The write that records the finished drain failed three times; the drain was resumed (nothing
      // left to evict) and recorded once.
      assert.equal(recs[0]!.drainAttempts, 1);
      assert.equal(isCordoned(world, 'node-a'), true);
      assert.equal(workloadPodsOn(world, 'node-a').length, 0);
      assert.deepEqual(seen.phases, ['Pending', 'Cordoned', 'Draining', 'Drained']);
      assert.deepEqual(seen.violations, []);
      await assertAlive(world, 'node-a', agent);
    } finally {
      offInject();
      off();
    }
  });
});

/** A port nobody listens on right now (the config requires 1..65535, so 0 is not an option). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

interface HealthBody {
  healthy: boolean;
  reasons: string[];
  monitorLastPassAgeMs: number | null;
}

describe('probes server', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.stop());

  it('answers 200 JSON while the loop runs, stays healthy through a hung IMDS, and closes when the agent stops', async () => {
    const { world, clock } = h;
    const port = await freePort();
    const agent = await world.startAgent('node-a', { ENABLE_PROBES_SERVER: 'true', PROBES_SERVER_PORT: String(port) });
    assert.equal(agent.probesPort, port);
    await agent.ready;
    await waitUntil(clock, () => agent.monitorLoop.passes >= 1, { what: 'first monitor pass' });
    const url = `http://127.0.0.1:${port}/healthz`;
    const probe = async () => {
      const res = await fetch(url);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      return { status: res.status, body: (await res.json()) as HealthBody };
    };

    const ok = await probe();
    assert.equal(ok.status, 200);
    assert.equal(ok.body.healthy, true);
    assert.deepEqual(ok.body.reasons, []);
    assert.equal(typeof ok.body.monitorLastPassAgeMs, 'number');
    assert.equal((await fetch(`http://127.0.0.1:${port}/nope`)).status, 404);

    // A hung IMDS slows each pass to tries × timeout, but the probe's allowance covers that: a slow
    // IMDS must not get the pod restarted by its liveness probe.
    world.imds('node-a').setFault(ITN_PATH, { hang: 'headers' });
    const passes = agent.monitorLoop.passes;
    await waitUntil(clock, () => agent.monitorLoop.passes >= passes + 1, { what: 'a pass completes' });
    // The next pass is now stuck for tries × METADATA_TIMEOUT; probe in the middle of it.
    await elapse(clock, 30_000);
    const during = await probe();
    assert.equal(during.status, 200, JSON.stringify(during.body));
    assert.equal(during.body.healthy, true);
    assert.ok((during.body.monitorLastPassAgeMs ?? 0) >= 20_000, `probed mid-pass (age ${during.body.monitorLastPassAgeMs} ms)`);
    await waitUntil(clock, () => agent.monitorLoop.passes >= passes + 3, { what: 'passes complete despite the hang' });
    assert.ok((await metricValue(agent, 'spot_guard_imds_errors_total', { kind: 'timeout' })) >= 2);
    assert.equal((await probe()).status, 200);
    world.imds('node-a').setFault(ITN_PATH, null);

    await agent.kill();
    await assert.rejects(fetch(url), 'the probes server closes with the agent');
  });
});

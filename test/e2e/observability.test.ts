import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { RunningAgent } from '../../src/agent.js';
import { AbortError } from '../../src/shared/clock.js';
import { EVENT_ID_ANNOTATION, GROUP_ANNOTATION } from '../../src/observability/k8s-events.js';
import { freePort, parsePrometheus, sampleValue, startProxy, startReceiver, type Proxy, type Receiver } from '../observability/receivers.js';
import { elapse, records, startHarness, waitUntil, type Harness } from './harness.js';
import { AZS, ON_DEMAND, SPOT, recordsOn, spotGuardEnv, startSpotGuardWorld, type SpotGuardWorld } from './spot-guard-harness.js';

/**
 * Observability end to end: the real agent against the simulated world, with real HTTP receivers
 * on loopback — Prometheus scrapes, Kubernetes events in the simulated API server, webhooks
 * (default and custom templates, through a proxy, to a receiver that fails), liveness probes.
 */

interface EventShape {
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  involvedObject: { kind: string; name: string; uid?: string };
  reason: string;
  message: string;
  type: string;
  count: number;
  source?: { component?: string; host?: string };
  reportingComponent?: string;
}

const eventsAbout = (h: { world: Harness['world'] }, node: string) =>
  h.world.kube.list<EventShape>('events', { namespace: 'default' }).filter((e) => e.involvedObject.name === node);

async function scrape(agent: RunningAgent) {
  assert.ok(agent.metricsPort, 'metrics server on');
  const res = await fetch(`http://127.0.0.1:${agent.metricsPort}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  return parsePrometheus(await res.text());
}

/** Go's time.Time String() of a whole-second UTC time. */
const goTime = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;

describe('observability (NTH mode): metrics, Kubernetes events, webhooks', () => {
  let h: Harness | undefined;
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await h?.stop();
    h = undefined;
    for (const c of closers.splice(0)) await c();
  });
  const receiver = async (b: Receiver['behaviour'] = 'ok') => {
    const r = await startReceiver(b);
    closers.push(r.close);
    return r;
  };

  it('an ITN: /metrics scraped and parsed, events with NTH reasons and annotations, the default webhook as NTH renders it', async () => {
    h = await startHarness();
    const { world, clock } = h;
    const hook = await receiver();
    const port = await freePort();
    const agent = await world.startAgent('node-a', {
      EMIT_KUBERNETES_EVENTS: 'true',
      KUBERNETES_EVENTS_EXTRA_ANNOTATIONS: 'team=platform,example.com/cost-center=42',
      WEBHOOK_URL: hook.url,
      ENABLE_PROMETHEUS_SERVER: 'true',
      PROMETHEUS_SERVER_PORT: String(port),
    });
    await agent.ready;
    const itnAt = Math.ceil((clock.now() + 120_000) / 1000) * 1000;
    world.imds('node-a').setSpotInterruption({ action: 'terminate', time: new Date(itnAt) });
    await waitUntil(clock, () => records(world, 'node-a').some((r) => r.phase === 'Drained'), { what: 'ITN drained' });
    const rec = records(world, 'node-a')[0]!;
    const sim = world.node('node-a');

    // Webhook: exactly one (after the drain), NTH's default template, byte for byte.
    await waitUntil(clock, () => hook.requests.length >= 1, { what: 'webhook delivered' });
    await elapse(clock, 10_000);
    assert.equal(hook.requests.length, 1, 'one webhook per interruption, as NTH');
    assert.equal(hook.requests[0]!.headers['content-type'], 'application/json');
    assert.equal(
      hook.requests[0]!.body,
      `{"text":"[NTH][Instance Interruption] EventID: ${rec.id} - Kind: SPOT_ITN - Instance: ${sim.instanceId} - Node: node-a - ` +
        `Description: ${rec.description} - Start Time: ${goTime(itnAt)}"}`,
    );

    // Kubernetes events on the Node, in `default`, NTH's reasons and annotations.
    await waitUntil(clock, () => eventsAbout(h!, 'node-a').some((e) => e.reason === 'CordonAndDrain'), { what: 'events written' });
    const evs = eventsAbout(h, 'node-a');
    assert.deepEqual(
      evs.map((e) => e.reason),
      ['SpotInterruption', 'Cordon', 'PreDrain', 'CordonAndDrain'],
    );
    const nodeUid = world.kube.get<{ metadata: { uid: string } }>('nodes', undefined, 'node-a')!.metadata.uid;
    for (const e of evs) {
      assert.equal(e.metadata.namespace, 'default');
      assert.deepEqual({ kind: e.involvedObject.kind, uid: e.involvedObject.uid }, { kind: 'Node', uid: nodeUid });
      assert.equal(e.type, 'Normal');
      assert.equal(e.count, 1);
      assert.deepEqual(e.source, { component: 'spot-guard', host: 'node-a' });
      assert.equal(e.reportingComponent, 'spot-guard');
      assert.deepEqual(e.metadata.annotations, {
        'account-id': '123456789012',
        'availability-zone': sim.spec.availabilityZone,
        'instance-id': sim.instanceId,
        'instance-life-cycle': 'spot',
        'instance-type': 'm5.large',
        'local-hostname': `ip-${sim.privateIp.replaceAll('.', '-')}.ec2.internal`,
        'local-ipv4': sim.privateIp,
        'public-hostname': '',
        'public-ipv4': '',
        region: 'us-east-1',
        [EVENT_ID_ANNOTATION]: rec.id,
        team: 'platform',
        'example.com/cost-center': '42',
      });
    }

    // Prometheus: scraped over HTTP and parsed.
    const { samples, types } = await scrape(agent);
    assert.equal(types.get('actions_total'), 'counter');
    assert.equal(sampleValue(samples, 'actions_total', { node_action: 'cordon', node_status: 'success' }), 1);
    assert.equal(sampleValue(samples, 'actions_total', { node_action: 'cordon-and-drain', node_status: 'success' }), 1);
    assert.equal(sampleValue(samples, 'events_error_total'), 0);
    assert.equal(sampleValue(samples, 'spot_guard_drains_total', { result: 'success' }), 1);
    assert.equal(sampleValue(samples, 'spot_guard_drain_duration_seconds_count'), 1);
    assert.equal(sampleValue(samples, 'spot_guard_webhooks_total', { reason: 'CordonAndDrain', result: 'delivered' }), 1);
    assert.equal(sampleValue(samples, 'spot_guard_kubernetes_events_total', { result: 'emitted' }), 4);
    assert.ok(sampleValue(samples, 'spot_guard_monitor_last_run_timestamp_seconds') > 0);
    assert.ok(sampleValue(samples, 'spot_guard_kubernetes_last_success_timestamp_seconds') > 0);
  });

  it('a custom template from WEBHOOK_TEMPLATE_FILE, through WEBHOOK_PROXY, with the pods that were on the node', async () => {
    h = await startHarness();
    const { world, clock } = h;
    const hook = await receiver();
    const proxy: Proxy = await startProxy();
    closers.push(proxy.close);
    const dir = await mkdtemp(join(tmpdir(), 'spot-guard-tpl-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'slack.tmpl');
    await writeFile(
      file,
      '{"text": "*{{ .Kind }}* on `{{ .NodeName }}` ({{ .InstanceType }}, {{ .AvailabilityZone }})\\n' +
        '{{- range .Pods }} {{ . }}{{ end }}"}\n',
    );
    const podsBefore = world.kube
      .list<{ metadata: { name: string; namespace?: string }; spec?: { nodeName?: string } }>('pods')
      .filter((p) => p.spec?.nodeName === 'node-b')
      .map((p) => p.metadata.name)
      .sort();
    const agent = await world.startAgent('node-b', {
      WEBHOOK_URL: hook.url,
      WEBHOOK_TEMPLATE_FILE: file,
      WEBHOOK_PROXY: proxy.url,
      WEBHOOK_HEADERS: '{"Content-Type":"application/json","X-Token":"abc"}',
    });
    await agent.ready;
    world.imds('node-b').setSpotInterruption({ action: 'terminate' });
    await waitUntil(clock, () => hook.requests.length === 1, { what: 'webhook through the proxy' });
    assert.deepEqual(proxy.seen.map((s) => s.line), [`POST ${hook.url}`]);
    const got = hook.requests[0]!;
    assert.equal(got.headers['x-token'], 'abc');
    const text = (JSON.parse(got.body) as { text: string }).text;
    const [head, pods] = text.split('\n') as [string, string];
    assert.equal(head, `*SPOT_ITN* on \`node-b\` (m5.large, ${world.node('node-b').spec.availabilityZone})`);
    assert.deepEqual(pods.trim().split(' ').sort(), podsBefore, 'the pods on the node when it was cordoned (DaemonSet pods included, as NTH)');
  });

  it('a webhook receiver that hangs or fails does not delay the drain', async () => {
    h = await startHarness();
    const { world, clock } = h;
    const hang = await receiver('hang');
    const agent = await world.startAgent('node-a', { WEBHOOK_URL: hang.url, EMIT_KUBERNETES_EVENTS: 'true' });
    await agent.ready;
    world.imds('node-a').setSpotInterruption({ action: 'terminate' });
    // Same bound as without webhooks (nth-imds.test.ts): the drain's progress does not wait for the receiver.
    await waitUntil(clock, () => records(world, 'node-a').some((r) => r.phase === 'Drained'), { what: 'ITN drained', timeoutMs: 60_000 });
    // Meanwhile the webhook is tried (5 s timeout per attempt), retried, and given up on.
    await waitUntil(clock, async () => (await agent.metrics.registry.getSingleMetricAsString('spot_guard_webhooks_total')).includes('result="failed"} 1'), {
      what: 'webhook given up',
      timeoutMs: 120_000,
    });
    assert.equal(hang.requests.length, 4, 'first try + 3 retries');

    // A receiver answering 500 on a second node: same story.
    const failing = await receiver('error');
    const b = await world.startAgent('node-b', { WEBHOOK_URL: failing.url });
    await b.ready;
    world.imds('node-b').setSpotInterruption({ action: 'terminate' });
    await waitUntil(clock, () => records(world, 'node-b').some((r) => r.phase === 'Drained'), { what: 'ITN drained', timeoutMs: 60_000 });
    await waitUntil(clock, () => failing.requests.length === 4, { what: 'retried', timeoutMs: 120_000 });
  });
});

describe('observability: liveness probe', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  const probe = async (port: number) => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    return { status: res.status, body: (await res.json()) as { healthy: boolean; reasons: string[] } };
  };

  it('turns unhealthy when the monitor loop is stalled', async () => {
    h = await startHarness();
    const { world, clock } = h;
    const port = await freePort();
    const agent = await world.startAgent('node-a', { ENABLE_PROBES_SERVER: 'true', PROBES_SERVER_PORT: String(port) });
    await waitUntil(clock, () => agent.monitorLoop.passes >= 1, { what: 'first pass' });
    assert.equal((await probe(port)).status, 200);
    // A poll that never returns (a bug, a hung await without timeout): the loop is stuck.
    // (It still gives up when the agent is killed, so the test can end.)
    agent.monitorLoop.pollOnce = (signal) =>
      new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new AbortError()), { once: true }));
    await waitUntil(clock, async () => (await probe(port)).status === 503, { what: 'probe fails', timeoutMs: 180_000 });
    const { body } = await probe(port);
    assert.equal(body.healthy, false);
    assert.match(body.reasons.join(';'), /monitor loop last ran \d+ s ago/);
  });

  it('turns unhealthy when the Kubernetes API has been unreachable past PROBES_KUBERNETES_UNREACHABLE_AFTER, and healthy again', async () => {
    h = await startHarness();
    const { world, clock } = h;
    const port = await freePort();
    const agent = await world.startAgent('node-a', {
      ENABLE_PROBES_SERVER: 'true',
      PROBES_SERVER_PORT: String(port),
      PROBES_KUBERNETES_UNREACHABLE_AFTER: '60s',
    });
    await waitUntil(clock, () => agent.workflow.lastPassAt > 0, { what: 'first reconcile' });
    assert.equal((await probe(port)).status, 200);
    world.kube.injectFault({ resource: 'nodes', status: 503, times: 1_000_000 });
    await waitUntil(clock, async () => (await probe(port)).status === 503, { what: 'probe fails', timeoutMs: 300_000 });
    assert.match((await probe(port)).body.reasons.join(';'), /Kubernetes API unreachable: last successful call \d+ s ago \(limit 60 s\)/);
    world.kube.clearFaults();
    await waitUntil(clock, async () => (await probe(port)).status === 200, { what: 'healthy again', timeoutMs: 120_000 });
  });
});

describe('observability: Spot Guard fallback', () => {
  let t: SpotGuardWorld | undefined;
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await t?.stop();
    t = undefined;
    for (const c of closers.splice(0)) await c();
  });

  it('metrics, events and webhooks for scale-up, fallback, replacement Ready and retire', async () => {
    t = await startSpotGuardWorld({ noAgents: true });
    const { world, clock } = t;
    for (const az of AZS) world.autoscaling!.setSpotCapacity(az, 0);
    const hook = await startReceiver();
    closers.push(hook.close);
    const atRisk = world.groupNodes(SPOT)[0]!;
    const port = await freePort();
    const agent = await world.startAgent(
      atRisk,
      spotGuardEnv({ EMIT_KUBERNETES_EVENTS: 'true', WEBHOOK_URL: hook.url, ENABLE_PROMETHEUS_SERVER: 'true', PROMETHEUS_SERVER_PORT: String(port) }),
    );
    await agent.ready;
    world.imds(atRisk).setRebalanceRecommendation({});
    await waitUntil(clock, () => recordsOn(world, atRisk).some((r) => r.phase === 'Done'), { what: 'fallback handled', timeoutMs: 900_000 });
    const rec = recordsOn(world, atRisk)[0]!;
    assert.equal(rec.spotGuard?.replacement?.capacityType, 'on-demand');

    const { samples } = await scrape(agent);
    assert.equal(sampleValue(samples, 'spot_guard_scale_ups_total', { group: SPOT, capacity_type: 'spot', result: 'requested' }), 1);
    assert.equal(sampleValue(samples, 'spot_guard_scale_ups_total', { group: ON_DEMAND, capacity_type: 'on-demand', result: 'requested' }), 1);
    assert.equal(sampleValue(samples, 'spot_guard_fallbacks_total', { group: ON_DEMAND }), 1);
    assert.equal(sampleValue(samples, 'spot_guard_replacement_ready_seconds_count', { capacity_type: 'on-demand' }), 1);
    assert.equal(sampleValue(samples, 'spot_guard_retirements_total'), 1);
    assert.equal(sampleValue(samples, 'actions_total', { node_action: 'cordon-and-drain', node_status: 'success' }), 1);
    assert.ok(sampleValue(samples, 'spot_guard_autoscaling_calls_total') > 0);

    await waitUntil(clock, () => eventsAbout(t!, atRisk).some((e) => e.reason === 'SpotGuardRetire'), { what: 'retire event' });
    const evs = eventsAbout(t, atRisk);
    const reasons = evs.map((e) => e.reason);
    for (const r of ['RebalanceRecommendation', 'SpotGuardScaleUp', 'SpotGuardFallback', 'SpotGuardReplacementReady', 'Cordon', 'CordonAndDrain', 'SpotGuardRetire']) {
      assert.ok(reasons.includes(r), `event ${r} in ${reasons.join(', ')}`);
    }
    const fallback = evs.find((e) => e.reason === 'SpotGuardFallback')!;
    assert.equal(fallback.type, 'Warning');
    assert.equal(fallback.metadata.annotations?.[GROUP_ANNOTATION], ON_DEMAND);
    assert.equal(fallback.metadata.annotations?.[EVENT_ID_ANNOTATION], rec.id);
    assert.equal(fallback.metadata.annotations?.['instance-id'], world.node(atRisk).instanceId);

    await waitUntil(clock, () => hook.requests.some((r) => r.body.includes('SpotGuardRetire')), { what: 'retire webhook' });
    const texts = hook.requests.map((r) => (JSON.parse(r.body) as { text: string }).text);
    const described = texts.map((x) => /Description: (\w+)/.exec(x)?.[1]);
    for (const r of ['SpotGuardScaleUp', 'SpotGuardFallback', 'SpotGuardReplacementReady', 'SpotGuardRetire']) {
      assert.ok(described.includes(r), `webhook for ${r}: ${described.join(', ')}`);
    }
    assert.equal(texts.filter((x) => x.includes('Kind: REBALANCE_RECOMMENDATION')).length, texts.length);
  });
});

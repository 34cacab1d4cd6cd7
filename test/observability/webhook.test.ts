import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { Notification } from '../../src/observability/notifier.js';
import { WebhookNotifier, nthWebhookSelection } from '../../src/observability/webhook.js';
import { NTH_DEFAULT_WEBHOOK_TEMPLATE, compileWebhookTemplate } from '../../src/observability/webhook-template.js';
import { ScaledClock } from '../../src/shared/clock.js';
import { waitUntil } from '../e2e/harness.js';
import { startProxy, startReceiver, startTlsReceiver, type Receiver } from './receivers.js';

const n = (reason: Notification['reason'], id = 'spot-itn-1', kind = 'SPOT_ITN'): Notification => ({
  reason,
  type: 'Normal',
  message: `${reason} happened`,
  nodeName: 'node-a',
  at: Date.parse('2025-01-01T00:00:10Z'),
  event: { id, kind, startTime: '2025-01-01T00:02:00Z', description: 'Spot ITN received.', phase: 'Draining' },
});

function notifier(clock: ScaledClock, metrics: Metrics, url: string, extra: Partial<ConstructorParameters<typeof WebhookNotifier>[0]> = {}) {
  return new WebhookNotifier({
    url,
    headers: { 'Content-type': 'application/json', Authorization: 'Bearer t0ken' },
    template: compileWebhookTemplate(NTH_DEFAULT_WEBHOOK_TEMPLATE),
    clock,
    logger: silentLogger(),
    metrics,
    metadata: () => undefined,
    wants: () => true,
    ...extra,
  });
}

const count = async (m: Metrics, name: string, labels: Record<string, string>) => {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (metric?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val))
    .reduce((a, v) => a + v.value, 0);
};

describe('WebhookNotifier: delivery against real HTTP receivers', () => {
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of closers) await c();
  });
  const receiver = async (b: Receiver['behaviour'] = 'ok') => {
    const r = await startReceiver(b);
    closers.push(r.close);
    return r;
  };

  it('POSTs the rendered template with the configured headers; notify() returns at once', async () => {
    const clock = new ScaledClock(20);
    const metrics = new Metrics();
    const r = await receiver();
    const w = notifier(clock, metrics, r.url);
    w.notify(n('CordonAndDrain'));
    assert.equal(r.requests.length, 0, 'nothing sent synchronously');
    await waitUntil(clock, () => r.requests.length === 1, { what: 'webhook received' });
    const got = r.requests[0]!;
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/hooks/spot?token=s3cret');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers.authorization, 'Bearer t0ken');
    assert.match((JSON.parse(got.body) as { text: string }).text, /EventID: spot-itn-1 - Kind: SPOT_ITN .* Start Time: 2025-01-01 00:02:00 \+0000 UTC$/);
    await waitUntil(clock, async () => (await count(metrics, 'spot_guard_webhooks_total', { result: 'delivered' })) === 1, { what: 'counted' });
    w.close();
  });

  it('a 500 is retried with backoff a bounded number of times, then counted as failed', async () => {
    const clock = new ScaledClock(50);
    const metrics = new Metrics();
    const r = await receiver('error');
    const w = notifier(clock, metrics, r.url, { maxAttempts: 3 });
    w.notify(n('CordonAndDrain'));
    await waitUntil(clock, async () => (await count(metrics, 'spot_guard_webhooks_total', { result: 'failed' })) === 1, { what: 'given up' });
    assert.equal(r.requests.length, 3);
    assert.equal(await count(metrics, 'spot_guard_webhook_attempts_total', { outcome: 'http_error' }), 3);
    w.close();
  });

  it('a 400 is not retried; a hanging receiver times out per attempt (clock time) and later items still go out', async () => {
    const clock = new ScaledClock(50);
    const metrics = new Metrics();
    const bad = await receiver('reject');
    const w400 = notifier(clock, metrics, bad.url);
    w400.notify(n('CordonAndDrain', 'e0'));
    await waitUntil(clock, async () => (await count(metrics, 'spot_guard_webhooks_total', { result: 'failed' })) === 1, { what: '400 given up' });
    assert.equal(bad.requests.length, 1, 'a 400 is not retried');
    w400.close();

    const hang = await receiver('hang');
    const w = notifier(clock, metrics, hang.url, { maxAttempts: 2, timeoutMs: 5_000 });
    w.notify(n('CordonAndDrain', 'e1'));
    w.notify(n('CordonAndDrain', 'e2'));
    await waitUntil(clock, () => hang.requests.length >= 2, { what: 'first item tried twice' });
    hang.behaviour = 'ok';
    await waitUntil(clock, async () => (await count(metrics, 'spot_guard_webhooks_total', { result: 'delivered' })) === 1, { what: 'second delivered' });
    assert.equal(await count(metrics, 'spot_guard_webhooks_total', { result: 'failed' }), 2);
    assert.equal(await count(metrics, 'spot_guard_webhook_attempts_total', { outcome: 'timeout' }), 2);
    w.close();
  });

  it('through an HTTP proxy: absolute-URI request for http://, with Proxy-Authorization from the proxy URL', async () => {
    const clock = new ScaledClock(20);
    const metrics = new Metrics();
    const r = await receiver();
    const proxy = await startProxy();
    closers.push(proxy.close);
    const w = notifier(clock, metrics, r.url, { proxy: proxy.url });
    w.notify(n('CordonAndDrain'));
    await waitUntil(clock, () => r.requests.length === 1, { what: 'delivered through the proxy' });
    assert.deepEqual(proxy.seen.map((s) => s.line), [`POST ${r.url}`]);
    assert.equal(proxy.seen[0]!.proxyAuthorization, `Basic ${Buffer.from('user:pa@ss').toString('base64')}`);
    w.close();
  });

  it('through an HTTP proxy: a CONNECT tunnel and TLS for https://', async (t) => {
    const tls = await startTlsReceiver();
    if (!tls) {
      t.skip('openssl not available to make a test certificate');
      return;
    }
    closers.push(tls.close);
    const clock = new ScaledClock(20);
    const metrics = new Metrics();
    const proxy = await startProxy();
    closers.push(proxy.close);
    const w = notifier(clock, metrics, tls.url, { proxy: proxy.url, ca: tls.ca });
    w.notify(n('CordonAndDrain'));
    await waitUntil(clock, () => tls.requests.length === 1, { what: 'delivered through the tunnel' });
    assert.deepEqual(proxy.seen.map((s) => s.line), [`CONNECT ${new URL(tls.url).host}`]);
    assert.equal(tls.requests[0]!.url, '/tls-hook');
    w.close();
  });

  it('flush on shutdown waits (bounded) for queued webhooks', async () => {
    const clock = new ScaledClock(50);
    const metrics = new Metrics();
    const r = await receiver();
    const w = notifier(clock, metrics, r.url);
    for (let i = 0; i < 3; i++) w.notify(n('CordonAndDrain', `e${i}`));
    await w.flush(10_000);
    assert.equal(r.requests.length, 3);
    const hang = await receiver('hang');
    const stuck = notifier(clock, metrics, hang.url);
    stuck.notify(n('CordonAndDrain'));
    await w.flush(10_000); // nothing pending: returns
    const start = clock.now();
    await stuck.flush(2_000);
    assert.ok(clock.now() - start < 10_000, 'flush is bounded');
  });
});

describe("nthWebhookSelection: when NTH would post", () => {
  it('after cordon-and-drain; after a cordon only when nothing follows; a drain error once per event; every Spot Guard step', () => {
    const wants = nthWebhookSelection((kind) => kind === 'REBALANCE_RECOMMENDATION');
    assert.equal(wants(n('SpotInterruption')), false);
    assert.equal(wants(n('Cordon')), false, 'the ITN will be drained: post after the drain');
    assert.equal(wants(n('PreDrain')), false);
    assert.equal(wants(n('CordonAndDrain')), true);
    assert.equal(wants(n('Cordon', 'rebalance-1', 'REBALANCE_RECOMMENDATION')), true, 'cordon-only rebalance');
    assert.equal(wants(n('CordonAndDrainError', 'e1')), true);
    assert.equal(wants(n('CordonAndDrainError', 'e1')), false, 'retries do not post again');
    assert.equal(wants(n('CordonAndDrainError', 'e2')), true);
    for (const r of ['SpotGuardScaleUp', 'SpotGuardFallback', 'SpotGuardReplacementReady', 'SpotGuardNoCapacity', 'SpotGuardRetire', 'SpotGuardRevert'] as const) {
      assert.equal(wants(n(r)), true, r);
    }
    assert.equal(wants(n('Uncordon')), false);
  });
});

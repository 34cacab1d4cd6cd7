import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeInformer, Watch, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { startCluster, waitFor, type TestCluster } from './helpers.js';

interface Seen {
  type: string;
  name: string;
  rv: number;
}

function collectWatch(c: TestCluster, path: string, query: Record<string, string> = {}) {
  const events: Seen[] = [];
  const raw: { type: string; object: { code?: number; reason?: string } }[] = [];
  let ended: unknown = 'open';
  const started = new Watch(c.kc).watch(
    path,
    query,
    (type, obj: KubernetesObject & { code?: number; reason?: string }) => {
      raw.push({ type, object: obj });
      if (obj.metadata) events.push({ type, name: obj.metadata.name as string, rv: Number(obj.metadata.resourceVersion) });
    },
    (err) => {
      ended = err ?? null;
    },
  );
  return { events, raw, ended: () => ended, started };
}

describe('sim-kube watch', () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster();
  });
  after(async () => {
    await c.sim.stop();
  });

  // Leases: no simulated controller touches them, so the event sequence is exactly the clients'.
  it('streams ADDED, MODIFIED and DELETED events', async () => {
    const w = collectWatch(c, '/apis/coordination.k8s.io/v1/namespaces/w1/leases');
    const ctl = await w.started;
    await c.coordination.createNamespacedLease({ namespace: 'w1', body: { metadata: { name: 'a' }, spec: { holderIdentity: 'x' } } });
    await c.coordination.patchNamespacedLease({ name: 'a', namespace: 'w1', body: [{ op: 'replace', path: '/spec/holderIdentity', value: 'y' }] });
    await c.coordination.deleteNamespacedLease({ name: 'a', namespace: 'w1' });
    await waitFor('DELETED event', () => w.events.some((e) => e.type === 'DELETED'));
    assert.deepEqual(
      w.events.map((e) => `${e.type} ${e.name}`),
      ['ADDED a', 'MODIFIED a', 'DELETED a'],
    );
    const rvs = w.events.map((e) => e.rv);
    assert.deepEqual([...rvs].sort((x, y) => x - y), rvs, 'resourceVersions increase');
    ctl.abort();
  });

  it('resumes after a resourceVersion and applies selectors, including objects leaving the selection', async () => {
    const lease = (name: string, app: string) => ({ metadata: { name, namespace: 'w2', labels: { app } }, spec: {} });
    c.sim.create('leases', lease('before', 'x'));
    const list = await c.coordination.listNamespacedLease({ namespace: 'w2' });
    const rv = list.metadata?.resourceVersion as string;
    c.sim.create('leases', lease('after-1', 'x'));
    c.sim.create('leases', lease('other', 'y'));
    const w = collectWatch(c, '/apis/coordination.k8s.io/v1/namespaces/w2/leases', { resourceVersion: rv, labelSelector: 'app=x' });
    const ctl = await w.started;
    await waitFor('replayed event', () => w.events.length >= 1);
    c.sim.patch('leases', 'w2', 'before', { metadata: { labels: { app: 'z' } } }); // leaves the selection
    c.sim.patch('leases', 'w2', 'other', { metadata: { labels: { app: 'x' } } }); // enters it
    await waitFor('selection changes', () => w.events.length >= 3);
    assert.deepEqual(
      w.events.map((e) => `${e.type} ${e.name}`),
      ['ADDED after-1', 'DELETED before', 'ADDED other'],
    );
    ctl.abort();
  });

  it('sends the current state first when no resourceVersion is given, and filters by field', async () => {
    c.sim.create('pods', { metadata: { name: 'on-n1', namespace: 'w3' }, spec: { nodeName: 'n1', containers: [] } });
    c.sim.create('pods', { metadata: { name: 'on-n2', namespace: 'w3' }, spec: { nodeName: 'n2', containers: [] } });
    const w = collectWatch(c, '/api/v1/pods', { fieldSelector: 'spec.nodeName=n1' });
    const ctl = await w.started;
    await waitFor('initial ADDED', () => w.events.length >= 1);
    assert.deepEqual(w.events.map((e) => `${e.type} ${e.name}`), ['ADDED on-n1']);
    ctl.abort();
  });

  it('answers a too old resourceVersion with a 410 Expired ERROR event', async () => {
    const small = await startCluster({ watchHistorySize: 5 });
    try {
      for (let i = 0; i < 10; i++) small.sim.create('leases', { metadata: { name: `l${i}`, namespace: 'default' }, spec: {} });
      const w = collectWatch(small, '/apis/coordination.k8s.io/v1/namespaces/default/leases', { resourceVersion: '2' });
      await w.started;
      await waitFor('watch end', () => w.ended() !== 'open');
      assert.equal(w.raw[0]?.type, 'ERROR');
      assert.equal(w.raw[0]?.object.code, 410);
      assert.equal(w.raw[0]?.object.reason, 'Expired');
    } finally {
      await small.sim.stop();
    }
  });

  it('ends the watch after timeoutSeconds of clock time', async () => {
    const w = collectWatch(c, '/api/v1/nodes', { timeoutSeconds: '5' }); // 5 simulated seconds
    await w.started;
    await waitFor('watch timeout', () => w.ended() !== 'open');
    assert.equal(w.ended(), null);
  });

  it('feeds a client-node informer', async () => {
    const informer = makeInformer(c.kc, '/api/v1/namespaces/inf/pods', () => c.core.listNamespacedPod({ namespace: 'inf' }));
    const log: string[] = [];
    informer.on('add', (p: V1Pod) => log.push(`add ${p.metadata?.name}`));
    informer.on('update', (p: V1Pod) => log.push(`update ${p.metadata?.name}`));
    informer.on('delete', (p: V1Pod) => log.push(`delete ${p.metadata?.name}`));
    c.sim.create('pods', { metadata: { name: 'pre', namespace: 'inf' }, spec: { containers: [] } });
    await informer.start();
    try {
      await waitFor('initial add', () => log.includes('add pre'));
      c.sim.create('pods', { metadata: { name: 'live', namespace: 'inf' }, spec: { containers: [] } });
      c.sim.patch('pods', 'inf', 'live', { metadata: { labels: { a: 'b' } } });
      c.sim.delete('pods', 'inf', 'pre');
      await waitFor('informer events', () => log.includes('delete pre') && log.includes('update live'));
      assert.equal(log[0], 'add pre');
      assert.ok(log.indexOf('add live') < log.indexOf('update live'));
      assert.deepEqual(informer.list('inf').map((p) => p.metadata?.name), ['live']);
    } finally {
      await informer.stop();
    }
  });

  it('closes open watches promptly on stop()', async () => {
    const other = await startCluster();
    const w = collectWatch(other, '/api/v1/pods');
    await w.started;
    await waitFor('watch registered', () => other.sim.openWatches() === 1);
    await other.sim.stop();
    await waitFor('watch ended by stop', () => w.ended() !== 'open');
    assert.equal(other.sim.openWatches(), 0);
  });
});

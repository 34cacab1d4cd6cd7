import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DryRunKube } from '../../src/kube/dry-run.js';
import type { NodeView, PodPort } from '../../src/kube/types.js';
import { silentLogger } from '../../src/observability/logger.js';
import { FakeNodes, FakePods, pod } from './fakes.js';

function realNode(): NodeView {
  return {
    name: 'node-a',
    uid: 'u',
    resourceVersion: '7',
    unschedulable: false,
    taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }],
    labels: { team: 'a', gone: 'soon' },
    annotations: {},
    bootId: 'b1',
    providerId: 'aws:///us-east-1a/i-1',
    ready: true,
  };
}

function setup() {
  const nodes = new FakeNodes(realNode());
  const pods = new FakePods([pod('web-1'), pod('web-2')]);
  let podWrites = 0;
  const real: FakeNodes & PodPort = Object.assign(nodes, {
    listPodsOnNode: (n: string) => pods.listPodsOnNode(n),
    evictPod: async () => {
      podWrites++;
      throw new Error('the real API must not be written to');
    },
  });
  return { nodes, pods, kube: new DryRunKube(real, silentLogger()), podWrites: () => podWrites };
}

describe('DryRunKube', () => {
  it('never writes the node, yet its reads reflect its own virtual writes', async () => {
    const { nodes, kube } = setup();
    const written = await kube.updateNode('node-a', () => ({
      unschedulable: true,
      taints: [{ key: 'aws-node-termination-handler/spot-itn', value: 'e1', effect: 'NoSchedule' }],
      labels: { 'aws-node-termination-handler/event-id': 'e1', gone: null },
      annotations: { 'spot-guard.io/events': '{"v":1,"events":{}}' },
    }));
    assert.equal(nodes.writes, 0);
    assert.equal(written.unschedulable, true);
    const read = await kube.getNode('node-a');
    assert.ok(read);
    assert.equal(read.unschedulable, true);
    assert.deepEqual(read.taints.map((t) => t.key), ['aws-node-termination-handler/spot-itn']);
    assert.deepEqual(read.labels, { team: 'a', 'aws-node-termination-handler/event-id': 'e1' });
    assert.equal(read.annotations['spot-guard.io/events'], '{"v":1,"events":{}}');
    // the real node is untouched
    assert.deepEqual(nodes.node, realNode());
  });

  it('later virtual writes layer on earlier ones', async () => {
    const { kube } = setup();
    await kube.updateNode('node-a', () => ({ unschedulable: true, labels: { a: '1' } }));
    await kube.updateNode('node-a', (n) => {
      assert.equal(n.unschedulable, true, 'mutate sees the earlier virtual write');
      return { labels: { b: '2' }, annotations: { x: 'y' } };
    });
    await kube.updateNode('node-a', () => ({ unschedulable: false, labels: { a: null } }));
    const read = await kube.getNode('node-a');
    assert.equal(read?.unschedulable, false);
    assert.equal(read?.labels['a'], undefined);
    assert.equal(read?.labels['b'], '2');
    assert.equal(read?.annotations['x'], 'y');
  });

  it('a mutate that returns null changes nothing', async () => {
    const { kube } = setup();
    const n = await kube.updateNode('node-a', () => null);
    assert.deepEqual(n, realNode());
  });

  it('evictions never reach the real API, and evicted pods disappear from its listing', async () => {
    const { pods, kube, podWrites } = setup();
    assert.equal(await kube.evictPod('default', 'web-1', 30), 'evicted');
    assert.equal(podWrites(), 0);
    assert.equal(pods.evictCalls.length, 0);
    assert.deepEqual((await kube.listPodsOnNode('node-a')).map((p) => p.name), ['web-2']);
    assert.equal(pods.pods.size, 2, 'the real pods are untouched');
  });

  it('a missing node reads as null', async () => {
    const { kube } = setup();
    assert.equal(await kube.getNode('other'), null);
    await assert.rejects(kube.updateNode('other', () => ({ unschedulable: true })));
  });
});

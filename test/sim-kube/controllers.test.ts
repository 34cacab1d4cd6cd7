import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isReady, readyNode, startCluster, waitFor, type PodView, type TestCluster } from './helpers.js';

function replicaSet(name: string, replicas: number, podSpec: Record<string, unknown> = {}) {
  return {
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'app', resources: { requests: { cpu: '500m', memory: '256Mi' } } }], ...podSpec },
      },
    },
  };
}

function podsOf(c: TestCluster, app: string): PodView[] {
  return c.sim.list<PodView>('pods', { namespace: 'default', labelSelector: `app=${app}` });
}

function pod(name: string, cpu: string, extra: Record<string, unknown> = {}) {
  return {
    metadata: { name, namespace: 'default' },
    spec: { containers: [{ name: 'app', image: 'app', resources: { requests: { cpu, memory: '128Mi' } } }], ...extra },
  };
}

describe('sim-kube controllers: ReplicaSet, scheduler, kubelet', () => {
  let c: TestCluster;
  beforeEach(async () => {
    c = await startCluster();
  });
  afterEach(async () => {
    await c.sim.stop();
  });

  it('recreates a ReplicaSet pod as Pending and schedules it onto the one node that fits', async () => {
    c.sim.create('nodes', readyNode('tainted', { taints: [{ key: 'spot-instance-terminating', value: 'true', effect: 'NoSchedule' }] }));
    c.sim.create('nodes', readyNode('cordoned', { unschedulable: true }));
    c.sim.create('nodes', readyNode('tiny', { allocatable: { cpu: '250m', memory: '8Gi', pods: '110' } }));
    c.sim.create('nodes', readyNode('notready', { ready: false }));
    c.sim.create('nodes', readyNode('good'));
    await c.apps.createNamespacedReplicaSet({ namespace: 'default', body: replicaSet('web', 1) });
    const [first] = await waitFor('first pod running', () => {
      const pods = podsOf(c, 'web').filter(isReady);
      return pods.length === 1 ? pods : undefined;
    });
    assert.equal(first?.spec.nodeName, 'good');
    assert.equal(first?.metadata.ownerReferences?.[0]?.kind, 'ReplicaSet');

    const added: PodView[] = [];
    const off = c.sim.onChange((ev) => {
      if (ev.type === 'ADDED' && ev.resource === 'pods') added.push(ev.object as unknown as PodView);
    });
    await c.core.deleteNamespacedPod({ name: first!.metadata.name, namespace: 'default' });
    const replacement = await waitFor('replacement created', () => added[0]);
    off();
    assert.equal(replacement.status?.phase, 'Pending');
    assert.equal(replacement.spec.nodeName, undefined);
    assert.match(replacement.metadata.name, /^web-/);

    const running = await waitFor('replacement running', () => {
      const p = c.sim.get<PodView>('pods', 'default', replacement.metadata.name);
      return p && isReady(p) ? p : undefined;
    });
    assert.equal(running.spec.nodeName, 'good');
    assert.ok(running.status?.conditions?.some((x) => x.type === 'PodScheduled' && x.status === 'True'));

    const rs = await waitFor('rs status', async () => {
      const r = await c.apps.readNamespacedReplicaSet({ name: 'web', namespace: 'default' });
      return r.status?.readyReplicas === 1 && podsOf(c, 'web').length === 1 ? r : undefined;
    });
    assert.equal(rs.status?.replicas, 1);
  });

  it('keeps a pod that tolerates nothing off a tainted node, and places it when an untainted node appears', async () => {
    c.sim.create('nodes', readyNode('t1', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }));
    c.sim.create('nodes', readyNode('t2', { taints: [{ key: 'other', effect: 'NoExecute' }] }));
    await c.core.createNamespacedPod({ namespace: 'default', body: pod('picky', '100m') });
    const unschedulable = await waitFor('Unschedulable condition', () => {
      const p = c.sim.get<PodView>('pods', 'default', 'picky');
      return p?.status?.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False' && x.reason === 'Unschedulable');
    });
    assert.match(unschedulable.message ?? '', /^0\/2 nodes are available: 2 node\(s\) had untolerated taint/);
    assert.equal(c.sim.get<PodView>('pods', 'default', 'picky')?.spec.nodeName, undefined);

    // Tolerations are matched for real: Equal on key+value, Exists with an empty key tolerates all.
    await c.core.createNamespacedPod({
      namespace: 'default',
      body: pod('gpu', '100m', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }] }),
    });
    await c.core.createNamespacedPod({ namespace: 'default', body: pod('anything', '100m', { tolerations: [{ operator: 'Exists' }] }) });
    await waitFor('tolerating pods bound', () => {
      const gpu = c.sim.get<PodView>('pods', 'default', 'gpu');
      const any = c.sim.get<PodView>('pods', 'default', 'anything');
      return gpu?.spec.nodeName === 't1' && any?.spec.nodeName !== undefined;
    });

    c.sim.create('nodes', readyNode('plain'));
    const placed = await waitFor('picky pod bound to the new node', () => {
      const p = c.sim.get<PodView>('pods', 'default', 'picky');
      return p?.spec.nodeName ? p : undefined;
    });
    assert.equal(placed.spec.nodeName, 'plain');
  });

  it('keeps pods Pending when allocatable is insufficient and prefers the least loaded node', async () => {
    c.sim.create('nodes', readyNode('small', { allocatable: { cpu: '1', memory: '1Gi', pods: '110' } }));
    await c.core.createNamespacedPod({ namespace: 'default', body: pod('p1', '600m') });
    await waitFor('p1 bound', () => c.sim.get<PodView>('pods', 'default', 'p1')?.spec.nodeName === 'small');
    await c.core.createNamespacedPod({ namespace: 'default', body: pod('p2', '600m') });
    const cond = await waitFor('p2 unschedulable', () =>
      c.sim.get<PodView>('pods', 'default', 'p2')?.status?.conditions?.find((x) => x.reason === 'Unschedulable'),
    );
    assert.match(cond.message ?? '', /Insufficient cpu/);
    await c.core.createNamespacedPod({ namespace: 'default', body: { ...pod('p3', '10m'), spec: { containers: [{ name: 'a', image: 'a', resources: { requests: { memory: '1500Mi' } } }] } } });
    await waitFor('p3 unschedulable', () =>
      c.sim.get<PodView>('pods', 'default', 'p3')?.status?.conditions?.find((x) => x.reason === 'Unschedulable' && /Insufficient memory/.test(x.message ?? '')),
    );

    c.sim.create('nodes', readyNode('big', { allocatable: { cpu: '8', memory: '16Gi', pods: '110' } }));
    await waitFor('pending pods placed on the new node', () =>
      ['p2', 'p3'].every((n) => c.sim.get<PodView>('pods', 'default', n)?.spec.nodeName === 'big'),
    );
    await c.core.createNamespacedPod({ namespace: 'default', body: pod('p4', '100m') });
    await waitFor('p4 on the least loaded node', () => c.sim.get<PodView>('pods', 'default', 'p4')?.spec.nodeName === 'big');
  });

  it('respects the allocatable pod count and frees capacity when pods go', async () => {
    c.sim.create('nodes', readyNode('two-pods', { allocatable: { cpu: '8', memory: '8Gi', pods: '2' } }));
    await c.apps.createNamespacedReplicaSet({ namespace: 'default', body: replicaSet('few', 3) });
    await waitFor('two running, one pending', () => {
      const pods = podsOf(c, 'few');
      return pods.filter(isReady).length === 2 && pods.filter((p) => !p.spec.nodeName).length === 1;
    });
    const victim = podsOf(c, 'few').find((p) => p.spec.nodeName)!;
    c.sim.delete('pods', 'default', victim.metadata.name, { gracePeriodSeconds: 0 });
    await waitFor('all three placed again', () => {
      const pods = podsOf(c, 'few');
      return pods.length === 3 && pods.filter(isReady).length === 2 && pods.filter((p) => !p.spec.nodeName).length === 1;
    });
  });

  it('scales a ReplicaSet down and removes its pods when it is deleted', async () => {
    c.sim.create('nodes', readyNode('n'));
    await c.apps.createNamespacedReplicaSet({ namespace: 'default', body: replicaSet('scale', 3) });
    await waitFor('3 pods', () => podsOf(c, 'scale').filter(isReady).length === 3);
    c.sim.patch('replicasets', 'default', 'scale', { spec: { replicas: 1 } });
    await waitFor('1 pod', () => podsOf(c, 'scale').length === 1);
    await c.apps.deleteNamespacedReplicaSet({ name: 'scale', namespace: 'default' });
    await waitFor('no pods', () => podsOf(c, 'scale').length === 0);
  });

  it('removes the pods of a deleted node', async () => {
    c.sim.create('nodes', readyNode('doomed'));
    await c.core.createNamespacedPod({ namespace: 'default', body: pod('on-doomed', '100m') });
    await waitFor('bound', () => c.sim.get<PodView>('pods', 'default', 'on-doomed')?.spec.nodeName === 'doomed');
    await c.core.deleteNode({ name: 'doomed' });
    await waitFor('pod collected', () => !c.sim.get('pods', 'default', 'on-doomed'));
  });
});

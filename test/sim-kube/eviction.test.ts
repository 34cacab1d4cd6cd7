import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { apiFailure, isReady, readyNode, runningPod, startCluster, waitFor, type PodView, type TestCluster } from './helpers.js';

function eviction(name: string, namespace: string, deleteOptions?: { gracePeriodSeconds?: number }) {
  return { name, namespace, body: { metadata: { name, namespace }, ...(deleteOptions ? { deleteOptions } : {}) } };
}

function replicaSet(name: string, namespace: string, replicas: number, annotations: Record<string, string> = {}) {
  return {
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations },
        spec: { terminationGracePeriodSeconds: 30, containers: [{ name: 'app', image: 'app', resources: { requests: { cpu: '100m', memory: '64Mi' } } }] },
      },
    },
  };
}

describe('sim-kube deletion and eviction', () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster();
    c.sim.create('nodes', readyNode('ev-node', { allocatable: { cpu: '16', memory: '32Gi', pods: '110' } }));
  });
  after(async () => {
    await c.sim.stop();
  });

  it('deletes a pod gracefully: deletionTimestamp first, gone after its shutdown time', async () => {
    c.sim.create('pods', runningPod('graceful', 'ev-node', { namespace: 'del', grace: 60, annotations: { 'sim.spot-guard.io/shutdown-seconds': '120' } }));
    await c.core.deleteNamespacedPod({ name: 'graceful', namespace: 'del' });
    const terminating = await c.core.readNamespacedPod({ name: 'graceful', namespace: 'del' });
    assert.ok(terminating.metadata?.deletionTimestamp, 'deletionTimestamp set');
    assert.equal(terminating.metadata?.deletionGracePeriodSeconds, 60);
    await waitFor('pod removed', () => !c.sim.get('pods', 'del', 'graceful'));
  });

  it('honours gracePeriodSeconds from the query and from DeleteOptions; 0 removes at once', async () => {
    c.sim.create('pods', runningPod('q', 'ev-node', { namespace: 'del', annotations: { 'sim.spot-guard.io/shutdown-seconds': '3600' } }));
    await c.core.deleteNamespacedPod({ name: 'q', namespace: 'del', gracePeriodSeconds: 40 });
    assert.equal(c.sim.get<PodView>('pods', 'del', 'q')?.metadata.deletionGracePeriodSeconds, 40);
    await waitFor('pod removed after its 40 s grace', () => !c.sim.get('pods', 'del', 'q'));

    c.sim.create('pods', runningPod('b', 'ev-node', { namespace: 'del', annotations: { 'sim.spot-guard.io/shutdown-seconds': '3600' } }));
    await c.core.deleteNamespacedPod({ name: 'b', namespace: 'del', body: { gracePeriodSeconds: 45 } });
    assert.equal(c.sim.get<PodView>('pods', 'del', 'b')?.metadata.deletionGracePeriodSeconds, 45);

    c.sim.create('pods', runningPod('now', 'ev-node', { namespace: 'del' }));
    await c.core.deleteNamespacedPod({ name: 'now', namespace: 'del', gracePeriodSeconds: 0 });
    assert.equal(c.sim.get('pods', 'del', 'now'), undefined);
  });

  it('evicts a pod without a budget, and answers 404 for a missing pod', async () => {
    c.sim.create('pods', runningPod('free', 'ev-node', { namespace: 'ev1', annotations: { 'sim.spot-guard.io/shutdown-seconds': '60' } }));
    await c.core.createNamespacedPodEviction(eviction('free', 'ev1'));
    assert.ok(c.sim.get<PodView>('pods', 'ev1', 'free')?.metadata.deletionTimestamp);
    await waitFor('evicted pod gone', () => !c.sim.get('pods', 'ev1', 'free'));

    const missing = await apiFailure(() => c.core.createNamespacedPodEviction(eviction('ghost', 'ev1')));
    assert.equal(missing.code, 404);
    assert.equal(missing.status.reason, 'NotFound');
  });

  it('answers 200 for a pod that is already terminating', async () => {
    c.sim.create('pods', runningPod('leaving', 'ev-node', { namespace: 'ev1', labels: { app: 'guarded' }, annotations: { 'sim.spot-guard.io/shutdown-seconds': '3600' } }));
    c.sim.create('poddisruptionbudgets', { metadata: { name: 'all', namespace: 'ev1' }, spec: { minAvailable: 5, selector: { matchLabels: { app: 'guarded' } } } });
    c.sim.delete('pods', 'ev1', 'leaving');
    await c.core.createNamespacedPodEviction(eviction('leaving', 'ev1'));
  });

  it('blocks with 429 while a budget has no disruptions left, then allows once the replacement is Ready', async () => {
    c.sim.create('replicasets', replicaSet('web', 'ev2', 3));
    await c.policy.createNamespacedPodDisruptionBudget({
      namespace: 'ev2',
      body: { metadata: { name: 'web' }, spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'web' } } } },
    });
    const initial = await waitFor('3 ready pods', () => {
      const pods = c.sim.list<PodView>('pods', { namespace: 'ev2' }).filter(isReady);
      return pods.length === 3 ? pods : undefined;
    });
    await waitFor('pdb status', () => c.sim.get<V1PodDisruptionBudget>('poddisruptionbudgets', 'ev2', 'web')?.status?.disruptionsAllowed === 1);
    // Replacements take 150 simulated seconds to start, so the budget stays exhausted for a while.
    c.sim.patch('replicasets', 'ev2', 'web', { spec: { template: { metadata: { annotations: { 'sim.spot-guard.io/start-seconds': '150' } } } } });

    const [first, second] = initial as [PodView, PodView, PodView];
    await c.core.createNamespacedPodEviction(eviction(first.metadata.name, 'ev2'));
    const blocked = await apiFailure(() => c.core.createNamespacedPodEviction(eviction(second.metadata.name, 'ev2')));
    assert.equal(blocked.code, 429);
    assert.equal(blocked.status.reason, 'TooManyRequests');
    assert.equal(blocked.status.message, "Cannot evict pod as it would violate the pod's disruption budget.");
    assert.deepEqual(blocked.status.details?.causes, [{ reason: 'DisruptionBudget', message: 'The disruption budget web needs 2 healthy pods and has 2 currently' }]);

    const pdb = await waitFor('pdb status shows the disruption', async () => {
      const p = await c.policy.readNamespacedPodDisruptionBudget({ name: 'web', namespace: 'ev2' });
      return p.status?.currentHealthy === 2 ? p : undefined;
    });
    assert.equal(pdb.status?.disruptionsAllowed, 0);
    assert.equal(pdb.status?.desiredHealthy, 2);
    assert.equal(pdb.status?.expectedPods, 3);

    await waitFor('replacement ready', () => c.sim.list<PodView>('pods', { namespace: 'ev2' }).filter(isReady).length === 3);
    await c.core.createNamespacedPodEviction(eviction(second.metadata.name, 'ev2'));
    assert.ok(c.sim.get<PodView>('pods', 'ev2', second.metadata.name)?.metadata.deletionTimestamp ?? !c.sim.get('pods', 'ev2', second.metadata.name));
  });

  it('never lets concurrent evictions overshoot a budget', async () => {
    for (let i = 0; i < 6; i++) c.sim.create('pods', runningPod(`db-${i}`, 'ev-node', { namespace: 'ev3', labels: { app: 'db' }, annotations: { 'sim.spot-guard.io/shutdown-seconds': '3600' } }));
    c.sim.create('poddisruptionbudgets', { metadata: { name: 'db', namespace: 'ev3' }, spec: { minAvailable: 4, selector: { matchLabels: { app: 'db' } } } });
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => c.core.createNamespacedPodEviction(eviction(`db-${i}`, 'ev3'))));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const tooMany = results.filter((r) => r.status === 'rejected' && (r.reason as { code?: number }).code === 429).length;
    assert.equal(ok, 2);
    assert.equal(tooMany, 4);
    const terminating = c.sim.list<PodView>('pods', { namespace: 'ev3' }).filter((p) => p.metadata.deletionTimestamp);
    assert.equal(terminating.length, 2);
  });

  it('evicts with DeleteOptions from the Eviction body', async () => {
    c.sim.create('pods', runningPod('opt', 'ev-node', { namespace: 'ev4', annotations: { 'sim.spot-guard.io/shutdown-seconds': '3600' } }));
    await c.core.createNamespacedPodEviction(eviction('opt', 'ev4', { gracePeriodSeconds: 300 }));
    assert.equal(c.sim.get<PodView>('pods', 'ev4', 'opt')?.metadata.deletionGracePeriodSeconds, 300);
  });
});

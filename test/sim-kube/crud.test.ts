import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Lease, V1Pod } from '@kubernetes/client-node';
import { apiFailure, readyNode, runningPod, startCluster, type TestCluster } from './helpers.js';

describe('sim-kube CRUD over HTTP (client-node)', () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster();
  });
  after(async () => {
    await c.sim.stop();
  });

  it('serves version and discovery', async () => {
    const version = (await (await fetch(`${c.sim.url}/version`)).json()) as { major: string; minor: string };
    assert.equal(version.major, '1');
    const core = (await (await fetch(`${c.sim.url}/api/v1`)).json()) as { resources: { name: string; shortNames?: string[]; kind: string; group?: string; namespaced: boolean }[] };
    const byName = new Map(core.resources.map((r) => [r.name, r]));
    assert.deepEqual(byName.get('nodes')?.shortNames, ['no']);
    assert.equal(byName.get('nodes')?.namespaced, false);
    assert.equal(byName.get('pods/eviction')?.kind, 'Eviction');
    assert.equal(byName.get('pods/eviction')?.group, 'policy');
    assert.ok(byName.has('pods/status'));
    assert.ok(byName.has('nodes/status'));
    const policy = (await (await fetch(`${c.sim.url}/apis/policy/v1`)).json()) as { resources: { name: string; shortNames?: string[] }[] };
    assert.deepEqual(policy.resources.find((r) => r.name === 'poddisruptionbudgets')?.shortNames, ['pdb']);
    const groups = (await (await fetch(`${c.sim.url}/apis`)).json()) as { groups: { name: string }[] };
    assert.deepEqual(groups.groups.map((g) => g.name).sort(), ['apps', 'coordination.k8s.io', 'events.k8s.io', 'policy']);
  });

  it('creates, reads, lists, updates and deletes a node', async () => {
    const created = await c.core.createNode({ body: readyNode('crud-node') as never });
    assert.equal(created.metadata?.name, 'crud-node');
    assert.ok(created.metadata?.uid);
    assert.ok(created.metadata?.creationTimestamp);
    assert.match(created.metadata?.resourceVersion ?? '', /^\d+$/);

    const read = await c.core.readNode({ name: 'crud-node' });
    assert.equal(read.metadata?.uid, created.metadata?.uid);

    read.metadata!.labels = { ...read.metadata!.labels, role: 'worker' };
    const updated = await c.core.replaceNode({ name: 'crud-node', body: read });
    assert.equal(updated.metadata?.labels?.role, 'worker');
    assert.ok(Number(updated.metadata?.resourceVersion) > Number(created.metadata?.resourceVersion));

    const list = await c.core.listNode({ labelSelector: 'role=worker' });
    assert.deepEqual(list.items.map((n) => n.metadata?.name), ['crud-node']);
    assert.match(list.metadata?.resourceVersion ?? '', /^\d+$/);

    await c.core.deleteNode({ name: 'crud-node' });
    const gone = await apiFailure(() => c.core.readNode({ name: 'crud-node' }));
    assert.equal(gone.code, 404);
  });

  it('answers with real Status objects for NotFound and AlreadyExists', async () => {
    const missing = await apiFailure(() => c.core.readNamespacedPod({ name: 'nope', namespace: 'default' }));
    assert.equal(missing.code, 404);
    assert.deepEqual(missing.status, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods "nope" not found',
      reason: 'NotFound',
      details: { name: 'nope', group: '', kind: 'pods' },
      code: 404,
    });

    await c.core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'dup' }, spec: { containers: [{ name: 'a', image: 'a' }] } } });
    const dup = await apiFailure(() =>
      c.core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'dup' }, spec: { containers: [{ name: 'a', image: 'a' }] } } }),
    );
    assert.equal(dup.code, 409);
    assert.equal(dup.status.reason, 'AlreadyExists');
    assert.equal(dup.status.message, 'pods "dup" already exists');
    assert.equal(dup.status.details?.name, 'dup');
  });

  it('rejects an update carrying a stale resourceVersion with 409 Conflict', async () => {
    const node = await c.core.createNode({ body: readyNode('rv-node') as never });
    await c.core.patchNode({ name: 'rv-node', body: [{ op: 'add', path: '/metadata/labels/x', value: '1' }] });
    const stale = await apiFailure(() => c.core.replaceNode({ name: 'rv-node', body: node }));
    assert.equal(stale.code, 409);
    assert.equal(stale.status.reason, 'Conflict');
    assert.match(stale.status.message ?? '', /the object has been modified/);
  });

  it('generates names, defaults the namespace and stamps kind/apiVersion', async () => {
    const a = await c.core.createNamespacedPod({ namespace: 'default', body: { metadata: { generateName: 'gen-' }, spec: { containers: [{ name: 'a', image: 'a' }] } } });
    const b = await c.core.createNamespacedPod({ namespace: 'default', body: { metadata: { generateName: 'gen-' }, spec: { containers: [{ name: 'a', image: 'a' }] } } });
    assert.match(a.metadata?.name ?? '', /^gen-[a-z0-9]{5}$/);
    assert.notEqual(a.metadata?.name, b.metadata?.name);
    assert.equal(a.metadata?.namespace, 'default');
    assert.equal(a.kind, 'Pod');
    assert.equal(a.status?.phase, 'Pending');
    const inProc = c.sim.create('pods', { metadata: { name: 'no-ns' }, spec: { containers: [] } });
    assert.equal(inProc.metadata.namespace, 'default');
  });

  it('filters by label and field selectors across namespaces', async () => {
    c.sim.create('nodes', readyNode('sel-a'));
    c.sim.create('pods', runningPod('sel-1', 'sel-a', { namespace: 'team-a', labels: { app: 'web', tier: 'fe' } }));
    c.sim.create('pods', runningPod('sel-2', 'sel-a', { namespace: 'team-b', labels: { app: 'web', tier: 'be' } }));
    c.sim.create('pods', runningPod('sel-3', 'sel-b', { namespace: 'team-b', labels: { app: 'db' } }));
    const names = async (q: { labelSelector?: string; fieldSelector?: string }) =>
      (await c.core.listPodForAllNamespaces(q)).items.map((p) => p.metadata?.name).filter((n) => n?.startsWith('sel-')).sort();

    assert.deepEqual(await names({ labelSelector: 'app=web' }), ['sel-1', 'sel-2']);
    assert.deepEqual(await names({ labelSelector: 'app==web,tier!=fe' }), ['sel-2']);
    assert.deepEqual(await names({ labelSelector: 'app in (web, db),tier notin (be)' }), ['sel-1', 'sel-3']);
    assert.deepEqual(await names({ labelSelector: 'tier' }), ['sel-1', 'sel-2']);
    assert.deepEqual(await names({ labelSelector: 'app,!tier' }), ['sel-3']);
    assert.deepEqual(await names({ fieldSelector: 'spec.nodeName=sel-a' }), ['sel-1', 'sel-2']);
    assert.deepEqual(await names({ fieldSelector: 'spec.nodeName=sel-a,metadata.namespace!=team-a' }), ['sel-2']);
    assert.deepEqual(await names({ fieldSelector: 'metadata.name==sel-3,status.phase=Running' }), ['sel-3']);
    const nsOnly = await c.core.listNamespacedPod({ namespace: 'team-b' });
    assert.deepEqual(nsOnly.items.map((p) => p.metadata?.name).sort(), ['sel-2', 'sel-3']);

    const bad = await apiFailure(() => c.core.listPodForAllNamespaces({ labelSelector: 'a in (b' }));
    assert.equal(bad.code, 400);
    assert.equal(bad.status.reason, 'BadRequest');
  });

  it('paginates lists with limit and continue', async () => {
    for (let i = 0; i < 7; i++) c.sim.create('pods', { metadata: { name: `page-${i}`, namespace: 'paging', labels: { page: 'yes' } }, spec: { containers: [] } });
    const seen: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      const page = await c.core.listNamespacedPod({ namespace: 'paging', limit: 3, ...(cont ? { _continue: cont } : {}) });
      seen.push(...page.items.map((p) => p.metadata?.name as string));
      cont = page.metadata?._continue || undefined;
      pages++;
    } while (cont);
    assert.equal(pages, 3);
    assert.deepEqual(seen, ['page-0', 'page-1', 'page-2', 'page-3', 'page-4', 'page-5', 'page-6']);
  });

  it('filters events by involvedObject fields', async () => {
    await c.core.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { generateName: 'n1.' },
        involvedObject: { kind: 'Node', name: 'ev-node', namespace: '' },
        reason: 'CordonAndDrain',
        message: 'drained',
        type: 'Normal',
      },
    });
    const events = await c.core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.kind=Node,involvedObject.name=ev-node' });
    assert.equal(events.items.length, 1);
    assert.equal(events.items[0]?.reason, 'CordonAndDrain');
  });

  it('takes leases with optimistic concurrency', async () => {
    const body: V1Lease = { metadata: { name: 'asg-lock', namespace: 'kube-system' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } };
    const lease = await c.coordination.createNamespacedLease({ namespace: 'kube-system', body });
    const again = await apiFailure(() => c.coordination.createNamespacedLease({ namespace: 'kube-system', body }));
    assert.equal(again.status.reason, 'AlreadyExists');

    const mine = { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } };
    const taken = await c.coordination.replaceNamespacedLease({ name: 'asg-lock', namespace: 'kube-system', body: mine });
    assert.equal(taken.spec?.holderIdentity, 'b');

    // A second writer still holding the first version loses.
    const stale = { ...lease, spec: { ...lease.spec, holderIdentity: 'c' } };
    const conflict = await apiFailure(() => c.coordination.replaceNamespacedLease({ name: 'asg-lock', namespace: 'kube-system', body: stale }));
    assert.equal(conflict.code, 409);
    assert.equal(conflict.status.reason, 'Conflict');
    assert.equal(conflict.status.details?.group, 'coordination.k8s.io');
    assert.equal(c.sim.get<V1Lease>('leases', 'kube-system', 'asg-lock')?.spec?.holderIdentity, 'b');
  });

  it('serves apps/v1 daemonsets and replicasets and policy/v1 PDBs', async () => {
    await c.apps.createNamespacedDaemonSet({
      namespace: 'kube-system',
      body: {
        metadata: { name: 'agent' },
        spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'a', image: 'a' }] } } },
      },
    });
    const ds = await c.apps.readNamespacedDaemonSet({ name: 'agent', namespace: 'kube-system' });
    assert.equal(ds.kind, 'DaemonSet');
    assert.equal(ds.apiVersion, 'apps/v1');
    await c.policy.createNamespacedPodDisruptionBudget({ namespace: 'default', body: { metadata: { name: 'pdb' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'none' } } } } });
    const pdbs = await c.policy.listPodDisruptionBudgetForAllNamespaces();
    assert.ok(pdbs.items.some((p) => p.metadata?.name === 'pdb'));
  });

  it('keeps status writes on the status subresource', async () => {
    c.sim.create('nodes', readyNode('status-node'));
    const node = await c.core.readNode({ name: 'status-node' });
    node.status!.conditions = [{ type: 'Ready', status: 'False' }];
    node.spec = { ...node.spec, unschedulable: true };
    const viaMain = await c.core.replaceNode({ name: 'status-node', body: node });
    assert.equal(viaMain.spec?.unschedulable, true);
    assert.equal(viaMain.status?.conditions?.[0]?.status, 'True', 'status ignored on the main resource');
    const viaStatus = await c.core.replaceNodeStatus({ name: 'status-node', body: { ...viaMain, status: { ...viaMain.status, conditions: [{ type: 'Ready', status: 'False' }] } } });
    assert.equal(viaStatus.status?.conditions?.[0]?.status, 'False');
  });

  it('injects faults with proper Status bodies and counts requests', async () => {
    c.sim.resetRequestCounts();
    c.sim.injectFault({ method: 'GET', resource: 'nodes', status: 500, times: 2, message: 'etcd is sad' });
    const first = await apiFailure(() => c.core.listNode());
    assert.equal(first.code, 500);
    assert.equal(first.status.reason, 'InternalError');
    assert.equal(first.status.message, 'etcd is sad');
    await apiFailure(() => c.core.listNode());
    await c.core.listNode();
    c.sim.injectFault({ method: 'create', resource: 'pods', subresource: 'eviction', status: 429, times: 1 });
    const throttled = await apiFailure(() =>
      c.core.createNamespacedPodEviction({ name: 'whatever', namespace: 'default', body: { metadata: { name: 'whatever', namespace: 'default' } } }),
    );
    assert.equal(throttled.code, 429);
    assert.equal(throttled.status.reason, 'TooManyRequests');
    const counts = c.sim.requestCounts();
    assert.equal(counts['LIST nodes'], 3);
    assert.equal(counts['CREATE pods/eviction'], 1);
  });

  it('rejects unknown resources and methods with Status bodies', async () => {
    const res = await fetch(`${c.sim.url}/api/v1/namespaces/default/widgets`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { kind: string }).kind, 'Status');
    const put = await fetch(`${c.sim.url}/api/v1/namespaces/default/pods`, { method: 'PUT', body: '{}' });
    assert.equal(put.status, 405);
    assert.equal(((await put.json()) as { reason: string }).reason, 'MethodNotAllowed');
  });

  it('writes nothing on dryRun=All', async () => {
    const res = await c.core.createNamespacedPod({ namespace: 'default', dryRun: 'All', body: { metadata: { name: 'dry' }, spec: { containers: [{ name: 'a', image: 'a' }] } } });
    assert.equal(res.metadata?.name, 'dry');
    assert.equal(c.sim.get('pods', 'default', 'dry'), undefined);
  });

  it('still answers correctly with injected latency', async () => {
    c.sim.setLatencyMs(20);
    try {
      const list = await c.core.listNode();
      assert.ok(Array.isArray(list.items));
    } finally {
      c.sim.setLatencyMs(0);
    }
  });

  it('shares one store between HTTP and in-process access', async () => {
    const seen: string[] = [];
    const off = c.sim.onChange((ev) => {
      if (ev.resource === 'pods' && ev.object.metadata?.name === 'shared') seen.push(ev.type);
    });
    await c.core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'shared' }, spec: { containers: [{ name: 'a', image: 'a' }] } } });
    assert.equal(c.sim.get<V1Pod>('pods', 'default', 'shared')?.metadata?.name, 'shared');
    c.sim.patch('pods', 'default', 'shared', { metadata: { labels: { touched: 'yes' } } });
    const read = await c.core.readNamespacedPod({ name: 'shared', namespace: 'default' });
    assert.equal(read.metadata?.labels?.touched, 'yes');
    off();
    assert.deepEqual(seen.slice(0, 2), ['ADDED', 'MODIFIED']);
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PatchStrategy, setHeaderOptions, type V1Node } from '@kubernetes/client-node';
import { strategicMerge, mergePatch } from '../../src/sim/kube/patch.js';
import { apiFailure, readyNode, startCluster, type TestCluster } from './helpers.js';

/** client-node deserialises into class instances; compare their JSON. */
function plain(v: unknown): unknown {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

describe('sim-kube PATCH over HTTP', () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster();
  });
  after(async () => {
    await c.sim.stop();
  });

  it('applies a JSON merge patch (null deletes)', async () => {
    c.sim.create('nodes', { ...readyNode('mp'), metadata: { name: 'mp', labels: { a: '1', b: '2' } } });
    const n = await c.core.patchNode(
      { name: 'mp', body: { metadata: { labels: { a: null, c: '3' } }, spec: { unschedulable: true } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    assert.deepEqual(n.metadata?.labels, { b: '2', c: '3' });
    assert.equal(n.spec?.unschedulable, true);
  });

  it('applies a JSON patch (the client-node default) and rejects a failed test op', async () => {
    c.sim.create('nodes', readyNode('jp'));
    const n = await c.core.patchNode({
      name: 'jp',
      body: [
        { op: 'add', path: '/spec/taints', value: [{ key: 'k', value: 'v', effect: 'NoSchedule' }] },
        { op: 'add', path: '/metadata/annotations', value: { 'x/y': 'z' } },
      ],
    });
    assert.deepEqual(plain(n.spec?.taints), [{ key: 'k', value: 'v', effect: 'NoSchedule' }]);
    assert.equal(n.metadata?.annotations?.['x/y'], 'z');
    const failed = await apiFailure(() => c.core.patchNode({ name: 'jp', body: [{ op: 'test', path: '/spec/unschedulable', value: true }] }));
    assert.equal(failed.code, 422);
    assert.equal(failed.status.reason, 'Invalid');
  });

  it('applies a strategic merge patch: keyed lists merge, taints are replaced', async () => {
    c.sim.create('nodes', {
      ...readyNode('smp', { taints: [{ key: 'old', effect: 'NoSchedule' }] }),
    });
    const n: V1Node = await c.core.patchNode(
      {
        name: 'smp',
        body: {
          spec: { unschedulable: true, taints: [{ key: 'new', value: 'v', effect: 'NoSchedule' }] },
          status: { conditions: [{ type: 'MemoryPressure', status: 'False' }] },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    assert.equal(n.spec?.unschedulable, true);
    assert.deepEqual(plain(n.spec?.taints), [{ key: 'new', value: 'v', effect: 'NoSchedule' }]);
    const nodeStatus = await c.core.patchNodeStatus(
      { name: 'smp', body: { status: { conditions: [{ type: 'MemoryPressure', status: 'False' }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    assert.deepEqual(nodeStatus.status?.conditions?.map((x) => x.type), ['Ready', 'MemoryPressure'], 'conditions merge by type');
    const removeAll = await c.core.patchNode(
      { name: 'smp', body: { spec: { taints: null } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    assert.equal(removeAll.spec?.taints, undefined);
  });

  it('makes a patch carrying a stale metadata.resourceVersion fail with 409', async () => {
    const node = c.sim.create('nodes', readyNode('rvp'));
    c.sim.patch('nodes', undefined, 'rvp', { metadata: { labels: { bump: '1' } } });
    const res = await apiFailure(() =>
      c.core.patchNode(
        { name: 'rvp', body: { metadata: { resourceVersion: node.metadata.resourceVersion, labels: { x: 'y' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
    assert.equal(res.code, 409);
    assert.equal(res.status.reason, 'Conflict');
  });

  it('refuses unsupported patch content types with 415', async () => {
    c.sim.create('nodes', readyNode('ct'));
    const res = await fetch(`${c.sim.url}/api/v1/nodes/ct`, { method: 'PATCH', headers: { 'Content-Type': 'text/plain' }, body: '{}' });
    assert.equal(res.status, 415);
    assert.equal(((await res.json()) as { reason: string }).reason, 'UnsupportedMediaType');
  });
});

describe('strategic merge semantics', () => {
  const pod = {
    metadata: { finalizers: ['a'], ownerReferences: [{ uid: 'u1', name: 'rs1' }] },
    spec: {
      containers: [
        { name: 'app', image: 'app:1', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] },
        { name: 'side', image: 'side:1' },
      ],
      tolerations: [{ key: 't1', operator: 'Exists' }],
      volumes: [{ name: 'v1', emptyDir: {} }],
    },
  };

  it('merges containers and env by name and replaces tolerations', () => {
    const out = strategicMerge(pod, {
      spec: {
        containers: [{ name: 'app', image: 'app:2', env: [{ name: 'B', value: '3' }, { name: 'C', value: '4' }] }],
        tolerations: [{ key: 't2', operator: 'Exists' }],
      },
    }) as typeof pod;
    assert.deepEqual(out.spec.containers.map((x) => [x.name, x.image]), [
      ['app', 'app:2'],
      ['side', 'side:1'],
    ]);
    assert.deepEqual(out.spec.containers[0]?.env, [
      { name: 'A', value: '1' },
      { name: 'B', value: '3' },
      { name: 'C', value: '4' },
    ]);
    assert.deepEqual(out.spec.tolerations, [{ key: 't2', operator: 'Exists' }]);
  });

  it('understands $patch delete/replace, $retainKeys, $setElementOrder and $deleteFromPrimitiveList', () => {
    const out = strategicMerge(pod, {
      metadata: { ['$deleteFromPrimitiveList/finalizers']: ['a'], finalizers: ['b'] },
      spec: {
        ['$setElementOrder/containers']: [{ name: 'side' }, { name: 'app' }],
        containers: [{ name: 'app', $patch: 'delete' }],
        volumes: [{ name: 'v2', hostPath: { path: '/x' } }, { $patch: 'replace' }],
      },
    }) as typeof pod;
    assert.deepEqual(out.metadata.finalizers, ['b']);
    assert.deepEqual(out.spec.containers.map((x) => x.name), ['side']);
    assert.deepEqual(out.spec.volumes, [{ name: 'v2', hostPath: { path: '/x' } }]);

    const ordered = strategicMerge(pod, { spec: { ['$setElementOrder/containers']: [{ name: 'side' }, { name: 'app' }] } }) as typeof pod;
    assert.deepEqual(ordered.spec.containers.map((x) => x.name), ['side', 'app']);

    const retained = strategicMerge(
      { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } },
      { strategy: { $retainKeys: ['type'], type: 'Recreate' } },
    );
    assert.deepEqual(retained, { strategy: { type: 'Recreate' } });

    const replacedMap = strategicMerge({ spec: { nodeSelector: { a: '1', b: '2' } } }, { spec: { nodeSelector: { $patch: 'replace', c: '3' } } });
    assert.deepEqual(replacedMap, { spec: { nodeSelector: { c: '3' } } });

    const ownersMerged = strategicMerge(pod, { metadata: { ownerReferences: [{ uid: 'u2', name: 'rs2' }] } }) as typeof pod;
    assert.deepEqual(ownersMerged.metadata.ownerReferences.map((o) => o.uid), ['u1', 'u2']);
  });

  it('merge patch replaces lists wholesale', () => {
    assert.deepEqual(mergePatch({ a: [1, 2], b: { c: 1 } }, { a: [3], b: { d: 2 } }), { a: [3], b: { c: 1, d: 2 } });
  });
});

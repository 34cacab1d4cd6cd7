import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { toMergePatch, toNodeView, toPodView } from '../../src/kube/kube-api.js';
import type { NodeView } from '../../src/kube/types.js';

const view: NodeView = {
  name: 'node-a',
  uid: 'u',
  resourceVersion: '4242',
  unschedulable: true,
  taints: [],
  labels: {},
  annotations: {},
  bootId: 'b',
  providerId: 'p',
  ready: true,
};

describe('toMergePatch', () => {
  it('carries the resourceVersion it read, so a concurrent change makes the write fail (409)', () => {
    const patch = toMergePatch(view, { labels: { a: 'b' } });
    assert.deepEqual(patch, { metadata: { resourceVersion: '4242', labels: { a: 'b' } } });
  });

  it('cordon writes unschedulable: true; uncordon removes the field (null), never false', () => {
    assert.deepEqual(toMergePatch(view, { unschedulable: true }).spec, { unschedulable: true });
    assert.deepEqual(toMergePatch(view, { unschedulable: false }).spec, { unschedulable: null });
  });

  it('writes the whole taint list, and null for an empty one', () => {
    const taints = [{ key: 'k', value: 'v', effect: 'NoSchedule' as const }];
    assert.deepEqual(toMergePatch(view, { taints }).spec, { taints });
    assert.deepEqual(toMergePatch(view, { taints: [] }).spec, { taints: null });
  });

  it('removes labels and annotations with null', () => {
    const patch = toMergePatch(view, { labels: { gone: null }, annotations: { note: null, kept: 'x' } });
    assert.deepEqual(patch.metadata, { resourceVersion: '4242', labels: { gone: null }, annotations: { note: null, kept: 'x' } });
    assert.equal(patch.spec, undefined, 'a metadata-only change does not touch spec');
  });
});

describe('toNodeView', () => {
  it('reads what the agent reasons about', () => {
    const n: V1Node = {
      metadata: { name: 'node-a', uid: 'u1', resourceVersion: '9', labels: { a: 'b' }, annotations: { x: 'y' }, creationTimestamp: new Date('2025-01-01T00:00:00Z') },
      spec: { unschedulable: true, providerID: 'aws:///us-east-1a/i-1', taints: [{ key: 'k', effect: 'NoExecute' }, { key: 'k2', value: 'v', effect: 'NoSchedule' }] },
      status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { bootID: 'boot-9' } as NonNullable<V1Node['status']>['nodeInfo'] },
    };
    const v = toNodeView(n);
    assert.equal(v.name, 'node-a');
    assert.equal(v.resourceVersion, '9');
    assert.equal(v.unschedulable, true);
    assert.deepEqual(v.taints, [{ key: 'k', effect: 'NoExecute' }, { key: 'k2', value: 'v', effect: 'NoSchedule' }]);
    assert.equal(v.bootId, 'boot-9');
    assert.equal(v.ready, true);
    assert.equal(v.providerId, 'aws:///us-east-1a/i-1');
    assert.equal(v.creationTimestamp, '2025-01-01T00:00:00.000Z');
  });

  it('an empty node reads as schedulable, untainted, not ready', () => {
    const v = toNodeView({ status: { conditions: [{ type: 'Ready', status: 'False' }] } });
    assert.equal(v.unschedulable, false);
    assert.deepEqual(v.taints, []);
    assert.deepEqual(v.labels, {});
    assert.equal(v.ready, false);
    assert.equal(v.bootId, '');
  });
});

describe('toPodView', () => {
  it('recognises DaemonSet, mirror and emptyDir pods', () => {
    const p: V1Pod = {
      metadata: {
        name: 'x',
        namespace: 'kube-system',
        uid: 'u',
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'ds', uid: 'd', controller: true }],
        annotations: { 'kubernetes.io/config.mirror': 'abc' },
        deletionTimestamp: new Date(),
      },
      spec: { nodeName: 'node-a', containers: [], volumes: [{ name: 'scratch', emptyDir: {} }] },
      status: { phase: 'Running' },
    };
    const v = toPodView(p);
    assert.deepEqual(v.ownerKinds, ['DaemonSet']);
    assert.equal(v.isMirror, true);
    assert.equal(v.hasEmptyDir, true);
    assert.equal(v.terminating, true);
    assert.equal(v.nodeName, 'node-a');
  });

  it('a plain pod is none of those; non-controller owners do not count', () => {
    const v = toPodView({
      metadata: { name: 'y', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'ds', uid: 'd', controller: false }] },
      spec: { containers: [], volumes: [{ name: 'cfg', configMap: { name: 'c' } }] },
    });
    assert.deepEqual(v.ownerKinds, []);
    assert.equal(v.isMirror, false);
    assert.equal(v.hasEmptyDir, false);
    assert.equal(v.terminating, false);
    assert.equal(v.namespace, 'default');
  });
});

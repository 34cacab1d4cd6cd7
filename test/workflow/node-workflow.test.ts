import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeChange, NodePort, NodeView, PodPort } from '../../src/kube/types.js';
import { Metrics } from '../../src/observability/metrics.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ScaledClock } from '../../src/shared/clock.js';
import { NodeWorkflow } from '../../src/workflow/node-workflow.js';
import { recordsOf } from '../../src/workflow/node-changes.js';
import type { WorkflowPolicy } from '../../src/workflow/policy.js';
import { applyNodeChange } from '../../src/kube/apply-change.js';
import { FakePods, pod } from '../kube/fakes.js';
import { DAY, SEC, node, notice, policy } from './fixtures.js';

/** One node and its pods in memory, behind our own ports. */
class Cluster extends FakePods implements NodePort, PodPort {
  writes = 0;
  constructor(public node: NodeView) {
    super([pod('web-1'), pod('web-2'), pod('ds-1', { ownerKinds: ['DaemonSet'] })]);
  }
  async getNode(name: string): Promise<NodeView | null> {
    return name === this.node.name ? structuredClone(this.node) : null;
  }
  async listNodes(): Promise<NodeView[]> {
    return [structuredClone(this.node)];
  }
  async updateNode(name: string, mutate: (n: NodeView) => NodeChange | null): Promise<NodeView> {
    const current = structuredClone(this.node);
    const c = mutate(current);
    if (!c) return current;
    this.writes++;
    this.node = { ...applyNodeChange(current, c), name, resourceVersion: String(Number(current.resourceVersion) + 1) };
    return structuredClone(this.node);
  }
}

function setup(p: WorkflowPolicy = policy({ taintNode: true })) {
  const clock = new ScaledClock(1000, Date.parse('2025-01-01T00:00:00Z'));
  const cluster = new Cluster(node());
  const wf = new NodeWorkflow({
    nodeName: 'node-a',
    kube: cluster,
    clock,
    logger: silentLogger(),
    metrics: new Metrics(),
    policy: p,
    drain: { ignoreDaemonSets: true, deleteLocalData: true, podGracePeriodSeconds: -1 },
  });
  const workloads = () => [...cluster.pods.values()].filter((x) => !x.ownerKinds.includes('DaemonSet')).length;
  return { clock, cluster, wf, workloads };
}

describe('NodeWorkflow (in-memory cluster)', () => {
  it('a spot ITN polled repeatedly with a moving time: one cordon, one drain, then quiet', async () => {
    const { clock, cluster, wf, workloads } = setup();
    wf.observe([notice('itn-1', 'SPOT_ITN', clock.now() + 120 * SEC)]);
    await wf.reconcileOnce();
    assert.equal(cluster.node.unschedulable, true);
    assert.equal(workloads(), 0);
    assert.ok(cluster.pods.has('default/ds-1'), 'DaemonSet pods stay');
    assert.equal(recordsOf(cluster.node)['itn-1']?.phase, 'Drained');
    const writes = cluster.writes;
    const evictions = cluster.evictCalls.length;
    for (let i = 0; i < 3; i++) {
      wf.observe([notice('itn-1', 'SPOT_ITN', clock.now() + 120 * SEC + i)]);
      await wf.reconcileOnce();
    }
    assert.equal(cluster.writes, writes, 'no further writes');
    assert.equal(cluster.evictCalls.length, evictions, 'no further evictions');
    assert.equal(Object.keys(recordsOf(cluster.node)).length, 1);
  });

  it('a scheduled reboot: cordon and drain before it, uncordon after the reboot', async () => {
    const { clock, cluster, wf, workloads } = setup();
    const ev = notice('instance-event-1', 'SCHEDULED_EVENT', clock.now() + 60 * SEC, { code: 'system-reboot', state: 'active' });
    wf.observe([ev]);
    await wf.reconcileOnce();
    assert.equal(recordsOf(cluster.node)['instance-event-1']?.phase, 'AwaitingReboot');
    assert.equal(cluster.node.unschedulable, true);
    assert.equal(workloads(), 0);
    await wf.reconcileOnce();
    assert.equal(cluster.node.unschedulable, true, 'still cordoned until the reboot');
    cluster.node.bootId = 'boot-2';
    await wf.reconcileOnce();
    assert.equal(cluster.node.unschedulable, false);
    assert.deepEqual(cluster.node.taints, []);
    assert.equal(recordsOf(cluster.node)['instance-event-1']?.phase, 'Done');
  });

  it('a scheduled reboot the owner completed early is never acted on', async () => {
    const { clock, cluster, wf } = setup();
    const at = clock.now() + 3 * DAY;
    wf.observe([notice('instance-event-2', 'SCHEDULED_EVENT', at, { code: 'instance-reboot', state: 'active' })]);
    const next = await wf.reconcileOnce();
    assert.equal(recordsOf(cluster.node)['instance-event-2']?.phase, 'Pending');
    assert.equal(next, at - 120 * SEC, 'the loop wakes when the event is due');
    cluster.node.bootId = 'boot-2';
    wf.observe([notice('instance-event-2', 'SCHEDULED_EVENT', at, { code: 'instance-reboot', state: 'completed' })]);
    await wf.reconcileOnce();
    assert.equal(recordsOf(cluster.node)['instance-event-2']?.phase, 'Done');
    assert.equal(cluster.node.unschedulable, false);
    assert.equal(cluster.evictCalls.length, 0);
  });

  it('CORDON_ONLY cordons and evicts nothing', async () => {
    const { clock, cluster, wf } = setup(policy({ cordonOnly: true }));
    wf.observe([notice('itn-1', 'SPOT_ITN', clock.now() + 120 * SEC)]);
    await wf.reconcileOnce();
    assert.equal(cluster.node.unschedulable, true);
    assert.equal(recordsOf(cluster.node)['itn-1']?.phase, 'Cordoned');
    assert.equal(cluster.evictCalls.length, 0);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { drainNode, planDrain, type DrainOptions } from '../../src/kube/drain.js';
import { Deadline, ScaledClock } from '../../src/shared/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { FakePods, pod } from './fakes.js';

const self = { namespace: 'kube-system', name: 'spot-guard-abc' };
const mixed = () => [
  pod('web-1'),
  pod('web-2'),
  pod('ds-1', { namespace: 'kube-system', ownerKinds: ['DaemonSet'] }),
  pod('kube-proxy-static', { namespace: 'kube-system', isMirror: true, ownerKinds: ['Node'] }),
  pod(self.name, { namespace: self.namespace, ownerKinds: ['DaemonSet'] }),
  pod('cache-1', { hasEmptyDir: true }),
];

describe('planDrain', () => {
  it('evicts workloads, skips DaemonSet pods, mirror pods and the agent itself', () => {
    const plan = planDrain(mixed(), { ignoreDaemonSets: true, deleteLocalData: true, selfPod: self });
    assert.deepEqual(plan.evict.map((p) => p.name).sort(), ['cache-1', 'web-1', 'web-2']);
    assert.deepEqual(plan.skipped.map((s) => s.pod.name).sort(), ['ds-1', 'kube-proxy-static', self.name].sort());
    assert.deepEqual(plan.refusals, []);
  });

  it('refuses DaemonSet pods without IGNORE_DAEMON_SETS (but still never the agent itself)', () => {
    const plan = planDrain(mixed(), { ignoreDaemonSets: false, deleteLocalData: true, selfPod: self });
    assert.equal(plan.refusals.length, 1);
    assert.match(plan.refusals[0]!, /kube-system\/ds-1/);
    assert.match(plan.refusals[0]!, /IGNORE_DAEMON_SETS/);
  });

  it('refuses emptyDir pods without DELETE_LOCAL_DATA', () => {
    const plan = planDrain(mixed(), { ignoreDaemonSets: true, deleteLocalData: false, selfPod: self });
    assert.equal(plan.refusals.length, 1);
    assert.match(plan.refusals[0]!, /default\/cache-1/);
    assert.ok(!plan.evict.some((p) => p.name === 'cache-1'));
  });

  it("a pod with the agent's name in another namespace is not the agent", () => {
    const plan = planDrain([pod(self.name)], { ignoreDaemonSets: true, deleteLocalData: true, selfPod: self });
    assert.deepEqual(plan.evict.map((p) => p.name), [self.name]);
  });
});

function opts(clock: ScaledClock, over: Partial<DrainOptions> = {}): DrainOptions {
  return {
    nodeName: 'node-a',
    ignoreDaemonSets: true,
    deleteLocalData: true,
    podGracePeriodSeconds: -1,
    selfPod: self,
    deadline: Deadline.after(clock, 120_000),
    clock,
    logger: silentLogger(),
    ...over,
  };
}

describe('drainNode', () => {
  it('evicts every eligible pod concurrently and completes when they are gone', async () => {
    const clock = new ScaledClock(1000);
    const pods = new FakePods([...mixed(), pod('web-3'), pod('web-4')]);
    const evicted: string[] = [];
    const result = await drainNode(pods, opts(clock, { onEvicted: (p) => evicted.push(p.name) }));
    assert.equal(result.complete, true);
    assert.equal(result.evicted, 5);
    assert.equal(result.skipped, 3);
    assert.deepEqual(result.remaining, []);
    assert.deepEqual(evicted.sort(), ['cache-1', 'web-1', 'web-2', 'web-3', 'web-4']);
    assert.ok(pods.maxInFlight > 1, `evictions ran one at a time (max in flight ${pods.maxInFlight})`);
    const names = pods.evictCalls.map((c) => c.name);
    for (const never of ['ds-1', 'kube-proxy-static', self.name]) assert.ok(!names.includes(never), `${never} must not be evicted`);
    assert.ok(pods.pods.has('kube-system/ds-1'));
  });

  it('bounds the evictions in flight', async () => {
    const clock = new ScaledClock(1000);
    const pods = new FakePods(Array.from({ length: 10 }, (_, i) => pod(`p-${i}`)));
    const result = await drainNode(pods, opts(clock, { concurrency: 3 }));
    assert.equal(result.complete, true);
    assert.ok(pods.maxInFlight <= 3, `max in flight ${pods.maxInFlight}`);
  });

  it('retries an eviction blocked by a disruption budget (429) until it is allowed', async () => {
    const clock = new ScaledClock(1000);
    const pods = new FakePods([pod('web-1'), pod('web-2')]);
    pods.blocked.set('web-1', 3);
    let blockedSeen = 0;
    const result = await drainNode(pods, opts(clock, { onBlocked: () => blockedSeen++ }));
    assert.equal(result.complete, true);
    assert.equal(result.blockedByBudget, 3);
    assert.equal(blockedSeen, 3);
    assert.equal(pods.evictCalls.filter((c) => c.name === 'web-1').length, 4);
    assert.equal(pods.pods.size, 0);
  });

  it('retries an eviction that failed with a server error', async () => {
    const clock = new ScaledClock(1000);
    const pods = new FakePods([pod('web-1')]);
    pods.failing.set('web-1', 2);
    const result = await drainNode(pods, opts(clock));
    assert.equal(result.complete, true);
    assert.equal(pods.evictCalls.length, 3);
  });

  it('gives up at the deadline and reports the pods left', async () => {
    const clock = new ScaledClock(1000);
    const pods = new FakePods([pod('web-1'), pod('guarded'), pod('db-0')]);
    pods.blocked.set('guarded', Infinity);
    pods.stuck.add('db-0');
    const result = await drainNode(pods, opts(clock, { deadline: Deadline.after(clock, 20_000) }));
    assert.equal(result.complete, false);
    assert.deepEqual([...result.remaining].sort(), ['default/db-0', 'default/guarded']);
    assert.ok(result.blockedByBudget >= 1);
    assert.ok(!pods.pods.has('default/web-1'), 'the evictable pod was still evicted');
  });

  it('completes only when the evicted pods are gone, not when evictions are accepted', async () => {
    const clock = new ScaledClock(1000);
    const pods = new FakePods([pod('web-1'), pod('web-2')]);
    pods.terminationListings = 3;
    const result = await drainNode(pods, opts(clock));
    assert.equal(result.complete, true);
    assert.equal(pods.pods.size, 0);
    assert.ok(pods.listCalls >= 4, `listed ${pods.listCalls} times`);
  });

  it('a pod already gone counts as done', async () => {
    const clock = new ScaledClock(1000);
    const pods = new FakePods([pod('web-1')]);
    const real = pods.evictPod.bind(pods);
    pods.evictPod = async (ns, name, g) => {
      pods.pods.delete(`${ns}/${name}`);
      return real(ns, name, g);
    };
    const result = await drainNode(pods, opts(clock));
    assert.equal(result.complete, true);
    assert.equal(pods.evictCalls.length, 1);
  });

  it('refuses up front (no eviction at all) when kubectl would refuse', async () => {
    const clock = new ScaledClock(1000);
    const pods = new FakePods(mixed());
    const result = await drainNode(pods, opts(clock, { ignoreDaemonSets: false }));
    assert.equal(result.complete, false);
    assert.equal(result.refusals.length, 1);
    assert.equal(pods.evictCalls.length, 0);
    assert.ok(result.remaining.includes('default/web-1'));
  });

  it('passes POD_TERMINATION_GRACE_PERIOD only when >= 0', async () => {
    for (const [setting, expected] of [[-1, undefined], [0, 0], [30, 30]] as const) {
      const clock = new ScaledClock(1000);
      const pods = new FakePods([pod('web-1')]);
      await drainNode(pods, opts(clock, { podGracePeriodSeconds: setting }));
      assert.deepEqual(pods.evictCalls.map((c) => c.gracePeriodSeconds), [expected], `setting ${setting}`);
    }
  });

  it('stops with an AbortError when aborted', async () => {
    const clock = new ScaledClock(1000);
    const pods = new FakePods([pod('web-1')]);
    pods.blocked.set('web-1', Infinity);
    const ac = new AbortController();
    const p = drainNode(pods, opts(clock, { signal: ac.signal }));
    setTimeout(() => ac.abort(), 10);
    await assert.rejects(p, (err: Error) => err.name === 'AbortError');
  });
});

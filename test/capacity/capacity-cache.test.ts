import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeConfig } from '@kubernetes/client-node';
import { ScaledClock, type Clock } from '../../src/shared/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { kubeConfigFromString } from '../../src/kube/client.js';
import { leaseNameFor } from '../../src/kube/lease-lock.js';
import {
  CAPACITY_ANNOTATION,
  LeaseCapacityCache,
  ReadOnlyCapacityCache,
  parseEntry,
  type UnavailableEntry,
} from '../../src/capacity/capacity-cache.js';
import { SimKube } from '../../src/sim/kube/index.js';

const NS = 'spot-guard';
const TTL = 180_000;

interface LeaseObj {
  metadata: { name: string; resourceVersion: string; annotations?: Record<string, string> };
}

function writeCounts(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([k]) => /^(CREATE|UPDATE|PATCH|DELETE|DELETECOLLECTION) /.test(k)));
}

/** A scaled clock the test can also jump forward, so expiry needs no waiting. */
class JumpClock implements Clock {
  private skew = 0;
  constructor(private readonly base: ScaledClock) {}
  now(): number {
    return this.base.now() + this.skew;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.base.sleep(ms, signal);
  }
  jump(ms: number): void {
    this.skew += ms;
  }
}

describe('LeaseCapacityCache against the simulated API server', () => {
  let clock: JumpClock;
  let sim: SimKube;
  let kc: KubeConfig;
  let seq = 0;
  const group = () => `spot-group-${++seq}`;
  const makeCache = () => new LeaseCapacityCache({ kubeConfig: kc, namespace: NS, clock, logger: silentLogger(), retryMs: 50 });
  const entry = (g: string, ttl = TTL, extra: Partial<UnavailableEntry> = {}): UnavailableEntry => ({
    group: g,
    until: clock.now() + ttl,
    reason: 'InsufficientInstanceCapacity',
    recordedBy: 'node-a',
    at: clock.now(),
    ...extra,
  });
  const stored = (g: string) => sim.get<LeaseObj>('leases', NS, leaseNameFor('spot-guard-capacity', g));

  before(async () => {
    clock = new JumpClock(new ScaledClock(100));
    sim = new SimKube({ clock });
    await sim.start();
    kc = kubeConfigFromString(sim.kubeconfigYaml());
  });
  after(async () => {
    await sim.stop();
  });

  it('get is null for an unknown group, and returns what was recorded', async () => {
    const cache = makeCache();
    const g = group();
    assert.equal(await cache.get(g), null);
    const e = entry(g);
    await cache.markUnavailable(e);
    assert.deepEqual(await cache.get(g), e);
    // Stored as one JSON annotation on a Lease named after the group.
    const lease = stored(g);
    assert.ok(lease);
    assert.deepEqual(parseEntry(lease.metadata.annotations?.[CAPACITY_ANNOTATION]), e);
    // Another agent (another client) sees it.
    assert.deepEqual(await makeCache().get(g), e);
  });

  it('entries expire by the clock', async () => {
    const cache = makeCache();
    const g = group();
    await cache.markUnavailable(entry(g, TTL));
    assert.ok(await cache.get(g));
    clock.jump(TTL - 10_000);
    assert.ok(await cache.get(g), 'still there before its until');
    clock.jump(10_001);
    assert.equal(await cache.get(g), null);
    assert.equal(await makeCache().get(g), null, 'expired for every reader');
    // After expiry, a new entry is recorded as usual.
    const fresh = entry(g, 60_000, { recordedBy: 'node-b' });
    await cache.markUnavailable(fresh);
    assert.deepEqual(await cache.get(g), fresh);
  });

  it('keeps the later until', async () => {
    const cache = makeCache();
    const g = group();
    const long = entry(g, 600_000, { recordedBy: 'node-long' });
    await cache.markUnavailable(long);
    const rvBefore = stored(g)?.metadata.resourceVersion;
    await cache.markUnavailable(entry(g, 60_000, { recordedBy: 'node-short' }));
    assert.deepEqual(await cache.get(g), long);
    assert.equal(stored(g)?.metadata.resourceVersion, rvBefore, 'an earlier until is not written at all');
    const longer = entry(g, 900_000, { recordedBy: 'node-longer' });
    await cache.markUnavailable(longer);
    assert.deepEqual(await cache.get(g), longer);
  });

  it('an already-expired entry is not recorded', async () => {
    const cache = makeCache();
    const g = group();
    await cache.markUnavailable(entry(g, -1_000));
    assert.equal(await cache.get(g), null);
    assert.equal(stored(g), undefined);
  });

  it('clear forgets the group; clearing an unknown group is a no-op', async () => {
    const cache = makeCache();
    const g = group();
    await cache.clear(g);
    await cache.markUnavailable(entry(g));
    await cache.clear(g);
    assert.equal(await cache.get(g), null);
    assert.equal(stored(g)?.metadata.annotations?.[CAPACITY_ANNOTATION], undefined);
    // And it can be recorded again afterwards.
    const again = entry(g);
    await cache.markUnavailable(again);
    assert.deepEqual(await cache.get(g), again);
  });

  it('groups are independent', async () => {
    const cache = makeCache();
    const a = group();
    const b = group();
    await cache.markUnavailable(entry(a));
    assert.equal(await cache.get(b), null);
    await cache.clear(b);
    assert.ok(await cache.get(a));
  });

  it('ignores a malformed annotation', async () => {
    const cache = makeCache();
    const g = group();
    sim.create('leases', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: leaseNameFor('spot-guard-capacity', g), namespace: NS, annotations: { [CAPACITY_ANNOTATION]: '{not json' } },
      spec: {},
    });
    assert.equal(await cache.get(g), null);
    const e = entry(g);
    await cache.markUnavailable(e);
    assert.deepEqual(await cache.get(g), e);
  });

  it('concurrent writers on one group lose nothing: the latest until wins, whoever wrote first', async () => {
    const g = group();
    const writers = Array.from({ length: 10 }, (_, i) => entry(g, 60_000 + i * 1_000, { recordedBy: `node-${i}` }));
    await Promise.all(writers.map((e) => makeCache().markUnavailable(e)));
    assert.equal((await makeCache().get(g))?.recordedBy, 'node-9');
  });

  it('two writers on different groups at once: both entries are there', async () => {
    const a = group();
    const b = group();
    await Promise.all([makeCache().markUnavailable(entry(a)), makeCache().markUnavailable(entry(b))]);
    assert.ok(await makeCache().get(a));
    assert.ok(await makeCache().get(b));
  });

  it('a write racing a clear: both succeed (409 retried) and the result is one of the two serial orders', async () => {
    const g = group();
    await makeCache().markUnavailable(entry(g, 30_000));
    // Both start from the same read; one of them gets 409 and re-reads.
    const e = entry(g, 600_000, { recordedBy: 'node-z' });
    await Promise.all([makeCache().markUnavailable(e), makeCache().clear(g)]);
    const got = await makeCache().get(g);
    assert.ok(got === null || (got.recordedBy === e.recordedBy && got.until === e.until), JSON.stringify(got));
  });

  it('survives injected 409s and 5xx on reads and writes', async () => {
    const cache = makeCache();
    const g = group();
    sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'POST', status: 409, reason: 'AlreadyExists', times: 1 });
    sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'GET', status: 500, times: 2 });
    try {
      const e = entry(g);
      await cache.markUnavailable(e);
      sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'PUT', status: 409, times: 2 });
      sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'PUT', status: 503, times: 1 });
      const later = entry(g, 900_000);
      await cache.markUnavailable(later);
      assert.deepEqual(await cache.get(g), later);
      sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'PUT', status: 409, times: 1 });
      await cache.clear(g);
      assert.equal(await cache.get(g), null);
    } finally {
      sim.clearFaults();
    }
  });

  it('gives up with the error when the API keeps failing, instead of retrying forever', async () => {
    const cache = makeCache();
    sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'GET', status: 500, times: 100 });
    try {
      await assert.rejects(cache.get(group()));
    } finally {
      sim.clearFaults();
    }
  });

  it('ReadOnlyCapacityCache reads the real cache and never writes', async () => {
    const real = makeCache();
    const g = group();
    const other = group();
    const recorded = entry(g, 60_000, { recordedBy: 'real-node' });
    await real.markUnavailable(recorded);

    sim.resetRequestCounts();
    const dry = new ReadOnlyCapacityCache({ source: makeCache(), clock, logger: silentLogger() });
    assert.deepEqual(await dry.get(g), recorded, 'sees the shared cache');

    // Writes stay in memory: visible to this agent, not to others.
    const mine = entry(other, 60_000, { recordedBy: 'dry-node' });
    await dry.markUnavailable(mine);
    assert.deepEqual(await dry.get(other), mine);
    assert.equal(await real.get(other), null);

    const longer = entry(g, 600_000, { recordedBy: 'dry-node' });
    await dry.markUnavailable(longer);
    assert.deepEqual(await dry.get(g), longer, 'the later until of memory and cluster');

    await dry.clear(g);
    assert.equal(await dry.get(g), null, 'a dry-run clear hides the real entry for this agent');
    assert.deepEqual(await real.get(g), recorded, 'but the cluster still has it');

    assert.deepEqual(writeCounts(sim.requestCounts()), {}, 'no write request reached the API server');
    assert.ok((sim.requestCounts()['GET leases.coordination.k8s.io'] ?? 0) > 0);
  });
});

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
  PROBE_BACKOFF_ANNOTATION,
  ReadOnlyCapacityCache,
  nextBackoff,
  parseBackoff,
  type ProbeBackoffPolicy,
} from '../../src/capacity/capacity-cache.js';
import { SimKube } from '../../src/sim/kube/index.js';

const NS = 'spot-guard';
const MIN = 60_000;
const POLICY: ProbeBackoffPolicy = { initialMs: 10 * MIN, maxMs: 120 * MIN };

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

describe('nextBackoff', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('10 min, 20, 40, 80, then capped at 2 h', () => {
    let b = null;
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      b = nextBackoff(b, now, POLICY);
      assert.equal(b.failures, i + 1);
      delays.push((b.until - now) / MIN);
    }
    assert.deepEqual(delays, [10, 20, 40, 80, 120, 120, 120]);
  });

  it('counts from the time of the failure, not from the previous until', () => {
    const first = nextBackoff(null, now, POLICY);
    const later = now + 3 * 60 * MIN; // long after the first backoff ended
    const second = nextBackoff(first, later, POLICY);
    assert.deepEqual(second, { failures: 2, until: later + 20 * MIN });
  });

  it('stays capped for any number of failures (no overflow)', () => {
    const b = nextBackoff({ failures: 5_000, until: 0 }, now, POLICY);
    assert.equal(b.failures, 5_001);
    assert.equal(b.until, now + POLICY.maxMs);
  });

  it('parseBackoff reads what is stored and ignores garbage', () => {
    assert.deepEqual(parseBackoff(JSON.stringify({ failures: 2, until: 123 })), { failures: 2, until: 123 });
    assert.equal(parseBackoff(undefined), null);
    assert.equal(parseBackoff(''), null);
    assert.equal(parseBackoff('{not json'), null);
    assert.equal(parseBackoff(JSON.stringify({ failures: '2', until: 123 })), null);
  });
});

describe('LeaseCapacityCache probe backoff against the simulated API server', () => {
  let clock: JumpClock;
  let sim: SimKube;
  let kc: KubeConfig;
  let seq = 0;
  const group = () => `spot-backoff-${++seq}`;
  const makeCache = () => new LeaseCapacityCache({ kubeConfig: kc, namespace: NS, clock, logger: silentLogger(), retryMs: 50 });
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

  it('no backoff for an unknown group', async () => {
    assert.equal(await makeCache().probeBackoff(group()), null);
  });

  it('each failure doubles the backoff, cluster-wide, capped; the record outlives its until', async () => {
    const g = group();
    const a = makeCache();
    const b = makeCache(); // another agent
    const t1 = clock.now();
    const first = await a.recordProbeFailure(g, POLICY);
    assert.equal(first.failures, 1);
    assert.ok(first.until >= t1 + 10 * MIN && first.until <= clock.now() + 10 * MIN);
    assert.deepEqual(await b.probeBackoff(g), first, 'another agent sees it');
    assert.deepEqual(parseBackoff(stored(g)?.metadata.annotations?.[PROBE_BACKOFF_ANNOTATION]), first);

    // Long after it ended, the record is still there, so the next failure doubles it.
    clock.jump(3 * 60 * MIN);
    assert.deepEqual(await a.probeBackoff(g), first, 'kept after it expires');
    const delays = [(first.until - t1) / MIN];
    for (let i = 0; i < 5; i++) {
      const before = clock.now();
      const next = await (i % 2 ? a : b).recordProbeFailure(g, POLICY);
      assert.equal(next.failures, i + 2);
      delays.push(Math.round((next.until - before) / MIN));
    }
    assert.deepEqual(
      delays.map((d) => Math.round(d)),
      [10, 20, 40, 80, 120, 120],
    );
  });

  it('clearProbeBackoff resets to the initial delay and keeps the capacity entry', async () => {
    const g = group();
    const cache = makeCache();
    const entry = { group: g, until: clock.now() + 10 * MIN, reason: 'InsufficientInstanceCapacity', recordedBy: 'node-a', at: clock.now() };
    await cache.markUnavailable(entry);
    await cache.recordProbeFailure(g, POLICY);
    await cache.recordProbeFailure(g, POLICY);
    assert.equal((await cache.probeBackoff(g))?.failures, 2);
    // Both annotations share one Lease and do not clobber each other.
    assert.deepEqual(await cache.get(g), entry);

    await cache.clearProbeBackoff(g);
    assert.equal(await cache.probeBackoff(g), null);
    assert.equal(stored(g)?.metadata.annotations?.[PROBE_BACKOFF_ANNOTATION], undefined);
    assert.ok(stored(g)?.metadata.annotations?.[CAPACITY_ANNOTATION], 'the capacity entry is untouched');
    assert.deepEqual(await cache.get(g), entry);

    const now = clock.now();
    const again = await cache.recordProbeFailure(g, POLICY);
    assert.equal(again.failures, 1);
    assert.ok(again.until - now <= 11 * MIN && again.until - now >= 10 * MIN);

    // Clearing the capacity entry keeps the backoff.
    await cache.clear(g);
    assert.equal(await cache.get(g), null);
    assert.deepEqual(await cache.probeBackoff(g), again);
  });

  it('clearing when there is nothing to clear writes nothing', async () => {
    const g = group();
    const cache = makeCache();
    sim.resetRequestCounts();
    await cache.clearProbeBackoff(g);
    assert.equal(stored(g), undefined);
    await cache.markUnavailable({ group: g, until: clock.now() + MIN, reason: 'x', recordedBy: 'n', at: clock.now() });
    const rv = stored(g)?.metadata.resourceVersion;
    await cache.clearProbeBackoff(g);
    assert.equal(stored(g)?.metadata.resourceVersion, rv);
  });

  it('concurrent failures from many agents are all counted (409s retried)', async () => {
    const g = group();
    const results = await Promise.all(Array.from({ length: 6 }, () => makeCache().recordProbeFailure(g, POLICY)));
    assert.deepEqual(
      results.map((r) => r.failures).sort((x, y) => x - y),
      [1, 2, 3, 4, 5, 6],
    );
    assert.equal((await makeCache().probeBackoff(g))?.failures, 6);
  });

  it('survives injected conflicts and server errors', async () => {
    const g = group();
    const cache = makeCache();
    await cache.recordProbeFailure(g, POLICY);
    sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'PUT', status: 409, times: 2 });
    sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'GET', status: 503, times: 1 });
    try {
      assert.equal((await cache.recordProbeFailure(g, POLICY)).failures, 2);
      sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'PUT', status: 409, times: 1 });
      await cache.clearProbeBackoff(g);
      assert.equal(await cache.probeBackoff(g), null);
    } finally {
      sim.clearFaults();
    }
  });

  it('ReadOnlyCapacityCache reads the real backoff, keeps its own in memory, and never writes', async () => {
    const g = group();
    const fresh = group();
    const real = makeCache();
    const recorded = await real.recordProbeFailure(g, POLICY);

    sim.resetRequestCounts();
    const dry = new ReadOnlyCapacityCache({ source: makeCache(), clock, logger: silentLogger() });
    assert.deepEqual(await dry.probeBackoff(g), recorded, 'sees the shared backoff');

    const next = await dry.recordProbeFailure(g, POLICY);
    assert.equal(next.failures, 2, 'doubles the real one');
    assert.deepEqual(await dry.probeBackoff(g), next);
    assert.deepEqual(await real.probeBackoff(g), recorded, 'the cluster is unchanged');

    const own = await dry.recordProbeFailure(fresh, POLICY);
    assert.equal(own.failures, 1);
    assert.equal(await real.probeBackoff(fresh), null);

    await dry.clearProbeBackoff(g);
    assert.equal(await dry.probeBackoff(g), null, 'a dry-run clear hides the real backoff for this agent');
    assert.deepEqual(await real.probeBackoff(g), recorded);

    assert.deepEqual(writeCounts(sim.requestCounts()), {}, 'no write request reached the API server');
    assert.ok((sim.requestCounts()['GET leases.coordination.k8s.io'] ?? 0) > 0);
  });
});

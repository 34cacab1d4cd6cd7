import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeConfig } from '@kubernetes/client-node';
import { Deadline, ScaledClock } from '../../src/shared/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { kubeConfigFromString } from '../../src/kube/client.js';
import { LeaseLock, LocalLock, LockTimeoutError, leaseNameFor, type LeaseLockOptions } from '../../src/kube/lease-lock.js';
import { SimKube } from '../../src/sim/kube/index.js';

const NS = 'spot-guard';

interface LeaseObj {
  metadata: { name: string; resourceVersion: string };
  spec?: { holderIdentity?: string; renewTime?: string; acquireTime?: string; leaseDurationSeconds?: number; leaseTransitions?: number };
}

const micro = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000Z');

/** Counts who is inside a critical section at once. */
function section() {
  let inside = 0;
  let maxInside = 0;
  return {
    enter() {
      inside++;
      maxInside = Math.max(maxInside, inside);
    },
    leave() {
      inside--;
    },
    get maxInside() {
      return maxInside;
    },
  };
}

describe('LeaseLock against the simulated API server', () => {
  let clock: ScaledClock;
  let sim: SimKube;
  let kc: KubeConfig;
  let seq = 0;
  const lockName = () => leaseNameFor('spot-guard-scale', `group-${++seq}`);
  const lease = (name: string) => sim.get<LeaseObj>('leases', NS, name);
  const makeLock = (extra: Partial<LeaseLockOptions> = {}) =>
    new LeaseLock({ kubeConfig: kc, namespace: NS, clock, logger: silentLogger(), pollMs: 250, ...extra });
  /** A Lease as a holder that crashed (or is busy) would have left it. */
  const plantLease = (name: string, holder: string, renewedAgoMs: number, durationSeconds: number) =>
    sim.create('leases', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace: NS },
      spec: {
        holderIdentity: holder,
        acquireTime: micro(clock.now() - renewedAgoMs),
        renewTime: micro(clock.now() - renewedAgoMs),
        leaseDurationSeconds: durationSeconds,
        leaseTransitions: 3,
      },
    });

  before(async () => {
    // 10× keeps simulated API round trips small against the 30-60 s lease durations used here.
    clock = new ScaledClock(10);
    sim = new SimKube({ clock });
    await sim.start();
    kc = kubeConfigFromString(sim.kubeconfigYaml());
  });
  after(async () => {
    await sim.stop();
  });

  it('20 concurrent holders doing read-modify-write: exactly +20, never two inside at once', async () => {
    const name = lockName();
    const cs = section();
    let counter = 0;
    let contention = 0;
    const holders = Array.from({ length: 20 }, (_, i) => {
      // One LeaseLock per holder, as on 20 different nodes.
      const lock = makeLock({ leaseDurationMs: 60_000, onContention: () => contention++ });
      return lock.withLock(name, `node-${i}`, Deadline.after(clock, 3_600_000), async () => {
        cs.enter();
        const read = counter;
        await clock.sleep(50); // the awaited API round trip between read and write
        counter = read + 1;
        cs.leave();
        return i;
      });
    });
    const results = await Promise.all(holders);
    assert.equal(counter, 20);
    assert.equal(cs.maxInside, 1);
    assert.deepEqual([...results].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
    assert.ok(contention > 0, 'holders had to wait for each other');
    const l = lease(name);
    assert.ok(l);
    assert.equal(l.spec?.holderIdentity, undefined, 'released at the end');
  });

  it('writes a well-formed Lease while held and clears the holder on release', async () => {
    const name = lockName();
    let seen: LeaseObj | undefined;
    await makeLock({ leaseDurationMs: 45_000 }).withLock(name, 'node-a', Deadline.after(clock, 60_000), async () => {
      seen = lease(name);
    });
    assert.equal(seen?.spec?.holderIdentity, 'node-a');
    assert.equal(seen?.spec?.leaseDurationSeconds, 45);
    assert.match(seen?.spec?.renewTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.ok(seen?.spec?.acquireTime);
    const released = lease(name);
    assert.equal(released?.spec?.holderIdentity, undefined);
    assert.equal(released?.spec?.leaseDurationSeconds, 45);
  });

  it('releases when fn throws, and passes the error on', async () => {
    const name = lockName();
    await assert.rejects(
      makeLock().withLock(name, 'node-a', Deadline.after(clock, 60_000), async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(lease(name)?.spec?.holderIdentity, undefined);
    // And someone else gets it straight away.
    let contention = 0;
    await makeLock({ onContention: () => contention++ }).withLock(name, 'node-b', Deadline.after(clock, 60_000), async () => undefined);
    assert.equal(contention, 0);
  });

  it('a crashed holder blocks until its lease expires, and is taken over then, not before', async () => {
    const name = lockName();
    plantLease(name, 'crashed-node', 25_000, 30); // renewed 25 s ago for 30 s: expires 5 s of clock time from now
    const expiresAt = clock.now() + 5_000;

    let ran = false;
    await assert.rejects(
      makeLock().withLock(name, 'node-b', Deadline.after(clock, 2_000), async () => {
        ran = true;
      }),
      LockTimeoutError,
    );
    assert.equal(ran, false, 'not taken over before expiry');
    assert.equal(lease(name)?.spec?.holderIdentity, 'crashed-node');

    let insideAt = 0;
    let holderInside: string | undefined;
    let transitions: number | undefined;
    await makeLock().withLock(name, 'node-b', Deadline.after(clock, 120_000), async () => {
      insideAt = clock.now();
      holderInside = lease(name)?.spec?.holderIdentity;
      transitions = lease(name)?.spec?.leaseTransitions;
    });
    assert.ok(insideAt >= expiresAt, 'taken over only after renewTime + leaseDuration');
    assert.equal(holderInside, 'node-b');
    assert.equal(transitions, 4, 'a change of holder counts as a transition');
  });

  it('re-entrant: a lease still held under our own identity (our crash) is taken over at once', async () => {
    const name = lockName();
    plantLease(name, 'node-a', 0, 3600);
    let contention = 0;
    let ran = false;
    await makeLock({ onContention: () => contention++ }).withLock(name, 'node-a', Deadline.after(clock, 60_000), async () => {
      ran = true;
      assert.equal(lease(name)?.spec?.holderIdentity, 'node-a');
    });
    assert.ok(ran);
    assert.equal(contention, 0, 'did not wait');
    assert.equal(lease(name)?.spec?.holderIdentity, undefined);
    assert.equal(lease(name)?.spec?.leaseTransitions, 3, 'same holder: not a transition');
  });

  it('a live lease of another holder → LockTimeoutError at the deadline; fn not run, lease untouched', async () => {
    const name = lockName();
    const planted = plantLease(name, 'node-x', 0, 3600);
    let ran = false;
    let contention = 0;
    const err = await makeLock({ onContention: () => contention++ })
      .withLock(name, 'node-a', Deadline.after(clock, 3_000), async () => {
        ran = true;
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof LockTimeoutError, String(err));
    assert.match(err.message, /node-x/);
    assert.equal(ran, false);
    assert.equal(contention, 1);
    assert.equal(lease(name)?.metadata.resourceVersion, planted.metadata.resourceVersion, 'never written');
  });

  it('stays correct with 409s and 500s injected on lease reads and writes', async () => {
    const name = lockName();
    sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'PUT', status: 409, times: 4 });
    sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'POST', status: 500, times: 2 });
    sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'PUT', status: 500, times: 4 });
    sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'GET', status: 503, times: 3 });
    sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'POST', status: 409, reason: 'AlreadyExists', times: 1 });
    const cs = section();
    let counter = 0;
    try {
      await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          makeLock({ leaseDurationMs: 60_000 }).withLock(name, `node-${i}`, Deadline.after(clock, 3_600_000), async () => {
            cs.enter();
            const read = counter;
            await clock.sleep(20);
            counter = read + 1;
            cs.leave();
          }),
        ),
      );
    } finally {
      sim.clearFaults();
    }
    assert.equal(counter, 6);
    assert.equal(cs.maxInside, 1);
    assert.equal(lease(name)?.spec?.holderIdentity, undefined, 'released despite faults');
  });

  it('renews while fn runs longer than the lease duration, so nobody takes it over', async () => {
    const name = lockName();
    const cs = section();
    const lockA = makeLock({ leaseDurationMs: 3_000 });
    const lockB = makeLock({ leaseDurationMs: 3_000, pollMs: 100 });
    let firstRenew: string | undefined;
    let lastRenew: string | undefined;
    let bEnteredAfterA = false;
    let aDone = false;
    let aStarted!: () => void;
    const started = new Promise<void>((r) => (aStarted = r));
    const a = lockA.withLock(name, 'node-a', Deadline.after(clock, 60_000), async () => {
      cs.enter();
      firstRenew = lease(name)?.spec?.renewTime;
      aStarted();
      await clock.sleep(12_000); // four lease durations
      lastRenew = lease(name)?.spec?.renewTime;
      aDone = true;
      cs.leave();
    });
    await started;
    const b = lockB.withLock(name, 'node-b', Deadline.after(clock, 120_000), async () => {
      cs.enter();
      bEnteredAfterA = aDone;
      cs.leave();
    });
    await Promise.all([a, b]);
    assert.equal(cs.maxInside, 1);
    assert.ok(bEnteredAfterA);
    assert.ok(firstRenew && lastRenew && Date.parse(lastRenew) > Date.parse(firstRenew), 'renewTime advanced');
  });

  it('a hung API server: withLock gives up at the deadline instead of hanging', async () => {
    const name = lockName();
    sim.setLatencyMs(300); // real ms; callTimeoutMs below is 1 s of clock time = 100 ms real
    try {
      await assert.rejects(
        makeLock({ callTimeoutMs: 1_000 }).withLock(name, 'node-a', Deadline.after(clock, 3_000), async () => undefined),
        LockTimeoutError,
      );
    } finally {
      sim.setLatencyMs(0);
    }
    // Whatever a late write left behind, the same holder can go on at once (re-entrant), and then releases.
    await new Promise((r) => setTimeout(r, 350)); // let the delayed requests land
    let contention = 0;
    await makeLock({ onContention: () => contention++ }).withLock(name, 'node-a', Deadline.after(clock, 60_000), async () => undefined);
    assert.equal(contention, 0);
    assert.equal(lease(name)?.spec?.holderIdentity, undefined);
  });

  it('serializes callers of one process even when they share a holder identity', async () => {
    const name = lockName();
    const lock = makeLock();
    const cs = section();
    let counter = 0;
    await Promise.all(
      Array.from({ length: 5 }, () =>
        lock.withLock(name, 'node-a', Deadline.after(clock, 600_000), async () => {
          cs.enter();
          const read = counter;
          await clock.sleep(20);
          counter = read + 1;
          cs.leave();
        }),
      ),
    );
    assert.equal(counter, 5);
    assert.equal(cs.maxInside, 1);
  });
});

describe('LocalLock', () => {
  const clock = new ScaledClock(100);

  it('serializes holders per name and lets different names run together', async () => {
    const lock = new LocalLock();
    const cs = section();
    let counter = 0;
    let otherRan = false;
    const work = Array.from({ length: 10 }, (_, i) =>
      lock.withLock('g', `h${i}`, Deadline.after(clock, 60_000), async () => {
        cs.enter();
        const read = counter;
        await clock.sleep(10);
        counter = read + 1;
        cs.leave();
      }),
    );
    await lock.withLock('other', 'x', Deadline.after(clock, 60_000), async () => {
      otherRan = true;
    });
    assert.ok(otherRan);
    await Promise.all(work);
    assert.equal(counter, 10);
    assert.equal(cs.maxInside, 1);
  });

  it('times out at the deadline and releases after errors', async () => {
    const lock = new LocalLock();
    let release!: () => void;
    const held = lock.withLock('g', 'a', Deadline.after(clock, 60_000), () => new Promise<void>((r) => (release = r)));
    await assert.rejects(lock.withLock('g', 'b', Deadline.after(clock, 1_000), async () => undefined), LockTimeoutError);
    // A waiter that gave up neither opens the lock to newcomers nor blocks those queued behind it.
    await assert.rejects(lock.withLock('g', 'b2', Deadline.after(clock, 1_000), async () => undefined), LockTimeoutError);
    const c = lock.withLock('g', 'c', Deadline.after(clock, 60_000), async () => 'c');
    await assert.rejects(lock.withLock('g', 'b3', Deadline.after(clock, 1_000), async () => undefined), LockTimeoutError);
    release();
    await held;
    assert.equal(await c, 'c');
    await assert.rejects(lock.withLock('g', 'd', Deadline.after(clock, 60_000), async () => Promise.reject(new Error('x'))), /x/);
    assert.equal(await lock.withLock('g', 'e', Deadline.after(clock, 60_000), async () => 'e'), 'e');
  });

  it('takes a free lock even when the deadline has already passed', async () => {
    const lock = new LocalLock();
    assert.equal(await lock.withLock('g', 'a', Deadline.after(clock, -1), async () => 'ran'), 'ran');
  });
});

describe('leaseNameFor', () => {
  const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
  const inputs = [
    'spot-workers',
    'Spot-Workers',
    'spot_workers',
    'spot workers',
    'spot.workers',
    'eks-spot-20240101-abcdef01-2345-6789-abcd-ef0123456789',
    'x'.repeat(255),
    'x'.repeat(254),
    'ÄSG ünïcödé 名前 🚀',
    '---',
    '',
    '.',
    'a/b:c*d',
  ];

  it('is a valid DNS-1123 subdomain (and label) for arbitrary group names', () => {
    for (const g of inputs) {
      const n = leaseNameFor('spot-guard-scale', g);
      assert.match(n, DNS1123_SUBDOMAIN, `${JSON.stringify(g)} → ${n}`);
      assert.ok(n.length <= 63, n);
    }
    assert.match(leaseNameFor('', ''), DNS1123_SUBDOMAIN);
    assert.match(leaseNameFor('Weird Prefix!', '--'), DNS1123_SUBDOMAIN);
  });

  it('is distinct for distinct names (including ones that sanitize alike) and prefixes', () => {
    const names = new Set(inputs.map((g) => leaseNameFor('spot-guard-scale', g)));
    assert.equal(names.size, inputs.length);
    assert.notEqual(leaseNameFor('spot-guard-scale', 'g'), leaseNameFor('spot-guard-capacity', 'g'));
  });

  it('is stable and readable', () => {
    assert.equal(leaseNameFor('spot-guard-scale', 'Spot-Workers'), leaseNameFor('spot-guard-scale', 'Spot-Workers'));
    assert.match(leaseNameFor('spot-guard-scale', 'Spot-Workers'), /^spot-guard-scale-spot-workers-[0-9a-f]{16}$/);
  });
});

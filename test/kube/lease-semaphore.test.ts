import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeConfig } from '@kubernetes/client-node';
import { ScaledClock } from '../../src/shared/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { kubeConfigFromString } from '../../src/kube/client.js';
import { LeaseSemaphore, LocalSemaphore, type LeaseSemaphoreOptions, type Semaphore } from '../../src/kube/lease-semaphore.js';
import { SimKube } from '../../src/sim/kube/index.js';

const NS = 'spot-guard';
const MIN = 60_000;

interface LeaseObj {
  metadata: { name: string; resourceVersion: string };
  spec?: { holderIdentity?: string; renewTime?: string; acquireTime?: string; leaseDurationSeconds?: number };
}

const micro = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000Z');

describe('LeaseSemaphore against the simulated API server', () => {
  let clock: ScaledClock;
  let sim: SimKube;
  let kc: KubeConfig;
  let seq = 0;
  const semName = () => `od-group-${++seq}`;
  const make = (extra: Partial<LeaseSemaphoreOptions> = {}) =>
    new LeaseSemaphore({ kubeConfig: kc, namespace: NS, clock, logger: silentLogger(), ...extra });
  const slotLease = (name: string, slot: number) => sim.get<LeaseObj>('leases', NS, LeaseSemaphore.leaseName(name, slot));
  /** Holders of the slots as stored in the API server. */
  const holders = (name: string, slots: number) => Array.from({ length: slots }, (_, i) => slotLease(name, i)?.spec?.holderIdentity);
  /** A slot Lease as a holder that crashed `renewedAgoMs` ago would have left it. */
  const plant = (name: string, slot: number, holder: string, renewedAgoMs: number, durationSeconds = 600) =>
    sim.create('leases', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: LeaseSemaphore.leaseName(name, slot), namespace: NS },
      spec: {
        holderIdentity: holder,
        acquireTime: micro(clock.now() - renewedAgoMs),
        renewTime: micro(clock.now() - renewedAgoMs),
        leaseDurationSeconds: durationSeconds,
      },
    });

  before(async () => {
    // 10×: API round trips stay small against the 10-minute slot lease.
    clock = new ScaledClock(10);
    sim = new SimKube({ clock });
    await sim.start();
    kc = kubeConfigFromString(sim.kubeconfigYaml());
  });
  after(async () => {
    await sim.stop();
  });

  it('N slots: at most N holders, each on its own slot', async () => {
    const name = semName();
    const results: (number | null)[] = [];
    for (let i = 0; i < 5; i++) results.push(await make().tryAcquire(name, `node-${i}`, 3));
    assert.deepEqual(results, [0, 1, 2, null, null]);
    assert.deepEqual(holders(name, 3), ['node-0', 'node-1', 'node-2']);
    const l = slotLease(name, 0);
    assert.equal(l?.spec?.leaseDurationSeconds, 600);
    assert.ok(l?.spec?.renewTime && l.spec.acquireTime);
  });

  it('the same holder gets its own slot back (a restarted agent), without taking a second one', async () => {
    const name = semName();
    assert.equal(await make().tryAcquire(name, 'node-a', 2), 0);
    assert.equal(await make().tryAcquire(name, 'node-b', 2), 1);
    // node-a restarts: a new semaphore object, same holder identity.
    const acquired = slotLease(name, 0)?.spec?.acquireTime;
    assert.equal(await make().tryAcquire(name, 'node-a', 2), 0);
    assert.equal(await make().tryAcquire(name, 'node-b', 2), 1);
    assert.deepEqual(holders(name, 2), ['node-a', 'node-b']);
    assert.equal(slotLease(name, 0)?.spec?.acquireTime, acquired, 're-taking keeps the original acquireTime');
    // With a free slot, the holder still gets its own one back rather than a new one.
    await make().release(name, 'node-b', 1);
    assert.equal(await make().tryAcquire(name, 'node-a', 2), 0);
    assert.deepEqual(holders(name, 2), ['node-a', undefined]);
  });

  it('renew keeps the slot and moves renewTime forward', async () => {
    const name = semName();
    const sem = make();
    assert.equal(await sem.tryAcquire(name, 'node-a', 1), 0);
    const first = slotLease(name, 0)?.spec?.renewTime ?? '';
    // Let some simulated time pass (10 ms real at 10×).
    await clock.sleep(100);
    assert.equal(await sem.renew(name, 'node-a', 0), true);
    const second = slotLease(name, 0)?.spec?.renewTime ?? '';
    assert.ok(Date.parse(second) > Date.parse(first), `${second} > ${first}`);
    assert.equal(slotLease(name, 0)?.spec?.holderIdentity, 'node-a');
    assert.equal(await make().tryAcquire(name, 'node-b', 1), null, 'still held');
  });

  it('renew by someone who does not hold the slot fails and changes nothing', async () => {
    const name = semName();
    assert.equal(await make().tryAcquire(name, 'node-a', 1), 0);
    const rv = slotLease(name, 0)?.metadata.resourceVersion;
    assert.equal(await make().renew(name, 'node-b', 0), false);
    assert.equal(slotLease(name, 0)?.spec?.holderIdentity, 'node-a');
    assert.equal(slotLease(name, 0)?.metadata.resourceVersion, rv);
  });

  it('an expired slot (holder stopped renewing) is taken over; the old holder learns it lost it', async () => {
    const name = semName();
    plant(name, 0, 'crashed-node', 11 * MIN); // 10-minute lease, renewed 11 minutes ago
    assert.equal(await make().tryAcquire(name, 'node-b', 1), 0);
    assert.equal(slotLease(name, 0)?.spec?.holderIdentity, 'node-b');
    assert.equal(await make().renew(name, 'crashed-node', 0), false, 'the old holder lost it');
    assert.equal(slotLease(name, 0)?.spec?.holderIdentity, 'node-b');
  });

  it('a slot still within its lease is not taken over', async () => {
    const name = semName();
    plant(name, 0, 'busy-node', 9 * MIN);
    assert.equal(await make().tryAcquire(name, 'node-b', 1), null);
    assert.equal(slotLease(name, 0)?.spec?.holderIdentity, 'busy-node');
    // A short lease written by the holder itself counts, not our default.
    const short = semName();
    plant(short, 0, 'busy-node', 2 * MIN, 60);
    assert.equal(await make().tryAcquire(short, 'node-b', 1), 0);
  });

  it('release frees the slot for the next holder', async () => {
    const name = semName();
    const sem = make();
    assert.equal(await sem.tryAcquire(name, 'node-a', 1), 0);
    assert.equal(await make().tryAcquire(name, 'node-b', 1), null);
    await sem.release(name, 'node-a', 0);
    assert.equal(slotLease(name, 0)?.spec?.holderIdentity, undefined);
    assert.equal(await make().tryAcquire(name, 'node-b', 1), 0);
    assert.equal(slotLease(name, 0)?.spec?.holderIdentity, 'node-b');
    assert.equal(await sem.renew(name, 'node-a', 0), false, 'the released holder cannot renew its way back in');
  });

  it('release by a non-holder does nothing (also for a missing slot)', async () => {
    const name = semName();
    assert.equal(await make().tryAcquire(name, 'node-a', 1), 0);
    const rv = slotLease(name, 0)?.metadata.resourceVersion;
    await make().release(name, 'node-b', 0);
    assert.equal(slotLease(name, 0)?.spec?.holderIdentity, 'node-a');
    assert.equal(slotLease(name, 0)?.metadata.resourceVersion, rv, 'not written');
    await make().release(name, 'node-a', 5); // never created
    assert.equal(slotLease(name, 5), undefined);
  });

  it('10 holders racing for 1 slot: exactly one wins (the others get 409 and null)', async () => {
    for (let round = 0; round < 3; round++) {
      const name = semName();
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => make().tryAcquire(name, `node-${i}`, 1)));
      const winners = results.flatMap((r, i) => (r === null ? [] : [i]));
      assert.equal(winners.length, 1, JSON.stringify(results));
      assert.equal(results[winners[0]!], 0);
      assert.equal(slotLease(name, 0)?.spec?.holderIdentity, `node-${winners[0]}`);
    }
  });

  it('10 holders racing for an expired slot: exactly one takes it over', async () => {
    const name = semName();
    plant(name, 0, 'crashed-node', 20 * MIN);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => make().tryAcquire(name, `node-${i}`, 1)));
    const winners = results.flatMap((r, i) => (r === null ? [] : [i]));
    assert.equal(winners.length, 1, JSON.stringify(results));
    assert.equal(slotLease(name, 0)?.spec?.holderIdentity, `node-${winners[0]}`);
  });

  it('10 holders racing for 3 slots: exactly 3 win, on distinct slots', async () => {
    const name = semName();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => make().tryAcquire(name, `node-${i}`, 3)));
    const won = results.filter((r): r is number => r !== null);
    // A loser of one slot's race moves on to the next, so every slot finds a winner.
    assert.deepEqual([...won].sort(), [0, 1, 2], JSON.stringify(results));
    const stored = holders(name, 3);
    assert.equal(new Set(stored).size, 3, 'three different holders');
    for (const [i, r] of results.entries()) {
      if (r !== null) assert.equal(stored[r], `node-${i}`);
    }
    // The losers coming back find nothing; the winners keep their own slots.
    for (let i = 0; i < 10; i++) assert.equal(await make().tryAcquire(name, `node-${i}`, 3), results[i]);
    assert.deepEqual(holders(name, 3), stored);
  });

  it('an injected 409 on the write means "someone else won", not an error; other errors are thrown', async () => {
    const name = semName();
    sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'POST', status: 409, reason: 'AlreadyExists', times: 1 });
    try {
      assert.equal(await make().tryAcquire(name, 'node-a', 1), null);
    } finally {
      sim.clearFaults();
    }
    assert.equal(await make().tryAcquire(name, 'node-a', 1), 0);
    sim.injectFault({ resource: 'leases.coordination.k8s.io', method: 'PUT', status: 500, times: 1 });
    try {
      await assert.rejects(make().renew(name, 'node-a', 0));
    } finally {
      sim.clearFaults();
    }
    assert.equal(await make().renew(name, 'node-a', 0), true);
  });
});

describe('LocalSemaphore', () => {
  const sem = (): Semaphore => new LocalSemaphore();

  it('N slots: at most N holders; the same holder gets its slot back', async () => {
    const s = sem();
    assert.equal(await s.tryAcquire('g', 'a', 2), 0);
    assert.equal(await s.tryAcquire('g', 'b', 2), 1);
    assert.equal(await s.tryAcquire('g', 'c', 2), null);
    assert.equal(await s.tryAcquire('g', 'a', 2), 0);
    assert.equal(await s.tryAcquire('other', 'c', 2), 0, 'names are independent');
  });

  it('renew only by the holder; release frees; release by a non-holder does nothing', async () => {
    const s = sem();
    assert.equal(await s.tryAcquire('g', 'a', 1), 0);
    assert.equal(await s.renew('g', 'a', 0), true);
    assert.equal(await s.renew('g', 'b', 0), false);
    await s.release('g', 'b', 0);
    assert.equal(await s.tryAcquire('g', 'b', 1), null);
    await s.release('g', 'a', 0);
    assert.equal(await s.renew('g', 'a', 0), false);
    assert.equal(await s.tryAcquire('g', 'b', 1), 0);
  });

  it('concurrent callers: exactly one wins a single slot', async () => {
    const s = sem();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => s.tryAcquire('g', `n-${i}`, 1)));
    assert.equal(results.filter((r) => r !== null).length, 1);
  });
});

/**
 * Cluster-wide mutual exclusion through a Kubernetes Lease (coordination.k8s.io/v1).
 *
 * Every change to one Auto Scaling group's desired capacity runs inside `withLock`, so N agents that
 * each add one instance at the same time give +N, not +1 (brief §3, failure 1).
 *
 * Protocol (the one client-go's leader election uses, reduced to a lock):
 * - acquire: create the Lease with our holderIdentity, or replace it with the resourceVersion we read
 *   when it has no holder, has expired (renewTime + leaseDurationSeconds < now), or is already held
 *   by us (a previous incarnation of this agent that crashed while holding it). A 409 (Conflict or
 *   AlreadyExists) means another agent won the race: read again.
 * - hold: while `fn` runs, renew renewTime every third of the lease duration.
 * - release: clear holderIdentity with the resourceVersion we hold; on 409 re-read and clear only if
 *   it is still ours.
 *
 * All time (renewTime, expiry, waits, call timeouts) comes from the injected Clock. Every wait is
 * bounded by the caller's Deadline; API errors are logged and retried until then, never thrown raw.
 *
 * Within one process, calls for the same lock name are also serialized by an in-process mutex, so
 * two concurrent workflows of one agent that share a holder identity cannot both "re-enter" the
 * Lease. Consequently `withLock` must not be nested for the same name: the inner call waits for the
 * outer one and fails with LockTimeoutError at its deadline.
 */
import { createHash } from 'node:crypto';
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Clock, Deadline } from '../shared/clock.js';
import type { Logger } from '../observability/logger.js';
import { KubeTimeoutError, boundedCall, isConflict, isNotFound, kubeErrorMessage, kubeStatus } from './errors.js';

export interface LeaseLockOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** All time (renewTime, expiry, waits) comes from it. */
  clock: Clock;
  logger: Logger;
  /** How long a holder may keep the lock without renewing; a crashed holder blocks others at most this long. Default 30 s. */
  leaseDurationMs?: number;
  /** Wait between attempts while the lock is held by someone else (±50 % jitter). Default 250 ms. */
  pollMs?: number;
  /** Bound on each API call, in clock time. Default 10 s. */
  callTimeoutMs?: number;
  /** Called once per withLock that had to wait for another holder (metrics hook). */
  onContention?: () => void;
}

/** The lock could not be acquired before the caller's deadline. */
export class LockTimeoutError extends Error {
  constructor(
    readonly lockName: string,
    readonly holder: string,
    readonly currentHolder: string | undefined,
    lastError?: string,
  ) {
    super(
      `could not acquire lock ${lockName} for ${holder} before the deadline` +
        (currentHolder ? ` (held by ${currentHolder})` : '') +
        (lastError ? `; last error: ${lastError}` : ''),
    );
    this.name = 'LockTimeoutError';
  }
}

export interface Lock {
  /**
   * Runs `fn` while holding the lock `name` as `holder`. Waits at most until `deadline` to acquire
   * it (then LockTimeoutError; `fn` is not run). The deadline bounds only the acquisition: `fn`
   * itself is not interrupted. The lock is released when `fn` settles, whatever the outcome.
   */
  withLock<T>(name: string, holder: string, deadline: Deadline, fn: () => Promise<T>): Promise<T>;
}

// ---------------------------------------------------------------------------------------------
// In-process lock

/**
 * An in-process mutex per name, FIFO. Used directly in DRY_RUN (writes nothing) and unit tests,
 * and inside LeaseLock to serialize one process's own callers.
 */
export class LocalLock implements Lock {
  /** name → tail of the queue: resolves when the last queued holder has released. */
  private readonly tails = new Map<string, Promise<void>>();

  async withLock<T>(name: string, holder: string, deadline: Deadline, fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire(name, holder, deadline);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Waits for the previous holders of `name`; returns the release function. */
  async acquire(name: string, holder: string, deadline: Deadline): Promise<() => void> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    let releaseMine!: () => void;
    const mine = new Promise<void>((resolve) => (releaseMine = resolve));
    // The next caller waits for us, and (transitively) for everyone before us.
    const tail = previous.then(() => mine);
    this.tails.set(name, tail);
    const cleanup = () => {
      releaseMine();
      if (this.tails.get(name) === tail) this.tails.delete(name);
    };

    let acquired = false;
    const woken = new AbortController();
    void previous.then(() => {
      acquired = true;
      woken.abort();
    });
    // Sleep in bounded chunks (a far-away deadline must not overflow a timer) until our turn or the
    // deadline; the first wait always yields, so a free lock is taken even with an expired deadline.
    do {
      await deadline.sleep(acquired ? 0 : 60_000, woken.signal).catch(() => undefined);
    } while (!acquired && !deadline.expired());
    if (!acquired) {
      // Give up our place: whoever queued after us now waits only for those before us.
      releaseMine();
      void tail.then(() => {
        if (this.tails.get(name) === tail) this.tails.delete(name);
      });
      throw new LockTimeoutError(name, holder, undefined, 'waiting for another caller in this process');
    }
    return cleanup;
  }
}

// ---------------------------------------------------------------------------------------------
// Lease names

const MAX_NAME = 63; // also a valid DNS-1123 label, so the name can be used as a label value too
const HASH_CHARS = 16;

function slug(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // strip combining accents: "Café" → "Cafe"
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * A valid DNS-1123 subdomain (in fact a label: ≤ 63 chars of [a-z0-9-], alphanumeric at both ends)
 * for an arbitrary Auto Scaling group name: a readable, sanitized prefix of the name plus a hash of
 * the exact (prefix, name) pair, so distinct group names map to distinct Leases and the same name
 * always maps to the same one.
 */
export function leaseNameFor(prefix: string, groupName: string): string {
  const hash = createHash('sha256').update(JSON.stringify([prefix, groupName]), 'utf8').digest('hex').slice(0, HASH_CHARS);
  const head = [slug(prefix), slug(groupName)].filter((p) => p.length > 0).join('-');
  const room = MAX_NAME - HASH_CHARS - 1;
  const cut = head.slice(0, room).replace(/-+$/, '');
  return cut ? `${cut}-${hash}` : hash;
}

// ---------------------------------------------------------------------------------------------
// Lease lock

interface Held {
  /** The Lease as we last wrote it (absent when unknown). */
  lease?: V1Lease;
  /** Set when a renewal found the Lease taken by someone else. */
  lost: boolean;
}

/** A Lease as we need it: who holds it and until when (clock ms). */
export interface LeaseState {
  holder: string | undefined;
  expiresAt: number;
  resourceVersion: string;
  lease: V1Lease;
}

function timeOf(t: unknown): number | undefined {
  // client-node types MicroTime as a Date but passes the wire string through when deserializing.
  if (t === undefined || t === null) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(String(t));
  return Number.isFinite(ms) ? ms : undefined;
}

/** RFC 3339 with microseconds, as the API server expects for MicroTime fields. */
export const microTime = (ms: number): V1MicroTime => new V1MicroTime(ms);

export function stateOf(lease: V1Lease, defaultDurationMs: number): LeaseState {
  const spec = lease.spec ?? {};
  const renewed = timeOf(spec.renewTime) ?? timeOf(spec.acquireTime);
  const durationMs = spec.leaseDurationSeconds !== undefined ? spec.leaseDurationSeconds * 1000 : defaultDurationMs;
  return {
    holder: spec.holderIdentity || undefined,
    expiresAt: renewed === undefined ? 0 : renewed + durationMs,
    resourceVersion: lease.metadata?.resourceVersion ?? '',
    lease,
  };
}

const sleepJitter = (ms: number) => ms * (0.5 + Math.random());

export class LeaseLock implements Lock {
  private readonly api: CoordinationV1Api;
  private readonly local = new LocalLock();
  private readonly leaseDurationMs: number;
  private readonly pollMs: number;
  private readonly callTimeoutMs: number;

  constructor(private readonly opts: LeaseLockOptions) {
    this.api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
    this.leaseDurationMs = Math.max(1000, opts.leaseDurationMs ?? 30_000);
    this.pollMs = Math.max(1, opts.pollMs ?? 250);
    this.callTimeoutMs = Math.max(1, opts.callTimeoutMs ?? 10_000);
  }

  async withLock<T>(name: string, holder: string, deadline: Deadline, fn: () => Promise<T>): Promise<T> {
    const releaseLocal = await this.local.acquire(name, holder, deadline);
    try {
      const held = await this.acquire(name, holder, deadline);
      const renewal = this.keepRenewed(name, holder, held);
      try {
        return await fn();
      } finally {
        await renewal.stop();
        await this.release(name, holder, held);
      }
    } finally {
      releaseLocal();
    }
  }

  // -- API calls, each bounded in clock time --------------------------------------------------

  private call<T>(operation: string, fn: () => Promise<T>, timeoutMs = this.callTimeoutMs): Promise<T> {
    return boundedCall(this.opts.clock, timeoutMs, operation, fn);
  }

  private async read(name: string, timeoutMs?: number): Promise<LeaseState | null> {
    try {
      const lease = await this.call('read_lease', () => this.api.readNamespacedLease({ name, namespace: this.opts.namespace }), timeoutMs);
      return stateOf(lease, this.leaseDurationMs);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  private holdingSpec(holder: string, now: number, previous?: V1Lease): V1Lease['spec'] {
    const prev = previous?.spec ?? {};
    const transitions = (prev.leaseTransitions ?? 0) + (prev.holderIdentity && prev.holderIdentity !== holder ? 1 : 0);
    return {
      holderIdentity: holder,
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      leaseTransitions: transitions,
    };
  }

  // -- acquire --------------------------------------------------------------------------------

  private async acquire(name: string, holder: string, deadline: Deadline): Promise<Held> {
    const { clock, logger, namespace } = this.opts;
    let contended = false;
    let lastHolder: string | undefined;
    let lastError: string | undefined;
    /** A write whose outcome we do not know (timeout, 5xx): the Lease may be ours. */
    let uncertain = false;
    let errors = 0;

    for (let attempt = 0; ; attempt++) {
      if (attempt > 0 && deadline.expired()) {
        if (uncertain) await this.releaseIfOurs(name, holder);
        throw new LockTimeoutError(name, holder, lastHolder, lastError);
      }
      const timeoutMs = Math.max(1, Math.min(this.callTimeoutMs, deadline.remainingMs() || 1));
      let wait = this.pollMs;
      try {
        const current = await this.read(name, timeoutMs);
        const now = clock.now();
        if (!current) {
          uncertain = true;
          const created = await this.call(
            'create_lease',
            () =>
              this.api.createNamespacedLease({
                namespace,
                body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: this.holdingSpec(holder, now) },
              }),
            timeoutMs,
          );
          logger.debug({ lock: name, holder }, 'lock acquired (lease created)');
          return { lease: created, lost: false };
        }
        lastHolder = current.holder;
        const free = current.holder === undefined;
        const expired = current.expiresAt < now;
        const ours = current.holder === holder;
        if (free || expired || ours) {
          if (expired && !free && !ours) {
            logger.warn({ lock: name, holder, previousHolder: current.holder }, 'taking over an expired lock');
          } else if (ours) {
            logger.info({ lock: name, holder }, 'lock already held by this holder (earlier incarnation); taking it over');
          }
          uncertain = true;
          const body: V1Lease = {
            ...current.lease,
            metadata: { ...current.lease.metadata, resourceVersion: current.resourceVersion },
            spec: this.holdingSpec(holder, now, current.lease),
          };
          const written = await this.call('replace_lease', () => this.api.replaceNamespacedLease({ name, namespace, body }), timeoutMs);
          logger.debug({ lock: name, holder }, 'lock acquired');
          return { lease: written, lost: false };
        }
        // Held by someone else and still valid: wait.
        if (!contended) {
          contended = true;
          this.opts.onContention?.();
          logger.debug({ lock: name, holder, currentHolder: current.holder }, 'lock held by another holder; waiting');
        }
      } catch (err) {
        if (isConflict(err)) {
          // Another agent wrote the Lease between our read and our write: it won this round.
          // The write definitely did not happen.
          uncertain = false;
          if (!contended) {
            contended = true;
            this.opts.onContention?.();
          }
          wait = this.pollMs / 5;
        } else {
          errors++;
          wait = this.pollMs * 2 ** Math.min(errors, 3); // back off a little from a struggling API server
          lastError = kubeErrorMessage(err);
          logger.warn({ lock: name, holder, status: kubeStatus(err), err: lastError }, 'lock: Kubernetes API call failed; retrying');
          if (!(err instanceof KubeTimeoutError) && kubeStatus(err) >= 400 && kubeStatus(err) < 500) uncertain = false;
        }
      }
      await deadline.sleep(sleepJitter(wait));
    }
  }

  // -- renew ----------------------------------------------------------------------------------

  private keepRenewed(name: string, holder: string, held: Held): { stop: () => Promise<void> } {
    const stopper = new AbortController();
    const interval = this.leaseDurationMs / 3;
    const loop = (async () => {
      while (!stopper.signal.aborted && !held.lost) {
        try {
          await this.opts.clock.sleep(interval, stopper.signal);
        } catch {
          return; // stopped
        }
        await this.renew(name, holder, held, stopper.signal);
      }
    })();
    return {
      stop: async () => {
        stopper.abort();
        await loop;
      },
    };
  }

  private async renew(name: string, holder: string, held: Held, stopped: AbortSignal): Promise<void> {
    const { clock, logger, namespace } = this.opts;
    for (let attempt = 0; attempt < 5 && !stopped.aborted; attempt++) {
      try {
        const current = await this.read(name);
        if (!current || current.holder !== holder) {
          held.lost = true;
          logger.error({ lock: name, holder, currentHolder: current?.holder }, 'lock lost while held: the protected operation overran the lease');
          return;
        }
        const now = clock.now();
        const spec = { ...current.lease.spec, renewTime: microTime(now) };
        const body: V1Lease = { ...current.lease, metadata: { ...current.lease.metadata, resourceVersion: current.resourceVersion }, spec };
        const written = await this.call('renew_lease', () => this.api.replaceNamespacedLease({ name, namespace, body }));
        held.lease = written;
        logger.debug({ lock: name, holder }, 'lock renewed');
        return;
      } catch (err) {
        if (isConflict(err)) continue; // re-read: still ours?
        logger.warn({ lock: name, holder, err: kubeErrorMessage(err) }, 'lock renewal failed; retrying');
        try {
          await clock.sleep(sleepJitter(this.pollMs), stopped);
        } catch {
          return;
        }
      }
    }
  }

  // -- release --------------------------------------------------------------------------------

  /**
   * Clears holderIdentity with the resourceVersion we last wrote; on 409 re-reads and clears only
   * if the Lease is still ours. Retries for at most one lease duration (after that the Lease has
   * expired anyway). Never throws.
   */
  private async release(name: string, holder: string, held: Held): Promise<void> {
    if (held.lost) return;
    const { logger, clock } = this.opts;
    const giveUpAt = clock.now() + this.leaseDurationMs;
    let known: LeaseState | null | undefined = held.lease ? stateOf(held.lease, this.leaseDurationMs) : undefined;
    let failures = 0;
    for (let attempt = 0; attempt < 50 && clock.now() < giveUpAt; attempt++) {
      try {
        const current = known ?? (await this.read(name));
        known = undefined;
        if (!current || current.holder !== holder) return;
        await this.clearHolder(name, current);
        logger.debug({ lock: name, holder }, 'lock released');
        return;
      } catch (err) {
        if (isConflict(err)) continue; // changed since we wrote it: re-read, clear only if still ours
        logger.warn({ lock: name, holder, err: kubeErrorMessage(err) }, 'lock release failed; retrying');
        failures++;
        await clock.sleep(Math.min(sleepJitter(this.pollMs * 2 ** Math.min(failures, 3)), Math.max(0, giveUpAt - clock.now())));
      }
    }
    logger.warn({ lock: name, holder, leaseDurationMs: this.leaseDurationMs }, 'could not release lock; it will expire on its own');
  }

  /** After a failed acquisition with a write of unknown outcome: release the Lease if it became ours. */
  private async releaseIfOurs(name: string, holder: string): Promise<void> {
    await this.release(name, holder, { lost: false });
  }

  private async clearHolder(name: string, current: LeaseState): Promise<void> {
    const spec = { ...(current.lease.spec ?? {}) };
    delete spec.holderIdentity;
    const body: V1Lease = { ...current.lease, metadata: { ...current.lease.metadata, resourceVersion: current.resourceVersion }, spec };
    await this.call('release_lease', () => this.api.replaceNamespacedLease({ name, namespace: this.opts.namespace, body }));
  }
}

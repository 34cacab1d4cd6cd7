/**
 * The cluster-shared "capacity unavailable" cache (like Karpenter's unavailable-offerings cache):
 * when one agent finds that a group cannot get spot capacity, it records that here with a TTL, and
 * the other agents go straight to the fallback until it expires.
 *
 * Storage: one JSON annotation on a Lease named leaseNameFor('spot-guard-capacity', group) in the
 * agent's namespace (Leases are the only namespaced objects the agent's RBAC may write). The Lease's
 * spec is left empty: the object is a small key-value record, not a lock. Writes use optimistic
 * concurrency (the read resourceVersion) and retry on 409, so concurrent writers lose nothing.
 *
 * Expiry is judged by the injected clock against the absolute `until` in the entry. Entries are
 * written by different nodes, so the usual caveat about clock skew between nodes applies (NTP keeps
 * it well below the minutes-long TTLs used here).
 */
import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../observability/logger.js';
import { boundedCall, isConflict, isNotFound, kubeErrorMessage, kubeStatus } from '../kube/errors.js';
import { leaseNameFor } from '../kube/lease-lock.js';

export interface UnavailableEntry {
  group: string;
  /** Epoch ms (clock time) until which the group's capacity counts as unavailable. */
  until: number;
  reason: string;
  /** Who recorded it (node / pod name). */
  recordedBy: string;
  /** Epoch ms (clock time) when it was recorded. */
  at: number;
}

export interface CapacityCache {
  /** The current entry for a group, or null when none or expired (by the clock). */
  get(group: string): Promise<UnavailableEntry | null>;
  /** Record that the group's capacity is unavailable until `until`. Keeps the later `until` if one exists. */
  markUnavailable(entry: UnavailableEntry): Promise<void>;
  /** Forget (e.g. capacity confirmed healthy). */
  clear(group: string): Promise<void>;
  /** The group's revert-probe backoff (kept after it expires, so the next failure doubles it). */
  probeBackoff(group: string): Promise<ProbeBackoff | null>;
  /** A spot probe failed: back off further. Returns the new backoff. */
  recordProbeFailure(group: string, policy: ProbeBackoffPolicy): Promise<ProbeBackoff>;
  /** A probe succeeded: back to the initial delay. */
  clearProbeBackoff(group: string): Promise<void>;
}

export function parseBackoff(raw: string | undefined): ProbeBackoff | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Partial<ProbeBackoff>;
    return typeof v.failures === 'number' && typeof v.until === 'number' ? { failures: v.failures, until: v.until } : null;
  } catch {
    return null;
  }
}

/**
 * Revert to spot: after a failed spot probe, the next probe for the group waits (10 min, doubling,
 * capped at 2 h). Cluster-wide, so N fallback nodes do not each probe a spot pool that just failed.
 */
export interface ProbeBackoff {
  failures: number;
  until: number;
}

export interface ProbeBackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export function nextBackoff(prev: ProbeBackoff | null, now: number, p: ProbeBackoffPolicy): ProbeBackoff {
  const failures = (prev?.failures ?? 0) + 1;
  return { failures, until: now + Math.min(p.maxMs, p.initialMs * 2 ** (failures - 1)) };
}

export const CAPACITY_LEASE_PREFIX = 'spot-guard-capacity';
export const PROBE_BACKOFF_ANNOTATION = 'spot-guard.io/revert-probe-backoff';
export const CAPACITY_ANNOTATION = 'spot-guard.io/capacity-unavailable';
const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
const REASON_MAX = 1024;
const MAX_CONFLICTS = 50;

/** The entry stored in an annotation value, or null when absent or malformed. */
export function parseEntry(raw: string | undefined): UnavailableEntry | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Partial<UnavailableEntry>;
    if (
      typeof v.group !== 'string' ||
      typeof v.until !== 'number' ||
      !Number.isFinite(v.until) ||
      typeof v.at !== 'number' ||
      !Number.isFinite(v.at)
    ) {
      return null;
    }
    return {
      group: v.group,
      until: v.until,
      at: v.at,
      reason: typeof v.reason === 'string' ? v.reason : '',
      recordedBy: typeof v.recordedBy === 'string' ? v.recordedBy : '',
    };
  } catch {
    return null;
  }
}

function serializeEntry(e: UnavailableEntry): string {
  return JSON.stringify({
    group: e.group,
    until: Math.round(e.until),
    reason: e.reason.length > REASON_MAX ? `${e.reason.slice(0, REASON_MAX - 1)}…` : e.reason,
    recordedBy: e.recordedBy,
    at: Math.round(e.at),
  });
}

/** Of two entries (either may be missing), the one with the later `until`; `a` wins ties. */
function later(a: UnavailableEntry | null, b: UnavailableEntry | null): UnavailableEntry | null {
  if (!a) return b;
  if (!b) return a;
  return b.until > a.until ? b : a;
}

export interface LeaseCapacityCacheOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  clock: Clock;
  logger: Logger;
  /** Bound on each API call, in clock time. Default 10 s. */
  callTimeoutMs?: number;
  /** Attempts for one operation on transient errors (5xx, 429, timeouts). Default 5. 409s are retried separately. */
  attempts?: number;
  /** Base wait between attempts after a transient error (jittered). Default 200 ms. */
  retryMs?: number;
}

/**
 * The capacity cache on Lease annotations. Every method retries conflicts and transient API
 * errors a bounded number of times and then throws the last error: the cache is advisory, and the
 * caller's reconcile loop decides what an unreachable API means.
 */
export class LeaseCapacityCache implements CapacityCache {
  private readonly api: CoordinationV1Api;
  private readonly callTimeoutMs: number;
  private readonly attempts: number;
  private readonly retryMs: number;

  constructor(private readonly opts: LeaseCapacityCacheOptions) {
    this.api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
    this.callTimeoutMs = Math.max(1, opts.callTimeoutMs ?? 10_000);
    this.attempts = Math.max(1, opts.attempts ?? 5);
    this.retryMs = Math.max(1, opts.retryMs ?? 200);
  }

  /** The Lease name holding a group's entry. */
  static leaseName(group: string): string {
    return leaseNameFor(CAPACITY_LEASE_PREFIX, group);
  }

  async get(group: string): Promise<UnavailableEntry | null> {
    const lease = await this.withRetries('get', group, () => this.read(group));
    return this.live(group, lease);
  }

  async markUnavailable(entry: UnavailableEntry): Promise<void> {
    const { group } = entry;
    if (!(entry.until > this.opts.clock.now())) {
      this.opts.logger.debug({ group, until: entry.until }, 'capacity cache: entry already expired; nothing to record');
      return;
    }
    await this.withRetries('mark', group, async () => {
      const lease = await this.read(group);
      const existing = this.live(group, lease);
      if (existing && existing.until >= entry.until) return; // a later (or equal) `until` is already recorded
      const value = serializeEntry(entry);
      if (!lease) {
        await this.call('create_capacity_lease', () =>
          this.api.createNamespacedLease({ namespace: this.opts.namespace, body: this.newLease(group, value) }),
        );
      } else {
        await this.write(group, lease, value);
      }
      this.opts.logger.info(
        { group, until: new Date(entry.until).toISOString(), reason: entry.reason, recordedBy: entry.recordedBy },
        'capacity cache: recorded group capacity as unavailable',
      );
    });
  }

  async clear(group: string): Promise<void> {
    const asOf = this.opts.clock.now();
    await this.withRetries('clear', group, async () => {
      const lease = await this.read(group);
      const raw = lease?.metadata?.annotations?.[CAPACITY_ANNOTATION];
      if (!lease || raw === undefined) return;
      const entry = parseEntry(raw);
      // An entry recorded after we were asked to clear is newer news than ours: keep it.
      if (entry && entry.at > asOf && entry.until > this.opts.clock.now()) {
        this.opts.logger.debug({ group }, 'capacity cache: not clearing an entry recorded after the clear was requested');
        return;
      }
      await this.write(group, lease, undefined);
      this.opts.logger.info({ group }, 'capacity cache: cleared');
    });
  }

  async probeBackoff(group: string): Promise<ProbeBackoff | null> {
    const lease = await this.withRetries('get_backoff', group, () => this.read(group));
    return parseBackoff(lease?.metadata?.annotations?.[PROBE_BACKOFF_ANNOTATION]);
  }

  async recordProbeFailure(group: string, policy: ProbeBackoffPolicy): Promise<ProbeBackoff> {
    return this.withRetries('record_backoff', group, async () => {
      const lease = await this.read(group);
      const next = nextBackoff(parseBackoff(lease?.metadata?.annotations?.[PROBE_BACKOFF_ANNOTATION]), this.opts.clock.now(), policy);
      const value = JSON.stringify(next);
      if (!lease) {
        const body = this.newLease(group, undefined);
        body.metadata!.annotations = { [PROBE_BACKOFF_ANNOTATION]: value };
        await this.call('create_capacity_lease', () => this.api.createNamespacedLease({ namespace: this.opts.namespace, body }));
      } else {
        await this.write(group, lease, value, PROBE_BACKOFF_ANNOTATION);
      }
      return next;
    });
  }

  async clearProbeBackoff(group: string): Promise<void> {
    await this.withRetries('clear_backoff', group, async () => {
      const lease = await this.read(group);
      if (!lease?.metadata?.annotations?.[PROBE_BACKOFF_ANNOTATION]) return;
      await this.write(group, lease, undefined, PROBE_BACKOFF_ANNOTATION);
    });
  }

  // -- internals --------------------------------------------------------------------------------

  /** The live (unexpired, well-formed, this group's) entry on a Lease. */
  private live(group: string, lease: V1Lease | null): UnavailableEntry | null {
    const entry = parseEntry(lease?.metadata?.annotations?.[CAPACITY_ANNOTATION]);
    if (!entry || entry.group !== group) return null;
    return entry.until > this.opts.clock.now() ? entry : null;
  }

  private newLease(group: string, value: string | undefined): V1Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: LeaseCapacityCache.leaseName(group),
        namespace: this.opts.namespace,
        labels: { [MANAGED_BY_LABEL]: 'spot-guard' },
        annotations: value === undefined ? {} : { [CAPACITY_ANNOTATION]: value },
      },
      spec: {},
    };
  }

  /** Replaces the Lease with the annotation set to `value` (or removed), conditional on the read resourceVersion. */
  private async write(group: string, lease: V1Lease, value: string | undefined, key = CAPACITY_ANNOTATION): Promise<void> {
    const annotations = { ...(lease.metadata?.annotations ?? {}) };
    if (value === undefined) delete annotations[key];
    else annotations[key] = value;
    const body: V1Lease = {
      ...lease,
      metadata: { ...lease.metadata, resourceVersion: lease.metadata?.resourceVersion ?? '', annotations },
    };
    if (!body.metadata?.resourceVersion) throw new Error('capacity cache: read Lease has no resourceVersion');
    await this.call('replace_capacity_lease', () =>
      this.api.replaceNamespacedLease({ name: LeaseCapacityCache.leaseName(group), namespace: this.opts.namespace, body }),
    );
  }

  private async read(group: string): Promise<V1Lease | null> {
    try {
      return await this.call('read_capacity_lease', () =>
        this.api.readNamespacedLease({ name: LeaseCapacityCache.leaseName(group), namespace: this.opts.namespace }),
      );
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  private call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return boundedCall(this.opts.clock, this.callTimeoutMs, operation, fn);
  }

  /**
   * Runs a read-modify-write again on 409 (someone else wrote in between: cheap, up to 50 times)
   * or on a transient error (after a jittered backoff, `attempts` times); other errors are thrown.
   */
  private async withRetries<T>(op: string, group: string, fn: () => Promise<T>): Promise<T> {
    let conflicts = 0;
    let failures = 0;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (isConflict(err) && ++conflicts < MAX_CONFLICTS) {
          this.opts.logger.debug({ group, op, conflicts }, 'capacity cache: concurrent write (409); re-reading');
          await this.opts.clock.sleep(Math.random() * this.retryMs * 0.25);
          continue;
        }
        const status = kubeStatus(err);
        const transient = status === 0 || status === 429 || status >= 500;
        if (!transient || ++failures >= this.attempts) throw err;
        this.opts.logger.warn({ group, op, failures, err: kubeErrorMessage(err) }, 'capacity cache: Kubernetes API call failed; retrying');
        await this.opts.clock.sleep(this.retryMs * (0.5 + Math.random()) * 2 ** Math.min(failures - 1, 3));
      }
    }
  }
}

export interface ReadOnlyCapacityCacheOptions {
  /** The real cache; only its `get` is used. */
  source: CapacityCache;
  clock: Clock;
  logger: Logger;
}

/**
 * DRY_RUN: reads the real cache, never writes it. Writes are logged ("would have recorded …") and
 * kept in this process's memory, so the dry-run agent's own later decisions see them.
 */
export class ReadOnlyCapacityCache implements CapacityCache {
  private readonly marked = new Map<string, UnavailableEntry>();
  /** group → clock time of the last (simulated) clear: real entries recorded before it are hidden. */
  private readonly clearedAt = new Map<string, number>();

  constructor(private readonly opts: ReadOnlyCapacityCacheOptions) {}

  async get(group: string): Promise<UnavailableEntry | null> {
    const now = this.opts.clock.now();
    const local = this.marked.get(group);
    const mine = local && local.until > now ? local : null;
    if (local && !mine) this.marked.delete(group);
    let real = await this.opts.source.get(group);
    const cleared = this.clearedAt.get(group);
    if (real && cleared !== undefined && real.at <= cleared) real = null;
    return later(mine, real);
  }

  async markUnavailable(entry: UnavailableEntry): Promise<void> {
    this.opts.logger.info(
      { group: entry.group, until: new Date(entry.until).toISOString(), reason: entry.reason },
      'dry run: would have recorded group capacity as unavailable in the shared capacity cache',
    );
    if (!(entry.until > this.opts.clock.now())) return;
    const existing = this.marked.get(entry.group);
    if (!existing || entry.until > existing.until) this.marked.set(entry.group, { ...entry });
  }

  async clear(group: string): Promise<void> {
    this.opts.logger.info({ group }, 'dry run: would have cleared the group from the shared capacity cache');
    this.marked.delete(group);
    this.clearedAt.set(group, this.opts.clock.now());
  }

  private readonly backoffs = new Map<string, ProbeBackoff | null>();

  async probeBackoff(group: string): Promise<ProbeBackoff | null> {
    return this.backoffs.has(group) ? (this.backoffs.get(group) ?? null) : this.opts.source.probeBackoff(group);
  }

  async recordProbeFailure(group: string, policy: ProbeBackoffPolicy): Promise<ProbeBackoff> {
    const next = nextBackoff(await this.probeBackoff(group), this.opts.clock.now(), policy);
    this.opts.logger.info({ group, until: new Date(next.until).toISOString() }, 'dry run: would have recorded a revert-probe backoff');
    this.backoffs.set(group, next);
    return next;
  }

  async clearProbeBackoff(group: string): Promise<void> {
    this.backoffs.set(group, null);
  }
}

import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../observability/logger.js';
import { boundedCall, isConflict, isNotFound, kubeErrorMessage } from './errors.js';
import { leaseNameFor, microTime, stateOf } from './lease-lock.js';

/**
 * At most N holders cluster-wide (e.g. reverts in flight per on-demand group): N Leases, one per
 * slot. A slot is held across many reconcile passes (minutes), renewed on each; a crashed holder's
 * slot frees itself when its Lease expires.
 */
export interface Semaphore {
  /** A slot for `holder` (the same one again if it already holds one), or null when all are taken. */
  tryAcquire(name: string, holder: string, slots: number): Promise<number | null>;
  /** Keeps the slot; false when it was lost (expired and taken by someone else). */
  renew(name: string, holder: string, slot: number): Promise<boolean>;
  release(name: string, holder: string, slot: number): Promise<void>;
}

export interface LeaseSemaphoreOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  clock: Clock;
  logger: Logger;
  /** A holder that stops renewing loses its slot after this long. Default 10 min. */
  leaseDurationMs?: number;
  callTimeoutMs?: number;
}

export class LeaseSemaphore implements Semaphore {
  private readonly api: CoordinationV1Api;
  private readonly durationMs: number;

  constructor(private readonly opts: LeaseSemaphoreOptions) {
    this.api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
    this.durationMs = opts.leaseDurationMs ?? 10 * 60_000;
  }

  static leaseName(name: string, slot: number): string {
    return leaseNameFor('spot-guard-slot', `${name}#${slot}`);
  }

  async tryAcquire(name: string, holder: string, slots: number): Promise<number | null> {
    const leases = await Promise.all(Array.from({ length: slots }, (_, i) => this.read(LeaseSemaphore.leaseName(name, i))));
    const now = this.opts.clock.now();
    // Ours already (a restarted agent): keep it.
    const mine = leases.findIndex((l) => l && stateOf(l, this.durationMs).holder === holder);
    if (mine >= 0) return (await this.take(name, mine, holder, leases[mine] ?? null)) ? mine : null;
    for (let i = 0; i < slots; i++) {
      const l = leases[i] ?? null;
      const s = l ? stateOf(l, this.durationMs) : null;
      if (!s || !s.holder || s.expiresAt < now) {
        if (await this.take(name, i, holder, l)) return i;
      }
    }
    return null;
  }

  async renew(name: string, holder: string, slot: number): Promise<boolean> {
    const lease = await this.read(LeaseSemaphore.leaseName(name, slot));
    const s = lease ? stateOf(lease, this.durationMs) : null;
    if (s?.holder && s.holder !== holder && s.expiresAt >= this.opts.clock.now()) return false;
    return this.take(name, slot, holder, lease);
  }

  async release(name: string, holder: string, slot: number): Promise<void> {
    const leaseName = LeaseSemaphore.leaseName(name, slot);
    for (let attempt = 0; attempt < 5; attempt++) {
      const lease = await this.read(leaseName);
      if (!lease || stateOf(lease, this.durationMs).holder !== holder) return;
      try {
        await this.call('release_slot', () =>
          this.api.replaceNamespacedLease({
            name: leaseName,
            namespace: this.opts.namespace,
            body: { ...lease, spec: { ...lease.spec, holderIdentity: undefined } },
          }),
        );
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  }

  /** Create or replace (optimistic concurrency) the slot's Lease with `holder`; false if someone else won. */
  private async take(name: string, slot: number, holder: string, current: V1Lease | null): Promise<boolean> {
    const leaseName = LeaseSemaphore.leaseName(name, slot);
    const now = this.opts.clock.now();
    const spec = {
      holderIdentity: holder,
      acquireTime: current && stateOf(current, this.durationMs).holder === holder ? current.spec?.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseDurationSeconds: Math.ceil(this.durationMs / 1000),
    };
    try {
      if (!current) {
        await this.call('create_slot', () =>
          this.api.createNamespacedLease({
            namespace: this.opts.namespace,
            body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: leaseName, namespace: this.opts.namespace }, spec },
          }),
        );
      } else {
        await this.call('take_slot', () =>
          this.api.replaceNamespacedLease({ name: leaseName, namespace: this.opts.namespace, body: { ...current, spec: { ...current.spec, ...spec } } }),
        );
      }
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      this.opts.logger.warn({ slot: leaseName, err: kubeErrorMessage(err) }, 'cannot write a revert slot Lease');
      throw err;
    }
  }

  private async read(leaseName: string): Promise<V1Lease | null> {
    try {
      return await this.call('read_slot', () => this.api.readNamespacedLease({ name: leaseName, namespace: this.opts.namespace }));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  private call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return boundedCall(this.opts.clock, this.opts.callTimeoutMs ?? 10_000, operation, fn);
  }
}

/** In-process slots (DRY_RUN and unit tests). */
export class LocalSemaphore implements Semaphore {
  private readonly held = new Map<string, string>();
  async tryAcquire(name: string, holder: string, slots: number): Promise<number | null> {
    for (let i = 0; i < slots; i++) if (this.held.get(`${name}#${i}`) === holder) return i;
    for (let i = 0; i < slots; i++) {
      if (!this.held.has(`${name}#${i}`)) {
        this.held.set(`${name}#${i}`, holder);
        return i;
      }
    }
    return null;
  }
  async renew(name: string, holder: string, slot: number): Promise<boolean> {
    return this.held.get(`${name}#${slot}`) === holder;
  }
  async release(name: string, holder: string, slot: number): Promise<void> {
    if (this.held.get(`${name}#${slot}`) === holder) this.held.delete(`${name}#${slot}`);
  }
}

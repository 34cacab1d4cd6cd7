/**
 * SimKube: a simulated Kubernetes API server on loopback HTTP, real enough at the wire for
 * @kubernetes/client-node and kubectl, with a scheduler, kubelet, ReplicaSet and disruption
 * controllers driven by an injected clock. Scenarios and tests reach the same store in-process.
 */
import { stringify as toYaml } from 'yaml';
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../observability/logger.js';
import { ObjectStore } from './store.js';
import { ControlPlane } from './control-plane.js';
import { KubeHttpServer } from './http-server.js';
import { ResourceApi, objectSelector } from './resource-api.js';
import { WatchHub } from './watch.js';
import { FaultInjector, RequestCounter, type FaultSpec } from './faults.js';
import { RESOURCES, storeKeyOf, type ResourceDef } from './resources.js';
import { deleteObject, type DeleteOptions } from './deletion.js';
import { evictPod, type EvictionOutcome } from './eviction.js';
import { applyPatch, PATCH_TYPES } from './patch.js';
import type { ChangeEvent, KubeObject, StoredObject } from './types.js';

export interface SimKubeOptions {
  clock: Clock;
  logger?: Logger;
  /** 0 (default) picks any free port. */
  port?: number;
  /** Changes a watch can resume from (default 10000). */
  watchHistorySize?: number;
}

export type PatchKind = 'merge' | 'strategic' | 'json';

/**
 * Resolves the name scenarios use for a resource type: plural ('pods'), group-qualified plural
 * ('events.events.k8s.io'), singular, short name or kind. Core types win over same-named ones.
 */
export function resolveResource(name: string): ResourceDef {
  const lower = name.toLowerCase();
  const def =
    RESOURCES.find((r) => storeKeyOf(r) === lower) ??
    RESOURCES.find((r) => r.plural === lower) ??
    RESOURCES.find((r) => r.singular === lower || r.shortNames.includes(lower) || r.kind.toLowerCase() === lower);
  if (!def) throw new Error(`sim-kube: unknown resource "${name}"`);
  return def;
}

export class SimKube {
  private readonly store: ObjectStore;
  private readonly api: ResourceApi;
  private readonly watches: WatchHub;
  private readonly control: ControlPlane;
  private readonly http: KubeHttpServer;
  private readonly faults = new FaultInjector();
  private readonly counter = new RequestCounter();
  private latencyMs = 0;
  private started = false;

  constructor(private readonly opts: SimKubeOptions) {
    const storeOpts: ConstructorParameters<typeof ObjectStore>[0] = { clock: opts.clock };
    if (opts.watchHistorySize !== undefined) storeOpts.historySize = opts.watchHistorySize;
    this.store = new ObjectStore(storeOpts);
    this.api = new ResourceApi(this.store);
    this.watches = new WatchHub(this.store, opts.clock);
    this.control = new ControlPlane(this.store, opts.clock, opts.logger);
    const deps: ConstructorParameters<typeof KubeHttpServer>[0] = {
      api: this.api,
      watches: this.watches,
      faults: this.faults,
      counter: this.counter,
      clock: opts.clock,
      latencyMs: () => this.latencyMs,
    };
    if (opts.logger) deps.logger = opts.logger;
    this.http = new KubeHttpServer(deps);
  }

  async start(): Promise<void> {
    if (this.started) return;
    await this.http.start(this.opts.port ?? 0);
    this.control.start();
    this.started = true;
  }

  /** Stops the controllers, ends open watches and closes every socket. */
  async stop(): Promise<void> {
    this.control.stop();
    await this.http.stop();
    this.started = false;
  }

  get url(): string {
    return this.http.url;
  }

  /**
   * A kubeconfig with cluster, user and context "sim" pointing at this server, without auth.
   * `insecure-skip-tls-verify` is set because client-node refuses plain http:// servers without it.
   */
  kubeconfigYaml(): string {
    return toYaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'sim', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'sim', user: {} }],
      contexts: [{ name: 'sim', context: { cluster: 'sim', user: 'sim', namespace: 'default' } }],
      'current-context': 'sim',
      preferences: {},
    });
  }

  /** The current global resourceVersion. */
  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  /**
   * Creates an object as POST would (but keeping the given status). Namespaces are not required
   * to exist, and none are pre-created.
   */
  create<T extends KubeObject>(resource: string, obj: T): T & { metadata: StoredObject['metadata'] } {
    const def = resolveResource(resource);
    return structuredClone(this.store.create(def, obj, obj.metadata?.namespace)) as unknown as T & { metadata: StoredObject['metadata'] };
  }

  get<T = StoredObject>(resource: string, namespace: string | undefined, name: string): T | undefined {
    const obj = this.store.get(resolveResource(resource), namespace ?? 'default', name);
    return obj ? (structuredClone(obj) as unknown as T) : undefined;
  }

  list<T = StoredObject>(resource: string, opts: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {}): T[] {
    const matches = objectSelector(opts);
    return this.store
      .list(resolveResource(resource), opts.namespace)
      .filter(matches)
      .map((o) => structuredClone(o) as unknown as T);
  }

  /**
   * Replaces an object (as PUT does, including status). With `checkResourceVersion`, a stale
   * metadata.resourceVersion fails with a 409 ApiError.
   */
  update<T extends KubeObject>(resource: string, obj: T, opts: { checkResourceVersion?: boolean } = {}): T {
    const def = resolveResource(resource);
    const name = obj.metadata?.name;
    if (!name) throw new Error('sim-kube update: metadata.name is required');
    const rv = opts.checkResourceVersion ? obj.metadata?.resourceVersion : undefined;
    return structuredClone(this.store.replace(def, obj.metadata?.namespace ?? 'default', name, obj, rv)) as unknown as T;
  }

  /** Applies a patch as the HTTP API does (default: JSON merge patch), status included. */
  patch<T = StoredObject>(resource: string, namespace: string | undefined, name: string, patch: unknown, kind: PatchKind = 'merge'): T {
    const def = resolveResource(resource);
    const current = this.store.mustGet(def, namespace ?? 'default', name);
    const next = applyPatch(PATCH_TYPES[kind], current, JSON.stringify(patch)) as KubeObject;
    const rv = next.metadata?.resourceVersion;
    return structuredClone(this.store.replace(def, namespace ?? 'default', name, next, rv)) as unknown as T;
  }

  /** Edits an object in place with a function (server-side, no concurrency check); handy in scenarios. */
  mutate<T = StoredObject>(resource: string, namespace: string | undefined, name: string, fn: (draft: T) => void): T {
    const def = resolveResource(resource);
    return structuredClone(this.store.mutate(def, namespace ?? 'default', name, (d) => fn(d as unknown as T))) as unknown as T;
  }

  /** Deletes like the HTTP API: pods gracefully (see DeleteOptions), everything else at once. */
  delete(resource: string, namespace: string | undefined, name: string, opts: DeleteOptions = {}): { object: KubeObject; removed: boolean } {
    const def = resolveResource(resource);
    const r = deleteObject(this.store, def, namespace ?? 'default', name, opts);
    return { object: structuredClone(r.object), removed: r.removed };
  }

  /** Evicts a pod through the same PDB check as POST …/pods/{name}/eviction; throws ApiError 429 when blocked. */
  evict(namespace: string, name: string, deleteOptions?: DeleteOptions): EvictionOutcome {
    return evictPod(this.store, namespace, name, deleteOptions ? { deleteOptions } : {});
  }

  onChange(listener: (ev: ChangeEvent) => void): () => void {
    return this.store.onEvent((ev) => listener({ type: ev.type, resource: ev.resource, object: structuredClone(ev.object) }));
  }

  /** The next `times` requests matching the spec fail with a Status of `status`. */
  injectFault(f: FaultSpec): void {
    this.faults.add(f);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Adds `ms` of REAL (wall-clock) delay to every HTTP request, independent of the clock's scale. */
  setLatencyMs(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  /** "VERB resource[/sub]" → count (e.g. "LIST pods", "CREATE pods/eviction", "PATCH nodes"). */
  requestCounts(): Record<string, number> {
    return this.counter.snapshot();
  }

  resetRequestCounts(): void {
    this.counter.reset();
  }

  /** Open watch connections (for tests that check watches are released). */
  openWatches(): number {
    return this.watches.openCount;
  }
}

/**
 * The object store behind the simulated API server: typed collections, one global resourceVersion
 * counter, a bounded change history for watches resuming from a resourceVersion, and change
 * listeners for watches, controllers and timelines.
 *
 * Stored objects are never mutated in place: every write stores a new object. That lets the
 * history and in-flight watch events share objects safely. Callers outside the sim get clones.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import type { ResourceDef } from './resources.js';
import { apiVersionOf, storeKeyOf } from './resources.js';
import { alreadyExists, ApiError, conflict, notFound } from './status.js';
import type { KubeObject, StoredObject, WatchEventType } from './types.js';

export interface StoreEvent {
  type: WatchEventType;
  /** Store key of the resource type ('pods', 'leases.coordination.k8s.io'). */
  resource: string;
  def: ResourceDef;
  rv: number;
  object: StoredObject;
  /** The object before a MODIFIED/DELETED change; lets filtered watches see objects leave a selection. */
  previous?: StoredObject;
}

export type StoreListener = (ev: StoreEvent) => void;

export interface StoreOptions {
  clock: Clock;
  /** How many changes a watch can resume from; older resourceVersions get 410 Expired. */
  historySize?: number;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

function isoSeconds(ms: number): string {
  // The API server serialises metav1.Time with second precision.
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export class ObjectStore {
  private readonly collections = new Map<string, Map<string, StoredObject>>();
  private readonly history: StoreEvent[] = [];
  private readonly historySize: number;
  private readonly listeners = new Set<StoreListener>();
  private rv = 1;
  private nameCounter = 0;

  constructor(private readonly opts: StoreOptions) {
    this.historySize = opts.historySize ?? 10_000;
  }

  /** The current (latest) resourceVersion. */
  get resourceVersion(): number {
    return this.rv;
  }

  /** Oldest resourceVersion a watch may resume from without missing changes. */
  get oldestResumableVersion(): number {
    const first = this.history[0];
    // With a full history, anything before its first entry has been forgotten.
    if (first && this.history.length >= this.historySize) return first.rv - 1;
    return 0;
  }

  now(): string {
    return isoSeconds(this.opts.clock.now());
  }

  onEvent(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Changes with rv > since for one resource type, oldest first. */
  changesSince(resource: string, since: number): StoreEvent[] {
    return this.history.filter((e) => e.rv > since && e.resource === resource);
  }

  private collection(def: ResourceDef): Map<string, StoredObject> {
    const key = storeKeyOf(def);
    let c = this.collections.get(key);
    if (!c) {
      c = new Map();
      this.collections.set(key, c);
    }
    return c;
  }

  get(def: ResourceDef, namespace: string | undefined, name: string): StoredObject | undefined {
    return this.collection(def).get(objectKey(def.namespaced ? namespace : undefined, name));
  }

  mustGet(def: ResourceDef, namespace: string | undefined, name: string): StoredObject {
    const obj = this.get(def, namespace, name);
    if (!obj) throw notFound(def.group, def.plural, name);
    return obj;
  }

  /** All objects of a type (optionally one namespace), sorted by namespace/name like etcd keys. */
  list(def: ResourceDef, namespace?: string): StoredObject[] {
    const out: StoredObject[] = [];
    for (const obj of this.collection(def).values()) {
      if (def.namespaced && namespace && obj.metadata.namespace !== namespace) continue;
      out.push(obj);
    }
    out.sort((a, b) => {
      const ka = objectKey(a.metadata.namespace, a.metadata.name);
      const kb = objectKey(b.metadata.namespace, b.metadata.name);
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    return out;
  }

  create(def: ResourceDef, input: KubeObject, namespace?: string): StoredObject {
    const obj = structuredClone(input) as KubeObject;
    const meta = { ...(obj.metadata ?? {}) };
    if (def.namespaced) meta.namespace = namespace ?? meta.namespace ?? 'default';
    else delete meta.namespace;
    if (!meta.name) {
      if (!meta.generateName) {
        throw new ApiError(422, 'Invalid', `${def.kind} "" is invalid: metadata.name: Required value: name or generateName is required`, {
          group: def.group,
          kind: def.kind,
          causes: [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }],
        });
      }
      meta.name = this.generateName(def, meta.namespace, meta.generateName);
    }
    const coll = this.collection(def);
    const key = objectKey(meta.namespace, meta.name);
    if (coll.has(key)) throw alreadyExists(def.group, def.plural, meta.name);
    meta.uid = randomUUID();
    meta.creationTimestamp = this.now();
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    if (obj.spec !== undefined) meta.generation = 1;
    const stored = this.stamp(def, { ...obj, metadata: meta });
    coll.set(key, stored);
    this.emit('ADDED', def, stored);
    return stored;
  }

  /**
   * Replaces an object. When `expectedRv` is given (the client sent metadata.resourceVersion),
   * it must equal the stored one: that is the API's optimistic concurrency.
   */
  replace(def: ResourceDef, namespace: string | undefined, name: string, input: KubeObject, expectedRv?: string): StoredObject {
    const current = this.mustGet(def, namespace, name);
    if (expectedRv !== undefined && expectedRv !== '' && expectedRv !== current.metadata.resourceVersion) {
      throw conflict(def.group, def.plural, name, 'the object has been modified; please apply your changes to the latest version and try again');
    }
    const obj = structuredClone(input) as KubeObject;
    const meta = { ...(obj.metadata ?? {}) };
    // Identity and server-owned fields cannot be changed by an update.
    meta.name = current.metadata.name;
    if (def.namespaced) meta.namespace = current.metadata.namespace;
    else delete meta.namespace;
    meta.uid = current.metadata.uid;
    meta.creationTimestamp = current.metadata.creationTimestamp;
    if (current.metadata.deletionTimestamp) {
      meta.deletionTimestamp = current.metadata.deletionTimestamp;
      meta.deletionGracePeriodSeconds = current.metadata.deletionGracePeriodSeconds;
    } else {
      delete meta.deletionTimestamp;
      delete meta.deletionGracePeriodSeconds;
    }
    const specChanged = JSON.stringify(obj.spec) !== JSON.stringify(current.spec);
    if (current.metadata.generation !== undefined || obj.spec !== undefined) {
      meta.generation = (current.metadata.generation ?? 0) + (specChanged ? 1 : 0) || 1;
    }
    const stored = this.stamp(def, { ...obj, metadata: meta });
    if (this.sameContent(current, stored)) return current; // a no-op write does not bump resourceVersion
    this.collection(def).set(objectKey(meta.namespace, meta.name as string), stored);
    this.emit('MODIFIED', def, stored, current);
    return stored;
  }

  /** Server-side mutation used by the simulated controllers (bypasses optimistic concurrency). */
  mutate(def: ResourceDef, namespace: string | undefined, name: string, fn: (draft: StoredObject) => void): StoredObject {
    const current = this.mustGet(def, namespace, name);
    const draft = structuredClone(current);
    fn(draft);
    const stored = this.stamp(def, { ...draft, metadata: { ...draft.metadata, resourceVersion: current.metadata.resourceVersion } });
    if (this.sameContent(current, stored)) return current;
    this.collection(def).set(objectKey(current.metadata.namespace, current.metadata.name), stored);
    this.emit('MODIFIED', def, stored, current);
    return stored;
  }

  /** Removes an object now (the final step of a deletion). */
  remove(def: ResourceDef, namespace: string | undefined, name: string): StoredObject {
    const current = this.mustGet(def, namespace, name);
    const key = objectKey(current.metadata.namespace, current.metadata.name);
    this.collection(def).delete(key);
    // The DELETED event carries the resourceVersion of the deletion, as etcd does.
    const tomb = { ...current, metadata: { ...current.metadata } } as StoredObject;
    this.emit('DELETED', def, tomb, current);
    return tomb;
  }

  private sameContent(a: StoredObject, b: StoredObject): boolean {
    const strip = (o: StoredObject) => JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: '' } });
    return strip(a) === strip(b);
  }

  private stamp(def: ResourceDef, obj: KubeObject): StoredObject {
    return { ...obj, apiVersion: apiVersionOf(def), kind: def.kind } as StoredObject;
  }

  private generateName(def: ResourceDef, namespace: string | undefined, prefix: string): string {
    const coll = this.collection(def);
    const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
    for (;;) {
      // Deterministic enough for tests, random-looking like the real 5-char suffix.
      let n = ++this.nameCounter * 7919 + 104729;
      let suffix = '';
      for (let i = 0; i < 5; i++) {
        suffix += alphabet[n % alphabet.length];
        n = Math.floor(n / alphabet.length);
      }
      const name = `${prefix.slice(0, 58)}${suffix}`;
      if (!coll.has(objectKey(namespace, name))) return name;
    }
  }

  private emit(type: WatchEventType, def: ResourceDef, object: StoredObject, previous?: StoredObject): void {
    this.rv++;
    object.metadata.resourceVersion = String(this.rv);
    const ev: StoreEvent = { type, resource: storeKeyOf(def), def, rv: this.rv, object };
    if (previous) ev.previous = previous;
    this.history.push(ev);
    if (this.history.length > this.historySize) this.history.splice(0, this.history.length - this.historySize);
    for (const l of [...this.listeners]) {
      try {
        l(ev);
      } catch {
        // A faulty observer must not turn a successful write into a failed request.
      }
    }
  }
}

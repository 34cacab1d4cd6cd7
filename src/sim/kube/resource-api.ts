/**
 * The REST verbs on resources (get, list, create, update, patch, delete, eviction), independent of
 * node:http: each takes the parsed request and returns the HTTP status and JSON body. Watches are
 * streamed by WatchHub instead.
 */
import type { ObjectStore } from './store.js';
import type { ResourceRoute } from './routes.js';
import type { ResourceDef } from './resources.js';
import { apiVersionOf } from './resources.js';
import { applyPatch } from './patch.js';
import { deleteObject, type DeleteOptions } from './deletion.js';
import { evictPod, type EvictionBody } from './eviction.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { ApiError, badRequest, conflict, successStatus } from './status.js';
import type { KubeObject, StoredObject } from './types.js';

export interface ApiResponse {
  code: number;
  body: unknown;
}

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continueToken?: string;
}

export interface ListResult {
  items: StoredObject[];
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
}

function hasStatusSubresource(def: ResourceDef): boolean {
  return def.subresources.some((s) => s.name === 'status');
}

function encodeContinue(lastKey: string, rv: number): string {
  return Buffer.from(JSON.stringify({ k: lastKey, rv })).toString('base64url');
}

function decodeContinue(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k?: unknown };
    if (typeof parsed.k === 'string') return parsed.k;
  } catch {
    // fall through
  }
  throw badRequest('The provided continue parameter is not valid');
}

export function objectSelector(query: { labelSelector?: string; fieldSelector?: string }): (obj: StoredObject) => boolean {
  const labels = parseLabelSelector(query.labelSelector);
  const fields = parseFieldSelector(query.fieldSelector);
  return (obj) => labels(obj.metadata.labels) && fields(obj);
}

export class ResourceApi {
  constructor(private readonly store: ObjectStore) {}

  list(def: ResourceDef, namespace: string | undefined, query: ListQuery): ListResult {
    const matches = objectSelector(query);
    let items = this.store.list(def, namespace).filter(matches);
    const rv = this.store.resourceVersion;
    if (query.continueToken) {
      const after = decodeContinue(query.continueToken);
      items = items.filter((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}` > after);
    }
    const metadata: ListResult['metadata'] = { resourceVersion: String(rv) };
    if (query.limit !== undefined && query.limit > 0 && items.length > query.limit) {
      const page = items.slice(0, query.limit);
      const last = page[page.length - 1] as StoredObject;
      metadata.continue = encodeContinue(`${last.metadata.namespace ?? ''}/${last.metadata.name}`, rv);
      metadata.remainingItemCount = items.length - page.length;
      items = page;
    }
    return { items, metadata };
  }

  listBody(def: ResourceDef, result: ListResult): KubeObject {
    return { kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata: result.metadata, items: result.items };
  }

  get(route: ResourceRoute): StoredObject {
    const obj = this.store.mustGet(route.def, route.namespace, route.name as string);
    return obj;
  }

  create(route: ResourceRoute, body: KubeObject, dryRun: boolean): ApiResponse {
    const { def } = route;
    if (route.subresource) throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    const ns = def.namespaced ? route.namespace ?? 'default' : undefined;
    const bodyNs = body.metadata?.namespace;
    if (def.namespaced && bodyNs && route.namespace && bodyNs !== route.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    let input = body;
    // Pods created through the API start Pending, whatever status the client sent; the simulated
    // scheduler and kubelet take it from there.
    if (def.group === '' && def.plural === 'pods') input = { ...body, status: { phase: 'Pending' } };
    if (dryRun) {
      const name = input.metadata?.name ?? '';
      if (name && this.store.get(def, ns, name)) this.store.create(def, input, ns); // throws AlreadyExists
      return { code: 201, body: { ...input, apiVersion: apiVersionOf(def), kind: def.kind } };
    }
    return { code: 201, body: this.store.create(def, input, ns) };
  }

  update(route: ResourceRoute, body: KubeObject, dryRun: boolean): ApiResponse {
    const { def } = route;
    const name = route.name as string;
    if (body.metadata?.name && body.metadata.name !== name) {
      throw badRequest(`the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`);
    }
    const current = this.store.mustGet(def, route.namespace, name);
    const next = this.withSubresourceSemantics(route, current, body);
    return this.commit(route, current, next, body.metadata?.resourceVersion, dryRun);
  }

  patch(route: ResourceRoute, contentType: string, rawBody: string, dryRun: boolean): ApiResponse {
    const current = this.store.mustGet(route.def, route.namespace, route.name as string);
    const patched = applyPatch(contentType, current, rawBody) as KubeObject;
    if (patched === null || typeof patched !== 'object' || Array.isArray(patched)) throw badRequest('patch produced a non-object');
    const next = this.withSubresourceSemantics(route, current, patched);
    // A patch that sets metadata.resourceVersion makes the write conditional, like an update.
    return this.commit(route, current, next, patched.metadata?.resourceVersion, dryRun);
  }

  delete(route: ResourceRoute, opts: DeleteOptions, dryRun: boolean): ApiResponse {
    const { def } = route;
    const name = route.name as string;
    if (dryRun) return { code: 200, body: this.store.mustGet(def, route.namespace, name) };
    const result = deleteObject(this.store, def, route.namespace, name, opts);
    if (def.group === '' && (def.plural === 'pods' || def.plural === 'namespaces')) {
      return { code: result.removed ? 200 : 202, body: result.object };
    }
    return {
      code: 200,
      body: successStatus(200, { name, group: def.group, kind: def.plural, uid: result.object.metadata.uid }),
    };
  }

  deleteCollection(def: ResourceDef, namespace: string | undefined, query: ListQuery, opts: DeleteOptions): ApiResponse {
    const { items } = this.list(def, namespace, { ...query, limit: undefined, continueToken: undefined });
    const deleted: StoredObject[] = [];
    for (const obj of items) {
      deleted.push(deleteObject(this.store, def, obj.metadata.namespace, obj.metadata.name, opts).object);
    }
    return { code: 200, body: this.listBody(def, { items: deleted, metadata: { resourceVersion: String(this.store.resourceVersion) } }) };
  }

  evict(route: ResourceRoute, body: EvictionBody, dryRun: boolean): ApiResponse {
    evictPod(this.store, route.namespace ?? 'default', route.name as string, body, dryRun);
    return { code: 201, body: successStatus(201) };
  }

  /**
   * Writes to the main resource cannot change status, and writes to /status change nothing but
   * status, for types with a status subresource (as the real API's update strategies do).
   */
  private withSubresourceSemantics(route: ResourceRoute, current: StoredObject, next: KubeObject): KubeObject {
    if (!hasStatusSubresource(route.def)) return next;
    if (route.subresource === 'status') {
      const out: KubeObject = { ...current, metadata: { ...current.metadata, resourceVersion: next.metadata?.resourceVersion ?? '' } };
      if (next.status === undefined) delete out.status;
      else out.status = next.status;
      return out;
    }
    const out: KubeObject = { ...next };
    if (current.status === undefined) delete out.status;
    else out.status = current.status;
    return out;
  }

  private commit(route: ResourceRoute, current: StoredObject, next: KubeObject, expectedRv: string | undefined, dryRun: boolean): ApiResponse {
    const { def } = route;
    if (expectedRv !== undefined && expectedRv !== '' && expectedRv !== current.metadata.resourceVersion) {
      throw conflict(
        def.group,
        def.plural,
        current.metadata.name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    }
    if (dryRun) return { code: 200, body: { ...next, apiVersion: apiVersionOf(def), kind: def.kind } };
    return { code: 200, body: this.store.replace(def, route.namespace, current.metadata.name, next, expectedRv) };
  }
}


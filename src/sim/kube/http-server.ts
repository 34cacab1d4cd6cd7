/**
 * The node:http front of the simulated API server: discovery, OpenAPI, resource routes, watches,
 * plus the test hooks (latency, injected faults, request counts). All behaviour lives in the
 * modules it dispatches to; this file only speaks HTTP.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../observability/logger.js';
import type { WatchHub } from './watch.js';
import type { ResourceApi, ApiResponse } from './resource-api.js';
import { objectSelector } from './resource-api.js';
import { parseResourcePath, type ResourceRoute } from './routes.js';
import { AGGREGATED_DISCOVERY_TYPE, aggregatedDiscovery, apiGroup, apiGroupList, apiResourceList, apiVersions, SIM_VERSION, wantsAggregatedDiscovery } from './discovery.js';
import { openApiDocument } from './openapi.js';
import { toTable, wantsTable } from './table.js';
import type { FaultInjector, RequestCounter, RequestDescriptor } from './faults.js';
import type { DeleteOptions } from './deletion.js';
import { ApiError, badRequest } from './status.js';
import type { KubeObject } from './types.js';

const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface HttpServerDeps {
  api: ResourceApi;
  watches: WatchHub;
  faults: FaultInjector;
  counter: RequestCounter;
  clock: Clock;
  logger?: Logger;
  /** Extra latency per request, in REAL milliseconds. */
  latencyMs: () => number;
}

function sendJson(res: ServerResponse, code: number, body: unknown, contentType = 'application/json'): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ApiError(413, 'RequestEntityTooLarge', 'request entity too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Decodes a create/update body; kubectl and client-node send JSON, humans might send YAML. */
function decodeObject(contentType: string | undefined, raw: string): KubeObject {
  const type = (contentType ?? 'application/json').split(';')[0]?.trim().toLowerCase() ?? '';
  let parsed: unknown;
  try {
    if (type === 'application/json' || type === '' || type === '*/*') parsed = JSON.parse(raw);
    else if (type === 'application/yaml' || type === 'application/x-yaml') parsed = parseYaml(raw);
    else throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw badRequest(`error decoding request body: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest('request body must be a JSON object');
  return parsed as KubeObject;
}

function decodeDeleteOptions(raw: string, query: URLSearchParams): DeleteOptions {
  let opts: DeleteOptions = {};
  if (raw.trim() !== '') {
    try {
      opts = JSON.parse(raw) as DeleteOptions;
    } catch (err) {
      throw badRequest(`error decoding DeleteOptions: ${(err as Error).message}`);
    }
  }
  const q = query.get('gracePeriodSeconds');
  if (opts.gracePeriodSeconds === undefined && q !== null && q !== '') opts.gracePeriodSeconds = Number(q);
  const p = query.get('propagationPolicy');
  if (opts.propagationPolicy === undefined && p) opts.propagationPolicy = p;
  return opts;
}

function intParam(query: URLSearchParams, key: string): number | undefined {
  const v = query.get(key);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw badRequest(`invalid ${key} "${v}"`);
  return n;
}

function verbOf(method: string, route: ResourceRoute, query: URLSearchParams): string {
  const watch = query.get('watch');
  switch (method) {
    case 'GET':
      if (route.name) return 'get';
      return watch === 'true' || watch === '1' ? 'watch' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return route.name ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

export class KubeHttpServer {
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  constructor(private readonly deps: HttpServerDeps) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<void> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, err));
    });
    server.keepAliveTimeout = 5_000;
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.deps.watches.closeAll();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive sockets and hanging watches must not hold stop() up.
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }

  private fail(res: ServerResponse, err: unknown): void {
    const apiErr = err instanceof ApiError ? err : new ApiError(500, 'InternalError', `Internal error occurred: ${(err as Error)?.message ?? String(err)}`);
    if (!(err instanceof ApiError)) this.deps.logger?.error({ err }, 'sim-kube: internal error');
    if (res.headersSent) {
      res.end();
      return;
    }
    sendJson(res, apiErr.code, apiErr.toStatus());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const latency = this.deps.latencyMs();
    // The single real-time delay in the simulator: latency models network/server time, not
    // simulated time, so it is in real milliseconds whatever the clock's scale.
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    this.deps.logger?.trace({ method, url: req.url }, 'sim-kube request');

    if (this.serveNonResource(method, path, req, res)) return;

    const parsed = parseResourcePath(path);
    if (parsed.kind === 'other') {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    if (parsed.kind === 'unknown-resource') {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource', { group: parsed.group, kind: parsed.plural });
    }
    const route = parsed.route;
    const verb = verbOf(method, route, url.searchParams);
    const descriptor: RequestDescriptor = { httpMethod: method, verb, resource: route.def.plural, group: route.def.group };
    if (route.subresource) descriptor.subresource = route.subresource;
    if (route.name) descriptor.name = route.name;
    this.deps.counter.record(descriptor);
    const injected = this.deps.faults.take(descriptor);
    if (injected) {
      // Drain the body so the client sees the response rather than a reset.
      await readBody(req).catch(() => '');
      throw injected;
    }
    await this.serveResource(method, verb, route, url.searchParams, req, res);
  }

  private serveNonResource(method: string, path: string, req: IncomingMessage, res: ServerResponse): boolean {
    if (method !== 'GET' && method !== 'HEAD') return false;
    const accept = req.headers.accept;
    const segs = path.split('/').filter(Boolean);
    if (path === '/version') return this.sendDoc(res, SIM_VERSION);
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return true;
    }
    if (path === '/api' || path === '/apis') {
      if (wantsAggregatedDiscovery(accept)) {
        sendJson(res, 200, aggregatedDiscovery(path === '/api'), AGGREGATED_DISCOVERY_TYPE);
      } else {
        sendJson(res, 200, path === '/api' ? apiVersions(`127.0.0.1:${this.port}`) : apiGroupList());
      }
      return true;
    }
    if (segs[0] === 'api' && segs.length === 2) return this.sendDoc(res, apiResourceList('', segs[1] as string));
    if (segs[0] === 'apis' && segs.length === 2) return this.sendDoc(res, apiGroup(segs[1] as string));
    if (segs[0] === 'apis' && segs.length === 3) return this.sendDoc(res, apiResourceList(segs[1] as string, segs[2] as string));
    if (segs[0] === 'openapi') return this.sendDoc(res, openApiDocument(segs.slice(1)));
    return false;
  }

  private sendDoc(res: ServerResponse, doc: Record<string, unknown> | undefined): boolean {
    if (!doc) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    sendJson(res, 200, doc);
    return true;
  }

  private async serveResource(
    method: string,
    verb: string,
    route: ResourceRoute,
    query: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const { api } = this.deps;
    const dryRun = query.getAll('dryRun').includes('All');
    const sub = route.subresource;
    if (sub && sub !== 'status' && !(sub === 'eviction' && route.def.plural === 'pods' && method === 'POST')) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const accept = req.headers.accept;
    let out: ApiResponse;
    switch (verb) {
      case 'watch': {
        const matches = objectSelector({ labelSelector: query.get('labelSelector') ?? undefined, fieldSelector: query.get('fieldSelector') ?? undefined });
        const w: Parameters<WatchHub['serve']>[0] = { def: route.def, matches };
        if (route.namespace !== undefined) w.namespace = route.namespace;
        const rv = query.get('resourceVersion');
        if (rv !== null) w.resourceVersion = rv;
        const timeout = intParam(query, 'timeoutSeconds');
        if (timeout !== undefined) w.timeoutSeconds = timeout;
        this.deps.watches.serve(w, res);
        return;
      }
      case 'list': {
        const q: Parameters<ResourceApi['list']>[2] = {};
        const ls = query.get('labelSelector');
        const fs = query.get('fieldSelector');
        const limit = intParam(query, 'limit');
        const cont = query.get('continue');
        if (ls) q.labelSelector = ls;
        if (fs) q.fieldSelector = fs;
        if (limit !== undefined) q.limit = limit;
        if (cont) q.continueToken = cont;
        const result = api.list(route.def, route.namespace, q);
        if (wantsTable(accept)) return sendJson(res, 200, toTable(route.def, result.items, result.metadata, this.deps.clock.now()));
        out = { code: 200, body: api.listBody(route.def, result) };
        break;
      }
      case 'get': {
        const obj = api.get(route);
        if (wantsTable(accept)) {
          return sendJson(res, 200, toTable(route.def, [obj], { resourceVersion: obj.metadata.resourceVersion }, this.deps.clock.now()));
        }
        out = { code: 200, body: obj };
        break;
      }
      case 'create': {
        const raw = await readBody(req);
        if (sub === 'eviction') {
          out = api.evict(route, decodeObject(req.headers['content-type'], raw), dryRun);
        } else {
          if (route.name) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
          out = api.create(route, decodeObject(req.headers['content-type'], raw), dryRun);
        }
        break;
      }
      case 'update': {
        if (!route.name) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        const raw = await readBody(req);
        out = api.update(route, decodeObject(req.headers['content-type'], raw), dryRun);
        break;
      }
      case 'patch': {
        if (!route.name) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        const raw = await readBody(req);
        out = api.patch(route, req.headers['content-type'] ?? '', raw, dryRun);
        break;
      }
      case 'delete': {
        if (sub) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
        const raw = await readBody(req);
        out = api.delete(route, decodeDeleteOptions(raw, query), dryRun);
        break;
      }
      case 'deletecollection': {
        const raw = await readBody(req);
        const q: Parameters<ResourceApi['list']>[2] = {};
        const ls = query.get('labelSelector');
        const fs = query.get('fieldSelector');
        if (ls) q.labelSelector = ls;
        if (fs) q.fieldSelector = fs;
        out = api.deleteCollection(route.def, route.namespace, q, decodeDeleteOptions(raw, query));
        break;
      }
      default:
        throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    }
    sendJson(res, out.code, out.body);
  }
}

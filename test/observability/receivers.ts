/**
 * Real HTTP peers on loopback for observability tests: a webhook receiver that records what it got
 * (and can answer 500 or hang), an HTTP proxy that records what went through it (absolute-URI
 * requests and CONNECT tunnels), a free-port finder and a Prometheus text-format parser.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Behaviour = 'ok' | 'error' | 'reject' | 'hang';

export interface Receiver {
  url: string;
  requests: Received[];
  behaviour: Behaviour;
  close(): Promise<void>;
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

function track(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function recordingHandler(r: { requests: Received[]; behaviour: Behaviour }) {
  return (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      r.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (r.behaviour === 'hang') return;
      if (r.behaviour === 'error') res.writeHead(500).end('boom');
      else if (r.behaviour === 'reject') res.writeHead(400).end('invalid_payload');
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  };
}

export async function startReceiver(behaviour: Behaviour = 'ok'): Promise<Receiver> {
  const r = { requests: [] as Received[], behaviour };
  const server = createServer(recordingHandler(r));
  const sockets = track(server);
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/hooks/spot?token=s3cret`,
    get requests() {
      return r.requests;
    },
    get behaviour() {
      return r.behaviour;
    },
    set behaviour(b: Behaviour) {
      r.behaviour = b;
    },
    close: () => closeServer(server, sockets),
  };
}

/** An https receiver with a throw-away self-signed certificate (needs the openssl CLI); null without it. */
export async function startTlsReceiver(): Promise<(Receiver & { ca: string }) | null> {
  const dir = mkdtempSync(join(tmpdir(), 'spot-guard-tls-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      { stdio: 'ignore' },
    );
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  const key = readFileSync(join(dir, 'key.pem'), 'utf8');
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  rmSync(dir, { recursive: true, force: true });
  const r = { requests: [] as Received[], behaviour: 'ok' as Behaviour };
  const server = createHttpsServer({ key, cert }, recordingHandler(r));
  const sockets = track(server as unknown as Server);
  const port = await listen(server as unknown as Server);
  return {
    url: `https://localhost:${port}/tls-hook`,
    ca: cert,
    requests: r.requests,
    behaviour: 'ok',
    close: () => closeServer(server as unknown as Server, sockets),
  };
}

export interface Proxy {
  url: string;
  /** Request lines the proxy saw: `POST http://…` (forwarded) or `CONNECT host:port` (tunnelled). */
  seen: { line: string; proxyAuthorization?: string }[];
  close(): Promise<void>;
}

/** A forward proxy: absolute-URI requests are forwarded, CONNECT opens a TCP tunnel. */
export async function startProxy(): Promise<Proxy> {
  const seen: Proxy['seen'] = [];
  const server = createServer((req, res) => {
    const auth = req.headers['proxy-authorization'];
    seen.push({ line: `${req.method} ${req.url}`, ...(auth ? { proxyAuthorization: auth } : {}) });
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const up = request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const auth = req.headers['proxy-authorization'];
    seen.push({ line: `CONNECT ${req.url}`, ...(auth ? { proxyAuthorization: auth } : {}) });
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host === 'localhost' ? '127.0.0.1' : host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const sockets = track(server);
  const port = await listen(server);
  return { url: `http://user:pa%40ss@127.0.0.1:${port}`, seen, close: () => closeServer(server, sockets) };
}

export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (what /metrics serves). */
export function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

/** Sum of the samples of `name` whose labels include `labels`. */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

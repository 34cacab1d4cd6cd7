/**
 * One HTTP(S) POST, optionally through an HTTP proxy, with node:http only (no extra dependency):
 * an http:// target is sent to the proxy with its absolute URI; an https:// target goes through a
 * CONNECT tunnel and TLS to the target (what Go's http.Transport, and so NTH, does with
 * WEBHOOK_PROXY). Proxy credentials in the proxy URL become Proxy-Authorization: Basic.
 * Aborting `signal` destroys the request at once; timeouts are the caller's (on its clock).
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import type { Socket } from 'node:net';

export interface PostResult {
  status: number;
  /** The first 2 KiB of the answer, for logs. */
  body: string;
}

export interface PostOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  proxy?: string;
  signal: AbortSignal;
  /** Extra CA certificates for https targets (tests); the system's otherwise. */
  ca?: string | Buffer;
}

const MAX_ANSWER = 2048;

function proxyAuth(proxy: URL): OutgoingHttpHeaders {
  if (!proxy.username && !proxy.password) return {};
  const creds = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(creds).toString('base64')}` };
}

function readAnswer(res: IncomingMessage): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (body.length < MAX_ANSWER) body += chunk.slice(0, MAX_ANSWER - body.length);
    });
    res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    res.on('error', reject);
  });
}

function send(req: ClientRequest, body: string, signal: AbortSignal): Promise<PostResult> {
  const onAbort = () => req.destroy(new Error('request aborted'));
  signal.addEventListener('abort', onAbort, { once: true });
  return new Promise<PostResult>((resolve, reject) => {
    req.on('response', (res) => {
      readAnswer(res).then(resolve, reject);
    });
    req.on('error', reject);
    req.end(body);
  }).finally(() => signal.removeEventListener('abort', onAbort));
}

/** Opens a CONNECT tunnel to host:port through the proxy. */
function tunnel(proxy: URL, host: string, port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const req = httpRequest({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: proxy.port || 80,
      method: 'CONNECT',
      path: authority,
      headers: { host: authority, ...proxyAuth(proxy) },
    });
    const onAbort = () => req.destroy(new Error('request aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('connect', (res: IncomingMessage, socket: Socket) => {
      signal.removeEventListener('abort', onAbort);
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new Error(`proxy refused CONNECT ${authority}: HTTP ${res.statusCode}`));
        return;
      }
      resolve(socket);
    });
    req.on('error', reject);
    req.end();
  });
}

export async function post(opts: PostOptions): Promise<PostResult> {
  opts.signal.throwIfAborted();
  const target = new URL(opts.url);
  const headers: OutgoingHttpHeaders = { ...opts.headers, 'content-length': Buffer.byteLength(opts.body) };
  const https = target.protocol === 'https:';
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const port = Number(target.port) || (https ? 443 : 80);
  const path = `${target.pathname}${target.search}`;

  if (!opts.proxy) {
    const req = (https ? httpsRequest : httpRequest)({
      host,
      port,
      path,
      method: 'POST',
      headers,
      ...(https && opts.ca ? { ca: opts.ca } : {}),
    });
    return send(req, opts.body, opts.signal);
  }

  const proxy = new URL(opts.proxy);
  if (!https) {
    // Plain HTTP through a proxy: the request line carries the absolute URI.
    const req = httpRequest({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: proxy.port || 80,
      path: target.href,
      method: 'POST',
      headers: { host: target.host, ...headers, ...proxyAuth(proxy) },
    });
    return send(req, opts.body, opts.signal);
  }
  const socket = await tunnel(proxy, host, port, opts.signal);
  const req = httpsRequest({
    host,
    port,
    path,
    method: 'POST',
    headers,
    // No agent: with createConnection and no agent, the request uses our tunnelled TLS socket.
    createConnection: () => tlsConnect({ socket, servername: host, ...(opts.ca ? { ca: opts.ca } : {}) }),
  });
  return send(req, opts.body, opts.signal);
}

/**
 * A simulated EC2 instance metadata service: one per simulated instance, real HTTP on loopback.
 *
 * Faithful where an agent can tell the difference: IMDSv2 tokens (PUT with a TTL header of
 * 1..21600 s, expiring by the simulated clock, 401 in "required" mode or for a bad token, 403 for a
 * PUT carrying X-Forwarded-For), 404 for absent notices, [] for no scheduled events, text/plain
 * answers, and optionally AEMM's habit of recomputing notice times on every request.
 * Fault injection (down, status, garbage, huge or hung answers, delays) exercises the client's
 * error handling over the real wire.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../shared/clock.js';
import { SimTokenStore } from './tokens.js';
import {
  SimMetadata,
  lookup,
  type SimImdsInstance,
  type SimRebalanceRecommendation,
  type SimScheduledEvent,
  type SimSpotInterruption,
} from './metadata.js';

export type SimImdsMode = 'optional' | 'required';

export interface SimImdsOptions {
  instance: SimImdsInstance;
  clock: Clock;
  /** 'required' = IMDSv2 only: requests without a valid token get 401. Default 'optional'. */
  mode?: SimImdsMode;
  /** Default 0 (any free port; kept across stop()/start()). */
  port?: number;
  /** AEMM: recompute ITN time (now + 2 min) and rebalance noticeTime (now) on every request unless fixed. Default false (EC2: fixed when set). */
  aemmDynamicTimes?: boolean;
}

export interface SimImdsFault {
  /** Answer with this status (default 200 when body/bodyBytes is given). */
  status?: number;
  /** Answer with this body instead of the real one. */
  body?: string;
  /** Answer with a body of this many bytes, streamed. */
  bodyBytes?: number;
  /** Wait this long (clock time) before answering; alone, the real answer follows. */
  delayMs?: number;
  /** Never finish: 'headers' sends nothing, 'body' sends headers and part of a body. */
  hang?: 'headers' | 'body';
  /** Apply to this many requests, then clear; unlimited when absent. */
  times?: number;
}

const TOKEN_PATH = '/latest/api/token';
const TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
const LATEST = '/latest/';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** EC2 answers errors with a small XHTML page. */
function errorPage(status: number): string {
  const title = `${status} - ${STATUS_TEXT[status] ?? 'Error'}`;
  return (
    '<?xml version="1.0" encoding="iso-8859-1"?>\n' +
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n' +
    '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n' +
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n' +
    ` <head>\n  <title>${title}</title>\n </head>\n <body>\n  <h1>${title}</h1>\n </body>\n</html>\n`
  );
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

export class SimImds {
  private readonly metadata: SimMetadata;
  private readonly tokens: SimTokenStore;
  private readonly clock: Clock;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly faults = new Map<string, SimImdsFault>();
  private readonly counts = new Map<string, number>();
  private totalRequests = 0;
  private mode: SimImdsMode;
  private down = false;
  private stopping = new AbortController();
  private address: AddressInfo | null = null;
  /** A restarted simulator keeps its URL, like an instance's IMDS coming back. */
  private lastPort: number | undefined;

  constructor(private readonly opts: SimImdsOptions) {
    this.clock = opts.clock;
    this.mode = opts.mode ?? 'optional';
    this.metadata = new SimMetadata(opts.instance, opts.clock, opts.aemmDynamicTimes ?? false);
    this.tokens = new SimTokenStore(opts.clock);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        // A bug in the simulator must not take the test process down; answer 500 like a sick IMDS.
        if (!res.headersSent) this.sendError(res, 500);
        else res.destroy(err instanceof Error ? err : undefined);
      });
    });
    this.server.on('connection', (socket: Socket) => {
      if (this.down) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get instance(): SimImdsInstance {
    return this.opts.instance;
  }

  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  get url(): string {
    if (!this.address) throw new Error('SimImds not started');
    return `http://127.0.0.1:${this.address.port}`;
  }

  async start(): Promise<void> {
    if (this.address) return;
    this.stopping = new AbortController();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? this.lastPort ?? 0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.address = this.server.address() as AddressInfo;
    this.lastPort = this.address.port;
  }

  async stop(): Promise<void> {
    if (!this.address) return;
    this.stopping.abort(); // releases hung and delayed answers
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
    this.address = null;
  }

  // --- scenario controls -----------------------------------------------------------------------

  setSpotInterruption(n: SimSpotInterruption | null): void {
    this.metadata.setSpotInterruption(n);
  }

  setRebalanceRecommendation(n: SimRebalanceRecommendation | null): void {
    this.metadata.setRebalanceRecommendation(n);
  }

  setScheduledEvents(events: SimScheduledEvent[]): void {
    this.metadata.setScheduledEvents(events);
  }

  updateScheduledEvent(eventId: string, patch: Partial<Omit<SimScheduledEvent, 'eventId'>>): void {
    this.metadata.updateScheduledEvent(eventId, patch);
  }

  /** null = the path is absent (404), as on an instance that is not in an Auto Scaling group. */
  setTargetLifecycleState(state: string | null): void {
    this.metadata.setTargetLifecycleState(state);
  }

  setMode(mode: SimImdsMode): void {
    this.mode = mode;
  }

  /** Forget all issued tokens (IMDS restarted): clients holding one get 401 and must fetch anew. */
  revokeTokens(): void {
    this.tokens.revokeAll();
  }

  // --- fault injection -------------------------------------------------------------------------

  /** While down, every connection is destroyed without an answer (reset / refused, to the client). */
  setDown(down: boolean): void {
    this.down = down;
    if (down) {
      for (const s of this.sockets) s.destroy();
      this.sockets.clear();
    }
  }

  /** Fault for one exact path (e.g. '/latest/api/token') or '*' for every path; null clears it. */
  setFault(path: string, fault: SimImdsFault | null): void {
    if (fault === null) this.faults.delete(path);
    else this.faults.set(path, { ...fault });
  }

  /** Requests received (for one path, or all). Connections refused while down are not requests. */
  requestCount(path?: string): number {
    return path === undefined ? this.totalRequests : (this.counts.get(path) ?? 0);
  }

  // --- HTTP ------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.down) {
      req.socket.destroy();
      return;
    }
    const path = new URL(req.url ?? '/', 'http://imds').pathname;
    this.totalRequests++;
    this.counts.set(path, (this.counts.get(path) ?? 0) + 1);
    // The request is over when the client goes away or the simulator stops.
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const signal = AbortSignal.any([gone.signal, this.stopping.signal]);

    const fault = this.takeFault(path);
    if (fault && (await this.applyFault(fault, res, signal))) return;
    if (signal.aborted) return;

    if (path === TOKEN_PATH) this.handleToken(req, res);
    else this.handleMetadata(req, res, path);
  }

  private takeFault(path: string): SimImdsFault | null {
    const key = this.faults.has(path) ? path : this.faults.has('*') ? '*' : null;
    if (key === null) return null;
    const fault = this.faults.get(key)!;
    if (fault.times !== undefined) {
      fault.times--;
      if (fault.times <= 0) this.faults.delete(key);
    }
    return fault;
  }

  /** True when the fault produced the answer (or no answer at all); false to answer normally. */
  private async applyFault(fault: SimImdsFault, res: ServerResponse, signal: AbortSignal): Promise<boolean> {
    if (fault.delayMs !== undefined && fault.delayMs > 0) {
      try {
        await this.clock.sleep(fault.delayMs, signal);
      } catch {
        return true; // client gone or simulator stopping
      }
    }
    if (fault.hang === 'headers') {
      await untilAborted(signal);
      return true;
    }
    if (fault.hang === 'body') {
      res.writeHead(fault.status ?? 200, { 'Content-Type': 'text/plain', 'Content-Length': '1000' });
      res.write('{"action":"termin');
      await untilAborted(signal);
      return true;
    }
    if (fault.bodyBytes !== undefined) {
      await this.streamBytes(res, fault.status ?? 200, fault.bodyBytes, signal);
      return true;
    }
    if (fault.body !== undefined) {
      this.sendText(res, fault.status ?? 200, fault.body);
      return true;
    }
    if (fault.status !== undefined) {
      this.sendError(res, fault.status);
      return true;
    }
    return false;
  }

  /** A huge body, chunked (no Content-Length) so only a streaming cap can stop it, honouring backpressure. */
  private async streamBytes(res: ServerResponse, status: number, total: number, signal: AbortSignal): Promise<void> {
    res.writeHead(status, { 'Content-Type': 'text/plain' });
    const chunk = Buffer.alloc(16 * 1024, 'x');
    let left = total;
    while (left > 0 && !signal.aborted && !res.destroyed) {
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      if (!res.write(piece)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            signal.removeEventListener('abort', done);
            resolve();
          };
          res.on('drain', done);
          signal.addEventListener('abort', done, { once: true });
        });
      }
    }
    if (!res.destroyed) res.end();
  }

  private handleToken(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'PUT') return this.sendError(res, 405);
    // EC2 refuses token requests that went through a proxy.
    if (req.headers['x-forwarded-for'] !== undefined) return this.sendError(res, 403);
    const raw = req.headers[TTL_HEADER];
    const ttl = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!(ttl >= 1 && ttl <= 21600)) return this.sendError(res, 400);
    const token = this.tokens.issue(ttl);
    this.sendText(res, 200, token, { [TTL_HEADER]: String(ttl) });
  }

  private handleMetadata(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.sendError(res, 405);
    const extra: Record<string, string> = {};
    const token = req.headers[TOKEN_HEADER];
    if (typeof token === 'string') {
      // A token that is present but unknown or expired is refused in both modes.
      const left = this.tokens.remainingSeconds(token);
      if (left === null) return this.sendError(res, 401);
      extra[TTL_HEADER] = String(left);
    } else if (this.mode === 'required') {
      return this.sendError(res, 401);
    }
    const rel = path === '/latest' ? '' : path.startsWith(LATEST) ? path.slice(LATEST.length) : null;
    const answer = rel === null ? null : lookup(this.metadata.leaves(), rel);
    if (answer === null) return this.sendError(res, 404);
    this.sendText(res, 200, answer, extra, req.method === 'HEAD');
  }

  private sendText(res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}, headOnly = false): void {
    res.writeHead(status, {
      'Content-Type': 'text/plain',
      'Content-Length': String(Buffer.byteLength(body)),
      Server: 'EC2ws',
      ...extra,
    });
    res.end(headOnly ? undefined : body);
  }

  private sendError(res: ServerResponse, status: number): void {
    const body = errorPage(status);
    res.writeHead(status, {
      'Content-Type': 'text/html',
      'Content-Length': String(Buffer.byteLength(body)),
      Server: 'EC2ws',
    });
    res.end(body);
  }
}

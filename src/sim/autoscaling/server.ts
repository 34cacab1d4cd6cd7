/**
 * The HTTP side of the simulator: `POST /` with a form-encoded Query request, answered with XML.
 * Loopback only; any path is accepted (the SDK posts to `/`, the CLI too), other methods get 400.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { systemClock } from '../../shared/clock.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../observability/logger.js';
import { ACTIONS, type ActionContext } from './actions.js';
import { AsgApiError } from './errors.js';
import type { Faults } from './faults.js';
import { QueryParams, renderError, renderResponse } from './query-protocol.js';

/** Request bodies are tiny; anything bigger is a client bug or abuse. */
const MAX_BODY_BYTES = 1 << 20;

export class QueryServer {
  private server: Server | undefined;
  private port: number;
  private readonly counts: Record<string, number> = {};

  constructor(
    private readonly ctx: ActionContext,
    private readonly faults: Faults,
    port: number,
    private readonly logger?: Logger,
  ) {
    this.port = port;
  }

  get url(): string {
    if (!this.server) throw new Error('SimAutoScaling is not started');
    return `http://127.0.0.1:${this.port}`;
  }

  callCounts(): Record<string, number> {
    return { ...this.counts };
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.logger?.error({ err: errorMessage(err) }, 'sim autoscaling: request failed');
        if (!res.headersSent) this.sendError(res, new AsgApiError('InternalFailure', 'internal error'));
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Keep the port across stop()/start() so a client configured with the URL keeps working.
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // SDK clients hold keep-alive sockets; without this close() would wait for them to idle out.
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (req.method !== 'POST' && req.method !== 'GET') {
      this.sendError(res, new AsgApiError('InvalidAction', `Unsupported method ${req.method ?? ''}`));
      return;
    }
    // GET with a query string is also valid Query protocol; the SDK and CLI use POST.
    const query = req.method === 'GET' ? (req.url ?? '').split('?')[1] ?? '' : body;
    const params = new QueryParams(query);
    const action = params.get('Action');
    if (!action) {
      this.sendError(res, new AsgApiError('MissingAction', 'The request must contain the parameter Action.'));
      return;
    }
    this.counts[action] = (this.counts[action] ?? 0) + 1;

    // Latency is real milliseconds (it models the network, not simulated time), via the system clock.
    if (this.faults.latencyMs > 0) await systemClock.sleep(this.faults.latencyMs);

    const handler = ACTIONS[action];
    if (!handler) {
      this.sendError(res, new AsgApiError('InvalidAction', `Could not find operation ${action} for version 2011-01-01`));
      return;
    }
    const injected = this.faults.errorFor(action);
    if (injected) {
      this.sendError(res, injected);
      return;
    }
    let result: string | undefined;
    try {
      result = handler(this.ctx, params);
    } catch (err) {
      if (err instanceof AsgApiError) {
        this.sendError(res, err);
        return;
      }
      throw err;
    }
    this.send(res, 200, renderResponse(action, result, randomUUID()));
  }

  private sendError(res: ServerResponse, err: AsgApiError): void {
    this.send(res, err.httpStatus, renderError(err.type, err.code, err.message, randomUUID()));
  }

  private send(res: ServerResponse, status: number, xml: string): void {
    const requestId = /<RequestId>([^<]*)<\/RequestId>/.exec(xml)?.[1] ?? randomUUID();
    res.writeHead(status, {
      'Content-Type': 'text/xml',
      'Content-Length': Buffer.byteLength(xml),
      'x-amzn-RequestId': requestId,
    });
    res.end(xml);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

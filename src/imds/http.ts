/**
 * One HTTP exchange with IMDS: a per-attempt timeout that covers the headers AND the body, and a
 * body size cap enforced while streaming (a broken or hostile endpoint cannot make us buffer
 * megabytes). Failures come back as ImdsError kinds; a caller's abort comes back as AbortError.
 */
import { AbortError, type Clock } from '../shared/clock.js';
import { ImdsError } from './errors.js';

export interface HttpAnswer {
  status: number;
  body: string;
  headers: Headers;
}

export interface ExchangeRequest {
  method: 'GET' | 'PUT';
  baseUrl: string;
  path: string;
  headers: Record<string, string>;
  /** In the clock's time, like every other wait in the agent. */
  timeoutMs: number;
  maxBodyBytes: number;
  clock: Clock;
  signal?: AbortSignal;
}

/** Text of a fetch failure including the socket-level cause (ECONNRESET, ECONNREFUSED, ...). */
function describeTransportError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: string; message?: string } | undefined;
  const detail = cause?.code ?? cause?.message;
  return detail ? `${err.message} (${detail})` : err.message;
}

async function readCappedBody(res: Response, req: ExchangeRequest, abort: () => void): Promise<string> {
  const tooLarge = (got: string) =>
    new ImdsError('too_large', `${req.method} ${req.path}: body ${got} exceeds the ${req.maxBodyBytes}-byte limit`, {
      status: res.status,
    });
  const declared = res.headers.get('content-length');
  if (declared !== null && Number(declared) > req.maxBodyBytes) {
    abort(); // drops the connection rather than reading what we will not use
    throw tooLarge(`of ${declared} bytes`);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > req.maxBodyBytes) {
      abort();
      reader.cancel().catch(() => {});
      throw tooLarge(`of more than ${total} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function exchange(req: ExchangeRequest): Promise<HttpAnswer> {
  if (req.signal?.aborted) throw new AbortError();
  const controller = new AbortController();
  const stopTimer = new AbortController();
  let timedOut = false;
  req.clock.sleep(req.timeoutMs, stopTimer.signal).then(
    () => {
      timedOut = true;
      controller.abort();
    },
    () => {}, // timer cancelled: the exchange finished first
  );
  const onCallerAbort = () => controller.abort();
  req.signal?.addEventListener('abort', onCallerAbort, { once: true });
  try {
    const res = await fetch(req.baseUrl + req.path, {
      method: req.method,
      headers: req.headers,
      signal: controller.signal,
      redirect: 'manual',
    });
    const body = await readCappedBody(res, req, () => controller.abort());
    return { status: res.status, body, headers: res.headers };
  } catch (err) {
    if (err instanceof ImdsError) throw err;
    if (req.signal?.aborted) throw new AbortError();
    if (timedOut) {
      throw new ImdsError('timeout', `${req.method} ${req.path}: no complete answer within ${req.timeoutMs} ms`);
    }
    throw new ImdsError('transport', `${req.method} ${req.path}: ${describeTransportError(err)}`, { cause: err });
  } finally {
    stopTimer.abort();
    req.signal?.removeEventListener('abort', onCallerAbort);
  }
}

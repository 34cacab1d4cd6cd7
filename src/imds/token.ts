/**
 * IMDSv2 session token handling, with the fallbacks real instances need:
 *
 * - The token is fetched once and shared by concurrent requests, and refreshed at 90% of its TTL
 *   (by the injected clock) so a poll never goes out with a token about to expire.
 * - If the token PUT fails (hop limit 1 in a pod without host networking drops the answer, an old
 *   emulator answers 403/404/405, a proxy refuses PUT) we use IMDSv1 and try v2 again after a
 *   while, rather than giving up on v2 for good.
 * - If an IMDSv1 request is answered 401 the instance requires v2: from then on we never fall back,
 *   and a failed token PUT fails the request (so the caller's retries apply to it).
 */
import { AbortError, isAbortError, type Clock } from '../shared/clock.js';
import type { Logger } from '../observability/logger.js';
import { ImdsError } from './errors.js';
import type { HttpAnswer } from './http.js';
import { IMDS_PATHS, MAX_TOKEN_TTL_SECONDS, TOKEN_TTL_HEADER } from './paths.js';

export interface TokenManagerOptions {
  ttlSeconds: number;
  /** How long to use IMDSv1 after a failed token PUT before trying v2 again. */
  retryV2AfterMs: number;
  /** Sends the PUT (one attempt, with the client's timeout and body cap). */
  put: (path: string, headers: Record<string, string>) => Promise<HttpAnswer>;
  clock: Clock;
  logger: Logger;
}

interface HeldToken {
  value: string;
  refreshAt: number;
  expiresAt: number;
}

/** Printable ASCII only: anything else could not be sent back as a header anyway. */
const TOKEN_TEXT = /^[\x21-\x7e]+$/;

export class ImdsTokenManager {
  private token: HeldToken | null = null;
  private inflight: Promise<HeldToken> | null = null;
  private v1Until = 0;
  private v2Required = false;

  constructor(private readonly opts: TokenManagerOptions) {
    if (!Number.isInteger(opts.ttlSeconds) || opts.ttlSeconds < 1 || opts.ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
      throw new Error(`IMDS token TTL must be an integer 1..${MAX_TOKEN_TTL_SECONDS} seconds, got ${opts.ttlSeconds}`);
    }
  }

  /** The token to send, or null to send the request as IMDSv1. Throws only when v2 is required. */
  async current(signal?: AbortSignal): Promise<string | null> {
    const now = this.opts.clock.now();
    if (this.token && now < this.token.refreshAt) return this.token.value;
    if (!this.v2Required && now < this.v1Until) return null;
    try {
      const fresh = await raceAbort(this.fetchShared(), signal);
      return fresh.value;
    } catch (err) {
      if (isAbortError(err)) throw err;
      // A refresh that failed while the old token is still valid: keep using it.
      if (this.token && this.opts.clock.now() < this.token.expiresAt) return this.token.value;
      if (this.v2Required) throw err;
      this.v1Until = this.opts.clock.now() + this.opts.retryV2AfterMs;
      this.opts.logger.warn(
        { err: err instanceof Error ? err.message : String(err), retryV2InMs: this.opts.retryV2AfterMs },
        'IMDSv2 token unavailable; using IMDSv1 for now',
      );
      return null;
    }
  }

  /** A request sent with `token` got 401: the token is no good (expired early, IMDS restarted). */
  invalidate(token: string): void {
    if (this.token?.value === token) this.token = null;
  }

  /** A request sent without a token got 401: this instance requires IMDSv2. */
  markV2Required(): void {
    if (!this.v2Required) this.opts.logger.info('IMDS answered 401 to an IMDSv1 request; IMDSv2 is required');
    this.v2Required = true;
    this.v1Until = 0;
  }

  /** Usable (not necessarily fresh) token held, for tests and diagnostics. */
  get mode(): 'v2' | 'v1' {
    return this.token && this.opts.clock.now() < this.token.expiresAt ? 'v2' : 'v1';
  }

  private fetchShared(): Promise<HeldToken> {
    if (!this.inflight) {
      this.inflight = this.fetchToken().finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  private async fetchToken(): Promise<HeldToken> {
    const sentAt = this.opts.clock.now();
    const answer = await this.opts.put(IMDS_PATHS.token, { [TOKEN_TTL_HEADER]: String(this.opts.ttlSeconds) });
    if (answer.status !== 200) {
      throw new ImdsError('status', `PUT ${IMDS_PATHS.token}: HTTP ${answer.status}`, { status: answer.status });
    }
    const value = answer.body;
    if (!TOKEN_TEXT.test(value)) {
      throw new ImdsError('malformed', `PUT ${IMDS_PATHS.token}: token is not printable ASCII text`);
    }
    // Trust a shorter TTL if IMDS grants one; never a longer one than we asked for.
    const granted = Number(answer.headers.get(TOKEN_TTL_HEADER));
    const ttlSeconds = Number.isInteger(granted) && granted > 0 ? Math.min(granted, this.opts.ttlSeconds) : this.opts.ttlSeconds;
    const ttlMs = ttlSeconds * 1000;
    // Measured from when the PUT was sent, so the request's own latency cannot make us overrun.
    const held: HeldToken = { value, refreshAt: sentAt + ttlMs * 0.9, expiresAt: sentAt + ttlMs };
    this.token = held;
    this.v1Until = 0;
    this.opts.logger.debug({ ttlSeconds }, 'IMDSv2 token obtained');
    return held;
  }
}

/** Resolves/rejects like `p`, or rejects with the AbortError when `signal` aborts first. */
function raceAbort<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortError());
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

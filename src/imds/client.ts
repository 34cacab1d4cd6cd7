/**
 * The agent's IMDS client: IMDSv2 with v1 fallback (see token.ts), `tries` attempts per request
 * with exponential backoff and jitter on the failures that may pass (transport, timeout, 5xx, 429),
 * per-attempt timeouts and a body cap (see http.ts), and typed helpers for the notices it polls.
 *
 * Every failed request is logged at warn and reported once through `onError` with its kind, so the
 * caller's metrics count failed requests, not attempts (failed attempts are logged at debug).
 */
import { isAbortError, type Clock } from '../shared/clock.js';
import { backoffDelay, type BackoffPolicy } from '../shared/backoff.js';
import type { Logger } from '../observability/logger.js';
import { ImdsError, ImdsParseError, isRetriableImdsError, type ImdsErrorKind } from './errors.js';
import { exchange, type HttpAnswer } from './http.js';
import { ImdsTokenManager } from './token.js';
import { IMDS_PATHS, TOKEN_HEADER } from './paths.js';
import {
  parseIdentityDocument,
  parseRebalanceRecommendation,
  parseScheduledEvents,
  parseSpotInstanceAction,
  parseTargetLifecycleState,
  type InstanceMetadata,
  type RebalanceRecommendation,
  type ScheduledEvent,
  type SpotInstanceAction,
} from './notices.js';

export interface ImdsClientOptions {
  /** e.g. http://169.254.169.254 (a trailing slash is fine). */
  baseUrl: string;
  /** METADATA_TRIES: attempts per request (>= 1). */
  tries: number;
  /** Per attempt, in the clock's time; covers the headers and the whole body. */
  requestTimeoutMs: number;
  /** IMDSv2 token TTL; default 21600 (6 h). Refreshed at 90% of it. */
  tokenTtlSeconds?: number;
  /** Default 64 KiB; larger answers fail as 'too_large' without being buffered. */
  maxBodyBytes?: number;
  /** After a failed token PUT, use IMDSv1 this long before trying v2 again; default 60 s. */
  retryV2AfterMs?: number;
  /** Backoff between attempts; default 250 ms doubling to 2 s, half jittered. */
  backoff?: BackoffPolicy;
  clock: Clock;
  logger: Logger;
  onError?: (kind: ImdsErrorKind) => void;
  random?: () => number;
}

export const DEFAULT_TOKEN_TTL_SECONDS = 21600;
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 2000, jitter: 0.5 };

export class ImdsClient {
  private readonly baseUrl: string;
  private readonly tries: number;
  private readonly maxBodyBytes: number;
  private readonly backoff: BackoffPolicy;
  private readonly logger: Logger;
  private readonly tokens: ImdsTokenManager;

  constructor(private readonly opts: ImdsClientOptions) {
    if (!Number.isInteger(opts.tries) || opts.tries < 1) throw new Error(`IMDS tries must be an integer >= 1, got ${opts.tries}`);
    if (!(opts.requestTimeoutMs > 0)) throw new Error(`IMDS request timeout must be > 0, got ${opts.requestTimeoutMs}`);
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.tries = opts.tries;
    this.maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.logger = opts.logger.child({ component: 'imds' });
    this.tokens = new ImdsTokenManager({
      ttlSeconds: opts.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS,
      retryV2AfterMs: opts.retryV2AfterMs ?? 60_000,
      put: (path, headers) => this.send('PUT', path, headers),
      clock: opts.clock,
      logger: this.logger,
    });
  }

  /** 'v2' while a token is held, else 'v1'. For diagnostics and tests. */
  get protocol(): 'v1' | 'v2' {
    return this.tokens.mode;
  }

  /** GET a metadata path, e.g. '/latest/meta-data/spot/instance-action'. 404 -> null. Throws ImdsError after `tries`. */
  async getText(path: string, signal?: AbortSignal): Promise<string | null> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(path, signal);
      } catch (caught) {
        if (isAbortError(caught)) throw caught;
        const err =
          caught instanceof ImdsError
            ? caught
            : new ImdsError('transport', `GET ${path}: ${caught instanceof Error ? caught.message : String(caught)}`, {
                cause: caught,
              });
        const attempts = attempt + 1;
        if (!isRetriableImdsError(err) || attempts >= this.tries) {
          this.logger.warn({ path, kind: err.kind, status: err.status, attempts, err: err.message }, 'IMDS request failed');
          this.opts.onError?.(err.kind);
          throw err;
        }
        const delayMs = backoffDelay(attempt, this.backoff, this.opts.random);
        this.logger.debug({ path, kind: err.kind, status: err.status, attempt: attempts, delayMs, err: err.message }, 'IMDS attempt failed; retrying');
        await this.opts.clock.sleep(delayMs, signal);
      }
    }
  }

  async getSpotInstanceAction(signal?: AbortSignal): Promise<SpotInstanceAction | null> {
    return this.getParsed(IMDS_PATHS.spotInstanceAction, parseSpotInstanceAction, signal);
  }

  async getRebalanceRecommendation(signal?: AbortSignal): Promise<RebalanceRecommendation | null> {
    return this.getParsed(IMDS_PATHS.rebalanceRecommendation, parseRebalanceRecommendation, signal);
  }

  /** EC2 answers [] when there are no events; a 404 (some emulators) also means none. */
  async getScheduledEvents(signal?: AbortSignal): Promise<ScheduledEvent[]> {
    return (await this.getParsed(IMDS_PATHS.scheduledEvents, parseScheduledEvents, signal)) ?? [];
  }

  /** null when the path is absent (the instance is not in an Auto Scaling group, or lifecycle state is not exposed). */
  async getTargetLifecycleState(signal?: AbortSignal): Promise<string | null> {
    return this.getParsed(IMDS_PATHS.targetLifecycleState, parseTargetLifecycleState, signal);
  }

  /** Identity document plus the optional single-value paths (404 -> undefined). */
  async getInstanceMetadata(signal?: AbortSignal): Promise<InstanceMetadata> {
    const [doc, lifeCycle, localHostname, publicHostname, publicIp] = await Promise.all([
      this.getParsed(IMDS_PATHS.identityDocument, parseIdentityDocument, signal),
      this.getText(IMDS_PATHS.instanceLifeCycle, signal),
      this.getText(IMDS_PATHS.localHostname, signal),
      this.getText(IMDS_PATHS.publicHostname, signal),
      this.getText(IMDS_PATHS.publicIpv4, signal),
    ]);
    if (!doc) {
      const err = new ImdsError('status', `GET ${IMDS_PATHS.identityDocument}: HTTP 404`, { status: 404 });
      this.logger.warn({ path: IMDS_PATHS.identityDocument }, 'IMDS has no instance identity document');
      this.opts.onError?.(err.kind);
      throw err;
    }
    const meta: InstanceMetadata = {
      instanceId: doc.instanceId,
      instanceType: doc.instanceType,
      availabilityZone: doc.availabilityZone,
      region: doc.region,
      accountId: doc.accountId,
      privateIp: doc.privateIp,
    };
    const text = (v: string | null) => (v === null || v.trim() === '' ? undefined : v.trim());
    const lc = text(lifeCycle);
    if (lc !== undefined) meta.lifeCycle = lc;
    const lh = text(localHostname);
    if (lh !== undefined) meta.localHostname = lh;
    const ph = text(publicHostname);
    if (ph !== undefined) meta.publicHostname = ph;
    const pip = text(publicIp);
    if (pip !== undefined) meta.publicIp = pip;
    return meta;
  }

  /** getText + a pure parser; a parse failure is logged, reported as 'malformed' and rethrown. */
  private async getParsed<T>(path: string, parse: (body: string) => T, signal?: AbortSignal): Promise<T | null> {
    const body = await this.getText(path, signal);
    if (body === null) return null;
    try {
      return parse(body);
    } catch (err) {
      if (!(err instanceof ImdsParseError)) throw err;
      this.logger.warn({ path, field: err.field, err: err.message }, 'IMDS answer is malformed');
      this.opts.onError?.('malformed');
      throw new ImdsError('malformed', `GET ${path}: ${err.message}`, { cause: err });
    }
  }

  /** One attempt: token (or v1), GET, and on 401 one immediate retry with a fresh token. */
  private async attempt(path: string, signal?: AbortSignal): Promise<string | null> {
    const token = await this.tokens.current(signal);
    let answer = await this.get(path, token, signal);
    if (answer.status === 401) {
      if (token !== null) this.tokens.invalidate(token);
      else this.tokens.markV2Required();
      const fresh = await this.tokens.current(signal);
      answer = await this.get(path, fresh, signal);
      if (answer.status === 401) {
        if (fresh === null) this.tokens.markV2Required();
        throw new ImdsError('unauthorized', `GET ${path}: HTTP 401 even with a fresh IMDSv2 token`, { status: 401 });
      }
    }
    if (answer.status >= 200 && answer.status < 300) return answer.body;
    if (answer.status === 404) return null;
    throw new ImdsError('status', `GET ${path}: HTTP ${answer.status}`, { status: answer.status });
  }

  private get(path: string, token: string | null, signal?: AbortSignal): Promise<HttpAnswer> {
    return this.send('GET', path, token === null ? {} : { [TOKEN_HEADER]: token }, signal);
  }

  private send(method: 'GET' | 'PUT', path: string, headers: Record<string, string>, signal?: AbortSignal): Promise<HttpAnswer> {
    return exchange({
      method,
      baseUrl: this.baseUrl,
      path,
      headers,
      timeoutMs: this.opts.requestTimeoutMs,
      maxBodyBytes: this.maxBodyBytes,
      clock: this.opts.clock,
      ...(signal ? { signal } : {}),
    });
  }
}

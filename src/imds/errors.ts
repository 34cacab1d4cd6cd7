/**
 * Why an IMDS request failed. The caller's metrics count these by kind, so each kind names a
 * different thing an operator would do something about.
 */
export type ImdsErrorKind =
  | 'transport' // connection refused/reset, DNS, socket errors
  | 'timeout' // no complete answer within the per-attempt timeout (headers or body)
  | 'status' // an HTTP status we do not accept (5xx/429 after retries, other 4xx at once)
  | 'too_large' // the body exceeded maxBodyBytes
  | 'malformed' // the body did not have the shape the path documents
  | 'unauthorized'; // 401 even with a fresh IMDSv2 token

export const IMDS_ERROR_KINDS: readonly ImdsErrorKind[] = [
  'transport',
  'timeout',
  'status',
  'too_large',
  'malformed',
  'unauthorized',
];

export class ImdsError extends Error {
  readonly kind: ImdsErrorKind;
  readonly status?: number;
  constructor(kind: ImdsErrorKind, message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ImdsError';
    this.kind = kind;
    if (opts.status !== undefined) this.status = opts.status;
  }
}

/** A body that does not parse. `field` names the JSON field (or 'body') that was wrong. */
export class ImdsParseError extends ImdsError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('malformed', message);
    this.name = 'ImdsParseError';
    this.field = field;
  }
}

/** Errors worth another attempt: the next one may well succeed. */
export function isRetriableImdsError(err: ImdsError): boolean {
  if (err.kind === 'transport' || err.kind === 'timeout') return true;
  if (err.kind === 'status' && err.status !== undefined) return err.status >= 500 || err.status === 429;
  return false;
}

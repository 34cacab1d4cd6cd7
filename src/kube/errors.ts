import type { Clock } from '../shared/clock.js';
import { ApiException } from '@kubernetes/client-node';

/** HTTP status of a failed Kubernetes call, or 0 for transport errors and timeouts. */
export function kubeStatus(err: unknown): number {
  if (err instanceof ApiException) return err.code;
  if (err instanceof KubeTimeoutError) return 0;
  return 0;
}

export function kubeErrorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as unknown;
    let message = '';
    if (typeof body === 'string') {
      try {
        message = (JSON.parse(body) as { message?: string }).message ?? body;
      } catch {
        message = body;
      }
    } else if (body && typeof body === 'object' && 'message' in body) {
      message = String((body as { message: unknown }).message);
    }
    return `HTTP ${err.code}${message ? `: ${message}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

export class KubeTimeoutError extends Error {
  constructor(operation: string, ms: number) {
    super(`Kubernetes API call ${operation} timed out after ${ms} ms`);
    this.name = 'KubeTimeoutError';
  }
}

export const isNotFound = (err: unknown): boolean => kubeStatus(err) === 404;
export const isConflict = (err: unknown): boolean => kubeStatus(err) === 409;

/**
 * Runs one API call bounded by `ms` of clock time: a hung API server fails the call with a
 * KubeTimeoutError instead of hanging whatever waits on it.
 */
export async function boundedCall<T>(clock: Clock, ms: number, operation: string, fn: () => Promise<T>): Promise<T> {
  const timer = new AbortController();
  try {
    return await Promise.race([
      fn(),
      clock.sleep(ms, timer.signal).then(() => {
        throw new KubeTimeoutError(operation, ms);
      }),
    ]);
  } finally {
    timer.abort();
  }
}

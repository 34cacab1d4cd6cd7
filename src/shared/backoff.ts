export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** 0..1: fraction of the delay that is randomised ("equal jitter" when 0.5). */
  jitter: number;
}

/** Exponential backoff delay for the given 0-based attempt. `random` is injectable for tests. */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt));
  const jittered = exp * (1 - policy.jitter) + exp * policy.jitter * random();
  return Math.round(jittered);
}

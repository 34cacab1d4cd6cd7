import type { Clock } from '../shared/clock.js';

export interface HealthInputs {
  clock: Clock;
  /** When the monitor loop last completed a pass (epoch ms, clock time); 0 = never. */
  monitorLastPassAt: () => number;
  /** When the agent started (epoch ms); startup gets the same allowance before the first pass. */
  startedAt: number;
  /** A pass older than this means the loop is stuck. */
  staleAfterMs: number;
}

export interface HealthReport {
  healthy: boolean;
  reasons: string[];
  monitorLastPassAgeMs: number | null;
}

/** Pure: real liveness, not "the process answers HTTP": the monitor loop must have run recently. */
export function evaluateHealth(h: HealthInputs): HealthReport {
  const now = h.clock.now();
  const last = h.monitorLastPassAt();
  const reasons: string[] = [];
  const reference = last || h.startedAt;
  const age = now - reference;
  if (age > h.staleAfterMs) {
    reasons.push(
      last
        ? `monitor loop last ran ${Math.round(age / 1000)} s ago (limit ${Math.round(h.staleAfterMs / 1000)} s)`
        : `monitor loop has not run since start ${Math.round(age / 1000)} s ago`,
    );
  }
  return { healthy: reasons.length === 0, reasons, monitorLastPassAgeMs: last ? now - last : null };
}

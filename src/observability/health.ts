import type { Clock } from '../shared/clock.js';

export interface HealthInputs {
  clock: Clock;
  /** When the monitor loop last completed a pass (epoch ms, clock time); 0 = never. */
  monitorLastPassAt: () => number;
  /** When the agent started (epoch ms); startup gets the same allowance before the first pass. */
  startedAt: number;
  /** A pass older than this means the loop is stuck. */
  staleAfterMs: number;
  /**
   * The Kubernetes API: when a call last succeeded (epoch ms; 0 = never) and how long it may go
   * without one. Omitted = not checked.
   */
  kubernetes?: { lastSuccessAt: () => number; unreachableAfterMs: number };
}

export interface HealthReport {
  healthy: boolean;
  reasons: string[];
  monitorLastPassAgeMs: number | null;
  /** Age of the last successful Kubernetes API call; null = none yet (or not checked). */
  kubernetesLastSuccessAgeMs: number | null;
}

/**
 * Pure: real liveness, not "the process answers HTTP": the monitor loop must have run recently, and
 * the Kubernetes API must have answered within its bound (a restart re-reads credentials and
 * reconnects; an agent that cannot reach the API cannot cordon or drain).
 */
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
  let kubeAge: number | null = null;
  if (h.kubernetes) {
    const ok = h.kubernetes.lastSuccessAt();
    kubeAge = ok ? now - ok : null;
    const since = now - (ok || h.startedAt);
    if (since > h.kubernetes.unreachableAfterMs) {
      const limit = `limit ${Math.round(h.kubernetes.unreachableAfterMs / 1000)} s`;
      reasons.push(
        ok
          ? `Kubernetes API unreachable: last successful call ${Math.round(since / 1000)} s ago (${limit})`
          : `Kubernetes API unreachable: no successful call since start ${Math.round(since / 1000)} s ago (${limit})`,
      );
    }
  }
  return { healthy: reasons.length === 0, reasons, monitorLastPassAgeMs: last ? now - last : null, kubernetesLastSuccessAgeMs: kubeAge };
}

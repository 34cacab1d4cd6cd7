/**
 * Fault injection for the simulated endpoint: throttling (a fraction of all calls, since Auto Scaling
 * has one throttle bucket per account and region), added latency, and scripted errors per action.
 */
import { AsgApiError, throttlingError } from './errors.js';

interface InjectedError {
  code: string;
  message: string;
  remaining: number;
}

export class Faults {
  private throttleFraction = 0;
  private random: () => number = Math.random;
  latencyMs = 0;
  private readonly injected = new Map<string, InjectedError[]>();

  setThrottle(fraction: number, random?: () => number): void {
    if (!(fraction >= 0 && fraction <= 1)) throw new Error(`throttle fraction must be in [0, 1], got ${fraction}`);
    this.throttleFraction = fraction;
    this.random = random ?? Math.random;
  }

  setLatencyMs(ms: number): void {
    if (!(ms >= 0)) throw new Error(`latency must be >= 0, got ${ms}`);
    this.latencyMs = ms;
  }

  /** The next `times` calls of `action` fail with `code` (queued after any earlier injection for it). */
  inject(action: string, code: string, message: string, times: number): void {
    const queue = this.injected.get(action) ?? [];
    queue.push({ code, message, remaining: times });
    this.injected.set(action, queue);
  }

  /** The error this call must fail with, if any; consumes one injected error. Throttling is checked first. */
  errorFor(action: string): AsgApiError | undefined {
    if (this.throttleFraction > 0 && this.random() < this.throttleFraction) return throttlingError();
    const queue = this.injected.get(action);
    const head = queue?.[0];
    if (!queue || !head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) queue.shift();
    return new AsgApiError(head.code, head.message);
  }
}

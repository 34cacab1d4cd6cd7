import { setMaxListeners } from 'node:events';
/**
 * Scheduling helpers for the simulated controllers: clock-driven delays that all die with stop(),
 * and a coalescing trigger so a burst of store changes causes one reconcile pass, not hundreds.
 */
import type { Clock } from '../../shared/clock.js';
import { isAbortError } from '../../shared/clock.js';

export class SimTimers {
  private readonly abort = (() => {
    // Hundreds of pod timers legitimately share this one stop signal.
    const c = new AbortController();
    setMaxListeners(0, c.signal);
    return c;
  })();
  constructor(
    private readonly clock: Clock,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Runs `fn` after `ms` of clock time unless stopped first. */
  after(ms: number, fn: () => void): void {
    if (this.abort.signal.aborted) return;
    this.clock.sleep(Math.max(0, ms), this.abort.signal).then(
      () => {
        if (this.abort.signal.aborted) return;
        try {
          fn();
        } catch (err) {
          this.onError(err);
        }
      },
      (err: unknown) => {
        if (!isAbortError(err)) this.onError(err);
      },
    );
  }

  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  stop(): void {
    this.abort.abort();
  }
}

/**
 * Runs `pass` once after any number of kick() calls in the same turn of the event loop.
 * setImmediate (not a microtask) so HTTP I/O interleaves with controller passes even when a
 * pass triggers further changes.
 */
export class Coalescer {
  private pending: NodeJS.Immediate | undefined;
  private stopped = false;
  constructor(
    private readonly pass: () => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  kick(): void {
    if (this.pending || this.stopped) return;
    this.pending = setImmediate(() => {
      this.pending = undefined;
      if (this.stopped) return;
      try {
        this.pass();
      } catch (err) {
        this.onError(err);
      }
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.pending) clearImmediate(this.pending);
    this.pending = undefined;
  }
}

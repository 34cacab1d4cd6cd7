/**
 * One clock for every sleep, poll and deadline. Production uses the wall clock; the simulated world
 * uses a ScaledClock shared by the world and the agents, so a 120 s drain deadline can pass in a
 * second of real time without any code knowing it is being simulated.
 */
export interface Clock {
  /** Milliseconds since the epoch, in this clock's time. */
  now(): number;
  /** Resolves after `ms` of this clock's time; rejects with an AbortError when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export class AbortError extends Error {
  constructor(message = 'aborted') {
    super(message);
    this.name = 'AbortError';
  }
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortError());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: realSleep,
};

/**
 * Time that runs `scale` times faster than the wall clock, starting at `startMs`.
 * Real I/O still takes real time, so at high scales an HTTP round trip "costs" simulated seconds;
 * scenarios pick a scale at which that cost is small against the timings they exercise.
 */
export class ScaledClock implements Clock {
  private readonly realStart = Date.now();
  constructor(
    readonly scale: number,
    private readonly startMs: number = Date.now(),
  ) {
    if (!(scale > 0)) throw new Error(`clock scale must be > 0, got ${scale}`);
  }
  now(): number {
    return this.startMs + (Date.now() - this.realStart) * this.scale;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return realSleep(ms / this.scale, signal);
  }
}

/** A point in clock time after which a wait must give up. */
export class Deadline {
  private constructor(
    private readonly clock: Clock,
    readonly at: number,
  ) {}
  static after(clock: Clock, ms: number): Deadline {
    return new Deadline(clock, clock.now() + ms);
  }
  static at(clock: Clock, at: number): Deadline {
    return new Deadline(clock, at);
  }
  remainingMs(): number {
    return Math.max(0, this.at - this.clock.now());
  }
  expired(): boolean {
    return this.clock.now() >= this.at;
  }
  /** Sleeps `ms` or until the deadline, whichever comes first. */
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await this.clock.sleep(Math.min(ms, this.remainingMs()), signal);
  }
}

/**
 * Background delivery for notification sinks: `push` never blocks or throws; one worker delivers
 * in order, each attempt bounded by a timeout and retried with backoff a bounded number of times —
 * all on the injected clock. A hung or failing receiver costs the agent nothing but a queue slot.
 */
import { backoffDelay, type BackoffPolicy } from '../shared/backoff.js';
import { isAbortError, type Clock } from '../shared/clock.js';

/** A failure that retrying will not fix (e.g. HTTP 400, 403). */
export class PermanentDeliveryError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PermanentDeliveryError';
  }
}

export class DeliveryTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${Math.round(ms / 100) / 10} s`);
    this.name = 'DeliveryTimeoutError';
  }
}

export type DeliveryResult = 'delivered' | 'failed' | 'dropped';

export interface DeliveryQueueOptions<T> {
  clock: Clock;
  /** Attempts per item (first try included). */
  maxAttempts: number;
  attemptTimeoutMs: number;
  backoff: BackoffPolicy;
  /** Items waiting beyond this are dropped (newest refused), so a dead receiver cannot grow memory. */
  maxQueued: number;
  deliver(item: T, signal: AbortSignal): Promise<void>;
  /** Called once per item with its final result (and the last error, if any). */
  onResult(item: T, result: DeliveryResult, err?: unknown): void;
  /** Called after each failed attempt that will be retried. */
  onRetry?(item: T, attempt: number, err: unknown, retryInMs: number): void;
}

export class DeliveryQueue<T> {
  private readonly queue: T[] = [];
  private running: Promise<void> | null = null;
  private readonly closed = new AbortController();

  constructor(private readonly opts: DeliveryQueueOptions<T>) {}

  /** Number of items waiting or in flight. */
  get pending(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  push(item: T): void {
    if (this.closed.signal.aborted || this.queue.length >= this.opts.maxQueued) {
      this.opts.onResult(item, 'dropped');
      return;
    }
    this.queue.push(item);
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
  }

  /** Resolves true when everything queued was handled, false if `boundMs` (clock time) passed first. */
  async flush(boundMs: number): Promise<boolean> {
    if (!this.running) return true;
    const timer = new AbortController();
    const done = await Promise.race([
      this.running.then(() => true),
      this.opts.clock.sleep(boundMs, timer.signal).then(
        () => false,
        () => false,
      ),
    ]);
    timer.abort();
    return done;
  }

  /** Stops at once: the attempt in flight is aborted, what is queued is dropped. */
  close(): void {
    this.closed.abort();
    for (const item of this.queue.splice(0)) this.opts.onResult(item, 'dropped');
  }

  private async drain(): Promise<void> {
    for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) {
      await this.deliverOne(item);
    }
  }

  private async deliverOne(item: T): Promise<void> {
    const { clock, maxAttempts } = this.opts;
    let lastErr: unknown;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (this.closed.signal.aborted) break;
      try {
        await this.attempt(item);
        this.opts.onResult(item, 'delivered');
        return;
      } catch (err) {
        lastErr = err;
        if (err instanceof PermanentDeliveryError || this.closed.signal.aborted || attempt === maxAttempts) break;
        const wait = backoffDelay(attempt - 1, this.opts.backoff);
        this.opts.onRetry?.(item, attempt, err, wait);
        try {
          await clock.sleep(wait, this.closed.signal);
        } catch {
          break;
        }
      }
    }
    this.opts.onResult(item, this.closed.signal.aborted ? 'dropped' : 'failed', lastErr);
  }

  private async attempt(item: T): Promise<void> {
    const ac = new AbortController();
    const onClose = () => ac.abort();
    this.closed.signal.addEventListener('abort', onClose, { once: true });
    const timer = new AbortController();
    try {
      await Promise.race([
        this.opts.deliver(item, ac.signal),
        this.opts.clock.sleep(this.opts.attemptTimeoutMs, timer.signal).then(
          () => {
            ac.abort();
            throw new DeliveryTimeoutError(this.opts.attemptTimeoutMs);
          },
          (err: unknown) => {
            // the timer was cancelled because the attempt finished: never settles the race
            if (isAbortError(err)) return new Promise<never>(() => undefined);
            throw err;
          },
        ),
      ]);
    } finally {
      timer.abort();
      this.closed.signal.removeEventListener('abort', onClose);
    }
  }
}

import { isAbortError, type Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { InterruptionNotice } from '../workflow/notice.js';
import type { Monitor } from './monitors.js';

export interface MonitorLoopDeps {
  monitors: Monitor[];
  clock: Clock;
  intervalMs: number;
  logger: Logger;
  metrics: Metrics;
  onNotices: (notices: InterruptionNotice[]) => void;
  /** Called after every pass with the notices seen, for timelines and benchmarks. */
  onPass?: (notices: InterruptionNotice[]) => void;
}

/**
 * Polls every monitor each interval. A failing monitor is logged and counted and does not stop the
 * others or the loop; `lastPassAt` is what the liveness probe reads.
 */
export class MonitorLoop {
  lastPassAt = 0;
  passes = 0;
  private readonly failing = new Set<string>();

  constructor(private readonly deps: MonitorLoopDeps) {}

  async pollOnce(signal?: AbortSignal): Promise<InterruptionNotice[]> {
    const results = await Promise.all(
      this.deps.monitors.map(async (m) => {
        try {
          const notices = await m.poll(signal);
          if (this.failing.delete(m.name)) this.deps.logger.info({ monitor: m.name }, 'monitor recovered');
          return notices;
        } catch (err) {
          if (isAbortError(err)) throw err;
          this.deps.metrics.eventErrors.inc({ event_error_where: 'monitor' });
          const level = this.failing.has(m.name) ? 'debug' : 'warn';
          this.failing.add(m.name);
          this.deps.logger[level]({ monitor: m.name, err: errorMessage(err) }, 'monitor poll failed; retrying next interval');
          return [];
        }
      }),
    );
    const notices = results.flat();
    this.lastPassAt = this.deps.clock.now();
    this.passes++;
    this.deps.metrics.monitorLastRun.set(this.lastPassAt / 1000);
    this.deps.onNotices(notices);
    this.deps.onPass?.(notices);
    return notices;
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.pollOnce(signal);
        await this.deps.clock.sleep(this.deps.intervalMs, signal);
      } catch (err) {
        if (isAbortError(err) || signal.aborted) return;
        throw err;
      }
    }
  }
}

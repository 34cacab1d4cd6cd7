import { ScaledClock, systemClock, type Clock } from '../../src/shared/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ImdsClient, type ImdsClientOptions } from '../../src/imds/client.js';
import type { ImdsErrorKind } from '../../src/imds/errors.js';
import { SimImds, type SimImdsOptions } from '../../src/sim/imds/server.js';
import type { SimImdsInstance } from '../../src/sim/imds/metadata.js';

export const INSTANCE: SimImdsInstance = {
  instanceId: 'i-0123456789abcdef0',
  instanceType: 'm5.large',
  availabilityZone: 'us-east-1a',
  region: 'us-east-1',
  accountId: '123456789012',
  privateIp: '10.0.1.23',
  localHostname: 'ip-10-0-1-23.ec2.internal',
  lifeCycle: 'spot',
  amiId: 'ami-0abcdef1234567890',
};

export interface Harness {
  sim: SimImds;
  client: ImdsClient;
  clock: Clock;
  errors: ImdsErrorKind[];
  stop(): Promise<void>;
}

/**
 * A started SimImds and a client pointed at it. Time runs 1000x by default, so backoff and token
 * TTLs pass in milliseconds; the request timeout is large in clock time (1 h = 3.6 s real) so
 * that only the tests about timeouts ever see one.
 */
export async function harness(
  opts: { sim?: Partial<SimImdsOptions>; client?: Partial<ImdsClientOptions>; clock?: Clock } = {},
): Promise<Harness> {
  const clock = opts.clock ?? new ScaledClock(1000);
  const sim = new SimImds({ instance: INSTANCE, clock, ...opts.sim });
  await sim.start();
  const errors: ImdsErrorKind[] = [];
  const client = new ImdsClient({
    baseUrl: sim.url,
    tries: 3,
    requestTimeoutMs: 60 * 60_000,
    clock,
    logger: silentLogger(),
    onError: (kind) => errors.push(kind),
    random: () => 0.5,
    ...opts.client,
  });
  return { sim, client, clock, errors, stop: () => sim.stop() };
}

export const TOKEN_PATH = '/latest/api/token';

/**
 * Wall-clock time plus a skew the test moves forward by hand: waits (timeouts, backoff) stay real
 * and short, while token expiry and notice times jump deterministically, however loaded the machine.
 */
export class SkewableClock implements Clock {
  private skewMs = 0;
  now(): number {
    return Date.now() + this.skewMs;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }
  advance(ms: number): void {
    this.skewMs += ms;
  }
}

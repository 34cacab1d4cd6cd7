/** Shared set-up for the sim-autoscaling tests: a started SimAutoScaling, a real SDK client for it, polling. */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { Deadline, ScaledClock } from '../../src/shared/clock.js';
import { SimAutoScaling, type SimAsgGroupSpec, type SimAutoScalingOptions } from '../../src/sim/autoscaling/index.js';

export interface TestAsg {
  sim: SimAutoScaling;
  client: AutoScalingClient;
  clock: ScaledClock;
  /** A client that gives up after one attempt (sees throttling and faults as they are). */
  client1: AutoScalingClient;
  close(): Promise<void>;
}

export const AZS = ['us-east-1a', 'us-east-1b', 'us-east-1c'];

export function spotSpec(over: Partial<SimAsgGroupSpec> = {}): SimAsgGroupSpec {
  return {
    name: 'spot-asg',
    capacityType: 'spot',
    instanceType: 'm5.large',
    availabilityZones: AZS,
    minSize: 0,
    maxSize: 10,
    desiredCapacity: 2,
    capacityRebalance: false,
    tags: { 'k8s.io/cluster-autoscaler/enabled': 'true', team: 'platform' },
    ...over,
  };
}

export function onDemandSpec(over: Partial<SimAsgGroupSpec> = {}): SimAsgGroupSpec {
  return spotSpec({ name: 'od-asg', capacityType: 'on-demand', desiredCapacity: 0, tags: {}, ...over });
}

/** Simulated time runs 200× faster: a 60 s launch takes 0.3 s of real time. */
export async function startAsg(
  groups: SimAsgGroupSpec[] = [spotSpec()],
  opts: Partial<Omit<SimAutoScalingOptions, 'clock'>> & { scale?: number } = {},
): Promise<TestAsg> {
  const { scale, ...rest } = opts;
  const clock = new ScaledClock(scale ?? 200);
  const sim = new SimAutoScaling({ clock, ...rest });
  for (const g of groups) sim.createGroup(g);
  await sim.start();
  const base = { endpoint: sim.url, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };
  const client = new AutoScalingClient(base);
  const client1 = new AutoScalingClient({ ...base, maxAttempts: 1 });
  return {
    sim,
    client,
    client1,
    clock,
    async close() {
      client.destroy();
      client1.destroy();
      await sim.stop();
    },
  };
}

/**
 * Polls `probe` until it returns a value other than undefined/false, or fails after `simMs` of
 * simulated time (a bounded wait; no assertions about how long it took).
 */
export async function waitFor<T>(
  clock: ScaledClock,
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  simMs = 10 * 60_000,
): Promise<T> {
  const deadline = Deadline.after(clock, simMs);
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (deadline.expired()) throw new Error(`timed out waiting for ${what}`);
    await deadline.sleep(2_000);
  }
}

/** The SDK's service exceptions carry the Query error code as `name`. */
export function errorOf(err: unknown): { name: string; message: string; status: number | undefined } {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  return { name: e.name ?? '', message: e.message ?? '', status: e.$metadata?.httpStatusCode };
}

export async function expectAwsError(p: Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined }> {
  try {
    await p;
  } catch (err) {
    return errorOf(err);
  }
  throw new Error('expected the call to fail');
}

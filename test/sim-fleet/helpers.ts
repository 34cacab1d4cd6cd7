/** Shared set-up for the fleet tests: a simulated world with Auto Scaling, a real SDK client for it. */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { silentLogger } from '../../src/observability/logger.js';
import { ScaledClock } from '../../src/shared/clock.js';
import type { SimGroupSpec } from '../../src/sim/fleet.js';
import { SIM_AWS_CREDENTIALS, SimWorld } from '../../src/sim/world.js';

import { waitUntil as harnessWaitUntil } from '../e2e/harness.js';
import { AZS, spotSpec } from '../sim-autoscaling/helpers.js';

export { runningPods } from '../e2e/harness.js';

/** The e2e harness's bounded wait, with room for a loaded machine (15 simulated minutes = 9 real s at 100×). */
export function waitUntil(clock: ScaledClock, cond: () => boolean | Promise<boolean>, opts: { what: string; timeoutMs?: number }): Promise<void> {
  return harnessWaitUntil(clock, cond, { timeoutMs: 900_000, ...opts });
}

export { AZS };

export interface FleetWorld {
  world: SimWorld;
  clock: ScaledClock;
  client: AutoScalingClient;
  stop(): Promise<void>;
}

/** The sim-autoscaling tests' spot group (3 AZs, max 10), desired 3, with node options. */
export function spotGroup(over: Partial<SimGroupSpec> = {}): SimGroupSpec {
  return { ...spotSpec({ desiredCapacity: 3 }), nodeLabels: { team: 'platform' }, joinDelayMs: 30_000, ...over };
}

/** A world at 100× with Auto Scaling enabled and the given groups (default: one spot group of 3). */
export async function startFleetWorld(groups: SimGroupSpec[] = [spotGroup()]): Promise<FleetWorld> {
  const clock = new ScaledClock(100);
  const world = new SimWorld({ clock, logger: silentLogger() });
  await world.start();
  const asg = await world.enableAutoScaling();
  for (const g of groups) await world.addGroup(g);
  const client = new AutoScalingClient({ endpoint: asg.url, region: world.region, credentials: SIM_AWS_CREDENTIALS, maxAttempts: 1 });
  return {
    world,
    clock,
    client,
    async stop() {
      client.destroy();
      await world.stop();
    },
  };
}

export interface NodeView {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { providerID?: string; taints?: { key: string; effect: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
}

export function nodes(world: SimWorld): NodeView[] {
  return world.kube.list<NodeView>('nodes');
}

export function isReady(n: NodeView): boolean {
  return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** instance id from a providerID `aws:///<az>/<instance-id>`. */
export function instanceIdOf(n: NodeView): string | undefined {
  return /^aws:\/\/\/[^/]+\/(i-[0-9a-f]+)$/.exec(n.spec?.providerID ?? '')?.[1];
}

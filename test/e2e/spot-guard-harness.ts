import { silentLogger } from '../../src/observability/logger.js';
import { ScaledClock } from '../../src/shared/clock.js';
import type { SimGroupSpec } from '../../src/sim/fleet.js';
import { SimWorld } from '../../src/sim/world.js';
import { RECORDS_ANNOTATION, parseRecords, type EventRecord } from '../../src/workflow/record.js';
import { waitUntil } from './harness.js';

export const AZS = ['us-east-1a', 'us-east-1b', 'us-east-1c'];

export interface SpotGuardWorld {
  world: SimWorld;
  clock: ScaledClock;
  stop(): Promise<void>;
}

export interface SpotGuardWorldOptions {
  spot?: Partial<SimGroupSpec>;
  onDemand?: Partial<SimGroupSpec>;
  /** Extra agent env (NTH / Spot Guard names). */
  env?: Record<string, string>;
  speed?: number;
  replicas?: number;
  /** Do not start agents (the test starts them). */
  noAgents?: boolean;
}

export const SPOT = 'spot-asg';
export const ON_DEMAND = 'od-asg';

export function spotGuardEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ENABLE_SPOT_GUARD: 'true',
    SPOT_ASG_NAME: SPOT,
    ON_DEMAND_ASG_NAME: ON_DEMAND,
    ENABLE_REBALANCE_DRAINING: 'true',
    SPOT_GUARD_POLL_INTERVAL: '5s',
    ...extra,
  };
}

/** A fleet: a spot group and an on-demand group whose instances are nodes, workloads, agents as a DaemonSet. */
export async function startSpotGuardWorld(opts: SpotGuardWorldOptions = {}): Promise<SpotGuardWorld> {
  const clock = new ScaledClock(opts.speed ?? 50);
  const world = new SimWorld({ clock, logger: silentLogger() });
  await world.start();
  await world.enableAutoScaling({ launchDelayMs: 40_000, terminateDelayMs: 10_000 });
  await world.addGroup({
    name: SPOT,
    capacityType: 'spot',
    instanceType: 'm5.large',
    availabilityZones: AZS,
    minSize: 0,
    maxSize: 40,
    desiredCapacity: 3,
    joinDelayMs: 20_000,
    ...opts.spot,
  });
  await world.addGroup({
    name: ON_DEMAND,
    capacityType: 'on-demand',
    instanceType: 'm5.large',
    availabilityZones: AZS,
    minSize: 0,
    maxSize: 40,
    desiredCapacity: 1,
    joinDelayMs: 20_000,
    ...opts.onDemand,
  });
  world.addDaemonSet('kube-proxy');
  const replicas = opts.replicas ?? 6;
  world.addWorkload({ name: 'web', replicas, cpu: '200m', memory: '256Mi', pdb: { maxUnavailable: 1 }, shutdownSeconds: 2 });
  await waitUntil(
    clock,
    () => world.kube.list<{ status?: { phase?: string }; metadata: { namespace?: string } }>('pods').filter((p) => p.metadata.namespace === 'default' && p.status?.phase === 'Running').length >= replicas,
    { what: 'workload running' },
  );
  if (!opts.noAgents) await world.runAgentsOnAllNodes(spotGuardEnv(opts.env));
  return { world, clock, stop: () => world.stop() };
}

export function recordsOn(world: SimWorld, node: string): EventRecord[] {
  const n = world.kube.get<{ metadata: { annotations?: Record<string, string> } }>('nodes', undefined, node);
  const raw = n?.metadata.annotations?.[RECORDS_ANNOTATION];
  return raw ? Object.values(parseRecords({ [RECORDS_ANNOTATION]: raw }).records) : [];
}

export function desired(world: SimWorld, group: string): number {
  return world.autoscaling!.group(group)!.desiredCapacity;
}

/** Instances that are not on their way out. */
export function liveInstances(world: SimWorld, group: string): string[] {
  return world
    .autoscaling!.instances(group)
    .filter((i) => !/^Terminat/.test(i.lifecycleState))
    .map((i) => i.instanceId);
}

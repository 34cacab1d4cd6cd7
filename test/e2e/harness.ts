import { silentLogger } from '../../src/observability/logger.js';
import { ScaledClock } from '../../src/shared/clock.js';
import { RECORDS_ANNOTATION, parseRecords, type EventRecord } from '../../src/workflow/record.js';
import { SimWorld, type SimNodeSpec, type WorkloadSpec } from '../../src/sim/world.js';
import type { SimImdsMode } from '../../src/sim/imds/index.js';

/**
 * End-to-end harness: a simulated world on loopback HTTP and the real agent (startAgent, configured
 * through the real config loader) running against it, on a shared ScaledClock.
 */
export interface Harness {
  world: SimWorld;
  clock: ScaledClock;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  nodes?: SimNodeSpec[];
  workloads?: WorkloadSpec[];
  daemonSets?: string[];
  imdsMode?: SimImdsMode;
  aemmDynamicTimes?: boolean;
  /** Simulated seconds per real second. */
  speed?: number;
}

export const DEFAULT_NODES: SimNodeSpec[] = [{ name: 'node-a' }, { name: 'node-b' }, { name: 'node-c', lifeCycle: 'on-demand' }];

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const clock = new ScaledClock(opts.speed ?? 50);
  const world = new SimWorld({
    clock,
    logger: silentLogger(),
    imdsMode: opts.imdsMode ?? 'optional',
    aemmDynamicTimes: opts.aemmDynamicTimes ?? false,
  });
  await world.start();
  for (const n of opts.nodes ?? DEFAULT_NODES) await world.addNode(n);
  for (const ds of opts.daemonSets ?? ['kube-proxy']) world.addDaemonSet(ds);
  const workloads = opts.workloads ?? [{ name: 'web', replicas: 6, cpu: '250m', memory: '256Mi', shutdownSeconds: 2 }];
  for (const w of workloads) world.addWorkload(w);
  const expected = workloads.reduce((n, w) => n + w.replicas, 0);
  await waitUntil(clock, () => runningPods(world).filter((p) => p.metadata.namespace === 'default').length >= expected, {
    what: 'workloads running',
  });
  return { world, clock, stop: () => world.stop() };
}

/** Polls `cond` on the simulated clock until true; fails the test with `what` after `timeoutMs` (simulated). */
export async function waitUntil(
  clock: ScaledClock,
  cond: () => boolean | Promise<boolean>,
  opts: { what: string; timeoutMs?: number; pollMs?: number },
): Promise<void> {
  const end = clock.now() + (opts.timeoutMs ?? 300_000);
  while (clock.now() < end) {
    if (await cond()) return;
    await clock.sleep(opts.pollMs ?? 500);
  }
  if (await cond()) return;
  throw new Error(`timed out waiting for: ${opts.what}`);
}

/** Lets `ms` of simulated time pass. */
export function elapse(clock: ScaledClock, ms: number): Promise<void> {
  return clock.sleep(ms);
}

export interface PodShape {
  metadata: { name: string; namespace?: string; deletionTimestamp?: string; ownerReferences?: { kind: string }[] };
  spec?: { nodeName?: string };
  status?: { phase?: string };
}

export interface NodeShape {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { unschedulable?: boolean; taints?: { key: string; value?: string; effect: string }[] };
  status?: { nodeInfo?: { bootID?: string } };
}

export function node(world: SimWorld, name: string): NodeShape {
  const n = world.kube.get<NodeShape>('nodes', undefined, name);
  if (!n) throw new Error(`node ${name} missing`);
  return n;
}

export function records(world: SimWorld, name: string): EventRecord[] {
  const raw = node(world, name).metadata.annotations?.[RECORDS_ANNOTATION];
  return raw ? Object.values(parseRecords({ [RECORDS_ANNOTATION]: raw }).records) : [];
}

export function runningPods(world: SimWorld): PodShape[] {
  return world.kube.list<PodShape>('pods').filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
}

/** Workload pods (not DaemonSet pods) currently on a node, including terminating ones. */
export function workloadPodsOn(world: SimWorld, nodeName: string): PodShape[] {
  return world.kube
    .list<PodShape>('pods', { fieldSelector: `spec.nodeName=${nodeName}` })
    .filter((p) => !(p.metadata.ownerReferences ?? []).some((o) => o.kind === 'DaemonSet'));
}

export function isCordoned(world: SimWorld, name: string): boolean {
  return node(world, name).spec?.unschedulable === true;
}

export function taintKeys(world: SimWorld, name: string): string[] {
  return (node(world, name).spec?.taints ?? []).map((t) => t.key);
}

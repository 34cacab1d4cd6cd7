/**
 * Revert to spot (BRIEF §8 "on-demand node-minutes after a fallback", issue 4 benchmark):
 *
 * (a) On-demand node-minutes after a fallback when spot returns 15 min later: the same world twice,
 *     once with revert to spot on (default settings) and once with SPOT_GUARD_REVERT=false. Spot
 *     is exhausted, one spot node gets a rebalance recommendation, Spot Guard falls back to an
 *     on-demand node; 15 simulated minutes after the recommendation spot capacity returns.
 * (b) Probes in the flapping scenario: after a fallback, spot capacity toggles 0 ↔ 10 every 3
 *     minutes for an hour, in phase with the fallback node's eligibility (first toggle to 0 at
 *     claim + 3.5 min), so the first probe (10 min minimum wait) lands in a "0" phase and the next,
 *     10 min later, in a "10" phase, both away from the phase edges; with a rebalance recommendation on a spot node at 12.5, 27.5 and
 *     48.5 min (the same scenario as test/e2e/revert-flapping.test.ts).
 *
 * All times are SIMULATED (ScaledClock); the real agents run as a DaemonSet against the simulated
 * Kubernetes API and Auto Scaling endpoint, as in the e2e tests (same fleet: 3 spot + 1 on-demand
 * m5.large nodes, 6 pods with a PDB, launch 40 s, join 20 s, terminate 10 s).
 */
import { REPLACEMENT_ANNOTATION, parseClaim } from '../src/capacity/capacity-ops.js';
import { parseRevert } from '../src/capacity/revert-record.js';
import { silentLogger } from '../src/observability/logger.js';
import { ScaledClock } from '../src/shared/clock.js';
import { SimWorld } from '../src/sim/world.js';
import { BenchError, nowMs, onCleanup, round, waitFor, withTimeout } from './lib.js';

const SPOT = 'spot-asg';
const ON_DEMAND = 'od-asg';
const AZS = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
const MIN = 60_000;

export interface RevertBenchSettings {
  /** Simulated seconds per real second (the world's IMDS timeouts allow at most 120). */
  speed: number;
  /** Spot capacity returns this long after the rebalance recommendation. */
  spotReturnsAfterMs: number;
  /** Node-minutes are integrated over [recommendation, + horizonMs]. */
  horizonMs: number;
  /** Revert off: simulated this long after the recommendation, then the (constant) count is carried to the horizon. */
  revertOffObserveMs: number;
  /** Sampling step of the integral (simulated ms). */
  sampleMs: number;
  flapHourMs: number;
  flapToggleMs: number;
  /** The first toggle (to 0) comes this long after the fallback node's claim; spot is 10 until then. */
  flapFirstToggleMs: number;
  flapRebalancesAtMs: number[];
  /** Real-time bound per world. */
  realBudgetMs: number;
}

export const DEFAULT_REVERT_BENCH: RevertBenchSettings = {
  speed: 120,
  spotReturnsAfterMs: 15 * MIN,
  horizonMs: 90 * MIN,
  revertOffObserveMs: 30 * MIN,
  sampleMs: 5_000,
  flapHourMs: 60 * MIN,
  flapToggleMs: 3 * MIN,
  flapFirstToggleMs: 3.5 * MIN,
  flapRebalancesAtMs: [12.5 * MIN, 27.5 * MIN, 48.5 * MIN],
  realBudgetMs: 90_000,
};

export const REVERT_DEFINITIONS: Record<string, string> = {
  onDemandNodeMinutes:
    'Σ over simulated time of live (not Terminating) instances in the on-demand group that were not there before the recommendation (the fallback), over [recommendation, +90 min], in node-minutes. Revert on: the run ends when no fallback instance is left and the world is settled (nothing else can launch one; the rest of the window adds 0). Revert off: the run ends 30 min after the recommendation with the fallback still there; its count is carried to the 90 min horizon (nothing removes it).',
  fallbackLiveMinutes: 'simulated minutes from the recommendation until the on-demand fallback instance was terminating (revert on); null when it never went.',
  probes:
    'revert probes started (a new spot-guard.io/revert record on a fallback node = one spot +1) during the hour of flapping, across all fallback nodes; failedProbes ended without a Ready spot replacement (backed off 10 min, doubling), reverted reached Done. The count depends on where each probe falls relative to the 3 min phases (the schedule is anchored on the first fallback node\'s eligibility, but the later fallback nodes\' probes are not), so it varies between runs (3–5 seen).',
};

interface NodeShape {
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: { unschedulable?: boolean };
  status?: { conditions?: { type: string; status: string }[] };
}
interface PodShape {
  metadata: { namespace?: string; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: { phase?: string };
}

const isReady = (n: NodeShape | undefined) => n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

function liveInstances(world: SimWorld, group: string): string[] {
  return world
    .autoscaling!.instances(group)
    .filter((i) => !/^Terminat/.test(i.lifecycleState))
    .map((i) => i.instanceId);
}

function fallbackNodes(world: SimWorld): string[] {
  return world.kube
    .list<NodeShape>('nodes')
    .filter((n) => {
      const c = parseClaim(n.metadata.annotations?.[REPLACEMENT_ANNOTATION]);
      return Boolean(c?.fallback && c.capacityType === 'on-demand');
    })
    .map((n) => n.metadata.name);
}

interface Built {
  world: SimWorld;
  clock: ScaledClock;
  close: () => Promise<void>;
}

/** The e2e fleet (test/e2e/spot-guard-harness.ts) with the real agents on every node. */
async function buildWorld(s: RevertBenchSettings, what: string, env: Record<string, string>): Promise<Built> {
  const clock = new ScaledClock(s.speed);
  const world = new SimWorld({ clock, logger: silentLogger() });
  await world.start();
  const unregister = onCleanup(what, () => world.stop());
  await world.enableAutoScaling({ launchDelayMs: 40_000, terminateDelayMs: 10_000 });
  const group = { instanceType: 'm5.large', availabilityZones: AZS, minSize: 0, maxSize: 40, joinDelayMs: 20_000 };
  await world.addGroup({ name: SPOT, capacityType: 'spot', desiredCapacity: 3, ...group });
  await world.addGroup({ name: ON_DEMAND, capacityType: 'on-demand', desiredCapacity: 1, ...group });
  world.addDaemonSet('kube-proxy');
  world.addWorkload({ name: 'web', replicas: 6, cpu: '200m', memory: '256Mi', pdb: { maxUnavailable: 1 }, shutdownSeconds: 2 });
  const running = () => world.kube.list<PodShape>('pods', { namespace: 'default' }).filter((p) => p.status?.phase === 'Running').length;
  await waitFor(() => running() >= 6, { what: `workload running in the ${what}`, timeoutMs: 30_000, pollMs: 20 });
  const agents = await world.runAgentsOnAllNodes({
    ENABLE_SPOT_GUARD: 'true',
    SPOT_ASG_NAME: SPOT,
    ON_DEMAND_ASG_NAME: ON_DEMAND,
    ENABLE_REBALANCE_DRAINING: 'true',
    ...env,
  });
  await withTimeout(Promise.all(agents.map((a) => a.ready)), 30_000, `agents ready in the ${what}`);
  for (const a of agents) if (a.fatal) throw new BenchError(`an agent stopped at start in the ${what}: ${a.fatal.message}`);
  return {
    world,
    clock,
    close: async () => {
      unregister();
      await world.stop();
    },
  };
}

/** Revert probes seen on any node: a new revert record id is a new probe. */
function watchProbes(world: SimWorld) {
  const probes = new Map<string, { node: string; startedAt: number; outcome?: 'failed' | 'reverted' }>();
  const current = new Map<string, string>();
  const off = world.kube.onChange((ev) => {
    if (ev.resource !== 'nodes') return;
    const n = ev.object as unknown as NodeShape;
    const rec = ev.type === 'DELETED' ? null : parseRevert(n.metadata.annotations ?? {}).record;
    const prev = current.get(n.metadata.name);
    if (rec) {
      const p = probes.get(rec.id) ?? { node: n.metadata.name, startedAt: Date.parse(rec.startedAt) };
      if (rec.phase === 'Done') p.outcome = 'reverted';
      probes.set(rec.id, p);
      current.set(n.metadata.name, rec.id);
    } else if (prev) {
      current.delete(n.metadata.name);
      const p = probes.get(prev);
      if (p && !p.outcome && ev.type !== 'DELETED') p.outcome = 'failed';
    }
  });
  return { probes: () => [...probes.values()].sort((a, b) => a.startedAt - b.startedAt), off };
}

/** Spot exhausted, a rebalance recommendation on the first spot node. Returns when it was sent. */
function triggerFallback(b: Built): number {
  const { world, clock } = b;
  AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 0));
  const atRisk = world.groupNodes(SPOT)[0]!;
  world.imds(atRisk).setRebalanceRecommendation({});
  return clock.now();
}

export interface OnDemandMinutesRow {
  revert: boolean;
  onDemandNodeMinutes: number;
  fallbackLiveMinutes: number | null;
  /** Simulated minutes actually run after the recommendation (the rest is carried, see definitions). */
  simulatedMinutes: number;
  probes: number;
  failedProbes: number;
  maxPendingPods: number;
  fleet: { initial: number; final: number };
  realSeconds: number;
}

async function onDemandMinutes(s: RevertBenchSettings, revert: boolean): Promise<OnDemandMinutesRow> {
  const started = nowMs();
  const what = `revert ${revert ? 'on' : 'off'} world`;
  const b = await buildWorld(s, what, revert ? {} : { SPOT_GUARD_REVERT: 'false' });
  const { world, clock } = b;
  const baseline = new Set(liveInstances(world, ON_DEMAND));
  const fleetInitial = liveInstances(world, SPOT).length + baseline.size;
  const watch = watchProbes(world);
  let maxPending = 0;
  const offPending = world.kube.onChange(() => {
    const pending = world.kube
      .list<PodShape>('pods', { namespace: 'default' })
      .filter((p) => !p.spec?.nodeName && !p.metadata.deletionTimestamp).length;
    maxPending = Math.max(maxPending, pending);
  });
  const count = () => liveInstances(world, ON_DEMAND).filter((id) => !baseline.has(id)).length;
  const deadline = nowMs() + s.realBudgetMs;
  // Sampled every sampleMs from the recommendation on, so the fallback counts from its launch.
  const notice = triggerFallback(b);
  let area = 0;
  let last = notice;
  let lastCount = 0;
  let spotBack = false;
  let goneAt: number | null = null;
  let end = notice + s.horizonMs;
  for (;;) {
    const now = clock.now();
    area += lastCount * (Math.min(now, end) - last);
    last = Math.min(now, end);
    lastCount = count();
    if (now >= end) break;
    if (!spotBack && now >= notice + s.spotReturnsAfterMs) {
      AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 10));
      spotBack = true;
    }
    if (spotBack && lastCount === 0 && goneAt === null) goneAt = now;
    if (revert && spotBack && lastCount === 0 && fallbackNodes(world).length === 0 && world.settled()) {
      end = now; // nothing left that could launch an on-demand node: the rest of the window adds 0
      break;
    }
    if (!revert && now >= notice + s.revertOffObserveMs) {
      if (fallbackNodes(world).length !== lastCount) throw new BenchError(`revert off: ${lastCount} fallback instances but ${fallbackNodes(world).length} fallback nodes`);
      area += lastCount * (notice + s.horizonMs - now); // nothing removes the fallback with revert off
      end = now;
      break;
    }
    if (nowMs() > deadline) throw new BenchError(`${what}: not done within ${s.realBudgetMs / 1000} s real (simulated ${round((now - notice) / MIN, 1)} min)`);
    await clock.sleep(s.sampleMs);
  }
  offPending();
  watch.off();
  const probes = watch.probes();
  const row: OnDemandMinutesRow = {
    revert,
    onDemandNodeMinutes: round(area / MIN, 1),
    fallbackLiveMinutes: goneAt === null ? null : round((goneAt - notice) / MIN, 1),
    simulatedMinutes: round((end - notice) / MIN, 1),
    probes: probes.length,
    failedProbes: probes.filter((p) => p.outcome === 'failed').length,
    maxPendingPods: maxPending,
    fleet: { initial: fleetInitial, final: liveInstances(world, SPOT).length + liveInstances(world, ON_DEMAND).length },
    realSeconds: round((nowMs() - started) / 1000, 1),
  };
  await b.close();
  return row;
}

export interface FlappingRow {
  probes: number;
  failedProbes: number;
  reverted: number;
  /** The most probes any one fallback node made in the hour. */
  maxProbesPerFallbackNode: number;
  fallbackNodesMade: number;
  fallbackNodesLeft: number;
  /** Probe start times, simulated minutes after the fallback was in place, with their outcome. */
  probeStartsMin: number[];
  probeOutcomes: string[];
  /** The fallback node's claim (its eligibility clock starts there), minutes before the fallback was in place. */
  claimBeforeStartMin: number;
  /** Fleet cordoned before its replacement was Ready / schedulable Ready nodes at the lowest vs before. */
  minSchedulableReady: number;
  schedulableReadyBefore: number;
  realSeconds: number;
}

async function flapping(s: RevertBenchSettings): Promise<FlappingRow> {
  const started = nowMs();
  const b = await buildWorld(s, 'flapping world', {});
  const { world, clock } = b;
  const schedulable = () => world.kube.list<NodeShape>('nodes').filter((n) => isReady(n) && !n.spec?.unschedulable).length;
  const before = schedulable();
  let minSchedulable = before;
  const offSched = world.kube.onChange((ev) => {
    if (ev.resource === 'nodes') minSchedulable = Math.min(minSchedulable, schedulable());
  });
  const watch = watchProbes(world);
  const atRisk = world.groupNodes(SPOT)[0]!;
  triggerFallback(b);
  await waitFor(() => fallbackNodes(world).length === 1 && !world.nodeNames().includes(atRisk), {
    what: 'on-demand fallback in place (flapping world)',
    timeoutMs: s.realBudgetMs,
    pollMs: 20,
  });
  const made = new Set(fallbackNodes(world));
  const start = clock.now();
  const first = world.kube.get<NodeShape>('nodes', undefined, fallbackNodes(world)[0]!);
  const claimAt = Date.parse(parseClaim(first?.metadata.annotations?.[REPLACEMENT_ANNOTATION])!.at);
  const deadline = nowMs() + s.realBudgetMs;
  AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, 10));
  let spotOn = true;
  let nextToggle = claimAt + s.flapFirstToggleMs;
  const rebalances = [...s.flapRebalancesAtMs];
  while (clock.now() < start + s.flapHourMs) {
    const now = clock.now();
    if (now >= nextToggle) {
      spotOn = !spotOn;
      AZS.forEach((az) => world.autoscaling!.setSpotCapacity(az, spotOn ? 10 : 0));
      nextToggle += s.flapToggleMs;
    }
    if (rebalances.length && now >= start + rebalances[0]!) {
      rebalances.shift();
      const victim = world.groupNodes(SPOT).find((n) => {
        const node = world.kube.get<NodeShape>('nodes', undefined, n);
        return isReady(node) && !node?.spec?.unschedulable;
      });
      if (victim) world.imds(victim).setRebalanceRecommendation({});
    }
    for (const n of fallbackNodes(world)) made.add(n);
    if (nowMs() > deadline) throw new BenchError(`flapping world: not done within ${s.realBudgetMs / 1000} s real`);
    await clock.sleep(Math.min(5_000, Math.max(1, nextToggle - clock.now())));
  }
  offSched();
  watch.off();
  const probes = watch.probes().filter((p) => p.startedAt < start + s.flapHourMs);
  const row: FlappingRow = {
    probes: probes.length,
    failedProbes: probes.filter((p) => p.outcome === 'failed').length,
    reverted: probes.filter((p) => p.outcome === 'reverted').length,
    maxProbesPerFallbackNode: Math.max(0, ...[...new Set(probes.map((p) => p.node))].map((n) => probes.filter((p) => p.node === n).length)),
    fallbackNodesMade: made.size,
    fallbackNodesLeft: fallbackNodes(world).length,
    probeStartsMin: probes.map((p) => round((p.startedAt - start) / MIN, 1)),
    probeOutcomes: probes.map((p) => p.outcome ?? 'open'),
    claimBeforeStartMin: round((start - claimAt) / MIN, 2),
    minSchedulableReady: minSchedulable,
    schedulableReadyBefore: before,
    realSeconds: round((nowMs() - started) / 1000, 1),
  };
  await b.close();
  return row;
}

export interface RevertBenchResult {
  settings: RevertBenchSettings;
  onDemandNodeMinutes: { revertOn: OnDemandMinutesRow; revertOff: OnDemandMinutesRow };
  flapping: FlappingRow;
}

/** The three worlds: the two node-minute runs one after the other, the flapping hour beside them. */
/** The flapping hour alone (for investigating). */
export function benchRevertFlapping(settings: Partial<RevertBenchSettings> = {}): Promise<FlappingRow> {
  return flapping({ ...DEFAULT_REVERT_BENCH, ...settings });
}

export async function benchRevert(settings: Partial<RevertBenchSettings> = {}): Promise<RevertBenchResult> {
  const s = { ...DEFAULT_REVERT_BENCH, ...settings };
  const [pair, flap] = await Promise.all([
    (async () => ({ revertOn: await onDemandMinutes(s, true), revertOff: await onDemandMinutes(s, false) }))(),
    flapping(s),
  ]);
  return { settings: s, onDemandNodeMinutes: pair, flapping: flap };
}

export function revertTable(r: RevertBenchResult): string[] {
  const { revertOn: on, revertOff: off } = r.onDemandNodeMinutes;
  const f = r.flapping;
  return [
    `  on-demand node-minutes over ${r.settings.horizonMs / MIN} min after a fallback, spot back after ${r.settings.spotReturnsAfterMs / MIN} min: revert on ${on.onDemandNodeMinutes}, revert off ${off.onDemandNodeMinutes}`,
    `    revert on: fallback gone after ${on.fallbackLiveMinutes ?? '—'} min, ${on.probes} probe(s) (${on.failedProbes} failed), max ${on.maxPendingPods} pod(s) Pending, fleet ${on.fleet.final} of ${on.fleet.initial}; ${on.realSeconds} s real`,
    `    revert off: fallback still there after ${off.simulatedMinutes} simulated min (carried to the horizon), ${off.probes} probes; ${off.realSeconds} s real`,
    `  flapping hour (0 ↔ 10 every ${r.settings.flapToggleMs / MIN} min, rebalances at ${r.settings.flapRebalancesAtMs.map((x) => x / MIN).join(', ')} min): ${f.probes} probes (${f.failedProbes} failed, ${f.reverted} reverted, at most ${f.maxProbesPerFallbackNode} per fallback node) at ${f.probeStartsMin.map((m, i) => `${m} (${f.probeOutcomes[i]})`).join(', ')} min; fallback nodes made ${f.fallbackNodesMade}, left at the end ${f.fallbackNodesLeft}; schedulable Ready nodes min ${f.minSchedulableReady} (before ${f.schedulableReadyBefore}); ${f.realSeconds} s real`,
  ];
}

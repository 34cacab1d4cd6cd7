/**
 * Mass rebalance (BRIEF §8): 50 spot nodes get rebalance recommendations within 30 simulated
 * seconds while the spot pool has room for only 10 more instances. The same world definition runs
 * twice, each time fresh: once with the real Spot Guard agents as a DaemonSet, once with a
 * re-implementation of the seeds' reference algorithm (bench/reference-algorithm.ts). Both see the
 * notices through IMDS polling (2 s), talk to the simulated Auto Scaling endpoint through the real
 * AWS SDK, and taint/cordon/drain through the same Kubernetes port and drain code.
 *
 * All times here are SIMULATED seconds (ScaledClock), except the real seconds a run took. Real I/O
 * is amplified by the clock's speed (1 ms of real latency = `speed` ms simulated); the event-loop
 * delay p99 is printed so that distortion can be judged.
 *
 * Metric definitions are in METRIC_DEFINITIONS (also printed, and put into the JSON notes).
 */
import { EventEmitter, setMaxListeners } from 'node:events';
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { kubeConfigFromString } from '../src/kube/client.js';
import { KubeApi } from '../src/kube/kube-api.js';
import { createLogger, silentLogger, type Logger } from '../src/observability/logger.js';
import { ScaledClock } from '../src/shared/clock.js';
import { GroupController } from '../src/sim/autoscaling/group-controller.js';
import type { ChangeEvent } from '../src/sim/kube/types.js';
import { SIM_AWS_CREDENTIALS, SimWorld } from '../src/sim/world.js';
import { REPLACEMENT_ANNOTATION } from '../src/capacity/replacement.js';
import { RECORDS_ANNOTATION, parseRecords, type EventRecord } from '../src/workflow/record.js';
import { BenchError, nowMs, onCleanup, round, summarize, waitFor, withTimeout, type Summary } from './lib.js';
import { ReferenceHandler } from './reference-algorithm.js';

export const MASS_SPOT_GROUP = 'spot-asg';
export const MASS_ON_DEMAND_GROUP = 'od-asg';
const AZS = ['us-east-1a', 'us-east-1b', 'us-east-1c'];

export interface MassRebalanceSettings {
  /** Simulated seconds per real second. */
  speed: number;
  spotNodes: number;
  onDemandNodes: number;
  /** Extra spot instances EC2 can launch, per AZ (AZS order); on-demand is unlimited. */
  spotRoomPerAz: number[];
  groupMaxSize: number;
  pods: number;
  podCpu: string;
  podMemory: string;
  pdbMaxUnavailable: string;
  podStartSeconds: number;
  podShutdownSeconds: number;
  /** All recommendations arrive within this window (simulated ms), at seeded random offsets. */
  noticeWindowMs: number;
  seed: number;
  launchDelayMs: number;
  joinDelayMs: number;
  terminateDelayMs: number;
  /** Pod-seconds Pending are integrated over [first notice, first notice + windowMs]; runs last at least this long. */
  windowMs: number;
  /** A run that has not settled this long after the first notice is reported as not settled. */
  maxSimMs: number;
  /** Real-time bound per run. */
  realBudgetMs: number;
}

export const DEFAULT_MASS_REBALANCE: MassRebalanceSettings = {
  speed: 10,
  spotNodes: 50,
  onDemandNodes: 2,
  spotRoomPerAz: [4, 3, 3],
  groupMaxSize: 120,
  pods: 150,
  podCpu: '500m',
  podMemory: '1Gi',
  pdbMaxUnavailable: '10%',
  podStartSeconds: 5,
  podShutdownSeconds: 5,
  noticeWindowMs: 30_000,
  seed: 20_240_501,
  launchDelayMs: 60_000,
  joinDelayMs: 30_000,
  terminateDelayMs: 30_000,
  windowMs: 8 * 60_000,
  maxSimMs: 11 * 60_000,
  realBudgetMs: 80_000,
};

export interface MassRebalanceRow {
  algorithm: 'spot-guard' | 'reference';
  events: number;
  /** Events whose recommendation the node saw. */
  detected: number;
  /** Recommendation → replacement declared Ready by the algorithm (simulated s). */
  replacementReadyS: Summary | null;
  replacementsDeclared: number;
  /** Declared successes that no distinct new instance backed (see definitions). */
  unbackedSuccesses: number;
  /** Spot Guard: replacement nodes claimed by more than one event. */
  duplicateClaims: number;
  fallbacksToOnDemand: number;
  autoScalingCalls: number;
  autoScalingCallsPerEvent: number;
  autoScalingCallsByAction: Record<string, number>;
  plusOneRequests: number;
  appliedIncrements: number;
  lostCapacityUpdates: number;
  /** SetDesiredCapacity calls that took back an unfilled +1 (Spot Guard's undo). */
  undoWrites: number;
  pendingPodSeconds: number;
  unscheduledPodSeconds: number;
  podsPendingAtEnd: number;
  cordoned: number;
  drainedWithoutReadyReplacement: number;
  /** Spot Guard only: at-risk nodes touched while their own claimed replacement was not Ready. */
  touchedBeforeOwnReplacementReady: number | null;
  /** Spot Guard only: instances launched during the run, still live at the end, that no event claimed (idle capacity). */
  unclaimedNewInstances: number | null;
  fleet: {
    initial: number;
    final: number;
    spot: number;
    onDemand: number;
    desiredSpot: number;
    desiredOnDemand: number;
    atRiskStillRunning: number;
    schedulableReadyNodes: number;
  };
  settled: boolean;
  simSecondsToSettle: number;
  realSeconds: number;
  eventLoopDelayP99Ms: number;
  /** Anything odd the run noticed (product problems, bench caveats). */
  findings: string[];
}

export interface MassRebalanceResult {
  settings: MassRebalanceSettings;
  spotGuard: MassRebalanceRow;
  reference: MassRebalanceRow;
}

export const METRIC_DEFINITIONS: Record<string, string> = {
  replacementReadyS:
    'recommendation set in IMDS → replacement declared Ready, simulated s. Spot Guard: spotGuard.replacement.readyAt in the event record (its own new instance, InService with a Ready Node, claimed). Reference: its wait loop declaring success (group InService count >= desired it read + 1), which may be a success another node\'s instance (or nothing of its own) produced.',
  unbackedSuccesses:
    'successes declared on a group while that group had fewer new InService instances (launched during the run) than successes declared on it so far — one new instance "satisfying" several waiters.',
  lostCapacityUpdates:
    'Σ over SetDesiredCapacity calls meant as "+1" of (1 − the change they made to the desired capacity), measured inside the simulated Auto Scaling service as each call is applied. A +1 computed from a stale read adds 0 (or takes capacity back). "+1" calls: every call of the reference; for Spot Guard every call except the −1 that takes back an unfilled +1 (undoWrites). plusOneRequests / appliedIncrements are the two terms.',
  autoScalingCallsPerEvent:
    'Auto Scaling API requests received by the simulator from the first recommendation until the run settled, divided by the number of events. Spot Guard\'s figure includes the start-up checks (DescribeAutoScalingGroups) of the agents on the new nodes.',
  pendingPodSeconds: 'Σ Pending workload pods × simulated s over the window [first recommendation, +windowMs]; unscheduledPodSeconds counts only Pending pods not bound to a node (no capacity for them).',
  drainedWithoutReadyReplacement:
    'at-risk nodes tainted/cordoned (drain start) at a moment when fewer new Ready nodes existed than at-risk nodes cordoned so far (including this one).',
  fleet: 'live instances (not Terminating) of both groups after the run settled (no event in progress, no instance launching/terminating, no pending timers), vs the initial fleet.',
};

// --- small utilities -----------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so both worlds get the same notice times. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface PodShape {
  metadata?: { uid?: string; namespace?: string; deletionTimestamp?: string; ownerReferences?: { kind: string }[] };
  spec?: { nodeName?: string };
  status?: { phase?: string };
}

interface NodeShape {
  metadata?: { name?: string; annotations?: Record<string, string> };
  spec?: { unschedulable?: boolean; taints?: { key: string }[]; providerID?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

const isReadyNode = (n: NodeShape) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

interface DesiredWrite {
  group: string;
  from: number;
  value: number;
  at: number;
}

/**
 * Logs every SetDesiredCapacity the simulated groups apply, with the desired capacity at that very
 * moment (bench-only instrumentation of the simulator; it does not change what the call does).
 */
function instrumentDesiredWrites(clock: ScaledClock): { writes: DesiredWrite[]; restore: () => void } {
  const writes: DesiredWrite[] = [];
  const proto = GroupController.prototype;
  const original = proto.setDesiredCapacity;
  proto.setDesiredCapacity = function (this: GroupController, value: number, honorCooldown: boolean): void {
    const from = this.desired;
    original.call(this, value, honorCooldown); // throws on MaxSize etc.: not applied, not logged
    writes.push({ group: this.name, from, value, at: clock.now() });
  };
  return { writes, restore: () => (proto.setDesiredCapacity = original) };
}

// --- the world ---------------------------------------------------------------------------------------

interface BuiltWorld {
  world: SimWorld;
  clock: ScaledClock;
  close: () => Promise<void>;
}

async function buildWorld(s: MassRebalanceSettings, what: string): Promise<BuiltWorld> {
  const clock = new ScaledClock(s.speed);
  const world = new SimWorld({ clock, logger: silentLogger() });
  await world.start();
  const unregister = onCleanup(what, () => world.stop());
  await world.enableAutoScaling({ launchDelayMs: s.launchDelayMs, terminateDelayMs: s.terminateDelayMs });
  const group = { instanceType: 'm5.large', availabilityZones: AZS, minSize: 0, maxSize: s.groupMaxSize, joinDelayMs: s.joinDelayMs };
  await world.addGroup({ name: MASS_SPOT_GROUP, capacityType: 'spot', desiredCapacity: s.spotNodes, ...group });
  await world.addGroup({ name: MASS_ON_DEMAND_GROUP, capacityType: 'on-demand', desiredCapacity: s.onDemandNodes, ...group });
  // After the groups exist: the initial fleet does not count against the room left.
  AZS.forEach((az, i) => world.autoscaling!.setSpotCapacity(az, s.spotRoomPerAz[i] ?? 0));
  world.addDaemonSet('kube-proxy');
  world.addWorkload({
    name: 'web',
    replicas: s.pods,
    cpu: s.podCpu,
    memory: s.podMemory,
    pdb: { maxUnavailable: s.pdbMaxUnavailable },
    startSeconds: s.podStartSeconds,
    shutdownSeconds: s.podShutdownSeconds,
  });
  const running = () => world.kube.list<PodShape>('pods', { namespace: 'default' }).filter((p) => p.status?.phase === 'Running').length;
  await waitFor(() => running() >= s.pods, { what: `${s.pods} workload pods running in the ${what}`, timeoutMs: 30_000, pollMs: 20 });
  return {
    world,
    clock,
    close: async () => {
      unregister();
      await withTimeout(world.stop(), 20_000, `stopping the ${what}`);
    },
  };
}

// --- observation -------------------------------------------------------------------------------------

/** Everything watched while a run goes on; the same for both algorithms. */
class Observer {
  /** Pending workload pods (uid → bound to a node?). */
  private readonly pending = new Map<string, boolean>();
  private podSeconds = 0;
  private unscheduledSeconds = 0;
  private lastAt: number;
  readonly cordonedAt = new Map<string, number>();
  /** Spot Guard: was the node's own claimed replacement Ready when it was first touched? */
  readonly ownReplacementReadyAtTouch = new Map<string, boolean>();
  drainedWithoutReady = 0;
  /** Instances launched during the run whose Node is Ready (instance id → group). */
  readonly readyNew = new Map<string, string>();
  private readonly offs: (() => void)[] = [];

  constructor(
    private readonly world: SimWorld,
    private readonly atRisk: ReadonlySet<string>,
    private readonly windowStart: number,
    private readonly windowEnd: number,
    private readonly spotGuard: boolean,
  ) {
    this.lastAt = world.clock.now();
    for (const p of world.kube.list<PodShape>('pods', { namespace: 'default' })) this.trackPod(p, false);
    this.offs.push(world.kube.onChange((ev) => this.onChange(ev)));
    this.offs.push(
      world.onFleetEvent((ev) => {
        if (ev.type === 'ready') this.readyNew.set(ev.instanceId, ev.group);
        else if (ev.type === 'terminated') this.readyNew.delete(ev.instanceId);
      }),
    );
  }

  private advance(now: number): void {
    const from = Math.max(this.lastAt, this.windowStart);
    const to = Math.min(now, this.windowEnd);
    if (to > from) {
      const dt = (to - from) / 1000;
      this.podSeconds += this.pending.size * dt;
      let unbound = 0;
      for (const bound of this.pending.values()) if (!bound) unbound++;
      this.unscheduledSeconds += unbound * dt;
    }
    this.lastAt = Math.max(this.lastAt, now);
  }

  private trackPod(p: PodShape, deleted: boolean): void {
    const uid = p.metadata?.uid;
    if (!uid || p.metadata?.namespace !== 'default') return;
    if (!deleted && p.status?.phase === 'Pending' && !p.metadata.deletionTimestamp) this.pending.set(uid, Boolean(p.spec?.nodeName));
    else this.pending.delete(uid);
  }

  private onChange(ev: ChangeEvent): void {
    if (ev.resource === 'pods') {
      this.advance(this.world.clock.now());
      this.trackPod(ev.object as PodShape, ev.type === 'DELETED');
      return;
    }
    if (ev.resource !== 'nodes') return;
    const n = ev.object as NodeShape;
    const name = n.metadata?.name;
    if (!name || !this.atRisk.has(name)) return;
    const touched = n.spec?.unschedulable === true || (n.spec?.taints ?? []).some((t) => t.key === 'spot-instance-terminating');
    if (!touched || this.cordonedAt.has(name) || ev.type === 'DELETED') return;
    this.cordonedAt.set(name, this.world.clock.now());
    if (this.readyNew.size < this.cordonedAt.size) this.drainedWithoutReady++;
    if (this.spotGuard) {
      const rec = rebalanceRecord(n.metadata?.annotations?.[RECORDS_ANNOTATION]);
      const own = rec?.spotGuard?.replacement?.node;
      this.ownReplacementReadyAtTouch.set(name, own !== undefined && this.world.nodeReady(own));
    }
  }

  pendingNow(): number {
    return this.pending.size;
  }

  finish(now: number): { podSeconds: number; unscheduledSeconds: number } {
    this.advance(now);
    for (const off of this.offs) off();
    return { podSeconds: this.podSeconds, unscheduledSeconds: this.unscheduledSeconds };
  }
}

function rebalanceRecord(raw: string | undefined): EventRecord | undefined {
  if (!raw) return undefined;
  return Object.values(parseRecords({ [RECORDS_ANNOTATION]: raw }).records).find((r) => r.kind === 'REBALANCE_RECOMMENDATION');
}

const sumCounts = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

function diffCounts(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

// --- one run -----------------------------------------------------------------------------------------

type Algorithm = MassRebalanceRow['algorithm'];

/** What the algorithm-specific part reports back to the common run. */
interface AlgorithmRun {
  /** Everything worth looking at after the run (MASS_REBALANCE_DUMP=<file> writes it). */
  dump(): unknown;
  /** True when every event has finished its work (the world's own settling is checked separately). */
  finished(): boolean;
  /** Per at-risk node: replacement declared Ready at (clock ms). */
  readyAt(): Map<string, number>;
  detected(): number;
  unbackedSuccesses(): number;
  duplicateClaims(): number;
  fallbacks(): number;
  stop(): Promise<void>;
  findings(): string[];
}

async function runOnce(algorithm: Algorithm, s: MassRebalanceSettings): Promise<MassRebalanceRow> {
  // The simulator's background timers (dozens of nodes joining at once) all listen on one abort
  // signal of the world, created lazily on first use; Node warns above 10 listeners. It is not a
  // leak (each listener goes when its timer fires), so raise the default while the run lasts.
  const previousMax = EventEmitter.defaultMaxListeners;
  EventEmitter.defaultMaxListeners = 500;
  try {
    return await runOnceInner(algorithm, s);
  } finally {
    EventEmitter.defaultMaxListeners = previousMax;
  }
}

async function runOnceInner(algorithm: Algorithm, s: MassRebalanceSettings): Promise<MassRebalanceRow> {
  const realStart = nowMs();
  const what = `${algorithm} mass-rebalance world`;
  const { world, clock, close } = await buildWorld(s, what);
  const asg = world.autoscaling!;
  const atRiskList = world.groupNodes(MASS_SPOT_GROUP);
  if (atRiskList.length !== s.spotNodes) throw new BenchError(`${what}: expected ${s.spotNodes} spot nodes, found ${atRiskList.length}`);
  const atRisk = new Set(atRiskList);
  const initialIds = new Set([...asg.instances(MASS_SPOT_GROUP), ...asg.instances(MASS_ON_DEMAND_GROUP)].map((i) => i.instanceId));
  const initialFleet = initialIds.size;

  const run = algorithm === 'spot-guard' ? await startSpotGuard(world, atRiskList) : startReference(world, clock, atRiskList, initialIds);
  const instrumentation = instrumentDesiredWrites(clock);
  const restore = onCleanup(`${what}: simulator instrumentation`, instrumentation.restore);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const noticesCtl = new AbortController();
  try {
    // The notices: seeded offsets within the window, node i of the group gets offset i.
    const random = prng(s.seed);
    const offsets = atRiskList.map(() => Math.floor(random() * s.noticeWindowMs));
    const lead = 2_000;
    const start = clock.now();
    const t0 = start + lead + Math.min(...offsets);
    const noticeAt = new Map<string, number>();
    const observer = new Observer(world, atRisk, t0, t0 + s.windowMs, algorithm === 'spot-guard');
    const callsBefore = asg.callCounts();
    // One driver in offset order (50 world timers at once would each listen on one abort signal).
    const schedule = atRiskList.map((node, i) => ({ node, at: start + lead + offsets[i]! })).sort((x, y) => x.at - y.at);
    void (async () => {
      for (const { node, at } of schedule) {
        await clock.sleep(Math.max(0, at - clock.now()), noticesCtl.signal);
        noticeAt.set(node, clock.now());
        world.imds(node).setRebalanceRecommendation({});
      }
    })().catch(() => undefined); // aborted at cleanup

    // Until every event is over and the world is quiet, and at least the pod-seconds window; bounded.
    let settled = false;
    let settledAt = NaN;
    const quiet = () => noticeAt.size === atRiskList.length && run.finished() && world.settled();
    await waitFor(
      () => {
        const now = clock.now();
        if (!settled && quiet()) {
          settled = true;
          settledAt = now;
        } else if (settled && !quiet()) {
          settled = false; // something started again (e.g. a late retry): not settled after all
        }
        return (settled && now >= t0 + s.windowMs) || now >= t0 + s.maxSimMs;
      },
      { what: `${what}: all ${atRiskList.length} events handled and the fleet settled (bound: ${s.maxSimMs / 60_000} simulated min)`, timeoutMs: s.realBudgetMs, pollMs: 200 },
    ).catch((err: unknown) => {
      // Too slow a machine: report what we have rather than nothing, marked as not settled.
      if (!(err instanceof BenchError)) throw err;
      settled = false;
    });
    const end = clock.now();
    const callsAfter = asg.callCounts();
    const integrals = observer.finish(end);
    loop.disable();

    // --- derive the row ---
    const readyAt = run.readyAt();
    const latencies: number[] = [];
    for (const [node, at] of readyAt) {
      const n = noticeAt.get(node);
      if (n !== undefined) latencies.push((at - n) / 1000);
    }
    const writes = instrumentation.writes;
    const undo = algorithm === 'spot-guard' ? writes.filter((w) => w.value === w.from - 1) : [];
    const plusOne = writes.filter((w) => !undo.includes(w));
    const applied = plusOne.reduce((a, w) => a + (w.value - w.from), 0);
    const live = (g: string) => asg.instances(g).filter((i) => i.lifecycleState !== 'Terminating').length;
    const nodes = world.kube.list<NodeShape>('nodes');
    const calls = diffCounts(callsAfter, callsBefore);
    const totalCalls = sumCounts(calls);
    const findings = run.findings();
    if (!settled) findings.push(`did not settle within ${s.maxSimMs / 60_000} simulated min / ${s.realBudgetMs / 1000} s real`);
    const claimedInstances = new Set(
      nodes.filter((n) => n.metadata?.annotations?.[REPLACEMENT_ANNOTATION]).map((n) => n.spec?.providerID?.split('/').pop()),
    );
    const unclaimedNew =
      algorithm === 'spot-guard'
        ? [MASS_SPOT_GROUP, MASS_ON_DEMAND_GROUP]
            .flatMap((g) => asg.instances(g))
            .filter((i) => i.lifecycleState !== 'Terminating' && !initialIds.has(i.instanceId) && !claimedInstances.has(i.instanceId)).length
        : null;
    const touchedEarly =
      algorithm === 'spot-guard' ? [...observer.ownReplacementReadyAtTouch.values()].filter((ok) => !ok).length : null;
    const row: MassRebalanceRow = {
      algorithm,
      events: atRiskList.length,
      detected: run.detected(),
      replacementReadyS: latencies.length ? summarize(latencies, 1) : null,
      replacementsDeclared: readyAt.size,
      unbackedSuccesses: run.unbackedSuccesses(),
      duplicateClaims: run.duplicateClaims(),
      fallbacksToOnDemand: run.fallbacks(),
      autoScalingCalls: totalCalls,
      autoScalingCallsPerEvent: round(totalCalls / atRiskList.length, 1),
      autoScalingCallsByAction: calls,
      plusOneRequests: plusOne.length,
      appliedIncrements: applied,
      lostCapacityUpdates: plusOne.length - applied,
      undoWrites: undo.length,
      pendingPodSeconds: round(integrals.podSeconds, 0),
      unscheduledPodSeconds: round(integrals.unscheduledSeconds, 0),
      podsPendingAtEnd: observer.pendingNow(),
      cordoned: observer.cordonedAt.size,
      drainedWithoutReadyReplacement: observer.drainedWithoutReady,
      touchedBeforeOwnReplacementReady: touchedEarly,
      unclaimedNewInstances: unclaimedNew,
      fleet: {
        initial: initialFleet,
        final: live(MASS_SPOT_GROUP) + live(MASS_ON_DEMAND_GROUP),
        spot: live(MASS_SPOT_GROUP),
        onDemand: live(MASS_ON_DEMAND_GROUP),
        desiredSpot: asg.group(MASS_SPOT_GROUP).desiredCapacity,
        desiredOnDemand: asg.group(MASS_ON_DEMAND_GROUP).desiredCapacity,
        atRiskStillRunning: atRiskList.filter((n) => world.nodeNames().includes(n)).length,
        schedulableReadyNodes: nodes.filter((n) => isReadyNode(n) && !n.spec?.unschedulable).length,
      },
      settled,
      simSecondsToSettle: round(((settled ? settledAt : end) - t0) / 1000, 0),
      realSeconds: 0,
      eventLoopDelayP99Ms: round(loop.percentile(99) / 1e6, 1),
      findings,
    };
    if (algorithm === 'spot-guard') {
      if (row.duplicateClaims > 0) findings.push(`PRODUCT: ${row.duplicateClaims} replacement node(s) claimed by more than one event`);
      if (touchedEarly) findings.push(`PRODUCT: ${touchedEarly} at-risk node(s) tainted/cordoned before their own replacement was Ready`);
      if (row.lostCapacityUpdates !== 0) findings.push(`PRODUCT: ${row.lostCapacityUpdates} lost capacity update(s) despite the Lease`);
      if (unclaimedNew) findings.push(`PRODUCT: ${unclaimedNew} instance(s) launched during the run that no event claimed (idle capacity)`);
      if (settled && row.fleet.final !== initialFleet) findings.push(`PRODUCT: fleet ${row.fleet.final} after settling, expected ${initialFleet}`);
    }
    const dumpTo = process.env.MASS_REBALANCE_DUMP;
    if (dumpTo) {
      const file = `${dumpTo}.${algorithm}.json`;
      const fleetNow = [MASS_SPOT_GROUP, MASS_ON_DEMAND_GROUP].flatMap((g) => asg.instances(g).map((i) => ({ ...i, initial: initialIds.has(i.instanceId) })));
      const nodeInfo = nodes.map((n) => ({ name: n.metadata?.name, ready: isReadyNode(n), unschedulable: n.spec?.unschedulable === true, annotations: n.metadata?.annotations }));
      writeFileSync(file, JSON.stringify({ row, noticeAt: Object.fromEntries(noticeAt), writes, fleet: fleetNow, nodes: nodeInfo, run: run.dump() }, null, 1));
      findings.push(`details written to ${file}`);
    }
    await run.stop();
    row.realSeconds = round((nowMs() - realStart) / 1000, 1);
    return row;
  } finally {
    noticesCtl.abort();
    loop.disable();
    restore();
    instrumentation.restore();
    await run.stop();
    await close();
  }
}

// --- Spot Guard ----------------------------------------------------------------------------------------

/** A logger for the agents that keeps nothing but a count of their warnings and errors by message. */
function countingLogger(): { logger: Logger; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const msg = String((JSON.parse(line) as { msg?: unknown }).msg ?? '');
          // One key per kind of message: numbers, ids and names folded.
          const key = msg.replace(/ip-[\d-]+\.ec2\.internal|i-[0-9a-f]+|rebalance-recommendation-[0-9a-f]+|[0-9a-f]{16}|\d+/g, '…').slice(0, 110);
          counts.set(key, (counts.get(key) ?? 0) + 1);
        } catch {
          // not JSON: ignore
        }
      }
      done();
    },
  });
  return { logger: createLogger({ level: 'warn', json: true, destination: sink }), counts };
}

async function startSpotGuard(world: SimWorld, atRisk: string[]): Promise<AlgorithmRun> {
  const env = {
    ENABLE_SPOT_GUARD: 'true',
    SPOT_ASG_NAME: MASS_SPOT_GROUP,
    ON_DEMAND_ASG_NAME: MASS_ON_DEMAND_GROUP,
    ENABLE_REBALANCE_DRAINING: 'true',
  };
  const agentLog = countingLogger();
  const agents = await world.runAgentsOnAllNodes(env, { logger: agentLog.logger });
  await withTimeout(Promise.all(agents.map((a) => a.ready)), 30_000, 'Spot Guard agents ready (instance metadata read)');
  for (const a of agents) if (a.fatal) throw new BenchError(`a Spot Guard agent stopped at start: ${a.fatal.message}`);
  const records = (): Map<string, EventRecord | undefined> => {
    const out = new Map<string, EventRecord | undefined>();
    for (const node of atRisk) {
      const live = world.kube.get<NodeShape>('nodes', undefined, node);
      const raw = live?.metadata?.annotations?.[RECORDS_ANNOTATION] ?? lastRaw.get(node);
      out.set(node, rebalanceRecord(raw));
    }
    return out;
  };
  // Records as last written before the Node was deleted (retired instances take their Node along).
  const lastRaw = new Map<string, string>();
  const off = world.kube.onChange((ev) => {
    if (ev.resource !== 'nodes') return;
    const n = ev.object as NodeShape;
    const raw = n.metadata?.annotations?.[RECORDS_ANNOTATION];
    if (n.metadata?.name && raw && atRisk.includes(n.metadata.name)) lastRaw.set(n.metadata.name, raw);
  });
  let stopped = false;
  return {
    finished: () => {
      const nodes = new Set(world.nodeNames());
      return [...records()].every(([node, rec]) => rec?.phase === 'Done' && !nodes.has(node));
    },
    readyAt: () => {
      const out = new Map<string, number>();
      for (const [node, rec] of records()) {
        const at = rec?.spotGuard?.replacement?.readyAt;
        if (at) out.set(node, Date.parse(at));
      }
      return out;
    },
    detected: () => [...records().values()].filter(Boolean).length,
    dump: () => Object.fromEntries(records()),
    unbackedSuccesses: () => 0, // by construction: each success is a distinct claimed node (duplicateClaims checks it)
    duplicateClaims: () => {
      const seen = new Map<string, number>();
      for (const rec of records().values()) {
        const r = rec?.spotGuard?.replacement?.node;
        if (r) seen.set(r, (seen.get(r) ?? 0) + 1);
      }
      return [...seen.values()].filter((c) => c > 1).reduce((a, c) => a + c - 1, 0);
    },
    fallbacks: () => [...records().values()].filter((r) => r?.spotGuard?.replacement?.capacityType === 'on-demand').length,
    findings: () => {
      const out: string[] = [];
      const phases = new Map<string, number>();
      for (const rec of records().values()) phases.set(rec?.phase ?? '(no record)', (phases.get(rec?.phase ?? '(no record)') ?? 0) + 1);
      const notDone = [...phases].filter(([p]) => p !== 'Done');
      if (notDone.length) out.push(`events not Done: ${notDone.map(([p, c]) => `${p}=${c}`).join(', ')}`);
      const warnings = [...agentLog.counts].sort((x, y) => y[1] - x[1]);
      if (warnings.length) out.push(`agent warnings: ${warnings.map(([m, c]) => `${c}× "${m}"`).join('; ')}`);
      return out;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      off();
    },
  };
}

// --- reference -------------------------------------------------------------------------------------------

function startReference(world: SimWorld, clock: ScaledClock, atRisk: string[], initialIds: Set<string>): AlgorithmRun {
  const asg = world.autoscaling!;
  const logger = silentLogger();
  // One SDK client and one Kubernetes client shared by the 50 handlers (each NTH pod would have its
  // own; sharing only saves sockets in this process, the requests are the same).
  const autoscaling = new AutoScalingClient({ region: world.region, endpoint: asg.url, credentials: SIM_AWS_CREDENTIALS, maxAttempts: 3 });
  const kube = new KubeApi({ kubeConfig: kubeConfigFromString(world.kube.kubeconfigYaml()), clock, logger, callTimeoutMs: Math.max(30_000, 2_000 * world.scale()) });
  const ctl = new AbortController();
  setMaxListeners(0, ctl.signal); // 50 handlers and their in-flight SDK calls listen on it
  const detected = new Set<string>();
  const done = new Set<string>();
  const readyAt = new Map<string, number>();
  const successes = new Map<string, number>();
  let unbacked = 0;
  let fallbacks = 0;
  const failures: string[] = [];
  const handlers = atRisk.map(
    (nodeName) =>
      new ReferenceHandler({
        nodeName,
        imdsUrl: world.imds(nodeName).url,
        autoscaling,
        kube,
        clock,
        logger,
        spotGroup: MASS_SPOT_GROUP,
        onDemandGroup: MASS_ON_DEMAND_GROUP,
        hooks: {
          onDetected: (node) => detected.add(node),
          onSuccess: (node, group, _expected, _inService, at) => {
            readyAt.set(node, at);
            const n = (successes.get(group) ?? 0) + 1;
            successes.set(group, n);
            const fresh = asg.instances(group).filter((i) => i.lifecycleState === 'InService' && !initialIds.has(i.instanceId)).length;
            if (fresh < n) unbacked++;
            if (group === MASS_ON_DEMAND_GROUP) fallbacks++;
          },
          onFailure: (_node, group, reason) => failures.push(`${group}: ${reason.replace(/i-[0-9a-f]+/g, 'i-…').slice(0, 90)}`),
          onDone: (node) => done.add(node),
        },
      }),
  );
  const runs = handlers.map((h) =>
    h.run(ctl.signal).catch((err: unknown) => {
      if (!ctl.signal.aborted) failures.push(`handler crashed: ${err instanceof Error ? err.message : String(err)}`);
    }),
  );
  let stopped: Promise<void> | undefined;
  return {
    finished: () => done.size === atRisk.length,
    readyAt: () => readyAt,
    detected: () => detected.size,
    dump: () => ({ readyAt: Object.fromEntries(readyAt), outcomes: Object.fromEntries(handlers.map((h, i) => [atRisk[i], h.outcome])), failures }),
    unbackedSuccesses: () => unbacked,
    duplicateClaims: () => 0,
    fallbacks: () => fallbacks,
    findings: () => {
      const byReason = new Map<string, number>();
      for (const f of failures) byReason.set(f.replace(/\d+/g, 'N'), (byReason.get(f.replace(/\d+/g, 'N')) ?? 0) + 1);
      return [...byReason].map(([r, c]) => `reference scale-up failure ×${c}: ${r}`);
    },
    stop: () => {
      stopped ??= (async () => {
        ctl.abort();
        await withTimeout(Promise.all(runs), 10_000, 'reference handlers to stop');
        autoscaling.destroy();
      })();
      return stopped;
    },
  };
}

// --- the section -----------------------------------------------------------------------------------------

export async function benchMassRebalance(settings: Partial<MassRebalanceSettings> = {}): Promise<MassRebalanceResult> {
  const s = { ...DEFAULT_MASS_REBALANCE, ...settings };
  const spotGuard = await runOnce('spot-guard', s);
  const reference = await runOnce('reference', s);
  return { settings: s, spotGuard, reference };
}

/** One side only (for investigating). */
export function runMassRebalanceSide(algorithm: Algorithm, settings: Partial<MassRebalanceSettings> = {}): Promise<MassRebalanceRow> {
  return runOnce(algorithm, { ...DEFAULT_MASS_REBALANCE, ...settings });
}

/** The two rows side by side, one metric per line. */
export function massRebalanceTable(r: MassRebalanceResult): string[] {
  const a = r.spotGuard;
  const b = r.reference;
  const lat = (x: MassRebalanceRow) => (x.replacementReadyS ? `${x.replacementReadyS.p50} / ${x.replacementReadyS.p99}` : '—');
  const fleet = (x: MassRebalanceRow) => `${x.fleet.final} (spot ${x.fleet.spot} + od ${x.fleet.onDemand}) of ${x.fleet.initial}`;
  const rows: [string, string, string][] = [
    ['', 'Spot Guard', 'reference (seeds)'],
    ['events detected', `${a.detected}/${a.events}`, `${b.detected}/${b.events}`],
    ['recommendation → Ready replacement p50 / p99 (sim s)', lat(a), lat(b)],
    ['replacements declared Ready', String(a.replacementsDeclared), String(b.replacementsDeclared)],
    ['  … not backed by a distinct new instance', String(a.unbackedSuccesses), String(b.unbackedSuccesses)],
    ['  … on-demand fallbacks', String(a.fallbacksToOnDemand), String(b.fallbacksToOnDemand)],
    ['Auto Scaling calls per event', String(a.autoScalingCallsPerEvent), String(b.autoScalingCallsPerEvent)],
    ['+1 requests / increments applied', `${a.plusOneRequests} / ${a.appliedIncrements}`, `${b.plusOneRequests} / ${b.appliedIncrements}`],
    ['lost capacity updates', String(a.lostCapacityUpdates), String(b.lostCapacityUpdates)],
    ['pod-seconds Pending (unscheduled)', `${a.pendingPodSeconds} (${a.unscheduledPodSeconds})`, `${b.pendingPodSeconds} (${b.unscheduledPodSeconds})`],
    ['pods Pending at the end', String(a.podsPendingAtEnd), String(b.podsPendingAtEnd)],
    ['nodes drained without a Ready replacement', `${a.drainedWithoutReadyReplacement} of ${a.cordoned}`, `${b.drainedWithoutReadyReplacement} of ${b.cordoned}`],
    ['final fleet (live instances)', fleet(a), fleet(b)],
    ['desired spot / on-demand at the end', `${a.fleet.desiredSpot} / ${a.fleet.desiredOnDemand}`, `${b.fleet.desiredSpot} / ${b.fleet.desiredOnDemand}`],
    ['at-risk instances still running', String(a.fleet.atRiskStillRunning), String(b.fleet.atRiskStillRunning)],
    ['new instances no event claimed (idle)', String(a.unclaimedNewInstances ?? '—'), String(b.unclaimedNewInstances ?? '—')],
    ['schedulable Ready nodes at the end', String(a.fleet.schedulableReadyNodes), String(b.fleet.schedulableReadyNodes)],
    ['settled after (sim s from 1st notice)', `${a.settled ? '' : 'NOT settled, '}${a.simSecondsToSettle}`, `${b.settled ? '' : 'NOT settled, '}${b.simSecondsToSettle}`],
    ['real s / event-loop delay p99 (ms)', `${a.realSeconds} / ${a.eventLoopDelayP99Ms}`, `${b.realSeconds} / ${b.eventLoopDelayP99Ms}`],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  return rows.map(([k, x, y]) => `  ${k.padEnd(w0)}  ${x.padEnd(w1)}  ${y}`);
}

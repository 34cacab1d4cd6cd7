/**
 * `npm run bench`: what BRIEF §8 asks us to measure, against the simulated world over real loopback
 * HTTP. Human-readable lines first; the LAST line of stdout is one JSON object with the numbers, so
 * scripts can `tail -n1`. Every wait has a deadline; any failure exits non-zero with one clear line.
 *
 * Sections 1–3: all times are real wall-clock milliseconds: those worlds run at speed 1 (systemClock
 * or ScaledClock(1)), so the agent's own sleeps and timeouts are real too.
 * Section 4 (mass rebalance, bench/mass-rebalance.ts): simulated seconds on a ScaledClock, Spot
 * Guard side by side with a re-implementation of the seeds' reference algorithm.
 * Section 5 (revert to spot, bench/revert.ts): simulated minutes on a ScaledClock: on-demand
 * node-minutes after a fallback (revert on vs off) and probes during an hour of flapping spot.
 *
 * Sections are independent functions returning their part of the result.
 */
import { cpus } from 'node:os';
import { IMDS_PATHS } from '../src/imds/paths.js';
import { silentLogger } from '../src/observability/logger.js';
import { ScaledClock, systemClock } from '../src/shared/clock.js';
import type { ChangeEvent } from '../src/sim/kube/types.js';
import { SimWorld } from '../src/sim/world.js';
import { RECORDS_ANNOTATION, parseRecords } from '../src/workflow/record.js';
import { METRIC_DEFINITIONS, benchMassRebalance, massRebalanceTable } from './mass-rebalance.js';
import { REVERT_DEFINITIONS, benchRevert, revertTable } from './revert.js';
import {
  BenchError,
  Mark,
  agentCli,
  nowMs,
  onCleanup,
  readRssMb,
  round,
  runCleanups,
  spawnNode,
  summarize,
  waitFor,
  withTimeout,
  type Summary,
} from './lib.js';

/** The whole bench must finish inside four minutes; this is the last-resort stop. */
const WATCHDOG_MS = 235_000;

const log = (line: string) => console.log(line);

interface NodeLike {
  metadata?: { name?: string; annotations?: Record<string, string>; deletionTimestamp?: string; ownerReferences?: { kind: string }[] };
  spec?: { unschedulable?: boolean; nodeName?: string };
  status?: { phase?: string };
}

const asNode = (ev: ChangeEvent) => ev.object as NodeLike;

function recordPhases(node: NodeLike): string[] {
  const raw = node.metadata?.annotations?.[RECORDS_ANNOTATION];
  if (!raw) return [];
  return Object.values(parseRecords({ [RECORDS_ANNOTATION]: raw }).records).map((r) => r.phase);
}

/** A started world, stopped by the section (`close`) or, on failure, by the bench's cleanup. */
async function startWorld(what: string, clock: SimWorld['clock']): Promise<{ world: SimWorld; close: () => Promise<void> }> {
  // Silent: the agents' and the simulator's logs must not interleave with the bench's stdout.
  const world = new SimWorld({ clock, logger: silentLogger() });
  await world.start();
  const unregister = onCleanup(what, () => world.stop());
  return {
    world,
    close: async () => {
      unregister();
      await withTimeout(world.stop(), 15_000, `stopping the ${what}`);
    },
  };
}

// --- 1. ITN → cordon ---------------------------------------------------------------------------------

/**
 * Processing latency: from the end of the monitor poll that first returned the ITN (onPass) to the
 * moment the API server stores `spec.unschedulable: true`. What happens in between is the agent's
 * own work: wake the workflow, GET the node, admit the notice (PATCH), cordon (PATCH).
 *
 * One fresh node and agent per sample, with only that agent running, so samples do not queue behind
 * each other's polls. CORDON_ONLY keeps each sample short (nothing to drain). The poll interval
 * (200 ms) does not enter the number — it is measured from the poll — it only shortens the bench.
 */
async function benchItnToCordon(samples: number, warmup: number): Promise<Summary> {
  const { world, close } = await startWorld('ITN world', systemClock);
  const latencies: number[] = [];
  for (let i = 0; i < warmup + samples; i++) {
    const name = `itn-${i}`;
    await world.addNode({ name });
    const firstPass = new Mark();
    const sawItn = new Mark();
    const cordoned = new Mark();
    const off = world.kube.onChange((ev) => {
      if (ev.resource === 'nodes' && asNode(ev).metadata?.name === name && asNode(ev).spec?.unschedulable === true) cordoned.set();
    });
    const agent = await world.startAgent(
      name,
      { CORDON_ONLY: 'true', IMDS_POLL_INTERVAL: '200ms' },
      {
        onPass: (notices) => {
          firstPass.set();
          if (notices.some((n) => n.kind === 'SPOT_ITN')) sawItn.set();
        },
      },
    );
    try {
      // Post the notice only once the agent is polling, so start-up work is not in the sample.
      await firstPass.wait(10_000, `first monitor poll of the agent on ${name}`);
      world.imds(name).setSpotInterruption({ action: 'terminate' });
      const seenAt = await sawItn.wait(5_000, `a poll that returns the ITN on ${name}`);
      const cordonedAt = await cordoned.wait(15_000, `${name} cordoned after its ITN`);
      if (i >= warmup) latencies.push(cordonedAt - seenAt);
    } finally {
      off();
      // Bounded: a hard stop that hangs would otherwise stall every later sample.
      await withTimeout(agent.kill(), 5_000, `hard stop of the agent on ${name}`);
    }
  }
  await close();
  return summarize(latencies);
}

// --- 2. drain of 110 pods ----------------------------------------------------------------------------

interface DrainResult {
  /** Cordon stored → record phase 'Drained' stored. */
  drainMs: number;
  /** Cordon → the first pod marked for deletion (eviction accepted). */
  firstEvictionMs: number;
  /** Cordon → the last of the 110 pods deleted from the API. */
  lastPodGoneMs: number;
  pods: number;
  apiCalls: Record<string, number>;
}

/**
 * One node with 110 workload pods (allocatable pods 120), 2 ms of real latency on every API call,
 * no PDB, and pods that stop at once (shutdown 0 s, on a speed-1 clock) so the number is the agent's
 * drain (evictions + waiting until the pods are gone) and the API round trips, not the workload.
 */
async function benchDrain110(): Promise<DrainResult> {
  const PODS = 110;
  const target = 'drain-target';
  const { world, close } = await startWorld('drain world', new ScaledClock(1));
  const big = { cpu: '64', memory: '512Gi', pods: '120' };
  // The target alone first, so the scheduler has nowhere else to put the 110 replicas.
  await world.addNode({ name: target, allocatable: big });
  world.addDaemonSet('kube-proxy'); // realistic: one DaemonSet pod that the drain skips
  world.addWorkload({ name: 'web', replicas: PODS, cpu: '10m', memory: '32Mi', shutdownSeconds: 0, startSeconds: 0 });
  const workloadPodsOnTarget = () =>
    world.kube
      .list<NodeLike>('pods', { namespace: 'default', fieldSelector: `spec.nodeName=${target}` })
      .filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
  await waitFor(() => workloadPodsOnTarget().length >= PODS, { what: `${PODS} pods running on ${target}`, timeoutMs: 30_000, pollMs: 20 });
  // Room elsewhere for the replacements (not needed for the drain to finish, but it is what a cluster has).
  await world.addNode({ name: 'spare-1', allocatable: big });
  await world.addNode({ name: 'spare-2', allocatable: big });
  world.kube.setLatencyMs(2);

  const firstPass = new Mark();
  await world.startAgent(target, { IMDS_POLL_INTERVAL: '200ms' }, { onPass: () => firstPass.set() });
  await firstPass.wait(10_000, `first monitor poll of the agent on ${target}`);

  const cordoned = new Mark();
  const drained = new Mark();
  const firstEviction = new Mark();
  const lastGone = new Mark();
  let gone = 0;
  const off = world.kube.onChange((ev) => {
    const o = asNode(ev);
    if (ev.resource === 'nodes' && o.metadata?.name === target) {
      if (o.spec?.unschedulable === true) cordoned.set();
      if (recordPhases(o).includes('Drained')) drained.set();
    } else if (ev.resource === 'pods' && o.spec?.nodeName === target && !(o.metadata?.ownerReferences ?? []).some((r) => r.kind === 'DaemonSet')) {
      if (o.metadata?.deletionTimestamp) firstEviction.set();
      if (ev.type === 'DELETED' && ++gone === PODS) lastGone.set();
    }
  });
  world.kube.resetRequestCounts();
  world.imds(target).setSpotInterruption({ action: 'terminate' });

  const cordonedAt = await cordoned.wait(15_000, `${target} cordoned`);
  const drainedAt = await drained.wait(60_000, `record phase Drained on ${target}`);
  const left = workloadPodsOnTarget().length;
  if (left !== 0) throw new BenchError(`drain reported Drained but ${left} workload pods are still on ${target}`);
  const apiCalls = world.kube.requestCounts();
  off();
  await close();
  return {
    drainMs: round(drainedAt - cordonedAt, 1),
    firstEvictionMs: round((firstEviction.at ?? NaN) - cordonedAt, 1),
    lastPodGoneMs: round((lastGone.at ?? NaN) - cordonedAt, 1),
    pods: PODS,
    apiCalls,
  };
}

// --- 3 + 4. the real CLI: start-up and idle RSS --------------------------------------------------------

interface ProcessResult {
  startupToFirstPollMs: number;
  rssIdleMb: number;
  rssPeakMb: number;
  idleMs: number;
  cli: string;
  built: boolean;
}

/**
 * Spawns `spot-guard run` as its own process against an in-process world with no agent on its node.
 * Start-up: spawn → the first request IMDS sees on the spot instance-action path (so it includes
 * Node start, module loading, config, the IMDS identity reads). Polled every 2 ms in this process,
 * so the figure has ~2 ms resolution. RSS: VmRSS after IDLE_MS of idling at the default 2 s poll.
 */
async function benchProcess(): Promise<ProcessResult> {
  const IDLE_MS = 5_000;
  const { world, close } = await startWorld('process world', systemClock);
  const name = 'cli-node';
  await world.addNode({ name });
  const cli = agentCli(['run']);
  // Exactly what the DaemonSet would give the agent, pointing at this world; default poll interval.
  const child = spawnNode(cli.args, world.agentEnv(name, { LOG_LEVEL: 'info' }));
  onCleanup('agent process', () => child.stop());
  const died = () => {
    if (child.exited()) throw new BenchError(`the agent process exited early; its last output:\n${child.tail()}`);
    return false;
  };
  const polls = () => world.imds(name).requestCount(IMDS_PATHS.spotInstanceAction);
  try {
    await waitFor(() => polls() > 0 || died(), { what: 'first IMDS poll of the spawned agent', timeoutMs: 30_000, pollMs: 2 });
  } catch (err) {
    if (err instanceof BenchError && !child.exited()) err.message += `\nagent output so far:\n${child.tail()}`;
    throw err;
  }
  const startup = nowMs() - child.spawnedAt;
  // Idle: no notices, only the poll loop. Check it is still polling so we measure a live agent.
  const before = polls();
  await new Promise((r) => setTimeout(r, IDLE_MS));
  died();
  if (polls() <= before) throw new BenchError(`the agent stopped polling IMDS while idle; its output:\n${child.tail()}`);
  const rss = await readRssMb(child.pid);
  await child.stop();
  await close();
  return { startupToFirstPollMs: round(startup, 1), rssIdleMb: rss.rssMb, rssPeakMb: rss.peakMb, idleMs: IDLE_MS, cli: cli.label, built: cli.built };
}

// --- main -----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = nowMs();
  log(`Spot Guard bench — node ${process.version}, ${cpus().length} CPUs; sections 1–3 in real wall-clock ms (worlds at speed 1), section 4 in simulated seconds`);

  log('\n[1/5] agent process: start-up to first poll, idle RSS');
  const proc = await benchProcess();
  log(`  cli: ${proc.cli}`);
  log(`  start-up (spawn → first spot/instance-action request): ${proc.startupToFirstPollMs} ms`);
  log(`  RSS after ${proc.idleMs / 1000} s idle: ${proc.rssIdleMb} MB (peak ${proc.rssPeakMb} MB)`);
  if (!proc.built) log('  note: tsx compiles on the fly and adds its loader: start-up and RSS are higher than the built bundle');

  log('\n[2/5] ITN → cordon latency (CORDON_ONLY, one fresh node + agent per sample)');
  const itn = await benchItnToCordon(100, 5);
  log(`  ${itn.samples} samples: p50 ${itn.p50} ms, p99 ${itn.p99} ms (min ${itn.min}, mean ${itn.mean}, max ${itn.max})`);

  log('\n[3/5] drain of one node with 110 pods, 2 ms API latency, shutdown 0 s, no PDB');
  const drain = await benchDrain110();
  log(`  cordon → Drained recorded: ${drain.drainMs} ms`);
  log(`  cordon → first eviction: ${drain.firstEvictionMs} ms; cordon → last pod gone: ${drain.lastPodGoneMs} ms`);
  const calls = Object.entries(drain.apiCalls)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  log(`  API calls from ITN to Drained: ${calls}`);

  const mr = await benchMassRebalance();
  const ms = mr.settings;
  log(
    `\n[4/5] mass rebalance: ${ms.spotNodes} spot nodes get recommendations within ${ms.noticeWindowMs / 1000} s, spot pool room ${ms.spotRoomPerAz.reduce((a, b) => a + b, 0)} ` +
      `(${ms.spotRoomPerAz.join('/')} per AZ), on-demand unlimited; ${ms.spotNodes} spot + ${ms.onDemandNodes} on-demand nodes, ${ms.pods} pods (${ms.podCpu}, PDB maxUnavailable ${ms.pdbMaxUnavailable})`,
  );
  log(
    `  simulated seconds, ScaledClock speed ${ms.speed}× (1 ms of real latency = ${ms.speed} ms simulated); launch ${ms.launchDelayMs / 1000} s, node join ${ms.joinDelayMs / 1000} s, terminate ${ms.terminateDelayMs / 1000} s; ` +
      `same world built fresh for each side; both detect through IMDS polling every 2 s`,
  );
  for (const line of massRebalanceTable(mr)) log(line);
  for (const [side, row] of [['Spot Guard', mr.spotGuard], ['reference', mr.reference]] as const) {
    for (const f of row.findings) log(`  ${side}: ${f}`);
  }
  log('  definitions:');
  for (const [k, v] of Object.entries(METRIC_DEFINITIONS)) log(`    ${k}: ${v}`);

  log('\n[5/5] revert to spot (simulated minutes, ScaledClock speed 120; the real agents as a DaemonSet on the e2e fleet: 3 spot + 1 on-demand)');
  const rv = await benchRevert();
  for (const line of revertTable(rv)) log(line);
  log('  definitions:');
  for (const [k, v] of Object.entries(REVERT_DEFINITIONS)) log(`    ${k}: ${v}`);

  log(`\nbench finished in ${round((nowMs() - started) / 1000, 1)} s`);
  const notes = [
    'All times are real wall-clock ms on this machine (sim worlds at speed 1, loopback HTTP, agent in-process for ITN and drain).',
    'itnToCordonMs: from the end of the monitor poll that first returned the ITN (onPass) to spec.unschedulable stored by the API server; CORDON_ONLY, 200 ms poll interval (not part of the measure), 5 warm-up samples dropped.',
    `drain110PodsMs: cordon stored → record phase Drained stored; 110 workload pods + 1 DaemonSet pod, 2 ms real latency per API call, pods shut down in 0 s and no PDB, so it measures the agent and the API, not the workload; the agent checks whether evicted pods are gone every 1 s, so a run can include such 1 s waits (this run: ${Math.max(0, (drain.apiCalls['LIST pods'] ?? 1) - 2)}; last pod gone at ${drain.lastPodGoneMs} ms).`,
    `massRebalance: simulated seconds at ScaledClock speed ${ms.speed}; Spot Guard = the real agents as a DaemonSet; reference = bench/reference-algorithm.ts (seeds 001–003: unlocked read-desired/+1, InService count every 10 s, last 10 activities scanned for "capacity", 120 s timeout, no retire); see massRebalance.definitions.`,
    `revertToSpot: simulated minutes at ScaledClock speed ${rv.settings.speed}, real agents on the e2e fleet; onDemandNodeMinutesRevertOn/Off integrate the live on-demand fallback instances over ${rv.settings.horizonMs / 60_000} min after the recommendation, spot back after ${rv.settings.spotReturnsAfterMs / 60_000} min (the revert-off run is carried to the horizon at its constant count); flappingHourProbes counts revert probes (spot +1s) in the hour of flapping and depends on where the probes fall relative to the 3 min phases; see revertToSpot.definitions.`,
    `agentRssIdleMb / startupToFirstPollMs: real CLI as a child process (${proc.built ? 'built bundle' : 'tsx from sources, which adds compile time and loader memory vs the built bundle'}), RSS (VmRSS) after ${proc.idleMs / 1000} s idle at the default 2 s poll; start-up is spawn → first spot/instance-action request, ~2 ms resolution.`,
  ].join(' ');
  const result = {
    itnToCordonMs: { p50: itn.p50, p99: itn.p99, samples: itn.samples },
    drain110PodsMs: drain.drainMs,
    agentRssIdleMb: proc.rssIdleMb,
    startupToFirstPollMs: proc.startupToFirstPollMs,
    massRebalance: { spotGuard: mr.spotGuard, reference: mr.reference, settings: mr.settings, definitions: METRIC_DEFINITIONS },
    revertToSpot: {
      onDemandNodeMinutesRevertOn: rv.onDemandNodeMinutes.revertOn.onDemandNodeMinutes,
      onDemandNodeMinutesRevertOff: rv.onDemandNodeMinutes.revertOff.onDemandNodeMinutes,
      flappingHourProbes: rv.flapping.probes,
      onDemandNodeMinutes: rv.onDemandNodeMinutes,
      flapping: rv.flapping,
      settings: rv.settings,
      definitions: REVERT_DEFINITIONS,
    },
    nodeVersion: process.version,
    cpus: cpus().length,
    notes,
    details: {
      itnToCordonMs: itn,
      drain: { firstEvictionMs: drain.firstEvictionMs, lastPodGoneMs: drain.lastPodGoneMs, pods: drain.pods, apiCalls: drain.apiCalls },
      agentProcess: { cli: proc.cli, built: proc.built, rssPeakMb: proc.rssPeakMb, idleMs: proc.idleMs },
    },
  };
  log(JSON.stringify(result));
}

async function fail(err: unknown): Promise<never> {
  const msg = err instanceof BenchError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  console.error(`bench FAILED: ${msg}`);
  await runCleanups();
  process.exit(1);
}

const watchdog = setTimeout(() => void fail(new BenchError(`the bench did not finish within ${WATCHDOG_MS / 1000} s`)), WATCHDOG_MS);
process.once('SIGINT', () => void fail(new BenchError('interrupted')));

try {
  await main();
} catch (err) {
  await fail(err);
}
clearTimeout(watchdog);
await runCleanups();
// Exit explicitly: HTTP keep-alive agents of the in-process Kubernetes clients may hold the loop open.
process.exit(0);

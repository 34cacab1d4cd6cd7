import { workflowPolicy } from '../agent.js';
import { REPLACEMENT_ANNOTATION, parseClaim } from '../capacity/capacity-ops.js';
import { loadConfig } from '../config/load.js';
import type { Logger } from '../observability/logger.js';
import { ScaledClock } from '../shared/clock.js';
import { decide } from '../workflow/decide.js';
import { RECORDS_ANNOTATION, parseRecords } from '../workflow/record.js';
import { applyAction } from './actions.js';
import type { FleetEvent } from './fleet.js';
import type { Scenario } from './scenario.js';
import { Timeline, formatEntry, type TimelineEntry } from './timeline.js';
import { SimWorld } from './world.js';

export interface ScenarioSummary {
  scenario: string;
  settled: boolean;
  simulatedSeconds: number;
  evictions: number;
  podsRescheduled: number;
  podsPendingAtEnd: number;
  maxPodsPending: number;
  /** Per node that got a notice: simulated seconds from the notice to cordon and to drained. */
  nodes: Record<string, { noticeToCordonSeconds?: number; noticeToDrainedSeconds?: number; cordoned: boolean; phases: string[] }>;
  /** Per Auto Scaling group at the end: desired capacity, InService instances, Ready nodes. */
  groups: Record<string, { desired: number; inService: number; readyNodes: number }>;
  entries: TimelineEntry[];
}

export interface RunOptions {
  /** Agents' own logs (default: warnings only). */
  agentLogger: Logger;
  worldLogger: Logger;
  /** Each timeline line as it happens. */
  print?: (line: string) => void;
}

/** Builds the world a scenario describes, runs real agents on it, applies its script, reports. */
export async function runScenario(scenario: Scenario, opts: RunOptions): Promise<ScenarioSummary> {
  const clock = new ScaledClock(scenario.speed);
  const world = new SimWorld({
    clock,
    logger: opts.worldLogger,
    imdsMode: scenario.imdsMode,
    aemmDynamicTimes: scenario.aemmDynamicTimes,
  });
  await world.start();
  try {
    await populateWorld(world, scenario);
    const expected = scenario.workloads.reduce((n, w) => n + w.replicas, 0) + scenario.daemonSets.length * world.nodeNames().length;
    await waitFor(clock, 120_000, () => runningPods(world) >= expected);

    const start = clock.now();
    const timeline = new Timeline(world.kube, () => clock.now(), start, (e) => opts.print?.(formatEntry(e)));
    timeline.attach();
    const placed = world.kube.list<{ spec?: { nodeName?: string } }>('pods').filter((p) => p.spec?.nodeName).length;
    const groups = scenario.groups.length ? ` (${scenario.groups.length} Auto Scaling group(s))` : '';
    timeline.add('world', `${world.nodeNames().length} nodes${groups}, ${placed} pods running; agents starting`);
    if (world.autoscaling) world.onFleetEvent((ev) => timeline.add('world', fleetEventText(ev), ev.node));

    const env = scenario.agent;
    const startOne = async (node: string) => {
      await world.startAgent(node, env, { logger: opts.agentLogger });
    };
    const withoutAgent = new Set(scenario.nodes.filter((n) => !n.agent).map((n) => n.name));
    if (scenario.groups.length) {
      // The agent as a DaemonSet: nodes that join later get one too.
      await world.runAgentsOnAllNodes(env, { logger: opts.agentLogger }, { skip: (n) => withoutAgent.has(n) });
    } else {
      await Promise.all(scenario.nodes.filter((n) => n.agent).map((n) => startOne(n.name)));
    }
    await Promise.all(world.nodeNames().map((n) => world.agent(n)?.ready));

    const noticeAt = new Map<string, number>();
    const noticed = (node: string) => {
      if (!noticeAt.has(node)) noticeAt.set(node, clock.now() - start);
    };
    const actions = [...scenario.actions].sort((a, b) => a.at - b.at);
    for (const a of actions) {
      const wait = start + a.at - clock.now();
      if (wait > 0) await clock.sleep(wait);
      const text = await applyAction(world, a, startOne, (node, what) => {
        timeline.add('world', what, node);
        if (a.do === 'rebalance-group' || a.do === 'spot-reclaim') noticed(node);
      });
      if (a.node && ['spot-itn', 'rebalance', 'scheduled-event', 'asg-terminate', 'spot-reclaim'].includes(a.do)) noticed(a.node);
      timeline.add('world', text, a.node);
    }

    const agentConfig = loadConfig([], { NODE_NAME: 'x', ...env });
    const policyFor = workflowPolicy(agentConfig);
    // With revert to spot on, on-demand fallback capacity is work still to do (reverted later).
    const revertPending = () =>
      agentConfig.enableSpotGuard && agentConfig.spotGuardRevert && agentConfig.spotGuardRevertWindow.trim().toLowerCase() !== 'never'
        ? world.kube
            .list<{ metadata: { annotations?: Record<string, string> } }>('nodes')
            .some((n) => parseClaim(n.metadata.annotations?.[REPLACEMENT_ANNOTATION])?.fallback)
        : false;
    const settled = await waitFor(clock, Math.max(0, start + scenario.timeout - clock.now()), () => {
      const quietFor = clock.now() - start - (timeline.entries.at(-1)?.t ?? 0);
      return (
        quietFor > 20_000 && nothingToDo(world, policyFor, clock.now()) && terminatingPods(world) === 0 && world.settled() && !revertPending()
      );
    });
    timeline.add('world', settled ? 'settled' : 'timeout reached');
    timeline.detach();

    const nodes: ScenarioSummary['nodes'] = {};
    for (const name of new Set([...noticeAt.keys(), ...timeline.cordonedAt.keys()])) {
      const node = world.kube.get<{ spec?: { unschedulable?: boolean }; metadata: { annotations?: Record<string, string> } }>(
        'nodes',
        undefined,
        name,
      );
      const recs = parseRecords(node?.metadata.annotations ?? {}).records;
      const n0 = noticeAt.get(name);
      const c = timeline.cordonedAt.get(name);
      const d = timeline.drainedAt.get(name);
      nodes[name] = {
        cordoned: node?.spec?.unschedulable === true,
        phases: Object.values(recs).map((r) => `${r.kind}:${r.phase}`),
        ...(n0 !== undefined && c !== undefined ? { noticeToCordonSeconds: round((c - n0) / 1000) } : {}),
        ...(n0 !== undefined && d !== undefined ? { noticeToDrainedSeconds: round((d - n0) / 1000) } : {}),
      };
    }
    return {
      scenario: scenario.name,
      settled,
      simulatedSeconds: round((clock.now() - start) / 1000),
      evictions: timeline.evictions,
      podsRescheduled: timeline.rescheduled,
      podsPendingAtEnd: timeline.pendingPods(),
      maxPodsPending: timeline.maxPending,
      nodes,
      groups: groupSummaries(world),
      entries: timeline.entries,
    };
  } finally {
    await world.stop();
  }
}

/** Builds what a scenario declares: static nodes, Auto Scaling groups (their instances as nodes), capacity, DaemonSets, workloads. */
export async function populateWorld(world: SimWorld, scenario: Scenario): Promise<void> {
  for (const n of scenario.nodes) await world.addNode(n);
  if (scenario.groups.length) {
    const t = scenario.autoscaling ?? {};
    const asg = await world.enableAutoScaling({
      ...(t.launchDelay !== undefined ? { launchDelayMs: t.launchDelay } : {}),
      ...(t.terminateDelay !== undefined ? { terminateDelayMs: t.terminateDelay } : {}),
      ...(t.launchRetry !== undefined ? { launchRetryMs: t.launchRetry } : {}),
    });
    for (const { joinDelay, ...g } of scenario.groups) await world.addGroup({ ...g, joinDelayMs: joinDelay });
    // Pools limit launches from now on; the groups' initial instances already exist.
    for (const [az, n] of Object.entries(scenario.capacity?.spot ?? {})) asg.setSpotCapacity(az, n);
    for (const [az, n] of Object.entries(scenario.capacity?.onDemand ?? {})) asg.setOnDemandCapacity(az, n);
  }
  for (const ds of scenario.daemonSets) world.addDaemonSet(ds);
  for (const w of scenario.workloads) world.addWorkload(w);
}

function fleetEventText(ev: FleetEvent): string {
  switch (ev.type) {
    case 'launched':
      return `Auto Scaling ${ev.group}: launching ${ev.instanceId} in ${ev.az}`;
    case 'joined':
      return `Auto Scaling ${ev.group}: ${ev.instanceId} InService; node registered (NotReady until kubelet is up)`;
    case 'ready':
      return `node Ready (${ev.group}, ${ev.instanceId})`;
    case 'terminated':
      return `Auto Scaling ${ev.group}: ${ev.instanceId} terminated`;
  }
}

function groupSummaries(world: SimWorld): ScenarioSummary['groups'] {
  const out: ScenarioSummary['groups'] = {};
  for (const name of world.autoscaling?.groupNames() ?? []) {
    const g = world.autoscaling?.group(name);
    if (!g) continue;
    const readyNodes = world.groupNodes(name).filter((n) => world.nodeReady(n)).length;
    out[name] = { desired: g.desiredCapacity, inService: g.instances.filter((i) => i.lifecycleState === 'InService').length, readyNodes };
  }
  return out;
}

const round = (n: number) => Math.round(n * 10) / 10;

async function waitFor(clock: ScaledClock, ms: number, cond: () => boolean): Promise<boolean> {
  const end = clock.now() + ms;
  while (clock.now() < end) {
    if (cond()) return true;
    await clock.sleep(1_000);
  }
  return cond();
}

type PodLike = { metadata: { deletionTimestamp?: string }; spec?: { nodeName?: string }; status?: { phase?: string } };

function runningPods(world: SimWorld): number {
  return world.kube.list<PodLike>('pods').filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp).length;
}

function terminatingPods(world: SimWorld): number {
  return world.kube.list<PodLike>('pods').filter((p) => p.metadata.deletionTimestamp).length;
}

function nothingToDo(world: SimWorld, policy: ReturnType<typeof workflowPolicy>, now: number): boolean {
  for (const name of world.nodeNames()) {
    const node = world.kube.get<{ metadata: { annotations?: Record<string, string> }; status?: { nodeInfo?: { bootID?: string } } }>(
      'nodes',
      undefined,
      name,
    );
    const raw = node?.metadata.annotations?.[RECORDS_ANNOTATION];
    if (!raw) continue;
    for (const rec of Object.values(parseRecords({ [RECORDS_ANNOTATION]: raw }).records)) {
      const step = decide(rec, { now, node: { bootId: node?.status?.nodeInfo?.bootID ?? '' }, policy });
      if (step.type === 'cordon' || step.type === 'drain' || step.type === 'uncordon') return false;
      if (step.type === 'wait' && step.until !== undefined) return false;
    }
  }
  return true;
}

export function formatSummary(s: ScenarioSummary): string {
  const lines = [
    '',
    `Summary of "${s.scenario}" (${s.settled ? 'settled' : 'did NOT settle'} after ${s.simulatedSeconds} simulated s)`,
    `  pods evicted: ${s.evictions}   pods rescheduled: ${s.podsRescheduled}   pods Pending at end: ${s.podsPendingAtEnd} (max ${s.maxPodsPending})`,
  ];
  for (const [name, g] of Object.entries(s.groups)) {
    lines.push(`  group ${name}: desired ${g.desired}, InService ${g.inService}, Ready nodes ${g.readyNodes}`);
  }
  for (const [name, n] of Object.entries(s.nodes)) {
    const parts = [
      n.noticeToCordonSeconds !== undefined ? `notice→cordon ${n.noticeToCordonSeconds} s` : null,
      n.noticeToDrainedSeconds !== undefined ? `notice→drained ${n.noticeToDrainedSeconds} s` : null,
      n.cordoned ? 'cordoned' : 'schedulable',
      n.phases.length ? `events ${n.phases.join(', ')}` : null,
    ].filter(Boolean);
    lines.push(`  ${name}: ${parts.join('; ')}`);
  }
  return lines.join('\n');
}

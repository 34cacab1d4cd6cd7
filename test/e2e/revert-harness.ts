/**
 * Helpers for the revert-to-spot end-to-end tests: a watch over the whole run (probes, reverts in
 * flight, fallback nodes cordoned without a Ready replacement, schedulable capacity), fallback
 * creation, launches, write counters.
 */
import { Writable } from 'node:stream';
import { REPLACEMENT_ANNOTATION, parseClaim } from '../../src/capacity/capacity-ops.js';
import { REVERT_ANNOTATION, parseRevert, type RevertRecord } from '../../src/capacity/revert-record.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import type { SimInstanceEvent } from '../../src/sim/autoscaling/index.js';
import type { SimWorld } from '../../src/sim/world.js';
import { waitUntil } from './harness.js';
import { ON_DEMAND, SPOT, liveInstances, type SpotGuardWorld } from './spot-guard-harness.js';

export interface NodeShape {
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean; providerID?: string };
  status?: { conditions?: { type: string; status: string }[] };
}
export interface PodShape {
  metadata: { name: string; namespace?: string; deletionTimestamp?: string };
  spec?: { nodeName?: string };
}

export const MIN = 60_000;
export const fleetSize = (w: SimWorld) => liveInstances(w, SPOT).length + liveInstances(w, ON_DEMAND).length;
export const nodes = (w: SimWorld) => w.kube.list<NodeShape>('nodes');
export const getNode = (w: SimWorld, name: string) => w.kube.get<NodeShape>('nodes', undefined, name);
export const isReady = (n: NodeShape | undefined) => n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
export const claimOf = (n: NodeShape) => parseClaim(n.metadata.annotations?.[REPLACEMENT_ANNOTATION]);
export const isFallback = (n: NodeShape) => {
  const c = claimOf(n);
  return Boolean(c?.fallback && c.capacityType === 'on-demand');
};
export const fallbackNodes = (w: SimWorld) => nodes(w).filter(isFallback);
export const revertOf = (n: NodeShape | undefined) => (n ? parseRevert(n.metadata.annotations ?? {}).record : null);
/** Ready, schedulable nodes: the capacity pods can land on. */
export const schedulable = (w: SimWorld) => nodes(w).filter((n) => isReady(n) && !n.spec?.unschedulable).length;
export const pendingPods = (w: SimWorld) =>
  w.kube.list<PodShape>('pods').filter((p) => p.metadata.namespace === 'default' && !p.spec?.nodeName && !p.metadata.deletionTimestamp).length;

export interface Probe {
  id: string;
  node: string;
  startedAt: number;
  /** When the record went away without reaching Cordoned (a failed probe), or reached Done. */
  endedAt?: number;
  outcome?: 'failed' | 'reverted';
  requests: number;
  last: RevertRecord;
}

/**
 * Watches every node change for the whole scenario: revert probes (a new revert record id is a new
 * probe), reverts in flight at once, fallback nodes cordoned without a Ready replacement, and the
 * lowest number of schedulable Ready nodes.
 */
export function watchReverts(world: SimWorld) {
  const probes = new Map<string, Probe>();
  const current = new Map<string, RevertRecord>();
  const violations: string[] = [];
  const touchedBaseline: string[] = [];
  const baseline = new Set(nodes(world).filter((n) => n.metadata.labels?.['eks.amazonaws.com/capacityType'] === 'ON_DEMAND').map((n) => n.metadata.name));
  let minSchedulable = schedulable(world);
  let maxInFlight = 0;
  let maxPending = 0;
  const inFlightSamples: string[][] = [];
  const unsubscribe = world.kube.onChange((ev) => {
    maxPending = Math.max(maxPending, pendingPods(world));
    if (ev.resource !== 'nodes') return;
    const n = ev.object as unknown as NodeShape;
    const name = n.metadata.name;
    minSchedulable = Math.min(minSchedulable, schedulable(world));
    if (baseline.has(name) && (n.spec?.unschedulable || n.metadata.annotations?.[REVERT_ANNOTATION])) touchedBaseline.push(name);
    const rec = ev.type === 'DELETED' ? null : revertOf(n);
    const prev = current.get(name);
    const now = world.clock.now();
    if (rec) {
      const p = probes.get(rec.id) ?? { id: rec.id, node: name, startedAt: Date.parse(rec.startedAt), requests: 0, last: rec };
      p.requests = Math.max(p.requests, rec.requests.length);
      p.last = rec;
      if (rec.phase === 'Done' && !p.outcome) {
        p.outcome = 'reverted';
        p.endedAt = now;
      }
      probes.set(rec.id, p);
      current.set(name, rec);
    } else if (prev) {
      current.delete(name);
      const p = probes.get(prev.id);
      if (p && !p.outcome && ev.type !== 'DELETED' && prev.phase === 'Probing') {
        p.outcome = 'failed';
        p.endedAt = now;
      }
    }
    const inFlight = [...current.entries()].filter(([, r]) => r.phase !== 'Done').map(([node]) => node);
    if (inFlight.length > maxInFlight) {
      maxInFlight = inFlight.length;
      inFlightSamples.push(inFlight);
    }
    // Replacement first: a fallback node is cordoned (or drained) only once its spot node is Ready.
    if (ev.type !== 'DELETED' && isFallback(n) && (n.spec?.unschedulable || rec?.phase === 'Cordoned' || rec?.phase === 'Draining')) {
      const repl = rec?.replacement ? getNode(world, rec.replacement.node) : undefined;
      if (!isReady(repl)) violations.push(`${name} cordoned/draining (phase ${rec?.phase ?? 'none'}) without a Ready replacement (${rec?.replacement?.node ?? 'none'})`);
    }
  });
  return {
    probes,
    violations,
    touchedBaseline,
    inFlightSamples,
    get minSchedulable() {
      return minSchedulable;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get maxPending() {
      return maxPending;
    },
    /** Probes in start order. */
    list: () => [...probes.values()].sort((a, b) => a.startedAt - b.startedAt),
    unsubscribe,
  };
}

/** Launches per group from now on. */
export function watchLaunches(world: SimWorld) {
  const launched: SimInstanceEvent[] = [];
  const unsubscribe = world.autoscaling!.onInstance((ev) => {
    if (ev.type === 'launched') launched.push(ev);
  });
  return { in: (group: string) => launched.filter((e) => e.group === group).length, unsubscribe };
}

/** Spot exhausted, a rebalance on a spot node → an on-demand fallback node. Resolves with its name. */
export async function makeFallback(t: SpotGuardWorld, atRisk: string): Promise<string> {
  const { world, clock } = t;
  const before = new Set(fallbackNodes(world).map((n) => n.metadata.name));
  world.imds(atRisk).setRebalanceRecommendation({});
  let made = '';
  await waitUntil(
    clock,
    () => {
      made = fallbackNodes(world).find((n) => !before.has(n.metadata.name))?.metadata.name ?? '';
      return made !== '' && !world.nodeNames().includes(atRisk);
    },
    { what: `fallback for ${atRisk} in place`, timeoutMs: 900_000 },
  );
  return made;
}

/** JSON log lines of one agent. */
export function captureLogs(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          lines.push((JSON.parse(line) as { msg?: string }).msg ?? '');
        } catch {
          lines.push(line);
        }
      }
      cb();
    },
  });
  return { logger: createLogger({ level: 'info', json: true, destination: stream }), lines };
}

const WRITE_VERBS = /^(CREATE|UPDATE|PATCH|DELETE|DELETECOLLECTION) /;
export const kubeWrites = (w: SimWorld) => Object.fromEntries(Object.entries(w.kube.requestCounts()).filter(([k]) => WRITE_VERBS.test(k)));
export const asgWrites = (w: SimWorld) =>
  Object.fromEntries(Object.entries(w.autoscaling!.callCounts()).filter(([k]) => /^(SetDesiredCapacity|TerminateInstanceInAutoScalingGroup|UpdateAutoScalingGroup)$/.test(k)));


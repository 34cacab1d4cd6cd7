import { REPLACEMENT_ANNOTATION, parseClaim } from '../capacity/replacement.js';
import { parseRevert } from '../capacity/revert-record.js';
import { RECORDS_ANNOTATION, parseRecords } from '../workflow/record.js';
import type { SimKube } from './kube/index.js';

export interface TimelineEntry {
  /** Simulated ms since the scenario started. */
  t: number;
  node?: string;
  kind: 'world' | 'node' | 'pod' | 'agent';
  text: string;
}

interface NodeShape {
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean; taints?: { key: string; value?: string; effect: string }[] };
}
interface PodShape {
  metadata: { name: string; namespace?: string; deletionTimestamp?: string; ownerReferences?: { kind: string }[] };
  spec?: { nodeName?: string };
  status?: { phase?: string };
}

const taintText = (t: { key: string; value?: string; effect: string }) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;

/**
 * Watches the simulated API server and turns changes into a readable story: notice → taint →
 * cordon → evictions → pods rescheduled. Also collects the numbers for the summary.
 */
export class Timeline {
  readonly entries: TimelineEntry[] = [];
  private readonly nodes = new Map<string, NodeShape>();
  private readonly pods = new Map<string, PodShape>();
  private unsubscribe: (() => void) | null = null;
  /** First time each node was seen cordoned, simulated ms since start. */
  readonly cordonedAt = new Map<string, number>();
  readonly drainedAt = new Map<string, number>();
  evictions = 0;
  rescheduled = 0;
  maxPending = 0;

  constructor(
    private readonly kube: SimKube,
    private readonly now: () => number,
    private readonly start: number,
    private readonly out?: (e: TimelineEntry) => void,
  ) {}

  add(kind: TimelineEntry['kind'], text: string, node?: string): void {
    const e: TimelineEntry = { t: this.now() - this.start, kind, text, ...(node ? { node } : {}) };
    this.entries.push(e);
    this.out?.(e);
  }

  attach(): void {
    for (const n of this.kube.list<NodeShape>('nodes')) this.nodes.set(n.metadata.name, structuredClone(n));
    for (const p of this.kube.list<PodShape>('pods')) this.pods.set(podKey(p), structuredClone(p));
    this.unsubscribe = this.kube.onChange((ev) => {
      if (ev.resource === 'nodes') this.onNode(ev.type, ev.object as unknown as NodeShape);
      if (ev.resource === 'pods') this.onPod(ev.type, ev.object as unknown as PodShape);
    });
  }

  detach(): void {
    this.unsubscribe?.();
  }

  pendingPods(): number {
    return [...this.pods.values()].filter((p) => !p.spec?.nodeName && !p.metadata.deletionTimestamp).length;
  }

  private onNode(type: string, n: NodeShape): void {
    const name = n.metadata.name;
    const prev = this.nodes.get(name);
    if (type === 'DELETED') {
      this.nodes.delete(name);
      this.add('node', 'node removed from the cluster', name);
      return;
    }
    this.nodes.set(name, structuredClone(n));
    if (!prev) {
      this.add('node', 'node joined', name);
      return;
    }
    const before = new Set((prev.spec?.taints ?? []).map(taintText));
    const after = new Set((n.spec?.taints ?? []).map(taintText));
    for (const t of after) if (!before.has(t)) this.add('node', `tainted ${t}`, name);
    for (const t of before) if (!after.has(t)) this.add('node', `taint removed ${t}`, name);
    const was = prev.spec?.unschedulable === true;
    const is = n.spec?.unschedulable === true;
    if (!was && is) {
      if (!this.cordonedAt.has(name)) this.cordonedAt.set(name, this.now() - this.start);
      this.add('node', 'cordoned', name);
    }
    if (was && !is) this.add('node', 'uncordoned', name);
    const claimBefore = prev.metadata.annotations?.[REPLACEMENT_ANNOTATION];
    const claim = parseClaim(n.metadata.annotations?.[REPLACEMENT_ANNOTATION]);
    if (claim && !claimBefore) {
      this.add('agent', `claimed as the replacement for ${claim.node} (${claim.fallback ? 'on-demand fallback' : claim.capacityType})`, name);
    }
    const revertBefore = parseRevert(prev.metadata.annotations ?? {}).record;
    const revertNow = parseRevert(n.metadata.annotations ?? {}).record;
    if (revertNow && revertNow.phase !== revertBefore?.phase) {
      this.add('agent', `revert to spot ${revertNow.id}: ${revertNow.phase}${revertNow.phase === 'Probing' ? ` (spot +1 on the spot group)` : ''}`, name);
    } else if (revertBefore && !revertNow) {
      this.add('agent', `revert to spot ${revertBefore.id}: spot probe failed; backing off`, name);
    }
    const phasesBefore = phases(prev);
    for (const [id, phase] of phases(n)) {
      if (phasesBefore.get(id) !== phase) {
        this.add('agent', `event ${id}: ${phase}`, name);
        if (phase === 'Drained' || phase === 'AwaitingReboot') this.drainedAt.set(name, this.now() - this.start);
      }
    }
  }

  private onPod(type: string, p: PodShape): void {
    const key = podKey(p);
    const prev = this.pods.get(key);
    if (type === 'DELETED') {
      this.pods.delete(key);
      this.add('pod', `pod ${key} gone`, p.spec?.nodeName);
      return;
    }
    this.pods.set(key, structuredClone(p));
    if (!prev) {
      if (!p.spec?.nodeName) this.add('pod', `pod ${key} created (Pending)`);
    } else {
      if (!prev.metadata.deletionTimestamp && p.metadata.deletionTimestamp) {
        this.evictions++;
        this.add('pod', `pod ${key} terminating (evicted)`, p.spec?.nodeName);
      }
      if (!prev.spec?.nodeName && p.spec?.nodeName) {
        this.rescheduled++;
        this.add('pod', `pod ${key} scheduled on ${p.spec.nodeName}`, p.spec.nodeName);
      }
    }
    this.maxPending = Math.max(this.maxPending, this.pendingPods());
  }
}

function podKey(p: PodShape): string {
  return `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;
}

function phases(n: NodeShape): Map<string, string> {
  const raw = n.metadata.annotations?.[RECORDS_ANNOTATION];
  if (!raw) return new Map();
  return new Map(Object.entries(parseRecords({ [RECORDS_ANNOTATION]: raw }).records).map(([id, r]) => [id, r.phase]));
}

export function formatEntry(e: TimelineEntry): string {
  const t = `t+${(e.t / 1000).toFixed(1).padStart(6)}s`;
  const node = (e.node ?? '').padEnd(10);
  return `${t}  ${node}  ${e.text}`;
}

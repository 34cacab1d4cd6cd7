import type { Logger } from '../observability/logger.js';
import { applyNodeChange } from './apply-change.js';
import type { EvictionResult, NodeChange, NodePort, NodeView, PodPort, PodView } from './types.js';

/**
 * DRY_RUN: reads go to the real API, writes are logged as "would have …" and kept in memory only,
 * so the workflow runs exactly as it would (and does not repeat itself) while nothing is written.
 */
export class DryRunKube implements NodePort, PodPort {
  private readonly nodeOverlay = new Map<string, NodeChange>();
  private readonly evicted = new Set<string>();

  constructor(
    private readonly real: NodePort & PodPort,
    private readonly logger: Logger,
  ) {}

  async getNode(name: string): Promise<NodeView | null> {
    const node = await this.real.getNode(name);
    return node ? applyNodeChange(node, this.nodeOverlay.get(name)) : null;
  }

  async listNodes(): Promise<NodeView[]> {
    return (await this.real.listNodes()).map((n) => applyNodeChange(n, this.nodeOverlay.get(n.name)));
  }

  async updateNode(name: string, mutate: (node: NodeView) => NodeChange | null): Promise<NodeView> {
    const node = await this.getNode(name);
    if (!node) throw new Error(`node ${name} not found`);
    const change = mutate(node);
    if (!change) return node;
    this.logger.info({ node: name, change: describeChange(change) }, `dry-run: would have patched node ${name}`);
    const prev = this.nodeOverlay.get(name) ?? {};
    this.nodeOverlay.set(name, {
      ...prev,
      ...change,
      labels: { ...prev.labels, ...change.labels },
      annotations: { ...prev.annotations, ...change.annotations },
    });
    return applyNodeChange(node, change);
  }

  async listPodsOnNode(nodeName: string): Promise<PodView[]> {
    return (await this.real.listPodsOnNode(nodeName)).filter((p) => !this.evicted.has(`${p.namespace}/${p.name}`));
  }

  async evictPod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<EvictionResult> {
    this.logger.info({ pod: `${namespace}/${name}`, gracePeriodSeconds }, `dry-run: would have evicted pod ${namespace}/${name}`);
    this.evicted.add(`${namespace}/${name}`);
    return 'evicted';
  }
}

function describeChange(change: NodeChange): string {
  const parts: string[] = [];
  if (change.unschedulable !== undefined) parts.push(change.unschedulable ? 'cordon' : 'uncordon');
  if (change.taints) parts.push(`taints=[${change.taints.map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`).join(',')}]`);
  for (const [k, v] of Object.entries(change.labels ?? {})) parts.push(v === null ? `label ${k}-` : `label ${k}=${v}`);
  for (const k of Object.keys(change.annotations ?? {})) parts.push(`annotation ${k}`);
  return parts.join(', ');
}

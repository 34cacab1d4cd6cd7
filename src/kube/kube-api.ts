import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { boundedCall, isConflict, isNotFound, kubeStatus } from './errors.js';
import type { EvictionResult, NodeChange, NodePort, NodeView, PodPort, PodView, Taint } from './types.js';

export interface KubeApiOptions {
  kubeConfig: KubeConfig;
  clock: Clock;
  logger: Logger;
  metrics?: Metrics;
  /** Bound on any single API call, in clock time. */
  callTimeoutMs?: number;
  /** Attempts for a read-modify-write that keeps hitting 409 Conflict. */
  conflictRetries?: number;
}

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** NodePort and PodPort over @kubernetes/client-node. */
export class KubeApi implements NodePort, PodPort {
  private readonly core: CoreV1Api;
  private readonly callTimeoutMs: number;
  private readonly conflictRetries: number;
  /** When a call last got an answer from the API server (clock ms; 0 = never); read by the liveness probe. */
  lastSuccessAt = 0;

  constructor(private readonly opts: KubeApiOptions) {
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.callTimeoutMs = opts.callTimeoutMs ?? 30_000;
    this.conflictRetries = opts.conflictRetries ?? 5;
  }

  /** Every call is bounded and every failure counted, so a hung API server cannot hang a step. */
  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      const result = await boundedCall(this.opts.clock, this.callTimeoutMs, operation, fn);
      this.reached();
      return result;
    } catch (err) {
      // Any HTTP answer below 500 (404, 409, 429 …) means the API server is there.
      const status = kubeStatus(err);
      if (status > 0 && status < 500) this.reached();
      if (!isNotFound(err)) {
        this.opts.metrics?.kubeErrors.inc({ operation, code: String(kubeStatus(err)) });
      }
      throw err;
    }
  }

  private reached(): void {
    this.lastSuccessAt = this.opts.clock.now();
    this.opts.metrics?.kubernetesLastSuccess.set(this.lastSuccessAt / 1000);
  }

  async getNode(name: string): Promise<NodeView | null> {
    try {
      return toNodeView(await this.call('get_node', () => this.core.readNode({ name })));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async listNodes(): Promise<NodeView[]> {
    const list = await this.call('list_nodes', () => this.core.listNode());
    return list.items.map(toNodeView);
  }

  async updateNode(name: string, mutate: (node: NodeView) => NodeChange | null): Promise<NodeView> {
    for (let attempt = 0; ; attempt++) {
      const node = await this.getNode(name);
      if (!node) throw new Error(`node ${name} not found`);
      const change = mutate(node);
      if (!change) return node;
      try {
        const written = await this.call('patch_node', () =>
          this.core.patchNode({ name, body: toMergePatch(node, change) }, MERGE_PATCH),
        );
        return toNodeView(written);
      } catch (err) {
        if (isConflict(err) && attempt + 1 < this.conflictRetries) {
          this.opts.logger.debug({ node: name, attempt }, 'node changed under us (409); re-reading');
          continue;
        }
        throw err;
      }
    }
  }

  async listPodsOnNode(nodeName: string): Promise<PodView[]> {
    const list = await this.call('list_pods', () =>
      this.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` }),
    );
    return list.items.map(toPodView);
  }

  async evictPod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<EvictionResult> {
    try {
      await this.call('evict_pod', () =>
        this.core.createNamespacedPodEviction({
          name,
          namespace,
          body: {
            apiVersion: 'policy/v1',
            kind: 'Eviction',
            metadata: { name, namespace },
            ...(gracePeriodSeconds !== undefined && gracePeriodSeconds >= 0
              ? { deleteOptions: { gracePeriodSeconds } }
              : {}),
          },
        }),
      );
      return 'evicted';
    } catch (err) {
      const status = kubeStatus(err);
      if (status === 404) return 'gone';
      if (status === 429) return 'blocked';
      throw err;
    }
  }
}

/**
 * A JSON merge patch carrying the read resourceVersion: the API server refuses it with 409 if the
 * node changed since we read it, so a taint list we replace never drops someone else's new taint.
 */
export function toMergePatch(node: NodeView, change: NodeChange): Record<string, unknown> {
  const patch: { metadata: Record<string, unknown>; spec?: Record<string, unknown> } = {
    metadata: { resourceVersion: node.resourceVersion },
  };
  if (change.labels) patch.metadata.labels = change.labels;
  if (change.annotations) patch.metadata.annotations = change.annotations;
  if (change.unschedulable !== undefined || change.taints !== undefined) {
    patch.spec = {};
    // The API server drops `unschedulable: false`; null removes the field the same way kubectl uncordon does.
    if (change.unschedulable !== undefined) patch.spec.unschedulable = change.unschedulable ? true : null;
    if (change.taints !== undefined) patch.spec.taints = change.taints.length ? change.taints : null;
  }
  return patch;
}

export function toNodeView(n: V1Node): NodeView {
  const ready = (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  return {
    name: n.metadata?.name ?? '',
    uid: n.metadata?.uid ?? '',
    resourceVersion: n.metadata?.resourceVersion ?? '',
    unschedulable: n.spec?.unschedulable === true,
    taints: (n.spec?.taints ?? []).map((t) => ({
      key: t.key,
      ...(t.value !== undefined ? { value: t.value } : {}),
      effect: t.effect as Taint['effect'],
    })),
    labels: { ...(n.metadata?.labels ?? {}) },
    annotations: { ...(n.metadata?.annotations ?? {}) },
    bootId: n.status?.nodeInfo?.bootID ?? '',
    providerId: n.spec?.providerID ?? '',
    ready,
    ...(n.metadata?.creationTimestamp ? { creationTimestamp: new Date(n.metadata.creationTimestamp).toISOString() } : {}),
  };
}

export function toPodView(p: V1Pod): PodView {
  return {
    namespace: p.metadata?.namespace ?? 'default',
    name: p.metadata?.name ?? '',
    uid: p.metadata?.uid ?? '',
    nodeName: p.spec?.nodeName ?? '',
    phase: p.status?.phase ?? '',
    ownerKinds: (p.metadata?.ownerReferences ?? []).filter((o) => o.controller !== false).map((o) => o.kind),
    isMirror: Boolean(p.metadata?.annotations?.['kubernetes.io/config.mirror']),
    hasEmptyDir: (p.spec?.volumes ?? []).some((v) => v.emptyDir !== undefined),
    terminating: Boolean(p.metadata?.deletionTimestamp),
  };
}

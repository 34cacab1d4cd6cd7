import type { EvictionResult, NodeChange, NodePort, NodeView, PodPort, PodView } from '../../src/kube/types.js';

export function pod(name: string, over: Partial<PodView> = {}): PodView {
  return {
    namespace: 'default',
    name,
    uid: `uid-${name}`,
    nodeName: 'node-a',
    phase: 'Running',
    ownerKinds: ['ReplicaSet'],
    isMirror: false,
    hasEmptyDir: false,
    terminating: false,
    ...over,
  };
}

/** An in-memory PodPort: our own port, with knobs for disruption budgets, stuck pods and errors. */
export class FakePods implements PodPort {
  readonly pods = new Map<string, PodView>();
  readonly evictCalls: { namespace: string; name: string; gracePeriodSeconds: number | undefined }[] = [];
  listCalls = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** name → how many more evictions are refused with 429. Infinity = always. */
  readonly blocked = new Map<string, number>();
  /** name → how many more evictions fail with a server error. */
  readonly failing = new Map<string, number>();
  /** Evicted pods that never go away (finalizers, a stuck kubelet). */
  readonly stuck = new Set<string>();
  /** Evicted pods take this many further listings to disappear (graceful termination). */
  terminationListings = 0;
  private readonly terminating = new Map<string, number>();

  constructor(pods: PodView[] = []) {
    for (const p of pods) this.pods.set(`${p.namespace}/${p.name}`, p);
  }

  async listPodsOnNode(nodeName: string): Promise<PodView[]> {
    this.listCalls++;
    for (const [key, left] of this.terminating) {
      if (left <= 0) {
        this.pods.delete(key);
        this.terminating.delete(key);
      } else this.terminating.set(key, left - 1);
    }
    return [...this.pods.values()].filter((p) => p.nodeName === nodeName);
  }

  async evictPod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<EvictionResult> {
    this.evictCalls.push({ namespace, name, gracePeriodSeconds });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((r) => setImmediate(r));
      const key = `${namespace}/${name}`;
      const fails = this.failing.get(name) ?? 0;
      if (fails > 0) {
        this.failing.set(name, fails - 1);
        throw Object.assign(new Error('HTTP 500 internal error'), { code: 500 });
      }
      const blocks = this.blocked.get(name) ?? 0;
      if (blocks > 0) {
        this.blocked.set(name, blocks - 1);
        return 'blocked';
      }
      const p = this.pods.get(key);
      if (!p) return 'gone';
      if (!this.stuck.has(name) && !this.terminating.has(key)) this.terminating.set(key, this.terminationListings);
      this.pods.set(key, { ...p, terminating: true });
      return 'evicted';
    } finally {
      this.inFlight--;
    }
  }
}

/** An in-memory NodePort whose writes are counted, to prove they never happen. */
export class FakeNodes implements NodePort {
  writes = 0;
  constructor(public node: NodeView) {}
  async getNode(name: string): Promise<NodeView | null> {
    return name === this.node.name ? structuredClone(this.node) : null;
  }
  async listNodes(): Promise<NodeView[]> {
    return [structuredClone(this.node)];
  }
  async updateNode(_name: string, _mutate: (node: NodeView) => NodeChange | null): Promise<NodeView> {
    this.writes++;
    throw new Error('the real API must not be written to');
  }
}

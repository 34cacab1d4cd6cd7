/** The parts of a Node the agent reasons about; decision logic sees only this, never SDK types. */
export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface NodeView {
  name: string;
  uid: string;
  resourceVersion: string;
  unschedulable: boolean;
  taints: Taint[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** status.nodeInfo.bootID: changes when the machine reboots. */
  bootId: string;
  providerId: string;
  ready: boolean;
  creationTimestamp?: string;
}

/**
 * A change to a Node, computed from its current state. `null` in a map removes the key.
 * Applied in one write so an action and the record of it land together or not at all.
 */
export interface NodeChange {
  unschedulable?: boolean;
  taints?: Taint[];
  labels?: Record<string, string | null>;
  annotations?: Record<string, string | null>;
}

export interface PodView {
  namespace: string;
  name: string;
  uid: string;
  nodeName: string;
  phase: string;
  ownerKinds: string[];
  isMirror: boolean;
  hasEmptyDir: boolean;
  terminating: boolean;
}

export type EvictionResult = 'evicted' | 'gone' | 'blocked';

export interface NodePort {
  getNode(name: string): Promise<NodeView | null>;
  /** All nodes (Spot Guard looks for its replacement by providerID). */
  listNodes(): Promise<NodeView[]>;
  /**
   * Reads the node, asks `mutate` for a change and writes it with optimistic concurrency
   * (resourceVersion); on a conflict it re-reads and asks again. Returns the node as written,
   * or as read when `mutate` returned null (nothing to do).
   */
  updateNode(name: string, mutate: (node: NodeView) => NodeChange | null): Promise<NodeView>;
}

export interface PodPort {
  listPodsOnNode(nodeName: string): Promise<PodView[]>;
  /** POST pods/{name}/eviction. 429 (disruption budget) → 'blocked'; 404 → 'gone'. Other errors throw. */
  evictPod(namespace: string, name: string, gracePeriodSeconds?: number): Promise<EvictionResult>;
}

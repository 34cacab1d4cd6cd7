/** Shared set-up for the sim-kube tests: a started SimKube, clients for it, and polling helpers. */
import { ApiException, AppsV1Api, CoordinationV1Api, CoreV1Api, KubeConfig, PolicyV1Api } from '@kubernetes/client-node';
import { ScaledClock } from '../../src/shared/clock.js';
import { SimKube } from '../../src/sim/kube/index.js';

export interface TestCluster {
  sim: SimKube;
  kc: KubeConfig;
  core: CoreV1Api;
  policy: PolicyV1Api;
  apps: AppsV1Api;
  coordination: CoordinationV1Api;
  clock: ScaledClock;
}

/** Simulated seconds pass 100× faster than real ones. */
export async function startCluster(opts: { scale?: number; watchHistorySize?: number } = {}): Promise<TestCluster> {
  const clock = new ScaledClock(opts.scale ?? 100);
  const sim = new SimKube({ clock, ...(opts.watchHistorySize ? { watchHistorySize: opts.watchHistorySize } : {}) });
  await sim.start();
  const kc = new KubeConfig();
  kc.loadFromString(sim.kubeconfigYaml());
  return {
    sim,
    kc,
    clock,
    core: kc.makeApiClient(CoreV1Api),
    policy: kc.makeApiClient(PolicyV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
  };
}

const REAL_DEADLINE_MS = 5_000;

/** Polls (real time, short steps) until `check` returns a truthy value, or fails after a bounded deadline. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, deadlineMs = REAL_DEADLINE_MS): Promise<T> {
  const until = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface StatusLike {
  kind?: string;
  apiVersion?: string;
  status?: string;
  code?: number;
  reason?: string;
  message?: string;
  details?: { name?: string; group?: string; kind?: string; causes?: { reason?: string; message?: string }[] };
}

/** Runs `fn`, expects an ApiException and returns its HTTP code and parsed Status body. */
export async function apiFailure(fn: () => Promise<unknown>): Promise<{ code: number; status: StatusLike }> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body: unknown = err.body;
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as StatusLike;
    return { code: err.code, status };
  }
  throw new Error('expected the call to fail');
}

export function readyNode(name: string, extra: { allocatable?: Record<string, string>; taints?: unknown[]; unschedulable?: boolean; ready?: boolean; labels?: Record<string, string> } = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(extra.labels ?? {}) } },
    spec: { ...(extra.taints ? { taints: extra.taints } : {}), ...(extra.unschedulable ? { unschedulable: true } : {}) },
    status: {
      conditions: [{ type: 'Ready', status: extra.ready === false ? 'False' : 'True' }],
      allocatable: extra.allocatable ?? { cpu: '4', memory: '8Gi', pods: '110' },
      capacity: extra.allocatable ?? { cpu: '4', memory: '8Gi', pods: '110' },
    },
  };
}

/** A pod already running and ready on `nodeName`, as a scenario would place it. */
export function runningPod(name: string, nodeName: string, opts: { labels?: Record<string, string>; annotations?: Record<string, string>; grace?: number; namespace?: string } = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: opts.namespace ?? 'default', labels: opts.labels ?? {}, annotations: opts.annotations ?? {} },
    spec: {
      nodeName,
      containers: [{ name: 'app', image: 'app:sim' }],
      ...(opts.grace !== undefined ? { terminationGracePeriodSeconds: opts.grace } : {}),
    },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

export interface PodView {
  metadata: { name: string; namespace?: string; uid: string; deletionTimestamp?: string; deletionGracePeriodSeconds?: number; labels?: Record<string, string>; ownerReferences?: { uid: string; kind: string }[] };
  spec: { nodeName?: string };
  status?: { phase?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

export function isReady(p: PodView): boolean {
  return p.status?.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') && !p.metadata.deletionTimestamp;
}

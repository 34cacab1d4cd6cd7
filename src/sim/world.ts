import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeConfigFromString } from '../kube/client.js';
import { startAgent, type AgentDeps, type RunningAgent } from '../agent.js';
import { loadConfig } from '../config/load.js';
import type { Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import type { Clock } from '../shared/clock.js';
import { SimImds, type SimImdsMode, type SimScheduledEvent } from './imds/index.js';
import { SimKube } from './kube/index.js';

export interface SimNodeSpec {
  name: string;
  lifeCycle?: 'spot' | 'on-demand';
  instanceType?: string;
  availabilityZone?: string;
  allocatable?: { cpu: string; memory: string; pods?: string };
  labels?: Record<string, string>;
}

export interface WorkloadSpec {
  name: string;
  namespace?: string;
  replicas: number;
  cpu?: string;
  memory?: string;
  /** PodDisruptionBudget for the workload's pods. */
  pdb?: { minAvailable?: number | string; maxUnavailable?: number | string };
  terminationGracePeriodSeconds?: number;
  /** How long a container really takes to stop after SIGTERM (simulated seconds). */
  shutdownSeconds?: number;
  /** How long a pod takes to become Ready after it is bound (simulated seconds). */
  startSeconds?: number;
  emptyDir?: boolean;
}

export interface SimWorldOptions {
  clock: Clock;
  logger: Logger;
  imdsMode?: SimImdsMode;
  /** amazon-ec2-metadata-mock behaviour: notice times move on every request. */
  aemmDynamicTimes?: boolean;
  region?: string;
}

interface SimNode {
  spec: Required<Omit<SimNodeSpec, 'labels'>> & { labels: Record<string, string> };
  instanceId: string;
  imds: SimImds;
  scheduled: SimScheduledEvent[];
  agent?: RunningAgent;
}

const DEFAULT_ALLOCATABLE = { cpu: '2', memory: '8Gi', pods: '110' };

/**
 * The simulated world: one Kubernetes API server and one IMDS per instance, all real HTTP on
 * loopback, sharing one clock with the agents that run against them.
 */
export class SimWorld {
  readonly kube: SimKube;
  private readonly nodes = new Map<string, SimNode>();
  private dir = '';
  kubeconfigPath = '';
  private seq = 0;

  constructor(readonly opts: SimWorldOptions) {
    this.kube = new SimKube({ clock: opts.clock, logger: opts.logger.child({ component: 'sim-kube' }) });
  }

  get clock(): Clock {
    return this.opts.clock;
  }

  /** Simulated seconds per real second (1 for a wall clock). */
  scale(): number {
    const c = this.opts.clock as { scale?: number };
    return typeof c.scale === 'number' ? c.scale : 1;
  }

  async start(): Promise<void> {
    await this.kube.start();
    this.dir = await mkdtemp(join(tmpdir(), 'spot-guard-sim-'));
    this.kubeconfigPath = join(this.dir, 'kubeconfig');
    await writeFile(this.kubeconfigPath, this.kube.kubeconfigYaml());
    this.kube.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    this.kube.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } });
  }

  async stop(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.agent?.kill()));
    await Promise.all([...this.nodes.values()].map((n) => n.imds.stop()));
    await this.kube.stop();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no simulated node ${name}`);
    return n;
  }

  imds(name: string): SimImds {
    return this.node(name).imds;
  }

  async addNode(spec: SimNodeSpec): Promise<SimNode> {
    const full = {
      name: spec.name,
      lifeCycle: spec.lifeCycle ?? 'spot',
      instanceType: spec.instanceType ?? 'm5.large',
      availabilityZone: spec.availabilityZone ?? `${this.opts.region ?? 'us-east-1'}a`,
      allocatable: { ...DEFAULT_ALLOCATABLE, ...spec.allocatable },
      labels: spec.labels ?? {},
    };
    const n = ++this.seq;
    const instanceId = `i-${(0x0a000000 + n).toString(16).padStart(17, '0')}`;
    const privateIp = `10.0.${Math.floor(n / 250)}.${(n % 250) + 1}`;
    const imds = new SimImds({
      clock: this.clock,
      mode: this.opts.imdsMode ?? 'optional',
      aemmDynamicTimes: this.opts.aemmDynamicTimes ?? false,
      instance: {
        instanceId,
        instanceType: full.instanceType,
        availabilityZone: full.availabilityZone,
        region: this.opts.region ?? 'us-east-1',
        accountId: '123456789012',
        privateIp,
        localHostname: `ip-${privateIp.replaceAll('.', '-')}.ec2.internal`,
        lifeCycle: full.lifeCycle,
      },
    });
    await imds.start();
    const now = new Date(this.clock.now()).toISOString();
    this.kube.create('nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: full.name,
        labels: {
          'kubernetes.io/hostname': full.name,
          'kubernetes.io/os': 'linux',
          'node.kubernetes.io/instance-type': full.instanceType,
          'topology.kubernetes.io/zone': full.availabilityZone,
          'topology.kubernetes.io/region': this.opts.region ?? 'us-east-1',
          'node.kubernetes.io/lifecycle': full.lifeCycle,
          ...full.labels,
        },
      },
      spec: { providerID: `aws:///${full.availabilityZone}/${instanceId}` },
      status: {
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastTransitionTime: now, lastHeartbeatTime: now }],
        allocatable: full.allocatable,
        capacity: full.allocatable,
        nodeInfo: { bootID: randomUUID(), kubeletVersion: 'v1.32.0', machineID: instanceId, systemUUID: instanceId },
        addresses: [
          { type: 'InternalIP', address: privateIp },
          { type: 'Hostname', address: full.name },
        ],
      },
    });
    const node: SimNode = { spec: full, instanceId, imds, scheduled: [] };
    this.nodes.set(full.name, node);
    return node;
  }

  /** A DaemonSet with one pod bound to every current node (drain skips these). */
  addDaemonSet(name: string, namespace = 'kube-system'): void {
    const ds = this.kube.create('daemonsets', {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name, namespace },
      spec: {
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: `${name}:sim` }] } },
      },
    }) as { metadata: { uid: string } };
    for (const nodeName of this.nodes.keys()) {
      this.kube.create('pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `${name}-${nodeName}`,
          namespace,
          labels: { app: name },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name, uid: ds.metadata.uid, controller: true }],
        },
        spec: {
          nodeName,
          containers: [{ name, image: `${name}:sim` }],
          tolerations: [{ operator: 'Exists' }],
        },
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
      });
    }
  }

  /** A ReplicaSet (its pods are created and scheduled by the simulated controllers) and optional PDB. */
  addWorkload(w: WorkloadSpec): void {
    const namespace = w.namespace ?? 'default';
    const annotations: Record<string, string> = {};
    if (w.shutdownSeconds !== undefined) annotations['sim.spot-guard.io/shutdown-seconds'] = String(w.shutdownSeconds);
    if (w.startSeconds !== undefined) annotations['sim.spot-guard.io/start-seconds'] = String(w.startSeconds);
    this.kube.create('replicasets', {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: w.name, namespace, labels: { app: w.name } },
      spec: {
        replicas: w.replicas,
        selector: { matchLabels: { app: w.name } },
        template: {
          metadata: { labels: { app: w.name }, annotations },
          spec: {
            terminationGracePeriodSeconds: w.terminationGracePeriodSeconds ?? 30,
            containers: [
              {
                name: 'app',
                image: `${w.name}:sim`,
                resources: { requests: { cpu: w.cpu ?? '100m', memory: w.memory ?? '128Mi' } },
              },
            ],
            ...(w.emptyDir ? { volumes: [{ name: 'scratch', emptyDir: {} }] } : {}),
          },
        },
      },
    });
    if (w.pdb) {
      this.kube.create('poddisruptionbudgets', {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: w.name, namespace },
        spec: { selector: { matchLabels: { app: w.name } }, ...w.pdb },
      });
    }
  }

  addScheduledEvent(nodeName: string, e: SimScheduledEvent): void {
    const node = this.node(nodeName);
    node.scheduled = [...node.scheduled.filter((x) => x.eventId !== e.eventId), e];
    node.imds.setScheduledEvents(node.scheduled);
  }

  setScheduledEventState(nodeName: string, eventId: string, state: SimScheduledEvent['state']): void {
    const node = this.node(nodeName);
    if (!node.scheduled.some((e) => e.eventId === eventId)) throw new Error(`no scheduled event ${eventId} on ${nodeName}`);
    node.scheduled = node.scheduled.map((e) => (e.eventId === eventId ? { ...e, state } : e));
    node.imds.setScheduledEvents(node.scheduled);
  }

  scheduledEvents(nodeName: string): SimScheduledEvent[] {
    return [...this.node(nodeName).scheduled];
  }

  /** The machine rebooted: kubelet reports a new boot id. */
  rebootNode(name: string): void {
    this.kube.patch('nodes', undefined, name, { status: { nodeInfo: { bootID: randomUUID() } } });
  }

  /** Environment an agent on `nodeName` would get from its DaemonSet, pointing at this world. */
  agentEnv(nodeName: string, overrides: Record<string, string> = {}): Record<string, string> {
    return {
      NODE_NAME: nodeName,
      INSTANCE_METADATA_URL: this.imds(nodeName).url,
      KUBECONFIG: this.kubeconfigPath,
      NAMESPACE: 'kube-system',
      POD_NAME: `spot-guard-${nodeName}`,
      LOG_LEVEL: 'info',
      // Timeouts run on the simulated clock; keep them at least a few hundred real ms at any speed.
      METADATA_TIMEOUT: `${Math.max(2, Math.ceil(0.5 * this.scale()))}s`,
      ...overrides,
    };
  }

  /** Starts the real agent for a node, configured through the real config loader. */
  async startAgent(
    nodeName: string,
    overrides: Record<string, string> = {},
    extra: Partial<Pick<AgentDeps, 'logger' | 'onStep' | 'onPass'>> = {},
  ): Promise<RunningAgent> {
    const node = this.node(nodeName);
    if (node.agent) throw new Error(`an agent already runs on ${nodeName}`);
    const config = loadConfig([], this.agentEnv(nodeName, overrides));
    const agent = await startAgent({
      config,
      clock: this.clock,
      logger: extra.logger ?? this.opts.logger,
      kubeConfig: kubeConfigFromString(this.kube.kubeconfigYaml()),
      metrics: new Metrics(),
      kubeCallTimeoutMs: Math.max(30_000, 2_000 * this.scale()),
      listenHost: '127.0.0.1',
      ...(extra.onStep ? { onStep: extra.onStep } : {}),
      ...(extra.onPass ? { onPass: extra.onPass } : {}),
    });
    node.agent = agent;
    void agent.done.then(() => {
      if (node.agent === agent) delete node.agent;
    });
    return agent;
  }

  agent(nodeName: string): RunningAgent | undefined {
    return this.node(nodeName).agent;
  }
}

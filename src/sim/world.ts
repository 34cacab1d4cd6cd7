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
import { SimAutoScaling, type SimAutoScalingOptions } from './autoscaling/index.js';
import { BackgroundTasks, SimFleet, type FleetEvent, type FleetJoin, type SimGroupSpec } from './fleet.js';
import { SPOT_WARNING_MS, SimImds, type SimImdsMode, type SimScheduledEvent } from './imds/index.js';
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

export interface SimNode {
  spec: Required<Omit<SimNodeSpec, 'labels'>> & { labels: Record<string, string> };
  instanceId: string;
  privateIp: string;
  /** The Auto Scaling group the instance belongs to; absent for static nodes (addNode). */
  group?: string;
  imds: SimImds;
  scheduled: SimScheduledEvent[];
  agent?: RunningAgent;
}

/** Everything the one node builder needs; what is absent is made up (name from the private IP, instance id). */
interface NodeBuild extends Omit<SimNodeSpec, 'name'> {
  name?: string;
  instanceId?: string;
  group?: string;
  ready: boolean;
}

type AgentExtra = Partial<Pick<AgentDeps, 'logger' | 'onStep' | 'onPass'>>;

interface DaemonSetRef {
  name: string;
  namespace: string;
  uid: string;
}

const DEFAULT_ALLOCATABLE = { cpu: '2', memory: '8Gi', pods: '110' };
/** The taint the node lifecycle controller keeps on a NotReady node. */
const NOT_READY_TAINT = { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' };
/** Static credentials every simulated agent gets for the simulated Auto Scaling endpoint. */
export const SIM_AWS_CREDENTIALS = { accessKeyId: 'sim', secretAccessKey: 'sim' };

/**
 * The simulated world: one Kubernetes API server and one IMDS per instance, all real HTTP on
 * loopback, sharing one clock with the agents that run against them.
 */
export class SimWorld {
  readonly kube: SimKube;
  /** Set by enableAutoScaling(). */
  autoscaling: SimAutoScaling | undefined;
  private fleet: SimFleet | undefined;
  private readonly nodes = new Map<string, SimNode>();
  private readonly daemonSets: DaemonSetRef[] = [];
  /** Set by runAgentsOnAllNodes: every node, including those that join later, runs an agent. */
  private agentDaemon: { env: Record<string, string>; extra: AgentExtra; skip: (node: string) => boolean } | undefined;
  private readonly agentsStarting = new Set<string>();
  private readonly tasks: BackgroundTasks;
  private dir = '';
  kubeconfigPath = '';
  private seq = 0;

  constructor(readonly opts: SimWorldOptions) {
    this.kube = new SimKube({ clock: opts.clock, logger: opts.logger.child({ component: 'sim-kube' }) });
    this.tasks = new BackgroundTasks(opts.clock, opts.logger);
  }

  get region(): string {
    return this.opts.region ?? 'us-east-1';
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
    await this.fleet?.stop();
    await this.autoscaling?.stop();
    await this.tasks.stop();
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

  /** A static node (no Auto Scaling group), Ready at once. */
  async addNode(spec: SimNodeSpec): Promise<SimNode> {
    return this.buildNode({ ...spec, ready: true });
  }

  /**
   * The one place a simulated machine is made: its IMDS, its Node (named like EKS names nodes unless
   * a name is given; providerID `aws:///<az>/<instance-id>`), its DaemonSet pods, and its agent when
   * agents run on all nodes.
   */
  private async buildNode(b: NodeBuild): Promise<SimNode> {
    const n = ++this.seq;
    const privateIp = `10.0.${Math.floor(n / 250)}.${(n % 250) + 1}`;
    const hostname = `ip-${privateIp.replaceAll('.', '-')}.ec2.internal`;
    const full = {
      name: b.name ?? hostname,
      lifeCycle: b.lifeCycle ?? 'spot',
      instanceType: b.instanceType ?? 'm5.large',
      availabilityZone: b.availabilityZone ?? `${this.region}a`,
      allocatable: { ...DEFAULT_ALLOCATABLE, ...b.allocatable },
      labels: b.labels ?? {},
    };
    if (this.nodes.has(full.name)) throw new Error(`a simulated node ${full.name} already exists`);
    const instanceId = b.instanceId ?? `i-${(0x0a000000 + n).toString(16).padStart(17, '0')}`;
    const imds = new SimImds({
      clock: this.clock,
      mode: this.opts.imdsMode ?? 'optional',
      aemmDynamicTimes: this.opts.aemmDynamicTimes ?? false,
      instance: {
        instanceId,
        instanceType: full.instanceType,
        availabilityZone: full.availabilityZone,
        region: this.region,
        accountId: '123456789012',
        privateIp,
        localHostname: hostname,
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
          'topology.kubernetes.io/region': this.region,
          'node.kubernetes.io/lifecycle': full.lifeCycle,
          'eks.amazonaws.com/capacityType': full.lifeCycle === 'spot' ? 'SPOT' : 'ON_DEMAND',
          ...full.labels,
        },
      },
      spec: { providerID: `aws:///${full.availabilityZone}/${instanceId}`, ...(b.ready ? {} : { taints: [NOT_READY_TAINT] }) },
      status: {
        conditions: [readyCondition(b.ready, now)],
        allocatable: full.allocatable,
        capacity: full.allocatable,
        nodeInfo: { bootID: randomUUID(), kubeletVersion: 'v1.32.0', machineID: instanceId, systemUUID: instanceId },
        addresses: [
          { type: 'InternalIP', address: privateIp },
          { type: 'Hostname', address: full.name },
        ],
      },
    });
    const node: SimNode = { spec: full, instanceId, privateIp, imds, scheduled: [], ...(b.group ? { group: b.group } : {}) };
    this.nodes.set(full.name, node);
    for (const ds of this.daemonSets) this.addDaemonPod(ds, full.name);
    this.startDaemonAgent(full.name);
    return node;
  }

  /** Whether the Node exists and its Ready condition is True. */
  nodeReady(name: string): boolean {
    const n = this.kube.get<{ status?: { conditions?: { type: string; status: string }[] } }>('nodes', undefined, name);
    return n?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  }

  /** Kubelet reports Ready (or stops reporting): the Ready condition and the not-ready taint follow. */
  setNodeReady(name: string, ready: boolean): void {
    if (!this.kube.get('nodes', undefined, name)) return;
    const now = new Date(this.clock.now()).toISOString();
    type NodeDraft = { spec?: { taints?: { key: string; effect: string }[] }; status?: { conditions?: { type: string }[] } };
    this.kube.mutate<NodeDraft>('nodes', undefined, name, (d) => {
      d.status = { ...d.status, conditions: [...(d.status?.conditions ?? []).filter((c) => c.type !== 'Ready'), readyCondition(ready, now)] };
      const others = (d.spec?.taints ?? []).filter((t) => t.key !== NOT_READY_TAINT.key);
      d.spec = { ...d.spec, taints: ready ? others : [...others, NOT_READY_TAINT] };
      if (d.spec.taints?.length === 0) delete d.spec.taints;
    });
  }

  /** The machine is gone: its agent dies, its IMDS stops answering, its Node is deleted (its pods go with it). Idempotent. */
  async removeNode(name: string): Promise<void> {
    const node = this.nodes.get(name);
    if (!node) return;
    this.nodes.delete(name);
    await node.agent?.kill();
    await node.imds.stop();
    if (this.kube.get('nodes', undefined, name)) this.kube.delete('nodes', undefined, name);
  }

  /** A DaemonSet with one pod bound to every node, now and later (drain skips these). */
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
    const ref = { name, namespace, uid: ds.metadata.uid };
    this.daemonSets.push(ref);
    for (const nodeName of this.nodes.keys()) this.addDaemonPod(ref, nodeName);
  }

  private addDaemonPod(ds: DaemonSetRef, nodeName: string): void {
    const { name, namespace, uid } = ds;
    this.kube.create('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${name}-${nodeName}`,
        namespace,
        labels: { app: name },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name, uid, controller: true }],
      },
      spec: {
        nodeName,
        containers: [{ name, image: `${name}:sim` }],
        tolerations: [{ operator: 'Exists' }],
      },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
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
      ...(this.autoscaling ? { AWS_ENDPOINT: this.autoscaling.url, AWS_REGION: this.region } : {}),
      ...overrides,
    };
  }

  /** Starts the real agent for a node, configured through the real config loader. */
  async startAgent(nodeName: string, overrides: Record<string, string> = {}, extra: AgentExtra = {}): Promise<RunningAgent> {
    const node = this.node(nodeName);
    if (node.agent || this.agentsStarting.has(nodeName)) throw new Error(`an agent already runs on ${nodeName}`);
    this.agentsStarting.add(nodeName);
    let agent: RunningAgent;
    try {
      const config = loadConfig([], this.agentEnv(nodeName, overrides));
      agent = await startAgent({
        config,
        clock: this.clock,
        logger: extra.logger ?? this.opts.logger,
        kubeConfig: kubeConfigFromString(this.kube.kubeconfigYaml()),
        metrics: new Metrics(),
        kubeCallTimeoutMs: Math.max(30_000, 2_000 * this.scale()),
        listenHost: '127.0.0.1',
        ...(this.autoscaling
          ? { awsCredentials: SIM_AWS_CREDENTIALS, awsRetryMode: 'standard' as const, awsCallTimeoutMs: Math.max(20_000, 2_000 * this.scale()) }
          : {}),
        ...(extra.onStep ? { onStep: extra.onStep } : {}),
        ...(extra.onPass ? { onPass: extra.onPass } : {}),
      });
    } finally {
      this.agentsStarting.delete(nodeName);
    }
    if (this.nodes.get(nodeName) !== node) {
      // The machine went away while its agent was starting.
      await agent.kill();
      return agent;
    }
    node.agent = agent;
    void agent.done.then(() => {
      if (node.agent === agent) delete node.agent;
    });
    return agent;
  }

  agent(nodeName: string): RunningAgent | undefined {
    return this.node(nodeName).agent;
  }

  /**
   * The agent as a DaemonSet: starts it (same env) on every current node and on every node that
   * joins later. `skip` leaves nodes out (e.g. static nodes a scenario runs without an agent).
   * Resolves with the agents started on the current nodes.
   */
  async runAgentsOnAllNodes(
    env: Record<string, string> = {},
    extra: AgentExtra = {},
    opts: { skip?: (nodeName: string) => boolean } = {},
  ): Promise<RunningAgent[]> {
    this.agentDaemon = { env, extra, skip: opts.skip ?? (() => false) };
    const started = await Promise.all(
      this.nodeNames()
        .filter((n) => this.wantsDaemonAgent(n))
        .map((n) => this.startAgent(n, env, extra)),
    );
    return started;
  }

  private wantsDaemonAgent(nodeName: string): boolean {
    const node = this.nodes.get(nodeName);
    return Boolean(this.agentDaemon && node && !node.agent && !this.agentsStarting.has(nodeName) && !this.agentDaemon.skip(nodeName));
  }

  private startDaemonAgent(nodeName: string): void {
    const daemon = this.agentDaemon;
    if (!daemon || !this.wantsDaemonAgent(nodeName)) return;
    this.tasks.run(`agent on ${nodeName}`, () => this.startAgent(nodeName, daemon.env, daemon.extra));
  }

  // ---- Auto Scaling and the fleet ---------------------------------------------------------------

  /** Starts a simulated Auto Scaling endpoint on the world's clock; its groups' instances become nodes (see fleet.ts). */
  async enableAutoScaling(opts: Partial<Omit<SimAutoScalingOptions, 'clock' | 'region'>> = {}): Promise<SimAutoScaling> {
    if (this.autoscaling) throw new Error('Auto Scaling is already enabled');
    const asg = new SimAutoScaling({ logger: this.opts.logger.child({ component: 'sim-autoscaling' }), ...opts, clock: this.clock, region: this.region });
    await asg.start();
    this.autoscaling = asg;
    this.fleet = new SimFleet(
      asg,
      {
        joinNode: async (j: FleetJoin) => (await this.buildNode(j)).spec.name,
        setNodeReady: (name, ready) => this.setNodeReady(name, ready),
        removeNode: (name) => this.removeNode(name),
      },
      this.tasks,
      this.opts.logger.child({ component: 'sim-fleet' }),
    );
    return asg;
  }

  /** Creates an Auto Scaling group; its initial instances are nodes (Ready) when this resolves. */
  async addGroup(spec: SimGroupSpec): Promise<void> {
    await this.requireFleet().addGroup(spec);
  }

  /** Node names of a group's instances, in the order they joined. */
  groupNodes(group: string): string[] {
    return this.requireFleet().nodesOf(group);
  }

  onFleetEvent(listener: (ev: FleetEvent) => void): () => void {
    return this.requireFleet().onEvent(listener);
  }

  /** Nothing under way in the world: no timer pending (reclaims, staggered notices, joins), no instance launching or terminating, every group node Ready. */
  settled(): boolean {
    return this.tasks.pending === 0 && (this.fleet?.settled() ?? true);
  }

  /**
   * Spot takes the instance back as AWS does: the interruption notice now, the instance gone
   * `noticeMs` later (its kubelet and agent stop; Auto Scaling, for a group node, replaces it and
   * the Node is deleted when the instance is; a static node's Node is deleted at once).
   */
  reclaimSpotInstance(nodeName: string, noticeMs = SPOT_WARNING_MS): void {
    const node = this.node(nodeName);
    node.imds.setSpotInterruption({ action: 'terminate', time: new Date(this.clock.now() + noticeMs) });
    this.later(noticeMs, `spot reclaim of ${nodeName}`, async () => {
      if (this.nodes.get(nodeName) !== node) return;
      if (!node.group || !this.autoscaling) {
        await this.removeNode(nodeName);
        return;
      }
      this.autoscaling.terminateInstance(node.instanceId);
      this.setNodeReady(nodeName, false);
      await node.agent?.kill();
    });
  }

  /** Runs `fn` after `ms` of simulated time unless the world stops first. */
  later(ms: number, what: string, fn: () => void | Promise<void>): void {
    this.tasks.later(ms, what, fn);
  }

  private requireFleet(): SimFleet {
    if (!this.fleet) throw new Error('Auto Scaling is not enabled in this world (call enableAutoScaling first)');
    return this.fleet;
  }
}

function readyCondition(ready: boolean, now: string) {
  return ready
    ? { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastTransitionTime: now, lastHeartbeatTime: now }
    : { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'container runtime network not ready', lastTransitionTime: now, lastHeartbeatTime: now };
}

import { parseScenario, type Scenario, type ScenarioInput } from './scenario.js';

/**
 * Built-in scenarios, runnable by name (`spot-guard simulate --scenario rebalance-drain`).
 * `spot-itn` is the default: what a new user sees first.
 */
const base = {
  speed: 20,
  daemonSets: ['kube-proxy'],
  nodes: [
    { name: 'node-a', lifeCycle: 'spot' as const },
    { name: 'node-b', lifeCycle: 'spot' as const },
    { name: 'node-c', lifeCycle: 'on-demand' as const },
  ],
  workloads: [
    { name: 'web', replicas: 6, cpu: '250m', memory: '256Mi', pdb: { maxUnavailable: 1 }, terminationGracePeriodSeconds: 30, shutdownSeconds: 3 },
    { name: 'worker', replicas: 3, cpu: '500m', memory: '512Mi', shutdownSeconds: 5 },
  ],
};

const builtIns: Record<string, ScenarioInput> = {
  'spot-itn': {
    ...base,
    name: 'spot-itn',
    description: 'A spot interruption notice on node-a: taint, cordon, drain; pods move to the other nodes.',
    agent: { TAINT_NODE: 'true' },
    actions: [{ at: 10, node: 'node-a', do: 'spot-itn' }],
    timeout: 300,
  },
  'rebalance-drain': {
    ...base,
    name: 'rebalance-drain',
    description: 'A rebalance recommendation with ENABLE_REBALANCE_DRAINING: cordon and drain (NTH behaviour, Spot Guard off).',
    agent: { ENABLE_REBALANCE_DRAINING: 'true', TAINT_NODE: 'true' },
    actions: [{ at: 10, node: 'node-a', do: 'rebalance' }],
    timeout: 300,
  },
  'rebalance-then-itn': {
    ...base,
    name: 'rebalance-then-itn',
    description: 'Rebalance monitoring only cordons; the spot ITN that follows drains.',
    agent: { ENABLE_REBALANCE_MONITORING: 'true', TAINT_NODE: 'true' },
    actions: [
      { at: 10, node: 'node-a', do: 'rebalance' },
      { at: 60, node: 'node-a', do: 'spot-itn' },
    ],
    timeout: 300,
  },
  'scheduled-reboot': {
    ...base,
    name: 'scheduled-reboot',
    description: 'A system-reboot maintenance event: drained before NotBefore, uncordoned after the reboot.',
    agent: { TAINT_NODE: 'true', NODE_TERMINATION_GRACE_PERIOD: '60' },
    actions: [
      { at: 10, node: 'node-b', do: 'scheduled-event', code: 'system-reboot', eventId: 'instance-event-0abc123', notBeforeIn: '90s' },
      { at: 150, node: 'node-b', do: 'reboot' },
    ],
    timeout: 400,
  },
  'asg-lifecycle': {
    ...base,
    name: 'asg-lifecycle',
    description: 'Auto Scaling marks the instance Terminated (target lifecycle state): drain.',
    agent: { ENABLE_ASG_LIFECYCLE_DRAINING: 'true' },
    actions: [{ at: 10, node: 'node-a', do: 'asg-terminate' }],
    timeout: 300,
  },
};

/** Spot Guard: a spot group and an on-demand group whose instances are the nodes. */
const fleet = {
  speed: 20,
  daemonSets: ['kube-proxy'],
  groups: [
    { name: 'spot-workers', capacityType: 'spot' as const, desiredCapacity: 4, maxSize: 20, joinDelay: '30s' },
    { name: 'ondemand-workers', capacityType: 'on-demand' as const, desiredCapacity: 1, maxSize: 10, joinDelay: '30s' },
  ],
  autoscaling: { launchDelay: '45s', terminateDelay: '20s' },
  workloads: [{ name: 'web', replicas: 8, cpu: '250m', memory: '256Mi', pdb: { maxUnavailable: 1 }, shutdownSeconds: 3 }],
  agent: {
    ENABLE_SPOT_GUARD: 'true',
    SPOT_ASG_NAME: 'spot-workers',
    ON_DEMAND_ASG_NAME: 'ondemand-workers',
    ENABLE_REBALANCE_DRAINING: 'true',
  },
};

builtIns['spot-guard'] = {
  ...fleet,
  name: 'spot-guard',
  description:
    'Spot Guard: a rebalance recommendation on a spot node; a spot replacement is Ready before the node is tainted, drained and retired.',
  actions: [{ at: 10, do: 'rebalance-group', group: 'spot-workers', count: 1 }],
  timeout: 600,
};

builtIns['spot-guard-fallback'] = {
  ...fleet,
  name: 'spot-guard-fallback',
  description:
    'Spot Guard with spot capacity exhausted: two recommendations; the first finds no spot and falls back to on-demand, the second goes straight to on-demand (capacity cache).',
  capacity: { spot: { 'us-east-1a': 0, 'us-east-1b': 0, 'us-east-1c': 0 } },
  actions: [
    { at: 10, do: 'rebalance-group', group: 'spot-workers', count: 1 },
    { at: 100, do: 'rebalance-group', group: 'spot-workers', count: 1 },
  ],
  timeout: 900,
};

builtIns['revert-to-spot'] = {
  ...fleet,
  speed: 60,
  name: 'revert-to-spot',
  description:
    'Revert to spot: spot is exhausted, a rebalance gets an on-demand fallback; spot returns 15 min later and the fallback node is replaced by spot and removed.',
  capacity: { spot: { 'us-east-1a': 0, 'us-east-1b': 0, 'us-east-1c': 0 } },
  actions: [
    { at: 10, do: 'rebalance-group', group: 'spot-workers', count: 1 },
    { at: '15m', do: 'set-spot-capacity', az: 'us-east-1a', instances: 5 },
    { at: '15m', do: 'set-spot-capacity', az: 'us-east-1b', instances: 5 },
    { at: '15m', do: 'set-spot-capacity', az: 'us-east-1c', instances: 5 },
  ],
  timeout: 3600,
};

export const DEFAULT_SCENARIO = 'spot-itn';

export function builtInScenarioNames(): string[] {
  return Object.keys(builtIns);
}

export function builtInScenario(name: string): Scenario | undefined {
  const s = builtIns[name];
  return s ? parseScenario(s, `built-in scenario ${name}`) : undefined;
}

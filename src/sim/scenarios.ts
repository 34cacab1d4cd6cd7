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

export const DEFAULT_SCENARIO = 'spot-itn';

export function builtInScenarioNames(): string[] {
  return Object.keys(builtIns);
}

export function builtInScenario(name: string): Scenario | undefined {
  const s = builtIns[name];
  return s ? parseScenario(s, `built-in scenario ${name}`) : undefined;
}

import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseDurationMs } from '../config/duration.js';

/**
 * A scenario: the world (nodes, workloads), the agents' configuration (NTH env names), and a
 * script of things that happen to the world at given simulated times. YAML or JSON.
 */

const durationSchema = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v * 1000;
  const ms = parseDurationMs(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (seconds, or like 90s, 2m, 1h30m)` });
    return z.NEVER;
  }
  return ms;
});

const nodeSchema = z.object({
  name: z.string().min(1),
  lifeCycle: z.enum(['spot', 'on-demand']).default('spot'),
  instanceType: z.string().optional(),
  availabilityZone: z.string().optional(),
  allocatable: z.object({ cpu: z.string(), memory: z.string(), pods: z.string().optional() }).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  /** Start an agent on this node (default true). */
  agent: z.boolean().default(true),
});

const workloadSchema = z.object({
  name: z.string().min(1),
  namespace: z.string().optional(),
  replicas: z.number().int().nonnegative(),
  cpu: z.string().optional(),
  memory: z.string().optional(),
  pdb: z
    .object({ minAvailable: z.union([z.number(), z.string()]).optional(), maxUnavailable: z.union([z.number(), z.string()]).optional() })
    .optional(),
  terminationGracePeriodSeconds: z.number().int().nonnegative().optional(),
  shutdownSeconds: z.number().nonnegative().optional(),
  startSeconds: z.number().nonnegative().optional(),
  emptyDir: z.boolean().optional(),
});

/** Things that happen to one node (also what `simulate trigger` can do). */
export const ACTION_KINDS = [
  'spot-itn',
  'rebalance',
  'scheduled-event',
  'cancel-scheduled-event',
  'asg-terminate',
  'reboot',
  'imds-down',
  'imds-up',
  'kill-agent',
  'start-agent',
  'clear-notices',
  'spot-reclaim',
] as const;

/** Things that happen to the fleet (scenarios with `groups:`). */
export const FLEET_ACTION_KINDS = ['set-spot-capacity', 'rebalance-group'] as const;

export type ActionKind = (typeof ACTION_KINDS)[number] | (typeof FLEET_ACTION_KINDS)[number];

/** What each action is aimed at: a node, N nodes of a group, either, or the fleet as a whole. */
const ACTION_TARGET: Record<ActionKind, 'node' | 'group' | 'node-or-group' | 'fleet'> = {
  'spot-itn': 'node',
  rebalance: 'node',
  'scheduled-event': 'node',
  'cancel-scheduled-event': 'node',
  'asg-terminate': 'node',
  reboot: 'node',
  'imds-down': 'node',
  'imds-up': 'node',
  'kill-agent': 'node',
  'start-agent': 'node',
  'clear-notices': 'node',
  'spot-reclaim': 'node-or-group',
  'rebalance-group': 'group',
  'set-spot-capacity': 'fleet',
};

/** Fields an action cannot do without, besides its target. */
const ACTION_NEEDS: Partial<Record<ActionKind, readonly ('eventId' | 'az' | 'instances')[]>> = {
  'cancel-scheduled-event': ['eventId'],
  'set-spot-capacity': ['az', 'instances'],
};

/** A capacity pool size: a count, or "unlimited". */
const poolSizeSchema = z.union([z.number().int().nonnegative(), z.literal('unlimited')]).transform((v) => (v === 'unlimited' ? Infinity : v));

const actionSchema = z
  .object({
    at: durationSchema,
    /** The node it happens to (static nodes by name). */
    node: z.string().min(1).optional(),
    do: z.enum([...ACTION_KINDS, ...FLEET_ACTION_KINDS]),
    /** spot-itn: terminate | stop | hibernate */
    action: z.enum(['terminate', 'stop', 'hibernate']).optional(),
    /** scheduled-event: code, id and how far ahead NotBefore is. */
    code: z.enum(['instance-reboot', 'system-reboot', 'system-maintenance', 'instance-retirement', 'instance-stop']).optional(),
    eventId: z.string().optional(),
    notBeforeIn: durationSchema.optional(),
    /** rebalance-group, spot-reclaim: `count` nodes of this group (default 1), one every `stagger` (default all at once). */
    group: z.string().min(1).optional(),
    count: z.number().int().positive().optional(),
    stagger: durationSchema.optional(),
    /** spot-reclaim: warning between the interruption notice and the instance going away (default 2m, as EC2). */
    notice: durationSchema.optional(),
    /** set-spot-capacity: how many more spot instances can launch in `az` (optionally for one instance type). */
    az: z.string().min(1).optional(),
    instances: poolSizeSchema.optional(),
    instanceType: z.string().min(1).optional(),
  })
  .superRefine((a, ctx) => {
    const problem = (message: string) => ctx.addIssue({ code: 'custom', message: `${a.do}: ${message}` });
    const target = ACTION_TARGET[a.do];
    if (target === 'node' && !a.node) problem('needs node');
    if (target === 'group' && !a.group) problem('needs group');
    if (target === 'node-or-group' && Boolean(a.node) === Boolean(a.group)) problem('needs either node or group');
    if (target === 'fleet' && (a.node || a.group)) problem('applies to the fleet; takes no node or group');
    if (target === 'node' && a.group) problem('takes node, not group');
    if ((a.count !== undefined || a.stagger !== undefined) && !a.group) problem('count and stagger go with group');
    for (const field of ACTION_NEEDS[a.do] ?? []) if (a[field] === undefined) problem(`needs ${field}`);
  });

/** An Auto Scaling group whose instances become nodes. */
const groupSchema = z
  .object({
    name: z.string().min(1),
    capacityType: z.enum(['spot', 'on-demand']),
    instanceType: z.string().min(1).default('m5.large'),
    availabilityZones: z.array(z.string().min(1)).min(1).default(['us-east-1a', 'us-east-1b', 'us-east-1c']),
    minSize: z.number().int().nonnegative().default(0),
    maxSize: z.number().int().nonnegative().default(10),
    desiredCapacity: z.number().int().nonnegative(),
    capacityRebalance: z.boolean().default(false),
    /** InService → Node Ready. */
    joinDelay: durationSchema.prefault(30),
    nodeLabels: z.record(z.string(), z.string()).optional(),
    allocatable: z.object({ cpu: z.string(), memory: z.string(), pods: z.string().optional() }).optional(),
    tags: z.record(z.string(), z.string()).optional(),
  })
  .strict()
  .refine((g) => g.minSize <= g.desiredCapacity && g.desiredCapacity <= g.maxSize, {
    message: 'need minSize <= desiredCapacity <= maxSize',
  });

/** How many more instances can launch per AZ (unset: unlimited). Applies after the groups' initial instances exist. */
const capacitySchema = z
  .object({
    spot: z.record(z.string(), poolSizeSchema).default({}),
    onDemand: z.record(z.string(), poolSizeSchema).default({}),
  })
  .strict();

/** Timings of the simulated Auto Scaling service (all groups). */
const autoscalingSchema = z
  .object({
    /** Pending → InService (default 60s). */
    launchDelay: durationSchema.optional(),
    /** Terminating → gone (default 30s). */
    terminateDelay: durationSchema.optional(),
    /** Between failed launch attempts (default 60s). */
    launchRetry: durationSchema.optional(),
  })
  .strict();

export const scenarioSchema = z.object({
  name: z.string().default('scenario'),
  description: z.string().default(''),
  /** Simulated seconds per real second. */
  speed: z.number().positive().max(1000).default(20),
  imdsMode: z.enum(['optional', 'required']).default('optional'),
  aemmDynamicTimes: z.boolean().default(false),
  /** Environment for every agent, NTH names (e.g. ENABLE_REBALANCE_DRAINING: "true"). */
  agent: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
  /** Static nodes (no Auto Scaling group). */
  nodes: z.array(nodeSchema).default([]),
  /** Auto Scaling groups; each InService instance is a node (agents run on all of them). */
  groups: z.array(groupSchema).default([]),
  capacity: capacitySchema.optional(),
  autoscaling: autoscalingSchema.optional(),
  daemonSets: z.array(z.string()).default([]),
  workloads: z.array(workloadSchema).default([]),
  actions: z.array(actionSchema).default([]),
  /** Stop when everything has settled, or at this simulated time at the latest. */
  timeout: durationSchema.prefault(600),
});

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioAction = Scenario['actions'][number];
export type ScenarioInput = z.input<typeof scenarioSchema>;

export class ScenarioError extends Error {}

export function parseScenario(input: unknown, source = 'scenario'): Scenario {
  const r = scenarioSchema.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  - ${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new ScenarioError(`invalid ${source}:\n${lines.join('\n')}`);
  }
  const problems = crossCheck(r.data);
  if (problems.length) throw new ScenarioError(`invalid ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return r.data;
}

/** What the schema cannot see: names that must refer to something declared elsewhere in the scenario. */
function crossCheck(s: Scenario): string[] {
  const problems: string[] = [];
  const unknownOf = (names: (string | undefined)[], known: Set<string>) => [
    ...new Set(names.filter((n): n is string => n !== undefined && !known.has(n))),
  ];
  const nodes = new Set(s.nodes.map((n) => n.name));
  const groups = new Set(s.groups.map((g) => g.name));
  const zones = new Set(s.groups.flatMap((g) => g.availabilityZones));
  if (nodes.size === 0 && groups.size === 0) problems.push('needs nodes or groups');
  if (nodes.size !== s.nodes.length) problems.push('node names must be unique');
  if (groups.size !== s.groups.length) problems.push('group names must be unique');
  const badNodes = unknownOf(s.actions.map((a) => a.node), nodes);
  if (badNodes.length) problems.push(`actions name unknown nodes: ${badNodes.join(', ')}`);
  const badGroups = unknownOf(s.actions.map((a) => a.group), groups);
  if (badGroups.length) problems.push(`actions name unknown groups: ${badGroups.join(', ')}`);
  const azs = [...Object.keys(s.capacity?.spot ?? {}), ...Object.keys(s.capacity?.onDemand ?? {}), ...s.actions.map((a) => a.az)];
  const badZones = unknownOf(azs, zones);
  if (badZones.length) problems.push(`availability zones used by no group: ${badZones.join(', ')}`);
  if (s.groups.length === 0 && s.actions.some((a) => a.do === 'set-spot-capacity')) problems.push('set-spot-capacity needs groups');
  return problems;
}

export async function loadScenarioFile(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ScenarioError(`cannot read scenario file ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new ScenarioError(`scenario file ${path} is not valid YAML/JSON: ${(err as Error).message}`);
  }
  return parseScenario(data, `scenario file ${path}`);
}

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
] as const;

const actionSchema = z.object({
  at: durationSchema,
  node: z.string().min(1),
  do: z.enum(ACTION_KINDS),
  /** spot-itn: terminate | stop | hibernate */
  action: z.enum(['terminate', 'stop', 'hibernate']).optional(),
  /** scheduled-event: code, id and how far ahead NotBefore is. */
  code: z.enum(['instance-reboot', 'system-reboot', 'system-maintenance', 'instance-retirement', 'instance-stop']).optional(),
  eventId: z.string().optional(),
  notBeforeIn: durationSchema.optional(),
});

export const scenarioSchema = z.object({
  name: z.string().default('scenario'),
  description: z.string().default(''),
  /** Simulated seconds per real second. */
  speed: z.number().positive().max(1000).default(20),
  imdsMode: z.enum(['optional', 'required']).default('optional'),
  aemmDynamicTimes: z.boolean().default(false),
  /** Environment for every agent, NTH names (e.g. ENABLE_REBALANCE_DRAINING: "true"). */
  agent: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
  nodes: z.array(nodeSchema).min(1),
  daemonSets: z.array(z.string()).default([]),
  workloads: z.array(workloadSchema).default([]),
  actions: z.array(actionSchema).default([]),
  /** Stop when everything has settled, or at this simulated time at the latest. */
  timeout: durationSchema.default(600),
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
  const names = new Set(r.data.nodes.map((n) => n.name));
  const unknown = r.data.actions.filter((a) => !names.has(a.node)).map((a) => a.node);
  if (unknown.length) throw new ScenarioError(`invalid ${source}: actions name unknown nodes: ${[...new Set(unknown)].join(', ')}`);
  return r.data;
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

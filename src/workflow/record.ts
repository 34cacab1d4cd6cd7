import { z } from 'zod';
import type { EventKind } from './notice.js';

/**
 * Progress of each event, persisted on the Node itself (annotation), so that a restarted agent —
 * or a new pod after a crash — resumes where the last one stopped and never redoes finished work.
 */
export const RECORDS_ANNOTATION = 'spot-guard.io/events';

export const PHASES = [
  'Pending',
  // Spot Guard: getting replacement capacity before the at-risk node is touched.
  'Replacing',
  // Spot Guard: no spot or on-demand capacity; node tainted and cordoned, not drained; retrying.
  'NoCapacity',
  'Cordoned',
  'Draining',
  'Drained',
  'AwaitingReboot',
  'Canceled',
  'Done',
] as const;
export type Phase = (typeof PHASES)[number];

/** One +1 on an Auto Scaling group made for an event (Spot Guard). */
export const capacityRequestSchema = z.object({
  capacityType: z.enum(['spot', 'on-demand']),
  group: z.string(),
  requestedAt: z.string(),
  desiredBefore: z.number().int(),
  desiredAfter: z.number().int(),
  /** Instance ids in the group at request time: the replacement is one that is not among them. */
  baseline: z.array(z.string()),
  /** false = intent recorded, SetDesiredCapacity not yet known to have happened (crash window). */
  confirmed: z.boolean(),
  outcome: z.enum(['waiting', 'ready', 'failed']).default('waiting'),
  reason: z.string().optional(),
  /** The +1 of a failed request was taken back (or found already filled/taken back). */
  undone: z.boolean().default(false),
  /** The +1 was filled late (after the wait gave up): wait for that instance once more, until here. */
  extendedUntil: z.string().optional(),
  dryRun: z.boolean().optional(),
});

const spotGuardSchema = z.object({
  requests: z.array(capacityRequestSchema).default([]),
  replacement: z
    .object({ instanceId: z.string(), node: z.string(), capacityType: z.enum(['spot', 'on-demand']), readyAt: z.string() })
    .optional(),
  /** NoCapacity: when to try again. */
  retryAt: z.string().optional(),
  /** The at-risk instance was handed to TerminateInstanceInAutoScalingGroup. */
  retired: z.boolean().default(false),
});

const recordSchema = z.object({
  kind: z.enum(['SPOT_ITN', 'REBALANCE_RECOMMENDATION', 'SCHEDULED_EVENT', 'ASG_LIFECYCLE']),
  phase: z.enum(PHASES),
  startTime: z.string(),
  detectedAt: z.string(),
  updatedAt: z.string(),
  /** The machine boot the event belongs to; a different boot means an old, finished story. */
  bootId: z.string(),
  description: z.string().default(''),
  code: z.string().optional(),
  /** The node was already cordoned by someone else when we cordoned it: leave it cordoned on undo. */
  wasUnschedulable: z.boolean().optional(),
  drainAttempts: z.number().int().nonnegative().default(0),
  lastError: z.string().optional(),
  spotGuard: spotGuardSchema.optional(),
});

export type CapacityRequestRecord = z.infer<typeof capacityRequestSchema>;
export type SpotGuardState = z.infer<typeof spotGuardSchema>;

export type EventRecord = z.infer<typeof recordSchema> & { id: string };
export type Records = Record<string, EventRecord>;

const annotationSchema = z.object({ v: z.literal(1), events: z.record(z.string(), z.unknown()) });

export interface ParsedRecords {
  records: Records;
  /** Records that could not be read (hand-edited or from a newer version): reported, not fatal. */
  problems: string[];
}

export function parseRecords(annotations: Record<string, string>): ParsedRecords {
  const raw = annotations[RECORDS_ANNOTATION];
  const out: ParsedRecords = { records: {}, problems: [] };
  if (!raw) return out;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    out.problems.push(`annotation ${RECORDS_ANNOTATION} is not JSON: ${(err as Error).message}`);
    return out;
  }
  const top = annotationSchema.safeParse(json);
  if (!top.success) {
    out.problems.push(`annotation ${RECORDS_ANNOTATION} has an unexpected shape: ${top.error.issues[0]?.message ?? ''}`);
    return out;
  }
  for (const [id, value] of Object.entries(top.data.events)) {
    const rec = recordSchema.safeParse(value);
    if (rec.success) out.records[id] = { ...rec.data, id };
    else out.problems.push(`record ${id}: ${rec.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return out;
}

export function serializeRecords(records: Records): string {
  const events: Record<string, Omit<EventRecord, 'id'>> = {};
  for (const [id, rec] of Object.entries(records)) {
    const { id: _id, ...rest } = rec;
    events[id] = rest;
  }
  return JSON.stringify({ v: 1, events });
}

export function newRecord(
  id: string,
  kind: EventKind,
  fields: { startTime: number; now: number; bootId: string; description: string; code?: string },
): EventRecord {
  const iso = new Date(fields.now).toISOString();
  return {
    id,
    kind,
    phase: 'Pending',
    startTime: new Date(fields.startTime).toISOString(),
    detectedAt: iso,
    updatedAt: iso,
    bootId: fields.bootId,
    description: fields.description,
    ...(fields.code ? { code: fields.code } : {}),
    drainAttempts: 0,
  };
}

/** Phases in which the event still wants the node cordoned. */
export function holdsCordon(rec: EventRecord): boolean {
  return (
    rec.phase === 'Cordoned' ||
    rec.phase === 'NoCapacity' ||
    rec.phase === 'Draining' ||
    rec.phase === 'Drained' ||
    rec.phase === 'AwaitingReboot'
  );
}

export function isFinished(rec: EventRecord): boolean {
  return rec.phase === 'Done';
}

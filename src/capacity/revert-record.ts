import { z } from 'zod';
import { capacityRequestSchema } from '../workflow/record.js';

/**
 * Progress of a revert (on-demand fallback node → spot), persisted on the fallback Node itself, so
 * a restarted agent resumes it at the step it was at.
 */
export const REVERT_ANNOTATION = 'spot-guard.io/revert';
/** Keeps Cluster Autoscaler from removing the new spot node before the move is done. */
export const CA_SCALE_DOWN_DISABLED = 'cluster-autoscaler.kubernetes.io/scale-down-disabled';

export const REVERT_PHASES = ['Probing', 'Cordoned', 'Draining', 'Retiring', 'Done'] as const;
export type RevertPhase = (typeof REVERT_PHASES)[number];

const revertSchema = z.object({
  v: z.literal(1),
  id: z.string(),
  phase: z.enum(REVERT_PHASES),
  /** Which of the group's revert slots (SPOT_GUARD_REVERT_CONCURRENCY) this revert holds. */
  slot: z.number().int().nonnegative(),
  startedAt: z.string(),
  updatedAt: z.string(),
  requests: z.array(capacityRequestSchema).default([]),
  replacement: z.object({ instanceId: z.string(), node: z.string(), readyAt: z.string() }).optional(),
  /** Nodes on which we set the Cluster Autoscaler annotation (we remove only what we added). */
  protectedNodes: z.array(z.string()).default([]),
  drainAttempts: z.number().int().nonnegative().default(0),
  lastError: z.string().optional(),
});

export type RevertRecord = z.infer<typeof revertSchema>;

export function parseRevert(annotations: Record<string, string>): { record: RevertRecord | null; problem?: string } {
  const raw = annotations[REVERT_ANNOTATION];
  if (!raw) return { record: null };
  try {
    const r = revertSchema.safeParse(JSON.parse(raw));
    return r.success ? { record: r.data } : { record: null, problem: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  } catch (err) {
    return { record: null, problem: `not JSON: ${(err as Error).message}` };
  }
}

export function serializeRevert(r: RevertRecord): string {
  return JSON.stringify(r);
}

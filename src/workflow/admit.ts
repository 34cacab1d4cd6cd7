import { newRecord, type EventRecord, type Records } from './record.js';
import type { InterruptionNotice } from './notice.js';

const RETENTION_MS = 7 * 24 * 3600_000;

export interface Admission {
  records: Records;
  admitted: EventRecord[];
  canceled: EventRecord[];
  rescheduled: EventRecord[];
  /** Scheduled events AWS reports completed before we acted (e.g. the owner rebooted early): nothing left to do. */
  completed: EventRecord[];
}

/**
 * Pure: folds what the monitors see into the persisted records. One interruption is handled once:
 * a notice whose id is already recorded for this boot changes nothing, however often it is polled
 * and however its time field moves. Returns null when nothing changed (no write needed).
 */
export function admitNotices(
  current: Records,
  notices: InterruptionNotice[],
  ctx: { now: number; bootId: string },
): Admission | null {
  const records: Records = { ...current };
  const out: Admission = { records, admitted: [], canceled: [], rescheduled: [], completed: [] };
  let changed = false;

  for (const n of notices) {
    const existing = records[n.id];
    const state = n.scheduled?.state;
    if (state === 'completed') {
      // Done by AWS (or by the owner rebooting early) before we started: cordoning and draining now
      // would only disrupt a node that is already past its event. Work already started runs its course.
      if (existing && existing.phase === 'Pending') {
        const rec = { ...existing, phase: 'Done' as const, updatedAt: iso(ctx.now) };
        records[n.id] = rec;
        out.completed.push(rec);
        changed = true;
      }
      continue;
    }
    if (state === 'canceled') {
      if (existing && existing.phase !== 'Done' && existing.phase !== 'Canceled') {
        // Nothing was done yet → nothing to undo; otherwise the undo (uncordon) is a step of its own.
        const rec = { ...existing, phase: existing.phase === 'Pending' ? ('Done' as const) : ('Canceled' as const), updatedAt: iso(ctx.now) };
        records[n.id] = rec;
        out.canceled.push(rec);
        changed = true;
      }
      continue;
    }
    if (existing) {
      // AWS event ids (scheduled events) are unique forever; our own ids are per instance, so a
      // record from an earlier boot (a stopped and restarted instance) belongs to an interruption
      // that already happened: a notice seen on this boot starts a new story (cordon again, drain again).
      const staleIncarnation = n.kind !== 'SCHEDULED_EVENT' && existing.bootId !== ctx.bootId;
      if (!staleIncarnation) {
        if (n.kind === 'SCHEDULED_EVENT' && existing.phase === 'Pending' && Date.parse(existing.startTime) !== n.startTime) {
          const rec = { ...existing, startTime: iso(n.startTime), updatedAt: iso(ctx.now) };
          records[n.id] = rec;
          out.rescheduled.push(rec);
          changed = true;
        }
        continue;
      }
    }
    const rec = newRecord(n.id, n.kind, {
      startTime: n.startTime,
      now: ctx.now,
      bootId: ctx.bootId,
      description: n.description,
      ...(n.scheduled ? { code: n.scheduled.code } : {}),
    });
    records[n.id] = rec;
    out.admitted.push(rec);
    changed = true;
  }

  for (const [id, rec] of Object.entries(records)) {
    if (rec.phase === 'Done' && ctx.now - Date.parse(rec.updatedAt) > RETENTION_MS) {
      delete records[id];
      changed = true;
    }
  }
  return changed ? out : null;
}

const iso = (ms: number) => new Date(ms).toISOString();

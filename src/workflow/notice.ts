/** NTH's event kinds; the names users see in logs, events and webhooks. */
export type EventKind = 'SPOT_ITN' | 'REBALANCE_RECOMMENDATION' | 'SCHEDULED_EVENT' | 'ASG_LIFECYCLE';

/** What a monitor saw in IMDS on one poll. The same interruption yields the same `id` on every poll. */
export interface InterruptionNotice {
  id: string;
  kind: EventKind;
  monitor: string;
  /** When the interruption happens (ITN time, scheduled NotBefore, rebalance notice time), epoch ms. */
  startTime: number;
  endTime?: number;
  description: string;
  /** Scheduled maintenance events only. */
  scheduled?: { code: string; state: 'active' | 'completed' | 'canceled' };
}

/** Scheduled-event codes after which the instance comes back and NTH uncordons it. */
export const REBOOT_CODES: ReadonlySet<string> = new Set(['instance-reboot', 'system-reboot']);

/** Handling order when several events are due at once: the most urgent first. */
export const KIND_URGENCY: Record<EventKind, number> = {
  SPOT_ITN: 0,
  ASG_LIFECYCLE: 1,
  SCHEDULED_EVENT: 2,
  REBALANCE_RECOMMENDATION: 3,
};

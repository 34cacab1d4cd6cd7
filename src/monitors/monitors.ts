import { createHash } from 'node:crypto';
import type { InterruptionNotice } from '../workflow/notice.js';
import type { NoticeSource } from './notice-source.js';

/** One IMDS check turning answers into notices. */
export interface Monitor {
  name: string;
  poll(signal?: AbortSignal): Promise<InterruptionNotice[]>;
}

/**
 * Ids are derived from what identifies the interruption, never from fields that move on every poll
 * (amazon-ec2-metadata-mock recomputes the ITN time and the rebalance notice time per request).
 */
function stableId(prefix: string, ...parts: string[]): string {
  return `${prefix}-${createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 16)}`;
}

export function spotItnMonitor(imds: NoticeSource, instanceId: string): Monitor {
  return {
    name: 'SPOT_ITN_MONITOR',
    async poll(signal) {
      const itn = await imds.getSpotInstanceAction(signal);
      if (!itn) return [];
      return [
        {
          id: stableId('spot-itn', instanceId, itn.action),
          kind: 'SPOT_ITN',
          monitor: this.name,
          startTime: itn.time.getTime(),
          description: `Spot ITN received. Instance will be interrupted (${itn.action}) at ${itn.time.toISOString()}`,
        },
      ];
    },
  };
}

export function rebalanceMonitor(imds: NoticeSource, instanceId: string): Monitor {
  return {
    name: 'REBALANCE_RECOMMENDATION_MONITOR',
    async poll(signal) {
      const rec = await imds.getRebalanceRecommendation(signal);
      if (!rec) return [];
      return [
        {
          id: stableId('rebalance-recommendation', instanceId),
          kind: 'REBALANCE_RECOMMENDATION',
          monitor: this.name,
          startTime: rec.noticeTime.getTime(),
          description: `Rebalance recommendation received. Instance rebalance recommendation time ${rec.noticeTime.toISOString()}`,
        },
      ];
    },
  };
}

export function scheduledEventMonitor(imds: NoticeSource): Monitor {
  return {
    name: 'SCHEDULED_EVENT_MONITOR',
    async poll(signal) {
      const events = await imds.getScheduledEvents(signal);
      return events.map((e) => ({
        // AWS event ids are unique, so they are the id, as in NTH.
        id: e.eventId,
        kind: 'SCHEDULED_EVENT' as const,
        monitor: this.name,
        startTime: e.notBefore.getTime(),
        ...(e.notAfter ? { endTime: e.notAfter.getTime() } : {}),
        description: `${e.code} will occur between ${e.notBefore.toISOString()} and ${e.notAfter?.toISOString() ?? '(unspecified)'} because ${e.description}`,
        scheduled: { code: e.code, state: e.state },
      }));
    },
  };
}

export function asgLifecycleMonitor(imds: NoticeSource, instanceId: string, now: () => number): Monitor {
  return {
    name: 'ASG_LIFECYCLE_MONITOR',
    async poll(signal) {
      const state = await imds.getTargetLifecycleState(signal);
      if (state !== 'Terminated') return [];
      return [
        {
          id: stableId('asg-lifecycle-term', instanceId),
          kind: 'ASG_LIFECYCLE',
          monitor: this.name,
          startTime: now(),
          description: 'ASG target lifecycle state is Terminated: the instance is being terminated by Auto Scaling',
        },
      ];
    },
  };
}

/**
 * What the agent tells the outside world about its decisions: Kubernetes Events on the Node
 * (EMIT_KUBERNETES_EVENTS), webhooks (WEBHOOK_URL), … Workflow code calls `notify` at each notable
 * step; sinks decide what to send. A sink must never throw, block or slow down a drain.
 */

/** NTH's event reasons (kept so dashboards and alerts keep working), then Spot Guard's. */
export type NotificationReason =
  | 'SpotInterruption'
  | 'RebalanceRecommendation'
  | 'ScheduledEvent'
  | 'ASGLifecycle'
  | 'Cordon'
  | 'CordonError'
  | 'PreDrain'
  | 'CordonAndDrain'
  | 'CordonAndDrainError'
  | 'Uncordon'
  | 'UncordonError'
  | 'MonitorError'
  | 'SpotGuardScaleUp'
  | 'SpotGuardFallback'
  | 'SpotGuardReplacementReady'
  | 'SpotGuardNoCapacity'
  | 'SpotGuardRetire'
  | 'SpotGuardRevert'
  | 'SpotGuardRevertDone'
  | 'SpotGuardRevertFailed';

export interface NotificationEvent {
  id: string;
  /** NTH kind: SPOT_ITN, REBALANCE_RECOMMENDATION, SCHEDULED_EVENT, ASG_LIFECYCLE (or SPOT_REVERT). */
  kind: string;
  /** ISO time of the interruption (ITN time, NotBefore, notice time). */
  startTime: string;
  description: string;
  phase: string;
}

export interface Notification {
  reason: NotificationReason;
  type: 'Normal' | 'Warning';
  message: string;
  nodeName: string;
  /** Epoch ms (clock time). */
  at: number;
  event?: NotificationEvent;
  /** Spot Guard: the Auto Scaling group concerned. */
  group?: string;
}

export interface Notifier {
  notify(n: Notification): void;
}

export const nullNotifier: Notifier = { notify: () => undefined };

/** Fans one notification out to several sinks; a failing sink does not stop the others. */
export function fanOut(sinks: Notifier[]): Notifier {
  return {
    notify(n) {
      for (const s of sinks) {
        try {
          s.notify(n);
        } catch {
          // sinks report their own failures (logs, metrics); a notification is never worth a crash
        }
      }
    },
  };
}

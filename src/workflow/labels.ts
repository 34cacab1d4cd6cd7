import type { EventKind } from './notice.js';

/** NTH's taint keys, so existing tolerations and dashboards keep working after a switch. */
export const NTH_TAINT_KEYS: Record<EventKind, string> = {
  SPOT_ITN: 'aws-node-termination-handler/spot-itn',
  REBALANCE_RECOMMENDATION: 'aws-node-termination-handler/rebalance-recommendation',
  SCHEDULED_EVENT: 'aws-node-termination-handler/scheduled-maintenance',
  ASG_LIFECYCLE: 'aws-node-termination-handler/asg-lifecycle-termination',
};

export const LABEL_EVENT_ID = 'aws-node-termination-handler/event-id';
export const LABEL_ACTION = 'aws-node-termination-handler/action';
export const LABEL_ACTION_TIME = 'aws-node-termination-handler/action-time';
export const ACTION_UNCORDON_AFTER_REBOOT = 'UncordonAfterReboot';
export const LABEL_EXCLUDE_LB = 'node.kubernetes.io/exclude-from-external-load-balancers';
export const EXCLUDE_LB_VALUE = 'aws-node-termination-handler';

/** Label and taint values are limited to 63 characters; NTH cuts the event id the same way. */
export function labelValue(v: string): string {
  return v.slice(0, 63);
}

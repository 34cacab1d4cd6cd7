import type { ActivityView } from './types.js';

/**
 * Which scaling activities prove that capacity is unavailable. Specific reasons only — the
 * reference implementation matched the word "capacity" and fell back on unrelated failures.
 * Sources: EC2 / Auto Scaling error codes and the messages Auto Scaling writes into activities.
 */
const CAPACITY_FAILURE_PATTERNS: readonly RegExp[] = [
  /InsufficientInstanceCapacity/i,
  /\bdo not have sufficient .* capacity\b/i,
  /There is no Spot capacity available/i,
  /MaxSpotInstanceCountExceeded/i,
  /SpotMaxPriceTooLow/i,
  /UnfulfillableCapacity/i,
  /VcpuLimitExceeded/i,
  /InstanceLimitExceeded/i,
  /Could not launch Spot Instances/i,
];

const TERMINAL_FAILED = new Set(['Failed', 'Cancelled']);

/** The capacity-failure reason in an activity, or null when it is not one. */
export function capacityFailureReason(a: ActivityView): string | null {
  if (!TERMINAL_FAILED.has(a.statusCode)) return null;
  const text = [a.statusMessage, a.description, a.cause].join(' \n ');
  for (const p of CAPACITY_FAILURE_PATTERNS) {
    if (p.test(text)) return (a.statusMessage || a.description).slice(0, 300);
  }
  return null;
}

/** Capacity failures of launches that started at or after `since` (older ones are stale news). */
export function capacityFailuresSince(activities: ActivityView[], since: number): string[] {
  return activities
    .filter((a) => a.startTime >= since)
    .map(capacityFailureReason)
    .filter((r): r is string => r !== null);
}

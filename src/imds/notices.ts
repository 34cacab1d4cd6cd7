/**
 * Pure, strict parsers for the IMDS answers the agent acts on. No I/O here.
 *
 * Strict means: a wrong type, a missing field, a value outside the documented set or a date that
 * does not parse is an ImdsParseError naming the field, the value and what was expected. Unknown
 * extra fields are ignored, because AWS adds fields over time and that must not break the agent.
 */
import { ImdsParseError } from './errors.js';
import { parseAwsEventDate, parseRfc3339 } from './dates.js';

export const SPOT_ACTIONS = ['terminate', 'stop', 'hibernate'] as const;
export type SpotAction = (typeof SPOT_ACTIONS)[number];

export const SCHEDULED_EVENT_CODES = [
  'instance-reboot',
  'system-reboot',
  'system-maintenance',
  'instance-retirement',
  'instance-stop',
] as const;
export type ScheduledEventCode = (typeof SCHEDULED_EVENT_CODES)[number];

export const SCHEDULED_EVENT_STATES = ['active', 'completed', 'canceled'] as const;
export type ScheduledEventState = (typeof SCHEDULED_EVENT_STATES)[number];

export interface SpotInstanceAction {
  action: SpotAction;
  time: Date;
}

export interface RebalanceRecommendation {
  noticeTime: Date;
}

export interface ScheduledEvent {
  code: ScheduledEventCode;
  description: string;
  state: ScheduledEventState;
  eventId: string;
  notBefore: Date;
  notAfter?: Date;
  notBeforeDeadline?: Date;
}

export interface IdentityDocument {
  accountId: string;
  instanceId: string;
  instanceType: string;
  privateIp: string;
  availabilityZone: string;
  region: string;
  imageId?: string;
  architecture?: string;
  pendingTime?: string;
}

export interface InstanceMetadata {
  instanceId: string;
  instanceType: string;
  availabilityZone: string;
  region: string;
  accountId: string;
  privateIp: string;
  /** 'spot' | 'on-demand' on EC2 today; kept open in case AWS adds values (e.g. 'scheduled'). */
  lifeCycle?: 'spot' | 'on-demand' | (string & {});
  localHostname?: string;
  publicHostname?: string;
  publicIp?: string;
}

// ---------------------------------------------------------------------------------------------
// small validation helpers: each failure says where, what it got and what it wanted

function show(value: unknown): string {
  if (value === undefined) return 'missing';
  const json = JSON.stringify(value);
  const text = json === undefined ? String(value) : json;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function fail(what: string, field: string, value: unknown, expected: string): never {
  throw new ImdsParseError(field, `${what}: field "${field}" is ${show(value)}; expected ${expected}`);
}

function parseJson(what: string, body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ImdsParseError('body', `${what}: body is not JSON (${reason}): ${show(body)}`);
  }
}

function asObject(what: string, field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(what, field, value, 'a JSON object');
  }
  return value as Record<string, unknown>;
}

function requiredString(what: string, obj: Record<string, unknown>, key: string, field = key): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.length === 0) fail(what, field, v, 'a non-empty string');
  return v;
}

function optionalString(what: string, obj: Record<string, unknown>, key: string, field = key): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(what, field, v, 'a string');
  return v;
}

function oneOf<T extends string>(what: string, field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    fail(what, field, value, `one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function rfc3339(what: string, field: string, value: unknown): Date {
  const d = typeof value === 'string' ? parseRfc3339(value) : null;
  if (!d) fail(what, field, value, 'an RFC 3339 time like "2025-01-01T00:02:00Z"');
  return d;
}

function awsEventDate(what: string, field: string, value: unknown): Date {
  const d = typeof value === 'string' ? parseAwsEventDate(value) : null;
  if (!d) fail(what, field, value, 'a date like "21 Jan 2019 09:00:43 GMT"');
  return d;
}

// ---------------------------------------------------------------------------------------------
// parsers

/** spot/instance-action: {"action":"terminate","time":"2025-01-01T00:02:00Z"} */
export function parseSpotInstanceAction(body: string): SpotInstanceAction {
  const what = 'spot/instance-action';
  const obj = asObject(what, 'body', parseJson(what, body));
  return {
    action: oneOf(what, 'action', obj.action, SPOT_ACTIONS),
    time: rfc3339(what, 'time', obj.time),
  };
}

/** events/recommendations/rebalance: {"noticeTime":"2025-01-01T00:00:00Z"} */
export function parseRebalanceRecommendation(body: string): RebalanceRecommendation {
  const what = 'events/recommendations/rebalance';
  const obj = asObject(what, 'body', parseJson(what, body));
  return { noticeTime: rfc3339(what, 'noticeTime', obj.noticeTime) };
}

/** An optional AWS-format date: absent, null or "" mean "not given" (EC2 omits NotAfter on some events). */
function optionalAwsEventDate(what: string, obj: Record<string, unknown>, key: string, field: string): Date | undefined {
  const v = obj[key];
  if (v === undefined || v === null || v === '') return undefined;
  return awsEventDate(what, field, v);
}

/** events/maintenance/scheduled: a JSON array of events; an empty body or [] means none. */
export function parseScheduledEvents(body: string): ScheduledEvent[] {
  const what = 'events/maintenance/scheduled';
  if (body.trim() === '') return [];
  const parsed = parseJson(what, body);
  if (!Array.isArray(parsed)) fail(what, 'body', parsed, 'a JSON array of events');
  return parsed.map((item, i): ScheduledEvent => {
    const at = (key: string) => `[${i}].${key}`;
    const obj = asObject(what, `[${i}]`, item);
    const event: ScheduledEvent = {
      code: oneOf(what, at('Code'), obj.Code, SCHEDULED_EVENT_CODES),
      description: optionalString(what, obj, 'Description', at('Description')) ?? '',
      state: oneOf(what, at('State'), obj.State, SCHEDULED_EVENT_STATES),
      eventId: requiredString(what, obj, 'EventId', at('EventId')),
      notBefore: awsEventDate(what, at('NotBefore'), obj.NotBefore),
    };
    const notAfter = optionalAwsEventDate(what, obj, 'NotAfter', at('NotAfter'));
    if (notAfter) event.notAfter = notAfter;
    const deadline = optionalAwsEventDate(what, obj, 'NotBeforeDeadline', at('NotBeforeDeadline'));
    if (deadline) event.notBeforeDeadline = deadline;
    return event;
  });
}

/** e.g. InService, Terminated, Standby, Detached, Warmed:Running. */
const LIFECYCLE_STATE = /^[A-Za-z]+(?::[A-Za-z]+)?$/;

/** autoscaling/target-lifecycle-state: a single word such as InService or Terminated. */
export function parseTargetLifecycleState(body: string): string {
  const what = 'autoscaling/target-lifecycle-state';
  const state = body.trim();
  if (state.length === 0 || state.length > 64 || !LIFECYCLE_STATE.test(state)) {
    fail(what, 'body', body, 'a lifecycle state such as "InService" or "Terminated"');
  }
  return state;
}

/** dynamic/instance-identity/document: the fields the agent needs must be non-empty strings. */
export function parseIdentityDocument(body: string): IdentityDocument {
  const what = 'instance-identity/document';
  const obj = asObject(what, 'body', parseJson(what, body));
  const doc: IdentityDocument = {
    accountId: requiredString(what, obj, 'accountId'),
    instanceId: requiredString(what, obj, 'instanceId'),
    instanceType: requiredString(what, obj, 'instanceType'),
    privateIp: requiredString(what, obj, 'privateIp'),
    availabilityZone: requiredString(what, obj, 'availabilityZone'),
    region: requiredString(what, obj, 'region'),
  };
  const imageId = optionalString(what, obj, 'imageId');
  if (imageId) doc.imageId = imageId;
  const architecture = optionalString(what, obj, 'architecture');
  if (architecture) doc.architecture = architecture;
  const pendingTime = optionalString(what, obj, 'pendingTime');
  if (pendingTime) doc.pendingTime = pendingTime;
  return doc;
}

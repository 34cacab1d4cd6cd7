/**
 * The Auto Scaling actions the simulator implements: each takes decoded Query parameters and
 * returns the inner XML of `<{Action}Result>` (undefined for actions whose response has none), or
 * throws an AsgApiError. Lists paginate with MaxRecords/NextToken like the real API.
 */
import type { GroupController } from './group-controller.js';
import { AsgApiError, groupNotFound, missingParameter, validationError } from './errors.js';
import type { SimAsgActivity, SimAsgInstance } from './model.js';
import { leaf, memberList, node, type QueryParams } from './query-protocol.js';
import { renderActivity, renderGroup, renderInstanceDetails } from './render.js';

/** What the handlers need from the service. */
export interface ActionContext {
  groups: ReadonlyMap<string, GroupController>;
  findInstance(instanceId: string): { group: GroupController; instance: SimAsgInstance } | undefined;
}

export type ActionHandler = (ctx: ActionContext, p: QueryParams) => string | undefined;

export const ACTIONS: Record<string, ActionHandler> = {
  DescribeAutoScalingGroups: describeAutoScalingGroups,
  DescribeAutoScalingInstances: describeAutoScalingInstances,
  SetDesiredCapacity: setDesiredCapacity,
  TerminateInstanceInAutoScalingGroup: terminateInstanceInAutoScalingGroup,
  DescribeScalingActivities: describeScalingActivities,
};

function describeAutoScalingGroups(ctx: ActionContext, p: QueryParams): string {
  const names = p.list('AutoScalingGroupNames');
  // Unknown names are simply absent from the answer (no error), as in AWS.
  const groups = names.length > 0 ? names.flatMap((n) => ctx.groups.get(n) ?? []) : [...ctx.groups.values()];
  const page = paginateByOffset(groups, p, 50, 100);
  return memberList('AutoScalingGroups', page.items.map(renderGroup)) + leaf('NextToken', page.nextToken);
}

function describeAutoScalingInstances(ctx: ActionContext, p: QueryParams): string {
  const ids = p.list('InstanceIds');
  let instances: SimAsgInstance[];
  if (ids.length > 0) {
    instances = ids.flatMap((id) => ctx.findInstance(id)?.instance ?? []);
  } else {
    instances = [...ctx.groups.values()].flatMap((g) => [...g.instances.values()]);
  }
  const page = paginateByOffset(instances, p, 50, 50);
  return memberList('AutoScalingInstances', page.items.map(renderInstanceDetails)) + leaf('NextToken', page.nextToken);
}

function setDesiredCapacity(ctx: ActionContext, p: QueryParams): undefined {
  const group = requireGroup(ctx, p);
  const desired = requireInt(p, 'DesiredCapacity');
  group.setDesiredCapacity(desired, p.get('HonorCooldown') === 'true');
  return undefined;
}

function terminateInstanceInAutoScalingGroup(ctx: ActionContext, p: QueryParams): string {
  const instanceId = p.get('InstanceId');
  if (!instanceId) throw missingParameter('InstanceId');
  const decrementRaw = p.get('ShouldDecrementDesiredCapacity');
  if (decrementRaw === undefined) throw missingParameter('ShouldDecrementDesiredCapacity');
  const found = ctx.findInstance(instanceId);
  if (!found) throw validationError(`Instance Id not found - No managed instance found for instance ID: ${instanceId}`);
  const activity = found.group.terminate(instanceId, decrementRaw === 'true');
  return node('Activity', renderActivity(activity));
}

function describeScalingActivities(ctx: ActionContext, p: QueryParams): string {
  const groupName = p.get('AutoScalingGroupName');
  const ids = new Set(p.list('ActivityIds'));
  const maxRecords = maxRecordsOf(p, 100, 100);
  let all: SimAsgActivity[];
  if (groupName !== undefined) {
    all = [...(ctx.groups.get(groupName)?.activities ?? [])];
  } else {
    all = [...ctx.groups.values()].flatMap((g) => g.activities);
  }
  if (ids.size > 0) all = all.filter((a) => ids.has(a.activityId));
  all.sort(newestFirst);

  // The token names the last activity returned, not an offset, so activities recorded between
  // pages (they are prepended: newest first) do not shift or repeat what the next page returns.
  const token = p.get('NextToken');
  if (token) {
    const after = decodeActivityToken(token);
    all = all.filter((a) => newestFirst(a, after) > 0);
  }
  const items = all.slice(0, maxRecords);
  const last = items[items.length - 1];
  const nextToken = all.length > maxRecords && last ? encodeToken({ t: last.startTime, s: last.seq }) : undefined;
  return memberList('Activities', items.map(renderActivity)) + leaf('NextToken', nextToken);
}

// ---- helpers -----------------------------------------------------------------------------------

function newestFirst(a: Pick<SimAsgActivity, 'startTime' | 'seq'>, b: Pick<SimAsgActivity, 'startTime' | 'seq'>): number {
  return b.startTime - a.startTime || b.seq - a.seq;
}

function requireGroup(ctx: ActionContext, p: QueryParams): GroupController {
  const name = p.get('AutoScalingGroupName');
  if (!name) throw missingParameter('AutoScalingGroupName');
  const group = ctx.groups.get(name);
  if (!group) throw groupNotFound(name);
  return group;
}

function requireInt(p: QueryParams, name: string): number {
  const raw = p.get(name);
  if (raw === undefined) throw missingParameter(name);
  const n = Number(raw);
  if (!Number.isInteger(n)) throw validationError(`Invalid value '${raw}' for ${name}: must be an integer`);
  return n;
}

function maxRecordsOf(p: QueryParams, dflt: number, max: number): number {
  const raw = p.get('MaxRecords');
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw validationError(
      `1 validation error detected: Value '${raw}' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to ${max}`,
    );
  }
  return n;
}

function encodeToken(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

function decodeToken(token: string): unknown {
  try {
    return JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalidToken();
  }
}

function invalidToken(): AsgApiError {
  return new AsgApiError('InvalidNextToken', 'The token is invalid.');
}

function decodeActivityToken(token: string): { startTime: number; seq: number } {
  const v = decodeToken(token) as { t?: unknown; s?: unknown } | null;
  if (!v || typeof v.t !== 'number' || typeof v.s !== 'number') throw invalidToken();
  return { startTime: v.t, seq: v.s };
}

/** Groups and instances change rarely between pages in tests; an offset token is enough there. */
function paginateByOffset<T>(items: T[], p: QueryParams, dflt: number, max: number): { items: T[]; nextToken?: string } {
  const maxRecords = maxRecordsOf(p, dflt, max);
  let offset = 0;
  const token = p.get('NextToken');
  if (token) {
    const v = decodeToken(token) as { o?: unknown } | null;
    if (!v || typeof v.o !== 'number' || !Number.isInteger(v.o) || v.o < 0) throw invalidToken();
    offset = v.o;
  }
  const page = items.slice(offset, offset + maxRecords);
  const next = offset + maxRecords;
  return next < items.length ? { items: page, nextToken: encodeToken({ o: next }) } : { items: page };
}

/**
 * The real Auto Scaling adapter: AutoScalingPort over `@aws-sdk/client-auto-scaling` (v3).
 *
 * - Endpoint: `opts.endpoint` when given (config AWS_ENDPOINT / simulator). Otherwise the SDK resolves
 *   it, which already honours `AWS_ENDPOINT_URL_AUTO_SCALING` (service id "Auto Scaling"), then
 *   `AWS_ENDPOINT_URL`, then `endpoint_url` in the shared config file, then the regional AWS endpoint
 *   (tested in test/capacity/aws-autoscaling.test.ts). `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`
 *   turns the env/config-file lookup off, as in every AWS SDK.
 * - Credentials: static ones when given, else the SDK default chain (env, web identity/IRSA,
 *   EKS Pod Identity, IMDS).
 * - Retries: SDK retry mode 'adaptive' (client-side rate limiting once throttled), maxAttempts 8 by
 *   default. Those retries, their back-off (throttling: up to 500 ms × 2^n) and the adaptive token
 *   bucket (as low as 0.5 requests/s right after a throttle) run in REAL time inside the SDK, not in
 *   the injected clock's time.
 * - Each call is bounded by `callTimeoutMs` of the injected clock (default 20 s), retries included,
 *   through an AbortController handed to `client.send` plus a race against `clock.sleep`.
 * - Every failure is classified (classifyAutoScalingError), reported through `onError` once per
 *   failed call, and thrown as an AutoScalingError.
 * - `onCall` / `onAttemptError` are fed by a middleware inside the SDK's retry loop, so they count
 *   HTTP requests (attempts), including those the SDK retried: the same thing the Auto Scaling
 *   throttle bucket (and the simulator's callCounts) count.
 */
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeScalingActivitiesCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  type Activity,
  type AutoScalingClientConfig,
  type AutoScalingGroup,
} from '@aws-sdk/client-auto-scaling';
import type { Clock } from '../shared/clock.js';
import { Deadline } from '../shared/clock.js';
import { backoffDelay } from '../shared/backoff.js';
import type { Logger } from '../observability/logger.js';
import {
  AutoScalingError,
  type ActivityView,
  type AutoScalingErrorKind,
  type AutoScalingPort,
  type GroupInstance,
  type GroupView,
} from './types.js';

export interface AwsAutoScalingOptions {
  region: string;
  /**
   * Explicit endpoint (config AWS_ENDPOINT / simulator). Otherwise the SDK's own resolution applies,
   * which already honours AWS_ENDPOINT_URL_AUTO_SCALING and AWS_ENDPOINT_URL.
   */
  endpoint?: string;
  /** Static credentials (simulator/tests); otherwise the SDK's default provider chain (env, IRSA web identity, Pod Identity, IMDS). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** SDK retry: attempts per call, default 8. */
  maxAttempts?: number;
  /**
   * SDK retry mode, default 'adaptive': after a throttling error the client rate-limits itself
   * (token bucket, down to 0.5 requests/s) on top of the back-off. Those waits are in REAL time; a
   * simulation with a fast ScaledClock may prefer 'standard' (back-off only) so one throttled call
   * does not cost hundreds of simulated seconds.
   */
  retryMode?: 'adaptive' | 'standard';
  /** Per-call bound (SDK retries included) in the injected clock's time; default 20 s. */
  callTimeoutMs?: number;
  clock: Clock;
  logger: Logger;
  /** Counts failed calls by kind (metrics): once per call that finally failed, after the SDK's retries. */
  onError?: (operation: string, kind: AutoScalingErrorKind) => void;
  /** Counts every API request by operation, SDK retries included (benchmarks: "Auto Scaling calls per event"). */
  onCall?: (operation: string) => void;
  /** Every failed request, including the ones the SDK retried (e.g. count throttling that retries hid). */
  onAttemptError?: (operation: string, kind: AutoScalingErrorKind) => void;
}

export const DEFAULT_MAX_ATTEMPTS = 8;
export const DEFAULT_CALL_TIMEOUT_MS = 20_000;
/** DescribeScalingActivities allows at most 100 records per page. */
const ACTIVITY_PAGE_SIZE = 100;
/** Safety net against a service that keeps returning NextToken: 50 pages = 5000 activities. */
const MAX_ACTIVITY_PAGES = 50;
/**
 * Real-time socket bounds, so that a dead connection fails one attempt (and the SDK can retry it)
 * well inside the per-call bound rather than hanging until the abort.
 */
const CONNECTION_TIMEOUT_MS = 3_000;
const REQUEST_TIMEOUT_MS = 10_000;

export class AwsAutoScaling implements AutoScalingPort {
  private readonly client: AutoScalingClient;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly callTimeoutMs: number;
  private readonly onError: AwsAutoScalingOptions['onError'];
  /** Where calls go, for error messages: "region us-east-1, endpoint http://…". */
  readonly where: string;

  constructor(opts: AwsAutoScalingOptions) {
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.callTimeoutMs = opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.onError = opts.onError;
    const endpointFromEnv = process.env.AWS_ENDPOINT_URL_AUTO_SCALING ?? process.env.AWS_ENDPOINT_URL;
    this.where =
      `region ${opts.region}` +
      (opts.endpoint ? `, endpoint ${opts.endpoint}` : endpointFromEnv ? `, endpoint ${endpointFromEnv} (from environment)` : '');
    const config: AutoScalingClientConfig = {
      region: opts.region,
      retryMode: opts.retryMode ?? 'adaptive',
      maxAttempts: opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      requestHandler: {
        connectionTimeout: CONNECTION_TIMEOUT_MS,
        requestTimeout: REQUEST_TIMEOUT_MS,
        throwOnRequestTimeout: true,
      },
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
    };
    this.client = new AutoScalingClient(config);

    const { onCall, onAttemptError } = opts;
    if (onCall || onAttemptError) {
      // Inside the retry middleware (finalizeRequest, high priority) and after deserialization:
      // runs once per HTTP attempt and sees the parsed service error.
      this.client.middlewareStack.add(
        (next, context) => async (args) => {
          const operation = operationOf(context.commandName);
          onCall?.(operation);
          try {
            return await next(args);
          } catch (err) {
            onAttemptError?.(operation, classifyAutoScalingError(err).kind);
            throw err;
          }
        },
        { step: 'finalizeRequest', priority: 'low', name: 'spotGuardAttemptCounter' },
      );
    }
  }

  /** Releases the SDK's sockets. */
  close(): void {
    this.client.destroy();
  }

  async describeGroup(name: string): Promise<GroupView | null> {
    const out = await this.call('DescribeAutoScalingGroups', { group: name }, (signal) =>
      this.client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }), { abortSignal: signal }),
    );
    const group = (out.AutoScalingGroups ?? []).find((g) => g.AutoScalingGroupName === name);
    return group ? toGroupView(group) : null;
  }

  async setDesiredCapacity(name: string, desired: number): Promise<void> {
    await this.call('SetDesiredCapacity', { group: name, desired }, (signal) =>
      this.client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: name, DesiredCapacity: desired, HonorCooldown: false }), {
        abortSignal: signal,
      }),
    );
  }

  async terminateInstance(instanceId: string, decrementDesired: boolean): Promise<'terminating' | 'not-found'> {
    try {
      await this.call(
        'TerminateInstanceInAutoScalingGroup',
        { instanceId, decrementDesired },
        (signal) =>
          this.client.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: instanceId, ShouldDecrementDesiredCapacity: decrementDesired }), {
            abortSignal: signal,
          }),
        // "Instance Id not found" is an answer here (the instance is already out of its group), not a failure.
        (e) => e.kind !== 'not-found',
      );
      return 'terminating';
    } catch (err) {
      if (err instanceof AutoScalingError && err.kind === 'not-found') return 'not-found';
      throw err;
    }
  }

  async groupOfInstance(instanceId: string): Promise<string | null> {
    const out = await this.call('DescribeAutoScalingInstances', { instanceId }, (signal) =>
      this.client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }), { abortSignal: signal }),
    );
    const found = (out.AutoScalingInstances ?? []).find((i) => i.InstanceId === instanceId);
    return found?.AutoScalingGroupName ?? null;
  }

  async activitiesSince(groupName: string, since: number): Promise<ActivityView[]> {
    const result: ActivityView[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_ACTIVITY_PAGES; page++) {
      const out = await this.call('DescribeScalingActivities', { group: groupName, page }, (signal) =>
        this.client.send(
          new DescribeScalingActivitiesCommand({ AutoScalingGroupName: groupName, MaxRecords: ACTIVITY_PAGE_SIZE, NextToken: token }),
          { abortSignal: signal },
        ),
      );
      const activities = out.Activities ?? [];
      for (const a of activities) {
        const view = toActivityView(a, groupName);
        if (view && view.startTime >= since) result.push(view);
      }
      token = out.NextToken;
      const last = activities[activities.length - 1];
      // Newest first: once a page ends before `since`, every later page is older still.
      const lastStart = last?.StartTime?.getTime();
      if (!token || lastStart === undefined || lastStart < since) return result;
    }
    this.logger.warn({ group: groupName, pages: MAX_ACTIVITY_PAGES }, 'stopped paging scaling activities at the page limit');
    return result;
  }

  /**
   * Runs one SDK call bounded by callTimeoutMs of clock time; classifies, reports and rethrows failures.
   * `report` decides whether a classified failure counts as an error (onError, warn-level log).
   */
  private async call<T>(
    operation: string,
    fields: Record<string, unknown>,
    send: (signal: AbortSignal) => Promise<T>,
    report: (e: AutoScalingError) => boolean = () => true,
  ): Promise<T> {
    const started = this.clock.now();
    const abort = new AbortController();
    const stopTimer = new AbortController();
    let timedOut = false;
    const timeout = new Promise<never>((_, reject) => {
      this.clock.sleep(this.callTimeoutMs, stopTimer.signal).then(
        () => {
          timedOut = true;
          const err = new AutoScalingError('transport', 'Timeout', `${operation} did not complete within ${this.callTimeoutMs} ms`);
          abort.abort(err);
          reject(err);
        },
        () => undefined,
      );
    });
    const sent = send(abort.signal);
    try {
      const out = await Promise.race([sent, timeout]);
      this.logger.debug({ operation, ...fields, attempts: attemptsOf(out), ms: this.clock.now() - started }, 'auto scaling call');
      return out;
    } catch (err) {
      sent.catch(() => undefined); // the timeout won the race; the SDK's rejection comes later
      const e = timedOut
        ? new AutoScalingError('transport', 'Timeout', `${operation} did not complete within ${this.callTimeoutMs} ms`)
        : classifyAutoScalingError(err);
      const log = { operation, ...fields, kind: e.kind, code: e.code, err: e.message, attempts: attemptsOf(err), ms: this.clock.now() - started };
      if (report(e)) {
        this.onError?.(operation, e.kind);
        this.logger.debug(log, 'auto scaling call failed');
      } else {
        this.logger.debug(log, 'auto scaling call answered');
      }
      throw e;
    } finally {
      stopTimer.abort();
    }
  }
}

// ---- error classification -----------------------------------------------------------------------

const THROTTLING_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
]);

const TRANSPORT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $metadata?: { httpStatusCode?: number };
  $response?: unknown;
}

/** Why an Auto Scaling call failed. Accepts SDK service exceptions, network errors and anything else. */
export function classifyAutoScalingError(err: unknown): AutoScalingError {
  if (err instanceof AutoScalingError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorShape;
  const name = typeof e.name === 'string' ? e.name : '';
  const errno = typeof e.code === 'string' ? e.code : typeof e.Code === 'string' ? e.Code : '';
  const message = typeof e.message === 'string' ? e.message : String(err);
  const status = e.$metadata?.httpStatusCode;
  const serviceCode = name && name !== 'Error' ? name : errno;
  // The SDK names modeled faults `<Code>Fault`; strip it so `code` is the wire error code.
  const code = (serviceCode || 'Unknown').replace(/Fault$/, '');
  const make = (kind: AutoScalingErrorKind) => new AutoScalingError(kind, code, message);

  if (THROTTLING_CODES.has(code) || /rate exceeded/i.test(message) || status === 429) return make('throttled');
  if (code === 'ScalingActivityInProgress') return make('scaling-in-progress');
  if (code === 'ResourceContention') return make('resource-contention');
  if (code === 'ValidationError') {
    // Terminate: "Instance Id not found - No managed instance found for instance ID: i-…";
    // SetDesiredCapacity: "AutoScalingGroup name not found - AutoScalingGroup 'x' not found".
    if (/instance id not found|autoscalinggroup name not found/i.test(message)) return make('not-found');
    return make('validation');
  }
  if (
    TRANSPORT_CODES.has(errno) ||
    name === 'AbortError' ||
    name === 'TimeoutError' ||
    name === 'RequestTimeout' ||
    name === 'RequestTimeoutException' ||
    /socket hang up|timed? ?out/i.test(message)
  ) {
    return make('transport');
  }
  // A 5xx the service did not model (InternalFailure, ServiceUnavailable, a proxy's 502): retriable like transport.
  if (status !== undefined && status >= 500) return make('transport');
  return make('other');
}

// ---- start-up check -----------------------------------------------------------------------------

export class GroupCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GroupCheckError';
  }
}

const CHECK_BACKOFF = { baseMs: 1_000, maxMs: 15_000, jitter: 0.5 };

/**
 * Startup check: both groups exist (a clear error naming the missing one and where it was looked for),
 * plus warnings: the spot group has CapacityRebalance on (it launches its own replacement on a
 * rebalance recommendation, so Spot Guard's +1 would double-launch); a group already at MaxSize (its
 * +1 cannot happen). Retriable errors (throttling, transport, …) are retried with back-off for
 * `deadlineMs` of clock time from the call, then thrown; validation errors are thrown at once.
 * `where` (e.g. "region us-east-1, endpoint …") goes into the error; AwsAutoScaling supplies its own.
 */
export async function checkGroups(
  port: AutoScalingPort,
  names: { spot: string; onDemand: string },
  opts: { clock: Clock; logger: Logger; deadlineMs: number; where?: string },
): Promise<{ warnings: string[] }> {
  const where = opts.where ?? (port instanceof AwsAutoScaling ? port.where : undefined);
  const deadline = Deadline.after(opts.clock, opts.deadlineMs);
  const warnings: string[] = [];
  const roles = [
    { role: 'spot', env: 'SPOT_ASG_NAME', name: names.spot },
    { role: 'on-demand', env: 'ON_DEMAND_ASG_NAME', name: names.onDemand },
  ] as const;
  for (const { role, env, name } of roles) {
    const group = await describeWithRetry(port, name, deadline, opts.logger);
    if (!group) {
      throw new GroupCheckError(
        `${role} Auto Scaling group "${name}" (${env}) not found${where ? ` in ${where}` : ''}; check the name, the region and the endpoint`,
      );
    }
    if (role === 'spot' && group.capacityRebalance) {
      warnings.push(
        `spot Auto Scaling group "${name}" has CapacityRebalance enabled: it launches its own replacement on a rebalance recommendation, ` +
          `so Spot Guard's +1 would launch a second one; turn CapacityRebalance off on the group (or Spot Guard off)`,
      );
    }
    if (group.desiredCapacity >= group.maxSize) {
      warnings.push(
        `${role} Auto Scaling group "${name}" is at its MaxSize (${group.maxSize}): a +1 for replacement capacity will be refused until MaxSize is raised`,
      );
    }
  }
  for (const w of warnings) opts.logger.warn({ spotGroup: names.spot, onDemandGroup: names.onDemand }, w);
  return { warnings };
}

async function describeWithRetry(port: AutoScalingPort, name: string, deadline: Deadline, logger: Logger): Promise<GroupView | null> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await port.describeGroup(name);
    } catch (err) {
      const e = classifyAutoScalingError(err);
      if (!e.retriable || deadline.expired()) {
        throw new GroupCheckError(`could not describe Auto Scaling group "${name}": ${e.kind} (${e.code}): ${e.message}`);
      }
      const delay = backoffDelay(attempt, CHECK_BACKOFF);
      logger.warn({ group: name, kind: e.kind, code: e.code, err: e.message, retryInMs: delay }, 'describing Auto Scaling group failed; retrying');
      await deadline.sleep(delay);
    }
  }
}

// ---- mapping ------------------------------------------------------------------------------------

function operationOf(commandName: string | undefined): string {
  return (commandName ?? 'Unknown').replace(/Command$/, '');
}

function attemptsOf(v: unknown): number | undefined {
  return (v as { $metadata?: { attempts?: number } } | null)?.$metadata?.attempts;
}

function toGroupView(g: AutoScalingGroup): GroupView {
  return {
    name: g.AutoScalingGroupName ?? '',
    minSize: g.MinSize ?? 0,
    maxSize: g.MaxSize ?? 0,
    desiredCapacity: g.DesiredCapacity ?? 0,
    capacityRebalance: g.CapacityRebalance ?? false,
    instances: (g.Instances ?? []).map(
      (i): GroupInstance => ({
        instanceId: i.InstanceId ?? '',
        availabilityZone: i.AvailabilityZone ?? '',
        lifecycleState: i.LifecycleState ?? '',
        healthStatus: i.HealthStatus ?? '',
        ...(i.InstanceType ? { instanceType: i.InstanceType } : {}),
      }),
    ),
  };
}

/** null for an activity without a StartTime (AWS always sets one; such an entry cannot be placed in time). */
function toActivityView(a: Activity, groupName: string): ActivityView | null {
  const startTime = a.StartTime?.getTime();
  if (startTime === undefined || Number.isNaN(startTime)) return null;
  const endTime = a.EndTime?.getTime();
  return {
    activityId: a.ActivityId ?? '',
    groupName: a.AutoScalingGroupName ?? groupName,
    statusCode: a.StatusCode ?? '',
    statusMessage: a.StatusMessage ?? '',
    description: a.Description ?? '',
    cause: a.Cause ?? '',
    startTime,
    ...(endTime !== undefined && !Number.isNaN(endTime) ? { endTime } : {}),
  };
}

/**
 * The real Auto Scaling adapter against the simulated Auto Scaling endpoint (AWS Query protocol over
 * loopback HTTP), so the SDK, its retries and its error parsing are exercised as in production.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ScaledClock } from '../../src/shared/clock.js';
import { silentLogger } from '../../src/observability/logger.js';
import { SimAutoScaling, type SimAsgGroupSpec } from '../../src/sim/autoscaling/index.js';
import {
  AwsAutoScaling,
  GroupCheckError,
  checkGroups,
  classifyAutoScalingError,
  type AwsAutoScalingOptions,
} from '../../src/capacity/aws-autoscaling.js';
import { AutoScalingError, type AutoScalingErrorKind } from '../../src/capacity/types.js';

const AZS = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
const CREDS = { accessKeyId: 'x', secretAccessKey: 'x' };
/** 10 simulated minutes = 3 s of real time at 200×: loose enough for a loaded CI machine. */
const LOOSE_CALL_TIMEOUT_MS = 10 * 60_000;

function spotSpec(over: Partial<SimAsgGroupSpec> = {}): SimAsgGroupSpec {
  return {
    name: 'spot-asg',
    capacityType: 'spot',
    instanceType: 'm5.large',
    availabilityZones: AZS,
    minSize: 0,
    maxSize: 10,
    desiredCapacity: 2,
    capacityRebalance: false,
    ...over,
  };
}

function onDemandSpec(over: Partial<SimAsgGroupSpec> = {}): SimAsgGroupSpec {
  return spotSpec({ name: 'od-asg', capacityType: 'on-demand', desiredCapacity: 0, ...over });
}

/** A seeded PRNG (mulberry32), so "30 % throttled" is the same sequence on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Counters {
  calls: Record<string, number>;
  errors: Array<[string, AutoScalingErrorKind]>;
  attemptErrors: Array<[string, AutoScalingErrorKind]>;
}

interface World {
  sim: SimAutoScaling;
  clock: ScaledClock;
  counters: Counters;
  port(over?: Partial<AwsAutoScalingOptions>): AwsAutoScaling;
  close(): Promise<void>;
}

async function startWorld(groups: SimAsgGroupSpec[] = [spotSpec(), onDemandSpec()]): Promise<World> {
  const clock = new ScaledClock(200);
  const sim = new SimAutoScaling({ clock });
  for (const g of groups) sim.createGroup(g);
  await sim.start();
  const counters: Counters = { calls: {}, errors: [], attemptErrors: [] };
  const ports: AwsAutoScaling[] = [];
  return {
    sim,
    clock,
    counters,
    port(over = {}) {
      const p = new AwsAutoScaling({
        region: 'us-east-1',
        endpoint: sim.url,
        credentials: CREDS,
        callTimeoutMs: LOOSE_CALL_TIMEOUT_MS,
        clock,
        logger: silentLogger(),
        onCall: (op) => {
          counters.calls[op] = (counters.calls[op] ?? 0) + 1;
        },
        onError: (op, kind) => counters.errors.push([op, kind]),
        onAttemptError: (op, kind) => counters.attemptErrors.push([op, kind]),
        ...over,
      });
      ports.push(p);
      return p;
    },
    async close() {
      for (const p of ports) p.close();
      await sim.stop();
    },
  };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

async function asgError(p: Promise<unknown>): Promise<AutoScalingError> {
  const err = await rejection(p);
  assert.ok(err instanceof AutoScalingError, `expected AutoScalingError, got ${String(err)}`);
  return err;
}

describe('AwsAutoScaling against the simulator', () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('describeGroup: a present group as a GroupView, an absent one as null', async () => {
    w = await startWorld([spotSpec({ capacityRebalance: true }), onDemandSpec()]);
    const port = w.port();
    const g = await port.describeGroup('spot-asg');
    assert.ok(g);
    assert.equal(g.name, 'spot-asg');
    assert.equal(g.minSize, 0);
    assert.equal(g.maxSize, 10);
    assert.equal(g.desiredCapacity, 2);
    assert.equal(g.capacityRebalance, true);
    assert.equal(g.instances.length, 2);
    const simIds = w.sim.instances('spot-asg').map((i) => i.instanceId).sort();
    assert.deepEqual(g.instances.map((i) => i.instanceId).sort(), simIds);
    for (const i of g.instances) {
      assert.equal(i.lifecycleState, 'InService');
      assert.equal(i.healthStatus, 'Healthy');
      assert.equal(i.instanceType, 'm5.large');
      assert.ok(AZS.includes(i.availabilityZone));
    }
    assert.equal(await port.describeGroup('no-such-asg'), null);
    assert.deepEqual(w.counters.errors, []);
    assert.equal(w.counters.calls.DescribeAutoScalingGroups, 2);
  });

  it('setDesiredCapacity changes the group; a missing group is a not-found AutoScalingError', async () => {
    w = await startWorld();
    const port = w.port();
    await port.setDesiredCapacity('spot-asg', 3);
    assert.equal(w.sim.group('spot-asg').desiredCapacity, 3);
    assert.equal((await port.describeGroup('spot-asg'))?.desiredCapacity, 3);
    const err = await asgError(port.setDesiredCapacity('no-such-asg', 1));
    assert.equal(err.kind, 'not-found');
    assert.equal(err.code, 'ValidationError');
    assert.equal(err.retriable, false);
    assert.deepEqual(w.counters.errors, [['SetDesiredCapacity', 'not-found']]);
  });

  it('setDesiredCapacity above MaxSize is a validation error', async () => {
    w = await startWorld();
    const err = await asgError(w.port().setDesiredCapacity('spot-asg', 11));
    assert.equal(err.kind, 'validation');
    assert.equal(err.retriable, false);
  });

  it('terminateInstance with decrement; an unknown id resolves not-found without counting an error', async () => {
    w = await startWorld();
    const port = w.port();
    const victim = w.sim.instances('spot-asg')[0]!.instanceId;
    assert.equal(await port.terminateInstance(victim, true), 'terminating');
    const snap = w.sim.group('spot-asg');
    assert.equal(snap.desiredCapacity, 1);
    assert.equal(snap.instances.find((i) => i.instanceId === victim)?.lifecycleState, 'Terminating');
    assert.equal(await port.terminateInstance('i-0123456789abcdef0', true), 'not-found');
    assert.deepEqual(w.counters.errors, []);
    assert.equal(w.counters.calls.TerminateInstanceInAutoScalingGroup, 2);
  });

  it('groupOfInstance names the group, null for an unknown instance', async () => {
    w = await startWorld([spotSpec(), onDemandSpec({ desiredCapacity: 1 })]);
    const port = w.port();
    assert.equal(await port.groupOfInstance(w.sim.instances('spot-asg')[0]!.instanceId), 'spot-asg');
    assert.equal(await port.groupOfInstance(w.sim.instances('od-asg')[0]!.instanceId), 'od-asg');
    assert.equal(await port.groupOfInstance('i-0123456789abcdef0'), null);
  });

  it('activitiesSince returns only activities started at or after `since` (stale failures excluded)', async () => {
    w = await startWorld();
    const since = w.clock.now() - 60_000;
    const stale = [
      w.sim.addActivity('spot-asg', {
        startTime: since - 3_600_000,
        endTime: since - 3_599_000,
        statusCode: 'Failed',
        statusMessage: 'There is no Spot capacity available that matches your request.',
        description: 'stale failure 1',
      }),
      w.sim.addActivity('spot-asg', { startTime: since - 1, statusCode: 'Failed', description: 'stale failure 2' }),
    ];
    const atSince = w.sim.addActivity('spot-asg', { startTime: since, statusCode: 'Successful', description: 'at since' });
    const fresh = w.sim.addActivity('spot-asg', {
      startTime: since + 10_000,
      endTime: since + 12_000,
      statusCode: 'Failed',
      statusMessage: 'We currently do not have sufficient m5.large capacity in the Availability Zone you requested (us-east-1a).',
      description: 'Launching a new EC2 instance.  Status Reason: ...',
      cause: 'At 2025-01-01T00:00:00Z a user request explicitly set group desired capacity changing the desired capacity from 2 to 3.',
    });
    w.sim.addActivity('od-asg', { startTime: since + 5_000, description: 'other group' });

    const got = await w.port().activitiesSince('spot-asg', since);
    assert.deepEqual(
      got.map((a) => a.activityId),
      [fresh.activityId, atSince.activityId],
      'newest first, the one exactly at `since` included',
    );
    for (const s of stale) assert.ok(!got.some((a) => a.activityId === s.activityId));
    const f = got[0]!;
    assert.equal(f.groupName, 'spot-asg');
    assert.equal(f.statusCode, 'Failed');
    assert.match(f.statusMessage, /sufficient m5\.large capacity/);
    assert.equal(f.description, fresh.description);
    assert.equal(f.cause, fresh.cause);
    assert.equal(f.startTime, since + 10_000);
    assert.equal(f.endTime, since + 12_000);
    assert.equal(got[1]!.endTime, undefined);
  });

  it('activitiesSince follows NextToken across pages but stops at the first page that reaches back before `since`', async () => {
    w = await startWorld();
    const since = w.clock.now() - 3_600_000;
    // 150 activities after `since` and 250 before it: 400 in all, four pages of 100.
    for (let i = 0; i < 250; i++) {
      w.sim.addActivity('spot-asg', { startTime: since - 1_000 - i * 1_000, statusCode: i % 3 === 0 ? 'Failed' : 'Successful', description: `old ${i}` });
    }
    for (let i = 0; i < 150; i++) {
      w.sim.addActivity('spot-asg', { startTime: since + i * 1_000, description: `new ${i}` });
    }
    const got = await w.port().activitiesSince('spot-asg', since);
    assert.equal(got.length, 150);
    assert.ok(got.every((a) => a.startTime >= since && a.description.startsWith('new ')));
    assert.equal(got[0]!.description, 'new 149');
    assert.equal(got[149]!.description, 'new 0');
    // Page 1: 100 new; page 2: 50 new + 50 old → stop. Pages 3 and 4 are never fetched.
    assert.equal(w.sim.callCounts().DescribeScalingActivities, 2);
    assert.equal(w.counters.calls.DescribeScalingActivities, 2);
  });

  it('activitiesSince fetches one page when the group has only recent history', async () => {
    w = await startWorld();
    const since = w.clock.now() - 60_000;
    w.sim.addActivity('spot-asg', { startTime: since + 1_000, description: 'recent' });
    const got = await w.port().activitiesSince('spot-asg', since);
    assert.deepEqual(got.map((a) => a.description), ['recent']);
    assert.equal(w.sim.callCounts().DescribeScalingActivities, 1);
    assert.deepEqual(await w.port().activitiesSince('no-such-asg', since), []);
  });

  it('30 % throttling: every call still succeeds through SDK retries; the hidden throttling is counted per attempt', async () => {
    w = await startWorld();
    w.sim.setThrottle(0.3, seeded(42));
    // 'standard': back-off only. The adaptive token bucket would add ~2 s of real time per throttle
    // at this call rate (see the next test), which is the SDK's behaviour, not ours.
    const port = w.port({ retryMode: 'standard', callTimeoutMs: 60 * 60_000 });
    const calls = 6;
    for (let i = 0; i < calls; i++) {
      const g = await port.describeGroup('spot-asg');
      assert.equal(g?.name, 'spot-asg');
    }
    const attempts = w.counters.calls.DescribeAutoScalingGroups ?? 0;
    const throttled = w.counters.attemptErrors.filter(([op, kind]) => op === 'DescribeAutoScalingGroups' && kind === 'throttled').length;
    assert.equal(attempts, w.sim.callCounts().DescribeAutoScalingGroups, 'onCall counts HTTP requests, as the service does');
    assert.equal(attempts, calls + throttled);
    assert.ok(throttled > 0, 'the seeded sequence throttles some requests');
    assert.deepEqual(w.counters.errors, [], 'no call failed, so onError saw nothing');
  });

  it('adaptive retry mode (the default) rides out a throttled request', async () => {
    w = await startWorld();
    let n = 0;
    w.sim.setThrottle(0.3, () => (n++ === 0 ? 0 : 0.99)); // only the very first request is throttled
    const port = w.port({ callTimeoutMs: 60 * 60_000 });
    assert.equal((await port.describeGroup('spot-asg'))?.name, 'spot-asg');
    assert.equal(w.sim.callCounts().DescribeAutoScalingGroups, 2);
    assert.deepEqual(w.counters.attemptErrors, [['DescribeAutoScalingGroups', 'throttled']]);
    assert.deepEqual(w.counters.errors, []);
  });

  it('maxAttempts 1 and 100 % throttling: AutoScalingError kind throttled, counted by onError', async () => {
    w = await startWorld();
    w.sim.setThrottle(1);
    const err = await asgError(w.port({ maxAttempts: 1 }).describeGroup('spot-asg'));
    assert.equal(err.kind, 'throttled');
    assert.equal(err.code, 'Throttling');
    assert.equal(err.message, 'Rate exceeded');
    assert.equal(err.retriable, true);
    assert.deepEqual(w.counters.errors, [['DescribeAutoScalingGroups', 'throttled']]);
    assert.equal(w.sim.callCounts().DescribeAutoScalingGroups, 1);
  });

  it('injected ScalingActivityInProgress → kind scaling-in-progress (not retried by the SDK), and nothing changed', async () => {
    w = await startWorld();
    w.sim.injectError('SetDesiredCapacity', 'ScalingActivityInProgress', 'Scaling activity is in progress.', 1);
    const port = w.port();
    const err = await asgError(port.setDesiredCapacity('spot-asg', 3));
    assert.equal(err.kind, 'scaling-in-progress');
    assert.equal(err.code, 'ScalingActivityInProgress');
    assert.equal(err.retriable, true);
    assert.equal(w.sim.group('spot-asg').desiredCapacity, 2);
    assert.deepEqual(w.counters.errors, [['SetDesiredCapacity', 'scaling-in-progress']]);
    await port.setDesiredCapacity('spot-asg', 3);
    assert.equal(w.sim.group('spot-asg').desiredCapacity, 3);
  });

  it('injected ResourceContention → kind resource-contention when retries are exhausted', async () => {
    w = await startWorld();
    w.sim.injectError('TerminateInstanceInAutoScalingGroup', 'ResourceContention', 'You already have a pending update to an Auto Scaling resource.', 1);
    const victim = w.sim.instances('spot-asg')[0]!.instanceId;
    const err = await asgError(w.port({ maxAttempts: 1 }).terminateInstance(victim, true));
    assert.equal(err.kind, 'resource-contention');
    assert.equal(err.code, 'ResourceContention');
  });

  it('a call that outlasts callTimeoutMs (clock time) is aborted as a transport Timeout', async () => {
    w = await startWorld();
    w.sim.setLatencyMs(2_000); // real ms; the bound below is 20 s simulated = 100 ms real
    const err = await asgError(w.port({ callTimeoutMs: 20_000, maxAttempts: 1 }).describeGroup('spot-asg'));
    assert.equal(err.kind, 'transport');
    assert.equal(err.code, 'Timeout');
    assert.deepEqual(w.counters.errors, [['DescribeAutoScalingGroups', 'transport']]);
    w.sim.setLatencyMs(0);
  });

  it('an endpoint nobody listens on is a transport error', async () => {
    w = await startWorld();
    const err = await asgError(w.port({ endpoint: 'http://127.0.0.1:1', maxAttempts: 1 }).describeGroup('spot-asg'));
    assert.equal(err.kind, 'transport');
    assert.equal(err.code, 'ECONNREFUSED');
  });

  it('without an explicit endpoint the SDK honours AWS_ENDPOINT_URL_AUTO_SCALING (over AWS_ENDPOINT_URL); an explicit endpoint wins over both', async () => {
    w = await startWorld();
    const keys = ['AWS_ENDPOINT_URL_AUTO_SCALING', 'AWS_ENDPOINT_URL', 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'] as const;
    const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
    try {
      delete process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS;
      process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:1';
      process.env.AWS_ENDPOINT_URL_AUTO_SCALING = w.sim.url;
      const fromEnv = w.port({ endpoint: undefined, maxAttempts: 1 });
      assert.match(fromEnv.where, /from environment/);
      assert.equal((await fromEnv.describeGroup('spot-asg'))?.name, 'spot-asg');
      assert.equal(w.sim.callCounts().DescribeAutoScalingGroups, 1, 'the call reached the simulator through the env var');

      process.env.AWS_ENDPOINT_URL_AUTO_SCALING = 'http://127.0.0.1:1';
      const explicit = w.port({ maxAttempts: 1 });
      assert.equal((await explicit.describeGroup('spot-asg'))?.name, 'spot-asg');
      assert.equal(w.sim.callCounts().DescribeAutoScalingGroups, 2);
    } finally {
      for (const k of keys) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});

describe('checkGroups', () => {
  let w: World | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it('passes without warnings when both groups exist and the spot group leaves rebalancing to Spot Guard', async () => {
    w = await startWorld();
    const out = await checkGroups(w.port(), { spot: 'spot-asg', onDemand: 'od-asg' }, { clock: w.clock, logger: silentLogger(), deadlineMs: 60_000 });
    assert.deepEqual(out.warnings, []);
  });

  it('a missing group: an error naming it and where it was looked for', async () => {
    w = await startWorld([spotSpec()]);
    const port = w.port();
    const err = await rejection(checkGroups(port, { spot: 'spot-asg', onDemand: 'od-missing' }, { clock: w.clock, logger: silentLogger(), deadlineMs: 60_000 }));
    assert.ok(err instanceof GroupCheckError);
    assert.match(err.message, /on-demand Auto Scaling group "od-missing"/);
    assert.match(err.message, /ON_DEMAND_ASG_NAME/);
    assert.ok(err.message.includes('us-east-1'), err.message);
    assert.ok(err.message.includes(w.sim.url), err.message);

    const err2 = await rejection(checkGroups(port, { spot: 'spot-missing', onDemand: 'od-missing' }, { clock: w.clock, logger: silentLogger(), deadlineMs: 60_000 }));
    assert.ok(err2 instanceof GroupCheckError);
    assert.match(err2.message, /spot Auto Scaling group "spot-missing"/);
  });

  it('CapacityRebalance on the spot group → a warning; a group at MaxSize → a warning', async () => {
    w = await startWorld([spotSpec({ capacityRebalance: true }), onDemandSpec({ maxSize: 0 })]);
    const { warnings } = await checkGroups(w.port(), { spot: 'spot-asg', onDemand: 'od-asg' }, { clock: w.clock, logger: silentLogger(), deadlineMs: 60_000 });
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /spot-asg.*CapacityRebalance/);
    assert.match(warnings[1]!, /od-asg.*MaxSize \(0\)/);
  });

  it('retries transient errors with back-off until they clear', async () => {
    w = await startWorld();
    w.sim.injectError('DescribeAutoScalingGroups', 'Throttling', 'Rate exceeded', 3);
    const out = await checkGroups(w.port({ maxAttempts: 1, retryMode: 'standard' }), { spot: 'spot-asg', onDemand: 'od-asg' }, {
      clock: w.clock,
      logger: silentLogger(),
      deadlineMs: 10 * 60_000,
    });
    assert.deepEqual(out.warnings, []);
    assert.equal(w.sim.callCounts().DescribeAutoScalingGroups, 5);
  });

  it('gives up on transient errors at the deadline', async () => {
    w = await startWorld();
    w.sim.setThrottle(1);
    const err = await rejection(
      checkGroups(w.port({ maxAttempts: 1, retryMode: 'standard' }), { spot: 'spot-asg', onDemand: 'od-asg' }, {
        clock: w.clock,
        logger: silentLogger(),
        deadlineMs: 30_000,
      }),
    );
    assert.ok(err instanceof GroupCheckError);
    assert.match(err.message, /spot-asg.*throttled/);
    assert.ok((w.sim.callCounts().DescribeAutoScalingGroups ?? 0) >= 2, 'it did retry');
  });
});

describe('classifyAutoScalingError', () => {
  const svc = (name: string, message: string, status = 400) => Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: status } });
  const cases: Array<[string, unknown, AutoScalingErrorKind, string]> = [
    ['Throttling', svc('Throttling', 'Rate exceeded'), 'throttled', 'Throttling'],
    ['ThrottlingException', svc('ThrottlingException', 'slow down'), 'throttled', 'ThrottlingException'],
    ['"Rate exceeded" under another code', svc('SomethingElse', 'Rate exceeded'), 'throttled', 'SomethingElse'],
    ['HTTP 429', svc('Unknown', 'too many', 429), 'throttled', 'Unknown'],
    ['ScalingActivityInProgressFault', svc('ScalingActivityInProgressFault', 'in progress'), 'scaling-in-progress', 'ScalingActivityInProgress'],
    ['ScalingActivityInProgress', svc('ScalingActivityInProgress', 'in progress'), 'scaling-in-progress', 'ScalingActivityInProgress'],
    ['ResourceContentionFault', svc('ResourceContentionFault', 'pending update', 500), 'resource-contention', 'ResourceContention'],
    ['ValidationError', svc('ValidationError', 'New SetDesiredCapacity value 11 is above max value 10 for the AutoScalingGroup.'), 'validation', 'ValidationError'],
    [
      'Instance Id not found',
      svc('ValidationError', 'Instance Id not found - No managed instance found for instance ID: i-0123456789abcdef0'),
      'not-found',
      'ValidationError',
    ],
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'transport', 'ECONNREFUSED'],
    ['socket reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'transport', 'ECONNRESET'],
    ['SDK TimeoutError', Object.assign(new Error('Connection timed out after 3000 ms'), { name: 'TimeoutError' }), 'transport', 'TimeoutError'],
    ['AbortError', Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }), 'transport', 'AbortError'],
    ['unmodeled 503', svc('ServiceUnavailable', 'Service unavailable', 503), 'transport', 'ServiceUnavailable'],
    ['AccessDenied', svc('AccessDenied', 'User is not authorized to perform: autoscaling:SetDesiredCapacity', 403), 'other', 'AccessDenied'],
    ['a string', 'boom', 'other', 'Unknown'],
  ];
  for (const [what, err, kind, code] of cases) {
    it(`${what} → ${kind}`, () => {
      const e = classifyAutoScalingError(err);
      assert.ok(e instanceof AutoScalingError);
      assert.equal(e.kind, kind);
      assert.equal(e.code, code);
    });
  }

  it('an AutoScalingError passes through unchanged', () => {
    const e = new AutoScalingError('validation', 'X', 'y');
    assert.equal(classifyAutoScalingError(e), e);
  });
});

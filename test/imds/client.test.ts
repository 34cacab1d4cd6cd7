import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ScaledClock, isAbortError } from '../../src/shared/clock.js';
import { ImdsError } from '../../src/imds/errors.js';
import { IMDS_PATHS } from '../../src/imds/paths.js';
import { SkewableClock, TOKEN_PATH, harness, type Harness } from './helpers.js';

const INSTANCE_ID = '/latest/meta-data/instance-id';

async function using(h: Promise<Harness>, body: (h: Harness) => Promise<void>): Promise<void> {
  const ready = await h;
  try {
    await body(ready);
  } finally {
    await ready.stop();
  }
}

async function rejectsImds(p: Promise<unknown>, kind: string, status?: number): Promise<ImdsError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ImdsError, `expected ImdsError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    if (status !== undefined) assert.equal(err.status, status);
    return err;
  }
  assert.fail('expected the request to fail');
}

describe('ImdsClient: IMDSv2 tokens', () => {
  it('fetches one token and reuses it', () =>
    using(harness({ sim: { mode: 'required' } }), async ({ sim, client, errors }) => {
      for (let i = 0; i < 3; i++) assert.equal(await client.getText(INSTANCE_ID), 'i-0123456789abcdef0');
      assert.equal(sim.requestCount(TOKEN_PATH), 1);
      assert.equal(sim.requestCount(INSTANCE_ID), 3);
      assert.equal(client.protocol, 'v2');
      assert.deepEqual(errors, []);
    }));

  it('shares one token PUT between concurrent requests', () =>
    using(harness({ sim: { mode: 'required' } }), async ({ sim, client }) => {
      await Promise.all([1, 2, 3, 4].map(() => client.getText(INSTANCE_ID)));
      assert.equal(sim.requestCount(TOKEN_PATH), 1);
    }));

  it('refreshes the token before it expires', () => {
    const clock = new SkewableClock();
    return using(
      harness({ clock, sim: { mode: 'required' }, client: { tokenTtlSeconds: 60, requestTimeoutMs: 5000 } }),
      async ({ sim, client, errors }) => {
        await client.getText(INSTANCE_ID);
        clock.advance(55_000); // past 90% of the TTL, not yet expired
        await client.getText(INSTANCE_ID);
        assert.equal(sim.requestCount(TOKEN_PATH), 2);
        clock.advance(120_000); // long expired
        await client.getText(INSTANCE_ID);
        assert.equal(sim.requestCount(TOKEN_PATH), 3);
        assert.equal(sim.requestCount(INSTANCE_ID), 3, 'no request was refused with an expired token');
        assert.deepEqual(errors, []);
      },
    );
  });

  it('on 401 drops the token, fetches a new one and retries at once', () =>
    using(harness({ sim: { mode: 'required' } }), async ({ sim, client, errors }) => {
      await client.getText(INSTANCE_ID);
      sim.revokeTokens(); // IMDS restarted: the held token is no longer known
      assert.equal(await client.getText(INSTANCE_ID), 'i-0123456789abcdef0');
      assert.equal(sim.requestCount(TOKEN_PATH), 2);
      assert.equal(sim.requestCount(INSTANCE_ID), 3);
      assert.deepEqual(errors, []);
    }));

  it('reports unauthorized when even a fresh token is refused', () =>
    using(harness({ sim: { mode: 'required' } }), async ({ sim, client, errors }) => {
      sim.setFault(INSTANCE_ID, { status: 401 });
      await rejectsImds(client.getText(INSTANCE_ID), 'unauthorized', 401);
      assert.equal(sim.requestCount(INSTANCE_ID), 2, 'one retry with a fresh token, then give up');
      assert.deepEqual(errors, ['unauthorized']);
    }));

  for (const status of [403, 404, 405]) {
    it(`falls back to IMDSv1 when the token PUT answers ${status}, and tries v2 again later`, () => {
      const clock = new SkewableClock();
      return using(harness({ clock, client: { retryV2AfterMs: 60_000, requestTimeoutMs: 5000 } }), async ({ sim, client, errors }) => {
        sim.setFault(TOKEN_PATH, { status });
        assert.equal(await client.getText(INSTANCE_ID), 'i-0123456789abcdef0');
        assert.equal(await client.getText(INSTANCE_ID), 'i-0123456789abcdef0');
        assert.equal(client.protocol, 'v1');
        assert.equal(sim.requestCount(TOKEN_PATH), 1, 'no token PUT per request while on v1');
        sim.setFault(TOKEN_PATH, null);
        clock.advance(61_000);
        await client.getText(INSTANCE_ID);
        assert.equal(sim.requestCount(TOKEN_PATH), 2);
        assert.equal(client.protocol, 'v2');
        assert.deepEqual(errors, []);
      });
    });
  }

  it('falls back to IMDSv1 when the token PUT times out (hop limit in a pod)', () =>
    using(
      harness({ clock: new ScaledClock(1), client: { requestTimeoutMs: 100 } }),
      async ({ sim, client, errors }) => {
        sim.setFault(TOKEN_PATH, { hang: 'headers' });
        assert.equal(await client.getText(INSTANCE_ID), 'i-0123456789abcdef0');
        assert.equal(client.protocol, 'v1');
        assert.deepEqual(errors, []);
      },
    ));

  it('goes back to v2 when a v1 request gets 401 (the instance became v2-only)', () =>
    using(harness(), async ({ sim, client, errors }) => {
      sim.setFault(TOKEN_PATH, { status: 403, times: 1 });
      await client.getText(INSTANCE_ID);
      assert.equal(client.protocol, 'v1');
      sim.setMode('required');
      assert.equal(await client.getText(INSTANCE_ID), 'i-0123456789abcdef0');
      assert.equal(client.protocol, 'v2');
      assert.equal(sim.requestCount(TOKEN_PATH), 2);
      assert.deepEqual(errors, []);
    }));

  it('in v2-only mode a failing token PUT fails the request instead of falling back', () =>
    using(harness(), async ({ sim, client, errors }) => {
      sim.setMode('required');
      sim.setFault(TOKEN_PATH, { status: 403, times: 1 });
      await client.getText(INSTANCE_ID); // v1 attempt -> 401 -> v2 required -> token works
      sim.revokeTokens();
      sim.setFault(TOKEN_PATH, { status: 503 });
      await rejectsImds(client.getText(INSTANCE_ID), 'status', 503);
      assert.deepEqual(errors, ['status']);
    }));
});

describe('ImdsClient: retries and failures', () => {
  for (const status of [500, 503, 429]) {
    it(`retries HTTP ${status} up to tries, then throws`, () =>
      using(harness(), async ({ sim, client, errors }) => {
        sim.setFault(INSTANCE_ID, { status });
        const err = await rejectsImds(client.getText(INSTANCE_ID), 'status', status);
        assert.match(err.message, new RegExp(`${status}`));
        assert.equal(sim.requestCount(INSTANCE_ID), 3);
        assert.deepEqual(errors, ['status'], 'reported once per failed request');
      }));
  }

  it('succeeds when a 5xx clears before the last try', () =>
    using(harness(), async ({ sim, client, errors }) => {
      sim.setFault(INSTANCE_ID, { status: 500, times: 2 });
      assert.equal(await client.getText(INSTANCE_ID), 'i-0123456789abcdef0');
      assert.equal(sim.requestCount(INSTANCE_ID), 3);
      assert.deepEqual(errors, []);
    }));

  it('does not retry other 4xx', () =>
    using(harness(), async ({ sim, client, errors }) => {
      sim.setFault(INSTANCE_ID, { status: 403 });
      await rejectsImds(client.getText(INSTANCE_ID), 'status', 403);
      assert.equal(sim.requestCount(INSTANCE_ID), 1);
      assert.deepEqual(errors, ['status']);
    }));

  it('returns null for 404', () =>
    using(harness(), async ({ client, errors }) => {
      assert.equal(await client.getText('/latest/meta-data/no-such-thing'), null);
      assert.equal(await client.getSpotInstanceAction(), null);
      assert.equal(await client.getRebalanceRecommendation(), null);
      assert.deepEqual(errors, []);
    }));

  it('retries transport failures, throws, and recovers once IMDS is back', () =>
    using(harness(), async ({ sim, client, errors }) => {
      await client.getText(INSTANCE_ID); // a pooled keep-alive connection now exists
      sim.setDown(true);
      const err = await rejectsImds(client.getText(INSTANCE_ID), 'transport');
      assert.match(err.message, /instance-id/);
      sim.setDown(false);
      assert.equal(await client.getText(INSTANCE_ID), 'i-0123456789abcdef0');
      assert.deepEqual(errors, ['transport']);
    }));

  it('times out when the server never sends headers', () =>
    using(harness({ clock: new ScaledClock(1), client: { requestTimeoutMs: 100, tries: 2 } }), async ({ sim, client, errors }) => {
      sim.setFault(INSTANCE_ID, { hang: 'headers' });
      await rejectsImds(client.getText(INSTANCE_ID), 'timeout');
      assert.equal(sim.requestCount(INSTANCE_ID), 2);
      assert.deepEqual(errors, ['timeout']);
    }));

  it('times out when the server stalls in the middle of the body', () =>
    using(harness({ clock: new ScaledClock(1), client: { requestTimeoutMs: 100, tries: 1 } }), async ({ sim, client, errors }) => {
      sim.setFault(IMDS_PATHS.spotInstanceAction, { hang: 'body' });
      await rejectsImds(client.getSpotInstanceAction(), 'timeout');
      assert.deepEqual(errors, ['timeout']);
    }));

  it('rejects a huge streamed body as too_large without retrying', () =>
    using(harness({ client: { maxBodyBytes: 1024 } }), async ({ sim, client, errors }) => {
      sim.setFault(INSTANCE_ID, { bodyBytes: 50 * 1024 * 1024 });
      await rejectsImds(client.getText(INSTANCE_ID), 'too_large');
      assert.equal(sim.requestCount(INSTANCE_ID), 1);
      assert.deepEqual(errors, ['too_large']);
      sim.setFault(INSTANCE_ID, null);
      assert.equal(await client.getText(INSTANCE_ID), 'i-0123456789abcdef0', 'the client is still usable');
    }));

  it('rejects a body whose Content-Length is over the cap', () =>
    using(harness({ client: { maxBodyBytes: 1024 } }), async ({ sim, client }) => {
      sim.setFault(INSTANCE_ID, { body: 'y'.repeat(4096) });
      await rejectsImds(client.getText(INSTANCE_ID), 'too_large');
    }));

  it('passes a caller abort through as AbortError, not as an IMDS failure', () =>
    using(harness({ clock: new ScaledClock(1) }), async ({ sim, client, errors }) => {
      sim.setFault(INSTANCE_ID, { hang: 'headers' });
      const controller = new AbortController();
      const pending = client.getText(INSTANCE_ID, controller.signal);
      setTimeout(() => controller.abort(), 20);
      await assert.rejects(pending, (err) => isAbortError(err));
      assert.deepEqual(errors, []);
    }));
});

describe('ImdsClient: typed notices', () => {
  it('reads a spot interruption notice', () =>
    using(harness(), async ({ sim, client }) => {
      const time = new Date('2025-01-01T00:02:00Z');
      sim.setSpotInterruption({ action: 'stop', time });
      assert.deepEqual(await client.getSpotInstanceAction(), { action: 'stop', time });
      assert.equal(await client.getText('/latest/meta-data/spot/termination-time'), '2025-01-01T00:02:00Z');
      sim.setSpotInterruption(null);
      assert.equal(await client.getSpotInstanceAction(), null);
    }));

  it('malformed JSON -> ImdsError(malformed) naming the path, reported once', () =>
    using(harness(), async ({ sim, client, errors }) => {
      sim.setFault(IMDS_PATHS.spotInstanceAction, { body: '{"action":"terminate",' });
      const err = await rejectsImds(client.getSpotInstanceAction(), 'malformed');
      assert.match(err.message, /spot\/instance-action/);
      assert.match(err.message, /not JSON/);
      assert.deepEqual(errors, ['malformed']);
    }));

  it('wrong types -> malformed, naming the field and what was expected', () =>
    using(harness(), async ({ sim, client }) => {
      sim.setFault(IMDS_PATHS.spotInstanceAction, { body: '{"action":"terminate","time":12}' });
      const err = await rejectsImds(client.getSpotInstanceAction(), 'malformed');
      assert.match(err.message, /"time" is 12; expected an RFC 3339 time/);
      sim.setFault(IMDS_PATHS.rebalanceRecommendation, { body: '{"noticeTime":null}' });
      await rejectsImds(client.getRebalanceRecommendation(), 'malformed');
    }));

  it('bad scheduled event dates -> malformed with the index and field', () =>
    using(harness(), async ({ sim, client, errors }) => {
      sim.setFault(IMDS_PATHS.scheduledEvents, {
        body: JSON.stringify([
          { Code: 'system-reboot', Description: 'x', State: 'active', EventId: 'instance-event-1', NotBefore: '2019-01-21 09:00' },
        ]),
      });
      const err = await rejectsImds(client.getScheduledEvents(), 'malformed');
      assert.match(err.message, /\[0\]\.NotBefore/);
      assert.match(err.message, /2019-01-21 09:00/);
      assert.deepEqual(errors, ['malformed']);
    }));

  it('AEMM dynamic times move between requests unless a time was fixed', () => {
    const clock = new SkewableClock();
    return using(harness({ clock, sim: { aemmDynamicTimes: true }, client: { requestTimeoutMs: 5000 } }), async ({ sim, client }) => {
      sim.setSpotInterruption({ action: 'terminate' });
      sim.setRebalanceRecommendation({});
      const itn1 = await client.getSpotInstanceAction();
      const reb1 = await client.getRebalanceRecommendation();
      clock.advance(10_000);
      const sentAt = clock.now();
      const itn2 = await client.getSpotInstanceAction();
      const answeredAt = clock.now();
      const reb2 = await client.getRebalanceRecommendation();
      assert.ok(itn1 && itn2 && reb1 && reb2);
      assert.ok(itn2.time > itn1.time, 'ITN time recomputed');
      assert.ok(reb2.noticeTime > reb1.noticeTime, 'noticeTime recomputed');
      // now + 2 min at the moment of the request, rendered in whole seconds
      assert.ok(itn2.time.getTime() >= sentAt + 120_000 - 1000, 'ITN time is now + 2 min');
      assert.ok(itn2.time.getTime() <= answeredAt + 120_000, 'ITN time is now + 2 min');

      const fixed = new Date('2025-06-01T12:00:00Z');
      sim.setSpotInterruption({ action: 'terminate', time: fixed });
      sim.setRebalanceRecommendation({ noticeTime: fixed });
      const a = await client.getSpotInstanceAction();
      clock.advance(10_000);
      const b = await client.getSpotInstanceAction();
      assert.deepEqual(a?.time, fixed);
      assert.deepEqual(b?.time, fixed);
      assert.deepEqual((await client.getRebalanceRecommendation())?.noticeTime, fixed);
    });
  });

  it('EC2 (non-AEMM) times are fixed when the notice is set', () =>
    using(harness(), async ({ sim, client, clock }) => {
      sim.setSpotInterruption({});
      const a = await client.getSpotInstanceAction();
      await clock.sleep(10_000);
      const b = await client.getSpotInstanceAction();
      assert.equal(a?.action, 'terminate');
      assert.deepEqual(a?.time, b?.time);
    }));

  it('scheduled events round-trip in AWS date format; none is []', () =>
    using(harness(), async ({ sim, client }) => {
      assert.equal(await client.getText(IMDS_PATHS.scheduledEvents), '[]');
      assert.deepEqual(await client.getScheduledEvents(), []);
      const notBefore = new Date('2019-01-21T09:00:43Z');
      const notAfter = new Date('2019-01-21T09:17:23Z');
      const deadline = new Date('2019-02-05T00:00:00Z');
      sim.setScheduledEvents([
        { code: 'system-reboot', description: 'scheduled reboot', state: 'active', eventId: 'instance-event-0d59937288b749b32', notBefore, notAfter },
        { code: 'instance-stop', description: 'The instance is running on degraded hardware', state: 'active', eventId: 'instance-event-2', notBefore: deadline, notBeforeDeadline: deadline },
      ]);
      const raw = await client.getText(IMDS_PATHS.scheduledEvents);
      assert.match(raw ?? '', /"NotBefore": "21 Jan 2019 09:00:43 GMT"/);
      assert.match(raw ?? '', /"NotBeforeDeadline": "5 Feb 2019 00:00:00 GMT"/);
      assert.deepEqual(await client.getScheduledEvents(), [
        { code: 'system-reboot', description: 'scheduled reboot', state: 'active', eventId: 'instance-event-0d59937288b749b32', notBefore, notAfter },
        { code: 'instance-stop', description: 'The instance is running on degraded hardware', state: 'active', eventId: 'instance-event-2', notBefore: deadline, notBeforeDeadline: deadline },
      ]);
      sim.updateScheduledEvent('instance-event-0d59937288b749b32', { state: 'canceled', description: '[Canceled] scheduled reboot' });
      const [first] = await client.getScheduledEvents();
      assert.equal(first?.state, 'canceled');
    }));

  it('target lifecycle state: absent -> null, then the text', () =>
    using(harness(), async ({ sim, client }) => {
      assert.equal(await client.getTargetLifecycleState(), null);
      sim.setTargetLifecycleState('InService');
      assert.equal(await client.getTargetLifecycleState(), 'InService');
      sim.setTargetLifecycleState('Terminated');
      assert.equal(await client.getTargetLifecycleState(), 'Terminated');
    }));

  it('instance metadata: identity document plus optional paths', () =>
    using(harness({ sim: { mode: 'required' } }), async ({ client }) => {
      assert.deepEqual(await client.getInstanceMetadata(), {
        instanceId: 'i-0123456789abcdef0',
        instanceType: 'm5.large',
        availabilityZone: 'us-east-1a',
        region: 'us-east-1',
        accountId: '123456789012',
        privateIp: '10.0.1.23',
        lifeCycle: 'spot',
        localHostname: 'ip-10-0-1-23.ec2.internal',
      });
    }));

  it('instance metadata includes public hostname and IP when the instance has them', async () => {
    const { INSTANCE } = await import('./helpers.js');
    await using(
      harness({ sim: { instance: { ...INSTANCE, lifeCycle: 'on-demand', publicHostname: 'ec2-3-4-5-6.compute-1.amazonaws.com', publicIp: '3.4.5.6' } } }),
      async ({ client }) => {
        const meta = await client.getInstanceMetadata();
        assert.equal(meta.lifeCycle, 'on-demand');
        assert.equal(meta.publicHostname, 'ec2-3-4-5-6.compute-1.amazonaws.com');
        assert.equal(meta.publicIp, '3.4.5.6');
      },
    );
  });
});

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SimImds } from '../../src/sim/imds/server.js';
import { formatAwsEventDate, formatNoticeTime } from '../../src/sim/imds/formats.js';
import { INSTANCE, SkewableClock, TOKEN_PATH } from './helpers.js';

const TTL = 'X-aws-ec2-metadata-token-ttl-seconds';
const TOKEN = 'X-aws-ec2-metadata-token';

describe('SimImds over HTTP', () => {
  const clock = new SkewableClock();
  const sim = new SimImds({ instance: INSTANCE, clock });
  const call = (path: string, init: RequestInit = {}) => fetch(sim.url + path, init);
  const putToken = (headers: Record<string, string>) => call(TOKEN_PATH, { method: 'PUT', headers });

  before(() => sim.start());
  after(() => sim.stop());

  it('issues tokens only for a TTL of 1..21600 seconds', async () => {
    for (const bad of [undefined, '0', '21601', 'abc', '-5', '1.5']) {
      const res = await putToken(bad === undefined ? {} : { [TTL]: bad });
      assert.equal(res.status, 400, `ttl ${bad}`);
      await res.text();
    }
    const ok = await putToken({ [TTL]: '21600' });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get(TTL), '21600');
    assert.match(ok.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(await ok.text(), /^[A-Za-z0-9+/=]{20,}$/);
  });

  it('refuses a token PUT carrying X-Forwarded-For, and a GET of the token path', async () => {
    const res = await putToken({ [TTL]: '60', 'X-Forwarded-For': '10.0.0.1' });
    assert.equal(res.status, 403);
    await res.text();
    const get = await call(TOKEN_PATH);
    assert.equal(get.status, 405);
    await get.text();
  });

  it('optional mode: v1 works, a bad token is 401; required mode: v1 is 401', async () => {
    const v1 = await call('/latest/meta-data/instance-id');
    assert.equal(await v1.text(), INSTANCE.instanceId);
    const bad = await call('/latest/meta-data/instance-id', { headers: { [TOKEN]: 'nope' } });
    assert.equal(bad.status, 401);
    await bad.text();
    sim.setMode('required');
    try {
      const refused = await call('/latest/meta-data/instance-id');
      assert.equal(refused.status, 401);
      await refused.text();
      const token = await (await putToken({ [TTL]: '60' })).text();
      const v2 = await call('/latest/meta-data/instance-id', { headers: { [TOKEN]: token } });
      assert.equal(await v2.text(), INSTANCE.instanceId);
      clock.advance(61_000); // token expires by the simulated clock
      const expired = await call('/latest/meta-data/instance-id', { headers: { [TOKEN]: token } });
      assert.equal(expired.status, 401);
      await expired.text();
    } finally {
      sim.setMode('optional');
    }
  });

  it('lists directories as EC2 does, spot/ only while a notice is present', async () => {
    const listing = async () => (await call('/latest/meta-data/')).text();
    const before = (await listing()).split('\n');
    assert.ok(before.includes('instance-id'));
    assert.ok(before.includes('placement/'));
    assert.ok(before.includes('events/'));
    assert.ok(!before.includes('spot/'));
    sim.setSpotInterruption({ action: 'terminate' });
    try {
      assert.ok((await listing()).split('\n').includes('spot/'));
      assert.equal(await (await call('/latest/meta-data/spot/')).text(), 'instance-action\ntermination-time');
    } finally {
      sim.setSpotInterruption(null);
    }
    assert.equal(await (await call('/latest/meta-data/placement/availability-zone')).text(), 'us-east-1a');
    assert.equal(await (await call('/latest/meta-data/placement/region')).text(), 'us-east-1');
  });

  it('answers 404 for unknown and absent paths, [] for no scheduled events', async () => {
    for (const path of ['/latest/meta-data/nope', '/latest/meta-data/spot/instance-action', '/latest/meta-data/spot/termination-time', '/latest/meta-data/events/recommendations/rebalance', '/latest/meta-data/autoscaling/target-lifecycle-state', '/other']) {
      const res = await call(path);
      assert.equal(res.status, 404, path);
      await res.text();
    }
    assert.equal(await (await call('/latest/meta-data/events/maintenance/scheduled')).text(), '[]');
  });

  it('serves an identity document with the instance fields', async () => {
    const doc = (await (await call('/latest/dynamic/instance-identity/document')).json()) as Record<string, unknown>;
    for (const key of ['accountId', 'instanceId', 'instanceType', 'privateIp', 'availabilityZone', 'region'] as const) {
      assert.equal(doc[key], INSTANCE[key]);
    }
  });

  it('counts requests per path and applies faults a limited number of times', async () => {
    const path = '/latest/meta-data/instance-type';
    const start = sim.requestCount(path);
    sim.setFault(path, { status: 503, times: 1 });
    assert.equal((await call(path)).status, 503);
    assert.equal(await (await call(path)).text(), 'm5.large');
    assert.equal(sim.requestCount(path), start + 2);
  });

  it('refuses connections while down', async () => {
    sim.setDown(true);
    try {
      await assert.rejects(call('/latest/meta-data/instance-id'));
    } finally {
      sim.setDown(false);
    }
    assert.equal((await call('/latest/meta-data/instance-id')).status, 200);
  });
});

describe('SimImds lifecycle', () => {
  it('keeps its URL across stop() and start()', async () => {
    const sim = new SimImds({ instance: INSTANCE, clock: new SkewableClock() });
    await sim.start();
    const url = sim.url;
    await sim.stop();
    await sim.start();
    try {
      assert.equal(sim.url, url);
      assert.equal(await (await fetch(`${url}/latest/meta-data/instance-id`)).text(), INSTANCE.instanceId);
    } finally {
      await sim.stop();
    }
  });
});

describe('sim formats', () => {
  it('renders AWS event dates and notice times like EC2', () => {
    assert.equal(formatAwsEventDate(new Date('2019-01-21T09:00:43Z')), '21 Jan 2019 09:00:43 GMT');
    assert.equal(formatAwsEventDate(new Date('2019-02-05T00:00:00.999Z')), '5 Feb 2019 00:00:00 GMT');
    assert.equal(formatNoticeTime(new Date('2025-01-01T00:02:00.123Z')), '2025-01-01T00:02:00Z');
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ImdsParseError } from '../../src/imds/errors.js';
import {
  parseIdentityDocument,
  parseRebalanceRecommendation,
  parseScheduledEvents,
  parseSpotInstanceAction,
  parseTargetLifecycleState,
} from '../../src/imds/notices.js';
import { parseAwsEventDate, parseRfc3339 } from '../../src/imds/dates.js';

/** Asserts a parse failure naming `field`, with every `mentions` pattern in the message. */
function rejects(fn: () => unknown, field: string, ...mentions: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ImdsParseError, `expected ImdsParseError, got ${String(err)}`);
    assert.equal(err.kind, 'malformed');
    assert.equal(err.field, field, err.message);
    for (const m of mentions) assert.match(err.message, m);
    return true;
  });
}

describe('dates', () => {
  it('parses RFC 3339 times strictly', () => {
    assert.deepEqual(parseRfc3339('2025-01-01T00:02:00Z'), new Date(Date.UTC(2025, 0, 1, 0, 2, 0)));
    assert.deepEqual(parseRfc3339('2025-01-01T00:02:00.250Z'), new Date(Date.UTC(2025, 0, 1, 0, 2, 0, 250)));
    assert.deepEqual(parseRfc3339('2025-01-01T02:02:00+02:00'), new Date(Date.UTC(2025, 0, 1, 0, 2, 0)));
    for (const bad of ['2025-02-30T00:00:00Z', '2025-01-01 00:02:00Z', '2025-01-01T00:02:00', '2025-01-01T24:00:00Z', 'tomorrow', '']) {
      assert.equal(parseRfc3339(bad), null, bad);
    }
  });

  it('parses AWS event dates strictly', () => {
    assert.deepEqual(parseAwsEventDate('21 Jan 2019 09:00:43 GMT'), new Date(Date.UTC(2019, 0, 21, 9, 0, 43)));
    assert.deepEqual(parseAwsEventDate('5 Feb 2019 00:00:00 GMT'), new Date(Date.UTC(2019, 1, 5)));
    assert.deepEqual(parseAwsEventDate('05 Feb 2019 00:00:00 GMT'), new Date(Date.UTC(2019, 1, 5)));
    for (const bad of ['31 Feb 2019 09:00:43 GMT', '21 Foo 2019 09:00:43 GMT', '21 Jan 2019 09:00:43', 'Mon, 21 Jan 2019 09:00:43 GMT', '2019-01-21T09:00:43Z']) {
      assert.equal(parseAwsEventDate(bad), null, bad);
    }
  });
});

describe('parseSpotInstanceAction', () => {
  it('parses each action', () => {
    for (const action of ['terminate', 'stop', 'hibernate'] as const) {
      assert.deepEqual(parseSpotInstanceAction(`{"action":"${action}","time":"2025-01-01T00:02:00Z"}`), {
        action,
        time: new Date('2025-01-01T00:02:00Z'),
      });
    }
  });
  it('ignores unknown extra fields', () => {
    assert.equal(parseSpotInstanceAction('{"action":"stop","time":"2025-01-01T00:02:00Z","extra":1}').action, 'stop');
  });
  it('rejects non-JSON, non-objects, unknown actions, missing and bad times', () => {
    rejects(() => parseSpotInstanceAction('terminate'), 'body', /not JSON/);
    rejects(() => parseSpotInstanceAction('[]'), 'body', /expected a JSON object/);
    rejects(() => parseSpotInstanceAction('null'), 'body', /expected a JSON object/);
    rejects(() => parseSpotInstanceAction('{"action":"reboot","time":"2025-01-01T00:02:00Z"}'), 'action', /"reboot"/, /terminate, stop, hibernate/);
    rejects(() => parseSpotInstanceAction('{"action":1,"time":"2025-01-01T00:02:00Z"}'), 'action', /is 1/);
    rejects(() => parseSpotInstanceAction('{"time":"2025-01-01T00:02:00Z"}'), 'action', /is missing/);
    rejects(() => parseSpotInstanceAction('{"action":"terminate"}'), 'time', /is missing/, /RFC 3339/);
    rejects(() => parseSpotInstanceAction('{"action":"terminate","time":"soon"}'), 'time', /"soon"/);
    rejects(() => parseSpotInstanceAction('{"action":"terminate","time":"2025-13-01T00:02:00Z"}'), 'time');
  });
});

describe('parseRebalanceRecommendation', () => {
  it('parses the notice time', () => {
    assert.deepEqual(parseRebalanceRecommendation('{"noticeTime":"2025-01-01T00:00:00Z"}'), {
      noticeTime: new Date('2025-01-01T00:00:00Z'),
    });
  });
  it('rejects bad input', () => {
    rejects(() => parseRebalanceRecommendation(''), 'body', /not JSON/);
    rejects(() => parseRebalanceRecommendation('{}'), 'noticeTime', /missing/);
    rejects(() => parseRebalanceRecommendation('{"noticeTime":1735689600}'), 'noticeTime', /1735689600/);
    rejects(() => parseRebalanceRecommendation('{"noticeTime":"01 Jan 2025 00:00:00 GMT"}'), 'noticeTime');
  });
});

describe('parseScheduledEvents', () => {
  const event = {
    NotBefore: '21 Jan 2019 09:00:43 GMT',
    Code: 'system-reboot',
    Description: 'scheduled reboot',
    EventId: 'instance-event-0d59937288b749b32',
    NotAfter: '21 Jan 2019 09:17:23 GMT',
    State: 'active',
  };

  it('empty body and [] mean no events', () => {
    assert.deepEqual(parseScheduledEvents(''), []);
    assert.deepEqual(parseScheduledEvents('  \n'), []);
    assert.deepEqual(parseScheduledEvents('[]'), []);
  });

  it('parses the AWS example', () => {
    assert.deepEqual(parseScheduledEvents(JSON.stringify([event])), [
      {
        code: 'system-reboot',
        description: 'scheduled reboot',
        state: 'active',
        eventId: 'instance-event-0d59937288b749b32',
        notBefore: new Date('2019-01-21T09:00:43Z'),
        notAfter: new Date('2019-01-21T09:17:23Z'),
      },
    ]);
  });

  it('treats absent or empty NotAfter / NotBeforeDeadline as not given', () => {
    const [e] = parseScheduledEvents(JSON.stringify([{ ...event, NotAfter: '', NotBeforeDeadline: '5 Feb 2019 00:00:00 GMT' }]));
    assert.equal(e?.notAfter, undefined);
    assert.deepEqual(e?.notBeforeDeadline, new Date('2019-02-05T00:00:00Z'));
    const { NotAfter: _omit, ...withoutNotAfter } = event;
    assert.equal(parseScheduledEvents(JSON.stringify([withoutNotAfter]))[0]?.notAfter, undefined);
  });

  it('accepts every documented code and state', () => {
    for (const Code of ['instance-reboot', 'system-reboot', 'system-maintenance', 'instance-retirement', 'instance-stop']) {
      for (const State of ['active', 'completed', 'canceled']) {
        const [e] = parseScheduledEvents(JSON.stringify([{ ...event, Code, State }]));
        assert.equal(e?.code, Code);
        assert.equal(e?.state, State);
      }
    }
  });

  it('rejects bad input, naming the index and field', () => {
    rejects(() => parseScheduledEvents('{'), 'body', /not JSON/);
    rejects(() => parseScheduledEvents(JSON.stringify(event)), 'body', /JSON array/);
    rejects(() => parseScheduledEvents('[1]'), '[0]', /JSON object/);
    rejects(() => parseScheduledEvents(JSON.stringify([event, { ...event, Code: 'meteor-strike' }])), '[1].Code', /"meteor-strike"/, /instance-reboot/);
    rejects(() => parseScheduledEvents(JSON.stringify([{ ...event, State: 'pending' }])), '[0].State', /"pending"/, /active, completed, canceled/);
    rejects(() => parseScheduledEvents(JSON.stringify([{ ...event, EventId: '' }])), '[0].EventId', /non-empty string/);
    rejects(() => parseScheduledEvents(JSON.stringify([{ ...event, EventId: undefined }])), '[0].EventId', /missing/);
    rejects(() => parseScheduledEvents(JSON.stringify([{ ...event, NotBefore: undefined }])), '[0].NotBefore', /missing/);
    rejects(() => parseScheduledEvents(JSON.stringify([{ ...event, NotBefore: '2019-01-21T09:00:43Z' }])), '[0].NotBefore', /21 Jan 2019/);
    rejects(() => parseScheduledEvents(JSON.stringify([{ ...event, NotAfter: '32 Jan 2019 09:00:43 GMT' }])), '[0].NotAfter');
    rejects(() => parseScheduledEvents(JSON.stringify([{ ...event, NotBeforeDeadline: 5 }])), '[0].NotBeforeDeadline');
    rejects(() => parseScheduledEvents(JSON.stringify([{ ...event, Description: 7 }])), '[0].Description', /a string/);
  });
});

describe('parseTargetLifecycleState', () => {
  it('accepts lifecycle states, trimming whitespace', () => {
    assert.equal(parseTargetLifecycleState('InService'), 'InService');
    assert.equal(parseTargetLifecycleState('Terminated\n'), 'Terminated');
    assert.equal(parseTargetLifecycleState('Warmed:Running'), 'Warmed:Running');
  });
  it('rejects empty, multi-word and garbage bodies', () => {
    rejects(() => parseTargetLifecycleState(''), 'body', /InService/);
    rejects(() => parseTargetLifecycleState('In Service'), 'body');
    rejects(() => parseTargetLifecycleState('<html>'), 'body');
    rejects(() => parseTargetLifecycleState('InService\nTerminated'), 'body');
  });
});

describe('parseIdentityDocument', () => {
  const doc = {
    accountId: '123456789012',
    architecture: 'x86_64',
    availabilityZone: 'us-east-1a',
    billingProducts: null,
    imageId: 'ami-0abcdef1234567890',
    instanceId: 'i-0123456789abcdef0',
    instanceType: 'm5.large',
    kernelId: null,
    pendingTime: '2025-01-01T00:00:00Z',
    privateIp: '10.0.1.23',
    region: 'us-east-1',
    version: '2017-09-30',
  };
  it('parses the document', () => {
    assert.deepEqual(parseIdentityDocument(JSON.stringify(doc)), {
      accountId: '123456789012',
      instanceId: 'i-0123456789abcdef0',
      instanceType: 'm5.large',
      privateIp: '10.0.1.23',
      availabilityZone: 'us-east-1a',
      region: 'us-east-1',
      imageId: 'ami-0abcdef1234567890',
      architecture: 'x86_64',
      pendingTime: '2025-01-01T00:00:00Z',
    });
  });
  it('rejects missing or mistyped required fields', () => {
    rejects(() => parseIdentityDocument('not json'), 'body', /not JSON/);
    rejects(() => parseIdentityDocument(JSON.stringify({ ...doc, instanceId: undefined })), 'instanceId', /missing/);
    rejects(() => parseIdentityDocument(JSON.stringify({ ...doc, region: 42 })), 'region', /is 42/);
    rejects(() => parseIdentityDocument(JSON.stringify({ ...doc, accountId: '' })), 'accountId');
    rejects(() => parseIdentityDocument(JSON.stringify({ ...doc, imageId: 5 })), 'imageId', /a string/);
  });
});

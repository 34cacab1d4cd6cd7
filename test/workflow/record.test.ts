import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RECORDS_ANNOTATION, holdsCordon, isFinished, parseRecords, serializeRecords, PHASES } from '../../src/workflow/record.js';
import { SEC, T0, record, recordsMap } from './fixtures.js';

const ann = (value: string) => ({ [RECORDS_ANNOTATION]: value });

describe('records annotation', () => {
  it('round-trips through serialize and parse', () => {
    const recs = recordsMap(
      record('itn-1', 'SPOT_ITN', { phase: 'Draining', drainAttempts: 2, lastError: 'drain incomplete' }),
      record('ev-1', 'SCHEDULED_EVENT', { phase: 'AwaitingReboot', code: 'system-reboot', wasUnschedulable: true }, { startTime: T0 + 3600 * SEC }),
    );
    const parsed = parseRecords(ann(serializeRecords(recs)));
    assert.deepEqual(parsed.problems, []);
    assert.deepEqual(parsed.records, recs);
  });

  it('does not store the id twice', () => {
    const raw = JSON.parse(serializeRecords(recordsMap(record('itn-1', 'SPOT_ITN'))));
    assert.equal(raw.v, 1);
    assert.equal(raw.events['itn-1'].id, undefined);
  });

  it('no annotation → no records, no problems', () => {
    assert.deepEqual(parseRecords({}), { records: {}, problems: [] });
  });

  it('malformed JSON is reported, not thrown', () => {
    const parsed = parseRecords(ann('{not json'));
    assert.deepEqual(parsed.records, {});
    assert.equal(parsed.problems.length, 1);
    assert.match(parsed.problems[0]!, /not JSON/);
  });

  it('an unknown version or shape is reported, not thrown', () => {
    for (const bad of ['{"v":2,"events":{}}', '[]', '"x"', '{"v":1}']) {
      const parsed = parseRecords(ann(bad));
      assert.deepEqual(parsed.records, {}, bad);
      assert.equal(parsed.problems.length, 1, bad);
    }
  });

  it('one unreadable record does not hide the others', () => {
    const good = record('itn-1', 'SPOT_ITN', { phase: 'Cordoned' });
    const raw = JSON.parse(serializeRecords(recordsMap(good)));
    raw.events['bad'] = { kind: 'SPOT_ITN', phase: 'Exploded' };
    const parsed = parseRecords(ann(JSON.stringify(raw)));
    assert.deepEqual(Object.keys(parsed.records), ['itn-1']);
    assert.equal(parsed.records['itn-1']?.phase, 'Cordoned');
    assert.equal(parsed.problems.length, 1);
    assert.match(parsed.problems[0]!, /^record bad:/);
  });

  it('fills defaults for fields older versions did not write', () => {
    const raw = { v: 1, events: { e: { kind: 'SPOT_ITN', phase: 'Pending', startTime: 'a', detectedAt: 'b', updatedAt: 'c', bootId: 'x' } } };
    const parsed = parseRecords(ann(JSON.stringify(raw)));
    assert.equal(parsed.records['e']?.drainAttempts, 0);
    assert.equal(parsed.records['e']?.description, '');
  });
});

describe('phase predicates', () => {
  it('the cordon is held from Cordoned (or NoCapacity) until the event is undone or finished; never while Replacing', () => {
    const holding = PHASES.filter((phase) => holdsCordon(record('x', 'SPOT_ITN', { phase })));
    assert.deepEqual(holding, ['NoCapacity', 'Cordoned', 'Draining', 'Drained', 'AwaitingReboot']);
    assert.deepEqual(PHASES.filter((phase) => isFinished(record('x', 'SPOT_ITN', { phase }))), ['Done']);
  });
});

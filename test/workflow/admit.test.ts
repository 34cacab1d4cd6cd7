import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { admitNotices } from '../../src/workflow/admit.js';
import { DAY, SEC, T0, notice, record, recordsMap } from './fixtures.js';

const ctx = (now: number, bootId = 'boot-1') => ({ now, bootId });

describe('admitNotices', () => {
  it('admits a new notice once as a Pending record', () => {
    const start = T0 + 120 * SEC;
    const a = admitNotices({}, [notice('itn-1', 'SPOT_ITN', start)], ctx(T0));
    assert.ok(a);
    assert.equal(a.admitted.length, 1);
    const rec = a.records['itn-1'];
    assert.ok(rec);
    assert.equal(rec.phase, 'Pending');
    assert.equal(rec.kind, 'SPOT_ITN');
    assert.equal(Date.parse(rec.startTime), start);
    assert.equal(rec.bootId, 'boot-1');
  });

  it('the same notice polled again, with a moving ITN time, changes nothing (no write)', () => {
    const first = admitNotices({}, [notice('itn-1', 'SPOT_ITN', T0 + 120 * SEC)], ctx(T0));
    assert.ok(first);
    const records = first.records;
    // amazon-ec2-metadata-mock recomputes the time as now + 2 min on every request.
    for (let poll = 1; poll <= 5; poll++) {
      const now = T0 + poll * 2 * SEC;
      const again = admitNotices(records, [notice('itn-1', 'SPOT_ITN', now + 120 * SEC)], ctx(now));
      assert.equal(again, null, `poll ${poll} must not produce a write`);
    }
    assert.equal(Object.keys(records).length, 1);
    assert.equal(Date.parse(records['itn-1']!.startTime), T0 + 120 * SEC, 'the first-seen time is kept');
  });

  it('the same notice after its record progressed is not re-admitted', () => {
    const current = recordsMap(record('itn-1', 'SPOT_ITN', { phase: 'Draining' }));
    assert.equal(admitNotices(current, [notice('itn-1', 'SPOT_ITN', T0 + 500 * SEC)], ctx(T0 + 30 * SEC)), null);
  });

  it('does not mutate the records it was given', () => {
    const current = recordsMap(record('ev-1', 'SCHEDULED_EVENT', { code: 'system-reboot' }));
    const snapshot = structuredClone(current);
    const a = admitNotices(current, [notice('ev-1', 'SCHEDULED_EVENT', T0, { code: 'system-reboot', state: 'canceled' }), notice('itn-1', 'SPOT_ITN', T0)], ctx(T0));
    assert.ok(a);
    assert.deepEqual(current, snapshot);
  });

  it('keeps the scheduled event code on the record', () => {
    const a = admitNotices({}, [notice('ev-1', 'SCHEDULED_EVENT', T0 + DAY, { code: 'instance-reboot', state: 'active' })], ctx(T0));
    assert.equal(a?.records['ev-1']?.code, 'instance-reboot');
  });

  describe('scheduled event canceled', () => {
    const canceled = (id: string) => notice(id, 'SCHEDULED_EVENT', T0 + DAY, { code: 'system-reboot', state: 'canceled' });

    it('while Pending → Done (nothing to undo)', () => {
      const current = recordsMap(record('ev-1', 'SCHEDULED_EVENT', { code: 'system-reboot' }));
      const a = admitNotices(current, [canceled('ev-1')], ctx(T0 + 10 * SEC));
      assert.ok(a);
      assert.equal(a.records['ev-1']?.phase, 'Done');
      assert.deepEqual(a.canceled.map((r) => r.id), ['ev-1']);
    });

    for (const phase of ['Cordoned', 'Draining', 'AwaitingReboot'] as const) {
      it(`after ${phase} → Canceled (the undo is a step of its own)`, () => {
        const current = recordsMap(record('ev-1', 'SCHEDULED_EVENT', { code: 'system-reboot', phase }));
        const a = admitNotices(current, [canceled('ev-1')], ctx(T0 + 10 * SEC));
        assert.equal(a?.records['ev-1']?.phase, 'Canceled');
      });
    }

    it('is idempotent: a canceled notice seen again writes nothing', () => {
      const current = recordsMap(record('ev-1', 'SCHEDULED_EVENT', { code: 'system-reboot', phase: 'Cordoned' }));
      const a = admitNotices(current, [canceled('ev-1')], ctx(T0));
      assert.ok(a);
      assert.equal(admitNotices(a.records, [canceled('ev-1')], ctx(T0 + 2 * SEC)), null);
    });

    it('an unknown canceled event is not recorded', () => {
      assert.equal(admitNotices({}, [canceled('ev-9')], ctx(T0)), null);
    });
  });

  describe('scheduled event completed', () => {
    const completed = (id: string) => notice(id, 'SCHEDULED_EVENT', T0 + DAY, { code: 'instance-reboot', state: 'completed' });

    it('an unknown completed event is ignored', () => {
      assert.equal(admitNotices({}, [completed('ev-1')], ctx(T0)), null);
    });

    it('completed before we acted (owner rebooted early) → Done, so the node is never drained for it', () => {
      const current = recordsMap(record('ev-1', 'SCHEDULED_EVENT', { code: 'instance-reboot' }));
      const a = admitNotices(current, [completed('ev-1')], ctx(T0 + SEC));
      assert.ok(a);
      assert.equal(a.records['ev-1']?.phase, 'Done');
      assert.deepEqual(a.completed.map((r) => r.id), ['ev-1']);
    });

    it('completed after we cordoned leaves the record to run its course', () => {
      const current = recordsMap(record('ev-1', 'SCHEDULED_EVENT', { code: 'instance-reboot', phase: 'AwaitingReboot' }));
      assert.equal(admitNotices(current, [completed('ev-1')], ctx(T0 + SEC)), null);
    });
  });

  describe('rescheduled', () => {
    it('a new NotBefore updates a Pending record', () => {
      const current = recordsMap(record('ev-1', 'SCHEDULED_EVENT', { code: 'system-maintenance' }, { startTime: T0 + DAY }));
      const later = T0 + 3 * DAY;
      const a = admitNotices(current, [notice('ev-1', 'SCHEDULED_EVENT', later, { code: 'system-maintenance', state: 'active' })], ctx(T0 + SEC));
      assert.ok(a);
      assert.equal(Date.parse(a.records['ev-1']!.startTime), later);
      assert.equal(a.records['ev-1']?.phase, 'Pending');
      assert.deepEqual(a.rescheduled.map((r) => r.id), ['ev-1']);
      assert.equal(a.admitted.length, 0);
    });

    it('an unchanged NotBefore writes nothing', () => {
      const current = recordsMap(record('ev-1', 'SCHEDULED_EVENT', { code: 'system-maintenance' }, { startTime: T0 + DAY }));
      assert.equal(admitNotices(current, [notice('ev-1', 'SCHEDULED_EVENT', T0 + DAY, { code: 'system-maintenance', state: 'active' })], ctx(T0)), null);
    });

    it('a record already acted on is not moved', () => {
      const current = recordsMap(record('ev-1', 'SCHEDULED_EVENT', { code: 'system-maintenance', phase: 'Cordoned' }, { startTime: T0 + DAY }));
      assert.equal(admitNotices(current, [notice('ev-1', 'SCHEDULED_EVENT', T0 + 3 * DAY, { code: 'system-maintenance', state: 'active' })], ctx(T0)), null);
    });
  });

  describe('earlier boots', () => {
    for (const phase of ['Drained', 'Done', 'Cordoned', 'Draining'] as const) {
      it(`an ITN record (${phase}) from an earlier boot is replaced by a new story`, () => {
        const old = record('itn-1', 'SPOT_ITN', { phase, drainAttempts: 2 }, { bootId: 'boot-1', now: T0 - DAY });
        const now = T0 + 5 * DAY;
        const a = admitNotices(recordsMap(old), [notice('itn-1', 'SPOT_ITN', now + 120 * SEC)], ctx(now, 'boot-2'));
        assert.ok(a);
        const rec = a.records['itn-1'];
        assert.equal(rec?.phase, 'Pending');
        assert.equal(rec?.bootId, 'boot-2');
        assert.equal(rec?.drainAttempts, 0);
        assert.equal(Date.parse(rec!.detectedAt), now);
        assert.deepEqual(a.admitted.map((r) => r.id), ['itn-1']);
      });
    }

    it('the same boot keeps a finished ITN record finished', () => {
      const old = record('itn-1', 'SPOT_ITN', { phase: 'Drained' }, { bootId: 'boot-1' });
      assert.equal(admitNotices(recordsMap(old), [notice('itn-1', 'SPOT_ITN', T0 + 600 * SEC)], ctx(T0 + 480 * SEC, 'boot-1')), null);
    });

    it('a scheduled event (AWS ids are unique forever) is not re-admitted after a reboot', () => {
      const old = record('ev-1', 'SCHEDULED_EVENT', { code: 'system-reboot', phase: 'Done' }, { bootId: 'boot-1' });
      const a = admitNotices(recordsMap(old), [notice('ev-1', 'SCHEDULED_EVENT', T0, { code: 'system-reboot', state: 'active' })], ctx(T0 + DAY, 'boot-2'));
      assert.equal(a, null);
    });
  });

  describe('retention', () => {
    it('prunes Done records older than 7 days, keeps younger ones and unfinished ones', () => {
      const now = T0 + 30 * DAY;
      const oldDone = record('old', 'SCHEDULED_EVENT', { phase: 'Done', updatedAt: new Date(now - 8 * DAY).toISOString() });
      const youngDone = record('young', 'SCHEDULED_EVENT', { phase: 'Done', updatedAt: new Date(now - 6 * DAY).toISOString() });
      const oldDrained = record('drained', 'SPOT_ITN', { phase: 'Drained', updatedAt: new Date(now - 20 * DAY).toISOString() });
      const a = admitNotices(recordsMap(oldDone, youngDone, oldDrained), [notice('young', 'SCHEDULED_EVENT', now, { code: 'x', state: 'completed' })], ctx(now));
      assert.ok(a, 'pruning is a change that must be written');
      assert.deepEqual(Object.keys(a.records).sort(), ['drained', 'young']);
    });

    it('nothing to prune and nothing new → null', () => {
      const now = T0 + 30 * DAY;
      const youngDone = record('young', 'SCHEDULED_EVENT', { phase: 'Done', updatedAt: new Date(now - DAY).toISOString() });
      assert.equal(admitNotices(recordsMap(youngDone), [], ctx(now)), null);
    });
  });
});

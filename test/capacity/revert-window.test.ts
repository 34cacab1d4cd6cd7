import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inRevertWindow, parseRevertWindow, type RevertWindow } from '../../src/capacity/revert-window.js';

// 2025-01-05 is a Sunday; the week below runs Sun 5 … Sat 11 January 2025 (UTC).
const DATE: Record<string, string> = {
  Sun: '2025-01-05',
  Mon: '2025-01-06',
  Tue: '2025-01-07',
  Wed: '2025-01-08',
  Thu: '2025-01-09',
  Fri: '2025-01-10',
  Sat: '2025-01-11',
  NextSun: '2025-01-12',
  NextMon: '2025-01-13',
};

/** Epoch ms of a day of that week at HH:MM[:SS[.mmm]] UTC. */
function at(day: string, time: string): number {
  const d = DATE[day];
  assert.ok(d, `unknown day ${day}`);
  const ms = Date.parse(`${d}T${time.length === 5 ? `${time}:00` : time}Z`);
  assert.ok(Number.isFinite(ms), `bad time ${day} ${time}`);
  return ms;
}

const inside = (w: RevertWindow, day: string, time: string) => inRevertWindow(w, at(day, time));

describe('parseRevertWindow / inRevertWindow', () => {
  it('always (also the empty setting and any case/whitespace) allows every moment', () => {
    for (const text of ['always', 'ALWAYS', '  Always ', '', '   ']) {
      const w = parseRevertWindow(text);
      assert.deepEqual(w, { kind: 'always' }, JSON.stringify(text));
      for (const day of ['Sun', 'Wed', 'Sat']) {
        for (const time of ['00:00', '12:34', '23:59:59.999']) assert.equal(inside(w, day, time), true);
      }
    }
  });

  it('never allows no moment', () => {
    for (const text of ['never', 'Never', ' NEVER ']) {
      const w = parseRevertWindow(text);
      assert.deepEqual(w, { kind: 'never' });
      for (const day of ['Sun', 'Wed', 'Sat']) {
        for (const time of ['00:00', '12:34', '23:59:59.999']) assert.equal(inside(w, day, time), false);
      }
    }
  });

  it('Mon:22:00-Tue:04:00: inside from Monday 22:00 (inclusive) to Tuesday 04:00 (exclusive), UTC', () => {
    const w = parseRevertWindow('Mon:22:00-Tue:04:00');
    assert.equal(w.kind, 'weekly');
    assert.equal(inside(w, 'Mon', '21:59:59.999'), false);
    assert.equal(inside(w, 'Mon', '22:00'), true, 'start is inclusive');
    assert.equal(inside(w, 'Mon', '23:59:59'), true);
    assert.equal(inside(w, 'Tue', '00:00'), true, 'across midnight');
    assert.equal(inside(w, 'Tue', '03:59:59.999'), true);
    assert.equal(inside(w, 'Tue', '04:00'), false, 'end is exclusive');
    assert.equal(inside(w, 'Tue', '22:00'), false, 'only on Monday nights');
    assert.equal(inside(w, 'Sun', '23:00'), false);
    assert.equal(inside(w, 'NextMon', '22:30'), true, 'every week');
  });

  it('is judged in UTC, not local time', () => {
    const w = parseRevertWindow('Mon:22:00-Tue:04:00');
    // 2025-01-06T23:30:00+05:00 is 18:30 UTC on Monday: outside.
    assert.equal(inRevertWindow(w, Date.parse('2025-01-06T23:30:00+05:00')), false);
    // 2025-01-06T18:30:00-05:00 is 23:30 UTC on Monday: inside.
    assert.equal(inRevertWindow(w, Date.parse('2025-01-06T18:30:00-05:00')), true);
  });

  it('Sat:22:00-Mon:02:00 wraps past Sunday midnight', () => {
    const w = parseRevertWindow('Sat:22:00-Mon:02:00');
    assert.equal(inside(w, 'Sat', '21:59'), false);
    assert.equal(inside(w, 'Sat', '22:00'), true);
    assert.equal(inside(w, 'Sat', '23:59:59.999'), true);
    assert.equal(inside(w, 'NextSun', '00:00'), true, 'the week wraps here');
    assert.equal(inside(w, 'Sun', '00:00'), true);
    assert.equal(inside(w, 'Sun', '12:00'), true);
    assert.equal(inside(w, 'Mon', '01:59'), true);
    assert.equal(inside(w, 'Mon', '02:00'), false, 'end is exclusive');
    assert.equal(inside(w, 'Mon', '12:00'), false);
    assert.equal(inside(w, 'Wed', '12:00'), false);
    assert.equal(inside(w, 'Fri', '23:00'), false);
  });

  it('several comma-separated windows: inside any of them', () => {
    const w = parseRevertWindow('Mon:22:00-Tue:04:00, Wed:01:00-Wed:03:30 ,Sat:22:00-Mon:02:00');
    assert.equal(w.kind, 'weekly');
    if (w.kind === 'weekly') assert.equal(w.ranges.length, 3);
    assert.equal(inside(w, 'Mon', '23:00'), true);
    assert.equal(inside(w, 'Wed', '01:00'), true);
    assert.equal(inside(w, 'Wed', '03:29'), true);
    assert.equal(inside(w, 'Wed', '03:30'), false);
    assert.equal(inside(w, 'Sun', '10:00'), true);
    assert.equal(inside(w, 'Mon', '01:00'), true);
    assert.equal(inside(w, 'Mon', '12:00'), false);
    assert.equal(inside(w, 'Thu', '02:00'), false);
    assert.equal(inside(w, 'Fri', '23:00'), false);
  });

  it('accepts full day names, any case, single-digit hours, and spaces around the parts', () => {
    const a = parseRevertWindow('monday:22:00-TUESDAY:4:00');
    const b = parseRevertWindow(' Mon:22:00 - Tue:04:00 ');
    for (const w of [a, b]) {
      assert.equal(inside(w, 'Mon', '22:00'), true);
      assert.equal(inside(w, 'Tue', '03:59'), true);
      assert.equal(inside(w, 'Tue', '04:00'), false);
    }
  });

  it('a window within one day, and one that covers all but an hour of the week', () => {
    const day = parseRevertWindow('Wed:09:00-Wed:17:00');
    assert.equal(inside(day, 'Wed', '08:59'), false);
    assert.equal(inside(day, 'Wed', '09:00'), true);
    assert.equal(inside(day, 'Wed', '16:59'), true);
    assert.equal(inside(day, 'Wed', '17:00'), false);
    assert.equal(inside(day, 'Thu', '10:00'), false);
    // End before start on the same day: wraps round the whole week.
    const most = parseRevertWindow('Wed:10:00-Wed:09:00');
    assert.equal(inside(most, 'Wed', '09:30'), false);
    assert.equal(inside(most, 'Wed', '10:00'), true);
    assert.equal(inside(most, 'Sat', '12:00'), true);
    assert.equal(inside(most, 'Wed', '08:59'), true);
  });

  it('rejects invalid settings with a message naming the offending part', () => {
    const cases: [string, RegExp][] = [
      ['Mox:22:00-Tue:04:00', /"Mox:22:00" is not Day:HH:MM/],
      ['Sunny:22:00-Mon:04:00', /"Sunny:22:00" is not Day:HH:MM/],
      ['Mon:24:00-Tue:04:00', /"Mon:24:00" is not Day:HH:MM/],
      ['Mon:22:00-Tue:24:00', /"Tue:24:00" is not Day:HH:MM/],
      ['Mon:22:60-Tue:04:00', /"Mon:22:60" is not Day:HH:MM/],
      ['Mon:22-Tue:04:00', /"Mon:22" is not Day:HH:MM/],
      ['22:00-04:00', /"22:00" is not Day:HH:MM/],
      ['Mon:22:00', /"Mon:22:00" is not Day:HH:MM-Day:HH:MM/],
      ['Mon:22:00 Tue:04:00', /"Mon:22:00 Tue:04:00" is not Day:HH:MM-Day:HH:MM/],
      ['Mon:22:00-Tue:04:00-Wed:01:00', /is not Day:HH:MM-Day:HH:MM/],
      ['Mon:22:00-Mon:22:00', /"Mon:22:00-Mon:22:00" is an empty window/],
      ['Mon:22:00-Tue:04:00,', /is not Day:HH:MM-Day:HH:MM/],
      ['Mon:22:00-Tue:04:00,,Wed:01:00-Wed:02:00', /is not Day:HH:MM-Day:HH:MM/],
      ['sometimes', /"sometimes" is not Day:HH:MM-Day:HH:MM/],
      ['Mon:22:00-', /"" is not Day:HH:MM/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseRevertWindow(text), message, text);
    }
  });

  it('one bad window among good ones rejects the whole setting', () => {
    assert.throws(() => parseRevertWindow('Mon:22:00-Tue:04:00,Fri:25:00-Sat:01:00'), /"Fri:25:00" is not Day:HH:MM/);
  });
});

/**
 * Strict date parsing for the two formats IMDS uses. `Date.parse` is far too lenient for this
 * (it accepts "2019-02-30", "Jan 21 2019" and much else), and a notice time we misread is worse than
 * one we reject, so both formats are matched field by field and checked for calendar validity.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** Date.UTC, or null when a field is out of range (e.g. 30 Feb, 25:00). */
function utcOrNull(y: number, mon: number, d: number, h: number, min: number, s: number, ms = 0): number | null {
  if (mon < 0 || mon > 11 || d < 1 || h > 23 || min > 59 || s > 59) return null;
  const t = Date.UTC(y, mon, d, h, min, s, ms);
  const check = new Date(t);
  // Date.UTC rolls 30 Feb over into March; a changed day means the input day did not exist.
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mon || check.getUTCDate() !== d) return null;
  return t;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** RFC 3339 / ISO 8601 UTC timestamp as used by spot/instance-action and the rebalance notice, e.g. 2025-01-01T00:02:00Z. */
export function parseRfc3339(text: string): Date | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  const t = utcOrNull(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (t === null) return null;
  let offsetMin = 0;
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const [oh, om] = zone.slice(1).split(':').map(Number) as [number, number];
    if (oh > 23 || om > 59) return null;
    offsetMin = sign * (oh * 60 + om);
  }
  return new Date(t - offsetMin * 60_000);
}

const AWS_EVENT_DATE = /^(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;

/** The scheduled-events date format, e.g. "21 Jan 2019 09:00:43 GMT". */
export function parseAwsEventDate(text: string): Date | null {
  const m = AWS_EVENT_DATE.exec(text);
  if (!m) return null;
  const [, d, monName, y, h, mi, s] = m;
  const mon = MONTHS.indexOf(monName as (typeof MONTHS)[number]);
  if (mon < 0) return null;
  const t = utcOrNull(Number(y), mon, Number(d), Number(h), Number(mi), Number(s));
  return t === null ? null : new Date(t);
}

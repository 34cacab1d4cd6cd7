/**
 * When reverting to spot is allowed: `always` (default), `never`, or weekly windows in UTC such as
 * `Mon:22:00-Tue:04:00` (comma-separated for several; a window may wrap past Sunday midnight).
 * Moving pods off a node is a disruption, so operators pick the hours for it, as commercial tools let them.
 */
export type RevertWindow = { kind: 'always' } | { kind: 'never' } | { kind: 'weekly'; ranges: { start: number; end: number }[]; text: string };

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
// A day is its three-letter abbreviation or its full name (not any word that starts like one: "Sunny").
const POINT = /^(sun(?:day)?|mon(?:day)?|tue(?:s|sday)?|wed(?:nesday)?|thu(?:r|rs|rsday)?|fri(?:day)?|sat(?:urday)?):([01]?\d|2[0-3]):([0-5]\d)$/i;

/** Minutes since Sunday 00:00 UTC, or a message saying what is wrong. */
function parsePoint(p: string): number | string {
  const m = POINT.exec(p.trim());
  if (!m) return `"${p.trim()}" is not Day:HH:MM (e.g. Mon:22:00)`;
  const day = DAYS.indexOf(m[1]!.slice(0, 3).toLowerCase());
  return day * 24 * 60 + Number(m[2]) * 60 + Number(m[3]);
}

/** Parses the setting; throws with a message naming what is allowed. */
export function parseRevertWindow(text: string): RevertWindow {
  const t = text.trim();
  if (t.toLowerCase() === 'always' || t === '') return { kind: 'always' };
  if (t.toLowerCase() === 'never') return { kind: 'never' };
  const ranges: { start: number; end: number }[] = [];
  for (const part of t.split(',')) {
    const [a, b, ...rest] = part.split('-');
    if (a === undefined || b === undefined || rest.length) throw new Error(`"${part.trim()}" is not Day:HH:MM-Day:HH:MM`);
    const start = parsePoint(a);
    const end = parsePoint(b);
    if (typeof start === 'string') throw new Error(start);
    if (typeof end === 'string') throw new Error(end);
    if (start === end) throw new Error(`"${part.trim()}" is an empty window`);
    ranges.push({ start, end });
  }
  return { kind: 'weekly', ranges, text: t };
}

/** Pure: is `at` (epoch ms) inside the window? */
export function inRevertWindow(w: RevertWindow, at: number): boolean {
  if (w.kind === 'always') return true;
  if (w.kind === 'never') return false;
  const d = new Date(at);
  const minute = d.getUTCDay() * 24 * 60 + d.getUTCHours() * 60 + d.getUTCMinutes();
  return w.ranges.some(({ start, end }) => (start < end ? minute >= start && minute < end : minute >= start || minute < end));
}

export const REVERT_WINDOW_HELP = 'always, never, or weekly UTC windows like Mon:22:00-Tue:04:00 (comma-separated)';

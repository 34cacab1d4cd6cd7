/**
 * Durations for Spot Guard's own time options: plain seconds (`120`, `1.5`) or Go-style durations
 * (`90s`, `2m`, `1h30m`, `500ms`; units ns, us/µs, ms, s, m, h — as Go's time.ParseDuration, without sign).
 * NTH's integer-second options (NODE_TERMINATION_GRACE_PERIOD, POD_TERMINATION_GRACE_PERIOD) do not use this.
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC greek mu
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const PLAIN_SECONDS = /^(\d+(?:\.\d+)?)$/;
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Milliseconds (rounded to whole ms), or undefined when `input` is not a duration. */
export function parseDurationMs(input: string): number | undefined {
  const s = input.trim();
  if (s === '') return undefined;
  const plain = PLAIN_SECONDS.exec(s);
  if (plain) return finite(Number(plain[1]) * 1_000);
  let total = 0;
  let pos = 0;
  PART.lastIndex = 0;
  while (pos < s.length) {
    PART.lastIndex = pos;
    const m = PART.exec(s);
    if (!m) return undefined;
    const unit = UNIT_MS[m[2] ?? ''];
    if (unit === undefined) return undefined;
    total += Number(m[1]) * unit;
    pos = PART.lastIndex;
  }
  return finite(total);
}

function finite(ms: number): number | undefined {
  if (!Number.isFinite(ms) || ms > Number.MAX_SAFE_INTEGER) return undefined;
  return Math.round(ms);
}

/** Compact Go-style rendering that parseDurationMs reads back: 0s, 500ms, 2s, 1m30s, 1h30m, 1s500ms. */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(Math.round(ms));
  const parts: string[] = [];
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return sign + parts.join('');
}

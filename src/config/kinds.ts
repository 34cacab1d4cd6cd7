/**
 * Value kinds of the option table: how one raw string (from an env var or a flag) becomes a typed
 * value, what is allowed (for messages, --help and docs), and how a value is shown back in the
 * user's units. Parsing is done with zod schemas; the messages are ours so that every problem reads
 * `invalid ENV (--flag): "<value>" <reason>`.
 */
import { z } from 'zod';
import { formatDurationMs, parseDurationMs } from './duration.js';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface Kind<T> {
  /** Short type name for docs: boolean, integer, seconds, duration, enum, string, url, path, JSON object, key=value list. */
  readonly type: string;
  /** Placeholder shown in --help, e.g. `<seconds>`. Booleans take an optional value. */
  readonly placeholder: string;
  /** What is allowed, completing "is not …" and the docs' "allowed" column. */
  readonly allowed: string;
  /**
   * Whether an explicitly empty flag value (`--webhook-url=`) is accepted and clears the option.
   * Empty env vars always count as unset (NTH semantics), whatever the kind.
   */
  readonly emptyClears: boolean;
  /** Parse a raw (non-empty unless emptyClears) string. Method syntax: kinds are bivariant in T. */
  parse(raw: string): ParseResult<T>;
  /** The value in the user's units, JSON/YAML friendly (durations as `2m`, seconds as integers). */
  format(value: T): unknown;
}

function fromZod<T>(schema: z.ZodType<T>, raw: string, reason: string): ParseResult<T> {
  const r = schema.safeParse(raw);
  return r.success ? { ok: true, value: r.data } : { ok: false, reason };
}

// ---------------------------------------------------------------------------------------------
// booleans

const TRUE_WORDS = ['true', 't', '1'];
const FALSE_WORDS = ['false', 'f', '0'];

/**
 * true/false, t/f, 1/0 in any case: a superset of Go's strconv.ParseBool, which NTH uses
 * (1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False). yes/no/on/off are refused.
 */
export function bool(): Kind<boolean> {
  const allowed = 'a boolean: true or false (also 1/0, t/f; any case)';
  const schema = z
    .string()
    .transform((s) => s.trim().toLowerCase())
    .pipe(z.enum([...TRUE_WORDS, ...FALSE_WORDS]))
    .transform((s) => TRUE_WORDS.includes(s));
  return {
    type: 'boolean',
    placeholder: '[bool]',
    allowed,
    emptyClears: false,
    parse: (raw) => fromZod(schema, raw, `is not ${allowed}`),
    format: (v) => v,
  };
}

// ---------------------------------------------------------------------------------------------
// numbers

const INTEGER_TEXT = /^[+-]?\d+$/;

function intSchema(check: (n: number) => boolean) {
  return z
    .string()
    .trim()
    .regex(INTEGER_TEXT)
    .transform(Number)
    .pipe(z.number().refine((n) => Number.isSafeInteger(n) && check(n)));
}

function rangeText(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `an integer from ${min} to ${max}`;
  if (min !== undefined) return `an integer >= ${min}`;
  if (max !== undefined) return `an integer <= ${max}`;
  return 'an integer';
}

export function int(opts: { min?: number; max?: number; allowed?: string; check?: (n: number) => boolean } = {}): Kind<number> {
  const { min, max } = opts;
  const allowed = opts.allowed ?? rangeText(min, max);
  const check =
    opts.check ?? ((n: number) => (min === undefined || n >= min) && (max === undefined || n <= max));
  const schema = intSchema(check);
  return {
    type: 'integer',
    placeholder: '<int>',
    allowed,
    emptyClears: false,
    parse: (raw) => fromZod(schema, raw, `is not ${allowed}`),
    format: (v) => v,
  };
}

export function port(): Kind<number> {
  return { ...int({ min: 1, max: 65535, allowed: 'a TCP port from 1 to 65535' }), placeholder: '<port>' };
}

/** NTH's integer-second options: integer seconds in, milliseconds held in Config, seconds shown. */
export function seconds(opts: { min: number; max?: number }): Kind<number> {
  const allowed = `${rangeText(opts.min, opts.max)} (seconds)`;
  const schema = intSchema((n) => n >= opts.min && (opts.max === undefined || n <= opts.max)).transform(
    (n) => n * 1000,
  );
  return {
    type: 'integer seconds',
    placeholder: '<seconds>',
    allowed,
    emptyClears: false,
    parse: (raw) => fromZod(schema, raw, `is not ${allowed}`),
    format: (ms) => Math.round(ms / 1000),
  };
}

/** Spot Guard's own durations: `120` (seconds) or Go-style `2m`, `90s`, `1h30m`, `500ms`; held in ms. */
export function duration(opts: { minMs: number; maxMs?: number }): Kind<number> {
  const bounds =
    opts.maxMs !== undefined
      ? ` from ${formatDurationMs(opts.minMs)} to ${formatDurationMs(opts.maxMs)}`
      : ` >= ${formatDurationMs(opts.minMs)}`;
  const allowed = `a duration${bounds}: seconds (120) or Go style (90s, 2m, 1h30m, 500ms)`;
  const schema = z
    .string()
    .transform((s, ctx) => {
      const ms = parseDurationMs(s);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'not a duration' });
        return z.NEVER;
      }
      return ms;
    })
    .pipe(z.number().min(opts.minMs).max(opts.maxMs ?? Number.MAX_SAFE_INTEGER));
  return {
    type: 'duration',
    placeholder: '<duration>',
    allowed,
    emptyClears: false,
    parse: (raw) => fromZod(schema, raw, `is not ${allowed}`),
    format: (ms) => formatDurationMs(ms),
  };
}

// ---------------------------------------------------------------------------------------------
// enums and strings

/**
 * One of a fixed set. Matching ignores case and yields the canonical spelling
 * (`noschedule` → `NoSchedule`, NTH's `INFO` → `info`).
 */
export function oneOf<const T extends string>(values: readonly T[]): Kind<T> {
  const allowed = `one of ${values.join(', ')}`;
  const byLower = new Map(values.map((v) => [v.toLowerCase(), v] as const));
  const schema = z.string().transform((s, ctx): T => {
    const v = byLower.get(s.trim().toLowerCase());
    if (v === undefined) {
      ctx.addIssue({ code: 'custom', message: allowed });
      return z.NEVER;
    }
    return v;
  });
  return {
    type: 'enum',
    placeholder: `<${values.join('|')}>`,
    allowed,
    emptyClears: false,
    parse: (raw) => fromZod(schema, raw, `is not ${allowed}`),
    format: (v) => v,
  };
}

export interface StringOpts {
  /** Regular expression the whole value must match. */
  pattern?: RegExp;
  minLength?: number;
  maxLength?: number;
  /** Allowed text for messages/docs; required with pattern. */
  allowed?: string;
  placeholder?: string;
  /** Extra check with its own reason. */
  check?: (s: string) => string | undefined;
  /** An explicit empty flag value clears the option (optional strings). */
  optional?: boolean;
  type?: string;
}

export function str(opts: StringOpts = {}): Kind<string> {
  const min = opts.minLength ?? 1;
  const allowed =
    opts.allowed ??
    (opts.maxLength !== undefined ? `a string of ${min} to ${opts.maxLength} characters` : 'a non-empty string');
  let schema = z.string().min(min);
  if (opts.maxLength !== undefined) schema = schema.max(opts.maxLength);
  if (opts.pattern) schema = schema.regex(opts.pattern);
  return {
    type: opts.type ?? 'string',
    placeholder: opts.placeholder ?? '<string>',
    allowed,
    emptyClears: opts.optional ?? false,
    parse: (raw) => {
      const r = fromZod(schema, raw, `is not ${allowed}`);
      if (!r.ok) return r;
      const extra = opts.check?.(r.value);
      return extra ? { ok: false, reason: extra } : r;
    },
    format: (v) => v,
  };
}

/** A file path; existence is checked where the file is used. */
export function path(opts: { optional?: boolean } = {}): Kind<string> {
  return str({ allowed: 'a file path', placeholder: '<path>', optional: opts.optional ?? true, type: 'path' });
}

/** An http:// or https:// URL (Node's WHATWG parser, through zod). */
export function url(opts: { optional?: boolean; stripTrailingSlash?: boolean } = {}): Kind<string> {
  const allowed = 'an http:// or https:// URL';
  const schema = z
    .string()
    .trim()
    .pipe(z.url({ protocol: /^https?$/ }))
    .transform((u) => (opts.stripTrailingSlash ? u.replace(/\/+$/, '') : u));
  return {
    type: 'url',
    placeholder: '<url>',
    allowed,
    emptyClears: opts.optional ?? false,
    parse: (raw) => fromZod(schema, raw, `is not ${allowed}`),
    format: (v) => v,
  };
}

// Kubernetes name grammars (apimachinery validation).
const DNS1123_LABEL = '[a-z0-9](?:[-a-z0-9]*[a-z0-9])?';
export const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_LABEL}(?:\\.${DNS1123_LABEL})*$`);
export const DNS1123_LABEL_RE = new RegExp(`^${DNS1123_LABEL}$`);
const QUALIFIED_NAME_PART = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** `name` or `prefix/name` as in label, annotation and taint keys; undefined when valid. */
export function qualifiedNameProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) {
    return 'has a prefix that is not a lowercase DNS subdomain';
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_PART.test(name)) {
    return 'has a name part that is not 1-63 alphanumerics, "-", "_" or "." starting and ending alphanumeric';
  }
  return undefined;
}

export function qualifiedName(): Kind<string> {
  return str({
    allowed: 'a Kubernetes qualified name ([prefix/]name, name 1-63 alphanumerics, "-", "_", ".")',
    placeholder: '<key>',
    check: (s) => {
      const p = qualifiedNameProblem(s);
      return p ? `is not a valid Kubernetes key: it ${p}` : undefined;
    },
  });
}

// ---------------------------------------------------------------------------------------------
// maps

/** NTH WEBHOOK_HEADERS: a JSON object of header name to string value. */
export function jsonHeaders(): Kind<Record<string, string>> {
  const allowed = 'a JSON object of header names to string values, e.g. {"Authorization":"Bearer …"}';
  const objectSchema = z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/), z.string());
  return {
    type: 'JSON object',
    placeholder: '<json>',
    allowed,
    emptyClears: false,
    parse: (raw) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch (err) {
        // Only the position: V8 messages may quote the input, and header values are secrets.
        const at = /at position (\d+)/.exec((err as Error).message);
        const where = at ? ` (syntax error at position ${at[1]})` : '';
        return { ok: false, reason: `is not valid JSON${where}; expected ${allowed}` };
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        return { ok: false, reason: `is not ${allowed}` };
      }
      const r = objectSchema.safeParse(parsed);
      if (r.success) return { ok: true, value: r.data };
      const issue = r.error.issues[0];
      const where = issue?.path.length ? ` (header ${JSON.stringify(String(issue.path[0]))})` : '';
      return { ok: false, reason: `is not ${allowed}${where}` };
    },
    format: (v) => v,
  };
}

/** NTH KUBERNETES_EVENTS_EXTRA_ANNOTATIONS: `key=value,key2=value2`, keys Kubernetes qualified names. */
export function keyValueList(): Kind<Record<string, string>> {
  const allowed = 'a comma-separated list of key=value pairs, e.g. first=annotation,example.com/number=two';
  return {
    type: 'key=value list',
    placeholder: '<k=v,...>',
    allowed,
    emptyClears: true,
    parse: (raw) => {
      const out: Record<string, string> = {};
      for (const item of raw.split(',')) {
        const entry = item.trim();
        if (entry === '') continue;
        const eq = entry.indexOf('=');
        if (eq <= 0) {
          return { ok: false, reason: `is not ${allowed}: ${JSON.stringify(entry)} has no key=value` };
        }
        const key = entry.slice(0, eq).trim();
        const problem = qualifiedNameProblem(key);
        if (problem) {
          return { ok: false, reason: `is not ${allowed}: key ${JSON.stringify(key)} ${problem}` };
        }
        out[key] = entry.slice(eq + 1).trim();
      }
      return { ok: true, value: out };
    },
    format: (v) => v,
  };
}

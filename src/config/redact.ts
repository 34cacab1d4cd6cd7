/**
 * Secrets out of sight: the effective configuration for display (`spot-guard config`, the startup
 * log line) and values quoted in validation messages. The options marked `secret` in the table say how:
 *
 * - WEBHOOK_URL (url-origin): only scheme://host[:port] is kept, `https://hooks.slack.com/***` — the
 *   secret of Slack/Teams/Chime webhooks is the path or the query; the host is useful for debugging.
 * - WEBHOOK_HEADERS (map-values): header names kept, values `***`, except Content-Type, Accept and
 *   User-Agent which are never secrets.
 * - WEBHOOK_PROXY (url-credentials): the URL is kept, `user:password@` becomes `***:***@`.
 */
import { optionEntries, type OptionDef, type Redaction } from './options.js';
import type { Config, ConfigKey, ConfigSource, LoadedConfig } from './schema.js';

export const REDACTED = '***';

const NON_SECRET_HEADERS = new Set(['content-type', 'accept', 'user-agent']);

/** Redacts a URL; an unparseable one is hidden entirely. */
export function redactUrl(value: string, mode: 'url-origin' | 'url-credentials'): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return REDACTED;
  }
  if (mode === 'url-origin') {
    const hasMore = u.pathname.replace(/\/$/, '') !== '' || u.search !== '' || u.hash !== '' || u.username !== '';
    return `${u.protocol}//${u.host}${hasMore ? `/${REDACTED}` : ''}`;
  }
  if (u.username === '' && u.password === '') return value;
  u.username = REDACTED;
  if (u.password !== '') u.password = REDACTED;
  return u.toString();
}

export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, NON_SECRET_HEADERS.has(k.toLowerCase()) ? v : REDACTED]),
  );
}

function redactValue(value: unknown, how: Redaction | undefined): unknown {
  if (how === undefined || value === undefined) return value;
  if (how === 'map-values') return redactHeaders(value as Record<string, string>);
  return redactUrl(String(value), how);
}

/** The same Config with secret values redacted; safe to log. */
export function redactConfig(config: Config): Config {
  const out: Record<string, unknown> = { ...config };
  for (const { key, def } of optionEntries()) out[key] = redactValue(config[key], def.secret);
  return out as unknown as Config;
}

/**
 * A raw value as quoted in a validation message: JSON-quoted, or for secrets redacted (URLs) or
 * hidden with only its length (headers JSON), so a typo never leaks a token into logs.
 */
export function shownValue(def: OptionDef<unknown>, raw: string): string {
  if (def.secret === undefined) return JSON.stringify(raw);
  if (def.secret === 'map-values') return `<hidden value of ${raw.length} characters>`;
  return JSON.stringify(redactUrl(raw, def.secret));
}

export interface ConfigView {
  /** Env var name → value in the user's units (durations `2m`, NTH seconds as integers), redacted. */
  config: Record<string, unknown>;
  /** Env var name → where the value came from. */
  sources: Record<string, ConfigSource>;
  warnings: string[];
}

/** The effective configuration as a user sees it: keyed by env var, in input units, secrets redacted. */
export function configView(loaded: LoadedConfig): ConfigView {
  const config: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};
  for (const { key, def } of optionEntries()) {
    const v = redactValue(loaded.config[key as ConfigKey], def.secret);
    config[def.env] = v === undefined ? null : def.kind.format(v);
    sources[def.env] = loaded.sources[key];
  }
  return { config, sources, warnings: [...loaded.warnings] };
}

/**
 * Configuration loading: flags (commander) > env > default, every value validated, every problem
 * reported at once. Pure apart from reading files through LoadDeps (the service-account namespace
 * file, the webhook template file); never exits the process.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { compileWebhookTemplate } from '../observability/webhook-template.js';
import {
  IGNORED_NTH_ENV,
  OPTIONS,
  QUEUE_MODE_MESSAGE,
  REFUSED_OPTIONS,
  defaultText,
  flagFor,
  optionEntries,
  optionLabel,
  type OptionEntry,
} from './options.js';
import { shownValue } from './redact.js';
import { RULES } from './rules.js';
import {
  ConfigError,
  type Config,
  type ConfigKey,
  type ConfigSource,
  type LoadDeps,
  type LoadedConfig,
} from './schema.js';

export { ConfigError } from './schema.js';
export type { Config, ConfigSource, LoadDeps, LoadedConfig } from './schema.js';

/** Raw flag values as commander collected them: `--taint-node` alone is `true`. */
export type FlagValues = ReadonlyMap<string, string | true>;

export const defaultLoadDeps: LoadDeps = {
  readFile(path: string): string | undefined {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
};

// ---------------------------------------------------------------------------------------------
// commander

interface RegisteredFlag {
  flag: string;
  attribute: string;
}

/** Every config flag (primary, aliases, refused) with the commander attribute it lands in. */
function allFlags(): RegisteredFlag[] {
  const flags: string[] = [];
  for (const { flag, def } of optionEntries()) flags.push(flag, ...(def.aliases?.flags ?? []));
  for (const r of REFUSED_OPTIONS) flags.push(flagFor(r.env));
  return flags.map((flag) => ({ flag, attribute: new Option(flag).attributeName() }));
}

function helpText(entry: OptionEntry): string {
  const { def } = entry;
  const parts = [def.description];
  if (def.kind.type === 'enum') parts.push(`(${def.kind.allowed})`);
  parts.push(`[env: ${def.env}]`);
  const dflt = defaultText(def);
  if (def.required) parts.push('(required)');
  else if (dflt !== undefined) parts.push(`(default: ${dflt.length > 60 ? `${dflt.slice(0, 57)}...` : dflt})`);
  return parts.join(' ');
}

/**
 * Register every option of the table as a flag on `cmd` (used by `run` and `config`). Booleans take
 * an optional value: `--taint-node` = true, `--taint-node=false`. No commander defaults and no
 * commander env handling: precedence and validation are done by configFromCommand / loadConfig.
 */
export function addConfigOptions(cmd: Command): Command {
  for (const entry of optionEntries()) {
    const { flag, def } = entry;
    cmd.addOption(new Option(`${flag} ${def.kind.placeholder}`, helpText(entry)));
    for (const alias of def.aliases?.flags ?? []) {
      cmd.addOption(new Option(`${alias} ${def.kind.placeholder}`, `alias of ${flag}`).hideHelp());
    }
  }
  for (const r of REFUSED_OPTIONS) {
    const placeholder = r.kind === 'boolean' ? '[bool]' : '<value>';
    cmd.addOption(new Option(`${flagFor(r.env)} ${placeholder}`, r.description).hideHelp());
  }
  return cmd;
}

/** The config flags the user actually gave on `cmd` (after commander parsed it). */
export function flagValuesFrom(cmd: Command): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (const { flag, attribute } of allFlags()) {
    if (cmd.getOptionValueSource(attribute) !== 'cli') continue;
    const v: unknown = cmd.getOptionValue(attribute);
    if (v === true || typeof v === 'string') out.set(flag, v);
  }
  return out;
}

/** Resolve, validate and return the configuration of a commander command built with addConfigOptions. */
export function configFromCommand(
  cmd: Command,
  env: NodeJS.ProcessEnv = process.env,
  deps: LoadDeps = defaultLoadDeps,
): LoadedConfig {
  return resolveConfig(flagValuesFrom(cmd), env, deps);
}

/**
 * Parse `argv` (the user's arguments only, e.g. `['--node-name', 'n1', '--dry-run']`) and `env`.
 * Throws ConfigError with every problem (an unknown flag included).
 */
export function loadConfigDetailed(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  deps: LoadDeps = defaultLoadDeps,
): LoadedConfig {
  const cmd = new Command('spot-guard')
    .exitOverride()
    .allowExcessArguments(false)
    .configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
  addConfigOptions(cmd);
  try {
    cmd.parse([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) throw new ConfigError([err.message.replace(/^error:\s*/, '')]);
    throw err;
  }
  return configFromCommand(cmd, env, deps);
}

/** loadConfigDetailed without sources and warnings. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv, deps: LoadDeps = defaultLoadDeps): Config {
  return loadConfigDetailed(argv, env, deps).config;
}

// ---------------------------------------------------------------------------------------------
// resolution

interface Candidate {
  raw: string | true;
  source: 'flag' | 'env';
  /** The name the user wrote (flag or env var), for messages about aliases. */
  name: string;
  alias: boolean;
}

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  // NTH semantics: an empty env var is the same as an unset one.
  return v === undefined || v.trim() === '' ? undefined : v;
}

function firstCandidate(entry: OptionEntry, flags: FlagValues, env: NodeJS.ProcessEnv): Candidate | undefined {
  const { flag, def } = entry;
  for (const [name, alias] of [[flag, false], ...(def.aliases?.flags ?? []).map((f) => [f, true] as const)] as const) {
    const raw = flags.get(name);
    if (raw !== undefined) return { raw, source: 'flag', name, alias };
  }
  for (const [name, alias] of [[def.env, false], ...(def.aliases?.env ?? []).map((e) => [e, true] as const)] as const) {
    const raw = envValue(env, name);
    if (raw !== undefined) return { raw, source: 'env', name, alias };
  }
  return undefined;
}

/** Core of loading: flags as already collected, env, deps → LoadedConfig or ConfigError. */
export function resolveConfig(flags: FlagValues, env: NodeJS.ProcessEnv, deps: LoadDeps = defaultLoadDeps): LoadedConfig {
  const problems: string[] = [];
  const warnings: string[] = [];
  const invalid = new Set<ConfigKey>();
  const values: Partial<Record<ConfigKey, unknown>> = {};
  const sources: Partial<Record<ConfigKey, ConfigSource>> = {};

  for (const entry of optionEntries()) {
    const { key, flag, def } = entry;
    const useDefault = () => {
      const computed = def.computeDefault?.(deps);
      if (computed !== undefined) {
        values[key] = computed;
        sources[key] = 'file';
      } else {
        values[key] = def.default;
        sources[key] = 'default';
      }
    };
    const c = firstCandidate(entry, flags, env);
    if (c === undefined) {
      if (def.required) {
        problems.push(`missing ${def.env} (${flag}): it is required. ${def.description}`);
        invalid.add(key);
      }
      useDefault();
      continue;
    }
    if (c.alias && (def.aliases?.deprecated ?? false)) {
      warnings.push(`${c.name} is deprecated (as in NTH): use ${def.env} (${flag})`);
    }
    sources[key] = c.source;
    const raw = c.raw === true ? 'true' : c.raw;
    if (c.raw === true && def.kind.type !== 'boolean') {
      problems.push(`invalid ${def.env} (${flag}): ${c.name} needs a value (${def.kind.allowed})`);
      invalid.add(key);
      useDefault();
      continue;
    }
    if (raw === '' && def.kind.emptyClears) {
      values[key] = undefined;
      continue;
    }
    const parsed = def.kind.parse(raw);
    if (parsed.ok) {
      values[key] = parsed.value;
    } else {
      const setAs = c.alias ? `, set as ${c.name}` : '';
      problems.push(`invalid ${def.env} (${flag}${setAs}): ${shownValue(def, raw)} ${parsed.reason}`);
      invalid.add(key);
      useDefault();
    }
  }

  // Queue mode (SQS) options: refused.
  for (const r of REFUSED_OPTIONS) {
    const label = `${r.env} (${flagFor(r.env)})`;
    const fromFlag = flags.get(flagFor(r.env));
    const raw = fromFlag === true ? 'true' : (fromFlag ?? envValue(env, r.env));
    if (raw === undefined || raw === '') continue;
    if (r.kind === 'boolean') {
      const b = /^(true|t|1)$/i.test(raw.trim()) ? true : /^(false|f|0)$/i.test(raw.trim()) ? false : undefined;
      if (b === undefined) problems.push(`invalid ${label}: ${JSON.stringify(raw)} is not a boolean; ${QUEUE_MODE_MESSAGE}`);
      else if (b) problems.push(`${label} is ${JSON.stringify(raw)}: ${QUEUE_MODE_MESSAGE}`);
    } else {
      problems.push(`${label} is set (${JSON.stringify(raw)}): ${QUEUE_MODE_MESSAGE}`);
    }
  }

  // NTH options that spot-guard does not implement: a warning each.
  for (const { env: name, reason } of IGNORED_NTH_ENV) {
    if (envValue(env, name) !== undefined) warnings.push(`NTH option ${name} is set but ignored by spot-guard: ${reason}`);
  }

  const config = values as Config;
  const srcs = sources as Record<ConfigKey, ConfigSource>;

  // Files that must exist at startup.
  if (config.webhookTemplateFile !== undefined && !invalid.has('webhookTemplateFile')) {
    if (deps.readFile(config.webhookTemplateFile) === undefined) {
      problems.push(
        `invalid ${optionLabel('webhookTemplateFile')}: ${JSON.stringify(config.webhookTemplateFile)} cannot be read (no such file or no permission)`,
      );
      invalid.add('webhookTemplateFile');
    }
  }

  // WEBHOOK_URL from a file (a mounted Secret), read once now.
  if (config.webhookUrlFile !== undefined && !invalid.has('webhookUrlFile')) {
    const label = optionLabel('webhookUrlFile');
    const content = deps.readFile(config.webhookUrlFile);
    if (srcs.webhookUrl === 'flag' || srcs.webhookUrl === 'env') {
      problems.push(`${optionLabel('webhookUrl')} and ${label} are both set: use one of them`);
      invalid.add('webhookUrlFile');
    } else if (content === undefined) {
      problems.push(`invalid ${label}: ${JSON.stringify(config.webhookUrlFile)} cannot be read (no such file or no permission)`);
      invalid.add('webhookUrlFile');
    } else {
      const parsed = OPTIONS.webhookUrl.kind.parse(content.trim());
      if (parsed.ok) {
        config.webhookUrl = parsed.value;
        srcs.webhookUrl = 'file';
      } else {
        // The content is a secret: say what is wrong, not what it is.
        problems.push(`invalid ${label}: the content of ${JSON.stringify(config.webhookUrlFile)} ${parsed.reason}`);
        invalid.add('webhookUrlFile');
      }
    }
  }

  // The webhook template is checked now (as NTH does at startup): a broken one is a startup error,
  // not a webhook that silently never arrives.
  const templateSet = srcs.webhookTemplate === 'flag' || srcs.webhookTemplate === 'env' || config.webhookTemplateFile !== undefined;
  if ((config.webhookUrl !== undefined || templateSet) && !invalid.has('webhookTemplate') && !invalid.has('webhookTemplateFile')) {
    const fromFile = config.webhookTemplateFile !== undefined;
    const text = fromFile ? deps.readFile(config.webhookTemplateFile as string) : config.webhookTemplate;
    if (text !== undefined) {
      try {
        compileWebhookTemplate(text);
      } catch (err) {
        const key = fromFile ? 'webhookTemplateFile' : 'webhookTemplate';
        problems.push(`invalid ${optionLabel(key)}: the template does not compile: ${err instanceof Error ? err.message : String(err)}`);
        invalid.add(key);
      }
    }
  }

  // Cross-option rules, skipping any that involve an option already reported invalid.
  for (const rule of RULES) {
    if (rule.uses.some((k) => invalid.has(k))) continue;
    const messages = rule.check(config, srcs);
    (rule.severity === 'error' ? problems : warnings).push(...messages);
  }

  if (problems.length > 0) throw new ConfigError(problems, warnings);
  return { config, sources: srcs, warnings };
}

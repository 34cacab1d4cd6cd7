/**
 * `spot-guard config [options]`: print the effective configuration — every option, its value in the
 * user's units with secrets redacted, and where it came from (flag, env, default, file) — as YAML
 * (default; the source as a comment) or JSON (`{config, sources, warnings}`). Invalid configuration:
 * the problems on stderr, exit code 2. Warnings go to stderr, so stdout stays machine-readable.
 */
import { Command, Option } from 'commander';
import { Document, isMap, isPair, isScalar, type YAMLMap } from 'yaml';
import { addConfigOptions, configFromCommand, defaultLoadDeps } from '../config/load.js';
import { configView, type ConfigView } from '../config/redact.js';
import { ConfigError, type LoadDeps, type LoadedConfig } from '../config/schema.js';

/** Exit code for an invalid configuration (`config` and `run`). */
export const CONFIG_EXIT_CODE = 2;

function bulletList(lines: readonly string[]): string {
  return lines.map((l) => `  - ${l}`).join('\n');
}

/** Text for stderr: all problems, then warnings. */
export function formatConfigError(err: ConfigError): string {
  const head =
    err.problems.length === 1 ? 'invalid configuration:' : `invalid configuration (${err.problems.length} problems):`;
  let text = `${head}\n${bulletList(err.problems)}`;
  if (err.warnings.length) text += `\nwarnings:\n${bulletList(err.warnings)}`;
  return text;
}

export interface LoadOrExitOptions {
  env?: NodeJS.ProcessEnv;
  deps?: LoadDeps;
}

/**
 * For `run` and `config`: resolve and validate the configuration of `cmd` (a command built with
 * addConfigOptions, after commander parsed it). On problems, prints them through commander
 * (`cmd.error`: stderr, exit code 2, honouring exitOverride) and does not return.
 * Warnings are returned for the caller to log.
 */
export function loadConfigOrExit(cmd: Command, opts: LoadOrExitOptions = {}): LoadedConfig {
  try {
    return configFromCommand(cmd, opts.env ?? process.env, opts.deps ?? defaultLoadDeps);
  } catch (err) {
    if (err instanceof ConfigError) {
      cmd.error(formatConfigError(err), { exitCode: CONFIG_EXIT_CODE, code: 'spot-guard.config.invalid' });
    }
    throw err;
  }
}

/** YAML with each value's source as a trailing comment. */
export function renderConfigYaml(view: ConfigView): string {
  const doc = new Document(view.config);
  doc.commentBefore = ' spot-guard effective configuration (secrets redacted); comment = source: flag, env, default or file';
  const map = doc.contents as YAMLMap | null;
  for (const item of map?.items ?? []) {
    if (!isPair(item) || !isScalar(item.key)) continue;
    const source = view.sources[String(item.key.value)];
    if (source === undefined) continue;
    if (isScalar(item.value)) {
      item.value.comment = ` ${source}`;
    } else if (isMap(item.value) && item.value.items.length === 0) {
      item.value.flow = true; // `KEY: {} # default`
      item.value.comment = ` ${source}`;
    } else {
      item.key.comment = ` ${source}`;
    }
  }
  return doc.toString({ lineWidth: 0 });
}

export function renderConfigJson(view: ConfigView): string {
  return `${JSON.stringify(view, null, 2)}\n`;
}

export function configCommand(): Command {
  const cmd = new Command('config')
    .description(
      'Print the effective configuration (secrets redacted) with the source of each value; exit 2 if it is invalid',
    )
    .addOption(new Option('--output <format>', 'output format').choices(['yaml', 'json']).default('yaml'));
  addConfigOptions(cmd);
  cmd.action((opts: { output: 'yaml' | 'json' }, command: Command) => {
    const loaded = loadConfigOrExit(command);
    const view = configView(loaded);
    for (const w of view.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(opts.output === 'json' ? renderConfigJson(view) : renderConfigYaml(view));
  });
  return cmd;
}

/**
 * Renders docs/configuration.md from the option table, the refused/ignored NTH options and the rules.
 * Regenerate with `npx tsx src/config/render-docs.ts`; test/config/docs.test.ts fails when the
 * committed file differs from this output.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  IGNORED_NTH_ENV,
  QUEUE_MODE_MESSAGE,
  REFUSED_OPTIONS,
  defaultText,
  flagFor,
  optionEntries,
  type OptionGroup,
  type Redaction,
} from './options.js';
import { RULES } from './rules.js';

const GROUP_TITLES: Record<OptionGroup, string> = {
  nth: 'NTH-compatible options (IMDS mode)',
  'spot-guard': 'Spot Guard options',
  agent: 'Agent options',
};

const REDACTION_TEXT: Record<Redaction, string> = {
  'url-origin': 'yes: only scheme://host shown',
  'url-credentials': 'credentials hidden',
  'map-values': 'yes: values hidden',
};

/** Decisions taken where NTH or the brief left a choice; one line each. */
const DECISIONS: readonly string[] = [
  'Precedence is flag > NTH flag alias > env > deprecated env alias > default. An empty env var counts as unset, as in NTH.',
  "Booleans accept `true`/`false`, `1`/`0` and `t`/`f` in any case — a superset of Go's `strconv.ParseBool` that NTH uses; `yes`/`no`/`on`/`off` are refused. Flags: `--taint-node` alone is true, `--taint-node=false` (or `--taint-node false`) is false.",
  'Enum values (TAINT_EFFECT, SPOT_GUARD_TAINT_EFFECT, LOG_LEVEL) match in any case and are normalised (`noexecute` → `NoExecute`, NTH\'s `INFO` → `info`).',
  "NTH's integer-second options (NODE_TERMINATION_GRACE_PERIOD, POD_TERMINATION_GRACE_PERIOD) take integers only; Spot Guard's own time options take seconds (`120`, `1.5`) or Go durations (`90s`, `2m`, `1h30m`, `500ms`).",
  'In the typed Config every time span is in milliseconds (`…Ms`), whatever the input unit; only `podTerminationGracePeriodSeconds` stays in seconds (-1 is meaningful and the Eviction API takes seconds).',
  'NAMESPACE defaults to the service-account namespace file (`/var/run/secrets/kubernetes.io/serviceaccount/namespace`), else `default`; `spot-guard config` shows the source `file` when it came from there.',
  'ENABLE_REBALANCE_DRAINING=true implies rebalance monitoring (as in NTH); it need not be combined with ENABLE_REBALANCE_MONITORING.',
  "Flags are GNU style (`--node-name=x` or `--node-name x`); Go's single-dash form (`-node-name`) is not accepted. NTH's flags that differ from the env name (`--metadata-url`, `--pod-namespace`, `--grace-period`) are accepted as aliases.",
  'An explicitly empty flag (`--webhook-url=`) clears an optional option (overriding its env var); for other options it is invalid.',
  'WEBHOOK_TEMPLATE_FILE must be readable at startup (NTH only failed when sending the first webhook).',
  'The webhook template (WEBHOOK_TEMPLATE or the file) is compiled and checked at startup when WEBHOOK_URL is set or a template is given: a syntax error, an unknown variable (`{{ .Nope }}`) or a construct outside the supported subset (docs/observability.md) is a configuration error.',
  'WEBHOOK_URL_FILE reads WEBHOOK_URL from a file (a mounted Secret key) once at startup; its content must be an http(s) URL and is never shown; setting both WEBHOOK_URL and WEBHOOK_URL_FILE is an error. NTH\'s chart way (`webhookURLSecretName` → env from a Secret) works as it is.',
  'WEBHOOK_PROXY must be an http:// or https:// URL.',
  'Secrets (WEBHOOK_URL, WEBHOOK_HEADERS values, WEBHOOK_PROXY credentials) are redacted in `spot-guard config`, in logs, and in validation messages (an invalid header JSON is reported by length and syntax position only).',
  'Unknown flags are errors; unknown env vars are ignored (the environment is shared), except the NTH ones listed above, which give a warning.',
  'Invalid configuration exits with code 2 and one line per problem, all problems at once; warnings never stop the agent.',
];

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function code(text: string | undefined): string {
  return text === undefined || text === '' ? '' : `\`${text.replace(/`/g, "'")}\``;
}

export function renderConfigurationMarkdown(): string {
  const out: string[] = [];
  out.push('# Configuration');
  out.push('');
  out.push(
    '<!-- Generated from src/config/options.ts by src/config/render-docs.ts (npx tsx src/config/render-docs.ts). Do not edit by hand; test/config/docs.test.ts checks it. -->',
  );
  out.push('');
  out.push(
    'Every option is an environment variable and a flag with the same name in kebab case (`NODE_TERMINATION_GRACE_PERIOD` ⇄ `--node-termination-grace-period`). NTH users keep their env vars, names and defaults. A flag wins over the env var, which wins over the default. `spot-guard config` prints the effective configuration with the source of each value.',
  );

  const entries = optionEntries();
  for (const group of Object.keys(GROUP_TITLES) as OptionGroup[]) {
    out.push('');
    out.push(`## ${GROUP_TITLES[group]}`);
    out.push('');
    out.push('| Env var | Flag | Default | Allowed | Secret | Description |');
    out.push('|---|---|---|---|---|---|');
    for (const { flag, def } of entries.filter((e) => e.def.group === group)) {
      const dflt = def.required ? '**required**' : def.defaultText !== undefined ? def.defaultText : code(defaultText(def));
      out.push(
        `| ${cell(code(def.env))} | ${cell(code(flag))} | ${cell(dflt)} | ${cell(def.kind.allowed)} | ${def.secret ? REDACTION_TEXT[def.secret] : ''} | ${cell(def.description)} |`,
      );
    }
  }

  out.push('');
  out.push('## NTH spellings accepted as aliases');
  out.push('');
  out.push('| Alias | Of | Note |');
  out.push('|---|---|---|');
  for (const { flag, def } of entries) {
    const note = def.aliases?.deprecated ? 'deprecated in NTH; accepted with a warning' : "NTH's name";
    for (const alias of def.aliases?.flags ?? []) out.push(`| ${code(alias)} | ${code(flag)} | ${note} |`);
    for (const alias of def.aliases?.env ?? []) out.push(`| ${code(alias)} | ${code(def.env)} | ${note} |`);
  }

  out.push('');
  out.push('## NTH queue mode: refused');
  out.push('');
  out.push(`Setting these is an error: ${QUEUE_MODE_MESSAGE}.`);
  out.push('');
  out.push('| Env var | Flag | Refused when |');
  out.push('|---|---|---|');
  for (const r of REFUSED_OPTIONS) {
    out.push(`| ${code(r.env)} | ${code(flagFor(r.env))} | ${r.kind === 'boolean' ? 'true' : 'set (non-empty)'} |`);
  }

  out.push('');
  out.push('## NTH env vars ignored (a warning)');
  out.push('');
  out.push('| Env var | Why |');
  out.push('|---|---|');
  for (const i of IGNORED_NTH_ENV) out.push(`| ${code(i.env)} | ${cell(i.reason)} |`);

  for (const severity of ['error', 'warning'] as const) {
    out.push('');
    out.push(severity === 'error' ? '## Contradictions refused (errors)' : '## Suspicious combinations (warnings)');
    out.push('');
    for (const rule of RULES.filter((r) => r.severity === severity)) out.push(`- ${rule.doc}`);
  }

  out.push('');
  out.push('## Decisions');
  out.push('');
  for (const d of DECISIONS) out.push(`- ${d}`);
  out.push('');
  return out.join('\n');
}

export const CONFIGURATION_DOC_PATH = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(CONFIGURATION_DOC_PATH, renderConfigurationMarkdown());
  console.log(`wrote ${CONFIGURATION_DOC_PATH}`);
}

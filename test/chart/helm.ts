/**
 * `helm template` for charts/spot-guard without a helm binary: Helm's steps, in Helm's order —
 * coalesce the chart's values.yaml with the user's values (maps merge, null deletes a key), validate
 * the result against values.schema.json (JSON Schema draft-07), render every template that does not
 * start with "_" (NOTES.txt is not part of the manifest), split on "---", drop empty documents.
 * The template language is test/chart/go-template.ts; schema validation uses ajv (draft-07).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { TemplateSet } from './go-template.js';

export const CHART_DIR = fileURLToPath(new URL('../../charts/spot-guard/', import.meta.url));
export const RELEASE = { name: 'spot-guard', namespace: 'kube-system' };

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Obj = Record<string, unknown>;

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Helm's chartutil.CoalesceValues: user values win, maps merge recursively, a null deletes the key. */
export function coalesce(defaults: Obj, user: Obj): Obj {
  const out: Obj = { ...defaults };
  for (const [k, v] of Object.entries(user)) {
    if (v === null) delete out[k];
    else if (isObj(v) && isObj(out[k])) out[k] = coalesce(out[k], v);
    else out[k] = v;
  }
  return out;
}

export function chartValues(): Obj {
  return parseYaml(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Obj;
}

export function chartSchema(): Obj {
  return JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as Obj;
}

// ------------------------------------------------------------------------------------------------
// JSON Schema validation: ajv 6 (draft-07). Present in node_modules as eslint's dependency; guarded
// so the schema tests skip with a clear message instead of failing if it ever disappears.

type Validate = ((data: unknown) => boolean) & { errors?: { dataPath?: string; instancePath?: string; message?: string; params?: unknown }[] | null };
const require = createRequire(import.meta.url);

function loadAjv(): { compile(schema: unknown): Validate } | string {
  try {
    const AjvCtor = require('ajv') as new (opts: Obj) => { compile(schema: unknown): Validate };
    return new AjvCtor({ allErrors: true });
  } catch (err) {
    return `ajv (JSON Schema draft-07 validator) is not installed: ${(err as Error).message.split('\n')[0]}`;
  }
}
const ajvOrReason = loadAjv();
export const SCHEMA_SKIP: string | false = typeof ajvOrReason === 'string' ? ajvOrReason : false;
let validator: Validate | undefined;

/** Schema errors of the coalesced values, as "path: message" lines; [] when valid. */
export function schemaErrors(values: Obj): string[] {
  if (typeof ajvOrReason === 'string') throw new Error(ajvOrReason);
  validator ??= ajvOrReason.compile(chartSchema());
  if (validator(values)) return [];
  return (validator.errors ?? []).map((e) => `${e.instancePath ?? e.dataPath ?? ''}: ${e.message ?? ''} ${JSON.stringify(e.params ?? {})}`);
}

export class ValuesError extends Error {}

// ------------------------------------------------------------------------------------------------

export interface Rendered {
  values: Obj;
  objects: K8sObject[];
  /** Rendered text per template file (as `helm template` prints under "# Source:"). */
  files: Map<string, string>;
  notes: string;
}

/** `helm template RELEASE charts/spot-guard -n NAMESPACE -f <user values>`. */
export function renderChart(user: Obj = {}, opts: { validate?: boolean } = {}): Rendered {
  const values = coalesce(chartValues(), user);
  if (opts.validate !== false && !SCHEMA_SKIP) {
    const errs = schemaErrors(values);
    if (errs.length) throw new ValuesError(`values don't meet the specifications of the schema(s):\n${errs.join('\n')}`);
  }
  const chart = parseYaml(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as Obj;
  const data = {
    Values: values,
    Release: { Name: RELEASE.name, Namespace: RELEASE.namespace, Service: 'Helm', IsInstall: true, IsUpgrade: false, Revision: { goInt: 1 } },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion, Description: chart.description },
  };
  const set = new TemplateSet();
  const dir = join(CHART_DIR, 'templates');
  const names = readdirSync(dir).sort();
  for (const n of names) set.add(n, readFileSync(join(dir, n), 'utf8'));
  const files = new Map<string, string>();
  const objects: K8sObject[] = [];
  for (const n of names) {
    if (n.startsWith('_') || n === 'NOTES.txt') continue;
    const text = set.render(n, data);
    files.set(n, text);
    for (const part of text.split(/(?:^|\s*\n)---\s*/)) {
      if (!part.trim()) continue;
      for (const doc of parseAllDocuments(part)) {
        if (doc.errors.length) throw new Error(`${n}: invalid YAML: ${doc.errors[0]!.message}\n${part}`);
        const obj = doc.toJS() as K8sObject | null;
        if (obj) objects.push(obj);
      }
    }
  }
  return { values, objects, files, notes: set.render('NOTES.txt', data) };
}

export function find(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

export function one(objects: K8sObject[], kind: string): K8sObject {
  const found = find(objects, kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0]!;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: Obj;
}

export function podSpec(ds: K8sObject): Obj {
  return ((ds.spec as Obj).template as Obj).spec as Obj;
}

export function container(ds: K8sObject): Obj {
  return (podSpec(ds).containers as Obj[])[0]!;
}

export function envOf(ds: K8sObject): EnvVar[] {
  return container(ds).env as EnvVar[];
}

/** Plain env values (valueFrom ones omitted) as a ProcessEnv, plus the downward API ones filled in. */
export function envMap(ds: K8sObject, downward: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of envOf(ds)) {
    if (e.value !== undefined) out[e.name] = e.value;
    else if (downward[e.name] !== undefined) out[e.name] = downward[e.name]!;
  }
  return out;
}

/** The values files in charts/spot-guard/ci/ (what CI renders). */
export function ciValues(name: string): Obj {
  return (parseYaml(readFileSync(join(CHART_DIR, 'ci', name), 'utf8')) ?? {}) as Obj;
}


/**
 * Label and field selectors, in the string syntax of `?labelSelector=` / `?fieldSelector=` and the
 * structured `LabelSelector` of PDBs and ReplicaSets.
 */
import type { KubeObject, LabelSelector } from './types.js';
import { badRequest } from './status.js';

type Labels = Record<string, string> | undefined;
export type LabelMatcher = (labels: Labels) => boolean;

interface Requirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';
  values: string[];
}

function matchRequirement(r: Requirement, labels: Labels): boolean {
  const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = has ? labels[r.key] : undefined;
  switch (r.op) {
    case 'in':
      return has && r.values.includes(v as string);
    case 'notin':
      return !has || !r.values.includes(v as string);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      if (!has) return false;
      const n = Number(v);
      const bound = Number(r.values[0]);
      if (!Number.isFinite(n)) return false;
      return r.op === 'gt' ? n > bound : n < bound;
    }
  }
}

/** Splits on commas that are not inside `( … )` (the value lists of in/notin). */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

const SET_RE = /^([^\s!=<>()]+)\s+(in|notin)\s*\(([^)]*)\)$/;
const EQ_RE = /^([^\s!=<>()]+)\s*(==|=|!=|>|<)\s*([^\s,()]*)$/;
const EXISTS_RE = /^(!?)\s*([^\s!=<>()]+)$/;

export function parseLabelSelector(selector: string | undefined): LabelMatcher {
  if (!selector || selector.trim() === '') return () => true;
  const reqs: Requirement[] = [];
  for (const part of splitTopLevel(selector)) {
    let m = SET_RE.exec(part);
    if (m) {
      const values = (m[3] ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '');
      reqs.push({ key: m[1] as string, op: m[2] as 'in' | 'notin', values });
      continue;
    }
    m = EQ_RE.exec(part);
    if (m) {
      const key = m[1] as string;
      const value = m[3] ?? '';
      const op = m[2];
      if (op === '!=') reqs.push({ key, op: 'notin', values: [value] });
      else if (op === '>') reqs.push({ key, op: 'gt', values: [value] });
      else if (op === '<') reqs.push({ key, op: 'lt', values: [value] });
      else reqs.push({ key, op: 'in', values: [value] });
      continue;
    }
    m = EXISTS_RE.exec(part);
    if (m) {
      reqs.push({ key: m[2] as string, op: m[1] === '!' ? '!' : 'exists', values: [] });
      continue;
    }
    throw badRequest(`unable to parse requirement: invalid label selector "${selector}"`);
  }
  return (labels) => reqs.every((r) => matchRequirement(r, labels));
}

/**
 * A structured LabelSelector. An empty selector matches everything (as for PDBs in policy/v1);
 * a missing one matches nothing.
 */
export function labelSelectorMatcher(sel: LabelSelector | undefined | null): LabelMatcher {
  if (!sel) return () => false;
  const reqs: Requirement[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) reqs.push({ key, op: 'in', values: [value] });
  for (const e of sel.matchExpressions ?? []) {
    const op = e.operator.toLowerCase();
    if (op === 'in') reqs.push({ key: e.key, op: 'in', values: e.values ?? [] });
    else if (op === 'notin') reqs.push({ key: e.key, op: 'notin', values: e.values ?? [] });
    else if (op === 'exists') reqs.push({ key: e.key, op: 'exists', values: [] });
    else if (op === 'doesnotexist') reqs.push({ key: e.key, op: '!', values: [] });
    else return () => false;
  }
  return (labels) => reqs.every((r) => matchRequirement(r, labels));
}

export type FieldMatcher = (obj: KubeObject) => boolean;

/** Reads a dotted field path (`spec.nodeName`, `involvedObject.kind`); absent fields read as ''. */
export function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[seg];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'object' ? JSON.stringify(cur) : String(cur);
}

/** Splits on a separator not escaped with a backslash; field selector values may escape `,` `=` `\`. */
function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (ch === '\\' && i + 1 < s.length) {
      cur += ch + (s[i + 1] as string);
      i++;
    } else if (ch === sep) {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

export function parseFieldSelector(selector: string | undefined): FieldMatcher {
  if (!selector || selector.trim() === '') return () => true;
  const terms: { path: string; value: string; negate: boolean }[] = [];
  for (const raw of splitUnescaped(selector, ',')) {
    const part = raw.trim();
    if (part === '') continue;
    const m = /^([^=!]+?)\s*(==|!=|=)\s*(.*)$/.exec(part);
    if (!m) throw badRequest(`invalid field selector: "${part}"`);
    terms.push({ path: (m[1] as string).trim(), value: unescape(m[3] ?? ''), negate: m[2] === '!=' });
  }
  return (obj) => terms.every((t) => (fieldValue(obj, t.path) === t.value) !== t.negate);
}

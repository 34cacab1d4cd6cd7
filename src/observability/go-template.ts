/**
 * A small, safe subset of Go's text/template — the language of NTH's WEBHOOK_TEMPLATE — so existing
 * NTH templates keep working unchanged. No code runs: only field access, a few control structures and
 * a fixed set of functions. Anything outside the subset is refused when the template is compiled
 * (at startup), never when a webhook is due.
 *
 * Supported:
 *   text, {{ .Field }}, {{ .Map.key }}, {{ . }}, {{ $ }}, {{ $.Field }}
 *   trim markers {{- and -}} (a space must follow / precede the dash, as in Go)
 *   comments {{/* … *\/}}
 *   {{ if P }} … {{ else if P }} … {{ else }} … {{ end }}, {{ with P }} … {{ else }} … {{ end }},
 *   {{ range P }} … {{ else }} … {{ end }} (dot = the element; variables like $i, $x are not supported)
 *   pipelines P = command | command …; string literals "…" / `…`, integers, true/false
 *   functions: Go's index, len, not, and, or, eq, ne, print, println, js, printf (%s %v %d %q %%);
 *              sprig's join, upper, lower, trim, quote, toJson, default
 * Values print like Go's fmt: lists as [a b], maps as map[k:v] (sorted keys), times as
 * `2006-01-02 15:04:05.999999999 -0700 MST`, a missing map key as <no value>.
 */

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** A time that prints like Go's time.Time.String() in a fixed zone (UTC unless given). */
export class GoTime {
  constructor(
    readonly ms: number,
    readonly zone: string = 'UTC',
  ) {}
  /** Go's zero time (an unset time.Time field). */
  static zero(): GoTime {
    const d = new Date(0);
    d.setUTCFullYear(1, 0, 1);
    return new GoTime(d.getTime(), 'UTC');
  }
  toString(): string {
    const d = new Date(this.ms);
    const pad = (n: number, w = 2) => String(n).padStart(w, '0');
    const year = d.getUTCFullYear();
    const frac = d.getUTCMilliseconds() ? `.${pad(d.getUTCMilliseconds(), 3).replace(/0+$/, '')}` : '';
    return (
      `${pad(year, 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac} +0000 ${this.zone}`
    );
  }
  toJSON(): string {
    return new Date(this.ms).toISOString().replace('.000Z', 'Z');
  }
}

export type TemplateValue = string | number | boolean | GoTime | null | undefined | TemplateValue[] | { [key: string]: TemplateValue };

/** The field types a template may use; anything else is a compile error. */
export type FieldType = 'string' | 'bool' | 'time' | 'list' | 'map';
export type TemplateSchema = Record<string, FieldType>;

// ---------------------------------------------------------------------------------------------
// lexing: text and actions

interface Action {
  body: string;
  /** 1-based line where the action starts, for messages. */
  line: number;
}
type Piece = { text: string } | { action: Action };

function split(src: string): Piece[] {
  const pieces: Piece[] = [];
  let i = 0;
  let trimNextText = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNextText) text = text.replace(/^\s+/, '');
    trimNextText = false;
    if (open < 0) {
      if (text) pieces.push({ text });
      break;
    }
    const line = src.slice(0, open).split('\n').length;
    let start = open + 2;
    if (/^-\s/.test(src.slice(start, start + 2))) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    if (text) pieces.push({ text });
    const close = findClose(src, start, line);
    let end = close;
    if (/\s-$/.test(src.slice(close - 2, close))) {
      end = close - 1;
      trimNextText = true;
    }
    pieces.push({ action: { body: src.slice(start, end).trim(), line } });
    i = close + 2;
  }
  return pieces;
}

/** The `}}` closing an action, skipping over string literals and comments. */
function findClose(src: string, from: number, line: number): number {
  let i = from;
  while (i < src.length) {
    const c = src[i];
    if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new TemplateError(`line ${line}: unclosed comment`);
      i = end + 2;
    } else if (c === '"' || c === '`') {
      i = skipString(src, i, line);
    } else if (src.startsWith('}}', i)) {
      return i;
    } else {
      i++;
    }
  }
  throw new TemplateError(`line ${line}: unclosed action (missing "}}")`);
}

function skipString(src: string, i: number, line: number): number {
  const quote = src[i];
  let j = i + 1;
  while (j < src.length && src[j] !== quote) {
    if (quote === '"' && src[j] === '\\') j++;
    if (quote === '"' && src[j] === '\n') break;
    j++;
  }
  if (src[j] !== quote) throw new TemplateError(`line ${line}: unterminated string literal`);
  return j + 1;
}

// ---------------------------------------------------------------------------------------------
// parsing: actions into tokens, pipelines and a tree

type Operand =
  | { kind: 'field'; root: 'dot' | 'root'; path: string[] }
  | { kind: 'literal'; value: TemplateValue }
  | { kind: 'call'; fn: string; args: Operand[] };
interface Pipeline {
  commands: Operand[];
  line: number;
}
type Node =
  | { type: 'text'; text: string }
  | { type: 'print'; pipe: Pipeline }
  | { type: 'if' | 'with' | 'range'; pipe: Pipeline; body: Node[]; otherwise: Node[] };

const FIELD_RE = /^(\$|\.)?((?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)?$/;

function tokenize(body: string, line: number): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < body.length) {
    const c = body[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === '`') {
      const end = skipString(body, i, line);
      tokens.push(body.slice(i, end));
      i = end;
    } else if (c === '|' || c === '(' || c === ')') {
      tokens.push(c);
      i++;
    } else {
      let j = i;
      while (j < body.length && !/[\s|()"`]/.test(body[j] as string)) j++;
      tokens.push(body.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

function parseLiteral(tok: string, line: number): TemplateValue | undefined {
  if (tok.startsWith('`')) return tok.slice(1, -1);
  if (tok.startsWith('"')) {
    try {
      return JSON.parse(tok) as string;
    } catch {
      throw new TemplateError(`line ${line}: unsupported escape in string literal ${tok}`);
    }
  }
  if (/^-?\d+$/.test(tok)) return Number(tok);
  if (tok === 'true' || tok === 'false') return tok === 'true';
  if (tok === 'nil') return null;
  return undefined;
}

function parseOperand(tok: string, line: number): Operand {
  const lit = parseLiteral(tok, line);
  if (lit !== undefined) return { kind: 'literal', value: lit };
  if (tok === '.') return { kind: 'field', root: 'dot', path: [] };
  if (tok === '$') return { kind: 'field', root: 'root', path: [] };
  if (tok.startsWith('$') && !tok.startsWith('$.')) {
    throw new TemplateError(`line ${line}: template variables (${tok}) are not supported; use . or $ and fields`);
  }
  const m = FIELD_RE.exec(tok);
  if (m && (tok.startsWith('.') || tok.startsWith('$.'))) {
    const root = tok.startsWith('$') ? 'root' : 'dot';
    const path = tok.replace(/^\$/, '').split('.').filter(Boolean);
    return { kind: 'field', root, path };
  }
  throw new TemplateError(`line ${line}: unexpected "${tok}"`);
}

/** command: an operand, or a function with arguments; `(…)` groups are not supported. */
function parseCommand(tokens: string[], line: number): Operand {
  if (tokens.length === 0) throw new TemplateError(`line ${line}: missing value in pipeline`);
  if (tokens.includes('(') || tokens.includes(')')) {
    throw new TemplateError(`line ${line}: parenthesized expressions are not supported`);
  }
  const [head, ...rest] = tokens as [string, ...string[]];
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(head) && parseLiteral(head, line) === undefined) {
    if (!(head in FUNCTIONS)) {
      const hint = KEYWORDS.has(head) ? ` ("${head}" is not supported)` : '';
      throw new TemplateError(`line ${line}: function "${head}" not defined${hint}`);
    }
    return { kind: 'call', fn: head, args: rest.map((t) => parseOperand(t, line)) };
  }
  if (rest.length) {
    throw new TemplateError(`line ${line}: ${head} takes no arguments (method calls such as .StartTime.Format are not supported)`);
  }
  return parseOperand(head, line);
}

function parsePipeline(body: string, line: number): Pipeline {
  const tokens = tokenize(body, line);
  if (tokens.some((t) => t === ':=' || t === '=')) {
    throw new TemplateError(`line ${line}: template variables are not supported`);
  }
  const commands: Operand[] = [];
  let cur: string[] = [];
  for (const t of tokens) {
    if (t === '|') {
      commands.push(parseCommand(cur, line));
      cur = [];
    } else {
      cur.push(t);
    }
  }
  commands.push(parseCommand(cur, line));
  for (const c of commands.slice(1)) {
    if (c.kind !== 'call') throw new TemplateError(`line ${line}: non-function in pipeline after "|"`);
  }
  return { commands, line };
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

function parse(src: string): Node[] {
  const pieces = split(src);
  let pos = 0;
  const parseList = (closers: ReadonlySet<string>): { nodes: Node[]; closer: string; closerAction?: Action } => {
    const nodes: Node[] = [];
    while (pos < pieces.length) {
      const p = pieces[pos++] as Piece;
      if ('text' in p) {
        nodes.push({ type: 'text', text: p.text });
        continue;
      }
      const { body, line } = p.action;
      if (body.startsWith('/*')) {
        if (!body.endsWith('*/')) throw new TemplateError(`line ${line}: a comment must be the whole action`);
        continue;
      }
      const word = /^[a-z]+/.exec(body)?.[0] ?? '';
      if (word === 'end' || word === 'else') {
        if (!closers.has(word)) throw new TemplateError(`line ${line}: unexpected {{ ${word} }}`);
        return { nodes, closer: word, closerAction: p.action };
      }
      if (word === 'if' || word === 'with' || word === 'range') {
        nodes.push(parseBlock(word, body.slice(word.length), line));
        continue;
      }
      if (/^(define|template|block|break|continue)\b/.test(body)) {
        throw new TemplateError(`line ${line}: {{ ${word} }} is not supported`);
      }
      if (body === '') throw new TemplateError(`line ${line}: missing value for command`);
      nodes.push({ type: 'print', pipe: parsePipeline(body, line) });
    }
    if (closers.size) throw new TemplateError(`unexpected end of template: missing {{ end }}`);
    return { nodes, closer: '' };
  };
  const parseBlock = (kind: 'if' | 'with' | 'range', rest: string, line: number): Node => {
    if (!/^\s/.test(rest) || !rest.trim()) throw new TemplateError(`line ${line}: missing value for ${kind}`);
    const pipe = parsePipeline(rest, line);
    const body = parseList(new Set(['end', 'else']));
    let otherwise: Node[] = [];
    if (body.closer === 'else') {
      const elseBody = (body.closerAction as Action).body.slice(4).trim();
      if (elseBody.startsWith('if ') && kind === 'if') {
        // {{ else if P }} … is {{ else }}{{ if P }} … {{ end }}{{ end }} sharing the one {{ end }}.
        otherwise = [parseBlock('if', elseBody.slice(2), (body.closerAction as Action).line)];
      } else {
        if (elseBody) throw new TemplateError(`line ${(body.closerAction as Action).line}: unsupported {{ else ${elseBody} }}`);
        otherwise = parseList(new Set(['end'])).nodes;
      }
    }
    return { type: kind, pipe, body: body.nodes, otherwise };
  };
  return parseList(new Set()).nodes;
}

// ---------------------------------------------------------------------------------------------
// evaluation

/** Go's fmt %v for the values a template sees. */
export function goPrint(v: TemplateValue): string {
  if (v === undefined || v === null) return '<no value>';
  if (Array.isArray(v)) return `[${v.map(goPrint).join(' ')}]`;
  if (v instanceof GoTime) return v.toString();
  if (typeof v === 'object') {
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${goPrint(v[k])}`)
      .join(' ')}]`;
  }
  return String(v);
}

function truthy(v: TemplateValue): boolean {
  if (v === undefined || v === null) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof GoTime) return true;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (ch === '"') out += '\\"';
    else if (ch === '<' || ch === '>' || ch === '&' || ch === '=') out += `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
    else if (code < 0x20) out += `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

function printf(format: TemplateValue, ...args: TemplateValue[]): string {
  if (typeof format !== 'string') throw new TemplateError('printf: the format must be a string');
  let n = 0;
  return format.replace(/%([%svdq])/g, (_, verb: string) => {
    if (verb === '%') return '%';
    const a = args[n++];
    if (verb === 'q') return JSON.stringify(typeof a === 'string' ? a : goPrint(a));
    return goPrint(a);
  });
}

const arity = (fn: string, args: TemplateValue[], min: number, max = min) => {
  if (args.length < min || args.length > max) {
    throw new TemplateError(`wrong number of args for ${fn}: want ${min === max ? min : `${min}-${max}`} got ${args.length}`);
  }
};

const FUNCTIONS: Record<string, (...args: TemplateValue[]) => TemplateValue> = {
  index: (...a) => {
    arity('index', a, 2);
    const [c, k] = a;
    if (Array.isArray(c)) {
      if (typeof k !== 'number' || k < 0 || k >= c.length) throw new TemplateError(`index out of range: ${goPrint(k)}`);
      return c[k];
    }
    if (c && typeof c === 'object' && !(c instanceof GoTime)) return c[goPrint(k)] ?? '';
    throw new TemplateError(`can't index item of type ${typeName(c)}`);
  },
  len: (...a) => {
    arity('len', a, 1);
    const [c] = a;
    if (Array.isArray(c) || typeof c === 'string') return c.length;
    if (c && typeof c === 'object' && !(c instanceof GoTime)) return Object.keys(c).length;
    throw new TemplateError(`len of type ${typeName(c)}`);
  },
  not: (...a) => (arity('not', a, 1), !truthy(a[0])),
  and: (...a) => (arity('and', a, 1, 99), a.find((x) => !truthy(x)) ?? a[a.length - 1]),
  or: (...a) => (arity('or', a, 1, 99), a.find((x) => truthy(x)) ?? a[a.length - 1]),
  eq: (...a) => (arity('eq', a, 2, 99), a.slice(1).some((x) => goPrint(x) === goPrint(a[0]))),
  ne: (...a) => (arity('ne', a, 2), goPrint(a[0]) !== goPrint(a[1])),
  print: (...a) => a.map(goPrint).join(''),
  println: (...a) => `${a.map(goPrint).join(' ')}\n`,
  printf: (...a) => (arity('printf', a, 1, 99), printf(a[0], ...a.slice(1))),
  js: (...a) => jsEscape(a.map(goPrint).join('')),
  // sprig
  join: (...a) => {
    arity('join', a, 2);
    const [sep, list] = a;
    return (Array.isArray(list) ? list.map(goPrint) : [goPrint(list)]).join(goPrint(sep));
  },
  upper: (...a) => (arity('upper', a, 1), goPrint(a[0]).toUpperCase()),
  lower: (...a) => (arity('lower', a, 1), goPrint(a[0]).toLowerCase()),
  trim: (...a) => (arity('trim', a, 1), goPrint(a[0]).trim()),
  quote: (...a) => a.map((x) => JSON.stringify(x === undefined || x === null ? '' : goPrint(x))).join(' '),
  toJson: (...a) => (arity('toJson', a, 1), JSON.stringify(a[0] ?? null)),
  default: (...a) => (arity('default', a, 2), truthy(a[1]) ? a[1] : a[0]),
};

function typeName(v: TemplateValue): string {
  if (v === undefined || v === null) return 'nil';
  if (Array.isArray(v)) return '[]string';
  if (v instanceof GoTime) return 'time.Time';
  if (typeof v === 'object') return 'map';
  return typeof v === 'number' ? 'int' : typeof v;
}

interface Scope {
  dot: TemplateValue;
  root: TemplateValue;
  /** Schema of the root; fields are checked against it. */
  schema: TemplateSchema;
  /** Check mode: every branch is visited, range bodies once with a sample element. */
  check: boolean;
  used: Set<string>;
}

function resolveField(op: Extract<Operand, { kind: 'field' }>, scope: Scope, line: number): TemplateValue {
  let v = op.root === 'root' ? scope.root : scope.dot;
  let isRoot = op.root === 'root' || scope.dot === scope.root;
  for (const name of op.path) {
    if (isRoot) {
      if (!(name in scope.schema)) {
        throw new TemplateError(`line ${line}: can't evaluate field ${name}: not one of ${Object.keys(scope.schema).join(', ')}`);
      }
      scope.used.add(name);
      v = (v as Record<string, TemplateValue>)[name];
      isRoot = false;
      continue;
    }
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof GoTime)) {
      v = v[name];
      continue;
    }
    const hint = v instanceof GoTime ? ' (methods such as .Format are not supported)' : '';
    throw new TemplateError(`line ${line}: can't evaluate field ${name} in type ${typeName(v)}${hint}`);
  }
  return v;
}

function evalOperand(op: Operand, scope: Scope, line: number, piped?: TemplateValue[]): TemplateValue {
  switch (op.kind) {
    case 'literal':
      return op.value;
    case 'field':
      return resolveField(op, scope, line);
    case 'call': {
      const args = [...op.args.map((a) => evalOperand(a, scope, line)), ...(piped ?? [])];
      try {
        return (FUNCTIONS[op.fn] as (...a: TemplateValue[]) => TemplateValue)(...args);
      } catch (err) {
        throw new TemplateError(`line ${line}: error calling ${op.fn}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

function evalPipeline(p: Pipeline, scope: Scope): TemplateValue {
  let v: TemplateValue = undefined;
  p.commands.forEach((c, i) => {
    v = evalOperand(c, scope, p.line, i === 0 ? undefined : [v]);
  });
  return v;
}

function exec(nodes: Node[], scope: Scope, out: string[]): void {
  for (const n of nodes) {
    switch (n.type) {
      case 'text':
        out.push(n.text);
        break;
      case 'print':
        out.push(goPrint(evalPipeline(n.pipe, scope)));
        break;
      case 'if':
      case 'with': {
        const v = evalPipeline(n.pipe, scope);
        const inner = n.type === 'with' ? { ...scope, dot: v } : scope;
        if (scope.check) {
          exec(n.body, inner, out);
          exec(n.otherwise, scope, out);
        } else if (truthy(v)) exec(n.body, inner, out);
        else exec(n.otherwise, scope, out);
        break;
      }
      case 'range': {
        const v = evalPipeline(n.pipe, scope);
        let items: TemplateValue[];
        if (Array.isArray(v)) items = v;
        else if (v && typeof v === 'object' && !(v instanceof GoTime)) items = Object.keys(v).sort().map((k) => v[k]);
        else if (v === undefined || v === null) items = [];
        else throw new TemplateError(`line ${n.pipe.line}: range can't iterate over ${goPrint(v)}`);
        if (scope.check) {
          exec(n.body, { ...scope, dot: items[0] ?? '' }, out);
          exec(n.otherwise, scope, out);
        } else if (items.length === 0) exec(n.otherwise, scope, out);
        else for (const item of items) exec(n.body, { ...scope, dot: item }, out);
        break;
      }
    }
  }
}

export interface CompiledTemplate {
  /** Root fields the template reads (e.g. to fetch pod names only when `.Pods` is used). */
  readonly fields: ReadonlySet<string>;
  render(data: Record<string, TemplateValue>): string;
}

/** A value of each type, for the startup check. */
function sample(t: FieldType): TemplateValue {
  switch (t) {
    case 'string':
      return 'x';
    case 'bool':
      return true;
    case 'time':
      return GoTime.zero();
    case 'list':
      return ['x'];
    case 'map':
      return { x: 'x' };
  }
}

/**
 * Parses `src` and checks every branch against `schema` (unknown fields, wrong use of values,
 * unknown functions): a template that compiles will not fail on its structure later.
 */
export function compileTemplate(src: string, schema: TemplateSchema): CompiledTemplate {
  const nodes = parse(src);
  const used = new Set<string>();
  const probe: Record<string, TemplateValue> = Object.fromEntries(Object.entries(schema).map(([k, t]) => [k, sample(t)]));
  exec(nodes, { dot: probe, root: probe, schema, check: true, used }, []);
  return {
    fields: used,
    render(data) {
      const out: string[] = [];
      exec(nodes, { dot: data, root: data, schema, check: false, used: new Set() }, out);
      return out.join('');
    },
  };
}

/**
 * A renderer for the subset of Go text/template + Sprig + Helm that charts/spot-guard uses, so the
 * chart tests run without a helm binary (none is obtainable here: no Debian package, and the npm
 * packages that claim to ship one download it at install time). See docs/install.md, "Chart tests".
 *
 * Faithful where the chart relies on it, strict everywhere else: an unknown function, an unsupported
 * construct, a field access on nil or a numeric comparison throw instead of guessing. When `helm` is
 * on PATH, test/chart/helm-binary.test.ts renders the same values with it and compares the objects.
 *
 * Semantics reproduced (Go text/template, Helm engine):
 * - `{{-` / `-}}` trim markers (need a space), comments, text/action interleaving;
 * - if / else if / else / with / range (lists in order, maps in sorted key order, `$i, $v :=`),
 *   define / template / include, variables (`$x :=`, `$x =`, `$` = root), parenthesized pipelines;
 * - Go truthiness (false, 0, "", nil, empty list/map are false), `and` / `or` return an argument;
 * - missing map keys are nil and print as "" (Helm's missingkey=zero + "<no value>" stripping);
 *   a field of nil is an error ("nil pointer evaluating interface {}.x"), as in Helm;
 * - numbers from values files are float64 in Helm and print with Go's %v (1e+06 for 1000000).
 */
import { stringify as yamlStringify } from 'yaml';

type Value = unknown;

// ------------------------------------------------------------------------------------------------
// lexing: text and actions

interface TextTok {
  t: 'text';
  s: string;
}
interface ActionTok {
  t: 'action';
  s: string;
  pos: number;
}

function lex(src: string, name: string): (TextTok | ActionTok)[] {
  const out: (TextTok | ActionTok)[] = [];
  let i = 0;
  let trimNextText = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNextText) text = text.replace(/^[ \t\r\n]+/, '');
    trimNextText = false;
    if (open < 0) {
      out.push({ t: 'text', s: text });
      break;
    }
    let start = open + 2;
    const trimLeft = src[start] === '-' && /[ \t\r\n]/.test(src[start + 1] ?? '');
    if (trimLeft) {
      text = text.replace(/[ \t\r\n]+$/, '');
      start += 2;
    }
    out.push({ t: 'text', s: text });
    // find the closing }} outside string literals and comments
    let j = start;
    let inStr: string | null = null;
    for (; j < src.length; j++) {
      const c = src[j];
      if (inStr) {
        if (inStr === '"' && c === '\\') j++;
        else if (c === inStr) inStr = null;
        continue;
      }
      if (src.startsWith('/*', j)) {
        const endC = src.indexOf('*/', j + 2);
        if (endC < 0) throw new Error(`${name}: unclosed comment`);
        j = endC + 1;
        continue;
      }
      if (c === '"' || c === '`') inStr = c;
      else if (src.startsWith('}}', j)) break;
    }
    if (j >= src.length) throw new Error(`${name}: unclosed action at ${open}`);
    let body = src.slice(start, j);
    const end = j + 2;
    if (/[ \t\r\n]-$/.test(body)) {
      body = body.slice(0, -2);
      trimNextText = true;
    }
    out.push({ t: 'action', s: body.trim(), pos: open });
    i = end;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// expression tokens and AST

type Tok =
  | { k: 'str'; v: string }
  | { k: 'num'; v: number; int: boolean }
  | { k: 'bool'; v: boolean }
  | { k: 'nil' }
  | { k: 'ident'; v: string }
  | { k: 'field'; v: string[] } // .A.B ; [] for "."
  | { k: 'var'; v: string; fields: string[] } // $x.A
  | { k: 'pipe' }
  | { k: 'lparen' }
  | { k: 'rparen'; fields: string[] }
  | { k: 'declare' }
  | { k: 'assign' }
  | { k: 'comma' };

function tokenize(s: string, where: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const fieldChain = (): string[] => {
    const fields: string[] = [];
    while (s[i] === '.' && /[A-Za-z_]/.test(s[i + 1] ?? '')) {
      i++;
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i));
      fields.push(m![0]);
      i += m![0].length;
    }
    return fields;
  };
  while (i < s.length) {
    const c = s[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      toks.push({ k: 'str', v: JSON.parse(s.slice(i, j + 1)) as string });
      i = j + 1;
    } else if (c === '`') {
      const j = s.indexOf('`', i + 1);
      toks.push({ k: 'str', v: s.slice(i + 1, j) });
      i = j + 1;
    } else if (c === '|') {
      toks.push({ k: 'pipe' });
      i++;
    } else if (c === '(') {
      toks.push({ k: 'lparen' });
      i++;
    } else if (c === ')') {
      i++;
      toks.push({ k: 'rparen', fields: fieldChain() });
    } else if (c === ',') {
      toks.push({ k: 'comma' });
      i++;
    } else if (s.startsWith(':=', i)) {
      toks.push({ k: 'declare' });
      i += 2;
    } else if (c === '=') {
      toks.push({ k: 'assign' });
      i++;
    } else if (c === '$') {
      const m = /^\$[A-Za-z0-9_]*/.exec(s.slice(i))!;
      i += m[0].length;
      toks.push({ k: 'var', v: m[0], fields: fieldChain() });
    } else if (c === '.') {
      const fields = fieldChain();
      if (fields.length === 0) i++; // "." itself
      toks.push({ k: 'field', v: fields });
    } else if (/[-+0-9]/.test(c)) {
      const m = /^[-+]?[0-9]+(\.[0-9]+)?/.exec(s.slice(i));
      if (!m) throw new Error(`${where}: cannot parse number at "${s.slice(i)}"`);
      toks.push({ k: 'num', v: Number(m[0]), int: !m[1] });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i))!;
      i += m[0].length;
      if (m[0] === 'true' || m[0] === 'false') toks.push({ k: 'bool', v: m[0] === 'true' });
      else if (m[0] === 'nil') toks.push({ k: 'nil' });
      else toks.push({ k: 'ident', v: m[0] });
    } else {
      throw new Error(`${where}: unexpected character ${JSON.stringify(c)} in {{ ${s} }}`);
    }
  }
  return toks;
}

type Operand =
  | { o: 'lit'; v: Value }
  | { o: 'field'; path: string[] }
  | { o: 'var'; name: string; path: string[] }
  | { o: 'sub'; pipe: Pipeline; path: string[] }
  | { o: 'fn'; name: string };

interface Command {
  args: Operand[];
}
interface Pipeline {
  decl?: { names: string[]; assign: boolean };
  cmds: Command[];
}

function parsePipeline(toks: Tok[], where: string): Pipeline {
  let pos = 0;
  const pipe: Pipeline = { cmds: [] };
  // declarations: $x := / $i, $v := / $x =
  const names: string[] = [];
  let p = 0;
  while (toks[p]?.k === 'var' && (toks[p] as { fields: string[] }).fields.length === 0) {
    names.push((toks[p] as { v: string }).v);
    p++;
    if (toks[p]?.k === 'comma') p++;
    else break;
  }
  if (names.length && (toks[p]?.k === 'declare' || toks[p]?.k === 'assign')) {
    pipe.decl = { names, assign: toks[p]!.k === 'assign' };
    pos = p + 1;
  }
  const parseOperand = (): Operand => {
    const t = toks[pos++];
    if (!t) throw new Error(`${where}: missing operand`);
    switch (t.k) {
      case 'str':
      case 'bool':
        return { o: 'lit', v: t.v };
      case 'num':
        return { o: 'lit', v: t.int ? { goInt: t.v } : t.v };
      case 'nil':
        return { o: 'lit', v: null };
      case 'field':
        return { o: 'field', path: t.v };
      case 'var':
        return { o: 'var', name: t.v, path: t.fields };
      case 'ident':
        return { o: 'fn', name: t.v };
      case 'lparen': {
        let depth = 1;
        const startP = pos;
        while (pos < toks.length && depth > 0) {
          const k = toks[pos]!.k;
          if (k === 'lparen') depth++;
          if (k === 'rparen') depth--;
          pos++;
        }
        if (depth !== 0) throw new Error(`${where}: unbalanced parentheses`);
        const close = toks[pos - 1] as { k: 'rparen'; fields: string[] };
        return { o: 'sub', pipe: parsePipeline(toks.slice(startP, pos - 1), where), path: close.fields };
      }
      default:
        throw new Error(`${where}: unexpected token ${t.k}`);
    }
  };
  let cmd: Command = { args: [] };
  while (pos < toks.length) {
    if (toks[pos]!.k === 'pipe') {
      if (!cmd.args.length) throw new Error(`${where}: empty command in pipeline`);
      pipe.cmds.push(cmd);
      cmd = { args: [] };
      pos++;
      continue;
    }
    cmd.args.push(parseOperand());
  }
  if (!cmd.args.length) throw new Error(`${where}: empty pipeline`);
  pipe.cmds.push(cmd);
  return pipe;
}

// ------------------------------------------------------------------------------------------------
// template tree

type Node =
  | { n: 'text'; s: string }
  | { n: 'out'; pipe: Pipeline }
  | { n: 'if' | 'with'; branches: { pipe: Pipeline; body: Node[] }[]; elseBody: Node[] }
  | { n: 'range'; pipe: Pipeline; body: Node[]; elseBody: Node[] }
  | { n: 'template'; name: string; pipe?: Pipeline };

export class TemplateSet {
  readonly defines = new Map<string, Node[]>();
  readonly files = new Map<string, Node[]>();

  add(name: string, src: string): void {
    const toks = lex(src, name);
    let i = 0;
    const where = (t: ActionTok) => `${name}:${src.slice(0, t.pos).split('\n').length}`;
    const parseList = (stopAt: string[]): { body: Node[]; stop: string; tok?: ActionTok } => {
      const body: Node[] = [];
      while (i < toks.length) {
        const t = toks[i++]!;
        if (t.t === 'text') {
          if (t.s) body.push({ n: 'text', s: t.s });
          continue;
        }
        const s = t.s;
        if (s.startsWith('/*')) continue;
        const kw = /^(if|else|end|range|with|define|template|block)\b/.exec(s)?.[1];
        if (kw === 'end' || kw === 'else') {
          if (!stopAt.includes(kw)) throw new Error(`${where(t)}: unexpected {{ ${s} }}`);
          return { body, stop: kw, tok: t };
        }
        if (kw === 'if' || kw === 'with') {
          const node: Node = { n: kw, branches: [], elseBody: [] };
          let cond = s.slice(kw.length);
          for (;;) {
            const part = parseList(['else', 'end']);
            node.branches.push({ pipe: parsePipeline(tokenize(cond, where(t)), where(t)), body: part.body });
            if (part.stop === 'end') break;
            const rest = part.tok!.s.slice(4).trim();
            if (rest.startsWith('if ') && kw === 'if') {
              cond = rest.slice(2);
              continue;
            }
            if (rest) throw new Error(`${where(t)}: unsupported {{ ${part.tok!.s} }}`);
            const el = parseList(['end']);
            node.elseBody = el.body;
            break;
          }
          body.push(node);
        } else if (kw === 'range') {
          const pipe = parsePipeline(tokenize(s.slice(5), where(t)), where(t));
          const part = parseList(['else', 'end']);
          let elseBody: Node[] = [];
          if (part.stop === 'else') elseBody = parseList(['end']).body;
          body.push({ n: 'range', pipe, body: part.body, elseBody });
        } else if (kw === 'define') {
          const m = /^define\s+"([^"]+)"$/.exec(s);
          if (!m) throw new Error(`${where(t)}: bad define`);
          const part = parseList(['end']);
          this.defines.set(m[1]!, part.body);
        } else if (kw === 'template') {
          const m = /^template\s+"([^"]+)"\s*(.*)$/.exec(s);
          if (!m) throw new Error(`${where(t)}: bad template`);
          body.push({ n: 'template', name: m[1]!, ...(m[2] ? { pipe: parsePipeline(tokenize(m[2], where(t)), where(t)) } : {}) });
        } else if (kw === 'block') {
          throw new Error(`${where(t)}: block is not supported`);
        } else {
          body.push({ n: 'out', pipe: parsePipeline(tokenize(s, where(t)), where(t)) });
        }
      }
      if (stopAt.length) throw new Error(`${name}: missing {{ end }}`);
      return { body, stop: '' };
    };
    const { body } = parseList([]);
    this.files.set(name, body);
  }

  render(file: string, data: Value): string {
    const body = this.files.get(file);
    if (!body) throw new Error(`no template ${file}`);
    return this.exec(body, data, new Scope(null, data), file).replace(/<no value>/g, '');
  }

  // ----------------------------------------------------------------------------------------------
  // execution

  private exec(body: Node[], dot: Value, scope: Scope, where: string): string {
    let out = '';
    for (const node of body) {
      switch (node.n) {
        case 'text':
          out += node.s;
          break;
        case 'out': {
          const v = this.evalPipe(node.pipe, dot, scope, where);
          if (!node.pipe.decl) out += printValue(v);
          break;
        }
        case 'if':
        case 'with': {
          let done = false;
          for (const b of node.branches) {
            const inner = new Scope(scope);
            const v = this.evalPipe(b.pipe, dot, inner, where);
            if (truth(v)) {
              out += this.exec(b.body, node.n === 'with' ? v : dot, inner, where);
              done = true;
              break;
            }
          }
          if (!done) out += this.exec(node.elseBody, dot, new Scope(scope), where);
          break;
        }
        case 'range': {
          const inner = new Scope(scope);
          const decl = node.pipe.decl;
          const v = this.evalPipe({ cmds: node.pipe.cmds }, dot, inner, where);
          const items: [Value, Value][] = [];
          if (Array.isArray(v)) v.forEach((e, i) => items.push([{ goInt: i }, e]));
          else if (isMap(v)) for (const k of Object.keys(v).sort()) items.push([k, v[k]]);
          else if (v !== null && v !== undefined) throw new Error(`${where}: range can't iterate over ${printValue(v)}`);
          if (!items.length) {
            out += this.exec(node.elseBody, dot, new Scope(scope), where);
            break;
          }
          for (const [k, e] of items) {
            const iter = new Scope(inner);
            if (decl?.names.length === 1) iter.declare(decl.names[0]!, e);
            if (decl?.names.length === 2) {
              iter.declare(decl.names[0]!, k);
              iter.declare(decl.names[1]!, e);
            }
            out += this.exec(node.body, e, iter, where);
          }
          break;
        }
        case 'template': {
          const arg = node.pipe ? this.evalPipe(node.pipe, dot, scope, where) : null;
          out += this.callDefine(node.name, arg);
          break;
        }
      }
    }
    return out;
  }

  private callDefine(name: string, data: Value): string {
    const body = this.defines.get(name);
    if (!body) throw new Error(`no template "${name}" associated with template`);
    return this.exec(body, data, new Scope(null, data), name);
  }

  private evalPipe(pipe: Pipeline, dot: Value, scope: Scope, where: string): Value {
    let v: Value = undefined;
    let first = true;
    for (const cmd of pipe.cmds) {
      v = this.evalCmd(cmd, dot, scope, where, first ? undefined : { v });
      first = false;
    }
    if (pipe.decl) {
      const name = pipe.decl.names[0]!;
      if (pipe.decl.assign) scope.assign(name, v);
      else scope.declare(name, v);
    }
    return v;
  }

  private evalOperand(op: Operand, dot: Value, scope: Scope, where: string): Value {
    switch (op.o) {
      case 'lit':
        return op.v;
      case 'field':
        return walk(dot, op.path, where);
      case 'var':
        return walk(scope.get(op.name, where), op.path, where);
      case 'sub':
        return walk(this.evalPipe(op.pipe, dot, scope, where), op.path, where);
      case 'fn':
        return this.call(op.name, [], dot, scope, where);
    }
  }

  private evalCmd(cmd: Command, dot: Value, scope: Scope, where: string, piped?: { v: Value }): Value {
    const [head, ...rest] = cmd.args;
    if (head!.o === 'fn') {
      const args = rest.map((a) => () => this.evalOperand(a, dot, scope, where));
      if (piped) args.push(() => piped.v);
      return this.callLazy(head!.name, args, where);
    }
    if (rest.length || piped) throw new Error(`${where}: can't give argument to non-function`);
    return this.evalOperand(head!, dot, scope, where);
  }

  private call(name: string, args: Value[], _dot: Value, _scope: Scope, where: string): Value {
    return this.callLazy(name, args.map((a) => () => a), where);
  }

  private callLazy(name: string, lazy: (() => Value)[], where: string): Value {
    if (name === 'and' || name === 'or') {
      if (lazy.length < 1) throw new Error(`${where}: ${name} needs arguments`);
      let v: Value;
      for (const f of lazy) {
        v = f();
        if (name === 'and' ? !truth(v) : truth(v)) return v;
      }
      return v;
    }
    const args = lazy.map((f) => f());
    const fn = FUNCS[name] ?? (name === 'include' ? (n: Value, d: Value) => this.callDefine(String(n), d) : undefined);
    if (!fn) throw new Error(`${where}: function "${name}" not supported by the test renderer (add it to test/chart/go-template.ts faithfully, or avoid it)`);
    return fn(...args);
  }
}

class Scope {
  private readonly vars = new Map<string, Value>();
  constructor(
    private readonly parent: Scope | null,
    root?: Value,
  ) {
    if (!parent) this.vars.set('$', root);
  }
  declare(name: string, v: Value): void {
    this.vars.set(name, v);
  }
  assign(name: string, v: Value): void {
    const owner = this.owner(name);
    if (!owner) throw new Error(`undefined variable: ${name}`);
    owner.vars.set(name, v);
  }
  get(name: string, where: string): Value {
    const owner = this.owner(name);
    if (!owner) throw new Error(`${where}: undefined variable: ${name}`);
    return owner.vars.get(name);
  }
  private owner(name: string): Scope | null {
    return this.vars.has(name) ? this : (this.parent?.owner(name) ?? null);
  }
}

// ------------------------------------------------------------------------------------------------
// values

function isMap(v: Value): v is Record<string, Value> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isGoInt(v);
}
function isGoInt(v: Value): v is { goInt: number } {
  return typeof v === 'object' && v !== null && 'goInt' in v && Object.keys(v).length === 1;
}

function walk(v: Value, path: string[], where: string): Value {
  let cur = v;
  for (const f of path) {
    if (cur === null || cur === undefined) throw new Error(`${where}: nil pointer evaluating interface {}.${f}`);
    if (!isMap(cur)) throw new Error(`${where}: can't evaluate field ${f} in type ${typeof cur}`);
    cur = Object.prototype.hasOwnProperty.call(cur, f) ? cur[f] : undefined;
  }
  return cur;
}

export function truth(v: Value): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (isGoInt(v)) return v.goInt !== 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

/**
 * Go's %v for a float64 (what Helm's values numbers are): strconv 'g' with the shortest precision,
 * which switches to an exponent when it is < -4 or >= 6 — hence Helm's famous 1000000 → 1e+06.
 */
function goFloat(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : x < 0 ? '-Inf' : 'NaN';
  if (x === 0) return '0';
  const [mant, expS] = x.toExponential().split('e');
  const exp = Number(expS);
  if (exp < -4 || exp >= 6) {
    const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : String(Math.abs(exp));
    return `${mant}e${exp < 0 ? '-' : '+'}${e}`;
  }
  return String(x);
}

export function printValue(v: Value): string {
  if (v === null || v === undefined) return '<no value>';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return goFloat(v);
  if (isGoInt(v)) return String(v.goInt);
  if (Array.isArray(v)) return `[${v.map(printValue).join(' ')}]`;
  if (isMap(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${printValue(v[k])}`).join(' ')}]`;
  return String(v);
}

function strval(v: Value): string {
  return v === null || v === undefined ? '' : printValue(v);
}

function toPlain(v: Value): Value {
  if (isGoInt(v)) return v.goInt;
  if (Array.isArray(v)) return v.map(toPlain);
  if (isMap(v)) return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, toPlain(e)]));
  return v;
}

/** Helm's toYaml: sigs.k8s.io/yaml (JSON → YAML): keys sorted, trailing newline removed. */
function toYaml(v: Value): string {
  const plain = toPlain(v);
  if (plain === undefined || plain === null) return 'null';
  return yamlStringify(plain, { sortMapEntries: true, lineWidth: 0 }).replace(/\n$/, '');
}

function goQuote(s: string): string {
  return JSON.stringify(s);
}

function empty(v: Value): boolean {
  return !truth(v);
}

function requireString(fn: string, v: Value): string {
  if (typeof v !== 'string') throw new Error(`${fn}: expected a string, got ${printValue(v)}`);
  return v;
}

function intArg(fn: string, v: Value): number {
  if (isGoInt(v)) return v.goInt;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new Error(`${fn}: expected an integer, got ${printValue(v)}`);
}

function compareBasic(fn: string, a: Value, b: Value): boolean {
  if (typeof a === 'number' || typeof b === 'number' || isGoInt(a) || isGoInt(b)) {
    throw new Error(`${fn}: numeric comparisons are not supported by the test renderer (Helm mixes int and float64)`);
  }
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  if (typeof a !== typeof b) throw new Error(`${fn}: incompatible types for comparison`);
  if (typeof a === 'object') throw new Error(`${fn}: non-comparable type`);
  return a === b;
}

function printf(format: string, ...args: Value[]): string {
  let i = 0;
  return format.replace(/%([-+# 0]*\d*)([svdqt%])/g, (_m, flags: string, verb: string) => {
    if (verb === '%') return '%';
    if (flags) throw new Error(`printf: flags "${flags}" are not supported by the test renderer`);
    const a = args[i++];
    switch (verb) {
      case 's':
      case 'v':
      case 't':
        return a === null || a === undefined ? '%!' + verb + '(<nil>)' : printValue(a);
      case 'd':
        if (isGoInt(a)) return String(a.goInt);
        return `%!d(float64=${printValue(a)})`;
      case 'q':
        return goQuote(strval(a));
      default:
        throw new Error(`printf: %${verb}`);
    }
  });
}

const FUNCS: Record<string, (...args: Value[]) => Value> = {
  // Go text/template builtins
  not: (v) => !truth(v),
  eq: (a, ...bs) => bs.some((b) => compareBasic('eq', a, b)),
  ne: (a, b) => !compareBasic('ne', a, b),
  len: (v) => {
    if (typeof v === 'string' || Array.isArray(v)) return { goInt: v.length };
    if (isMap(v)) return { goInt: Object.keys(v).length };
    throw new Error(`len of ${printValue(v)}`);
  },
  printf: (f, ...args) => printf(requireString('printf', f), ...args),
  print: (...args) => args.map(strval).join(''),
  // Sprig
  default: (d, v) => (empty(v) ? d : v),
  empty: (v) => empty(v),
  quote: (...args) => args.filter((a) => a !== null && a !== undefined).map((a) => goQuote(strval(a))).join(' '),
  toString: (v: Value) => strval(v),
  trunc: (n, s) => {
    const c = intArg('trunc', n);
    const str = strval(s);
    if (c < 0 && str.length + c > 0) return str.slice(str.length + c);
    if (c >= 0 && str.length > c) return str.slice(0, c);
    return str;
  },
  trimSuffix: (suffix, s) => {
    const str = strval(s);
    const suf = strval(suffix);
    return suf && str.endsWith(suf) ? str.slice(0, -suf.length) : str;
  },
  replace: (old, neu, s) => strval(s).split(strval(old)).join(strval(neu)),
  lower: (s) => strval(s).toLowerCase(),
  contains: (sub, s) => strval(s).includes(strval(sub)),
  hasKey: (m, k) => isMap(m) && Object.prototype.hasOwnProperty.call(m, strval(k)),
  indent: (n, s) => {
    const pad = ' '.repeat(intArg('indent', n));
    return pad + strval(s).split('\n').join('\n' + pad);
  },
  nindent: (n, s) => {
    const pad = ' '.repeat(intArg('nindent', n));
    return '\n' + pad + strval(s).split('\n').join('\n' + pad);
  },
  join: (sep, list) => {
    if (!Array.isArray(list)) throw new Error('join: not a list');
    return list.map(strval).join(strval(sep));
  },
  list: (...args) => args,
  fail: (msg) => {
    throw new Error(`execution error: fail: ${strval(msg)}`);
  },
  // Helm
  toYaml: (v) => toYaml(v),
  required: (msg, v) => {
    if (v === null || v === undefined || v === '') throw new Error(`execution error: ${strval(msg)}`);
    return v;
  },
};

export const SUPPORTED_FUNCTIONS = [...Object.keys(FUNCS), 'include', 'and', 'or'].sort();

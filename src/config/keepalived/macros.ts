// The macro expander of the keepalived lexer: `@` conditional lines (G11), `$` parameters with
// their multi-line definitions and pre-defined names (G12), and ~SEQ / ~LST expansion (G13).
// Expansions that yield further lines push them onto the source stack.
import type { SourceLoc } from '../diagnostics.js';
import { MAX_LINE, MAX_STEPS, MAX_SUBST_PASSES, type LexReport, type Unit } from './lex-types.js';
import { endsWithContinuation, isBlank, LStr, skipBlanks, skipWhite } from './located-string.js';
import type { SourceStack } from './source.js';
import { decommentLocated } from './tokenizer.js';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Def {
  lines: string[];
  multiline: boolean;
}

export interface MacroOptions {
  configId: string;
  env: Record<string, string | undefined>;
  random: () => number;
}

export class MacroExpander {
  private readonly defs = new Map<string, Def>();
  /** A `$NAME=…\` definition still collecting its lines. */
  private pending: { name: string; def: Def } | undefined;

  constructor(
    private readonly opts: MacroOptions,
    private readonly report: LexReport,
    private readonly sources: SourceStack,
  ) {}

  /** True while a multi-line definition takes the following lines. */
  get collecting(): boolean {
    return this.pending !== undefined;
  }

  // --- multi-line definitions ------------------------------------------------------------------

  /** Collect the lines of a `$NAME=...\` definition (G12). An empty line ends it, as in keepalived. */
  accumulate(u: Unit): void {
    const pend = this.pending;
    if (!pend) return;
    const t = u.text.s;
    if (t.length === 0) {
      this.finishPending();
      return;
    }
    if (endsWithContinuation(t)) {
      const body = t.slice(0, -1).replace(/[ \t]+$/, '');
      if (body.length > 0) pend.def.lines.push(body);
      return;
    }
    pend.def.lines.push(t);
    this.finishPending();
  }

  finishPending(): void {
    const pend = this.pending;
    this.pending = undefined;
    if (pend && pend.def.lines.length === 0) {
      pend.def.lines = [''];
      pend.def.multiline = false;
    }
  }

  // --- per-line processing ----------------------------------------------------------------------

  /**
   * Applies `@` conditionals, `$` definitions and substitution, and ~SEQ/~LST to one line.
   * Returns false when the line was consumed (dropped, a definition, or a sequence queued);
   * true when its text, now expanded, goes on to include handling and tokenizing.
   */
  expand(u: Unit): boolean {
    if (u.text.length === 0) return false;
    let passes = 0;
    const warned = { multiline: false };
    for (;;) {
      if (++passes > MAX_SUBST_PASSES) {
        this.report.diag('error', this.report.locOf(u), `parameter substitution did not settle after ${MAX_SUBST_PASSES} passes (recursive definition?)`);
        u.substStop = true;
        break;
      }
      const s = u.text.s;
      if (s.startsWith('@')) {
        if (!this.conditional(u)) return false;
        continue;
      }
      if (s.startsWith('$') && this.definition(u)) return false;
      if (s.startsWith('~SEQ') || s.startsWith('~LST')) {
        this.sequence(u);
        return false;
      }
      // keepalived leaves any other line starting with '~' alone.
      if (s.startsWith('~')) break;
      if (!s.includes('$') || u.substStop) break;
      if (!this.substitute(u, warned)) break;
      // keepalived removes comments again after a substitution: `${_HASH} line` is a comment
      u.text = decommentLocated(u.text);
      if (u.text.length === 0) return false;
    }
    return true;
  }

  /** `@ID rest` / `@^ID rest` (G11). Returns false when the line is dropped. */
  private conditional(u: Unit): boolean {
    const s = u.text.s;
    const neg = s[1] === '^';
    const start = neg ? 2 : 1;
    let end = start;
    while (end < s.length && !isBlank(s.charCodeAt(end))) end++;
    // Nothing after the id: keepalived drops the line whatever the id.
    if (end >= s.length) return false;
    const id = s.slice(start, end);
    const matches = id === this.opts.configId;
    if (matches === neg) return false;
    u.text = u.text.slice(end).trim();
    u.transformed = true;
    return u.text.length > 0;
  }

  /** `$NAME=VALUE` (G12): no blank before '=', value left-trimmed, trailing '\' continues. */
  private definition(u: Unit): boolean {
    const m = /^\$([A-Za-z_][A-Za-z0-9_]*)=/.exec(u.text.s);
    if (!m || m[1] === undefined) return false;
    const name = m[1];
    if (name.startsWith('_') && !this.defs.has(name)) {
      this.report.diag('warning', this.report.locOf(u), `parameter name '${name}' starts with '_', which is reserved for keepalived's pre-defined names`);
    }
    const value = u.text.s.slice(m[0].length).replace(/^[ \t]+/, '');
    const def: Def = { lines: [], multiline: false };
    if (endsWithContinuation(value)) {
      const first = value.slice(0, -1).replace(/[ \t]+$/, '');
      if (first.length > 0) def.lines.push(first);
      def.multiline = true;
      this.pending = { name, def };
    } else {
      def.lines.push(value);
    }
    this.defs.set(name, def);
    return true;
  }

  /**
   * One substitution pass over the line (G12). Replaced text is not rescanned in the same pass;
   * the caller repeats passes until nothing changes, which gives use-time recursive substitution
   * with a bound. Returns true if anything was replaced.
   */
  private substitute(u: Unit, warned: { multiline: boolean }): boolean {
    let text = u.text;
    let i = 0;
    let replaced = false;
    for (;;) {
      const s = text.s;
      const j = s.indexOf('$', i);
      if (j < 0 || j >= s.length - 1) break;
      const ref = matchRef(s, j);
      if (!ref) {
        i = j + 1;
        continue;
      }
      const atEnd = ref.end === s.length;
      const col = text.colAt(j);
      const loc = { file: u.ctx.file, line: u.line, col };
      let value: string | undefined;
      let rest: string[] = [];
      const def = this.defs.get(ref.name);
      if (def) {
        if (ref.params !== undefined) value = undefined;
        else if (def.multiline && !atEnd) {
          if (!warned.multiline) {
            this.report.diag('warning', loc, `multi-line parameter '${ref.name}' must be the last thing on a line; left unexpanded`);
            warned.multiline = true;
          }
        } else {
          value = def.lines[0] ?? '';
          if (def.multiline) rest = def.lines.slice(1);
        }
      } else {
        value = this.builtin(ref.name, ref.params, u, loc);
      }
      if (value === undefined) {
        i = j + 1;
        continue;
      }
      const next = LStr.concat([text.slice(0, j), LStr.uniform(value, col), text.slice(ref.end)]);
      if (next.length > MAX_LINE) {
        this.report.diag('error', loc, `parameter substitution would make the line longer than ${MAX_LINE} characters; substitution stopped`);
        // Keep what we have; the outer loop stops because nothing further is replaced.
        u.text = text.trim();
        u.substStop = true;
        return false;
      }
      text = next;
      replaced = true;
      u.transformed = true;
      if (rest.length > 0) {
        this.sources.push({ kind: 'lines', lines: rest, idx: 0, ctx: u.ctx, line: u.line, col }, u);
      }
      i = j + value.length;
      // A value that starts a ~SEQ/~LST must be expanded before anything else on the line.
      if (value.replace(/^[ \t]+/, '').startsWith('~')) break;
    }
    u.text = text.trim();
    return replaced;
  }

  /** Pre-defined parameters (G12). undefined means "not a known name: leave verbatim". */
  private builtin(name: string, params: string | undefined, u: Unit, loc: SourceLoc): string | undefined {
    switch (name) {
      case '_PWD':
        return params === undefined ? u.ctx.dir : undefined;
      case '_INSTANCE':
        return params === undefined ? this.opts.configId : undefined;
      case '_HASH':
        return params === undefined ? '#' : undefined;
      case '_BANG':
        return params === undefined ? '!' : undefined;
      case '_RANDOM': {
        let min = 0;
        let max = 32767;
        if (params !== undefined) {
          if (!/^[0-9 ]+$/.test(params)) return undefined;
          const nums = params.trim().split(/ +/).map((n) => Number(n));
          if (nums.length > 2) this.report.diag('warning', loc, `too many parameters for \${_RANDOM ${params}}; using the first two`);
          min = nums[0] ?? 0;
          if (nums.length > 1) max = nums[1] ?? max;
        }
        if (max < min) {
          this.report.diag('warning', loc, `\${_RANDOM ${params ?? ''}}: MAX is less than MIN; using MIN`);
          max = min;
        }
        const r = this.opts.random();
        const frac = Number.isFinite(r) ? Math.min(Math.max(r, 0), 0.9999999999999999) : 0;
        return String(min + Math.floor(frac * (max - min + 1)));
      }
      case '_ENV': {
        if (params === undefined || !NAME_RE.test(params)) return undefined;
        const v = this.opts.env[params];
        if (v === undefined) {
          this.report.diag('warning', loc, `\${_ENV ${params}}: environment variable ${params} is not set; using an empty string`);
          return '';
        }
        return v;
      }
      default:
        return undefined;
    }
  }

  /** Substitute single-line parameters inside a ~SEQ/~LST argument list. */
  private substituteArgs(args: string, u: Unit): string | undefined {
    if (!args.includes('$')) return args;
    const tmp: Unit = { text: LStr.uniform(args, u.text.colAt(0)), line: u.line, ctx: u.ctx, transformed: false };
    const warned = { multiline: false };
    for (let pass = 0; pass < MAX_SUBST_PASSES; pass++) {
      const depth = this.sources.depth;
      const changed = this.substitute(tmp, warned);
      if (this.sources.depth !== depth) {
        // A multi-line parameter cannot supply sequence arguments; undo its queued lines.
        this.sources.truncate(depth);
        return undefined;
      }
      if (!changed) break;
    }
    return tmp.text.s;
  }

  /** `~SEQ(var, [start,] [step,] end) rest`, `~SEQx(...)` and `~LST(...)` (G13). */
  private sequence(u: Unit): void {
    const s = u.text.s;
    const isLst = s.startsWith('~LST');
    const spec = isLst ? this.parseLst(u) : this.parseSeq(u);
    if (!spec) return;
    const bodyStart = skipBlanks(s, spec.close + 1);
    const body = u.text.slice(bodyStart);
    if (body.length === 0) return;
    const { vars, next } = spec;
    const step = (): boolean => {
      const values = next();
      if (!values) return false;
      vars.forEach((v, i) => this.defs.set(v, { lines: [values[i] ?? ''], multiline: false }));
      return true;
    };
    this.sources.push({ kind: 'seq', step, body, ctx: u.ctx, line: u.line }, u);
  }

  private parseSeq(u: Unit): { vars: string[]; next: () => string[] | undefined; close: number } | undefined {
    const s = u.text.s;
    const bad = (why: string): undefined => {
      this.report.diag('error', this.report.locOf(u), `invalid ~SEQ specification '${s}': ${why}`);
      return undefined;
    };
    let p = 4;
    const hex = s[p] === 'x';
    if (hex) p++;
    p = skipBlanks(s, p);
    if (s[p] !== '(') return bad("expected '('");
    const close = s.indexOf(')', p);
    if (close < 0) return bad("missing ')'");
    const args = this.substituteArgs(s.slice(p + 1, close), u);
    if (args === undefined) return bad('a multi-line parameter cannot be used in the arguments');
    const parts = args.split(',').map((a) => a.trim());
    const name = parts.shift() ?? '';
    if (!NAME_RE.test(name)) return bad(`'${name}' is not a valid variable name`);
    if (parts.length < 1 || parts.length > 3) return bad('expected 1 to 3 numbers after the variable');
    const nums: number[] = [];
    for (const part of parts) {
      const n = parseCInteger(part);
      if (n === undefined) return bad(`'${part}' is not an integer`);
      nums.push(n);
    }
    let start: number;
    let step: number;
    let end: number;
    if (nums.length === 1) {
      end = nums[0] ?? 0;
      step = end < 1 ? -1 : 1;
      start = end < 0 ? -1 : 1;
    } else if (nums.length === 2) {
      start = nums[0] ?? 0;
      end = nums[1] ?? 0;
      step = start <= end ? 1 : -1;
    } else {
      start = nums[0] ?? 0;
      step = nums[1] ?? 0;
      end = nums[2] ?? 0;
      if (step === 0 || (start < end && step < 0) || (start > end && step > 0)) {
        return bad('the step is zero or goes the wrong way');
      }
    }
    if (hex && (start < 0 || end < 0)) return bad('~SEQx is only valid for non-negative numbers');
    const count = Math.floor((end - start) / step) + 1;
    if (!Number.isSafeInteger(count) || count > MAX_STEPS) {
      return bad(`it would produce ${count} iterations (limit ${MAX_STEPS})`);
    }
    let k = 0;
    const next = (): string[] | undefined => {
      if (k >= count) return undefined;
      const v = start + k * step;
      k++;
      return [hex ? v.toString(16) : String(v)];
    };
    return { vars: [name], next, close };
  }

  private parseLst(u: Unit): { vars: string[]; next: () => string[] | undefined; close: number } | undefined {
    const s = u.text.s;
    const bad = (why: string): undefined => {
      this.report.diag('error', this.report.locOf(u), `invalid ~LST specification '${s}': ${why}`);
      return undefined;
    };
    let p = skipBlanks(s, 4);
    if (s[p] !== '(') return bad("expected '('");
    const close = s.indexOf(')', p);
    if (close < 0) return bad("missing ')'");
    const args = this.substituteArgs(s.slice(p + 1, close), u);
    if (args === undefined) return bad('a multi-line parameter cannot be used in the arguments');

    // Split into top-level items: either plain words or {a,b,...} groups.
    const items: string[][] = [];
    p = 0;
    for (;;) {
      p = skipWhite(args, p);
      if (args[p] === '{') {
        const e = args.indexOf('}', p);
        if (e < 0) return bad("missing '}'");
        items.push(args.slice(p + 1, e).split(',').map((x) => x.trim()));
        p = skipWhite(args, e + 1);
      } else {
        let e = args.indexOf(',', p);
        if (e < 0) e = args.length;
        items.push([args.slice(p, e).trim()]);
        p = e;
      }
      if (p >= args.length) break;
      if (args[p] !== ',') return bad(`unexpected '${args[p] ?? ''}'`);
      p++;
    }
    const vars = items.shift() ?? [];
    for (const v of vars) if (!NAME_RE.test(v)) return bad(`'${v}' is not a valid variable name`);
    if (items.length === 0) return bad('no values given');
    for (const item of items) {
      for (const v of item) if (/[ \t]/.test(v)) return bad(`value '${v}' contains whitespace`);
      if (item.length > vars.length) return bad(`{${item.join(',')}} has more values than variables`);
      if (item.length < vars.length) {
        this.report.diag('warning', this.report.locOf(u), `~LST value group {${item.join(',')}} has fewer values than variables; the missing ones are empty`);
      }
    }
    let k = 0;
    const next = (): string[] | undefined => items[k++];
    return { vars, next, close };
  }
}

/**
 * A parameter reference at s[j] === '$': `${NAME}`, `${NAME params}` (for _RANDOM / _ENV), or
 * `$NAME` followed by a blank, ',' , ')' or the end of the line.
 */
function matchRef(s: string, j: number): { name: string; params: string | undefined; end: number } | undefined {
  let k = j + 1;
  const braces = s[k] === '{';
  if (braces) k++;
  const c0 = s[k];
  if (c0 === undefined || !/[A-Za-z_]/.test(c0)) return undefined;
  const start = k;
  while (k < s.length && /[A-Za-z0-9_]/.test(s[k] ?? '')) k++;
  const name = s.slice(start, k);
  if (braces) {
    const close = s.indexOf('}', k);
    if (close < 0) return undefined;
    if (close === k) return { name, params: undefined, end: k + 1 };
    const inner = s.slice(k, close);
    // Parameters must follow a space and must not end with one.
    if (!/^ +\S(.*\S)?$/.test(inner)) return undefined;
    return { name, params: inner.trim(), end: close + 1 };
  }
  const nx = s[k];
  if (nx !== undefined && nx !== ' ' && nx !== '\t' && nx !== ',' && nx !== ')') return undefined;
  return { name, params: undefined, end: k };
}

/** strtol(…, 0) style: optional sign, 0x hex, leading-0 octal, decimal. Empty means 0. */
function parseCInteger(text: string): number | undefined {
  const t = text.trim();
  if (t === '') return 0;
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(t);
  if (!m) return undefined;
  const digits = m[2] ?? '0';
  let v: number;
  if (/^0[xX]/.test(digits)) v = parseInt(digits.slice(2), 16);
  else if (digits.length > 1 && digits.startsWith('0')) v = parseInt(digits.slice(1), 8);
  else v = parseInt(digits, 10);
  if (m[1] === '-') v = -v;
  return Number.isSafeInteger(v) ? v : undefined;
}

/**
 * keepalived.conf lexer / preprocessor.
 *
 * Turns a keepalived configuration (plus everything it includes) into a flat list of
 * logical lines, applying the same preprocessing keepalived does before keyword parsing:
 * comments (G2), brace splitting (G3), quoting (G7), includes (G10), `@` conditionals (G11),
 * `$` parameters (G12) and `~SEQ`/`~LST` expansion (G13). The rules, by these ids, are in
 * docs/keepalived.md §1.
 *
 * Nothing in here throws except ConfigSyntaxError for an unusable top-level file; every other
 * problem becomes a located Diagnostic and lexing carries on, as keepalived does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { globSync } from 'tinyglobby';

export interface SourceLoc {
  file: string;
  line: number;
  col: number;
}

export interface Token {
  text: string;
  loc: SourceLoc;
  quoted: boolean;
}

export interface LogicalLine {
  tokens: Token[];
  raw: string;
  rawCol: number;
  loc: SourceLoc;
}

export interface Diagnostic {
  severity: 'error' | 'warning';
  loc: SourceLoc;
  message: string;
}

export class ConfigSyntaxError extends Error {
  constructor(
    message: string,
    public readonly loc: SourceLoc,
  ) {
    super(message);
    this.name = 'ConfigSyntaxError';
  }
}

export interface LexOptions {
  configId: string;
  readFile?: (path: string) => string;
  glob?: (pattern: string, cwd: string) => string[];
  env?: Record<string, string | undefined>;
  random?: () => number;
}

export interface LexResult {
  lines: LogicalLine[];
  diagnostics: Diagnostic[];
  files: string[];
}

// ---------------------------------------------------------------------------------------------
// Limits

/** keepalived reads lines into a 1024-byte buffer (MAXBUF), so 1023 characters is the maximum. */
const MAX_LINE = 1023;
const MAX_INCLUDE_DEPTH = 32;
/** Safety caps so recursive parameters or huge ~SEQ ranges cannot hang or exhaust memory. */
const MAX_LINES = 1_000_000;
const MAX_BYTES = 50 * 1024 * 1024;
const MAX_STEPS = 3_000_000;
const MAX_NESTED_EXPANSIONS = 10_000;
const MAX_SUBST_PASSES = 64;
const MAX_DIAGNOSTICS = 10_000;
const MAX_BRACE_ALTERNATIVES = 1024;
const BINARY_SNIFF = 8192;

const INCLUDE_KEYWORDS = new Set(['include', 'includer', 'includem', 'includew', 'includeb', 'includea']);
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

// ---------------------------------------------------------------------------------------------
// Located strings: text plus the source column of every character, so that tokens keep their
// real columns through comment removal, `@` stripping, substitution and brace splitting.

class LStr {
  /**
   * `cols` is one column shared by every character (expanded text), a Consecutive run (the
   * usual case: a line as written, character i at column first + i) or one column per character.
   */
  constructor(
    readonly s: string,
    private readonly cols: Int32Array | Consecutive | number,
  ) {}

  static uniform(s: string, col: number): LStr {
    return new LStr(s, col);
  }

  get length(): number {
    return this.s.length;
  }

  colAt(i: number): number {
    const c = this.cols;
    if (typeof c === 'number') return c;
    if (c instanceof Consecutive) return this.s.length === 0 ? 1 : c.first + Math.max(0, Math.min(i, this.s.length - 1));
    if (c.length === 0) return 1;
    const v = c[Math.max(0, Math.min(i, c.length - 1))];
    return v ?? 1;
  }

  slice(a: number, b: number = this.s.length): LStr {
    const c = this.cols;
    if (typeof c === 'number') return new LStr(this.s.slice(a, b), c);
    if (c instanceof Consecutive) return new LStr(this.s.slice(a, b), new Consecutive(c.first + Math.max(0, Math.min(a, this.s.length))));
    return new LStr(this.s.slice(a, b), c.subarray(a, Math.max(a, b)));
  }

  /** Trim spaces and tabs at both ends (keepalived only treats these as blanks here). */
  trim(): LStr {
    let a = 0;
    let b = this.s.length;
    while (a < b && isBlank(this.s.charCodeAt(a))) a++;
    while (b > a && isBlank(this.s.charCodeAt(b - 1))) b--;
    return a === 0 && b === this.s.length ? this : this.slice(a, b);
  }

  static concat(parts: LStr[]): LStr {
    const first = parts[0];
    if (parts.length === 1 && first) return first;
    let text = '';
    let uniformCol: number | undefined;
    let isUniform = true;
    for (const p of parts) {
      text += p.s;
      if (p.length === 0) continue;
      if (typeof p.cols !== 'number') isUniform = false;
      else if (uniformCol === undefined) uniformCol = p.cols;
      else if (uniformCol !== p.cols) isUniform = false;
    }
    if (isUniform) return new LStr(text, uniformCol ?? 1);
    const cols = new Int32Array(text.length);
    let o = 0;
    for (const p of parts) {
      for (let i = 0; i < p.length; i++) cols[o++] = p.colAt(i);
    }
    return new LStr(text, cols);
  }
}

/** Columns first, first + 1, …: a line's text kept as written needs no per-character table. */
class Consecutive {
  constructor(readonly first: number) {}
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Token separators of keepalived's general tokeniser (space, tab, \f, \n, \r, \v). */
function isWhite(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\f' || ch === '\n' || ch === '\r' || ch === '\v';
}

// ---------------------------------------------------------------------------------------------
// Internal state types

interface IncludeChecks {
  readable: boolean;
  match: boolean;
  wildcard: boolean;
  brace: boolean;
}

/** Per-file context: what relative includes and ${_PWD} resolve against. */
interface FileCtx {
  file: string;
  dir: string;
  /** Files from the top down to this one, for the include-cycle guard. */
  chain: string[];
  /** include_check setting, saved per file (an included file cannot change its includer's). */
  checks: IncludeChecks;
}

/** One line of text on its way through the preprocessor. */
interface Unit {
  text: LStr;
  line: number;
  ctx: FileCtx;
  /** Set once `@` stripping or substitution changed the text (used for the include warning). */
  transformed: boolean;
  /**
   * Set when substitution on this line hit a limit; the re-read remainders of the line then
   * skip substitution, or the leftover references would expand again without end.
   */
  substStop?: boolean;
}

interface Def {
  lines: string[];
  multiline: boolean;
}

interface FileSrc {
  kind: 'file';
  ctx: FileCtx;
  lines: string[];
  idx: number;
}

/** Remaining lines of a multi-line parameter, all located at the point of use. */
interface LinesSrc {
  kind: 'lines';
  lines: string[];
  idx: number;
  ctx: FileCtx;
  line: number;
  col: number;
}

/** The remainder of a line after a brace was split out: re-read as a new line (G3). */
interface UnitSrc {
  kind: 'unit';
  unit: Unit | undefined;
}

/** ~SEQ / ~LST iteration: each step assigns the variables and replays the body. */
interface SeqSrc {
  kind: 'seq';
  vars: string[];
  next: () => string[] | undefined;
  body: LStr;
  ctx: FileCtx;
  line: number;
}

type Source = FileSrc | LinesSrc | UnitSrc | SeqSrc;

class StopLexing extends Error {}

// ---------------------------------------------------------------------------------------------
// Public entry points

export function lexKeepalived(file: string, opts: LexOptions): LexResult {
  const lexer = new Lexer(opts);
  const text = lexer.readTop(file);
  return lexer.run(text, file);
}

export function lexKeepalivedText(text: string, file: string, opts: LexOptions): LexResult {
  const lexer = new Lexer(opts);
  const problem = binaryProblem(text);
  if (problem) throw new ConfigSyntaxError(`${file} is a binary file, not a keepalived.conf`, { file, ...problem });
  return lexer.run(text, file);
}

// ---------------------------------------------------------------------------------------------
// Reading files

type ReadOutcome = { ok: true; text: string } | { ok: false; binary: boolean; message: string; code?: string };

/** Where in the text a binary marker is (NUL in the first 8 KiB, or a UTF-8 decoding failure). */
function binaryProblem(text: string): { line: number; col: number } | undefined {
  const head = text.length > BINARY_SNIFF ? text.slice(0, BINARY_SNIFF) : text;
  let at = head.indexOf('\0');
  // fs decodes invalid UTF-8 as U+FFFD, so that is our only sign of it in an injected string.
  if (at < 0) at = text.indexOf('\uFFFD');
  if (at < 0) return undefined;
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const col = at - before.lastIndexOf('\n');
  return { line, col };
}

function defaultReadFile(p: string): string {
  const buf = fs.readFileSync(p);
  const head = buf.subarray(0, BINARY_SNIFF);
  if (head.includes(0)) return '\0';
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    return '\uFFFD';
  }
}

function defaultGlob(pattern: string, cwd: string): string[] {
  const found = globSync(pattern, {
    cwd,
    absolute: true,
    onlyFiles: true,
    expandDirectories: false,
    braceExpansion: true,
  });
  return found.map((f) => path.resolve(f)).sort();
}

// ---------------------------------------------------------------------------------------------
// The lexer

class Lexer {
  private readonly diagnostics: Diagnostic[] = [];
  private readonly lines: LogicalLine[] = [];
  private readonly files: string[] = [];
  private readonly fileSet = new Set<string>();
  private readonly defs = new Map<string, Def>();
  private readonly stack: Source[] = [];
  private readonly readFileFn: (p: string) => string;
  private readonly globFn: (pattern: string, cwd: string) => string[];
  private readonly env: Record<string, string | undefined>;
  private readonly random: () => number;
  private nested = 0;
  private steps = 0;
  private bytes = 0;
  private pending: { name: string; def: Def } | undefined;

  constructor(private readonly opts: LexOptions) {
    this.readFileFn = opts.readFile ?? defaultReadFile;
    this.globFn = opts.glob ?? defaultGlob;
    this.env = opts.env ?? process.env;
    this.random = opts.random ?? Math.random;
  }

  readTop(file: string): string {
    const r = this.read(file);
    if (r.ok) return r.text;
    const loc = { file, line: 1, col: 1 };
    if (r.binary) throw new ConfigSyntaxError(`${file} is a binary file, not a keepalived.conf`, loc);
    throw new ConfigSyntaxError(`cannot read ${file}: ${r.message}`, loc);
  }

  private read(file: string): ReadOutcome {
    let text: string;
    try {
      text = this.readFileFn(file);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const message = err instanceof Error ? err.message : String(e);
      return { ok: false, binary: false, message, code: typeof err?.code === 'string' ? err.code : undefined };
    }
    if (typeof text !== 'string') return { ok: false, binary: false, message: 'reader did not return text' };
    if (binaryProblem(text)) return { ok: false, binary: true, message: 'binary file' };
    return { ok: true, text };
  }

  run(text: string, file: string): LexResult {
    const dir = path.dirname(path.resolve(file));
    const ctx: FileCtx = {
      file,
      dir,
      chain: [path.resolve(file)],
      checks: { readable: false, match: false, wildcard: false, brace: false },
    };
    this.addFile(file);
    this.stack.push({ kind: 'file', ctx, lines: splitLines(text), idx: 0 });
    try {
      for (;;) {
        const u = this.nextUnit();
        if (!u) break;
        if (++this.steps > MAX_STEPS) {
          this.fatal(u, `expansion limit exceeded (${MAX_STEPS} preprocessing steps); stopping`);
        }
        if (this.pending) this.accumulate(u);
        else this.processUnit(u);
      }
    } catch (e) {
      if (!(e instanceof StopLexing)) {
        // Defensive: a bug here must not escape as anything but a diagnostic.
        this.diag('error', { file, line: 1, col: 1 }, `internal lexer error: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return { lines: this.lines, diagnostics: this.diagnostics, files: this.files };
  }

  private addFile(f: string): void {
    if (!this.fileSet.has(f)) {
      this.fileSet.add(f);
      this.files.push(f);
    }
  }

  private diag(severity: 'error' | 'warning', loc: SourceLoc, message: string): void {
    if (this.diagnostics.length < MAX_DIAGNOSTICS) this.diagnostics.push({ severity, loc, message });
    else if (this.diagnostics.length === MAX_DIAGNOSTICS) {
      this.diagnostics.push({ severity: 'error', loc, message: `too many diagnostics; further ones suppressed` });
    }
  }

  private locOf(u: Unit, i = 0): SourceLoc {
    return { file: u.ctx.file, line: u.line, col: u.text.colAt(i) };
  }

  private fatal(u: Unit, message: string): never {
    this.diag('error', this.locOf(u), message);
    throw new StopLexing();
  }

  private push(src: Source, u: Unit): void {
    if (src.kind !== 'file') {
      if (++this.nested > MAX_NESTED_EXPANSIONS) {
        this.fatal(u, `parameter/sequence expansion nested more than ${MAX_NESTED_EXPANSIONS} deep (recursive definition?); stopping`);
      }
    }
    this.stack.push(src);
  }

  private pop(): void {
    const s = this.stack.pop();
    if (s && s.kind !== 'file') this.nested--;
  }

  // --- sources ---------------------------------------------------------------------------------

  /** Next line to process, from the innermost active source (residues, expansions, then files). */
  private nextUnit(): Unit | undefined {
    for (;;) {
      const src = this.stack[this.stack.length - 1];
      if (!src) return undefined;
      switch (src.kind) {
        case 'unit': {
          const u = src.unit;
          this.pop();
          if (u) return u;
          continue;
        }
        case 'lines': {
          const l = src.lines[src.idx++];
          if (src.idx >= src.lines.length) this.pop();
          if (l === undefined) continue;
          return { text: LStr.uniform(l, src.col), line: src.line, ctx: src.ctx, transformed: true };
        }
        case 'seq': {
          const values = src.next();
          if (!values) {
            this.pop();
            continue;
          }
          src.vars.forEach((v, i) => this.defs.set(v, { lines: [values[i] ?? ''], multiline: false }));
          return { text: src.body, line: src.line, ctx: src.ctx, transformed: true };
        }
        case 'file': {
          if (src.idx >= src.lines.length) {
            this.pop();
            // keepalived ends a multi-line definition at the end of the file it started in.
            if (this.pending) this.finishPending();
            continue;
          }
          const lineNo = src.idx + 1;
          const rawLine = src.lines[src.idx++] ?? '';
          const loc = { file: src.ctx.file, line: lineNo, col: 1 };
          if (rawLine.length > MAX_LINE && byteLength(rawLine) > MAX_LINE) {
            this.diag('warning', loc, `line too long (over ${MAX_LINE} characters) - ignoring`);
            continue;
          }
          const nul = rawLine.indexOf('\0');
          if (nul >= 0) {
            this.diag('warning', { ...loc, col: nul + 1 }, 'line contains a NUL character - ignoring');
            continue;
          }
          return { text: decomment(rawLine), line: lineNo, ctx: src.ctx, transformed: false };
        }
      }
    }
  }

  // --- multi-line definitions ------------------------------------------------------------------

  /** Collect the lines of a `$NAME=...\` definition (G12). An empty line ends it, as in keepalived. */
  private accumulate(u: Unit): void {
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

  private finishPending(): void {
    const pend = this.pending;
    this.pending = undefined;
    if (pend && pend.def.lines.length === 0) {
      pend.def.lines = [''];
      pend.def.multiline = false;
    }
  }

  // --- per-line processing ----------------------------------------------------------------------

  private processUnit(u: Unit): void {
    if (u.text.length === 0) return;
    let passes = 0;
    const warned = { multiline: false };
    for (;;) {
      if (++passes > MAX_SUBST_PASSES) {
        this.diag('error', this.locOf(u), `parameter substitution did not settle after ${MAX_SUBST_PASSES} passes (recursive definition?)`);
        u.substStop = true;
        break;
      }
      const s = u.text.s;
      if (s.startsWith('@')) {
        if (!this.conditional(u)) return;
        continue;
      }
      if (s.startsWith('$') && this.definition(u)) return;
      if (s.startsWith('~SEQ') || s.startsWith('~LST')) {
        this.sequence(u);
        return;
      }
      // keepalived leaves any other line starting with '~' alone.
      if (s.startsWith('~')) break;
      if (!s.includes('$') || u.substStop) break;
      if (!this.substitute(u, warned)) break;
      if (u.text.length === 0) return;
    }

    if (this.include(u)) return;
    this.splitAndEmit(u);
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
      this.diag('warning', this.locOf(u), `parameter name '${name}' starts with '_', which is reserved for keepalived's pre-defined names`);
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
            this.diag('warning', loc, `multi-line parameter '${ref.name}' must be the last thing on a line; left unexpanded`);
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
        this.diag('error', loc, `parameter substitution would make the line longer than ${MAX_LINE} characters; substitution stopped`);
        // Keep what we have; the outer loop stops because nothing further is replaced.
        u.text = text.trim();
        u.substStop = true;
        return false;
      }
      text = next;
      replaced = true;
      u.transformed = true;
      if (rest.length > 0) {
        this.push({ kind: 'lines', lines: rest, idx: 0, ctx: u.ctx, line: u.line, col }, u);
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
          if (nums.length > 2) this.diag('warning', loc, `too many parameters for \${_RANDOM ${params}}; using the first two`);
          min = nums[0] ?? 0;
          if (nums.length > 1) max = nums[1] ?? max;
        }
        if (max < min) {
          this.diag('warning', loc, `\${_RANDOM ${params ?? ''}}: MAX is less than MIN; using MIN`);
          max = min;
        }
        const r = this.random();
        const frac = Number.isFinite(r) ? Math.min(Math.max(r, 0), 0.9999999999999999) : 0;
        return String(min + Math.floor(frac * (max - min + 1)));
      }
      case '_ENV': {
        if (params === undefined || !NAME_RE.test(params)) return undefined;
        const v = this.env[params];
        if (v === undefined) {
          this.diag('warning', loc, `\${_ENV ${params}}: environment variable ${params} is not set; using an empty string`);
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
      const before = this.nested;
      const depth = this.stack.length;
      const changed = this.substitute(tmp, warned);
      if (this.stack.length !== depth) {
        // A multi-line parameter cannot supply sequence arguments; undo its queued lines.
        while (this.stack.length > depth) this.pop();
        this.nested = before;
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
    this.push({ kind: 'seq', vars: spec.vars, next: spec.next, body, ctx: u.ctx, line: u.line }, u);
  }

  private parseSeq(u: Unit): { vars: string[]; next: () => string[] | undefined; close: number } | undefined {
    const s = u.text.s;
    const bad = (why: string): undefined => {
      this.diag('error', this.locOf(u), `invalid ~SEQ specification '${s}': ${why}`);
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
      this.diag('error', this.locOf(u), `invalid ~LST specification '${s}': ${why}`);
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
        this.diag('warning', this.locOf(u), `~LST value group {${item.join(',')}} has fewer values than variables; the missing ones are empty`);
      }
    }
    let k = 0;
    const next = (): string[] | undefined => items[k++];
    return { vars, next, close };
  }

  /** include and its variants (G10). Returns true if the line was an include. */
  private include(u: Unit): boolean {
    const s = u.text.s;
    const m = /^(include[rmwba]?)(?:[ \t\f\v\r]+|$)/.exec(s);
    if (!m || m[1] === undefined || !INCLUDE_KEYWORDS.has(m[1])) return false;
    const keyword = m[1];
    const loc = this.locOf(u);
    let pattern = s.slice(m[0].length).trim();
    if (pattern.length >= 2 && pattern.startsWith('"') && pattern.endsWith('"')) pattern = pattern.slice(1, -1);
    if (pattern.length === 0) {
      this.diag('error', loc, `${keyword} needs a file name or pattern`);
      return true;
    }
    if (u.transformed) {
      this.diag('warning', loc, `${keyword} on a line produced by '@' or parameter substitution: keepalived's manual says this is not honoured (keepalived 2.2.7 does honour it); it is honoured here`);
    }

    const checks = { ...u.ctx.checks };
    if (keyword === 'includer' || keyword === 'includea') checks.readable = true;
    if (keyword === 'includem' || keyword === 'includea') checks.match = true;
    if (keyword === 'includew' || keyword === 'includea') checks.wildcard = true;
    if (keyword === 'includeb' || keyword === 'includea') checks.brace = true;
    // "match, wildcard_match and brace_match include the readable check"
    if (checks.match || checks.wildcard || checks.brace) checks.readable = true;

    const { alternatives, hadBraces } = braceExpand(pattern);
    const anyWildcard = alternatives.some(hasWildcard);
    const toRead: string[] = [];
    const unmatchedAlts: string[] = [];
    const reads = new Map<string, ReadOutcome>();
    for (const alt of alternatives) {
      let found: string[];
      if (hasWildcard(alt)) {
        try {
          found = this.globFn(alt, u.ctx.dir);
        } catch (e) {
          this.diag('error', loc, `${keyword} ${pattern}: cannot expand '${alt}': ${e instanceof Error ? e.message : String(e)}`);
          found = [];
        }
      } else {
        const abs = path.resolve(u.ctx.dir, alt);
        const r = this.read(abs);
        if (!r.ok && !r.binary && r.code === 'ENOENT') found = [];
        else {
          reads.set(abs, r);
          found = [abs];
        }
      }
      if (found.length === 0) unmatchedAlts.push(alt);
      for (const f of found) if (!toRead.includes(f)) toRead.push(f);
    }

    if (toRead.length === 0) {
      const strict = anyWildcard ? checks.wildcard : checks.match || checks.wildcard;
      this.diag(strict ? 'error' : 'warning', loc, `${keyword} ${pattern}: no file matches`);
    } else if (hadBraces && unmatchedAlts.length > 0 && checks.brace) {
      this.diag('error', loc, `${keyword} ${pattern}: no file matches ${unmatchedAlts.map((a) => `'${a}'`).join(', ')}`);
    }

    const srcs: FileSrc[] = [];
    for (const f of toRead) {
      const abs = path.resolve(f);
      if (u.ctx.chain.includes(abs)) {
        this.diag('error', loc, `include cycle: ${abs} is already being read (${[...u.ctx.chain, abs].join(' -> ')}); skipped`);
        continue;
      }
      if (u.ctx.chain.length >= MAX_INCLUDE_DEPTH) {
        this.diag('error', loc, `includes nested more than ${MAX_INCLUDE_DEPTH} deep; ${abs} skipped`);
        continue;
      }
      const r = reads.get(abs) ?? this.read(abs);
      if (!r.ok) {
        const what = r.binary ? `${abs} is a binary file, not a keepalived.conf` : `cannot read ${abs}: ${r.message}`;
        this.diag(checks.readable ? 'error' : 'warning', loc, `${keyword}: ${what}; skipped`);
        continue;
      }
      this.addFile(abs);
      srcs.push({
        kind: 'file',
        ctx: { file: abs, dir: path.dirname(abs), chain: [...u.ctx.chain, abs], checks: { ...u.ctx.checks } },
        lines: splitLines(r.text),
        idx: 0,
      });
    }
    // Stack: push in reverse so the first match is read first.
    for (let k = srcs.length - 1; k >= 0; k--) {
      const src = srcs[k];
      if (src) this.push(src, u);
    }
    return true;
  }

  /** Split out the first unquoted brace (G3), emit the text before it, re-read the remainder. */
  private splitAndEmit(u: Unit): void {
    const text = u.text.trim();
    if (text.length === 0) return;
    const s = text.s;
    const b = findBrace(s);
    let piece = text;
    let residue: LStr | undefined;
    if (b === 0) {
      piece = text.slice(0, 1);
      const r = text.slice(1).trim();
      if (r.length > 0) residue = r;
    } else if (b > 0) {
      piece = text.slice(0, b).trim();
      residue = text.slice(b).trim();
    }
    if (residue) {
      this.push({ kind: 'unit', unit: { text: residue, line: u.line, ctx: u.ctx, transformed: u.transformed, substStop: u.substStop } }, u);
    }
    this.emit(piece, u);
  }

  private emit(piece: LStr, u: Unit): void {
    const tokens = this.tokenize(piece, u);
    const first = tokens[0];
    if (!first) return;
    if (this.lines.length >= MAX_LINES) this.fatal(u, `expansion limit exceeded (${MAX_LINES} logical lines); stopping`);
    this.bytes += piece.length;
    if (this.bytes > MAX_BYTES) this.fatal(u, `expansion limit exceeded (${MAX_BYTES} bytes); stopping`);
    // slice(): an array grown by push keeps room for 17 elements; every line is kept until the
    // import is done, so exact-size arrays save ~10 MB at 10,000 real servers
    this.lines.push({ tokens: tokens.slice(), raw: piece.s, rawCol: piece.colAt(0), loc: first.loc });
    if (first.text === 'include_check' && !first.quoted) this.includeCheck(tokens, u);
  }

  /**
   * The global `include_check [+-]OPTION...` keyword changes how later includes in the same
   * file (and files it includes) are checked, so the lexer has to watch for it.
   */
  private includeCheck(tokens: Token[], u: Unit): void {
    const all = { readable: true, match: true, wildcard: true, brace: true };
    const args = tokens.slice(1).filter((t) => t.text !== '{' && t.text !== '}');
    if (args.length === 0) {
      u.ctx.checks = all;
      return;
    }
    const names: Record<string, keyof IncludeChecks> = {
      readable: 'readable',
      match: 'match',
      wildcard_match: 'wildcard',
      brace_match: 'brace',
    };
    let checks = { ...u.ctx.checks };
    let reset = false;
    for (const t of args) {
      const sign = t.text[0] === '+' || t.text[0] === '-' ? t.text[0] : '';
      const key = names[sign ? t.text.slice(1) : t.text];
      if (!key) {
        this.diag('warning', t.loc, `unknown include_check option '${t.text}'`);
        continue;
      }
      if (!sign && !reset) {
        checks = { readable: false, match: false, wildcard: false, brace: false };
        reset = true;
      }
      checks[key] = sign !== '-';
    }
    u.ctx.checks = checks;
  }

  /**
   * General tokeniser (G7): whitespace separates, "..." is one token with the quotes removed.
   * A backslash protects a following '"' (it becomes a literal '"') or '\'; nothing else is
   * an escape here (script keywords re-tokenise `raw` with shellSplit).
   */
  private tokenize(l: LStr, u: Unit): Token[] {
    const s = l.s;
    const n = s.length;
    const tokens: Token[] = [];
    let i = 0;
    for (;;) {
      while (i < n && isWhite(s[i])) i++;
      if (i >= n) break;
      const start = i;
      const loc = { file: u.ctx.file, line: u.line, col: l.colAt(start) };
      let text = '';
      if (s[i] === '"') {
        i++;
        // no escape before the closing quote: the token is a slice
        const close = s.indexOf('"', i);
        const esc = s.indexOf('\\', i);
        if (close >= 0 && (esc < 0 || esc > close)) {
          tokens.push({ text: s.slice(i, close), loc, quoted: true });
          i = close + 1;
          continue;
        }
        let closed = false;
        while (i < n) {
          const c = s[i];
          if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\')) {
            text += s[i + 1] === '"' ? '"' : '\\\\';
            i += 2;
            continue;
          }
          if (c === '"') {
            closed = true;
            i++;
            break;
          }
          text += c;
          i++;
        }
        if (!closed) this.diag('error', loc, `unmatched quote: ${s.slice(start)}`);
        tokens.push({ text, loc, quoted: true });
      } else {
        let plain = true;
        while (i < n) {
          const c = s[i];
          if (isWhite(c) || c === '"') break;
          if (c === '\\') plain = false;
          i++;
        }
        if (plain) {
          tokens.push({ text: s.slice(start, i), loc, quoted: false });
          continue;
        }
        i = start;
        while (i < n) {
          const c = s[i];
          if (isWhite(c) || c === '"') break;
          if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\')) {
            text += s[i + 1] === '"' ? '"' : '\\\\';
            i += 2;
            continue;
          }
          text += c;
          i++;
        }
        tokens.push({ text, loc, quoted: false });
      }
    }
    return tokens;
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function splitLines(text: string): string[] {
  const t = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const lines = t.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] ?? '';
    // CR/LF are stripped from the end of a line, so CRLF files work (G1).
    let e = l.length;
    while (e > 0 && l.charCodeAt(e - 1) === 0x0d) e--;
    if (e !== l.length) lines[i] = l.slice(0, e);
  }
  return lines;
}

/** True if the string ends with an unpaired backslash (an odd run of trailing backslashes). */
function endsWithContinuation(s: string): boolean {
  let k = 0;
  while (k < s.length && s.charCodeAt(s.length - 1 - k) === 0x5c) k++;
  return k % 2 === 1;
}

/**
 * Comment removal (G2) on a physical line: '#' or '!' outside double quotes ends the line,
 * '\#' and '\!' outside quotes are literal, '\"' never opens or closes a quote. Leading and
 * trailing blanks go; a trailing unpaired '\' (continuation) is kept at the end, as keepalived
 * keeps it, even when a comment came before it.
 */
function decomment(line: string): LStr {
  // Most lines have no comment, quote or backslash: the text is the line, columns 1, 2, …
  if (!PLAIN_LINE_SPECIALS.test(line)) return new LStr(line, new Consecutive(1)).trim();
  const cont = endsWithContinuation(line);
  const body = cont ? line.slice(0, -1) : line;
  const n = body.length;
  let text = '';
  const cols: number[] = [];
  let quote = false;
  let i = 0;
  while (i < n) {
    const c = body[i] ?? '';
    if (c === '\\' && i + 1 < n) {
      const nx = body[i + 1] ?? '';
      if (!quote && (nx === '#' || nx === '!')) {
        text += nx;
        cols.push(i + 2);
      } else {
        text += c + nx;
        cols.push(i + 1, i + 2);
      }
      i += 2;
      continue;
    }
    if (c === '"') quote = !quote;
    else if (!quote && (c === '#' || c === '!')) break;
    text += c;
    cols.push(i + 1);
    i++;
  }
  if (cont) {
    // Drop blanks before the continuation mark, as keepalived does.
    let e = text.length;
    while (e > 0 && isBlank(text.charCodeAt(e - 1))) e--;
    text = text.slice(0, e) + '\\';
    cols.length = e;
    cols.push(line.length);
  }
  return new LStr(text, Int32Array.from(cols)).trim();
}

/** Characters that make decomment do more than trim: comments, quotes, escapes, continuations. */
const PLAIN_LINE_SPECIALS = /[#!"\\]/;

/** Index of the first '{' or '}' outside double quotes, or -1 (an unmatched quote hides the rest). */
function findBrace(s: string): number {
  let quote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\')) {
      i++;
      continue;
    }
    if (c === '"') quote = !quote;
    else if (!quote && (c === '{' || c === '}')) return i;
  }
  return -1;
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

function skipBlanks(s: string, p: number): number {
  while (p < s.length && isBlank(s.charCodeAt(p))) p++;
  return p;
}

function skipWhite(s: string, p: number): number {
  while (p < s.length && isWhite(s[p])) p++;
  return p;
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

function hasWildcard(p: string): boolean {
  return /[*?[]/.test(p);
}

/**
 * csh-style brace expansion ({a,b}, nested), applied before globbing so that includeb can
 * tell which alternative failed to match. A brace group without a top-level comma is literal.
 */
function braceExpand(pattern: string): { alternatives: string[]; hadBraces: boolean } {
  let hadBraces = false;
  const expand = (p: string): string[] => {
    for (let i = 0; i < p.length; i++) {
      if (p[i] !== '{') continue;
      let depth = 0;
      const commas: number[] = [];
      let close = -1;
      for (let k = i; k < p.length; k++) {
        const c = p[k];
        if (c === '{') depth++;
        else if (c === '}') {
          depth--;
          if (depth === 0) {
            close = k;
            break;
          }
        } else if (c === ',' && depth === 1) commas.push(k);
      }
      if (close < 0) return [p];
      if (commas.length === 0) continue;
      hadBraces = true;
      const pre = p.slice(0, i);
      const post = p.slice(close + 1);
      const bounds = [i, ...commas, close];
      const out: string[] = [];
      for (let a = 0; a + 1 < bounds.length; a++) {
        const alt = p.slice((bounds[a] ?? 0) + 1, bounds[a + 1]);
        for (const e of expand(pre + alt + post)) {
          if (out.length >= MAX_BRACE_ALTERNATIVES) return out;
          out.push(e);
        }
      }
      return out;
    }
    return [p];
  };
  const alternatives = [...new Set(expand(pattern))];
  return { alternatives, hadBraces };
}

// ---------------------------------------------------------------------------------------------
// G8: shell-like re-tokenisation for script keywords

const ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  E: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/**
 * Split a raw line the way keepalived splits script keyword values: ' and " both quote,
 * adjacent quoted and unquoted pieces join into one word, and backslash escapes
 * \a \b \E \f \n \r \t \v \nnn (octal) \xXX (hex) \cC (control) and \C (literal C) apply
 * everywhere. An unterminated quote runs to the end; a trailing lone backslash is kept.
 */
export function shellSplit(raw: string): string[] {
  const out: string[] = [];
  const n = raw.length;
  let i = 0;
  for (;;) {
    while (i < n && isWhite(raw[i])) i++;
    if (i >= n) break;
    let word = '';
    let quote: string | undefined;
    while (i < n) {
      const c = raw[i] ?? '';
      if (c === '\\') {
        const nx = raw[i + 1];
        if (nx === undefined) {
          word += '\\';
          i++;
          continue;
        }
        if (nx === 'x' && /[0-9a-fA-F]/.test(raw[i + 2] ?? '')) {
          let k = i + 2;
          let hex = '';
          while (k < n && hex.length < 2 && /[0-9a-fA-F]/.test(raw[k] ?? '')) hex += raw[k++];
          word += String.fromCharCode(parseInt(hex, 16));
          i = k;
        } else if (nx === 'c' && i + 2 < n) {
          word += String.fromCharCode((raw.charCodeAt(i + 2) & 0x1f) >>> 0);
          i += 3;
        } else if (nx >= '0' && nx <= '7') {
          let k = i + 1;
          let oct = '';
          while (k < n && oct.length < 3 && (raw[k] ?? '') >= '0' && (raw[k] ?? '') <= '7') oct += raw[k++];
          word += String.fromCharCode(parseInt(oct, 8) & 0xff);
          i = k;
        } else {
          word += ESCAPES[nx] ?? nx;
          i += 2;
        }
        continue;
      }
      if (quote) {
        if (c === quote) quote = undefined;
        else word += c;
        i++;
        continue;
      }
      if (c === '"' || c === "'") {
        quote = c;
        i++;
        continue;
      }
      if (isWhite(c)) break;
      word += c;
      i++;
    }
    out.push(word);
  }
  return out;
}

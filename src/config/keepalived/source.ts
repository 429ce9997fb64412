// Source reading for the keepalived lexer: files (binary sniffing, line splitting, line limits),
// `include` and its variants with globs and csh braces (G10), include_check, and the stack of
// sources the preprocessor reads its next line from (files, re-read remainders of a line,
// multi-line parameter values, ~SEQ/~LST iterations).
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { globSync } from 'tinyglobby';
import {
  BINARY_SNIFF,
  MAX_BRACE_ALTERNATIVES,
  MAX_INCLUDE_BYTES,
  MAX_INCLUDE_DEPTH,
  MAX_INCLUDE_OPENS,
  MAX_LINE,
  MAX_NESTED_EXPANSIONS,
  type FileCtx,
  type IncludeChecks,
  type LexReport,
  type Token,
  type Unit,
} from './lex-types.js';
import { LStr } from './located-string.js';
import { decomment } from './tokenizer.js';

// ---------------------------------------------------------------------------------------------
// Sources

/** A file read line by line from its text (no array of every line: a 300,000-line file would hold 12 MB). */
interface FileSrc {
  kind: 'file';
  ctx: FileCtx;
  text: string;
  /** Offset of the next line in `text`; past the end when done. */
  pos: number;
  /** Number of the next line (1-based). */
  lineNo: number;
}

/** Remaining lines of a multi-line parameter, all located at the point of use. */
export interface LinesSrc {
  kind: 'lines';
  lines: string[];
  idx: number;
  ctx: FileCtx;
  line: number;
  col: number;
  /** Expansion generation of the lines it yields (set by `push`). */
  gen?: number;
}

/** The remainder of a line after a brace was split out: re-read as a new line (G3). */
export interface UnitSrc {
  kind: 'unit';
  unit: Unit | undefined;
}

/** ~SEQ / ~LST iteration: each step assigns the variables (false when done) and replays the body. */
export interface SeqSrc {
  kind: 'seq';
  step: () => boolean;
  body: LStr;
  ctx: FileCtx;
  line: number;
  /** Expansion generation of the lines it yields (set by `push`). */
  gen?: number;
}

type Source = FileSrc | LinesSrc | UnitSrc | SeqSrc;

// ---------------------------------------------------------------------------------------------
// Reading files

export type ReadOutcome = { ok: true; text: string } | { ok: false; binary: boolean; message: string; code?: string };

/** Where in the text a binary marker is (NUL in the first 8 KiB, or a UTF-8 decoding failure). */
export function binaryProblem(text: string): { line: number; col: number } | undefined {
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

// tinyglobby is loaded on the first include: most configs have none (startup CPU and memory).
let glob: typeof globSync | undefined;

function defaultGlob(pattern: string, cwd: string): string[] {
  glob ??= (createRequire(import.meta.url)('tinyglobby') as { globSync: typeof globSync }).globSync;
  const found = glob(pattern, {
    cwd,
    absolute: true,
    onlyFiles: true,
    expandDirectories: false,
    braceExpansion: true,
  });
  return found.map((f) => path.resolve(f)).sort();
}

function openFile(ctx: FileCtx, text: string): FileSrc {
  return { kind: 'file', ctx, text, pos: text.startsWith('\uFEFF') ? 1 : 0, lineNo: 1 };
}

/** The next line of a file (CR/LF stripped from its end, so CRLF files work: G1), or undefined at its end. */
function nextLine(src: FileSrc): string | undefined {
  const t = src.text;
  // a text ending in '\n' has one more, empty, line (as split('\n') gives), which changes nothing
  if (src.pos > t.length) return undefined;
  let e = t.indexOf('\n', src.pos);
  if (e < 0) e = t.length;
  let end = e;
  while (end > src.pos && t.charCodeAt(end - 1) === 0x0d) end--;
  const line = t.slice(src.pos, end);
  src.pos = e + 1;
  src.lineNo++;
  return line;
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

const INCLUDE_KEYWORDS = new Set(['include', 'includer', 'includem', 'includew', 'includeb', 'includea']);

// ---------------------------------------------------------------------------------------------
// The source stack

export interface SourceOptions {
  readFile?: ((path: string) => string) | undefined;
  glob?: ((pattern: string, cwd: string) => string[]) | undefined;
  /** Called when a file is read to its end (keepalived ends a pending multi-line definition there). */
  onFileEnd: () => void;
}

export class SourceStack {
  readonly files: string[] = [];
  private readonly fileSet = new Set<string>();
  private readonly stack: Source[] = [];
  private readonly readFileFn: (p: string) => string;
  private readonly globFn: (pattern: string, cwd: string) => string[];
  private nested = 0;
  /** Files opened through include (the same file counts each time) and their bytes: see MAX_INCLUDE_OPENS. */
  private includeOpens = 0;
  private includeBytes = 0;

  constructor(
    private readonly report: LexReport,
    private readonly opts: SourceOptions,
  ) {
    this.readFileFn = opts.readFile ?? defaultReadFile;
    this.globFn = opts.glob ?? defaultGlob;
  }

  read(file: string): ReadOutcome {
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

  /** Starts reading the top-level file from its text. */
  openTop(text: string, file: string): void {
    const ctx: FileCtx = {
      file,
      dir: path.dirname(path.resolve(file)),
      chain: [path.resolve(file)],
      checks: { readable: false, match: false, wildcard: false, brace: false },
    };
    this.addFile(file);
    this.stack.push(openFile(ctx, text));
  }

  private addFile(f: string): void {
    if (!this.fileSet.has(f)) {
      this.fileSet.add(f);
      this.files.push(f);
    }
  }

  /** Pushes an expansion source; `u` is the line it came from (for the nesting limit's diagnostic). */
  push(src: Source, u: Unit): void {
    if (src.kind === 'lines' || src.kind === 'seq') src.gen = (u.gen ?? 0) + 1;
    if (src.kind !== 'file') {
      if (++this.nested > MAX_NESTED_EXPANSIONS || (src.kind !== 'unit' && src.gen! > MAX_NESTED_EXPANSIONS)) {
        this.report.fatal(u, `parameter/sequence expansion nested more than ${MAX_NESTED_EXPANSIONS} deep (recursive definition?); stopping`);
      }
    }
    this.stack.push(src);
  }

  private pop(): void {
    const s = this.stack.pop();
    if (s && s.kind !== 'file') this.nested--;
  }

  get depth(): number {
    return this.stack.length;
  }

  /** Drops every source pushed since the stack had `depth` entries. */
  truncate(depth: number): void {
    while (this.stack.length > depth) this.pop();
  }

  /** Next line to process, from the innermost active source (residues, expansions, then files). */
  next(): Unit | undefined {
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
          return { text: LStr.uniform(l, src.col), line: src.line, ctx: src.ctx, transformed: true, expanded: true, gen: src.gen };
        }
        case 'seq': {
          if (!src.step()) {
            this.pop();
            continue;
          }
          return { text: src.body, line: src.line, ctx: src.ctx, transformed: true, expanded: true, gen: src.gen };
        }
        case 'file': {
          const lineNo = src.lineNo;
          const rawLine = nextLine(src);
          if (rawLine === undefined) {
            this.pop();
            this.opts.onFileEnd();
            continue;
          }
          const loc = (col = 1) => ({ file: src.ctx.file, line: lineNo, col });
          if (rawLine.length > MAX_LINE && byteLength(rawLine) > MAX_LINE) {
            this.report.diag('warning', loc(), `line too long (over ${MAX_LINE} characters) - ignoring`);
            continue;
          }
          const nul = rawLine.indexOf('\0');
          if (nul >= 0) {
            this.report.diag('warning', loc(nul + 1), 'line contains a NUL character - ignoring');
            continue;
          }
          return { text: decomment(rawLine), line: lineNo, ctx: src.ctx, transformed: false };
        }
      }
    }
  }

  // --- includes ---------------------------------------------------------------------------------

  /** include and its variants (G10). Returns true if the line was an include. */
  include(u: Unit): boolean {
    const s = u.text.s;
    const m = /^(include[rmwba]?)(?:[ \t\f\v\r]+|$)/.exec(s);
    if (!m || m[1] === undefined || !INCLUDE_KEYWORDS.has(m[1])) return false;
    const keyword = m[1];
    const loc = this.report.locOf(u);
    let pattern = s.slice(m[0].length).trim();
    if (pattern.length >= 2 && pattern.startsWith('"') && pattern.endsWith('"')) pattern = pattern.slice(1, -1);
    if (pattern.length === 0) {
      this.report.diag('error', loc, `${keyword} needs a file name or pattern`);
      return true;
    }
    if (u.transformed) {
      this.report.diag('warning', loc, `${keyword} on a line produced by '@' or parameter substitution: keepalived's manual says this is not honoured (keepalived 2.2.7 does honour it); it is honoured here`);
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
          this.report.diag('error', loc, `${keyword} ${pattern}: cannot expand '${alt}': ${e instanceof Error ? e.message : String(e)}`);
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
      this.report.diag(strict ? 'error' : 'warning', loc, `${keyword} ${pattern}: no file matches`);
    } else if (hadBraces && unmatchedAlts.length > 0 && checks.brace) {
      this.report.diag('error', loc, `${keyword} ${pattern}: no file matches ${unmatchedAlts.map((a) => `'${a}'`).join(', ')}`);
    }

    const srcs: FileSrc[] = [];
    for (const f of toRead) {
      const abs = path.resolve(f);
      if (u.ctx.chain.includes(abs)) {
        this.report.diag('error', loc, `include cycle: ${abs} is already being read (${[...u.ctx.chain, abs].join(' -> ')}); skipped`);
        continue;
      }
      if (u.ctx.chain.length >= MAX_INCLUDE_DEPTH) {
        this.report.diag('error', loc, `includes nested more than ${MAX_INCLUDE_DEPTH} deep; ${abs} skipped`);
        continue;
      }
      const r = reads.get(abs) ?? this.read(abs);
      if (!r.ok) {
        const what = r.binary ? `${abs} is a binary file, not a keepalived.conf` : `cannot read ${abs}: ${r.message}`;
        this.report.diag(checks.readable ? 'error' : 'warning', loc, `${keyword}: ${what}; skipped`);
        continue;
      }
      // fan-out (each file including the next one twice, 30 deep) is not caught by depth or cycles
      if (++this.includeOpens > MAX_INCLUDE_OPENS) {
        this.report.fatal(u, `include limit exceeded (${MAX_INCLUDE_OPENS} files opened through include; the same files included over and over?); stopping`);
      }
      this.includeBytes += r.text.length;
      if (this.includeBytes > MAX_INCLUDE_BYTES) {
        this.report.fatal(u, `include limit exceeded (${MAX_INCLUDE_BYTES} bytes read through include); stopping`);
      }
      this.addFile(abs);
      srcs.push(openFile({ file: abs, dir: path.dirname(abs), chain: [...u.ctx.chain, abs], checks: { ...u.ctx.checks } }, r.text));
    }
    // Stack: push in reverse so the first match is read first.
    for (let k = srcs.length - 1; k >= 0; k--) {
      const src = srcs[k];
      if (src) this.push(src, u);
    }
    return true;
  }

  /**
   * The global `include_check [+-]OPTION...` keyword changes how later includes in the same
   * file (and files it includes) are checked, so the lexer has to watch for it.
   */
  includeCheck(tokens: Token[], u: Unit): void {
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
        this.report.diag('warning', t.loc, `unknown include_check option '${t.text}'`);
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

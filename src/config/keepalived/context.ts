// Shared state and value readers for the keepalived importer: located diagnostics,
// the keywords vipkeeper does not act on, and model-path → source-location records
// (so semantic errors found later still point at the keepalived line). The readers also
// count the arguments a keyword used, so the rest can be reported as ignored (one keyword a line).
import { isIP } from 'node:net';
import type { Diagnostic, SourceLoc } from '../diagnostics.js';
import { nearest } from '../diagnostics.js';
import { showLine } from '../secrets.js';
import { shellSplit, type Token } from './lexer.js';
import type { KNode } from './tree.js';

export type Path = (string | number)[];
export type Obj = Record<string, unknown>;

/** A keyword vipkeeper does not act on, as found in the config (for check, migrate and the docs). */
export interface Unsupported {
  keyword: string;
  /** The block it was in, as a person reads it ("vrrp_instance VI_1"). */
  block: string;
  loc: SourceLoc;
  /** not-acted: read, then dropped; refused: an error; unknown: keepalived does not know it either. */
  status: 'not-acted' | 'refused' | 'unknown';
  /** What the user loses (not-acted), why (refused), or 'unknown keyword'. */
  note?: string;
  /** The model object it belonged to: where migrate writes it as a comment. */
  path: Path;
  /** The model fields it wrote before they were dropped (relative to `path`). */
  fields?: string[];
  /** The line as written, a secret value hidden. */
  text: string;
  /** An option of a value line (a VIP's no_track), not a keyword line of its own. */
  option?: true;
}

/**
 * The key under which a model object keeps where its fields came from. A symbol: the schema,
 * JSON and Object.keys do not see it.
 */
const LOCS = Symbol('locations');
type PackedLoc = number | SourceLoc;
type Locs = Record<string | number, PackedLoc>;

/** A file's diagnostics past this many are counted, not listed (check, run and reload alike). */
export const MAX_REPORTED_DIAGNOSTICS = 1000;

export function omittedMessage(warnings: number, errors: number): string {
  const parts = [errors ? `${errors} error(s)` : '', warnings ? `${warnings} warning(s)` : ''].filter(Boolean).join(' and ');
  return `${parts} more not listed (only the first ${MAX_REPORTED_DIAGNOSTICS} diagnostics are); fix the ones above and check again`;
}

/** Past this many diagnostics for one keyword of one block kind, the rest are counted, not printed. */
export const SAME_KEYWORD_LIMIT = 5;

export class ImportContext {
  readonly diagnostics: Diagnostic[] = [];
  readonly unsupported: Unsupported[] = [];
  /** Keyword lines read (every node of the tree but `{ }` and value lines). */
  keywords = 0;
  /** Of those, partly acted on (carried, with a warning). */
  partial = 0;
  /** > 0 while reading the inside of a keyword that is not acted on as a whole. */
  notActedDepth = 0;
  /** The model being written (the YAML input form); locations are kept beside its objects. */
  root: Obj = {};
  /**
   * Where each object and field of the model came from: per object, `$` for the object itself
   * and one entry per field or index, kept on the object under a symbol (not by path, so an
   * object that moves, like a merged virtual server's real servers, keeps its locations; not in
   * a WeakMap, whose entries cost the garbage collector dearly at 100,000 objects).
   */
  /** Warnings about the same keyword in the same kind of block: count and the first location. */
  private readonly repeats = new Map<string, { n: number; loc: SourceLoc; what: string }>();

  /** Diagnostics past MAX_REPORTED_DIAGNOSTICS: counted (and summed up by `flushOmitted`), not kept. */
  private readonly omitted = { warning: 0, error: 0 };

  /** Room for another diagnostic? A pathological file (100,000 unknown keywords) must not cost a diagnostic each. */
  private get capped(): boolean {
    return this.diagnostics.length >= MAX_REPORTED_DIAGNOSTICS;
  }

  warn(loc: SourceLoc, message: string): void {
    if (this.capped) this.omitted.warning++;
    else this.diagnostics.push({ severity: 'warning', loc, message });
  }

  error(loc: SourceLoc, message: string): void {
    if (this.capped) this.omitted.error++;
    else this.diagnostics.push({ severity: 'error', loc, message });
  }

  /** One last line for the diagnostics past the cap (an error if any of them was one: the config still fails). */
  flushOmitted(file: string): void {
    const { warning, error } = this.omitted;
    if (warning + error === 0) return;
    const severity = error > 0 ? 'error' : 'warning';
    this.diagnostics.push({ severity, loc: { file, line: 1, col: 1 }, message: omittedMessage(warning, error) });
  }

  /**
   * A warning that may repeat for every virtual server or real server: after SAME_KEYWORD_LIMIT
   * of one `kind`, the rest are counted and summed up by `flushRepeats`.
   */
  warnRepeated(kind: string, what: string, loc: SourceLoc, message: string): void {
    const r = this.repeats.get(kind);
    if (!r) this.repeats.set(kind, { n: 1, loc, what });
    else r.n++;
    if ((r?.n ?? 1) <= SAME_KEYWORD_LIMIT) this.warn(loc, message);
  }

  flushRepeats(): void {
    for (const r of this.repeats.values()) {
      if (r.n > SAME_KEYWORD_LIMIT) this.warn(r.loc, `${r.n - SAME_KEYWORD_LIMIT} more lines of ${r.what} have the same warning (the first ${SAME_KEYWORD_LIMIT} are listed)`);
    }
    this.repeats.clear();
  }

  /** The config's top file: its locations are kept as one small integer each. */
  file = '';

  /**
   * Lean mode (the first pass): the fields of real servers and their checkers — nine in ten of
   * a large config's locations — are not recorded (at 37,300 real servers they cost a third of
   * the import's CPU and 30 MB). A question about a place inside a real server sets `wantsFull`,
   * and the importer then reads the config again with every location recorded (`full`).
   */
  full = false;
  /** > 0 while reading the inside of a real server. */
  leanDepth = 0;
  wantsFull = false;

  private lean(): boolean {
    return this.leanDepth > 0 && !this.full;
  }

  private locsOf(obj: object): Locs {
    const o = obj as { [LOCS]?: Locs };
    return (o[LOCS] ??= {});
  }

  /** A location as stored: line and column packed in a small integer for the top file (most of them). */
  private pack(loc: SourceLoc): PackedLoc {
    return loc.file === this.file && loc.line < 1 << 20 && loc.col < 1024 ? loc.line * 1024 + loc.col : loc;
  }

  private unpack(l: PackedLoc | undefined): SourceLoc | undefined {
    return typeof l === 'number' ? { file: this.file, line: Math.floor(l / 1024), col: l % 1024 } : l;
  }

  /** Records where an object (a block, a line of a value block) was written. */
  here(obj: object, loc: SourceLoc): void {
    if (this.lean()) return;
    this.locsOf(obj).$ = this.pack(loc);
  }

  /** Records where a field (or an array entry) of `obj` was written. */
  field(obj: object, key: string | number, loc: SourceLoc): void {
    if (this.lean()) return;
    this.locsOf(obj)[key] = this.pack(loc);
  }

  /** The location recorded for a model path, or for its nearest recorded ancestor. */
  locOf(path: Path): SourceLoc | undefined {
    if (!this.full && path.includes('real_servers')) this.wantsFull = true;
    const locs = (v: unknown) => (v !== null && typeof v === 'object' ? (v as { [LOCS]?: Locs })[LOCS] : undefined);
    let best = locs(this.root)?.$;
    let cur: unknown = this.root;
    for (const seg of path) {
      if (cur === null || typeof cur !== 'object') break;
      const l = locs(cur)?.[seg];
      if (l) best = l;
      cur = (cur as Record<string | number, unknown>)[seg];
      const own = locs(cur)?.$;
      if (own) best = own;
    }
    return this.unpack(best);
  }

  /** Records a keyword that is not acted on, refused or unknown, with its warning or error. */
  record(u: Unsupported, message: string, kind: string): void {
    this.unsupported.push(u);
    if (u.status === 'refused') this.error(u.loc, message);
    else this.warnRepeated(kind, `'${u.keyword}'`, u.loc, message);
  }

  unknown(node: KNode, block: string, known: Iterable<string>, path: Path): void {
    // the "did you mean" search is the costly part; past the cap nobody reads it
    const hint = this.full ? undefined : nearest(node.keyword, known);
    const suffix = hint ? `; did you mean '${hint}'?` : '';
    const message = node.children
      ? `unknown block '${node.keyword}' in ${block} is skipped (keepalived does not know it either)${suffix}`
      : `unknown keyword '${node.keyword}' in ${block} (keepalived does not know it either and ignores it)${suffix}`;
    this.record(
      { keyword: node.keyword, block, loc: node.loc, status: 'unknown', note: 'unknown keyword', path, text: shownText(node) },
      message,
      `unknown\0${node.keyword}`,
    );
  }
}

/** A keyword's line as it may be shown, with its block's lines when it opens one (secrets hidden). */
export function shownText(node: KNode, secret?: boolean): string {
  const head = showLine(node.keyword, node.line.raw, secret);
  if (!node.children) return head;
  const lines = [`${head} {`];
  const add = (nodes: readonly KNode[], depth: number) => {
    for (const c of nodes) {
      if (c.anonymous) continue;
      const text = showLine(c.keyword, c.line.raw);
      if (c.children) {
        lines.push(`${'  '.repeat(depth)}${text} {`);
        add(c.children, depth + 1);
        lines.push(`${'  '.repeat(depth)}}`);
      } else lines.push(`${'  '.repeat(depth)}${text}`);
    }
  };
  add(node.children, 1);
  lines.push('}');
  return lines.join('\n');
}

// ---------------------------------------------------------------- value readers

/** Marks the first `n` arguments of a keyword as read (the rest are reported as ignored). */
export function useArgs(node: KNode, n = node.args.length): void {
  const m = Math.min(n, node.args.length);
  if ((node.used ?? 0) < m) node.used = m;
}

export function argText(node: KNode, i = 0): string | undefined {
  useArgs(node, i + 1);
  return node.args[i]?.text;
}

function argLoc(node: KNode, i: number): SourceLoc {
  return (node.args[i] as Token | undefined)?.loc ?? node.loc;
}

export function needArg(ctx: ImportContext, node: KNode, what: string, i = 0): string | undefined {
  const v = argText(node, i);
  if (v === undefined) ctx.error(node.loc, `'${node.keyword}' needs ${what}`);
  return v;
}

export function readInt(ctx: ImportContext, node: KNode, min: number, max: number, i = 0): number | undefined {
  const text = needArg(ctx, node, `a number ${min}..${max}`, i);
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text)) {
    ctx.error(argLoc(node, i), `'${node.keyword}' needs a whole number ${min}..${max}, got '${text}'`);
    return undefined;
  }
  const n = Number(text);
  if (n < min || n > max) {
    ctx.error(argLoc(node, i), `'${node.keyword}' ${n} is out of range; use ${min}..${max}`);
    return undefined;
  }
  return n;
}

/** keepalived TIMER/decimal seconds (µs resolution), returned in seconds. */
export function readSeconds(ctx: ImportContext, node: KNode, opts: { min?: number; max?: number } = {}, i = 0): number | undefined {
  const text = needArg(ctx, node, 'a time in seconds', i);
  if (text === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(text)) {
    ctx.error(argLoc(node, i), `'${node.keyword}' needs a time in seconds like 3 or 1.5, got '${text}'`);
    return undefined;
  }
  const n = Math.round(Number(text) * 1e6) / 1e6;
  const { min = 0, max = 4294.967295 * 1000 } = opts;
  if (n < min || n > max) {
    ctx.error(argLoc(node, i), `'${node.keyword}' ${text} is out of range; use ${min}..${max} seconds`);
    return undefined;
  }
  return n;
}

const TRUE = new Set(['on', 'true', 'yes']);
const FALSE = new Set(['off', 'false', 'no']);

/** `<BOOL>`: the keyword alone means true; otherwise lower-case on/off/true/false/yes/no (G4). */
export function readBool(ctx: ImportContext, node: KNode, i = 0): boolean | undefined {
  const text = argText(node, i);
  if (text === undefined) return true;
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  ctx.error(argLoc(node, i), `'${node.keyword}' takes on/off/true/false/yes/no (lower case), got '${text}'`);
  return undefined;
}

export function readIp(ctx: ImportContext, node: KNode, i = 0, opts: { prefixIgnored?: boolean } = {}): string | undefined {
  let text = needArg(ctx, node, 'an IP address', i);
  if (text === undefined) return undefined;
  const slash = text.indexOf('/');
  if (opts.prefixIgnored && slash > 0 && /^\d{1,3}$/.test(text.slice(slash + 1)) && isIP(text.slice(0, slash)) !== 0) {
    ctx.warn(argLoc(node, i), `'${node.keyword}' takes an address; the prefix '${text.slice(slash)}' is ignored (as keepalived ignores it)`);
    text = text.slice(0, slash);
  }
  if (isIP(text) === 0) {
    ctx.error(argLoc(node, i), `'${text}' is not a valid IPv4 or IPv6 address`);
    return undefined;
  }
  return text;
}

export function readPort(ctx: ImportContext, node: KNode, i = 0): number | undefined {
  return readInt(ctx, node, 0, 65535, i);
}

/**
 * Script keywords re-read the raw line with shell-like quoting (G8):
 * `notify_master "/bin/x a b" user group` → {command: '/bin/x a b', user, group}.
 */
export function readScript(ctx: ImportContext, node: KNode): { command: string; user?: string; group?: string } | undefined {
  useArgs(node);
  const line = node.line;
  const start = node.loc.col - line.rawCol + node.keyword.length;
  const rest = line.raw.slice(Math.max(0, start));
  const words = shellSplit(rest);
  const [command, user, group] = words;
  if (!command) {
    ctx.error(node.loc, `'${node.keyword}' needs a command`);
    return undefined;
  }
  if (words.length > 3) ctx.warn(node.loc, `'${node.keyword}' has extra words after the user and group; quote the whole command`);
  return { command, ...(user ? { user } : {}), ...(group ? { group } : {}) };
}

/** `weight N [reverse]` as used by trackers. */
export function readWeight(ctx: ImportContext, node: KNode, min: number, max: number): { weight?: number; reverse?: boolean } {
  const weight = readInt(ctx, node, min, max);
  const out: { weight?: number; reverse?: boolean } = {};
  if (weight !== undefined) out.weight = weight;
  const extra = argText(node, 1);
  if (extra === 'reverse') out.reverse = true;
  else if (extra !== undefined) ctx.warn(argLoc(node, 1), `unexpected '${extra}' after the weight; only 'reverse' may follow`);
  return out;
}

export function list(target: Obj, key: string): unknown[] {
  const cur = target[key];
  if (Array.isArray(cur)) return cur;
  const arr: unknown[] = [];
  target[key] = arr;
  return arr;
}

export function child(target: Obj, key: string): Obj {
  const cur = target[key];
  if (cur && typeof cur === 'object' && !Array.isArray(cur)) return cur as Obj;
  const obj: Obj = {};
  target[key] = obj;
  return obj;
}

/** The tokens of every line in a value block (G14), one entry a line. */
export function valueLines(node: KNode): { tokens: string[]; node: KNode }[] {
  const out: { tokens: string[]; node: KNode }[] = [];
  for (const c of node.children ?? []) {
    if (c.anonymous) continue;
    out.push({ tokens: [c.keyword, ...c.args.map((a) => a.text)], node: c });
  }
  return out;
}

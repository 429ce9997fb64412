// Shared state and value readers for the keepalived importer: located diagnostics,
// the list of keywords not carried over, and model-path → source-location records
// (so semantic errors found later still point at the keepalived line).
import { isIP } from 'node:net';
import type { Diagnostic, SourceLoc } from '../diagnostics.js';
import { nearest } from '../diagnostics.js';
import { shellSplit, type Token } from './lexer.js';
import type { KNode } from './tree.js';

export type Path = (string | number)[];
export type Obj = Record<string, unknown>;

export interface Unsupported {
  keyword: string;
  block: string;
  loc: SourceLoc;
  note?: string;
}

export class ImportContext {
  readonly diagnostics: Diagnostic[] = [];
  readonly unsupported: Unsupported[] = [];
  private readonly locs = new Map<string, SourceLoc>();

  warn(loc: SourceLoc, message: string): void {
    this.diagnostics.push({ severity: 'warning', loc, message });
  }

  error(loc: SourceLoc, message: string): void {
    this.diagnostics.push({ severity: 'error', loc, message });
  }

  at(path: Path, loc: SourceLoc): void {
    this.locs.set(path.join('\0'), loc);
  }

  /** The location recorded for a path, or for its nearest recorded ancestor. */
  locOf(path: Path): SourceLoc | undefined {
    for (let n = path.length; n >= 0; n--) {
      const loc = this.locs.get(path.slice(0, n).join('\0'));
      if (loc) return loc;
    }
    return undefined;
  }

  notCarried(node: KNode, block: string, note?: string): void {
    this.unsupported.push({ keyword: node.keyword, block, loc: node.loc, ...(note ? { note } : {}) });
    this.warn(node.loc, `'${node.keyword}' in ${block} is not carried over to vipkeeper${note ? ` (${note})` : ''}`);
  }

  unknown(node: KNode, block: string, known: Iterable<string>): void {
    const hint = nearest(node.keyword, known);
    const suffix = hint ? `; did you mean '${hint}'?` : '';
    if (node.children) {
      this.warn(node.loc, `unknown block '${node.keyword}' in ${block} is skipped${suffix}`);
    } else {
      this.warn(node.loc, `unknown keyword '${node.keyword}' in ${block}${suffix}`);
    }
    this.unsupported.push({ keyword: node.keyword, block, loc: node.loc, note: 'unknown keyword' });
  }
}

// ---------------------------------------------------------------- value readers

export function argText(node: KNode, i = 0): string | undefined {
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

export function readIp(ctx: ImportContext, node: KNode, i = 0): string | undefined {
  const text = needArg(ctx, node, 'an IP address', i);
  if (text === undefined) return undefined;
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

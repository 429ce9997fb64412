// The keepalived importer's building blocks: a block is a table of keyword handlers, each
// writing our YAML *input* form into a target object and recording where each value came from.
import type { SourceLoc } from '../diagnostics.js';
import {
  argText,
  type ImportContext,
  needArg,
  readBool,
  readInt,
  readIp,
  readPort,
  readScript,
  readSeconds,
  readWeight,
  shownText,
  type Obj,
  type Path,
} from './context.js';
import { consequence, isInert, keywordsOf, lookup, type BlockId, type Resolved } from '../ledger/ledger.js';
import { HIDDEN, maskUrlCredentials } from '../secrets.js';
import type { KNode } from './tree.js';

export type Handler = (ctx: ImportContext, node: KNode, target: Obj, path: Path, state: State) => void;

/** A block's keyword handlers; the ledger (src/config/ledger) says what each keyword's status is. */
export interface Table {
  block: BlockId;
  handlers: Record<string, Handler>;
}

export function table(block: BlockId, handlers: Record<string, Handler>): Table {
  return { block, handlers };
}

/** Parse-order facts keepalived acts on (G15). */
export interface State {
  scriptsDefined: Map<string, number>; // vrrp_script name → order index of its definition
  trackFilesDefined: Map<string, number>;
  trackProcessesDefined: Set<string>; // vrrp_track_process names defined so far (references resolve while parsing)
  order: number; // running index of top-level blocks
  instancesBeforeGlobal: string[]; // instances declared before a global_defs block
  globalSeen: boolean;
  lateGlobalKeys: Set<string>;
}

export function newState(): State {
  return {
    scriptsDefined: new Map(),
    trackFilesDefined: new Map(),
    trackProcessesDefined: new Set(),
    order: 0,
    instancesBeforeGlobal: [],
    globalSeen: false,
    lateGlobalKeys: new Set(),
  };
}

export type { SourceLoc };

// ---------------------------------------------------------------- generic handlers

export const int =
  (key: string, min: number, max: number): Handler =>
  (ctx, node, t, path) => {
    const v = readInt(ctx, node, min, max);
    if (v !== undefined) set(ctx, t, path, key, v, node);
  };
export const secs =
  (key: string, opts: { min?: number; max?: number } = {}): Handler =>
  (ctx, node, t, path) => {
    const v = readSeconds(ctx, node, opts);
    if (v !== undefined) set(ctx, t, path, key, v, node);
  };
export const bool =
  (key: string): Handler =>
  (ctx, node, t, path) => {
    const v = readBool(ctx, node);
    if (v !== undefined) set(ctx, t, path, key, v, node);
  };
/** A keyword with no value; anything after it is reported as ignored by walk. */
export const flag =
  (key: string, value: unknown = true): Handler =>
  (ctx, node, t, path) =>
    set(ctx, t, path, key, value, node);
export const str =
  (key: string): Handler =>
  (ctx, node, t, path) => {
    const v = needArg(ctx, node, 'a value');
    if (v !== undefined) set(ctx, t, path, key, v, node);
  };
export const ip =
  (key: string): Handler =>
  (ctx, node, t, path) => {
    const v = readIp(ctx, node);
    if (v !== undefined) set(ctx, t, path, key, v, node);
  };
export const port =
  (key: string): Handler =>
  (ctx, node, t, path) => {
    const v = readPort(ctx, node);
    if (v !== undefined) set(ctx, t, path, key, v, node);
  };
/** Script keywords: the first one wins, a second is ignored (G16). */
export const script =
  (key: string): Handler =>
  (ctx, node, t, path) => {
    if (t[key] !== undefined) {
      ctx.warn(node.loc, `'${node.keyword}' is already specified; keepalived keeps the first and ignores this one`);
      return;
    }
    const v = readScript(ctx, node);
    if (v) set(ctx, t, path, key, v, node);
  };
export const enumOf =
  (key: string, values: readonly string[], opts: { caseInsensitive?: boolean } = {}): Handler =>
  (ctx, node, t, path) => {
    const raw = needArg(ctx, node, `one of ${values.join(', ')}`);
    if (raw === undefined) return;
    const v = opts.caseInsensitive ? values.find((x) => x.toLowerCase() === raw.toLowerCase()) : values.find((x) => x === raw);
    if (v === undefined) {
      const ci = values.find((x) => x.toLowerCase() === raw.toLowerCase());
      ctx.error(node.args[0]!.loc, `'${node.keyword}' ${raw} is not valid; use ${ci ? `'${ci}' (keepalived is case-sensitive here)` : `one of ${values.join(', ')}`}`);
      return;
    }
    set(ctx, t, path, key, v, node);
  };
/** `weight N [reverse]` of trackers and FILE_CHECK: weight and weight_reverse. */
export const weighted =
  (min: number, max: number): Handler =>
  (ctx, node, t, path) => {
    const w = readWeight(ctx, node, min, max);
    if (w.weight !== undefined) set(ctx, t, path, 'weight', w.weight, node);
    if (w.reverse) t.weight_reverse = true;
  };
/**
 * `garp_extra_if` / `vrrp_garp_extra_if [all] SECONDS` (and the deprecated `*vmac_garp_intvl`):
 * keepalived takes `all` anywhere on the line; without a time the line is ignored. The instance
 * keyword takes 0 (off, over a global value), the global one starts at 1.
 */
export const garpExtraIf =
  (key: string, min: number): Handler =>
  (ctx, node, t, path) => {
    let interval: number | undefined;
    let all = false;
    for (let i = 0; i < node.args.length; i++) {
      if (argText(node, i) === 'all') all = true;
      else {
        interval = readInt(ctx, node, min, 86400, i);
        if (interval === undefined) return;
      }
    }
    if (interval === undefined) {
      ctx.warn(node.loc, `'${node.keyword}' has no interval (seconds); keepalived ignores the line, and so does vipkeeper`);
      return;
    }
    set(ctx, t, path, key, { interval, all }, node);
  };
export function set(ctx: ImportContext, t: Obj, path: Path, key: string, value: unknown, node: KNode): void {
  t[key] = value;
  ctx.field(t, key, node.loc);
  void path;
}

/**
 * Runs a block's keywords through the ledger and their handlers:
 * - not in the ledger: an unknown keyword (keepalived warns and ignores it too);
 * - refused: an error; not acted on and writing nothing: recorded and warned about;
 * - otherwise the handler writes the model; a not-acted field it wrote is then dropped and
 *   reported, a partly acted one reported and kept;
 * - arguments the handler did not read are reported: keepalived reads one keyword a line.
 */
export function walk(ctx: ImportContext, nodes: readonly KNode[], tbl: Table, target: Obj, path: Path, st: State, where: string): void {
  for (const node of nodes) {
    if (node.anonymous) continue;
    ctx.keywords++;
    const entry = lookup(tbl.block, node.keyword);
    if (!entry) {
      ctx.unknown(node, where, keywordsOf(tbl.block), path);
      continue;
    }
    if (entry.status === 'refused' || (entry.status === 'not-acted' && !entry.fields)) {
      if (ctx.notActedDepth === 0 || entry.status === 'refused') record(ctx, node, entry, where, path, tbl.block);
      continue;
    }
    const handler = tbl.handlers[node.keyword] ?? tbl.handlers[entry.canonical];
    if (!handler) {
      // the ledger lists it but the importer cannot read it: a bug, said where it shows
      ctx.error(node.loc, `internal: vipkeeper has no reader for '${node.keyword}' in ${where}; please report this`);
      continue;
    }
    if (entry.deprecated && entry.canonical !== node.keyword) ctx.warn(node.loc, `'${node.keyword}' is deprecated; write '${entry.canonical}'`);
    // inside a block that is not acted on as a whole, only the block is reported (and dropped)
    if (entry.status === 'not-acted') ctx.notActedDepth++;
    try {
      handler(ctx, node, target, path, st);
    } finally {
      if (entry.status === 'not-acted') ctx.notActedDepth--;
    }
    reportIgnoredArgs(ctx, node, entry);
    if (ctx.notActedDepth > 0) continue;
    if (entry.status === 'not-acted') dropNotActed(ctx, node, entry, where, target, path, tbl.block);
    else if (entry.status === 'partial' && (entry.fields ?? []).some((f) => !isInert(entry, target[topKey(f)]))) {
      ctx.partial++;
      ctx.warnRepeated(`${tbl.block}\0${entry.canonical}`, `'${node.keyword}'`, node.loc, consequence(node.keyword, entry));
    }
  }
}

function topKey(field: string): string {
  return field.split(/[.[]/, 1)[0] as string;
}

function record(ctx: ImportContext, node: KNode, entry: Resolved, where: string, path: Path, block: BlockId, fields?: string[]): void {
  const status = entry.status === 'refused' ? 'refused' : 'not-acted';
  ctx.record(
    {
      keyword: node.keyword,
      block: where,
      loc: node.loc,
      status,
      note: status === 'refused' ? (entry.reason ?? '') : (entry.loses ?? ''),
      path,
      ...(fields ? { fields } : {}),
      text: shownText(node, entry.secret),
    },
    consequence(node.keyword, entry),
    `${block}\0${entry.canonical}`,
  );
}

/** A not-acted keyword's fields leave the model (unless inert) and the keyword is reported. */
function dropNotActed(ctx: ImportContext, node: KNode, entry: Resolved, where: string, target: Obj, path: Path, block: BlockId): void {
  const dropped: string[] = [];
  for (const f of new Set((entry.fields ?? []).map(topKey))) {
    const v = target[f];
    if (v === undefined || isInert(entry, v)) continue;
    delete target[f];
    dropped.push(f);
  }
  if (dropped.length) record(ctx, node, entry, where, path, block, dropped);
}

/** keepalived reads one keyword a line: what a handler did not read is ignored, and said so. */
function reportIgnoredArgs(ctx: ImportContext, node: KNode, entry: Resolved): void {
  const used = node.used ?? 0;
  const extra = node.args[used];
  if (!extra) return;
  const show = (from: number, to: number) =>
    entry.secret ? HIDDEN : maskUrlCredentials(node.args.slice(from, to).map((a) => a.text).join(' '));
  const head = used === 0 ? `'${node.keyword}'` : `'${node.keyword} ${show(0, used)}'`;
  ctx.warn(extra.loc, `ignored after ${head}: '${show(used, node.args.length)}' (keepalived reads one keyword a line)`);
}

export function needBlock(ctx: ImportContext, node: KNode): node is KNode & { children: KNode[] } {
  if (node.children) return true;
  ctx.error(node.loc, `'${node.keyword}' must be followed by a '{ … }' block`);
  return false;
}

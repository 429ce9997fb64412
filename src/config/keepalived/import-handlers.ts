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
  type Obj,
  type Path,
} from './context.js';
import type { KNode } from './tree.js';

export type Handler = (ctx: ImportContext, node: KNode, target: Obj, path: Path, state: State) => void;
export type Table = Record<string, Handler>;

/** Parse-order facts keepalived acts on (G15). */
export interface State {
  scriptsDefined: Map<string, number>; // vrrp_script name → order index of its definition
  trackFilesDefined: Map<string, number>;
  order: number; // running index of top-level blocks
  instancesBeforeGlobal: string[]; // instances declared before a global_defs block
  globalSeen: boolean;
  lateGlobalKeys: Set<string>;
}

export function newState(): State {
  return {
    scriptsDefined: new Map(),
    trackFilesDefined: new Map(),
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
export const flag =
  (key: string, value: unknown = true): Handler =>
  (ctx, node, t, path) => {
    if (node.args.length) ctx.warn(node.args[0]!.loc, `'${node.keyword}' takes no value; '${argText(node)}' is ignored`);
    set(ctx, t, path, key, value, node);
  };
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
export const unsupported =
  (block: string, note?: string): Handler =>
  (ctx, node) =>
    ctx.notCarried(node, block, note);
export const deprecated =
  (inner: Handler, instead: string): Handler =>
  (ctx, node, t, path, st) => {
    ctx.warn(node.loc, `'${node.keyword}' is deprecated; write '${instead}'`);
    inner(ctx, node, t, path, st);
  };

export function set(ctx: ImportContext, t: Obj, path: Path, key: string, value: unknown, node: KNode): void {
  t[key] = value;
  ctx.at([...path, key], node.loc);
}

export function walk(ctx: ImportContext, nodes: readonly KNode[], table: Table, target: Obj, path: Path, st: State, block: string): void {
  for (const node of nodes) {
    if (node.anonymous) continue;
    const h = Object.hasOwn(table, node.keyword) ? table[node.keyword] : undefined;
    if (h) h(ctx, node, target, path, st);
    else ctx.unknown(node, block, Object.keys(table));
  }
}

export function needBlock(ctx: ImportContext, node: KNode): node is KNode & { children: KNode[] } {
  if (node.children) return true;
  ctx.error(node.loc, `'${node.keyword}' must be followed by a '{ … }' block`);
  return false;
}

/** Adds P2 keywords that we recognise but do not carry over. */
export function withUnsupported(table: Table, block: string, names: string[], notes: Record<string, string> = {}): Table {
  for (const n of names) table[n] ??= unsupported(block, notes[n]);
  return table;
}

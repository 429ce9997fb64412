// The ledger applied to a YAML document (before the schema fills defaults): every field that is
// not acted on, or only partly, is found where it is written; not-acted ones leave the document,
// so the loaded model never carries them, exactly as the keepalived importer drops them.
import { parseVipLine } from '../schema.js';
import { isInert, reportedFields, type FieldUse } from './ledger.js';

export interface Found {
  /** The model path of the field, e.g. ['instances', 'VI_1', 'use_vmac']. */
  path: (string | number)[];
  use: FieldUse;
  /** The field's name as written. */
  name: string;
}

type Container = Record<string, unknown> | unknown[];

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function tokens(pattern: string): string[] {
  const out: string[] = [];
  for (const part of pattern.split('.')) {
    const m = /^(.*?)((?:\[\])*)$/.exec(part) as RegExpExecArray;
    if (m[1]) out.push(m[1]);
    for (let i = 0; i < (m[2] ?? '').length / 2; i++) out.push('[]');
  }
  return out;
}

/** VIP lists may hold the one-line string form (`10.0.0.1/24 dev eth0 no_track`). */
const VIP_LISTS = new Set(['virtual_ipaddress', 'virtual_ipaddress_excluded']);

/**
 * Finds the reported fields present in `doc` (a js-yaml document). With `strip`, not-acted
 * fields that are not inert are removed from it.
 */
export function applyLedger(doc: Record<string, unknown>, strip: boolean): Found[] {
  const found: Found[] = [];
  for (const use of reportedFields()) {
    const toks = tokens(use.pattern);
    const drop = strip && use.entry.status === 'not-acted';
    // one path stack, copied only for a field found: a large config has 100,000 list entries to pass
    const path: (string | number)[] = [];
    const visit = (node: unknown, i: number, listKey: string | undefined, parent: Container | undefined, index: number | undefined): void => {
      const tok = toks[i] as string;
      const last = i === toks.length - 1;
      if (tok === '[]') {
        if (!Array.isArray(node)) return;
        for (let k = 0; k < node.length; k++) {
          path.push(k);
          visit(node[k], i + 1, listKey, node, k);
          path.pop();
        }
        return;
      }
      if (tok === '*') {
        if (!isObject(node)) return;
        for (const k of Object.keys(node)) {
          path.push(k);
          visit(node[k], i + 1, undefined, node, undefined);
          path.pop();
        }
        return;
      }
      if (typeof node === 'string' && last && listKey !== undefined && VIP_LISTS.has(listKey) && Array.isArray(parent) && index !== undefined) {
        const parsed = parseVipLine(node.trim().split(/\s+/));
        if ('error' in parsed) return;
        const v = (parsed.vip as Record<string, unknown>)[tok];
        if (v === undefined || isInert(use.entry, v)) return;
        found.push({ path: [...path, tok], use, name: tok });
        if (drop) {
          delete (parsed.vip as Record<string, unknown>)[tok];
          parent[index] = parsed.vip;
        }
        return;
      }
      if (!isObject(node) || !Object.hasOwn(node, tok)) return;
      if (last) {
        const v = node[tok];
        if (isInert(use.entry, v)) return;
        found.push({ path: [...path, tok], use, name: tok });
        if (drop) delete node[tok];
        return;
      }
      path.push(tok);
      visit(node[tok], i + 1, tok, node, undefined);
      path.pop();
    };
    visit(doc, 0, undefined, undefined, undefined);
  }
  return found;
}

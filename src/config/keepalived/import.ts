// The keepalived importer's pipeline: lex → keyword tree → the block tables (import-root.ts
// and the files it names) → whole-config fix-ups → the same zod schema and validateConfig as a
// YAML file, so an imported config and its migrated YAML load to deep-equal models.
import type { Diagnostic } from '../diagnostics.js';
import { parseConfigModel } from '../parse-model.js';
import type { Config } from '../schema.js';
import { validateConfig, type ModelIssue } from '../validate.js';
import { ImportContext, type Obj, type Path, type Unsupported } from './context.js';
import { newState, walk } from './import-handlers.js';
import { ROOT } from './import-root.js';
import { finishVirtualServers } from './import-lvs.js';
import { finishInstances } from './import-vrrp.js';
import { lexKeepalived, lexKeepalivedText, ConfigSyntaxError, type LexOptions, type LexResult, type LineSink } from './lexer.js';
import { TreeBuilder } from './tree.js';

export interface ImportResult {
  config?: Config; // present when the import has no error
  input: Obj; // the YAML input form before schema defaults
  diagnostics: Diagnostic[];
  /** Keywords not acted on, refused or unknown, each located (the ledger says why). */
  unsupported: Unsupported[];
  /** Keyword lines read, and how many of them are only partly acted on. */
  counts: { keywords: number; partial: number };
  files: string[];
}

export interface ImportOptions extends LexOptions {
  /** Further checks of the loaded model (e.g. this host's interfaces), located like the rest. */
  check?: (config: Config) => ModelIssue[];
}

export function importKeepalivedText(text: string, file: string, opts: ImportOptions): ImportResult {
  return twoPass((o) => importLexed((sink) => lexKeepalivedText(text, file, o, sink), file, o, false), (o) => importLexed((sink) => lexKeepalivedText(text, file, o, sink), file, o, true), opts);
}

export function importKeepalived(path: string, opts: ImportOptions): ImportResult {
  return twoPass((o) => importLexed((sink) => lexKeepalived(path, o, sink), path, o, false), (o) => importLexed((sink) => lexKeepalived(path, o, sink), path, o, true), opts);
}

/**
 * A lean first pass (no locations inside real servers); only when a finding inside a real server
 * needs its place is the config read again with every location. The second pass sees the same
 * files and the same random numbers (${_RANDOM}), so it finds the same things.
 */
function twoPass(lean: (o: ImportOptions) => ImportResult & { wantsFull: boolean }, full: (o: ImportOptions) => ImportResult, opts: ImportOptions): ImportResult {
  const drawn: number[] = [];
  const random = opts.random ?? Math.random;
  const texts = new Map<string, string>();
  const readFile = opts.readFile;
  const first = lean({
    ...opts,
    random: () => {
      const v = random();
      drawn.push(v);
      return v;
    },
    ...(readFile ? { readFile: (p: string) => {
      const t = readFile(p);
      texts.set(p, t);
      return t;
    } } : {}),
  });
  if (!first.wantsFull) {
    const { wantsFull: _w, ...r } = first;
    return r;
  }
  let i = 0;
  return full({
    ...opts,
    random: () => (i < drawn.length ? (drawn[i++] as number) : random()),
    ...(readFile ? { readFile: (p: string) => texts.get(p) ?? readFile(p) } : {}),
  });
}

/**
 * Lines go from the lexer into the tree builder, and each top-level block is read into the model
 * as soon as it is complete: the tokens and nodes of a large config never all exist at once.
 */
function importLexed(lex: (sink: LineSink) => LexResult, file: string, opts: ImportOptions, full: boolean): ImportResult & { wantsFull: boolean } {
  const ctx = new ImportContext();
  ctx.full = full;
  const input: Obj = {};
  ctx.root = input;
  ctx.file = file;
  const st = newState();
  let empty = true;
  const tree = new TreeBuilder(ctx.diagnostics, (node) => {
    if (!node.anonymous) empty = false;
    walk(ctx, [node], ROOT, input, [], st, 'the top level');
  });
  let lexed: LexResult;
  try {
    lexed = lex((line) => tree.push(line));
  } catch (e) {
    if (e instanceof ConfigSyntaxError) {
      return { input: {}, diagnostics: [{ severity: 'error', loc: e.loc, message: e.message }], unsupported: [], counts: { keywords: 0, partial: 0 }, files: [file], wantsFull: false };
    }
    throw e;
  }
  tree.finish();
  // the lexer's own findings first, as they come first in reading order of kinds
  ctx.diagnostics.unshift(...lexed.diagnostics);
  const files = lexed.files;
  if (empty) ctx.error({ file, line: 1, col: 1 }, 'the config is empty: it has no keyword; a keepalived.conf needs a vrrp_instance or a virtual_server');
  finishInstances(ctx, input, st);
  finishVirtualServers(ctx, input);
  ctx.flushRepeats();

  const base = { input, unsupported: ctx.unsupported, counts: { keywords: ctx.keywords, partial: ctx.partial }, files };
  const parsed = parseConfigModel(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const loc = ctx.locOf(issue.path as Path) ?? { file, line: 1, col: 1 };
      ctx.error(loc, `${issue.path.join('.')}: ${issue.message}`);
    }
    ctx.flushOmitted(file);
    return { ...base, diagnostics: ctx.diagnostics, wantsFull: ctx.wantsFull };
  }
  for (const i of [...validateConfig(parsed.data), ...(opts.check?.(parsed.data) ?? [])]) {
    const loc = ctx.locOf(i.path) ?? { file, line: 1, col: 1 };
    ctx.diagnostics.push({ severity: i.severity, loc, message: i.message });
  }
  ctx.flushOmitted(file);
  const ok = !ctx.diagnostics.some((d) => d.severity === 'error');
  return { ...base, diagnostics: ctx.diagnostics, ...(ok ? { config: parsed.data } : {}), wantsFull: ctx.wantsFull };
}

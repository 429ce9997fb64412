// The keepalived importer's pipeline: lex → keyword tree → the block tables (import-root.ts
// and the files it names) → whole-config fix-ups → the same zod schema and validateConfig as a
// YAML file, so an imported config and its migrated YAML load to deep-equal models.
import type { Diagnostic } from '../diagnostics.js';
import { ConfigSchema, type Config } from '../schema.js';
import { validateConfig } from '../validate.js';
import { ImportContext, type Obj, type Path, type Unsupported } from './context.js';
import { newState, walk } from './import-handlers.js';
import { ROOT } from './import-root.js';
import { finishInstances } from './import-vrrp.js';
import { lexKeepalived, lexKeepalivedText, ConfigSyntaxError, type LexOptions } from './lexer.js';
import { buildTree, type KNode } from './tree.js';

export interface ImportResult {
  config?: Config; // present when the import has no error
  input: Obj; // the YAML input form before schema defaults
  diagnostics: Diagnostic[];
  unsupported: Unsupported[];
  files: string[];
}

export interface ImportOptions extends LexOptions {}

export function importKeepalivedText(text: string, file: string, opts: ImportOptions): ImportResult {
  return importLexed(() => lexKeepalivedText(text, file, opts), file);
}

export function importKeepalived(path: string, opts: ImportOptions): ImportResult {
  return importLexed(() => lexKeepalived(path, opts), path);
}

function importLexed(lex: () => ReturnType<typeof lexKeepalived>, file: string): ImportResult {
  const ctx = new ImportContext();
  let lexed: ReturnType<typeof lexKeepalived> | undefined;
  try {
    lexed = lex();
  } catch (e) {
    if (e instanceof ConfigSyntaxError) {
      return { input: {}, diagnostics: [{ severity: 'error', loc: e.loc, message: e.message }], unsupported: [], files: [file] };
    }
    throw e;
  }
  ctx.diagnostics.push(...lexed.diagnostics);
  const files = lexed.files;
  // Lines and tree are the bulk of the import's memory (~30 MB at 10,000 real servers): they
  // are let go once walked, so they are not still held while the schema parses a copy.
  let tree: KNode[] | undefined = buildTree(lexed.lines, ctx.diagnostics);
  lexed = undefined;
  const input: Obj = {};
  const st = newState();
  walk(ctx, tree, ROOT, input, [], st, 'the top level');
  tree = undefined;
  finishInstances(ctx, input, st);

  const base = { input, unsupported: ctx.unsupported, files };
  const parsed = ConfigSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const loc = ctx.locOf(issue.path as Path) ?? { file, line: 1, col: 1 };
      ctx.error(loc, `${issue.path.join('.')}: ${issue.message}`);
    }
    return { ...base, diagnostics: ctx.diagnostics };
  }
  for (const i of validateConfig(parsed.data)) {
    const loc = ctx.locOf(i.path) ?? { file, line: 1, col: 1 };
    ctx.diagnostics.push({ severity: i.severity, loc, message: i.message });
  }
  const ok = !ctx.diagnostics.some((d) => d.severity === 'error');
  return { ...base, diagnostics: ctx.diagnostics, ...(ok ? { config: parsed.data } : {}) };
}

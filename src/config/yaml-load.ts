// Reads our YAML config: js-yaml for the text, the keyword ledger for what vipkeeper does not act
// on, the zod schema for shape and defaults, validateConfig for the cross-field rules. Every
// problem comes back located.
import { createRequire } from 'node:module';
import type jsYaml from 'js-yaml';
import type { z } from 'zod';
import type { Diagnostic } from './diagnostics.js';
import { applyLedger } from './ledger/apply.js';
import { consequence } from './ledger/ledger.js';
import { parseConfigModel } from './parse-model.js';
import type { Config } from './schema.js';
import { validateConfig, type ModelIssue } from './validate.js';
import { yamlLocator } from './yaml-locate.js';

export interface LoadResult {
  config?: Config; // present when there is no error
  diagnostics: Diagnostic[];
  /** Fields not acted on (dropped from the model) and partly acted on (kept), as found. */
  notActed: number;
  partial: number;
}

export interface YamlLoadOptions {
  /** Further checks of the loaded model (e.g. this host's interfaces), located like the rest. */
  check?: (config: Config) => ModelIssue[];
}

// js-yaml is loaded on the first YAML file: a keepalived.conf check does without it (startup
// CPU and memory; issue 19). Its CommonJS entry, as the loader is synchronous.
let yamlLib: typeof jsYaml | undefined;
const yaml = () => (yamlLib ??= createRequire(import.meta.url)('js-yaml') as typeof jsYaml);

/** Past this many warnings for one field, the rest are counted, not printed. */
const SAME_FIELD_LIMIT = 5;

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length ? `'${issue.path.join('.')}': ` : '';
  if (issue.code === 'unrecognized_keys') return `${where}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}; see config/vipkeeper.schema.json for the known keys`;
  if (issue.code === 'invalid_union') {
    const msgs = issue.errors.flat().map((e) => e.message);
    return `${where}${[...new Set(msgs)].join('; or ')}`;
  }
  return `${where}${issue.message}`;
}

export function loadYamlText(text: string, file: string, opts: YamlLoadOptions = {}): LoadResult {
  const none = { notActed: 0, partial: 0 };
  let doc: unknown;
  try {
    doc = yaml().load(text, { filename: file });
  } catch (e) {
    const ex = e as jsYaml.YAMLException;
    const mark = ex.mark;
    return {
      ...none,
      diagnostics: [{ severity: 'error', loc: { file, line: (mark?.line ?? 0) + 1, col: (mark?.column ?? 0) + 1 }, message: `invalid YAML: ${ex.reason ?? ex.message}` }],
    };
  }
  if (doc !== undefined && doc !== null && (typeof doc !== 'object' || Array.isArray(doc))) {
    return { ...none, diagnostics: [{ severity: 'error', loc: { file, line: 1, col: 1 }, message: 'the config must be a YAML mapping with keys like instances and virtual_servers' }] };
  }
  if (doc === undefined || doc === null || Object.keys(doc).length === 0) {
    return { ...none, diagnostics: [{ severity: 'error', loc: { file, line: 1, col: 1 }, message: 'the config is empty: it has no key; a vipkeeper config needs instances or virtual_servers' }] };
  }
  const locate = yamlLocator(text);
  const diagnostics: Diagnostic[] = [];
  const found = applyLedger(doc as Record<string, unknown>, true);
  const seen = new Map<string, { n: number; loc: Diagnostic['loc'] }>();
  for (const f of found) {
    const loc = { file, ...locate(f.path) };
    const s = seen.get(f.use.pattern);
    if (s) s.n++;
    else seen.set(f.use.pattern, { n: 1, loc });
    if ((s?.n ?? 1) <= SAME_FIELD_LIMIT) diagnostics.push({ severity: 'warning', loc, message: consequence(f.name, f.use.entry) });
  }
  for (const [pattern, s] of seen) {
    if (s.n > SAME_FIELD_LIMIT) {
      diagnostics.push({ severity: 'warning', loc: s.loc, message: `${s.n - SAME_FIELD_LIMIT} more '${pattern.split('.').pop()}' fields have the same warning (the first ${SAME_FIELD_LIMIT} are listed)` });
    }
  }
  const counts = { notActed: found.filter((f) => f.use.entry.status === 'not-acted').length, partial: found.filter((f) => f.use.entry.status === 'partial').length };

  const parsed = parseConfigModel(doc);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // Unknown keys are reported at the key itself, not at its parent.
      const path = issue.code === 'unrecognized_keys' && issue.keys[0] ? [...issue.path, issue.keys[0]] : issue.path;
      diagnostics.push({ severity: 'error', loc: { file, ...locate(path) }, message: describeIssue(issue) });
    }
    return { ...counts, diagnostics };
  }
  for (const i of [...validateConfig(parsed.data), ...(opts.check?.(parsed.data) ?? [])]) {
    diagnostics.push({ severity: i.severity, loc: { file, ...locate(i.path) }, message: i.message });
  }
  return diagnostics.some((d) => d.severity === 'error') ? { ...counts, diagnostics } : { ...counts, config: parsed.data, diagnostics };
}

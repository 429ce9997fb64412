// Reads our YAML config: js-yaml for the text, the zod schema for shape and defaults,
// validateConfig for the cross-field rules. Every problem comes back located.
import yaml from 'js-yaml';
import type { z } from 'zod';
import type { Diagnostic } from './diagnostics.js';
import { ConfigSchema, type Config } from './schema.js';
import { validateConfig } from './validate.js';
import { locateYamlPath } from './yaml-locate.js';

export interface LoadResult {
  config?: Config; // present when there is no error
  diagnostics: Diagnostic[];
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length ? `'${issue.path.join('.')}': ` : '';
  if (issue.code === 'unrecognized_keys') return `${where}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}; see config/vipkeeper.schema.json for the known keys`;
  if (issue.code === 'invalid_union') {
    const msgs = issue.errors.flat().map((e) => e.message);
    return `${where}${[...new Set(msgs)].join('; or ')}`;
  }
  return `${where}${issue.message}`;
}

export function loadYamlText(text: string, file: string): LoadResult {
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: file });
  } catch (e) {
    const ex = e as yaml.YAMLException;
    const mark = ex.mark;
    return {
      diagnostics: [{ severity: 'error', loc: { file, line: (mark?.line ?? 0) + 1, col: (mark?.column ?? 0) + 1 }, message: `invalid YAML: ${ex.reason ?? ex.message}` }],
    };
  }
  if (doc === undefined || doc === null) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    return { diagnostics: [{ severity: 'error', loc: { file, line: 1, col: 1 }, message: 'the config must be a YAML mapping with keys like instances and virtual_servers' }] };
  }
  const parsed = ConfigSchema.safeParse(doc);
  if (!parsed.success) {
    const diagnostics = parsed.error.issues.map((issue): Diagnostic => {
      // Unknown keys are reported at the key itself, not at its parent.
      const path = issue.code === 'unrecognized_keys' && issue.keys[0] ? [...issue.path, issue.keys[0]] : issue.path;
      const pos = locateYamlPath(text, path);
      return { severity: 'error', loc: { file, ...pos }, message: describeIssue(issue) };
    });
    return { diagnostics };
  }
  const diagnostics = validateConfig(parsed.data).map(
    (i): Diagnostic => ({ severity: i.severity, loc: { file, ...locateYamlPath(text, i.path) }, message: i.message }),
  );
  return diagnostics.some((d) => d.severity === 'error') ? { diagnostics } : { config: parsed.data, diagnostics };
}

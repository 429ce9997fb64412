// Property tests: whatever text arrives, the importer and the YAML loader answer with
// located diagnostics (or a config) and never throw.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../src/config/diagnostics.js';
import { importKeepalivedText } from '../src/config/keepalived/import.js';
import { loadConfigText } from '../src/config/load.js';
import { loadYamlText } from '../src/config/yaml-load.js';
import { FIXTURES, fixture } from './fixtures/keepalived/fixtures.js';

/** The keepalived.conf fixtures (test/fixtures/keepalived/), the template included. */
const samples = FIXTURES.map((f) => readFileSync(fixture(f.file), 'utf8'));

const noFiles = { configId: 'lvs1', readFile: () => { throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' }); }, glob: () => [] };

function located(ds: Diagnostic[]): void {
  for (const d of ds) {
    expect(d.loc.line).toBeGreaterThanOrEqual(1);
    expect(d.loc.col).toBeGreaterThanOrEqual(1);
    expect(typeof d.message).toBe('string');
  }
}

const pieces = ['{', '}', '"', "'", '\\', '$X=', '$X', '${X}', '@lvs1 ', '@^x ', '~SEQ(i,1,3) ', '#', '!', '\n', ' ', 'vrrp_instance', 'virtual_server', 'real_server', '10.0.0.1', '300', 'include x', 'TCP_CHECK', '-1', 'fwmark'];

/** A fixture with random edits: characters and keepalived tokens inserted, deleted or swapped. */
const mutated = fc
  .tuple(
    fc.constantFrom(...samples),
    fc.array(fc.tuple(fc.nat(), fc.nat(6), fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 4 }))), { minLength: 1, maxLength: 12 }),
  )
  .map(([text, edits]) => {
    let t = text;
    for (const [pos, del, ins] of edits) {
      const at = pos % (t.length + 1);
      t = t.slice(0, at) + ins + t.slice(at + del);
    }
    return t;
  });

describe('config input never crashes', () => {
  it('importer: random text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400, unit: 'binary' }), (text) => {
        located(importKeepalivedText(text, '/x/keepalived.conf', noFiles).diagnostics);
      }),
      { numRuns: 400 },
    );
  });

  it('importer: mutated fixtures', () => {
    fc.assert(
      fc.property(mutated, (text) => {
        const r = importKeepalivedText(text, '/x/keepalived.conf', noFiles);
        located(r.diagnostics);
        // A result is either a config or at least one error.
        expect(r.config !== undefined || r.diagnostics.some((d) => d.severity === 'error')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('YAML loader: random and structured input', () => {
    const yamlish = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify({ instances: { VI: v } })),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify({ virtual_servers: [v] })),
    );
    fc.assert(
      fc.property(yamlish, (text) => {
        located(loadYamlText(text, 'x.yaml').diagnostics);
        located(loadConfigText(text, 'x.conf').diagnostics);
      }),
      { numRuns: 400 },
    );
  });
});

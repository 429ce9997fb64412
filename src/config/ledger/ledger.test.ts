// The keyword ledger cannot drift from the code: every field the importer writes and every field
// of the schema has an entry; an entry that says "acted on by M" names a module that reads the
// field; a field marked not acted on is read by no runtime module; the importer has a reader for
// every keyword it must read; and docs/keepalived-ledger.md is the ledger as rendered now.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { formatDiagnostic } from '../diagnostics.js';
import { importKeepalivedText } from '../keepalived/import.js';
import { TABLES } from '../keepalived/import-root.js';
import { ConfigSchema, parseVipLine } from '../schema.js';
import { loadYamlText } from '../yaml-load.js';
import { BLOCKS, fieldUses, lookup, patternOf, reportedFields, type BlockId } from './ledger.js';
import { renderLedger } from './render.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (p: string) => readFileSync(join(root, p), 'utf8');

/** Every (block, keyword) with its resolved entry. */
function allEntries() {
  return (Object.keys(BLOCKS) as BlockId[]).flatMap((block) => Object.keys(BLOCKS[block].entries).map((keyword) => ({ block, keyword, entry: lookup(block, keyword)! })));
}

/** A keyword the importer must have a reader for: it writes the model, or is handled in place. */
function needsReader(e: ReturnType<typeof lookup> & object): boolean {
  if (e.status === 'refused') return false;
  if (e.status === 'not-acted' && !e.fields) return false;
  return !(e.structural && e.by?.[0] === 'src/config/keepalived/source.ts' && !['include_check'].includes(e.keyword));
}

describe('the keyword ledger', () => {
  it('is published as docs/keepalived-ledger.md, current (npm run ledger writes it)', () => {
    expect(read('docs/keepalived-ledger.md')).toBe(renderLedger());
  });

  it('gives each entry what its status needs, and names modules that exist', () => {
    for (const { block, keyword, entry } of allEntries()) {
      const where = `${block} ${keyword}`;
      if (entry.status === 'not-acted' || entry.status === 'partial') expect(entry.loses, where).toBeTruthy();
      if (entry.status === 'refused') expect(entry.reason, where).toBeTruthy();
      if (entry.status === 'acted' || entry.status === 'partial') expect(entry.by?.length, where).toBeGreaterThan(0);
      for (const m of entry.by ?? []) expect(existsSync(join(root, m)), `${where}: ${m}`).toBe(true);
    }
  });

  it('says "acted on by M" only where M reads the field', () => {
    const missing: string[] = [];
    for (const { block, keyword, entry } of allEntries()) {
      if ((entry.status !== 'acted' && entry.status !== 'partial') || entry.structural) continue;
      for (const f of entry.fields ?? []) {
        const name = (f.split('.').pop() as string).replace(/\[\]$/g, '');
        const re = new RegExp(`(?:\\?\\.|\\.)${name}\\b|['"\`]${name}['"\`]|[{,]\\s*${name}\\s*[,}:=]`);
        if (!(entry.by ?? []).some((m) => re.test(read(m)))) missing.push(`${block} ${keyword}: '${name}' is read by none of ${entry.by?.join(', ')}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('marks not acted on only fields that no runtime module reads (else: move the entry to acted on)', () => {
    // names that are also the name of an acted-on field somewhere cannot be told apart by reading
    const acted = new Set<string>();
    for (const uses of fieldUses().values()) {
      for (const u of uses) if (u.entry.status === 'acted' || u.entry.status === 'partial') acted.add(u.pattern.split('.').pop()!.replace(/\[\]$/, ''));
    }
    const runtime = ['src/vrrp', 'src/daemon', 'src/check', 'src/ipvs', 'src/net']
      .flatMap((d) => readdirSync(join(root, d)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => `${d}/${f}`))
      // the reload diff compares configs field by field; it does not act on them
      .filter((f) => f !== 'src/daemon/vrrp-reload.ts');
    const texts = runtime.map((f) => [f, read(f)] as const);
    const readers: string[] = [];
    for (const u of reportedFields()) {
      if (u.entry.status !== 'not-acted') continue;
      const name = u.pattern.split('.').pop()!.replace(/\[\]$/, '');
      if (acted.has(name)) continue;
      const re = new RegExp(`(?:\\?\\.|\\.)${name}\\b|['"]${name}['"]`);
      for (const [f, t] of texts) if (re.test(t) && !READ_BUT_NOT_ACTED[`${name} ${f}`]) readers.push(`${u.pattern} is read by ${f}`);
    }
    expect(readers).toEqual([]);
  });

  it('covers every field of the config schema', () => {
    const known = fieldUses();
    const missing = schemaFields().filter((p) => !known.has(p));
    expect(missing).toEqual([]);
  });

  it('and the importer agree: a reader for every keyword that needs one, and no reader for any other', () => {
    const problems: string[] = [];
    for (const t of TABLES) {
      for (const keyword of Object.keys(t.handlers)) {
        const e = lookup(t.block, keyword);
        if (!e) problems.push(`${t.block} ${keyword}: a reader with no ledger entry`);
        else if (!needsReader(e)) problems.push(`${t.block} ${keyword}: a reader the ledger never lets run (${e.status})`);
      }
    }
    const tables = new Map(TABLES.map((t) => [t.block, t]));
    for (const { block, keyword, entry } of allEntries()) {
      if (!needsReader(entry)) continue;
      if (block === 'virtual_address') {
        // a VIP line's options are read by parseVipLine
        const parsed = parseVipLine(['10.0.0.1/24', keyword, ...(VIP_ARG[keyword] ? [VIP_ARG[keyword]] : [])]);
        if ('error' in parsed || parsed.unknown.length) problems.push(`virtual_address ${keyword}: parseVipLine does not read it`);
        continue;
      }
      const t = tables.get(block);
      if (!t?.handlers[keyword] && !t?.handlers[entry.canonical]) problems.push(`${block} ${keyword}: no reader in the importer`);
    }
    expect(problems).toEqual([]);
  });
});

describe('a config with every keyword vipkeeper reads (test/fixtures/ledger/every-keyword.conf)', () => {
  const file = join(root, 'test/fixtures/ledger/every-keyword.conf');
  const text = readFileSync(file, 'utf8');
  const r = importKeepalivedText(text, file, { configId: 'lvs1' });

  it('imports without an error', () => {
    expect(r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
    expect(r.config).toBeDefined();
  });

  it('uses every keyword the importer has a reader for', () => {
    const words = new Set(text.split(/\s+/));
    const unused = allEntries()
      .filter(({ entry }) => needsReader(entry) && !entry.structural)
      .filter(({ keyword }) => !words.has(keyword))
      .map(({ block, keyword }) => `${block} ${keyword}`);
    expect(unused).toEqual([]);
  });

  it('writes only fields the ledger knows: acted on (by a module that reads them) or not acted on', () => {
    const written = new Set<string>();
    const walk = (v: unknown, path: (string | number)[]) => {
      // fields, not the entries of a list or of a record
      const p = patternOf(path);
      if (path.length && !p.endsWith('*') && !p.endsWith('[]')) written.add(p);
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    };
    walk(r.input, []);
    for (const u of r.unsupported) for (const f of u.fields ?? []) written.add(patternOf([...u.path, f]));
    const known = fieldUses();
    expect([...written].filter((p) => !known.has(p)).sort()).toEqual([]);
    // and what is not acted on is not in the model
    for (const u of reportedFields().filter((x) => x.entry.status === 'not-acted' && !x.entry.inert)) {
      expect(written.has(u.pattern) ? u.pattern : '', `${u.pattern} is dropped, and reported`).toBe(r.unsupported.some((x) => patternOf([...x.path, ...(x.fields ?? [])]) === u.pattern) ? u.pattern : '');
    }
  });

  it('reports every keyword it does not act on where it is written, with what is lost', () => {
    const notActed = r.unsupported.filter((u) => u.status === 'not-acted');
    expect(notActed.length).toBeGreaterThan(10);
    const warnings = new Set(r.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic));
    for (const u of notActed) {
      expect([...warnings].some((w) => w.startsWith(`${file}:${u.loc.line}:${u.loc.col}: warning: '${u.keyword}' is not acted on by vipkeeper: `)), `${u.keyword} at ${u.loc.line}`).toBe(true);
    }
  });
});

describe('the ledger on a YAML config', () => {
  it('warns where each not-acted field is written, and the model does not carry it', () => {
    const yaml = [
      'global:',
      '  enable_snmp_vrrp: true',
      '  enable_traps: true',
      'instances:',
      '  VI_1:',
      '    interface: eth0',
      '    virtual_router_id: 5',
      '    track_src_ip: true',
      '    accept: true',
      '    virtual_ipaddress:',
      '      - 10.0.0.1/24 no_track nodad',
      '      - { address: 10.0.0.2, prefix: 24, nodad: true }',
    ].join('\n');
    const r = loadYamlText(yaml, 'x.yaml');
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      "x.yaml:2:3: warning: 'enable_snmp_vrrp' is not acted on by vipkeeper: there is no SNMP sub-agent; the same states and counters are on the metrics endpoint (GET /metrics on the control API, Prometheus format)",
      "x.yaml:3:3: warning: 'enable_traps' is not acted on by vipkeeper: there is no SNMP sub-agent; the same states and counters are on the metrics endpoint (GET /metrics on the control API, Prometheus format)",
      "x.yaml:8:5: warning: 'track_src_ip' is not acted on by vipkeeper: the instance does not go to FAULT when its source address disappears",
      "x.yaml:11:9: warning: 'nodad' is not acted on by vipkeeper: duplicate address detection is not turned off for the VIP",
      "x.yaml:12:9: warning: 'nodad' is not acted on by vipkeeper: duplicate address detection is not turned off for the VIP",
    ]);
    const c = r.config!;
    expect(c.global.enable_snmp_vrrp).toBe(false);
    expect(c.global.enable_traps).toBe(false);
    expect(c.instances.VI_1!.track_src_ip).toBe(false);
    expect(c.instances.VI_1!.accept).toBe(true); // what vipkeeper does anyway: no warning, kept
    expect(c.instances.VI_1!.virtual_ipaddress).toEqual([
      { address: '10.0.0.1', prefix: 24, no_track: true },
      { address: '10.0.0.2', prefix: 24 },
    ]);
  });
});

/** An argument for the VIP line options that take one. */
const VIP_ARG: Record<string, string> = { dev: 'eth0', brd: '10.0.0.255', broadcast: '10.0.0.255', scope: 'link', label: 'eth0:1', peer: '10.0.0.9', preferred_lft: 'forever' };

/** Reads the reverse check above finds that are not acting on the field, each with the reason. */
const READ_BUT_NOT_ACTED: Record<string, string> = {
  'no_track src/net/routes.ts': "the word is a route / rule line's keepalived option (dropped before ip), not a VIP's no_track",
  'accept src/vrrp/codec.ts': "the word is the codec's address-mismatch mode, not the instance's accept",
  'accept src/vrrp/packet.ts': "the word is the codec's address-mismatch mode, not the instance's accept",
  'accept src/vrrp/params.ts': "the word is the codec's address-mismatch mode, not the instance's accept",
  'accept src/vrrp/transitions.ts': "the word is the codec's address-mismatch mode, not the instance's accept",
};

// ---------------------------------------------------------------- the schema's fields

type Any = z.core.$ZodType;
const def = (s: Any) => (s as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;

/** Every field of the config model, as patterns (`instances.*.use_vmac`). */
function schemaFields(): string[] {
  const out = new Set<string>();
  const walk = (s: Any, path: string) => {
    const d = def(s);
    switch (d.type) {
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
        return walk(d.innerType as Any, path);
      case 'pipe':
        return walk(d.in as Any, path);
      case 'object':
        for (const [k, v] of Object.entries(d.shape as Record<string, Any>)) {
          const p = path ? `${path}.${k}` : k;
          if (k !== 'type') out.add(p);
          walk(v, p);
        }
        return;
      case 'record':
        return walk(d.valueType as Any, `${path}.*`);
      case 'array':
        return walk(d.element as Any, `${path}[]`);
      case 'union':
        for (const o of d.options as Any[]) walk(o, path);
        return;
      default:
    }
  };
  walk(ConfigSchema, '');
  return [...out].sort();
}

// The house rules, held by a test: imports only point down the layers, and no folder imports
// another in a cycle (at any depth: src/daemon/vrrp and src/daemon/control count as folders).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Bottom first: a folder may import only from its own layer or below. */
const LAYERS: string[][] = [
  ['vocab'], // pure vocabulary: IP addresses, state words
  ['config'], // the config model, its loaders and importers
  ['sys'], // clock, exec, logger port, addon loader, sd-notify
  ['vrrp'], // the VRRP protocol core (sans-IO)
  ['net'], // netlink, raw and packet sockets, addresses, GARP
  ['check', 'ipvs'], // health checks; the IPVS plan and reconciler
  ['bgp', 'realserver'], // active-active announce policy; the real-server side
  ['daemon'], // the daemon: VRRP driver, scripts, control API
  ['drill'], // the failover drill's pieces
  ['cli'], // commands
];

function rank(top: string): number {
  const i = LAYERS.findIndex((l) => l.includes(top));
  if (i < 0) throw new Error(`src/${top} is in no layer of test/layers.test.ts: place it`);
  return i;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

/** Relative imports (static, re-exports and dynamic) of one file, as paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    out.push(path.relative(SRC, path.resolve(path.dirname(file), m[1]!)));
  }
  return out;
}

const edges = sources(SRC).flatMap((file) => importsOf(file).map((to) => ({ from: path.relative(SRC, file), to })));
const folderOf = (p: string, depth: number): string => p.split(path.sep).slice(0, depth).join('/');

describe('layers', () => {
  it('every import points to the same layer or below', () => {
    const up = edges
      .filter((e) => rank(e.from.split(path.sep)[0]!) < rank(e.to.split(path.sep)[0]!))
      .map((e) => `${e.from} -> ${e.to}`);
    expect(up).toEqual([]);
  });

  it('no folder imports another in a cycle, at any depth', () => {
    const cycles: string[] = [];
    for (const depth of [1, 2, 3]) {
      const g = new Map<string, Set<string>>();
      for (const e of edges) {
        if (e.from.split(path.sep).length <= depth || e.to.split(path.sep).length <= depth) continue;
        const a = folderOf(e.from, depth);
        const b = folderOf(e.to, depth);
        if (a === b) continue;
        // compare siblings only (the same parent folder)
        if (folderOf(e.from, depth - 1) !== folderOf(e.to, depth - 1)) continue;
        if (!g.has(a)) g.set(a, new Set());
        g.get(a)!.add(b);
      }
      const reaches = (from: string, to: string, seen = new Set<string>()): boolean => {
        for (const n of g.get(from) ?? []) {
          if (n === to) return true;
          if (!seen.has(n)) {
            seen.add(n);
            if (reaches(n, to, seen)) return true;
          }
        }
        return false;
      };
      for (const [a, outs] of g) for (const b of outs) if (reaches(b, a)) cycles.push(`${a} <-> ${b}`);
    }
    expect([...new Set(cycles)]).toEqual([]);
  });

  it('every source folder is placed in a layer', () => {
    for (const e of readdirSync(SRC)) if (statSync(path.join(SRC, e)).isDirectory()) expect(() => rank(e)).not.toThrow();
  });
});

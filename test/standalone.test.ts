/**
 * The repository stands alone: a clone with nothing beside it has everything its tests, scripts
 * and comments refer to.
 *
 * - No tracked file names a sibling checkout of the shared reading material, the work tree of
 *   the machine this was written on, or somebody's home directory (the patterns: FORBIDDEN).
 * - Every fixture a test or script refers to (by a `test/fixtures/…` or `./fixtures/…` path, by
 *   `'test', 'fixtures', …` path segments, or through `fixture('…')` of the keepalived fixtures)
 *   exists, and every keepalived.conf fixture says in its first line what it is.
 *
 * The patterns are assembled from pieces so that this file does not trip over itself.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { REPO_ROOT } from '../lab/process.js';
import { FIXTURE_DIR, FIXTURES, recordedVerdicts } from './fixtures/keepalived/fixtures.js';

function trackedFiles(): string[] {
  const r = spawnSync('git', ['-C', REPO_ROOT, 'ls-files', '-z'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ls-files failed (is this a git checkout, and is git installed?): ${r.stderr}`);
  return r.stdout.split('\0').filter((f) => f !== '' && existsSync(path.join(REPO_ROOT, f)));
}

/** Text content, or undefined for a binary file (a NUL byte early on). */
function text(file: string): string | undefined {
  const buf = readFileSync(path.join(REPO_ROOT, file));
  if (buf.subarray(0, 8000).includes(0)) return undefined;
  return buf.toString('utf8');
}

const slash = '/';
const FORBIDDEN: [string, RegExp][] = [
  ['a sibling checkout', new RegExp(['\\.\\.', 'shared\\b'].join(slash))],
  ['the machine’s work tree', new RegExp(`(^|[^\\w.-])${slash}work${slash}`)],
  ['a home directory', new RegExp(`${slash}(home|Users)${slash}[A-Za-z0-9_.-]+${slash}`)],
  ['root’s home directory', new RegExp(`${slash}root${slash}[A-Za-z0-9_.]`)],
];

describe('the repository stands alone', () => {
  const files = trackedFiles();

  it('is a git checkout with its files', () => {
    expect(files).toContain('package.json');
    expect(files.length).toBeGreaterThan(100);
  });

  it('no tracked file names a sibling checkout, the machine’s work tree or a home directory', () => {
    const hits: string[] = [];
    for (const f of files) {
      const t = text(f);
      if (t === undefined) continue;
      t.split('\n').forEach((line, i) => {
        for (const [what, re] of FORBIDDEN) if (re.test(line)) hits.push(`${f}:${i + 1}: ${what}: ${line.trim().slice(0, 120)}`);
      });
    }
    expect(hits).toEqual([]);
  });

  it('every fixture a test or script refers to exists', () => {
    const missing: string[] = [];
    let checked = 0;
    const want = (from: string, target: string): void => {
      checked++;
      const candidates = [target, target.replace(/\.js$/, '.ts')];
      if (!candidates.some((c) => existsSync(c))) missing.push(`${from}: ${path.relative(REPO_ROOT, target)}`);
    };
    // (this file's own patterns are not references)
    for (const f of files.filter((x) => /\.(ts|mjs|sh)$/.test(x) && x !== 'test/standalone.test.ts')) {
      const t = text(f)!;
      const dir = path.dirname(path.join(REPO_ROOT, f));
      // quoted paths that are only a path: test/fixtures/…, ./fixtures/…, ../…/fixtures/…
      for (const m of t.matchAll(/['"`]((?:test\/|\.{1,2}\/)[\w./-]*fixtures\/[\w./-]*)['"`]/g)) {
        const p = m[1]!;
        want(f, p.startsWith('test/') ? path.join(REPO_ROOT, p) : path.resolve(dir, p));
      }
      for (const m of t.matchAll(/'test', 'fixtures', '([^']+)'/g)) want(f, path.join(REPO_ROOT, 'test', 'fixtures', m[1]!));
      for (const m of t.matchAll(/\bfixture\('([^']+)'\)/g)) want(f, path.join(FIXTURE_DIR, m[1]!));
    }
    for (const { file } of FIXTURES) want('test/fixtures/keepalived/fixtures.ts', path.join(FIXTURE_DIR, file));
    for (const { file } of recordedVerdicts().verdicts) want('keepalived-verdicts.json', path.join(FIXTURE_DIR, file));
    for (const v of [2, 3]) for (const d of [1, 2]) want('test/fixtures/captures/record.ts', path.join(REPO_ROOT, 'test', 'fixtures', 'captures', `d${d}-v${v}.conf`));
    expect(missing).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  it('every keepalived.conf fixture starts by saying what shape it covers', () => {
    const confs = files.filter((f) => f.startsWith('test/fixtures/keepalived/') && /\.(conf|j2)$/.test(f));
    expect(confs.length).toBeGreaterThanOrEqual(FIXTURES.length - 2);
    for (const f of confs) {
      const first = text(f)!.split('\n')[0]!;
      const rel = path.relative('test/fixtures/keepalived', f);
      expect(first, f).toMatch(new RegExp(`^(# |\\{# )${rel.replace(/[.]/g, '\\.')}: \\S`));
    }
  });
});

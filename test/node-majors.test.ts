// Every supported Node.js major (scripts/node-versions) runs vipkeeper: the full suite runs on the
// node running it; here the other majors (fetched into .cache/node/ by scripts/setup.sh from the
// npm registry) load the native addon, run the CLI with the launcher's V8 flags, and run a fast
// subset of the unit tests of the pure cores. A missing runtime fails: run scripts/setup.sh.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const versions = readFileSync(join(root, 'scripts/node-versions'), 'utf8')
  .split('\n')
  .filter((l) => /^\d+\.\d+\.\d+$/.test(l));
const ownMajor = process.versions.node.split('.')[0];
const others = versions.filter((v) => v.split('.')[0] !== ownMajor);
// The flags bin/vipkeeper.js's first line gives node (the launcher reads the same line).
const flags = (/^#!\/usr\/bin\/env -S node(.*)$/m.exec(readFileSync(join(root, 'bin/vipkeeper.js'), 'utf8'))?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
// Pure cores, chosen to be quick: codecs, state machines, the IPVS diff, config, verdicts.
const SUBSET = ['src/vrrp/codec.test.ts', 'src/vrrp/instance.sm.test.ts', 'src/check/verdict.test.ts', 'src/config/yaml.test.ts', 'src/sys/due-heap.test.ts'];

describe('supported Node.js majors', () => {
  it('lists 20, 22 and 24', () => {
    expect(versions.map((v) => v.split('.')[0]).sort()).toEqual(['20', '22', '24']);
    const engines = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    for (const v of versions) expect(engines).toContain(`^${v.split('.')[0]}.`);
  });

  for (const v of others) {
    describe(`Node.js ${v}`, () => {
      const node = join(root, '.cache/node', `v${v}`, 'bin/node');
      // Asynchronous: a child that blocked this worker for a minute would time out vitest's RPC.
      const run = (args: string[], timeout = 60_000) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          execFile(node, args, { cwd: root, encoding: 'utf8', timeout, maxBuffer: 16 << 20, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } }, (err, stdout, stderr) =>
            resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
          );
        });

      it('is in .cache/node (scripts/setup.sh fetches it)', async () => {
        expect(existsSync(node), `${node} is missing: run scripts/setup.sh`).toBe(true);
        expect((await run(['--version'])).stdout.trim()).toBe(`v${v}`);
      });

      it('loads the native addon and runs the CLI with the V8 flags', async () => {
        const addon = await run(['-e', "import('./dist/sys/addon.js').then((m) => console.log(m.ifIndex('lo')))"]);
        expect(addon.stderr).toBe('');
        expect(addon.stdout.trim()).toBe('1');
        const version = await run([...flags, 'bin/vipkeeper.js', '--version']);
        expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
        const check = await run([...flags, 'bin/vipkeeper.js', 'check', '-f', 'config/vipkeeper.example.yaml', '--no-host-checks']);
        expect(check.stdout).toMatch(/valid vipkeeper YAML \(0 errors/);
        expect(check.status).toBe(0);
      });

      it('passes the unit tests of the pure cores', async () => {
        const r = await run([join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=dot', ...SUBSET], 300_000);
        expect(r.status, r.stdout.slice(-3000) + r.stderr.slice(-3000)).toBe(0);
        expect(r.stdout).toMatch(/Test Files\s+5 passed/);
      }, 320_000);
    });
  }
});

// The npm package works as shipped: `npm pack` holds what `files` names (dist, the addon's sources,
// the unit, the example, the man pages) and nothing of the development tree; installed globally
// into a temp prefix, its install script builds the addon, and `vipkeeper --version` and
// `vipkeeper check -f <the example>` run from it.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'vipkeeper-npm-'));
const prefix = join(tmp, 'prefix');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(cmd: string, args: string[], opts: { cwd?: string; timeout?: number } = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd ?? root, encoding: 'utf8', timeout: opts.timeout ?? 60_000, maxBuffer: 16 << 20, env: { ...process.env, npm_config_jobs: 'max', NO_COLOR: '1' } },
      (err, stdout, stderr) => resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe('npm package', () => {
  let tgz = '';

  it('packs dist, the addon sources, the unit, the example and the man pages, and no tests', async () => {
    // dist/ is built (npm test builds it first); --ignore-scripts skips prepare's second build.
    const r = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp]);
    expect(r.status, r.stderr).toBe(0);
    const [info] = JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[];
    tgz = join(tmp, info!.filename);
    const files = info!.files.map((f) => f.path);
    for (const f of [
      'dist/cli/bin.js',
      'bin/vipkeeper.js',
      'native/binding.gyp',
      'native/build.mjs',
      'native/src/addon.cc',
      'systemd/vipkeeper.service',
      'config/vipkeeper.example.yaml',
      'config/check-ipvs.sh',
      'man/vipkeeper.8',
      'man/vipkeeper.yaml.5',
      'README.md',
      'LICENSE',
      'package.json',
    ]) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /^(test|bench|lab|src|scripts)\/|\.map$|\.test\.|^native\/build\//.test(f))).toEqual([]);
  });

  it('installs globally, builds the addon, and runs --version and check on the example', async () => {
    expect(tgz, 'the pack step failed').not.toBe('');
    const install = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-fund', '--no-audit', tgz], { cwd: tmp, timeout: 600_000 });
    expect(install.status, install.stdout + install.stderr).toBe(0);
    const pkg = join(prefix, 'lib/node_modules/vipkeeper');
    expect(existsSync(join(pkg, 'native/build/Release/vipkeeper_native.node')), 'the install script built the addon').toBe(true);

    const vk = join(prefix, 'bin/vipkeeper');
    const version = await run(vk, ['--version'], { cwd: tmp });
    expect(version.stderr).toBe('');
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const check = await run(vk, ['check', '-f', join(pkg, 'config/vipkeeper.example.yaml'), '--no-host-checks'], { cwd: tmp });
    expect(check.stdout).toMatch(/valid vipkeeper YAML \(0 errors/);
    expect(check.status).toBe(0);
    // The addon loads in the installed copy.
    const addon = await run(process.execPath, ['-e', `import(${JSON.stringify(join(pkg, 'dist/sys/addon.js'))}).then((m) => console.log(m.ifIndex('lo')))`], { cwd: tmp });
    expect(addon.stdout.trim(), addon.stderr).toBe('1');
  }, 620_000);
});

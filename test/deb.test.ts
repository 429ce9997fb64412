// The .deb: scripts/build-deb.sh builds it, and it is installed with dpkg into a copy-on-write view
// of this machine (an overlay of / on a tmpfs, in a private mount namespace, entered with chroot),
// so the maintainer scripts really run and the machine itself is never changed. There: the
// launcher runs, the example checks clean (its track script is installed), postinst created
// keepalived_script, systemd-analyze verify passes on the installed unit (man pages included),
// `dpkg -r` leaves only the conffile, and `dpkg -P` removes that too.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRootAndTools } from '../lab/require.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'vipkeeper-deb-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(cmd: string, args: string[], timeout: number): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: root, encoding: 'utf8', timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

// Runs inside `unshare --mount`: every mount disappears with the process.
const IN_OVERLAY = String.raw`
set -eu
t=$1 deb=$2
mkdir -p "$t/ovl" "$t/m"
mount -t tmpfs tmpfs "$t/ovl"
mkdir "$t/ovl/upper" "$t/ovl/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$t/ovl/upper,workdir=$t/ovl/work" "$t/m"
mount -t proc proc "$t/m/proc"
mount --rbind /dev "$t/m/dev"
mount -t tmpfs tmpfs "$t/m/tmp"
# No /run/systemd/system inside: the maintainer scripts leave the host's systemd alone.
mount -t tmpfs tmpfs "$t/m/run"
cp "$deb" "$t/m/tmp/vipkeeper.deb"
chroot "$t/m" /bin/sh -eu -c '
  dpkg -i /tmp/vipkeeper.deb >/dev/null
  echo "version: $(/usr/bin/vipkeeper --version)"
  echo "example: $(/usr/bin/vipkeeper check -f /usr/lib/vipkeeper/config/vipkeeper.example.yaml 2>&1 | tr "\n" " ")"
  echo "user: $(getent passwd keepalived_script)"
  echo "conf-mode: $(stat -c %a /etc/vipkeeper/vipkeeper.yaml)"
  if systemd-analyze verify /lib/systemd/system/vipkeeper.service 2>/tmp/verify; then echo "verify: ok"; else echo "verify: failed"; fi
  echo "verify-stderr: $(tr "\n" " " </tmp/verify)"
  files=$(dpkg -L vipkeeper | while read -r f; do if [ -f "$f" ] || { [ -L "$f" ] && [ ! -d "$f" ]; }; then echo "$f"; fi; done)
  echo "files: $(echo "$files" | wc -l)"
  dpkg -r vipkeeper >/dev/null
  echo "left: $(for f in $files; do if [ -e "$f" ]; then echo "$f"; fi; done | tr "\n" " ")"
  echo "lib-dir-left: $([ -e /usr/lib/vipkeeper ] && echo yes || echo no)"
  dpkg -P vipkeeper >/dev/null
  echo "etc-after-purge: $([ -e /etc/vipkeeper ] && echo yes || echo no)"
'
`;

describe('Debian package', () => {
  let deb = '';
  let out = '';
  const line = (key: string) => new RegExp(`^${key}: (.*)$`, 'm').exec(out)?.[1] ?? `(no "${key}" line in: ${out})`;

  beforeAll(async () => {
    requireRootAndTools(['dpkg-deb', 'unshare', 'chroot', 'systemd-analyze'], 'the .deb test (dpkg into an overlay of /, mount, chroot)');
    const build = await run('bash', ['scripts/build-deb.sh', '-o', tmp, '--fast'], 300_000);
    expect(build.status, build.stderr).toBe(0);
    deb = build.stdout.trim().split('\n').pop()!;
    const r = await run('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', IN_OVERLAY, 'in-overlay', tmp, deb], 300_000);
    out = r.stdout;
    expect(r.status, r.stdout + r.stderr).toBe(0);
  }, 620_000);

  it('has the control fields, the conffile and the maintainer scripts', async () => {
    const info = await run('dpkg-deb', ['-f', deb, 'Package', 'Architecture', 'Depends', 'Recommends'], 30_000);
    expect(info.stdout).toMatch(/^Package: vipkeeper$/m);
    expect(info.stdout).toMatch(/^Depends: .*iproute2/m);
    expect(info.stdout).toMatch(/^Recommends: .*ipvsadm/m);
    const conffiles = await run('sh', ['-c', `dpkg-deb --ctrl-tarfile "${deb}" | tar -xOf - ./conffiles`], 30_000);
    expect(conffiles.stdout.trim()).toBe('/etc/vipkeeper/vipkeeper.yaml');
    const contents = await run('dpkg-deb', ['-c', deb], 30_000);
    for (const p of [
      './usr/bin/vipkeeper',
      './usr/lib/vipkeeper/bin/vipkeeper.js',
      './usr/lib/vipkeeper/dist/cli/bin.js',
      './usr/lib/vipkeeper/native/build/Release/vipkeeper_native.node',
      './usr/lib/vipkeeper/node/bin/node',
      './usr/lib/vipkeeper/node_modules/commander/package.json',
      './usr/lib/vipkeeper/check-ipvs.sh',
      './lib/systemd/system/vipkeeper.service',
      './usr/lib/modules-load.d/vipkeeper.conf',
      './usr/share/man/man8/vipkeeper.8.gz',
      './usr/share/man/man5/vipkeeper.yaml.5.gz',
      './usr/share/doc/vipkeeper/copyright',
    ]) {
      expect(contents.stdout).toContain(` ${p}\n`);
    }
    // Production packages only: no compilers or test runners.
    expect(contents.stdout).not.toMatch(/node_modules\/(typescript|vitest|esbuild|tsx)\//);
  });

  it('installs: the launcher runs, the example checks clean here, postinst made keepalived_script', () => {
    expect(line('version')).toMatch(/^\d+\.\d+\.\d+$/);
    expect(line('example')).toMatch(/valid vipkeeper YAML \(0 errors/);
    expect(line('example')).not.toMatch(/check-ipvs\.sh (does not exist|is not executable)/);
    expect(line('user')).toMatch(/^keepalived_script:x:\d+:\d+:.*:\/usr\/sbin\/nologin$/);
    expect(line('conf-mode')).toBe('600');
  });

  it('passes systemd-analyze verify on the installed unit, man pages included', () => {
    expect(line('verify-stderr').trim()).toBe('');
    expect(line('verify')).toBe('ok');
  });

  it('dpkg -r leaves only the conffile, dpkg -P removes it', () => {
    expect(Number(line('files'))).toBeGreaterThan(100);
    expect(line('left').trim()).toBe('/etc/vipkeeper/vipkeeper.yaml');
    expect(line('lib-dir-left')).toBe('no');
    expect(line('etc-after-purge')).toBe('no');
  });
});

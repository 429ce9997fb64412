// The systemd unit and the install path: installed into a staging root, verified
// by systemd-analyze, and the installed command works.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const stage = mkdtempSync(join(tmpdir(), 'vipkeeper-root-'));
const unitPath = join(stage, 'lib/systemd/system/vipkeeper.service');

beforeAll(() => {
  execFileSync('bash', [join(root, 'scripts/install.sh')], { env: { ...process.env, DESTDIR: stage, NODE_BIN: 'none' }, stdio: 'pipe' });
  // systemd-analyze --root needs the distribution's own units (sysinit.target and friends).
  mkdirSync(join(stage, 'usr/lib/systemd'), { recursive: true });
  cpSync('/usr/lib/systemd/system', join(stage, 'usr/lib/systemd/system'), { recursive: true });
}, 120_000);
afterAll(() => rmSync(stage, { recursive: true, force: true }));

function directives(path = unitPath): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (line.startsWith('#') || eq < 0) continue;
    const k = line.slice(0, eq);
    m.set(k, [...(m.get(k) ?? []), line.slice(eq + 1)]);
  }
  return m;
}

describe('systemd unit', () => {
  it('passes systemd-analyze verify', () => {
    // --man=no: the staging root's man pages are not where man looks (test/deb.test.ts checks them).
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${stage}`, '/lib/systemd/system/vipkeeper.service'], { encoding: 'utf8' });
    expect(r.error, 'systemd-analyze must be installed (Debian package systemd)').toBeUndefined();
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('has a low systemd-analyze security exposure', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', `--root=${stage}`, '/lib/systemd/system/vipkeeper.service'], { encoding: 'utf8' });
    const m = /Overall exposure level for vipkeeper\.service: ([\d.]+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    const score = Number(m![1]);
    console.log(`systemd-analyze security: vipkeeper.service exposure ${score}`);
    expect(score).toBeLessThanOrEqual(3.0);
  });

  it('is Type=notify with a watchdog, a checked start and reload, and cleanup after stop', () => {
    const d = directives();
    expect(d.get('Type')).toEqual(['notify']);
    expect(d.get('NotifyAccess')).toEqual(['main']);
    expect(d.get('WatchdogSec')).toEqual(['10s']);
    expect(d.get('ExecStartPre')).toEqual(['/usr/bin/vipkeeper check -f ${VIPKEEPER_CONFIG}']);
    expect(d.get('ExecReload')).toEqual(['/usr/bin/vipkeeper check -f ${VIPKEEPER_CONFIG}', '/bin/kill -HUP $MAINPID']);
    expect(d.get('ExecStopPost')).toEqual(['/usr/bin/vipkeeper cleanup -f ${VIPKEEPER_CONFIG}']);
    expect(d.get('CapabilityBoundingSet')).toEqual(['CAP_NET_ADMIN CAP_NET_RAW']);
    for (const k of ['ProtectSystem', 'ProtectHome', 'PrivateTmp', 'NoNewPrivileges']) expect(d.has(k)).toBe(true);
  });

  it('installs a working command, the example, and a config that starts nothing until edited', () => {
    const vk = (...a: string[]) => spawnSync(process.execPath, [join(stage, 'usr/lib/vipkeeper/bin/vipkeeper.js'), ...a], { encoding: 'utf8' });
    const example = vk('check', '-f', join(stage, 'usr/lib/vipkeeper/config/vipkeeper.example.yaml'), '--no-host-checks');
    expect(example.stdout).toMatch(/valid vipkeeper YAML/);
    expect(example.status).toBe(0);
    // The installed config is the example commented out: check (the unit's ExecStartPre) refuses it.
    const installed = vk('check', '-f', join(stage, 'etc/vipkeeper/vipkeeper.yaml'));
    expect(installed.stderr).toMatch(/the config is empty/);
    expect(installed.status).toBe(1);
    expect(statSync(join(stage, 'etc/vipkeeper/vipkeeper.yaml')).mode & 0o777).toBe(0o600);
    // The example's track script ships beside it, executable.
    expect(statSync(join(stage, 'usr/lib/vipkeeper/check-ipvs.sh')).mode & 0o111).toBe(0o111);
    expect(readFileSync(join(stage, 'usr/lib/modules-load.d/vipkeeper.conf'), 'utf8')).toMatch(/^ip_vs$/m);
  });

  it('installs vipkeeper-realserver.service: oneshot, RemainAfterExit, up at start and down at stop, verified', () => {
    const rsUnit = join(stage, 'lib/systemd/system/vipkeeper-realserver.service');
    const r = spawnSync('systemd-analyze', ['verify', `--root=${stage}`, '/lib/systemd/system/vipkeeper-realserver.service'], { encoding: 'utf8' });
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
    const d = directives(rsUnit);
    expect(d.get('Type')).toEqual(['oneshot']);
    expect(d.get('RemainAfterExit')).toEqual(['yes']);
    expect(d.get('ExecStart')).toEqual(['/usr/bin/vipkeeper realserver up -f ${VIPKEEPER_REALSERVER_CONFIG}']);
    expect(d.get('ExecStop')).toEqual(['/usr/bin/vipkeeper realserver down']);
    // the state file that lets `down` restore the host must survive between start and stop
    expect(d.get('RuntimeDirectoryPreserve')).toEqual(['yes']);
  });
});

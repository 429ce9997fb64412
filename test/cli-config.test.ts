// check and migrate as an operator runs them (issue 15, points 7 and 8; issues 14 and 20's check
// warnings about this host): the compiled bin, real files, exit codes.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { requireRootAndTools } from '../lab/require.js';
import { lookupUserSync, scriptPrivilegeProblem } from '../src/config/host-privileges.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin/vipkeeper.js');
const tmp = mkdtempSync(join(tmpdir(), 'vipkeeper-cli-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function vk(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: tmp, timeout: 30_000 });
  if (r.error) throw r.error;
  return { code: r.status, out: r.stdout, err: r.stderr };
}

let n = 0;
function file(content: string, mode = 0o644, name = `c${++n}.conf`): string {
  const p = join(tmp, name);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
}

const CONF = `vrrp_instance VI_1 {
  interface lo
  virtual_router_id 51
  authentication {
    auth_type PASS
    auth_pass s3cr3tpw
  }
  virtual_ipaddress {
    10.9.0.1/32
  }
  track_src_ip
}
`;

describe('vipkeeper check: the file, as FILE or -f FILE', () => {
  it('takes the config as an argument or with -f, the same way', () => {
    const f = file(CONF);
    const a = vk('check', f, '--no-host-checks');
    const b = vk('check', '-f', f, '--no-host-checks');
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(a.out).toBe(b.out);
    expect(a.out).toMatch(/: valid keepalived\.conf \(0 errors, 1 warning; \d+ keywords carried over, 1 not acted on, 0 unknown, 0 refused\)/);
    expect(a.err).toMatch(/:11:3: warning: 'track_src_ip' is not acted on by vipkeeper: the instance does not go to FAULT when its source address disappears/);
  });

  it('is a usage error (2) with no file, or with two different ones', () => {
    expect(vk('check').code).toBe(2);
    const r = vk('check', file(CONF), '-f', file(CONF));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/give the config once, as FILE or as -f FILE/);
  });

  it('exits 3 when the file cannot be read (missing, a directory): an I/O failure, not a bad config', () => {
    const missing = vk('check', join(tmp, 'nope.conf'));
    expect(missing.code).toBe(3);
    expect(missing.err).toMatch(/nope\.conf:1:1: error: cannot read the config: no such file/);
    expect(missing.out).toMatch(/nope\.conf: not checked: it cannot be read/);
    const dir = join(tmp, 'a-dir');
    mkdirSync(dir);
    expect(vk('check', dir).code).toBe(3);
    expect(vk('migrate', join(tmp, 'nope.conf')).code).toBe(3);
  });

  it('calls an empty config an error (1), keepalived.conf or YAML', () => {
    for (const [content, name] of [['', 'empty.conf'], ['# nothing but a comment\n', 'comment.conf'], ['', 'empty.yaml']] as const) {
      const r = vk('check', file(content, 0o644, name), '--no-host-checks');
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/:1:1: error: the config is empty/);
    }
  });

  it('prints the version', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(vk('--version')).toMatchObject({ code: 0, out: `${pkg.version}\n` });
    expect(vk('-V').out).toBe(`${pkg.version}\n`);
  });
});

describe('vipkeeper check on this host', () => {
  it("warns about a VIP dev and a tracked interface this host does not have, and scripts that cannot run (not with --no-host-checks)", () => {
    const notExec = file('#!/bin/sh\nexit 0\n', 0o644, 'not-exec.sh');
    const yaml = file(
      [
        'vrrp_scripts:',
        '  gone: { script: /nonexistent/vipkeeper-check.sh }',
        `  noexec: { script: ${notExec} }`,
        '  shell: { script: "</dev/tcp/127.0.0.1/80" }',
        'instances:',
        '  VI_1:',
        '    interface: lo',
        '    virtual_router_id: 51',
        '    track_interface: [vkt-nosuch1]',
        '    track_script: [gone, noexec, shell]',
        '    virtual_ipaddress:',
        '      - 10.9.0.1/32 dev vkt-nosuch0',
        '      - 10.9.0.2/32',
      ].join('\n'),
      0o644,
      'host.yaml',
    );
    const r = vk('check', yaml);
    expect(r.code).toBe(0);
    const host = spawnSync('hostname', { encoding: 'utf8' }).stdout.trim();
    const lines = r.err.trim().split('\n');
    expect(lines).toEqual([
      `${yaml}:2:3: warning: on this host (${host}): vrrp_script gone: /nonexistent/vipkeeper-check.sh does not exist; it would fail every time it runs`,
      `${yaml}:3:3: warning: on this host (${host}): vrrp_script noexec: ${notExec} is not executable; it would fail every time it runs`,
      `${yaml}:9:5: warning: on this host (${host}): tracked interface 'vkt-nosuch1' does not exist; it counts as down`,
      `${yaml}:12:9: warning: on this host (${host}): VIP 10.9.0.1/32 names dev 'vkt-nosuch0', which does not exist; the VIP cannot be added here`,
    ]);
    expect(vk('check', yaml, '--no-host-checks').err).toBe('');
  });
});

describe('vipkeeper check: scripts under another user without CAP_SETUID/CAP_SETGID', () => {
  it('says which capabilities the unit must grant, and where, instead of every script failing with EPERM', () => {
    requireRootAndTools(['setpriv'], 'this test');
    const yaml = file(
      [
        'global:',
        '  script_user: { user: nobody }',
        'vrrp_scripts:',
        '  chk: { script: /bin/true }',
        'instances:',
        '  VI_1:',
        '    interface: lo',
        '    virtual_router_id: 51',
        '    track_script: [chk]',
        '    virtual_ipaddress: [10.9.0.1/32]',
      ].join('\n'),
      0o644,
      'script-user.yaml',
    );
    // as the shipped unit runs it: root, without CAP_SETUID and CAP_SETGID
    const r = spawnSync('setpriv', ['--bounding-set=-setuid,-setgid', '--', process.execPath, bin, 'check', yaml], { encoding: 'utf8', cwd: tmp, timeout: 30_000 });
    expect(r.status).toBe(0);
    // the same sentence `run` logs (src/daemon/script-privileges.ts): one message, one fix
    const nobody = lookupUserSync('nobody')!;
    const said = scriptPrivilegeProblem("user 'nobody'", nobody, { uid: 0, gid: 0 }, { setuid: false, setgid: false })!;
    expect(said).toMatch(/lacks CAP_SETUID and CAP_SETGID: every such script would fail with EPERM.* \/etc\/systemd\/system\/vipkeeper.service.d\/script-user.conf: .*CapabilityBoundingSet=CAP_SETUID CAP_SETGID/);
    expect(r.stderr.split('\n')).toContain(`${yaml}:4:3: warning: on this host (${hostname()}): vrrp_script chk: ${said}`);
    // with the capabilities, nothing to say
    expect(vk('check', yaml).err).not.toMatch(/CAP_SETUID/);
  });
});

describe('vipkeeper migrate -o: a file that holds auth_pass', () => {
  it('is written 0600, never wider than the source, and replaced whole (a new file, no temporary left)', () => {
    const src = file(CONF, 0o644);
    const out = join(tmp, 'out.yaml');
    writeFileSync(out, 'old\n');
    chmodSync(out, 0o666);
    const before = statSync(out).ino;
    const r = vk('migrate', src, '-o', out);
    expect(r.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(statSync(out).ino).not.toBe(before); // renamed into place, not rewritten in place
    expect(readFileSync(out, 'utf8')).toMatch(/auth_pass: s3cr3tpw/);
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const narrow = file(CONF, 0o400);
    const out2 = join(tmp, 'out2.yaml');
    expect(vk('migrate', narrow, '-o', out2).code).toBe(0);
    expect(statSync(out2).mode & 0o777).toBe(0o400);
  });

  it('refuses to write through a symlink, leaving the link and what it points at alone', () => {
    const target = join(tmp, 'elsewhere.yaml');
    writeFileSync(target, 'keep me\n');
    const link = join(tmp, 'link.yaml');
    symlinkSync(target, link);
    const r = vk('migrate', file(CONF), '-o', link);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/link\.yaml: cannot write: it is a symbolic link; give the real path/);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(target);
    expect(readFileSync(target, 'utf8')).toBe('keep me\n');
  });

  it('writes not-acted-on keywords as comments in their instance, and a true summary', () => {
    const out = join(tmp, 'summary.yaml');
    const r = vk('migrate', file(CONF), '-o', out);
    expect(r.err).toMatch(/→ .*summary\.yaml: 0 errors, 1 warning \(\d+ keywords carried over, 1 not acted on, 0 unknown, 0 refused\)/);
    const yaml = readFileSync(out, 'utf8');
    expect(yaml).toMatch(/\n  VI_1:\n    # track_src_ip    # .*:11, not acted on by vipkeeper: the instance does not go to FAULT/);
    expect(yaml).not.toMatch(/^\s+track_src_ip:/m);
    expect(existsSync(out)).toBe(true);
  });
});

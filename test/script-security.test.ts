/**
 * keepalived's script security (issue 18, point 1): the path rule, the runner refusing a root
 * script that a non-root user could change (enable_script_security on) or warning and running it
 * (off), and `vipkeeper check` reporting the script that would be refused at its file:line:col.
 * Real files with real owners and modes: the test runs as root (lab/require.ts).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { scriptSecuritySync } from '../src/config/script-security.js';
import { applyScriptPolicy, runScript, type Logger } from '../src/sys/exec.js';
import { requireRootAndTools } from '../lab/require.js';

requireRootAndTools(['getent'], 'script security (files owned by root and by another user)');

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(root, 'bin/vipkeeper.js');
const dir = mkdtempSync(path.join(tmpdir(), 'vk-scrsec-'));
chmodSync(dir, 0o755); // another user must reach its scripts
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => applyScriptPolicy({ script_user: { user: 'root' }, enable_script_security: false }));

let n = 0;
function script(body: string, opts: { mode?: number; uid?: number; under?: string } = {}): string {
  const d = opts.under ?? dir;
  const p = path.join(d, `s${++n}.sh`);
  writeFileSync(p, body);
  chmodSync(p, opts.mode ?? 0o755);
  if (opts.uid !== undefined) chownSync(p, opts.uid, 0);
  return p;
}

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const put = (_o: object, msg: string) => lines.push(msg);
  const logger = { debug: put, info: put, warn: put, error: put, child: () => logger } as unknown as Logger;
  return { logger, lines };
}

describe('the path rule (keepalived check_security)', () => {
  it('a root-owned 0755 script in root-owned directories is safe', () => {
    expect(scriptSecuritySync(script('#!/bin/sh\n'))).toEqual({ safe: true });
  });

  it('a group- or world-writable file, a non-root owner, or a writable directory above makes it unsafe', () => {
    const ww = script('#!/bin/sh\n', { mode: 0o757 });
    chmodSync(ww, 0o777);
    expect(scriptSecuritySync(ww)).toMatchObject({ safe: false, at: ww, why: expect.stringContaining('writable by others') });
    const gw = script('#!/bin/sh\n', { mode: 0o775 });
    expect(scriptSecuritySync(gw)).toMatchObject({ safe: false, at: gw, why: expect.stringContaining('writable by its group') });
    const nobody = script('#!/bin/sh\n', { uid: 65534 });
    expect(scriptSecuritySync(nobody)).toMatchObject({ safe: false, at: nobody, why: expect.stringContaining('owned by uid 65534') });
    const open = path.join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const inOpen = script('#!/bin/sh\n', { under: open });
    expect(scriptSecuritySync(inOpen)).toMatchObject({ safe: false, at: open });
  });

  it('a world-writable directory with the sticky bit (like /tmp) is fine; a link is followed to its target', () => {
    const sticky = path.join(dir, 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    expect(scriptSecuritySync(script('#!/bin/sh\n', { under: sticky }))).toEqual({ safe: true });
    const bad = script('#!/bin/sh\n', { mode: 0o777 });
    chmodSync(bad, 0o777);
    const link = path.join(dir, 'link.sh');
    symlinkSync(bad, link);
    expect(scriptSecuritySync(link)).toMatchObject({ safe: false, at: bad });
  });
});

describe('the runner applies it to every script', () => {
  it('with enable_script_security, a root script a non-root user could change is refused (SECURITY VIOLATION), a safe one runs', async () => {
    applyScriptPolicy({ script_user: { user: 'root' }, enable_script_security: true });
    const out = path.join(dir, 'ran-refused');
    const unsafe = script(`#!/bin/sh\ntouch ${out}\n`, { mode: 0o775 });
    const { logger, lines } = capture();
    const r = await runScript({ command: unsafe }, { timeoutMs: 10_000, logger });
    expect(r.code).toBe(126);
    expect(r.error).toMatch(/^SECURITY VIOLATION: script '.*' is refused: it would run as root but .* is writable by its group/);
    expect(lines.some((l) => l.startsWith('SECURITY VIOLATION'))).toBe(true);
    expect(() => readFileSync(out)).toThrow();
    const safe = script('#!/bin/sh\nexit 0\n');
    expect((await runScript({ command: safe }, { timeoutMs: 10_000 })).code).toBe(0);
  });

  it('a script run as another user is not checked (keepalived checks root scripts only)', async () => {
    applyScriptPolicy({ script_user: { user: 'root' }, enable_script_security: true });
    const unsafe = script('#!/bin/sh\nexit 0\n', { mode: 0o775 });
    const r = await runScript({ command: unsafe, user: 'nobody' }, { timeoutMs: 10_000 });
    expect(r.code).toBe(0);
    expect(r.uid).toBe(65534);
  });

  it('without it, the unsafe script runs and is warned about once', async () => {
    applyScriptPolicy({ script_user: { user: 'root' }, enable_script_security: false });
    const unsafe = script('#!/bin/sh\nexit 0\n', { mode: 0o775 });
    const { logger, lines } = capture();
    expect((await runScript({ command: unsafe }, { timeoutMs: 10_000, logger })).code).toBe(0);
    expect((await runScript({ command: unsafe }, { timeoutMs: 10_000, logger })).code).toBe(0);
    expect(lines.filter((l) => l.startsWith('SECURITY VIOLATION - scripts are being executed but script_security not enabled'))).toHaveLength(1);
  });

  it("with it and no script_user, keepalived_script must exist, else every script is refused", async () => {
    const exists = spawnSync('getent', ['passwd', 'keepalived_script']).status === 0;
    applyScriptPolicy({ enable_script_security: true });
    const r = await runScript({ command: script('#!/bin/sh\nexit 0\n') }, { timeoutMs: 10_000 });
    if (exists) expect(r.code).toBe(0);
    else expect(r.error).toContain("script user 'keepalived_script' does not exist");
  });
});

describe('vipkeeper check', () => {
  it('reports a script that would be refused, and one that runs insecurely, at file:line:col', () => {
    const unsafe = script('#!/bin/sh\nexit 0\n', { mode: 0o775 });
    const conf = (security: boolean) => {
      const p = path.join(dir, `k${++n}.conf`);
      writeFileSync(
        p,
        [
          'global_defs {',
          '  script_user root',
          security ? '  enable_script_security' : '',
          '}',
          'vrrp_script chk {',
          `  script "${unsafe}"`,
          '}',
          'virtual_server 10.9.0.1 80 {',
          '  quorum_up ' + unsafe,
          '  real_server 10.9.0.2 80 {',
          '    notify_down ' + unsafe,
          '    TCP_CHECK {',
          '    }',
          '  }',
          '}',
          '',
        ].join('\n'),
      );
      return p;
    };
    const on = conf(true);
    const r = spawnSync(process.execPath, [bin, 'check', on], { encoding: 'utf8', timeout: 30_000 });
    const warnings = r.stderr.split('\n').filter((l) => l.includes('SECURITY VIOLATION'));
    expect(warnings).toEqual([
      expect.stringMatching(new RegExp(`^${on}:6:3: warning: .*vrrp_script chk: would be refused \\(SECURITY VIOLATION\\): it runs as root but ${unsafe} is writable by its group`)),
      expect.stringMatching(new RegExp(`^${on}:9:3: warning: .*quorum_up: would be refused`)),
      expect.stringMatching(new RegExp(`^${on}:11:5: warning: .*notify_down: would be refused`)),
    ]);
    const off = conf(false);
    const r2 = spawnSync(process.execPath, [bin, 'check', off], { encoding: 'utf8', timeout: 30_000 });
    expect(r2.stderr).toMatch(new RegExp(`${off}:6:3: warning: .*vrrp_script chk: SECURITY VIOLATION: it runs as root but`));
    expect(r2.stderr).not.toContain("'enable_script_security' is not acted on");
  });
});

/**
 * runScript with real processes: execve vs /bin/sh, quoting, exit codes, timeouts that kill the
 * whole process group, environment cleanup, running as another user.
 */
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { noopLogger, runScript, runningScriptCount, setDefaultScriptUser, type Logger } from '../src/sys/exec.js';
import { pollFor } from '../lab/wait.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vk-exec-'));
/** Process groups started by tests, SIGKILLed in afterEach whatever happened. */
const groups = new Set<number>();

afterEach(() => {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  groups.clear();
  setDefaultScriptUser(undefined);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string, mode = 0o755): string {
  const p = path.join(dir, name);
  writeFileSync(p, body);
  chmodSync(p, mode);
  return p;
}

/** Alive = exists and is not a zombie (PID 1 here may not reap orphans). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Live (non-zombie) processes whose process group is `pgid`. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] !== 'Z' && Number(rest[2]) === pgid) out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Whether `cond` holds within `ms` (the lab's bounded poll). */
async function waitFor(cond: () => boolean, ms = 3000): Promise<boolean> {
  return (await pollFor(cond, ms, 20)) !== undefined;
}

const track = (pid: number): void => void groups.add(pid);

describe('runScript: execve or /bin/sh', () => {
  it('runs an executable directly, with keepalived argv splitting', async () => {
    const r = await runScript({ command: `/usr/bin/printf '[%s]\\n' 'a b' "c d" e\\ f plain` }, { timeoutMs: 5000, onSpawn: track });
    expect(r.mode).toBe('exec');
    // G8 escapes apply inside quotes too: backslash-n in the command string becomes a newline.
    expect(r.argv).toEqual(['/usr/bin/printf', '[%s]\n', 'a b', 'c d', 'e f', 'plain']);
    expect(r.stdout).toBe('[a b]\n[c d]\n[e f]\n[plain]\n');
    expect(r.code).toBe(0);
    expect(r.signal).toBeNull();
  });

  it('appends extra args as single words', async () => {
    const r = await runScript({ command: "/usr/bin/printf '<%s>'" }, { args: ['x y', "it's", ''], timeoutMs: 5000, onSpawn: track });
    expect(r.stdout).toBe("<x y><it's><>");
  });

  it('finds a bare name in PATH (with a warning) and runs it directly', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...noopLogger, warn: (_o, m) => warnings.push(m ?? '') };
    const r = await runScript({ command: 'printf %s-%s one two' }, { timeoutMs: 5000, logger, env: { PATH: '/usr/bin:/bin' }, onSpawn: track });
    expect(r.mode).toBe('exec');
    expect(r.argv[0]).toBe('/usr/bin/printf');
    expect(r.stdout).toBe('one-two');
    expect(warnings.join('\n')).toMatch(/resolved by path search/);
  });

  it('runs a redirection-only command through /bin/sh', async () => {
    const ok = await runScript({ command: '</dev/null' }, { timeoutMs: 5000, onSpawn: track });
    expect(ok.mode).toBe('shell');
    expect(ok.argv).toEqual(['/bin/sh', '-c', '</dev/null']);
    expect(ok.code).toBe(0);
    const bad = await runScript({ command: `<${dir}/no/such/file` }, { timeoutMs: 5000, onSpawn: track });
    expect(bad.mode).toBe('shell');
    expect(bad.code).not.toBe(0);
  });

  it('runs an executable without #! through /bin/sh, arguments quoted', async () => {
    const p = script('noshebang', 'printf "%s|" "$@"\n');
    const r = await runScript({ command: `${p} 'a b' '$HOME' ';' 'x'` }, { timeoutMs: 5000, onSpawn: track });
    expect(r.mode).toBe('shell');
    expect(r.stdout).toBe('a b|$HOME|;|x|');
    expect(r.code).toBe(0);
  });

  it('does not interpret shell syntax for a directly executed command (as keepalived)', async () => {
    const r = await runScript({ command: '/usr/bin/printf %s "a|b" | cat' }, { timeoutMs: 5000, onSpawn: track });
    expect(r.mode).toBe('exec');
    expect(r.stdout).toBe('a|b|cat');
  });
});

describe('runScript: exit codes and failures', () => {
  it('reports exit codes', async () => {
    expect((await runScript({ command: "/bin/sh -c 'exit 3'" }, { timeoutMs: 5000, onSpawn: track })).code).toBe(3);
    expect((await runScript({ command: '/bin/false' }, { timeoutMs: 5000, onSpawn: track })).code).toBe(1);
    expect((await runScript({ command: '/bin/true' }, { timeoutMs: 5000, onSpawn: track })).code).toBe(0);
  });

  it('reports death by signal', async () => {
    const r = await runScript({ command: "/bin/sh -c 'kill -KILL $$'" }, { timeoutMs: 5000, onSpawn: track });
    expect(r.code).toBeNull();
    expect(r.signal).toBe('SIGKILL');
    expect(r.timedOut).toBe(false);
  });

  it('never throws for a missing script: 127 with the error', async () => {
    const a = await runScript({ command: `${dir}/does-not-exist arg` }, { timeoutMs: 5000 });
    expect(a).toMatchObject({ code: 127, mode: 'none' });
    expect(a.error).toMatch(/not found/);
    const b = await runScript({ command: 'no-such-command-vipkeeper' }, { timeoutMs: 5000 });
    expect(b).toMatchObject({ code: 127, mode: 'none' });
    const c = await runScript({ command: '' }, { timeoutMs: 5000 });
    expect(c.code).toBe(127);
  });

  it('126 for a file that cannot be executed', async () => {
    const p = script('plain-file', '#!/bin/sh\nexit 0\n', 0o644);
    const r = await runScript({ command: p }, { timeoutMs: 5000 });
    expect(r).toMatchObject({ code: 126, mode: 'none' });
    expect(r.error).toMatch(/not executable/);
    expect((await runScript({ command: dir }, { timeoutMs: 5000 })).code).toBe(126);
  });

  it('keeps only the first maxOutputBytes of output', async () => {
    const r = await runScript({ command: '/usr/bin/head -c 100000 /dev/zero' }, { timeoutMs: 5000, maxOutputBytes: 100, onSpawn: track });
    expect(r.stdout.length).toBe(100);
    expect(r.code).toBe(0);
  });

  it('does not wait for background children that keep stdout open', async () => {
    const r = await runScript({ command: "/bin/sh -c 'sleep 5 & echo started $!'" }, { timeoutMs: 10_000, onSpawn: track });
    expect(r.code).toBe(0);
    expect(r.timedOut).toBe(false);
    // returned while the background child (holding stdout) still runs
    const child = Number(/started (\d+)/.exec(r.stdout)?.[1]);
    expect(child).toBeGreaterThan(0);
    expect(alive(child)).toBe(true);
  });
});

describe('runScript: timeouts kill the whole process group', () => {
  it('kills a hanging script at the timeout', async () => {
    let pid = 0;
    const r = await runScript({ command: '/bin/sleep 30' }, { timeoutMs: 300, onSpawn: (p) => track((pid = p)) });
    // ended by the timeout (SIGTERM from the runner), not by itself
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGTERM');
    expect(r.code).toBeNull();
    expect(r.pid).toBe(pid);
    expect(alive(pid)).toBe(false);
    expect(runningScriptCount()).toBe(0);
  });

  it('leaves no forked child alive after the timeout', async () => {
    const r = await runScript({ command: "/bin/sh -c 'sleep 30 & echo $!; sleep 30 & echo $!; wait'" }, { timeoutMs: 500, onSpawn: track });
    expect(r.timedOut).toBe(true);
    const pids = r.stdout.trim().split('\n').map(Number);
    expect(pids).toHaveLength(2);
    expect(await waitFor(() => pids.every((p) => !alive(p)))).toBe(true);
    expect(await waitFor(() => groupMembers(r.pid ?? -1).length === 0)).toBe(true);
  });

  it('SIGKILLs children that ignore SIGTERM once the leader is gone', async () => {
    const r = await runScript(
      { command: `/bin/sh -c '(trap "" TERM; sleep 30) & echo $!; wait'` },
      { timeoutMs: 400, killGraceMs: 5000, onSpawn: track },
    );
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGTERM'); // the leader died of SIGTERM
    const child = Number(r.stdout.trim());
    expect(await waitFor(() => !alive(child))).toBe(true);
    expect(await waitFor(() => groupMembers(r.pid ?? -1).length === 0)).toBe(true);
  });

  it('SIGKILLs a script that ignores SIGTERM after the grace period', async () => {
    // The script survives SIGTERM (and says so), keeps running, and is SIGKILLed only after that:
    // SIGTERM first, the grace period honoured, then SIGKILL.
    const r = await runScript(
      { command: `/bin/sh -c 'trap "echo got-TERM" TERM; echo running; while :; do sleep 0.05; done'` },
      { timeoutMs: 300, killGraceMs: 300, onSpawn: track },
    );
    expect(r.timedOut).toBe(true);
    expect(r.stdout).toMatch(/got-TERM/);
    expect(r.signal).toBe('SIGKILL');
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['running', 'got-TERM']);
    expect(await waitFor(() => groupMembers(r.pid ?? -1).length === 0)).toBe(true);
  });

  it('an abort signal kills the group too', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const r = await runScript({ command: "/bin/sh -c 'sleep 30 & wait'" }, { timeoutMs: 10_000, signal: ac.signal, onSpawn: track });
    expect(r.aborted).toBe(true);
    expect(r.timedOut).toBe(false);
    expect(await waitFor(() => groupMembers(r.pid ?? -1).length === 0)).toBe(true);
  });

  it('an already aborted signal does not start the script', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await runScript({ command: '/bin/true' }, { timeoutMs: 1000, signal: ac.signal });
    expect(r).toMatchObject({ aborted: true, mode: 'none' });
  });

  it('runs in its own process group', async () => {
    const r = await runScript({ command: `/bin/sh -c 'ps -o pgid= -p $$'` }, { timeoutMs: 5000, onSpawn: track });
    expect(Number(r.stdout.trim())).toBe(r.pid);
    expect(r.pid).not.toBe(process.pid);
  });
});

describe('runScript: environment', () => {
  it('removes IFS, LD_PRELOAD and LD_LIBRARY_PATH and passes the rest', async () => {
    const saved = process.env['LD_LIBRARY_PATH'];
    process.env['LD_LIBRARY_PATH'] = '/nowhere';
    try {
      const r = await runScript({ command: '/usr/bin/env' }, { timeoutMs: 5000, env: { IFS: ':', LD_PRELOAD: '/x.so', VK_TEST: 'yes' }, onSpawn: track });
      const vars = r.stdout.split('\n').map((l) => l.split('=')[0]);
      expect(vars).toContain('VK_TEST');
      expect(vars).toContain('PATH');
      expect(vars).not.toContain('IFS');
      expect(vars).not.toContain('LD_PRELOAD');
      expect(vars).not.toContain('LD_LIBRARY_PATH');
    } finally {
      if (saved === undefined) delete process.env['LD_LIBRARY_PATH'];
      else process.env['LD_LIBRARY_PATH'] = saved;
    }
  });
});

// Needs root to switch users; without it these fail loudly rather than skip.
describe('runScript: users (needs root)', () => {
  beforeEach(() => {
    if (process.getuid?.() !== 0) throw new Error('these tests need root (to run scripts as another user); run the suite as root');
  });

  it('runs as the given user', async () => {
    const r = await runScript({ command: '/usr/bin/id -u', user: 'nobody' }, { timeoutMs: 5000, onSpawn: track });
    expect(r.stdout.trim()).toBe('65534');
    expect(r.uid).toBe(65534);
  });

  it('uses the user’s primary group, or the given group', async () => {
    expect((await runScript({ command: '/usr/bin/id -g', user: 'nobody' }, { timeoutMs: 5000, onSpawn: track })).stdout.trim()).toBe('65534');
    const r = await runScript({ command: '/usr/bin/id -g', user: 'nobody', group: 'root' }, { timeoutMs: 5000, onSpawn: track });
    expect(r.stdout.trim()).toBe('0');
  });

  it('drops supplementary groups', async () => {
    const r = await runScript({ command: '/usr/bin/id -G', user: 'nobody' }, { timeoutMs: 5000, onSpawn: track });
    expect(r.stdout.trim()).toBe('65534');
  });

  it('an unknown user or group: 126 with the error, nothing run', async () => {
    const a = await runScript({ command: '/usr/bin/id -u', user: 'no-such-user-vk' }, { timeoutMs: 5000 });
    expect(a).toMatchObject({ code: 126, mode: 'none' });
    expect(a.error).toMatch(/unknown script user/);
    const b = await runScript({ command: '/usr/bin/id -u', user: 'nobody', group: 'no-such-group-vk' }, { timeoutMs: 5000 });
    expect(b.error).toMatch(/unknown script group/);
  });

  it('checks execute permission for the target user', async () => {
    const p = script('root-only', '#!/bin/sh\nexit 0\n', 0o700);
    const r = await runScript({ command: p, user: 'nobody' }, { timeoutMs: 5000 });
    expect(r.code).toBe(126);
  });

  it('default: keepalived_script if it exists, else root; script_user overrides', async () => {
    const hasKs = (await runScript({ command: '/usr/bin/getent passwd keepalived_script' }, { timeoutMs: 5000 })).code === 0;
    const def = await runScript({ command: '/usr/bin/id -u' }, { timeoutMs: 5000, onSpawn: track });
    if (!hasKs) expect(def.stdout.trim()).toBe('0');
    setDefaultScriptUser({ user: 'nobody' });
    expect((await runScript({ command: '/usr/bin/id -u' }, { timeoutMs: 5000, onSpawn: track })).stdout.trim()).toBe('65534');
    setDefaultScriptUser(null);
    expect((await runScript({ command: '/usr/bin/id -u' }, { timeoutMs: 5000, onSpawn: track })).stdout.trim()).toBe('0');
  });
});

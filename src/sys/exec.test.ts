import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { isExecutableBy, noopLogger, resolveCommand, scriptSucceeded, shellCommandLine, splitCommand, type Logger, type ScriptResult } from './exec.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vk-exec-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string, mode: number): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
}

describe('splitCommand (keepalived G8)', () => {
  it.each([
    ['/bin/check a b', ['/bin/check', 'a', 'b']],
    ["/usr/bin/notify 'two words' x", ['/usr/bin/notify', 'two words', 'x']],
    ['/bin/x "dq arg" \'sq arg\'', ['/bin/x', 'dq arg', 'sq arg']],
    ["/bin/x a'b c'd", ['/bin/x', 'ab cd']],
    ['  /bin/x\t\ta  ', ['/bin/x', 'a']],
    ['/bin/x a\\ b', ['/bin/x', 'a b']],
    ['</dev/tcp/127.0.0.1/80', ['</dev/tcp/127.0.0.1/80']],
    ['', []],
  ])('%j', (cmd, argv) => {
    expect(splitCommand(cmd)).toEqual(argv);
  });
});

describe('shellCommandLine (keepalived cmd_str)', () => {
  it('single-quotes every word, except a leading redirection', () => {
    expect(shellCommandLine(['/bin/x', 'a b', '$HOME'])).toBe(`'/bin/x' 'a b' '$HOME'`);
    expect(shellCommandLine(['</dev/tcp/127.0.0.1/80'])).toBe('</dev/tcp/127.0.0.1/80');
    expect(shellCommandLine(['>/tmp/x', '<y'])).toBe(`>/tmp/x '<y'`);
  });

  it("escapes embedded single quotes (keepalived does not; we do)", () => {
    expect(shellCommandLine(['/bin/echo', "it's"])).toBe(`'/bin/echo' 'it'\\''s'`);
  });
});

describe('isExecutableBy (keepalived is_executable)', () => {
  const st = (mode: number, uid = 1000, gid = 1000) => ({ mode: 0o100000 | mode, uid, gid });
  it.each([
    [st(0o100), 0, 0, true], // root: any x bit
    [st(0o001), 0, 0, true],
    [st(0o644), 0, 0, false],
    [st(0o700), 1000, 5, true], // owner
    [st(0o070), 1000, 1000, false], // owner without u+x, even with g+x
    [st(0o010), 2000, 1000, true], // group
    [st(0o001), 2000, 1000, false], // group member without g+x, even with o+x
    [st(0o001), 2000, 3000, true], // other
  ])('%j uid %i gid %i → %s', (s, uid, gid, want) => {
    expect(isExecutableBy(s, uid, gid)).toBe(want);
  });
});

describe('resolveCommand', () => {
  const root = { uid: 0, gid: 0 };
  const exe = file('with-shebang', '#!/bin/sh\necho hi\n', 0o755);
  const noShebang = file('no-shebang', 'echo hi\n', 0o755);
  const notExec = file('not-exec', '#!/bin/sh\n', 0o644);
  mkdirSync(path.join(dir, 'adir'), { recursive: true });

  it('an executable with #! is run directly', async () => {
    expect(await resolveCommand(exe, root, undefined)).toEqual({ kind: 'exec', file: exe });
  });

  it('an ELF binary is run directly', async () => {
    expect(await resolveCommand('/bin/true', root, undefined)).toEqual({ kind: 'exec', file: '/bin/true' });
  });

  it('an executable without #! goes through /bin/sh', async () => {
    expect(await resolveCommand(noShebang, root, undefined)).toEqual({ kind: 'shell', file: noShebang });
  });

  it('redirections go through /bin/sh', async () => {
    expect(await resolveCommand('</dev/tcp/127.0.0.1/80', root, undefined)).toEqual({ kind: 'shell' });
  });

  it('missing → missing, not executable or a directory → denied', async () => {
    expect((await resolveCommand(path.join(dir, 'nope'), root, undefined)).kind).toBe('missing');
    expect((await resolveCommand(notExec, root, undefined)).kind).toBe('denied');
    expect((await resolveCommand(path.join(dir, 'adir'), root, undefined)).kind).toBe('denied');
    expect((await resolveCommand('', root, undefined)).kind).toBe('missing');
  });

  it('a bare name is searched in PATH, with one warning per name', async () => {
    const warnings: string[] = [];
    const log: Logger = { ...noopLogger, warn: (_o, msg) => warnings.push(msg ?? '') };
    const envPath = `${path.join(dir, 'adir')}:${dir}`;
    expect(await resolveCommand('with-shebang', root, envPath, log)).toEqual({ kind: 'exec', file: exe });
    expect(await resolveCommand('with-shebang', root, envPath, log)).toEqual({ kind: 'exec', file: exe });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/resolved by path search to '.*with-shebang'; please specify the full path/);
    expect((await resolveCommand('not-exec', root, envPath)).kind).toBe('denied');
    expect((await resolveCommand('definitely-not-here', root, envPath)).kind).toBe('missing');
  });

  it('checks the executable bits for the target user', async () => {
    const ownerOnly = file('owner-only', '#!/bin/sh\n', 0o700);
    expect((await resolveCommand(ownerOnly, { uid: 65534, gid: 65534 }, undefined)).kind).toBe('denied');
  });
});

describe('misc', () => {
  it('a pino logger fits the Logger interface', () => {
    const log: Logger = pino({ enabled: false });
    log.info({ a: 1 }, 'x');
  });

  it('scriptSucceeded wants exit 0 and no kill', () => {
    const base: ScriptResult = { code: 0, signal: null, timedOut: false, aborted: false, durationMs: 1, mode: 'exec', argv: [], stdout: '', stderr: '' };
    expect(scriptSucceeded(base)).toBe(true);
    expect(scriptSucceeded({ ...base, code: 1 })).toBe(false);
    expect(scriptSucceeded({ ...base, code: null, signal: 'SIGTERM' })).toBe(false);
    expect(scriptSucceeded({ ...base, timedOut: true })).toBe(false);
  });
});

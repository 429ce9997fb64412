import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ScriptSpec } from '../../config/schema.js';
import { noopLogger, runScript, type RunOptions, type ScriptResult, type ScriptRunner } from '../../sys/exec.js';
import { NotifyFifo, type FifoSink } from './notify-fifo.js';
import { Notifier, genericNotifyArgs, type NotifyScripts } from './notify.js';

const root = mkdtempSync(path.join(tmpdir(), 'vk-notify-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Live (non-zombie) members of a process group. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] !== 'Z' && Number(rest[2]) === pgid) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

function result(p: Partial<ScriptResult> = {}): ScriptResult {
  return { code: 0, signal: null, timedOut: false, aborted: false, durationMs: 1, mode: 'exec', argv: [], stdout: '', stderr: '', ...p };
}

/** Records calls; each run spawns after `spawnDelay` ms and ends `runMs` later. */
function recorder(opts: { spawnDelay?: (cmd: string) => number; runMs?: number } = {}) {
  const calls: { command: string; opts: RunOptions }[] = [];
  const spawned: string[] = [];
  const runner: ScriptRunner = async (spec: ScriptSpec, o: RunOptions) => {
    calls.push({ command: spec.command, opts: o });
    await new Promise((r) => setTimeout(r, opts.spawnDelay?.(spec.command) ?? 0));
    spawned.push(`${spec.command} ${(o.args ?? []).join(' ')}`.trim());
    o.onSpawn?.(1234);
    await new Promise((r) => setTimeout(r, opts.runMs ?? 0));
    return result();
  };
  return { runner, calls, spawned };
}

const SCRIPTS: NotifyScripts = {
  notify_master: { command: '/x/master' },
  notify_backup: { command: '/x/backup' },
  notify_fault: { command: '/x/fault' },
  notify_stop: { command: '/x/stop' },
  notify_deleted: { command: '/x/deleted' },
  notify_master_rx_lower_pri: { command: '/x/rxlow' },
  notify: { command: '/x/generic' },
};

describe('Notifier (fake runner)', () => {
  it('runs the per-state script with its own args only, then the generic one with 4 args appended', async () => {
    const { runner, calls } = recorder();
    const n = new Notifier({ runner });
    n.notifyInstance('VI_1', 'MASTER', 150, SCRIPTS);
    await n.idle();
    expect(calls.map((c) => [c.command, c.opts.args])).toEqual([
      ['/x/master', []],
      ['/x/generic', ['INSTANCE', 'VI_1', 'MASTER', '150']],
    ]);
    expect(calls.every((c) => c.opts.timeoutMs === 30_000)).toBe(true);
  });

  it('groups get GROUP and priority 0', async () => {
    const { runner, calls } = recorder();
    const n = new Notifier({ runner });
    n.notifyGroup('VG1', 'FAULT', SCRIPTS);
    await n.idle();
    expect(calls.map((c) => [c.command, c.opts.args])).toEqual([
      ['/x/fault', []],
      ['/x/generic', ['GROUP', 'VG1', 'FAULT', '0']],
    ]);
    expect(genericNotifyArgs({ kind: 'GROUP', name: 'g', state: 'BACKUP', priority: 99 })).toEqual(['GROUP', 'g', 'BACKUP', '0']);
  });

  it('STOP scripts get a 1 s timeout; other timeouts are configurable', async () => {
    const { runner, calls } = recorder();
    const n = new Notifier({ runner, timeoutMs: 5000 });
    n.notifyInstance('VI_1', 'STOP', 100, SCRIPTS);
    n.notifyInstance('VI_1', 'BACKUP', 100, SCRIPTS);
    await n.idle();
    expect(calls.map((c) => [c.command, c.opts.timeoutMs, c.opts.killGraceMs])).toEqual([
      ['/x/stop', 1000, 0],
      ['/x/generic', 1000, 0],
      ['/x/backup', 5000, undefined],
      ['/x/generic', 5000, undefined],
    ]);
  });

  it('DELETED uses notify_deleted; MASTER_RX_LOWER_PRI runs only its own script', async () => {
    const { runner, calls } = recorder();
    const n = new Notifier({ runner });
    n.notifyInstance('VI_1', 'DELETED', 100, SCRIPTS);
    n.notifyInstance('VI_1', 'MASTER_RX_LOWER_PRI', 100, SCRIPTS);
    await n.idle();
    expect(calls.map((c) => c.command)).toEqual(['/x/deleted', '/x/generic', '/x/rxlow']);
    expect(calls[1]?.opts.args).toEqual(['INSTANCE', 'VI_1', 'DELETED', '100']);
  });

  it('missing scripts are skipped; only the generic one runs if that is all there is', async () => {
    const { runner, calls } = recorder();
    const n = new Notifier({ runner });
    n.notifyInstance('VI_1', 'BACKUP', 90, { notify: { command: '/x/generic' } });
    n.notifyInstance('VI_1', 'MASTER', 90, {});
    await n.idle();
    expect(calls.map((c) => c.command)).toEqual(['/x/generic']);
  });

  it('never blocks the caller, and launches scripts in call order even if spawning takes different times', async () => {
    const slowFirst = recorder({ spawnDelay: (cmd) => (cmd === '/x/backup' ? 80 : 0), runMs: 50 });
    const n = new Notifier({ runner: slowFirst.runner });
    // The calls return at once, synchronously: nothing has been spawned yet, all four are queued.
    expect(n.notifyInstance('VI_1', 'BACKUP', 100, SCRIPTS)).toBeUndefined();
    expect(n.notifyInstance('VI_1', 'MASTER', 100, SCRIPTS)).toBeUndefined();
    expect(slowFirst.spawned).toEqual([]);
    expect(n.pending).toBe(4);
    await n.idle();
    expect(slowFirst.spawned).toEqual([
      '/x/backup',
      '/x/generic INSTANCE VI_1 BACKUP 100',
      '/x/master',
      '/x/generic INSTANCE VI_1 MASTER 100',
    ]);
    expect(n.pending).toBe(0);
  });

  it('errors are logged, not thrown, and do not stop later launches', async () => {
    const errors: string[] = [];
    const logger = { ...noopLogger, error: (_o: object, m?: string) => void errors.push(m ?? '') };
    let i = 0;
    const runner: ScriptRunner = async () => {
      if (i++ === 0) throw new Error('boom');
      return result({ code: 127, error: 'x: not found' });
    };
    const n = new Notifier({ runner, logger });
    expect(() => n.notifyInstance('VI_1', 'MASTER', 100, SCRIPTS)).not.toThrow();
    await n.idle();
    expect(errors).toEqual(['notify_master script failed to run', 'notify script could not run: x: not found']);
  });

  it('writes one FIFO line per event, synchronously, in order, after launching scripts', () => {
    const lines: string[] = [];
    const sink: FifoSink = { write: (l) => void lines.push(l) };
    const n = new Notifier({ runner: recorder().runner, fifos: [sink] });
    n.notifyInstance('VI_1', 'BACKUP', 100, {});
    n.notifyGroup('VG1', 'MASTER', {});
    n.notifyInstance('VI_1', 'MASTER', 100, {});
    n.notify({ kind: 'INSTANCE', name: 'VI_2', state: 'FAULT', scripts: {} });
    expect(lines).toEqual(['INSTANCE "VI_1" BACKUP 100\n', 'GROUP "VG1" MASTER 0\n', 'INSTANCE "VI_1" MASTER 100\n', 'INSTANCE "VI_2" FAULT 0\n']);
  });

  it('stop() aborts running scripts', async () => {
    const seen: boolean[] = [];
    const runner: ScriptRunner = (_s, o) =>
      new Promise((resolve) => {
        o.onSpawn?.(1);
        o.signal?.addEventListener('abort', () => {
          seen.push(true);
          resolve(result({ aborted: true, code: null, signal: 'SIGTERM' }));
        });
      });
    const n = new Notifier({ runner });
    n.notifyInstance('VI_1', 'MASTER', 100, SCRIPTS);
    await new Promise((r) => setTimeout(r, 20));
    await n.stop();
    expect(seen).toEqual([true, true]);
    expect(n.pending).toBe(0);
  });
});

describe('Notifier (real scripts and FIFO)', () => {
  it('passes the appended arguments to a real generic notify script', async () => {
    const out = path.join(root, 'generic.out');
    const n = new Notifier();
    const scripts: NotifyScripts = {
      notify_master: { command: `/bin/sh -c 'echo "master $#" >> ${out}'` },
      notify: { command: `/bin/sh -c 'echo "generic $*" >> ${out}' notify` },
    };
    n.notifyInstance('VI_1', 'MASTER', 100, scripts);
    await n.idle();
    n.notifyGroup('VG 1', 'BACKUP', scripts);
    await n.idle();
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toContain('master 0');
    expect(lines).toContain('generic INSTANCE VI_1 MASTER 100');
    expect(lines).toContain('generic GROUP VG 1 BACKUP 0');
  });

  it('a hanging notify_stop is killed by its 1 s limit (the real runner), with its whole process group', async () => {
    const warned: { pid?: number; msg: string }[] = [];
    const logger = { ...noopLogger, warn: (o: object, msg?: string) => void warned.push({ ...(o as { pid?: number }), msg: msg ?? '' }) };
    const limits: (number | undefined)[] = [];
    const results: ScriptResult[] = [];
    // The real runner, watched: which limit it was given, and what it reports.
    const runner: ScriptRunner = async (spec, o) => {
      limits.push(o.timeoutMs);
      const r = await runScript(spec, o);
      results.push(r);
      return r;
    };
    const n = new Notifier({ logger, runner, timeoutMs: 600_000 });
    n.notifyInstance('VI_1', 'STOP', 100, { notify_stop: { command: "/bin/sh -c 'sleep 30 & wait'" } });
    await n.idle();
    // The STOP limit (not the 10-minute one set for the other states) applied, and it is what ended
    // the script: timed out, killed by a signal, not exited by itself.
    expect(limits).toEqual([1000]);
    expect(results).toMatchObject([{ timedOut: true, code: null, signal: expect.stringMatching(/^SIG/) }]);
    const report = warned.find((w) => /notify_stop script timed out/.test(w.msg));
    expect(report?.pid).toBeGreaterThan(0);
    expect(groupMembers(report?.pid as number)).toEqual([]);
  });

  it('FIFO lines read back in order from a real FIFO', async () => {
    const p = path.join(root, 'notify.fifo');
    const fifo = new NotifyFifo({ path: p });
    expect(await fifo.open()).toBe(true);
    try {
      const n = new Notifier({ fifos: [fifo] });
      const states = ['BACKUP', 'MASTER', 'FAULT', 'BACKUP', 'MASTER', 'STOP'] as const;
      const expected: string[] = [];
      for (let i = 0; i < 30; i++) {
        const st = states[i % states.length] ?? 'BACKUP';
        if (i % 5 === 4) {
          n.notifyGroup('VG1', st, {});
          expected.push(`GROUP "VG1" ${st} 0`);
        } else {
          n.notifyInstance('VI_1', st, 100 + i, {});
          expected.push(`INSTANCE "VI_1" ${st} ${100 + i}`);
        }
      }
      const lines = await new Promise<string[]>((resolve, reject) => {
        const head = spawn('head', ['-n', '30', p], { stdio: ['ignore', 'pipe', 'inherit'] });
        let text = '';
        const t = setTimeout(() => {
          head.kill('SIGKILL');
          reject(new Error('timeout'));
        }, 5000);
        head.stdout.on('data', (d: Buffer) => (text += d.toString()));
        head.on('close', () => {
          clearTimeout(t);
          resolve(text.trim().split('\n'));
        });
      });
      expect(lines).toEqual(expected);
    } finally {
      await fifo.close();
    }
    expect(existsSync(p)).toBe(false);
  });
});

/**
 * The timerfd clock with the real addon: timers run in due order and never before their due
 * time; an armed timer keeps a process alive and a disarmed one does not; it works on a worker
 * thread's loop (where the VRRP runtime uses it). No assertion on how late a timer is.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { createPreciseClock } from '../src/sys/precise-clock.js';
import { REPO_ROOT, requireNativeAddon } from './helpers/netns.js';

requireNativeAddon();

const ADDON = path.join(REPO_ROOT, 'native', 'build', 'Release', 'vipkeeper_native.node');

function runNode(code: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('PreciseTimer / createPreciseClock (native timerfd)', () => {
  it('runs timers in due order, none before its due time', async () => {
    const clock = createPreciseClock();
    try {
      const fired: { name: string; late: number }[] = [];
      const done = new Promise<void>((resolve) => {
        const add = (name: string, ms: number) => {
          const due = performance.now() + ms;
          clock.setTimeout(() => {
            fired.push({ name, late: performance.now() - due });
            if (fired.length === 4) resolve();
          }, ms);
        };
        add('c', 30.7);
        add('a', 2.3);
        add('d', 45.1);
        add('b', 12.9);
      });
      const cancelled = clock.setTimeout(() => fired.push({ name: 'x', late: 0 }), 20);
      clock.clearTimeout(cancelled);
      await done;
      expect(fired.map((f) => f.name)).toEqual(['a', 'b', 'c', 'd']);
      for (const f of fired) expect(f.late).toBeGreaterThanOrEqual(0);
      expect(clock.pending()).toBe(0);
    } finally {
      clock.close();
    }
  });

  it('an armed timer keeps the process alive; disarmed or closed ones do not', () => {
    const armed = runNode(`const n=require(${JSON.stringify(ADDON)}); const t0=performance.now(); const t=new n.PreciseTimer(()=>{console.log('fired', (performance.now()-t0)>=150); t.close();}); t.arm(150);`);
    expect(armed.stderr).toBe('');
    expect(armed.stdout.trim()).toBe('fired true');
    const disarmed = runNode(`const n=require(${JSON.stringify(ADDON)}); const t=new n.PreciseTimer(()=>console.log('fired')); t.arm(5000); t.disarm(); console.log('end');`);
    expect(disarmed.status).toBe(0);
    expect(disarmed.stdout.trim()).toBe('end');
    const closed = runNode(`const n=require(${JSON.stringify(ADDON)}); const t=new n.PreciseTimer(()=>console.log('fired')); t.arm(5000); t.close(); console.log(t.closed);`);
    expect(closed.stdout.trim()).toBe('true');
  });

  it('fires on a worker thread and re-arms from its own callback', () => {
    const code = `
      const { Worker } = require('node:worker_threads');
      const w = new Worker(\`
        const n = require(${JSON.stringify(ADDON)});
        const { parentPort } = require('node:worker_threads');
        let count = 0;
        const t = new n.PreciseTimer(() => { if (++count < 5) t.arm(1.5); else { t.close(); parentPort.postMessage(count); } });
        t.arm(0);
      \`, { eval: true });
      w.on('message', (m) => console.log('count', m));
      w.on('error', (e) => { console.error(e); process.exitCode = 1; });
    `;
    const r = runNode(code);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('count 5');
  });

  it('rejects a callback that is not a function and arm() after close', () => {
    const r = runNode(`const n=require(${JSON.stringify(ADDON)});
      try { new n.PreciseTimer(5); } catch (e) { console.log(e.name); }
      const t = new n.PreciseTimer(() => {}); t.close();
      try { t.arm(1); } catch (e) { console.log(e.code); }`);
    expect(r.stdout.trim().split('\n')).toEqual(['TypeError', 'EBADF']);
  });
});

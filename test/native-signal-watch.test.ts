/**
 * SignalWatch with the real addon, in child Node processes (a signal to the test runner itself
 * would be unkind): a worker thread hears SIGTERM directly; the main thread's listener still runs;
 * closing the last watcher gives the signal its default action back; a worker torn down with a
 * watcher still open (and the addon loaded only in that worker) exits cleanly.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { REPO_ROOT, requireNativeAddon } from './helpers/netns.js';

requireNativeAddon();

const ADDON = path.join(REPO_ROOT, 'native', 'build', 'Release', 'vipkeeper_native.node');

function runNode(code: string): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const WORKER_WATCHING = (addon: string) => `
  const { parentPort } = require('node:worker_threads');
  const n = require(${JSON.stringify(addon)});
  const w = new n.SignalWatch(15, (sig) => parentPort.postMessage({ heard: sig, closed: w.closed }));
  parentPort.on('message', (m) => { if (m === 'close') { w.close(); parentPort.postMessage({ closedNow: w.closed }); } });
  parentPort.postMessage('ready');
`;

describe('SignalWatch (native, per-thread libuv signal watcher)', () => {
  it('a worker thread hears SIGTERM itself; the main thread listener runs too', () => {
    const r = runNode(`
      const { Worker } = require('node:worker_threads');
      const w = new Worker(${JSON.stringify(WORKER_WATCHING(ADDON))}, { eval: true });
      const seen = [];
      process.on('SIGTERM', () => seen.push('main'));
      w.on('message', async (m) => {
        if (m === 'ready') return process.kill(process.pid, 'SIGTERM');
        if (m.heard) { seen.push('worker:' + m.heard); w.postMessage('close'); return; }
        if ('closedNow' in m) {
          await new Promise((r) => setTimeout(r, 50));
          await w.terminate();
          console.log(JSON.stringify({ seen: seen.sort(), closed: m.closedNow }));
        }
      });
    `);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ seen: ['main', 'worker:15'], closed: true });
  });

  it('once the last watcher is closed, SIGTERM has its default action again', () => {
    const r = runNode(`
      const n = require(${JSON.stringify(ADDON)});
      let heard = 0;
      const w = new n.SignalWatch(15, () => heard++);
      process.kill(process.pid, 'SIGTERM');
      setTimeout(() => {
        console.log('heard ' + heard);
        w.close();
        process.kill(process.pid, 'SIGTERM');
        setTimeout(() => console.log('still alive'), 500);
      }, 100);
    `);
    expect(r.stdout.trim()).toBe('heard 1');
    expect(r.signal).toBe('SIGTERM');
  });

  it('is unref: a watcher alone does not keep a process alive', () => {
    const r = runNode(`
      const n = require(${JSON.stringify(ADDON)});
      new n.SignalWatch(15, () => {});
      console.log('done');
    `);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('done');
  });

  it('a worker terminated with a watcher still open, the addon loaded only there, exits cleanly', () => {
    const r = runNode(`
      const { Worker } = require('node:worker_threads');
      const w = new Worker(${JSON.stringify(WORKER_WATCHING(ADDON))} + 'setInterval(() => {}, 1000);', { eval: true });
      w.on('message', async (m) => {
        if (m !== 'ready') return;
        await w.terminate();
        console.log('terminated');
      });
    `);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('terminated');
  });

  it('refuses SIGKILL and a missing callback', () => {
    const r = runNode(`
      const n = require(${JSON.stringify(ADDON)});
      const errs = [];
      try { new n.SignalWatch(9, () => {}); } catch (e) { errs.push(e.constructor.name); }
      try { new n.SignalWatch(15); } catch (e) { errs.push(e.constructor.name); }
      console.log(errs.join(','));
    `);
    expect(r.stdout.trim()).toBe('TypeError,TypeError');
  });
});

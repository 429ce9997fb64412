/**
 * The addon's V8 heap hints, in child Node processes (each needs a fresh heap to measure):
 * memoryPressure('critical') gives a load's garbage back to the OS at once; a HeapWatch over its
 * limit makes V8 collect on its own thread's request, also while JS runs synchronously, and at the
 * 'critical' level keeps a synchronous burst's heap smaller than without it; a worker
 * torn down with its HeapWatch still open exits cleanly (the env cleanup hook joins the thread).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { startHeapGovernor } from '../src/daemon/heap-governor.js';
import { native } from '../src/sys/addon.js';
import { REPO_ROOT, requireNativeAddon } from './helpers/netns.js';

requireNativeAddon();

const ADDON = path.join(REPO_ROOT, 'native', 'build', 'Release', 'vipkeeper_native.node');

// async, so the test worker keeps answering vitest while the child runs
function runNode(code: string): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 60_000 }, (_err, stdout, stderr) => {
      resolve({ status: child.exitCode, signal: child.signalCode, stdout, stderr });
    });
  });
}

// Builds ~60 MB of short-lived old-generation garbage in one synchronous run: objects that stay
// alive across young collections (kept in an array), then dropped.
const MAKE_GARBAGE = `
  function garbage() {
    let keep = [];
    for (let i = 0; i < 600_000; i++) keep.push({ a: i, b: 'x' + i, c: [i, i + 1] });
    const n = keep.length;
    keep = undefined;
    return n;
  }
`;

describe('memoryPressure and HeapWatch (native V8 heap hints)', () => {
  it("memoryPressure('critical') returns a transient's heap to the OS", async () => {
    const r = await runNode(`
      const n = require(${JSON.stringify(ADDON)});
      ${MAKE_GARBAGE}
      garbage();
      const before = process.memoryUsage();
      n.memoryPressure('critical');
      n.memoryPressure('none');
      let bad; try { n.memoryPressure('high'); } catch (e) { bad = e.message; }
      const w = new n.HeapWatch(100, 1000);
      let badLevel; try { w.setLevel('none'); } catch (e) { badLevel = e.message; }
      w.close();
      // V8 may finish the release in tasks (sweeping, unmapping) that need the event loop and,
      // on a busy machine, a moment: look again every 20 ms for up to 3 s.
      const t0 = Date.now();
      (function look() {
        const after = process.memoryUsage();
        const done = after.heapTotal < before.heapTotal / 2 && before.rss - after.rss > 20 * 2 ** 20;
        if (!done && Date.now() - t0 < 3000) return setTimeout(look, 20);
        console.log(JSON.stringify({ before: before.rss, after: after.rss, heapBefore: before.heapTotal, heapAfter: after.heapTotal, bad, badLevel, ms: Date.now() - t0 }));
      })();
    `);
    expect(r.stderr).toBe('');
    const o = JSON.parse(r.stdout) as { before: number; after: number; heapBefore: number; heapAfter: number; bad: string; badLevel: string };
    // the heap V8 reserved shrinks to well under half, and the RSS with it
    expect(o.heapAfter).toBeLessThan(o.heapBefore / 2);
    expect(o.before - o.after).toBeGreaterThan(20 * 2 ** 20);
    expect(o.bad).toMatch(/'none', 'moderate' or 'critical', not 'high'/);
    expect(o.badLevel).toMatch(/'moderate' or 'critical', not 'none'/);
  });

  it('a HeapWatch over its limit asks for collections, at most once per cooldown, even inside synchronous JS', async () => {
    const r = await runNode(`
      const n = require(${JSON.stringify(ADDON)});
      const { PerformanceObserver, constants } = require('node:perf_hooks');
      ${MAKE_GARBAGE}
      let reducing = 0;
      const w = new n.HeapWatch(20, 200);
      w.setLimit(process.memoryUsage.rss() + 24 * 2 ** 20);
      const t0 = Date.now();
      for (let k = 0; k < 4; k++) garbage(); // synchronous, a few hundred ms
      const ms = Date.now() - t0;
      const notifications = w.notifications;
      const rss = w.rss;
      w.setLimit(0);
      const idle = w.notifications;
      setTimeout(() => {
        console.log(JSON.stringify({ ms, notifications, idleAfterOff: w.notifications - idle, rss }));
        w.close();
        w.close();
      }, 300);
    `);
    expect(r.stderr).toBe('');
    const o = JSON.parse(r.stdout) as { ms: number; notifications: number; idleAfterOff: number; rss: number };
    expect(o.notifications).toBeGreaterThanOrEqual(1);
    // once per 200 ms cooldown at most (+1 for the first)
    expect(o.notifications).toBeLessThanOrEqual(Math.floor(o.ms / 200) + 1);
    expect(o.idleAfterOff).toBe(0);
    expect(o.rss).toBeGreaterThan(10 * 2 ** 20);
  });

  it('the watch really bounds the heap of a synchronous burst', async () => {
    const peak = async (limitMb: number) => {
      const r = await runNode(`
        const n = require(${JSON.stringify(ADDON)});
        const v8 = require('node:v8');
        ${MAKE_GARBAGE}
        const w = ${limitMb} ? new n.HeapWatch(10, 100) : undefined;
        if (w) w.setLevel('critical'); // a synchronous burst: collect at once, not incrementally
        if (w) w.setLimit(process.memoryUsage.rss() + ${limitMb} * 2 ** 20);
        let peak = 0;
        for (let k = 0; k < 4; k++) { garbage(); peak = Math.max(peak, v8.getHeapStatistics().total_heap_size); }
        w?.close();
        console.log(peak);
      `);
      expect(r.stderr).toBe('');
      return Number(r.stdout);
    };
    const [unwatched, watched] = [await peak(0), await peak(16)];
    expect(watched).toBeLessThan(unwatched);
  });

  it('a worker torn down with its HeapWatch open exits cleanly', async () => {
    const r = await runNode(`
      const { Worker } = require('node:worker_threads');
      const w = new Worker(\`
        const n = require(${JSON.stringify(ADDON)});
        const h = new n.HeapWatch(10, 0);
        h.setLimit(1);
        require('node:worker_threads').parentPort.postMessage('ready');
        setInterval(() => {}, 1000);
      \`, { eval: true });
      w.on('message', () => setTimeout(() => w.terminate().then((code) => console.log('terminated', code)), 100));
    `);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('terminated 1');
  });

  it("startHeapGovernor follows V8's full collections into its budget, and stops cleanly", async () => {
    const g = startHeapGovernor({ minHeadroomBytes: 256 * 2 ** 20 });
    try {
      const before = g.budget.fullCollections;
      native().memoryPressure('critical');
      native().memoryPressure('none');
      // 'gc' performance entries are delivered after the collection, asynchronously
      for (let i = 0; i < 50 && g.budget.fullCollections === before; i++) await new Promise((r) => setTimeout(r, 20));
      expect(g.budget.fullCollections).toBeGreaterThan(before);
      expect(g.budget.floor).toBeGreaterThan(0);
      expect(g.budget.floor).toBeLessThanOrEqual(process.memoryUsage.rss() + 64 * 2 ** 20);
      expect(g.budget.limit - g.budget.floor).toBeGreaterThanOrEqual(256 * 2 ** 20);
      // a limit this far above the RSS asks for nothing
      expect(g.requests).toBe(0);
      g.endBurst();
      g.beginBurst(1000);
      g.endBurst();
    } finally {
      g.stop();
      g.stop();
    }
  });
});

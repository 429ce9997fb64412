/**
 * The heap governor (src/daemon/heap-governor.ts), in child Node processes (each needs a heap of
 * its own to measure): over its limit it asks V8 for full collections, at most once per cooldown;
 * the end of a burst collects at once and gives a transient's heap back to the OS; inside
 * synchronous JS it asks for nothing (the price of using only supported interfaces); V8's gc()
 * never becomes a global; a worker with a governor running exits cleanly.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { describe, expect, it } from 'vitest';

import { REPO_ROOT } from './helpers/netns.js';

const GOVERNOR = pathToFileURL(path.join(REPO_ROOT, 'src', 'daemon', 'heap-governor.ts')).href;

// async, so the test worker keeps answering vitest while the child runs
function runNode(code: string, flags: string[] = []): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [...flags, '--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000, cwd: REPO_ROOT }, (_err, stdout, stderr) => {
      resolve({ status: child.exitCode, signal: child.signalCode, stdout, stderr });
    });
  });
}

// Builds ~60 MB of short-lived old-generation garbage: objects that stay alive across young
// collections (kept in an array), then dropped.
const MAKE_GARBAGE = `
  function garbage(n = 600_000) {
    let keep = [];
    for (let i = 0; i < n; i++) keep.push({ a: i, b: 'x' + i, c: [i, i + 1] });
    const k = keep.length;
    keep = undefined;
    return k;
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
`;

describe('heap governor', () => {
  it('the end of a burst collects at once: a transient heap goes back to the OS, and the floor follows', async () => {
    const r = await runNode(`
      import { startHeapGovernor } from ${JSON.stringify(GOVERNOR)};
      ${MAKE_GARBAGE}
      const g = startHeapGovernor({ minHeadroomBytes: 512 * 2 ** 20 });
      garbage(); garbage();
      const before = process.memoryUsage();
      const collections = g.budget.fullCollections;
      g.endBurst();
      g.endBurst(); // no burst any more: nothing
      const requests = g.requests;
      // V8 finishes the release in tasks (sweeping, unmapping) that need the event loop: look
      // again every 20 ms for up to 3 s
      const t0 = Date.now();
      let after = process.memoryUsage();
      while (Date.now() - t0 < 3000) {
        after = process.memoryUsage();
        if (after.heapTotal < before.heapTotal / 2 && before.rss - after.rss > 20 * 2 ** 20 && g.budget.fullCollections > collections) break;
        await sleep(20);
      }
      g.stop();
      g.stop();
      console.log(JSON.stringify({ before: before.rss, after: after.rss, heapBefore: before.heapTotal, heapAfter: after.heapTotal, requests, collections, fullCollections: g.budget.fullCollections, floor: g.budget.floor, limit: g.budget.limit, globalGc: typeof globalThis.gc }));
    `);
    expect(r.stderr).toBe('');
    const o = JSON.parse(r.stdout) as Record<string, number | string>;
    expect(o.requests).toBe(1);
    expect(o.heapAfter).toBeLessThan((o.heapBefore as number) / 2);
    expect((o.before as number) - (o.after as number)).toBeGreaterThan(20 * 2 ** 20);
    expect(o.fullCollections).toBeGreaterThan(o.collections as number);
    expect(o.floor).toBeGreaterThan(0);
    expect((o.limit as number) - (o.floor as number)).toBeGreaterThanOrEqual(512 * 2 ** 20);
    // the collector is the governor's own, not a global
    expect(o.globalGc).toBe('undefined');
  });

  it('over its limit it asks for collections, at most once per cooldown, waiting longer while they cannot bring the RSS under it', async () => {
    const r = await runNode(`
      import { startHeapGovernor } from ${JSON.stringify(GOVERNOR)};
      import { PerformanceObserver, constants } from 'node:perf_hooks';
      ${MAKE_GARBAGE}
      let majors = 0;
      new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++; }).observe({ entryTypes: ['gc'] });
      // a limit the garbage passes at once: 1 MB over the floor
      const g = startHeapGovernor({ intervalMs: 20, cooldownMs: 200, minHeadroomBytes: 2 ** 20, headroomRatio: 0 });
      g.endBurst();
      const afterBurst = g.requests;
      // garbage in slices, the event loop turning between them; the request times
      const t0 = Date.now();
      const at = [];
      let kept = [];
      let seen = g.requests;
      while (Date.now() - t0 < 2500) {
        kept.push(garbage(20_000));
        if (kept.length > 8) kept = [];
        await sleep(5);
        if (g.requests !== seen) at.push(Date.now() - t0);
        seen = g.requests;
      }
      const requests = g.requests - afterBurst;
      g.stop();
      const stopped = g.requests;
      await sleep(300);
      console.log(JSON.stringify({ afterBurst, requests, at, majors, stoppedStill: g.requests === stopped }));
    `);
    expect(r.stderr).toBe('');
    const o = JSON.parse(r.stdout) as { afterBurst: number; requests: number; at: number[]; majors: number; stoppedStill: boolean };
    expect(o.afterBurst).toBe(1);
    // a limit 1 MB over the floor: the collections cannot keep under it, so they come further
    // and further apart (200, 400, 800 ms ...), never closer than the cooldown
    expect(o.requests).toBeGreaterThanOrEqual(2);
    expect(o.requests).toBe(o.at.length);
    const gaps = o.at.slice(1).map((t, i) => t - o.at[i]!);
    expect(gaps.every((g) => g >= 190)).toBe(true);
    expect(gaps.at(-1)!).toBeGreaterThan(gaps[0]!);
    expect(o.majors).toBeGreaterThanOrEqual(o.requests);
    expect(o.stoppedStill).toBe(true);
  });

  it('while held (a reload reader thread allocating) it asks for nothing over its limit; released, it asks again', async () => {
    const r = await runNode(`
      import { startHeapGovernor } from ${JSON.stringify(GOVERNOR)};
      ${MAKE_GARBAGE}
      const g = startHeapGovernor({ intervalMs: 20, cooldownMs: 100, burstCooldownMs: 50, minHeadroomBytes: 2 ** 20, headroomRatio: 0 });
      g.endBurst();
      const base = g.requests;
      const release = g.hold();
      g.beginBurst(); // even in a burst
      let kept = [];
      for (let i = 0; i < 20; i++) { kept.push(garbage(20_000)); await sleep(20); }
      const held = g.requests - base;
      release();
      release(); // idempotent: a second call releases nothing more
      const t0 = Date.now();
      while (g.requests === base + held && Date.now() - t0 < 3000) { kept.push(garbage(20_000)); await sleep(20); }
      const after = g.requests - base - held;
      g.stop();
      console.log(JSON.stringify({ held, after }));
    `);
    expect(r.stderr).toBe('');
    const o = JSON.parse(r.stdout) as { held: number; after: number };
    expect(o.held).toBe(0);
    expect(o.after).toBeGreaterThan(0);
  });

  it('uses the global gc under --expose-gc, and a worker with a governor running exits cleanly', async () => {
    const r = await runNode(
      `
      import { startHeapGovernor, v8Gc } from ${JSON.stringify(GOVERNOR)};
      import { Worker } from 'node:worker_threads';
      console.log(v8Gc() === globalThis.gc);
      const g = startHeapGovernor();
      // loader hooks do not follow into workers on Node 20: the worker registers tsx itself
      const w = new Worker(\`
        import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(GOVERNOR)}); }).then(async ({ startHeapGovernor }) => {
          startHeapGovernor({ intervalMs: 10, minHeadroomBytes: 1, headroomRatio: 0 });
          (await import('node:worker_threads')).parentPort.postMessage('ready');
          setInterval(() => {}, 1000);
        });
      \`, { eval: true });
      w.on('message', () => setTimeout(() => w.terminate().then((code) => { g.stop(); console.log('terminated', code); }), 200));
    `,
      ['--expose-gc'],
    );
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['true', 'terminated 1']);
  });
});

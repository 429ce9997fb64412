// The measured process of bench/checks (and the check load of bench/jitter): vipkeeper's
// HealthChecker with the real probes (runProbe) on a keepalived.conf, in a process of its own.
//
//   node [--import tsx] bench/checks/checker.ts '{"modulesRoot": "...", "conf": "...", "settleMs": 3000,
//                                                  "durationMs": 60000, "out": "result.json"}'
//
// modulesRoot: compiled modules (a dist/ dir: check/health.js, …) or src/ under tsx. Nothing from
// src/ is imported statically, so the benchmark can run a private compiled snapshot.
// After `settleMs` (bootstrap delay + the warmup spread) it measures for `durationMs`: CPU
// (process.cpuUsage), RSS (sampled each second, and the process's ru_maxrss), every attempt's
// latency (onLatency), failures, scheduler stats. durationMs 0 = run until SIGTERM (bench/jitter).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import type { HealthChecker as HealthCheckerT } from '../../src/check/health.js';
import type { startHeapGovernor as startHeapGovernorT } from '../../src/daemon/heap-governor.js';
import type { DirectProbe, Probe } from '../../src/check/types.js';
import type { LoadedConfig } from '../../src/config/load.js';

interface Args {
  modulesRoot: string;
  conf: string;
  settleMs: number;
  durationMs: number;
  out: string;
  /** The scheduler's maxConcurrent (default: the scheduler's own). */
  maxConcurrent?: number;
  /** Print a progress line to stdout every N ms (0 = never). */
  progressMs?: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const mod = async <T>(rel: string): Promise<T> => {
  const ts = path.join(args.modulesRoot, rel.replace(/\.js$/, '.ts'));
  const js = path.join(args.modulesRoot, rel);
  return (await import(pathToFileURL(args.modulesRoot.endsWith('src') ? ts : js).href)) as T;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const t00 = performance.now();
  const cpu00 = process.cpuUsage();
  const { loadConfigFile } = await mod<{ loadConfigFile: (p: string, o: { configId: string }) => LoadedConfig }>('config/load.js');
  const { HealthChecker } = await mod<{ HealthChecker: typeof HealthCheckerT }>('check/health.js');
  const { CHECK_TIMER_SLACK_MS } = await mod<{ CHECK_TIMER_SLACK_MS?: number }>('check/scheduler.js');
  const { runProbe, runDirect } = await mod<{ runProbe: Probe; runDirect?: DirectProbe }>('check/probes/index.js');

  // as `vipkeeper run` does (src/daemon/daemon.ts), unless VIPKEEPER_HEAP_GOVERNOR=off
  const governor =
    process.env.VIPKEEPER_HEAP_GOVERNOR === 'off'
      ? undefined
      : (await mod<{ startHeapGovernor: typeof startHeapGovernorT }>('daemon/heap-governor.js')).startHeapGovernor();

  const rssBeforeConfig = process.memoryUsage.rss();
  const tLoad0 = performance.now();
  const loaded = loadConfigFile(args.conf, { configId: 'bench' });
  if (!loaded.config) throw new Error(`config rejected: ${JSON.stringify(loaded.diagnostics.slice(0, 3))}`);
  const loadMs = performance.now() - tLoad0;

  let measuring = false;
  // latency histogram (not a sample array, so the instrument adds ~80 KB, not MBs, to the RSS
  // being measured): 10 µs buckets below 100 ms, 1 ms buckets from 100 ms to 10 s
  const hist = new Uint32Array(20_000);
  const bucket = (ms: number) => (ms < 100 ? Math.floor(ms * 100) : Math.min(19_999, 10_000 + Math.floor(ms - 100)));
  const value = (i: number) => (i < 10_000 ? (i + 0.5) / 100 : 100 + (i - 10_000) + 0.5);
  let maxLat = 0;
  let n = 0;
  let fails = 0;
  let total = 0;
  let events = 0;
  const hc = new HealthChecker(loaded.config, {
    probe: runProbe,
    // as `vipkeeper run` does (src/daemon/daemon.ts startHealth)
    ...(runDirect ? { direct: runDirect } : {}),
    ...(CHECK_TIMER_SLACK_MS !== undefined ? { timerSlackMs: CHECK_TIMER_SLACK_MS } : {}),
    ...(args.maxConcurrent ? { maxConcurrent: args.maxConcurrent } : {}),
    onLatency: (_kind, ms, ok) => {
      total++;
      if (!measuring) return;
      hist[bucket(ms)]!++;
      n++;
      if (ms > maxLat) maxLat = ms;
      if (!ok) fails++;
    },
    onEvent: (e) => {
      if (!(e as { initial?: boolean }).initial) events++;
    },
  });
  const tStart0 = performance.now();
  hc.start();
  const startMs = performance.now() - tStart0;
  governor?.endBurst(); // as the daemon does once the checker is built
  const jobs = hc.scheduler.stats().jobs;
  // the QEMU guest starts its settle time here, not at exec: node's start and the config load
  // take seconds of emulated CPU, which are not the checker's steady state
  process.stdout.write(`${JSON.stringify({ ready: true, jobs })}\n`);

  const rssAfterStart = process.memoryUsage.rss();
  let peakRss = rssAfterStart;
  let peakRssWindow = 0;
  // what the RSS is made of at its peak in the window (V8 heap reserved, heap in use, off-heap)
  let atPeak = { heapTotal: 0, heapUsed: 0, external: 0 };
  const rssTimer = setInterval(() => {
    const r = process.memoryUsage.rss();
    peakRss = Math.max(peakRss, r);
    if (measuring && r > peakRssWindow) {
      peakRssWindow = r;
      const m = process.memoryUsage();
      atPeak = { heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external };
    }
  }, 1000);
  let progress: NodeJS.Timeout | undefined;
  if (args.progressMs) {
    let last = total;
    progress = setInterval(() => {
      process.stdout.write(`${JSON.stringify({ t: Math.round(performance.now() - t00), attempts: total - last, rss: process.memoryUsage.rss() })}\n`);
      last = total;
    }, args.progressMs);
  }

  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  process.once('SIGTERM', () => stop());
  process.once('SIGINT', () => stop());

  await Promise.race([sleep(args.settleMs), stopped]);
  // VKB_CHECKER_PROMOTED=FILE: sample the allocations that survive minor GCs (the ones that
  // fill the old generation) over the window, as a .heapprofile for DevTools
  const promoted = process.env.VKB_CHECKER_PROMOTED ? await startPromotedSampling() : undefined;
  const cpuA = process.cpuUsage();
  const tA = performance.now();
  const sA = hc.scheduler.stats();
  measuring = true;
  await (args.durationMs > 0 ? Promise.race([sleep(args.durationMs), stopped]) : stopped);
  measuring = false;
  const cpuB = process.cpuUsage(cpuA);
  const windowS = (performance.now() - tA) / 1000;
  const sB = hc.scheduler.stats();
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  const heapUsedAtEnd = process.memoryUsage().heapUsed;
  if (promoted) await promoted.stop(process.env.VKB_CHECKER_PROMOTED!);
  clearInterval(rssTimer);
  if (progress) clearInterval(progress);
  hc.stop();
  const heapGovernor = governor
    ? { requests: governor.requests, fullCollections: governor.budget.fullCollections, floorMb: governor.budget.floor / 2 ** 20, limitMb: governor.budget.limit / 2 ** 20 }
    : undefined;
  governor?.stop();
  // live data vs GC headroom: heap and RSS after a full collection (needs --expose-gc)
  const gc = (globalThis as { gc?: () => void }).gc;
  let afterGc: { heapUsedMb: number; rssMb: number } | undefined;
  if (gc) {
    gc();
    afterGc = { heapUsedMb: process.memoryUsage().heapUsed / 2 ** 20, rssMb: process.memoryUsage.rss() / 2 ** 20 };
  }

  const q = (p: number) => {
    if (!n) return NaN;
    const rank = Math.max(1, Math.ceil(p * n));
    let acc = 0;
    for (let i = 0; i < hist.length; i++) {
      acc += hist[i]!;
      if (acc >= rank) return value(i);
    }
    return maxLat;
  };
  const cpuAll = process.cpuUsage(cpu00);
  const result = {
    jobs,
    windowS,
    cpuUserS: cpuB.user / 1e6,
    cpuSystemS: cpuB.system / 1e6,
    cpuS: (cpuB.user + cpuB.system) / 1e6,
    cpuPerSecond: (cpuB.user + cpuB.system) / 1e6 / windowS,
    cpuWholeProcessS: (cpuAll.user + cpuAll.system) / 1e6,
    peakRssMb: Math.max(peakRss, process.resourceUsage().maxRSS * 1024) / 2 ** 20,
    maxRssMb: (process.resourceUsage().maxRSS * 1024) / 2 ** 20,
    rssAfterStartMb: rssAfterStart / 2 ** 20,
    peakRssWindowMb: peakRssWindow / 2 ** 20,
    rssAtEndMb: process.memoryUsage.rss() / 2 ** 20,
    atPeakRssWindow: { heapTotalMb: atPeak.heapTotal / 2 ** 20, heapUsedMb: atPeak.heapUsed / 2 ** 20, externalMb: atPeak.external / 2 ** 20 },
    execArgv: process.execArgv,
    rssBeforeConfigMb: rssBeforeConfig / 2 ** 20,
    heapUsedMb: heapUsedAtEnd / 2 ** 20,
    afterGc,
    attempts: n,
    rate: n / windowS,
    failures: fails,
    latencyMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: n ? maxLat : NaN },
    scheduler: {
      lateStarts: sB.lateStarts - sA.lateStarts,
      timeouts: sB.timeouts - sA.timeouts,
      stuck: sB.stuck - sA.stuck,
      maxQueueWaitMs: sB.maxQueueWaitMs,
    },
    poolEvents: events,
    heapGovernor,
    configLoadMs: loadMs,
    startMs,
    node: process.version,
  };
  writeFileSync(args.out, JSON.stringify(result, null, 1));
  process.stdout.write(`${JSON.stringify({ done: true })}\n`);
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`checker: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});

async function startPromotedSampling(): Promise<{ stop(file: string): Promise<void> }> {
  const { Session } = await import('node:inspector');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  const post = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  await post('HeapProfiler.startSampling', { samplingInterval: 8192, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false });
  return {
    async stop(file: string) {
      const r = (await post('HeapProfiler.stopSampling')) as { profile: unknown };
      writeFileSync(file, JSON.stringify(r.profile));
      session.disconnect();
    },
  };
}

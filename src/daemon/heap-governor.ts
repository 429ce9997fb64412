// Keeps the main thread's RSS near its live size (heap-budget.ts decides how near): a native
// watcher thread reads the RSS every 100 ms and, over the budget's limit, asks V8 for an
// incremental, memory-reducing collection (at most once a second) or, during a burst such as the
// start, for a full collection at once (at most every 200 ms). Every full collection V8 reports
// moves the budget's floor. The watcher is a thread so that it also works inside long synchronous
// JS, such as loading a 10,000-server config.
import { constants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

import { native, type NativeHeapWatch } from '../sys/addon.js';
import { DEFAULT_HEAP_BUDGET, HeapBudget, type HeapBudgetOptions } from './heap-budget.js';

export interface HeapGovernor {
  /** Collections asked of V8 so far. */
  readonly requests: number;
  readonly budget: HeapBudget;
  /**
   * A burst of allocation starts (a config load, building the checker): until endBurst, or
   * `maxMs` at most, requests are 'critical' (collect now) rather than 'moderate' (incremental
   * marking, which a synchronous load outruns). The governor starts in a burst.
   */
  beginBurst(maxMs?: number): void;
  endBurst(): void;
  stop(): void;
}

export interface HeapGovernorOptions extends Partial<HeapBudgetOptions> {
  /** How often the watcher reads the RSS (ms). */
  intervalMs?: number;
  /** Least time between two requests (ms). */
  cooldownMs?: number;
  /** Least time between two requests during a burst (ms). */
  burstCooldownMs?: number;
  /** The longest the start's burst lasts without an endBurst (ms). */
  startBurstMs?: number;
}

export const DEFAULT_BURST_MS = 10_000;

export function startHeapGovernor(opts: HeapGovernorOptions = {}): HeapGovernor {
  const budget = new HeapBudget(process.memoryUsage.rss(), {
    minHeadroomBytes: opts.minHeadroomBytes ?? DEFAULT_HEAP_BUDGET.minHeadroomBytes,
    headroomRatio: opts.headroomRatio ?? DEFAULT_HEAP_BUDGET.headroomRatio,
  });
  const cooldownMs = opts.cooldownMs ?? 1000;
  const watch: NativeHeapWatch = new (native().HeapWatch)(opts.intervalMs ?? 100, cooldownMs);
  watch.setLimit(budget.limit);
  // 'gc' entries arrive after the collection, on this thread: the RSS then is the new floor.
  const observer = new PerformanceObserver((list) => {
    let full = false;
    for (const e of list.getEntries()) {
      if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) full = true;
    }
    const youngBytes = youngGenerationBytes();
    if (!full) return budget.youngGeneration(youngBytes);
    const m = process.memoryUsage();
    budget.afterFullCollection({ rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, youngBytes });
    watch.setLimit(budget.limit);
  });
  observer.observe({ entryTypes: ['gc'] });
  let stopped = false;
  let burstTimer: NodeJS.Timeout | undefined;
  const endBurst = () => {
    clearTimeout(burstTimer);
    burstTimer = undefined;
    if (!stopped) watch.setLevel('moderate', cooldownMs);
  };
  const beginBurst = (maxMs = DEFAULT_BURST_MS) => {
    if (stopped) return;
    watch.setLevel('critical', opts.burstCooldownMs ?? 200);
    clearTimeout(burstTimer);
    burstTimer = setTimeout(endBurst, maxMs);
    burstTimer.unref();
  };
  beginBurst(opts.startBurstMs);
  return {
    get requests() {
      return watch.notifications;
    },
    budget,
    beginBurst,
    endBurst,
    stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(burstTimer);
      observer.disconnect();
      watch.close();
    },
  };
}

function youngGenerationBytes(): number {
  let n = 0;
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === 'new_space' || s.space_name === 'new_large_object_space') n += s.space_size;
  return n;
}

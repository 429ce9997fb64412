// Keeps the main thread's RSS near its live size (heap-budget.ts decides how near). A timer reads
// the RSS every 100 ms and, over the budget's limit, asks V8 for a full collection: as a task of
// its own on this thread at most once a second, or at once at most every 200 ms during a burst (a
// reload, while two configs are in memory). The end of a burst (the config loaded, the checker
// built) collects at once: V8 sizes its next limits from the heap of its latest full collection,
// which after a load is the load's. Every full collection V8 reports moves the budget's floor.
// A collection keeps some freed memory mapped; when one leaves the RSS over the limit, the wait
// before the next doubles (up to 32 times the cooldown), and it is back to the cooldown once the
// RSS is under the limit again: no collection a second that cannot give anything back.
//
// Only supported interfaces: the collection is V8's gc() extension (Node's documented
// --expose-gc), fetched through v8.setFlagsFromString without making it a global. An earlier
// version sent Isolate::MemoryPressureNotification from a thread in the addon: V8's C++ API is
// outside N-API's stable ABI (a Node whose V8 symbols differ would fail to load the whole
// addon), and it called V8 from a foreign thread. What that version could do and this one
// cannot: collect inside long synchronous JS. The start-up's (and a reload's) peak RSS is now
// what V8 lets a synchronous config load reach; BENCHMARKS.md has the measurements.
import { constants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

import { DEFAULT_HEAP_BUDGET, HeapBudget, type HeapBudgetOptions } from './heap-budget.js';

export interface HeapGovernor {
  /** Collections asked of V8 so far. */
  readonly requests: number;
  readonly budget: HeapBudget;
  /**
   * A burst of allocation starts (a config load, building the checker): until endBurst, or
   * `maxMs` at most, a request collects at once (not as a later task) and may come every
   * `burstCooldownMs`. The governor starts in a burst.
   */
  beginBurst(maxMs?: number): void;
  /** The burst is over: one full collection now (if a burst was on), then the ordinary pace. */
  endBurst(): void;
  /**
   * Another thread of this process is allocating (a reload's config reader): the RSS then counts
   * a heap this thread's collections cannot shrink, and collecting this one anyway only takes CPU
   * from that thread. No requests until every hold is released (the function returned; idempotent).
   */
  hold(): () => void;
  stop(): void;
}

export interface HeapGovernorOptions extends Partial<HeapBudgetOptions> {
  /** How often the RSS is read (ms). */
  intervalMs?: number;
  /** Least time between two requests (ms). */
  cooldownMs?: number;
  /** Least time between two requests during a burst (ms). */
  burstCooldownMs?: number;
  /** The longest the start's burst lasts without an endBurst (ms). */
  startBurstMs?: number;
}

export const DEFAULT_BURST_MS = 10_000;

/** V8's gc(): a full collection now, or as a task of its own (`execution: 'async'`, resolved after it). */
type Gc = (opts?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => Promise<void> | undefined;

let gcFunction: Gc | undefined;

/** V8's gc() extension: the global one under --expose-gc, else one made for this module alone. */
export function v8Gc(): Gc {
  if (gcFunction) return gcFunction;
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === 'function') return (gcFunction = global as Gc);
  // The extension is installed in contexts created while the flag is on; the flag goes off again
  // at once, so no other context (nor the main one) gets a global gc.
  v8.setFlagsFromString('--expose-gc');
  let made: unknown;
  try {
    made = vm.runInNewContext('typeof gc === "function" ? gc : undefined');
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
  if (typeof made !== 'function') throw new Error("V8's gc extension is not available in this Node (v8.setFlagsFromString('--expose-gc') had no effect)");
  return (gcFunction = made as Gc);
}

export function startHeapGovernor(opts: HeapGovernorOptions = {}): HeapGovernor {
  const gc = v8Gc();
  const budget = new HeapBudget(process.memoryUsage.rss(), {
    minHeadroomBytes: opts.minHeadroomBytes ?? DEFAULT_HEAP_BUDGET.minHeadroomBytes,
    headroomRatio: opts.headroomRatio ?? DEFAULT_HEAP_BUDGET.headroomRatio,
  });
  const cooldownMs = opts.cooldownMs ?? 1000;
  const burstCooldownMs = opts.burstCooldownMs ?? 200;
  let requests = 0;
  let burst = false;
  let stopped = false;
  let lastAt = -Infinity;
  /** The wait before the next request outside a burst: the cooldown, doubled per request that left the RSS over the limit. */
  let waitMs = cooldownMs;
  /** A request outside a burst ran and the RSS has not been under the limit since. */
  let over = false;
  /** A task collection asked for and not run yet: no second one meanwhile. */
  let queued = false;
  /** Holds not released yet (hold()). */
  let holds = 0;
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
  });
  observer.observe({ entryTypes: ['gc'] });
  const collectNow = () => {
    requests++;
    lastAt = performance.now();
    gc();
  };
  const tick = () => {
    if (queued || holds > 0) return;
    if (process.memoryUsage.rss() <= budget.limit) {
      over = false;
      waitMs = cooldownMs;
      return;
    }
    const now = performance.now();
    if (now - lastAt < (burst ? burstCooldownMs : waitMs)) return;
    if (burst) return collectNow();
    if (over) waitMs = Math.min(waitMs * 2, cooldownMs * 32);
    requests++;
    lastAt = now;
    queued = true;
    void gc({ type: 'major', execution: 'async' })!.finally(() => {
      queued = false;
      over = true;
    });
  };
  const timer = setInterval(tick, opts.intervalMs ?? 100);
  timer.unref();
  let burstTimer: NodeJS.Timeout | undefined;
  const endBurst = () => {
    clearTimeout(burstTimer);
    burstTimer = undefined;
    if (!burst || stopped) return;
    burst = false;
    // Twice: after the first, much of what it freed is still mapped; the second gives most of
    // it back (BENCHMARKS.md, the heap governor without V8's C++ API).
    collectNow();
    gc();
  };
  const beginBurst = (maxMs = DEFAULT_BURST_MS) => {
    if (stopped) return;
    burst = true;
    clearTimeout(burstTimer);
    burstTimer = setTimeout(endBurst, maxMs);
    burstTimer.unref();
  };
  beginBurst(opts.startBurstMs);
  return {
    get requests() {
      return requests;
    },
    budget,
    beginBurst,
    endBurst,
    hold() {
      holds++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        holds--;
      };
    },
    stop() {
      if (stopped) return;
      stopped = true;
      burst = false;
      clearTimeout(burstTimer);
      clearInterval(timer);
      observer.disconnect();
    },
  };
}

function youngGenerationBytes(): number {
  let n = 0;
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === 'new_space' || s.space_name === 'new_large_object_space') n += s.space_size;
  return n;
}

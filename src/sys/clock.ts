/**
 * A monotonic clock with timers, injectable so schedulers (track scripts, notify timeouts) can
 * be tested in fake time.
 *
 * - `realClock`: `performance.now()` and the global timers.
 * - `FakeClock`: time moves only when a test calls `advance(ms)` (or `advanceAsync(ms)`), which
 *   runs every timer that falls due, in order of due time and then of creation.
 */
import { DueHeap, type DueItem } from './due-heap.js';

/** Opaque timer handle; only pass it back to the clock that made it. */
export type TimerHandle = unknown;

export interface Clock {
  /** Monotonic milliseconds (arbitrary origin, never goes backwards). */
  now(): number;
  /** Runs `fn` once, `ms` from now (negative or NaN counts as 0). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; unknown or already-fired handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, sanitizeDelay(ms)),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

function sanitizeDelay(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

interface FakeTimer extends DueItem {
  fn: () => void;
}

/** Upper bound on timers run by one `advance` call, so a timer that re-arms itself at 0 ms cannot hang a test. */
const MAX_TIMERS_PER_ADVANCE = 1_000_000;

/**
 * The one fake clock for tests and simulations: time moves only when a test says so. Timers
 * run in order of due time, then of creation, each with `now()` at its own due time.
 * - `advance(ms)` runs them synchronously;
 * - `advanceAsync(ms)` / `advanceTo(t)` let queued promise callbacks run after each instant
 *   (all timers due at one time), so async code under test settles "in" fake time.
 */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly heap = new DueHeap<FakeTimer>();

  /**
   * `settleTurns`: event-loop turns given to promise callbacks after each instant (default 1);
   * code that chains several awaits per step (the IPVS reconciler over a backend) needs more.
   */
  constructor(
    start = 0,
    private readonly opts: { settleTurns?: number } = {},
  ) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  /** Moves time forward without running timers (a stalled process, a suspended VM). */
  jump(ms: number): void {
    this.current += sanitizeDelay(ms);
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { nextAt: this.current + sanitizeDelay(ms), seq: this.seq++, heapIndex: -1, fn };
    this.heap.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    // remove() ignores a timer that already ran or was cleared
    if (handle && typeof handle === 'object' && 'heapIndex' in handle && 'fn' in handle) this.heap.remove(handle as FakeTimer);
  }

  /** Number of timers not yet run or cleared. */
  pending(): number {
    return this.heap.size;
  }

  /** Due time of the earliest pending timer, if any. */
  nextDue(): number | undefined {
    return this.heap.peek()?.nextAt;
  }

  /**
   * Moves time forward by `ms`, running every timer due on the way (timers armed by a running
   * timer run too if they fall due before the target). Ends with `now() === start + ms`.
   */
  advance(ms: number): void {
    const target = this.current + sanitizeDelay(ms);
    for (let i = 0; ; i++) {
      if (i >= MAX_TIMERS_PER_ADVANCE) throw new Error(`FakeClock.advance: more than ${MAX_TIMERS_PER_ADVANCE} timers ran`);
      const t = this.heap.peek();
      if (!t || t.nextAt > target) break;
      this.heap.remove(t);
      this.current = t.nextAt;
      t.fn();
    }
    this.current = target;
  }

  /** Like `advance`, letting promise callbacks run after each instant. */
  advanceAsync(ms: number): Promise<void> {
    return this.advanceTo(this.current + sanitizeDelay(ms));
  }

  /** Moves time forward to `target` (never back), as `advanceAsync`. */
  async advanceTo(target: number): Promise<void> {
    const settle = async () => {
      for (let i = 0; i < (this.opts.settleTurns ?? 1); i++) await flushMicrotasks();
    };
    await settle();
    let ran = 0;
    for (;;) {
      const first = this.heap.peek();
      if (!first || first.nextAt > target) break;
      const at = first.nextAt;
      this.current = Math.max(this.current, at);
      for (let t = this.heap.peek(); t && t.nextAt === at; t = this.heap.peek()) {
        if (++ran > MAX_TIMERS_PER_ADVANCE) throw new Error(`FakeClock.advanceTo: more than ${MAX_TIMERS_PER_ADVANCE} timers ran`);
        this.heap.remove(t);
        t.fn();
      }
      await settle();
    }
    this.current = Math.max(this.current, target);
    await settle();
  }
}

/** Resolves after queued promise callbacks have run (one macrotask turn; no wall-clock timer involved). */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

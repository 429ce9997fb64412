/**
 * A monotonic clock with timers, injectable so schedulers (track scripts, notify timeouts) can
 * be tested in fake time.
 *
 * - `realClock`: `performance.now()` and the global timers.
 * - `FakeClock`: time moves only when a test calls `advance(ms)` (or `advanceAsync(ms)`), which
 *   runs every timer that falls due, in order of due time and then of creation.
 */

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

interface FakeTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/** Upper bound on timers run by one `advance` call, so a timer that re-arms itself at 0 ms cannot hang a test. */
const MAX_TIMERS_PER_ADVANCE = 1_000_000;

export class FakeClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, FakeTimer>();

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { id: this.nextId++, at: this.current + sanitizeDelay(ms), fn };
    this.timers.set(timer.id, timer);
    return { fakeTimerId: timer.id };
  }

  clearTimeout(handle: TimerHandle): void {
    const id = (handle as { fakeTimerId?: unknown } | null | undefined)?.fakeTimerId;
    if (typeof id === 'number') this.timers.delete(id);
  }

  /** Number of timers not yet run or cleared. */
  pending(): number {
    return this.timers.size;
  }

  /** Due time of the earliest pending timer, if any. */
  nextDue(): number | undefined {
    return this.earliest(Infinity)?.at;
  }

  /**
   * Moves time forward by `ms`, running every timer due on the way (timers armed by a running
   * timer run too if they fall due before the target). Ends with `now() === start + ms`.
   */
  advance(ms: number): void {
    const target = this.current + sanitizeDelay(ms);
    for (let i = 0; ; i++) {
      if (i >= MAX_TIMERS_PER_ADVANCE) throw new Error(`FakeClock.advance: more than ${MAX_TIMERS_PER_ADVANCE} timers ran`);
      const t = this.earliest(target);
      if (!t) break;
      this.timers.delete(t.id);
      this.current = t.at;
      t.fn();
    }
    this.current = target;
  }

  /**
   * Like `advance`, but lets promise callbacks (and other already-queued I/O callbacks) run
   * after each timer, for code under test that awaits between timers.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.current + sanitizeDelay(ms);
    await flushMicrotasks();
    for (let i = 0; ; i++) {
      if (i >= MAX_TIMERS_PER_ADVANCE) throw new Error(`FakeClock.advanceAsync: more than ${MAX_TIMERS_PER_ADVANCE} timers ran`);
      const t = this.earliest(target);
      if (!t) break;
      this.timers.delete(t.id);
      this.current = t.at;
      t.fn();
      await flushMicrotasks();
    }
    this.current = target;
    await flushMicrotasks();
  }

  private earliest(limit: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.timers.values()) {
      if (t.at > limit) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.id < best.id)) best = t;
    }
    return best;
  }
}

/** Resolves after queued promise callbacks have run (one macrotask turn). */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

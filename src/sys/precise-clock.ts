/**
 * A Clock whose timers fire within microseconds of their due time, for the VRRP thread.
 *
 * Node's timers have millisecond resolution and read a cached loop time: a timer due in 20.4 ms
 * fires anywhere from ~1.5 ms early to ~0.3 ms late (measured here), and the runtime, re-arming
 * for the remainder, then waits a whole extra millisecond. keepalived's timers are microsecond
 * timeouts on its epoll loop. This clock keeps its pending timers in a small list and arms one
 * native timerfd (src/net/native.ts PreciseTimer) for the earliest; the VRRP runtime has one
 * timer at a time, so the list stays tiny.
 */
import type { Clock, TimerHandle } from './clock.js';
import { native, type NativePreciseTimer } from './addon.js';

interface Pending {
  at: number;
  fn: () => void;
}

export interface PreciseClock extends Clock {
  /** Pending timers; for tests. */
  pending(): number;
  /** Releases the timerfd; pending timers never run. */
  close(): void;
}

export function createPreciseClock(opts: { now?: () => number; timer?: (cb: () => void) => Pick<NativePreciseTimer, 'arm' | 'disarm' | 'close'> } = {}): PreciseClock {
  const now = opts.now ?? (() => performance.now());
  const pending = new Set<Pending>();
  let armedAt: number | undefined;
  const timer = (opts.timer ?? ((cb) => new (native().PreciseTimer)(cb)))(onExpire);

  function rearm(): void {
    let first: number | undefined;
    for (const p of pending) if (first === undefined || p.at < first) first = p.at;
    if (first === armedAt) return;
    armedAt = first;
    if (first === undefined) timer.disarm();
    else timer.arm(first - now());
  }

  function onExpire(): void {
    armedAt = undefined;
    const t = now();
    // in due order; a timer armed by one of these runs on a later expiry
    const due = [...pending].filter((p) => p.at <= t).sort((a, b) => a.at - b.at);
    for (const p of due) pending.delete(p);
    for (const p of due) {
      try {
        p.fn();
      } catch (err) {
        queueMicrotask(() => {
          throw err; // as an uncaught exception, like a throwing setTimeout callback
        });
      }
    }
    rearm();
  }

  return {
    now,
    setTimeout(fn, ms): TimerHandle {
      const p: Pending = { at: now() + (Number.isFinite(ms) && ms > 0 ? ms : 0), fn };
      pending.add(p);
      rearm();
      return p;
    },
    clearTimeout(handle) {
      if (pending.delete(handle as Pending)) rearm();
    },
    pending: () => pending.size,
    close() {
      pending.clear();
      armedAt = undefined;
      timer.close();
    },
  };
}

import { describe, expect, it } from 'vitest';

import { createPreciseClock } from './precise-clock.js';

/** A stand-in for the native timerfd: records arm/disarm, fires when the test says. */
function fakeTimer() {
  let t = 0;
  const log: string[] = [];
  let cb: (() => void) | undefined;
  let armedFor: number | undefined;
  const clock = createPreciseClock({
    now: () => t,
    timer: (c) => {
      cb = c;
      return {
        arm: (ms) => {
          armedFor = t + ms;
          log.push(`arm ${ms}`);
        },
        disarm: () => {
          armedFor = undefined;
          log.push('disarm');
        },
        close: () => log.push('close'),
      };
    },
  });
  return {
    clock,
    log,
    /** Moves time to `to` and fires the timerfd if it was armed for a time <= `to`. */
    advanceTo(to: number) {
      t = to;
      if (armedFor !== undefined && armedFor <= to) {
        armedFor = undefined;
        cb!();
      }
    },
    armedFor: () => armedFor,
  };
}

describe('createPreciseClock', () => {
  it('arms one timer for the earliest pending and fires callbacks in due order', () => {
    const f = fakeTimer();
    const fired: string[] = [];
    f.clock.setTimeout(() => fired.push('b'), 20.5);
    f.clock.setTimeout(() => fired.push('a'), 10.25);
    expect(f.log).toEqual(['arm 20.5', 'arm 10.25']);
    f.advanceTo(10.25);
    expect(fired).toEqual(['a']);
    expect(f.armedFor()).toBe(20.5);
    f.advanceTo(30);
    expect(fired).toEqual(['a', 'b']);
    expect(f.clock.pending()).toBe(0);
    // an expired timerfd is already disarmed: nothing more to tell it
    expect(f.log).toEqual(['arm 20.5', 'arm 10.25', 'arm 10.25']);
  });

  it('clearTimeout re-arms for the next one, or disarms; unknown handles are ignored', () => {
    const f = fakeTimer();
    const a = f.clock.setTimeout(() => undefined, 5);
    f.clock.setTimeout(() => undefined, 8);
    f.clock.clearTimeout(a);
    expect(f.armedFor()).toBe(8);
    f.clock.clearTimeout({});
    f.clock.clearTimeout(undefined);
    expect(f.clock.pending()).toBe(1);
  });

  it('a timerfd expiry before anything is due (rounding) re-arms for the remainder', () => {
    const f = fakeTimer();
    const fired: number[] = [];
    f.clock.setTimeout(() => fired.push(1), 10);
    // the fake fires at the armed time; simulate an expiry 1 us early
    f.advanceTo(9.999);
    expect(fired).toEqual([]);
    f.advanceTo(10);
    expect(fired).toEqual([1]);
  });

  it('a callback that arms a timer due now runs it on the next expiry, not in the same pass', () => {
    const f = fakeTimer();
    const fired: string[] = [];
    f.clock.setTimeout(() => {
      fired.push('first');
      f.clock.setTimeout(() => fired.push('second'), 0);
    }, 1);
    f.advanceTo(1);
    expect(fired).toEqual(['first']);
    expect(f.armedFor()).toBe(1);
    f.advanceTo(1);
    expect(fired).toEqual(['first', 'second']);
  });

  it('negative and NaN delays count as 0; close() drops pending timers and closes the timerfd', () => {
    const f = fakeTimer();
    f.clock.setTimeout(() => undefined, -5);
    f.clock.setTimeout(() => undefined, Number.NaN);
    expect(f.log).toEqual(['arm 0']);
    f.clock.close();
    expect(f.clock.pending()).toBe(0);
    expect(f.log.at(-1)).toBe('close');
  });
});

import { describe, expect, it } from 'vitest';
import { FakeClock, realClock } from './clock.js';

describe('FakeClock', () => {
  it('runs due timers in due-time order, then creation order', () => {
    const c = new FakeClock(100);
    const seen: string[] = [];
    c.setTimeout(() => seen.push('b@20'), 20);
    c.setTimeout(() => seen.push('a@10'), 10);
    c.setTimeout(() => seen.push('c@20'), 20);
    c.setTimeout(() => seen.push('late'), 50);
    c.advance(20);
    expect(seen).toEqual(['a@10', 'b@20', 'c@20']);
    expect(c.now()).toBe(120);
    expect(c.pending()).toBe(1);
    expect(c.nextDue()).toBe(150);
  });

  it('gives each timer its own due time as now(), and runs timers armed on the way', () => {
    const c = new FakeClock();
    const at: number[] = [];
    c.setTimeout(() => {
      at.push(c.now());
      c.setTimeout(() => at.push(c.now()), 5);
      c.setTimeout(() => at.push(c.now()), 500);
    }, 10);
    c.advance(100);
    expect(at).toEqual([10, 15]);
    expect(c.now()).toBe(100);
  });

  it('clearTimeout cancels, and ignores unknown handles', () => {
    const c = new FakeClock();
    let n = 0;
    const h = c.setTimeout(() => n++, 1);
    c.clearTimeout(h);
    c.clearTimeout(undefined);
    c.clearTimeout({});
    c.advance(10);
    expect(n).toBe(0);
  });

  it('treats negative and NaN delays as 0', () => {
    const c = new FakeClock();
    let n = 0;
    c.setTimeout(() => n++, -5);
    c.setTimeout(() => n++, Number.NaN);
    c.advance(0);
    expect(n).toBe(2);
  });

  it('stops a timer that re-arms itself at 0 ms instead of hanging', () => {
    const c = new FakeClock();
    const loop = (): void => void c.setTimeout(loop, 0);
    loop();
    expect(() => c.advance(1)).toThrow(/more than/);
  });

  it('advanceAsync lets promise callbacks run between timers', async () => {
    const c = new FakeClock();
    const seen: string[] = [];
    c.setTimeout(() => {
      void Promise.resolve().then(() => {
        seen.push('promise');
        c.setTimeout(() => seen.push('timer after promise'), 1);
      });
    }, 1);
    await c.advanceAsync(5);
    expect(seen).toEqual(['promise', 'timer after promise']);
  });
});

describe('realClock', () => {
  it('is monotonic and fires timers', async () => {
    const a = realClock.now();
    await new Promise<void>((resolve) => realClock.setTimeout(resolve, 5));
    expect(realClock.now()).toBeGreaterThanOrEqual(a + 4);
    let fired = false;
    const h = realClock.setTimeout(() => (fired = true), 1);
    realClock.clearTimeout(h);
    await new Promise((r) => setTimeout(r, 10));
    expect(fired).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { serializeCoalescing } from './serialize.js';

describe('serializeCoalescing', () => {
  it('never runs twice at once; calls during a run share exactly one more run', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const gates: (() => void)[] = [];
    let queuedNotes = 0;
    const f = serializeCoalescing(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        const n = ++runs;
        await new Promise<void>((r) => gates.push(r));
        running--;
        return n;
      },
      () => queuedNotes++,
    );
    const first = f();
    const during = [f(), f(), f()];
    await Promise.resolve();
    expect(runs).toBe(1);
    gates.shift()?.();
    await first;
    // the follow-up starts once the first finished
    await new Promise((r) => setImmediate(r));
    expect(runs).toBe(2);
    const afterStart = f(); // during the second run: queues a third
    gates.shift()?.();
    expect(await Promise.all(during)).toEqual([2, 2, 2]);
    await new Promise((r) => setImmediate(r));
    gates.shift()?.();
    expect(await afterStart).toBe(3);
    expect(await first).toBe(1);
    expect(maxRunning).toBe(1);
    expect(runs).toBe(3);
    expect(queuedNotes).toBe(2);
  });

  it('a failed run does not block the queued one', async () => {
    let n = 0;
    let release!: () => void;
    const f = serializeCoalescing(async () => {
      n++;
      if (n === 1) {
        await new Promise<void>((r) => (release = r));
        throw new Error('boom');
      }
      return n;
    });
    const a = f();
    const b = f();
    release();
    await expect(a).rejects.toThrow('boom');
    expect(await b).toBe(2);
  });
});

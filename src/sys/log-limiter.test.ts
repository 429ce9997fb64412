import { describe, expect, it } from 'vitest';
import { LogLimiter } from './log-limiter.js';

describe('LogLimiter', () => {
  it('logs a key once per interval and counts what it suppressed', () => {
    const l = new LogLimiter({ intervalMs: 1000 });
    expect(l.admit('a', 0)).toEqual({});
    expect(l.admit('a', 10)).toBeUndefined();
    expect(l.admit('a', 20)).toBeUndefined();
    expect(l.admit('a', 1000)).toEqual({ suppressed: 2 });
  });

  it('50,000 spoofed sources: bounded memory and a bounded number of lines', () => {
    const l = new LogLimiter({ intervalMs: 60_000, maxKeys: 1024, burst: 50 });
    let lines = 0;
    for (let i = 0; i < 50_000; i++) if (l.admit(`drop/VI_1/10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, i)) lines++;
    expect(l.size).toBeLessThanOrEqual(1024);
    expect(lines).toBeLessThanOrEqual(50);
    // the next window's first line says how many the budget held back
    expect(l.admit('drop/VI_1/other', 60_000)).toMatchObject({ suppressed_other: 50_000 - lines });
  });
});

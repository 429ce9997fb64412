import { describe, expect, it } from 'vitest';

import { resolveVrrpParams, VrrpInstance } from './instance.js';
import { exerciseInstance } from './warm.js';

describe('exerciseInstance', () => {
  const cases = [
    resolveVrrpParams({ name: 'v2', vrid: 51, primaryIp: '10.0.0.2', priority: 100, version: 2, advertIntervalMs: 1000 }),
    resolveVrrpParams({ name: 'v3', vrid: 52, primaryIp: '10.0.0.2', priority: 150, version: 3, advertIntervalMs: 100, preempt: false }),
    resolveVrrpParams({ name: 'v6', vrid: 53, primaryIp: 'fe80::2', family: 6, version: 3, priority: 254, advertIntervalMs: 30 }),
    resolveVrrpParams({ name: 'owner', vrid: 54, primaryIp: '10.0.0.2', priority: 255, advertIntervalMs: 1000, preemptDelayMs: 0 }),
  ];

  it.each(cases)('runs a copy of $name through MASTER and STOP without throwing', (p) => {
    expect(() => exerciseInstance(p)).not.toThrow();
  });

  it('leaves the real instance untouched (it works on copies)', () => {
    const p = cases[0]!;
    const real = new VrrpInstance(p);
    real.start(0);
    const before = JSON.stringify(real.snapshot());
    exerciseInstance(p);
    expect(JSON.stringify(real.snapshot())).toBe(before);
    expect(real.state).toBe('BACKUP');
  });

  it('the copies go BACKUP -> MASTER -> stop, each round', () => {
    const moves: string[] = [];
    const inputs: string[] = [];
    exerciseInstance(cases[1]!, {
      trace: (r) => {
        inputs.push(`${r.state}:${r.input}`);
        if (r.state !== r.next) moves.push(`${r.state}>${r.next}`);
      },
    });
    const round = moves.slice(0, moves.length / 4);
    expect(moves).toEqual([...round, ...round, ...round, ...round]);
    expect(round).toContain('BACKUP>MASTER');
    expect(round.at(-1)?.startsWith('MASTER>')).toBe(true);
    // both takeovers run: after Master_Down_Interval and after a priority-0 advert (Skew_Time)
    expect(inputs).toContain('BACKUP:advertPriorityZero');
    expect(inputs).toContain('BACKUP:downTimerExpired');
  });
});

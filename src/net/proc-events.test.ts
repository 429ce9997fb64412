import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../lab/rng.js';
import { decodeProcEvent, encodeProcEvent, PROC_EVENT } from './proc-events.js';

describe('decodeProcEvent', () => {
  it('decodes the events track_process uses', () => {
    expect(decodeProcEvent(encodeProcEvent(PROC_EVENT.NONE, [], { seq: 4 }))).toEqual({ kind: 'ack', cpu: 0, seq: 4 });
    expect(decodeProcEvent(encodeProcEvent(PROC_EVENT.FORK, [10, 10, 11, 11], { cpu: 1 }))).toEqual({ kind: 'fork', cpu: 1, seq: 0, parent: 10, child: 11 });
    expect(decodeProcEvent(encodeProcEvent(PROC_EVENT.EXEC, [12, 12]))).toMatchObject({ kind: 'exec', pid: 12 });
    expect(decodeProcEvent(encodeProcEvent(PROC_EVENT.EXIT, [13, 13, 0, 17, 1, 1]))).toMatchObject({ kind: 'exit', pid: 13 });
    expect(decodeProcEvent(encodeProcEvent(PROC_EVENT.COMM, [14, 14], { comm: 'worker' }))).toMatchObject({ kind: 'comm', pid: 14, comm: 'worker' });
  });

  it('drops threads (tid ≠ tgid) and events it has no use for', () => {
    expect(decodeProcEvent(encodeProcEvent(PROC_EVENT.FORK, [10, 10, 12, 10]))?.kind).toBe('other');
    expect(decodeProcEvent(encodeProcEvent(PROC_EVENT.EXIT, [12, 10]))?.kind).toBe('other');
    expect(decodeProcEvent(encodeProcEvent(PROC_EVENT.COMM, [12, 10], { comm: 'x' }))?.kind).toBe('other');
    expect(decodeProcEvent(encodeProcEvent(PROC_EVENT.UID, [1, 1, 0, 0]))?.kind).toBe('other');
  });

  it('refuses another connector, a truncated message and an ack that is no ack', () => {
    expect(decodeProcEvent(encodeProcEvent(PROC_EVENT.EXEC, [1, 1], { idx: 2 }))).toBeUndefined();
    expect(decodeProcEvent(encodeProcEvent(PROC_EVENT.EXEC, [1, 1]).subarray(0, 50))).toBeUndefined();
    expect(decodeProcEvent(encodeProcEvent(PROC_EVENT.EXEC, [1, 1], { ack: 1 }))).toBeUndefined();
    expect(decodeProcEvent(encodeProcEvent(PROC_EVENT.NONE, [], { ack: 0 }))).toBeUndefined();
    const short = encodeProcEvent(PROC_EVENT.EXEC, [1, 1]);
    short.writeUInt32LE(short.length + 4, 0);
    expect(decodeProcEvent(short)).toBeUndefined();
  });

  it('never throws on random or mutated bytes (fuzz)', () => {
    const rnd = seededRandom(0x70c);
    const seeds = [PROC_EVENT.NONE, PROC_EVENT.FORK, PROC_EVENT.EXEC, PROC_EVENT.COMM, PROC_EVENT.EXIT].map((w) => encodeProcEvent(w, [1, 1, 1, 1]));
    for (let i = 0; i < 20000; i++) {
      let b: Buffer;
      if (i % 3 === 0) {
        b = Buffer.alloc(Math.floor(rnd() * 120));
        for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
      } else {
        b = Buffer.from(seeds[i % seeds.length]!);
        const flips = 1 + Math.floor(rnd() * 6);
        for (let k = 0; k < flips; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        if (rnd() < 0.3) b = b.subarray(0, Math.floor(rnd() * b.length));
      }
      const ev = decodeProcEvent(b);
      if (ev && ev.kind !== 'other' && ev.kind !== 'ack') {
        const pids = ev.kind === 'fork' ? [ev.parent, ev.child] : [ev.pid];
        for (const p of pids) expect(Number.isInteger(p) && p >= 0).toBe(true);
      }
    }
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeProcEvent, PROC_EVENT } from '../../net/proc-events.js';
import type { NativeProcEvents } from '../../sys/addon.js';
import { FakeClock } from '../../sys/clock.js';
import { ProcessMonitor } from './track-process.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fake /proc: pid → [comm, argv, state]. */
function fakeProc(procs: Record<number, [string, string[], string?]>): { root: string; set(pid: number, p: [string, string[], string?] | undefined): void } {
  const root = mkdtempSync(path.join(tmpdir(), 'vk-proc-'));
  dirs.push(root);
  const set = (pid: number, p: [string, string[], string?] | undefined) => {
    const d = path.join(root, String(pid));
    rmSync(d, { recursive: true, force: true });
    if (!p) return;
    mkdirSync(d);
    const [comm, argv, state] = p;
    writeFileSync(path.join(d, 'comm'), `${comm}\n`);
    writeFileSync(path.join(d, 'stat'), `${pid} (${comm}) ${state ?? 'S'} 1 ${pid}\n`);
    writeFileSync(path.join(d, 'cmdline'), argv.map((a) => `${a}\0`).join(''));
  };
  for (const [pid, p] of Object.entries(procs)) set(Number(pid), p);
  return { root, set };
}

function fakeSocket(opts: { refuse?: (ns: string) => boolean } = {}) {
  const made: { ns: string; cb?: (err: (Error & { code?: string }) | null, d?: Buffer[]) => void; listening: boolean; closed: boolean; rcv: number }[] = [];
  const open = (ns: string): NativeProcEvents => {
    const s = { ns, listening: false, closed: false, rcv: 1000 } as (typeof made)[number];
    made.push(s);
    const sock: NativeProcEvents = {
      get closed() {
        return s.closed;
      },
      get rcvBuf() {
        return s.rcv;
      },
      listen(enable) {
        if (opts.refuse?.(ns)) throw Object.assign(new Error('send(PROC_CN_MCAST_LISTEN): ECONNREFUSED'), { code: 'ECONNREFUSED' });
        s.listening = enable;
      },
      start(cb) {
        s.cb = cb;
      },
      setRcvBuf(bytes) {
        s.rcv = bytes;
      },
      ref() {
        return this;
      },
      unref() {
        return this;
      },
      close() {
        s.closed = true;
      },
    };
    return sock;
  };
  return { made, open };
}

const base = { param_match: 'exact' as const, full_command: false, weight: 0, weight_reverse: false, quorum: 1 };

describe('ProcessMonitor', () => {
  it('scans /proc (skipping zombies), then follows exec and exit events', () => {
    const proc = fakeProc({ 10: ['sleep', ['sleep', '100']], 11: ['sleep', ['sleep', '5'], 'Z'], 12: ['bash', ['bash']] });
    const sock = fakeSocket();
    const clock = new FakeClock();
    const changes: [string, boolean][] = [];
    const m = new ProcessMonitor({ defs: { s: { ...base, process: 'sleep', quorum: 2 } }, procRoot: proc.root, clock, openConnector: sock.open, onChange: (n, st) => changes.push([n, st.quorum]) });
    expect(m.start()).toEqual({ s: { count: 1, quorum: false } });
    const s = sock.made[0]!;
    expect(s.listening).toBe(true);
    s.cb!(null, [encodeProcEvent(PROC_EVENT.NONE, [], { ack: 1 })]);
    proc.set(20, ['sleep', ['sleep', '7']]);
    s.cb!(null, [encodeProcEvent(PROC_EVENT.EXEC, [20, 20])]);
    expect(changes).toEqual([['s', true]]);
    s.cb!(null, [encodeProcEvent(PROC_EVENT.EXIT, [10, 10, 0, 0])]);
    expect(changes).toEqual([['s', true], ['s', false]]);
    clock.advance(5000); // acknowledged: no fallback
    expect(m.status().mode).toBe('events');
    m.stop();
    expect(s.closed).toBe(true);
  });

  it('lost events: doubles the buffer and rescans /proc a second later', () => {
    const proc = fakeProc({ 10: ['sleep', ['sleep']] });
    const sock = fakeSocket();
    const clock = new FakeClock();
    const m = new ProcessMonitor({ defs: { s: { ...base, process: 'sleep' } }, procRoot: proc.root, clock, openConnector: sock.open, onChange: () => {} });
    m.start();
    const s = sock.made[0]!;
    s.cb!(null, [encodeProcEvent(PROC_EVENT.NONE, [], { ack: 1 })]);
    proc.set(10, undefined);
    s.cb!(Object.assign(new Error('ENOBUFS'), { code: 'ENOBUFS' }));
    expect(s.rcv).toBe(2000);
    expect(m.status().processes.s).toEqual({ count: 1, quorum: true });
    clock.advance(1000);
    expect(m.status().processes.s).toEqual({ count: 0, quorum: false });
    m.stop();
  });

  it('outside the connector\'s namespace with no way in: polls /proc and says why', () => {
    const proc = fakeProc({ 10: ['sleep', ['sleep']] });
    const sock = fakeSocket({ refuse: () => true });
    const clock = new FakeClock();
    const m = new ProcessMonitor({ defs: { s: { ...base, process: 'sleep' } }, procRoot: proc.root, clock, openConnector: sock.open, onChange: () => {} });
    m.start();
    const st = m.status();
    expect(st.mode).toBe('polling');
    expect(st.warning).toMatch(/ECONNREFUSED.*scanning \/proc every 1000 ms/);
    expect(sock.made.every((x) => x.closed)).toBe(true);
    proc.set(10, undefined);
    clock.advance(1000);
    expect(m.status().processes.s).toEqual({ count: 0, quorum: false });
    m.stop();
  });

  it('no acknowledgement from the kernel: falls back to polling with a warning', () => {
    const proc = fakeProc({});
    const sock = fakeSocket();
    const clock = new FakeClock();
    const m = new ProcessMonitor({ defs: { s: { ...base, process: 'sleep' } }, procRoot: proc.root, clock, openConnector: sock.open, onChange: () => {} });
    m.start();
    clock.advance(1000);
    expect(m.status()).toMatchObject({ mode: 'polling', warning: expect.stringMatching(/did not acknowledge/) });
    m.stop();
  });
});

// The hang watchdog with a real child process standing in for the engine and a real stall of
// this thread (Atomics.wait blocks the event loop as an endless loop would).
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineWatchdog } from './watchdog.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A process whose command line holds `tag` (sleep takes a fraction). */
function engineStandIn(tag: string): { child: ChildProcess; exit: Promise<NodeJS.Signals | null> } {
  const child = spawn('sleep', [tag], { stdio: 'ignore' });
  children.push(child);
  return { child, exit: new Promise((r) => child.once('exit', (_c, s) => r(s))) };
}

function stallMainThread(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('EngineWatchdog', () => {
  it('kills the engine when the main thread stalls past the timeout', async () => {
    const tag = '30.4711';
    const { child, exit } = engineStandIn(tag);
    const wd = new EngineWatchdog(400, tag);
    try {
      await settle(300); // the worker is up and has seen beats
      wd.setPid(child.pid);
      stallMainThread(1200);
      expect(await exit).toBe('SIGKILL');
      expect(wd.kills).toBe(1);
    } finally {
      await wd.stop();
    }
  });

  it('leaves the engine alone while the main thread keeps running', async () => {
    const tag = '30.4712';
    const { child } = engineStandIn(tag);
    const wd = new EngineWatchdog(400, tag);
    try {
      wd.setPid(child.pid);
      await settle(1200);
      expect(child.exitCode).toBeNull();
      expect(child.signalCode).toBeNull();
      expect(wd.kills).toBe(0);
    } finally {
      await wd.stop();
    }
  });

  it('does not kill a process whose command line is not the engine’s (a reused PID)', async () => {
    const { child } = engineStandIn('30.4713');
    const wd = new EngineWatchdog(300, 'bird.conf-of-someone-else');
    try {
      await settle(200);
      wd.setPid(child.pid);
      stallMainThread(900);
      await settle(200);
      expect(child.signalCode).toBeNull();
      expect(wd.kills).toBe(0);
    } finally {
      await wd.stop();
    }
  });
});

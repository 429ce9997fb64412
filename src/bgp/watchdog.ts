// Fate sharing for a HUNG vipkeeper. A dead vipkeeper takes bird with it (pdeathsig, see
// bird/engine.ts), but a main thread stuck in a loop or a long pause would leave bird announcing
// VIPs that nothing checks any more. A worker thread (its own event loop) watches a counter the
// main thread bumps every BEAT_MS; when the counter stands still for `timeoutMs`, the worker kills
// the engine with SIGKILL, its sessions close and the routers drop this director's routes. When
// the main thread runs again it finds the engine dead, says why, and starts it again.
//
// Bound: timeoutMs + CHECK_MS. Not covered: a process that is stopped as a whole (SIGSTOP, a
// frozen cgroup) stops this thread too; systemd's WatchdogSec (the unit's) covers that.
import { Worker } from 'node:worker_threads';

const BEAT_MS = 100;
const CHECK_MS = 100;

// Plain JavaScript, evaluated as the worker (no module loader needed, under tsx or compiled).
// Slots: 0 beat counter, 1 engine PID (0 = none), 2 stop flag, 3 kills done.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { readFileSync, writeSync } = require('node:fs');
const s = new Int32Array(workerData.buffer);
let last = Atomics.load(s, 0);
let lastChange = performance.now();
const timer = setInterval(() => {
  if (Atomics.load(s, 2) !== 0) { clearInterval(timer); return; }
  const beat = Atomics.load(s, 0);
  const now = performance.now();
  if (beat !== last) { last = beat; lastChange = now; return; }
  if (now - lastChange < workerData.timeoutMs) return;
  lastChange = now;
  const pid = Atomics.load(s, 1);
  if (pid <= 0) return;
  let cmd = '';
  try { cmd = readFileSync('/proc/' + pid + '/cmdline', 'utf8'); } catch {}
  // a PID the kernel gave to another process since is left alone
  if (!workerData.tag || !cmd.includes(workerData.tag)) return;
  try { process.kill(pid, 'SIGKILL'); } catch {}
  Atomics.store(s, 1, 0);
  Atomics.add(s, 3, 1);
  // straight to fd 1: the main thread, which would carry a console write, is the one that hangs
  const line = JSON.stringify({ level: 'error', time: new Date().toISOString(), name: 'vipkeeper', component: 'bgp',
    pid_killed: pid, stalled_ms: workerData.timeoutMs,
    msg: 'bgp watchdog: the main loop has not run for ' + workerData.timeoutMs + ' ms; killed the engine so the routers drop this director' });
  try { writeSync(1, line + '\\n'); } catch {}
}, workerData.checkMs);
`;

export class EngineWatchdog {
  private readonly slots = new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));
  private readonly worker: Worker;
  private readonly beat: NodeJS.Timeout;

  /** `tag`: a string in the engine's command line (its config path), checked before a kill. */
  constructor(timeoutMs: number, tag: string) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { buffer: this.slots.buffer, timeoutMs, checkMs: CHECK_MS, tag }, name: 'bgp-watchdog' });
    this.worker.unref();
    this.beat = setInterval(() => Atomics.add(this.slots, 0, 1), BEAT_MS);
    this.beat.unref();
  }

  /** The engine process to kill on a hang (undefined: none running). */
  setPid(pid: number | undefined): void {
    Atomics.store(this.slots, 1, pid ?? 0);
  }

  /** Engines the watchdog has killed. */
  get kills(): number {
    return Atomics.load(this.slots, 3);
  }

  async stop(): Promise<void> {
    clearInterval(this.beat);
    Atomics.store(this.slots, 2, 1);
    await this.worker.terminate();
  }
}

/**
 * Child processes for the lab (tests, demo, benchmarks): commands run to completion, and
 * long-running children with their output kept as lines (and/or appended to a log file).
 *
 * Every child started here is recorded until it exits, so `killChildrenSync()` (called by the
 * namespace lab's exit and signal hooks) can end exactly the processes we started, by PID.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { sleep } from './wait.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const children = new Set<ChildProcess>();

function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => children.delete(child));
}

/** SIGKILL every child this process started through this module that is still running. */
export function killChildrenSync(): void {
  for (const c of children) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}
process.once('exit', killChildrenSync);

/** A command that exited non-zero (or could not run, or ran out of time). */
export class CommandFailed extends Error {
  override name = 'CommandFailed';
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Run a command (no shell) to completion; rejects with a CommandFailed carrying its stderr. */
export function run(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new CommandFailed(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`.trim(), { cause: err }));
      else resolve({ stdout, stderr });
    });
    track(child);
  });
}

export interface StatusResult {
  /** Exit code; -1 if it could not start, null if killed by a signal. */
  code: number | null;
  out: string;
  err: string;
}

/** Run a command to completion and report its exit code and output; never rejects. */
export function runStatus(argv: readonly string[], timeoutMs = 15_000, cwd = REPO_ROOT): Promise<StatusResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const t = setTimeout(() => {
      err += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(t);
      resolve({ code: -1, out, err: e.message });
    });
    child.once('close', (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

/** Is `pid` a live process (a zombie is not)? */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export interface ChildProcOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * `lines` (default): stdout and stderr are read as lines (and appended to `logFile` if given).
   * `file`: both go straight to `logFile` (no pipe through this process; for benchmarks, where
   * reading a chatty daemon's output must not load the measuring process).
   */
  output?: 'lines' | 'file';
  logFile?: string;
  /** Keep at most this many lines per array (default: all). */
  maxLines?: number;
  /** Called with every stdout line. */
  onStdoutLine?: (line: string) => void;
}

const OPTION_KEYS = new Set(['cwd', 'env', 'output', 'logFile', 'maxLines', 'onStdoutLine']);

/** Options, or (the older signature) a bare environment. */
function toOptions(o: NodeJS.ProcessEnv | ChildProcOptions): ChildProcOptions {
  const keys = Object.keys(o);
  return keys.length === 0 || keys.some((k) => OPTION_KEYS.has(k)) ? (o as ChildProcOptions) : { env: o as NodeJS.ProcessEnv };
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A long-running child process with its output as lines. */
export class ChildProc {
  readonly child: ChildProcess;
  readonly stdoutLines: string[] = [];
  readonly stderrLines: string[] = [];
  /** stdout and stderr lines in the order they arrived. */
  readonly outputLines: string[] = [];
  readonly exited: Promise<ExitInfo>;
  readonly logFile: string | undefined;
  #waiters: Array<() => void> = [];
  #exitInfo: ExitInfo | undefined;

  constructor(
    readonly label: string,
    argv: readonly string[],
    options: ChildProcOptions | NodeJS.ProcessEnv = {},
  ) {
    const opts = toOptions(options);
    this.logFile = opts.logFile;
    const toFile = opts.output === 'file';
    if (toFile && !opts.logFile) throw new Error(`${label}: output 'file' needs a logFile`);
    const fd = opts.logFile ? openSync(opts.logFile, 'a') : undefined;
    this.child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd ?? REPO_ROOT,
      env: opts.env ?? process.env,
      stdio: toFile ? ['ignore', fd!, fd!] : ['ignore', 'pipe', 'pipe'],
    });
    track(this.child);
    if (toFile) closeSync(fd!);
    else {
      const max = opts.maxLines ?? Infinity;
      const keep = (target: string[], l: string): void => {
        target.push(l);
        if (target.length > max) target.splice(0, target.length - max);
      };
      const lines = (target: string[], onLine?: (l: string) => void) => {
        let partial = '';
        return (chunk: Buffer) => {
          if (fd !== undefined) writeSync(fd, chunk);
          partial += chunk.toString('utf8');
          const parts = partial.split('\n');
          partial = parts.pop()!;
          for (const l of parts) {
            keep(target, l);
            keep(this.outputLines, l);
            onLine?.(l);
          }
          this.#notify();
        };
      };
      this.child.stdout!.on('data', lines(this.stdoutLines, opts.onStdoutLine));
      this.child.stderr!.on('data', lines(this.stderrLines));
    }
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.stderrLines.push(`spawn error: ${err.message}`);
        this.outputLines.push(`spawn error: ${err.message}`);
        this.#exitInfo = { code: -1, signal: null };
        this.#notify();
        resolve(this.#exitInfo);
      });
      this.child.once('close', (code, signal) => {
        if (fd !== undefined && !toFile) closeSync(fd);
        this.#exitInfo = { code, signal };
        this.#notify();
        resolve(this.#exitInfo);
      });
    });
  }

  get running(): boolean {
    return this.#exitInfo === undefined;
  }

  get pid(): number {
    const p = this.child.pid;
    if (p === undefined) throw new Error(`${this.label}: spawn failed\n${this.describe()}`);
    return p;
  }

  #notify(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** The whole output: the log file if there is one, else the lines kept. */
  log(): string {
    if (this.logFile) {
      try {
        return readFileSync(this.logFile, 'utf8');
      } catch {
        return '';
      }
    }
    return this.outputLines.join('\n');
  }

  describe(): string {
    const out = this.logFile && this.stdoutLines.length === 0 && this.stderrLines.length === 0 ? `log ${this.logFile}:\n${this.log().slice(-4000)}` : `stdout:\n${this.stdoutLines.join('\n')}\nstderr:\n${this.stderrLines.join('\n')}`;
    return `[${this.label}] exit=${JSON.stringify(this.#exitInfo ?? 'running')}\n${out}`;
  }

  /** Resolve with the first line (of stdout or stderr, per `stream`) matching `pred`. */
  async waitForLine(pred: RegExp | ((line: string) => boolean), timeoutMs = 10_000, stream: 'stdout' | 'stderr' | 'any' = 'stdout'): Promise<string> {
    const test = typeof pred === 'function' ? pred : (l: string) => pred.test(l);
    const lines = stream === 'stdout' ? this.stdoutLines : stream === 'stderr' ? this.stderrLines : this.outputLines;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = lines.find(test);
      if (hit !== undefined) return hit;
      if (!this.running) throw new Error(`process exited before printing the expected line\n${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for a line\n${this.describe()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Wait for exit; rejects on timeout or (if `expectZero`) a non-zero exit. */
  async waitExit(timeoutMs = 15_000, expectZero = true): Promise<void> {
    if (!(await this.exitWithin(timeoutMs))) throw new Error(`timed out after ${timeoutMs} ms waiting for exit\n${this.describe()}`);
    if (expectZero && this.#exitInfo?.code !== 0) throw new Error(`process failed\n${this.describe()}`);
  }

  /** Wait at most `ms` for the exit; true if it exited. */
  async exitWithin(ms: number): Promise<boolean> {
    if (!this.running) return true;
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.exited.then(() => true), new Promise<boolean>((res) => (t = setTimeout(() => res(false), ms)))]);
    clearTimeout(t);
    return r;
  }

  /** JSON objects printed one per stdout line (lines that do not parse are left out). */
  jsonLines<T = Record<string, unknown>>(): T[] {
    return this.stdoutLines.flatMap((l) => {
      if (!l.startsWith('{')) return [];
      try {
        return [JSON.parse(l) as T];
      } catch {
        return [];
      }
    });
  }

  /** Send `sig` to our child, if it still runs. */
  signal(sig: NodeJS.Signals): void {
    if (this.running && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, sig);
      } catch {
        // gone meanwhile
      }
    }
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    this.signal('SIGTERM');
    if (!(await this.exitWithin(graceMs))) await this.kill();
  }
}

/** Wait until none of `pids` is alive (bounded); true if they all went. */
export async function waitGone(pids: readonly number[], timeoutMs = 5000): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (pids.some(pidAlive)) {
    if (performance.now() > end) return false;
    await sleep(20);
  }
  return true;
}

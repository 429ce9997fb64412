/**
 * Scheduler for one `vrrp_script` (docs/keepalived.md §2.3), over an injected `Clock` and runner, with
 * keepalived's `vrrp_script_thread` / `vrrp_script_child_thread` semantics:
 *
 * - The first run starts at `start()`, then one every `interval`, measured from the previous
 *   tick (not from the end of the run). A tick that finds the previous run still going is
 *   skipped and counted ("Track script X is already running, expect idle - skipping run"), so
 *   two runs of one script never overlap.
 * - Each run is killed after `timeout` (default: `interval`): the scheduler aborts it on the
 *   clock, and the runner kills the process group (SIGTERM, then SIGKILL). The script counts as
 *   running until the process has gone, so ticks meanwhile are skipped.
 * - Result: exit status 0 = success; any other status, a signal or a kill = failure (keepalived
 *   decides on the wait status: a script that catches SIGTERM and exits 0 still succeeds).
 * - rise/fall use keepalived's counter `result` in 0 .. rise+fall-1, OK iff `result >= rise`:
 *   success: `result < rise-1` → `result++`; otherwise `result = rise+fall-1`, going OK if it
 *   was below rise. Failure: `result > rise` → `result--`; otherwise `result = 0`, going KO if it
 *   was exactly `rise` (or the script was still in init).
 * - Initial state: "init" with `result = rise-1`, so the first result decides either way
 *   ("one success is enough"); with `init_fail`, KO with `result = 0` (rise successes needed).
 *
 * Events: `change(up)` when the state changes (the first result always changes it out of init),
 * `result(result, ok)` after every run.
 */
import { EventEmitter } from 'node:events';
import type { ScriptSpec, VrrpScript } from '../../config/schema.js';
import { realClock, type Clock, type TimerHandle } from '../../sys/clock.js';
import { noopLogger, runScript, type Logger, type RunOptions, type ScriptResult, type ScriptRunner } from '../../sys/exec.js';

export type TrackScriptStatus = 'init' | 'up' | 'down';

export type TrackScriptEvents = {
  change: [up: boolean];
  result: [result: ScriptResult, ok: boolean];
};

export interface TrackScriptOptions {
  name: string;
  /** The vrrp_script definition (durations in ms, as the config schema gives them). */
  def: Pick<VrrpScript, 'script' | 'interval' | 'timeout' | 'rise' | 'fall' | 'init_fail'>;
  clock?: Clock;
  runner?: ScriptRunner;
  logger?: Logger;
  /** Passed to every run (env, killGraceMs, maxOutputBytes, cwd). */
  runOptions?: Omit<RunOptions, 'timeoutMs' | 'signal' | 'args' | 'logger'>;
}

export interface TrackScriptStats {
  /** Runs started. */
  runs: number;
  succeeded: number;
  failed: number;
  /** Runs killed at the timeout. */
  timedOut: number;
  /** Ticks skipped because the previous run was still going. */
  skipped: number;
  lastResult?: ScriptResult;
}

/** Interval used when the configured one is 0 (keepalived accepts 0 for old configs). */
const FALLBACK_INTERVAL_MS = 1000;

export class TrackScript extends EventEmitter<TrackScriptEvents> {
  readonly name: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly rise: number;
  readonly fall: number;

  private readonly spec: ScriptSpec;
  private readonly clock: Clock;
  private readonly runner: ScriptRunner;
  private readonly logger: Logger;
  private readonly runOptions: TrackScriptOptions['runOptions'];

  private current: TrackScriptStatus;
  private counter: number;
  private inInit: boolean;
  private tickTimer: TimerHandle | undefined;
  private timeoutTimer: TimerHandle | undefined;
  private controller: AbortController | undefined;
  private running = false;
  private started = false;
  /** Bumped by stop(), so a run that finishes afterwards is ignored. */
  private generation = 0;
  private readonly counters: TrackScriptStats = { runs: 0, succeeded: 0, failed: 0, timedOut: 0, skipped: 0 };

  constructor(opts: TrackScriptOptions) {
    super();
    this.name = opts.name;
    this.spec = opts.def.script;
    this.clock = opts.clock ?? realClock;
    this.runner = opts.runner ?? runScript;
    this.logger = opts.logger ?? noopLogger;
    this.runOptions = opts.runOptions;
    this.intervalMs = opts.def.interval > 0 ? opts.def.interval : FALLBACK_INTERVAL_MS;
    if (!(opts.def.interval > 0)) this.logger.warn({ script: this.name }, `vrrp_script ${this.name}: interval 0, using ${FALLBACK_INTERVAL_MS} ms`);
    this.timeoutMs = opts.def.timeout !== undefined && opts.def.timeout > 0 ? opts.def.timeout : this.intervalMs;
    this.rise = Math.max(1, opts.def.rise);
    this.fall = Math.max(1, opts.def.fall);
    if (opts.def.init_fail) {
      this.current = 'down';
      this.counter = 0;
      this.inInit = false;
    } else {
      this.current = 'init';
      this.counter = this.rise - 1;
      this.inInit = true;
    }
  }

  /** 'init' until the first result (never with init_fail), then 'up' or 'down'. */
  get status(): TrackScriptStatus {
    return this.current;
  }

  get up(): boolean {
    return this.current === 'up';
  }

  /** A run is in progress (including one being killed). */
  get isRunning(): boolean {
    return this.running;
  }

  /** keepalived's rise/fall counter (0 .. rise+fall-1). */
  get resultCounter(): number {
    return this.counter;
  }

  get stats(): Readonly<TrackScriptStats> {
    return { ...this.counters };
  }

  /** Runs the script now, then every interval. Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.tick();
  }

  /** Stops scheduling and kills a run in progress; its result is ignored. */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.generation++;
    if (this.tickTimer !== undefined) this.clock.clearTimeout(this.tickTimer);
    if (this.timeoutTimer !== undefined) this.clock.clearTimeout(this.timeoutTimer);
    this.tickTimer = undefined;
    this.timeoutTimer = undefined;
    this.controller?.abort(new Error('stopped'));
    this.controller = undefined;
    this.running = false;
  }

  private tick(): void {
    this.tickTimer = this.clock.setTimeout(() => this.tick(), this.intervalMs);
    if (this.running) {
      this.counters.skipped++;
      this.logger.info({ script: this.name, skipped: this.counters.skipped }, `Track script ${this.name} is already running, expect idle - skipping run`);
      return;
    }
    this.launch();
  }

  private launch(): void {
    const gen = this.generation;
    const controller = new AbortController();
    let timedOut = false;
    this.controller = controller;
    this.running = true;
    this.counters.runs++;
    this.timeoutTimer = this.clock.setTimeout(() => {
      this.timeoutTimer = undefined;
      timedOut = true;
      controller.abort(new Error('timeout'));
    }, this.timeoutMs);

    let promise: Promise<ScriptResult>;
    try {
      promise = this.runner(this.spec, { ...this.runOptions, timeoutMs: this.timeoutMs, signal: controller.signal, logger: this.logger });
    } catch (e) {
      promise = Promise.reject(e);
    }
    promise.then(
      (r) => this.finish(gen, r, timedOut),
      (e: unknown) => this.finish(gen, runnerError(this.spec, e), timedOut),
    );
  }

  private finish(gen: number, r: ScriptResult, timedOutOnClock: boolean): void {
    if (gen !== this.generation) return;
    if (this.timeoutTimer !== undefined) this.clock.clearTimeout(this.timeoutTimer);
    this.timeoutTimer = undefined;
    this.controller = undefined;
    this.running = false;
    this.counters.lastResult = r;

    const ok = r.code === 0 && r.signal === null;
    const timedOut = !ok && (r.timedOut || timedOutOnClock);
    if (ok) this.counters.succeeded++;
    else this.counters.failed++;
    if (timedOut) this.counters.timedOut++;
    this.apply(ok, timedOut ? 'timed out' : describeFailure(r));
    this.emit('result', r, ok);
  }

  /** keepalived's counter update; emits `change` on an OK/KO transition. */
  private apply(ok: boolean, why: string): void {
    const { rise, fall } = this;
    const wasInit = this.inInit;
    this.inInit = false;
    if (ok) {
      if (this.counter < rise - 1) {
        this.counter++;
      } else if (this.counter !== rise + fall - 1) {
        const goesUp = this.counter < rise;
        this.counter = rise + fall - 1;
        if (goesUp) this.transition('up', 'succeeded');
      }
    } else {
      if (this.counter > rise) {
        this.counter--;
      } else {
        const goesDown = this.counter === rise || wasInit;
        this.counter = 0;
        if (goesDown) this.transition('down', why);
      }
    }
  }

  private transition(to: 'up' | 'down', why: string): void {
    if (this.current === to) return;
    this.current = to;
    this.logger.info({ script: this.name, state: to }, `VRRP_Script(${this.name}) ${why}`);
    this.emit('change', to === 'up');
  }
}

function describeFailure(r: ScriptResult): string {
  if (r.error) return `failed (${r.error})`;
  if (r.signal) return `failed (due to signal ${r.signal})`;
  return `failed (exited with status ${r.code ?? '?'})`;
}

function runnerError(spec: ScriptSpec, e: unknown): ScriptResult {
  return {
    code: null,
    signal: null,
    timedOut: false,
    aborted: false,
    durationMs: 0,
    mode: 'none',
    argv: [spec.command],
    stdout: '',
    stderr: '',
    error: `runner failed: ${e instanceof Error ? e.message : String(e)}`,
  };
}

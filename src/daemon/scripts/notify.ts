/**
 * Notify scripts on VRRP state changes (docs/keepalived.md §4.4; keepalived `vrrp_notify.c`).
 *
 * For one state change of an instance or sync group, in this order:
 * 1. the per-state script (`notify_master` / `notify_backup` / `notify_fault` / `notify_stop` /
 *    `notify_deleted`; `notify_master_rx_lower_pri` for MASTER_RX_LOWER_PRI) with its own
 *    arguments only;
 * 2. the generic `notify` script with 4 arguments appended:
 *    `INSTANCE|GROUP NAME STATE PRIORITY` (PRIORITY is 0 for groups); not for
 *    MASTER_RX_LOWER_PRI, as keepalived (`send_event_notify`);
 * 3. one line to every FIFO sink (`INSTANCE "VI_1" MASTER 100`). FIFO lines are written
 *    synchronously inside `notify()`, so the FIFO is the ordered channel.
 *
 * Scripts are fire and forget: `notify()` returns at once and never throws; failures are
 * logged. Script launches keep the order of the `notify()` calls (each waits until the previous
 * script has been spawned, never until it has finished), like keepalived's fork order; the
 * scripts themselves then run concurrently and finish in any order.
 *
 * Timeouts (the process group is killed after them):
 * - STOP: 1 s, then SIGKILL straight away, as keepalived's `notify_stop` (`child_killed_thread`);
 *   the generic script at STOP is treated the same, since the daemon is exiting (keepalived's
 *   PDEATHSIG would end it then).
 * - everything else: 30 s by default (`timeoutMs`). keepalived sets no limit at all; a bound
 *   keeps a hung script from accumulating, and 30 s is far above any sane notify script.
 */
import type { ScriptSpec } from '../../config/schema.js';
import type { NotifyScriptState } from '../../vocab/states.js';
import { noopLogger, runScript, type Logger, type RunOptions, type ScriptResult, type ScriptRunner } from '../../sys/exec.js';
import { formatVrrpFifoLine, type FifoSink, type VrrpFifoKind } from './notify-fifo.js';

export type NotifyKind = VrrpFifoKind;
export type NotifyStateName = NotifyScriptState;

/** The notify keys of an instance or sync group (a config `Instance`/`SyncGroup` fits). */
export interface NotifyScripts {
  notify_master?: ScriptSpec | undefined;
  notify_backup?: ScriptSpec | undefined;
  notify_fault?: ScriptSpec | undefined;
  notify_stop?: ScriptSpec | undefined;
  notify_deleted?: ScriptSpec | undefined;
  notify_master_rx_lower_pri?: ScriptSpec | undefined;
  notify?: ScriptSpec | undefined;
}

export interface NotifyEvent {
  kind: NotifyKind;
  name: string;
  state: NotifyStateName;
  /** The instance's effective priority; ignored (0) for groups. */
  priority?: number;
  scripts: NotifyScripts;
}

export const DEFAULT_NOTIFY_TIMEOUT_MS = 30_000;
/** keepalived runs notify_stop with a 1 s timeout. */
export const NOTIFY_STOP_TIMEOUT_MS = 1000;

export interface NotifierOptions {
  runner?: ScriptRunner;
  logger?: Logger;
  /** Timeout for every state but STOP. Default 30 s. */
  timeoutMs?: number;
  /** Timeout at STOP. Default 1 s. */
  stopTimeoutMs?: number;
  /** FIFOs that get a line per event (e.g. notify_fifo and vrrp_notify_fifo). */
  fifos?: readonly FifoSink[];
  /** Passed to every run (env, killGraceMs, cwd…). */
  runOptions?: Omit<RunOptions, 'timeoutMs' | 'signal' | 'args' | 'logger' | 'onSpawn'>;
}

const PER_STATE: Record<NotifyStateName, keyof NotifyScripts> = {
  MASTER: 'notify_master',
  BACKUP: 'notify_backup',
  FAULT: 'notify_fault',
  STOP: 'notify_stop',
  DELETED: 'notify_deleted',
  MASTER_RX_LOWER_PRI: 'notify_master_rx_lower_pri',
};

/** The argv words appended to the generic `notify` script. */
export function genericNotifyArgs(ev: Pick<NotifyEvent, 'kind' | 'name' | 'state' | 'priority'>): [string, string, string, string] {
  return [ev.kind, ev.name, ev.state, String(ev.kind === 'GROUP' ? 0 : (ev.priority ?? 0))];
}

export class Notifier {
  private readonly runner: ScriptRunner;
  private readonly logger: Logger;
  private readonly opts: NotifierOptions;
  private readonly fifos: FifoSink[];
  /** Resolves when the last queued launch has spawned (or failed to). */
  private launchChain: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly aborts = new Set<AbortController>();

  constructor(opts: NotifierOptions = {}) {
    this.opts = opts;
    this.runner = opts.runner ?? runScript;
    this.logger = opts.logger ?? noopLogger;
    this.fifos = [...(opts.fifos ?? [])];
  }

  /** Adds a FIFO sink (e.g. once it has been opened). */
  addFifo(sink: FifoSink): void {
    this.fifos.push(sink);
  }

  /** Scripts started and not finished yet. */
  get pending(): number {
    return this.inFlight.size;
  }

  notifyInstance(name: string, state: NotifyStateName, priority: number, scripts: NotifyScripts): void {
    this.notify({ kind: 'INSTANCE', name, state, priority, scripts });
  }

  notifyGroup(name: string, state: NotifyStateName, scripts: NotifyScripts): void {
    this.notify({ kind: 'GROUP', name, state, priority: 0, scripts });
  }

  /** Launches the scripts for one state change and writes the FIFO line. Never throws or blocks. */
  notify(ev: NotifyEvent): void {
    const timeoutMs = ev.state === 'STOP' ? (this.opts.stopTimeoutMs ?? NOTIFY_STOP_TIMEOUT_MS) : (this.opts.timeoutMs ?? DEFAULT_NOTIFY_TIMEOUT_MS);
    // keepalived SIGKILLs a notify_stop script at its timeout, without a SIGTERM grace period.
    const killGraceMs = ev.state === 'STOP' ? 0 : undefined;
    const perState = ev.scripts[PER_STATE[ev.state]];
    const ctx = { kind: ev.kind, name: ev.name, state: ev.state };
    if (perState) this.launch(ctx, PER_STATE[ev.state], perState, [], timeoutMs, killGraceMs);
    const generic = ev.scripts.notify;
    if (generic && ev.state !== 'MASTER_RX_LOWER_PRI') this.launch(ctx, 'notify', generic, genericNotifyArgs(ev), timeoutMs, killGraceMs);
    this.writeFifos(formatVrrpFifoLine(ev.kind, ev.name, ev.state, ev.priority ?? 0));
  }

  /**
   * One script of the checker (notify_up/notify_down, quorum_up/quorum_down), launched in order
   * with everything else this notifier runs, with the same timeouts, process groups and output
   * caps. `stopping`: the daemon is exiting (omega), so the STOP timeout applies.
   */
  run(key: string, spec: ScriptSpec, ctx: Record<string, string>, stopping = false): void {
    const timeoutMs = stopping ? (this.opts.stopTimeoutMs ?? NOTIFY_STOP_TIMEOUT_MS) : (this.opts.timeoutMs ?? DEFAULT_NOTIFY_TIMEOUT_MS);
    this.launch(ctx, key, spec, [], timeoutMs, stopping ? 0 : undefined);
  }

  /** One line to every FIFO sink, synchronously (the ordered channel). */
  writeFifos(line: string): void {
    for (const fifo of this.fifos) {
      try {
        fifo.write(line);
      } catch (e) {
        this.logger.error({ err: (e as Error).message }, 'notify fifo write failed');
      }
    }
  }

  private launch(where: Record<string, string>, key: string, spec: ScriptSpec, args: readonly string[], timeoutMs: number, killGraceMs: number | undefined): void {
    const ctx = { ...where, script: key };
    const abort = new AbortController();
    let spawned!: () => void;
    const spawnedP = new Promise<void>((r) => (spawned = r));
    const prev = this.launchChain;
    this.launchChain = prev.then(() => spawnedP);

    const run = prev
      .then(() => {
        if (abort.signal.aborted) return undefined;
        return this.runner(spec, {
          ...this.opts.runOptions,
          args,
          timeoutMs,
          ...(killGraceMs !== undefined ? { killGraceMs } : {}),
          signal: abort.signal,
          logger: this.logger,
          onSpawn: () => spawned(),
        });
      })
      .then(
        (r: ScriptResult | undefined) => {
          if (r) this.report(ctx, r);
        },
        (e: unknown) => this.logger.error({ ...ctx, err: e instanceof Error ? e.message : String(e) }, `${key} script failed to run`),
      )
      .finally(() => {
        spawned(); // never spawned (error, abort): let the next launch go
        this.aborts.delete(abort);
        this.inFlight.delete(run);
      });
    this.aborts.add(abort);
    this.inFlight.add(run);
  }

  private report(ctx: Record<string, string>, r: ScriptResult): void {
    const fields = { ...ctx, code: r.code, signal: r.signal, durationMs: Math.round(r.durationMs), pid: r.pid };
    if (r.error) this.logger.error({ ...fields, error: r.error }, `${ctx['script']} script could not run: ${r.error}`);
    else if (r.timedOut) this.logger.warn(fields, `${ctx['script']} script timed out and was killed`);
    else if (r.code !== 0) this.logger.warn({ ...fields, stderr: r.stderr }, `${ctx['script']} script exited with ${r.signal ?? `status ${r.code}`}`);
    else this.logger.debug(fields, `${ctx['script']} script done`);
  }

  /** Resolves when every script started so far has finished (bounded by their timeouts). */
  async idle(): Promise<void> {
    for (let i = 0; i < 1000 && this.inFlight.size > 0; i++) await Promise.allSettled([...this.inFlight]);
  }

  /** Kills every running notify script (their process groups) and waits for them. */
  async stop(): Promise<void> {
    for (const a of this.aborts) a.abort(new Error('notifier stopped'));
    await this.idle();
  }
}

/**
 * keepalived's notify FIFOs (docs/keepalived.md §4.4): an ordered channel of ASCII lines.
 *
 * Line formats (each ends with '\n'):
 * - VRRP:    `INSTANCE "VI_1" MASTER 100`, `GROUP "VG1" BACKUP 0`
 * - checker: `VS [192.168.201.15]:tcp:80 UP`, `RS [1.2.3.4]:tcp:80 [192.168.201.15]:tcp:80 DOWN`;
 *            a virtual_server_group prints `[NAME]:PORT`, an fwmark service `FWM n`.
 *
 * `NotifyFifo` mirrors keepalived's `fifo_open`/`fifo_close`:
 * - creates the FIFO with `mkfifo -m 0600` (0660 with a `group`) when absent (keepalived: 0644;
 *   `user`/`group` say who reads it, nobody else needs to), and removes it on close only if it
 *   created it, chowning it to `user`/`group` when given; an existing non-FIFO path is refused;
 * - starts the optional FIFO script with the FIFO path appended as its last argument, and sends
 *   its process group SIGTERM (then SIGKILL after the grace period) on close;
 * - opens the FIFO O_RDWR|O_NONBLOCK, so opening never blocks and writing never blocks or
 *   raises SIGPIPE when no reader is attached: lines wait in the kernel pipe buffer (64 KiB)
 *   for the next reader, in order.
 * - When the pipe buffer is full, lines are queued in memory (in order) and retried every
 *   `retryMs`; beyond `maxQueuedLines` the OLDEST queued lines are dropped (counted), so a
 *   reader that resumes ends up with the latest states. keepalived drops the new line instead.
 */
import { execFile } from 'node:child_process';
import { closeSync, constants as fsc, promises as fsp, openSync, writeSync } from 'node:fs';
import type { ScriptSpec } from '../../config/schema.js';
import type { NotifyState } from '../../vocab/states.js';
import { lookupGroup, lookupUser, noopLogger, runScript, type Logger, type ScriptResult, type ScriptRunner } from '../../sys/exec.js';

// ---------------------------------------------------------------- line formats

export type VrrpFifoKind = 'INSTANCE' | 'GROUP';
export type VrrpFifoState = NotifyState;

/** `INSTANCE "VI_1" MASTER 100\n`; groups always print priority 0. */
export function formatVrrpFifoLine(kind: VrrpFifoKind, name: string, state: VrrpFifoState, priority = 0): string {
  return `${kind} "${name}" ${state} ${kind === 'GROUP' ? 0 : priority}\n`;
}

export type FifoProtocol = 'TCP' | 'UDP' | 'SCTP' | 'tcp' | 'udp' | 'sctp';

/** A virtual service as keepalived's `format_vs` prints it. */
export type FifoService =
  | { address: string; port: number; protocol?: FifoProtocol }
  | { group: string; port: number; protocol?: FifoProtocol }
  | { fwmark: number; protocol?: FifoProtocol };

/** keepalived `inet_sockaddrtotrio`: `[addr]:proto:port` (IPv6 too). */
function trio(address: string, protocol: FifoProtocol | undefined, port: number): string {
  return `[${address}]:${(protocol ?? 'tcp').toLowerCase()}:${port}`;
}

/** keepalived `format_vs`: `[1.2.3.4]:tcp:80`, `[GROUP]:80` or `FWM 5`. */
export function formatFifoService(vs: FifoService): string {
  if ('group' in vs) return `[${vs.group}]:${vs.port}`;
  if ('fwmark' in vs) return `FWM ${vs.fwmark}`;
  return trio(vs.address, vs.protocol, vs.port);
}

/** `VS [192.168.201.15]:tcp:80 UP\n` */
export function formatVsFifoLine(vs: FifoService, up: boolean): string {
  return `VS ${formatFifoService(vs)} ${up ? 'UP' : 'DOWN'}\n`;
}

/** `RS [1.2.3.4]:tcp:80 [192.168.201.15]:tcp:80 DOWN\n` (the real server uses the service's protocol). */
export function formatRsFifoLine(rs: { address: string; port: number }, vs: FifoService, up: boolean): string {
  return `RS ${trio(rs.address, vs.protocol, rs.port)} ${formatFifoService(vs)} ${up ? 'UP' : 'DOWN'}\n`;
}

// ---------------------------------------------------------------- the writer

/** Anything lines can be written to (a `NotifyFifo`, or a test double). */
export interface FifoSink {
  write(line: string): void;
}

export interface NotifyFifoOptions {
  path: string;
  /** Owner of a FIFO we create (keepalived `notify_fifo FILE [user [group]]`). */
  user?: string;
  group?: string;
  /** Started with the FIFO path as its last argument. */
  script?: ScriptSpec;
  logger?: Logger;
  runner?: ScriptRunner;
  /** In-memory lines kept while the pipe is full. Default 1024. */
  maxQueuedLines?: number;
  /** Retry period while the pipe is full. Default 200 ms. */
  retryMs?: number;
  /** SIGTERM → SIGKILL grace for the FIFO script on close. Default 2000 ms. */
  scriptKillGraceMs?: number;
  /**
   * Only open a FIFO another thread owns (creates, runs the script of, removes): the checker's
   * lines of the global notify_fifo, which the VRRP thread opened first. Like keepalived's two
   * processes writing one FIFO.
   */
  attach?: boolean;
}

export interface NotifyFifoStats {
  written: number;
  queued: number;
  dropped: number;
}

function mkfifo(file: string, mode: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('mkfifo', ['-m', mode, '--', file], { timeout: 5000 }, (err, _out, stderr) => {
      resolve(err ? String(stderr).trim() || err.message : undefined);
    });
  });
}

export class NotifyFifo implements FifoSink {
  readonly path: string;
  private readonly opts: NotifyFifoOptions;
  private readonly logger: Logger;
  private fd: number | undefined;
  private created = false;
  private closed = false;
  private readonly queue: Buffer[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private scriptAbort: AbortController | undefined;
  private scriptDone: Promise<ScriptResult> | undefined;
  private scriptPid: number | undefined;
  private warnedFull = false;
  private readonly counters: NotifyFifoStats = { written: 0, queued: 0, dropped: 0 };

  constructor(opts: NotifyFifoOptions) {
    this.opts = opts;
    this.path = opts.path;
    this.logger = opts.logger ?? noopLogger;
  }

  get stats(): Readonly<NotifyFifoStats> {
    return { ...this.counters, queued: this.queue.length };
  }

  get isOpen(): boolean {
    return this.fd !== undefined;
  }

  /** pid (= process group) of the running FIFO script, if any. */
  get scriptProcessId(): number | undefined {
    return this.scriptPid;
  }

  /**
   * Creates (if needed) and opens the FIFO, then starts the FIFO script. Resolves false (and
   * logs) when the FIFO cannot be used; lines written meanwhile are kept for a later open.
   */
  async open(): Promise<boolean> {
    if (this.fd !== undefined) return true;
    if (this.closed) return false;
    const file = this.path;
    try {
      const st = await fsp.lstat(file);
      if (!st.isFIFO()) {
        this.logger.error({ fifo: file }, `notify fifo ${file} exists and is not a FIFO`);
        return false;
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || this.opts.attach) {
        this.logger.error({ fifo: file, err: (e as Error).message }, `unable to use notify fifo ${file}`);
        return false;
      }
      const err = await mkfifo(file, this.opts.group !== undefined ? '0660' : '0600');
      if (err !== undefined) {
        this.logger.error({ fifo: file, err }, `unable to create notify fifo ${file}`);
        return false;
      }
      this.created = true;
      await this.chown();
    }

    try {
      this.fd = openSync(file, fsc.O_RDWR | fsc.O_NONBLOCK | fsc.O_NOFOLLOW);
    } catch (e) {
      this.logger.error({ fifo: file, err: (e as Error).message }, `unable to open notify fifo ${file}`);
      if (this.created) await fsp.unlink(file).catch(() => {});
      this.created = false;
      return false;
    }
    if (this.closed) {
      // close() ran while we were opening.
      closeSync(this.fd);
      this.fd = undefined;
      if (this.created) await fsp.unlink(file).catch(() => {});
      this.created = false;
      return false;
    }
    if (!this.opts.attach) this.startScript();
    this.flush();
    return true;
  }

  private async chown(): Promise<void> {
    if (this.opts.user === undefined && this.opts.group === undefined) return;
    const ids = this.opts.user !== undefined ? await lookupUser(this.opts.user) : undefined;
    const gid = this.opts.group !== undefined ? await lookupGroup(this.opts.group) : ids?.gid;
    try {
      await fsp.chown(this.path, ids?.uid ?? -1, gid ?? -1);
    } catch (e) {
      this.logger.warn({ fifo: this.path, err: (e as Error).message }, `failed to set owner of fifo ${this.path}`);
    }
  }

  private startScript(): void {
    const spec = this.opts.script;
    if (!spec) return;
    const runner = this.opts.runner ?? runScript;
    this.scriptAbort = new AbortController();
    this.scriptDone = runner(spec, {
      args: [this.path],
      timeoutMs: 0,
      signal: this.scriptAbort.signal,
      killGraceMs: this.opts.scriptKillGraceMs ?? 2000,
      logger: this.logger,
      onSpawn: (pid) => {
        this.scriptPid = pid;
      },
    }).then((r) => {
      this.scriptPid = undefined;
      if (!r.aborted) {
        this.logger.warn({ fifo: this.path, code: r.code, signal: r.signal, error: r.error }, `notify fifo script for ${this.path} exited`);
      }
      return r;
    });
  }

  /** Queues one line (a '\n' is added if missing) and writes what the pipe accepts. Never blocks. */
  write(line: string): void {
    if (this.closed) return;
    this.queue.push(Buffer.from(line.endsWith('\n') ? line : `${line}\n`, 'utf8'));
    const max = this.opts.maxQueuedLines ?? 1024;
    while (this.queue.length > max) {
      this.queue.shift();
      this.counters.dropped++;
    }
    this.flush();
  }

  private flush(): void {
    if (this.fd === undefined) return;
    while (this.queue.length > 0) {
      const buf = this.queue[0] as Buffer;
      let n: number;
      try {
        n = writeSync(this.fd, buf);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          if (!this.warnedFull) {
            this.warnedFull = true;
            this.logger.warn({ fifo: this.path, queued: this.queue.length }, `notify fifo ${this.path} is full (no reader?); queueing`);
          }
          this.scheduleRetry();
          return;
        }
        this.logger.error({ fifo: this.path, err: (e as Error).message }, `write to notify fifo ${this.path} failed; line dropped`);
        this.queue.shift();
        this.counters.dropped++;
        continue;
      }
      if (n < buf.length) {
        this.queue[0] = buf.subarray(n);
        this.scheduleRetry();
        return;
      }
      this.queue.shift();
      this.counters.written++;
    }
    this.warnedFull = false;
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flush();
    }, this.opts.retryMs ?? 200);
    this.retryTimer.unref();
  }

  /**
   * Writes what it can, removes the FIFO if we created it (first, as keepalived, so a reader
   * looping on open does not reopen it), closes it and stops the FIFO script (SIGTERM).
   * Resolves once the script has exited.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.queue.length > 0) {
      this.counters.dropped += this.queue.length;
      this.queue.length = 0;
    }
    if (this.created) await fsp.unlink(this.path).catch(() => {});
    this.created = false;
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = undefined;
    }
    this.scriptAbort?.abort(new Error('fifo closed'));
    await this.scriptDone;
  }
}

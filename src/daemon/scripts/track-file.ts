/**
 * Watches one `track_file` (docs/keepalived.md §2.4; keepalived `track_file.c`).
 *
 * keepalived semantics reproduced:
 * - The file holds an integer. Up to 127 bytes are read and parsed like `strtol(buf, NULL, 0)`:
 *   leading blanks, a sign, `0x` hex or leading-0 octal, digits up to the first non-digit.
 *   No digits (empty file, text) gives 0. A number outside the C `int` range is logged and
 *   ignored (the previous value stays).
 * - A file that does not exist or cannot be opened reads as 0; deleting or moving it away sets 0.
 * - `init_file [VAL] [overwrite]`: create the file with VAL (default 0) if it does not exist;
 *   with `overwrite`, also rewrite an existing regular file, except on a reload.
 *
 * Mechanism: `fs.watch` on the file's directory (inotify, so the file may come and go), and a
 * re-read of the file after each event for it, debounced (`debounceMs`, 20 ms) because Node
 * reports modifications, not keepalived's IN_CLOSE_WRITE. If the directory cannot be watched
 * (it does not exist yet), the watch is retried every `retryMs` (5 s) and the value is 0.
 * `pollMs` adds an optional periodic re-read (off by default).
 *
 * `start()` resolves to the initial value without emitting; afterwards `change(value)` is
 * emitted whenever the value differs from the previous one.
 */
import { EventEmitter } from 'node:events';
import { constants as fsc, promises as fsp, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../config/schema.js';
import { realClock, type Clock, type TimerHandle } from '../../sys/clock.js';
import { noopLogger, type Logger } from '../../sys/exec.js';

export type TrackFileDef = Config['track_files'][string];

const INT_MIN = -(2n ** 31n);
const INT_MAX = 2n ** 31n - 1n;
/** keepalived reads into a 128-byte buffer. */
export const TRACK_FILE_READ_BYTES = 127;

/**
 * keepalived's parse of a track file's content: `strtol(text, NULL, 0)` limited to `int`.
 * Returns undefined for a number outside the int range (keepalived ignores it).
 */
export function parseTrackFileValue(text: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))?/.exec(text);
  if (!m) return 0;
  const [, sign, hex, oct, dec] = m;
  let v: bigint;
  if (hex !== undefined) v = BigInt(`0x${hex}`);
  else if (oct !== undefined) v = oct.length > 1 ? BigInt(`0o${oct.slice(1)}`) : 0n;
  else if (dec !== undefined) v = BigInt(dec);
  else return 0;
  if (sign === '-') v = -v;
  if (v < INT_MIN || v > INT_MAX) return undefined;
  return Number(v);
}

/** Reads and parses a track file now: 0 if it cannot be opened; undefined if out of range. */
export async function readTrackFile(file: string): Promise<number | undefined> {
  let fh: fsp.FileHandle | undefined;
  try {
    // O_NONBLOCK as keepalived: a FIFO put in place of the file must not hang us.
    fh = await fsp.open(file, fsc.O_RDONLY | fsc.O_NONBLOCK);
    const buf = Buffer.alloc(TRACK_FILE_READ_BYTES);
    const { bytesRead } = await fh.read(buf, 0, TRACK_FILE_READ_BYTES, null);
    if (bytesRead <= 0) return 0;
    const text = buf.subarray(0, bytesRead).toString('latin1');
    const nul = text.indexOf('\0');
    return parseTrackFileValue(nul < 0 ? text : text.slice(0, nul));
  } catch {
    return 0;
  } finally {
    await fh?.close().catch(() => {});
  }
}

/**
 * `init_file`: writes `value\n` when the file does not exist, or (with `overwrite`, not on a
 * reload) when it is an existing regular file. Never throws.
 */
export async function initTrackFile(
  file: string,
  init: { value: number; overwrite: boolean },
  opts: { reload?: boolean } = {},
): Promise<{ wrote: boolean; error?: string }> {
  // lstat, and O_NOFOLLOW below: a symlink planted at the path must not make this root daemon
  // write (or truncate) whatever it points at
  try {
    const st = await fsp.lstat(file);
    if (st.isSymbolicLink()) {
      // a link to an existing file needs no writing without overwrite (reading through it is fine)
      if (!init.overwrite && (await fsp.stat(file).then(() => true, () => false))) return { wrote: false };
      return { wrote: false, error: `cannot initialise track file ${file}: it is a symbolic link; vipkeeper does not write through one` };
    }
    if (!init.overwrite) return { wrote: false };
    if (!st.isFile()) return { wrote: false, error: `cannot initialise track file ${file}: it is not a regular file` };
    if (opts.reload) return { wrote: false };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return { wrote: false, error: `cannot initialise track file ${file}: ${(e as Error).message}` };
  }
  let fh: fsp.FileHandle | undefined;
  try {
    // O_NOFOLLOW: a link made between the lstat and here is refused too (ELOOP)
    fh = await fsp.open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, 0o644);
    const st = await fh.stat();
    if (!st.isFile()) return { wrote: false, error: `cannot initialise track file ${file}: it is not a regular file` };
    await fh.truncate(0);
    await fh.writeFile(`${init.value}\n`);
    return { wrote: true };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ELOOP' ? 'it is a symbolic link; vipkeeper does not write through one' : err.message;
    return { wrote: false, error: `unable to initialise track file ${file}: ${why}` };
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

export type TrackFileEvents = { change: [value: number] };

export interface TrackFileOptions {
  name: string;
  def: Pick<TrackFileDef, 'file' | 'init_file'>;
  logger?: Logger;
  clock?: Clock;
  /** Delay between a change event and the re-read. Default 20 ms. */
  debounceMs?: number;
  /** Retry period while the directory cannot be watched. Default 5000 ms. */
  retryMs?: number;
  /** Periodic re-read in addition to the watch; 0 = off (default). */
  pollMs?: number;
  /** A reload: init_file's `overwrite` does not rewrite an existing file. */
  reload?: boolean;
  /** Keep the event loop alive while watching. Default true. */
  persistent?: boolean;
}

export class TrackFileWatcher extends EventEmitter<TrackFileEvents> {
  readonly name: string;
  readonly file: string;
  private readonly opts: TrackFileOptions;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private current = 0;
  private watcher: FSWatcher | undefined;
  private debounceTimer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private pollTimer: TimerHandle | undefined;
  private reading = false;
  private dirty = false;
  private active = false;

  constructor(opts: TrackFileOptions) {
    super();
    this.opts = opts;
    this.name = opts.name;
    this.file = path.resolve(opts.def.file);
    this.logger = opts.logger ?? noopLogger;
    this.clock = opts.clock ?? realClock;
  }

  get value(): number {
    return this.current;
  }

  /** Initialises the file if configured, reads it, and starts watching. Resolves to the value. */
  async start(): Promise<number> {
    if (this.active) return this.current;
    this.active = true;
    const init = this.opts.def.init_file;
    if (init) {
      const r = await initTrackFile(this.file, init, { reload: this.opts.reload ?? false });
      if (r.error) this.logger.error({ trackFile: this.name, file: this.file }, r.error);
    }
    const v = await readTrackFile(this.file);
    if (v === undefined) this.logger.warn({ trackFile: this.name, file: this.file }, `invalid number read from ${this.file} - ignoring`);
    else this.current = v;
    if (!this.active) return this.current; // stopped meanwhile
    this.watchDir();
    this.schedulePoll();
    return this.current;
  }

  stop(): void {
    this.active = false;
    this.watcher?.close();
    this.watcher = undefined;
    for (const t of [this.debounceTimer, this.retryTimer, this.pollTimer]) if (t !== undefined) this.clock.clearTimeout(t);
    this.debounceTimer = this.retryTimer = this.pollTimer = undefined;
  }

  /** Re-reads the file now (also used after watch events). */
  async refresh(): Promise<void> {
    if (!this.active) return;
    if (this.reading) {
      this.dirty = true;
      return;
    }
    this.reading = true;
    try {
      for (let i = 0; i < 100; i++) {
        this.dirty = false;
        const v = await readTrackFile(this.file);
        if (!this.active) return;
        if (v === undefined) this.logger.warn({ trackFile: this.name, file: this.file }, `invalid number read from ${this.file} - ignoring`);
        else this.set(v);
        if (!this.dirty) break;
      }
    } finally {
      this.reading = false;
    }
  }

  private set(v: number): void {
    if (v === this.current) return;
    this.current = v;
    this.logger.debug({ trackFile: this.name, value: v }, `track file ${this.name} now ${v}`);
    this.emit('change', v);
  }

  private watchDir(): void {
    if (!this.active) return;
    const dir = path.dirname(this.file);
    const base = path.basename(this.file);
    try {
      this.watcher = watch(dir, { persistent: this.opts.persistent ?? true }, (_event, filename) => {
        if (filename === null || filename === undefined || String(filename) === base) this.scheduleRead();
      });
      this.watcher.on('error', (e) => {
        this.logger.warn({ trackFile: this.name, dir, err: e.message }, `watching ${dir} failed; retrying`);
        this.watcher?.close();
        this.watcher = undefined;
        this.scheduleRead();
        this.scheduleRetry();
      });
    } catch (e) {
      this.logger.warn(
        { trackFile: this.name, dir, err: (e as Error).message },
        `cannot watch directory ${dir} of track file ${this.name}; value 0, retrying every ${this.opts.retryMs ?? 5000} ms`,
      );
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (!this.active || this.retryTimer !== undefined) return;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.active || this.watcher) return;
      this.watchDir();
      if (this.watcher) this.scheduleRead();
    }, this.opts.retryMs ?? 5000);
  }

  private scheduleRead(): void {
    if (!this.active || this.debounceTimer !== undefined) return;
    this.debounceTimer = this.clock.setTimeout(() => {
      this.debounceTimer = undefined;
      void this.refresh();
    }, this.opts.debounceMs ?? 20);
  }

  private schedulePoll(): void {
    const ms = this.opts.pollMs ?? 0;
    if (!this.active || !(ms > 0)) return;
    this.pollTimer = this.clock.setTimeout(() => {
      this.pollTimer = undefined;
      void this.refresh().then(() => this.schedulePoll());
    }, ms);
  }
}

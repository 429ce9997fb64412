/**
 * The daemon's logger: pino, JSON lines on stdout (one object per line, for journald / log
 * shippers), or — when stdout is a terminal — short human-readable lines from a tiny built-in
 * formatter (no pino-pretty needed).
 *
 * Secrets are redacted at any depth we produce: `auth_pass`, `authentication`, `password`,
 * `authPassword` (and the same keys one to three objects down). The VRRP runtime never logs the
 * config objects that hold them in the first place; this is the safety net.
 */
import { fstatSync } from 'node:fs';
import { pino, type DestinationStream, type LoggerOptions as PinoOptions } from 'pino';

type LogMethod = (obj: object, msg?: string) => void;

/**
 * The one logger port every layer takes: pino's shape (fields first, then the message), so
 * the daemon passes its pino logger (or a child) straight in and tests pass `noopLogger` or
 * a recorder.
 */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  /** A logger whose lines carry `bindings` too (pino's child). */
  child(bindings: Record<string, unknown>): Logger;
}

const noop: LogMethod = () => {};
export const noopLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => noopLogger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const SECRET_KEYS = ['auth_pass', 'authentication', 'password', 'authPassword'] as const;

/** pino redact paths: each secret key at the top level and up to three levels down. */
export const REDACT_PATHS: readonly string[] = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

export const REDACTED = '[redacted]';

export interface CreateLoggerOptions {
  level?: LogLevel | string;
  /** Human-readable lines instead of JSON; default: `logFormat()` for stdout (terminal, not the journal). */
  pretty?: boolean;
  /** Where to write; default stdout (synchronously, so nothing is lost at exit). */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Fields on every line, e.g. `{ name: 'vipkeeper' }`. */
  base?: Record<string, unknown>;
  /**
   * Never block the calling thread on a stalled stdout (a journal that does not read): lines are
   * written asynchronously, and past `maxBufferBytes` waiting they are dropped and counted; a line
   * saying how many follows once writes go through again. For the VRRP thread, whose adverts
   * must not wait for a log line. Ignored when `destination` is given.
   */
  nonBlocking?: { maxBufferBytes: number; fd?: number };
}

/** Log lines dropped by non-blocking destinations (this thread), since start. */
let droppedLines = 0;
export function droppedLogLines(): number {
  return droppedLines;
}

/**
 * An asynchronous destination (sonic-boom, writes on the libuv pool) with a bounded buffer: a
 * write that would grow it past `maxBufferBytes` is dropped (counted). After a drop, the next
 * completed write is followed by one JSON line giving the count.
 */
export function nonBlockingDestination(fd: number, maxBufferBytes: number): DestinationStream & { flushSync(): void; end(): void } {
  // maxWrite PIPE_BUF: each write(2) is whole lines and at most 4096 bytes, so it is atomic on a
  // pipe and never interleaves with the main thread's lines on the same stdout
  const dest = pino.destination({ dest: fd, sync: false, maxLength: maxBufferBytes, maxWrite: 4096 });
  let announced = 0;
  dest.on('drop', (data: string) => {
    droppedLines += Math.max(1, (data.match(/\n/g) ?? []).length);
  });
  dest.on('write', () => {
    if (droppedLines === announced) return;
    const n = droppedLines - announced;
    announced = droppedLines;
    dest.write(`${JSON.stringify({ level: 'warn', time: new Date().toISOString(), name: 'vipkeeper', dropped: n, dropped_total: droppedLines, msg: `${n} log line(s) dropped: stdout was not being read` })}\n`);
  });
  // a destination error (EPIPE: nobody reads stdout any more) must not become an uncaught exception
  dest.on('error', () => undefined);
  return dest as unknown as DestinationStream & { flushSync(): void; end(): void };
}

export type LogFormat = 'json' | 'human';

/**
 * How the daemon writes its log: VIPKEEPER_LOG_FORMAT (json or human) if set; JSON when stdout is
 * the journal (systemd sets JOURNAL_STREAM to its device:inode), so the fields arrive as fields;
 * human lines on a terminal; JSON otherwise (files, pipes, log shippers).
 */
export function logFormat(env: NodeJS.ProcessEnv = process.env, fd = 1, isTty = process.stdout.isTTY === true): LogFormat {
  const forced = env.VIPKEEPER_LOG_FORMAT?.trim().toLowerCase();
  if (forced === 'json' || forced === 'human') return forced;
  if (env.JOURNAL_STREAM) {
    try {
      const st = fstatSync(fd);
      if (env.JOURNAL_STREAM === `${st.dev}:${st.ino}`) return 'json';
    } catch {
      // not a descriptor we can stat: decide by the terminal
    }
  }
  return isTty ? 'human' : 'json';
}

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

export function createLogger(opts: CreateLoggerOptions = {}): pino.Logger {
  const dest =
    opts.destination ?? (opts.nonBlocking ? nonBlockingDestination(opts.nonBlocking.fd ?? 1, opts.nonBlocking.maxBufferBytes) : pino.destination({ dest: 1, sync: true }));
  const pretty = opts.pretty ?? (opts.destination === undefined ? logFormat() === 'human' : false);
  const options: PinoOptions = {
    level: opts.level ?? 'info',
    base: opts.base ?? { name: 'vipkeeper' },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return pino(options, pretty ? prettyStream(dest) : (dest as DestinationStream));
}

const LEVEL_TAG: Record<string, string> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO ',
  warn: 'WARN ',
  error: 'ERROR',
  fatal: 'FATAL',
};

/** Formats one pino JSON line as `HH:MM:SS.mmm LEVEL msg key=value …`. Non-JSON passes through. */
export function formatPrettyLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const { time, level, msg, name: _name, pid: _pid, hostname: _host, ...rest } = o;
  const t = typeof time === 'string' ? time.slice(11, 23) : typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
  const lv = LEVEL_TAG[String(level)] ?? String(level).toUpperCase();
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/[\s"=]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
    .join(' ');
  // One event, one line: a newline inside a message or a field is shown escaped.
  const text = typeof msg === 'string' ? msg.replace(/\r?\n/g, '\\n') : '';
  return `${t} ${lv} ${text}${fields ? `  ${fields}` : ''}\n`;
}

function prettyStream(dest: DestinationStream | NodeJS.WritableStream): DestinationStream {
  return {
    write(chunk: string): void {
      for (const line of chunk.split('\n')) if (line) dest.write(formatPrettyLine(line));
    },
  };
}

/** A logger that keeps `level: message` lines (and the fields), for tests. */
export function recordingLogger(): { logger: Logger; lines: string[]; records: { level: string; msg: string; fields: object }[] } {
  const lines: string[] = [];
  const records: { level: string; msg: string; fields: object }[] = [];
  const at =
    (level: string, bound: object): LogMethod =>
    (fields, msg = '') => {
      lines.push(`${level}: ${msg}`);
      records.push({ level, msg, fields: { ...bound, ...fields } });
    };
  const make = (bound: object): Logger => ({
    debug: at('debug', bound),
    info: at('info', bound),
    warn: at('warn', bound),
    error: at('error', bound),
    child: (b) => make({ ...bound, ...b }),
  });
  return { logger: make({}), lines, records };
}

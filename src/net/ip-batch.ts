/**
 * Thin runner for iproute2's `ip`.
 *
 * - `ipBatch(lines)` runs ONE `ip [-n NETNS] -force -batch -` process with the
 *   lines on stdin. `-force` keeps going after a failing line; ip reports each
 *   failure as its message(s) followed by `Command failed -:N` on stderr, which
 *   `parseBatchStderr` turns into per-line errors (`Warning:` lines are kept
 *   apart, since ip prints them for lines that succeed).
 * - A malformed argument (e.g. `scope bogus`) makes ip exit in the middle of
 *   the batch without a `Command failed` marker, so it is unknown which lines
 *   ran. Then, and only then, every line without an error is run again in its
 *   own process, so each gets its own verdict. Callers validate their input so
 *   this stays rare, and their lines are idempotent (re-adding / re-deleting
 *   is reported as an error that they recognise).
 * - `ipJson(args)` runs `ip [-n NETNS] -j ARGS` and parses the JSON.
 *
 * The process runner is injectable (`BatchRunner`) for unit tests.
 */
import { spawn } from 'node:child_process';

export interface IpRunResult {
  /** Exit code; null when killed by a signal (or timed out). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ip` with `args` (without the leading `ip`), `input` on stdin. */
export type BatchRunner = (args: readonly string[], input?: string) => Promise<IpRunResult>;

export interface IpOptions {
  /** Run in this named network namespace (`ip -n NETNS`). */
  netns?: string;
  /** `ip -4` / `ip -6` for every line (a batch line cannot carry it). */
  family?: 4 | 6;
  run?: BatchRunner;
}

export interface BatchLineError {
  /** 0-based index into the lines passed to `ipBatch`. */
  index: number;
  line: string;
  message: string;
}

export interface BatchResult {
  ok: boolean;
  errors: BatchLineError[];
  warnings: string[];
  /** How many `ip` processes were run (1, or 1 + n after an abort). */
  processes: number;
}

/** A failed `ip` command (non-batch). */
export class IpCommandError extends Error {
  override readonly name = 'IpCommandError';
  constructor(
    readonly args: readonly string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`ip ${args.join(' ')} failed (exit ${String(code)}): ${stderr.trim() || 'no message'}`);
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** The real runner: spawns `ip` (from PATH), kills it (by handle) after `timeoutMs`. */
export function spawnRunner(timeoutMs = DEFAULT_TIMEOUT_MS): BatchRunner {
  return (args, input) =>
    new Promise((resolve, reject) => {
      const child = spawn('ip', [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => {
        stderr += `\n(ip timed out after ${timeoutMs} ms)`;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const hint = err.code === 'ENOENT' ? ' (is iproute2 installed?)' : '';
        reject(new Error(`cannot run ip${hint}: ${err.message}`, { cause: err }));
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      // ip may exit before reading all of stdin (abort): ignore EPIPE.
      child.stdin.on('error', () => {});
      child.stdin.end(input ?? '');
    });
}

const defaultRunner = spawnRunner();

function nsArgs(netns: string | undefined): string[] {
  return netns === undefined ? [] : ['-n', netns];
}

export interface ParsedBatchStderr {
  /** 0-based line index → message (the stderr lines before its `Command failed` marker). */
  errors: Map<number, string>;
  warnings: string[];
  /** Error text after the last marker: ip exited in the middle of the batch. */
  trailing: string;
}

const FAILED_RE = /^Command failed (.*):(\d+)$/;

export function parseBatchStderr(stderr: string): ParsedBatchStderr {
  const errors = new Map<number, string>();
  const warnings: string[] = [];
  let pending: string[] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.trimEnd();
    if (line === '') continue;
    const m = FAILED_RE.exec(line);
    if (m) {
      const index = Number(m[2]) - 1;
      errors.set(index, pending.join('\n') || 'command failed');
      pending = [];
    } else if (line.startsWith('Warning:')) {
      warnings.push(line);
    } else {
      pending.push(line);
    }
  }
  return { errors, warnings, trailing: pending.join('\n') };
}

function checkLines(lines: readonly string[]): void {
  for (const l of lines) {
    if (/[\n\r]/.test(l)) throw new TypeError(`ip batch line must not contain a newline: ${JSON.stringify(l)}`);
  }
}

async function runOnce(
  lines: readonly string[],
  opts: IpOptions,
): Promise<{ parsed: ParsedBatchStderr; aborted: string | undefined }> {
  const run = opts.run ?? defaultRunner;
  const res = await run([...nsArgs(opts.netns), ...(opts.family ? [`-${opts.family}`] : []), '-force', '-batch', '-'], lines.map((l) => `${l}\n`).join(''));
  const parsed = parseBatchStderr(res.stderr);
  let aborted: string | undefined;
  if (parsed.trailing !== '') aborted = parsed.trailing;
  else if (res.code === null) aborted = 'ip was killed';
  else if (res.code !== 0 && parsed.errors.size === 0) aborted = `ip exited with code ${res.code}`;
  return { parsed, aborted };
}

/** Run `lines` through one `ip -force -batch -` process; see the module comment. */
export async function ipBatch(lines: readonly string[], opts: IpOptions = {}): Promise<BatchResult> {
  checkLines(lines);
  if (lines.length === 0) return { ok: true, errors: [], warnings: [], processes: 0 };
  const first = await runOnce(lines, opts);
  const errors = new Map<number, string>();
  for (const [i, msg] of first.parsed.errors) if (i >= 0 && i < lines.length) errors.set(i, msg);
  const warnings = [...first.parsed.warnings];
  let processes = 1;
  if (first.aborted !== undefined) {
    // Unknown which lines ran: give each remaining line its own process.
    for (let i = 0; i < lines.length; i++) {
      if (errors.has(i)) continue;
      const one = await runOnce([lines[i]!], opts);
      processes++;
      warnings.push(...one.parsed.warnings);
      const msg = one.parsed.errors.get(0) ?? one.aborted;
      if (msg !== undefined) errors.set(i, msg);
    }
  }
  const list = [...errors]
    .sort(([a], [b]) => a - b)
    .map(([index, message]) => ({ index, line: lines[index]!, message }));
  return { ok: list.length === 0, errors: list, warnings, processes };
}

/** Run `ip [-n NETNS] -j ARGS` and parse its JSON (empty output → []). Throws IpCommandError. */
export async function ipJson<T = unknown>(args: readonly string[], opts: IpOptions = {}): Promise<T> {
  const run = opts.run ?? defaultRunner;
  const full = [...nsArgs(opts.netns), '-j', ...args];
  const res = await run(full);
  if (res.code !== 0) throw new IpCommandError(full, res.code, res.stderr);
  const text = res.stdout.trim();
  if (text === '') return [] as T;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`ip ${full.join(' ')}: output is not JSON: ${text.slice(0, 200)}`, { cause: err });
  }
}

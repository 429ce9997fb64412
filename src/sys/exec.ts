/**
 * Running keepalived-style scripts (vrrp_script, notify*, FIFO scripts, MISC_CHECK), following
 * keepalived's `notify.c` (docs/keepalived.md G8/G9):
 *
 * - The command string is split into argv like keepalived does (`splitCommand`: unquoted blanks
 *   separate words, `'…'` and `"…"` group, backslash escapes as G8).
 * - When the first word is an executable file with a `#!` line or an ELF header, it is run
 *   directly (execve, no shell). A bare name is looked up in PATH, with a warning (keepalived:
 *   "resolved by path search … Please specify full path"). Otherwise (`</dev/tcp/…` style
 *   redirections, files without a `#!` line) it is run by `/bin/sh -c` with the command line
 *   rebuilt as keepalived's `cmd_str()` does: every word single-quoted, except a first word
 *   starting with `<` or `>`. So shell syntax such as pipes is NOT interpreted, as in keepalived.
 * - The child gets its own process group (`detached`, i.e. setsid). A timeout (or abort) sends
 *   SIGTERM to the whole group, then SIGKILL after `killGraceMs` (2 s, as keepalived); once the
 *   leader has exited after our SIGTERM the group also gets SIGKILL, so forked children die too.
 * - `IFS`, `LD_PRELOAD` and `LD_LIBRARY_PATH` are removed from the environment.
 * - `user`/`group` become uid/gid via `getent passwd|group` (fallback `id -u/-g`), cached.
 *   Without a user the default is keepalived's: `keepalived_script` if that user exists, else the
 *   daemon's own user (root). `setDefaultScriptUser()` sets global_defs `script_user`.
 *   Only root can switch users; a non-root daemon runs scripts as itself.
 * - Script security (`setScriptSecurity`, global_defs `enable_script_security`; rule in
 *   src/config/script-security.ts): a script that would run as root from a path a non-root user
 *   could change is refused (code 126, "SECURITY VIOLATION"); with security on and no user
 *   configured, `keepalived_script` must exist, else every script is refused, as keepalived
 *   ("Script user 'keepalived_script' does not exist"). With security off such a script runs and
 *   is warned about once ("SECURITY VIOLATION - scripts are being executed but script_security
 *   not enabled"). The daemon applies the same policy in both threads (`applyScriptPolicy`).
 * - PDEATHSIG cannot be set from Node. Instead every live script group is sent SIGTERM when this
 *   process exits normally (`process.on('exit')`), and `killAllScripts()` is exported for the
 *   daemon's shutdown path. A SIGKILLed daemon leaves its scripts running, unlike keepalived.
 *
 * `runScript` never throws and never rejects: a missing command gives code 127, a command that
 * cannot be executed (permissions, unknown user, spawn failure) code 126, each with `error`.
 * Deliberate difference: keepalived disables a script it cannot find at config time, and its
 * `system()` path turns exit codes 126/127 into 0; here they are reported as failures.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import type { ScriptSpec } from '../config/schema.js';
import { shellSplit } from '../config/keepalived/lexer.js';
import { DEFAULT_SCRIPT_USER, scriptSecurity } from '../config/script-security.js';
import { noopLogger, type Logger } from './logger.js';

export { noopLogger, type Logger };

// ---------------------------------------------------------------- types

export const EXIT_CANNOT_EXECUTE = 126;
export const EXIT_NOT_FOUND = 127;
/** keepalived waits 2 s between SIGTERM and SIGKILL for a timed-out script. */
export const DEFAULT_KILL_GRACE_MS = 2000;
export const DEFAULT_MAX_OUTPUT_BYTES = 4096;
/** Variables keepalived removes from a script's environment. */
export const UNSAFE_ENV = ['IFS', 'LD_PRELOAD', 'LD_LIBRARY_PATH'] as const;

export interface RunOptions {
  /** Extra argv words appended after the command's own (e.g. notify's `INSTANCE VI_1 MASTER 100`). */
  args?: readonly string[];
  /** Kill the process group after this long; 0, negative or Infinity = no timeout. */
  timeoutMs: number;
  /** Merged over `process.env`; an `undefined` value removes a variable. IFS/LD_* are always removed. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Aborting kills the process group like a timeout does (result `aborted: true`). */
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL. Default 2000. */
  killGraceMs?: number;
  /** Bytes of stdout and of stderr kept. Default 4096 each. */
  maxOutputBytes?: number;
  cwd?: string;
  logger?: Logger;
  /** Called with the pid (= process group id) right after a successful spawn. */
  onSpawn?: (pid: number) => void;
}

export interface ScriptResult {
  /** Exit code, or null when killed by a signal or never started. */
  code: number | null;
  /** Signal that ended the script (e.g. 'SIGTERM'), or null. */
  signal: NodeJS.Signals | null;
  /** The timeout expired and the process group was killed. */
  timedOut: boolean;
  /** `signal` was aborted and the process group was killed. */
  aborted: boolean;
  durationMs: number;
  /** How it was run: execve, `/bin/sh -c`, or not at all (error). */
  mode: 'exec' | 'shell' | 'none';
  /** What was run: the resolved argv, or ['/bin/sh', '-c', line]. */
  argv: readonly string[];
  pid?: number;
  uid?: number;
  gid?: number;
  /** First `maxOutputBytes` of stdout/stderr. */
  stdout: string;
  stderr: string;
  /** Why the script could not run (code 126/127), if so. */
  error?: string;
}

/** A function with `runScript`'s shape; inject a fake in tests. */
export type ScriptRunner = (spec: ScriptSpec, opts: RunOptions) => Promise<ScriptResult>;

/** True when the result counts as success for a track script (exit 0, not killed). */
export function scriptSucceeded(r: ScriptResult): boolean {
  return r.code === 0 && r.signal === null && !r.timedOut && !r.aborted;
}

// ---------------------------------------------------------------- command line

/** Splits a command string into argv the way keepalived does (G8). */
export function splitCommand(command: string): string[] {
  return shellSplit(command);
}

/** keepalived `cmd_str()`: the line given to `/bin/sh -c` when a script is not executed directly. */
export function shellCommandLine(argv: readonly string[]): string {
  return argv
    .map((w, i) => (i === 0 && (w.startsWith('<') || w.startsWith('>')) ? w : `'${w.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

type Resolution =
  | { kind: 'exec'; file: string }
  /** `file`: the script file run by the shell (absent for `</dev/tcp/…` style commands). */
  | { kind: 'shell'; file?: string }
  | { kind: 'missing'; error: string }
  | { kind: 'denied'; error: string };

/** keepalived `is_executable()`: may uid:gid execute a file with these stats? */
export function isExecutableBy(st: Pick<Stats, 'mode' | 'uid' | 'gid'>, uid: number, gid: number): boolean {
  const m = st.mode;
  if (uid === 0) return (m & 0o111) !== 0;
  if (uid === st.uid) return (m & 0o100) !== 0;
  return gid === st.gid ? (m & 0o010) !== 0 : (m & 0o001) !== 0;
}

const pathWarned = new Set<string>();

/** Decides how to run argv[0] (exported for tests). */
export async function resolveCommand(
  argv0: string,
  ids: { uid: number; gid: number },
  envPath: string | undefined,
  logger: Logger = noopLogger,
): Promise<Resolution> {
  if (argv0 === '') return { kind: 'missing', error: 'empty command' };
  if (argv0.startsWith('<') || argv0.startsWith('>')) return { kind: 'shell' };

  let file = argv0;
  if (!argv0.includes('/')) {
    const found = await searchPath(argv0, ids, envPath ?? DEFAULT_PATH);
    if (found.kind !== 'exec') return found;
    file = found.file;
    if (!pathWarned.has(argv0)) {
      pathWarned.add(argv0);
      logger.warn({ script: argv0, resolved: file }, `script '${argv0}' resolved by path search to '${file}'; please specify the full path`);
    }
  }

  let st: Stats;
  try {
    st = await fsp.stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing', error: `${file}: not found` };
    return { kind: 'denied', error: `${file}: ${code ?? String(e)}` };
  }
  if (!st.isFile()) return { kind: 'denied', error: `${file}: not a regular file` };
  if (!isExecutableBy(st, ids.uid, ids.gid)) return { kind: 'denied', error: `${file}: not executable by uid ${ids.uid} gid ${ids.gid}` };
  return (await hasExecHeader(file)) ? { kind: 'exec', file } : { kind: 'shell', file };
}

async function searchPath(name: string, ids: { uid: number; gid: number }, envPath: string): Promise<Resolution> {
  let denied = false;
  for (const dir of envPath.split(':')) {
    const candidate = path.join(dir === '' ? '.' : dir, name);
    try {
      const st = await fsp.stat(candidate);
      if (st.isFile() && isExecutableBy(st, ids.uid, ids.gid)) return { kind: 'exec', file: candidate };
      denied = true;
    } catch {
      // not in this directory
    }
  }
  return denied
    ? { kind: 'denied', error: `${name}: found in PATH but not executable by uid ${ids.uid}` }
    : { kind: 'missing', error: `${name}: not found in PATH` };
}

/** `#!` or ELF: keepalived (with libmagic) runs anything else through the shell. */
async function hasExecHeader(file: string): Promise<boolean> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(file, 'r');
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    if (bytesRead >= 2 && buf[0] === 0x23 && buf[1] === 0x21) return true;
    return bytesRead === 4 && buf.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } catch {
    return true; // unreadable but executable (e.g. mode 0111): let execve decide
  } finally {
    await fh?.close().catch(() => {});
  }
}

// ---------------------------------------------------------------- users

interface Ids {
  uid: number;
  gid: number;
}

const userCache = new Map<string, Promise<Ids | undefined>>();
const groupCache = new Map<string, Promise<number | undefined>>();

function execText(cmd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 5000, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout) => {
      resolve(err ? undefined : String(stdout).trim());
    });
  });
}

function cached<T>(cache: Map<string, Promise<T | undefined>>, key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
  let p = cache.get(key);
  if (!p) {
    p = load();
    cache.set(key, p);
    // Keep only positive answers: a user created later should be found on the next run.
    void p.then((v) => {
      if (v === undefined) cache.delete(key);
    });
  }
  return p;
}

/** uid and primary gid of a user name (or numeric uid), via getent, else `id`. */
export function lookupUser(name: string): Promise<Ids | undefined> {
  return cached(userCache, name, async () => {
    const line = await execText('getent', ['passwd', name]);
    const f = line?.split('\n')[0]?.split(':');
    if (f && f.length >= 4 && /^\d+$/.test(f[2] ?? '') && /^\d+$/.test(f[3] ?? '')) return { uid: Number(f[2]), gid: Number(f[3]) };
    const [u, g] = await Promise.all([execText('id', ['-u', '--', name]), execText('id', ['-g', '--', name])]);
    if (u && g && /^\d+$/.test(u) && /^\d+$/.test(g)) return { uid: Number(u), gid: Number(g) };
    return undefined;
  });
}

/** gid of a group name (or numeric gid), via getent. */
export function lookupGroup(name: string): Promise<number | undefined> {
  return cached(groupCache, name, async () => {
    const line = await execText('getent', ['group', name]);
    const f = line?.split('\n')[0]?.split(':');
    if (f && f.length >= 3 && /^\d+$/.test(f[2] ?? '')) return Number(f[2]);
    return /^\d+$/.test(name) ? Number(name) : undefined;
  });
}

/** `undefined`: keepalived's automatic default; `null`: always the daemon's own user. */
let defaultScriptUser: { user: string; group?: string } | null | undefined;

/** global_defs `script_user USER [GROUP]`; `undefined` restores the automatic default. */
export function setDefaultScriptUser(u: { user: string; group?: string } | null | undefined): void {
  defaultScriptUser = u;
}

/** global_defs `enable_script_security`. */
let scriptSecurityOn = false;

export function setScriptSecurity(on: boolean): void {
  scriptSecurityOn = on;
}

/** The script policy of global_defs (`script_user`, `enable_script_security`), for one thread. */
export function applyScriptPolicy(global: { script_user?: { user: string; group?: string } | undefined; enable_script_security?: boolean }): void {
  setDefaultScriptUser(global.script_user);
  setScriptSecurity(global.enable_script_security === true);
}

/** Insecure files already warned about while security is off (one warning each). */
const insecureWarned = new Set<string>();

function ownIds(): Ids {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

/** The uid/gid a script will run as, or an error (unknown user/group). */
export async function resolveScriptIds(spec: Pick<ScriptSpec, 'user' | 'group'>): Promise<Ids | { error: string }> {
  const own = ownIds();
  let who = spec.user !== undefined ? { user: spec.user, group: spec.group } : defaultScriptUser;
  if (who === undefined) {
    // keepalived: keepalived_script if it exists, else the daemon's own user. Only root can switch.
    if (own.uid !== 0) return own;
    const dflt = await lookupUser(DEFAULT_SCRIPT_USER);
    if (!dflt && scriptSecurityOn) return { error: `SECURITY VIOLATION: script user '${DEFAULT_SCRIPT_USER}' does not exist (enable_script_security needs it or a script_user)` };
    return dflt ?? own;
  }
  if (who === null) return own;
  const ids = await lookupUser(who.user);
  if (!ids) return { error: `unknown script user '${who.user}'` };
  if (who.group !== undefined) {
    const gid = await lookupGroup(who.group);
    if (gid === undefined) return { error: `unknown script group '${who.group}'` };
    return { uid: ids.uid, gid };
  }
  return ids;
}

// ---------------------------------------------------------------- live process groups

const liveGroups = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Stand-in for PR_SET_PDEATHSIG=SIGTERM: scripts do not outlive a normal daemon exit.
  process.on('exit', () => killAllScripts('SIGTERM'));
}

function killGroup(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, sig);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  }
}

/** Sends `sig` to every script process group still running. Returns how many were signalled. */
export function killAllScripts(sig: NodeJS.Signals = 'SIGTERM'): number {
  let n = 0;
  for (const pid of liveGroups) if (killGroup(pid, sig)) n++;
  return n;
}

/** Number of script process groups currently running (for tests and status). */
export function runningScriptCount(): number {
  return liveGroups.size;
}

// ---------------------------------------------------------------- running

class BoundedText {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    if (this.size >= this.max) return;
    const part = chunk.length > this.max - this.size ? chunk.subarray(0, this.max - this.size) : chunk;
    this.chunks.push(part);
    this.size += part.length;
  }
  toString(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

function scriptEnv(extra: RunOptions['env']): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  for (const k of UNSAFE_ENV) delete env[k];
  return env;
}

function failed(code: number, error: string, argv: readonly string[], started: number, extra: Partial<ScriptResult> = {}): ScriptResult {
  return {
    code,
    signal: null,
    timedOut: false,
    aborted: false,
    durationMs: performance.now() - started,
    mode: 'none',
    argv,
    stdout: '',
    stderr: '',
    error,
    ...extra,
  };
}

/** Runs one script; see the module comment. Never rejects. */
export async function runScript(spec: ScriptSpec, opts: RunOptions): Promise<ScriptResult> {
  const started = performance.now();
  const logger = opts.logger ?? noopLogger;
  const words = [...splitCommand(spec.command), ...(opts.args ?? [])];
  const argv0 = words[0];
  if (argv0 === undefined) return failed(EXIT_NOT_FOUND, 'empty command', words, started);
  if (opts.signal?.aborted) return failed(EXIT_CANNOT_EXECUTE, 'aborted before start', words, started, { aborted: true, code: null });

  const ids = await resolveScriptIds(spec);
  if ('error' in ids) return failed(EXIT_CANNOT_EXECUTE, ids.error, words, started);

  const env = scriptEnv(opts.env);
  const res = await resolveCommand(argv0, ids, env['PATH'], logger);
  if (res.kind === 'missing') return failed(EXIT_NOT_FOUND, res.error, words, started, ids);
  if (res.kind === 'denied') return failed(EXIT_CANNOT_EXECUTE, res.error, words, started, ids);
  const file = res.file;
  if (file !== undefined && ids.uid === 0) {
    const sec = await scriptSecurity(path.resolve(file));
    if (sec.safe === false) {
      if (scriptSecurityOn) {
        const error = `SECURITY VIOLATION: script '${file}' is refused: it would run as root but ${sec.why}`;
        logger.error({ script: file, unsafe: sec.at }, error);
        return failed(EXIT_CANNOT_EXECUTE, error, words, started, ids);
      }
      if (!insecureWarned.has(file)) {
        insecureWarned.add(file);
        logger.warn({ script: file, unsafe: sec.at }, `SECURITY VIOLATION - scripts are being executed but script_security not enabled: '${file}' runs as root but ${sec.why}`);
      }
    }
  }
  if (opts.signal?.aborted) return failed(EXIT_CANNOT_EXECUTE, 'aborted before start', words, started, { aborted: true, code: null });

  const argv = res.kind === 'exec' ? [res.file, ...words.slice(1)] : ['/bin/sh', '-c', shellCommandLine(words)];
  const own = ownIds();
  const spawnOpts: SpawnOptions = { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env, windowsHide: true };
  if (opts.cwd !== undefined) spawnOpts.cwd = opts.cwd;
  if (ids.uid !== own.uid || ids.gid !== own.gid) {
    spawnOpts.uid = ids.uid;
    spawnOpts.gid = ids.gid;
  }
  return spawnAndWait(argv, res.kind, spawnOpts, ids, opts, logger, started);
}

function spawnAndWait(
  argv: string[],
  mode: 'exec' | 'shell',
  spawnOpts: SpawnOptions,
  ids: Ids,
  opts: RunOptions,
  logger: Logger,
  started: number,
): Promise<ScriptResult> {
  const [file, ...args] = argv as [string, ...string[]];
  const graceMs = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;

  return new Promise<ScriptResult>((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, spawnOpts);
    } catch (e) {
      resolve(failed(EXIT_CANNOT_EXECUTE, `spawn ${file}: ${(e as Error).message}`, argv, started, ids));
      return;
    }
    const pid = child.pid;
    const out = new BoundedText(max);
    const err = new BoundedText(max);
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));

    let settled = false;
    let term: 'none' | 'term' | 'kill' = 'none';
    let timedOut = false;
    let aborted = false;
    let timeoutTimer: ReturnType<typeof setTimeout> | undefined;
    let killTimer: ReturnType<typeof setTimeout> | undefined;

    const cleanup = (): void => {
      if (timeoutTimer) clearTimeout(timeoutTimer);
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
    };

    const terminate = (why: 'timeout' | 'abort'): void => {
      if (pid === undefined || term !== 'none') return;
      term = 'term';
      logger.warn({ script: argv[0], pid, why }, `script ${why === 'timeout' ? 'timed out' : 'aborted'}; sending SIGTERM to its process group`);
      killGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => {
        term = 'kill';
        logger.warn({ script: argv[0], pid }, 'script did not exit after SIGTERM; sending SIGKILL to its process group');
        killGroup(pid, 'SIGKILL');
      }, graceMs);
    };

    function onAbort(): void {
      aborted = true;
      terminate('abort');
    }

    if (pid === undefined) {
      // Spawn failed ('error' follows, no 'exit').
      child.once('error', (e: NodeJS.ErrnoException) => {
        cleanup();
        const code = e.code === 'ENOENT' ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE;
        resolve(failed(code, `spawn ${file}: ${e.message}`, argv, started, { ...ids, mode }));
      });
      return;
    }

    liveGroups.add(pid);
    installExitHook();
    child.on('error', (e) => logger.debug({ script: argv[0], pid, err: e.message }, 'script child error'));
    opts.onSpawn?.(pid);

    if (Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0) {
      timeoutTimer = setTimeout(() => {
        timedOut = true;
        terminate('timeout');
      }, opts.timeoutMs);
    }
    if (opts.signal) {
      if (opts.signal.aborted) onAbort();
      else opts.signal.addEventListener('abort', onAbort, { once: true });
    }

    child.once('exit', (code, signal) => {
      cleanup();
      liveGroups.delete(pid);
      // keepalived: after a script we terminated has gone, SIGKILL the group so children die too.
      if (term !== 'none') killGroup(pid, 'SIGKILL');
      const durationMs = performance.now() - started;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        child.stdout?.destroy();
        child.stderr?.destroy();
        resolve({
          code,
          signal,
          timedOut,
          aborted,
          durationMs,
          mode,
          argv,
          pid,
          uid: ids.uid,
          gid: ids.gid,
          stdout: out.toString(),
          stderr: err.toString(),
        });
      };
      // Background children may hold stdout open; do not wait for them.
      const t = setTimeout(finish, 50);
      child.once('close', () => {
        clearTimeout(t);
        finish();
      });
    });
  });
}

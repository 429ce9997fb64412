// BIRD 2 as vipkeeper's BGP engine: a `bird` process of its own (its own config, control socket
// and PID file in bgp.bird.runtime_dir), never the operator's bird.service.
//
// Fate sharing: bird is started through `setpriv --pdeathsig KILL`, so the kernel kills it the
// moment vipkeeper's process ends, whatever ends it (SIGKILL, a crash, the OOM killer). Its TCP
// sessions close with it and the routers drop this director's routes on the spot; graceful
// restart is off (render.ts), so no router keeps them as stale. A hung vipkeeper is covered by
// the watchdog thread (src/bgp/watchdog.ts), which kills bird by the PID it reads here.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { bgpPeerName } from '../../config/bgp.js';
import type { Bgp } from '../../config/schema.js';
import type { BgpEngine, EngineExit, PeerState } from '../engine.js';
import type { Announcement } from '../policy.js';
import { birdCommand, birdConfigure, parseProtocols } from './control.js';
import { birdPaths, peerProtocol, renderBirdConfig, renderVipsInclude, type BirdPaths } from './render.js';

/** pino's argument order; the director passes its child logger. */
export interface EngineLog {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export interface BirdEngineOptions {
  log: EngineLog;
  /** How long a control command may take; default 5 s. */
  controlTimeoutMs?: number;
  /** How long bird may take to answer after it is started; default 10 s. */
  startTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class BirdEngine implements BgpEngine {
  readonly name = 'bird';
  private child: ChildProcess | undefined;
  private paths: BirdPaths | undefined;
  private written = { main: '', include: '' };
  private readonly exitListeners: ((e: EngineExit) => void)[] = [];
  private stopping = false;
  private readonly stderrTail: string[] = [];

  constructor(private readonly opts: BirdEngineOptions) {}

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  get commandTag(): string {
    return this.paths?.config ?? '';
  }

  onExit(listener: (e: EngineExit) => void): void {
    this.exitListeners.push(listener);
  }

  needsRestart(from: Bgp, to: Bgp): boolean {
    return from.bird.binary !== to.bird.binary || from.bird.runtime_dir !== to.bird.runtime_dir;
  }

  async start(bgp: Bgp, announcements: readonly Announcement[]): Promise<void> {
    if (this.pid !== undefined) throw new Error('bird is already running');
    this.stopping = false;
    const paths = birdPaths(bgp.bird.runtime_dir);
    this.paths = paths;
    prepareDir(paths.dir);
    await this.clearLeftover(paths);
    this.written = { main: '', include: '' };
    this.writeFiles(bgp, announcements);
    if (this.stopping) throw new Error('stopped while starting');

    const pidFile = `${paths.dir}/bird.pid`;
    // -f: stay in the foreground, as our child; setpriv: die with us (see the top of this file).
    const argv = ['--pdeathsig', 'KILL', '--', bgp.bird.binary, '-f', '-c', paths.config, '-s', paths.socket, '-P', pidFile];
    const child = spawn('setpriv', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.stderrTail.length = 0;
    let partial = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) this.logBirdLine(l);
    });
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopping) return;
      for (const l of this.exitListeners) l({ code, signal });
    });

    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 10_000);
    for (;;) {
      const failed = await Promise.race([spawnError, sleep(50).then(() => undefined)]);
      if (failed) {
        this.child = undefined;
        const e = failed as NodeJS.ErrnoException;
        throw new Error(e.code === 'ENOENT' ? 'setpriv (util-linux) is not installed; vipkeeper starts bird through it so that bird dies with vipkeeper' : `cannot start bird: ${e.message}`);
      }
      if (child.exitCode !== null || child.signalCode !== null) {
        const why = this.stderrTail.slice(-3).join(' / ') || `exit ${child.exitCode ?? child.signalCode}`;
        throw new Error(
          child.exitCode === 127 || /No such file|cannot execute|failed to execute/i.test(why)
            ? `cannot run '${bgp.bird.binary}' (bird.binary): is BIRD 2 installed? (${why})`
            : `bird exited at start: ${why}`,
        );
      }
      try {
        await birdCommand(paths.socket, 'show status', 1000);
        break;
      } catch {
        if (Date.now() > deadline) {
          await this.stop();
          throw new Error(`bird did not answer on ${paths.socket} within ${this.opts.startTimeoutMs ?? 10_000} ms`);
        }
      }
    }
    this.opts.log.info({ pid: child.pid, socket: paths.socket }, 'bgp: bird started');
  }

  async apply(bgp: Bgp, announcements: readonly Announcement[]): Promise<void> {
    const paths = this.paths;
    if (!paths || this.pid === undefined) throw new Error('bird is not running');
    if (!this.writeFiles(bgp, announcements)) return;
    await birdConfigure(paths.socket, this.opts.controlTimeoutMs);
  }

  async peers(bgp: Bgp): Promise<PeerState[]> {
    const paths = this.paths;
    if (!paths || this.pid === undefined) throw new Error('bird is not running');
    const rows = parseProtocols(await birdCommand(paths.socket, 'show protocols', this.opts.controlTimeoutMs));
    return bgp.peers.map((p, i) => {
      const name = bgpPeerName(p, i);
      const row = rows.find((r) => r.name === peerProtocol(name));
      if (!row) return { name, address: p.address, as: p.as, state: 'down', established: false, info: 'no session in bird (yet)' };
      // up/start: the info begins with the BGP state (Established, Active, ...); down: it is the error
      const running = row.state === 'up' || row.state === 'start';
      const [fsm = row.state, ...rest] = running ? row.info.split(/\s+/) : [row.state, row.info];
      const info = rest.join(' ').trim();
      return {
        name,
        address: p.address,
        as: p.as,
        state: fsm,
        established: row.state === 'up' && fsm === 'Established',
        ...(row.since ? { since: new Date(row.since * 1000).toISOString() } : {}),
        ...(info ? { info } : {}),
      };
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    // SIGTERM: bird closes its sessions with a Cease notification; the routers withdraw at once.
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
    this.child = undefined;
  }

  /** Writes the files that changed (0600, atomically); false when both were already current. */
  private writeFiles(bgp: Bgp, announcements: readonly Announcement[]): boolean {
    const paths = this.paths as BirdPaths;
    const main = renderBirdConfig(bgp, paths);
    const include = renderVipsInclude(announcements);
    if (main === this.written.main && include === this.written.include) return false;
    if (include !== this.written.include) writePrivate(paths.include, include);
    if (main !== this.written.main) writePrivate(paths.config, main);
    this.written = { main, include };
    return true;
  }

  /**
   * A control socket that answers belongs to a bird still running: ours from an earlier vipkeeper
   * (its PID file names a bird with our config, which we stop), or someone else's (we refuse).
   */
  private async clearLeftover(paths: BirdPaths): Promise<void> {
    if (!existsSync(paths.socket)) return;
    try {
      await birdCommand(paths.socket, 'show status', 1000);
    } catch {
      unlinkSync(paths.socket); // left by a bird that is gone
      return;
    }
    const pid = readPid(`${paths.dir}/bird.pid`);
    const cmd = pid ? readCmdline(pid) : '';
    if (!pid || !cmd.includes(paths.config)) {
      throw new Error(`the control socket ${paths.socket} is in use by a bird vipkeeper did not start; stop it or set bgp.bird.runtime_dir elsewhere`);
    }
    this.opts.log.warn({ pid }, 'bgp: a bird left by an earlier vipkeeper still runs; stopping it');
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && readCmdline(pid).includes(paths.config); i++) await sleep(50);
    if (readCmdline(pid).includes(paths.config)) process.kill(pid, 'SIGKILL');
  }

  private logBirdLine(line: string): void {
    if (!line.trim()) return;
    this.stderrTail.push(line);
    if (this.stderrTail.length > 20) this.stderrTail.shift();
    // "2026-12-07 19:15:03.407 <INFO> Started"
    const m = /<([A-Z]+)>\s*(.*)$/.exec(line);
    const level = m?.[1] ?? 'ERR';
    const msg = `bird: ${m?.[2] ?? line}`;
    if (level === 'INFO' || level === 'TRACE' || level === 'DBG') this.opts.log.debug({}, msg);
    else if (level === 'WARN' || level === 'RMT' || level === 'AUTH') this.opts.log.warn({}, msg);
    else this.opts.log.error({}, msg);
  }
}

/** The runtime dir: made 0700 when missing; an existing one is used only if nobody else can write to it. */
function prepareDir(dir: string): void {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return;
  }
  const st = statSync(dir);
  if (!st.isDirectory()) throw new Error(`bgp.bird.runtime_dir ${dir} is not a directory`);
  if ((st.mode & 0o022) !== 0) {
    throw new Error(`bgp.bird.runtime_dir ${dir} is writable by others (mode ${(st.mode & 0o777).toString(8)}): someone could replace the engine's files or socket; use a directory of its own (vipkeeper makes it 0700 when it does not exist)`);
  }
}

/** Writes a file readable by its owner only, replacing the old one in one step. */
function writePrivate(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600); // an existing tmp keeps its old mode otherwise
  renameSync(tmp, file);
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

// Shared plumbing for the benchmarks in bench/failover, bench/checks and bench/jitter (not a test).
//
// - BenchLab: network namespaces named `vkb-<our pid>-<name>`, a bridge, veths, and child processes
//   started inside them. cleanup() kills the PIDs we started (and anything left inside OUR
//   namespaces, which can only be descendants of them), then deletes the namespaces. It runs on
//   normal exit, on SIGINT/SIGTERM/SIGHUP, on an uncaught error, and the first BenchLab of a run
//   sweeps `vkb-<pid>-*` namespaces whose owner process no longer exists (a SIGKILLed earlier run).
// - Only 10.0.0.0/8 addresses are configured, only inside namespaces created here.
// - realNow(): wall-clock milliseconds with sub-millisecond resolution (same clock as tshark's
//   frame.time_epoch and `ip -ts monitor`), re-anchored to Date.now() on every call to calibrate().
// - vipkeeperCommand(): how to run `vipkeeper run` (a private compiled snapshot of src/ by default).
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ShResult {
  stdout: string;
  stderr: string;
}

/** Run a command (no shell); rejects on a non-zero exit or after `timeoutMs`. */
export function sh(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<ShResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`.trim()));
      else resolve({ stdout, stderr });
    });
  });
}

// ------------------------------------------------------------------------------------------------
// time

let anchorWall = Date.now();
let anchorPerf = performance.now();

/** Re-anchor realNow() to the wall clock: spin (at most ~2 ms) until Date.now() ticks, then pair. */
export function calibrate(): void {
  const start = Date.now();
  const limit = performance.now() + 3;
  let w = Date.now();
  while (w === start && performance.now() < limit) w = Date.now();
  anchorPerf = performance.now();
  anchorWall = w;
}

/** Wall-clock ms (epoch), sub-ms resolution; accurate to ~0.1 ms right after calibrate(). */
export function realNow(): number {
  return anchorWall + (performance.now() - anchorPerf);
}

/** `[2026-11-22T04:32:53.336103]` (ip -ts, local time) → epoch ms. */
export function parseIpTs(line: string): number | undefined {
  const m = /^\[(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d+)\]/.exec(line);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac] = m as unknown as string[];
  const base = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)).getTime();
  return base + Number(`0.${frac}`) * 1000;
}

// ------------------------------------------------------------------------------------------------
// statistics

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i]!;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

/** "min / median / max" of the finite values, or n/a. */
export function mmm(xs: readonly (number | undefined)[], digits = 0): string {
  const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (v.length === 0) return 'n/a';
  return `${fmt(Math.min(...v), digits)} / **${fmt(median(v), digits)}** / ${fmt(Math.max(...v), digits)}`;
}

export function finite(xs: readonly (number | undefined)[]): number[] {
  return xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
}

// ------------------------------------------------------------------------------------------------
// processes

export class Proc {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #running = true;
  constructor(
    readonly label: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('error', () => {
        this.#running = false;
        resolve({ code: -1, signal: null });
      });
      child.once('exit', (code, signal) => {
        this.#running = false;
        resolve({ code, signal });
      });
    });
  }
  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.label}: spawn failed (see ${this.logFile})`);
    return this.child.pid;
  }
  get running(): boolean {
    return this.#running;
  }
  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
  signal(sig: NodeJS.Signals): void {
    if (this.#running && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, sig);
      } catch {
        /* gone */
      }
    }
  }
  /** Wait for exit at most `ms`; true if it exited. */
  async waitExit(ms: number): Promise<boolean> {
    if (!this.#running) return true;
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.exited.then(() => true), new Promise<boolean>((res) => (t = setTimeout(() => res(false), ms)))]);
    clearTimeout(t);
    return r;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------------------------------------
// namespaces

const NS_PREFIX = 'vkb';
const liveLabs = new Set<BenchLab>();
let hooksInstalled = false;
let swept = false;

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', () => {
    for (const lab of liveLabs) lab.cleanupSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n[bench] ${sig}: cleaning up\n`);
      for (const lab of liveLabs) lab.cleanupSync();
      process.exit(130);
    });
  }
}

/** Delete `vkb-<pid>-*` namespaces of bench processes that no longer exist (after a SIGKILL). */
function sweepStale(): void {
  if (swept) return;
  swept = true;
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const line of (r.stdout ?? '').split('\n')) {
    const m = new RegExp(`^(${NS_PREFIX}-(\\d+)-\\S+)`).exec(line);
    if (!m || Number(m[2]) === process.pid) continue;
    if (pidAlive(Number(m[2]))) continue;
    const pids = spawnSync('ip', ['netns', 'pids', m[1]!], { encoding: 'utf8' }).stdout?.split(/\s+/).filter(Boolean) ?? [];
    for (const p of pids) spawnSync('kill', ['-9', p]);
    spawnSync('ip', ['netns', 'del', m[1]!]);
    process.stderr.write(`[bench] removed stale namespace ${m[1]} (owner ${m[2]} is gone)\n`);
  }
}

export interface LanNode {
  name: string;
  ns: string;
  ip: string;
  mac: string;
  /** The veth peer of the node's eth0, a port of the bridge in the bridge's namespace. */
  port: string;
}

export class BenchLab {
  readonly namespaces: string[] = [];
  readonly procs = new Set<Proc>();
  readonly dir: string;
  #ports = 0;

  constructor(readonly tag: string) {
    installHooks();
    sweepStale();
    this.dir = mkdtempSync(path.join(tmpdir(), `vkb-${tag}-`));
    liveLabs.add(this);
  }

  nsName(name: string): string {
    return `${NS_PREFIX}-${process.pid}-${name}`;
  }

  async addNamespace(name: string): Promise<string> {
    const ns = this.nsName(name);
    await sh('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  #own(ns: string): void {
    if (!this.namespaces.includes(ns)) throw new Error(`bench lab: ${ns} is not ours`);
  }

  /** A bridge (IGMP snooping off, so VRRP multicast floods; no STP, no forward delay) in `ns`. */
  async addBridge(ns: string, name = 'br0'): Promise<void> {
    this.#own(ns);
    await sh('ip', ['-n', ns, 'link', 'add', name, 'type', 'bridge']);
    await sh('ip', ['-n', ns, 'link', 'set', name, 'type', 'bridge', 'mcast_snooping', '0', 'stp_state', '0', 'forward_delay', '0']);
    await sh('ip', ['-n', ns, 'link', 'set', name, 'up']);
  }

  /** A namespace with eth0 on the bridge, address `ip/24` (10/8 only) and a fixed MAC. */
  async addNode(bridgeNs: string, name: string, ip: string, mac: string): Promise<LanNode> {
    if (!/^10\.\d+\.\d+\.\d+$/.test(ip)) throw new Error(`bench lab: refusing address ${ip}`);
    const ns = await this.addNamespace(name);
    const port = `vkbp${++this.#ports}`;
    await sh('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', bridgeNs]);
    await sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'address', mac]);
    await sh('ip', ['-n', bridgeNs, 'link', 'set', port, 'master', 'br0']);
    await sh('ip', ['-n', bridgeNs, 'link', 'set', port, 'up']);
    await sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    await sh('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    return { name, ns, ip, mac, port };
  }

  /** Start `argv` inside `ns` (`ip netns exec` execs it, so the PID is the program's), output to a log file. */
  spawn(ns: string, argv: readonly string[], label: string, opts: { env?: NodeJS.ProcessEnv; logFile?: string } = {}): Proc {
    this.#own(ns);
    const logFile = opts.logFile ?? path.join(this.dir, `${label.replace(/[^\w.-]+/g, '_')}-${Date.now()}.log`);
    const fd = openSync(logFile, 'a');
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { cwd: REPO_ROOT, env: opts.env ?? process.env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const p = new Proc(label, child, logFile);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** Like spawn, but stdout is piped to `onLine` (stderr to the log file). */
  spawnLines(ns: string, argv: readonly string[], label: string, onLine: (line: string) => void): Proc {
    this.#own(ns);
    const logFile = path.join(this.dir, `${label.replace(/[^\w.-]+/g, '_')}-${Date.now()}.err`);
    const fd = openSync(logFile, 'a');
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', fd] });
    closeSync(fd);
    let partial = '';
    child.stdout!.on('data', (b: Buffer) => {
      partial += b.toString('utf8');
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const l of parts) onLine(l);
    });
    const p = new Proc(label, child, logFile);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** PIDs currently inside one of our namespaces. */
  pidsIn(ns: string): number[] {
    this.#own(ns);
    const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
    return (r.stdout ?? '').split(/\s+/).filter(Boolean).map(Number);
  }

  exec(ns: string, argv: readonly string[], timeoutMs = 10_000): Promise<ShResult> {
    this.#own(ns);
    return sh('ip', ['netns', 'exec', ns, ...argv], timeoutMs);
  }

  /** Kill our processes, delete our namespaces and the scratch dir. Synchronous, never throws. */
  cleanupSync(keepDir = false): void {
    for (const p of this.procs) {
      if (p.running && p.child.pid !== undefined) {
        try {
          process.kill(p.child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (const ns of this.namespaces) {
      for (const pid of this.pidsIn(ns)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (const ns of this.namespaces.splice(0)) spawnSync('ip', ['netns', 'del', ns]);
    if (!keepDir) rmSync(this.dir, { recursive: true, force: true });
    liveLabs.delete(this);
  }

  /** Graceful variant: SIGTERM what is still running, wait a little, then cleanupSync(). */
  async cleanup(keepDir = false): Promise<void> {
    for (const p of this.procs) p.signal('SIGTERM');
    await Promise.all([...this.procs].map((p) => p.waitExit(3000)));
    this.cleanupSync(keepDir);
  }
}

// ------------------------------------------------------------------------------------------------
// ip helpers

export async function nsAddresses(ns: string, dev = 'eth0'): Promise<string[]> {
  const { stdout } = await sh('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', dev]);
  const links = JSON.parse(stdout) as Array<{ addr_info?: Array<{ local?: string }> }>;
  return links.flatMap((l) => l.addr_info ?? []).flatMap((a) => (a.local ? [a.local] : []));
}

export async function hasAddress(ns: string, ip: string, dev = 'eth0'): Promise<boolean> {
  return (await nsAddresses(ns, dev)).includes(ip);
}

export async function neighMac(ns: string, ip: string, dev = 'eth0'): Promise<string | undefined> {
  const { stdout } = await sh('ip', ['-n', ns, '-j', 'neigh', 'show', ip, 'dev', dev]);
  const entries = JSON.parse(stdout) as Array<{ dst?: string; lladdr?: string }>;
  return entries.find((e) => e.dst === ip && e.lladdr)?.lladdr;
}

/** Poll `cond` every `everyMs` until true or `timeoutMs`; returns realNow() when it held, or undefined. */
export async function pollUntil(cond: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 10): Promise<number | undefined> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (await cond()) return realNow();
    if (performance.now() > end) return undefined;
    await sleep(everyMs);
  }
}

// ------------------------------------------------------------------------------------------------
// tshark

export interface Packet {
  t: number; // epoch ms
  ethSrc: string;
  ipSrc: string;
  vrrpVersion?: number;
  prio?: number;
  arpOp?: number;
  arpSrcIp?: string;
  arpDstIp?: string;
  arpSrcMac?: string;
}

const TSHARK_FIELDS = ['frame.time_epoch', 'eth.src', 'ip.src', 'vrrp.version', 'vrrp.prio', 'arp.opcode', 'arp.src.proto_ipv4', 'arp.dst.proto_ipv4', 'arp.src.hw_mac'];

/** tshark on `dev` in `ns` (VRRP and ARP by default); packets accumulate in `packets`. Bounded by `maxSeconds`. */
export async function startCapture(lab: BenchLab, ns: string, maxSeconds: number, filter = 'ip proto 112 or arp', dev = 'eth0'): Promise<{ proc: Proc; packets: Packet[] }> {
  const packets: Packet[] = [];
  const argv = ['tshark', '-n', '-l', '-q', '-i', dev, '-f', filter, '-a', `duration:${Math.ceil(maxSeconds)}`, '-T', 'fields', '-E', 'separator=/t', ...TSHARK_FIELDS.flatMap((f) => ['-e', f])];
  const proc = lab.spawnLines(ns, argv, `tshark-${path.basename(ns)}`, (line) => {
    const f = line.split('\t');
    if (f.length < 3 || !f[0]) return;
    const num = (s: string | undefined) => (s ? Number(s.split(',')[0]) : undefined);
    packets.push({
      t: Number(f[0]) * 1000,
      ethSrc: f[1] ?? '',
      ipSrc: f[2] ?? '',
      vrrpVersion: num(f[3]),
      prio: num(f[4]),
      arpOp: num(f[5]),
      arpSrcIp: f[6] || undefined,
      arpDstIp: f[7] || undefined,
      arpSrcMac: f[8] || undefined,
    });
  });
  // "Capturing on 'eth0'" goes to stderr (the log file).
  const deadline = performance.now() + 20_000;
  while (!proc.log().includes('Capturing on')) {
    if (!proc.running) throw new Error(`tshark exited: ${proc.log()}`);
    if (performance.now() > deadline) throw new Error(`tshark did not start within 20 s: ${proc.log()}`);
    await sleep(50);
  }
  await sleep(200);
  return { proc, packets };
}

// ------------------------------------------------------------------------------------------------
// `ip -ts monitor` (address or neigh) with parsed timestamps

export interface MonitorLine {
  t: number;
  text: string;
}

export function startMonitor(lab: BenchLab, ns: string, what: 'address' | 'neigh', dev = 'eth0'): { proc: Proc; lines: MonitorLine[] } {
  const lines: MonitorLine[] = [];
  const proc = lab.spawnLines(ns, ['ip', '-ts', 'monitor', what, 'dev', dev], `mon-${what}-${path.basename(ns)}`, (l) => {
    const t = parseIpTs(l);
    if (t !== undefined) lines.push({ t, text: l });
  });
  return { proc, lines };
}

// ------------------------------------------------------------------------------------------------
// how to run vipkeeper

export type VkMode = 'snapshot' | 'tsx' | 'dist';

export interface VkCommand {
  mode: VkMode;
  /** argv prefix; append `run -f CONF ...`. */
  argv: string[];
  /** Directory with the compiled modules (check/health.js, …) or src/ for tsx. */
  modulesRoot: string;
  describe: string;
  cleanup: () => void;
}

function gitDescribe(): string {
  const head = spawnSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout?.trim() ?? '?';
  const dirty = (spawnSync('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).stdout ?? '').trim() !== '';
  return `git ${head}${dirty ? ' + uncommitted changes in src/' : ''}`;
}

/**
 * - snapshot (default): compile the working tree's src/ with tsc into a private temp dir (never
 *   touches dist/), so every sample of a run uses the same code even while others edit src/.
 * - dist: the repo's bin/vipkeeper.js (needs a current `npm run build`).
 * - tsx: `node --import tsx src/cli/bin.ts` (what the tests do).
 */
export async function vipkeeperCommand(mode: VkMode): Promise<VkCommand> {
  const node = process.execPath;
  if (mode === 'dist') {
    return { mode, argv: [node, path.join(REPO_ROOT, 'bin', 'vipkeeper.js')], modulesRoot: path.join(REPO_ROOT, 'dist'), describe: `dist/ (${gitDescribe()}, built ${new Date(readMtime(path.join(REPO_ROOT, 'dist', 'cli', 'bin.js'))).toISOString()})`, cleanup: () => {} };
  }
  if (mode === 'tsx') {
    return { mode, argv: [node, '--import', 'tsx', path.join(REPO_ROOT, 'src', 'cli', 'bin.ts')], modulesRoot: path.join(REPO_ROOT, 'src'), describe: `tsx from src/ (${gitDescribe()})`, cleanup: () => {} };
  }
  const root = mkdtempSync(path.join(tmpdir(), 'vkb-build-'));
  const when = new Date().toISOString();
  const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  process.stderr.write(`[bench] compiling a snapshot of src/ into ${root} …\n`);
  const r = spawnSync(node, [tsc, '-p', path.join(REPO_ROOT, 'tsconfig.json'), '--outDir', path.join(root, 'dist'), '--sourceMap', 'false'], { encoding: 'utf8', cwd: REPO_ROOT });
  if (!existsSync(path.join(root, 'dist', 'cli', 'bin.js'))) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`tsc did not produce dist/cli/bin.js:\n${r.stdout}${r.stderr}`);
  }
  if (r.status !== 0) process.stderr.write(`[bench] WARNING: tsc reported errors (emitted anyway):\n${(r.stdout + r.stderr).slice(0, 2000)}\n`);
  writeFileSync(path.join(root, 'package.json'), readFileSync(path.join(REPO_ROOT, 'package.json')));
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'));
  const addon = path.join(REPO_ROOT, 'native', 'build', 'Release', 'vipkeeper_native.node');
  if (existsSync(addon)) {
    mkdirSync(path.join(root, 'native', 'build', 'Release'), { recursive: true });
    cpSync(addon, path.join(root, 'native', 'build', 'Release', 'vipkeeper_native.node'));
  }
  return {
    mode,
    argv: [node, path.join(root, 'dist', 'cli', 'bin.js')],
    modulesRoot: path.join(root, 'dist'),
    describe: `private tsc snapshot of src/ at ${when} (${gitDescribe()})`,
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

function readMtime(p: string): number {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

export function keepalivedVersion(): string {
  const r = spawnSync('keepalived', ['-v'], { encoding: 'utf8' });
  if (r.error) throw new Error(`keepalived is not installed (apt-get install keepalived): ${r.error.message}`);
  return `${r.stdout}${r.stderr}`.split('\n')[0]?.trim() ?? 'keepalived';
}

export function requireRootAndTools(tools: string[]): void {
  if (process.getuid?.() !== 0) throw new Error('this benchmark needs root (network namespaces, raw sockets)');
  for (const t of tools) {
    const r = spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`this benchmark needs ${t} (apt-get install ${t === 'ip' ? 'iproute2' : t})`);
  }
}

export function machineLine(): string {
  const os = readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]+)"?/m)?.[1] ?? 'Linux';
  const kernel = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim();
  const cores = spawnSync('nproc', [], { encoding: 'utf8' }).stdout.trim();
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return `${os}, ${cores} cores, kernel ${kernel}, Node ${process.version}; load average at start ${load}`;
}

/** Parse `--name value` / `--name=value` / `--flag` arguments. */
export function parseArgs(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) out.set(a.slice(2), argv[++i]!);
    else out.set(a.slice(2), 'true');
  }
  return out;
}

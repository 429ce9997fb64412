// Benchmark-specific plumbing for bench/failover, bench/checks and bench/jitter (not a test). The
// namespaces, processes and waits are the lab's (lab/), shared with the tests and the demo.
//
// - BenchLab: the lab's NetnsLab with namespaces named `vkb-<our pid>-<name>`, a scratch dir, and
//   children whose output goes straight to a log file in it. Cleanup kills the PIDs we started
//   (and anything left inside OUR namespaces, which can only be descendants of them), then deletes
//   the namespaces; it runs on normal exit and on SIGINT/SIGTERM/SIGHUP too, and the first
//   BenchLab of a run sweeps `vkb-<pid>-*` namespaces whose owner no longer exists.
// - Only 10.0.0.0/8 addresses are configured, only inside namespaces created here.
// - realNow(): wall-clock milliseconds with sub-millisecond resolution (same clock as tshark's
//   frame.time_epoch and `ip -ts monitor`), re-anchored to Date.now() on every call to calibrate().
// - vipkeeperCommand(): how to run `vipkeeper run` (a private compiled snapshot of src/ by default).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { NetnsLab, onLabSignal } from '../../lab/netns.js';
import { ChildProc, REPO_ROOT, run } from '../../lab/process.js';
import { pollFor, sleep } from '../../lab/wait.js';

export { addresses as nsAddresses, hasAddress, neighMac, type LanNode } from '../../lab/netns.js';
export { pidAlive, REPO_ROOT } from '../../lab/process.js';
export { requireRootAndTools } from '../../lab/require.js';
export { sleep } from '../../lab/wait.js';

export type Proc = ChildProc;

export interface ShResult {
  stdout: string;
  stderr: string;
}

/** Run a command (no shell); rejects on a non-zero exit or after `timeoutMs`. */
export const sh = run;

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
// the lab

export class BenchLab extends NetnsLab {
  constructor(readonly tag: string) {
    super({ prefix: 'vkb', scratch: true, killStale: true });
    onLabSignal((sig) => process.stderr.write(`\n[bench] ${sig}: cleaning up\n`));
  }

  /** Start `argv` inside `ns`; its output goes straight to a log file (`proc.log()`). */
  override spawn(ns: string, argv: readonly string[], label: string, opts: { env?: NodeJS.ProcessEnv; logFile?: string } = {}): Proc {
    const logFile = opts.logFile ?? path.join(this.dir, `${label.replace(/[^\w.-]+/g, '_')}-${Date.now()}.log`);
    return super.spawn(ns, argv, label, { env: opts.env ?? process.env, logFile, output: 'file' });
  }

  /** Like spawn, but stdout lines go to `onLine` too. */
  spawnLines(ns: string, argv: readonly string[], label: string, onLine: (line: string) => void): Proc {
    const logFile = path.join(this.dir, `${label.replace(/[^\w.-]+/g, '_')}-${Date.now()}.err`);
    return super.spawn(ns, argv, label, { logFile, onStdoutLine: onLine, maxLines: 1000 });
  }
}

// ------------------------------------------------------------------------------------------------
// ip helpers

/** Poll `cond` every `everyMs` until true or `timeoutMs`; returns realNow() when it held, or undefined. */
export async function pollUntil(cond: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 10): Promise<number | undefined> {
  return (await pollFor(cond, timeoutMs, everyMs)) === undefined ? undefined : realNow();
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

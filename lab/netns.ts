/**
 * Network-namespace lab, shared by the integration tests, the demo and the benchmarks.
 *
 * - Namespaces are named `<prefix>-<our pid>-<name>` (tests `vkt`, benchmarks `vkb`, the demo
 *   `vkdemo`) and are ALWAYS deleted: call `cleanup()` (or `cleanupSync()`) in a finally block;
 *   the 'exit' hook and the SIGINT/SIGTERM/SIGHUP hooks delete whatever is left, and the first
 *   namespace of a run deletes `<prefix>-<pid>-*` namespaces of runs whose process no longer
 *   exists (a SIGKILLed earlier run).
 * - Only 10.0.0.0/8 and fd00::/8 addresses may be configured, and only on interfaces inside
 *   namespaces this lab created. Nothing touches the host's own interfaces.
 * - A Node process cannot switch namespaces, so code under test runs in a child started with
 *   `ip netns exec NS ...`, which execs the program: the child's PID is the program's, and that
 *   PID is the only one ever signalled.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { ChildProc, killChildrenSync, REPO_ROOT, run, type ChildProcOptions, type RunResult } from './process.js';
import { waitUntil } from './wait.js';

const liveLabs = new Set<NetnsLab>();
let hooksInstalled = false;
let onSignal: ((sig: NodeJS.Signals) => void) | undefined;

/** Synchronous last resort: kill every child we started and delete every namespace of every lab. */
export function cleanupAllSync(): void {
  killChildrenSync();
  for (const lab of liveLabs) lab.cleanupSync();
}

/**
 * On SIGINT/SIGTERM/SIGHUP the labs are cleaned up and the signal is re-raised (its default action
 * ends the process). A program that calls this (the demo, the benchmarks) instead has `announce`
 * called first, and exits 130 after the cleanup.
 */
export function onLabSignal(announce: (sig: NodeJS.Signals) => void): void {
  onSignal = announce;
  installHooks();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', cleanupAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      onSignal?.(sig);
      cleanupAllSync();
      if (onSignal) process.exit(130);
      process.kill(process.pid, sig); // this listener is gone now: default action
    });
  }
}

const swept = new Set<string>();

/** Delete `<prefix>-<pid>-*` namespaces left by runs whose process no longer exists. */
function sweepStale(prefix: string, killInside: boolean): void {
  if (swept.has(prefix)) return;
  swept.add(prefix);
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const line of (r.stdout ?? '').split('\n')) {
    const m = new RegExp(`^(${prefix}-(\\d+)-\\S+)`).exec(line);
    if (!m || Number(m[2]) === process.pid) continue;
    try {
      process.kill(Number(m[2]), 0);
      continue; // its owner still runs
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    if (killInside) {
      // Inside a namespace named after a dead run of ours there can only be what that run started.
      for (const p of nsPids(m[1]!)) spawnSync('kill', ['-9', String(p)]);
    }
    spawnSync('ip', ['netns', 'del', m[1]!], { stdio: 'ignore' });
  }
}

function nsPids(ns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  return (r.stdout ?? '').split(/\s+/).filter(Boolean).map(Number);
}

/** Throws unless `cidr` is in 10.0.0.0/8 or fd00::/8. */
export function checkLabAddress(cidr: string): void {
  const addr = cidr.split('/')[0]!.toLowerCase();
  const ok4 = /^10\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(addr);
  const ok6 = /^fd[0-9a-f]{0,2}:/.test(addr);
  if (!ok4 && !ok6) throw new Error(`netns lab: refusing address ${cidr}; only 10.0.0.0/8 and fd00::/8 are allowed`);
}

export interface LabOptions {
  /** Namespace name prefix (default `vkt`). */
  prefix?: string;
  /** Create a scratch directory (`dir`), removed by cleanup unless kept. */
  scratch?: boolean;
  /** The stale sweep also SIGKILLs processes left inside a dead run's namespaces (benchmarks). */
  killStale?: boolean;
}

export interface LanNode {
  name: string;
  ns: string;
  ip: string;
  mac: string;
  /** The veth peer of the node's eth0: a port of the bridge, in the bridge's namespace. */
  port: string;
}

export interface Capture {
  proc: ChildProc;
  /** Resolves with one array of field values per captured packet. */
  done: Promise<string[][]>;
}

export class NetnsLab {
  readonly namespaces: string[] = [];
  readonly procs = new Set<ChildProc>();
  readonly prefix: string;
  /** Scratch directory ('' unless `scratch` was asked for). */
  readonly dir: string;
  readonly #killStale: boolean;
  #counter = 0;
  #ports = 0;

  constructor(opts: LabOptions = {}) {
    this.prefix = opts.prefix ?? 'vkt';
    this.#killStale = opts.killStale ?? false;
    this.dir = opts.scratch ? mkdtempSync(path.join(tmpdir(), `${this.prefix}-`)) : '';
    installHooks();
    liveLabs.add(this);
  }

  /** The full name of namespace `name`. */
  nsName(name: string): string {
    return `${this.prefix}-${process.pid}-${name}`;
  }

  /** Create a namespace (named `name`, or numbered) with lo up and IPv6 DAD off. */
  async addNamespace(name?: string): Promise<string> {
    sweepStale(this.prefix, this.#killStale);
    liveLabs.add(this);
    const ns = this.nsName(name ?? String(++this.#counter));
    await run('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await this.exec(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    return ns;
  }

  #own(ns: string): void {
    if (!this.namespaces.includes(ns)) throw new Error(`netns lab: ${ns} was not created by this lab`);
  }

  /** A veth pair: `ifA` in `nsA`, `ifB` in `nsB`, both up. */
  async addVeth(nsA: string, ifA: string, nsB: string, ifB: string): Promise<void> {
    this.#own(nsA);
    this.#own(nsB);
    await run('ip', ['-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    await run('ip', ['-n', nsA, 'link', 'set', ifA, 'up']);
    await run('ip', ['-n', nsB, 'link', 'set', ifB, 'up']);
  }

  /** A bridge `name` inside `ns`, up; IGMP snooping off (VRRP multicast floods), no STP, no forward delay. */
  async addBridge(ns: string, name = 'br0'): Promise<void> {
    this.#own(ns);
    await run('ip', ['-n', ns, 'link', 'add', name, 'type', 'bridge']);
    await run('ip', ['-n', ns, 'link', 'set', name, 'type', 'bridge', 'mcast_snooping', '0', 'stp_state', '0', 'forward_delay', '0']);
    await run('ip', ['-n', ns, 'link', 'set', name, 'up']);
  }

  /** Attach `ns` to a bridge in `bridgeNs` through a veth named `ifname` in `ns`; returns the port's name. */
  async connectToBridge(bridgeNs: string, bridge: string, ns: string, ifname: string): Promise<string> {
    const port = `${this.prefix}p${++this.#ports}`;
    await this.addVeth(ns, ifname, bridgeNs, port);
    await run('ip', ['-n', bridgeNs, 'link', 'set', port, 'master', bridge]);
    return port;
  }

  /** A new namespace `name` with eth0 on the bridge `br0` of `bridgeNs`, MAC `mac`, address `ip/24`. */
  async addNode(bridgeNs: string, name: string | undefined, ip: string, mac: string): Promise<LanNode> {
    checkLabAddress(ip);
    const ns = await this.addNamespace(name);
    const port = await this.connectToBridge(bridgeNs, 'br0', ns, 'eth0');
    await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'address', mac]);
    await this.addAddress(ns, 'eth0', `${ip}/24`);
    return { name: name ?? ns, ns, ip, mac, port };
  }

  /** Add 10.x.y.z/n or fd..::/n (IPv6 with nodad) to an interface inside `ns`. */
  async addAddress(ns: string, ifname: string, cidr: string): Promise<void> {
    this.#own(ns);
    checkLabAddress(cidr);
    const v6 = cidr.includes(':');
    await run('ip', ['-n', ns, ...(v6 ? ['-6'] : []), 'addr', 'add', cidr, 'dev', ifname, ...(v6 ? ['nodad'] : [])]);
  }

  /** The interface's MAC address. */
  async mac(ns: string, ifname: string): Promise<string> {
    const { stdout } = await run('ip', ['-n', ns, '-j', 'link', 'show', 'dev', ifname]);
    const [link] = JSON.parse(stdout) as Array<{ address: string }>;
    return link!.address;
  }

  /** Wait until the interface has a usable (non-tentative) IPv6 link-local address; returns it. */
  async linkLocal(ns: string, ifname: string, timeoutMs = 10_000): Promise<string> {
    const { value } = await waitUntil(
      `an IPv6 link-local address on ${ns}/${ifname}`,
      async () => {
        const { stdout } = await run('ip', ['-n', ns, '-6', '-j', 'addr', 'show', 'dev', ifname, 'scope', 'link']);
        // `ip -j` lists filtered-out addresses as {} entries.
        const infos = (JSON.parse(stdout) as Array<{ addr_info?: Array<{ local?: string; tentative?: boolean }> }>)
          .flatMap((l) => l.addr_info ?? [])
          .filter((a) => a.local?.startsWith('fe80:') && !a.tentative);
        return infos[0]?.local;
      },
      { timeoutMs, everyMs: 50 },
    );
    return value;
  }

  /** Run a command inside `ns` and wait for it. */
  exec(ns: string, argv: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
    this.#own(ns);
    return run('ip', ['netns', 'exec', ns, ...argv], timeoutMs);
  }

  /** Start a long-running command inside `ns`; killed by cleanup(). */
  spawn(ns: string, argv: readonly string[], label = argv.join(' '), opts: NodeJS.ProcessEnv | ChildProcOptions = {}): ChildProc {
    this.#own(ns);
    const p = new ChildProc(`${ns}: ${label}`, ['ip', 'netns', 'exec', ns, ...argv], opts);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** Run a script (TS-capable via tsx) with one JSON argument inside `ns`. */
  spawnNode(ns: string, script: string, arg: unknown): ChildProc {
    return this.spawn(ns, [process.execPath, '--import', 'tsx', path.join(REPO_ROOT, script), JSON.stringify(arg)], `${path.basename(script)} ${JSON.stringify(arg)}`);
  }

  /** PIDs currently inside one of our namespaces. */
  pidsIn(ns: string): number[] {
    this.#own(ns);
    return nsPids(ns);
  }

  /**
   * Start tshark on `ifname` inside `ns`; resolves once it is capturing. `done` resolves with the
   * requested fields of up to `count` packets (fewer if `seconds` pass first).
   */
  async capture(ns: string, ifname: string, filter: string, fields: readonly string[], opts: { count?: number; seconds?: number } = {}): Promise<Capture> {
    const count = opts.count ?? 1;
    const seconds = opts.seconds ?? 10;
    const argv = ['tshark', '-n', '-l', '-i', ifname, '-f', filter, '-c', String(count), '-a', `duration:${seconds}`];
    argv.push('-T', 'fields', '-E', 'separator=/t', ...fields.flatMap((f) => ['-e', f]));
    const proc = this.spawn(ns, argv, `tshark ${filter}`);
    await proc.waitForLine(/Capturing on/, 15_000, 'stderr');
    const done = proc.exited.then(() => proc.stdoutLines.filter((l) => l.trim() !== '').map((l) => l.split('\t')));
    return { proc, done };
  }

  /** Kill our children (then anything left inside our namespaces) and delete the namespaces. Never throws early. */
  async cleanup(keepDir = false): Promise<void> {
    const errors: string[] = [];
    await Promise.all([...this.procs].map((p) => p.kill().catch((e: Error) => errors.push(e.message))));
    for (const ns of this.namespaces) for (const pid of nsPids(ns)) killQuietly(pid);
    for (const ns of [...this.namespaces]) {
      try {
        await run('ip', ['netns', 'del', ns]);
        this.namespaces.splice(this.namespaces.indexOf(ns), 1);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (this.dir && !keepDir) rmSync(this.dir, { recursive: true, force: true });
    if (this.namespaces.length === 0) liveLabs.delete(this);
    if (errors.length) throw new Error(`netns lab cleanup problems:\n${errors.join('\n')}`);
  }

  /** Graceful variant: SIGTERM what still runs, wait up to `graceMs`, then cleanup(). */
  async stopAndCleanup(graceMs = 3000, keepDir = false): Promise<void> {
    const procs = [...this.procs];
    for (const p of procs) p.signal('SIGTERM');
    await Promise.all(procs.map((p) => p.exitWithin(graceMs)));
    await this.cleanup(keepDir);
  }

  /** Synchronous cleanup for exit and signal hooks: SIGKILL, delete namespaces. Never throws. */
  cleanupSync(keepDir = false): void {
    for (const p of this.procs) if (p.running && p.child.pid !== undefined) killQuietly(p.child.pid);
    for (const ns of this.namespaces) for (const pid of nsPids(ns)) killQuietly(pid);
    for (const ns of this.namespaces.splice(0)) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    if (this.dir && !keepDir) rmSync(this.dir, { recursive: true, force: true });
    liveLabs.delete(this);
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

// ------------------------------------------------------------------------------------------------
// Reading a namespace's state

/** Addresses on `dev` in `ns`, from `ip -n NS -j addr show dev DEV`. */
export async function addresses(ns: string, dev = 'eth0'): Promise<string[]> {
  const { stdout } = await run('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', dev]);
  const links = JSON.parse(stdout) as Array<{ addr_info?: Array<{ local?: string }> }>;
  return links.flatMap((l) => l.addr_info ?? []).flatMap((a) => (a.local ? [a.local] : []));
}

export async function hasAddress(ns: string, ip: string, dev = 'eth0'): Promise<boolean> {
  return (await addresses(ns, dev)).includes(ip);
}

/** The MAC the neighbour table of `ns` has for `ip`, if any (`ip -n NS neigh`), lower case. */
export async function neighMac(ns: string, ip: string, dev = 'eth0'): Promise<string | undefined> {
  const { stdout } = await run('ip', ['-n', ns, '-j', 'neigh', 'show', ip, 'dev', dev]);
  const entries = JSON.parse(stdout) as Array<{ dst?: string; lladdr?: string }>;
  return entries.find((e) => e.dst === ip && e.lladdr)?.lladdr?.toLowerCase();
}

/**
 * Link up/down of named interfaces, from `ip [-n NETNS] -o monitor link`
 * (one line per RTM_NEWLINK / RTM_DELLINK) plus an initial `ip -j link show`.
 *
 * Up means: admin UP, no NO-CARRIER, and operstate UP or the LOWER_UP flag
 * (which covers `state UNKNOWN` devices such as lo, dummy or tun). A deleted
 * (or renamed away) interface, or one that does not exist, is down.
 *
 * The monitor is started before the initial read; lines that arrive during
 * the read are applied after it, in order, so the latest event wins.
 * `onChange(ifname, up)` is called once per watched interface with its initial
 * state when `ready` resolves, then on every change. `close()` kills only the
 * child this monitor started.
 *
 * The child is started through util-linux's `setpriv --pdeathsig KILL` where
 * it exists: a SIGKILLed daemon cannot close() it, and `ip monitor` would
 * otherwise live on until its next write hits the closed pipe.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

import { ipJson, type BatchRunner, type IpOptions } from './ip-batch.js';

export interface LinkEvent {
  index: number;
  ifname: string;
  deleted: boolean;
  up: boolean;
}

export interface LinkMonitor {
  /** Resolves after the initial read (and its onChange calls). */
  readonly ready: Promise<void>;
  /** Last known state; false for unknown or missing interfaces. */
  isUp(ifname: string): boolean;
  /** PID of the `ip monitor` child (for diagnostics). */
  readonly pid: number | undefined;
  close(): void;
}

/** What the monitor needs of a child process (a ChildProcess; faked in unit tests). */
export type MonitorChild = Pick<ChildProcess, 'stdout' | 'stderr' | 'once' | 'kill' | 'pid'>;

export interface LinkMonitorOptions {
  interfaces: readonly string[];
  onChange: (ifname: string, up: boolean) => void;
  /** The monitor child died, or the initial read failed. */
  onError?: (err: Error) => void;
  netns?: string;
  /** Runner for the initial `ip -j link show`. */
  run?: BatchRunner;
  /** Starts `ip ARGS` (default: child_process.spawn). */
  spawnIp?: (args: readonly string[]) => MonitorChild;
}

const OPERSTATE = /\bstate ([A-Z][A-Z_]*)\b/;

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** `ip ARGS`, killed by the kernel when the thread that started it dies (where setpriv exists). */
export function spawnIpDyingWithParent(args: readonly string[]): ChildProcess {
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  return SETPRIV === undefined ? spawn('ip', [...args], { stdio }) : spawn(SETPRIV, ['--pdeathsig', 'KILL', 'ip', ...args], { stdio });
}

/** Is a link with these flags and operstate up? */
export function linkIsUp(flags: readonly string[], operstate: string | undefined): boolean {
  if (!flags.includes('UP') || flags.includes('NO-CARRIER')) return false;
  return operstate === 'UP' || flags.includes('LOWER_UP');
}

/**
 * Parse one `ip -o monitor link` line, e.g.
 * `3: veth0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP ...` or
 * `Deleted 3: veth0@NONE: <...> ...`. Returns undefined for other lines,
 * including AF_BRIDGE port messages (`master br0 state forwarding`), whose
 * state is a bridge port state, not an operstate.
 */
export function parseLinkLine(line: string): LinkEvent | undefined {
  let rest = line.trim().replace(/^\[[^\]]*\]\s*/, ''); // optional [LINK] / timestamp prefix
  let deleted = false;
  if (rest.startsWith('Deleted ')) {
    deleted = true;
    rest = rest.slice('Deleted '.length);
  }
  const m = /^(\d+):\s+([^:\s]+):\s+<([^>]*)>(.*)$/.exec(rest);
  if (!m) return undefined;
  const state = OPERSTATE.exec(m[4]!)?.[1];
  if (state === undefined) return undefined;
  const ifname = m[2]!.replace(/@.*$/, '');
  const flags = m[3]!.split(',').filter(Boolean);
  return { index: Number(m[1]), ifname, deleted, up: !deleted && linkIsUp(flags, state) };
}

interface JsonLink {
  ifindex?: number;
  ifname?: string;
  flags?: string[];
  operstate?: string;
}

export function createLinkMonitor(opts: LinkMonitorOptions): LinkMonitor {
  const watched = new Set(opts.interfaces);
  const state = new Map<string, boolean>();
  const names = new Map<number, string>(); // ifindex → current name
  const onError = opts.onError ?? (() => {});
  const ns = opts.netns === undefined ? [] : ['-n', opts.netns];
  let buffered: string[] | undefined = [];
  let closed = false;
  let partial = '';

  function set(ifname: string, up: boolean, initial = false): void {
    if (!watched.has(ifname)) return;
    const before = state.get(ifname);
    state.set(ifname, up);
    if (initial || before !== up) opts.onChange(ifname, up);
  }

  function apply(ev: LinkEvent): void {
    const old = names.get(ev.index);
    if (ev.deleted) {
      names.delete(ev.index);
    } else {
      names.set(ev.index, ev.ifname);
      if (old !== undefined && old !== ev.ifname) set(old, false); // renamed away
    }
    set(ev.ifname, ev.up);
  }

  function onLine(line: string): void {
    if (closed) return;
    if (buffered) {
      buffered.push(line);
      return;
    }
    const ev = parseLinkLine(line);
    if (ev) apply(ev);
  }

  const spawnIp = opts.spawnIp ?? spawnIpDyingWithParent;
  const child = spawnIp([...ns, '-o', 'monitor', 'link']);
  let stderr = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const l of lines) onLine(l);
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000);
  });
  child.once('error', (err: Error) => {
    if (!closed) onError(new Error(`ip monitor link: ${err.message}`, { cause: err }));
  });
  child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
    if (!closed) {
      onError(new Error(`ip monitor link exited (code ${String(code)}, signal ${String(signal)}): ${stderr.trim()}`));
    }
  });

  const ipOpts: IpOptions = {};
  if (opts.netns !== undefined) ipOpts.netns = opts.netns;
  if (opts.run !== undefined) ipOpts.run = opts.run;

  const ready = (async () => {
    try {
      const links = await ipJson<JsonLink[]>(['link', 'show'], ipOpts);
      if (closed) return;
      for (const l of links) {
        if (l.ifname !== undefined && l.ifindex !== undefined) names.set(l.ifindex, l.ifname);
      }
      const byName = new Map(links.map((l) => [l.ifname, l]));
      for (const ifname of watched) {
        const l = byName.get(ifname);
        set(ifname, l !== undefined && linkIsUp(l.flags ?? [], l.operstate), true);
      }
    } catch (err) {
      onError(err as Error);
      for (const ifname of watched) if (!state.has(ifname)) set(ifname, false, true);
    } finally {
      const lines = buffered ?? [];
      buffered = undefined;
      for (const l of lines) onLine(l);
    }
  })();

  return {
    ready,
    isUp: (ifname) => state.get(ifname) ?? false,
    pid: child.pid,
    close() {
      if (closed) return;
      closed = true;
      child.kill('SIGTERM');
    },
  };
}

/**
 * Helpers for VRRP integration tests: a lab LAN (a bridge in its own namespace with one port per
 * node, like /work/shared/lab/netns-lab.sh), polling helpers with bounded waits, and `vipkeeper run`
 * as a child process inside a namespace (`ip netns exec NS node --import tsx src/cli/bin.ts run`).
 *
 * Every process is started through `NetnsLab.spawn`, so `lab.cleanup()` kills it (by its own PID)
 * and deletes the namespaces, also after a failure.
 */
import path from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { REPO_ROOT, run, type NetnsLab, type NsProcess } from './netns.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `cond` every `intervalMs` until it holds; throws after `timeoutMs` with `what`. */
export async function waitFor(what: string | (() => string), cond: () => Promise<boolean> | boolean, timeoutMs = 10_000, intervalMs = 10): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await cond()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(intervalMs);
  }
}

export interface LanNode {
  ns: string;
  ip: string;
  mac: string;
}

export interface Lan {
  bridgeNs: string;
  nodes: Record<string, LanNode>;
  /** A scratch directory for configs, pid files and logs; removed by `dispose()`. */
  dir: string;
  dispose(): void;
}

/**
 * One bridge (IGMP snooping off, so VRRP multicast floods) in its own namespace, and one namespace
 * per node with `eth0` on the bridge, `PREFIX.<host>/24`.
 */
export async function createLan(lab: NetnsLab, prefix: string, hosts: Record<string, number>): Promise<Lan> {
  const bridgeNs = await lab.addNamespace();
  await lab.addBridge(bridgeNs, 'br0');
  await run('ip', ['-n', bridgeNs, 'link', 'set', 'br0', 'type', 'bridge', 'mcast_snooping', '0', 'stp_state', '0', 'forward_delay', '0']);
  const nodes: Record<string, LanNode> = {};
  for (const [name, host] of Object.entries(hosts)) {
    const ns = await lab.addNamespace();
    await lab.connectToBridge(bridgeNs, 'br0', ns, 'eth0');
    const mac = `02:${prefix.split('.').map((x) => Number(x).toString(16).padStart(2, '0')).join(':')}:00:${host.toString(16).padStart(2, '0')}`;
    await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'address', mac]);
    const ip = `${prefix}.${host}`;
    await lab.addAddress(ns, 'eth0', `${ip}/24`);
    nodes[name] = { ns, ip, mac };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'vk-vrrp-'));
  return { bridgeNs, nodes, dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFile(dir: string, name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Addresses on `dev` in `ns`, from `ip -n NS -j addr show dev DEV`. */
export async function addresses(ns: string, dev = 'eth0'): Promise<string[]> {
  const { stdout } = await run('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', dev]);
  const links = JSON.parse(stdout) as Array<{ addr_info?: Array<{ local?: string }> }>;
  return links.flatMap((l) => l.addr_info ?? []).flatMap((a) => (a.local ? [a.local] : []));
}

export async function hasVip(ns: string, vip: string, dev = 'eth0'): Promise<boolean> {
  return (await addresses(ns, dev)).includes(vip);
}

/** The MAC the client's neighbour table has for `ip`, if any (`ip -n NS neigh`). */
export async function neighMac(ns: string, ip: string, dev = 'eth0'): Promise<string | undefined> {
  const { stdout } = await run('ip', ['-n', ns, '-j', 'neigh', 'show', ip, 'dev', dev]);
  const entries = JSON.parse(stdout) as Array<{ dst?: string; lladdr?: string; state?: string[] }>;
  return entries.find((e) => e.dst === ip && e.lladdr)?.lladdr;
}

/** Fill the client's neighbour entry for `vip` (a ping that may or may not be answered). */
export async function primeArp(lab: NetnsLab, clientNs: string, vip: string): Promise<void> {
  await lab.exec(clientNs, ['ping', '-c', '1', '-W', '1', '-q', vip]).catch(() => undefined);
}

// ------------------------------------------------------------------------------------------------
// vipkeeper as a child process

export interface VkTransition {
  instance: string;
  vrid: number;
  from: string;
  to: string;
  reason: string;
  time: string;
}

export class VipkeeperProc {
  constructor(
    readonly proc: NsProcess,
    readonly ns: string,
    /** The daemon's control socket. */
    readonly socket: string = '',
  ) {}

  get pid(): number {
    const p = this.proc.child.pid;
    if (p === undefined) throw new Error(`vipkeeper in ${this.ns} has no PID (spawn failed)\n${this.proc.describe()}`);
    return p;
  }

  /** JSON log lines printed so far. */
  logs(): Record<string, unknown>[] {
    return this.proc.stdoutLines.flatMap((l) => {
      if (!l.startsWith('{')) return [];
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  transitions(instance?: string): VkTransition[] {
    return this.logs()
      .filter((o) => typeof o.to === 'string' && typeof o.from === 'string' && typeof o.instance === 'string' && (instance === undefined || o.instance === instance))
      .map((o) => o as unknown as VkTransition);
  }

  state(instance: string): string | undefined {
    return this.transitions(instance).at(-1)?.to;
  }

  /** Wait until the instance's latest transition is to `state`. */
  async waitState(instance: string, state: string, timeoutMs = 10_000): Promise<number> {
    return waitFor(
      () => `vipkeeper ${this.ns} ${instance} to be ${state} (is ${this.state(instance) ?? 'nothing'})\n${this.proc.describe()}`,
      () => {
        if (!this.proc.running) throw new Error(`vipkeeper in ${this.ns} exited\n${this.proc.describe()}`);
        return this.state(instance) === state;
      },
      timeoutMs,
    );
  }

  /** Graceful stop: SIGTERM to our PID, then wait for exit (it must exit 0). */
  async terminate(timeoutMs = 10_000): Promise<void> {
    if (!this.proc.running) return;
    process.kill(this.pid, 'SIGTERM');
    await this.proc.waitExit(timeoutMs, true);
  }

  /** A crash: SIGSTOP (nothing more is sent), then SIGKILL. */
  async crash(): Promise<void> {
    if (!this.proc.running) return;
    process.kill(this.pid, 'SIGSTOP');
    process.kill(this.pid, 'SIGKILL');
    await this.proc.exited;
  }
}

export interface StartVipkeeperOptions {
  transport?: 'raw' | 'udp';
  logLevel?: string;
  /** Wait for "vipkeeper running" (default true). */
  waitRunning?: boolean;
  /** Control socket; default: one per namespace beside the config, so daemons never collide. */
  socket?: string;
}

/** `vipkeeper run -f CONF` in `ns` (via tsx from the source tree). */
export async function startVipkeeper(lab: NetnsLab, ns: string, conf: string, opts: StartVipkeeperOptions = {}): Promise<VipkeeperProc> {
  const argv = [
    process.execPath,
    '--import',
    'tsx',
    path.join(REPO_ROOT, 'src', 'cli', 'bin.ts'),
    'run',
    '-f',
    conf,
    '--config-id',
    'test',
    '--log-level',
    opts.logLevel ?? 'info',
    ...(opts.transport ? ['--transport', opts.transport] : []),
    '--socket',
    opts.socket ?? path.join(path.dirname(conf), `vipkeeper-${ns}.sock`),
  ];
  const proc = lab.spawn(ns, argv, `vipkeeper run ${path.basename(conf)}`);
  const vk = new VipkeeperProc(proc, ns, opts.socket ?? path.join(path.dirname(conf), `vipkeeper-${ns}.sock`));
  if (opts.waitRunning ?? true) await proc.waitForLine(/"msg":"vipkeeper running"/, 20_000);
  return vk;
}

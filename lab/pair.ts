/**
 * The pair of the namespace interop tests and drills: one lab LAN (d1 and d2, the two routers, and a
 * client, by default) and the vipkeeper and keepalived processes started on it, tracked so that
 * `stopAll()` (between tests) and `dispose()` (at the end, also after a failure) leave nothing running:
 * every process is stopped by its PID and every namespace and the scratch directory are deleted.
 *
 * test/helpers/pair.ts wires it into a vitest suite (`usePair`).
 */
import type { KeepalivedProc } from './keepalived.js';
import { startKeepalived } from './keepalived.js';
import { createLan, writeFile, type Lan } from './lan.js';
import { NetnsLab, type LanNode } from './netns.js';
import type { ChildProcOptions } from './process.js';
import { startVipkeeper, type StartVipkeeperOptions, type VipkeeperProc } from './vipkeeper.js';

export interface PairOptions {
  /** The LAN's /24 (`10.x.y`). */
  prefix: string;
  /** Node name → host number (default d1 .11, d2 .12, client .10). */
  hosts?: Record<string, number>;
}

export class LabPair {
  readonly lab = new NetnsLab();
  /** The vipkeeper and keepalived processes still to stop; a test that stops one itself takes it out (`forget`). */
  readonly vks: VipkeeperProc[] = [];
  readonly kas: KeepalivedProc[] = [];
  private lanValue: Lan | undefined;

  constructor(private readonly opts: PairOptions) {}

  async setup(): Promise<void> {
    this.lanValue = await createLan(this.lab, this.opts.prefix, this.opts.hosts ?? { d1: 11, d2: 12, client: 10 });
  }

  get lan(): Lan {
    if (!this.lanValue) throw new Error('the pair LAN does not exist: its setup failed or did not run');
    return this.lanValue;
  }

  node(name: string): LanNode {
    const n = this.lan.nodes[name];
    if (!n) throw new Error(`the pair has no node '${name}' (it has ${Object.keys(this.lan.nodes).join(', ')})`);
    return n;
  }

  /** Writes `text` to the scratch directory as `name`; returns its path. */
  file(name: string, text: string): string {
    return writeFile(this.lan.dir, name, text);
  }

  /** vipkeeper on `node` with the config at `confPath`, tracked from the start (even if it never gets running). */
  async vk(node: string, confPath: string, opts: StartVipkeeperOptions & { runningTimeoutMs?: number } = {}): Promise<VipkeeperProc> {
    const p = await startVipkeeper(this.lab, this.node(node).ns, confPath, { ...opts, waitRunning: false });
    this.vks.push(p);
    if (opts.waitRunning ?? true) await p.proc.waitForLine(/"msg":"vipkeeper running"/, opts.runningTimeoutMs ?? 20_000);
    return p;
  }

  /** keepalived (VRRP only) on `node` with the config at `confPath`, tracked. */
  ka(node: string, confPath: string, opts: ChildProcOptions = {}): KeepalivedProc {
    const k = startKeepalived(this.lab, this.node(node).ns, confPath, this.lan.dir, opts);
    this.kas.push(k);
    return k;
  }

  /** Stops tracking a process the test stopped itself. */
  forget(p: VipkeeperProc | KeepalivedProc): void {
    for (const list of [this.vks, this.kas] as (VipkeeperProc | KeepalivedProc)[][]) {
      const i = list.indexOf(p);
      if (i >= 0) list.splice(i, 1);
    }
  }

  /** What each tracked process did (its command, exit and output), for a failed test's report. */
  describe(): string[] {
    return [...this.vks, ...this.kas].map((p) => p.proc.describe());
  }

  /** Graceful stop of every tracked process (SIGTERM), SIGKILL for any that does not go. */
  async stopAll(): Promise<void> {
    for (const p of this.vks.splice(0)) await p.terminate().catch(() => p.proc.kill());
    for (const k of this.kas.splice(0)) await k.terminate().catch(() => k.kill());
  }

  /** Kills what is left, deletes the namespaces and the scratch directory; safe after a failed setup. */
  async dispose(): Promise<void> {
    try {
      for (const k of this.kas.splice(0)) await k.kill().catch(() => undefined);
      for (const p of this.vks.splice(0)) await p.proc.kill().catch(() => undefined);
    } finally {
      try {
        await this.lab.cleanup();
      } finally {
        this.lanValue?.dispose();
      }
    }
  }
}

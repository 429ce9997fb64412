/**
 * Debian's real keepalived inside a lab namespace, as the reference peer:
 *
 *   keepalived -n -l -D -G -P -f CONF -p PID -r VRRP_PID -c CHECKERS_PID
 *
 * (foreground, log to the console — captured here —, detailed, no syslog, VRRP only, pid files
 * unique to the run so several keepalived can run at once in different namespaces). The parent
 * PID is the child we spawned (`ip netns exec` execs keepalived); the VRRP child's PID comes from
 * its pid file. Only those two PIDs are ever signalled.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import type { NetnsLab } from './netns.js';
import { pidAlive, waitGone, type ChildProc, type ChildProcOptions } from './process.js';
import { waitFor } from './wait.js';

export { requireKeepalived } from './require.js';

export class KeepalivedProc {
  constructor(
    readonly proc: ChildProc,
    readonly ns: string,
    readonly vrrpPidFile: string,
  ) {}

  get pid(): number {
    const p = this.proc.child.pid;
    if (p === undefined) throw new Error(`keepalived in ${this.ns} has no PID\n${this.proc.describe()}`);
    return p;
  }

  /** The VRRP child's PID, once it wrote its pid file. */
  vrrpPid(): number | undefined {
    try {
      const n = Number(readFileSync(this.vrrpPidFile, 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }

  /** Its log lines so far (keepalived -l writes to one stream; which one does not matter here). */
  lines(): string[] {
    return this.proc.logFile ? this.proc.log().split('\n') : this.proc.outputLines;
  }

  /** keepalived's latest `(INSTANCE) Entering STATE STATE` line, as MASTER / BACKUP / FAULT. */
  state(instance: string): string | undefined {
    const re = new RegExp(`\\(${instance}\\) Entering (MASTER|BACKUP|FAULT) STATE`);
    let last: string | undefined;
    for (const l of this.lines()) {
      const m = re.exec(l);
      if (m) last = m[1];
    }
    return last;
  }

  async waitState(instance: string, state: 'MASTER' | 'BACKUP' | 'FAULT', timeoutMs = 15_000): Promise<number> {
    return waitFor(
      () => `keepalived ${this.ns} ${instance} to enter ${state} (is ${this.state(instance) ?? 'nothing'})\n${this.proc.describe()}`,
      () => {
        if (!this.proc.running) throw new Error(`keepalived in ${this.ns} exited\n${this.proc.describe()}`);
        return this.state(instance) === state;
      },
      timeoutMs,
    );
  }

  async waitLine(re: RegExp, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => `keepalived ${this.ns} to log ${re}\n${this.proc.describe()}`, () => this.lines().some((l) => re.test(l)), timeoutMs);
  }

  /** Graceful stop: SIGTERM to the parent (it relays to the VRRP child, which sends priority 0). */
  async terminate(timeoutMs = 10_000): Promise<void> {
    const child = this.vrrpPid();
    if (this.proc.running) {
      process.kill(this.pid, 'SIGTERM');
      await this.proc.waitExit(timeoutMs, false);
    }
    if (child !== undefined && pidAlive(child) && !(await waitGone([child], 5000))) process.kill(child, 'SIGKILL');
  }

  /** A crash: SIGSTOP parent and VRRP child (nothing more is sent), then SIGKILL both. */
  async crash(): Promise<void> {
    const pids = [this.pid, this.vrrpPid()].filter((p): p is number => p !== undefined && pidAlive(p));
    for (const p of pids) process.kill(p, 'SIGSTOP');
    for (const p of pids) process.kill(p, 'SIGKILL');
    await this.proc.exited;
    await waitGone(pids, 5000);
  }

  /** Kill whatever is left of it (cleanup). */
  async kill(): Promise<void> {
    const child = this.vrrpPid();
    await this.proc.kill();
    if (child !== undefined && pidAlive(child)) process.kill(child, 'SIGKILL');
  }
}

let seq = 0;

/** Start keepalived (VRRP only) in `ns` with `conf`; pid files go to `dir`. */
export function startKeepalived(lab: NetnsLab, ns: string, conf: string, dir: string, opts: ChildProcOptions = {}): KeepalivedProc {
  const tag = `ka-${process.pid}-${++seq}`;
  const pid = path.join(dir, `${tag}.pid`);
  const vrrp = path.join(dir, `${tag}-vrrp.pid`);
  const checkers = path.join(dir, `${tag}-checkers.pid`);
  const proc = lab.spawn(ns, ['keepalived', '-n', '-l', '-D', '-G', '-P', '-f', conf, '-p', pid, '-r', vrrp, '-c', checkers], `keepalived ${path.basename(conf)}`, opts);
  return new KeepalivedProc(proc, ns, vrrp);
}

/**
 * Debian's real keepalived as a VRRP peer inside a test namespace, run the way
 * /work/shared/lab/keepalived-failover.sh runs it:
 *
 *   keepalived -n -l -D -G -P -f CONF -p PID -r VRRP_PID -c CHECKERS_PID
 *
 * (foreground, log to the console — captured here —, detailed, no syslog, VRRP only, pid files
 * unique to the test so several keepalived can run at once in different namespaces). The parent
 * PID is the child we spawned (`ip netns exec` execs keepalived); the VRRP child's PID comes from
 * its pid file. Only those two PIDs are ever signalled.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { NetnsLab, NsProcess } from './netns.js';
import { waitFor } from './vipkeeper-proc.js';

/** Throws a clear error unless keepalived is installed. */
export function requireKeepalived(what = 'these tests'): string {
  const r = spawnSync('keepalived', ['-v'], { encoding: 'utf8' });
  if (r.error) throw new Error(`${what} need keepalived (apt-get install keepalived): ${r.error.message}`);
  return `${r.stdout}${r.stderr}`.split('\n')[0]?.trim() ?? 'keepalived';
}

export class KeepalivedProc {
  constructor(
    readonly proc: NsProcess,
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

  lines(): string[] {
    return [...this.proc.stdoutLines, ...this.proc.stderrLines];
  }

  /** keepalived's latest `(INSTANCE) Entering STATE STATE` line, as MASTER / BACKUP / FAULT. */
  state(instance: string): string | undefined {
    const re = new RegExp(`\\(${instance}\\) Entering (MASTER|BACKUP|FAULT) STATE`);
    let last: string | undefined;
    // stdout and stderr are separate arrays; keepalived -l writes its log to one stream.
    for (const stream of [this.proc.stdoutLines, this.proc.stderrLines]) {
      for (const l of stream) {
        const m = re.exec(l);
        if (m) last = m[1];
      }
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
    if (child !== undefined && alive(child)) {
      await waitFor('keepalived VRRP child to exit', () => !alive(child), 5000).catch(() => process.kill(child, 'SIGKILL'));
    }
  }

  /** A crash: SIGSTOP parent and VRRP child (nothing more is sent), then SIGKILL both. */
  async crash(): Promise<void> {
    const pids = [this.pid, this.vrrpPid()].filter((p): p is number => p !== undefined && alive(p));
    for (const p of pids) process.kill(p, 'SIGSTOP');
    for (const p of pids) process.kill(p, 'SIGKILL');
    await this.proc.exited;
    for (const p of pids) await waitFor(`PID ${p} to go`, () => !alive(p), 5000).catch(() => undefined);
  }

  /** Kill whatever is left of it (cleanup). */
  async kill(): Promise<void> {
    const child = this.vrrpPid();
    await this.proc.kill();
    if (child !== undefined && alive(child)) process.kill(child, 'SIGKILL');
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie is not alive for our purposes.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

let seq = 0;

/** Start keepalived (VRRP only) in `ns` with `conf`; pid files go to `dir`. */
export function startKeepalived(lab: NetnsLab, ns: string, conf: string, dir: string): KeepalivedProc {
  const tag = `ka-${++seq}`;
  const pid = path.join(dir, `${tag}.pid`);
  const vrrp = path.join(dir, `${tag}-vrrp.pid`);
  const checkers = path.join(dir, `${tag}-checkers.pid`);
  const proc = lab.spawn(ns, ['keepalived', '-n', '-l', '-D', '-G', '-P', '-f', conf, '-p', pid, '-r', vrrp, '-c', checkers], `keepalived ${path.basename(conf)}`);
  return new KeepalivedProc(proc, ns, vrrp);
}

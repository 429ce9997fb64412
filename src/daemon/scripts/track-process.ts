/**
 * Watches the processes of the `vrrp_track_process` definitions in use (keepalived 2.2.7
 * core/track_process.c): a /proc scan at the start, then the kernel's process events (fork, exec,
 * comm, exit) through the connector socket (native/src/proc_events.cc, decoded by
 * src/net/proc-events.ts). Matching, quorum and delays are the pure core's
 * (src/vrrp/track-process.ts); this file reads /proc and the socket.
 *
 * - Lost events (ENOBUFS): the receive buffer is doubled and, 1 s later (events settle), /proc is
 *   scanned again (keepalived `reinitialise_track_processes`).
 * - Network namespaces: the connector exists only in the initial network namespace; a socket
 *   opened in another one cannot subscribe (ECONNREFUSED, keepalived logs "Failed to set/clear
 *   process event listen" and never sees a process die). vipkeeper, started in another
 *   namespace, opens the socket in the initial one (/proc/1/ns/net; root only, and only where
 *   pid 1 is the host's). If that fails too, or the kernel does not acknowledge the
 *   subscription (another pid namespace, no CONFIG_PROC_EVENTS), it says so (a warning, and in
 *   `vipkeeper status`) and scans /proc every `pollMs` (1 s) instead.
 * Everything runs on the calling thread (the VRRP thread): an exec costs two small /proc reads,
 * and at most 256 events are taken per event-loop turn.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { Config } from '../../config/schema.js';
import { decodeProcEvent } from '../../net/proc-events.js';
import { native, type NativeProcEvents } from '../../sys/addon.js';
import { realClock, type Clock, type TimerHandle } from '../../sys/clock.js';
import { noopLogger, type Logger } from '../../sys/exec.js';
import { ProcessTrackerCore, type ProcessIdentity, type ProcessTrackerState } from '../../vrrp/track-process.js';

export type ProcessMonitorMode = 'events' | 'events-initial-netns' | 'polling' | 'stopped';

export interface ProcessMonitorStatus {
  /** How processes are followed: events in this namespace, events from the initial one, or a /proc poll. */
  mode: ProcessMonitorMode;
  /** Why the mode is not plain `events`, or that the kernel has not acknowledged the subscription. */
  warning?: string;
  processes: Record<string, ProcessTrackerState>;
}

export interface ProcessMonitorOptions {
  defs: Readonly<Record<string, Config['track_processes'][string]>>;
  onChange: (name: string, state: ProcessTrackerState) => void;
  logger?: Logger;
  clock?: Clock;
  /** The /proc to read (tests). */
  procRoot?: string;
  /** Opens the connector (tests inject; default the native addon). */
  openConnector?: (netnsPath: string) => NativeProcEvents;
  /** Poll period when events are unavailable. Default 1000 ms. */
  pollMs?: number;
  /** Wait for the kernel's acknowledgement of the subscription. Default 1000 ms. */
  ackTimeoutMs?: number;
  /** The socket's initial receive buffer (keepalived's `process_monitor_rcv_bufs` / `_force`, not yet read from the config). */
  rcvBufBytes?: number;
  rcvBufForce?: boolean;
  /** Never open the connector: poll (tests). */
  forcePolling?: boolean;
}

const INITIAL_NETNS = '/proc/1/ns/net';
const RESCAN_AFTER_LOSS_MS = 1000;

export class ProcessMonitor {
  readonly core: ProcessTrackerCore;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly proc: string;
  private sock: NativeProcEvents | undefined;
  private mode: ProcessMonitorMode = 'stopped';
  private warning: string | undefined;
  private acked = false;
  private timers: { ack?: TimerHandle; rescan?: TimerHandle; poll?: TimerHandle } = {};
  private active = false;

  constructor(private readonly opts: ProcessMonitorOptions) {
    this.log = opts.logger ?? noopLogger;
    this.clock = opts.clock ?? realClock;
    this.proc = opts.procRoot ?? '/proc';
    this.core = new ProcessTrackerCore(opts.defs, {
      clock: this.clock,
      onChange: (name, st) => {
        this.log.info({ trackProcess: name, count: st.count, quorum: st.quorum }, st.quorum ? `Quorum gained for tracked process ${name}` : `Quorum lost for tracked process ${name}`);
        opts.onChange(name, st);
      },
    });
  }

  status(): ProcessMonitorStatus {
    return { mode: this.mode, ...(this.warning ? { warning: this.warning } : {}), processes: this.core.states() };
  }

  /** Subscribes, scans /proc, and returns the initial states (no `onChange` for them). */
  start(): Record<string, ProcessTrackerState> {
    if (this.active) return this.core.states();
    this.active = true;
    if (!this.opts.forcePolling) this.openEvents();
    else this.degrade('polling was asked for');
    this.core.scan(this.scanProc());
    if (this.mode === 'polling') this.schedulePoll();
    return this.core.states();
  }

  stop(): void {
    this.active = false;
    for (const t of Object.values(this.timers)) if (t !== undefined) this.clock.clearTimeout(t);
    this.timers = {};
    this.closeSocket(true);
    this.core.stop();
    this.mode = 'stopped';
  }

  // ---- the connector

  private openEvents(): void {
    const here = this.netnsInode('self');
    const initial = this.netnsInode('1');
    // In another namespace than pid 1's: the connector only answers in the initial one.
    const elsewhere = here !== undefined && initial !== undefined && here !== initial;
    const attempts: [string, ProcessMonitorMode][] = elsewhere ? [[INITIAL_NETNS, 'events-initial-netns'], ['', 'events']] : [['', 'events'], [INITIAL_NETNS, 'events-initial-netns']];
    const errors: string[] = [];
    for (const [ns, mode] of attempts) {
      try {
        this.sock = this.open(ns);
        this.sock.start((err, datagrams) => this.onDatagrams(err, datagrams));
        this.sock.listen(true);
        this.mode = mode;
        break;
      } catch (e) {
        errors.push(`${ns ? `in the initial network namespace (${ns})` : 'in this network namespace'}: ${(e as Error).message}`);
        this.closeSocket(false);
      }
    }
    if (!this.sock) {
      this.degrade(`the kernel's process events cannot be received (${errors.join('; ')})`);
      return;
    }
    if (this.mode === 'events-initial-netns') {
      this.log.info({ netns: INITIAL_NETNS }, 'track_process: vipkeeper runs outside the initial network namespace; process events come through a socket opened in the initial one');
    }
    this.timers.ack = this.clock.setTimeout(() => {
      this.timers.ack = undefined;
      if (this.acked || !this.active) return;
      // keepalived: "WARNING - the kernel does not support proc events - track_process will not work"
      this.closeSocket(true);
      this.degrade('the kernel did not acknowledge the process events subscription (no CONFIG_PROC_EVENTS, or vipkeeper runs in another pid or user namespace than the host\'s)');
      this.core.rescan(this.scanProc());
      this.schedulePoll();
    }, this.opts.ackTimeoutMs ?? 1000);
  }

  private open(netns: string): NativeProcEvents {
    if (this.opts.openConnector) return this.opts.openConnector(netns);
    return new (native().ProcEvents)(netns, this.opts.rcvBufBytes ?? 0, this.opts.rcvBufForce ?? false);
  }

  private netnsInode(pid: string): number | undefined {
    try {
      return statSync(`${this.proc}/${pid}/ns/net`).ino;
    } catch {
      return undefined;
    }
  }

  private degrade(why: string): void {
    this.mode = 'polling';
    this.warning = `${why}; scanning /proc every ${this.opts.pollMs ?? 1000} ms instead, so a process that lives shorter than that may go unseen and delays count from the scan`;
    this.log.warn({ reason: why }, `track_process: ${this.warning}`);
  }

  private closeSocket(unsubscribe: boolean): void {
    const s = this.sock;
    this.sock = undefined;
    if (!s) return;
    try {
      if (unsubscribe && !s.closed) s.listen(false);
    } catch {
      // best effort: the close below unsubscribes as well
    }
    s.close();
  }

  private onDatagrams(err: (Error & { code?: string }) | null, datagrams: Buffer[] | undefined): void {
    if (!this.active) return;
    if (err) {
      if (err.code === 'ENOBUFS') this.lost();
      else this.log.warn({ err: err.message }, 'track_process: process events receive error');
      return;
    }
    for (const d of datagrams ?? []) {
      const ev = decodeProcEvent(d);
      if (!ev) continue;
      switch (ev.kind) {
        case 'ack':
          if (!this.acked) this.log.debug({}, 'track_process: the kernel acknowledged the process events subscription');
          this.acked = true;
          break;
        case 'fork':
          this.core.fork(ev.parent, ev.child);
          break;
        case 'exec': {
          const id = this.identity(ev.pid, false);
          // gone already: its exit event follows
          if (id) this.core.exec(ev.pid, id);
          break;
        }
        case 'comm':
          this.core.comm(ev.pid, ev.comm);
          break;
        case 'exit':
          this.core.exit(ev.pid);
          break;
        case 'other':
          break;
      }
    }
  }

  /** Events were lost: a bigger buffer, and a fresh scan once things settle. */
  private lost(): void {
    const s = this.sock;
    if (s && !s.closed) {
      const bytes = Math.min(s.rcvBuf * 2, 0x7fffffff);
      try {
        s.setRcvBuf(bytes, this.opts.rcvBufForce ?? false);
      } catch {
        // keep the old size
      }
      this.log.warn({ rcvbuf: s.rcvBuf }, `track_process: process events were lost (receive buffer full); rescanning /proc in 1 s; receive buffer now ${s.rcvBuf} bytes`);
    }
    if (this.timers.rescan !== undefined) this.clock.clearTimeout(this.timers.rescan);
    this.timers.rescan = this.clock.setTimeout(() => {
      this.timers.rescan = undefined;
      if (this.active) this.core.rescan(this.scanProc());
    }, RESCAN_AFTER_LOSS_MS);
  }

  private schedulePoll(): void {
    if (!this.active) return;
    this.timers.poll = this.clock.setTimeout(() => {
      this.timers.poll = undefined;
      if (!this.active) return;
      this.core.rescan(this.scanProc());
      this.schedulePoll();
    }, this.opts.pollMs ?? 1000);
  }

  // ---- /proc

  /** What the core needs of one process; undefined when it is gone (or a zombie, for a scan). */
  private identity(pid: number, fromScan: boolean): ProcessIdentity | undefined {
    const id: ProcessIdentity = {};
    try {
      if (this.core.needsCmdline) id.cmdline = readFileSync(`${this.proc}/${pid}/cmdline`);
      if (this.core.needsComm) {
        if (fromScan) {
          // keepalived reads the scan's names from stat, where a zombie shows as state Z
          const stat = readFileSync(`${this.proc}/${pid}/stat`, 'latin1');
          const open = stat.indexOf('(');
          const close = stat.lastIndexOf(')');
          if (open < 0 || close < open) return undefined;
          if (stat[close + 2] === 'Z') return undefined;
          id.comm = stat.slice(open + 1, close);
        } else {
          id.comm = readFileSync(`${this.proc}/${pid}/comm`, 'latin1').replace(/\n$/, '');
        }
      }
    } catch {
      return undefined;
    }
    return id;
  }

  private scanProc(): { pid: number; id: ProcessIdentity }[] {
    let names: string[];
    try {
      names = readdirSync(this.proc);
    } catch (e) {
      this.log.error({ err: (e as Error).message }, `track_process: cannot read ${this.proc}`);
      return [];
    }
    const out: { pid: number; id: ProcessIdentity }[] = [];
    for (const n of names) {
      if (!/^[1-9][0-9]*$/.test(n)) continue;
      const pid = Number(n);
      const id = this.identity(pid, true);
      if (id) out.push({ pid, id });
    }
    return out;
  }
}

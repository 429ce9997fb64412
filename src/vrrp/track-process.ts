/**
 * The pure core of `vrrp_track_process` (keepalived 2.2.7 core/track_process.c): which processes
 * match, how many run per tracker, and when a tracker has quorum, over an injected clock. The
 * adapter (src/daemon/scripts/track-process.ts) feeds it a /proc scan and the kernel's process
 * events; the VRRP runtime turns quorum into priority or FAULT (src/vrrp/tracking.ts).
 *
 * Matching, as keepalived:
 * - by default the process name is compared with the kernel's `comm` (at most 15 characters);
 * - with `full_command`, arguments, or a `param_match`, with the command line's first word
 *   (argv[0]) instead; then the arguments are checked when arguments or `param_match` were given:
 *   `exact` (the default) wants exactly these arguments (none, when `args: []`); `partial` wants
 *   them as the first arguments; `initial` as well, but the last may be a prefix of the real one.
 * Quorum: `quorum ≤ count ≤ quorum_max` (quorum_max 0 means "no process may run": quorum 0).
 *
 * Delays (keepalived's exactly): `fork_delay` delays gaining quorum through a fork of a tracked
 * process (a new child counted); `terminate_delay` delays losing it through a process exit. A
 * gain or loss through exec or a name change acts at once; a fork during a pending terminate
 * delay (or an exit during a pending fork delay) cancels the timer and decides at once. When a
 * timer expires, the quorum is judged on the count then.
 *
 * One difference: keepalived counts a tracked process twice when it execs itself again under
 * the same name (it adds a second reference to the pid); here a pid counts once per tracker.
 */
import type { Config } from '../config/schema.js';
import type { Clock, TimerHandle } from '../sys/clock.js';

export type TrackProcessDef = Config['track_processes'][string];

/** What the adapter read of one process: `comm`, and the raw command line when asked for it. */
export interface ProcessIdentity {
  comm?: string | undefined;
  /** /proc/PID/cmdline: the arguments, each followed by a NUL (latin1 text or bytes). */
  cmdline?: string | Uint8Array | undefined;
}

export interface ProcessTrackerState {
  count: number;
  quorum: boolean;
}

type Match = 'none' | 'exact' | 'initial' | 'partial';

interface Tracker {
  name: string;
  process: string;
  /** The arguments as keepalived stores them: each followed by a NUL; undefined = none given. */
  params: string | undefined;
  match: Match;
  fullCommand: boolean;
  quorum: number;
  quorumMax: number;
  forkDelayMs: number;
  terminateDelayMs: number;
  count: number;
  haveQuorum: boolean;
  forkTimer: TimerHandle | undefined;
  terminateTimer: TimerHandle | undefined;
}

const latin1 = (v: string | Uint8Array | undefined): string => (v === undefined ? '' : typeof v === 'string' ? v : Buffer.from(v).toString('latin1'));

/** keepalived `check_params`: the arguments after argv[0] (NUL-terminated each) against the configured ones. */
export function paramsMatch(match: Match, configured: string | undefined, actual: string): boolean {
  if (match === 'none') return true;
  if (match === 'exact') return actual === (configured ?? '');
  if (configured === undefined) return true;
  if (actual.length < configured.length) return false;
  if (match === 'partial') return actual.startsWith(configured);
  return actual.startsWith(configured.slice(0, -1));
}

function normalise(name: string, def: TrackProcessDef): Tracker {
  const params = def.args === undefined ? undefined : def.args.map((a) => `${a}\0`).join('');
  // keepalived: arguments imply exact matching; `param_match` (any) implies the full command
  const explicitMatch = def.args !== undefined || def.param_match !== 'exact';
  const quorumMax = def.quorum_max ?? Infinity;
  return {
    name,
    process: def.process,
    params: params === '' ? undefined : params,
    match: explicitMatch ? def.param_match : 'none',
    fullCommand: def.full_command || explicitMatch,
    quorum: quorumMax === 0 ? 0 : def.quorum,
    quorumMax,
    forkDelayMs: def.fork_delay ?? 0,
    terminateDelayMs: def.terminate_delay ?? 0,
    count: 0,
    haveQuorum: false,
    forkTimer: undefined,
    terminateTimer: undefined,
  };
}

export interface ProcessTrackerOptions {
  clock: Clock;
  /** A tracker gained or lost quorum (after any delay). */
  onChange?: (name: string, state: ProcessTrackerState) => void;
}

export class ProcessTrackerCore {
  private readonly trackers: Tracker[];
  /** pid → the trackers counting it. */
  private readonly pids = new Map<number, Set<Tracker>>();
  /** Some tracker matches on the command line: the adapter must read /proc/PID/cmdline. */
  readonly needsCmdline: boolean;
  /** Some tracker matches on comm. */
  readonly needsComm: boolean;

  constructor(
    defs: Readonly<Record<string, TrackProcessDef>>,
    private readonly opts: ProcessTrackerOptions,
  ) {
    this.trackers = Object.entries(defs).map(([n, d]) => normalise(n, d));
    this.needsCmdline = this.trackers.some((t) => t.fullCommand);
    this.needsComm = this.trackers.some((t) => !t.fullCommand);
  }

  /** Does this process count for tracker `t`? (name, then arguments) */
  private matches(t: Tracker, id: ProcessIdentity, commOnly: boolean): boolean {
    if (t.fullCommand) {
      if (commOnly) return false;
      const cmd = latin1(id.cmdline);
      const nul = cmd.indexOf('\0');
      const argv0 = nul < 0 ? cmd : cmd.slice(0, nul);
      if (argv0 !== t.process) return false;
      return paramsMatch(t.match, t.params, nul < 0 ? '' : cmd.slice(nul + 1));
    }
    return id.comm !== undefined && id.comm === t.process;
  }

  state(name: string): ProcessTrackerState | undefined {
    const t = this.trackers.find((x) => x.name === name);
    return t && { count: t.count, quorum: t.haveQuorum };
  }

  states(): Record<string, ProcessTrackerState> {
    return Object.fromEntries(this.trackers.map((t) => [t.name, { count: t.count, quorum: t.haveQuorum }]));
  }

  /** The pids counted (for tests and status). */
  trackedPids(): number[] {
    return [...this.pids.keys()];
  }

  /** The start: counts what runs now; quorum is set at once, without delays or `onChange`. */
  scan(procs: Iterable<{ pid: number; id: ProcessIdentity }>): void {
    this.reset();
    this.count(procs);
    for (const t of this.trackers) t.haveQuorum = this.inRange(t);
  }

  /**
   * After lost events (ENOBUFS): recount from a fresh scan. A tracker whose quorum changed gains
   * it at once, or loses it after `terminate_delay` (keepalived `reinitialise_track_processes`).
   */
  rescan(procs: Iterable<{ pid: number; id: ProcessIdentity }>): void {
    const before = new Map(this.trackers.map((t) => [t, t.count]));
    this.reset();
    this.count(procs);
    for (const t of this.trackers) {
      if (before.get(t) === t.count && this.inRange(t) === t.haveQuorum) continue;
      if (this.inRange(t)) this.update(t, true);
      else if (t.terminateDelayMs > 0 && t.haveQuorum) t.terminateTimer = this.timer(t, t.terminateDelayMs);
      else this.update(t, false);
    }
  }

  /** PROC_EVENT_FORK of a process (not a thread): a child of a counted process counts too. */
  fork(parent: number, child: number): void {
    const set = this.pids.get(parent);
    if (!set) return;
    // a pid still counted from before (its exit was lost): it is gone, whatever the pid is now
    if (this.pids.has(child)) this.exit(child);
    const childSet = new Set<Tracker>();
    this.pids.set(child, childSet);
    for (const t of set) {
      childSet.add(t);
      t.count++;
      if (t.count !== t.quorum && t.count !== t.quorumMax + 1) continue;
      if (t.terminateTimer !== undefined) {
        this.cancel(t, 'terminateTimer');
      } else if (t.forkDelayMs > 0) {
        this.cancel(t, 'forkTimer');
        t.forkTimer = this.timer(t, t.forkDelayMs);
        continue;
      }
      this.update(t, t.count === t.quorum);
    }
  }

  /** PROC_EVENT_EXEC: the process may have become (or stopped being) a tracked one. */
  exec(pid: number, id: ProcessIdentity): void {
    this.check(pid, id, false);
  }

  /** PROC_EVENT_COMM: the process renamed itself (prctl PR_SET_NAME). */
  comm(pid: number, comm: string): void {
    const set = this.pids.get(pid);
    if (set) {
      for (const t of [...set]) {
        if (t.fullCommand) continue;
        // keepalived: the name did not really change
        if (comm === t.process) return;
        set.delete(t);
        this.dropped(t, false);
      }
    }
    this.check(pid, { comm }, true);
  }

  /** PROC_EVENT_EXIT of a process (not a thread). */
  exit(pid: number): void {
    const set = this.pids.get(pid);
    if (!set) return;
    this.pids.delete(pid);
    for (const t of set) this.dropped(t, true);
  }

  /** Cancels every timer (the tracker is being stopped). */
  stop(): void {
    for (const t of this.trackers) {
      this.cancel(t, 'forkTimer');
      this.cancel(t, 'terminateTimer');
    }
  }

  // ---- keepalived's check_process / remove_process_from_track

  private check(pid: number, id: ProcessIdentity, commOnly: boolean): void {
    const had = this.pids.get(pid);
    let set = had;
    for (const t of this.trackers) {
      if (commOnly && t.fullCommand) continue;
      if (this.matches(t, id, commOnly)) {
        if (set?.has(t)) continue;
        if (!set) this.pids.set(pid, (set = new Set()));
        set.add(t);
        t.count++;
        if (t.count === t.quorum || t.count === t.quorumMax + 1) {
          this.cancel(t, 'terminateTimer');
          this.update(t, t.count === t.quorum);
        }
      } else if (had?.has(t) && !commOnly) {
        had.delete(t);
        this.dropped(t, false);
      }
    }
    if (set && set.size === 0) this.pids.delete(pid);
  }

  /** One counted process less for `t`: by exit (terminate_delay applies) or by exec/rename. */
  private dropped(t: Tracker, byExit: boolean): void {
    t.count--;
    if (t.count + 1 !== t.quorum && t.count !== t.quorumMax) return;
    if (t.forkTimer !== undefined) {
      this.cancel(t, 'forkTimer');
    } else if (byExit && t.terminateDelayMs > 0) {
      this.cancel(t, 'terminateTimer');
      t.terminateTimer = this.timer(t, t.terminateDelayMs);
      return;
    }
    this.update(t, t.count === t.quorumMax);
  }

  // ---- helpers

  private inRange(t: Tracker): boolean {
    return t.count >= t.quorum && t.count <= t.quorumMax;
  }

  private update(t: Tracker, up: boolean): void {
    if (up === t.haveQuorum) return;
    t.haveQuorum = up;
    this.opts.onChange?.(t.name, { count: t.count, quorum: up });
  }

  private timer(t: Tracker, ms: number): TimerHandle {
    const h = this.opts.clock.setTimeout(() => {
      if (t.forkTimer === h) t.forkTimer = undefined;
      if (t.terminateTimer === h) t.terminateTimer = undefined;
      this.update(t, this.inRange(t));
    }, ms);
    return h;
  }

  private cancel(t: Tracker, which: 'forkTimer' | 'terminateTimer'): void {
    const h = t[which];
    if (h === undefined) return;
    this.opts.clock.clearTimeout(h);
    t[which] = undefined;
  }

  private reset(): void {
    this.stop();
    this.pids.clear();
    for (const t of this.trackers) t.count = 0;
  }

  private count(procs: Iterable<{ pid: number; id: ProcessIdentity }>): void {
    for (const { pid, id } of procs) {
      for (const t of this.trackers) {
        if (!this.matches(t, id, false)) continue;
        let set = this.pids.get(pid);
        if (!set) this.pids.set(pid, (set = new Set()));
        set.add(t);
        t.count++;
      }
    }
  }
}

/**
 * The VRRP driver's ports (what it needs from the outside world), its plain-data messages in and
 * out (the worker posts them across threads), and the per-instance record the driver, its effects
 * and its reload share.
 */
import type { Config, Vip } from '../../config/schema.js';
import type { Clock, TimerHandle } from '../../sys/clock.js';
import type { Logger } from '../../sys/logger.js';
import type { NotifyState, VrrpState } from '../../vocab/states.js';
import type { InstanceTransportStats, TransportInstance } from '../../vrrp/advert-demux.js';
import type { TrackInput, VrrpInstance, VrrpSnapshot } from '../../vrrp/instance.js';
import type { ResolvedInstance } from '../../vrrp/params.js';
import type { ResolvedTracker, ScriptState } from '../../vrrp/tracking.js';
import type { SyncGroupState } from '../../vrrp/sync-group.js';
import type { VrrpUnit } from '../../vrrp/unit.js';
import type { ReloadAction, TrackerDiff } from './reload.js';
import type { TransportFactory, TransportStats } from './socket.js';

// ------------------------------------------------------------------------------------------------
// Ports (what the runtime needs from the outside world)

/** VIP configuration in the kernel. Every call is for one instance's whole VIP list (one batch). */
export interface AddressPort {
  addVips(vips: readonly Vip[], defaultDev: string | undefined): Promise<unknown> | unknown;
  removeVips(vips: readonly Vip[], defaultDev: string | undefined): Promise<unknown> | unknown;
  /** Source address for adverts: primary IPv4 / link-local IPv6 of `dev`. */
  primaryAddress(dev: string, family: 4 | 6): Promise<string | undefined> | string | undefined;
  /** Whether `dev` exists in this network namespace (says "no interface eth0" rather than "no address"). */
  interfaceExists?(dev: string): Promise<boolean> | boolean;
  /** At startup: remove these VIPs if a previous run left them configured. */
  cleanupStale(vips: readonly Vip[], defaultDev: string | undefined): Promise<unknown> | unknown;
  /** Run the add code without a kernel, just before a possible takeover (see VrrpRuntime.rehearse). */
  rehearse?(vips: readonly Vip[], defaultDev: string | undefined): void;
}

/**
 * Gratuitous ARP / unsolicited NA: `repeat` rounds over all VIPs, `intervalMs` apart; stop early
 * when `signal` aborts (the instance left MASTER: GARPs only while the VIPs are set).
 */
export interface AnnouncePort {
  announce(
    vips: readonly Vip[],
    defaultDev: string | undefined,
    opts: { repeat: number; intervalMs: number; signal: AbortSignal },
  ): Promise<unknown> | unknown;
  /** Prepare (open sockets, run the frame code once) so the first takeover is not slowed. */
  warm?(vips: readonly Vip[], defaultDev: string | undefined): void;
  /** Build the frames once, sending nothing, just before a possible takeover. */
  rehearse?(vips: readonly Vip[], defaultDev: string | undefined): void;
}

export type { NotifyState };

/** A notify request (scripts and FIFO lines are the notifier's business). Plain data. */
export interface NotifyRequest {
  kind: 'instance' | 'group';
  name: string;
  state: NotifyState;
  /** Effective priority (0 for groups, as keepalived). */
  priority: number;
}

export interface NotifyPort {
  notify(req: NotifyRequest): Promise<unknown> | unknown;
  /** Wait for running notify scripts (notify_stop included), bounded. */
  close?(): Promise<unknown> | unknown;
}

/** Link state of interfaces (e.g. `ip monitor link`). */
export interface LinkPort {
  /**
   * Calls `cb(ifname, up)` with each interface's initial state (by the time `ready` resolves) and
   * on every change. `close()` stops watching.
   */
  watch(ifnames: readonly string[], cb: (ifname: string, up: boolean) => void): { ready?: Promise<unknown>; close(): void };
}

/**
 * What an instance sets up beyond its VIPs (keepalived's use_vmac, virtual_routes / virtual_rules,
 * static_*, the no_accept firewall): see src/daemon/vrrp/extras.ts.
 */
export interface ExtrasPort {
  /**
   * Before the sockets open: the VMACs of `resolved` (at start, and for instances a reload starts);
   * at start (`initial`) also the static addresses / routes / rules and the removal of virtual
   * routes / rules a previous run left. Throws to refuse the start or the reload.
   */
  prepare(config: Config, resolved: readonly ResolvedInstance[], initial: boolean): Promise<void>;
  /** The instance's VIPs were just set (MASTER). Never throws: trouble is logged. */
  master(r: ResolvedInstance, config: Config): Promise<void>;
  /** The instance is leaving MASTER; its VIPs go next. Never throws. */
  leave(r: ResolvedInstance, config: Config): Promise<void>;
  /** The instance's VIPs are gone (it left MASTER). Never throws. */
  left(r: ResolvedInstance, config: Config): Promise<void>;
  /**
   * After a reload settled (the stopped instances' VIPs are gone): VMACs no running instance uses
   * are removed, and the static addresses / routes / rules made to match `config`. Never throws.
   */
  reloaded?(config: Config, running: readonly ResolvedInstance[]): Promise<void>;
  /** At stop, after every instance's effects: undo everything. Never throws. */
  close(): Promise<void>;
}

export interface VrrpRuntimeDeps {
  config: Config;
  transport: TransportFactory;
  addresses: AddressPort;
  announcer: AnnouncePort;
  notifier?: NotifyPort;
  links?: LinkPort;
  extras?: ExtrasPort;
  /** Default: the real monotonic clock. */
  clock?: Clock;
  logger: Logger;
  /** Plain-data events out (status API, worker `postMessage`). */
  onEvent?: (ev: RuntimeEvent) => void;
  /** Drop-log rate limit per (instance, reason); default 60 s. */
  dropLogIntervalMs?: number;
  /**
   * Runs the log lines and events of a state change or VIP change once the current burst of work
   * (advert, address add, gratuitous ARP) is done; default `setImmediate`. Serialising a log line
   * costs ~0.3 ms, and a takeover has two before its first GARP.
   */
  defer?: (fn: () => void) => void;
  /**
   * Start every instance with preemption held (VrrpInstance.holdPreemption): set when the engine
   * is restarted after a crash, so the pair sees at most one handover for it.
   */
  holdPreemptionAtStart?: boolean;
}

// ------------------------------------------------------------------------------------------------
// Plain-data messages in and out

export type OperatorCommand = 'stepDown' | 'maintenanceOn' | 'maintenanceOff';

export type RuntimeRequest =
  | { type: 'snapshot' }
  | { type: 'command'; instance: string; command: OperatorCommand }
  | { type: 'scriptState'; script: string; state: ScriptState }
  | { type: 'fileValue'; file: string; value: number }
  | { type: 'linkChange'; ifname: string; up: boolean }
  /** Hitless reload; `config` is plain data (structured-clone safe). */
  | { type: 'reload'; config: Config }
  | { type: 'stop'; reason?: string };

export type RuntimeResponse =
  | { ok: true; snapshot?: RuntimeSnapshot; report?: ReloadReport }
  | { ok: false; error: string };

/** What a reload did (instance names; plain data). */
export interface ReloadReport {
  /** Untouched: same machine, timers and VIPs. */
  unchanged: string[];
  /** Notify settings only: applied in place, no restart. */
  updated: string[];
  /** Parameters applied in place: same machine and state; VIPs added or removed as the list changed. */
  retuned: string[];
  /** Stopped (as on shutdown) and started fresh. */
  restarted: string[];
  added: string[];
  /** Stopped as on shutdown; only their own VIPs were released. */
  removed: string[];
  syncGroups: Record<Exclude<ReloadAction, 'changed'> | 'restarted', string[]>;
  /** Tracker definitions that changed (their watchers need restarting; the runtime keeps the last state). */
  trackers: { scripts: TrackerDiff; files: TrackerDiff; processes: TrackerDiff };
  /** Why each restarted / retuned / updated instance is so (key names only, never values). */
  reasons: Record<string, string[]>;
  /** Changes this reload does not apply. */
  notes: string[];
}

export type RuntimeEvent =
  | { type: 'transition'; at: number; instance: string; vrid: number; from: VrrpState; to: VrrpState; reason: string }
  | { type: 'groupTransition'; at: number; group: string; from: SyncGroupState; to: SyncGroupState; reason: string }
  | { type: 'vips'; at: number; instance: string; action: 'added' | 'removed'; ok: boolean; error?: string }
  /** While MASTER, an advert from another router arrived (lower: we re-assert; higher: we yield). */
  | { type: 'otherMasterSeen'; at: number; instance: string; vrid: number; srcIp: string; priority: number }
  | { type: 'started'; at: number; instances: string[] }
  | { type: 'reloaded'; at: number; report: ReloadReport }
  | { type: 'stopped'; at: number };

export interface InstanceStatus {
  name: string;
  vrid: number;
  version: 2 | 3;
  family: 4 | 6;
  interface: string | undefined;
  /** The address this node's adverts come from: how a peer names this node. */
  sourceIp: string;
  /** The configured advert interval. */
  advertIntervalMs: number;
  syncGroup: string | undefined;
  state: VrrpState;
  basePriority: number;
  effectivePriority: number;
  /** The master we last accepted adverts from (BACKUP), if any; `lastSeenAt` monotonic ms, `lastSeen` wall-clock ISO. */
  masterSeen: { ip: string; priority: number; lastSeenAt: number; lastSeen?: string } | undefined;
  vips: string[];
  vipsSet: boolean;
  maintenance: boolean;
  fault: VrrpSnapshot['fault'];
  /** The tracker input last given to the machine (weight delta, fault, reason). */
  tracking?: TrackInput | undefined;
  /** `at` monotonic ms (for ages against the snapshot's `at`), `time` wall-clock ISO. */
  recentTransitions: (VrrpSnapshot['transitions'][number] & { time?: string })[];
  counters: VrrpSnapshot['counters'];
  transport: InstanceTransportStats | undefined;
  /** The last VIP add failed: why; the instance is held in FAULT until it retries. */
  vipError?: string;
}

export interface RuntimeSnapshot {
  /** When taken: the VRRP thread's monotonic ms (the origin of every `at` below) and wall-clock ISO. */
  at: number;
  time?: string;
  running: boolean;
  transport: Omit<TransportStats, 'instances'> | undefined;
  instances: InstanceStatus[];
  syncGroups: { name: string; state: SyncGroupState; members: string[] }[];
  /**
   * track_process: how processes are followed (kernel events here or from the initial network
   * namespace, or a /proc poll with the reason), and each tracker's count and quorum.
   */
  processMonitor?: { mode: string; warning?: string; processes: Record<string, { count: number; quorum: boolean }> } | undefined;
  /** How the thread running VRRP is scheduled (set by the worker; absent in-process). */
  thread?: VrrpThreadScheduling;
}

/** The VRRP thread's scheduling: `vrrp_rt_priority` asked for, what the kernel reports. */
export interface VrrpThreadScheduling {
  tid: number;
  policy: 'rr' | 'fifo' | 'other';
  priority: number;
  /** `global.vrrp_rt_priority` (0 = normal scheduling). */
  requested: number;
  /** Why the requested priority is not in effect (e.g. EPERM). */
  error?: string;
}

// ------------------------------------------------------------------------------------------------
// Per-instance bookkeeping

export interface InstanceRec {
  name: string;
  resolved: ResolvedInstance;
  /** The config this instance runs under (notify settings are read from it). */
  config: Config;
  /** What the transport was given for this instance. */
  ti: TransportInstance;
  /** Removed by a reload: its STOP notify becomes DELETED when it configures notify_deleted. */
  deleting: boolean;
  inst: VrrpInstance;
  unit: VrrpUnit;
  /** Serialises this instance's VIP changes, GARPs and notifies. */
  chain: Promise<void>;
  /** The instance's own interface, followed with `linkChange` (unless `dont_track_primary`). */
  ownInterface: string | undefined;
  /** track_interface / track_script / track_file / track_process of the instance and its sync group (src/vrrp/tracking.ts). */
  trackers: ResolvedTracker[];
  /** Last tracker input given to the machine (to feed only changes). */
  lastTrack: TrackInput | undefined;
  /** Aborted when the VIPs are removed: running GARP/NA bursts stop. */
  garpAbort: AbortController;
  /**
   * The VIPs could not be added: the instance is held in FAULT (the peer takes over) until
   * `retryAt`, then competes again; `failures` in a row set the backoff (see VrrpRuntime.onVips).
   */
  vipFault: { error: string; retryAt: number; timer: TimerHandle } | undefined;
  /** Failed VIP adds in a row. */
  vipFailures?: number;
}


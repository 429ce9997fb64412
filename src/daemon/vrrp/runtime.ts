/**
 * The VRRP driver: the only place where the sans-IO state machines (`src/vrrp`) meet a clock,
 * sockets and the kernel. Shaped like quinn's `ConnectionDriver`: every input (a received advert,
 * a timer, a link or tracker change, an operator command) goes into the state machine, and after
 * EVERY input all outputs are drained in the machine's order — `pollTransmit()` first (adverts go
 * out synchronously, so on takeover our advert precedes our GARPs), then `pollEvent()` (VIPs,
 * GARP/NA bursts, notifies, logs), then `pollTimeout()` re-arms the single timer.
 *
 * Everything it touches is injected (`VrrpRuntimeDeps`): transport, address operations, announcer,
 * notifier, link watcher, clock, logger. It keeps no globals and installs no signal handlers, and
 * every input/output is plain data (`handleMessage(req)` / `onEvent(ev)`), so the whole runtime can
 * later be moved into a `worker_threads` Worker, away from anything (health checks) that could
 * delay adverts.
 *
 * Side effects per instance are serialised on a promise chain: one `addVips` / `removeVips` batch
 * per transition, GARP/NA bursts after the add completed (and only while still MASTER), notifies
 * after the VIP change they announce. The password (`auth_pass`) is never logged: log lines carry
 * names, states, priorities and addresses only.
 *
 * Sockets: the runtime asks the transport factory for one transport per socket — per (interface,
 * family, unicast TTL) for the raw transport, per family for the UDP one (the same sockets one
 * transport over all instances would open) — so a reload can open, close or keep each socket.
 *
 * Hitless reload (`reload(config)`, SIGHUP; keepalived #2159 dropped every instance's VIPs when one
 * was removed): `src/daemon/vrrp-reload.ts` diffs the configs per instance and sync group, then
 * 1. prepare — resolve, build and open everything new (source addresses, state machines, link
 *    watch, sockets); any failure refuses the reload and leaves the running config untouched;
 * 2. commit, in one synchronous step — removed and changed units get `shutdown` exactly as on
 *    SIGTERM but for that unit only (a MASTER sends priority 0 and removes ITS VIPs; notify_stop,
 *    or notify_deleted for a removed instance that configures it); sockets whose instance set
 *    changed are swapped for the new ones; changed and added units start fresh. Unchanged units
 *    are not touched at all: same machine, same timers, VIPs never removed, no GARP, no notify;
 *    notify-only changes (`updated`) are picked up in place. A changed unit restarts (stop, then
 *    start): the machine's parameters, base priority included, are fixed at construction and no
 *    machine input changes them, so a priority change is not applied in place;
 * 3. settle — the stopped instances' VIP removals and notifies finish, then `config` switches to
 *    the new config (so a notifier that looks scripts up through `runtime.config` runs a removed
 *    instance's notify_stop / notify_deleted from the old config and new instances' scripts from
 *    the new one); new instances' VIP work is queued behind that; retired sockets are flushed
 *    (the stopped MASTERs' priority-0 adverts) and closed.
 */
import type { Config, Vip } from '../../config/schema.js';
import type { NotifyState } from '../../vocab/states.js';
import { DROP_REASONS } from '../../vrrp/packet.js';
import { realClock, type Clock, type TimerHandle } from '../../sys/clock.js';
import type { Logger } from '../../sys/logger.js';
import {
  VrrpInstance,
  type ReceivedAdvert,
  type TrackInput,
  type VrrpCommand,
  type VrrpEvent,
  type VrrpSnapshot,
} from '../../vrrp/instance.js';
import { resolveInstance, type ResolvedInstance } from '../../vrrp/params.js';
import { computeTrack, resolveTrackers, type ResolvedTracker, type ScriptState, type TrackerStates } from '../../vrrp/tracking.js';
import { VrrpSyncGroup, type SyncGroupState } from '../../vrrp/sync-group.js';
import { LoneInstance, type UnitEvent, type VrrpUnit } from '../../vrrp/unit.js';
import type { VrrpState } from '../../vrrp/transitions.js';
import { exerciseInstance } from '../../vrrp/warm.js';
import type { InstanceTransportStats, DemuxedAdvert, TransportInstance, VrrpDrop } from '../../vrrp/advert-demux.js';
import type { TransportFactory, TransportStats, VrrpTransport } from './socket.js';
import { diffVrrpConfig, instancesByAction, sameData, type ReloadAction, type TrackerDiff } from './reload.js';

/** An advert is dated back to its kernel receive time by at most this much (see `machineNow`). */
const MAX_BACKDATE_MS = 100;

/** How long before a BACKUP's timer expires the runtime rehearses its takeover (see `onRehearsal`). */
export const REHEARSAL_LEAD_MS = 3;
/** At most this many instances are rehearsed per pass (and for at most a third of the lead). */
export const REHEARSAL_MAX_INSTANCES = 2;

// ------------------------------------------------------------------------------------------------
// Ports (what the runtime needs from the outside world)

/** VIP configuration in the kernel. Every call is for one instance's whole VIP list (one batch). */
export interface AddressPort {
  addVips(vips: readonly Vip[], defaultDev: string | undefined): Promise<unknown> | unknown;
  removeVips(vips: readonly Vip[], defaultDev: string | undefined): Promise<unknown> | unknown;
  /** Source address for adverts: primary IPv4 / link-local IPv6 of `dev`. */
  primaryAddress(dev: string, family: 4 | 6): Promise<string | undefined> | string | undefined;
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


export interface VrrpRuntimeDeps {
  config: Config;
  transport: TransportFactory;
  addresses: AddressPort;
  announcer: AnnouncePort;
  notifier?: NotifyPort;
  links?: LinkPort;
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
  /** Stopped (as on shutdown) and started fresh. */
  restarted: string[];
  added: string[];
  /** Stopped as on shutdown; only their own VIPs were released. */
  removed: string[];
  syncGroups: Record<Exclude<ReloadAction, 'changed'> | 'restarted', string[]>;
  /** Tracker definitions that changed (their watchers need restarting; the runtime keeps the last state). */
  trackers: { scripts: TrackerDiff; files: TrackerDiff; processes: TrackerDiff };
  /** Why each restarted / updated instance is so (key names only, never values). */
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
  /** The master we last accepted adverts from (BACKUP), if any. */
  masterSeen: { ip: string; priority: number; lastSeenAt: number } | undefined;
  vips: string[];
  vipsSet: boolean;
  maintenance: boolean;
  fault: VrrpSnapshot['fault'];
  /** The tracker input last given to the machine (weight delta, fault, reason). */
  tracking?: TrackInput | undefined;
  recentTransitions: VrrpSnapshot['transitions'];
  counters: VrrpSnapshot['counters'];
  transport: InstanceTransportStats | undefined;
}

export interface RuntimeSnapshot {
  at: number;
  running: boolean;
  transport: Omit<TransportStats, 'instances'> | undefined;
  instances: InstanceStatus[];
  syncGroups: { name: string; state: SyncGroupState; members: string[] }[];
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

interface InstanceRec {
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
  /** track_interface / track_script / track_file of the instance and its sync group (src/vrrp/tracking.ts). */
  trackers: ResolvedTracker[];
  /** Last tracker input given to the machine (to feed only changes). */
  lastTrack: TrackInput | undefined;
  /** Aborted when the VIPs are removed: running GARP/NA bursts stop. */
  garpAbort: AbortController;
}

/** One socket's transport and the instances it serves. */
interface TransportSlot {
  key: string;
  transport: VrrpTransport;
  instances: TransportInstance[];
}

/** Counters of transports closed by reloads, so the totals never go backwards. */
interface RetiredStats {
  unknownVrid: number;
  dropped: TransportStats['dropped'];
  instances: Record<string, InstanceTransportStats>;
}

function emptyRetired(): RetiredStats {
  return { unknownVrid: 0, dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as TransportStats['dropped'], instances: {} };
}

function addInstanceStats(into: Record<string, InstanceTransportStats>, name: string, s: InstanceTransportStats): void {
  const t = (into[name] ??= { advertsSent: 0, sendErrors: 0, received: 0, accepted: 0, dropped: {} });
  t.advertsSent += s.advertsSent;
  t.sendErrors += s.sendErrors;
  t.received += s.received;
  t.accepted += s.accepted;
  for (const [r, n] of Object.entries(s.dropped) as [keyof InstanceTransportStats['dropped'], number][]) t.dropped[r] = (t.dropped[r] ?? 0) + n;
}

/**
 * The socket an instance needs: the raw transport opens one per (interface, family, unicast TTL),
 * the UDP transport one per family (both bind the same port, so never two per family).
 */
function socketKey(t: TransportInstance, kind: VrrpTransport['kind']): string {
  const w = t.wire;
  if (kind === 'udp') return `udp/ipv${w.family}`;
  const ttl = w.unicastPeers.length > 0 ? w.unicastTtl : 255;
  return `${w.interface ?? '*'}/ipv${w.family}${ttl === 255 ? '' : `/ttl${ttl}`}`;
}

function ifnamesOf(recs: Iterable<InstanceRec>): string[] {
  return [
    ...new Set([...recs].flatMap((r) => [...(r.ownInterface ? [r.ownInterface] : []), ...r.trackers.filter((t) => t.kind === 'interface').map((t) => t.name)])),
  ];
}

// ------------------------------------------------------------------------------------------------
// The runtime

export class VrrpRuntimeError extends Error {
  override name = 'VrrpRuntimeError';
}

export class VrrpRuntime {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly recs = new Map<string, InstanceRec>();
  private units: VrrpUnit[] = [];
  private groups: VrrpSyncGroup[] = [];
  /** The config running now (see `config`). */
  private cfg: Config;
  /** One transport per socket, by `socketKey`. */
  private readonly slots = new Map<string, TransportSlot>();
  /** The transport each instance sends through and accepts adverts from. */
  private readonly routes = new Map<string, VrrpTransport>();
  /** Transports a reload retired, until flushed and closed. */
  private readonly closing = new Set<VrrpTransport>();
  private readonly retired: RetiredStats = emptyRetired();
  private transportKind: VrrpTransport['kind'] | undefined;
  private timer: TimerHandle;
  private timerAt: number | undefined;
  private lastMachineAt = -Infinity;
  /** The rehearsal before the earliest BACKUP timer (see `rehearse`). */
  private rehearsal: TimerHandle;
  private rehearsalAt: number | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopPromise: Promise<void> | undefined;
  private startPromise: Promise<void> | undefined;
  /** Reloads run one after the other; a stop waits for the one in progress. */
  private reloadChain: Promise<unknown> = Promise.resolve();
  private reloadsPending = 0;
  private unwatchLinks: (() => void) | undefined;
  private watched = new Set<string>();
  /** Last group notify per sync group (a reload waits for a stopped group's STOP notify). */
  private readonly groupNotifies = new Map<string, Promise<void>>();
  private readonly dropLog = new Map<string, { last: number; suppressed: number }>();
  /** Tracked object states (interfaces, vrrp_scripts, track_files), plain data. */
  private readonly states: { interfaces: Record<string, boolean>; scripts: Record<string, ScriptState>; files: Record<string, number> } = {
    interfaces: {},
    scripts: {},
    files: {},
  };
  private readonly dropLogIntervalMs: number;

  private readonly laterQueue: (() => void)[] = [];
  private readonly warmedKinds = new Map<string, number>();

  constructor(private readonly deps: VrrpRuntimeDeps) {
    this.clock = deps.clock ?? realClock;
    this.log = deps.logger;
    this.dropLogIntervalMs = deps.dropLogIntervalMs ?? 60_000;
    this.cfg = deps.config;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /**
   * The config the runtime runs now. A reload switches it once the removed and restarted
   * instances have stopped (VIPs released, notify_stop / notify_deleted issued) and before any
   * new instance's VIP work or notify runs: a notifier should look scripts up through this getter.
   */
  get config(): Config {
    return this.cfg;
  }

  /** Instance names in config order. */
  get instanceNames(): string[] {
    return [...this.recs.keys()];
  }

  /**
   * Resolve the instances, remove stale VIPs, open the sockets, start the state machines.
   * Throws `VrrpRuntimeError` (nothing left open) when the config cannot run here.
   */
  start(): Promise<void> {
    if (this.state !== 'new') return Promise.reject(new VrrpRuntimeError('The VRRP runtime can be started once'));
    this.state = 'starting';
    this.startPromise = this.doStart();
    return this.startPromise;
  }

  private async doStart(): Promise<void> {
    const config = this.cfg;
    try {
      // 1. Resolve every instance (the source address needs the interface's primary address).
      const resolved = await this.resolveAll(config, Object.keys(config.instances));

      // 2. Stale VIPs from an earlier run (keepalived: "removing VIPs" at startup).
      for (const r of resolved) {
        try {
          await this.deps.addresses.cleanupStale(r.vips, r.defaultDev);
        } catch (err) {
          this.log.warn({ instance: r.name, err: errMsg(err) }, 'could not remove stale VIPs');
        }
        this.warmAnnouncer(r.vips, r.defaultDev);
      }

      // 3. State machines and sync groups.
      const built = this.build(config, resolved);
      for (const rec of built.recs) this.recs.set(rec.name, rec);
      this.groups.push(...built.groups);
      this.units.push(...built.units);

      // 4. Link states (initial state before the machines start). Without a link watcher every
      //    interface counts as up.
      const ifnames = ifnamesOf(this.recs.values());
      if (this.deps.links && ifnames.length > 0) {
        const w = this.deps.links.watch(ifnames, (ifname, up) => this.linkChange(ifname, up));
        this.unwatchLinks = () => w.close();
        this.watched = new Set(ifnames);
        if (w.ready) await withTimeout(w.ready, 5000);
      }
      for (const i of ifnames) this.states.interfaces[i] ??= true;

      // 5. Sockets.
      const opened = await this.openTransports([...this.partition(built.recs.map((r) => r.ti))]);
      for (const s of opened) this.slots.set(s.key, s);
      this.rebuildRoutes();
      this.warmInstances(built.recs);

      // 6. Initial conditions (recorded in INIT; start() then picks BACKUP or FAULT), then start.
      const now = this.machineNow();
      for (const rec of this.recs.values()) this.initialConditions(rec, now);
      this.state = 'running';
      for (const u of this.units) {
        u.start(now);
        this.drainOutputs(u);
      }
      this.reschedule();
      for (const rec of this.recs.values()) this.logStarted(rec, 'VRRP instance started');
      this.emit({ type: 'started', at: now, instances: this.instanceNames });
    } catch (err) {
      this.state = 'stopped';
      for (const t of this.allTransports()) t.close();
      this.slots.clear();
      this.routes.clear();
      this.unwatchLinks?.();
      throw err;
    }
  }

  /** Resolves `names` of `config`; an instance without a configured source gets its interface's address. */
  private async resolveAll(config: Config, names: readonly string[]): Promise<ResolvedInstance[]> {
    const resolved: ResolvedInstance[] = [];
    for (const name of names) {
      const probe = resolveInstance(config, name, '0.0.0.0');
      let src = probe.wire.srcIp;
      if (src === undefined) {
        if (probe.wire.interface === undefined) throw new VrrpRuntimeError(`Instance "${name}" has neither an interface nor a source address`);
        src = (await this.deps.addresses.primaryAddress(probe.wire.interface, probe.wire.family)) ?? undefined;
        if (src === undefined) {
          throw new VrrpRuntimeError(
            `Instance "${name}": interface ${probe.wire.interface} has no ${probe.wire.family === 4 ? 'IPv4' : 'IPv6 link-local'} address to send adverts from; add one or set ${probe.wire.unicastPeers.length ? 'unicast_src_ip' : 'mcast_src_ip'}`,
          );
        }
      }
      const r = resolveInstance(config, name, src);
      for (const w of r.warnings) this.log.warn({ instance: name, vrid: r.wire.vrid }, w);
      resolved.push(r);
    }
    return resolved;
  }

  /**
   * State machines, sync groups and bookkeeping for `resolved` (not yet started). A sync group is
   * built only as a whole: all its members must be in `resolved`.
   */
  private build(config: Config, resolved: readonly ResolvedInstance[]): { recs: InstanceRec[]; units: VrrpUnit[]; groups: VrrpSyncGroup[] } {
    const inGroup = new Map<string, string>();
    for (const [gname, g] of Object.entries(config.sync_groups)) for (const m of g.group) inGroup.set(m, gname);
    const insts = new Map<string, VrrpInstance>();
    for (const r of resolved) {
      const inst = new VrrpInstance(r.params);
      for (const w of inst.configWarnings) this.log.warn({ instance: r.name, vrid: r.wire.vrid }, w);
      insts.set(r.name, inst);
    }
    const groups: VrrpSyncGroup[] = [];
    const units: VrrpUnit[] = [];
    for (const [gname, g] of Object.entries(config.sync_groups)) {
      const inConfig = g.group.filter((m) => config.instances[m] !== undefined);
      const members = inConfig.map((m) => insts.get(m)).filter((m): m is VrrpInstance => m !== undefined);
      if (members.length === 0) continue;
      if (members.length !== inConfig.length) {
        throw new VrrpRuntimeError(`Sync group "${gname}" must start as a whole, but ${inConfig.filter((m) => !insts.has(m)).join(', ')} would keep running`);
      }
      const unit = new VrrpSyncGroup({ name: gname }, members);
      units.push(unit);
      groups.push(unit);
    }
    const recs: InstanceRec[] = [];
    for (const r of resolved) {
      const inst = insts.get(r.name)!;
      const gname = inGroup.get(r.name);
      const unit = gname ? groups.find((g) => g.name === gname) : undefined;
      const u = unit ?? new LoneInstance(inst);
      if (!unit) units.push(u);
      const cfg = config.instances[r.name]!;
      const tr = resolveTrackers(config, r.name);
      for (const w of tr.warnings) this.log.warn({ instance: r.name, vrid: r.wire.vrid }, w);
      const trackers = tr.trackers.filter((t) => {
        if (t.kind !== 'process') return true;
        this.log.warn({ instance: r.name, vrid: r.wire.vrid }, `track_process ${t.name} is not supported in this build yet; ignored`);
        return false;
      });
      recs.push({
        name: r.name,
        resolved: r,
        config,
        ti: { wire: r.wire, srcIp: r.params.primaryIp, expectations: r.expectations },
        deleting: false,
        inst,
        unit: u,
        chain: Promise.resolve(),
        ownInterface: cfg.interface && !cfg.dont_track_primary ? cfg.interface : undefined,
        trackers,
        lastTrack: undefined,
        garpAbort: new AbortController(),
      });
    }
    return { recs, units, groups };
  }

  /** Link state and trackers given to a machine still in INIT. */
  private initialConditions(rec: InstanceRec, now: number): void {
    if (rec.ownInterface && this.states.interfaces[rec.ownInterface] === false) rec.unit.linkChange(now, rec.name, false);
    this.applyTrack(rec, now, true);
  }

  private logStarted(rec: InstanceRec, msg: string): void {
    this.log.info(
      {
        instance: rec.name,
        vrid: rec.resolved.wire.vrid,
        version: rec.resolved.wire.version,
        interface: rec.resolved.wire.interface,
        priority: rec.resolved.params.priority,
        advert_int_ms: rec.resolved.params.advertIntervalMs,
        mode: rec.resolved.wire.unicastPeers.length ? 'unicast' : 'multicast',
        src: rec.resolved.params.primaryIp,
        vips: rec.resolved.wire.addresses,
        state: rec.inst.state,
      },
      msg,
    );
  }

  // ---- sockets ---------------------------------------------------------------------------------

  /** Instances grouped by the socket they need (config order kept within a socket). */
  private partition(list: readonly TransportInstance[]): Map<string, TransportInstance[]> {
    const out = new Map<string, TransportInstance[]>();
    if (list.length === 0) return out;
    if (this.transportKind === undefined) {
      // Constructing a transport opens nothing (`open()` does): ask one which kind it is.
      const probe = this.deps.transport(list, { onAdvert: () => undefined });
      this.transportKind = probe.kind;
      probe.close();
    }
    for (const t of list) {
      const key = socketKey(t, this.transportKind);
      const l = out.get(key);
      if (l) l.push(t);
      else out.set(key, [t]);
    }
    return out;
  }

  /** A transport whose adverts count only while the instance is routed to it (a reload swaps them). */
  private createTransport(list: readonly TransportInstance[]): VrrpTransport {
    let self: VrrpTransport | undefined;
    const routed = (instance: string): boolean => self !== undefined && this.routes.get(instance) === self;
    self = this.deps.transport(list, {
      onAdvert: (rx) => {
        if (routed(rx.instance)) this.onAdvert(rx);
      },
      onDrop: (d) => {
        if (d.instance === undefined || routed(d.instance)) this.onDrop(d);
      },
      onError: (err, ctx) => this.rateLimited(`err/${ctx.instance ?? ctx.socket ?? ''}/${ctx.op}/${errCode(err)}`, () => ({ ...ctx, err: errMsg(err) }), 'VRRP socket error'),
      onOldUnicastChecksum: (instance, peer) => this.log.warn({ instance, peer }, 'peer uses the old (keepalived <= 1.3.6) VRRPv3 unicast checksum; switched to it'),
    });
    return self;
  }

  /** Opens one transport per entry; on failure closes those it opened and throws. */
  private async openTransports(parts: readonly (readonly [string, TransportInstance[]])[]): Promise<TransportSlot[]> {
    const opened: TransportSlot[] = [];
    try {
      for (const [key, instances] of parts) {
        const transport = this.createTransport(instances);
        opened.push({ key, transport, instances });
        await transport.open();
      }
    } catch (err) {
      for (const s of opened) s.transport.close();
      throw err;
    }
    return opened;
  }

  private rebuildRoutes(): void {
    this.routes.clear();
    for (const s of this.slots.values()) for (const t of s.instances) this.routes.set(t.wire.name, s.transport);
  }

  private allTransports(): VrrpTransport[] {
    return [...[...this.slots.values()].map((s) => s.transport), ...this.closing];
  }

  /** Closes a transport a reload retired, keeping its counters for instances that still run. */
  private retire(t: VrrpTransport): void {
    const s = t.stats();
    this.retired.unknownVrid += s.unknownVrid;
    for (const r of DROP_REASONS) this.retired.dropped[r] += s.dropped[r] ?? 0;
    for (const [name, st] of Object.entries(s.instances)) if (this.recs.has(name)) addInstanceStats(this.retired.instances, name, st);
    for (const name of Object.keys(this.retired.instances)) if (!this.recs.has(name)) delete this.retired.instances[name];
    t.close();
    this.closing.delete(t);
  }

  private transportStats(): TransportStats | undefined {
    if (this.transportKind === undefined) return undefined;
    const out: TransportStats = {
      kind: this.transportKind,
      sockets: [],
      unknownVrid: this.retired.unknownVrid,
      dropped: { ...this.retired.dropped },
      instances: {},
    };
    for (const [name, st] of Object.entries(this.retired.instances)) addInstanceStats(out.instances, name, st);
    for (const t of this.allTransports()) {
      const s = t.stats();
      out.sockets.push(...s.sockets);
      out.unknownVrid += s.unknownVrid;
      for (const r of DROP_REASONS) out.dropped[r] += s.dropped[r] ?? 0;
      for (const [name, st] of Object.entries(s.instances)) addInstanceStats(out.instances, name, st);
    }
    return out;
  }

  // ---- reload ----------------------------------------------------------------------------------

  /**
   * Hitless reload (SIGHUP): apply `next` with the fewest possible changes (see the file header).
   * Rejects — with nothing changed — when the new config cannot run here (an unresolvable
   * instance, no source address, a socket that cannot be opened); the running config stays.
   */
  reload(next: Config): Promise<ReloadReport> {
    this.reloadsPending++;
    const run = this.reloadChain.then(() => this.doReload(next)).finally(() => this.reloadsPending--);
    this.reloadChain = run.catch(() => undefined);
    return run;
  }

  private async doReload(next: Config): Promise<ReloadReport> {
    if (this.state === 'starting') await this.startPromise?.catch(() => undefined);
    if (this.state !== 'running') throw new VrrpRuntimeError(`VRRP is not running (${this.state}); cannot reload`);
    try {
      return await this.applyReload(next);
    } catch (err) {
      this.log.error({ err: errMsg(err) }, 'VRRP reload refused; the running config stays');
      throw err;
    }
  }

  private async applyReload(next: Config): Promise<ReloadReport> {
    const diff = diffVrrpConfig(this.cfg, next);
    const by = instancesByAction(diff);
    const stopNames = new Set([...by.changed, ...by.removed]);
    const startNames = new Set([...by.changed, ...by.added]);

    // ---- 1. prepare: everything that can fail; the running instances notice nothing.
    const resolved = await this.resolveAll(
      next,
      Object.keys(next.instances).filter((n) => startNames.has(n)),
    );
    const built = this.build(next, resolved);
    const stopUnits = this.units.filter((u) => u.members.some((m) => stopNames.has(m.name)));
    const strays = stopUnits.flatMap((u) => u.members.filter((m) => !stopNames.has(m.name)).map((m) => m.name));
    if (strays.length > 0) throw new VrrpRuntimeError(`internal: ${strays.join(', ')} would be stopped with their sync group but are not restarted`);
    const newRecs = new Map(built.recs.map((r) => [r.name, r]));
    const finalRecs = Object.keys(next.instances)
      .map((n) => newRecs.get(n) ?? (stopNames.has(n) ? undefined : this.recs.get(n)))
      .filter((r): r is InstanceRec => r !== undefined);

    // Links: watch again only when a new interface must be followed.
    const ifnames = ifnamesOf(finalRecs);
    let watch: { close(): void } | undefined;
    if (this.deps.links && ifnames.some((i) => !this.watched.has(i))) {
      const w = this.deps.links.watch(ifnames, (ifname, up) => this.linkChange(ifname, up));
      watch = w;
      if (w.ready) await withTimeout(w.ready, 5000);
    }

    // Sockets: open those that are new or serve a different set of instances; keep the rest.
    const parts = this.partition(finalRecs.map((r) => r.ti));
    const toOpen = [...parts].filter(([key, list]) => {
      const cur = this.slots.get(key);
      return !cur || !sameData(cur.instances, list);
    });
    let opened: TransportSlot[];
    try {
      opened = await this.openTransports(toOpen);
    } catch (err) {
      watch?.close();
      throw err;
    }
    if (this.state !== 'running') {
      for (const s of opened) s.transport.close();
      watch?.close();
      throw new VrrpRuntimeError('VRRP stopped during the reload');
    }

    // ---- 2. commit: one synchronous step.
    const now = this.machineNow();
    const stoppedRecs = [...this.recs.values()].filter((r) => stopNames.has(r.name));
    for (const r of stoppedRecs) {
      r.deleting = by.removed.includes(r.name);
      this.log.info({ instance: r.name, vrid: r.resolved.wire.vrid, state: r.inst.state }, r.deleting ? 'VRRP instance removed by reload: stopping it' : 'VRRP instance changed by reload: restarting it');
    }
    // Stop exactly as on shutdown, but only these units (priority 0 goes out of the old sockets).
    for (const u of stopUnits) {
      try {
        u.command(now, 'shutdown');
      } catch (err) {
        this.log.error({ err: errMsg(err) }, 'shutdown command failed');
      }
      this.drainOutputs(u);
    }
    for (const r of stoppedRecs) r.garpAbort.abort();
    const stoppedGroups = stopUnits.flatMap((u) => (u.group !== undefined ? [u.group] : []));
    const oldWork = [...stoppedRecs.map((r) => r.chain), ...stoppedGroups.map((g) => this.groupNotifies.get(g) ?? Promise.resolve())];
    this.units = this.units.filter((u) => !stopUnits.includes(u));
    this.groups = this.groups.filter((g) => !stopUnits.includes(g));
    for (const r of stoppedRecs) this.recs.delete(r.name);
    for (const g of stoppedGroups) this.groupNotifies.delete(g);
    // Kept instances run under the new config from now on (notify settings, applied in place).
    for (const r of this.recs.values()) r.config = next;

    // Swap the sockets whose instance set changed; retire those no longer needed.
    const retiring: VrrpTransport[] = [];
    for (const [key, slot] of this.slots) {
      if (!parts.has(key) || opened.some((o) => o.key === key)) {
        retiring.push(slot.transport);
        this.closing.add(slot.transport);
        this.slots.delete(key);
      }
    }
    for (const s of opened) this.slots.set(s.key, s);
    this.rebuildRoutes();
    this.warmInstances(built.recs);
    if (watch) {
      const w = watch;
      this.unwatchLinks?.();
      this.unwatchLinks = () => w.close();
      this.watched = new Set(ifnames);
    }
    for (const i of ifnames) this.states.interfaces[i] ??= true;
    for (const s of diff.trackers.scripts.removed) delete this.states.scripts[s];
    for (const f of diff.trackers.files.removed) delete this.states.files[f];

    // Stop before start: new instances' VIP work waits for the stopped ones' removals and notifies;
    // the config getter switches in between.
    const settled = Promise.all(oldWork).then(() => {
      this.cfg = next;
    });
    for (const rec of built.recs) {
      const added = by.added.includes(rec.name);
      rec.chain = settled.then(() => (added ? this.cleanupStaleVips(rec) : undefined));
      this.recs.set(rec.name, rec);
    }
    this.groups.push(...built.groups);
    this.units.push(...built.units);
    this.reorder(next);
    for (const rec of built.recs) this.initialConditions(rec, now);
    for (const u of built.units) {
      try {
        u.start(now);
      } catch (err) {
        this.log.error({ err: errMsg(err) }, 'VRRP state machine rejected start');
      }
      this.drainOutputs(u);
    }
    this.reschedule();
    for (const rec of built.recs) this.logStarted(rec, by.added.includes(rec.name) ? 'VRRP instance added by reload' : 'VRRP instance restarted by reload');

    // ---- 3. settle.
    await Promise.all(retiring.map((t) => t.flush().catch(() => undefined)));
    for (const t of retiring) this.retire(t);
    await settled;

    const groupsBy = (a: ReloadAction) => diff.syncGroups.filter((g) => g.action === a).map((g) => g.name);
    const report: ReloadReport = {
      unchanged: by.unchanged,
      updated: by.updated,
      restarted: by.changed,
      added: by.added,
      removed: by.removed,
      syncGroups: { unchanged: groupsBy('unchanged'), updated: groupsBy('updated'), restarted: groupsBy('changed'), added: groupsBy('added'), removed: groupsBy('removed') },
      trackers: diff.trackers,
      reasons: Object.fromEntries(diff.instances.filter((d) => d.reasons.length > 0).map((d) => [d.name, d.reasons])),
      notes: diff.notes,
    };
    for (const n of diff.notes) this.log.warn({}, n);
    this.log.info(
      {
        unchanged: report.unchanged,
        updated: report.updated,
        restarted: report.restarted,
        added: report.added,
        removed: report.removed,
        sync_groups: report.syncGroups,
        reasons: report.reasons,
        sockets: { opened: opened.map((s) => s.key), closed: retiring.length, kept: this.slots.size - opened.length },
      },
      'VRRP config reloaded',
    );
    this.emit({ type: 'reloaded', at: this.clock.now(), report });
    return report;
  }

  /** Config order for status and timers: sync groups first, then lone instances. */
  private reorder(config: Config): void {
    const order = Object.keys(config.instances);
    const recs = [...order.map((n) => this.recs.get(n)), ...[...this.recs.values()].filter((r) => !order.includes(r.name))].filter(
      (r): r is InstanceRec => r !== undefined,
    );
    this.recs.clear();
    for (const r of recs) this.recs.set(r.name, r);
    const gorder = Object.keys(config.sync_groups);
    const rank = (g: VrrpSyncGroup) => {
      const i = gorder.indexOf(g.name);
      return i < 0 ? gorder.length : i;
    };
    this.groups.sort((a, b) => rank(a) - rank(b));
    const singles = [...new Set(recs.map((r) => r.unit).filter((u) => u.group === undefined))];
    this.units = [...this.groups, ...singles];
  }

  private async cleanupStaleVips(rec: InstanceRec): Promise<void> {
    try {
      await this.deps.addresses.cleanupStale(rec.resolved.vips, rec.resolved.defaultDev);
    } catch (err) {
      this.log.warn({ instance: rec.name, err: errMsg(err) }, 'could not remove stale VIPs');
    }
    this.warmAnnouncer(rec.resolved.vips, rec.resolved.defaultDev);
  }

  /**
   * Runs copies of the state machine through a takeover and a stop, and encodes the adverts
   * without sending them, for two instances of each kind (version, family) per process: the
   * code is shared, and this way a backup's first takeover does not run it cold.
   */
  private warmInstances(recs: readonly InstanceRec[]): void {
    for (const rec of recs) {
      const p = rec.resolved.params;
      const kind = `${p.version}/${p.family}/${rec.resolved.wire.unicastPeers.length > 0 ? 'u' : 'm'}`;
      const n = this.warmedKinds.get(kind) ?? 0;
      if (n >= 2) continue;
      this.warmedKinds.set(kind, n + 1);
      try {
        exerciseInstance(p);
        this.routes.get(rec.name)?.warm?.(rec.name, [p.priority, 0]);
      } catch (err) {
        this.log.debug({ instance: rec.name, err: errMsg(err) }, 'warm-up failed (harmless)');
      }
    }
  }

  private warmAnnouncer(vips: readonly Vip[], defaultDev: string | undefined): void {
    try {
      this.deps.announcer.warm?.(vips, defaultDev);
    } catch {
      /* best effort: the first announce opens what it needs */
    }
  }

  // ---- stop ------------------------------------------------------------------------------------

  /** Shown in snapshots; the worker sets it after choosing the thread's scheduling. */
  threadScheduling: VrrpThreadScheduling | undefined;

  /**
   * Graceful stop (SIGTERM/SIGINT): every instance gets `shutdown` — a MASTER sends a priority-0
   * advert and removes its VIPs, notify_stop runs — then the sockets close. Idempotent.
   */
  stop(reason = 'shutdown'): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.stopPromise = (async () => {
      // A stop during startup waits for the start to finish, then stops what it started; a stop
      // during a reload waits for the reload.
      if (this.state === 'starting') await this.startPromise?.catch(() => undefined);
      if (this.reloadsPending > 0) await this.reloadChain;
      await this.doStop(reason);
    })();
    return this.stopPromise;
  }

  private async doStop(reason: string): Promise<void> {
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    // The priority-0 adverts go out first (the backup takes over Skew_Time after them); the
    // timer, the link watch, the log line, GARP aborts, VIP removal and notify scripts follow.
    // All of it is synchronous up to the transports' flush, so nothing runs in between.
    const now = this.machineNow();
    if (wasRunning) {
      for (const u of this.units) {
        try {
          u.command(now, 'shutdown');
        } catch (err) {
          this.log.error({ err: errMsg(err) }, 'shutdown command failed');
        }
        this.drainTransmits(u);
      }
    }
    this.clearTimer();
    this.unwatchLinks?.();
    if (wasRunning) {
      for (const u of this.units) this.drainOutputs(u);
      this.flushLater(); // the transitions to STOP are logged before this line
      this.log.info({ reason }, 'stopping VRRP: priority 0 sent from MASTERs, removing VIPs');
      for (const r of this.recs.values()) r.garpAbort.abort();
      await Promise.all(this.allTransports().map((t) => t.flush()));
      await Promise.all([...this.recs.values()].map((r) => r.chain));
      try {
        await this.deps.notifier?.close?.();
      } catch (err) {
        this.log.warn({ err: errMsg(err) }, 'notifier did not close cleanly');
      }
    }
    for (const t of this.allTransports()) t.close();
    this.closing.clear();
    this.flushLater();
    this.state = 'stopped';
    this.emit({ type: 'stopped', at: this.clock.now() });
  }

  // ---- inputs ----------------------------------------------------------------------------------

  /** Operator commands for the status API. */
  command(name: string, cmd: OperatorCommand): RuntimeResponse {
    const rec = this.recs.get(name);
    if (!rec) return { ok: false, error: `No VRRP instance "${name}"` };
    if (this.state !== 'running') return { ok: false, error: `VRRP is not running (${this.state})` };
    if (!['stepDown', 'maintenanceOn', 'maintenanceOff'].includes(cmd)) return { ok: false, error: `Unknown command "${String(cmd)}"` };
    this.log.info({ instance: name, vrid: rec.resolved.wire.vrid, command: cmd }, 'operator command');
    this.input(rec.unit, (now) => rec.unit.command(now, cmd, name));
    return { ok: true };
  }

  /** A vrrp_script's state changed (from its scheduler): 'init', 'up'/'down' or true/false. */
  scriptState(script: string, state: ScriptState): RuntimeResponse {
    this.states.scripts[script] = state;
    this.retrack((t) => t.kind === 'script' && t.name === script);
    return { ok: true };
  }

  /** A track_file's value changed (from its watcher). */
  fileValue(file: string, value: number): RuntimeResponse {
    this.states.files[file] = value;
    this.retrack((t) => t.kind === 'file' && t.name === file);
    return { ok: true };
  }

  /** Link state change of an interface (from the link monitor). */
  linkChange(ifname: string, up: boolean): RuntimeResponse {
    const was = this.states.interfaces[ifname];
    this.states.interfaces[ifname] = up;
    if (was === up) return { ok: true };
    if (was !== undefined) this.log.info({ interface: ifname, up }, `interface ${ifname} ${up ? 'up' : 'down'}`);
    if (this.state !== 'running') return { ok: true };
    for (const rec of this.recs.values()) {
      if (rec.ownInterface === ifname) this.input(rec.unit, (now) => rec.unit.linkChange(now, rec.name, up));
    }
    this.retrack((t) => t.kind === 'interface' && t.name === ifname);
    return { ok: true };
  }

  private retrack(match: (t: ResolvedTracker) => boolean): void {
    if (this.state !== 'running') return;
    for (const rec of this.recs.values()) {
      if (!rec.trackers.some(match)) continue;
      this.input(rec.unit, (now) => this.applyTrack(rec, now, false));
    }
  }

  /** Recompute the instance's tracker input and give it to the machine if it changed. */
  private applyTrack(rec: InstanceRec, now: number, initial: boolean): void {
    const states: TrackerStates = this.states;
    const r = computeTrack(rec.trackers, rec.config, states);
    let track: TrackInput = { weightDelta: r.weightDelta, fault: r.fault, reason: r.reason };
    if (rec.resolved.configFault) track = { weightDelta: track.weightDelta, fault: true, reason: `${rec.resolved.configFault}; ${track.reason}` };
    const last = rec.lastTrack;
    if (last && last.weightDelta === track.weightDelta && last.fault === track.fault) return;
    if (!last && initial && track.weightDelta === 0 && !track.fault) {
      rec.lastTrack = track;
      return;
    }
    rec.lastTrack = track;
    if (!initial) this.log.info({ instance: rec.name, vrid: rec.resolved.wire.vrid, weight_delta: track.weightDelta, fault: track.fault, reason: track.reason }, `${rec.name}: trackers changed`);
    rec.unit.setTrack(now, rec.name, track);
  }

  /** Plain-data entry point (for a worker's `message` handler or the control socket). */
  handleMessage(req: RuntimeRequest): RuntimeResponse {
    switch (req.type) {
      case 'snapshot':
        return { ok: true, snapshot: this.snapshot() };
      case 'command':
        return this.command(req.instance, req.command);
      case 'scriptState':
        return this.scriptState(req.script, req.state);
      case 'fileValue':
        return this.fileValue(req.file, req.value);
      case 'linkChange':
        return this.linkChange(req.ifname, req.up);
      case 'reload':
        // Fire and forget here (the outcome is logged); `handleRequest` answers with the report.
        void this.reload(req.config).catch(() => undefined);
        return { ok: true };
      case 'stop':
        void this.stop(req.reason);
        return { ok: true };
      default:
        return { ok: false, error: `Unknown request ${JSON.stringify(req)}` };
    }
  }

  /** Like `handleMessage`, but waits for asynchronous requests: `reload` answers with its report. */
  async handleRequest(req: RuntimeRequest): Promise<RuntimeResponse> {
    switch (req.type) {
      case 'reload':
        try {
          return { ok: true, report: await this.reload(req.config) };
        } catch (err) {
          return { ok: false, error: errMsg(err) };
        }
      case 'stop':
        await this.stop(req.reason);
        return { ok: true };
      default:
        return this.handleMessage(req);
    }
  }

  snapshot(): RuntimeSnapshot {
    const ts = this.transportStats();
    const instances: InstanceStatus[] = [...this.recs.values()].map((rec) => {
      const s = rec.inst.snapshot();
      return {
        name: rec.name,
        vrid: s.vrid,
        version: s.version,
        family: rec.resolved.wire.family,
        interface: rec.resolved.wire.interface,
        sourceIp: rec.resolved.params.primaryIp,
        advertIntervalMs: rec.resolved.params.advertIntervalMs,
        syncGroup: s.syncGroup,
        state: s.state,
        basePriority: s.basePriority,
        effectivePriority: s.effectivePriority,
        masterSeen: s.master,
        vips: rec.resolved.vips.map((v) => `${v.address}/${v.prefix}`),
        vipsSet: s.vipsSet,
        maintenance: s.maintenance,
        fault: s.fault,
        tracking: rec.lastTrack ? { ...rec.lastTrack } : undefined,
        recentTransitions: s.transitions,
        counters: s.counters,
        transport: ts?.instances[rec.name],
      };
    });
    let transport: RuntimeSnapshot['transport'];
    if (ts) {
      const { instances: _i, ...rest } = ts;
      transport = rest;
    }
    return {
      at: this.clock.now(),
      running: this.state === 'running',
      transport,
      instances,
      syncGroups: this.groups.map((g) => ({ name: g.name, state: g.state, members: g.members.map((m) => m.name) })),
      ...(this.threadScheduling ? { thread: { ...this.threadScheduling } } : {}),
    };
  }

  // ---- the driver loop -------------------------------------------------------------------------

  /**
   * The time given to the state machines: never before an earlier one. An advert is dated when
   * the kernel received it (`backdateMs` earlier than now), so a BACKUP's Skew_Time and
   * Master_Down_Interval run from the packet's arrival, not from when this thread got to it.
   */
  private machineNow(backdateMs = 0): number {
    const now = Math.max(this.lastMachineAt, this.clock.now() - backdateMs);
    this.lastMachineAt = now;
    return now;
  }

  private input(unit: VrrpUnit, fn: (now: number) => void, backdateMs = 0): void {
    if (this.state !== 'running') return;
    try {
      fn(this.machineNow(backdateMs));
    } catch (err) {
      // A VrrpUsageError is a bug of ours, not of the peer; log it and keep running.
      this.log.error({ err: errMsg(err) }, 'VRRP state machine rejected an input');
    }
    this.drainOutputs(unit);
    this.reschedule();
  }

  private onAdvert(rx: DemuxedAdvert): void {
    const rec = this.recs.get(rx.instance);
    if (!rec) return;
    for (const n of rx.notes) {
      if (n.kind === 'priority-zero') continue;
      this.rateLimited(`note/${rx.instance}/${n.kind}/${rx.srcIp}`, () => ({ instance: rx.instance, vrid: rec.resolved.wire.vrid, src: rx.srcIp, note: n.kind, detail: n.detail }), 'VRRP advert accepted with a warning');
    }
    // ageMs: how long before this callback the kernel received it (bounded by the transport)
    this.input(rec.unit, (now) => rec.unit.handleAdvert(now, rx.instance, rx), Math.min(Math.max(rx.ageMs ?? 0, 0), MAX_BACKDATE_MS));
  }

  private onDrop(d: VrrpDrop): void {
    if (d.kind === 'other') {
      this.log.debug({ vrid: d.vrid, src: d.srcIp, interface: d.ifname }, 'VRRP advert for a VRID we do not run');
      return;
    }
    this.rateLimited(
      `drop/${d.instance ?? '-'}/${d.reason}`,
      () => ({ instance: d.instance, vrid: d.vrid, src: d.srcIp, interface: d.ifname, drop: d.reason, detail: d.detail }),
      'VRRP advert dropped',
    );
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = undefined;
    if (this.state !== 'running') return;
    const now = this.machineNow();
    for (const u of this.units) {
      const due = u.pollTimeout();
      if (due === undefined || due > now) continue;
      try {
        u.handleTimeout(now);
      } catch (err) {
        this.log.error({ err: errMsg(err) }, 'VRRP timer handling failed');
      }
      this.drainOutputs(u);
    }
    this.reschedule();
  }

  private reschedule(): void {
    if (this.state !== 'running') return;
    const now = this.clock.now();
    let next: number | undefined;
    let rehearseAt: number | undefined;
    for (const u of this.units) {
      const t = u.pollTimeout();
      if (t === undefined) continue;
      if (next === undefined || t < next) next = t;
      const r = t - REHEARSAL_LEAD_MS;
      if (r > now && (rehearseAt === undefined || r < rehearseAt) && u.members.some((m) => m.state === 'BACKUP')) rehearseAt = r;
    }
    if (rehearseAt !== this.rehearsalAt) {
      if (this.rehearsal !== undefined) this.clock.clearTimeout(this.rehearsal);
      this.rehearsalAt = rehearseAt;
      this.rehearsal = rehearseAt === undefined ? undefined : this.clock.setTimeout(() => this.onRehearsal(), rehearseAt - now);
    }
    if (next === this.timerAt) return;
    this.clearTimer(false);
    if (next === undefined) return;
    this.timerAt = next;
    this.timer = this.clock.setTimeout(() => this.onTimer(), Math.max(0, next - now));
  }

  private clearTimer(withRehearsal = true): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = undefined;
    if (!withRehearsal) return;
    if (this.rehearsal !== undefined) this.clock.clearTimeout(this.rehearsal);
    this.rehearsal = undefined;
    this.rehearsalAt = undefined;
  }

  /**
   * A BACKUP's timer is REHEARSAL_LEAD_MS away: unless an advert comes first, it takes over then.
   * On a mostly idle director the takeover code and data have left the CPU caches between two
   * adverts (measured: 40 µs for an encode that takes 4 µs right after a first call), so the
   * first takeover ran ~3 ms from timer to GARP against keepalived's ~0.2 ms. The rehearsal runs
   * the same code with nothing sent: the state machine, the advert encoding, the address and
   * frame building.
   */
  private onRehearsal(): void {
    this.rehearsal = undefined;
    this.rehearsalAt = undefined;
    if (this.state !== 'running') return;
    const start = this.clock.now();
    const soon = start + REHEARSAL_LEAD_MS;
    // The code is shared, so a few instances warm it for all: with many backups due together
    // (one master serving many VRIDs died) rehearsing each would eat into the lead itself.
    let done = 0;
    outer: for (const u of this.units) {
      const t = u.pollTimeout();
      if (t === undefined || t > soon) continue;
      for (const m of u.members) {
        if (m.state !== 'BACKUP') continue;
        const rec = this.recs.get(m.name);
        if (rec) this.rehearse(rec);
        if (++done >= REHEARSAL_MAX_INSTANCES || this.clock.now() - start > REHEARSAL_LEAD_MS / 3) break outer;
      }
    }
    this.reschedule();
  }

  private rehearse(rec: InstanceRec): void {
    const { vips, defaultDev } = rec.resolved;
    try {
      exerciseInstance(rec.resolved.params, {}, 1);
      this.routes.get(rec.name)?.warm?.(rec.name, [rec.inst.effectivePriority]);
      this.deps.addresses.rehearse?.(vips, defaultDev);
      this.deps.announcer.rehearse?.(vips, defaultDev);
    } catch (err) {
      this.log.debug({ instance: rec.name, err: errMsg(err) }, 'rehearsal failed (harmless)');
    }
  }

  private drainTransmits(unit: VrrpUnit): void {
    for (let tx = unit.pollTransmit(); tx; tx = unit.pollTransmit()) this.routes.get(tx.instance)?.send(tx.instance, tx.priority);
  }

  /** Drain every output of `unit`: transmits first, then events. */
  private drainOutputs(unit: VrrpUnit): void {
    this.drainTransmits(unit);
    for (let ev = unit.pollEvent(); ev; ev = unit.pollEvent()) this.onUnitEvent(ev);
  }

  private onUnitEvent(ev: UnitEvent): void {
    const now = this.clock.now();
    if (ev.type === 'groupStateChange') {
      this.log.info({ group: ev.group, from: ev.from, to: ev.to, reason: ev.reason }, `sync group ${ev.group}: ${ev.from} -> ${ev.to}`);
      this.emit({ type: 'groupTransition', at: now, group: ev.group, from: ev.from, to: ev.to, reason: ev.reason });
      return;
    }
    if (ev.type === 'groupNotify') {
      if (ev.state === 'BACKUP' || ev.state === 'MASTER' || ev.state === 'FAULT' || ev.state === 'STOP') {
        const g = this.groups.find((x) => x.name === ev.group);
        const chains = g ? g.members.map((m) => this.recs.get(m.name)?.chain ?? Promise.resolve()) : [];
        const state: NotifyState = ev.state;
        const p = Promise.all(chains).then(() => this.notify({ kind: 'group', name: ev.group, state, priority: 0 }));
        this.groupNotifies.set(ev.group, p);
      }
      return;
    }
    const rec = this.recs.get(ev.instance);
    if (!rec) return;
    const e = ev.event;
    const vrid = rec.resolved.wire.vrid;
    switch (e.type) {
      case 'stateChange':
        this.later(() => {
          this.log.info({ instance: rec.name, vrid, from: e.from, to: e.to, reason: e.reason }, `${rec.name}: ${e.from} -> ${e.to}`);
          this.emit({ type: 'transition', at: now, instance: rec.name, vrid, from: e.from, to: e.to, reason: e.reason });
        });
        return;
      case 'addVips':
        rec.garpAbort = new AbortController();
        this.enqueue(rec, () => this.vipOp(rec, 'added'));
        return;
      case 'removeVips':
        rec.garpAbort.abort();
        this.enqueue(rec, () => this.vipOp(rec, 'removed'));
        return;
      case 'sendGarp': {
        // After the VIPs are in place; not on the chain itself, so a long burst never delays a removal.
        const { repeat, intervalMs, cause } = e;
        const signal = rec.garpAbort.signal;
        void rec.chain.then(async () => {
          if (signal.aborted || this.state === 'stopped') return;
          try {
            await this.deps.announcer.announce(rec.resolved.vips, rec.resolved.defaultDev, { repeat, intervalMs, signal });
            this.log.debug({ instance: rec.name, vrid, repeat, cause }, 'gratuitous ARP / NA burst sent');
          } catch (err) {
            this.log.warn({ instance: rec.name, vrid, err: errMsg(err) }, 'gratuitous ARP / NA burst failed');
          }
        });
        return;
      }
      case 'notify': {
        // A removed instance that configures notify_deleted reports DELETED instead of STOP.
        const state: NotifyState = e.state === 'STOP' && rec.deleting && rec.config.instances[rec.name]?.notify_deleted ? 'DELETED' : e.state;
        this.enqueue(rec, () => this.notify({ kind: 'instance', name: rec.name, state, priority: rec.inst.effectivePriority }));
        return;
      }
      case 'priorityChange':
        this.log.info({ instance: rec.name, vrid, from: e.from, to: e.to }, `${rec.name}: effective priority ${e.from} -> ${e.to}`);
        if (rec.config.instances[rec.name]?.notify_priority_changes ?? rec.config.global.vrrp_notify_priority_changes) {
          const st = rec.inst.state;
          if (st === 'MASTER' || st === 'BACKUP') {
            this.enqueue(rec, () => this.notify({ kind: 'instance', name: rec.name, state: st === 'MASTER' ? 'MASTER_PRIORITY' : 'BACKUP_PRIORITY', priority: e.to }));
          }
        }
        return;
      case 'masterSeen':
        this.log.debug({ instance: rec.name, vrid, master: e.srcIp }, `${rec.name}: master is ${e.srcIp}`);
        return;
      case 'otherMasterSeen':
        this.rateLimited(`other/${rec.name}/${e.srcIp}`, () => ({ instance: rec.name, vrid, src: e.srcIp, priority: e.priority }), `${rec.name}: advert from another router while MASTER`);
        this.emit({ type: 'otherMasterSeen', at: now, instance: rec.name, vrid, srcIp: e.srcIp, priority: e.priority });
        return;
      case 'wantMaster':
        return;
    }
  }

  private enqueue(rec: InstanceRec, op: () => Promise<void>): void {
    rec.chain = rec.chain.then(op, op);
  }

  private async vipOp(rec: InstanceRec, action: 'added' | 'removed'): Promise<void> {
    const { vips, defaultDev } = rec.resolved;
    const t0 = this.clock.now();
    try {
      if (action === 'added') await this.deps.addresses.addVips(vips, defaultDev);
      else await this.deps.addresses.removeVips(vips, defaultDev);
      const at = this.clock.now();
      this.later(() => {
        this.log.info({ instance: rec.name, vrid: rec.resolved.wire.vrid, vips: vips.map((v) => `${v.address}/${v.prefix}`), ms: Math.round(at - t0) }, `${rec.name}: VIPs ${action}`);
        this.emit({ type: 'vips', at, instance: rec.name, action, ok: true });
      });
    } catch (err) {
      const at = this.clock.now();
      this.later(() => {
        this.log.error({ instance: rec.name, vrid: rec.resolved.wire.vrid, err: errMsg(err) }, `${rec.name}: VIPs could not be ${action}`);
        this.emit({ type: 'vips', at, instance: rec.name, action, ok: false, error: errMsg(err) });
      });
    }
  }

  /** Queue `fn` for `deps.defer`, in order; `flushLater` runs the queue now (on stop). */
  private later(fn: () => void): void {
    this.laterQueue.push(fn);
    if (this.laterQueue.length === 1) (this.deps.defer ?? setImmediate)(() => this.flushLater());
  }

  private flushLater(): void {
    for (const fn of this.laterQueue.splice(0)) {
      try {
        fn();
      } catch (err) {
        this.log.warn({ err: errMsg(err) }, 'deferred log or event failed');
      }
    }
  }

  private async notify(req: NotifyRequest): Promise<void> {
    if (!this.deps.notifier) return;
    try {
      await this.deps.notifier.notify(req);
    } catch (err) {
      this.log.warn({ [req.kind]: req.name, state: req.state, err: errMsg(err) }, 'notify failed');
    }
  }

  private emit(ev: RuntimeEvent): void {
    try {
      this.deps.onEvent?.(ev);
    } catch (err) {
      this.log.warn({ err: errMsg(err) }, 'runtime event listener failed');
    }
  }

  /** Log at warn at most once per interval per key, with the number suppressed in between. */
  private rateLimited(key: string, fields: () => object, msg: string): void {
    const now = this.clock.now();
    const e = this.dropLog.get(key);
    if (e && now - e.last < this.dropLogIntervalMs) {
      e.suppressed++;
      return;
    }
    this.log.warn({ ...fields(), ...(e?.suppressed ? { suppressed: e.suppressed } : {}) }, msg);
    this.dropLog.set(key, { last: now, suppressed: 0 });
  }
}

async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let t: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p.catch(() => undefined), new Promise((r) => (t = setTimeout(r, ms)))]);
  clearTimeout(t);
}

function errMsg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function errCode(err: unknown): string {
  return (err as { code?: string } | undefined)?.code ?? 'E';
}

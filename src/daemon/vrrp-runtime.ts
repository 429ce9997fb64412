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
 */
import type { Config, Vip } from '../config/schema.js';
import { realClock, type Clock, type TimerHandle } from './clock.js';
import {
  VrrpInstance,
  type ReceivedAdvert,
  type TrackInput,
  type VrrpCommand,
  type VrrpEvent,
  type VrrpSnapshot,
} from '../vrrp/instance.js';
import { resolveInstance, type ResolvedInstance } from '../vrrp/params.js';
import { computeTrack, resolveTrackers, type ResolvedTracker, type ScriptState, type TrackerStates } from '../vrrp/tracking.js';
import { VrrpSyncGroup, type SyncGroupState } from '../vrrp/sync-group.js';
import type { VrrpState } from '../vrrp/transitions.js';
import type {
  InstanceTransportStats,
  ReceivedVrrpAdvert,
  TransportFactory,
  TransportStats,
  VrrpDrop,
  VrrpTransport,
} from './vrrp-socket.js';

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
}

export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP' | 'MASTER_RX_LOWER_PRI' | 'MASTER_PRIORITY' | 'BACKUP_PRIORITY';

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

/** The pino subset the runtime uses. */
export interface RuntimeLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
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
  logger: RuntimeLogger;
  /** Plain-data events out (status API, worker `postMessage`). */
  onEvent?: (ev: RuntimeEvent) => void;
  /** Drop-log rate limit per (instance, reason); default 60 s. */
  dropLogIntervalMs?: number;
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
  | { type: 'stop'; reason?: string };

export type RuntimeResponse =
  | { ok: true; snapshot?: RuntimeSnapshot }
  | { ok: false; error: string };

export type RuntimeEvent =
  | { type: 'transition'; at: number; instance: string; vrid: number; from: VrrpState; to: VrrpState; reason: string }
  | { type: 'groupTransition'; at: number; group: string; from: SyncGroupState; to: SyncGroupState; reason: string }
  | { type: 'vips'; at: number; instance: string; action: 'added' | 'removed'; ok: boolean; error?: string }
  /** While MASTER, an advert from another router arrived (lower: we re-assert; higher: we yield). */
  | { type: 'otherMasterSeen'; at: number; instance: string; vrid: number; srcIp: string; priority: number }
  | { type: 'started'; at: number; instances: string[] }
  | { type: 'stopped'; at: number };

export interface InstanceStatus {
  name: string;
  vrid: number;
  version: 2 | 3;
  family: 4 | 6;
  interface: string | undefined;
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
}

// ------------------------------------------------------------------------------------------------
// Units: a lone instance or a sync group, behind one shape

type UnitEvent =
  | { kind: 'member'; instance: string; event: VrrpEvent }
  | { kind: 'groupState'; group: string; from: SyncGroupState; to: SyncGroupState; reason: string }
  | { kind: 'groupNotify'; group: string; state: Exclude<SyncGroupState, 'INIT'> };

interface Unit {
  readonly members: readonly VrrpInstance[];
  start(now: number): void;
  handleAdvert(now: number, instance: string, adv: ReceivedAdvert): void;
  handleTimeout(now: number): void;
  setTrack(now: number, instance: string, t: TrackInput): void;
  linkChange(now: number, instance: string, up: boolean): void;
  command(now: number, cmd: VrrpCommand, instance?: string): void;
  pollTransmit(): { instance: string; priority: number } | undefined;
  pollEvent(): UnitEvent | undefined;
  pollTimeout(): number | undefined;
}

class SingleUnit implements Unit {
  readonly members: readonly VrrpInstance[];
  constructor(private readonly inst: VrrpInstance) {
    this.members = [inst];
  }
  start(now: number): void {
    this.inst.start(now);
  }
  handleAdvert(now: number, _i: string, adv: ReceivedAdvert): void {
    this.inst.handleAdvert(now, adv);
  }
  handleTimeout(now: number): void {
    this.inst.handleTimeout(now);
  }
  setTrack(now: number, _i: string, t: TrackInput): void {
    this.inst.setTrack(now, t);
  }
  linkChange(now: number, _i: string, up: boolean): void {
    this.inst.linkChange(now, up);
  }
  command(now: number, cmd: VrrpCommand): void {
    this.inst.command(now, cmd);
  }
  pollTransmit(): { instance: string; priority: number } | undefined {
    const tx = this.inst.pollTransmit();
    return tx ? { instance: this.inst.name, priority: tx.priority } : undefined;
  }
  pollEvent(): UnitEvent | undefined {
    const ev = this.inst.pollEvent();
    return ev ? { kind: 'member', instance: this.inst.name, event: ev } : undefined;
  }
  pollTimeout(): number | undefined {
    return this.inst.pollTimeout();
  }
}

class GroupUnit implements Unit {
  readonly members: readonly VrrpInstance[];
  constructor(readonly group: VrrpSyncGroup) {
    this.members = group.instances;
  }
  start(now: number): void {
    this.group.start(now);
  }
  handleAdvert(now: number, i: string, adv: ReceivedAdvert): void {
    this.group.handleAdvert(now, i, adv);
  }
  handleTimeout(now: number): void {
    this.group.handleTimeout(now);
  }
  setTrack(now: number, i: string, t: TrackInput): void {
    this.group.setTrack(now, i, t);
  }
  linkChange(now: number, i: string, up: boolean): void {
    this.group.linkChange(now, i, up);
  }
  command(now: number, cmd: VrrpCommand, i?: string): void {
    this.group.command(now, cmd, i);
  }
  pollTransmit(): { instance: string; priority: number } | undefined {
    const tx = this.group.pollTransmit();
    return tx ? { instance: tx.instance, priority: tx.priority } : undefined;
  }
  pollEvent(): UnitEvent | undefined {
    const ev = this.group.pollEvent();
    if (!ev) return undefined;
    if (ev.type === 'member') return { kind: 'member', instance: ev.instance, event: ev.event };
    if (ev.type === 'groupStateChange') return { kind: 'groupState', group: ev.group, from: ev.from, to: ev.to, reason: ev.reason };
    return { kind: 'groupNotify', group: ev.group, state: ev.state };
  }
  pollTimeout(): number | undefined {
    return this.group.pollTimeout();
  }
}

// ------------------------------------------------------------------------------------------------
// Per-instance bookkeeping

interface InstanceRec {
  name: string;
  resolved: ResolvedInstance;
  inst: VrrpInstance;
  unit: Unit;
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

// ------------------------------------------------------------------------------------------------
// The runtime

export class VrrpRuntimeError extends Error {
  override name = 'VrrpRuntimeError';
}

export class VrrpRuntime {
  private readonly clock: Clock;
  private readonly log: RuntimeLogger;
  private readonly recs = new Map<string, InstanceRec>();
  private readonly units: Unit[] = [];
  private readonly groups: GroupUnit[] = [];
  private transport: VrrpTransport | undefined;
  private timer: TimerHandle;
  private timerAt: number | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopPromise: Promise<void> | undefined;
  private startPromise: Promise<void> | undefined;
  private unwatchLinks: (() => void) | undefined;
  private readonly dropLog = new Map<string, { last: number; suppressed: number }>();
  /** Tracked object states (interfaces, vrrp_scripts, track_files), plain data. */
  private readonly states: { interfaces: Record<string, boolean>; scripts: Record<string, ScriptState>; files: Record<string, number> } = {
    interfaces: {},
    scripts: {},
    files: {},
  };
  private readonly dropLogIntervalMs: number;

  constructor(private readonly deps: VrrpRuntimeDeps) {
    this.clock = deps.clock ?? realClock;
    this.log = deps.logger;
    this.dropLogIntervalMs = deps.dropLogIntervalMs ?? 60_000;
  }

  get running(): boolean {
    return this.state === 'running';
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
    const { config } = this.deps;
    try {
      // 1. Resolve every instance (the source address needs the interface's primary address).
      const resolved: ResolvedInstance[] = [];
      for (const name of Object.keys(config.instances)) {
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

      // 2. Stale VIPs from an earlier run (keepalived: "removing VIPs" at startup).
      for (const r of resolved) {
        try {
          await this.deps.addresses.cleanupStale(r.vips, r.defaultDev);
        } catch (err) {
          this.log.warn({ instance: r.name, err: errMsg(err) }, 'could not remove stale VIPs');
        }
      }

      // 3. State machines and sync groups.
      const inGroup = new Map<string, string>();
      for (const [gname, g] of Object.entries(config.sync_groups)) for (const m of g.group) inGroup.set(m, gname);
      const insts = new Map<string, VrrpInstance>();
      for (const r of resolved) {
        const inst = new VrrpInstance(r.params);
        for (const w of inst.configWarnings) this.log.warn({ instance: r.name, vrid: r.wire.vrid }, w);
        insts.set(r.name, inst);
      }
      for (const [gname, g] of Object.entries(config.sync_groups)) {
        const members = g.group.map((m) => insts.get(m)).filter((m): m is VrrpInstance => m !== undefined);
        if (members.length === 0) continue;
        const unit = new GroupUnit(new VrrpSyncGroup({ name: gname }, members));
        this.units.push(unit);
        this.groups.push(unit);
      }
      for (const r of resolved) {
        const inst = insts.get(r.name)!;
        const gname = inGroup.get(r.name);
        const unit = gname ? this.groups.find((g) => g.group.name === gname) : undefined;
        const u = unit ?? new SingleUnit(inst);
        if (!unit) this.units.push(u);
        const cfg = config.instances[r.name]!;
        const tr = resolveTrackers(config, r.name);
        for (const w of tr.warnings) this.log.warn({ instance: r.name, vrid: r.wire.vrid }, w);
        const trackers = tr.trackers.filter((t) => {
          if (t.kind !== 'process') return true;
          this.log.warn({ instance: r.name, vrid: r.wire.vrid }, `track_process ${t.name} is not supported in this build yet; ignored`);
          return false;
        });
        this.recs.set(r.name, {
          name: r.name,
          resolved: r,
          inst,
          unit: u,
          chain: Promise.resolve(),
          ownInterface: cfg.interface && !cfg.dont_track_primary ? cfg.interface : undefined,
          trackers,
          lastTrack: undefined,
          garpAbort: new AbortController(),
        });
      }

      // 4. Link states (initial state before the machines start). Without a link watcher every
      //    interface counts as up.
      const ifnames = [
        ...new Set([...this.recs.values()].flatMap((r) => [...(r.ownInterface ? [r.ownInterface] : []), ...r.trackers.filter((t) => t.kind === 'interface').map((t) => t.name)])),
      ];
      if (this.deps.links && ifnames.length > 0) {
        const w = this.deps.links.watch(ifnames, (ifname, up) => this.linkChange(ifname, up));
        this.unwatchLinks = () => w.close();
        if (w.ready) await withTimeout(w.ready, 5000);
      }
      for (const i of ifnames) this.states.interfaces[i] ??= true;

      // 5. Sockets.
      const transport = this.deps.transport(
        resolved.map((r) => ({ wire: r.wire, srcIp: r.params.primaryIp, expectations: r.expectations })),
        {
          onAdvert: (rx) => this.onAdvert(rx),
          onDrop: (d) => this.onDrop(d),
          onError: (err, ctx) => this.rateLimited(`err/${ctx.instance ?? ctx.socket ?? ''}/${ctx.op}/${errCode(err)}`, () => ({ ...ctx, err: errMsg(err) }), 'VRRP socket error'),
          onOldUnicastChecksum: (instance, peer) =>
            this.log.warn({ instance, peer }, 'peer uses the old (keepalived <= 1.3.6) VRRPv3 unicast checksum; switched to it'),
        },
      );
      await transport.open();
      this.transport = transport;

      // 6. Initial conditions (recorded in INIT; start() then picks BACKUP or FAULT), then start.
      const now = this.clock.now();
      for (const rec of this.recs.values()) {
        if (rec.ownInterface && this.states.interfaces[rec.ownInterface] === false) rec.unit.linkChange(now, rec.name, false);
        this.applyTrack(rec, now, true);
      }
      this.state = 'running';
      for (const u of this.units) {
        u.start(now);
        this.drain(u);
      }
      this.reschedule();
      for (const rec of this.recs.values()) {
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
          'VRRP instance started',
        );
      }
      this.emit({ type: 'started', at: now, instances: this.instanceNames });
    } catch (err) {
      this.state = 'stopped';
      this.transport?.close();
      this.transport = undefined;
      this.unwatchLinks?.();
      throw err;
    }
  }

  /**
   * Graceful stop (SIGTERM/SIGINT): every instance gets `shutdown` — a MASTER sends a priority-0
   * advert and removes its VIPs, notify_stop runs — then the sockets close. Idempotent.
   */
  stop(reason = 'shutdown'): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.stopPromise = (async () => {
      // A stop during startup waits for the start to finish, then stops what it started.
      if (this.state === 'starting') await this.startPromise?.catch(() => undefined);
      await this.doStop(reason);
    })();
    return this.stopPromise;
  }

  private async doStop(reason: string): Promise<void> {
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    this.clearTimer();
    this.unwatchLinks?.();
    if (wasRunning) {
      this.log.info({ reason }, 'stopping VRRP: priority 0 from MASTERs, removing VIPs');
      const now = this.clock.now();
      for (const u of this.units) {
        try {
          u.command(now, 'shutdown');
        } catch (err) {
          this.log.error({ err: errMsg(err) }, 'shutdown command failed');
        }
        this.drainOutputs(u);
      }
      for (const r of this.recs.values()) r.garpAbort.abort();
      await this.transport?.flush();
      await Promise.all([...this.recs.values()].map((r) => r.chain));
      try {
        await this.deps.notifier?.close?.();
      } catch (err) {
        this.log.warn({ err: errMsg(err) }, 'notifier did not close cleanly');
      }
    }
    this.transport?.close();
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
    const r = computeTrack(rec.trackers, this.deps.config, states);
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
      case 'stop':
        void this.stop(req.reason);
        return { ok: true };
      default:
        return { ok: false, error: `Unknown request ${JSON.stringify(req)}` };
    }
  }

  snapshot(): RuntimeSnapshot {
    const ts = this.transport?.stats();
    const instances: InstanceStatus[] = [...this.recs.values()].map((rec) => {
      const s = rec.inst.snapshot();
      return {
        name: rec.name,
        vrid: s.vrid,
        version: s.version,
        family: rec.resolved.wire.family,
        interface: rec.resolved.wire.interface,
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
      syncGroups: this.groups.map((g) => ({ name: g.group.name, state: g.group.state, members: g.members.map((m) => m.name) })),
    };
  }

  // ---- the driver loop -------------------------------------------------------------------------

  private input(unit: Unit, fn: (now: number) => void): void {
    if (this.state !== 'running') return;
    try {
      fn(this.clock.now());
    } catch (err) {
      // A VrrpUsageError is a bug of ours, not of the peer; log it and keep running.
      this.log.error({ err: errMsg(err) }, 'VRRP state machine rejected an input');
    }
    this.drain(unit);
    this.reschedule();
  }

  private onAdvert(rx: ReceivedVrrpAdvert): void {
    const rec = this.recs.get(rx.instance);
    if (!rec) return;
    for (const n of rx.notes) {
      if (n.kind === 'priority-zero') continue;
      this.rateLimited(`note/${rx.instance}/${n.kind}/${rx.srcIp}`, () => ({ instance: rx.instance, vrid: rec.resolved.wire.vrid, src: rx.srcIp, note: n.kind, detail: n.detail }), 'VRRP advert accepted with a warning');
    }
    const a = rx.advert;
    const adv: ReceivedAdvert = {
      srcIp: rx.srcIp,
      priority: a.priority,
      advertIntervalMs: a.version === 2 ? a.advertIntervalS * 1000 : a.advertIntervalCs * 10,
    };
    this.input(rec.unit, (now) => rec.unit.handleAdvert(now, rx.instance, adv));
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
    const now = this.clock.now();
    for (const u of this.units) {
      const due = u.pollTimeout();
      if (due === undefined || due > now) continue;
      try {
        u.handleTimeout(now);
      } catch (err) {
        this.log.error({ err: errMsg(err) }, 'VRRP timer handling failed');
      }
      this.drain(u);
    }
    this.reschedule();
  }

  private reschedule(): void {
    if (this.state !== 'running') return;
    let next: number | undefined;
    for (const u of this.units) {
      const t = u.pollTimeout();
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    if (next === this.timerAt) return;
    this.clearTimer();
    if (next === undefined) return;
    this.timerAt = next;
    this.timer = this.clock.setTimeout(() => this.onTimer(), Math.max(0, next - this.clock.now()));
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = undefined;
  }

  /** Drain every output of `unit`: transmits first, then events. */
  private drain(unit: Unit): void {
    this.drainOutputs(unit);
  }

  private drainOutputs(unit: Unit): void {
    for (let tx = unit.pollTransmit(); tx; tx = unit.pollTransmit()) this.transport?.send(tx.instance, tx.priority);
    for (let ev = unit.pollEvent(); ev; ev = unit.pollEvent()) this.onUnitEvent(ev);
  }

  private onUnitEvent(ev: UnitEvent): void {
    const now = this.clock.now();
    if (ev.kind === 'groupState') {
      this.log.info({ group: ev.group, from: ev.from, to: ev.to, reason: ev.reason }, `sync group ${ev.group}: ${ev.from} -> ${ev.to}`);
      this.emit({ type: 'groupTransition', at: now, group: ev.group, from: ev.from, to: ev.to, reason: ev.reason });
      return;
    }
    if (ev.kind === 'groupNotify') {
      if (ev.state === 'BACKUP' || ev.state === 'MASTER' || ev.state === 'FAULT' || ev.state === 'STOP') {
        const g = this.groups.find((x) => x.group.name === ev.group);
        const chains = g ? g.members.map((m) => this.recs.get(m.name)?.chain ?? Promise.resolve()) : [];
        void Promise.all(chains).then(() => this.notify({ kind: 'group', name: ev.group, state: ev.state as NotifyState, priority: 0 }));
      }
      return;
    }
    const rec = this.recs.get(ev.instance);
    if (!rec) return;
    const e = ev.event;
    const vrid = rec.resolved.wire.vrid;
    switch (e.type) {
      case 'stateChange':
        this.log.info({ instance: rec.name, vrid, from: e.from, to: e.to, reason: e.reason }, `${rec.name}: ${e.from} -> ${e.to}`);
        this.emit({ type: 'transition', at: now, instance: rec.name, vrid, from: e.from, to: e.to, reason: e.reason });
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
      case 'notify':
        this.enqueue(rec, () => this.notify({ kind: 'instance', name: rec.name, state: e.state, priority: rec.inst.effectivePriority }));
        return;
      case 'priorityChange':
        this.log.info({ instance: rec.name, vrid, from: e.from, to: e.to }, `${rec.name}: effective priority ${e.from} -> ${e.to}`);
        if (this.deps.config.instances[rec.name]?.notify_priority_changes ?? this.deps.config.global.vrrp_notify_priority_changes) {
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
      this.log.info(
        { instance: rec.name, vrid: rec.resolved.wire.vrid, vips: vips.map((v) => `${v.address}/${v.prefix}`), ms: Math.round(this.clock.now() - t0) },
        `${rec.name}: VIPs ${action}`,
      );
      this.emit({ type: 'vips', at: this.clock.now(), instance: rec.name, action, ok: true });
    } catch (err) {
      this.log.error({ instance: rec.name, vrid: rec.resolved.wire.vrid, err: errMsg(err) }, `${rec.name}: VIPs could not be ${action}`);
      this.emit({ type: 'vips', at: this.clock.now(), instance: rec.name, action, ok: false, error: errMsg(err) });
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

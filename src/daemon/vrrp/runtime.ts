/**
 * The VRRP driver: the only place where the sans-IO units (`src/vrrp`: a lone instance or a sync
 * group) meet a clock, sockets and the kernel. Shaped like quinn's `ConnectionDriver`: every input
 * (a received advert, a timer, a link or tracker change, an operator command, a reload's new
 * parameters) goes into the unit, and after EVERY input all outputs are drained in the machine's
 * order — `pollTransmit()` first (adverts go out synchronously, so on takeover our advert precedes
 * our GARPs), then `pollEvent()` (VIPs, GARP/NA bursts, notifies, logs), then `pollTimeout()`
 * re-arms the single timer. It runs in the VRRP worker thread (worker.ts), away from anything
 * (health checks) that could delay adverts.
 *
 * Everything it touches is injected (`VrrpRuntimeDeps`, types.ts). Its side effects run per
 * instance on effects.ts's chains; its sockets are transport-set.ts's. Inputs and outputs are plain
 * data (`handleMessage(req)` / `onEvent(ev)`). The password (`auth_pass`) is never logged.
 *
 * Hitless reload (`reload(config)`, SIGHUP; keepalived #2159 dropped every instance's VIPs when one
 * was removed): reload.ts diffs the configs per instance and sync group, then
 * 1. prepare — resolve, build and open everything new (source addresses, state machines, link
 *    watch, sockets, retuned parameters); any failure refuses the reload and leaves the running
 *    config untouched;
 * 2. commit, in one synchronous step — removed and changed units (another VRID, interface or
 *    family) get `shutdown` exactly as on SIGTERM but for that unit only (a MASTER sends priority 0
 *    and removes ITS VIPs; notify_stop, or notify_deleted); retuned instances take their new
 *    parameters in place (same machine and state; a MASTER's VIP list edits applied as a
 *    difference); sockets whose instances changed are swapped; changed and added units start
 *    fresh. Unchanged units are not touched at all;
 * 3. settle — the stopped instances' VIP removals and notifies finish, then `config` switches to
 *    the new config (a removed instance's notify_stop runs from the old config, new instances'
 *    scripts from the new one); retired sockets are flushed (priority-0 adverts) and closed.
 *
 * The file is longer than most: the commit touches every part of the driver's state in one
 * synchronous step, and keeping it here keeps that state private to one class.
 */
import type { Config, Vip } from '../../config/schema.js';
import type { NotifyState } from '../../vocab/states.js';
import { realClock, type Clock, type TimerHandle } from '../../sys/clock.js';
import type { Logger } from '../../sys/logger.js';
import { LogLimiter } from '../../sys/log-limiter.js';
import { VrrpInstance, validateParams, type TrackInput } from '../../vrrp/instance.js';
import { resolveInstance, type ResolvedInstance } from '../../vrrp/params.js';
import { computeTrack, resolveTrackers, type ResolvedTracker, type ScriptState, type TrackerStates } from '../../vrrp/tracking.js';
import { VrrpSyncGroup } from '../../vrrp/sync-group.js';
import { withVipInterfaces } from '../../vrrp/vip-tracking.js';
import { LoneInstance, type UnitEvent, type VrrpUnit } from '../../vrrp/unit.js';
import { exerciseInstance } from '../../vrrp/warm.js';
import type { DemuxedAdvert, TransportInstance, VrrpDrop } from '../../vrrp/advert-demux.js';
import { InstanceEffects, errMsg } from './effects.js';
import { GarpExtraIf } from './garp-extra.js';
import { TransportSet, type TransportSlot } from './transport-set.js';
import { diffVrrpConfig, instancesByAction, sameData, type ReloadAction } from './reload.js';
import type { InstanceRec, InstanceStatus, NotifyRequest, OperatorCommand, ReloadReport, RuntimeEvent, RuntimeRequest, RuntimeResponse, RuntimeSnapshot, VrrpRuntimeDeps, VrrpThreadScheduling } from './types.js';


/** After a failed VIP add, the instance waits this long in FAULT before it competes again; doubling. */
export const VIP_RETRY_MS = 5_000;
export const VIP_RETRY_MAX_MS = 300_000;

/** An advert is dated back to its kernel receive time by at most this much (see `machineNow`). */
const MAX_BACKDATE_MS = 100;

/** How long before a BACKUP's timer expires the runtime rehearses its takeover (see `onRehearsal`). */
export const REHEARSAL_LEAD_MS = 3;
/** At most this many instances are rehearsed per pass (and for at most a third of the lead). */
export const REHEARSAL_MAX_INSTANCES = 2;

function ifnamesOf(recs: Iterable<Pick<InstanceRec, 'ownInterface' | 'trackers'>>): string[] {
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
  private readonly transports: TransportSet;
  private readonly effects: InstanceEffects;
  private timer: TimerHandle;
  private timerAt: number | undefined;
  private lastMachineAt = -Infinity;
  /** The rehearsal before the earliest BACKUP timer (see `rehearse`). */
  private rehearsal: TimerHandle;
  private rehearsalAt: number | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopPromise: Promise<void> | undefined;
  private startPromise: Promise<void> | undefined;
  private cancelStartupDelay: (() => void) | undefined;
  /** Reloads run one after the other; a stop waits for the one in progress. */
  private reloadChain: Promise<unknown> = Promise.resolve();
  private reloadsPending = 0;
  private unwatchLinks: (() => void) | undefined;
  private watched = new Set<string>();
  /** Last group notify per sync group (a reload waits for a stopped group's STOP notify). */
  private readonly groupNotifies = new Map<string, Promise<void>>();
  /** Tracked object states (interfaces, vrrp_scripts, track_files, track_processes), plain data. */
  private readonly states: {
    interfaces: Record<string, boolean>;
    scripts: Record<string, ScriptState>;
    files: Record<string, number>;
    processes: Record<string, number>;
    processQuorum: Record<string, boolean>;
  } = {
    interfaces: {},
    scripts: {},
    files: {},
    processes: {},
    processQuorum: {},
  };
  /** How track_process follows processes (set by the trackers' adapter), shown in status. */
  processMonitorStatus: (() => RuntimeSnapshot['processMonitor']) | undefined;
  private readonly logLimiter: LogLimiter;

  private readonly laterQueue: (() => void)[] = [];
  private readonly warmedKinds = new Map<string, number>();

  constructor(private readonly deps: VrrpRuntimeDeps) {
    this.clock = deps.clock ?? realClock;
    this.log = deps.logger;
    this.logLimiter = new LogLimiter({ intervalMs: deps.dropLogIntervalMs ?? 60_000 });
    this.cfg = deps.config;
    this.effects = new InstanceEffects({
      addresses: deps.addresses,
      announcer: deps.announcer,
      notifier: deps.notifier,
      extras: deps.extras,
      clock: this.clock,
      log: this.log,
      later: (fn) => this.later(fn),
      emit: (ev) => this.emit(ev),
      stopped: () => this.state === 'stopped',
      onVips: (rec, action, error) => this.onVips(rec, action, error),
      garpExtra: new GarpExtraIf({
        clock: this.clock,
        announcer: deps.announcer,
        log: this.log,
        vmacNames: () => new Set([...this.recs.values()].flatMap((r) => (r.resolved.vmac ? [r.resolved.vmac.name] : []))),
        stopped: () => this.state === 'stopped',
      }),
    });
    this.transports = new TransportSet(deps.transport, {
      onAdvert: (rx) => this.onAdvert(rx),
      onDrop: (d) => this.onDrop(d),
      onError: (err, ctx) => this.rateLimited(`err/${ctx.instance ?? ctx.socket ?? ''}/${ctx.op}/${errCode(err)}`, () => ({ ...ctx, err: errMsg(err) }), 'VRRP socket error'),
      onOldUnicastChecksum: (instance, peer) => this.log.warn({ instance, peer }, 'peer uses the old (keepalived <= 1.3.6) VRRPv3 unicast checksum; switched to it'),
    });
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
    // vrrp_startup_delay: nothing starts (no socket, no advert, no VIP) until it passes; a stop
    // during it ends it
    if (config.global.vrrp_startup_delay > 0) {
      const ms = config.global.vrrp_startup_delay;
      this.log.info({ delay_ms: ms }, `VRRP start delayed by vrrp_startup_delay (${ms / 1000} s)`);
      await new Promise<void>((resolve) => {
        const t = this.clock.setTimeout(resolve, ms);
        this.cancelStartupDelay = () => {
          this.clock.clearTimeout(t);
          resolve();
        };
      });
      this.cancelStartupDelay = undefined;
      if (this.stopPromise) return;
    }
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

      // VMAC interfaces (the sockets bind to them), static addresses / routes / rules.
      await this.deps.extras?.prepare(config, resolved, true);

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
      const parts = this.transports.partition(built.recs.map((r) => r.ti));
      this.transports.install(await this.transports.open([...parts]), parts);
      this.warmInstances(built.recs);

      // 6. Initial conditions (recorded in INIT; start() then picks BACKUP or FAULT), then start.
      const now = this.machineNow();
      for (const rec of this.recs.values()) {
        this.initialConditions(rec, now);
        if (this.deps.holdPreemptionAtStart) rec.inst.holdPreemption();
      }
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
      this.transports.closeAll();
      this.unwatchLinks?.();
      await this.deps.extras?.close();
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
        // with use_vmac the VMAC may not exist yet: the base interface's address is the source
        const ifname = probe.vmac?.base ?? probe.wire.interface;
        src = (await this.deps.addresses.primaryAddress(ifname, probe.wire.family)) ?? undefined;
        if (src === undefined && (await this.deps.addresses.interfaceExists?.(ifname)) === false) {
          throw new VrrpRuntimeError(`Instance "${name}": no interface ${ifname} on this host (its network namespace); fix interface, or run where it exists`);
        }
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
      const trackers = this.trackersOf(config, r);
      recs.push({
        name: r.name,
        resolved: r,
        config,
        ti: transportInstance(r),
        deleting: false,
        inst,
        unit: u,
        chain: Promise.resolve(),
        ownInterface: this.ownInterfaceOf(config, r.name),
        trackers,
        lastTrack: undefined,
        garpAbort: new AbortController(),
        vipFault: undefined,
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
    await this.deps.extras?.prepare(next, resolved, false);
    const built = this.build(next, resolved);
    // Retuned instances keep their machine; what they will run with is resolved now.
    const retunes = new Map<string, { rec: InstanceRec; r: ResolvedInstance; trackers: ResolvedTracker[] }>();
    for (const r of await this.resolveAll(next, by.retuned)) {
      const rec = this.recs.get(r.name);
      if (!rec) continue;
      validateParams(r.params); // refuses the reload, with nothing changed, when they cannot run
      retunes.set(r.name, { rec, r, trackers: this.trackersOf(next, r) });
    }
    const tiOf = (rec: InstanceRec): TransportInstance => {
      const t = retunes.get(rec.name);
      return t ? transportInstance(t.r) : rec.ti;
    };
    const stopUnits = this.units.filter((u) => u.members.some((m) => stopNames.has(m.name)));
    const strays = stopUnits.flatMap((u) => u.members.filter((m) => !stopNames.has(m.name)).map((m) => m.name));
    if (strays.length > 0) throw new VrrpRuntimeError(`internal: ${strays.join(', ')} would be stopped with their sync group but are not restarted`);
    const newRecs = new Map(built.recs.map((r) => [r.name, r]));
    const finalRecs = Object.keys(next.instances)
      .map((n) => newRecs.get(n) ?? (stopNames.has(n) ? undefined : this.recs.get(n)))
      .filter((r): r is InstanceRec => r !== undefined);

    // Links: watch again only when a new interface must be followed.
    const ifnames = ifnamesOf(
      finalRecs.map((rec) => {
        const t = retunes.get(rec.name);
        return t ? { ownInterface: this.ownInterfaceOf(next, rec.name), trackers: t.trackers } : rec;
      }),
    );
    let watch: { close(): void } | undefined;
    if (this.deps.links && ifnames.some((i) => !this.watched.has(i))) {
      const w = this.deps.links.watch(ifnames, (ifname, up) => this.linkChange(ifname, up));
      watch = w;
      if (w.ready) await withTimeout(w.ready, 5000);
    }

    // Sockets: open those that are new or serve a different set of instances; keep the rest.
    const parts = this.transports.partition(finalRecs.map(tiOf));
    let opened: TransportSlot[];
    try {
      opened = await this.transports.open(this.transports.changed(parts, sameData));
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
    for (const r of stoppedRecs) {
      r.garpAbort.abort();
      this.clearVipFault(r);
    }
    const stoppedGroups = stopUnits.flatMap((u) => (u.group !== undefined ? [u.group] : []));
    const oldWork = [...stoppedRecs.map((r) => r.chain), ...stoppedGroups.map((g) => this.groupNotifies.get(g) ?? Promise.resolve())];
    this.units = this.units.filter((u) => !stopUnits.includes(u));
    this.groups = this.groups.filter((g) => !stopUnits.includes(g));
    for (const r of stoppedRecs) this.recs.delete(r.name);
    for (const g of stoppedGroups) this.groupNotifies.delete(g);
    // Kept instances run under the new config from now on (notify settings, applied in place);
    // retuned ones take their new parameters, VIPs and trackers without leaving their state.
    for (const r of this.recs.values()) r.config = next;
    for (const { rec, r, trackers } of retunes.values()) this.retune(rec, r, trackers, now);

    // Swap the sockets whose instance set changed; retire those no longer needed.
    const retiring = this.transports.install(opened, parts);
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
    for (const p of diff.trackers.processes.removed) {
      delete this.states.processes[p];
      delete this.states.processQuorum[p];
    }

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
    for (const t of retiring) this.transports.retire(t, (name) => this.recs.has(name));
    await settled;
    await this.deps.extras?.reloaded?.(next, [...this.recs.values()].map((r) => r.resolved));

    const groupsBy = (a: ReloadAction) => diff.syncGroups.filter((g) => g.action === a).map((g) => g.name);
    const report: ReloadReport = {
      unchanged: by.unchanged,
      updated: by.updated,
      retuned: by.retuned,
      restarted: by.changed,
      added: by.added,
      removed: by.removed,
      syncGroups: { unchanged: groupsBy('unchanged'), updated: groupsBy('updated'), retuned: groupsBy('retuned'), restarted: groupsBy('changed'), added: groupsBy('added'), removed: groupsBy('removed') },
      trackers: diff.trackers,
      reasons: Object.fromEntries(diff.instances.filter((d) => d.reasons.length > 0).map((d) => [d.name, d.reasons])),
      notes: diff.notes,
    };
    for (const n of diff.notes) this.log.warn({}, n);
    this.log.info(
      {
        unchanged: report.unchanged,
        updated: report.updated,
        retuned: report.retuned,
        restarted: report.restarted,
        added: report.added,
        removed: report.removed,
        sync_groups: report.syncGroups,
        reasons: report.reasons,
        sockets: { opened: opened.map((s) => s.key), closed: retiring.length, kept: this.transports.size - opened.length },
      },
      'VRRP config reloaded',
    );
    this.emit({ type: 'reloaded', at: this.clock.now(), report });
    return report;
  }

  /**
   * A reload's new parameters for a running instance, in place: the machine keeps its state and
   * timers (VrrpInstance.retune); if it holds its VIPs, added ones are added (and announced) and
   * removed ones removed, the rest untouched; trackers are re-resolved and re-applied.
   */
  private retune(rec: InstanceRec, r: ResolvedInstance, trackers: ResolvedTracker[], now: number): void {
    const before = rec.resolved.vips;
    rec.resolved = r;
    rec.ti = transportInstance(r);
    rec.trackers = trackers;
    rec.ownInterface = this.ownInterfaceOf(rec.config, r.name);
    try {
      rec.unit.retune(now, rec.name, r.params);
    } catch (err) {
      this.log.error({ instance: rec.name, err: errMsg(err) }, 'VRRP state machine rejected the new parameters');
    }
    if (rec.inst.snapshot().vipsSet) {
      const added = r.vips.filter((v) => !before.some((b) => sameData(b, v)));
      const removed = before.filter((b) => !r.vips.some((v) => sameData(b, v)));
      if (added.length || removed.length) this.effects.vipDelta(rec, added, removed, r.params.garp.masterRepeat);
    }
    this.applyTrack(rec, now, false);
    this.drainOutputs(rec.unit);
    this.log.info({ instance: rec.name, vrid: r.wire.vrid, state: rec.inst.state, priority: r.params.priority }, 'VRRP instance retuned by reload: new parameters applied in place');
  }

  /** The instance's trackers under `config` (keepalived's warnings about them logged). */
  private trackersOf(config: Config, r: ResolvedInstance): ResolvedTracker[] {
    const tr = resolveTrackers(config, r.name);
    for (const w of tr.warnings) this.log.warn({ instance: r.name, vrid: r.wire.vrid }, w);
    const own = config.instances[r.name];
    return withVipInterfaces(tr.trackers, { vips: r.vips, defaultDev: r.defaultDev, interface: own?.interface });
  }

  /** The instance's own interface, followed with `linkChange` (unless `dont_track_primary`). */
  private ownInterfaceOf(config: Config, name: string): string | undefined {
    const cfg = config.instances[name];
    return cfg?.interface && !cfg.dont_track_primary ? cfg.interface : undefined;
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
        this.transports.route(rec.name)?.warm?.(rec.name, [p.priority, 0]);
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
      this.cancelStartupDelay?.();
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
    for (const r of this.recs.values()) this.clearVipFault(r);
    if (wasRunning) {
      for (const u of this.units) this.drainOutputs(u);
      this.flushLater(); // the transitions to STOP are logged before this line
      this.log.info({ reason }, 'stopping VRRP: priority 0 sent from MASTERs, removing VIPs');
      for (const r of this.recs.values()) r.garpAbort.abort();
      await Promise.all(this.transports.all().map((t) => t.flush()));
      await Promise.all([...this.recs.values()].map((r) => r.chain));
      await this.deps.extras?.close();
      try {
        await this.deps.notifier?.close?.();
      } catch (err) {
        this.log.warn({ err: errMsg(err) }, 'notifier did not close cleanly');
      }
    }
    this.transports.closeAll();
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

  /** A track_process's count or quorum changed (from the process monitor). */
  processState(name: string, state: { count: number; quorum: boolean }): RuntimeResponse {
    this.states.processes[name] = state.count;
    this.states.processQuorum[name] = state.quorum;
    this.retrack((t) => t.kind === 'process' && t.name === name);
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
    if (rec.vipFault) track = { weightDelta: track.weightDelta, fault: true, reason: `VIPs could not be added (${rec.vipFault.error})` };
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

  /**
   * A VIP change finished (on the instance's effect chain). A MASTER without its VIPs must not
   * hold mastership: the peer would never take over. A failed add holds the instance in FAULT (a
   * MASTER sends priority 0 on the way, so the peer takes over at once) and, after a backoff
   * (VIP_RETRY_MS doubling up to VIP_RETRY_MAX_MS), lets it compete again: it tries the add once
   * it is MASTER again. A successful add clears the count.
   */
  private onVips(rec: InstanceRec, action: 'added' | 'removed', error: string | undefined): void {
    if (action !== 'added' || this.state !== 'running' || this.recs.get(rec.name) !== rec) return;
    if (error === undefined) {
      this.clearVipFault(rec);
      rec.vipFailures = 0;
      return;
    }
    rec.vipFailures = (rec.vipFailures ?? 0) + 1;
    const delay = Math.min(VIP_RETRY_MS * 2 ** (rec.vipFailures - 1), VIP_RETRY_MAX_MS);
    const timer = this.clock.setTimeout(() => {
      if (rec.vipFault?.timer !== timer || this.recs.get(rec.name) !== rec) return;
      rec.vipFault = undefined;
      this.log.info({ instance: rec.name, vrid: rec.resolved.wire.vrid, failures: rec.vipFailures }, `${rec.name}: retrying the VIPs: leaving FAULT to compete again`);
      this.input(rec.unit, (now) => this.applyTrack(rec, now, false));
    }, delay);
    rec.vipFault = { error, retryAt: this.clock.now() + delay, timer };
    this.log.error({ instance: rec.name, vrid: rec.resolved.wire.vrid, err: error, retry_in_ms: delay }, `${rec.name}: VIPs could not be added: going to FAULT so the peer takes over`);
    this.input(rec.unit, (now) => this.applyTrack(rec, now, false));
  }

  private clearVipFault(rec: InstanceRec): void {
    if (rec.vipFault) this.clock.clearTimeout(rec.vipFault.timer);
    rec.vipFault = undefined;
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
    const ts = this.transports.stats();
    // Times in the machines are this thread's monotonic milliseconds; a person (and Prometheus)
    // wants wall-clock times, so each is given both ways, read against one pair of clocks.
    const mono = this.clock.now();
    const wall = Date.now();
    const iso = (t: number) => new Date(wall - (mono - t)).toISOString();
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
        masterSeen: s.master ? { ...s.master, lastSeen: iso(s.master.lastSeenAt) } : undefined,
        vips: rec.resolved.vips.map((v) => `${v.address}/${v.prefix}`),
        vipsSet: s.vipsSet,
        maintenance: s.maintenance,
        fault: s.fault,
        tracking: rec.lastTrack ? { ...rec.lastTrack } : undefined,
        recentTransitions: s.transitions.map((t) => ({ ...t, time: iso(t.at) })),
        counters: s.counters,
        transport: ts?.instances[rec.name],
        ...(rec.vipFault ? { vipError: rec.vipFault.error } : {}),
      };
    });
    let transport: RuntimeSnapshot['transport'];
    if (ts) {
      const { instances: _i, ...rest } = ts;
      transport = rest;
    }
    return {
      at: mono,
      time: new Date(wall).toISOString(),
      running: this.state === 'running',
      transport,
      instances,
      syncGroups: this.groups.map((g) => ({ name: g.name, state: g.state, members: g.members.map((m) => m.name) })),
      ...(this.threadScheduling ? { thread: { ...this.threadScheduling } } : {}),
      ...(this.processMonitorStatus ? { processMonitor: this.processMonitorStatus() } : {}),
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
      this.transports.route(rec.name)?.warm?.(rec.name, [rec.inst.effectivePriority]);
      this.deps.addresses.rehearse?.(vips, defaultDev);
      this.deps.announcer.rehearse?.(vips, defaultDev);
    } catch (err) {
      this.log.debug({ instance: rec.name, err: errMsg(err) }, 'rehearsal failed (harmless)');
    }
  }

  private drainTransmits(unit: VrrpUnit): void {
    for (let tx = unit.pollTransmit(); tx; tx = unit.pollTransmit()) this.transports.route(tx.instance)?.send(tx.instance, tx.priority);
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
        const p = Promise.all(chains).then(() => this.effects.notify({ kind: 'group', name: ev.group, state, priority: 0 }));
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
        this.effects.vips(rec, 'added');
        return;
      case 'removeVips':
        this.effects.vips(rec, 'removed');
        return;
      case 'sendGarp':
        // A lower-priority MASTER was heard (a healed split brain): clients that followed its GARP
        // are moved back by ours.
        if (e.cause === 'lowerPrio') this.rateLimited(`lowerprio/${rec.name}`, () => ({ instance: rec.name, vrid }), `${rec.name}: another MASTER with a lower priority: re-announcing the VIPs`);
        this.effects.announce(rec, e);
        return;
      case 'notify': {
        // A removed instance that configures notify_deleted reports DELETED instead of STOP.
        const state: NotifyState = e.state === 'STOP' && rec.deleting && rec.config.instances[rec.name]?.notify_deleted ? 'DELETED' : e.state;
        this.effects.notifyInstance(rec, { kind: 'instance', name: rec.name, state, priority: rec.inst.effectivePriority });
        return;
      }
      case 'priorityChange':
        this.log.info({ instance: rec.name, vrid, from: e.from, to: e.to }, `${rec.name}: effective priority ${e.from} -> ${e.to}`);
        if (rec.config.instances[rec.name]?.notify_priority_changes ?? rec.config.global.vrrp_notify_priority_changes) {
          const st = rec.inst.state;
          if (st === 'MASTER' || st === 'BACKUP') {
            this.effects.notifyInstance(rec, { kind: 'instance', name: rec.name, state: st === 'MASTER' ? 'MASTER_PRIORITY' : 'BACKUP_PRIORITY', priority: e.to });
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

  private emit(ev: RuntimeEvent): void {
    try {
      this.deps.onEvent?.(ev);
    } catch (err) {
      this.log.warn({ err: errMsg(err) }, 'runtime event listener failed');
    }
  }

  /** Log at warn at most once per interval per key, within a global budget (sys/log-limiter.ts). */
  private rateLimited(key: string, fields: () => object, msg: string): void {
    const extra = this.logLimiter.admit(key, this.clock.now());
    if (extra) this.log.warn({ ...fields(), ...extra }, msg);
  }

}

/** What the transport is given for an instance. */
function transportInstance(r: ResolvedInstance): TransportInstance {
  return { wire: r.wire, srcIp: r.params.primaryIp, expectations: r.expectations };
}

async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let t: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p.catch(() => undefined), new Promise((r) => (t = setTimeout(r, ms)))]);
  clearTimeout(t);
}


function errCode(err: unknown): string {
  return (err as { code?: string } | undefined)?.code ?? 'E';
}

// The level-triggered IPVS loop. Each run reads the whole kernel table, recomputes the whole desired
// table from the latest config and health state, plans the difference and applies it in ONE batch.
// Nothing depends on which event caused the run (controller-runtime: "level-based").
//
// Scheduling follows kube-proxy's BoundedFrequencyRunner, over an injected clock:
// - a trigger (config, health, VRRP state, operator drain) runs the loop no sooner than
//   `minInterval` after the previous run, so bursts merge into one run;
// - with no trigger the loop still runs every `maxInterval` (ipvs.resync_interval), which undoes
//   changes made by others (counted as drift corrections);
// - after a failure it retries with exponential backoff (retryInitial, doubling, capped at retryMax);
// - while a real server drains it polls every `drainPollInterval`.
// The loop does nothing until it has a config and a first BackendState (kube-proxy isInitialized),
// so a restart never programs a half-known table. No method throws; failures show in snapshot().
//
// Verdict fast path: a run whose only triggers are health verdicts (setBackendState), after a
// successful run, within maxInterval of the last full read and with nothing draining, plans
// against the table it left last time (kept in memory) instead of reading the kernel. If that plan
// only adds, edits or deletes destinations it is applied as it is; otherwise (a service changes)
// or if the kernel refuses it (someone changed the table meanwhile), the run falls back to the full
// read. Every other run (the resync timer, drain polls, retries, config, VRRP, operator drains,
// syncNow) reads the whole table, so drift is still found and undone within maxInterval.
//
// Graceful drain (keepalived #1228, kube-proxy graceful termination): a destination that leaves the
// config, or that the operator drains, is first set to weight 0; it is deleted once its ActiveConn is
// 0 (InActConn too with `drainCountsInactive`) or after `drainTimeout`. A destination that is still
// configured but failed its checks is removed at once, as keepalived does (or kept at weight 0 when
// the health state says so: inhibit_on_failure). Whole services that leave the config are deleted
// at once.
import type { Config } from '../config/schema.js';
import { noopLogger, type Logger } from '../sys/logger.js';
import type { VrrpState } from '../vocab/states.js';
import { IpvsError, type IpvsBackend, type IpvsTimeouts, type SyncDaemon, type SyncDaemonRole } from './backend.js';
import { desiredTable, virtualServerId, type BackendState, type PoolServer, type PoolState } from './desired.js';
import { applyPlan, plan, summarizePlan, type ManageMode, type Operation } from './diff.js';
import { canonicalAddress, cloneTable, destKey, hostPort, pickServices, serviceKey, tablesEqual, type Dest, type IpvsTable } from './model.js';
import { realClock as systemClock, type Clock } from '../sys/clock.js';

// The reconciler runs on the daemon's injectable clock (real or fake).
export type { Clock } from '../sys/clock.js';
export { realClock as systemClock } from '../sys/clock.js';

export type { Logger };

export type { VrrpState };

export interface ReconcilerOptions {
  backend: IpvsBackend;
  clock?: Clock;
  logger?: Logger;
  /** ms between two runs at least (merges bursts); default 100 */
  minInterval?: number;
  /** ms between two runs at most (full resync); default config.ipvs.resync_interval */
  maxInterval?: number;
  /** ms a draining destination may keep connections; default config.ipvs.drain_timeout */
  drainTimeout?: number;
  /** ms between connection polls while something drains; default 1000 */
  drainPollInterval?: number;
  /** also wait for InActConn (TIME_WAIT, FIN_WAIT ...) to reach 0; default false */
  drainCountsInactive?: boolean;
  /** first retry delay after a failure, ms; default 1000 */
  retryInitial?: number;
  /** retry delay cap, ms; default 60000 */
  retryMax?: number;
  /** overrides config.ipvs.manage */
  manage?: ManageMode;
  /** apply verdict-only changes against the last table without reading the kernel; default true */
  verdictFastPath?: boolean;
}

export type ReconcilerStatus = 'initializing' | 'in-sync' | 'degraded' | 'stopped';

export interface DrainingDest {
  service: string;
  dest: string;
  since: number;
  activeConns: number;
  inactiveConns: number;
  deadline: number;
}

export interface RunReport {
  ok: boolean;
  skipped?: 'not-initialized' | 'stopped';
  operations: Operation[];
  script?: string;
  drift: boolean;
  error?: string;
  durationMs: number;
  /** time spent in backend.apply (0 when there was nothing to do) */
  applyMs?: number;
  /** planned against the last table, without reading the kernel (the verdict fast path) */
  fast?: boolean;
}

export interface ReconcilerSnapshot {
  status: ReconcilerStatus;
  /** the kernel table as last read, with this run's changes applied */
  table: IpvsTable;
  warnings: string[];
  owned: string[];
  draining: DrainingDest[];
  operatorDrained: string[];
  sync: {
    runs: number;
    applies: number;
    operations: number;
    driftCorrections: number;
    driftOperations: number;
    consecutiveFailures: number;
    lastRunAt?: number;
    lastSuccessAt?: number;
    lastDurationMs?: number;
    /** ms the last non-empty apply took */
    lastApplyMs?: number;
    /** ms from the first trigger of a change (config, health, drain) to the kernel having it */
    lastLatencyMs?: number;
    /** runs that took the verdict fast path (no kernel read) */
    fastRuns?: number;
    lastPlan?: Record<Operation['op'], number>;
    lastError?: string;
    lastErrorKind?: string;
    nextRunIn?: number;
  };
  syncDaemons: { wanted: SyncDaemon[]; running: SyncDaemon[]; vrrpState?: VrrpState };
}

export class Reconciler {
  private readonly backend: IpvsBackend;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly opts: ReconcilerOptions;

  private config: Config | undefined;
  private state: BackendState | undefined;
  /**
   * service key → dest keys the config can ever put there (all real servers and the sorry server);
   * made when a run first needs it (a destination leaving), not at every setConfig: at 37,300 real
   * servers it is a whole desired table's work, on the main thread, before `run` is ready.
   */
  private configuredCache: Map<string, Set<string>> | undefined;
  private owned = new Set<string>();
  /** owned part of the table as we left it, to detect changes made by others */
  private expected: { table: IpvsTable; keys: Set<string>; exclusive: boolean } | undefined;
  private draining = new Map<string, DrainingDest>();
  private operatorDrained = new Set<string>();
  private vrrp = new Map<string, VrrpState>();
  private daemonsStarted = new Set<SyncDaemonRole>();
  private runningDaemons: SyncDaemon[] = [];
  private flushedAtStart = false;

  private status: ReconcilerStatus = 'initializing';
  private lastTable: IpvsTable = [];
  private warnings: string[] = [];
  private stats: ReconcilerSnapshot['sync'] = { runs: 0, applies: 0, operations: 0, driftCorrections: 0, driftOperations: 0, consecutiveFailures: 0 };

  private started = false;
  private stopped = false;
  private timer: unknown;
  private timerAt = Infinity;
  private inFlight: Promise<RunReport> | undefined;
  private pending = false;
  /** what triggered the pending run: only 'state' (health verdicts) may take the fast path */
  private pendingKinds = new Set<TriggerKind>();
  /** lastTable is what the kernel holds as far as we know (a full run succeeded, nothing failed since) */
  private cacheValid = false;
  /** the health state and service owners (service key → virtual server id) of the last successful run */
  private lastState: BackendState | undefined;
  private lastOwners = new Map<string, string>();
  private lastFullReadAt = -Infinity;
  private firstTriggerAt: number | undefined;
  private lastRunStart = -Infinity;
  private loggedError: string | undefined;

  constructor(opts: ReconcilerOptions) {
    this.opts = opts;
    this.backend = opts.backend;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? noopLogger;
  }

  // ---------------------------------------------------------------- inputs

  setConfig(config: Config): void {
    this.config = config;
    this.configuredCache = undefined;
    this.timeoutsSet = undefined; // keepalived sets lvs_timeouts again at every reload
    this.trigger('config');
  }

  setBackendState(state: BackendState): void {
    this.state = state;
    this.trigger('state');
  }

  /** The VRRP state of an instance; the sync daemon follows it (see lvs_sync_daemon.instance). */
  setVrrpState(instance: string, state: VrrpState): void {
    this.vrrp.set(instance, state);
    this.trigger('vrrp');
  }

  /** Operator drain: the real server `address` (or `address:port`) leaves every service gracefully. */
  drain(address: string, port?: number): void {
    this.operatorDrained.add(drainPattern(address, port));
    this.trigger('drain');
  }

  undrain(address: string, port?: number): void {
    this.operatorDrained.delete(drainPattern(address, port));
    this.trigger('drain');
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.schedule(this.clock.now());
  }

  /**
   * Stops the loop. With `cleanup` (the default follows config.ipvs.on_stop), removes the services
   * vipkeeper owns (or flushes everything with global.lvs_flush_on_stop) and stops the sync daemons
   * it started, and puts back the IPVS timeouts lvs_timeouts changed. Never throws.
   */
  async stop(opts: { cleanup?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clearTimer();
    await this.inFlight?.catch(() => undefined);
    const cleanup = opts.cleanup ?? this.config?.ipvs.on_stop !== 'keep';
    if (cleanup) {
      try {
        if (this.config?.global.lvs_flush_on_stop) await this.backend.flush();
        else if (this.owned.size) {
          const actual = await this.backend.read();
          const ops = plan([], actual, { manage: 'owned', owned: this.owned });
          if (ops.length) await this.backend.apply(ops);
          this.lastTable = applyPlan(actual, ops);
        }
        this.owned.clear();
        for (const role of [...this.daemonsStarted]) {
          await this.backend.stopDaemon(role).catch(() => undefined);
          this.daemonsStarted.delete(role);
        }
      } catch (e) {
        this.recordError(e);
      }
      try {
        await this.restoreTimeouts();
      } catch (e) {
        this.recordError(e);
      }
    }
    this.status = 'stopped';
  }

  /** Runs the loop now, with a full read (after any run in progress), and reports what it did. Never throws. */
  async syncNow(): Promise<RunReport> {
    await this.inFlight?.catch(() => undefined);
    return this.execute(true);
  }

  // ---------------------------------------------------------------- status

  snapshot(): ReconcilerSnapshot {
    const now = this.clock.now();
    return {
      status: this.status,
      table: cloneTable(this.lastTable),
      warnings: [...this.warnings],
      owned: [...this.owned].sort(),
      draining: [...this.draining.values()].map((d) => ({ ...d })),
      operatorDrained: [...this.operatorDrained].sort(),
      sync: { ...this.stats, ...(this.timerAt !== Infinity ? { nextRunIn: Math.max(0, this.timerAt - now) } : {}) },
      syncDaemons: { wanted: this.wantedDaemons(), running: this.runningDaemons.map((d) => ({ ...d })), ...this.followedVrrp() },
    };
  }

  // ---------------------------------------------------------------- scheduling

  private get minInterval(): number {
    return this.opts.minInterval ?? 100;
  }

  private get maxInterval(): number {
    return this.opts.maxInterval ?? this.config?.ipvs.resync_interval ?? 30_000;
  }

  private trigger(kind: TriggerKind): void {
    this.pending = true;
    this.pendingKinds.add(kind);
    this.firstTriggerAt ??= this.clock.now();
    if (!this.started || this.stopped || this.inFlight) return;
    this.schedule(Math.max(this.clock.now(), this.lastRunStart + this.minInterval));
  }

  /** Arms the timer for `at` unless it is already armed for earlier. */
  private schedule(at: number): void {
    if (this.stopped || !this.started || at >= this.timerAt) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        if (!this.inFlight) void this.execute();
      },
      Math.max(0, at - this.clock.now()),
    );
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private execute(full = false): Promise<RunReport> {
    const p = this.runOnce(full)
      .catch((e: unknown): RunReport => {
        // runOnce handles its own errors; this is a last resort so nothing escapes
        this.recordError(e);
        return { ok: false, operations: [], drift: false, error: String(e), durationMs: 0 };
      })
      .finally(() => {
        if (this.inFlight === p) this.inFlight = undefined;
        this.afterRun();
      });
    this.inFlight = p;
    return p;
  }

  private afterRun(): void {
    if (this.stopped || !this.started) return;
    const now = this.clock.now();
    if (this.pending) this.schedule(Math.max(now, this.lastRunStart + this.minInterval));
    if (this.stats.consecutiveFailures > 0) {
      const base = this.opts.retryInitial ?? 1000;
      const cap = this.opts.retryMax ?? 60_000;
      this.schedule(now + Math.min(cap, base * 2 ** (this.stats.consecutiveFailures - 1)));
    }
    if (this.draining.size) this.schedule(now + (this.opts.drainPollInterval ?? 1000));
    this.schedule(now + this.maxInterval);
  }

  // ---------------------------------------------------------------- one run

  private async runOnce(full: boolean): Promise<RunReport> {
    const t0 = this.clock.now();
    if (this.stopped) return { ok: false, skipped: 'stopped', operations: [], drift: false, durationMs: 0 };
    if (!this.config || !this.state) {
      this.pending = false;
      this.pendingKinds.clear();
      return { ok: true, skipped: 'not-initialized', operations: [], drift: false, durationMs: 0 };
    }
    const config = this.config;
    const state = this.state;
    const triggeredAt = this.firstTriggerAt;
    const kinds = [...this.pendingKinds];
    const fastEligible =
      !full &&
      (this.opts.verdictFastPath ?? true) &&
      this.cacheValid &&
      kinds.length > 0 &&
      kinds.every((k) => k === 'state') &&
      this.draining.size === 0 &&
      t0 - this.lastFullReadAt < this.maxInterval;
    this.pending = false;
    this.pendingKinds.clear();
    this.firstTriggerAt = undefined;
    this.lastRunStart = t0;
    this.stats.runs++;
    this.stats.lastRunAt = t0;
    const manage = this.opts.manage ?? config.ipvs.manage;
    let ops: Operation[] = [];
    let drift = false;
    try {
      let script: string | undefined;
      let applyMs = 0;
      let actual: IpvsTable | undefined;
      let after: IpvsTable | undefined;
      let owned = new Set<string>();
      let desired: IpvsTable = [];
      let fast = false;
      const fastPlan = fastEligible ? this.planVerdicts(config, state, manage) : undefined;
      if (fastPlan) {
        // the verdict fast path: only the virtual servers whose pool changed, against the table as we left it
        try {
          if (fastPlan.ops.length) {
            const ta = this.clock.now();
            const res = await this.backend.apply(fastPlan.ops);
            applyMs = this.clock.now() - ta;
            this.stats.lastApplyMs = applyMs;
            script = res.script;
            this.stats.applies++;
            this.stats.operations += fastPlan.ops.length;
          }
          ops = fastPlan.ops;
          desired = fastPlan.desired;
          owned = new Set(this.owned);
          actual = this.lastTable;
          after = fastPlan.after;
          fast = true;
          this.stats.fastRuns = (this.stats.fastRuns ?? 0) + 1;
        } catch (e) {
          // the kernel is not what we left: read it and plan again, now
          this.cacheValid = false;
          this.log.info({ error: e instanceof Error ? e.message : String(e) }, 'IPVS fast path refused; reading the whole table');
        }
      }
      if (!fast) {
        actual = await this.backend.read();
        this.lastFullReadAt = t0;
        if (config.global.lvs_flush && !this.flushedAtStart) {
          await this.backend.flush();
          this.flushedAtStart = true;
          actual = [];
        }
        const { table: desired0, warnings, owners } = desiredTable(config, this.applyOperatorDrains(state));
        this.warnings = warnings;
        this.lastOwners = owners;
        desired = this.withDrains(desired0, actual, this.clock.now());
        owned = new Set([...this.owned, ...desired.map((s) => serviceKey(s.id))]);

        drift = this.expected !== undefined && !this.matchesExpected(actual);
        ops = plan(desired, actual, { manage, owned });
        if (ops.length) {
          const ta = this.clock.now();
          const res = await this.backend.apply(ops);
          applyMs = this.clock.now() - ta;
          this.stats.lastApplyMs = applyMs;
          script = res.script;
          this.stats.applies++;
          this.stats.operations += ops.length;
          if (drift) {
            this.stats.driftCorrections++;
            this.stats.driftOperations += ops.length;
            this.log.warn({ operations: ops.length }, 'IPVS table changed outside vipkeeper; corrected');
          }
        }
      }
      if (!actual) throw new Error('internal: no table');
      // nothing applied: the table read (backends return it normalised, as applyPlan would) is the result
      after ??= ops.length ? applyPlan(actual, ops) : actual;
      const desiredKeys = new Set(desired.map((s) => serviceKey(s.id)));
      const afterKeys = new Set(after.map((s) => serviceKey(s.id)));
      this.owned = new Set([...owned].filter((k) => desiredKeys.has(k) || afterKeys.has(k)));
      const keys = manage === 'exclusive' ? new Set([...afterKeys, ...this.owned]) : new Set(this.owned);
      this.expected = { table: pickServices(after, keys), keys, exclusive: manage === 'exclusive' };
      this.lastTable = after;
      this.lastState = state;
      this.cacheValid = true;

      // a verdict does not change the VRRP state the sync daemons follow
      if (!fast) await this.syncDaemons();
      if (!fast) await this.syncTimeouts();

      const end = this.clock.now();
      this.stats.lastSuccessAt = end;
      this.stats.lastDurationMs = end - t0;
      if (ops.length && triggeredAt !== undefined) this.stats.lastLatencyMs = end - triggeredAt;
      this.stats.lastPlan = summarizePlan(ops);
      if (this.stats.consecutiveFailures > 0) this.log.info({ after: this.stats.consecutiveFailures }, 'IPVS sync recovered');
      this.stats.consecutiveFailures = 0;
      delete this.stats.lastError;
      delete this.stats.lastErrorKind;
      this.loggedError = undefined;
      this.status = 'in-sync';
      return { ok: true, operations: ops, ...(script !== undefined ? { script } : {}), drift, durationMs: end - t0, applyMs, ...(fast ? { fast } : {}) };
    } catch (e) {
      // the change is still pending: the next run (retry) must pick it up, with a full read
      this.firstTriggerAt = triggeredAt;
      this.cacheValid = false;
      this.recordError(e);
      return { ok: false, operations: ops, drift, error: this.stats.lastError ?? String(e), durationMs: this.clock.now() - t0 };
    }
  }

  /**
   * The fast path's plan: desired services of the virtual servers whose pool differs from the last
   * run's, planned against their part of the last table. Undefined when it cannot be used: a
   * service-level change, a warning, or no previous state.
   */
  private planVerdicts(config: Config, state: BackendState, manage: ManageMode): { ops: Operation[]; desired: IpvsTable; after: IpvsTable } | undefined {
    const prev = this.lastState;
    if (!prev) return undefined;
    const changed = config.virtual_servers.filter((vs) => {
      const id = virtualServerId(vs);
      return !samePool(prev[id], state[id]);
    });
    if (!changed.length) return { ops: [], desired: [], after: this.lastTable };
    const part = desiredTable({ ...config, virtual_servers: changed }, this.applyOperatorDrains(state));
    if (part.warnings.length) return undefined;
    // a service another (unchanged) virtual server defined first stays with it
    const desired = part.table.filter((s) => {
      const key = serviceKey(s.id);
      return this.lastOwners.get(key) === part.owners.get(key);
    });
    const keys = new Set(desired.map((s) => serviceKey(s.id)));
    const cached = pickServices(this.lastTable, keys);
    const ops = plan(this.withDrains(desired, cached, this.clock.now()), cached, { manage, owned: this.owned });
    if (!ops.every((o) => o.op === 'add-dest' || o.op === 'edit-dest' || o.op === 'delete-dest')) return undefined;
    if (this.draining.size) return undefined; // withDrains started one: leave it to a full run
    const updated = new Map(applyPlan(cached, ops).map((s) => [serviceKey(s.id), s]));
    const after = this.lastTable.map((s) => updated.get(serviceKey(s.id)) ?? s);
    return { ops, desired, after };
  }

  private recordError(e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    this.stats.consecutiveFailures++;
    this.stats.lastError = msg;
    this.stats.lastErrorKind = e instanceof IpvsError ? e.kind : 'internal';
    this.status = this.stopped ? 'stopped' : 'degraded';
    if (this.loggedError !== msg) {
      this.loggedError = msg;
      this.log.error({ kind: this.stats.lastErrorKind }, `IPVS sync failed: ${msg}`);
    }
  }

  /** Removes operator-drained real servers from the health state (they then drain like removed ones). */
  private applyOperatorDrains(state: BackendState): BackendState {
    if (!this.operatorDrained.size) return state;
    const out: Record<string, PoolState> = {};
    for (const [k, p] of Object.entries(state)) {
      const keep = (s: { address: string; port?: number }) => !this.isOperatorDrained(canonicalAddress(s.address), s.port);
      out[k] = p.mode === 'real' ? { mode: 'real', servers: p.servers.filter(keep) } : { mode: 'sorry', ...(p.servers ? { servers: p.servers.filter(keep) } : {}) };
    }
    return out;
  }

  private isOperatorDrained(address: string, port: number | undefined): boolean {
    return this.operatorDrained.has(address) || (port !== undefined && this.operatorDrained.has(hostPort(address, port)));
  }

  /**
   * Adds back, at weight 0, destinations that are leaving gracefully and still have connections,
   * and forgets the ones that are done (the plan then deletes them).
   */
  private withDrains(desired: IpvsTable, actual: IpvsTable, now: number): IpvsTable {
    const timeout = this.opts.drainTimeout ?? this.config?.ipvs.drain_timeout ?? 300_000;
    const countInactive = this.opts.drainCountsInactive ?? false;
    const have = new Map(actual.map((s) => [serviceKey(s.id), s]));
    const seen = new Set<string>();
    const out = desired.map((s) => ({ ...s, dests: [...s.dests] }));
    for (const s of out) {
      const key = serviceKey(s.id);
      const a = have.get(key);
      if (!a) continue;
      const want = new Set(s.dests.map(destKey));
      const configured = this.configured().get(key);
      for (const d of a.dests) {
        const dk = destKey(d);
        if (want.has(dk)) continue;
        const leaving = this.isOperatorDrained(d.address, d.port) || !configured?.has(dk);
        if (!leaving) continue; // still configured, failed its checks: removed at once (keepalived)
        const id = `${key}|${dk}`;
        const conns = (d.activeConns ?? 0) + (countInactive ? (d.inactiveConns ?? 0) : 0);
        const entry = this.draining.get(id) ?? { service: key, dest: dk, since: now, activeConns: 0, inactiveConns: 0, deadline: now + timeout };
        entry.activeConns = d.activeConns ?? 0;
        entry.inactiveConns = d.inactiveConns ?? 0;
        if (conns === 0 || now >= entry.deadline) {
          if (this.draining.has(id) || d.weight > 0) {
            this.log.info(
              { service: key, dest: dk, activeConns: entry.activeConns, drainedMs: now - entry.since },
              conns === 0 ? 'real server drained; removing it' : 'drain timeout; removing real server with open connections',
            );
          }
          this.draining.delete(id);
          continue;
        }
        if (!this.draining.has(id)) this.log.info({ service: key, dest: dk, activeConns: entry.activeConns }, 'draining real server: weight 0 until its connections end');
        this.draining.set(id, entry);
        seen.add(id);
        s.dests.push(zeroWeight(d));
      }
      s.dests.sort((x, y) => (destKey(x) < destKey(y) ? -1 : destKey(x) > destKey(y) ? 1 : 0));
    }
    for (const id of [...this.draining.keys()]) if (!seen.has(id)) this.draining.delete(id);
    return out;
  }

  private configured(): Map<string, Set<string>> {
    this.configuredCache ??= this.config ? configuredDests(this.config) : new Map();
    return this.configuredCache;
  }

  private matchesExpected(actual: IpvsTable): boolean {
    const exp = this.expected;
    if (!exp) return true;
    const keys = exp.exclusive ? new Set([...exp.keys, ...actual.map((s) => serviceKey(s.id))]) : exp.keys;
    return tablesEqual(pickServices(actual, keys), exp.table);
  }

  // ---------------------------------------------------------------- sync daemon

  private followedVrrp(): { vrrpState?: VrrpState } {
    const sd = this.config?.global.lvs_sync_daemon;
    if (!sd) return {};
    if (sd.instance) {
      const s = this.vrrp.get(sd.instance);
      return s ? { vrrpState: s } : {};
    }
    const states = [...this.vrrp.values()];
    if (!states.length) return {};
    if (states.includes('MASTER')) return { vrrpState: 'MASTER' };
    if (states.every((s) => s === 'STOP')) return { vrrpState: 'STOP' };
    return { vrrpState: states.includes('BACKUP') ? 'BACKUP' : (states[0] as VrrpState) };
  }

  /** keepalived: the master daemon runs while the followed instance is MASTER, the backup one otherwise. */
  private wantedDaemons(): SyncDaemon[] {
    const sd = this.config?.global.lvs_sync_daemon;
    const st = this.followedVrrp().vrrpState;
    if (!sd || !st || st === 'STOP') return [];
    const d: SyncDaemon = { role: st === 'MASTER' ? 'master' : 'backup', interface: sd.interface, syncid: sd.id ?? 0 };
    if (sd.maxlen !== undefined) d.maxlen = sd.maxlen;
    if (sd.group !== undefined) d.group = sd.group;
    if (sd.port !== undefined) d.port = sd.port;
    if (sd.ttl !== undefined) d.ttl = sd.ttl;
    return [d];
  }

  /** The timeouts set for the current config, so each config sets them once (keepalived sets them at start and reload). */
  private timeoutsSet: string | undefined;
  /**
   * The timeouts IPVS had before vipkeeper first changed them. As keepalived's libipvs
   * (ipvs_set_timeout) does, an lvs_timeouts field left unset, a config without lvs_timeouts and
   * stop all put these back, rather than leaving the last config's values in the kernel.
   */
  private originalTimeouts: IpvsTimeouts | undefined;

  /** global_defs lvs_timeouts, in seconds (durations are in ms); an unset one gets its original value. */
  private async syncTimeouts(): Promise<void> {
    const t = this.config?.global.lvs_timeouts;
    if (!t && !this.originalTimeouts) return;
    const sec = (ms: number | undefined) => (ms === undefined ? 0 : Math.max(1, Math.round(ms / 1000)));
    const asked = { tcp: sec(t?.tcp), tcpfin: sec(t?.tcpfin), udp: sec(t?.udp) };
    const key = JSON.stringify(asked);
    if (key === this.timeoutsSet) return;
    this.originalTimeouts ??= await this.backend.readTimeouts();
    const orig = this.originalTimeouts;
    const want = { tcp: asked.tcp || orig.tcp, tcpfin: asked.tcpfin || orig.tcpfin, udp: asked.udp || orig.udp };
    await this.backend.setTimeouts(want);
    this.timeoutsSet = key;
    this.log.info(want, t ? 'IPVS connection timeouts set (lvs_timeouts)' : 'IPVS connection timeouts restored (no lvs_timeouts)');
  }

  /** On stop: the timeouts go back to what they were before vipkeeper (keepalived ipvs_stop). */
  private async restoreTimeouts(): Promise<void> {
    const orig = this.originalTimeouts;
    if (!orig) return;
    await this.backend.setTimeouts(orig);
    this.originalTimeouts = undefined;
    this.timeoutsSet = undefined;
    this.log.info(orig, 'IPVS connection timeouts restored');
  }

  private async syncDaemons(): Promise<void> {
    const want = this.wantedDaemons();
    if (!want.length && !this.daemonsStarted.size) return;
    let have = await this.backend.readDaemons();
    for (const role of ['master', 'backup'] as const) {
      const w = want.find((d) => d.role === role);
      const h = have.find((d) => d.role === role);
      if (h && (w ? !sameDaemon(w, h) : this.daemonsStarted.has(role))) {
        await this.backend.stopDaemon(role);
        this.daemonsStarted.delete(role);
        this.log.info({}, `stopped the IPVS ${role} sync daemon`);
      }
      if (w && (!h || !sameDaemon(w, h))) {
        await this.backend.startDaemon(w);
        this.daemonsStarted.add(role);
        this.log.info({ interface: w.interface, syncid: w.syncid }, `started the IPVS ${role} sync daemon`);
      }
    }
    have = await this.backend.readDaemons();
    this.runningDaemons = have;
  }
}

type TriggerKind = 'config' | 'state' | 'vrrp' | 'drain';

function samePool(a: PoolState | undefined, b: PoolState | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.mode !== b.mode) return false;
  const x = a.servers ?? [];
  const y = b.servers ?? [];
  if (x === y) return true;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) {
    const p = x[i] as PoolServer;
    const q = y[i] as PoolServer;
    if (p.address !== q.address || p.port !== q.port || p.weight !== q.weight) return false;
  }
  return true;
}

function sameDaemon(want: SyncDaemon, have: SyncDaemon): boolean {
  return (
    want.role === have.role &&
    want.interface === have.interface &&
    want.syncid === have.syncid &&
    (want.maxlen === undefined || want.maxlen === have.maxlen) &&
    (want.group === undefined || want.group === have.group) &&
    (want.port === undefined || want.port === have.port) &&
    (want.ttl === undefined || want.ttl === have.ttl)
  );
}

function drainPattern(address: string, port?: number): string {
  const a = canonicalAddress(address);
  return port === undefined ? a : hostPort(a, port);
}

function zeroWeight(d: Dest): Dest {
  return { ...d, weight: 0 };
}

/** Per service key, every destination the config can put in it (all real servers, and the sorry server). */
function configuredDests(config: Config): Map<string, Set<string>> {
  const everything: Record<string, PoolState> = {};
  for (const vs of config.virtual_servers) {
    everything[virtualServerId(vs)] = { mode: 'sorry', servers: vs.real_servers.map((rs) => ({ address: rs.address, port: rs.port ?? vs.port ?? 0, weight: 1 })) };
  }
  const out = new Map<string, Set<string>>();
  for (const s of desiredTable(config, everything).table) out.set(serviceKey(s.id), new Set(s.dests.map(destKey)));
  return out;
}

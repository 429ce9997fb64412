/**
 * The health checker: resolves the config into plans, runs them on the scheduler (one job per
 * dedup key, shared by every virtual server using it), feeds the verdicts into one pool per
 * virtual server, and reports pool events and the desired kernel tables.
 *
 *   const hc = new HealthChecker(config, { clock, probe, onEvent });
 *   hc.start();                // bootstrap events (alive RS, quorum state, sorry server)
 *   hc.desired('10.0.1.1 80 TCP');  // DesiredBackends for the IPVS reconciler
 *   hc.reload(newConfig);      // unchanged checks (same key) and RS keep their state
 *   hc.snapshot();             // for `vipkeeper status`
 *   hc.stop();
 *
 * `setSuspended(ids)`: keepalived's `ha_suspend` — the checks of these services stop (their pools
 * keep the last verdicts) until they are resumed; the daemon says which, from the VRRP states.
 * Not handled here: notify scripts (consumers of the events run them).
 */
import type { Config } from '../config/schema.js';
import { ServicePool, type CheckVerdictView, type DesiredBackends, type PoolEvent } from './pool.js';
import { CheckScheduler, systemClock, type CheckUpdate, type Clock, type SchedulerOptions, type SchedulerStats } from './scheduler.js';
import type { VerdictState } from './verdict.js';
import { checkIdentity, resolveServices, type CheckPlan, type ServicePlan } from './spec.js';
import type { Probe, ProbeKind, ProbeResult } from './types.js';

export interface HealthCheckerOptions extends Omit<SchedulerOptions, 'clock' | 'probe'> {
  probe: Probe;
  /** Default: the system clock. */
  clock?: Clock;
  /** Every pool event, in order (bootstrap, runtime and reload). */
  onEvent?: (event: PoolEvent) => void;
  /** Every failed attempt of a checker with log_all_failures (keepalived logs each one). */
  onFailure?: (check: CheckPlan, result: Extract<ProbeResult, { ok: false }>) => void;
}

export interface CheckStatus {
  key: string;
  kind: ProbeKind;
  target: string;
  up: boolean;
  consecutiveFailures: number;
  lastResult?: ProbeResult;
  lastCheckedAt?: number;
  latencyMs?: number;
  nextRunAt?: number;
}

export interface RealServerStatus {
  vs: string;
  rs: string;
  address: string;
  port: number;
  /** The RS verdict: alive (every checker up). */
  up: boolean;
  /** Effective weight. */
  weight: number;
  configWeight: number;
  /** Most recent result among its checkers. */
  lastResult?: ProbeResult;
  /** Monotonic ms (an age against the snapshot's `at`); `lastChecked` is the same instant, wall-clock ISO. */
  lastCheckedAt?: number;
  lastChecked?: string;
  latencyMs?: number;
  checks: CheckStatus[];
}

export interface ServiceStatus {
  vs: string;
  quorum: number;
  hysteresis: number;
  quorumUp: boolean;
  sorryActive: boolean;
  weight: number;
  threshold: number;
  realServers: RealServerStatus[];
}

export interface HealthSnapshot {
  /** Monotonic ms of the checker's clock (origin of the `*At` times) and the same instant, ISO. */
  at: number;
  time?: string;
  services: ServiceStatus[];
  scheduler: SchedulerStats;
}

interface ServiceEntry {
  plan: ServicePlan;
  pool: ServicePool;
  unsubscribe: (() => void)[];
}

export class HealthChecker {
  readonly scheduler: CheckScheduler;
  private readonly clock: Clock;
  private readonly onEvent: ((event: PoolEvent) => void) | undefined;
  private readonly onFailure: HealthCheckerOptions['onFailure'];
  private config: Config;
  private services = new Map<string, ServiceEntry>();
  /** Services whose checks do not run (ha_suspend while the VIP is not held here). */
  private suspended = new Set<string>();
  private started = false;
  private stopped = false;
  /** Corrections made while resolving the current config (quorum lowered, …). */
  warnings: string[] = [];

  constructor(config: Config, opts: HealthCheckerOptions) {
    this.config = config;
    this.clock = opts.clock ?? systemClock;
    this.onEvent = opts.onEvent;
    this.onFailure = opts.onFailure;
    const { onEvent: _e, onFailure: _f, clock: _c, ...rest } = opts;
    this.scheduler = new CheckScheduler({ ...rest, clock: this.clock });
  }

  /** Starts every check. Returns (and emits) the bootstrap events. */
  start(): PoolEvent[] {
    if (this.started) throw new Error('Cannot start the health checker: it is already started');
    if (this.stopped) throw new Error('Cannot start the health checker: it is stopped');
    this.started = true;
    return this.apply(this.config);
  }

  /** Adopts a new config. Checks with an unchanged key and RS present in both keep their state. */
  reload(config: Config): PoolEvent[] {
    if (!this.started || this.stopped) throw new Error('Cannot reload the health checker: it is not running');
    this.config = config;
    return this.apply(config);
  }

  stop(): void {
    this.stopped = true;
    this.scheduler.stop();
    for (const s of this.services.values()) s.unsubscribe.length = 0;
  }

  /** Service identity keys, in config order. */
  serviceIds(): string[] {
    return [...this.services.values()].sort((a, b) => a.plan.index - b.plan.index).map((s) => s.plan.id);
  }

  pool(vs: string): ServicePool | undefined {
    return this.services.get(vs)?.pool;
  }

  /** The table the kernel should hold for one service. */
  desired(vs: string): DesiredBackends | undefined {
    return this.services.get(vs)?.pool.desired();
  }

  /** Every service's desired table, in config order. */
  desiredAll(): DesiredBackends[] {
    return this.serviceIds().map((id) => this.desired(id) as DesiredBackends);
  }

  snapshot(): HealthSnapshot {
    const services: ServiceStatus[] = [];
    // Check times are monotonic ms; status readers get the wall-clock time too.
    const mono = this.clock.now();
    const wall = Date.now();
    for (const id of this.serviceIds()) {
      const entry = this.services.get(id) as ServiceEntry;
      const st = entry.pool.state();
      const realServers: RealServerStatus[] = entry.plan.realServers.map((rp) => {
        const rs = st.realServers.find((r) => r.key === rp.key);
        const checks = rp.checks.map((c) => this.checkStatus(c));
        const latest = checks.reduce<CheckStatus | undefined>(
          (best, c) => (c.lastCheckedAt !== undefined && (best?.lastCheckedAt === undefined || c.lastCheckedAt > best.lastCheckedAt) ? c : best),
          undefined,
        );
        return {
          vs: id,
          rs: rp.key,
          address: rp.address,
          port: rp.port,
          up: rs?.alive ?? false,
          weight: rs?.weight ?? 0,
          configWeight: rp.weight,
          ...(latest?.lastResult ? { lastResult: latest.lastResult } : {}),
          ...(latest?.lastCheckedAt !== undefined ? { lastCheckedAt: latest.lastCheckedAt, lastChecked: new Date(wall - (mono - latest.lastCheckedAt)).toISOString() } : {}),
          ...(latest?.latencyMs !== undefined ? { latencyMs: latest.latencyMs } : {}),
          checks,
        };
      });
      services.push({
        vs: id,
        quorum: st.quorum,
        hysteresis: st.hysteresis,
        quorumUp: st.quorumUp,
        sorryActive: st.sorryActive,
        weight: st.weight,
        threshold: st.threshold,
        realServers,
      });
    }
    return { at: mono, time: new Date(wall).toISOString(), services, scheduler: this.scheduler.stats() };
  }

  // ------------------------------------------------------------------ internals

  private apply(config: Config): PoolEvent[] {
    const resolved = resolveServices(config);
    this.warnings = resolved.warnings;
    const old = this.services;
    const next = new Map<string, ServiceEntry>();
    const events: PoolEvent[] = [];
    const initial = (key: string): CheckVerdictView | undefined => {
      const v = this.scheduler.verdict(key);
      return v && { up: v.up, ...(v.weight !== undefined ? { weight: v.weight } : {}), ...(v.weightDelta !== undefined ? { weightDelta: v.weightDelta } : {}) };
    };
    // A reload keeps the subscription of every check still there (same service, real server and
    // key): at 37,300 checks, unsubscribing and subscribing them all again was most of a reload.
    // Only the checks that come and go touch the scheduler.
    const dropped: { vs: string; rs: string; check?: CheckPlan; unsubscribe: () => void }[] = [];
    const fresh: { entry: ServiceEntry; at: number; rs: string; check: CheckPlan }[] = [];
    for (const plan of resolved.services) {
      const prev = old.get(plan.id);
      const unsubscribe: (() => void)[] = [];
      const entry: ServiceEntry = { plan, pool: prev?.pool as ServicePool, unsubscribe };
      if (this.suspended.has(plan.id)) {
        for (const u of prev?.unsubscribe ?? []) dropped.push({ vs: plan.id, rs: '', unsubscribe: u });
      } else {
        const kept = prev ? keptSubscriptions(prev) : undefined;
        for (const rs of plan.realServers) {
          for (const c of rs.checks) {
            const u = kept?.get(rs.key)?.get(listenerKey(c))?.pop();
            if (u) unsubscribe.push(u);
            else {
              fresh.push({ entry, at: unsubscribe.length, rs: rs.key, check: c });
              unsubscribe.push(noop);
            }
          }
        }
        if (kept && prev) {
          for (const rs of prev.plan.realServers) {
            for (const c of rs.checks) {
              const u = kept.get(rs.key)?.get(listenerKey(c))?.pop();
              if (u) dropped.push({ vs: prev.plan.id, rs: rs.key, check: c, unsubscribe: u });
            }
          }
        } else if (prev) for (const u of prev.unsubscribe) dropped.push({ vs: plan.id, rs: '', unsubscribe: u });
      }
      next.set(plan.id, entry);
    }
    for (const s of old.values()) if (!next.has(s.plan.id)) for (const u of s.unsubscribe) dropped.push({ vs: s.plan.id, rs: '', unsubscribe: u });
    // A check whose timing changed is a new job; it starts from the verdict of the check on the
    // same target, so a reload never brings a dead real server back up for an interval.
    let byIdentity: Map<string, VerdictState> | undefined;
    const inherit = (vs: string, rs: string, c: CheckPlan): VerdictState | undefined => {
      if (!byIdentity) {
        byIdentity = new Map();
        for (const d of dropped) {
          if (!d.check) continue;
          const v = this.scheduler.verdict(d.check.key);
          if (v?.hasRun) byIdentity.set(`${d.vs} ${d.rs} ${checkIdentity(d.check)}`, v);
        }
      }
      return byIdentity.size ? byIdentity.get(`${vs} ${rs} ${checkIdentity(c)}`) : undefined;
    };
    // Subscribe the new listeners before dropping the old ones, so shared keys keep their job.
    for (const f of fresh) {
      const id = f.entry.plan.id;
      f.entry.unsubscribe[f.at] = this.scheduler.subscribe(f.check, this.listenerFor(id, f.rs, f.check), this.scheduler.has(f.check.key) ? undefined : inherit(id, f.rs, f.check));
    }
    for (const entry of next.values()) {
      if (entry.pool) events.push(...entry.pool.applyPlan(entry.plan, initial));
      else {
        entry.pool = new ServicePool(entry.plan, initial);
        events.push(...entry.pool.bootstrap());
      }
    }
    for (const d of dropped) d.unsubscribe();
    this.services = next;
    for (const e of events) this.emit(e);
    return events;
  }

  private subscribeAll(plan: ServicePlan, inherit: (rs: string, c: CheckPlan) => VerdictState | undefined): (() => void)[] {
    return plan.realServers.flatMap((rs) =>
      rs.checks.map((c) => this.scheduler.subscribe(c, this.listenerFor(plan.id, rs.key, c), this.scheduler.has(c.key) ? undefined : inherit(rs.key, c))),
    );
  }

  /**
   * ha_suspend: the services in `ids` stop checking (a check shared with a running service goes
   * on for that one), the others run. A resumed check starts from the verdict it had.
   */
  setSuspended(ids: ReadonlySet<string>): void {
    if (this.stopped) return;
    for (const [id, entry] of this.services) {
      const now = ids.has(id);
      if (now === this.suspended.has(id)) continue;
      if (now) {
        // remember the verdicts of the checks that stop, so they resume from them
        for (const rs of entry.plan.realServers) {
          for (const c of rs.checks) {
            const v = this.scheduler.verdict(c.key);
            if (v?.hasRun) this.lastVerdicts.set(c.key, v);
          }
        }
        for (const u of entry.unsubscribe) u();
        entry.unsubscribe = [];
      } else if (this.started) {
        entry.unsubscribe = this.subscribeAll(entry.plan, (_rs, c) => this.lastVerdicts.get(c.key));
        for (const rs of entry.plan.realServers) for (const c of rs.checks) this.lastVerdicts.delete(c.key);
      }
    }
    this.suspended = new Set(ids);
  }

  /** Verdicts of checks as they were when last seen (for resuming a suspended service). */
  private readonly lastVerdicts = new Map<string, VerdictState>();

  /**
   * One subscription's listener. The steady state (the verdict this listener passed on last time,
   * again) stops here: the pool would find nothing changed, after three Map lookups that were a
   * good part of a check's JS time (10,000 pools' maps are pointer chasing through the heap).
   * The pool's entry for this check is whatever this listener passed on last (a reload makes new
   * listeners), so skipping the same verdict changes nothing.
   */
  private listenerFor(vs: string, rs: string, check: CheckPlan): (u: CheckUpdate) => void {
    let up: boolean | undefined; // undefined until the first update: that one always passes
    let weight: number | undefined;
    let weightDelta: number | undefined;
    const logFailures = check.logAllFailures === true && this.onFailure !== undefined;
    return (u) => {
      if (logFailures && !u.result.ok && !this.stopped) this.onFailure?.(check, u.result);
      const v = u.verdict;
      if (v.up === up && v.weight === weight && v.weightDelta === weightDelta) return;
      up = v.up;
      weight = v.weight;
      weightDelta = v.weightDelta;
      this.onUpdate(vs, rs, u);
    };
  }

  private onUpdate(vs: string, rs: string, u: CheckUpdate): void {
    const entry = this.services.get(vs);
    if (!entry || this.stopped) return;
    for (const e of entry.pool.setCheck(rs, u.key, u.verdict)) this.emit(e);
  }

  private emit(e: PoolEvent): void {
    this.onEvent?.(e);
  }

  private checkStatus(c: CheckPlan): CheckStatus {
    const v = this.scheduler.verdict(c.key);
    const last = this.scheduler.lastAttempt(c.key);
    const next = this.scheduler.nextRunAt(c.key);
    return {
      key: c.key,
      kind: c.kind,
      target: c.target,
      up: v?.up ?? !c.timing.alpha,
      consecutiveFailures: v?.consecutiveFailures ?? 0,
      ...(last ? { lastResult: last.result, lastCheckedAt: last.finishedAt, latencyMs: last.latencyMs } : {}),
      ...(next !== undefined ? { nextRunAt: next } : {}),
    };
  }
}

const noop = (): void => undefined;

/** What a listener depends on besides its service and real server: the check, and log_all_failures (not part of the key). */
function listenerKey(c: CheckPlan): string {
  return c.logAllFailures ? `${c.key} log` : c.key;
}

/**
 * A running service's subscriptions by real server and check key (in plan order, which is the
 * order of `unsubscribe`); empty for a suspended service, which has none.
 */
function keptSubscriptions(entry: ServiceEntry): Map<string, Map<string, (() => void)[]>> | undefined {
  const out = new Map<string, Map<string, (() => void)[]>>();
  let i = 0;
  for (const rs of entry.plan.realServers) {
    let byKey = out.get(rs.key);
    if (!byKey) out.set(rs.key, (byKey = new Map()));
    for (const c of rs.checks) {
      const u = entry.unsubscribe[i++];
      if (!u) return undefined;
      const k = listenerKey(c);
      const list = byKey.get(k);
      if (list) list.unshift(u);
      else byKey.set(k, [u]);
    }
  }
  return out;
}

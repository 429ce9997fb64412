// The BGP director: the daemon feeds it the health checker's verdicts, the IPVS reconciler's
// snapshots and maintenance; it runs the announce policy (policy.ts) for every VIP and keeps
// the engine announcing what the policy says. A loop, not logic:
//
//   inputs → decide() per VIP → announcements → engine.apply() (one at a time, the latest wins)
//   timers: the next drain deadline; the engine's sessions polled every PEER_POLL_MS
//   engine death → reported (log, status, metrics), started again with backoff
//
// Without a `bgp` section it holds nothing and does nothing, so the daemon can always make one.
import { readFileSync } from 'node:fs';
import type { DesiredBackends } from '../check/pool.js';
import type { Bgp, Config } from '../config/schema.js';
import { realClock, type Clock, type TimerHandle } from '../sys/clock.js';
import type { ReconcilerSnapshot } from '../ipvs/reconciler.js';
import { BirdEngine, type EngineLog } from './bird/engine.js';
import { birdPaths } from './bird/render.js';
import type { BgpEngine, PeerState } from './engine.js';
import { announcementFor, decide, nextDeadline, type Announcement, type Decision, type ServiceHealth } from './policy.js';
import type { BgpStatus, BgpVipStatus, VipState } from './status.js';
import { ipvsConvergence, ipvsView, planVips, serviceHealth, type IpvsView, type VipPlan } from './vips.js';
import { EngineWatchdog } from './watchdog.js';

const PEER_POLL_MS = 2000;
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;
/** An engine that ran this long is healthy again: the next failure restarts it after RESTART_MIN_MS. */
const STABLE_MS = 60_000;
const APPLY_RETRY_MS = 1000;
/** Control-socket failures in a row after which a running engine counts as hung and is restarted. */
const MAX_POLL_FAILURES = 3;

export interface BgpDirectorOptions {
  log: EngineLog;
  clock?: Clock;
  /** The engine (default BIRD 2); a second engine plugs in here. */
  createEngine?: (log: EngineLog) => BgpEngine;
  /** Reads a sysctl for the sloppy_tcp advice; default /proc/sys. */
  readSysctl?: (name: string) => string | undefined;
}

interface VipRuntime {
  plan: VipPlan;
  decision: Decision;
  since: string;
}

export class BgpDirector {
  private readonly log: EngineLog;
  private readonly clock: Clock;
  private config: Config | undefined;
  private bgp: Bgp | undefined;
  private engine: BgpEngine | undefined;
  private watchdog: EngineWatchdog | undefined;
  private engineState: BgpStatus['engine']['state'] = 'stopped';
  private engineSince = new Date().toISOString();
  private engineStartedAt = 0;
  private lastEngineError: string | undefined;
  private restarts = 0;
  private restartDelay = RESTART_MIN_MS;
  private restartTimer: TimerHandle | undefined;

  private plans: VipPlan[] = [];
  private readonly vips = new Map<string, VipRuntime>();
  private health = new Map<string, ServiceHealth>();
  private ipvs: IpvsView | undefined;
  private maintenanceSince: number | undefined;
  private readonly drainSince = new Map<string, number>();
  private readonly transitions: BgpStatus['transitions'] = {};

  private wanted: Announcement[] = [];
  private applied: Announcement[] | undefined;
  private applying: Promise<void> | undefined;
  private applyAgain = false;
  private applyRetry: TimerHandle | undefined;
  private readonly applies: BgpStatus['applies'] = { ok: 0, failed: 0 };
  private deadlineTimer: TimerHandle | undefined;
  private deadlineAt = Infinity;

  private peers: PeerState[] = [];
  private pollTimer: TimerHandle | undefined;
  private pollFailures = 0;
  private stopped = false;

  constructor(private readonly opts: BgpDirectorOptions) {
    this.log = opts.log;
    this.clock = opts.clock ?? realClock;
  }

  // ------------------------------------------------------------------ inputs

  /** Start (or, on reload, adopt) a config. Rejects when the engine cannot start at all. */
  async setConfig(config: Config): Promise<void> {
    const before = this.bgp;
    this.config = config;
    this.bgp = config.bgp;
    this.plans = planVips(config);
    const now = this.clock.now();
    for (const p of this.plans) {
      if (p.drain && !this.drainSince.has(p.prefix)) this.drainSince.set(p.prefix, now);
      if (!p.drain) this.drainSince.delete(p.prefix);
    }
    for (const prefix of [...this.vips.keys()]) if (!this.plans.some((p) => p.prefix === prefix)) this.vips.delete(prefix);
    if (!this.bgp) {
      if (before) {
        this.log.warn({}, 'bgp: the bgp section is gone; stopping the engine (the routers drop every route of this director)');
        await this.stopEngine();
      }
      return;
    }
    if (!before) this.sloppyAdvice();
    this.evaluate();
    // no engine yet, or one that failed to start and waits for no timer: start it with this config
    if (!before || !this.engine || this.engineState === 'stopped' || (this.engineState === 'down' && this.restartTimer === undefined)) {
      await this.startEngine();
      return;
    }
    if (this.engine.needsRestart(before, this.bgp)) {
      this.log.info({}, 'bgp: the engine binary or runtime_dir changed; restarting the engine');
      await this.stopEngine();
      await this.startEngine();
      return;
    }
    this.kickApply();
  }

  /** The health checker's pools (every push, already merged per event-loop turn by the daemon). */
  setHealth(desired: readonly DesiredBackends[]): void {
    if (!this.config) return;
    this.health = serviceHealth(this.config, desired);
    this.evaluate();
  }

  /**
   * The IPVS reconciler, looked at on the daemon's status timer. Its snapshot (a copy of the whole
   * table) is taken only when a VIP waits for IPVS, so other configs pay nothing for it.
   */
  observeIpvs(reconciler: { snapshot(): ReconcilerSnapshot } | undefined): void {
    if (!this.bgp || !reconciler || !this.plans.some((p) => p.servedBy === 'ipvs')) return;
    this.setIpvs(reconciler.snapshot());
  }

  /** The IPVS reconciler's latest snapshot. */
  setIpvs(snapshot: ReconcilerSnapshot | undefined): void {
    if (!this.bgp || !snapshot || !this.plans.some((p) => p.servedBy === 'ipvs')) return;
    const v = ipvsView(snapshot);
    const same = this.ipvs && this.ipvs.status === v.status && this.ipvs.error === v.error && this.ipvs.services.size === v.services.size && [...v.services].every((k) => this.ipvs?.services.has(k));
    if (same) return;
    this.ipvs = v;
    this.evaluate();
  }

  /** Node maintenance: every VIP drains for its drain_grace, then is withdrawn; off announces again. */
  setMaintenance(on: boolean): void {
    if (on === (this.maintenanceSince !== undefined)) return;
    this.maintenanceSince = on ? this.clock.now() : undefined;
    if (this.bgp) {
      if (on) this.log.warn({ vips: this.plans.length }, `bgp: maintenance on: the VIPs drain (drain attributes) and are withdrawn after their drain_grace (${this.bgp.drain_grace / 1000}s by default)`);
      else this.log.info({}, 'bgp: maintenance off: the VIPs are announced again where the policy allows');
    }
    this.evaluate();
  }

  // ------------------------------------------------------------------ the loop

  private evaluate(): void {
    if (!this.bgp || this.stopped) return;
    const now = this.clock.now();
    const wanted: Announcement[] = [];
    for (const plan of this.plans) {
      const ipvs = ipvsConvergence(plan, this.ipvs);
      const services = plan.virtualServers.map((vs) => this.health.get(vs) ?? { vs, quorumUp: false, up: 0, total: 0, quorum: 0, pending: true });
      const drain = this.drainSince.get(plan.prefix);
      const decision = decide({
        now,
        ipvsConverged: ipvs.converged,
        ...(ipvs.detail ? { ipvsDetail: ipvs.detail } : {}),
        services,
        ...(this.maintenanceSince !== undefined ? { maintenance: { since: this.maintenanceSince } } : {}),
        ...(drain !== undefined ? { drain: { since: drain } } : {}),
        drainGraceMs: plan.drainGraceMs,
      });
      this.record(plan, decision);
      const a = announcementFor(plan, decision, plan.attrs);
      if (a) wanted.push(a);
    }
    this.armDeadline(nextDeadline([...this.vips.values()].map((v) => v.decision)));
    if (!sameAnnouncements(wanted, this.wanted)) {
      this.wanted = wanted;
      this.kickApply();
    }
  }

  private record(plan: VipPlan, decision: Decision): void {
    const prev = this.vips.get(plan.prefix);
    const changed = !prev || prev.decision.action !== decision.action || prev.decision.code !== decision.code;
    this.vips.set(plan.prefix, { plan, decision, since: changed ? new Date().toISOString() : (prev as VipRuntime).since });
    if (!changed) return;
    const state = vipState(decision);
    const counts = (this.transitions[plan.prefix] ??= {});
    counts[state] = (counts[state] ?? 0) + 1;
    const fields = { vip: plan.prefix, state, code: decision.code };
    if (state === 'withdrawn') this.log.warn(fields, `bgp: ${plan.prefix} withdrawn: ${decision.reason}`);
    else this.log.info(fields, `bgp: ${plan.prefix} ${state}: ${decision.reason}`);
  }

  private armDeadline(at: number | undefined): void {
    if (at === this.deadlineAt || (at === undefined && this.deadlineAt === Infinity)) return;
    if (this.deadlineTimer !== undefined) this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.deadlineAt = at ?? Infinity;
    if (at === undefined) return;
    this.deadlineTimer = this.clock.setTimeout(() => {
      this.deadlineTimer = undefined;
      this.deadlineAt = Infinity;
      this.evaluate();
    }, at - this.clock.now());
  }

  /** One apply at a time; whatever changes meanwhile is applied right after, latest state only. */
  private kickApply(): void {
    if (this.engineState !== 'running' || !this.engine || !this.bgp) return;
    if (this.applying) {
      this.applyAgain = true;
      return;
    }
    const engine = this.engine;
    this.applying = (async () => {
      do {
        this.applyAgain = false;
        const list = this.wanted;
        const bgp = this.bgp;
        if (!bgp) return;
        const t0 = this.clock.now();
        try {
          await engine.apply(bgp, list);
          this.applied = list;
          this.applies.ok++;
          this.applies.lastMs = this.clock.now() - t0;
          if (this.applies.lastError) this.log.info({}, 'bgp: the engine accepts the announcements again');
          delete this.applies.lastError;
        } catch (e) {
          this.applies.failed++;
          const msg = (e as Error).message;
          if (msg !== this.applies.lastError) this.log.error({ err: msg }, `bgp: the engine did not take the announcements: ${msg}; retrying`);
          this.applies.lastError = msg;
          this.applyRetry ??= this.clock.setTimeout(() => {
            this.applyRetry = undefined;
            this.kickApply();
          }, APPLY_RETRY_MS);
          return;
        }
      } while (this.applyAgain && this.engineState === 'running');
    })().finally(() => {
      this.applying = undefined;
    });
  }

  // ------------------------------------------------------------------ the engine

  private async startEngine(): Promise<void> {
    const bgp = this.bgp;
    if (!bgp || this.stopped) return;
    if (!this.engine) {
      const engine = (this.opts.createEngine ?? ((log) => new BirdEngine({ log })))(this.log);
      engine.onExit((exit) => this.onEngineExit(exit));
      this.engine = engine;
    }
    const tag = birdPaths(bgp.bird.runtime_dir).config;
    if (!this.watchdog) this.watchdog = new EngineWatchdog(bgp.hang_timeout, tag);
    this.setEngineState('starting');
    const list = this.wanted;
    try {
      await this.engine.start(bgp, list);
    } catch (e) {
      if (this.stopped) return;
      this.lastEngineError = (e as Error).message;
      this.setEngineState('down');
      throw new Error(`bgp: the ${this.engine.name} engine did not start: ${this.lastEngineError}`);
    }
    if (this.stopped) {
      await this.engine.stop(); // stop() came while it started
      return;
    }
    this.applied = list;
    this.engineStartedAt = this.clock.now();
    this.watchdog.setPid(this.engine.pid);
    this.setEngineState('running');
    this.pollFailures = 0;
    void this.pollPeers();
    if (this.bgp !== bgp || !sameAnnouncements(this.wanted, list)) this.kickApply(); // what changed while it started
  }

  private onEngineExit(exit: { code: number | null; signal: NodeJS.Signals | null }): void {
    this.watchdog?.setPid(undefined);
    const killedByWatchdog = (this.watchdog?.kills ?? 0) > this.restartsByWatchdog;
    this.restartsByWatchdog = this.watchdog?.kills ?? 0;
    const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
    this.lastEngineError = `${this.engine?.name ?? 'engine'} ended (${how})${killedByWatchdog ? ', killed by the hang watchdog' : ''}`;
    this.setEngineState('down');
    this.peers = this.peers.map((p) => ({ ...p, state: 'down', established: false, info: 'engine down' }));
    if (this.clock.now() - this.engineStartedAt > STABLE_MS) this.restartDelay = RESTART_MIN_MS;
    const delay = this.restartDelay;
    this.restartDelay = Math.min(RESTART_MAX_MS, this.restartDelay * 2);
    this.log.error(
      { exit: exit.code, signal: exit.signal, restart_in_ms: delay },
      `bgp: ${this.lastEngineError}: its sessions are closed, so the routers drop this director's routes (hold timer or BFD if the close never reached them); starting it again in ${delay / 1000}s`,
    );
    this.scheduleRestart(delay);
  }

  private restartsByWatchdog = 0;

  private scheduleRestart(delay: number): void {
    if (this.restartTimer !== undefined || this.stopped) return;
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped || !this.bgp) return;
      this.restarts++;
      this.startEngine().then(
        () => this.log.info({ restarts: this.restarts }, 'bgp: engine running again'),
        (e: Error) => {
          this.log.error({ err: e.message }, e.message);
          const d = this.restartDelay;
          this.restartDelay = Math.min(RESTART_MAX_MS, this.restartDelay * 2);
          this.scheduleRestart(d);
        },
      );
    }, delay);
  }

  private async stopEngine(): Promise<void> {
    if (this.restartTimer !== undefined) this.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.watchdog?.setPid(undefined);
    await this.applying?.catch(() => undefined);
    await this.engine?.stop();
    await this.watchdog?.stop();
    this.watchdog = undefined;
    this.setEngineState('stopped');
    this.peers = [];
    this.applied = undefined;
  }

  private setEngineState(s: BgpStatus['engine']['state']): void {
    if (s === this.engineState) return;
    this.engineState = s;
    this.engineSince = new Date().toISOString();
    if (s === 'running' || s === 'starting') this.armPoll();
  }

  private armPoll(): void {
    if (this.pollTimer !== undefined || this.stopped) return;
    this.pollTimer = this.clock.setTimeout(() => {
      this.pollTimer = undefined;
      void this.pollPeers().finally(() => {
        if (this.engineState === 'running' || this.engineState === 'starting') this.armPoll();
      });
    }, PEER_POLL_MS);
  }

  private async pollPeers(): Promise<void> {
    const engine = this.engine;
    const bgp = this.bgp;
    if (!engine || !bgp || this.engineState !== 'running') return;
    let peers: PeerState[];
    try {
      peers = await engine.peers(bgp);
      this.pollFailures = 0;
    } catch (e) {
      if (this.engineState !== 'running') return;
      this.pollFailures++;
      this.log.warn({ err: (e as Error).message, failures: this.pollFailures }, `bgp: the engine did not answer: ${(e as Error).message}`);
      if (this.pollFailures >= MAX_POLL_FAILURES) {
        this.lastEngineError = `${engine.name} stopped answering its control socket`;
        this.log.error({}, `bgp: ${this.lastEngineError}; restarting it`);
        await engine.stop();
        this.onEngineExit({ code: null, signal: null });
      }
      return;
    }
    for (const p of peers) {
      const before = this.peers.find((q) => q.name === p.name);
      if (before?.established === p.established && before !== undefined) continue;
      if (p.established) this.log.info({ peer: p.name, address: p.address, as: p.as }, `bgp: session to ${p.name} (${p.address}, AS ${p.as}) established`);
      else if (before?.established) this.log.warn({ peer: p.name, address: p.address, state: p.state, info: p.info }, `bgp: session to ${p.name} (${p.address}) is ${p.state}${p.info ? `: ${p.info}` : ''}`);
      if (p.info?.includes('No listening socket') && !before?.info?.includes('No listening socket')) {
        // BIRD needs TCP port 179 for every session, also the ones it opens itself
        this.log.error({ peer: p.name }, `bgp: ${this.engine?.name ?? 'the engine'} cannot listen on TCP port 179, so no session comes up: give vipkeeper CAP_NET_BIND_SERVICE (systemd: add it to CapabilityBoundingSet and AmbientCapabilities, see the README)`);
      }
    }
    this.peers = peers;
  }

  /** sloppy_tcp / sloppy_sctp: a flow that ECMP moves here mid-way is only picked up with them on. */
  private sloppyAdvice(): void {
    const config = this.config;
    if (!config || !this.plans.some((p) => p.servedBy === 'ipvs')) return;
    const read = this.opts.readSysctl ?? readProcSysctl;
    const wants = new Set(['tcp', ...(config.virtual_servers.some((vs) => vs.protocol === 'SCTP') ? ['sctp'] : [])]);
    for (const proto of wants) {
      const v = read(`net/ipv4/vs/sloppy_${proto}`);
      if (v !== undefined && v.trim() === '0') {
        this.log.warn(
          { sysctl: `net.ipv4.vs.sloppy_${proto}` },
          `bgp: net.ipv4.vs.sloppy_${proto} is 0: IPVS takes a ${proto.toUpperCase()} flow only from its first packet, so a flow that the routers move to this director mid-way is dropped; set it to 1 (sysctl -w net.ipv4.vs.sloppy_${proto}=1) on every director`,
        );
      }
    }
  }

  // ------------------------------------------------------------------ status and stop

  status(): BgpStatus | undefined {
    const bgp = this.bgp;
    if (!bgp) return undefined;
    const wallOf = (mono: number) => new Date(Date.now() + (mono - this.clock.now())).toISOString();
    const vips: BgpVipStatus[] = this.plans.map((plan) => {
      const rt = this.vips.get(plan.prefix);
      const decision = rt?.decision;
      const state: VipState = decision ? vipState(decision) : 'withdrawn';
      const a = this.wanted.find((x) => x.prefix === plan.prefix);
      const inApplied = this.applied?.find((x) => x.prefix === plan.prefix);
      const inEngine = this.engineState === 'running' && (a ? inApplied !== undefined && sameAnnouncements([a], [inApplied]) : inApplied === undefined);
      return {
        prefix: plan.prefix,
        servedBy: plan.servedBy,
        state,
        code: decision?.code ?? 'pending',
        reason: decision?.reason ?? 'not evaluated yet',
        since: rt?.since ?? this.engineSince,
        ...(decision?.action === 'announce-drain' ? { withdrawAt: wallOf(decision.withdrawAt) } : {}),
        ...(a ? { med: a.med, communities: [...a.communities] } : {}),
        inEngine,
      };
    });
    return {
      engine: {
        name: this.engine?.name ?? bgp.engine,
        state: this.engineState,
        ...(this.engine?.pid !== undefined ? { pid: this.engine.pid } : {}),
        since: this.engineSince,
        restarts: this.restarts,
        watchdogKills: this.watchdog?.kills ?? this.restartsByWatchdog,
        ...(this.lastEngineError ? { lastError: this.lastEngineError } : {}),
      },
      localAs: bgp.local_as,
      routerId: bgp.router_id,
      maintenance: this.maintenanceSince !== undefined,
      vips,
      peers: this.peers.map((p) => ({ ...p })),
      applies: { ...this.applies },
      transitions: structuredClone(this.transitions),
    };
  }

  /** Stops the engine (its sessions close: the routers drop every route of this director at once). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of [this.deadlineTimer, this.pollTimer, this.applyRetry]) if (t !== undefined) this.clock.clearTimeout(t);
    if (this.bgp && this.engine) this.log.info({}, "bgp: stopping the engine; the routers drop this director's routes");
    await this.stopEngine();
  }
}

function vipState(d: Decision): VipState {
  return d.action === 'announce' ? 'announced' : d.action === 'announce-drain' ? 'draining' : 'withdrawn';
}

function sameAnnouncements(a: readonly Announcement[], b: readonly Announcement[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i] as Announcement;
    return x.prefix === y.prefix && x.med === y.med && x.draining === y.draining && x.communities.length === y.communities.length && x.communities.every((c, k) => c === y.communities[k]);
  });
}

function readProcSysctl(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${name}`, 'utf8');
  } catch {
    return undefined;
  }
}

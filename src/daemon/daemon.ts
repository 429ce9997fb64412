// The whole daemon: VRRP in its own worker thread, health checks and the control
// API in the main thread, a supervisor that restarts the VRRP worker if it dies,
// hitless reload, graceful stop, and systemd notifications (READY, RELOADING,
// STOPPING, and WATCHDOG only while the VRRP loop is alive).
import { hostname } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BgpDirector } from '../bgp/director.js';
import { ipvsConfigView } from '../bgp/vips.js';
import { HealthChecker } from '../check/health.js';
import type { DesiredBackends } from '../check/pool.js';
import type { BackendState, PoolState } from '../ipvs/desired.js';
import { createIpvsBackend } from '../ipvs/factory.js';
import { serviceKey } from '../ipvs/model.js';
import { Reconciler, type ReconcilerSnapshot, type VrrpState } from '../ipvs/reconciler.js';
import { runDirect, runProbe } from '../check/probes/index.js';
import { CHECK_TIMER_SLACK_MS } from '../check/scheduler.js';
import { formatDiagnostic, type Diagnostic } from '../config/diagnostics.js';
import { loadConfigFile, type ConfigFormat } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { notifyReady, notifyReloading, notifyStatus, notifyStopping, notifyWatchdog, watchdogIntervalMs } from '../sys/sd-notify.js';
import { startControlServer, type CommandResult, type ControlServer } from './control/server.js';
import { loadConfigOffThread, RELOAD_PARSE_TIMEOUT_MS } from './config-thread.js';
import { configHash } from './config-hash.js';
import { HeldLocks, LockHeld, type Locks } from './instance-lock.js';
import { startHeapGovernor, type HeapGovernor } from './heap-governor.js';
import { logFormat, type Logger, type LogLevel } from '../sys/logger.js';
import { serializeCoalescing } from '../sys/serialize.js';
import { applyScriptPolicy } from '../sys/exec.js';
import { runStartStopScript } from './start-stop-scripts.js';
import { startCheckerPort, type CheckerPort } from './scripts/checker-port.js';
import { scriptPrivilegeProblems } from './script-privileges.js';
import { haSuspended } from './ha-suspend.js';
import { checkerAlert, Mailer, vrrpAlert, vrrpMailOn } from './mail/mailer.js';
import { createMetrics, type Metrics } from './control/metrics.js';
import { ArpWatch } from '../realserver/arp-watch.js';
import { configuredTable, realServerLines, serviceStatus, type ConfigState, type DaemonStatus, type IpvsStatus } from './control/status.js';
import type { RuntimeRequest, RuntimeResponse, RuntimeSnapshot } from './vrrp/types.js';
import type { VrrpWorkerData, WorkerCall, WorkerMessage, WorkerTestCrash } from './vrrp/worker.js';

const VERSION = '0.1.0';
const HEARTBEAT_MS = 500;
const SNAPSHOT_MS = 500;
/** How often the MASTER asks who answers ARP for each DR/TUN VIP (the ARP problem, src/realserver/arp-watch.ts). */
const ARP_PROBE_MS = 10_000;
const CALL_TIMEOUT_MS = 10_000;
const MAX_RESTARTS = 3; // within RESTART_WINDOW_MS, then the daemon gives up
const RESTART_WINDOW_MS = 60_000;

export interface DaemonOptions {
  file: string;
  configId: string;
  transport: 'raw' | 'udp';
  udpPort: number;
  logLevel: LogLevel;
  /** Overrides control.socket from the config. */
  socket?: string;
  log: Logger;
  /** Called when a component dies and cannot be restarted: the process should exit with this code. */
  onFatal: (code: number, why: string) => void;
  /**
   * Signals the caller stops the daemon on (process.on handlers it installed). The VRRP worker
   * watches them too and starts its stop (priority 0) without waiting for this thread.
   */
  stopSignals?: NodeJS.Signals[];
  /**
   * Keep this thread's RSS near its live size (heap-governor.ts; default on). Off, V8 lets the
   * heap grow to several times the live size at 10,000 real servers.
   */
  heapGovernor?: boolean;
  /** A reload whose config takes longer than this to read is refused (default RELOAD_PARSE_TIMEOUT_MS). */
  reloadParseTimeoutMs?: number;
}

export class DaemonStartError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

type Reply = Extract<WorkerMessage, { type: 'reply' }>['res'];

export class Daemon {
  private config!: Config;
  private configState!: ConfigState;
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly calls = new Map<number, (r: Reply) => void>();
  private heartbeatAt = 0;
  private vrrp: RuntimeSnapshot | undefined;
  private health: HealthChecker | undefined;
  private ipvs: Reconciler | undefined;
  private reconcileRuns = 0;
  private pushScheduled = false;
  private control: ControlServer | undefined;
  private readonly metrics: Metrics;
  private readonly drained = new Set<string>();
  private maintenance = false;
  private readonly otherMasterSeen: Record<string, number> = {};
  private unhandledErrors = 0;
  private readonly startedAt = new Date();
  private readonly timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private restarts: number[] = [];
  /** VRRP worker restarts since start, and watchdog pings withheld for a late VRRP heartbeat (metrics, alerts). */
  private workerRestarts = 0;
  private watchdogLate = 0;
  private readonly log: Logger;
  private heap: HeapGovernor | undefined;
  /** Held instance and IPVS locks, by key (see instance-lock.ts). */
  private readonly locks = new HeldLocks();
  private bgp: BgpDirector | undefined;
  private arpWatch: ArpWatch | undefined;
  /** Real server and virtual server notifies, checker FIFO lines, checker mail alerts. */
  private checker: CheckerPort | undefined;
  /** smtp_alert for VRRP and checker events: one queue, in this thread, never on the VRRP one. */
  private mailer: Mailer | undefined;
  /** The VRRP state of each instance, from the worker's transitions (ha_suspend follows it). */
  private readonly vrrpStates = new Map<string, string>();

  constructor(private readonly opts: DaemonOptions) {
    this.log = opts.log;
    this.metrics = createMetrics(() => this.status());
  }

  /** Loads the config and starts everything; throws DaemonStartError with an exit code. */
  async start(): Promise<void> {
    // before the config is read: loading 10,000 real servers is the largest transient
    if (this.opts.heapGovernor !== false) this.heap = this.startHeapGovernor();
    const loaded = loadConfigFile(this.opts.file, { configId: this.opts.configId });
    for (const d of loaded.diagnostics) this.logDiagnostic(d);
    if (!loaded.config) {
      this.heap?.stop();
      throw new DaemonStartError(`${this.opts.file}: ${loaded.unreadable ? "cannot read the config" : "invalid config"}, not started`, loaded.unreadable ? 3 : 1);
    }
    this.config = loaded.config;
    this.configState = this.newConfigState(loaded.format, loaded.config);
    // MISC_CHECK and the checker-side scripts run in this thread: the same policy as the VRRP thread's
    applyScriptPolicy(this.config.global);
    void this.reportScriptPrivileges(loaded.config);

    // Before anything touches an address or an IPVS entry: no other daemon runs these instances here.
    try {
      this.locks.switchTo(await this.locks.take(this.config));
    } catch (e) {
      this.heap?.stop();
      if (e instanceof LockHeld) throw new DaemonStartError(e.message, 3);
      throw e;
    }

    // before the VRRP worker: keepalived mails the first BACKUP at start too
    this.mailer = new Mailer(this.config, { logger: this.log.child({ component: 'mail' }) });
    // bgp: made before the checks and IPVS start, so their first verdicts reach it
    this.bgp = new BgpDirector({ log: this.log.child({ component: 'bgp' }) });
    this.installTestHooks();
    await runStartStopScript('startup', this.config.global, this.log);
    await this.startWorker();
    await this.startHealth();
    this.startIpvs();
    this.startArpWatch();
    await this.bgp.setConfig(this.config).catch(async (e: Error) => {
      await this.stop('bgp engine failed');
      throw new DaemonStartError(e.message, 3);
    });
    this.heap?.endBurst(); // the config is loaded and the checker built
    const socketPath = this.opts.socket ?? this.config.control.socket;
    try {
      this.control = await startControlServer({
        socketPath,
        ...(this.config.control.http ? { http: this.config.control.http } : {}),
        handlers: {
          status: () => this.status(),
          metrics: async () => ({ contentType: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() }),
          drain: (rs, vs) => this.drain(rs, vs, true),
          undrain: (rs, vs) => this.drain(rs, vs, false),
          maintenance: (on) => this.setMaintenance(on),
          stepDown: (instance) => this.stepDown(instance),
          reload: () => this.reload(),
        },
      });
    } catch (e) {
      await this.stop('control socket failed');
      throw new DaemonStartError(`control socket ${socketPath}: ${(e as Error).message}`, 3);
    }
    this.log.info({ socket: socketPath, http: this.control.httpAddress }, 'control API listening');
    this.timers.push(
      setInterval(() => {
        void this.refreshSnapshot();
        this.observeReconciles();
        this.bgp?.observeIpvs(this.ipvs);
      }, SNAPSHOT_MS),
    );
    this.startWatchdog();
    const n = Object.keys(this.config.instances).length;
    safe(() => notifyReady(`${n} VRRP instance(s), ${this.config.virtual_servers.length} virtual server(s)`));
    this.log.info({ instances: n, virtual_servers: this.config.virtual_servers.length }, 'vipkeeper running');
  }

  // ------------------------------------------------------------------ VRRP worker

  private workerUrl(): URL {
    // Under tsx (tests, development) the sources are .ts; installed, they are compiled .js.
    const here = import.meta.url;
    return new URL(here.endsWith('.ts') ? './vrrp/worker.ts' : './vrrp/worker.js', here);
  }

  private startWorker(restarted = false): Promise<void> {
    const data: VrrpWorkerData = {
      restarted,
      config: vrrpPart(this.config),
      transport: this.opts.transport,
      udpPort: this.opts.udpPort,
      logLevel: this.opts.logLevel,
      logPretty: logFormat() === 'human',
      heartbeatMs: HEARTBEAT_MS,
      stopSignals: this.opts.stopSignals ?? [],
    };
    const url = this.workerUrl();
    // Under tsx the worker must register tsx itself: loader hooks do not follow into workers on Node 20.
    const worker = url.pathname.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(url.href)}); });`, { eval: true, workerData: data, name: 'vrrp' })
      : new Worker(url, { workerData: data, name: 'vrrp' });
    this.worker = worker;
    this.heartbeatAt = Date.now();
    return new Promise((resolve, reject) => {
      let settled = false;
      let started = false;
      worker.on('message', (m: WorkerMessage) => {
        switch (m.type) {
          case 'heartbeat':
            this.heartbeatAt = Date.now();
            break;
          case 'reply':
            this.calls.get(m.id)?.(m.res);
            this.calls.delete(m.id);
            break;
          case 'event':
            this.onVrrpEvent(m.event as { type: string; instance?: string });
            break;
          case 'started':
            settled = true;
            started = true;
            void this.refreshSnapshot();
            resolve();
            break;
          case 'startFailed':
            settled = true;
            reject(
              new DaemonStartError(
                m.code === 'EPERM'
                  ? `VRRP cannot start: ${m.error}: needs root or CAP_NET_RAW (or --transport udp between vipkeepers)`
                  : `VRRP cannot start: ${m.error}`,
                3,
              ),
            );
            void worker.terminate();
            break;
          case 'stopped':
            break;
        }
      });
      worker.on('error', (e) => {
        this.log.error({ err: e.message }, 'VRRP worker crashed');
        if (!settled) {
          settled = true;
          reject(new DaemonStartError(`VRRP worker crashed: ${e.message}`, 3));
        }
      });
      worker.on('exit', (code) => {
        if (this.worker === worker) this.worker = undefined;
        for (const [id, r] of this.calls) {
          r({ ok: false, error: 'VRRP worker exited' });
          this.calls.delete(id);
        }
        if (!settled) {
          settled = true;
          reject(new DaemonStartError(`VRRP worker exited with code ${code} while starting`, 3));
          return;
        }
        if (started && !this.stopping) void this.restartWorker(code);
      });
    });
  }

  /**
   * Supervisor: a dead VRRP worker is restarted at once (its adverts stopped when it died, so every
   * millisecond counts before the peer's Master_Down_Interval runs out); a second and third death
   * within RESTART_WINDOW_MS wait 0.5 s and 1 s; a fourth ends the daemon. The new worker starts
   * its instances BACKUP with preemption held: if the peer took over meanwhile it keeps the VIPs,
   * so a crash costs at most one handover, not a takeover and a hand-back.
   */
  private async restartWorker(code: number): Promise<void> {
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (this.restarts.length >= MAX_RESTARTS) {
      this.log.error({ exit: code, restarts: this.restarts.length }, 'VRRP worker keeps dying; giving up');
      this.opts.onFatal(3, 'VRRP worker keeps dying');
      return;
    }
    const delay = this.restarts.length === 0 ? 0 : 500 * 2 ** (this.restarts.length - 1);
    this.restarts.push(now);
    this.workerRestarts++;
    this.log.error({ exit: code, restart_in_ms: delay, restarts: this.workerRestarts }, 'VRRP worker died; restarting it');
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (this.stopping) return;
    try {
      await this.startWorker(true);
      this.log.info({ restarts: this.workerRestarts }, 'VRRP worker restarted');
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'VRRP worker restart failed');
      this.opts.onFatal(3, 'VRRP worker restart failed');
    }
  }

  /** VIPKEEPER_TEST_HOOKS=1 only (the drills): SIGUSR2 makes the VRRP worker crash alone. */
  private installTestHooks(): void {
    if (process.env.VIPKEEPER_TEST_HOOKS !== '1') return;
    this.log.warn({}, 'VIPKEEPER_TEST_HOOKS=1: SIGUSR2 crashes the VRRP worker (for drills; never in production)');
    process.on('SIGUSR2', () => this.worker?.postMessage({ testCrash: true } satisfies WorkerTestCrash));
  }

  private call(req: WorkerCall['req']): Promise<Reply> {
    const w = this.worker;
    if (!w) return Promise.resolve({ ok: false, error: 'the VRRP engine is not running' });
    const id = this.nextId++;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.calls.delete(id);
        resolve({ ok: false, error: 'the VRRP engine did not answer in time' });
      }, CALL_TIMEOUT_MS);
      this.calls.set(id, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      w.postMessage({ id, req } satisfies WorkerCall);
    });
  }

  private async runtimeCall(req: RuntimeRequest): Promise<RuntimeResponse> {
    return (await this.call(req)) as RuntimeResponse;
  }

  private async refreshSnapshot(): Promise<void> {
    const r = await this.runtimeCall({ type: 'snapshot' });
    if (r.ok && r.snapshot) this.vrrp = r.snapshot;
  }

  private onVrrpEvent(ev: { type: string; instance?: string; [k: string]: unknown }): void {
    if (ev.type === 'otherMasterSeen' && ev.instance) this.otherMasterSeen[ev.instance] = (this.otherMasterSeen[ev.instance] ?? 0) + 1;
    if (ev.type === 'transition' && ev.instance && typeof ev.to === 'string') {
      this.ipvs?.setVrrpState(ev.instance, ev.to as VrrpState);
      this.vrrpStates.set(ev.instance, ev.to);
      this.health?.setSuspended(haSuspended(this.config, this.vrrpStates));
    }
    if (ev.type === 'transition' || ev.type === 'groupTransition') {
      void this.refreshSnapshot();
      this.mailVrrp(ev);
    }
  }

  private mailVrrp(ev: { type: string; instance?: string; group?: string; to?: unknown }): void {
    const m = this.mailer;
    const to = typeof ev.to === 'string' ? ev.to : undefined;
    if (!m?.enabled || !to || !['MASTER', 'BACKUP', 'FAULT'].includes(to)) return;
    const owner = ev.type === 'transition' ? (ev.instance ? this.config.instances[ev.instance] : undefined) : ev.group ? this.config.sync_groups[ev.group] : undefined;
    if (!owner || !vrrpMailOn(this.config, owner.smtp_alert, to)) return;
    m.send(vrrpAlert(m.routerId, ev.type === 'transition' ? 'instance' : 'group', (ev.instance ?? ev.group) as string, to));
  }

  // ------------------------------------------------------------------ health checks

  private async startHealth(): Promise<void> {
    if (this.config.virtual_servers.length === 0) return;
    // after the VRRP worker: it creates the global notify_fifo this thread attaches to
    this.checker ??= await startCheckerPort(this.config, this.log.child({ component: 'checker' }), (a) => {
      const m = this.mailer;
      if (!m?.enabled) return;
      m.send(checkerAlert(m.routerId, a));
    });
    this.health = new HealthChecker(this.config, {
      probe: runProbe,
      direct: runDirect,
      timerSlackMs: CHECK_TIMER_SLACK_MS,
      onLatency: (kind, ms, ok) => this.metrics.observeCheck(kind, ok, ms),
      // log_all_failures: each failed attempt, not only the state changes
      onFailure: (c, r) => this.log.warn({ vs: c.vs, rs: c.rs, check: c.kind, reason: r.reason }, `${c.kind} on ${c.target} failed: ${r.detail}`),
      onEvent: (ev) => {
        const e = ev as unknown as { type: string; vs?: string; rs?: string; initial?: boolean };
        if (!e.initial) this.log.info({ event: e.type, vs: e.vs, rs: e.rs }, `health: ${e.type}${e.rs ? ` ${e.rs}` : ''}${e.vs ? ` in ${e.vs}` : ''}`);
        this.checker?.onEvent(ev);
        this.schedulePush();
      },
    });
    for (const w of this.health.warnings) this.log.warn({}, w);
    this.health.setSuspended(haSuspended(this.config, this.vrrpStates));
    this.health.start();
    // after the VRRP worker started its instances (start() awaits it): a large table never delays the election
    this.log.info({ checks: this.health.scheduler.stats().jobs }, 'health checks scheduled');
  }


  // ------------------------------------------------------------------ IPVS

  /** The reconciler keeps the kernel table equal to config + verdicts; without IP_VS it says so and retries. */
  private startIpvs(): void {
    if (ipvsConfigView(this.config).virtual_servers.length === 0) return;
    const log = this.log.child({ component: 'ipvs' });
    this.ipvs = new Reconciler({
      backend: createIpvsBackend(this.config, log),
      manage: this.config.ipvs.manage,
      drainTimeout: this.config.ipvs.drain_timeout,
      maxInterval: this.config.ipvs.resync_interval,
      logger: log,
    });
    this.ipvs.setConfig(ipvsConfigView(this.config));
    this.pushBackends();
    this.ipvs.start();
  }

  /**
   * Pool events come one per real server (ten thousand at start): recompute the pools
   * once per turn of the event loop, not once per event.
   */
  private schedulePush(): void {
    if (this.pushScheduled) return;
    this.pushScheduled = true;
    setImmediate(() => {
      this.pushScheduled = false;
      this.pushBackends();
    });
  }

  /** Health verdicts → the reconciler's per-service pools. */
  private pushBackends(): void {
    if (!this.health) return;
    const desired = this.health.desiredAll();
    this.ipvs?.setBackendState(backendState(desired));
    this.bgp?.setHealth(desired);
  }

  private ipvsStatus(): IpvsStatus {
    if (!this.ipvs) return { state: 'disabled', error: 'no virtual servers for IPVS in the config', driftCorrections: 0, reconciles: 0, table: [] };
    const snap: ReconcilerSnapshot = this.ipvs.snapshot();
    const state = snap.status === 'in-sync' ? 'in-sync' : snap.status === 'degraded' ? 'degraded' : snap.status === 'initializing' ? 'pending' : 'disabled';
    const config = this.config ? ipvsConfigView(this.config) : undefined;
    const configured = config ? configuredTable(config) : undefined;
    return {
      state,
      ...(snap.sync.lastError ? { error: snap.sync.lastError } : {}),
      driftCorrections: snap.sync.driftCorrections,
      reconciles: snap.sync.runs,
      ...(snap.sync.lastSuccessAt !== undefined ? { lastReconcileAt: new Date(Date.now() - (performance.now() - snap.sync.lastSuccessAt)).toISOString() } : {}),
      table: snap.table.map((svc) => serviceStatus(svc, configured?.owners.get(serviceKey(svc.id)))),
      ...(configured ? { configured: configured.table.map((svc) => serviceStatus(svc, configured.owners.get(serviceKey(svc.id)))) } : {}),
    };
  }

  /** Reconcile durations go to the metrics as they happen (read from the snapshot's counters). */
  private observeReconciles(): void {
    const sync = this.ipvs?.snapshot().sync;
    if (!sync || sync.runs === this.reconcileRuns) return;
    this.reconcileRuns = sync.runs;
    if (sync.lastDurationMs !== undefined) this.metrics.observeReconcile(sync.lastDurationMs, sync.consecutiveFailures > 0 ? 'error' : 'ok');
  }

  // ------------------------------------------------------------------ the ARP problem

  /** DR/TUN virtual servers: the MASTER asks who else answers ARP for their VIPs. */
  private startArpWatch(): void {
    const w = new ArpWatch(this.config, { log: this.log.child({ component: 'arp-watch' }), intervalMs: ARP_PROBE_MS });
    if (!w.active) return;
    this.arpWatch = w;
    w.start();
  }

  // ------------------------------------------------------------------ watchdog

  private startWatchdog(): void {
    const wd = watchdogIntervalMs();
    if (!wd) return;
    // Ping only while the VRRP loop's heartbeat is fresh: a stuck loop gets restarted by systemd.
    const every = Math.max(100, Math.floor(wd / 2));
    const fresh = Math.max(HEARTBEAT_MS * 4, every);
    this.timers.push(
      setInterval(() => {
        if (Date.now() - this.heartbeatAt <= fresh) safe(() => notifyWatchdog());
        else {
          this.watchdogLate++;
          this.log.warn({ since_ms: Date.now() - this.heartbeatAt }, 'VRRP loop heartbeat is late; not pinging the watchdog');
        }
      }, every),
    );
  }

  // ------------------------------------------------------------------ reload

  /**
   * SIGHUP (or the control API): a config that fails `check` is refused and the running one stays.
   * Reloads never overlap: one asked for while another runs is queued, and any number of them
   * asked for meanwhile make that one more reload (of the file as it is then).
   */
  readonly reload: () => Promise<CommandResult> = serializeCoalescing(
    () => this.reloadNow(),
    () => this.log.info({}, 'a reload is running; one more is queued to follow it'),
  );

  private async reloadNow(): Promise<CommandResult> {
    safe(() => notifyReloading());
    try {
      // off the main thread, bounded: this thread keeps feeding the watchdog meanwhile. The RSS
      // grows by the reader's heap, which collecting this thread's cannot shrink: no collections
      // meanwhile (they cost 2-3 s of CPU at 37,300 real servers and slowed the reader threefold)
      const t0 = performance.now();
      const release = this.heap?.hold();
      const loaded = await loadConfigOffThread(this.opts.file, { configId: this.opts.configId }, this.opts.reloadParseTimeoutMs ?? RELOAD_PARSE_TIMEOUT_MS).finally(() => release?.());
      this.heap?.beginBurst(); // the new config and the old one are both in memory for a while
      for (const d of loaded.diagnostics) this.logDiagnostic(d);
      const at = new Date().toISOString();
      if (!loaded.config) {
        const first = loaded.diagnostics.find((d) => d.severity === 'error');
        const error = first ? formatDiagnostic(first) : 'invalid config';
        this.configState.reloads.failed++;
        this.configState.lastReload = { at, ok: false, error };
        this.log.error({ file: this.opts.file, error }, 'reload refused: the new config is invalid; the running config stays');
        return { ok: false, message: `reload refused: ${error}` };
      }
      const config = loaded.config;
      let locks: Map<string, Locks>;
      try {
        locks = await this.locks.take(config);
      } catch (e) {
        const error = (e as Error).message;
        this.configState.reloads.failed++;
        this.configState.lastReload = { at, ok: false, error };
        this.log.error({ error }, 'reload refused; the running config stays');
        return { ok: false, message: `reload refused: ${error}` };
      }
      const t1 = performance.now();
      const r = await this.call({ type: 'reloadConfig', config: vrrpPart(config) });
      const t2 = performance.now();
      if (!r.ok) {
        this.locks.abandon(locks);
        this.configState.reloads.failed++;
        this.configState.lastReload = { at, ok: false, error: r.error };
        this.log.error({ error: r.error }, 'reload refused by the VRRP engine; the running config stays');
        return { ok: false, message: `reload refused: ${r.error}` };
      }
      this.locks.switchTo(locks);
      applyScriptPolicy(config.global);
      this.checker?.setConfig(config);
      void this.reportScriptPrivileges(config);
      this.mailer?.setConfig(config);
      this.health?.setSuspended(haSuspended(config, this.vrrpStates));
      this.health?.reload(config);
      const t3 = performance.now();
      this.config = config;
      if (!this.health && config.virtual_servers.length > 0) await this.startHealth();
      if (this.ipvs) this.ipvs.setConfig(ipvsConfigView(config));
      else this.startIpvs();
      if (this.arpWatch) this.arpWatch.setConfig(config);
      else this.startArpWatch();
      await this.bgp?.setConfig(config).catch((e: Error) => this.log.error({ err: e.message }, e.message));
      this.pushBackends();
      const reloads = this.configState.reloads;
      this.configState = { ...this.newConfigState(loaded.format, config, loaded.hash), reloads: { ...reloads, ok: reloads.ok + 1 }, lastReload: { at, ok: true } };
      const report = 'report' in r ? r.report : undefined;
      // where a reload's time went: the reader thread, the VRRP thread, the checks, the rest (IPVS, BGP)
      const ms = { read: Math.round(t1 - t0), vrrp: Math.round(t2 - t1), checks: Math.round(t3 - t2), rest: Math.round(performance.now() - t3) };
      this.log.info({ report, hash: this.configState.hash, ms, ...(loaded.reader ? { reader: loaded.reader } : {}) }, 'config reloaded');
      void this.refreshSnapshot();
      return { ok: true, message: `reloaded ${this.opts.file}` };
    } finally {
      this.heap?.endBurst();
      safe(() => notifyReady());
    }
  }

  // ------------------------------------------------------------------ operator commands

  private async forInstances(
    pick: (i: RuntimeSnapshot['instances'][number]) => boolean,
    cmd: 'stepDown' | 'maintenanceOn' | 'maintenanceOff',
  ): Promise<string[]> {
    await this.refreshSnapshot();
    const names = (this.vrrp?.instances ?? []).filter(pick).map((i) => i.name);
    const errors: string[] = [];
    for (const name of names) {
      const r = await this.runtimeCall({ type: 'command', instance: name, command: cmd });
      if (!r.ok) errors.push(`${name}: ${r.error}`);
    }
    void this.refreshSnapshot();
    if (errors.length) throw new Error(errors.join('; '));
    return names;
  }

  private async stepDown(instance?: string): Promise<CommandResult> {
    try {
      const names = await this.forInstances((i) => (instance ? i.name === instance : i.state === 'MASTER'), 'stepDown');
      if (instance && names.length === 0) return { ok: false, message: `no VRRP instance named ${instance}` };
      this.log.info({ instances: names }, 'step down requested by the operator');
      return { ok: true, message: names.length ? `stepped down: ${names.join(', ')}` : 'no instance is MASTER here; nothing to step down' };
    } catch (e) {
      return { ok: false, message: (e as Error).message };
    }
  }

  private async setMaintenance(on: boolean): Promise<CommandResult> {
    try {
      const names = await this.forInstances(() => true, on ? 'maintenanceOn' : 'maintenanceOff');
      this.maintenance = on;
      this.bgp?.setMaintenance(on);
      this.log.warn({ instances: names, maintenance: on }, on ? 'maintenance on: this node no longer competes for MASTER' : 'maintenance off: this node competes for MASTER again');
      return { ok: true, message: `maintenance ${on ? 'on' : 'off'} for ${names.length} instance(s)` };
    } catch (e) {
      return { ok: false, message: (e as Error).message };
    }
  }

  private async drain(rs: string, vs: string | undefined, on: boolean): Promise<CommandResult> {
    const matches = (this.health?.snapshot().services ?? []).flatMap((s) =>
      s.realServers.filter((r) => (r.rs === rs || `${r.address}:${r.port}` === rs) && (!vs || s.vs === vs)).map((r) => `${s.vs} ${r.rs}`),
    );
    if (matches.length === 0) return { ok: false, message: `no real server ${rs}${vs ? ` in ${vs}` : ''}` };
    for (const key of matches) (on ? this.drained.add(key) : this.drained.delete(key));
    const [address, port] = splitHostPort(rs);
    if (on) this.ipvs?.drain(address, port);
    else this.ipvs?.undrain(address, port);
    this.log.info({ rs, vs, drained: on }, on ? 'real server drained by the operator' : 'real server undrained by the operator');
    return { ok: true, message: `${on ? 'draining' : 'undrained'} ${matches.join(', ')}` };
  }

  /**
   * A rejection nothing handled: a bug, but never a reason to drop the VIPs and fail over.
   * Logged with its stack and counted (status, vipkeeper_unhandled_errors_total).
   */
  onUnhandledRejection(reason: unknown): void {
    this.unhandledErrors++;
    const err = reason instanceof Error ? { err: reason.message, stack: reason.stack } : { err: String(reason) };
    this.log.error({ ...err, count: this.unhandledErrors }, 'unhandled promise rejection (a bug); the daemon keeps running');
  }

  // ------------------------------------------------------------------ status

  status(): DaemonStatus {
    const health = this.health?.snapshot();
    const ipvs = this.ipvsStatus();
    const bgp = this.bgp?.status();
    const arp = this.arpWatch?.status();
    return {
      node: {
        ...(this.config?.global.router_id ? { routerId: this.config.global.router_id } : {}),
        hostname: hostname(),
        pid: process.pid,
        version: VERSION,
        startedAt: this.startedAt.toISOString(),
        uptimeS: (Date.now() - this.startedAt.getTime()) / 1000,
      },
      config: this.configState,
      ...(this.vrrp ? { vrrp: this.vrrp } : {}),
      ...(health ? { health } : {}),
      ipvs,
      maintenance: this.maintenance,
      realServers: realServerLines(health, this.drained),
      drained: [...this.drained],
      counters: { otherMasterSeen: { ...this.otherMasterSeen }, unhandledErrors: this.unhandledErrors, vrrpWorkerRestarts: this.workerRestarts, watchdogLate: this.watchdogLate, ...(this.mailer?.enabled ? { mail: this.mailer.stats } : {}) },
      ...(bgp ? { bgp } : {}),
      ...(arp ? { arp } : {}),
      ...(this.heap
        ? { heap: { governorRequests: this.heap.requests, fullCollections: this.heap.budget.fullCollections, floorBytes: this.heap.budget.floor, limitBytes: this.heap.budget.limit } }
        : {}),
    };
  }

  // ------------------------------------------------------------------ stop

  /** SIGTERM/SIGINT: priority 0 and VIPs removed by the VRRP engine, checks stopped. */
  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    // The VRRP worker hears about the stop first: its priority-0 adverts go out while this thread
    // is still stopping the checks and IPVS (keepalived sends them within a millisecond).
    const w = this.worker;
    const vrrpStopped = w ? this.call({ type: 'stop', reason }) : undefined;
    safe(() => notifyStopping());
    safe(() => notifyStatus(`stopping: ${reason}`));
    for (const t of this.timers) clearInterval(t);
    this.arpWatch?.stop();
    this.health?.stop();
    await this.checker?.close(); // omega: notify_down and quorum_down before IPVS is cleared
    await this.bgp?.stop(); // routes go before the IPVS services behind them
    // IPVS is left or cleared as config.ipvs.on_stop says.
    await this.ipvs?.stop();
    if (w && vrrpStopped) {
      const r = await vrrpStopped;
      if (!r.ok) this.log.error({ error: r.error }, 'VRRP engine did not stop cleanly');
      await w.terminate();
    }
    await this.control?.close();
    // alerts already queued get a moment to go (the STOP states are not mailed)
    if (this.mailer) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([this.mailer.idle(), new Promise((r) => (t = setTimeout(r, 2000)))]);
      clearTimeout(t);
      this.mailer.stop();
    }
    await runStartStopScript('shutdown', this.config.global, this.log);
    this.heap?.stop();
    this.locks.switchTo(new Map());
  }

  /** Scripts that would fail with EPERM (another user, no CAP_SETUID/CAP_SETGID): said once, loudly. */
  private async reportScriptPrivileges(config: Config): Promise<void> {
    try {
      for (const p of await scriptPrivilegeProblems(config)) this.log.error({ script: p.path.join('.') }, p.message);
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, 'could not check the script users');
    }
  }

  private startHeapGovernor(): HeapGovernor | undefined {
    try {
      const g = startHeapGovernor();
      this.log.debug({ rss_limit_mb: Math.round(g.budget.limit / 2 ** 20) }, 'heap governor on');
      return g;
    } catch (e) {
      // only the addon can be missing here, and then nothing else native works either
      this.log.warn({ err: (e as Error).message }, 'heap governor not started; the heap grows as V8 decides');
      return undefined;
    }
  }

  private newConfigState(format: ConfigFormat, config: Config, hash?: string): ConfigState {
    return {
      path: this.opts.file,
      format,
      hash: hash ?? configHash(config),
      loadedAt: new Date().toISOString(),
      reloads: { ok: 0, failed: 0 },
    };
  }

  private logDiagnostic(d: Diagnostic): void {
    const line = formatDiagnostic(d);
    if (d.severity === 'error') this.log.error({ file: d.loc.file, line: d.loc.line }, line);
    else this.log.warn({ file: d.loc.file, line: d.loc.line }, line);
  }
}

/**
 * What the VRRP worker needs of a config: everything but the virtual servers. With thousands of
 * real servers, cloning them into the worker (and collecting them there) cost the VRRP thread tens
 * of milliseconds at every reload.
 */
export function vrrpPart(config: Config): Config {
  return { ...config, virtual_servers: [], virtual_server_groups: {} };
}

function safe(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // sd_notify failures never stop the daemon
  }
}

/** `ADDR:PORT` or `[V6]:PORT` → address and port; a bare address has no port. */
function splitHostPort(rs: string): [string, number | undefined] {
  const m = /^\[(.+)\]:(\d+)$/.exec(rs) ?? /^([^:]+):(\d+)$/.exec(rs);
  return m ? [m[1] as string, Number(m[2])] : [rs, undefined];
}

/** The health checker's desired backends in the IPVS reconciler's terms. */
export function backendState(desired: readonly DesiredBackends[]): BackendState {
  const out: Record<string, PoolState> = {};
  for (const d of desired) {
    const servers = d.backends.filter((b) => b.role === 'real').map((b) => ({ address: b.address, port: b.port, weight: b.weight }));
    out[d.vs] = d.sorryActive ? { mode: 'sorry', servers } : { mode: 'real', servers };
  }
  return out;
}

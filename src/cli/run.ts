/**
 * `vipkeeper run -f FILE`: the VRRP part of the daemon, in the foreground.
 *
 * Loads YAML or keepalived.conf (config errors: located messages on stderr, exit 1), builds the
 * runtime with the real clock, sockets (raw IP protocol 112, or `--transport udp` between
 * vipkeepers only), iproute2 address operations, GARP/NA and notify scripts, then runs until
 * SIGTERM/SIGINT: MASTERs send priority 0, VIPs are removed, notify_stop runs, exit 0.
 *
 * Health checks and IPVS (`virtual_server`) are not in this build yet: they are ignored with one
 * log line.
 */
import { defaultConfigId, loadConfigFile } from '../config/load.js';
import type { Config, Vip } from '../config/schema.js';
import { createAddressOps } from '../net/addresses.js';
import { announceBurst, createAnnouncer } from '../net/announce.js';
import { createLinkMonitor } from '../net/link-monitor.js';
import { notifyReady, notifyStopping } from '../net/sd-notify.js';
import { setDefaultScriptUser } from '../daemon/exec.js';
import { createLogger, isLogLevel, LOG_LEVELS, type Logger } from '../daemon/logger.js';
import { Notifier } from '../daemon/notify.js';
import { formatVrrpFifoLine, NotifyFifo } from '../daemon/notify-fifo.js';
import { TrackFileWatcher } from '../daemon/track-file.js';
import { TrackScript } from '../daemon/track-script.js';
import { createUdpTransport, VRRP_UDP_PORT } from '../daemon/udp-transport.js';
import { createRawTransport, type TransportFactory } from '../daemon/vrrp-socket.js';
import {
  VrrpRuntime,
  type AddressPort,
  type AnnouncePort,
  type LinkPort,
  type NotifyPort,
  type NotifyRequest,
} from '../daemon/vrrp-runtime.js';
import { EXIT } from './exit-codes.js';
import { printDiagnostics, summary } from './output.js';

export interface RunOptions {
  file: string;
  configId?: string;
  transport?: string;
  udpPort?: string | number;
  logLevel?: string;
}

export async function runRun(opts: RunOptions): Promise<number> {
  const level = opts.logLevel ?? 'info';
  if (!isLogLevel(level)) {
    process.stderr.write(`vipkeeper run: unknown log level '${level}'; use one of ${LOG_LEVELS.join(', ')}\n`);
    return EXIT.usage;
  }
  const transportKind = opts.transport ?? 'raw';
  if (transportKind !== 'raw' && transportKind !== 'udp') {
    process.stderr.write(`vipkeeper run: unknown transport '${transportKind}'; use raw (VRRP, IP protocol 112) or udp (vipkeeper-only)\n`);
    return EXIT.usage;
  }
  const udpPort = opts.udpPort === undefined ? VRRP_UDP_PORT : Number(opts.udpPort);
  if (!Number.isInteger(udpPort) || udpPort < 1 || udpPort > 65535) {
    process.stderr.write(`vipkeeper run: --udp-port '${String(opts.udpPort)}' is not a port number (1..65535)\n`);
    return EXIT.usage;
  }

  const loaded = loadConfigFile(opts.file, { configId: opts.configId ?? defaultConfigId() });
  printDiagnostics(loaded.diagnostics);
  if (!loaded.config) {
    process.stderr.write(`${opts.file}: not started (${summary(loaded.diagnostics)})\n`);
    return EXIT.invalid;
  }
  const config = loaded.config;
  const log = createLogger({ level });
  log.info({ file: opts.file, format: loaded.format, transport: transportKind, instances: Object.keys(config.instances) }, 'vipkeeper starting (VRRP)');
  if (config.virtual_servers.length > 0) {
    log.warn(
      { virtual_servers: config.virtual_servers.length },
      'virtual_server sections are ignored: the health-check/IPVS part is not in this build yet; running VRRP only',
    );
  }
  if (Object.keys(config.instances).length === 0) log.warn({}, 'the config has no vrrp_instance; nothing to do but wait for a signal');
  if (transportKind === 'udp') {
    log.warn({ port: udpPort }, 'VRRP over UDP: vipkeeper-to-vipkeeper only, NOT interoperable with keepalived or routers; every node must use --transport udp');
  }

  setDefaultScriptUser(config.global.script_user);
  const transport: TransportFactory = transportKind === 'udp' ? createUdpTransport({ port: udpPort }) : createRawTransport;
  const announcer = announcePort(log);
  const notifier = await notifyPort(config, log);
  const runtime = new VrrpRuntime({
    config,
    transport,
    addresses: addressPort(),
    announcer,
    links: linkPort(log),
    notifier,
    logger: log,
  });

  let stopping: Promise<void> | undefined;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal: sig }, 'second signal while stopping; exiting now');
      process.exit(EXIT.runtime);
    }
    log.info({ signal: sig }, 'signal received, stopping');
    safe(() => notifyStopping());
    stopping = runtime.stop(sig).then(
      () => resolveDone(EXIT.ok),
      (err: unknown) => {
        log.error({ err: (err as Error).message }, 'stop failed');
        resolveDone(EXIT.runtime);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Signal handlers do not keep Node alive; a config without instances must still wait for one.
  const keepAlive = setInterval(() => undefined, 1 << 30);

  let stopTrackers: () => void = () => undefined;
  try {
    stopTrackers = await startTrackers(config, runtime, log);
    await runtime.start();
  } catch (err) {
    stopTrackers();
    const e = err as Error & { code?: string };
    log.error({ err: e.message, code: e.code }, e.code === 'EPERM' ? 'cannot open the VRRP socket: needs root or CAP_NET_RAW (or use --transport udp between vipkeepers)' : 'VRRP could not start');
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    clearInterval(keepAlive);
    announcer.close();
    await notifier.close?.();
    return EXIT.runtime;
  }
  safe(() => notifyReady(`VRRP: ${Object.keys(config.instances).length} instance(s)`));
  log.info({}, 'vipkeeper running');

  const code = await done;
  stopTrackers();
  clearInterval(keepAlive);
  announcer.close();
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  log.info({ code }, 'vipkeeper stopped');
  // Nothing should be left, but never hang on a stray handle after a clean stop.
  setTimeout(() => process.exit(code), 2000).unref();
  return code;
}

function safe(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // sd_notify failures never stop the daemon
  }
}

// ------------------------------------------------------------------------------------------------
// Adapters from the shared modules to the runtime's ports

function addressPort(): AddressPort {
  const ops = createAddressOps();
  const check = (what: string) => (r: { ok: boolean; errors: { vip: Vip; message: string }[] }) => {
    if (!r.ok) throw new Error(`${what}: ${r.errors.map((e) => `${e.vip.address}/${e.vip.prefix}: ${e.message}`).join('; ')}`);
    return r;
  };
  return {
    addVips: (vips, dev) => ops.addVips(vips, dev ?? '').then(check('adding VIPs')),
    removeVips: (vips, dev) => ops.removeVips(vips, dev ?? '').then(check('removing VIPs')),
    primaryAddress: (dev, family) => ops.primaryAddress(dev, family),
    cleanupStale: (vips, dev) => ops.cleanupStale(vips, dev ?? '').then(check('removing stale VIPs')),
  };
}

/** GARP (IPv4) / unsolicited NA (IPv6) bursts through the shared announcer. */
function announcePort(log: Logger): AnnouncePort & { close(): void } {
  const announcer = createAnnouncer();
  return {
    async announce(vips, defaultDev, { repeat, intervalMs, signal }) {
      const r = await announceBurst(announcer, vips, defaultDev ?? '', repeat, intervalMs, undefined, signal);
      if (r.errors.length > 0) log.warn({ errors: r.errors.slice(0, 5), sent: r.sent }, 'some gratuitous ARP / NA packets were not sent');
      return r;
    },
    close: () => announcer.close(),
  };
}

/** Interface up/down from `ip monitor link`. */
function linkPort(log: Logger): LinkPort {
  return {
    watch(ifnames, cb) {
      const m = createLinkMonitor({
        interfaces: ifnames,
        onChange: cb,
        onError: (err) => log.warn({ err: err.message }, 'link monitor failed; interface states are no longer followed'),
      });
      return { ready: m.ready, close: () => m.close() };
    },
  };
}

/**
 * Notify scripts (src/daemon/notify.ts) and the notify FIFOs (`notify_fifo` gets everything,
 * `vrrp_notify_fifo` the VRRP lines). MASTER_PRIORITY / BACKUP_PRIORITY only go to the FIFOs.
 */
async function notifyPort(config: Config, log: Logger): Promise<NotifyPort> {
  const fifos: NotifyFifo[] = [];
  for (const f of [config.global.notify_fifo, config.global.vrrp_notify_fifo]) {
    if (!f) continue;
    const fifo = new NotifyFifo({ path: f.path, ...(f.user ? { user: f.user } : {}), ...(f.group ? { group: f.group } : {}), ...(f.script ? { script: f.script } : {}), logger: log });
    await fifo.open();
    fifos.push(fifo);
  }
  const notifier = new Notifier({ logger: log, fifos });
  return {
    notify(req: NotifyRequest) {
      const scripts = req.kind === 'instance' ? config.instances[req.name] : config.sync_groups[req.name];
      if (!scripts) return;
      if (req.state === 'MASTER_PRIORITY' || req.state === 'BACKUP_PRIORITY') {
        const line = formatVrrpFifoLine('INSTANCE', req.name, req.state, req.priority);
        for (const f of fifos) f.write(line);
        return;
      }
      if (req.kind === 'instance') notifier.notifyInstance(req.name, req.state, req.priority, scripts);
      else notifier.notifyGroup(req.name, req.state, scripts);
    },
    async close() {
      // notify_stop has a 1 s timeout; anything else still running is killed.
      let t: NodeJS.Timeout | undefined;
      await Promise.race([notifier.idle(), new Promise((r) => (t = setTimeout(r, 1500)))]);
      clearTimeout(t);
      await notifier.stop();
      await Promise.all(fifos.map((f) => f.close()));
    },
  };
}

/**
 * The trackers that run outside the VRRP runtime: vrrp_scripts (child processes on their own
 * schedule) and track_files (inotify). They report plain state changes to the runtime, so a slow
 * check can never hold up an advert.
 */
async function startTrackers(config: Config, runtime: VrrpRuntime, log: Logger): Promise<() => void> {
  const stops: (() => void)[] = [];
  const used = { scripts: new Set<string>(), files: new Set<string>() };
  for (const owner of [...Object.values(config.instances), ...Object.values(config.sync_groups)]) {
    for (const t of owner.track_script) used.scripts.add(t.name);
    for (const t of owner.track_file) used.files.add(t.name);
  }
  for (const name of used.files) {
    const def = config.track_files[name];
    if (!def) continue;
    const w = new TrackFileWatcher({ name, def, logger: log });
    runtime.fileValue(name, await w.start());
    w.on('change', (v) => runtime.fileValue(name, v));
    stops.push(() => w.stop());
  }
  for (const name of used.scripts) {
    const def = config.vrrp_scripts[name];
    if (!def) continue;
    const ts = new TrackScript({ name, def, logger: log });
    ts.on('change', (up) => {
      log.info({ script: name, up }, `vrrp_script ${name} ${up ? 'succeeded' : 'failed'}`);
      runtime.scriptState(name, up ? 'up' : 'down');
    });
    ts.start();
    stops.push(() => ts.stop());
  }
  return () => {
    for (const s of stops) s();
  };
}

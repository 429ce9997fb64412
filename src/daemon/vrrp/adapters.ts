// Adapters from the shared modules (src/net, notify, trackers) to the VRRP runtime's
// ports. They run wherever the runtime runs: in the VRRP worker thread.
import type { Config, Vip } from '../../config/schema.js';
import { createAddressOps } from '../../net/addresses.js';
import { announceBurst, createAnnouncer } from '../../net/announce.js';
import { createLinkMonitor } from '../../net/link-monitor.js';
import type { Logger } from '../../sys/logger.js';
import { Notifier } from '../scripts/notify.js';
import { formatVrrpFifoLine, NotifyFifo } from '../scripts/notify-fifo.js';
import { TrackFileWatcher } from '../scripts/track-file.js';
import { ProcessMonitor } from '../scripts/track-process.js';
import { TrackScript } from '../scripts/track-script.js';
import type { AddressPort, AnnouncePort, LinkPort, NotifyPort, NotifyRequest } from './types.js';
import type { VrrpRuntime } from './runtime.js';


/**
 * A VIP add or remove that takes longer fails (and a failed add sends the instance to FAULT, so
 * the peer takes over): the VRRP thread never waits on a held rtnl lock (see deadlineMs).
 */
export const VIP_CHANGE_DEADLINE_MS = 500;

export function addressPort(): AddressPort {
  const ops = createAddressOps({ deadlineMs: VIP_CHANGE_DEADLINE_MS });
  const check = (what: string) => (r: { ok: boolean; errors: { vip: Vip; message: string }[] }) => {
    if (!r.ok) throw new Error(`${what}: ${r.errors.map((e) => `${e.vip.address}/${e.vip.prefix}: ${e.message}`).join('; ')}`);
    return r;
  };
  return {
    addVips: (vips, dev) => ops.addVips(vips, dev ?? '').then(check('adding VIPs')),
    removeVips: (vips, dev) => ops.removeVips(vips, dev ?? '').then(check('removing VIPs')),
    primaryAddress: (dev, family) => ops.primaryAddress(dev, family),
    interfaceExists: (dev) => ops.interfaceExists(dev),
    cleanupStale: (vips, dev) => ops.cleanupStale(vips, dev ?? '').then(check('removing stale VIPs')),
    rehearse: (vips, dev) => ops.rehearse(vips, dev ?? ''),
  };
}

/** GARP (IPv4) / unsolicited NA (IPv6) bursts through the shared announcer. */
export function announcePort(log: Logger): AnnouncePort & { close(): void } {
  const announcer = createAnnouncer();
  return {
    async announce(vips, defaultDev, { repeat, intervalMs, signal }) {
      const r = await announceBurst(announcer, vips, defaultDev ?? '', repeat, intervalMs, undefined, signal);
      if (r.errors.length > 0) log.warn({ errors: r.errors.slice(0, 5), sent: r.sent }, 'some gratuitous ARP / NA packets were not sent');
      return r;
    },
    warm: (vips, defaultDev) => announcer.warm(vips, defaultDev ?? ''),
    rehearse: (vips, defaultDev) => announcer.rehearse(vips, defaultDev ?? ''),
    close: () => announcer.close(),
  };
}

/** Interface up/down from `ip monitor link`. */
export function linkPort(log: Logger): LinkPort {
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
export async function notifyPort(configOrGetter: Config | (() => Config), log: Logger): Promise<NotifyPort> {
  // A getter lets a reload change notify scripts without restarting anything.
  const cfg = typeof configOrGetter === 'function' ? configOrGetter : () => configOrGetter;
  const config = cfg();
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
      const scripts = req.kind === 'instance' ? cfg().instances[req.name] : cfg().sync_groups[req.name];
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
 * schedule), track_files (inotify) and track_processes (the kernel's process events). They report
 * plain state changes to the runtime, so a slow check can never hold up an advert.
 */
export async function startTrackers(config: Config, runtime: VrrpRuntime, log: Logger): Promise<() => void> {
  const stops: (() => void)[] = [];
  const used = { scripts: new Set<string>(), files: new Set<string>(), processes: new Set<string>() };
  for (const owner of [...Object.values(config.instances), ...Object.values(config.sync_groups)]) {
    for (const t of owner.track_script) used.scripts.add(t.name);
    for (const t of owner.track_file) used.files.add(t.name);
    for (const t of owner.track_process) used.processes.add(t.name);
  }
  const procDefs = Object.fromEntries([...used.processes].flatMap((n) => (config.track_processes[n] ? [[n, config.track_processes[n]]] : [])));
  if (Object.keys(procDefs).length > 0) {
    // one monitor (one socket, one /proc scan) for every tracked process definition
    const m = new ProcessMonitor({ defs: procDefs, logger: log, onChange: (name, st) => runtime.processState(name, st) });
    for (const [name, st] of Object.entries(m.start())) runtime.processState(name, st);
    runtime.processMonitorStatus = () => m.status();
    stops.push(() => {
      m.stop();
      runtime.processMonitorStatus = undefined;
    });
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

/**
 * What keepalived's checker does on a real server or virtual server state change, besides IPVS
 * (keepalived `ipwrapper.c`, docs in research "Checker (QEMU guest)"), in this order per event:
 *
 * - a real server goes up / down: its `notify_up` / `notify_down` script (no arguments appended,
 *   as keepalived), then the FIFO line `RS [1.2.3.4]:tcp:80 [10.0.0.1]:tcp:80 UP|DOWN`;
 * - a virtual server gains / loses quorum: `quorum_up` / `quorum_down`, then `VS [10.0.0.1]:tcp:80
 *   UP|DOWN`. keepalived "gains" quorum at start (quorum_up runs, `VS … UP` is written); real
 *   servers that start alive are not notified (no `rs_init_notifies`), and neither is a quorum
 *   that starts lost.
 * - at stop, for a virtual server with `omega`: notify_down of every live real server with its
 *   `RS … DOWN` line, then, if quorum was up, quorum_down and `VS … DOWN`; without omega, nothing.
 *
 * Scripts go through the shared `Notifier` (launch order kept, timeouts, process groups, output
 * caps); FIFO lines are written synchronously, in event order. Mail alerts (`smtp_alert`) are
 * handed to `alert`, which queues them off this path.
 */
import type { PoolEvent } from '../../check/pool.js';
import { hostPort, realServerPort } from '../../check/spec.js';
import { vsKey } from '../../config/validate.js';
import type { Config, RealServer, ScriptSpec, VirtualServer } from '../../config/schema.js';
import { formatFifoService, formatRsFifoLine, formatVsFifoLine, type FifoService } from './notify-fifo.js';
import type { Notifier } from './notify.js';

/** A checker event worth a mail (smtp_alert); servers written as in the FIFO (`[10.0.0.1]:tcp:80`). */
export type CheckerAlert =
  /** `check`: one checker's change (its kind and direction) while the real server stays `up`. */
  | { kind: 'rs'; up: boolean; rs: string; vs: string; check?: { kind: string; up: boolean } }
  | { kind: 'quorum'; up: boolean; vs: string; weight: number; threshold: number; quorum: number; hysteresis: number; initial?: boolean };

export interface CheckerEventsOptions {
  notifier: Notifier;
  /** Called for each event whose real server or virtual server has smtp_alert on (see mailAlertOn). */
  alert?: (a: CheckerAlert) => void;
}

interface VsEntry {
  vs: VirtualServer;
  service: FifoService;
  rs: Map<string, RealServer>;
  /** smtp_alert: the virtual server's, else global smtp_alert_checker, else global smtp_alert. */
  mail: boolean;
}

/** keepalived: a server's smtp_alert, else the global smtp_alert_checker, else smtp_alert. */
export function checkerMailOn(config: Config, own: boolean | undefined): boolean {
  return own ?? config.global.smtp_alert_checker ?? config.global.smtp_alert;
}

function fifoService(vs: VirtualServer): FifoService {
  if (vs.group !== undefined) return { group: vs.group, port: vs.port ?? 0 };
  if (vs.fwmark !== undefined) return { fwmark: vs.fwmark };
  return { address: vs.address ?? '0.0.0.0', port: vs.port ?? 0, protocol: vs.protocol };
}

export class CheckerEvents {
  private byId = new Map<string, VsEntry>();
  private config: Config | undefined;
  /** The live state the omega notifications at stop start from. */
  private readonly alive = new Map<string, Set<string>>();
  private readonly quorumUp = new Set<string>();

  constructor(private readonly opts: CheckerEventsOptions) {}

  /** Adopts a config (start and every reload), before its pool events arrive. */
  setConfig(config: Config): void {
    this.config = config;
    const next = new Map<string, VsEntry>();
    for (const vs of config.virtual_servers) {
      const id = vsKey(vs);
      if (next.has(id)) continue;
      const rs = new Map<string, RealServer>();
      for (const r of vs.real_servers) {
        const key = hostPort(r.address, realServerPort(vs, r));
        if (!rs.has(key)) rs.set(key, r);
      }
      next.set(id, { vs, service: fifoService(vs), rs, mail: checkerMailOn(config, vs.smtp_alert) });
    }
    this.byId = next;
    for (const id of [...this.alive.keys()]) if (!next.has(id)) this.alive.delete(id);
    for (const id of [...this.quorumUp]) if (!next.has(id)) this.quorumUp.delete(id);
  }

  /** One pool event from the health checker. Never throws. */
  onEvent(e: PoolEvent): void {
    const entry = this.byId.get(e.vs);
    if (!entry) return;
    const n = this.opts.notifier;
    switch (e.type) {
      case 'rsUp':
      case 'rsDown': {
        const up = e.type === 'rsUp';
        const set = this.alive.get(e.vs) ?? new Set<string>();
        this.alive.set(e.vs, set);
        if (up) set.add(e.rs);
        else set.delete(e.rs);
        if (e.initial) return; // keepalived: no notification for the initial states
        this.rsChange(entry, e.rs, up, false, e.check);
        return;
      }
      case 'checkUp':
      case 'checkDown': {
        // keepalived mails each checker's change, not only the real server's, unless no_checker_emails
        const rs = entry.rs.get(e.rs);
        if (!rs || !this.config || this.config.global.no_checker_emails || !checkerMailOn(this.config, rs.smtp_alert ?? entry.vs.smtp_alert)) return;
        const line = formatRsFifoLine({ address: rs.address, port: realServerPort(entry.vs, rs) }, entry.service, e.alive);
        const kind = e.check.split(' ', 1)[0] as string;
        this.opts.alert?.({ kind: 'rs', up: e.alive, rs: line.split(' ')[1] as string, vs: formatFifoService(entry.service), check: { kind, up: e.type === 'checkUp' } });
        return;
      }
      case 'quorumUp':
      case 'quorumDown': {
        const up = e.type === 'quorumUp';
        if (up) this.quorumUp.add(e.vs);
        else this.quorumUp.delete(e.vs);
        if (e.initial && !up) return; // a quorum that starts lost was never gained
        const spec = up ? entry.vs.quorum_up : entry.vs.quorum_down;
        if (spec) n.run(up ? 'quorum_up' : 'quorum_down', spec, { vs: e.vs });
        n.writeFifos(formatVsFifoLine(entry.service, up));
        if (entry.mail) {
          const q = { quorum: entry.vs.quorum, hysteresis: entry.vs.hysteresis, ...(e.initial ? { initial: true } : {}) };
          this.opts.alert?.({ kind: 'quorum', up, vs: formatFifoService(entry.service), weight: e.weight, threshold: e.threshold, ...q });
        }
        return;
      }
      default:
        return;
    }
  }

  private rsChange(entry: VsEntry, rsKey: string, up: boolean, stopping: boolean, check?: string): void {
    const rs = entry.rs.get(rsKey);
    if (!rs) return;
    const spec: ScriptSpec | undefined = up ? rs.notify_up : rs.notify_down;
    const vs = vsKey(entry.vs);
    if (spec) this.opts.notifier.run(up ? 'notify_up' : 'notify_down', spec, { vs, rs: rsKey }, stopping);
    const line = formatRsFifoLine({ address: rs.address, port: realServerPort(entry.vs, rs) }, entry.service, up);
    this.opts.notifier.writeFifos(line);
    if (this.config && checkerMailOn(this.config, rs.smtp_alert ?? entry.vs.smtp_alert) && !stopping) {
      const kind = check?.split(' ', 1)[0];
      this.opts.alert?.({ kind: 'rs', up, rs: line.split(' ')[1] as string, vs: formatFifoService(entry.service), ...(kind !== undefined ? { check: { kind, up } } : {}) });
    }
  }

  /**
   * The daemon is stopping: keepalived's `omega` notifications (notify_down of each live real
   * server, then quorum_down), for the virtual servers that ask for them. Returns how many
   * scripts and lines were issued; the caller waits for the notifier to be idle.
   */
  stop(): number {
    let n = 0;
    for (const [id, entry] of this.byId) {
      if (!entry.vs.omega) continue;
      for (const rsKey of this.alive.get(id) ?? []) {
        this.rsChange(entry, rsKey, false, true);
        n++;
      }
      if (this.quorumUp.has(id)) {
        if (entry.vs.quorum_down) this.opts.notifier.run('quorum_down', entry.vs.quorum_down, { vs: id }, true);
        this.opts.notifier.writeFifos(formatVsFifoLine(entry.service, false));
        n++;
      }
    }
    this.alive.clear();
    this.quorumUp.clear();
    return n;
  }
}

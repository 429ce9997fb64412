/**
 * `garp_extra_if` / `vrrp_garp_extra_if` (keepalived 2.2.7 `vrrp_send_vmac_update`): while an
 * instance is MASTER, every `interval` one gratuitous ARP (IPv4) / unsolicited NA (IPv6) goes out
 * on each of its VIPs' other interfaces, for the first VIP on that interface, so a switch keeps
 * learning a MAC that sends no adverts (another VMAC, or with `all` any interface).
 *
 * As keepalived:
 * - the instance's value wins over the global one (an instance's 0 turns it off);
 * - it is off unless some VIP sits on an interface other than the instance's own (the VMAC with
 *   use_vmac) that is a VMAC, or, with `all`, of any kind;
 * - the instance's own interface is announced on only with vmac_xmit_base (adverts go out on the
 *   base interface then, not on the VMAC);
 * - the first one goes `interval` after entering MASTER; it stops when the VIPs are removed.
 *
 * The interval and the VIPs are read again at each tick, so a reload applies in place.
 */
import type { Config, Vip } from '../../config/schema.js';
import type { Clock } from '../../sys/clock.js';
import type { Logger } from '../../sys/logger.js';
import type { ResolvedInstance } from '../../vrrp/params.js';
import type { AnnouncePort, InstanceRec } from './types.js';

export interface GarpExtraSettings {
  intervalMs: number;
  all: boolean;
}

/** The instance's effective setting, or undefined when off. */
export function garpExtraSettings(config: Config, name: string): GarpExtraSettings | undefined {
  const own = config.instances[name]?.garp_extra_if;
  const s = own ?? config.global.vrrp_garp_extra_if;
  if (!s || s.interval <= 0) return undefined;
  return { intervalMs: s.interval, all: s.all };
}

/**
 * The VIPs to announce each tick: the first per interface that qualifies (see the file header).
 * `ours` says whether an interface is a VMAC vipkeeper made.
 */
export function garpExtraTargets(r: ResolvedInstance, s: GarpExtraSettings, ours: (ifname: string) => boolean): Vip[] {
  const own = r.defaultDev;
  const ifOf = (v: Vip) => v.dev ?? own;
  const extra = r.vips.map(ifOf).filter((i): i is string => i !== undefined && i !== own);
  // keepalived turns it off when no VIP is on an extra VMAC, or (without all) on an extra interface
  if (!extra.some(ours) && !(s.all && extra.length > 0)) return [];
  const seen = new Set<string>();
  const out: Vip[] = [];
  for (const v of r.vips) {
    const i = ifOf(v);
    if (i === undefined || seen.has(i)) continue;
    if (!ours(i) && !s.all) continue;
    if (i === own && !r.vmac?.xmitBase) continue;
    seen.add(i);
    out.push({ ...v, dev: i });
  }
  return out;
}

export interface GarpExtraDeps {
  clock: Clock;
  announcer: AnnouncePort;
  log: Logger;
  /** The VMAC interfaces of the running instances. */
  vmacNames: () => ReadonlySet<string>;
  stopped: () => boolean;
}

export class GarpExtraIf {
  constructor(private readonly d: GarpExtraDeps) {}

  /** The instance's VIPs were just added (MASTER); runs until its GARP signal aborts (VIPs removed). */
  start(rec: InstanceRec): void {
    const signal = rec.garpAbort.signal;
    if (signal.aborted || !garpExtraSettings(rec.config, rec.name)) return;
    const { clock } = this.d;
    let timer = clock.setTimeout(tick, garpExtraSettings(rec.config, rec.name)!.intervalMs);
    signal.addEventListener('abort', () => clock.clearTimeout(timer), { once: true });
    const self = this;
    function tick(): void {
      if (signal.aborted || self.d.stopped()) return;
      const s = garpExtraSettings(rec.config, rec.name);
      if (!s) return;
      const vmacs = self.d.vmacNames();
      const targets = garpExtraTargets(rec.resolved, s, (i) => vmacs.has(i));
      if (targets.length > 0) {
        Promise.resolve()
          .then(() => self.d.announcer.announce(targets, rec.resolved.defaultDev, { repeat: 1, intervalMs: 0, signal }))
          .then(
            () => self.d.log.debug({ instance: rec.name, interfaces: targets.map((t) => t.dev) }, 'garp_extra_if: gratuitous ARP / NA sent'),
            (err: unknown) => self.d.log.warn({ instance: rec.name, err: err instanceof Error ? err.message : String(err) }, 'garp_extra_if: gratuitous ARP / NA failed'),
          );
      }
      timer = clock.setTimeout(tick, s.intervalMs);
    }
  }
}

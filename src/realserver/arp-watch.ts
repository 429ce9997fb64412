/**
 * The director's side of "the ARP problem": in LVS-DR and LVS-TUN every real server holds the VIP,
 * and one that answers ARP for it (arp_ignore left at 0, or the VIP on eth0) steals the clients
 * from the director. The MASTER (the node holding the VIP) asks the LAN "who has VIP?" now and
 * then; any answer from a MAC that is not one of this host's (its interface MAC or VMAC) is a
 * real server answering. The neighbour table names the MAC's address where it knows it.
 *
 * IPv4 only: IPv6 real servers with the VIP on lo do not answer NDP for it (Linux answers a
 * solicitation only for addresses of the receiving interface), and vipkeeper has no NDP prober.
 */
import type { Config } from '../config/schema.js';
import { arpOnce, findArping, interfaceOf, localMacs, primaryIpv4 } from '../net/arp-probe.js';
import { RtnlHost } from '../net/rtnetlink-link.js';
import type { Logger } from '../sys/logger.js';
import { ipFamily } from '../vocab/ip.js';

export interface DrVip {
  vip: string;
  /** The DR/TUN virtual servers on this address ("TCP 10.0.0.100:80"). */
  services: string[];
  /** Their real servers' addresses. */
  realServers: string[];
}

/** Every IPv4 virtual-server address that forwards by DR or TUN (the VS's lb_kind or a real server's lvs_method). */
export function drVips(config: Config): DrVip[] {
  const byVip = new Map<string, DrVip>();
  for (const vs of config.virtual_servers) {
    if (!vs.address || ipFamily(vs.address) !== 4) continue; // fwmark / group services: no single VIP to ask for
    const rs = vs.real_servers.filter((r) => (r.lvs_method ?? vs.lb_kind) !== 'NAT');
    if (rs.length === 0 && vs.lb_kind === 'NAT') continue;
    const d = byVip.get(vs.address) ?? { vip: vs.address, services: [], realServers: [] };
    d.services.push(`${vs.protocol} ${vs.address}:${vs.port ?? 0}`);
    for (const r of rs) if (!d.realServers.includes(r.address)) d.realServers.push(r.address);
    byVip.set(vs.address, d);
  }
  return [...byVip.values()];
}

export interface ArpFinding {
  vip: string;
  ifname: string;
  mac: string;
  /** Addresses the neighbour table has for that MAC (a real server's first). */
  addresses: string[];
  /** The first of `addresses` that is a real server of the VIP's services. */
  realServer?: string;
  services: string[];
}

/** The answers that are not ours, with the MAC mapped to addresses by the neighbour table. */
export function classify(d: DrVip, ifname: string, macs: readonly string[], own: ReadonlySet<string>, neigh: readonly { address: string; mac: string }[]): ArpFinding[] {
  return macs
    .filter((m) => !own.has(m))
    .map((mac) => {
      const addrs = neigh.filter((n) => n.mac === mac && n.address !== d.vip).map((n) => n.address);
      const rs = addrs.find((a) => d.realServers.includes(a));
      const ordered = rs ? [rs, ...addrs.filter((a) => a !== rs)] : addrs;
      return { vip: d.vip, ifname, mac, addresses: ordered, ...(rs ? { realServer: rs } : {}), services: d.services };
    });
}

export function describeFinding(f: ArpFinding): string {
  const who = f.realServer ? `real server ${f.realServer}` : f.addresses.length ? `${f.addresses.join(', ')} (not a real server of these services)` : 'a host the neighbour table does not know';
  return `ARP problem: ${f.mac} (${who}) answers ARP for VIP ${f.vip} on ${f.ifname}: clients may bypass the director; on that host set arp_ignore=1 and arp_announce=2 and keep the VIP off its LAN interface (vipkeeper realserver up)`;
}

export interface ProbeOutcome {
  vip: string;
  /** The interface asked from; undefined when the VIP is not on this host (not MASTER). */
  ifname?: string;
  findings: ArpFinding[];
  error?: string;
}

/** Asks once for each DR/TUN VIP this host holds; `all` also asks for VIPs it does not hold (check --live). */
export async function probeDrVips(vips: readonly DrVip[], opts: { waitS?: number; arping?: string; fallbackIfname?: (vip: string) => string | undefined } = {}): Promise<ProbeOutcome[]> {
  const arping = opts.arping ?? findArping();
  const out: ProbeOutcome[] = [];
  const own = localMacs();
  for (const d of vips) {
    const held = interfaceOf(d.vip);
    const ifname = held ?? opts.fallbackIfname?.(d.vip);
    if (!ifname) {
      out.push({ vip: d.vip, findings: [] });
      continue;
    }
    if (!arping) {
      out.push({ vip: d.vip, ifname, findings: [], error: 'arping (iputils-arping) is not installed: cannot ask who answers ARP for the VIP' });
      continue;
    }
    const source = primaryIpv4(ifname, new Set(vips.map((v) => v.vip)));
    const r = await arpOnce(arping, { ifname, vip: d.vip, ...(source ? { source } : {}), waitS: opts.waitS ?? 1 });
    let neigh: { address: string; mac: string }[] = [];
    if (r.macs.some((m) => !own.has(m))) {
      try {
        const h = new RtnlHost();
        try {
          neigh = h.neighbours();
        } finally {
          h.close();
        }
      } catch {
        neigh = []; // without the table the MAC is still named
      }
    }
    out.push({ vip: d.vip, ifname, findings: classify(d, ifname, r.macs, own, neigh), ...(r.error ? { error: r.error } : {}) });
  }
  return out;
}

export interface ArpWatchStatus {
  intervalS: number;
  probes: number;
  /** Findings of the latest probe of each VIP. */
  problems: (ArpFinding & { since: string })[];
  lastError?: string;
}

/**
 * The daemon's periodic probe. One round at a time (a slow arping never piles up); each round
 * asks for every DR/TUN VIP held here. A new finding is logged once (warn); it stays in the status
 * and the metric until a probe no longer hears it.
 */
export class ArpWatch {
  #vips: DrVip[];
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #probes = 0;
  #lastError: string | undefined;
  #foreignReplies = 0;
  readonly #current = new Map<string, ArpFinding & { since: string }>();

  constructor(
    config: Config,
    private readonly opts: { log: Logger; intervalMs: number; firstMs?: number },
  ) {
    this.#vips = drVips(config);
  }

  get active(): boolean {
    return this.#vips.length > 0;
  }

  setConfig(config: Config): void {
    this.#vips = drVips(config);
    const keep = new Set(this.#vips.map((v) => v.vip));
    for (const [k, f] of this.#current) if (!keep.has(f.vip)) this.#current.delete(k);
  }

  start(): void {
    const next = (ms: number): void => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => {
        void this.round().finally(() => next(this.opts.intervalMs));
      }, ms);
      this.#timer.unref();
    };
    next(this.opts.firstMs ?? Math.min(2000, this.opts.intervalMs));
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** One probe of every VIP held here. */
  async round(): Promise<void> {
    if (this.#vips.length === 0) return;
    let outcomes: ProbeOutcome[];
    try {
      outcomes = await probeDrVips(this.#vips);
    } catch (e) {
      this.#lastError = (e as Error).message;
      return;
    }
    this.#probes++;
    const now = new Date().toISOString();
    const previousError = this.#lastError;
    this.#lastError = outcomes.find((o) => o.error)?.error;
    for (const o of outcomes) {
      // logged when it first appears, not every round
      if (o.error && o.error !== previousError) this.opts.log.warn({ vip: o.vip, error: o.error }, `ARP probe for ${o.vip} failed: ${o.error}`);
      if (!o.ifname) continue; // not held here: keep what the last probe as MASTER found until we probe again
      const seen = new Set<string>();
      for (const f of o.findings) {
        const key = `${f.vip}|${f.mac}`;
        seen.add(key);
        this.#foreignReplies++;
        if (!this.#current.has(key)) {
          this.opts.log.warn({ vip: f.vip, mac: f.mac, real_server: f.realServer, addresses: f.addresses, intf: f.ifname }, describeFinding(f));
          this.#current.set(key, { ...f, since: now });
        }
      }
      for (const [k, f] of this.#current) {
        if (f.vip === o.vip && !seen.has(k)) {
          this.opts.log.info({ vip: f.vip, mac: f.mac }, `ARP problem cleared: ${f.mac} no longer answers ARP for ${f.vip}`);
          this.#current.delete(k);
        }
      }
    }
  }

  /** Answers from foreign MACs heard so far (for the metric). */
  get foreignReplies(): number {
    return this.#foreignReplies;
  }

  status(): ArpWatchStatus {
    return { intervalS: this.opts.intervalMs / 1000, probes: this.#probes, problems: [...this.#current.values()], ...(this.#lastError ? { lastError: this.#lastError } : {}) };
  }
}

/**
 * Probes for `vipkeeper drill` (src/cli/drill.ts): what the drill observes on the wire and asks of
 * the two daemons, kept apart from the CLI so each piece can be tested alone.
 *
 * - `AdvertListener`: a raw IPPROTO 112 socket (src/net/raw-socket.ts) on the instance's interface,
 *   joined to the VRRP group, that reports every advert of one VRID from a source that is not this
 *   host. While we are MASTER a healthy BACKUP is silent, so before the step-down it should hear
 *   nothing; after it, the first advert with a priority above 0 is the peer speaking as MASTER.
 *   (The daemon's own socket has multicast loop off, so our own adverts never arrive here.)
 * - `ArpProber`: asks "who has VIP?" from this node with iputils `arping`, one request every 25 ms
 *   (a new one-shot `arping -c 1 -w 1` each time: iputils takes only whole-second intervals), and
 *   reports the first reply from a MAC that is not ours. Every arping is our own child, killed by
 *   its PID on stop.
 * - `PeerEndpoint`: the peer daemon's status (and step-down) through its control socket, or its
 *   read-only HTTP status listener.
 * - `compareIpvsTables`: the two directors' `ipvs.table`, ignoring connection counters.
 */
import { networkInterfaces } from 'node:os';
import { call, DaemonUnreachable } from '../daemon/control/client.js';
import { IPPROTO_VRRP, RawIpSocket, VRRP_GROUP4, VRRP_GROUP6, type RawMessage } from '../net/raw-socket.js';
import { decodeAdvert } from '../vrrp/codec.js';
import type { CommandResult } from '../daemon/control/server.js';
import type { DaemonStatus, IpvsServiceStatus, IpvsStatus } from '../daemon/control/status.js';

// ------------------------------------------------------------------------------------------------
// Time

/** Milliseconds on a monotonic clock (performance.now), rounded to 0.1 ms. */
export function nowMs(): number {
  return Math.round(performance.now() * 10) / 10;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------
// This host

/** Addresses of this host (every interface), without IPv6 zone; for "is this advert ours?". */
export function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address.split('%')[0]!.toLowerCase());
  return out;
}

export { localMac, primaryIpv4 } from '../net/arp-probe.js';

// ------------------------------------------------------------------------------------------------
// VRRP adverts on the wire

export interface HeardAdvert {
  at: number; // nowMs()
  src: string;
  vrid: number;
  priority: number;
  version: number;
  advertIntervalMs: number;
  ttl: number;
}

export interface AdvertListenerOptions {
  family: 4 | 6;
  /** Interface to bind and join the group on; undefined: every interface (unicast setups). */
  ifname: string | undefined;
  vrid: number;
  /** Sources to ignore (this host's addresses). */
  self: ReadonlySet<string>;
}

/** Listens for one VRID's adverts from other routers. `close()` it (it keeps the loop alive). */
export class AdvertListener {
  readonly heard: HeardAdvert[] = [];
  /** Packets for our VRID that did not decode (bad checksum, TTL...): counted, not trusted. */
  undecodable = 0;
  readonly #sock: RawIpSocket;
  readonly #waiters = new Set<() => void>();

  constructor(readonly opts: AdvertListenerOptions) {
    const group = opts.family === 4 ? VRRP_GROUP4 : VRRP_GROUP6;
    this.#sock = RawIpSocket.open({
      family: opts.family,
      protocol: IPPROTO_VRRP,
      ...(opts.ifname ? { device: opts.ifname, join: [[group, opts.ifname] as const] } : {}),
    });
    this.#sock.onError(() => undefined); // an ICMP error on a raw socket is no reason to stop listening
    this.#sock.onMessage((m) => this.#onMessage(m));
  }

  #onMessage(m: RawMessage): void {
    const at = nowMs();
    const src = m.src.split('%')[0]!.toLowerCase();
    if (this.opts.self.has(src) || m.data.length < 8) return;
    const vrid = m.data[1]!;
    if (vrid !== this.opts.vrid) return;
    const r = decodeAdvert(m.data, { src: m.src.split('%')[0]!, dst: m.dst.split('%')[0]!, family: m.family, ...(m.ttl >= 0 ? { ttl: m.ttl } : {}), v3ChecksumAsV2: true });
    if (!r.ok) {
      this.undecodable++;
      return;
    }
    const a = r.advert;
    this.heard.push({
      at,
      src,
      vrid,
      priority: a.priority,
      version: a.version,
      advertIntervalMs: a.version === 2 ? a.advertIntervalS * 1000 : a.advertIntervalCs * 10,
      ttl: m.ttl,
    });
    for (const w of [...this.#waiters]) w();
  }

  /** The first advert heard at or after `since` that satisfies `pred`. */
  find(since: number, pred: (a: HeardAdvert) => boolean): HeardAdvert | undefined {
    return this.heard.find((a) => a.at >= since && pred(a));
  }

  /** Resolves on the next advert (or after `ms`). */
  next(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.#waiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

  close(): void {
    for (const w of [...this.#waiters]) w();
    this.#sock.close();
  }
}

// ------------------------------------------------------------------------------------------------
// ARP for the VIP: the one arping prober lives in src/net/arp-probe.ts (the director's ARP-problem
// watch uses it too).

export { ArpProber, findArping, type ArpReply } from '../net/arp-probe.js';

// ------------------------------------------------------------------------------------------------
// The peer daemon

export interface PeerEndpoint {
  /** "socket /run/x.sock" or "http http://10.0.0.2:9100/status". */
  readonly describe: string;
  readonly canCommand: boolean;
  status(timeoutMs: number): Promise<DaemonStatus>;
  stepDown(instance: string, timeoutMs: number): Promise<CommandResult>;
}

export function socketEndpoint(path: string): PeerEndpoint {
  return {
    describe: `socket ${path}`,
    canCommand: true,
    async status(timeoutMs) {
      const r = await call<DaemonStatus>(path, 'GET', '/status', undefined, timeoutMs);
      if (r.code !== 200 || typeof r.body !== 'object') throw new DaemonUnreachable(`${path}: GET /status answered ${r.code}`);
      return r.body;
    },
    async stepDown(instance, timeoutMs) {
      const r = await call<CommandResult>(path, 'POST', '/stepdown', { instance }, timeoutMs);
      return typeof r.body === 'object' ? r.body : { ok: false, message: String(r.body) };
    },
  };
}

/** The peer's read-only HTTP listener; a URL without a path means `/status`. */
export function httpEndpoint(url: string): PeerEndpoint {
  const u = new URL(url);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/status';
  const href = u.toString();
  return {
    describe: `http ${href}`,
    canCommand: false,
    async status(timeoutMs) {
      let res: Response;
      try {
        res = await fetch(href, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; message?: string } };
        const why = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message);
        throw new DaemonUnreachable(`${href}: ${why}`);
      }
      if (res.status !== 200) throw new DaemonUnreachable(`${href}: answered HTTP ${res.status}`);
      return (await res.json()) as DaemonStatus;
    },
    stepDown() {
      return Promise.resolve({ ok: false, message: 'the HTTP status listener is read-only; give --peer-socket to command the peer' });
    },
  };
}

// ------------------------------------------------------------------------------------------------
// IPVS tables

interface NormService {
  service: string;
  scheduler: string;
  flags: string[];
  persistenceS: number | undefined;
  dests: { address: string; port: number; forwarding: string; weight: number }[];
}

function normalize(table: readonly IpvsServiceStatus[]): NormService[] {
  return [...table]
    .map((s) => ({
      service: s.service,
      scheduler: s.scheduler,
      flags: [...s.flags].sort(),
      persistenceS: s.persistenceS,
      dests: s.dests
        .map((d) => ({ address: d.address, port: d.port, forwarding: d.forwarding, weight: d.weight }))
        .sort((a, b) => `${a.address}:${a.port}`.localeCompare(`${b.address}:${b.port}`)),
    }))
    .sort((a, b) => a.service.localeCompare(b.service));
}

/**
 * Differences between two IPVS tables, one line each (empty: identical). Connection counters are
 * ignored; services, schedulers, flags, persistence, destinations, forwarding and weights count.
 * A side without an `ipvs` section counts as "not managed" and differs from any table.
 */
export function compareIpvsTables(ours: IpvsStatus | undefined, theirs: IpvsStatus | undefined): string[] {
  if (!ours && !theirs) return [];
  if (!ours || !theirs) return [`IPVS is ${ours ? '' : 'not '}managed here but ${theirs ? '' : 'not '}on the peer`];
  const a = normalize(ours.table);
  const b = normalize(theirs.table);
  const out: string[] = [];
  const bySvc = (l: NormService[]) => new Map(l.map((s) => [s.service, s]));
  const ma = bySvc(a);
  const mb = bySvc(b);
  for (const s of a) if (!mb.has(s.service)) out.push(`${s.service}: only here`);
  for (const s of b) if (!ma.has(s.service)) out.push(`${s.service}: only on the peer`);
  for (const s of a) {
    const t = mb.get(s.service);
    if (!t) continue;
    if (s.scheduler !== t.scheduler) out.push(`${s.service}: scheduler ${s.scheduler} here, ${t.scheduler} on the peer`);
    if (s.flags.join(',') !== t.flags.join(',')) out.push(`${s.service}: flags [${s.flags.join(' ')}] here, [${t.flags.join(' ')}] on the peer`);
    if (s.persistenceS !== t.persistenceS) out.push(`${s.service}: persistence ${s.persistenceS ?? 'none'} here, ${t.persistenceS ?? 'none'} on the peer`);
    const key = (d: { address: string; port: number }) => (d.address.includes(':') ? `[${d.address}]:${d.port}` : `${d.address}:${d.port}`);
    const da = new Map(s.dests.map((d) => [key(d), d]));
    const db = new Map(t.dests.map((d) => [key(d), d]));
    for (const [k, d] of da) {
      const e = db.get(k);
      if (!e) out.push(`${s.service} -> ${k}: only here`);
      else {
        if (d.weight !== e.weight) out.push(`${s.service} -> ${k}: weight ${d.weight} here, ${e.weight} on the peer`);
        if (d.forwarding !== e.forwarding) out.push(`${s.service} -> ${k}: ${d.forwarding} here, ${e.forwarding} on the peer`);
      }
    }
    for (const k of db.keys()) if (!da.has(k)) out.push(`${s.service} -> ${k}: only on the peer`);
  }
  return out;
}

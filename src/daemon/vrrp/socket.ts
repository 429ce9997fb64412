/**
 * VRRP transport over raw IP sockets (IP protocol 112), wire-compatible with keepalived.
 *
 * - One raw socket per (interface, family) (plus the unicast TTL when an instance sets
 *   `unicast_ttl`), opened through the native addon: bound to the device (SO_BINDTODEVICE),
 *   joined to the multicast group(s) of its multicast instances on that interface (224.0.0.18 /
 *   ff02::12 or the configured group), TTL / hop limit 255, TOS / traffic class 0xC0, multicast
 *   loop off, IP_MULTICAST_ALL off (the addon's default). IPv6 sockets let the kernel fill in and
 *   verify the checksum (IPV6_CHECKSUM offset 6), as keepalived does.
 * - Sending: multicast instances send one packet to the group out of their interface; unicast
 *   instances send one packet per `unicast_peer` from `unicast_src_ip` (else the interface's
 *   primary address). The source is set per packet (IP_PKTINFO) because the VRRPv3/IPv4 checksum
 *   covers it.
 * - Receiving: the addon delivers the IP payload with the source, destination, TTL / hop limit
 *   and ingress interface. `AdvertDemux` (shared with the UDP transport) demultiplexes by VRID
 *   (and unicast/multicast, peer) to an instance, runs `validateAdvert` (keepalived's
 *   `vrrp_check_packet` order) and counts drops by reason.
 *
 * The transport is plain objects and callbacks: no globals, no logger, no clock. It can live in a
 * worker thread together with the runtime.
 */
import { validateAdvert, encodeAdvert } from '../../vrrp/codec.js';
import type { InstanceWire } from '../../vrrp/params.js';
import { canonicalIp, isMulticastIp, stripZone } from '../../vocab/ip.js';
import {
  DROP_REASONS,
  dropKind,
  type DropKind,
  type DropReason,
  type InstanceExpectations,
  type RxContext,
  type ValidateNote,
  type VrrpAdvert,
} from '../../vrrp/packet.js';
import { RawIpSocket, type RawIpSocketOptions, type RawMessage } from '../../net/raw-socket.js';

/** IPTOS_PREC_INTERNETCONTROL, what keepalived puts in TOS / TCLASS. */
export const VRRP_TOS = 0xc0;
export const VRRP_PROTOCOL = 112;

// ------------------------------------------------------------------------------------------------
// Transport interface (shared by the raw and the UDP transport)

/** One instance as the transport sees it. */
export interface TransportInstance {
  wire: InstanceWire;
  /** The source address actually used: the configured one, else the interface's primary (IPv4) / link-local (IPv6). */
  srcIp: string;
  /** Base expectations for `validateAdvert`; the demux adds the last master and old-checksum state. */
  expectations: InstanceExpectations;
}

/** A valid advert for one of our instances. Plain data. */
export interface ReceivedVrrpAdvert {
  instance: string;
  srcIp: string;
  dstIp: string;
  advert: VrrpAdvert;
  notes: ValidateNote[];
  ttl: number | undefined;
  ifname: string | undefined;
  /** How long before delivery the kernel received it (SO_TIMESTAMPNS), when the transport knows. */
  ageMs?: number;
}

/** A packet we did not accept. Plain data. */
export interface VrrpDrop {
  /** The instance it was validated against; undefined when no instance has that VRID here. */
  instance: string | undefined;
  vrid: number | undefined;
  reason: DropReason;
  kind: DropKind;
  detail: string;
  srcIp: string;
  ifname: string | undefined;
}

export interface TransportHandlers {
  onAdvert(rx: ReceivedVrrpAdvert): void;
  onDrop?(drop: VrrpDrop): void;
  /** Socket-level trouble (send failure, receive error); the transport keeps going. */
  onError?(err: Error, context: { instance?: string; socket?: string; op: 'send' | 'receive' }): void;
  /** A peer was found to use keepalived's old (≤1.3.6) unicast checksum; we switched to it. */
  onOldUnicastChecksum?(instance: string, peer: string): void;
}

export interface InstanceTransportStats {
  advertsSent: number;
  sendErrors: number;
  received: number;
  accepted: number;
  dropped: Partial<Record<DropReason, number>>;
}

export interface TransportStats {
  kind: 'raw' | 'udp';
  sockets: string[];
  /** Packets no instance on that socket claims (another router's VRID). */
  unknownVrid: number;
  /** Drops by reason over all instances (including unknown VRIDs under `vrid`). */
  dropped: Record<DropReason, number>;
  instances: Record<string, InstanceTransportStats>;
}

export interface VrrpTransport {
  readonly kind: 'raw' | 'udp';
  /** Open the sockets and start receiving. Throws (with errno `code`) when a socket cannot be set up. */
  open(): Promise<void>;
  /** Send one advert of `instance` with `priority` to every destination (group or each peer). */
  send(instance: string, priority: number): void;
  /** Encodes the instance's adverts with each of `priorities` for every destination, sending nothing (warm-up). */
  warm?(instance: string, priorities: readonly number[]): void;
  /** Resolves once every queued advert has been handed to the kernel (raw sends are synchronous). */
  flush(): Promise<void>;
  stats(): TransportStats;
  /** Close every socket. Idempotent. */
  close(): void;
}

export type TransportFactory = (instances: readonly TransportInstance[], handlers: TransportHandlers) => VrrpTransport;

// ------------------------------------------------------------------------------------------------
// Shared: demultiplexing, validation, encoding, counters

export { stripZone };

interface Entry {
  t: TransportInstance;
  stats: InstanceTransportStats;
  lastMaster: string | undefined;
  oldUnicastChecksum: 'detect' | 'never' | 'use';
  /** Encoded adverts by priority, destination and checksum mode: an advert is built once, as keepalived does. */
  encoded: Map<string, Buffer>;
}

/** The destinations of one instance's adverts: each unicast peer, else the multicast group. */
export function advertDestinations(w: InstanceWire): string[] {
  return w.unicastPeers.length > 0 ? w.unicastPeers.map((p) => p.address) : [w.mcastGroup];
}

/** Builds the advert an instance sends with `priority` (plain data; the codec encodes it). */
export function buildAdvert(w: InstanceWire, priority: number, advertIntervalMs: number): VrrpAdvert {
  if (w.version === 2) {
    return {
      version: 2,
      type: 1,
      family: 4,
      vrid: w.vrid,
      priority,
      addresses: w.addresses,
      advertIntervalS: Math.round(advertIntervalMs / 1000),
      authType: w.authType,
      ...(w.authType === 1 && w.authPassword !== undefined ? { authData: passwordBytes(w.authPassword) } : {}),
    };
  }
  return { version: 3, type: 1, family: w.family, vrid: w.vrid, priority, addresses: w.addresses, advertIntervalCs: Math.round(advertIntervalMs / 10) };
}

function passwordBytes(pw: string): Buffer {
  const out = Buffer.alloc(8);
  Buffer.from(pw, 'utf8').copy(out, 0, 0, 8);
  return out;
}

function emptyDrops(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
}

function sameIp(a: string, b: string): boolean {
  return (canonicalIp(stripZone(a)) ?? a) === (canonicalIp(stripZone(b)) ?? b);
}

/**
 * Demultiplexes received VRRP messages to instances and validates them. One per socket (the raw
 * transport) or per family (UDP); instances are those reachable through it.
 */
export class AdvertDemux {
  private readonly entries: Entry[];
  unknownVrid = 0;
  readonly dropped: Record<DropReason, number> = emptyDrops();

  constructor(
    instances: readonly TransportInstance[],
    private readonly handlers: TransportHandlers,
    statsOf: (name: string) => InstanceTransportStats,
  ) {
    this.entries = instances.map((t) => ({
      t,
      stats: statsOf(t.wire.name),
      lastMaster: undefined,
      oldUnicastChecksum: t.expectations.oldUnicastChecksum ?? 'detect',
      encoded: new Map(),
    }));
  }

  get size(): number {
    return this.entries.length;
  }

  /**
   * Handle one VRRP message (the IP payload). `dst` is the packet's destination, or, when the
   * socket cannot tell (UDP), a function giving the destination an instance would expect.
   */
  dispatch(data: Buffer, rx: { src: string; dst: string | ((t: TransportInstance) => string); family: 4 | 6; ttl: number | undefined; ifname: string | undefined; ageMs?: number }): void {
    const src = stripZone(rx.src);
    const vrid = data.length >= 2 ? data[1] : undefined;
    const sameVrid = vrid === undefined ? [] : this.entries.filter((e) => e.t.wire.vrid === vrid && e.t.wire.family === rx.family);
    if (sameVrid.length === 0) {
      this.unknownVrid++;
      this.dropped.vrid++;
      this.handlers.onDrop?.({ instance: undefined, vrid, reason: vrid === undefined ? 'truncated' : 'vrid', kind: 'other', detail: `no instance with VRID ${vrid ?? '?'} here`, srcIp: src, ifname: rx.ifname });
      return;
    }
    const dstOf = (e: Entry): string => stripZone(typeof rx.dst === 'string' ? rx.dst : rx.dst(e.t));
    // Prefer the instance whose mode (unicast peer / multicast) fits the packet.
    const fits = (e: Entry): boolean => {
      const uni = e.t.wire.unicastPeers.length > 0;
      if (uni) return !isMulticastIp(dstOf(e)) && e.t.wire.unicastPeers.some((p) => sameIp(p.address, src));
      return isMulticastIp(dstOf(e));
    };
    const e = sameVrid.find(fits) ?? sameVrid.find((x) => x.t.wire.unicastPeers.length > 0 === !isMulticastIp(dstOf(x))) ?? sameVrid[0]!;
    const dst = dstOf(e);
    e.stats.received++;
    const exp: InstanceExpectations = {
      ...e.t.expectations,
      oldUnicastChecksum: e.oldUnicastChecksum,
      ...(e.lastMaster !== undefined ? { lastMasterAddress: e.lastMaster } : {}),
    };
    const ctx: RxContext = { src, dst, family: rx.family, ...(rx.ttl !== undefined ? { ttl: rx.ttl } : {}) };
    const r = validateAdvert(data, ctx, exp);
    if (!r.ok) {
      e.stats.dropped[r.reason] = (e.stats.dropped[r.reason] ?? 0) + 1;
      this.dropped[r.reason]++;
      this.handlers.onDrop?.({ instance: e.t.wire.name, vrid, reason: r.reason, kind: dropKind(r.reason), detail: r.detail, srcIp: src, ifname: rx.ifname });
      return;
    }
    e.stats.accepted++;
    e.lastMaster = src;
    if (e.oldUnicastChecksum === 'detect' && r.notes.some((n) => n.kind === 'old-unicast-checksum')) {
      e.oldUnicastChecksum = 'use';
      this.handlers.onOldUnicastChecksum?.(e.t.wire.name, src);
    }
    this.handlers.onAdvert({ instance: e.t.wire.name, srcIp: src, dstIp: dst, advert: r.advert, notes: r.notes, ttl: rx.ttl, ifname: rx.ifname, ...(rx.ageMs ? { ageMs: rx.ageMs } : {}) });
  }

  /**
   * The encoded message for one destination (the v3/IPv4 checksum depends on it). Shared and
   * cached: callers only send it. An instance's wire parameters never change (a reload that
   * changes them builds a new demux).
   */
  encode(name: string, priority: number, dst: string): Buffer {
    const e = this.entries.find((x) => x.t.wire.name === name);
    if (!e) throw new Error(`Cannot send for unknown VRRP instance "${name}"`);
    const key = `${priority} ${dst} ${e.oldUnicastChecksum}`;
    let msg = e.encoded.get(key);
    if (!msg) {
      msg = this.encodeFresh(e, priority, dst);
      e.encoded.set(key, msg);
    }
    return msg;
  }

  /** Encodes the adverts of `name` with each of `priorities` for every destination; nothing is sent (warm-up). */
  warm(name: string, priorities: readonly number[]): void {
    const e = this.entries.find((x) => x.t.wire.name === name);
    if (!e) return;
    for (const p of priorities) for (const dst of advertDestinations(e.t.wire)) this.encode(name, p, dst);
  }

  private encodeFresh(e: Entry, priority: number, dst: string): Buffer {
    const w = e.t.wire;
    const adv = buildAdvert(w, priority, e.t.expectations.advertIntervalCs * 10);
    return encodeAdvert(adv, {
      src: stripZone(e.t.srcIp),
      dst: stripZone(dst),
      v3ChecksumAsV2: w.v3ChecksumAsV2,
      ...(e.oldUnicastChecksum === 'use' && w.unicastPeers.length > 0 ? { checksumDst: w.mcastGroup } : {}),
    });
  }
}

/** Per-instance counters, created on demand. */
export class StatsTable {
  readonly instances: Record<string, InstanceTransportStats> = {};
  of = (name: string): InstanceTransportStats => {
    let s = this.instances[name];
    if (!s) {
      s = { advertsSent: 0, sendErrors: 0, received: 0, accepted: 0, dropped: {} };
      this.instances[name] = s;
    }
    return s;
  };
  snapshot(): Record<string, InstanceTransportStats> {
    return Object.fromEntries(Object.entries(this.instances).map(([k, v]) => [k, { ...v, dropped: { ...v.dropped } }]));
  }
}

export function sumDrops(demuxes: Iterable<AdvertDemux>): { unknownVrid: number; dropped: Record<DropReason, number> } {
  const dropped = emptyDrops();
  let unknownVrid = 0;
  for (const d of demuxes) {
    unknownVrid += d.unknownVrid;
    for (const r of DROP_REASONS) dropped[r] += d.dropped[r];
  }
  return { unknownVrid, dropped };
}

// ------------------------------------------------------------------------------------------------
// The raw-socket transport

/** The subset of `RawIpSocket` the transport uses (a fake can stand in for tests). */
export interface RawSocketLike {
  send(data: Uint8Array, dst: string, ifname?: string, src?: string): boolean;
  onMessage(listener: (msg: RawMessage) => void): () => void;
  onError(listener: (err: Error) => void): () => void;
  setChecksumOffset(offset: number): unknown;
  close(): void;
}

export interface RawTransportOptions {
  /** Opens a socket; default `RawIpSocket.open` (the native addon; needs CAP_NET_RAW). */
  openSocket?: (opts: RawIpSocketOptions) => RawSocketLike;
}

interface RawGroup {
  key: string;
  device: string | undefined;
  family: 4 | 6;
  ttl: number;
  instances: TransportInstance[];
  sock?: RawSocketLike;
  demux?: AdvertDemux;
}

export class RawVrrpTransport implements VrrpTransport {
  readonly kind = 'raw' as const;
  private readonly groups = new Map<string, RawGroup>();
  private readonly byInstance = new Map<string, RawGroup>();
  private readonly table = new StatsTable();
  private readonly openSocket: (opts: RawIpSocketOptions) => RawSocketLike;
  private closed = false;

  constructor(
    instances: readonly TransportInstance[],
    private readonly handlers: TransportHandlers,
    opts: RawTransportOptions = {},
  ) {
    this.openSocket = opts.openSocket ?? ((o) => RawIpSocket.open(o));
    for (const t of instances) {
      const w = t.wire;
      const ttl = w.unicastPeers.length > 0 ? w.unicastTtl : 255;
      const key = `${w.interface ?? '*'}/ipv${w.family}${ttl === 255 ? '' : `/ttl${ttl}`}`;
      let g = this.groups.get(key);
      if (!g) {
        g = { key, device: w.interface, family: w.family, ttl, instances: [] };
        this.groups.set(key, g);
      }
      g.instances.push(t);
      this.byInstance.set(w.name, g);
      this.table.of(w.name);
    }
  }

  async open(): Promise<void> {
    try {
      for (const g of this.groups.values()) {
        const joins = new Map<string, readonly [string, string]>();
        for (const t of g.instances) {
          if (t.wire.unicastPeers.length === 0 && g.device !== undefined) joins.set(t.wire.mcastGroup, [t.wire.mcastGroup, g.device]);
        }
        const sock = this.openSocket({
          family: g.family,
          protocol: VRRP_PROTOCOL,
          ...(g.device !== undefined ? { device: g.device, multicastInterface: g.device } : {}),
          ttl: g.ttl,
          tos: VRRP_TOS,
          multicastLoop: false,
          join: [...joins.values()],
        });
        g.sock = sock;
        if (g.family === 6) sock.setChecksumOffset(6);
        const demux = new AdvertDemux(g.instances, this.handlers, this.table.of);
        g.demux = demux;
        sock.onError((err) => this.handlers.onError?.(err, { socket: g.key, op: 'receive' }));
        sock.onMessage((m) => {
          if (m.truncated) return;
          demux.dispatch(m.data, { src: m.src, dst: m.dst, family: m.family, ttl: m.ttl >= 0 ? m.ttl : undefined, ifname: m.ifname || undefined, ageMs: m.ageMs });
        });
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  warm(instance: string, priorities: readonly number[]): void {
    this.byInstance.get(instance)?.demux?.warm(instance, priorities);
  }

  send(instance: string, priority: number): void {
    const g = this.byInstance.get(instance);
    if (!g?.sock || !g.demux || this.closed) return;
    const t = g.instances.find((x) => x.wire.name === instance)!;
    const st = this.table.of(instance);
    for (const dst of advertDestinations(t.wire)) {
      try {
        const msg = g.demux.encode(instance, priority, dst);
        const ok = g.sock.send(msg, dst, g.device, stripZone(t.srcIp));
        if (ok) st.advertsSent++;
        else {
          st.sendErrors++;
          this.handlers.onError?.(Object.assign(new Error(`send to ${dst} would block (EAGAIN)`), { code: 'EAGAIN' }), { instance, socket: g.key, op: 'send' });
        }
      } catch (err) {
        st.sendErrors++;
        this.handlers.onError?.(err as Error, { instance, socket: g.key, op: 'send' });
      }
    }
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  stats(): TransportStats {
    const demuxes = [...this.groups.values()].flatMap((g) => (g.demux ? [g.demux] : []));
    return { kind: 'raw', sockets: [...this.groups.keys()], ...sumDrops(demuxes), instances: this.table.snapshot() };
  }

  close(): void {
    this.closed = true;
    for (const g of this.groups.values()) {
      try {
        g.sock?.close();
      } catch {
        // closing is best effort
      }
      delete g.sock;
    }
  }
}

export const createRawTransport: TransportFactory = (instances, handlers) => new RawVrrpTransport(instances, handlers);

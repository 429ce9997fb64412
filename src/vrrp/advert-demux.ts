/**
 * Received VRRP datagrams → the instance they are for, validated. One demux per socket (the raw
 * transport) or per family (UDP): it picks the instance by VRID, family and mode (unicast peer or
 * multicast group), runs `validateAdvert` (keepalived's `vrrp_check_packet` order) against that
 * instance's expectations and the last master it heard, detects keepalived's old (<= 1.3.6)
 * VRRPv3 unicast checksum, counts drops by reason, and encodes (and caches) the instance's own
 * adverts. Protocol logic only: sockets hand it datagrams and send the bytes it encodes.
 *
 * An advert has two shapes on its way in: the datagram a socket delivered (`VrrpDatagram`) and
 * the machine's input (`ReceivedAdvert`, here with the instance it is for and the validator's notes).
 */
import { encodeAdvert, validateAdvert } from './codec.js';
import type { ReceivedAdvert } from './instance.js';
import type { InstanceWire } from './params.js';
import { DROP_REASONS, dropKind, type DropKind, type DropReason, type InstanceExpectations, type ValidateNote, type VrrpAdvert } from './packet.js';
import { canonicalIp, isMulticastIp, stripZone } from '../vocab/ip.js';

/** One instance as the transport sees it. */
export interface TransportInstance {
  wire: InstanceWire;
  /** The source address actually used: the configured one, else the interface's primary (IPv4) / link-local (IPv6). */
  srcIp: string;
  /** Base expectations for `validateAdvert`; the demux adds the last master and old-checksum state. */
  expectations: InstanceExpectations;
}

/** What a socket delivers: one VRRP message (the IP payload) and what the kernel said of it. */
export interface VrrpDatagram {
  data: Buffer;
  src: string;
  /** The packet's destination, or, when the socket cannot tell (UDP), the one an instance would expect. */
  dst: string | ((t: TransportInstance) => string);
  family: 4 | 6;
  /** TTL / hop limit; negative or absent when unknown. */
  ttl?: number | undefined;
  ifname?: string | undefined;
  /** How long before delivery the kernel received it (SO_TIMESTAMPNS), when the socket knows. */
  ageMs?: number | undefined;
}

/** A valid advert for one of our instances: the machine's input, with where it came from. Plain data. */
export interface DemuxedAdvert extends ReceivedAdvert {
  instance: string;
  dstIp: string;
  notes: ValidateNote[];
  ifname: string | undefined;
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

/** Where the demux reports what it decided. */
export interface DemuxHandlers {
  onAdvert(rx: DemuxedAdvert): void;
  onDrop?(drop: VrrpDrop): void;
  /** A peer was found to use keepalived's old (<= 1.3.6) unicast checksum; we switched to it. */
  onOldUnicastChecksum?(instance: string, peer: string): void;
}

export interface InstanceTransportStats {
  advertsSent: number;
  sendErrors: number;
  received: number;
  accepted: number;
  dropped: Partial<Record<DropReason, number>>;
}

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
    private readonly handlers: DemuxHandlers,
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

  /** Handle one datagram: to an instance's machine (`onAdvert`) or counted as a drop. */
  dispatch(rx: VrrpDatagram): void {
    const data = rx.data;
    const ifname = rx.ifname || undefined;
    const ttl = rx.ttl !== undefined && rx.ttl >= 0 ? rx.ttl : undefined;
    const src = stripZone(rx.src);
    const vrid = data.length >= 2 ? data[1] : undefined;
    const sameVrid = vrid === undefined ? [] : this.entries.filter((e) => e.t.wire.vrid === vrid && e.t.wire.family === rx.family);
    if (sameVrid.length === 0) {
      this.unknownVrid++;
      this.dropped.vrid++;
      this.handlers.onDrop?.({ instance: undefined, vrid, reason: vrid === undefined ? 'truncated' : 'vrid', kind: 'other', detail: `no instance with VRID ${vrid ?? '?'} here`, srcIp: src, ifname });
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
    const r = validateAdvert(data, { src, dst, family: rx.family, ...(ttl !== undefined ? { ttl } : {}) }, exp);
    if (!r.ok) {
      e.stats.dropped[r.reason] = (e.stats.dropped[r.reason] ?? 0) + 1;
      this.dropped[r.reason]++;
      this.handlers.onDrop?.({ instance: e.t.wire.name, vrid, reason: r.reason, kind: dropKind(r.reason), detail: r.detail, srcIp: src, ifname });
      return;
    }
    e.stats.accepted++;
    e.lastMaster = src;
    if (e.oldUnicastChecksum === 'detect' && r.notes.some((n) => n.kind === 'old-unicast-checksum')) {
      e.oldUnicastChecksum = 'use';
      this.handlers.onOldUnicastChecksum?.(e.t.wire.name, src);
    }
    const a = r.advert;
    this.handlers.onAdvert({
      instance: e.t.wire.name,
      srcIp: src,
      priority: a.priority,
      advertIntervalMs: a.version === 2 ? a.advertIntervalS * 1000 : a.advertIntervalCs * 10,
      dstIp: dst,
      notes: r.notes,
      ifname,
      ...(rx.ageMs ? { ageMs: rx.ageMs } : {}),
    });
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

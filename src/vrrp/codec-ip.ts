/**
 * IPv4 / IPv6 headers around a VRRP message, for AF_PACKET sockets, captures and
 * tests. keepalived builds the IPv4 header itself (IP_HDRINCL):
 * `45 c0 <tot_len> <id> 00 00 ff 70 <csum> <src> <dst>` — TOS 0xc0, no DF, no
 * options, TTL 255, protocol 112, and an ID that increments per packet (never 0).
 * The IPv6 header is built by the kernel; `encodeIpv6Packet` mirrors it (traffic
 * class 0xc0, hop limit 255, next header 112).
 */
import { internetChecksum, ipv4HeaderChecksum } from './checksum.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../vocab/ip.js';
import {
  IPPROTO_AH,
  IPPROTO_VRRP,
  VRRP_TOS,
  VRRP_TTL,
  type DropReason,
  type DropResult,
} from './packet.js';

const IPV4_MIN_HEADER = 20;
const IPV6_HEADER = 40;

function drop(reason: DropReason, detail: string): DropResult {
  return { ok: false, reason, detail };
}

export interface Ipv4Header {
  /** Header length in bytes (IHL × 4). */
  headerLength: number;
  tos: number;
  totalLength: number;
  id: number;
  /** The 3 flag bits (bit 1 = DF, bit 0 = MF). */
  flags: number;
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  src: string;
  dst: string;
  /** IP options (bytes 20..headerLength), usually empty. */
  options: Buffer;
}

export interface Ipv4HeaderFields {
  src: string;
  dst: string;
  /** IP identification. keepalived increments it per packet, skipping 0 (see `nextIpv4Id`). */
  id: number;
  protocol?: number;
  ttl?: number;
  tos?: number;
  dontFragment?: boolean;
}

/** Builds a 20-byte IPv4 header (no options) for a payload of `payloadLength` bytes. */
export function encodeIpv4Header(fields: Ipv4HeaderFields, payloadLength: number): Buffer {
  const src = parseIpv4(fields.src);
  const dst = parseIpv4(fields.dst);
  if (!src) throw new TypeError(`Cannot build IPv4 header: invalid source address "${fields.src}"`);
  if (!dst) throw new TypeError(`Cannot build IPv4 header: invalid destination address "${fields.dst}"`);
  const total = IPV4_MIN_HEADER + payloadLength;
  if (total > 0xffff) throw new RangeError(`Cannot build IPv4 header: total length ${total} exceeds 65535`);
  const id = fields.id;
  if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw new RangeError(`Invalid IPv4 id "${id}"`);
  const h = Buffer.alloc(IPV4_MIN_HEADER);
  h[0] = 0x45;
  h[1] = fields.tos ?? VRRP_TOS;
  h.writeUInt16BE(total, 2);
  h.writeUInt16BE(id, 4);
  h.writeUInt16BE(fields.dontFragment ? 0x4000 : 0, 6);
  h[8] = fields.ttl ?? VRRP_TTL;
  h[9] = fields.protocol ?? IPPROTO_VRRP;
  h.set(src, 12);
  h.set(dst, 16);
  h.writeUInt16BE(ipv4HeaderChecksum(h), 10);
  return h;
}

/** The next IPv4 ID after `prev`, as keepalived counts: +1, wrapping past 0 to 1. */
export function nextIpv4Id(prev: number): number {
  const n = (prev + 1) & 0xffff;
  return n === 0 ? 1 : n;
}

export interface Ipv4PacketOk {
  ok: true;
  header: Ipv4Header;
  /** The IP payload (tot_len − IHL bytes): the VRRP message, or AH + VRRP. */
  payload: Buffer;
  /** Bytes after tot_len that were ignored as link-layer padding. */
  padding: number;
}

export interface DecodeIpOptions {
  /** Verify the IPv4 header checksum (default true). */
  verifyHeaderChecksum?: boolean;
}

/**
 * Parses an IPv4 packet carrying VRRP (protocol 112) or AH (51). Never throws.
 * Bytes past tot_len are treated as Ethernet padding and reported in `padding`.
 */
export function decodeIpv4Packet(buf: Uint8Array, opts: DecodeIpOptions = {}): Ipv4PacketOk | DropResult {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < IPV4_MIN_HEADER) return drop('truncated', `IPv4 packet of ${b.length} bytes is shorter than 20`);
  const version = b[0]! >> 4;
  if (version !== 4) return drop('family', `IP version ${version}, expected 4`);
  const headerLength = (b[0]! & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER) return drop('ip-header', `IPv4 IHL ${headerLength / 4} is below 5`);
  if (b.length < headerLength) return drop('truncated', `IPv4 header of ${headerLength} bytes but ${b.length} received`);
  const totalLength = b.readUInt16BE(2);
  if (totalLength < headerLength) {
    return drop('ip-header', `IPv4 total length ${totalLength} is below the header length ${headerLength}`);
  }
  if (totalLength > b.length) return drop('truncated', `IPv4 total length ${totalLength} but ${b.length} bytes received`);
  const flagsFrag = b.readUInt16BE(6);
  const flags = flagsFrag >> 13;
  const fragmentOffset = flagsFrag & 0x1fff;
  if ((flags & 1) !== 0 || fragmentOffset !== 0) {
    return drop('ip-header', `IPv4 fragment (MF ${flags & 1}, offset ${fragmentOffset}); VRRP is never fragmented`);
  }
  const header = b.subarray(0, headerLength);
  if ((opts.verifyHeaderChecksum ?? true) && internetChecksum(header) !== 0) {
    return drop(
      'ip-header',
      `bad IPv4 header checksum 0x${b.readUInt16BE(10).toString(16).padStart(4, '0')}, expected 0x${ipv4HeaderChecksum(header).toString(16).padStart(4, '0')}`,
    );
  }
  const protocol = b[9]!;
  if (protocol !== IPPROTO_VRRP && protocol !== IPPROTO_AH) {
    return drop('protocol', `IPv4 protocol ${protocol} is neither VRRP (112) nor AH (51)`);
  }
  return {
    ok: true,
    header: {
      headerLength,
      tos: b[1]!,
      totalLength,
      id: b.readUInt16BE(4),
      flags,
      fragmentOffset,
      ttl: b[8]!,
      protocol,
      checksum: b.readUInt16BE(10),
      src: formatIpv4(b, 12),
      dst: formatIpv4(b, 16),
      options: Buffer.from(b.subarray(IPV4_MIN_HEADER, headerLength)),
    },
    payload: Buffer.from(b.subarray(headerLength, totalLength)),
    padding: b.length - totalLength,
  };
}

export interface Ipv6Header {
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: string;
  dst: string;
}

export interface Ipv6HeaderFields {
  src: string;
  dst: string;
  nextHeader?: number;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
}

/** Builds a 40-byte IPv6 header for a payload of `payloadLength` bytes. */
export function encodeIpv6Header(fields: Ipv6HeaderFields, payloadLength: number): Buffer {
  const src = parseIpv6(fields.src);
  const dst = parseIpv6(fields.dst);
  if (!src) throw new TypeError(`Cannot build IPv6 header: invalid source address "${fields.src}"`);
  if (!dst) throw new TypeError(`Cannot build IPv6 header: invalid destination address "${fields.dst}"`);
  if (payloadLength > 0xffff) throw new RangeError(`Cannot build IPv6 header: payload length ${payloadLength} exceeds 65535`);
  const h = Buffer.alloc(IPV6_HEADER);
  const tc = (fields.trafficClass ?? VRRP_TOS) & 0xff;
  const flow = (fields.flowLabel ?? 0) & 0xfffff;
  h.writeUInt32BE(((6 << 28) | (tc << 20) | flow) >>> 0, 0);
  h.writeUInt16BE(payloadLength, 4);
  h[6] = fields.nextHeader ?? IPPROTO_VRRP;
  h[7] = fields.hopLimit ?? VRRP_TTL;
  h.set(src, 8);
  h.set(dst, 24);
  return h;
}

export interface Ipv6PacketOk {
  ok: true;
  header: Ipv6Header;
  payload: Buffer;
  /** Bytes after the payload length that were ignored as link-layer padding. */
  padding: number;
}

/**
 * Parses an IPv6 packet whose next header is VRRP (extension headers are not
 * walked: anything else is `protocol`). Never throws.
 */
export function decodeIpv6Packet(buf: Uint8Array): Ipv6PacketOk | DropResult {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < IPV6_HEADER) return drop('truncated', `IPv6 packet of ${b.length} bytes is shorter than 40`);
  const word0 = b.readUInt32BE(0);
  const version = word0 >>> 28;
  if (version !== 6) return drop('family', `IP version ${version}, expected 6`);
  const payloadLength = b.readUInt16BE(4);
  if (IPV6_HEADER + payloadLength > b.length) {
    return drop('truncated', `IPv6 payload length ${payloadLength} but ${b.length - IPV6_HEADER} bytes received`);
  }
  const nextHeader = b[6]!;
  if (nextHeader !== IPPROTO_VRRP) return drop('protocol', `IPv6 next header ${nextHeader} is not VRRP (112)`);
  return {
    ok: true,
    header: {
      trafficClass: (word0 >>> 20) & 0xff,
      flowLabel: word0 & 0xfffff,
      payloadLength,
      nextHeader,
      hopLimit: b[7]!,
      src: formatIpv6(b, 8),
      dst: formatIpv6(b, 24),
    },
    payload: Buffer.from(b.subarray(IPV6_HEADER, IPV6_HEADER + payloadLength)),
    padding: b.length - IPV6_HEADER - payloadLength,
  };
}

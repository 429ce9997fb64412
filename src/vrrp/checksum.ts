/**
 * The Internet checksum (RFC 1071) and the VRRP checksum variants (docs/vrrp.md §2).
 *
 * | case | covered bytes |
 * |---|---|
 * | v2 | the VRRP message (header, addresses, 8-byte auth data) |
 * | v3 over IPv4, keepalived default | IPv4 pseudo-header (src, dst, 0, 112, message length) + message |
 * | v3 over IPv4, `v3_checksum_as_v2` / RFC 9568 | the message only |
 * | v3 over IPv6 | IPv6 pseudo-header (src, dst, 32-bit length, 3 zero bytes, 112) + message |
 *
 * The checksum field (bytes 6–7 of the message) counts as zero when computing.
 */
import { IPPROTO_VRRP, type IpFamily, type VrrpVersion } from './packet.js';
import { parseIpOf } from '../vocab/ip.js';

/** Offset of the checksum field inside a VRRP message. */
export const VRRP_CHECKSUM_OFFSET = 6;

/**
 * The 16-bit one's-complement sum of `data` (big-endian words, an odd trailing byte
 * padded with zero), added to `initial`, folded to 16 bits.
 */
export function onesComplementSum(data: Uint8Array, initial = 0): number {
  let sum = initial;
  const even = data.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (even !== data.length) sum += data[even]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/**
 * The Internet checksum of the concatenation of `parts`: the one's complement of the
 * one's-complement sum. A buffer that already contains a correct checksum sums to 0.
 */
export function internetChecksum(...parts: Uint8Array[]): number {
  const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return ~onesComplementSum(data) & 0xffff;
}

/** IPv4 pseudo-header: src(4) dst(4) zero(1) protocol(1) length(2). */
export function ipv4PseudoHeader(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): Buffer {
  const b = Buffer.alloc(12);
  b.set(src.subarray(0, 4), 0);
  b.set(dst.subarray(0, 4), 4);
  b[9] = protocol;
  b.writeUInt16BE(length & 0xffff, 10);
  return b;
}

/** IPv6 upper-layer pseudo-header (RFC 8200 §8.1): src(16) dst(16) length(4) zero(3) next header(1). */
export function ipv6PseudoHeader(src: Uint8Array, dst: Uint8Array, nextHeader: number, length: number): Buffer {
  const b = Buffer.alloc(40);
  b.set(src.subarray(0, 16), 0);
  b.set(dst.subarray(0, 16), 16);
  b.writeUInt32BE(length >>> 0, 32);
  b[39] = nextHeader;
  return b;
}

/** The IPv4 header checksum of `header` (its checksum field, bytes 10–11, counts as zero). */
export function ipv4HeaderChecksum(header: Uint8Array): number {
  const copy = Buffer.from(header);
  copy[10] = 0;
  copy[11] = 0;
  return internetChecksum(copy);
}

/**
 * How a VRRP checksum is computed. `src`/`dst` are needed for the pseudo-header
 * forms (v3 over IPv4 unless `v3ChecksumAsV2`, and v3 over IPv6).
 */
export interface VrrpChecksumContext {
  version: VrrpVersion;
  family: IpFamily;
  /** IP source address (text or bytes). */
  src?: string | Uint8Array;
  /**
   * Address placed in the pseudo-header as destination: normally the packet's
   * destination; the multicast group for keepalived's old unicast checksum.
   */
  dst?: string | Uint8Array;
  /** keepalived `v3_checksum_as_v2`: v3 over IPv4 without the pseudo-header. */
  v3ChecksumAsV2?: boolean;
}

function addressBytes(family: IpFamily, addr: string | Uint8Array | undefined, what: string): Uint8Array {
  if (addr === undefined) throw new TypeError(`Cannot compute VRRP checksum: missing ${what} address`);
  if (typeof addr !== 'string') {
    if (addr.length !== (family === 4 ? 4 : 16)) {
      throw new TypeError(`Cannot compute VRRP checksum: ${what} address has ${addr.length} bytes for IPv${family}`);
    }
    return addr;
  }
  const bytes = parseIpOf(family, addr);
  if (!bytes) throw new TypeError(`Cannot compute VRRP checksum: invalid IPv${family} ${what} address "${addr}"`);
  return bytes;
}

/** True when the checksum of this version/family covers a pseudo-header. */
export function usesPseudoHeader(ctx: Pick<VrrpChecksumContext, 'version' | 'family' | 'v3ChecksumAsV2'>): boolean {
  return ctx.version === 3 && (ctx.family === 6 || !ctx.v3ChecksumAsV2);
}

/** The pseudo-header for `ctx` and a message of `length` bytes, or an empty buffer. */
export function vrrpPseudoHeader(ctx: VrrpChecksumContext, length: number): Buffer {
  if (!usesPseudoHeader(ctx)) return Buffer.alloc(0);
  const src = addressBytes(ctx.family, ctx.src, 'source');
  const dst = addressBytes(ctx.family, ctx.dst, 'destination');
  return ctx.family === 4
    ? ipv4PseudoHeader(src, dst, IPPROTO_VRRP, length)
    : ipv6PseudoHeader(src, dst, IPPROTO_VRRP, length);
}

/**
 * Computes the checksum of the VRRP message `msg` (its checksum field counts as zero).
 * Throws `TypeError` if a needed address is missing or invalid.
 */
export function vrrpChecksum(msg: Uint8Array, ctx: VrrpChecksumContext): number {
  const copy = Buffer.from(msg);
  if (copy.length >= VRRP_CHECKSUM_OFFSET + 2) copy.writeUInt16BE(0, VRRP_CHECKSUM_OFFSET);
  return internetChecksum(vrrpPseudoHeader(ctx, copy.length), copy);
}

/**
 * True if the checksum stored in `msg` verifies under `ctx` (the sum over the
 * pseudo-header and the whole message, checksum included, is 0xffff; so both
 * representations of zero are accepted, as the kernel and keepalived do).
 * Throws `TypeError` if a needed address is missing or invalid.
 */
export function verifyVrrpChecksum(msg: Uint8Array, ctx: VrrpChecksumContext): boolean {
  return internetChecksum(vrrpPseudoHeader(ctx, msg.length), msg) === 0;
}

/**
 * Sans-I/O VRRP advertisement codec, wire-compatible with keepalived.
 *
 * - `encodeAdvert` builds the VRRP message (what a raw IPPROTO 112 socket sends);
 *   `encodeIpv4Packet` / `encodeIpv6Packet` add the IP header (AF_PACKET, tests).
 * - `decodeAdvert` parses a VRRP message without knowing the receiving instance:
 *   structure, TTL on multicast, version, type, checksum.
 * - `validateAdvert` runs every receive check of keepalived's `vrrp_check_packet`
 *   (docs/vrrp.md §4) against an instance's expectations, in keepalived's order,
 *   after demultiplexing by VRID.
 * - `decodeIpv4Packet` / `decodeIpv6Packet` / `decodeIpAdvert` parse whole IP packets.
 *
 * Local faults (an invalid advert or address handed to an encoder) throw
 * `TypeError`/`RangeError`. Remote faults never throw: the decoders return
 * `{ ok: false, reason, detail }` for any input.
 */
import { timingSafeEqual } from 'node:crypto';
import { VRRP_CHECKSUM_OFFSET, verifyVrrpChecksum, vrrpChecksum } from './checksum.js';
import {
  decodeIpv4Packet,
  decodeIpv6Packet,
  encodeIpv4Header,
  encodeIpv6Header,
  type DecodeIpOptions,
  type Ipv4Header,
  type Ipv6Header,
} from './codec-ip.js';
import { formatIp, isMulticastBytes, parseIpOf } from '../vocab/ip.js';
import {
  IPPROTO_AH,
  IPPROTO_VRRP,
  VRRP_AUTH_LEN,
  VRRP_HEADER_LEN,
  VRRP_MCAST_GROUP4,
  VRRP_MCAST_GROUP6,
  VRRP_TTL,
  VRRP_TYPE_ADVERTISEMENT,
  VRRP_V3_MAX_INTERVAL_CS,
  passwordAuthData,
  type ChecksumForm,
  type DecodeResult,
  type DropReason,
  type DropResult,
  type InstanceExpectations,
  type IpFamily,
  type RxContext,
  type ValidateNote,
  type ValidateResult,
  type VrrpAdvert,
  type VrrpAuthType,
} from './packet.js';

export {
  decodeIpv4Packet,
  decodeIpv6Packet,
  encodeIpv4Header,
  encodeIpv6Header,
  nextIpv4Id,
  type DecodeIpOptions,
  type Ipv4Header,
  type Ipv4HeaderFields,
  type Ipv4PacketOk,
  type Ipv6Header,
  type Ipv6HeaderFields,
  type Ipv6PacketOk,
} from './codec-ip.js';

/** IPsec AH header length in front of the VRRP message (keepalived `ipsec_ah_t`). */
const AH_HEADER_LEN = 24;
/** Minimum Ethernet payload; shorter IP packets arrive padded (docs/vrrp.md §4 step 2). */
const ETHERNET_MIN_PAYLOAD = 46;

// ------------------------------------------------------------------------------------------------
// Encoding

/** Addresses the checksum of an outgoing advert depends on. */
export interface EncodeContext {
  /** IP source address of the packet. */
  src: string;
  /** IP destination: the multicast group, or the unicast peer (one packet per peer). */
  dst: string;
  /** keepalived `v3_checksum_as_v2`: VRRPv3 over IPv4 without the pseudo-header. */
  v3ChecksumAsV2?: boolean;
  /**
   * Destination to use in the IPv4 pseudo-header instead of `dst`: the multicast
   * group for keepalived's old unicast checksum (`old_unicast_checksum`, or after
   * `validateAdvert` reported `old-unicast-checksum`).
   */
  checksumDst?: string;
}

function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`Invalid VRRP ${name} "${String(v)}": expected an integer in ${min}..${max}`);
  }
  return v;
}

/**
 * Encodes the VRRP message (no IP header). The checksum is computed here:
 * v2 over the message; v3/IPv4 over the IPv4 pseudo-header (src, `checksumDst ?? dst`)
 * unless `v3ChecksumAsV2`; v3/IPv6 over the IPv6 pseudo-header (the kernel
 * recomputes it with IPV6_CHECKSUM; the value here is the same).
 *
 * `ctx` may be omitted for VRRPv2. Throws `TypeError`/`RangeError` on an advert that
 * cannot be put on the wire (field out of range, address of the wrong family, ...).
 */
export function encodeAdvert(advert: VrrpAdvert, ctx?: EncodeContext): Buffer {
  const version = advert.version as number;
  if (version !== 2 && version !== 3) throw new RangeError(`Invalid VRRP version "${String(version)}"`);
  if ((advert.type as number) !== VRRP_TYPE_ADVERTISEMENT) {
    throw new RangeError(`Invalid VRRP type "${String(advert.type)}": only 1 (ADVERTISEMENT) exists`);
  }
  const family = advert.family as number;
  if (family !== 4 && family !== 6) throw new RangeError(`Invalid address family "${String(family)}"`);
  if (advert.version === 2 && family !== 4) throw new RangeError('VRRPv2 is IPv4 only');
  checkInt('VRID', advert.vrid, 0, 255);
  checkInt('priority', advert.priority, 0, 255);
  if (!Array.isArray(advert.addresses) || advert.addresses.length > 255) {
    throw new RangeError(`Invalid VRRP address list: at most 255 addresses, got ${advert.addresses?.length}`);
  }
  const addrLen = family === 4 ? 4 : 16;
  const count = advert.addresses.length;
  const len = VRRP_HEADER_LEN + count * addrLen + (advert.version === 2 ? VRRP_AUTH_LEN : 0);
  const b = Buffer.alloc(len);
  b[0] = (advert.version << 4) | VRRP_TYPE_ADVERTISEMENT;
  b[1] = advert.vrid;
  b[2] = advert.priority;
  b[3] = count;
  if (advert.version === 2) {
    const authType = checkInt('auth type', advert.authType ?? 0, 0, 2);
    b[4] = authType;
    b[5] = checkInt('advert interval (s)', advert.advertIntervalS, 0, 255);
    if (advert.authData !== undefined) {
      if (advert.authData.length !== VRRP_AUTH_LEN) {
        throw new RangeError(`Invalid VRRPv2 auth data: ${advert.authData.length} bytes, expected 8`);
      }
      b.set(advert.authData, len - VRRP_AUTH_LEN);
    }
  } else {
    b.writeUInt16BE(checkInt('advert interval (cs)', advert.advertIntervalCs, 0, VRRP_V3_MAX_INTERVAL_CS), 4);
  }
  advert.addresses.forEach((a, i) => {
    const bytes = typeof a === 'string' ? parseIpOf(family, a) : undefined;
    if (!bytes) throw new TypeError(`Invalid IPv${family} address "${String(a)}" in VRRP advert`);
    b.set(bytes, VRRP_HEADER_LEN + i * addrLen);
  });
  if (advert.version === 3 && !ctx) throw new TypeError('Cannot encode VRRPv3: source and destination are needed for the checksum');
  const sum = vrrpChecksum(b, {
    version: advert.version,
    family,
    src: ctx?.src,
    dst: ctx?.checksumDst ?? ctx?.dst,
    v3ChecksumAsV2: ctx?.v3ChecksumAsV2 ?? false,
  });
  b.writeUInt16BE(sum, VRRP_CHECKSUM_OFFSET);
  return b;
}

export interface Ipv4EncodeContext extends EncodeContext {
  /** IP identification (keepalived increments it per packet, skipping 0: `nextIpv4Id`). */
  id: number;
  /** Default 255. */
  ttl?: number;
  /** Default 0xc0. */
  tos?: number;
  /** Default false (keepalived does not set DF). */
  dontFragment?: boolean;
}

/**
 * The full IPv4 packet as keepalived sends it: `45 c0 <len> <id> 00 00 ff 70 <csum>
 * <src> <dst>` + the VRRP message. IPsec AH (auth type 2) is not supported.
 */
export function encodeIpv4Packet(advert: VrrpAdvert, ctx: Ipv4EncodeContext): Buffer {
  if (advert.version === 2 && advert.authType === 2) {
    throw new RangeError('Cannot encode VRRPv2 with IPsec AH authentication: not supported');
  }
  if (advert.family !== 4) throw new RangeError('encodeIpv4Packet needs an IPv4 advert');
  const msg = encodeAdvert(advert, ctx);
  const header = encodeIpv4Header(
    {
      src: ctx.src,
      dst: ctx.dst,
      id: ctx.id,
      ttl: ctx.ttl ?? VRRP_TTL,
      ...(ctx.tos !== undefined ? { tos: ctx.tos } : {}),
      dontFragment: ctx.dontFragment ?? false,
      protocol: IPPROTO_VRRP,
    },
    msg.length,
  );
  return Buffer.concat([header, msg]);
}

export interface Ipv6EncodeContext extends EncodeContext {
  /** Default 255. */
  hopLimit?: number;
  /** Default 0xc0. */
  trafficClass?: number;
  flowLabel?: number;
}

/** The full IPv6 packet (40-byte header, next header 112) + the VRRP message. */
export function encodeIpv6Packet(advert: VrrpAdvert, ctx: Ipv6EncodeContext): Buffer {
  if (advert.family !== 6) throw new RangeError('encodeIpv6Packet needs an IPv6 advert');
  const msg = encodeAdvert(advert, ctx);
  const header = encodeIpv6Header(
    {
      src: ctx.src,
      dst: ctx.dst,
      hopLimit: ctx.hopLimit ?? VRRP_TTL,
      ...(ctx.trafficClass !== undefined ? { trafficClass: ctx.trafficClass } : {}),
      ...(ctx.flowLabel !== undefined ? { flowLabel: ctx.flowLabel } : {}),
    },
    msg.length,
  );
  return Buffer.concat([header, msg]);
}

// ------------------------------------------------------------------------------------------------
// Decoding and validation

function drop(reason: DropReason, detail: string): DropResult {
  return { ok: false, reason, detail };
}

function hex16(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}

/**
 * keepalived tolerates Ethernet padding on short packets: the received IP packet
 * may be longer than expected when the expected length is below the 46-byte
 * Ethernet minimum, if the received length is 46 or 46 − 4k (a VLAN tag counted
 * inside the minimum frame).
 */
function paddingTolerated(receivedTotal: number, expectedTotal: number): boolean {
  return (
    expectedTotal < ETHERNET_MIN_PAYLOAD &&
    receivedTotal > expectedTotal &&
    receivedTotal <= ETHERNET_MIN_PAYLOAD &&
    (ETHERNET_MIN_PAYLOAD - receivedTotal) % 4 === 0
  );
}

interface ChecksumCheck {
  form?: ChecksumForm;
  detail: string;
}

function checkChecksum(
  msg: Buffer,
  version: 2 | 3,
  family: IpFamily,
  src: Buffer,
  dst: Buffer,
  opts: { asV2: boolean; oldUnicast: 'detect' | 'never' | 'use'; unicast: boolean; mcast: Buffer },
): ChecksumCheck {
  const stored = msg.readUInt16BE(VRRP_CHECKSUM_OFFSET);
  const v2ok = (): boolean => verifyVrrpChecksum(msg, { version: 2, family });
  const pseudoOk = (d: Buffer): boolean => verifyVrrpChecksum(msg, { version: 3, family, src, dst: d });
  const messageOk = (): boolean => verifyVrrpChecksum(msg, { version: 3, family, v3ChecksumAsV2: true });
  if (version === 2) {
    if (v2ok()) return { form: 'v2', detail: '' };
    return { detail: `invalid VRRPv2 checksum ${hex16(stored)}, expected ${hex16(vrrpChecksum(msg, { version: 2, family }))}` };
  }
  if (family === 6) {
    if (pseudoOk(dst)) return { form: 'v3-ipv6', detail: '' };
    return {
      detail: `invalid VRRPv3 checksum ${hex16(stored)}, expected ${hex16(vrrpChecksum(msg, { version: 3, family, src, dst }))} (IPv6 pseudo-header)`,
    };
  }
  if (opts.asV2) {
    // keepalived does not verify at all here; accept every form a real sender uses.
    if (messageOk()) return { form: 'v3-ipv4-message', detail: '' };
    if (pseudoOk(dst)) return { form: 'v3-ipv4-pseudo', detail: '' };
    if (pseudoOk(opts.mcast)) return { form: 'v3-ipv4-pseudo-mcast', detail: '' };
    return {
      detail: `invalid VRRPv3 checksum ${hex16(stored)}: matches neither the message-only form ${hex16(vrrpChecksum(msg, { version: 3, family, v3ChecksumAsV2: true }))} nor the pseudo-header form ${hex16(vrrpChecksum(msg, { version: 3, family, src, dst }))}`,
    };
  }
  const pseudoDst = opts.oldUnicast === 'use' ? opts.mcast : dst;
  if (pseudoOk(pseudoDst)) return { form: opts.oldUnicast === 'use' ? 'v3-ipv4-pseudo-mcast' : 'v3-ipv4-pseudo', detail: '' };
  if (opts.oldUnicast === 'detect' && opts.unicast && !dst.equals(opts.mcast) && pseudoOk(opts.mcast)) {
    return { form: 'v3-ipv4-pseudo-mcast', detail: '' };
  }
  const expected = vrrpChecksum(msg, { version: 3, family, src, dst: pseudoDst });
  const hint = messageOk()
    ? ' (it matches the message-only form: the sender uses v3_checksum_as_v2 / RFC 9568)'
    : opts.oldUnicast !== 'use' && pseudoOk(opts.mcast)
      ? ' (it matches the old unicast checksum with the multicast group as destination)'
      : '';
  return { detail: `invalid VRRPv3 checksum ${hex16(stored)}, expected ${hex16(expected)} (IPv4 pseudo-header)${hint}` };
}

function sameAddress(family: IpFamily, a: string, b: Buffer): boolean {
  const pa = parseIpOf(family, a);
  return pa !== undefined && pa.equals(b);
}

/**
 * The receive pipeline. Without `exp` only the instance-independent checks run
 * (decodeAdvert); with it, all of keepalived's checks in its order (validateAdvert).
 */
function runChecks(input: Uint8Array, ctx: RxContext, exp: InstanceExpectations | undefined): ValidateResult {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const family = ctx.family as number;
  if (family !== 4 && family !== 6) return drop('family', `invalid receive family "${String(ctx.family)}"`);
  if (exp && exp.family !== family) return drop('family', `IPv${family} packet for an IPv${exp.family} instance`);
  const src = parseIpOf(family, ctx.src);
  const dst = parseIpOf(family, ctx.dst);
  if (!src) return drop('family', `source "${ctx.src}" is not an IPv${family} address`);
  if (!dst) return drop('family', `destination "${ctx.dst}" is not an IPv${family} address`);

  // Demultiplexing needs the VRRP header; behind an AH header for protocol 51.
  const proto = ctx.ipProtocol ?? IPPROTO_VRRP;
  if (proto !== IPPROTO_VRRP && !(proto === IPPROTO_AH && family === 4)) {
    return drop('protocol', `IP protocol ${proto} is not VRRP`);
  }
  const offset = proto === IPPROTO_AH ? AH_HEADER_LEN : 0;
  if (buf.length < offset + VRRP_HEADER_LEN) {
    return drop('truncated', `${buf.length} bytes cannot hold the ${offset ? 'AH + ' : ''}VRRP header`);
  }
  const hd = buf.subarray(offset);
  const version = hd[0]! >> 4;
  const type = hd[0]! & 0x0f;
  const vrid = hd[1]!;
  const priority = hd[2]!;
  const count = hd[3]!;
  if (exp && vrid !== exp.vrid) return drop('vrid', `VRID ${vrid} is not ours (${exp.vrid})`);

  // 1. IPsec AH presence.
  if (exp) {
    const wantAh = exp.version === 2 && (exp.authType ?? 0) === 2;
    if ((proto === IPPROTO_AH) !== wantAh) {
      return drop('auth-type', proto === IPPROTO_AH ? 'received an AH header but auth type is not AH' : 'no AH header but auth type is AH');
    }
  }
  if (proto === IPPROTO_AH) return drop('auth', 'IPsec AH authentication is not supported');

  // 2. Length, from the header's count (and version: v2 carries 8 bytes of auth data).
  const addrLen = family === 4 ? 4 : 16;
  const authLen = version === 2 && family === 4 ? VRRP_AUTH_LEN : 0;
  const expected = VRRP_HEADER_LEN + count * addrLen + authLen;
  let padding = 0;
  if (hd.length !== expected) {
    const ipHdr = ctx.ipHeaderLength ?? 20;
    if (family === 4 && hd.length > expected && paddingTolerated(ipHdr + hd.length, ipHdr + expected)) {
      padding = hd.length - expected;
    } else {
      return drop(
        'length',
        `VRRP packet too ${hd.length > expected ? 'long' : 'short'}: ${hd.length} bytes, expected ${expected} for version ${version} with ${count} addresses`,
      );
    }
  }
  const msg = hd.subarray(0, expected);

  // 3. TTL / hop limit 255 on multicast (a unicast instance checks per-peer ranges later).
  const unicast = exp ? (exp.unicastPeers?.length ?? 0) > 0 : !isMulticastBytes(family, dst);
  if (!unicast && ctx.ttl !== undefined && ctx.ttl !== VRRP_TTL) {
    return drop('ttl', `invalid TTL/hop limit ${ctx.ttl}, expected ${VRRP_TTL}`);
  }

  // 4. Version.
  if (version !== 2 && version !== 3) return drop('version', `unknown VRRP version ${version}`);
  if (exp && version !== exp.version) return drop('version', `wrong version: received ${version}, expected ${exp.version}`);
  if (version === 2 && family === 6) return drop('family', 'VRRPv2 over IPv6 is not supported (IPv6 instances are VRRPv3)');

  // 5. auth_hmac (keepalived 2.4+ extension) is not implemented: a trailer fails the length check.

  // 6./7. VRRPv2 authentication and advert interval.
  if (version === 2) {
    const authType = hd[4]!;
    if (authType > 2) return drop('auth-type', `invalid auth type ${authType}`);
    if (exp) {
      const want = exp.authType ?? 0;
      if (authType !== want) return drop('auth-type', `received a ${authType} auth, expecting ${want}`);
      if (want === 1) {
        const got = msg.subarray(expected - VRRP_AUTH_LEN);
        if (!timingSafeEqual(got, passwordAuthData(exp.authPassword ?? ''))) {
          return drop('auth', 'received an invalid password');
        }
      }
      const rxCs = hd[5]! * 100;
      if (rxCs !== exp.advertIntervalCs) {
        return drop('interval', `advertisement interval mismatch: mine ${exp.advertIntervalCs / 100} s, received ${hd[5]} s`);
      }
    }
  }

  // 8. Type.
  if (type !== VRRP_TYPE_ADVERTISEMENT) return drop('type', `invalid packet type ${type}, expected 1`);

  // 9. Checksum.
  const mcast = parseIpOf(family, exp?.mcastGroup ?? (family === 4 ? VRRP_MCAST_GROUP4 : VRRP_MCAST_GROUP6));
  if (!mcast) return drop('family', `multicast group "${exp?.mcastGroup}" is not an IPv${family} address`);
  const sum = checkChecksum(msg, version, family, src, dst, {
    asV2: exp?.v3ChecksumAsV2 ?? ctx.v3ChecksumAsV2 ?? false,
    oldUnicast: exp?.oldUnicastChecksum ?? 'detect',
    unicast,
    mcast,
  });
  if (!sum.form) return drop('checksum', sum.detail);

  const notes: ValidateNote[] = [];
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) addresses.push(formatIp(family, msg, VRRP_HEADER_LEN + i * addrLen));
  const checksum = msg.readUInt16BE(VRRP_CHECKSUM_OFFSET);
  const advert: VrrpAdvert =
    version === 2
      ? {
          version: 2,
          type: 1,
          family: 4,
          vrid,
          priority,
          addresses,
          advertIntervalS: hd[5]!,
          authType: hd[4]! as VrrpAuthType,
          authData: Buffer.from(msg.subarray(expected - VRRP_AUTH_LEN)),
          checksum,
        }
      : {
          version: 3,
          type: 1,
          family,
          vrid,
          priority,
          addresses,
          advertIntervalCs: hd.readUInt16BE(4) & VRRP_V3_MAX_INTERVAL_CS,
          checksum,
        };

  if (exp) {
    // A VRRPv3 Max Adver Int of 0 would become a BACKUP's Master_Adver_Interval: a down timer of
    // ~Skew_Time and a BACKUP taking over ~100 times a second against a live master. keepalived
    // adopts it; we drop it, counted as an interval error.
    if (advert.version === 3 && advert.advertIntervalCs === 0) return drop('interval', 'Max Adver Int 0 from the master: dropped (a BACKUP would flap)');

    // 10. Multicast vs unicast consistency.
    const dstMcast = isMulticastBytes(family, dst);
    if (dstMcast === unicast) {
      return drop('destination', `expected a ${unicast ? 'unicast' : 'multicast'} packet but received a ${dstMcast ? 'multicast' : 'unicast'} one`);
    }

    // 11. Address owner ignoring adverts.
    if (exp.ownerIgnoreAdverts && exp.basePriority === 255) {
      return drop('owner', 'dropping advert since we are the address owner (owner_ignore_adverts)');
    }

    // 12. Address list.
    const skip =
      exp.skipCheckAdvAddr === true && exp.lastMasterAddress !== undefined && sameAddress(family, exp.lastMasterAddress, src);
    if (!skip) {
      const received = new Set(addresses);
      const missing = exp.addresses.filter((a) => {
        const p = parseIpOf(family, a);
        return !p || !received.has(formatIp(family, p));
      });
      if (count !== exp.addresses.length || missing.length > 0) {
        const detail =
          count !== exp.addresses.length
            ? `received ${count} addresses, expected ${exp.addresses.length}`
            : `address ${missing[0]} not present in the advert`;
        const policy = exp.addressMismatch ?? 'accept';
        if (policy === 'drop' || (policy === 'rfc' && priority !== 255)) return drop('addresses', detail);
        notes.push({ kind: 'address-mismatch', detail });
      }
    }

    // 13. Unicast source (and per-peer TTL range).
    const peers = exp.unicastPeers ?? [];
    if (unicast && (exp.checkUnicastSrc || peers.some((p) => p.minTtl !== undefined || p.maxTtl !== undefined))) {
      const peer = peers.find((p) => sameAddress(family, p.address, src));
      if (!peer) return drop('source', `unicast source address ${ctx.src} is not a unicast peer`);
      const min = peer.minTtl ?? 0;
      const max = peer.maxTtl ?? 255;
      if (ctx.ttl !== undefined && (ctx.ttl < min || ctx.ttl > max)) {
        return drop('ttl', `TTL/hop limit ${ctx.ttl} not in range ${min}-${max}`);
      }
    }

    if (sum.form === 'v3-ipv4-pseudo-mcast' && (exp.oldUnicastChecksum ?? 'detect') === 'detect') {
      notes.push({ kind: 'old-unicast-checksum', detail: 'peer uses the old unicast VRRPv3 checksum (multicast group as destination)' });
    }
    if (advert.version === 3 && advert.advertIntervalCs !== exp.advertIntervalCs) {
      notes.push({
        kind: 'interval-mismatch',
        detail: `advertisement interval ${advert.advertIntervalCs * 10} ms differs from ours (${exp.advertIntervalCs * 10} ms)`,
      });
    }
  }

  // 14. Priority 0.
  if (priority === 0) notes.push({ kind: 'priority-zero', detail: 'the master is leaving (priority 0)' });

  return { ok: true, advert, checksumForm: sum.form, padding, notes };
}

function safely(f: () => ValidateResult): ValidateResult {
  try {
    return f();
  } catch (e) {
    return drop('internal', `codec bug: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Decodes a VRRP message (the IP payload) received with `ctx`. Runs the checks that
 * do not depend on the receiving instance, in keepalived's order: header present,
 * length against the count, TTL 255 when the destination is multicast (if `ttl` is
 * given), version 2/3 (v2 only over IPv4), v2 auth type 0..2, type 1, checksum.
 * Never throws.
 */
export function decodeAdvert(buf: Uint8Array, ctx: RxContext): DecodeResult {
  const r = safely(() => runChecks(buf, ctx, undefined));
  if (!r.ok) return r;
  return { ok: true, advert: r.advert, checksumForm: r.checksumForm, padding: r.padding };
}

/**
 * Runs every receive check of keepalived's `vrrp_check_packet` (docs/vrrp.md §4) in its
 * order, after demultiplexing by VRID:
 *
 * VRID (`vrid`, another router) → AH presence (`auth-type`) → length (`length`) →
 * TTL 255 on multicast (`ttl`) → version (`version`) → v2 auth type and PASS
 * (`auth-type`, `auth`) → v2 advert interval (`interval`, DROP) → type (`type`) →
 * checksum (`checksum`, with the old-unicast auto-detect) → multicast/unicast
 * (`destination`) → owner_ignore_adverts (`owner`) → address list (`addresses` or a
 * note, per `addressMismatch` and `skipCheckAdvAddr`) → unicast source and TTL range
 * (`source`, `ttl`) → notes (v3 interval mismatch, priority 0).
 *
 * Never throws.
 */
export function validateAdvert(buf: Uint8Array, ctx: RxContext, exp: InstanceExpectations): ValidateResult {
  return safely(() => runChecks(buf, ctx, exp));
}

export interface IpAdvertOk {
  ok: true;
  advert: VrrpAdvert;
  checksumForm: ChecksumForm;
  /** The receive context derived from the IP header (feed it to `validateAdvert`). */
  rx: RxContext;
  ip: ({ family: 4 } & Ipv4Header) | ({ family: 6 } & Ipv6Header);
  /** The VRRP message (IP payload without link-layer padding). */
  payload: Buffer;
}

/**
 * Decodes a whole IPv4 or IPv6 packet (chosen by the version nibble) carrying a VRRP
 * advert, e.g. from AF_PACKET or a capture: IP header checks, then `decodeAdvert`
 * with src/dst/TTL from the header. Never throws.
 */
export function decodeIpAdvert(
  buf: Uint8Array,
  opts: DecodeIpOptions & { v3ChecksumAsV2?: boolean } = {},
): IpAdvertOk | DropResult {
  const first = buf.length > 0 ? buf[0]! >> 4 : -1;
  let rx: RxContext;
  let ip: IpAdvertOk['ip'];
  let payload: Buffer;
  if (first === 4) {
    const p = decodeIpv4Packet(buf, opts);
    if (!p.ok) return p;
    rx = { src: p.header.src, dst: p.header.dst, family: 4, ttl: p.header.ttl, ipProtocol: p.header.protocol, ipHeaderLength: p.header.headerLength };
    ip = { family: 4, ...p.header };
    payload = p.payload;
  } else if (first === 6) {
    const p = decodeIpv6Packet(buf);
    if (!p.ok) return p;
    rx = { src: p.header.src, dst: p.header.dst, family: 6, ttl: p.header.hopLimit };
    ip = { family: 6, ...p.header };
    payload = p.payload;
  } else {
    return drop(buf.length === 0 ? 'truncated' : 'family', `not an IP packet (version nibble ${first})`);
  }
  if (opts.v3ChecksumAsV2 !== undefined) rx.v3ChecksumAsV2 = opts.v3ChecksumAsV2;
  const r = decodeAdvert(payload, rx);
  if (!r.ok) return r;
  return { ok: true, advert: r.advert, checksumForm: r.checksumForm, rx, ip, payload };
}

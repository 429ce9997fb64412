// An independent receive check for VRRP packets, written from the RFCs and not from the decoder
// (src/vrrp/codec.ts shares no code with it): the fuzzer (vrrp.ts) runs both on the same
// packets and reports where they disagree.
//
// Input: a whole IPv4 or IPv6 packet (as AF_PACKET or a capture gives it, link layer removed).
// Output: accept or reject with EVERY rule the packet breaks (the decoder stops at the first, in
// keepalived's order), and for an accepted packet its fields as on the wire.
//
// The rules, instance-independent (what a router checks before it knows which of its virtual
// routers the packet is for):
// - IP: IPv4 (RFC 791) with IHL >= 5, a total length within what was received and not below the
//   header, a correct header checksum, not a fragment; protocol 112 (51, IPsec AH, is VRRPv2's
//   old authentication: recognised but not supported). IPv6 (RFC 8200): a payload length within
//   what was received, next header 112 (no extension headers). Bytes after the IP packet are
//   link-layer padding.
// - RFC 3768 §7.1 / RFC 5798 §7.1: TTL / hop limit 255 (only where the destination is multicast:
//   unicast VRRP is keepalived's extension, which does not check it); version 2 or 3, and version
//   2 only over IPv4 (RFC 3768 is IPv4-only); the complete packet: 8 bytes of header, Count × 4 or
//   16 bytes of addresses and, for version 2, 8 bytes of authentication data, no more and no less
//   (keepalived's reading of "contains the complete packet"; it counts the authentication data
//   whenever the version field says 2); type 1 (ADVERTISEMENT); the checksum: version 2 over the
//   message, version 3 with the IPv4 or IPv6 pseudo-header (RFC 5798 §5.2.8); RFC 3768 §5.3.6: an
//   auth type other than 0, 1 or 2 is discarded.
// - keepalived compatibility the decoder also has (each named where it applies): a VRRPv3/IPv4
//   packet to a unicast address whose checksum uses 224.0.0.18 as the destination (keepalived
//   <= 1.3.6 senders, `old_unicast_checksum`); Ethernet padding counted in an IPv4 packet's total
//   length, when the packet is below the 46-byte minimum payload and the surplus is 2 mod 4
//   (keepalived 2.3+).
// - Instance checks (VRID, auth type and password, the VRRPv2 interval against one's own) need an
//   instance and are not made here. What needs noting is noted: a VRRPv3 Max Adver Int of 0 (RFC
//   5798 sets no minimum on receive; keepalived 2.2.7 and its master branch accept it and a
//   BACKUP adopts it, making its Master_Down_Interval the skew time alone, ~0), a VRRPv2 Adver
//   Int of 0 (any instance drops it: its own interval is at least 1 s), Count 0, reserved bits
//   set in the VRRPv3 interval field (ignored on receipt, RFC 5798 §5.2.5).

export type OracleRule =
  | 'ip-truncated'
  | 'ip-version'
  | 'ipv4-ihl'
  | 'ipv4-total-length'
  | 'ipv4-fragment'
  | 'ipv4-header-checksum'
  | 'ip-protocol'
  | 'ah'
  | 'vrrp-truncated'
  | 'length'
  | 'ttl'
  | 'version'
  | 'v2-over-ipv6'
  | 'auth-type'
  | 'type'
  | 'checksum';

export type OracleNote = 'v3-max-adver-int-zero' | 'v2-adver-int-zero' | 'count-zero' | 'v3-reserved-bits' | 'old-unicast-checksum' | 'padding' | 'ip-options';

export interface OracleFields {
  family: 4 | 6;
  version: number;
  vrid: number;
  priority: number;
  count: number;
  /** VRRPv2 Adver Int (seconds) or VRRPv3 Max Adver Int (centiseconds, the 12 bits). */
  interval: number;
  authType?: number;
  /** hex */
  authData?: string;
  checksum: number;
  /** RFC 5952 text (IPv4-mapped IPv6 as ::ffff:a.b.c.d), dotted quads for IPv4. */
  addresses: string[];
}

export interface OracleVerdict {
  accept: boolean;
  violations: OracleRule[];
  notes: OracleNote[];
  fields?: OracleFields;
}

const VRRP_PROTOCOL = 112;
const AH_PROTOCOL = 51;
const AH_LENGTH = 24;

/** The 16-bit one's complement sum of the bytes (RFC 1071), folded. */
function sum16(bytes: ArrayLike<number>, start: number, end: number, acc = 0): number {
  let s = acc;
  let i = start;
  for (; i + 1 < end; i += 2) s += bytes[i]! * 256 + bytes[i + 1]!;
  if (i < end) s += bytes[i]! * 256;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The checksum field value that makes `msg` (with `pseudo` before it) sum to 0xffff. */
export function checksumFor(pseudo: number[], msg: Uint8Array, fieldOffset: number): number {
  const copy = Uint8Array.from(msg);
  copy[fieldOffset] = 0;
  copy[fieldOffset + 1] = 0;
  const s = sum16(copy, 0, copy.length, sum16(pseudo, 0, pseudo.length));
  return 0xffff - s;
}

function verifies(pseudo: number[], msg: Uint8Array): boolean {
  return sum16(msg, 0, msg.length, sum16(pseudo, 0, pseudo.length)) === 0xffff;
}

export function ipv4Pseudo(src: ArrayLike<number>, dst: ArrayLike<number>, length: number): number[] {
  return [...Array.from(src), ...Array.from(dst), 0, VRRP_PROTOCOL, length >> 8, length & 0xff];
}

export function ipv6Pseudo(src: ArrayLike<number>, dst: ArrayLike<number>, length: number): number[] {
  return [...Array.from(src), ...Array.from(dst), (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff, 0, 0, 0, VRRP_PROTOCOL];
}

const MCAST4 = [224, 0, 0, 18];

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** RFC 5952 text of 16 bytes: lower case, no leading zeros, the first longest run (>= 2) of zero groups as '::'. */
export function ipv6Text(b: ArrayLike<number>): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b[i]! * 256 + b[i + 1]!);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  // the zero runs as a string of group flags: '0' for a zero group, 'x' otherwise
  const flags = g.map((w) => (w === 0 ? '0' : 'x')).join('');
  let best = '';
  for (const m of flags.matchAll(/0{2,}/g)) if (m[0].length > best.length) best = m[0];
  const text = g.map((w) => w.toString(16));
  if (!best) return text.join(':');
  const at = flags.indexOf(best);
  return `${text.slice(0, at).join(':')}::${text.slice(at + best.length).join(':')}`;
}

export function ipv4Text(b: ArrayLike<number>): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** The receive check of one whole IP packet. */
export function oracle(packet: Uint8Array): OracleVerdict {
  const v: OracleRule[] = [];
  const notes: OracleNote[] = [];
  const done = (fields?: OracleFields): OracleVerdict => (v.length === 0 && fields ? { accept: true, violations: v, notes, fields } : { accept: false, violations: v, notes });
  if (packet.length < 1) {
    v.push('ip-truncated');
    return done();
  }
  const ipVersion = packet[0]! >> 4;
  let family: 4 | 6;
  let src: Uint8Array;
  let dst: Uint8Array;
  let ttl: number;
  let payload: Uint8Array;
  let ipHeaderLength = 0;
  let protocol: number;
  if (ipVersion === 4) {
    family = 4;
    if (packet.length < 20) {
      v.push('ip-truncated');
      return done();
    }
    const ihl = (packet[0]! & 0x0f) * 4;
    if (ihl < 20) {
      v.push('ipv4-ihl');
      return done();
    }
    if (packet.length < ihl) {
      v.push('ip-truncated');
      return done();
    }
    if (ihl > 20) notes.push('ip-options');
    const total = packet[2]! * 256 + packet[3]!;
    if (total < ihl) {
      v.push('ipv4-total-length');
      return done();
    }
    if (total > packet.length) {
      v.push('ip-truncated');
      return done();
    }
    const more = (packet[6]! & 0x20) !== 0;
    const offset = (packet[6]! & 0x1f) * 256 + packet[7]!;
    if (more || offset !== 0) v.push('ipv4-fragment');
    if (sum16(packet, 0, ihl) !== 0xffff) v.push('ipv4-header-checksum');
    protocol = packet[9]!;
    ttl = packet[8]!;
    src = packet.subarray(12, 16);
    dst = packet.subarray(16, 20);
    payload = packet.subarray(ihl, total);
    ipHeaderLength = ihl;
    if (v.length) return done();
  } else if (ipVersion === 6) {
    family = 6;
    if (packet.length < 40) {
      v.push('ip-truncated');
      return done();
    }
    const plen = packet[4]! * 256 + packet[5]!;
    if (40 + plen > packet.length) {
      v.push('ip-truncated');
      return done();
    }
    protocol = packet[6]!;
    ttl = packet[7]!;
    src = packet.subarray(8, 24);
    dst = packet.subarray(24, 40);
    payload = packet.subarray(40, 40 + plen);
  } else {
    v.push('ip-version');
    return done();
  }
  if (protocol === AH_PROTOCOL && family === 4) {
    v.push(payload.length < AH_LENGTH + 8 ? 'vrrp-truncated' : 'ah');
    return done();
  }
  if (protocol !== VRRP_PROTOCOL) {
    v.push('ip-protocol');
    return done();
  }
  if (payload.length < 8) {
    v.push('vrrp-truncated');
    return done();
  }
  const version = payload[0]! >> 4;
  const type = payload[0]! & 0x0f;
  const count = payload[3]!;
  const multicast = family === 4 ? dst[0]! >= 224 && dst[0]! <= 239 : dst[0] === 0xff;
  const addrLength = family === 4 ? 4 : 16;
  // keepalived counts the authentication data whenever the version field says 2 (and the
  // decoder only over IPv4): for version 2 over IPv6, which is refused anyway, either length is
  // taken as complete
  const lengths = version === 2 ? (family === 4 ? [8 + count * 4 + 8] : [8 + count * 16 + 8, 8 + count * 16]) : [8 + count * addrLength];
  let expected = lengths.find((l) => l === payload.length);
  if (expected === undefined && family === 4) {
    // Ethernet padding inside the total length (keepalived 2.3+): a short packet grown to the
    // 46-byte minimum payload, or to 42 with a VLAN tag counted in it
    const want = lengths[0]!;
    const surplus = payload.length - want;
    if (ipHeaderLength + want < 46 && surplus > 0 && ipHeaderLength + payload.length <= 46 && surplus % 4 === 2) {
      expected = want;
      notes.push('padding');
    }
  }
  if (expected === undefined) v.push('length');
  if (multicast && ttl !== 255) v.push('ttl');
  if (version !== 2 && version !== 3) v.push('version');
  if (version === 2 && family === 6) v.push('v2-over-ipv6');
  if (version === 2 && payload[4]! > 2) v.push('auth-type');
  if (type !== 1) v.push('type');
  if (expected !== undefined && (version === 2 || version === 3) && !(version === 2 && family === 6)) {
    const msg = payload.subarray(0, expected);
    let ok: boolean;
    if (version === 2) ok = verifies([], msg);
    else if (family === 6) ok = verifies(ipv6Pseudo(src, dst, expected), msg);
    else {
      ok = verifies(ipv4Pseudo(src, dst, expected), msg);
      if (!ok && !multicast && verifies(ipv4Pseudo(src, MCAST4, expected), msg)) {
        ok = true;
        notes.push('old-unicast-checksum');
      }
    }
    if (!ok) v.push('checksum');
  }
  if (v.length) return done();
  const msg = payload.subarray(0, expected);
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    const a = msg.subarray(8 + i * addrLength, 8 + (i + 1) * addrLength);
    addresses.push(family === 4 ? ipv4Text(a) : ipv6Text(a));
  }
  const field = msg[4]! * 256 + msg[5]!;
  const fields: OracleFields = {
    family,
    version,
    vrid: msg[1]!,
    priority: msg[2]!,
    count,
    interval: version === 2 ? msg[5]! : field & 0x0fff,
    checksum: msg[6]! * 256 + msg[7]!,
    addresses,
  };
  if (version === 2) {
    fields.authType = msg[4]!;
    fields.authData = hex(msg.subarray(msg.length - 8));
    if (fields.interval === 0) notes.push('v2-adver-int-zero');
  } else {
    if (fields.interval === 0) notes.push('v3-max-adver-int-zero');
    if (field & 0xf000) notes.push('v3-reserved-bits');
  }
  if (count === 0) notes.push('count-zero');
  return done(fields);
}

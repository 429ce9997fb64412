/**
 * IP addresses: the one module for text ⇄ bytes, canonical forms, comparison, zones and
 * family. Pure and dependency-free; every layer uses it (VRRP codec, netlink, IPVS model,
 * probes, GARP frames).
 *
 * Parsing is strict (what `inet_pton` accepts): dotted quads without leading zeros,
 * IPv6 with at most one `::`, an optional trailing dotted quad, no zone index (strip it
 * with `stripZone` first where a zone may occur).
 * Two text forms:
 * - `canonicalIp` — RFC 5952: lower case, no leading zeros, the first longest run of two or
 *   more zero groups compressed, `::ffff:a.b.c.d` for IPv4-mapped addresses;
 * - `ntopIp` — what glibc's `inet_ntop` (and so ipvsadm and `ip`) prints: the same, but it
 *   also writes the dotted tail for IPv4-compatible `::a.b.c.d`, so tables read back from
 *   tools compare equal.
 */

export type IpFamily = 4 | 6;

const IPV4_PART = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Parses a dotted-quad IPv4 address into 4 bytes, or `undefined` if invalid. */
export function parseIpv4(text: string): Buffer | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!IPV4_PART.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** Parses the colon-separated groups of one side of `::` into 16-bit words. */
function parseGroups(section: string, allowIpv4Tail: boolean): number[] | undefined {
  if (section === '') return [];
  const groups = section.split(':');
  const words: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (allowIpv4Tail && i === groups.length - 1 && g.includes('.')) {
      const v4 = parseIpv4(g);
      if (!v4) return undefined;
      words.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
    } else {
      if (!HEX_GROUP.test(g)) return undefined;
      words.push(parseInt(g, 16));
    }
  }
  return words;
}

/** Parses an IPv6 address into 16 bytes, or `undefined` if invalid. */
export function parseIpv6(text: string): Buffer | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const dbl = text.indexOf('::');
  let words: number[];
  if (dbl < 0) {
    const all = parseGroups(text, true);
    if (!all || all.length !== 8) return undefined;
    words = all;
  } else {
    if (text.indexOf('::', dbl + 1) >= 0) return undefined;
    const head = parseGroups(text.slice(0, dbl), false);
    const tail = parseGroups(text.slice(dbl + 2), true);
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const out = Buffer.alloc(16);
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** Parses either family. */
export function parseIp(text: string): { family: IpFamily; bytes: Buffer } | undefined {
  const v4 = parseIpv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIpv6(text);
  if (v6) return { family: 6, bytes: v6 };
  return undefined;
}

/** Parses an address of the given family, or `undefined` if invalid or of the other family. */
export function parseIpOf(family: IpFamily, text: string): Buffer | undefined {
  return family === 4 ? parseIpv4(text) : parseIpv6(text);
}

/** Formats 4 bytes at `offset` as a dotted quad. */
export function formatIpv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** Formats 16 bytes at `offset` in RFC 5952 canonical form. */
export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  return formatIpv6Words(bytes, offset, false);
}

/** Formats 16 bytes at `offset` as glibc's inet_ntop does (see the module comment). */
export function formatIpv6Ntop(bytes: Uint8Array, offset = 0): string {
  return formatIpv6Words(bytes, offset, true);
}

function formatIpv6Words(bytes: Uint8Array, offset: number, ntop: boolean): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  // IPv4-mapped (::ffff:0:0/96): RFC 5952 §5 recommends the dotted-quad tail.
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${formatIpv4(bytes, offset + 12)}`;
  }
  // IPv4-compatible ::a.b.c.d: inet_ntop prints the dotted tail unless a.b.c.d is 0.0.0.x.
  if (ntop && words.slice(0, 6).every((w) => w === 0) && words[6] !== 0) {
    return `::${formatIpv4(bytes, offset + 12)}`;
  }
  // First longest run of at least two zero groups.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestLen < 2) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** Formats 4 or 16 bytes at `offset` according to `family`. */
export function formatIp(family: IpFamily, bytes: Uint8Array, offset = 0): string {
  return family === 4 ? formatIpv4(bytes, offset) : formatIpv6(bytes, offset);
}

/** The canonical (RFC 5952) text form of an address, or `undefined` if it is not a valid address. */
export function canonicalIp(text: string): string | undefined {
  const p = parseIp(text);
  return p ? formatIp(p.family, p.bytes) : undefined;
}

/** The address as inet_ntop prints it (a zone is dropped), or `undefined` if it is not valid. */
export function ntopIp(text: string): string | undefined {
  const p = parseIp(stripZone(text));
  if (!p) return undefined;
  return p.family === 4 ? formatIpv4(p.bytes) : formatIpv6Ntop(p.bytes);
}

/** The address without an IPv6 zone (`fe80::1%eth0` → `fe80::1`). */
export function stripZone(text: string): string {
  const i = text.indexOf('%');
  return i < 0 ? text : text.slice(0, i);
}

/** 4, 6, or 0 when `text` (a zone allowed) is not an address. */
export function ipFamily(text: string): IpFamily | 0 {
  const a = stripZone(text);
  return parseIpv4(a) ? 4 : parseIpv6(a) ? 6 : 0;
}

/** The 4 or 16 bytes of an address (a zone allowed); throws a TypeError naming it when invalid. */
export function ipBytes(text: string, family?: IpFamily): Buffer {
  const a = stripZone(text);
  const b = family === 4 ? parseIpv4(a) : family === 6 ? parseIpv6(a) : (parseIpv4(a) ?? parseIpv6(a));
  if (!b) throw new TypeError(`invalid ${family ? `IPv${family} ` : 'IP '}address: ${text}`);
  return b;
}

/**
 * −1, 0 or 1 as `a` is numerically lower than, equal to or higher than `b` (network byte
 * order, unsigned, as VRRP's tie-break on the primary address compares them). Zones are
 * ignored; an IPv4 address compares as its 32-bit value. Throws on an invalid address.
 */
export function compareIp(a: string, b: string): number {
  const x = ipBytes(a);
  const y = ipBytes(b);
  if (x.length !== y.length) {
    // Only a mixed pair: compare as 128-bit values, the IPv4 one zero-extended.
    const wide = (v: Buffer) => (v.length === 16 ? v : Buffer.concat([Buffer.alloc(12), v]));
    return Buffer.compare(wide(x), wide(y));
  }
  return Buffer.compare(x, y);
}

/** True for 224.0.0.0/4 and ff00::/8. */
export function isMulticastBytes(family: IpFamily, bytes: Uint8Array): boolean {
  const first = bytes[0] ?? 0;
  return family === 4 ? first >= 224 && first <= 239 : first === 0xff;
}

/** True if `text` is a valid multicast address of either family. */
export function isMulticastIp(text: string): boolean {
  const p = parseIp(text);
  return p !== undefined && isMulticastBytes(p.family, p.bytes);
}

/** The address as an unsigned integer (for ranges and arithmetic). */
export function ipToBigInt(text: string): bigint {
  let n = 0n;
  for (const b of ipBytes(text)) n = (n << 8n) | BigInt(b);
  return n;
}

/** The address of `family` whose integer value is `n` (taken modulo the family's size), formatted as inet_ntop does. */
export function ipFromBigInt(n: bigint, family: IpFamily): string {
  const len = family === 4 ? 4 : 16;
  const out = Buffer.alloc(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return family === 4 ? formatIpv4(out) : formatIpv6Ntop(out);
}

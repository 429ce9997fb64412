/**
 * IP address text ⇄ bytes for the VRRP codec. Pure and dependency-free.
 *
 * Parsing is strict (what `inet_pton` accepts): dotted quads without leading zeros,
 * IPv6 with at most one `::`, an optional trailing dotted quad, no zone index.
 * Formatting is canonical: dotted quad for IPv4, RFC 5952 for IPv6 (lower case, no
 * leading zeros, the first longest run of two or more zero groups compressed,
 * `::ffff:a.b.c.d` for IPv4-mapped addresses).
 */
import type { IpFamily } from './packet.js';

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
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  // IPv4-mapped (::ffff:0:0/96): RFC 5952 §5 recommends the dotted-quad tail.
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${formatIpv4(bytes, offset + 12)}`;
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

/** The canonical text form of an address, or `undefined` if it is not a valid address. */
export function canonicalIp(text: string): string | undefined {
  const p = parseIp(text);
  return p ? formatIp(p.family, p.bytes) : undefined;
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

/**
 * rtnetlink addresses: RTM_NEWADDR / RTM_DELADDR requests for VIPs and the parser of an
 * RTM_GETADDR dump. Pure (no socket, no addon): addresses.ts sends these through a
 * NetlinkClient (netlink.ts).
 *
 * The requests follow what `ip addr add|del` (iproute2) and keepalived send:
 * - ifaddrmsg { family, prefixlen, flags (low byte of IFA_FLAGS), scope, index }.
 * - IFA_LOCAL = the address; IFA_ADDRESS = the peer when there is one, else the address
 *   again (ip does so for add and del: the kernel then matches on prefix and address).
 * - add only: IFA_BROADCAST (IPv4 `brd`), IFA_LABEL (IPv4), IFA_FLAGS (u32),
 *   IFA_CACHEINFO when `preferred_lft` is set (valid_lft stays forever).
 * - IPv6 VIPs always get IFA_F_NODAD, as keepalived sets it: the address is usable at once
 *   and a layer-2 split brain cannot leave it `dadfailed` (RFC 5798 section 8.2.1 lets
 *   VRRP skip DAD). `home` and `mngtmpaddr` are IPv6-only, `noprefixroute` and `autojoin`
 *   apply to both families.
 * - Default scope: global, or host for 127.0.0.0/8 (ip's default). The kernel derives an
 *   IPv6 address's scope from the address itself.
 */
import { isIP } from 'node:net';

import type { Vip } from '../config/schema.js';
import { formatIpv4, formatIpv6, ipBytes } from '../vocab/ip.js';
import { attr, attrValue, fixed, NetlinkDecodeError, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_REPLACE, parseAttrs, type Attr, type NlMessage, type Request } from './netlink.js';

export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_BROADCAST = 4;
export const IFA_CACHEINFO = 6;
export const IFA_FLAGS = 8;

export const IFA_F_SECONDARY = 0x01;
export const IFA_F_NODAD = 0x02;
export const IFA_F_OPTIMISTIC = 0x04;
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_HOMEADDRESS = 0x10;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;
export const IFA_F_PERMANENT = 0x80;
export const IFA_F_MANAGETEMPADDR = 0x100;
export const IFA_F_NOPREFIXROUTE = 0x200;
export const IFA_F_MCAUTOJOIN = 0x400;

export const INFINITY_LIFE_TIME = 0xffffffff;

export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_SITE = 200;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;

const SCOPE_NAMES: Record<string, number> = {
  global: RT_SCOPE_UNIVERSE,
  universe: RT_SCOPE_UNIVERSE,
  site: RT_SCOPE_SITE,
  link: RT_SCOPE_LINK,
  host: RT_SCOPE_HOST,
  nowhere: RT_SCOPE_NOWHERE,
};

/** `global`, `link`, ... or 0..255 → the number; undefined when invalid. */
export function scopeNumber(scope: string): number | undefined {
  const named = SCOPE_NAMES[scope];
  if (named !== undefined) return named;
  if (!/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(scope)) return undefined;
  return Number(scope);
}

/** The number → `global`, `link`, ... (ip's names), or the number as text. */
export function scopeName(scope: number): string {
  switch (scope) {
    case RT_SCOPE_UNIVERSE:
      return 'global';
    case RT_SCOPE_SITE:
      return 'site';
    case RT_SCOPE_LINK:
      return 'link';
    case RT_SCOPE_HOST:
      return 'host';
    case RT_SCOPE_NOWHERE:
      return 'nowhere';
    default:
      return String(scope);
  }
}

/** ifaddrmsg: family, prefixlen, flags, scope, index (8 bytes). */
export function ifaddrmsg(m: { family: number; prefixlen: number; flags?: number; scope?: number; index: number }): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(m.family, 0);
  b.writeUInt8(m.prefixlen, 1);
  b.writeUInt8((m.flags ?? 0) & 0xff, 2);
  b.writeUInt8(m.scope ?? 0, 3);
  b.writeUInt32LE(m.index >>> 0, 4);
  return b;
}

function addrBytes(address: string): Buffer {
  return ipBytes(address);
}

/** IFA_F_* flags an RTM_NEWADDR for `vip` carries. */
export function vipFlags(vip: Vip): number {
  const v6 = isIP(vip.address) === 6;
  let f = 0;
  if (v6) {
    f |= IFA_F_NODAD;
    if (vip.home) f |= IFA_F_HOMEADDRESS;
    if (vip.mngtmpaddr) f |= IFA_F_MANAGETEMPADDR;
  }
  if (vip.noprefixroute) f |= IFA_F_NOPREFIXROUTE;
  if (vip.autojoin) f |= IFA_F_MCAUTOJOIN;
  return f;
}

/** The scope an RTM_NEWADDR for `vip` carries (assumes a valid `scope`, see addresses.ts vipProblem). */
export function vipScope(vip: Vip): number {
  if (vip.scope !== undefined) return scopeNumber(vip.scope) ?? RT_SCOPE_UNIVERSE;
  return isIP(vip.address) === 4 && vip.address.startsWith('127.') ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
}

/** IFA_LOCAL and IFA_ADDRESS (the peer, or the address itself). */
function identityAttrs(vip: Vip): Attr[] {
  const local = addrBytes(vip.address);
  return [attr.bytes(IFA_LOCAL, local), attr.bytes(IFA_ADDRESS, vip.peer !== undefined ? addrBytes(vip.peer) : local)];
}

/**
 * RTM_NEWADDR for `vip` on interface `index`. NLM_F_CREATE|NLM_F_REPLACE: adding an address
 * that is already there is not an error (the kernel keeps it and refreshes its lifetimes
 * and, for IPv6, its flags). Assumes the VIP passed addresses.ts `vipProblem`.
 */
export function newAddrRequest(vip: Vip, index: number): Request {
  const fam = isIP(vip.address);
  const v4 = fam === 4;
  const flags = vipFlags(vip);
  const attrs = identityAttrs(vip);
  if (v4 && vip.brd !== undefined) attrs.push(attr.bytes(IFA_BROADCAST, ipBytes(vip.brd, 4)));
  if (v4 && vip.label !== undefined) attrs.push(attr.str(IFA_LABEL, vip.label));
  if (vip.preferred_lft !== undefined) {
    const ci = Buffer.alloc(16); // ifa_cacheinfo: prefered, valid, cstamp, tstamp
    ci.writeUInt32LE(vip.preferred_lft === 'forever' ? INFINITY_LIFE_TIME : vip.preferred_lft >>> 0, 0);
    ci.writeUInt32LE(INFINITY_LIFE_TIME, 4);
    attrs.push(attr.bytes(IFA_CACHEINFO, ci));
  }
  if (flags !== 0) attrs.push(attr.u32(IFA_FLAGS, flags));
  return {
    type: RTM_NEWADDR,
    flags: NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
    header: ifaddrmsg({ family: v4 ? AF_INET : AF_INET6, prefixlen: vip.prefix, flags, scope: vipScope(vip), index }),
    attrs,
  };
}

/** RTM_DELADDR for `vip` on interface `index`: matched on address, prefix and peer (not the label). */
export function delAddrRequest(vip: Vip, index: number): Request {
  const v4 = isIP(vip.address) === 4;
  return {
    type: RTM_DELADDR,
    flags: NLM_F_ACK,
    header: ifaddrmsg({ family: v4 ? AF_INET : AF_INET6, prefixlen: vip.prefix, index }),
    attrs: identityAttrs(vip),
  };
}

/** RTM_GETADDR dump of every address of `family` (AF_UNSPEC: both). */
export function getAddrDumpRequest(family: number = AF_UNSPEC): Request {
  return { type: RTM_GETADDR, flags: NLM_F_DUMP, header: ifaddrmsg({ family, prefixlen: 0, index: 0 }) };
}

/** One address of an RTM_GETADDR dump (or an RTM_NEWADDR notification). */
export interface KernelAddress {
  family: 4 | 6;
  index: number;
  /** the interface's own address (IFA_LOCAL, or IFA_ADDRESS when there is no IFA_LOCAL) */
  local: string;
  prefixlen: number;
  /** the peer, when IFA_ADDRESS differs from IFA_LOCAL */
  peer?: string;
  broadcast?: string;
  label?: string;
  scope: number;
  /** IFA_FLAGS (u32) when present, else the header's 8 bits */
  flags: number;
  /** ifa_cacheinfo lifetimes in seconds (0xffffffff = forever) */
  preferredLft?: number;
  validLft?: number;
}

/** Canonical text of a 4- or 16-byte address (RFC 5952 for IPv6, as `ip` prints it). */
export function formatAddress(b: Uint8Array): string {
  if (b.length === 4) return formatIpv4(b);
  if (b.length !== 16) throw new TypeError(`address of ${b.length} bytes`);
  return formatIpv6(b);
}

/**
 * Parses one RTM_NEWADDR message; undefined for another type or a family other than IPv4/IPv6.
 * Throws NetlinkDecodeError (and nothing else) on one it cannot read: an ifaddrmsg shorter than
 * 8 bytes, an attribute that runs past the message or is shorter than its type.
 */
export function parseAddrMessage(m: NlMessage): KernelAddress | undefined {
  if (m.type !== RTM_NEWADDR) return undefined;
  if (m.payload.length < 8) throw new NetlinkDecodeError(`RTM_NEWADDR of ${m.payload.length} bytes cannot hold its 8-byte ifaddrmsg`);
  const family = m.payload.readUInt8(0);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const a = parseAttrs(m.payload.subarray(8));
  const alen = family === AF_INET ? 4 : 16;
  const names: Record<number, string> = { [IFA_ADDRESS]: 'IFA_ADDRESS', [IFA_LOCAL]: 'IFA_LOCAL', [IFA_BROADCAST]: 'IFA_BROADCAST' };
  const bytes = (t: number) => {
    const v = a.get(t);
    return v ? formatAddress(fixed(v, alen, names[t]!).subarray(0, alen)) : undefined;
  };
  const localAttr = bytes(IFA_LOCAL);
  const addressAttr = bytes(IFA_ADDRESS);
  const local = localAttr ?? addressAttr;
  if (local === undefined) return undefined;
  const out: KernelAddress = {
    family: family === AF_INET ? 4 : 6,
    prefixlen: m.payload.readUInt8(1),
    flags: m.payload.readUInt8(2),
    scope: m.payload.readUInt8(3),
    index: m.payload.readUInt32LE(4),
    local,
  };
  if (localAttr !== undefined && addressAttr !== undefined && addressAttr !== localAttr) out.peer = addressAttr;
  const brd = bytes(IFA_BROADCAST);
  if (brd !== undefined) out.broadcast = brd;
  const label = a.get(IFA_LABEL);
  if (label) out.label = label.toString('utf8').replace(/\0.*$/s, '');
  const fl = a.get(IFA_FLAGS);
  if (fl) out.flags = attrValue.u32(fl, 'IFA_FLAGS');
  const ci = a.get(IFA_CACHEINFO);
  if (ci) {
    fixed(ci, 8, 'IFA_CACHEINFO'); // struct ifa_cacheinfo: ifa_prefered, ifa_valid first
    out.preferredLft = ci.readUInt32LE(0);
    out.validLft = ci.readUInt32LE(4);
  }
  return out;
}

/** Every address in the messages of a dump reply. */
export function parseAddrDump(messages: readonly NlMessage[]): KernelAddress[] {
  const out: KernelAddress[] = [];
  for (const m of messages) {
    const a = parseAddrMessage(m);
    if (a) out.push(a);
  }
  return out;
}

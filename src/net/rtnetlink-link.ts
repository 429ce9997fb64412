/**
 * rtnetlink beyond addresses, for the real-server side (src/realserver) and the director's ARP
 * probe: links (RTM_GETLINK / RTM_NEWLINK / RTM_DELLINK: does a tunnel device exist, create an
 * ipip / ip6tnl device, set it up or down), the default route (RTM_GETROUTE dump) and the
 * neighbour table (RTM_GETNEIGH dump). The message builders and parsers are pure; `RtnlHost`
 * runs them over one NETLINK_ROUTE socket.
 */
import { formatMac } from './packet-socket.js';
import { attr, attrValue, errnoName, NETLINK_ROUTE, NetlinkClient, NetlinkError, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, parseAttrs, type NlMessage, type Request } from './netlink.js';
import { AF_INET, AF_INET6, AF_UNSPEC, formatAddress } from './rtnetlink-address.js';

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWROUTE = 24;
export const RTM_GETROUTE = 26;
export const RTM_NEWNEIGH = 28;
export const RTM_GETNEIGH = 30;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_LINKINFO = 18;
export const IFLA_INFO_KIND = 1;
export const IFF_UP = 0x1;

const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_TABLE = 15;
export const RT_TABLE_MAIN = 254;
const RTN_UNICAST = 1;

const NDA_DST = 1;
const NDA_LLADDR = 2;
/** NUD_INCOMPLETE | NUD_FAILED: entries without a usable MAC. */
const NUD_UNUSABLE = 0x01 | 0x20;

/** struct ifinfomsg: family, pad, type, index, flags, change (16 bytes). */
export function ifinfomsg(m: { family?: number; index?: number; flags?: number; change?: number }): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(m.family ?? AF_UNSPEC, 0);
  b.writeInt32LE(m.index ?? 0, 4);
  b.writeUInt32LE(m.flags ?? 0, 8);
  b.writeUInt32LE(m.change ?? 0, 12);
  return b;
}

export interface KernelLink {
  index: number;
  name: string;
  flags: number;
  up: boolean;
  /** IFLA_INFO_KIND ('ipip', 'ip6tnl', 'veth', ...); undefined for devices without one (lo, eth0 on hardware). */
  kind?: string;
  mac?: string;
}

/** RTM_GETLINK for one name (the kernel answers ENODEV when there is none). */
export function getLinkRequest(name: string): Request {
  return { type: RTM_GETLINK, flags: NLM_F_ACK, header: ifinfomsg({}), attrs: [attr.str(IFLA_IFNAME, name)] };
}

/** RTM_NEWLINK creating a device of `kind` ('ipip', 'ip6tnl') named `name`, without remote or local: it receives from any peer. */
export function newLinkRequest(name: string, kind: string): Request {
  return {
    type: RTM_NEWLINK,
    flags: NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
    header: ifinfomsg({}),
    attrs: [attr.str(IFLA_IFNAME, name), attr.nested(IFLA_LINKINFO, [attr.str(IFLA_INFO_KIND, kind)])],
  };
}

/** RTM_NEWLINK changing only IFF_UP of `index`. */
export function setLinkUpRequest(index: number, up: boolean): Request {
  return { type: RTM_NEWLINK, flags: NLM_F_ACK, header: ifinfomsg({ index, flags: up ? IFF_UP : 0, change: IFF_UP }) };
}

export function delLinkRequest(index: number): Request {
  return { type: RTM_DELLINK, flags: NLM_F_ACK, header: ifinfomsg({ index }) };
}

export function parseLinkMessage(m: NlMessage): KernelLink | undefined {
  if (m.type !== RTM_NEWLINK || m.payload.length < 16) return undefined;
  const index = m.payload.readInt32LE(4);
  const flags = m.payload.readUInt32LE(8);
  const a = parseAttrs(m.payload.subarray(16));
  const name = a.get(IFLA_IFNAME)?.toString('utf8').replace(/\0.*$/s, '');
  if (name === undefined) return undefined;
  const out: KernelLink = { index, name, flags, up: (flags & IFF_UP) !== 0 };
  const info = a.get(IFLA_LINKINFO);
  const kind = info ? parseAttrs(info).get(IFLA_INFO_KIND) : undefined;
  if (kind) out.kind = kind.toString('utf8').replace(/\0.*$/s, '');
  const mac = a.get(IFLA_ADDRESS);
  if (mac?.length === 6) out.mac = formatMac(mac);
  return out;
}

/** RTM_GETROUTE dump of one family. */
export function getRouteDumpRequest(family: 4 | 6): Request {
  const rtmsg = Buffer.alloc(12);
  rtmsg.writeUInt8(family === 4 ? AF_INET : AF_INET6, 0);
  return { type: RTM_GETROUTE, flags: NLM_F_DUMP, header: rtmsg };
}

export interface KernelRoute {
  family: 4 | 6;
  dst?: string;
  dstLen: number;
  table: number;
  type: number;
  gateway?: string;
  oif?: number;
}

export function parseRouteMessage(m: NlMessage): KernelRoute | undefined {
  if (m.type !== RTM_NEWROUTE || m.payload.length < 12) return undefined;
  const fam = m.payload.readUInt8(0);
  if (fam !== AF_INET && fam !== AF_INET6) return undefined;
  const a = parseAttrs(m.payload.subarray(12));
  const alen = fam === AF_INET ? 4 : 16;
  const addr = (t: number) => {
    const v = a.get(t);
    return v && v.length >= alen ? formatAddress(v.subarray(0, alen)) : undefined;
  };
  const tableAttr = a.get(RTA_TABLE);
  const out: KernelRoute = {
    family: fam === AF_INET ? 4 : 6,
    dstLen: m.payload.readUInt8(1),
    table: tableAttr ? attrValue.u32(tableAttr, 'RTA_TABLE') : m.payload.readUInt8(4),
    type: m.payload.readUInt8(7),
  };
  const dst = addr(RTA_DST);
  if (dst) out.dst = dst;
  const gw = addr(RTA_GATEWAY);
  if (gw) out.gateway = gw;
  const oif = a.get(RTA_OIF);
  if (oif) out.oif = attrValue.u32(oif, 'RTA_OIF');
  return out;
}

/** The default routes of the main table (unicast, dst_len 0). */
export function defaultRoutes(routes: readonly KernelRoute[]): KernelRoute[] {
  return routes.filter((r) => r.dstLen === 0 && r.table === RT_TABLE_MAIN && r.type === RTN_UNICAST);
}

export interface KernelNeighbour {
  family: 4 | 6;
  index: number;
  address: string;
  mac: string;
  state: number;
}

export function getNeighDumpRequest(): Request {
  return { type: RTM_GETNEIGH, flags: NLM_F_DUMP, header: Buffer.alloc(12) };
}

export function parseNeighMessage(m: NlMessage): KernelNeighbour | undefined {
  if (m.type !== RTM_NEWNEIGH || m.payload.length < 12) return undefined;
  const fam = m.payload.readUInt8(0);
  if (fam !== AF_INET && fam !== AF_INET6) return undefined;
  const state = m.payload.readUInt16LE(8);
  if (state & NUD_UNUSABLE) return undefined;
  const a = parseAttrs(m.payload.subarray(12));
  const dst = a.get(NDA_DST);
  const ll = a.get(NDA_LLADDR);
  const alen = fam === AF_INET ? 4 : 16;
  if (!dst || dst.length < alen || !ll || ll.length !== 6) return undefined;
  return { family: fam === AF_INET ? 4 : 6, index: m.payload.readInt32LE(4), address: formatAddress(dst.subarray(0, alen)), mac: formatMac(ll), state };
}

const ENODEV = 19;
const EEXIST = 17;

/** Links, routes and neighbours over one NETLINK_ROUTE socket (synchronous: a CLI's few calls). */
export class RtnlHost {
  readonly #nl: NetlinkClient;

  constructor(client?: NetlinkClient) {
    this.#nl = client ?? NetlinkClient.open(NETLINK_ROUTE);
  }

  #one(req: Request, what: string, benign: readonly number[] = []) {
    const [r] = this.#nl.requestSync([req]);
    if (r && r.errno !== 0 && !benign.includes(r.errno)) throw new NetlinkError(r.errno, errnoName(r.errno), r.seq, r.extack, what);
    return r;
  }

  /** The link named `name`, or undefined when there is none. */
  link(name: string): KernelLink | undefined {
    const r = this.#one(getLinkRequest(name), `link show ${name}`, [ENODEV]);
    if (!r || r.errno === ENODEV) return undefined;
    for (const m of r.messages) {
      const l = parseLinkMessage(m);
      if (l) return l;
    }
    return undefined;
  }

  /**
   * Creates `name` of `kind`. Loading the ipip (ip6_tunnel) module creates its fallback device
   * tunl0 (ip6tnl0) in every namespace, so an EEXIST for that name means it now exists: fine.
   */
  createLink(name: string, kind: string): void {
    this.#one(newLinkRequest(name, kind), `link add ${name} type ${kind}`, [EEXIST]);
  }

  setUp(name: string, up: boolean): void {
    const l = this.link(name);
    if (!l) throw new Error(`link set ${name} ${up ? 'up' : 'down'}: Cannot find device "${name}"`);
    this.#one(setLinkUpRequest(l.index, up), `link set ${name} ${up ? 'up' : 'down'}`);
  }

  deleteLink(name: string): void {
    const l = this.link(name);
    if (l) this.#one(delLinkRequest(l.index), `link del ${name}`, [ENODEV]);
  }

  routes(family: 4 | 6): KernelRoute[] {
    const r = this.#one(getRouteDumpRequest(family), `route show (IPv${family})`);
    return (r?.messages ?? []).flatMap((m) => parseRouteMessage(m) ?? []);
  }

  neighbours(): KernelNeighbour[] {
    const r = this.#one(getNeighDumpRequest(), 'neigh show');
    return (r?.messages ?? []).flatMap((m) => parseNeighMessage(m) ?? []);
  }

  close(): void {
    this.#nl.close();
  }
}

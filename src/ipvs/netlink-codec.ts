// IPVS over generic netlink, the pure half: operations → request messages, dump replies → the
// model (src/ipvs/model.ts). No socket here (src/ipvs/netlink.ts does the I/O), so every byte is
// unit-tested on a host without IP_VS (netlink-codec.test.ts).
//
// The wire format is the kernel's (linux/ip_vs.h, net/netfilter/ipvs/ip_vs_ctl.c):
// - a service is the nested IPVS_CMD_ATTR_SERVICE: AF (u16) plus FWMARK (u32), or PROTOCOL (u16),
//   ADDR (4 or 16 bytes) and PORT (be16). NEW/SET also need SCHED_NAME, FLAGS (struct ip_vs_flags:
//   flags and mask, host order), TIMEOUT (u32, s) and NETMASK (IPv4: the mask's 4 bytes in network
//   order; IPv6: the prefix length as a host-order u32); PE_NAME is optional and absent clears it.
// - a destination is the nested IPVS_CMD_ATTR_DEST: ADDR, PORT (be16), ADDR_FAMILY (u16); NEW/SET
//   also need FWD_METHOD, WEIGHT, U_THRESH, L_THRESH (u32) and, for tunnels, TUN_TYPE (u8),
//   TUN_PORT (be16), TUN_FLAGS (u16). Dumps add ACTIVE_CONNS and INACT_CONNS.
// - as ipvsadm does (the kernel does not), a DR or TUN destination of an address service takes the
//   service's port on add and edit, so both backends leave the same table.
import { attr, attrValue, encodeAttrs, genlHeader, NetlinkDecodeError, NLM_F_ACK, NLM_F_DUMP, parseAttrs, type Attr, type NlMessage, type Request } from '../net/netlink.js';
import { formatIpv6Ntop, ipBytes } from '../vocab/ip.js';
import type { IpvsTimeouts, SyncDaemon } from './backend.js';
import type { Operation } from './diff.js';
import {
  addressFamily,
  canonicalAddress,
  defaultNetmask,
  serviceFamily,
  type Dest,
  type Family,
  type Forwarding,
  type Protocol,
  type SchedFlag,
  type ServiceId,
  type ServiceSpec,
  type Tunnel,
} from './model.js';

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

export const IPVS_CMD = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  NEW_DAEMON: 9,
  DEL_DAEMON: 10,
  GET_DAEMON: 11,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  FLUSH: 17,
} as const;

const CMD_ATTR = { SERVICE: 1, DEST: 2, DAEMON: 3, TIMEOUT_TCP: 4, TIMEOUT_TCP_FIN: 5, TIMEOUT_UDP: 6 } as const;
export const SVC_ATTR = { AF: 1, PROTOCOL: 2, ADDR: 3, PORT: 4, FWMARK: 5, SCHED_NAME: 6, FLAGS: 7, TIMEOUT: 8, NETMASK: 9, STATS: 10, PE_NAME: 11 } as const;
export const DEST_ATTR = {
  ADDR: 1,
  PORT: 2,
  FWD_METHOD: 3,
  WEIGHT: 4,
  U_THRESH: 5,
  L_THRESH: 6,
  ACTIVE_CONNS: 7,
  INACT_CONNS: 8,
  PERSIST_CONNS: 9,
  STATS: 10,
  ADDR_FAMILY: 11,
  TUN_TYPE: 13,
  TUN_PORT: 14,
  TUN_FLAGS: 15,
} as const;
const DAEMON_ATTR = { STATE: 1, MCAST_IFN: 2, SYNC_ID: 3, SYNC_MAXLEN: 4, MCAST_GROUP: 5, MCAST_GROUP6: 6, MCAST_PORT: 7, MCAST_TTL: 8 } as const;

export const AF_INET = 2;
export const AF_INET6 = 10;
const PROTO_NUM: Record<Protocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };
const PROTO_NAME = new Map<number, Protocol>([
  [6, 'TCP'],
  [17, 'UDP'],
  [132, 'SCTP'],
]);

// IP_VS_SVC_F_*
const F_PERSISTENT = 0x1;
const F_ONEPACKET = 0x4;
const SCHED_FLAG_BITS: Record<SchedFlag, number> = { 'flag-1': 0x8, 'flag-2': 0x10, 'flag-3': 0x20 };

// IP_VS_CONN_F_* forwarding methods
const FWD_NUM: Record<Forwarding, number> = { NAT: 0, TUN: 2, DR: 3 };
const TUN_TYPE_NUM: Record<Tunnel['type'], number> = { ipip: 0, gue: 1, gre: 2 };
const TUN_TYPE_NAME: Tunnel['type'][] = ['ipip', 'gue', 'gre'];
const TUN_F_CSUM = 0x1;
const TUN_F_REMCSUM = 0x2;

const familyNum = (f: Family) => (f === 'inet6' ? AF_INET6 : AF_INET);

// ---------------------------------------------------------------- addresses

/** 4 bytes for IPv4, 16 for IPv6, network order. */
export function addressBytes(address: string): Buffer {
  return ipBytes(address);
}

/** The address in `buf` (the kernel sends 16 bytes for either family), canonical. NetlinkDecodeError if it is short. */
export function bytesToAddress(buf: Buffer, family: Family): string {
  if (family === 'inet') {
    if (buf.length < 4) throw new NetlinkDecodeError(`IPv4 address attribute of ${buf.length} bytes`);
    return `${buf[0]}.${buf[1]}.${buf[2]}.${buf[3]}`;
  }
  if (buf.length < 16) throw new NetlinkDecodeError(`IPv6 address attribute of ${buf.length} bytes`);
  return formatIpv6Ntop(buf);
}

// ---------------------------------------------------------------- encoding

/** The attributes that identify a service (all that DEL_SERVICE and GET_DEST need). */
export function serviceKeyAttrs(id: ServiceId): Attr[] {
  if (id.kind === 'fwmark') return [attr.u16(SVC_ATTR.AF, familyNum(id.family)), attr.u32(SVC_ATTR.FWMARK, id.fwmark)];
  return [
    attr.u16(SVC_ATTR.AF, familyNum(addressFamily(id.address))),
    attr.u16(SVC_ATTR.PROTOCOL, PROTO_NUM[id.protocol]),
    attr.bytes(SVC_ATTR.ADDR, addressBytes(id.address)),
    attr.be16(SVC_ATTR.PORT, id.port),
  ];
}

function netmaskAttr(id: ServiceId, netmask: string): Attr {
  if (serviceFamily(id) === 'inet6') return attr.u32(SVC_ATTR.NETMASK, Number(netmask));
  return attr.bytes(SVC_ATTR.NETMASK, addressBytes(netmask));
}

/** Key plus every settable field (NEW_SERVICE, SET_SERVICE: the kernel wants them all). */
export function serviceAttrs(id: ServiceId, spec: ServiceSpec): Attr[] {
  let flags = 0;
  for (const f of spec.flags) flags |= SCHED_FLAG_BITS[f];
  if (spec.ops) flags |= F_ONEPACKET;
  if (spec.persistence) flags |= F_PERSISTENT;
  const fl = Buffer.alloc(8);
  fl.writeUInt32LE(flags >>> 0, 0);
  fl.writeUInt32LE(0xffffffff, 4); // mask: every flag is set from this message
  const out = [
    ...serviceKeyAttrs(id),
    attr.str(SVC_ATTR.SCHED_NAME, spec.scheduler),
    attr.bytes(SVC_ATTR.FLAGS, fl),
    attr.u32(SVC_ATTR.TIMEOUT, spec.persistence?.timeout ?? 0),
    netmaskAttr(id, spec.persistence?.netmask ?? defaultNetmask(serviceFamily(id))),
  ];
  if (spec.pe) out.push(attr.str(SVC_ATTR.PE_NAME, spec.pe));
  return out;
}

/** The port the kernel will hold: ipvsadm gives DR/TUN destinations of an address service its port. */
export function effectiveDestPort(service: ServiceId, dest: { port: number; forwarding?: Forwarding }): number {
  return service.kind === 'addr' && dest.forwarding !== undefined && dest.forwarding !== 'NAT' ? service.port : dest.port;
}

/** Identity attributes of a destination (DEL_DEST). */
export function destKeyAttrs(d: { address: string; port: number }): Attr[] {
  return [
    attr.bytes(DEST_ATTR.ADDR, addressBytes(d.address)),
    attr.be16(DEST_ATTR.PORT, d.port),
    attr.u16(DEST_ATTR.ADDR_FAMILY, familyNum(addressFamily(d.address))),
  ];
}

/** Key plus every settable field (NEW_DEST, SET_DEST). */
export function destAttrs(service: ServiceId, d: Dest): Attr[] {
  const out = [
    ...destKeyAttrs({ address: d.address, port: effectiveDestPort(service, d) }),
    attr.u32(DEST_ATTR.FWD_METHOD, FWD_NUM[d.forwarding]),
    attr.u32(DEST_ATTR.WEIGHT, d.weight),
    attr.u32(DEST_ATTR.U_THRESH, d.uthreshold),
    attr.u32(DEST_ATTR.L_THRESH, d.lthreshold),
  ];
  if (d.forwarding === 'TUN') {
    const t = d.tunnel ?? { type: 'ipip' };
    out.push(attr.u8(DEST_ATTR.TUN_TYPE, TUN_TYPE_NUM[t.type]));
    out.push(attr.be16(DEST_ATTR.TUN_PORT, t.type === 'gue' ? (t.port ?? 0) : 0));
    out.push(attr.u16(DEST_ATTR.TUN_FLAGS, t.type === 'ipip' ? 0 : t.csum === 'csum' ? TUN_F_CSUM : t.csum === 'remcsum' ? TUN_F_REMCSUM : 0));
  }
  return out;
}

function ipvsRequest(family: number, cmd: number, attrs: Attr[], flags = NLM_F_ACK): Request {
  return { type: family, flags, header: genlHeader(cmd, IPVS_GENL_VERSION), attrs };
}

/** The request for one operation (with NLM_F_ACK, so every operation gets its own answer). */
export function operationRequest(family: number, o: Operation): Request {
  switch (o.op) {
    case 'add-service':
    case 'edit-service':
      return ipvsRequest(family, o.op === 'add-service' ? IPVS_CMD.NEW_SERVICE : IPVS_CMD.SET_SERVICE, [attr.nested(CMD_ATTR.SERVICE, serviceAttrs(o.service, o.spec))]);
    case 'delete-service':
      return ipvsRequest(family, IPVS_CMD.DEL_SERVICE, [attr.nested(CMD_ATTR.SERVICE, serviceKeyAttrs(o.service))]);
    case 'add-dest':
    case 'edit-dest':
      return ipvsRequest(family, o.op === 'add-dest' ? IPVS_CMD.NEW_DEST : IPVS_CMD.SET_DEST, [
        attr.nested(CMD_ATTR.SERVICE, serviceKeyAttrs(o.service)),
        attr.nested(CMD_ATTR.DEST, destAttrs(o.service, o.dest)),
      ]);
    case 'delete-dest':
      return ipvsRequest(family, IPVS_CMD.DEL_DEST, [attr.nested(CMD_ATTR.SERVICE, serviceKeyAttrs(o.service)), attr.nested(CMD_ATTR.DEST, destKeyAttrs(o.dest))]);
  }
}

// ---------------------------------------------------------------- batches

const HEADERS = new Map<number, Uint8Array>();
function sharedHeader(cmd: number): Uint8Array {
  let h = HEADERS.get(cmd);
  if (!h) HEADERS.set(cmd, (h = genlHeader(cmd, IPVS_GENL_VERSION)));
  return h;
}

/** Writes one attribute header at `off`; returns where its value starts. */
function tlv(b: Buffer, off: number, type: number, valueLen: number): number {
  b.writeUInt16LE(4 + valueLen, off);
  b.writeUInt16LE(type, off + 2);
  return off + 4;
}

/** IPv4 bytes without a regex or an array (the batch encoder's hot path). */
function writeAddress(b: Buffer, off: number, address: string): void {
  if (address.includes(':')) {
    addressBytes(address).copy(b, off);
    return;
  }
  let v = 0;
  let k = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 46) {
      b[off + k++] = v;
      v = 0;
    } else v = v * 10 + (c - 48);
  }
  b[off + k] = v;
}

/**
 * The nested destination attributes as bytes, written in one pass: the same bytes as
 * `encodeAttrs(destAttrs(...))` / `encodeAttrs(destKeyAttrs(...))` (tested), without the garbage.
 */
export function encodeDest(service: ServiceId, d: Dest | { address: string; port: number }, full: boolean): Buffer {
  const v6 = d.address.includes(':');
  const alen = v6 ? 16 : 4;
  const dd = full ? (d as Dest) : undefined;
  const tun = dd?.forwarding === 'TUN';
  const size = 4 + alen + 8 + 8 + (dd ? 32 : 0) + (tun ? 24 : 0);
  const b = Buffer.alloc(size);
  let off = tlv(b, 0, DEST_ATTR.ADDR, alen);
  writeAddress(b, off, d.address);
  off += alen;
  off = tlv(b, off, DEST_ATTR.PORT, 2);
  b.writeUInt16BE(dd ? effectiveDestPort(service, dd) : d.port, off);
  off = tlv(b, off + 4, DEST_ATTR.ADDR_FAMILY, 2);
  b.writeUInt16LE(v6 ? AF_INET6 : AF_INET, off);
  off += 4;
  if (dd) {
    off = tlv(b, off, DEST_ATTR.FWD_METHOD, 4);
    b.writeUInt32LE(FWD_NUM[dd.forwarding], off);
    off = tlv(b, off + 4, DEST_ATTR.WEIGHT, 4);
    b.writeUInt32LE(dd.weight >>> 0, off);
    off = tlv(b, off + 4, DEST_ATTR.U_THRESH, 4);
    b.writeUInt32LE(dd.uthreshold >>> 0, off);
    off = tlv(b, off + 4, DEST_ATTR.L_THRESH, 4);
    b.writeUInt32LE(dd.lthreshold >>> 0, off);
    off += 4;
    if (tun) {
      const t = dd.tunnel ?? { type: 'ipip' as const };
      off = tlv(b, off, DEST_ATTR.TUN_TYPE, 1);
      b[off] = TUN_TYPE_NUM[t.type];
      off = tlv(b, off + 4, DEST_ATTR.TUN_PORT, 2);
      b.writeUInt16BE(t.type === 'gue' ? (t.port ?? 0) : 0, off);
      off = tlv(b, off + 4, DEST_ATTR.TUN_FLAGS, 2);
      b.writeUInt16LE(t.type === 'ipip' ? 0 : t.csum === 'csum' ? TUN_F_CSUM : t.csum === 'remcsum' ? TUN_F_REMCSUM : 0, off);
    }
  }
  return b;
}

/**
 * The requests for a whole plan. Same messages as `operationRequest` one by one (tested), but each
 * service's key is encoded once and each destination in one pass: a 10 000-destination converge
 * spends its time in the kernel, not in building attribute objects.
 */
export function operationRequests(family: number, ops: readonly Operation[]): Request[] {
  const keys = new Map<string, Attr>();
  const svcKey = (id: ServiceId): Attr => {
    const k = id.kind === 'fwmark' ? `f${id.fwmark}/${id.family}` : `${id.protocol}/${id.address}/${id.port}`;
    let a = keys.get(k);
    if (!a) keys.set(k, (a = { type: CMD_ATTR.SERVICE | 0x8000, value: encodeAttrs(serviceKeyAttrs(id)) }));
    return a;
  };
  return ops.map((o): Request => {
    switch (o.op) {
      case 'add-dest':
      case 'edit-dest':
      case 'delete-dest':
        return {
          type: family,
          flags: NLM_F_ACK,
          header: sharedHeader(o.op === 'add-dest' ? IPVS_CMD.NEW_DEST : o.op === 'edit-dest' ? IPVS_CMD.SET_DEST : IPVS_CMD.DEL_DEST),
          attrs: [svcKey(o.service), { type: CMD_ATTR.DEST | 0x8000, value: encodeDest(o.service, o.dest, o.op !== 'delete-dest') }],
        };
      case 'delete-service':
        return { type: family, flags: NLM_F_ACK, header: sharedHeader(IPVS_CMD.DEL_SERVICE), attrs: [svcKey(o.service)] };
      default:
        return operationRequest(family, o);
    }
  });
}

export const dumpServicesRequest = (family: number): Request => ipvsRequest(family, IPVS_CMD.GET_SERVICE, [], NLM_F_DUMP);
export const dumpDestsRequest = (family: number, id: ServiceId): Request => ipvsRequest(family, IPVS_CMD.GET_DEST, [attr.nested(CMD_ATTR.SERVICE, serviceKeyAttrs(id))], NLM_F_DUMP);
export const flushRequest = (family: number): Request => ipvsRequest(family, IPVS_CMD.FLUSH, []);
export const dumpDaemonsRequest = (family: number): Request => ipvsRequest(family, IPVS_CMD.GET_DAEMON, [], NLM_F_DUMP);

const DAEMON_STATE = { master: 1, backup: 2 } as const;

export function startDaemonRequest(family: number, d: SyncDaemon): Request {
  const a: Attr[] = [attr.u32(DAEMON_ATTR.STATE, DAEMON_STATE[d.role]), attr.str(DAEMON_ATTR.MCAST_IFN, d.interface), attr.u32(DAEMON_ATTR.SYNC_ID, d.syncid)];
  if (d.maxlen !== undefined) a.push(attr.u16(DAEMON_ATTR.SYNC_MAXLEN, d.maxlen));
  if (d.group !== undefined) a.push(attr.bytes(addressFamily(d.group) === 'inet6' ? DAEMON_ATTR.MCAST_GROUP6 : DAEMON_ATTR.MCAST_GROUP, addressBytes(d.group)));
  if (d.port !== undefined) a.push(attr.u16(DAEMON_ATTR.MCAST_PORT, d.port));
  if (d.ttl !== undefined) a.push(attr.u8(DAEMON_ATTR.MCAST_TTL, d.ttl));
  return ipvsRequest(family, IPVS_CMD.NEW_DAEMON, [attr.nested(CMD_ATTR.DAEMON, a)]);
}

/** IPVS_CMD_SET_CONFIG with the three timeouts (u32 seconds; the kernel leaves a 0 unchanged). */
export function setTimeoutsRequest(family: number, t: IpvsTimeouts): Request {
  return ipvsRequest(family, IPVS_CMD.SET_CONFIG, [attr.u32(CMD_ATTR.TIMEOUT_TCP, t.tcp), attr.u32(CMD_ATTR.TIMEOUT_TCP_FIN, t.tcpfin), attr.u32(CMD_ATTR.TIMEOUT_UDP, t.udp)]);
}

/** IPVS_CMD_GET_CONFIG: the kernel answers with one message holding the three timeouts. */
export const getTimeoutsRequest = (family: number): Request => ipvsRequest(family, IPVS_CMD.GET_CONFIG, []);

export function stopDaemonRequest(family: number, role: SyncDaemon['role']): Request {
  return ipvsRequest(family, IPVS_CMD.DEL_DAEMON, [attr.nested(CMD_ATTR.DAEMON, [attr.u32(DAEMON_ATTR.STATE, DAEMON_STATE[role])])]);
}

// ---------------------------------------------------------------- decoding
//
// Every decoder throws NetlinkDecodeError, and nothing else, on a reply it cannot read: an
// attribute shorter than its type (as the kernel's nla_policy would refuse it), a message without
// its genl header, a service or destination without what identifies it. An absent optional
// attribute reads as 0 / ''.

const str = (b: Buffer | undefined) => (b ? b.toString('utf8').replace(/\0.*$/s, '') : '');
const u8 = (b: Buffer | undefined, what: string) => (b ? attrValue.u8(b, what) : 0);
const u16 = (b: Buffer | undefined, what: string) => (b ? attrValue.u16(b, what) : 0);
const u32 = (b: Buffer | undefined, what: string) => (b ? attrValue.u32(b, what) : 0);
const s32 = (b: Buffer | undefined, what: string) => (b ? attrValue.s32(b, what) : 0);
const be16 = (b: Buffer | undefined, what: string) => (b ? attrValue.be16(b, what) : 0);

export interface DecodedService {
  id: ServiceId;
  spec: ServiceSpec;
}

/** A service from the attributes nested in IPVS_CMD_ATTR_SERVICE. */
export function decodeService(buf: Buffer): DecodedService {
  const a = parseAttrs(buf);
  const family: Family = u16(a.get(SVC_ATTR.AF), 'IPVS_SVC_ATTR_AF') === AF_INET6 ? 'inet6' : 'inet';
  const fwmark = u32(a.get(SVC_ATTR.FWMARK), 'IPVS_SVC_ATTR_FWMARK');
  let id: ServiceId;
  if (fwmark) id = { kind: 'fwmark', fwmark, family };
  else {
    const pnum = u16(a.get(SVC_ATTR.PROTOCOL), 'IPVS_SVC_ATTR_PROTOCOL');
    const protocol = PROTO_NAME.get(pnum);
    if (!protocol) throw new NetlinkDecodeError(`IPVS service with unknown protocol ${pnum}`);
    const addr = a.get(SVC_ATTR.ADDR);
    if (!addr) throw new NetlinkDecodeError('IPVS service without an address');
    id = { kind: 'addr', protocol, address: bytesToAddress(addr, family), port: be16(a.get(SVC_ATTR.PORT), 'IPVS_SVC_ATTR_PORT') };
  }
  // struct ip_vs_flags: flags, then the mask (8 bytes)
  const flagsBuf = a.get(SVC_ATTR.FLAGS);
  const flags = flagsBuf ? attrValue.u32(flagsBuf, 'IPVS_SVC_ATTR_FLAGS') : 0;
  const spec: ServiceSpec = {
    scheduler: str(a.get(SVC_ATTR.SCHED_NAME)),
    flags: (Object.entries(SCHED_FLAG_BITS) as [SchedFlag, number][]).filter(([, bit]) => flags & bit).map(([f]) => f),
    ops: (flags & F_ONEPACKET) !== 0,
  };
  if (flags & F_PERSISTENT) {
    const nm = a.get(SVC_ATTR.NETMASK);
    const netmask = !nm ? defaultNetmask(family) : family === 'inet6' ? String(attrValue.u32(nm, 'IPVS_SVC_ATTR_NETMASK')) : bytesToAddress(nm, 'inet');
    spec.persistence = { timeout: u32(a.get(SVC_ATTR.TIMEOUT), 'IPVS_SVC_ATTR_TIMEOUT'), netmask };
  }
  const pe = str(a.get(SVC_ATTR.PE_NAME));
  if (pe) spec.pe = pe;
  return { id, spec };
}

/** A destination (with its connection counts) from the attributes nested in IPVS_CMD_ATTR_DEST. */
export function decodeDest(buf: Buffer, serviceFamilyDefault: Family): Dest {
  const a = parseAttrs(buf);
  const af = a.get(DEST_ATTR.ADDR_FAMILY);
  const family: Family = af ? (u16(af, 'IPVS_DEST_ATTR_ADDR_FAMILY') === AF_INET6 ? 'inet6' : 'inet') : serviceFamilyDefault;
  const addr = a.get(DEST_ATTR.ADDR);
  if (!addr) throw new NetlinkDecodeError('IPVS destination without an address');
  const fwd = u32(a.get(DEST_ATTR.FWD_METHOD), 'IPVS_DEST_ATTR_FWD_METHOD') & 0x7;
  const forwarding: Forwarding = fwd === 0 ? 'NAT' : fwd === 2 ? 'TUN' : 'DR'; // 1 (local node) shows as -g in ipvsadm
  const d: Dest = {
    address: bytesToAddress(addr, family),
    port: be16(a.get(DEST_ATTR.PORT), 'IPVS_DEST_ATTR_PORT'),
    forwarding,
    weight: s32(a.get(DEST_ATTR.WEIGHT), 'IPVS_DEST_ATTR_WEIGHT'),
    uthreshold: u32(a.get(DEST_ATTR.U_THRESH), 'IPVS_DEST_ATTR_U_THRESH'),
    lthreshold: u32(a.get(DEST_ATTR.L_THRESH), 'IPVS_DEST_ATTR_L_THRESH'),
  };
  if (forwarding === 'TUN') {
    const type = TUN_TYPE_NAME[u8(a.get(DEST_ATTR.TUN_TYPE), 'IPVS_DEST_ATTR_TUN_TYPE')] ?? 'ipip';
    const t: Tunnel = { type };
    if (type === 'gue') t.port = be16(a.get(DEST_ATTR.TUN_PORT), 'IPVS_DEST_ATTR_TUN_PORT');
    const tf = u16(a.get(DEST_ATTR.TUN_FLAGS), 'IPVS_DEST_ATTR_TUN_FLAGS');
    if (type !== 'ipip') {
      if (tf & TUN_F_REMCSUM) t.csum = 'remcsum';
      else if (tf & TUN_F_CSUM) t.csum = 'csum';
    }
    d.tunnel = t;
  }
  d.activeConns = u32(a.get(DEST_ATTR.ACTIVE_CONNS), 'IPVS_DEST_ATTR_ACTIVE_CONNS');
  d.inactiveConns = u32(a.get(DEST_ATTR.INACT_CONNS), 'IPVS_DEST_ATTR_INACT_CONNS');
  return d;
}

/** The top-level attributes of a generic netlink message (after the 4-byte genl header). */
function genlAttrs(m: NlMessage): Map<number, Buffer> {
  if (m.payload.length < 4) throw new NetlinkDecodeError(`IPVS reply of ${m.payload.length} bytes cannot hold its 4-byte genl header`);
  return parseAttrs(m.payload.subarray(4));
}

export function decodeServiceMessage(m: NlMessage): DecodedService {
  const s = genlAttrs(m).get(CMD_ATTR.SERVICE);
  if (!s) throw new NetlinkDecodeError('IPVS service reply without IPVS_CMD_ATTR_SERVICE');
  return decodeService(s);
}

export function decodeDestMessage(m: NlMessage, family: Family): Dest {
  const d = genlAttrs(m).get(CMD_ATTR.DEST);
  if (!d) throw new NetlinkDecodeError('IPVS destination reply without IPVS_CMD_ATTR_DEST');
  return decodeDest(d, family);
}

/** A sync daemon, with the fields ipvsadm -Ln --daemon shows (those that are set). */
export function decodeDaemonMessage(m: NlMessage): SyncDaemon | undefined {
  const nested = genlAttrs(m).get(CMD_ATTR.DAEMON);
  if (!nested) return undefined;
  const a = parseAttrs(nested);
  const state = u32(a.get(DAEMON_ATTR.STATE), 'IPVS_DAEMON_ATTR_STATE');
  if (state !== 1 && state !== 2) return undefined;
  const d: SyncDaemon = {
    role: state === 1 ? 'master' : 'backup',
    interface: str(a.get(DAEMON_ATTR.MCAST_IFN)),
    syncid: u32(a.get(DAEMON_ATTR.SYNC_ID), 'IPVS_DAEMON_ATTR_SYNC_ID'),
  };
  const maxlen = u16(a.get(DAEMON_ATTR.SYNC_MAXLEN), 'IPVS_DAEMON_ATTR_SYNC_MAXLEN');
  if (maxlen) d.maxlen = maxlen;
  const g6 = a.get(DAEMON_ATTR.MCAST_GROUP6);
  const g4 = a.get(DAEMON_ATTR.MCAST_GROUP);
  if (g6) d.group = bytesToAddress(g6, 'inet6');
  else if (g4) d.group = bytesToAddress(g4, 'inet');
  const port = u16(a.get(DAEMON_ATTR.MCAST_PORT), 'IPVS_DAEMON_ATTR_MCAST_PORT');
  if (port) d.port = port;
  const ttl = u8(a.get(DAEMON_ATTR.MCAST_TTL), 'IPVS_DAEMON_ATTR_MCAST_TTL');
  if (ttl) d.ttl = ttl;
  return d;
}

/** The IPVS_CMD_GET_CONFIG reply: TIMEOUT_TCP/TCP_FIN/UDP (u32 seconds; an absent one reads as 0). */
export function decodeTimeoutsMessage(m: NlMessage): IpvsTimeouts {
  const a = genlAttrs(m);
  return {
    tcp: u32(a.get(CMD_ATTR.TIMEOUT_TCP), 'IPVS_CMD_ATTR_TIMEOUT_TCP'),
    tcpfin: u32(a.get(CMD_ATTR.TIMEOUT_TCP_FIN), 'IPVS_CMD_ATTR_TIMEOUT_TCP_FIN'),
    udp: u32(a.get(CMD_ATTR.TIMEOUT_UDP), 'IPVS_CMD_ATTR_TIMEOUT_UDP'),
  };
}

// ---------------------------------------------------------------- errors in ipvsadm's words

const ERRNO = { EPERM: 1, ENOENT: 2, ESRCH: 3, EEXIST: 17, EINVAL: 22, ENOMEM: 12, EOPNOTSUPP: 95, EAFNOSUPPORT: 97, ENOPROTOOPT: 92, EMSGSIZE: 90 } as const;

/** What ipvsadm would say for a refused operation (libipvs's error table), else a generic text. */
export function refusalText(op: Operation['op'] | 'start-daemon' | 'stop-daemon', errno: number): string {
  const specific: Partial<Record<typeof op, Partial<Record<number, string>>>> = {
    'add-service': { [ERRNO.EEXIST]: 'Service already exists', [ERRNO.ENOENT]: 'Scheduler or persistence engine not found' },
    'edit-service': { [ERRNO.ESRCH]: 'No such service', [ERRNO.ENOENT]: 'Scheduler or persistence engine not found' },
    'delete-service': { [ERRNO.ESRCH]: 'No such service' },
    'add-dest': { [ERRNO.ESRCH]: 'Service not defined', [ERRNO.EEXIST]: 'Destination already exists' },
    'edit-dest': { [ERRNO.ESRCH]: 'Service not defined', [ERRNO.ENOENT]: 'No such destination' },
    'delete-dest': { [ERRNO.ESRCH]: 'Service not defined', [ERRNO.ENOENT]: 'No such destination' },
    'start-daemon': { [ERRNO.EEXIST]: 'Daemon has already run' },
    'stop-daemon': { [ERRNO.ESRCH]: 'No daemon is running' },
  };
  const generic: Record<number, string> = {
    [ERRNO.EPERM]: 'Permission denied (you must be root)',
    [ERRNO.EINVAL]: 'Invalid operation.  Possibly wrong module version, address not unicast, ...',
    [ERRNO.ENOPROTOOPT]: 'Protocol not available',
    [ERRNO.ENOMEM]: 'Memory allocation problem',
    [ERRNO.EOPNOTSUPP]: 'Operation not supported with IPv6',
    [ERRNO.EAFNOSUPPORT]: 'Operation not supported with specified address family',
    [ERRNO.EMSGSIZE]: 'Module is wrong version',
  };
  return specific[op]?.[errno] ?? generic[errno] ?? `error ${errno}`;
}

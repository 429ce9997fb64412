// The IPVS kernel table as plain data: services and their destinations (real servers).
//
// Identity and equality are separate (kube-proxy's VirtualServer.String() vs Equal):
// - a service is identified by `serviceKey(id)`: `TCP 10.0.0.1:80`, `UDP [2001:db8::1]:53`,
//   `SCTP 10.0.0.1:99`, `FWM 1 inet`, `FWM 7 inet6`;
// - a destination is identified inside its service by `destKey(d)`: `10.0.0.2:80`, `[2001:db8::2]:0`;
// - everything else (scheduler, flags, persistence, weight, thresholds, forwarding, tunnel) is a
//   settable field compared by `serviceSpecEqual` / `destSpecEqual`. `ipvsadm -E` / `-e` can change
//   every settable field in place, so a difference there is an edit, never a delete + add.
//
// Values are kept in the form `ipvsadm -Sn` prints them, after `normalizeService`/`normalizeDest`,
// so a table read from the kernel and a table computed from the config compare field by field.
import { isIP } from 'node:net';
import { ipFamily, ntopIp } from '../vocab/ip.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type Family = 'inet' | 'inet6';
/** Forwarding method: direct routing (-g), masquerading (-m), tunnelling (-i). */
export type Forwarding = 'DR' | 'NAT' | 'TUN';
/**
 * Scheduler flags as the kernel stores them (IP_VS_SVC_F_SCHED1..3). ipvsadm names them per
 * scheduler: flag-1 is sh-fallback / mh-fallback, flag-2 is sh-port / mh-port.
 */
export type SchedFlag = 'flag-1' | 'flag-2' | 'flag-3';
export type TunnelType = 'ipip' | 'gue' | 'gre';

/** Schedulers of Linux 6.1 (Debian 12); `twos` exists from Linux 6.2 on. */
export const KNOWN_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh', 'twos'] as const;

export type ServiceId =
  | { kind: 'addr'; protocol: Protocol; address: string; port: number }
  | { kind: 'fwmark'; fwmark: number; family: Family };

export interface Persistence {
  /** seconds, ≥ 1 */
  timeout: number;
  /** IPv4: a dotted netmask (`255.255.255.255` = per client); IPv6: a prefix length (`128`). */
  netmask: string;
}

/** The fields of a service that `ipvsadm -E` can change. */
export interface ServiceSpec {
  scheduler: string;
  flags: SchedFlag[];
  /** one-packet scheduling (UDP and fwmark services only) */
  ops: boolean;
  persistence?: Persistence;
  /** persistence engine, e.g. `sip` */
  pe?: string;
}

export interface Tunnel {
  type: TunnelType;
  /** destination port, gue only */
  port?: number;
  /** `csum` (gue, gre) or `remcsum` (gue); absent = no checksum (ipvsadm's default `--tun-nocsum`) */
  csum?: 'csum' | 'remcsum';
}

/** The fields of a destination that `ipvsadm -e` can change. */
export interface DestSpec {
  forwarding: Forwarding;
  weight: number;
  uthreshold: number;
  lthreshold: number;
  /** TUN only */
  tunnel?: Tunnel;
}

export interface Dest extends DestSpec {
  address: string;
  port: number;
  /** Transient kernel counters, read from `ipvsadm -Ln`; never part of equality. */
  activeConns?: number;
  inactiveConns?: number;
}

export interface Service extends ServiceSpec {
  id: ServiceId;
  dests: Dest[];
}

/** A whole IPVS table, sorted by service key (and each service's dests by dest key). */
export type IpvsTable = Service[];

// ---------------------------------------------------------------- addresses

/**
 * The address as `inet_ntop` (and so ipvsadm) prints it: IPv4 dotted quad, IPv6 lower case with
 * the longest run (≥ 2) of zero groups compressed (RFC 5952), `::ffff:a.b.c.d` for mapped addresses.
 */
export function canonicalAddress(address: string): string {
  let c = canonicalCache.get(address);
  if (c === undefined) {
    c = canonicalize(address);
    if (canonicalCache.size > 200_000) canonicalCache.clear();
    canonicalCache.set(address, c);
  }
  return c;
}

const canonicalCache = new Map<string, string>();

function canonicalize(address: string): string {
  const c = ntopIp(address);
  if (c === undefined) throw new TypeError(`Invalid IP address: '${address}'`);
  return c;
}

export function addressFamily(address: string): Family {
  // an IPv4 address never holds a colon: no parse for each of 37,300 destinations a run
  return address.includes(':') && ipFamily(address) === 6 ? 'inet6' : 'inet';
}

export function serviceFamily(id: ServiceId): Family {
  return id.kind === 'fwmark' ? id.family : addressFamily(id.address);
}

/** `10.0.0.1:80`, `[2001:db8::1]:80` */
export function hostPort(address: string, port: number): string {
  return address.includes(':') && isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

// ---------------------------------------------------------------- keys

export function serviceKey(id: ServiceId): string {
  return id.kind === 'fwmark' ? `FWM ${id.fwmark} ${id.family}` : `${id.protocol} ${hostPort(id.address, id.port)}`;
}

export function destKey(d: { address: string; port: number }): string {
  return hostPort(d.address, d.port);
}

export function sameServiceId(a: ServiceId, b: ServiceId): boolean {
  return serviceKey(a) === serviceKey(b);
}

/** Parses a key made by `serviceKey` back into an id. */
export function parseServiceKey(key: string): ServiceId {
  const m = /^FWM (\d+) (inet6?)$/.exec(key);
  if (m) return { kind: 'fwmark', fwmark: Number(m[1]), family: m[2] as Family };
  const a = /^(TCP|UDP|SCTP) (?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/.exec(key);
  if (!a) throw new SyntaxError(`Invalid service key: '${key}'`);
  return { kind: 'addr', protocol: a[1] as Protocol, address: canonicalAddress((a[2] ?? a[3]) as string), port: Number(a[4]) };
}

// ---------------------------------------------------------------- normalisation and equality

const FLAG_ORDER: SchedFlag[] = ['flag-1', 'flag-2', 'flag-3'];

export function defaultNetmask(family: Family): string {
  return family === 'inet6' ? '128' : '255.255.255.255';
}

/**
 * A persistence granularity in the form ipvsadm prints it: IPv4 → dotted mask (a prefix length
 * such as `24` is accepted too), IPv6 → prefix length (`/64` or `64`). Throws on nonsense.
 */
export function canonicalNetmask(mask: string | number | undefined, family: Family): string {
  if (mask === undefined || mask === '') return defaultNetmask(family);
  const text = String(mask).trim().replace(/^\//, '');
  if (family === 'inet6') {
    if (!/^\d{1,3}$/.test(text) || Number(text) < 1 || Number(text) > 128) {
      throw new RangeError(`Invalid IPv6 persistence granularity: '${String(mask)}' (want a prefix length 1..128)`);
    }
    return String(Number(text));
  }
  if (/^\d{1,2}$/.test(text) && Number(text) <= 32) {
    const n = Number(text);
    const bits = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
    return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join('.');
  }
  if (isIP(text) !== 4) throw new RangeError(`Invalid IPv4 persistence granularity: '${String(mask)}' (want a netmask like 255.255.255.0)`);
  return canonicalAddress(text);
}

export function normalizeFlags(flags: Iterable<string>): SchedFlag[] {
  const set = new Set<SchedFlag>();
  for (const f of flags) {
    switch (f) {
      case 'flag-1':
      case 'sh-fallback':
      case 'mh-fallback':
        set.add('flag-1');
        break;
      case 'flag-2':
      case 'sh-port':
      case 'mh-port':
        set.add('flag-2');
        break;
      case 'flag-3':
        set.add('flag-3');
        break;
      default:
        throw new RangeError(`Unknown scheduler flag: '${f}'`);
    }
  }
  return FLAG_ORDER.filter((f) => set.has(f));
}

function normalizeTunnel(t: Tunnel | undefined): Tunnel {
  const type = t?.type ?? 'ipip';
  const out: Tunnel = { type };
  if (type === 'gue' && t?.port !== undefined) out.port = t.port;
  if (type !== 'ipip' && t?.csum !== undefined) out.csum = t.csum;
  return out;
}

export function normalizeDest(d: Dest): Dest {
  const out: Dest = {
    address: canonicalAddress(d.address),
    port: d.port,
    forwarding: d.forwarding,
    weight: d.weight,
    uthreshold: d.uthreshold,
    lthreshold: d.lthreshold,
  };
  if (d.forwarding === 'TUN') out.tunnel = normalizeTunnel(d.tunnel);
  if (d.activeConns !== undefined) out.activeConns = d.activeConns;
  if (d.inactiveConns !== undefined) out.inactiveConns = d.inactiveConns;
  return out;
}

export function normalizeServiceId(id: ServiceId): ServiceId {
  return id.kind === 'fwmark' ? { kind: 'fwmark', fwmark: id.fwmark, family: id.family } : { ...id, address: canonicalAddress(id.address) };
}

export function normalizeSpec(id: ServiceId, s: ServiceSpec): ServiceSpec {
  const out: ServiceSpec = { scheduler: s.scheduler, flags: normalizeFlags(s.flags), ops: s.ops };
  if (s.persistence) out.persistence = { timeout: s.persistence.timeout, netmask: canonicalNetmask(s.persistence.netmask, serviceFamily(id)) };
  if (s.pe) out.pe = s.pe;
  return out;
}

export function normalizeService(s: Service): Service {
  const id = normalizeServiceId(s.id);
  const dests = sortByKey(s.dests.map(normalizeDest), destKey);
  return { id, ...normalizeSpec(id, s), dests };
}

/** Sorts by a string key computed once per element (decorate, sort, undecorate). */
export function sortByKey<T>(items: readonly T[], key: (x: T) => string): T[] {
  return items
    .map((x) => [key(x), x] as const)
    .sort((a, b) => compareKeys(a[0], b[0]))
    .map(([, x]) => x);
}

export function byDestKey(a: { address: string; port: number }, b: { address: string; port: number }): number {
  return compareKeys(destKey(a), destKey(b));
}

export function byServiceKey(a: { id: ServiceId }, b: { id: ServiceId }): number {
  return compareKeys(serviceKey(a.id), serviceKey(b.id));
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function normalizeTable(t: readonly Service[]): IpvsTable {
  return sortByKey(t.map(normalizeService), (s) => serviceKey(s.id));
}

/** Equal settable fields (what `ipvsadm -E` would change). Assumes normalised input. */
export function serviceSpecEqual(a: ServiceSpec, b: ServiceSpec): boolean {
  return (
    a.scheduler === b.scheduler &&
    a.ops === b.ops &&
    a.flags.length === b.flags.length &&
    a.flags.every((f, i) => b.flags[i] === f) &&
    (a.pe ?? '') === (b.pe ?? '') &&
    a.persistence?.timeout === b.persistence?.timeout &&
    a.persistence?.netmask === b.persistence?.netmask
  );
}

/** Equal settable fields (what `ipvsadm -e` would change). Assumes normalised input. */
export function destSpecEqual(a: DestSpec, b: DestSpec): boolean {
  return (
    a.forwarding === b.forwarding &&
    a.weight === b.weight &&
    a.uthreshold === b.uthreshold &&
    a.lthreshold === b.lthreshold &&
    a.tunnel?.type === b.tunnel?.type &&
    a.tunnel?.port === b.tunnel?.port &&
    a.tunnel?.csum === b.tunnel?.csum
  );
}

export function specOf(s: Service): ServiceSpec {
  const out: ServiceSpec = { scheduler: s.scheduler, flags: [...s.flags], ops: s.ops };
  if (s.persistence) out.persistence = { ...s.persistence };
  if (s.pe) out.pe = s.pe;
  return out;
}

export function destSpecOf(d: Dest): DestSpec {
  const out: DestSpec = { forwarding: d.forwarding, weight: d.weight, uthreshold: d.uthreshold, lthreshold: d.lthreshold };
  if (d.tunnel) out.tunnel = { ...d.tunnel };
  return out;
}

/** A dest without its transient counters. */
export function stripCounters(d: Dest): Dest {
  const { activeConns: _a, inactiveConns: _i, ...rest } = d;
  return rest;
}

/** Tables equal in everything but the transient counters. Assumes normalised input. */
export function tablesEqual(a: readonly Service[], b: readonly Service[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((s, i) => {
    const t = b[i];
    if (!t || serviceKey(s.id) !== serviceKey(t.id) || !serviceSpecEqual(s, t) || s.dests.length !== t.dests.length) return false;
    return s.dests.every((d, j) => {
      const e = t.dests[j];
      return !!e && destKey(d) === destKey(e) && destSpecEqual(d, e);
    });
  });
}

export function cloneTable(t: readonly Service[]): IpvsTable {
  return t.map((s) => ({ ...s, id: { ...s.id }, flags: [...s.flags], ...(s.persistence ? { persistence: { ...s.persistence } } : {}), dests: s.dests.map((d) => ({ ...d, ...(d.tunnel ? { tunnel: { ...d.tunnel } } : {}) })) }));
}

/** The services of `t` whose key is in `keys`. */
export function pickServices(t: readonly Service[], keys: ReadonlySet<string>): IpvsTable {
  return t.filter((s) => keys.has(serviceKey(s.id)));
}

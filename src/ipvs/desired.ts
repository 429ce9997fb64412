// Config + health state → the IPVS table vipkeeper wants. PURE: no I/O, no clock.
//
// Rules (keepalived 2.2.7 behaviour, checked against the real daemon in test/ipvs-parity.test.ts):
// - A `virtual_server` with an address is one service; `fwmark N` is one FWM service; `group NAME`
//   expands to one service per member of the virtual_server_group: every address of a range
//   (`10.0.0.3-10`, `ae00::2-9`) or prefix (`10.20.0.0/30`: network and broadcast included), each
//   with the entry's port (or the virtual server's), and one FWM service per `fwmark N [inet|inet6]`.
//   An entry that would expand to more than `maxGroupAddresses` (default 1024) addresses is cut
//   there with a warning.
// - Persistence: `persistence_timeout` (ms in the model) becomes whole seconds, rounded up; a
//   service with port 0 that is not fwmark is always persistent (360 s, as keepalived forces).
//   `persistence_granularity` becomes the netmask (IPv4 dotted, IPv6 prefix length).
// - `ops` is kept only on UDP and fwmark services (the kernel refuses it elsewhere).
// - Real servers come from BackendState, not from the config: a server listed there is present with
//   the weight given there (weight 0 stays present: that is how inhibit_on_failure works); a
//   server not listed is absent. The config supplies its forwarding method, tunnel and thresholds.
// - DR and TUN destinations take the service's port (keepalived: "ports don't match - resetting"):
//   the port of an address service, 0 for an fwmark service.
// - The sorry server is present with weight 1 while the pool is in 'sorry' mode; with
//   `sorry_server.inhibit` it stays present at weight 0 otherwise (keepalived's sorry_server_inhibit).
// - A destination of the other address family is dropped with a warning unless it is TUN.
import type { Config, RealServer, VirtualServer } from '../config/schema.js';
import { vsKey } from '../config/validate.js';
import { ipFromBigInt, ipToBigInt } from '../vocab/ip.js';
import {
  addressFamily,
  canonicalAddress,
  canonicalNetmask,
  destKey,
  normalizeFlags,
  serviceFamily,
  serviceKey,
  sortByKey,
  type Dest,
  type Family,
  type Forwarding,
  type IpvsTable,
  type Service,
  type ServiceId,
  type ServiceSpec,
  type Tunnel,
} from './model.js';

/** One real server the health checks consider present, with the weight to program. */
export interface PoolServer {
  address: string;
  /** defaults to the real server's port in the config, else the virtual server's */
  port?: number;
  weight: number;
}

/**
 * The health verdict for one virtual server:
 * - `real`: these real servers are in the pool (and the sorry server is out);
 * - `sorry`: quorum is lost, the sorry server is in. `servers` may still list real servers to keep
 *   (e.g. at weight 0 under inhibit_on_failure); keepalived removes the others.
 */
export type PoolState = { mode: 'real'; servers: readonly PoolServer[] } | { mode: 'sorry'; servers?: readonly PoolServer[] };

/** Per virtual server (key: `virtualServerId(vs)`), its pool. A virtual server missing here has an empty pool. */
export type BackendState = Readonly<Record<string, PoolState>>;

/** The identity of a virtual server in the config: `10.0.0.1 80 TCP`, `fwmark 1`, `group NAME`. */
export function virtualServerId(vs: VirtualServer): string {
  return vsKey(vs);
}

export const DEFAULT_MAX_GROUP_ADDRESSES = 1024;
/** keepalived forces this persistence on a port-0 service. */
export const PORT_ZERO_PERSISTENCE_S = 360;
/** keepalived's weight for an active sorry server. */
export const SORRY_WEIGHT = 1;

export interface DesiredOptions {
  maxGroupAddresses?: number;
}

export interface DesiredResult {
  table: IpvsTable;
  warnings: string[];
  /** service key → the virtual server id it came from */
  owners: Map<string, string>;
}

/** Every real server up at its configured weight (what keepalived programs when every check passes). */
export function allUp(config: Config): Record<string, PoolState> {
  const out: Record<string, PoolState> = {};
  for (const vs of config.virtual_servers) {
    out[virtualServerId(vs)] = {
      mode: 'real',
      servers: vs.real_servers.map((rs) => ({ address: rs.address, port: rsPort(vs, rs), weight: rs.weight ?? vs.weight })),
    };
  }
  return out;
}

function rsPort(vs: VirtualServer, rs: { port?: number | undefined }): number {
  return rs.port ?? vs.port ?? 0;
}

export function desiredTable(config: Config, state: BackendState, opts: DesiredOptions = {}): DesiredResult {
  const warnings: string[] = [];
  const owners = new Map<string, string>();
  const services = new Map<string, Service>();
  const max = opts.maxGroupAddresses ?? DEFAULT_MAX_GROUP_ADDRESSES;

  for (const vs of config.virtual_servers) {
    const id = virtualServerId(vs);
    const ids = serviceIds(config, vs, max, warnings);
    const pool = state[id] ?? { mode: 'real', servers: [] };
    const byAddress = new Map<string, RealServer[]>();
    for (const rs of vs.real_servers) {
      const a = canonicalAddress(rs.address);
      byAddress.set(a, [...(byAddress.get(a) ?? []), rs]);
    }
    for (const sid of ids) {
      const key = serviceKey(sid);
      const prev = owners.get(key);
      if (prev !== undefined) {
        warnings.push(`service ${key} of virtual server '${id}' is already defined by virtual server '${prev}'; the first one is kept`);
        continue;
      }
      const svc = buildService(vs, sid, pool, byAddress, warnings);
      owners.set(key, id);
      services.set(key, svc);
    }
  }
  return { table: sortByKey([...services.values()], (x) => serviceKey(x.id)), warnings, owners };
}

// ---------------------------------------------------------------- services

function fwmarkFamily(vs: VirtualServer, explicit: Family | undefined): Family {
  if (explicit) return explicit;
  if (vs.ip_family) return vs.ip_family;
  const nonTun = vs.real_servers.find((rs) => (rs.lvs_method ?? vs.lb_kind) !== 'TUN');
  return nonTun ? addressFamily(nonTun.address) : 'inet';
}

function serviceIds(config: Config, vs: VirtualServer, max: number, warnings: string[]): ServiceId[] {
  if (vs.fwmark !== undefined) return [{ kind: 'fwmark', fwmark: vs.fwmark, family: fwmarkFamily(vs, undefined) }];
  if (vs.address !== undefined) return [{ kind: 'addr', protocol: vs.protocol, address: canonicalAddress(vs.address), port: vs.port ?? 0 }];
  const name = vs.group ?? '';
  const entries = config.virtual_server_groups[name];
  if (!entries) {
    warnings.push(`virtual_server_group '${name}' does not exist; virtual server 'group ${name}' programs nothing`);
    return [];
  }
  const ids: ServiceId[] = [];
  for (const e of entries) {
    if ('fwmark' in e) {
      ids.push({ kind: 'fwmark', fwmark: e.fwmark, family: fwmarkFamily(vs, e.family) });
      continue;
    }
    const port = e.port ?? vs.port ?? 0;
    for (const address of expandEntry(e, max, name, warnings)) ids.push({ kind: 'addr', protocol: vs.protocol, address, port });
  }
  return ids;
}

/** The addresses of one group entry: a single address, `address`..`last`, or `address/prefix`. */
export function expandEntry(e: { address: string; last?: string | undefined; prefix?: number | undefined }, max: number, group = '', warnings: string[] = []): string[] {
  const fam = addressFamily(e.address);
  const bits = fam === 'inet6' ? 128 : 32;
  let first = toBig(e.address);
  let last = first;
  if (e.last !== undefined) last = toBig(e.last);
  else if (e.prefix !== undefined && e.prefix < bits) {
    const hostBits = BigInt(bits - e.prefix);
    first = (first >> hostBits) << hostBits;
    last = first + (1n << hostBits) - 1n;
  }
  if (last < first) {
    warnings.push(`virtual_server_group '${group}': range ${e.address}-${e.last ?? ''} ends before it starts; it programs nothing`);
    return [];
  }
  const count = last - first + 1n;
  if (count > BigInt(max)) {
    warnings.push(`virtual_server_group '${group}': entry ${e.address}${e.last ? `-${e.last}` : e.prefix !== undefined ? `/${e.prefix}` : ''} has ${count} addresses; only the first ${max} are programmed`);
    last = first + BigInt(max) - 1n;
  }
  const out: string[] = [];
  for (let a = first; a <= last; a++) out.push(fromBig(a, fam));
  return out;
}

const toBig = ipToBigInt;
const fromBig = (n: bigint, fam: Family): string => ipFromBigInt(n, fam === 'inet' ? 4 : 6);

function serviceSpec(vs: VirtualServer, id: ServiceId, warnings: string[]): ServiceSpec {
  const spec: ServiceSpec = { scheduler: vs.lb_algo, flags: normalizeFlags(vs.flags), ops: false };
  if (vs.ops) {
    if (id.kind === 'fwmark' || id.protocol === 'UDP') spec.ops = true;
    else warnings.push(`${serviceKey(id)}: ops (one-packet scheduling) works only on UDP and fwmark services; it is left off`);
  }
  let timeout = vs.persistence_timeout !== undefined && vs.persistence_timeout > 0 ? Math.ceil(vs.persistence_timeout / 1000) : 0;
  if (timeout === 0 && id.kind === 'addr' && id.port === 0) timeout = PORT_ZERO_PERSISTENCE_S;
  if (timeout > 0) {
    let netmask: string;
    try {
      netmask = canonicalNetmask(vs.persistence_granularity, serviceFamily(id));
    } catch (e) {
      warnings.push(`${serviceKey(id)}: ${(e as Error).message}; using the default`);
      netmask = canonicalNetmask(undefined, serviceFamily(id));
    }
    spec.persistence = { timeout, netmask };
  }
  if (vs.persistence_engine) spec.pe = vs.persistence_engine;
  return spec;
}

function buildService(vs: VirtualServer, id: ServiceId, pool: PoolState, byAddress: Map<string, RealServer[]>, warnings: string[]): Service {
  const spec = serviceSpec(vs, id, warnings);
  const dests = new Map<string, Dest>();
  const fam = serviceFamily(id);
  const add = (d: Dest, what: string) => {
    if (addressFamily(d.address) !== fam && d.forwarding !== 'TUN') {
      warnings.push(`${serviceKey(id)}: ${what} ${destKey(d)} is ${addressFamily(d.address)} but the service is ${fam}; only TUN can cross families, so it is left out`);
      return;
    }
    const k = destKey(d);
    if (!dests.has(k)) dests.set(k, d);
  };
  for (const s of pool.servers ?? []) {
    const address = canonicalAddress(s.address);
    const port = s.port ?? undefined;
    const rs = findRealServer(vs, byAddress.get(address) ?? [], port);
    const tunnel = rs?.lvs_method !== undefined ? rs.tunnel : vs.tunnel;
    add(makeDest(vs, id, address, port ?? (rs ? rsPort(vs, rs) : vs.port ?? 0), s.weight, rs?.lvs_method, tunnel, rs?.uthreshold, rs?.lthreshold), 'real server');
  }
  const sorry = vs.sorry_server;
  if (sorry && (pool.mode === 'sorry' || sorry.inhibit)) {
    const weight = pool.mode === 'sorry' ? SORRY_WEIGHT : 0;
    add(makeDest(vs, id, canonicalAddress(sorry.address), sorry.port ?? vs.port ?? 0, weight, sorry.lvs_method, sorry.lvs_method !== undefined ? undefined : vs.tunnel, 0, 0), 'sorry server');
  }
  return { id, ...spec, dests: sortByKey([...dests.values()], destKey) };
}

function findRealServer(vs: VirtualServer, same: RealServer[], port: number | undefined): RealServer | undefined {
  if (port === undefined) return same[0];
  return same.find((rs) => rsPort(vs, rs) === port) ?? same.find((rs) => rs.port === undefined);
}

function makeDest(
  vs: VirtualServer,
  id: ServiceId,
  address: string,
  port: number,
  weight: number,
  method: Forwarding | undefined,
  tunnel: VirtualServer['tunnel'],
  uthreshold: number | undefined,
  lthreshold: number | undefined,
): Dest {
  const forwarding = method ?? vs.lb_kind;
  const d: Dest = {
    address,
    // keepalived gives DR/TUN destinations the service's port: an address service's port (ipvsadm
    // does the same), 0 for an fwmark service (there ipvsadm would keep the port; the port of a
    // DR/TUN destination is never used by the kernel, but it is part of the destination's identity)
    port: forwarding === 'NAT' ? port : id.kind === 'addr' ? id.port : 0,
    forwarding,
    weight,
    uthreshold: uthreshold ?? 0,
    lthreshold: lthreshold ?? 0,
  };
  if (forwarding === 'TUN') {
    const t = tunnel;
    const out: Tunnel = { type: t?.type ?? 'ipip' };
    if (out.type === 'gue' && t?.port !== undefined) out.port = t.port;
    if (out.type !== 'ipip' && (t?.csum === 'csum' || t?.csum === 'remcsum')) out.csum = t.csum;
    d.tunnel = out;
  }
  return d;
}

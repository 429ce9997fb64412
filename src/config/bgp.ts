// The `bgp` section's cross-field rules and the one mapping both `check` and the daemon use:
// which virtual servers serve a VIP. Pure; called from validateConfig (one validation path for
// check, run and reload).
import { isIP } from 'node:net';
import { ipToBigInt, ntopIp } from '../vocab/ip.js';
import type { ModelIssue } from './validate.js';
import type { BgpPeer, BgpVipConfig, Config, VirtualServer } from './schema.js';

/** A VIP's host route: canonical address, family, prefix length (32 or 128). */
export interface BgpHostRoute {
  address: string;
  family: 4 | 6;
  /** `192.0.2.10/32`, `2001:db8::10/128` */
  prefix: string;
}

/** `192.0.2.10`, `192.0.2.10/32`, `2001:db8::10/128` → the host route; anything wider is refused. */
export function parseBgpPrefix(text: string): BgpHostRoute | { error: string } {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const fam = isIP(addr);
  if (fam === 0) return { error: `'${addr}' is not an IPv4 or IPv6 address` };
  const family = fam as 4 | 6;
  const max = family === 4 ? 32 : 128;
  if (slash >= 0 && text.slice(slash + 1) !== String(max)) {
    return { error: `'${text}' is not a host route; a VIP is announced as ADDRESS/${max} (write the address alone, or /${max})` };
  }
  const address = ntopIp(addr)!;
  return { address, family, prefix: `${address}/${max}` };
}

/** The effective name of a peer: its own, else `peer1`, `peer2`, ... by position. */
export function bgpPeerName(peer: BgpPeer, index: number): string {
  return peer.name ?? `peer${index + 1}`;
}

const toBig = ipToBigInt;

/** Whether a virtual_server_group address entry (single, range or prefix) holds `address`. */
function entryHolds(e: { address: string; last?: string | undefined; prefix?: number | undefined }, address: string): boolean {
  if (isIP(e.address) !== isIP(address)) return false;
  const a = toBig(address);
  let first = toBig(e.address);
  let last = first;
  const bits = isIP(address) === 4 ? 32 : 128;
  if (e.last !== undefined) last = toBig(e.last);
  else if (e.prefix !== undefined && e.prefix < bits) {
    const host = BigInt(bits - e.prefix);
    first = (first >> host) << host;
    last = first + (1n << host) - 1n;
  }
  return a >= first && a <= last;
}

/**
 * The virtual servers (indexes into config.virtual_servers) that serve a VIP: those at its
 * address, those whose virtual_server_group holds it, and the fwmark services the VIP names.
 */
export function vipVirtualServers(config: Config, vip: BgpVipConfig): number[] {
  const route = parseBgpPrefix(vip.prefix);
  if ('error' in route) return [];
  const out: number[] = [];
  config.virtual_servers.forEach((vs, i) => {
    if (serves(config, vs, route.address, vip.fwmarks)) out.push(i);
  });
  return out;
}

function serves(config: Config, vs: VirtualServer, address: string, fwmarks: readonly number[]): boolean {
  if (vs.address !== undefined) return isIP(vs.address) !== 0 && canonicalIpOrSame(vs.address) === address;
  if (vs.fwmark !== undefined) return fwmarks.includes(vs.fwmark);
  const entries = vs.group !== undefined ? (config.virtual_server_groups[vs.group] ?? []) : [];
  return entries.some((e) => ('fwmark' in e ? fwmarks.includes(e.fwmark) : entryHolds(e, address)));
}

/**
 * Schedulers whose choice depends on this director's own state (connection counts, a rotating
 * pointer, randomness): two directors send the same flow to different real servers, so a flow
 * that ECMP moves to another director breaks. mh/sh/dh hash the packet, fo picks by weight.
 */
const AFFINITY_BREAKING = new Set(['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'sed', 'nq', 'ovf', 'twos']);

export function validateBgp(config: Config): ModelIssue[] {
  const bgp = config.bgp;
  if (!bgp) return [];
  const issues: ModelIssue[] = [];
  const err = (path: (string | number)[], message: string) => issues.push({ severity: 'error', path: ['bgp', ...path], message });
  const warn = (path: (string | number)[], message: string) => issues.push({ severity: 'warning', path: ['bgp', ...path], message });

  const holdS = bgp.hold_time / 1000;
  if (!Number.isInteger(holdS) || holdS < 3 || holdS > 65535) err(['hold_time'], `hold_time ${holdS}s is not a whole number of seconds in 3..65535 (BGP, RFC 4271)`);
  if (bgp.keepalive_time !== undefined) {
    const kaS = bgp.keepalive_time / 1000;
    if (!Number.isInteger(kaS) || kaS < 1 || kaS >= holdS) err(['keepalive_time'], `keepalive_time ${kaS}s must be a whole number of seconds, at least 1 and below hold_time (${holdS}s)`);
  }
  if (!bgp.bird.runtime_dir.startsWith('/')) err(['bird', 'runtime_dir'], `runtime_dir '${bgp.bird.runtime_dir}' must be an absolute path`);

  const peerFamilies = new Set<number>();
  const seenPeer = new Map<string, number>();
  const seenName = new Map<string, number>();
  bgp.peers.forEach((p, i) => {
    const fam = isIP(p.address);
    peerFamilies.add(fam);
    const key = canonicalIpOrSame(p.address);
    const dup = seenPeer.get(key);
    if (dup !== undefined) err(['peers', i, 'address'], `peer ${p.address} is listed twice (also peers[${dup}])`);
    else seenPeer.set(key, i);
    const name = bgpPeerName(p, i);
    const dupName = seenName.get(name);
    if (dupName !== undefined) err(['peers', i, ...(p.name ? ['name'] : [])], `peer name '${name}' is used twice (also peers[${dupName}]); give each peer its own name`);
    else seenName.set(name, i);
    if (p.source_address && isIP(p.source_address) !== fam) err(['peers', i, 'source_address'], `source_address ${p.source_address} is not the family of peer ${p.address}`);
  });

  const vrrpVips = new Map<string, string>();
  for (const [name, inst] of Object.entries(config.instances)) {
    for (const v of inst.virtual_ipaddress) if (isIP(v.address)) vrrpVips.set(canonicalIpOrSame(v.address), name);
  }

  const seenVip = new Map<string, number>();
  const scheduled = new Set<number>();
  bgp.vips.forEach((vip, i) => {
    const route = parseBgpPrefix(vip.prefix);
    if ('error' in route) {
      err(['vips', i, 'prefix'], route.error);
      return;
    }
    const dup = seenVip.get(route.address);
    if (dup !== undefined) err(['vips', i], `VIP ${route.prefix} is listed twice (also vips[${dup}])`);
    else seenVip.set(route.address, i);
    if (!peerFamilies.has(route.family)) {
      err(['vips', i, 'prefix'], `VIP ${route.prefix} is IPv${route.family} but no peer is: it would never be announced; add an IPv${route.family} peer`);
    }
    const owner = vrrpVips.get(route.address);
    if (owner) err(['vips', i, 'prefix'], `VIP ${route.address} is also a virtual_ipaddress of VRRP instance '${owner}'; an address is either moved by VRRP or announced by every director, not both`);
    vip.fwmarks.forEach((m, k) => {
      const used = config.virtual_servers.some((vs) => vs.fwmark === m) || Object.values(config.virtual_server_groups).some((es) => es.some((e) => 'fwmark' in e && e.fwmark === m));
      if (!used) err(['vips', i, 'fwmarks', k], `fwmark ${m} is not a virtual server (nor in a virtual_server_group); define it or remove it here`);
    });

    const servers = vipVirtualServers(config, vip);
    if (servers.length === 0) {
      if (vip.served_by === 'ipvs') {
        err(['vips', i], `VIP ${route.prefix} has no virtual server (none at ${route.address}, in a group holding it, or in its fwmarks): announcing it would draw traffic this director cannot forward; add a virtual_server, or set served_by: local`);
      } else {
        warn(['vips', i], `VIP ${route.prefix} has no virtual server, so nothing checks it: it is announced whenever vipkeeper runs and is not in maintenance; add a virtual_server with checks at ${route.address}`);
      }
      return;
    }
    if (vip.served_by !== 'ipvs') return;
    for (const k of servers) {
      if (scheduled.has(k)) continue;
      scheduled.add(k);
      schedulerAdvice(config.virtual_servers[k] as VirtualServer, k, route.prefix, issues);
    }
  });

  if (config.global.lvs_sync_daemon) {
    issues.push({
      severity: 'warning',
      path: ['global', 'lvs_sync_daemon'],
      message: 'lvs_sync_daemon follows the MASTER of a VRRP pair; with bgp every director serves at once and none is MASTER: use a consistent scheduler (mh) instead of connection sync',
    });
  }
  return issues;
}

/** What a scheduler does to flows that ECMP moves between directors; paths point at the virtual server. */
function schedulerAdvice(vs: VirtualServer, index: number, prefix: string, issues: ModelIssue[]): void {
  const at = (...p: (string | number)[]) => ['virtual_servers', index, ...p];
  const warn = (path: (string | number)[], message: string) => issues.push({ severity: 'warning', path, message });
  if (AFFINITY_BREAKING.has(vs.lb_algo)) {
    warn(
      at('lb_algo'),
      `lb_algo ${vs.lb_algo} picks real servers from this director's own state, so two directors send one flow to different real servers and a flow that the routers' ECMP moves (VIP ${prefix} is announced by BGP) breaks; use lb_algo mh with flags [mh-port, mh-fallback] (Maglev hashing: every director picks the same real server)`,
    );
    return;
  }
  if (vs.lb_algo !== 'mh') return;
  if (!vs.flags.includes('mh-fallback') && !vs.flags.includes('flag-1')) {
    warn(
      at('flags'),
      'mh without mh-fallback: a real server at weight 0 (inhibit_on_failure, a drain) keeps its lookup-table slots and the flows hashed to it get no real server; add flags: [mh-fallback]',
    );
  }
  if (!vs.inhibit_on_failure) {
    warn(
      at('inhibit_on_failure'),
      "mh fills its lookup table in the order of the kernel's destination list; a failed real server that is removed and added back changes that order, so directors with different histories pick different real servers for one flow; set inhibit_on_failure: true (a failed server stays in place at weight 0)",
    );
  }
}

/** An address as inet_ntop prints it (what the IPVS model and the kernel use); an invalid one as given. */
function canonicalIpOrSame(address: string): string {
  return ntopIp(address) ?? address;
}

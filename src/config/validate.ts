// Semantic rules that span fields, shared by the YAML loader and the keepalived
// importer (one place for cross-field rules). Each issue names a path in the model;
// the caller turns the path into a file:line:col.
import { isIP } from 'node:net';
import { validateBgp } from './bgp.js';
import type { Config, Instance, VirtualServer } from './schema.js';
import { configuredMac } from '../vocab/mac.js';

export interface ModelIssue {
  severity: 'error' | 'warning';
  path: (string | number)[];
  message: string;
}

export function instanceFamily(inst: Instance): 4 | 6 | undefined {
  const first = inst.virtual_ipaddress[0];
  if (first) return isIP(first.address) as 4 | 6;
  const peer = inst.unicast_peer[0]?.address ?? inst.unicast_src_ip;
  return peer ? (isIP(peer) as 4 | 6) : undefined;
}

/** The VRRP version an instance speaks: its own, else IPv6 → 3, else the global default. */
export function instanceVersion(config: Config, inst: Instance): 2 | 3 {
  if (inst.version) return inst.version;
  return instanceFamily(inst) === 6 ? 3 : config.global.vrrp_version;
}

export function validateConfig(config: Config): ModelIssue[] {
  const issues: ModelIssue[] = [];
  const err = (path: (string | number)[], message: string) => issues.push({ severity: 'error', path, message });
  const warn = (path: (string | number)[], message: string) => issues.push({ severity: 'warning', path, message });

  const vridOwners = new Map<string, { name: string; peers: string[] }[]>();
  const syncMember = new Map<string, string>();
  for (const [gname, group] of Object.entries(config.sync_groups)) {
    group.group.forEach((member, i) => {
      if (!config.instances[member]) {
        err(['sync_groups', gname, 'group', i], `sync group '${gname}' names instance '${member}', which does not exist; define vrrp_instance ${member} or remove it from the group`);
      }
      const other = syncMember.get(member);
      if (other && other !== gname) err(['sync_groups', gname, 'group', i], `instance '${member}' is already in sync group '${other}'; an instance can be in one sync group only`);
      syncMember.set(member, gname);
    });
    checkTrackRefs(config, ['sync_groups', gname], group, err);
  }

  for (const [name, inst] of Object.entries(config.instances)) {
    const at = (...p: (string | number)[]) => ['instances', name, ...p];
    if (inst.virtual_router_id < 1 || inst.virtual_router_id > 255) {
      err(at('virtual_router_id'), `virtual_router_id ${inst.virtual_router_id} is out of range; use 1..255`);
    }
    if (inst.priority < 1 || inst.priority > 255) err(at('priority'), `priority ${inst.priority} is out of range; use 1..255`);

    const families = new Set(inst.virtual_ipaddress.map((v) => isIP(v.address)));
    if (families.size > 1) {
      const idx = inst.virtual_ipaddress.findIndex((v) => isIP(v.address) !== isIP(inst.virtual_ipaddress[0]?.address ?? ''));
      err(at('virtual_ipaddress', idx), `instance '${name}' mixes IPv4 and IPv6 virtual addresses; put the other family in its own instance or in virtual_ipaddress_excluded`);
    }
    const family = instanceFamily(inst);
    inst.unicast_peer.forEach((p, i) => {
      if (family && isIP(p.address) !== family) err(at('unicast_peer', i), `unicast peer ${p.address} is not IPv${family} like the instance's addresses`);
    });

    const version = instanceVersion(config, inst);
    if (family === 6 && inst.version === 2) err(at('version'), `VRRPv2 has no IPv6; use version 3 for instance '${name}'`);
    const adv = inst.advert_int;
    if (version === 2) {
      if (adv < 1000 || adv > 255_000 || adv % 1000 !== 0) {
        err(at('advert_int'), `advert_int ${adv / 1000}s does not fit VRRPv2, which sends whole seconds 1..255; use a whole number of seconds or version 3`);
      }
    } else if (adv < 10 || adv > 40_950 || Math.round(adv * 1000) % 10_000 !== 0) {
      err(at('advert_int'), `advert_int ${adv / 1000}s does not fit VRRPv3, which sends centiseconds 0.01..40.95s; use a multiple of 10ms in that range`);
    }

    if (!inst.interface && !(inst.unicast_peer.length > 0 && inst.unicast_src_ip)) {
      err(at(), `instance '${name}' has no interface; set interface, or unicast_src_ip with unicast_peer`);
    }
    if (inst.virtual_ipaddress.length === 0 && !inst.no_virtual_ipaddress) {
      warn(at('virtual_ipaddress'), `instance '${name}' has no virtual_ipaddress; add one, or set no_virtual_ipaddress if that is intended`);
    }
    if (inst.nopreempt && inst.state === 'MASTER') {
      warn(at('nopreempt'), `nopreempt does not work with state MASTER (keepalived ignores it); use state BACKUP on both nodes`);
    }
    if (inst.preempt_delay > 0 && inst.state === 'MASTER') {
      warn(at('preempt_delay'), `preempt_delay needs state BACKUP; keepalived ignores it with state MASTER`);
    }
    if (inst.authentication && version === 3) {
      warn(at('authentication'), `authentication is VRRPv2-only; VRRPv3 ignores it`);
    }

    // keepalived's rule: two instances clash on one interface and family with the same VRID when
    // both are multicast, or both unicast with a peer in common (a receiver could not tell them apart)
    const vridKey = `${inst.interface ?? '(unicast)'}/${family ?? 4}/${inst.virtual_router_id}`;
    const peers = inst.unicast_peer.map((p) => p.address);
    const clash = (vridOwners.get(vridKey) ?? []).find((o) => (o.peers.length === 0) === (peers.length === 0) && (peers.length === 0 || o.peers.some((p) => peers.includes(p))));
    if (clash) {
      const how = peers.length === 0 ? 'both multicast' : 'unicast to a common peer';
      err(at('virtual_router_id'), `virtual_router_id ${inst.virtual_router_id} is already used by instance '${clash.name}' on ${inst.interface ?? 'the same unicast path'} (${how}); give one of them its own VRID`);
    }
    vridOwners.set(vridKey, [...(vridOwners.get(vridKey) ?? []), { name, peers }]);

    runtimeRules(config, inst, at, err);

    checkTrackRefs(config, ['instances', name], inst, err);
  }

  const sync = config.global.lvs_sync_daemon;
  if (sync?.instance && !config.instances[sync.instance]) {
    err(['global', 'lvs_sync_daemon', 'instance'], `lvs_sync_daemon follows instance '${sync.instance}', which does not exist`);
  }

  const seenVs = new Map<string, number>();
  config.virtual_servers.forEach((vs, i) => validateVirtualServer(config, vs, i, seenVs, err, warn));
  issues.push(...validateBgp(config));
  return issues;
}

type Report = (path: (string | number)[], message: string) => void;

/**
 * What the VRRP engine (src/vrrp/params.ts) would refuse at start: checked here so that check,
 * run and reload agree (a property test runs the engine over configs that pass this).
 */
function runtimeRules(config: Config, inst: Instance, at: (...p: (string | number)[]) => (string | number)[], err: Report): void {
  const family = instanceFamily(inst) ?? 4;
  const version = instanceVersion(config, inst);
  const strict = inst.strict_mode ?? config.global.vrrp_strict;
  if (inst.authentication?.auth_type === 'AH' && version === 2 && !strict) {
    err(at('authentication', 'auth_type'), `auth_type AH is refused: vipkeeper does not implement IPsec AH (the engine would not start); use PASS, or no authentication`);
  }
  const group = inst.mcast_dst_ip ?? (family === 6 ? config.global.vrrp_mcast_group6 : config.global.vrrp_mcast_group4);
  if (isIP(group) !== family) {
    const where = inst.mcast_dst_ip !== undefined ? at('mcast_dst_ip') : ['global', family === 6 ? 'vrrp_mcast_group6' : 'vrrp_mcast_group4'];
    err(where, `multicast group ${group} is not IPv${family} like the instance's addresses`);
  }
  const unicast = inst.unicast_peer.length > 0;
  const src = unicast ? (inst.unicast_src_ip ?? inst.mcast_src_ip) : (inst.mcast_src_ip ?? inst.unicast_src_ip);
  const srcKey = src === inst.unicast_src_ip ? 'unicast_src_ip' : 'mcast_src_ip';
  if (src !== undefined && isIP(src) !== family) err(at(srcKey), `${srcKey} ${src} is not IPv${family} like the instance's addresses`);
  if (inst.virtual_ipaddress.length > 255) {
    err(at('virtual_ipaddress', 255), `instance has ${inst.virtual_ipaddress.length} virtual addresses; an advert carries at most 255: move the rest to virtual_ipaddress_excluded`);
  }
  if (inst.use_vmac) {
    if (inst.use_vmac.mac !== undefined && configuredMac(inst.use_vmac.mac, inst.virtual_router_id) === undefined) {
      err(at('use_vmac', 'mac'), `use_vmac MAC ${inst.use_vmac.mac} is not a MAC address (5 or 6 octets)`);
    }
    if (unicast && !inst.vmac_xmit_base) err(at('use_vmac'), 'use_vmac with unicast peers needs vmac_xmit_base (as keepalived)');
    if (inst.interface === undefined) err(at('use_vmac'), 'use_vmac needs the instance to have an interface (the VMAC sits on it)');
  }
  if (inst.preempt_delay > 1_000_000) err(at('preempt_delay'), `preempt_delay ${inst.preempt_delay / 1000}s is out of range; use 0..1000 seconds`);
}

function checkTrackRefs(
  config: Config,
  base: (string | number)[],
  o: { track_script: { name: string }[]; track_file: { name: string }[]; track_process: { name: string }[] },
  err: Report,
): void {
  o.track_script.forEach((t, i) => {
    if (!config.vrrp_scripts[t.name]) err([...base, 'track_script', i], `track_script '${t.name}' does not exist; define vrrp_script ${t.name} (before its use, for keepalived)`);
  });
  o.track_file.forEach((t, i) => {
    if (!config.track_files[t.name]) err([...base, 'track_file', i], `track_file '${t.name}' does not exist; define track_file ${t.name}`);
  });
  o.track_process.forEach((t, i) => {
    if (!config.track_processes[t.name]) err([...base, 'track_process', i], `track_process '${t.name}' does not exist; define vrrp_track_process ${t.name}`);
  });
}

/**
 * A virtual server's identity (and its key in the runtime): `ADDR PORT PROTO`, `fwmark N`, or
 * `group NAME` (`group NAME UDP` for a protocol other than TCP: a group may carry a TCP and a
 * UDP service, as in keepalived).
 */
export function vsKey(vs: VirtualServer): string {
  if (vs.fwmark !== undefined) return `fwmark ${vs.fwmark}`;
  if (vs.group !== undefined) return vs.protocol === 'TCP' ? `group ${vs.group}` : `group ${vs.group} ${vs.protocol}`;
  return `${vs.address} ${vs.port ?? 0} ${vs.protocol}`;
}

function validateVirtualServer(config: Config, vs: VirtualServer, i: number, seen: Map<string, number>, err: Report, warn: Report): void {
  const at = (...p: (string | number)[]) => ['virtual_servers', i, ...p];
  const heads = [vs.address, vs.fwmark, vs.group].filter((x) => x !== undefined).length;
  const key = vsKey(vs);
  if (heads !== 1) {
    err(at(), `virtual server ${key} needs exactly one of address, fwmark or group`);
    return;
  }
  if (vs.group !== undefined && !config.virtual_server_groups[vs.group]) {
    err(at('group'), `virtual_server_group '${vs.group}' does not exist; define it`);
  }
  if (vs.address !== undefined && (vs.port ?? 0) === 0 && vs.persistence_timeout === undefined) {
    err(at('port'), `virtual server ${vs.address} has no port; a port is required unless the service is persistent or fwmark`);
  }
  const dup = seen.get(key);
  if (dup !== undefined) err(at(), `virtual server ${key} is defined twice (also virtual_servers[${dup}])`);
  else seen.set(key, i);
  if (vs.real_servers.length === 0) {
    err(at('real_servers'), `virtual server ${key} has no real servers; add a real_server (keepalived drops such a service)`);
  }
  const rsSeen = new Set<string>();
  vs.real_servers.forEach((rs, j) => {
    const rsKey = `${rs.address}:${rs.port ?? vs.port ?? 0}`;
    if (rsSeen.has(rsKey)) err(at('real_servers', j), `real server ${rsKey} appears twice in virtual server ${key}`);
    rsSeen.add(rsKey);
    if (vs.address && isIP(vs.address) !== isIP(rs.address) && (rs.lvs_method ?? vs.lb_kind) !== 'TUN') {
      err(at('real_servers', j, 'address'), `real server ${rs.address} is not the same IP family as virtual server ${vs.address}; only TUN may mix families`);
    }
    rs.checks.forEach((c, k) => {
      if (c.type === 'FILE_CHECK' && !config.track_files[c.track_file]) {
        err(at('real_servers', j, 'checks', k, 'track_file'), `FILE_CHECK names track_file '${c.track_file}', which does not exist; define track_file ${c.track_file}`);
      }
    });
  });
  if (vs.quorum > 0 && vs.hysteresis >= vs.quorum && vs.quorum > 1) {
    warn(at('hysteresis'), `hysteresis ${vs.hysteresis} is not below quorum ${vs.quorum}; keepalived lowers it to ${vs.quorum - 1}`);
  }
}

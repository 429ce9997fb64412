/**
 * Config model → VRRP state-machine parameters and codec expectations. PURE: no I/O, no clock.
 *
 * `instanceParams(config, name, primaryIp)` applies keepalived's rules (docs/vrrp.md §3, §5, §6, §8):
 * - per-instance keys win over the global `vrrp_*` defaults, which win over keepalived's built-ins;
 * - the family comes from the VIPs (else the unicast peers / source), IPv6 is always VRRPv3;
 * - strict mode (`strict_mode`, else `vrrp_strict`) forces down_timer_adverts 3,
 *   lower_prio_no_advert, owner_ignore_adverts, no higher_prio_send_advert, no preempt_delay,
 *   no lower-priority GARP repeats, no authentication, and `state MASTER` only at priority 255;
 * - `vrrp_min_garp` turns the global GARP defaults into repeat 1, no delay, no refresh.
 *
 * `instanceExpectations(...)` gives the codec's `InstanceExpectations` (what a received advert must
 * look like), `instanceWire(...)` what the transport needs to send (addresses, auth, destinations),
 * and `resolveInstance(...)` all three plus the VIPs to configure and the fix-up warnings.
 * Fix-ups are reported as warnings; the auth password never appears in one.
 */
import { isIP } from 'node:net';
import type { Config, Instance, Vip } from '../config/schema.js';
import { instanceFamily, instanceVersion } from '../config/validate.js';
import { resolveVrrpParams, type VrrpInstanceParams } from './instance.js';
import { canonicalIp } from '../vocab/ip.js';
import { configuredMac, vmacOf, type VmacSpec } from './vmac.js';
import {
  type InstanceExpectations,
  type UnicastPeer,
  type VrrpAuthType,
} from './packet.js';

/** Everything the transport needs to put this instance's adverts on the wire. */
export interface InstanceWire {
  name: string;
  vrid: number;
  version: 2 | 3;
  family: 4 | 6;
  /** Interface adverts go out of (and the default VIP device); undefined for an interface-less unicast instance. */
  interface: string | undefined;
  /** The multicast group (`mcast_dst_ip`, else `vrrp_mcast_group4/6`). Also used for the old unicast checksum. */
  mcastGroup: string;
  /** Configured source address (`unicast_src_ip` in unicast mode, else `mcast_src_ip`); undefined = the interface's primary address. */
  srcIp: string | undefined;
  /** Non-empty = unicast mode: one packet per peer. */
  unicastPeers: UnicastPeer[];
  /** TTL / hop limit for unicast adverts (`unicast_ttl`, default 255). Multicast always uses 255. */
  unicastTtl: number;
  /** keepalived `v3_checksum_as_v2` (VRRPv3 over IPv4 only). */
  v3ChecksumAsV2: boolean;
  /** VRRPv2 only; 0 none, 1 PASS. (AH is not implemented: a config asking for it is rejected.) */
  authType: VrrpAuthType;
  /** PASS password; never log it. */
  authPassword: string | undefined;
  /** Advertised VIPs (canonical text, config order). */
  addresses: string[];
}

export interface ResolvedInstance {
  name: string;
  params: VrrpInstanceParams;
  expectations: InstanceExpectations;
  wire: InstanceWire;
  /** VIPs to configure while MASTER: `virtual_ipaddress` then `virtual_ipaddress_excluded`. */
  vips: Vip[];
  /** Default device for VIPs without `dev` (the VMAC with `use_vmac`). */
  defaultDev: string | undefined;
  /** `use_vmac`: the macvlan the VIPs live on (and adverts go out of, unless `vmac_xmit_base`). */
  vmac: VmacSpec | undefined;
  /** Set when keepalived would put the instance in FAULT from the start (e.g. `unicast_fault_no_peer` without peers). */
  configFault: string | undefined;
  /** keepalived's silent fix-ups, said out loud (never contains the password). */
  warnings: string[];
}

export class InstanceConfigError extends Error {
  override name = 'InstanceConfigError';
}

function getInstance(config: Config, name: string): Instance {
  const inst = config.instances[name];
  if (!inst) throw new InstanceConfigError(`No VRRP instance "${name}" in the config`);
  return inst;
}

/** `strict_mode` on the instance, else the global `vrrp_strict`. */
export function isStrict(config: Config, inst: Instance): boolean {
  return inst.strict_mode ?? config.global.vrrp_strict;
}

/** The advert interval in ms as keepalived would use it: v2 whole seconds 1..255, v3 10 ms steps 10..40950. */
export function effectiveAdvertIntervalMs(version: 2 | 3, configuredMs: number): number {
  if (version === 2) return Math.min(255, Math.max(1, Math.round(configuredMs / 1000))) * 1000;
  return Math.min(4095, Math.max(1, Math.round(configuredMs / 10))) * 10;
}

function familyOf(inst: Instance): 4 | 6 {
  return instanceFamily(inst) ?? 4;
}

interface Collected {
  params: VrrpInstanceParams;
  wire: InstanceWire;
  expectations: InstanceExpectations;
  configFault: string | undefined;
  warnings: string[];
}

/**
 * `owner_ignore_adverts` (instance), else `vrrp_owner_ignore_adverts` (global), as keepalived
 * 2.3 reads them: only an address owner (priority 255) ignores adverts; strict mode makes it
 * ignore them. (keepalived's check of an explicit `false` on an owner omits strict mode, though
 * its message names it; vipkeeper applies it in strict mode only, as the message says.)
 */
function ownerIgnores(inst: { priority: number; owner_ignore_adverts?: boolean | undefined }, global: boolean, strict: boolean, warnings: string[]): boolean {
  const own = inst.owner_ignore_adverts;
  if (inst.priority !== 255) {
    if (own === true) warnings.push('owner_ignore_adverts ignored: the priority is not 255');
    return false;
  }
  if (own === undefined) return strict || global;
  if (strict && !own) {
    warnings.push('strict mode with priority 255 requires owner_ignore_adverts; set');
    return true;
  }
  return own;
}

function collect(config: Config, name: string, primaryIp: string): Collected {
  const inst = getInstance(config, name);
  const g = config.global;
  const warnings: string[] = [];
  const strict = isStrict(config, inst);
  const ownerIgnoreAdverts = ownerIgnores(inst, g.vrrp_owner_ignore_adverts, strict, warnings);
  const family = familyOf(inst);
  const version = instanceVersion(config, inst);
  if (family === 6 && version !== 3) throw new InstanceConfigError(`Instance "${name}": IPv6 needs VRRP version 3`);

  const advertIntervalMs = effectiveAdvertIntervalMs(version, inst.advert_int);
  if (advertIntervalMs !== inst.advert_int) {
    warnings.push(`advert_int ${inst.advert_int} ms does not fit VRRPv${version}; using ${advertIntervalMs} ms`);
  }

  // state / priority (docs/vrrp.md §5.1, §8 strict).
  let initialState = inst.state;
  if (strict && initialState === 'MASTER' && inst.priority !== 255) {
    warnings.push('strict mode: state MASTER needs priority 255; starting as BACKUP');
    initialState = 'BACKUP';
  }

  let preemptDelayMs = inst.preempt_delay;
  if (strict && preemptDelayMs > 0) {
    warnings.push('strict mode: preempt_delay is not allowed; ignored');
    preemptDelayMs = 0;
  }

  // GARP (docs/vrrp.md §6, §7). vrrp_min_garp changes the global defaults only.
  const minGarp = g.vrrp_min_garp;
  const gMasterDelay = minGarp ? 0 : g.vrrp_garp_master_delay;
  const gMasterRepeat = minGarp ? 1 : g.vrrp_garp_master_repeat;
  const gMasterRefresh = minGarp ? 0 : g.vrrp_garp_master_refresh;
  const masterDelayMs = inst.garp_master_delay ?? gMasterDelay;
  const masterRepeat = inst.garp_master_repeat ?? gMasterRepeat;
  let lowerPrioDelayMs = inst.garp_lower_prio_delay ?? g.vrrp_garp_lower_prio_delay ?? masterDelayMs;
  let lowerPrioRepeat = inst.garp_lower_prio_repeat ?? g.vrrp_garp_lower_prio_repeat ?? masterRepeat;
  if (strict) {
    lowerPrioDelayMs = 0;
    lowerPrioRepeat = 0;
  }

  const params = resolveVrrpParams({
    name,
    vrid: inst.virtual_router_id,
    primaryIp,
    version,
    family,
    priority: inst.priority,
    advertIntervalMs,
    initialState,
    preempt: !inst.nopreempt,
    preemptDelayMs,
    downTimerAdverts: strict ? 3 : (inst.down_timer_adverts ?? g.vrrp_down_timer_adverts),
    lowerPrioNoAdvert: strict ? true : (inst.lower_prio_no_advert ?? g.vrrp_lower_prio_no_advert ?? false),
    higherPrioSendAdvert: strict ? false : (inst.higher_prio_send_advert ?? g.vrrp_higher_prio_send_advert),
    ownerIgnoreAdverts,
    garp: {
      masterDelayMs,
      masterRepeat,
      masterRefreshMs: inst.garp_master_refresh ?? gMasterRefresh,
      masterRefreshRepeat: inst.garp_master_refresh_repeat ?? g.vrrp_garp_master_refresh_repeat,
      lowerPrioDelayMs,
      lowerPrioRepeat,
      intervalMs: family === 6 ? g.vrrp_gna_interval : g.vrrp_garp_interval,
    },
  });

  // Authentication (VRRPv2 only; docs/vrrp.md §1.1, §4 item 6).
  let authType: VrrpAuthType = 0;
  let authPassword: string | undefined;
  if (inst.authentication) {
    if (version === 3) warnings.push('authentication is VRRPv2-only; ignored for VRRPv3');
    else if (strict) warnings.push('strict mode: authentication is not allowed; ignored');
    else if (inst.authentication.auth_type === 'AH') {
      throw new InstanceConfigError(`Instance "${name}": auth_type AH (IPsec AH) is not supported; use PASS or no authentication`);
    } else {
      authType = 1;
      authPassword = inst.authentication.auth_pass;
      if (Buffer.byteLength(authPassword) > 8) warnings.push('auth_pass is longer than 8 bytes; only the first 8 are used');
    }
  }

  // Unicast / multicast (docs/vrrp.md §1.3, §8).
  const mcastGroup = inst.mcast_dst_ip ?? (family === 6 ? g.vrrp_mcast_group6 : g.vrrp_mcast_group4);
  if (isIP(mcastGroup) !== family) throw new InstanceConfigError(`Instance "${name}": multicast group ${mcastGroup} is not IPv${family}`);
  const unicastPeers: UnicastPeer[] = inst.unicast_peer.map((p) => ({
    address: canonicalIp(p.address) ?? p.address,
    ...(p.min_ttl !== undefined ? { minTtl: p.min_ttl } : {}),
    ...(p.max_ttl !== undefined ? { maxTtl: p.max_ttl } : {}),
  }));
  if (strict && unicastPeers.length > 0) warnings.push('strict mode does not allow unicast peers (keepalived: when the interface supports multicast)');
  let configFault: string | undefined;
  if (unicastPeers.length === 0 && inst.unicast_fault_no_peer) configFault = 'unicast_fault_no_peer: no unicast peers';
  const srcIp = unicastPeers.length > 0 ? (inst.unicast_src_ip ?? inst.mcast_src_ip) : (inst.mcast_src_ip ?? inst.unicast_src_ip);
  if (srcIp !== undefined && isIP(srcIp) !== family) {
    throw new InstanceConfigError(`Instance "${name}": source address ${srcIp} is not IPv${family}`);
  }
  const v3ChecksumAsV2 = version === 3 && family === 4 && (inst.v3_checksum_as_v2 ?? g.v3_checksum_as_v2);

  const addresses = inst.virtual_ipaddress.map((v) => canonicalIp(v.address) ?? v.address);
  if (addresses.length > 255) throw new InstanceConfigError(`Instance "${name}": at most 255 advertised addresses`);
  if (strict && addresses.length === 0) warnings.push('strict mode: an instance needs at least one virtual_ipaddress');

  const wire: InstanceWire = {
    name,
    vrid: inst.virtual_router_id,
    version,
    family,
    interface: inst.interface,
    mcastGroup,
    srcIp,
    unicastPeers,
    unicastTtl: inst.unicast_ttl ?? 255,
    v3ChecksumAsV2,
    authType,
    authPassword,
    addresses,
  };

  const expectations: InstanceExpectations = {
    vrid: inst.virtual_router_id,
    version,
    family,
    advertIntervalCs: advertIntervalMs / 10,
    authType,
    ...(authPassword !== undefined ? { authPassword } : {}),
    addresses,
    addressMismatch: 'accept',
    skipCheckAdvAddr: inst.skip_check_adv_addr ?? g.vrrp_skip_check_adv_addr,
    unicastPeers,
    checkUnicastSrc: inst.check_unicast_src ?? g.vrrp_check_unicast_src,
    ownerIgnoreAdverts,
    basePriority: inst.priority,
    v3ChecksumAsV2,
    oldUnicastChecksum: 'detect',
    mcastGroup,
  };

  return { params, wire, expectations, configFault, warnings };
}

/**
 * The state machine's parameters for instance `name`. `primaryIp` is this router's source address
 * for the equal-priority tie break (the configured source, else the interface's primary IPv4 /
 * link-local IPv6 address). Throws `InstanceConfigError` for an unknown instance or a config the
 * engine cannot run (AH authentication).
 */
export function instanceParams(config: Config, name: string, primaryIp: string): VrrpInstanceParams {
  return collect(config, name, primaryIp).params;
}

/** What the codec's `validateAdvert` checks a received advert against. */
export function instanceExpectations(config: Config, name: string): InstanceExpectations {
  return collect(config, name, '0.0.0.0').expectations;
}

/** What the transport needs to send this instance's adverts. */
export function instanceWire(config: Config, name: string): InstanceWire {
  return collect(config, name, '0.0.0.0').wire;
}

/** Everything at once, plus the VIPs to configure and the fix-up warnings. */
export function resolveInstance(config: Config, name: string, primaryIp: string): ResolvedInstance {
  const inst = getInstance(config, name);
  const c = collect(config, name, primaryIp);
  const vmac = vmacOf(inst, c.wire.family);
  if (inst.use_vmac?.mac !== undefined && configuredMac(inst.use_vmac.mac, inst.virtual_router_id) === undefined) {
    throw new InstanceConfigError(`Instance "${name}": use_vmac MAC ${inst.use_vmac.mac} is not a MAC address (5 or 6 octets)`);
  }
  let vips = [...inst.virtual_ipaddress, ...inst.virtual_ipaddress_excluded];
  let wire = c.wire;
  if (vmac) {
    if (c.wire.unicastPeers.length > 0 && !vmac.xmitBase) {
      throw new InstanceConfigError(`Instance "${name}": use_vmac with unicast peers needs vmac_xmit_base (as keepalived)`);
    }
    // keepalived: the VIPs of the instance's family on its interface (or without dev) go on the VMAC
    vips = vips.map((v) => ((v.dev === undefined || v.dev === vmac.base) && isIP(v.address) === vmac.family ? { ...v, dev: vmac.name } : v));
    if (!vmac.xmitBase) wire = { ...c.wire, interface: vmac.name };
  }
  return {
    name,
    params: c.params,
    expectations: c.expectations,
    wire,
    vips,
    defaultDev: vmac ? vmac.name : inst.interface,
    vmac,
    configFault: c.configFault,
    warnings: c.warnings,
  };
}

/** The source address an instance is configured to use, if any (else the interface's primary address). */
export function configuredSourceIp(config: Config, name: string): string | undefined {
  return instanceWire(config, name).srcIp;
}

/**
 * keepalived's VMAC interfaces (`use_vmac`): a macvlan in private mode on the instance's
 * interface, with the virtual router MAC, and the sysctls keepalived 2.2.7 sets (read from its
 * run in a namespace):
 *
 * - on the VMAC: arp_ignore=1 (answer ARP only for its own addresses, the VIPs), accept_local=1
 *   (the peer's adverts come from the same MAC), rp_filter=0, promote_secondaries=1; for an IPv4
 *   instance IPv6 is off on it (disable_ipv6=1, addrgenmode none), for an IPv6 one the base
 *   interface's link-local address is put on it (addrgenmode none) so adverts keep their source;
 * - on the base interface: arp_ignore=1 and arp_filter=1, so it never answers ARP for a VIP with
 *   its own MAC, and (unlike keepalived) arp_announce=2, so it never asks with a VIP as sender.
 *   Unlike keepalived (which leaves them), the old values are put back at stop.
 *
 * Private mode matters: a multicast frame whose source MAC is one of our macvlans (the peer's
 * adverts from the same virtual MAC) is then delivered to that macvlan only.
 */
import type { VmacSpec } from '../vrrp/vmac.js';
import { ipBatch, ipJson, type IpOptions } from './ip-batch.js';
import { SysctlSaver, writeIfSysctl } from './sysctl.js';

interface IpLink {
  ifname: string;
  address?: string;
  link?: string;
  linkinfo?: { info_kind?: string };
}

interface IpAddr {
  addr_info?: { family?: string; local?: string; prefixlen?: number; scope?: string }[];
}

/** What keepalived sets on a VMAC (IPv4 conf), and on its base interface. */
const ON_VMAC: [string, string][] = [
  ['arp_ignore', '1'],
  ['accept_local', '1'],
  ['rp_filter', '0'],
  ['promote_secondaries', '1'],
];
const ON_BASE: [string, string][] = [
  ['arp_ignore', '1'],
  ['arp_filter', '1'],
  // Not keepalived's: without it the base asks for a client's MAC with the VIP as sender (the
  // reply to a client leaves by the base's route), and the client learns the VIP at the base's
  // own MAC instead of the virtual one (seen with keepalived 2.2.7 in the lab).
  ['arp_announce', '2'],
];

/** The macvlans this process made, and the base interfaces' sysctls to put back. */
export class VmacManager {
  private readonly made = new Map<string, VmacSpec>();
  /** The base interfaces' own values, put back at stop. */
  private readonly saved = new SysctlSaver();
  /** Made by a reload while another VMAC of ours still has their MAC on their base: up once it goes. */
  private readonly pendingUp = new Set<string>();

  constructor(private readonly ip: IpOptions = {}) {}

  /** The interfaces made so far (names). */
  get names(): string[] {
    return [...this.made.keys()];
  }

  private async link(name: string): Promise<IpLink | undefined> {
    try {
      const l = await ipJson<IpLink[]>(['-d', 'link', 'show', 'dev', name], this.ip);
      return l[0];
    } catch {
      return undefined;
    }
  }

  /**
   * Creates (or adopts, when a previous run left it) the VMAC of `spec`, up, with its sysctls.
   * Throws when a different interface already has the name.
   */
  async ensure(spec: VmacSpec): Promise<void> {
    const have = await this.link(spec.name);
    if (have) {
      const ok = have.linkinfo?.info_kind === 'macvlan' && have.link === spec.base && have.address?.toLowerCase() === spec.mac;
      if (!ok) throw new Error(`use_vmac: interface ${spec.name} exists and is not a macvlan on ${spec.base} with MAC ${spec.mac}`);
    } else {
      const r = await ipBatch([`link add link ${spec.base} name ${spec.name} address ${spec.mac} type macvlan mode private`], this.ip);
      if (!r.ok) throw new Error(`use_vmac: cannot create ${spec.name} on ${spec.base}: ${r.errors.map((e) => e.message).join('; ')}`);
    }
    this.made.set(spec.name, spec);
    for (const [k, v] of ON_BASE) this.saved.set(4, spec.base, k, v);
    for (const [k, v] of ON_VMAC) writeIfSysctl(4, spec.name, k, v);
    const lines = [`link set dev ${spec.name} addrgenmode none`];
    if (spec.family === 4) {
      writeIfSysctl(6, spec.name, 'disable_ipv6', '1');
    } else {
      // the adverts' source is the base's link-local address: it must be on the VMAC too
      const ll = await this.linkLocal(spec.base);
      if (ll === undefined) throw new Error(`use_vmac: ${spec.base} has no IPv6 link-local address for ${spec.name}`);
      lines.push(`addr replace ${ll}/64 dev ${spec.name} nodad`);
    }
    // two macvlans with one MAC on one base cannot both be up: a reload that renames a VMAC
    // brings the new one up once the old one is gone (removeUnused)
    const clash = [...this.made.values()].some((m) => m.name !== spec.name && m.base === spec.base && m.mac === spec.mac);
    if (clash) this.pendingUp.add(spec.name);
    else lines.push(`link set dev ${spec.name} up`);
    const r = await ipBatch(lines, this.ip);
    if (!r.ok) throw new Error(`use_vmac: cannot set up ${spec.name}: ${r.errors.map((e) => `${e.line}: ${e.message}`).join('; ')}`);
  }

  private async linkLocal(ifname: string): Promise<string | undefined> {
    const a = await ipJson<IpAddr[]>(['-6', 'addr', 'show', 'dev', ifname, 'scope', 'link'], this.ip);
    return a[0]?.addr_info?.find((x) => x.family === 'inet6' && x.scope === 'link')?.local;
  }

  /** Removes every VMAC made here and puts the base interfaces' sysctls back. Never throws. */
  /**
   * Removes the VMACs made here that are not in `keep` (a reload that changed or dropped an
   * instance's use_vmac); the base interfaces' sysctls stay until stop. Returns the errors.
   */
  async removeUnused(keep: ReadonlySet<string>): Promise<{ removed: string[]; errors: string[] }> {
    const names = [...this.made.keys()].filter((n) => !keep.has(n));
    for (const n of names) this.made.delete(n);
    const up = [...this.pendingUp].filter((n) => this.made.has(n));
    this.pendingUp.clear();
    if (names.length === 0 && up.length === 0) return { removed: [], errors: [] };
    const r = await ipBatch([...names.map((n) => `link del dev ${n}`), ...up.map((n) => `link set dev ${n} up`)], this.ip);
    return { removed: names, errors: r.errors.filter((e) => !/Cannot find device/.test(e.message)).map((e) => `${e.line}: ${e.message}`) };
  }

  async removeAll(): Promise<string[]> {
    const errors: string[] = [];
    const names = [...this.made.keys()];
    this.made.clear();
    if (names.length) {
      const r = await ipBatch(names.map((n) => `link del dev ${n}`), this.ip);
      for (const e of r.errors) if (!/Cannot find device/.test(e.message)) errors.push(`${e.line}: ${e.message}`);
    }
    errors.push(...this.saved.restore());
    return errors;
  }
}

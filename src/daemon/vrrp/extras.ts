/**
 * What a VRRP instance sets up beyond its VIPs, as keepalived 2.2.7 does:
 *
 * - `use_vmac`: the macvlan is made before the sockets open (they bind to it) and stays, in every
 *   state, until stop (keepalived makes it on a BACKUP too);
 * - `promote_secondaries`: the interface's promote_secondaries sysctl is set at start (so removing
 *   a VIP does not take the other addresses of its subnet with it) and put back at stop;
 * - `virtual_routes` / `virtual_rules`: added right after the VIPs on entering MASTER, removed
 *   right before them on leaving it (keepalived's order: VIPs, routes, rules; then rules, routes,
 *   VIPs); at start, the ones a previous run left are removed, as keepalived does;
 * - `static_ipaddress` / `static_routes` / `static_rules`: added at start, removed at stop,
 *   whatever the state; a reload removes the ones gone from the config and adds the new ones
 *   (keepalived's clear_diff_static_*), leaving the others alone;
 * - a reload that changes or drops an instance's `use_vmac` removes the VMAC no instance uses any
 *   more, once the instance that used it has stopped;
 * - `no_accept` (and strict mode without `accept`): the nftables table (src/net/firewall.ts) is made
 *   at start; a MASTER that is not the address owner puts its VIPs in its drop set right after
 *   adding them (so the GARP burst never waits for `nft`: traffic to a fresh VIP may be accepted
 *   for the few milliseconds `nft` takes, where keepalived drops it from the first packet) and
 *   takes them out right after removing them.
 *
 * Each piece is undone at stop. Failures after start are logged, never thrown: the VIPs and the
 * adverts matter more than an extra route.
 */
import type { Config, Vip } from '../../config/schema.js';
import { NoAcceptFirewall } from '../../net/firewall.js';
import { applyIpLines, parseIpLine, type IpLine } from '../../net/routes.js';
import { SysctlSaver } from '../../net/sysctl.js';
import { VmacManager } from '../../net/vmac.js';
import type { Logger } from '../../sys/logger.js';
import type { ResolvedInstance } from '../../vrrp/params.js';
import { errMsg } from './effects.js';
import type { AddressPort, ExtrasPort } from './types.js';

export interface ExtrasDeps {
  log: Logger;
  /** For static_ipaddress (the VIPs' own port: same options, same refcounts). */
  addresses?: AddressPort;
  vmacs?: VmacManager;
}

/** Whether the instance drops traffic to its VIPs as MASTER: no_accept, and not the address owner. */
export function dropsTraffic(config: Config, name: string): boolean {
  const inst = config.instances[name];
  if (!inst || inst.priority === 255) return false;
  const strict = inst.strict_mode ?? config.global.vrrp_strict;
  return !(inst.accept ?? !strict);
}

/** An instance's virtual routes and rules as `ip` lines. */
function virtualLines(config: Config, name: string): IpLine[] {
  const inst = config.instances[name];
  if (!inst) return [];
  return [...inst.virtual_routes.map((l) => parseIpLine('route', l)), ...inst.virtual_rules.map((l) => parseIpLine('rule', l))];
}

/** static_ipaddress, a line without dev on default_interface (keepalived's get_default_if). */
function staticVips(config: Config): Vip[] {
  return config.static_ipaddress.map((v) => (v.dev === undefined ? { ...v, dev: config.global.default_interface } : v));
}

function staticLines(config: Config): IpLine[] {
  return [...config.static_routes.map((l) => parseIpLine('route', l)), ...config.static_rules.map((l) => parseIpLine('rule', l))];
}

export class InstanceExtras implements ExtrasPort {
  private readonly log: Logger;
  private readonly vmacs: VmacManager;
  private readonly sysctls = new SysctlSaver();
  /** What static_* added at start, removed at stop. */
  private statics: { vips: Vip[]; lines: IpLine[] } = { vips: [], lines: [] };
  /** Instances whose virtual routes / rules are in, with the lines they were added with. */
  private readonly routed = new Map<string, IpLine[]>();
  private firewall: NoAcceptFirewall | undefined;
  /** Instances whose VIPs are in the drop set, with the addresses. */
  private readonly dropping = new Map<string, string[]>();
  /** An instance's running add (its leave waits for it). */
  private readonly adding = new Map<string, Promise<void>>();

  constructor(private readonly d: ExtrasDeps) {
    this.log = d.log;
    this.vmacs = d.vmacs ?? new VmacManager();
  }

  async prepare(config: Config, resolved: readonly ResolvedInstance[], initial: boolean): Promise<void> {
    for (const r of resolved) {
      const inst = config.instances[r.name];
      if (inst?.promote_secondaries && inst.interface !== undefined) {
        this.sysctls.set(4, inst.interface, 'promote_secondaries', '1');
        this.log.info({ instance: r.name, interface: inst.interface }, `${r.name}: promote_secondaries set on ${inst.interface}`);
      }
      if (!r.vmac) continue;
      await this.vmacs.ensure(r.vmac);
      this.log.info({ instance: r.name, vrid: r.wire.vrid, vmac: r.vmac.name, mac: r.vmac.mac, base: r.vmac.base, xmit_base: r.vmac.xmitBase }, `${r.name}: VMAC interface ${r.vmac.name} ready`);
    }
    if (!this.firewall && resolved.some((r) => dropsTraffic(config, r.name))) {
      const g = config.global;
      const fw = new NoAcceptFirewall({ table: g.nftables, priority: g.nftables_priority, counters: g.nftables_counters });
      await fw.start();
      this.firewall = fw;
      this.log.info({ table: g.nftables, priority: g.nftables_priority }, `no_accept: nftables table ${g.nftables} (ip, ip6) ready`);
    }
    if (!initial) return;
    // keepalived removes an instance's virtual routes and rules at start (a crashed run's)
    const stale = resolved.flatMap((r) => virtualLines(config, r.name));
    if (stale.length) await applyIpLines(stale, 'del').catch(() => undefined);
    await this.addStatics(config);
  }

  async reloaded(config: Config, running: readonly ResolvedInstance[]): Promise<void> {
    const keep = new Set(running.flatMap((r) => (r.vmac ? [r.vmac.name] : [])));
    try {
      const { removed, errors } = await this.vmacs.removeUnused(keep);
      if (errors.length) this.log.warn({ errors }, 'VMAC interfaces no longer used could not all be removed');
      else if (removed.length) this.log.info({ vmacs: removed }, 'VMAC interfaces no longer used removed');
    } catch (err) {
      this.log.warn({ err: errMsg(err) }, 'VMAC interfaces no longer used could not all be removed');
    }
    try {
      await this.reloadStatics(config);
    } catch (err) {
      this.log.error({ err: errMsg(err) }, 'static addresses, routes and rules could not all be changed by the reload');
    }
  }

  /** The static addresses / routes / rules of `config`, as differences against the running ones. */
  private async reloadStatics(config: Config): Promise<void> {
    const key = (x: unknown) => JSON.stringify(x);
    const next = { vips: staticVips(config), lines: staticLines(config) };
    const prev = this.statics;
    const gone = <T>(a: readonly T[], b: readonly T[]) => a.filter((x) => !b.some((y) => key(y) === key(x)));
    const delLines = gone(prev.lines, next.lines);
    const delVips = gone(prev.vips, next.vips);
    const addVips = gone(next.vips, prev.vips);
    const addLines = gone(next.lines, prev.lines);
    if (!delLines.length && !delVips.length && !addVips.length && !addLines.length) return;
    // what is gone goes first (rules, routes, addresses), then the new (addresses, routes, rules)
    const errors = await applyIpLines(delLines, 'del');
    if (delVips.length) {
      try {
        await this.d.addresses?.removeVips(delVips, undefined);
      } catch (err) {
        errors.push(errMsg(err));
      }
    }
    this.statics = { vips: prev.vips.filter((v) => !delVips.includes(v)), lines: prev.lines.filter((l) => !delLines.includes(l)) };
    if (addVips.length) {
      if (!this.d.addresses) throw new Error('static_ipaddress: no address port');
      await this.d.addresses.addVips(addVips, undefined);
      this.statics.vips = [...this.statics.vips, ...addVips];
    }
    errors.push(...(await applyIpLines(addLines, 'add')));
    this.statics.lines = [...this.statics.lines, ...addLines];
    const counts = { addresses: { added: addVips.length, removed: delVips.length }, routes_rules: { added: addLines.length, removed: delLines.length } };
    if (errors.length) this.log.error({ ...counts, errors }, 'static addresses, routes and rules: the reload\'s changes could not all be made');
    else this.log.info(counts, 'static addresses, routes and rules changed by reload');
  }

  private async addStatics(config: Config): Promise<void> {
    const vips = staticVips(config);
    const lines = staticLines(config);
    if (vips.length === 0 && lines.length === 0) return;
    if (vips.length) {
      if (!this.d.addresses) throw new Error('static_ipaddress: no address port');
      await this.d.addresses.addVips(vips, undefined);
    }
    this.statics = { vips, lines };
    const errors = await applyIpLines(lines, 'add');
    if (errors.length) this.log.error({ errors }, 'static routes / rules could not all be added');
    this.log.info({ addresses: vips.length, routes: config.static_routes.length, rules: config.static_rules.length }, 'static addresses, routes and rules added');
  }

  master(r: ResolvedInstance, config: Config): Promise<void> {
    const p = (this.adding.get(r.name) ?? Promise.resolve()).then(() => this.addVirtual(r, config));
    this.adding.set(r.name, p);
    return p;
  }

  private async addVirtual(r: ResolvedInstance, config: Config): Promise<void> {
    if (this.firewall && dropsTraffic(config, r.name)) {
      const addrs = r.vips.map((v) => v.address);
      this.dropping.set(r.name, addrs);
      try {
        await this.firewall.drop(addrs);
        this.log.info({ instance: r.name, vips: addrs }, `${r.name}: no_accept: traffic to the VIPs is dropped`);
      } catch (err) {
        this.log.error({ instance: r.name, err: errMsg(err) }, `${r.name}: no_accept: the drop rule could not be set`);
      }
    }
    const lines = virtualLines(config, r.name);
    if (lines.length === 0) return;
    this.routed.set(r.name, lines);
    try {
      const errors = await applyIpLines(lines, 'add');
      if (errors.length) this.log.error({ instance: r.name, errors }, `${r.name}: virtual routes / rules could not all be added`);
      else this.log.info({ instance: r.name, routes: lines.filter((l) => l.kind === 'route').length, rules: lines.filter((l) => l.kind === 'rule').length }, `${r.name}: virtual routes and rules added`);
    } catch (err) {
      this.log.error({ instance: r.name, err: errMsg(err) }, `${r.name}: virtual routes / rules could not be added`);
    }
  }

  async leave(r: ResolvedInstance, _config: Config): Promise<void> {
    await this.adding.get(r.name);
    await this.removeVirtual(r);
  }

  async left(r: ResolvedInstance, _config: Config): Promise<void> {
    const addrs = this.dropping.get(r.name);
    if (addrs && this.firewall) {
      this.dropping.delete(r.name);
      try {
        await this.firewall.release(addrs);
      } catch (err) {
        this.log.warn({ instance: r.name, err: errMsg(err) }, `${r.name}: no_accept: the drop rule could not be removed`);
      }
    }
  }

  private async removeVirtual(r: ResolvedInstance): Promise<void> {
    const lines = this.routed.get(r.name);
    if (!lines) return;
    this.routed.delete(r.name);
    try {
      const errors = await applyIpLines(lines, 'del');
      if (errors.length) this.log.warn({ instance: r.name, errors }, `${r.name}: virtual routes / rules could not all be removed`);
      else this.log.info({ instance: r.name }, `${r.name}: virtual routes and rules removed`);
    } catch (err) {
      this.log.warn({ instance: r.name, err: errMsg(err) }, `${r.name}: virtual routes / rules could not be removed`);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.adding.values());
    const { vips, lines } = this.statics;
    this.statics = { vips: [], lines: [] };
    try {
      const errors = await applyIpLines(lines, 'del');
      if (vips.length) await this.d.addresses?.removeVips(vips, undefined);
      if (errors.length) this.log.warn({ errors }, 'static routes / rules could not all be removed');
      else if (vips.length || lines.length) this.log.info({}, 'static addresses, routes and rules removed');
    } catch (err) {
      this.log.warn({ err: errMsg(err) }, 'static addresses, routes and rules could not all be removed');
    }
    if (this.firewall) {
      const fw = this.firewall;
      this.firewall = undefined;
      this.dropping.clear();
      try {
        await fw.stop();
        this.log.info({}, 'no_accept: nftables table removed');
      } catch (err) {
        this.log.warn({ err: errMsg(err) }, 'no_accept: the nftables table could not be removed');
      }
    }
    const failed = this.sysctls.restore();
    if (failed.length) this.log.warn({ errors: failed }, 'interface settings could not all be put back');
    const names = this.vmacs.names;
    try {
      const errors = await this.vmacs.removeAll();
      if (errors.length) this.log.warn({ errors }, 'VMAC interfaces could not all be removed');
      else if (names.length) this.log.info({ vmacs: names }, 'VMAC interfaces removed');
    } catch (err) {
      this.log.warn({ err: errMsg(err) }, 'VMAC interfaces could not all be removed');
    }
  }
}

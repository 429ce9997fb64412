// From the config to what the director needs per VIP, and the inputs of the policy from the
// health checker's and the reconciler's views. PURE.
import { parseBgpPrefix, vipVirtualServers } from '../config/bgp.js';
import type { Config, VirtualServer } from '../config/schema.js';
import type { DesiredBackends } from '../check/pool.js';
import { allUp, desiredTable, virtualServerId } from '../ipvs/desired.js';
import { serviceKey } from '../ipvs/model.js';
import type { ReconcilerSnapshot } from '../ipvs/reconciler.js';
import type { RouteAttributes, ServiceHealth } from './policy.js';

export interface VipPlan {
  /** `192.0.2.10/32` */
  prefix: string;
  address: string;
  family: 4 | 6;
  servedBy: 'ipvs' | 'local';
  /** The virtual servers behind it (ids as the health checker names them). */
  virtualServers: string[];
  /** The IPVS services that must be in the kernel before it is announced (`TCP 192.0.2.10:80`). */
  ipvsServices: string[];
  attrs: { normal: RouteAttributes; drain: RouteAttributes };
  drainGraceMs: number;
  /** `drain: true` in the config */
  drain: boolean;
}

export function planVips(config: Config): VipPlan[] {
  const bgp = config.bgp;
  if (!bgp) return [];
  const { table, owners } = desiredTable(config, allUp(config));
  const plans: VipPlan[] = [];
  for (const vip of bgp.vips) {
    const route = parseBgpPrefix(vip.prefix);
    if ('error' in route) continue; // refused by validateBgp before a config gets here
    const ids = vipVirtualServers(config, vip).map((i) => virtualServerId(config.virtual_servers[i] as VirtualServer));
    const ipvsServices =
      vip.served_by === 'ipvs'
        ? table.filter((s) => ids.includes(owners.get(serviceKey(s.id)) ?? '') && (s.id.kind === 'fwmark' || s.id.address === route.address)).map((s) => serviceKey(s.id))
        : [];
    plans.push({
      prefix: route.prefix,
      address: route.address,
      family: route.family,
      servedBy: vip.served_by,
      virtualServers: ids,
      ipvsServices,
      attrs: {
        normal: { med: vip.med ?? bgp.med, communities: vip.communities ?? bgp.communities },
        drain: { med: vip.drain_med ?? bgp.drain_med, communities: vip.drain_communities ?? bgp.drain_communities },
      },
      drainGraceMs: vip.drain_grace ?? bgp.drain_grace,
      drain: vip.drain,
    });
  }
  return plans;
}

/**
 * The config the IPVS reconciler gets in bgp mode: without the virtual servers that serve only
 * `served_by: local` VIPs (they exist for their health checks; the VIP's traffic goes to local
 * processes, not through IPVS).
 */
export function ipvsConfigView(config: Config): Config {
  const bgp = config.bgp;
  if (!bgp) return config;
  const local = new Set<number>();
  const ipvs = new Set<number>();
  for (const vip of bgp.vips) for (const i of vipVirtualServers(config, vip)) (vip.served_by === 'local' ? local : ipvs).add(i);
  if (local.size === 0) return config;
  return { ...config, virtual_servers: config.virtual_servers.filter((_, i) => !local.has(i) || ipvs.has(i)) };
}

/** Per virtual server id: its quorum verdict and counts, from the health checker's desired backends. */
export function serviceHealth(config: Config, desired: readonly DesiredBackends[]): Map<string, ServiceHealth> {
  const byId = new Map(config.virtual_servers.map((vs) => [virtualServerId(vs), vs]));
  const out = new Map<string, ServiceHealth>();
  for (const d of desired) {
    const vs = byId.get(d.vs);
    out.set(d.vs, {
      vs: d.vs,
      quorumUp: d.quorumUp,
      up: d.backends.filter((b) => b.role === 'real' && b.reason === 'alive').length,
      total: vs?.real_servers.length ?? 0,
      quorum: vs?.quorum ?? 0,
    });
  }
  return out;
}

/** What the director keeps of a reconciler snapshot: its state and the services in the kernel. */
export interface IpvsView {
  status: ReconcilerSnapshot['status'];
  error?: string;
  services: ReadonlySet<string>;
}

export function ipvsView(snapshot: ReconcilerSnapshot): IpvsView {
  return {
    status: snapshot.status,
    ...(snapshot.sync.lastError ? { error: snapshot.sync.lastError } : {}),
    services: new Set(snapshot.table.map((s) => serviceKey(s.id))),
  };
}

/** Whether IPVS holds a VIP's services, and if not, why (for the policy's reason). */
export function ipvsConvergence(plan: VipPlan, view: IpvsView | undefined): { converged: boolean; detail?: string } {
  if (plan.servedBy === 'local') return { converged: true };
  if (!view) return { converged: false, detail: 'the IPVS reconciler has not reported yet' };
  if (view.status !== 'in-sync') return { converged: false, detail: `IPVS ${view.status}${view.error ? `: ${view.error}` : ''}` };
  if (plan.ipvsServices.length === 0) return { converged: false, detail: 'no IPVS service for this address' };
  const missing = plan.ipvsServices.filter((k) => !view.services.has(k));
  return missing.length === 0 ? { converged: true } : { converged: false, detail: `not in the kernel: ${missing.join(', ')}` };
}

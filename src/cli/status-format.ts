// `vipkeeper status` for people. The VRRP part reads like keepalived's data dump (SIGUSR1,
// /tmp/keepalived.data): one block per instance, `Key = value`. The IPVS part is `ipvsadm -Ln`
// to the column (same header, same service line, same `%-28s %-7s %-6d %-10u %-10u` rows), so
// eyes and scripts used to ipvsadm read it unchanged; vipkeeper's own columns (the check verdict,
// the last check, its reason) come after ipvsadm's.
import type { BgpStatus } from '../bgp/status.js';
import type { RealServerStatus } from '../check/health.js';
import type { DaemonStatus, IpvsServiceStatus } from '../daemon/control/status.js';
import type { InstanceStatus } from '../daemon/vrrp/types.js';

function pad(s: string | number, n: number): string {
  return String(s).padEnd(n);
}

/** ipvsadm's word for each forwarding method (fwd_name() in ipvsadm.c). */
export const FORWARD: Record<string, string> = { DR: 'Route', NAT: 'Masq', TUN: 'Tunnel', LOCAL: 'Local' };

/** ipvsadm prints the scheduler flags by the scheduler's own names. */
function flagName(scheduler: string, flag: string): string {
  if (scheduler === 'sh' || scheduler === 'mh') {
    if (flag === 'flag-1') return `${scheduler}-fallback`;
    if (flag === 'flag-2') return `${scheduler}-port`;
  }
  return flag;
}

/** `TCP  10.0.0.1:80` / `FWM  1` / `FWM  2 IPv6`, from a service key (`TCP 10.0.0.1:80`, `FWM 2 inet6`). */
export function ipvsadmServiceName(key: string): string {
  const f = /^FWM (\d+) (inet6?)$/.exec(key);
  if (f) return `FWM  ${f[1]}${f[2] === 'inet6' ? ' IPv6' : ''}`;
  const a = /^(TCP|UDP|SCTP) (.+)$/.exec(key);
  return a ? `${pad(a[1]!, 4)} ${a[2]}` : key;
}

/** The service line of `ipvsadm -Ln`: name, scheduler, (flags), persistent N, mask M, ops. */
export function ipvsadmServiceLine(svc: IpvsServiceStatus): string {
  const flags = svc.flags.filter((f) => f !== 'ops').map((f) => flagName(svc.scheduler, f));
  let line = `${ipvsadmServiceName(svc.service)} ${svc.scheduler}`;
  if (flags.length) line += ` (${flags.join(',')})`;
  if (svc.persistenceS) line += ` persistent ${svc.persistenceS}`;
  if (svc.persistenceS && svc.persistenceMask) line += ` mask ${svc.persistenceMask}`;
  if (svc.flags.includes('ops')) line += ' ops';
  return line;
}

/** `  -> %-28s %-7s %-6d %-10u %-10u` (ipvsadm.c, print_service_entry). */
export function ipvsadmDestLine(addr: string, forward: string, weight: string | number, active: string | number, inact: string | number): string {
  return `  -> ${pad(addr, 28)} ${pad(forward, 7)} ${pad(weight, 6)} ${pad(active, 10)} ${pad(inact, 10)}`;
}

export const IPVSADM_HEADER = ['Prot LocalAddress:Port Scheduler Flags', '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn'];

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A duration in the unit a person reads: 850ms, 12.3s, 4m05s, 3h12m, 2d04h. */
export function ago(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

/** The reason of a verdict in a few words: `ok`, `HTTP 200`, `timeout: no answer in 3s`. */
function checkReason(r: RealServerStatus): string {
  const res = r.lastResult;
  if (!res) return 'not checked yet';
  const text = res.ok ? (res.detail ?? 'ok') : `${res.reason}${res.detail ? `: ${res.detail}` : ''}`;
  const one = text.replace(/\s+/g, ' ');
  return one.length > 72 ? `${one.slice(0, 71)}…` : one;
}

export function formatStatus(s: DaemonStatus): string {
  const out: string[] = [];
  const up = Math.round(s.node.uptimeS);
  out.push(`vipkeeper ${s.node.version} on ${s.node.hostname}${s.node.routerId ? ` (router_id ${s.node.routerId})` : ''}, pid ${s.node.pid}, up ${ago(up * 1000)} (since ${s.node.startedAt})`);
  const lr = s.config.lastReload;
  const reload = lr ? `; last reload ${lr.ok ? 'applied' : 'REFUSED'} at ${lr.at}${lr.ok ? '' : `: ${lr.error ?? ''}`}` : '';
  out.push(`config ${s.config.path} (${s.config.format}, ${s.config.hash})${reload}${s.maintenance ? '; MAINTENANCE' : ''}`);
  out.push('');
  out.push(...formatVrrp(s));
  if (s.bgp) out.push('', ...formatBgp(s.bgp));
  out.push('', ...formatIpvs(s));
  return `${out.join('\n')}\n`;
}

/** The VRRP part, in the words of keepalived's data dump. */
export function formatVrrp(s: DaemonStatus): string[] {
  const out = ['------< VRRP Topology >------'];
  const v = s.vrrp;
  if (!v) return [...out, ' (the VRRP engine is not answering)'];
  if (v.instances.length === 0) return [...out, ' (no instances)'];
  for (const i of v.instances) out.push(...formatInstance(i, v.at));
  if (v.syncGroups.length) {
    out.push('------< VRRP Sync groups >------');
    for (const g of v.syncGroups) out.push(` VRRP Sync Group = ${g.name}, ${g.state}`, `   monitor = ${g.members.join(' ')}`);
  }
  if (v.processMonitor) {
    const pm = v.processMonitor;
    out.push('------< Tracked processes >------');
    out.push(` Process events = ${pm.mode}${pm.warning ? ` (WARNING: ${pm.warning})` : ''}`);
    for (const [name, p] of Object.entries(pm.processes)) out.push(` Track process = ${name}`, `   Current processes = ${p.count}`, `   Have quorum = ${p.quorum}`);
  }
  if (v.thread?.error) out.push(` VRRP thread: ${v.thread.policy} priority ${v.thread.priority} (asked ${v.thread.requested}: ${v.thread.error})`);
  return out;
}

function formatInstance(i: InstanceStatus, now: number): string[] {
  const out = [` VRRP Instance = ${i.name}`];
  const kv = (k: string, val: string) => out.push(`   ${pad(k, 20)}= ${val}`);
  kv('State', `${i.state}${i.maintenance ? ' (maintenance)' : ''}`);
  const last = i.recentTransitions[i.recentTransitions.length - 1];
  if (last) kv('Last transition', `${last.time ?? `${Math.round(last.at)} ms`} (${ago(now - last.at)} ago) ${last.from} -> ${last.to}: ${last.reason}`);
  else kv('Last transition', 'none yet');
  if (i.state === 'MASTER') kv('Master router', `${i.sourceIp} (this node)`);
  else if (i.masterSeen) kv('Master router', `${i.masterSeen.ip}, priority ${i.masterSeen.priority}, last advert ${ago(now - i.masterSeen.lastSeenAt)} ago`);
  else kv('Master router', 'none seen');
  kv('Priority', `${i.basePriority} base, ${i.effectivePriority} effective${i.tracking?.reason && i.basePriority !== i.effectivePriority ? ` (${i.tracking.reason})` : ''}`);
  kv('Interface', `${i.interface ?? '-'}, source ${i.sourceIp}`);
  kv('Virtual Router ID', `${i.vrid}, VRRPv${i.version}, advert ${i.advertIntervalMs >= 1000 && i.advertIntervalMs % 1000 === 0 ? `${i.advertIntervalMs / 1000} sec` : `${i.advertIntervalMs} ms`}`);
  if (i.syncGroup) kv('Sync group', i.syncGroup);
  kv(`Virtual IP (${i.vips.length})`, `${i.vips.join(' ') || '-'}${i.vips.length ? (i.vipsSet ? ' (set here)' : ' (not set here)') : ''}`);
  if (i.fault.link || i.fault.track) kv('Fault', i.fault.reason || (i.fault.link ? 'link down' : i.vipError ? 'the VIPs could not be added' : 'tracker failed'));
  if (i.vipError) kv('VIP error', i.vipError);
  return out;
}

/** The IPVS part: `ipvsadm -Ln`, then vipkeeper's columns. */
export function formatIpvs(s: DaemonStatus): string[] {
  const ipvs = s.ipvs;
  const out: string[] = [];
  const managed = ipvs && ipvs.state !== 'disabled';
  out.push(`IP Virtual Server table, as vipkeeper keeps it: ${ipvs ? ipvs.state : 'not managed'}${ipvs?.lastReconcileAt ? ` (last read ${ipvs.lastReconcileAt})` : ''}`);
  // The reason is said once, here: it is the same for every row.
  if (ipvs?.error) out.push(`  ${ipvs.error.replace(/\s+/g, ' ')}`);
  if (ipvs && ipvs.state !== 'in-sync' && managed) out.push('  (the rows are the configured table; ActiveConn and InActConn need the kernel)');
  out.push(IPVSADM_HEADER[0]!);
  out.push(`${IPVSADM_HEADER[1]!}  ${pad('Check', 8)}${pad('Checked', 10)}Reason`);
  const kernel = new Map((ipvs?.table ?? []).map((t) => [t.service, t]));
  const configured = ipvs?.configured ?? [];
  const haveKernel = ipvs?.state === 'in-sync' || (ipvs?.table.length ?? 0) > 0;
  const healthAt = s.health?.at ?? 0;
  const services = s.health?.services ?? [];
  for (const svc of services) {
    const mine = configured.filter((c) => c.vs === svc.vs);
    const keys = mine.length ? mine.map((c) => c.service) : [...kernel.values()].filter((t) => t.vs === svc.vs).map((t) => t.service);
    // A virtual server with no IPVS service (IPVS not managed, a group that expands to nothing) still lists its real servers.
    for (const key of keys.length ? keys : [undefined]) {
      const k = key === undefined ? undefined : kernel.get(key);
      const c = key === undefined ? undefined : mine.find((m) => m.service === key);
      const shown = k ?? c;
      const marks = `${svc.quorumUp ? '' : '  [quorum lost]'}${svc.sorryActive ? '  [sorry server]' : ''}${haveKernel && !k ? '  [not in the kernel]' : ''}`;
      out.push(`${shown ? ipvsadmServiceLine(shown) : svc.vs}${marks}`);
      for (const r of svc.realServers) {
        const dest = k?.dests.find((d) => d.address === r.address && d.port === r.port);
        const cd = c?.dests.find((d) => d.address === r.address && d.port === r.port);
        const line = s.realServers.find((l) => l.vs === svc.vs && l.address === r.address && l.port === r.port);
        const drained = line?.drained ?? false;
        const fwd = dest?.forwarding ?? cd?.forwarding;
        // A drained server's weight is 0 whatever the config says; one the kernel does not hold has none.
        const weight = drained ? 0 : dest ? dest.weight : haveKernel ? '-' : r.weight;
        const verdict = drained ? 'drained' : r.up ? 'up' : 'down';
        const checked = r.lastCheckedAt !== undefined ? ago(healthAt - r.lastCheckedAt) : '-';
        out.push(
          `${ipvsadmDestLine(hostPort(r.address, r.port), fwd ? (FORWARD[fwd] ?? fwd) : '-', weight, dest?.activeConn ?? '-', dest?.inactConn ?? '-')} ${pad(verdict, 8)}${pad(checked, 10)}${checkReason(r)}`,
        );
      }
      // The sorry server and any destination the kernel holds that no real server of the config names.
      for (const d of k?.dests ?? []) {
        if (svc.realServers.some((r) => r.address === d.address && r.port === d.port)) continue;
        out.push(`${ipvsadmDestLine(hostPort(d.address, d.port), FORWARD[d.forwarding] ?? d.forwarding, d.weight, d.activeConn ?? '-', d.inactConn ?? '-')} ${svc.sorryActive ? 'sorry' : ''}`);
      }
    }
  }
  if (services.length === 0) out.push('  (no virtual servers)');
  if (s.arp) {
    out.push('', `ARP problem probe (DR/TUN VIPs, every ${s.arp.intervalS}s while MASTER; ${s.arp.probes} round(s))${s.arp.lastError ? `: ${s.arp.lastError}` : ''}`);
    if (s.arp.problems.length === 0) out.push('  no other host answers ARP for a VIP');
    for (const p of s.arp.problems) out.push(`  WARNING: ${p.mac} (${p.realServer ? `real server ${p.realServer}` : p.addresses.join(', ') || 'unknown host'}) answers ARP for ${p.vip} on ${p.ifname}, since ${p.since}`);
  }
  return out.map((l) => l.trimEnd());
}

/** The bgp part: the engine, each session, each VIP with the reason for its state. */
function formatBgp(b: BgpStatus): string[] {
  const e = b.engine;
  const out = [`BGP (AS ${b.localAs}, router id ${b.routerId}; ${e.name} ${e.state}${e.pid ? `, pid ${e.pid}` : ''}${e.restarts ? `, ${e.restarts} restart(s)` : ''}${e.lastError && e.state !== 'running' ? `: ${e.lastError}` : ''})${b.maintenance ? ' MAINTENANCE' : ''}`];
  out.push(`  ${pad('Peer', 14)}${pad('Address', 26)}${pad('AS', 12)}State`);
  for (const p of b.peers) out.push(`  ${pad(p.name, 14)}${pad(p.address, 26)}${pad(p.as, 12)}${p.state}${p.info ? ` (${p.info})` : ''}`);
  if (b.peers.length === 0) out.push('  (no session state from the engine yet)');
  out.push(`  ${pad('VIP', 26)}${pad('State', 11)}Reason`);
  for (const v of b.vips) out.push(`  ${pad(v.prefix, 26)}${pad(v.state, 11)}${v.reason}${v.inEngine ? '' : ' [not yet in the engine]'}`);
  return out;
}

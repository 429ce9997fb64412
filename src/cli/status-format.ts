// `vipkeeper status` for people: the VRRP instances, then the table in the layout of
// `ipvsadm -Ln` with each real server's check verdict beside it.
import type { BgpStatus } from '../bgp/status.js';
import type { DaemonStatus } from '../daemon/control/status.js';

function pad(s: string | number, n: number): string {
  return String(s).padEnd(n);
}

const FORWARD: Record<string, string> = { DR: 'Route', NAT: 'Masq', TUN: 'Tunnel' };

/** The health checker names a service `10.0.0.1 80 TCP` / `fwmark 1`; IPVS as `TCP 10.0.0.1:80` / `FWM 1 inet`. */
function ipvsKeys(vs: string): string[] {
  const a = /^(\S+) (\d+) (TCP|UDP|SCTP)$/.exec(vs);
  if (a) return [`${a[3]} ${a[1]!.includes(':') ? `[${a[1]}]` : a[1]}:${a[2]}`];
  const f = /^fwmark (\d+)$/.exec(vs);
  return f ? [`FWM ${f[1]} inet`, `FWM ${f[1]} inet6`] : [];
}

export function formatStatus(s: DaemonStatus): string {
  const out: string[] = [];
  const up = Math.round(s.node.uptimeS);
  out.push(`vipkeeper ${s.node.version} on ${s.node.hostname}${s.node.routerId ? ` (router_id ${s.node.routerId})` : ''}, pid ${s.node.pid}, up ${up}s`);
  const reload = s.config.lastReload ? `, last reload ${s.config.lastReload.ok ? 'ok' : `REFUSED: ${s.config.lastReload.error ?? ''}`}` : '';
  out.push(`config ${s.config.path} (${s.config.format}, ${s.config.hash})${reload}${s.maintenance ? ', MAINTENANCE' : ''}`);
  out.push('');
  out.push('VRRP');
  const instances = s.vrrp?.instances ?? [];
  if (!s.vrrp) out.push('  (VRRP engine not answering)');
  else if (instances.length === 0) out.push('  (no instances)');
  else {
    out.push(`  ${pad('Instance', 14)}${pad('VRID', 6)}${pad('Intf', 10)}${pad('State', 8)}${pad('Prio', 9)}${pad('Master seen', 18)}VIPs`);
    for (const i of instances) {
      const prio = i.basePriority === i.effectivePriority ? `${i.basePriority}` : `${i.basePriority}/${i.effectivePriority}`;
      const master = i.state === 'MASTER' ? '(this node)' : (i.masterSeen?.ip ?? '-');
      out.push(`  ${pad(i.name, 14)}${pad(i.vrid, 6)}${pad(i.interface ?? '-', 10)}${pad(i.state, 8)}${pad(prio, 9)}${pad(master, 18)}${i.vips.join(' ')}`);
      const last = i.recentTransitions[i.recentTransitions.length - 1];
      if (last) out.push(`    last: ${last.from} -> ${last.to} (${last.reason})`);
      // a VIP that could not be added holds the instance in FAULT (the peer has it) until a retry works
      if (i.vipError) out.push(`    VIPs NOT SET: ${i.vipError}`);
    }
  }
  if (s.bgp) out.push('', ...formatBgp(s.bgp));
  out.push('');
  const ipvs = s.ipvs;
  out.push(`IP Virtual Server table (${ipvs ? ipvs.state : 'not managed'}${ipvs?.error ? `: ${ipvs.error}` : ''})`);
  out.push('Prot LocalAddress:Port Scheduler Flags');
  out.push('  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn Check');
  const services = s.health?.services ?? [];
  for (const svc of services) {
    const keys = ipvsKeys(svc.vs);
    const table = ipvs?.table.find((t) => keys.includes(t.service));
    const flags = table ? [...table.flags, ...(table.persistenceS ? [`persistent ${table.persistenceS}`] : [])].join(' ') : '';
    out.push(`${svc.vs} ${table?.scheduler ?? ''}${flags ? ` ${flags}` : ''}${svc.quorumUp ? '' : '  [quorum lost]'}`);
    for (const r of svc.realServers) {
      const dest = table?.dests.find((d) => d.address === r.address && d.port === r.port);
      const line = s.realServers.find((l) => l.vs === svc.vs && l.address === r.address && l.port === r.port);
      const verdict = `${r.up ? 'up' : 'down'}${line?.drained ? ' (drained)' : ''}`;
      const addr = r.address.includes(':') ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`;
      out.push(`  -> ${pad(addr, 28)}${pad(dest ? (FORWARD[dest.forwarding] ?? dest.forwarding) : '-', 8)}${pad(r.weight, 7)}${pad(dest?.activeConn ?? '-', 11)}${pad(dest?.inactConn ?? '-', 10)}${verdict}`);
    }
  }
  if (services.length === 0) out.push('  (no virtual servers)');
  return `${out.join('\n')}\n`;
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

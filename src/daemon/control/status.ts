// The daemon's status as plain JSON: what `GET /status` returns, what `vipkeeper
// status` prints, and what the metrics are read from at scrape time.
import type { BgpStatus } from '../../bgp/status.js';
import type { HealthSnapshot } from '../../check/health.js';
import type { ArpWatchStatus } from '../../realserver/arp-watch.js';
import type { Config } from '../../config/schema.js';
import { desiredTable, virtualServerId, type BackendState } from '../../ipvs/desired.js';
import { serviceKey, type IpvsTable, type Service } from '../../ipvs/model.js';
import type { RuntimeSnapshot } from '../vrrp/types.js';

export interface ConfigState {
  path: string;
  format: 'yaml' | 'keepalived' | 'ldirectord';
  hash: string; // sha256 of the normalized model, first 16 hex digits
  loadedAt: string; // ISO time
  reloads: { ok: number; failed: number };
  lastReload?: { at: string; ok: boolean; error?: string };
}

/** The IPVS table as the reconciler last saw it. */
export interface IpvsStatus {
  state: 'in-sync' | 'degraded' | 'disabled' | 'pending';
  error?: string;
  driftCorrections: number;
  reconciles: number;
  lastReconcileAt?: string;
  /** Services and destinations as the kernel held them at the last read (`ipvsadm -Sn`), with its connection counts. */
  table: IpvsServiceStatus[];
  /**
   * The services and real servers as the config defines them, every real server alive at its
   * configured weight: where the kernel table cannot say (IPVS degraded, a real server removed
   * while down), `status` still shows the scheduler and the forwarding method.
   */
  configured?: IpvsServiceStatus[];
}

export interface IpvsServiceStatus {
  service: string; // e.g. "TCP 10.0.0.1:80" or "FWM 1 inet"
  /** The virtual server of the config it comes from (`10.0.0.1 80 TCP`, `fwmark 1`, `group NAME`). */
  vs?: string;
  scheduler: string;
  flags: string[];
  persistenceS?: number;
  /** Persistence granularity when not per client (IPv4 netmask, IPv6 prefix length). */
  persistenceMask?: string;
  dests: { address: string; port: number; forwarding: string; weight: number; activeConn?: number; inactConn?: number }[];
}

/** One IPVS service of the model in status terms. */
export function serviceStatus(svc: Service, owner?: string): IpvsServiceStatus {
  const mask = svc.persistence?.netmask;
  return {
    service: serviceKey(svc.id),
    ...(owner ? { vs: owner } : {}),
    scheduler: svc.scheduler,
    flags: [...svc.flags, ...(svc.ops ? ['ops'] : [])],
    ...(svc.persistence ? { persistenceS: svc.persistence.timeout } : {}),
    ...(mask && mask !== '255.255.255.255' && mask !== '128' ? { persistenceMask: mask } : {}),
    dests: svc.dests.map((d) => ({
      address: d.address,
      port: d.port,
      forwarding: d.forwarding,
      weight: d.weight,
      ...(d.activeConns !== undefined ? { activeConn: d.activeConns } : {}),
      ...(d.inactiveConns !== undefined ? { inactConn: d.inactiveConns } : {}),
    })),
  };
}

/** The config's IPVS table with every real server alive, each service named with its virtual server. */
export function configuredTable(config: Config): { table: IpvsTable; owners: Map<string, string> } {
  const state: Record<string, BackendState[string]> = {};
  for (const vs of config.virtual_servers) {
    state[virtualServerId(vs)] = {
      mode: 'real',
      servers: vs.real_servers.map((rs) => ({ address: rs.address, ...(rs.port !== undefined ? { port: rs.port } : {}), weight: rs.weight ?? vs.weight })),
    };
  }
  const { table, owners } = desiredTable(config, state);
  return { table, owners };
}

export interface DaemonStatus {
  node: { routerId?: string; hostname: string; pid: number; version: string; startedAt: string; uptimeS: number };
  config: ConfigState;
  vrrp?: RuntimeSnapshot;
  health?: HealthSnapshot;
  ipvs?: IpvsStatus;
  maintenance: boolean;
  /** Every real server, flat, for scripts: address, port, verdict and weight. */
  realServers: RealServerLine[];
  /** Real servers an operator drained, as "vs rs" keys. */
  drained: string[];
  counters: {
    otherMasterSeen: Record<string, number>;
    /** Rejections no code handled; logged and survived. */
    unhandledErrors?: number;
    /** Times the VRRP worker thread died and was restarted. */
    vrrpWorkerRestarts?: number;
    /** Watchdog pings withheld because the VRRP loop's heartbeat was late (systemd restarts the unit if it stays late). */
    watchdogLate?: number;
    /** smtp_alert mails (src/daemon/mail/mailer.ts), when mail is configured. */
    mail?: { queued: number; sent: number; failed: number; dropped: number };
  };
  /** The heap governor (heap-governor.ts), when it runs: collections asked of V8, and its RSS budget. */
  heap?: { governorRequests: number; fullCollections: number; floorBytes: number; limitBytes: number };
  /** BGP mode (config `bgp`): the engine, per VIP announced/draining/withdrawn with the reason, the sessions. */
  bgp?: BgpStatus;
  /** DR/TUN sites: the MASTER's ARP probe; `problems` are real servers answering ARP for a VIP. */
  arp?: ArpWatchStatus;
}

export interface RealServerLine {
  vs: string;
  address: string;
  port: number;
  verdict: 'up' | 'down';
  weight: number;
  drained: boolean;
}

/** Flattens the health snapshot into one line per real server. */
export function realServerLines(health: HealthSnapshot | undefined, drained: ReadonlySet<string>): RealServerLine[] {
  return (health?.services ?? []).flatMap((s) =>
    s.realServers.map((r) => ({
      vs: s.vs,
      address: r.address,
      port: r.port,
      verdict: r.up ? ('up' as const) : ('down' as const),
      weight: r.weight,
      drained: drained.has(`${s.vs} ${r.rs}`) || drained.has(r.rs),
    })),
  );
}

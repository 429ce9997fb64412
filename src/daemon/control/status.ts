// The daemon's status as plain JSON: what `GET /status` returns, what `vipkeeper
// status` prints, and what the metrics are read from at scrape time.
import type { BgpStatus } from '../../bgp/status.js';
import type { HealthSnapshot } from '../../check/health.js';
import type { RuntimeSnapshot } from '../vrrp/types.js';

export interface ConfigState {
  path: string;
  format: 'yaml' | 'keepalived';
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
  /** Services and destinations as `ipvsadm -Sn` would list them. */
  table: IpvsServiceStatus[];
}

export interface IpvsServiceStatus {
  service: string; // e.g. "TCP 10.0.0.1:80" or "FWM 1"
  scheduler: string;
  flags: string[];
  persistenceS?: number;
  dests: { address: string; port: number; forwarding: string; weight: number; activeConn?: number; inactConn?: number }[];
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
    /** Times the supervisor restarted a dead VRRP worker. */
    vrrpWorkerRestarts?: number;
  };
  /** The heap governor (heap-governor.ts), when it runs: collections asked of V8, and its RSS budget. */
  heap?: { governorRequests: number; fullCollections: number; floorBytes: number; limitBytes: number };
  /** BGP mode (config `bgp`): the engine, per VIP announced/draining/withdrawn with the reason, the sessions. */
  bgp?: BgpStatus;
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

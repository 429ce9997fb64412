// The `bgp` part of the daemon's status (GET /status, `vipkeeper status`, the metrics). It holds
// no secret: peers appear by name, address and AS, never with their password.
import type { PeerState } from './engine.js';

export type VipState = 'announced' | 'draining' | 'withdrawn';

export interface BgpVipStatus {
  prefix: string;
  servedBy: 'ipvs' | 'local';
  state: VipState;
  /** serving, draining, maintenance, checks-pending, quorum-lost, ipvs-not-converged, drained */
  code: string;
  reason: string;
  /** When the VIP entered this state (ISO). */
  since: string;
  /** Draining: when the withdraw is due (ISO). */
  withdrawAt?: string;
  med?: number;
  communities?: string[];
  /** The engine has been told (false while an apply is pending or failed). */
  inEngine: boolean;
}

export interface BgpStatus {
  engine: {
    name: string;
    state: 'starting' | 'running' | 'down' | 'stopped';
    pid?: number;
    since: string;
    restarts: number;
    /** Engines the hang watchdog killed (src/bgp/watchdog.ts). */
    watchdogKills: number;
    lastError?: string;
  };
  localAs: number;
  routerId: string;
  maintenance: boolean;
  vips: BgpVipStatus[];
  peers: PeerState[];
  applies: { ok: number; failed: number; lastMs?: number; lastError?: string };
  /** Per VIP, how often it entered each state. */
  transitions: Record<string, Partial<Record<VipState, number>>>;
}

// vipkeeper_bgp_* metrics, read from the bgp status at scrape time (like the rest of
// src/daemon/metrics.ts), so they never disagree with GET /status. Every one has a label, so a
// daemon without a bgp section shows none of them (only their HELP lines). Node maintenance is
// vipkeeper_maintenance, for both modes.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BgpStatus, VipState } from './status.js';

const VIP_STATES: readonly VipState[] = ['announced', 'draining', 'withdrawn'];
const ENGINE_STATES = ['starting', 'running', 'down', 'stopped'] as const;
const BGP_STATES = ['Established', 'Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'down'] as const;

export function registerBgpMetrics(registry: Registry, read: () => BgpStatus | undefined): void {
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, s: BgpStatus) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        const s = read();
        if (s) fill(this, s);
      },
    });
  const counter = (name: string, help: string, labelNames: string[], values: (s: BgpStatus) => [Record<string, string>, number][]) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        const s = read();
        if (s) for (const [labels, v] of values(s)) if (v > 0) this.inc(labels, v);
      },
    });

  gauge('vipkeeper_bgp_engine_up', 'Whether the BGP engine (bird) runs and answers (1) or not (0).', ['engine'], (g, s) => g.set({ engine: s.engine.name }, s.engine.state === 'running' ? 1 : 0));
  gauge('vipkeeper_bgp_engine_state', 'BGP engine state (1 for the current one).', ['engine', 'state'], (g, s) => {
    for (const st of ENGINE_STATES) g.set({ engine: s.engine.name, state: st }, s.engine.state === st ? 1 : 0);
  });
  counter('vipkeeper_bgp_engine_restarts_total', 'Times the BGP engine was started again after it ended.', ['engine'], (s) => [[{ engine: s.engine.name }, s.engine.restarts]]);
  counter('vipkeeper_bgp_watchdog_kills_total', "Times the hang watchdog killed the engine because vipkeeper's main loop stalled.", ['engine'], (s) => [[{ engine: s.engine.name }, s.engine.watchdogKills]]);
  gauge('vipkeeper_bgp_vip_announced', 'Whether this director announces the VIP (1, also while draining) or not (0).', ['vip'], (g, s) => {
    for (const v of s.vips) g.set({ vip: v.prefix }, v.state === 'withdrawn' ? 0 : 1);
  });
  gauge('vipkeeper_bgp_vip_state', 'Announce state per VIP (1 for the current one).', ['vip', 'state'], (g, s) => {
    for (const v of s.vips) for (const st of VIP_STATES) g.set({ vip: v.prefix, state: st }, v.state === st ? 1 : 0);
  });
  gauge('vipkeeper_bgp_vip_reason_info', "Why the VIP is in its state (value 1): serving, draining, maintenance, checks-pending, quorum-lost, ipvs-not-converged, drained.", ['vip', 'code'], (g, s) => {
    for (const v of s.vips) g.set({ vip: v.prefix, code: v.code }, 1);
  });
  counter('vipkeeper_bgp_vip_transitions_total', 'Times a VIP entered a state.', ['vip', 'state'], (s) =>
    Object.entries(s.transitions).flatMap(([vip, byState]) => Object.entries(byState).map(([state, n]): [Record<string, string>, number] => [{ vip, state }, n ?? 0])),
  );
  gauge('vipkeeper_bgp_peer_up', 'Whether the BGP session to the peer is Established (1) or not (0).', ['peer', 'address', 'as'], (g, s) => {
    for (const p of s.peers) g.set({ peer: p.name, address: p.address, as: String(p.as) }, p.established ? 1 : 0);
  });
  gauge('vipkeeper_bgp_peer_state', 'BGP session state per peer (1 for the current one).', ['peer', 'state'], (g, s) => {
    for (const p of s.peers) for (const st of BGP_STATES) g.set({ peer: p.name, state: st }, p.state === st ? 1 : 0);
  });
  counter('vipkeeper_bgp_applies_total', 'Announcement changes handed to the engine, by result.', ['result'], (s) => [
    [{ result: 'ok' }, s.applies.ok],
    [{ result: 'failed' }, s.applies.failed],
  ]);
}

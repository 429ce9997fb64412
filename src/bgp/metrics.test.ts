import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerBgpMetrics } from './metrics.js';
import type { BgpStatus } from './status.js';

const status: BgpStatus = {
  engine: { name: 'bird', state: 'running', pid: 42, since: '2026-01-01T00:00:00.000Z', restarts: 2, watchdogKills: 1 },
  localAs: 65001,
  routerId: '10.0.0.1',
  maintenance: false,
  vips: [
    { prefix: '192.0.2.10/32', servedBy: 'ipvs', state: 'draining', code: 'maintenance', reason: 'node maintenance', since: '2026-01-01T00:00:00.000Z', inEngine: true },
    { prefix: '192.0.2.11/32', servedBy: 'local', state: 'withdrawn', code: 'quorum-lost', reason: 'quorum lost', since: '2026-01-01T00:00:00.000Z', inEngine: true },
  ],
  peers: [{ name: 'tor1', address: '10.0.0.254', as: 65000, state: 'Established', established: true }],
  applies: { ok: 5, failed: 1 },
  transitions: { '192.0.2.10/32': { announced: 1, draining: 1 } },
};

async function scrape(s: BgpStatus | undefined): Promise<string[]> {
  const registry = new Registry();
  registerBgpMetrics(registry, () => s);
  return (await registry.metrics()).split('\n').filter((l) => l && !l.startsWith('#'));
}

describe('vipkeeper_bgp_* metrics', () => {
  it('are read from the bgp status', async () => {
    const lines = await scrape(status);
    expect(lines).toEqual(
      expect.arrayContaining([
        'vipkeeper_bgp_engine_up{engine="bird"} 1',
        'vipkeeper_bgp_engine_state{engine="bird",state="running"} 1',
        'vipkeeper_bgp_engine_state{engine="bird",state="down"} 0',
        'vipkeeper_bgp_engine_restarts_total{engine="bird"} 2',
        'vipkeeper_bgp_watchdog_kills_total{engine="bird"} 1',
        'vipkeeper_bgp_vip_announced{vip="192.0.2.10/32"} 1',
        'vipkeeper_bgp_vip_announced{vip="192.0.2.11/32"} 0',
        'vipkeeper_bgp_vip_state{vip="192.0.2.10/32",state="draining"} 1',
        'vipkeeper_bgp_vip_state{vip="192.0.2.10/32",state="announced"} 0',
        'vipkeeper_bgp_vip_reason_info{vip="192.0.2.11/32",code="quorum-lost"} 1',
        'vipkeeper_bgp_vip_transitions_total{vip="192.0.2.10/32",state="draining"} 1',
        'vipkeeper_bgp_peer_up{peer="tor1",address="10.0.0.254",as="65000"} 1',
        'vipkeeper_bgp_peer_state{peer="tor1",state="Established"} 1',
        'vipkeeper_bgp_applies_total{result="ok"} 5',
        'vipkeeper_bgp_applies_total{result="failed"} 1',
      ]),
    );
  });

  it('give no sample at all without a bgp section', async () => {
    expect(await scrape(undefined)).toEqual([]);
  });
});

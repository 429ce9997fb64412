// A VIP that could not be added is visible: the metric, and the human status.
import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../cli/status-format.js';
import { createMetrics } from './metrics.js';
import type { DaemonStatus } from './status.js';

function statusWith(vipError: string | undefined): DaemonStatus {
  return {
    node: { hostname: 'lvs-a', pid: 1, version: '0.1.0', startedAt: new Date(0).toISOString(), uptimeS: 1 },
    config: { path: 'x.yaml', format: 'yaml', hash: '0', loadedAt: new Date(0).toISOString(), reloads: { ok: 0, failed: 0 } },
    vrrp: {
      at: 1, running: true, transport: undefined, syncGroups: [],
      instances: [{
        name: 'VI_1', vrid: 51, version: 3, family: 4, interface: 'eth0', sourceIp: '192.0.2.2', advertIntervalMs: 1000, syncGroup: undefined, state: vipError ? 'FAULT' : 'MASTER', basePriority: 110, effectivePriority: 110,
        masterSeen: undefined, vips: ['192.0.2.10/24'], vipsSet: !vipError, maintenance: false, fault: { link: false, track: !!vipError, reason: '' },
        recentTransitions: [],
        counters: { advertsSent: 0, priorityZeroSent: 0, advertsReceived: 0, priorityZeroReceived: 0, advertsDropped: 0, lowerPriorityDiscarded: 0, sameIpConflicts: 0, becameMaster: 0, releasedMaster: 0, garpBursts: 0 },
        ...(vipError ? { vipError } : {}),
      }],
    },
    ipvs: { state: 'disabled', driftCorrections: 0, reconciles: 0, table: [] },
    maintenance: false,
    realServers: [],
    drained: [],
    counters: { otherMasterSeen: {} },
  } as unknown as DaemonStatus;
}

describe('a failed VIP add is visible', () => {
  it('vipkeeper_vrrp_vip_error is 1 while it lasts, 0 after', async () => {
    let s = statusWith('adding VIPs: 192.0.2.10/24: Operation not permitted');
    const m = createMetrics(() => s);
    expect(await m.registry.metrics()).toMatch(/^vipkeeper_vrrp_vip_error\{iname="VI_1",intf="eth0",vrid="51"\} 1$/m);
    s = statusWith(undefined);
    expect(await m.registry.metrics()).toMatch(/^vipkeeper_vrrp_vip_error\{iname="VI_1",intf="eth0",vrid="51"\} 0$/m);
  });

  it('vipkeeper status says the VIPs are not set, and why', () => {
    expect(formatStatus(statusWith('adding VIPs: 192.0.2.10/24: Operation not permitted'))).toMatch(/^   VIP error += adding VIPs: 192\.0\.2\.10\/24: Operation not permitted$/m);
    expect(formatStatus(statusWith('adding VIPs: 192.0.2.10/24: Operation not permitted'))).toMatch(/^   Fault +=.*the VIPs could not be added/m);
    expect(formatStatus(statusWith(undefined))).not.toContain('VIP error');
  });
});

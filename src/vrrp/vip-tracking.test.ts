import { describe, expect, it } from 'vitest';
import type { ResolvedTracker } from './tracking.js';
import { withVipInterfaces } from './vip-tracking.js';

const vip = (address: string, dev?: string, noTrack = false) => ({ address, prefix: 24, ...(dev ? { dev } : {}), ...(noTrack ? { no_track: true } : {}) });

describe("a VIP's interface is tracked as keepalived does", () => {
  it('adds a weight-0 tracker per other interface, once, and not for no_track VIPs or the own interface / VMAC', () => {
    const t = withVipInterfaces([], {
      vips: [vip('10.0.0.1', 'vrrp.1'), vip('10.0.0.2', 'eth0'), vip('10.0.1.1', 'eth1'), vip('10.0.1.2', 'eth1'), vip('10.0.2.1', 'eth2', true)],
      defaultDev: 'vrrp.1',
      interface: 'eth0',
    });
    expect(t).toEqual([{ kind: 'interface', name: 'eth1', weight: 0, reverse: false, from: 'vip' }]);
  });
  it('a weighted track_interface on the same interface becomes weight 0', () => {
    const own: ResolvedTracker = { kind: 'interface', name: 'eth1', weight: -20, reverse: false, from: 'instance' };
    expect(withVipInterfaces([own], { vips: [vip('10.0.1.1', 'eth1')], defaultDev: 'eth0', interface: 'eth0' })).toEqual([{ ...own, weight: 0, from: 'vip' }]);
  });
});

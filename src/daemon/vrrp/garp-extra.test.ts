import { describe, expect, it } from 'vitest';
import type { Vip } from '../../config/schema.js';
import type { ResolvedInstance } from '../../vrrp/params.js';
import { garpExtraTargets } from './garp-extra.js';

const r = (defaultDev: string, vips: Vip[], xmitBase = false): ResolvedInstance =>
  ({ defaultDev, vips, vmac: defaultDev.startsWith('vrrp.') ? { name: defaultDev, xmitBase } : undefined }) as unknown as ResolvedInstance;
const v = (address: string, dev?: string): Vip => ({ address, prefix: 24, ...(dev ? { dev } : {}) });
const vmacs = new Set(['vrrp.1', 'vrrp.2']);
const ours = (i: string) => vmacs.has(i);

describe('garp_extra_if targets (keepalived vrrp_send_vmac_update)', () => {
  it('without all: only another VMAC, first VIP on it', () => {
    const inst = r('eth0', [v('10.0.0.1'), v('10.0.1.1', 'vrrp.2'), v('10.0.1.2', 'vrrp.2'), v('10.0.2.1', 'eth1')]);
    expect(garpExtraTargets(inst, { intervalMs: 1000, all: false }, ours)).toEqual([{ ...v('10.0.1.1', 'vrrp.2') }]);
  });
  it('with all: every other interface; the own one only with vmac_xmit_base', () => {
    const vips = [v('10.0.0.1', 'vrrp.1'), v('10.0.2.1', 'eth1'), v('10.0.2.2', 'eth1')];
    expect(garpExtraTargets(r('vrrp.1', vips), { intervalMs: 1000, all: true }, ours).map((t) => t.dev)).toEqual(['eth1']);
    expect(garpExtraTargets(r('vrrp.1', vips, true), { intervalMs: 1000, all: true }, ours).map((t) => t.dev)).toEqual(['vrrp.1', 'eth1']);
  });
  it('off when no VIP is on an extra interface (even the own VMAC with xmit_base)', () => {
    expect(garpExtraTargets(r('vrrp.1', [v('10.0.0.1', 'vrrp.1')], true), { intervalMs: 1000, all: true }, ours)).toEqual([]);
    expect(garpExtraTargets(r('eth0', [v('10.0.2.1', 'eth1')]), { intervalMs: 1000, all: false }, ours)).toEqual([]);
  });
});

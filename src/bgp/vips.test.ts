import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DesiredBackends } from '../check/pool.js';
import { ConfigSchema, type Config } from '../config/schema.js';
import { desiredTable } from '../ipvs/desired.js';
import { ipvsConfigView, ipvsConvergence, planVips, serviceHealth, type IpvsView } from './vips.js';

const rs = (address: string) => ({ address, checks: [{ type: 'TCP_CHECK' }] });
const config: Config = ConfigSchema.parse({
  virtual_server_groups: { web: [{ address: '192.0.2.10', port: 443 }, { address: '192.0.2.30', port: 443 }] },
  virtual_servers: [
    { address: '192.0.2.10', port: 80, lb_algo: 'mh', real_servers: [rs('10.1.0.1'), rs('10.1.0.2')], quorum: 2 },
    { group: 'web', lb_algo: 'mh', real_servers: [rs('10.1.0.1')] },
    { address: '192.0.2.20', port: 53, protocol: 'UDP', real_servers: [rs('10.1.0.3')] },
  ],
  bgp: {
    local_as: 65001,
    router_id: '10.0.0.1',
    med: 5,
    communities: ['65001:1'],
    drain_grace: '10s',
    peers: [{ address: '10.0.0.254', as: 65000 }],
    vips: ['192.0.2.10', { prefix: '192.0.2.20/32', served_by: 'local', med: 7, drain_med: 100, drain_communities: [], drain_grace: '2s', drain: true }],
  },
});

describe('planVips', () => {
  it('finds the virtual servers and IPVS services behind each VIP, and its attributes', () => {
    const [a, b] = planVips(config);
    expect(a).toEqual({
      prefix: '192.0.2.10/32',
      address: '192.0.2.10',
      family: 4,
      servedBy: 'ipvs',
      virtualServers: ['192.0.2.10 80 TCP', 'group web'],
      // the group's other address (192.0.2.30) is not this VIP's
      ipvsServices: ['TCP 192.0.2.10:443', 'TCP 192.0.2.10:80'],
      attrs: { normal: { med: 5, communities: ['65001:1'] }, drain: { med: 4294967295, communities: ['65535:0'] } },
      drainGraceMs: 10_000,
      drain: false,
    });
    expect(b).toMatchObject({ prefix: '192.0.2.20/32', servedBy: 'local', virtualServers: ['192.0.2.20 53 UDP'], ipvsServices: [], attrs: { normal: { med: 7 }, drain: { med: 100, communities: [] } }, drainGraceMs: 2000, drain: true });
  });

  it('is empty without a bgp section', () => {
    expect(planVips(ConfigSchema.parse({}))).toEqual([]);
  });
});

describe('ipvsConfigView', () => {
  it('leaves out the virtual servers that only serve VIPs served by local processes', () => {
    expect(ipvsConfigView(config).virtual_servers.map((vs) => vs.address ?? vs.group)).toEqual(['192.0.2.10', 'web']);
    const noBgp = ConfigSchema.parse({ virtual_servers: config.virtual_servers });
    expect(ipvsConfigView(noBgp)).toBe(noBgp);
  });
});

describe('serviceHealth', () => {
  it('counts alive real servers and takes total and quorum from the config', () => {
    const desired: DesiredBackends[] = [
      {
        vs: '192.0.2.10 80 TCP',
        identity: { kind: 'address', address: '192.0.2.10', port: 80, protocol: 'TCP' } as unknown as DesiredBackends['identity'],
        quorumUp: false,
        sorryActive: false,
        backends: [{ key: '10.1.0.1:80', address: '10.1.0.1', port: 80, weight: 1, role: 'real', reason: 'alive', lvsMethod: 'NAT' }],
      },
    ];
    expect(serviceHealth(config, desired).get('192.0.2.10 80 TCP')).toEqual({ vs: '192.0.2.10 80 TCP', quorumUp: false, up: 1, total: 2, quorum: 2 });
  });
});

describe('ipvsConvergence', () => {
  const [ipvsVip, localVip] = planVips(config);
  const view = (status: IpvsView['status'], services: string[], error?: string): IpvsView => ({ status, services: new Set(services), ...(error ? { error } : {}) });

  it('a local VIP never waits for IPVS', () => {
    expect(ipvsConvergence(localVip!, undefined)).toEqual({ converged: true });
  });

  it('an IPVS VIP waits for an in-sync reconciler holding every one of its services', () => {
    expect(ipvsConvergence(ipvsVip!, undefined)).toMatchObject({ converged: false, detail: expect.stringContaining('not reported yet') });
    expect(ipvsConvergence(ipvsVip!, view('degraded', [], 'no IP_VS in this kernel'))).toEqual({ converged: false, detail: 'IPVS degraded: no IP_VS in this kernel' });
    expect(ipvsConvergence(ipvsVip!, view('in-sync', ['TCP 192.0.2.10:80']))).toEqual({ converged: false, detail: 'not in the kernel: TCP 192.0.2.10:443' });
    expect(ipvsConvergence(ipvsVip!, view('in-sync', ['TCP 192.0.2.10:80', 'TCP 192.0.2.10:443', 'UDP 192.0.2.20:53']))).toEqual({ converged: true });
  });
});

describe('identical tables on every director', () => {
  it('the desired IPVS table does not depend on the order the health checker reports real servers in', () => {
    const servers = ['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4'].map((address, i) => ({ address, port: 80, weight: i + 1 }));
    const cfg = ConfigSchema.parse({
      virtual_servers: [{ address: '192.0.2.10', port: 80, lb_algo: 'mh', flags: ['mh-port', 'mh-fallback'], inhibit_on_failure: true, real_servers: servers.map((s) => ({ address: s.address, weight: s.weight })) }],
    });
    const reference = desiredTable(cfg, { '192.0.2.10 80 TCP': { mode: 'real', servers } }).table;
    fc.assert(
      fc.property(fc.shuffledSubarray(servers, { minLength: servers.length, maxLength: servers.length }), (order) => {
        expect(desiredTable(cfg, { '192.0.2.10 80 TCP': { mode: 'real', servers: order } }).table).toEqual(reference);
      }),
    );
    expect(reference[0]!.dests.map((d) => d.address)).toEqual(['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4']);
  });
});

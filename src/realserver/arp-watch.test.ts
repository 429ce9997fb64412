import { describe, expect, it } from 'vitest';
import { loadYamlText } from '../config/yaml-load.js';
import { classify, describeFinding, drVips } from './arp-watch.js';
import { parseArpingReply } from '../net/arp-probe.js';

const config = (text: string) => {
  const r = loadYamlText(text, 't.yaml');
  if (!r.config) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  return r.config;
};

describe('the ARP-problem watch, pure parts', () => {
  it('probes the IPv4 addresses of DR and TUN services (a NAT one only for its DR real servers), not fwmarks', () => {
    const c = config(`
virtual_servers:
  - { address: 10.0.0.100, port: 80, lb_kind: DR, real_servers: [{ address: 10.0.0.11, port: 80 }] }
  - { address: 10.0.0.100, port: 443, lb_kind: TUN, real_servers: [{ address: 10.0.0.12, port: 443 }] }
  - { address: 10.0.0.101, port: 80, lb_kind: NAT, real_servers: [{ address: 10.0.1.11, port: 80 }] }
  - { address: 10.0.0.102, port: 80, lb_kind: NAT, real_servers: [{ address: 10.0.0.13, port: 80, lvs_method: DR }] }
  - { address: fd00::100, port: 80, lb_kind: DR, real_servers: [{ address: fd00::11, port: 80 }] }
  - { fwmark: 1, lb_kind: DR, real_servers: [{ address: 10.0.0.14 }] }
`);
    expect(drVips(c)).toEqual([
      { vip: '10.0.0.100', services: ['TCP 10.0.0.100:80', 'TCP 10.0.0.100:443'], realServers: ['10.0.0.11', '10.0.0.12'] },
      { vip: '10.0.0.102', services: ['TCP 10.0.0.102:80'], realServers: ['10.0.0.13'] },
    ]);
  });

  it('ignores our own MACs and names a foreign one by the neighbour table, a real server first', () => {
    const d = { vip: '10.0.0.100', services: ['TCP 10.0.0.100:80'], realServers: ['10.0.0.12'] };
    const f = classify(d, 'eth0', ['02:00:00:00:00:01', '02:00:00:00:00:0c', '02:00:00:00:00:99'], new Set(['02:00:00:00:00:01']), [
      { address: '10.0.0.50', mac: '02:00:00:00:00:0c' },
      { address: '10.0.0.12', mac: '02:00:00:00:00:0c' },
    ]);
    expect(f).toHaveLength(2);
    expect(f[0]).toMatchObject({ mac: '02:00:00:00:00:0c', realServer: '10.0.0.12', addresses: ['10.0.0.12', '10.0.0.50'] });
    expect(f[1]).toMatchObject({ mac: '02:00:00:00:00:99', addresses: [] });
    expect(f[1]!.realServer).toBeUndefined();
    expect(describeFinding(f[0]!)).toMatch(/02:00:00:00:00:0c \(real server 10\.0\.0\.12\) answers ARP for VIP 10\.0\.0\.100 on eth0/);
  });

  it("reads iputils arping's reply lines", () => {
    expect(parseArpingReply('Unicast reply from 10.0.0.100 [02:0A:07:00:00:0C]  0.612ms')).toEqual({ ip: '10.0.0.100', mac: '02:0a:07:00:00:0c' });
    expect(parseArpingReply('Sent 2 probes (2 broadcast(s))')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from './diagnostics.js';
import { loadYamlText } from './yaml-load.js';
import { parseBgpPrefix, vipVirtualServers } from './bgp.js';
import { writeYaml } from './yaml-write.js';
import { ConfigSchema } from './schema.js';

const BGP = `bgp:
  local_as: 65001
  router_id: 10.0.0.1
  peers:
    - { name: r1, address: 10.0.0.254, as: 65000, password: s3cret }
  vips:
    - 192.0.2.10
`;

const VS = (extra = '') => `virtual_servers:
  - address: 192.0.2.10
    port: 80
    lb_algo: mh
    flags: [mh-port, mh-fallback]
    inhibit_on_failure: true
    lb_kind: DR
${extra}    real_servers:
      - address: 10.1.0.1
        checks: [{ type: TCP_CHECK }]
`;

function load(text: string) {
  const r = loadYamlText(text, 'vk.yaml');
  return { config: r.config, lines: r.diagnostics.map(formatDiagnostic) };
}

describe('parseBgpPrefix', () => {
  it('takes an address, /32 or /128 and canonicalises', () => {
    expect(parseBgpPrefix('192.0.2.10')).toEqual({ address: '192.0.2.10', family: 4, prefix: '192.0.2.10/32' });
    expect(parseBgpPrefix('2001:DB8:0:0::10/128')).toEqual({ address: '2001:db8::10', family: 6, prefix: '2001:db8::10/128' });
  });
  it('refuses wider prefixes and non-addresses', () => {
    expect(parseBgpPrefix('192.0.2.0/24')).toMatchObject({ error: expect.stringContaining('not a host route') });
    expect(parseBgpPrefix('nope')).toMatchObject({ error: expect.stringContaining('not an IPv4 or IPv6 address') });
  });
});

describe('the bgp section', () => {
  it('a valid bgp config loads without a diagnostic, with the defaults filled in', () => {
    const { config, lines } = load(BGP + VS());
    expect(lines).toEqual([]);
    expect(config?.bgp).toMatchObject({
      engine: 'bird',
      hold_time: 9000,
      drain_med: 4294967295,
      drain_communities: ['65535:0'],
      drain_grace: 30_000,
      hang_timeout: 3000,
      bird: { binary: 'bird', runtime_dir: '/run/vipkeeper/bird' },
      vips: [{ prefix: '192.0.2.10', served_by: 'ipvs', drain: false, fwmarks: [] }],
    });
  });

  it('writes back to YAML that loads to the same model (and the password stays where it was)', () => {
    const { config } = load(BGP + VS());
    const again = load(writeYaml(config!));
    expect(again.config).toEqual(config);
  });

  it('is optional: a config without it has no bgp', () => {
    expect(ConfigSchema.parse({}).bgp).toBeUndefined();
  });

  it('refuses a bad community, password, router id and AS with located errors', () => {
    const text = `bgp:
  local_as: 0
  router_id: fd00::1
  communities: ["65536:1"]
  peers:
    - { address: 10.0.0.254, as: 65000, password: 'a"b' }
  vips: [192.0.2.10]
`;
    const { config, lines } = load(text);
    expect(config).toBeUndefined();
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^vk\.yaml:2:\d+: error: 'bgp\.local_as'/),
        expect.stringMatching(/^vk\.yaml:3:\d+: error: 'bgp\.router_id': an IPv4 address/),
        expect.stringMatching(/^vk\.yaml:4:\d+: error: 'bgp\.communities\.0': a community like 65000:100/),
        expect.stringMatching(/^vk\.yaml:6:\d+: error: 'bgp\.peers\.0\.password': a TCP MD5 password without double quotes/),
      ]),
    );
    expect(lines.join('\n')).not.toContain('a"b');
  });

  it('a VIP served by IPVS needs a virtual server; served_by local only warns', () => {
    const ipvs = load(BGP);
    expect(ipvs.lines).toEqual([expect.stringMatching(/^vk\.yaml:7:7: error: VIP 192\.0\.2\.10\/32 has no virtual server .* set served_by: local$/)]);
    const local = load(BGP.replace('    - 192.0.2.10', '    - { prefix: 192.0.2.10, served_by: local }'));
    expect(local.config).toBeDefined();
    expect(local.lines).toEqual([expect.stringMatching(/warning: VIP 192\.0\.2\.10\/32 has no virtual server, so nothing checks it/)]);
  });

  it('refuses a VIP wider than a host route, a duplicate, and a family with no peer', () => {
    const text = BGP.replace('    - 192.0.2.10\n', '    - 192.0.2.10\n    - 192.0.2.10/32\n    - 192.0.2.0/24\n    - { prefix: "2001:db8::10", served_by: local }\n');
    const { lines } = load(text + VS());
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/:8:7: error: VIP 192\.0\.2\.10\/32 is listed twice \(also vips\[0\]\)/),
        expect.stringMatching(/:9:\d+: error: '192\.0\.2\.0\/24' is not a host route/),
        expect.stringMatching(/:10:\d+: error: VIP 2001:db8::10\/128 is IPv6 but no peer is/),
      ]),
    );
  });

  it('refuses a bgp VIP that a VRRP instance also holds, duplicate peers and names, bad timers', () => {
    const text = `${BGP.replace('    - { name: r1, address: 10.0.0.254, as: 65000, password: s3cret }', '    - { name: r1, address: 10.0.0.254, as: 65000 }\n    - { name: r1, address: 10.0.0.254, as: 65000 }')}  hold_time: 2s
  keepalive_time: 5s
instances:
  VI_1: { interface: eth0, virtual_router_id: 1, virtual_ipaddress: [192.0.2.10/32] }
${VS()}`;
    const { lines } = load(text);
    const all = lines.join('\n');
    expect(all).toMatch(/peer 10\.0\.0\.254 is listed twice/);
    expect(all).toMatch(/peer name 'r1' is used twice/);
    expect(all).toMatch(/hold_time 2s is not a whole number of seconds in 3\.\.65535/);
    expect(all).toMatch(/keepalive_time 5s must be .* below hold_time \(2s\)/);
    expect(all).toMatch(/VIP 192\.0\.2\.10 is also a virtual_ipaddress of VRRP instance 'VI_1'/);
  });

  it('warns about schedulers that break flow affinity across directors, and about mh without its helpers', () => {
    const wlc = load(BGP + VS().replace('lb_algo: mh', 'lb_algo: wlc'));
    expect(wlc.config).toBeDefined();
    expect(wlc.lines).toEqual([expect.stringMatching(/^vk\.yaml:11:5: warning: lb_algo wlc picks real servers from this director's own state.*use lb_algo mh with flags \[mh-port, mh-fallback\]/)]);
    const bare = load(BGP + VS().replace('    flags: [mh-port, mh-fallback]\n', '').replace('    inhibit_on_failure: true\n', ''));
    expect(bare.lines).toEqual([expect.stringMatching(/warning: mh without mh-fallback/), expect.stringMatching(/warning: mh fills its lookup table .* set inhibit_on_failure: true/)]);
    // served_by local: IPVS is not programmed for it, so its scheduler does not matter
    const local = load(BGP.replace('    - 192.0.2.10', '    - { prefix: 192.0.2.10, served_by: local }') + VS().replace('lb_algo: mh', 'lb_algo: wlc'));
    expect(local.lines).toEqual([]);
  });

  it('warns that the LVS sync daemon has no place in bgp mode', () => {
    const { lines } = load(`global:\n  lvs_sync_daemon: { interface: eth0 }\n${BGP}${VS()}`);
    expect(lines).toEqual([expect.stringMatching(/^vk\.yaml:2:\d+: warning: lvs_sync_daemon follows the MASTER of a VRRP pair/)]);
  });
});

describe('vipVirtualServers', () => {
  it('matches by address, by virtual_server_group range or prefix, and by the fwmarks the VIP names', () => {
    const { config, lines } = load(`${BGP.replace('    - 192.0.2.10', '    - { prefix: 192.0.2.10, fwmarks: [7] }')}virtual_server_groups:
  g1: [{ address: 192.0.2.8, last: 192.0.2.12, port: 443 }]
  g2: [{ address: 192.0.2.0, prefix: 28, port: 53 }]
  g3: [{ address: 192.0.2.20, port: 80 }]
virtual_servers:
  - { address: 192.0.2.10, port: 80, lb_algo: mh, flags: [mh-fallback], inhibit_on_failure: true, real_servers: [{ address: 10.1.0.1 }] }
  - { group: g1, lb_algo: mh, flags: [mh-fallback], inhibit_on_failure: true, real_servers: [{ address: 10.1.0.1 }] }
  - { group: g2, protocol: UDP, lb_algo: mh, flags: [mh-fallback], inhibit_on_failure: true, real_servers: [{ address: 10.1.0.1 }] }
  - { group: g3, lb_algo: mh, flags: [mh-fallback], inhibit_on_failure: true, real_servers: [{ address: 10.1.0.1 }] }
  - { fwmark: 7, lb_algo: mh, flags: [mh-fallback], inhibit_on_failure: true, real_servers: [{ address: 10.1.0.1 }] }
  - { address: 192.0.2.11, port: 80, real_servers: [{ address: 10.1.0.1 }] }
`);
    expect(lines).toEqual([]);
    expect(vipVirtualServers(config!, config!.bgp!.vips[0]!)).toEqual([0, 1, 2, 4]);
  });
});

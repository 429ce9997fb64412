import { describe, expect, it } from 'vitest';

import { ConfigSchema, type ConfigInput } from '../config/schema.js';
import { allUp, desiredTable, expandEntry, virtualServerId, type BackendState } from './desired.js';
import { renderSave } from './ipvsadm.js';

const cfg = (virtual_servers: NonNullable<ConfigInput['virtual_servers']>, groups: ConfigInput['virtual_server_groups'] = {}) =>
  ConfigSchema.parse({ virtual_servers, virtual_server_groups: groups });

/** desired table as `ipvsadm -Sn` lines (with -x/-y), for compact expectations */
const lines = (config: ReturnType<typeof cfg>, state?: BackendState) =>
  renderSave(desiredTable(config, state ?? allUp(config)).table, { thresholds: true }).trim().split('\n');

interface Case {
  desc: string;
  input: ReturnType<typeof cfg>;
  state?: (c: ReturnType<typeof cfg>) => BackendState;
  want: string[];
  warnings?: RegExp[];
}

const rs = (address: string, port?: number, extra: Record<string, unknown> = {}) => ({ address, ...(port !== undefined ? { port } : {}), ...extra });

const cases: Case[] = [
  {
    desc: 'a NAT service with weights; a real server without weight takes the virtual server weight',
    input: cfg([{ address: '10.0.0.1', port: 80, lb_algo: 'wrr', lb_kind: 'NAT', weight: 4, real_servers: [rs('10.0.1.1', 8080, { weight: 3 }), rs('10.0.1.2', 80)] }]),
    want: ['-A -t 10.0.0.1:80 -s wrr', '-a -t 10.0.0.1:80 -r 10.0.1.1:8080 -m -w 3', '-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 4'],
  },
  {
    desc: 'DR and TUN destinations take the service port (keepalived: "ports don\'t match - resetting")',
    input: cfg([
      {
        address: '10.0.0.1',
        port: 80,
        lb_kind: 'DR',
        real_servers: [rs('10.0.1.1', 8080), rs('10.0.1.2', 8080, { lvs_method: 'TUN' }), rs('10.0.1.3', 8080, { lvs_method: 'NAT' })],
      },
    ]),
    want: ['-A -t 10.0.0.1:80 -s wlc', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 1', '-a -t 10.0.0.1:80 -r 10.0.1.2:80 -i -w 1 --tun-type ipip', '-a -t 10.0.0.1:80 -r 10.0.1.3:8080 -m -w 1'],
  },
  {
    desc: 'persistence in whole seconds (rounded up), granularity, engine, ops on UDP',
    input: cfg([
      { address: '10.0.0.1', port: 5060, protocol: 'UDP', lb_algo: 'rr', ops: true, persistence_timeout: '1500ms', persistence_granularity: '255.255.255.0', persistence_engine: 'sip', real_servers: [rs('10.0.1.1')] },
    ]),
    want: ['-A -u 10.0.0.1:5060 -s rr -p 2 -M 255.255.255.0 --pe sip -o', '-a -u 10.0.0.1:5060 -r 10.0.1.1:5060 -m -w 1'],
  },
  {
    desc: 'port 0 without persistence is forced persistent for 360 s, as keepalived does',
    input: cfg([{ address: '10.0.0.1', port: 0, persistence_timeout: 0, lb_algo: 'lc', real_servers: [rs('10.0.1.1')] }]),
    want: ['-A -t 10.0.0.1:0 -s lc -p 360', '-a -t 10.0.0.1:0 -r 10.0.1.1:0 -m -w 1'],
  },
  {
    desc: 'IPv6 service with a prefix granularity; addresses are canonical',
    input: cfg([{ address: '2001:DB8:0:0::1', port: 443, lb_kind: 'DR', persistence_timeout: 120, persistence_granularity: '/64', real_servers: [rs('2001:db8::0:100', 443)] }]),
    want: ['-A -t [2001:db8::1]:443 -s wlc -p 120 -M 64', '-a -t [2001:db8::1]:443 -r [2001:db8::100]:443 -g -w 1'],
  },
  {
    desc: 'fwmark: family from the non-TUN real servers, explicit ip_family, inet when all are TUN; DR/TUN ports are 0',
    input: cfg([
      { fwmark: 1, lb_kind: 'DR', real_servers: [rs('2001:db8::5')] },
      { fwmark: 2, lb_kind: 'TUN', ip_family: 'inet6', real_servers: [rs('10.0.0.5')] },
      { fwmark: 3, lb_kind: 'TUN', tunnel: { type: 'gue', port: 6080, csum: 'csum' }, real_servers: [rs('10.0.0.6', 80)] },
    ]),
    want: [
      '-A -f 1 -6 -s wlc',
      '-a -f 1 -6 -r [2001:db8::5]:0 -g -w 1',
      '-A -f 2 -6 -s wlc',
      '-a -f 2 -6 -r 10.0.0.5:0 -i -w 1 --tun-type ipip',
      '-A -f 3 -s wlc',
      '-a -f 3 -r 10.0.0.6:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum',
    ],
  },
  {
    desc: 'a real server with its own lvs_method TUN does not inherit the virtual server tunnel',
    input: cfg([
      {
        address: '10.0.0.1',
        port: 53,
        protocol: 'UDP',
        lb_kind: 'TUN',
        tunnel: { type: 'gre', csum: 'csum' },
        real_servers: [rs('10.0.1.1', 53), rs('10.0.1.2', 53, { lvs_method: 'TUN' }), rs('10.0.1.3', 53, { lvs_method: 'TUN', tunnel: { type: 'gue', port: 1, csum: 'remcsum' } })],
      },
    ]),
    want: [
      '-A -u 10.0.0.1:53 -s wlc',
      '-a -u 10.0.0.1:53 -r 10.0.1.1:53 -i -w 1 --tun-type gre --tun-csum',
      '-a -u 10.0.0.1:53 -r 10.0.1.2:53 -i -w 1 --tun-type ipip',
      '-a -u 10.0.0.1:53 -r 10.0.1.3:53 -i -w 1 --tun-type gue --tun-port 1 --tun-remcsum',
    ],
  },
  {
    desc: 'scheduler flags by any name, thresholds',
    input: cfg([{ address: '10.0.0.1', port: 80, lb_algo: 'mh', flags: ['mh-port', 'mh-fallback'], real_servers: [rs('10.0.1.1', 80, { uthreshold: 100, lthreshold: 10 })] }]),
    want: ['-A -t 10.0.0.1:80 -s mh -b flag-1,flag-2', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1 -x 100 -y 10'],
  },
  {
    desc: 'ops on TCP is dropped with a warning',
    input: cfg([{ address: '10.0.0.1', port: 80, ops: true, real_servers: [rs('10.0.1.1', 80)] }]),
    want: ['-A -t 10.0.0.1:80 -s wlc', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1'],
    warnings: [/ops .* only on UDP/],
  },
  {
    desc: 'virtual_server_group: an address, a v4 range, a v6 range, a /30 (network and broadcast included), fwmarks',
    input: cfg(
      [{ group: 'G', port: 80, lb_algo: 'rr', persistence_timeout: 50, real_servers: [rs('192.168.200.1', 1358)] }],
      {
        G: [
          { address: '10.0.0.1', port: 8080 },
          { address: '192.168.200.3', last: '192.168.200.5' },
          { address: '10.20.0.0', prefix: 30, port: 8443 },
          { fwmark: 1 },
          { fwmark: 2, family: 'inet' },
        ],
      },
    ),
    want: [
      '-A -f 1 -s rr -p 50',
      '-a -f 1 -r 192.168.200.1:1358 -m -w 1',
      '-A -f 2 -s rr -p 50',
      '-a -f 2 -r 192.168.200.1:1358 -m -w 1',
      ...['10.0.0.1:8080', '10.20.0.0:8443', '10.20.0.1:8443', '10.20.0.2:8443', '10.20.0.3:8443', '192.168.200.3:80', '192.168.200.4:80', '192.168.200.5:80'].flatMap((a) => [
        `-A -t ${a} -s rr -p 50`,
        `-a -t ${a} -r 192.168.200.1:1358 -m -w 1`,
      ]),
    ],
  },
  {
    desc: 'an IPv6 group range',
    input: cfg([{ group: 'G6', port: 80, real_servers: [rs('ae00::10', 25)] }], { G6: [{ address: 'ae00::2', last: 'ae00::4' }] }),
    want: ['-A -t [ae00::2]:80 -s wlc', '-a -t [ae00::2]:80 -r [ae00::10]:25 -m -w 1', '-A -t [ae00::3]:80 -s wlc', '-a -t [ae00::3]:80 -r [ae00::10]:25 -m -w 1', '-A -t [ae00::4]:80 -s wlc', '-a -t [ae00::4]:80 -r [ae00::10]:25 -m -w 1'],
  },
  {
    desc: 'inhibit_on_failure: a server the health state gives weight 0 stays present at weight 0',
    input: cfg([{ address: '10.0.0.1', port: 80, inhibit_on_failure: true, real_servers: [rs('10.0.1.1', 80, { weight: 5 }), rs('10.0.1.2', 80)] }]),
    state: (c) => ({ [virtualServerId(c.virtual_servers[0]!)]: { mode: 'real', servers: [{ address: '10.0.1.1', weight: 0 }] } }),
    want: ['-A -t 10.0.0.1:80 -s wlc', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 0'],
  },
  {
    desc: 'sorry mode: the sorry server at weight 1 (with its own method); inhibited real servers may stay',
    input: cfg([{ address: '10.0.0.1', port: 80, lb_kind: 'DR', sorry_server: { address: '10.0.9.9', port: 8080, lvs_method: 'NAT' }, real_servers: [rs('10.0.1.1', 80)] }]),
    state: (c) => ({ [virtualServerId(c.virtual_servers[0]!)]: { mode: 'sorry', servers: [{ address: '10.0.1.1', weight: 0 }] } }),
    want: ['-A -t 10.0.0.1:80 -s wlc', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 0', '-a -t 10.0.0.1:80 -r 10.0.9.9:8080 -m -w 1'],
  },
  {
    desc: 'sorry_server inhibit: present at weight 0 while the real servers serve',
    input: cfg([{ address: '10.0.0.1', port: 80, sorry_server: { address: '10.0.9.9', port: 80, inhibit: true }, real_servers: [rs('10.0.1.1', 80)] }]),
    want: ['-A -t 10.0.0.1:80 -s wlc', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1', '-a -t 10.0.0.1:80 -r 10.0.9.9:80 -m -w 0'],
  },
  {
    desc: 'a virtual server missing from the health state has an empty pool',
    input: cfg([{ address: '10.0.0.1', port: 80, real_servers: [rs('10.0.1.1', 80)] }]),
    state: () => ({}),
    want: ['-A -t 10.0.0.1:80 -s wlc'],
  },
  {
    desc: 'a pool server the config does not list is added with the virtual server defaults',
    input: cfg([{ address: '10.0.0.1', port: 80, lb_kind: 'DR', real_servers: [rs('10.0.1.1', 80)] }]),
    state: (c) => ({ [virtualServerId(c.virtual_servers[0]!)]: { mode: 'real', servers: [{ address: '10.0.1.7', weight: 2 }] } }),
    want: ['-A -t 10.0.0.1:80 -s wlc', '-a -t 10.0.0.1:80 -r 10.0.1.7:80 -g -w 2'],
  },
  {
    desc: 'a destination of the other family is dropped unless TUN',
    input: cfg([{ address: '10.0.0.1', port: 80, real_servers: [rs('2001:db8::1', 80), rs('2001:db8::2', 80, { lvs_method: 'TUN' })] }]),
    want: ['-A -t 10.0.0.1:80 -s wlc', '-a -t 10.0.0.1:80 -r [2001:db8::2]:80 -i -w 1 --tun-type ipip'],
    warnings: [/only TUN can cross families/],
  },
  {
    desc: 'two virtual servers claiming one service: the first wins',
    input: cfg([{ group: 'A', port: 80, real_servers: [rs('10.0.1.1', 80)] }, { address: '10.0.0.2', port: 80, lb_algo: 'rr', real_servers: [rs('10.0.1.2', 80)] }], { A: [{ address: '10.0.0.1', last: '10.0.0.2' }] }),
    want: ['-A -t 10.0.0.1:80 -s wlc', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1', '-A -t 10.0.0.2:80 -s wlc', '-a -t 10.0.0.2:80 -r 10.0.1.1:80 -m -w 1'],
    warnings: [/already defined by virtual server 'group A'/],
  },
];

describe('desiredTable', () => {
  for (const c of cases) {
    it(c.desc, () => {
      const state = c.state ? c.state(c.input) : allUp(c.input);
      const r = desiredTable(c.input, state);
      expect(renderSave(r.table, { thresholds: true }).trim().split('\n').sort()).toEqual([...c.want].sort());
      for (const w of c.warnings ?? []) expect(r.warnings.some((x) => w.test(x)), `warning ${w} in ${JSON.stringify(r.warnings)}`).toBe(true);
      if (!c.warnings) expect(r.warnings).toEqual([]);
    });
  }

  it('caps a group entry at maxGroupAddresses, with a warning', () => {
    const c = cfg([{ group: 'BIG', port: 80, real_servers: [rs('10.1.0.1', 80)] }], { BIG: [{ address: '10.0.0.0', prefix: 16 }] });
    const r = desiredTable(c, allUp(c));
    expect(r.table).toHaveLength(1024);
    expect(r.warnings.join()).toMatch(/65536 addresses; only the first 1024/);
    expect(desiredTable(c, allUp(c), { maxGroupAddresses: 10 }).table).toHaveLength(10);
  });

  it('expands ranges across an octet and IPv6 ranges', () => {
    expect(expandEntry({ address: '10.0.0.254', last: '10.0.1.1' }, 100)).toEqual(['10.0.0.254', '10.0.0.255', '10.0.1.0', '10.0.1.1']);
    expect(expandEntry({ address: 'ae00::fffe', last: 'ae00::1:0' }, 100)).toEqual(['ae00::fffe', 'ae00::ffff', 'ae00::1:0']);
    expect(expandEntry({ address: '2001:db8::', prefix: 126 }, 100)).toEqual(['2001:db8::', '2001:db8::1', '2001:db8::2', '2001:db8::3']);
    const w: string[] = [];
    expect(expandEntry({ address: '10.0.0.5', last: '10.0.0.1' }, 100, 'G', w)).toEqual([]);
    expect(w.join()).toMatch(/ends before it starts/);
  });

  it('allUp lists every real server at its weight, keyed by virtual server id', () => {
    const c = cfg([{ fwmark: 5, weight: 2, real_servers: [rs('10.0.1.1'), rs('10.0.1.2', 80, { weight: 0 })] }]);
    expect(allUp(c)).toEqual({ 'fwmark 5': { mode: 'real', servers: [{ address: '10.0.1.1', port: 0, weight: 2 }, { address: '10.0.1.2', port: 80, weight: 0 }] } });
    expect(lines(c)).toEqual(['-A -f 5 -s wlc', '-a -f 5 -r 10.0.1.1:0 -m -w 2', '-a -f 5 -r 10.0.1.2:80 -m -w 0']);
  });

  it('records which virtual server owns each service', () => {
    const c = cfg([{ group: 'G', port: 80, real_servers: [rs('10.0.1.1', 80)] }], { G: [{ address: '10.0.0.1' }, { fwmark: 3 }] });
    expect([...desiredTable(c, allUp(c)).owners]).toEqual([
      ['TCP 10.0.0.1:80', 'group G'],
      ['FWM 3 inet', 'group G'],
    ]);
  });
});

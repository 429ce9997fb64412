import { describe, expect, it } from 'vitest';
import { loadRealServerText, realServerFromInput, type RealServerConfig, type RealServerInput } from '../config/realserver.js';
import { addrKey, parseState, plan, recordApplied, status, undo, wanted, type Observed } from './plan.js';

function cfg(input: RealServerInput): RealServerConfig {
  const r = realServerFromInput(input);
  if (!r.config) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  return r.config;
}

/** A fresh host: every ARP sysctl 0, eth0 with its own address, nothing on lo but 127.0.0.1. */
function fresh(extra: Partial<Observed> = {}): Observed {
  return {
    sysctl: {
      'net/ipv4/conf/all/arp_ignore': '0',
      'net/ipv4/conf/all/arp_announce': '0',
      'net/ipv4/conf/eth0/arp_ignore': '0',
      'net/ipv4/conf/eth0/arp_announce': '0',
      'net/ipv4/conf/all/rp_filter': '2',
    },
    addresses: new Set(['lo|127.0.0.1/8', 'eth0|10.0.0.2/24']),
    links: {},
    gateways: { 4: [], 6: [] },
    ...extra,
  };
}

/** The host after the steps (the planner's own model of them), for idempotence checks. */
function applied(o: Observed, steps: ReturnType<typeof plan>['steps']): Observed {
  const n: Observed = { ...o, sysctl: { ...o.sysctl }, addresses: new Set(o.addresses), links: { ...o.links } };
  for (const s of steps) {
    if (s.kind === 'sysctl') n.sysctl[s.key] = s.to;
    if (s.kind === 'addr-add') (n.addresses as Set<string>).add(addrKey(s.addr));
    if (s.kind === 'link-create') n.links[s.name] = { up: false };
    if (s.kind === 'link-up') n.links[s.name] = { up: true };
  }
  return n;
}

describe('real-server planning', () => {
  it('DR: the ARP sysctls on all and the LAN device first, then the VIPs on lo as host addresses', () => {
    const c = cfg({ vips: ['10.0.0.100', 'fd00::100'] });
    const p = plan(c, fresh());
    expect(p.problems).toEqual([]);
    expect(p.steps.map((s) => s.kind)).toEqual(['sysctl', 'sysctl', 'sysctl', 'sysctl', 'addr-add', 'addr-add']);
    expect(p.steps.filter((s) => s.kind === 'addr-add').map((s) => s.kind === 'addr-add' && `${s.addr.address}/${s.addr.prefix} ${s.addr.dev}`)).toEqual(['10.0.0.100/32 lo', 'fd00::100/128 lo']);
    // planning again on the result: nothing to do (idempotent)
    expect(plan(c, applied(fresh(), p.steps)).steps).toEqual([]);
  });

  it('IPv6 only: no ARP sysctl (Linux answers NDP only for the receiving interface)', () => {
    expect(wanted(cfg({ vips: ['fd00::100'] })).sysctls).toEqual([]);
  });

  it('accepts arp_ignore 2 as already strict enough and leaves it', () => {
    const o = fresh();
    o.sysctl['net/ipv4/conf/eth0/arp_ignore'] = '2';
    const keys = plan(cfg({ vips: ['10.0.0.100'] }), o).steps.flatMap((s) => (s.kind === 'sysctl' ? [s.key] : []));
    expect(keys).not.toContain('net/ipv4/conf/eth0/arp_ignore');
  });

  it('TUN: creates and raises tunl0, turns rp_filter off on it and all, puts the VIP on it', () => {
    const c = cfg({ mode: 'tun', vips: ['10.0.0.100'] });
    const p = plan(c, fresh());
    expect(p.steps.slice(0, 2)).toEqual([
      { kind: 'link-create', name: 'tunl0', type: 'ipip' },
      { kind: 'link-up', name: 'tunl0' },
    ]);
    expect(p.steps).toContainEqual({ kind: 'sysctl', key: 'net/ipv4/conf/all/rp_filter', from: '2', to: '0' });
    expect(p.steps).toContainEqual({ kind: 'sysctl', key: 'net/ipv4/conf/tunl0/rp_filter', from: '?', to: '0' });
    expect(p.steps.at(-1)).toEqual({ kind: 'addr-add', addr: { dev: 'tunl0', address: '10.0.0.100', prefix: 32 } });
  });

  it('a VIP also on the LAN device is a problem up cannot fix, and status says so', () => {
    const o = fresh({ addresses: new Set(['eth0|10.0.0.2/24', 'eth0|10.0.0.100/24']) });
    const c = cfg({ vips: ['10.0.0.100'] });
    expect(plan(c, o).problems.join()).toMatch(/10\.0\.0\.100 is also on eth0 \(\/24\)/);
    expect(status(c, o).filter((i) => !i.ok).map((i) => i.what)).toContain('conflict');
  });

  it('a missing LAN device is a problem (its /proc/sys keys are absent)', () => {
    const o = fresh();
    delete o.sysctl['net/ipv4/conf/eth0/arp_ignore'];
    expect(plan(cfg({ vips: ['10.0.0.100'] }), o).problems.join()).toMatch(/eth0\/arp_ignore does not exist/);
  });

  it('NAT: nothing to apply; the default route must point at the director', () => {
    const c = cfg({ mode: 'nat', director: '10.0.0.1' });
    expect(plan(c, fresh({ gateways: { 4: ['10.0.0.1'], 6: [] } }))).toEqual({ steps: [], problems: [] });
    expect(plan(c, fresh({ gateways: { 4: ['10.0.0.254'], 6: [] } })).problems.join()).toMatch(/via 10\.0\.0\.254, not the director 10\.0\.0\.1/);
    expect(plan(c, fresh()).problems.join()).toMatch(/no IPv4 default route/);
    expect(status(cfg({ mode: 'nat' }), fresh({ gateways: { 4: ['10.0.0.1'], 6: [] } }))[0]!.detail).toMatch(/--director/);
  });

  it('down restores the first recorded values and removes only what up added', () => {
    const c = cfg({ vips: ['10.0.0.100', '10.0.0.101'] });
    const before = fresh({ addresses: new Set(['lo|10.0.0.101/32', 'eth0|10.0.0.2/24']) });
    before.sysctl['net/ipv4/conf/all/arp_announce'] = '1';
    const p1 = plan(c, before);
    let st = recordApplied(undefined, 'dr', p1.steps);
    const after = applied(before, p1.steps);
    // a second up changes nothing and records nothing new; a hand-made change in between is not "before"
    st = recordApplied(st, 'dr', plan(c, after).steps);
    expect(st.addresses).toEqual([{ dev: 'lo', address: '10.0.0.100', prefix: 32 }]);
    expect(st.sysctls.find((s) => s.key === 'net/ipv4/conf/all/arp_announce')?.before).toBe('1');
    const u = undo(st, after);
    expect(u[0]).toEqual({ kind: 'addr-del', addr: { dev: 'lo', address: '10.0.0.100', prefix: 32 } });
    expect(u).toContainEqual({ kind: 'sysctl', key: 'net/ipv4/conf/all/arp_announce', from: '2', to: '1' });
    expect(u.some((s) => s.kind === 'addr-del' && s.addr.address === '10.0.0.101')).toBe(false);
    // undo on a host already restored: nothing
    expect(undo(st, before)).toEqual([]);
  });

  it('a state file is read back, and one that is not ours is refused', () => {
    const st = recordApplied(undefined, 'tun', plan(cfg({ mode: 'tun', vips: ['10.0.0.100'] }), fresh()).steps);
    expect(parseState(JSON.stringify(st))).toEqual(st);
    expect(parseState('{"version":1,"sysctls":[{"key":"../../etc/passwd","before":"x"}],"addresses":[],"links":[]}')).toBeUndefined();
    expect(parseState('not json')).toBeUndefined();
  });
});

describe('real-server config', () => {
  it('reads the YAML; an unknown key is an error at its line', () => {
    const ok = loadRealServerText('mode: dr\ndev: eth1\nvips:\n  - 10.0.0.100\n  - fd00::100/128\n', 'rs.yaml');
    expect(ok.diagnostics).toEqual([]);
    expect(ok.config).toMatchObject({ mode: 'dr', dev: 'eth1', vips: ['10.0.0.100', 'fd00::100'] });
    const bad = loadRealServerText('mode: dr\nvips: [10.0.0.100]\narp_ignore: 1\n', 'rs.yaml');
    expect(bad.config).toBeUndefined();
    expect(bad.diagnostics[0]).toMatchObject({ severity: 'error', loc: { file: 'rs.yaml', line: 3 } });
    expect(bad.diagnostics[0]!.message).toMatch(/unknown key 'arp_ignore'/);
  });

  it('refuses a VIP with a subnet prefix, DR without VIPs, NAT with VIPs; warns about director outside NAT', () => {
    expect(realServerFromInput({ vips: ['10.0.0.100/24'] }).diagnostics[0]!.message).toMatch(/host address \(\/32\)/);
    expect(realServerFromInput({ vips: [] }).config).toBeUndefined();
    expect(realServerFromInput({ mode: 'nat', vips: ['10.0.0.100'] }).config).toBeUndefined();
    const w = realServerFromInput({ vips: ['10.0.0.100'], director: '10.0.0.1' });
    expect(w.config).toBeDefined();
    expect(w.diagnostics[0]).toMatchObject({ severity: 'warning' });
  });
});

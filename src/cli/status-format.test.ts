import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import type { RealServerStatus, ServiceStatus } from '../check/health.js';
import { serviceStatus, type DaemonStatus, type IpvsServiceStatus } from '../daemon/control/status.js';
import type { InstanceStatus } from '../daemon/vrrp/types.js';
import { parseSave } from '../ipvs/ipvsadm.js';
import { serviceKey } from '../ipvs/model.js';
import { formatIpvs, formatStatus, formatVrrp } from './status-format.js';

const ipvsadmFixture = (name: string) => readFileSync(new URL(`../../test/fixtures/ipvsadm/${name}`, import.meta.url), 'utf8');

/** Width of ipvsadm's row: `  -> ` + 28 + 1 + 7 + 1 + 6 + 1 + 10 + 1 + 10. */
const IPVSADM_ROW = 70;

/** The kernel table of a `.save` capture, in its own order, as the daemon's status carries it. */
function kernelTable(save: string, conns: Record<string, [number, number]> = {}): IpvsServiceStatus[] {
  const byKey = new Map(parseSave(save).map((s) => [serviceKey(s.id), s]));
  const order = save
    .split('\n')
    .filter((l) => l.startsWith('-A '))
    .map((l) => serviceKey(parseSave(l)[0]!.id));
  return order.map((key) => {
    const svc = byKey.get(key)!;
    for (const d of svc.dests) {
      const c = conns[`${d.address}:${d.port}`] ?? [0, 0];
      d.activeConns = c[0];
      d.inactiveConns = c[1];
    }
    return serviceStatus(svc, key);
  });
}

function rs(vs: string, address: string, port: number, weight: number, over: Partial<RealServerStatus> = {}): RealServerStatus {
  return {
    vs,
    rs: `${address}:${port}`,
    address,
    port,
    up: true,
    weight,
    configWeight: weight,
    lastResult: { ok: true, detail: 'HTTP 200' },
    lastCheckedAt: 98_500,
    checks: [],
    ...over,
  };
}

function status(table: IpvsServiceStatus[], over: Partial<DaemonStatus> = {}, drained: string[] = []): DaemonStatus {
  const services: ServiceStatus[] = table.map((t) => ({
    vs: t.vs!,
    quorum: 1,
    hysteresis: 0,
    quorumUp: true,
    sorryActive: false,
    weight: 0,
    threshold: 0,
    realServers: t.dests.map((d) => rs(t.vs!, d.address, d.port, d.weight || 1)),
  }));
  return {
    node: { hostname: 'd1', pid: 42, version: '0.1.0', startedAt: '2026-12-07T22:00:00.000Z', uptimeS: 100 },
    config: { path: '/etc/vipkeeper/vipkeeper.yaml', format: 'yaml', hash: '0123456789abcdef', loadedAt: '2026-12-07T22:00:00.000Z', reloads: { ok: 0, failed: 0 } },
    health: { at: 100_000, services, scheduler: {} as never },
    ipvs: { state: 'in-sync', driftCorrections: 0, reconciles: 3, table, configured: table.map((t) => ({ ...t, dests: t.dests.map(({ activeConn: _a, inactConn: _i, ...d }) => ({ ...d, weight: d.weight || 1 })) })) },
    maintenance: false,
    realServers: services.flatMap((s) =>
      s.realServers.map((r) => ({ vs: s.vs, address: r.address, port: r.port, verdict: 'up' as const, weight: r.weight, drained: drained.includes(`${r.address}:${r.port}`) })),
    ),
    drained,
    counters: { otherMasterSeen: {} },
    ...over,
  };
}

/** The ipvsadm part of `vipkeeper status`: from the header on, vipkeeper's columns cut off. */
function asIpvsadm(lines: string[]): string[] {
  const from = lines.findIndex((l) => l.startsWith('Prot '));
  return lines.slice(from).map((l) => (l.startsWith('  -> ') ? l.slice(0, IPVSADM_ROW) : l.replace(/ {2}\[(quorum lost|sorry server|not in the kernel)\].*$/, '')).trimEnd());
}

const expected = (ln: string) =>
  ln
    .trimEnd()
    .split('\n')
    .slice(1) // the version line is the kernel's
    .map((l) => l.trimEnd());

describe('vipkeeper status: the IPVS part reads as ipvsadm -Ln', () => {
  it('every service shape of the captured table (flags, masks, ops, SCTP, IPv6, fwmark, Route/Masq/Tunnel)', () => {
    const table = kernelTable(ipvsadmFixture('mixed.save'), { '10.0.0.3:8080': [3, 12], '2001:db8::5:443': [1, 0] });
    const lines = formatIpvs(status(table));
    // the header carries vipkeeper's columns after ipvsadm's
    expect(lines[lines.findIndex((l) => l.startsWith('Prot ')) + 1]).toMatch(/^ {2}-> RemoteAddress:Port {11}Forward Weight ActiveConn InActConn +Check +Checked +Reason$/);
    expect(asIpvsadm(lines)).toEqual(expected(ipvsadmFixture('mixed.ln')));
  });

  it('a drained real server shows weight 0 and the verdict "drained"; the others their check, its age and reason', () => {
    const table = kernelTable(ipvsadmFixture('dr-wrr.save'), { '10.0.0.11:80': [12, 40], '10.0.0.12:80': [2, 7], '10.0.0.13:80': [0, 3] });
    const lines = formatIpvs(status(table, {}, ['10.0.0.12:80']));
    expect(asIpvsadm(lines)).toEqual(expected(ipvsadmFixture('dr-wrr.ln')));
    expect(lines).toContain('TCP  10.77.0.100:80 wrr persistent 300');
    const row = (a: string) => lines.find((l) => l.startsWith(`  -> ${a}`))!;
    expect(row('10.0.0.12:80').slice(IPVSADM_ROW)).toMatch(/^ drained +1\.5s +HTTP 200$/);
    expect(row('10.0.0.11:80').slice(IPVSADM_ROW)).toMatch(/^ up +1\.5s +HTTP 200$/);
  });

  it('IPVS degraded: the configured table with its forwarding words, no connection counts, the reason said once', () => {
    const table = kernelTable(ipvsadmFixture('dr-wrr.save'));
    const reason =
      'IPVS is not available: the kernel has no IP_VS (modprobe ip_vs failed: Module ip_vs not found in directory /lib/modules/6.1.0); the VIPs are served without load balancing until it is';
    const s = status(table, {}, ['10.0.0.12:80']);
    s.ipvs = { state: 'degraded', error: reason, driftCorrections: 0, reconciles: 0, table: [], configured: s.ipvs!.configured! };
    const text = formatStatus(s);
    expect(text.split(reason).length - 1).toBe(1);
    const lines = formatIpvs(s);
    expect(lines.filter((l) => l.startsWith('  -> ') && !l.includes('RemoteAddress')).map((l) => l.slice(0, IPVSADM_ROW).trimEnd())).toEqual([
      '  -> 10.0.0.11:80                 Route   3      -          -',
      '  -> 10.0.0.12:80                 Route   0      -          -',
      '  -> 10.0.0.13:80                 Route   1      -          -',
    ]);
  });

  it('a real server down and out of the kernel is listed with its verdict, the reason, and no weight', () => {
    const table = kernelTable(ipvsadmFixture('dr-wrr.save'));
    const s = status(table);
    s.ipvs!.table[0]!.dests = s.ipvs!.table[0]!.dests.filter((d) => d.address !== '10.0.0.13');
    s.health!.services[0]!.realServers[2] = rs('10.77.0.100:80', '10.0.0.13', 80, 1, {
      up: false,
      lastResult: { ok: false, reason: 'refused', detail: 'connect ECONNREFUSED 10.0.0.13:80' },
    });
    s.health!.services[0]!.realServers[2]!.vs = s.health!.services[0]!.vs;
    const row = formatIpvs(s).find((l) => l.startsWith('  -> 10.0.0.13:80'))!;
    expect(row).toMatch(/^ {2}-> 10\.0\.0\.13:80 +Route +- +- +- +down +1\.5s +refused: connect ECONNREFUSED 10\.0\.0\.13:80$/);
  });
});

describe('vipkeeper status: the VRRP part reads as keepalived data', () => {
  const inst = (over: Partial<InstanceStatus>): InstanceStatus => ({
    name: 'VI_1',
    vrid: 51,
    version: 2,
    family: 4,
    interface: 'eth0',
    sourceIp: '10.77.0.2',
    advertIntervalMs: 1000,
    syncGroup: undefined,
    state: 'BACKUP',
    basePriority: 100,
    effectivePriority: 90,
    masterSeen: { ip: '10.77.0.1', priority: 150, lastSeenAt: 9_600, lastSeen: '2026-12-07T22:31:09.600Z' },
    vips: ['10.77.0.100/32'],
    vipsSet: false,
    maintenance: false,
    fault: { link: false, track: false, reason: '' },
    tracking: { weightDelta: -10, fault: false, reason: 'track_script chk_nginx failed (weight -10)' },
    recentTransitions: [{ at: 2_000, time: '2026-12-07T22:31:02.000Z', from: 'INIT', to: 'BACKUP', reason: 'startup, priority below 255' }],
    counters: {} as never,
    transport: undefined,
    ...over,
  });
  it('state, priority base and effective, the master seen with its age, the last transition with its wall time and reason', () => {
    const s = status([], { vrrp: { at: 10_000, time: '2026-12-07T22:31:10.000Z', running: true, transport: undefined, instances: [inst({})], syncGroups: [] } });
    const text = formatVrrp(s).join('\n');
    expect(text).toContain(' VRRP Instance = VI_1');
    expect(text).toMatch(/State += BACKUP\n/);
    expect(text).toMatch(/Priority += 100 base, 90 effective \(track_script chk_nginx failed \(weight -10\)\)/);
    expect(text).toMatch(/Master router += 10\.77\.0\.1, priority 150, last advert 400ms ago/);
    expect(text).toMatch(/Last transition += 2026-12-07T22:31:02\.000Z \(8\.0s ago\) INIT -> BACKUP: startup, priority below 255/);
    expect(text).toMatch(/Virtual Router ID += 51, VRRPv2, advert 1 sec/);
  });
  it('a MASTER names itself', () => {
    const s = status([], { vrrp: { at: 10_000, running: true, transport: undefined, instances: [inst({ state: 'MASTER', masterSeen: undefined, effectivePriority: 100 })], syncGroups: [] } });
    expect(formatVrrp(s).join('\n')).toMatch(/Master router += 10\.77\.0\.2 \(this node\)/);
  });
});

import { describe, expect, it } from 'vitest';
import type { DaemonStatus, IpvsStatus } from '../daemon/control/status.js';
import type { InstanceStatus } from '../daemon/vrrp/types.js';
import { compareIpvsTables } from './probe.js';
import { ipvsCheck, localChecks, nodeIdentity, peerChecks, wireCheck } from './precheck.js';

function inst(over: Partial<InstanceStatus> = {}): InstanceStatus {
  return {
    name: 'VI_1',
    vrid: 51,
    version: 3,
    family: 4,
    interface: 'eth0',
    sourceIp: '10.77.0.1',
    advertIntervalMs: 100,
    syncGroup: undefined,
    state: 'MASTER',
    basePriority: 150,
    effectivePriority: 150,
    masterSeen: undefined,
    vips: ['10.77.0.100/24'],
    vipsSet: true,
    maintenance: false,
    fault: { link: false, track: false, reason: '' },
    recentTransitions: [],
    counters: {} as InstanceStatus['counters'],
    transport: undefined,
    ...over,
  };
}

function status(instances: InstanceStatus[], over: Partial<DaemonStatus> = {}): DaemonStatus {
  return {
    node: { hostname: 'x', pid: 1, version: '0', startedAt: '', uptimeS: 1 },
    config: { path: '/x', format: 'yaml', hash: '', loadedAt: '', reloads: { ok: 0, failed: 0 } },
    vrrp: { at: 10_000, running: true, transport: undefined, syncGroups: [], instances },
    ipvs: { state: 'in-sync', driftCorrections: 0, reconciles: 1, table: [] },
    maintenance: false,
    realServers: [],
    drained: [],
    counters: { otherMasterSeen: {} },
    ...over,
  };
}

const me = inst();
const backup = (over: Partial<InstanceStatus> = {}) =>
  inst({ state: 'BACKUP', sourceIp: '10.77.0.2', effectivePriority: 100, masterSeen: { ip: '10.77.0.1', priority: 150, lastSeenAt: 9_950 }, ...over });
const peer = (i: InstanceStatus | undefined, over: Partial<DaemonStatus> = {}) => ({ status: status(i ? [i] : [], over), describe: 'peer.sock', latencyMs: 3 });

describe('drill pre-checks (pure)', () => {
  it('this node: MASTER with VIPs, not in maintenance', () => {
    expect(localChecks(me, status([me])).map((c) => c.ok)).toEqual([true]);
    expect(localChecks(inst({ state: 'BACKUP' }), status([])).at(-1)).toMatchObject({ ok: false, detail: expect.stringMatching(/runs on the MASTER/) });
    expect(localChecks(inst({ vipsSet: false }), status([])).at(-1)).toMatchObject({ ok: false, detail: expect.stringMatching(/VIPs are not set/) });
    expect(localChecks(inst({ maintenance: true }), status([])).at(-1)).toMatchObject({ ok: false, check: 'local-maintenance' });
  });

  it('the peer: reachable, BACKUP, a priority that can take over, hearing this node', () => {
    const good = peerChecks(me, peer(backup()), 100, 100);
    expect(good.checks.map((c) => [c.check, c.ok])).toEqual([
      ['peer-reachable', true],
      ['peer-backup', true],
      ['peer-priority', true],
      ['peer-hears-us', true],
    ]);
    expect(peerChecks(me, { error: 'ECONNREFUSED', describe: 'peer.sock' }, 100, 100).checks.at(-1)).toMatchObject({ ok: false, detail: expect.stringMatching(/ECONNREFUSED/) });
    expect(peerChecks(me, peer(undefined), 100, 100).checks.at(-1)).toMatchObject({ ok: false, detail: expect.stringMatching(/no instance with VRID 51/) });
    expect(peerChecks(me, peer(backup({ state: 'FAULT' })), 100, 100).checks.at(-1)).toMatchObject({ check: 'peer-backup', ok: false });
    expect(peerChecks(me, peer(backup({ effectivePriority: 0 })), 100, 100).checks.at(-1)).toMatchObject({ check: 'peer-priority', ok: false });
    expect(peerChecks(me, peer(backup(), { maintenance: true }), 100, 100).checks.at(-1)).toMatchObject({ check: 'peer-priority', ok: false });
    expect(peerChecks(me, peer(backup({ masterSeen: undefined })), 100, 100).checks.at(-1)).toMatchObject({ check: 'peer-hears-us', ok: false });
    // heard, but 3 intervals + slack ago
    expect(peerChecks(me, peer(backup({ masterSeen: { ip: '10.77.0.1', priority: 150, lastSeenAt: 9_500 } })), 100, 100).checks.at(-1)).toMatchObject({ ok: false, detail: expect.stringMatching(/does not receive them now/) });
  });

  it("names this node by its daemon's advert source, not by the interfaces of the process running the drill", () => {
    // The drill runs outside the director's namespace: only the daemon knows 10.77.0.1 is us.
    expect(nodeIdentity(me)).toEqual(new Set(['10.77.0.1', '10.77.0.100']));
    expect(peerChecks(me, peer(backup()), 100, 100).checks.at(-1)!.ok).toBe(true);
    const other = peerChecks(me, peer(backup({ masterSeen: { ip: '10.77.0.9', priority: 200, lastSeenAt: 9_990 } })), 100, 100).checks.at(-1)!;
    expect(other).toMatchObject({ ok: false, detail: 'the peer follows 10.77.0.9, which is not this node (this node advertises from 10.77.0.1)' });
    // IPv6: a link-local source with a zone, in another spelling
    const me6 = inst({ family: 6, sourceIp: 'fe80::1', vips: ['fd00::100/64'] });
    const b6 = inst({ family: 6, state: 'BACKUP', effectivePriority: 100, masterSeen: { ip: 'FE80:0::1%eth0', priority: 150, lastSeenAt: 9_990 } });
    expect(peerChecks(me6, peer(b6), 100, 100).checks.at(-1)!.ok).toBe(true);
  });

  it('IPVS: differences refuse; a comparison over nothing is a warning, not an ok', () => {
    const table = (n: number): IpvsStatus => ({
      state: 'in-sync',
      driftCorrections: 0,
      reconciles: 1,
      table: n ? [{ service: 'TCP 10.0.0.100:80', scheduler: 'rr', flags: [], dests: [{ address: '10.0.0.11', port: 80, forwarding: 'Route', weight: n }] }] : [],
    });
    expect(ipvsCheck(table(1), table(1), compareIpvsTables(table(1), table(1)))).toEqual({ check: 'ipvs-tables-match', ok: true, detail: 'IPVS tables identical (1 service(s), 1 destination(s))' });
    expect(ipvsCheck(table(1), table(2), compareIpvsTables(table(1), table(2)))).toMatchObject({ ok: false, detail: expect.stringMatching(/weight 1 here, 2 on the peer/) });
    const degraded = { ...table(0), state: 'degraded' as const };
    expect(ipvsCheck(degraded, degraded, [])).toMatchObject({ ok: true, warning: true, detail: expect.stringMatching(/both IPVS tables are empty \(IPVS is degraded here, degraded on the peer\): the comparison proves nothing/) });
    expect(ipvsCheck(undefined, undefined, [])).toMatchObject({ ok: true, warning: true });
  });

  it('the wire: another router advertising the VRID refuses', () => {
    expect(wireCheck(51, undefined, 300)).toMatchObject({ ok: true });
    expect(wireCheck(51, { src: '10.77.0.9', priority: 200 }, 300)).toMatchObject({ ok: false, detail: 'another router advertises VRID 51: 10.77.0.9 at priority 200' });
  });
});

import { describe, expect, it } from 'vitest';
import { VrrpInstance, VrrpUsageError, resolveVrrpParams, type VrrpInstanceInput } from './instance.js';
import { VrrpSyncGroup, type SyncGroupEvent, type SyncGroupTransmit } from './sync-group.js';

function member(name: string, over: Partial<VrrpInstanceInput> = {}): VrrpInstance {
  return new VrrpInstance(resolveVrrpParams({ name, vrid: name === 'VI_A' ? 51 : 52, primaryIp: '10.0.0.5', ...over }));
}

function group(
  a: Partial<VrrpInstanceInput> = {},
  b: Partial<VrrpInstanceInput> = {},
  opts: { trackingWeight?: boolean } = {},
): VrrpSyncGroup {
  return new VrrpSyncGroup({ name: 'G1', ...opts }, [member('VI_A', a), member('VI_B', b)]);
}

function drainEvents(g: VrrpSyncGroup): SyncGroupEvent[] {
  const out: SyncGroupEvent[] = [];
  for (let e = g.pollEvent(); e; e = g.pollEvent()) out.push(e);
  return out;
}

function drainTx(g: VrrpSyncGroup): SyncGroupTransmit[] {
  const out: SyncGroupTransmit[] = [];
  for (let t = g.pollTransmit(); t; t = g.pollTransmit()) out.push(t);
  return out;
}

const groupEvents = (evs: SyncGroupEvent[]) => evs.filter((e) => e.type !== 'member');
const states = (g: VrrpSyncGroup) => g.members.map((m) => m.state);

function runUntil(g: VrrpSyncGroup, t: number): void {
  for (let d = g.pollTimeout(); d !== undefined && d <= t; d = g.pollTimeout()) g.handleTimeout(d);
}

const adv = (srcIp: string, priority: number) => ({ srcIp, priority, advertIntervalMs: 1000 });

/** Bring the group to MASTER; returns the time. */
function toMaster(g: VrrpSyncGroup): number {
  g.start(0);
  runUntil(g, 3609.375);
  expect(g.state).toBe('MASTER');
  drainEvents(g);
  drainTx(g);
  return 3609.375;
}

describe('VrrpSyncGroup (docs/vrrp.md §5.8)', () => {
  it('starts in BACKUP with a group notify', () => {
    const g = group();
    g.start(0);
    expect(g.state).toBe('BACKUP');
    expect(states(g)).toEqual(['BACKUP', 'BACKUP']);
    expect(groupEvents(drainEvents(g))).toEqual([
      { type: 'groupStateChange', group: 'G1', from: 'INIT', to: 'BACKUP', reason: 'startup' },
      { type: 'groupNotify', group: 'G1', state: 'BACKUP' },
    ]);
    expect(g.pollTimeout()).toBe(3609.375);
  });

  it('goes MASTER only when every member wants MASTER: at the LAST member down timer', () => {
    const g = group({ priority: 150 }, { priority: 100 });
    g.start(0);
    drainEvents(g);
    g.handleTimeout(3414.062); // VI_A (150) expires first: held in BACKUP, re-armed
    expect(states(g)).toEqual(['BACKUP', 'BACKUP']);
    expect(g.member('VI_A').wantState).toBe('MASTER');
    expect(g.member('VI_A').pollTimeout()).toBe(3414.062 + 3414.062);
    expect(drainTx(g)).toEqual([]);
    g.handleTimeout(3609.375); // VI_B expires: all want MASTER
    expect(g.state).toBe('MASTER');
    expect(states(g)).toEqual(['MASTER', 'MASTER']);
    expect(drainTx(g)).toEqual([
      { instance: 'VI_A', priority: 150, advertIntervalMs: 1000 },
      { instance: 'VI_B', priority: 100, advertIntervalMs: 1000 },
    ]);
    const evs = drainEvents(g);
    expect(groupEvents(evs)).toEqual([
      { type: 'groupStateChange', group: 'G1', from: 'BACKUP', to: 'MASTER', reason: 'all members want MASTER' },
      { type: 'groupNotify', group: 'G1', state: 'MASTER' },
    ]);
    expect(evs).toContainEqual({ type: 'member', instance: 'VI_A', event: { type: 'addVips' } });
    expect(evs).toContainEqual({ type: 'member', instance: 'VI_B', event: { type: 'addVips' } });
  });

  it('stays BACKUP while one member still hears its master, then goes MASTER when that master stops', () => {
    const g = group();
    g.start(0);
    for (let t = 1000; t <= 10_000; t += 1000) {
      runUntil(g, t);
      g.handleAdvert(t, 'VI_B', adv('10.0.0.9', 200));
    }
    expect(g.state).toBe('BACKUP');
    expect(g.member('VI_A').wantState).toBe('MASTER');
    expect(g.member('VI_B').wantState).toBe('BACKUP');
    runUntil(g, 10_000 + 3609.375);
    expect(g.state).toBe('MASTER');
    expect(states(g)).toEqual(['MASTER', 'MASTER']);
  });

  it('a FAULT in one member puts every member in FAULT; recovery brings all back to BACKUP together', () => {
    const g = group();
    const t = toMaster(g);
    g.linkChange(t + 10, 'VI_B', false);
    expect(g.state).toBe('FAULT');
    expect(states(g)).toEqual(['FAULT', 'FAULT']);
    // both MASTERs sent priority 0 on the way to FAULT
    expect(drainTx(g)).toEqual([
      { instance: 'VI_A', priority: 0, advertIntervalMs: 1000 },
      { instance: 'VI_B', priority: 0, advertIntervalMs: 1000 },
    ]);
    expect(groupEvents(drainEvents(g))).toEqual([
      { type: 'groupStateChange', group: 'G1', from: 'MASTER', to: 'FAULT', reason: 'member "VI_B" is in FAULT' },
      { type: 'groupNotify', group: 'G1', state: 'FAULT' },
    ]);
    // a second fault on the other member, then the first clears: still FAULT
    g.setTrack(t + 20, 'VI_A', { weightDelta: 0, fault: true, reason: 'chk' });
    g.linkChange(t + 30, 'VI_B', true);
    expect(g.state).toBe('FAULT');
    expect(states(g)).toEqual(['FAULT', 'FAULT']);
    g.setTrack(t + 40, 'VI_A', { weightDelta: 0, fault: false, reason: 'chk ok' });
    expect(g.state).toBe('BACKUP');
    expect(states(g)).toEqual(['BACKUP', 'BACKUP']);
    expect(g.member('VI_A').pollTimeout()).toBe(t + 40 + 3609.375);
    expect(g.member('VI_B').pollTimeout()).toBe(t + 40 + 3609.375);
  });

  it('a member that sees a higher priority takes the whole group to BACKUP, without priority 0', () => {
    const g = group();
    const t = toMaster(g);
    g.handleAdvert(t + 100, 'VI_A', adv('10.0.0.9', 200));
    expect(g.state).toBe('BACKUP');
    expect(states(g)).toEqual(['BACKUP', 'BACKUP']);
    expect(drainTx(g)).toEqual([]);
    const evs = drainEvents(g);
    expect(evs).toContainEqual({ type: 'member', instance: 'VI_B', event: { type: 'removeVips' } });
    expect(groupEvents(evs)).toEqual([
      { type: 'groupStateChange', group: 'G1', from: 'MASTER', to: 'BACKUP', reason: 'member "VI_A" went BACKUP' },
      { type: 'groupNotify', group: 'G1', state: 'BACKUP' },
    ]);
  });

  it('a lower-priority advert to one member makes every MASTER member send lower-priority GARPs', () => {
    const g = group();
    const t = toMaster(g);
    g.handleAdvert(t + 100, 'VI_A', adv('10.0.0.9', 50));
    const garps = drainEvents(g).flatMap((e) =>
      e.type === 'member' && e.event.type === 'sendGarp' ? [`${e.instance}:${e.event.cause}`] : [],
    );
    expect(garps).toEqual(['VI_A:lowerPrio', 'VI_B:lowerPrioSync']);
  });

  it('members with state MASTER start held in BACKUP for adv + minimum skew, then go MASTER together', () => {
    const g = group({ initialState: 'MASTER', priority: 100 }, { initialState: 'MASTER', priority: 100 });
    g.start(0);
    expect(states(g)).toEqual(['BACKUP', 'BACKUP']);
    expect(g.pollTimeout()).toBe(1003.906);
    g.handleTimeout(1003.906);
    expect(g.state).toBe('MASTER');
  });

  it('a member with state BACKUP still holds a state MASTER sibling until its own timer expires', () => {
    const g = group({ initialState: 'MASTER', priority: 100 }, { initialState: 'BACKUP', priority: 100 });
    g.start(0);
    g.handleTimeout(1003.906);
    expect(g.state).toBe('BACKUP');
    expect(g.member('VI_A').pollTimeout()).toBe(1003.906 + 3609.375);
    runUntil(g, 3609.375);
    expect(g.state).toBe('MASTER');
  });

  it('address owners with state MASTER start MASTER at once only if every member is one', () => {
    const owners = group({ priority: 255 }, { priority: 255 });
    owners.start(0);
    expect(owners.state).toBe('MASTER');
    expect(states(owners)).toEqual(['MASTER', 'MASTER']);
    expect(groupEvents(drainEvents(owners))).toEqual([
      { type: 'groupStateChange', group: 'G1', from: 'INIT', to: 'MASTER', reason: 'all members MASTER' },
      { type: 'groupNotify', group: 'G1', state: 'MASTER' },
    ]);

    const mixed = group({ priority: 255 }, { priority: 100 });
    mixed.start(0);
    expect(mixed.state).toBe('BACKUP');
    expect(mixed.member('VI_A').pollTimeout()).toBe(1003.906);
  });

  it('a member in FAULT at start puts the group in FAULT', () => {
    const g = group();
    g.linkChange(0, 'VI_A', false);
    g.start(0);
    expect(g.state).toBe('FAULT');
    expect(states(g)).toEqual(['FAULT', 'FAULT']);
  });

  it('weighted trackers are ignored unless sync_group_tracking_weight', () => {
    const plain = group();
    plain.setTrack(0, 'VI_A', { weightDelta: -50, fault: false, reason: 'w' });
    expect(plain.member('VI_A').effectivePriority).toBe(100);
    const weighted = group({}, {}, { trackingWeight: true });
    weighted.setTrack(0, 'VI_A', { weightDelta: -50, fault: false, reason: 'w' });
    expect(weighted.member('VI_A').effectivePriority).toBe(50);
  });

  it('group stepDown: every member sends priority 0 and the group goes BACKUP', () => {
    const g = group();
    const t = toMaster(g);
    g.command(t + 1, 'stepDown');
    expect(g.state).toBe('BACKUP');
    expect(drainTx(g)).toEqual([
      { instance: 'VI_A', priority: 0, advertIntervalMs: 1000 },
      { instance: 'VI_B', priority: 0, advertIntervalMs: 1000 },
    ]);
  });

  it('maintenance on one member takes the group to BACKUP and keeps it there', () => {
    const g = group();
    const t = toMaster(g);
    g.command(t + 1, 'maintenanceOn', 'VI_A');
    expect(g.state).toBe('BACKUP');
    expect(states(g)).toEqual(['BACKUP', 'BACKUP']);
    expect(drainTx(g)).toEqual([{ instance: 'VI_A', priority: 0, advertIntervalMs: 1000 }]);
    runUntil(g, t + 60_000);
    expect(g.state).toBe('BACKUP');
    g.command(t + 60_001, 'maintenanceOff', 'VI_A');
    runUntil(g, t + 60_001 + 3609.375);
    expect(g.state).toBe('MASTER');
  });

  it('shutdown of every member ends in STOP', () => {
    const g = group();
    const t = toMaster(g);
    g.command(t + 1, 'shutdown');
    expect(g.state).toBe('STOP');
    expect(g.pollTimeout()).toBeUndefined();
    expect(drainTx(g).map((x) => x.priority)).toEqual([0, 0]);
  });

  it('snapshot lists members and group transitions', () => {
    const g = group();
    toMaster(g);
    const s = g.snapshot();
    expect(s.name).toBe('G1');
    expect(s.state).toBe('MASTER');
    expect(s.members.map((m) => [m.name, m.state, m.syncGroup])).toEqual([
      ['VI_A', 'MASTER', 'G1'],
      ['VI_B', 'MASTER', 'G1'],
    ]);
    expect(s.transitions.map((x) => `${x.from}>${x.to}`)).toEqual(['INIT>BACKUP', 'BACKUP>MASTER']);
  });

  it('rejects an instance in two groups, duplicates, unknown members, and started instances', () => {
    const a = member('VI_A');
    new VrrpSyncGroup({ name: 'G1' }, [a, member('VI_B')]);
    expect(() => new VrrpSyncGroup({ name: 'G2' }, [a])).toThrow(VrrpUsageError);
    const b = member('VI_B');
    expect(() => new VrrpSyncGroup({ name: 'G3' }, [b, b])).toThrow(/duplicate/);
    expect(() => group().member('nope')).toThrow(/no member/);
    const started = member('VI_C');
    started.start(0);
    expect(() => new VrrpSyncGroup({ name: 'G4' }, [started])).toThrow(/started/);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigSchema, type ConfigInput } from '../config/schema.js';
import { VrrpInstance, resolveVrrpParams } from './instance.js';
import {
  computeTrack,
  evaluateTracker,
  instanceTrack,
  resolveTrackers,
  trackFileStatus,
  type ResolvedTracker,
  type TrackerStates,
} from './tracking.js';

type InstanceInput = NonNullable<ConfigInput['instances']>[string];

/** A config with one instance VI_1 (plus whatever `extra` adds). */
function cfg(inst: Partial<InstanceInput>, extra: Omit<ConfigInput, 'instances'> & { instances?: ConfigInput['instances'] } = {}) {
  return ConfigSchema.parse({
    vrrp_scripts: {
      chk: { script: '/bin/true', weight: -20 },
      chk0: { script: '/bin/true' },
      chk_rev: { script: '/bin/true', weight: 15, weight_reverse: true },
      chk_if: { script: '/bin/true', init_fail: true },
    },
    track_files: {
      f0: { file: '/tmp/f0', weight: 0 },
      f1: { file: '/tmp/f1' },
      fneg: { file: '/tmp/fneg', weight: -10 },
      frev: { file: '/tmp/frev', weight: 2, weight_reverse: true },
    },
    track_processes: {
      nginx: { process: 'nginx', quorum: 2, quorum_max: 3 },
      haproxy: { process: 'haproxy', weight: 7 },
    },
    ...extra,
    instances: { VI_1: { virtual_router_id: 1, ...inst }, ...(extra.instances ?? {}) },
  });
}

interface Row {
  name: string;
  inst: Partial<InstanceInput>;
  states: TrackerStates;
  delta: number;
  fault: boolean;
  init?: boolean;
  reason?: string | RegExp;
}

const ROWS: Row[] = [
  // ---- track_interface (docs/vrrp.md §5.7: +w while up, w<0 while down, reverse flips the sign)
  { name: 'if w0 down → FAULT', inst: { track_interface: ['eth1'] }, states: { interfaces: { eth1: false } }, delta: 0, fault: true, reason: 'track_interface eth1 down' },
  { name: 'if w0 up', inst: { track_interface: ['eth1'] }, states: { interfaces: { eth1: true } }, delta: 0, fault: false, reason: 'all trackers OK' },
  { name: 'if w0 unknown = down', inst: { track_interface: ['eth1'] }, states: {}, delta: 0, fault: true },
  { name: 'if w0 reverse up → FAULT', inst: { track_interface: [{ interface: 'eth1', weight: 0, reverse: true }] }, states: { interfaces: { eth1: true } }, delta: 0, fault: true },
  { name: 'if w0 reverse down', inst: { track_interface: [{ interface: 'eth1', weight: 0, reverse: true }] }, states: { interfaces: { eth1: false } }, delta: 0, fault: false },
  { name: 'if +10 up', inst: { track_interface: [{ interface: 'eth1', weight: 10 }] }, states: { interfaces: { eth1: true } }, delta: 10, fault: false, reason: 'track_interface eth1 up (+10)' },
  { name: 'if +10 down', inst: { track_interface: [{ interface: 'eth1', weight: 10 }] }, states: { interfaces: { eth1: false } }, delta: 0, fault: false },
  { name: 'if -10 down', inst: { track_interface: [{ interface: 'eth1', weight: -10 }] }, states: { interfaces: { eth1: false } }, delta: -10, fault: false, reason: 'track_interface eth1 down (-10)' },
  { name: 'if -10 up', inst: { track_interface: [{ interface: 'eth1', weight: -10 }] }, states: { interfaces: { eth1: true } }, delta: 0, fault: false },
  { name: 'if +10 reverse up', inst: { track_interface: [{ interface: 'eth1', weight: 10, reverse: true }] }, states: { interfaces: { eth1: true } }, delta: -10, fault: false },
  { name: 'if +10 reverse down', inst: { track_interface: [{ interface: 'eth1', weight: 10, reverse: true }] }, states: { interfaces: { eth1: false } }, delta: 0, fault: false },
  { name: 'if -10 reverse down', inst: { track_interface: [{ interface: 'eth1', weight: -10, reverse: true }] }, states: { interfaces: { eth1: false } }, delta: 10, fault: false },
  { name: 'if 254 becomes 253', inst: { track_interface: [{ interface: 'eth1', weight: 254 }] }, states: { interfaces: { eth1: true } }, delta: 253, fault: false },

  // ---- track_script: the reference's weight overrides the script's
  { name: 'script def weight -20, failed', inst: { track_script: ['chk'] }, states: { scripts: { chk: 'down' } }, delta: -20, fault: false, reason: 'track_script chk failed (-20)' },
  { name: 'script def weight -20, ok', inst: { track_script: ['chk'] }, states: { scripts: { chk: true } }, delta: 0, fault: false },
  { name: 'script ref weight +5 overrides, ok', inst: { track_script: [{ name: 'chk', weight: 5 }] }, states: { scripts: { chk: 'up' } }, delta: 5, fault: false },
  { name: 'script ref weight 0 overrides, failed → FAULT', inst: { track_script: [{ name: 'chk', weight: 0 }] }, states: { scripts: { chk: false } }, delta: 0, fault: true, reason: 'track_script chk failed' },
  { name: 'script w0 failed → FAULT', inst: { track_script: ['chk0'] }, states: { scripts: { chk0: 'down' } }, delta: 0, fault: true, reason: 'track_script chk0 failed' },
  { name: 'script w0 ok', inst: { track_script: ['chk0'] }, states: { scripts: { chk0: 'up' } }, delta: 0, fault: false },
  { name: 'script w0 init = not up', inst: { track_script: ['chk0'] }, states: { scripts: { chk0: 'init' } }, delta: 0, fault: true, init: true, reason: 'track_script chk0 has not reported yet' },
  { name: 'script w0 no state = init', inst: { track_script: ['chk0'] }, states: {}, delta: 0, fault: true, init: true },
  { name: 'script weighted init adds nothing', inst: { track_script: ['chk'] }, states: { scripts: { chk: 'init' } }, delta: 0, fault: false, init: false },
  { name: 'script init_fail, no state = failed', inst: { track_script: ['chk_if'] }, states: {}, delta: 0, fault: true, init: false, reason: 'track_script chk_if failed' },
  { name: 'script def reverse +15, ok', inst: { track_script: ['chk_rev'] }, states: { scripts: { chk_rev: 'up' } }, delta: -15, fault: false, reason: 'track_script chk_rev succeeded (reverse) (-15)' },
  { name: 'script ref noreverse overrides def reverse', inst: { track_script: [{ name: 'chk_rev', weight: 15, reverse: false }] }, states: { scripts: { chk_rev: 'up' } }, delta: 15, fault: false },
  { name: 'script ref weight keeps def reverse', inst: { track_script: [{ name: 'chk_rev', weight: 4 }] }, states: { scripts: { chk_rev: 'up' } }, delta: -4, fault: false },
  { name: 'script ref -254 becomes -253', inst: { track_script: [{ name: 'chk', weight: -254 }] }, states: { scripts: { chk: 'down' } }, delta: -253, fault: false },
  { name: 'script w0 reverse ok → FAULT', inst: { track_script: [{ name: 'chk0', weight: 0, reverse: true }] }, states: { scripts: { chk0: 'up' } }, delta: 0, fault: true },

  // ---- track_file: value × weight, weight 0 = non-zero is FAULT, ≤ -254 is FAULT
  { name: 'file w0 value 0', inst: { track_file: ['f0'] }, states: { files: { f0: 0 } }, delta: 0, fault: false },
  { name: 'file w0 value 3 → FAULT', inst: { track_file: ['f0'] }, states: { files: { f0: 3 } }, delta: 0, fault: true, reason: 'track_file f0 value 3' },
  { name: 'file w0 reverse value 0 → FAULT', inst: { track_file: [{ name: 'f0', reverse: true }] }, states: { files: { f0: 0 } }, delta: 0, fault: true },
  { name: 'file default weight 1, value 5', inst: { track_file: ['f1'] }, states: { files: { f1: 5 } }, delta: 5, fault: false },
  { name: 'file default weight 1, value -7', inst: { track_file: ['f1'] }, states: { files: { f1: -7 } }, delta: -7, fault: false },
  { name: 'file missing value = 0', inst: { track_file: ['f1'] }, states: {}, delta: 0, fault: false },
  { name: 'file value -254 → FAULT', inst: { track_file: ['f1'] }, states: { files: { f1: -254 } }, delta: 0, fault: true },
  { name: 'file value -253 is not FAULT', inst: { track_file: ['f1'] }, states: { files: { f1: -253 } }, delta: -253, fault: false },
  { name: 'file -10 × 30 → FAULT', inst: { track_file: ['fneg'] }, states: { files: { fneg: 30 } }, delta: 0, fault: true },
  { name: 'file -10 × 2', inst: { track_file: ['fneg'] }, states: { files: { fneg: 2 } }, delta: -20, fault: false },
  { name: 'file big positive clamps to 253', inst: { track_file: [{ name: 'f1', weight: 10 }] }, states: { files: { f1: 30 } }, delta: 253, fault: false },
  { name: 'file 2 reverse × 3', inst: { track_file: ['frev'] }, states: { files: { frev: 3 } }, delta: -6, fault: false },

  // ---- track_process: quorum..quorum_max
  { name: 'process w0 below quorum → FAULT', inst: { track_process: ['nginx'] }, states: { processes: { nginx: 1 } }, delta: 0, fault: true },
  { name: 'process w0 quorum', inst: { track_process: ['nginx'] }, states: { processes: { nginx: 2 } }, delta: 0, fault: false },
  { name: 'process w0 above quorum_max → FAULT', inst: { track_process: ['nginx'] }, states: { processes: { nginx: 4 } }, delta: 0, fault: true },
  { name: 'process +7 running', inst: { track_process: ['haproxy'] }, states: { processes: { haproxy: 1 } }, delta: 7, fault: false },
  { name: 'process +7 none running', inst: { track_process: ['haproxy'] }, states: {}, delta: 0, fault: false },

  // ---- several at once: contributions add up, faults and weights both named
  {
    name: 'mixed',
    inst: {
      track_interface: [{ interface: 'eth1', weight: -10 }, 'eth2'],
      track_script: ['chk', { name: 'chk0', weight: 3 }],
      track_file: ['f1'],
    },
    states: { interfaces: { eth1: false, eth2: false }, scripts: { chk: false, chk0: true }, files: { f1: 4 } },
    delta: -10 - 20 + 3 + 4,
    fault: true,
    reason: 'track_interface eth2 down, track_interface eth1 down (-10), track_script chk failed (-20), track_script chk0 succeeded (+3), track_file f1 value 4 (+4)',
  },
  { name: 'no trackers', inst: {}, states: {}, delta: 0, fault: false, reason: 'no trackers' },
];

describe('tracking: instance trackers (table)', () => {
  it.each(ROWS)('$name', (row) => {
    const r = instanceTrack(cfg(row.inst), 'VI_1', row.states);
    expect(r.weightDelta).toBe(row.delta);
    expect(r.fault).toBe(row.fault);
    expect(r.init).toBe(row.init ?? false);
    if (typeof row.reason === 'string') expect(r.reason).toBe(row.reason);
    else if (row.reason) expect(r.reason).toMatch(row.reason);
  });
});

describe('tracking: resolution rules', () => {
  it('warns about and ignores unknown and duplicate references', () => {
    const r = resolveTrackers(cfg({ track_script: ['nope', 'chk', 'chk'], track_file: ['nofile'], track_process: ['noproc'] }), 'VI_1');
    expect(r.trackers.map((t) => t.name)).toEqual(['chk']);
    expect(r.warnings).toEqual([
      '(VI_1) track script nope not found, ignoring...',
      '(VI_1) duplicate track_script chk - ignoring',
      '(VI_1) track file nofile not found, ignoring...',
      '(VI_1) track process noproc not found, ignoring...',
    ]);
  });

  it('warns when a weight of ±254 is lowered to ±253', () => {
    const r = resolveTrackers(cfg({ track_interface: [{ interface: 'eth1', weight: -254 }] }), 'VI_1');
    expect(r.trackers[0]?.weight).toBe(-253);
    expect(r.warnings[0]).toMatch(/cannot be \+\/-254/);
  });

  it('an unknown instance has no trackers', () => {
    expect(resolveTrackers(cfg({}), 'nope').trackers).toEqual([]);
  });

  const groupCfg = (member: Partial<InstanceInput>, group: Record<string, unknown> = {}, other: Partial<InstanceInput> = {}) =>
    cfg(member, {
      instances: { VI_2: { virtual_router_id: 2, ...other } },
      sync_groups: { VG1: { group: ['VI_1', 'VI_2'], ...group } },
    });

  it('sync member without sync_group_tracking_weight: weighted interface becomes a FAULT tracker', () => {
    const c = groupCfg({ track_interface: [{ interface: 'eth1', weight: -20 }] });
    const res = resolveTrackers(c, 'VI_1');
    expect(res.syncGroup).toBe('VG1');
    expect(res.trackers).toEqual([{ kind: 'interface', name: 'eth1', weight: 0, reverse: false, from: 'instance' }]);
    expect(res.warnings[0]).toMatch(/ignoring weight of tracked interface eth1 due to SYNC group/);
    expect(instanceTrack(c, 'VI_1', { interfaces: { eth1: false } })).toMatchObject({ fault: true, weightDelta: 0 });
  });

  it('sync member: weighted scripts and processes are dropped, track_file weight 1 becomes 0, others dropped', () => {
    const c = groupCfg({
      track_script: ['chk', 'chk0'],
      track_process: ['haproxy'],
      track_file: ['f1', 'fneg'],
    });
    const res = resolveTrackers(c, 'VI_1');
    expect(res.trackers.map((t) => [t.kind, t.name, t.weight])).toEqual([
      ['script', 'chk0', 0],
      ['file', 'f1', 0],
    ]);
    expect(res.warnings).toHaveLength(4);
    expect(instanceTrack(c, 'VI_1', { scripts: { chk: false, chk0: true }, files: { f1: 2 } })).toMatchObject({ fault: true, weightDelta: 0, reason: 'track_file f1 value 2' });
  });

  it('sync_group_tracking_weight keeps members’ weights', () => {
    const c = groupCfg({ track_script: ['chk'], track_interface: [{ interface: 'eth1', weight: -20 }] });
    const r = instanceTrack(c, 'VI_1', { scripts: { chk: false }, interfaces: { eth1: false } }, { syncGroupTrackingWeight: true });
    expect(r).toMatchObject({ fault: false, weightDelta: -40 });
  });

  it('sync group trackers apply to every member, with their weights', () => {
    const c = groupCfg({}, { track_script: [{ name: 'chk', weight: -30 }], track_interface: ['eth9'] });
    for (const m of ['VI_1', 'VI_2']) {
      const r = instanceTrack(c, m, { scripts: { chk: false }, interfaces: { eth9: true } });
      expect(r).toMatchObject({ fault: false, weightDelta: -30 });
      expect(r.contributions.every((x) => x.tracker.from === 'sync_group')).toBe(true);
    }
    expect(instanceTrack(c, 'VI_2', { scripts: { chk: true }, interfaces: { eth9: false } })).toMatchObject({ fault: true, reason: 'track_interface eth9 down' });
  });

  it('sync group weights become 0 when a member is an address owner', () => {
    const c = groupCfg({}, { track_script: [{ name: 'chk', weight: -30 }] }, { priority: 255 });
    const res = resolveTrackers(c, 'VI_1');
    expect(res.trackers).toEqual([{ kind: 'script', name: 'chk', weight: 0, reverse: false, from: 'sync_group' }]);
    expect(res.warnings.some((w) => /member having priority 255/.test(w))).toBe(true);
  });

  it('same tracker on instance and group: the group weight wins unless the instance is unweighted', () => {
    // instance weight -10 (kept thanks to tracking weight), group -30 → -30
    const c1 = groupCfg({ track_script: [{ name: 'chk', weight: -10 }] }, { track_script: [{ name: 'chk', weight: -30 }] });
    const r1 = resolveTrackers(c1, 'VI_1', { syncGroupTrackingWeight: true });
    expect(r1.trackers).toEqual([{ kind: 'script', name: 'chk', weight: -30, reverse: false, from: 'sync_group' }]);
    // instance weight 0, group -30 → stays 0 (FAULT tracker)
    const c2 = groupCfg({ track_script: [{ name: 'chk', weight: 0 }] }, { track_script: [{ name: 'chk', weight: -30 }] });
    const r2 = resolveTrackers(c2, 'VI_1');
    expect(r2.trackers).toEqual([{ kind: 'script', name: 'chk', weight: 0, reverse: false, from: 'instance' }]);
    expect(r2.warnings.some((w) => /configured on the instance and its sync group/.test(w))).toBe(true);
  });

  it('address owner (priority 255): weighted trackers are dropped, track_file weight 1 becomes 0', () => {
    const c = cfg({ priority: 255, track_interface: [{ interface: 'eth1', weight: 10 }, 'eth2'], track_file: ['f1'], track_script: ['chk'] });
    const res = resolveTrackers(c, 'VI_1');
    expect(res.trackers.map((t) => [t.kind, t.name, t.weight])).toEqual([
      ['interface', 'eth2', 0],
      ['file', 'f1', 0],
    ]);
    expect(res.warnings.every((w) => /address owner/.test(w))).toBe(true);
  });
});

describe('tracking: unit helpers', () => {
  it('trackFileStatus follows keepalived (clamp −254..253)', () => {
    expect(trackFileStatus(0, 0, false)).toBe(0);
    expect(trackFileStatus(1, 0, false)).toBe(-254);
    expect(trackFileStatus(0, 0, true)).toBe(-254);
    expect(trackFileStatus(-5, 0, true)).toBe(0);
    expect(trackFileStatus(1000, 1, false)).toBe(253);
    expect(trackFileStatus(-1000, 1, false)).toBe(-254);
    expect(trackFileStatus(3, -2, true)).toBe(6);
    expect(Object.is(trackFileStatus(0, 5, true), 0)).toBe(true);
  });

  it('a TrackResult drives VrrpInstance.setTrack (effective priority and FAULT)', () => {
    const c = cfg({ priority: 100, track_script: ['chk'], track_interface: ['eth1'] });
    const inst = new VrrpInstance(resolveVrrpParams({ name: 'VI_1', vrid: 1, primaryIp: '10.0.0.1', priority: 100 }));
    inst.start(0);
    inst.setTrack(1, instanceTrack(c, 'VI_1', { scripts: { chk: false }, interfaces: { eth1: true } }));
    expect(inst.effectivePriority).toBe(80);
    expect(inst.state).toBe('BACKUP');
    inst.setTrack(2, instanceTrack(c, 'VI_1', { scripts: { chk: true }, interfaces: { eth1: false } }));
    expect(inst.effectivePriority).toBe(100);
    expect(inst.state).toBe('FAULT');
    expect(inst.snapshot().fault.reason).toMatch(/track_interface eth1 down/);
  });
});

// ---------------------------------------------------------------- properties

const arbTracker: fc.Arbitrary<ResolvedTracker> = fc.record({
  kind: fc.constantFrom('interface' as const, 'script' as const, 'file' as const, 'process' as const),
  name: fc.constantFrom('a', 'b', 'c', 'd'),
  weight: fc.oneof(fc.constant(0), fc.integer({ min: -254, max: 254 })),
  reverse: fc.boolean(),
  from: fc.constantFrom('instance' as const, 'sync_group' as const),
});

const arbStates: fc.Arbitrary<TrackerStates> = fc.record({
  interfaces: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.boolean()),
  scripts: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.constantFrom('init' as const, 'up' as const, 'down' as const, true, false)),
  files: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: -400, max: 400 })),
  processes: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.nat({ max: 5 })),
});

const defs = ConfigSchema.parse({
  vrrp_scripts: { a: { script: '/bin/true' }, b: { script: '/bin/true', init_fail: true }, c: { script: '/bin/true' }, d: { script: '/bin/true' } },
  track_processes: { a: { process: 'a' }, b: { process: 'b', quorum: 2 }, c: { process: 'c', quorum_max: 1 }, d: { process: 'd', quorum: 0 } },
});

describe('tracking: properties', () => {
  it('weightDelta is the sum of the independent contributions; fault is their OR', () => {
    fc.assert(
      fc.property(fc.array(arbTracker, { maxLength: 8 }), arbStates, (trackers, states) => {
        const r = computeTrack(trackers, defs, states);
        const each = trackers.map((t) => evaluateTracker(t, defs, states));
        expect(r.weightDelta).toBe(each.reduce((s, c) => s + c.delta, 0));
        expect(r.fault).toBe(each.some((c) => c.fault));
        // the order of the trackers does not matter
        const rev = computeTrack([...trackers].reverse(), defs, states);
        expect(rev.weightDelta).toBe(r.weightDelta);
        expect(rev.fault).toBe(r.fault);
      }),
    );
  });

  it('any weight-0 tracker that is failing gives FAULT, and weight-0 trackers never move the priority', () => {
    fc.assert(
      fc.property(arbTracker, arbStates, (t0, states) => {
        const t = { ...t0, weight: 0 };
        const c = evaluateTracker(t, defs, states);
        expect(c.delta).toBe(0);
        const failing =
          t.kind === 'interface'
            ? (states.interfaces?.[t.name] ?? false) === t.reverse
            : t.kind === 'file'
              ? ((states.files?.[t.name] ?? 0) !== 0) !== t.reverse
              : undefined;
        if (failing !== undefined) expect(c.fault).toBe(failing);
        if (c.fault) expect(computeTrack([t, { ...t0, name: 'x', kind: 'interface', weight: 5 }], defs, states).fault).toBe(true);
      }),
    );
  });

  it('reverse negates the contribution of interface, script and process trackers', () => {
    fc.assert(
      fc.property(arbTracker, arbStates, (t, states) => {
        fc.pre(t.kind !== 'file' && t.weight !== 0);
        const a = evaluateTracker({ ...t, reverse: false }, defs, states);
        const b = evaluateTracker({ ...t, reverse: true }, defs, states);
        expect(b.delta + a.delta).toBe(0);
        expect(Math.sign(a.delta) === 0 || Math.sign(a.delta) === Math.sign(t.weight)).toBe(true);
      }),
    );
  });

  it('contributions stay within keepalived’s ranges', () => {
    fc.assert(
      fc.property(arbTracker, arbStates, (t, states) => {
        const c = evaluateTracker(t, defs, states);
        expect(Math.abs(c.delta)).toBeLessThanOrEqual(254);
        if (t.kind === 'file') expect(c.delta).toBeGreaterThan(-254);
      }),
    );
  });
});

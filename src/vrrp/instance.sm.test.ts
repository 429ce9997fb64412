import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  VrrpInstance,
  VrrpUsageError,
  resolveVrrpParams,
  type VrrpEvent,
  type VrrpInstanceInput,
  type VrrpTraceRecord,
  type VrrpTransmit,
} from './instance.js';
import {
  TRANSITIONS,
  VRRP_ACTIONS,
  VRRP_INPUTS,
  VRRP_STATES,
  classifyAdvert,
  type VrrpInput,
  type VrrpState,
} from './transitions.js';
import { compareIp } from '../vocab/ip.js';
import { TimerTable, masterDownIntervalMs, skewMinMs, skewTimeMs } from './timers.js';

// ---- harness -----------------------------------------------------------------------------------

interface Harness {
  inst: VrrpInstance;
  trace: VrrpTraceRecord[];
}

function mk(over: Partial<VrrpInstanceInput> = {}): Harness {
  const trace: VrrpTraceRecord[] = [];
  const inst = new VrrpInstance(
    resolveVrrpParams({ name: 'VI_1', vrid: 51, primaryIp: '10.0.0.5', ...over }),
    { trace: (r) => trace.push(r) },
  );
  return { inst, trace };
}

function events(inst: VrrpInstance): VrrpEvent[] {
  const out: VrrpEvent[] = [];
  for (let e = inst.pollEvent(); e; e = inst.pollEvent()) out.push(e);
  return out;
}

function transmits(inst: VrrpInstance): VrrpTransmit[] {
  const out: VrrpTransmit[] = [];
  for (let t = inst.pollTransmit(); t; t = inst.pollTransmit()) out.push(t);
  return out;
}

function flush(inst: VrrpInstance): void {
  events(inst);
  transmits(inst);
}

/** Fire every deadline up to and including `t`, in order. */
function runUntil(inst: VrrpInstance, t: number): void {
  for (let d = inst.pollTimeout(); d !== undefined && d <= t; d = inst.pollTimeout()) inst.handleTimeout(d);
}

const adv = (srcIp: string, priority: number, advertIntervalMs = 1000) => ({ srcIp, priority, advertIntervalMs });
const types = (evs: VrrpEvent[]) => evs.map((e) => e.type);

// Defaults in these tests: v2, advert 1 s, priority 100, primary IP 10.0.0.5.
const MDI_100 = 3609.375; // 3 × 1000 + 609.375 (docs/vrrp.md §3 table)
const SKEW_100 = 609.375;

function toBackup(h: Harness): number {
  h.inst.start(0);
  flush(h.inst);
  return 0;
}

function toMaster(h: Harness): number {
  h.inst.start(0);
  const t = h.inst.pollTimeout()!;
  h.inst.handleTimeout(t);
  expect(h.inst.state).toBe('MASTER');
  flush(h.inst);
  return t;
}

function toFault(h: Harness): number {
  toBackup(h);
  h.inst.linkChange(1000, false);
  flush(h.inst);
  return 1000;
}

// ---- timer formulas ------------------------------------------------------------------------------

describe('timer formulas (docs/vrrp.md §3), exact keepalived µs values in ms', () => {
  const cases: { v: 2 | 3; prio: number; intervalMs: number; skew: number; mdi: number }[] = [
    // v2 at 1 s — the docs/vrrp.md §3 worked table
    { v: 2, prio: 255, intervalMs: 1000, skew: 3.906, mdi: 3003.906 },
    { v: 2, prio: 254, intervalMs: 1000, skew: 7.812, mdi: 3007.812 },
    { v: 2, prio: 200, intervalMs: 1000, skew: 218.75, mdi: 3218.75 },
    { v: 2, prio: 150, intervalMs: 1000, skew: 414.062, mdi: 3414.062 },
    { v: 2, prio: 100, intervalMs: 1000, skew: 609.375, mdi: 3609.375 },
    { v: 2, prio: 50, intervalMs: 1000, skew: 804.687, mdi: 3804.687 },
    { v: 2, prio: 1, intervalMs: 1000, skew: 996.093, mdi: 3996.093 },
    // v2: the skew does not depend on the interval (RFC 3768: (256−p)/256 s)
    { v: 2, prio: 100, intervalMs: 2000, skew: 609.375, mdi: 6609.375 },
    // v3 at 1 s gives the same µs as v2
    { v: 3, prio: 255, intervalMs: 1000, skew: 3.906, mdi: 3003.906 },
    { v: 3, prio: 100, intervalMs: 1000, skew: 609.375, mdi: 3609.375 },
    { v: 3, prio: 1, intervalMs: 1000, skew: 996.093, mdi: 3996.093 },
    // v3 at 100 ms: skew scales with Master_Adver_Interval
    { v: 3, prio: 100, intervalMs: 100, skew: 60.937, mdi: 360.937 },
    { v: 3, prio: 255, intervalMs: 100, skew: 0.39, mdi: 300.39 },
    { v: 3, prio: 200, intervalMs: 100, skew: 21.875, mdi: 321.875 },
    { v: 3, prio: 1, intervalMs: 100, skew: 99.609, mdi: 399.609 },
    // v3 learned interval of 2 s
    { v: 3, prio: 100, intervalMs: 2000, skew: 1218.75, mdi: 7218.75 },
  ];
  it.each(cases)('v$v priority $prio at $intervalMs ms: skew $skew, down $mdi', ({ v, prio, intervalMs, skew, mdi }) => {
    expect(skewTimeMs(v, prio, intervalMs)).toBe(skew);
    expect(masterDownIntervalMs(v, prio, intervalMs)).toBe(mdi);
  });

  it('down_timer_adverts changes the multiplier', () => {
    expect(masterDownIntervalMs(2, 100, 1000, 5)).toBe(5609.375);
    expect(masterDownIntervalMs(3, 100, 100, 1)).toBe(160.937);
  });

  it('minimum skew (sync-group start) is one priority step', () => {
    expect(skewMinMs(2, 1000)).toBe(3.906);
    expect(skewMinMs(3, 1000)).toBe(3.906);
    expect(skewMinMs(3, 100)).toBe(0.39);
  });

  it('rejects priorities outside 1..255', () => {
    expect(() => skewTimeMs(2, 0, 1000)).toThrow(RangeError);
    expect(() => skewTimeMs(2, 256, 1000)).toThrow(RangeError);
  });
});

describe('TimerTable', () => {
  it('set replaces, add queues, popExpired takes the earliest with a stable tie-break', () => {
    const t = new TimerTable<'a' | 'b'>();
    t.set('a', 10);
    t.set('a', 20);
    t.add('b', 30);
    t.add('b', 20);
    expect(t.next()).toBe(20);
    expect(t.popExpired(19, ['a', 'b'])).toBeUndefined();
    expect(t.popExpired(25, ['b', 'a'])).toEqual({ key: 'b', at: 20 });
    expect(t.popExpired(25, ['b', 'a'])).toEqual({ key: 'a', at: 20 });
    expect(t.popExpired(25, ['b', 'a'])).toBeUndefined();
    t.shift('b', 5);
    expect(t.all('b')).toEqual([35]);
    t.stop('b');
    expect(t.next()).toBeUndefined();
  });
});

describe('IP comparison for the tie-break (docs/vrrp.md §5.4)', () => {
  it('compares IPv4 and IPv6 numerically', () => {
    expect(compareIp('10.0.0.9', '10.0.0.10')).toBe(-1);
    expect(compareIp('192.168.1.1', '10.255.255.255')).toBe(1);
    expect(compareIp('10.0.0.1', '10.0.0.1')).toBe(0);
    expect(compareIp('fe80::2', 'fe80::1%eth0')).toBe(1);
    expect(compareIp('fe80::1:0', 'fe80::ffff')).toBe(1);
    expect(compareIp('::ffff:1.2.3.4', '::ffff:1.2.3.5')).toBe(-1);
    expect(compareIp('2001:db8::1', '2001:db8::0:1')).toBe(0);
    expect(compareIp('10.0.0.1', '::1')).toBe(1);
    expect(() => compareIp('1.2.3', '1.2.3.4')).toThrow(TypeError);
    expect(() => compareIp('1::2::3', '::1')).toThrow(TypeError);
  });
});

// ---- the table ---------------------------------------------------------------------------------

describe('transition table (transitions.ts)', () => {
  it('has a rule for every (state, input) pair, with known states and actions', () => {
    for (const s of VRRP_STATES) {
      for (const i of VRRP_INPUTS) {
        const rule = TRANSITIONS[s][i];
        expect(rule, `${s} × ${i}`).toBeDefined();
        expect(rule.note.length, `${s} × ${i} note`).toBeGreaterThan(0);
        if (rule.kind === 'transition') {
          expect(VRRP_STATES).toContain(rule.next);
          for (const a of rule.actions) expect(VRRP_ACTIONS).toContain(a);
        }
      }
    }
  });

  it('start inputs are only valid in INIT, and STOP is terminal', () => {
    for (const s of VRRP_STATES) {
      for (const i of ['startOwner', 'startBackup', 'startBackupWantMaster', 'startFault'] as const) {
        expect(TRANSITIONS[s][i].kind).toBe(s === 'INIT' ? 'transition' : 'error');
      }
    }
    for (const i of VRRP_INPUTS) {
      const kind = TRANSITIONS.STOP[i].kind;
      expect(kind === 'ignore' || kind === 'error').toBe(true);
    }
  });

  it('every transition into MASTER sends an advert before adding VIPs and GARPing (docs/vrrp.md §5.3)', () => {
    for (const s of VRRP_STATES) {
      for (const i of VRRP_INPUTS) {
        const rule = TRANSITIONS[s][i];
        if (rule.kind !== 'transition' || rule.next !== 'MASTER' || s === 'MASTER') continue;
        const a = rule.actions;
        expect(a.indexOf('sendAdvert')).toBeGreaterThanOrEqual(0);
        expect(a.indexOf('sendAdvert')).toBeLessThan(a.indexOf('addVips'));
        expect(a.indexOf('addVips')).toBeLessThan(a.indexOf('garpBecomeMasterBurst'));
      }
    }
  });

  it('every transition out of MASTER removes the VIPs', () => {
    for (const i of VRRP_INPUTS) {
      const rule = TRANSITIONS.MASTER[i];
      if (rule.kind === 'transition' && rule.next !== 'MASTER') expect(rule.actions).toContain('removeVips');
    }
  });

  it('classifies adverts state-independently', () => {
    const ctx = {
      version: 2 as const,
      localAdvertIntervalMs: 1000,
      basePriority: 100,
      effectivePriority: 100,
      primaryIp: '10.0.0.5',
      ownerIgnoreAdverts: false,
      preempt: true,
      preemptDelayMs: 0,
      preemptUntil: undefined,
      holdOff: false,
      now: 0,
    };
    expect(classifyAdvert(ctx, adv('10.0.0.9', 100, 2000))).toBe('advertDropped');
    expect(classifyAdvert({ ...ctx, version: 3 }, adv('10.0.0.9', 100, 2000))).toBe('advertEqualHigherIp');
    expect(classifyAdvert(ctx, adv('10.0.0.9', 0))).toBe('advertPriorityZero');
    expect(classifyAdvert(ctx, adv('10.0.0.9', 101))).toBe('advertHigher');
    expect(classifyAdvert(ctx, adv('10.0.0.4', 100))).toBe('advertEqualLowerIp');
    expect(classifyAdvert(ctx, adv('10.0.0.5', 100))).toBe('advertEqualSameIp');
    expect(classifyAdvert(ctx, adv('10.0.0.9', 99))).toBe('advertLower');
    expect(classifyAdvert({ ...ctx, preempt: false }, adv('10.0.0.9', 99))).toBe('advertLowerNoPreempt');
    expect(classifyAdvert({ ...ctx, holdOff: true }, adv('10.0.0.9', 99))).toBe('advertLowerNoPreempt');
    expect(classifyAdvert({ ...ctx, preemptDelayMs: 5 }, adv('10.0.0.9', 99))).toBe('advertLowerPreemptDelay');
    expect(classifyAdvert({ ...ctx, preemptDelayMs: 5, preemptUntil: 10, now: 9 }, adv('10.0.0.9', 99))).toBe(
      'advertLowerPreemptDelay',
    );
    expect(classifyAdvert({ ...ctx, preemptDelayMs: 5, preemptUntil: 10, now: 10 }, adv('10.0.0.9', 99))).toBe(
      'advertLower',
    );
    expect(
      classifyAdvert({ ...ctx, ownerIgnoreAdverts: true, basePriority: 255, effectivePriority: 255 }, adv('10.0.0.9', 255)),
    ).toBe('advertDropped');
  });
});

// ---- every transition, driven through the instance ----------------------------------------------

interface TransitionCase {
  state: VrrpState;
  input: VrrpInput;
  over?: Partial<VrrpInstanceInput>;
  /** Bring the instance into `state`; returns the current time. Default per state. */
  setup?: (h: Harness) => number;
  act: (h: Harness, now: number) => void;
  to: VrrpState;
  check?: (h: Harness, ev: VrrpEvent[], tx: VrrpTransmit[], now: number) => void;
}

const defaultSetup: Record<VrrpState, (h: Harness) => number> = {
  INIT: () => 0,
  BACKUP: toBackup,
  MASTER: toMaster,
  FAULT: toFault,
  STOP: (h) => {
    toBackup(h);
    h.inst.command(0, 'shutdown');
    flush(h.inst);
    return 0;
  },
};

const syncAttach = (h: Harness) =>
  h.inst.attachToSyncGroup('G1', { ignoreTrackWeights: true, ownersMayStartMaster: false });

const transitionCases: TransitionCase[] = [
  // INIT
  {
    state: 'INIT',
    input: 'startOwner',
    over: { priority: 255, initialState: 'MASTER' },
    act: (h) => h.inst.start(0),
    to: 'MASTER',
    check: (h, ev, tx) => {
      expect(tx).toEqual([{ priority: 255, advertIntervalMs: 1000 }]);
      expect(types(ev)).toEqual(['stateChange', 'addVips', 'sendGarp', 'notify']);
      expect(h.inst.pollTimeout()).toBe(1000);
    },
  },
  {
    state: 'INIT',
    input: 'startBackup',
    act: (h) => h.inst.start(0),
    to: 'BACKUP',
    check: (h, ev, tx) => {
      expect(tx).toEqual([]);
      expect(ev).toEqual([
        { type: 'stateChange', from: 'INIT', to: 'BACKUP', reason: 'startup' },
        { type: 'notify', state: 'BACKUP' },
      ]);
      expect(h.inst.pollTimeout()).toBe(MDI_100);
    },
  },
  {
    state: 'INIT',
    input: 'startBackupWantMaster',
    over: { priority: 100, initialState: 'MASTER' },
    setup: (h) => {
      syncAttach(h);
      return 0;
    },
    act: (h) => h.inst.start(0),
    to: 'BACKUP',
    check: (h) => {
      expect(h.inst.wantState).toBe('MASTER');
      expect(h.inst.pollTimeout()).toBe(1003.906); // adv + minimum skew (docs/vrrp.md §5.1)
    },
  },
  {
    state: 'INIT',
    input: 'startFault',
    setup: (h) => {
      h.inst.linkChange(0, false);
      return 0;
    },
    act: (h) => h.inst.start(0),
    to: 'FAULT',
    check: (h, ev) => {
      expect(types(ev)).toEqual(['stateChange', 'notify']);
      expect(h.inst.pollTimeout()).toBeUndefined();
    },
  },
  {
    state: 'INIT',
    input: 'cmdShutdown',
    act: (h) => h.inst.command(0, 'shutdown'),
    to: 'STOP',
    check: (_h, ev, tx) => {
      expect(tx).toEqual([]);
      expect(ev.at(-1)).toEqual({ type: 'notify', state: 'STOP' });
    },
  },

  // BACKUP
  {
    state: 'BACKUP',
    input: 'downTimerExpired',
    act: (h) => h.inst.handleTimeout(MDI_100),
    to: 'MASTER',
    check: (h, ev, tx) => {
      expect(tx).toEqual([{ priority: 100, advertIntervalMs: 1000 }]);
      expect(types(ev)).toEqual(['stateChange', 'addVips', 'sendGarp', 'notify']);
      expect(ev[0]).toMatchObject({ reason: 'no advert received within Master_Down_Interval' });
      expect(ev[2]).toEqual({ type: 'sendGarp', repeat: 5, intervalMs: 0, cause: 'becomeMaster' });
      expect(h.inst.pollTimeout()).toBe(MDI_100 + 1000);
    },
  },
  {
    state: 'BACKUP',
    input: 'downTimerExpiredSyncHeld',
    setup: (h) => {
      syncAttach(h);
      return toBackup(h);
    },
    act: (h) => h.inst.handleTimeout(MDI_100),
    to: 'BACKUP',
    check: (h, ev) => {
      expect(ev).toEqual([{ type: 'wantMaster' }]);
      expect(h.inst.wantState).toBe('MASTER');
      expect(h.inst.pollTimeout()).toBe(2 * MDI_100);
    },
  },
  {
    state: 'BACKUP',
    input: 'advertDropped',
    act: (h) => h.inst.handleAdvert(1000, adv('10.0.0.9', 150, 2000)),
    to: 'BACKUP',
    check: (h) => {
      expect(h.inst.snapshot().counters.advertsDropped).toBe(1);
      expect(h.inst.pollTimeout()).toBe(MDI_100);
    },
  },
  {
    state: 'BACKUP',
    input: 'advertPriorityZero',
    act: (h) => h.inst.handleAdvert(1000, adv('10.0.0.9', 0)),
    to: 'BACKUP',
    check: (h) => expect(h.inst.pollTimeout()).toBe(1000 + SKEW_100),
  },
  {
    state: 'BACKUP',
    input: 'advertHigher',
    act: (h) => h.inst.handleAdvert(1000, adv('10.0.0.9', 150)),
    to: 'BACKUP',
    check: (h, ev) => {
      expect(ev).toEqual([{ type: 'masterSeen', srcIp: '10.0.0.9' }]);
      expect(h.inst.pollTimeout()).toBe(1000 + MDI_100);
      expect(h.inst.snapshot().master).toEqual({ ip: '10.0.0.9', priority: 150, lastSeenAt: 1000 });
    },
  },
  {
    state: 'BACKUP',
    input: 'advertEqualHigherIp',
    act: (h) => h.inst.handleAdvert(1000, adv('10.0.0.9', 100)),
    to: 'BACKUP',
    check: (h) => expect(h.inst.pollTimeout()).toBe(1000 + MDI_100),
  },
  {
    state: 'BACKUP',
    input: 'advertEqualLowerIp',
    act: (h) => h.inst.handleAdvert(1000, adv('10.0.0.2', 100)),
    to: 'BACKUP',
    // docs/vrrp.md §5.2: equal priority is accepted in BACKUP, no IP tie-break
    check: (h) => expect(h.inst.pollTimeout()).toBe(1000 + MDI_100),
  },
  {
    state: 'BACKUP',
    input: 'advertEqualSameIp',
    act: (h) => h.inst.handleAdvert(1000, adv('10.0.0.5', 100)),
    to: 'BACKUP',
    check: (h) => expect(h.inst.pollTimeout()).toBe(1000 + MDI_100),
  },
  {
    state: 'BACKUP',
    input: 'advertLower',
    act: (h) => h.inst.handleAdvert(1000, adv('10.0.0.9', 50)),
    to: 'BACKUP',
    check: (h) => {
      expect(h.inst.pollTimeout()).toBe(MDI_100); // not reset
      expect(h.inst.snapshot().counters.lowerPriorityDiscarded).toBe(1);
      expect(h.inst.snapshot().lastDiscardedMasterIp).toBe('10.0.0.9');
    },
  },
  {
    state: 'BACKUP',
    input: 'advertLowerNoPreempt',
    over: { preempt: false },
    act: (h) => h.inst.handleAdvert(1000, adv('10.0.0.9', 50)),
    to: 'BACKUP',
    check: (h) => expect(h.inst.pollTimeout()).toBe(1000 + MDI_100),
  },
  {
    state: 'BACKUP',
    input: 'advertLowerPreemptDelay',
    over: { preemptDelayMs: 5000 },
    act: (h) => h.inst.handleAdvert(1000, adv('10.0.0.9', 50)),
    to: 'BACKUP',
    check: (h) => {
      expect(h.inst.pollTimeout()).toBe(1000 + MDI_100);
      expect(h.inst.snapshot().preemptDelayUntil).toBe(5000);
    },
  },
  {
    state: 'BACKUP',
    input: 'priorityChanged',
    act: (h) => h.inst.setTrack(1000, { weightDelta: 50, fault: false, reason: 'chk_http' }),
    to: 'BACKUP',
    check: (h, ev) => {
      expect(ev).toEqual([{ type: 'priorityChange', from: 100, to: 150 }]);
      // the down timer moves by skew(150) − skew(100) = 414.062 − 609.375
      expect(h.inst.pollTimeout()).toBeCloseTo(3414.062, 9);
    },
  },
  {
    state: 'BACKUP',
    input: 'faultRaised',
    act: (h) => h.inst.linkChange(1000, false),
    to: 'FAULT',
    check: (h, ev, tx) => {
      expect(tx).toEqual([]);
      expect(types(ev)).toEqual(['stateChange', 'notify']);
      expect(h.inst.pollTimeout()).toBeUndefined();
    },
  },
  {
    state: 'BACKUP',
    input: 'cmdMaintenanceOn',
    act: (h) => h.inst.command(1000, 'maintenanceOn'),
    to: 'BACKUP',
    check: (h, _ev, tx) => {
      expect(tx).toEqual([]);
      expect(h.inst.pollTimeout()).toBeUndefined();
      expect(h.inst.snapshot().maintenance).toBe(true);
    },
  },
  {
    state: 'BACKUP',
    input: 'cmdMaintenanceOff',
    setup: (h) => {
      toBackup(h);
      h.inst.command(500, 'maintenanceOn');
      return 500;
    },
    act: (h) => h.inst.command(1000, 'maintenanceOff'),
    to: 'BACKUP',
    check: (h) => expect(h.inst.pollTimeout()).toBe(1000 + MDI_100),
  },
  {
    state: 'BACKUP',
    input: 'cmdShutdown',
    act: (h) => h.inst.command(1000, 'shutdown'),
    to: 'STOP',
    check: (h, ev, tx) => {
      expect(tx).toEqual([]); // docs/vrrp.md §5.4: a BACKUP sends nothing
      expect(types(ev)).toEqual(['stateChange', 'notify']);
      expect(h.inst.pollTimeout()).toBeUndefined();
    },
  },
  {
    state: 'BACKUP',
    input: 'syncMaster',
    act: (h) => h.inst.forceSync(1000, 'MASTER'),
    to: 'MASTER',
    check: (h, ev, tx) => {
      expect(tx).toEqual([{ priority: 100, advertIntervalMs: 1000 }]);
      expect(types(ev)).toEqual(['stateChange', 'addVips', 'sendGarp', 'notify']);
      expect(h.inst.pollTimeout()).toBe(2000);
    },
  },
  {
    state: 'BACKUP',
    input: 'syncBackup',
    act: (h) => h.inst.forceSync(1000, 'BACKUP'),
    to: 'BACKUP',
    check: (h, ev) => {
      expect(ev).toEqual([]);
      expect(h.inst.pollTimeout()).toBe(MDI_100);
    },
  },
  {
    state: 'BACKUP',
    input: 'syncFault',
    act: (h) => h.inst.forceSync(1000, 'FAULT'),
    to: 'FAULT',
    check: (h, _ev, tx) => {
      expect(tx).toEqual([]);
      expect(h.inst.pollTimeout()).toBeUndefined();
    },
  },

  // MASTER (entered at MDI_100 = 3609.375; advert timer at +1000)
  {
    state: 'MASTER',
    input: 'advertTimerExpired',
    act: (h, now) => h.inst.handleTimeout(now + 1000),
    to: 'MASTER',
    check: (h, ev, tx, now) => {
      expect(tx).toEqual([{ priority: 100, advertIntervalMs: 1000 }]);
      expect(ev).toEqual([]);
      expect(h.inst.pollTimeout()).toBe(now + 2000);
    },
  },
  {
    state: 'MASTER',
    input: 'garpDelayExpired',
    act: (h, now) => runUntil(h.inst, now + 5000),
    to: 'MASTER',
    check: (_h, ev, tx) => {
      expect(tx).toHaveLength(5); // adverts at +1000 … +5000
      expect(ev).toEqual([{ type: 'sendGarp', repeat: 5, intervalMs: 0, cause: 'masterDelay' }]);
    },
  },
  {
    state: 'MASTER',
    input: 'garpRefreshExpired',
    over: { garp: { masterRefreshMs: 10_000, masterRefreshRepeat: 2 } },
    act: (h, now) => runUntil(h.inst, now + 10_000),
    to: 'MASTER',
    check: (_h, ev) => {
      expect(ev.filter((e) => e.type === 'sendGarp')).toEqual([
        { type: 'sendGarp', repeat: 5, intervalMs: 0, cause: 'masterDelay' },
        { type: 'sendGarp', repeat: 2, intervalMs: 0, cause: 'refresh' },
      ]);
    },
  },
  {
    state: 'MASTER',
    input: 'garpLowerPrioDelayExpired',
    over: { garp: { masterDelayMs: 0, lowerPrioDelayMs: 2000, lowerPrioRepeat: 3 } },
    setup: (h) => {
      const t = toMaster(h);
      h.inst.handleAdvert(t + 100, adv('10.0.0.9', 50));
      flush(h.inst);
      return t + 100;
    },
    act: (h, now) => runUntil(h.inst, now + 2000),
    to: 'MASTER',
    check: (_h, ev) => {
      expect(ev).toEqual([{ type: 'sendGarp', repeat: 3, intervalMs: 0, cause: 'lowerPrioDelay' }]);
    },
  },
  {
    state: 'MASTER',
    input: 'advertDropped',
    act: (h, now) => h.inst.handleAdvert(now + 1, adv('10.0.0.9', 250, 3000)),
    to: 'MASTER',
    check: (h, ev, tx) => {
      expect(tx).toEqual([]);
      expect(ev).toEqual([]);
      expect(h.inst.snapshot().counters.advertsDropped).toBe(1);
    },
  },
  {
    state: 'MASTER',
    input: 'advertPriorityZero',
    act: (h, now) => h.inst.handleAdvert(now + 100, adv('10.0.0.9', 0)),
    to: 'MASTER',
    check: (h, ev, tx, now) => {
      expect(tx).toEqual([{ priority: 100, advertIntervalMs: 1000 }]);
      expect(ev).toEqual([]);
      expect(h.inst.pollTimeout()).toBe(now + 1000); // the advert timer is not restarted
    },
  },
  {
    state: 'MASTER',
    input: 'advertHigher',
    act: (h, now) => h.inst.handleAdvert(now + 100, adv('10.0.0.9', 150)),
    to: 'BACKUP',
    check: (h, ev, tx, now) => {
      expect(tx).toEqual([]); // no priority 0 when losing to a higher priority
      expect(types(ev)).toEqual(['stateChange', 'otherMasterSeen', 'masterSeen', 'removeVips', 'notify']);
      expect(h.inst.pollTimeout()).toBe(now + 100 + MDI_100);
    },
  },
  {
    state: 'MASTER',
    input: 'advertEqualHigherIp',
    act: (h, now) => h.inst.handleAdvert(now + 100, adv('10.0.0.9', 100)),
    to: 'BACKUP',
    check: (h, ev, _tx, now) => {
      expect(ev[0]).toMatchObject({ type: 'stateChange', reason: 'equal priority advert from higher address 10.0.0.9 (priority 100)' });
      expect(h.inst.pollTimeout()).toBe(now + 100 + MDI_100);
    },
  },
  {
    state: 'MASTER',
    input: 'advertEqualLowerIp',
    act: (h, now) => h.inst.handleAdvert(now + 100, adv('10.0.0.2', 100)),
    to: 'MASTER',
    check: (_h, ev, tx) => {
      expect(tx).toEqual([{ priority: 100, advertIntervalMs: 1000 }]);
      expect(ev).toEqual([
        { type: 'otherMasterSeen', srcIp: '10.0.0.2', priority: 100 },
        { type: 'sendGarp', repeat: 5, intervalMs: 0, cause: 'lowerPrio' },
        { type: 'notify', state: 'MASTER_RX_LOWER_PRI' },
      ]);
    },
  },
  {
    state: 'MASTER',
    input: 'advertEqualSameIp',
    act: (h, now) => h.inst.handleAdvert(now + 100, adv('10.0.0.5', 100)),
    to: 'MASTER',
    check: (h, ev, tx) => {
      expect(tx).toEqual([]);
      expect(ev).toEqual([]);
      expect(h.inst.snapshot().counters.sameIpConflicts).toBe(1);
    },
  },
  {
    state: 'MASTER',
    input: 'advertLower',
    act: (h, now) => h.inst.handleAdvert(now + 100, adv('10.0.0.9', 50)),
    to: 'MASTER',
    check: (_h, ev, tx) => {
      expect(tx).toEqual([{ priority: 100, advertIntervalMs: 1000 }]);
      expect(types(ev)).toEqual(['otherMasterSeen', 'sendGarp', 'notify']);
    },
  },
  {
    state: 'MASTER',
    input: 'advertLowerNoPreempt',
    over: { preempt: false },
    act: (h, now) => h.inst.handleAdvert(now + 100, adv('10.0.0.9', 50)),
    to: 'MASTER',
    check: (_h, ev, tx) => {
      expect(tx).toHaveLength(1);
      expect(types(ev)).toEqual(['otherMasterSeen', 'sendGarp', 'notify']);
    },
  },
  {
    state: 'MASTER',
    input: 'advertLowerPreemptDelay',
    over: { preemptDelayMs: 10_000 },
    act: (h, now) => h.inst.handleAdvert(now + 100, adv('10.0.0.9', 50)),
    to: 'MASTER',
    check: (_h, _ev, tx) => expect(tx).toHaveLength(1),
  },
  {
    state: 'MASTER',
    input: 'priorityChanged',
    act: (h, now) => {
      h.inst.setTrack(now + 100, { weightDelta: -30, fault: false, reason: 'chk' });
      h.inst.handleTimeout(now + 1000);
    },
    to: 'MASTER',
    check: (_h, ev, tx) => {
      expect(ev).toEqual([{ type: 'priorityChange', from: 100, to: 70 }]);
      expect(tx).toEqual([{ priority: 70, advertIntervalMs: 1000 }]);
    },
  },
  {
    state: 'MASTER',
    input: 'faultRaised',
    act: (h, now) => h.inst.setTrack(now + 100, { weightDelta: 0, fault: true, reason: 'chk_weight0 failed' }),
    to: 'FAULT',
    check: (h, ev, tx) => {
      expect(tx).toEqual([{ priority: 0, advertIntervalMs: 1000 }]);
      expect(types(ev)).toEqual(['stateChange', 'removeVips', 'notify']);
      expect(ev[0]).toMatchObject({ reason: 'fault: chk_weight0 failed' });
      expect(h.inst.pollTimeout()).toBeUndefined();
    },
  },
  {
    state: 'MASTER',
    input: 'cmdStepDown',
    act: (h, now) => h.inst.command(now + 100, 'stepDown'),
    to: 'BACKUP',
    check: (h, ev, tx, now) => {
      expect(tx).toEqual([{ priority: 0, advertIntervalMs: 1000 }]);
      expect(types(ev)).toEqual(['stateChange', 'removeVips', 'notify']);
      expect(h.inst.pollTimeout()).toBe(now + 100 + MDI_100);
      expect(h.inst.snapshot().stepDownHold).toBe(true);
    },
  },
  {
    state: 'MASTER',
    input: 'cmdMaintenanceOn',
    act: (h, now) => h.inst.command(now + 100, 'maintenanceOn'),
    to: 'BACKUP',
    check: (h, ev, tx) => {
      expect(tx).toEqual([{ priority: 0, advertIntervalMs: 1000 }]);
      expect(types(ev)).toEqual(['stateChange', 'removeVips', 'notify']);
      expect(h.inst.pollTimeout()).toBeUndefined();
    },
  },
  {
    state: 'MASTER',
    input: 'cmdShutdown',
    act: (h, now) => h.inst.command(now + 100, 'shutdown'),
    to: 'STOP',
    check: (h, ev, tx) => {
      expect(tx).toEqual([{ priority: 0, advertIntervalMs: 1000 }]);
      expect(ev).toEqual([
        { type: 'stateChange', from: 'MASTER', to: 'STOP', reason: 'shutdown' },
        { type: 'removeVips' },
        { type: 'notify', state: 'STOP' },
      ]);
      expect(h.inst.pollTimeout()).toBeUndefined();
    },
  },
  {
    state: 'MASTER',
    input: 'syncBackup',
    act: (h, now) => h.inst.forceSync(now + 100, 'BACKUP'),
    to: 'BACKUP',
    check: (h, ev, tx, now) => {
      expect(tx).toEqual([]); // keepalived vrrp_sync_backup: no priority 0
      expect(types(ev)).toEqual(['stateChange', 'removeVips', 'notify']);
      expect(h.inst.pollTimeout()).toBe(now + 100 + MDI_100);
    },
  },
  {
    state: 'MASTER',
    input: 'syncFault',
    act: (h, now) => h.inst.forceSync(now + 100, 'FAULT'),
    to: 'FAULT',
    check: (_h, ev, tx) => {
      expect(tx).toEqual([{ priority: 0, advertIntervalMs: 1000 }]);
      expect(types(ev)).toEqual(['stateChange', 'removeVips', 'notify']);
    },
  },
  {
    state: 'MASTER',
    input: 'syncLowerPrioGarp',
    act: (h, now) => h.inst.relayLowerPrioGarp(now + 100),
    to: 'MASTER',
    check: (_h, ev, tx) => {
      expect(tx).toEqual([]);
      expect(ev).toEqual([{ type: 'sendGarp', repeat: 5, intervalMs: 0, cause: 'lowerPrioSync' }]);
    },
  },

  // FAULT (link went down at 1000)
  {
    state: 'FAULT',
    input: 'faultCleared',
    act: (h) => h.inst.linkChange(2000, true),
    to: 'BACKUP',
    check: (h, ev) => {
      expect(types(ev)).toEqual(['stateChange', 'notify']);
      expect(h.inst.pollTimeout()).toBe(2000 + MDI_100);
    },
  },
  {
    state: 'FAULT',
    input: 'faultClearedSyncHeld',
    setup: (h) => {
      syncAttach(h);
      return toFault(h);
    },
    act: (h) => h.inst.linkChange(2000, true),
    to: 'FAULT',
    check: (h, ev) => {
      expect(ev).toEqual([]);
      expect(h.inst.wantState).toBe('BACKUP');
      expect(h.inst.pollTimeout()).toBeUndefined();
    },
  },
  {
    state: 'FAULT',
    input: 'cmdShutdown',
    act: (h) => h.inst.command(2000, 'shutdown'),
    to: 'STOP',
    check: (_h, _ev, tx) => expect(tx).toEqual([]),
  },
  {
    state: 'FAULT',
    input: 'syncBackup',
    setup: (h) => {
      toBackup(h);
      h.inst.forceSync(1000, 'FAULT');
      flush(h.inst);
      return 1000;
    },
    act: (h) => h.inst.forceSync(2000, 'BACKUP'),
    to: 'BACKUP',
    check: (h) => expect(h.inst.pollTimeout()).toBe(2000 + MDI_100),
  },
];

const covered = new Set<string>();

describe('every transition in the table, driven through VrrpInstance', () => {
  it.each(transitionCases.map((c) => [`${c.state} × ${c.input} → ${c.to}`, c] as const))('%s', (_title, c) => {
    const h = mk(c.over);
    const now = (c.setup ?? defaultSetup[c.state])(h);
    expect(h.inst.state).toBe(c.state);
    const traceStart = h.trace.length;
    c.act(h, now);
    const ev = events(h.inst);
    const tx = transmits(h.inst);
    expect(h.inst.state).toBe(c.to);
    const hit = h.trace.slice(traceStart).find((r) => r.state === c.state && r.input === c.input);
    expect(hit, `trace has ${c.state} × ${c.input}`).toBeDefined();
    const rule = TRANSITIONS[c.state][c.input];
    expect(rule.kind).toBe('transition');
    if (rule.kind === 'transition') expect(rule.next).toBe(c.to);
    covered.add(`${c.state}|${c.input}`);
    c.check?.(h, ev, tx, now);
  });

  it('covers every transition rule in the table', () => {
    const missing: string[] = [];
    for (const s of VRRP_STATES) {
      for (const i of VRRP_INPUTS) {
        if (TRANSITIONS[s][i].kind === 'transition' && !covered.has(`${s}|${i}`)) missing.push(`${s} × ${i}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('ignored and invalid inputs', () => {
  it('start twice is a usage error; time must not go backwards', () => {
    const h = mk();
    h.inst.start(10);
    expect(() => h.inst.start(20)).toThrow(VrrpUsageError);
    expect(() => h.inst.handleTimeout(5)).toThrow(/time went backwards/);
  });

  it('a handleTimeout before the deadline is a no-op', () => {
    const h = mk();
    toBackup(h);
    h.inst.handleTimeout(MDI_100 - 0.001);
    expect(h.inst.state).toBe('BACKUP');
    expect(h.inst.pollTimeout()).toBe(MDI_100);
    expect(events(h.inst)).toEqual([]);
  });

  it('INIT ignores adverts; FAULT ignores adverts; STOP ignores everything', () => {
    const h = mk();
    h.inst.handleAdvert(0, adv('10.0.0.9', 200));
    expect(h.inst.state).toBe('INIT');
    toFault(h);
    h.inst.handleAdvert(2000, adv('10.0.0.9', 0));
    expect(h.inst.state).toBe('FAULT');
    expect(h.inst.pollTimeout()).toBeUndefined();
    h.inst.command(2000, 'shutdown');
    flush(h.inst);
    h.inst.linkChange(3000, true);
    h.inst.forceSync(3000, 'MASTER');
    h.inst.handleAdvert(3000, adv('10.0.0.9', 0));
    h.inst.command(3000, 'stepDown');
    expect(h.inst.state).toBe('STOP');
    expect(events(h.inst)).toEqual([]);
    expect(transmits(h.inst)).toEqual([]);
  });

  it('stepDown outside MASTER does nothing; FAULT cannot be forced to MASTER', () => {
    const h = mk();
    toBackup(h);
    h.inst.command(100, 'stepDown');
    expect(h.inst.state).toBe('BACKUP');
    expect(transmits(h.inst)).toEqual([]);
    h.inst.linkChange(200, false);
    h.inst.forceSync(300, 'MASTER');
    expect(h.inst.state).toBe('FAULT');
  });

  it('forceSync BACKUP is ignored while the instance has its own fault', () => {
    const h = mk();
    toFault(h);
    h.inst.forceSync(2000, 'BACKUP');
    expect(h.inst.state).toBe('FAULT');
  });

  it('rejects invalid parameters', () => {
    expect(() => mk({ vrid: 0 })).toThrow(VrrpUsageError);
    expect(() => mk({ priority: 256 })).toThrow(VrrpUsageError);
    expect(() => mk({ family: 6, version: 2 })).toThrow(/version 3/);
    expect(() => mk({ version: 2, advertIntervalMs: 1500 })).toThrow(/whole seconds/);
    expect(() => mk({ version: 3, advertIntervalMs: 105 })).toThrow(/10 ms steps/);
    expect(() => mk({ downTimerAdverts: 0 })).toThrow(/down_timer_adverts/);
  });
});

// ---- semantics with exact timings -----------------------------------------------------------------

describe('startup (keepalived vrrp_init_state, docs/vrrp.md §5.1)', () => {
  it('defaults: no priority + state MASTER gives 255; priority 255 gives state MASTER; IPv6 is v3', () => {
    const p = resolveVrrpParams({ name: 'a', vrid: 1, primaryIp: '10.0.0.1', initialState: 'MASTER' });
    expect(p.priority).toBe(255);
    expect(resolveVrrpParams({ name: 'a', vrid: 1, primaryIp: '10.0.0.1', priority: 255 }).initialState).toBe('MASTER');
    expect(resolveVrrpParams({ name: 'a', vrid: 1, primaryIp: 'fe80::1', family: 6 }).version).toBe(3);
    const d = resolveVrrpParams({ name: 'a', vrid: 1, primaryIp: '10.0.0.1' });
    expect(d).toMatchObject({ version: 2, priority: 100, initialState: 'BACKUP', advertIntervalMs: 1000, preempt: true });
    expect(d.garp).toEqual({
      masterDelayMs: 5000,
      masterRepeat: 5,
      masterRefreshMs: 0,
      masterRefreshRepeat: 1,
      lowerPrioDelayMs: 5000,
      lowerPrioRepeat: 5,
      intervalMs: 0,
    });
  });

  it('state MASTER with priority < 255 still waits a full Master_Down_Interval in BACKUP', () => {
    const h = mk({ initialState: 'MASTER', priority: 200 });
    h.inst.start(0);
    expect(h.inst.state).toBe('BACKUP');
    expect(h.inst.pollTimeout()).toBe(3218.75);
    h.inst.handleTimeout(3218.75);
    expect(h.inst.state).toBe('MASTER');
  });

  it('priority 255 with state BACKUP starts BACKUP with 3003.906 ms', () => {
    const h = mk({ initialState: 'BACKUP', priority: 255 });
    h.inst.start(0);
    expect(h.inst.state).toBe('BACKUP');
    expect(h.inst.pollTimeout()).toBe(3003.906);
  });

  it('v3 at 100 ms: down timer 360.937 ms, then adverts every 100 ms', () => {
    const h = mk({ version: 3, advertIntervalMs: 100 });
    h.inst.start(1000);
    expect(h.inst.pollTimeout()).toBe(1000 + 360.937);
    h.inst.handleTimeout(1000 + 360.937);
    expect(h.inst.state).toBe('MASTER');
    expect(transmits(h.inst)).toEqual([{ priority: 100, advertIntervalMs: 100 }]);
    expect(h.inst.pollTimeout()).toBe(1000 + 360.937 + 100);
  });

  it('nopreempt and preempt_delay are cleared with state MASTER (keepalived config errors)', () => {
    const h = mk({ initialState: 'MASTER', priority: 100, preempt: false, preemptDelayMs: 5000 });
    expect(h.inst.params.preempt).toBe(true);
    expect(h.inst.params.preemptDelayMs).toBe(0);
    expect(h.inst.configWarnings).toHaveLength(2);
  });
});

describe('v3 learned Master_Adver_Interval (docs/vrrp.md §3)', () => {
  it('a BACKUP adopts the master interval for Master_Down_Interval and the skew, and restores its own on MASTER', () => {
    const h = mk({ version: 3, advertIntervalMs: 100 });
    toBackup(h);
    h.inst.handleAdvert(50, adv('10.0.0.9', 200, 1000));
    expect(h.inst.masterAdvertIntervalMs).toBe(1000);
    expect(h.inst.pollTimeout()).toBe(50 + 3609.375); // 3 × 1000 + (156 × 100 cs × 625/16) µs
    // priority 0 → Skew_Time computed with the LEARNED interval: 609.375, not 60.937
    h.inst.handleAdvert(500, adv('10.0.0.9', 0, 1000));
    expect(h.inst.pollTimeout()).toBe(500 + 609.375);
    h.inst.handleTimeout(500 + 609.375);
    expect(h.inst.state).toBe('MASTER');
    expect(h.inst.masterAdvertIntervalMs).toBe(100);
    expect(h.inst.pollTimeout()).toBe(500 + 609.375 + 100);
  });

  it('v2 drops adverts with another interval (RFC 3768 MUST discard)', () => {
    const h = mk();
    toBackup(h);
    h.inst.handleAdvert(1000, adv('10.0.0.9', 200, 2000));
    expect(h.inst.masterAdvertIntervalMs).toBe(1000);
    expect(h.inst.pollTimeout()).toBe(MDI_100);
  });
});

describe('BACKUP reaction to adverts (docs/vrrp.md §5.2)', () => {
  it('priority 0: takeover after exactly Skew_Time, with the reason', () => {
    const h = mk();
    toBackup(h);
    h.inst.handleAdvert(1000, adv('10.0.0.9', 150));
    h.inst.handleAdvert(2000, adv('10.0.0.9', 0));
    expect(h.inst.pollTimeout()).toBe(2000 + SKEW_100);
    flush(h.inst);
    h.inst.handleTimeout(2000 + SKEW_100);
    expect(events(h.inst)[0]).toEqual({
      type: 'stateChange',
      from: 'BACKUP',
      to: 'MASTER',
      reason: 'master 10.0.0.9 sent priority 0; took over after Skew_Time',
    });
  });

  it('lower priority with preempt: ignored, takeover when the running down timer expires', () => {
    const h = mk();
    toBackup(h);
    for (const t of [1000, 2000, 3000]) h.inst.handleAdvert(t, adv('10.0.0.9', 50));
    expect(h.inst.pollTimeout()).toBe(MDI_100);
    flush(h.inst);
    h.inst.handleTimeout(MDI_100);
    expect(h.inst.state).toBe('MASTER');
    expect(events(h.inst)[0]).toMatchObject({ reason: 'preempted lower-priority master 10.0.0.9 (priority 50)' });
  });

  it('nopreempt: a lower-priority master keeps us BACKUP while it advertises', () => {
    const h = mk({ preempt: false });
    toBackup(h);
    for (let t = 1000; t <= 20_000; t += 1000) {
      runUntil(h.inst, t);
      h.inst.handleAdvert(t, adv('10.0.0.9', 50));
    }
    expect(h.inst.state).toBe('BACKUP');
    expect(h.inst.pollTimeout()).toBe(20_000 + MDI_100);
    // …but takes over when it goes silent
    runUntil(h.inst, 20_000 + MDI_100);
    expect(h.inst.state).toBe('MASTER');
  });

  it('preempt_delay: runs from startup; lower adverts are accepted until it expires', () => {
    const h = mk({ preemptDelayMs: 5000 });
    toBackup(h);
    expect(h.inst.snapshot().preemptDelayUntil).toBe(5000);
    for (let t = 1000; t <= 7000; t += 1000) {
      runUntil(h.inst, t);
      h.inst.handleAdvert(t, adv('10.0.0.9', 50));
    }
    // accepted at 1000…4000 (delay still running), discarded from 5000 on
    expect(h.inst.pollTimeout()).toBe(4000 + MDI_100);
    expect(h.inst.snapshot().counters.lowerPriorityDiscarded).toBe(3);
    runUntil(h.inst, 4000 + MDI_100);
    expect(h.inst.state).toBe('MASTER');
  });

  it('preempt_delay: after losing MASTER it restarts at the first lower-priority advert', () => {
    const h = mk({ preemptDelayMs: 5000 });
    const t0 = toMaster(h) + 10_000; // well after the startup delay
    runUntil(h.inst, t0);
    h.inst.handleAdvert(t0, adv('10.0.0.9', 200)); // higher → BACKUP, preempt_time reset
    expect(h.inst.state).toBe('BACKUP');
    expect(h.inst.snapshot().preemptDelayUntil).toBeUndefined();
    h.inst.handleAdvert(t0 + 1000, adv('10.0.0.9', 50)); // starts the delay, accepted
    expect(h.inst.snapshot().preemptDelayUntil).toBe(t0 + 6000);
    expect(h.inst.pollTimeout()).toBe(t0 + 1000 + MDI_100);
    h.inst.handleAdvert(t0 + 2000, adv('10.0.0.9', 150)); // ≥ own: stops the delay
    expect(h.inst.snapshot().preemptDelayUntil).toBeUndefined();
  });

  it('higher priority resets the down timer each time', () => {
    const h = mk();
    toBackup(h);
    for (let t = 1000; t <= 30_000; t += 1000) {
      runUntil(h.inst, t);
      h.inst.handleAdvert(t, adv('10.0.0.9', 200));
    }
    expect(h.inst.state).toBe('BACKUP');
    expect(h.inst.snapshot().master).toEqual({ ip: '10.0.0.9', priority: 200, lastSeenAt: 30_000 });
    // masterSeen only once for the same master
    expect(events(h.inst).filter((e) => e.type === 'masterSeen')).toHaveLength(1);
  });
});

describe('MASTER reaction to adverts (docs/vrrp.md §5.4)', () => {
  it('tie-break both directions, IPv4', () => {
    const lose = mk({ primaryIp: '10.0.0.5' });
    const t = toMaster(lose);
    lose.inst.handleAdvert(t + 1, adv('10.0.0.6', 100));
    expect(lose.inst.state).toBe('BACKUP');

    const win = mk({ primaryIp: '10.0.0.5' });
    toMaster(win);
    win.inst.handleAdvert(t + 1, adv('10.0.0.4', 100));
    expect(win.inst.state).toBe('MASTER');
    expect(transmits(win.inst)).toEqual([{ priority: 100, advertIntervalMs: 1000 }]);
  });

  it('tie-break both directions, IPv6 (numeric, not textual)', () => {
    const lose = mk({ family: 6, primaryIp: 'fe80::9' });
    const t = toMaster(lose);
    lose.inst.handleAdvert(t + 1, adv('fe80::10', 100));
    expect(lose.inst.state).toBe('BACKUP');
    const win = mk({ family: 6, primaryIp: 'fe80::10' });
    toMaster(win);
    win.inst.handleAdvert(t + 1, adv('fe80::9', 100));
    expect(win.inst.state).toBe('MASTER');
  });

  it('lower_prio_no_advert suppresses the re-assert advert; higher_prio_send_advert sends one more', () => {
    const quiet = mk({ lowerPrioNoAdvert: true, garp: { lowerPrioRepeat: 0 } });
    const t = toMaster(quiet);
    quiet.inst.handleAdvert(t + 1, adv('10.0.0.9', 50));
    expect(transmits(quiet.inst)).toEqual([]);
    expect(events(quiet.inst).some((e) => e.type === 'sendGarp')).toBe(false);

    const polite = mk({ higherPrioSendAdvert: true });
    toMaster(polite);
    polite.inst.handleAdvert(t + 1, adv('10.0.0.9', 200));
    expect(polite.inst.state).toBe('BACKUP');
    expect(transmits(polite.inst)).toEqual([{ priority: 100, advertIntervalMs: 1000 }]);
  });

  it('v3 MASTER yielding adopts the new master interval', () => {
    const h = mk({ version: 3, advertIntervalMs: 100 });
    const t = toMaster(h);
    h.inst.handleAdvert(t + 10, adv('10.0.0.9', 200, 500));
    expect(h.inst.masterAdvertIntervalMs).toBe(500);
    // 3 × 500 + (156 × 50 cs × 625 / 16) µs = 1500 + 304.687
    expect(h.inst.pollTimeout()).toBe(t + 10 + 1804.687);
  });
});

describe('advert schedule: absolute deadlines, not now + interval after a late timer', () => {
  /** Drive as a real event loop would: every timer fires `late(k)` ms after its deadline. */
  function sendsWithLateness(late: (k: number) => number, n: number): { sends: number[]; h: Harness; t0: number } {
    const h = mk({ version: 3, advertIntervalMs: 100 });
    const t0 = toMaster(h);
    flush(h.inst);
    const sends: number[] = [];
    for (let k = 0; k < n; k++) {
      const due = h.inst.pollTimeout();
      if (due === undefined) throw new Error('no advert timer');
      const now = due + late(k);
      h.inst.handleTimeout(now);
      if (transmits(h.inst).length === 1) sends.push(now);
      events(h.inst);
    }
    return { sends, h, t0 };
  }

  it('a driver that is always 0.7 ms late keeps the 100 ms period (no drift)', () => {
    const { sends, t0 } = sendsWithLateness(() => 0.7, 3000);
    expect(sends).toHaveLength(3000);
    // every send is at t0 + k·100 + 0.7: 3000 adverts span exactly 300 s, not 302.1 s
    sends.forEach((at, k) => expect(at).toBeCloseTo(t0 + (k + 1) * 100 + 0.7, 6));
  });

  it('one late timer does not push every later advert', () => {
    const { sends, t0 } = sendsWithLateness((k) => (k === 3 ? 30 : 0), 8);
    expect(sends).toEqual([t0 + 100, t0 + 200, t0 + 300, t0 + 430, t0 + 500, t0 + 600, t0 + 700, t0 + 800]);
  });

  it('a timer half an interval late or more restarts the schedule from now (no catch-up burst)', () => {
    const { sends, t0 } = sendsWithLateness((k) => (k === 1 ? 250 : 0), 4);
    // the late send at t0+450 restarts the schedule: the next is 100 ms later, not 50 or 0 ms
    expect(sends).toEqual([t0 + 100, t0 + 450, t0 + 550, t0 + 650]);
    const half = sendsWithLateness((k) => (k === 1 ? 50 : 0), 3);
    expect(half.sends).toEqual([half.t0 + 100, half.t0 + 250, half.t0 + 350]);
  });

  it('becoming MASTER on a late down timer arms the Adver_Timer from now, not from that deadline', () => {
    const h = mk({ version: 3, advertIntervalMs: 100 });
    h.inst.start(0);
    const down = h.inst.pollTimeout()!;
    h.inst.handleTimeout(down + 20);
    expect(h.inst.state).toBe('MASTER');
    expect(transmits(h.inst)).toHaveLength(1);
    expect(h.inst.pollTimeout()).toBe(down + 120);
  });

  it('an early call is still a no-op', () => {
    const h = mk({ version: 3, advertIntervalMs: 100 });
    const t = toMaster(h);
    flush(h.inst);
    h.inst.handleTimeout(t + 99.5);
    expect(transmits(h.inst)).toEqual([]);
    expect(h.inst.pollTimeout()).toBe(t + 100);
  });
});

describe('address owner (priority 255, docs/vrrp.md §5.6)', () => {
  it('starts MASTER at once, trackers cannot change its priority, but a weight-0 fault still applies', () => {
    const h = mk({ priority: 255 });
    h.inst.start(0);
    expect(h.inst.state).toBe('MASTER');
    expect(transmits(h.inst)).toEqual([{ priority: 255, advertIntervalMs: 1000 }]);
    h.inst.setTrack(100, { weightDelta: -100, fault: false, reason: 'w' });
    expect(h.inst.effectivePriority).toBe(255);
    h.inst.handleTimeout(1000);
    expect(transmits(h.inst)).toEqual([{ priority: 255, advertIntervalMs: 1000 }]);
    h.inst.setTrack(1500, { weightDelta: 0, fault: true, reason: 'chk failed' });
    expect(h.inst.state).toBe('FAULT');
    expect(transmits(h.inst)).toEqual([{ priority: 0, advertIntervalMs: 1000 }]);
  });

  it('owner_ignore_adverts drops every advert', () => {
    const h = mk({ priority: 255, ownerIgnoreAdverts: true });
    h.inst.start(0);
    h.inst.handleAdvert(10, adv('10.0.0.9', 255));
    expect(h.inst.state).toBe('MASTER');
    expect(h.inst.snapshot().counters.advertsDropped).toBe(1);
  });
});

describe('track weights and effective priority (docs/vrrp.md §5.7)', () => {
  it('clamps base + weights to 1..254', () => {
    const h = mk({ priority: 100 });
    h.inst.setTrack(0, { weightDelta: 500, fault: false, reason: 'up' });
    expect(h.inst.effectivePriority).toBe(254);
    h.inst.setTrack(0, { weightDelta: -500, fault: false, reason: 'down' });
    expect(h.inst.effectivePriority).toBe(1);
    h.inst.setTrack(0, { weightDelta: -20, fault: false, reason: 'down' });
    expect(h.inst.effectivePriority).toBe(80);
  });

  it('a raised priority makes a BACKUP preempt the now-lower master when its shifted down timer expires', () => {
    const h = mk({ priority: 100 });
    toBackup(h);
    h.inst.handleAdvert(1000, adv('10.0.0.9', 150));
    h.inst.handleAdvert(2000, adv('10.0.0.9', 150));
    expect(h.inst.pollTimeout()).toBe(2000 + MDI_100);
    h.inst.setTrack(2500, { weightDelta: 60, fault: false, reason: 'chk_bonus' }); // 160 > 150
    // skew(160) = 96/256 s = 375 ms, so the deadline moves by 375 − 609.375
    expect(h.inst.pollTimeout()).toBeCloseTo(2000 + 3375, 9);
    for (const t of [3000, 4000, 5000]) h.inst.handleAdvert(t, adv('10.0.0.9', 150)); // now lower: discarded
    expect(h.inst.snapshot().counters.lowerPriorityDiscarded).toBe(3);
    runUntil(h.inst, 5375);
    expect(h.inst.state).toBe('MASTER');
    expect(transmits(h.inst)).toEqual([{ priority: 160, advertIntervalMs: 1000 }]);
  });

  it('a lowered priority on the MASTER lets a higher backup take over (the backup preempts)', () => {
    const h = mk({ priority: 150 });
    const t = toMaster(h);
    h.inst.setTrack(t + 10, { weightDelta: -60, fault: false, reason: 'chk_down' }); // 90
    h.inst.handleTimeout(t + 1000);
    expect(transmits(h.inst)).toEqual([{ priority: 90, advertIntervalMs: 1000 }]);
    h.inst.handleAdvert(t + 1100, adv('10.0.0.9', 100)); // the backup preempted us
    expect(h.inst.state).toBe('BACKUP');
  });
});

describe('FAULT and recovery', () => {
  it('link and track faults combine; recovery needs both clear, then BACKUP with a full down timer', () => {
    const h = mk();
    const t = toMaster(h);
    h.inst.linkChange(t + 1, false);
    expect(h.inst.state).toBe('FAULT');
    expect(transmits(h.inst)).toEqual([{ priority: 0, advertIntervalMs: 1000 }]);
    h.inst.setTrack(t + 2, { weightDelta: 0, fault: true, reason: 'chk_gw' });
    h.inst.linkChange(t + 3, true);
    expect(h.inst.state).toBe('FAULT');
    expect(h.inst.snapshot().fault).toEqual({ link: false, track: true, reason: 'chk_gw' });
    flush(h.inst);
    h.inst.setTrack(t + 4, { weightDelta: 0, fault: false, reason: 'chk_gw ok' });
    expect(h.inst.state).toBe('BACKUP');
    expect(events(h.inst)).toEqual([
      { type: 'stateChange', from: 'FAULT', to: 'BACKUP', reason: 'fault cleared (chk_gw ok)' },
      { type: 'notify', state: 'BACKUP' },
    ]);
    expect(h.inst.pollTimeout()).toBe(t + 4 + MDI_100);
  });

  it('leaving FAULT restores the local advert interval (v3)', () => {
    const h = mk({ version: 3, advertIntervalMs: 100 });
    toBackup(h);
    h.inst.handleAdvert(10, adv('10.0.0.9', 200, 1000));
    h.inst.linkChange(20, false);
    h.inst.linkChange(30, true);
    expect(h.inst.masterAdvertIntervalMs).toBe(100);
    expect(h.inst.pollTimeout()).toBe(30 + 360.937);
  });
});

describe('commands', () => {
  it('shutdown of a MASTER: priority 0, VIPs removed, STOP, no more timers', () => {
    const h = mk();
    const t = toMaster(h);
    h.inst.command(t + 5, 'shutdown');
    expect(transmits(h.inst)).toEqual([{ priority: 0, advertIntervalMs: 1000 }]);
    expect(types(events(h.inst))).toEqual(['stateChange', 'removeVips', 'notify']);
    expect(h.inst.pollTimeout()).toBeUndefined();
    expect(h.inst.snapshot().counters.priorityZeroSent).toBe(1);
  });

  it('stepDown: priority 0, BACKUP, and no preempting the lower-priority master that took over', () => {
    const h = mk({ priority: 150 });
    const t = toMaster(h);
    h.inst.command(t + 100, 'stepDown');
    expect(transmits(h.inst)).toEqual([{ priority: 0, advertIntervalMs: 1000 }]);
    // the backup (priority 100) took over after its skew and advertises
    for (let k = 1; k <= 10; k++) {
      runUntil(h.inst, t + 700 + k * 1000);
      h.inst.handleAdvert(t + 700 + k * 1000, adv('10.0.0.9', 100));
    }
    expect(h.inst.state).toBe('BACKUP');
    // once it goes silent we take over again, which clears the hold
    runUntil(h.inst, t + 700 + 10_000 + 3414.062);
    expect(h.inst.state).toBe('MASTER');
    expect(h.inst.snapshot().stepDownHold).toBe(false);
  });

  it('holdPreemption (a restarted VRRP engine): BACKUP does not preempt the lower-priority master; only before start', () => {
    const h = mk({ priority: 150 });
    h.inst.holdPreemption();
    h.inst.start(0);
    expect(h.inst.state).toBe('BACKUP');
    expect(h.inst.snapshot().stepDownHold).toBe(true);
    for (let k = 1; k <= 10; k++) {
      runUntil(h.inst, k * 1000);
      h.inst.handleAdvert(k * 1000, adv('10.0.0.9', 100));
    }
    expect(h.inst.state).toBe('BACKUP');
    expect(() => h.inst.holdPreemption()).toThrow(VrrpUsageError);
    // the lower-priority master goes silent: we take over, which clears the hold
    runUntil(h.inst, 10_000 + 3414.062);
    expect(h.inst.state).toBe('MASTER');
    expect(h.inst.snapshot().stepDownHold).toBe(false);
  });

  it('maintenance: silent BACKUP that never takes over; off re-arms the down timer', () => {
    const h = mk();
    const t = toMaster(h);
    h.inst.command(t + 1, 'maintenanceOn');
    expect(transmits(h.inst)).toEqual([{ priority: 0, advertIntervalMs: 1000 }]);
    h.inst.handleAdvert(t + 2, adv('10.0.0.9', 50));
    h.inst.handleAdvert(t + 3, adv('10.0.0.9', 0));
    expect(h.inst.pollTimeout()).toBeUndefined();
    h.inst.handleTimeout(t + 100_000);
    expect(h.inst.state).toBe('BACKUP');
    expect(transmits(h.inst)).toEqual([]);
    h.inst.linkChange(t + 100_001, false);
    h.inst.linkChange(t + 100_002, true);
    expect(h.inst.state).toBe('BACKUP');
    expect(h.inst.pollTimeout()).toBeUndefined();
    h.inst.command(t + 100_003, 'maintenanceOff');
    expect(h.inst.pollTimeout()).toBe(t + 100_003 + MDI_100);
  });
});

describe('GARP schedule (docs/vrrp.md §7)', () => {
  it('burst at transition, second after garp_master_delay, refresh every garp_master_refresh; cancelled on leaving MASTER', () => {
    const h = mk({ garp: { masterDelayMs: 5000, masterRepeat: 3, masterRefreshMs: 12_000, masterRefreshRepeat: 2 } });
    h.inst.start(0);
    const garps: { at: number; repeat: number; cause: string }[] = [];
    const collect = (at: number) => {
      for (const e of events(h.inst)) if (e.type === 'sendGarp') garps.push({ at, repeat: e.repeat, cause: e.cause });
    };
    for (let d = h.inst.pollTimeout(); d !== undefined && d <= 40_000; d = h.inst.pollTimeout()) {
      h.inst.handleTimeout(d);
      collect(d);
    }
    const T = MDI_100;
    expect(garps).toEqual([
      { at: T, repeat: 3, cause: 'becomeMaster' },
      { at: T + 5000, repeat: 3, cause: 'masterDelay' },
      { at: T + 12_000, repeat: 2, cause: 'refresh' },
      { at: T + 24_000, repeat: 2, cause: 'refresh' },
      { at: T + 36_000, repeat: 2, cause: 'refresh' },
    ]);
    runUntil(h.inst, 40_100);
    h.inst.handleAdvert(40_100, adv('10.0.0.9', 200));
    expect(h.inst.state).toBe('BACKUP');
    events(h.inst);
    for (let t = 41_100; t <= 100_000; t += 1000) {
      runUntil(h.inst, t);
      h.inst.handleAdvert(t, adv('10.0.0.9', 200));
    }
    expect(h.inst.state).toBe('BACKUP');
    expect(events(h.inst).some((e) => e.type === 'sendGarp')).toBe(false);
  });

  it('garp_master_delay 0 means no second burst', () => {
    const h = mk({ garp: { masterDelayMs: 0 } });
    const t = toMaster(h);
    runUntil(h.inst, t + 20_000);
    expect(events(h.inst).some((e) => e.type === 'sendGarp')).toBe(false);
  });

  it('each lower-priority advert gives a burst now and one after garp_lower_prio_delay', () => {
    const h = mk({ garp: { masterDelayMs: 0, lowerPrioRepeat: 2, lowerPrioDelayMs: 3000 } });
    const t = toMaster(h);
    h.inst.handleAdvert(t + 100, adv('10.0.0.9', 50));
    runUntil(h.inst, t + 1100);
    h.inst.handleAdvert(t + 1100, adv('10.0.0.9', 50));
    const garps: { at: number; cause: string }[] = [];
    for (const e of events(h.inst)) if (e.type === 'sendGarp') garps.push({ at: -1, cause: e.cause });
    for (let d = h.inst.pollTimeout(); d !== undefined && d <= t + 5000; d = h.inst.pollTimeout()) {
      h.inst.handleTimeout(d);
      for (const e of events(h.inst)) if (e.type === 'sendGarp') garps.push({ at: d, cause: e.cause });
    }
    expect(garps).toEqual([
      { at: -1, cause: 'lowerPrio' },
      { at: -1, cause: 'lowerPrio' },
      { at: t + 3100, cause: 'lowerPrioDelay' },
      { at: t + 4100, cause: 'lowerPrioDelay' },
    ]);
  });
});

describe('snapshot', () => {
  it('reports state, priorities, master, counters and the last transitions with reasons', () => {
    const h = mk({ transitionHistory: 2 });
    toMaster(h);
    h.inst.handleAdvert(4000, adv('10.0.0.9', 200));
    h.inst.handleAdvert(5000, adv('10.0.0.9', 0));
    h.inst.handleTimeout(5000 + SKEW_100);
    const s = h.inst.snapshot();
    expect(s).toMatchObject({
      name: 'VI_1',
      vrid: 51,
      state: 'MASTER',
      basePriority: 100,
      effectivePriority: 100,
      masterAdvertIntervalMs: 1000,
      masterDownIntervalMs: MDI_100,
      master: { ip: '10.0.0.9', priority: 200, lastSeenAt: 4000 },
      vipsSet: true,
    });
    expect(s.counters).toMatchObject({ becameMaster: 2, releasedMaster: 1, advertsReceived: 2, priorityZeroReceived: 1 });
    expect(s.transitions.map((r) => `${r.from}>${r.to}`)).toEqual(['MASTER>BACKUP', 'BACKUP>MASTER']);
    expect(s.transitions[0]).toMatchObject({ at: 4000, reason: 'higher priority advert from 10.0.0.9 (priority 200), ours 100' });
  });
});

// ---- every (state, input) pair under random input sequences (h2 test_state_transitions) --------

describe('random input sequences keep the machine consistent', () => {
  type Op =
    | { k: 'advert'; ip: number; prio: number; v3int: boolean }
    | { k: 'timeout' }
    | { k: 'early' }
    | { k: 'track'; w: number; fault: boolean }
    | { k: 'link'; up: boolean }
    | { k: 'cmd'; c: 'stepDown' | 'maintenanceOn' | 'maintenanceOff' | 'shutdown' }
    | { k: 'sync'; s: 'MASTER' | 'BACKUP' | 'FAULT' }
    | { k: 'relay' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant('advert' as const), ip: fc.integer({ min: 1, max: 9 }), prio: fc.integer({ min: 0, max: 255 }), v3int: fc.boolean() }),
    fc.constant({ k: 'timeout' as const }),
    fc.constant({ k: 'timeout' as const }),
    fc.constant({ k: 'early' as const }),
    fc.record({ k: fc.constant('track' as const), w: fc.integer({ min: -300, max: 300 }), fault: fc.boolean() }),
    fc.record({ k: fc.constant('link' as const), up: fc.boolean() }),
    fc.record({ k: fc.constant('cmd' as const), c: fc.constantFrom('stepDown', 'maintenanceOn', 'maintenanceOff', 'shutdown') as fc.Arbitrary<'stepDown' | 'maintenanceOn' | 'maintenanceOff' | 'shutdown'> }),
    fc.record({ k: fc.constant('sync' as const), s: fc.constantFrom('MASTER', 'BACKUP', 'FAULT') as fc.Arbitrary<'MASTER' | 'BACKUP' | 'FAULT'> }),
    fc.constant({ k: 'relay' as const }),
  );

  it('invariants hold after every input', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(
        fc.constantFrom(2, 3) as fc.Arbitrary<2 | 3>,
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2000 }), op), { maxLength: 60 }),
        (version, priority, preempt, ops) => {
          const h = mk({ version, priority, preempt, advertIntervalMs: 1000, primaryIp: '10.0.0.5' });
          let now = 0;
          let vips = false;
          let weight = 0;
          h.inst.start(0);
          for (const [dt, o] of ops) {
            now += dt;
            switch (o.k) {
              case 'advert':
                h.inst.handleAdvert(now, adv(`10.0.0.${o.ip}`, o.prio, o.v3int ? 500 : 1000));
                break;
              case 'timeout': {
                const d = h.inst.pollTimeout();
                if (d !== undefined && d > now) now = d;
                h.inst.handleTimeout(now);
                break;
              }
              case 'early': {
                const d = h.inst.pollTimeout();
                const before = h.inst.state;
                if (d !== undefined && d > now) {
                  h.inst.handleTimeout(now);
                  expect(h.inst.state).toBe(before);
                }
                break;
              }
              case 'track':
                weight = o.w;
                h.inst.setTrack(now, { weightDelta: o.w, fault: o.fault, reason: 't' });
                break;
              case 'link':
                h.inst.linkChange(now, o.up);
                break;
              case 'cmd':
                h.inst.command(now, o.c);
                break;
              case 'sync':
                h.inst.forceSync(now, o.s);
                break;
              case 'relay':
                h.inst.relayLowerPrioGarp(now);
                break;
            }
            for (const e of events(h.inst)) {
              if (e.type === 'addVips') {
                expect(vips).toBe(false);
                vips = true;
              }
              if (e.type === 'removeVips') {
                expect(vips).toBe(true);
                vips = false;
              }
              if (e.type === 'sendGarp') expect(vips).toBe(true);
            }
            for (const t of transmits(h.inst)) {
              expect([0, h.inst.effectivePriority]).toContain(t.priority);
            }
            const s = h.inst.snapshot();
            expect(s.vipsSet).toBe(vips);
            expect(s.effectivePriority).toBe(priority === 255 ? 255 : Math.min(254, Math.max(1, priority + weight)));
            switch (s.state) {
              case 'MASTER':
                expect(vips).toBe(true);
                expect(h.inst.pollTimeout()).toBeDefined();
                expect(s.fault.link || s.fault.track).toBe(false);
                break;
              case 'BACKUP':
                expect(vips).toBe(false);
                if (!s.maintenance) expect(h.inst.pollTimeout()).toBeDefined();
                expect(s.fault.link || s.fault.track).toBe(false);
                break;
              case 'FAULT':
              case 'STOP':
                expect(vips).toBe(false);
                expect(h.inst.pollTimeout()).toBeUndefined();
                break;
              case 'INIT':
                throw new Error('started instance in INIT');
            }
          }
          for (const r of h.trace) seen.add(`${r.state}|${r.input}`);
        },
      ),
      { numRuns: 300, seed: 42 },
    );
    // sanity: the random walk reaches a good part of the table
    expect(seen.size).toBeGreaterThan(60);
  });
});

// ---- reload in place -----------------------------------------------------------------------------

describe('retune: a reload applies new parameters in place', () => {
  const params = (over: Partial<VrrpInstanceInput> = {}) => resolveVrrpParams({ name: 'VI_1', vrid: 51, primaryIp: '10.0.0.5', ...over });

  it('a MASTER keeps its state and VIPs; its next advert carries the new priority', () => {
    const h = mk({ priority: 150 });
    const t = toMaster(h);
    h.inst.retune(t + 100, params({ priority: 140 }));
    const evs = events(h.inst);
    expect(types(evs)).toEqual(['priorityChange']);
    expect(evs[0]).toMatchObject({ from: 150, to: 140 });
    expect(h.inst.state).toBe('MASTER');
    runUntil(h.inst, t + 1000);
    expect(transmits(h.inst)).toEqual([{ priority: 140, advertIntervalMs: 1000 }]);
    expect(h.inst.snapshot()).toMatchObject({ basePriority: 140, effectivePriority: 140, vipsSet: true });
  });

  it('a MASTER lowered below its peer hands over once, by the protocol', () => {
    const h = mk({ priority: 150 });
    const t = toMaster(h);
    h.inst.retune(t + 100, params({ priority: 90 }));
    flush(h.inst);
    h.inst.handleAdvert(t + 200, adv('10.0.0.6', 100));
    expect(h.inst.state).toBe('BACKUP');
    expect(types(events(h.inst))).toContain('removeVips');
  });

  it("a BACKUP's down timer moves by the change of skew", () => {
    const h = mk();
    toBackup(h);
    h.inst.handleAdvert(500, adv('10.0.0.6', 200));
    flush(h.inst);
    const before = h.inst.pollTimeout()!;
    h.inst.retune(600, params({ priority: 200 }));
    expect(h.inst.pollTimeout()! - before).toBeCloseTo(skewTimeMs(2, 200, 1000) - SKEW_100, 3);
    expect(h.inst.state).toBe('BACKUP');
  });

  it('a new advert interval is used from the next advert; nopreempt applies at once', () => {
    const h = mk({ priority: 150 });
    const t = toMaster(h);
    h.inst.retune(t + 10, params({ priority: 150, advertIntervalMs: 2000 }));
    runUntil(h.inst, t + 1000);
    expect(transmits(h.inst)).toEqual([{ priority: 150, advertIntervalMs: 2000 }]);
    runUntil(h.inst, t + 2999);
    expect(transmits(h.inst)).toEqual([]);
    runUntil(h.inst, t + 3000);
    expect(transmits(h.inst)).toHaveLength(1);

    const b = mk({ priority: 200 });
    toBackup(b);
    b.inst.retune(10, params({ priority: 200, preempt: false }));
    b.inst.handleAdvert(20, adv('10.0.0.6', 100));
    expect(b.inst.state).toBe('BACKUP');
  });

  it('refuses a different VRID or family: that is another virtual router', () => {
    const h = mk();
    toBackup(h);
    expect(() => h.inst.retune(10, params({ vrid: 52 }))).toThrow(/cannot change in place/);
    expect(() => h.inst.retune(10, params({ family: 6, version: 3, primaryIp: 'fe80::5' }))).toThrow(/cannot change in place/);
  });
});

describe('hostile or broken peers', () => {
  it('a VRRPv3 advert with Max Adver Int 0 never becomes the BACKUP\'s master interval', () => {
    const h = mk({ version: 3, advertIntervalMs: 100 });
    toBackup(h);
    h.inst.handleAdvert(10, adv('10.0.0.6', 200, 0));
    flush(h.inst);
    expect(h.inst.masterAdvertIntervalMs).toBe(100);
    // the down timer is a full Master_Down_Interval at 100 ms, not ~Skew_Time
    expect(h.inst.pollTimeout()! - 10).toBeCloseTo(masterDownIntervalMs(3, 100, 100), 3);
  });
});

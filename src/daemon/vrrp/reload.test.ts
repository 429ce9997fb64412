import { describe, expect, it } from 'vitest';
import { ConfigSchema, type Config, type ConfigInput } from '../../config/schema.js';
import { diffVrrpConfig, instancesByAction, sameData, type ReloadAction, type TrackerDiff, type VrrpConfigDiff } from './reload.js';

const PASSWORD = 'sekr1t!x';

type Inst = NonNullable<ConfigInput['instances']>[string];

/** VI_1 (tracked, authenticated, notify), VI_2 (plain) and the sync group G of VG_A + VG_B. */
function base(): ConfigInput {
  return {
    vrrp_scripts: { chk: { script: '/bin/true', weight: -20 }, spare: { script: '/bin/false' } },
    track_files: { tf: { file: '/run/vk/tf', weight: -10 } },
    sync_groups: { G: { group: ['VG_A', 'VG_B'], notify_master: '/bin/g-old' } },
    instances: {
      VI_1: {
        interface: 'eth0',
        virtual_router_id: 51,
        priority: 150,
        advert_int: '1s',
        authentication: { auth_type: 'PASS', auth_pass: PASSWORD },
        virtual_ipaddress: ['10.0.0.100/24'],
        track_script: ['chk'],
        track_file: ['tf'],
        notify_master: '/bin/old',
      },
      VI_2: { interface: 'eth0', virtual_router_id: 52, priority: 100, virtual_ipaddress: ['10.0.0.101/24'] },
      VG_A: { interface: 'eth1', virtual_router_id: 61, virtual_ipaddress: ['10.1.0.100/24'] },
      VG_B: { interface: 'eth1', virtual_router_id: 62, virtual_ipaddress: ['10.1.0.101/24'] },
    },
  };
}

function parse(input: ConfigInput): Config {
  return ConfigSchema.parse(input);
}

function mutated(fn: (c: ConfigInput) => void): Config {
  const c = structuredClone(base());
  fn(c);
  return parse(c);
}

const inst = (c: ConfigInput, name: string): Inst => c.instances![name]!;

const NONE: TrackerDiff = { added: [], removed: [], changed: [] };

interface Case {
  name: string;
  mutate: (c: ConfigInput) => void;
  /** Expected action per instance; the others must be `unchanged`. */
  instances?: Record<string, ReloadAction>;
  groups?: Record<string, ReloadAction>;
  /** Expected reasons (exact) per instance. */
  reasons?: Record<string, string[] | RegExp>;
  scripts?: Partial<TrackerDiff>;
  files?: Partial<TrackerDiff>;
  notes?: RegExp[];
}

const CASES: Case[] = [
  { name: 'nothing changed', mutate: () => undefined },
  { name: 'a key that changes nothing after parsing (advert_int 1s vs 1000ms)', mutate: (c) => void (inst(c, 'VI_1').advert_int = '1000ms') },
  { name: 'an unrelated global key (router_id)', mutate: (c) => void (c.global = { router_id: 'other' }) },

  // Machine parameters.
  { name: 'priority', mutate: (c) => void (inst(c, 'VI_1').priority = 200), instances: { VI_1: 'retuned' }, reasons: { VI_1: ['priority'] } },
  { name: 'advert_int', mutate: (c) => void (inst(c, 'VI_2').advert_int = '2s'), instances: { VI_2: 'retuned' }, reasons: { VI_2: ['advert_int'] } },
  { name: 'nopreempt', mutate: (c) => void (inst(c, 'VI_2').nopreempt = true), instances: { VI_2: 'retuned' }, reasons: { VI_2: ['nopreempt'] } },
  { name: 'state', mutate: (c) => void (inst(c, 'VI_2').state = 'MASTER'), instances: { VI_2: 'retuned' }, reasons: { VI_2: ['state'] } },
  {
    name: 'a global default that reaches the instances (vrrp_garp_master_delay)',
    mutate: (c) => void (c.global = { vrrp_garp_master_delay: '10s' }),
    instances: { VI_1: 'retuned', VI_2: 'retuned', VG_A: 'retuned', VG_B: 'retuned' },
    reasons: { VI_1: ['resolved params (global defaults)'], VI_2: ['resolved params (global defaults)'] },
  },
  {
    name: 'a global default an instance overrides (with the old default) leaves it unchanged',
    mutate: (c) => {
      inst(c, 'VI_2').garp_master_delay = '5s';
      c.global = { vrrp_garp_master_delay: '10s' };
    },
    instances: { VI_1: 'retuned', VG_A: 'retuned', VG_B: 'retuned' },
  },
  {
    name: 'global vrrp_version reaches instances without their own version; an explicit equal value is no change',
    mutate: (c) => {
      c.global = { vrrp_version: 3 };
      for (const n of ['VI_1', 'VG_A', 'VG_B']) inst(c, n).version = 2;
    },
    instances: { VI_2: 'retuned' },
    reasons: { VI_2: /^resolved params \(global defaults\)/ },
  },
  { name: 'an explicit value equal to the default (down_timer_adverts 3)', mutate: (c) => void (inst(c, 'VI_2').down_timer_adverts = 3) },
  // Sockets and VIPs.
  { name: 'VIP list', mutate: (c) => void inst(c, 'VI_2').virtual_ipaddress!.push('10.0.0.102/24'), instances: { VI_2: 'retuned' }, reasons: { VI_2: ['virtual_ipaddress'] } },
  { name: 'a VIP option (dev)', mutate: (c) => void (inst(c, 'VI_2').virtual_ipaddress = ['10.0.0.101/24 dev eth9']), instances: { VI_2: 'retuned' } },
  { name: 'excluded VIPs', mutate: (c) => void (inst(c, 'VI_2').virtual_ipaddress_excluded = ['10.9.0.1/32']), instances: { VI_2: 'retuned' }, reasons: { VI_2: ['virtual_ipaddress_excluded'] } },
  { name: 'interface: another virtual router, a restart', mutate: (c) => void (inst(c, 'VI_2').interface = 'eth2'), instances: { VI_2: 'changed' }, reasons: { VI_2: ['interface'] } },
  { name: 'unicast peers', mutate: (c) => void (inst(c, 'VI_2').unicast_peer = ['10.0.0.12']), instances: { VI_2: 'retuned' }, reasons: { VI_2: ['unicast_peer'] } },
  { name: 'unicast source', mutate: (c) => void (inst(c, 'VI_2').unicast_src_ip = '10.0.0.11'), instances: { VI_2: 'retuned' }, reasons: { VI_2: ['unicast_src_ip'] } },
  {
    name: 'auth password (the reason names the key, never the value)',
    mutate: (c) => void (inst(c, 'VI_1').authentication = { auth_type: 'PASS', auth_pass: 'n3w-pass' }),
    instances: { VI_1: 'retuned' },
    reasons: { VI_1: ['authentication'] },
  },
  { name: 'a key the diff does not capture (virtual_routes) still restarts', mutate: (c) => void (inst(c, 'VI_2').virtual_routes = ['10.5.0.0/16 via 10.0.0.1']), instances: { VI_2: 'changed' } },
  { name: 'dont_track_primary', mutate: (c) => void (inst(c, 'VI_2').dont_track_primary = true), instances: { VI_2: 'retuned' } },

  // Trackers.
  { name: 'a track_script reference', mutate: (c) => void (inst(c, 'VI_2').track_script = ['chk']), instances: { VI_2: 'retuned' }, reasons: { VI_2: ['track_script'] } },
  { name: 'a track_interface reference', mutate: (c) => void (inst(c, 'VI_2').track_interface = ['eth5']), instances: { VI_2: 'retuned' }, reasons: { VI_2: ['track_interface'] } },
  {
    name: "a tracked script's weight (definition)",
    mutate: (c) => void (c.vrrp_scripts!.chk!.weight = -30),
    instances: { VI_1: 'retuned' },
    reasons: { VI_1: ['trackers'] },
    scripts: { changed: ['chk'] },
  },
  {
    name: "a tracked script's init_fail (read when evaluating)",
    mutate: (c) => void (c.vrrp_scripts!.chk!.init_fail = true),
    instances: { VI_1: 'retuned' },
    reasons: { VI_1: ['trackers'] },
    scripts: { changed: ['chk'] },
  },
  {
    name: "a tracked script's command only: the watcher restarts, the instance does not",
    mutate: (c) => void (c.vrrp_scripts!.chk!.script = '/usr/local/bin/check'),
    scripts: { changed: ['chk'] },
  },
  { name: 'an untracked script added and one removed', mutate: (c) => {
      c.vrrp_scripts!.extra = { script: '/bin/true' };
      delete c.vrrp_scripts!.spare;
    }, scripts: { added: ['extra'], removed: ['spare'] } },
  { name: "a tracked file's path only", mutate: (c) => void (c.track_files!.tf!.file = '/run/vk/other'), files: { changed: ['tf'] } },
  { name: "a tracked file's weight", mutate: (c) => void (c.track_files!.tf!.weight = 5), instances: { VI_1: 'retuned' }, files: { changed: ['tf'] } },

  // Notify settings: in place.
  { name: 'notify_master', mutate: (c) => void (inst(c, 'VI_1').notify_master = '/bin/new'), instances: { VI_1: 'updated' }, reasons: { VI_1: ['notify_master'] } },
  {
    name: 'every notify key at once',
    mutate: (c) => {
      Object.assign(inst(c, 'VI_2'), {
        notify: '/bin/n',
        notify_backup: '/bin/b',
        notify_fault: '/bin/f',
        notify_stop: '/bin/s',
        notify_deleted: '/bin/d',
        notify_master_rx_lower_pri: '/bin/l',
        notify_priority_changes: true,
        smtp_alert: true,
      });
    },
    instances: { VI_2: 'updated' },
  },
  { name: 'notify and priority: retuned (the notify is picked up in place too)', mutate: (c) => Object.assign(inst(c, 'VI_1'), { notify_master: '/bin/new', priority: 120 }), instances: { VI_1: 'retuned' }, reasons: { VI_1: ['priority'] } },
  { name: 'virtual_router_id: another virtual router, a restart', mutate: (c) => void (inst(c, 'VI_2').virtual_router_id = 59), instances: { VI_2: 'changed' } },
  { name: 'global vrrp_notify_priority_changes: in place (read at event time)', mutate: (c) => void (c.global = { vrrp_notify_priority_changes: true }) },
  { name: 'global notify_fifo: a note (opened at startup)', mutate: (c) => void (c.global = { notify_fifo: { path: '/run/vk.fifo' } }), notes: [/notify_fifo changed/] },

  // Added / removed.
  {
    name: 'an instance added',
    mutate: (c) => void (c.instances!.VI_3 = { interface: 'eth0', virtual_router_id: 53, virtual_ipaddress: ['10.0.0.103/24'] }),
    instances: { VI_3: 'added' },
  },
  { name: 'an instance removed (#2159: the others stay unchanged)', mutate: (c) => void delete c.instances!.VI_2, instances: { VI_2: 'removed' } },

  // Sync groups restart as a whole.
  {
    name: "a sync-group member's priority: retuned in place; the group and its sibling keep running",
    mutate: (c) => void (inst(c, 'VG_A').priority = 120),
    instances: { VG_A: 'retuned' },
    reasons: { VG_A: ['priority'] },
  },
  {
    name: "a sync-group member's interface: the group and its sibling restart",
    mutate: (c) => void (inst(c, 'VG_A').interface = 'eth4'),
    instances: { VG_A: 'changed', VG_B: 'changed' },
    groups: { G: 'changed' },
    reasons: { VG_A: ['interface'], VG_B: ['sync group G restarts'] },
  },
  { name: 'a sync-group notify script: in place', mutate: (c) => void (c.sync_groups!.G!.notify_master = '/bin/g-new'), groups: { G: 'updated' } },
  {
    name: 'a sync-group tracker',
    mutate: (c) => void (c.sync_groups!.G!.track_interface = ['eth7']),
    instances: { VG_A: 'changed', VG_B: 'changed' },
    groups: { G: 'changed' },
  },
  {
    name: 'a standalone instance joins the group',
    mutate: (c) => void c.sync_groups!.G!.group.push('VI_2'),
    instances: { VI_2: 'changed', VG_A: 'changed', VG_B: 'changed' },
    groups: { G: 'changed' },
    reasons: { VI_2: ['sync group (none) -> G'] },
  },
  {
    name: 'a sync group dissolved: members go standalone',
    mutate: (c) => void delete c.sync_groups!.G,
    instances: { VG_A: 'changed', VG_B: 'changed' },
    groups: { G: 'removed' },
  },
  {
    name: 'a sync-group member removed',
    mutate: (c) => {
      delete c.instances!.VG_B;
      c.sync_groups!.G!.group = ['VG_A'];
    },
    instances: { VG_A: 'changed', VG_B: 'removed' },
    groups: { G: 'changed' },
  },
  {
    name: 'a new sync group of new instances',
    mutate: (c) => {
      c.instances!.VN_1 = { interface: 'eth3', virtual_router_id: 71 };
      c.instances!.VN_2 = { interface: 'eth3', virtual_router_id: 72 };
      c.sync_groups!.H = { group: ['VN_1', 'VN_2'] };
    },
    instances: { VN_1: 'added', VN_2: 'added' },
    groups: { H: 'added' },
  },

  // Unusable new config: classified, the runtime refuses it.
  { name: 'an instance the engine cannot run (AH)', mutate: (c) => void (inst(c, 'VI_2').authentication = { auth_type: 'AH', auth_pass: 'x' }), instances: { VI_2: 'changed' } },
];

function actions(d: VrrpConfigDiff): Record<string, ReloadAction> {
  return Object.fromEntries(d.instances.map((i) => [i.name, i.action]));
}

describe('diffVrrpConfig', () => {
  const prev = parse(base());

  it.each(CASES)('$name', (c) => {
    const next = mutated(c.mutate);
    const d = diffVrrpConfig(prev, next);
    const names = [...new Set([...Object.keys(prev.instances), ...Object.keys(next.instances)])];
    const want = Object.fromEntries(names.map((n) => [n, c.instances?.[n] ?? 'unchanged']));
    expect(actions(d)).toEqual(want);
    const groupNames = [...new Set([...Object.keys(prev.sync_groups), ...Object.keys(next.sync_groups)])];
    expect(Object.fromEntries(d.syncGroups.map((g) => [g.name, g.action]))).toEqual(Object.fromEntries(groupNames.map((g) => [g, c.groups?.[g] ?? 'unchanged'])));
    for (const [n, r] of Object.entries(c.reasons ?? {})) {
      const got = d.instances.find((i) => i.name === n)!.reasons;
      if (r instanceof RegExp) expect(got.join(' ')).toMatch(r);
      else expect(got).toEqual(r);
    }
    for (const i of d.instances) {
      if (i.action === 'unchanged' || i.action === 'added' || i.action === 'removed') expect(i.reasons).toEqual([]);
      else expect(i.reasons.length).toBeGreaterThan(0);
    }
    expect(d.trackers.scripts).toEqual({ ...NONE, ...c.scripts });
    expect(d.trackers.files).toEqual({ ...NONE, ...c.files });
    expect(d.trackers.processes).toEqual(NONE);
    expect(d.notes).toHaveLength(c.notes?.length ?? 0);
    for (const [i, re] of (c.notes ?? []).entries()) expect(d.notes[i]).toMatch(re);
    // Plain data, and never a password.
    expect(structuredClone(d)).toEqual(d);
    expect(JSON.stringify(d)).not.toContain(PASSWORD);
    expect(JSON.stringify(d)).not.toContain('n3w-pass');
  });

  it('a structured clone of the config (as a worker receives it) is unchanged', () => {
    const d = diffVrrpConfig(prev, structuredClone(prev));
    expect(instancesByAction(d)).toEqual({ unchanged: ['VI_1', 'VI_2', 'VG_A', 'VG_B'], updated: [], retuned: [], changed: [], added: [], removed: [] });
  });

  it('lists new-config order first, then removed instances in old order', () => {
    const next = mutated((c) => {
      delete c.instances!.VI_1;
      c.instances!.VI_0 = { interface: 'eth0', virtual_router_id: 50 };
    });
    const d = diffVrrpConfig(prev, next);
    expect(d.instances.map((i) => `${i.name}:${i.action}`)).toEqual(['VI_2:unchanged', 'VG_A:unchanged', 'VG_B:unchanged', 'VI_0:added', 'VI_1:removed']);
    expect(instancesByAction(d)).toMatchObject({ added: ['VI_0'], removed: ['VI_1'] });
    expect(d.instances.find((i) => i.name === 'VG_A')?.syncGroup).toBe('G');
  });

  it('names the resolve error of an unusable instance', () => {
    const d = diffVrrpConfig(prev, mutated((c) => void (inst(c, 'VI_2').authentication = { auth_type: 'AH', auth_pass: 'x' })));
    expect(d.instances.find((i) => i.name === 'VI_2')?.reasons.join(' ')).toMatch(/invalid: .*AH/);
  });
});

describe('sameData', () => {
  it.each([
    [{ a: 1, b: undefined }, { a: 1 }, true],
    [{ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }, true],
    [{ a: [1, 2] }, { a: [2, 1] }, false],
    [[], {}, false],
    [null, undefined, false],
    [NaN, NaN, true],
    ['1', 1, false],
  ])('%j vs %j → %s', (a, b, want) => {
    expect(sameData(a, b)).toBe(want);
  });
});

/**
 * Hitless reload of the VRRP runtime, in-process and in virtual time: two `VrrpRuntime`s on a fake
 * link (the real codec and demultiplexer, a FakeClock, recording address / announce / notify
 * ports, a refcounting address port like src/net/addresses.ts), as at the top of
 * test/vrrp-pair.test.ts. The fake link keeps one wire per interface and records every socket
 * (transport) opened and closed.
 *
 * (The SIGHUP test through the daemon, in namespaces, belongs to the daemon's tests.)
 */
import { describe, expect, it } from 'vitest';
import { ConfigSchema, type Config, type ConfigInput } from '../src/config/schema.js';
import { FakeClock } from '../src/sys/clock.js';
import { createLogger } from '../src/sys/logger.js';
import type { NotifyRequest, RuntimeEvent } from '../src/daemon/vrrp/types.js';
import { REHEARSAL_LEAD_MS, REHEARSAL_MAX_INSTANCES, VrrpRuntime } from '../src/daemon/vrrp/runtime.js';
import { AdvertDemux, StatsTable, advertDestinations, sumDrops, type TransportInstance } from '../src/vrrp/advert-demux.js';
import type { TransportHandlers, TransportStats, VrrpTransport } from '../src/daemon/vrrp/socket.js';

type Op = { at: number; node: string; what: string };

class FakeLink {
  readonly transports: FakeTransport[] = [];
  readonly ops: Op[] = [];
  /** What the receiving sockets report as the kernel's receive age (SO_TIMESTAMPNS). */
  ageMs = 0;
  constructor(
    readonly clock: FakeClock,
    readonly latencyMs = 1,
  ) {}
  op(node: string, what: string): void {
    this.ops.push({ at: this.clock.now(), node, what });
  }
}

/** One socket: the instances of one interface. Packets reach the other nodes' sockets on the same interface. */
class FakeTransport implements VrrpTransport {
  readonly kind = 'raw' as const;
  private readonly demux: AdvertDemux;
  private readonly table = new StatsTable();
  private open_ = false;
  constructor(
    private readonly link: FakeLink,
    readonly node: string,
    private readonly instances: readonly TransportInstance[],
    handlers: TransportHandlers,
    private readonly rehearsed: (what: string) => void = () => undefined,
  ) {
    this.demux = new AdvertDemux(instances, handlers, this.table.of);
  }
  warm(instance: string, priorities: readonly number[]): void {
    this.rehearsed(`encode ${instance} ${priorities.join(',')}`);
  }
  private get iface(): string | undefined {
    return this.instances[0]?.wire.interface;
  }
  private get names(): string {
    return this.instances.map((i) => i.wire.name).join(',');
  }
  async open(): Promise<void> {
    this.open_ = true;
    this.link.transports.push(this);
    this.link.op(this.node, `open ${this.iface} ${this.names}`);
  }
  send(instance: string, priority: number): void {
    const t = this.instances.find((i) => i.wire.name === instance)!;
    this.link.op(this.node, `tx ${instance} ${priority}`);
    if (!this.open_) throw new Error(`send on a closed socket (${this.node} ${instance})`);
    this.table.of(instance).advertsSent++;
    for (const dst of advertDestinations(t.wire)) {
      const msg = this.demux.encode(instance, priority, dst);
      this.link.clock.setTimeout(() => {
        for (const o of this.link.transports) {
          if (o.node !== this.node && o.open_ && o.iface === this.iface) o.demux.dispatch({ data: msg, src: t.srcIp, dst, family: 4, ttl: 255, ifname: this.iface, ageMs: this.link.ageMs });
        }
      }, this.link.latencyMs);
    }
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  stats(): TransportStats {
    return { kind: 'raw', sockets: [`fake:${this.iface}`], ...sumDrops([this.demux]), instances: this.table.snapshot() };
  }
  close(): void {
    if (this.open_) this.link.op(this.node, `close ${this.iface} ${this.names}`);
    this.open_ = false;
  }
}

const PASSWORD = 'sekr1t!x';
type InstanceInput = NonNullable<ConfigInput['instances']>[string];

const VRIDS: Record<string, number> = { VI_1: 51, VI_2: 52, VI_3: 53, VG_A: 61, VG_B: 62 };

/** Instances with test defaults (eth0, 1 s adverts, PASS auth, one VIP 10.0.0.<vrid+49>). */
function config(instances: Record<string, Partial<InstanceInput> & { priority: number }>, top: Partial<ConfigInput> = {}): Config {
  return ConfigSchema.parse({
    ...top,
    instances: Object.fromEntries(
      Object.entries(instances).map(([name, o]) => {
        const vrid = VRIDS[name] ?? 99;
        return [
          name,
          {
            state: 'BACKUP',
            interface: 'eth0',
            virtual_router_id: vrid,
            advert_int: '1s',
            authentication: { auth_type: 'PASS', auth_pass: PASSWORD },
            virtual_ipaddress: [`10.0.0.${vrid + 49}/24`],
            ...o,
          },
        ];
      }),
    ),
  });
}

const PER_STATE: Record<string, string> = {
  MASTER: 'notify_master',
  BACKUP: 'notify_backup',
  FAULT: 'notify_fault',
  STOP: 'notify_stop',
  DELETED: 'notify_deleted',
};

interface Notified extends NotifyRequest {
  at: number;
  /** The per-state script the notifier found through `runtime.config` when called. */
  script: string | undefined;
}

interface Node {
  name: string;
  rt: VrrpRuntime;
  events: RuntimeEvent[];
  notifies: Notified[];
  logLines: string[];
  /** VIP → references held (the kernel has it while > 0). */
  vips: Map<string, number>;
  /** Takeover rehearsals seen by the ports: time and what. */
  rehearsals: { at: number; what: string }[];
}

function node(link: FakeLink, name: string, ip: string, cfg: Config): Node {
  const events: RuntimeEvent[] = [];
  const notifies: Notified[] = [];
  const logLines: string[] = [];
  const vips = new Map<string, number>();
  const rehearsals: Node['rehearsals'] = [];
  const rehearsed = (what: string) => rehearsals.push({ at: link.clock.now(), what });
  const op = (what: string) => link.op(name, what);
  const list = (v: readonly { address: string }[]) => v.map((x) => x.address).join(',');
  const rt: VrrpRuntime = new VrrpRuntime({
    config: cfg,
    clock: link.clock,
    logger: createLogger({ level: 'debug', destination: { write: (l: string) => void logLines.push(l) } }),
    transport: (instances, handlers) => new FakeTransport(link, name, instances, handlers, rehearsed),
    addresses: {
      addVips: async (v) => {
        for (const x of v) vips.set(x.address, (vips.get(x.address) ?? 0) + 1);
        op(`add ${list(v)}`);
      },
      removeVips: async (v) => {
        for (const x of v) {
          const n = (vips.get(x.address) ?? 0) - 1;
          if (n > 0) vips.set(x.address, n);
          else vips.delete(x.address);
        }
        op(`remove ${list(v)}`);
      },
      primaryAddress: async () => ip,
      cleanupStale: async (v) => op(`cleanupStale ${list(v)}`),
      rehearse: (v) => rehearsed(`addresses ${list(v)}`),
    },
    announcer: { announce: async (v, _d, o) => op(`garp ${list(v)} x${o.repeat}`), rehearse: (v) => rehearsed(`frames ${list(v)}`) },
    notifier: {
      notify: (r) => {
        // As src/daemon/vrrp/adapters.ts: scripts are looked up when the notify runs.
        const owner = (r.kind === 'instance' ? rt.config.instances[r.name] : rt.config.sync_groups[r.name]) as Record<string, { command: string } | undefined> | undefined;
        const key = PER_STATE[r.state];
        notifies.push({ ...r, at: link.clock.now(), script: key ? owner?.[key]?.command : undefined });
      },
    },
    onEvent: (e) => events.push(e),
  });
  return { name, rt, events, notifies, logLines, vips, rehearsals };
}

/** A node's side effects from index `from` of the op log (adverts only when priority 0, sockets shown). */
function effects(link: FakeLink, n: Node, from = 0): string[] {
  return link.ops
    .slice(from)
    .filter((o) => o.node === n.name && (!o.what.startsWith('tx ') || o.what.endsWith(' 0')))
    .map((o) => o.what);
}

/** Times of a node's adverts for one instance. */
function advertTimes(link: FakeLink, n: Node, instance: string): number[] {
  return link.ops.filter((o) => o.node === n.name && o.what.startsWith(`tx ${instance} `) && !o.what.endsWith(' 0')).map((o) => o.at);
}

function stateOf(n: Node, instance: string): string | undefined {
  return n.rt.snapshot().instances.find((i) => i.name === instance)?.state;
}

function vipsOf(n: Node): string[] {
  return [...n.vips.keys()].sort();
}

async function pair(cfgA: Config, cfgB: Config, settleMs = 10_000): Promise<{ clock: FakeClock; link: FakeLink; a: Node; b: Node }> {
  const clock = new FakeClock(1000);
  const link = new FakeLink(clock);
  const a = node(link, 'a', '10.0.0.11', cfgA);
  const b = node(link, 'b', '10.0.0.12', cfgB);
  await a.rt.start();
  await b.rt.start();
  await clock.advanceAsync(settleMs);
  return { clock, link, a, b };
}

describe('VrrpRuntime.reload: hitless, in virtual time', () => {
  it('an unchanged MASTER keeps its machine: adverts at exactly their interval, no VIP removal, no GARP, no notify; sockets kept, opened, closed', async () => {
    const { clock, link, a, b } = await pair(config({ VI_1: { priority: 150 } }), config({ VI_1: { priority: 100 } }));
    expect(stateOf(a, 'VI_1')).toBe('MASTER');
    expect(stateOf(b, 'VI_1')).toBe('BACKUP');
    expect(effects(link, a)).toEqual(['cleanupStale 10.0.0.100', 'open eth0 VI_1', 'add 10.0.0.100', 'garp 10.0.0.100 x5', 'garp 10.0.0.100 x5']);
    const sentBefore = a.rt.snapshot().instances[0]!.transport!.advertsSent;

    // Mid-interval: reload with VI_1 untouched, VI_2 added on eth0 (that socket now serves two
    // instances: replaced) and VI_3 on eth1 (a new socket). The config arrives structured-cloned.
    await clock.advanceAsync(400);
    const at = clock.now();
    const mark = link.ops.length;
    const nNotifies = a.notifies.length;
    const bTransitions = b.events.filter((e) => e.type === 'transition').length;
    const next = config({ VI_1: { priority: 150 }, VI_2: { priority: 100 }, VI_3: { priority: 100, interface: 'eth1', virtual_ipaddress: ['10.1.0.102/24'] } });
    const report = await a.rt.reload(structuredClone(next));
    expect(report).toMatchObject({ unchanged: ['VI_1'], updated: [], restarted: [], added: ['VI_2', 'VI_3'], removed: [] });
    expect(clock.now()).toBe(at);
    expect(effects(link, a, mark)).toEqual(['open eth0 VI_1,VI_2', 'open eth1 VI_3', 'cleanupStale 10.0.0.101', 'cleanupStale 10.1.0.102', 'close eth0 VI_1']);

    await clock.advanceAsync(10_000);
    // VI_1: every advert exactly 1 s after the previous one, across the reload.
    const times = advertTimes(link, a, 'VI_1').filter((t) => t > at - 5000);
    expect(times.length).toBeGreaterThanOrEqual(14);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeCloseTo(1000, 6);
    // Nothing else happened to VI_1: no VIP removal, no GARP, no notify; b never moved.
    const after = effects(link, a, mark).join(' | ');
    expect(after).not.toMatch(/remove|10\.0\.0\.100|tx VI_1 0/);
    expect(a.notifies.slice(nNotifies).filter((n) => n.name === 'VI_1')).toEqual([]);
    expect(b.events.filter((e) => e.type === 'transition')).toHaveLength(bTransitions);
    expect(stateOf(a, 'VI_1')).toBe('MASTER');
    expect(stateOf(b, 'VI_1')).toBe('BACKUP');
    // The new instances run (alone on their VRIDs: a takes them over).
    expect(stateOf(a, 'VI_2')).toBe('MASTER');
    expect(stateOf(a, 'VI_3')).toBe('MASTER');
    expect(vipsOf(a)).toEqual(['10.0.0.100', '10.0.0.101', '10.1.0.102']);
    // Counters carry over the replaced socket.
    const snap = a.rt.snapshot();
    expect(snap.instances.map((i) => i.name)).toEqual(['VI_1', 'VI_2', 'VI_3']);
    expect(snap.instances[0]!.transport!.advertsSent).toBeGreaterThan(sentBefore + 9);
    expect(snap.transport?.sockets.sort()).toEqual(['fake:eth0', 'fake:eth1']);

    // Removing VI_3 closes only the eth1 socket; the eth0 one (same instances) is kept.
    const mark2 = link.ops.length;
    const r2 = await a.rt.reload(config({ VI_1: { priority: 150 }, VI_2: { priority: 100 } }));
    expect(r2).toMatchObject({ unchanged: ['VI_1', 'VI_2'], removed: ['VI_3'] });
    expect(effects(link, a, mark2)).toEqual(['tx VI_3 0', 'remove 10.1.0.102', 'close eth1 VI_3']);
    expect(vipsOf(a)).toEqual(['10.0.0.100', '10.0.0.101']);

    // The reload is logged with its report, and no log line carries the password.
    const logged = a.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => o.msg === 'VRRP config reloaded');
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatchObject({ unchanged: ['VI_1'], added: ['VI_2', 'VI_3'], removed: [] });
    expect(a.events.filter((e) => e.type === 'reloaded')).toHaveLength(2);
    expect(a.logLines.join('')).not.toContain(PASSWORD);
    await a.rt.stop();
    await b.rt.stop();
  });

  it('removing one of two MASTER instances releases only its VIPs; a VIP shared with the other stays (keepalived #2159)', async () => {
    const shared = '10.0.0.200/24';
    const both = (p: number, extra: Partial<InstanceInput> = {}) =>
      config({
        VI_1: { priority: p, virtual_ipaddress: ['10.0.0.100/24', shared] },
        VI_2: { priority: p, virtual_ipaddress: ['10.0.0.101/24', shared], ...extra },
      });
    const { clock, link, a, b } = await pair(both(150, { notify_deleted: '/bin/deleted', notify_stop: '/bin/stop' }), both(100));
    expect([stateOf(a, 'VI_1'), stateOf(a, 'VI_2')]).toEqual(['MASTER', 'MASTER']);
    expect(vipsOf(a)).toEqual(['10.0.0.100', '10.0.0.101', '10.0.0.200']);
    expect(a.vips.get('10.0.0.200')).toBe(2);

    const mark = link.ops.length;
    const nNotifies = a.notifies.length;
    const t0 = clock.now();
    const report = await a.rt.reload(config({ VI_1: { priority: 150, virtual_ipaddress: ['10.0.0.100/24', shared] } }));
    expect(report).toMatchObject({ unchanged: ['VI_1'], removed: ['VI_2'], restarted: [], added: [] });
    // The new socket (VI_1 only) opens before anything stops; VI_2 alone sends priority 0 (out of
    // the old socket) and releases its own VIP batch; then the old socket closes.
    expect(effects(link, a, mark)).toEqual(['open eth0 VI_1', 'tx VI_2 0', 'remove 10.0.0.101,10.0.0.200', 'close eth0 VI_1,VI_2']);
    // The shared VIP is still held by VI_1: only .101 left the kernel.
    expect(vipsOf(a)).toEqual(['10.0.0.100', '10.0.0.200']);
    expect(a.vips.get('10.0.0.200')).toBe(1);
    // notify_deleted (not notify_stop), found in the old config although the instance is gone now.
    expect(a.notifies.slice(nNotifies)).toEqual([{ kind: 'instance', name: 'VI_2', state: 'DELETED', priority: 150, at: t0, script: '/bin/deleted' }]);
    expect(a.rt.instanceNames).toEqual(['VI_1']);

    // b's VI_2 takes over after Skew_Time; VI_1 does not move anywhere.
    await clock.advanceAsync(5000);
    expect(stateOf(b, 'VI_2')).toBe('MASTER');
    expect(stateOf(b, 'VI_1')).toBe('BACKUP');
    expect(stateOf(a, 'VI_1')).toBe('MASTER');
    const bMaster = b.events.find((e) => e.type === 'transition' && e.instance === 'VI_2' && e.to === 'MASTER');
    expect(bMaster).toMatchObject({ reason: expect.stringMatching(/sent priority 0/) });
    expect((bMaster as { at: number }).at - t0).toBeCloseTo(1 + 609.375, 3);
    expect(effects(link, a, mark).filter((w) => /10\.0\.0\.100/.test(w))).toEqual([]);
    await a.rt.stop();
    await b.rt.stop();
  });

  it('a priority change is applied in place: the MASTER keeps its VIPs; lowered below the peer, the protocol hands over exactly once', async () => {
    const { clock, link, a, b } = await pair(config({ VI_1: { priority: 150, notify_stop: '/bin/stop' }, VI_2: { priority: 150 } }), config({ VI_1: { priority: 100 }, VI_2: { priority: 100 } }));
    expect(stateOf(a, 'VI_1')).toBe('MASTER');
    const mark = link.ops.length;
    const nNotifies = a.notifies.length;
    const v2Before = advertTimes(link, a, 'VI_2').length;
    const transitions = (n: { events: RuntimeEvent[] }, inst: string) =>
      n.events.filter((e) => e.type === 'transition' && e.instance === inst).map((e) => (e as { to: string }).to);
    const aBefore = transitions(a, 'VI_1').length;
    const bBefore = transitions(b, 'VI_1').length;

    // A tweak that keeps a the highest: nothing moves but the advertised priority.
    const r0 = await a.rt.reload(config({ VI_1: { priority: 140, notify_stop: '/bin/stop' }, VI_2: { priority: 150 } }));
    expect(r0).toMatchObject({ unchanged: ['VI_2'], retuned: ['VI_1'], restarted: [], reasons: { VI_1: ['priority'] } });
    // (VI_1's codec expectations carry its priority, so the shared socket is swapped; VI_2 keeps going.)
    expect(effects(link, a, mark)).toEqual(['open eth0 VI_1,VI_2', 'close eth0 VI_1,VI_2']);
    await clock.advanceAsync(3000);
    expect(a.rt.snapshot().instances[0]).toMatchObject({ name: 'VI_1', state: 'MASTER', basePriority: 140, vipsSet: true });
    expect(b.rt.snapshot().instances[0]?.masterSeen).toMatchObject({ ip: '10.0.0.11', priority: 140 });
    expect(transitions(a, 'VI_1')).toHaveLength(aBefore);
    expect(transitions(b, 'VI_1')).toHaveLength(bBefore);
    expect(a.notifies.slice(nNotifies)).toEqual([]);

    // Lowered below b: no priority 0, no stop; b stops hearing a master worth following, takes
    // over after its down timer, and a yields to b's higher-priority advert. One handover.
    const mark1 = link.ops.length;
    const r1 = await a.rt.reload(config({ VI_1: { priority: 50, notify_stop: '/bin/stop' }, VI_2: { priority: 150 } }));
    expect(r1).toMatchObject({ retuned: ['VI_1'], restarted: [] });
    await clock.advanceAsync(6000);
    expect(stateOf(b, 'VI_1')).toBe('MASTER');
    expect(stateOf(a, 'VI_1')).toBe('BACKUP');
    expect(transitions(a, 'VI_1').slice(aBefore)).toEqual(['BACKUP']);
    expect(transitions(b, 'VI_1').slice(bBefore)).toEqual(['MASTER']);
    const aOps = effects(link, a, mark1);
    expect(aOps).not.toContain('tx VI_1 0');
    expect(aOps.filter((o) => o.startsWith('remove'))).toEqual(['remove 10.0.0.100']);
    expect(a.notifies.slice(nNotifies).map((n) => `${n.name} ${n.state}`)).toEqual(['VI_1 BACKUP']);
    expect(a.rt.snapshot().instances[0]?.masterSeen).toMatchObject({ ip: '10.0.0.12', priority: 100 });

    // Raised above b: a discards b's lower-priority adverts and preempts it when its down timer
    // (moved by the change of skew, not restarted) expires.
    const t1 = clock.now();
    const r2 = await a.rt.reload(config({ VI_1: { priority: 200 }, VI_2: { priority: 150 } }));
    expect(r2).toMatchObject({ retuned: ['VI_1'], reasons: { VI_1: expect.arrayContaining(['priority']) } });
    await clock.advanceAsync(5000);
    expect(stateOf(a, 'VI_1')).toBe('MASTER');
    expect(stateOf(b, 'VI_1')).toBe('BACKUP');
    const aMaster = a.events.filter((e) => e.type === 'transition' && e.instance === 'VI_1' && e.to === 'MASTER').at(-1) as { at: number; reason: string };
    expect(aMaster.reason).toMatch(/preempted lower-priority master 10\.0\.0\.12/);
    expect(aMaster.at - t1).toBeLessThanOrEqual(3218.75 + 1e-6);
    // VI_2 was never touched: MASTER all along, adverts at 1 s.
    const v2 = advertTimes(link, a, 'VI_2').slice(v2Before - 1);
    for (let i = 1; i < v2.length; i++) expect(v2[i]! - v2[i - 1]!).toBeCloseTo(1000, 6);
    expect(transitions(a, 'VI_2')).toEqual(['BACKUP', 'MASTER']);
    await a.rt.stop();
    await b.rt.stop();
  });

  it('a VIP list edit on the MASTER adds the new VIP and removes the dropped one, the rest untouched', async () => {
    const { clock, link, a, b } = await pair(
      config({ VI_1: { priority: 150, virtual_ipaddress: ['10.0.0.100/24', '10.0.0.101/24'] } }),
      config({ VI_1: { priority: 100, virtual_ipaddress: ['10.0.0.100/24', '10.0.0.101/24'] } }),
    );
    expect(stateOf(a, 'VI_1')).toBe('MASTER');
    const mark = link.ops.length;
    const r = await a.rt.reload(config({ VI_1: { priority: 150, virtual_ipaddress: ['10.0.0.100/24', '10.0.0.102/24'] } }));
    expect(r).toMatchObject({ retuned: ['VI_1'], reasons: { VI_1: ['virtual_ipaddress'] } });
    await clock.advanceAsync(100);
    const ops = effects(link, a, mark).filter((o) => !o.startsWith('open') && !o.startsWith('close'));
    expect(ops.filter((o) => !o.startsWith('tx '))).toEqual(['remove 10.0.0.101', 'add 10.0.0.102', 'garp 10.0.0.102 x5']);
    expect(a.rt.snapshot().instances[0]).toMatchObject({ state: 'MASTER', vips: ['10.0.0.100/24', '10.0.0.102/24'], vipsSet: true });
    await a.rt.stop();
    await b.rt.stop();
  });

  it('an added instance starts and is elected on both nodes', async () => {
    const { clock, link, a, b } = await pair(config({ VI_1: { priority: 150 } }), config({ VI_1: { priority: 100 } }));
    const markA = link.ops.length;
    const ra = await a.rt.reload(config({ VI_1: { priority: 150 }, VI_2: { priority: 100, notify_backup: '/bin/backup-v2' } }));
    const rb = await b.rt.reload(config({ VI_1: { priority: 100 }, VI_2: { priority: 200, notify_master: '/bin/master-v2' } }));
    expect(ra).toMatchObject({ unchanged: ['VI_1'], added: ['VI_2'] });
    expect(rb).toMatchObject({ unchanged: ['VI_1'], added: ['VI_2'] });
    // The new instance's notify runs with the new config's scripts.
    expect(a.notifies.filter((n) => n.name === 'VI_2')).toMatchObject([{ state: 'BACKUP', script: '/bin/backup-v2' }]);
    await clock.advanceAsync(5000);
    expect(stateOf(b, 'VI_2')).toBe('MASTER');
    expect(stateOf(a, 'VI_2')).toBe('BACKUP');
    expect(stateOf(a, 'VI_1')).toBe('MASTER');
    expect(stateOf(b, 'VI_1')).toBe('BACKUP');
    expect(b.notifies.filter((n) => n.name === 'VI_2').map((n) => `${n.state} ${n.script ?? '-'}`)).toEqual(['BACKUP -', 'MASTER /bin/master-v2']);
    expect(vipsOf(b)).toEqual(['10.0.0.101']);
    expect(effects(link, a, markA).filter((w) => !w.startsWith('open') && !w.startsWith('close'))).toEqual(['cleanupStale 10.0.0.101']);
    await a.rt.stop();
    await b.rt.stop();
  });

  it('a notify-script change applies in place, without a restart', async () => {
    const { clock, link, a, b } = await pair(
      config({ VI_1: { priority: 150, notify_master: '/bin/old-master' } }),
      config({ VI_1: { priority: 100 } }),
    );
    expect(a.notifies.at(-1)).toMatchObject({ name: 'VI_1', state: 'MASTER', script: '/bin/old-master' });
    const mark = link.ops.length;
    const nNotifies = a.notifies.length;
    const r = await a.rt.reload(config({ VI_1: { priority: 150, notify_master: '/bin/new-master', notify_backup: '/bin/new-backup' } }));
    expect(r).toMatchObject({ unchanged: [], updated: ['VI_1'], restarted: [], reasons: { VI_1: ['notify_master', 'notify_backup'] } });
    expect(effects(link, a, mark)).toEqual([]);
    expect(a.notifies.length).toBe(nNotifies);
    expect(stateOf(a, 'VI_1')).toBe('MASTER');

    // The next transitions run the new scripts.
    a.rt.command('VI_1', 'stepDown');
    await clock.advanceAsync(3000);
    b.rt.command('VI_1', 'stepDown');
    await clock.advanceAsync(3000);
    expect(stateOf(a, 'VI_1')).toBe('MASTER');
    expect(a.notifies.slice(nNotifies).map((n) => `${n.state} ${n.script}`)).toEqual(['BACKUP /bin/new-backup', 'MASTER /bin/new-master']);
    await a.rt.stop();
    await b.rt.stop();
  });

  it('a sync group keeps running when a member is retuned, restarts as a whole when a member becomes another router; a lone instance beside it is untouched', async () => {
    const groupCfg = (pa: number, top: Partial<ConfigInput> = {}, vridA?: number) =>
      config(
        {
          VI_1: { priority: 150 },
          VG_A: { priority: pa, interface: 'eth1', virtual_ipaddress: ['10.1.0.110/24'], ...(vridA ? { virtual_router_id: vridA } : {}) },
          VG_B: { priority: 150, interface: 'eth1', virtual_ipaddress: ['10.1.0.111/24'] },
        },
        { sync_groups: { G: { group: ['VG_A', 'VG_B'], notify_stop: '/bin/g-stop' } }, ...top },
      );
    const { clock, link, a, b } = await pair(groupCfg(150), config({ VI_1: { priority: 100 } }));
    expect(a.rt.snapshot().syncGroups).toEqual([{ name: 'G', state: 'MASTER', members: ['VG_A', 'VG_B'] }]);
    const mark = link.ops.length;
    const nNotifies = a.notifies.length;
    // A member's priority: in place, the group keeps running (no notify, no VIP touched).
    const r0 = await a.rt.reload(groupCfg(140));
    expect(r0).toMatchObject({ unchanged: ['VI_1', 'VG_B'], retuned: ['VG_A'], restarted: [], syncGroups: { unchanged: ['G'] } });
    expect(effects(link, a, mark).filter((o) => !o.startsWith('open') && !o.startsWith('close'))).toEqual([]);
    expect(a.notifies.slice(nNotifies)).toEqual([]);
    expect(a.rt.snapshot().syncGroups).toEqual([{ name: 'G', state: 'MASTER', members: ['VG_A', 'VG_B'] }]);
    // A member changes what identifies it (its VRID): the group restarts as a whole.
    const mark2 = link.ops.length;
    const r = await a.rt.reload(groupCfg(140, {}, 63));
    expect(r).toMatchObject({ unchanged: ['VI_1'], restarted: ['VG_A', 'VG_B'], syncGroups: { restarted: ['G'] }, reasons: { VG_A: ['virtual_router_id'], VG_B: ['sync group G restarts'] } });
    expect(effects(link, a, mark2)).toEqual([
      'open eth1 VG_A,VG_B',
      'tx VG_A 0',
      'tx VG_B 0',
      'remove 10.1.0.110',
      'remove 10.1.0.111',
      'close eth1 VG_A,VG_B',
    ]);
    // Group STOP (old config's script) comes after the members' STOPs, before anything new.
    expect(a.notifies.slice(nNotifies).map((n) => `${n.kind} ${n.name} ${n.state}${n.script ? ` ${n.script}` : ''}`)).toEqual([
      'instance VG_A STOP',
      'instance VG_B STOP',
      'group G STOP /bin/g-stop',
      'instance VG_A BACKUP',
      'instance VG_B BACKUP',
      'group G BACKUP',
    ]);
    await clock.advanceAsync(5000);
    expect(a.rt.snapshot().syncGroups).toEqual([{ name: 'G', state: 'MASTER', members: ['VG_A', 'VG_B'] }]);
    expect(stateOf(a, 'VI_1')).toBe('MASTER');
    expect(b.events.filter((e) => e.type === 'transition').map((e) => (e as { to: string }).to)).toEqual(['BACKUP']);
    // Only a notify change on the group: in place.
    const r2 = await a.rt.reload(groupCfg(140, { sync_groups: { G: { group: ['VG_A', 'VG_B'], notify_stop: '/bin/g-stop2' } } }, 63));
    expect(r2).toMatchObject({ unchanged: ['VI_1', 'VG_A', 'VG_B'], syncGroups: { updated: ['G'] } });
    await a.rt.stop();
    expect(a.notifies.filter((n) => n.kind === 'group').at(-1)).toMatchObject({ name: 'G', state: 'STOP', script: '/bin/g-stop2' });
    await b.rt.stop();
  });

  it('a config the engine cannot run is refused and nothing changes; the request form answers with the report', async () => {
    const { clock, link, a, b } = await pair(config({ VI_1: { priority: 150 } }), config({ VI_1: { priority: 100 } }));
    const before = a.rt.config;
    const mark = link.ops.length;
    const bad = config({ VI_1: { priority: 120, authentication: { auth_type: 'AH', auth_pass: 'x' } }, VI_2: { priority: 100 } });
    await expect(a.rt.reload(bad)).rejects.toThrow(/AH/);
    expect(await a.rt.handleRequest({ type: 'reload', config: structuredClone(bad) })).toEqual({ ok: false, error: expect.stringMatching(/AH/) });
    expect(a.rt.config).toBe(before);
    expect(effects(link, a, mark)).toEqual([]);
    expect(a.rt.instanceNames).toEqual(['VI_1']);
    expect(a.logLines.some((l) => l.includes('VRRP reload refused'))).toBe(true);
    await clock.advanceAsync(2000);
    expect(stateOf(a, 'VI_1')).toBe('MASTER');

    // A valid one goes through the plain-data request; the answer survives structured cloning.
    const res = await a.rt.handleRequest({ type: 'reload', config: structuredClone(config({ VI_1: { priority: 150 }, VI_2: { priority: 100 } })) });
    expect(res).toMatchObject({ ok: true, report: { unchanged: ['VI_1'], added: ['VI_2'] } });
    expect(structuredClone(res)).toEqual(res);
    expect(a.rt.config.instances.VI_2).toBeDefined();
    // Fire-and-forget form (like 'stop').
    expect(a.rt.handleMessage({ type: 'reload', config: config({ VI_1: { priority: 150 } }) })).toEqual({ ok: true });
    await clock.advanceAsync(10);
    expect(a.rt.instanceNames).toEqual(['VI_1']);

    await a.rt.stop();
    await expect(a.rt.reload(config({ VI_1: { priority: 150 } }))).rejects.toThrow(/not running/);
    await b.rt.stop();
  });
});

describe('VrrpRuntime: takeover rehearsal', () => {
  it('a BACKUP rehearses its takeover REHEARSAL_LEAD_MS before its timer, once, sending nothing; never while the master is heard', async () => {
    const { clock, link, a, b } = await pair(config({ VI_1: { priority: 150 } }), config({ VI_1: { priority: 100 } }));
    expect(stateOf(b, 'VI_1')).toBe('BACKUP');
    // 10 s of adverts from a: b's Master_Down timer moved with each one and never came close
    // (the start-up warm-up encodes once; that is all). a, started as BACKUP, rehearsed before
    // its own Master_Down takeover at start-up, and never as MASTER.
    expect(b.rehearsals.map((r) => r.what)).toEqual(['encode VI_1 100,0']);
    expect(a.rehearsals.map((r) => r.what)).toEqual(['encode VI_1 150,0', 'encode VI_1 150', 'addresses 10.0.0.100', 'frames 10.0.0.100']);
    const mark = link.ops.length;
    const since = clock.now();
    await a.rt.stop();
    await clock.advanceAsync(2000);
    expect(stateOf(b, 'VI_1')).toBe('MASTER');
    const takeover = link.ops.slice(mark).find((o) => o.node === 'b' && o.what === 'tx VI_1 100')!.at;
    const seen = b.rehearsals.filter((r) => r.at >= since);
    expect(seen).toEqual([
      { at: takeover - REHEARSAL_LEAD_MS, what: 'encode VI_1 100' },
      { at: takeover - REHEARSAL_LEAD_MS, what: 'addresses 10.0.0.100' },
      { at: takeover - REHEARSAL_LEAD_MS, what: 'frames 10.0.0.100' },
    ]);
    // nothing left b between the rehearsal and the takeover
    expect(link.ops.slice(mark).filter((o) => o.node === 'b' && o.at >= takeover - REHEARSAL_LEAD_MS && o.at < takeover)).toEqual([]);
    await b.rt.stop();
  });

  it('backups due together: only REHEARSAL_MAX_INSTANCES of them are rehearsed, then all take over', async () => {
    const three = (p: number) => config({ VI_1: { priority: p }, VI_2: { priority: p }, VI_3: { priority: p } });
    const { clock, a, b } = await pair(three(150), three(100));
    const since = clock.now();
    await a.rt.stop();
    await clock.advanceAsync(2000);
    for (const i of ['VI_1', 'VI_2', 'VI_3']) expect(stateOf(b, i)).toBe('MASTER');
    const rehearsed = new Set(b.rehearsals.filter((r) => r.at >= since && r.what.startsWith('encode')).map((r) => r.what.split(' ')[1]));
    expect(rehearsed.size).toBe(REHEARSAL_MAX_INSTANCES);
    await b.rt.stop();
  });

  it('an advert is dated at its kernel receive time: the Skew_Time after a priority-0 advert runs from its arrival', async () => {
    const takeoverAfterStop = async (ageMs: number): Promise<number> => {
      const { clock, link, a, b } = await pair(config({ VI_1: { priority: 150 } }), config({ VI_1: { priority: 100 } }));
      link.ageMs = ageMs;
      const mark = link.ops.length;
      await a.rt.stop();
      const p0 = link.ops.slice(mark).find((o) => o.node === 'a' && o.what === 'tx VI_1 0')!.at;
      await clock.advanceAsync(2000);
      const takeover = link.ops.slice(mark).find((o) => o.node === 'b' && o.what === 'tx VI_1 100')!.at;
      await b.rt.stop();
      return takeover - p0;
    };
    const plain = await takeoverAfterStop(0);
    const dated = await takeoverAfterStop(0.4);
    expect(plain).toBeCloseTo(1 + (256 - 100) * 1000 / 256, 6); // link latency + Skew_Time (VRRPv2, 1 s)
    expect(dated).toBeCloseTo(plain - 0.4, 6);
  });
});

/**
 * Two `vipkeeper run` daemons as a director pair, in network namespaces laid out like the shared
 * lab (a bridge with d1, d2 and a client), over the real raw-socket transport:
 *
 * - election with VRRPv2 at 1 s (keepalived.conf syntax): the higher priority holds the VIP;
 * - VRRPv3 at 100 ms (YAML): crash of the MASTER (SIGSTOP + SIGKILL) → the BACKUP takes the VIP
 *   because its down timer ran out (its stated reason) and the client's ARP entry moves to its
 *   MAC; the higher priority preempts back when it returns; SIGTERM → a priority-0 advert (seen by
 *   tshark in the client namespace) and a takeover for that reason; `nopreempt` stays put;
 *   (how long each takeover takes is measured against keepalived by bench/failover, not here;
 *   the exact timer values are checked in virtual time above and in src/vrrp);
 * - VRRPv3 over IPv6 (link-local sources, kernel checksum) and the vipkeeper-only UDP transport.
 *
 * Needs root, `ip netns`, the native addon and tshark; without them it FAILS (never skips).
 * Everything runs in namespaces this file creates; they are deleted in afterAll, also on failure.
 *
 * First, the same pair in-process and in virtual time: two `VrrpRuntime`s on a fake link (the real
 * codec and demultiplexer, a FakeClock, recording address/announce/notify ports), which checks the
 * driver's ordering, batches, commands, trackers, snapshot and log redaction exactly.
 */
import { describe, expect, it } from 'vitest';
import { ConfigSchema, type Config, type ConfigInput } from '../src/config/schema.js';
import { FakeClock } from '../src/sys/clock.js';
import { createLogger } from '../src/sys/logger.js';
import type { NotifyRequest, RuntimeEvent } from '../src/daemon/vrrp/types.js';
import { VrrpRuntime } from '../src/daemon/vrrp/runtime.js';
import { AdvertDemux, StatsTable, advertDestinations, sumDrops, type TransportInstance } from '../src/vrrp/advert-demux.js';
import type { TransportHandlers, TransportStats, VrrpTransport } from '../src/daemon/vrrp/socket.js';
import { requireNativeAddon, requireNetnsRoot, requireTshark } from './helpers/netns.js';
import { usePair } from './helpers/pair.js';
import { hasVip, neighMac, primeArp, sleep, waitFor, type VipkeeperProc } from './helpers/vipkeeper-proc.js';

const PREFIX = '10.61.0';
const VIP = `${PREFIX}.100`;
const INSTANCE = 'VI_PAIR';

/** Master_Down_Interval at advert_int 100 ms, priority 100 (the backup): 360.9 ms. Used only to size waits. */
const V3_MASTER_DOWN_MS = 361;

function yamlConf(o: { state: 'MASTER' | 'BACKUP'; priority: number; nopreempt?: boolean }): string {
  return [
    'global:',
    '  vrrp_version: 3',
    'instances:',
    `  ${INSTANCE}:`,
    `    state: ${o.state}`,
    '    interface: eth0',
    '    virtual_router_id: 61',
    `    priority: ${o.priority}`,
    '    advert_int: 100ms',
    ...(o.nopreempt ? ['    nopreempt: true'] : []),
    '    virtual_ipaddress:',
    `      - ${VIP}/24 dev eth0`,
    '',
  ].join('\n');
}

function keepalivedV2Conf(o: { state: 'MASTER' | 'BACKUP'; priority: number }): string {
  return `global_defs {
    router_id pair_test
    vrrp_version 2
}

vrrp_instance ${INSTANCE} {
    state ${o.state}
    interface eth0
    virtual_router_id 61
    priority ${o.priority}
    advert_int 1
    virtual_ipaddress {
        ${VIP}/24 dev eth0
    }
}
`;
}


// ------------------------------------------------------------------------------------------------
// In-process pair on a fake link

type Op = { at: number; node: string; what: string };

class FakeLink {
  readonly transports: FakeTransport[] = [];
  constructor(
    readonly clock: FakeClock,
    readonly ops: Op[],
    readonly latencyMs = 1,
  ) {}
}

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
  ) {
    this.demux = new AdvertDemux(instances, handlers, this.table.of);
  }
  async open(): Promise<void> {
    this.open_ = true;
    this.link.transports.push(this);
  }
  send(instance: string, priority: number): void {
    const t = this.instances.find((i) => i.wire.name === instance)!;
    this.table.of(instance).advertsSent++;
    this.link.ops.push({ at: this.link.clock.now(), node: this.node, what: `tx ${priority}` });
    for (const dst of advertDestinations(t.wire)) {
      const msg = this.demux.encode(instance, priority, dst);
      this.link.clock.setTimeout(() => {
        for (const o of this.link.transports) if (o !== this && o.open_) o.demux.dispatch({ data: msg, src: t.srcIp, dst, family: 4, ttl: 255, ifname: 'eth0' });
      }, this.link.latencyMs);
    }
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  stats(): TransportStats {
    return { kind: 'raw', sockets: ['fake'], ...sumDrops([this.demux]), instances: this.table.snapshot() };
  }
  close(): void {
    this.open_ = false;
  }
}

const FAKE_PASSWORD = 'sekr1t!x';

function fakeConfig(priority: number, extra: Partial<NonNullable<ConfigInput['instances']>[string]> = {}, top: Partial<ConfigInput> = {}): Config {
  return ConfigSchema.parse({
    ...top,
    instances: {
      VI_1: {
        state: 'BACKUP',
        interface: 'eth0',
        virtual_router_id: 51,
        priority,
        advert_int: '1s',
        authentication: { auth_type: 'PASS', auth_pass: FAKE_PASSWORD },
        virtual_ipaddress: ['10.0.0.100/24'],
        ...extra,
      },
    },
  });
}

interface FakeNode {
  rt: VrrpRuntime;
  events: RuntimeEvent[];
  notifies: NotifyRequest[];
  logLines: string[];
}

function fakeNode(link: FakeLink, node: string, ip: string, config: Config, opts: { addError?: () => string | undefined; noSource?: 'no-interface' | 'no-address' } = {}): FakeNode {
  const events: RuntimeEvent[] = [];
  const notifies: NotifyRequest[] = [];
  const logLines: string[] = [];
  const op = (what: string) => link.ops.push({ at: link.clock.now(), node, what });
  const rt = new VrrpRuntime({
    config,
    clock: link.clock,
    logger: createLogger({ level: 'trace', destination: { write: (l: string) => void logLines.push(l) } }),
    transport: (instances, handlers) => new FakeTransport(link, node, instances, handlers),
    addresses: {
      addVips: async (vips) => {
        op(`add ${vips.map((v) => v.address).join(',')}`);
        const err = opts.addError?.();
        if (err) throw new Error(err);
      },
      removeVips: async (vips) => op(`remove ${vips.map((v) => v.address).join(',')}`),
      primaryAddress: async () => (opts.noSource ? undefined : ip),
      interfaceExists: async () => opts.noSource !== 'no-interface',
      cleanupStale: async () => op('cleanupStale'),
    },
    announcer: { announce: async (_v, _d, o) => op(`garp x${o.repeat}`) },
    notifier: { notify: (r) => void notifies.push(r) },
    onEvent: (e) => events.push(e),
  });
  return { rt, events, notifies, logLines };
}

/** One node's side effects in order (adverts only when priority 0). */
const opsOf = (ops: Op[], node: string) => ops.filter((o) => o.node === node && (!o.what.startsWith('tx ') || o.what === 'tx 0')).map((o) => o.what);

describe('VrrpRuntime driver: an in-process pair in virtual time', () => {
  it('elects, orders advert → VIPs → GARP → notify, hands over with priority 0 on stop', async () => {
    const clock = new FakeClock(1000);
    const ops: Op[] = [];
    const link = new FakeLink(clock, ops);
    const a = fakeNode(link, 'a', '10.0.0.11', fakeConfig(150));
    const b = fakeNode(link, 'b', '10.0.0.12', fakeConfig(100));
    await a.rt.start();
    await b.rt.start();
    await clock.advanceAsync(5000);
    expect(a.rt.snapshot().instances[0]).toMatchObject({ state: 'MASTER', basePriority: 150, effectivePriority: 150, vipsSet: true });
    expect(b.rt.snapshot().instances[0]).toMatchObject({ state: 'BACKUP', masterSeen: { ip: '10.0.0.11', priority: 150 } });
    // a: takes over after Master_Down_Interval (3 × 1 s + skew 414.062 ms at priority 150).
    const becameMaster = a.events.find((e) => e.type === 'transition' && e.to === 'MASTER');
    expect(becameMaster).toMatchObject({ at: 1000 + 3414.062, instance: 'VI_1', vrid: 51, from: 'BACKUP' });
    // The first advert precedes the VIP batch, then the GARP burst and the notify.
    const i = ops.findIndex((o) => o.node === 'a' && o.what.startsWith('add'));
    expect(ops[i - 1]).toMatchObject({ node: 'a', what: 'tx 150', at: 4414.062 });
    expect(opsOf(ops, 'a')).toEqual(['cleanupStale', 'add 10.0.0.100', 'garp x5']);
    expect(opsOf(ops, 'b')).toEqual(['cleanupStale']);
    expect(a.notifies).toEqual([
      { kind: 'instance', name: 'VI_1', state: 'BACKUP', priority: 150 },
      { kind: 'instance', name: 'VI_1', state: 'MASTER', priority: 150 },
    ]);
    // Second GARP burst after garp_master_delay (5 s).
    await clock.advanceAsync(5000);
    expect(opsOf(ops, 'a')).toEqual(['cleanupStale', 'add 10.0.0.100', 'garp x5', 'garp x5']);

    // Stop a: priority 0, VIPs removed, notify STOP; b takes over after Skew_Time (609 ms).
    const tStop = clock.now();
    await a.rt.stop();
    expect(opsOf(ops, 'a').slice(-2)).toEqual(['tx 0', 'remove 10.0.0.100']);
    expect(a.notifies.at(-1)).toEqual({ kind: 'instance', name: 'VI_1', state: 'STOP', priority: 150 });
    expect(a.events.at(-1)).toMatchObject({ type: 'stopped' });
    await clock.advanceAsync(1000);
    const bMaster = b.events.find((e) => e.type === 'transition' && e.to === 'MASTER');
    expect(bMaster).toMatchObject({ reason: expect.stringMatching(/sent priority 0/) });
    expect((bMaster as { at: number }).at - tStop).toBeCloseTo(1 + 609.375, 3);
    expect(opsOf(ops, 'b')).toEqual(['cleanupStale', 'add 10.0.0.100', 'garp x5']);

    // The password never reaches a log line, not even at trace level.
    expect([...a.logLines, ...b.logLines].join('')).not.toContain(FAKE_PASSWORD);
    // Transitions are logged with stable fields.
    const t = a.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((o) => o.to === 'MASTER');
    expect(t).toMatchObject({ instance: 'VI_1', vrid: 51, from: 'BACKUP', to: 'MASTER', reason: expect.any(String) });
    await b.rt.stop();
  });

  it('a missing interface is named as missing ("no interface eth0"), an interface without an address as such', async () => {
    const clock = new FakeClock(1000);
    const link = new FakeLink(clock, []);
    const gone = fakeNode(link, 'a', '10.0.0.11', fakeConfig(150), { noSource: 'no-interface' });
    await expect(gone.rt.start()).rejects.toThrow(/^Instance "VI_1": no interface eth0 on this host/);
    const bare = fakeNode(link, 'b', '10.0.0.12', fakeConfig(100), { noSource: 'no-address' });
    await expect(bare.rt.start()).rejects.toThrow(/interface eth0 has no IPv4 address to send adverts from/);
  });

  it('a MASTER whose VIPs cannot be added goes to FAULT (the peer takes over), retries with backoff, and recovers once the cause is fixed', async () => {
    const clock = new FakeClock(1000);
    const ops: Op[] = [];
    const link = new FakeLink(clock, ops);
    let broken = true;
    const a = fakeNode(link, 'a', '10.0.0.11', fakeConfig(150), { addError: () => (broken ? 'addr add 10.0.0.100/24 dev vk-missing: no interface vk-missing' : undefined) });
    const b = fakeNode(link, 'b', '10.0.0.12', fakeConfig(100));
    await a.rt.start();
    await b.rt.start();
    await clock.advanceAsync(5000);
    // a won the election, could not add its VIPs, and handed over with priority 0 at once.
    expect(opsOf(ops, 'a')).toEqual(['cleanupStale', 'add 10.0.0.100', 'tx 0', 'remove 10.0.0.100']);
    expect(a.rt.snapshot().instances[0]).toMatchObject({ state: 'FAULT', vipsSet: false, vipError: expect.stringMatching(/no interface vk-missing/), tracking: { fault: true } });
    expect(b.rt.snapshot().instances[0]).toMatchObject({ state: 'MASTER', vipsSet: true });
    expect(a.events.filter((e) => e.type === 'vips')).toEqual([expect.objectContaining({ action: 'added', ok: false }), expect.objectContaining({ action: 'removed', ok: true })]);
    const retryLogs = () => a.logLines.map((l) => JSON.parse(l) as { msg: string; retry_in_ms?: number }).filter((o) => o.retry_in_ms !== undefined).map((o) => o.retry_in_ms);
    expect(retryLogs()).toEqual([5000]);

    // Still broken at the retry: one more takeover attempt, FAULT again, twice the wait.
    await clock.advanceAsync(10_000);
    expect(retryLogs()).toEqual([5000, 10_000]);
    expect(a.rt.snapshot().instances[0]?.state).toBe('FAULT');
    expect(b.rt.snapshot().instances[0]?.state).toBe('MASTER');

    // The cause is fixed: at the next retry a competes, preempts b and keeps its VIPs.
    broken = false;
    const fixedAt = ops.length;
    await clock.advanceAsync(15_000);
    expect(a.rt.snapshot().instances[0]).toMatchObject({ state: 'MASTER', vipsSet: true });
    expect(a.rt.snapshot().instances[0]?.vipError).toBeUndefined();
    expect(b.rt.snapshot().instances[0]?.state).toBe('BACKUP');
    expect(opsOf(ops.slice(fixedAt), 'a')).toContain('add 10.0.0.100');
    await a.rt.stop();
    await b.rt.stop();
  });

  it('operator commands, trackers and a plain-data snapshot', async () => {
    const clock = new FakeClock(0);
    const ops: Op[] = [];
    const link = new FakeLink(clock, ops);
    const top = {
      track_files: { tf: { file: '/nonexistent/vk-test', weight: -60 } },
      vrrp_scripts: { chk: { script: '/bin/true', weight: 0 } },
    };
    const a = fakeNode(link, 'a', '10.0.0.11', fakeConfig(150, { track_file: ['tf'], track_script: ['chk'] }, top));
    const b = fakeNode(link, 'b', '10.0.0.12', fakeConfig(100));
    a.rt.scriptState('chk', 'up');
    a.rt.fileValue('tf', 0);
    await a.rt.start();
    await b.rt.start();
    await clock.advanceAsync(5000);
    expect(a.rt.snapshot().instances[0]?.state).toBe('MASTER');

    expect(a.rt.command('nope', 'stepDown')).toEqual({ ok: false, error: 'No VRRP instance "nope"' });
    // stepDown: priority 0, b takes over after its skew, a does not preempt back.
    expect(a.rt.handleMessage({ type: 'command', instance: 'VI_1', command: 'stepDown' })).toEqual({ ok: true });
    await clock.advanceAsync(5000);
    expect(a.rt.snapshot().instances[0]?.state).toBe('BACKUP');
    expect(b.rt.snapshot().instances[0]?.state).toBe('MASTER');

    // a's track_file drops its priority: 150 + 1 × -60 = 90.
    a.rt.fileValue('tf', 1);
    expect(a.rt.snapshot().instances[0]).toMatchObject({ effectivePriority: 90, tracking: { weightDelta: -60, fault: false } });
    // a's weight-0 script fails: FAULT.
    a.rt.scriptState('chk', 'down');
    expect(a.rt.snapshot().instances[0]).toMatchObject({ state: 'FAULT', tracking: { fault: true, reason: expect.stringMatching(/chk/) } });
    a.rt.scriptState('chk', 'up');
    a.rt.fileValue('tf', 0);
    await clock.advanceAsync(100);
    expect(a.rt.snapshot().instances[0]).toMatchObject({ state: 'BACKUP', effectivePriority: 150 });

    // b goes into maintenance: hands over with priority 0; a (no longer held) takes over.
    expect(b.rt.command('VI_1', 'maintenanceOn')).toEqual({ ok: true });
    await clock.advanceAsync(2000);
    expect(a.rt.snapshot().instances[0]?.state).toBe('MASTER');
    expect(b.rt.snapshot().instances[0]).toMatchObject({ state: 'BACKUP', maintenance: true });

    // The snapshot is plain data (survives structured cloning, e.g. postMessage to a worker).
    const snap = a.rt.handleMessage({ type: 'snapshot' });
    expect(snap.ok).toBe(true);
    expect(structuredClone(snap)).toEqual(snap);
    expect(JSON.stringify(snap)).not.toContain(FAKE_PASSWORD);
    const inst = a.rt.snapshot().instances[0]!;
    expect(inst.recentTransitions.map((t) => t.to)).toEqual(['BACKUP', 'MASTER', 'BACKUP', 'FAULT', 'BACKUP', 'MASTER']);
    expect(inst.transport).toMatchObject({ accepted: expect.any(Number), dropped: {} });
    await a.rt.stop();
    await b.rt.stop();
  });
});

describe('track_process in the runtime', () => {
  it('the monitor\'s quorum (not the bare count) drives priority and FAULT; the status shows it', async () => {
    const clock = new FakeClock(0);
    const link = new FakeLink(clock, []);
    const top = { track_processes: { tp: { process: 'nginx', quorum: 2 }, tw: { process: 'haproxy', weight: -30 } } };
    const a = fakeNode(link, 'a', '10.0.0.11', fakeConfig(150, { track_process: ['tp', 'tw'] }, top));
    a.rt.processState('tp', { count: 2, quorum: true });
    a.rt.processState('tw', { count: 1, quorum: true });
    await a.rt.start();
    await clock.advanceAsync(5000);
    expect(a.rt.snapshot().instances[0]).toMatchObject({ state: 'MASTER', effectivePriority: 150 });
    a.rt.processState('tw', { count: 0, quorum: false });
    expect(a.rt.snapshot().instances[0]).toMatchObject({ effectivePriority: 120, tracking: { weightDelta: -30 } });
    // a terminate_delay still running: the count is 1, the quorum (as the monitor says) still held
    a.rt.processState('tp', { count: 1, quorum: true });
    expect(a.rt.snapshot().instances[0]?.state).toBe('MASTER');
    a.rt.processState('tp', { count: 1, quorum: false });
    expect(a.rt.snapshot().instances[0]).toMatchObject({ state: 'FAULT', tracking: { fault: true, reason: expect.stringMatching(/track_process tp lacks quorum \(1 running, want 2\+\)/) } });
    a.rt.processState('tp', { count: 2, quorum: true });
    a.rt.processState('tw', { count: 1, quorum: true });
    await clock.advanceAsync(5000);
    expect(a.rt.snapshot().instances[0]).toMatchObject({ effectivePriority: 150 });
    expect(a.rt.snapshot().instances[0]?.state).not.toBe('FAULT');
    await a.rt.stop();
  });
});

describe('vipkeeper pair in network namespaces', () => {
  const pair = usePair({
    prefix: PREFIX,
    require: () => {
      requireNetnsRoot('VRRP pair tests');
      requireNativeAddon();
      requireTshark('VRRP pair tests');
    },
  });
  const lab = pair.lab;
  const d1 = () => pair.node('d1');
  const d2 = () => pair.node('d2');
  const client = () => pair.node('client');
  const start = (node: 'd1' | 'd2', conf: string, transport?: 'raw' | 'udp'): Promise<VipkeeperProc> => pair.vk(node, conf, transport ? { transport } : {});
  const stopAll = () => pair.stopAll();

  /** d1 MASTER with the VIP, d2 BACKUP without it. */
  async function expectD1Master(p1: VipkeeperProc, p2: VipkeeperProc, timeoutMs = 10_000): Promise<void> {
    await p1.waitState(INSTANCE, 'MASTER', timeoutMs);
    await p2.waitState(INSTANCE, 'BACKUP', timeoutMs);
    await waitFor('the VIP on d1 only', async () => (await hasVip(d1().ns, VIP)) && !(await hasVip(d2().ns, VIP)), 5000);
  }

  it('VRRPv2 at 1 s: the higher priority is elected MASTER and holds the VIP; the BACKUP has none', async () => {
    const c1 = pair.file('d1-v2.conf', keepalivedV2Conf({ state: 'MASTER', priority: 150 }));
    const c2 = pair.file('d2-v2.conf', keepalivedV2Conf({ state: 'BACKUP', priority: 100 }));
    const [p1, p2] = await Promise.all([start('d1', c1), start('d2', c2)]);
    // state MASTER with priority < 255 waits Master_Down_Interval (3.4 s at priority 150) in BACKUP.
    await expectD1Master(p1, p2, 10_000);
    expect(p1.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP', 'MASTER']);
    // The BACKUP never claimed the VIP while the MASTER was advertising.
    await sleep(1500);
    expect(await hasVip(d2().ns, VIP)).toBe(false);
    expect(p2.state(INSTANCE)).toBe('BACKUP');
    await primeArp(lab, client().ns, VIP);
    expect(await neighMac(client().ns, VIP)).toBe(d1().mac);
    await stopAll();
    expect(await hasVip(d1().ns, VIP)).toBe(false);
  }, 30_000);

  it('VRRPv3 at 100 ms: crash of the MASTER, the BACKUP takes over and the client ARP follows; preempt back', async () => {
    const c1 = pair.file('d1-v3.yaml', yamlConf({ state: 'MASTER', priority: 150 }));
    const c2 = pair.file('d2-v3.yaml', yamlConf({ state: 'BACKUP', priority: 100 }));
    let p1 = await start('d1', c1);
    await p1.waitState(INSTANCE, 'MASTER');
    const p2 = await start('d2', c2);
    await expectD1Master(p1, p2);
    await lab.exec(client().ns, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
    await primeArp(lab, client().ns, VIP);
    expect(await neighMac(client().ns, VIP)).toBe(d1().mac);
    await sleep(300 + Math.floor(Math.random() * 100)); // random phase against the advert timer

    await p1.crash();
    await waitFor('the VIP on d2 after the crash', () => hasVip(d2().ns, VIP), 5000);
    await waitFor('the client ARP entry to move to d2', async () => (await neighMac(client().ns, VIP)) === d2().mac, 5000);
    expect(p2.state(INSTANCE)).toBe('MASTER');
    // One takeover, and for the right reason: d1's adverts stopped and d2's down timer ran out
    // (not a priority-0 advert: a crashed node sends none).
    expect(p2.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP', 'MASTER']);
    expect(p2.transitions(INSTANCE).at(-1)?.reason).toBe('no advert received within Master_Down_Interval');
    // Like keepalived after a crash, the dead node still has the VIP configured.
    expect(await hasVip(d1().ns, VIP)).toBe(true);

    // d1 returns: it removes its stale VIP at startup, waits as BACKUP, then preempts the lower priority.
    pair.forget(p1);
    p1 = await start('d1', c1);
    await p1.waitState(INSTANCE, 'MASTER', 5000);
    await p2.waitState(INSTANCE, 'BACKUP', 5000);
    expect(p1.transitions(INSTANCE).at(-1)?.reason).toMatch(/preempted lower-priority master 10\.61\.0\.12 \(priority 100\)/);
    expect(p2.transitions(INSTANCE).at(-1)?.reason).toMatch(/higher priority advert from 10\.61\.0\.11 \(priority 150\)/);
    await waitFor('the VIP back on d1 only', async () => (await hasVip(d1().ns, VIP)) && !(await hasVip(d2().ns, VIP)), 5000);
    await waitFor('the client ARP entry to move back to d1', async () => (await neighMac(client().ns, VIP)) === d1().mac, 5000);
    await stopAll();
  }, 40_000);

  it('VRRPv3 at 100 ms: SIGTERM on the MASTER sends priority 0 and the BACKUP takes over after Skew_Time', async () => {
    const c1 = pair.file('d1-v3.yaml', yamlConf({ state: 'MASTER', priority: 150 }));
    const c2 = pair.file('d2-v3.yaml', yamlConf({ state: 'BACKUP', priority: 100 }));
    const p1 = await start('d1', c1);
    await p1.waitState(INSTANCE, 'MASTER');
    const p2 = await start('d2', c2);
    await expectD1Master(p1, p2);
    await lab.exec(client().ns, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
    await primeArp(lab, client().ns, VIP);
    expect(await neighMac(client().ns, VIP)).toBe(d1().mac);

    // Capture only priority-0 VRRP packets (VRRP priority = IP payload byte 2).
    const cap = await lab.capture(client().ns, 'eth0', 'ip proto 112 and ip[22] = 0', ['ip.src', 'ip.ttl', 'vrrp.prio', 'vrrp.ip_addr'], { count: 1, seconds: 15 });
    await sleep(200);
    process.kill(p1.pid, 'SIGTERM');
    await waitFor('the VIP on d2 after SIGTERM', () => hasVip(d2().ns, VIP), 5000, 5);
    await waitFor('the client ARP entry to move to d2', async () => (await neighMac(client().ns, VIP)) === d2().mac, 5000);
    await p1.proc.waitExit(10_000, true);

    const packets = await cap.done;
    expect(packets).toEqual([[d1().ip, '255', '0', VIP]]);
    expect(p2.transitions(INSTANCE).at(-1)).toMatchObject({ to: 'MASTER', reason: expect.stringMatching(/sent priority 0/) });
    expect(p1.transitions(INSTANCE).at(-1)).toMatchObject({ from: 'MASTER', to: 'STOP' });
    // The VRRP thread heard SIGTERM itself, not through the main thread.
    expect(p1.logs().filter((l) => l.thread === 'vrrp' && l.signal === 'SIGTERM')).toHaveLength(1);
    // The priority-0 advert, not the down timer, made d2 take over (after Skew_Time): one takeover.
    expect(p2.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP', 'MASTER']);
    expect(await hasVip(d1().ns, VIP)).toBe(false);
    await stopAll();
  }, 40_000);

  it('VRRPv3 over IPv6 at 100 ms: election from link-local sources and SIGTERM handover', async () => {
    const vip6 = 'fd00:61::100';
    const conf6 = (state: 'MASTER' | 'BACKUP', priority: number) =>
      yamlConf({ state, priority }).replace(`${VIP}/24 dev eth0`, `${vip6}/64 dev eth0 nodad`).replace('virtual_router_id: 61', 'virtual_router_id: 66');
    const p1 = await start('d1', pair.file('d1-v6.yaml', conf6('MASTER', 150)));
    await p1.waitState(INSTANCE, 'MASTER');
    const p2 = await start('d2', pair.file('d2-v6.yaml', conf6('BACKUP', 100)));
    await p2.waitState(INSTANCE, 'BACKUP');
    await sleep(5 * V3_MASTER_DOWN_MS);
    expect(p2.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP']);
    expect(await hasVip(d1().ns, vip6)).toBe(true);
    expect(await hasVip(d2().ns, vip6)).toBe(false);
    process.kill(p1.pid, 'SIGTERM');
    await waitFor('the IPv6 VIP on d2 after SIGTERM', () => hasVip(d2().ns, vip6), 3000, 5);
    // Taken over because of d1's priority-0 advert (from its link-local address), not a timeout.
    expect(p2.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP', 'MASTER']);
    expect(p2.transitions(INSTANCE).at(-1)).toMatchObject({ to: 'MASTER', reason: expect.stringMatching(/^master fe80:.* sent priority 0/) });
    await p1.proc.waitExit(10_000, true);
    expect(await hasVip(d1().ns, vip6)).toBe(false);
    await stopAll();
  }, 30_000);

  it('UDP transport (vipkeeper-only): election and SIGTERM handover without raw sockets', async () => {
    const c1 = pair.file('d1-udp.yaml', yamlConf({ state: 'MASTER', priority: 150 }));
    const c2 = pair.file('d2-udp.yaml', yamlConf({ state: 'BACKUP', priority: 100 }));
    const p1 = await start('d1', c1, 'udp');
    await p1.waitState(INSTANCE, 'MASTER');
    const p2 = await start('d2', c2, 'udp');
    await expectD1Master(p1, p2);
    await sleep(5 * V3_MASTER_DOWN_MS);
    expect(p2.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP']);
    expect(p1.logs().some((o) => typeof o.msg === 'string' && o.msg.includes('NOT interoperable'))).toBe(true);
    process.kill(p1.pid, 'SIGTERM');
    await waitFor('the VIP on d2 after SIGTERM (UDP)', () => hasVip(d2().ns, VIP), 3000, 5);
    // Taken over because of d1's priority-0 advert, not a timeout.
    expect(p2.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP', 'MASTER']);
    expect(p2.transitions(INSTANCE).at(-1)).toMatchObject({ to: 'MASTER', reason: expect.stringMatching(/sent priority 0/) });
    await p1.proc.waitExit(10_000, true);
    await stopAll();
  }, 30_000);

  it('VRRPv3 at 100 ms: nopreempt keeps the running lower-priority MASTER', async () => {
    const c1 = pair.file('d1-nopreempt.yaml', yamlConf({ state: 'BACKUP', priority: 150, nopreempt: true }));
    const c2 = pair.file('d2-nopreempt.yaml', yamlConf({ state: 'BACKUP', priority: 100 }));
    const p2 = await start('d2', c2);
    await p2.waitState(INSTANCE, 'MASTER');
    await waitFor('the VIP on d2', () => hasVip(d2().ns, VIP), 5000);
    const p1 = await start('d1', c1);
    await p1.waitState(INSTANCE, 'BACKUP');
    // Many Master_Down_Intervals: a preempting d1 would have taken over after one.
    await sleep(8 * V3_MASTER_DOWN_MS);
    expect(p1.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP']);
    expect(p2.state(INSTANCE)).toBe('MASTER');
    expect(await hasVip(d2().ns, VIP)).toBe(true);
    expect(await hasVip(d1().ns, VIP)).toBe(false);

    // It still takes over when the MASTER leaves.
    await p2.terminate();
    await p1.waitState(INSTANCE, 'MASTER', 3000);
    await waitFor('the VIP on d1', () => hasVip(d1().ns, VIP), 3000);
    await stopAll();
  }, 30_000);
});

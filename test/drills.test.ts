// Operational-safety drills on a live pair in network namespaces (issue 14): what an operator
// does or suffers — a partition and its heal, a reload of the MASTER's priority, a VIP that
// cannot be added, the VRRP thread dying alone, the MASTER's link going down — and what the pair
// must do. Each checks state, order and reason; timings are the benchmarks' business.
import { describe, expect, it } from 'vitest';
import { primeArp } from '../lab/lan.js';
import { hasAddress, neighMac } from '../lab/netns.js';
import { requireKeepalived, requireNativeAddon, requireNetnsRoot } from '../lab/require.js';
import type { KeepalivedProc } from '../lab/keepalived.js';
import { vipkeeperArgv, type StartVipkeeperOptions, type VipkeeperProc } from '../lab/vipkeeper.js';
import { sleep, waitFor } from '../lab/wait.js';
import { call, getStatus } from '../src/daemon/control/client.js';
import { usePair } from './helpers/pair.js';

const PREFIX = '10.64.0';
const VIP = `${PREFIX}.200`;
const INSTANCE = 'VI_DRILL';

function vkConf(o: { priority: number; vipDev?: string; extra?: string[] }): string {
  return [
    'global:',
    '  vrrp_version: 3',
    'instances:',
    `  ${INSTANCE}:`,
    '    state: BACKUP',
    '    interface: eth0',
    '    virtual_router_id: 64',
    `    priority: ${o.priority}`,
    '    advert_int: 100ms',
    ...(o.extra ?? []),
    '    virtual_ipaddress:',
    `      - ${VIP}/24 dev ${o.vipDev ?? 'eth0'}`,
    '',
  ].join('\n');
}

function kaConf(priority: number): string {
  return `global_defs {
    router_id drill_ka
    vrrp_version 3
}
vrrp_instance ${INSTANCE} {
    state BACKUP
    interface eth0
    virtual_router_id 64
    priority ${priority}
    advert_int 0.1
    virtual_ipaddress {
        ${VIP}/24 dev eth0
    }
}
`;
}

describe('operational drills on a live pair', () => {
  const pair = usePair({
    prefix: PREFIX,
    require: () => {
      requireNetnsRoot('the drills');
      requireNativeAddon();
      requireKeepalived('the drills');
    },
    // a drill may leave the pair partitioned, a cable pulled or a VMAC behind
    reset: async () => {
      await heal('d1').catch(() => undefined);
      await heal('d2').catch(() => undefined);
      await cable('d1', true).catch(() => undefined);
      await lab.exec(d1().ns, ['ip', 'link', 'del', 'vk0']).catch(() => undefined);
    },
  });
  const lab = pair.lab;
  const lan = () => pair.lan;
  const d1 = () => pair.node('d1');
  const d2 = () => pair.node('d2');
  const client = () => pair.node('client');

  const vk = (node: 'd1' | 'd2', conf: string, opts: StartVipkeeperOptions = {}): Promise<VipkeeperProc> =>
    pair.vk(node, pair.file(`${node}.yaml`, conf), { ...opts, runningTimeoutMs: 60_000 });

  /** Who holds the VIP (on any interface). */
  async function holders(): Promise<string[]> {
    const out: string[] = [];
    for (const n of ['d1', 'd2'] as const) if ((await lab.exec(lan().nodes[n]!.ns, ['ip', '-o', 'addr', 'show'])).stdout.includes(`${VIP}/`)) out.push(n);
    return out;
  }

  /** Drops VRRP (IP protocol 112) in and out of `node`: the pair is partitioned. */
  async function partition(node: 'd1' | 'd2'): Promise<void> {
    const ns = lan().nodes[node]!.ns;
    await lab.exec(ns, ['nft', 'add table inet vkdrill']);
    await lab.exec(ns, ['nft', 'add chain inet vkdrill in { type filter hook input priority 0 ; }']);
    await lab.exec(ns, ['nft', 'add chain inet vkdrill out { type filter hook output priority 0 ; }']);
    await lab.exec(ns, ['nft', 'add rule inet vkdrill in meta l4proto 112 drop']);
    await lab.exec(ns, ['nft', 'add rule inet vkdrill out meta l4proto 112 drop']);
  }

  /** keepalived as d2 (priority `priority`), started and settled in `state`. */
  async function ka(priority: number, state: 'MASTER' | 'BACKUP'): Promise<KeepalivedProc> {
    const k = pair.ka('d2', pair.file('d2-ka.conf', kaConf(priority)));
    await k.waitState(INSTANCE, state);
    return k;
  }

  /** How many times keepalived entered MASTER: the handovers the peer saw. */
  const kaMasters = (k: KeepalivedProc) => k.lines().filter((l) => l.includes(`(${INSTANCE}) Entering MASTER STATE`)).length;

  /** Samples whether `ns` holds the VIP every 10 ms until `stop()`; `left` is true once it was ever missing. */
  function watchVip(ns: string): { stop: () => Promise<{ left: boolean; samples: number }> } {
    let watching = true;
    let left = false;
    let samples = 0;
    const loop = (async () => {
      while (watching) {
        if (!(await hasAddress(ns, VIP))) left = true;
        samples++;
        await sleep(10);
      }
    })();
    return {
      stop: async () => {
        watching = false;
        await loop;
        return { left, samples };
      },
    };
  }

  /** The cable of `node` pulled (its bridge port down: its eth0 loses carrier) or put back. */
  async function cable(node: 'd1' | 'd2', up: boolean): Promise<void> {
    await lab.exec(lan().bridgeNs, ['ip', 'link', 'set', lan().nodes[node]!.port, up ? 'up' : 'down']);
  }

  async function heal(node: 'd1' | 'd2'): Promise<void> {
    await lab.exec(lan().nodes[node]!.ns, ['nft', 'delete', 'table', 'inet', 'vkdrill']);
  }

  it('a partition and its heal, three times: one MASTER soon after each heal, and the client follows it without re-resolving', async () => {
    const p1 = await vk('d1', vkConf({ priority: 150 }));
    const p2 = await vk('d2', vkConf({ priority: 100 }));
    await p1.waitState(INSTANCE, 'MASTER');
    await p2.waitState(INSTANCE, 'BACKUP');
    await primeArp(lab, client().ns, VIP);
    expect(await neighMac(client().ns, VIP)).toBe(d1().mac);
    for (let round = 1; round <= 3; round++) {
      // Partitioned: d2 hears nothing and takes over; its gratuitous ARP moves the client.
      await partition('d2');
      await p2.waitState(INSTANCE, 'MASTER', 5_000);
      await waitFor(`round ${round}: the client follows d2's gratuitous ARP`, async () => (await neighMac(client().ns, VIP)) === d2().mac, 5_000);
      expect(p1.state(INSTANCE)).toBe('MASTER');
      // Healed: d1 (higher priority) stays, d2 yields, and the client is moved back by d1's
      // re-announcement, not by re-resolving (we only read its neighbour table).
      await heal('d2');
      await p2.waitState(INSTANCE, 'BACKUP', 1_000);
      await waitFor(`round ${round}: the VIP on d1 only`, async () => (await holders()).join() === 'd1', 1_000);
      await waitFor(`round ${round}: the client's ARP entry back on d1's MAC`, async () => (await neighMac(client().ns, VIP)) === d1().mac, 2_000);
      expect(p1.state(INSTANCE)).toBe('MASTER');
      await sleep(1_500); // let the neighbour entries age between rounds
    }
    // The re-announcements say why they happened.
    expect(p1.logs().some((l) => l.msg === 'VI_DRILL: another MASTER with a lower priority: re-announcing the VIPs')).toBe(true);
  });

  it('a priority reload on the MASTER: the VIP never leaves; dropped below the peer (keepalived): exactly one handover', async () => {
    const conf = (priority: number) => vkConf({ priority });
    const p1 = await vk('d1', conf(150));
    const ka = pair.ka('d2', pair.file('d2-ka.conf', kaConf(120)));
    await p1.waitState(INSTANCE, 'MASTER');
    await ka.waitState(INSTANCE, 'BACKUP');
    const kaMasters = () => ka.lines().filter((l) => l.includes(`(${INSTANCE}) Entering MASTER STATE`)).length;
    let vipLeft = false;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        if (!(await hasAddress(d1().ns, VIP))) vipLeft = true;
        await sleep(10);
      }
    })();
    // Still the highest: nothing moves.
    pair.file('d1.yaml', conf(140));
    process.kill(p1.pid, 'SIGHUP');
    await p1.proc.waitForLine(/"msg":"config reloaded"/, 10_000);
    await sleep(1_000);
    watching = false;
    await watch;
    expect(vipLeft).toBe(false);
    expect(p1.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP', 'MASTER']);
    expect(kaMasters()).toBe(0);
    // Below keepalived's 120: keepalived takes over once, by the protocol; d1 does not come back.
    pair.file('d1.yaml', conf(100));
    process.kill(p1.pid, 'SIGHUP');
    await ka.waitState(INSTANCE, 'MASTER', 5_000);
    await p1.waitState(INSTANCE, 'BACKUP', 5_000);
    await sleep(1_500);
    expect(p1.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP', 'MASTER', 'BACKUP']);
    expect(kaMasters()).toBe(1);
    expect(await holders()).toEqual(['d2']);
  });

  it('a second daemon started on the MASTER (keepalived the peer) is refused with exit 3 and one line, and the VIP never leaves', async () => {
    const p1 = await vk('d1', vkConf({ priority: 150 }));
    const k = await ka(120, 'BACKUP');
    await p1.waitState(INSTANCE, 'MASTER');
    await waitFor('the VIP on d1 only', async () => (await holders()).join() === 'd1', 5_000);
    const watch = watchVip(d1().ns);
    // Same config, another control socket: only the per-namespace instance lock can stop it.
    const second = lab.spawn(d1().ns, [...vipkeeperArgv(), 'run', '-f', `${lan().dir}/d1.yaml`, '--config-id', 'test', '--socket', `${lan().dir}/second.sock`], 'second vipkeeper d1');
    const exit = await second.exited;
    await sleep(1_000); // and nothing happens afterwards either
    const { left, samples } = await watch.stop();
    expect(exit.code).toBe(3);
    const errLines = second.stderrLines.filter((l) => l.trim() !== '');
    expect(errLines).toHaveLength(1);
    expect(errLines[0]).toMatch(/VRRP instance VI_DRILL \(eth0, IPv4, VRID 64\) is already run by another vipkeeper \(pid \d+\)/);
    expect(samples).toBeGreaterThan(10);
    expect(left).toBe(false);
    expect(p1.proc.running).toBe(true);
    expect(p1.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP', 'MASTER']);
    expect(kaMasters(k)).toBe(0);
    expect(await holders()).toEqual(['d1']);
  }, 150_000);

  it('a VIP that cannot be added (its device is missing): FAULT, keepalived takes over; the device comes: the node recovers', async () => {
    const k = await ka(120, 'MASTER');
    // no_track: a VIP's missing interface would otherwise hold the instance in FAULT from the start
    // (keepalived's VIP tracking); this drill is about the add that fails.
    const p1 = await vk('d1', vkConf({ priority: 150, vipDev: 'vk0 no_track' }));
    // d1 preempts keepalived, cannot add the VIP, and goes to FAULT (priority 0 on the way out).
    await p1.waitState(INSTANCE, 'FAULT', 10_000);
    const fault = p1.transitions(INSTANCE).at(-1)!;
    expect(fault.from).toBe('MASTER');
    expect(fault.reason).toMatch(/VIPs could not be added/);
    await k.waitState(INSTANCE, 'MASTER', 5_000);
    const st = (await getStatus(p1.socket)).body;
    expect(st.vrrp?.instances[0]?.vipError).toBeTruthy();
    expect(p1.logs().some((l) => typeof l.msg === 'string' && l.msg.includes('VIPs could not be added: going to FAULT'))).toBe(true);
    // The cause fixed: at its next retry d1 competes again, preempts, and holds the VIP.
    // (a veth pair: this kernel has no dummy driver; an address can go on it either way)
    await lab.exec(d1().ns, ['ip', 'link', 'add', 'vk0', 'type', 'veth', 'peer', 'name', 'vk1']);
    await lab.exec(d1().ns, ['ip', 'link', 'set', 'vk0', 'up']);
    await waitFor('d1 MASTER again with the VIP', async () => p1.state(INSTANCE) === 'MASTER' && (await hasAddress(d1().ns, VIP, 'vk0')), 30_000);
    await k.waitState(INSTANCE, 'BACKUP', 5_000);
    await sleep(1_000);
    const to = p1.transitions(INSTANCE).map((t) => t.to);
    expect(to.slice(0, 3)).toEqual(['BACKUP', 'MASTER', 'FAULT']);
    expect(to.slice(-2)).toEqual(['BACKUP', 'MASTER']);
    expect(p1.state(INSTANCE)).toBe('MASTER');
    expect((await getStatus(p1.socket)).body.vrrp?.instances[0]?.vipError).toBeFalsy();
    expect(await holders()).toEqual(['d1']);
  }, 150_000);

  it('the VRRP worker thread crashes alone: the supervisor restarts it at once, keepalived sees at most one handover', async () => {
    const p1 = await vk('d1', vkConf({ priority: 150 }), { env: { VIPKEEPER_TEST_HOOKS: '1' } });
    const k = await ka(120, 'BACKUP');
    await p1.waitState(INSTANCE, 'MASTER');
    const pid = p1.pid;
    process.kill(pid, 'SIGUSR2');
    await p1.proc.waitForLine(/"msg":"VRRP worker died; restarting it"/, 10_000);
    await p1.proc.waitForLine(/"msg":"VRRP worker restarted"/, 20_000);
    // Settled: one holder, and it is whoever the peer's single handover (if any) left as MASTER.
    await waitFor('one VIP holder', async () => (await holders()).length === 1, 10_000);
    await sleep(2_000);
    expect(p1.proc.running).toBe(true);
    expect(p1.pid).toBe(pid);
    const handovers = kaMasters(k);
    expect(handovers).toBeLessThanOrEqual(1);
    if (handovers === 1) {
      expect(k.state(INSTANCE)).toBe('MASTER');
      expect(p1.state(INSTANCE)).toBe('BACKUP');
      expect(await holders()).toEqual(['d2']);
    } else {
      expect(p1.state(INSTANCE)).toBe('MASTER');
      expect(await holders()).toEqual(['d1']);
    }
    const st = (await getStatus(p1.socket)).body;
    expect(st.counters.vrrpWorkerRestarts).toBe(1);
    const metrics = (await call<string>(p1.socket, 'GET', '/metrics')).body;
    expect(metrics).toMatch(/^vipkeeper_vrrp_worker_restarts_total 1$/m);
  }, 150_000);

  it('the MASTER loses its link (track_interface) with keepalived the peer: FAULT and handover; the link back: recovery', async () => {
    const p1 = await vk('d1', vkConf({ priority: 150, extra: ['    track_interface: [eth0]'] }));
    const k = await ka(120, 'BACKUP');
    await p1.waitState(INSTANCE, 'MASTER');
    await cable('d1', false);
    await p1.waitState(INSTANCE, 'FAULT', 5_000);
    await k.waitState(INSTANCE, 'MASTER', 5_000);
    expect(await hasAddress(d1().ns, VIP)).toBe(false);
    await cable('d1', true);
    await p1.waitState(INSTANCE, 'MASTER', 10_000);
    await k.waitState(INSTANCE, 'BACKUP', 5_000);
    await sleep(1_000);
    expect(p1.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP', 'MASTER', 'FAULT', 'BACKUP', 'MASTER']);
    expect(p1.transitions(INSTANCE)[2]!.reason).toMatch(/link down/);
    expect(kaMasters(k)).toBe(1);
    expect(await holders()).toEqual(['d1']);
  }, 150_000);
});

// A sync group of two instances on a vipkeeper pair, in namespaces: both instances
// move together. A tracked interface going down on d1 puts one member in FAULT, the
// group follows it into FAULT, and d2 takes both VIPs; when the link returns, d1
// takes both back.
import { afterAll, describe, expect, it } from 'vitest';
import { NetnsLab, run, setupOrFail } from './helpers/netns.js';
import { createLan, hasVip, startVipkeeper, waitFor, writeFile, type Lan, type VipkeeperProc } from './helpers/vipkeeper-proc.js';

const lab = new NetnsLab();
let lan: Lan;
const procs: VipkeeperProc[] = []; // killed by lab.cleanup()

function conf(priority: number): string {
  return `global:
  vrrp_version: 3
sync_groups:
  VG_1:
    group: [VI_A, VI_B]
instances:
  VI_A:
    interface: eth0
    virtual_router_id: 71
    priority: ${priority}
    advert_int: 100ms
    track_interface: [trk0]
    virtual_ipaddress: [10.62.0.201/24]
  VI_B:
    interface: eth0
    virtual_router_id: 72
    priority: ${priority}
    advert_int: 100ms
    virtual_ipaddress: [10.62.0.202/24]
`;
}

const both = async (ns: string) => (await hasVip(ns, '10.62.0.201')) && (await hasVip(ns, '10.62.0.202'));
const none = async (ns: string) => !(await hasVip(ns, '10.62.0.201')) && !(await hasVip(ns, '10.62.0.202'));

describe('sync group on a vipkeeper pair', () => {
  setupOrFail(async () => {
    lan = await createLan(lab, '10.62.0', { d1: 1, d2: 2, client: 100 });
    // Each director tracks a local link of its own (a veth pair inside its namespace).
    for (const n of ['d1', 'd2']) {
      const ns = lan.nodes[n]!.ns;
      await run('ip', ['-n', ns, 'link', 'add', 'trk0', 'type', 'veth', 'peer', 'name', 'trk1']);
      await run('ip', ['-n', ns, 'link', 'set', 'trk0', 'up']);
      await run('ip', ['-n', ns, 'link', 'set', 'trk1', 'up']);
    }
  });
  afterAll(async () => {
    await lab.cleanup();
    lan?.dispose();
  });

  it('moves both instances together when one member faults, and back', async () => {
    const d1 = lan.nodes.d1!;
    const d2 = lan.nodes.d2!;
    procs.push(await startVipkeeper(lab, d1.ns, writeFile(lan.dir, 'd1.yaml', conf(150))));
    procs.push(await startVipkeeper(lab, d2.ns, writeFile(lan.dir, 'd2.yaml', conf(100))));
    await waitFor('d1 holds both VIPs', () => both(d1.ns), 10_000);
    expect(await none(d2.ns)).toBe(true);

    // The tracked link of VI_A goes down on d1: VI_A → FAULT, and the group takes VI_B with it.
    await run('ip', ['-n', d1.ns, 'link', 'set', 'trk0', 'down']);
    await waitFor('d2 holds both VIPs', () => both(d2.ns), 10_000);
    await waitFor('d1 holds none', () => none(d1.ns), 10_000);
    const t1 = procs[0]!.transitions();
    expect(t1.filter((t) => t.to === 'FAULT').map((t) => t.instance).sort()).toEqual(['VI_A', 'VI_B']);

    // The link returns: both come back to d1 (it has the higher priority and preempts).
    await run('ip', ['-n', d1.ns, 'link', 'set', 'trk0', 'up']);
    await waitFor('d1 holds both VIPs again', () => both(d1.ns), 10_000);
    await waitFor('d2 holds none again', () => none(d2.ns), 10_000);
  });
});

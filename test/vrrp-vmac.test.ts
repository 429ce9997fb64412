/**
 * use_vmac / vmac_xmit_base against Debian's keepalived, both reading the same keepalived.conf
 * text (only state and priority differ), on the lab LAN (bridge + d1 + d2 + client):
 *
 * - vipkeeper MASTER / keepalived BACKUP: vipkeeper makes `vrrp.64` (a private-mode macvlan on
 *   eth0, MAC 00:00:5e:00:01:40) with keepalived's sysctls on it and on eth0, puts the VIP on it,
 *   sends its adverts from it (the client sees the virtual MAC as their source); the client's ARP
 *   entry for the VIP is the virtual MAC. SIGTERM vipkeeper: keepalived takes over, the client's
 *   entry does not change, vipkeeper's VMAC is gone and eth0's arp_ignore / arp_filter are back.
 * - keepalived MASTER / vipkeeper BACKUP: vipkeeper makes its VMAC as a BACKUP too (as keepalived
 *   does), without the VIP; keepalived crashes, vipkeeper takes over, the client's entry stays the
 *   virtual MAC.
 * - vmac_xmit_base: the VIP is on the VMAC but the adverts come from eth0's own MAC.
 *
 * keepalived's nodes get arp_announce=2 on eth0 first: keepalived 2.2.7 does not set it, and its
 * base interface then asks for the client's MAC with the VIP as sender, which teaches the client
 * the base's own MAC for the VIP (vipkeeper sets it with the VMAC).
 *
 * Also promote_secondaries: set on eth0 while running, put back at stop.
 *
 * Needs root, `ip netns`, the native addon, keepalived and tshark; without them it FAILS.
 */
import { describe, expect, it } from 'vitest';
import { requireKeepalived } from './helpers/keepalived-proc.js';
import { requireNativeAddon, requireNetnsRoot } from './helpers/netns.js';
import { usePair } from './helpers/pair.js';
import { neighMac, primeArp, waitFor } from './helpers/vipkeeper-proc.js';
import { requireTshark } from '../lab/require.js';

const PREFIX = '10.64.0';
const VIP = `${PREFIX}.100`;
const INSTANCE = 'VI_VMAC';
const VRID = 64;
const VMAC = 'vrrp.64';
const VMAC_MAC = '00:00:5e:00:01:40';

function conf(o: { state: 'MASTER' | 'BACKUP'; priority: number; xmitBase?: boolean; vip?: string }): string {
  return [
    'global_defs {',
    '    router_id vmac_test',
    '    vrrp_version 3',
    '}',
    `vrrp_instance ${INSTANCE} {`,
    `    state ${o.state}`,
    '    interface eth0',
    `    virtual_router_id ${VRID}`,
    `    priority ${o.priority}`,
    '    advert_int 0.2',
    '    use_vmac',
    ...(o.xmitBase ? ['    vmac_xmit_base'] : []),
    '    promote_secondaries',
    '    virtual_ipaddress {',
    `        ${o.vip ?? `${VIP}/24`}`,
    '    }',
    '}',
    '',
  ].join('\n');
}

interface Link {
  ifname: string;
  address?: string;
  link?: string;
  linkinfo?: { info_kind?: string; info_data?: { mode?: string } };
  addr_info?: { local?: string }[];
}

describe('use_vmac with keepalived as the peer', () => {
  const pair = usePair({
    prefix: PREFIX,
    require: () => {
      requireNetnsRoot('use_vmac tests');
      requireNativeAddon();
      requireKeepalived('use_vmac tests');
      requireTshark('use_vmac tests');
    },
    // what a test leaves besides its processes: a VMAC, keepalived's sysctls on eth0, the client's ARP entries
    reset: async () => {
      for (const n of [d1(), d2()]) {
        await lab.exec(n.ns, ['ip', 'link', 'del', VMAC]).catch(() => undefined);
        await lab.exec(n.ns, ['sysctl', '-qw', 'net.ipv4.conf.eth0.arp_announce=0', 'net.ipv4.conf.eth0.arp_ignore=0', 'net.ipv4.conf.eth0.arp_filter=0']);
      }
      await lab.exec(client().ns, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
    },
  });
  const lab = pair.lab;
  const d1 = () => pair.node('d1');
  const d2 = () => pair.node('d2');
  const client = () => pair.node('client');

  async function link(ns: string, name: string): Promise<Link | undefined> {
    const r = await lab.exec(ns, ['ip', '-j', '-d', 'addr', 'show']);
    return (JSON.parse(r.stdout) as Link[]).find((l) => l.ifname === name);
  }
  async function vipOn(ns: string): Promise<boolean> {
    return (await link(ns, VMAC))?.addr_info?.some((a) => a.local === VIP) ?? false;
  }
  async function sysctl(ns: string, key: string): Promise<string> {
    return (await lab.exec(ns, ['cat', `/proc/sys/net/${key}`])).stdout.trim();
  }
  /** The source MACs of the next few VRRP adverts the client sees. */
  async function advertSources(): Promise<string[]> {
    const cap = await lab.capture(client().ns, 'eth0', 'ip proto 112', ['eth.src'], { count: 3, seconds: 10 });
    return [...new Set((await cap.done).map((f) => f[0]!.toLowerCase()))];
  }
  async function kaSysctls(ns: string): Promise<void> {
    await lab.exec(ns, ['sysctl', '-qw', 'net.ipv4.conf.eth0.arp_announce=2']);
  }

  it('vipkeeper MASTER on its VMAC, keepalived BACKUP; the client keeps the virtual MAC across the failover', async () => {
    const eth0 = async () => ({
      arp_ignore: await sysctl(d1().ns, 'ipv4/conf/eth0/arp_ignore'),
      arp_filter: await sysctl(d1().ns, 'ipv4/conf/eth0/arp_filter'),
      arp_announce: await sysctl(d1().ns, 'ipv4/conf/eth0/arp_announce'),
      promote_secondaries: await sysctl(d1().ns, 'ipv4/conf/eth0/promote_secondaries'),
    });
    const before = { arp_ignore: '0', arp_filter: '0', arp_announce: '0', promote_secondaries: '0' };
    expect(await eth0()).toEqual(before);
    const p = await pair.vk('d1', pair.file('vk-high.conf', conf({ state: 'MASTER', priority: 150 })));
    await p.waitState(INSTANCE, 'MASTER', 15_000);
    await kaSysctls(d2().ns);
    const k = pair.ka('d2', pair.file('ka-low.conf', conf({ state: 'BACKUP', priority: 100 })));
    await k.waitState(INSTANCE, 'BACKUP', 15_000);

    const l = await link(d1().ns, VMAC);
    expect(l).toMatchObject({ address: VMAC_MAC, link: 'eth0', linkinfo: { info_kind: 'macvlan', info_data: { mode: 'private' } } });
    await waitFor('the VIP on the VMAC of d1', () => vipOn(d1().ns), 5000);
    expect((await link(d1().ns, 'eth0'))?.addr_info?.map((a) => a.local)).not.toContain(VIP);
    // keepalived's sysctls, on the VMAC and on its parent
    expect(await sysctl(d1().ns, `ipv4/conf/${VMAC}/arp_ignore`)).toBe('1');
    expect(await sysctl(d1().ns, `ipv4/conf/${VMAC}/accept_local`)).toBe('1');
    expect(await sysctl(d1().ns, `ipv4/conf/${VMAC}/rp_filter`)).toBe('0');
    expect(await sysctl(d1().ns, `ipv6/conf/${VMAC}/disable_ipv6`)).toBe('1');
    expect(await eth0()).toEqual({ arp_ignore: '1', arp_filter: '1', arp_announce: '2', promote_secondaries: '1' });
    // keepalived made its VMAC as a BACKUP, without the VIP
    expect((await link(d2().ns, VMAC))?.address).toBe(VMAC_MAC);
    expect(await vipOn(d2().ns)).toBe(false);

    expect(await advertSources()).toEqual([VMAC_MAC]);
    await primeArp(lab, client().ns, VIP);
    expect(await neighMac(client().ns, VIP)).toBe(VMAC_MAC);
    expect(k.lines().filter((x) => /checksum|invalid|bad |wrong|mismatch|ttl/i.test(x))).toEqual([]);

    await p.terminate();
    pair.forget(p);
    await k.waitState(INSTANCE, 'MASTER', 5000);
    await waitFor('the VIP on the VMAC of d2', () => vipOn(d2().ns), 5000);
    await primeArp(lab, client().ns, VIP);
    expect(await neighMac(client().ns, VIP)).toBe(VMAC_MAC);
    expect(await advertSources()).toEqual([VMAC_MAC]);
    // vipkeeper removed its VMAC at stop and put eth0's settings back
    expect(await link(d1().ns, VMAC)).toBeUndefined();
    expect(await eth0()).toEqual(before);
  });

  it('keepalived MASTER, vipkeeper BACKUP with its VMAC; keepalived crashes and vipkeeper takes over on the same MAC', async () => {
    await kaSysctls(d1().ns);
    const k = pair.ka('d1', pair.file('ka-high.conf', conf({ state: 'MASTER', priority: 150 })));
    await k.waitState(INSTANCE, 'MASTER', 15_000);
    const p = await pair.vk('d2', pair.file('vk-low.conf', conf({ state: 'BACKUP', priority: 100 })));
    await p.waitState(INSTANCE, 'BACKUP', 15_000);
    await waitFor('vipkeeper to make its VMAC', async () => (await link(d2().ns, VMAC))?.address === VMAC_MAC, 5000);
    expect(await vipOn(d2().ns)).toBe(false);
    await primeArp(lab, client().ns, VIP);
    expect(await neighMac(client().ns, VIP)).toBe(VMAC_MAC);

    await k.crash();
    pair.forget(k);
    await p.waitState(INSTANCE, 'MASTER', 10_000);
    await waitFor('the VIP on the VMAC of d2', () => vipOn(d2().ns), 5000);
    await primeArp(lab, client().ns, VIP);
    expect(await neighMac(client().ns, VIP)).toBe(VMAC_MAC);
    expect(await advertSources()).toEqual([VMAC_MAC]);
    expect(p.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP', 'MASTER']);
  });

  it('IPv6: the VMAC has the MAC 00:00:5e:00:02:VRID and the base link-local address; keepalived BACKUP accepts our adverts', async () => {
    const VIP6 = 'fd00:64::100';
    const p = await pair.vk('d1', pair.file('vk-v6.conf', conf({ state: 'MASTER', priority: 150, vip: `${VIP6}/64` })));
    await p.waitState(INSTANCE, 'MASTER', 15_000);
    const k = pair.ka('d2', pair.file('ka-v6.conf', conf({ state: 'BACKUP', priority: 100, vip: `${VIP6}/64` })));
    await k.waitState(INSTANCE, 'BACKUP', 15_000);
    const l = await link(d1().ns, VMAC);
    expect(l?.address).toBe('00:00:5e:00:02:40');
    const base = await link(d1().ns, 'eth0');
    const ll = base?.addr_info?.map((a) => a.local).find((a) => a?.startsWith('fe80:'));
    expect(l?.addr_info?.map((a) => a.local)).toEqual(expect.arrayContaining([VIP6, ll]));
    await new Promise((r) => setTimeout(r, 1500));
    expect(k.state(INSTANCE)).toBe('BACKUP');
    expect(p.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP', 'MASTER']);
    await p.terminate();
    pair.forget(p);
    await k.waitState(INSTANCE, 'MASTER', 5000);
    expect(await link(d1().ns, VMAC)).toBeUndefined();
  });

  it('vmac_xmit_base: the VIP on the VMAC, adverts from the base interface, keepalived BACKUP agrees', async () => {
    const p = await pair.vk('d1', pair.file('vk-xb.conf', conf({ state: 'MASTER', priority: 150, xmitBase: true })));
    await p.waitState(INSTANCE, 'MASTER', 15_000);
    const k = pair.ka('d2', pair.file('ka-xb.conf', conf({ state: 'BACKUP', priority: 100, xmitBase: true })));
    await k.waitState(INSTANCE, 'BACKUP', 15_000);
    await waitFor('the VIP on the VMAC of d1', () => vipOn(d1().ns), 5000);
    expect(await advertSources()).toEqual([d1().mac]);
    await primeArp(lab, client().ns, VIP);
    expect(await neighMac(client().ns, VIP)).toBe(VMAC_MAC);
    // keepalived stays BACKUP: it hears our adverts on its base interface
    expect(k.state(INSTANCE)).toBe('BACKUP');
  });
});

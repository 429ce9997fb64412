/**
 * VRRPv3 over IPv6 against Debian's keepalived: keepalived in one director namespace, `vipkeeper
 * run` in the other, both reading the SAME keepalived.conf text (only state and priority differ),
 * on the lab LAN with IPv6 (fd00:69::/64 and link-local addresses).
 *
 * Multicast (ff02::12, from the link-local address) and unicast (fd00:69:: peers), each in both
 * roles: the higher one is elected, the other stays BACKUP without the VIP; SIGTERM the MASTER, the
 * BACKUP takes over on its priority-0 advert; the client's neighbour entry for the VIP then names
 * the new MASTER (its unsolicited NA). For multicast, the NA's Router flag is compared: vipkeeper's
 * and keepalived's are the same (both follow the interface's forwarding setting, off here).
 * Neither side may log a rejected advert. Failover timing against keepalived is bench/failover's.
 *
 * Needs root, `ip netns`, the native addon, keepalived and tshark; without them it FAILS.
 */
import { describe, expect, it } from 'vitest';
import { ipBytes } from '../src/vocab/ip.js';
import { requireKeepalived, type KeepalivedProc } from './helpers/keepalived-proc.js';
import { requireNativeAddon, requireNetnsRoot, requireTshark } from './helpers/netns.js';
import { usePair } from './helpers/pair.js';
import { hasVip, neighMac, primeArp, waitFor, type VipkeeperProc } from './helpers/vipkeeper-proc.js';

const PREFIX = '10.69.0';
const NET6 = 'fd00:69::';
const VIP = `${NET6}100`;
const INSTANCE = 'VI_V6';
const HOSTS = { d1: 11, d2: 12, client: 10 } as const;
const v6 = (host: number) => `${NET6}${host}`;

function conf(o: { unicast: boolean; self: number; peer: number; state: 'MASTER' | 'BACKUP'; priority: number }): string {
  return [
    'global_defs {',
    '    router_id v6_test',
    '}',
    `vrrp_instance ${INSTANCE} {`,
    `    state ${o.state}`,
    '    interface eth0',
    '    virtual_router_id 69',
    `    priority ${o.priority}`,
    '    advert_int 0.2',
    ...(o.unicast ? [`    unicast_src_ip ${v6(o.self)}`, '    unicast_peer {', `        ${v6(o.peer)}`, '    }'] : []),
    '    virtual_ipaddress {',
    `        ${VIP}/64 dev eth0`,
    '    }',
    '}',
    '',
  ].join('\n');
}

const KA_COMPLAINT = /checksum|invalid|bad |wrong|mismatch|ttl|hop limit|auth|unknown vrid|config(uration)? error/i;

describe('VRRPv3 over IPv6 with keepalived', () => {
  const pair = usePair({
    prefix: PREFIX,
    hosts: HOSTS,
    require: () => {
      requireNetnsRoot('IPv6 keepalived interop tests');
      requireNativeAddon();
      requireKeepalived('IPv6 keepalived interop tests');
      requireTshark('IPv6 keepalived interop tests');
    },
    setup: async () => {
      for (const [name, host] of Object.entries(HOSTS)) await lab.addAddress(pair.node(name).ns, 'eth0', `${v6(host)}/64`);
    },
    reset: async () => {
      for (const n of ['d1', 'd2'] as const) await lab.exec(node(n).ns, ['ip', '-6', 'addr', 'del', `${VIP}/64`, 'dev', 'eth0']).catch(() => undefined);
      await lab.exec(node('client').ns, ['ip', '-6', 'neigh', 'flush', 'dev', 'eth0']).catch(() => undefined);
    },
  });
  const lab = pair.lab;
  const node = (n: 'd1' | 'd2' | 'client') => pair.node(n);

  async function vipOnlyOn(owner: 'd1' | 'd2'): Promise<boolean> {
    const [a, b] = await Promise.all([hasVip(node('d1').ns, VIP), hasVip(node('d2').ns, VIP)]);
    return owner === 'd1' ? a && !b : b && !a;
  }
  function noComplaints(k: KeepalivedProc, p: VipkeeperProc): void {
    expect(k.lines().filter((l) => KA_COMPLAINT.test(l))).toEqual([]);
    expect(p.logs().filter((o) => o.msg === 'VRRP advert dropped' || o.msg === 'VRRP advert accepted with a warning')).toEqual([]);
  }
  /**
   * Starts a capture and resolves once it runs, with `flag`: the Router flag of the next unsolicited NA for the
   * VIP the client sees ('0' / '1' / 'False' / 'True'). Wrapped in an object: an async function returning a bare
   * promise would resolve only when that promise does, i.e. after the whole capture window.
   */
  async function naRouterFlag(): Promise<{ flag: Promise<string | undefined> }> {
    // only NAs whose target is the VIP (its last 32 bits at byte 60): the first NA on the LAN may be another address's
    const filter = `icmp6 and ip6[40] == 136 and ip6[60:4] == 0x${ipBytes(VIP).subarray(12).toString('hex')}`;
    const cap = await lab.capture(node('client').ns, 'eth0', filter, ['icmpv6.nd.na.flag.r', 'icmpv6.nd.na.target_address'], { count: 1, seconds: 15 });
    return { flag: cap.done.then((rows) => rows.find((r) => r[1] === VIP)?.[0]) };
  }

  for (const unicast of [false, true]) {
    const mode = unicast ? 'unicast' : 'multicast ff02::12';

    it(`${mode}: keepalived MASTER, vipkeeper BACKUP; SIGTERM keepalived, vipkeeper takes over`, async () => {
      const naKa = unicast ? undefined : (await naRouterFlag()).flag;
      const k = pair.ka('d1', pair.file(`ka-hi-${unicast}.conf`, conf({ unicast, self: 11, peer: 12, state: 'MASTER', priority: 150 })));
      await k.waitState(INSTANCE, 'MASTER', 15_000);
      const kaFlag = await naKa;
      const p = await pair.vk('d2', pair.file(`vk-lo-${unicast}.conf`, conf({ unicast, self: 12, peer: 11, state: 'BACKUP', priority: 100 })));
      await p.waitState(INSTANCE, 'BACKUP', 15_000);
      await waitFor('the VIP on d1 only', () => vipOnlyOn('d1'), 5000);
      // the client talks to the VIP (its entry names d1), so the takeover's NA has an entry to move
      await primeArp(lab, node('client').ns, VIP);
      expect(await neighMac(node('client').ns, VIP)).toBe(node('d1').mac);
      const naVk = unicast ? undefined : (await naRouterFlag()).flag;
      await k.terminate();
      pair.forget(k);
      await p.waitState(INSTANCE, 'MASTER', 5000);
      expect(p.transitions(INSTANCE).at(-1)?.reason).toMatch(/sent priority 0/);
      await waitFor('the VIP on d2 only', () => vipOnlyOn('d2'), 5000);
      if (!unicast) {
        // the Router flag follows the interface's IPv6 forwarding, as keepalived sets it
        const fwd = (await lab.exec(node('d2').ns, ['cat', '/proc/sys/net/ipv6/conf/eth0/forwarding'])).stdout.trim();
        expect(await naVk).toBe(fwd === '1' ? '1' : '0');
        // and as keepalived's own NA said, when the client saw one for the VIP in the window
        if (kaFlag !== undefined) expect(await naVk).toBe(kaFlag);
        else console.info('[vrrp-keepalived-ipv6] no NA for the VIP from keepalived seen at start; compared with forwarding only');
        await waitFor("the client's entry for the VIP naming d2", async () => (await neighMac(node('client').ns, VIP)) === node('d2').mac, 5000);
      }
      noComplaints(k, p);
    });

    it(`${mode}: vipkeeper MASTER, keepalived BACKUP; SIGTERM vipkeeper, keepalived takes over`, async () => {
      const p = await pair.vk('d1', pair.file(`vk-hi-${unicast}.conf`, conf({ unicast, self: 11, peer: 12, state: 'MASTER', priority: 150 })));
      await p.waitState(INSTANCE, 'MASTER', 15_000);
      const k = pair.ka('d2', pair.file(`ka-lo-${unicast}.conf`, conf({ unicast, self: 12, peer: 11, state: 'BACKUP', priority: 100 })));
      await k.waitState(INSTANCE, 'BACKUP', 15_000);
      await waitFor('the VIP on d1 only', () => vipOnlyOn('d1'), 5000);
      // keepalived accepts our adverts: it stays BACKUP for a while
      await new Promise((r) => setTimeout(r, 1500));
      expect(k.state(INSTANCE)).toBe('BACKUP');
      await p.terminate();
      pair.forget(p);
      await k.waitState(INSTANCE, 'MASTER', 5000);
      expect(k.lines().some((l) => /Backup received priority 0 advertisement/.test(l))).toBe(true);
      await waitFor('the VIP on d2 only', () => vipOnlyOn('d2'), 5000);
      noComplaints(k, p);
    });
  }
});

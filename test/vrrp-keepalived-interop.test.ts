/**
 * Wire interop with Debian's real keepalived (2.2.7 here): keepalived in one director namespace,
 * `vipkeeper run` in the other, both reading the SAME keepalived.conf text (only state and
 * priority differ), on the lab topology (bridge + d1 + d2 + client).
 *
 * For each variant — VRRPv3 multicast at 100 ms, VRRPv2 multicast with PASS auth at 1 s, VRRPv3
 * unicast at 100 ms, VRRPv2 unicast with PASS auth at 1 s — both roles are run:
 *
 * - keepalived high (150) / vipkeeper low (100): keepalived is elected, vipkeeper stays BACKUP;
 *   SIGTERM keepalived → vipkeeper takes over on its priority-0 advert; keepalived comes back and
 *   preempts, vipkeeper drops the VIP; keepalived crashes (SIGSTOP+SIGKILL) → vipkeeper takes
 *   over after its down timer.
 * - vipkeeper high / keepalived low: vipkeeper is elected, keepalived stays BACKUP; vipkeeper
 *   crashes (SIGSTOP+SIGKILL) → keepalived takes over after its down timer; vipkeeper comes back
 *   (removes its stale VIP) and preempts; SIGTERM vipkeeper → keepalived takes over on our
 *   priority-0 advert.
 *
 * VIP placement comes from `ip -n NS -j addr`, keepalived's state from its log
 * (`(VI_IOP) Entering MASTER STATE`), vipkeeper's from its JSON log. Neither side may log a
 * rejected advert (checksum, auth, TTL, interval, address list). Each takeover is checked by its
 * cause, as each side states it (a priority-0 advert, or the down timer running out after a
 * crash), and by order; how long takeovers take is measured against keepalived by
 * bench/failover (BENCHMARKS.md), not asserted here.
 *
 * Needs root, `ip netns`, the native addon and keepalived; without them it FAILS (never skips).
 */
import { describe, expect, it } from 'vitest';
import { requireKeepalived, type KeepalivedProc } from './helpers/keepalived-proc.js';
import { requireNativeAddon, requireNetnsRoot } from './helpers/netns.js';
import { usePair } from './helpers/pair.js';
import { hasVip, neighMac, primeArp, sleep, waitFor, type VipkeeperProc } from './helpers/vipkeeper-proc.js';

const PREFIX = '10.62.0';
const VIP = `${PREFIX}.100`;
const INSTANCE = 'VI_IOP';
const PASSWORD = 'vk-pass1';

interface Variant {
  name: string;
  version: 2 | 3;
  advertIntMs: number;
  unicast: boolean;
  auth: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'VRRPv3 multicast, 100 ms', version: 3, advertIntMs: 100, unicast: false, auth: false },
  { name: 'VRRPv2 multicast, PASS auth, 1 s', version: 2, advertIntMs: 1000, unicast: false, auth: true },
  { name: 'VRRPv3 unicast, 100 ms', version: 3, advertIntMs: 100, unicast: true, auth: false },
  { name: 'VRRPv2 unicast, PASS auth, 1 s', version: 2, advertIntMs: 1000, unicast: true, auth: true },
];

/** Master_Down_Interval of the priority-100 backup: 3 × advert + (256 − 100)/256 × advert. Sizes waits only. */
const masterDownMs = (v: Variant) => 3 * v.advertIntMs + (156 * v.advertIntMs) / 256;

function conf(v: Variant, o: { self: string; peer: string; state: 'MASTER' | 'BACKUP'; priority: number }): string {
  const lines = [
    'global_defs {',
    '    router_id interop_test',
    `    vrrp_version ${v.version}`,
    '}',
    '',
    `vrrp_instance ${INSTANCE} {`,
    `    state ${o.state}`,
    '    interface eth0',
    '    virtual_router_id 62',
    `    priority ${o.priority}`,
    `    advert_int ${v.advertIntMs / 1000}`,
  ];
  if (v.auth) lines.push('    authentication {', '        auth_type PASS', `        auth_pass ${PASSWORD}`, '    }');
  if (v.unicast) lines.push(`    unicast_src_ip ${o.self}`, '    unicast_peer {', `        ${o.peer}`, '    }');
  lines.push('    virtual_ipaddress {', `        ${VIP}/24 dev eth0`, '    }', '}', '');
  return lines.join('\n');
}

/** keepalived log lines that mean it rejected one of our packets (or got a config error). */
const KA_COMPLAINT = /checksum|invalid|bad |wrong|mismatch|ttl|auth|unknown vrid|config(uration)? error/i;

/** keepalived's BACKUP hearing a priority-0 advert, and its down timer running out. */
const KA_PRIO0 = new RegExp(`\\(${INSTANCE}\\) Backup received priority 0 advertisement`);
const KA_TIMEOUT = new RegExp(`\\(${INSTANCE}\\) Receive advertisement timeout`);
const KA_MASTER = new RegExp(`\\(${INSTANCE}\\) Entering MASTER STATE`);

/** keepalived's lines from `from` on that match one of `res`, as the index of the pattern matched. */
function kaSequence(lines: string[], from: number, res: RegExp[]): number[] {
  return lines.slice(from).flatMap((l) => {
    const i = res.findIndex((re) => re.test(l));
    return i < 0 ? [] : [i];
  });
}

describe('VRRP interop with keepalived', () => {
  let kaVersion = '';
  const pair = usePair({
    prefix: PREFIX,
    require: () => {
      requireNetnsRoot('keepalived interop tests');
      requireNativeAddon();
      kaVersion = requireKeepalived('keepalived interop tests');
    },
    reset: async () => {
      for (const n of [d1(), d2()]) await pair.lab.exec(n.ns, ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']).catch(() => undefined);
    },
    finally: () => console.log(`[vrrp-keepalived-interop] peer: ${kaVersion}`),
  });
  const lab = pair.lab;
  const d1 = () => pair.node('d1');
  const d2 = () => pair.node('d2');
  const client = () => pair.node('client');
  const vk = (node: 'd1' | 'd2', confPath: string) => pair.vk(node, confPath);
  const ka = (node: 'd1' | 'd2', confPath: string) => pair.ka(node, confPath);

  async function vipOnlyOn(owner: 'd1' | 'd2'): Promise<boolean> {
    const [a, b] = await Promise.all([hasVip(d1().ns, VIP), hasVip(d2().ns, VIP)]);
    return owner === 'd1' ? a && !b : b && !a;
  }
  function noComplaints(kp: KeepalivedProc, vp: VipkeeperProc): void {
    const bad = kp.lines().filter((l) => KA_COMPLAINT.test(l));
    expect(bad, `keepalived complained:\n${bad.join('\n')}`).toEqual([]);
    const dropped = vp.logs().filter((o) => o.msg === 'VRRP advert dropped' || o.msg === 'VRRP advert accepted with a warning');
    expect(dropped, `vipkeeper dropped adverts: ${JSON.stringify(dropped)}`).toEqual([]);
  }

  for (const v of VARIANTS) {
    const settleMs = Math.max(600, 2.5 * v.advertIntMs);
    const electMs = 4 * v.advertIntMs + 6000;

    it(`${v.name}: keepalived MASTER → SIGTERM → vipkeeper takes over → keepalived preempts back → crash → vipkeeper`, async () => {
      const kaConf = pair.file(`ka-high-${v.version}-${v.unicast}.conf`, conf(v, { self: d1().ip, peer: d2().ip, state: 'MASTER', priority: 150 }));
      const vkConf = pair.file(`vk-low-${v.version}-${v.unicast}.conf`, conf(v, { self: d2().ip, peer: d1().ip, state: 'BACKUP', priority: 100 }));
      let k = ka('d1', kaConf);
      await k.waitState(INSTANCE, 'MASTER', electMs);
      const p = await vk('d2', vkConf);
      await p.waitState(INSTANCE, 'BACKUP');
      await waitFor('the VIP on d1 only', () => vipOnlyOn('d1'), 5000);
      await sleep(settleMs); // vipkeeper keeps accepting keepalived's adverts
      expect(p.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP']);
      expect(await vipOnlyOn('d1')).toBe(true);

      // Graceful: keepalived sends priority 0, vipkeeper takes over because of it (after Skew_Time).
      await Promise.all([k.terminate(), waitFor('vipkeeper to take the VIP', () => hasVip(d2().ns, VIP), 5000, 5)]);
      expect(p.transitions(INSTANCE).map((t) => t.to)).toEqual(['BACKUP', 'MASTER']);
      expect(p.transitions(INSTANCE).at(-1)).toMatchObject({ to: 'MASTER', reason: `master ${d1().ip} sent priority 0; took over after Skew_Time` });
      await waitFor('the VIP on d2 only', () => vipOnlyOn('d2'), 5000);
      expect(k.lines().some((l) => l.includes('sent 0 priority'))).toBe(true);
      const kaLinesBefore = k.lines();
      pair.forget(k);

      // keepalived returns with the higher priority and preempts vipkeeper.
      k = ka('d1', kaConf);
      await k.waitState(INSTANCE, 'MASTER', electMs);
      await p.waitState(INSTANCE, 'BACKUP', 5000);
      expect(p.transitions(INSTANCE).at(-1)?.reason).toMatch(/higher priority advert from 10\.62\.0\.11 \(priority 150\)/);
      await waitFor('the VIP back on d1 only', () => vipOnlyOn('d1'), 5000);
      await lab.exec(client().ns, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
      await primeArp(lab, client().ns, VIP);
      expect(await neighMac(client().ns, VIP)).toBe(d1().mac);
      noComplaints(k, p);
      expect(kaLinesBefore.filter((l) => KA_COMPLAINT.test(l))).toEqual([]);

      // Crash of keepalived (parent and VRRP child frozen, then killed): no priority 0, so
      // vipkeeper takes over when its Master_Down_Interval runs out; the client follows its GARPs.
      await sleep(settleMs + Math.random() * v.advertIntMs);
      const before = p.transitions(INSTANCE).length;
      await k.crash();
      pair.forget(k);
      await waitFor('vipkeeper to take the VIP after the keepalived crash', () => hasVip(d2().ns, VIP), masterDownMs(v) + 3000);
      await waitFor('the client ARP entry to move to d2', async () => (await neighMac(client().ns, VIP)) === d2().mac, 5000);
      // One takeover, because keepalived's adverts stopped (a crash sends no priority 0).
      expect(p.transitions(INSTANCE).slice(before).map((t) => [t.from, t.to, t.reason])).toEqual([['BACKUP', 'MASTER', 'no advert received within Master_Down_Interval']]);
    }, 60_000);

    it(`${v.name}: vipkeeper MASTER → crash → keepalived takes over → vipkeeper preempts → SIGTERM → keepalived`, async () => {
      const vkConf = pair.file(`vk-high-${v.version}-${v.unicast}.conf`, conf(v, { self: d1().ip, peer: d2().ip, state: 'MASTER', priority: 150 }));
      const kaConf = pair.file(`ka-low-${v.version}-${v.unicast}.conf`, conf(v, { self: d2().ip, peer: d1().ip, state: 'BACKUP', priority: 100 }));
      let p = await vk('d1', vkConf);
      await p.waitState(INSTANCE, 'MASTER', electMs);
      const k = ka('d2', kaConf);
      await k.waitState(INSTANCE, 'BACKUP', 10_000);
      await waitFor('the VIP on d1 only', () => vipOnlyOn('d1'), 5000);
      await sleep(settleMs); // keepalived keeps accepting our adverts
      expect(k.state(INSTANCE)).toBe('BACKUP');
      expect(await vipOnlyOn('d1')).toBe(true);
      await lab.exec(client().ns, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
      await primeArp(lab, client().ns, VIP);
      expect(await neighMac(client().ns, VIP)).toBe(d1().mac);

      // Crash: no priority 0; keepalived waits out its Master_Down_Interval.
      const crashAt = k.lines().length;
      await p.crash();
      pair.forget(p);
      await waitFor('keepalived to take the VIP after the crash', () => hasVip(d2().ns, VIP), masterDownMs(v) + 3000);
      await k.waitState(INSTANCE, 'MASTER', 2000);
      await waitFor('the client ARP entry to move to d2', async () => (await neighMac(client().ns, VIP)) === d2().mac, 5000);
      // keepalived's own account: its receive timer ran out, then MASTER; no priority 0 was heard.
      expect(kaSequence(k.lines(), crashAt, [KA_PRIO0, KA_TIMEOUT, KA_MASTER]), k.lines().slice(crashAt).join('\n')).toEqual([1, 2]);

      // vipkeeper returns: removes its stale VIP at startup, then preempts keepalived.
      p = await vk('d1', vkConf);
      await p.waitState(INSTANCE, 'MASTER', electMs);
      await k.waitState(INSTANCE, 'BACKUP', 5000);
      await waitFor('the VIP back on d1 only', () => vipOnlyOn('d1'), 5000);
      expect(p.logs().some((o) => o.msg === 'VI_IOP: VIPs added')).toBe(true);

      // Graceful: our priority-0 advert makes keepalived take over (after its Skew_Time).
      await sleep(settleMs);
      const termAt = k.lines().length;
      await Promise.all([p.terminate(), waitFor('keepalived to take the VIP after our SIGTERM', () => hasVip(d2().ns, VIP), 5000, 5)]);
      pair.forget(p);
      await k.waitState(INSTANCE, 'MASTER', 2000);
      // keepalived's own account: it heard our priority 0 first, then became MASTER.
      const seq = kaSequence(k.lines(), termAt, [KA_PRIO0, KA_TIMEOUT, KA_MASTER]);
      expect(seq[0], k.lines().slice(termAt).join('\n')).toBe(0);
      expect(seq.at(-1)).toBe(2);
      await waitFor('the VIP on d2 only', () => vipOnlyOn('d2'), 5000);
      noComplaints(k, p);
    }, 60_000);
  }
});

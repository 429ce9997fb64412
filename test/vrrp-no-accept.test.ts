/**
 * no_accept with nftables, against keepalived: vipkeeper on d1 and keepalived on d2 read the same
 * keepalived.conf text (only priority differs), VRRPv3 with `no_accept`, on the lab LAN.
 *
 * - vipkeeper MASTER: its own table (`ip vipkeeper`) drops traffic to the VIP (the client's ping
 *   gets no answer, the node's own address still answers);
 * - SIGTERM vipkeeper: its table is gone; keepalived takes over and drops it the same way;
 * - vipkeeper back as BACKUP: the table is there, its set empty; keepalived crashes, vipkeeper
 *   takes over and the VIP is in the set again;
 * - with `accept` instead, the VIP answers and no table is made.
 *
 * Needs root, `ip netns`, the native addon, keepalived and nft; without them it FAILS.
 */
import { describe, expect, it } from 'vitest';
import { requireKeepalived } from './helpers/keepalived-proc.js';
import { requireNativeAddon, requireNetnsRoot } from './helpers/netns.js';
import { usePair } from './helpers/pair.js';
import { hasVip, waitFor, type VipkeeperProc } from './helpers/vipkeeper-proc.js';
import { which } from '../lab/require.js';

const PREFIX = '10.67.0';
const VIP = `${PREFIX}.100`;
const INSTANCE = 'VI_NA';

function conf(o: { priority: number; accept?: boolean }): string {
  return [
    'global_defs {',
    '    router_id no_accept_test',
    '    vrrp_version 3',
    '}',
    `vrrp_instance ${INSTANCE} {`,
    '    state BACKUP',
    '    interface eth0',
    '    virtual_router_id 67',
    `    priority ${o.priority}`,
    '    advert_int 0.2',
    `    ${o.accept ? 'accept' : 'no_accept'}`,
    '    virtual_ipaddress {',
    `        ${VIP}/24 dev eth0`,
    '    }',
    '}',
    '',
  ].join('\n');
}

describe('no_accept with nftables, against keepalived', () => {
  const pair = usePair({
    prefix: PREFIX,
    require: () => {
      requireNetnsRoot('no_accept tests');
      requireNativeAddon();
      requireKeepalived('no_accept tests');
      if (!which('nft')) throw new Error('no_accept tests need nft (nftables; scripts/setup.sh installs it)');
    },
  });
  const lab = pair.lab;
  const d1 = () => pair.node('d1');
  const d2 = () => pair.node('d2');
  const client = () => pair.node('client');

  async function answers(ip: string): Promise<boolean> {
    return lab.exec(client().ns, ['ping', '-c', '1', '-W', '1', '-q', ip]).then(
      () => true,
      () => false,
    );
  }
  /** The elements of `table`'s vips set in `ns` (undefined: no such table). */
  async function dropSet(ns: string, table = 'vipkeeper'): Promise<string[] | undefined> {
    try {
      const r = await lab.exec(ns, ['nft', '-j', 'list', 'set', 'ip', table, 'vips']);
      const set = (JSON.parse(r.stdout) as { nftables: { set?: { elem?: string[] } }[] }).nftables.find((x) => x.set)?.set;
      return set?.elem ?? [];
    } catch {
      return undefined;
    }
  }
  const vk = (priority: number, accept = false): Promise<VipkeeperProc> => pair.vk('d1', pair.file(`vk-${priority}-${accept}.conf`, conf({ priority, accept })));

  it('drops traffic to the VIP it holds, in step with mastership, as keepalived does', async () => {
    let p = await vk(150);
    await p.waitState(INSTANCE, 'MASTER', 15_000);
    const k = pair.ka('d2', pair.file('ka.conf', conf({ priority: 100 })));
    await k.waitState(INSTANCE, 'BACKUP', 15_000);
    await waitFor('the VIP in the drop set', async () => (await dropSet(d1().ns))?.includes(VIP) ?? false, 5000);
    expect(await hasVip(d1().ns, VIP)).toBe(true);
    expect(await answers(VIP)).toBe(false);
    expect(await answers(d1().ip)).toBe(true);

    // vipkeeper stops: its table goes; keepalived takes over and drops the same way
    await p.terminate();
    pair.forget(p);
    expect(await dropSet(d1().ns)).toBeUndefined();
    await k.waitState(INSTANCE, 'MASTER', 5000);
    await waitFor('the VIP on d2', () => hasVip(d2().ns, VIP), 5000);
    expect(await dropSet(d2().ns, 'keepalived')).toContain(VIP);
    expect(await answers(VIP)).toBe(false);

    // back as BACKUP: the table is there, empty; keepalived crashes, vipkeeper takes over
    p = await vk(50);
    await p.waitState(INSTANCE, 'BACKUP', 15_000);
    await waitFor('the (empty) drop set', async () => (await dropSet(d1().ns)) !== undefined, 5000);
    expect(await dropSet(d1().ns)).toEqual([]);
    await k.crash();
    pair.forget(k);
    await p.waitState(INSTANCE, 'MASTER', 10_000);
    await waitFor('the VIP in the drop set again', async () => (await dropSet(d1().ns))?.includes(VIP) ?? false, 5000);
    expect(await answers(VIP)).toBe(false);
  });

  it('with accept, the VIP answers and no table is made', async () => {
    const p = await vk(150, true);
    await p.waitState(INSTANCE, 'MASTER', 15_000);
    await waitFor('the VIP on d1', () => hasVip(d1().ns, VIP), 5000);
    expect(await answers(VIP)).toBe(true);
    expect(await dropSet(d1().ns)).toBeUndefined();
  });
});

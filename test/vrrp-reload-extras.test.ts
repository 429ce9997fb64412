/**
 * What a reload (SIGHUP) does beyond the instances, as keepalived 2.2.7 does it, with keepalived
 * as the referee (each daemon alone on its node, one after the other, same keepalived.conf texts):
 *
 * - a reload that drops an instance's use_vmac, or renames its VMAC, removes the old VMAC
 *   interface (vipkeeper used to leave it behind);
 * - static_ipaddress / static_routes / static_rules follow the new config: the ones gone are
 *   removed, the new ones added, the ones kept stay;
 * - a static address without dev goes on default_interface.
 *
 * Needs root, `ip netns`, the native addon and keepalived; without them it FAILS.
 */
import { describe, expect, it } from 'vitest';
import { requireKeepalived } from './helpers/keepalived-proc.js';
import { requireNativeAddon, requireNetnsRoot } from './helpers/netns.js';
import { usePair } from './helpers/pair.js';
import { waitFor } from './helpers/vipkeeper-proc.js';

const PREFIX = '10.70.0';
const INSTANCE = 'VI_RX';
const VIP = `${PREFIX}.100`;

type Impl = 'vipkeeper' | 'keepalived';

function conf(o: { vmac?: string | false; statics?: { ips: string[]; routes: string[]; rules: string[] }; global?: string[] }): string {
  const block = (name: string, lines: string[]) => (lines.length ? [`${name} {`, ...lines.map((l) => `    ${l}`), '}'] : []);
  return [
    'global_defs {',
    '    router_id reload_extras',
    '    vrrp_version 3',
    ...(o.global ?? []).map((l) => `    ${l}`),
    '}',
    ...block('static_ipaddress', o.statics?.ips ?? []),
    ...block('static_routes', o.statics?.routes ?? []),
    ...block('static_rules', o.statics?.rules ?? []),
    `vrrp_instance ${INSTANCE} {`,
    '    state MASTER',
    '    interface eth0',
    '    virtual_router_id 70',
    '    priority 150',
    '    advert_int 0.2',
    ...(o.vmac === undefined || o.vmac === false ? [] : [o.vmac === '' ? '    use_vmac' : `    use_vmac ${o.vmac}`]),
    '    virtual_ipaddress {',
    `        ${VIP}/24`,
    '    }',
    '}',
    '',
  ].join('\n');
}

interface Link {
  ifname: string;
  linkinfo?: { info_kind?: string };
}
interface Addr {
  ifname: string;
  addr_info?: { local?: string; prefixlen?: number }[];
}

describe('reload: VMACs and static addresses, routes and rules, with keepalived as the referee', () => {
  const pair = usePair({
    prefix: PREFIX,
    hosts: { d1: 11 },
    require: () => {
      requireNetnsRoot('reload extras tests');
      requireNativeAddon();
      requireKeepalived('reload extras tests');
    },
    reset: async () => {
      for (const l of [...(await macvlans()), 'dflt0']) await lab.exec(node().ns, ['ip', 'link', 'del', l]).catch(() => undefined);
    },
  });
  const lab = pair.lab;
  const node = () => pair.node('d1');

  async function macvlans(): Promise<string[]> {
    const r = await lab.exec(node().ns, ['ip', '-j', '-d', 'link', 'show']);
    return (JSON.parse(r.stdout) as Link[]).filter((l) => l.linkinfo?.info_kind === 'macvlan').map((l) => l.ifname).sort();
  }
  async function addrs(): Promise<string[]> {
    const r = await lab.exec(node().ns, ['ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0']);
    return (JSON.parse(r.stdout) as Addr[]).flatMap((a) => (a.addr_info ?? []).map((i) => `${i.local}/${i.prefixlen}`)).filter((a) => a.startsWith('10.71.')).sort();
  }
  async function vipOn(dev: string): Promise<boolean> {
    const r = await lab.exec(node().ns, ['ip', '-j', '-4', 'addr', 'show', 'dev', dev]).catch(() => ({ stdout: '[]' }));
    return (JSON.parse(r.stdout || '[]') as Addr[]).some((a) => a.addr_info?.some((i) => i.local === VIP));
  }
  async function routes(): Promise<string[]> {
    const r = await lab.exec(node().ns, ['ip', '-j', 'route', 'show', 'table', 'all', 'proto', '18']);
    return (JSON.parse(r.stdout || '[]') as { dst: string; table?: string }[]).map((x) => `${x.dst} table ${x.table ?? 'main'}`).sort();
  }
  async function rules(): Promise<string[]> {
    const r = await lab.exec(node().ns, ['ip', '-j', 'rule', 'show']);
    return (JSON.parse(r.stdout || '[]') as { priority: number; protocol?: string; src?: string; srclen?: number; table: string }[])
      .filter((x) => x.protocol === 'keepalived' || x.protocol === '18')
      .map((x) => `${x.priority} from ${x.src}/${x.srclen ?? 32} table ${x.table}`)
      .sort();
  }

  /** Starts `impl` on `first`, waits for MASTER; returns a function that reloads to another text. */
  async function start(impl: Impl, first: string): Promise<(text: string) => void> {
    const file = pair.file(`${impl}.conf`, first);
    let pid: number;
    if (impl === 'keepalived') {
      const k = pair.ka('d1', file);
      await k.waitState(INSTANCE, 'MASTER', 15_000);
      pid = k.pid;
    } else {
      const p = await pair.vk('d1', file);
      await p.waitState(INSTANCE, 'MASTER', 15_000);
      pid = p.pid;
    }
    return (text) => {
      pair.file(`${impl}.conf`, text);
      process.kill(pid, 'SIGHUP');
    };
  }

  async function settles<T>(what: string, read: () => Promise<T>, want: T): Promise<void> {
    let last: T | undefined;
    await waitFor(
      () => `${what}: want ${JSON.stringify(want)}, have ${JSON.stringify(last)}`,
      async () => {
        last = await read();
        return JSON.stringify(last) === JSON.stringify(want);
      },
      10_000,
    );
  }

  for (const impl of ['keepalived', 'vipkeeper'] as const) {
    it(`${impl}: a reload that renames the VMAC, then drops use_vmac, removes the old VMAC`, async () => {
      const reload = await start(impl, conf({ vmac: '' }));
      await settles('the VMAC', macvlans, ['vrrp.70']);
      reload(conf({ vmac: 'vmac70' }));
      await settles('the renamed VMAC only', macvlans, ['vmac70']);
      // keepalived 2.2.7 logs "setting VIPs" after the rename but the VIP is on neither VMAC
      // (seen in this lab); vipkeeper's new instance takes over on the new VMAC
      if (impl === 'vipkeeper') await settles('the VIP on the renamed VMAC', () => vipOn('vmac70'), true);
      reload(conf({ vmac: false }));
      await settles('no VMAC', macvlans, []);
      await settles('the VIP on eth0', () => vipOn('eth0'), true);
    }, 60_000);

    it(`${impl}: a reload adds and removes static addresses, routes and rules to match the new config`, async () => {
      const reload = await start(
        impl,
        conf({
          statics: {
            ips: ['10.71.1.1/24 dev eth0', '10.71.2.1/24 dev eth0'],
            routes: [`10.99.0.0/16 via ${PREFIX}.1 dev eth0`, `10.98.0.0/16 via ${PREFIX}.1 dev eth0 table 100`],
            rules: ['from 10.71.1.1 table 100 priority 100', 'from 10.71.2.1 table 100 priority 101'],
          },
        }),
      );
      await settles('the first statics', async () => [await addrs(), await routes(), await rules()], [
        ['10.71.1.1/24', '10.71.2.1/24'],
        ['10.98.0.0/16 table 100', '10.99.0.0/16 table main'],
        ['100 from 10.71.1.1/32 table 100', '101 from 10.71.2.1/32 table 100'],
      ]);
      reload(
        conf({
          statics: {
            ips: ['10.71.2.1/24 dev eth0', '10.71.3.1/24 dev eth0'],
            routes: [`10.98.0.0/16 via ${PREFIX}.1 dev eth0 table 100`, `10.97.0.0/16 via ${PREFIX}.1 dev eth0`],
            rules: ['from 10.71.2.1 table 100 priority 101'],
          },
        }),
      );
      await settles('the reloaded statics', async () => [await addrs(), await routes(), await rules()], [
        ['10.71.2.1/24', '10.71.3.1/24'],
        ['10.97.0.0/16 table main', '10.98.0.0/16 table 100'],
        ['101 from 10.71.2.1/32 table 100'],
      ]);
      reload(conf({}));
      await settles('no statics', async () => [await addrs(), await routes(), await rules()], [[], [], []]);
    }, 60_000);

    it(`${impl}: a static address without dev goes on default_interface`, async () => {
      await lab.exec(node().ns, ['ip', 'link', 'add', 'dflt0', 'type', 'veth', 'peer', 'name', 'dflt0p']).catch(() => undefined);
      await lab.exec(node().ns, ['ip', 'link', 'set', 'dflt0', 'up']);
      await start(impl, conf({ global: ['default_interface dflt0'], statics: { ips: ['10.71.9.1/24'], routes: [], rules: [] } }));
      await settles('the static address on dflt0', async () => {
        const r = await lab.exec(node().ns, ['ip', '-j', '-4', 'addr', 'show', 'dev', 'dflt0']);
        return (JSON.parse(r.stdout) as Addr[]).flatMap((a) => (a.addr_info ?? []).map((i) => `${i.local}/${i.prefixlen}`));
      }, ['10.71.9.1/24']);
    }, 60_000);
  }
});

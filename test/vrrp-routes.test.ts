/**
 * virtual_routes / virtual_rules follow mastership, static_ipaddress / static_routes /
 * static_rules hold from start to stop, and what vipkeeper installs is what keepalived installs
 * from the same keepalived.conf text: vipkeeper on d1, keepalived on d2 (only state and priority
 * differ), on the lab LAN.
 *
 * - vipkeeper MASTER: its virtual routes (via, dev, metric, table, src, scope, blackhole,
 *   unreachable, prohibit, no_track) and rules (from, to, fwmark, table, priority) are in, with
 *   protocol 18 ("keepalived"), and so are the statics;
 * - keepalived (higher priority) preempts: vipkeeper's virtual routes and rules are gone, its
 *   statics stay; keepalived's routes and rules on d2 are the same as vipkeeper's were on d1;
 * - keepalived stops: vipkeeper is MASTER again and its routes and rules are back;
 * - vipkeeper stops: nothing of its own is left (routes, rules, static address).
 *
 * Needs root, `ip netns`, the native addon and keepalived; without them it FAILS.
 */
import { describe, expect, it } from 'vitest';
import { requireKeepalived } from './helpers/keepalived-proc.js';
import { requireNativeAddon, requireNetnsRoot } from './helpers/netns.js';
import { usePair } from './helpers/pair.js';
import { hasVip, waitFor } from './helpers/vipkeeper-proc.js';

const PREFIX = '10.66.0';
const VIP = `${PREFIX}.100`;
const STATIC_IP = '10.66.1.1';
const INSTANCE = 'VI_RT';

function conf(o: { state: 'MASTER' | 'BACKUP'; priority: number }): string {
  return [
    'global_defs {',
    '    router_id routes_test',
    '    vrrp_version 3',
    '}',
    'static_ipaddress {',
    `    ${STATIC_IP}/24 dev eth0`,
    '}',
    'static_routes {',
    `    10.77.0.0/16 via ${PREFIX}.1 dev eth0`,
    '}',
    'static_rules {',
    '    from 10.77.0.0/16 table 200 priority 200',
    '}',
    `vrrp_instance ${INSTANCE} {`,
    `    state ${o.state}`,
    '    interface eth0',
    '    virtual_router_id 66',
    `    priority ${o.priority}`,
    '    advert_int 0.2',
    '    virtual_ipaddress {',
    `        ${VIP}/24 dev eth0`,
    '    }',
    '    virtual_routes {',
    `        10.88.0.0/16 via ${PREFIX}.1 dev eth0 metric 5`,
    `        src ${VIP} to 10.90.0.0/16 dev eth0 table 100 scope link no_track`,
    '        blackhole 10.89.0.0/16',
    '        unreachable 10.92.0.0/16 table 100',
    '        prohibit 10.93.0.0/16 metric 7',
    '    }',
    '    virtual_rules {',
    `        from ${VIP} table 100 priority 100`,
    '        to 10.91.0.0/16 table 100 priority 101',
    '        fwmark 7 table 100 priority 102',
    '    }',
    '}',
    '',
  ].join('\n');
}

interface Route {
  type?: string;
  dst?: string;
  gateway?: string;
  dev?: string;
  table?: string;
  metric?: number;
  prefsrc?: string;
  scope?: string;
  protocol?: string;
}
interface Rule {
  priority?: number;
  src?: string;
  srclen?: number;
  dst?: string;
  dstlen?: number;
  fwmark?: string;
  table?: string;
  protocol?: string;
}

describe('virtual and static routes and rules, against keepalived', () => {
  const pair = usePair({
    prefix: PREFIX,
    hosts: { d1: 11, d2: 12 },
    require: () => {
      requireNetnsRoot('route tests');
      requireNativeAddon();
      requireKeepalived('route tests');
    },
  });
  const lab = pair.lab;
  const d1 = () => pair.node('d1');
  const d2 = () => pair.node('d2');

  /** Routes with protocol 18 (keepalived's), every table, as comparable text. */
  async function routes(ns: string): Promise<string[]> {
    const r = await lab.exec(ns, ['ip', '-j', 'route', 'show', 'table', 'all', 'proto', '18']);
    return (JSON.parse(r.stdout || '[]') as Route[])
      .map((x) => [x.type ?? 'unicast', x.dst, x.gateway && `via ${x.gateway}`, x.dev && `dev ${x.dev}`, `table ${x.table ?? 'main'}`, x.metric !== undefined && `metric ${x.metric}`, x.prefsrc && `src ${x.prefsrc}`, x.scope && `scope ${x.scope}`].filter(Boolean).join(' '))
      .sort();
  }
  async function rules(ns: string): Promise<string[]> {
    const r = await lab.exec(ns, ['ip', '-j', 'rule', 'show']);
    return (JSON.parse(r.stdout || '[]') as Rule[])
      .filter((x) => x.protocol === 'keepalived' || x.protocol === '18')
      .map((x) => [
        x.priority,
        x.src && x.src !== 'all' && `from ${x.src}${x.srclen !== undefined ? `/${x.srclen}` : ''}`,
        x.dst && x.dst !== 'all' && `to ${x.dst}${x.dstlen !== undefined ? `/${x.dstlen}` : ''}`, x.fwmark && `fwmark ${x.fwmark}`, `table ${x.table}`].filter(Boolean).join(' '))
      .sort();
  }

  it('adds the virtual ones on MASTER only, the static ones from start to stop, as keepalived does', async () => {
    const STATIC_ROUTE = `unicast 10.77.0.0/16 via ${PREFIX}.1 dev eth0 table main`;
    const STATIC_RULE = '200 from 10.77.0.0/16 table 200';
    const VIRTUAL_ROUTES = [
      'blackhole 10.89.0.0/16 table main',
      'prohibit 10.93.0.0/16 table main metric 7',
      `unicast 10.88.0.0/16 via ${PREFIX}.1 dev eth0 table main metric 5`,
      `unicast 10.90.0.0/16 dev eth0 table 100 src ${VIP} scope link`,
      'unreachable 10.92.0.0/16 table 100',
    ];
    const VIRTUAL_RULES = [`100 from ${VIP} table 100`, '101 to 10.91.0.0/16 table 100', '102 fwmark 0x7 table 100'];

    const vk = await pair.vk('d1', pair.file('vk.conf', conf({ state: 'MASTER', priority: 100 })));
    await vk.waitState(INSTANCE, 'MASTER', 15_000);
    await waitFor('the virtual routes on d1', async () => (await routes(d1().ns)).length === VIRTUAL_ROUTES.length + 1, 5000);
    expect(await routes(d1().ns)).toEqual([...VIRTUAL_ROUTES, STATIC_ROUTE].sort());
    expect(await rules(d1().ns)).toEqual([...VIRTUAL_RULES, STATIC_RULE].sort());
    expect(await hasVip(d1().ns, STATIC_IP)).toBe(true);

    // keepalived, higher, preempts: vipkeeper's virtual routes and rules go, its statics stay
    const ka = pair.ka('d2', pair.file('ka.conf', conf({ state: 'MASTER', priority: 200 })));
    await ka.waitState(INSTANCE, 'MASTER', 15_000);
    await vk.waitState(INSTANCE, 'BACKUP', 5000);
    await waitFor('the virtual routes gone from d1', async () => (await routes(d1().ns)).length === 1 && (await rules(d1().ns)).length === 1, 5000);
    expect(await routes(d1().ns)).toEqual([STATIC_ROUTE]);
    expect(await rules(d1().ns)).toEqual([STATIC_RULE]);
    expect(await hasVip(d1().ns, STATIC_IP)).toBe(true);
    // keepalived installed the same from the same text
    await waitFor('keepalived routes on d2', async () => (await routes(d2().ns)).length === VIRTUAL_ROUTES.length + 1, 5000);
    expect(await routes(d2().ns)).toEqual([...VIRTUAL_ROUTES, STATIC_ROUTE].sort());
    expect(await rules(d2().ns)).toEqual([...VIRTUAL_RULES, STATIC_RULE].sort());

    // keepalived stops: vipkeeper takes over and puts them back
    await ka.terminate();
    pair.forget(ka);
    await vk.waitState(INSTANCE, 'MASTER', 5000);
    await waitFor('the virtual routes back on d1', async () => (await routes(d1().ns)).length === VIRTUAL_ROUTES.length + 1, 5000);
    expect(await routes(d1().ns)).toEqual([...VIRTUAL_ROUTES, STATIC_ROUTE].sort());
    expect(await rules(d1().ns)).toEqual([...VIRTUAL_RULES, STATIC_RULE].sort());

    // vipkeeper stops: nothing of its own is left
    await vk.terminate();
    pair.forget(vk);
    expect(await routes(d1().ns)).toEqual([]);
    expect(await rules(d1().ns)).toEqual([]);
    expect(await hasVip(d1().ns, STATIC_IP)).toBe(false);
    expect(vk.logs().filter((o) => o.level === 'error' || o.level === 50)).toEqual([]);
  });
});

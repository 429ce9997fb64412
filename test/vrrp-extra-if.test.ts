/**
 * VIPs on an interface other than the instance's own, against Debian's keepalived 2.2.7 reading
 * the same keepalived.conf text (each daemon alone on its node, one after the other):
 *
 * - `garp_extra_if all 1`: while MASTER, one gratuitous ARP a second goes out on the extra
 *   interface, for the first VIP on it only (keepalived's vrrp_send_vmac_update); without `all`
 *   (the extra interface is not a VMAC) none does. A sniffer namespace on the far end of the
 *   extra interface's veth counts them.
 * - VIP tracking: the instance follows its VIPs' interfaces (keepalived adds each as a tracked
 *   interface); setting the extra interface down sends it to FAULT, and back up to MASTER. A VIP
 *   with `no_track` opts out: the instance stays MASTER.
 *
 * Needs root, `ip netns`, the native addon, keepalived and tshark; without them it FAILS.
 */
import { describe, expect, it } from 'vitest';
import { requireKeepalived } from './helpers/keepalived-proc.js';
import { requireNativeAddon, requireNetnsRoot } from './helpers/netns.js';
import { usePair } from './helpers/pair.js';
import { sleep } from './helpers/vipkeeper-proc.js';
import { requireTshark } from '../lab/require.js';

const PREFIX = '10.67.0';
const INSTANCE = 'VI_EXTRA';
const EXTRA = 'ext0';
const EXTRA_VIP1 = '10.68.0.1';
const EXTRA_VIP2 = '10.68.0.2';

type Impl = 'vipkeeper' | 'keepalived';

function conf(o: { garpExtraIf?: string; noTrack?: boolean }): string {
  return [
    'global_defs {',
    '    router_id extra_if_test',
    '    vrrp_version 3',
    '}',
    `vrrp_instance ${INSTANCE} {`,
    '    state MASTER',
    '    interface eth0',
    '    virtual_router_id 67',
    '    priority 150',
    '    advert_int 0.2',
    // one GARP at takeover, no second burst: what the sniffer sees later is the periodic ones
    '    garp_master_delay 0',
    '    garp_master_repeat 1',
    ...(o.garpExtraIf ? [`    garp_extra_if ${o.garpExtraIf}`] : []),
    '    virtual_ipaddress {',
    `        ${PREFIX}.100/24`,
    `        ${EXTRA_VIP1}/24 dev ${EXTRA}${o.noTrack ? ' no_track' : ''}`,
    `        ${EXTRA_VIP2}/24 dev ${EXTRA}${o.noTrack ? ' no_track' : ''}`,
    '    }',
    '}',
    '',
  ].join('\n');
}

describe('VIPs on another interface, with keepalived as the referee', () => {
  let sniff = '';
  const pair = usePair({
    prefix: PREFIX,
    hosts: { d1: 11 },
    require: () => {
      requireNetnsRoot('extra-interface VIP tests');
      requireNativeAddon();
      requireKeepalived('extra-interface VIP tests');
      requireTshark('extra-interface VIP tests');
    },
    setup: async () => {
      sniff = await lab.addNamespace();
      await lab.addVeth(node().ns, EXTRA, sniff, 'x0');
    },
    reset: async () => {
      await lab.exec(node().ns, ['ip', 'link', 'set', EXTRA, 'up']);
      await lab.exec(node().ns, ['ip', 'addr', 'flush', 'dev', EXTRA]);
      await lab.exec(node().ns, ['ip', 'addr', 'del', `${PREFIX}.100/24`, 'dev', 'eth0']).catch(() => undefined);
    },
  });
  const lab = pair.lab;
  const node = () => pair.node('d1');

  async function start(impl: Impl, text: string, name: string): Promise<{ waitState(s: 'MASTER' | 'FAULT' | 'BACKUP', ms?: number): Promise<unknown>; reasons(): string[] }> {
    const file = pair.file(`${impl}-${name}.conf`, text);
    if (impl === 'keepalived') {
      const k = pair.ka('d1', file);
      return { waitState: (s, ms = 15_000) => k.waitState(INSTANCE, s, ms), reasons: () => [] };
    }
    const p = await pair.vk('d1', file);
    return { waitState: (s, ms = 15_000) => p.waitState(INSTANCE, s, ms), reasons: () => p.transitions(INSTANCE).map((t) => t.reason) };
  }

  /** The sender addresses of the ARP packets seen on the extra interface's far end for `seconds`. */
  async function arpSenders(seconds: number): Promise<string[]> {
    const cap = await lab.capture(sniff, 'x0', 'arp', ['arp.src.proto_ipv4'], { count: 100, seconds });
    return (await cap.done).map((f) => f[0]!);
  }

  for (const impl of ['keepalived', 'vipkeeper'] as const) {
    it(`${impl}: garp_extra_if all 1 sends one GARP a second on the extra interface, for its first VIP only`, async () => {
      const d = await start(impl, conf({ garpExtraIf: 'all 1' }), 'garp-all');
      await d.waitState('MASTER');
      await sleep(1500); // past the takeover's GARP
      const senders = await arpSenders(4.5);
      expect(senders.every((s) => s === EXTRA_VIP1), senders.join(' ')).toBe(true);
      // about four in 4.5 s (one per second); the timing itself is not asserted
      expect(senders.length).toBeGreaterThanOrEqual(3);
      expect(senders.length).toBeLessThanOrEqual(6);
    }, 60_000);

    it(`${impl}: garp_extra_if 1 without all sends nothing on an interface that is not a VMAC`, async () => {
      const d = await start(impl, conf({ garpExtraIf: '1' }), 'garp-noall');
      await d.waitState('MASTER');
      await sleep(1500);
      expect(await arpSenders(3.5)).toEqual([]);
    }, 60_000);

    it(`${impl}: the extra interface going down sends the instance to FAULT, and back up to MASTER`, async () => {
      const d = await start(impl, conf({}), 'track');
      await d.waitState('MASTER');
      await lab.exec(node().ns, ['ip', 'link', 'set', EXTRA, 'down']);
      await d.waitState('FAULT', 10_000);
      if (impl === 'vipkeeper') expect(d.reasons().at(-1)).toContain(`VIP interface ${EXTRA} down`);
      await lab.exec(node().ns, ['ip', 'link', 'set', EXTRA, 'up']);
      await d.waitState('MASTER', 10_000);
    }, 60_000);

    it(`${impl}: with no_track on its VIPs, the extra interface going down changes nothing`, async () => {
      const d = await start(impl, conf({ noTrack: true }), 'notrack');
      await d.waitState('MASTER');
      await lab.exec(node().ns, ['ip', 'link', 'set', EXTRA, 'down']);
      await sleep(2000); // ten advert intervals: a FAULT would have shown
      await d.waitState('MASTER', 1000);
    }, 60_000);
  }
});

/**
 * The Announcer between two network namespaces: VIPs are added on A with
 * AddressOps, announced from a child in A (test/fixtures/net-announce.mjs;
 * a process cannot switch namespaces), captured in B with tshark, and B's
 * neighbour table must move to A's MAC ("the client's ARP entry moves").
 * Needs root, `ip netns`, the built addon and tshark: without them the suite
 * FAILS with a clear message (it never skips). No traffic leaves the namespaces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Vip } from '../src/config/schema.js';
import { NetnsLab, requireNativeAddon, requireNetnsRoot, requireTshark } from './helpers/netns.js';

const FIXTURE = 'test/fixtures/net-announce.mjs';
const WRONG_MAC = '02:00:00:00:00:01';
const VIP4: Vip = { address: '10.234.0.100', prefix: 32 };
const VIP6: Vip = { address: 'fd00:234::100', prefix: 128, nodad: true };
// arp[14:4] = sender protocol address 10.234.0.100
const GARP_FILTER = 'arp and arp[14:4] = 0x0aea0064';
const NA_FILTER = 'icmp6 and ip6[40] = 136 and src host fd00:234::100';

describe('Announcer: GARP / unsolicited NA seen from another namespace', () => {
  const lab = new NetnsLab();
  let nsA = '';
  let nsB = '';
  let macA = '';

  beforeAll(async () => {
    requireNetnsRoot('net announce tests');
    requireNativeAddon();
    requireTshark('net announce tests');
    nsA = await lab.addNamespace();
    nsB = await lab.addNamespace();
    await lab.addVeth(nsA, 'vka0', nsB, 'vkb0');
    await lab.addAddress(nsA, 'vka0', '10.234.0.1/24');
    await lab.addAddress(nsB, 'vkb0', '10.234.0.2/24');
    await lab.addAddress(nsA, 'vka0', 'fd00:234::1/64');
    await lab.addAddress(nsB, 'vkb0', 'fd00:234::2/64');
    // AddressOps talks rtnetlink in its own namespace: run it in a child in A
    const add = lab.spawnNode(nsA, 'test/fixtures/net-addresses-guest.ts', { steps: [{ op: 'addVips', vips: [VIP4, VIP6], dev: 'vka0' }] });
    await add.waitExit();
    expect(add.jsonLines()[0]?.result, add.describe()).toEqual({ ok: true, errors: [] });
    await lab.linkLocal(nsA, 'vka0');
    await lab.linkLocal(nsB, 'vkb0');
    macA = await lab.mac(nsA, 'vka0');
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  /** Give B an entry for `ip` pointing elsewhere, so only an announcement can move it. */
  async function wrongNeighbour(ip: string): Promise<void> {
    await lab.exec(nsB, ['ip', 'neigh', 'replace', ip, 'lladdr', WRONG_MAC, 'dev', 'vkb0', 'nud', 'stale']);
    expect(await neighbourMac(ip)).toBe(WRONG_MAC);
  }

  async function neighbourMac(ip: string): Promise<string> {
    const { stdout } = await lab.exec(nsB, ['ip', '-j', 'neigh', 'show', ip, 'dev', 'vkb0']);
    const [n] = JSON.parse(stdout) as Array<{ lladdr?: string }>;
    return n?.lladdr ?? '';
  }

  async function announce(arg: Record<string, unknown>): Promise<{ sent: number; errors: string[]; rounds: number }> {
    const p = lab.spawnNode(nsA, FIXTURE, { dev: 'vka0', ...arg });
    await p.waitExit();
    const [mac, result] = p.jsonLines<Record<string, unknown>>();
    expect(mac, p.describe()).toEqual({ mac: macA });
    return result as { sent: number; errors: string[]; rounds: number };
  }

  it('sends `repeat` gratuitous ARP requests, sender = target = VIP, intervalMs apart; B’s entry moves', async () => {
    await wrongNeighbour(VIP4.address);
    const fields = [
      'frame.time_epoch', 'eth.dst', 'eth.src', 'eth.type', 'arp.opcode', 'arp.src.hw_mac', 'arp.src.proto_ipv4',
      'arp.dst.hw_mac', 'arp.dst.proto_ipv4', 'arp.isgratuitous',
    ];
    const cap = await lab.capture(nsB, 'vkb0', GARP_FILTER, fields, { count: 2, seconds: 15 });
    expect(await announce({ vips: [VIP4], repeat: 2, intervalMs: 400 })).toEqual({ sent: 2, errors: [], rounds: 2 });
    const rows = await cap.done;
    expect(rows, cap.proc.describe()).toHaveLength(2);
    for (const row of rows) {
      expect(row.slice(1)).toEqual([
        'ff:ff:ff:ff:ff:ff', macA, '0x0806', '1', macA, '10.234.0.100', 'ff:ff:ff:ff:ff:ff', '10.234.0.100', '1',
      ]);
    }
    const gapMs = (Number(rows[1]![0]) - Number(rows[0]![0])) * 1000;
    expect(gapMs).toBeGreaterThanOrEqual(350);
    expect(await neighbourMac(VIP4.address)).toBe(macA);
  });

  const naFields = [
    'eth.dst', 'eth.src', 'ipv6.src', 'ipv6.dst', 'ipv6.hlim', 'icmpv6.type', 'icmpv6.checksum.status',
    'icmpv6.nd.na.flag.r', 'icmpv6.nd.na.flag.s', 'icmpv6.nd.na.flag.o', 'icmpv6.nd.na.target_address',
    'icmpv6.opt.type', 'icmpv6.opt.linkaddr',
  ];

  for (const na of ['frame', 'icmp6'] as const) {
    it(`sends an unsolicited NA (${na}) to ff02::1, hop limit 255, Override, TLLA; B’s entry moves`, async () => {
      await wrongNeighbour(VIP6.address);
      const cap = await lab.capture(nsB, 'vkb0', NA_FILTER, naFields, { count: 1 });
      expect(await announce({ vips: [VIP6], na })).toEqual({ sent: 1, errors: [], rounds: 1 });
      const rows = await cap.done;
      expect(rows, cap.proc.describe()).toHaveLength(1);
      // checksum.status 1 = good; flags R=0 (no forwarding), S=0, O=1; option 2 = target link-layer address
      expect(rows[0]).toEqual([
        '33:33:00:00:00:01', macA, 'fd00:234::100', 'ff02::1', '255', '136', '1', '0', '0', '1', 'fd00:234::100', '2', macA,
      ]);
      expect(await neighbourMac(VIP6.address)).toBe(macA);
    });
  }

  it('sends one GARP per IPv4 VIP and one NA per IPv6 VIP in a round', async () => {
    const fields = ['eth.type', 'arp.src.proto_ipv4', 'icmpv6.nd.na.target_address'];
    const cap = await lab.capture(nsB, 'vkb0', `(${GARP_FILTER}) or (${NA_FILTER})`, fields, { count: 2 });
    expect(await announce({ vips: [VIP4, VIP6] })).toEqual({ sent: 2, errors: [], rounds: 1 });
    const rows = await cap.done;
    expect(rows.map((r) => r.join(' ').trim()).sort(), cap.proc.describe()).toEqual([
      '0x0806 10.234.0.100',
      '0x86dd  fd00:234::100',
    ]);
  });

  it('reports a VIP on a missing device as an error and still sends the others', async () => {
    const r = await announce({ vips: [{ ...VIP4, dev: 'vknosuch' }, VIP4] });
    expect(r.sent).toBe(1);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatch(/^gratuitous ARP for 10\.234\.0\.100 on vknosuch: /);
  });
});

/**
 * Gratuitous ARP (AF_PACKET PacketSocket) and unsolicited Neighbour
 * Advertisements (raw ICMPv6, and a hand-built frame over AF_PACKET), sent
 * from namespace A and observed in namespace B with tshark and in B's
 * neighbour table. The frame-builder checks at the top need no privileges;
 * the namespace suite FAILS (does not skip) without root, `ip netns`, the
 * built addon or tshark.
 */
import { afterAll, describe, expect, it } from 'vitest';

import {
  buildGratuitousArp,
  buildUnsolicitedNa,
  buildUnsolicitedNaFrame,
  formatMac,
  icmpv6Checksum,
  macBytes,
} from '../src/net/packet-socket.js';
import { ipBytes } from '../src/vocab/ip.js';

const ipv6Bytes = (a: string) => ipBytes(a, 6);
import {
  NetnsLab,
  requireNativeAddon,
  requireNetnsRoot,
  requireTshark,
  setupOrFail,
} from './helpers/netns.js';

const GARP = 'test/fixtures/native-garp.mjs';
const MAC = '02:11:22:33:44:55';

describe('GARP / NA frame builders', () => {
  it('builds a keepalived-style gratuitous ARP request', () => {
    expect(buildGratuitousArp('10.232.0.100', MAC).toString('hex')).toBe(
      'ffffffffffff' + '021122334455' + '0806' + // Ethernet: broadcast, src, ARP
        '0001' + '0800' + '06' + '04' + '0001' + // Ethernet/IPv4, request
        '021122334455' + '0ae80064' + // sender MAC, sender IP = VIP
        'ffffffffffff' + '0ae80064', // target MAC broadcast, target IP = VIP
    );
  });

  it('builds an unsolicited NA with Override (and Router on request), TLLA option', () => {
    const na = buildUnsolicitedNa('fd00:232::100', MAC);
    expect(na.toString('hex')).toBe(
      '88' + '00' + '0000' + '20000000' + 'fd000232000000000000000000000100' + '02' + '01' + '021122334455',
    );
    expect(buildUnsolicitedNa('fd00:232::100', MAC, { router: true })[4]).toBe(0xa0);
  });

  it('builds a full NA frame with a valid checksum', () => {
    const f = buildUnsolicitedNaFrame('fd00:232::100', MAC);
    expect(f).toHaveLength(86);
    expect(f.subarray(0, 14).toString('hex')).toBe('333300000001' + '021122334455' + '86dd');
    expect(f.subarray(14, 22).toString('hex')).toBe('60000000' + '0020' + '3a' + 'ff');
    expect(f.subarray(38, 54).toString('hex')).toBe('ff020000000000000000000000000001');
    // Re-summing with the checksum in place must give 0.
    expect(icmpv6Checksum(f.subarray(22, 38), f.subarray(38, 54), f.subarray(54))).toBe(0);
  });

  it('parses and formats addresses', () => {
    expect(ipv6Bytes('::').toString('hex')).toBe('0'.repeat(32));
    expect(ipv6Bytes('fe80::1%eth0').toString('hex')).toBe('fe80' + '0'.repeat(26) + '01');
    expect(ipv6Bytes('::ffff:10.1.2.3').toString('hex')).toBe('0'.repeat(20) + 'ffff0a010203');
    expect(ipv6Bytes('1:2:3:4:5:6:7:8').toString('hex')).toBe('00010002000300040005000600070008');
    expect(() => ipv6Bytes('10.0.0.1')).toThrow(TypeError);
    expect(formatMac(macBytes('2-11-22-33-44-55'))).toBe(MAC);
    expect(() => macBytes('02:11:22:33:44')).toThrow(TypeError);
  });
});

describe('GARP / unsolicited NA between two namespaces', () => {
  const lab = new NetnsLab();
  let nsA = '';
  let nsB = '';
  let macA = '';

  setupOrFail(async () => {
    requireNetnsRoot('native GARP/NA tests');
    requireNativeAddon();
    requireTshark('native GARP/NA tests');
    nsA = await lab.addNamespace();
    nsB = await lab.addNamespace();
    await lab.addVeth(nsA, 'vka0', nsB, 'vkb0');
    await lab.addAddress(nsA, 'vka0', '10.232.0.1/24');
    await lab.addAddress(nsB, 'vkb0', '10.232.0.2/24');
    await lab.addAddress(nsA, 'vka0', '10.232.0.100/32');
    await lab.addAddress(nsA, 'vka0', 'fd00:232::1/64');
    await lab.addAddress(nsB, 'vkb0', 'fd00:232::2/64');
    await lab.addAddress(nsA, 'vka0', 'fd00:232::100/128');
    await lab.linkLocal(nsA, 'vka0');
    await lab.linkLocal(nsB, 'vkb0');
    macA = await lab.mac(nsA, 'vka0');
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  /** Give B a stale neighbour entry for `ip` with a wrong MAC, so an announcement must override it. */
  async function staleNeighbour(ip: string): Promise<void> {
    await lab.exec(nsB, ['ip', 'neigh', 'replace', ip, 'lladdr', '02:00:00:00:00:01', 'dev', 'vkb0', 'nud', 'stale']);
  }

  async function neighbourMac(ip: string): Promise<string> {
    const { stdout } = await lab.exec(nsB, ['ip', '-j', 'neigh', 'show', ip, 'dev', 'vkb0']);
    const [n] = JSON.parse(stdout) as Array<{ lladdr?: string }>;
    return n?.lladdr ?? '';
  }

  it('sends a gratuitous ARP that B sees and that updates B’s neighbour entry', async () => {
    await staleNeighbour('10.232.0.100');
    const fields = [
      'eth.dst', 'eth.src', 'eth.type', 'arp.opcode', 'arp.src.hw_mac', 'arp.src.proto_ipv4',
      'arp.dst.hw_mac', 'arp.dst.proto_ipv4', 'arp.isgratuitous',
    ];
    // arp[14:4] = sender protocol address
    const cap = await lab.capture(nsB, 'vkb0', 'arp and arp[14:4] = 0x0ae80064', fields, { count: 1 });
    const send = lab.spawnNode(nsA, GARP, { ifname: 'vka0', vip4: '10.232.0.100' });
    await send.waitExit();
    expect(send.jsonLines()).toEqual([{ mac: macA }, { garp: true }]);
    const rows = await cap.done;
    expect(rows, cap.proc.describe()).toHaveLength(1);
    expect(rows[0]).toEqual([
      'ff:ff:ff:ff:ff:ff', macA, '0x0806', '1', macA, '10.232.0.100', 'ff:ff:ff:ff:ff:ff', '10.232.0.100', '1',
    ]);
    expect(await neighbourMac('10.232.0.100')).toBe(macA);
  });

  const naFields = [
    'eth.dst', 'eth.src', 'ipv6.src', 'ipv6.dst', 'ipv6.hlim', 'icmpv6.type', 'icmpv6.checksum.status',
    'icmpv6.nd.na.flag.r', 'icmpv6.nd.na.flag.s', 'icmpv6.nd.na.flag.o', 'icmpv6.nd.na.target_address',
    'icmpv6.opt.linkaddr',
  ];
  // icmpv6.checksum.status: 1 = good (wireshark PROTO_CHECKSUM_E_GOOD); NA flags print as 1/0.
  const naFilter = 'icmp6 and ip6[40] = 136 and src host fd00:232::100';

  it('sends an unsolicited NA over raw ICMPv6 (hop limit 255, O flag, TLLA) that updates B', async () => {
    await staleNeighbour('fd00:232::100');
    const cap = await lab.capture(nsB, 'vkb0', naFilter, naFields, { count: 1 });
    const send = lab.spawnNode(nsA, GARP, { ifname: 'vka0', vip6: 'fd00:232::100' });
    await send.waitExit();
    expect(send.jsonLines()).toEqual([{ mac: macA }, { na: true }]);
    const rows = await cap.done;
    expect(rows, cap.proc.describe()).toHaveLength(1);
    expect(rows[0]).toEqual([
      '33:33:00:00:00:01', macA, 'fd00:232::100', 'ff02::1', '255', '136', '1',
      '0', '0', '1', 'fd00:232::100', macA,
    ]);
    expect(await neighbourMac('fd00:232::100')).toBe(macA);
  });

  it('sends a hand-built NA frame over AF_PACKET; Router flag follows IPv6 forwarding', async () => {
    await staleNeighbour('fd00:232::100');
    await lab.exec(nsA, ['sysctl', '-qw', 'net.ipv6.conf.vka0.forwarding=1']);
    const cap = await lab.capture(nsB, 'vkb0', naFilter, naFields, { count: 1 });
    const send = lab.spawnNode(nsA, GARP, { ifname: 'vka0', vip6: 'fd00:232::100', naFrame: true });
    await send.waitExit();
    expect(send.jsonLines()).toEqual([{ mac: macA }, { naFrame: true }]);
    const rows = await cap.done;
    expect(rows, cap.proc.describe()).toHaveLength(1);
    expect(rows[0]).toEqual([
      '33:33:00:00:00:01', macA, 'fd00:232::100', 'ff02::1', '255', '136', '1',
      '1', '0', '1', 'fd00:232::100', macA,
    ]);
    expect(await neighbourMac('fd00:232::100')).toBe(macA);
  });
});

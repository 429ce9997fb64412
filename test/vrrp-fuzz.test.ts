/**
 * The VRRP decoder against the independent receive check (bench/fuzz/vrrp-oracle.ts) on 20,000
 * mutated packets (`npm run fuzz` runs 1,000,000): no disagreement, and both outcomes reached
 * often enough to mean something. The oracle's own rules on hand-made packets, the VRRPv3 Max
 * Adver Int 0 case, and the capture readers the fuzz script takes its seeds from.
 */
import { describe, expect, it } from 'vitest';

import { isVrrp, readCapture, readHexPackets } from '../bench/fuzz/pcap.js';
import { compare, encoderSeeds, runFuzz } from '../bench/fuzz/vrrp-fuzz.js';
import { checksumFor, ipv4Pseudo, oracle } from '../bench/fuzz/vrrp-oracle.js';
import { decodeIpAdvert, encodeIpv4Packet } from '../src/vrrp/codec.js';

/** A seed with `edit` applied, then its VRRP and IPv4 header checksums made right again. */
function edited(seed: Uint8Array, edit: (p: Uint8Array) => void, opts: { vrrpSum?: 'v2' | 'v3' | 'keep' } = {}): Uint8Array {
  const p = Uint8Array.from(seed);
  edit(p);
  const ihl = (p[0]! & 0x0f) * 4;
  const total = (p[2]! << 8) | p[3]!;
  const msg = p.subarray(ihl, total);
  if (opts.vrrpSum !== 'keep') {
    const c = checksumFor(opts.vrrpSum === 'v2' ? [] : ipv4Pseudo(p.subarray(12, 16), p.subarray(16, 20), msg.length), msg, 6);
    msg[6] = c >> 8;
    msg[7] = c & 0xff;
  }
  const h = checksumFor([], p.subarray(0, ihl), 10);
  p[10] = h >> 8;
  p[11] = h & 0xff;
  return p;
}

describe('VRRP decoder fuzz against an independent receive check', () => {
  it('20,000 mutated packets: the decoder and the oracle agree on every one', () => {
    const r = runFuzz({ seeds: encoderSeeds(), count: 20_000, seed: 20_000 });
    expect(r.examples).toEqual([]);
    expect(r.disagreements).toEqual({ verdict: 0, fields: 0, internal: 0, overread: 0 });
    expect(r.packets).toBe(20_000);
    // the mutations reach acceptance and every kind of refusal the checks have
    expect(r.acceptedByBoth).toBeGreaterThan(1000);
    for (const rule of ['length', 'ttl', 'version', 'type', 'checksum', 'auth-type', 'ip-truncated', 'ipv4-header-checksum'] as const) expect(r.rules[rule] ?? 0).toBeGreaterThan(10);
    expect(r.notes['v3-max-adver-int-zero'] ?? 0).toBeGreaterThan(10);
  });

  it('the oracle refuses what the RFCs refuse, each rule on a packet made to break it', () => {
    const [v2, , , v3] = encoderSeeds();
    expect(oracle(v2!)).toMatchObject({ accept: true, violations: [] });
    expect(oracle(v3!)).toMatchObject({ accept: true, violations: [] });
    const v2c = { vrrpSum: 'v2' as const };
    expect(oracle(edited(v2!, (p) => (p[8] = 254), v2c)).violations).toEqual(['ttl']);
    expect(oracle(edited(v3!, (p) => (p[20] = 0x41))).violations).toEqual(['version']);
    expect(oracle(edited(v2!, (p) => (p[20] = 0x22), v2c)).violations).toEqual(['type']);
    expect(oracle(edited(v2!, (p) => (p[24] = 3), v2c)).violations).toEqual(['auth-type']);
    expect(oracle(edited(v2!, (p) => (p[23] = 2), v2c)).violations).toEqual(['length']);
    expect(oracle(edited(v2!, (p) => (p[27] = p[27]! ^ 1), { vrrpSum: 'keep' })).violations).toEqual(['checksum']);
    expect(oracle(edited(v2!, (p) => (p[6] = 0x20), v2c)).violations).toEqual(['ipv4-fragment']);
    expect(oracle(edited(v3!, (p) => (p[9] = 17))).violations).toEqual(['ip-protocol']);
    expect(oracle(v2!.subarray(0, 30)).violations).toEqual(['ip-truncated']);
  });

  it('a VRRPv3 advert with Max Adver Int 0: accepted by both (as keepalived does), the field reported as 0 and noted', () => {
    const zero = encoderSeeds()[8]!;
    const o = oracle(zero);
    expect(o.accept).toBe(true);
    expect(o.fields?.interval).toBe(0);
    expect(o.notes).toContain('v3-max-adver-int-zero');
    const d = decodeIpAdvert(zero);
    expect(d.ok && d.advert.version === 3 && d.advert.advertIntervalCs).toBe(0);
    // the reserved bits above the 12-bit field are ignored, not read into the interval
    const reserved = edited(zero, (p) => (p[24] = 0xf0));
    const dr = decodeIpAdvert(reserved);
    expect(dr.ok && dr.advert.version === 3 && dr.advert.advertIntervalCs).toBe(0);
    expect(oracle(reserved).notes).toEqual(expect.arrayContaining(['v3-max-adver-int-zero', 'v3-reserved-bits']));
    expect(compare(reserved).disagreement).toBeUndefined();
  });

  it('reads seeds from pcap, pcapng and hex text, keeping only VRRP', () => {
    const seeds = encoderSeeds();
    const eth = (ip: Uint8Array) => Buffer.concat([Buffer.from('01005e000012000000000001', 'hex'), Buffer.from(ip[0]! >> 4 === 6 ? '86dd' : '0800', 'hex'), ip]);
    const frames = [...seeds.map(eth), eth(encodeIpv4Packet({ version: 2, type: 1, family: 4, vrid: 1, priority: 1, addresses: [], advertIntervalS: 1 }, { src: '10.0.0.1', dst: '224.0.0.18', id: 1 }).fill(17, 9, 10))];
    // classic pcap, Ethernet
    const head = Buffer.alloc(24);
    head.writeUInt32LE(0xa1b2c3d4, 0);
    head.writeUInt16LE(2, 4);
    head.writeUInt16LE(4, 6);
    head.writeUInt32LE(65535, 16);
    head.writeUInt32LE(1, 20);
    const pcap = Buffer.concat([head, ...frames.flatMap((f) => {
      const h = Buffer.alloc(16);
      h.writeUInt32LE(f.length, 8);
      h.writeUInt32LE(f.length, 12);
      return [h, f];
    })]);
    const fromPcap = readCapture(pcap).filter(isVrrp);
    expect(fromPcap.map((p) => Buffer.from(p).toString('hex'))).toEqual(seeds.map((s) => Buffer.from(s).toString('hex')));
    // pcapng: section header, interface description (Ethernet), enhanced packet blocks
    const block = (type: number, body: Buffer) => {
      const len = 12 + body.length + ((4 - (body.length % 4)) % 4);
      const b = Buffer.alloc(len);
      b.writeUInt32LE(type, 0);
      b.writeUInt32LE(len, 4);
      body.copy(b, 8);
      b.writeUInt32LE(len, len - 4);
      return b;
    };
    const shb = Buffer.alloc(16);
    shb.writeUInt32LE(0x1a2b3c4d, 0);
    shb.writeUInt16LE(1, 4);
    shb.writeBigInt64LE(-1n, 8);
    const idb = Buffer.alloc(8);
    idb.writeUInt16LE(1, 0);
    const epbs = frames.map((f) => {
      const b = Buffer.alloc(20 + f.length);
      b.writeUInt32LE(f.length, 12);
      b.writeUInt32LE(f.length, 16);
      f.copy(b, 20);
      return block(6, b);
    });
    const pcapng = Buffer.concat([block(0x0a0d0d0a, shb), block(1, idb), ...epbs]);
    expect(readCapture(pcapng).filter(isVrrp).map((p) => Buffer.from(p).toString('hex'))).toEqual(seeds.map((s) => Buffer.from(s).toString('hex')));
    // hex lines, IP packets or Ethernet frames
    const text = `# two packets\n${Buffer.from(seeds[0]!).toString('hex')}\n\n${eth(seeds[9]!).toString('hex').replace(/(..)/g, '$1 ')}\n`;
    expect(readHexPackets(text).map((p) => Buffer.from(p).toString('hex'))).toEqual([seeds[0]!, seeds[9]!].map((s) => Buffer.from(s).toString('hex')));
    expect(() => readCapture(Buffer.from('not a capture'))).toThrow(/not a pcap or pcapng file/);
  });
});

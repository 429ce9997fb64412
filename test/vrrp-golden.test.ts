/**
 * Golden wire tests against real keepalived 2.2.7 packets, recorded in network namespaces by
 * test/fixtures/captures/record.ts (which says how) and committed beside it:
 *
 * - `*.hex.txt` (`tshark -x`): full Ethernet frames, one block per advert;
 * - `*.pcapng`: the same adverts plus the failover captures (priority-0 adverts, the backup's
 *   adverts after takeover, GARPs);
 * - `*.txt` (`tshark -V`): Wireshark's decode, used to cross-check the checksums.
 *
 * Every advert is decoded, validated against the peer instance's expectations,
 * re-encoded and compared byte for byte: the VRRP message, the IPv4 packet and the
 * Ethernet header. A missing capture fails this file; it never skips.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeIpAdvert, encodeAdvert, encodeIpv4Packet, validateAdvert, type IpAdvertOk } from '../src/vrrp/codec.js';
import { parseIpv4 } from '../src/vocab/ip.js';
import type { InstanceExpectations } from '../src/vrrp/packet.js';
import { CAPTURE_LAB as LAB } from './fixtures/captures/record.js';

const CAPTURES = fileURLToPath(new URL('./fixtures/captures/', import.meta.url));
const HEX_FILES = readdirSync(CAPTURES).filter((f) => f.endsWith('.hex.txt')).sort();
const PCAP_FILES = readdirSync(CAPTURES).filter((f) => f.endsWith('.pcapng')).sort();

// ------------------------------------------------------------------------------------------------
// Capture readers

/** Parses `tshark -x` output: blocks of `OOOO  hh hh ... (16 bytes)   ascii`, separated by blank lines. */
function parseHexDump(text: string): Buffer[] {
  const frames: Buffer[] = [];
  let cur: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{4})  /.exec(line);
    if (!m) {
      if (line.trim() === '' && cur.length > 0) {
        frames.push(Buffer.from(cur));
        cur = [];
      }
      continue;
    }
    const offset = parseInt(m[1]!, 16);
    if (offset !== cur.length) throw new Error(`hex dump offset ${m[1]} but ${cur.length} bytes so far`);
    // Columns 6..53 hold up to 16 "hh " groups; the ASCII column starts at 56.
    for (const h of line.slice(6, 53).match(/[0-9a-f]{2}/g) ?? []) cur.push(parseInt(h, 16));
  }
  if (cur.length > 0) frames.push(Buffer.from(cur));
  return frames;
}

/** Minimal pcapng reader: Enhanced Packet Blocks of Ethernet interfaces. */
function readPcapng(buf: Buffer): Buffer[] {
  if (buf.readUInt32LE(0) !== 0x0a0d0d0a) throw new Error('not a pcapng file');
  const le = buf.readUInt32LE(8) === 0x1a2b3c4d;
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const u16 = (o: number): number => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const linktypes: number[] = [];
  const frames: Buffer[] = [];
  for (let off = 0; off + 12 <= buf.length; ) {
    const type = u32(off);
    const len = u32(off + 4);
    if (len < 12 || off + len > buf.length) throw new Error(`bad pcapng block at ${off}`);
    if (type === 1) linktypes.push(u16(off + 8));
    if (type === 6) {
      const iface = u32(off + 8);
      const capLen = u32(off + 20);
      if (linktypes[iface] !== 1) throw new Error(`interface ${iface} is not Ethernet`);
      frames.push(Buffer.from(buf.subarray(off + 28, off + 28 + capLen)));
    }
    off += len;
  }
  return frames;
}

/** `Checksum: 0x.... [correct]` lines of the VRRP layer in a `tshark -V` decode. */
function tsharkVrrpChecksums(text: string): number[] {
  return [...text.matchAll(/^Virtual Router Redundancy Protocol\n(?:    .*\n)*?    Checksum: (0x[0-9a-f]{4}) \[correct\]/gm)].map(
    (m) => parseInt(m[1]!, 16),
  );
}

const mac = (b: Buffer): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

/** IPv4 multicast → Ethernet: 01:00:5e + the low 23 bits of the group. */
function multicastMac(group: string): string {
  const b = parseIpv4(group)!;
  return mac(Buffer.from([0x01, 0x00, 0x5e, b[1]! & 0x7f, b[2]!, b[3]!]));
}

interface Advert {
  frame: Buffer;
  ip: Buffer;
  decoded: IpAdvertOk;
}

/** Ethernet/IPv4/VRRP frames of a capture, decoded (ARP and others skipped). */
function vrrpFrames(frames: Buffer[]): Advert[] {
  const out: Advert[] = [];
  for (const frame of frames) {
    if (frame.readUInt16BE(12) !== 0x0800) continue; // ARP (GARPs) etc.
    const ip = frame.subarray(14);
    if (ip[9] !== 112) continue;
    const decoded = decodeIpAdvert(ip);
    if (!decoded.ok) throw new Error(`capture frame does not decode: ${decoded.reason}: ${decoded.detail}`);
    out.push({ frame, ip, decoded });
  }
  return out;
}

function expectationsOf(version: 2 | 3, intervalCs: number): InstanceExpectations {
  return {
    vrid: LAB.vrid,
    version,
    family: 4,
    advertIntervalCs: intervalCs,
    addresses: [LAB.vip],
    addressMismatch: 'drop',
  };
}

/** Decodes, validates and re-encodes one captured advert; returns it for further checks. */
function checkAdvert(a: Advert): void {
  const { decoded } = a;
  if (decoded.ip.family !== 4) throw new Error('expected IPv4');
  const ip = decoded.ip;
  // What keepalived puts in the IPv4 header (docs/vrrp.md §1.3, §9).
  expect(ip).toMatchObject({ headerLength: 20, tos: 0xc0, flags: 0, fragmentOffset: 0, ttl: 255, protocol: 112, dst: '224.0.0.18' });
  expect([LAB.d1.ip, LAB.d2.ip]).toContain(ip.src);
  expect(ip.totalLength).toBe(a.ip.length);
  // Ethernet: multicast MAC, the director's own MAC (no VMAC), IPv4.
  expect(mac(a.frame.subarray(0, 6))).toBe(multicastMac(ip.dst));
  expect(mac(a.frame.subarray(6, 12))).toBe(ip.src === LAB.d1.ip ? LAB.d1.mac : LAB.d2.mac);

  const advert = decoded.advert;
  expect(advert).toMatchObject({ type: 1, family: 4, vrid: LAB.vrid, addresses: [LAB.vip] });
  expect(decoded.checksumForm).toBe(advert.version === 2 ? 'v2' : 'v3-ipv4-pseudo');
  if (advert.version === 2) {
    expect(advert).toMatchObject({ advertIntervalS: 1, authType: 0, authData: Buffer.alloc(8) });
  }

  // The receiving director accepts it (d2 receives d1's adverts and vice versa).
  const intervalCs = advert.version === 2 ? advert.advertIntervalS * 100 : advert.advertIntervalCs;
  const v = validateAdvert(a.ip.subarray(20), decoded.rx, expectationsOf(advert.version, intervalCs));
  expect(v).toMatchObject({ ok: true });
  if (v.ok) expect(v.notes.map((n) => n.kind)).toEqual(advert.priority === 0 ? ['priority-zero'] : []);

  // Byte for byte: the VRRP message and the whole IPv4 packet.
  const ctx = { src: ip.src, dst: ip.dst };
  expect(encodeAdvert(advert, ctx).toString('hex')).toBe(decoded.payload.toString('hex'));
  expect(encodeIpv4Packet(advert, { ...ctx, id: ip.id }).toString('hex')).toBe(a.ip.toString('hex'));
}

// ------------------------------------------------------------------------------------------------

describe('lab captures (keepalived 2.2.7)', () => {
  it('has every capture record.ts writes', () => {
    expect(HEX_FILES).toEqual(['vrrpv2-advert.hex.txt', 'vrrpv3-advert.hex.txt']);
    expect(PCAP_FILES).toEqual(['vrrpv2-advert.pcapng', 'vrrpv2-failover.pcapng', 'vrrpv3-advert.pcapng', 'vrrpv3-failover.pcapng']);
  });

  describe.each(HEX_FILES)('%s', (file) => {
    const frames = parseHexDump(readFileSync(join(CAPTURES, file), 'utf8'));
    const adverts = vrrpFrames(frames);
    const version = file.startsWith('vrrpv2') ? 2 : 3;

    it('holds 10 adverts from d1 (priority 150), as record.ts captured them', () => {
      expect(frames).toHaveLength(10);
      expect(adverts).toHaveLength(10);
      for (const a of adverts) {
        expect(a.decoded.advert).toMatchObject({ version, priority: LAB.d1.priority });
        expect(a.decoded.ip).toMatchObject({ src: LAB.d1.ip });
        if (a.decoded.advert.version === 3) expect(a.decoded.advert.advertIntervalCs).toBe(10);
      }
      // IP length: v2 = 20 + 8 + 4 + 8, v3 = 20 + 8 + 4.
      expect(adverts[0]!.ip.length).toBe(version === 2 ? 40 : 32);
    });

    it('decodes, validates and re-encodes every advert byte for byte', () => {
      adverts.forEach(checkAdvert);
    });

    it('the IP ID increments by one per advert', () => {
      const ids = adverts.map((a) => (a.decoded.ip.family === 4 ? a.decoded.ip.id : -1));
      ids.slice(1).forEach((id, i) => expect(id).toBe(ids[i]! + 1));
    });

    it('matches the .pcap and Wireshark\'s decode in the .txt', () => {
      const base = file.replace(/\.hex\.txt$/, '');
      const pcap = readPcapng(readFileSync(join(CAPTURES, `${base}.pcapng`)));
      expect(pcap.map((f) => f.toString('hex'))).toEqual(frames.map((f) => f.toString('hex')));
      const tshark = tsharkVrrpChecksums(readFileSync(join(CAPTURES, `${base}.txt`), 'utf8'));
      expect(tshark).toEqual(adverts.map((a) => a.decoded.advert.checksum));
    });

    it('a one-bit flip in any captured advert is rejected', () => {
      const a = adverts[0]!;
      const payload = a.decoded.payload;
      for (let i = 0; i < payload.length * 8; i++) {
        const flipped = Buffer.from(payload);
        flipped[i >> 3] = flipped[i >> 3]! ^ (0x80 >> (i & 7));
        const r = validateAdvert(flipped, a.decoded.rx, expectationsOf(version, version === 2 ? 100 : 10));
        expect(r.ok, `bit ${i}`).toBe(false);
      }
    });
  });

  describe.each(PCAP_FILES.filter((f) => f.includes('failover')))('%s', (file) => {
    const frames = readPcapng(readFileSync(join(CAPTURES, file)));
    const adverts = vrrpFrames(frames);
    const version = file.startsWith('vrrpv2') ? 2 : 3;

    it("contains d1's priority-0 advert and d2's adverts after takeover", () => {
      expect(adverts.length).toBeGreaterThan(5);
      const prioZero = adverts.filter((a) => a.decoded.advert.priority === 0);
      expect(prioZero).toHaveLength(1);
      expect(prioZero[0]!.decoded.ip).toMatchObject({ src: LAB.d1.ip });
      const fromD2 = adverts.filter((a) => a.decoded.ip.src === LAB.d2.ip);
      expect(fromD2.length).toBeGreaterThan(0);
      for (const a of fromD2) expect(a.decoded.advert).toMatchObject({ version, priority: LAB.d2.priority });
      // The GARP bursts are in the capture too (skipped by the VRRP decoder).
      expect(frames.length).toBeGreaterThan(adverts.length);
    });

    it('decodes, validates and re-encodes every advert byte for byte', () => {
      adverts.forEach(checkAdvert);
    });

    it("matches Wireshark's checksums in the .txt", () => {
      const tshark = tsharkVrrpChecksums(readFileSync(join(CAPTURES, file.replace(/\.pcapng$/, '.txt')), 'utf8'));
      expect(tshark).toEqual(adverts.map((a) => a.decoded.advert.checksum));
    });
  });
});

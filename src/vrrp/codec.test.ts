import { describe, expect, it } from 'vitest';
import { internetChecksum, ipv4HeaderChecksum, verifyVrrpChecksum, vrrpChecksum } from './checksum.js';
import {
  decodeAdvert,
  decodeIpAdvert,
  decodeIpv4Packet,
  decodeIpv6Packet,
  encodeAdvert,
  encodeIpv4Packet,
  encodeIpv6Packet,
  nextIpv4Id,
  validateAdvert,
  type EncodeContext,
} from './codec.js';
import { canonicalIp, formatIpv6, isMulticastIp, parseIpv4, parseIpv6 } from '../vocab/ip.js';
import {
  DROP_REASONS,
  advertIntervalCs,
  dropKind,
  passwordAuthData,
  vrrpMessageLength,
  type DropReason,
  type InstanceExpectations,
  type RxContext,
  type VrrpAdvert,
  type VrrpV2Advert,
  type VrrpV3Advert,
} from './packet.js';

const hex = (b: Buffer): string => b.toString('hex');
const unhex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// ------------------------------------------------------------------------------------------------
// docs/vrrp.md §9 golden vectors, byte for byte (checksum included).

interface GoldenVector {
  name: string;
  advert: VrrpAdvert;
  ctx?: EncodeContext;
  bytes: string;
}

const GOLDEN: GoldenVector[] = [
  {
    name: 'v3 IPv4 message-only checksum (RFC 9568 / v3_checksum_as_v2) = keepalived ipv4_vec',
    advert: { version: 3, type: 1, family: 4, vrid: 51, priority: 200, addresses: ['192.0.2.100'], advertIntervalCs: 100 },
    ctx: { src: '198.51.100.10', dst: '224.0.0.18', v3ChecksumAsV2: true },
    bytes: '3133c80100644402c0000264',
  },
  {
    name: 'v3 IPv4 with pseudo-header 198.51.100.10 -> 224.0.0.18 (keepalived default)',
    advert: { version: 3, type: 1, family: 4, vrid: 51, priority: 200, addresses: ['192.0.2.100'], advertIntervalCs: 100 },
    ctx: { src: '198.51.100.10', dst: '224.0.0.18' },
    bytes: '3133c80100643935c0000264',
  },
  {
    name: 'v3 IPv4 VRID 51 prio 100 VIP 10.0.0.100, 10.0.0.1 -> 224.0.0.18, pseudo-header',
    advert: { version: 3, type: 1, family: 4, vrid: 51, priority: 100, addresses: ['10.0.0.100'], advertIntervalCs: 100 },
    ctx: { src: '10.0.0.1', dst: '224.0.0.18' },
    bytes: '31336401006475730a000064',
  },
  {
    name: 'v2 VRID 51 prio 100, 3 VIPs, adv 1, PASS "1111"',
    advert: {
      version: 2,
      type: 1,
      family: 4,
      vrid: 51,
      priority: 100,
      addresses: ['192.168.200.16', '192.168.200.17', '192.168.200.18'],
      advertIntervalS: 1,
      authType: 1,
      authData: passwordAuthData('1111'),
    },
    bytes: '2133640301017d36c0a8c810c0a8c811c0a8c8123131313100000000',
  },
  {
    name: 'v2 VRID 51 prio 100, VIP 10.0.0.100, adv 1, no auth',
    advert: { version: 2, type: 1, family: 4, vrid: 51, priority: 100, addresses: ['10.0.0.100'], advertIntervalS: 1 },
    bytes: '21336401000170660a0000640000000000000000',
  },
  {
    name: 'v2 shutdown (priority 0) of the previous',
    advert: { version: 2, type: 1, family: 4, vrid: 51, priority: 0, addresses: ['10.0.0.100'], advertIntervalS: 1 },
    bytes: '213300010001d4660a0000640000000000000000',
  },
];

describe('golden vectors (docs/vrrp.md §9)', () => {
  it.each(GOLDEN)('encodes $name', ({ advert, ctx, bytes }) => {
    expect(hex(encodeAdvert(advert, ctx))).toBe(bytes);
  });

  it.each(GOLDEN)('decodes $name', ({ advert, ctx, bytes }) => {
    const buf = unhex(bytes);
    const r = decodeAdvert(buf, {
      src: ctx?.src ?? '10.0.0.1',
      dst: ctx?.dst ?? '224.0.0.18',
      family: 4,
      ttl: 255,
      v3ChecksumAsV2: ctx?.v3ChecksumAsV2 ?? false,
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const expected =
      advert.version === 2
        ? { authType: 0, authData: Buffer.alloc(8), ...advert, checksum: buf.readUInt16BE(6) }
        : { ...advert, checksum: buf.readUInt16BE(6) };
    expect(r.advert).toEqual(expected);
    expect(r.checksumForm).toBe(
      advert.version === 2 ? 'v2' : ctx?.v3ChecksumAsV2 ? 'v3-ipv4-message' : 'v3-ipv4-pseudo',
    );
  });

  it('the docs/vrrp.md §9 IPv4 header layout: 45 c0 <len> <id> 00 00 ff 70 <csum> <src> <dst>', () => {
    const pkt = encodeIpv4Packet(GOLDEN[4]!.advert, { src: '10.0.0.1', dst: '224.0.0.18', id: 0x1234 });
    expect(hex(pkt.subarray(0, 10))).toBe('45c0002812340000ff70');
    expect(pkt.readUInt16BE(10)).toBe(ipv4HeaderChecksum(pkt.subarray(0, 20)));
    expect(hex(pkt.subarray(12, 20))).toBe('0a000001e0000012');
    expect(hex(pkt.subarray(20))).toBe(GOLDEN[4]!.bytes);
  });
});

// ------------------------------------------------------------------------------------------------

describe('checksum', () => {
  it('RFC 1071 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2', () => {
    expect(internetChecksum(unhex('0001f203f4f5f6f7'))).toBe(~0xddf2 & 0xffff);
  });

  it('handles odd lengths and split parts like one buffer', () => {
    const data = unhex('0102030405');
    expect(internetChecksum(data)).toBe(internetChecksum(unhex('0102030405'), Buffer.alloc(0)));
    expect(internetChecksum(data)).toBe(~(0x0102 + 0x0304 + 0x0500) & 0xffff);
  });

  it('verify accepts both representations of zero', () => {
    // A message whose one's-complement sum without the checksum is 0xffff gets checksum 0x0000;
    // 0xffff must verify too.
    const msg = unhex('2133ffff0000' + '0000' + 'ffff0000' + '0000000000000000');
    msg.writeUInt16BE(0, 6);
    const sum = vrrpChecksum(msg, { version: 2, family: 4 });
    msg.writeUInt16BE(sum, 6);
    expect(verifyVrrpChecksum(msg, { version: 2, family: 4 })).toBe(true);
  });

  it('v3 IPv6 uses the IPv6 pseudo-header (independent reimplementation)', () => {
    const advert: VrrpV3Advert = {
      version: 3,
      type: 1,
      family: 6,
      vrid: 7,
      priority: 100,
      addresses: ['fe80::1', '2001:db8::100'],
      advertIntervalCs: 100,
    };
    const src = 'fe80::2';
    const dst = 'ff02::12';
    const msg = encodeAdvert(advert, { src, dst });
    // Independent: sum 16-bit words of src, dst, length (32-bit), next header, message.
    let sum = 0;
    const add = (b: Buffer): void => {
      for (let i = 0; i < b.length; i += 2) sum += b.readUInt16BE(i);
    };
    add(parseIpv6(src)!);
    add(parseIpv6(dst)!);
    sum += msg.length; // upper 16 bits of the 32-bit length are zero
    sum += 112;
    const zeroed = Buffer.from(msg);
    zeroed.writeUInt16BE(0, 6);
    add(zeroed);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(msg.readUInt16BE(6)).toBe(~sum & 0xffff);
    // The v3_checksum_as_v2 flag does not apply to IPv6.
    expect(hex(encodeAdvert(advert, { src, dst, v3ChecksumAsV2: true }))).toBe(hex(msg));
  });

  it('v3 IPv4 pseudo-header uses the actual destination (per unicast peer)', () => {
    const advert = GOLDEN[2]!.advert;
    const a = encodeAdvert(advert, { src: '10.0.0.1', dst: '10.0.0.2' });
    const b = encodeAdvert(advert, { src: '10.0.0.1', dst: '10.0.0.3' });
    expect(a.readUInt16BE(6)).not.toBe(b.readUInt16BE(6));
    // checksumDst: keepalived's old unicast checksum puts the multicast group in the pseudo-header.
    const old = encodeAdvert(advert, { src: '10.0.0.1', dst: '10.0.0.2', checksumDst: '224.0.0.18' });
    expect(hex(old)).toBe(GOLDEN[2]!.bytes);
  });
});

// ------------------------------------------------------------------------------------------------

describe('VRRPv2 PASS authentication', () => {
  it.each([
    ['1111', '3131313100000000'],
    ['', '0000000000000000'],
    ['12345678', '3132333435363738'],
    ['verylongpassword', '766572796c6f6e67'],
  ])('password %j becomes auth data %s (truncated/NUL-padded to 8)', (pw, data) => {
    expect(hex(passwordAuthData(pw))).toBe(data);
  });

  it('encodes the auth data after the addresses and decodes it back', () => {
    const advert: VrrpV2Advert = {
      version: 2,
      type: 1,
      family: 4,
      vrid: 9,
      priority: 120,
      addresses: ['10.1.1.1'],
      advertIntervalS: 3,
      authType: 1,
      authData: passwordAuthData('secret-password'),
    };
    const buf = encodeAdvert(advert);
    expect(buf.length).toBe(8 + 4 + 8);
    expect(buf[4]).toBe(1);
    expect(buf.subarray(12).toString('latin1')).toBe('secret-p');
    const r = decodeAdvert(buf, { src: '10.1.1.2', dst: '224.0.0.18', family: 4 });
    expect(r.ok && r.advert).toEqual({ ...advert, checksum: buf.readUInt16BE(6) });
    const exp: InstanceExpectations = {
      vrid: 9,
      version: 2,
      family: 4,
      advertIntervalCs: 300,
      authType: 1,
      authPassword: 'secret-p', // only the first 8 bytes matter
      addresses: ['10.1.1.1'],
    };
    expect(validateAdvert(buf, { src: '10.1.1.2', dst: '224.0.0.18', family: 4, ttl: 255 }, exp).ok).toBe(true);
    expect(validateAdvert(buf, { src: '10.1.1.2', dst: '224.0.0.18', family: 4 }, { ...exp, authPassword: 'secret-x' })).toMatchObject({
      ok: false,
      reason: 'auth',
    });
  });

  it('no-auth adverts carry 8 zero bytes of auth data', () => {
    const buf = encodeAdvert(GOLDEN[4]!.advert);
    expect(hex(buf.subarray(12))).toBe('0000000000000000');
  });
});

describe('interval fields', () => {
  it('v2 carries whole seconds in byte 5', () => {
    const buf = encodeAdvert({ version: 2, type: 1, family: 4, vrid: 1, priority: 100, addresses: [], advertIntervalS: 255 });
    expect(buf[5]).toBe(255);
    expect(buf[4]).toBe(0);
    expect(buf.length).toBe(16);
  });

  it('v3 carries 12-bit centiseconds in bytes 4-5 with the reserved nibble 0', () => {
    const buf = encodeAdvert(
      { version: 3, type: 1, family: 4, vrid: 1, priority: 100, addresses: [], advertIntervalCs: 4095 },
      { src: '10.0.0.1', dst: '224.0.0.18' },
    );
    expect(buf.readUInt16BE(4)).toBe(0x0fff);
    expect(buf.length).toBe(8);
  });

  it('v3 decode masks the reserved bits', () => {
    const buf = encodeAdvert(
      { version: 3, type: 1, family: 4, vrid: 1, priority: 100, addresses: [], advertIntervalCs: 10 },
      { src: '10.0.0.1', dst: '224.0.0.18' },
    );
    buf[4] = buf[4]! | 0xf0;
    buf.writeUInt16BE(vrrpChecksum(buf, { version: 3, family: 4, src: '10.0.0.1', dst: '224.0.0.18' }), 6);
    const r = decodeAdvert(buf, { src: '10.0.0.1', dst: '224.0.0.18', family: 4 });
    expect(r.ok && r.advert.advertIntervalCs).toBe(10);
  });

  it('advertIntervalCs() normalises both versions', () => {
    expect(advertIntervalCs(GOLDEN[4]!.advert)).toBe(100);
    expect(advertIntervalCs(GOLDEN[0]!.advert)).toBe(100);
  });

  it.each([
    [{ version: 2, type: 1, family: 4, vrid: 1, priority: 1, addresses: [], advertIntervalS: 256 }],
    [{ version: 3, type: 1, family: 4, vrid: 1, priority: 1, addresses: [], advertIntervalCs: 4096 }],
    [{ version: 3, type: 1, family: 4, vrid: 1, priority: 1, addresses: [], advertIntervalCs: 1.5 }],
  ] as VrrpAdvert[][])('rejects out-of-range intervals when encoding (%#)', (advert) => {
    expect(() => encodeAdvert(advert, { src: '10.0.0.1', dst: '224.0.0.18' })).toThrow(RangeError);
  });
});

describe('IPv6 adverts', () => {
  const advert: VrrpV3Advert = {
    version: 3,
    type: 1,
    family: 6,
    vrid: 51,
    priority: 150,
    addresses: ['fe80::100', '2001:db8::1:0:0:1', '2001:db8:0:0:1::'],
    advertIntervalCs: 100,
  };
  const ctx = { src: 'fe80::11', dst: 'ff02::12' };

  it('encodes 16-byte addresses and decodes them to canonical text', () => {
    const buf = encodeAdvert(advert, ctx);
    expect(buf.length).toBe(vrrpMessageLength(3, 6, 3));
    expect(hex(buf.subarray(8, 24))).toBe('fe800000000000000000000000000100');
    const r = decodeAdvert(buf, { ...ctx, family: 6, ttl: 255 });
    expect(r).toMatchObject({ ok: true, checksumForm: 'v3-ipv6' });
    expect(r.ok && r.advert.addresses).toEqual(['fe80::100', '2001:db8::1:0:0:1', '2001:db8:0:0:1::']);
  });

  it('accepts non-canonical input text and canonicalises on decode', () => {
    const buf = encodeAdvert({ ...advert, addresses: ['FE80:0:0:0:0:0:0:0100', '2001:DB8::0001:0:0:1'] }, ctx);
    const r = decodeAdvert(buf, { ...ctx, family: 6 });
    expect(r.ok && r.advert.addresses).toEqual(['fe80::100', '2001:db8::1:0:0:1']);
  });

  it('rejects an IPv4 address in an IPv6 advert and VRRPv2 over IPv6 when encoding', () => {
    expect(() => encodeAdvert({ ...advert, addresses: ['10.0.0.1'] }, ctx)).toThrow(TypeError);
    expect(() =>
      encodeAdvert({ version: 2, type: 1, family: 6 as 4, vrid: 1, priority: 1, addresses: [], advertIntervalS: 1 }),
    ).toThrow(RangeError);
  });

  it('builds a full IPv6 packet (tclass 0xc0, hop limit 255, next header 112)', () => {
    const pkt = encodeIpv6Packet(advert, ctx);
    expect(hex(pkt.subarray(0, 8))).toBe(`6c000000${(pkt.length - 40).toString(16).padStart(4, '0')}70ff`);
    const d = decodeIpv6Packet(pkt);
    expect(d).toMatchObject({ ok: true, header: { src: 'fe80::11', dst: 'ff02::12', hopLimit: 255, trafficClass: 0xc0 } });
    const a = decodeIpAdvert(pkt);
    expect(a.ok && a.advert.addresses).toEqual(advert.addresses);
  });
});

describe('addresses', () => {
  it.each([
    ['0.0.0.0', '00000000'],
    ['255.255.255.255', 'ffffffff'],
    ['10.99.0.100', '0a630064'],
  ])('parses IPv4 %s', (t, h) => expect(hex(parseIpv4(t)!)).toBe(h));

  it.each(['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4 ', '', 'a.b.c.d'])(
    'rejects IPv4 %j',
    (t) => expect(parseIpv4(t)).toBeUndefined(),
  );

  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['2001:db8:1:1:1:1:0:1', '2001:db8:1:1:1:1:0:1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['::ffff:c000:201', '::ffff:192.0.2.1'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['fe80::1:2:3:4', 'fe80::1:2:3:4'],
  ])('canonicalises IPv6 %s -> %s (RFC 5952)', (t, c) => expect(canonicalIp(t)).toBe(c));

  it.each(['1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', ':::', '1:::2', '::1::', '1::2::3', '12345::', 'g::', 'fe80::1%eth0', ':1::', '1.2.3.4::', '::1.2.3', '1:2:3:4:5:6:7::8'])(
    'rejects IPv6 %j',
    (t) => expect(parseIpv6(t)).toBeUndefined(),
  );

  it('agrees with the WHATWG URL serializer for non-mapped IPv6', () => {
    const samples = ['1:0:0:2:0:0:0:3', '0:0:1:0:0:1:0:0', '1:2:3:4:5:6:7:0', '0:1:2:3:4:5:6:7', 'abcd:0:0:0:0:ef:0:0'];
    for (const s of samples) {
      const viaUrl = new URL(`http://[${s}]/`).hostname.slice(1, -1);
      expect(formatIpv6(parseIpv6(s)!)).toBe(viaUrl);
    }
  });

  it('detects multicast', () => {
    expect(isMulticastIp('224.0.0.18')).toBe(true);
    expect(isMulticastIp('239.255.255.255')).toBe(true);
    expect(isMulticastIp('240.0.0.1')).toBe(false);
    expect(isMulticastIp('ff02::12')).toBe(true);
    expect(isMulticastIp('fe80::1')).toBe(false);
  });
});

// ------------------------------------------------------------------------------------------------
// Receive checks.

const V2_EXP: InstanceExpectations = {
  vrid: 51,
  version: 2,
  family: 4,
  advertIntervalCs: 100,
  addresses: ['10.0.0.100'],
};
const V2_ADVERT: VrrpV2Advert = { version: 2, type: 1, family: 4, vrid: 51, priority: 100, addresses: ['10.0.0.100'], advertIntervalS: 1 };
const V3_EXP: InstanceExpectations = { ...V2_EXP, version: 3 };
const V3_ADVERT: VrrpV3Advert = { version: 3, type: 1, family: 4, vrid: 51, priority: 100, addresses: ['10.0.0.100'], advertIntervalCs: 100 };
const MC: RxContext = { src: '10.0.0.2', dst: '224.0.0.18', family: 4, ttl: 255 };
const UC: RxContext = { src: '10.0.0.2', dst: '10.0.0.1', family: 4, ttl: 64 };
const UC_EXP: InstanceExpectations = { ...V3_EXP, unicastPeers: [{ address: '10.0.0.2' }] };

const v2 = (over: Partial<VrrpV2Advert> = {}): Buffer => encodeAdvert({ ...V2_ADVERT, ...over });
const v3 = (over: Partial<VrrpV3Advert> = {}, ctx: EncodeContext = MC): Buffer => encodeAdvert({ ...V3_ADVERT, ...over }, ctx);
/** Sets a byte and recomputes the checksum so that only the intended check fails. */
function patched(buf: Buffer, at: number, value: number, ctx?: RxContext): Buffer {
  const b = Buffer.from(buf);
  b[at] = value;
  const version = (b[0]! >> 4) === 3 ? 3 : 2;
  b.writeUInt16BE(vrrpChecksum(b, { version, family: 4, src: ctx?.src ?? MC.src, dst: ctx?.dst ?? MC.dst }), 6);
  return b;
}

interface DropCase {
  name: string;
  buf: Buffer;
  ctx: RxContext;
  /** Omitted: decodeAdvert (no instance). */
  exp?: InstanceExpectations;
  reason: DropReason;
  detail?: RegExp;
}

const DROP_CASES: DropCase[] = [
  { name: 'empty buffer', buf: Buffer.alloc(0), ctx: MC, reason: 'truncated' },
  { name: '7 bytes', buf: v2().subarray(0, 7), ctx: MC, exp: V2_EXP, reason: 'truncated' },
  { name: 'IPv6 packet on an IPv4 instance', buf: v2(), ctx: { ...MC, family: 6, src: 'fe80::1', dst: 'ff02::12' }, exp: V2_EXP, reason: 'family' },
  { name: 'context source of the wrong family', buf: v2(), ctx: { ...MC, src: 'fe80::1' }, reason: 'family' },
  {
    name: 'VRRPv2 over IPv6 (decode)',
    buf: unhex('2133640100010000' + '00'.repeat(16)),
    ctx: { src: 'fe80::1', dst: 'ff02::12', family: 6 },
    reason: 'family',
  },
  { name: 'another VRID', buf: v2({ vrid: 52 }), ctx: MC, exp: V2_EXP, reason: 'vrid', detail: /VRID 52/ },
  { name: 'AH header on a non-AH instance', buf: Buffer.concat([Buffer.alloc(24), v2()]), ctx: { ...MC, ipProtocol: 51 }, exp: V2_EXP, reason: 'auth-type' },
  { name: 'no AH header on an AH instance', buf: v2({ authType: 2 }), ctx: MC, exp: { ...V2_EXP, authType: 2 }, reason: 'auth-type' },
  { name: 'invalid auth type 3', buf: patched(v2(), 4, 3), ctx: MC, exp: V2_EXP, reason: 'auth-type', detail: /invalid auth type 3/ },
  { name: 'invalid auth type 3 (decode)', buf: patched(v2(), 4, 3), ctx: MC, reason: 'auth-type' },
  { name: 'PASS advert on a no-auth instance', buf: v2({ authType: 1, authData: passwordAuthData('x') }), ctx: MC, exp: V2_EXP, reason: 'auth-type', detail: /received a 1 auth, expecting 0/ },
  { name: 'count larger than the payload', buf: patched(v2(), 3, 2), ctx: MC, exp: V2_EXP, reason: 'length', detail: /too short/ },
  { name: 'trailing bytes (not Ethernet padding)', buf: Buffer.concat([v2(), Buffer.alloc(4)]), ctx: MC, exp: V2_EXP, reason: 'length', detail: /too long/ },
  { name: 'auth_hmac trailer (28 bytes, not implemented)', buf: Buffer.concat([v3(), Buffer.alloc(28)]), ctx: MC, exp: V3_EXP, reason: 'length' },
  { name: 'TTL 254 on multicast', buf: v2(), ctx: { ...MC, ttl: 254 }, exp: V2_EXP, reason: 'ttl' },
  { name: 'TTL 1 on multicast (decode)', buf: v3(), ctx: { ...MC, ttl: 1 }, reason: 'ttl' },
  {
    name: 'TTL outside a unicast peer range',
    buf: v3({}, UC),
    ctx: { ...UC, ttl: 10 },
    exp: { ...UC_EXP, unicastPeers: [{ address: '10.0.0.2', minTtl: 60, maxTtl: 64 }] },
    reason: 'ttl',
    detail: /not in range 60-64/,
  },
  { name: 'v3 advert to a v2 instance', buf: v3(), ctx: MC, exp: V2_EXP, reason: 'version', detail: /received 3, expected 2/ },
  { name: 'version 4', buf: patched(v3(), 0, 0x41), ctx: MC, reason: 'version' },
  { name: 'wrong password', buf: v2({ authType: 1, authData: passwordAuthData('pass1') }), ctx: MC, exp: { ...V2_EXP, authType: 1, authPassword: 'pass2' }, reason: 'auth' },
  { name: 'AH (not supported)', buf: Buffer.concat([Buffer.alloc(24), v2({ authType: 2 })]), ctx: { ...MC, ipProtocol: 51 }, exp: { ...V2_EXP, authType: 2 }, reason: 'auth' },
  { name: 'v2 interval mismatch', buf: v2({ advertIntervalS: 2 }), ctx: MC, exp: V2_EXP, reason: 'interval', detail: /mine 1 s, received 2 s/ },
  { name: 'type 2', buf: patched(v2(), 0, 0x22), ctx: MC, exp: V2_EXP, reason: 'type' },
  { name: 'type 0 (decode)', buf: patched(v3(), 0, 0x30), ctx: MC, reason: 'type' },
  { name: 'bad v2 checksum', buf: patched(v2(), 2, 100).fill(0, 6, 8), ctx: MC, exp: V2_EXP, reason: 'checksum', detail: /invalid VRRPv2 checksum 0x0000, expected 0x7066/ },
  {
    name: 'v3 message-only checksum on a default (pseudo-header) instance',
    buf: v3({}, { ...MC, v3ChecksumAsV2: true }),
    ctx: MC,
    exp: V3_EXP,
    reason: 'checksum',
    detail: /v3_checksum_as_v2/,
  },
  { name: 'v3 checksum for another source', buf: v3({}, { ...MC, src: '10.0.0.9' }), ctx: MC, exp: V3_EXP, reason: 'checksum' },
  { name: 'unicast advert on a multicast instance', buf: v3({}, UC), ctx: { ...UC, ttl: 255 }, exp: V3_EXP, reason: 'destination' },
  { name: 'multicast advert on a unicast instance', buf: v3(), ctx: MC, exp: UC_EXP, reason: 'destination' },
  { name: 'address owner with owner_ignore_adverts', buf: v3(), ctx: MC, exp: { ...V3_EXP, ownerIgnoreAdverts: true, basePriority: 255 }, reason: 'owner' },
  { name: 'address list mismatch, policy drop', buf: v3({ addresses: ['10.0.0.101'] }), ctx: MC, exp: { ...V3_EXP, addressMismatch: 'drop' }, reason: 'addresses', detail: /10\.0\.0\.100 not present/ },
  { name: 'address count mismatch, policy rfc, priority < 255', buf: v3({ addresses: [] }), ctx: MC, exp: { ...V3_EXP, addressMismatch: 'rfc' }, reason: 'addresses', detail: /received 0 addresses, expected 1/ },
  { name: 'unicast source not a peer (check_unicast_src)', buf: v3({}, { ...UC, src: '10.0.0.7' }), ctx: { ...UC, src: '10.0.0.7' }, exp: { ...UC_EXP, checkUnicastSrc: true }, reason: 'source' },
  { name: 'unicast source not a peer (min_ttl set)', buf: v3({}, { ...UC, src: '10.0.0.7' }), ctx: { ...UC, src: '10.0.0.7' }, exp: { ...UC_EXP, unicastPeers: [{ address: '10.0.0.2', minTtl: 1 }] }, reason: 'source' },
  { name: 'IP protocol 6', buf: v2(), ctx: { ...MC, ipProtocol: 6 }, exp: V2_EXP, reason: 'protocol' },
];

describe('receive checks: one case per drop reason', () => {
  it.each(DROP_CASES)('$name -> $reason', ({ buf, ctx, exp, reason, detail }) => {
    const r = exp ? validateAdvert(buf, ctx, exp) : decodeAdvert(buf, ctx);
    expect(r).toMatchObject({ ok: false, reason });
    if (detail && !r.ok) expect(r.detail).toMatch(detail);
  });

  it('the table covers every DropReason', () => {
    const covered = new Set<DropReason>([...DROP_CASES.map((c) => c.reason), 'ip-header', 'internal']);
    expect([...DROP_REASONS].filter((r) => !covered.has(r))).toEqual([]);
  });

  it('a codec bug is reported as "internal" instead of thrown', () => {
    const evil = {
      family: 4,
      dst: '224.0.0.18',
      get src(): string {
        throw new Error('boom');
      },
    } as RxContext;
    expect(decodeAdvert(v2(), evil)).toEqual({ ok: false, reason: 'internal', detail: 'codec bug: boom' });
  });

  it('classifies reasons like keepalived (KO / DROP / other VRID)', () => {
    expect(dropKind('vrid')).toBe('other');
    expect(dropKind('interval')).toBe('drop');
    expect(dropKind('owner')).toBe('drop');
    expect(dropKind('checksum')).toBe('ko');
  });
});

describe("receive checks: keepalived's order", () => {
  it('VRID demultiplexing comes before everything else', () => {
    expect(validateAdvert(patched(v3({ vrid: 9 }), 0, 0x41), { ...MC, ttl: 1 }, V2_EXP)).toMatchObject({ reason: 'vrid' });
  });
  it('length before TTL before version', () => {
    const wrongVersion = v3();
    expect(validateAdvert(Buffer.concat([wrongVersion, Buffer.alloc(4)]), { ...MC, ttl: 1 }, V2_EXP)).toMatchObject({ reason: 'length' });
    expect(validateAdvert(wrongVersion, { ...MC, ttl: 1 }, V2_EXP)).toMatchObject({ reason: 'ttl' });
    expect(validateAdvert(wrongVersion, MC, V2_EXP)).toMatchObject({ reason: 'version' });
  });
  it('v2 auth and interval before type and checksum', () => {
    const broken = Buffer.from(v2({ advertIntervalS: 5 }));
    broken[7] = broken[7]! ^ 0xff; // bad checksum
    broken[0] = 0x22; // type 2
    expect(validateAdvert(broken, MC, V2_EXP)).toMatchObject({ reason: 'interval' });
    expect(validateAdvert(broken, MC, { ...V2_EXP, advertIntervalCs: 500 })).toMatchObject({ reason: 'type' });
    broken[0] = 0x21;
    expect(validateAdvert(broken, MC, { ...V2_EXP, advertIntervalCs: 500 })).toMatchObject({ reason: 'checksum' });
  });
  it('checksum before the multicast/unicast and address checks', () => {
    const b = v3({ addresses: ['10.0.0.7'] }, UC);
    b[7] = b[7]! ^ 1;
    expect(validateAdvert(b, UC, { ...UC_EXP, addressMismatch: 'drop' })).toMatchObject({ reason: 'checksum' });
    expect(validateAdvert(b, { ...UC, ttl: 255 }, { ...V3_EXP, addressMismatch: 'drop' })).toMatchObject({ reason: 'checksum' });
    b[7] = b[7]! ^ 1;
    expect(validateAdvert(b, UC, { ...UC_EXP, addressMismatch: 'drop' })).toMatchObject({ reason: 'addresses' });
    expect(validateAdvert(b, { ...UC, ttl: 255 }, { ...V3_EXP, addressMismatch: 'drop' })).toMatchObject({ reason: 'destination' });
  });
});

describe('receive checks: accepted adverts and notes', () => {
  it('accepts a matching advert without notes', () => {
    expect(validateAdvert(v2(), MC, V2_EXP)).toMatchObject({ ok: true, notes: [], checksumForm: 'v2' });
    expect(validateAdvert(v3(), MC, V3_EXP)).toMatchObject({ ok: true, notes: [], checksumForm: 'v3-ipv4-pseudo' });
  });

  it('TTL is not checked when unknown, nor for unicast instances without a range', () => {
    expect(validateAdvert(v2(), { ...MC, ttl: undefined }, V2_EXP).ok).toBe(true);
    expect(validateAdvert(v3({}, UC), { ...UC, ttl: 3 }, UC_EXP).ok).toBe(true);
  });

  it('address mismatch is processed by default (keepalived >= 2.3.3) with a note', () => {
    const r = validateAdvert(v3({ addresses: ['10.0.0.100', '10.0.0.101'] }), MC, V3_EXP);
    expect(r).toMatchObject({ ok: true, notes: [{ kind: 'address-mismatch', detail: 'received 2 addresses, expected 1' }] });
  });

  it('address comparison is order-independent and canonical', () => {
    const exp: InstanceExpectations = { ...V3_EXP, family: 6, addresses: ['2001:DB8::1', 'fe80::0:1'] };
    const ctx: RxContext = { src: 'fe80::2', dst: 'ff02::12', family: 6, ttl: 255 };
    const buf = encodeAdvert({ ...V3_ADVERT, family: 6, addresses: ['fe80::1', '2001:db8::1'] }, ctx);
    expect(validateAdvert(buf, ctx, { ...exp, addressMismatch: 'drop' })).toMatchObject({ ok: true, notes: [] });
  });

  it('policy rfc accepts a mismatching list from the address owner (priority 255)', () => {
    const r = validateAdvert(v3({ addresses: [], priority: 255 }), MC, { ...V3_EXP, addressMismatch: 'rfc' });
    expect(r).toMatchObject({ ok: true, notes: [{ kind: 'address-mismatch' }] });
  });

  it('skip_check_adv_addr skips the address check only for the same master as last time', () => {
    const buf = v3({ addresses: ['10.0.0.200'] });
    const exp: InstanceExpectations = { ...V3_EXP, addressMismatch: 'drop', skipCheckAdvAddr: true, lastMasterAddress: '10.0.0.2' };
    expect(validateAdvert(buf, MC, exp)).toMatchObject({ ok: true, notes: [] });
    expect(validateAdvert(buf, MC, { ...exp, lastMasterAddress: '10.0.0.3' })).toMatchObject({ ok: false, reason: 'addresses' });
    expect(validateAdvert(buf, MC, { ...exp, lastMasterAddress: undefined })).toMatchObject({ ok: false, reason: 'addresses' });
    expect(validateAdvert(buf, MC, { ...exp, skipCheckAdvAddr: false })).toMatchObject({ ok: false, reason: 'addresses' });
  });

  it('v3 learns the interval: a mismatch is a note, not a drop', () => {
    const r = validateAdvert(v3({ advertIntervalCs: 10 }), MC, V3_EXP);
    expect(r).toMatchObject({ ok: true, notes: [{ kind: 'interval-mismatch' }] });
    expect(r.ok && r.advert.advertIntervalCs).toBe(10);
  });

  it('priority 0 is accepted with a note', () => {
    expect(validateAdvert(v2({ priority: 0 }), MC, V2_EXP)).toMatchObject({ ok: true, notes: [{ kind: 'priority-zero' }] });
  });

  it('unicast source check passes for a configured peer within its TTL range', () => {
    const exp = { ...UC_EXP, checkUnicastSrc: true, unicastPeers: [{ address: '10.0.0.2', minTtl: 60, maxTtl: 64 }] };
    expect(validateAdvert(v3({}, UC), UC, exp)).toMatchObject({ ok: true, notes: [] });
  });

  describe('old unicast checksum (keepalived <= 1.3.6 peers)', () => {
    const oldStyle = v3({}, { ...UC, checksumDst: '224.0.0.18' });
    it('detect (default): accepted with a note telling the daemon to switch', () => {
      expect(validateAdvert(oldStyle, UC, UC_EXP)).toMatchObject({
        ok: true,
        checksumForm: 'v3-ipv4-pseudo-mcast',
        notes: [{ kind: 'old-unicast-checksum' }],
      });
    });
    it('never: rejected, with a hint', () => {
      const r = validateAdvert(oldStyle, UC, { ...UC_EXP, oldUnicastChecksum: 'never' });
      expect(r).toMatchObject({ ok: false, reason: 'checksum' });
      expect(!r.ok && r.detail).toMatch(/old unicast checksum/);
    });
    it('use: old style accepted without a note, new style rejected', () => {
      expect(validateAdvert(oldStyle, UC, { ...UC_EXP, oldUnicastChecksum: 'use' })).toMatchObject({ ok: true, notes: [] });
      expect(validateAdvert(v3({}, UC), UC, { ...UC_EXP, oldUnicastChecksum: 'use' })).toMatchObject({ ok: false, reason: 'checksum' });
    });
    it('multicast instances never auto-detect', () => {
      expect(validateAdvert(v3({}, { ...MC, checksumDst: '10.9.9.9' }), MC, V3_EXP)).toMatchObject({ ok: false, reason: 'checksum' });
    });
  });

  describe('v3_checksum_as_v2 on receive', () => {
    const exp = { ...V3_EXP, v3ChecksumAsV2: true };
    it.each([
      ['message-only', v3({}, { ...MC, v3ChecksumAsV2: true }), 'v3-ipv4-message'],
      ['pseudo-header', v3(), 'v3-ipv4-pseudo'],
    ])('accepts the %s form', (_n, buf, form) => {
      expect(validateAdvert(buf, MC, exp)).toMatchObject({ ok: true, checksumForm: form });
    });
    it('still rejects a corrupted advert (keepalived would not verify at all)', () => {
      const b = v3();
      b[3] = 1;
      b[9] = b[9]! ^ 0x10;
      expect(validateAdvert(b, MC, exp)).toMatchObject({ ok: false, reason: 'checksum' });
    });
    it('the RxContext flag works for decodeAdvert', () => {
      expect(decodeAdvert(v3({}, { ...MC, v3ChecksumAsV2: true }), { ...MC, v3ChecksumAsV2: true })).toMatchObject({ ok: true });
      expect(decodeAdvert(v3({}, { ...MC, v3ChecksumAsV2: true }), MC)).toMatchObject({ ok: false, reason: 'checksum' });
    });
  });

  describe('Ethernet padding tolerance (docs/vrrp.md §4 step 2)', () => {
    it('accepts a short v3 advert padded to the 46-byte minimum', () => {
      const msg = v3(); // 12 bytes + 20-byte IP header = 32 < 46
      const r = validateAdvert(Buffer.concat([msg, Buffer.alloc(14)]), MC, V3_EXP);
      expect(r).toMatchObject({ ok: true, padding: 14 });
    });
    it('accepts padding to 42 bytes (VLAN tag inside the minimum frame)', () => {
      expect(validateAdvert(Buffer.concat([v3(), Buffer.alloc(10)]), MC, V3_EXP)).toMatchObject({ ok: true, padding: 10 });
    });
    it('rejects other excess lengths', () => {
      expect(validateAdvert(Buffer.concat([v3(), Buffer.alloc(12)]), MC, V3_EXP)).toMatchObject({ ok: false, reason: 'length' });
      expect(validateAdvert(Buffer.concat([v3(), Buffer.alloc(18)]), MC, V3_EXP)).toMatchObject({ ok: false, reason: 'length' });
    });
  });
});

// ------------------------------------------------------------------------------------------------

describe('IP headers', () => {
  // One frame of lab/captures/vrrpv2-advert.hex.txt, without the Ethernet header.
  const CAPTURED = unhex('45c0002800030000ff70d0220a63000be00000122133960100013e030a6300640000000000000000');

  it('decodes the captured keepalived IPv4 packet', () => {
    const p = decodeIpv4Packet(CAPTURED);
    expect(p).toMatchObject({
      ok: true,
      header: { headerLength: 20, tos: 0xc0, totalLength: 40, id: 3, flags: 0, ttl: 255, protocol: 112, src: '10.99.0.11', dst: '224.0.0.18' },
      padding: 0,
    });
  });

  it('re-encodes it byte for byte', () => {
    const a = decodeIpAdvert(CAPTURED);
    expect(a.ok).toBe(true);
    if (!a.ok || a.ip.family !== 4) return;
    expect(hex(encodeIpv4Packet(a.advert, { src: a.ip.src, dst: a.ip.dst, id: a.ip.id }))).toBe(hex(CAPTURED));
  });

  it('trims Ethernet padding after tot_len', () => {
    const p = decodeIpv4Packet(Buffer.concat([CAPTURED, Buffer.alloc(6)]));
    expect(p).toMatchObject({ ok: true, padding: 6 });
    expect(p.ok && p.payload.length).toBe(20);
  });

  it.each([
    ['short', CAPTURED.subarray(0, 19), 'truncated'],
    ['tot_len beyond the buffer', CAPTURED.subarray(0, 39), 'truncated'],
    ['IPv6 version nibble', Buffer.concat([unhex('65'), CAPTURED.subarray(1)]), 'family'],
    ['IHL 4', Buffer.concat([unhex('44'), CAPTURED.subarray(1)]), 'ip-header'],
    ['bad header checksum', Buffer.concat([CAPTURED.subarray(0, 10), unhex('0000'), CAPTURED.subarray(12)]), 'ip-header'],
    ['fragment', Buffer.concat([CAPTURED.subarray(0, 6), unhex('2000'), CAPTURED.subarray(8)]), 'ip-header'],
    ['protocol 17', Buffer.concat([CAPTURED.subarray(0, 9), unhex('11'), CAPTURED.subarray(10)]), 'protocol'],
  ] as const)('rejects %s', (_n, buf, reason) => {
    // Fix the header checksum where the case is not about it, so the intended check fires.
    const b = Buffer.from(buf);
    if (_n !== 'bad header checksum' && b.length >= 20 && (b[0]! & 0x0f) === 5 && b[0]! >> 4 === 4) {
      b.writeUInt16BE(ipv4HeaderChecksum(b.subarray(0, 20)), 10);
    }
    expect(decodeIpv4Packet(b)).toMatchObject({ ok: false, reason });
  });

  it('rejects malformed IPv6 packets', () => {
    const pkt = encodeIpv6Packet({ ...V3_ADVERT, family: 6, addresses: ['fe80::1'] }, { src: 'fe80::2', dst: 'ff02::12' });
    expect(decodeIpv6Packet(pkt.subarray(0, 39))).toMatchObject({ ok: false, reason: 'truncated' });
    expect(decodeIpv6Packet(pkt.subarray(0, pkt.length - 1))).toMatchObject({ ok: false, reason: 'truncated' });
    const nh = Buffer.from(pkt);
    nh[6] = 0; // hop-by-hop options
    expect(decodeIpv6Packet(nh)).toMatchObject({ ok: false, reason: 'protocol' });
    expect(decodeIpAdvert(Buffer.alloc(0))).toMatchObject({ ok: false, reason: 'truncated' });
    expect(decodeIpAdvert(unhex('00'))).toMatchObject({ ok: false, reason: 'family' });
  });

  it('nextIpv4Id increments and skips 0 on wrap', () => {
    expect(nextIpv4Id(3)).toBe(4);
    expect(nextIpv4Id(0xfffe)).toBe(0xffff);
    expect(nextIpv4Id(0xffff)).toBe(1);
  });

  it('refuses to encode AH adverts as IP packets', () => {
    expect(() => encodeIpv4Packet({ ...V2_ADVERT, authType: 2 }, { src: '10.0.0.1', dst: '224.0.0.18', id: 1 })).toThrow(/AH/);
  });
});

describe('encode argument checks (local faults throw)', () => {
  it.each([
    ['vrid 256', { ...V2_ADVERT, vrid: 256 }],
    ['priority -1', { ...V2_ADVERT, priority: -1 }],
    ['256 addresses', { ...V2_ADVERT, addresses: new Array<string>(256).fill('10.0.0.1') }],
    ['auth data of 7 bytes', { ...V2_ADVERT, authType: 1, authData: Buffer.alloc(7) }],
    ['type 2', { ...V2_ADVERT, type: 2 as 1 }],
    ['version 4', { ...V2_ADVERT, version: 4 as 2 }],
  ] as [string, VrrpAdvert][])('%s', (_n, advert) => {
    expect(() => encodeAdvert(advert)).toThrow(RangeError);
  });

  it('invalid address text', () => {
    expect(() => encodeAdvert({ ...V2_ADVERT, addresses: ['10.0.0.256'] })).toThrow(TypeError);
  });

  it('v3 needs the addresses for the checksum', () => {
    expect(() => encodeAdvert(V3_ADVERT)).toThrow(TypeError);
    expect(() => encodeAdvert(V3_ADVERT, { src: 'nope', dst: '224.0.0.18' })).toThrow(TypeError);
  });
});

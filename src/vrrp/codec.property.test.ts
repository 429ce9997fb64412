import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeAdvert, decodeIpAdvert, encodeAdvert, encodeIpv4Packet, encodeIpv6Packet, validateAdvert, type EncodeContext } from './codec.js';
import { formatIpv4, formatIpv6, parseIpv6 } from '../vocab/ip.js';
import {
  DROP_REASONS,
  type DropResult,
  type InstanceExpectations,
  type IpFamily,
  type RxContext,
  type VrrpAdvert,
} from './packet.js';

const RUNS = { numRuns: 1000 };

// ------------------------------------------------------------------------------------------------
// Arbitraries

const ipv4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIpv4(b));
const unicastIpv4 = ipv4.filter((a) => {
  const first = Number(a.split('.')[0]);
  return first < 224 || first > 239;
});
/** IPv6 with plenty of zero groups, so that `::` compression is exercised. */
const ipv6 = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
  .map((words) => {
    const b = Buffer.alloc(16);
    words.forEach((w, i) => b.writeUInt16BE(w, i * 2));
    return formatIpv6(b);
  });
const address = (family: IpFamily): fc.Arbitrary<string> => (family === 4 ? ipv4 : ipv6);

const v2Advert: fc.Arbitrary<VrrpAdvert> = fc.record({
  version: fc.constant(2 as const),
  type: fc.constant(1 as const),
  family: fc.constant(4 as const),
  vrid: fc.integer({ min: 0, max: 255 }),
  priority: fc.integer({ min: 0, max: 255 }),
  addresses: fc.array(ipv4, { maxLength: 20 }),
  advertIntervalS: fc.integer({ min: 0, max: 255 }),
  authType: fc.constantFrom(0 as const, 1 as const, 2 as const),
  authData: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b)),
});

const v3Advert = (family: IpFamily): fc.Arbitrary<VrrpAdvert> =>
  fc.record({
    version: fc.constant(3 as const),
    type: fc.constant(1 as const),
    family: fc.constant(family),
    vrid: fc.integer({ min: 0, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }),
    addresses: fc.array(address(family), { maxLength: 20 }),
    advertIntervalCs: fc.integer({ min: 0, max: 4095 }),
  });

interface Case {
  advert: VrrpAdvert;
  ctx: EncodeContext;
}

/** An advert plus addresses to send it with (multicast group or a unicast peer). */
const advertCase: fc.Arbitrary<Case> = fc.oneof(
  fc.record({
    advert: v2Advert,
    ctx: fc.record({ src: unicastIpv4, dst: fc.oneof(fc.constant('224.0.0.18'), unicastIpv4) }),
  }),
  fc.record({
    advert: v3Advert(4),
    ctx: fc.record({ src: unicastIpv4, dst: fc.oneof(fc.constant('224.0.0.18'), unicastIpv4), v3ChecksumAsV2: fc.boolean() }),
  }),
  fc.record({
    advert: v3Advert(6),
    ctx: fc.record({ src: ipv6, dst: fc.oneof(fc.constant('ff02::12'), ipv6.filter((a) => !a.startsWith('ff'))) }),
  }),
);

const rx = (c: Case, ttl = 255): RxContext => ({
  src: c.ctx.src,
  dst: c.ctx.dst,
  family: c.advert.family,
  ttl,
  v3ChecksumAsV2: c.ctx.v3ChecksumAsV2 ?? false,
});

function expectationsFor(c: Case): InstanceExpectations {
  const a = c.advert;
  const unicast = c.ctx.dst !== '224.0.0.18' && c.ctx.dst !== 'ff02::12';
  return {
    vrid: a.vrid,
    version: a.version,
    family: a.family,
    advertIntervalCs: a.version === 2 ? a.advertIntervalS * 100 : a.advertIntervalCs,
    ...(a.version === 2 ? { authType: a.authType ?? 0, authPassword: a.authData ?? Buffer.alloc(8) } : {}),
    addresses: [...a.addresses].reverse(),
    addressMismatch: 'drop',
    ...(unicast ? { unicastPeers: [{ address: c.ctx.src }], checkUnicastSrc: true } : {}),
    v3ChecksumAsV2: c.ctx.v3ChecksumAsV2 ?? false,
  };
}

function expectWellFormed(r: { ok: true } | DropResult): void {
  if (r.ok) return;
  expect(DROP_REASONS).toContain(r.reason);
  expect(r.reason).not.toBe('internal');
  expect(typeof r.detail).toBe('string');
}

const anyRx: fc.Arbitrary<RxContext> = fc.oneof(
  fc.record({
    src: unicastIpv4,
    dst: fc.oneof(fc.constant('224.0.0.18'), unicastIpv4),
    family: fc.constant(4 as const),
    ttl: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
    v3ChecksumAsV2: fc.boolean(),
    ipProtocol: fc.constantFrom(112, 112, 112, 51),
  }),
  fc.record({
    src: ipv6,
    dst: fc.oneof(fc.constant('ff02::12'), ipv6),
    family: fc.constant(6 as const),
    ttl: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
  }),
);

// ------------------------------------------------------------------------------------------------

describe('round trip', () => {
  it('decode(encode(x)) = x for valid adverts (v2/v3, IPv4/IPv6, 0-20 addresses, auth)', () => {
    fc.assert(
      fc.property(advertCase, (c) => {
        const buf = encodeAdvert(c.advert, c.ctx);
        const r = decodeAdvert(buf, rx(c));
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.advert).toEqual({ ...c.advert, checksum: buf.readUInt16BE(6) });
        expect(r.padding).toBe(0);
        if (c.advert.version === 2) expect(r.checksumForm).toBe('v2');
        else if (c.advert.family === 6) expect(r.checksumForm).toBe('v3-ipv6');
        else if (!c.ctx.v3ChecksumAsV2) expect(r.checksumForm).toBe('v3-ipv4-pseudo');
      }),
      RUNS,
    );
  });

  it('an advert passes validation against the expectations it was built from', () => {
    fc.assert(
      fc.property(advertCase, (c) => {
        fc.pre(c.advert.version === 3 || c.advert.authType !== 2); // AH is not supported
        const r = validateAdvert(encodeAdvert(c.advert, c.ctx), rx(c), expectationsFor(c));
        if (c.advert.version === 3 && c.advert.advertIntervalCs === 0) {
          // a zero interval is never adopted: dropped as an interval error
          expect(r).toMatchObject({ ok: false, reason: 'interval' });
          return;
        }
        expect(r).toMatchObject({ ok: true });
        if (!r.ok) return;
        const kinds = r.notes.map((n) => n.kind);
        expect(kinds.filter((k) => k !== 'priority-zero')).toEqual([]);
        expect(kinds.includes('priority-zero')).toBe(c.advert.priority === 0);
      }),
      RUNS,
    );
  });

  it('full IP packets round-trip through decodeIpAdvert', () => {
    fc.assert(
      fc.property(advertCase, fc.integer({ min: 1, max: 0xffff }), (c, id) => {
        fc.pre(c.advert.version === 3 || c.advert.authType !== 2);
        const pkt = c.advert.family === 4 ? encodeIpv4Packet(c.advert, { ...c.ctx, id }) : encodeIpv6Packet(c.advert, c.ctx);
        const r = decodeIpAdvert(pkt, { v3ChecksumAsV2: c.ctx.v3ChecksumAsV2 ?? false });
        expect(r).toMatchObject({ ok: true, rx: { src: c.ctx.src, dst: c.ctx.dst, ttl: 255 } });
        if (r.ok) expect(r.advert).toEqual({ ...c.advert, checksum: r.payload.readUInt16BE(6) });
      }),
      RUNS,
    );
  });

  it('IPv6 text: parse(format(bytes)) = bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        expect([...parseIpv6(formatIpv6(b))!]).toEqual([...b]);
      }),
      RUNS,
    );
  });
});

describe('robustness: never throws, always a result', () => {
  it('random bytes: decodeAdvert and validateAdvert return ok or a known DropReason', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), anyRx, fc.integer({ min: 0, max: 255 }), (bytes, ctx, vrid) => {
        expectWellFormed(decodeAdvert(bytes, ctx));
        const exp: InstanceExpectations = { vrid, version: 2, family: ctx.family, advertIntervalCs: 100, addresses: [] };
        expectWellFormed(validateAdvert(bytes, ctx, exp));
        expectWellFormed(validateAdvert(bytes, ctx, { ...exp, version: 3, authType: 1, authPassword: 'x' }));
      }),
      { numRuns: 3000 },
    );
  });

  it('random bytes: decodeIpAdvert returns ok or a known DropReason', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          // Plausible IP version nibbles so the header parsers are exercised.
          fc.tuple(fc.constantFrom(0x45, 0x46, 0x60), fc.uint8Array({ maxLength: 200 })).map(([f, r]) => Uint8Array.from([f, ...r])),
        ),
        (bytes) => expectWellFormed(decodeIpAdvert(bytes)),
      ),
      { numRuns: 3000 },
    );
  });

  /** Byte-level mutations of a valid packet: overwrite, insert, delete, truncate, extend. */
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ maxLength: 40 }) }),
  );
  type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;
  function mutate(buf: Buffer, ms: Mutation[]): Buffer {
    let b = Buffer.from(buf);
    for (const m of ms) {
      const at = b.length === 0 ? 0 : ('at' in m ? m.at : 0) % (b.length + 1);
      if (m.kind === 'set' && at < b.length) b[at] = m.value;
      else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from([m.value]), b.subarray(at)]);
      else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
      else if (m.kind === 'truncate') b = b.subarray(0, at);
      else if (m.kind === 'extend') b = Buffer.concat([b, m.bytes]);
    }
    return b;
  }

  it('mutated valid packets: never throw; what still decodes re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(advertCase, fc.array(mutation, { minLength: 1, maxLength: 4 }), (c, ms) => {
        const buf = mutate(encodeAdvert(c.advert, c.ctx), ms);
        const r = decodeAdvert(buf, rx(c));
        expectWellFormed(r);
        expectWellFormed(validateAdvert(buf, rx(c), expectationsFor(c)));
        if (!r.ok || r.padding !== 0) return;
        const stored = buf.readUInt16BE(6);
        const reservedZero = r.advert.version === 2 || (buf[4]! & 0xf0) === 0;
        if (!reservedZero || stored === 0 || stored === 0xffff) return;
        const ctx: EncodeContext =
          r.checksumForm === 'v3-ipv4-message'
            ? { ...c.ctx, v3ChecksumAsV2: true }
            : r.checksumForm === 'v3-ipv4-pseudo-mcast'
              ? { ...c.ctx, v3ChecksumAsV2: false, checksumDst: '224.0.0.18' }
              : { ...c.ctx, v3ChecksumAsV2: false };
        expect(encodeAdvert(r.advert, ctx).toString('hex')).toBe(buf.toString('hex'));
      }),
      RUNS,
    );
  });
});

describe('error detection', () => {
  // Multicast destination and the default checksum mode: with v3_checksum_as_v2 (several accepted
  // forms) or the unicast old-checksum auto-detect, a flip can in rare cases match another form,
  // exactly as it would in keepalived.
  const strictCase = advertCase
    .filter((c) => !c.ctx.v3ChecksumAsV2)
    .map((c) => ({ ...c, ctx: { ...c.ctx, dst: c.advert.family === 4 ? '224.0.0.18' : 'ff02::12' } }));

  it('any one-bit flip in a valid packet is detected (checksum or another reason)', () => {
    fc.assert(
      fc.property(strictCase, fc.nat(), fc.integer({ min: 0, max: 7 }), (c, pos, bit) => {
        const buf = encodeAdvert(c.advert, c.ctx);
        const flipped = Buffer.from(buf);
        const at = pos % buf.length;
        flipped[at] = flipped[at]! ^ (1 << bit);
        const r = decodeAdvert(flipped, rx(c));
        expect(r.ok).toBe(false);
        expectWellFormed(r);
        const v = validateAdvert(flipped, rx(c), expectationsFor(c));
        expect(v.ok).toBe(false);
      }),
      RUNS,
    );
  });

  it('unicast with old_unicast_checksum never: one-bit flips are detected too', () => {
    fc.assert(
      fc.property(v3Advert(4), unicastIpv4, unicastIpv4, fc.nat(), fc.integer({ min: 0, max: 7 }), (advert, src, dst, pos, bit) => {
        const c: Case = { advert, ctx: { src, dst } };
        const buf = encodeAdvert(advert, c.ctx);
        const at = pos % buf.length;
        buf[at] = buf[at]! ^ (1 << bit);
        const exp: InstanceExpectations = { ...expectationsFor(c), unicastPeers: [{ address: src }], oldUnicastChecksum: 'never' };
        expect(validateAdvert(buf, { ...rx(c), ttl: 64 }, exp).ok).toBe(false);
      }),
      RUNS,
    );
  });
});

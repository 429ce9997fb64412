/**
 * The netlink reply decoders (src/net/netlink.ts, src/ipvs/netlink-codec.ts,
 * src/net/rtnetlink-address.ts) against random and mutated replies: whatever the bytes, each
 * decoder returns or throws NetlinkDecodeError (a kernel error reply: NetlinkError), never
 * another exception, and never reads past the bytes it is given: the same reply placed before
 * two different tails decodes to the same result.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { decodeDaemonMessage, decodeDestMessage, decodeServiceMessage, operationRequest, startDaemonRequest } from '../src/ipvs/netlink-codec.js';
import type { Dest, ServiceId, ServiceSpec } from '../src/ipvs/model.js';
import {
  attr,
  checkReplies,
  encodeAttrs,
  encodeMessage,
  genlHeader,
  groupReplies,
  NetlinkClient,
  NetlinkDecodeError,
  NetlinkError,
  NLMSG_DONE,
  NLMSG_ERROR,
  parseAttrList,
  parseMessages,
  resolveGenlFamilySync,
  type NetlinkTransport,
  type NlMessage,
} from '../src/net/netlink.js';
import { AF_INET, AF_INET6, IFA_ADDRESS, IFA_BROADCAST, IFA_CACHEINFO, IFA_FLAGS, IFA_LABEL, IFA_LOCAL, parseAddrDump, parseAddrMessage, RTM_NEWADDR } from '../src/net/rtnetlink-address.js';

const IPVS_FAMILY = 0x22;

// ---------------------------------------------------------------- well-formed replies (seeds)

const arbV4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const arbV6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((w) => w.map((x) => x.toString(16)).join(':'));
const arbId: fc.Arbitrary<ServiceId> = fc.oneof(
  fc.record({ kind: fc.constant('addr' as const), protocol: fc.constantFrom('TCP' as const, 'UDP' as const, 'SCTP' as const), address: fc.oneof(arbV4, arbV6), port: fc.nat(65535) }),
  fc.record({ kind: fc.constant('fwmark' as const), fwmark: fc.integer({ min: 1, max: 0xffffffff }), family: fc.constantFrom('inet' as const, 'inet6' as const) }),
);
const arbSpec: fc.Arbitrary<ServiceSpec> = fc.record(
  {
    scheduler: fc.constantFrom('rr', 'wlc', 'sh'),
    flags: fc.subarray(['flag-1', 'flag-2', 'flag-3'] as const),
    ops: fc.boolean(),
    persistence: fc.record({ timeout: fc.nat(3600), netmask: fc.constant('255.255.255.0') }),
    pe: fc.constant('sip'),
  },
  { requiredKeys: ['scheduler', 'flags', 'ops'] },
);
const arbDest: fc.Arbitrary<Dest> = fc.record({
  address: fc.oneof(arbV4, arbV6),
  port: fc.nat(65535),
  forwarding: fc.constantFrom('NAT' as const, 'DR' as const, 'TUN' as const),
  weight: fc.integer({ min: -1, max: 65535 }),
  uthreshold: fc.nat(),
  lthreshold: fc.nat(),
  tunnel: fc.record({ type: fc.constantFrom('ipip' as const, 'gue' as const, 'gre' as const), port: fc.nat(65535), csum: fc.constantFrom(undefined, 'csum' as const, 'remcsum' as const) }),
});

/** One reply message the decoders read: as the kernel would send it (dump answers, errors, addresses). */
const arbMessage: fc.Arbitrary<Buffer> = fc.oneof(
  // an IPVS service or destination dump answer: a request's nested attributes, as the kernel echoes them
  fc.tuple(arbId, arbSpec, fc.nat()).map(([id, spec, seq]) => encodeMessage({ ...operationRequest(IPVS_FAMILY, { op: 'add-service', service: id, spec }), seq })),
  fc.tuple(arbId, arbDest, fc.nat()).map(([id, dest, seq]) => encodeMessage({ ...operationRequest(IPVS_FAMILY, { op: 'add-dest', service: id, dest }), seq })),
  fc.tuple(fc.constantFrom('master' as const, 'backup' as const), fc.nat(255), fc.nat()).map(([role, syncid, seq]) =>
    encodeMessage({ ...startDaemonRequest(IPVS_FAMILY, { role, interface: 'eth0', syncid, maxlen: 1400, group: '224.0.0.81', port: 8848, ttl: 1 }), seq }),
  ),
  // RTM_NEWADDR, IPv4 or IPv6
  fc.tuple(fc.boolean(), fc.nat(), fc.uint8Array({ minLength: 16, maxLength: 16 })).map(([v6, seq, a]) =>
    encodeMessage({
      type: RTM_NEWADDR,
      flags: 2,
      seq,
      header: Uint8Array.of(v6 ? AF_INET6 : AF_INET, 24, 0, 0, 3, 0, 0, 0),
      attrs: [
        attr.bytes(IFA_ADDRESS, a.subarray(0, v6 ? 16 : 4)),
        attr.bytes(IFA_LOCAL, a.subarray(0, v6 ? 16 : 4)),
        ...(v6 ? [] : [attr.bytes(IFA_BROADCAST, a.subarray(4, 8)), attr.str(IFA_LABEL, 'eth0')]),
        attr.u32(IFA_FLAGS, 0x80),
        attr.bytes(IFA_CACHEINFO, Buffer.alloc(16, 0xff)),
      ],
    }),
  ),
  // an error or ACK, with and without the extended ACK text; DONE
  fc.tuple(fc.nat(), fc.nat(140), fc.option(fc.string({ maxLength: 30 }))).map(([seq, errno, text]) => {
    const tlvs = text === null ? Buffer.alloc(0) : encodeAttrs([attr.str(1, text)]);
    const payload = Buffer.alloc(20 + tlvs.length);
    payload.writeInt32LE(-errno, 0);
    payload.writeUInt32LE(36, 4);
    tlvs.copy(payload, 20);
    return encodeMessage({ type: NLMSG_ERROR, flags: 0x100 | (text === null ? 0 : 0x200), seq, header: payload });
  }),
  fc.nat().map((seq) => encodeMessage({ type: NLMSG_DONE, flags: 2, seq, header: Buffer.alloc(4) })),
  // generic netlink's family lookup answer
  fc.tuple(fc.nat(), fc.nat(0xffff)).map(([seq, id]) => encodeMessage({ type: 0x10, flags: 0, seq, header: genlHeader(1, 2), attrs: [attr.str(2, 'IPVS'), attr.u16(1, id)] })),
);

const arbReply: fc.Arbitrary<Buffer> = fc.array(arbMessage, { minLength: 1, maxLength: 4 }).map((ms) => Buffer.concat(ms));

// ---------------------------------------------------------------- mutations

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'u16'; at: number; value: number }
  | { kind: 'u32'; at: number; value: number }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; n: number };

const arbMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.nat(255) }),
  // a length field: small, around the real size, or huge
  fc.record({ kind: fc.constant('u16' as const), at: fc.nat(), value: fc.oneof(fc.nat(12), fc.nat(0xffff)) }),
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: fc.oneof(fc.nat(40), fc.nat(0xffffffff)) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
);

function mutate(seed: Buffer, muts: readonly Mutation[]): Buffer {
  let b = Buffer.from(seed);
  for (const m of muts) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    switch (m.kind) {
      case 'flip':
        b[at] = b[at]! ^ (1 << m.bit);
        break;
      case 'set':
        b[at] = m.value;
        break;
      case 'u16':
        if (at + 2 <= b.length) b.writeUInt16LE(m.value, at);
        break;
      case 'u32':
        if (at + 4 <= b.length) b.writeUInt32LE(m.value >>> 0, at);
        break;
      case 'cut':
        b = b.subarray(0, at);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
        break;
    }
  }
  return b;
}

const arbInput: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(arbReply, fc.array(arbMutation, { minLength: 1, maxLength: 4 })).map(([seed, muts]) => mutate(seed, muts)) },
  { weight: 1, arbitrary: arbReply },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 96 }).map((u) => Buffer.from(u)) },
);

// ---------------------------------------------------------------- the decoders, all of them

/** Every decoder on every message of `buf`: what each returned, or the decode error it threw. */
function decodeEverything(buf: Buffer): unknown[] {
  const out: unknown[] = [];
  const attempt = (name: string, f: () => unknown) => {
    try {
      out.push([name, f()]);
    } catch (e) {
      if (!(e instanceof NetlinkDecodeError) && !(e instanceof NetlinkError)) throw e;
      out.push([name, e.name, e.message]);
    }
  };
  let messages: NlMessage[] = [];
  attempt('parseMessages', () => (messages = parseMessages(buf)).length);
  attempt('groupReplies', () => [...groupReplies(buf).values()]);
  attempt('checkReplies', () => checkReplies([...groupReplies(buf).values()], (i) => `request ${i}`));
  for (const m of messages) {
    attempt('attrs', () => parseAttrList(m.payload.subarray(4)));
    attempt('service', () => decodeServiceMessage(m));
    attempt('dest4', () => decodeDestMessage(m, 'inet'));
    attempt('dest6', () => decodeDestMessage(m, 'inet6'));
    attempt('daemon', () => decodeDaemonMessage(m));
    attempt('addr', () => parseAddrMessage({ ...m, type: RTM_NEWADDR }));
    attempt('addrDump', () => parseAddrDump([m]));
  }
  // the family lookup reads its answer through a client: a transport that answers with these
  // bytes, their sequence numbers rewritten to the request's so that they are looked at
  const transport: NetlinkTransport = {
    transact: (req) => {
      const seq = req.length >= 12 ? Buffer.from(req).readUInt32LE(8) : 0;
      const r = Buffer.from(buf);
      for (let off = 0; off + 16 <= r.length; ) {
        const len = r.readUInt32LE(off);
        r.writeUInt32LE(seq, off + 8);
        if (len < 16) break;
        off += Math.ceil(len / 4) * 4;
      }
      return r;
    },
    transactAsync: () => Promise.reject(new Error('not used')),
    close: () => undefined,
  };
  attempt('resolveGenlFamily', () => resolveGenlFamilySync(new NetlinkClient(transport), 'IPVS'));
  return out;
}

describe('netlink reply decoders against random and mutated replies (property)', () => {
  it('throw nothing but a decode error (or a kernel error reply), and read nothing past the reply', () => {
    let decoded = 0;
    let refused = 0;
    fc.assert(
      fc.property(arbInput, fc.uint8Array({ minLength: 1, maxLength: 64 }), (input, tail) => {
        // the same bytes with two different tails after them, decoded through a view of each
        const a = Buffer.concat([input, Buffer.from(tail)]).subarray(0, input.length);
        const b = Buffer.concat([input, Buffer.from(tail).map((x) => x ^ 0xff)]).subarray(0, input.length);
        const ra = decodeEverything(a);
        const rb = decodeEverything(b);
        expect(JSON.stringify(rb)).toBe(JSON.stringify(ra));
        for (const r of ra) if ((r as unknown[]).length === 3) refused++;
        else decoded++;
      }),
      { numRuns: 4000 },
    );
    // the inputs reach both outcomes often enough for the property to say something
    expect(decoded).toBeGreaterThan(1000);
    expect(refused).toBeGreaterThan(1000);
  });

  it('well-formed replies decode without an error', () => {
    fc.assert(
      fc.property(arbReply, (reply) => {
        expect(() => parseMessages(reply)).not.toThrow();
        expect(() => groupReplies(reply)).not.toThrow();
      }),
    );
  });

  it('a short fixed-size attribute is named in the error', () => {
    const m = parseMessages(
      encodeMessage({ type: IPVS_FAMILY, flags: 0, seq: 1, header: genlHeader(8, 1), attrs: [attr.nested(2, [attr.bytes(1, Buffer.alloc(4)), attr.bytes(4, Buffer.alloc(2))])] }),
    )[0]!;
    expect(() => decodeDestMessage(m, 'inet')).toThrow(new NetlinkDecodeError('IPVS_DEST_ATTR_WEIGHT: 2 bytes, expected 4'));
    const noHeader = parseMessages(encodeMessage({ type: IPVS_FAMILY, flags: 0, seq: 1, header: Buffer.alloc(0) }))[0]!;
    expect(() => decodeServiceMessage(noHeader)).toThrow(new NetlinkDecodeError('IPVS reply of 0 bytes cannot hold its 4-byte genl header'));
  });
});

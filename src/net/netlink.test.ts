import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  attr,
  encodeAttrs,
  encodeMessage,
  groupReplies,
  NETLINK_GENERIC,
  NetlinkClient,
  NetlinkDecodeError,
  NetlinkError,
  NLM_F_ACK,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  parseAttrList,
  parseAttrs,
  parseMessages,
  resolveGenlFamilySync,
  checkReplies,
  type Attr,
  type NetlinkTransport,
} from './netlink.js';

const attrArb: fc.Arbitrary<Attr> = fc.record({ type: fc.integer({ min: 1, max: 0x3fff }), value: fc.uint8Array({ maxLength: 40 }) });

function errorMessage(seq: number, errno: number, extack?: string): Buffer {
  const tlvs = extack ? encodeAttrs([attr.str(1, extack)]) : Buffer.alloc(0);
  const payload = Buffer.alloc(4 + 16 + tlvs.length);
  payload.writeInt32LE(-errno, 0);
  payload.writeUInt32LE(36, 4); // the echoed (capped) request header
  tlvs.copy(payload, 20);
  const m = encodeMessage({ type: NLMSG_ERROR, flags: 0x100 | (extack ? 0x200 : 0), seq, header: payload });
  return m;
}

describe('netlink codec', () => {
  it('attributes round-trip, padded to 4 bytes, in order (property)', () => {
    fc.assert(
      fc.property(fc.array(attrArb, { maxLength: 12 }), (attrs) => {
        const buf = encodeAttrs(attrs);
        expect(buf.length % 4).toBe(0);
        const back = parseAttrList(buf);
        expect(back.map((a) => a.type)).toEqual(attrs.map((a) => a.type));
        expect(back.map((a) => [...a.value])).toEqual(attrs.map((a) => [...(a.value as Uint8Array)]));
      }),
    );
  });

  it('messages round-trip with header fields and payload (property)', () => {
    const msgArb = fc.record({ type: fc.integer({ min: 16, max: 0xffff }), flags: fc.integer({ min: 0, max: 0xffff }), seq: fc.nat(), header: fc.uint8Array({ maxLength: 12 }), attrs: fc.array(attrArb, { maxLength: 4 }) });
    fc.assert(
      fc.property(fc.array(msgArb, { minLength: 1, maxLength: 6 }), (msgs) => {
        const parsed = parseMessages(Buffer.concat(msgs.map((m) => encodeMessage(m))));
        expect(parsed.map((p) => [p.type, p.flags, p.seq])).toEqual(msgs.map((m) => [m.type, m.flags, m.seq]));
        for (const [i, p] of parsed.entries()) {
          const m = msgs[i]!;
          const hlen = (m.header.length + 3) & ~3;
          expect([...p.payload.subarray(0, m.header.length)]).toEqual([...m.header]);
          expect(parseAttrList(p.payload.subarray(hlen)).map((a) => a.type)).toEqual(m.attrs.map((a) => a.type));
        }
      }),
    );
  });

  it('nested attributes set NLA_F_NESTED and parse back by type', () => {
    const buf = encodeAttrs([attr.nested(1, [attr.u32(2, 7), attr.be16(3, 80), attr.str(4, 'wlc')])]);
    expect(buf.readUInt16LE(2)).toBe(0x8001);
    const outer = parseAttrs(buf).get(1)!;
    const inner = parseAttrs(outer);
    expect(inner.get(2)?.readUInt32LE(0)).toBe(7);
    expect(inner.get(3)?.readUInt16BE(0)).toBe(80);
    expect(inner.get(4)?.toString()).toBe('wlc\0');
  });

  it('truncated input is a decode error, not a silent stop', () => {
    const m = encodeMessage({ type: 20, flags: 1, seq: 5, attrs: [attr.u32(1, 1)] });
    expect(() => parseMessages(m.subarray(0, m.length - 1))).toThrow(new NetlinkDecodeError('netlink reply: a message of 24 bytes at offset 0, with 23 bytes left'));
    expect(() => parseMessages(Buffer.concat([m, Buffer.alloc(8)]))).toThrow(new NetlinkDecodeError('netlink reply: 8 bytes at offset 24 cannot hold a 16-byte message header'));
    expect(() => parseAttrList(encodeAttrs([attr.u32(1, 1)]).subarray(0, 6))).toThrow(new NetlinkDecodeError('netlink attribute of 8 bytes at offset 0, with 6 bytes left'));
    expect(() => parseAttrList(Buffer.from([2, 0, 1, 0]))).toThrow(NetlinkDecodeError);
    // the kernel's nla_parse leaves fewer than 4 trailing bytes alone
    expect(parseAttrList(Buffer.concat([encodeAttrs([attr.u32(1, 1)]), Buffer.alloc(3)])).map((a) => a.type)).toEqual([1]);
    // an error message too short for its errno
    const e = encodeMessage({ type: NLMSG_ERROR, flags: 0, seq: 9, header: Buffer.alloc(4) });
    e.writeUInt32LE(18, 0); // a 2-byte payload, padded
    expect(() => groupReplies(e)).toThrow(new NetlinkDecodeError('netlink error message of 2 bytes, expected at least 4'));
  });

  it('groups replies by sequence: data, ACKs, errors with the extended-ACK text, DONE', () => {
    const data = encodeMessage({ type: 30, flags: 2, seq: 8, attrs: [attr.u8(1, 1)] });
    const buf = Buffer.concat([data, encodeMessage({ type: NLMSG_DONE, flags: 2, seq: 8, header: Buffer.alloc(4) }), errorMessage(9, 0), errorMessage(10, 17, 'Destination already exists')]);
    const g = groupReplies(buf);
    expect(g.get(8)).toMatchObject({ errno: 0, messages: [{ type: 30 }] });
    expect(g.get(9)).toMatchObject({ errno: 0, messages: [] });
    expect(g.get(10)).toMatchObject({ errno: 17, extack: 'Destination already exists' });
    expect(() => checkReplies([...g.values()], (i) => `request ${i}`)).toThrow(new NetlinkError(17, 'EEXIST', 10, 'Destination already exists', 'request 2'));
  });

  it('the client numbers requests and sets NLM_F_REQUEST', () => {
    const seen: Buffer[] = [];
    const transport: NetlinkTransport = {
      transact(req) {
        const b = Buffer.from(req);
        seen.push(b);
        return Buffer.concat(parseMessages(b).map((m) => errorMessage(m.seq, 0)));
      },
      transactAsync: async () => Buffer.alloc(0),
      close() {},
    };
    const c = new NetlinkClient(transport);
    const replies = c.requestSync([{ type: 20, flags: NLM_F_ACK }, { type: 21, flags: NLM_F_ACK }]);
    const sent = parseMessages(seen[0]!);
    expect(sent.map((m) => m.flags)).toEqual([NLM_F_REQUEST | NLM_F_ACK, NLM_F_REQUEST | NLM_F_ACK]);
    expect(sent[1]!.seq).toBe(sent[0]!.seq + 1);
    expect(replies.map((r) => r.seq)).toEqual(sent.map((m) => m.seq));
  });
});

describe('netlink socket (kernel)', () => {
  it('resolves generic netlink families through the real kernel', async () => {
    const c = NetlinkClient.open(NETLINK_GENERIC);
    try {
      expect(resolveGenlFamilySync(c, 'nlctrl')).toBe(0x10);
      expect(resolveGenlFamilySync(c, 'vk-nofamily')).toBeUndefined();
      // the async path gives the same answer, off the main thread
      const replies = await c.request([{ type: 0x10, flags: NLM_F_ACK, header: Uint8Array.of(3, 1, 0, 0), attrs: [attr.str(2, 'nlctrl')] }]);
      expect(replies[0]?.errno).toBe(0);
      expect(parseAttrs(replies[0]!.messages[0]!.payload.subarray(4)).get(1)?.readUInt16LE(0)).toBe(0x10);
    } finally {
      c.close();
    }
  });
});

describe('netlink dumps in one transaction (kernel)', () => {
  it('the kernel refuses a second dump sent in the same sendmsg (EBUSY); oneAtATime runs both', async () => {
    const c = NetlinkClient.open(NETLINK_GENERIC);
    try {
      const dump = { type: 0x10, flags: 0x300, header: Uint8Array.of(3, 1, 0, 0) }; // CTRL_CMD_GETFAMILY, NLM_F_DUMP
      const together = await c.request([dump, dump, dump]);
      // the first dump runs; a dump arriving while it runs is refused
      expect(together[0]?.errno).toBe(0);
      expect(together.slice(1).some((r) => r.errno === 16)).toBe(true);
      const sequential = await c.request([dump, dump, dump], undefined, { oneAtATime: true });
      expect(sequential.map((r) => r.errno)).toEqual([0, 0, 0]);
      const families = sequential.map((r) => r.messages.length);
      expect(families[0]).toBeGreaterThan(1);
      expect(new Set(families).size).toBe(1);
    } finally {
      c.close();
    }
  });
});

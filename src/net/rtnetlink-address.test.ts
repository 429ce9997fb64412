import fc from 'fast-check';
import { isIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';

import type { Vip } from '../config/schema.js';
import { attr, encodeMessage, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_MULTI, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkDecodeError, parseAttrList, parseAttrs, parseMessages } from './netlink.js';
import { ipBytes } from '../vocab/ip.js';

const ipv4Bytes = (a: string) => ipBytes(a, 4);
const ipv6Bytes = (a: string) => ipBytes(a, 6);
import {
  AF_INET,
  AF_INET6,
  delAddrRequest,
  formatAddress,
  getAddrDumpRequest,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_CACHEINFO,
  IFA_F_HOMEADDRESS,
  IFA_F_MANAGETEMPADDR,
  IFA_F_MCAUTOJOIN,
  IFA_F_NODAD,
  IFA_F_NOPREFIXROUTE,
  IFA_F_SECONDARY,
  IFA_FLAGS,
  IFA_LABEL,
  IFA_LOCAL,
  ifaddrmsg,
  newAddrRequest,
  parseAddrDump,
  parseAddrMessage,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RTM_DELADDR,
  RTM_GETADDR,
  RTM_NEWADDR,
  scopeName,
  scopeNumber,
} from './rtnetlink-address.js';

const v4Arb = fc.ipV4();
const v6Arb = fc.ipV6();

const vipArb: fc.Arbitrary<Vip> = fc.oneof(
  fc.record(
    {
      address: v4Arb,
      prefix: fc.integer({ min: 0, max: 32 }),
      brd: v4Arb,
      label: fc.stringMatching(/^[a-z0-9:]{1,15}$/),
      scope: fc.constantFrom('global', 'link', 'host', 'site', 'nowhere', '0', '17', '255'),
      peer: v4Arb,
      noprefixroute: fc.boolean(),
      autojoin: fc.boolean(),
      home: fc.boolean(), // IPv6-only: must not show up
      mngtmpaddr: fc.boolean(),
      preferred_lft: fc.oneof(fc.constant('forever' as const), fc.integer({ min: 0, max: 0xfffffffe })),
    },
    { requiredKeys: ['address', 'prefix'] },
  ),
  fc.record(
    {
      address: v6Arb,
      prefix: fc.integer({ min: 0, max: 128 }),
      peer: v6Arb,
      nodad: fc.boolean(),
      home: fc.boolean(),
      mngtmpaddr: fc.boolean(),
      noprefixroute: fc.boolean(),
      autojoin: fc.boolean(),
      label: fc.constant('eth0:x'), // IPv4-only: must not show up
      brd: fc.constant('10.0.0.255'),
      preferred_lft: fc.oneof(fc.constant('forever' as const), fc.integer({ min: 0, max: 0xfffffffe })),
    },
    { requiredKeys: ['address', 'prefix'] },
  ),
);

const bytesOf = (a: string) => (a.includes(':') ? ipv6Bytes(a) : ipv4Bytes(a));

describe('rtnetlink address requests', () => {
  it('RTM_NEWADDR carries every VIP field; encode → parse round-trips (property)', () => {
    fc.assert(
      fc.property(vipArb, fc.integer({ min: 1, max: 0x7fffffff }), fc.nat(), (vip, index, seq) => {
        const req = newAddrRequest(vip, index);
        const [m] = parseMessages(encodeMessage({ ...req, flags: req.flags | NLM_F_REQUEST, seq }));
        expect(m).toBeDefined();
        expect(m!.type).toBe(RTM_NEWADDR);
        expect(m!.seq).toBe(seq);
        expect(m!.flags).toBe(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
        expect(m!.flags & NLM_F_EXCL).toBe(0);
        const v6 = vip.address.includes(':');
        const p = m!.payload;
        expect(p.readUInt8(0)).toBe(v6 ? AF_INET6 : AF_INET);
        expect(p.readUInt8(1)).toBe(vip.prefix);
        expect(p.readUInt32LE(4)).toBe(index);
        const scope = vip.scope === undefined ? (!v6 && vip.address.startsWith('127.') ? RT_SCOPE_HOST : 0) : scopeNumber(vip.scope);
        expect(p.readUInt8(3)).toBe(scope);
        const attrs = parseAttrs(p.subarray(8));
        expect(attrs.get(IFA_LOCAL)).toEqual(bytesOf(vip.address));
        expect(attrs.get(IFA_ADDRESS)).toEqual(bytesOf(vip.peer ?? vip.address));
        expect(attrs.get(IFA_BROADCAST)).toEqual(!v6 && vip.brd ? ipv4Bytes(vip.brd) : undefined);
        expect(attrs.get(IFA_LABEL)?.toString()).toBe(!v6 && vip.label ? `${vip.label}\0` : undefined);
        let want = 0;
        if (v6) want |= IFA_F_NODAD; // always, as keepalived
        if (v6 && vip.home) want |= IFA_F_HOMEADDRESS;
        if (v6 && vip.mngtmpaddr) want |= IFA_F_MANAGETEMPADDR;
        if (vip.noprefixroute) want |= IFA_F_NOPREFIXROUTE;
        if (vip.autojoin) want |= IFA_F_MCAUTOJOIN;
        expect(attrs.get(IFA_FLAGS)?.readUInt32LE(0)).toBe(want === 0 ? undefined : want);
        expect(p.readUInt8(2)).toBe(want & 0xff);
        const ci = attrs.get(IFA_CACHEINFO);
        if (vip.preferred_lft === undefined) expect(ci).toBeUndefined();
        else {
          expect(ci?.length).toBe(16);
          expect(ci!.readUInt32LE(0)).toBe(vip.preferred_lft === 'forever' ? 0xffffffff : vip.preferred_lft);
          expect(ci!.readUInt32LE(4)).toBe(0xffffffff);
        }
      }),
    );
  });

  it('RTM_DELADDR names only the identity: address, prefix, peer, interface (property)', () => {
    fc.assert(
      fc.property(vipArb, fc.integer({ min: 1, max: 0x7fffffff }), (vip, index) => {
        const req = delAddrRequest(vip, index);
        const [m] = parseMessages(encodeMessage({ ...req, seq: 1 }));
        expect(m!.type).toBe(RTM_DELADDR);
        expect(m!.flags).toBe(NLM_F_ACK);
        const p = m!.payload;
        expect([p.readUInt8(1), p.readUInt8(2), p.readUInt8(3), p.readUInt32LE(4)]).toEqual([vip.prefix, 0, 0, index]);
        const list = parseAttrList(p.subarray(8));
        expect(list.map((a) => a.type)).toEqual([IFA_LOCAL, IFA_ADDRESS]);
        expect(list[0]!.value).toEqual(bytesOf(vip.address));
        expect(list[1]!.value).toEqual(bytesOf(vip.peer ?? vip.address));
      }),
    );
  });

  it('table: what ip / keepalived send for common VIPs', () => {
    const cases: { vip: Vip; scope: number; flags: number; attrs: number[] }[] = [
      { vip: { address: '10.0.0.1', prefix: 24 }, scope: 0, flags: 0, attrs: [IFA_LOCAL, IFA_ADDRESS] },
      { vip: { address: '127.0.0.9', prefix: 8 }, scope: RT_SCOPE_HOST, flags: 0, attrs: [IFA_LOCAL, IFA_ADDRESS] },
      { vip: { address: '10.0.0.1', prefix: 24, brd: '10.0.0.255', label: 'eth0:1', scope: 'link' }, scope: RT_SCOPE_LINK, flags: 0, attrs: [IFA_LOCAL, IFA_ADDRESS, IFA_BROADCAST, IFA_LABEL] },
      { vip: { address: 'fd00::1', prefix: 64 }, scope: 0, flags: IFA_F_NODAD, attrs: [IFA_LOCAL, IFA_ADDRESS, IFA_FLAGS] },
      { vip: { address: 'fd00::1', prefix: 128, nodad: true, preferred_lft: 0 }, scope: 0, flags: IFA_F_NODAD, attrs: [IFA_LOCAL, IFA_ADDRESS, IFA_CACHEINFO, IFA_FLAGS] },
      { vip: { address: '10.0.0.1', prefix: 32, noprefixroute: true }, scope: 0, flags: IFA_F_NOPREFIXROUTE, attrs: [IFA_LOCAL, IFA_ADDRESS, IFA_FLAGS] },
    ];
    for (const c of cases) {
      const m = parseMessages(encodeMessage({ ...newAddrRequest(c.vip, 3), seq: 1 }))[0]!;
      expect(m.payload.readUInt8(3), JSON.stringify(c.vip)).toBe(c.scope);
      expect(parseAttrList(m.payload.subarray(8)).map((a) => a.type), JSON.stringify(c.vip)).toEqual(c.attrs);
      expect(parseAttrs(m.payload.subarray(8)).get(IFA_FLAGS)?.readUInt32LE(0) ?? 0).toBe(c.flags);
    }
  });

  it('the dump request asks for every address (of a family)', () => {
    const m = parseMessages(encodeMessage({ ...getAddrDumpRequest(AF_INET6), seq: 4 }))[0]!;
    expect(m.type).toBe(RTM_GETADDR);
    expect(m.flags).toBe(NLM_F_DUMP);
    expect(m.payload.length).toBe(8);
    expect(m.payload.readUInt8(0)).toBe(AF_INET6);
  });

  it('scopes: names and numbers', () => {
    expect(['global', 'universe', 'site', 'link', 'host', 'nowhere', '0', '99', '255'].map(scopeNumber)).toEqual([0, 0, 200, 253, 254, 255, 0, 99, 255]);
    for (const bad of ['', 'bogus', '256', '-1', '01', '1.5', ' 1']) expect(scopeNumber(bad), bad).toBeUndefined();
    expect([0, 200, 253, 254, 255, 17].map(scopeName)).toEqual(['global', 'site', 'link', 'host', 'nowhere', '17']);
  });
});

describe('rtnetlink address dump parser', () => {
  /** An RTM_NEWADDR as the kernel dumps it. */
  function kernelMsg(o: { family: 4 | 6; local: string; prefixlen: number; index: number; peer?: string; brd?: string; label?: string; scope?: number; flags?: number; cacheinfo?: [number, number]; ipv6NoLocal?: boolean }): Buffer {
    const attrs = [];
    if (o.family === 6 && o.ipv6NoLocal) attrs.push(attr.bytes(IFA_ADDRESS, ipv6Bytes(o.local)));
    else {
      attrs.push(attr.bytes(IFA_ADDRESS, bytesOf(o.peer ?? o.local)));
      attrs.push(attr.bytes(IFA_LOCAL, bytesOf(o.local)));
    }
    if (o.brd) attrs.push(attr.bytes(IFA_BROADCAST, ipv4Bytes(o.brd)));
    if (o.label) attrs.push(attr.str(IFA_LABEL, o.label));
    attrs.push(attr.u32(IFA_FLAGS, o.flags ?? 0));
    if (o.cacheinfo) {
      const ci = Buffer.alloc(16);
      ci.writeUInt32LE(o.cacheinfo[0], 0);
      ci.writeUInt32LE(o.cacheinfo[1], 4);
      attrs.push(attr.bytes(IFA_CACHEINFO, ci));
    }
    return encodeMessage({ type: RTM_NEWADDR, flags: NLM_F_MULTI, seq: 9, header: ifaddrmsg({ family: o.family === 4 ? AF_INET : AF_INET6, prefixlen: o.prefixlen, flags: (o.flags ?? 0) & 0xff, scope: o.scope ?? 0, index: o.index }), attrs });
  }

  it('reads addresses back: local, peer, broadcast, label, scope, 32-bit flags, lifetimes', () => {
    const buf = Buffer.concat([
      kernelMsg({ family: 4, local: '10.0.0.1', prefixlen: 24, index: 2, brd: '10.0.0.255', label: 'eth0', cacheinfo: [0xffffffff, 0xffffffff] }),
      kernelMsg({ family: 4, local: '10.0.0.5', prefixlen: 24, index: 2, label: 'eth0:vip', flags: IFA_F_SECONDARY }),
      kernelMsg({ family: 4, local: '10.2.0.5', prefixlen: 32, index: 3, peer: '10.2.0.1' }),
      kernelMsg({ family: 6, local: 'fe80::1', prefixlen: 64, index: 2, scope: RT_SCOPE_LINK, flags: 0x480, ipv6NoLocal: true }),
      kernelMsg({ family: 6, local: 'fd00::5', prefixlen: 128, index: 2, peer: 'fd00::1', flags: IFA_F_NODAD | IFA_F_NOPREFIXROUTE }),
      encodeMessage({ type: 3, flags: 2, seq: 9, header: Buffer.alloc(4) }), // DONE
    ]);
    expect(parseAddrDump(parseMessages(buf))).toEqual([
      { family: 4, index: 2, local: '10.0.0.1', prefixlen: 24, broadcast: '10.0.0.255', label: 'eth0', scope: 0, flags: 0, preferredLft: 0xffffffff, validLft: 0xffffffff },
      { family: 4, index: 2, local: '10.0.0.5', prefixlen: 24, label: 'eth0:vip', scope: 0, flags: IFA_F_SECONDARY },
      { family: 4, index: 3, local: '10.2.0.5', prefixlen: 32, peer: '10.2.0.1', scope: 0, flags: 0 },
      { family: 6, index: 2, local: 'fe80::1', prefixlen: 64, scope: RT_SCOPE_LINK, flags: 0x480 },
      { family: 6, index: 2, local: 'fd00::5', prefixlen: 128, peer: 'fd00::1', scope: 0, flags: IFA_F_NODAD | IFA_F_NOPREFIXROUTE },
    ]);
  });

  it('what the requests add is what the parser reads back (property)', () => {
    fc.assert(
      fc.property(vipArb, fc.integer({ min: 1, max: 1000 }), (vip, index) => {
        const req = newAddrRequest(vip, index);
        const m = parseMessages(encodeMessage({ ...req, seq: 1 }))[0]!;
        const a = parseAddrMessage(m)!;
        const v6 = vip.address.includes(':');
        expect(a.family).toBe(v6 ? 6 : 4);
        expect(a.index).toBe(index);
        expect(a.prefixlen).toBe(vip.prefix);
        expect(bytesOf(a.local)).toEqual(bytesOf(vip.address));
        if (vip.peer !== undefined && !bytesOf(vip.peer).equals(bytesOf(vip.address))) expect(bytesOf(a.peer!)).toEqual(bytesOf(vip.peer));
        else expect(a.peer).toBeUndefined();
        expect(a.label).toBe(!v6 ? vip.label : undefined);
      }),
    );
  });

  it('ignores other message types and families; a short header or attribute is a decode error', () => {
    expect(parseAddrMessage({ type: RTM_DELADDR, flags: 0, seq: 0, pid: 0, payload: Buffer.alloc(8) })).toBeUndefined();
    const m = parseMessages(encodeMessage({ type: RTM_NEWADDR, flags: 0, seq: 0, header: ifaddrmsg({ family: 17, prefixlen: 0, index: 1 }), attrs: [attr.bytes(IFA_LOCAL, Buffer.alloc(4))] }))[0]!;
    expect(parseAddrMessage(m)).toBeUndefined();
    const short = parseMessages(encodeMessage({ type: RTM_NEWADDR, flags: 0, seq: 0, header: ifaddrmsg({ family: AF_INET6, prefixlen: 64, index: 1 }), attrs: [attr.bytes(IFA_ADDRESS, Buffer.alloc(4))] }))[0]!;
    expect(() => parseAddrMessage(short)).toThrow(new NetlinkDecodeError('IFA_ADDRESS: 4 bytes, expected 16'));
    expect(() => parseAddrMessage({ type: RTM_NEWADDR, flags: 0, seq: 0, pid: 0, payload: Buffer.alloc(7) })).toThrow(NetlinkDecodeError);
    const cacheinfo = parseMessages(encodeMessage({ type: RTM_NEWADDR, flags: 0, seq: 0, header: ifaddrmsg({ family: AF_INET, prefixlen: 24, index: 1 }), attrs: [attr.bytes(IFA_LOCAL, Buffer.alloc(4)), attr.bytes(IFA_CACHEINFO, Buffer.alloc(6))] }))[0]!;
    expect(() => parseAddrMessage(cacheinfo)).toThrow(new NetlinkDecodeError('IFA_CACHEINFO: 6 bytes, expected 8'));
  });

  it('formats IPv6 as RFC 5952 (the WHATWG URL serializer agrees) and round-trips (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        const text = formatAddress(b);
        expect(isIPv6(text)).toBe(true);
        expect(ipv6Bytes(text)).toEqual(Buffer.from(b));
        if (!text.startsWith('::ffff:') || text.split(':').length > 3) expect(text).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
      }),
    );
    const z = (s: string) => formatAddress(ipv6Bytes(s));
    expect(z('fe80:0:0:0:0:0:0:1')).toBe('fe80::1');
    expect(z('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(z('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(z('::')).toBe('::');
    expect(z('::1')).toBe('::1');
    expect(z('::ffff:10.1.2.3')).toBe('::ffff:10.1.2.3');
    expect(formatAddress(Uint8Array.of(10, 0, 0, 255))).toBe('10.0.0.255');
  });
});

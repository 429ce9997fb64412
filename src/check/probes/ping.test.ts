import { describe, expect, it } from 'vitest';

import { buildEchoRequest, canonicalIp, classifyIcmp, inetChecksum } from './ping.js';

const tag = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const payload = Buffer.concat([tag, Buffer.alloc(40, 0x5a)]);

describe('ICMP echo', () => {
  it('computes the RFC 1071 checksum (a packet with its checksum sums to 0)', () => {
    expect(inetChecksum(Buffer.from('0001f203f4f5f6f7', 'hex'))).toBe(0x220d);
    const req = buildEchoRequest(4, 0x1234, 7, payload);
    expect(req[0]).toBe(8);
    expect(inetChecksum(req)).toBe(0);
    expect(inetChecksum(Buffer.from([1, 2, 3]))).toBe(~(0x0102 + 0x0300) & 0xffff);
  });

  it('leaves the ICMPv6 checksum to the kernel', () => {
    const req = buildEchoRequest(6, 0x1234, 7, payload);
    expect(req[0]).toBe(128);
    expect(req.readUInt16BE(2)).toBe(0);
    expect(req.readUInt16BE(4)).toBe(0x1234);
    expect(req.readUInt16BE(6)).toBe(7);
  });

  it('recognises our echo reply and nobody else’s', () => {
    const reply4 = Buffer.from(buildEchoRequest(4, 0x1234, 7, payload));
    reply4[0] = 0;
    expect(classifyIcmp(4, reply4, 0x1234, 7, tag)).toEqual({ kind: 'reply' });
    expect(classifyIcmp(4, reply4, 0x1235, 7, tag)).toBeUndefined();
    expect(classifyIcmp(4, reply4, 0x1234, 8, tag)).toBeUndefined();
    expect(classifyIcmp(4, reply4, 0x1234, 7, Buffer.alloc(16))).toBeUndefined();
    // our own request looped back is not a reply
    expect(classifyIcmp(4, buildEchoRequest(4, 0x1234, 7, payload), 0x1234, 7, tag)).toBeUndefined();

    const reply6 = Buffer.from(buildEchoRequest(6, 0x1234, 7, payload));
    reply6[0] = 129;
    expect(classifyIcmp(6, reply6, 0x1234, 7, tag)).toEqual({ kind: 'reply' });
  });

  it('recognises a destination unreachable that quotes our request', () => {
    const req = buildEchoRequest(4, 0x1234, 7, payload);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip[9] = 1; // ICMP
    const err4 = Buffer.concat([Buffer.from([3, 1, 0, 0, 0, 0, 0, 0]), ip, req.subarray(0, 8)]);
    expect(classifyIcmp(4, err4, 0x1234, 7, tag)).toEqual({ kind: 'error', type: 3, code: 1 });
    expect(classifyIcmp(4, err4, 0x9999, 7, tag)).toBeUndefined();

    const req6 = buildEchoRequest(6, 0x1234, 7, payload);
    const ip6 = Buffer.alloc(40);
    ip6[0] = 0x60;
    ip6[6] = 58; // next header ICMPv6
    const err6 = Buffer.concat([Buffer.from([1, 3, 0, 0, 0, 0, 0, 0]), ip6, req6.subarray(0, 8)]);
    expect(classifyIcmp(6, err6, 0x1234, 7, tag)).toEqual({ kind: 'error', type: 1, code: 3 });
  });

  it('canonicalises addresses for comparison', () => {
    expect(canonicalIp('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(canonicalIp('FE80::1%eth0')).toBe('fe80::1');
    expect(canonicalIp('127.0.0.1')).toBe('127.0.0.1');
  });
});

import { describe, expect, it } from 'vitest';

import { buildDnsQuery, DNS_TYPES, parseDnsHeader, rcodeName } from './dns.js';

describe('buildDnsQuery (keepalived dns_make_query)', () => {
  it('encodes header with RD, one question, type and class IN', () => {
    const q = buildDnsQuery(0xbeef, 'example.test', 'A');
    expect(q.toString('hex')).toBe('beef' + '0100' + '0001' + '0000' + '0000' + '0000' + '076578616d706c6504746573740000010001');
  });

  it('the root name "." is a single zero byte; the default type SOA is 6', () => {
    expect(buildDnsQuery(1, '.', 'SOA').subarray(12).toString('hex')).toBe('00' + '0006' + '0001');
  });

  it('a trailing dot is the same name', () => {
    expect(buildDnsQuery(1, 'example.test.', 'AAAA')).toEqual(buildDnsQuery(1, 'example.test', 'AAAA'));
  });

  it('rejects empty and oversized labels', () => {
    expect(() => buildDnsQuery(1, 'a..b', 'A')).toThrow(RangeError);
    expect(() => buildDnsQuery(1, `${'x'.repeat(64)}.test`, 'A')).toThrow(RangeError);
  });

  it('knows the type codes', () => {
    expect(DNS_TYPES).toEqual({ A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28, RRSIG: 46, DNSKEY: 48 });
  });
});

describe('parseDnsHeader', () => {
  it('reads ID, QR, RCODE and ANCOUNT', () => {
    expect(parseDnsHeader(Buffer.from('beef8183000100000000000000', 'hex'))).toEqual({ id: 0xbeef, qr: true, rcode: 3, ancount: 0 });
    expect(parseDnsHeader(Buffer.from('beef0100000100020000', 'hex'))).toBeUndefined();
    expect(rcodeName(5)).toBe('REFUSED');
    expect(rcodeName(15)).toBe('RCODE15');
  });
});

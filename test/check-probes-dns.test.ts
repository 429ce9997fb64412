/** DNS_CHECK against dnsmasq and scripted UDP responders on loopback. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { dnsProbe } from '../src/check/probes/dns.js';
import type { DnsType, ProbeSpec } from '../src/check/types.js';
import { closedPort, Servers, startDnsmasq, startUdpEcho } from './helpers/servers.js';

const servers = new Servers();
afterAll(() => servers.closeAll());

const dns = (port: number, name: string, type: DnsType = 'A', over: Partial<Extract<ProbeSpec, { kind: 'DNS_CHECK' }>> = {}): ProbeSpec => ({
  kind: 'DNS_CHECK',
  address: '127.0.0.1',
  port,
  timeoutMs: 3000,
  type,
  name,
  ...over,
});
const sig = () => new AbortController().signal;

/** Flip a query into a reply header: QR=1, given RCODE, optional ID change. */
function answer(q: Buffer, rcode: number, idDelta = 0): Buffer {
  const r = Buffer.from(q);
  r.writeUInt16BE((q.readUInt16BE(0) + idDelta) & 0xffff, 0);
  r.writeUInt16BE(0x8180 | rcode, 2);
  return r;
}

describe('DNS_CHECK with dnsmasq', () => {
  let port: number;
  beforeAll(async () => {
    port = (await startDnsmasq(servers)).port;
  });

  it('A record: NOERROR passes', async () => {
    await expect(dnsProbe(dns(port, 'example.test'), sig())).resolves.toEqual({ ok: true, detail: 'DNS A example.test: NOERROR, 1 answer' });
    await expect(dnsProbe(dns(port, 'example.test.'), sig())).resolves.toMatchObject({ ok: true });
  });

  it('NXDOMAIN fails with status', async () => {
    await expect(dnsProbe(dns(port, 'missing.nx.test'), sig())).resolves.toMatchObject({
      ok: false,
      reason: 'status',
      detail: expect.stringContaining('rcode 3 (NXDOMAIN)'),
    });
  });

  it('REFUSED (no upstream for the name) fails with status', async () => {
    await expect(dnsProbe(dns(port, '.', 'SOA'), sig())).resolves.toMatchObject({
      ok: false,
      reason: 'status',
      detail: expect.stringContaining('REFUSED'),
    });
  });

  it('from a bind address', async () => {
    await expect(dnsProbe(dns(port, 'example.test', 'A', { bindto: '127.0.0.1' }), sig())).resolves.toMatchObject({ ok: true });
  });
});

describe('DNS_CHECK reply matching', () => {
  it('ignores replies with another ID or without QR, then takes ours', async () => {
    const ok = servers.add(await startUdpEcho({ reply: (q) => [answer(q, 5, 1), Buffer.from(q), answer(q, 0)] }));
    await expect(dnsProbe(dns(ok.port, 'x.test'), sig())).resolves.toMatchObject({ ok: true });
    const servfail = servers.add(await startUdpEcho({ reply: (q) => [answer(q, 0, 1), answer(q, 2)] }));
    await expect(dnsProbe(dns(servfail.port, 'x.test'), sig())).resolves.toMatchObject({
      ok: false,
      reason: 'status',
      detail: expect.stringContaining('SERVFAIL'),
    });
    // only foreign or non-reply datagrams: no verdict before the deadline
    const junk = servers.add(await startUdpEcho({ reply: (q) => [answer(q, 0, 1), Buffer.from(q), Buffer.from('short')] }));
    await expect(dnsProbe(dns(junk.port, 'x.test', 'A', { timeoutMs: 300 }), sig())).resolves.toMatchObject({ ok: false, reason: 'timeout' });
  });

  it('a silent server times out; a closed port is unreachable', async () => {
    const quiet = servers.add(await startUdpEcho({ reply: () => null }));
    await expect(dnsProbe(dns(quiet.port, 'x.test', 'A', { timeoutMs: 300 }), sig())).resolves.toMatchObject({
      ok: false,
      reason: 'timeout',
      detail: expect.stringContaining('waiting for the reply'),
    });
    expect(quiet.received).toHaveLength(1);
    await expect(dnsProbe(dns(await closedPort('udp'), 'x.test'), sig())).resolves.toMatchObject({ ok: false, reason: 'unreachable' });
  });

  it('IPv6', async () => {
    const srv = servers.add(await startUdpEcho({ host: '::1', reply: (q) => answer(q, 0) }));
    await expect(dnsProbe(dns(srv.port, 'x.test', 'AAAA', { address: '::1' }), sig())).resolves.toMatchObject({ ok: true });
    await expect(dnsProbe(dns(await closedPort('udp', '::1'), 'x.test', 'A', { address: '::1' }), sig())).resolves.toMatchObject({
      ok: false,
      reason: 'unreachable',
    });
  });
});

/** UDP_CHECK against loopback UDP servers. */
import { afterAll, describe, expect, it } from 'vitest';

import { udpProbe } from '../src/check/probes/udp.js';
import type { ProbeSpec } from '../src/check/types.js';
import { closedPort, Servers, startUdpEcho } from './helpers/servers.js';

const servers = new Servers();
afterAll(() => servers.closeAll());

const udp = (port: number, over: Partial<Extract<ProbeSpec, { kind: 'UDP_CHECK' }>> = {}): ProbeSpec => ({
  kind: 'UDP_CHECK',
  address: '127.0.0.1',
  port,
  timeoutMs: 2000,
  minReplyLength: 0,
  maxReplyLength: 255,
  ...over,
});
const sig = () => new AbortController().signal;

describe('UDP_CHECK', () => {
  it('echo with require_reply: payload sent as configured, reply matched with X wildcards', async () => {
    const echo = servers.add(await startUdpEcho());
    await expect(udpProbe(udp(echo.port, { payload: 'de ad be ef 01', requireReply: 'deadXXef' }), sig())).resolves.toMatchObject({ ok: true });
    expect(echo.received[0]?.toString('hex')).toBe('deadbeef01');
  });

  it('a random payload of 32 bytes when none is set', async () => {
    const echo = servers.add(await startUdpEcho());
    await expect(udpProbe(udp(echo.port, { requireReply: '' }), sig())).resolves.toMatchObject({ ok: true });
    await expect(udpProbe(udp(echo.port, { requireReply: '' }), sig())).resolves.toMatchObject({ ok: true });
    expect(echo.received.map((b) => b.length)).toEqual([32, 32]);
    expect(echo.received[0]?.equals(echo.received[1] ?? Buffer.alloc(0))).toBe(false);
  });

  it('a reply that does not match fails with protocol', async () => {
    const srv = servers.add(await startUdpEcho({ reply: () => Buffer.from('cafe', 'hex') }));
    await expect(udpProbe(udp(srv.port, { payload: '00', requireReply: 'beef' }), sig())).resolves.toMatchObject({
      ok: false,
      reason: 'protocol',
      detail: expect.stringContaining('byte 0'),
    });
  });

  it('min/max reply length', async () => {
    const srv = servers.add(await startUdpEcho({ reply: () => Buffer.alloc(10) }));
    await expect(udpProbe(udp(srv.port, { requireReply: '', minReplyLength: 11 }), sig())).resolves.toMatchObject({ ok: false, reason: 'protocol' });
    await expect(udpProbe(udp(srv.port, { requireReply: '', maxReplyLength: 9 }), sig())).resolves.toMatchObject({ ok: false, reason: 'protocol' });
    await expect(udpProbe(udp(srv.port, { requireReply: '', minReplyLength: 10, maxReplyLength: 10 }), sig())).resolves.toMatchObject({ ok: true });
  });

  it('closed port: ICMP port unreachable → unreachable (IPv4 and IPv6)', async () => {
    await expect(udpProbe(udp(await closedPort('udp')), sig())).resolves.toMatchObject({ ok: false, reason: 'unreachable' });
    await expect(udpProbe(udp(await closedPort('udp', '::1'), { address: '::1' }), sig())).resolves.toMatchObject({
      ok: false,
      reason: 'unreachable',
    });
  });

  it('a silent server: passes at the deadline without require_reply, times out with it', async () => {
    const quiet = servers.add(await startUdpEcho({ reply: () => null }));
    await expect(udpProbe(udp(quiet.port, { timeoutMs: 300 }), sig())).resolves.toMatchObject({
      ok: true,
      detail: expect.stringContaining('no ICMP error'),
    });
    await expect(udpProbe(udp(quiet.port, { timeoutMs: 300, requireReply: '' }), sig())).resolves.toMatchObject({ ok: false, reason: 'timeout' });
  });

  it('any reply passes without require_reply', async () => {
    const srv = servers.add(await startUdpEcho({ reply: () => Buffer.from('x') }));
    await expect(udpProbe(udp(srv.port), sig())).resolves.toMatchObject({ ok: true, detail: expect.stringContaining('reply of 1 bytes') });
  });

  it('IPv6 echo and bind address', async () => {
    const echo = servers.add(await startUdpEcho({ host: '::1' }));
    await expect(udpProbe(udp(echo.port, { address: '::1', requireReply: '', bindto: '::1' }), sig())).resolves.toMatchObject({ ok: true });
  });
});

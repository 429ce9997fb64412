/**
 * Nothing leaks: after a mix of passing, failing and timed-out attempts of every socket probe,
 * the process holds no more sockets or timers than before (counted with
 * process.getActiveResourcesInfo(), and — for the addon's TCP connects, which libuv does not
 * list — as open file descriptors in /proc/self/fd).
 */
import { readdirSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runProbe } from '../src/check/probes/index.js';
import { nativeConnections } from '../src/check/probes/native-connector.js';
import type { ProbeSpec } from '../src/check/types.js';
import { behaviours, closedPort, Servers, startScriptedHttp, startScriptedSmtp, startUdpEcho, waitFor } from './helpers/servers.js';

const servers = new Servers();
afterAll(() => servers.closeAll());

function count(kinds: string[]): number {
  return process.getActiveResourcesInfo().filter((k) => kinds.includes(k)).length;
}
const SOCKETS = ['TCPSocketWrap', 'TCPWrap', 'UDPWrap', 'UDPWRAP', 'TLSWrap'];
const openFds = () => readdirSync('/proc/self/fd').length;

describe('probe resource hygiene', () => {
  const specs: ProbeSpec[] = [];

  beforeAll(async () => {
    const http = servers.add(
      await startScriptedHttp({
        routes: { '/ok': behaviours.respond(200, 'ok'), '/hang': behaviours.hang(), '/reset': behaviours.reset(), '/slow': behaviours.trickle(200, 'x'.repeat(100), 50) },
      }),
    );
    const smtpOk = servers.add(await startScriptedSmtp({ greeting: '220 hi\r\n' }));
    const smtpSilent = servers.add(await startScriptedSmtp({ greeting: '' }));
    const echo = servers.add(await startUdpEcho());
    const quiet = servers.add(await startUdpEcho({ reply: () => null }));
    const closedTcp = await closedPort('tcp');
    const closedUdp = await closedPort('udp');
    const t = { address: '127.0.0.1', timeoutMs: 250 };
    const url = (path: string) => ({ kind: 'HTTP_GET' as const, ...t, port: http.port, httpProtocol: '1.1' as const, verifyTls: false, url: { path, statusCodes: [] } });
    specs.push(
      { kind: 'TCP_CHECK', ...t, port: http.port },
      { kind: 'TCP_CHECK', ...t, port: closedTcp },
      url('/ok'),
      url('/hang'),
      url('/reset'),
      url('/slow'),
      { ...url('/ok'), port: closedTcp },
      { kind: 'SMTP_CHECK', ...t, port: smtpOk.port, heloName: 'x' },
      { kind: 'SMTP_CHECK', ...t, port: smtpSilent.port, heloName: 'x' },
      { kind: 'DNS_CHECK', ...t, port: quiet.port, type: 'A', name: 'x.test' },
      { kind: 'DNS_CHECK', ...t, port: closedUdp, type: 'A', name: 'x.test' },
      { kind: 'UDP_CHECK', ...t, port: echo.port, requireReply: '', minReplyLength: 0, maxReplyLength: 255 },
      { kind: 'UDP_CHECK', ...t, port: quiet.port, minReplyLength: 0, maxReplyLength: 255 },
      { kind: 'UDP_CHECK', ...t, port: closedUdp, minReplyLength: 0, maxReplyLength: 255 },
    );
  });

  it('returns to the baseline of sockets and timers', async () => {
    // the addon's connector is made on first use and lives on (its epoll fd): not a leak
    expect(nativeConnections()).toBeDefined();
    await new Promise((r) => setTimeout(r, 50));
    const sockets0 = count(SOCKETS);
    const timers0 = count(['Timeout']);
    const fds0 = openFds();
    const results = await Promise.all(specs.map((s) => runProbe(s, new AbortController().signal)));
    expect(results.map((r) => r.ok)).toEqual([true, false, true, false, false, false, false, true, false, false, false, true, true, false]);
    // half-closed server sides go away once the probes' FINs are processed
    await waitFor(() => count(SOCKETS) <= sockets0, 3000, `sockets back to ${sockets0}: ${JSON.stringify(process.getActiveResourcesInfo())}`);
    await waitFor(() => count(['Timeout']) <= timers0, 3000, `timers back to ${timers0}`);
    await waitFor(() => openFds() <= fds0, 3000, `file descriptors back to ${fds0}`);
  });
});

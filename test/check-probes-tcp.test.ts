/** TCP_CHECK against loopback listeners. */
import { readdirSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { nativeConnections } from '../src/check/probes/native-connector.js';
import { tcpProbe } from '../src/check/probes/tcp.js';
import type { ProbeSpec } from '../src/check/types.js';
import { requireNativeAddon } from './helpers/netns.js';
import { closedPort, Servers, startTcpRecorder, waitFor } from './helpers/servers.js';

// These tests are about the addon's connector (the daemon's path); without it they would
// silently test the net.Socket fallback.
requireNativeAddon();

const servers = new Servers();
afterAll(() => servers.closeAll());

const tcp = (port: number, over: Partial<Extract<ProbeSpec, { kind: 'TCP_CHECK' }>> = {}): ProbeSpec => ({
  kind: 'TCP_CHECK',
  address: '127.0.0.1',
  port,
  timeoutMs: 3000,
  ...over,
});
const sig = () => new AbortController().signal;

describe('TCP_CHECK', () => {
  it('runs on the addon\'s TcpConnector', () => {
    expect(nativeConnections()).toBeDefined();
  });

  it('connects and closes with FIN, not RST (IPv4 and IPv6)', async () => {
    for (const host of ['127.0.0.1', '::1']) {
      const rec = servers.add(await startTcpRecorder({ host }));
      await expect(tcpProbe(tcp(rec.port, { address: host }), sig())).resolves.toMatchObject({ ok: true });
      await waitFor(() => rec.ends.length > 0 && rec.ends[0] !== 'open', 2000, 'the server to see the close');
      expect(rec.ends).toEqual(['fin']);
    }
  });

  it('still closes without RST when the server sent a banner we never read', async () => {
    const rec = servers.add(await startTcpRecorder({ banner: 'SSH-2.0-OpenSSH_9.2\r\n'.repeat(50) }));
    await expect(tcpProbe(tcp(rec.port), sig())).resolves.toMatchObject({ ok: true });
    await waitFor(() => rec.ends.length > 0 && rec.ends[0] !== 'open', 2000, 'the server to see the close');
    expect(rec.ends).toEqual(['fin']);
  });

  it('connects from bindto / bind_port', async () => {
    const rec = servers.add(await startTcpRecorder());
    const bindPort = await closedPort('tcp', '127.0.0.2');
    await expect(tcpProbe(tcp(rec.port, { bindto: '127.0.0.2', bindPort }), sig())).resolves.toMatchObject({ ok: true });
    await waitFor(() => rec.peers.length > 0, 2000, 'the server to accept');
    expect(rec.peers).toEqual([`127.0.0.2:${bindPort}`]);
  });

  it('refused', async () => {
    await expect(tcpProbe(tcp(await closedPort('tcp')), sig())).resolves.toMatchObject({ ok: false, reason: 'refused' });
    await expect(tcpProbe(tcp(await closedPort('tcp', '::1'), { address: '::1' }), sig())).resolves.toMatchObject({ ok: false, reason: 'refused' });
  });

  it('a bind address that is not ours is an error, not a throw', async () => {
    const rec = servers.add(await startTcpRecorder());
    await expect(tcpProbe(tcp(rec.port, { bindto: '192.0.2.1' }), sig())).resolves.toMatchObject({ ok: false, reason: 'error' });
  });

  it('a server that never closes its side: ours is closed after the grace period, without RST', async () => {
    const rec = servers.add(await startTcpRecorder({ halfOpenForever: true }));
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    await expect(tcpProbe(tcp(rec.port), sig())).resolves.toMatchObject({ ok: true });
    await waitFor(() => rec.ends[0] === 'fin', 2000, 'the server to see our FIN');
    // the recorder's accepted socket (same process) stays open by design: one more than before
    await waitFor(() => fds() <= before + 1, 3000, 'our socket to be closed');
    expect(rec.ends).toEqual(['fin']);
  });

  it('settles when the caller aborts', async () => {
    const rec = servers.add(await startTcpRecorder());
    await expect(tcpProbe(tcp(rec.port), AbortSignal.abort())).resolves.toMatchObject({ ok: false, reason: 'timeout' });
  });
});

/**
 * PING_CHECK over the native raw ICMP socket. Only loopback is pinged, from the host and from
 * network namespaces this test creates for the failure paths (no route → unreachable; a
 * namespace whose kernel ignores echo requests → timeout), so nothing is ever sent to a real
 * network. Needs root, `ip netns` and the built addon: it fails, not
 * skips, without them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pingProbe } from '../src/check/probes/ping.js';
import type { ProbeResult, ProbeSpec } from '../src/check/types.js';
import { NetnsLab, requireNativeAddon, requireNetnsRoot } from './helpers/netns.js';

const FIXTURE = 'test/fixtures/check-ping-netns.mjs';
const ping = (address: string, timeoutMs = 2000): ProbeSpec => ({ kind: 'PING_CHECK', address, timeoutMs });
const sig = () => new AbortController().signal;

beforeAll(() => {
  requireNetnsRoot('PING_CHECK tests');
  requireNativeAddon();
});

describe('PING_CHECK on loopback', () => {
  it('127.0.0.1 and ::1 answer', async () => {
    await expect(pingProbe(ping('127.0.0.1'), sig())).resolves.toEqual({ ok: true, detail: 'echo reply from 127.0.0.1' });
    await expect(pingProbe(ping('::1'), sig())).resolves.toEqual({ ok: true, detail: 'echo reply from ::1' });
  });

  it('concurrent probes each get their own reply', async () => {
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => pingProbe(ping(i % 2 ? '::1' : '127.0.0.1'), sig())));
    expect(rs.every((r) => r.ok)).toBe(true);
  });

  it('from a bind address and interface', async () => {
    await expect(pingProbe({ kind: 'PING_CHECK', address: '127.0.0.1', bindto: '127.0.0.1', bindIf: 'lo', timeoutMs: 2000 }, sig())).resolves.toMatchObject({
      ok: true,
    });
  });

  it('settles at once when the caller has aborted', async () => {
    await expect(pingProbe(ping('127.0.0.1'), AbortSignal.abort())).resolves.toMatchObject({ ok: false, reason: 'timeout' });
  });

  it('a bad interface is an error result', async () => {
    await expect(pingProbe({ kind: 'PING_CHECK', address: '127.0.0.1', bindIf: 'vkt-no-such0', timeoutMs: 500 }, sig())).resolves.toMatchObject({
      ok: false,
      reason: 'error',
    });
  });
});

describe('PING_CHECK failures inside private namespaces', () => {
  const lab = new NetnsLab();
  let plain: string;
  let deaf: string;

  beforeAll(async () => {
    // plain: only lo, so 10.200.0.1 and fd00:200::1 have no route.
    plain = await lab.addNamespace();
    // deaf: the kernel ignores echo requests, so even its loopback never answers.
    deaf = await lab.addNamespace();
    await lab.exec(deaf, ['sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_all=1', 'net.ipv6.icmp.echo_ignore_all=1']);
  });

  afterAll(() => lab.cleanup());

  async function inNs(ns: string, spec: ProbeSpec): Promise<ProbeResult & { elapsedMs: number }> {
    const p = lab.spawnNode(ns, FIXTURE, spec);
    await p.waitExit(20_000);
    const [r] = p.jsonLines<ProbeResult & { elapsedMs: number }>();
    if (!r) throw new Error(`no result\n${p.describe()}`);
    return r;
  }

  it('no route → unreachable (IPv4 and IPv6)', async () => {
    await expect(inNs(plain, ping('10.200.0.1'))).resolves.toMatchObject({ ok: false, reason: 'unreachable' });
    await expect(inNs(plain, ping('fd00:200::1'))).resolves.toMatchObject({ ok: false, reason: 'unreachable' });
  });

  it('the namespace’s own loopback answers', async () => {
    await expect(inNs(plain, ping('127.0.0.1'))).resolves.toMatchObject({ ok: true });
    await expect(inNs(plain, ping('::1'))).resolves.toMatchObject({ ok: true });
  });

  it('no answer → timeout at connect_timeout (IPv4 and IPv6)', async () => {
    await expect(inNs(deaf, ping('127.0.0.1', 400))).resolves.toMatchObject({
      ok: false,
      reason: 'timeout',
      detail: expect.stringContaining('waiting for the echo reply'),
    });
    await expect(inNs(deaf, ping('::1', 400))).resolves.toMatchObject({ ok: false, reason: 'timeout' });
  });
});

/**
 * fwmark (SO_MARK) and bind_if (SO_BINDTODEVICE) on every checker kind's probe socket, proven by
 * where packets can go. Two namespaces, a prober and a server, joined by two veth links
 * (a0–b0, a1–b1); the server runs one real server of every kind (test/fixtures/sockopt-servers.mjs).
 *
 * - fwmark: the prober has no route to 10.77.0.1 (nor fd77::1) except in table 142, which only packets marked
 *   0x42 reach (`ip rule fwmark 0x42 lookup 142`): a check passes only if its packets carry the
 *   mark, and the same check unmarked fails.
 * - bind_if: 10.77.0.2 is routed over a0 (metric 10) and a1 (metric 20); the server rejects
 *   what comes to it on b0. A check passes only if it leaves through a1: bound to a1 it passes,
 *   bound to a0 or not bound it fails.
 *
 * Probes run in a child inside the prober (test/fixtures/check-probe-netns.mjs). On loopback, the
 * sockets the addon makes for these options leave no file descriptor or socket behind, whether
 * the check passes, fails, times out or cannot make its socket. Needs root,
 * `ip netns`, nft, openssl and the built addon: it fails, not skips, without them.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { which } from '../lab/require.js';
import type { ProbeResult, ProbeSpec, Target } from '../src/check/types.js';
import { NetnsLab, requireNativeAddon, requireNetnsRoot, setupOrFail } from './helpers/netns.js';
import { runProbe } from '../src/check/probes/index.js';
import { nativeConnections } from '../src/check/probes/native-connector.js';
import { behaviours, closedPort, makeSelfSignedCert, Servers, startScriptedHttp, startScriptedSmtp, startUdpEcho, waitFor } from './helpers/servers.js';

const MARKED = '10.77.0.1';
const BOUND = '10.77.0.2';
const MARKED6 = 'fd77::1';
const MARK = 0x42;
const TIMEOUT = 1500;

/** One spec of every kind with a socket, to `t`'s address. */
function everyKind(t: Omit<Target, 'port' | 'timeoutMs'>, bindPortBase?: number): ProbeSpec[] {
  // a fixed bind_port per check: the previous check's TIME_WAIT would refuse a reused one
  const at = (port: number, i: number): Target => ({ ...t, port, timeoutMs: TIMEOUT, ...(bindPortBase !== undefined ? { bindPort: bindPortBase + i } : {}) });
  const http = { httpProtocol: '1.0', verifyTls: false } as const;
  return [
    { kind: 'TCP_CHECK', ...at(80, 0) },
    { kind: 'HTTP_GET', ...at(80, 1), ...http, url: { path: '/', statusCodes: [] } },
    // a regex: the exchange is parsed in JS (not judged by the addon)
    { kind: 'HTTP_GET', ...at(80, 2), ...http, url: { path: '/', statusCodes: [], regex: 'ok' } },
    { kind: 'SSL_GET', ...at(443, 3), ...http, url: { path: '/', statusCodes: [] } },
    { kind: 'SMTP_CHECK', ...at(25, 4), heloName: 'sockopt.test' },
    { kind: 'DNS_CHECK', ...at(53, 5), type: 'A', name: 'example.org' },
    { kind: 'UDP_CHECK', ...at(7, 6), payload: 'de ad be ef', requireReply: 'de ad be ef', minReplyLength: 0, maxReplyLength: 255 },
    {
      kind: 'PING_CHECK',
      address: t.address,
      timeoutMs: TIMEOUT,
      ...(t.bindto !== undefined ? { bindto: t.bindto } : {}),
      ...(t.bindIf !== undefined ? { bindIf: t.bindIf } : {}),
      ...(t.fwmark !== undefined ? { fwmark: t.fwmark } : {}),
    },
  ];
}

const KINDS = everyKind({ address: MARKED }).map((s, i) => `${s.kind}${i === 2 ? ' (regex)' : ''}`);

describe('probe sockets honour fwmark and bind_if', () => {
  const lab = new NetnsLab();
  let prober: string;
  let server: string;
  let certDir: string | undefined;

  setupOrFail(async () => {
    requireNetnsRoot('the fwmark / bind_if probe tests');
    requireNativeAddon();
    if (which('nft') === undefined) throw new Error('the bind_if tests need nft (apt-get install nftables)');
    certDir = mkdtempSync(path.join(tmpdir(), 'vk-sockopt-'));
    const tlsFiles = makeSelfSignedCert(certDir);

    prober = await lab.addNamespace('prober');
    server = await lab.addNamespace('server');
    // replies come back over the link their route did not choose: no reverse-path filter
    for (const ns of [prober, server]) await lab.exec(ns, ['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
    await lab.addVeth(prober, 'a0', server, 'b0');
    await lab.addVeth(prober, 'a1', server, 'b1');
    await lab.addAddress(prober, 'a0', '10.77.1.2/24');
    await lab.addAddress(server, 'b0', '10.77.1.1/24');
    await lab.addAddress(prober, 'a1', '10.77.2.2/24');
    await lab.addAddress(server, 'b1', '10.77.2.1/24');
    await lab.addAddress(server, 'lo', `${MARKED}/32`);
    await lab.addAddress(server, 'lo', `${BOUND}/32`);
    await lab.addAddress(prober, 'a0', 'fd77:1::2/64');
    await lab.addAddress(server, 'b0', 'fd77:1::1/64');
    await lab.addAddress(server, 'lo', `${MARKED6}/128`);
    const ip = (...argv: string[]) => lab.exec(prober, ['ip', ...argv]);
    // fwmark: only marked packets have a route to MARKED
    await ip('rule', 'add', 'fwmark', String(MARK), 'lookup', '142');
    await ip('route', 'add', `${MARKED}/32`, 'via', '10.77.1.1', 'dev', 'a0', 'table', '142');
    await ip('-6', 'rule', 'add', 'fwmark', String(MARK), 'lookup', '142');
    await ip('-6', 'route', 'add', `${MARKED6}/128`, 'via', 'fd77:1::1', 'dev', 'a0', 'table', '142');
    // bind_if: BOUND over a0 first, a1 second; the server refuses it on b0
    await ip('route', 'add', `${BOUND}/32`, 'via', '10.77.1.1', 'dev', 'a0', 'metric', '10');
    await ip('route', 'add', `${BOUND}/32`, 'via', '10.77.2.1', 'dev', 'a1', 'metric', '20');
    for (const rule of ['add table inet vk', 'add chain inet vk in { type filter hook input priority 0 ; }', `add rule inet vk in iifname "b0" ip daddr ${BOUND} reject`]) {
      await lab.exec(server, ['nft', rule]);
    }
    const servers = lab.spawnNode(server, 'test/fixtures/sockopt-servers.mjs', { addresses: [MARKED, BOUND, MARKED6], cert: tlsFiles.cert, key: tlsFiles.key });
    await servers.waitForLine(/"ready"/, 20_000);
  });

  afterAll(async () => {
    await lab.cleanup();
    if (certDir !== undefined) rmSync(certDir, { recursive: true, force: true });
  });

  async function probeAll(specs: ProbeSpec[]): Promise<Record<string, ProbeResult>> {
    const p = lab.spawnNode(prober, 'test/fixtures/check-probe-netns.mjs', specs);
    await p.waitExit(60_000);
    const lines = p.jsonLines<ProbeResult & { kind: string }>();
    if (lines.length !== specs.length) throw new Error(`${lines.length} results for ${specs.length} checks\n${p.describe()}`);
    return Object.fromEntries(lines.map((r, i) => [KINDS[i]!, r]));
  }

  const passed = (rs: Record<string, ProbeResult>) => Object.fromEntries(Object.entries(rs).map(([k, r]) => [k, r.ok ? 'ok' : `${r.reason}: ${r.detail}`]));
  const all = (v: string) => Object.fromEntries(KINDS.map((k) => [k, v]));

  it('fwmark: every kind passes with the mark, through the table only marked packets use', async () => {
    expect(passed(await probeAll(everyKind({ address: MARKED, fwmark: MARK })))).toEqual(all('ok'));
  });

  it('fwmark: the same checks without the mark have no route', async () => {
    const rs = await probeAll(everyKind({ address: MARKED }));
    for (const [k, r] of Object.entries(rs)) expect(r, k).toMatchObject({ ok: false });
  });

  it('fwmark over IPv6: every kind passes marked and has no route unmarked', async () => {
    expect(passed(await probeAll(everyKind({ address: MARKED6, fwmark: MARK })))).toEqual(all('ok'));
    const rs = await probeAll(everyKind({ address: MARKED6 }));
    for (const [k, r] of Object.entries(rs)) expect(r, k).toMatchObject({ ok: false });
  });

  it('fwmark with bindto and bind_port: marked, and bound where asked', async () => {
    expect(passed(await probeAll(everyKind({ address: MARKED, fwmark: MARK, bindto: '10.77.1.2' }, 40_100)))).toEqual(all('ok'));
  });

  it('fwmark with a bindto the prober does not have: every kind fails to bind (bindto is applied)', async () => {
    const rs = await probeAll(everyKind({ address: MARKED, fwmark: MARK, bindto: '10.77.9.9' }));
    for (const [k, r] of Object.entries(rs)) expect(r, k).toMatchObject({ ok: false, detail: expect.stringMatching(/EADDRNOTAVAIL/) });
  });

  it('bind_if: every kind bound to a1 leaves through a1 and passes', async () => {
    expect(passed(await probeAll(everyKind({ address: BOUND, bindIf: 'a1' })))).toEqual(all('ok'));
  });

  it('bind_if: bound to a0, or not bound (the a0 route wins), every kind is refused', async () => {
    for (const t of [{ address: BOUND, bindIf: 'a0' }, { address: BOUND }]) {
      const rs = await probeAll(everyKind(t));
      for (const [k, r] of Object.entries(rs)) expect(r, `${k} ${JSON.stringify(t)}`).toMatchObject({ ok: false });
    }
  });

  it('bind_if naming no interface fails every kind with ENODEV', async () => {
    const rs = await probeAll(everyKind({ address: BOUND, bindIf: 'vkt-nosuch0' }));
    for (const [k, r] of Object.entries(rs)) expect(r, k).toMatchObject({ ok: false, detail: expect.stringMatching(/ENODEV/) });
  });
});

describe('sockets made for fwmark and bind_if do not leak', () => {
  const servers = new Servers();
  afterAll(() => servers.closeAll());
  const SOCKETS = ['TCPSocketWrap', 'TCPWrap', 'UDPWrap', 'UDPWRAP', 'TLSWrap'];
  const sockets = () => process.getActiveResourcesInfo().filter((k) => SOCKETS.includes(k)).length;
  const fds = () => readdirSync('/proc/self/fd').length;

  setupOrFail(() => requireNativeAddon());

  it('returns to the baseline after passing, failing, timed-out and unmade checks of every kind', async () => {
    const http = servers.add(await startScriptedHttp({ routes: { '/ok': behaviours.respond(200, 'ok'), '/hang': behaviours.hang() } }));
    const dir = mkdtempSync(path.join(tmpdir(), 'vk-sockopt-'));
    let https;
    try {
      https = servers.add(await startScriptedHttp({ routes: { '/ok': behaviours.respond(200, 'ok') }, tls: makeSelfSignedCert(dir) }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const smtp = servers.add(await startScriptedSmtp({ greeting: '220 hi\r\n' }));
    const silent = servers.add(await startScriptedSmtp({ greeting: '' }));
    const echo = servers.add(await startUdpEcho());
    const quiet = servers.add(await startUdpEcho({ reply: () => null }));
    const closedTcp = await closedPort('tcp');
    const t = { address: '127.0.0.1', timeoutMs: 250, fwmark: 7, bindIf: 'lo' };
    const get = (path: string, kind: 'HTTP_GET' | 'SSL_GET' = 'HTTP_GET') => ({ kind, ...t, port: http.port, httpProtocol: '1.0' as const, verifyTls: false, url: { path, statusCodes: [] } });
    const specs: ProbeSpec[] = [
      { kind: 'TCP_CHECK', ...t, port: http.port },
      { kind: 'TCP_CHECK', ...t, port: closedTcp },
      get('/ok'),
      get('/hang'),
      { ...get('/ok'), url: { path: '/ok', statusCodes: [], regex: 'ok' } },
      { ...get('/ok', 'SSL_GET'), port: https.port },
      get('/hang', 'SSL_GET'), // TLS to a plain server that never answers: the deadline
      { ...get('/ok', 'SSL_GET'), port: closedTcp },
      { kind: 'SMTP_CHECK', ...t, port: smtp.port, heloName: 'x' },
      { kind: 'SMTP_CHECK', ...t, port: silent.port, heloName: 'x' },
      { kind: 'DNS_CHECK', ...t, port: quiet.port, type: 'A', name: 'x.test' },
      { kind: 'UDP_CHECK', ...t, port: echo.port, requireReply: '', minReplyLength: 0, maxReplyLength: 255 },
      { kind: 'UDP_CHECK', ...t, port: quiet.port, requireReply: '', minReplyLength: 0, maxReplyLength: 255 },
      // the socket cannot be made: ENODEV from SO_BINDTODEVICE
      { kind: 'TCP_CHECK', ...t, bindIf: 'vkt-nosuch0', port: http.port },
      { ...get('/ok', 'SSL_GET'), bindIf: 'vkt-nosuch0' },
      { kind: 'SMTP_CHECK', ...t, bindIf: 'vkt-nosuch0', port: smtp.port, heloName: 'x' },
      { kind: 'UDP_CHECK', ...t, bindIf: 'vkt-nosuch0', port: echo.port, minReplyLength: 0, maxReplyLength: 255 },
    ];
    // the addon's connector is made on first use and lives on (its epoll fd): not a leak
    expect(nativeConnections()).toBeDefined();
    await new Promise((r) => setTimeout(r, 50));
    const sockets0 = sockets();
    const fds0 = fds();
    const results = await Promise.all(specs.map((s) => runProbe(s, new AbortController().signal)));
    expect(results.map((r) => r.ok)).toEqual([true, false, true, false, true, true, false, false, true, false, false, true, false, false, false, false, false]);
    await waitFor(() => sockets() <= sockets0, 3000, `sockets back to ${sockets0}: ${JSON.stringify(process.getActiveResourcesInfo())}`);
    await waitFor(() => fds() <= fds0, 3000, `file descriptors back to ${fds0}`);
  });
});

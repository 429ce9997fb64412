/**
 * HTTP_GET / SSL_GET against real servers on loopback: a scripted node server (exact request
 * bytes, faults), a self-signed HTTPS server and nginx.
 */
import { createHash } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { httpProbe } from '../src/check/probes/http.js';
import { nativeConnections } from '../src/check/probes/native-connector.js';
import type { HttpSpec, ProbeResult, ProbeSpec } from '../src/check/types.js';
import {
  behaviours,
  closedPort,
  makeSelfSignedCert,
  Servers,
  startNginx,
  startScriptedHttp,
  waitFor,
  type ScriptedHttpServer,
  type TlsFiles,
} from './helpers/servers.js';

const md5 = (b: string | Buffer) => createHash('md5').update(b).digest('hex');

type HttpProbeSpec = Extract<ProbeSpec, { kind: 'HTTP_GET' | 'SSL_GET' }>;

function get(
  port: number,
  path = '/',
  over: Partial<Omit<HttpProbeSpec, 'url'>> & { url?: Partial<HttpSpec['url']> } = {},
): HttpProbeSpec {
  const { url, ...rest } = over;
  return {
    kind: 'HTTP_GET',
    address: '127.0.0.1',
    port,
    timeoutMs: 5000,
    httpProtocol: '1.0',
    verifyTls: false,
    ...rest,
    url: { path, statusCodes: [], ...url },
  } as HttpProbeSpec;
}

const run = (spec: ProbeSpec, signal = new AbortController().signal): Promise<ProbeResult> => httpProbe(spec, signal);

const servers = new Servers();
let srv: ScriptedHttpServer;
const BODY = 'all is well\n';

beforeAll(async () => {
  srv = servers.add(
    await startScriptedHttp({
      routes: {
        '/ok': behaviours.respond(200, BODY),
        '/moved': behaviours.respond(301, 'gone'),
        '/missing': behaviours.respond(404, 'nope'),
        '/chunked': behaviours.respond(200, BODY, { chunks: [3, 4] }),
        '/eof': behaviours.respond(200, BODY, { noLength: true }),
        '/reset': behaviours.reset(),
        '/hang': behaviours.hang(),
        '/close': behaviours.close(),
        '/garbage': behaviours.raw('SSH-2.0-OpenSSH_9.2\r\n\r\n'),
        '/slow-body': behaviours.trickle(200, 'x'.repeat(200), 50),
        '/page': behaviours.respond(200, '<html><title>status: GREEN</title></html>'),
      },
    }),
  );
});

afterAll(() => servers.closeAll());


// Plain HTTP to 127.0.0.1 runs on the addon's TcpConnector (the daemon's path); without the
// addon these tests would silently test the net.Socket fallback.
if (nativeConnections() === undefined) throw new Error('native addon not built: run npm ci, or node native/build.mjs');

describe('HTTP_GET request bytes', () => {
  it.each([
    ['1.0', 'GET /ok HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:PORT\r\n\r\n'],
    ['1.0C', 'GET /ok HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: 127.0.0.1:PORT\r\n\r\n'],
    ['1.1', 'GET /ok HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: 127.0.0.1:PORT\r\n\r\n'],
  ] as const)('http_protocol %s sends exactly keepalived’s request', async (proto, want) => {
    const n = srv.requests.length;
    await expect(run(get(srv.port, '/ok', { httpProtocol: proto }))).resolves.toMatchObject({ ok: true });
    expect(srv.requests[n]?.raw).toBe(want.replace('PORT', String(srv.port)));
  });

  it('virtualhost becomes the Host header; User-Agent is KeepAliveClient', async () => {
    const n = srv.requests.length;
    await run(get(srv.port, '/ok', { virtualhost: 'www.example.test' }));
    await run(get(srv.port, '/ok', { virtualhost: 'www.example.test', url: { virtualhost: 'url.example.test' } }));
    expect(srv.requests[n]?.headers).toMatchObject({ host: 'www.example.test', 'user-agent': 'KeepAliveClient' });
    expect(srv.requests[n + 1]?.headers.host).toBe('url.example.test');
  });

  it('IPv6: Host is [::1]:port', async () => {
    const s6 = servers.add(await startScriptedHttp({ host: '::1', routes: { '/ok': behaviours.respond(200, BODY) } }));
    await expect(run(get(s6.port, '/ok', { address: '::1' }))).resolves.toMatchObject({ ok: true });
    expect(s6.requests[0]?.headers.host).toBe(`[::1]:${s6.port}`);
  });
});

describe('HTTP_GET verdicts', () => {
  it('status: default 200-299', async () => {
    await expect(run(get(srv.port, '/ok'))).resolves.toEqual({ ok: true, detail: 'HTTP 200' });
    await expect(run(get(srv.port, '/moved'))).resolves.toMatchObject({ ok: false, reason: 'status', detail: expect.stringContaining('301 not in 200-299') });
  });

  it('status: configured ranges', async () => {
    await expect(run(get(srv.port, '/moved', { url: { statusCodes: [[300, 302]] } }))).resolves.toMatchObject({ ok: true });
    await expect(run(get(srv.port, '/missing', { url: { statusCodes: [[200, 200], [404, 404]] } }))).resolves.toMatchObject({ ok: true });
    await expect(run(get(srv.port, '/ok', { url: { statusCodes: [[404, 404]] } }))).resolves.toMatchObject({ ok: false, reason: 'status' });
  });

  it('digest: the MD5 of the served body passes, another fails', async () => {
    await expect(run(get(srv.port, '/ok', { url: { digest: md5(BODY) } }))).resolves.toEqual({ ok: true, detail: 'HTTP 200, digest ok' });
    await expect(run(get(srv.port, '/ok', { url: { digest: md5(BODY).toUpperCase() } }))).resolves.toMatchObject({ ok: true });
    await expect(run(get(srv.port, '/ok', { url: { digest: md5('something else') } }))).resolves.toMatchObject({
      ok: false,
      reason: 'digest',
      detail: expect.stringContaining(md5(BODY)),
    });
  });

  it('digest of a chunked body: decoded MD5 and keepalived’s raw MD5 both pass', async () => {
    await expect(run(get(srv.port, '/chunked', { httpProtocol: '1.1', url: { digest: md5(BODY) } }))).resolves.toMatchObject({ ok: true });
    const raw = `3\r\n${BODY.slice(0, 3)}\r\n4\r\n${BODY.slice(3, 7)}\r\n${(BODY.length - 7).toString(16)}\r\n${BODY.slice(7)}\r\n0\r\n\r\n`;
    await expect(run(get(srv.port, '/chunked', { httpProtocol: '1.1', url: { digest: md5(raw) } }))).resolves.toMatchObject({ ok: true });
  });

  it('digest of a body delimited by EOF', async () => {
    await expect(run(get(srv.port, '/eof', { url: { digest: md5(BODY) } }))).resolves.toMatchObject({ ok: true });
  });

  it('regex and regex_no_match', async () => {
    await expect(run(get(srv.port, '/page', { url: { regex: 'status: (GREEN|YELLOW)' } }))).resolves.toMatchObject({ ok: true });
    await expect(run(get(srv.port, '/page', { url: { regex: 'status: RED' } }))).resolves.toMatchObject({ ok: false, reason: 'regex' });
    await expect(run(get(srv.port, '/page', { url: { regex: 'status: RED', regexNoMatch: true } }))).resolves.toMatchObject({ ok: true });
    await expect(run(get(srv.port, '/page', { url: { regex: 'GREEN', regexNoMatch: true } }))).resolves.toMatchObject({ ok: false, reason: 'regex' });
  });
});

describe('HTTP_GET faults', () => {
  it('connection refused', async () => {
    await expect(run(get(await closedPort('tcp')))).resolves.toMatchObject({ ok: false, reason: 'refused' });
  });

  it('RST after the request is read', async () => {
    await expect(run(get(srv.port, '/reset'))).resolves.toMatchObject({ ok: false, reason: 'reset' });
  });

  it('accept, read, never answer: timeout at connect_timeout, and the socket is closed', async () => {
    const before = srv.connections;
    const r = await run(get(srv.port, '/hang', { timeoutMs: 300 }));
    expect(r).toMatchObject({ ok: false, reason: 'timeout', detail: expect.stringContaining('waiting for the response header') });
    expect(srv.connections).toBe(before + 1);
    await waitFor(() => srv.openConnections() === 0, 2000, 'the server to see the probe close');
  });

  it('the caller’s deadline (signal) ends the attempt even with a long connect_timeout', async () => {
    const ctl = new AbortController();
    const p = run(get(srv.port, '/hang', { timeoutMs: 60_000 }), ctl.signal);
    setTimeout(() => ctl.abort(), 100);
    await expect(p).resolves.toMatchObject({ ok: false, reason: 'timeout' });
  });

  it('keepalived #1822: headers fast, body slower than the deadline → timeout', async () => {
    // 200 bytes at one byte per 50 ms would take 10 s; the whole check has 400 ms.
    const r = await run(get(srv.port, '/slow-body', { timeoutMs: 400 }));
    expect(r).toMatchObject({ ok: false, reason: 'timeout', detail: expect.stringContaining('reading the response body') });
    await waitFor(() => srv.openConnections() === 0, 2000, 'the server to see the probe close');
  });

  it('closed without a response, and a non-HTTP answer, are protocol errors', async () => {
    await expect(run(get(srv.port, '/close'))).resolves.toMatchObject({ ok: false, reason: 'protocol', detail: 'connection closed without a response' });
    await expect(run(get(srv.port, '/garbage'))).resolves.toMatchObject({ ok: false, reason: 'protocol', detail: expect.stringContaining('not an HTTP status line') });
  });

  it('leaves no connection open after any of the above', async () => {
    await waitFor(() => srv.openConnections() === 0, 2000, 'all probe connections to close');
  });
});

describe('SSL_GET', () => {
  let tlsFiles: TlsFiles;
  let hs: ScriptedHttpServer;

  beforeAll(async () => {
    tlsFiles = makeSelfSignedCert(servers.tempDir('vk-cert-'));
    hs = servers.add(await startScriptedHttp({ tls: tlsFiles, routes: { '/ok': behaviours.respond(200, BODY), '/hang': behaviours.hang() } }));
  });

  const sget = (over: Partial<Omit<HttpProbeSpec, 'url'>> & { url?: Partial<HttpSpec['url']> } = {}) => get(hs.port, '/ok', { kind: 'SSL_GET', httpProtocol: '1.1', ...over });

  it('a self-signed certificate is accepted with verification off (keepalived’s default)', async () => {
    await expect(run(sget({ url: { digest: md5(BODY) } }))).resolves.toEqual({ ok: true, detail: 'HTTP 200, digest ok' });
    expect(hs.requests.at(-1)?.raw).toBe(`GET /ok HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: 127.0.0.1:${hs.port}\r\n\r\n`);
  });

  it('and rejected with verifyTls', async () => {
    await expect(run(sget({ verifyTls: true }))).resolves.toMatchObject({
      ok: false,
      reason: 'protocol',
      detail: expect.stringMatching(/self.signed/i),
    });
  });

  it('sends SNI only when sni is set', async () => {
    const n = hs.servernames.length;
    await run(sget());
    await run(sget({ sni: 'app.example.test' }));
    expect(hs.servernames.slice(n)).toEqual([false, 'app.example.test']);
  });

  it('the deadline covers the TLS exchange', async () => {
    await expect(run(get(hs.port, '/hang', { kind: 'SSL_GET', timeoutMs: 300 }))).resolves.toMatchObject({ ok: false, reason: 'timeout' });
  });

  it('plain HTTP to a TLS port fails cleanly', async () => {
    const r = await run(get(hs.port, '/ok', { timeoutMs: 1000 }));
    expect(r.ok).toBe(false);
  });
});

describe('nginx', () => {
  const INDEX = '<html><body>nginx says hi</body></html>\n';
  let port: number;

  beforeAll(async () => {
    port = (await startNginx(servers, { 'index.html': INDEX, 'health.txt': 'OK\n' })).port;
  });

  it('200 with the digest of the served file', async () => {
    await expect(run(get(port, '/', { httpProtocol: '1.1', url: { digest: md5(INDEX) } }))).resolves.toEqual({ ok: true, detail: 'HTTP 200, digest ok' });
    await expect(run(get(port, '/health.txt', { httpProtocol: '1.0' }))).resolves.toMatchObject({ ok: true });
    await expect(run(get(port, '/health.txt', { httpProtocol: '1.0C', url: { regex: '^OK\\s*$' } }))).resolves.toMatchObject({ ok: true });
  });

  it('404 fails with status, unless 404 is accepted', async () => {
    await expect(run(get(port, '/nope.html'))).resolves.toMatchObject({ ok: false, reason: 'status', detail: expect.stringContaining('404') });
    await expect(run(get(port, '/nope.html', { url: { statusCodes: [[404, 404]] } }))).resolves.toMatchObject({ ok: true });
  });
});

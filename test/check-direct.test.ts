/**
 * The scheduler's direct path (runDirect: TCP_CHECK and plain HTTP_GET on the addon, no promise
 * per attempt) against real loopback servers, beside the promise path (runProbe) on the same
 * specs: the same verdicts, the deadline expiring the attempt with the phase it was in, and no
 * socket or timer left behind.
 */
import { readdirSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nativeConnections } from '../src/check/probes/native-connector.js';
import { runDirect, runProbe } from '../src/check/probes/index.js';
import { CheckScheduler, systemClock, type CheckUpdate, type ScheduledCheck } from '../src/check/scheduler.js';
import type { DirectProbe, ProbeSpec } from '../src/check/types.js';
import { requireNativeAddon } from './helpers/netns.js';
import { behaviours, closedPort, Servers, startScriptedHttp, startTcpRecorder, waitFor } from './helpers/servers.js';

requireNativeAddon();

const servers = new Servers();
afterAll(() => servers.closeAll());

const openFds = () => readdirSync('/proc/self/fd').length;

function plan(key: string, spec: ProbeSpec): ScheduledCheck {
  return {
    key,
    kind: spec.kind,
    specs: [spec],
    timeoutMs: (spec as { timeoutMs: number }).timeoutMs,
    dynamic: false,
    timing: { delayLoopMs: 60_000, retry: 0, delayBeforeRetryMs: 1000, warmupMs: 0, alpha: false, fastRecovery: false },
  };
}

/** The first update of each spec, from a scheduler on the real clock. */
async function firstUpdates(specs: Record<string, ProbeSpec>, direct: DirectProbe | undefined): Promise<Record<string, CheckUpdate>> {
  const s = new CheckScheduler({ clock: systemClock, probe: runProbe, ...(direct ? { direct } : {}), bootstrapDelayMs: 0 });
  const got: Record<string, CheckUpdate> = {};
  try {
    for (const [key, spec] of Object.entries(specs)) s.subscribe(plan(key, spec), (u) => (got[key] ??= u));
    await waitFor(() => Object.keys(got).length === Object.keys(specs).length, 5000, 'every first update');
  } finally {
    s.stop();
  }
  return got;
}

describe('direct probes in the scheduler, against real servers', () => {
  const specs: Record<string, ProbeSpec> = {};

  beforeAll(async () => {
    const http = servers.add(
      await startScriptedHttp({
        routes: {
          '/ok': behaviours.respond(200, 'ok'),
          '/hang': behaviours.hang(),
          '/reset': behaviours.reset(),
          '/503': behaviours.respond(503, 'no'),
          // the addon's plain path, and what it hands to JS's parser
          '/chunked': behaviours.respond(200, 'hello world', { chunks: [3, 4] }),
          '/to-fin': behaviours.respond(200, 'body to the FIN', { noLength: true }),
          '/204': behaviours.respond(204),
          '/truncated': behaviours.raw('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort'),
          '/split-head': (_req, sock) => {
            sock.write('HTTP/1.1 200 OK\r\nContent-Le');
            setTimeout(() => sock.end('ngth: 2\r\n\r\nok'), 50);
          },
          '/slow-body': behaviours.trickle(200, 'x'.repeat(100), 50),
          '/body-reset': (_req, sock) => {
            sock.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789');
            setTimeout(() => sock.resetAndDestroy(), 50);
          },
          '/not-http': behaviours.raw('SSH-2.0-OpenSSH\r\n\r\n'),
          '/two-lengths': behaviours.raw('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok'),
        },
      }),
    );
    const rec = servers.add(await startTcpRecorder());
    const t = { address: '127.0.0.1', timeoutMs: 300 };
    const get = (path: string) => ({ kind: 'HTTP_GET' as const, ...t, port: http.port, httpProtocol: '1.0' as const, verifyTls: false, url: { path, statusCodes: [] } });
    Object.assign(specs, {
      tcpUp: { kind: 'TCP_CHECK', ...t, port: rec.port },
      tcpRefused: { kind: 'TCP_CHECK', ...t, port: await closedPort('tcp') },
      httpUp: get('/ok'),
      httpHang: get('/hang'),
      httpReset: get('/reset'),
      httpStatus: get('/503'),
      httpRefused: { ...get('/ok'), port: await closedPort('tcp') },
      httpChunked: get('/chunked'),
      httpToFin: get('/to-fin'),
      http204: get('/204'),
      httpTruncated: get('/truncated'),
      httpSplitHead: get('/split-head'),
      httpSlowBody: get('/slow-body'),
      httpBodyReset: get('/body-reset'),
      httpNotHttp: get('/not-http'),
      httpTwoLengths: get('/two-lengths'),
      http404Accepted: { ...get('/missing'), url: { path: '/missing', statusCodes: [[404, 404]] } },
      httpDigest: { ...get('/ok'), url: { path: '/ok', statusCodes: [], digest: '444bcb3a3fcf8389296c49467f27e1d6' } },
    } satisfies Record<string, ProbeSpec>);
  });

  it('runs TCP_CHECK and HTTP_GET to an IP address directly; SSL_GET and host names decline', () => {
    const sink = { spec: specs.tcpUp!, settle: () => undefined };
    const h = runDirect.start(specs.tcpUp!, sink);
    expect(h).toBeGreaterThan(0);
    runDirect.cancel(h);
    expect(runDirect.start({ ...(specs.httpUp as Extract<ProbeSpec, { kind: 'HTTP_GET' | 'SSL_GET' }>), kind: 'SSL_GET' }, sink)).toBe(-1);
    expect(runDirect.start({ ...(specs.tcpUp as Extract<ProbeSpec, { kind: 'TCP_CHECK' }>), address: 'localhost' }, sink)).toBe(-1);
    expect(runDirect.start({ kind: 'MISC_CHECK', command: '/bin/true', timeoutMs: 100, dynamic: false }, sink)).toBe(-1);
  });

  it('gives the verdicts of the promise path, and the deadline names the phase', async () => {
    expect(nativeConnections()).toBeDefined(); // made once, before the fd count
    const fds0 = openFds();
    const direct = await firstUpdates(specs, runDirect);
    const viaPromise = await firstUpdates(specs, undefined);
    const summary = (u: Record<string, CheckUpdate>) => Object.fromEntries(Object.entries(u).map(([k, v]) => [k, v.result.ok ? 'ok' : v.result.reason]));
    expect(summary(direct)).toEqual({
      tcpUp: 'ok',
      tcpRefused: 'refused',
      httpUp: 'ok',
      httpHang: 'timeout',
      httpReset: 'reset',
      httpStatus: 'status',
      httpRefused: 'refused',
      httpChunked: 'ok',
      httpToFin: 'ok',
      http204: 'ok',
      httpTruncated: 'ok',
      httpSplitHead: 'ok',
      httpSlowBody: 'timeout',
      httpBodyReset: 'reset',
      httpNotHttp: 'protocol',
      httpTwoLengths: 'ok',
      http404Accepted: 'ok',
      httpDigest: 'ok',
    });
    // word for word: the addon's verdicts (plain responses) and JS's parser (the rest) alike; a
    // timeout names the phase on both paths, but the promise path's is the signal's "at the deadline"
    const details = (u: Record<string, CheckUpdate>) =>
      Object.fromEntries(Object.entries(u).map(([k, v]) => [k, v.result.ok || v.result.reason !== 'timeout' ? v.result.detail : v.result.detail.replace(/^timed out .*? while /, 'timed out while ')]));
    expect(details(viaPromise)).toEqual(details(direct));
    expect(details(direct)).toMatchObject({
      httpUp: 'HTTP 200',
      httpToFin: 'HTTP 200',
      http204: 'HTTP 204',
      httpTruncated: 'HTTP 200, body truncated at 5 bytes',
      httpBodyReset: 'read ECONNRESET (while reading the response body)',
      httpReset: 'read ECONNRESET (while waiting for the response header)',
      http404Accepted: 'HTTP 404',
      httpDigest: 'HTTP 200, digest ok',
    });
    expect(direct.httpHang!.result).toMatchObject({ detail: 'timed out after 300 ms while waiting for the response header' });
    expect(direct.httpSlowBody!.result).toMatchObject({ detail: 'timed out after 300 ms while reading the response body' });
    expect(direct.httpHang!.latencyMs).toBeGreaterThanOrEqual(299);
    expect(direct.httpStatus!.result).toMatchObject({ detail: expect.stringMatching(/^HTTP status 503 not in 200-299/) });
    expect(direct.tcpRefused!.result).toMatchObject({ detail: `connect ECONNREFUSED 127.0.0.1 port ${(specs.tcpRefused as { port: number }).port}` });
    // every connection closed (the polite closes within their grace period)
    await waitFor(() => openFds() <= fds0 && nativeConnections()!.pending === 0, 3000, `file descriptors back to ${fds0}`);
  });
});

/**
 * SMTP_CHECK against aiosmtpd (python3-aiosmtpd, a real RFC 5321 server) and a scripted
 * responder for the failure cases.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { smtpProbe } from '../src/check/probes/smtp.js';
import type { ProbeSpec } from '../src/check/types.js';
import { closedPort, Servers, startAiosmtpd, startScriptedHttp, startScriptedSmtp, behaviours, waitFor } from './helpers/servers.js';

const servers = new Servers();
afterAll(() => servers.closeAll());

const smtp = (port: number, over: Partial<Extract<ProbeSpec, { kind: 'SMTP_CHECK' }>> = {}): ProbeSpec => ({
  kind: 'SMTP_CHECK',
  address: '127.0.0.1',
  port,
  timeoutMs: 3000,
  heloName: 'checker.example.test',
  ...over,
});
const sig = () => new AbortController().signal;

describe('SMTP_CHECK', () => {
  it('aiosmtpd: 220, HELO, 250, QUIT', async () => {
    const srv = await startAiosmtpd(servers);
    await expect(smtpProbe(smtp(srv.port), sig())).resolves.toEqual({ ok: true, detail: '220 greeting, 250 to HELO checker.example.test' });
  });

  it('sends HELO <helo_name> then QUIT', async () => {
    const srv = servers.add(await startScriptedSmtp({ greeting: '220 scripted ESMTP\r\n' }));
    await expect(smtpProbe(smtp(srv.port), sig())).resolves.toMatchObject({ ok: true });
    await waitFor(() => srv.transcript.length >= 2, 2000, 'QUIT');
    expect(srv.transcript).toEqual(['HELO checker.example.test', 'QUIT']);
  });

  it('reads a multi-line greeting whole', async () => {
    const srv = servers.add(await startScriptedSmtp({ greeting: '220-first line\r\n220-second line\r\n220 ready\r\n' }));
    await expect(smtpProbe(smtp(srv.port), sig())).resolves.toMatchObject({ ok: true });
  });

  it('a 554 greeting fails with status', async () => {
    const srv = servers.add(await startScriptedSmtp({ greeting: '554 no SMTP service here\r\n' }));
    await expect(smtpProbe(smtp(srv.port), sig())).resolves.toMatchObject({
      ok: false,
      reason: 'status',
      detail: expect.stringContaining('554 no SMTP service here'),
    });
  });

  it('HELO answered with 501 fails with status', async () => {
    const srv = servers.add(await startScriptedSmtp({ greeting: '220 ok\r\n', helo: '501 bad helo\r\n' }));
    await expect(smtpProbe(smtp(srv.port), sig())).resolves.toMatchObject({ ok: false, reason: 'status', detail: expect.stringContaining('501') });
  });

  it('a silent server times out; refused; a non-SMTP server is a protocol error', async () => {
    const silent = servers.add(await startScriptedSmtp({ greeting: '' }));
    await expect(smtpProbe(smtp(silent.port, { timeoutMs: 300 }), sig())).resolves.toMatchObject({
      ok: false,
      reason: 'timeout',
      detail: expect.stringContaining('220 greeting'),
    });
    await expect(smtpProbe(smtp(await closedPort('tcp')), sig())).resolves.toMatchObject({ ok: false, reason: 'refused' });
    const http = servers.add(await startScriptedHttp({ routes: { '*': behaviours.respond(200, 'hi') } }));
    const ssh = servers.add(await startScriptedSmtp({ greeting: 'SSH-2.0-OpenSSH\r\n' }));
    await expect(smtpProbe(smtp(ssh.port), sig())).resolves.toMatchObject({ ok: false, reason: 'protocol' });
    // an HTTP server says nothing first: the deadline ends it
    await expect(smtpProbe(smtp(http.port, { timeoutMs: 300 }), sig())).resolves.toMatchObject({ ok: false, reason: 'timeout' });
  });

  it('a server that stays silent after HELO times out; one that closes is a protocol error', async () => {
    const silent = servers.add(await startScriptedSmtp({ greeting: '220 hi\r\n', helo: '' }));
    await expect(smtpProbe(smtp(silent.port, { timeoutMs: 300 }), sig())).resolves.toMatchObject({
      ok: false,
      reason: 'timeout',
      detail: expect.stringContaining('HELO'),
    });
    const closing = servers.add(await startScriptedSmtp({ greeting: '220 hi\r\n', helo: null }));
    await expect(smtpProbe(smtp(closing.port), sig())).resolves.toMatchObject({
      ok: false,
      reason: 'protocol',
      detail: expect.stringContaining('closed while waiting for the reply to HELO'),
    });
  });
});

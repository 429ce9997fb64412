import { describe, expect, it } from 'vitest';

import type { ProbeKind, ProbeSpec } from '../types.js';
import { PROBES, runProbe } from './index.js';

describe('runProbe', () => {
  it('has a probe for every kind', () => {
    const kinds: ProbeKind[] = ['TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'SMTP_CHECK', 'DNS_CHECK', 'UDP_CHECK', 'PING_CHECK', 'MISC_CHECK', 'FILE_CHECK'];
    expect(Object.keys(PROBES).sort()).toEqual([...kinds].sort());
  });

  it('never throws: an unknown kind is an error result', async () => {
    await expect(runProbe({ kind: 'BFD_CHECK' } as unknown as ProbeSpec, new AbortController().signal)).resolves.toMatchObject({
      ok: false,
      reason: 'error',
    });
  });

  it('a probe that throws or rejects becomes an error result naming its kind', async () => {
    const probes = PROBES as Record<string, unknown>;
    const real = probes.FILE_CHECK;
    const spec = { kind: 'FILE_CHECK', path: '/nonexistent' } as unknown as ProbeSpec;
    const sig = new AbortController().signal;
    try {
      probes.FILE_CHECK = () => {
        throw new Error('sync boom');
      };
      await expect(runProbe(spec, sig)).resolves.toEqual({ ok: false, reason: 'error', detail: 'probe FILE_CHECK threw: sync boom' });
      probes.FILE_CHECK = () => Promise.reject(new Error('async boom'));
      await expect(runProbe(spec, sig)).resolves.toEqual({ ok: false, reason: 'error', detail: 'probe FILE_CHECK threw: async boom' });
    } finally {
      probes.FILE_CHECK = real;
    }
  });

  it('bad input becomes an error result, not an exception', async () => {
    const sig = new AbortController().signal;
    await expect(runProbe({ kind: 'DNS_CHECK', address: '127.0.0.1', port: 53, timeoutMs: 100, type: 'A', name: 'a..b' }, sig)).resolves.toMatchObject({
      ok: false,
      reason: 'error',
    });
    await expect(
      runProbe({ kind: 'UDP_CHECK', address: '127.0.0.1', port: 9, timeoutMs: 100, payload: 'zz', minReplyLength: 0, maxReplyLength: 255 }, sig),
    ).resolves.toMatchObject({ ok: false, reason: 'error' });
    await expect(
      runProbe(
        { kind: 'HTTP_GET', address: '127.0.0.1', port: 9, timeoutMs: 100, url: { path: '/', statusCodes: [], regex: '(' }, httpProtocol: '1.0', verifyTls: false },
        sig,
      ),
    ).resolves.toMatchObject({ ok: false, reason: 'error' });
    await expect(runProbe({ kind: 'PING_CHECK', address: 'not-an-ip', timeoutMs: 100 }, sig)).resolves.toMatchObject({ ok: false, reason: 'error' });
  });

  it('each probe refuses a spec of another kind', async () => {
    const sig = new AbortController().signal;
    const file: ProbeSpec = { kind: 'FILE_CHECK', trackFile: 't', path: '/nonexistent', weight: 0, reverse: false, dynamic: false };
    for (const [kind, probe] of Object.entries(PROBES)) {
      if (kind === 'FILE_CHECK') continue;
      await expect(probe(file, sig)).resolves.toMatchObject({ ok: false, reason: 'error' });
    }
  });
});

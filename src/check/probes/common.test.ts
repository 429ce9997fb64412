import { getEventListeners } from 'node:events';
import net from 'node:net';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { closeGracefully, connectHost, fail, ok, reasonFor, runAttempt, stripZone, tcpConnectOptions } from './common.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('runAttempt', () => {
  it('settles once with the first result and runs cleanups in reverse order', async () => {
    const order: string[] = [];
    const r = await runAttempt({ signal: new AbortController().signal, phase: 'x' }, (a) => {
      a.defer(() => order.push('first'));
      a.defer(() => order.push('second'));
      a.finish(ok('one'));
      a.finish(fail('error', 'two'));
    });
    expect(r).toEqual({ ok: true, detail: 'one' });
    expect(order).toEqual(['second', 'first']);
  });

  it('times out at timeoutMs with the phase in the detail (fake clock)', async () => {
    vi.useFakeTimers();
    let attemptSignal: AbortSignal | undefined;
    const p = runAttempt({ timeoutMs: 5000, signal: new AbortController().signal, phase: 'connecting' }, (a) => {
      attemptSignal = a.signal;
      a.phase = 'reading the body';
    });
    await vi.advanceTimersByTimeAsync(4999);
    expect(attemptSignal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).resolves.toEqual({ ok: false, reason: 'timeout', detail: 'timed out after 5000 ms while reading the body' });
    expect(attemptSignal?.aborted).toBe(true);
  });

  it('settles when the caller aborts, and uses onDeadline when set', async () => {
    const ctl = new AbortController();
    const p = runAttempt({ timeoutMs: 60_000, signal: ctl.signal, phase: 'waiting' }, () => {});
    ctl.abort();
    await expect(p).resolves.toMatchObject({ ok: false, reason: 'timeout', detail: 'timed out at the deadline while waiting' });

    const ctl2 = new AbortController();
    const p2 = runAttempt({ signal: ctl2.signal, phase: 'closing' }, (a) => {
      a.onDeadline = () => ok('connected');
    });
    ctl2.abort();
    await expect(p2).resolves.toEqual({ ok: true, detail: 'connected' });
  });

  it('settles at once for an already aborted signal without starting', async () => {
    const start = vi.fn();
    const r = await runAttempt({ signal: AbortSignal.abort(), phase: 'p' }, start);
    expect(r).toMatchObject({ ok: false, reason: 'timeout' });
    expect(start).not.toHaveBeenCalled();
  });

  it('turns a throw or a rejection into an error result', async () => {
    await expect(
      runAttempt({ signal: new AbortController().signal, phase: 'p' }, () => {
        throw new Error('boom');
      }),
    ).resolves.toEqual({ ok: false, reason: 'error', detail: 'boom' });
    await expect(
      runAttempt({ signal: new AbortController().signal, phase: 'p' }, async () => {
        await Promise.resolve();
        throw new Error('later');
      }),
    ).resolves.toEqual({ ok: false, reason: 'error', detail: 'later' });
  });
});

describe('reasonFor', () => {
  it('maps errno and TLS codes', () => {
    const e = (code: string) => Object.assign(new Error(code), { code });
    expect(reasonFor(e('ECONNREFUSED'))).toBe('refused');
    expect(reasonFor(e('ECONNRESET'))).toBe('reset');
    expect(reasonFor(e('EPIPE'))).toBe('reset');
    expect(reasonFor(e('EHOSTUNREACH'))).toBe('unreachable');
    expect(reasonFor(e('ENETUNREACH'))).toBe('unreachable');
    expect(reasonFor(e('ETIMEDOUT'))).toBe('timeout');
    expect(reasonFor(e('DEPTH_ZERO_SELF_SIGNED_CERT'))).toBe('protocol');
    expect(reasonFor(e('ERR_SSL_WRONG_VERSION_NUMBER'))).toBe('protocol');
    expect(reasonFor(e('ERR_TLS_CERT_ALTNAME_INVALID'))).toBe('protocol');
    expect(reasonFor(e('EADDRNOTAVAIL'))).toBe('error');
    expect(reasonFor('weird')).toBe('error');
  });
});

describe('targets', () => {
  it('adds bind_if as the zone of an IPv6 link-local address only', () => {
    expect(connectHost({ address: 'fe80::1', bindIf: 'eth0' })).toBe('fe80::1%eth0');
    expect(connectHost({ address: 'fe80::1%eth1', bindIf: 'eth0' })).toBe('fe80::1%eth1');
    expect(connectHost({ address: '2001:db8::1', bindIf: 'eth0' })).toBe('2001:db8::1');
    expect(connectHost({ address: '192.0.2.1', bindIf: 'eth0' })).toBe('192.0.2.1');
    expect(stripZone('fe80::1%eth0')).toBe('fe80::1');
  });

  it('builds connect options with the bind address and port', () => {
    expect(tcpConnectOptions({ address: '127.0.0.1', port: 80, timeoutMs: 1, bindto: '127.0.0.2', bindPort: 4000 })).toEqual({
      host: '127.0.0.1',
      port: 80,
      noDelay: true,
      family: 4,
      localAddress: '127.0.0.2',
      localPort: 4000,
    });
    expect(tcpConnectOptions({ address: '::1', port: 80, timeoutMs: 1 }).family).toBe(6);
  });
});

describe('closeGracefully', () => {
  it('sends FIN, drains, and resolves once the peer has closed', async () => {
    const ends: string[] = [];
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      s.write('banner that the client never reads\r\n');
      s.on('error', (e: NodeJS.ErrnoException) => ends.push(e.code ?? 'error'));
      s.on('end', () => {
        ends.push('fin');
        s.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const sock = net.connect({ host: '127.0.0.1', port });
      await new Promise((r) => sock.once('connect', r));
      await new Promise((r) => setTimeout(r, 50)); // let the banner arrive unread
      await closeGracefully(sock, 1000);
      expect(sock.destroyed).toBe(true);
      await new Promise((r) => setTimeout(r, 50));
      expect(ends).toEqual(['fin']);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('runAttempt: attempts sharing one caller signal', () => {
  it('an abort settles every pending attempt; settled ones are left alone; later ones settle at once', async () => {
    const ctl = new AbortController();
    const phase = 'waiting';
    let finishedFirst: (() => void) | undefined;
    const first = runAttempt({ signal: ctl.signal, phase }, (a) => {
      finishedFirst = () => a.finish({ ok: true });
    });
    const second = runAttempt({ signal: ctl.signal, phase }, () => undefined);
    const third = runAttempt({ signal: ctl.signal, phase, timeoutMs: 60_000 }, () => undefined);
    finishedFirst!();
    await expect(first).resolves.toEqual({ ok: true });
    ctl.abort();
    await expect(second).resolves.toMatchObject({ ok: false, reason: 'timeout' });
    await expect(third).resolves.toMatchObject({ ok: false, reason: 'timeout' });
    await expect(runAttempt({ signal: ctl.signal, phase }, () => undefined)).resolves.toMatchObject({ ok: false, reason: 'timeout' });
  });

  it('adds one abort listener per signal, however many attempts ran on it', async () => {
    const ctl = new AbortController();
    for (let i = 0; i < 20; i++) await runAttempt({ signal: ctl.signal, phase: 'x' }, (a) => a.finish({ ok: true }));
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(1);
  });
});

// Hostile and broken clients against the control server: odd request targets, huge headers,
// absurd bodies, random bytes, slow clients. After each, the server must still answer a plain
// GET /status on both listeners, and no rejection may escape (vitest fails the run on one).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlServer, type ControlHandlers, type ControlServer, requestPath, hostAllowed } from '../src/daemon/control/server.js';

const tmp = mkdtempSync(join(tmpdir(), 'vipkeeper-ctlfuzz-'));
const socket = join(tmp, 'vk.sock');
let reloads = 0;
const handlers: ControlHandlers = {
  status: () => ({ ok: 'yes' }) as never,
  metrics: async () => ({ contentType: 'text/plain', body: 'm 1\n' }),
  drain: async (rs) => ({ ok: true, message: rs }),
  undrain: async (rs) => ({ ok: true, message: rs }),
  maintenance: async (on) => ({ ok: true, message: String(on) }),
  stepDown: async () => ({ ok: true, message: 'ok' }),
  reload: async () => {
    reloads++;
    return { ok: true, message: 'reloaded' };
  },
};

let server: ControlServer;
let tcpPort = 0;
beforeAll(async () => {
  server = await startControlServer({
    socketPath: socket,
    http: { host: '127.0.0.1', port: 0 },
    handlers,
    limits: { headersTimeoutMs: 500, requestTimeoutMs: 1_000, timeoutCheckMs: 100, maxConnections: 8 },
  });
  tcpPort = Number(server.httpAddress!.split(':').pop());
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

type Target = { socketPath: string } | { port: number };
const unix: Target = { socketPath: socket };
const tcp = (): Target => ({ port: tcpPort });

/** Sends raw bytes, returns whatever comes back before the server closes (or `waitMs` passes). */
function raw(target: Target, bytes: Buffer | string, waitMs = 2_000): Promise<string> {
  return new Promise((resolve) => {
    const s: Socket = 'socketPath' in target ? connect(target.socketPath) : connect(target.port, '127.0.0.1');
    const got: Buffer[] = [];
    const done = () => {
      clearTimeout(t);
      s.destroy();
      resolve(Buffer.concat(got).toString('latin1'));
    };
    const t = setTimeout(done, waitMs);
    s.on('data', (d) => got.push(d));
    s.on('close', done);
    s.on('error', done);
    s.write(bytes);
  });
}

function get(target: Target, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ ...target, host: '127.0.0.1', path, method, headers: { host: 'localhost', ...headers } }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function alive(): Promise<void> {
  expect((await get(unix, '/status')).status).toBe(200);
  expect((await get(tcp(), '/status')).status).toBe(200);
}

describe('control server: hostile input', () => {
  it('answers odd request targets with 400 instead of dying', async () => {
    for (const target of ['//', '///', '//[::1', '//x/status', '*', 'http://x/status', 'status', '/%', '/\u00e9']) {
      for (const t of [unix, tcp()]) {
        const reply = await raw(t, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
        expect(reply, target).toMatch(/^HTTP\/1\.1 (400|404)/);
      }
    }
    await alive();
  });

  it('takes the path of a target, never throws on one', () => {
    expect(requestPath('/status?x=1')).toBe('/status');
    expect(requestPath('//')).toBe('//');
    expect(requestPath('*')).toBeUndefined();
    fc.assert(fc.property(fc.string({ maxLength: 64 }), (s) => {
      const p = requestPath(s);
      return p === undefined || p.startsWith('/');
    }));
  });

  it('refuses a header block larger than the limit with 431', async () => {
    const reply = await raw(unix, `GET /status HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 431/);
    await alive();
  });

  it('refuses an absurd Content-Length before reading the body', async () => {
    const reply = await raw(unix, 'POST /reload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999999999999\r\n\r\n{}');
    expect(reply).toMatch(/^HTTP\/1\.1 (400|413)/);
    const body = JSON.stringify({ rs: 'x'.repeat(70 * 1024) });
    const big = await raw(unix, `POST /drain HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    expect(big).toMatch(/^HTTP\/1\.1 413/);
    const chunked = await raw(unix, `POST /drain HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n${(70 * 1024).toString(16)}\r\n${body.slice(0, 70 * 1024)}\r\n0\r\n\r\n`);
    expect(chunked).toMatch(/^HTTP\/1\.1 413/);
    expect(reloads).toBe(0);
    await alive();
  });

  it('survives random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 512 }), async (bytes) => {
        await raw(unix, Buffer.from(bytes), 300);
      }),
      { numRuns: 60 },
    );
    await alive();
  });

  it('survives mutated requests', async () => {
    const base = 'POST /drain HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n{"rs":"10.0.0.1:80"}';
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: base.length - 1 }), fc.integer({ min: 0, max: 255 }), async (at, byte) => {
        const b = Buffer.from(base, 'latin1');
        b[at] = byte;
        await raw(unix, b, 300);
      }),
      { numRuns: 80 },
    );
    await alive();
  });

  it('closes slow clients at the header deadline and keeps serving others meanwhile', async () => {
    const slow = connect(socket);
    slow.write('GET /status HTTP/1.1\r\nHost: loc');
    const closed = new Promise<string>((resolve) => {
      let got = '';
      slow.on('data', (d) => (got += d.toString()));
      slow.on('close', () => resolve(got));
    });
    await alive();
    // the server, not the client, ends it: 408 or a plain close, past headersTimeout
    expect(await closed).toMatch(/^(HTTP\/1\.1 408|)/);
  });

  it('bounds the connections of the read-only listener', async () => {
    const held: Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const s = connect(tcpPort, '127.0.0.1');
      s.on('error', () => undefined);
      held.push(s);
    }
    const closedEarly = await Promise.all(held.map((s) => new Promise<boolean>((r) => {
      s.once('close', () => r(true));
      setTimeout(() => r(false), 1_500);
    })));
    expect(closedEarly.filter(Boolean).length).toBeGreaterThanOrEqual(20 - 8);
    for (const s of held) s.destroy();
    await alive();
  });

  it('answers the read-only listener only for an address or localhost (DNS rebinding)', async () => {
    expect((await get(tcp(), '/status', { host: 'evil.example' })).status).toBe(421);
    expect((await get(tcp(), '/status', { host: '127.0.0.1:9' })).status).toBe(200);
    expect((await get(tcp(), '/status', { host: '[::1]:9' })).status).toBe(200);
    expect(hostAllowed(undefined)).toBe(false);
    expect(hostAllowed('localhost')).toBe(true);
  });
});

describe('control server: the socket path', () => {
  it('never unlinks a regular file at the socket path', async () => {
    const path = join(tmp, 'not-a-socket');
    writeFileSync(path, 'precious');
    await expect(startControlServer({ socketPath: path, handlers })).rejects.toThrow(/is not a socket/);
  });

  it('replaces a stale socket and refuses a live one', async () => {
    await expect(startControlServer({ socketPath: socket, handlers })).rejects.toThrow(/in use/);
  });
});

import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import type { HttpSpec } from '../types.js';
import { buildHttpRequest, HttpProtocolError, HttpResponseReader, MAX_HEAD_BYTES, statusAccepted } from './http-response.js';

const md5 = (b: string | Buffer) => createHash('md5').update(b).digest('hex');

function spec(over: Partial<HttpSpec> & { address?: string; port?: number } = {}): HttpSpec & { address: string; port: number } {
  return { address: '10.1.2.3', port: 8080, url: { path: '/health', statusCodes: [] }, httpProtocol: '1.0', verifyTls: false, ...over };
}

describe('buildHttpRequest (keepalived request_template)', () => {
  it('HTTP/1.0: no Connection header, Host ip:port', () => {
    expect(buildHttpRequest(spec())).toBe('GET /health HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 10.1.2.3:8080\r\n\r\n');
  });

  it('1.0C and 1.1 add Connection: close before Host', () => {
    expect(buildHttpRequest(spec({ httpProtocol: '1.0C' }))).toBe(
      'GET /health HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: 10.1.2.3:8080\r\n\r\n',
    );
    expect(buildHttpRequest(spec({ httpProtocol: '1.1' }))).toBe(
      'GET /health HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: 10.1.2.3:8080\r\n\r\n',
    );
  });

  it('IPv6 literal in brackets, zone dropped', () => {
    expect(buildHttpRequest(spec({ address: 'fe80::1%eth0', port: 80 }))).toContain('\r\nHost: [fe80::1]:80\r\n');
  });

  it('virtualhost replaces ip:port (no port added); the url virtualhost wins', () => {
    expect(buildHttpRequest(spec({ virtualhost: 'www.example.test' }))).toContain('\r\nHost: www.example.test\r\n');
    expect(buildHttpRequest(spec({ address: '::1', virtualhost: 'v6.example.test' }))).toContain('\r\nHost: v6.example.test\r\n');
    expect(
      buildHttpRequest(spec({ virtualhost: 'checker.test', url: { path: '/', statusCodes: [], virtualhost: 'url.test' } })),
    ).toContain('\r\nHost: url.test\r\n');
  });
});

function feed(reader: HttpResponseReader, bytes: Buffer, step: number): void {
  for (let i = 0; i < bytes.length && !reader.done; i += step) reader.push(bytes.subarray(i, i + step));
}

describe('HttpResponseReader', () => {
  const body = 'hello, world\n';

  it('reads a Content-Length body, byte by byte or at once', () => {
    const resp = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}trailing junk`);
    for (const step of [1, 3, resp.length]) {
      const r = new HttpResponseReader({ digest: true, keepBody: true });
      feed(r, resp, step);
      expect(r.done).toBe(true);
      expect(r.status).toBe(200);
      expect(r.bodyText()).toBe(body);
      expect(r.digests()).toEqual({ raw: md5(body), body: md5(body) });
      expect(r.truncated).toBe(false);
    }
  });

  it('decodes chunked bodies; the raw digest includes the framing', () => {
    const wire = `5;ext=1\r\nhello\r\n8\r\n, world\n\r\n0\r\nX-Trailer: t\r\n\r\n`;
    const resp = Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${wire}`);
    for (const step of [1, 2, 7, resp.length]) {
      const r = new HttpResponseReader({ digest: true, keepBody: true });
      feed(r, resp, step);
      expect(r.done, `step ${step}`).toBe(true);
      expect(r.bodyText()).toBe('hello, world\n');
      expect(r.digests()).toEqual({ raw: md5(wire), body: md5('hello, world\n') });
    }
  });

  it('accepts bare LF line ends', () => {
    const r = new HttpResponseReader({ digest: false, keepBody: true });
    r.push(Buffer.from('HTTP/1.0 503 Busy\nContent-Length: 2\n\nno'));
    expect(r.status).toBe(503);
    expect(r.done).toBe(true);
    expect(r.bodyText()).toBe('no');
  });

  it('parses a status line without a reason phrase', () => {
    const r = new HttpResponseReader({ digest: false, keepBody: false });
    r.push(Buffer.from('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n'));
    expect(r.status).toBe(200);
    expect(r.done).toBe(true);
  });

  it('reads to EOF without length, and flags truncation of a length body', () => {
    const r = new HttpResponseReader({ digest: true, keepBody: false });
    r.push(Buffer.from('HTTP/1.0 200 OK\r\n\r\nsome'));
    r.push(Buffer.from(' data'));
    expect(r.done).toBe(false);
    r.end();
    expect(r.done).toBe(true);
    expect(r.truncated).toBe(false);
    expect(r.digests()?.body).toBe(md5('some data'));

    const t = new HttpResponseReader({ digest: false, keepBody: false });
    t.push(Buffer.from('HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    t.end();
    expect(t.done && t.truncated).toBe(true);
    expect(t.decodedBytes).toBe(3);
  });

  it('has no body for 204 and 304', () => {
    for (const s of [204, 304]) {
      const r = new HttpResponseReader({ digest: false, keepBody: false });
      r.push(Buffer.from(`HTTP/1.1 ${s} X\r\n\r\n`));
      expect(r.done).toBe(true);
    }
  });

  it('rejects malformed responses', () => {
    expect(() => new HttpResponseReader({ digest: false, keepBody: false }).push(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'))).toThrow(HttpProtocolError);
    expect(() =>
      new HttpResponseReader({ digest: false, keepBody: false }).push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n')),
    ).toThrow(/Content-Length/);
    expect(() =>
      new HttpResponseReader({ digest: false, keepBody: false }).push(
        Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'),
      ),
    ).toThrow(/chunk size/);
    expect(() =>
      new HttpResponseReader({ digest: false, keepBody: false }).push(
        Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY'),
      ),
    ).toThrow(/CRLF/);
    const big = new HttpResponseReader({ digest: false, keepBody: false });
    expect(() => big.push(Buffer.alloc(MAX_HEAD_BYTES + 10, 0x41))).toThrow(/header block/);
  });
});

describe('statusAccepted', () => {
  it('defaults to 200-299 and otherwise uses the ranges', () => {
    expect(statusAccepted(200, [])).toBe(true);
    expect(statusAccepted(299, [])).toBe(true);
    expect(statusAccepted(300, [])).toBe(false);
    expect(statusAccepted(199, [])).toBe(false);
    expect(statusAccepted(404, [[200, 200], [404, 404]])).toBe(true);
    expect(statusAccepted(201, [[200, 200], [404, 404]])).toBe(false);
    expect(statusAccepted(301, [[300, 302]])).toBe(true);
  });
});

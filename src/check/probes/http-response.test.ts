import { createHash } from 'node:crypto';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { native } from '../../sys/addon.js';
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

/**
 * The string parse the byte parser replaced (a header map from split lines), as the oracle: the
 * status, the status line, the body framing, and which error.
 */
function oracle(head: string): { status: number; statusLine: string; mode: string; length?: number } | { error: string } {
  const lines = head.replace(/\r$/, '').split(/\r?\n/);
  const first = lines.shift() ?? '';
  const m = /^HTTP\/(\d)\.(\d)[ \t]+(\d{3})(?:[ \t]|$)/.exec(first);
  if (!m) return { error: `not an HTTP status line: ${JSON.stringify(first.slice(0, 80))}` };
  const headers = new Map<string, string>();
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i <= 0) continue;
    const name = l.slice(0, i).trim().toLowerCase();
    const value = l.slice(i + 1).trim();
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
  }
  const status = Number(m[3]);
  if ((status >= 100 && status < 200) || status === 204 || status === 304) return { status, statusLine: first, mode: 'none' };
  const te = headers.get('transfer-encoding');
  if (te !== undefined && /(^|,)\s*chunked\s*$/i.test(te)) return { status, statusLine: first, mode: 'chunked' };
  const cl = headers.get('content-length');
  if (cl !== undefined) {
    const f = cl.split(',')[0]?.trim() ?? '';
    if (!/^\d+$/.test(f)) return { error: `bad Content-Length ${JSON.stringify(cl)}` };
    return { status, statusLine: first, mode: 'length', length: Number(f) };
  }
  return { status, statusLine: first, mode: 'eof' };
}

describe('HttpResponseReader header block (property: the byte parse equals the string parse)', () => {
  const pad = fc.constantFrom('', ' ', '\t', ' \t ', '\xa0', '\x0b', '\r');
  const name = fc.constantFrom('Content-Length', 'content-length', 'CONTENT-LENGTH', 'Transfer-Encoding', 'transfer-encoding', 'TrAnSfEr-EnCoDiNg', 'Content-Lengthx', 'Content_Length', 'Server', 'X', 'Contént-Length', '');
  const value = fc.oneof(
    fc.constantFrom('0', '5', '12', '007', ' 3 ', '3, 3', '3,4', 'x', '', '-1', 'chunked', 'gzip, chunked', 'chunked, gzip', 'CHUNKED', 'identity', 'a:b'),
    fc.string({ maxLength: 8 }).map((v) => v.replace(/[\r\n]/g, '')),
  );
  const eol = fc.constantFrom('\r\n', '\n');
  const header = fc.tuple(pad, name, pad, fc.constantFrom(':', ':', ''), pad, value, pad).map((p) => p.join(''));
  const statusLine = fc.oneof(
    fc.tuple(fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1', 'http/1.1', 'HTTP/x.1', 'HTTP/1.1x'), fc.constantFrom(' ', '\t', '  ', ''), fc.constantFrom('200', '204', '304', '101', '404', '20', '2000', '2x0', '500'), fc.constantFrom('', ' OK', '\tOK', 'OK', ' ', '\r')).map((p) => p.join('')),
    fc.string({ maxLength: 20 }).map((v) => v.replace(/[\r\n]/g, '')),
  );

  it('agrees on status, status line, framing and errors for generated header blocks', () => {
    fc.assert(
      fc.property(statusLine, fc.array(fc.tuple(header, eol), { maxLength: 6 }), eol, eol, (first, hs, e1, e2) => {
        const block = [first + e1, ...hs.map(([h, e]) => h + e)].join('') + e2;
        // the text the string parse was given: up to the LF before the blank line that ends the block
        const end = /\n\r?\n/.exec(block);
        if (end === null) return;
        const want = oracle(block.slice(0, end.index));
        const r = new HttpResponseReader({ digest: false, keepBody: false });
        let got: unknown;
        try {
          r.push(Buffer.from(`${block}abcdefghij`, 'latin1'));
          expect(r.headComplete).toBe(true);
          got = { status: r.status, statusLine: r.statusLine, mode: r.bodyMode, ...(r.bodyMode === 'length' ? { length: r.decodedBytes } : {}) };
        } catch (err) {
          got = { error: (err as Error).message };
        }
        if ('length' in want && want.length !== undefined) want.length = Math.min(want.length, 10);
        expect(got).toEqual(want);
      }),
      { numRuns: 2000 },
    );
  });

  // The addon judges a plain HTTP_GET itself (native/src/http_head.cc) when the head is plain:
  // whatever it calls plain, this reader must read the same way; the rest it hands to the reader.
  it('the addon\'s plain-head parse agrees with the reader wherever it calls a head plain', () => {
    const parse = native().parsePlainHttpHead;
    // besides the odd ones above, heads as servers send them (most are plain)
    const usualStatus = fc.constantFrom('HTTP/1.1 200 OK', 'HTTP/1.0 200 OK', 'HTTP/1.1 404 Not Found', 'HTTP/1.1 204 No Content', 'HTTP/1.1 304', 'HTTP/1.1 101 Switching', 'HTTP/1.1 503 X');
    const usualHeader = fc.oneof(
      fc.constantFrom('Server: nginx', 'Content-Type: text/html', 'Connection: close', 'X-Empty:', 'Date: Sat, 05 Dec 2026 18:00:00 GMT'),
      fc.tuple(fc.constantFrom('Content-Length', 'content-length'), pad, fc.nat({ max: 40 }), pad).map(([n, p1, v, p2]) => `${n}:${p1}${v}${p2}`),
    );
    let plain = 0;
    let runs = 0;
    fc.assert(
      fc.property(
        fc.oneof(statusLine, usualStatus),
        fc.array(fc.tuple(fc.oneof(header, usualHeader, usualHeader), eol), { maxLength: 6 }),
        eol,
        eol,
        fc.nat({ max: 24 }),
        fc.boolean(),
        (first, hs, e1, e2, bodyLen, cut) => {
        runs++;
        let block = [first + e1, ...hs.map(([h, e]) => h + e)].join('') + e2;
        if (cut) block = block.slice(0, Math.max(0, block.length - 2)); // a head not complete yet
        const bytes = Buffer.from(block + 'b'.repeat(bodyLen), 'latin1');
        const got = parse(bytes);
        const r = new HttpResponseReader({ digest: false, keepBody: false });
        if (got === 'not plain') return;
        if (got === 'incomplete') {
          r.push(bytes);
          expect(r.headComplete).toBe(false);
          return;
        }
        plain++;
        r.push(bytes); // throws if the reader would fail it: the test fails
        expect(r.headComplete).toBe(true);
        expect(r.status).toBe(got.status);
        expect(r.statusLine).toBe(bytes.toString('latin1', 0, got.statusEnd));
        const body = bytes.length - got.bodyStart;
        if (got.noBody) {
          expect(r.bodyMode).toBe('none');
          expect(r.done).toBe(true);
        } else if (got.contentLength >= 0) {
          expect(r.bodyMode).toBe('length');
          expect(r.decodedBytes).toBe(Math.min(got.contentLength, body));
          expect(r.done).toBe(got.contentLength <= body);
        } else {
          expect(r.bodyMode).toBe('eof');
          expect(r.decodedBytes).toBe(body);
        }
        },
      ),
      { numRuns: 3000 },
    );
    // the generators reach the plain path often enough for the property to say something
    expect(plain).toBeGreaterThan(runs / 20);
  });

  // The whole judge (PlainJudge in http_head.cc, what TcpConnector runs read by read) against what
  // HttpExchange (http.ts) concludes from the same reads with this reader: the status against the
  // ranges, the body to Content-Length or to the FIN, truncation, and at which read it decides.
  // Wherever the addon decides (ok, rejected, closed without a response) the reader must decide
  // the same at the same read; where it waits, the reader must wait too; what it hands to JS
  // ('not plain') is JS's alone. Responses as servers send them and as they go wrong: status
  // lines, header names and padding, Content-Length forms (none, one, repeated, lists, padded,
  // leading zeros, 15 and 16 digits, empty, signs), chunked and other transfer codings, bodies
  // shorter and longer than their length, split into 1 to 5 reads anywhere, FIN or not.
  it('the addon\'s whole plain judge agrees with HttpExchange\'s reading of the same reads (differential)', () => {
    const { judgePlainHttp } = native();
    const usualStatus = fc.constantFrom('HTTP/1.1 200 OK', 'HTTP/1.0 200 OK', 'HTTP/1.1 404 Not Found', 'HTTP/1.1 204 No Content', 'HTTP/1.1 304', 'HTTP/1.1 101 Switching', 'HTTP/1.1 503 X', 'HTTP/1.1 302 Found', 'HTTP/1.1 100 Continue');
    const lengthValue = fc.oneof(
      { weight: 3, arbitrary: fc.nat({ max: 40 }).map(String) },
      fc.constantFrom('0', '007', '000000000000000', '999999999999999', '1000000000000000', '', '+5', '-1', '5 5', '5,5', '5, 6', '0x10', '1e3', '\xa05\xa0', '5\x0b'),
    );
    const lengthHeader = fc.tuple(fc.constantFrom('Content-Length', 'content-length', 'CONTENT-LENGTH', ' Content-Length', 'Content-Length '), pad, lengthValue, pad).map(([n, p1, v, p2]) => `${n}:${p1}${v}${p2}`);
    const codingHeader = fc.tuple(fc.constantFrom('Transfer-Encoding', 'transfer-encoding'), pad, fc.constantFrom('chunked', 'gzip', 'gzip, chunked', 'chunked, gzip', 'identity', ''), pad).map(([n, p1, v, p2]) => `${n}:${p1}${v}${p2}`);
    const otherHeader = fc.constantFrom('Server: nginx', 'Content-Type: text/plain', 'Connection: close', 'X-Empty:', 'no colon here', ': no name', 'X-Length: 5');
    const chunked = fc.oneof(
      fc.array(fc.string({ minLength: 1, maxLength: 9 }), { maxLength: 3 }).map((cs) => cs.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('') + '0\r\n\r\n'),
      fc.constantFrom('5\r\nhello\r\n0\r\n\r\n', 'zz\r\n', '3\nabc\n0\n\n', '5\r\nhel'),
    );
    const body = fc.oneof(fc.nat({ max: 48 }).map((n) => 'b'.repeat(n)), chunked, fc.string({ maxLength: 24 }));
    const ranges = fc.constantFrom<[number, number][]>([], [[200, 200]], [[200, 299], [404, 404]], [[100, 599]], [[301, 302]], [[204, 204], [304, 304]]);
    // plain ones, as most servers answer: one Content-Length or none, and a body around it
    const plainResponse = fc
      .tuple(usualStatus, fc.array(otherHeader, { maxLength: 2 }), fc.option(fc.nat({ max: 30 })), fc.nat({ max: 45 }), eol)
      .map(([first, hs, length, n, e]) => Buffer.from([first, ...hs, ...(length === null ? [] : [`Content-Length: ${length}`])].join(e) + e + e + 'b'.repeat(n), 'latin1'));
    const anyResponse = fc
      .tuple(
        fc.oneof({ weight: 4, arbitrary: usualStatus }, statusLine),
        fc.array(fc.tuple(fc.oneof({ weight: 3, arbitrary: otherHeader }, { weight: 3, arbitrary: lengthHeader }, codingHeader, header), eol), { maxLength: 4 }),
        eol,
        eol,
        body,
        fc.nat(5).map((x) => x > 0),
      )
      .map(([first, hs, e1, e2, b, complete]) => {
        const head = [first + e1, ...hs.map(([h, e]) => h + e)].join('') + (complete ? e2 : '');
        return Buffer.from(head + (complete ? b : ''), 'latin1');
      });
    const response = fc.oneof(plainResponse, anyResponse);
    type JsVerdict = { kind: 'ok' | 'rejected' | 'protocol' | 'end' | 'pending'; read: number; status?: number; truncatedAt?: number; statusLine?: string };
    const jsJudge = (reads: Buffer[], rs: [number, number][], fin: boolean): JsVerdict => {
      const r = new HttpResponseReader({ digest: false, keepBody: false });
      let checked = false;
      let received = 0;
      const progress = (read: number): JsVerdict | undefined => {
        if (!r.headComplete) return undefined;
        if (!checked) {
          checked = true;
          if (!statusAccepted(r.status!, rs)) return { kind: 'rejected', read, status: r.status!, statusLine: r.statusLine };
        }
        if (r.done) return { kind: 'ok', read, status: r.status!, truncatedAt: r.truncated ? r.decodedBytes : -1 };
        return undefined;
      };
      for (const [i, chunk] of reads.entries()) {
        received += chunk.length;
        try {
          r.push(chunk);
        } catch {
          return { kind: 'protocol', read: i };
        }
        const v = progress(i);
        if (v) return v;
      }
      if (!fin) return { kind: 'pending', read: -1 };
      r.end();
      if (!r.headComplete) return { kind: received === 0 ? 'end' : 'protocol', read: -1 };
      return progress(-1) ?? { kind: 'pending', read: -1 };
    };
    const split = (b: Buffer, cuts: number[]): Buffer[] => {
      const at = [...new Set(cuts.map((c) => (b.length ? c % (b.length + 1) : 0)))].filter((c) => c > 0 && c < b.length).sort((x, y) => x - y);
      const out: Buffer[] = [];
      let from = 0;
      for (const c of [...at, b.length]) {
        if (c > from) out.push(b.subarray(from, c));
        from = c;
      }
      return out;
    };
    const seen = { judged: 0, handed: 0, waiting: 0, ok: 0, truncated: 0, rejected: 0, runs: 0 };
    // one read half the time (as most responses come); no read at all now and then
    const cutsArb = fc.oneof(fc.constant<number[]>([]), fc.array(fc.nat(), { minLength: 1, maxLength: 4 }));
    const emptyArb = fc.nat(19).map((x) => x === 0);
    fc.assert(
      fc.property(response, cutsArb, fc.boolean(), ranges, emptyArb, (bytes, cuts, fin, rs, empty) => {
        seen.runs++;
        const reads = empty ? [] : split(bytes, cuts);
        const got = judgePlainHttp(reads, Int32Array.from(rs.flat()), fin);
        const js = jsJudge(reads, rs, fin);
        const where = `${JSON.stringify(bytes.toString('latin1'))} in reads of ${reads.map((r) => r.length).join('+')}${fin ? ' then FIN' : ''}, ranges ${JSON.stringify(rs)}`;
        switch (got.verdict) {
          case 'not plain':
            seen.handed++;
            expect(got.read, where).toBe(0); // only a first read decides that
            return;
          case 'more':
            seen.waiting++;
            expect(js, where).toEqual({ kind: 'pending', read: -1 });
            return;
          case 'end':
            expect(js, where).toEqual({ kind: 'end', read: -1 });
            return;
          case 'rejected':
            seen.judged++;
            seen.rejected++;
            expect(js, where).toEqual({ kind: 'rejected', read: got.read, status: got.status, statusLine: reads[0]!.toString('latin1', 0, got.statusEnd) });
            return;
          case 'ok':
            seen.judged++;
            seen.ok++;
            if (got.truncatedAt >= 0) seen.truncated++;
            expect(js, where).toEqual({ kind: 'ok', read: got.read, status: got.status, truncatedAt: got.truncatedAt });
            return;
        }
      }),
      { numRuns: 6000 },
    );
    // every outcome is reached often enough for the property to say something
    expect(seen.judged, JSON.stringify(seen)).toBeGreaterThan(seen.runs / 10);
    expect(seen.handed).toBeGreaterThan(seen.runs / 10);
    expect(seen.waiting).toBeGreaterThan(seen.runs / 50);
    expect(seen.rejected).toBeGreaterThan(seen.runs / 50);
    expect(seen.truncated, JSON.stringify(seen)).toBeGreaterThan(seen.runs / 300);
  });

  it('the reader decides the same however a response is split into reads (the specification is split-proof)', () => {
    fc.assert(
      fc.property(fc.oneof(statusLine, fc.constant('HTTP/1.1 200 OK')), fc.array(fc.tuple(header, eol), { maxLength: 5 }), eol, fc.string({ maxLength: 40 }), fc.array(fc.nat(), { maxLength: 5 }), (first, hs, e, b, cuts) => {
        const bytes = Buffer.from([first + e, ...hs.map(([h, x]) => h + x)].join('') + e + b, 'latin1');
        const run = (reads: Buffer[]) => {
          const r = new HttpResponseReader({ digest: true, keepBody: true });
          try {
            for (const x of reads) r.push(x);
            r.end();
          } catch (err) {
            return { error: (err as Error).message };
          }
          return { head: r.headComplete, status: r.status, mode: r.bodyMode, done: r.done, truncated: r.truncated, raw: r.rawBytes, decoded: r.decodedBytes, digests: r.digests(), body: r.bodyText() };
        };
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
        const reads: Buffer[] = [];
        let from = 0;
        for (const c of [...at, bytes.length]) {
          if (c > from) reads.push(bytes.subarray(from, c));
          from = c;
        }
        expect(run(reads)).toEqual(run([bytes]));
      }),
      { numRuns: 3000 },
    );
  });
});

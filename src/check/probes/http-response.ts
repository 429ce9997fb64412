/**
 * Byte-exact keepalived HTTP_GET requests and an incremental HTTP/1.x response reader
 * (pure: no sockets), used by http.ts and unit-tested on its own.
 *
 * Digest: keepalived hashes the raw bytes after the header block (capped at Content-Length when
 * there is one) and does not decode chunked transfer coding, so a `genhash` digest of a chunked
 * response includes the chunk framing. The reader keeps two MD5s: one of those raw bytes and one
 * of the decoded body; a configured digest matches if it equals either (identical unless chunked).
 */
import { createHash, type Hash } from 'node:crypto';
import net from 'node:net';

import type { HttpSpec, Target } from '../types.js';
import { stripZone } from './common.js';

/** The request keepalived's check_http.c sends (request_template / request_template_ipv6). */
export function buildHttpRequest(spec: Pick<Target, 'address' | 'port'> & HttpSpec): string {
  const vhost = spec.url.virtualhost ?? spec.virtualhost;
  const addr = stripZone(spec.address);
  const host = vhost ?? (net.isIPv6(addr) ? `[${addr}]:${spec.port}` : `${addr}:${spec.port}`);
  const minor = spec.httpProtocol === '1.1' ? 1 : 0;
  const connection = spec.httpProtocol === '1.0' ? '' : 'Connection: close\r\n';
  return `GET ${spec.url.path} HTTP/1.${minor}\r\nUser-Agent: KeepAliveClient\r\n${connection}Host: ${host}\r\n\r\n`;
}

export class HttpProtocolError extends Error {
  override readonly name = 'HttpProtocolError';
}

/** Largest header block accepted. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Bytes of decoded body kept for `regex` (the digests see the whole body). */
export const MAX_REGEX_BODY_BYTES = 1024 * 1024;

/** The header buffer before the first byte (shared: a reader per check). */
const EMPTY = Buffer.alloc(0);

type BodyMode = 'none' | 'length' | 'chunked' | 'eof';
type ChunkState = 'size' | 'data' | 'data-crlf' | 'trailer' | 'done';

export class HttpResponseReader {
  status: number | undefined;
  statusLine = '';
  readonly headers = new Map<string, string>();
  /** Body bytes after the header block (raw, i.e. with chunk framing), counted up to completion. */
  rawBytes = 0;
  decodedBytes = 0;
  /** The header block has been parsed. */
  headComplete = false;
  /** The body is complete (length reached, last chunk, or EOF). */
  done = false;
  /** EOF came before Content-Length bytes or before the last chunk. */
  truncated = false;

  private head: Buffer = EMPTY;
  private mode: BodyMode = 'eof';
  private remaining = 0;
  private chunkState: ChunkState = 'size';
  private line = '';
  private readonly keepBody: boolean;
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  private readonly rawMd5: Hash | undefined;
  private readonly bodyMd5: Hash | undefined;

  constructor(opts: { digest: boolean; keepBody: boolean }) {
    this.keepBody = opts.keepBody;
    if (opts.digest) {
      this.rawMd5 = createHash('md5');
      this.bodyMd5 = createHash('md5');
    }
  }

  /** Feeds received bytes. Throws HttpProtocolError on a malformed response. */
  push(chunk: Buffer): void {
    if (this.done) return;
    if (!this.headComplete) {
      const from = Math.max(0, this.head.length - 3);
      this.head = this.head.length ? Buffer.concat([this.head, chunk]) : chunk;
      const end = findHeadEnd(this.head, from);
      if (end === undefined) {
        if (this.head.length > MAX_HEAD_BYTES) throw new HttpProtocolError(`response header block larger than ${MAX_HEAD_BYTES} bytes`);
        return;
      }
      const rest = this.head.subarray(end.bodyStart);
      this.parseHead(this.head.subarray(0, end.headEnd).toString('latin1'));
      this.head = EMPTY;
      this.headComplete = true;
      if (this.mode === 'none' || (this.mode === 'length' && this.remaining === 0)) {
        this.done = true;
        return;
      }
      if (rest.length) this.body(rest);
      return;
    }
    this.body(chunk);
  }

  /** The peer closed the connection. */
  end(): void {
    if (this.done) return;
    if (!this.headComplete) return; // caller reports "no complete response"
    if (this.mode === 'length' || this.mode === 'chunked') this.truncated = true;
    this.done = true;
  }

  /** Hex MD5 of the raw body bytes (keepalived's digest) and of the decoded body. */
  digests(): { raw: string; body: string } | undefined {
    if (!this.rawMd5 || !this.bodyMd5) return undefined;
    return { raw: this.rawMd5.copy().digest('hex'), body: this.bodyMd5.copy().digest('hex') };
  }

  /** The decoded body kept for regex matching (latin1, at most MAX_REGEX_BODY_BYTES). */
  bodyText(): string {
    return Buffer.concat(this.kept).toString('latin1');
  }

  get bodyMode(): BodyMode {
    return this.mode;
  }

  private parseHead(text: string): void {
    const lines = text.replace(/\r$/, '').split(/\r?\n/);
    const first = lines.shift() ?? '';
    const m = /^HTTP\/(\d)\.(\d)[ \t]+(\d{3})(?:[ \t]|$)/.exec(first);
    if (!m) throw new HttpProtocolError(`not an HTTP status line: ${JSON.stringify(first.slice(0, 80))}`);
    this.statusLine = first;
    this.status = Number(m[3]);
    for (const l of lines) {
      const i = l.indexOf(':');
      if (i <= 0) continue;
      const name = l.slice(0, i).trim().toLowerCase();
      const value = l.slice(i + 1).trim();
      const prev = this.headers.get(name);
      this.headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
    }
    const s = this.status;
    if ((s >= 100 && s < 200) || s === 204 || s === 304) {
      this.mode = 'none';
      return;
    }
    const te = this.headers.get('transfer-encoding');
    if (te !== undefined && /(^|,)\s*chunked\s*$/i.test(te)) {
      this.mode = 'chunked';
      return;
    }
    const cl = this.headers.get('content-length');
    if (cl !== undefined) {
      const first = cl.split(',')[0]?.trim() ?? '';
      if (!/^\d+$/.test(first)) throw new HttpProtocolError(`bad Content-Length ${JSON.stringify(cl)}`);
      this.mode = 'length';
      this.remaining = Number(first);
      return;
    }
    this.mode = 'eof';
  }

  private raw(buf: Buffer): void {
    this.rawBytes += buf.length;
    this.rawMd5?.update(buf);
  }

  private decoded(buf: Buffer): void {
    this.decodedBytes += buf.length;
    this.bodyMd5?.update(buf);
    if (this.keepBody && this.keptBytes < MAX_REGEX_BODY_BYTES) {
      const part = buf.length > MAX_REGEX_BODY_BYTES - this.keptBytes ? buf.subarray(0, MAX_REGEX_BODY_BYTES - this.keptBytes) : buf;
      this.kept.push(Buffer.from(part));
      this.keptBytes += part.length;
    }
  }

  private body(buf: Buffer): void {
    switch (this.mode) {
      case 'none':
        this.done = true;
        return;
      case 'eof':
        this.raw(buf);
        this.decoded(buf);
        return;
      case 'length': {
        const take = buf.length > this.remaining ? buf.subarray(0, this.remaining) : buf;
        this.raw(take);
        this.decoded(take);
        this.remaining -= take.length;
        if (this.remaining === 0) this.done = true;
        return;
      }
      case 'chunked':
        this.chunked(buf);
        return;
    }
  }

  private chunked(buf: Buffer): void {
    let i = 0;
    while (i < buf.length && !this.done) {
      switch (this.chunkState) {
        case 'size':
        case 'trailer': {
          const nl = buf.indexOf(0x0a, i);
          const end = nl < 0 ? buf.length : nl + 1;
          const part = buf.subarray(i, end);
          this.raw(part);
          this.line += part.toString('latin1');
          i = end;
          if (this.line.length > 8192) throw new HttpProtocolError('chunk size or trailer line too long');
          if (nl < 0) break;
          const line = this.line.replace(/\r?\n$/, '');
          this.line = '';
          if (this.chunkState === 'trailer') {
            if (line === '') this.finishChunked();
            break;
          }
          const m = /^([0-9a-fA-F]+)[ \t]*(;.*)?$/.exec(line);
          if (!m || m[1] === undefined) throw new HttpProtocolError(`bad chunk size line ${JSON.stringify(line.slice(0, 40))}`);
          const size = parseInt(m[1], 16);
          if (!Number.isSafeInteger(size)) throw new HttpProtocolError('chunk size too large');
          if (size === 0) this.chunkState = 'trailer';
          else {
            this.remaining = size;
            this.chunkState = 'data';
          }
          break;
        }
        case 'data': {
          const take = Math.min(this.remaining, buf.length - i);
          const part = buf.subarray(i, i + take);
          this.raw(part);
          this.decoded(part);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.chunkState = 'data-crlf';
          break;
        }
        case 'data-crlf': {
          // CRLF (or a bare LF) after the chunk data.
          const part = buf.subarray(i, i + 1);
          const c = buf[i];
          this.raw(part);
          i += 1;
          if (c === 0x0a) this.chunkState = 'size';
          else if (c !== 0x0d) throw new HttpProtocolError('missing CRLF after chunk data');
          break;
        }
        case 'done':
          return;
      }
    }
  }

  private finishChunked(): void {
    this.chunkState = 'done';
    this.done = true;
  }
}

/** End of the header block: `\r\n\r\n` (or bare `\n\n`). */
function findHeadEnd(buf: Buffer, from: number): { headEnd: number; bodyStart: number } | undefined {
  for (let i = from; i < buf.length; i++) {
    if (buf[i] !== 0x0a) continue;
    // buf[i] is LF: the line that just ended is empty if the previous byte is LF, or CR preceded by LF.
    if (i >= 1 && buf[i - 1] === 0x0a) return { headEnd: i - 1, bodyStart: i + 1 };
    if (i >= 2 && buf[i - 1] === 0x0d && buf[i - 2] === 0x0a) return { headEnd: i - 2, bodyStart: i + 1 };
  }
  return undefined;
}

/** True if `status` is within one of the ranges; no ranges means keepalived's default 200-299. */
export function statusAccepted(status: number, ranges: readonly (readonly [number, number])[]): boolean {
  if (ranges.length === 0) return status >= 200 && status <= 299;
  return ranges.some(([lo, hi]) => status >= lo && status <= hi);
}

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
  /** The header block once parsed, kept for statusLine (made only for a message). */
  private parsedHead: Buffer = EMPTY;
  private statusEnd = 0;
  private mode: BodyMode = 'eof';
  private remaining = 0;
  private chunkState: ChunkState = 'size';
  private line = '';
  private readonly keepBody: boolean;
  private kept: Buffer[] | undefined;
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
      const head = this.head.length ? Buffer.concat([this.head, chunk]) : chunk;
      const bodyStart = findHeadEnd(head, from);
      if (bodyStart < 0) {
        if (head.length > MAX_HEAD_BYTES) throw new HttpProtocolError(`response header block larger than ${MAX_HEAD_BYTES} bytes`);
        this.head = head;
        return;
      }
      // the block without the LF that ends its last line (that line's CR, if any, is stripped below)
      this.parseHead(head, head[bodyStart - 2] === 0x0a ? bodyStart - 2 : bodyStart - 3);
      this.head = EMPTY;
      this.headComplete = true;
      if (this.mode === 'none' || (this.mode === 'length' && this.remaining === 0)) {
        this.done = true;
        return;
      }
      if (bodyStart < head.length) this.bodyFrom(head, bodyStart);
      return;
    }
    this.bodyFrom(chunk, 0);
  }

  /** The status line as received (latin1), '' before the header block is complete. */
  get statusLine(): string {
    return this.parsedHead.toString('latin1', 0, this.statusEnd);
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
    return this.kept === undefined ? '' : Buffer.concat(this.kept).toString('latin1');
  }

  get bodyMode(): BodyMode {
    return this.mode;
  }

  /**
   * The header block head[0, end), on bytes: each check parses one, so no string is made for
   * lines or names (a string-split parse allocated ~3 KB a response). Lines end at LF, one CR
   * before it dropped; names are trimmed as String.prototype.trim trims latin1 and compared
   * case-insensitively; only Transfer-Encoding and Content-Length are read (repeats joined with
   * ", ", as a header map would).
   */
  private parseHead(head: Buffer, end: number): void {
    let eol = head.indexOf(0x0a);
    if (eol < 0 || eol > end) eol = end;
    const statusEnd = eol > 0 && head[eol - 1] === 0x0d ? eol - 1 : eol;
    this.parsedHead = head;
    this.statusEnd = statusEnd;
    const status = statusCode(head, statusEnd);
    if (status < 0) throw new HttpProtocolError(`not an HTTP status line: ${JSON.stringify(this.statusLine.slice(0, 80))}`);
    this.status = status;
    let te: string | undefined;
    let cl: string | undefined;
    while (eol < end) {
      const start = eol + 1;
      eol = head.indexOf(0x0a, start);
      if (eol < 0 || eol > end) eol = end;
      const lineEnd = eol > start && head[eol - 1] === 0x0d ? eol - 1 : eol;
      // within the line: indexOf would run on into later lines (or the body) for a line without one
      let colon = start;
      while (colon < lineEnd && head[colon] !== 0x3a) colon++;
      if (colon === start || colon === lineEnd) continue;
      let n0 = start;
      let n1 = colon;
      while (n0 < n1 && isTrimmed(head[n0]!)) n0++;
      while (n1 > n0 && isTrimmed(head[n1 - 1]!)) n1--;
      const which = nameIs(head, n0, n1, TRANSFER_ENCODING) ? 1 : nameIs(head, n0, n1, CONTENT_LENGTH) ? 2 : 0;
      if (which === 0) continue;
      let v0 = colon + 1;
      let v1 = lineEnd;
      while (v0 < v1 && isTrimmed(head[v0]!)) v0++;
      while (v1 > v0 && isTrimmed(head[v1 - 1]!)) v1--;
      const value = head.toString('latin1', v0, v1);
      if (which === 1) te = te === undefined ? value : `${te}, ${value}`;
      else cl = cl === undefined ? value : `${cl}, ${value}`;
    }
    if ((status >= 100 && status < 200) || status === 204 || status === 304) {
      this.mode = 'none';
      return;
    }
    if (te !== undefined && /(^|,)\s*chunked\s*$/i.test(te)) {
      this.mode = 'chunked';
      return;
    }
    if (cl !== undefined) {
      const comma = cl.indexOf(',');
      const first = comma < 0 ? cl : cl.slice(0, comma).trim();
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
      (this.kept ??= []).push(Buffer.from(part));
      this.keptBytes += part.length;
    }
  }

  /** Body bytes buf[from..]; a plain check (no digest, no regex) with a length or to EOF only counts them. */
  private bodyFrom(buf: Buffer, from: number): void {
    const mode = this.mode;
    if (this.rawMd5 === undefined && !this.keepBody && (mode === 'length' || mode === 'eof')) {
      const n = mode === 'length' ? Math.min(this.remaining, buf.length - from) : buf.length - from;
      this.rawBytes += n;
      this.decodedBytes += n;
      if (mode === 'length') {
        this.remaining -= n;
        if (this.remaining === 0) this.done = true;
      }
      return;
    }
    this.body(from === 0 ? buf : buf.subarray(from));
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

/**
 * Where the body starts, just after the header block's end (`\r\n\r\n` or a bare `\n\n`);
 * -1 if the block has not ended yet.
 */
function findHeadEnd(buf: Buffer, from: number): number {
  for (let i = buf.indexOf(0x0a, from); i >= 0; i = buf.indexOf(0x0a, i + 1)) {
    // buf[i] is LF: the line that just ended is empty if the previous byte is LF, or CR preceded by LF.
    if (i >= 1 && buf[i - 1] === 0x0a) return i + 1;
    if (i >= 2 && buf[i - 1] === 0x0d && buf[i - 2] === 0x0a) return i + 1;
  }
  return -1;
}

/** The code of a status line (without its line end) as statusCode reads it; -1 if it is none. */
export function statusCodeOfLine(line: Buffer): number {
  return statusCode(line, line.length);
}

/** The code of a status line head[0, end) as /^HTTP\/\d\.\d[ \t]+(\d{3})(?:[ \t]|$)/ reads it; -1 if it is none. */
function statusCode(head: Buffer, end: number): number {
  if (end < 12 || head[0] !== 0x48 || head[1] !== 0x54 || head[2] !== 0x54 || head[3] !== 0x50 || head[4] !== 0x2f) return -1;
  if (!isDigit(head[5]!) || head[6] !== 0x2e || !isDigit(head[7]!)) return -1;
  let i = 8;
  while (i < end && (head[i] === 0x20 || head[i] === 0x09)) i++;
  if (i === 8 || i + 3 > end || !isDigit(head[i]!) || !isDigit(head[i + 1]!) || !isDigit(head[i + 2]!)) return -1;
  if (i + 3 < end && head[i + 3] !== 0x20 && head[i + 3] !== 0x09) return -1;
  return (head[i]! - 0x30) * 100 + (head[i + 1]! - 0x30) * 10 + (head[i + 2]! - 0x30);
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

/** A latin1 byte that String.prototype.trim removes: TAB, LF, VT, FF, CR, space, NBSP. */
function isTrimmed(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d) || b === 0xa0;
}

const TRANSFER_ENCODING = Buffer.from('transfer-encoding', 'latin1');
const CONTENT_LENGTH = Buffer.from('content-length', 'latin1');

/** head[n0, n1) equals `lower` (ASCII lower case letters and '-') ignoring ASCII case. */
function nameIs(head: Buffer, n0: number, n1: number, lower: Buffer): boolean {
  if (n1 - n0 !== lower.length) return false;
  for (let k = 0; k < lower.length; k++) {
    const b = head[n0 + k]!;
    const c = lower[k]!;
    if (b !== c && !(c >= 0x61 && c <= 0x7a && b === c - 0x20)) return false;
  }
  return true;
}

/** True if `status` is within one of the ranges; no ranges means keepalived's default 200-299. */
export function statusAccepted(status: number, ranges: readonly (readonly [number, number])[]): boolean {
  if (ranges.length === 0) return status >= 200 && status <= 299;
  // a loop, not some() with a destructuring callback: this runs once a check
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (status >= r[0] && status <= r[1]) return true;
  }
  return false;
}

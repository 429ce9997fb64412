/**
 * Netlink messages in TypeScript: the header, attributes (TLVs, nested), replies and errors,
 * plus a small client over the addon's NetlinkSocket (which only carries bytes). The codecs
 * are pure so they are tested without a kernel; rtnetlink addresses (addresses-netlink.ts)
 * and IPVS over generic netlink (src/ipvs/netlink.ts) build on them.
 */
import { getSystemErrorName } from 'node:util';

import { native } from '../sys/addon.js';

export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;
/** NLMSGERR_ATTR_MSG: the extended ACK's text. */
const NLMSGERR_ATTR_MSG = 1;

const align4 = (n: number) => (n + 3) & ~3;

/** An attribute value: raw bytes, or a list of attributes (nested). */
export type AttrValue = Uint8Array | Attr[];
export interface Attr {
  type: number;
  value: AttrValue;
}

export const attr = {
  u8: (type: number, v: number): Attr => ({ type, value: Uint8Array.of(v & 0xff) }),
  u16: (type: number, v: number): Attr => {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    return { type, value: b };
  },
  /** network byte order (IPVS ports) */
  be16: (type: number, v: number): Attr => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    return { type, value: b };
  },
  u32: (type: number, v: number): Attr => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    return { type, value: b };
  },
  be32: (type: number, v: number): Attr => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    return { type, value: b };
  },
  /** NUL-terminated string */
  str: (type: number, s: string): Attr => ({ type, value: Buffer.concat([Buffer.from(s, 'utf8'), Buffer.of(0)]) }),
  bytes: (type: number, v: Uint8Array): Attr => ({ type, value: v }),
  nested: (type: number, attrs: Attr[]): Attr => ({ type: type | NLA_F_NESTED, value: attrs }),
};

function attrLength(a: Attr): number {
  return 4 + (Array.isArray(a.value) ? attrsLength(a.value) : a.value.length);
}
function attrsLength(attrs: readonly Attr[]): number {
  let n = 0;
  for (const a of attrs) n += align4(attrLength(a));
  return n;
}
function writeAttrs(buf: Buffer, off: number, attrs: readonly Attr[]): number {
  for (const a of attrs) {
    const len = attrLength(a);
    buf.writeUInt16LE(len, off);
    buf.writeUInt16LE(a.type, off + 2);
    if (Array.isArray(a.value)) writeAttrs(buf, off + 4, a.value);
    else buf.set(a.value, off + 4);
    off += align4(len);
  }
  return off;
}

/** Encodes attributes (padded TLVs). */
export function encodeAttrs(attrs: readonly Attr[]): Buffer {
  const buf = Buffer.alloc(attrsLength(attrs));
  writeAttrs(buf, 0, attrs);
  return buf;
}

export interface NlMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** everything after the 16-byte header (family header + attributes) */
  payload: Buffer;
}

/** One message: header + fixed family header + attributes. */
export function encodeMessage(m: { type: number; flags: number; seq: number; header?: Uint8Array; attrs?: readonly Attr[] }): Buffer {
  const head = m.header ?? new Uint8Array(0);
  const hlen = align4(head.length);
  const alen = attrsLength(m.attrs ?? []);
  const buf = Buffer.alloc(16 + hlen + alen);
  buf.writeUInt32LE(buf.length, 0);
  buf.writeUInt16LE(m.type, 4);
  buf.writeUInt16LE(m.flags, 6);
  buf.writeUInt32LE(m.seq >>> 0, 8);
  buf.writeUInt32LE(0, 12);
  buf.set(head, 16);
  writeAttrs(buf, 16 + hlen, m.attrs ?? []);
  return buf;
}

/**
 * A reply that does not parse: a message or attribute whose length runs past what holds it, a
 * header too short for its fields, a fixed-size attribute of the wrong size. The decoders throw
 * this and nothing else on any input (a property test feeds them random and mutated replies), and
 * never read past the bytes they are given.
 */
export class NetlinkDecodeError extends Error {
  override readonly name = 'NetlinkDecodeError';
}

/** Splits a buffer of concatenated messages. Throws NetlinkDecodeError on a truncated or malformed one. */
export function parseMessages(buf: Buffer): NlMessage[] {
  const out: NlMessage[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 16) throw new NetlinkDecodeError(`netlink reply: ${buf.length - off} bytes at offset ${off} cannot hold a 16-byte message header`);
    const len = buf.readUInt32LE(off);
    if (len < 16 || len > buf.length - off) throw new NetlinkDecodeError(`netlink reply: a message of ${len} bytes at offset ${off}, with ${buf.length - off} bytes left`);
    out.push({ type: buf.readUInt16LE(off + 4), flags: buf.readUInt16LE(off + 6), seq: buf.readUInt32LE(off + 8), pid: buf.readUInt32LE(off + 12), payload: buf.subarray(off + 16, off + len) });
    off += Math.min(align4(len), buf.length - off); // the last message need not be padded
  }
  return out;
}

/**
 * Calls `fn` for each attribute in order (type with NLA_F_NESTED and byte-order bits stripped).
 * Throws NetlinkDecodeError on an attribute whose length is below its header or runs past the
 * buffer; fewer than 4 bytes left after the last one are ignored, as the kernel's nla_parse does.
 */
function forEachAttr(buf: Buffer, fn: (type: number, value: Buffer) => void): void {
  let off = 0;
  while (buf.length - off >= 4) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || len > buf.length - off) throw new NetlinkDecodeError(`netlink attribute of ${len} bytes at offset ${off}, with ${buf.length - off} bytes left`);
    fn(buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
}

/** Fixed-size attribute values, length-checked: `what` names the attribute in the error. */
export const attrValue = {
  u8: (b: Buffer, what: string): number => fixed(b, 1, what)[0]!,
  u16: (b: Buffer, what: string): number => fixed(b, 2, what).readUInt16LE(0),
  be16: (b: Buffer, what: string): number => fixed(b, 2, what).readUInt16BE(0),
  u32: (b: Buffer, what: string): number => fixed(b, 4, what).readUInt32LE(0),
  s32: (b: Buffer, what: string): number => fixed(b, 4, what).readInt32LE(0),
};

/** `b` if it holds at least `size` bytes (the kernel's nla_policy minimum), else NetlinkDecodeError. */
export function fixed(b: Buffer, size: number, what: string): Buffer {
  if (b.length < size) throw new NetlinkDecodeError(`${what}: ${b.length} bytes, expected ${size}`);
  return b;
}

/** Attributes by type (the last wins). */
export function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  forEachAttr(buf, (type, value) => out.set(type, value));
  return out;
}

/** Every attribute in order (for lists such as nested arrays). */
export function parseAttrList(buf: Buffer): { type: number; value: Buffer }[] {
  const out: { type: number; value: Buffer }[] = [];
  forEachAttr(buf, (type, value) => out.push({ type, value }));
  return out;
}

/** An NLMSG_ERROR with a non-zero code: errno name, number and the kernel's extended-ACK text. */
export class NetlinkError extends Error {
  override readonly name = 'NetlinkError';
  constructor(
    readonly errno: number,
    readonly code: string,
    readonly seq: number,
    readonly extack: string | undefined,
    context: string,
  ) {
    super(`${context}: ${code} (${errnoText(errno)})${extack ? `: ${extack}` : ''}`);
  }
}

/** The texts of the errnos netlink answers with most (Node 20 has no getSystemErrorMessage). */
const ERRNO_TEXTS: Record<number, string> = {
  1: 'Operation not permitted', // EPERM
  2: 'No such file or directory', // ENOENT
  3: 'No such process', // ESRCH
  12: 'Cannot allocate memory', // ENOMEM
  13: 'Permission denied', // EACCES
  16: 'Device or resource busy', // EBUSY
  17: 'File exists', // EEXIST
  19: 'No such device', // ENODEV
  22: 'Invalid argument', // EINVAL
  95: 'Operation not supported', // EOPNOTSUPP
  97: 'Address family not supported by protocol', // EAFNOSUPPORT
  99: 'Cannot assign requested address', // EADDRNOTAVAIL
};
/** EPERM, EEXIST, … for any errno (libuv's table), not only those above. */
export function errnoName(errno: number): string {
  const name = errno > 0 ? getSystemErrorName(-errno) : undefined;
  return name && /^E[A-Z0-9]+$/.test(name) ? name : `errno ${errno}`;
}
function errnoText(errno: number): string {
  return ERRNO_TEXTS[errno] ?? 'error';
}

/** Reads an NLMSG_ERROR payload: 0 for an ACK, else the positive errno, and the extack text. */
export function parseError(m: NlMessage): { errno: number; extack?: string } {
  if (m.payload.length < 4) throw new NetlinkDecodeError(`netlink error message of ${m.payload.length} bytes, expected at least 4`);
  const errno = -m.payload.readInt32LE(0) || 0; // no -0 for an ACK
  // the echoed request header (16 bytes, NETLINK_CAP_ACK) then TLVs when NLM_F_ACK_TLVS (0x200) is set
  let extack: string | undefined;
  if (m.flags & 0x200 && m.payload.length > 20) {
    const echoed = m.payload.readUInt32LE(4);
    const tlvStart = 4 + (m.flags & 0x100 ? 16 : Math.ceil(echoed / 4) * 4); // not align4: echoed may exceed 2^31
    const a = tlvStart < m.payload.length ? parseAttrs(m.payload.subarray(tlvStart)).get(NLMSGERR_ATTR_MSG) : undefined;
    if (a) extack = a.toString('utf8').replace(/\0+$/, '');
  }
  return extack === undefined ? { errno } : { errno, extack };
}

/** The replies to one request (seq): data messages, and its error if it failed. */
export interface Reply {
  seq: number;
  messages: NlMessage[];
  errno: number;
  extack?: string;
}

/** Groups a transaction's reply bytes by sequence number. */
export function groupReplies(buf: Buffer): Map<number, Reply> {
  const out = new Map<number, Reply>();
  for (const m of parseMessages(buf)) {
    let r = out.get(m.seq);
    if (!r) out.set(m.seq, (r = { seq: m.seq, messages: [], errno: 0 }));
    if (m.type === NLMSG_ERROR) {
      const e = parseError(m);
      r.errno = e.errno;
      if (e.extack !== undefined) r.extack = e.extack;
    } else if (m.type !== NLMSG_DONE && m.type !== NLMSG_NOOP) r.messages.push(m);
  }
  return out;
}

/** A request for NetlinkClient: everything but the sequence number, which the client assigns. */
export interface Request {
  type: number;
  flags: number;
  header?: Uint8Array;
  attrs?: readonly Attr[];
}

export interface NetlinkTransport {
  transact(request: Uint8Array, timeoutMs?: number, chunkBytes?: number): Buffer;
  transactAsync(request: Uint8Array, timeoutMs?: number, chunkBytes?: number): Promise<Buffer>;
  close(): void;
}

/** Sequence numbers, batching and a queue, over one netlink socket. */
export class NetlinkClient {
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly socket: NetlinkTransport) {}

  static open(protocol: number): NetlinkClient {
    return new NetlinkClient(new (native().NetlinkSocket)(protocol));
  }

  private encode(reqs: readonly Request[]): { buf: Buffer; seqs: number[] } {
    const seqs: number[] = [];
    const parts = reqs.map((r) => {
      this.seq = (this.seq + 1) >>> 0 || 1;
      seqs.push(this.seq);
      return encodeMessage({ ...r, flags: r.flags | NLM_F_REQUEST, seq: this.seq });
    });
    return { buf: Buffer.concat(parts), seqs };
  }

  private static collect(buf: Buffer, seqs: number[]): Reply[] {
    const bySeq = groupReplies(buf);
    return seqs.map((seq) => bySeq.get(seq) ?? { seq, messages: [], errno: 0 });
  }

  /** Runs the requests as one transaction on the calling thread (small requests only). */
  requestSync(reqs: readonly Request[], timeoutMs?: number): Reply[] {
    const { buf, seqs } = this.encode(reqs);
    return NetlinkClient.collect(this.socket.transact(buf, timeoutMs), seqs);
  }

  /**
   * Runs the requests as one transaction off the main thread; transactions are queued.
   * `oneAtATime` waits for each request's answer before sending the next: needed for several
   * dumps, which the kernel runs one at a time per socket (EBUSY otherwise).
   */
  request(reqs: readonly Request[], timeoutMs?: number, opts: { oneAtATime?: boolean } = {}): Promise<Reply[]> {
    const run = async () => {
      const { buf, seqs } = this.encode(reqs);
      return NetlinkClient.collect(await this.socket.transactAsync(buf, timeoutMs, opts.oneAtATime ? 1 : undefined), seqs);
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  close(): void {
    this.socket.close();
  }
}

/** A failed reply in a few words: the errno name and the kernel's extended-ACK text, e.g. `EEXIST: Destination already exists`. */
export function replyErrorText(r: Pick<Reply, 'errno' | 'extack'>): string {
  return `${errnoName(r.errno)}${r.extack ? `: ${r.extack}` : ''}`;
}

/** Throws the first failed reply as a NetlinkError. */
export function checkReplies(replies: readonly Reply[], context: (index: number) => string): void {
  for (const [i, r] of replies.entries()) {
    if (r.errno !== 0) throw new NetlinkError(r.errno, errnoName(r.errno), r.seq, r.extack, context(i));
  }
}

// ---- generic netlink ----

export const GENL_ID_CTRL = 0x10;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;

/** The generic netlink header: cmd, version, reserved. */
export function genlHeader(cmd: number, version: number): Uint8Array {
  return Uint8Array.of(cmd, version, 0, 0);
}

/** Resolves a generic netlink family name to its id; undefined when the kernel has no such family. */
export function resolveGenlFamilySync(client: NetlinkClient, name: string): number | undefined {
  const [r] = client.requestSync([{ type: GENL_ID_CTRL, flags: NLM_F_ACK, header: genlHeader(CTRL_CMD_GETFAMILY, 1), attrs: [attr.str(CTRL_ATTR_FAMILY_NAME, name)] }]);
  if (!r || r.errno === 2) return undefined;
  checkReplies([r], () => `resolve generic netlink family ${name}`);
  const m = r.messages[0];
  if (!m) return undefined;
  if (m.payload.length < 4) throw new NetlinkDecodeError(`generic netlink reply of ${m.payload.length} bytes cannot hold its 4-byte header`);
  const id = parseAttrs(m.payload.subarray(4)).get(CTRL_ATTR_FAMILY_ID);
  return id === undefined ? undefined : attrValue.u16(id, 'CTRL_ATTR_FAMILY_ID');
}

/**
 * Decoder of the kernel's process-events connector datagrams (linux/cn_proc.h), as received by
 * native/src/proc_events.cc. One datagram is one netlink message: nlmsghdr (16 bytes), cn_msg
 * (20), proc_event (what, cpu, timestamp, then the event's data at byte 52).
 *
 * Only what track_process needs is decoded (keepalived core/track_process.c: fork, exec, comm,
 * exit, and the PROC_EVENT_NONE ack of the listen request); threads are dropped here, as
 * keepalived drops them (a thread's tid differs from its process's tgid). Anything malformed,
 * from another connector, or an ack/event mismatch decodes to undefined: never a throw.
 */

export const CN_IDX_PROC = 1;
export const CN_VAL_PROC = 1;
const NLMSG_ERROR = 2;
const NLMSG_NOOP = 1;

export const PROC_EVENT = {
  NONE: 0,
  FORK: 0x1,
  EXEC: 0x2,
  UID: 0x4,
  GID: 0x40,
  SID: 0x80,
  PTRACE: 0x100,
  COMM: 0x200,
  NONZERO_EXIT: 0x20000000,
  COREDUMP: 0x40000000,
  EXIT: 0x80000000,
} as const;

export type ProcEvent =
  | { kind: 'ack'; cpu: number; seq: number }
  | { kind: 'fork'; cpu: number; seq: number; parent: number; child: number }
  | { kind: 'exec'; cpu: number; seq: number; pid: number }
  | { kind: 'comm'; cpu: number; seq: number; pid: number; comm: string }
  | { kind: 'exit'; cpu: number; seq: number; pid: number }
  /** Another event (uid, gid, sid, ptrace, coredump) or a thread's: nothing for track_process. */
  | { kind: 'other'; cpu: number; seq: number };

const HDR = 16;
const CN = 20;
const EV = HDR + CN; // proc_event
const DATA = EV + 16; // event_data

/** Decodes one datagram; undefined when it is not a well-formed proc connector message. */
export function decodeProcEvent(buf: Uint8Array): ProcEvent | undefined {
  if (buf.length < DATA) return undefined;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const nlLen = v.getUint32(0, true);
  const nlType = v.getUint16(4, true);
  if (nlLen < DATA || nlLen > buf.length) return undefined;
  if (nlType === NLMSG_ERROR || nlType === NLMSG_NOOP) return undefined;
  if (v.getUint32(HDR, true) !== CN_IDX_PROC || v.getUint32(HDR + 4, true) !== CN_VAL_PROC) return undefined;
  const seq = v.getUint32(HDR + 8, true);
  const ack = v.getUint32(HDR + 12, true);
  const cnLen = v.getUint16(HDR + 16, true);
  if (cnLen < 16 || EV + cnLen > nlLen) return undefined;
  const what = v.getUint32(EV, true);
  const cpu = v.getUint32(EV + 4, true);
  // keepalived: PROC_EVENT_NONE is exactly the ack of a listen request
  if ((what === PROC_EVENT.NONE) !== (ack !== 0)) return undefined;
  const end = EV + cnLen;
  const u32 = (i: number): number | undefined => (DATA + i * 4 + 4 <= end ? v.getUint32(DATA + i * 4, true) : undefined);
  switch (what) {
    case PROC_EVENT.NONE:
      return { kind: 'ack', cpu, seq };
    case PROC_EVENT.FORK: {
      const [ptid, ptgid, ctid, ctgid] = [u32(0), u32(1), u32(2), u32(3)];
      if (ptid === undefined || ptgid === undefined || ctid === undefined || ctgid === undefined) return undefined;
      // a new thread has child pid ≠ child tgid
      if (ctid !== ctgid) return { kind: 'other', cpu, seq };
      return { kind: 'fork', cpu, seq, parent: ptgid, child: ctgid };
    }
    case PROC_EVENT.EXEC:
    case PROC_EVENT.EXIT: {
      const [tid, tgid] = [u32(0), u32(1)];
      if (tid === undefined || tgid === undefined) return undefined;
      if (tid !== tgid) return { kind: 'other', cpu, seq };
      return what === PROC_EVENT.EXEC ? { kind: 'exec', cpu, seq, pid: tgid } : { kind: 'exit', cpu, seq, pid: tgid };
    }
    case PROC_EVENT.COMM: {
      const [tid, tgid] = [u32(0), u32(1)];
      if (tid === undefined || tgid === undefined || DATA + 8 + 16 > end) return undefined;
      if (tid !== tgid) return { kind: 'other', cpu, seq };
      const raw = buf.subarray(DATA + 8, DATA + 8 + 16);
      const nul = raw.indexOf(0);
      const comm = Buffer.from(raw.subarray(0, nul < 0 ? raw.length : nul)).toString('latin1');
      return { kind: 'comm', cpu, seq, pid: tgid, comm };
    }
    default:
      return { kind: 'other', cpu, seq };
  }
}

/** Builds a datagram as the kernel sends it (for tests and the fuzzer). */
export function encodeProcEvent(
  what: number,
  data: readonly number[] = [],
  opts: { cpu?: number; seq?: number; ack?: number; comm?: string; idx?: number; val?: number } = {},
): Buffer {
  const dataBytes = 24; // the event_data union: its largest members (exit, comm) are 24 bytes
  const cnLen = 16 + dataBytes;
  const buf = Buffer.alloc(EV + cnLen);
  buf.writeUInt32LE(buf.length, 0);
  buf.writeUInt16LE(3, 4); // NLMSG_DONE, as the kernel's connector sends
  buf.writeUInt32LE(opts.idx ?? CN_IDX_PROC, HDR);
  buf.writeUInt32LE(opts.val ?? CN_VAL_PROC, HDR + 4);
  buf.writeUInt32LE(opts.seq ?? 0, HDR + 8);
  buf.writeUInt32LE(opts.ack ?? (what === PROC_EVENT.NONE ? 1 : 0), HDR + 12);
  buf.writeUInt16LE(cnLen, HDR + 16);
  buf.writeUInt32LE(what >>> 0, EV);
  buf.writeUInt32LE(opts.cpu ?? 0, EV + 4);
  data.forEach((d, i) => buf.writeUInt32LE(d >>> 0, DATA + i * 4));
  if (opts.comm !== undefined) buf.write(opts.comm.slice(0, 15), DATA + 8, 'latin1');
  return buf;
}

/**
 * UDP_CHECK, after keepalived's check_udp.c and layer4.c: send one datagram (`payload`, else 32
 * random bytes) on a connected socket, then
 * - an ICMP unreachable (ECONNREFUSED on the connected socket, or EHOSTUNREACH/ENETUNREACH)
 *   fails with 'unreachable';
 * - without `requireReply`, any reply passes, and so does the deadline passing quietly
 *   (keepalived: "Handle Read timeout, we consider it success unless require_reply is set");
 * - with `requireReply`, the first reply decides: its length must lie within
 *   [minReplyLength, maxReplyLength] and its first min(len, pattern length) bytes must match the
 *   pattern (X nibbles are wildcards); a mismatch fails with 'protocol', no reply by the
 *   deadline with 'timeout'. (keepalived checks the lengths only when a pattern is given; the
 *   man page says whenever require_reply is set, which is what this does.)
 */
import { randomBytes } from 'node:crypto';

import type { Probe, ProbeResult, ProbeSpec } from '../types.js';
import { connectUdp, describeError, fail, ok, reasonFor, runAttempt } from './common.js';

type UdpSpec = Extract<ProbeSpec, { kind: 'UDP_CHECK' }>;

/** Random payload size when none is configured. */
export const RANDOM_PAYLOAD_BYTES = 32;

export interface HexPattern {
  data: Buffer;
  /** Bits that must match (0 where the pattern has an X nibble). */
  care: Buffer;
}

/**
 * keepalived's read_hex_str: blank-separated groups of hex digits, read two at a time from the
 * left; a group's odd last digit is a byte of its own (`Ab12f 3 456` → AB 12 0F 03 45 06).
 * With `wildcards`, X/x is a nibble that matches anything.
 */
export function parseHexPattern(text: string, wildcards: boolean): HexPattern {
  const data: number[] = [];
  const care: number[] = [];
  const nib = (c: string): [number, number] => {
    if (/[0-9a-fA-F]/.test(c)) return [parseInt(c, 16), 0xf];
    if (wildcards && (c === 'x' || c === 'X')) return [0, 0];
    throw new SyntaxError(`invalid hex digit ${JSON.stringify(c)} in ${JSON.stringify(text)}`);
  };
  for (const group of text.trim().split(/\s+/)) {
    if (group === '') continue;
    for (let i = 0; i < group.length; i += 2) {
      const hi = group[i] as string;
      const lo = group[i + 1];
      if (lo === undefined) {
        const [v, m] = nib(hi);
        data.push(v);
        care.push(0xf0 | m);
      } else {
        const [hv, hm] = nib(hi);
        const [lv, lm] = nib(lo);
        data.push((hv << 4) | lv);
        care.push((hm << 4) | lm);
      }
    }
  }
  return { data: Buffer.from(data), care: Buffer.from(care) };
}

/** keepalived check_udp_reply, inverted: undefined when the reply is acceptable, else why not. */
export function checkUdpReply(reply: Buffer, pattern: HexPattern | undefined, min: number, max: number): string | undefined {
  if (reply.length < min || reply.length > max) return `reply of ${reply.length} bytes outside ${min}..${max}`;
  if (!pattern) return undefined;
  const n = Math.min(reply.length, pattern.data.length);
  for (let i = 0; i < n; i++) {
    const care = pattern.care[i] ?? 0xff;
    if (((reply[i] ?? 0) ^ (pattern.data[i] ?? 0)) & care) {
      return `reply byte ${i} is 0x${(reply[i] ?? 0).toString(16).padStart(2, '0')}, pattern wants 0x${(pattern.data[i] ?? 0).toString(16).padStart(2, '0')}${care !== 0xff ? ` (mask 0x${care.toString(16).padStart(2, '0')})` : ''}`;
    }
  }
  return undefined;
}

export const udpProbe: Probe = (spec, signal) => {
  if (spec.kind !== 'UDP_CHECK') return Promise.resolve(fail('error', `udp probe cannot run ${spec.kind}`));
  return probeUdp(spec, signal);
};

function probeUdp(spec: UdpSpec, signal: AbortSignal): Promise<ProbeResult> {
  let payload: Buffer;
  let pattern: HexPattern | undefined;
  try {
    payload = spec.payload !== undefined && spec.payload.trim() !== '' ? parseHexPattern(spec.payload, false).data : randomBytes(RANDOM_PAYLOAD_BYTES);
    if (spec.requireReply !== undefined && spec.requireReply.trim() !== '') pattern = parseHexPattern(spec.requireReply, true);
  } catch (e) {
    return Promise.resolve(fail('error', describeError(e)));
  }
  const requireReply = spec.requireReply !== undefined;
  const where = `${spec.address} port ${spec.port}`;

  return runAttempt({ timeoutMs: spec.timeoutMs, signal, phase: `sending to ${where}` }, (a) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      if (e.code === 'ECONNREFUSED') a.finish(fail('unreachable', `ICMP port unreachable from ${where}`));
      else a.finish(fail(reasonFor(e), describeError(e)));
    };
    const sock = connectUdp(a, spec, onError, (s) => {
      s.send(payload, (e) => {
        if (e) {
          onError(e);
          return;
        }
        a.phase = `waiting for ${requireReply ? 'a reply' : 'a reply or an ICMP error'} from ${where}`;
        if (!requireReply) a.onDeadline = () => ok(`no ICMP error from ${where} within the deadline`);
      });
    });
    sock.on('message', (msg) => {
      if (!requireReply) {
        a.finish(ok(`reply of ${msg.length} bytes from ${where}`));
        return;
      }
      const why = checkUdpReply(msg, pattern, spec.minReplyLength, spec.maxReplyLength);
      a.finish(why === undefined ? ok(`matching reply of ${msg.length} bytes from ${where}`) : fail('protocol', why));
    });
  });
}

/**
 * PING_CHECK: one ICMP / ICMPv6 echo request, passing on the matching echo reply.
 *
 * Choice: a raw ICMP socket through the in-repo native addon (src/net/raw-socket.ts), not the
 * `ping` npm package and not keepalived's unprivileged ICMP datagram socket:
 * - Node has no ICMP sockets at all; the addon is already needed for VRRP and the daemon already
 *   runs with CAP_NET_RAW, so this adds no privilege. (Datagram ICMP sockets would also need
 *   net.ipv4.ping_group_range widened, as keepalived does; the default "1 0" allows nobody.)
 * - The `ping` package spawns /usr/bin/ping and cannot be cancelled: a probe could not settle at
 *   the deadline without leaving the child running, iputils' -w takes whole seconds only, and
 *   the package overwrites process.env.LANG for the whole daemon (Object.assign(process.env, …)).
 * - Closing the socket is the whole cleanup, so an abort settles at once and leaves nothing.
 *
 * bind_if (SO_BINDTODEVICE) and bindto bind the socket, and fwmark (SO_MARK) marks the requests,
 * like the other probes' sockets (keepalived 2.2.7 applies none of them to its ICMP socket).
 *
 * Matching: echo reply (type 0 / 129) from the target with our random identifier, sequence and
 * payload tag. An ICMP destination unreachable or time exceeded quoting our request fails with
 * 'unreachable', as does a send error such as ENETUNREACH. Every raw ICMP socket sees every ICMP
 * packet of the host, so concurrent probes each filter for their own identifier.
 */
import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';

import { RawIpSocket, type RawMessage } from '../../net/raw-socket.js';
import { canonicalIp as canonicalIp6 } from '../../vocab/ip.js';
import type { Probe, ProbeResult, ProbeSpec } from '../types.js';
import { connectHost, describeError, fail, ok, reasonFor, runAttempt, stripZone } from './common.js';

type PingSpec = Extract<ProbeSpec, { kind: 'PING_CHECK' }>;

const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
const ECHO_REQUEST4 = 8;
const ECHO_REPLY4 = 0;
const UNREACH4 = 3;
const TIME_EXCEEDED4 = 11;
const ECHO_REQUEST6 = 128;
const ECHO_REPLY6 = 129;
const UNREACH6 = 1;
const TIME_EXCEEDED6 = 3;
/** Echo payload size (as ping's default 56 bytes). */
export const PING_PAYLOAD_BYTES = 56;

/** Internet checksum (RFC 1071). */
export function inetChecksum(buf: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += ((buf[i] ?? 0) << 8) | (buf[i + 1] ?? 0);
  if (buf.length % 2) sum += (buf[buf.length - 1] ?? 0) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An echo request. IPv4 carries its checksum; for ICMPv6 the kernel fills it in. */
export function buildEchoRequest(family: 4 | 6, id: number, seq: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(8 + payload.length);
  b[0] = family === 4 ? ECHO_REQUEST4 : ECHO_REQUEST6;
  b[1] = 0;
  b.writeUInt16BE(id & 0xffff, 4);
  b.writeUInt16BE(seq & 0xffff, 6);
  payload.copy(b, 8);
  if (family === 4) b.writeUInt16BE(inetChecksum(b), 2);
  return b;
}

/** Canonical text of an IP address (for comparing with what the kernel reports). */
export function canonicalIp(addr: string): string {
  return canonicalIp6(stripZone(addr)) ?? addr;
}

export type EchoVerdict = { kind: 'reply' } | { kind: 'error'; type: number; code: number } | undefined;

/** Classifies one received ICMP message (IPv4: IP header already stripped) for our request. */
export function classifyIcmp(family: 4 | 6, data: Buffer, id: number, seq: number, tag: Buffer): EchoVerdict {
  if (data.length < 8) return undefined;
  const type = data[0];
  const ours = (icmp: Buffer, reqType: number): boolean =>
    icmp.length >= 8 && icmp[0] === reqType && icmp.readUInt16BE(4) === id && icmp.readUInt16BE(6) === seq;
  const isOurReply = (icmp: Buffer): boolean =>
    icmp.readUInt16BE(4) === id && icmp.readUInt16BE(6) === seq && icmp.subarray(8, 8 + tag.length).equals(tag);
  if (family === 4) {
    if (type === ECHO_REPLY4) return isOurReply(data) ? { kind: 'reply' } : undefined;
    if (type === UNREACH4 || type === TIME_EXCEEDED4) {
      const inner = data.subarray(8);
      if (inner.length < 20) return undefined;
      const ihl = ((inner[0] ?? 0) & 0x0f) * 4;
      if ((inner[9] ?? 0) !== IPPROTO_ICMP) return undefined;
      return ours(inner.subarray(ihl), ECHO_REQUEST4) ? { kind: 'error', type, code: data[1] ?? 0 } : undefined;
    }
    return undefined;
  }
  if (type === ECHO_REPLY6) return isOurReply(data) ? { kind: 'reply' } : undefined;
  if (type === UNREACH6 || type === TIME_EXCEEDED6) {
    const inner = data.subarray(8);
    if (inner.length < 48 || (inner[6] ?? 0) !== IPPROTO_ICMPV6) return undefined;
    return ours(inner.subarray(40), ECHO_REQUEST6) ? { kind: 'error', type, code: data[1] ?? 0 } : undefined;
  }
  return undefined;
}

function icmpErrorText(family: 4 | 6, type: number, code: number): string {
  if (family === 4) return type === UNREACH4 ? `ICMP destination unreachable (code ${code})` : `ICMP time exceeded (code ${code})`;
  return type === UNREACH6 ? `ICMPv6 destination unreachable (code ${code})` : `ICMPv6 time exceeded (code ${code})`;
}

export const pingProbe: Probe = (spec, signal) => {
  if (spec.kind !== 'PING_CHECK') return Promise.resolve(fail('error', `ping probe cannot run ${spec.kind}`));
  return probePing(spec, signal);
};

function probePing(spec: PingSpec, signal: AbortSignal): Promise<ProbeResult> {
  const dst = connectHost(spec);
  const fam = net.isIP(stripZone(dst));
  if (fam !== 4 && fam !== 6) return Promise.resolve(fail('error', `PING_CHECK needs an IP address, got ${JSON.stringify(spec.address)}`));
  const family: 4 | 6 = fam;
  const want = canonicalIp(dst);
  const id = randomInt(0, 0x10000);
  const seq = randomInt(0, 0x10000);
  const payload = Buffer.concat([randomBytes(16), Buffer.alloc(PING_PAYLOAD_BYTES - 16, 0x5a)]);
  const tag = payload.subarray(0, 16);
  const packet = buildEchoRequest(family, id, seq, payload);

  return runAttempt({ timeoutMs: spec.timeoutMs, signal, phase: `pinging ${spec.address}` }, (a) => {
    let sock: RawIpSocket;
    try {
      const opts: Parameters<typeof RawIpSocket.open>[0] = { family, protocol: family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6 };
      if (spec.fwmark !== undefined && spec.fwmark !== 0) opts.mark = spec.fwmark;
      if (spec.bindIf !== undefined) opts.device = spec.bindIf;
      if (spec.bindto !== undefined) opts.bindAddress = spec.bindto;
      sock = RawIpSocket.open(opts);
    } catch (e) {
      a.finish(fail('error', `cannot open a raw ICMP socket: ${describeError(e)}`));
      return;
    }
    a.defer(() => sock.close());
    if (family === 6) sock.setIcmp6Filter([ECHO_REPLY6, UNREACH6, TIME_EXCEEDED6]);
    sock.onError((e) => a.finish(fail(reasonFor(e), describeError(e))));
    sock.onMessage((m: RawMessage) => {
      const v = classifyIcmp(family, m.data, id, seq, tag);
      if (v === undefined) return;
      if (v.kind === 'reply') {
        if (canonicalIp(m.src) !== want) return;
        a.finish(ok(`echo reply from ${spec.address}`));
      } else {
        a.finish(fail('unreachable', `${icmpErrorText(family, v.type, v.code)} from ${m.src} for ${spec.address}`));
      }
    });
    try {
      if (!sock.send(packet, dst)) {
        a.finish(fail('error', `sending the echo request to ${spec.address} would block`));
        return;
      }
    } catch (e) {
      a.finish(fail(reasonFor(e), describeError(e)));
      return;
    }
    a.phase = `waiting for the echo reply from ${spec.address}`;
  });
}

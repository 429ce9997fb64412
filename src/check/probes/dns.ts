/**
 * DNS_CHECK: one UDP query built by hand like keepalived's dns_make_query (random ID, RD set,
 * one question of `type` for `name`, class IN) on a connected socket. A reply with another ID
 * or without QR is ignored (keepalived keeps reading); the first reply with our ID and QR=1
 * decides: RCODE 0 passes, anything else fails with 'status'. An ICMP port unreachable
 * (ECONNREFUSED on the connected socket) fails with 'unreachable'.
 */
import { randomInt } from 'node:crypto';

import type { DnsType, Probe, ProbeResult, ProbeSpec } from '../types.js';
import { connectUdp, describeError, fail, ok, reasonFor, runAttempt } from './common.js';

type DnsSpec = Extract<ProbeSpec, { kind: 'DNS_CHECK' }>;

export const DNS_TYPES: Readonly<Record<DnsType, number>> = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  RRSIG: 46,
  DNSKEY: 48,
};

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

export function rcodeName(rcode: number): string {
  return RCODES[rcode] ?? `RCODE${rcode}`;
}

/** Encodes a query: 12-byte header (ID, flags RD, QDCOUNT 1), QNAME, QTYPE, QCLASS IN. */
export function buildDnsQuery(id: number, name: string, type: DnsType): Buffer {
  const labels = name === '.' ? [] : name.split('.').filter((l, i, all) => l !== '' || i < all.length - 1);
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id & 0xffff, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  parts.push(header);
  for (const l of labels) {
    const b = Buffer.from(l, 'utf8');
    if (b.length === 0 || b.length > 63) throw new RangeError(`DNS name ${JSON.stringify(name)} has a label of ${b.length} bytes`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(DNS_TYPES[type], 0);
  tail.writeUInt16BE(1, 2); // IN
  parts.push(tail);
  return Buffer.concat(parts);
}

export interface DnsReplyHeader {
  id: number;
  qr: boolean;
  rcode: number;
  ancount: number;
}

/** The header of a reply, or undefined if shorter than 12 bytes. */
export function parseDnsHeader(buf: Buffer): DnsReplyHeader | undefined {
  if (buf.length < 12) return undefined;
  const flags = buf.readUInt16BE(2);
  return { id: buf.readUInt16BE(0), qr: (flags & 0x8000) !== 0, rcode: flags & 0x000f, ancount: buf.readUInt16BE(6) };
}

export const dnsProbe: Probe = (spec, signal) => {
  if (spec.kind !== 'DNS_CHECK') return Promise.resolve(fail('error', `dns probe cannot run ${spec.kind}`));
  return probeDns(spec, signal);
};

function probeDns(spec: DnsSpec, signal: AbortSignal): Promise<ProbeResult> {
  const id = randomInt(0, 0x10000);
  let query: Buffer;
  try {
    query = buildDnsQuery(id, spec.name, spec.type);
  } catch (e) {
    return Promise.resolve(fail('error', describeError(e)));
  }
  return runAttempt({ timeoutMs: spec.timeoutMs, signal, phase: `querying ${spec.address} port ${spec.port}` }, (a) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      if (e.code === 'ECONNREFUSED') a.finish(fail('unreachable', `ICMP port unreachable from ${spec.address} port ${spec.port}`));
      else a.finish(fail(reasonFor(e), describeError(e)));
    };
    const sock = connectUdp(a, spec, onError, (s) => {
      a.phase = `waiting for the reply from ${spec.address} port ${spec.port}`;
      s.send(query, (e) => {
        if (e) onError(e);
      });
    });
    sock.on('message', (msg) => {
      const h = parseDnsHeader(msg);
      if (!h || h.id !== id || !h.qr) return;
      if (h.rcode !== 0) a.finish(fail('status', `DNS ${spec.type} ${spec.name}: rcode ${h.rcode} (${rcodeName(h.rcode)})`));
      else a.finish(ok(`DNS ${spec.type} ${spec.name}: NOERROR, ${h.ancount} answer${h.ancount === 1 ? '' : 's'}`));
    });
  });
}

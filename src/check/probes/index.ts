/**
 * The probes: one module per checker kind, each a `Probe` for its kinds, and `runProbe`, which
 * dispatches on `spec.kind`. Every probe settles by the deadline (`signal`, and the spec's own
 * timeoutMs where it has one), cleans up its socket or child, and never throws or rejects.
 */
import type { Probe, ProbeKind } from '../types.js';
import { fail, message } from './common.js';
import { dnsProbe } from './dns.js';
import { fileProbe } from './file.js';
import { httpProbe } from './http.js';
import { miscProbe } from './misc.js';
import { pingProbe } from './ping.js';
import { smtpProbe } from './smtp.js';
import { tcpProbe } from './tcp.js';
import { udpProbe } from './udp.js';

export { dnsProbe, fileProbe, httpProbe, miscProbe, pingProbe, smtpProbe, tcpProbe, udpProbe };

export const PROBES: Readonly<Record<ProbeKind, Probe>> = {
  TCP_CHECK: tcpProbe,
  HTTP_GET: httpProbe,
  SSL_GET: httpProbe,
  SMTP_CHECK: smtpProbe,
  DNS_CHECK: dnsProbe,
  UDP_CHECK: udpProbe,
  PING_CHECK: pingProbe,
  MISC_CHECK: miscProbe,
  FILE_CHECK: fileProbe,
};

export const runProbe: Probe = async (spec, signal) => {
  const probe = (PROBES as Partial<Record<string, Probe>>)[spec.kind];
  if (!probe) return fail('error', `no probe for check kind ${JSON.stringify((spec as { kind: unknown }).kind)}`);
  try {
    return await probe(spec, signal);
  } catch (e) {
    return fail('error', `probe ${spec.kind} threw: ${message(e)}`);
  }
};

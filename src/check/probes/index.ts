/**
 * The probes: one module per checker kind, each a `Probe` for its kinds, and `runProbe`, which
 * dispatches on `spec.kind`. Every probe settles by the deadline (`signal`, and the spec's own
 * timeoutMs where it has one), cleans up its socket or child, and never throws or rejects.
 */
import type { DirectProbe, Probe, ProbeKind } from '../types.js';
import { fail, message } from './common.js';
import { dnsProbe } from './dns.js';
import { fileProbe } from './file.js';
import { httpDirect, httpProbe } from './http.js';
import { miscProbe } from './misc.js';
import { pingProbe } from './ping.js';
import { smtpProbe } from './smtp.js';
import { tcpDirect, tcpProbe } from './tcp.js';
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

/** Per kind, once: what a probe that rejects settles with instead (no closure per check). */
const rejectedAs = new Map<string, (e: unknown) => ReturnType<typeof fail>>();
function onRejected(kind: string): (e: unknown) => ReturnType<typeof fail> {
  let f = rejectedAs.get(kind);
  if (f === undefined) {
    f = (e: unknown) => fail('error', `probe ${kind} threw: ${message(e)}`);
    rejectedAs.set(kind, f);
  }
  return f;
}

// Not an async function: at 10,000 checks a second its promise, await and frame were a third of
// everything a TCP_CHECK allocated (~1 KB of ~3.2 KB per check).
export const runProbe: Probe = (spec, signal) => {
  const probe = (PROBES as Partial<Record<string, Probe>>)[spec.kind];
  if (!probe) return Promise.resolve(fail('error', `no probe for check kind ${JSON.stringify((spec as { kind: unknown }).kind)}`));
  try {
    return probe(spec, signal).then(undefined, onRejected(spec.kind));
  } catch (e) {
    return Promise.resolve(onRejected(spec.kind)(e));
  }
};

/**
 * The checks the scheduler can run without a promise per attempt (SchedulerOptions.direct):
 * TCP_CHECK and plain HTTP_GET to an IP address on the addon. Every other spec (start() says -1)
 * goes to runProbe.
 */
const DIRECT: Partial<Record<string, DirectProbe>> = { TCP_CHECK: tcpDirect, HTTP_GET: httpDirect };

export const runDirect: DirectProbe = {
  start(spec, sink) {
    const d = DIRECT[spec.kind];
    return d === undefined ? -1 : d.start(spec, sink);
  },
  expire(handle, spec, timeoutMs) {
    return (DIRECT[spec.kind] as DirectProbe).expire(handle, spec, timeoutMs);
  },
  cancel(handle) {
    // A handle is the connector's, unique across both: HTTP lets go of its exchange (if it is
    // one of its own), then the connection is closed (a no-op if that already did).
    httpDirect.cancel(handle);
    tcpDirect.cancel(handle);
  },
};

/**
 * HTTP_GET and SSL_GET, written directly over net/tls sockets so that the request bytes are
 * exactly keepalived's (see buildHttpRequest) and the whole exchange (connect, TLS handshake,
 * request, header and body) lives under one deadline: a body that trickles in slower than
 * connect_timeout fails with 'timeout' (keepalived issue #1822).
 *
 * Checks, in keepalived's order: status code within `statusCodes` (default 200-299; checked as
 * soon as the header block is in), then the MD5 `digest` of the body, then `regex`
 * (`regexNoMatch` inverts it). Differences from keepalived, on purpose:
 * - The body ends at Content-Length or at the last chunk, not only at EOF.
 * - The digest matches the MD5 of the raw body bytes (keepalived/genhash, chunk framing
 *   included) or of the decoded body; the two differ only for chunked responses.
 * - `regex` is a JavaScript RegExp (keepalived uses PCRE2), matched against the decoded body
 *   (first 1 MiB); regex_options / regex_min_offset / regex_max_offset are not supported.
 * - TLS: no verification unless `verifyTls`; then the chain is verified against the system CAs,
 *   and the host name only when `sni` is set (it is checked against `sni`).
 * - `fwmark` (SO_MARK) and `bindIf` other than for IPv6 link-local zones are not applied.
 *
 * Plain HTTP to an IP address runs on the addon's TcpConnector (native-connector.ts): the
 * request goes out in one write and each chunk of the response comes back for the same parser.
 */
import net from 'node:net';
import tls from 'node:tls';

import type { Probe, ProbeResult, ProbeSpec } from '../types.js';
import { closeInBackground, describeError, fail, message, ok, reasonFor, runAttempt, tcpConnectOptions } from './common.js';
import { buildHttpRequest, HttpProtocolError, HttpResponseReader, statusAccepted } from './http-response.js';
import { DATA, END, ERROR, errnoError, nativeConnections, nativeTarget, SENT } from './native-connector.js';

type HttpProbeSpec = Extract<ProbeSpec, { kind: 'HTTP_GET' | 'SSL_GET' }>;

export const httpProbe: Probe = (spec, signal) => {
  if (spec.kind !== 'HTTP_GET' && spec.kind !== 'SSL_GET') return Promise.resolve(fail('error', `http probe cannot run ${spec.kind}`));
  return probeHttp(spec, signal);
};

function rangesText(r: readonly (readonly [number, number])[]): string {
  if (r.length === 0) return '200-299';
  return r.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(',');
}

/** The request bytes per spec (plans are long-lived), built once; both transports write them. */
const requests = new WeakMap<HttpProbeSpec, Buffer>();

function probeHttp(spec: HttpProbeSpec, signal: AbortSignal): Promise<ProbeResult> {
  let regex: RegExp | undefined;
  if (spec.url.regex !== undefined) {
    try {
      regex = new RegExp(spec.url.regex);
    } catch (e) {
      return Promise.resolve(fail('error', `invalid regex ${JSON.stringify(spec.url.regex)}: ${message(e)}`));
    }
  }
  const digest = spec.url.digest?.toLowerCase();
  const secure = spec.kind === 'SSL_GET';
  let request = requests.get(spec);
  if (request === undefined) {
    request = Buffer.from(buildHttpRequest(spec));
    requests.set(spec, request);
  }
  const where = `${spec.address} port ${spec.port}`;

  // Plain HTTP to an IP address goes through the addon (no net.Socket per check); TLS and
  // host names through tls / net.
  const target = secure ? undefined : nativeTarget(spec);
  const conn = target !== undefined ? nativeConnections() : undefined;

  return runAttempt({ timeoutMs: spec.timeoutMs, signal, phase: `connecting to ${where}` }, (a) => {
    const reader = new HttpResponseReader({ digest: digest !== undefined, keepBody: regex !== undefined });
    let statusChecked = false;
    let completed = false;
    let received = 0;
    // set by the transport below: close after a success (politely, in the background) or at once
    let closePolitely: () => void = () => undefined;

    const complete = (result: ProbeResult): void => {
      if (completed) return;
      completed = true;
      // Settle now; on success the FIN exchange goes on in the background (not part of the
      // check's latency); on failure the attempt's cleanup closes the connection at once.
      if (result.ok) closePolitely();
      a.finish(result);
    };

    const verdict = (): ProbeResult => {
      const status = reader.status ?? 0;
      const notes = [`HTTP ${status}`];
      if (reader.truncated) notes.push(`body truncated at ${reader.decodedBytes} bytes`);
      if (digest !== undefined) {
        const d = reader.digests();
        if (!d || (d.raw !== digest && d.body !== digest)) {
          const got = d === undefined ? 'none' : d.raw === d.body ? d.body : `${d.body} (raw ${d.raw})`;
          return fail('digest', `MD5 digest ${got} does not match ${digest}; ${notes.join(', ')}`);
        }
        notes.push('digest ok');
      }
      if (regex !== undefined) {
        const matched = regex.test(reader.bodyText());
        if (matched === Boolean(spec.url.regexNoMatch)) {
          return fail('regex', `body ${matched ? 'matches' : 'does not match'} ${String(regex)}${spec.url.regexNoMatch ? ' (regex_no_match)' : ''}; ${notes.join(', ')}`);
        }
        notes.push(spec.url.regexNoMatch ? 'regex absent' : 'regex ok');
      }
      return ok(notes.join(', '));
    };

    const progress = (): void => {
      if (completed || !reader.headComplete) return;
      if (!statusChecked) {
        statusChecked = true;
        const status = reader.status ?? 0;
        if (!statusAccepted(status, spec.url.statusCodes)) {
          complete(fail('status', `HTTP status ${status} not in ${rangesText(spec.url.statusCodes)} (${reader.statusLine.slice(0, 120)})`));
          return;
        }
        a.phase = 'reading the response body';
      }
      if (reader.done) complete(verdict());
    };

    const onError = (e: unknown): void => {
      if (completed) return;
      complete(fail(reasonFor(e), `${describeError(e)} (while ${a.phase})`));
    };
    const onData = (d: Buffer): void => {
      if (completed) return;
      received += d.length;
      try {
        reader.push(d);
      } catch (e) {
        complete(fail('protocol', e instanceof HttpProtocolError ? e.message : message(e)));
        return;
      }
      progress();
    };
    const onEnd = (): void => {
      if (completed) return;
      reader.end();
      if (!reader.headComplete) {
        complete(fail('protocol', received === 0 ? 'connection closed without a response' : `connection closed after ${received} bytes, before the end of the response header`));
        return;
      }
      progress();
    };

    if (conn !== undefined && target !== undefined) {
      let id: number;
      try {
        id = conn.open(target.family, target.host, spec.port, spec.bindto ?? '', spec.bindPort ?? 0, request, (event, errno, data) => {
          if (event === SENT) a.phase = 'waiting for the response header';
          else if (event === DATA) onData(data!);
          else if (event === END) onEnd();
          else if (event === ERROR) onError(errnoError(errno, a.phase === `connecting to ${where}` ? 'connect' : 'read'));
        });
      } catch (e) {
        onError(e);
        return;
      }
      closePolitely = () => conn.finish(id);
      a.defer(() => conn.cancel(id)); // a no-op after finish()
      return;
    }

    const base = tcpConnectOptions(spec);
    let sock: net.Socket;
    if (secure) {
      const o: tls.ConnectionOptions = { ...base, rejectUnauthorized: spec.verifyTls };
      if (spec.sni) o.servername = spec.sni;
      else if (spec.verifyTls) o.checkServerIdentity = () => undefined;
      sock = tls.connect(o);
    } else {
      sock = net.connect(base);
    }
    let closing = false;
    closePolitely = () => {
      closing = true;
      closeInBackground(sock);
    };
    // Unless it is already closing gracefully (success), the socket goes when the attempt ends.
    a.defer(() => {
      if (!closing) sock.destroy();
    });
    sock.on('error', onError);
    if (secure) sock.once('connect', () => (a.phase = 'in the TLS handshake'));
    sock.once(secure ? 'secureConnect' : 'connect', () => {
      a.phase = 'sending the request';
      sock.write(request);
      a.phase = 'waiting for the response header';
    });
    sock.on('data', onData);
    sock.on('end', onEnd);
  });
}

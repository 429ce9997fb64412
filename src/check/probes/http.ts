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
 * - `regex` is a JavaScript RegExp (keepalived uses PCRE2) with keepalived's regex_options,
 *   regex_min_offset and regex_max_offset as far as JavaScript can honour them (http-regex.ts),
 *   matched against the decoded body (first 1 MiB).
 * - TLS: the SSL block's certificate and key are presented (as keepalived). keepalived verifies
 *   nothing, even with the SSL block's `ca` (it loads it but never asks OpenSSL to verify), and
 *   neither does vipkeeper unless `verifyTls`; then the chain is verified against that `ca` (the
 *   system CAs without one), and the host name only when `sni` is set (checked against `sni`).
 * - TLS close: keepalived 2.2.7 shuts TLS down quietly (no close_notify, the TCP connection just
 *   closes), and so does vipkeeper; with `tlsCompliant` (keepalived 2.3's tls_compliant) a
 *   close_notify alert goes first, also after a response that fails the status, digest or regex
 *   (a timeout or a broken session still just closes).
 * - `fwmark` (SO_MARK) and `bindIf` (SO_BINDTODEVICE) are set on the socket before bind and
 *   connect, as keepalived does; SSL_GET's TLS runs over that socket.
 *
 * Plain HTTP to an IP address runs on the addon's TcpConnector (native-connector.ts): the
 * request goes out in one write and each chunk of the response comes back for the same parser.
 * The scheduler runs those through `httpDirect`, without a promise or a timer per attempt.
 * Without a digest or a regex the addon judges the response itself when its head comes in one
 * read and is plain (native/src/http_head.cc, held to HttpResponseReader by a property test):
 * the status against the ranges, the body counted to Content-Length or the server's FIN. JS then
 * gets one event and makes no object for the check; anything else comes back as DATA.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

import type { DirectProbe, Probe, ProbeResult, ProbeSink, ProbeSpec, TlsClient } from '../types.js';
import { closeInBackground, connectTcp, describeError, fail, message, needsProbeSocket, ok, reasonFor, runAttempt, tcpConnectOptions } from './common.js';
import { BodyRegex } from './http-regex.js';
import { buildHttpRequest, HttpProtocolError, HttpResponseReader, statusAccepted, statusCodeOfLine } from './http-response.js';
import {
  DATA,
  END,
  ERROR,
  errnoError,
  HTTP_OK,
  HTTP_REJECTED,
  nativeConnections,
  nativeTarget,
  type ConnectionListener,
  type NativeTargetHandle,
} from './native-connector.js';

type HttpProbeSpec = Extract<ProbeSpec, { kind: 'HTTP_GET' | 'SSL_GET' }>;

export const httpProbe: Probe = (spec, signal) => {
  if (spec.kind !== 'HTTP_GET' && spec.kind !== 'SSL_GET') return Promise.resolve(fail('error', `http probe cannot run ${spec.kind}`));
  return probeHttp(spec, signal);
};

function rangesText(r: readonly (readonly [number, number])[]): string {
  if (r.length === 0) return '200-299';
  return r.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(',');
}

/** The system call an ERROR in that state came from. */
function syscallOfState(state: number): string {
  return state === 1 ? 'send' : state >= 2 ? 'read' : 'connect';
}

/** The phase a connector's state() names (see NativeConnections.state). */
function phaseOfState(state: number, connecting: string): string {
  return state === 1 ? 'sending the request' : state === 2 ? 'waiting for the response header' : state === 3 ? 'reading the response body' : connecting;
}

/**
 * Per spec (plans are long-lived), built once: the request bytes both transports write, the
 * texts, the regex, the connector's target. Also the listener of the plain checks the addon
 * judges (the context is the scheduler's attempt), so that those make no object of their own.
 */
class HttpStatic implements ConnectionListener<ProbeSink> {
  readonly request: Buffer;
  readonly where: string;
  readonly connecting: string;
  readonly digest: string | undefined;
  readonly regex: BodyRegex | undefined;
  readonly regexError: string | undefined;
  readonly secure: boolean;
  /** No digest and no regex: the addon may judge the response (with these status ranges). */
  readonly plain: boolean;
  /** undefined: not looked up yet; null: no native path (TLS, a host name, or no addon). */
  private nativeTarget: NativeTargetHandle | null | undefined;

  constructor(readonly spec: HttpProbeSpec) {
    this.request = Buffer.from(buildHttpRequest(spec));
    this.where = `${spec.address} port ${spec.port}`;
    this.connecting = `connecting to ${this.where}`;
    this.digest = spec.url.digest?.toLowerCase();
    this.secure = spec.kind === 'SSL_GET';
    if (spec.url.regex !== undefined) {
      try {
        const u = spec.url;
        this.regex = new BodyRegex({
          pattern: u.regex!,
          ...(u.regexOptions ? { options: u.regexOptions } : {}),
          ...(u.regexMinOffset !== undefined ? { minOffset: u.regexMinOffset } : {}),
          ...(u.regexMaxOffset !== undefined ? { maxOffset: u.regexMaxOffset } : {}),
        });
      } catch (e) {
        this.regexError = `invalid regex ${JSON.stringify(spec.url.regex)}: ${message(e)}`;
      }
    }
    this.plain = this.digest === undefined && spec.url.regex === undefined;
  }

  /** The result of the addon's verdict event (HTTP_OK, HTTP_REJECTED), as HttpExchange.verdict would give it. */
  judged(event: number, value: number, statusLine: Buffer | undefined, extra: number): ProbeResult {
    if (event === HTTP_OK) return extra < 0 ? this.okStatus(value) : ok(`HTTP ${value}, body truncated at ${extra} bytes`);
    const line = statusLine!;
    return fail('status', `HTTP status ${statusCodeOfLine(line)} not in ${rangesText(this.spec.url.statusCodes)} (${line.toString('latin1').slice(0, 120)})`);
  }

  /** A plain check's events (the addon judges it, or hands it over at its first DATA). */
  onConnection(sink: ProbeSink, event: number, value: number, data: Buffer | undefined, extra: number, handle: number): void {
    if (event === HTTP_OK || event === HTTP_REJECTED) {
      sink.settle(this.judged(event, value, data, extra));
    } else if (event === DATA) {
      // not plain after all: an exchange parses it from here on, as any other
      const ex = new HttpExchange(this, sink);
      ex.handle = handle;
      nativeConnections()!.rebind(handle, ex, undefined);
      ex.onConnection(undefined, event, value, data);
    } else if (event === END) {
      sink.settle(fail('protocol', 'connection closed without a response'));
    } else if (event === ERROR) {
      const e = errnoError(value, syscallOfState(extra));
      sink.settle(fail(reasonFor(e), `${describeError(e)} (while ${phaseOfState(extra, this.connecting)})`));
    }
  }

  private readonly okByStatus = new Map<number, ProbeResult>();

  /** The plain success (status only), shared per status: most checks end with it. */
  okStatus(status: number): ProbeResult {
    let r = this.okByStatus.get(status);
    if (r === undefined) {
      r = Object.freeze(ok(`HTTP ${status}`));
      this.okByStatus.set(status, r);
    }
    return r;
  }

  private secureContext: tls.SecureContext | undefined;

  /**
   * The SSL block's CA, certificate and key, loaded at the first attempt (start or a reload
   * that changed the check); a failure is retried at the next. The message names the files,
   * never the passphrase.
   */
  tlsContext(): tls.SecureContext | string {
    if (this.secureContext !== undefined) return this.secureContext;
    const c = this.spec.tlsClient as TlsClient;
    const opts: tls.SecureContextOptions = {};
    try {
      if (c.ca !== undefined) opts.ca = readFileSync(c.ca);
      if (c.certificate !== undefined) opts.cert = readFileSync(c.certificate);
      if (c.key !== undefined) opts.key = readFileSync(c.key);
      if (c.password !== undefined) opts.passphrase = c.password;
      this.secureContext = tls.createSecureContext(opts);
    } catch (e) {
      const files = [c.ca && `ca ${c.ca}`, c.certificate && `certificate ${c.certificate}`, c.key && `key ${c.key}`].filter(Boolean).join(', ');
      return `cannot load the SSL block's files (${files}): ${message(e)}`;
    }
    return this.secureContext;
  }

  /** Plain HTTP to an IP address goes through the addon; TLS and host names through tls / net. */
  target(): NativeTargetHandle | undefined {
    if (this.nativeTarget === undefined) {
      const ranges = this.plain ? Int32Array.from(this.spec.url.statusCodes.flat()) : undefined;
      this.nativeTarget = (!this.secure && nativeTarget(this.spec, this.request, ranges)) || null;
    }
    return this.nativeTarget ?? undefined;
  }
}

/** Failures judged on a whole response: the TLS session is intact, so tls_compliant closes it politely (as keepalived 2.3). */
const RESPONSE_FAILURES: ReadonlySet<string> = new Set(['status', 'digest', 'regex']);

const statics = new WeakMap<HttpProbeSpec, HttpStatic>();

function staticsFor(spec: HttpProbeSpec): HttpStatic {
  let s = statics.get(spec);
  if (s === undefined) {
    s = new HttpStatic(spec);
    statics.set(spec, s);
  }
  return s;
}

/**
 * One exchange, on either transport: reads the response and judges it. `report` gets the result
 * once; on success the connection is closed politely in the background (not part of the check's
 * latency), on failure at once.
 */
class HttpExchange implements ConnectionListener<undefined> {
  phase: string;
  completed = false;
  /** The connector's handle (-1: a net / tls socket). */
  handle = -1;
  sock: net.Socket | undefined;
  /** Passed: the socket is closing politely in the background (not to be destroyed). */
  closing = false;
  /** The TLS handshake is done: with tlsCompliant even a failed check closes with close_notify. */
  secured = false;
  private readonly reader: HttpResponseReader;
  private statusChecked = false;
  private received = 0;

  constructor(
    private readonly st: HttpStatic,
    private readonly report: { settle(result: ProbeResult): void },
    /** The promise path's attempt, whose timeout text names the phase. */
    private readonly attempt?: { phase: string },
  ) {
    this.phase = st.connecting;
    this.reader = new HttpResponseReader({ digest: st.digest !== undefined, keepBody: st.regex !== undefined });
  }

  /**
   * What the exchange is doing now. On the connector, connecting and sending are not reported as
   * events (one event fewer per check); the connector is asked when a deadline needs the text.
   */
  currentPhase(): string {
    if (this.handle >= 0 && !this.completed && this.phase === this.st.connecting) {
      const s = nativeConnections()?.state(this.handle) ?? -1;
      if (s > 0) this.setPhase(phaseOfState(s, this.st.connecting));
    }
    return this.phase;
  }

  setPhase(phase: string): void {
    this.phase = phase;
    if (this.attempt !== undefined) this.attempt.phase = phase;
  }

  complete(result: ProbeResult): void {
    if (this.completed) return;
    this.completed = true;
    if (this.handle >= 0) {
      const conn = nativeConnections()!;
      if (result.ok) conn.finish(this.handle);
      else conn.cancel(this.handle);
    } else if (this.sock !== undefined && (result.ok || (this.secured && this.st.spec.tlsCompliant === true && RESPONSE_FAILURES.has(result.reason)))) {
      this.closing = true;
      // keepalived 2.2.7 closes TLS quietly (no close_notify); end() on a TLS socket sends one
      if (this.st.secure && this.st.spec.tlsCompliant !== true) this.sock.destroy();
      else closeInBackground(this.sock);
    }
    this.report.settle(result);
  }

  /** The attempt ended without a result of ours (deadline, abort): close at once. */
  abandon(): void {
    this.completed = true;
    if (this.handle >= 0) {
      nativeConnections()?.cancel(this.handle);
    } else if (this.sock !== undefined && !this.closing) {
      this.sock.destroy();
    }
  }

  /** The connector's events. */
  onConnection(_ctx: undefined, event: number, errno: number, data: Buffer | undefined, extra = -1): void {
    if (event === DATA) {
      if (this.phase === this.st.connecting) this.setPhase('waiting for the response header');
      this.onData(data!);
    }
    else if (event === END) this.onEnd();
    else if (event === ERROR) {
      // before any DATA JS knows no phase; the addon says where it was
      if (this.phase === this.st.connecting && extra > 0) this.setPhase(phaseOfState(extra, this.st.connecting));
      this.onError(errnoError(errno, syscallOfState(extra)));
    }
    // the promise path's exchange on a plain target: the addon has judged it
    else if (event === HTTP_OK || event === HTTP_REJECTED) this.complete(this.st.judged(event, errno, data, extra));
  }

  onError(e: unknown): void {
    if (this.completed) return;
    this.complete(fail(reasonFor(e), `${describeError(e)} (while ${this.phase})`));
  }

  onData(d: Buffer): void {
    if (this.completed) return;
    this.received += d.length;
    try {
      this.reader.push(d);
    } catch (e) {
      this.complete(fail('protocol', e instanceof HttpProtocolError ? e.message : message(e)));
      return;
    }
    this.progress();
  }

  onEnd(): void {
    if (this.completed) return;
    const reader = this.reader;
    reader.end();
    if (!reader.headComplete) {
      this.complete(
        fail('protocol', this.received === 0 ? 'connection closed without a response' : `connection closed after ${this.received} bytes, before the end of the response header`),
      );
      return;
    }
    this.progress();
  }

  private progress(): void {
    const reader = this.reader;
    if (this.completed || !reader.headComplete) return;
    if (!this.statusChecked) {
      this.statusChecked = true;
      const status = reader.status ?? 0;
      const codes = this.st.spec.url.statusCodes;
      if (!statusAccepted(status, codes)) {
        this.complete(fail('status', `HTTP status ${status} not in ${rangesText(codes)} (${reader.statusLine.slice(0, 120)})`));
        return;
      }
      this.setPhase('reading the response body');
    }
    if (reader.done) this.complete(this.verdict());
  }

  private verdict(): ProbeResult {
    const { reader, st } = this;
    const status = reader.status ?? 0;
    const digest = st.digest;
    if (!reader.truncated && digest === undefined && st.regex === undefined) return st.okStatus(status);
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
    const regex = st.regex;
    if (regex !== undefined) {
      const matched = regex.test(reader.bodyText());
      if (matched === Boolean(st.spec.url.regexNoMatch)) {
        return fail('regex', `body ${matched ? 'matches' : 'does not match'} ${String(regex)}${st.spec.url.regexNoMatch ? ' (regex_no_match)' : ''}; ${notes.join(', ')}`);
      }
      notes.push(st.spec.url.regexNoMatch ? 'regex absent' : 'regex ok');
    }
    return ok(notes.join(', '));
  }
}


/** Starts the exchange on the connector; false if the connect threw (the exchange has failed). */
function openNative(ex: HttpExchange, st: HttpStatic, target: NativeTargetHandle): boolean {
  try {
    ex.handle = nativeConnections()!.open(target, ex, undefined);
  } catch (e) {
    // the socket could not be made, bound (bindto / bind_port) or connected
    ex.onError(e);
    return false;
  }
  return true;
}

/**
 * Plain HTTP_GET for the scheduler without a promise, an AbortSignal or a timer per attempt (the
 * scheduler's deadline expires it). SSL_GET, host names, an invalid regex and no addon: -1, and
 * the scheduler runs httpProbe.
 */
export const httpDirect: DirectProbe = {
  start(spec, sink: ProbeSink) {
    if (spec.kind !== 'HTTP_GET') return -1;
    const st = staticsFor(spec);
    const target = st.regexError === undefined ? st.target() : undefined;
    const conn = nativeConnections();
    if (target === undefined || conn === undefined) return -1;
    if (st.plain) {
      // the addon judges it; its events come to the spec's statics with the attempt as context
      try {
        return conn.open(target, st, sink);
      } catch (e) {
        sink.settle(fail(reasonFor(e), `${describeError(e)} (while ${st.connecting})`));
        return 0;
      }
    }
    const ex = new HttpExchange(st, sink);
    return openNative(ex, st, target) ? ex.handle : 0;
  },
  expire(handle, _spec, timeoutMs) {
    const conn = nativeConnections();
    const l = conn?.listenerOf(handle);
    let phase: string;
    if (l instanceof HttpExchange) {
      phase = l.currentPhase();
      l.abandon();
    } else if (l instanceof HttpStatic) {
      phase = phaseOfState(conn!.state(handle), l.connecting);
      conn!.cancel(handle);
    } else {
      return fail('timeout', `timed out after ${timeoutMs} ms`);
    }
    return fail('timeout', `timed out after ${timeoutMs} ms while ${phase}`);
  },
  cancel(handle) {
    const conn = nativeConnections();
    const l = conn?.listenerOf(handle);
    if (l instanceof HttpExchange) l.abandon();
    else if (l !== undefined) conn!.cancel(handle);
  },
};

function probeHttp(spec: HttpProbeSpec, signal: AbortSignal): Promise<ProbeResult> {
  const st = staticsFor(spec);
  if (st.regexError !== undefined) return Promise.resolve(fail('error', st.regexError));
  const target = st.target();

  return runAttempt({ timeoutMs: spec.timeoutMs, signal, phase: st.connecting }, (a) => {
    const ex = new HttpExchange(st, { settle: (r) => a.finish(r) }, a);
    // the deadline's text names the phase, which the connector knows (not reported as an event)
    if (target !== undefined)
      a.onDeadline = () => {
        ex.currentPhase(); // updates the attempt's phase; the usual timeout result follows
        return undefined;
      };
    // deadline or abort first: closed at once
    a.defer(() => {
      if (!ex.completed) ex.abandon();
    });

    if (target !== undefined && nativeConnections() !== undefined) {
      openNative(ex, st, target);
      return;
    }

    let sock: net.Socket;
    try {
      if (st.secure) {
        const o: tls.ConnectionOptions = { rejectUnauthorized: spec.verifyTls };
        if (spec.tlsClient !== undefined) {
          const ctx = st.tlsContext();
          if (typeof ctx === 'string') {
            ex.complete(fail('error', ctx));
            return;
          }
          o.secureContext = ctx;
        }
        if (spec.sni) o.servername = spec.sni;
        else if (spec.verifyTls) o.checkServerIdentity = () => undefined;
        if (needsProbeSocket(spec)) {
          // TLS over the socket the addon made (marked, bound to bind_if); tls waits for its connect
          const raw = connectTcp(spec);
          // gone with the TLS socket, but not if that never came to be or the attempt ended first
          a.defer(() => {
            if (!ex.closing) raw.destroy();
          });
          raw.on('error', (e) => ex.onError(e));
          o.socket = raw;
        } else {
          Object.assign(o, tcpConnectOptions(spec));
        }
        sock = tls.connect(o);
      } else {
        sock = connectTcp(spec);
      }
    } catch (e) {
      ex.onError(e);
      return;
    }
    ex.sock = sock;
    sock.on('error', (e) => ex.onError(e));
    if (st.secure) sock.once('connect', () => ex.setPhase('in the TLS handshake'));
    sock.once(st.secure ? 'secureConnect' : 'connect', () => {
      ex.secured = st.secure;
      ex.setPhase('sending the request');
      sock.write(st.request);
      ex.setPhase('waiting for the response header');
    });
    sock.on('data', (d: Buffer) => ex.onData(d));
    sock.on('end', () => ex.onEnd());
  });
}

/**
 * Shared plumbing for the probes: one deadline per attempt, settle-once results with cleanup,
 * errno → ProbeFailure mapping, socket options from a Target, and a graceful (RST-free) close.
 *
 * Every probe runs inside `runAttempt`: the promise settles exactly once, cleanups always run,
 * and the attempt ends at whichever comes first of `signal` aborting and `timeoutMs` passing
 * (connect_timeout is a hard deadline on the whole attempt, body included: keepalived #1822).
 */
import dgram from 'node:dgram';
import net from 'node:net';

import type { ProbeFailure, ProbeResult, Target } from '../types.js';

export function ok(detail?: string, weight?: number): ProbeResult {
  const r: { ok: true; weight?: number; detail?: string } = { ok: true };
  if (weight !== undefined) r.weight = weight;
  if (detail !== undefined) r.detail = detail;
  return r;
}

export function fail(reason: ProbeFailure, detail: string, weight?: number): ProbeResult {
  return weight === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, weight };
}

/** An Error's message, or String(x). */
export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function errCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** Maps a socket/TLS/system error to a ProbeFailure. */
export function reasonFor(e: unknown): ProbeFailure {
  const code = errCode(e) ?? '';
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return 'unreachable';
    case 'ETIMEDOUT':
      return 'timeout';
  }
  // OpenSSL and Node TLS errors: handshake failures, certificate verification.
  if (/SSL|TLS|CERT|_SIGNED|UNABLE_TO_|VERIFY/.test(code)) return 'protocol';
  return 'error';
}

/** "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1" style text. */
export function describeError(e: unknown): string {
  const code = errCode(e);
  const msg = message(e);
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

// ---------------------------------------------------------------- attempts

export interface Attempt {
  /** Aborted when the attempt ends for any reason (deadline, abort, settled). */
  readonly signal: AbortSignal;
  /** What the attempt is doing now; used in the timeout detail. */
  phase: string;
  /**
   * A result to use if the deadline hits before `finish` is called (e.g. TCP_CHECK has connected
   * and is only closing; UDP_CHECK without require_reply succeeds when nothing came back).
   */
  onDeadline?: () => ProbeResult;
  /** Settle the attempt (first call wins) and run the cleanups. */
  finish(result: ProbeResult): void;
  /** Register a cleanup; run once, in reverse order, when the attempt settles. */
  defer(fn: () => void): void;
  /** Milliseconds left before the deadline (Infinity without timeoutMs). */
  remainingMs(): number;
  readonly settled: boolean;
}

export interface AttemptOptions {
  /** The probe's own deadline (connect_timeout); 0/undefined/Infinity = only `signal`. */
  timeoutMs?: number;
  signal: AbortSignal;
  /** Initial phase text. */
  phase: string;
}

/**
 * Runs `start` as one attempt. Never rejects: a throw inside `start` becomes an 'error' result.
 * The deadline result is `attempt.onDeadline()` if set, else a 'timeout' failure naming the phase.
 */
export function runAttempt(opts: AttemptOptions, start: (a: Attempt) => void | Promise<void>): Promise<ProbeResult> {
  return new Promise<ProbeResult>((resolve) => {
    // Created on first use of `a.signal` only (most probes never look at it).
    let ctl: AbortController | undefined;
    const cleanups: Array<() => void> = [];
    const began = performance.now();
    const limit = opts.timeoutMs !== undefined && Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0 ? opts.timeoutMs : undefined;
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const a: Attempt = {
      get signal() {
        if (ctl === undefined) {
          ctl = new AbortController();
          if (settled) ctl.abort();
        }
        return ctl.signal;
      },
      phase: opts.phase,
      finish(result) {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        opts.signal.removeEventListener('abort', onDeadline);
        ctl?.abort();
        for (const fn of cleanups.reverse()) {
          try {
            fn();
          } catch {
            // cleanups must not break settling
          }
        }
        resolve(result);
      },
      defer(fn) {
        if (settled) {
          try {
            fn();
          } catch {
            // ignore
          }
          return;
        }
        cleanups.push(fn);
      },
      remainingMs() {
        return limit === undefined ? Infinity : Math.max(0, limit - (performance.now() - began));
      },
      get settled() {
        return settled;
      },
    };

    function onDeadline(): void {
      if (settled) return;
      let r: ProbeResult;
      try {
        r = a.onDeadline?.() ?? timeoutResult(a.phase, opts.signal.aborted ? opts.signal.reason : undefined, limit);
      } catch (e) {
        r = fail('error', message(e));
      }
      a.finish(r);
    }

    if (opts.signal.aborted) {
      onDeadline();
      return;
    }
    opts.signal.addEventListener('abort', onDeadline, { once: true });
    if (limit !== undefined) timer = setTimeout(onDeadline, limit);
    try {
      const p = start(a);
      if (p) p.catch((e: unknown) => a.finish(fail('error', message(e))));
    } catch (e) {
      a.finish(fail('error', message(e)));
    }
  });
}

function timeoutResult(phase: string, reason: unknown, limit: number | undefined): ProbeResult {
  const why = reason === undefined ? (limit !== undefined ? `after ${limit} ms` : '') : 'at the deadline';
  return fail('timeout', `timed out ${why}${why ? ' ' : ''}while ${phase}`);
}

// ---------------------------------------------------------------- targets

/** The host to connect to: an IPv6 link-local address gets `%bind_if` as its zone. */
export function connectHost(t: Pick<Target, 'address' | 'bindIf'>): string {
  const a = t.address;
  if (t.bindIf && net.isIPv6(a) && !a.includes('%') && /^fe[89ab]/i.test(a)) return `${a}%${t.bindIf}`;
  return a;
}

/** The address without an IPv6 zone (`fe80::1%eth0` → `fe80::1`). */
export function stripZone(address: string): string {
  const i = address.indexOf('%');
  return i < 0 ? address : address.slice(0, i);
}

/** net.connect / tls.connect options for a Target. `fwmark` and non-link-local `bindIf` are not supported by Node sockets. */
export function tcpConnectOptions(t: Target): net.TcpNetConnectOpts {
  const host = connectHost(t);
  const o: net.TcpNetConnectOpts = { host, port: t.port, noDelay: true };
  const fam = net.isIP(stripZone(host));
  if (fam === 4 || fam === 6) o.family = fam;
  if (t.bindto !== undefined) o.localAddress = t.bindto;
  if (t.bindPort !== undefined) o.localPort = t.bindPort;
  return o;
}

// ---------------------------------------------------------------- closing

/**
 * Closes a TCP (or TLS) socket without provoking an RST: stop writing (FIN / close_notify),
 * drain whatever the peer still sends, and destroy once the peer has closed too or after
 * `graceMs`. Unread data in the receive queue at close() is what makes the kernel send an RST.
 * Resolves when the socket is closed.
 */
export function closeGracefully(sock: net.Socket, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (sock.destroyed) {
      resolve();
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      resolve();
    };
    sock.once('close', done);
    sock.on('error', () => {
      /* a late RST from the peer changes nothing now */
    });
    sock.on('data', () => {
      /* drain */
    });
    sock.resume();
    if (!sock.writableEnded) sock.end();
    // allowHalfOpen is false by default: when the peer's FIN arrives Node destroys the socket.
    timer = setTimeout(() => sock.destroy(), Math.max(0, Math.min(graceMs, 2_000)));
  });
}

/**
 * Closes a socket like `closeGracefully` (FIN, drain, destroy on the peer's FIN or after `graceMs`)
 * but in the background: nothing waits for it, so an attempt can settle as soon as its result is
 * known (keepalived closes right after connect and does not wait for the peer either). Cheaper
 * than `closeGracefully`: no promise, and the grace timer is the socket's own idle timeout.
 */
export function closeInBackground(sock: net.Socket, graceMs: number = CLOSE_GRACE_MS): void {
  if (sock.destroyed) return;
  sock.on('error', noop);
  sock.on('timeout', destroyThis);
  sock.setTimeout(Math.max(1, Math.min(graceMs, 2_000)));
  sock.resume();
  if (!sock.writableEnded) sock.end();
}

function noop(): void {
  /* a late RST from the peer changes nothing now */
}

function destroyThis(this: net.Socket): void {
  this.destroy();
}

/** Default time to wait for the peer's FIN after ours. */
export const CLOSE_GRACE_MS = 250;

// ---------------------------------------------------------------- UDP

/**
 * A connected UDP socket for a Target (bound first to bindto/bindPort if set), closed when the
 * attempt settles. `ready` runs once connected. An ICMP port unreachable shows up as an
 * 'error' event with code ECONNREFUSED (connected sockets only); `onError` gets every error.
 */
export function connectUdp(a: Attempt, t: Target, onError: (e: NodeJS.ErrnoException) => void, ready: (sock: dgram.Socket) => void): dgram.Socket {
  const host = connectHost(t);
  const sock = dgram.createSocket({ type: net.isIPv6(stripZone(host)) ? 'udp6' : 'udp4' });
  a.defer(() => sock.close());
  sock.on('error', onError);
  const connect = (): void => {
    sock.connect(t.port, host, (...args: unknown[]) => {
      const err = args[0];
      if (err instanceof Error) {
        onError(err);
        return;
      }
      if (!a.settled) ready(sock);
    });
  };
  if (t.bindto !== undefined || t.bindPort !== undefined) {
    const opts: dgram.BindOptions = { port: t.bindPort ?? 0 };
    if (t.bindto !== undefined) opts.address = t.bindto;
    sock.bind(opts, connect);
  } else {
    connect();
  }
  return sock;
}

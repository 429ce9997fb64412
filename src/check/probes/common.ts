/**
 * Shared plumbing for the probes: one deadline per attempt, settle-once results with cleanup,
 * errno → ProbeFailure mapping, socket options from a Target, and a graceful (RST-free) close.
 *
 * Every probe runs inside `runAttempt`: the promise settles exactly once, cleanups always run,
 * and the attempt ends at whichever comes first of `signal` aborting and `timeoutMs` passing
 * (connect_timeout is a hard deadline on the whole attempt, body included: keepalived #1822).
 */
import dgram from 'node:dgram';
import { closeSync } from 'node:fs';
import net from 'node:net';

import { native } from '../../sys/addon.js';
import { stripZone } from '../../vocab/ip.js';
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
  if (e instanceof Error) return e.message;
  // an errno from the addon ({ code, message }: errnoError) is not an Error
  const m = (e as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : String(e);
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
   * undefined: the usual timeout result (naming `phase`, which it may update).
   */
  onDeadline?: () => ProbeResult | undefined;
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
    const a = new AttemptState(opts, resolve);
    if (opts.signal.aborted) {
      a.deadline();
      return;
    }
    watch(opts.signal, a);
    if (a.limit !== undefined) a.timer = setTimeout(a.onAbort, a.limit);
    try {
      const p = start(a);
      if (p) p.catch((e: unknown) => a.finish(fail('error', message(e))));
    } catch (e) {
      a.finish(fail('error', message(e)));
    }
  });
}

/**
 * The attempts waiting on each caller signal. One listener per signal, added once, instead of an
 * add and a remove per attempt: the scheduler hands a job's attempts the same signal, and each
 * add/remove pair rebuilt the EventTarget's listener tables, which outlived young collections.
 */
const watchers = new WeakMap<AbortSignal, AttemptState[]>();

function watch(signal: AbortSignal, a: AttemptState): void {
  let list = watchers.get(signal);
  if (list === undefined) {
    const l: AttemptState[] = [];
    watchers.set(signal, l);
    signal.addEventListener('abort', () => {
      for (const x of l.splice(0)) x.deadline();
    }, { once: true });
    list = l;
  }
  list.push(a);
}

function unwatch(signal: AbortSignal, a: AttemptState): void {
  const list = watchers.get(signal);
  if (list === undefined) return;
  const i = list.indexOf(a);
  if (i < 0) return;
  list[i] = list[list.length - 1]!;
  list.pop();
}

/**
 * One attempt's state. A class, not an object literal: V8 builds a literal with getters on a
 * slow path, and those objects ended up in the old generation, where a dead one kept its whole
 * attempt (closures, promise, timer) alive through young collections until they were promoted —
 * at 10,000 checks a second, most of what filled the checker's heap.
 */
class AttemptState implements Attempt {
  phase: string;
  onDeadline?: () => ProbeResult | undefined;
  readonly limit: number | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Bound once: the abort listener and the deadline timer's callback. */
  readonly onAbort: () => void;
  // Created on first use of `signal` only (most probes never look at it).
  private ctl: AbortController | undefined;
  private cleanups: Array<() => void> | undefined;
  private readonly began = performance.now();
  private done = false;

  constructor(
    private readonly opts: AttemptOptions,
    private readonly resolve: (r: ProbeResult) => void,
  ) {
    this.phase = opts.phase;
    const t = opts.timeoutMs;
    this.limit = t !== undefined && Number.isFinite(t) && t > 0 ? t : undefined;
    this.onAbort = () => this.deadline();
  }

  get signal(): AbortSignal {
    if (this.ctl === undefined) {
      this.ctl = new AbortController();
      if (this.done) this.ctl.abort();
    }
    return this.ctl.signal;
  }

  get settled(): boolean {
    return this.done;
  }

  finish(result: ProbeResult): void {
    if (this.done) return;
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    unwatch(this.opts.signal, this);
    this.ctl?.abort();
    const cleanups = this.cleanups;
    this.cleanups = undefined;
    if (cleanups) {
      for (let i = cleanups.length - 1; i >= 0; i--) {
        try {
          cleanups[i]!();
        } catch {
          // cleanups must not break settling
        }
      }
    }
    this.resolve(result);
  }

  defer(fn: () => void): void {
    if (this.done) {
      try {
        fn();
      } catch {
        // ignore
      }
      return;
    }
    (this.cleanups ??= []).push(fn);
  }

  remainingMs(): number {
    return this.limit === undefined ? Infinity : Math.max(0, this.limit - (performance.now() - this.began));
  }

  deadline(): void {
    if (this.done) return;
    let r: ProbeResult;
    try {
      r = this.onDeadline?.() ?? timeoutResult(this.phase, this.opts.signal.aborted ? this.opts.signal.reason : undefined, this.limit);
    } catch (e) {
      r = fail('error', message(e));
    }
    this.finish(r);
  }
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

export { stripZone };

/** net.connect / tls.connect options for a Target (without fwmark and bind_if: see connectTcp). */
export function tcpConnectOptions(t: Target): net.TcpNetConnectOpts {
  const host = connectHost(t);
  const o: net.TcpNetConnectOpts = { host, port: t.port, noDelay: true };
  const fam = net.isIP(stripZone(host));
  if (fam === 4 || fam === 6) o.family = fam;
  if (t.bindto !== undefined) o.localAddress = t.bindto;
  if (t.bindPort !== undefined) o.localPort = t.bindPort;
  return o;
}

/** fwmark (SO_MARK) or bind_if (SO_BINDTODEVICE): options Node's net and dgram cannot set. */
export function needsProbeSocket(t: Pick<Target, 'fwmark' | 'bindIf'>): boolean {
  return (t.fwmark ?? 0) !== 0 || (t.bindIf ?? '') !== '';
}

/**
 * The fd of a socket the addon made for a Target (marked, bound to bind_if, then to
 * bindto / bind_port, as keepalived's socket_bind_connect does it), not connected. The caller owns
 * it. Throws like the system call that failed.
 */
function probeSocketFd(t: Target, udp: boolean): number {
  const fam = net.isIP(stripZone(connectHost(t)));
  if (fam !== 4 && fam !== 6) throw new Error(`fwmark and bind_if need an IP address to connect to, got ${JSON.stringify(t.address)}`);
  return native().probeSocket(fam, udp, t.fwmark ?? 0, t.bindIf ?? '', t.bindto ?? '', t.bindPort ?? 0);
}

/**
 * A TCP socket connecting to a Target. With fwmark or bind_if the addon makes the socket with
 * them set and Node connects it (net.Socket({ fd }): a public way to hand Node a socket, where
 * setting options on the fd of a socket Node made would reach into its private handle). Throws
 * if the socket cannot be made (no fd is left open then).
 */
export function connectTcp(t: Target): net.Socket {
  const o = tcpConnectOptions(t);
  if (!needsProbeSocket(t)) return net.connect(o);
  const fd = probeSocketFd(t, false);
  let sock: net.Socket;
  try {
    sock = new net.Socket({ fd });
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  sock.setNoDelay(true);
  // bound already (bindto / bind_port)
  return sock.connect({ host: o.host!, port: o.port, ...(o.family !== undefined ? { family: o.family } : {}) });
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
 * A connected UDP socket for a Target (marked and bound to bind_if, then to bindto/bindPort, if
 * set: see connectTcp), closed when the
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
  if (needsProbeSocket(t)) {
    // made (marked, bound) by the addon; the socket owns the fd once bind has taken it
    let fd: number;
    try {
      fd = probeSocketFd(t, true);
    } catch (e) {
      onError(e as NodeJS.ErrnoException);
      return sock;
    }
    try {
      sock.bind({ fd }, connect);
    } catch (e) {
      closeSync(fd);
      onError(e as NodeJS.ErrnoException);
    }
  } else if (t.bindto !== undefined || t.bindPort !== undefined) {
    const opts: dgram.BindOptions = { port: t.bindPort ?? 0 };
    if (t.bindto !== undefined) opts.address = t.bindto;
    sock.bind(opts, connect);
  } else {
    connect();
  }
  return sock;
}

/**
 * TCP_CHECK: a TCP connect (from bindto/bind_port if set) that succeeds within connect_timeout.
 * The attempt succeeds as soon as connect() does, like keepalived (tcp_check.c closes the socket
 * right after a successful connect and does not wait for the server).
 *
 * fwmark (SO_MARK) and bind_if (SO_BINDTODEVICE) are set on the socket before bind and connect,
 * as keepalived does. To an IP address the connect is the addon's TcpConnector (socket, connect, SO_ERROR, close:
 * what keepalived does, then a polite close in the background), which names
 * connects by handle: no JS object per check survives the check, where a net.Socket per check
 * cost most of the checker's CPU and filled its old generation at 10,000 real servers. The
 * scheduler runs it through `tcpDirect`, without a promise per attempt. To a host name, or without the addon, it is net.connect, and the
 * connection is closed gracefully in the background (FIN, draining anything the server sent;
 * destroyed on the server's FIN or after CLOSE_GRACE_MS).
 */
import { CONNECTED, errnoError, nativeConnections, nativeTarget, type ConnectionListener, type NativeTargetHandle } from './native-connector.js';

import type { DirectProbe, Probe, ProbeResult, ProbeSink, ProbeSpec } from '../types.js';
import { closeInBackground, connectTcp, describeError, fail, ok, reasonFor, runAttempt, type Attempt } from './common.js';

type TcpSpec = Extract<ProbeSpec, { kind: 'TCP_CHECK' }>;

export const tcpProbe: Probe = (spec, signal) => {
  if (spec.kind !== 'TCP_CHECK') return Promise.resolve(fail('error', `tcp probe cannot run ${spec.kind}`));
  return probeTcp(spec, signal);
};

/**
 * Per spec (plans are long-lived), built once: the connect options, the phase text, the success
 * result, the connector's target. It is also the connector's listener on the direct path (the
 * context is the scheduler's attempt), so a check costs one lookup here and no closure.
 */
class TcpStatic implements ConnectionListener<ProbeSink> {
  readonly where: string;
  readonly phase: string;
  readonly ok: ProbeResult;
  /** undefined: not looked up yet; null: no native path (a host name, or no addon). */
  private nativeTarget: NativeTargetHandle | null | undefined;

  constructor(private readonly spec: TcpSpec) {
    this.where = `${spec.address} port ${spec.port}`;
    this.phase = `connecting to ${this.where}`;
    this.ok = Object.freeze(ok(`connected to ${this.where}`));
  }

  target(): NativeTargetHandle | undefined {
    if (this.nativeTarget === undefined) this.nativeTarget = nativeTarget(this.spec) ?? null;
    return this.nativeTarget ?? undefined;
  }

  /** What a connect's final event means for the check. */
  resultOf(event: number, errno: number): ProbeResult {
    if (event === CONNECTED) return this.ok;
    const e = errnoError(errno, 'connect');
    return fail(reasonFor(e), `${e.message} ${this.where}`);
  }

  onConnection(sink: ProbeSink, event: number, errno: number): void {
    sink.settle(this.resultOf(event, errno));
  }
}
const statics = new WeakMap<TcpSpec, TcpStatic>();

function staticsFor(spec: TcpSpec): TcpStatic {
  let s = statics.get(spec);
  if (s === undefined) {
    s = new TcpStatic(spec);
    statics.set(spec, s);
  }
  return s;
}

/** The connector's listener on the promise path: the context is the attempt. */
const attemptListener: ConnectionListener<{ attempt: Attempt; st: TcpStatic }> = {
  onConnection: (ctx, event, errno) => ctx.attempt.finish(ctx.st.resultOf(event, errno)),
};

/**
 * TCP_CHECK for the scheduler without a promise, an AbortSignal or a timer per attempt: the
 * connector reports to the scheduler's attempt, and the scheduler's deadline expires it. Only to
 * an IP address with the addon built; otherwise -1, and the scheduler runs tcpProbe.
 */
export const tcpDirect: DirectProbe = {
  start(spec, sink) {
    if (spec.kind !== 'TCP_CHECK') return -1;
    const st = staticsFor(spec);
    const target = st.target();
    const conn = target !== undefined ? nativeConnections() : undefined;
    if (conn === undefined || target === undefined) return -1;
    try {
      return conn.open(target, st, sink);
    } catch (e) {
      // the socket could not be made, bound (bindto / bind_port) or connected
      sink.settle(fail(reasonFor(e), describeError(e)));
      return 0;
    }
  },
  expire(handle, spec, timeoutMs) {
    nativeConnections()?.cancel(handle);
    return fail('timeout', `timed out after ${timeoutMs} ms while ${staticsFor(spec as TcpSpec).phase}`);
  },
  cancel(handle) {
    nativeConnections()?.cancel(handle);
  },
};

function probeTcp(spec: TcpSpec, signal: AbortSignal) {
  const st = staticsFor(spec);
  const target = st.target();
  const conn = target !== undefined ? nativeConnections() : undefined;
  if (conn !== undefined && target !== undefined) {
    return runAttempt({ timeoutMs: spec.timeoutMs, signal, phase: st.phase }, (a) => {
      let id: number;
      try {
        id = conn.open(target, attemptListener, { attempt: a, st });
      } catch (e) {
        // the socket could not be made, bound (bindto / bind_port) or connected
        a.finish(fail(reasonFor(e), describeError(e)));
        return;
      }
      // deadline or abort before the connect reported: close it, no callback
      a.defer(() => conn.cancel(id));
    });
  }
  return runAttempt({ timeoutMs: spec.timeoutMs, signal, phase: st.phase }, (a) => {
    let sock;
    try {
      sock = connectTcp(spec);
    } catch (e) {
      // the socket could not be made (fwmark, bind_if)
      a.finish(fail(reasonFor(e), describeError(e)));
      return;
    }
    let connected = false;
    // Not connected when the attempt ends (deadline, abort, error): drop the socket.
    a.defer(() => {
      if (!connected) sock.destroy();
    });
    sock.once('error', (e) => a.finish(fail(reasonFor(e), describeError(e))));
    sock.once('connect', () => {
      connected = true;
      closeInBackground(sock);
      a.finish(st.ok);
    });
  });
}

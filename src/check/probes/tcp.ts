/**
 * TCP_CHECK: a TCP connect (from bindto/bind_port if set) that succeeds within connect_timeout.
 * The attempt succeeds as soon as connect() does, like keepalived (tcp_check.c closes the socket
 * right after a successful connect and does not wait for the server).
 *
 * To an IP address the connect is the addon's TcpConnector (socket, connect, SO_ERROR, close:
 * what keepalived does), which names connects by id: no JS object per check survives the check,
 * where a net.Socket per check cost most of the checker's CPU and filled its old generation at
 * 10,000 real servers. To a host name, or without the addon, it is net.connect, and the
 * connection is closed gracefully in the background (FIN, draining anything the server sent;
 * destroyed on the server's FIN or after CLOSE_GRACE_MS).
 */
import net from 'node:net';

import { CONNECTED, errnoError, nativeConnections, nativeTarget } from './native-connector.js';

import type { Probe, ProbeResult, ProbeSpec } from '../types.js';
import { closeInBackground, describeError, fail, ok, reasonFor, runAttempt, tcpConnectOptions } from './common.js';

type TcpSpec = Extract<ProbeSpec, { kind: 'TCP_CHECK' }>;

export const tcpProbe: Probe = (spec, signal) => {
  if (spec.kind !== 'TCP_CHECK') return Promise.resolve(fail('error', `tcp probe cannot run ${spec.kind}`));
  return probeTcp(spec, signal);
};

/** Per spec (plans are long-lived): the connect options, the phase text and the success result, built once. */
interface TcpStatic {
  options: net.TcpNetConnectOpts;
  where: string;
  phase: string;
  ok: ProbeResult;
}
const statics = new WeakMap<TcpSpec, TcpStatic>();

function staticsFor(spec: TcpSpec): TcpStatic {
  let s = statics.get(spec);
  if (s === undefined) {
    const where = `${spec.address} port ${spec.port}`;
    s = { options: tcpConnectOptions(spec), where, phase: `connecting to ${where}`, ok: Object.freeze(ok(`connected to ${where}`)) };
    statics.set(spec, s);
  }
  return s;
}

function probeTcp(spec: TcpSpec, signal: AbortSignal) {
  const st = staticsFor(spec);
  const target = nativeTarget(spec);
  const conn = target !== undefined ? nativeConnections() : undefined;
  if (conn !== undefined && target !== undefined) {
    return runAttempt({ timeoutMs: spec.timeoutMs, signal, phase: st.phase }, (a) => {
      let id: number;
      try {
        id = conn.open(target.family, target.host, spec.port, spec.bindto ?? '', spec.bindPort ?? 0, undefined, (event, errno) => {
          if (event === CONNECTED) return a.finish(st.ok);
          const e = errnoError(errno, 'connect');
          a.finish(fail(reasonFor(e), `${e.message} ${st.where}`));
        });
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
    // net.connect does not keep or change the options object.
    const sock = net.connect(st.options);
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

/**
 * TCP_CHECK: a TCP connect (from bindto/bind_port if set) that succeeds within connect_timeout.
 * The attempt succeeds as soon as connect() does, like keepalived (tcp_check.c closes the socket
 * right after a successful connect and does not wait for the server). The connection is then
 * closed gracefully in the background (FIN, draining anything the server sent, so the kernel has
 * no reason to answer with an RST; destroyed on the server's FIN or after CLOSE_GRACE_MS).
 */
import net from 'node:net';

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
  phase: string;
  ok: ProbeResult;
}
const statics = new WeakMap<TcpSpec, TcpStatic>();

function staticsFor(spec: TcpSpec): TcpStatic {
  let s = statics.get(spec);
  if (s === undefined) {
    const where = `${spec.address} port ${spec.port}`;
    s = { options: tcpConnectOptions(spec), phase: `connecting to ${where}`, ok: Object.freeze(ok(`connected to ${where}`)) };
    statics.set(spec, s);
  }
  return s;
}

function probeTcp(spec: TcpSpec, signal: AbortSignal) {
  const st = staticsFor(spec);
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

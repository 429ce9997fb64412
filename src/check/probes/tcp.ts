/**
 * TCP_CHECK: a TCP connect (from bindto/bind_port if set) that succeeds within connect_timeout.
 * The connection is then closed gracefully (FIN, draining anything the server sent, so the
 * kernel has no reason to answer with an RST), like keepalived's close() right after connect.
 */
import net from 'node:net';

import type { Probe, ProbeSpec } from '../types.js';
import { CLOSE_GRACE_MS, closeGracefully, describeError, fail, ok, reasonFor, runAttempt, tcpConnectOptions } from './common.js';

type TcpSpec = Extract<ProbeSpec, { kind: 'TCP_CHECK' }>;

export const tcpProbe: Probe = (spec, signal) => {
  if (spec.kind !== 'TCP_CHECK') return Promise.resolve(fail('error', `tcp probe cannot run ${spec.kind}`));
  return probeTcp(spec, signal);
};

function probeTcp(spec: TcpSpec, signal: AbortSignal) {
  return runAttempt({ timeoutMs: spec.timeoutMs, signal, phase: `connecting to ${spec.address} port ${spec.port}` }, (a) => {
    const sock = net.connect(tcpConnectOptions(spec));
    a.defer(() => sock.destroy());
    sock.once('error', (e) => a.finish(fail(reasonFor(e), describeError(e))));
    sock.once('connect', () => {
      const result = ok(`connected to ${spec.address} port ${spec.port}`);
      a.phase = 'closing';
      a.onDeadline = () => result;
      sock.removeAllListeners('error');
      void closeGracefully(sock, Math.min(CLOSE_GRACE_MS, a.remainingMs())).then(() => a.finish(result));
    });
  });
}

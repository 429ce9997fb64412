/**
 * The addon's TcpConnector (native/src/tcp_connect.cc), one per thread, behind a small
 * interface: open a connect (TCP_CHECK) or a plain-HTTP exchange (HTTP_GET), get its events
 * through a handler, cancel it (closed at once) or finish it (closed politely in the
 * background). No JS object per connection beyond the handler: a net.Socket per check cost most
 * of the checker's CPU and, surviving young collections, most of its heap at 10,000 checks a
 * second. `undefined` when the addon is not built: the probes then use net / tls.
 */
import net from 'node:net';
import { getSystemErrorName } from 'node:util';

import { native, type NativeTcpConnector } from '../../net/native.js';
import type { Target } from '../types.js';
import { connectHost, stripZone } from './common.js';

export const CONNECTED = 0;
export const SENT = 1;
export const DATA = 2;
export const END = 3;
export const ERROR = 4;

/** One connection's events: CONNECTED, END and ERROR are final. */
export type ConnectionHandler = (event: number, errno: number, data: Buffer | undefined) => void;

export interface NativeConnections {
  /** Starts a connection; `request` makes it an exchange. Throws (with `code`) like connect(2). */
  open(family: 4 | 6, host: string, port: number, bindHost: string, bindPort: number, request: Buffer | undefined, handler: ConnectionHandler): number;
  /** Closes at once; no more events. */
  cancel(id: number): void;
  /** No more events; FIN, drain and close in the background. */
  finish(id: number): void;
}

let shared: NativeConnections | null | undefined;

export function nativeConnections(): NativeConnections | undefined {
  if (shared === undefined) {
    try {
      shared = create(native().TcpConnector);
    } catch {
      shared = null;
    }
  }
  return shared ?? undefined;
}

function create(TcpConnector: new (cb: (id: number, event: number, errno: number, data: Buffer | undefined) => void) => NativeTcpConnector): NativeConnections {
  const handlers = new Map<number, ConnectionHandler>();
  const c = new TcpConnector((id, event, errno, data) => {
    const h = handlers.get(id);
    if (event === CONNECTED || event === END || event === ERROR) handlers.delete(id);
    h?.(event, errno, data);
  });
  return {
    open(family, host, port, bindHost, bindPort, request, handler) {
      const id = c.connect(family, host, port, bindHost, bindPort, request);
      handlers.set(id, handler);
      return id;
    },
    cancel(id) {
      if (handlers.delete(id)) c.cancel(id);
    },
    finish(id) {
      if (handlers.delete(id)) c.finish(id);
    },
  };
}

/** Where the connector goes for a target: its address (with the zone connectHost adds). */
export interface NativeTarget {
  family: 4 | 6;
  host: string;
}

const targets = new WeakMap<Target, NativeTarget | null>();

/**
 * The target's address for the connector, or undefined for a host name (which needs a
 * resolver: net.connect). Cached per spec, as plans are long-lived.
 */
export function nativeTarget(t: Target): NativeTarget | undefined {
  let r = targets.get(t);
  if (r === undefined) {
    const host = connectHost(t);
    const fam = net.isIP(stripZone(host));
    r = fam === 4 || fam === 6 ? { family: fam, host } : null;
    targets.set(t, r);
  }
  return r ?? undefined;
}

/** An ERROR event's errno as the error shape reasonFor / describeError read (`code`, `message`). */
export function errnoError(errno: number, syscall: string): { code: string; message: string } {
  const code = getSystemErrorName(-errno);
  return { code, message: `${syscall} ${code}` };
}

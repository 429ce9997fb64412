/**
 * The addon's TcpConnector (native/src/tcp_connect.cc), one per thread, behind a small
 * interface: open a connect (TCP_CHECK) or a plain-HTTP exchange (HTTP_GET), get its events
 * through a listener, cancel it (closed at once) or finish it (closed politely in the
 * background). `undefined` when the addon is not built: the probes then use net / tls.
 *
 * No JS object per connection: a connection is a slot in a few arrays, named by a tag (slot and
 * a generation, so a stale handle never reaches the slot's next owner), and its listener gets a
 * context the caller chose (the scheduler's attempt, for TCP_CHECK). The connector reports its
 * events in batches, one call per epoll batch, through a shared Int32Array, and response bytes
 * through a shared buffer: a net.Socket per check, and later a JS callback per event, cost most
 * of the checker's CPU at 10,000 checks a second.
 */
import net from 'node:net';
import { getSystemErrorName } from 'node:util';

import { native, type NativeTcpConnector } from '../../sys/addon.js';
import type { Target } from '../types.js';
import { connectHost, stripZone } from './common.js';

export const CONNECTED = 0;
export const DATA = 2;
export const END = 3;
export const ERROR = 4;
/** A plain HTTP_GET judged by the addon: `value` the status; `extra` the body bytes if cut short, else -1. */
export const HTTP_OK = 5;
/** A plain HTTP_GET whose status is not accepted: `data` its status line. */
export const HTTP_REJECTED = 6;

/**
 * One connection's events: CONNECTED, END, ERROR, HTTP_OK and HTTP_REJECTED are final. `value`
 * is ERROR's errno (`extra` where it was, as state() says); `data` a DATA chunk or
 * HTTP_REJECTED's status line; `handle` the connection's.
 */
export interface ConnectionListener<C> {
  onConnection(ctx: C, event: number, value: number, data: Buffer | undefined, extra: number, handle: number): void;
}

/**
 * A target registered with the addon once per spec (its addresses parsed, an exchange's request
 * held there): a connect passes its id, two numbers in all. Dropped from the addon when the
 * handle is collected.
 */
export interface NativeTargetHandle {
  readonly id: number;
  readonly __nativeTarget: true;
}

export interface NativeConnections {
  /**
   * Starts a connection to `target` (from nativeTarget): an exchange if it has a request, else a
   * connect. Throws (with `code`) like socket/bind/connect(2). Returns the connection's handle.
   */
  open<C>(target: NativeTargetHandle, listener: ConnectionListener<C>, ctx: C): number;
  /** Closes at once; no more events. A handle that has ended is ignored. */
  cancel(handle: number): void;
  /** No more events; FIN, drain and close in the background. A handle that has ended is ignored. */
  finish(handle: number): void;
  /** Where a live connection is: 0 connecting, 1 sending the request, 2 reading the response; -1 if it has ended. */
  state(handle: number): number;
  /** The listener of a connection that still owes events (undefined once it has ended). */
  listenerOf(handle: number): ConnectionListener<unknown> | undefined;
  /** Its events go to another listener from now on (a plain HTTP_GET handed to JS's parser). */
  rebind<C>(handle: number, listener: ConnectionListener<C>, ctx: C): void;
  /** Connections owing events, and finished ones still closing (the addon's count). */
  readonly pending: number;
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

const SLOT_BITS = 20;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
const GEN_MASK = (1 << (32 - SLOT_BITS)) - 1;
/** Events per batch the shared array holds (the addon calls again when it is full). */
const BATCH = 1024;
/** Bytes of response data per batch (the addon reads straight into it; at least 16 KiB). */
const DATA_BYTES = 256 * 1024;

class Connections implements NativeConnections {
  private readonly events = new Int32Array(4 * BATCH);
  private readonly data = Buffer.alloc(DATA_BYTES);
  private readonly c: NativeTcpConnector;
  /** Per slot: the live tag (0: free), its listener and context. */
  private tags: number[] = [];
  private listeners: Array<ConnectionListener<unknown> | undefined> = [];
  private ctxs: unknown[] = [];
  private gens: number[] = [];
  private readonly free: number[] = [];
  /**
   * During a DATA event whose connection's END follows in the same batch (the addon read to the
   * server's FIN and has closed it): its tag, so that finish / cancel skip the call into the
   * addon, which would find nothing to close. 0 otherwise (no tag is 0: generations start at 1).
   */
  private ending = 0;

  /** Drops a target from the addon once its handle is collected (a reload's old specs). */
  private readonly dropper = new FinalizationRegistry<number>((id) => this.c.dropTarget(id));

  constructor(TcpConnector: NativeConstructor) {
    this.c = new TcpConnector((count) => this.dispatch(count), this.events, this.data);
  }

  target(t: Target, family: 4 | 6, host: string, request: Buffer | undefined, statusRanges: Int32Array | undefined): NativeTargetHandle {
    const id = this.c.target(family, host, t.port, t.bindto ?? '', t.bindPort ?? 0, request, statusRanges, t.fwmark ?? 0, t.bindIf ?? '');
    const handle = { id } as NativeTargetHandle;
    this.dropper.register(handle, id);
    return handle;
  }

  open<C>(target: NativeTargetHandle, listener: ConnectionListener<C>, ctx: C): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.tags.length;
      if (slot > SLOT_MASK) throw new RangeError('too many connections in flight');
      this.tags.push(0);
      this.listeners.push(undefined);
      this.ctxs.push(undefined);
      this.gens.push(0);
    }
    const gen = ((this.gens[slot]! + 1) & GEN_MASK) || 1;
    this.gens[slot] = gen;
    const tag = ((gen << SLOT_BITS) | slot) >>> 0;
    try {
      this.c.connect(target.id, tag);
    } catch (e) {
      this.free.push(slot);
      throw e;
    }
    this.tags[slot] = tag;
    this.listeners[slot] = listener as ConnectionListener<unknown>;
    this.ctxs[slot] = ctx;
    return tag;
  }

  cancel(handle: number): void {
    if (this.release(handle) && handle !== this.ending) this.c.cancel(handle);
  }

  finish(handle: number): void {
    if (this.release(handle) && handle !== this.ending) this.c.finish(handle);
  }

  state(handle: number): number {
    return this.tags[handle & SLOT_MASK] === handle ? this.c.state(handle) : -1;
  }

  listenerOf(handle: number): ConnectionListener<unknown> | undefined {
    const slot = handle & SLOT_MASK;
    return this.tags[slot] === handle ? this.listeners[slot] : undefined;
  }

  rebind<C>(handle: number, listener: ConnectionListener<C>, ctx: C): void {
    const slot = handle & SLOT_MASK;
    if (this.tags[slot] !== handle) return;
    this.listeners[slot] = listener as ConnectionListener<unknown>;
    this.ctxs[slot] = ctx;
  }

  get pending(): number {
    return this.c.pending;
  }

  /**
   * A DATA chunk, copied out of the shared array (which the next batch overwrites): a small one
   * comes from Node's buffer pool, where a Buffer made by the addon cost a backing store each.
   */
  private chunk(offset: number, length: number): Buffer {
    const b = Buffer.allocUnsafe(length);
    this.data.copy(b, 0, offset, offset + length);
    return b;
  }

  /** Frees the handle's slot; false if the handle has ended already. */
  private release(tag: number): boolean {
    const slot = tag & SLOT_MASK;
    if (this.tags[slot] !== tag) return false;
    this.tags[slot] = 0;
    this.listeners[slot] = undefined;
    this.ctxs[slot] = undefined;
    this.free.push(slot);
    return true;
  }

  private dispatch(count: number): void {
    const ev = this.events;
    let thrown: { e: unknown } | undefined;
    for (let i = 0; i < count; i++) {
      const tag = ev[4 * i]! >>> 0;
      const event = ev[4 * i + 1]!;
      const value = ev[4 * i + 2]!;
      const slot = tag & SLOT_MASK;
      if (this.tags[slot] !== tag) continue; // cancelled or finished earlier in this batch
      const l = this.listeners[slot]!;
      const ctx = this.ctxs[slot];
      const extra = ev[4 * i + 3]!;
      if (event !== DATA) this.release(tag);
      else if (i + 1 < count && ev[4 * i + 4] === ev[4 * i] && ev[4 * i + 5] === END) this.ending = tag;
      try {
        l.onConnection(ctx, event, value, event === DATA || event === HTTP_REJECTED ? this.chunk(value, extra) : undefined, extra, tag);
      } catch (e) {
        thrown ??= { e }; // the rest of the batch still runs; then it is an uncaught exception
      }
      this.ending = 0;
    }
    if (thrown) throw thrown.e;
  }
}

type NativeConstructor = new (callback: (count: number) => void, events: Int32Array, data: Uint8Array) => NativeTcpConnector;

function create(TcpConnector: NativeConstructor): Connections {
  return new Connections(TcpConnector);
}

const connectTargets = new WeakMap<Target, NativeTargetHandle | null>();
const exchangeTargets = new WeakMap<Target, NativeTargetHandle | null>();

/**
 * The target registered with the connector, its sockets marked (fwmark) and bound to bind_if
 * as keepalived's are (with `request`: for exchanges, which send it; with
 * `statusRanges` too: plain HTTP_GETs, which the addon judges), or
 * undefined for a host name (which needs a resolver: net.connect), an address the addon cannot
 * parse (net.connect reports it) or no addon. Cached per spec, as plans are long-lived; a spec's
 * request is the same every time.
 */
export function nativeTarget(t: Target, request?: Buffer, statusRanges?: Int32Array): NativeTargetHandle | undefined {
  const targets = request === undefined ? connectTargets : exchangeTargets;
  let r = targets.get(t);
  if (r === undefined) {
    r = null;
    const conn = nativeConnections() as Connections | undefined;
    const host = connectHost(t);
    const fam = net.isIP(stripZone(host));
    if (conn !== undefined && (fam === 4 || fam === 6)) {
      try {
        r = conn.target(t, fam, host, request, statusRanges);
      } catch {
        r = null;
      }
    }
    targets.set(t, r);
  }
  return r ?? undefined;
}

/** An ERROR event's errno as the error shape reasonFor / describeError read (`code`, `message`). */
export function errnoError(errno: number, syscall: string): { code: string; message: string } {
  const code = getSystemErrorName(-errno);
  return { code, message: `${syscall} ${code}` };
}

/**
 * Loader and type declarations for the in-repo N-API addon
 * (`native/`, built to `native/build/Release/vipkeeper_native.node`).
 *
 * The addon is loaded lazily on first use, so modules that only need the
 * types (or pure frame builders) work without a compiler toolchain.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** One datagram as delivered by the addon's `recvmsg` loop. */
export interface NativeRawMessage {
  /** Payload; for IPv4 the IP header has been stripped. */
  data: Buffer;
  family: 4 | 6;
  src: string;
  dst: string;
  /** IPv4 TTL from the IP header, or the IPv6 hop limit (IPV6_HOPLIMIT); -1 if unknown. */
  ttl: number;
  /** IPv6 only: same as `ttl`. */
  hopLimit?: number;
  /** IPv4 TOS byte or IPv6 traffic class; -1 if unknown. */
  tos: number;
  /** Arrival interface (IP_PKTINFO / IPV6_PKTINFO); 0 if unknown. */
  ifindex: number;
  /** Arrival interface name, '' if it could not be resolved. */
  ifname: string;
  /** The datagram did not fit the 64 KiB receive buffer. */
  truncated: boolean;
  /** How long before this callback the kernel received it (SO_TIMESTAMPNS); 0 if unknown. */
  ageMs: number;
}

export type NativeRawCallback = (err: Error | null, msg?: NativeRawMessage) => void;

export interface NativeRawIpSocket {
  readonly family: 4 | 6;
  readonly protocol: number;
  readonly closed: boolean;
  bindToDevice(ifname: string | null): void;
  bindAddress(addr: string): void;
  joinMulticast(group: string, ifname?: string): void;
  leaveMulticast(group: string, ifname?: string): void;
  setMulticastInterface(ifname: string | null): void;
  setMulticastLoop(on: boolean): void;
  setMulticastAll(on: boolean): void;
  setTtl(ttl: number): void;
  setTos(tos: number): void;
  /** SO_MARK (uint32) on what it sends. */
  setMark(mark: number): void;
  setChecksumOffset(offset: number): void;
  setIcmp6Filter(passTypes: number[]): void;
  /** false when the send would block (EAGAIN); throws on any other error. */
  send(data: Uint8Array, dst: string, ifname?: string | null, src?: string | null): boolean;
  startReceiving(cb: NativeRawCallback): void;
  stopReceiving(): void;
  ref(): NativeRawIpSocket;
  unref(): NativeRawIpSocket;
  close(): void;
}

export interface NativePacketSocket {
  readonly ifname: string;
  readonly closed: boolean;
  /** false when the send would block (EAGAIN); throws on any other error. */
  send(frame: Uint8Array): boolean;
  /** The interface's current 6-byte MAC address. */
  mac(): Buffer;
  close(): void;
}

/** A bound AF_NETLINK socket; see native/src/netlink.cc and src/net/netlink.ts. */
export interface NativeNetlinkSocket {
  readonly portId: number;
  readonly closed: boolean;
  /** Sends the messages and returns every reply (ACKs, errors, DONE, data) for their sequence numbers; blocks. */
  transact(request: Uint8Array, timeoutMs?: number, chunkBytes?: number): Buffer;
  /** The same on the libuv pool; one at a time per socket. chunkBytes 1 = one message at a time. */
  transactAsync(request: Uint8Array, timeoutMs?: number, chunkBytes?: number): Promise<Buffer>;
  close(): void;
}

/**
 * The kernel's process-events connector (native/src/proc_events.cc); datagrams are decoded by
 * src/net/proc-events.ts.
 */
export interface NativeProcEvents {
  readonly closed: boolean;
  /** SO_RCVBUF as the kernel reports it (twice what was set). */
  readonly rcvBuf: number;
  /** PROC_CN_MCAST_LISTEN (true) / IGNORE; throws ECONNREFUSED outside the initial network namespace. */
  listen(enable: boolean): void;
  /** Datagrams in batches; an error (ENOBUFS: events were lost) comes alone. */
  start(callback: (err: (Error & { code?: string }) | null, datagrams?: Buffer[]) => void): void;
  setRcvBuf(bytes: number, force?: boolean): void;
  ref(): this;
  unref(): this;
  close(): void;
}

export interface NativeBinding {
  RawIpSocket: new (family: 4 | 6, protocol: number) => NativeRawIpSocket;
  PacketSocket: new (ifname: string) => NativePacketSocket;
  /** Send `state` to the AF_UNIX datagram socket `socketPath` ('/path' or '@abstract'). */
  sdNotify(socketPath: string, state: string): boolean;
  ifIndex(ifname: string): number;
  ifName(ifindex: number): string;
  /** 6-byte MAC of an Ethernet interface (SIOCGIFHWADDR). */
  ifMac(ifname: string): Buffer;
  /**
   * new NetlinkSocket(protocol, recvBytes = 256 KiB): NETLINK_ROUTE 0, NETLINK_GENERIC 16. A reply
   * datagram larger than recvBytes fails its transaction with EMSGSIZE.
   */
  NetlinkSocket: new (protocol: number, recvBytes?: number) => NativeNetlinkSocket;
  /** SCHED_RR (1..99) for the calling thread, 0 for SCHED_OTHER; throws EPERM without CAP_SYS_NICE. */
  setThreadRealtime(priority: number): void;
  /** gettid() of the calling thread. */
  threadId(): number;
  threadScheduler(): { policy: 'rr' | 'fifo' | 'other'; priority: number };
  /**
   * Runs TCP connects (TCP_CHECK) and plain-HTTP exchanges (HTTP_GET). Events are written to
   * `events` as [tag, event, value, extra] quadruples, then `callback(count)` is called once per
   * batch: event 0 connected, 2 data (`extra` bytes at offset `value` of `data`,
   * valid during the call), 3 end, 4 error (value: errno; extra: where it was, as state() says), and for a plain HTTP_GET (a target with statusRanges) 5 ok (value: status; extra:
   * the body bytes received if it was cut short, else -1) or 6 rejected (its status line,
   * `extra` bytes at offset `value`); 0, 3, 4, 5 and 6 are final.
   */
  TcpConnector: new (callback: (count: number) => void, events: Int32Array, data: Uint8Array) => NativeTcpConnector;
  /**
   * A checker's probe socket with the options Node's net and dgram cannot set: a non-blocking,
   * close-on-exec TCP (or UDP) socket with SO_MARK `mark` (0: none) and SO_BINDTODEVICE `device`
   * ('': none), then bound to bindHost / bindPort if given; not connected. Returns its fd, which
   * the caller owns (net.Socket({ fd }), dgram bind({ fd })). Throws with `code` like the system
   * call that failed (EPERM without CAP_NET_ADMIN, ENODEV for an unknown device).
   */
  probeSocket(family: 4 | 6, udp: boolean, mark: number, device: string, bindHost: string, bindPort: number): number;
  /** A one-shot timerfd timer on the calling thread's loop; `callback` runs when it expires. */
  PreciseTimer: new (callback: () => void) => NativePreciseTimer;
  /**
   * A libuv signal watcher on the calling thread's loop (a worker hears the signal itself, not
   * through the main thread); unref'd. The signal's disposition becomes libuv's handler while any
   * watcher (or process.on listener) exists.
   */
  SignalWatch: new (signum: number, callback: (signum: number) => void) => NativeSignalWatch;
  /**
   * new ProcEvents(netnsPath = '', rcvBufBytes = 0, force = false): a NETLINK_CONNECTOR socket
   * bound to CN_IDX_PROC, created in the network namespace at netnsPath when one is given.
   */
  ProcEvents: new (netnsPath?: string, rcvBufBytes?: number, force?: boolean) => NativeProcEvents;
  /**
   * The connector's parse of a plain HTTP_GET response head (native/src/http_head.cc), exposed
   * for the property test that holds it to HttpResponseReader.
   */
  parsePlainHttpHead(bytes: Uint8Array): 'incomplete' | 'not plain' | { status: number; statusEnd: number; bodyStart: number; noBody: boolean; contentLength: number };
  /**
   * The connector's whole plain HTTP_GET judge (PlainJudge, native/src/http_head.cc) over these
   * reads, then the FIN if `fin`: the verdict, the read it came at (-1: the FIN), the status, the
   * status line's end in the first read, and the body bytes received when cut short (-1: not).
   * For the differential test that holds it to HttpResponseReader.
   */
  judgePlainHttp(
    reads: Uint8Array[],
    statusRanges: Int32Array,
    fin: boolean,
  ): { verdict: 'more' | 'not plain' | 'ok' | 'rejected' | 'end'; read: number; status: number; statusEnd: number; truncatedAt: number };
}

export interface NativeSignalWatch {
  close(): void;
  readonly closed: boolean;
}

export interface NativeTcpConnector {
  /**
   * Registers a target: its parsed addresses and, for an exchange, the request. Returns its id
   * for connect(); throws a TypeError if an address does not parse. Held until dropTarget(id).
   */
  target(
    family: 4 | 6,
    host: string,
    port: number,
    bindHost: string,
    bindPort: number,
    request?: Buffer,
    statusRanges?: Int32Array,
    /** SO_MARK for its sockets (0 or undefined: none). */
    mark?: number,
    /** SO_BINDTODEVICE for its sockets ('' or undefined: none). */
    device?: string,
  ): number;
  /** Forgets a target (exchanges in flight keep their request). */
  dropTarget(id: number): void;
  /**
   * Starts a connect (or, if the target has a request, an exchange: the request is sent and the
   * response reported as data) named `tag` (uint32, unique among the connections owing events);
   * throws (with `code`) if the socket cannot be made, bound or connected.
   */
  connect(target: number, tag: number): void;
  /** Abandons a connection that still owes events: closed at once, no more events. */
  cancel(tag: number): void;
  /** Ends an exchange: no more events; FIN, drain and close in the background. */
  finish(tag: number): void;
  /** 0 connecting, 1 sending the request, 2 reading the response (3: a plain HTTP_GET's body); -1 if the tag owes no events. */
  state(tag: number): number;
  /** Connections owing events plus finished ones still closing. */
  readonly pending: number;
  close(): void;
}

export interface NativePreciseTimer {
  /** (Re)arms the timer `delayMs` from now (fractions count; <= 0 fires on the next loop turn). */
  arm(delayMs: number): void;
  disarm(): void;
  close(): void;
  readonly closed: boolean;
}

/** Absolute path of the built addon (same from `src/net` and `dist/net`). */
export const NATIVE_ADDON_PATH = fileURLToPath(
  new URL('../../native/build/Release/vipkeeper_native.node', import.meta.url),
);

export class NativeAddonError extends Error {
  override readonly name = 'NativeAddonError';
}

let cached: NativeBinding | undefined;

/** The loaded addon; throws a NativeAddonError if it is not built or does not load. */
export function native(): NativeBinding {
  if (cached) return cached;
  if (!existsSync(NATIVE_ADDON_PATH)) {
    throw new NativeAddonError(
      `native addon not built: run npm ci (needs g++, make, python3); expected ${NATIVE_ADDON_PATH}`,
    );
  }
  const require = createRequire(import.meta.url);
  try {
    cached = require(NATIVE_ADDON_PATH) as NativeBinding;
  } catch (err) {
    throw new NativeAddonError(
      `native addon failed to load (${NATIVE_ADDON_PATH}): ${(err as Error).message}; ` +
        'rebuild it with npm ci (needs g++, make, python3)',
      { cause: err },
    );
  }
  return cached;
}

/** Interface index for a name; throws (code ENODEV) if there is no such interface. */
export function ifIndex(ifname: string): number {
  return native().ifIndex(ifname);
}

/** Interface name for an index; throws (code ENXIO) if there is none. */
export function ifName(ifindex: number): string {
  return native().ifName(ifindex);
}

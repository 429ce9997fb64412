/**
 * Typed wrapper around the addon's raw IP socket (AF_INET / AF_INET6,
 * SOCK_RAW, one IP protocol), e.g. VRRP (protocol 112) or ICMPv6 (58).
 *
 * Receiving is event-loop driven (uv_poll + recvmsg in the addon) and starts
 * when the first `onMessage` listener is added; it stops (and no longer keeps
 * the process alive) when the last one is removed or the socket is closed.
 *
 * Needs CAP_NET_RAW; errors from the kernel are thrown as Errors with
 * `code` ('EPERM', 'ENODEV', ...), `errno` and `syscall` set.
 */
import { native, type NativeRawIpSocket, type NativeRawMessage } from '../sys/addon.js';

export type IpFamily = 4 | 6;

export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_VRRP = 112;
export const VRRP_GROUP4 = '224.0.0.18';
export const VRRP_GROUP6 = 'ff02::12';
/** IPTOS_PREC_INTERNETCONTROL: what keepalived puts in TOS / traffic class. */
export const TOS_INTERNETCONTROL = 0xc0;

/**
 * A received datagram. `ttl` is the IPv4 TTL (read from the IP header, which
 * is stripped from `data`) or the IPv6 hop limit (also in `hopLimit`).
 */
export type RawMessage = NativeRawMessage;

export type RawMessageListener = (msg: RawMessage) => void;
export type RawErrorListener = (err: Error) => void;

export interface RawIpSocketOptions {
  family: IpFamily;
  protocol: number;
  /** SO_BINDTODEVICE: only receive on (and send through) this interface. */
  device?: string;
  /** Local address to bind (receive only datagrams to it; default source). */
  bindAddress?: string;
  /** SO_MARK on what it sends (needs CAP_NET_ADMIN); 0: none. */
  mark?: number;
  /** TTL / hop limit for unicast and multicast. */
  ttl?: number;
  /** IP_TOS / IPV6_TCLASS. */
  tos?: number;
  multicastLoop?: boolean;
  /** Default egress interface for multicast. */
  multicastInterface?: string;
  /** Multicast groups to join: [group, ifname]. */
  join?: ReadonlyArray<readonly [group: string, ifname: string]>;
}

export class RawIpSocket {
  readonly family: IpFamily;
  readonly protocol: number;
  readonly #sock: NativeRawIpSocket;
  readonly #messageListeners = new Set<RawMessageListener>();
  readonly #errorListeners = new Set<RawErrorListener>();
  #receiving = false;

  constructor(family: IpFamily, protocol: number) {
    if (family !== 4 && family !== 6) throw new TypeError(`family must be 4 or 6, got ${String(family)}`);
    this.family = family;
    this.protocol = protocol;
    this.#sock = new (native().RawIpSocket)(family, protocol);
  }

  /** Create a socket and apply the options; closes it again if any step fails. */
  static open(opts: RawIpSocketOptions): RawIpSocket {
    const s = new RawIpSocket(opts.family, opts.protocol);
    try {
      if (opts.mark !== undefined && opts.mark !== 0) s.setMark(opts.mark);
      if (opts.device !== undefined) s.bindToDevice(opts.device);
      if (opts.bindAddress !== undefined) s.bindAddress(opts.bindAddress);
      if (opts.ttl !== undefined) s.setTtl(opts.ttl);
      if (opts.tos !== undefined) s.setTos(opts.tos);
      if (opts.multicastLoop !== undefined) s.setMulticastLoop(opts.multicastLoop);
      if (opts.multicastInterface !== undefined) s.setMulticastInterface(opts.multicastInterface);
      for (const [group, ifname] of opts.join ?? []) s.joinMulticast(group, ifname);
    } catch (err) {
      s.close();
      throw err;
    }
    return s;
  }

  get closed(): boolean {
    return this.#sock.closed;
  }

  /** SO_BINDTODEVICE; '' or null removes the binding. */
  bindToDevice(ifname: string | null): this {
    this.#sock.bindToDevice(ifname);
    return this;
  }

  /** SO_MARK (uint32) on what it sends: policy routing and firewall rules see it. */
  setMark(mark: number): this {
    this.#sock.setMark(mark);
    return this;
  }

  /** bind(2) to a local address (IPv6 link-local: 'fe80::1%eth0'). */
  bindAddress(addr: string): this {
    this.#sock.bindAddress(addr);
    return this;
  }

  /** IP_ADD_MEMBERSHIP / IPV6_ADD_MEMBERSHIP on the given interface. */
  joinMulticast(group: string, ifname?: string): this {
    this.#sock.joinMulticast(group, ifname);
    return this;
  }

  leaveMulticast(group: string, ifname?: string): this {
    this.#sock.leaveMulticast(group, ifname);
    return this;
  }

  /** IP_MULTICAST_IF / IPV6_MULTICAST_IF; null resets to routing. */
  setMulticastInterface(ifname: string | null): this {
    this.#sock.setMulticastInterface(ifname);
    return this;
  }

  setMulticastLoop(on: boolean): this {
    this.#sock.setMulticastLoop(on);
    return this;
  }

  /**
   * IP_MULTICAST_ALL / IPV6_MULTICAST_ALL. The addon turns it off at creation
   * (like keepalived), so only groups joined on this socket are delivered.
   */
  setMulticastAll(on: boolean): this {
    this.#sock.setMulticastAll(on);
    return this;
  }

  /** IP_TTL + IP_MULTICAST_TTL, or IPV6_UNICAST_HOPS + IPV6_MULTICAST_HOPS. */
  setTtl(ttl: number): this {
    this.#sock.setTtl(ttl);
    return this;
  }

  /** IP_TOS or IPV6_TCLASS. */
  setTos(tos: number): this {
    this.#sock.setTos(tos);
    return this;
  }

  /** IPV6_CHECKSUM: the kernel fills in / verifies the checksum at `offset` (VRRPv3: 6); -1 disables. */
  setChecksumOffset(offset: number): this {
    this.#sock.setChecksumOffset(offset);
    return this;
  }

  /** ICMP6_FILTER: deliver only these ICMPv6 types (empty = receive nothing). ICMPv6 sockets only. */
  setIcmp6Filter(passTypes: readonly number[]): this {
    this.#sock.setIcmp6Filter([...passTypes]);
    return this;
  }

  /**
   * Send one datagram (the kernel builds the IP header). `ifname` and `src`
   * pick the egress interface and source address per packet (IP_PKTINFO /
   * IPV6_PKTINFO). Returns false if the send would block; throws otherwise.
   */
  send(data: Uint8Array, dst: string, ifname?: string, src?: string): boolean {
    return this.#sock.send(data, dst, ifname ?? null, src ?? null);
  }

  /** Listen for datagrams; starts receiving. Returns an unsubscribe function. */
  onMessage(listener: RawMessageListener): () => void {
    this.#messageListeners.add(listener);
    this.#updateReceiving();
    return () => {
      this.#messageListeners.delete(listener);
      this.#updateReceiving();
    };
  }

  /**
   * Listen for receive errors (e.g. an ICMP error reported on the socket).
   * With no error listener such an error is thrown as an uncaught exception.
   */
  onError(listener: RawErrorListener): () => void {
    this.#errorListeners.add(listener);
    return () => {
      this.#errorListeners.delete(listener);
    };
  }

  /** Let the receiving socket keep the event loop alive (default). */
  ref(): this {
    this.#sock.ref();
    return this;
  }

  /** Do not keep the event loop alive just for this socket. */
  unref(): this {
    this.#sock.unref();
    return this;
  }

  close(): void {
    this.#receiving = false;
    this.#messageListeners.clear();
    this.#errorListeners.clear();
    this.#sock.close();
  }

  #updateReceiving(): void {
    if (this.#sock.closed) return;
    const want = this.#messageListeners.size > 0;
    if (want && !this.#receiving) {
      this.#sock.startReceiving(this.#dispatch);
      this.#receiving = true;
    } else if (!want && this.#receiving) {
      this.#sock.stopReceiving();
      this.#receiving = false;
    }
  }

  readonly #dispatch = (err: Error | null, msg?: NativeRawMessage): void => {
    if (err) {
      if (this.#errorListeners.size === 0) throw err;
      for (const l of [...this.#errorListeners]) l(err);
      return;
    }
    if (!msg) return;
    for (const l of [...this.#messageListeners]) l(msg);
  };
}

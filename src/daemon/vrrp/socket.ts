/**
 * VRRP transport over raw IP sockets (IP protocol 112), wire-compatible with keepalived.
 *
 * - One raw socket per (interface, family) (plus the unicast TTL when an instance sets
 *   `unicast_ttl`), opened through the native addon: bound to the device (SO_BINDTODEVICE),
 *   joined to the multicast group(s) of its multicast instances on that interface (224.0.0.18 /
 *   ff02::12 or the configured group), TTL / hop limit 255, TOS / traffic class 0xC0, multicast
 *   loop off, IP_MULTICAST_ALL off (the addon's default). IPv6 sockets let the kernel fill in and
 *   verify the checksum (IPV6_CHECKSUM offset 6), as keepalived does.
 * - Sending: multicast instances send one packet to the group out of their interface; unicast
 *   instances send one packet per `unicast_peer` from `unicast_src_ip` (else the interface's
 *   primary address). The source is set per packet (IP_PKTINFO) because the VRRPv3/IPv4 checksum
 *   covers it.
 * - Receiving: the addon delivers the IP payload with the source, destination, TTL / hop limit
 *   and ingress interface. `AdvertDemux` (shared with the UDP transport) demultiplexes by VRID
 *   (and unicast/multicast, peer) to an instance, runs `validateAdvert` (keepalived's
 *   `vrrp_check_packet` order) and counts drops by reason.
 *
 * The transport is plain objects and callbacks: no globals, no logger, no clock. It can live in a
 * worker thread together with the runtime.
 */
import { AdvertDemux, StatsTable, advertDestinations, sumDrops, type DemuxHandlers, type InstanceTransportStats, type TransportInstance } from '../../vrrp/advert-demux.js';
import { type DropReason } from '../../vrrp/packet.js';
import { stripZone } from '../../vocab/ip.js';
import { RawIpSocket, type RawIpSocketOptions, type RawMessage } from '../../net/raw-socket.js';

/** IPTOS_PREC_INTERNETCONTROL, what keepalived puts in TOS / TCLASS. */
export const VRRP_TOS = 0xc0;
export const VRRP_PROTOCOL = 112;

// ------------------------------------------------------------------------------------------------
// Transport interface (shared by the raw and the UDP transport)

export interface TransportHandlers extends DemuxHandlers {
  /** Socket-level trouble (send failure, receive error); the transport keeps going. */
  onError?(err: Error, context: { instance?: string; socket?: string; op: 'send' | 'receive' }): void;
}

export interface TransportStats {
  kind: 'raw' | 'udp';
  sockets: string[];
  /** Packets no instance on that socket claims (another router's VRID). */
  unknownVrid: number;
  /** Drops by reason over all instances (including unknown VRIDs under `vrid`). */
  dropped: Record<DropReason, number>;
  instances: Record<string, InstanceTransportStats>;
}

export interface VrrpTransport {
  readonly kind: 'raw' | 'udp';
  /** Open the sockets and start receiving. Throws (with errno `code`) when a socket cannot be set up. */
  open(): Promise<void>;
  /** Send one advert of `instance` with `priority` to every destination (group or each peer). */
  send(instance: string, priority: number): void;
  /** Encodes the instance's adverts with each of `priorities` for every destination, sending nothing (warm-up). */
  warm?(instance: string, priorities: readonly number[]): void;
  /** Resolves once every queued advert has been handed to the kernel (raw sends are synchronous). */
  flush(): Promise<void>;
  stats(): TransportStats;
  /** Close every socket. Idempotent. */
  close(): void;
}

export type TransportFactory = (instances: readonly TransportInstance[], handlers: TransportHandlers) => VrrpTransport;

// ------------------------------------------------------------------------------------------------
// The raw-socket transport

/** The subset of `RawIpSocket` the transport uses (a fake can stand in for tests). */
export interface RawSocketLike {
  send(data: Uint8Array, dst: string, ifname?: string, src?: string): boolean;
  onMessage(listener: (msg: RawMessage) => void): () => void;
  onError(listener: (err: Error) => void): () => void;
  setChecksumOffset(offset: number): unknown;
  close(): void;
}

export interface RawTransportOptions {
  /** Opens a socket; default `RawIpSocket.open` (the native addon; needs CAP_NET_RAW). */
  openSocket?: (opts: RawIpSocketOptions) => RawSocketLike;
}

interface RawGroup {
  key: string;
  device: string | undefined;
  family: 4 | 6;
  ttl: number;
  instances: TransportInstance[];
  sock?: RawSocketLike;
  demux?: AdvertDemux;
}

export class RawVrrpTransport implements VrrpTransport {
  readonly kind = 'raw' as const;
  private readonly groups = new Map<string, RawGroup>();
  private readonly byInstance = new Map<string, RawGroup>();
  private readonly table = new StatsTable();
  private readonly openSocket: (opts: RawIpSocketOptions) => RawSocketLike;
  private closed = false;

  constructor(
    instances: readonly TransportInstance[],
    private readonly handlers: TransportHandlers,
    opts: RawTransportOptions = {},
  ) {
    this.openSocket = opts.openSocket ?? ((o) => RawIpSocket.open(o));
    for (const t of instances) {
      const w = t.wire;
      const ttl = w.unicastPeers.length > 0 ? w.unicastTtl : 255;
      const key = `${w.interface ?? '*'}/ipv${w.family}${ttl === 255 ? '' : `/ttl${ttl}`}`;
      let g = this.groups.get(key);
      if (!g) {
        g = { key, device: w.interface, family: w.family, ttl, instances: [] };
        this.groups.set(key, g);
      }
      g.instances.push(t);
      this.byInstance.set(w.name, g);
      this.table.of(w.name);
    }
  }

  async open(): Promise<void> {
    try {
      for (const g of this.groups.values()) {
        const joins = new Map<string, readonly [string, string]>();
        for (const t of g.instances) {
          if (t.wire.unicastPeers.length === 0 && g.device !== undefined) joins.set(t.wire.mcastGroup, [t.wire.mcastGroup, g.device]);
        }
        const sock = this.openSocket({
          family: g.family,
          protocol: VRRP_PROTOCOL,
          ...(g.device !== undefined ? { device: g.device, multicastInterface: g.device } : {}),
          ttl: g.ttl,
          tos: VRRP_TOS,
          multicastLoop: false,
          join: [...joins.values()],
        });
        g.sock = sock;
        if (g.family === 6) sock.setChecksumOffset(6);
        const demux = new AdvertDemux(g.instances, this.handlers, this.table.of);
        g.demux = demux;
        sock.onError((err) => this.handlers.onError?.(err, { socket: g.key, op: 'receive' }));
        sock.onMessage((m) => {
          if (m.truncated) return;
          demux.dispatch(m);
        });
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  warm(instance: string, priorities: readonly number[]): void {
    this.byInstance.get(instance)?.demux?.warm(instance, priorities);
  }

  send(instance: string, priority: number): void {
    const g = this.byInstance.get(instance);
    if (!g?.sock || !g.demux || this.closed) return;
    const t = g.instances.find((x) => x.wire.name === instance)!;
    const st = this.table.of(instance);
    for (const dst of advertDestinations(t.wire)) {
      try {
        const msg = g.demux.encode(instance, priority, dst);
        const ok = g.sock.send(msg, dst, g.device, stripZone(t.srcIp));
        if (ok) st.advertsSent++;
        else {
          st.sendErrors++;
          this.handlers.onError?.(Object.assign(new Error(`send to ${dst} would block (EAGAIN)`), { code: 'EAGAIN' }), { instance, socket: g.key, op: 'send' });
        }
      } catch (err) {
        st.sendErrors++;
        this.handlers.onError?.(err as Error, { instance, socket: g.key, op: 'send' });
      }
    }
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  stats(): TransportStats {
    const demuxes = [...this.groups.values()].flatMap((g) => (g.demux ? [g.demux] : []));
    return { kind: 'raw', sockets: [...this.groups.keys()], ...sumDrops(demuxes), instances: this.table.snapshot() };
  }

  close(): void {
    this.closed = true;
    for (const g of this.groups.values()) {
      try {
        g.sock?.close();
      } catch {
        // closing is best effort
      }
      delete g.sock;
    }
  }
}

export const createRawTransport: TransportFactory = (instances, handlers) => new RawVrrpTransport(instances, handlers);

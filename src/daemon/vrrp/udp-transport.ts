/**
 * VRRP over UDP — vipkeeper to vipkeeper ONLY. NOT interoperable with keepalived, routers or any
 * other VRRP implementation: real VRRP is IP protocol 112, and this puts the same VRRP message
 * (same codec, same checksum, same auth) in a UDP datagram to port `VRRP_UDP_PORT` instead.
 *
 * What it is for: hosts and containers without CAP_NET_RAW, where raw sockets are not allowed.
 * Select it with `vipkeeper run --transport udp` on EVERY node of the pair; a node on the raw
 * transport and a node on UDP do not see each other and both become MASTER.
 *
 * Differences from the raw transport (all because `node:dgram` cannot tell):
 * - no TTL / hop-limit check (the "TTL must be 255" protection against off-link senders is lost;
 *   use `unicast_peer` + `check_unicast_src` or a firewall instead);
 * - the destination address of a received datagram is not known: a multicast instance assumes its
 *   group, a unicast instance its own source address (what the peer's checksum used);
 * - no binding to a device: multicast groups are joined on the interface's address, and sends are
 *   serialised so each goes out of the right interface;
 * - GARP / VIP handling is unchanged (that part still needs CAP_NET_ADMIN and CAP_NET_RAW for the
 *   AF_PACKET GARPs; run without GARPs only where the network tolerates stale ARP caches).
 */
import dgram from 'node:dgram';
import { AdvertDemux, StatsTable, advertDestinations, sumDrops, type TransportInstance } from '../../vrrp/advert-demux.js';
import { stripZone } from '../../vocab/ip.js';
import type { TransportFactory, TransportHandlers, TransportStats, VrrpTransport } from './socket.js';

/** Default UDP port of the vipkeeper-only UDP transport (not a standard port; not VRRP). */
export const VRRP_UDP_PORT = 12112;

export interface UdpTransportOptions {
  port?: number;
}

interface Pending {
  msg: Buffer;
  dst: string;
  iface: string | undefined;
  instance: string;
}

interface FamilySocket {
  family: 4 | 6;
  sock: dgram.Socket;
  demux: AdvertDemux;
  queue: Pending[];
  sending: boolean;
}

export class UdpVrrpTransport implements VrrpTransport {
  readonly kind = 'udp' as const;
  readonly port: number;
  private readonly sockets = new Map<4 | 6, FamilySocket>();
  private readonly table = new StatsTable();
  private readonly byName = new Map<string, TransportInstance>();
  private closed = false;

  constructor(
    private readonly instances: readonly TransportInstance[],
    private readonly handlers: TransportHandlers,
    opts: UdpTransportOptions = {},
  ) {
    this.port = opts.port ?? VRRP_UDP_PORT;
    for (const t of instances) {
      this.byName.set(t.wire.name, t);
      this.table.of(t.wire.name);
    }
  }

  async open(): Promise<void> {
    try {
      for (const family of [4, 6] as const) {
        const mine = this.instances.filter((t) => t.wire.family === family);
        if (mine.length === 0) continue;
        const sock = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', reuseAddr: true });
        const demux = new AdvertDemux(mine, this.handlers, this.table.of);
        const fs: FamilySocket = { family, sock, demux, queue: [], sending: false };
        this.sockets.set(family, fs);
        sock.on('error', (err) => this.handlers.onError?.(err, { socket: `udp${family}`, op: 'receive' }));
        sock.on('message', (msg, rinfo) => {
          // Unknown destination: multicast instances assume their group, unicast ones their own address.
          demux.dispatch({ data: msg, src: rinfo.address, dst: (t) => (t.wire.unicastPeers.length > 0 ? t.srcIp : t.wire.mcastGroup), family });
        });
        await new Promise<void>((resolve, reject) => {
          sock.once('error', reject);
          sock.bind({ port: this.port, address: family === 4 ? '0.0.0.0' : '::' }, () => {
            sock.off('error', reject);
            resolve();
          });
        });
        sock.setMulticastTTL(255);
        sock.setMulticastLoopback(false);
        sock.setTTL(255);
        const joined = new Set<string>();
        for (const t of mine) {
          if (t.wire.unicastPeers.length > 0) continue;
          const iface = this.ifaceAddr(t);
          const key = `${t.wire.mcastGroup}@${iface}`;
          if (joined.has(key)) continue;
          joined.add(key);
          sock.addMembership(t.wire.mcastGroup, iface);
        }
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** The interface designation dgram wants: the IPv4 address, or `::%ifname` for IPv6. */
  private ifaceAddr(t: TransportInstance): string {
    if (t.wire.family === 4) return stripZone(t.srcIp);
    return `::%${t.wire.interface ?? ''}`;
  }

  warm(instance: string, priorities: readonly number[]): void {
    const t = this.byName.get(instance);
    if (t) this.sockets.get(t.wire.family)?.demux.warm(instance, priorities);
  }

  send(instance: string, priority: number): void {
    const t = this.byName.get(instance);
    if (!t || this.closed) return;
    const fs = this.sockets.get(t.wire.family);
    if (!fs) return;
    const st = this.table.of(instance);
    for (const dst of advertDestinations(t.wire)) {
      try {
        const msg = fs.demux.encode(instance, priority, dst);
        const multicast = t.wire.unicastPeers.length === 0;
        const target = t.wire.family === 6 && dst.startsWith('fe80') && t.wire.interface ? `${dst}%${t.wire.interface}` : dst;
        fs.queue.push({ msg, dst: target, iface: multicast ? this.ifaceAddr(t) : undefined, instance });
      } catch (err) {
        st.sendErrors++;
        this.handlers.onError?.(err as Error, { instance, op: 'send' });
      }
    }
    this.pump(fs);
  }

  /** Serialised sends: the multicast interface is a socket option, so one datagram at a time. */
  private pump(fs: FamilySocket): void {
    if (fs.sending || this.closed) return;
    const p = fs.queue.shift();
    if (!p) return;
    fs.sending = true;
    try {
      if (p.iface !== undefined) fs.sock.setMulticastInterface(p.iface);
      fs.sock.send(p.msg, this.port, p.dst, (err) => {
        fs.sending = false;
        const st = this.table.of(p.instance);
        if (err) {
          st.sendErrors++;
          this.handlers.onError?.(err, { instance: p.instance, op: 'send' });
        } else st.advertsSent++;
        this.pump(fs);
      });
    } catch (err) {
      fs.sending = false;
      this.table.of(p.instance).sendErrors++;
      this.handlers.onError?.(err as Error, { instance: p.instance, op: 'send' });
      this.pump(fs);
    }
  }

  async flush(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if ([...this.sockets.values()].every((s) => !s.sending && s.queue.length === 0)) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  stats(): TransportStats {
    const socks = [...this.sockets.values()];
    return {
      kind: 'udp',
      sockets: socks.map((s) => `udp${s.family}:${this.port}`),
      ...sumDrops(socks.map((s) => s.demux)),
      instances: this.table.snapshot(),
    };
  }

  close(): void {
    this.closed = true;
    for (const s of this.sockets.values()) {
      s.queue.length = 0;
      try {
        s.sock.close();
      } catch {
        // already closed
      }
    }
    this.sockets.clear();
  }
}

export function createUdpTransport(opts: UdpTransportOptions = {}): TransportFactory {
  return (instances, handlers) => new UdpVrrpTransport(instances, handlers, opts);
}

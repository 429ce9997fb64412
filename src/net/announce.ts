/**
 * Gratuitous ARP / unsolicited NA announcements for VIPs, keepalived style
 * (research/vrrp-facts.md §7; frames built in packet-socket.ts):
 *
 * - IPv4 VIP → one gratuitous ARP request (sender = target = VIP, broadcast)
 *   over AF_PACKET on the VIP's device (`vip.dev ?? defaultDev`).
 * - IPv6 VIP → one unsolicited NA to ff02::1, hop limit 255, Override flag
 *   (+ Router when IPv6 forwarding is on for the device, read each time),
 *   Target Link-Layer Address = the device MAC. By default sent as a complete
 *   frame over the same AF_PACKET socket, as keepalived does; this works even
 *   while the VIP is still tentative. `na: 'icmp6'` sends it over a raw ICMPv6
 *   socket instead (the kernel builds the IP header; the VIP must be
 *   configured and not tentative).
 *
 * One AF_PACKET socket per device, opened on first use and reused; a socket
 * whose send fails is closed and reopened next time (the device may have been
 * re-created). `close()` closes them all.
 *
 * Scheduling (garp_master_repeat / delay / refresh) belongs to the caller;
 * `announceBurst` sends `repeat` rounds `intervalMs` apart.
 */
import { isIPv4, isIPv6 } from 'node:net';

import type { Vip } from '../config/schema.js';
import { buildUnsolicitedNaFrame, ipv6Forwarding, NaSender, PacketSocket } from './packet-socket.js';

export interface AnnounceResult {
  /** Packets handed to the kernel. */
  sent: number;
  /** One message per packet that could not be sent. */
  errors: string[];
}

export interface Announcer {
  /** One gratuitous ARP per IPv4 VIP, one unsolicited NA per IPv6 VIP, each on the VIP's dev. */
  announce(vips: readonly Vip[], defaultDev: string): Promise<AnnounceResult>;
  close(): void;
}

/** The parts of PacketSocket / NaSender the announcer uses (injectable for tests). */
export interface AnnounceSockets {
  openPacket(ifname: string): Pick<PacketSocket, 'send' | 'macBytes' | 'sendGratuitousArp' | 'close'>;
  openNa(): Pick<NaSender, 'send' | 'close'>;
  /** IPv6 forwarding on the device (sets the NA Router flag). */
  forwarding(ifname: string): boolean;
}

export interface AnnouncerOptions {
  /** How to send NAs: a full frame over AF_PACKET (default, keepalived) or a raw ICMPv6 socket. */
  na?: 'frame' | 'icmp6';
  sockets?: AnnounceSockets;
}

const nativeSockets: AnnounceSockets = {
  openPacket: (ifname) => new PacketSocket(ifname),
  openNa: () => new NaSender(),
  forwarding: ipv6Forwarding,
};

export function createAnnouncer(opts: AnnouncerOptions = {}): Announcer {
  const sockets = opts.sockets ?? nativeSockets;
  const naMode = opts.na ?? 'frame';
  const packets = new Map<string, ReturnType<AnnounceSockets['openPacket']>>();
  let na: ReturnType<AnnounceSockets['openNa']> | undefined;
  let closed = false;

  function packet(ifname: string): ReturnType<AnnounceSockets['openPacket']> {
    let s = packets.get(ifname);
    if (!s) {
      s = sockets.openPacket(ifname);
      packets.set(ifname, s);
    }
    return s;
  }

  function drop(ifname: string): void {
    const s = packets.get(ifname);
    packets.delete(ifname);
    try {
      s?.close();
    } catch {
      // already unusable
    }
  }

  function sendOne(vip: Vip, ifname: string): boolean {
    const s = packet(ifname);
    if (isIPv4(vip.address)) return s.sendGratuitousArp(vip.address);
    const router = sockets.forwarding(ifname);
    if (naMode === 'icmp6') {
      na ??= sockets.openNa();
      return na.send(ifname, vip.address, { mac: s.macBytes(), router });
    }
    return s.send(buildUnsolicitedNaFrame(vip.address, s.macBytes(), { router }));
  }

  return {
    announce(vips, defaultDev) {
      if (closed) return Promise.reject(new Error('announcer is closed'));
      const result: AnnounceResult = { sent: 0, errors: [] };
      for (const vip of vips) {
        const ifname = vip.dev ?? defaultDev;
        const what = `${isIPv6(vip.address) ? 'unsolicited NA' : 'gratuitous ARP'} for ${vip.address} on ${ifname}`;
        if (!isIPv4(vip.address) && !isIPv6(vip.address)) {
          result.errors.push(`${what}: not an IP address`);
          continue;
        }
        try {
          if (sendOne(vip, ifname)) result.sent++;
          else result.errors.push(`${what}: socket buffer full (EAGAIN)`);
        } catch (err) {
          drop(ifname);
          result.errors.push(`${what}: ${(err as Error).message}`);
        }
      }
      return Promise.resolve(result);
    },
    close() {
      closed = true;
      for (const ifname of [...packets.keys()]) drop(ifname);
      try {
        na?.close();
      } finally {
        na = undefined;
      }
    },
  };
}

export type Sleep = (ms: number) => Promise<void>;

const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Send `repeat` announcement rounds for `vips`, `intervalMs` apart (no sleep
 * after the last), as keepalived's garp_master_repeat with
 * vrrp_garp_interval / vrrp_gna_interval spacing. Stops early when `signal`
 * aborts (e.g. the instance left MASTER: GARPs are only sent while the VIPs
 * are set). Returns the totals over all rounds.
 */
export async function announceBurst(
  announcer: Announcer,
  vips: readonly Vip[],
  dev: string,
  repeat: number,
  intervalMs: number,
  sleep: Sleep = realSleep,
  signal?: AbortSignal,
): Promise<AnnounceResult & { rounds: number }> {
  const total = { sent: 0, errors: [] as string[], rounds: 0 };
  for (let i = 0; i < repeat; i++) {
    if (signal?.aborted) break;
    if (i > 0 && intervalMs > 0) {
      await sleep(intervalMs);
      if (signal?.aborted) break;
    }
    const r = await announcer.announce(vips, dev);
    total.sent += r.sent;
    total.errors.push(...r.errors);
    total.rounds++;
  }
  return total;
}

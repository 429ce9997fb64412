/**
 * Gratuitous ARP / unsolicited NA announcements for VIPs, keepalived style
 * (docs/vrrp.md §7; frames built in packet-socket.ts):
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
import { buildGratuitousArp, buildUnsolicitedNaFrame, ipv6Forwarding, NaSender, PacketSocket } from './packet-socket.js';

export interface AnnounceResult {
  /** Packets handed to the kernel. */
  sent: number;
  /** One message per packet that could not be sent. */
  errors: string[];
}

export interface Announcer {
  /** One gratuitous ARP per IPv4 VIP, one unsolicited NA per IPv6 VIP, each on the VIP's dev. */
  announce(vips: readonly Vip[], defaultDev: string): Promise<AnnounceResult>;
  /**
   * Opens the devices' sockets and builds the frames for a few of `vips`, sending nothing, so
   * the first takeover runs warm code: V8 compiles lazily, and the first test of an IPv4 string
   * against Node's IPv6 pattern alone cost ~10 ms (bench/failover). Never throws.
   */
  warm(vips: readonly Vip[], defaultDev: string): void;
  /** Builds one frame per family, sending nothing: just before a takeover, to warm the caches. Never throws. */
  rehearse(vips: readonly Vip[], defaultDev: string): void;
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

const WARM_ROUNDS = 3;

export function createAnnouncer(opts: AnnouncerOptions = {}): Announcer {
  const sockets = opts.sockets ?? nativeSockets;
  const naMode = opts.na ?? 'frame';
  const packets = new Map<string, ReturnType<AnnounceSockets['openPacket']>>();
  let na: ReturnType<AnnounceSockets['openNa']> | undefined;
  let closed = false;
  /** `family device` pairs warm() has done. */
  const warmed = new Set<string>();

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

  /** The frames `sendOne` would send, built and dropped. */
  function buildFrames(sample: readonly Vip[], defaultDev: string): void {
    for (const vip of sample) {
      const ifname = vip.dev ?? defaultDev;
      try {
        const mac = packet(ifname).macBytes();
        if (isIPv4(vip.address)) buildGratuitousArp(vip.address, mac);
        else buildUnsolicitedNaFrame(vip.address, mac, { router: sockets.forwarding(ifname) });
      } catch {
        drop(ifname); // no such device yet: the first announce opens it
      }
    }
  }

  return {
    announce(vips, defaultDev) {
      if (closed) return Promise.reject(new Error('announcer is closed'));
      const result: AnnounceResult = { sent: 0, errors: [] };
      for (const vip of vips) {
        const ifname = vip.dev ?? defaultDev;
        // IPv4 first: an IPv4 VIP never meets the (much larger) IPv6 pattern
        const family = isIPv4(vip.address) ? 4 : isIPv6(vip.address) ? 6 : 0;
        const what = `${family === 6 ? 'unsolicited NA' : 'gratuitous ARP'} for ${vip.address} on ${ifname}`;
        if (family === 0) {
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
    warm(vips, defaultDev) {
      if (closed) return;
      // the code is the same for every instance: two VIPs per family and device are enough, once
      const fresh = (v: Vip, fam: 4 | 6) => !warmed.has(`${fam} ${v.dev ?? defaultDev}`);
      const sample = [...vips.filter((v) => isIPv4(v.address) && fresh(v, 4)).slice(0, 2), ...vips.filter((v) => isIPv6(v.address) && fresh(v, 6)).slice(0, 2)];
      for (const v of sample) warmed.add(`${isIPv4(v.address) ? 4 : 6} ${v.dev ?? defaultDev}`);
      // a few rounds: V8 runs new code (and regexps) interpreted before it compiles them
      for (let round = 0; round < WARM_ROUNDS; round++) buildFrames(sample, defaultDev);
    },
    rehearse(vips, defaultDev) {
      if (closed) return;
      const v4 = vips.find((v) => isIPv4(v.address));
      const v6 = vips.find((v) => !isIPv4(v.address));
      buildFrames(v4 && v6 ? [v4, v6] : v4 ? [v4] : v6 ? [v6] : [], defaultDev);
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

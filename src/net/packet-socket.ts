/**
 * Gratuitous ARP and unsolicited Neighbour Advertisements, keepalived style
 * (vrrp_arp.c / vrrp_ndisc.c; see docs/vrrp.md §7):
 *
 * - GARP: Ethernet broadcast, ARP *request* (op 1), sender = target = VIP,
 *   target MAC ff:ff:ff:ff:ff:ff, sent over AF_PACKET on the VIP's interface.
 * - Unsolicited NA: ICMPv6 type 136 from the VIP to ff02::1, hop limit 255,
 *   Override flag (+ Router when IPv6 forwarding is on for the interface),
 *   Solicited clear, with a Target Link-Layer Address option. Sent over a raw
 *   ICMPv6 socket (the kernel computes the checksum), or as a complete frame
 *   over AF_PACKET via `buildUnsolicitedNaFrame` (checksum computed here).
 */
import { readFileSync } from 'node:fs';
import { ipBytes } from '../vocab/ip.js';

import { native, type NativePacketSocket } from '../sys/addon.js';
import { IPPROTO_ICMPV6, RawIpSocket } from './raw-socket.js';

export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
export const ICMPV6_NEIGHBOR_ADVERT = 136;
export const NA_FLAG_ROUTER = 0x80;
export const NA_FLAG_SOLICITED = 0x40;
export const NA_FLAG_OVERRIDE = 0x20;
export const ALL_NODES6 = 'ff02::1';

const BROADCAST_MAC = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const ALL_NODES_MAC = Buffer.from([0x33, 0x33, 0x00, 0x00, 0x00, 0x01]);

export type MacInput = string | Uint8Array;

/**
 * Send-only AF_PACKET socket on one interface. Needs CAP_NET_RAW. Keep one
 * open per interface: closing an AF_PACKET socket waits for an RCU grace
 * period in the kernel (milliseconds, blocking the event loop).
 */
export class PacketSocket {
  readonly #sock: NativePacketSocket;

  constructor(ifname: string) {
    this.#sock = new (native().PacketSocket)(ifname);
  }

  get ifname(): string {
    return this.#sock.ifname;
  }

  get closed(): boolean {
    return this.#sock.closed;
  }

  /** Send a complete Ethernet frame. False if it would block; throws otherwise. */
  send(frame: Uint8Array): boolean {
    return this.#sock.send(frame);
  }

  /** The interface MAC as 'aa:bb:cc:dd:ee:ff'. */
  mac(): string {
    return formatMac(this.#sock.mac());
  }

  /** The interface MAC as 6 bytes. */
  macBytes(): Buffer {
    return this.#sock.mac();
  }

  /** Send one gratuitous ARP for `vip` from this interface's MAC (or `mac`). */
  sendGratuitousArp(vip: string, mac?: MacInput): boolean {
    return this.send(buildGratuitousArp(vip, mac ?? this.#sock.mac()));
  }

  close(): void {
    this.#sock.close();
  }
}

/**
 * Sends unsolicited NAs over a raw ICMPv6 socket (hop limit 255, receives
 * nothing). The VIP must already be configured (and not tentative — add VIPs
 * with `nodad`) on the interface, since it is used as the source address.
 */
export class NaSender {
  readonly #sock: RawIpSocket;

  constructor() {
    this.#sock = new RawIpSocket(6, IPPROTO_ICMPV6);
    try {
      this.#sock.setTtl(255).setIcmp6Filter([]).setMulticastLoop(false);
    } catch (err) {
      this.#sock.close();
      throw err;
    }
  }

  /**
   * Send one unsolicited NA for `vip` out of `ifname` to ff02::1. `mac`
   * defaults to the interface MAC; `router` defaults to the interface's
   * IPv6 forwarding setting (as keepalived does).
   */
  send(ifname: string, vip: string, opts: { mac?: MacInput; router?: boolean } = {}): boolean {
    const mac = opts.mac ?? interfaceMac(ifname);
    const router = opts.router ?? ipv6Forwarding(ifname);
    return this.#sock.send(buildUnsolicitedNa(vip, mac, { router }), ALL_NODES6, ifname, vip);
  }

  close(): void {
    this.#sock.close();
  }
}

/**
 * One-shot gratuitous ARP on `ifname`. Opens and closes an AF_PACKET socket,
 * which costs milliseconds; for repeated bursts keep a PacketSocket.
 */
export function sendGratuitousArp(ifname: string, vip: string, opts: { mac?: MacInput } = {}): boolean {
  const s = new PacketSocket(ifname);
  try {
    return s.sendGratuitousArp(vip, opts.mac);
  } finally {
    s.close();
  }
}

/** One-shot unsolicited NA on `ifname` (opens and closes a raw ICMPv6 socket). */
export function sendUnsolicitedNa(
  ifname: string,
  vip: string,
  opts: { mac?: MacInput; router?: boolean } = {},
): boolean {
  const s = new NaSender();
  try {
    return s.send(ifname, vip, opts);
  } finally {
    s.close();
  }
}

/** The current MAC of an Ethernet interface, as 6 bytes. */
export function interfaceMac(ifname: string): Buffer {
  return native().ifMac(ifname);
}

/** /proc/sys/net/ipv6/conf/IF/forwarding (false when unreadable). */
export function ipv6Forwarding(ifname: string): boolean {
  try {
    return readFileSync(`/proc/sys/net/ipv6/conf/${ifname}/forwarding`, 'utf8').trim() !== '0';
  } catch {
    return false;
  }
}

/** 42-byte Ethernet + ARP gratuitous request (no padding, like keepalived). */
export function buildGratuitousArp(vip: string, mac: MacInput): Buffer {
  const m = macBytes(mac);
  const ip = ipBytes(vip, 4);
  const f = Buffer.alloc(42);
  BROADCAST_MAC.copy(f, 0); // eth dst
  m.copy(f, 6); // eth src
  f.writeUInt16BE(ETH_P_ARP, 12);
  f.writeUInt16BE(1, 14); // htype Ethernet
  f.writeUInt16BE(0x0800, 16); // ptype IPv4
  f[18] = 6; // hlen
  f[19] = 4; // plen
  f.writeUInt16BE(1, 20); // op REQUEST
  m.copy(f, 22); // sender MAC
  ip.copy(f, 28); // sender IP = VIP
  BROADCAST_MAC.copy(f, 32); // target MAC ff:ff:ff:ff:ff:ff
  ip.copy(f, 38); // target IP = VIP
  return f;
}

/**
 * The 32-byte ICMPv6 NA message (checksum 0: the kernel fills it in on raw
 * ICMPv6 sockets): Override set, Solicited clear, Router per `opts.router`,
 * target = VIP, option 2 (Target Link-Layer Address) = `mac`.
 */
export function buildUnsolicitedNa(vip: string, mac: MacInput, opts: { router?: boolean } = {}): Buffer {
  const b = Buffer.alloc(32);
  b[0] = ICMPV6_NEIGHBOR_ADVERT;
  b[1] = 0; // code
  // b[2..3] checksum
  b[4] = NA_FLAG_OVERRIDE | (opts.router ? NA_FLAG_ROUTER : 0);
  ipBytes(vip, 6).copy(b, 8); // target
  b[24] = 2; // option: Target Link-Layer Address
  b[25] = 1; // length in units of 8 bytes
  macBytes(mac).copy(b, 26);
  return b;
}

/**
 * A complete Ethernet + IPv6 + ICMPv6 NA frame (86 bytes) for AF_PACKET, as
 * keepalived builds it: 33:33:00:00:00:01, src VIP, dst ff02::1, hop limit
 * 255, checksum computed. `mac` is both the Ethernet source and the option.
 */
export function buildUnsolicitedNaFrame(vip: string, mac: MacInput, opts: { router?: boolean } = {}): Buffer {
  const m = macBytes(mac);
  const icmp = buildUnsolicitedNa(vip, m, opts);
  const src = ipBytes(vip, 6);
  const dst = ipBytes(ALL_NODES6, 6);
  icmp.writeUInt16BE(icmpv6Checksum(src, dst, icmp), 2);
  const f = Buffer.alloc(14 + 40 + icmp.length);
  ALL_NODES_MAC.copy(f, 0);
  m.copy(f, 6);
  f.writeUInt16BE(ETH_P_IPV6, 12);
  f.writeUInt32BE(0x60000000, 14); // version 6, traffic class 0, flow 0
  f.writeUInt16BE(icmp.length, 18); // payload length
  f[20] = IPPROTO_ICMPV6; // next header
  f[21] = 255; // hop limit
  src.copy(f, 22);
  dst.copy(f, 38);
  icmp.copy(f, 54);
  return f;
}

/** RFC 4443 §2.3 checksum over the IPv6 pseudo-header and the message (checksum field zero). */
export function icmpv6Checksum(src: Uint8Array, dst: Uint8Array, msg: Uint8Array): number {
  let sum = 0;
  const add = (b: Uint8Array): void => {
    for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (i + 1 < b.length ? b[i + 1]! : 0);
  };
  add(src);
  add(dst);
  sum += (msg.length >>> 16) + (msg.length & 0xffff);
  sum += IPPROTO_ICMPV6;
  add(msg);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function macBytes(mac: MacInput): Buffer {
  if (typeof mac !== 'string') {
    if (mac.length !== 6) throw new TypeError(`MAC must be 6 bytes, got ${mac.length}`);
    return Buffer.from(mac);
  }
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new TypeError(`invalid MAC address: ${mac}`);
  }
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}


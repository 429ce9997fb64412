// IP packets out of a capture file, for fuzz seeds: classic pcap (either byte order, µs or ns)
// and pcapng (section header, interface description, enhanced and simple packet blocks), with
// the link layers tshark and tcpdump write on Linux: Ethernet (VLAN tags skipped), Linux cooked
// (SLL, SLL2), raw IP, BSD loopback. Also a text file of hex packets, one a line ('#' comments).

/** An IP packet (IPv4 or IPv6 header first) from a capture. */
export type IpPacket = Uint8Array;

const LINK_ETHERNET = 1;
const LINK_NULL = 0;
const LINK_RAW = 101;
const LINK_LINUX_SLL = 113;
const LINK_IPV4 = 228;
const LINK_IPV6 = 229;
const LINK_LINUX_SLL2 = 276;

/** The IP packet inside a frame of `linkType`, or undefined for anything else. */
export function ipOfFrame(linkType: number, frame: Uint8Array): IpPacket | undefined {
  let ethertype: number | undefined;
  let at = 0;
  switch (linkType) {
    case LINK_ETHERNET: {
      if (frame.length < 14) return undefined;
      at = 12;
      ethertype = (frame[at]! << 8) | frame[at + 1]!;
      at += 2;
      while ((ethertype === 0x8100 || ethertype === 0x88a8) && frame.length >= at + 4) {
        ethertype = (frame[at + 2]! << 8) | frame[at + 3]!;
        at += 4;
      }
      break;
    }
    case LINK_LINUX_SLL:
      if (frame.length < 16) return undefined;
      ethertype = (frame[14]! << 8) | frame[15]!;
      at = 16;
      break;
    case LINK_LINUX_SLL2:
      if (frame.length < 20) return undefined;
      ethertype = (frame[0]! << 8) | frame[1]!;
      at = 20;
      break;
    case LINK_NULL:
      if (frame.length < 4) return undefined;
      at = 4;
      break;
    case LINK_RAW:
    case LINK_IPV4:
    case LINK_IPV6:
      break;
    default:
      return undefined;
  }
  if (ethertype !== undefined && ethertype !== 0x0800 && ethertype !== 0x86dd) return undefined;
  const ip = frame.subarray(at);
  const v = ip.length ? ip[0]! >> 4 : 0;
  return v === 4 || v === 6 ? ip : undefined;
}

/** Every IP packet of a pcap or pcapng file. Throws on a file that is neither. */
export function readCapture(file: Uint8Array): IpPacket[] {
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (b.length < 4) throw new Error('not a capture: too short');
  const magic = b.readUInt32LE(0);
  if (magic === 0x0a0d0d0a) return readPcapng(b);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const be = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  if (!le && !be) throw new Error(`not a pcap or pcapng file (magic 0x${magic.toString(16)})`);
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  if (b.length < 24) throw new Error('pcap: truncated file header');
  const linkType = u32(20) & 0xffff;
  const out: IpPacket[] = [];
  for (let off = 24; off + 16 <= b.length; ) {
    const caplen = u32(off + 8);
    const start = off + 16;
    if (start + caplen > b.length) break;
    const ip = ipOfFrame(linkType, b.subarray(start, start + caplen));
    if (ip) out.push(ip);
    off = start + caplen;
  }
  return out;
}

function readPcapng(b: Buffer): IpPacket[] {
  const out: IpPacket[] = [];
  let le = true;
  let links: number[] = [];
  for (let off = 0; off + 12 <= b.length; ) {
    let type = le ? b.readUInt32LE(off) : b.readUInt32BE(off);
    if (type === 0x0a0d0d0a) {
      // section header: its byte-order magic decides how the rest of the section reads
      const bom = b.readUInt32LE(off + 8);
      le = bom === 0x1a2b3c4d;
      if (!le && bom !== 0x4d3c2b1a) throw new Error('pcapng: bad byte-order magic');
      links = [];
      type = 0x0a0d0d0a;
    }
    const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const len = u32(off + 4);
    if (len < 12 || off + len > b.length) break;
    if (type === 1) links.push((le ? b.readUInt16LE(off + 8) : b.readUInt16BE(off + 8)));
    else if (type === 6 && len >= 32) {
      const iface = u32(off + 8);
      const caplen = u32(off + 20);
      const ip = ipOfFrame(links[iface] ?? -1, b.subarray(off + 28, Math.min(off + 28 + caplen, off + len - 4)));
      if (ip) out.push(ip);
    } else if (type === 3 && len >= 16) {
      const caplen = u32(off + 8);
      const ip = ipOfFrame(links[0] ?? -1, b.subarray(off + 12, Math.min(off + 12 + caplen, off + len - 4)));
      if (ip) out.push(ip);
    }
    off += len;
  }
  return out;
}

/** Hex packets, one a line (whitespace and ':' ignored, '#' starts a comment): IP packets or Ethernet frames. */
export function readHexPackets(text: string): IpPacket[] {
  const out: IpPacket[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').replace(/[\s:]/g, '');
    if (!line) continue;
    if (!/^([0-9a-fA-F]{2})+$/.test(line)) throw new Error(`not a hex packet: ${raw.slice(0, 60)}`);
    const bytes = Buffer.from(line, 'hex');
    const v = bytes[0]! >> 4;
    const ip = v === 4 || v === 6 ? bytes : ipOfFrame(LINK_ETHERNET, bytes);
    if (ip) out.push(ip);
  }
  return out;
}

/** True for an IP packet that carries VRRP (protocol / next header 112, or 51 over IPv4). */
export function isVrrp(ip: IpPacket): boolean {
  const v = ip[0]! >> 4;
  if (v === 4) return ip.length >= 20 && (ip[9] === 112 || ip[9] === 51);
  return ip.length >= 40 && ip[6] === 112;
}

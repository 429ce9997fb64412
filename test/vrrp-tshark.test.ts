/**
 * Cross-check of the encoder against Wireshark's VRRP dissector: adverts are encoded,
 * written to a classic libpcap file (Ethernet link type) and decoded with `tshark`,
 * which must report checksum status Good (1) for v2, v3/IPv4 (pseudo-header) and
 * v3/IPv6, and the same field values we encoded.
 *
 * tshark is required: CI installs it (Debian package `tshark`). If it is missing this
 * file fails, it never skips.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeIpv4Packet, encodeIpv6Packet, type EncodeContext } from '../src/vrrp/codec.js';
import { isMulticastIp, parseIp } from '../src/vocab/ip.js';
import { passwordAuthData, type VrrpAdvert } from '../src/vrrp/packet.js';

const TSHARK = process.env.TSHARK ?? 'tshark';
/** Wireshark's checksum status values (proto_checksum_enum_e). */
const BAD = '0';
const GOOD = '1';

interface Sample {
  name: string;
  advert: VrrpAdvert;
  ctx: EncodeContext;
  /** Flip a checksum bit after encoding. */
  corrupt?: boolean;
}

const SAMPLES: Sample[] = [
  {
    name: 'v2, like the lab master',
    advert: { version: 2, type: 1, family: 4, vrid: 51, priority: 150, addresses: ['10.99.0.100'], advertIntervalS: 1 },
    ctx: { src: '10.99.0.11', dst: '224.0.0.18' },
  },
  {
    name: 'v2 PASS, 3 addresses',
    advert: {
      version: 2,
      type: 1,
      family: 4,
      vrid: 7,
      priority: 200,
      addresses: ['192.168.200.16', '192.168.200.17', '192.168.200.18'],
      advertIntervalS: 5,
      authType: 1,
      authData: passwordAuthData('secret'),
    },
    ctx: { src: '192.168.200.2', dst: '224.0.0.18' },
  },
  {
    name: 'v2 priority 0',
    advert: { version: 2, type: 1, family: 4, vrid: 51, priority: 0, addresses: ['10.99.0.100'], advertIntervalS: 1 },
    ctx: { src: '10.99.0.11', dst: '224.0.0.18' },
  },
  {
    name: 'v3 IPv4 multicast, 2 addresses',
    advert: { version: 3, type: 1, family: 4, vrid: 51, priority: 150, addresses: ['10.99.0.100', '10.99.0.101'], advertIntervalCs: 100 },
    ctx: { src: '10.99.0.11', dst: '224.0.0.18' },
  },
  {
    name: 'v3 IPv4 unicast',
    advert: { version: 3, type: 1, family: 4, vrid: 52, priority: 100, addresses: ['10.99.0.100'], advertIntervalCs: 10 },
    ctx: { src: '10.99.0.11', dst: '10.99.0.12' },
  },
  {
    name: 'v3 IPv4, no addresses, max interval',
    advert: { version: 3, type: 1, family: 4, vrid: 255, priority: 255, addresses: [], advertIntervalCs: 4095 },
    ctx: { src: '10.99.0.11', dst: '224.0.0.18' },
  },
  {
    name: 'v3 IPv6 multicast, 3 addresses',
    advert: { version: 3, type: 1, family: 6, vrid: 51, priority: 150, addresses: ['fe80::100', '2001:db8::100', '2001:db8::1:0:0:1'], advertIntervalCs: 100 },
    ctx: { src: 'fe80::11', dst: 'ff02::12' },
  },
  {
    name: 'v3 IPv6 unicast',
    advert: { version: 3, type: 1, family: 6, vrid: 9, priority: 1, addresses: ['fe80::9'], advertIntervalCs: 1 },
    ctx: { src: '2001:db8::11', dst: '2001:db8::12' },
  },
  {
    name: 'v3 IPv4 message-only (v3_checksum_as_v2)',
    advert: { version: 3, type: 1, family: 4, vrid: 51, priority: 200, addresses: ['192.0.2.100'], advertIntervalCs: 100 },
    ctx: { src: '198.51.100.10', dst: '224.0.0.18', v3ChecksumAsV2: true },
  },
  {
    name: 'v2 corrupted',
    advert: { version: 2, type: 1, family: 4, vrid: 51, priority: 150, addresses: ['10.99.0.100'], advertIntervalS: 1 },
    ctx: { src: '10.99.0.11', dst: '224.0.0.18' },
    corrupt: true,
  },
  {
    name: 'v3 IPv6 corrupted',
    advert: { version: 3, type: 1, family: 6, vrid: 51, priority: 150, addresses: ['fe80::100'], advertIntervalCs: 100 },
    ctx: { src: 'fe80::11', dst: 'ff02::12' },
    corrupt: true,
  },
];

function ethernetFor(dst: string, family: 4 | 6): Buffer {
  const d = parseIp(dst)!.bytes;
  const dstMac = !isMulticastIp(dst)
    ? Buffer.from([0x02, 0, 0, 0, 0, 0x02])
    : family === 4
      ? Buffer.from([0x01, 0x00, 0x5e, d[1]! & 0x7f, d[2]!, d[3]!])
      : Buffer.from([0x33, 0x33, d[12]!, d[13]!, d[14]!, d[15]!]);
  const srcMac = Buffer.from([0x02, 0, 0, 0, 0, 0x01]);
  const type = Buffer.alloc(2);
  type.writeUInt16BE(family === 4 ? 0x0800 : 0x86dd);
  return Buffer.concat([dstMac, srcMac, type]);
}

function frameOf(s: Sample, i: number): Buffer {
  const ip = s.advert.family === 4 ? encodeIpv4Packet(s.advert, { ...s.ctx, id: i + 1 }) : encodeIpv6Packet(s.advert, s.ctx);
  if (s.corrupt) {
    const vrrpAt = s.advert.family === 4 ? 20 : 40;
    ip[vrrpAt + 7] = ip[vrrpAt + 7]! ^ 0x01;
  }
  return Buffer.concat([ethernetFor(s.ctx.dst, s.advert.family), ip]);
}

/** Classic libpcap: 24-byte global header (LINKTYPE_ETHERNET) + 16-byte record headers. */
function pcapOf(frames: Buffer[]): Buffer {
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0);
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeInt32LE(0, 8);
  global.writeUInt32LE(0, 12);
  global.writeUInt32LE(65535, 16);
  global.writeUInt32LE(1, 20);
  const records = frames.map((f, i) => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(1_700_000_000 + i, 0);
    h.writeUInt32LE(0, 4);
    h.writeUInt32LE(f.length, 8);
    h.writeUInt32LE(f.length, 12);
    return Buffer.concat([h, f]);
  });
  return Buffer.concat([global, ...records]);
}

const FIELDS = [
  'frame.number',
  'ip.checksum.status',
  'vrrp.version',
  'vrrp.type',
  'vrrp.virt_rtr_id',
  'vrrp.prio',
  'vrrp.addr_count',
  'vrrp.checksum',
  'vrrp.checksum.status',
  'vrrp.ip_addr',
  'vrrp.ipv6_addr',
  'vrrp.adver_int',
  'vrrp.short_adver_int',
  'vrrp.auth_type',
  'vrrp.auth_string',
] as const;
type Row = Record<(typeof FIELDS)[number], string>;

function runTshark(file: string, checksumAsV2: boolean): Row[] {
  const args = ['-r', file, '-n', '-T', 'fields', '-E', 'separator=/t', '-E', 'aggregator=,', '-o', 'ip.check_checksum:TRUE'];
  args.push('-o', `vrrp.v3_checksum_as_in_v2:${checksumAsV2 ? 'TRUE' : 'FALSE'}`);
  for (const f of FIELDS) args.push('-e', f);
  const r = spawnSync(TSHARK, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`Cannot run ${TSHARK}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${TSHARK} exited with ${r.status}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const cols = line.split('\t');
      return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ?? ''])) as Row;
    });
}

describe('tshark decodes our adverts', () => {
  let dir = '';
  let file = '';
  let plain: Row[] = [];
  let asV2: Row[] = [];

  beforeAll(() => {
    const probe = spawnSync(TSHARK, ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      throw new Error(
        `tshark is required for this test and was not found (${probe.error?.message ?? `exit ${probe.status}`}). ` +
          'Install it: apt-get install tshark (CI does).',
      );
    }
    dir = mkdtempSync(join(tmpdir(), 'vrrp-tshark-'));
    file = join(dir, 'adverts.pcap');
    writeFileSync(file, pcapOf(SAMPLES.map(frameOf)));
    plain = runTshark(file, false);
    asV2 = runTshark(file, true);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sees every frame as VRRP', () => {
    expect(plain).toHaveLength(SAMPLES.length);
    expect(plain.map((r) => r['vrrp.version'])).toEqual(SAMPLES.map((s) => String(s.advert.version)));
  });

  it.each(SAMPLES.map((s, i) => [s.name, i] as const))('%s: fields as encoded', (_name, i) => {
    const s = SAMPLES[i]!;
    const row = plain[i]!;
    const a = s.advert;
    expect(row['vrrp.type']).toBe('1');
    expect(row['vrrp.virt_rtr_id']).toBe(String(a.vrid));
    expect(row['vrrp.prio']).toBe(String(a.priority));
    expect(row['vrrp.addr_count']).toBe(String(a.addresses.length));
    expect(row[a.family === 4 ? 'vrrp.ip_addr' : 'vrrp.ipv6_addr']).toBe(a.addresses.join(','));
    if (a.version === 2) {
      expect(row['vrrp.adver_int']).toBe(String(a.advertIntervalS));
      expect(row['vrrp.auth_type']).toBe(String(a.authType ?? 0));
      if (a.authType === 1) expect(row['vrrp.auth_string']).toBe('secret');
    } else {
      expect(row['vrrp.short_adver_int']).toBe(String(a.advertIntervalCs));
    }
    if (a.family === 4) expect(row['ip.checksum.status']).toBe(GOOD);
  });

  it('checksum status with the default preference (pseudo-header for v3): Good for v2, v3/IPv4, v3/IPv6', () => {
    const expected = SAMPLES.map((s) => (s.corrupt || s.ctx.v3ChecksumAsV2 ? BAD : GOOD));
    expect(plain.map((r) => r['vrrp.checksum.status'])).toEqual(expected);
  });

  it('checksum status with vrrp.v3_checksum_as_in_v2: the message-only v3/IPv4 advert is Good, IPv6 unaffected', () => {
    const messageOnly = SAMPLES.findIndex((s) => s.ctx.v3ChecksumAsV2);
    expect(asV2[messageOnly]!['vrrp.checksum.status']).toBe(GOOD);
    SAMPLES.forEach((s, i) => {
      const status = asV2[i]!['vrrp.checksum.status'];
      if (s.advert.version === 2) expect(status, s.name).toBe(s.corrupt ? BAD : GOOD);
      else if (s.advert.family === 4 && !s.ctx.v3ChecksumAsV2) expect(status, s.name).toBe(BAD);
      // Like keepalived, Wireshark applies the preference to IPv4 only.
      else if (s.advert.family === 6) expect(status, s.name).toBe(s.corrupt ? BAD : GOOD);
    });
  });
});

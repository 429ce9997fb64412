// The VRRP decoder fuzz, as a library (bench/fuzz/vrrp.ts runs it from the command line,
// test/vrrp-fuzz.test.ts runs a short round in the suite): seed packets, mutations that reach
// past the checksum (lengths and checksums are fixed up after most mutations), and the
// comparison of the decoder (decodeIpAdvert, src/vrrp/codec.ts) with the independent oracle
// (vrrp-oracle.ts) on every packet.
import { decodeIpAdvert, encodeIpv4Packet, encodeIpv6Packet } from '../../src/vrrp/codec.js';
import type { VrrpAdvert } from '../../src/vrrp/packet.js';
import { checksumFor, ipv4Pseudo, ipv6Pseudo, oracle, type OracleNote, type OracleRule, type OracleVerdict } from './vrrp-oracle.js';
import { seededRandom } from '../../lab/rng.js';

// ---------------------------------------------------------------- deterministic randomness

/** A seeded PRNG (lab/rng.ts), so that a run and its disagreements can be replayed. */
export class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

// ---------------------------------------------------------------- seeds

/**
 * Packets from the encoder (src/vrrp/codec.ts), one per kind the daemon meets: VRRPv2 with and
 * without a password, VRRPv3 over IPv4 and IPv6, multicast and unicast, keepalived's old unicast
 * checksum, several address counts, a VRRPv3 Max Adver Int of 0.
 */
export function encoderSeeds(): Uint8Array[] {
  const v2 = (o: Partial<VrrpAdvert> & { addresses: string[] }): VrrpAdvert => ({ version: 2, type: 1, family: 4, vrid: 51, priority: 150, advertIntervalS: 1, authType: 0, ...o }) as VrrpAdvert;
  const v3 = (family: 4 | 6, o: Partial<VrrpAdvert> & { addresses: string[] }): VrrpAdvert => ({ version: 3, type: 1, family, vrid: 51, priority: 150, advertIntervalCs: 100, ...o }) as VrrpAdvert;
  const pass = Buffer.from('secret\0\0');
  const out: Uint8Array[] = [
    encodeIpv4Packet(v2({ addresses: ['10.97.0.100'] }), { src: '10.97.0.1', dst: '224.0.0.18', id: 1 }),
    encodeIpv4Packet(v2({ addresses: ['10.97.0.100', '10.97.0.101', '192.0.2.7'], authType: 1, authData: pass, priority: 100 }), { src: '10.97.0.2', dst: '224.0.0.18', id: 2 }),
    encodeIpv4Packet(v2({ addresses: ['10.97.0.100'], advertIntervalS: 3 }), { src: '10.97.0.1', dst: '10.97.0.2', id: 3 }),
    encodeIpv4Packet(v3(4, { addresses: ['10.97.0.100'] }), { src: '10.97.0.1', dst: '224.0.0.18', id: 4 }),
    encodeIpv4Packet(v3(4, { addresses: ['10.97.0.100', '10.97.0.101'], advertIntervalCs: 10, priority: 255 }), { src: '10.97.0.1', dst: '224.0.0.18', id: 5 }),
    encodeIpv4Packet(v3(4, { addresses: ['10.97.0.100'] }), { src: '10.97.0.1', dst: '10.97.0.2', id: 6 }),
    encodeIpv4Packet(v3(4, { addresses: ['10.97.0.100'] }), { src: '10.97.0.1', dst: '10.97.0.2', checksumDst: '224.0.0.18', id: 7 }),
    encodeIpv4Packet(v3(4, { addresses: [], priority: 0 }), { src: '10.97.0.1', dst: '224.0.0.18', id: 8 }),
    encodeIpv4Packet(v3(4, { addresses: ['10.97.0.100'], advertIntervalCs: 0 }), { src: '10.97.0.1', dst: '224.0.0.18', id: 9 }),
    encodeIpv6Packet(v3(6, { addresses: ['2001:db8::100'] }), { src: 'fe80::1', dst: 'ff02::12' }),
    encodeIpv6Packet(v3(6, { addresses: ['2001:db8::100', 'fe80::100', '::ffff:10.0.0.1'], advertIntervalCs: 10 }), { src: 'fe80::2', dst: 'ff02::12' }),
    encodeIpv6Packet(v3(6, { addresses: ['2001:db8:0:0:1:0:0:1'] }), { src: 'fe80::1', dst: 'fe80::2' }),
  ];
  return out.map((b) => Uint8Array.from(b));
}

// ---------------------------------------------------------------- mutations

const INTERESTING8 = [0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 0x20, 0x21, 0x31, 0x32, 0x33, 0x40, 0x45, 0x46, 0x4f, 0x60, 0x7f, 0x80, 0xe0, 0xfe, 0xff, 51, 112, 254, 255];
const INTERESTING16 = [0, 1, 7, 8, 19, 20, 21, 27, 28, 32, 36, 40, 44, 46, 48, 0x0fff, 0x1000, 0x1fff, 0x2000, 0x4000, 0x7fff, 0x8000, 0xf064, 0xffff];

interface Layout {
  family: 4 | 6;
  /** where the VRRP message starts */
  vrrp: number;
}

function layout(p: Uint8Array): Layout | undefined {
  const v = p.length ? p[0]! >> 4 : 0;
  if (v === 4 && p.length >= 20) return { family: 4, vrrp: Math.max(20, (p[0]! & 0x0f) * 4) };
  if (v === 6 && p.length >= 40) return { family: 6, vrrp: 40 };
  return undefined;
}

function setU16(p: Uint8Array, at: number, v: number): void {
  if (at + 1 < p.length) {
    p[at] = (v >> 8) & 0xff;
    p[at + 1] = v & 0xff;
  }
}

/** One mutation of `p` (a copy when the length changes). */
function mutateOnce(rng: Rng, p: Uint8Array, seeds: readonly Uint8Array[]): Uint8Array {
  const L = layout(p);
  switch (rng.int(11)) {
    case 0: {
      if (!p.length) return p;
      const at = rng.int(p.length);
      p[at] = p[at]! ^ (1 << rng.int(8));
      return p;
    }
    case 1: {
      if (!p.length) return p;
      p[rng.int(p.length)] = rng.pick(INTERESTING8);
      return p;
    }
    case 2: {
      // a header field the checks look at
      if (!L) return p;
      const v = L.vrrp;
      const fields4 = [0, 2, 6, 8, 9];
      const fields6 = [4, 6, 7];
      const vrrpFields = [v, v + 1, v + 2, v + 3, v + 4, v + 5, v + 6];
      const at = rng.pick([...(L.family === 4 ? fields4 : fields6), ...vrrpFields, ...vrrpFields]);
      if (rng.chance(0.3)) setU16(p, at, rng.pick(INTERESTING16));
      else if (at < p.length) p[at] = rng.chance(0.5) ? rng.pick(INTERESTING8) : rng.int(256);
      return p;
    }
    case 3:
      // the VRRP version and type nibbles, within reach
      if (L && L.vrrp < p.length) p[L.vrrp] = (rng.int(16) << 4) | (rng.chance(0.7) ? 1 : rng.int(16));
      return p;
    case 4:
      return p.subarray(0, rng.int(p.length + 1)).slice();
    case 5: {
      const extra = rng.bytes(1 + rng.int(rng.chance(0.5) ? 4 : 40));
      return concat(p, extra);
    }
    case 6: {
      if (!p.length) return p;
      const at = rng.int(p.length);
      const n = 1 + rng.int(Math.min(16, p.length - at));
      return concat(p.subarray(0, at), p.subarray(at + n));
    }
    case 7: {
      const at = rng.int(p.length + 1);
      return concat(p.subarray(0, at), rng.bytes(1 + rng.int(16)), p.subarray(at));
    }
    case 8: {
      // one more or one fewer address (4 or 16 bytes), the count byte following or not
      if (!L || L.vrrp + 8 > p.length) return p;
      const alen = L.family === 4 ? 4 : 16;
      const at = L.vrrp + 8;
      const more = rng.chance(0.5);
      const q = more ? concat(p.subarray(0, at), rng.bytes(alen), p.subarray(at)) : concat(p.subarray(0, at), p.subarray(Math.min(p.length, at + alen)));
      if (rng.chance(0.8)) q[L.vrrp + 3] = (q[L.vrrp + 3]! + (more ? 1 : 255)) & 0xff;
      return q;
    }
    case 9: {
      // another seed's VRRP message under this IP header (IPv4 message over IPv6 and back)
      const other = rng.pick(seeds);
      const O = layout(other);
      if (!L || !O) return p;
      return concat(p.subarray(0, L.vrrp), other.subarray(O.vrrp));
    }
    default: {
      // the whole message random, the IP header kept
      if (!L) return rng.bytes(rng.int(80));
      return concat(p.subarray(0, L.vrrp), rng.bytes(rng.int(64)));
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const x of parts) n += x.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const x of parts) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}

/** After a mutation, usually make the lengths and checksums right again, so that later checks are reached. */
function fixUp(rng: Rng, p: Uint8Array): void {
  const L = layout(p);
  if (!L) return;
  if (L.family === 4) {
    const ihl = (p[0]! & 0x0f) * 4;
    if (rng.chance(0.6) && p.length <= 0xffff) setU16(p, 2, p.length);
    const total = Math.min(p.length, (p[2]! << 8) | p[3]!);
    if (rng.chance(0.75) && ihl >= 20 && total >= ihl + 8) fixVrrpChecksum(rng, 4, p.subarray(ihl, total), p.subarray(12, 16), p.subarray(16, 20));
    if (rng.chance(0.85) && ihl >= 20 && ihl <= p.length) {
      p[10] = 0;
      p[11] = 0;
      setU16(p, 10, checksumFor([], p.subarray(0, ihl), 10));
    }
  } else {
    if (rng.chance(0.6) && p.length - 40 <= 0xffff) setU16(p, 4, p.length - 40);
    const end = Math.min(p.length, 40 + ((p[4]! << 8) | p[5]!));
    if (rng.chance(0.75) && end >= 48) fixVrrpChecksum(rng, 6, p.subarray(40, end), p.subarray(8, 24), p.subarray(24, 40));
  }
}

function fixVrrpChecksum(rng: Rng, family: 4 | 6, msg: Uint8Array, src: Uint8Array, dst: Uint8Array): void {
  // the length the checks will expect, or all of it (padding stays outside the sum)
  const version = msg[0]! >> 4;
  const count = msg[3]!;
  const want = 8 + count * (family === 4 ? 4 : 16) + (version === 2 ? 8 : 0);
  const body = want <= msg.length && rng.chance(0.8) ? msg.subarray(0, want) : msg;
  let pseudo: number[] = [];
  if (version !== 2 || rng.chance(0.05)) {
    const d = family === 4 && rng.chance(0.1) ? Uint8Array.of(224, 0, 0, 18) : dst;
    pseudo = family === 4 ? ipv4Pseudo(src, d, body.length) : ipv6Pseudo(src, d, body.length);
  }
  const c = checksumFor(pseudo, body, 6);
  body[6] = c >> 8;
  body[7] = c & 0xff;
}

/** A mutated copy of a seed: 1 to 4 mutations, then (usually) the lengths and checksums fixed. */
export function mutant(rng: Rng, seeds: readonly Uint8Array[]): Uint8Array {
  let p: Uint8Array = Uint8Array.from(rng.pick(seeds)); // a copy (Buffer#slice would be a view)
  const n = 1 + rng.int(4);
  for (let i = 0; i < n; i++) p = mutateOnce(rng, p, seeds);
  if (rng.chance(0.85)) fixUp(rng, p);
  return p;
}

// ---------------------------------------------------------------- the comparison

/** Which oracle rules each of the decoder's drop reasons stands for. */
const REASON_RULES: Record<string, readonly OracleRule[]> = {
  truncated: ['ip-truncated', 'vrrp-truncated'],
  family: ['ip-version', 'v2-over-ipv6'],
  'ip-header': ['ipv4-ihl', 'ipv4-total-length', 'ipv4-fragment', 'ipv4-header-checksum'],
  protocol: ['ip-protocol'],
  auth: ['ah'],
  length: ['length'],
  ttl: ['ttl'],
  version: ['version'],
  'auth-type': ['auth-type'],
  type: ['type'],
  checksum: ['checksum'],
};

export type Disagreement =
  /** one accepts, the other refuses */
  | 'verdict'
  /** both accept, with different fields */
  | 'fields'
  /** the decoder caught an exception of its own ('internal') */
  | 'internal'
  /** the decoder read past the packet: the same bytes with a different tail decoded differently */
  | 'overread';

export interface Comparison {
  disagreement?: Disagreement;
  /** both refuse, but the decoder's reason is none of the rules the oracle saw broken */
  reasonDiffers: boolean;
  accepted: boolean;
  oracle: OracleVerdict;
  decoder: ReturnType<typeof decodeIpAdvert>;
  detail?: string;
}

const scratchA = new Uint8Array(70_000);
const scratchB = new Uint8Array(70_000).fill(0xff);

/** The decoder and the oracle on one packet. */
export function compare(packet: Uint8Array): Comparison {
  const o = oracle(packet);
  // the decoder on two views of the same bytes, followed by different tails
  scratchA.set(packet);
  scratchB.set(packet);
  const d = decodeIpAdvert(scratchA.subarray(0, packet.length));
  const d2 = decodeIpAdvert(scratchB.subarray(0, packet.length));
  scratchA.fill(0, 0, packet.length);
  scratchB.fill(0xff, 0, packet.length);
  const base = { oracle: o, decoder: d, reasonDiffers: false, accepted: o.accept && d.ok };
  if (JSON.stringify(d) !== JSON.stringify(d2)) return { ...base, disagreement: 'overread', detail: `${JSON.stringify(d).slice(0, 200)} / ${JSON.stringify(d2).slice(0, 200)}` };
  if (!d.ok && d.reason === 'internal') return { ...base, disagreement: 'internal', detail: d.detail };
  if (o.accept !== d.ok) {
    return { ...base, disagreement: 'verdict', detail: `oracle ${o.accept ? 'accepts' : `refuses (${o.violations.join(', ')})`}, decoder ${d.ok ? 'accepts' : `refuses (${d.reason}: ${d.detail})`}` };
  }
  if (!d.ok) {
    const rules = REASON_RULES[d.reason] ?? [];
    return { ...base, reasonDiffers: !rules.some((r) => o.violations.includes(r)) };
  }
  const f = o.fields!;
  const a = d.advert;
  const got = {
    family: a.family,
    version: a.version,
    vrid: a.vrid,
    priority: a.priority,
    count: a.addresses.length,
    interval: a.version === 2 ? a.advertIntervalS : a.advertIntervalCs,
    ...(a.version === 2 ? { authType: a.authType, authData: Buffer.from(a.authData ?? []).toString('hex') } : {}),
    checksum: a.checksum,
    addresses: a.addresses,
  };
  if (canonical(got) !== canonical(f)) return { ...base, disagreement: 'fields', detail: `oracle ${canonical(f)}, decoder ${canonical(got)}` };
  return base;
}

/** JSON with the keys in order, so that two objects built in different orders compare. */
function canonical(o: object): string {
  return JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1))));
}

// ---------------------------------------------------------------- a run

export interface FuzzResult {
  packets: number;
  seeds: number;
  seed: number;
  ms: number;
  acceptedByBoth: number;
  refusedByBoth: number;
  disagreements: Record<Disagreement, number>;
  reasonDiffers: number;
  /** refusals by oracle rule (a packet may break several) */
  rules: Partial<Record<OracleRule, number>>;
  /** notes on accepted packets */
  notes: Partial<Record<OracleNote, number>>;
  /** the first disagreements, replayable: the packet in hex */
  examples: Array<{ kind: Disagreement; hex: string; detail: string }>;
  /** the first refusals whose reasons differ */
  reasonExamples: Array<{ hex: string; detail: string }>;
  stoppedEarly: boolean;
}

export function runFuzz(opts: { seeds: readonly Uint8Array[]; count: number; seed: number; maxMs?: number; examples?: number; onProgress?: (done: number) => void }): FuzzResult {
  const rng = new Rng(opts.seed);
  const r: FuzzResult = {
    packets: 0,
    seeds: opts.seeds.length,
    seed: opts.seed,
    ms: 0,
    acceptedByBoth: 0,
    refusedByBoth: 0,
    disagreements: { verdict: 0, fields: 0, internal: 0, overread: 0 },
    reasonDiffers: 0,
    rules: {},
    notes: {},
    examples: [],
    reasonExamples: [],
    stoppedEarly: false,
  };
  const maxExamples = opts.examples ?? 20;
  const t0 = performance.now();
  // the seeds themselves first, unmutated
  const total = opts.count;
  for (let i = 0; i < total; i++) {
    const p = i < opts.seeds.length ? Uint8Array.from(opts.seeds[i]!) : mutant(rng, opts.seeds);
    const c = compare(p);
    r.packets++;
    if (c.disagreement) {
      r.disagreements[c.disagreement]++;
      if (r.examples.length < maxExamples) r.examples.push({ kind: c.disagreement, hex: Buffer.from(p).toString('hex'), detail: c.detail ?? '' });
    } else if (c.accepted) {
      r.acceptedByBoth++;
      for (const n of c.oracle.notes) r.notes[n] = (r.notes[n] ?? 0) + 1;
    } else {
      r.refusedByBoth++;
      for (const v of c.oracle.violations) r.rules[v] = (r.rules[v] ?? 0) + 1;
      if (c.reasonDiffers) {
        r.reasonDiffers++;
        if (r.reasonExamples.length < 5) r.reasonExamples.push({ hex: Buffer.from(p).toString('hex'), detail: `oracle ${c.oracle.violations.join(', ')}, decoder ${c.decoder.ok ? '' : `${c.decoder.reason}: ${c.decoder.detail}`}` });
      }
    }
    if ((i & 0x3fff) === 0x3fff) {
      opts.onProgress?.(i + 1);
      if (opts.maxMs !== undefined && performance.now() - t0 > opts.maxMs) {
        r.stoppedEarly = i + 1 < total;
        break;
      }
    }
  }
  r.ms = performance.now() - t0;
  return r;
}

// VRRP decoder fuzz (not a test; `npm run fuzz`): mutated packets against the decoder
// (decodeIpAdvert, src/vrrp/codec.ts) and an independent receive check written from RFC 3768 /
// RFC 5798 (vrrp-oracle.ts), reporting every packet on which they disagree.
//
//   npm run fuzz -- [--count 1000000] [--seed 1] [--max-seconds 600] [--examples 20]
//                   [--captures FILE|DIR ...] [--no-encoder] [--out bench/fuzz/results/NAME]
//
// Seeds: the VRRP packets of the captures given (pcap, pcapng, or .hex text with one packet a
// line; a directory: every such file in it), test/fixtures/captures/ when it exists, and packets
// from the project's encoder for VRRPv2, VRRPv3 over IPv4 and IPv6, multicast and unicast
// (--no-encoder leaves those out when captures are given). Each packet is a seed with 1-4
// mutations (bit flips, header fields set to edge values, truncation, extension, address blocks
// added or removed, another seed's message spliced in), then usually its lengths and checksums
// made right again so that the checks past the checksum are reached.
//
// A disagreement is: one accepts and the other refuses (verdict), both accept with different
// fields (fields), the decoder caught an exception of its own (internal), or the decoder read
// past the packet (overread: the same bytes followed by two different tails decode differently).
// Refusals for different reasons are counted apart (the decoder stops at its first failed check,
// in keepalived's order). Exit code 1 on any disagreement. Bounded by --count and --max-seconds.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { isVrrp, readCapture, readHexPackets, type IpPacket } from './pcap.js';
import { encoderSeeds, runFuzz, type FuzzResult } from './vrrp-fuzz.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');

function parseArgs(argv: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a} (options start with --)`);
    const key = a.slice(2);
    const next = argv[i + 1];
    const value = next !== undefined && !next.startsWith('--') ? (i++, next) : 'true';
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

function captureFiles(p: string): string[] {
  if (!existsSync(p)) throw new Error(`${p}: no such file or directory`);
  if (!statSync(p).isDirectory()) return [p];
  return readdirSync(p)
    .filter((f) => /\.(pcap|pcapng|cap|hex)$/i.test(f))
    .sort()
    .map((f) => path.join(p, f));
}

function readSeeds(file: string): IpPacket[] {
  const bytes = readFileSync(file);
  const packets = /\.hex$/i.test(file) ? readHexPackets(bytes.toString('utf8')) : readCapture(bytes);
  return packets.filter(isVrrp);
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  const one = (k: string, d: string) => args.get(k)?.at(-1) ?? d;
  const count = Number(one('count', '1000000'));
  const seed = Number(one('seed', '1'));
  const maxSeconds = Number(one('max-seconds', '600'));
  const examples = Number(one('examples', '20'));
  if (!Number.isInteger(count) || count < 1 || count > 100_000_000) throw new Error(`--count must be 1..100000000, not ${one('count', '')}`);
  if (!Number.isInteger(seed)) throw new Error('--seed must be an integer');
  if (!(maxSeconds > 0 && maxSeconds <= 24 * 3600)) throw new Error('--max-seconds must be in (0, 86400]');

  const sources: string[] = [];
  const seeds: IpPacket[] = [];
  const given = args.get('captures') ?? [];
  const fixtures = path.join(REPO, 'test', 'fixtures', 'captures');
  const dirs = [...given, ...(given.length === 0 && existsSync(fixtures) ? [fixtures] : [])];
  for (const d of dirs) {
    for (const f of captureFiles(d)) {
      const s = readSeeds(f);
      sources.push(`${path.relative(REPO, path.resolve(f))}: ${s.length} VRRP packets`);
      seeds.push(...s);
    }
  }
  if (!(args.has('no-encoder') && seeds.length > 0)) {
    const e = encoderSeeds();
    sources.push(`the encoder (src/vrrp/codec.ts): ${e.length} packets`);
    seeds.push(...e);
  }
  const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\..*/, 'Z');
  const out = one('out', path.join(HERE, 'results', `vrrp-${stamp}`));
  process.stderr.write(`[fuzz] ${count} packets from ${seeds.length} seeds (${sources.join('; ')}), seed ${seed}, at most ${maxSeconds} s …\n`);
  const r = runFuzz({
    seeds,
    count,
    seed,
    maxMs: maxSeconds * 1000,
    examples,
    onProgress: (n) => {
      if (n % 262_144 < 16_384) process.stderr.write(`[fuzz]   ${n} …\n`);
    },
  });
  const report = render(r, sources);
  process.stdout.write(`${report}\n`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(`${out}.md`, `${report}\n`);
  writeFileSync(`${out}.json`, JSON.stringify({ machine: machine(), sources, ...r }, null, 1));
  process.stderr.write(`[fuzz] ${out}.md, ${out}.json\n`);
  const hard = r.disagreements.verdict + r.disagreements.fields + r.disagreements.internal + r.disagreements.overread;
  return hard === 0 ? 0 : 1;
}

function machine(): string {
  return `${os.type()} ${os.release()}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`;
}

function render(r: FuzzResult, sources: string[]): string {
  const hard = r.disagreements.verdict + r.disagreements.fields + r.disagreements.internal + r.disagreements.overread;
  const lines = [
    `VRRP decoder fuzz, ${new Date().toISOString()}`,
    `Machine: ${machine()}`,
    `Seeds: ${sources.join('; ')}; PRNG seed ${r.seed}`,
    '',
    '| packets | time s | packets/s | accepted by both | refused by both | disagreements: verdict / fields / internal / overread | refused for another reason |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    `| ${r.packets}${r.stoppedEarly ? ' (stopped at --max-seconds)' : ''} | ${(r.ms / 1000).toFixed(1)} | ${Math.round(r.packets / (r.ms / 1000))} | ${r.acceptedByBoth} | ${r.refusedByBoth} | ${r.disagreements.verdict} / ${r.disagreements.fields} / ${r.disagreements.internal} / ${r.disagreements.overread} | ${r.reasonDiffers} |`,
    '',
    `Refusals by rule (oracle; a packet may break several): ${Object.entries(r.rules)
      .sort((a, b) => b[1]! - a[1]!)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `Notes on accepted packets: ${Object.entries(r.notes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none'}`,
    '',
    hard === 0 ? 'No disagreement.' : `**${hard} disagreements** (first ${r.examples.length}, replayable as hex IP packets):`,
    ...r.examples.map((e) => `- ${e.kind}: ${e.detail}\n  \`${e.hex}\``),
  ];
  if (r.reasonExamples.length) lines.push('', 'Refused by both for different reasons (first few):', ...r.reasonExamples.map((e) => `- ${e.detail}\n  \`${e.hex}\``));
  return lines.join('\n');
}

try {
  process.exitCode = main();
} catch (e) {
  process.stderr.write(`[fuzz] ${(e as Error).message}\n`);
  process.exitCode = 2;
}

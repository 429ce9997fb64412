// Soak (not a test): a vipkeeper director pair under chaos for --minutes, invariants checked every second.
//
//   npx tsx bench/soak/run.ts [--minutes 60] [--seed 7] [--max-events N] [--vk snapshot|tsx|dist]
//                             [--servers 1000] [--out bench/soak/results/soak-<timestamp>.md]
//
// Needs root, iproute2, nft. Topology (namespaces vkb-<pid>-*, deleted at the end, also on failure
// or Ctrl-C): one bridge with d1 10.65.0.11 (priority 150) and d2 10.65.0.12 (priority 100), both
// vipkeeper (VRRPv3, advert_int 200 ms, VIP 10.65.0.100), a client 10.65.0.10 that pings the VIP,
// and a real-server namespace (10.65.0.20, the directors' route to 10.66.0.0/16) with --servers
// addresses 10.66.0.1… on its lo, all served by one small TCP server on port 8080; every director TCP_CHECKs every real server (delay_loop 10 s).
//
// Chaos, one event at a time, chosen by a seeded RNG (same seed, same sequence of events):
//   sigkill  SIGKILL a director, restart it 2-5 s later (its VIP stays behind until the restart)
//   sigterm  SIGTERM a director (it must exit 0 and leave no VIP), restart it 2-5 s later
//   sighup   reload a director (its config alternates between two delay_loops)
//   rsflap   1-100 real servers refuse connections (nft reject) for 5-20 s
//   linkflap a director's cable is pulled (its bridge port down) for 1-5 s
//   partition VRRP (IP protocol 112) dropped in and out of one director for 3-15 s
// Each event is followed by a quiet gap of 10-30 s.
//
// Invariants, sampled every second (a "holder" has the VIP on eth0 with carrier):
//   - outside an event's window (its start to its end + GRACE_S) exactly one holder;
//     two holders during a partition for no longer than the partition + GRACE_S;
//   - a SIGTERMed director exits 0 and has no VIP afterwards; no daemon exits unasked;
//   - fds of each daemon life flat (min over its last minute ≤ min over its first minute after
//     warm-up + FD_SLACK); RSS flat after warm-up (last-minute median ≤ first-minute median × 1.25
//     + 16 MB), for lives of at least LONG_LIFE_S;
//   - after the final stop: no VIP on either director, no IPVS entry (when the kernel has IP_VS).
// The result (events by kind, samples, holder counts, violations, RSS and fds per life) is written as
// markdown to --out. Exit code 0 when there were no violations, 1 otherwise.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createLan, writeFile, type Lan } from '../../lab/lan.js';
import { run } from '../../lab/process.js';
import { sleep } from '../../lab/wait.js';
import { getStatus } from '../../src/daemon/control/client.js';
import { BenchLab, machineLine, median, parseArgs, requireRootAndTools, vipkeeperCommand, type Proc, type VkCommand, type VkMode } from '../failover/lab.js';
import { seededRandom } from '../../lab/rng.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PREFIX = '10.65.0';
const VIP = `${PREFIX}.100`;
const RS_NET = '10.66';
const RS_PORT = 8080;
const INSTANCE = 'VI_SOAK';
const GRACE_S = 3;
const WARMUP_S = 120;
const LONG_LIFE_S = 300;
const FD_SLACK = 10;

type Node = 'd1' | 'd2';
type Kind = 'sigkill' | 'sigterm' | 'sighup' | 'rsflap' | 'linkflap' | 'partition';
const WEIGHTS: Array<[Kind, number]> = [
  ['sigkill', 1],
  ['sigterm', 1],
  ['sighup', 3],
  ['rsflap', 4],
  ['linkflap', 2],
  ['partition', 3],
];

const args = parseArgs(process.argv.slice(2));
const MINUTES = Number(args.get('minutes') ?? 60);
const SEED = Number(args.get('seed') ?? 7);
const MAX_EVENTS = Number(args.get('max-events') ?? 10_000);
const SERVERS = Number(args.get('servers') ?? 1000);
const VK_MODE = (args.get('vk') ?? 'snapshot') as VkMode;
const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d\dZ$/, 'Z');
const OUT = args.get('out') ?? path.join(HERE, 'results', `soak-${stamp}.md`);
const random = seededRandom(SEED);
const between = (lo: number, hi: number) => lo + random() * (hi - lo);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

function rsAddress(i: number): string {
  return `${RS_NET}.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

function vkConf(priority: number, delayLoop: string): string {
  const rs = Array.from({ length: SERVERS }, (_, i) => `      - { address: ${rsAddress(i)}, port: ${RS_PORT}, checks: [{ type: TCP_CHECK, connect_timeout: 2s, retry: 0 }] }`);
  return [
    'global:',
    '  vrrp_version: 3',
    'instances:',
    `  ${INSTANCE}:`,
    '    state: BACKUP',
    '    interface: eth0',
    '    virtual_router_id: 65',
    `    priority: ${priority}`,
    '    advert_int: 200ms',
    '    virtual_ipaddress:',
    `      - ${VIP}/24 dev eth0`,
    'virtual_servers:',
    `  - address: ${VIP}`,
    `    port: ${RS_PORT}`,
    '    protocol: TCP',
    '    lb_algo: rr',
    '    lb_kind: DR',
    `    delay_loop: ${delayLoop}`,
    '    real_servers:',
    ...rs,
    '',
  ].join('\n');
}

// ------------------------------------------------------------------------------------------------
// the record

interface Life {
  node: Node;
  n: number;
  pid: number;
  startedAt: number;
  endedAt?: number;
  end?: string;
  /** [seconds since start, rss KiB, fd count] */
  samples: Array<[number, number, number]>;
}

interface EventRec {
  kind: Kind;
  node?: Node;
  start: number;
  end?: number;
  detail: string;
}

const t0 = Date.now();
const sec = (t: number) => ((t - t0) / 1000).toFixed(1);
const events: EventRec[] = [];
const violations: string[] = [];
const lives: Life[] = [];
const holderHist = { 0: 0, 1: 0, 2: 0 } as Record<0 | 1 | 2, number>;
const outsideHist = { 0: 0, 1: 0, 2: 0 } as Record<0 | 1 | 2, number>;
let samples = 0;
let pingsOk = 0;
let pingsLost = 0;
let pingsLostOutside = 0;
let longestTwoHolders = 0;
let longestTwoHoldersOutside = 0;
let longestNoHolderOutside = 0;

/** Violations, one line each; a kind repeating every second is printed once per run of seconds. */
const lastOfKind = new Map<string, number>();
function violation(what: string, kind = what): void {
  const line = `t=${sec(Date.now())} s: ${what}`;
  violations.push(line);
  const prev = lastOfKind.get(kind);
  lastOfKind.set(kind, Date.now());
  if (prev === undefined || Date.now() - prev > 2500) process.stderr.write(`[soak] VIOLATION ${line}\n`);
}

function say(what: string): void {
  process.stderr.write(`[soak] t=${sec(Date.now())} ${what}\n`);
}

// ------------------------------------------------------------------------------------------------
// the lab

const lab = new BenchLab('soak');
let lan: Lan;
let vk: VkCommand;
const daemons: Record<Node, { proc?: Proc; life?: Life; expectExit: boolean; conf: string; priority: number; lives: number }> = {
  d1: { expectExit: false, conf: '', priority: 150, lives: 0 },
  d2: { expectExit: false, conf: '', priority: 100, lives: 0 },
};
const confToggle: Record<Node, boolean> = { d1: false, d2: false };
let stopping = false;

function ns(node: Node | 'client' | 'rs'): string {
  return lan.nodes[node]!.ns;
}

async function startDaemon(node: Node): Promise<void> {
  const d = daemons[node];
  const socket = path.join(lab.dir, `${node}.sock`);
  const proc = lab.spawn(ns(node), [...vk.argv, 'run', '-f', d.conf, '--config-id', 'soak', '--log-level', 'info', '--socket', socket], `vk-${node}-${++d.lives}`);
  d.proc = proc;
  d.expectExit = false;
  const deadline = Date.now() + 60_000;
  while (!proc.log().includes('"msg":"vipkeeper running"')) {
    if (!proc.running) throw new Error(`${node} exited while starting:\n${proc.describe()}`);
    if (Date.now() > deadline) throw new Error(`${node} did not start within 60 s:\n${proc.describe()}`);
    await sleep(100);
  }
  const pid = proc.child.pid!;
  const life: Life = { node, n: d.lives, pid, startedAt: Date.now(), samples: [] };
  d.life = life;
  lives.push(life);
  void proc.exited.then((info) => {
    life.endedAt = Date.now();
    life.end ??= `exit ${JSON.stringify(info)}`;
    if (!d.expectExit && !stopping) {
      violation(`${node} (pid ${pid}) exited unasked: ${JSON.stringify(info)}; log tail:\n${proc.log().slice(-1500)}`);
    }
  });
}

async function nft(node: Node | 'rs', script: string): Promise<void> {
  const file = writeFile(lab.dir, `nft-${node}.nft`, script);
  await lab.exec(ns(node), ['nft', '-f', file]);
}

// ------------------------------------------------------------------------------------------------
// sampling (every second)

interface Window {
  start: number;
  end?: number;
  kind: Kind;
}
const windows: Window[] = [];

function inWindow(t: number): Window | undefined {
  return windows.find((w) => t >= w.start && (w.end === undefined || t <= w.end + GRACE_S * 1000));
}

async function holder(node: Node): Promise<boolean> {
  const { stdout } = await run('ip', ['-n', ns(node), '-j', 'addr', 'show', 'dev', 'eth0']);
  const [link] = JSON.parse(stdout) as Array<{ flags?: string[]; addr_info?: Array<{ local?: string }> }>;
  if (!link?.flags?.includes('LOWER_UP')) return false;
  return (link.addr_info ?? []).some((a) => a.local === VIP);
}

function fdCount(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}
function rssKiB(pid: number): number | undefined {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}

let twoRun = 0;
let twoRunOutside = 0;
let noneRunOutside = 0;

async function sampleOnce(): Promise<void> {
  const now = Date.now();
  const [h1, h2] = await Promise.all([holder('d1'), holder('d2')]);
  const n = (Number(h1) + Number(h2)) as 0 | 1 | 2;
  samples++;
  holderHist[n]++;
  const w = inWindow(now);
  twoRun = n === 2 ? twoRun + 1 : 0;
  longestTwoHolders = Math.max(longestTwoHolders, twoRun);
  if (!w) {
    outsideHist[n]++;
    twoRunOutside = n === 2 ? twoRunOutside + 1 : 0;
    noneRunOutside = n === 0 ? noneRunOutside + 1 : 0;
    longestTwoHoldersOutside = Math.max(longestTwoHoldersOutside, twoRunOutside);
    longestNoHolderOutside = Math.max(longestNoHolderOutside, noneRunOutside);
    if (n !== 1) violation(`${n} VIP holders outside any event window (d1 ${h1}, d2 ${h2})`, `holders-${n}`);
  } else {
    twoRunOutside = 0;
    noneRunOutside = 0;
  }
  // Two holders for longer than the partition that explains them (+ grace)?
  if (n === 2) {
    const p = windows.filter((x) => x.kind === 'partition' && x.start <= now).at(-1);
    const other = w && w.kind !== 'partition';
    if (!other && p && p.end !== undefined && now > p.end + GRACE_S * 1000) violation(`two VIP holders ${((now - p.end) / 1000).toFixed(1)} s after the partition healed`, 'after-partition');
  }
  for (const node of ['d1', 'd2'] as const) {
    const life = daemons[node].life;
    if (!life || life.endedAt !== undefined) continue;
    const rss = rssKiB(life.pid);
    const fds = fdCount(life.pid);
    // a process being reaped has no VmRSS and no fds: not a sample
    if (rss !== undefined && Number.isFinite(rss) && rss > 0 && fds !== undefined && fds > 0) life.samples.push([(now - life.startedAt) / 1000, rss, fds]);
  }
}

async function pingOnce(): Promise<void> {
  const t = Date.now();
  try {
    await run('ip', ['netns', 'exec', ns('client'), 'ping', '-c', '1', '-W', '1', '-q', VIP], 5000);
    pingsOk++;
  } catch {
    pingsLost++;
    if (!inWindow(t)) pingsLostOutside++;
  }
}

async function sampler(until: () => boolean): Promise<void> {
  let next = Date.now();
  while (!until()) {
    void pingOnce();
    await sampleOnce().catch((e: Error) => say(`sample failed: ${e.message}`));
    next += 1000;
    const wait = next - Date.now();
    if (wait > 0) await sleep(wait);
    else next = Date.now();
  }
}

// ------------------------------------------------------------------------------------------------
// chaos

function chooseKind(): Kind {
  const total = WEIGHTS.reduce((a, [, w]) => a + w, 0);
  let r = random() * total;
  for (const [k, w] of WEIGHTS) {
    r -= w;
    if (r < 0) return k;
  }
  return 'sighup';
}

async function waitExit(proc: Proc, ms: number): Promise<boolean> {
  return proc.exitWithin(ms);
}

async function chaos(kind: Kind): Promise<void> {
  const node: Node = random() < 0.5 ? 'd1' : 'd2';
  const ev: EventRec = { kind, start: Date.now(), detail: '' };
  const win: Window = { start: ev.start, kind };
  const d = daemons[node];
  switch (kind) {
    case 'sigkill':
    case 'sigterm': {
      const down = between(2000, 5000);
      ev.node = node;
      windows.push(win);
      const proc = d.proc!;
      d.expectExit = true;
      if (d.life) d.life.end = kind;
      process.kill(proc.child.pid!, kind === 'sigkill' ? 'SIGKILL' : 'SIGTERM');
      if (!(await waitExit(proc, 15_000))) {
        violation(`${node} did not exit within 15 s of ${kind}`);
        process.kill(proc.child.pid!, 'SIGKILL');
        await waitExit(proc, 5000);
      }
      const info = await proc.exited;
      if (kind === 'sigterm') {
        if (info.code !== 0) violation(`${node} exited ${JSON.stringify(info)} after SIGTERM (want 0)`);
        const { stdout } = await run('ip', ['-n', ns(node), '-j', 'addr', 'show']);
        if (stdout.includes(`"${VIP}"`)) violation(`${node} left the VIP behind after a graceful stop`);
      }
      await sleep(down);
      await startDaemon(node);
      ev.detail = `down ${(down / 1000).toFixed(1)} s`;
      break;
    }
    case 'sighup': {
      ev.node = node;
      confToggle[node] = !confToggle[node];
      writeFileSync(d.conf, vkConf(d.priority, confToggle[node] ? '11s' : '10s'));
      const before = d.proc!.log().split('"msg":"config reloaded"').length;
      process.kill(d.proc!.child.pid!, 'SIGHUP');
      const deadline = Date.now() + 20_000;
      while (d.proc!.log().split('"msg":"config reloaded"').length === before) {
        if (Date.now() > deadline) {
          violation(`${node}: no "config reloaded" within 20 s of SIGHUP`);
          break;
        }
        await sleep(200);
      }
      ev.detail = `delay_loop ${confToggle[node] ? '11s' : '10s'}`;
      break;
    }
    case 'rsflap': {
      const k = 1 + Math.floor(random() * 100);
      const dur = between(5000, 20_000);
      const set = new Set<string>();
      while (set.size < k) set.add(rsAddress(Math.floor(random() * SERVERS)));
      await nft('rs', `add element inet soak down { ${[...set].join(', ')} }\n`);
      await sleep(dur);
      await nft('rs', `delete element inet soak down { ${[...set].join(', ')} }\n`);
      ev.detail = `${k} servers for ${(dur / 1000).toFixed(1)} s`;
      break;
    }
    case 'linkflap': {
      const dur = between(1000, 5000);
      ev.node = node;
      windows.push(win);
      const port = lan.nodes[node]!.port;
      await run('ip', ['-n', lan.bridgeNs, 'link', 'set', port, 'down']);
      await sleep(dur);
      await run('ip', ['-n', lan.bridgeNs, 'link', 'set', port, 'up']);
      ev.detail = `${(dur / 1000).toFixed(1)} s`;
      break;
    }
    case 'partition': {
      const dur = between(3000, 15_000);
      ev.node = node;
      windows.push(win);
      await nft(
        node,
        'add table inet vksoak\n' +
          'add chain inet vksoak in { type filter hook input priority 0 ; }\n' +
          'add chain inet vksoak out { type filter hook output priority 0 ; }\n' +
          'add rule inet vksoak in meta l4proto 112 drop\n' +
          'add rule inet vksoak out meta l4proto 112 drop\n',
      );
      await sleep(dur);
      await lab.exec(ns(node), ['nft', 'delete', 'table', 'inet', 'vksoak']);
      ev.detail = `${(dur / 1000).toFixed(1)} s`;
      break;
    }
  }
  ev.end = Date.now();
  win.end = ev.end;
  events.push(ev);
  say(`${kind}${ev.node ? ` ${ev.node}` : ''} ${ev.detail}`);
}

// ------------------------------------------------------------------------------------------------
// setup, run, report

async function setup(): Promise<void> {
  requireRootAndTools(['ip', 'nft']);
  vk = await vipkeeperCommand(VK_MODE);
  lan = await createLan(lab, PREFIX, { d1: 11, d2: 12, client: 10, rs: 20 });
  // The real servers: SERVERS addresses on the rs namespace's eth0, one listener for them all.
  const batch = Array.from({ length: SERVERS }, (_, i) => `addr add ${rsAddress(i)}/32 dev lo`).join('\n');
  for (let i = 0; i < SERVERS; i++) if (!/^10\./.test(rsAddress(i))) throw new Error('real-server addresses must be in 10.0.0.0/8');
  await lab.exec(ns('rs'), ['ip', '-batch', writeFile(lab.dir, 'rs.batch', `${batch}\n`)]);
  await nft(
    'rs',
    'add table inet soak\n' +
      'add set inet soak down { type ipv4_addr ; }\n' +
      'add chain inet soak in { type filter hook input priority 0 ; }\n' +
      `add rule inet soak in ip daddr @down tcp dport ${RS_PORT} reject with tcp reset\n`,
  );
  lab.spawn(ns('rs'), [process.execPath, '-e', `require('node:net').createServer((s) => { s.on('error', () => {}); s.end(); }).listen(${RS_PORT})`], 'rs-listener');
  for (const node of ['d1', 'd2'] as const) {
    // Through the real-server namespace as a router: ONE neighbour entry per director. The ARP
    // table's limits (gc_thresh3, 1024 by default) are host-wide, shared by every namespace: 1,000
    // on-link real servers per director overflow it, and the overflow then drops the adverts
    // (no neighbour for 224.0.0.18) of every VRRP speaker on the machine.
    await lab.exec(ns(node), ['ip', 'route', 'add', `${RS_NET}.0.0/16`, 'via', `${PREFIX}.20`]);
    daemons[node].conf = writeFile(lab.dir, `${node}.yaml`, vkConf(daemons[node].priority, '10s'));
  }
  await startDaemon('d2');
  await startDaemon('d1');
}

function lifeLine(l: Life): string {
  const s = l.samples;
  const dur = ((l.endedAt ?? Date.now()) - l.startedAt) / 1000;
  const warm = s.filter(([t]) => t >= WARMUP_S);
  const first = warm.filter(([t]) => t < WARMUP_S + 60);
  const lastT = s.at(-1)?.[0] ?? 0;
  const last = s.filter(([t]) => t > lastT - 60);
  const rssMb = (xs: typeof s) => (xs.length ? (median(xs.map((x) => x[1])) / 1024).toFixed(1) : 'n/a');
  const fdMin = (xs: typeof s) => (xs.length ? String(Math.min(...xs.map((x) => x[2]))) : 'n/a');
  const maxRss = s.length ? (Math.max(...s.map((x) => x[1])) / 1024).toFixed(1) : 'n/a';
  const maxFd = s.length ? String(Math.max(...s.map((x) => x[2]))) : 'n/a';
  let verdict = dur >= LONG_LIFE_S ? 'flat' : `short (< ${LONG_LIFE_S} s): not judged`;
  if (dur >= LONG_LIFE_S && first.length && last.length) {
    const r0 = median(first.map((x) => x[1]));
    const r1 = median(last.map((x) => x[1]));
    const f0 = Math.min(...first.map((x) => x[2]));
    const f1 = Math.min(...last.map((x) => x[2]));
    const bad: string[] = [];
    if (r1 > r0 * 1.25 + 16 * 1024) bad.push(`RSS ${(r0 / 1024).toFixed(1)} → ${(r1 / 1024).toFixed(1)} MB`);
    if (f1 > f0 + FD_SLACK) bad.push(`fds ${f0} → ${f1}`);
    if (bad.length) verdict = `GROWS: ${bad.join(', ')}`;
  }
  return `| ${l.node} #${l.n} | ${l.pid} | ${dur.toFixed(0)} | ${l.end ?? 'stopped at the end'} | ${rssMb(first)} | ${rssMb(last)} | ${maxRss} | ${fdMin(first)} | ${fdMin(last)} | ${maxFd} | ${verdict} |`;
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const machine = machineLine();
  say(`setting up (${SERVERS} real servers, seed ${SEED}, ${MINUTES} min)`);
  await setup();
  say(`pair up: d1 ${daemons.d1.proc!.child.pid}, d2 ${daemons.d2.proc!.child.pid}; settling`);
  const endAt = Date.now() + MINUTES * 60_000;
  let chaosDone = false;
  // Settle: d1 (150) must take the VIP before the clock of the invariants starts.
  windows.push({ kind: 'sighup', start: Date.now() - 1, end: Date.now() + 15_000 });
  const sampling = sampler(() => chaosDone);
  await sleep(15_000);
  let n = 0;
  while (Date.now() < endAt && n < MAX_EVENTS) {
    const kind = chooseKind();
    n++;
    try {
      await chaos(kind);
    } catch (e) {
      violation(`event ${kind} failed: ${(e as Error).message.slice(0, 1500)}`);
      for (const node of ['d1', 'd2'] as const) if (!daemons[node].proc?.running) await startDaemon(node).catch((err: Error) => violation(`restart of ${node} failed: ${err.message}`));
    }
    const gap = between(10_000, 30_000);
    await sleep(Math.max(0, Math.min(gap, endAt - Date.now())));
  }
  chaosDone = true;
  await sampling;

  // The health checks' view at the end (the last real-server flap may still be healing).
  const stopNotes: string[] = [];
  for (const node of ['d1', 'd2'] as const) {
    const st = await getStatus(path.join(lab.dir, `${node}.sock`)).then((r) => r.body, () => undefined);
    const up = st?.realServers.filter((r) => r.verdict === 'up').length;
    stopNotes.push(`${node}: ${up ?? '?'} of ${st?.realServers.length ?? '?'} real servers up at the end; unhandled errors ${st?.counters.unhandledErrors ?? 0}`);
  }

  // Final stop: both SIGTERMed; they must exit 0 and leave nothing behind.
  stopping = true;
  for (const node of ['d2', 'd1'] as const) {
    const d = daemons[node];
    d.expectExit = true;
    if (d.life) d.life.end = 'final SIGTERM';
    process.kill(d.proc!.child.pid!, 'SIGTERM');
    if (!(await d.proc!.exitWithin(15_000))) violation(`${node} did not exit within 15 s of the final SIGTERM`);
    const info = await d.proc!.exited;
    if (info.code !== 0) violation(`${node} exited ${JSON.stringify(info)} at the final stop (want 0)`);
  }
  for (const node of ['d1', 'd2'] as const) {
    const { stdout } = await run('ip', ['-n', ns(node), '-o', 'addr', 'show']);
    const left = stdout.includes(`${VIP}/`);
    if (left) violation(`${node}: the VIP is left behind after the final stop`);
    stopNotes.push(`${node}: VIP ${left ? 'LEFT BEHIND' : 'gone'}`);
    const ipvs = await lab.exec(ns(node), ['cat', '/proc/net/ip_vs']).then((r) => r.stdout, () => undefined);
    if (ipvs === undefined) stopNotes.push(`${node}: no /proc/net/ip_vs (this kernel has no IP_VS): no IPVS entry can exist, so this half of the check is vacuous here`);
    else {
      const entries = ipvs.split('\n').filter((l) => /^(TCP|UDP|SCTP|FWM)\s/.test(l));
      if (entries.length) violation(`${node}: ${entries.length} IPVS entries left behind after the final stop`);
      stopNotes.push(`${node}: ${entries.length} IPVS entries after stop`);
    }
  }

  // report
  const byKind = new Map<string, number>();
  for (const e of events) byKind.set(e.kind, (byKind.get(e.kind) ?? 0) + 1);
  const partitions = events.filter((e) => e.kind === 'partition');
  const longestPartition = partitions.length ? Math.max(...partitions.map((e) => (e.end! - e.start) / 1000)) : 0;
  const md = [
    `# soak: ${MINUTES} min, seed ${SEED}, ${SERVERS} real servers`,
    '',
    `- started ${started}, ran ${((Date.now() - t0) / 60_000).toFixed(1)} min; ${machine}`,
    `- vipkeeper: ${vk.describe}`,
    `- pair: d1 priority 150, d2 priority 100, VRRPv3 advert_int 200 ms, one VIP; ${SERVERS} real servers TCP_CHECKed by each director (delay_loop 10 s / 11 s alternating on reload)`,
    `- invariants sampled every second; event window = event start … end + ${GRACE_S} s grace`,
    '',
    `## result: ${violations.length === 0 ? '**0 violations**' : `**${violations.length} VIOLATIONS**`}`,
    '',
    '| events | count |',
    '|---|---|',
    ...[...byKind].sort().map(([k, c]) => `| ${k} | ${c} |`),
    `| total | ${events.length} |`,
    '',
    '| samples | count |',
    '|---|---|',
    `| seconds sampled | ${samples} |`,
    `| one holder | ${holderHist[1]} |`,
    `| no holder (all; in event windows expected) | ${holderHist[0]} |`,
    `| two holders (all; in event windows expected) | ${holderHist[2]} |`,
    `| outside event windows: one / none / two holders | ${outsideHist[1]} / ${outsideHist[0]} / ${outsideHist[2]} |`,
    `| longest run of two holders (s) | ${longestTwoHolders} (longest partition ${longestPartition.toFixed(1)} s) |`,
    `| client pings of the VIP ok / lost (lost outside windows) | ${pingsOk} / ${pingsLost} (${pingsLostOutside}) |`,
    '',
    '## daemon lives (RSS MB medians and fd minimums over the first minute after a 120 s warm-up and over the last minute)',
    '',
    '| life | pid | seconds | ended by | RSS first min | RSS last min | RSS max | fds first min | fds last min | fds max | verdict |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...lives.map(lifeLine),
    '',
    '## after the final stop',
    '',
    ...stopNotes.map((s) => `- ${s}`),
    '',
    '## violations',
    '',
    ...(violations.length ? violations.slice(0, 200).map((v) => `- ${v.split('\n')[0]}`) : ['none']),
    ...(violations.length > 200 ? [`- … and ${violations.length - 200} more`] : []),
    '',
    '## events',
    '',
    '| t (s) | event | node | detail |',
    '|---|---|---|---|',
    ...events.map((e) => `| ${sec(e.start)} | ${e.kind} | ${e.node ?? ''} | ${e.detail} |`),
    '',
  ].join('\n');
  // Lives flagged as growing are violations too.
  const grew = lives.map(lifeLine).filter((l) => l.includes('GROWS'));
  const text = grew.length ? md.replace('## result: **0 violations**', `## result: **${grew.length} VIOLATIONS** (growth)`) : md;
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(OUT, text);
  say(`wrote ${OUT}: ${violations.length + grew.length} violation(s)`);
  process.exitCode = violations.length + grew.length === 0 ? 0 : 1;
}

main()
  .catch((e: Error) => {
    process.stderr.write(`[soak] failed: ${e.stack ?? e.message}\n`);
    process.exitCode = 2;
  })
  .finally(async () => {
    stopping = true;
    await lab.cleanup().catch((e: Error) => process.stderr.write(`[soak] cleanup: ${e.message}\n`));
    vk?.cleanup();
  });

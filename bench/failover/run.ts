// VRRP failover benchmark (not a test): keepalived vs vipkeeper on the same director-pair
// topology, same keepalived.conf, same kill procedure, in the same run.
//
//   npx tsx bench/failover/run.ts [--reps 5] [--daemons keepalived,vipkeeper] [--variants v2-1s,v3-0.1s]
//                                 [--modes crash,graceful] [--vk snapshot|tsx|dist] [--max-minutes 45]
//                                 [--out bench/failover/results/NAME] [--keep-logs]
//   npx tsx bench/failover/run.ts --summarize bench/failover/results/NAME.json   (re-print a report)
//
// Needs root, iproute2, tshark and keepalived. Topology (namespaces vkb-<pid>-*, all deleted at the end,
// also on failure or Ctrl-C): a bridge (IGMP snooping off) with d1 10.97.0.11 (MASTER, priority 150),
// d2 10.97.0.12 (BACKUP, priority 100) and client 10.97.0.10; VIP 10.97.0.100/24, VRID 51. Both
// daemons read the SAME keepalived.conf text (vipkeeper reads keepalived.conf natively); in one sample
// both directors run the same daemon. Samples of the two daemons are interleaved, so slow drift of the
// (shared) machine's load hits both alike.
//
// One sample: (re)start d2 then d1; wait until d1 alone holds the VIP and d2 logged BACKUP; flush the
// client's neighbour table and ping the VIP (client ARP → d1's MAC); sleep 2 s + random 0..999 ms
// (random phase against the advert timer); then at t0:
//   crash    = SIGSTOP then SIGKILL to every process of the daemon in d1 (no priority-0 advert)
//   graceful = SIGTERM to the daemon in d1 (it sends a priority-0 advert)
// Timestamps, all on the host's wall clock:
//   t0          just before the signal (re-anchored to the wall clock right before it)
//   vip         `ip -ts monitor address` in d2: the RTM_NEWADDR event for the VIP (timestamped by ip
//               on receipt); `vip_poll` = `ip -j addr` polled every 10 ms (the lab's method)
//   arp         `ip -ts monitor neigh` in the client: the VIP's entry changing to d2's MAC;
//               `arp_poll` = `ip -j neigh` polled every 10 ms after the VIP appeared
//   wire        tshark on the client's eth0 (kernel receive timestamps): d1's last advert, d1's
//               priority-0 advert, d2's first advert, d2's first gratuitous ARP for the VIP
// Derived: crash → `down` = vip − d1's last advert (≈ Master_Down_Interval, independent of the kill
// phase); graceful → `p0→vip` = vip − priority-0 advert (≈ Skew_Time) and `sig→p0`.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BenchLab,
  calibrate,
  finite,
  hasAddress,
  keepalivedVersion,
  machineLine,
  median,
  mmm,
  neighMac,
  parseArgs,
  pollUntil,
  realNow,
  requireRootAndTools,
  sleep,
  startCapture,
  startMonitor,
  vipkeeperCommand,
  type LanNode,
  type MonitorLine,
  type Packet,
  type Proc,
  type VkCommand,
  type VkMode,
} from './lab.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PREFIX = '10.97.0';
const VIP = `${PREFIX}.100`;
const VRID = 51;
const INSTANCE = 'VI_BENCH';

interface Variant {
  name: string;
  version: 2 | 3;
  intervalMs: number;
}
const VARIANTS: Record<string, Variant> = {
  'v2-1s': { name: 'VRRPv2, 1 s', version: 2, intervalMs: 1000 },
  'v3-1s': { name: 'VRRPv3, 1 s', version: 3, intervalMs: 1000 },
  'v3-0.1s': { name: 'VRRPv3, 0.1 s', version: 3, intervalMs: 100 },
};
type Mode = 'crash' | 'graceful';
type DaemonKind = 'keepalived' | 'vipkeeper';

/** RFC 5798 (and 3768 at whole seconds) for the priority-100 backup. */
const skewMs = (v: Variant) => ((256 - 100) * v.intervalMs) / 256;
const masterDownMs = (v: Variant) => 3 * v.intervalMs + skewMs(v);

const args = parseArgs(process.argv.slice(2));
const REPS = Number(args.get('reps') ?? 5);
const DAEMONS = (args.get('daemons') ?? 'keepalived,vipkeeper').split(',') as DaemonKind[];
const VARIANT_KEYS = (args.get('variants') ?? 'v2-1s,v3-0.1s').split(',');
const MODES = (args.get('modes') ?? 'crash,graceful').split(',') as Mode[];
const VK_MODE = (args.get('vk') ?? 'snapshot') as VkMode;
const MAX_MINUTES = Number(args.get('max-minutes') ?? 45);
/** Keep the lab's temp dir (daemon logs, configs) instead of deleting it. */
const KEEP_LOGS = args.has('keep-logs');
const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\..*/, 'Z');
const OUT = args.get('out') ?? path.join(HERE, 'results', `failover-${stamp}`);
for (const k of VARIANT_KEYS) if (!VARIANTS[k]) throw new Error(`unknown variant ${k}; use ${Object.keys(VARIANTS).join(', ')}`);
for (const m of MODES) if (m !== 'crash' && m !== 'graceful') throw new Error(`unknown mode ${m}`);
for (const d of DAEMONS) if (d !== 'keepalived' && d !== 'vipkeeper') throw new Error(`unknown daemon ${d}`);

function confText(v: Variant, role: 'd1' | 'd2'): string {
  return [
    '# bench/failover: the same text for keepalived and vipkeeper',
    'global_defs {',
    `    router_id bench_${role}`,
    `    vrrp_version ${v.version}`,
    '}',
    '',
    `vrrp_instance ${INSTANCE} {`,
    `    state ${role === 'd1' ? 'MASTER' : 'BACKUP'}`,
    '    interface eth0',
    `    virtual_router_id ${VRID}`,
    `    priority ${role === 'd1' ? 150 : 100}`,
    `    advert_int ${v.intervalMs / 1000}`,
    '    virtual_ipaddress {',
    `        ${VIP}/24 dev eth0`,
    '    }',
    '}',
    '',
  ].join('\n');
}

interface Running {
  kind: DaemonKind;
  node: LanNode;
  proc: Proc;
  /** keepalived's VRRP child pid file. */
  vrrpPidFile?: string;
}

interface Row {
  daemon: DaemonKind;
  variant: string;
  mode: Mode;
  rep: number;
  ok: boolean;
  error?: string;
  t0: number;
  signalMs: number;
  sigToVip?: number;
  sigToVipPoll?: number;
  sigToArp?: number;
  sigToArpPoll?: number;
  vipToArp?: number;
  sigToGarp?: number;
  vipToGarp?: number;
  sigToD2Advert?: number;
  garpCount1s?: number;
  /** crash: vip − d1's last advert */
  down?: number;
  /** graceful */
  sigToP0?: number;
  p0ToVip?: number;
  p0ToD2Advert?: number;
  lastD1ToD2Advert?: number;
  d1KeepsVip?: boolean;
  arpMoved?: boolean;
  tvPoll?: number;
  taPoll?: number;
}

/** Netlink and wire timestamps of one sample, from the complete traces. */
function analyse(row: Row, packets: Packet[], vipLines: MonitorLine[], arpLines: MonitorLine[], n: { d1: LanNode; d2: LanNode }): void {
  const v = VARIANTS[row.variant]!;
  const t0 = row.t0;
  const { d1, d2 } = n;
  const since = (t: number | undefined) => (t === undefined ? undefined : t - t0);
  const horizon = t0 + 16_000;
  const tvNl = vipLines.find((l) => l.t >= t0 - 1 && l.t <= horizon && !l.text.includes('Deleted') && l.text.includes(` ${VIP}/`))?.t;
  const taNl = arpLines.find((l) => l.t >= t0 - 1 && l.t <= horizon && !l.text.includes('Deleted') && l.text.includes(`${VIP} `) && l.text.includes(`lladdr ${d2.mac}`))?.t;
  const win = packets.filter((p) => p.t >= t0 - 3 * v.intervalMs - 1000 && p.t <= horizon);
  const d2Adv = win.find((p) => p.ipSrc === d2.ip && p.prio !== undefined && p.prio > 0 && p.t >= t0);
  const garps = win.filter((p) => p.arpOp !== undefined && p.arpSrcMac === d2.mac && p.arpSrcIp === VIP && p.t >= t0);
  const p0 = win.find((p) => p.ipSrc === d1.ip && p.prio === 0 && p.t >= t0 - 1);
  const lastD1 = win.filter((p) => p.ipSrc === d1.ip && p.prio !== undefined && p.prio > 0 && p.t < (tvNl ?? d2Adv?.t ?? horizon)).at(-1);
  row.sigToVip = since(tvNl);
  row.sigToArp = since(taNl);
  row.vipToArp = tvNl !== undefined && taNl !== undefined ? taNl - tvNl : undefined;
  row.sigToGarp = since(garps[0]?.t);
  row.vipToGarp = tvNl !== undefined && garps[0] ? garps[0].t - tvNl : undefined;
  row.garpCount1s = garps[0] ? garps.filter((g) => g.t - garps[0]!.t <= 1000).length : 0;
  row.sigToD2Advert = since(d2Adv?.t);
  if (row.mode === 'crash') row.down = tvNl !== undefined && lastD1 ? tvNl - lastD1.t : undefined;
  else {
    row.sigToP0 = since(p0?.t);
    row.p0ToVip = tvNl !== undefined && p0 ? tvNl - p0.t : undefined;
    row.p0ToD2Advert = d2Adv && p0 ? d2Adv.t - p0.t : undefined;
  }
  if (row.mode === 'crash') row.lastD1ToD2Advert = d2Adv && lastD1 ? d2Adv.t - lastD1.t : undefined;
}

async function main(): Promise<void> {
  const saved = args.get('summarize');
  if (saved) {
    // re-print the report of an earlier run from its raw rows
    const j = JSON.parse(readFileSync(saved, 'utf8')) as { startedAt: string; machine: string; kaVersion: string; vipkeeper?: string; rows: Row[] };
    const report = summarize(j.rows, { startedAt: j.startedAt, machine: j.machine, kaVersion: j.kaVersion, vk: j.vipkeeper ?? '' });
    process.stdout.write(`${report}\n`);
    writeFileSync(saved.replace(/\.json$/, '.md'), `${report}\n`);
    return;
  }
  requireRootAndTools(['ip', 'tshark', ...(DAEMONS.includes('keepalived') ? ['keepalived'] : [])]);
  const kaVersion = DAEMONS.includes('keepalived') ? keepalivedVersion() : '';
  const machine = machineLine();
  const startedAt = new Date().toISOString();
  const deadline = performance.now() + MAX_MINUTES * 60_000;
  let vk: VkCommand | undefined;
  if (DAEMONS.includes('vipkeeper')) vk = await vipkeeperCommand(VK_MODE);
  process.once('exit', () => vk?.cleanup());

  const lab = new BenchLab('failover');
  const rows: Row[] = [];
  let trace: unknown;
  try {
    const lan = await lab.addNamespace('lan');
    await lab.addBridge(lan);
    const d1 = await lab.addNode(lan, 'd1', `${PREFIX}.11`, '02:97:00:00:00:11');
    const d2 = await lab.addNode(lan, 'd2', `${PREFIX}.12`, '02:97:00:00:00:12');
    const client = await lab.addNode(lan, 'client', `${PREFIX}.10`, '02:97:00:00:00:10');

    const nSamples = REPS * DAEMONS.length * VARIANT_KEYS.length * MODES.length;
    const cap = await startCapture(lab, client.ns, Math.min(MAX_MINUTES * 60 + 300, nSamples * 40 + 300));
    const monVip = startMonitor(lab, d2.ns, 'address');
    const monArp = startMonitor(lab, client.ns, 'neigh');
    await sleep(300);
    // processes of the harness itself; never signalled by stopAll or the crash
    const infra = new Set([cap.proc.pid, monVip.proc.pid, monArp.proc.pid]);
    const daemonPids = (ns: string) => lab.pidsIn(ns).filter((p) => !infra.has(p));

    const running: Running[] = [];
    let seq = 0;
    const start = (kind: DaemonKind, node: LanNode, conf: string): Running => {
      const tag = `${kind}-${node.name}-${++seq}`;
      if (kind === 'keepalived') {
        const base = path.join(lab.dir, tag);
        const proc = lab.spawn(node.ns, ['keepalived', '-n', '-l', '-D', '-G', '-P', '-f', conf, '-p', `${base}.pid`, '-r', `${base}-vrrp.pid`, '-c', `${base}-checkers.pid`], tag);
        const r = { kind, node, proc, vrrpPidFile: `${base}-vrrp.pid` };
        running.push(r);
        return r;
      }
      const proc = lab.spawn(node.ns, [...vk!.argv, 'run', '-f', conf, '--config-id', 'bench', '--log-level', 'info', '--socket', path.join(lab.dir, `${tag}.sock`)], tag);
      const r = { kind, node, proc };
      running.push(r);
      return r;
    };
    const stopAll = async (): Promise<void> => {
      for (const r of running) r.proc.signal('SIGTERM');
      await Promise.all(running.map((r) => r.proc.exitWithin(5000)));
      for (const r of running.splice(0)) {
        r.proc.signal('SIGKILL');
        for (const pid of daemonPids(r.node.ns)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
      for (const n of [d1, d2]) await lab.exec(n.ns, ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']).catch(() => undefined);
    };
    const isBackup = (r: Running) => (r.kind === 'keepalived' ? /\(VI_BENCH\) Entering BACKUP STATE/.test(r.proc.log()) : /"to":"BACKUP"/.test(r.proc.log()));

    const sample = async (kind: DaemonKind, vkey: string, mode: Mode, rep: number): Promise<Row> => {
      const v = VARIANTS[vkey]!;
      const row: Row = { daemon: kind, variant: vkey, mode, rep, ok: false, t0: 0, signalMs: 0 };
      await stopAll();
      const c1 = path.join(lab.dir, `d1-${vkey}.conf`);
      const c2 = path.join(lab.dir, `d2-${vkey}.conf`);
      writeFileSync(c1, confText(v, 'd1'));
      writeFileSync(c2, confText(v, 'd2'));
      const r2 = start(kind, d2, c2);
      const r1 = start(kind, d1, c1);
      const ready = await pollUntil(async () => {
        if (!r1.proc.running || !r2.proc.running) throw new Error(`a daemon exited during start:\n${r1.proc.log().slice(-1500)}\n${r2.proc.log().slice(-1500)}`);
        return isBackup(r2) && (await hasAddress(d1.ns, VIP)) && !(await hasAddress(d2.ns, VIP));
      }, 20_000, 50);
      if (ready === undefined) throw new Error(`d1 never became the sole master with d2 BACKUP within 20 s\n${r1.proc.log().slice(-1500)}\n${r2.proc.log().slice(-1500)}`);
      await lab.exec(client.ns, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
      await lab.exec(client.ns, ['ping', '-c1', '-W1', '-q', VIP]).catch(() => undefined);
      if ((await neighMac(client.ns, VIP)) !== d1.mac) throw new Error('client ARP entry for the VIP is not d1 before the test');
      await sleep(2000 + Math.floor(Math.random() * 1000));
      if (!(await hasAddress(d1.ns, VIP)) || (await hasAddress(d2.ns, VIP))) throw new Error('state changed during the settle time');

      // the action
      let pids: number[] = [r1.proc.pid];
      if (mode === 'crash') {
        pids = [...new Set([r1.proc.pid, ...daemonPids(d1.ns)])];
      }
      calibrate();
      const t0 = realNow();
      if (mode === 'crash') {
        for (const p of pids) process.kill(p, 'SIGSTOP');
        for (const p of pids) process.kill(p, 'SIGKILL');
      } else {
        process.kill(r1.proc.pid, 'SIGTERM');
      }
      row.t0 = t0;
      row.signalMs = realNow() - t0;

      const tvPoll = await pollUntil(() => hasAddress(d2.ns, VIP), 15_000, 10);
      const taPoll = tvPoll === undefined ? undefined : await pollUntil(async () => (await neighMac(client.ns, VIP)) === d2.mac, 3000, 10);
      // let the wire and the monitors catch up (d2's GARPs, tshark's line buffering)
      await r1.proc.exitWithin(5000);
      await sleep(Math.max(400, 3 * v.intervalMs));
      row.d1KeepsVip = await hasAddress(d1.ns, VIP);
      row.arpMoved = taPoll !== undefined;
      row.tvPoll = tvPoll;
      row.taPoll = taPoll;
      row.sigToVipPoll = tvPoll === undefined ? undefined : tvPoll - t0;
      row.sigToArpPoll = taPoll === undefined ? undefined : taPoll - t0;
      row.ok = tvPoll !== undefined;
      if (!row.ok) row.error = 'no failover within 15 s';
      return row;
    };

    outer: for (const vkey of VARIANT_KEYS) {
      for (const mode of MODES) {
        for (let rep = 1; rep <= REPS; rep++) {
          // alternate which daemon goes first, so neither always follows the other
          const order = rep % 2 ? DAEMONS : [...DAEMONS].reverse();
          for (const kind of order) {
            if (performance.now() > deadline) {
              process.stderr.write(`[failover] --max-minutes ${MAX_MINUTES} reached; stopping early\n`);
              break outer;
            }
            let row: Row;
            try {
              row = await sample(kind, vkey, mode, rep);
            } catch (e) {
              row = { daemon: kind, variant: vkey, mode, rep, ok: false, error: (e as Error).message.slice(0, 3000), t0: 0, signalMs: 0 };
            }
            rows.push(row);
            const f = (x?: number) => (x === undefined ? '-' : x.toFixed(1));
            process.stderr.write(
              `[failover] ${kind.padEnd(10)} ${vkey.padEnd(7)} ${mode.padEnd(8)} #${rep}: ` +
                (row.ok
                  ? `VIP (10 ms poll) ${f(row.sigToVipPoll)} ms, client ARP (poll) ${f(row.sigToArpPoll)} ms, d1 keeps VIP: ${row.d1KeepsVip ? 'yes' : 'no'}\n`
                  : `FAILED: ${row.error?.split('\n')[0]}\n`),
            );
          }
        }
      }
    }
    await stopAll();
    // tshark and the monitors deliver lines with some delay: analyse once everything is in
    await sleep(1500);
    trace = { packets: cap.packets, vipMonitor: monVip.lines, arpMonitor: monArp.lines };
    for (const row of rows) if (row.ok) analyse(row, cap.packets, monVip.lines, monArp.lines, { d1, d2 });
    cap.proc.signal('SIGTERM');
    monVip.proc.signal('SIGTERM');
    monArp.proc.signal('SIGTERM');
  } finally {
    await lab.stopAndCleanup(3000, KEEP_LOGS);
    if (KEEP_LOGS) process.stderr.write(`[failover] daemon logs kept in ${lab.dir}\n`);
    vk?.cleanup();
  }

  const report = summarize(rows, { startedAt, machine, kaVersion, vk: vk?.describe ?? '' });
  process.stdout.write(`${report}\n`);
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(`${OUT}.json`, JSON.stringify({ startedAt, machine, kaVersion, vipkeeper: vk?.describe, reps: REPS, rows }, null, 1));
  writeFileSync(`${OUT}.md`, `${report}\n`);
  if (trace) writeFileSync(`${OUT}-trace.json`, JSON.stringify(trace));
  process.stderr.write(`[failover] raw rows: ${OUT}.json, summary: ${OUT}.md\n`);
}

function summarize(rows: Row[], meta: { startedAt: string; machine: string; kaVersion: string; vk: string }): string {
  const out: string[] = [];
  out.push(`Failover benchmark, started ${meta.startedAt}`);
  out.push(`Machine: ${meta.machine}`);
  if (meta.kaVersion) out.push(`keepalived: ${meta.kaVersion} (-P, VRRP only)`);
  if (meta.vk) out.push(`vipkeeper: ${meta.vk}`);
  out.push('All times in ms, min / **median** / max over the successful samples.');
  out.push('');
  out.push('| daemon | variant | mode | ok | signal → VIP on d2 (netlink) | signal → VIP (10 ms poll) | signal → client ARP → d2 (netlink) | VIP → client ARP moved | VIP → d2 first GARP (wire) | wire: d1 last advert (crash) / prio-0 advert (graceful) → d2 first advert | d1 last advert → VIP (crash) / prio-0 advert → VIP (graceful) | d2 first advert → VIP (address-add latency) | signal → prio-0 advert (wire) | d1 keeps VIP |');
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const k = `${r.variant}|${r.mode}|${r.daemon}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  for (const [k, rs] of groups) {
    const [vkey, mode, daemon] = k.split('|') as [string, Mode, DaemonKind];
    const ok = rs.filter((r) => r.ok);
    const col = (f: (r: Row) => number | undefined, d = 0) => mmm(ok.map(f), d);
    const crash = mode === 'crash';
    out.push(
      `| ${daemon} | ${VARIANTS[vkey]!.name} | ${mode} | ${ok.length}/${rs.length} | ${col((r) => r.sigToVip)} | ${col((r) => r.sigToVipPoll)} | ${col((r) => r.sigToArp)} | ${col((r) => r.vipToArp, 1)} | ${col((r) => r.vipToGarp, 1)} | ${col((r) => (crash ? r.lastD1ToD2Advert : r.p0ToD2Advert), 1)} | ${col((r) => (crash ? r.down : r.p0ToVip), 1)} | ${col((r) => (r.sigToVip !== undefined && r.sigToD2Advert !== undefined ? r.sigToVip - r.sigToD2Advert : undefined), 1)} | ${crash ? '–' : col((r) => r.sigToP0, 1)} | ${ok.filter((r) => r.d1KeepsVip).length}/${ok.length} |`,
    );
  }
  out.push('');

  // comparisons and targets
  const med = (daemon: DaemonKind, vkey: string, mode: Mode, f: (r: Row) => number | undefined) => median(finite(rows.filter((r) => r.ok && r.daemon === daemon && r.variant === vkey && r.mode === mode).map(f)));
  const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
  const verdict = (pass: boolean | undefined) => (pass === undefined ? 'n/a' : pass ? 'met' : '**not met**');
  out.push('| variant | mode | metric (medians) | keepalived | vipkeeper | vipkeeper − keepalived | vipkeeper / keepalived | target | result |');
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const variants = [...new Set(rows.map((r) => r.variant))];
  for (const vkey of variants) {
    const v = VARIANTS[vkey]!;
    for (const mode of [...new Set(rows.map((r) => r.mode))]) {
      const lines: Array<[string, (r: Row) => number | undefined, string, (ka: number, vk: number) => boolean | undefined]> = [];
      if (mode === 'crash') {
        lines.push(['signal → VIP on d2', (r) => r.sigToVip, '≤ 5 ms from keepalived (but see note: phase-dependent)', (ka, vkx) => Math.abs(vkx - ka) <= 5]);
        lines.push([`d1 last advert → VIP on d2 (Master_Down_Interval ${masterDownMs(v).toFixed(0)})`, (r) => r.down, '≤ 5 ms from keepalived', (ka, vkx) => Math.abs(vkx - ka) <= 5]);
        lines.push(['wire: d1 last advert → d2 first advert', (r) => r.lastD1ToD2Advert, '≤ 5 ms from keepalived', (ka, vkx) => Math.abs(vkx - ka) <= 5]);
      } else {
        lines.push([`signal → VIP on d2 (Skew_Time ${skewMs(v).toFixed(0)})`, (r) => r.sigToVip, `≤ Skew_Time + 5 ms (${(skewMs(v) + 5).toFixed(0)})`, (_ka, vkx) => vkx <= skewMs(v) + 5]);
        lines.push(['prio-0 advert → VIP on d2', (r) => r.p0ToVip, `within 5 ms of Skew_Time`, (_ka, vkx) => Math.abs(vkx - skewMs(v)) <= 5]);
        lines.push(['wire: prio-0 advert → d2 first advert', (r) => r.p0ToD2Advert, `within 5 ms of Skew_Time`, (_ka, vkx) => Math.abs(vkx - skewMs(v)) <= 5]);
      }
      lines.push(['VIP → client ARP moved', (r) => r.vipToArp, '≤ 10 ms', (_ka, vkx) => vkx <= 10]);
      for (const [name, f, target, pass] of lines) {
        const ka = med('keepalived', vkey, mode, f);
        const vkx = med('vipkeeper', vkey, mode, f);
        const both = Number.isFinite(ka) && Number.isFinite(vkx);
        const p = Number.isFinite(vkx) ? pass(ka, vkx) : undefined;
        out.push(`| ${v.name} | ${mode} | ${name} | ${f1(ka)} | ${f1(vkx)} | ${both ? f1(vkx - ka) : 'n/a'} | ${both ? (vkx / ka).toFixed(3) : 'n/a'} | ${target} | ${verdict(Number.isFinite(ka) || !target.includes('keepalived') ? p : undefined)} |`);
      }
    }
  }
  const failed = rows.filter((r) => !r.ok);
  if (failed.length) {
    out.push('');
    out.push(`Failed samples (${failed.length}):`);
    for (const r of failed) out.push(`- ${r.daemon} ${r.variant} ${r.mode} #${r.rep}: ${r.error?.split('\n')[0]}`);
  }
  return out.join('\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`[failover] ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});

// VRRP advert jitter under health-check load and reloads (not a test).
//
//   npx tsx bench/jitter/run.ts [--rs 10000] [--kind tcp|http] [--duration 300] [--reload-every 10]
//                               [--runs vipkeeper,keepalived,vipkeeper-novs] [--vk snapshot|tsx|dist]
//                               [--out bench/jitter/results/NAME] [--vrrp-rt-priority N] [--keep-logs]
//
// Topology (namespaces vkb-<pid>-*, deleted at the end, also on failure or Ctrl-C): a bridge with
//   d1     10.96.0.11  the daemon under test: VRRPv3, advert_int 0.1, priority 150, VIP 10.96.0.100
//   d2     10.96.0.12  the peer: keepalived (VRRP only, -P), BACKUP, priority 100, the same instance
//   client 10.96.0.10  tshark on eth0 (`ip proto 112`): kernel receive time of every advert
//   (and a second tshark on d1's bridge port in the bridge's namespace: the send time, before the
//   bridge forwards the frame in softirq, which a loaded machine can delay)
//   rs     10.96.0.21  nginx (1 worker) answering on every address of 10.200.0.0/16 (an AnyIP local
//                      route); d1 routes 10.200.0.0/16 via rs, so check traffic crosses the bridge
// Runs (each with a fresh d1 and peer; SIGHUP to d1's daemon every --reload-every s):
//   vipkeeper       `vipkeeper run` with the VRRP instance AND --rs real servers (delay_loop 1 s)
//                   in one config: VRRP worker thread + health checks in the same process
//   keepalived      keepalived -P (VRRP only: its checker needs IP_VS, which this kernel lacks) on
//                   the same config file, plus the same check load from a separate process
//                   (vipkeeper's HealthChecker, bench/checks/checker.ts) so the machine carries the
//                   same work; keepalived also runs its checks in a separate process
//   vipkeeper-novs  vipkeeper with the VRRP instance only (reloads, no checks): the baseline
// Measured over the window (after the daemon is MASTER and the checks have settled):
//   the gaps between d1's consecutive adverts at the client, minus 100 ms: p50, p99, max of the
//   absolute deviation; gaps over 150 / 200 / 300 ms (Master_Down_Interval of the peer is 361 ms);
//   the peer's state changes (keepalived's "Entering … STATE" lines after its first BACKUP) and
//   adverts the peer sent (it only sends as MASTER); d1's own transitions; reloads done; d1's CPU.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { checksConf, type CheckKind } from '../checks/config.js';
import { checkerArgv, compileChecker, procCpuS, startListener, type CheckerResult } from '../checks/lib.js';
import {
  BenchLab,
  hasAddress,
  keepalivedVersion,
  machineLine,
  parseArgs,
  pollUntil,
  quantile,
  realNow,
  requireRootAndTools,
  sh,
  sleep,
  startCapture,
  vipkeeperCommand,
  type Proc,
  type VkMode,
} from '../failover/lab.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = parseArgs(process.argv.slice(2));
const RS = Number(args.get('rs') ?? 10_000);
const KIND = (args.get('kind') ?? 'tcp') as CheckKind;
const DURATION_S = Number(args.get('duration') ?? 300);
const RELOAD_S = Number(args.get('reload-every') ?? 10);
const RUNS = (args.get('runs') ?? 'vipkeeper,keepalived,vipkeeper-novs').split(',');
const VK_MODE = (args.get('vk') ?? 'snapshot') as VkMode;
const SETTLE_S = Number(args.get('settle') ?? 5);
/** Keep the lab's temp dir (daemon logs, configs) instead of deleting it. */
const KEEP_LOGS = args.has('keep-logs');
/** `vrrp_rt_priority` in d1's config (0 = off); unset: the daemon's default. keepalived runs get it too. */
const RT_PRIO = args.get('vrrp-rt-priority');
const rtDefs = RT_PRIO === undefined ? [] : [`vrrp_rt_priority ${Number(RT_PRIO)}`];
const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\..*/, 'Z');
const OUT = args.get('out') ?? path.join(HERE, 'results', `jitter-${stamp}`);
const PREFIX = '10.96.0';
const VIP = `${PREFIX}.100`;
const INTERVAL_MS = 100;
for (const r of RUNS) if (!['vipkeeper', 'keepalived', 'vipkeeper-novs'].includes(r)) throw new Error(`unknown run ${r}`);

const rsAddr = (i: number) => {
  const h = i + 1;
  return `10.200.${(h >> 8) & 255}.${h & 255}`;
};

function vrrpBlock(role: 'd1' | 'd2'): string {
  return [
    'vrrp_instance VI_JIT {',
    `    state ${role === 'd1' ? 'MASTER' : 'BACKUP'}`,
    '    interface eth0',
    '    virtual_router_id 52',
    `    priority ${role === 'd1' ? 150 : 100}`,
    '    advert_int 0.1',
    '    virtual_ipaddress {',
    `        ${VIP}/24 dev eth0`,
    '    }',
    '}',
  ].join('\n');
}

function d1Conf(withChecks: boolean): string {
  if (!withChecks) return ['global_defs {', '    router_id bench_d1', '    vrrp_version 3', ...rtDefs.map((l) => `    ${l}`), '}', '', vrrpBlock('d1'), ''].join('\n');
  return checksConf({ realServers: RS, kind: KIND, address: rsAddr, globalDefs: ['vrrp_version 3', ...rtDefs], extra: vrrpBlock('d1') });
}

interface RunResult {
  run: string;
  startedAt: string;
  loadavg: string;
  windowS: number;
  adverts: number;
  expectedAdverts: number;
  devAbsMs: { p50: number; p99: number; max: number };
  devRegularMs: { p50: number; p99: number; max: number };
  /** The same as devRegularMs, at d1's bridge port (send time) instead of the client. */
  devSentMs?: { p50: number; p99: number; max: number };
  shortGaps: number;
  /** wall-clock ms of each SIGHUP */
  reloadTimes: number[];
  /** gaps over 150 ms: when (s into the window), how long, ms since the last SIGHUP */
  longGaps: Array<{ atS: number; gapMs: number; sinceReloadMs?: number }>;
  /** the 5 largest deviations |gap − 100 ms|, the same fields as longGaps */
  worstGaps?: Array<{ atS: number; gapMs: number; sinceReloadMs?: number }>;
  gapMs: { min: number; max: number };
  gapsOver: { '150': number; '200': number; '300': number };
  peerTransitions: number;
  peerAdverts: number;
  d1Transitions: number;
  reloadsSent: number;
  reloadsDone: number;
  d1CpuS: number;
  loadCpuS?: number;
  checkRate?: number;
  checkFailures?: number;
  checkP99Ms?: number;
  /** d1's VRRP thread scheduling from `vipkeeper status --json` (vrrp.thread). */
  vrrpThread?: string;
  notes: string[];
  error?: string;
}

async function main(): Promise<void> {
  requireRootAndTools(['ip', 'tshark', 'keepalived', 'nginx', 'curl']);
  const kaVersion = keepalivedVersion();
  const machine = machineLine();
  const startedAt = new Date().toISOString();
  const vk = await vipkeeperCommand(VK_MODE);
  process.once('exit', () => vk.cleanup());
  const lab = new BenchLab('jitter');
  const results: RunResult[] = [];
  let listenerDesc = '';
  try {
    const lan = await lab.addNamespace('lan');
    await lab.addBridge(lan);
    const d1 = await lab.addNode(lan, 'd1', `${PREFIX}.11`, '02:96:00:00:00:11');
    const d2 = await lab.addNode(lan, 'd2', `${PREFIX}.12`, '02:96:00:00:00:12');
    const client = await lab.addNode(lan, 'client', `${PREFIX}.10`, '02:96:00:00:00:10');
    const rs = await lab.addNode(lan, 'rs', `${PREFIX}.21`, '02:96:00:00:00:21');
    await sh('ip', ['-n', rs.ns, 'route', 'add', 'local', '10.200.0.0/16', 'dev', 'lo']);
    await sh('ip', ['-n', d1.ns, 'route', 'add', '10.200.0.0/16', 'via', rs.ip]);
    const listener = await startListener(lab, rs.ns, 'nginx', '10.200.0.1');
    listenerDesc = listener.describe;
    const checkerJs = await compileChecker(lab.dir);

    const peerConf = path.join(lab.dir, 'd2.conf');
    writeFileSync(peerConf, ['global_defs {', '    router_id bench_d2', '    vrrp_version 3', '}', '', vrrpBlock('d2'), ''].join('\n'));

    let seq = 0;
    const startKeepalived = (ns: string, conf: string, tag: string): { proc: Proc; vrrpPidFile: string } => {
      const base = path.join(lab.dir, `${tag}-${++seq}`);
      const proc = lab.spawn(ns, ['keepalived', '-n', '-l', '-D', '-G', '-P', '-f', conf, '-p', `${base}.pid`, '-r', `${base}-vrrp.pid`, '-c', `${base}-checkers.pid`], tag);
      return { proc, vrrpPidFile: `${base}-vrrp.pid` };
    };
    const readPid = (f: string) => {
      try {
        return Number(readFileSync(f, 'utf8').trim()) || undefined;
      } catch {
        return undefined;
      }
    };

    for (const run of RUNS) {
      const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
      process.stderr.write(`[jitter] ${run}: ${DURATION_S} s, ${run === 'vipkeeper-novs' ? 0 : RS} real servers (${KIND}), SIGHUP every ${RELOAD_S} s (load average ${loadavg}) …\n`);
      const res: RunResult = {
        run,
        startedAt: new Date().toISOString(),
        loadavg,
        windowS: 0,
        adverts: 0,
        expectedAdverts: 0,
        devAbsMs: { p50: NaN, p99: NaN, max: NaN },
        devRegularMs: { p50: NaN, p99: NaN, max: NaN },
        shortGaps: 0,
        reloadTimes: [],
        longGaps: [],
        gapMs: { min: NaN, max: NaN },
        gapsOver: { '150': 0, '200': 0, '300': 0 },
        peerTransitions: 0,
        peerAdverts: 0,
        d1Transitions: 0,
        reloadsSent: 0,
        reloadsDone: 0,
        d1CpuS: NaN,
        notes: [],
      };
      const procs: Proc[] = [];
      try {
        const withChecks = run !== 'vipkeeper-novs';
        const conf = path.join(lab.dir, `d1-${run}.conf`);
        writeFileSync(conf, d1Conf(withChecks));
        const cap = await startCapture(lab, client.ns, DURATION_S + 180, 'ip proto 112');
        procs.push(cap.proc);
        // d1's bridge port, in the bridge's namespace: the veth stamps a frame when d1's send puts
        // it on the port, so this is the send time without the bridge's forwarding (softirq) delay
        const sendCap = await startCapture(lab, lan, DURATION_S + 180, `ip proto 112 and src host ${d1.ip}`, d1.port);
        procs.push(sendCap.proc);
        const peer = startKeepalived(d2.ns, peerConf, 'peer');
        procs.push(peer.proc);
        await pollUntil(() => /\(VI_JIT\) Entering BACKUP STATE/.test(peer.proc.log()), 10_000, 50);

        let d1proc: Proc;
        let d1Pids: () => number[];
        let load: Proc | undefined;
        let loadOut = '';
        let d1Log: () => string;
        let sock = '';
        if (run === 'keepalived') {
          const k = startKeepalived(d1.ns, conf, 'd1-keepalived');
          d1proc = k.proc;
          d1Pids = () => [k.proc.pid, readPid(k.vrrpPidFile)].filter((x): x is number => x !== undefined);
          d1Log = () => k.proc.log();
          loadOut = path.join(lab.dir, 'load-result.json');
          load = lab.spawn(d1.ns, [...checkerArgv(vk.mode, checkerJs), JSON.stringify({ modulesRoot: vk.modulesRoot, conf, settleMs: 0, durationMs: 0, out: loadOut })], 'check-load');
          procs.push(load);
        } else {
          sock = path.join(lab.dir, `vk-${run}.sock`);
          d1proc = lab.spawn(d1.ns, [...vk.argv, 'run', '-f', conf, '--config-id', 'bench', '--log-level', 'info', '--socket', sock], `d1-${run}`);
          d1Pids = () => [d1proc.pid];
          d1Log = () => d1proc.log();
        }
        procs.push(d1proc);
        const master = await pollUntil(async () => {
          if (!d1proc.running) throw new Error(`d1 exited: ${d1proc.log().slice(-2000)}`);
          return hasAddress(d1.ns, VIP);
        }, 60_000, 100);
        if (master === undefined) throw new Error(`d1 did not become MASTER within 60 s: ${d1Log().slice(-2000)}`);
        await sleep(SETTLE_S * 1000);

        const status0 = sock ? await vkCompleted(vk.argv, sock) : undefined;
        if (sock) res.vrrpThread = await vkThread(vk.argv, sock);
        const tStatus0 = performance.now();
        const cpu0 = d1Pids().reduce((a, p) => a + procCpuS(p), 0);
        // only state changes logged inside the window count
        const peerLines0 = peer.proc.log().split('\n').length;
        const d1Lines0 = d1Log().split('\n').length;
        const tStart = realNow();
        const tEndPlanned = performance.now() + DURATION_S * 1000;
        let nextReload = performance.now() + RELOAD_S * 1000;
        while (performance.now() < tEndPlanned) {
          await sleep(Math.max(0, Math.min(tEndPlanned, nextReload) - performance.now()));
          if (!d1proc.running) throw new Error(`d1 exited during the run: ${d1Log().slice(-2000)}`);
          if (performance.now() >= nextReload && performance.now() < tEndPlanned) {
            res.reloadTimes.push(realNow());
            d1proc.signal('SIGHUP');
            res.reloadsSent++;
            nextReload += RELOAD_S * 1000;
          }
        }
        const tEnd = realNow();
        const cpu1 = d1Pids().reduce((a, p) => a + procCpuS(p), 0);
        const status1 = sock ? await vkCompleted(vk.argv, sock) : undefined;
        const tStatus1 = performance.now();
        res.windowS = (tEnd - tStart) / 1000;
        res.d1CpuS = cpu1 - cpu0;
        if (status0 !== undefined && status1 !== undefined) res.checkRate = (status1 - status0) / ((tStatus1 - tStatus0) / 1000);

        await sleep(1500); // tshark's last lines
        const adv = cap.packets.filter((p) => p.ipSrc === d1.ip && p.prio !== undefined && p.prio > 0 && p.t >= tStart && p.t <= tEnd).map((p) => p.t);
        const gaps = adv.slice(1).map((t, i) => t - adv[i]!);
        const dev = gaps.map((g) => Math.abs(g - INTERVAL_MS));
        // an advert sent early (keepalived re-sends at once on a reload) makes one short gap; a late
        // one is what could let the peer's Master_Down_Interval (361 ms) run out
        const regular = gaps.filter((g) => g >= INTERVAL_MS / 2);
        const devRegular = regular.map((g) => Math.abs(g - INTERVAL_MS));
        res.shortGaps = gaps.length - regular.length;
        res.devRegularMs = { p50: quantile(devRegular, 0.5), p99: quantile(devRegular, 0.99), max: devRegular.length ? Math.max(...devRegular) : NaN };
        res.adverts = adv.length;
        res.expectedAdverts = Math.floor((tEnd - tStart) / INTERVAL_MS);
        res.devAbsMs = { p50: quantile(dev, 0.5), p99: quantile(dev, 0.99), max: dev.length ? Math.max(...dev) : NaN };
        const sent = sendCap.packets.filter((p) => p.ipSrc === d1.ip && p.prio !== undefined && p.prio > 0 && p.t >= tStart && p.t <= tEnd).map((p) => p.t);
        const devSent = sent
          .slice(1)
          .map((t, i) => t - sent[i]!)
          .filter((g) => g >= INTERVAL_MS / 2)
          .map((g) => Math.abs(g - INTERVAL_MS));
        res.devSentMs = { p50: quantile(devSent, 0.5), p99: quantile(devSent, 0.99), max: devSent.length ? Math.max(...devSent) : NaN };
        res.gapMs = { min: gaps.length ? Math.min(...gaps) : NaN, max: gaps.length ? Math.max(...gaps) : NaN };
        for (let i = 0; i < gaps.length; i++) {
          if (gaps[i]! <= 150) continue;
          const end = adv[i + 1]!;
          const last = res.reloadTimes.filter((r) => r <= end).at(-1);
          res.longGaps.push({ atS: (end - tStart) / 1000, gapMs: gaps[i]!, ...(last !== undefined ? { sinceReloadMs: end - last } : {}) });
        }
        res.worstGaps = gaps
          .map((g, i) => ({ g, i }))
          .sort((a, b) => Math.abs(b.g - INTERVAL_MS) - Math.abs(a.g - INTERVAL_MS))
          .slice(0, 5)
          .map(({ g, i }) => {
            const end = adv[i + 1]!;
            const last = res.reloadTimes.filter((r) => r <= end).at(-1);
            return { atS: (end - tStart) / 1000, gapMs: g, ...(last !== undefined ? { sinceReloadMs: end - last } : {}) };
          });
        res.gapsOver = { '150': gaps.filter((g) => g > 150).length, '200': gaps.filter((g) => g > 200).length, '300': gaps.filter((g) => g > 300).length };
        res.peerAdverts = cap.packets.filter((p) => p.ipSrc === d2.ip && p.prio !== undefined && p.prio > 0 && p.t >= tStart && p.t <= tEnd).length;
        const kaState = /\(VI_JIT\) Entering (MASTER|BACKUP|FAULT) STATE/;
        res.peerTransitions = peer.proc.log().split('\n').slice(peerLines0 - 1).filter((l) => kaState.test(l)).length;
        if (run === 'keepalived') {
          const l = d1Log().split('\n');
          res.d1Transitions = l.slice(d1Lines0 - 1).filter((x) => kaState.test(x)).length;
          res.reloadsDone = l.filter((x) => /Reload complete/.test(x)).length;
        } else {
          const l = d1Log().split('\n');
          res.d1Transitions = l.slice(d1Lines0 - 1).filter((x) => x.includes('"instance":"VI_JIT"') && x.includes('"to":')).length;
          res.reloadsDone = l.filter((x) => x.includes('"msg":"config reloaded"')).length;
          const refused = l.filter((x) => x.includes('reload refused')).length;
          if (refused) res.notes.push(`${refused} reloads refused`);
        }
        if (load) {
          load.signal('SIGTERM');
          await load.exitWithin(10_000);
          try {
            const r = JSON.parse(readFileSync(loadOut, 'utf8')) as CheckerResult;
            res.loadCpuS = r.cpuS;
            res.checkRate = r.rate;
            res.checkFailures = r.failures;
            res.checkP99Ms = r.latencyMs.p99;
          } catch {
            res.notes.push('the check-load process left no result');
          }
        }
        process.stderr.write(
          `[jitter]   adverts ${res.adverts}/${res.expectedAdverts}, |dev| p50 ${res.devAbsMs.p50.toFixed(2)} p99 ${res.devAbsMs.p99.toFixed(2)} max ${res.devAbsMs.max.toFixed(1)} ms (${res.shortGaps} short gaps; without: p99 ${res.devRegularMs.p99.toFixed(2)} max ${res.devRegularMs.max.toFixed(1)}; at d1's port: p50 ${res.devSentMs?.p50.toFixed(2)} p99 ${res.devSentMs?.p99.toFixed(2)} max ${res.devSentMs?.max.toFixed(1)}), ` +
            `gaps >150/200/300 ms: ${res.gapsOver['150']}/${res.gapsOver['200']}/${res.gapsOver['300']}, peer transitions ${res.peerTransitions}, peer adverts ${res.peerAdverts}, ` +
            `${res.longGaps.filter((g) => g.sinceReloadMs !== undefined && g.sinceReloadMs < 3000).length} of the >150 ms gaps end within 3 s after a SIGHUP, ` +
            `reloads ${res.reloadsDone}/${res.reloadsSent}, d1 CPU ${res.d1CpuS.toFixed(1)} s, checks/s ${res.checkRate?.toFixed(0) ?? 'n/a'}\n`,
        );
      } catch (e) {
        res.error = (e as Error).message.slice(0, 3000);
        process.stderr.write(`[jitter]   FAILED: ${res.error.split('\n')[0]}\n`);
      } finally {
        for (const p of procs.reverse()) p.signal('SIGTERM');
        await Promise.all(procs.map((p) => p.exitWithin(8000)));
        for (const p of procs) p.signal('SIGKILL');
        for (const n of [d1, d2]) {
          for (const pid of lab.pidsIn(n.ns)) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              /* gone */
            }
          }
          await lab.exec(n.ns, ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']).catch(() => undefined);
        }
      }
      results.push(res);
      await sleep(3000);
    }
    await listener.stop();
  } finally {
    await lab.stopAndCleanup(3000, KEEP_LOGS);
    if (KEEP_LOGS) process.stderr.write(`[jitter] daemon logs kept in ${lab.dir}\n`);
  }

  const lines: string[] = [];
  lines.push(`VRRP jitter benchmark, started ${startedAt}`);
  lines.push(`Machine: ${machine}`);
  lines.push(`vipkeeper: ${vk.describe}; keepalived: ${kaVersion}; peer: keepalived -P BACKUP; real servers behind nginx (${listenerDesc}) in another namespace`);
  lines.push(`VRRPv3 advert_int 0.1 s; ${RS} ${KIND === 'tcp' ? 'TCP_CHECK' : 'HTTP_GET'} real servers at delay_loop 1 s; SIGHUP every ${RELOAD_S} s; window ${DURATION_S} s per run`);
  lines.push('');
  lines.push('| run | window s | adverts / expected | \\|gap − 100 ms\\| p50 | p99 | max | short gaps < 50 ms (early adverts) | without them: p50 | p99 | max | send time at the d1 bridge port, without them: p50 | p99 | max | gaps > 150 / 200 / 300 ms | peer state changes | peer adverts | d1 transitions | reloads done / sent | d1 daemon CPU s | check load: rate /s, CPU s | load average |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    if (r.error) {
      lines.push(`| ${r.run} | failed: ${r.error.split('\n')[0]} | | | | | | | | | | | | | | | | | | | ${r.loadavg} |`);
      continue;
    }
    const load = r.run === 'keepalived' ? `${r.checkRate?.toFixed(0) ?? 'n/a'}/s, ${r.loadCpuS?.toFixed(1) ?? 'n/a'} s (separate process)` : r.run === 'vipkeeper' ? `${r.checkRate?.toFixed(0) ?? 'n/a'}/s (in the daemon)` : 'none';
    lines.push(
      `| ${r.run} | ${r.windowS.toFixed(0)} | ${r.adverts} / ${r.expectedAdverts} | ${r.devAbsMs.p50.toFixed(2)} | ${r.devAbsMs.p99.toFixed(2)} | ${r.devAbsMs.max.toFixed(1)} | ${r.shortGaps} | ${r.devRegularMs.p50.toFixed(2)} | ${r.devRegularMs.p99.toFixed(2)} | ${r.devRegularMs.max.toFixed(1)} | ${r.devSentMs?.p50.toFixed(2) ?? 'n/a'} | ${r.devSentMs?.p99.toFixed(2) ?? 'n/a'} | ${r.devSentMs?.max.toFixed(1) ?? 'n/a'} | ${r.gapsOver['150']} / ${r.gapsOver['200']} / ${r.gapsOver['300']} | ${r.peerTransitions} | ${r.peerAdverts} | ${r.d1Transitions} | ${r.reloadsDone} / ${r.reloadsSent} | ${r.d1CpuS.toFixed(1)} | ${load} | ${r.loadavg} |`,
    );
  }
  lines.push('');
  for (const r of results) if (r.vrrpThread) lines.push(`${r.run}: VRRP thread scheduling ${r.vrrpThread}.`);
  for (const r of results) {
    if (!r.worstGaps?.length) continue;
    const w = r.worstGaps.map((g) => `${g.gapMs.toFixed(1)} ms at ${g.atS.toFixed(1)} s${g.sinceReloadMs !== undefined ? ` (${(g.sinceReloadMs / 1000).toFixed(2)} s after a SIGHUP)` : ''}`);
    lines.push(`${r.run}: largest gaps ${w.join('; ')}.`);
  }
  for (const r of results) {
    if (r.error || r.longGaps.length === 0) continue;
    const near = r.longGaps.filter((g) => g.sinceReloadMs !== undefined && g.sinceReloadMs < 3000);
    lines.push(`${r.run}: ${r.longGaps.length} gaps over 150 ms, ${near.length} of them ending within 3 s after a SIGHUP; longest ${Math.max(...r.longGaps.map((g) => g.gapMs)).toFixed(0)} ms.`);
  }
  const report = lines.join('\n');
  process.stdout.write(`${report}\n`);
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(`${OUT}.json`, JSON.stringify({ startedAt, machine, vipkeeper: vk.describe, keepalived: kaVersion, rs: RS, kind: KIND, durationS: DURATION_S, reloadEveryS: RELOAD_S, results }, null, 1));
  writeFileSync(`${OUT}.md`, `${report}\n`);
  process.stderr.write(`[jitter] ${OUT}.json, ${OUT}.md\n`);
}

/** The VRRP thread's scheduling, e.g. `rr 10`, from `vipkeeper status --json`. */
async function vkThread(argv: string[], sock: string): Promise<string | undefined> {
  try {
    const { stdout } = await sh(argv[0]!, [...argv.slice(1), 'status', '--socket', sock, '--json'], 30_000);
    const t = (JSON.parse(stdout) as { vrrp?: { thread?: { policy: string; priority: number; error?: string } } }).vrrp?.thread;
    return t ? `${t.policy} ${t.priority}${t.error ? ` (${t.error})` : ''}` : 'unknown';
  } catch {
    return undefined;
  }
}

/** Completed check attempts so far, from `vipkeeper status --json` over the control socket. */
async function vkCompleted(argv: string[], sock: string): Promise<number | undefined> {
  try {
    const { stdout } = await sh(argv[0]!, [...argv.slice(1), 'status', '--socket', sock, '--json'], 30_000);
    const s = JSON.parse(stdout) as { health?: { scheduler?: { completed?: number } } };
    return s.health?.scheduler?.completed;
  } catch {
    return undefined;
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`[jitter] ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});

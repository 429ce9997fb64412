// Health-check benchmark (not a test): vipkeeper's HealthChecker with the real probes against N
// real servers on loopback, delay_loop 1 s.
//
//   npx tsx bench/checks/run.ts [--sizes 1000,5000,10000] [--kinds tcp,http] [--duration 60]
//                               [--settle 3] [--listener nginx|node] [--vk snapshot|tsx|dist] [--max-concurrent N]
//                               [--out bench/checks/results/NAME]
//                               [--vm [--vm-sizes 1000] [--vm-kinds tcp,http] [--vm-duration 30] [--vm-rounds 1]] [--host false]
//
// Everything runs in ONE network namespace created here (vkb-<pid>-chk, only `lo`; deleted at the
// end, also on failure or Ctrl-C): the listener (nginx, one worker, `return 200` — or a Node
// http server with --listener node) on 0.0.0.0:80 of that namespace, and the checker process
// (bench/checks/checker.ts). Real server i is 127.1.x.y:80 (every 127/8 address is local on lo),
// ceil(N/100) virtual servers of 100 real servers each, TCP_CHECK or HTTP_GET (GET /healthz,
// status 200), connect_timeout 3 s, delay_loop 1 s. Per size and kind: a fresh checker process; after
// `--settle` s (1 s bootstrap delay + the 1 s warmup spread) it measures for `--duration` s:
// CPU seconds (process.cpuUsage of the checker process), peak RSS, the p50/p99 latency of every
// attempt, the achieved check rate (expected: N per (1 s + latency)), failures.
//
// keepalived's checker cannot run on this host (no IP_VS: its healthcheck child exits with
// "IPVS: Can't initialize ipvs"). With --vm, both checkers also run inside the QEMU guest of
// lab/ipvs-vm.ts (TCG, 1 vCPU), one after the other, for the ratio (bench/checks/vm.ts).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BenchLab, machineLine, parseArgs, pidAlive, requireRootAndTools, sleep, vipkeeperCommand, type VkMode } from '../failover/lab.js';
import { checksConf, type CheckKind } from './config.js';
import { checkerArgv, compileChecker, procCpuS, startListener, type CheckerResult } from './lib.js';
import { runVmComparison, vmTable, type VmComparison } from './vm.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = parseArgs(process.argv.slice(2));
const SIZES = (args.get('sizes') ?? '1000,5000,10000').split(',').map(Number);
const KINDS = (args.get('kinds') ?? 'tcp,http').split(',') as CheckKind[];
const DURATION_S = Number(args.get('duration') ?? 60);
const SETTLE_S = Number(args.get('settle') ?? 3);
/** Keep the lab's temp dir (checker logs, configs) instead of deleting it. */
const KEEP_LOGS = args.has('keep-logs');
const MAX_CONCURRENT = args.get('max-concurrent') ? Number(args.get('max-concurrent')) : undefined;
const LISTENER = args.get('listener') ?? 'nginx';
const VK_MODE = (args.get('vk') ?? 'snapshot') as VkMode;
const HOST = (args.get('host') ?? 'true') !== 'false';
const VM = args.get('vm') === 'true';
const VM_SIZES = (args.get('vm-sizes') ?? '1000').split(',').map(Number);
const VM_KINDS = (args.get('vm-kinds') ?? 'tcp,http').split(',') as CheckKind[];
const VM_DURATION_S = Number(args.get('vm-duration') ?? 30);
const VM_ROUNDS = Number(args.get('vm-rounds') ?? 1);
const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\..*/, 'Z');
const OUT = args.get('out') ?? path.join(HERE, 'results', `checks-${stamp}`);

async function main(): Promise<void> {
  requireRootAndTools(['ip', 'curl', ...(LISTENER === 'nginx' ? ['nginx'] : [])]);
  const machine = machineLine();
  const startedAt = new Date().toISOString();
  const vk = await vipkeeperCommand(VK_MODE);
  process.once('exit', () => vk.cleanup());
  const lab = HOST ? new BenchLab('checks') : undefined;
  const results: Array<{ size: number; kind: CheckKind; result?: CheckerResult; error?: string; listenerCpuS?: number; loadavg: string }> = [];
  let listenerDesc = '';
  if (lab) {
    try {
      const checkerJs = await compileChecker(lab.dir);
      const ns = await lab.addNamespace('chk');
      const listener = await startListener(lab, ns, LISTENER);
      listenerDesc = listener.describe;
      for (const kind of KINDS) {
        for (const size of SIZES) {
          const conf = path.join(lab.dir, `checks-${kind}-${size}.conf`);
          writeFileSync(conf, checksConf({ realServers: size, kind }));
          const out = path.join(lab.dir, `result-${kind}-${size}.json`);
          const argv = [...checkerArgv(vk.mode, checkerJs), JSON.stringify({ modulesRoot: vk.modulesRoot, conf, settleMs: SETTLE_S * 1000, durationMs: DURATION_S * 1000, out, ...(MAX_CONCURRENT ? { maxConcurrent: MAX_CONCURRENT } : {}) })];
          const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
          process.stderr.write(`[checks] ${kind} × ${size}: ${DURATION_S} s (load average ${loadavg}) …\n`);
          const lcpu0 = listener.procs().reduce((a, p) => a + procCpuS(p), 0);
          const p = lab.spawn(ns, argv, `checker-${kind}-${size}`);
          const exited = await p.exitWithin((SETTLE_S + DURATION_S + 60) * 1000);
          const lcpu1 = listener.procs().reduce((a, p) => a + procCpuS(p), 0);
          if (!exited) {
            p.signal('SIGKILL');
            results.push({ size, kind, error: `checker did not finish in time: ${p.log().slice(-1000)}`, loadavg });
            continue;
          }
          try {
            const result = JSON.parse(readFileSync(out, 'utf8')) as CheckerResult;
            results.push({ size, kind, result, listenerCpuS: lcpu1 - lcpu0, loadavg });
            process.stderr.write(
              `[checks]   cpu ${result.cpuS.toFixed(2)} s (${(result.cpuPerSecond * 100).toFixed(1)} % of a core), peak RSS ${result.peakRssMb.toFixed(1)} MB, ` +
                `p50 ${result.latencyMs.p50.toFixed(2)} ms, p99 ${result.latencyMs.p99.toFixed(2)} ms, rate ${result.rate.toFixed(0)}/s, failures ${result.failures}\n`,
            );
          } catch {
            results.push({ size, kind, error: `no result: ${p.log().slice(-1500)}`, loadavg });
          }
          if (!pidAlive(p.child.pid ?? -1)) await sleep(2000); // let TIME_WAIT and the listener calm down
        }
      }
      await listener.stop();
    } finally {
      await lab.stopAndCleanup(3000, KEEP_LOGS);
      if (KEEP_LOGS) process.stderr.write(`[checks] checker logs kept in ${lab.dir}\n`);
    }
  }
  let vmReport = '';
  let vm: VmComparison | undefined;
  if (VM) {
    process.stderr.write(`[checks] keepalived vs vipkeeper in the QEMU guest: sizes ${VM_SIZES.join(',')}, ${VM_KINDS.join(',')}, ${VM_DURATION_S} s each …\n`);
    try {
      vm = await runVmComparison({ sizes: VM_SIZES, kinds: VM_KINDS, durationS: VM_DURATION_S, settleS: SETTLE_S, rounds: VM_ROUNDS });
      vmReport = vmTable(vm, VM_DURATION_S);
    } catch (e) {
      vmReport = `The QEMU comparison failed: ${(e as Error).message.split('\n').slice(0, 5).join(' ')}`;
    }
  }

  const lines: string[] = [];
  lines.push(`Health-check benchmark, started ${startedAt}`);
  lines.push(`Machine: ${machine}`);
  lines.push(`vipkeeper: ${vk.describe}; listener: ${listenerDesc}; delay_loop 1 s, connect_timeout 3 s; ${DURATION_S} s measured after ${SETTLE_S} s settle`);
  lines.push('');
  lines.push('| check | real servers | CPU s (user+sys) | CPU % of one core | peak RSS MB (ru_maxrss) | RSS MB in window (max of 1 s samples) | RSS MB before config load | heap / RSS MB after a full GC (end) | latency p50 ms | latency p99 ms | latency max ms | rate /s (expected ≈ N) | failures | late starts | listener CPU s | load average |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    if (!r.result) {
      lines.push(`| ${r.kind} | ${r.size} | failed: ${r.error?.split('\n')[0]} | | | | | | | | | | | | | ${r.loadavg} |`);
      continue;
    }
    const x = r.result;
    lines.push(
      `| ${r.kind === 'tcp' ? 'TCP_CHECK' : 'HTTP_GET'} | ${r.size} | ${x.cpuS.toFixed(2)} (${x.cpuUserS.toFixed(2)}+${x.cpuSystemS.toFixed(2)}) | ${(x.cpuPerSecond * 100).toFixed(1)} | ${x.peakRssMb.toFixed(1)} | ${x.peakRssWindowMb.toFixed(1)} | ${x.rssBeforeConfigMb.toFixed(1)} | ${x.afterGc ? `${x.afterGc.heapUsedMb.toFixed(1)} / ${x.afterGc.rssMb.toFixed(1)}` : 'n/a'} | ${x.latencyMs.p50.toFixed(2)} | ${x.latencyMs.p99.toFixed(2)} | ${x.latencyMs.max.toFixed(1)} | ${x.rate.toFixed(0)} | ${x.failures} | ${x.scheduler.lateStarts} | ${r.listenerCpuS?.toFixed(2) ?? 'n/a'} | ${r.loadavg} |`,
    );
  }
  const big = results.filter((r) => r.result && r.size === 10_000);
  if (big.length) {
    lines.push('');
    for (const r of big) lines.push(`Target RSS ≤ 150 MB at 10,000 real servers (${r.kind}): ${r.result!.peakRssMb.toFixed(1)} MB → ${r.result!.peakRssMb <= 150 ? 'met' : '**not met**'}`);
  }
  if (vmReport) lines.push('', vmReport);
  const report = lines.join('\n');
  process.stdout.write(`${report}\n`);
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(`${OUT}.json`, JSON.stringify({ startedAt, machine, vipkeeper: vk.describe, listener: listenerDesc, durationS: DURATION_S, settleS: SETTLE_S, results, vm }, null, 1));
  writeFileSync(`${OUT}.md`, `${report}\n`);
  process.stderr.write(`[checks] ${OUT}.json, ${OUT}.md\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`[checks] ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});

// keepalived's checker vs vipkeeper's, both inside the QEMU guest of lab/ipvs-vm.ts (the
// host kernel has no IP_VS, and keepalived's healthcheck child exits without it). Used by
// bench/checks/run.ts --vm.
//
// The guest has ONE vCPU under TCG software emulation: absolute CPU numbers are many times the
// host's, and emulation penalises JIT-compiled code (node) more than ahead-of-time C (keepalived), so
// the ratio is an upper bound for vipkeeper, not a host measurement. Both daemons see the same guest,
// the same listener (a Node http server in the guest), the same config text and the same method
// (utime+stime of the checker process from /proc over the window, VmHWM, listener-side rate).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { REPO_ROOT, runGuest } from '../../lab/ipvs-vm.js';
import { checksConf, type CheckKind } from './config.js';
import { checkerNodeFlags } from './lib.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface VmMeasure {
  daemon: 'keepalived' | 'vipkeeper';
  kind: CheckKind;
  size: number;
  /** Which repetition (1-based) of this daemon, check and size. */
  round: number;
  ok: boolean;
  error?: string;
  windowS?: number;
  cpuS?: number;
  /** The split of cpuS (utime, stime). */
  cpuUserS?: number;
  cpuSysS?: number;
  rate?: number;
  /** The listener's CPU over the same window (the vCPU is shared with it). */
  listenerCpuS?: number;
  vmHwmMb?: number;
  vmRssMb?: number;
  ipvsDestLines?: string;
  /** vipkeeper only: the checker's own numbers (process.cpuUsage over its whole run, latency). */
  internal?: { latencyMs?: { p50: number; p99: number }; afterGc?: { heapUsedMb: number; rssMb: number }; cpuS?: number; cpuWholeProcessS?: number };
}

export interface VmComparison {
  env?: Record<string, unknown>;
  measures: VmMeasure[];
  timing: { bootMs: number; agentMs: number; totalMs: number };
}

function buildListener(): Uint8Array {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vkb-listener-'));
  try {
    const out = path.join(dir, 'listener');
    execFileSync('gcc', ['-O2', '-Wall', '-o', out, path.join(HERE, 'listener.c')], { stdio: ['ignore', 'ignore', 'inherit'] });
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function bundle(entry: string): Promise<string> {
  const esbuild = await import('esbuild');
  const r = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return r.outputFiles[0]!.text;
}

export async function runVmComparison(o: { sizes: number[]; kinds: CheckKind[]; durationS: number; settleS: number; rounds?: number; verbose?: boolean }): Promise<VmComparison> {
  const esbuild = await import('esbuild');
  const checker = (await esbuild.transform(readFileSync(path.join(HERE, 'checker.ts'), 'utf8'), { loader: 'ts', format: 'esm', target: 'node20' })).code;
  const files: Record<string, string | Uint8Array> = {
    'checker.mjs': checker,
    'mods/config/load.js': await bundle(path.join(REPO_ROOT, 'src', 'config', 'load.ts')),
    'mods/check/health.js': await bundle(path.join(REPO_ROOT, 'src', 'check', 'health.ts')),
    // the checker reads the scheduler's timer slack from it
    'mods/check/scheduler.js': await bundle(path.join(REPO_ROOT, 'src', 'check', 'scheduler.ts')),
    'mods/check/probes/index.js': await bundle(path.join(REPO_ROOT, 'src', 'check', 'probes', 'index.ts')),
    // the governor (the checker starts it as the daemon does) is bundled beside the probes so that
    // it finds the same addon file (one dlopen); the checker imports it from daemon/
    'mods/check/probes/heap-governor.js': await bundle(path.join(REPO_ROOT, 'src', 'daemon', 'heap-governor.ts')),
    'mods/daemon/heap-governor.js': "export * from '../check/probes/heap-governor.js';\n",
  };
  // the probes bundle finds the addon as src/net/native.ts does, two levels up from itself; without
  // it TCP_CHECK and HTTP_GET would measure the net.Socket fallback instead of what the daemon runs
  // the real servers: a small C epoll server (listener.c), built here with the host's gcc (the
  // guest runs the host's binaries); a Node http server could not keep up on the one vCPU
  files.listener = buildListener();
  const addon = path.join(REPO_ROOT, 'native', 'build', 'Release', 'vipkeeper_native.node');
  if (existsSync(addon)) files['mods/native/build/Release/vipkeeper_native.node'] = readFileSync(addon);
  else process.stderr.write('[checks] WARNING: native addon not built; the guest measures the net.Socket fallback\n');
  const tasks: Array<{ id: string; kind: string; [k: string]: unknown }> = [
    { id: 'listener', kind: 'listener' },
    { id: 'env', kind: 'env' },
  ];
  const nodeFlags = checkerNodeFlags();
  // Rounds repeat the whole matrix (a round's pairs run back to back), because one pair of 30 s
  // windows in the guest varies by up to ±30 %; the table gives each round and the medians.
  const rounds = Math.max(1, o.rounds ?? 1);
  for (let round = 1; round <= rounds; round++) {
    for (const kind of o.kinds) {
      for (const size of o.sizes) {
        const conf = `checks-${kind}-${size}.conf`;
        files[conf] = checksConf({ realServers: size, kind });
        // alternate the order so neither daemon always runs first (on a fresh guest, or after the other)
        const order: Array<'keepalived' | 'vipkeeper'> = (size + (kind === 'tcp' ? 0 : 1) + round) % 2 ? ['keepalived', 'vipkeeper'] : ['vipkeeper', 'keepalived'];
        for (const daemon of order) tasks.push({ id: `${daemon}-${kind}-${size}-${round}`, kind: 'measure', daemon, conf, settleMs: o.settleS * 1000, durationMs: o.durationS * 1000, nodeFlags });
      }
    }
  }
  const perTask = o.settleS + o.durationS + 40;
  const run = await runGuest(tasks, {
    agent: path.join(HERE, 'guest.ts'),
    files,
    memMb: 2048,
    timeoutMs: (90 + perTask * (tasks.length - 2)) * 1000,
    verbose: o.verbose ?? false,
  });
  const measures: VmMeasure[] = [];
  for (const t of tasks.filter((x) => x.kind === 'measure')) {
    const [daemon, kind, size, round] = (t.id as string).split('-') as ['keepalived' | 'vipkeeper', CheckKind, string, string];
    const r = run.results.get(t.id);
    if (!r || !r.ok) {
      measures.push({ daemon, kind, size: Number(size), round: Number(round), ok: false, error: r?.error ?? 'no result' });
      continue;
    }
    const x = r.result as Required<VmMeasure>;
    measures.push({ daemon, kind, size: Number(size), round: Number(round), ok: true, windowS: x.windowS, cpuS: x.cpuS, cpuUserS: x.cpuUserS, cpuSysS: x.cpuSysS, rate: x.rate, listenerCpuS: x.listenerCpuS, vmHwmMb: x.vmHwmMb, vmRssMb: x.vmRssMb, ipvsDestLines: x.ipvsDestLines, internal: x.internal });
  }
  const env = run.results.get('env');
  return { env: env?.ok ? (env.result as Record<string, unknown>) : { error: env?.error }, measures, timing: run.timing };
}

/** CPU ms per achieved check (the fair comparison when a daemon cannot reach N checks/s in the guest). */
function msPerCheck(m: VmMeasure | undefined): number | undefined {
  return m?.ok && m.cpuS !== undefined && m.rate && m.windowS ? (m.cpuS * 1000) / (m.rate * m.windowS) : undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

export function vmTable(c: VmComparison, durationS: number): string {
  const lines: string[] = [];
  lines.push(`QEMU guest (TCG, 1 vCPU, ${String(c.env?.kernel ?? '?')}, ${String(c.env?.keepalived ?? 'keepalived ?')}, node ${String(c.env?.node ?? '?')}); ${durationS} s windows; boot ${(c.timing.bootMs / 1000).toFixed(1)} s, whole run ${(c.timing.totalMs / 1000).toFixed(0)} s`);
  lines.push('');
  lines.push(`Real servers: ${String(c.env?.listener ?? 'a Node http server')} in the guest, on 127.0.0.0/8; listener CPU s = the listener's CPU in the same window.`);
  lines.push("Windows start a settle time after the daemon is ready (vipkeeper: its checker's ready line, after node's start and the config load); vipkeeper's CPU before that, per row:");
  lines.push(
    c.measures
      .filter((m) => m.daemon === 'vipkeeper' && m.internal?.cpuWholeProcessS !== undefined && m.internal.cpuS !== undefined)
      .map((m) => `${m.kind} ${m.size} #${m.round}: ${(m.internal!.cpuWholeProcessS! - m.internal!.cpuS!).toFixed(2)} s`)
      .join('; ') || 'n/a',
  );
  lines.push('');
  lines.push('| check | real servers | round | keepalived CPU s (user / sys) | vipkeeper CPU s (user / sys) | CPU ratio vipkeeper / keepalived | keepalived VmHWM MB | vipkeeper VmHWM MB | keepalived rate /s | vipkeeper rate /s | CPU ms per check: keepalived / vipkeeper (ratio) | vipkeeper latency p50 / p99 ms | listener CPU s: keepalived / vipkeeper run |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const pair = (k: string, round: number) =>
    [c.measures.find((m) => m.daemon === 'keepalived' && `${m.kind}|${m.size}` === k && m.round === round), c.measures.find((m) => m.daemon === 'vipkeeper' && `${m.kind}|${m.size}` === k && m.round === round)] as const;
  const f = (m: VmMeasure | undefined, g: (m: VmMeasure) => number | undefined, d = 2) => (m?.ok && g(m) !== undefined ? g(m)!.toFixed(d) : `failed${m?.error ? `: ${m.error.split('\n')[0]!.slice(0, 80)}` : ''}`);
  const cpu = (m: VmMeasure | undefined) => (m?.ok && m.cpuUserS !== undefined ? `${f(m, (x) => x.cpuS)} (${m.cpuUserS.toFixed(2)} / ${m.cpuSysS!.toFixed(2)})` : f(m, (x) => x.cpuS));
  const keys = [...new Set(c.measures.map((m) => `${m.kind}|${m.size}`))];
  const rounds = [...new Set(c.measures.map((m) => m.round))].sort((a, b) => a - b);
  const summary: string[] = [];
  for (const k of keys) {
    const [kind, size] = k.split('|');
    const name = kind === 'tcp' ? 'TCP_CHECK' : 'HTTP_GET';
    const cpuRatios: number[] = [];
    const checkRatios: number[] = [];
    for (const round of rounds) {
      const [ka, vk] = pair(k, round);
      if (!ka && !vk) continue;
      const r = ka?.ok && vk?.ok && ka.cpuS && vk.cpuS !== undefined ? vk.cpuS / ka.cpuS : undefined;
      const a = msPerCheck(ka);
      const b = msPerCheck(vk);
      if (r !== undefined) cpuRatios.push(r);
      if (a !== undefined && b !== undefined) checkRatios.push(b / a);
      const perCheck = a !== undefined && b !== undefined ? `${a.toFixed(2)} / ${b.toFixed(2)} (${(b / a).toFixed(2)})` : 'n/a';
      lines.push(`| ${name} | ${size} | ${round} | ${cpu(ka)} | ${cpu(vk)} | ${r === undefined ? 'n/a' : r.toFixed(2)} | ${f(ka, (m) => m.vmHwmMb, 1)} | ${f(vk, (m) => m.vmHwmMb, 1)} | ${f(ka, (m) => m.rate, 0)} | ${f(vk, (m) => m.rate, 0)} | ${perCheck} | ${vk?.internal?.latencyMs ? `${vk.internal.latencyMs.p50.toFixed(2)} / ${vk.internal.latencyMs.p99.toFixed(2)}` : 'n/a'} | ${f(ka, (m) => m.listenerCpuS)} / ${f(vk, (m) => m.listenerCpuS)} |`);
    }
    if (cpuRatios.length > 0)
      summary.push(`| ${name} | ${size} | ${cpuRatios.length} | ${median(cpuRatios).toFixed(2)} (${Math.min(...cpuRatios).toFixed(2)}–${Math.max(...cpuRatios).toFixed(2)}) | ${checkRatios.length ? `${median(checkRatios).toFixed(2)} (${Math.min(...checkRatios).toFixed(2)}–${Math.max(...checkRatios).toFixed(2)})` : 'n/a'} |`);
  }
  if (summary.length > 0) {
    lines.push('');
    lines.push('| check | real servers | rounds | CPU ratio vipkeeper / keepalived: median (range) | CPU per check ratio: median (range) |');
    lines.push('| --- | --- | --- | --- | --- |');
    lines.push(...summary);
  }
  return lines.join('\n');
}

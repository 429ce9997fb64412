// Benchmark agent, run inside the QEMU guest (bundled by bench/reconcile/run.ts through
// lab/ipvs-vm.ts). The task loop (one JSON line per task on the second serial port) is
// lab/guest-agent.ts's. Every process it starts is stopped by pid.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';

import type { Config } from '../../src/config/schema.js';
import { allUp, virtualServerId, type BackendState, type PoolState } from '../../src/ipvs/desired.js';
import type { IpvsBackend } from '../../src/ipvs/backend.js';
import { IpvsadmBackend } from '../../src/ipvs/ipvsadm.js';
import { NetlinkIpvsBackend } from '../../src/ipvs/netlink.js';
import { plan } from '../../src/ipvs/diff.js';
import { Reconciler } from '../../src/ipvs/reconciler.js';
import { runAgent, say, shOk as sh, type AgentTask as Task } from '../../lab/guest-agent.js';
import { sleep, waitFor } from '../../lab/wait.js';

/** The lab's bounded wait (every 50 ms unless told). */
const until = (what: string, pred: () => boolean, timeoutMs: number, everyMs = 50): Promise<number> => waitFor(what, pred, timeoutMs, everyMs);
const now = () => performance.now();

/** Services and destinations in the kernel, and how many destinations have weight `w`, from /proc/net/ip_vs (no process spawned). */
function kernelCounts(w = 2): { services: number; dests: number; weightW: number } {
  let services = 0;
  let dests = 0;
  let weightW = 0;
  for (const line of readFileSync('/proc/net/ip_vs', 'utf8').split('\n')) {
    if (line.startsWith('TCP') || line.startsWith('UDP') || line.startsWith('SCTP') || line.startsWith('FWM')) services++;
    else if (line.startsWith('  -> ') && !line.includes('RemoteAddress')) {
      dests++;
      if (line.trim().split(/\s+/)[3] === String(w)) weightW++;
    }
  }
  return { services, dests, weightW };
}

function flipped(config: Config, every: number): BackendState {
  const state: Record<string, PoolState> = {};
  for (const vs of config.virtual_servers) {
    state[virtualServerId(vs)] = { mode: 'real', servers: vs.real_servers.map((rs, j) => ({ address: rs.address, port: rs.port ?? 0, weight: j % every === 0 ? 2 : (rs.weight ?? 1) })) };
  }
  return state;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function vipkeeper(t: Task) {
  const config = t.config as Config;
  const empty = { ...config, virtual_servers: [] };
  const rounds = (t.rounds as number) ?? 3;
  const backend: IpvsBackend = t.backend === 'ipvsadm' ? new IpvsadmBackend() : new NetlinkIpvsBackend();
  say(`vipkeeper on the ${backend.name} backend`);
  const total = { services: config.virtual_servers.length, dests: config.virtual_servers.reduce((n, vs) => n + vs.real_servers.length, 0) };
  const res: Record<string, number[]> = { converge: [], flip: [], remove: [], read: [], plan: [], apply: [], latencyFull: [], latencySmall: [], fastFull: [], fastSmall: [], convergeApply: [] };
  for (let k = 0; k < rounds; k++) {
    await backend.flush();
    const r = new Reconciler({ backend, minInterval: 0, maxInterval: 3_600_000 });
    say(`vipkeeper round ${k + 1}: converge`);
    let t0 = now();
    r.setConfig(config);
    r.setBackendState(allUp(config));
    let rep = await r.syncNow();
    res.converge?.push(now() - t0);
    res.convergeApply?.push(rep.applyMs ?? NaN);
    if (!rep.ok) throw new Error(`converge failed: ${rep.error}`);
    const c1 = kernelCounts();
    if (c1.services !== total.services || c1.dests !== total.dests) throw new Error(`converge: kernel has ${JSON.stringify(c1)}, want ${JSON.stringify(total)}`);

    // the parts of one full pass over a converged table
    t0 = now();
    const actual = await backend.read();
    res.read?.push(now() - t0);
    t0 = now();
    plan(actual, actual, { manage: 'owned', owned: new Set() });
    res.plan?.push(now() - t0);

    say(`vipkeeper round ${k + 1}: flip 10%`);
    t0 = now();
    r.setBackendState(flipped(config, 10));
    rep = await r.syncNow();
    res.flip?.push(now() - t0);
    if (!rep.ok || rep.operations.length !== total.dests / 10) throw new Error(`flip: ${rep.error ?? ''} ${rep.operations.length} operations`);
    res.apply?.push(rep.applyMs ?? NaN);
    if (kernelCounts().weightW !== total.dests / 10) throw new Error('flip: the kernel does not show the new weights');

    say(`vipkeeper round ${k + 1}: verdict → kernel, one weight change on the full table`);
    // start() runs a full pass at once; the verdicts are timed after it (not queued behind it)
    const runs0 = r.snapshot().sync.runs;
    r.start();
    await until(
      'the start pass',
      () => {
        const sy = r.snapshot().sync;
        return sy.runs > runs0 && (sy.lastSuccessAt ?? -Infinity) >= (sy.lastRunAt ?? Infinity);
      },
      60_000,
      10,
    );
    await sleep(50);
    for (let n = 0; n < 3; n++) {
      const st = flipped(config, 10) as Record<string, PoolState>;
      const id = virtualServerId(config.virtual_servers[0]!);
      const pool = st[id] as { mode: 'real'; servers: { address: string; port?: number; weight: number }[] };
      pool.servers[1]!.weight = 3 + n;
      const before = r.snapshot().sync.applies;
      const fastBefore = r.snapshot().sync.fastRuns ?? 0;
      r.setBackendState(st);
      await until('the verdict applied', () => r.snapshot().sync.applies > before, 60_000, 10);
      res.latencyFull?.push(r.snapshot().sync.lastLatencyMs ?? NaN);
      res.fastFull?.push((r.snapshot().sync.fastRuns ?? 0) - fastBefore);
    }

    say(`vipkeeper round ${k + 1}: remove all`);
    t0 = now();
    r.setConfig(empty);
    r.setBackendState({});
    await until('empty table', () => kernelCounts().services === 0, 120_000, 20);
    res.remove?.push(now() - t0);
    await r.stop({ cleanup: false });
  }

  // the same latency on a small table (1 VS × 2 RS), the usual director
  const small = { ...config, virtual_servers: [{ ...config.virtual_servers[0]!, real_servers: config.virtual_servers[0]!.real_servers.slice(0, 2) }] };
  await backend.flush();
  const r = new Reconciler({ backend, minInterval: 0, maxInterval: 3_600_000 });
  r.setConfig(small);
  r.setBackendState(allUp(small));
  r.start();
  await until('small table', () => r.snapshot().sync.applies > 0, 30_000, 10);
  for (let n = 0; n < 5; n++) {
    const before = r.snapshot().sync.applies;
    const id = virtualServerId(small.virtual_servers[0]!);
    const fastBefore = r.snapshot().sync.fastRuns ?? 0;
    r.setBackendState({ [id]: { mode: 'real', servers: small.virtual_servers[0]!.real_servers.map((rs, j) => ({ address: rs.address, port: rs.port ?? 0, weight: j === 0 ? 2 + n : 1 })) } });
    await until('the verdict applied', () => r.snapshot().sync.applies > before, 30_000, 5);
    res.latencySmall?.push(r.snapshot().sync.lastLatencyMs ?? NaN);
    res.fastSmall?.push((r.snapshot().sync.fastRuns ?? 0) - fastBefore);
  }
  await r.stop({ cleanup: true });
  await backend.flush();
  return { backend: backend.name, rounds, total, samples: res, median: Object.fromEntries(Object.entries(res).map(([k, v]) => [k, median(v)])) };
}

async function keepalived(t: Task) {
  const total = t.total as { services: number; dests: number };
  const variants = t.variants as { label: string; conf: string; flipped: string }[];
  const rounds = variants.length;
  const res: Record<string, number[]> = { converge: [], flip: [], remove: [], exit: [] };
  const leftAfterStop: { label: string; services: number; dests: number; exitMs?: number }[] = [];
  const perRound: { label: string; converge?: number; flip?: number; remove?: number; exit?: number }[] = [];
  const logs: string[] = [];
  for (const [k, variant] of variants.entries()) {
    const row: (typeof perRound)[0] = { label: variant.label };
    perRound.push(row);
    sh('ipvsadm -C');
    copyFileSync(`/mnt/job/${variant.conf}`, '/tmp/k.conf');
    say(`keepalived round ${k + 1}: start`);
    const t0 = now();
    const child = spawn('keepalived', ['-n', '-l', '-C', '-f', '/tmp/k.conf', '-p', '/run/kb.pid', '-c', '/run/kbc.pid'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (log += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (log += c));
    let exitedAt: number | undefined;
    const exited = new Promise<void>((r) =>
      child.on('exit', () => {
        exitedAt = now();
        r();
      }),
    );
    try {
      await until('keepalived converged', () => {
        const c = kernelCounts();
        return c.services === total.services && c.dests === total.dests;
      }, 600_000, 50);
      row.converge = now() - t0;
      res.converge?.push(row.converge);
      await sleep(500);

      say(`keepalived round ${k + 1}: flip 10% (SIGHUP with the new weights)`);
      copyFileSync(`/mnt/job/${variant.flipped}`, '/tmp/k.conf');
      const t1 = now();
      if (child.pid) process.kill(child.pid, 'SIGHUP');
      await until('keepalived reloaded the weights', () => kernelCounts().weightW === total.dests / 10, 600_000, 50);
      row.flip = now() - t1;
      res.flip?.push(row.flip);
      await sleep(500);

      say(`keepalived round ${k + 1}: stop (SIGTERM)`);
      const t2 = now();
      if (child.pid) process.kill(child.pid, 'SIGTERM');
      // until the table is empty, or keepalived has exited and the table stopped changing
      let last = '';
      let stable = 0;
      await until('keepalived stopped', () => {
        const c = kernelCounts();
        if (c.services === 0) return true;
        const cur = JSON.stringify(c);
        stable = exitedAt !== undefined && cur === last ? stable + 1 : 0;
        last = cur;
        return stable >= 10;
      }, 600_000, 50);
      const c = kernelCounts();
      if (exitedAt !== undefined) row.exit = exitedAt - t2;
      if (c.services === 0) {
        row.remove = now() - t2;
        res.remove?.push(row.remove);
      } else leftAfterStop.push({ label: variant.label, services: c.services, dests: c.dests, ...(row.exit !== undefined ? { exitMs: row.exit } : {}) });
      if (row.exit !== undefined) res.exit?.push(row.exit);
      say(`keepalived round ${k + 1}: after stop ${JSON.stringify(c)}`);
    } finally {
      if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
      if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
      logs.push(
        log
          .split('\n')
          .filter((l) => /error|warn|child|timeout|kill|signal|Stopp|Startup|Reload/i.test(l))
          .slice(-30)
          .join('\n'),
      );
    }
  }
  sh('ipvsadm -C');
  return { rounds, samples: res, perRound, median: Object.fromEntries(Object.entries(res).filter(([, v]) => v.length).map(([k, v]) => [k, median(v)])), leftAfterStop, logs };
}

async function env() {
  const t0 = now();
  spawnSync('node', ['-e', '0']);
  const nodeStart = now() - t0;
  return { kernel: sh('uname -r').trim(), ipvsadm: sh('ipvsadm --version').trim(), keepalived: sh('keepalived --version 2>&1 | head -1').trim(), node: process.version, nodeStartMs: nodeStart };
}

runAgent({ vipkeeper, keepalived, env }, { name: 'bench' });

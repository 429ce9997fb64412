// BGP withdraw benchmark (not a test): how long until the router stops sending a director traffic.
//
//   npx tsx bench/bgp/run.ts [--rounds 10] [--hang-rounds 3] [--freeze-rounds 2] [--vk snapshot|tsx|dist]
//                            [--out bench/bgp/results/NAME]
//
// The lab of test/fixtures/bgp-lab.ts (bench/bgp/lab.ts builds it): a router running BIRD 2 with
// ECMP (merge paths), three directors running `vipkeeper run` with a bgp section (hold time 9 s),
// each serving the VIP with a local responder and checked through a health listener (TCP_CHECK,
// delay_loop 500 ms, connect_timeout 300 ms, retry 0: a failure is seen within one 800 ms cycle).
// Every time is the router's: `ip -ts monitor route` in its namespace stamps the kernel FIB change
// that takes d1 out of the VIP's ECMP route. t0 is taken on the same wall clock just before the act.
//
//   health   t0 = d1's health listener killed; also `decide` = vipkeeper's "withdrawn" log line,
//            so health = detection (t0 → decide, bounded by the check cycle) + routing (decide → FIB)
//   sigkill  t0 = SIGKILL to d1's vipkeeper (its bird dies with it: pdeathsig; the session closes)
//   hang     d1's engine run by this process (BirdEngine + EngineWatchdog, hang_timeout 3 s) while
//            its main thread is stalled (Atomics.wait): the watchdog thread kills bird
//   freeze   the reference: SIGSTOP to d1's vipkeeper AND its bird (a director that goes silent:
//            nothing closes the session), so the router drops d1 only when its hold timer (9 s)
//            runs out. This is also what any BGP speaker not tied to its health checker gives at
//            best, and the bound for a vipkeeper stopped as a whole (SIGSTOP, a frozen cgroup).
//
// Ratios are against the freeze (hold-timer) reference of the same run.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BirdEngine } from '../../src/bgp/bird/engine.js';
import { birdPaths } from '../../src/bgp/bird/render.js';
import { planVips } from '../../src/bgp/vips.js';
import { announcementFor, decide } from '../../src/bgp/policy.js';
import { EngineWatchdog } from '../../src/bgp/watchdog.js';
import { loadYamlText } from '../../src/config/yaml-load.js';
import { directorYaml } from '../../test/fixtures/bgp-lab.js';
import { calibrate, finite, machineLine, median, mmm, parseArgs, pollUntil, realNow, requireRootAndTools, sleep, vipkeeperCommand, type VkMode } from '../failover/lab.js';
import { buildBgpLab, directorIp, firstWithout, LAB, withdrawLogTimes, type BgpLab } from './lab.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const HOLD_S = 9;
const HANG_MS = 3000;
const CHECK_CYCLE_MS = 800;
const TARGETS = {
  routing: 100, // vipkeeper's decision → router FIB, ms
  health: CHECK_CYCLE_MS + 100,
  sigkill: 500,
  hang: HANG_MS + 200,
};

interface Sample {
  kind: 'health' | 'sigkill' | 'hang' | 'freeze';
  ms?: number;
  detectMs?: number;
  routingMs?: number;
  note?: string;
}

const args = parseArgs(process.argv.slice(2));
const ROUNDS = Number(args.get('rounds') ?? 10);
const HANG_ROUNDS = Number(args.get('hang-rounds') ?? 3);
const FREEZE_ROUNDS = Number(args.get('freeze-rounds') ?? 2);
const OUT = args.get('out') ?? path.join(HERE, 'results', `bgp-${new Date().toISOString().slice(0, 10)}`);
const say = (s: string) => process.stderr.write(`[bench] ${s}\n`);

async function main(): Promise<void> {
  requireRootAndTools(['ip', 'bird', 'birdc', 'setpriv']);
  const vk = await vipkeeperCommand((args.get('vk') ?? 'snapshot') as VkMode);
  const started = new Date().toISOString();
  const machine = machineLine();
  let L: BgpLab | undefined;
  const samples: Sample[] = [];
  try {
    L = await buildBgpLab('bgp', vk, { holdTime: HOLD_S });
    const lab = L;
    for (const d of ['d1', 'd2', 'd3'] as const) await lab.startDirector(d, { holdTime: `${HOLD_S}s` });
    const all = [directorIp('d1'), directorIp('d2'), directorIp('d3')];
    const rest = [directorIp('d2'), directorIp('d3')];
    const d1 = directorIp('d1');
    if (!(await lab.waitHops(all, 30_000))) throw new Error('the router never had three next hops');
    say('three next hops at the router');

    for (let i = 0; i < ROUNDS; i++) {
      await sleep(300 + Math.random() * 700); // random phase against the check timer
      const before = withdrawLogTimes(lab.vipkeeper.d1!.log(), LAB.vip).length;
      calibrate();
      const t0 = realNow();
      lab.health.d1!.signal('SIGKILL');
      await pollUntil(() => firstWithout(lab.fibEvents, t0, d1) !== undefined, 10_000, 5);
      const ev = firstWithout(lab.fibEvents, t0, d1);
      const decideAt = withdrawLogTimes(lab.vipkeeper.d1!.log(), LAB.vip)[before];
      samples.push({ kind: 'health', ...(ev ? { ms: ev.t - t0 } : { note: 'no FIB change within 10 s' }), ...(decideAt ? { detectMs: decideAt - t0 } : {}), ...(ev && decideAt ? { routingMs: ev.t - decideAt } : {}) });
      say(`health ${i + 1}/${ROUNDS}: ${ev ? (ev.t - t0).toFixed(1) : 'n/a'} ms (decide ${decideAt ? (decideAt - t0).toFixed(0) : 'n/a'} ms)`);
      await lab.startHealth('d1');
      if (!(await lab.waitHops(all, 20_000))) throw new Error('d1 did not come back after its health listener restarted');
    }

    for (let i = 0; i < ROUNDS; i++) {
      await sleep(300 + Math.random() * 700);
      calibrate();
      const t0 = realNow();
      lab.vipkeeper.d1!.signal('SIGKILL');
      await pollUntil(() => firstWithout(lab.fibEvents, t0, d1) !== undefined, 15_000, 5);
      const ev = firstWithout(lab.fibEvents, t0, d1);
      samples.push({ kind: 'sigkill', ...(ev ? { ms: ev.t - t0 } : { note: 'no FIB change within 15 s' }) });
      say(`sigkill ${i + 1}/${ROUNDS}: ${ev ? (ev.t - t0).toFixed(1) : 'n/a'} ms`);
      await lab.vipkeeper.d1!.exited;
      await lab.startDirector('d1', { holdTime: `${HOLD_S}s` });
      if (!(await lab.waitHops(all, 30_000))) throw new Error('d1 did not come back after the restart');
    }

    for (let i = 0; i < FREEZE_ROUNDS; i++) {
      await sleep(300 + Math.random() * 700);
      const vkPid = lab.vipkeeper.d1!.pid;
      const birdPid = lab.lab.pidsIn(lab.ns.d1).find((p) => p !== vkPid && /\bbird\b/.test(cmdline(p)));
      if (!birdPid) throw new Error("d1's bird not found");
      calibrate();
      const t0 = realNow();
      process.kill(vkPid, 'SIGSTOP');
      process.kill(birdPid, 'SIGSTOP');
      await pollUntil(() => firstWithout(lab.fibEvents, t0, d1) !== undefined, (HOLD_S + 5) * 1000, 10);
      const ev = firstWithout(lab.fibEvents, t0, d1);
      samples.push({ kind: 'freeze', ...(ev ? { ms: ev.t - t0 } : { note: `no FIB change within ${HOLD_S + 5} s` }) });
      say(`freeze ${i + 1}/${FREEZE_ROUNDS}: ${ev ? (ev.t - t0).toFixed(0) : 'n/a'} ms`);
      process.kill(vkPid, 'SIGKILL'); // bird follows (pdeathsig; delivered once it runs again)
      process.kill(birdPid, 'SIGCONT');
      await lab.vipkeeper.d1!.exited;
      await lab.startDirector('d1', { holdTime: `${HOLD_S}s` });
      if (!(await lab.waitHops(all, 30_000))) throw new Error('d1 did not come back after the freeze');
    }

    // hang: this process plays d1's vipkeeper (same engine, same watchdog) and stalls
    lab.vipkeeper.d1!.signal('SIGTERM');
    await lab.vipkeeper.d1!.exited;
    if (!(await lab.waitHops(rest, 15_000))) throw new Error('d1 did not leave after SIGTERM');
    const wrapper = path.join(lab.lab.dir, 'bird-in-d1');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${lab.ns.d1} bird "$@"\n`, { mode: 0o755 });
    const yaml = directorYaml({ name: 'd1', runtimeDir: path.join(lab.lab.dir, 'hang-bird'), socket: path.join(lab.lab.dir, 'unused.sock'), holdTime: `${HOLD_S}s`, birdBinary: wrapper });
    const config = loadYamlText(yaml, 'd1.yaml').config!;
    const bgp = config.bgp!;
    const plan = planVips(config)[0]!;
    const announced = announcementFor(plan, decide({ now: 0, ipvsConverged: true, services: [], drainGraceMs: 0 }), plan.attrs)!;
    const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (_: unknown, m: string) => say(`engine: ${m}`) };
    for (let i = 0; i < HANG_ROUNDS; i++) {
      const engine = new BirdEngine({ log: quiet });
      await engine.start(bgp, [announced]);
      if (!(await lab.waitHops(all, 30_000))) throw new Error('the bench engine for d1 did not get its route in');
      const wd = new EngineWatchdog(HANG_MS, birdPaths(bgp.bird.runtime_dir).config);
      wd.setPid(engine.pid);
      await sleep(300 + Math.random() * 300);
      calibrate();
      const t0 = realNow();
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, HANG_MS + 1500); // the stall
      await pollUntil(() => firstWithout(lab.fibEvents, t0, d1) !== undefined, 5_000, 5);
      const ev = firstWithout(lab.fibEvents, t0, d1);
      samples.push({ kind: 'hang', ...(ev ? { ms: ev.t - t0 } : { note: 'no FIB change' }), ...(wd.kills === 1 ? {} : { note: `watchdog kills: ${wd.kills}` }) });
      say(`hang ${i + 1}/${HANG_ROUNDS}: ${ev ? (ev.t - t0).toFixed(0) : 'n/a'} ms`);
      await wd.stop();
      await engine.stop();
    }
  } finally {
    L?.lab.cleanupSync();
    vk.cleanup();
  }

  const report = summarize(samples, { started, machine, vk: vk.describe, rounds: ROUNDS });
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(`${OUT}.json`, `${JSON.stringify({ started, machine, vipkeeper: vk.describe, targets: TARGETS, holdTimeS: HOLD_S, checkCycleMs: CHECK_CYCLE_MS, hangTimeoutMs: HANG_MS, samples }, null, 2)}\n`);
  writeFileSync(`${OUT}.md`, report);
  process.stdout.write(report);
  say(`wrote ${OUT}.json and ${OUT}.md`);
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function summarize(samples: Sample[], meta: { started: string; machine: string; vk: string; rounds: number }): string {
  const of = (k: Sample['kind']) => samples.filter((s) => s.kind === k);
  const ms = (k: Sample['kind']) => finite(of(k).map((s) => s.ms));
  const ref = median(ms('freeze'));
  const ratio = (k: Sample['kind']) => (Number.isFinite(ref) && ms(k).length ? (median(ms(k)) / ref).toFixed(4) : 'n/a');
  const met = (xs: number[], target: number) => (xs.length && Math.max(...xs) <= target ? 'met' : xs.length ? `NOT met (max ${Math.max(...xs).toFixed(1)})` : 'n/a');
  const failures = samples.filter((s) => s.note).map((s) => `- ${s.kind}: ${s.note}`);
  const lines = [
    `# BGP withdraw times (${meta.started})`,
    '',
    `${meta.machine}; vipkeeper: ${meta.vk}.`,
    `Router: BIRD 2 with merge paths, hold time ${HOLD_S} s; directors: check cycle ${CHECK_CYCLE_MS} ms, hang_timeout ${HANG_MS} ms.`,
    'Time: from the act (t0) to the kernel FIB change at the router that takes d1 out of the VIP route (`ip -ts monitor route`). min / **median** / max, ms.',
    '',
    '| path | n | ms | target | vs hold-timer reference |',
    '|------|---|----|--------|-------------------------|',
    `| health failure → route gone | ${ms('health').length} | ${mmm(ms('health'), 1)} | ≤ ${TARGETS.health} (check cycle + ${TARGETS.routing}): ${met(ms('health'), TARGETS.health)} | ${ratio('health')} |`,
    `| … of which detection (t0 → vipkeeper decides) | ${finite(of('health').map((s) => s.detectMs)).length} | ${mmm(of('health').map((s) => s.detectMs), 1)} | ≤ ${CHECK_CYCLE_MS} | |`,
    `| … of which routing (decision → router FIB) | ${finite(of('health').map((s) => s.routingMs)).length} | ${mmm(of('health').map((s) => s.routingMs), 1)} | ≤ ${TARGETS.routing}: ${met(finite(of('health').map((s) => s.routingMs)), TARGETS.routing)} | |`,
    `| SIGKILL of vipkeeper → route gone | ${ms('sigkill').length} | ${mmm(ms('sigkill'), 1)} | ≤ ${TARGETS.sigkill}: ${met(ms('sigkill'), TARGETS.sigkill)} | ${ratio('sigkill')} |`,
    `| main loop hung → route gone (watchdog) | ${ms('hang').length} | ${mmm(ms('hang'), 0)} | ≤ ${TARGETS.hang}: ${met(ms('hang'), TARGETS.hang)} | ${ratio('hang')} |`,
    `| reference: director frozen (hold timer) | ${ms('freeze').length} | ${mmm(ms('freeze'), 0)} | ≤ ${HOLD_S * 1000} | 1 |`,
    '',
    ...(failures.length ? ['Samples without a result:', ...failures, ''] : []),
  ];
  return `${lines.join('\n')}\n`;
}

main().catch((e: unknown) => {
  process.stderr.write(`bench/bgp: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});

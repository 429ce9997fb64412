// The daemon at scale (issue 19), not a test: `vipkeeper run` on the generated keepalived.conf
// (bench/config/gen.ts) plus one VRRP instance, in a network namespace of its own:
// - ready: spawn → "vipkeeper running" (VRRP running, checks started, control socket up), and
//   spawn → the instance's first MASTER transition (its first advert) — which must come first;
// - RSS while checking: /proc/PID VmRSS sampled each second for --window seconds after ready,
//   and the CPU (utime + stime) of that window;
// - reload: 1 % of the real servers change port, SIGHUP → "config reloaded".
// Every real server's address is local in the namespace (`ip route add local 10.0.0.0/8 dev lo`)
// and one listener on 0.0.0.0:80 accepts every TCP_CHECK, so every check connects for real.
//
// keepalived: its checker needs IP_VS, which this kernel lacks, so keepalived's run with the
// same table cannot be measured here; its VRRP process alone (`keepalived -P`) can: spawn → its
// "Entering MASTER STATE" line, and its RSS, side by side, for what that is worth.
//
//   npx tsx bench/config/daemon.ts [--sizes 1000,10000,37300,100000] [--window 20] [--write]
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetnsLab } from '../../lab/netns.js';
import { generate } from './gen.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// BENCH_DIST: another build's dist/ (the "before" of a change), same table, same run
const DIST = process.env.BENCH_DIST ?? path.join(REPO, 'dist');
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
};
const SIZES = arg('sizes', '1000,10000,37300,100000').split(',').map(Number);
const WINDOW_S = Number(arg('window', '20'));
const WRITE = process.argv.includes('--write');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const INSTANCE = `
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 255
  advert_int 1
  virtual_ipaddress {
    10.250.0.100/24
  }
}
`;

const LISTENER = `
import socket, selectors
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 80)); s.listen(4096); print('READY', flush=True)
while True:
    c, _ = s.accept(); c.close()
`;

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
function cpuS(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

interface Row {
  n: number;
  readyS: number;
  masterS: number;
  masterFirst: boolean;
  rssMaxMB: number;
  rssEndMB: number;
  cpuPct: number;
  reloadS: number;
  /** CPU seconds (all threads) spent up to ready, and by the reload: on a loaded machine the wall times mostly say how loaded it was. */
  readyCpuS: number;
  reloadCpuS: number;
  /** The daemon's own split of the reload (its "config reloaded" line). */
  reloadSplit?: string;
  kaMasterS?: number;
  kaRssMB?: number;
  kaReloadS?: number;
  /** keepalived's own "Reload finished in N usec". */
  kaReloadOwnS?: number;
}

async function one(lab: NetnsLab, n: number): Promise<Row> {
  const ns = await lab.addNamespace(`cfg${n}`);
  // the adverts' wire: a veth to a second, silent namespace (this kernel has no dummy links)
  const peer = await lab.addNamespace(`peer${n}`);
  await lab.addVeth(ns, 'eth0', peer, 'eth0');
  await lab.addAddress(ns, 'eth0', '10.250.0.1/24');
  await lab.exec(ns, ['ip', 'route', 'add', 'local', '10.0.0.0/9', 'dev', 'lo']);
  const listener = lab.spawn(ns, ['python3', '-c', LISTENER], 'listener');
  await listener.waitForLine(/READY/, 10_000);
  const conf = path.join(lab.dir, `lvs-${n}.conf`);
  const text = generate(n) + INSTANCE;
  writeFileSync(conf, text);

  const t0 = performance.now();
  // BENCH_NODE_ARGS: more node flags for the daemon (e.g. --cpu-prof --cpu-prof-dir=DIR: workers inherit them)
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const vk = lab.spawn(ns, [process.execPath, '--max-semi-space-size=8', ...nodeArgs, path.join(DIST, 'cli/bin.js'), 'run', '-f', conf, '-i', 'bench', '--socket', path.join(lab.dir, `vk-${n}.sock`)], `vipkeeper ${n}`);
  let masterAt = 0;
  let runningAt = 0;
  await vk.waitForLine((l) => {
    if (!masterAt && /MASTER/.test(l) && /VI_1/.test(l)) {
      masterAt = performance.now();
      if (process.env.BENCH_DEBUG) console.log(l);
    }
    if (process.env.BENCH_DEBUG) console.log(((performance.now() - t0) / 1000).toFixed(2), l.slice(0, 200));
    if (/"msg":"vipkeeper running"/.test(l)) runningAt = performance.now();
    return runningAt > 0;
  }, 120_000);
  // the MASTER line may come just after "running" when the election is that fast
  for (let i = 0; i < 50 && !masterAt; i++) {
    await sleep(100);
    if (vk.stdoutLines.some((l) => /MASTER/.test(l) && /VI_1/.test(l))) masterAt = performance.now();
  }
  const pid = vk.pid;
  const c0 = cpuS(pid);
  const readyCpuS = c0;
  let rssMax = 0;
  let rssEnd = 0;
  for (let i = 0; i < WINDOW_S; i++) {
    await sleep(1000);
    rssEnd = rssMB(pid);
    rssMax = Math.max(rssMax, rssEnd);
  }
  const cpuPct = ((cpuS(pid) - c0) / WINDOW_S) * 100;

  // reload: every 100th real server moves to port 81 (1 %)
  let k = 0;
  const changed = text.replace(/(real_server \S+) 80 \{/g, (m: string, head: string) => (k++ % 100 === 0 ? `${head} 81 {` : m));
  writeFileSync(conf, changed);
  const r0 = performance.now();
  const rc0 = cpuS(pid);
  vk.signal('SIGHUP');
  const reloaded = await vk.waitForLine((l) => /"msg":"config reloaded"/.test(l) && performance.now() > r0, 300_000);
  const reloadS = (performance.now() - r0) / 1000;
  const reloadCpuS = cpuS(pid) - rc0;
  const reader = /"reader":(\{[^}]*\})/.exec(reloaded)?.[1];
  const split = [/"ms":(\{[^}]*\})/.exec(reloaded)?.[1], reader && `reader ${reader}`].filter(Boolean).join(' ') || undefined;
  vk.signal('SIGTERM');
  await vk.exitWithin(15_000);

  const row: Row = {
    n,
    readyS: (runningAt - t0) / 1000,
    masterS: masterAt ? (masterAt - t0) / 1000 : NaN,
    masterFirst: masterAt > 0 && masterAt <= runningAt,
    rssMaxMB: rssMax,
    rssEndMB: rssEnd,
    cpuPct,
    reloadS,
    readyCpuS,
    reloadCpuS,
    ...(split ? { reloadSplit: split.replace(/"/g, '').replace(/,/g, ', ') } : {}),
  };

  // keepalived's VRRP process alone on the same file (its checker would need IP_VS)
  if (!process.env.BENCH_NO_KEEPALIVED && spawnSync('sh', ['-c', 'command -v keepalived'], { encoding: 'utf8' }).status === 0) {
    writeFileSync(conf, text);
    const k0 = performance.now();
    const ka = lab.spawn(ns, ['keepalived', '-n', '-l', '-D', '-P', '-f', conf, '-p', path.join(lab.dir, `ka-${n}.pid`), '-r', path.join(lab.dir, `kav-${n}.pid`)], `keepalived ${n}`);
    try {
      await ka.waitForLine(/Entering MASTER STATE/, 120_000, 'any');
      row.kaMasterS = (performance.now() - k0) / 1000;
      await sleep(2000);
      const vpid = Number(readFileSync(path.join(lab.dir, `kav-${n}.pid`), 'utf8').trim());
      row.kaRssMB = rssMB(ka.pid) + rssMB(vpid);
      writeFileSync(conf, changed);
      const kr0 = performance.now();
      const before = ka.outputLines.length;
      ka.signal('SIGHUP');
      // the VRRP child says "Reload complete" (2.2.7; later versions also "Reload finished in N usec")
      const line = await ka.waitForLine((l) => /Reload (complete|finished in \d+ usec)/.test(l) && ka.outputLines.indexOf(l) >= before, 60_000, 'any');
      row.kaReloadS = (performance.now() - kr0) / 1000;
      const own = /Reload finished in (\d+) usec/.exec(line)?.[1];
      if (own) row.kaReloadOwnS = Number(own) / 1e6;
    } catch {
      // keepalived did not come up here: the row says so
    }
    ka.signal('SIGTERM');
    await sleep(1000);
  }
  listener.signal('SIGTERM');
  return row;
}

const lab = new NetnsLab({ scratch: true });
const rows: string[] = [];
try {
  for (const n of SIZES) {
    const r = await one(lab, n);
    const ka = r.kaMasterS !== undefined ? `${r.kaMasterS.toFixed(2)} s, ${r.kaRssMB?.toFixed(0)} MB (VRRP only)` : 'did not start';
    const ratio = r.kaMasterS !== undefined ? `×${(r.masterS / r.kaMasterS).toFixed(2)}` : '—';
    const kaReload = r.kaReloadS !== undefined ? `${r.kaReloadS.toFixed(2)} s${r.kaReloadOwnS !== undefined ? ` (its own count ${r.kaReloadOwnS.toFixed(3)} s)` : ''}` : '—';
    const row = `| ${n.toLocaleString('en')} | ${r.readyS.toFixed(2)} s (CPU ${r.readyCpuS.toFixed(2)} s) | ${r.masterS.toFixed(2)} s${r.masterFirst ? '' : ' (after ready!)'} | ${ka} | ${ratio} | ${r.rssMaxMB.toFixed(0)} MB (end ${r.rssEndMB.toFixed(0)}) | ${r.cpuPct.toFixed(0)} % | ${r.reloadS.toFixed(2)} s (CPU ${r.reloadCpuS.toFixed(2)} s${r.reloadSplit ? `; ms ${r.reloadSplit}` : ''}) | ${kaReload} |`;
    rows.push(row);
    console.log(row);
    await lab.stopAndCleanup(3000, true);
  }
} finally {
  await lab.stopAndCleanup();
}

const header = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} CPUs (load average ${loadavg()[0]?.toFixed(1)} at the end), node ${process.version}; one run each; checks every 5 s (delay_loop 5), all connecting to a listener in the namespace; RSS and CPU over ${WINDOW_S} s after ready.`,
  'Comparable: keepalived -t (the "Config loading" table) and keepalived\'s VRRP process (`-P`: MASTER, RSS, reload of the same file). Not comparable here: keepalived\'s checker needs IP_VS, which this kernel lacks, so its RSS and CPU while checking 37,300 real servers are not measured (CPU per check against keepalived: the guest comparison under "health checks").',
  '',
  '| real servers | `vipkeeper run` ready | first MASTER (advert) | keepalived -P: MASTER, RSS | ratio (MASTER) | vipkeeper RSS while checking (max) | vipkeeper CPU while checking | vipkeeper SIGHUP reload, 1 % changed | keepalived -P SIGHUP reload (VRRP process only) |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows,
];
console.log(`\n${header.join('\n')}`);
if (WRITE) {
  const file = path.join(REPO, 'BENCHMARKS.md');
  const start = '<!-- bench:daemon:start -->';
  const end = '<!-- bench:daemon:end -->';
  const t = readFileSync(file, 'utf8');
  const section = `${start}\n${header.join('\n')}\n${end}`;
  const i = t.indexOf(start);
  const j = t.indexOf(end);
  writeFileSync(file, i >= 0 && j > i ? t.slice(0, i) + section + t.slice(j + end.length) : `${t.trimEnd()}\n\n## The daemon at scale: run, checking, reload (bench/config/daemon.ts)\n\n${section}\n`);
  console.log(`wrote ${file}`);
}

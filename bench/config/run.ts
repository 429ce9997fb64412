// Config loading benchmark (not a test): `vipkeeper check` against `keepalived -t` on the same
// generated keepalived.conf (bench/config/gen.ts), side by side in one run, and `vipkeeper check`
// on the same config migrated to YAML. Wall time, CPU (user + sys) and peak RSS, best of N rounds,
// at 1k / 10k / 37.3k / 100k real servers (100 to a virtual server, one TCP_CHECK each).
//
//   npx tsx bench/config/run.ts [--rounds 3] [--sizes 1000,10000,37300,100000] [--write]
//
// Peak RSS and CPU come from GNU time (/usr/bin/time, Debian's `time` package). With --write the
// table replaces the "Config loading" section of BENCHMARKS.md.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launcherNodeFlags } from '../checks/lib.js';
import { generate } from './gen.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(REPO, 'bin/vipkeeper.js');
// node with the flags of bin/vipkeeper.js's #! line, as `vipkeeper` runs when installed
const NODE = [process.execPath, ...launcherNodeFlags(), BIN];
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
};
const ROUNDS = Number(arg('rounds', '3'));
const SIZES = arg('sizes', '1000,10000,37300,100000').split(',').map(Number);
const WRITE = process.argv.includes('--write');

interface Run {
  wallS: number;
  cpuS: number;
  rssMB: number;
}

/** One command under GNU time: wall, user + sys, peak RSS; throws when it fails. */
function measure(argv: string[], okCodes = [0]): Run {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', 'VKTIME %U %S %M', ...argv], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const wallS = (performance.now() - t0) / 1000;
  const m = /VKTIME ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (!m || !okCodes.includes(r.status ?? -1)) throw new Error(`${argv.join(' ')} failed (${String(r.status)}): ${r.stderr.slice(-2000)}`);
  return { wallS, cpuS: Number(m[1]) + Number(m[2]), rssMB: Number(m[3]) / 1024 };
}

/** Best of `ROUNDS` by wall time (the least disturbed run), and the smallest peak RSS. */
function best(argv: string[]): Run {
  const runs = Array.from({ length: ROUNDS }, () => measure(argv));
  const fastest = runs.reduce((a, b) => (b.wallS < a.wallS ? b : a));
  return { ...fastest, cpuS: Math.min(...runs.map((r) => r.cpuS)), rssMB: Math.min(...runs.map((r) => r.rssMB)) };
}

const which = spawnSync('sh', ['-c', 'command -v keepalived && test -x /usr/bin/time'], { encoding: 'utf8' });
if (which.status !== 0) throw new Error('needs keepalived and GNU time (apt-get install keepalived time)');
const kver = (spawnSync('keepalived', ['--version'], { encoding: 'utf8' }).stderr.split('\n')[0] ?? '').trim();

// the machine may be shared: its load at the start and the end go into the table's header
const loadAtStart = loadavg()[0] ?? 0;
const dir = mkdtempSync(path.join(tmpdir(), 'vipkeeper-bench-config-'));
const rows: string[] = [];
try {
  for (const n of SIZES) {
    const conf = path.join(dir, `lvs-${n}.conf`);
    writeFileSync(conf, generate(n));
    const yaml = path.join(dir, `lvs-${n}.yaml`);
    measure([...NODE, 'migrate', conf, '-o', yaml, '-i', 'bench']);
    const k = best(['keepalived', '-t', '-f', conf]);
    const v = best([...NODE, 'check', conf, '-i', 'bench', '--no-host-checks']);
    const y = best([...NODE, 'check', yaml, '--no-host-checks']);
    const mb = (f: string) => (statSync(f).size / 1e6).toFixed(1);
    // keepalived's CPU at 1,000 real servers rounds to 0.00 s: no ratio then
    const cpuRatio = (x: Run) => (k.cpuS >= 0.01 ? `×${(x.cpuS / k.cpuS).toFixed(2)} CPU` : 'CPU: keepalived < 0.01 s');
    const row =
      `| ${n.toLocaleString('en')} (${mb(conf)} MB, yaml ${mb(yaml)} MB) | ${k.wallS.toFixed(2)} s, ${k.cpuS.toFixed(2)} s CPU, ${k.rssMB.toFixed(0)} MB ` +
      `| ${v.wallS.toFixed(2)} s, ${v.cpuS.toFixed(2)} s CPU, ${v.rssMB.toFixed(0)} MB | ×${(v.wallS / k.wallS).toFixed(2)} wall, ${cpuRatio(v)}, ×${(v.rssMB / k.rssMB).toFixed(1)} RSS ` +
      `| ${y.wallS.toFixed(2)} s, ${y.cpuS.toFixed(2)} s CPU, ${y.rssMB.toFixed(0)} MB | ×${(y.wallS / k.wallS).toFixed(2)} wall, ${cpuRatio(y)}, ×${(y.rssMB / k.rssMB).toFixed(1)} RSS |`;
    rows.push(row);
    console.log(row);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const header = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} CPUs (load average ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0]?.toFixed(1)} at the end), ${kver}, node ${process.version}, best of ${ROUNDS}.`,
  'Each size: 100 real servers to a virtual server, one TCP_CHECK each (bench/config/gen.ts). "CPU" is user + sys; RSS is the peak.',
  '',
  '| real servers (file) | `keepalived -t` | `vipkeeper check` keepalived.conf | ratio | `vipkeeper check` migrated YAML | ratio |',
  '|---|---|---|---|---|---|',
  ...rows,
];
console.log(`\n${header.join('\n')}`);

if (WRITE) {
  const file = path.join(REPO, 'BENCHMARKS.md');
  const start = '<!-- bench:config:start -->';
  const end = '<!-- bench:config:end -->';
  const text = readFileSync(file, 'utf8');
  const section = `${start}\n${header.join('\n')}\n${end}`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  const next =
    i >= 0 && j > i
      ? text.slice(0, i) + section + text.slice(j + end.length)
      : `${text.trimEnd()}\n\n## Config loading: vipkeeper check vs keepalived -t (bench/config/run.ts)\n\n${section}\n`;
  writeFileSync(file, next);
  console.log(`wrote ${file}`);
}

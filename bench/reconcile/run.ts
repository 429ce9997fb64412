// IPVS reconcile benchmark (not a test): vipkeeper's Reconciler (netlink backend, and optionally
// the ipvsadm one) vs keepalived 2.2.7, on the same kernel, in the QEMU guest of
// lab/ipvs-vm.ts (TCG: absolute times are slow; the ratios are what carries over).
//
//   npx tsx bench/reconcile/run.ts [--vs 100] [--rs 100] [--rounds 3] [--backends netlink,ipvsadm] [--write]
//
// Phases, each timed until the kernel has the result (read from /proc/net/ip_vs):
// - converge 100 VS × 100 RS from an empty table;
// - flip the weight of 10% of the real servers;
// - remove everything;
// - verdict → kernel: one health verdict (one weight) on the full table, and on a 1 VS × 2 RS table.
// keepalived does the same through its own paths: start (-C, no checkers: every RS up), SIGHUP
// with the flipped weights in its config, SIGTERM. vipkeeper runs in an already-started node
// process; a node cold start in the guest is measured separately (`node -e 0`).
// With --write the numbers go to bench/reconcile/RESULTS.md.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';

import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { renderKeepalivedConf } from '../../test/fixtures/ipvs-kconf.js';
import { REPO_ROOT, runGuest, taskResult } from '../../lab/ipvs-vm.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const NVS = arg('vs', 100);
const NRS = arg('rs', 100);
const ROUNDS = arg('rounds', 3);
const WRITE = process.argv.includes('--write');
const backendsArg = process.argv.indexOf('--backends');
const BACKENDS = (backendsArg >= 0 ? (process.argv[backendsArg + 1] ?? '') : 'netlink')
  .split(',')
  .filter((b): b is 'netlink' | 'ipvsadm' => b === 'netlink' || b === 'ipvsadm');

function benchConfig(flipEvery?: number): Config {
  return ConfigSchema.parse({
    virtual_servers: Array.from({ length: NVS }, (_, i) => ({
      address: `10.100.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      port: 80,
      protocol: 'TCP',
      lb_algo: 'wlc',
      lb_kind: 'NAT',
      real_servers: Array.from({ length: NRS }, (_, j) => ({ address: `10.${200 + Math.floor(i / 250)}.${i % 250}.${j + 1}`, port: 80, weight: flipEvery && j % flipEvery === 0 ? 2 : 1 })),
    })),
  });
}

interface Timings {
  rounds: number;
  samples: Record<string, number[]>;
  median: Record<string, number>;
}

const fmt = (ms: number | undefined) => (ms === undefined || Number.isNaN(ms) ? 'n/a' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const ratio = (k: number | undefined, v: number | undefined) => (k && v ? `${(k / v).toFixed(1)}×` : 'n/a');

async function main(): Promise<void> {
  const config = benchConfig();
  const total = { services: NVS, dests: NVS * NRS };
  const t0 = performance.now();
  const loadBefore = loadavg();
  const run = await runGuest(
    [
      { id: 'env', kind: 'env' },
      ...BACKENDS.map((b) => ({ id: `vipkeeper-${b}`, kind: 'vipkeeper', backend: b, config, rounds: ROUNDS })),
      {
        id: 'keepalived',
        kind: 'keepalived',
        total,
        variants: [
          { label: 'default', conf: 'k.conf', flipped: 'k-flipped.conf' },
          { label: 'child_wait_time 600', conf: 'k-cwt.conf', flipped: 'k-cwt-flipped.conf' },
        ],
      },
    ],
    {
      agent: path.join(REPO_ROOT, 'bench', 'reconcile', 'guest.ts'),
      files: {
        'k.conf': renderKeepalivedConf(config),
        'k-flipped.conf': renderKeepalivedConf(benchConfig(10)),
        'k-cwt.conf': `child_wait_time 600\n${renderKeepalivedConf(config)}`,
        'k-cwt-flipped.conf': `child_wait_time 600\n${renderKeepalivedConf(benchConfig(10))}`,
      },
      memMb: 2048,
      timeoutMs: 30 * 60_000,
      verbose: process.argv.includes('--verbose'),
    },
  );
  const env = taskResult<{ kernel: string; ipvsadm: string; keepalived: string; node: string; nodeStartMs: number }>(run, 'env');
  const loadAfter = loadavg();
  const vs = BACKENDS.map((b) => taskResult<Timings & { backend: string; total: typeof total }>(run, `vipkeeper-${b}`));
  const v = vs[0]!;
  const k = taskResult<
    Timings & {
      logs: string[];
      perRound: { label: string; converge?: number; flip?: number; remove?: number; exit?: number }[];
      leftAfterStop: { label: string; services: number; dests: number; exitMs?: number }[];
    }
  >(run, 'keepalived');
  const kDefault = k.perRound.find((r) => r.label === 'default');
  const kLeft = k.leftAfterStop.find((r) => r.label === 'default');
  const rows = [
    ['converge from empty', 'converge'],
    ['flip 10% of the weights', 'flip'],
    ['remove all', 'remove'],
  ] as const;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  const stopNote = kLeft
    ? `**keepalived with its defaults did not remove everything**: on SIGTERM its parent waits \`child_wait_time\` (5 s) for the checker child, then kills it; the child was still deleting destinations one netlink call at a time, and ${kLeft.services} services / ${kLeft.dests} destinations stayed in the kernel (keepalived exited after ${fmt(kLeft.exitMs)}). The "remove all" figure for keepalived is from the run with \`child_wait_time 600\`.`
    : `keepalived with its defaults removed everything before its \`child_wait_time\` (5 s) ran out (exit after ${fmt(kDefault?.exit)}).`;
  const lines = [
    `# IPVS reconcile benchmark: vipkeeper vs keepalived`,
    '',
    `Measured ${new Date().toISOString().slice(0, 16)}Z with \`npx tsx bench/reconcile/run.ts ${process.argv.slice(2).join(' ')}\` (${((performance.now() - t0) / 1000).toFixed(0)} s in all).`,
    `Guest: QEMU under TCG (software emulation: no KVM on this host), 1 vCPU, 2 GiB; Linux ${env.kernel}, ${env.ipvsadm.split(' (')[0]}, ${env.keepalived.replace(/\s*\(.*$/, '')}, node ${env.node}.`,
    `Host: ${cpus().length} CPUs shared with other work; load average (1, 5, 15 min) ${load(loadBefore)} before, ${load(loadAfter)} after.`,
    `vipkeeper IPVS backend(s): ${vs.map((x) => '**' + x.backend + '**').join(', ')} (config \`ipvs.backend\`; netlink is the default).`,
    `Table: ${NVS} virtual services × ${NRS} real servers = ${total.dests} destinations (TCP, NAT, wlc). Medians of ${v.rounds} vipkeeper round(s); keepalived ran once with its defaults and once with \`child_wait_time 600\` (see "remove all").`,
    'Times run until the kernel has the result (/proc/net/ip_vs polled every 50 ms, so ±50 ms). TCG makes every absolute number several times slower than real hardware; compare the ratios.',
    '',
    `| phase | ${vs.map((x) => 'vipkeeper (' + x.backend + ')').join(' | ')} | keepalived | ${vs.map((x) => 'keepalived / vipkeeper (' + x.backend + ')').join(' | ')} |`,
    `| --- | ${vs.map(() => '--- | ').join('')}--- | ${vs.map(() => '---').join(' | ')} |`,
    ...rows.map(([name, key]) => `| ${name} | ${vs.map((x) => fmt(x.median[key])).join(' | ')} | ${fmt(k.median[key])} | ${vs.map((x) => ratio(k.median[key], x.median[key])).join(' | ')} |`),
    '',
    stopNote,
    '',
    `keepalived per run: ${k.perRound.map((r) => `${r.label}: converge ${fmt(r.converge)}, flip ${fmt(r.flip)}, remove ${r.remove !== undefined ? fmt(r.remove) : 'incomplete'}, exit ${fmt(r.exit)}`).join('; ')}.`,
    '',
    'How each side does it:',
    '- vipkeeper (netlink): the Reconciler in a running node process: a generic netlink dump of the services and one per service of its destinations (read), plan, every operation as one netlink message with ACK, all in ONE transaction (apply).',
    '- vipkeeper (ipvsadm): the same loop over `ipvsadm -Sn` + `ipvsadm -Ln --thresholds` (read) and one `ipvsadm -R` batch (apply).',
    '  Converge and flip are timed from the config/health input to the end of the apply; remove all from an empty config to an empty table.',
    '- keepalived: `keepalived -n -C` start until every destination is in the kernel; SIGHUP after writing the flipped weights into its config',
    '  (keepalived re-reads and edits each changed destination); SIGTERM until its services are gone. keepalived programs over generic netlink, one message per change.',
    `- A node cold start (\`node -e 0\`) takes ${fmt(env.nodeStartMs)} in this guest; it is not in vipkeeper's converge time (keepalived's process start is in its own).`,
    '',
    ...vs.map(
      (x) =>
        `One pass of vipkeeper's loop over the converged ${total.dests}-destination table (${x.backend}): read ${fmt(x.median.read)}, plan ${fmt(x.median.plan)}; the ${total.dests / 10}-edit apply of the flip took ${fmt(x.median.apply)}; the ${total.services + total.dests}-operation apply of the converge took ${fmt(x.median.convergeApply)} of its ${fmt(x.median.converge)}.`,
    ),
    '',
    '## Verdict → kernel latency (vipkeeper)',
    '',
    'From a health verdict (`setBackendState` with one changed weight) to the end of the apply that carries it, minInterval 0, timed after the full pass that `start()` runs.',
    'A verdict-only change takes the fast path: it is planned against the table the previous run left (kept in memory) and applied without reading the kernel; the resync timer still reads the whole table.',
    '',
    '| backend | table | median | samples | fast path |',
    '| --- | --- | --- | --- | --- |',
    ...vs.flatMap((x) => [
      `| ${x.backend} | ${NVS} × ${NRS} (${total.dests} destinations) | ${fmt(x.median.latencyFull)} | ${(x.samples.latencyFull ?? []).map(fmt).join(', ')} | ${(x.samples.fastFull ?? []).filter((n) => n > 0).length}/${(x.samples.fastFull ?? []).length} |`,
      `| ${x.backend} | 1 × 2 | ${fmt(x.median.latencySmall)} | ${(x.samples.latencySmall ?? []).map(fmt).join(', ')} | ${(x.samples.fastSmall ?? []).filter((n) => n > 0).length}/${(x.samples.fastSmall ?? []).length} |`,
    ]),
    '',
    'keepalived has no comparable number: its verdicts come from checkers on a `delay_loop` (≥ 1 s), and each is programmed with one netlink call.',
    '',
    '## Raw samples (ms)',
    '',
    '```json',
    JSON.stringify({ ...Object.fromEntries(vs.map((x) => [`vipkeeper-${x.backend}`, x.samples])), keepalived: k.samples }, (_, x: unknown) => (typeof x === 'number' ? Math.round(x) : x)),
    '```',
    '',
  ];
  const text = lines.join('\n');
  process.stdout.write(`${text}\n`);
  if (k.logs.some(Boolean)) process.stderr.write(`keepalived warnings/errors:\n${k.logs.join('\n')}\n`);
  if (WRITE) writeFileSync(path.join(REPO_ROOT, 'bench', 'reconcile', 'RESULTS.md'), text);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

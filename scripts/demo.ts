/**
 * `npm run demo` (tsx scripts/demo.ts): a vipkeeper director pair, end to end, in network
 * namespaces on this machine. Run as root on a Debian machine set up with scripts/setup.sh.
 *
 *   bridge br0 in namespace lan (IGMP snooping off, so VRRP multicast floods)
 *     d1 10.64.0.11, d2 10.64.0.12   directors: `vipkeeper run` from config/demo.yaml
 *     rs1 10.64.0.21, rs2 10.64.0.22 real servers: node HTTP servers on port 80
 *     client 10.64.0.10              VIP 10.64.0.100 on whichever director is MASTER
 *
 * The real servers are set up by `vipkeeper realserver up` (the VIP on lo, arp_ignore/arp_announce).
 * It shows, with a timeline: the election (d1 MASTER with the VIP, d2 BACKUP); the health checks
 * seeing both real servers up; the ARP problem (rs2 made to answer ARP for the VIP, named by
 * `vipkeeper check --live` on d1, then set up right again); rs2 stopped and caught DOWN by both directors; `vipkeeper drill`
 * from d1 with d2's control socket (failover and hand-back); a crash of d1's daemon (SIGKILL) with
 * d2 taking over and the client's ARP entry for the VIP moving to d2's MAC.
 *
 * IPVS: where the kernel has no IP_VS the demo says so and prints the table the director would
 * program (`vipkeeper status` → ipvs); no traffic is claimed to flow through IPVS. Where
 * `ipvsadm -Ln` works in a director namespace and vipkeeper programmed the service there, the
 * client's HTTP GETs to the VIP go through it and the answering real server is shown.
 *
 * Only 10.64.0.0/24 addresses, only inside namespaces it creates (vkdemo-<pid>-*). Everything it
 * starts it stops by PID; the namespaces are deleted in a finally block, on SIGINT/SIGTERM and at
 * exit. Every wait is bounded, and the whole run must finish within DEMO_LIMIT_MS.
 * Exit 0: every step worked. Exit 1: a step failed (the message says which; the daemons' logs are
 * kept). Exit 2: cannot run here (not root, no `ip netns`, no native addon).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { addresses, cleanupAllSync, NetnsLab, neighMac, onLabSignal } from '../lab/netns.js';
import { CommandFailed, REPO_ROOT, runStatus, type ChildProc } from '../lab/process.js';
import { vipkeeperArgv } from '../lab/vipkeeper.js';
import { sleep, waitUntil, WaitTimeout } from '../lab/wait.js';
import { getStatus } from '../src/daemon/control/client.js';
import { formatIpvs } from '../src/cli/status-format.js';
import { masterDownIntervalMs, skewTimeMs } from '../src/vrrp/timers.js';
import type { DaemonStatus } from '../src/daemon/control/status.js';

const REPO = REPO_ROOT;
const DEMO_YAML = path.join(REPO, 'config', 'demo.yaml');
const DEMO_LIMIT_MS = 120_000;
/** `npm run demo -- --keep`: keep the work directory (configs, logs, drill report) after a good run. */
const KEEP = process.argv.slice(2).includes('--keep');

const PREFIX = '10.64.0';
const VIP = `${PREFIX}.100`;
const INSTANCE = 'VI_DEMO';
const HOSTS = { client: 10, d1: 11, d2: 12, rs1: 21, rs2: 22 } as const;
type Host = keyof typeof HOSTS;
const ip = (h: Host): string => `${PREFIX}.${HOSTS[h]}`;
const mac = (h: Host): string => `02:64:00:00:00:${HOSTS[h].toString(16).padStart(2, '0')}`;
const DIRECTORS = { d1: { priority: 150 }, d2: { priority: 100 } } as const;
type Director = keyof typeof DIRECTORS;

// ------------------------------------------------------------------------------------------------
// Output: a timeline

const T0 = performance.now();
const stamp = (): string => `[${((performance.now() - T0) / 1000).toFixed(2).padStart(6)}s]`;
function say(line = ''): void {
  process.stdout.write(line ? `${stamp()} ${line}\n` : '\n');
}
function block(text: string, indent = '           | '): void {
  for (const l of text.replace(/\n+$/, '').split('\n')) process.stdout.write(`${indent}${l}\n`);
}
function heading(s: string): void {
  process.stdout.write(`\n== ${s}\n`);
}

class DemoFailure extends Error {}
class CannotRun extends Error {}

/** Poll until `cond` returns a value (not undefined/false); a WaitTimeout names `what` after `timeoutMs`. */
async function waitFor<T>(what: string, cond: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 50): Promise<{ value: T; ms: number }> {
  return waitUntil(what, cond, { timeoutMs, everyMs, retryErrors: true });
}

// ------------------------------------------------------------------------------------------------
// Processes and namespaces: the lab's (lab/), which records everything we start and stops it by
// PID, and deletes its namespaces (vkdemo-<pid>-*) in cleanup, at exit and on signals.

const lab = new NetnsLab({ prefix: 'vkdemo' });
const nsName = (h: Host | 'lan'): string => lab.nsName(h);
let workDir = '';

/** A long-running process inside host `h`'s namespace, its output also appended to `logFile`. */
function startProc(h: Host, name: string, argv: string[], logFile: string): ChildProc {
  return lab.spawn(nsName(h), argv, name, { logFile, maxLines: 5000 });
}

/** Run a command to completion (bounded); resolves with its output and exit code. */
const runCmd = (argv: string[], timeoutMs = 15_000) => runStatus(argv, timeoutMs, REPO);

async function must(argv: string[], timeoutMs = 15_000): Promise<string> {
  const r = await runCmd(argv, timeoutMs);
  if (r.code !== 0) throw new DemoFailure(`${argv.join(' ')} failed (exit ${r.code}): ${r.err.trim() || r.out.trim()}`);
  return r.out;
}

const inNs = (h: Host, argv: string[]): string[] => ['ip', 'netns', 'exec', nsName(h), ...argv];
const vkArgv = (args: string[]): string[] => [...vipkeeperArgv(), ...args];
/** `vipkeeper realserver ARGS` on a real server (its state file in the work dir); its output. */
async function realserver(h: 'rs1' | 'rs2', args: string[]): Promise<string> {
  const r = await runCmd(inNs(h, vkArgv(['realserver', ...args, '--state', path.join(workDir, `${h}.realserver.state`)])), 30_000);
  if (r.code !== 0) throw new DemoFailure(`vipkeeper realserver ${args.join(' ')} on ${h} failed (exit ${String(r.code)}): ${r.out}${r.err}`);
  return r.out;
}

/** Graceful cleanup: daemons get SIGTERM (priority 0, VIPs removed), then everything is killed. */
async function cleanup(): Promise<void> {
  const daemons = Object.values(directors).map((d) => d!.proc);
  for (const p of daemons) p.signal('SIGTERM');
  await Promise.all(daemons.map((p) => p.exitWithin(4000)));
  await lab.cleanup().catch((e: Error) => say(`cleanup: ${e.message}`));
}

// ------------------------------------------------------------------------------------------------
// The lab

async function buildLab(): Promise<void> {
  const lan = await lab.addNamespace('lan');
  await lab.addBridge(lan, 'br0');
  for (const h of Object.keys(HOSTS) as Host[]) await lab.addNode(lan, h, ip(h), mac(h));
}

const HTTP_SERVER = `
const name = process.argv[1];
require('http').createServer((req, res) => { res.setHeader('content-type', 'text/plain'); res.end(name + '\\n'); })
  .listen(80, '0.0.0.0', () => console.log('listening', name));
`;

function startRealServer(h: 'rs1' | 'rs2'): ChildProc {
  return startProc(h, `http ${h}`, [process.execPath, '-e', HTTP_SERVER, h], path.join(workDir, `${h}.log`));
}

/** A GET from the client namespace; the body's first line (the real server's name). */
async function clientGet(url: string, timeoutMs = 3000): Promise<string> {
  const js = `fetch(process.argv[1], { signal: AbortSignal.timeout(${timeoutMs}) }).then(async (r) => { process.stdout.write(r.status + ' ' + (await r.text())); }, (e) => { process.stderr.write(String(e.cause?.code ?? e.message)); process.exit(1); })`;
  const r = await runCmd(inNs('client', [process.execPath, '-e', js, url]), timeoutMs + 3000);
  if (r.code !== 0) throw new Error(`GET ${url} from the client failed: ${r.err.trim()}`);
  return r.out.trim();
}

const addrs = (h: Host): Promise<string[]> => addresses(nsName(h));
const clientNeigh = (): Promise<string | undefined> => neighMac(nsName('client'), VIP);

const whoseMac = (m: string | undefined): string => (m === mac('d1') ? 'd1' : m === mac('d2') ? 'd2' : (m ?? 'nobody'));

// ------------------------------------------------------------------------------------------------
// The directors

interface DirectorProc {
  name: Director;
  conf: string;
  socket: string;
  log: string;
  proc: ChildProc;
}
const directors: Partial<Record<Director, DirectorProc>> = {};

/** config/demo.yaml for one director: its router_id, priority and control socket. */
function directorConfig(name: Director): string {
  const doc = yaml.load(readFileSync(DEMO_YAML, 'utf8')) as {
    global: { router_id?: string };
    instances: Record<string, { priority?: number }>;
    control?: { socket?: string };
  };
  const inst = doc.instances?.[INSTANCE];
  if (!doc.global || !inst) throw new DemoFailure(`${DEMO_YAML} has no global section or no instance ${INSTANCE}`);
  doc.global.router_id = name;
  inst.priority = DIRECTORS[name].priority;
  doc.control = { ...(doc.control ?? {}), socket: path.join(workDir, `${name}.sock`) };
  const file = path.join(workDir, `${name}.yaml`);
  writeFileSync(file, `# ${name}: written by scripts/demo.ts from config/demo.yaml\n${yaml.dump(doc, { lineWidth: 120 })}`);
  return file;
}

function startDirector(name: Director): DirectorProc {
  const conf = directorConfig(name);
  const socket = path.join(workDir, `${name}.sock`);
  const log = path.join(workDir, `${name}.log`);
  const proc = startProc(name, `vipkeeper ${name}`, vkArgv(['run', '-f', conf, '--socket', socket, '--config-id', name, '--log-level', 'info']), log);
  const d = { name, conf, socket, log, proc };
  directors[name] = d;
  return d;
}

async function status(d: DirectorProc): Promise<DaemonStatus> {
  if (!d.proc.running) throw new DemoFailure(`vipkeeper on ${d.name} exited:\n${d.proc.outputLines.slice(-15).join('\n')}`);
  const r = await getStatus(d.socket);
  if (r.code !== 200) throw new Error(`status of ${d.name}: HTTP ${r.code}`);
  return r.body;
}

const inst = (s: DaemonStatus) => s.vrrp?.instances.find((i) => i.name === INSTANCE);

/** `vipkeeper status --socket` (the CLI), printed. */
async function showStatus(d: DirectorProc): Promise<void> {
  const r = await runCmd(vkArgv(['status', '--socket', d.socket]), 15_000);
  if (r.code !== 0) throw new DemoFailure(`vipkeeper status on ${d.name} failed: ${r.err.trim()}`);
  say(`$ vipkeeper status --socket ${d.name}.sock     (${d.name})`);
  block(r.out);
}

/**
 * Why the election takes ~2.5 s when VRRP's own wait is 3 × 100 ms + skew: most of it is the
 * process starting (node, tsx compiling the TypeScript, the native addon), then the config, the
 * control socket and the VRRP thread; a node starts as BACKUP and becomes MASTER only after a
 * Master_Down_Interval without a better advert (RFC 5798 §6.4.2), plus vrrp_startup_delay if set.
 * Read from d1's own status: when its process started and the wall-clock time of each transition.
 */
function explainElection(s: DaemonStatus, spawnedAt: number): void {
  const i = inst(s);
  const tr = i?.recentTransitions ?? [];
  const at = (to: string) => {
    const t = tr.find((x) => x.to === to)?.time;
    return t ? Date.parse(t) - spawnedAt : undefined;
  };
  const started = Date.parse(s.node.startedAt) - spawnedAt;
  const backup = at('BACKUP');
  const master = at('MASTER');
  const advert = i?.advertIntervalMs ?? 100;
  const prio = i?.effectivePriority ?? DIRECTORS.d1.priority;
  const mdi = masterDownIntervalMs(3, prio, advert);
  const skew = skewTimeMs(3, prio, advert);
  const ms = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '?' : `${Math.round(n)} ms`);
  say('where the election time goes (d1, from its status; t = when the demo spawned it):');
  block(
    [
      `t+${ms(started).padStart(8)}  process up: node started, tsx compiled the sources, loaded the native addon`,
      `t+${ms(backup).padStart(8)}  config loaded, control socket and VRRP thread up: INIT -> BACKUP (every node starts BACKUP)`,
      `t+${ms(master).padStart(8)}  BACKUP -> MASTER: ${tr.find((x) => x.to === 'MASTER')?.reason ?? '?'}`,
      `VRRP's own part is the last step: Master_Down_Interval = 3 × ${advert} ms + Skew_Time ${skew.toFixed(1)} ms = ${mdi.toFixed(1)} ms at priority ${prio}` +
        ` (measured ${ms(master !== undefined && backup !== undefined ? master - backup : undefined)}); vrrp_startup_delay would add its wait before it.`,
      'The rest is start-up: a daemon already running takes over within the Master_Down_Interval (see the crash below).',
    ].join('\n'),
  );
}

// ------------------------------------------------------------------------------------------------
// IPVS

interface IpvsInfo {
  kernel: boolean;
  why: string;
}

async function kernelIpvs(): Promise<IpvsInfo> {
  const r = await runCmd(inNs('d1', ['ipvsadm', '-Ln']), 5000);
  if (r.code === -1) return { kernel: false, why: 'ipvsadm is not installed' };
  if (r.code !== 0) return { kernel: false, why: `ipvsadm -Ln in d1 says: ${(r.err || r.out).trim().split('\n')[0]}` };
  return { kernel: true, why: 'ipvsadm -Ln works in the director namespace' };
}

/** The table from `vipkeeper status` → ipvs, in ipvsadm's layout (the configured table where the kernel has none). */
function ipvsTableText(s: DaemonStatus): string {
  return formatIpvs(s).join('\n');
}

/** Did vipkeeper program our service into d1's/d2's kernel? */
async function ipvsHasService(h: Director): Promise<boolean> {
  const r = await runCmd(inNs(h, ['ipvsadm', '-Ln', '-t', `${VIP}:80`]), 5000);
  return r.code === 0 && r.out.includes(`${VIP}:80`);
}

// ------------------------------------------------------------------------------------------------
// The demo

interface Summary {
  electionMs?: number;
  downMs?: Partial<Record<Director, number>>;
  drill?: string;
  crashMs?: number;
  arpMs?: number;
  ipvs?: string;
  arpProblem?: string;
}

async function demo(): Promise<Summary> {
  const sum: Summary = {};

  heading('1. The lab');
  await buildLab();
  say(`LAN ${PREFIX}.0/24 on bridge br0 in namespace ${nsName('lan')}; VIP ${VIP}; one namespace per host:`);
  for (const h of Object.keys(HOSTS) as Host[]) block(`${h.padEnd(7)} ${nsName(h).padEnd(22)} ${ip(h).padEnd(12)} ${mac(h)}`, '           ');
  say(`(look inside one: ip netns exec ${nsName('d1')} ip addr; they are deleted at the end)`);

  const ipvs = await kernelIpvs();
  say(ipvs.kernel ? `IPVS: this kernel has IP_VS (${ipvs.why})` : `IPVS: this kernel has NO IP_VS (${ipvs.why})`);
  // Direct routing: each real server accepts packets for the VIP (on lo) and never answers ARP for it.
  const rsUp = await Promise.all((['rs1', 'rs2'] as const).map((h) => realserver(h, ['up', '--vip', VIP])));
  say(`$ vipkeeper realserver up --vip ${VIP}     (on rs1 and rs2)`);
  block(rsUp[0]!);

  const rs = { rs1: startRealServer('rs1'), rs2: startRealServer('rs2') };
  for (const h of ['rs1', 'rs2'] as const) {
    const { value } = await waitFor(`${h}'s HTTP server to answer the client`, async () => clientGet(`http://${ip(h)}/`, 1000), 10_000, 100);
    say(`${h}: HTTP server up (pid ${rs[h].child.pid}); the client's GET http://${ip(h)}/ → ${value}`);
  }

  heading('2. Election');
  say(`starting vipkeeper on d2 (priority ${DIRECTORS.d2.priority}) and d1 (priority ${DIRECTORS.d1.priority}), both from config/demo.yaml, VRRPv3 every 100 ms`);
  const d2 = startDirector('d2');
  const d1 = startDirector('d1');
  const tStart = performance.now();
  const tStartWall = Date.now();
  say(`vipkeeper on d1 (pid ${d1.proc.child.pid}), on d2 (pid ${d2.proc.child.pid}); logs in ${path.basename(d1.log)}, ${path.basename(d2.log)}`);
  await waitFor(
    'd1 MASTER and d2 BACKUP',
    async () => {
      const [a, b] = await Promise.all([status(d1), status(d2)]);
      return inst(a)?.state === 'MASTER' && inst(b)?.state === 'BACKUP' && (inst(b)?.masterSeen?.ip === ip('d1')) ? true : undefined;
    },
    30_000,
  );
  sum.electionMs = Math.round(performance.now() - tStart);
  const [v1, v2] = await Promise.all([addrs('d1'), addrs('d2')]);
  if (!v1.includes(VIP) || v2.includes(VIP)) {
    await waitFor('the VIP on d1 only', async () => (await addrs('d1')).includes(VIP) && !(await addrs('d2')).includes(VIP), 5000);
  }
  say(`election: d1 MASTER with the VIP ${VIP} on its eth0, d2 BACKUP hearing d1 (${ip('d1')}) — ${sum.electionMs} ms after the daemons were started`);
  explainElection(await status(d1), tStartWall);

  heading('3. Health checks');
  for (const d of [d1, d2]) {
    const { ms } = await waitFor(
      `${d.name} to see both real servers up`,
      async () => {
        // Up by a check that has run (not just the initial state a real server starts in).
        const s = await status(d);
        const checked = (s.health?.services ?? []).flatMap((v) => v.realServers).filter((r) => r.up && r.lastCheckedAt !== undefined);
        return s.realServers.length === 2 && s.realServers.every((r) => r.verdict === 'up') && checked.length === 2 ? s : undefined;
      },
      15_000,
    );
    const s = await status(d);
    const latency = (r: { address: string; port: number }) => {
      const h = s.health?.services.flatMap((v) => v.realServers).find((x) => x.address === r.address && x.port === r.port);
      return h?.latencyMs !== undefined ? `, HTTP_GET answered in ${Math.round(h.latencyMs)} ms` : '';
    };
    say(`${d.name}: ${s.realServers.map((r) => `${r.address}:${r.port} ${r.verdict.toUpperCase()} (weight ${r.weight}${latency(r)})`).join(', ')}${ms > 50 ? ` — after ${Math.round(ms)} ms more` : ''}`);
  }
  await showStatus(d1);

  heading('4. IPVS');
  const s1 = await status(d1);
  if (!ipvs.kernel) {
    say(`this kernel has no IP_VS: NOTHING in this demo is load-balanced by IPVS, and the client's requests to the VIP are not shown.`);
    say(`the IPVS table d1 would program (from vipkeeper status → ipvs):`);
    block(ipvsTableText(s1));
    sum.ipvs = 'no IP_VS in this kernel: table shown, no traffic through IPVS';
  } else if (await ipvsHasService('d1')) {
    say('d1 kernel table (ipvsadm -Ln in d1):');
    block(await must(inNs('d1', ['ipvsadm', '-Ln'])));
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) answers.push(await clientGet(`http://${VIP}/`));
    say(`client → GET http://${VIP}/ through d1's IPVS (DR), 4 times: answered by ${answers.map((a) => a.split(' ')[1]).join(', ')}`);
    sum.ipvs = `traffic through IPVS: ${answers.map((a) => a.split(' ')[1]).join(', ')}`;
  } else {
    say(`this kernel has IP_VS, but vipkeeper did not program ${VIP}:80 into d1's table (status ipvs.state ${s1.ipvs?.state ?? 'absent'}${s1.ipvs?.error ? `: ${s1.ipvs.error}` : ''}); no traffic through IPVS is shown.`);
    block(ipvsTableText(s1));
    sum.ipvs = `IP_VS present but not programmed by vipkeeper (${s1.ipvs?.state ?? 'absent'})`;
  }

  heading('4b. The ARP problem: a real server answering ARP for the VIP');
  // rs2 broken by hand the classic way: ARP sysctls back to 0 and the VIP on its eth0
  await must(inNs('rs2', ['sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=0', 'net.ipv4.conf.eth0.arp_ignore=0']));
  await must(['ip', '-n', nsName('rs2'), 'addr', 'add', `${VIP}/32`, 'dev', 'eth0']);
  say(`rs2: arp_ignore set back to 0 and ${VIP}/32 added to its eth0 by hand: the classic LVS-DR mistake`);
  const live = await runCmd(inNs('d1', vkArgv(['check', '--live', '--no-host-checks', '-f', d1.conf])), 30_000);
  say(`$ vipkeeper check --live -f d1.yaml     (on d1, the MASTER; exit ${live.code})`);
  block(live.out.split('\n').filter((l) => l.startsWith('live:')).join('\n'));
  if (live.code !== 1 || !live.out.includes(mac('rs2'))) throw new DemoFailure(`check --live did not name rs2 (${mac('rs2')}):\n${live.out}${live.err}`);
  sum.arpProblem = `rs2 (${mac('rs2')}) named by check --live`;
  await must(['ip', '-n', nsName('rs2'), 'addr', 'del', `${VIP}/32`, 'dev', 'eth0']);
  await realserver('rs2', ['up', '--vip', VIP]);
  say(`rs2: the VIP off eth0 and vipkeeper realserver up again: it holds the VIP on lo and stays silent on ARP (the running daemon's own probe, every 10 s while MASTER, reports the same in vipkeeper status, a metric and a log line)`);

  heading('5. A real server fails');
  const tKill = performance.now();
  rs.rs2.child.kill('SIGKILL');
  await rs.rs2.exited;
  say(`rs2's HTTP server stopped (SIGKILL to pid ${rs.rs2.child.pid})`);
  sum.downMs = {};
  await Promise.all(
    [d1, d2].map(async (d) => {
      await waitFor(
        `${d.name} to catch rs2 DOWN`,
        async () => {
          const s = await status(d);
          return s.realServers.find((r) => r.address === ip('rs2'))?.verdict === 'down' ? true : undefined;
        },
        15_000,
        25,
      );
      sum.downMs![d.name] = Math.round(performance.now() - tKill);
      say(`${d.name}: rs2 ${ip('rs2')}:80 caught DOWN by the HTTP_GET check, ${sum.downMs![d.name]} ms after it stopped`);
    }),
  );
  await showStatus(d1);
  await showStatus(d2);
  if (!ipvs.kernel) {
    say('the table d1 would now program (from vipkeeper status → ipvs):');
    block(ipvsTableText(await status(d1)));
  }

  heading('6. Failover drill');
  const report = path.join(workDir, 'drill-report.json');
  say(`$ vipkeeper drill --socket d1.sock --peer-socket d2.sock --hand-back --report drill-report.json     (on d1)`);
  const dr = await runCmd(inNs('d1', vkArgv(['drill', '--socket', d1.socket, '--peer-socket', d2.socket, '--hand-back', '--peer-timeout', '5s', '--report', report])), 60_000);
  block(`${dr.out}${dr.err}`);
  if (dr.code !== 0) throw new DemoFailure(`vipkeeper drill failed (exit ${dr.code})`);
  const rep = JSON.parse(readFileSync(report, 'utf8')) as { failover?: { durationMs?: number }; handBack?: { durationMs?: number } };
  sum.drill = `failover ${Math.round(rep.failover?.durationMs ?? NaN)} ms, hand-back ${Math.round(rep.handBack?.durationMs ?? NaN)} ms`;
  say(`drill passed: ${sum.drill}`);
  await waitFor('d1 MASTER again with the VIP after the hand-back', async () => inst(await status(d1))?.state === 'MASTER' && (await addrs('d1')).includes(VIP) && !(await addrs('d2')).includes(VIP), 5000);

  heading('7. The MASTER crashes');
  await must(['ip', '-n', nsName('client'), 'neigh', 'flush', 'dev', 'eth0']);
  await runCmd(inNs('client', ['ping', '-c', '1', '-W', '1', '-q', VIP]), 5000);
  const before = await clientNeigh();
  say(`client: ARP entry for ${VIP} → ${before ?? '(none)'} (${whoseMac(before)})`);
  if (before !== mac('d1')) throw new DemoFailure(`the client's ARP entry for the VIP should point at d1 (${mac('d1')}), not ${before ?? 'nothing'}`);
  if (ipvs.kernel && (await ipvsHasService('d1'))) say(`client → GET http://${VIP}/ via d1: ${await clientGet(`http://${VIP}/`)}`);

  const pid = d1.proc.child.pid!;
  const t0 = performance.now();
  process.kill(pid, 'SIGSTOP'); // freeze first: nothing more (no priority-0 advert) leaves d1
  process.kill(pid, 'SIGKILL');
  const tl = (ms: number, what: string): void => say(`t+${String(ms).padStart(5)} ms  ${what}`);
  tl(0, `d1's vipkeeper killed (SIGSTOP + SIGKILL to pid ${pid}): no priority-0 advert can leave d1`);
  const events: Record<string, number> = {};
  await waitFor(
    'd2 MASTER with the VIP and the client following it',
    async () => {
      const t = () => Math.round(performance.now() - t0);
      if (events.master === undefined && inst(await status(d2))?.state === 'MASTER') {
        events.master = t();
        tl(events.master, 'd2 MASTER (its status)');
      }
      if (events.vip === undefined && (await addrs('d2')).includes(VIP)) {
        events.vip = t();
        tl(events.vip, `VIP ${VIP} on d2's eth0`);
      }
      if (events.arp === undefined && (await clientNeigh()) === mac('d2')) {
        events.arp = t();
        tl(events.arp, `client's ARP entry for ${VIP} → ${mac('d2')} (d2), from d2's gratuitous ARP`);
      }
      return events.master !== undefined && events.vip !== undefined && events.arp !== undefined ? true : undefined;
    },
    10_000,
    10,
  );
  sum.crashMs = Math.max(events.master!, events.vip!);
  sum.arpMs = events.arp!;
  say(`takeover after the crash: ${sum.crashMs} ms (theory: d2 takes over 3 × 100 ms + skew 61 ms = 361 ms after d1's LAST advert, so 261..361 ms after the kill; plus up to a poll here)`);
  say(
    (await addrs('d1')).includes(VIP)
      ? `d1 still has ${VIP} configured (nobody removed it: its daemon is dead), as keepalived leaves it after a crash; the client follows d2's gratuitous ARP`
      : `d1 no longer has ${VIP} configured`,
  );
  if (ipvs.kernel && (await ipvsHasService('d2'))) say(`client → GET http://${VIP}/ via d2: ${await clientGet(`http://${VIP}/`)}`);
  await showStatus(d2);
  return sum;
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) throw new CannotRun('run the demo as root: it creates network namespaces and raw sockets (sudo npm run demo)');
  const probe = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new CannotRun(`'ip netns' does not work here (${probe.error?.message ?? probe.stderr.trim()}); install iproute2`);
  if (!existsSync(path.join(REPO, 'native', 'build', 'Release', 'vipkeeper_native.node'))) {
    throw new CannotRun('the native addon is not built: run npm ci (or node native/build.mjs) first');
  }
  workDir = mkdtempSync(path.join(tmpdir(), 'vipkeeper-demo-'));
  say(`vipkeeper demo: a director pair in network namespaces (work dir ${workDir})`);

  let failed = true;
  let limit: NodeJS.Timeout | undefined;
  try {
    const sum = await Promise.race([
      demo(),
      new Promise<never>((_, reject) => {
        limit = setTimeout(() => reject(new DemoFailure(`the demo did not finish within ${DEMO_LIMIT_MS / 1000} s`)), DEMO_LIMIT_MS);
      }),
    ]);
    failed = false;
    heading('Summary');
    say(`election ${sum.electionMs} ms; rs2 DOWN after ${sum.downMs?.d1} ms (d1) / ${sum.downMs?.d2} ms (d2); drill ${sum.drill}; crash takeover ${sum.crashMs} ms, client ARP moved after ${sum.arpMs} ms`);
    say(`IPVS: ${sum.ipvs}`);
    say(`real servers: set up by vipkeeper realserver; ARP problem: ${sum.arpProblem}`);
    return 0;
  } catch (e) {
    process.stdout.write('\n');
    const msg = (e as Error).message;
    say(`demo FAILED: ${msg}`);
    for (const d of Object.values(directors)) {
      if (!d) continue;
      process.stdout.write(`--- last lines of ${d.name}'s log (${d.log})\n`);
      block(d.proc.outputLines.slice(-20).join('\n'), '  ');
    }
    if (!(e instanceof DemoFailure || e instanceof WaitTimeout || e instanceof CommandFailed)) process.stdout.write(`${(e as Error).stack ?? ''}\n`);
    return 1;
  } finally {
    clearTimeout(limit);
    say('cleaning up: stopping the daemons and servers, deleting the namespaces');
    await cleanup();
    if (!failed && !KEEP) rmSync(workDir, { recursive: true, force: true });
    else say(`${failed ? 'logs' : 'configs, logs and the drill report'} kept in ${workDir}${KEEP ? ' (--keep)' : ''}`);
    if (!failed) say('demo OK');
  }
}

// On SIGINT/SIGTERM/SIGHUP the lab kills what we started, deletes the namespaces and exits 130.
onLabSignal((sig) => process.stdout.write(`\n${stamp()} ${sig}: cleaning up\n`));

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    cleanupAllSync();
    process.stderr.write(`vipkeeper demo: ${(e as Error).message}\n`);
    process.exit(e instanceof CannotRun ? 2 : 1);
  },
);

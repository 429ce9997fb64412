// Agent for the keepalived-vs-vipkeeper checker comparison inside the QEMU guest (bundled and booted
// by bench/checks/vm.ts through lab/ipvs-vm.ts; the guest kernel has IP_VS, which
// keepalived's checker needs). The task loop (one JSON line per task on the second serial port) is
// lab/guest-agent.ts's. Every process it starts is stopped by its PID.
//
// Tasks:
//   env       versions, node start time, the clock source and what a clock read costs
//   listener  a Node http server on 0.0.0.0:80 in the guest (lo up; every 127/8 address is local),
//             counting accepted connections (GET /__count answers the running total)
//   measure   one daemon on one config: start it, wait `settleMs`, then over `durationMs` read
//             utime+stime of the checker process from /proc/PID/stat (keepalived: its healthcheck
//             child, from the -c pid file; vipkeeper: the checker.mjs process), VmHWM at the end,
//             and the listener's connection count → achieved check rate
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { runAgent, say, shOk as sh, type AgentTask as Task } from '../../lab/guest-agent.js';
import { sleep, waitFor } from '../../lab/wait.js';

/** The lab's bounded wait (every 50 ms unless told). */
const until = (what: string, pred: () => boolean, timeoutMs: number, everyMs = 50): Promise<number> => waitFor(what, pred, timeoutMs, everyMs);
const now = () => performance.now();

/** utime and stime of a process, in seconds (/proc/PID/stat fields 14 and 15, in USER_HZ = 100). */
function cpuTimes(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / 100, sys: Number(f[12]) / 100 };
}

function cpuS(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.sys;
}

function statusKb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

let listener: ChildProcess | undefined;
let listenerKind = 'a Node http server';

function count(): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: 80, path: '/__count', agent: false }, (res) => {
      let b = '';
      res.setEncoding('utf8').on('data', (c: string) => (b += c));
      res.on('end', () => resolve(Number(b)));
    }).on('error', reject);
  });
}

async function env() {
  const t0 = now();
  spawnSync('node', ['-e', '0']);
  const nodeStartMs = now() - t0;
  // what a clock read costs here (both daemons read the clock around every check): the clock
  // source, and the time and user/system share of performance.now() in a loop (under TCG even
  // the tsc source costs microseconds a read, in user space)
  const clocksource = sh('cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || true').trim();
  const reads = 100_000;
  const c0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  let x = 0; // summed and used below, so that the loop is not optimised away
  for (let i = 0; i < reads; i++) x += performance.now();
  const clockReadNs = Number(process.hrtime.bigint() - w0) / reads;
  const c1 = process.cpuUsage(c0);
  return {
    listener: listenerKind,
    kernel: sh('uname -r').trim(),
    keepalived: sh('keepalived --version 2>&1 | head -1').trim(),
    node: process.version,
    nodeStartMs,
    cpus: sh('nproc').trim(),
    clocksource,
    clockReadNs: Math.round(clockReadNs),
    clockReadSysShare: x > 0 ? Number((c1.system / Math.max(1, c1.user + c1.system)).toFixed(2)) : 0,
  };
}

async function startListener() {
  sh('ip link set lo up');
  // TCP_CHECK connects and closes without a request: count connections, not requests
  const code =
    "let n=0;const s=require('http').createServer((q,r)=>{if(q.url==='/__count'){r.end(String(n));return}r.setHeader('content-type','text/plain');r.end('ok\\n')});" +
    "s.on('connection',()=>{n++});s.listen({port:80,host:'0.0.0.0',backlog:8192},()=>console.log('listening'));";
  // the C listener (bench/checks/listener.c) when the job has it; the share is not executable
  if (existsSync('/mnt/job/listener')) {
    sh('cp /mnt/job/listener /tmp/vk-listener && chmod 755 /tmp/vk-listener');
    listener = spawn('/tmp/vk-listener', ['80'], { stdio: ['ignore', 'pipe', 'pipe'] });
    listenerKind = 'a C epoll server (bench/checks/listener.c)';
  } else {
    listener = spawn('node', ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  }
  let ready = false;
  listener.stdout!.setEncoding('utf8').on('data', (c: string) => {
    if (c.includes('listening')) ready = true;
  });
  await until('the listener', () => ready, 60_000);
  return { pid: listener.pid };
}

async function measure(t: Task) {
  const daemon = t.daemon as 'keepalived' | 'vipkeeper';
  const conf = `/mnt/job/${t.conf as string}`;
  const settleMs = t.settleMs as number;
  const durationMs = t.durationMs as number;
  say(`${daemon} ${t.conf as string}: start`);
  let child: ChildProcess;
  let log = '';
  let checkerPid: () => number | undefined;
  if (daemon === 'keepalived') {
    sh('ipvsadm -C');
    for (const f of ['/run/kc.pid', '/run/kp.pid']) if (existsSync(f)) writeFileSync(f, '');
    child = spawn('keepalived', ['-n', '-l', '-C', '-f', conf, '-p', '/run/kp.pid', '-c', '/run/kc.pid'], { stdio: ['ignore', 'pipe', 'pipe'] });
    checkerPid = () => {
      try {
        return Number(readFileSync('/run/kc.pid', 'utf8').trim()) || undefined;
      } catch {
        return undefined;
      }
    };
  } else {
    child = spawn('node', ['--expose-gc', ...((t.nodeFlags as string[] | undefined) ?? []), '/mnt/job/checker.mjs', JSON.stringify({ modulesRoot: '/mnt/job/mods', conf, settleMs: 0, durationMs: 0, out: '/tmp/vk-result.json' })], { stdio: ['ignore', 'pipe', 'pipe'] });
    checkerPid = () => child.pid;
  }
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (log += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (log += c));
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const t0 = now();
  let vkInternal: unknown;
  const result: Record<string, unknown> = {};
  try {
    await until('the checker process', () => checkerPid() !== undefined && existsSync(`/proc/${checkerPid()}`), 120_000);
    const pid = checkerPid()!;
    // vipkeeper: from the moment its checks run (node's start and the config load are seconds of
    // emulated CPU, and not the steady state measured here); keepalived's start is instant
    if (daemon === 'vipkeeper') await until('the checker to be ready', () => log.includes('"ready":true') || child.exitCode !== null, 120_000);
    const readyAt = now();
    await sleep(settleMs);
    // a checker that died at start says why (its output), not just that /proc has no such pid
    if (!existsSync(`/proc/${pid}`)) throw new Error(`the ${daemon} checker exited before the window: ${log.slice(-1500)}`);
    const c0 = cpuTimes(pid);
    const l0 = listener?.pid ? cpuS(listener.pid) : NaN;
    const n0 = await count();
    const w0 = now();
    await sleep(durationMs);
    const c1 = cpuTimes(pid);
    const l1 = listener?.pid ? cpuS(listener.pid) : NaN;
    const n1 = await count();
    const windowS = (now() - w0) / 1000;
    const hwm = statusKb(pid, 'VmHWM');
    const rss = statusKb(pid, 'VmRSS');
    const dests = daemon === 'keepalived' ? sh('ipvsadm -Ln | grep -c -- "->" || true').trim() : 'n/a';
    const cpu = c1.user + c1.sys - c0.user - c0.sys;
    say(`${daemon}: cpu ${cpu.toFixed(2)} s in ${windowS.toFixed(1)} s, rate ${((n1 - n0) / windowS).toFixed(0)}/s, VmHWM ${(hwm / 1024).toFixed(1)} MB`);
    Object.assign(result, { daemon, conf: t.conf, startToMeasureMs: now() - t0 - durationMs, startToReadyMs: readyAt - t0, windowS, cpuS: cpu, cpuUserS: c1.user - c0.user, cpuSysS: c1.sys - c0.sys, listenerCpuS: l1 - l0, rate: (n1 - n0) / windowS, vmHwmMb: hwm / 1024, vmRssMb: rss / 1024, ipvsDestLines: dests, logTail: log.slice(-1500) });
  } finally {
    if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
    await Promise.race([exited, sleep(60_000)]);
    if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
    if (daemon === 'vipkeeper') {
      try {
        vkInternal = JSON.parse(readFileSync('/tmp/vk-result.json', 'utf8'));
      } catch {
        /* none */
      }
    }
    if (daemon === 'keepalived') {
      const c = checkerPid();
      if (c && existsSync(`/proc/${c}`)) process.kill(c, 'SIGKILL');
      sh('ipvsadm -C');
    }
    await sleep(1000);
  }
  if (vkInternal) result.internal = vkInternal;
  return result;
}

runAgent({ env, listener: startListener, measure }, {
  name: 'checks-guest',
  after: () => {
    if (listener?.pid) process.kill(listener.pid, 'SIGKILL');
  },
});

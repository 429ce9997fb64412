// Shared by bench/checks/run.ts and bench/jitter/run.ts: the loopback listener (nginx or Node),
// the checker process (bench/checks/checker.ts compiled to plain JS), per-process CPU from /proc.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { sh, sleep, type BenchLab, type Proc, type VkMode } from '../failover/lab.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface CheckerResult {
  jobs: number;
  windowS: number;
  cpuUserS: number;
  cpuSystemS: number;
  cpuS: number;
  cpuPerSecond: number;
  cpuWholeProcessS: number;
  peakRssMb: number;
  maxRssMb: number;
  rssAfterStartMb: number;
  peakRssWindowMb: number;
  rssAtEndMb: number;
  rssBeforeConfigMb: number;
  heapUsedMb: number;
  afterGc?: { heapUsedMb: number; rssMb: number };
  attempts: number;
  rate: number;
  failures: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  scheduler: { lateStarts: number; timeouts: number; stuck: number; maxQueueWaitMs: number };
  poolEvents: number;
  /** The heap governor at the end (absent when VIPKEEPER_HEAP_GOVERNOR=off). */
  heapGovernor?: { requests: number; fullCollections: number; floorMb: number; limitMb: number };
  configLoadMs: number;
  startMs: number;
}

/** utime+stime of a process (and its threads), seconds, from /proc/PID/stat. */
export function procCpuS(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // CLK_TCK is 100 on Linux
  } catch {
    return NaN;
  }
}

/** Start the listener inside `ns` on port 80 (nginx with one worker, or a Node http server). */
export async function startListener(lab: BenchLab, ns: string, kind: string, probeAddress = '127.1.0.1'): Promise<{ procs: () => number[]; stop: () => Promise<void>; describe: string }> {
  if (kind === 'nginx') {
    const dir = path.join(lab.dir, 'nginx');
    mkdirSync(path.join(dir, 'logs'), { recursive: true });
    const conf = path.join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      [
        'daemon off;',
        'master_process on;',
        'worker_processes 1;',
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/logs/error.log warn;`,
        'worker_rlimit_nofile 65536;',
        'events { worker_connections 16384; }',
        'http {',
        '  access_log off;',
        '  keepalive_timeout 0;',
        `  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;`,
        '  server {',
        '    listen 80 backlog=8192 reuseport;',
        '    location / { return 200 "ok\\n"; }',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    const p = lab.spawn(ns, ['nginx', '-c', conf, '-p', dir, '-e', `${dir}/logs/error.log`], 'nginx');
    await waitHttp(lab, ns, p, probeAddress);
    const v = (await sh('nginx', ['-v']).catch((e: Error) => ({ stdout: '', stderr: e.message }))).stderr.trim();
    return {
      procs: () => lab.pidsIn(ns).filter((x) => x === p.pid || readParent(x) === p.pid),
      stop: async () => {
        p.signal('SIGQUIT');
        if (!(await p.exitWithin(5000))) p.signal('SIGKILL');
      },
      describe: `${v.replace('nginx version: ', '')}, 1 worker, return 200`,
    };
  }
  const code = `require('http').createServer((q,s)=>{s.setHeader('content-type','text/plain');s.end('ok\\n')}).listen({port:80,host:'0.0.0.0',backlog:8192},()=>console.log('listening'))`;
  const p = lab.spawn(ns, [process.execPath, '-e', code], 'node-listener');
  await waitHttp(lab, ns, p, probeAddress);
  return {
    procs: () => [p.pid],
    stop: async () => {
      p.signal('SIGTERM');
      if (!(await p.exitWithin(5000))) p.signal('SIGKILL');
    },
    describe: `Node ${process.version} http server`,
  };
}

/**
 * bench/checks/checker.ts as plain JavaScript (esbuild transform; it has no static imports from
 * src/), so the measured process carries no tsx loader.
 */
export async function compileChecker(dir: string): Promise<string> {
  const esbuild = await import('esbuild');
  const { code } = await esbuild.transform(readFileSync(path.join(HERE, 'checker.ts'), 'utf8'), { loader: 'ts', format: 'esm', target: 'node20' });
  const out = path.join(dir, 'checker.mjs');
  writeFileSync(out, code);
  return out;
}

/**
 * The checker's command line: the launcher's node flags (tsx only when the modules are src/ .ts
 * files). Extra node flags for experiments come from the environment:
 * VKB_CHECKER_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" or "--max-semi-space-size=2".
 */
export function checkerArgv(mode: VkMode, checkerJs: string): string[] {
  return [process.execPath, '--expose-gc', ...checkerNodeFlags(), ...(mode === 'tsx' ? ['--import', 'tsx'] : []), checkerJs];
}

/** The launcher's node flags and VKB_CHECKER_NODE_FLAGS (host and QEMU guest alike). */
export function checkerNodeFlags(): string[] {
  return [...launcherNodeFlags(), ...(process.env.VKB_CHECKER_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean)];
}

function readParent(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

async function waitHttp(lab: BenchLab, ns: string, p: Proc, address: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (!p.running) throw new Error(`listener exited: ${p.log()}`);
    const r = await lab.exec(ns, ['curl', '-s', '-m', '1', `http://${address}/healthz`]).catch(() => ({ stdout: '' }));
    if (r.stdout.trim() === 'ok') return;
    await sleep(100);
  }
  throw new Error(`listener did not answer within 10 s: ${p.log()}`);
}


/**
 * The node flags `vipkeeper` runs with: those on bin/vipkeeper.js's `#!/usr/bin/env -S node …`
 * line, so the measured checker and the daemon cannot drift apart.
 */
export function launcherNodeFlags(): string[] {
  const first = readFileSync(fileURLToPath(new URL('../../bin/vipkeeper.js', import.meta.url)), 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env\s+-S\s+node\s+(.*)$/.exec(first);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

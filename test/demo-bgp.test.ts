/**
 * `npm run demo:bgp` end to end (scripts/demo-bgp.ts via tsx, as the npm script runs it): exit 0,
 * the key lines of each step, and nothing left behind (no namespace of that run, no process it
 * started, no bird on its work dir). Then the same demo interrupted with SIGINT mid-way: it must
 * still clean up. Needs root, network namespaces and bird2 (the demo exits 2 without them, which
 * fails this test loudly).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/netns.js';

interface DemoRun {
  code: number | null;
  out: string;
  pid: number;
}

function runDemo(timeoutMs: number, interruptOn?: RegExp): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'demo-bgp.ts')], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let interrupted = false;
    const onData = (c: Buffer): void => {
      out += c.toString('utf8');
      if (interruptOn && !interrupted && interruptOn.test(out)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => {
      child.kill('SIGINT'); // the demo cleans up on SIGINT
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      reject(new Error(`the demo did not finish within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, pid: child.pid! });
    });
  });
}

/** Namespaces of that run still present, and live processes whose command line names its work dir or a pid it printed. */
function leftovers(r: DemoRun): { namespaces: string[]; processes: string[] } {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  const namespaces = list.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`vkb-${r.pid}-`));
  const workDir = /work dir (\S+)/.exec(r.out)?.[1];
  const printed = new Set([...r.out.matchAll(/\bpid (\d+)/g)].map((m) => m[1]!));
  const processes: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) continue; // a zombie is gone
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if ((workDir && cmd.includes(workDir)) || printed.has(pid)) processes.push(`${pid} ${cmd}`);
    } catch {
      // exited meanwhile
    }
  }
  return { namespaces, processes };
}

async function settledLeftovers(r: DemoRun): Promise<ReturnType<typeof leftovers>> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const l = leftovers(r);
    if ((l.namespaces.length === 0 && l.processes.length === 0) || Date.now() > deadline) return l;
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe('npm run demo:bgp', () => {
  it('runs three directors and a router end to end, exits 0, and leaves nothing behind', async () => {
    const r = await runDemo(240_000);
    expect(r.code, r.out).toBe(0);
    const out = r.out;
    expect(out).toMatch(/the router has 10\.210\.9\.10\/32 with three next hops/);
    expect(out).toMatch(/nexthop via 10\.210\.0\.1 dev eth0[\s\S]*nexthop via 10\.210\.0\.2 dev eth0[\s\S]*nexthop via 10\.210\.0\.3 dev eth0/);
    expect(out).toMatch(/router\s+10\.210\.0\.254\s+65000\s+Established/);
    expect(out).toMatch(/10\.210\.9\.10\/32\s+announced\s+serving/);
    expect(out).toMatch(/d3 withdrew: the router's FIB dropped d3/);
    expect(out).toMatch(/d3 says: quorum lost \(10\.210\.9\.10 80 TCP: 0 of 1 real servers up, quorum 1\)/);
    expect(out).toMatch(/the route moved away from d2: the router keeps d2's route \(MED 4294967295, communities 65535:0\) but its FIB uses d1 and d3/);
    expect(out).toMatch(/drain_grace over: d2 withdrew/);
    expect(out).toMatch(/its bird died with it \(pdeathsig\), the session closed, and the router dropped d1/);
    expect(out).toMatch(/\d+ requests, 0 unanswered; answered by/);
    expect(out).toMatch(/none unanswered, over [23] directors/);
    expect(await settledLeftovers(r)).toEqual({ namespaces: [], processes: [] });
  }, 300_000);

  it('cleans up when interrupted (SIGINT) in the middle', async () => {
    const r = await runDemo(120_000, /== A health failure/);
    expect(r.out).toMatch(/vipkeeper on d1 running \(pid \d+\)/);
    expect(r.out).toMatch(/SIGINT: cleaning up/);
    expect(r.code).toBe(130);
    expect(await settledLeftovers(r)).toEqual({ namespaces: [], processes: [] });
  }, 150_000);
});

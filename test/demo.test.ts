/**
 * `npm run demo` end to end (scripts/demo.ts via tsx, as the npm script runs it): exit 0 (the demo
 * enforces its own time bound and exits 1 past it), the key lines of each step in its output, in
 * order, and nothing left behind (no vkdemo namespace, no process it started). Then the same demo
 * interrupted with SIGINT mid-way: it must still clean up. How long each step takes is the demo's
 * own timeline; no assertion here depends on it.
 *
 * Needs root and network namespaces (the demo itself checks and exits 2 without them, which
 * fails this test loudly).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pollFor } from '../lab/wait.js';
import { REPO_ROOT } from './helpers/netns.js';

interface DemoRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  pid: number;
}

/** Runs the demo; `interruptOn`: send SIGINT when this text appears. Bounded by `timeoutMs`. */
function runDemo(timeoutMs: number, interruptOn?: RegExp, args: string[] = []): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'demo.ts'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, pid: child.pid! });
    });
  });
}

/** vkdemo namespaces of that run still present, and processes it started (it prints "pid N") still alive. */
function leftovers(r: DemoRun): { namespaces: string[]; alive: number[] } {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  const namespaces = list.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`vkdemo-${r.pid}-`));
  const pids = [...new Set([...r.out.matchAll(/\bpid (\d+)/g)].map((m) => Number(m[1])))];
  const alive = pids.filter((pid) => {
    try {
      // A SIGKILLed child may linger a moment as a zombie: that counts as gone.
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  });
  return { namespaces, alive };
}

/** `leftovers`, given a few seconds for killed processes to disappear. */
async function settledLeftovers(r: DemoRun): Promise<ReturnType<typeof leftovers>> {
  await pollFor(() => {
    const l = leftovers(r);
    return l.namespaces.length === 0 && l.alive.length === 0;
  }, 5000, 100);
  return leftovers(r);
}

describe('npm run demo', () => {
  it('runs the director pair end to end, exits 0 within 2 minutes, and leaves nothing behind', async () => {
    const r = await runDemo(150_000, undefined, ['--keep']);
    expect(r.code, r.out).toBe(0);
    const out = r.out;
    // The namespaces by the names `ip netns` lists.
    for (const h of ['d1', 'd2', 'rs1', 'rs2', 'client']) expect(out).toMatch(new RegExp(`\\n +${h} +vkdemo-${r.pid}-${h} +10\\.64\\.0\\.\\d+`));
    expect(out).toContain(`namespace vkdemo-${r.pid}-lan`);
    // The election time explained: start-up first, VRRP's Master_Down_Interval last.
    expect(out).toMatch(/where the election time goes/);
    expect(out).toMatch(/t\+ +\d+ ms {2}process up: node started/);
    expect(out).toMatch(/INIT -> BACKUP \(every node starts BACKUP\)/);
    expect(out).toMatch(/Master_Down_Interval = 3 × 100 ms \+ Skew_Time 41\.4 ms = 341\.4 ms at priority 150 \(measured \d+ ms\)/);
    // --keep: the work directory stays, with the configs, logs and the drill report.
    const kept = /configs, logs and the drill report kept in (\S+) \(--keep\)/.exec(out)?.[1];
    expect(kept, out).toBeDefined();
    try {
      for (const f of ['d1.yaml', 'd2.yaml', 'd1.log', 'drill-report.json']) expect(existsSync(path.join(kept!, f)), f).toBe(true);
    } finally {
      rmSync(kept!, { recursive: true, force: true });
    }
    expect(out).not.toMatch(/the demo did not finish within/);
    /** Each pattern matches somewhere after the previous one's match. */
    const inOrder = (...res: RegExp[]): void => {
      let from = 0;
      for (const re of res) {
        const at = out.slice(from).search(re);
        expect(at, `${re} after ${out.slice(Math.max(0, from - 80), from)}`).toBeGreaterThanOrEqual(0);
        from += at + 1;
      }
    };

    // 1. The lab and the kernel's IPVS, said plainly.
    expect(out).toMatch(/IPVS: this kernel has (NO )?IP_VS/);
    expect(out).toMatch(/rs1: HTTP server up .* → 200 rs1/);
    expect(out).toMatch(/rs2: HTTP server up .* → 200 rs2/);
    // 1b. The real servers set up by vipkeeper realserver.
    expect(out).toMatch(/\$ vipkeeper realserver up --vip 10\.64\.0\.100/);
    expect(out).toMatch(/ip addr add 10\.64\.0\.100\/32 dev lo/);
    // 2. The election.
    expect(out).toMatch(/election: d1 MASTER with the VIP 10\.64\.0\.100 on its eth0, d2 BACKUP hearing d1 \(10\.64\.0\.11\)/);
    // 3. Health checks see both real servers on both directors.
    expect(out).toMatch(/d1: 10\.64\.0\.21:80 UP \(weight 1, HTTP_GET answered in \d+ ms\), 10\.64\.0\.22:80 UP/);
    expect(out).toMatch(/d2: 10\.64\.0\.21:80 UP \(weight 1, HTTP_GET answered in \d+ ms\), 10\.64\.0\.22:80 UP/);
    expect(out).toMatch(/\$ vipkeeper status --socket d1\.sock/);
    expect(out).toMatch(/VRRP Instance = VI_DEMO\n.*State += MASTER\n/);
    expect(out).toMatch(/Priority += 150 base, 150 effective/);
    // 4. IPVS: with no IP_VS, the table is printed and no traffic is claimed.
    if (/this kernel has NO IP_VS/.test(out)) {
      expect(out).toMatch(/NOTHING in this demo is load-balanced by IPVS/);
      expect(out).toMatch(/the IPVS table d1 would program \(from vipkeeper status → ipvs\)/);
      expect(out).toMatch(/-> 10\.64\.0\.21:80\s+Route\s+1/);
      expect(out).not.toMatch(/GET http:\/\/10\.64\.0\.100\/ .*answered by/);
      expect(out).toMatch(/IPVS: no IP_VS in this kernel: table shown, no traffic through IPVS/);
    } else {
      expect(out).toMatch(/client → GET http:\/\/10\.64\.0\.100\/ through d1's IPVS \(DR\), 4 times: answered by (rs1|rs2)/);
    }
    // 4b. The ARP problem: rs2 answering ARP for the VIP is named by check --live on d1.
    expect(out).toMatch(/live: ARP problem: 02:64:00:00:00:16 \(real server 10\.64\.0\.22\) answers ARP for VIP 10\.64\.0\.100/);
    expect(out).toMatch(/real servers: set up by vipkeeper realserver; ARP problem: rs2 \(02:64:00:00:00:16\) named by check --live/);
    // 5. rs2 stopped and caught DOWN by both directors, both statuses shown.
    expect(out).toMatch(/d1: rs2 10\.64\.0\.22:80 caught DOWN by the HTTP_GET check, \d+ ms after it stopped/);
    expect(out).toMatch(/d2: rs2 10\.64\.0\.22:80 caught DOWN by the HTTP_GET check, \d+ ms after it stopped/);
    expect(out).toMatch(/\$ vipkeeper status --socket d2\.sock/);
    expect(out).toMatch(/-> 10\.64\.0\.22:80 .*down/);
    // 6. The drill, with its timeline.
    expect(out).toMatch(/t\+0\s+ms\s+stepdown sent to this node \(VI_DEMO\)/);
    expect(out).toMatch(/peer advert as MASTER \(from 10\.64\.0\.12, priority 100/);
    expect(out).toMatch(/VIP 10\.64\.0\.100 ARP answered by peer MAC 02:64:00:00:00:0c/);
    expect(out).toMatch(/failover completed in \d+ ms .*: PASS/);
    expect(out).toMatch(/hand-back completed in \d+ ms .*: PASS/);
    expect(out).toMatch(/drill passed: failover \d+ ms, hand-back \d+ ms/);
    // 7. The crash: d2 takes over, the client's ARP entry moves from d1's MAC to d2's.
    expect(out).toMatch(/client: ARP entry for 10\.64\.0\.100 → 02:64:00:00:00:0b \(d1\)/);
    expect(out).toMatch(/d1's vipkeeper killed \(SIGSTOP \+ SIGKILL/);
    expect(out).toMatch(/t\+\s*\d+ ms\s+d2 MASTER \(its status\)/);
    expect(out).toMatch(/client's ARP entry for 10\.64\.0\.100 → 02:64:00:00:00:0c \(d2\)/);
    expect(out).toMatch(/takeover after the crash: \d+ ms/);
    // The crash came first, then d2's takeover, then the client following it; and d2 took over
    // because d1's adverts stopped (its down timer), not because d1 said goodbye (priority 0).
    inOrder(
      /d1's vipkeeper killed \(SIGSTOP \+ SIGKILL/,
      /d2 MASTER \(its status\)/,
      /takeover after the crash/,
      /Last transition += .*BACKUP -> MASTER: no advert received within Master_Down_Interval/,
      /demo OK/,
    );
    inOrder(/VIP 10\.64\.0\.100 on d2's eth0/, /takeover after the crash/);
    inOrder(/d1's vipkeeper killed/, /client's ARP entry for 10\.64\.0\.100 → 02:64:00:00:00:0c \(d2\)/);
    // The steps in their order.
    inOrder(/== 2\. Election/, /election: d1 MASTER/, /== 3\. Health checks/, /== 4b\. The ARP problem/, /live: ARP problem/, /== 5\. A real server fails/, /caught DOWN/, /== 6\. Failover drill/, /drill passed/, /== 7\. The MASTER crashes/);

    expect(await settledLeftovers(r)).toEqual({ namespaces: [], alive: [] });
  }, 180_000);

  it('cleans up when interrupted (SIGINT) in the middle', async () => {
    const r = await runDemo(60_000, /== 3\. Health checks/);
    expect(r.out).toMatch(/vipkeeper on d1 \(pid \d+\)/);
    expect(r.out).toMatch(/SIGINT: cleaning up/);
    expect(r.code).toBe(130);
    expect(await settledLeftovers(r)).toEqual({ namespaces: [], alive: [] });
  }, 90_000);
});

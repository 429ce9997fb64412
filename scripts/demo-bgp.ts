/**
 * `npm run demo:bgp` (tsx scripts/demo-bgp.ts): three active-active directors announcing one VIP
 * to a router by BGP, end to end in network namespaces. Run as root on a Debian machine set up
 * with scripts/setup.sh (bird2).
 *
 *   client 10.210.1.2 ── router (BIRD 2, AS 65000, ECMP) ── bridge ── d1 10.210.0.1, d2 .2, d3 .3
 *   each director: `vipkeeper run` with a bgp section (AS 65001, TCP MD5 to the router), the VIP
 *   10.210.9.10 on lo served by a local responder (this kernel has no IP_VS; with IPVS the VIP
 *   would be a virtual server with lb_algo mh), and a health listener its TCP_CHECK watches.
 *
 * The timeline: the three sessions and the router's ECMP route with three next hops; the client's
 * requests spread over the directors; d3's health listener stopped (d3 withdraws, two next hops)
 * and started again; `vipkeeper maintenance on` at d2 (the route moves away with the drain MED,
 * then d2 withdraws) and off; SIGKILL of d1's vipkeeper (its bird dies with it; the router drops
 * the route when the session closes) and d1 started again; the client's tally.
 *
 * Only 10.210.0.0/16 addresses, only inside namespaces it creates (vkb-<pid>-*, bench/failover/lab.ts).
 * Everything it starts it stops by PID; the namespaces are deleted in a finally block, on
 * SIGINT/SIGTERM and at exit. Every wait is bounded; the whole run must end within DEMO_LIMIT_MS.
 * Exit 0: every step worked. 1: a step failed (it says which). 2: cannot run here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBgpLab, directorIp, firstWithout, LAB, type BgpLab, type DirectorName } from '../bench/bgp/lab.js';
import { calibrate, pollUntil, realNow, sleep, vipkeeperCommand, type Proc } from '../bench/failover/lab.js';
import { getStatus, postCommand } from '../src/daemon/control/client.js';
import { formatStatus } from '../src/cli/status-format.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEMO_LIMIT_MS = 180_000;
const T0 = performance.now();
const stamp = (): string => `[${((performance.now() - T0) / 1000).toFixed(2).padStart(6)}s]`;
const say = (line: string): void => void process.stdout.write(`${stamp()} ${line}\n`);
const heading = (s: string): void => void process.stdout.write(`\n== ${s}\n`);
const block = (text: string): void => {
  for (const l of text.replace(/\n+$/, '').split('\n')) process.stdout.write(`           | ${l}\n`);
};

class DemoFailure extends Error {}
class CannotRun extends Error {}

async function must<T>(what: string, p: Promise<T | undefined | false> | T | undefined | false): Promise<T> {
  const v = await p;
  if (v === undefined || v === false) throw new DemoFailure(what);
  return v;
}

let L: BgpLab | undefined;
let client: Proc | undefined;

async function waitHops(ds: DirectorName[], what: string, timeoutMs = 30_000): Promise<void> {
  const lab = L as BgpLab;
  await must(`${what}: the router never had next hops ${ds.join(', ')}`, lab.waitHops(ds.map(directorIp), timeoutMs));
}

async function showRouter(): Promise<void> {
  const lab = L as BgpLab;
  const r = spawnSync('ip', ['-n', lab.router, 'route', 'show', `${LAB.vip}/32`], { encoding: 'utf8' });
  block(`router# ip route show ${LAB.vip}\n${r.stdout.trim() || '(no route)'}`);
  const rib = lab.ribRoutes();
  block(`router# birdc show route ${LAB.vip}/32 (BGP routes)\n${rib.map((x) => `  from ${x.from}: MED ${x.med ?? '-'}${x.communities.length ? `, communities ${x.communities.join(' ')}` : ''}${x.best ? '  (best)' : ''}`).join('\n') || '  (none)'}`);
}

/** The client's answers so far: how many, how many unanswered, who answered. */
function tally(): { total: number; failed: number; by: Record<string, number> } {
  const lines = (client?.log() ?? '').split('\n').filter((l) => l.startsWith('{"i"'));
  const by: Record<string, number> = {};
  let failed = 0;
  for (const l of lines) {
    const r = JSON.parse(l) as { ok: boolean; who?: string };
    if (!r.ok) failed++;
    else by[r.who ?? '?'] = (by[r.who ?? '?'] ?? 0) + 1;
  }
  return { total: lines.length, failed, by };
}

async function demo(): Promise<string> {
  const vk = await vipkeeperCommand('tsx');
  heading('Building the lab: a router, three directors, a client');
  L = await buildBgpLab('demo-bgp', vk);
  const lab = L;
  say(`namespaces ${lab.lab.namespaces.join(', ')}; work dir ${lab.lab.dir}`);
  for (const d of ['d1', 'd2', 'd3'] as const) say(`${d}: responder and health listener up (health pid ${lab.health[d]?.pid})`);

  heading('Three directors announce the VIP');
  await Promise.all((['d1', 'd2', 'd3'] as const).map(async (d) => say(`vipkeeper on ${d} running (pid ${(await lab.startDirector(d)).pid})`)));
  await waitHops(['d1', 'd2', 'd3'], 'start');
  say(`the router has ${LAB.vip}/32 with three next hops (ECMP over the three directors)`);
  await showRouter();
  await must("d1's status never showed its session Established", pollUntil(async () => (await getStatus(lab.socket('d1'))).body.bgp?.peers[0]?.established === true, 10_000, 100).then((x) => x !== undefined));
  block(formatStatus((await getStatus(lab.socket('d1'))).body).split('\n').filter((l, i, all) => i >= all.findIndex((x) => x.startsWith('BGP')) && i < all.findIndex((x) => x.startsWith('IP Virtual'))).join('\n'));

  client = lab.lab.spawn(lab.client, [process.execPath, path.join(REPO, 'test', 'fixtures', 'bgp-client.mjs'), JSON.stringify({ vip: LAB.vip, port: LAB.vipPort, everyMs: 20, seconds: 150 })], 'client');
  await must('the client never got an answer', pollUntil(() => tally().total - tally().failed >= 20, 10_000, 50).then((x) => x !== undefined));
  say(`client (pid ${client.pid}): GET http://${LAB.vip}/ every 20 ms; answered by ${JSON.stringify(tally().by)}`);

  heading("A health failure: d3's health listener stops");
  calibrate();
  let t0 = realNow();
  lab.health.d3?.signal('SIGKILL');
  say(`d3's health listener killed (pid ${lab.health.d3?.pid}); its vipkeeper's TCP_CHECK fails at the next check`);
  await waitHops(['d1', 'd2'], 'd3 health failure');
  const h = firstWithout(lab.fibEvents, t0, directorIp('d3'));
  say(`d3 withdrew: the router's FIB dropped d3 ${h ? `${(h.t - t0).toFixed(0)} ms` : ''} after the kill`);
  say(`d3 says: ${(await getStatus(lab.socket('d3'))).body.bgp?.vips[0]?.reason}`);
  await lab.startHealth('d3');
  await waitHops(['d1', 'd2', 'd3'], 'd3 recovered');
  say('health listener back: d3 announces again, three next hops');

  heading('Maintenance at d2: drain first, then withdraw');
  const r = await postCommand(lab.socket('d2'), '/maintenance', { on: true });
  say(`vipkeeper maintenance on (d2): ${r.body.message}`);
  await waitHops(['d1', 'd3'], 'd2 draining');
  const drained = lab.ribRoutes().find((x) => x.from === 'd2');
  say(`the route moved away from d2: the router keeps d2's route (MED ${drained?.med}, communities ${drained?.communities.join(' ')}) but its FIB uses d1 and d3`);
  await showRouter();
  await must('d2 was never withdrawn', pollUntil(() => !lab.ribRoutes().some((x) => x.from === 'd2'), 15_000, 20).then((x) => x !== undefined));
  say(`drain_grace over: d2 withdrew (${(await getStatus(lab.socket('d2'))).body.bgp?.vips[0]?.reason})`);
  await postCommand(lab.socket('d2'), '/maintenance', { on: false });
  await waitHops(['d1', 'd2', 'd3'], 'd2 back');
  say('maintenance off: d2 announces again, three next hops');

  heading("d1's vipkeeper is killed (SIGKILL)");
  const pid = lab.vipkeeper.d1?.pid;
  calibrate();
  t0 = realNow();
  lab.vipkeeper.d1?.signal('SIGKILL');
  await waitHops(['d2', 'd3'], 'd1 killed');
  const k = firstWithout(lab.fibEvents, t0, directorIp('d1'));
  say(`SIGKILL to pid ${pid}: its bird died with it (pdeathsig), the session closed, and the router dropped d1 ${k ? `${(k.t - t0).toFixed(0)} ms` : ''} later (its hold timer would have taken up to 9 s)`);
  block((lab.birdc('show protocols d1').split('\n').find((l) => l.startsWith('d1')) ?? '').trim());
  await lab.vipkeeper.d1?.exited;
  say(`vipkeeper on d1 started again (pid ${(await lab.startDirector('d1')).pid})`);
  await waitHops(['d1', 'd2', 'd3'], 'd1 back');
  say('three next hops again');

  heading('The client');
  await sleep(500);
  const t = tally();
  say(`${t.total} requests, ${t.failed} unanswered; answered by ${Object.entries(t.by).map(([d, n]) => `${d} ${n}`).join(', ')}`);
  if (t.failed > 0) throw new DemoFailure(`${t.failed} requests went unanswered`);
  if (Object.keys(t.by).length < 2) throw new DemoFailure('every answer came from one director: ECMP did not spread the flows');
  vk.cleanup();
  return `${t.total} requests, none unanswered, over ${Object.keys(t.by).length} directors`;
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) throw new CannotRun('run the demo as root: it creates network namespaces (sudo npm run demo:bgp)');
  for (const tool of ['ip', 'bird', 'birdc', 'setpriv']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new CannotRun(`${tool} is not installed: run bash scripts/setup.sh (bird2, iproute2, util-linux)`);
  }
  if (!existsSync(path.join(REPO, 'native', 'build', 'Release', 'vipkeeper_native.node'))) throw new CannotRun('the native addon is not built: run npm ci first');
  say('vipkeeper BGP demo: three active-active directors and an ECMP router in network namespaces');
  let limit: NodeJS.Timeout | undefined;
  try {
    const summary = await Promise.race([
      demo(),
      new Promise<never>((_, reject) => {
        limit = setTimeout(() => reject(new DemoFailure(`the demo did not finish within ${DEMO_LIMIT_MS / 1000} s`)), DEMO_LIMIT_MS);
      }),
    ]);
    heading('Summary');
    say(summary);
    return 0;
  } catch (e) {
    say(`demo FAILED: ${(e as Error).message}`);
    for (const [d, p] of Object.entries(L?.vipkeeper ?? {})) {
      process.stdout.write(`--- last lines of ${d}'s vipkeeper log\n`);
      block(p.log().split('\n').slice(-15).join('\n'));
    }
    if (!(e instanceof DemoFailure)) process.stdout.write(`${(e as Error).stack ?? ''}\n`);
    return 1;
  } finally {
    clearTimeout(limit);
    say('cleaning up: stopping every process by PID, deleting the namespaces');
    L?.lab.cleanupSync();
    say('done');
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    L?.lab.cleanupSync();
    process.stderr.write(`vipkeeper demo:bgp: ${(e as Error).message}\n`);
    process.exit(e instanceof CannotRun ? 2 : 1);
  },
);

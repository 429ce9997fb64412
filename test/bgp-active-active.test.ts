/**
 * Active-active directors announced by BGP, end to end in network namespaces
 * (the lab is drawn in test/fixtures/bgp-lab.ts):
 *
 * - a router running BIRD 2 with ECMP (merge paths) peers with three directors running
 *   `vipkeeper run` with a bgp section (TCP MD5 on every session); its kernel FIB has one route
 *   to the VIP with three next hops;
 * - a director whose real servers all fail (its health listener stops) withdraws: two next hops;
 * - `vipkeeper maintenance on` drains: the route moves away (drain MED, the router's FIB drops
 *   the director) while the router still holds it, and only then is it withdrawn;
 * - SIGKILL of vipkeeper takes its bird with it: the router's session is closed by the peer (not
 *   ended by the hold timer) and the route goes;
 * - a client behind the router reaches the VIP throughout. This kernel has no IP_VS, so each
 *   director serves the VIP with a local responder (`served_by: local`).
 *
 * The tests assert states and their order; the withdraw times are measured by bench/bgp/run.ts.
 */
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { call, getStatus, postCommand } from '../src/daemon/control/client.js';
import type { DaemonStatus } from '../src/daemon/control/status.js';
import { DIRECTORS, LAB, directorIp, directorYaml, parseNextHops, parseRouterRoutes, routerBirdConfig, routerPeers, type DirectorName, type RouterRoute } from './fixtures/bgp-lab.js';
import { NetnsLab, requireNetnsRoot, run, setupOrFail, type NsProcess } from './helpers/netns.js';
import { startVipkeeper, waitFor, type VipkeeperProc } from './helpers/vipkeeper-proc.js';

const lab = new NetnsLab();
const dir = mkdtempSync(path.join(tmpdir(), 'vk-bgp-aa-'));
let router = '';
let client = '';
let routerSocket = '';
const ns = {} as Record<DirectorName, string>;
const vk = {} as Record<DirectorName, VipkeeperProc>;
const health = {} as Record<DirectorName, NsProcess>;
let clientProc: NsProcess | undefined;

setupOrFail(async () => {
  requireNetnsRoot('the active-active BGP tests');
  const bridge = await lab.addNamespace();
  await lab.addBridge(bridge, 'br0');
  router = await lab.addNamespace();
  client = await lab.addNamespace();
  await lab.connectToBridge(bridge, 'br0', router, 'eth0');
  await lab.addAddress(router, 'eth0', `${LAB.routerLan}/24`);
  await lab.addVeth(router, 'eth1', client, 'eth0');
  await lab.addAddress(router, 'eth1', `${LAB.routerClientSide}/24`);
  await lab.addAddress(client, 'eth0', `${LAB.client}/24`);
  await lab.exec(client, ['ip', 'route', 'add', 'default', 'via', LAB.routerClientSide]);
  // forward, and hash flows on ports too so one client's connections spread over the directors
  await lab.exec(router, ['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.fib_multipath_hash_policy=1']);

  const rconf = path.join(dir, 'router.conf');
  routerSocket = path.join(dir, 'router.ctl');
  writeFileSync(rconf, routerBirdConfig({ routerId: LAB.routerLan, localAs: LAB.routerAs, peers: routerPeers() }));
  const r = lab.spawn(router, ['bird', '-f', '-c', rconf, '-s', routerSocket], 'router bird');
  await waitFor(() => `the router's bird\n${r.describe()}`, () => {
    try {
      return birdc('show status').includes('Daemon is up');
    } catch {
      return false; // not listening yet
    }
  }, 10_000, 50);

  for (const d of DIRECTORS) {
    ns[d] = await lab.addNamespace();
    await lab.connectToBridge(bridge, 'br0', ns[d], 'eth0');
    await lab.addAddress(ns[d], 'eth0', `${directorIp(d)}/24`);
    await lab.addAddress(ns[d], 'lo', `${LAB.vip}/32`);
    await lab.exec(ns[d], ['ip', 'route', 'add', LAB.clientNet, 'via', LAB.routerLan]);
    const web = lab.spawnNode(ns[d], 'test/fixtures/bgp-responder.mjs', { host: LAB.vip, port: LAB.vipPort, name: d });
    await web.waitForLine(/listening/);
    await startHealth(d);
    const conf = path.join(dir, `${d}.yaml`);
    writeFileSync(conf, directorYaml({ name: d, runtimeDir: path.join(dir, `${d}-bird`), socket: path.join(dir, `${d}.sock`) }));
  }
  // all three at once: each start takes a few seconds under tsx
  await Promise.all(DIRECTORS.map(async (d) => (vk[d] = await startVipkeeper(lab, ns[d], path.join(dir, `${d}.yaml`)))));
});

afterAll(async () => {
  await lab.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function birdc(cmd: string): string {
  const r = spawnSync('birdc', ['-s', routerSocket, ...cmd.split(' ')], { encoding: 'utf8' });
  if (r.status !== 0 && !r.stdout.includes('Network not found')) throw new Error(`birdc ${cmd}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function startHealth(d: DirectorName): Promise<void> {
  health[d] = lab.spawnNode(ns[d], 'test/fixtures/bgp-responder.mjs', { host: directorIp(d), port: LAB.healthPort, name: d, tcp: true });
  await health[d].waitForLine(/listening/);
}

/** The router's kernel FIB: the next hops of the VIP's route. */
async function fibHops(): Promise<string[]> {
  return parseNextHops((await run('ip', ['-n', router, '-j', 'route', 'show', `${LAB.vip}/32`])).stdout);
}
/** The router's BGP routes for the VIP (its RIB), one per director that announces it. */
function ribRoutes(): RouterRoute[] {
  return parseRouterRoutes(birdc(`show route all ${LAB.vip}/32`));
}
const hopsOf = (...ds: DirectorName[]) => ds.map((d) => directorIp(d)).sort();
const status = async (d: DirectorName): Promise<DaemonStatus> => (await getStatus(vk[d].socket)).body;

async function waitHops(want: string[], what: string, timeoutMs = 20_000): Promise<void> {
  let last: string[] = [];
  await waitFor(() => `${what}: the router's FIB to have next hops ${want.join(', ')} (has ${last.join(', ') || 'none'})`, async () => {
    last = await fibHops();
    return last.join() === want.join();
  }, timeoutMs, 20);
}

describe('active-active directors announced by BGP', () => {
  it('every director announces the VIP: the router has one route with three next hops', async () => {
    await waitHops(hopsOf('d1', 'd2', 'd3'), 'start');
    expect(ribRoutes().map((r) => r.from).sort()).toEqual(['d1', 'd2', 'd3']);
    for (const d of DIRECTORS) {
      const b = (await status(d)).bgp!;
      expect(b.engine).toMatchObject({ name: 'bird', state: 'running', restarts: 0 });
      expect(b.vips).toEqual([expect.objectContaining({ prefix: `${LAB.vip}/32`, state: 'announced', code: 'serving', inEngine: true })]);
      await waitFor('the session to show as Established in status', async () => (await status(d)).bgp!.peers[0]?.established === true, 10_000, 100);
      expect((await status(d)).bgp!.peers).toEqual([expect.objectContaining({ name: 'router', address: LAB.routerLan, as: LAB.routerAs, state: 'Established' })]);
    }
    clientProc = lab.spawnNode(client, 'test/fixtures/bgp-client.mjs', { vip: LAB.vip, port: LAB.vipPort, everyMs: 20, seconds: 240 });
    await waitFor('the client to get answers', () => clientProc!.stdoutLines.filter((l) => l.includes('"ok":true')).length >= 5, 10_000, 50);
  });

  it('status and metrics say what is announced and why, and never show the password', async () => {
    const s = await status('d2');
    const metrics = (await call<string>(vk.d2.socket, 'GET', '/metrics')).body;
    expect(metrics).toContain(`vipkeeper_bgp_vip_announced{vip="${LAB.vip}/32"} 1`);
    expect(metrics).toContain(`vipkeeper_bgp_peer_up{peer="router",address="${LAB.routerLan}",as="${LAB.routerAs}"} 1`);
    expect(metrics).toContain('vipkeeper_bgp_engine_up{engine="bird"} 1');
    const logs = vk.d2.proc.stdoutLines.join('\n');
    for (const text of [JSON.stringify(s), metrics, logs]) expect(text).not.toContain(LAB.password);
    expect(readFileSync(path.join(dir, 'd2-bird', 'bird.conf'), 'utf8')).toContain(LAB.password);
  });

  it('a director whose real servers all fail withdraws (two next hops), and announces again when they recover', async () => {
    await health.d2.kill();
    await waitHops(hopsOf('d1', 'd3'), 'd2 health failure');
    expect(ribRoutes().map((r) => r.from).sort()).toEqual(['d1', 'd3']);
    expect((await status('d2')).bgp!.vips[0]).toMatchObject({ state: 'withdrawn', code: 'quorum-lost', reason: expect.stringContaining('0 of 1 real servers up') });
    await startHealth('d2');
    await waitHops(hopsOf('d1', 'd2', 'd3'), 'd2 recovered');
    expect((await status('d2')).bgp!.vips[0]).toMatchObject({ state: 'announced', code: 'serving' });
  });

  it('maintenance drains first: the route moves away (drain MED) while the router still has it, then it is withdrawn', async () => {
    const seen: string[] = [];
    const observe = async () => {
      const hops = await fibHops();
      const d3 = ribRoutes().find((r) => r.from === 'd3');
      const state = !d3 ? 'withdrawn' : d3.med === 4294967295 && !hops.includes(directorIp('d3')) ? 'moved' : hops.includes(directorIp('d3')) ? 'serving' : 'other';
      if (seen.at(-1) !== state) seen.push(state);
      return state;
    };
    expect(await observe()).toBe('serving');
    const before = (await status('d3')).bgp!.transitions[`${LAB.vip}/32`]!;
    expect((await postCommand(vk.d3.socket, '/maintenance', { on: true })).body.ok).toBe(true);
    await waitFor(() => `d3 to be drained then withdrawn (seen: ${seen.join(' → ')})`, async () => (await observe()) === 'withdrawn', 20_000, 10);
    expect(seen).toEqual(['serving', 'moved', 'withdrawn']);
    expect((await status('d3')).bgp!.vips[0]).toMatchObject({ state: 'withdrawn', code: 'maintenance' });
    expect((await status('d3')).bgp!.transitions[`${LAB.vip}/32`]).toEqual({ ...before, draining: (before.draining ?? 0) + 1, withdrawn: (before.withdrawn ?? 0) + 1 });
    expect((await postCommand(vk.d3.socket, '/maintenance', { on: false })).body.ok).toBe(true);
    await waitHops(hopsOf('d1', 'd2', 'd3'), 'd3 back from maintenance');
  });

  it('a VIP set to drain: true by a reload drains and is withdrawn; the reload back announces it again', async () => {
    const conf = path.join(dir, 'd2.yaml');
    const plain = readFileSync(conf, 'utf8');
    writeFileSync(conf, plain.replace('served_by: local }', 'served_by: local, drain: true, drain_grace: 1s }'));
    expect((await postCommand(vk.d2.socket, '/reload', {})).body.ok).toBe(true);
    await waitFor('d2 to be withdrawn after its drain', () => !ribRoutes().some((r) => r.from === 'd2'), 10_000, 20);
    expect((await status('d2')).bgp!.vips[0]).toMatchObject({ state: 'withdrawn', code: 'drained' });
    writeFileSync(conf, plain);
    expect((await postCommand(vk.d2.socket, '/reload', {})).body.ok).toBe(true);
    await waitHops(hopsOf('d1', 'd2', 'd3'), 'd2 undrained by reload');
  });

  it('an engine that dies is reported (status, metric, log) and started again; the route comes back', async () => {
    const birdPid = (await status('d2')).bgp!.engine.pid!;
    process.kill(birdPid, 'SIGKILL');
    await waitFor('d2 to report its engine down or restarted', async () => (await status('d2')).bgp!.engine.restarts >= 1 || (await status('d2')).bgp!.engine.state === 'down', 10_000, 20);
    await waitFor('d2 to log the engine death', () => vk.d2.logs().some((l) => /bgp: bird ended \(signal SIGKILL\)/.test(String(l.msg))), 5_000, 20);
    await waitFor('d2 engine running again', async () => (await status('d2')).bgp!.engine.state === 'running', 20_000, 50);
    const b = (await status('d2')).bgp!;
    expect(b.engine.restarts).toBe(1);
    expect(b.engine.pid).not.toBe(birdPid);
    expect(b.engine.lastError).toContain('signal SIGKILL');
    const metrics = (await call<string>(vk.d2.socket, 'GET', '/metrics')).body;
    expect(metrics).toContain('vipkeeper_bgp_engine_restarts_total{engine="bird"} 1');
    await waitHops(hopsOf('d1', 'd2', 'd3'), 'd2 engine restarted');
  });

  it("SIGKILL of vipkeeper takes its bird along: the router's session is closed by the peer, not timed out, and the route goes", async () => {
    const birdPid = (await status('d1')).bgp!.engine.pid!;
    expect(readFileSync(`/proc/${birdPid}/cmdline`, 'utf8')).toContain(path.join(dir, 'd1-bird'));
    await vk.d1.crash();
    await waitHops(hopsOf('d2', 'd3'), 'd1 killed');
    await waitFor('the bird of d1 to be gone', () => !isAlive(birdPid), 5_000, 20);
    const proto = birdc('show protocols all d1');
    expect(proto).not.toContain('Established');
    expect(proto).not.toMatch(/Hold timer expired/i);
    expect(proto).toMatch(/Connection closed|Received: Cease|Connection reset/i);
  });

  it('the client reached the VIP throughout, on more than one director', async () => {
    const c = clientProc!;
    await waitFor('more answers after the last step', () => c.stdoutLines.length > 10, 5_000, 50);
    process.kill(c.child.pid!, 'SIGTERM');
    await c.waitForLine(/"done":true/, 10_000);
    const results = c.jsonLines<{ ok?: boolean; who?: string; err?: string; done?: boolean }>().filter((r) => r.done === undefined);
    expect(results.length).toBeGreaterThan(50);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(new Set(results.map((r) => r.who)).size).toBeGreaterThanOrEqual(2);
  });
});

function isAlive(pid: number): boolean {
  try {
    // a killed child may linger a moment as a zombie: that counts as gone
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

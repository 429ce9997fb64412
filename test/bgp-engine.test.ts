/**
 * The BIRD engine adapter (src/bgp/bird/engine.ts) against a real router: two namespaces on a
 * veth, a router BIRD in one, the engine's bird in the other (through a wrapper that runs it with
 * `ip netns exec`; the control socket is a file, reachable from here). TCP MD5 on the session.
 *
 * Checks: the session comes up (read from the engine's `show protocols`); the router gets the
 * route with the MED and communities the engine was given; drain attributes and a withdraw
 * reach it; BFD runs beside the session; the files are 0600 in a 0700 directory and the password is only in bird.conf; a
 * bird left by an earlier engine is stopped by the next; stop() closes the session; a missing
 * binary is reported in words.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BirdEngine } from '../src/bgp/bird/engine.js';
import type { Announcement } from '../src/bgp/policy.js';
import { BgpSchema, type Bgp } from '../src/config/schema.js';
import { parseRouterRoutes, routerBirdConfig } from './fixtures/bgp-lab.js';
import { NetnsLab, requireNetnsRoot, run, setupOrFail } from './helpers/netns.js';
import { waitFor } from './helpers/vipkeeper-proc.js';

const lab = new NetnsLab();
const dir = mkdtempSync(path.join(tmpdir(), 'vk-bgp-engine-'));
const VIP = '10.211.9.10';
const PASSWORD = 'engine-md5';
let router = '';
let director = '';
let routerSocket = '';
let bgp: Bgp;
const logs: string[] = [];
const log = {
  debug: (_f: Record<string, unknown>, m: string) => logs.push(`debug ${m}`),
  info: (_f: Record<string, unknown>, m: string) => logs.push(`info ${m}`),
  warn: (_f: Record<string, unknown>, m: string) => logs.push(`warn ${m}`),
  error: (_f: Record<string, unknown>, m: string) => logs.push(`error ${m}`),
};
const engines: BirdEngine[] = [];

setupOrFail(async () => {
  requireNetnsRoot('the BGP engine tests');
  router = await lab.addNamespace();
  director = await lab.addNamespace();
  await lab.addVeth(router, 'eth0', director, 'eth0');
  await lab.addAddress(router, 'eth0', '10.211.0.254/24');
  await lab.addAddress(director, 'eth0', '10.211.0.1/24');
  const rconf = path.join(dir, 'router.conf');
  routerSocket = path.join(dir, 'router.ctl');
  writeFileSync(rconf, routerBirdConfig({ routerId: '10.211.0.254', localAs: 65000, peers: [{ name: 'd1', address: '10.211.0.1', as: 65001, password: PASSWORD, bfd: true }] }));
  const r = lab.spawn(router, ['bird', '-f', '-c', rconf, '-s', routerSocket], 'router bird');
  await waitFor(() => `the router's bird to answer\n${r.describe()}`, async () => (await birdc('show status').catch(() => '')).includes('Daemon is up'), 10_000, 50);

  // the engine's bird runs in the director's namespace: same PID through setpriv → sh → ip → bird
  const wrapper = path.join(dir, 'bird-in-director');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${director} bird "$@"\n`);
  chmodSync(wrapper, 0o755);
  bgp = BgpSchema.parse({
    local_as: 65001,
    router_id: '10.211.0.1',
    peers: [{ name: 'r1', address: '10.211.0.254', as: 65000, password: PASSWORD, bfd: true }],
    vips: [VIP],
    bird: { binary: wrapper, runtime_dir: path.join(dir, 'engine') },
  });
});

afterAll(async () => {
  for (const e of engines) await e.stop();
  await lab.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function birdc(cmd: string): Promise<string> {
  return (await run('birdc', ['-s', routerSocket, ...cmd.split(' ')])).stdout;
}
/** The router's routes for the VIP; birdc exits 1 with "Network not found" when it has none. */
async function routerRoutes() {
  const r = spawnSync('birdc', ['-s', routerSocket, 'show', 'route', 'all', `${VIP}/32`], { encoding: 'utf8' });
  if (r.status !== 0 && !r.stdout.includes('Network not found')) throw new Error(`birdc failed: ${r.stdout}${r.stderr}`);
  return parseRouterRoutes(r.stdout);
}
const normal: Announcement = { prefix: `${VIP}/32`, family: 4, med: 10, communities: ['65001:100'], draining: false };
const draining: Announcement = { prefix: `${VIP}/32`, family: 4, med: 4294967295, communities: ['65535:0'], draining: true };

function engine(): BirdEngine {
  const e = new BirdEngine({ log });
  engines.push(e);
  return e;
}

describe('BirdEngine with a real router', () => {
  it('starts bird announcing what it is given; the session (TCP MD5) comes up and the router has the route', async () => {
    const e = engine();
    await e.start(bgp, [normal]);
    expect(e.pid).toBeGreaterThan(1);
    await waitFor('the session to be Established', async () => (await e.peers(bgp))[0]?.established === true, 20_000, 100);
    const [peer] = await e.peers(bgp);
    expect(peer).toMatchObject({ name: 'r1', address: '10.211.0.254', as: 65000, state: 'Established', established: true, since: expect.stringMatching(/^\d{4}-/) });
    await waitFor('the router to have the route', async () => (await routerRoutes()).length === 1, 10_000, 50);
    expect(await routerRoutes()).toEqual([{ from: 'd1', med: 10, communities: ['65001:100'], best: true }]);
  });

  it('bfd: true runs a BFD session beside the BGP session (the router sees it Up)', async () => {
    await waitFor('the BFD session to be Up at the router', async () => /10\.211\.0\.1\s+eth0\s+Up/.test(await birdc('show bfd sessions')), 10_000, 100);
  });

  it('keeps its files private: 0700 directory, 0600 files, the password only in bird.conf', () => {
    const d = path.join(dir, 'engine');
    expect(statSync(d).mode & 0o777).toBe(0o700);
    for (const f of ['bird.conf', 'vips.conf']) expect(statSync(path.join(d, f)).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(d, 'bird.conf'), 'utf8')).toContain(`password "${PASSWORD}"`);
    expect(readFileSync(path.join(d, 'vips.conf'), 'utf8')).not.toContain(PASSWORD);
    expect(logs.join('\n')).not.toContain(PASSWORD);
  });

  it('apply: the drain attributes reach the router, then the withdraw', async () => {
    const e = engines[0]!;
    await e.apply(bgp, [draining]);
    await waitFor('the drain MED at the router', async () => (await routerRoutes())[0]?.med === 4294967295, 10_000, 20);
    expect((await routerRoutes())[0]?.communities).toEqual(['65535:0']);
    await e.apply(bgp, []);
    await waitFor('the withdraw at the router', async () => (await routerRoutes()).length === 0, 10_000, 20);
    await e.apply(bgp, [normal]);
    await waitFor('the route back at the router', async () => (await routerRoutes()).length === 1, 10_000, 20);
  });

  it('a new engine on the same runtime_dir stops the bird an earlier one left', async () => {
    const old = engines[0]!;
    const oldPid = old.pid!;
    const oldExit = new Promise<void>((r) => old.onExit(() => r()));
    const e = engine();
    await e.start(bgp, [normal]);
    await oldExit;
    expect(e.pid).not.toBe(oldPid);
    expect(logs.join('\n')).toContain('a bird left by an earlier vipkeeper still runs; stopping it');
    await waitFor('the new session to be Established', async () => (await e.peers(bgp))[0]?.established === true, 20_000, 100);
  });

  it('stop() closes the session: the router drops the route', async () => {
    const e = engines[1]!;
    await waitFor('the route at the router', async () => (await routerRoutes()).length === 1, 10_000, 50);
    await e.stop();
    expect(e.pid).toBeUndefined();
    await waitFor('the router to drop the route', async () => (await routerRoutes()).length === 0, 5_000, 20);
    const proto = await birdc('show protocols all d1');
    expect(proto).not.toContain('Established');
    expect(proto).toMatch(/Received: Administrative shutdown/); // bird's Cease on SIGTERM
  });

  it('a bird without CAP_NET_BIND_SERVICE cannot listen on port 179: the session says so', async () => {
    const wrapper = path.join(dir, 'bird-without-bind');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${director} setpriv --bounding-set -net_bind_service --inh-caps -net_bind_service bird "$@"\n`);
    chmodSync(wrapper, 0o755);
    const capless = { ...bgp, bird: { binary: wrapper, runtime_dir: path.join(dir, 'engine-capless') } };
    const e = engine();
    await e.start(capless, [normal]);
    await waitFor('the session to report the missing listening socket', async () => (await e.peers(capless))[0]?.info?.includes('No listening socket') === true, 10_000, 100);
    expect((await e.peers(capless))[0]).toMatchObject({ state: 'down', established: false, info: 'Error: No listening socket' });
    await e.stop();
  });

  it('says in words when the binary is missing', async () => {
    const e = engine();
    const missing = { ...bgp, bird: { ...bgp.bird, binary: path.join(dir, 'no-such-bird') } };
    await expect(e.start(missing, [])).rejects.toThrow(/cannot run '.*no-such-bird' \(bird\.binary\): is BIRD 2 installed\?/);
    expect(e.pid).toBeUndefined();
  });
});

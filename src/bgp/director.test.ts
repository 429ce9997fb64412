// The director's loop without a network: its engine (the real BirdEngine) cannot start, because
// bird.binary names nothing, so what is left to see is the policy applied over time (on a fake
// clock), the status, the logs, and the advice at start. The engine with a router is in
// test/bgp-engine.test.ts; all of it with three directors in test/bgp-active-active.test.ts.
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { DesiredBackends } from '../check/pool.js';
import { ConfigSchema, type Config } from '../config/schema.js';
import { FakeClock } from '../sys/clock.js';
import { IpvsError } from '../ipvs/backend.js';
import { MemoryBackend } from '../ipvs/memory.js';
import { Reconciler } from '../ipvs/reconciler.js';
import { BgpDirector } from './director.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vk-bgp-director-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(vip: Record<string, unknown> = {}, bgp: Record<string, unknown> = {}): Config {
  return ConfigSchema.parse({
    virtual_servers: [
      { address: '192.0.2.10', port: 80, lb_algo: 'mh', flags: ['mh-fallback'], inhibit_on_failure: true, real_servers: [{ address: '10.1.0.1', checks: [{ type: 'TCP_CHECK' }] }] },
    ],
    bgp: {
      local_as: 65001,
      router_id: '10.0.0.1',
      drain_grace: '10s',
      peers: [{ address: '10.0.0.254', as: 65000, password: 'not-in-logs' }],
      vips: [{ prefix: '192.0.2.10', served_by: 'local', ...vip }],
      bird: { binary: path.join(dir, 'no-such-bird'), runtime_dir: path.join(dir, 'run') },
      ...bgp,
    },
  });
}

const pools = (quorumUp: boolean): DesiredBackends[] => [
  {
    vs: '192.0.2.10 80 TCP',
    identity: {} as DesiredBackends['identity'],
    quorumUp,
    sorryActive: false,
    backends: quorumUp ? [{ key: '10.1.0.1:80', address: '10.1.0.1', port: 80, weight: 1, role: 'real', reason: 'alive', lvsMethod: 'DR' }] : [],
  },
];

const directors: BgpDirector[] = [];
afterEach(async () => {
  for (const d of directors.splice(0)) await d.stop();
});

function director(clock = new FakeClock(), sysctl: Record<string, string> = {}) {
  const lines: { level: string; msg: string }[] = [];
  const log = Object.fromEntries(['debug', 'info', 'warn', 'error'].map((level) => [level, (_f: Record<string, unknown>, msg: string) => lines.push({ level, msg })])) as never;
  const d = new BgpDirector({ log, clock, readSysctl: (n) => sysctl[n] });
  directors.push(d);
  return { d, clock, lines };
}

describe('BgpDirector', () => {
  it('without a bgp section it holds nothing and reports nothing', async () => {
    const { d } = director();
    await d.setConfig(ConfigSchema.parse({}));
    expect(d.status()).toBeUndefined();
  });

  it('an engine that cannot start rejects setConfig in words and shows as down', async () => {
    const { d, lines } = director();
    await expect(d.setConfig(config())).rejects.toThrow(/bgp: the bird engine did not start: cannot run '.*no-such-bird' \(bird\.binary\): is BIRD 2 installed\?/);
    expect(d.status()?.engine).toMatchObject({ name: 'bird', state: 'down', restarts: 0, lastError: expect.stringContaining('no-such-bird') });
    expect(JSON.stringify(d.status()) + lines.map((l) => l.msg).join('\n')).not.toContain('not-in-logs');
  });

  it('refuses a runtime_dir others can write to, and leaves its mode alone', async () => {
    const shared = mkdtempSync(path.join(dir, 'shared-'));
    chmodSync(shared, 0o777);
    const { d } = director();
    await expect(d.setConfig(config({}, { bird: { binary: 'bird', runtime_dir: shared } }))).rejects.toThrow(/runtime_dir .* is writable by others \(mode 777\)/);
    expect(statSync(shared).mode & 0o777).toBe(0o777);
  });

  it('waits for the first verdicts, announces on quorum, withdraws when it is lost; each change logged once', async () => {
    const { d, lines } = director();
    await d.setConfig(config()).catch(() => undefined);
    expect(d.status()?.vips[0]).toMatchObject({ prefix: '192.0.2.10/32', state: 'withdrawn', code: 'checks-pending', inEngine: false });
    d.setHealth(pools(true));
    d.setHealth(pools(true));
    expect(d.status()?.vips[0]).toMatchObject({ state: 'announced', code: 'serving', med: 0, communities: [] });
    d.setHealth(pools(false));
    expect(d.status()?.vips[0]).toMatchObject({ state: 'withdrawn', code: 'quorum-lost' });
    const changes = lines.filter((l) => l.msg.startsWith('bgp: 192.0.2.10/32')).map((l) => [l.level, l.msg.split(' ')[2]]);
    expect(changes).toEqual([
      ['warn', 'withdrawn:'],
      ['info', 'announced:'],
      ['warn', 'withdrawn:'],
    ]);
    expect(d.status()?.transitions['192.0.2.10/32']).toEqual({ withdrawn: 2, announced: 1 });
  });

  it('maintenance drains with the drain attributes for drain_grace, then withdraws on its own; off announces again', async () => {
    const { d, clock } = director();
    await d.setConfig(config()).catch(() => undefined);
    d.setHealth(pools(true));
    d.setMaintenance(true);
    expect(d.status()?.maintenance).toBe(true);
    expect(d.status()?.vips[0]).toMatchObject({ state: 'draining', code: 'maintenance', med: 4294967295, communities: ['65535:0'], withdrawAt: expect.any(String) });
    clock.advance(9_999);
    expect(d.status()?.vips[0]?.state).toBe('draining');
    clock.advance(1);
    expect(d.status()?.vips[0]).toMatchObject({ state: 'withdrawn', code: 'maintenance' });
    d.setMaintenance(false);
    expect(d.status()?.vips[0]).toMatchObject({ state: 'announced', code: 'serving' });
  });

  it('drain: true in a reloaded config drains from the reload on; its own drain_grace and attributes', async () => {
    const { d, clock } = director();
    await d.setConfig(config()).catch(() => undefined);
    d.setHealth(pools(true));
    clock.advance(5_000);
    await d.setConfig(config({ drain: true, drain_grace: '2s', drain_med: 500, drain_communities: ['65001:666'] })).catch(() => undefined);
    expect(d.status()?.vips[0]).toMatchObject({ state: 'draining', code: 'draining', med: 500, communities: ['65001:666'] });
    clock.advance(2_000);
    expect(d.status()?.vips[0]).toMatchObject({ state: 'withdrawn', code: 'drained' });
    await d.setConfig(config()).catch(() => undefined);
    expect(d.status()?.vips[0]).toMatchObject({ state: 'announced' });
  });

  it('a VIP served by IPVS waits for the reconciler to hold its services', async () => {
    const clock = new FakeClock();
    const { d } = director(clock);
    const cfg = config({ served_by: 'ipvs' });
    await d.setConfig(cfg).catch(() => undefined);
    d.setHealth(pools(true));
    expect(d.status()?.vips[0]).toMatchObject({ state: 'withdrawn', code: 'ipvs-not-converged', reason: expect.stringContaining('has not reported yet') });
    const backend = new MemoryBackend();
    const reconciler = new Reconciler({ backend, clock });
    reconciler.setConfig(cfg);
    reconciler.setBackendState({ '192.0.2.10 80 TCP': { mode: 'real', servers: [{ address: '10.1.0.1', port: 80, weight: 1 }] } });
    backend.fault = new IpvsError('no-ipvs', 'IPVS is not available in this kernel');
    await reconciler.syncNow();
    d.observeIpvs(reconciler);
    expect(d.status()?.vips[0]?.reason).toContain('IPVS degraded: IPVS is not available in this kernel');
    backend.fault = undefined;
    await reconciler.syncNow();
    d.observeIpvs(reconciler);
    expect(d.status()?.vips[0]).toMatchObject({ state: 'announced', code: 'serving' });
    await reconciler.stop({ cleanup: false });
  });

  it('looks at the reconciler only when a VIP waits for IPVS (its snapshot copies the whole table)', async () => {
    const { d } = director();
    await d.setConfig(config({ served_by: 'local' })).catch(() => undefined);
    let snapshots = 0;
    const reconciler = new Reconciler({ backend: new MemoryBackend() });
    d.observeIpvs({ snapshot: () => (snapshots++, reconciler.snapshot()) });
    expect(snapshots).toBe(0);
  });

  it('warns at start when IPVS would drop flows that ECMP moves mid-way (sloppy_tcp 0), and only then', async () => {
    const warned = async (sysctl: Record<string, string>, vip: Record<string, unknown>) => {
      const { d, lines } = director(new FakeClock(), sysctl);
      await d.setConfig(config(vip)).catch(() => undefined);
      return lines.some((l) => l.level === 'warn' && l.msg.includes('net.ipv4.vs.sloppy_tcp is 0'));
    };
    expect(await warned({ 'net/ipv4/vs/sloppy_tcp': '0\n' }, { served_by: 'ipvs' })).toBe(true);
    expect(await warned({ 'net/ipv4/vs/sloppy_tcp': '1\n' }, { served_by: 'ipvs' })).toBe(false);
    expect(await warned({}, { served_by: 'ipvs' })).toBe(false); // no IP_VS here: said elsewhere
    expect(await warned({ 'net/ipv4/vs/sloppy_tcp': '0\n' }, { served_by: 'local' })).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../config/load.js';
import { ConfigSchema, type Config, type ConfigInput } from '../config/schema.js';
import { HealthChecker } from './health.js';
import type { PoolEvent } from './pool.js';
import { FakeClock } from '../sys/clock.js';
import type { Probe, ProbeSpec } from './types.js';
import { fixture } from '../../test/fixtures/keepalived/fixtures.js';


type VsIn = NonNullable<ConfigInput['virtual_servers']>[number];

function cfg(vs: VsIn[]): Config {
  return ConfigSchema.parse({ virtual_servers: vs });
}

/** Probe by target address: addresses in `down` refuse, the rest answer. Counts calls per address. */
function fakeNetwork() {
  const down = new Set<string>();
  const calls = new Map<string, number>();
  const ports = new Set<number>();
  const probe: Probe = (spec: ProbeSpec) => {
    const addr = 'address' in spec ? spec.address : spec.kind;
    if ('port' in spec) ports.add(spec.port);
    calls.set(addr, (calls.get(addr) ?? 0) + 1);
    return Promise.resolve(down.has(addr) ? { ok: false, reason: 'refused', detail: 'connection refused' } : { ok: true });
  };
  return { probe, down, calls, ports };
}

const twoServices = (port = 8080): VsIn[] => [
  { address: '10.0.0.1', port: 80, delay_loop: 2, warmup: 0, real_servers: [{ address: '10.0.1.1', port, checks: [{ type: 'TCP_CHECK' }] }] },
  {
    address: '10.0.0.2',
    port: 80,
    delay_loop: 2,
    warmup: 0,
    real_servers: [
      { address: '10.0.1.1', port, checks: [{ type: 'TCP_CHECK' }] },
      { address: '10.0.1.2', port, checks: [{ type: 'TCP_CHECK' }] },
    ],
  },
];

describe('HealthChecker', () => {
  it('runs a check shared by two virtual servers once per round and moves both pools', async () => {
    const clock = new FakeClock();
    const net = fakeNetwork();
    const events: PoolEvent[] = [];
    const hc = new HealthChecker(cfg(twoServices()), { clock, probe: net.probe, onEvent: (e) => events.push(e) });
    const boot = hc.start();
    expect(boot.map((e) => `${e.type} ${e.vs}`)).toEqual([
      'rsUp 10.0.0.1 80 TCP',
      'quorumUp 10.0.0.1 80 TCP',
      'rsUp 10.0.0.2 80 TCP',
      'rsUp 10.0.0.2 80 TCP',
      'quorumUp 10.0.0.2 80 TCP',
    ]);
    expect(events).toEqual(boot);
    expect(hc.scheduler.keys()).toHaveLength(2);

    await clock.advanceAsync(1000); // first round (warmup 0)
    expect(net.calls.get('10.0.1.1')).toBe(1);
    events.length = 0;

    // 10.0.1.1 dies: TCP retry 1 → a retry after 1 s, then DOWN, in both virtual servers at once.
    net.down.add('10.0.1.1');
    await clock.advanceAsync(2000); // 3000: first failure (retry)
    expect(events).toEqual([]);
    await clock.advanceAsync(1000); // 4000: second failure → DOWN
    expect(events.map((e) => `${e.type} ${e.vs} ${'rs' in e ? e.rs : ''}`)).toEqual([
      'rsDown 10.0.0.1 80 TCP 10.0.1.1:8080',
      'quorumDown 10.0.0.1 80 TCP ',
      'rsDown 10.0.0.2 80 TCP 10.0.1.1:8080',
    ]);
    expect(net.calls.get('10.0.1.1')).toBe(3);
    expect(hc.desired('10.0.0.1 80 TCP')?.backends).toEqual([]);
    expect(hc.desired('10.0.0.2 80 TCP')?.backends.map((b) => b.key)).toEqual(['10.0.1.2:8080']);

    // One success brings it back everywhere.
    net.down.delete('10.0.1.1');
    events.length = 0;
    await clock.advanceAsync(2000);
    expect(events.map((e) => e.type)).toEqual(['rsUp', 'quorumUp', 'rsUp']);
    hc.stop();
  });

  it('log_all_failures: every failed attempt is reported, not only the state change (issue 18, point 5)', async () => {
    const clock = new FakeClock();
    const net = fakeNetwork();
    const failures: string[] = [];
    const vs: VsIn[] = [
      {
        address: '10.0.0.1',
        port: 80,
        delay_loop: 2,
        warmup: 0,
        real_servers: [
          { address: '10.0.1.1', port: 80, checks: [{ type: 'TCP_CHECK', log_all_failures: true }] },
          { address: '10.0.1.2', port: 80, checks: [{ type: 'TCP_CHECK' }] },
        ],
      },
    ];
    const hc = new HealthChecker(cfg(vs), { clock, probe: net.probe, onFailure: (c, r) => failures.push(`${c.rs} ${r.reason}`) });
    hc.start();
    net.down.add('10.0.1.1');
    net.down.add('10.0.1.2');
    await clock.advanceAsync(1000); // first failure (retry 1)
    await clock.advanceAsync(1000); // second: DOWN
    await clock.advanceAsync(2000); // still down: no state change, still failures
    await clock.advanceAsync(2000);
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(new Set(failures)).toEqual(new Set(['10.0.1.1:80 refused'])); // not 10.0.1.2, without the option
    hc.stop();
  });

  it('a reload keeps the subscriptions of unchanged checks, but one that only turns on log_all_failures acts on it', async () => {
    const clock = new FakeClock();
    const net = fakeNetwork();
    const failures: string[] = [];
    const vs = (log: boolean): VsIn[] => [
      { address: '10.0.0.1', port: 80, delay_loop: 2, warmup: 0, real_servers: [{ address: '10.0.1.1', port: 80, checks: [{ type: 'TCP_CHECK', ...(log ? { log_all_failures: true } : {}) }] }] },
    ];
    const hc = new HealthChecker(cfg(vs(false)), { clock, probe: net.probe, onFailure: (c, r) => failures.push(`${c.rs} ${r.reason}`) });
    hc.start();
    const key = hc.scheduler.keys()[0] as string;
    const next = hc.scheduler.nextRunAt(key);
    hc.reload(cfg(vs(false)));
    expect(hc.scheduler.keys()).toEqual([key]);
    expect(hc.scheduler.nextRunAt(key)).toBe(next); // the same job, not a new one
    net.down.add('10.0.1.1');
    await clock.advanceAsync(2000);
    expect(failures).toEqual([]);
    hc.reload(cfg(vs(true)));
    expect(hc.scheduler.keys()).toEqual([key]); // log_all_failures is not part of what is probed
    await clock.advanceAsync(4000);
    expect(failures).toContain('10.0.1.1:80 refused');
    hc.stop();
  });

  it('ha_suspend: a suspended service runs no check and keeps its verdicts; resumed, it checks again from them', async () => {
    const clock = new FakeClock();
    const net = fakeNetwork();
    const events: PoolEvent[] = [];
    const hc = new HealthChecker(cfg([twoServices()[0] as VsIn]), { clock, probe: net.probe, onEvent: (e) => events.push(e) });
    hc.setSuspended(new Set(['10.0.0.1 80 TCP'])); // before start: never checked
    hc.start();
    await clock.advanceAsync(10_000);
    expect(net.calls.get('10.0.1.1')).toBeUndefined();
    hc.setSuspended(new Set());
    await clock.advanceAsync(1000);
    expect(net.calls.get('10.0.1.1')).toBe(1);
    hc.setSuspended(new Set(['10.0.0.1 80 TCP']));
    net.down.add('10.0.1.1');
    events.length = 0;
    await clock.advanceAsync(20_000);
    expect(net.calls.get('10.0.1.1')).toBe(1); // suspended: the dead server is not seen
    expect(events).toEqual([]);
    hc.setSuspended(new Set());
    await clock.advanceAsync(5000);
    expect(events.map((e) => e.type)).toEqual(['rsDown', 'quorumDown']);
    hc.stop();
  });

  it('snapshot: per RS the verdict, weight, last result and latency', async () => {
    const clock = new FakeClock();
    const net = fakeNetwork();
    net.down.add('10.0.1.2');
    const hc = new HealthChecker(cfg(twoServices()), { clock, probe: net.probe });
    hc.start();
    await clock.advanceAsync(1000);
    const snap = hc.snapshot();
    expect(snap.at).toBe(1000);
    expect(snap.services.map((s) => s.vs)).toEqual(['10.0.0.1 80 TCP', '10.0.0.2 80 TCP']);
    const vs2 = snap.services[1];
    expect(vs2).toMatchObject({ quorumUp: true, sorryActive: false, weight: 1 });
    expect(vs2?.realServers).toMatchObject([
      { vs: '10.0.0.2 80 TCP', rs: '10.0.1.1:8080', address: '10.0.1.1', port: 8080, up: true, weight: 1, lastResult: { ok: true }, lastCheckedAt: 1000, latencyMs: 0 },
      { rs: '10.0.1.2:8080', up: false, weight: 1, lastResult: { ok: false, reason: 'refused' } },
    ]);
    expect(vs2?.realServers[1]?.checks[0]).toMatchObject({ kind: 'TCP_CHECK', target: '10.0.1.2:8080', up: false, consecutiveFailures: 1, nextRunAt: 3000 });
    expect(snap.scheduler).toMatchObject({ jobs: 2, started: 2, completed: 2 });
    hc.stop();
  });

  it('reload keeps the state of unchanged checks and RS, starts new ones fresh and drops removed ones', async () => {
    const clock = new FakeClock();
    const net = fakeNetwork();
    const events: PoolEvent[] = [];
    const hc = new HealthChecker(cfg(twoServices()), { clock, probe: net.probe, onEvent: (e) => events.push(e) });
    hc.start();
    net.down.add('10.0.1.2');
    await clock.advanceAsync(1000);
    expect(hc.pool('10.0.0.2 80 TCP')?.rsState('10.0.1.2:8080')?.alive).toBe(false);
    const keyBefore = hc.scheduler.keys();
    const nextBefore = hc.scheduler.nextRunAt(keyBefore[1] as string);

    // Same checks, one VS removed, one RS added: nothing restarts, the dead RS stays dead.
    events.length = 0;
    const second = twoServices()[1] as VsIn;
    const reloaded = hc.reload(
      cfg([{ ...second, real_servers: [...second.real_servers!, { address: '10.0.1.3', port: 8080, checks: [{ type: 'TCP_CHECK' }] }] }]),
    );
    expect(reloaded.map((e) => `${e.type} ${'rs' in e ? e.rs : ''}`)).toEqual(['rsUp 10.0.1.3:8080']);
    expect(hc.serviceIds()).toEqual(['10.0.0.2 80 TCP']);
    expect(hc.scheduler.nextRunAt(keyBefore[1] as string)).toBe(nextBefore);
    expect(hc.pool('10.0.0.2 80 TCP')?.rsState('10.0.1.2:8080')?.alive).toBe(false);
    expect(hc.scheduler.keys()).toHaveLength(3);

    // New timing (a new job) on the same target keeps the verdict: the dead RS stays dead.
    events.length = 0;
    hc.reload(cfg([{ ...second, delay_loop: 5, real_servers: [{ address: '10.0.1.2', port: 8080, checks: [{ type: 'TCP_CHECK', connect_timeout: 2, retry: 4 }] }] }]));
    // (no rsUp: the only real server left is dead, so the service loses its quorum)
    expect(events.map((e) => `${e.type} ${'rs' in e ? e.rs : ''}`)).toEqual(['quorumDown ']);
    expect(hc.pool('10.0.0.2 80 TCP')?.rsState('10.0.1.2:8080')?.alive).toBe(false);
    expect(hc.scheduler.keys()).toHaveLength(1);
    events.length = 0;
    // ... and it comes back when its check passes again.
    net.down.delete('10.0.1.2');
    await clock.advanceAsync(7000);
    expect(events.map((e) => `${e.type} ${'rs' in e ? e.rs : ''}`)).toContain('rsUp 10.0.1.2:8080');

    // A new target (another port) is another check: it starts fresh (without alpha: up).
    net.down.add('10.0.1.2');
    await clock.advanceAsync(30_000);
    expect(hc.pool('10.0.0.2 80 TCP')?.rsState('10.0.1.2:8080')?.alive).toBe(false);
    events.length = 0;
    hc.reload(cfg([{ ...second, real_servers: [{ address: '10.0.1.2', port: 8081, checks: [{ type: 'TCP_CHECK' }] }] }]));
    expect(hc.pool('10.0.0.2 80 TCP')?.rsState('10.0.1.2:8081')?.alive).toBe(true);
    hc.stop();
  });

  it('fixture quorum.conf: starts with the quorum lost (alpha) and gains it once, when the ninth RS passes', async () => {
    const r = loadConfigFile(fixture('quorum.conf'), { configId: 'test' });
    const clock = new FakeClock();
    const net = fakeNetwork();
    const events: PoolEvent[] = [];
    const hc = new HealthChecker(r.config as Config, { clock, probe: net.probe, onEvent: (e) => events.push(e) });
    expect(hc.start()).toEqual([{ type: 'quorumDown', vs: '10.22.0.1 80 TCP', weight: 0, threshold: 9, initial: true }]);
    expect(hc.desired('10.22.0.1 80 TCP')?.backends).toEqual([]);
    // First checks run between 1 s and 1 s + warmup (= delay_loop 6 s).
    await clock.advanceAsync(7000);
    const quorum = events.filter((e) => e.type === 'quorumUp');
    expect(quorum).toEqual([{ type: 'quorumUp', vs: '10.22.0.1 80 TCP', weight: 9, threshold: 9 }]);
    expect(events.filter((e) => e.type === 'rsUp')).toHaveLength(10);
    expect(hc.desired('10.22.0.1 80 TCP')?.backends).toHaveLength(10);
    // TCP_CHECK with connect_port 80: every probe went to port 80, not the RS port 8080.
    expect([...net.ports]).toEqual([80]);
    hc.stop();
  });
});

import { describe, expect, it } from 'vitest';

import { ConfigSchema, type ConfigInput } from '../config/schema.js';
import { IpvsError } from './backend.js';
import { allUp, virtualServerId, type BackendState } from './desired.js';
import { renderSave } from './ipvsadm.js';
import { MemoryBackend } from './memory.js';
import { FakeClock } from '../sys/clock.js';
import { recordingLogger } from '../sys/logger.js';
import { Reconciler, type ReconcilerOptions } from './reconciler.js';

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

const cfg = (extra: Partial<ConfigInput> = {}, rs: { address: string; port?: number; weight?: number }[] = [{ address: '10.0.1.1' }, { address: '10.0.1.2' }]) =>
  ConfigSchema.parse({
    ipvs: { resync_interval: '30s', drain_timeout: '60s' },
    virtual_servers: [{ address: '10.0.0.1', port: 80, lb_algo: 'rr', real_servers: rs.map((r) => ({ port: 80, ...r })) }],
    ...extra,
  });

const recLogger = recordingLogger;

function setup(opts: Partial<ReconcilerOptions> = {}, backend = new MemoryBackend()) {
  const clock = new FakeClock(0, { settleTurns: 20 });
  const { lines, logger } = recLogger();
  const r = new Reconciler({ backend, clock, logger, minInterval: 100, ...opts });
  return { clock, backend, r, lines };
}

const table = (b: MemoryBackend) => renderSave(b.snapshot()).trim().split('\n').filter(Boolean);

describe('Reconciler', () => {
  it('does nothing until it has a config and a first health state', async () => {
    const { clock, backend, r } = setup();
    r.start();
    await clock.advanceAsync(1000);
    r.setConfig(cfg());
    await clock.advanceAsync(1000);
    expect(backend.calls.read).toBe(0);
    expect(r.snapshot().status).toBe('initializing');
    r.setBackendState(allUp(cfg()));
    await clock.advanceAsync(200);
    expect(table(backend)).toEqual(['-A -t 10.0.0.1:80 -s rr', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1', '-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 1']);
    expect(r.snapshot()).toMatchObject({ status: 'in-sync', owned: ['TCP 10.0.0.1:80'], sync: { applies: 1, consecutiveFailures: 0 } });
  });

  it('merges a burst of triggers into one run per minInterval and reports the latency', async () => {
    const { clock, backend, r } = setup({ minInterval: 500 });
    const c = cfg();
    r.setConfig(c);
    r.setBackendState(allUp(c));
    r.start();
    await clock.advanceAsync(10);
    expect(backend.calls.read).toBe(1);
    const id = virtualServerId(c.virtual_servers[0]!);
    for (let w = 2; w <= 6; w++) {
      r.setBackendState({ [id]: { mode: 'real', servers: [{ address: '10.0.1.1', weight: w }, { address: '10.0.1.2', weight: 1 }] } });
      await clock.advanceAsync(20);
    }
    expect(backend.calls.read).toBe(1);
    await clock.advanceAsync(500);
    // one more run (verdicts only: the fast path applies it without reading the kernel)
    expect(r.snapshot().sync.runs).toBe(2);
    expect(backend.calls.apply).toBe(2);
    expect(table(backend)).toContain('-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 6');
    expect(r.snapshot().sync.lastLatencyMs).toBe(490); // first trigger at t=10, run at t=500
  });

  it('resyncs every maxInterval and corrects manual drift, counting it', async () => {
    const { clock, backend, r, lines } = setup();
    const c = cfg();
    r.setConfig(c);
    r.setBackendState(allUp(c));
    r.start();
    await clock.advanceAsync(10);
    const good = table(backend);
    await backend.applyScript('-e -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 9\n-d -t 10.0.0.1:80 -r 10.0.1.2:80\n-A -t 10.9.9.9:80 -s rr\n');
    await clock.advanceAsync(29_000);
    expect(r.snapshot().sync.driftCorrections).toBe(0);
    await clock.advanceAsync(1_100);
    expect(table(backend).filter((l) => !l.includes('10.9.9.9'))).toEqual(good);
    expect(table(backend)).toContain('-A -t 10.9.9.9:80 -s rr'); // foreign: untouched
    expect(r.snapshot().sync).toMatchObject({ driftCorrections: 1, driftOperations: 2 });
    expect(lines.some((l) => l.startsWith('warn: IPVS table changed outside vipkeeper'))).toBe(true);
    await clock.advanceAsync(30_000);
    expect(r.snapshot().sync.driftCorrections).toBe(1);
  });

  it('a server that fails its checks is removed at once; inhibit_on_failure keeps it at weight 0', async () => {
    const { clock, backend, r } = setup();
    const c = cfg();
    const id = virtualServerId(c.virtual_servers[0]!);
    r.setConfig(c);
    r.setBackendState(allUp(c));
    r.start();
    await clock.advanceAsync(10);
    backend.setConnections('TCP 10.0.0.1:80', '10.0.1.2:80', 5);
    r.setBackendState({ [id]: { mode: 'real', servers: [{ address: '10.0.1.1', weight: 1 }] } });
    await clock.advanceAsync(200);
    expect(table(backend)).toEqual(['-A -t 10.0.0.1:80 -s rr', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1']);
    r.setBackendState({ [id]: { mode: 'real', servers: [{ address: '10.0.1.1', weight: 0 }] } });
    await clock.advanceAsync(200);
    expect(table(backend)).toEqual(['-A -t 10.0.0.1:80 -s rr', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 0']);
    expect(r.snapshot().draining).toEqual([]);
  });

  it('drains a server that leaves the config: weight 0, then deleted when its connections end', async () => {
    const { clock, backend, r, lines } = setup({ drainPollInterval: 1000 });
    const c = cfg();
    r.setConfig(c);
    r.setBackendState(allUp(c));
    r.start();
    await clock.advanceAsync(10);
    backend.setConnections('TCP 10.0.0.1:80', '10.0.1.2:80', 3, 10);
    const c2 = cfg({}, [{ address: '10.0.1.1' }]);
    r.setConfig(c2);
    r.setBackendState(allUp(c2));
    await clock.advanceAsync(200);
    expect(table(backend)).toContain('-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 0');
    expect(r.snapshot().draining).toMatchObject([{ service: 'TCP 10.0.0.1:80', dest: '10.0.1.2:80', activeConns: 3, inactiveConns: 10 }]);
    expect(clock.nextDue()! - clock.now()).toBeLessThanOrEqual(1000);
    await clock.advanceAsync(5000);
    expect(table(backend)).toContain('-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 0');
    backend.setConnections('TCP 10.0.0.1:80', '10.0.1.2:80', 0, 10); // only TIME_WAIT left
    await clock.advanceAsync(1000);
    expect(table(backend)).toEqual(['-A -t 10.0.0.1:80 -s rr', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1']);
    expect(r.snapshot().draining).toEqual([]);
    expect(lines).toContain('info: real server drained; removing it');
  });

  it('deletes a draining server at the drain timeout even with open connections', async () => {
    const { clock, backend, r, lines } = setup({ drainPollInterval: 1000, drainTimeout: 10_000 });
    const c = cfg();
    r.setConfig(c);
    r.setBackendState(allUp(c));
    r.start();
    await clock.advanceAsync(10);
    backend.setConnections('TCP 10.0.0.1:80', '10.0.1.2:80', 1);
    const c2 = cfg({}, [{ address: '10.0.1.1' }]);
    r.setConfig(c2);
    r.setBackendState(allUp(c2));
    await clock.advanceAsync(200);
    const since = clock.now();
    await clock.advanceAsync(9_000);
    expect(table(backend)).toContain('-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 0');
    await clock.advanceAsync(1_500);
    expect(table(backend)).not.toContain('-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 0');
    expect(clock.now() - since).toBeGreaterThanOrEqual(10_000);
    expect(lines).toContain('info: drain timeout; removing real server with open connections');
  });

  it('a server that comes back while draining gets its weight back; drains with the strict InActConn rule', async () => {
    const { clock, backend, r } = setup({ drainCountsInactive: true });
    const c = cfg();
    r.setConfig(c);
    r.setBackendState(allUp(c));
    r.start();
    await clock.advanceAsync(10);
    backend.setConnections('TCP 10.0.0.1:80', '10.0.1.2:80', 0, 4);
    const c2 = cfg({}, [{ address: '10.0.1.1' }]);
    r.setConfig(c2);
    r.setBackendState(allUp(c2));
    await clock.advanceAsync(200);
    expect(table(backend)).toContain('-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 0');
    r.setConfig(c);
    r.setBackendState(allUp(c));
    await clock.advanceAsync(200);
    expect(table(backend)).toContain('-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 1');
    expect(r.snapshot().draining).toEqual([]);
  });

  it('operator drain and undrain', async () => {
    const { clock, backend, r } = setup();
    const c = cfg();
    r.setConfig(c);
    r.setBackendState(allUp(c));
    r.start();
    await clock.advanceAsync(10);
    backend.setConnections('TCP 10.0.0.1:80', '10.0.1.1:80', 2);
    r.drain('10.0.1.1');
    await clock.advanceAsync(200);
    expect(table(backend)).toContain('-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 0');
    expect(r.snapshot().operatorDrained).toEqual(['10.0.1.1']);
    r.undrain('10.0.1.1');
    await clock.advanceAsync(200);
    expect(table(backend)).toContain('-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1');
    r.drain('10.0.1.2', 80);
    await clock.advanceAsync(200);
    expect(table(backend)).not.toContain('-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 1'); // no connections: gone at once
    expect(table(backend)).toHaveLength(2);
  });

  it('without IPVS: one clear error, status degraded, exponential backoff capped, never throws; recovers', async () => {
    const backend = new MemoryBackend();
    backend.fault = new IpvsError('no-ipvs', "IPVS is not available in this kernel (ipvsadm says: Can't initialize ipvs: Protocol not available)");
    const { clock, r, lines } = setup({ retryInitial: 1000, retryMax: 8000 }, backend);
    const c = cfg();
    r.setConfig(c);
    r.setBackendState(allUp(c));
    r.start();
    await clock.advanceAsync(10);
    const times: number[] = [];
    let last = backend.calls.read;
    for (let t = 0; t < 40_000; t += 100) {
      await clock.advanceAsync(100);
      if (backend.calls.read !== last) {
        times.push(clock.now());
        last = backend.calls.read;
      }
    }
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(gaps.slice(0, 5)).toEqual([2000, 4000, 8000, 8000, 8000]);
    const snap = r.snapshot();
    expect(snap).toMatchObject({ status: 'degraded', sync: { lastErrorKind: 'no-ipvs' } });
    expect(snap.sync.lastError).toMatch(/^IPVS is not available in this kernel/);
    expect(lines.filter((l) => l.startsWith('error:'))).toHaveLength(1);
    await expect(r.syncNow()).resolves.toMatchObject({ ok: false });
    backend.fault = undefined;
    await clock.advanceAsync(8000);
    expect(r.snapshot()).toMatchObject({ status: 'in-sync', sync: { consecutiveFailures: 0 } });
    expect(lines).toContain('info: IPVS sync recovered');
  });

  it('a refused batch is degraded and retried; the change is not lost', async () => {
    const backend = new MemoryBackend();
    backend.schedulers.delete('mh');
    const { clock, r } = setup({ retryInitial: 500 }, backend);
    const c = cfg({ virtual_servers: [{ address: '10.0.0.1', port: 80, lb_algo: 'mh', real_servers: [{ address: '10.0.1.1', port: 80 }] }] });
    r.setConfig(c);
    r.setBackendState(allUp(c));
    r.start();
    await clock.advanceAsync(10);
    expect(r.snapshot()).toMatchObject({ status: 'degraded', sync: { lastErrorKind: 'apply-failed', lastError: expect.stringMatching(/Scheduler or persistence engine not found/) } });
    backend.schedulers.add('mh');
    await clock.advanceAsync(1000);
    expect(r.snapshot().status).toBe('in-sync');
    expect(table(backend)).toEqual(['-A -t 10.0.0.1:80 -s mh', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1']);
  });

  it('runs the sync daemon that follows the VRRP state', async () => {
    const { clock, backend, r } = setup();
    const c = cfg({ global: { lvs_sync_daemon: { interface: 'eth1', instance: 'VI_1', id: 7 } } });
    r.setConfig(c);
    r.setBackendState(allUp(c));
    r.start();
    await clock.advanceAsync(10);
    expect(await backend.readDaemons()).toEqual([]);
    r.setVrrpState('VI_2', 'MASTER'); // not the followed instance
    await clock.advanceAsync(200);
    expect(await backend.readDaemons()).toEqual([]);
    r.setVrrpState('VI_1', 'MASTER');
    await clock.advanceAsync(200);
    expect(await backend.readDaemons()).toEqual([{ role: 'master', interface: 'eth1', syncid: 7 }]);
    r.setVrrpState('VI_1', 'BACKUP');
    await clock.advanceAsync(200);
    expect(await backend.readDaemons()).toEqual([{ role: 'backup', interface: 'eth1', syncid: 7 }]);
    r.setVrrpState('VI_1', 'FAULT');
    await clock.advanceAsync(200);
    expect(r.snapshot().syncDaemons).toMatchObject({ vrrpState: 'FAULT', running: [{ role: 'backup' }] });
    r.setVrrpState('VI_1', 'STOP');
    await clock.advanceAsync(200);
    expect(await backend.readDaemons()).toEqual([]);
    r.setVrrpState('VI_1', 'MASTER');
    await clock.advanceAsync(200);
    await r.stop();
    expect(await backend.readDaemons()).toEqual([]);
  });

  it('sets the lvs_timeouts once per config, leaving an unset one as the kernel has it (issue 18, point 5)', async () => {
    const { clock, backend, r } = setup();
    const c = cfg({ global: { lvs_timeouts: { tcp: '2h', udp: 60 } } });
    r.setConfig(c);
    r.setBackendState(allUp(c));
    r.start();
    await clock.advanceAsync(200);
    expect(backend.timeouts).toEqual({ tcp: 7200, tcpfin: 120, udp: 60 });
    expect(backend.calls.setTimeouts).toBe(1);
    await clock.advanceAsync(60_000); // resyncs do not set them again
    expect(backend.calls.setTimeouts).toBe(1);
    await r.stop();
  });

  it('lvs_timeouts as keepalived: an unset one, a config without them, and stop put back the timeouts found first', async () => {
    const backend = new MemoryBackend();
    backend.timeouts = { tcp: 1000, tcpfin: 100, udp: 200 }; // someone else's, before vipkeeper starts
    const { clock, r, lines } = setup({}, backend);
    const c1 = cfg({ global: { lvs_timeouts: { tcp: '2h', tcpfin: 30, udp: 60 } } });
    r.setConfig(c1);
    r.setBackendState(allUp(c1));
    r.start();
    await clock.advanceAsync(200);
    expect(backend.timeouts).toEqual({ tcp: 7200, tcpfin: 30, udp: 60 });
    // reload with only tcp: tcpfin and udp go back to the originals, not to the last config's
    r.setConfig(cfg({ global: { lvs_timeouts: { tcp: 500 } } }));
    await clock.advanceAsync(200);
    expect(backend.timeouts).toEqual({ tcp: 500, tcpfin: 100, udp: 200 });
    // a reload sets them again even when they did not change (someone changed them meanwhile)
    backend.timeouts = { tcp: 9, tcpfin: 9, udp: 9 };
    r.setConfig(cfg({ global: { lvs_timeouts: { tcp: 500 } } }));
    await clock.advanceAsync(200);
    expect(backend.timeouts).toEqual({ tcp: 500, tcpfin: 100, udp: 200 });
    // reload without lvs_timeouts: all three go back
    r.setConfig(cfg());
    await clock.advanceAsync(200);
    expect(backend.timeouts).toEqual({ tcp: 1000, tcpfin: 100, udp: 200 });
    r.setConfig(c1);
    await clock.advanceAsync(200);
    expect(backend.timeouts).toEqual({ tcp: 7200, tcpfin: 30, udp: 60 });
    await r.stop();
    expect(backend.timeouts).toEqual({ tcp: 1000, tcpfin: 100, udp: 200 });
    expect(lines).toContain('info: IPVS connection timeouts restored');
  });

  it('lvs_timeouts: never touched without them; a stop without cleanup (on_stop: keep) leaves them', async () => {
    const { clock, backend, r } = setup();
    r.setConfig(cfg());
    r.setBackendState(allUp(cfg()));
    r.start();
    await clock.advanceAsync(200);
    await r.stop();
    expect(backend.calls.setTimeouts).toBe(0);
    const b2 = new MemoryBackend();
    const s2 = setup({}, b2);
    const c = cfg({ global: { lvs_timeouts: { udp: 60 } }, ipvs: { on_stop: 'keep' } });
    s2.r.setConfig(c);
    s2.r.setBackendState(allUp(c));
    s2.r.start();
    await s2.clock.advanceAsync(200);
    await s2.r.stop();
    expect(b2.timeouts).toEqual({ tcp: 900, tcpfin: 120, udp: 60 });
  });

  it('stop removes what it owns and leaves foreign services (on_stop: remove), or keeps all (keep)', async () => {
    for (const onStop of ['remove', 'keep'] as const) {
      const backend = new MemoryBackend();
      await backend.applyScript('-A -f 9 -s rr\n');
      const { clock, r } = setup({}, backend);
      const c = cfg({ ipvs: { on_stop: onStop } });
      r.setConfig(c);
      r.setBackendState(allUp(c));
      r.start();
      await clock.advanceAsync(10);
      await r.stop();
      expect(r.snapshot().status).toBe('stopped');
      expect(table(backend).length).toBe(onStop === 'remove' ? 1 : 4);
      r.setConfig(c); // after stop: ignored, no throw
      await clock.advanceAsync(1000);
      expect(table(backend).length).toBe(onStop === 'remove' ? 1 : 4);
    }
  });

  it('lvs_flush flushes foreign services once at start; exclusive mode deletes them on every run', async () => {
    const backend = new MemoryBackend();
    await backend.applyScript('-A -f 9 -s rr\n');
    const { clock, r } = setup({}, backend);
    const c = cfg({ global: { lvs_flush: true } });
    r.setConfig(c);
    r.setBackendState(allUp(c));
    r.start();
    await clock.advanceAsync(10);
    expect(table(backend)).toHaveLength(3);
    await backend.applyScript('-A -f 9 -s rr\n');
    await clock.advanceAsync(31_000);
    expect(table(backend)).toHaveLength(4); // flushed once only; owned mode keeps it

    const b2 = new MemoryBackend();
    await b2.applyScript('-A -f 9 -s rr\n');
    const s2 = setup({}, b2);
    const c2 = cfg({ ipvs: { manage: 'exclusive' } });
    s2.r.setConfig(c2);
    s2.r.setBackendState(allUp(c2));
    s2.r.start();
    await s2.clock.advanceAsync(10);
    expect(table(b2)).toHaveLength(3);
    await b2.applyScript('-A -f 8 -s rr\n');
    await s2.clock.advanceAsync(31_000);
    expect(table(b2)).toHaveLength(3);
    expect(s2.r.snapshot().sync.driftCorrections).toBe(1);
  });

  it('deletes owned services that leave the config, at once', async () => {
    const { clock, backend, r } = setup();
    const two = cfg({
      virtual_servers: [
        { address: '10.0.0.1', port: 80, real_servers: [{ address: '10.0.1.1', port: 80 }] },
        { address: '10.0.0.2', port: 80, real_servers: [{ address: '10.0.1.1', port: 80 }] },
      ],
    });
    r.setConfig(two);
    r.setBackendState(allUp(two));
    r.start();
    await clock.advanceAsync(10);
    expect(table(backend)).toHaveLength(4);
    const one = cfg({ virtual_servers: [two.virtual_servers[0]!] });
    r.setConfig(one);
    r.setBackendState(allUp(one) as BackendState);
    await clock.advanceAsync(200);
    expect(table(backend)).toEqual(['-A -t 10.0.0.1:80 -s wlc', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1']);
    expect(r.snapshot().owned).toEqual(['TCP 10.0.0.1:80']);
  });
});

describe('Reconciler verdict fast path', () => {
  const verdict = (c: ReturnType<typeof cfg>, servers: { address: string; weight: number }[]): BackendState => ({ [virtualServerId(c.virtual_servers[0]!)]: { mode: 'real', servers } });

  async function converged(opts: Partial<ReconcilerOptions> = {}) {
    const s = setup(opts);
    const c = cfg();
    s.r.setConfig(c);
    s.r.setBackendState(allUp(c));
    s.r.start();
    await s.clock.advanceAsync(10);
    expect(s.backend.calls.read).toBe(1);
    return { ...s, c };
  }

  it('applies a verdict against the last table without reading the kernel', async () => {
    const { clock, backend, r, c } = await converged();
    clock.jump(1000);
    r.setBackendState(verdict(c, [{ address: '10.0.1.1', weight: 5 }, { address: '10.0.1.2', weight: 1 }]));
    await clock.advanceAsync(0);
    expect(backend.calls).toMatchObject({ read: 1, apply: 2 });
    expect(table(backend)).toContain('-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 5');
    expect(backend.scripts.at(-1)).toBe('-e -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 5\n');
    // a failed server is removed at once, and comes back, still without a read
    r.setBackendState(verdict(c, [{ address: '10.0.1.1', weight: 5 }]));
    await clock.advanceAsync(100);
    expect(table(backend)).not.toContain('-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 1');
    r.setBackendState(verdict(c, [{ address: '10.0.1.1', weight: 5 }, { address: '10.0.1.2', weight: 1 }]));
    await clock.advanceAsync(100);
    expect(table(backend)).toContain('-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 1');
    expect(backend.calls.read).toBe(1);
    const snap = r.snapshot();
    expect(snap).toMatchObject({ status: 'in-sync', sync: { fastRuns: 3, applies: 4, driftCorrections: 0 } });
    expect(renderSave(snap.table)).toBe(renderSave(backend.snapshot()));
  });

  it('the resync timer still reads the whole table and undoes drift made between verdicts', async () => {
    const { clock, backend, r, c } = await converged();
    await backend.applyScript('-d -t 10.0.0.1:80 -r 10.0.1.2:80\n');
    r.setBackendState(verdict(c, [{ address: '10.0.1.1', weight: 7 }, { address: '10.0.1.2', weight: 1 }]));
    await clock.advanceAsync(200);
    expect(backend.calls.read).toBe(1); // the fast path does not see the drift...
    expect(table(backend)).toEqual(['-A -t 10.0.0.1:80 -s rr', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 7']);
    await clock.advanceAsync(30_000); // ...the resync does
    expect(backend.calls.read).toBe(2);
    expect(table(backend)).toEqual(['-A -t 10.0.0.1:80 -s rr', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 7', '-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 1']);
    expect(r.snapshot().sync).toMatchObject({ driftCorrections: 1, fastRuns: 1 });
  });

  it('when the kernel refuses the delta (the table changed meanwhile) the same run reads it and converges', async () => {
    const { clock, backend, r, c, lines } = await converged();
    await backend.applyScript('-d -t 10.0.0.1:80 -r 10.0.1.1:80\n');
    r.setBackendState(verdict(c, [{ address: '10.0.1.1', weight: 3 }, { address: '10.0.1.2', weight: 1 }]));
    await clock.advanceAsync(200);
    expect(backend.calls.read).toBe(2);
    expect(table(backend)).toEqual(['-A -t 10.0.0.1:80 -s rr', '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 3', '-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 1']);
    expect(r.snapshot()).toMatchObject({ status: 'in-sync', sync: { consecutiveFailures: 0, driftCorrections: 1 } });
    expect(lines.some((l) => l.startsWith('info: IPVS fast path refused'))).toBe(true);
    expect(r.snapshot().sync.fastRuns ?? 0).toBe(0);
  });

  it('is not taken for config changes, operator drains, syncNow, while something drains, or when disabled', async () => {
    {
      const { clock, backend, r } = await converged();
      const c2 = cfg({}, [{ address: '10.0.1.1', weight: 2 }, { address: '10.0.1.2' }]);
      r.setConfig(c2);
      r.setBackendState(allUp(c2));
      await clock.advanceAsync(200);
      expect(backend.calls.read).toBe(2);
      r.drain('10.0.1.2');
      await clock.advanceAsync(200);
      expect(backend.calls.read).toBe(3);
      await r.syncNow();
      expect(backend.calls.read).toBe(4);
    }
    {
      const { clock, backend, r, c } = await converged({ drainPollInterval: 1000 });
      backend.setConnections('TCP 10.0.0.1:80', '10.0.1.2:80', 1);
      const c2 = cfg({}, [{ address: '10.0.1.1' }]);
      r.setConfig(c2);
      r.setBackendState(allUp(c2));
      await clock.advanceAsync(200);
      expect(r.snapshot().draining).toHaveLength(1);
      const reads = backend.calls.read;
      r.setBackendState(verdict(c, [{ address: '10.0.1.1', weight: 4 }]));
      await clock.advanceAsync(100);
      expect(backend.calls.read).toBe(reads + 1);
      expect(table(backend)).toContain('-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 4');
    }
    {
      const { clock, backend, r, c } = await converged({ verdictFastPath: false });
      r.setBackendState(verdict(c, [{ address: '10.0.1.1', weight: 5 }, { address: '10.0.1.2', weight: 1 }]));
      await clock.advanceAsync(200);
      expect(backend.calls.read).toBe(2);
      expect(table(backend)).toContain('-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 5');
    }
  });

  it('plans only the virtual servers whose pool changed', async () => {
    const { clock, backend, r } = setup();
    const c = cfg({
      virtual_servers: [
        { address: '10.0.0.1', port: 80, real_servers: [{ address: '10.0.1.1', port: 80 }] },
        { address: '10.0.0.2', port: 80, real_servers: [{ address: '10.0.2.1', port: 80 }, { address: '10.0.2.2', port: 80 }] },
      ],
    });
    r.setConfig(c);
    r.setBackendState(allUp(c));
    r.start();
    await clock.advanceAsync(10);
    const [vs1, vs2] = c.virtual_servers.map((vs) => virtualServerId(vs));
    const st = { ...allUp(c), [vs2!]: { mode: 'real' as const, servers: [{ address: '10.0.2.1', weight: 4 }] } };
    r.setBackendState(st);
    await clock.advanceAsync(200);
    expect(backend.scripts.at(-1)).toBe('-e -t 10.0.0.2:80 -r 10.0.2.1:80 -m -w 4\n-d -t 10.0.0.2:80 -r 10.0.2.2:80\n');
    r.setBackendState({ ...st }); // the same pools again: nothing to do
    await clock.advanceAsync(200);
    r.setBackendState({ ...st, [vs1!]: { mode: 'real', servers: [{ address: '10.0.1.1', weight: 9 }] } });
    await clock.advanceAsync(200);
    expect(backend.calls.read).toBe(1);
    expect(r.snapshot().sync.fastRuns).toBe(3);
    expect(table(backend)).toEqual([
      '-A -t 10.0.0.1:80 -s wlc',
      '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 9',
      '-A -t 10.0.0.2:80 -s wlc',
      '-a -t 10.0.0.2:80 -r 10.0.2.1:80 -m -w 4',
    ]);
    expect(renderSave(r.snapshot().table)).toBe(renderSave(backend.snapshot()));
    await clock.advanceAsync(30_000); // the resync agrees: nothing to correct
    expect(r.snapshot().sync).toMatchObject({ driftCorrections: 0, applies: 3 });
  });

  it('after a failed run the next verdict reads the kernel again', async () => {
    const { clock, backend, r, c } = await converged({ retryInitial: 100 });
    backend.fault = new IpvsError('command-failed', 'boom');
    r.setBackendState(verdict(c, [{ address: '10.0.1.1', weight: 2 }, { address: '10.0.1.2', weight: 1 }]));
    await clock.advanceAsync(150);
    expect(r.snapshot().status).toBe('degraded');
    backend.fault = undefined;
    const reads = backend.calls.read;
    await clock.advanceAsync(500);
    expect(backend.calls.read).toBeGreaterThan(reads);
    expect(r.snapshot().status).toBe('in-sync');
    expect(table(backend)).toContain('-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 2');
  });
});

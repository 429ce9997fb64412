// A reload of a large table with 1 % of its real servers changed (issue 19, point 4) is hitless:
// every unchanged check keeps its verdict and its place in the schedule, no unchanged real server
// goes down or up, and the IPVS apply is the minimal diff (only the changed destinations; no
// service re-created). The health checker and the reconciler as the daemon wires them, on a fake
// clock, the memory IPVS backend and a probe that answers by address.
import { describe, expect, it } from 'vitest';
import { ipvsConfigView } from '../src/bgp/vips.js';
import { HealthChecker } from '../src/check/health.js';
import type { PoolEvent } from '../src/check/pool.js';
import type { Probe, ProbeSpec } from '../src/check/types.js';
import { importKeepalivedText } from '../src/config/keepalived/import.js';
import type { Config } from '../src/config/schema.js';
import { backendState } from '../src/daemon/daemon.js';
import { MemoryBackend } from '../src/ipvs/memory.js';
import { Reconciler } from '../src/ipvs/reconciler.js';
import { FakeClock } from '../src/sys/clock.js';
import { bigConf } from './helpers/big-config.js';

const N = 10_000;

function load(text: string): Config {
  const r = importKeepalivedText(text, 'lvs.conf', { configId: 'test' });
  if (!r.config) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.config;
}

describe(`reload of ${N.toLocaleString('en')} real servers with 1 % changed`, () => {
  it('keeps every unchanged check (verdict and schedule), flaps nothing, and applies only the changed destinations', { timeout: 120_000 }, async () => {
    const clock = new FakeClock(0, { settleTurns: 20 });
    // one real server in 50 refuses: the kept verdicts include down ones
    const down = (addr: string) => Number(addr.split('.')[3]) % 50 === 0;
    const probe: Probe = (spec: ProbeSpec) => Promise.resolve('address' in spec && down(spec.address) ? { ok: false, reason: 'refused', detail: 'connection refused' } : { ok: true });
    const events: PoolEvent[] = [];
    const before = load(bigConf(N));
    const hc = new HealthChecker(before, { clock, probe, onEvent: (e) => events.push(e) });
    const backend = new MemoryBackend();
    const ipvs = new Reconciler({ backend, clock, minInterval: 100, maxInterval: 3_600_000 });
    ipvs.setConfig(ipvsConfigView(before));
    hc.start();
    ipvs.setBackendState(backendState(hc.desiredAll()));
    ipvs.start();
    // warmup spread (delay_loop 5 s) and the retries of the failing ones, then the table settles
    await clock.advanceAsync(30_000);
    ipvs.setBackendState(backendState(hc.desiredAll()));
    await clock.advanceAsync(1_000);
    expect(backend.snapshot().flatMap((s) => s.dests)).toHaveLength(N - N / 50);

    const snap = (h: HealthChecker) =>
      new Map(h.snapshot().services.flatMap((s) => s.realServers.flatMap((rs) => rs.checks.map((c) => [`${s.vs} ${rs.rs}`, { key: c.key, up: c.up, fails: c.consecutiveFailures, next: c.nextRunAt }] as const))));
    const old = snap(hc);
    const scriptsBefore = backend.scripts.length;

    // every 100th real server is replaced by another address
    const moved = (i: number) => i % 100 === 0;
    const after = load(bigConf(N, { moved }));
    events.length = 0;
    hc.reload(after);
    const now = snap(hc); // at the same instant: a kept check's next run is where it was
    ipvs.setConfig(ipvsConfigView(after));
    ipvs.setBackendState(backendState(hc.desiredAll()));
    const report = await ipvs.syncNow();

    let kept = 0;
    for (const [rs, c] of old) {
      const n = now.get(rs);
      if (!n) continue; // a replaced one
      expect(n, rs).toEqual(c);
      kept++;
    }
    expect(kept).toBe(N - N / 100);
    // events only for the moved real servers: the new ones come up, nothing unchanged moves
    const changed = new Set([...now.keys()].filter((k) => !old.has(k)));
    expect(changed.size).toBe(N / 100);
    for (const e of events) if ('rs' in e) expect(changed.has(`${e.vs} ${e.rs}`), `${e.type} ${e.vs} ${e.rs}`).toBe(true);
    expect(events.filter((e) => e.type === 'quorumDown' || e.type === 'rsDown')).toEqual([]);

    // the IPVS apply (a full run: read, plan, apply): the new destinations added, the old ones deleted, nothing else
    const lines = backend.scripts.slice(scriptsBefore).join('\n').split('\n').filter(Boolean);
    expect(report.ok).toBe(true);
    // replaced: every 100th (index 0, 100, …), x.y.z.1 of each virtual server (never a refusing one), now x.y.z.151
    const adds = lines.filter((l) => l.startsWith('-a ') && /\.151:80 /.test(l));
    // (no connections to drain in the memory backend: the old ones go at once)
    const gone = lines.filter((l) => l.startsWith('-d ') && /\.1:80$/.test(l));
    expect(adds).toHaveLength(N / 100);
    expect(gone).toHaveLength(N / 100);
    expect(lines).toHaveLength(adds.length + gone.length);
    hc.stop();
    await ipvs.stop();
  });
});

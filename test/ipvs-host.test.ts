/**
 * The reconciler over the real `ipvsadm` binary and the real netlink backend on THIS machine.
 * Without IP_VS in the kernel (this machine's case; it cannot load modules): one clear error,
 * status `degraded`, retries with capped exponential backoff (over a fake clock, so the schedule
 * is checked exactly), nothing thrown into the caller. On a host that has IPVS the same calls must
 * sync cleanly instead: every case asserts on either kind of host. Also a missing binary. The
 * config is empty, so nothing on the host is ever changed.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

import { ConfigSchema } from '../src/config/schema.js';
import { FakeClock } from '../src/sys/clock.js';
import type { IpvsBackend } from '../src/ipvs/backend.js';
import { createIpvsBackend } from '../src/ipvs/factory.js';
import { IpvsadmBackend } from '../src/ipvs/ipvsadm.js';
import { NetlinkIpvsBackend } from '../src/ipvs/netlink.js';
import { Reconciler } from '../src/ipvs/reconciler.js';
import { noopLogger, type Logger } from '../src/sys/logger.js';
import { waitFor } from '../lab/wait.js';

const config = ConfigSchema.parse({ virtual_servers: [] });

/** Records the (fake) clock's time of every read. */
function recorder(inner: IpvsBackend, clock: FakeClock): IpvsBackend & { reads: number[] } {
  const reads: number[] = [];
  return Object.assign(Object.create(inner) as IpvsBackend, {
    reads,
    read: () => {
      reads.push(clock.now());
      return inner.read();
    },
  });
}

function logger() {
  const errors: string[] = [];
  const l: Logger = { ...noopLogger, error: (_f, m) => void errors.push(m ?? '') };
  return { l, errors };
}

describe('ipvsadm on this host', () => {
  const probe = spawnSync('ipvsadm', ['-Ln'], { encoding: 'utf8' });
  const hostHasIpvs = probe.status === 0;

  it('ipvsadm is installed (scripts/setup.sh)', () => {
    expect(probe.error, 'ipvsadm is not installed: apt-get install ipvsadm').toBeUndefined();
  });

  it(hostHasIpvs ? 'has IPVS: an empty config syncs with nothing to do' : 'has no IPVS: one clear error, degraded, capped exponential backoff, no throw', async () => {
    const clock = new FakeClock(0);
    const backend = recorder(new IpvsadmBackend(), clock);
    const { l, errors } = logger();
    const r = new Reconciler({ backend, logger: l, clock, minInterval: 0, maxInterval: 3_600_000, retryInitial: 40, retryMax: 160 });
    expect(() => {
      r.setConfig(config);
      r.setBackendState({});
      r.start();
    }).not.toThrow();
    /**
     * Run the next timer the reconciler armed, and wait (bounded) for that run to finish and the
     * reconciler to arm its next timer (it always arms one: the retry, or the resync).
     */
    const nextRun = async (): Promise<void> => {
      const runs = r.snapshot().sync.runs;
      const due = clock.nextDue();
      expect(due, 'the reconciler armed no timer').toBeDefined();
      clock.advance(due! - clock.now());
      await waitFor(`reconciler run ${runs + 1} and its next timer`, () => r.snapshot().sync.runs > runs && clock.nextDue() !== undefined, 15_000);
    };
    if (hostHasIpvs) {
      await nextRun();
      expect(r.snapshot()).toMatchObject({ status: 'in-sync', sync: { consecutiveFailures: 0 } });
      expect(r.snapshot().sync.lastError).toBeUndefined();
      expect(errors).toEqual([]);
      await r.stop();
      return;
    }
    for (let i = 0; i < 8; i++) await nextRun();
    const snap = r.snapshot();
    await r.stop();
    expect(snap.status).toBe('degraded');
    expect(snap.sync.lastErrorKind).toBe('no-ipvs');
    expect(snap.sync.lastError).toMatch(/^IPVS is not available in this kernel \(ipvsadm says: Can't initialize ipvs: .*\); load the ip_vs module or use a kernel with CONFIG_IP_VS$/);
    expect(errors).toEqual([`IPVS sync failed: ${snap.sync.lastError}`]); // logged once, not per retry
    // Every run read the kernel once and failed; the retries came 40, 80, 160, then (capped) 160
    // ms of the reconciler's clock apart.
    expect(snap.sync.consecutiveFailures).toBe(8);
    expect(backend.reads).toHaveLength(8);
    const gaps = backend.reads.slice(1).map((t, i) => t - (backend.reads[i] as number));
    expect(gaps).toEqual([40, 80, 160, 160, 160, 160, 160]);
  });

  it('a missing ipvsadm binary gives one clear error too', async () => {
    const r = new Reconciler({ backend: new IpvsadmBackend({ bin: '/nonexistent/ipvsadm' }), minInterval: 0 });
    r.setConfig(config);
    r.setBackendState({});
    await expect(r.syncNow()).resolves.toMatchObject({ ok: false });
    expect(r.snapshot()).toMatchObject({
      status: 'degraded',
      sync: { lastErrorKind: 'missing-binary', lastError: "Cannot run '/nonexistent/ipvsadm': not found; install the ipvsadm package (Debian: apt-get install ipvsadm)" },
    });
  });

  it('the netlink backend (the default) says the same plainly: no IPVS family, degraded, no throw', async () => {
    expect(createIpvsBackend(ConfigSchema.parse({})).name).toBe('netlink'); // the addon loads here
    const backend = new NetlinkIpvsBackend();
    const { l, errors } = logger();
    const r = new Reconciler({ backend, logger: l, minInterval: 0 });
    r.setConfig(config);
    r.setBackendState({});
    const report = await r.syncNow();
    const snap = r.snapshot();
    backend.close();
    if (hostHasIpvs) {
      expect(report).toMatchObject({ ok: true, operations: [] });
      expect(snap).toMatchObject({ status: 'in-sync', sync: { consecutiveFailures: 0 } });
      expect(errors).toEqual([]);
      return;
    }
    expect(report).toMatchObject({ ok: false });
    expect(snap).toMatchObject({ status: 'degraded', sync: { lastErrorKind: 'no-ipvs' } });
    expect(snap.sync.lastError).toMatch(/^IPVS is not available in this kernel \(generic netlink has no IPVS family.*\); load the ip_vs module or use a kernel with CONFIG_IP_VS$/);
    expect(errors).toEqual([`IPVS sync failed: ${snap.sync.lastError}`]);
  });
});

/**
 * The reconciler over the real `ipvsadm` binary on THIS machine, whose kernel has no IP_VS (and
 * cannot load modules): one clear error, status `degraded`, retries with capped exponential
 * backoff, nothing thrown into the caller. Also a missing binary. The config is empty, so even on
 * a host that does have IPVS nothing would be changed (that case is asserted too).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

import { ConfigSchema } from '../src/config/schema.js';
import type { IpvsBackend } from '../src/ipvs/backend.js';
import { createIpvsBackend } from '../src/ipvs/factory.js';
import { IpvsadmBackend } from '../src/ipvs/ipvsadm.js';
import { NetlinkIpvsBackend } from '../src/ipvs/netlink.js';
import { Reconciler } from '../src/ipvs/reconciler.js';
import { noopLogger, type Logger } from '../src/sys/logger.js';

const config = ConfigSchema.parse({ virtual_servers: [] });

function recorder(inner: IpvsBackend): IpvsBackend & { reads: number[] } {
  const reads: number[] = [];
  return Object.assign(Object.create(inner) as IpvsBackend, {
    reads,
    read: () => {
      reads.push(performance.now());
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
    const backend = recorder(new IpvsadmBackend());
    const { l, errors } = logger();
    const r = new Reconciler({ backend, logger: l, minInterval: 0, retryInitial: 40, retryMax: 160 });
    expect(() => {
      r.setConfig(config);
      r.setBackendState({});
      r.start();
    }).not.toThrow();
    await new Promise((res) => setTimeout(res, 2500));
    const snap = r.snapshot();
    await r.stop();
    // after stop() no read is in flight: every read so far has been counted (a snapshot taken
    // while one runs sees it in `reads` but not yet in the failures)
    const settled = r.snapshot();
    if (hostHasIpvs) {
      expect(snap.status).toBe('in-sync');
      return;
    }
    expect(snap.status).toBe('degraded');
    expect(snap.sync.lastErrorKind).toBe('no-ipvs');
    expect(snap.sync.lastError).toMatch(/^IPVS is not available in this kernel \(ipvsadm says: Can't initialize ipvs: .*\); load the ip_vs module or use a kernel with CONFIG_IP_VS$/);
    expect(errors).toEqual([`IPVS sync failed: ${snap.sync.lastError}`]); // logged once, not per retry
    const gaps = backend.reads.slice(1).map((t, i) => t - (backend.reads[i] as number));
    // 40, 80, 160, 160, ... ms plus the time ipvsadm takes to fail; uncapped doubling would allow
    // only ~6 tries in 2.5 s (40+80+160+320+640+1280)
    expect(gaps[0]).toBeGreaterThanOrEqual(35);
    expect(gaps[1]).toBeGreaterThanOrEqual(75);
    expect(gaps.length).toBeGreaterThanOrEqual(7);
    expect(Math.max(...gaps)).toBeLessThan(160 + 400);
    expect(settled.sync.consecutiveFailures).toBe(backend.reads.length);
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
    await expect(r.syncNow()).resolves.toMatchObject({ ok: false });
    const snap = r.snapshot();
    backend.close();
    if (hostHasIpvs) return;
    expect(snap).toMatchObject({ status: 'degraded', sync: { lastErrorKind: 'no-ipvs' } });
    expect(snap.sync.lastError).toMatch(/^IPVS is not available in this kernel \(generic netlink has no IPVS family.*\); load the ip_vs module or use a kernel with CONFIG_IP_VS$/);
    expect(errors).toEqual([`IPVS sync failed: ${snap.sync.lastError}`]);
  });
});

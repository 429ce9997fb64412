/**
 * AddressOps (rtnetlink) against a real kernel, inside a throwaway network namespace. A Node
 * process cannot switch namespaces, so AddressOps runs in a child there
 * (test/fixtures/net-addresses-guest.ts, driven by a list of steps) and the kernel state is
 * checked with `ip -j addr show` (iproute2 is the reference reader). Needs root, `ip netns`
 * and the built addon: without them the suite FAILS with a clear message (it never skips).
 */
import { afterAll, describe, expect, it } from 'vitest';

import type { Vip } from '../src/config/schema.js';
import { NetnsLab, requireNativeAddon, requireNetnsRoot, run, setupOrFail } from './helpers/netns.js';

const GUEST = 'test/fixtures/net-addresses-guest.ts';

interface AddrInfo {
  family: string;
  local: string;
  address?: string;
  prefixlen: number;
  scope: string;
  label?: string;
  broadcast?: string;
  nodad?: boolean;
  noprefixroute?: boolean;
  home?: boolean;
  mngtmpaddr?: boolean;
  deprecated?: boolean;
  tentative?: boolean;
  preferred_life_time?: number;
  valid_life_time?: number;
}

type Step = Record<string, unknown> & { op: string };
interface StepOut {
  i: number;
  op: string;
  result?: unknown;
  error?: string;
  us?: number;
}

describe('AddressOps (rtnetlink) in a network namespace', () => {
  const lab = new NetnsLab();
  let ns = '';

  setupOrFail(async () => {
    requireNetnsRoot('net address tests');
    requireNativeAddon();
    ns = await lab.addNamespace();
    await lab.addVeth(ns, 'vkt0', ns, 'vkt1');
    await lab.addAddress(ns, 'vkt0', '10.233.0.1/24');
    // DAD on, so a VIP without IFA_F_NODAD would show up `tentative`
    await lab.exec(ns, ['sysctl', '-qw', 'net.ipv6.conf.vkt0.accept_dad=1', 'net.ipv6.conf.vkt1.accept_dad=1']);
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  /** Runs the steps in one guest process; every step must have answered. */
  async function steps(list: Step[]): Promise<StepOut[]> {
    const p = lab.spawnNode(ns, GUEST, { steps: list });
    await p.waitExit(30_000);
    const out = p.jsonLines<StepOut>();
    expect(out.length, p.describe()).toBe(list.length);
    return out;
  }

  /** One step's result (throws with the guest's error). */
  function ok(out: StepOut | undefined): unknown {
    if (!out) throw new Error('missing step');
    if (out.error !== undefined) throw new Error(`${out.op}: ${out.error}`);
    return out.result;
  }

  async function addrs(dev: string): Promise<AddrInfo[]> {
    const { stdout } = await run('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', dev]);
    return (JSON.parse(stdout) as Array<{ addr_info?: AddrInfo[] }>).flatMap((l) => l.addr_info ?? []);
  }

  async function locals(dev: string): Promise<string[]> {
    return (await addrs(dev)).filter((a) => a.scope !== 'link' || a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
  }

  const three: Vip[] = [
    { address: '10.233.0.100', prefix: 32 },
    { address: '10.233.0.101', prefix: 24, label: 'vkt0:vip' },
    { address: 'fd00:233::100', prefix: 128 }, // no `nodad`: IFA_F_NODAD anyway, as keepalived
  ];

  it('adds VIPs (labelled, IPv6 nodad) and keeps them while held; removes them on the last release', async () => {
    const out = await steps([
      { op: 'addVips', vips: three, dev: 'vkt0' },
      { op: 'ip', args: ['addr', 'show', 'dev', 'vkt0'] },
      { op: 'presentVips', vips: three, dev: 'vkt0' },
      // present: not an error, a second reference
      { op: 'addVips', vips: three, dev: 'vkt0' },
      { op: 'refCount', vip: three[0], dev: 'vkt0' },
      { op: 'removeVips', vips: three, dev: 'vkt0' },
      { op: 'presentVips', vips: three, dev: 'vkt0' },
      { op: 'removeVips', vips: three, dev: 'vkt0' },
      { op: 'presentVips', vips: three, dev: 'vkt0' },
      // absent: not an error
      { op: 'removeVips', vips: three, dev: 'vkt0' },
    ]);
    expect(ok(out[0])).toEqual({ ok: true, errors: [] });
    const got = (ok(out[1]) as Array<{ addr_info: AddrInfo[] }>).flatMap((l) => l.addr_info);
    expect(got).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ family: 'inet', local: '10.233.0.100', prefixlen: 32, label: 'vkt0', scope: 'global' }),
        expect.objectContaining({ family: 'inet', local: '10.233.0.101', prefixlen: 24, label: 'vkt0:vip' }),
        expect.objectContaining({ family: 'inet6', local: 'fd00:233::100', prefixlen: 128, nodad: true }),
      ]),
    );
    // nodad: usable at once, never tentative, although DAD is on for vkt0
    expect(got.find((a) => a.local === 'fd00:233::100')).not.toHaveProperty('tentative');
    expect(ok(out[2])).toEqual(three);
    expect(ok(out[3])).toEqual({ ok: true, errors: [] });
    expect(ok(out[4])).toBe(2);
    expect(ok(out[5])).toEqual({ ok: true, errors: [] });
    expect(ok(out[6])).toEqual(three); // still held once
    expect(ok(out[7])).toEqual({ ok: true, errors: [] });
    expect(ok(out[8])).toEqual([]);
    expect(ok(out[9])).toEqual({ ok: true, errors: [] });
    expect(await locals('vkt0')).toEqual(['10.233.0.1/24']);
  });

  it('a takeover is one sub-millisecond-scale transaction, not a process (timing is logged, bound is loose)', async () => {
    const vips: Vip[] = Array.from({ length: 8 }, (_, i) => ({ address: `10.233.3.${i + 1}`, prefix: 32 }));
    const out = await steps([
      // loads the addon and opens the socket, as the daemon's startup cleanupStale does
      { op: 'cleanupStale', vips, dev: 'vkt0' },
      { op: 'addVips', vips, dev: 'vkt0' },
      { op: 'removeVips', vips, dev: 'vkt0' },
    ]);
    expect(ok(out[1])).toEqual({ ok: true, errors: [] });
    expect(ok(out[2])).toEqual({ ok: true, errors: [] });
    console.log(`8 VIPs: startup cleanup ${out[0]!.us} us, add ${out[1]!.us} us, remove ${out[2]!.us} us`);
    expect(out[1]!.us).toBeLessThan(50_000); // an `ip` process took 9-90 ms
    expect(await locals('vkt0')).toEqual(['10.233.0.1/24']);
  });

  it('applies every address option the kernel reports back (brd, scope, peer, lifetimes, IPv6 flags)', async () => {
    const vips: Vip[] = [
      { address: '10.233.1.5', prefix: 24, dev: 'vkt1', brd: '10.233.1.255', scope: 'link', noprefixroute: true, preferred_lft: 0 },
      { address: '10.233.2.5', prefix: 32, dev: 'vkt1', peer: '10.233.2.1' },
      { address: 'fd00:233:1::5', prefix: 64, dev: 'vkt1', nodad: true, home: true, mngtmpaddr: true, noprefixroute: true },
      { address: '10.233.0.102', prefix: 32, scope: 'host' },
      { address: '10.233.0.103', prefix: 32, scope: '200' },
    ];
    const out = await steps([
      { op: 'addVips', vips, dev: 'vkt0' },
      { op: 'presentVips', vips, dev: 'vkt0' },
    ]);
    expect(ok(out[0])).toEqual({ ok: true, errors: [] });
    expect(ok(out[1])).toEqual(vips);
    const v1 = await addrs('vkt1');
    expect(v1.find((a) => a.local === '10.233.1.5')).toMatchObject({
      prefixlen: 24,
      broadcast: '10.233.1.255',
      scope: 'link',
      noprefixroute: true,
      deprecated: true, // preferred_lft 0
    });
    expect(v1.find((a) => a.local === '10.233.2.5')).toMatchObject({ address: '10.233.2.1', prefixlen: 32 });
    expect(v1.find((a) => a.local === 'fd00:233:1::5')).toMatchObject({ prefixlen: 64, nodad: true, home: true, mngtmpaddr: true, noprefixroute: true });
    const v0 = await addrs('vkt0');
    expect(v0.find((a) => a.local === '10.233.0.102')).toMatchObject({ scope: 'host' });
    expect(v0.find((a) => a.local === '10.233.0.103')).toMatchObject({ scope: 'site' });
    const del = await steps([
      { op: 'removeVips', vips, dev: 'vkt0' },
      { op: 'presentVips', vips, dev: 'vkt0' },
    ]);
    expect(ok(del[0])).toEqual({ ok: true, errors: [] });
    expect(ok(del[1])).toEqual([]);
  });

  it('a present address is kept as it is (label, brd) and the add succeeds', async () => {
    await run('ip', ['-n', ns, 'addr', 'add', '10.233.0.140/24', 'dev', 'vkt0', 'label', 'vkt0:pre', 'brd', '10.233.0.255']);
    const vip: Vip = { address: '10.233.0.140', prefix: 24, label: 'vkt0:other' };
    const out = await steps([
      { op: 'addVips', vips: [vip], dev: 'vkt0' },
      { op: 'ip', args: ['addr', 'show', 'dev', 'vkt0'] },
      { op: 'removeVips', vips: [vip], dev: 'vkt0' },
    ]);
    expect(ok(out[0])).toEqual({ ok: true, errors: [] });
    const got = (ok(out[1]) as Array<{ addr_info: AddrInfo[] }>).flatMap((l) => l.addr_info);
    expect(got.filter((a) => a.local === '10.233.0.140')).toEqual([expect.objectContaining({ prefixlen: 24, label: 'vkt0:pre', broadcast: '10.233.0.255' })]);
    expect(ok(out[2])).toEqual({ ok: true, errors: [] });
    expect(await locals('vkt0')).toEqual(['10.233.0.1/24']);
  });

  it('reports a failing VIP (interface, errno text, kernel extack) and still adds the rest', async () => {
    await lab.exec(ns, ['sysctl', '-qw', 'net.ipv6.conf.vkt1.disable_ipv6=1']);
    const good: Vip = { address: '10.233.0.110', prefix: 32 };
    const noDev: Vip = { address: '10.233.0.111', prefix: 32, dev: 'vknosuch' };
    const v6off: Vip = { address: 'fd00:233:2::1', prefix: 64, dev: 'vkt1' };
    const good2: Vip = { address: '10.233.0.112', prefix: 32 };
    const out = await steps([
      { op: 'addVips', vips: [good, noDev, v6off, good2], dev: 'vkt0' },
      { op: 'presentVips', vips: [good, noDev, v6off, good2], dev: 'vkt0' },
      { op: 'refCount', vip: noDev, dev: 'vkt0' },
      { op: 'refCount', vip: good, dev: 'vkt0' },
      // removing VIPs whose interface does not exist is not an error (nothing to remove)
      { op: 'removeVips', vips: [good, noDev, good2], dev: 'vkt0' },
    ]);
    await lab.exec(ns, ['sysctl', '-qw', 'net.ipv6.conf.vkt1.disable_ipv6=0']);
    const r = ok(out[0]) as { ok: boolean; errors: { vip: Vip; message: string }[] };
    expect(r.ok).toBe(false);
    expect(r.errors).toHaveLength(2);
    expect(r.errors[0]).toEqual({ vip: noDev, message: 'addr add 10.233.0.111/32 dev vknosuch: Cannot find device "vknosuch"' });
    expect(r.errors[1]!.vip).toEqual(v6off);
    // e.g. "addr add fd00:233:2::1/64 dev vkt1: EACCES (Permission denied): ipv6: IPv6 is disabled on this device"
    expect(r.errors[1]!.message).toMatch(/^addr add fd00:233:2::1\/64 dev vkt1: E[A-Z]+ \(.+\): .*IPv6 is disabled/);
    expect(ok(out[1])).toEqual([good, good2]);
    expect(ok(out[2])).toBe(0);
    expect(ok(out[3])).toBe(1);
    expect(ok(out[4])).toEqual({ ok: true, errors: [] });
    expect(await locals('vkt0')).toEqual(['10.233.0.1/24']);
  });

  it('cleanupStale removes VIPs a crashed run left behind, and nothing else', async () => {
    const stale: Vip[] = [
      { address: '10.233.0.120', prefix: 32 },
      { address: 'fd00:233::120', prefix: 128 },
      { address: '10.233.0.121', prefix: 32 }, // configured but absent
      { address: '10.233.0.130', prefix: 24 }, // present with another prefix: not this VIP
    ];
    await run('ip', ['-n', ns, 'addr', 'add', '10.233.0.130/32', 'dev', 'vkt0']); // not ours
    const out = await steps([
      // "the earlier run": an instance that never releases
      { op: 'addVips', ops: 'crashed', vips: stale.slice(0, 2), dev: 'vkt0' },
      { op: 'cleanupStale', ops: 'fresh', vips: stale, dev: 'vkt0' },
      { op: 'presentVips', ops: 'fresh', vips: stale, dev: 'vkt0' },
      // held VIPs are not stale
      { op: 'addVips', ops: 'fresh', vips: stale.slice(0, 1), dev: 'vkt0' },
      { op: 'cleanupStale', ops: 'fresh', vips: stale, dev: 'vkt0' },
      { op: 'presentVips', ops: 'fresh', vips: stale, dev: 'vkt0' },
      { op: 'removeVips', ops: 'fresh', vips: stale.slice(0, 1), dev: 'vkt0' },
    ]);
    expect(ok(out[0])).toEqual({ ok: true, errors: [] });
    expect(ok(out[1])).toEqual({ ok: true, errors: [], removed: stale.slice(0, 2) });
    expect(ok(out[2])).toEqual([]);
    expect(ok(out[4])).toEqual({ ok: true, errors: [], removed: [] });
    expect(ok(out[5])).toEqual(stale.slice(0, 1));
    expect((await locals('vkt0')).sort()).toEqual(['10.233.0.1/24', '10.233.0.130/32']);
  });

  it('primaryAddress and interfaceExists', async () => {
    await lab.addAddress(ns, 'vkt0', '10.233.0.200/32');
    await lab.addAddress(ns, 'vkt0', '10.233.0.2/24'); // secondary of 10.233.0.1/24
    const ll = await lab.linkLocal(ns, 'vkt0');
    const out = await steps([
      { op: 'primaryAddress', dev: 'vkt0', family: 4 },
      { op: 'primaryAddress', dev: 'vkt0', family: 6 },
      { op: 'primaryAddress', dev: 'vkt1', family: 4 },
      { op: 'primaryAddress', dev: 'vknosuch', family: 4 },
      { op: 'interfaceExists', dev: 'vkt1' },
      { op: 'interfaceExists', dev: 'vknosuch' },
    ]);
    expect(ok(out[0])).toBe('10.233.0.1');
    expect(ok(out[1])).toBe(ll);
    expect(ok(out[2])).toBeNull();
    expect(ok(out[3])).toBeNull();
    expect(ok(out[4])).toBe(true);
    expect(ok(out[5])).toBe(false);
  });
});

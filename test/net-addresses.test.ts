/**
 * AddressOps against a real kernel, inside a throwaway network namespace
 * (`ip -n NS ...`; nothing outside it is touched). Needs root and `ip netns`:
 * without them the suite FAILS with a clear message (it never skips).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Vip } from '../src/config/schema.js';
import { createAddressOps, type AddressOps } from '../src/net/addresses.js';
import { spawnRunner, type BatchRunner } from '../src/net/ip-batch.js';
import { NetnsLab, requireNetnsRoot, run } from './helpers/netns.js';

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
}

describe('AddressOps in a network namespace', () => {
  const lab = new NetnsLab();
  let ns = '';
  const batches: string[] = [];
  let ops: AddressOps;

  /** The real runner, recording each batch's stdin. */
  const recording: BatchRunner = (args, input) => {
    if (args.includes('-batch')) batches.push(input ?? '');
    return spawnRunner()(args, input);
  };

  async function addrs(dev: string): Promise<AddrInfo[]> {
    const { stdout } = await run('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', dev]);
    return (JSON.parse(stdout) as Array<{ addr_info?: AddrInfo[] }>).flatMap((l) => l.addr_info ?? []);
  }

  async function locals(dev: string): Promise<string[]> {
    return (await addrs(dev)).filter((a) => a.scope !== 'link' || a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
  }

  beforeAll(async () => {
    requireNetnsRoot('net address tests');
    ns = await lab.addNamespace();
    await lab.addVeth(ns, 'vkt0', ns, 'vkt1');
    await lab.addAddress(ns, 'vkt0', '10.233.0.1/24');
    ops = createAddressOps({ netns: ns, run: recording });
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  const three: Vip[] = [
    { address: '10.233.0.100', prefix: 32 },
    { address: '10.233.0.101', prefix: 24, label: 'vkt0:vip' },
    { address: 'fd00:233::100', prefix: 128, nodad: true },
  ];

  it('adds 3 VIPs (one labelled, one IPv6 nodad) in ONE batch', async () => {
    batches.length = 0;
    expect(await ops.addVips(three, 'vkt0')).toEqual({ ok: true, errors: [] });
    expect(batches).toHaveLength(1);
    expect(batches[0]!.trim().split('\n')).toHaveLength(3);
    const got = await addrs('vkt0');
    expect(got).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ family: 'inet', local: '10.233.0.100', prefixlen: 32, label: 'vkt0' }),
        expect.objectContaining({ family: 'inet', local: '10.233.0.101', prefixlen: 24, label: 'vkt0:vip' }),
        expect.objectContaining({ family: 'inet6', local: 'fd00:233::100', prefixlen: 128, nodad: true }),
      ]),
    );
    // nodad: usable at once, never tentative
    expect(got.find((a) => a.local === 'fd00:233::100')).not.toHaveProperty('tentative');
    expect(await ops.presentVips(three, 'vkt0')).toEqual(three);
  });

  it('adding present VIPs is not an error and runs no batch; a second holder keeps them', async () => {
    batches.length = 0;
    expect(await ops.addVips(three, 'vkt0')).toEqual({ ok: true, errors: [] });
    expect(batches).toHaveLength(0);
    expect(ops.refCount(three[0]!, 'vkt0')).toBe(2);
    // first release: still held, still there
    expect(await ops.removeVips(three, 'vkt0')).toEqual({ ok: true, errors: [] });
    expect(batches).toHaveLength(0);
    expect(await ops.presentVips(three, 'vkt0')).toEqual(three);
  });

  it('removes them in ONE batch on the last release; removing absent VIPs is not an error', async () => {
    batches.length = 0;
    expect(await ops.removeVips(three, 'vkt0')).toEqual({ ok: true, errors: [] });
    expect(batches).toHaveLength(1);
    expect(await ops.presentVips(three, 'vkt0')).toEqual([]);
    expect(await locals('vkt0')).toEqual(['10.233.0.1/24']);
    expect(await ops.removeVips(three, 'vkt0')).toEqual({ ok: true, errors: [] });
    expect(batches).toHaveLength(1);
  });

  it('applies every ip addr option the kernel reports back', async () => {
    const vips: Vip[] = [
      { address: '10.233.1.5', prefix: 24, dev: 'vkt1', brd: '10.233.1.255', scope: 'link', noprefixroute: true, preferred_lft: 0 },
      { address: '10.233.2.5', prefix: 32, dev: 'vkt1', peer: '10.233.2.1' },
      { address: 'fd00:233:1::5', prefix: 64, dev: 'vkt1', nodad: true, home: true, mngtmpaddr: true, noprefixroute: true },
      { address: '10.233.0.102', prefix: 32, scope: 'host' },
    ];
    expect(await ops.addVips(vips, 'vkt0')).toEqual({ ok: true, errors: [] });
    const v1 = await addrs('vkt1');
    expect(v1.find((a) => a.local === '10.233.1.5')).toMatchObject({
      prefixlen: 24,
      broadcast: '10.233.1.255',
      scope: 'link',
      noprefixroute: true,
      deprecated: true, // preferred_lft 0
    });
    expect(v1.find((a) => a.local === '10.233.2.5')).toMatchObject({ address: '10.233.2.1', prefixlen: 32 });
    expect(v1.find((a) => a.local === 'fd00:233:1::5')).toMatchObject({
      prefixlen: 64,
      nodad: true,
      home: true,
      mngtmpaddr: true,
      noprefixroute: true,
    });
    expect((await addrs('vkt0')).find((a) => a.local === '10.233.0.102')).toMatchObject({ scope: 'host' });
    expect(await ops.presentVips(vips, 'vkt0')).toEqual(vips);
    expect(await ops.removeVips(vips, 'vkt0')).toEqual({ ok: true, errors: [] });
    expect(await ops.presentVips(vips, 'vkt0')).toEqual([]);
  });

  it('reports a failing VIP and still adds the rest of the batch (-force)', async () => {
    const good: Vip = { address: '10.233.0.110', prefix: 32 };
    const bad: Vip = { address: '10.233.0.111', prefix: 32, dev: 'vknosuch' };
    const good2: Vip = { address: '10.233.0.112', prefix: 32 };
    batches.length = 0;
    const r = await ops.addVips([good, bad, good2], 'vkt0');
    expect(batches).toHaveLength(1);
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual([{ vip: bad, message: expect.stringMatching(/vknosuch.*(Cannot find device|does not exist)/) as unknown as string }]);
    expect(await ops.presentVips([good, bad, good2], 'vkt0')).toEqual([good, good2]);
    expect(ops.refCount(bad, 'vkt0')).toBe(0);
    await ops.removeVips([good, good2], 'vkt0');
  });

  it('cleanupStale removes VIPs a crashed run left behind, and nothing else', async () => {
    const stale: Vip[] = [
      { address: '10.233.0.120', prefix: 32 },
      { address: 'fd00:233::120', prefix: 128, nodad: true },
      { address: '10.233.0.121', prefix: 32 }, // configured but absent
    ];
    // "the earlier run": a separate AddressOps that never releases
    const crashed = createAddressOps({ netns: ns });
    await crashed.addVips(stale.slice(0, 2), 'vkt0');
    await run('ip', ['-n', ns, 'addr', 'add', '10.233.0.130/32', 'dev', 'vkt0']); // not ours

    const fresh = createAddressOps({ netns: ns });
    const r = await fresh.cleanupStale(stale, 'vkt0');
    expect(r).toEqual({ ok: true, errors: [], removed: stale.slice(0, 2) });
    expect(await fresh.presentVips(stale, 'vkt0')).toEqual([]);
    expect((await locals('vkt0')).sort()).toEqual(['10.233.0.1/24', '10.233.0.130/32']);
  });

  it('primaryAddress and interfaceExists', async () => {
    await lab.addAddress(ns, 'vkt0', '10.233.0.200/32');
    expect(await ops.primaryAddress('vkt0', 4)).toBe('10.233.0.1');
    expect(await ops.primaryAddress('vkt0', 6)).toBe(await lab.linkLocal(ns, 'vkt0'));
    expect(await ops.primaryAddress('vkt1', 4)).toBeUndefined();
    expect(await ops.primaryAddress('vknosuch', 4)).toBeUndefined();
    expect(await ops.interfaceExists('vkt1')).toBe(true);
    expect(await ops.interfaceExists('vknosuch')).toBe(false);
  });
});

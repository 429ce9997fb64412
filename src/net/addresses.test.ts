import { describe, expect, it } from 'vitest';

import type { Vip } from '../config/schema.js';
import { addLine, createAddressOps, delLine, vipProblem } from './addresses.js';
import type { BatchRunner } from './ip-batch.js';

interface Addr {
  dev: string;
  local: string;
  prefixlen: number;
  peer?: string;
  family?: 'inet' | 'inet6';
  scope?: string;
  secondary?: boolean;
  tentative?: boolean;
}

/**
 * A fake `ip`: answers `-j addr show` / `-j link show` from `addrs`, records
 * every `-batch` input and answers it with `batchStderr` (default success).
 */
function fakeIp(initial: Addr[] = []) {
  const state = {
    addrs: [...initial],
    devs: new Set(['eth0', 'eth1', ...initial.map((a) => a.dev)]),
    batches: [] as { args: readonly string[]; lines: string[] }[],
    reads: [] as (readonly string[])[],
    batchStderr: (_lines: string[]): string => '',
  };
  const run: BatchRunner = (args, input) => {
    if (args.includes('-batch')) {
      const lines = (input ?? '').split('\n').filter(Boolean);
      state.batches.push({ args, lines });
      const stderr = state.batchStderr(lines);
      return Promise.resolve({ code: stderr ? 1 : 0, stdout: '', stderr });
    }
    state.reads.push(args);
    const devIdx = args.indexOf('dev');
    const dev = devIdx >= 0 ? args[devIdx + 1] : undefined;
    if (dev !== undefined && !state.devs.has(dev)) {
      return Promise.resolve({ code: 1, stdout: '', stderr: `Device "${dev}" does not exist.\n` });
    }
    const devs = dev !== undefined ? [dev] : [...state.devs];
    const out = devs.map((d) => ({
      ifname: d,
      addr_info: state.addrs
        .filter((a) => a.dev === d)
        .map((a) => ({
          family: a.family ?? (a.local.includes(':') ? 'inet6' : 'inet'),
          local: a.local,
          ...(a.peer ? { address: a.peer } : {}),
          prefixlen: a.prefixlen,
          scope: a.scope ?? 'global',
          ...(a.secondary ? { secondary: true } : {}),
          ...(a.tentative ? { tentative: true } : {}),
        })),
    }));
    return Promise.resolve({ code: 0, stdout: JSON.stringify(out), stderr: '' });
  };
  return { state, run };
}

const v4: Vip = { address: '10.1.0.10', prefix: 32 };

describe('ip addr lines', () => {
  it('maps every IPv4 option', () => {
    const vip: Vip = {
      address: '10.1.0.10',
      prefix: 24,
      dev: 'eth1',
      brd: '10.1.0.255',
      scope: 'link',
      label: 'eth1:vip',
      noprefixroute: true,
      autojoin: true,
      preferred_lft: 0,
      // IPv6-only flags are left out for IPv4 (ip would only warn)
      home: true,
      nodad: true,
      mngtmpaddr: true,
      no_track: true,
    };
    expect(addLine(vip, 'eth0')).toBe(
      'addr add 10.1.0.10/24 dev eth1 brd 10.1.0.255 scope link label eth1:vip noprefixroute autojoin preferred_lft 0',
    );
    expect(delLine(vip, 'eth0')).toBe('addr del 10.1.0.10/24 dev eth1');
  });

  it('maps every IPv6 option; brd and label are IPv4-only', () => {
    const vip: Vip = {
      address: 'fd00:1::10',
      prefix: 64,
      brd: '10.1.0.255',
      label: 'eth0:x',
      scope: 'global',
      home: true,
      nodad: true,
      mngtmpaddr: true,
      noprefixroute: true,
      autojoin: true,
      preferred_lft: 'forever',
    };
    expect(addLine(vip, 'eth0')).toBe(
      'addr add fd00:1::10/64 dev eth0 scope global home nodad mngtmpaddr noprefixroute autojoin preferred_lft forever',
    );
    expect(delLine(vip, 'eth0')).toBe('addr del fd00:1::10/64 dev eth0');
  });

  it('gives the prefix to the peer, as ip and keepalived do', () => {
    const vip: Vip = { address: '10.1.0.10', prefix: 32, peer: '10.9.9.9' };
    expect(addLine(vip, 'eth0')).toBe('addr add 10.1.0.10 peer 10.9.9.9/32 dev eth0');
    expect(delLine(vip, 'eth0')).toBe('addr del 10.1.0.10 peer 10.9.9.9/32 dev eth0');
  });

  it('uses defaults: dev from the call, nothing else', () => {
    expect(addLine(v4, 'eth0')).toBe('addr add 10.1.0.10/32 dev eth0');
    expect(addLine({ address: 'fd00::1', prefix: 128 }, 'eth0')).toBe('addr add fd00::1/128 dev eth0');
  });

  it('rejects what would break or abort the batch', () => {
    expect(vipProblem(v4, 'eth0')).toBeUndefined();
    expect(vipProblem({ ...v4, scope: 'weird' }, 'eth0')).toMatch(/invalid scope/);
    expect(vipProblem({ ...v4, scope: '200' }, 'eth0')).toBeUndefined();
    expect(vipProblem({ ...v4, dev: 'eth 0' }, 'eth0')).toMatch(/interface name/);
    expect(vipProblem(v4, 'averyveryverylongname')).toMatch(/interface name/);
    expect(vipProblem({ ...v4, label: 'a b' }, 'eth0')).toMatch(/label/);
    expect(vipProblem({ ...v4, prefix: 33 }, 'eth0')).toMatch(/prefix/);
    expect(vipProblem({ ...v4, peer: 'fd00::1' }, 'eth0')).toMatch(/peer/);
    expect(vipProblem({ ...v4, address: 'nope' }, 'eth0')).toMatch(/address/);
  });
});

describe('AddressOps with a fake ip', () => {
  const vips: Vip[] = [
    { address: '10.1.0.10', prefix: 32 },
    { address: '10.1.0.11', prefix: 24, dev: 'eth1', label: 'eth1:1' },
    { address: 'fd00:1::10', prefix: 128, nodad: true },
  ];

  it('reads once, then adds everything in ONE batch', async () => {
    const { state, run } = fakeIp();
    const ops = createAddressOps({ run, netns: 'ns1' });
    const r = await ops.addVips(vips, 'eth0');
    expect(r).toEqual({ ok: true, errors: [] });
    expect(state.reads).toEqual([['-n', 'ns1', '-j', 'addr', 'show']]);
    expect(state.batches).toEqual([
      {
        args: ['-n', 'ns1', '-force', '-batch', '-'],
        lines: [
          'addr add 10.1.0.10/32 dev eth0',
          'addr add 10.1.0.11/24 dev eth1 label eth1:1',
          'addr add fd00:1::10/128 dev eth0 nodad',
        ],
      },
    ]);
  });

  it('skips present addresses (IPv6 compared in canonical form), and runs no batch when all are present', async () => {
    const { state, run } = fakeIp([
      { dev: 'eth0', local: '10.1.0.10', prefixlen: 32 },
      { dev: 'eth0', local: 'fd00:1::10', prefixlen: 128 },
    ]);
    const ops = createAddressOps({ run });
    await ops.addVips([...vips, { address: 'FD00:1:0::10', prefix: 128 }], 'eth0');
    expect(state.batches.map((b) => b.lines)).toEqual([['addr add 10.1.0.11/24 dev eth1 label eth1:1']]);
    state.addrs.push({ dev: 'eth1', local: '10.1.0.11', prefixlen: 24 });
    await ops.addVips(vips, 'eth0');
    expect(state.batches).toHaveLength(1);
  });

  it('treats the same address on another device or with another prefix as absent', async () => {
    const { state, run } = fakeIp([
      { dev: 'eth1', local: '10.1.0.10', prefixlen: 32 },
      { dev: 'eth0', local: '10.1.0.10', prefixlen: 24 },
    ]);
    const ops = createAddressOps({ run });
    expect(await ops.presentVips([v4], 'eth0')).toEqual([]);
    await ops.addVips([v4], 'eth0');
    expect(state.batches.map((b) => b.lines)).toEqual([['addr add 10.1.0.10/32 dev eth0']]);
  });

  it('matches peer addresses by local, peer and prefix', async () => {
    const peerVip: Vip = { address: '10.1.0.10', prefix: 32, peer: '10.9.9.9' };
    const { run } = fakeIp([{ dev: 'eth0', local: '10.1.0.10', prefixlen: 32, peer: '10.9.9.9' }]);
    const ops = createAddressOps({ run });
    expect(await ops.presentVips([peerVip, v4], 'eth0')).toEqual([peerVip]);
  });

  it('removes only present addresses in ONE batch', async () => {
    const { state, run } = fakeIp([
      { dev: 'eth0', local: '10.1.0.10', prefixlen: 32 },
      { dev: 'eth0', local: 'fd00:1::10', prefixlen: 128 },
    ]);
    const ops = createAddressOps({ run });
    const r = await ops.removeVips(vips, 'eth0');
    expect(r).toEqual({ ok: true, errors: [] });
    expect(state.batches.map((b) => b.lines)).toEqual([
      ['addr del 10.1.0.10/32 dev eth0', 'addr del fd00:1::10/128 dev eth0'],
    ]);
  });

  it('accepts "already assigned" on add and "not found" on remove (races), reports other errors per VIP', async () => {
    const { state, run } = fakeIp();
    state.batchStderr = (lines) =>
      lines[0]!.startsWith('addr add')
        ? 'Error: ipv4: Address already assigned.\nCommand failed -:1\nCannot find device "eth1"\nCommand failed -:2\n' +
          'RTNETLINK answers: File exists\nCommand failed -:3\n'
        : '';
    const ops = createAddressOps({ run });
    const r = await ops.addVips(vips, 'eth0');
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual([
      { vip: vips[1], message: 'addr add 10.1.0.11/24 dev eth1 label eth1:1: Cannot find device "eth1"' },
    ]);
    // the failed VIP took no reference
    expect(vips.map((v) => ops.refCount(v, 'eth0'))).toEqual([1, 0, 1]);

    state.addrs.push({ dev: 'eth0', local: '10.1.0.10', prefixlen: 32 }, { dev: 'eth0', local: 'fd00:1::10', prefixlen: 128 });
    state.batchStderr = () =>
      'Error: ipv4: Address not found.\nCommand failed -:1\nError: ipv6: address not found.\nCommand failed -:2\n';
    expect(await ops.removeVips(vips, 'eth0')).toEqual({ ok: true, errors: [] });
  });

  it('reports invalid VIPs without running them, and does not acquire them', async () => {
    const { state, run } = fakeIp();
    const ops = createAddressOps({ run });
    const bad: Vip = { address: '10.1.0.12', prefix: 32, scope: 'bogus' };
    const r = await ops.addVips([v4, bad], 'eth0');
    expect(r.errors).toEqual([{ vip: bad, message: expect.stringMatching(/invalid scope/) as unknown as string }]);
    expect(state.batches.map((b) => b.lines)).toEqual([['addr add 10.1.0.10/32 dev eth0']]);
    expect(ops.refCount(bad, 'eth0')).toBe(0);
  });

  describe('refcounts', () => {
    it('adds on 0 → 1 and deletes only on 1 → 0', async () => {
      const { state, run } = fakeIp();
      const ops = createAddressOps({ run });
      await ops.addVips([v4], 'eth0'); // instance A
      state.addrs.push({ dev: 'eth0', local: '10.1.0.10', prefixlen: 32 });
      await ops.addVips([v4, { address: '10.1.0.20', prefix: 32 }], 'eth0'); // instance B
      expect(ops.refCount(v4, 'eth0')).toBe(2);
      expect(state.batches.map((b) => b.lines)).toEqual([
        ['addr add 10.1.0.10/32 dev eth0'],
        ['addr add 10.1.0.20/32 dev eth0'],
      ]);

      const readsBefore = state.reads.length;
      expect(await ops.removeVips([v4], 'eth0')).toEqual({ ok: true, errors: [] }); // A leaves MASTER
      expect(ops.refCount(v4, 'eth0')).toBe(1);
      expect(state.batches).toHaveLength(2); // still held by B: no kernel call at all
      expect(state.reads).toHaveLength(readsBefore);

      await ops.removeVips([v4], 'eth0'); // B leaves MASTER
      expect(ops.refCount(v4, 'eth0')).toBe(0);
      expect(state.batches.at(-1)!.lines).toEqual(['addr del 10.1.0.10/32 dev eth0']);
    });

    it('keys by device: the default device counts', async () => {
      const { run } = fakeIp();
      const ops = createAddressOps({ run });
      await ops.addVips([v4], 'eth0');
      expect(ops.refCount(v4, 'eth0')).toBe(1);
      expect(ops.refCount(v4, 'eth1')).toBe(0);
      expect(ops.refCount({ ...v4, dev: 'eth0' }, 'eth1')).toBe(1);
    });

    it('counts a VIP listed twice in one call once', async () => {
      const { run } = fakeIp();
      const ops = createAddressOps({ run });
      await ops.addVips([v4, { ...v4 }], 'eth0');
      expect(ops.refCount(v4, 'eth0')).toBe(1);
    });

    it('removing an unheld VIP ensures it is absent', async () => {
      const { state, run } = fakeIp([{ dev: 'eth0', local: '10.1.0.10', prefixlen: 32 }]);
      const ops = createAddressOps({ run });
      await ops.removeVips([v4], 'eth0');
      expect(state.batches.map((b) => b.lines)).toEqual([['addr del 10.1.0.10/32 dev eth0']]);
      expect(ops.refCount(v4, 'eth0')).toBe(0);
    });

    it('serialises calls, so a concurrent add and remove see each other', async () => {
      const { state, run } = fakeIp();
      const ops = createAddressOps({ run });
      // Apply batches to the fake kernel state, like the real one.
      state.batchStderr = (lines) => {
        for (const l of lines) {
          const [, op, cidr] = l.split(' ');
          const [local, p] = cidr!.split('/');
          if (op === 'add') state.addrs.push({ dev: 'eth0', local: local!, prefixlen: Number(p) });
          else state.addrs = state.addrs.filter((a) => a.local !== local);
        }
        return '';
      };
      await ops.addVips([v4], 'eth0');
      await Promise.all([ops.removeVips([v4], 'eth0'), ops.addVips([v4], 'eth0')]);
      expect(state.addrs).toEqual([{ dev: 'eth0', local: '10.1.0.10', prefixlen: 32 }]);
      expect(ops.refCount(v4, 'eth0')).toBe(1);
    });
  });

  it('cleanupStale removes present, unheld VIPs only', async () => {
    const held: Vip = { address: '10.1.0.30', prefix: 32 };
    const { state, run } = fakeIp();
    const ops = createAddressOps({ run });
    await ops.addVips([held], 'eth0');
    state.addrs.push(
      { dev: 'eth0', local: '10.1.0.30', prefixlen: 32 },
      { dev: 'eth0', local: '10.1.0.10', prefixlen: 32 },
      { dev: 'eth0', local: 'fd00:1::10', prefixlen: 128 },
    );
    const r = await ops.cleanupStale([...vips, held], 'eth0');
    expect(r).toEqual({ ok: true, errors: [], removed: [vips[0], vips[2]] });
    expect(state.batches.at(-1)!.lines).toEqual(['addr del 10.1.0.10/32 dev eth0', 'addr del fd00:1::10/128 dev eth0']);
  });

  it('primaryAddress: first primary global IPv4; first usable IPv6 link-local', async () => {
    const { state, run } = fakeIp([
      { dev: 'eth0', local: '10.1.0.99', prefixlen: 32, scope: 'host' },
      { dev: 'eth0', local: '10.1.0.5', prefixlen: 24, secondary: true },
      { dev: 'eth0', local: '10.2.0.1', prefixlen: 24 },
      { dev: 'eth0', local: 'fe80::1', prefixlen: 64, scope: 'link', tentative: true },
      { dev: 'eth0', local: 'fd00::1', prefixlen: 64 },
      { dev: 'eth0', local: 'fe80::2', prefixlen: 64, scope: 'link' },
    ]);
    const ops = createAddressOps({ run });
    expect(await ops.primaryAddress('eth0', 4)).toBe('10.2.0.1');
    expect(await ops.primaryAddress('eth0', 6)).toBe('fe80::2');
    expect(state.reads).toEqual([
      ['-j', '-4', 'addr', 'show', 'dev', 'eth0'],
      ['-j', '-6', 'addr', 'show', 'dev', 'eth0'],
    ]);
    expect(await ops.primaryAddress('eth1', 4)).toBeUndefined();
    expect(await ops.primaryAddress('nosuch', 6)).toBeUndefined();
  });

  it('interfaceExists', async () => {
    const { run } = fakeIp();
    const ops = createAddressOps({ run });
    expect(await ops.interfaceExists('eth0')).toBe(true);
    expect(await ops.interfaceExists('nosuch')).toBe(false);
  });
});

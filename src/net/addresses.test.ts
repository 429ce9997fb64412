import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import type { Vip } from '../config/schema.js';
import { createAddressOps, describeVip, vipProblem, type AddressOpsOptions } from './addresses.js';
import { attr, encodeAttrs, encodeMessage, NLM_F_ACK, NLM_F_CREATE, NLM_F_MULTI, NLM_F_REPLACE, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, parseMessages, type NetlinkTransport, type NlMessage } from './netlink.js';
import { ipBytes } from '../vocab/ip.js';

const ipv6Bytes = (a: string) => ipBytes(a, 6);
import {
  AF_INET,
  AF_INET6,
  IFA_ADDRESS,
  IFA_F_NODAD,
  IFA_F_SECONDARY,
  IFA_F_TENTATIVE,
  IFA_FLAGS,
  IFA_LABEL,
  IFA_LOCAL,
  ifaddrmsg,
  parseAddrMessage,
  RT_SCOPE_LINK,
  RTM_DELADDR,
  RTM_GETADDR,
  RTM_NEWADDR,
} from './rtnetlink-address.js';

interface KAddr {
  index: number;
  family: 4 | 6;
  local: string;
  prefixlen: number;
  peer?: string;
  scope?: number;
  flags?: number;
  label?: string;
}

const canon = (a: string) => (a.includes(':') ? ipv6Bytes(a).toString('hex') : a);
const same = (a: KAddr, b: KAddr) => a.index === b.index && canon(a.local) === canon(b.local) && a.prefixlen === b.prefixlen && canon(a.peer ?? a.local) === canon(b.peer ?? b.local);

function ack(seq: number, errno: number, extack?: string): Buffer {
  const tlvs = extack ? encodeAttrs([attr.str(1, extack)]) : Buffer.alloc(0);
  const payload = Buffer.alloc(20 + tlvs.length);
  payload.writeInt32LE(-errno, 0);
  tlvs.copy(payload, 20);
  return encodeMessage({ type: NLMSG_ERROR, flags: 0x100 | (extack ? 0x200 : 0), seq, header: payload });
}

/**
 * A fake rtnetlink kernel: interfaces by name/index, an address table, RTM_NEWADDR
 * (EEXIST without NLM_F_REPLACE), RTM_DELADDR (EADDRNOTAVAIL when absent), RTM_GETADDR
 * dumps. `fail(msg)` can force an errno (+ extack) for a request.
 */
function fakeKernel(initial: KAddr[] = []) {
  const state = {
    devs: new Map<string, number>([
      ['eth0', 2],
      ['eth1', 3],
    ]),
    addrs: [...initial],
    /** every transaction: the messages it carried */
    transactions: [] as NlMessage[][],
    opened: 0,
    closed: 0,
    fail: (_m: NlMessage, _a: KAddr | undefined): { errno: number; extack?: string } | undefined => undefined,
    throwNext: undefined as Error | undefined,
  };
  const transport = (): NetlinkTransport => {
    state.opened++;
    return {
      transact(req) {
        if (state.throwNext) {
          const e = state.throwNext;
          state.throwNext = undefined;
          throw e;
        }
        const msgs = parseMessages(Buffer.from(req));
        state.transactions.push(msgs);
        const out: Buffer[] = [];
        for (const m of msgs) {
          expect(m.flags & NLM_F_REQUEST).toBeTruthy();
          if (m.type === RTM_GETADDR) {
            const fam = m.payload.readUInt8(0);
            for (const a of state.addrs) {
              if (fam && fam !== (a.family === 4 ? AF_INET : AF_INET6)) continue;
              const bytes = (s: string) => (s.includes(':') ? ipv6Bytes(s) : Buffer.from(s.split('.').map(Number)));
              const attrs = [attr.bytes(IFA_ADDRESS, bytes(a.peer ?? a.local)), attr.bytes(IFA_LOCAL, bytes(a.local)), attr.u32(IFA_FLAGS, a.flags ?? 0)];
              if (a.label) attrs.push(attr.str(IFA_LABEL, a.label));
              out.push(encodeMessage({ type: RTM_NEWADDR, flags: NLM_F_MULTI, seq: m.seq, header: ifaddrmsg({ family: a.family === 4 ? AF_INET : AF_INET6, prefixlen: a.prefixlen, flags: a.flags ?? 0, scope: a.scope ?? 0, index: a.index }), attrs }));
            }
            out.push(encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI, seq: m.seq, header: Buffer.alloc(4) }));
            continue;
          }
          const parsed = m.type === RTM_NEWADDR || m.type === RTM_DELADDR ? parseAddrMessage({ ...m, type: RTM_NEWADDR }) : undefined;
          const a: KAddr | undefined = parsed && { index: parsed.index, family: parsed.family, local: parsed.local, prefixlen: parsed.prefixlen, ...(parsed.peer ? { peer: parsed.peer } : {}), scope: parsed.scope, flags: parsed.flags, ...(parsed.label ? { label: parsed.label } : {}) };
          const forced = state.fail(m, a);
          if (forced) {
            out.push(ack(m.seq, forced.errno, forced.extack));
            continue;
          }
          if (!a) {
            out.push(ack(m.seq, 22));
          } else if (![...state.devs.values()].includes(a.index)) {
            out.push(ack(m.seq, 19));
          } else if (m.type === RTM_NEWADDR) {
            const present = state.addrs.find((x) => same(x, a));
            if (present && !(m.flags & NLM_F_REPLACE)) out.push(ack(m.seq, 17, 'ipv4: Address already assigned'));
            else {
              if (!present) state.addrs.push(a);
              out.push(ack(m.seq, 0));
            }
          } else {
            const i = state.addrs.findIndex((x) => same(x, a));
            if (i < 0) out.push(ack(m.seq, 99));
            else {
              state.addrs.splice(i, 1);
              out.push(ack(m.seq, 0));
            }
          }
        }
        return Buffer.concat(out);
      },
      transactAsync: () => Promise.reject(new Error('not used')),
      close() {
        state.closed++;
      },
    };
  };
  const ifIndex = (dev: string): number => {
    const i = state.devs.get(dev);
    if (i === undefined) throw Object.assign(new Error(`if_nametoindex(${dev}): no such device`), { code: 'ENODEV' });
    return i;
  };
  const opts: AddressOpsOptions = { transport, ifIndex };
  /** type of each message of each transaction */
  const shape = () => state.transactions.map((t) => t.map((m) => (m.type === RTM_NEWADDR ? 'add' : m.type === RTM_DELADDR ? 'del' : m.type === RTM_GETADDR ? 'dump' : String(m.type))));
  const present = () => state.addrs.map((a) => `${a.index}:${a.local}/${a.prefixlen}`).sort();
  return { state, opts, shape, present };
}

const v4: Vip = { address: '10.1.0.10', prefix: 32 };

describe('VIP validation and descriptions', () => {
  it('accepts what the kernel can take, rejects the rest with a reason', () => {
    expect(vipProblem({ address: '10.1.0.10', prefix: 24, dev: 'eth1', brd: '10.1.0.255', scope: 'link', label: 'eth1:vip', preferred_lft: 0 }, 'eth0')).toBeUndefined();
    expect(vipProblem({ address: 'fd00::1', prefix: 64, scope: '200', preferred_lft: 'forever' }, 'eth0')).toBeUndefined();
    const bad: [Vip, string, RegExp][] = [
      [{ address: '10.1.0.300', prefix: 32 }, 'eth0', /invalid address/],
      [{ address: '10.1.0.1', prefix: 33 }, 'eth0', /invalid prefix \/33 for IPv4/],
      [{ address: 'fd00::1', prefix: 129 }, 'eth0', /invalid prefix/],
      [{ address: '10.1.0.1', prefix: 32 }, '', /invalid interface name ""/],
      [{ address: '10.1.0.1', prefix: 32, dev: 'a'.repeat(16) }, 'eth0', /invalid interface name/],
      [{ address: '10.1.0.1', prefix: 32, dev: 'eth 0' }, 'eth0', /invalid interface name/],
      [{ address: '10.1.0.1', prefix: 32, peer: 'fd00::1' }, 'eth0', /peer fd00::1 is not an IPv4 address/],
      [{ address: '10.1.0.1', prefix: 32, brd: 'fd00::1' }, 'eth0', /brd/],
      [{ address: '10.1.0.1', prefix: 32, scope: 'bogus' }, 'eth0', /invalid scope "bogus"/],
      [{ address: '10.1.0.1', prefix: 32, scope: '256' }, 'eth0', /invalid scope/],
      [{ address: '10.1.0.1', prefix: 32, label: 'x'.repeat(16) }, 'eth0', /invalid label/],
      [{ address: '10.1.0.1', prefix: 32, label: 'eth0 vip' }, 'eth0', /invalid label/],
      [{ address: '10.1.0.1', prefix: 32, preferred_lft: -1 }, 'eth0', /invalid preferred_lft/],
    ];
    for (const [vip, dev, re] of bad) expect(vipProblem(vip, dev), JSON.stringify(vip)).toMatch(re);
  });

  it('names the VIP and its interface the way ip lines did', () => {
    expect(describeVip('add', { address: '10.1.0.10', prefix: 24 }, 'eth0')).toBe('addr add 10.1.0.10/24 dev eth0');
    expect(describeVip('del', { address: '10.2.0.5', prefix: 32, peer: '10.2.0.1', dev: 'eth1' }, 'eth0')).toBe('addr del 10.2.0.5 peer 10.2.0.1/32 dev eth1');
  });
});

describe('AddressOps over rtnetlink (fake kernel)', () => {
  it('adds every VIP of a call in ONE transaction, with nothing read first', async () => {
    const k = fakeKernel();
    const ops = createAddressOps(k.opts);
    const vips: Vip[] = [v4, { address: '10.1.0.11', prefix: 24, dev: 'eth1', label: 'eth1:a' }, { address: 'fd00::10', prefix: 128 }];
    expect(await ops.addVips(vips, 'eth0')).toEqual({ ok: true, errors: [] });
    expect(k.shape()).toEqual([['add', 'add', 'add']]);
    for (const m of k.state.transactions[0]!) expect(m.flags).toBe(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
    expect(k.present()).toEqual(['2:10.1.0.10/32', '2:fd00::10/128', '3:10.1.0.11/24']);
    expect(k.state.addrs.find((a) => a.local === 'fd00::10')?.flags).toBe(IFA_F_NODAD);
    expect(k.state.addrs.find((a) => a.local === '10.1.0.11')?.label).toBe('eth1:a');
    // one socket for the AddressOps' lifetime
    await ops.removeVips(vips, 'eth0');
    expect(k.shape()).toEqual([['add', 'add', 'add'], ['del', 'del', 'del']]);
    expect(k.state.opened).toBe(1);
    expect(k.present()).toEqual([]);
  });

  it('rehearse runs the add/delete code without the kernel and takes no reference; the real add still does', async () => {
    const k = fakeKernel();
    const ops = createAddressOps(k.opts);
    const vips: Vip[] = [v4, { address: 'fd00::10', prefix: 128 }];
    ops.rehearse(vips, 'eth0');
    ops.rehearse(vips, 'eth0');
    ops.rehearse([], 'eth0');
    expect(() => ops.rehearse([{ address: '10.1.0.12', prefix: 32, dev: 'nope' }], 'eth0')).not.toThrow();
    expect(k.state.opened).toBe(0);
    expect(k.state.transactions).toEqual([]);
    expect(ops.refCount(v4, 'eth0')).toBe(0);
    expect(await ops.addVips(vips, 'eth0')).toEqual({ ok: true, errors: [] });
    expect(k.present()).toEqual(['2:10.1.0.10/32', '2:fd00::10/128']);
    expect(ops.refCount(v4, 'eth0')).toBe(1);
  });

  it('adding a present address is not an error (REPLACE, and EEXIST is accepted too)', async () => {
    const k = fakeKernel([{ index: 2, family: 4, local: '10.1.0.10', prefixlen: 32 }]);
    const ops = createAddressOps(k.opts);
    expect(await ops.addVips([v4], 'eth0')).toEqual({ ok: true, errors: [] });
    k.state.fail = (m) => (m.type === RTM_NEWADDR ? { errno: 17, extack: 'ipv4: Address already assigned' } : undefined);
    expect(await ops.addVips([v4], 'eth0')).toEqual({ ok: true, errors: [] });
    expect(ops.refCount(v4, 'eth0')).toBe(2);
  });

  it('reports a kernel error per VIP (VIP, interface, errno, extack), adds the rest, takes no reference on the failed one', async () => {
    const k = fakeKernel();
    k.state.fail = (_m, a) => (a?.local === '10.1.0.11' ? { errno: 22, extack: 'ipv4: Invalid prefix' } : undefined);
    const ops = createAddressOps(k.opts);
    const bad: Vip = { address: '10.1.0.11', prefix: 32 };
    const r = await ops.addVips([v4, bad, { address: '10.1.0.12', prefix: 32 }], 'eth0');
    expect(r).toEqual({ ok: false, errors: [{ vip: bad, message: 'addr add 10.1.0.11/32 dev eth0: EINVAL (Invalid argument): ipv4: Invalid prefix' }] });
    expect(k.shape()).toEqual([['add', 'add', 'add']]);
    expect(k.present()).toEqual(['2:10.1.0.10/32', '2:10.1.0.12/32']);
    expect(ops.refCount(bad, 'eth0')).toBe(0);
    expect(ops.refCount(v4, 'eth0')).toBe(1);
  });

  it('a missing interface fails that VIP on add (nothing sent for it) and is no error on remove', async () => {
    const k = fakeKernel();
    const ops = createAddressOps(k.opts);
    const gone: Vip = { address: '10.1.0.20', prefix: 32, dev: 'vknosuch' };
    expect(await ops.addVips([gone, v4], 'eth0')).toEqual({ ok: false, errors: [{ vip: gone, message: 'addr add 10.1.0.20/32 dev vknosuch: Cannot find device "vknosuch"' }] });
    expect(k.shape()).toEqual([['add']]);
    expect(await ops.removeVips([gone], 'eth0')).toEqual({ ok: true, errors: [] });
    expect(k.shape()).toEqual([['add']]); // nothing to send
    // the interface vanished between lookup and request: ENODEV on delete counts as done
    k.state.fail = (m) => (m.type === RTM_DELADDR ? { errno: 19 } : undefined);
    expect(await ops.removeVips([v4], 'eth0')).toEqual({ ok: true, errors: [] });
  });

  it('reports invalid VIPs without sending them, and does not acquire them', async () => {
    const k = fakeKernel();
    const ops = createAddressOps(k.opts);
    const bad: Vip = { address: '10.1.0.1', prefix: 40 };
    expect(await ops.addVips([bad], 'eth0')).toEqual({ ok: false, errors: [{ vip: bad, message: 'invalid prefix /40 for IPv4' }] });
    expect(k.state.transactions).toEqual([]);
    expect(k.state.opened).toBe(0);
    expect(ops.refCount(bad, 'eth0')).toBe(0);
  });

  it('removing an absent address is not an error (EADDRNOTAVAIL / ENOENT); other errors are reported', async () => {
    const k = fakeKernel();
    const ops = createAddressOps(k.opts);
    expect(await ops.removeVips([v4, { address: 'fd00::1', prefix: 64 }], 'eth0')).toEqual({ ok: true, errors: [] });
    expect(k.shape()).toEqual([['del', 'del']]);
    k.state.fail = (m) => (m.type === RTM_DELADDR ? { errno: 2 } : undefined);
    expect(await ops.removeVips([v4], 'eth0')).toEqual({ ok: true, errors: [] });
    k.state.fail = (m) => (m.type === RTM_DELADDR ? { errno: 1 } : undefined);
    expect(await ops.removeVips([v4], 'eth0')).toEqual({ ok: false, errors: [{ vip: v4, message: 'addr del 10.1.0.10/32 dev eth0: EPERM (Operation not permitted)' }] });
  });

  it('a socket failure rejects the call and the next call opens a fresh socket', async () => {
    const k = fakeKernel();
    const ops = createAddressOps(k.opts);
    expect(await ops.addVips([v4], 'eth0')).toEqual({ ok: true, errors: [] });
    k.state.throwNext = Object.assign(new Error('netlink reply: ETIMEDOUT'), { code: 'ETIMEDOUT' });
    await expect(ops.addVips([{ address: '10.1.0.11', prefix: 32 }], 'eth0')).rejects.toThrow('rtnetlink: netlink reply: ETIMEDOUT');
    expect(ops.refCount({ address: '10.1.0.11', prefix: 32 }, 'eth0')).toBe(0);
    expect(k.state.closed).toBe(1);
    expect(await ops.addVips([{ address: '10.1.0.11', prefix: 32 }], 'eth0')).toEqual({ ok: true, errors: [] });
    expect(k.state.opened).toBe(2);
    ops.close();
    expect(k.state.closed).toBe(2);
  });

  describe('refcounts (acquire / release)', () => {
    it('adds on every acquire (idempotent) and deletes only on 1 → 0', async () => {
      const k = fakeKernel();
      const ops = createAddressOps(k.opts);
      await ops.addVips([v4], 'eth0');
      await ops.addVips([v4], 'eth0');
      expect(ops.refCount(v4, 'eth0')).toBe(2);
      expect(await ops.removeVips([v4], 'eth0')).toEqual({ ok: true, errors: [] });
      expect(k.present()).toEqual(['2:10.1.0.10/32']);
      expect(ops.refCount(v4, 'eth0')).toBe(1);
      await ops.removeVips([v4], 'eth0');
      expect(k.present()).toEqual([]);
      expect(k.shape()).toEqual([['add'], ['add'], ['del']]);
    });

    it('keys by device (the default device counts), address canonical form, prefix and peer', async () => {
      const k = fakeKernel();
      const ops = createAddressOps(k.opts);
      await ops.addVips([{ address: 'FD00:0::1', prefix: 64 }], 'eth0');
      expect(ops.refCount({ address: 'fd00::1', prefix: 64, dev: 'eth0' }, 'eth1')).toBe(1);
      expect(ops.refCount({ address: 'fd00::1', prefix: 64 }, 'eth1')).toBe(0);
      expect(ops.refCount({ address: 'fd00::1', prefix: 128 }, 'eth0')).toBe(0);
      expect(ops.refCount({ address: 'fd00::1', prefix: 64, peer: 'fd00::2' }, 'eth0')).toBe(0);
    });

    it('counts a VIP listed twice in one call once', async () => {
      const k = fakeKernel();
      const ops = createAddressOps(k.opts);
      await ops.addVips([v4, { ...v4 }, { ...v4, dev: 'eth0' }], 'eth0');
      expect(k.shape()).toEqual([['add']]);
      expect(ops.refCount(v4, 'eth0')).toBe(1);
    });

    it('serialises calls: a concurrent add then remove leaves the address absent', async () => {
      const k = fakeKernel();
      const ops = createAddressOps(k.opts);
      await Promise.all([ops.addVips([v4], 'eth0'), ops.removeVips([v4], 'eth0')]);
      expect(k.shape()).toEqual([['add'], ['del']]);
      expect(k.present()).toEqual([]);
    });

    it('any sequence of balanced calls ends with the kernel holding exactly the held VIPs (property)', async () => {
      const pool: Vip[] = [v4, { address: '10.1.0.11', prefix: 24 }, { address: 'fd00::5', prefix: 64, dev: 'eth1' }];
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), fc.subarray(pool, { minLength: 1 })), { maxLength: 25 }), async (calls) => {
          const k = fakeKernel();
          const ops = createAddressOps(k.opts);
          const held = new Map<Vip, number>(pool.map((v) => [v, 0]));
          for (const [add, vips] of calls) {
            const before = k.state.transactions.length;
            if (add) {
              await ops.addVips(vips, 'eth0');
              for (const v of vips) held.set(v, held.get(v)! + 1);
            } else {
              await ops.removeVips(vips, 'eth0');
              for (const v of vips) held.set(v, Math.max(0, held.get(v)! - 1));
            }
            // at most ONE transaction per call, at most one message per VIP
            expect(k.state.transactions.length - before).toBeLessThanOrEqual(1);
            expect(k.state.transactions.slice(before).flat().length).toBeLessThanOrEqual(vips.length);
          }
          for (const v of pool) expect(ops.refCount(v, 'eth0')).toBe(held.get(v));
          const want = pool.filter((v) => held.get(v)! > 0).map((v) => `${v.dev === 'eth1' ? 3 : 2}:${v.address}/${v.prefix}`).sort();
          expect(k.present()).toEqual(want);
        }),
        { numRuns: 60 },
      );
    });
  });

  it('cleanupStale deletes configured VIPs nobody here holds, in one transaction; removed = what the kernel had', async () => {
    const k = fakeKernel([
      { index: 2, family: 4, local: '10.1.0.10', prefixlen: 32 },
      { index: 2, family: 6, local: 'fd00::10', prefixlen: 128 },
      { index: 2, family: 4, local: '10.1.0.99', prefixlen: 32 }, // not configured
    ]);
    const ops = createAddressOps(k.opts);
    const held: Vip = { address: '10.1.0.12', prefix: 32 };
    await ops.addVips([held], 'eth0');
    const stale: Vip[] = [v4, { address: 'fd00:0::10', prefix: 128 }, { address: '10.1.0.11', prefix: 32 }, held];
    expect(await ops.cleanupStale(stale, 'eth0')).toEqual({ ok: true, errors: [], removed: stale.slice(0, 2) });
    expect(k.shape()).toEqual([['add'], ['del', 'del', 'del']]);
    expect(k.present()).toEqual(['2:10.1.0.12/32', '2:10.1.0.99/32']);
  });

  it('presentVips reads one dump and matches (interface, address, prefix, peer)', async () => {
    const k = fakeKernel([
      { index: 2, family: 4, local: '10.1.0.10', prefixlen: 32 },
      { index: 3, family: 4, local: '10.1.0.11', prefixlen: 24 },
      { index: 2, family: 6, local: 'fd00::10', prefixlen: 64 },
      { index: 2, family: 4, local: '10.2.0.5', prefixlen: 32, peer: '10.2.0.1' },
    ]);
    const ops = createAddressOps(k.opts);
    const vips: Vip[] = [
      v4,
      { address: '10.1.0.11', prefix: 24 }, // on eth1, not eth0
      { address: '10.1.0.11', prefix: 24, dev: 'eth1' },
      { address: 'FD00:0:0::10', prefix: 64 },
      { address: 'fd00::10', prefix: 128 },
      { address: '10.2.0.5', prefix: 32, peer: '10.2.0.1' },
      { address: '10.2.0.5', prefix: 32 },
      { address: '10.1.0.10', prefix: 32, dev: 'vknosuch' },
    ];
    expect(await ops.presentVips(vips, 'eth0')).toEqual([vips[0], vips[2], vips[3], vips[5]]);
    expect(k.shape()).toEqual([['dump']]);
  });

  it('primaryAddress: first primary global IPv4; first usable IPv6 link-local; undefined without one', async () => {
    const k = fakeKernel([
      { index: 2, family: 4, local: '10.1.0.5', prefixlen: 24, flags: IFA_F_SECONDARY },
      { index: 2, family: 4, local: '127.0.0.5', prefixlen: 8, scope: 254 },
      { index: 2, family: 4, local: '10.1.0.1', prefixlen: 24 },
      { index: 2, family: 6, local: 'fe80::1', prefixlen: 64, scope: RT_SCOPE_LINK, flags: IFA_F_TENTATIVE },
      { index: 2, family: 6, local: 'fe80::2', prefixlen: 64, scope: RT_SCOPE_LINK },
      { index: 3, family: 4, local: '10.9.0.1', prefixlen: 24, flags: IFA_F_SECONDARY },
    ]);
    k.state.devs.set('eth2', 4);
    const ops = createAddressOps(k.opts);
    expect(await ops.primaryAddress('eth0', 4)).toBe('10.1.0.1');
    expect(await ops.primaryAddress('eth0', 6)).toBe('fe80::2');
    expect(await ops.primaryAddress('eth1', 4)).toBe('10.9.0.1'); // only a secondary
    expect(await ops.primaryAddress('eth1', 6)).toBeUndefined();
    expect(await ops.primaryAddress('eth2', 4)).toBeUndefined();
    expect(await ops.primaryAddress('vknosuch', 4)).toBeUndefined();
    // a family-filtered dump
    expect(k.state.transactions[0]![0]!.payload.readUInt8(0)).toBe(AF_INET);
  });

  it('interfaceExists', async () => {
    const k = fakeKernel();
    const ops = createAddressOps(k.opts);
    expect(await ops.interfaceExists('eth1')).toBe(true);
    expect(await ops.interfaceExists('vknosuch')).toBe(false);
    expect(k.state.opened).toBe(0);
  });

  it('other lookup failures are not taken for a missing interface', async () => {
    const k = fakeKernel();
    const ops = createAddressOps({
      ...k.opts,
      ifIndex: () => {
        throw Object.assign(new Error('native addon not built'), { name: 'NativeAddonError' });
      },
    });
    await expect(ops.addVips([v4], 'eth0')).rejects.toThrow('native addon not built');
    await expect(ops.interfaceExists('eth0')).rejects.toThrow('native addon not built');
  });
});

describe('AddressOps with a deadline (the VRRP thread: an rtnl stall must not hold it)', () => {
  /** The fake kernel, answering asynchronously only when `release()` is called (a held rtnl lock). */
  function stalledKernel() {
    const k = fakeKernel();
    const held: (() => void)[] = [];
    let stalled = true;
    const transport = (): NetlinkTransport => {
      const t = k.opts.transport!();
      return {
        transact: () => {
          throw new Error('a bounded AddressOps must not transact on the calling thread');
        },
        transactAsync: (req) =>
          new Promise((resolve) => {
            const answer = () => resolve(t.transact(req));
            if (stalled) held.push(answer);
            else answer();
          }),
        close: () => t.close(),
      };
    };
    const release = () => {
      stalled = false;
      for (const a of held.splice(0)) a();
    };
    return { k, opts: { ...k.opts, transport, deadlineMs: 50 } satisfies AddressOpsOptions, release };
  }

  it('an add past the deadline fails for the caller; it still completes in order, and a later remove removes it', async () => {
    const { k, opts, release } = stalledKernel();
    const ops = createAddressOps(opts);
    const added = await ops.addVips([v4], 'eth0');
    expect(added.ok).toBe(false);
    expect(added.errors).toEqual([{ vip: v4, message: 'addr add 10.1.0.10/32 dev eth0: rtnetlink did not answer within 50 ms (the rtnl lock held elsewhere?)' }]);
    // the FAULT path removes the VIPs: queued behind the add, also past the deadline for its caller
    const removing = ops.removeVips([v4], 'eth0');
    expect((await removing).ok).toBe(false);
    expect(k.present()).toEqual([]);
    release();
    // the lock is free again: the add lands, then the remove takes it away; nothing is left
    for (let i = 0; i < 100 && k.state.transactions.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 5));
    expect(k.shape()).toEqual([['add'], ['del']]);
    expect(k.present()).toEqual([]);
    expect(ops.refCount(v4, 'eth0')).toBe(0);
    // answered in time, a call is an ordinary success
    expect(await ops.addVips([v4], 'eth0')).toEqual({ ok: true, errors: [] });
    expect(k.present()).toEqual(['2:10.1.0.10/32']);
  });
});

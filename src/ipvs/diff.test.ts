import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { applyPlan, describeOperation, plan, summarizePlan, type ManageMode, type PlanOptions } from './diff.js';
import { parseSave, renderScript } from './ipvsadm.js';
import { MemoryBackend } from './memory.js';
import { normalizeTable, pickServices, serviceKey, tablesEqual, type Dest, type Service, type ServiceId } from './model.js';

interface Case {
  desc: string;
  desired: string;
  actual: string;
  opts?: Partial<PlanOptions>;
  want: string;
}

const cases: Case[] = [
  { desc: 'nothing to do', desired: '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1', actual: '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1', want: '' },
  {
    desc: 'from empty: service then its destinations',
    desired: '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 1\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 2',
    actual: '',
    want: '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 2\n-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 1\n',
  },
  {
    desc: 'scheduler change is an edit (never delete + add)',
    desired: '-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1',
    actual: '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1',
    want: '-E -t 10.0.0.1:80 -s wrr\n',
  },
  {
    desc: 'persistence change is an edit carrying the whole spec',
    desired: '-A -u 10.0.0.1:53 -s rr -p 600 -M 255.255.255.0 -o -b flag-2',
    actual: '-A -u 10.0.0.1:53 -s rr -p 300 -o -b flag-2',
    want: '-E -u 10.0.0.1:53 -s rr -p 600 -M 255.255.255.0 -o -b flag-2\n',
  },
  {
    desc: 'weight, thresholds and forwarding are edits of the destination',
    desired: '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 0 -x 10 -y 1',
    actual: '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1',
    want: '-e -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 0 -x 10 -y 1\n',
  },
  {
    desc: 'tunnel settings are edits',
    desired: '-A -f 1 -s rr\n-a -f 1 -r 10.0.1.1:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum',
    actual: '-A -f 1 -s rr\n-a -f 1 -r 10.0.1.1:0 -i -w 1 --tun-type ipip',
    want: '-e -f 1 -r 10.0.1.1:0 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum\n',
  },
  {
    desc: 'adds before edits before deletes inside a service',
    desired: '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 5\n-a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 1',
    actual: '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1\n-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 1',
    want: '-a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 1\n-e -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 5\n-d -t 10.0.0.1:80 -r 10.0.1.1:80\n',
  },
  { desc: 'a foreign service is left alone', desired: '', actual: '-A -t 10.0.0.9:80 -s rr\n-a -t 10.0.0.9:80 -r 10.0.1.1:80 -m -w 1', want: '' },
  { desc: 'an owned service that is no longer desired is deleted (with its destinations)', desired: '', actual: '-A -t 10.0.0.9:80 -s rr\n-a -t 10.0.0.9:80 -r 10.0.1.1:80 -m -w 1', opts: { owned: new Set(['TCP 10.0.0.9:80']) }, want: '-D -t 10.0.0.9:80\n' },
  { desc: 'exclusive deletes everything else', desired: '', actual: '-A -f 7 -6 -s rr\n-A -u [2001:db8::1]:53 -s rr', opts: { manage: 'exclusive' }, want: '-D -f 7 -6\n-D -u [2001:db8::1]:53\n' },
  {
    desc: 'an IPv4 and an IPv6 fwmark with the same number are different services',
    desired: '-A -f 7 -s rr',
    actual: '-A -f 7 -6 -s rr',
    opts: { owned: new Set(['FWM 7 inet6']) },
    want: '-A -f 7 -s rr\n-D -f 7 -6\n',
  },
  {
    desc: 'a desired service already in the kernel (made by someone else) is taken over and edited',
    desired: '-A --sctp-service 10.0.0.1:99 -s mh -b flag-1\n-a --sctp-service 10.0.0.1:99 -r 10.0.1.1:99 -m -w 1',
    actual: '-A --sctp-service 10.0.0.1:99 -s rr\n-a --sctp-service 10.0.0.1:99 -r 10.0.1.9:99 -m -w 1',
    want: '-E --sctp-service 10.0.0.1:99 -s mh -b flag-1\n-a --sctp-service 10.0.0.1:99 -r 10.0.1.1:99 -m -w 1\n-d --sctp-service 10.0.0.1:99 -r 10.0.1.9:99\n',
  },
];

describe('plan', () => {
  for (const c of cases) {
    it(c.desc, () => {
      const opts: PlanOptions = { manage: c.opts?.manage ?? 'owned', owned: c.opts?.owned ?? new Set() };
      const desired = parseSave(c.desired);
      const actual = parseSave(c.actual);
      const ops = plan(desired, actual, opts);
      expect(renderScript(ops)).toBe(c.want);
      const keys = new Set(desired.map((s) => serviceKey(s.id)));
      expect(tablesEqual(pickServices(applyPlan(actual, ops), keys), desired)).toBe(true);
    });
  }

  it('describes and counts operations', () => {
    const ops = plan(parseSave('-A -t 10.0.0.1:80 -s rr -p 60\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1'), [], { manage: 'owned', owned: new Set() });
    expect(ops.map(describeOperation)).toEqual(['add-service TCP 10.0.0.1:80 rr persistent 60', 'add-dest TCP 10.0.0.1:80 -> 10.0.1.1:80 NAT weight 1']);
    expect(summarizePlan(ops)).toMatchObject({ 'add-service': 1, 'add-dest': 1, 'delete-service': 0 });
  });

  it('applyPlan refuses what the kernel refuses', () => {
    const t = parseSave('-A -t 10.0.0.1:80 -s rr');
    const svc = t[0]!.id;
    expect(() => applyPlan(t, [{ op: 'add-service', service: svc, spec: { scheduler: 'rr', flags: [], ops: false } }])).toThrow('Service already exists');
    expect(() => applyPlan(t, [{ op: 'delete-dest', service: svc, dest: { address: '10.0.1.1', port: 80 } }])).toThrow('No such destination');
    expect(() => applyPlan([], [{ op: 'edit-service', service: svc, spec: { scheduler: 'rr', flags: [], ops: false } }])).toThrow('No such service');
  });
});

// ---------------------------------------------------------------- properties

const SCHEDS = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'mh', 'fo'];

const arbServiceId: fc.Arbitrary<ServiceId> = fc.oneof(
  fc.record({
    kind: fc.constant('addr' as const),
    protocol: fc.constantFrom('TCP' as const, 'UDP' as const, 'SCTP' as const),
    address: fc.oneof(fc.integer({ min: 1, max: 6 }).map((n) => `10.0.0.${n}`), fc.integer({ min: 1, max: 3 }).map((n) => `2001:db8::${n}`)),
    port: fc.constantFrom(0, 80, 443),
  }),
  fc.record({ kind: fc.constant('fwmark' as const), fwmark: fc.integer({ min: 1, max: 4 }), family: fc.constantFrom('inet' as const, 'inet6' as const) }),
);

const arbDest = (v6: boolean): fc.Arbitrary<Dest> =>
  fc
    .record({
      n: fc.integer({ min: 1, max: 8 }),
      port: fc.constantFrom(0, 80, 8080),
      forwarding: fc.constantFrom('DR' as const, 'NAT' as const, 'TUN' as const),
      weight: fc.integer({ min: 0, max: 5 }),
      uthreshold: fc.constantFrom(0, 100),
      lthreshold: fc.constantFrom(0, 10),
      tun: fc.constantFrom('ipip' as const, 'gue' as const, 'gre' as const),
    })
    .map(({ n, tun, ...d }) => ({
      address: v6 ? `2001:db8:1::${n}` : `10.1.0.${n}`,
      ...d,
      ...(d.forwarding === 'TUN' ? { tunnel: tun === 'gue' ? { type: tun, port: 6080 } : { type: tun } } : {}),
    }));

const arbService: fc.Arbitrary<Service> = arbServiceId.chain((id) => {
  const v6 = id.kind === 'fwmark' ? id.family === 'inet6' : id.address.includes(':');
  return fc
    .record({
      scheduler: fc.constantFrom(...SCHEDS),
      flags: fc.subarray(['flag-1', 'flag-2', 'flag-3'] as const),
      ops: fc.boolean(),
      timeout: fc.constantFrom(0, 60, 300),
      wide: fc.boolean(),
      pe: fc.boolean(),
      dests: fc.uniqueArray(arbDest(v6), { maxLength: 5, selector: (d) => `${d.address}:${d.port}` }),
    })
    .map(({ scheduler, flags, ops, timeout, wide, pe, dests }) => {
      const zero = id.kind === 'addr' && id.port === 0;
      const t = timeout || (zero ? 360 : 0);
      const udp = id.kind === 'fwmark' || id.protocol === 'UDP';
      return {
        id,
        scheduler,
        flags: [...flags],
        ops: ops && udp,
        ...(t ? { persistence: { timeout: t, netmask: wide ? (v6 ? '64' : '255.255.255.0') : v6 ? '128' : '255.255.255.255' } } : {}),
        ...(pe && t && udp ? { pe: 'sip' } : {}),
        // as ipvsadm does: DR/TUN destinations of an address service use the service port
        dests: dests.map((d) => (id.kind === 'addr' && d.forwarding !== 'NAT' ? { ...d, port: id.port } : d)).filter((d, i, all) => all.findIndex((x) => x.address === d.address && x.port === d.port) === i),
      };
    });
});

const arbTable = fc.uniqueArray(arbService, { maxLength: 6, selector: (s) => serviceKey(s.id) }).map(normalizeTable);

const arbCase = fc.record({
  desired: arbTable,
  actual: arbTable,
  manage: fc.constantFrom<ManageMode>('owned', 'exclusive'),
  ownedPick: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
});

describe('plan (properties)', () => {
  it('applying the plan on the in-memory backend gives the desired table on owned keys and leaves foreign services alone', async () => {
    await fc.assert(
      fc.asyncProperty(arbCase, async ({ desired, actual, manage, ownedPick }) => {
        const owned = new Set(actual.filter((_, i) => ownedPick[i]).map((s) => serviceKey(s.id)));
        const backend = new MemoryBackend(actual);
        const ops = plan(desired, await backend.read(), { manage, owned });
        await backend.apply(ops);
        const after = await backend.read();
        const desiredKeys = new Set(desired.map((s) => serviceKey(s.id)));
        expect(tablesEqual(pickServices(after, desiredKeys), desired)).toBe(true);
        const rest = after.filter((s) => !desiredKeys.has(serviceKey(s.id)));
        if (manage === 'exclusive') expect(rest).toEqual([]);
        else {
          const foreign = actual.filter((s) => !desiredKeys.has(serviceKey(s.id)) && !owned.has(serviceKey(s.id)));
          expect(tablesEqual(rest, foreign)).toBe(true);
        }
        // converges in one batch
        expect(plan(desired, after, { manage, owned })).toEqual([]);
        // in place: a service that exists and is desired is never deleted or re-added
        const existing = new Set(actual.map((s) => serviceKey(s.id)));
        for (const o of ops) {
          if (o.op === 'add-service') expect(existing.has(serviceKey(o.service))).toBe(false);
          if (o.op === 'delete-service') expect(desiredKeys.has(serviceKey(o.service))).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the plan is empty when desired = actual, whatever the mode', () => {
    fc.assert(
      fc.property(arbTable, fc.constantFrom<ManageMode>('owned', 'exclusive'), (t, manage) => {
        expect(plan(t, t, { manage, owned: new Set(t.map((s) => serviceKey(s.id))) })).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('the rendered script parses back to the same operations', () => {
    fc.assert(
      fc.property(arbTable, arbTable, (desired, actual) => {
        const ops = plan(desired, actual, { manage: 'exclusive', owned: new Set() });
        const added = new Set(ops.filter((o) => o.op === 'add-service').map((o) => serviceKey(o.service)));
        const reparsed = parseSave(renderScript(ops.filter((o) => (o.op === 'add-service' || o.op === 'add-dest') && added.has(serviceKey(o.service)))));
        expect(tablesEqual(reparsed, pickServices(desired, added))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

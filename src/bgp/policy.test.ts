import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { announcementFor, decide, nextDeadline, type AnnounceInput, type Decision, type ServiceHealth } from './policy.js';

const up = (vs = '10.0.0.1 80 TCP', n = 2, total = 2, quorum = 1): ServiceHealth => ({ vs, quorumUp: true, up: n, total, quorum });
const down = (vs = '10.0.0.1 80 TCP', n = 0, total = 2, quorum = 1): ServiceHealth => ({ vs, quorumUp: false, up: n, total, quorum });
const base: AnnounceInput = { now: 10_000, ipvsConverged: true, services: [up()], drainGraceMs: 30_000 };

describe('decide: the table', () => {
  const rows: [string, Partial<AnnounceInput>, Decision['action'], Decision['code']][] = [
    ['healthy and converged', {}, 'announce', 'serving'],
    ['no virtual server behind it', { services: [] }, 'announce', 'serving'],
    ['quorum lost', { services: [down()] }, 'withdraw', 'quorum-lost'],
    ['no health verdict yet', { services: [{ ...up(), pending: true }] }, 'withdraw', 'checks-pending'],
    ['no verdict yet, in maintenance', { services: [{ ...down(), pending: true }], maintenance: { since: 0 } }, 'withdraw', 'checks-pending'],
    ['one of two services lost its quorum', { services: [up(), down('10.0.0.1 443 TCP')] }, 'withdraw', 'quorum-lost'],
    ['IPVS not converged', { ipvsConverged: false }, 'withdraw', 'ipvs-not-converged'],
    ['quorum lost and IPVS not converged: quorum first', { services: [down()], ipvsConverged: false }, 'withdraw', 'quorum-lost'],
    ['maintenance, within the grace', { maintenance: { since: 0 } }, 'announce-drain', 'maintenance'],
    ['maintenance, grace over', { maintenance: { since: -20_000 } }, 'withdraw', 'maintenance'],
    ['maintenance exactly at the deadline', { maintenance: { since: -20_000 }, now: 10_000 }, 'withdraw', 'maintenance'],
    ['maintenance, one ms before the deadline', { maintenance: { since: -19_999 } }, 'announce-drain', 'maintenance'],
    ['maintenance and quorum lost: withdraw now', { maintenance: { since: 0 }, services: [down()] }, 'withdraw', 'quorum-lost'],
    ['maintenance and IPVS not converged: withdraw now', { maintenance: { since: 0 }, ipvsConverged: false }, 'withdraw', 'ipvs-not-converged'],
    ['drain, within the grace', { drain: { since: 5_000 } }, 'announce-drain', 'draining'],
    ['drain, grace over', { drain: { since: -20_000 } }, 'withdraw', 'drained'],
    ['drain with no grace', { drain: { since: 10_000 }, drainGraceMs: 0 }, 'withdraw', 'drained'],
    ['maintenance and drain: maintenance names it', { maintenance: { since: 0 }, drain: { since: 0 } }, 'announce-drain', 'maintenance'],
  ];
  it.each(rows)('%s', (_name, over, action, code) => {
    const d = decide({ ...base, ...over });
    expect(d.action).toBe(action);
    expect(d.code).toBe(code);
    expect(d.reason.length).toBeGreaterThan(0);
  });

  it('says which service lost its quorum and by how much', () => {
    const d = decide({ ...base, services: [up(), down('10.0.0.1 443 TCP', 1, 3, 2)] });
    expect(d.reason).toBe('quorum lost (10.0.0.1 443 TCP: 1 of 3 real servers up, quorum 2)');
  });

  it('gives the withdraw time of a drain and the seconds left', () => {
    const d = decide({ ...base, maintenance: { since: 9_000 } });
    expect(d).toMatchObject({ action: 'announce-drain', withdrawAt: 39_000 });
    expect(d.reason).toContain('withdrawn in 29s');
  });

  it("names the reconciler's problem when IPVS is not converged", () => {
    expect(decide({ ...base, ipvsConverged: false, ipvsDetail: 'degraded: no IP_VS' }).reason).toContain('(degraded: no IP_VS)');
  });
});

const arbService = fc.record({
  vs: fc.constantFrom('10.0.0.1 80 TCP', '10.0.0.1 443 TCP', 'fwmark 1'),
  quorumUp: fc.boolean(),
  up: fc.nat(10),
  total: fc.nat(10),
  quorum: fc.nat(5),
  pending: fc.boolean(),
});
const arbInput: fc.Arbitrary<AnnounceInput> = fc.record(
  {
    now: fc.integer({ min: 0, max: 1_000_000 }),
    ipvsConverged: fc.boolean(),
    services: fc.array(arbService, { maxLength: 3 }),
    maintenance: fc.record({ since: fc.integer({ min: 0, max: 1_000_000 }) }),
    drain: fc.record({ since: fc.integer({ min: 0, max: 1_000_000 }) }),
    drainGraceMs: fc.integer({ min: 0, max: 100_000 }),
  },
  { requiredKeys: ['now', 'ipvsConverged', 'services', 'drainGraceMs'] },
);

describe('decide: properties', () => {
  it('announces (normally) exactly when every service has quorum, IPVS is converged and nobody asked to drain', () => {
    fc.assert(
      fc.property(arbInput, (i) => {
        const healthy = i.ipvsConverged && i.services.every((s) => s.quorumUp && !s.pending);
        expect(decide(i).action === 'announce').toBe(healthy && !i.maintenance && !i.drain);
      }),
    );
  });

  it('never announces a VIP it cannot serve, drain or not', () => {
    fc.assert(
      fc.property(arbInput, (i) => {
        if (!i.ipvsConverged || i.services.some((s) => !s.quorumUp || s.pending)) expect(decide(i).action).toBe('withdraw');
      }),
    );
  });

  it('a drain announces with the drain attributes until since + grace, and withdraws from then on', () => {
    fc.assert(
      fc.property(arbInput, fc.integer({ min: 0, max: 200_000 }), (i, later) => {
        const d0 = decide(i);
        if (d0.action !== 'announce-drain') return;
        const since = (i.maintenance ?? i.drain)!.since;
        expect(d0.withdrawAt).toBe(since + i.drainGraceMs);
        expect(i.now).toBeLessThan(d0.withdrawAt);
        const d1 = decide({ ...i, now: i.now + later });
        expect(d1.action).toBe(i.now + later < d0.withdrawAt ? 'announce-drain' : 'withdraw');
      }),
    );
  });

  it('is a function of its input (same input, same decision)', () => {
    fc.assert(
      fc.property(arbInput, (i) => {
        expect(decide(structuredClone(i))).toEqual(decide(i));
      }),
    );
  });
});

describe('announcementFor / nextDeadline', () => {
  const route = { prefix: '10.0.0.1/32', family: 4 as const };
  const attrs = { normal: { med: 0, communities: ['65001:1'] }, drain: { med: 4294967295, communities: ['65535:0'] } };

  it('withdrawn: nothing; announced: the normal attributes; draining: the drain attributes', () => {
    expect(announcementFor(route, decide({ ...base, services: [down()] }), attrs)).toBeUndefined();
    expect(announcementFor(route, decide(base), attrs)).toEqual({ ...route, med: 0, communities: ['65001:1'], draining: false });
    expect(announcementFor(route, decide({ ...base, drain: { since: 0 } }), attrs)).toEqual({ ...route, med: 4294967295, communities: ['65535:0'], draining: true });
  });

  it('the next deadline is the earliest drain end', () => {
    const ds = [decide(base), decide({ ...base, drain: { since: 5_000 } }), decide({ ...base, maintenance: { since: 1_000 } })];
    expect(nextDeadline(ds)).toBe(31_000);
    expect(nextDeadline([decide(base)])).toBeUndefined();
  });
});

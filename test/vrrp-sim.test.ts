/**
 * Several VRRP routers in virtual time on a fake multicast link (quinn-proto `Pair` style):
 * no sockets, no timers. Each router is a `VrrpInstance`; the link delivers every advert to every
 * other router after `latencyMs`, dropping it with probability `lossRate` (seeded PRNG) or when
 * the pair is partitioned.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  VrrpInstance,
  resolveVrrpParams,
  type ReceivedAdvert,
  type VrrpEvent,
  type VrrpInstanceInput,
  type VrrpState,
} from '../src/vrrp/instance.js';
import { compareIp } from '../src/vocab/ip.js';
import { masterDownIntervalMs, skewTimeMs } from '../src/vrrp/timers.js';
import { seededRandom } from '../lab/rng.js';

interface RouterSpec extends Partial<VrrpInstanceInput> {
  name: string;
  ip: string;
  priority: number;
}

interface Router {
  spec: RouterSpec;
  inst: VrrpInstance | undefined; // undefined: not started yet, or crashed
}

interface Packet {
  at: number;
  seq: number;
  from: string;
  to: string;
  adv: ReceivedAdvert;
}

interface LogEntry {
  at: number;
  router: string;
  event: VrrpEvent | { type: 'tx'; priority: number } | { type: 'rx'; from: string; priority: number };
}

class Sim {
  now = 0;
  latencyMs: number;
  lossRate: number;
  readonly log: LogEntry[] = [];
  private readonly routers = new Map<string, Router>();
  private inflight: Packet[] = [];
  private seq = 0;
  private readonly scheduled: { at: number; seq: number; fn: () => void }[] = [];
  private readonly blocked = new Set<string>();
  private readonly rand: () => number;

  constructor(opts: { latencyMs?: number; lossRate?: number; seed?: number } = {}) {
    this.latencyMs = opts.latencyMs ?? 0;
    this.lossRate = opts.lossRate ?? 0;
    this.rand = seededRandom(opts.seed ?? 1);
  }

  add(spec: RouterSpec, startAt = 0): this {
    this.routers.set(spec.name, { spec, inst: undefined });
    this.at(startAt, () => this.boot(spec.name));
    return this;
  }

  /** Run `fn` at virtual time `t`. */
  at(t: number, fn: () => void): this {
    this.scheduled.push({ at: t, seq: this.seq++, fn });
    this.scheduled.sort((a, b) => a.at - b.at || a.seq - b.seq);
    return this;
  }

  /** (Re)start a router with a fresh instance, optionally with changed parameters. */
  boot(name: string, over: Partial<VrrpInstanceInput> = {}): void {
    const r = this.router(name);
    r.spec = { ...r.spec, ...over };
    const { name: n, ip, ...rest } = r.spec;
    r.inst = new VrrpInstance(resolveVrrpParams({ vrid: 51, ...rest, name: n, primaryIp: ip }));
    r.inst.start(this.now);
    this.drain(r);
  }

  /** Give router `name` an input (a command, a track change…) at the current time, then drain it. */
  act(name: string, fn: (inst: VrrpInstance, now: number) => void): void {
    const r = this.router(name);
    if (!r.inst) throw new Error(`router ${name} is not running`);
    fn(r.inst, this.now);
    this.drain(r);
  }

  /** The router stops dead: sends nothing more, hears nothing. */
  crash(name: string): void {
    this.router(name).inst = undefined;
  }

  partition(a: string, b: string, on: boolean): void {
    for (const k of [`${a}>${b}`, `${b}>${a}`]) {
      if (on) this.blocked.add(k);
      else this.blocked.delete(k);
    }
  }

  inst(name: string): VrrpInstance {
    const i = this.router(name).inst;
    if (!i) throw new Error(`router ${name} is not running`);
    return i;
  }

  state(name: string): VrrpState | 'DOWN' {
    return this.router(name).inst?.state ?? 'DOWN';
  }

  masters(): string[] {
    return [...this.routers.keys()].filter((n) => this.state(n) === 'MASTER');
  }

  /** Times at which `name` entered `state`. */
  entered(name: string, state: VrrpState): number[] {
    return this.log
      .filter((l) => l.router === name && l.event.type === 'stateChange' && l.event.to === state)
      .map((l) => l.at);
  }

  /** Arrival times at `to` of adverts from `from`. */
  arrivals(from: string, to: string): { at: number; priority: number }[] {
    return this.log.flatMap((l) =>
      l.router === to && l.event.type === 'rx' && l.event.from === from ? [{ at: l.at, priority: l.event.priority }] : [],
    );
  }

  lastStateChange(): number {
    return this.log.filter((l) => l.event.type === 'stateChange').reduce((m, l) => Math.max(m, l.at), 0);
  }

  run(until: number): this {
    for (let guard = 0; guard < 1_000_000; guard++) {
      const next = this.nextTime();
      if (next === undefined || next > until) {
        this.now = until;
        return this;
      }
      this.now = next;
      this.stepAt(next);
    }
    throw new Error('simulation did not settle');
  }

  private router(name: string): Router {
    const r = this.routers.get(name);
    if (!r) throw new Error(`no router ${name}`);
    return r;
  }

  private nextTime(): number | undefined {
    const candidates: number[] = [];
    if (this.scheduled[0]) candidates.push(this.scheduled[0].at);
    if (this.inflight[0]) candidates.push(this.inflight[0].at);
    for (const r of this.routers.values()) {
      const d = r.inst?.pollTimeout();
      if (d !== undefined) candidates.push(d);
    }
    return candidates.length ? Math.min(...candidates) : undefined;
  }

  private stepAt(t: number): void {
    while (this.scheduled[0] && this.scheduled[0].at <= t) this.scheduled.shift()!.fn();
    while (this.inflight[0] && this.inflight[0].at <= t) {
      const p = this.inflight.shift()!;
      const r = this.router(p.to);
      if (!r.inst) continue;
      this.log.push({ at: t, router: p.to, event: { type: 'rx', from: p.from, priority: p.adv.priority } });
      r.inst.handleAdvert(t, p.adv);
      this.drain(r);
    }
    for (const r of this.routers.values()) {
      const d = r.inst?.pollTimeout();
      if (r.inst && d !== undefined && d <= t) {
        r.inst.handleTimeout(t);
        this.drain(r);
      }
    }
  }

  private drain(r: Router): void {
    const inst = r.inst;
    if (!inst) return;
    for (let tx = inst.pollTransmit(); tx; tx = inst.pollTransmit()) {
      this.log.push({ at: this.now, router: r.spec.name, event: { type: 'tx', priority: tx.priority } });
      for (const other of this.routers.values()) {
        if (other === r) continue;
        if (this.blocked.has(`${r.spec.name}>${other.spec.name}`)) continue;
        if (this.lossRate > 0 && this.rand() < this.lossRate) continue;
        this.inflight.push({
          at: this.now + this.latencyMs,
          seq: this.seq++,
          from: r.spec.name,
          to: other.spec.name,
          adv: { srcIp: r.spec.ip, priority: tx.priority, advertIntervalMs: tx.advertIntervalMs },
        });
      }
    }
    this.inflight.sort((a, b) => a.at - b.at || a.seq - b.seq);
    for (let ev = inst.pollEvent(); ev; ev = inst.pollEvent()) this.log.push({ at: this.now, router: r.spec.name, event: ev });
  }
}

const A = { name: 'A', ip: '10.0.0.1', priority: 150 };
const B = { name: 'B', ip: '10.0.0.2', priority: 100 };
const C = { name: 'C', ip: '10.0.0.3', priority: 200 };

describe('VRRP simulator: routers on a fake link in virtual time', () => {
  it('election converges to exactly one MASTER, the highest priority, at its Master_Down_Interval', () => {
    const sim = new Sim({ latencyMs: 1 }).add(A).add(B).add(C).run(20_000);
    expect(sim.masters()).toEqual(['C']);
    expect(sim.entered('C', 'MASTER')).toEqual([masterDownIntervalMs(2, 200, 1000)]); // 3218.75
    expect(sim.entered('A', 'MASTER')).toEqual([]);
    expect(sim.entered('B', 'MASTER')).toEqual([]);
  });

  it('the master crashes and the backup takes over exactly Master_Down_Interval after the last advert arrived', () => {
    const sim = new Sim({ latencyMs: 1 }).add(A).add(B);
    sim.at(10_000, () => sim.crash('A')).run(30_000);
    expect(sim.masters()).toEqual(['B']);
    const lastArrival = sim.arrivals('A', 'B').at(-1)!.at;
    expect(lastArrival).toBeCloseTo(9414.062 + 1, 6); // A became MASTER at 3414.062, adverts every second
    const [takeover] = sim.entered('B', 'MASTER');
    expect(takeover! - lastArrival).toBeCloseTo(3609.375, 9);
  });

  it('the old master returns and preempts after its own Master_Down_Interval', () => {
    const sim = new Sim({ latencyMs: 1 }).add(A).add(B);
    sim.at(10_000, () => sim.crash('A'));
    sim.at(20_000, () => sim.boot('A'));
    sim.run(40_000);
    expect(sim.masters()).toEqual(['A']);
    expect(sim.entered('A', 'MASTER').at(-1)).toBeCloseTo(20_000 + 3414.062, 9);
    // B yields as soon as A's first advert arrives (1 ms latency)
    expect(sim.entered('B', 'BACKUP').at(-1)).toBeCloseTo(20_000 + 3414.062 + 1, 9);
  });

  it('…but not with nopreempt', () => {
    const sim = new Sim({ latencyMs: 1 }).add(A).add(B);
    sim.at(10_000, () => sim.crash('A'));
    sim.at(20_000, () => sim.boot('A', { preempt: false }));
    sim.run(60_000);
    expect(sim.masters()).toEqual(['B']);
    expect(sim.state('A')).toBe('BACKUP');
  });

  it('graceful shutdown: the backup takes over Skew_Time after the priority-0 advert', () => {
    const sim = new Sim({ latencyMs: 2 }).add(A).add(B);
    sim.at(10_000.5, () => sim.act('A', (i, now) => i.command(now, 'shutdown')));
    sim.run(20_000);
    expect(sim.state('A')).toBe('STOP');
    expect(sim.masters()).toEqual(['B']);
    const zero = sim.arrivals('A', 'B').find((x) => x.priority === 0)!;
    expect(zero.at).toBe(10_002.5);
    expect(sim.entered('B', 'MASTER')[0]! - zero.at).toBeCloseTo(skewTimeMs(2, 100, 1000), 9); // 609.375
  });

  it('stepDown drill: the backup takes over after its skew and the stepped-down router does not preempt back', () => {
    const sim = new Sim({ latencyMs: 1 }).add(A).add(B);
    sim.at(10_000, () => sim.act('A', (i, now) => i.command(now, 'stepDown')));
    sim.run(60_000);
    expect(sim.masters()).toEqual(['B']);
    expect(sim.entered('B', 'MASTER')[0]).toBeCloseTo(10_001 + 609.375, 9);
    expect(sim.entered('A', 'MASTER')).toHaveLength(1);
  });

  it('v3: the backup uses the master\'s learned 100 ms interval for its down timer', () => {
    const fast = { ...A, version: 3 as const, advertIntervalMs: 100 };
    const slow = { ...B, version: 3 as const, advertIntervalMs: 1000 };
    const sim = new Sim({ latencyMs: 2 }).add(fast).add(slow);
    sim.at(5_000, () => sim.crash('A')).run(10_000);
    expect(sim.inst('B').state).toBe('MASTER');
    const lastArrival = sim.arrivals('A', 'B').at(-1)!.at;
    // 3 × 100 + (156 × 10 cs × 625 / 16) µs = 360.937 ms, not 3609.375
    expect(sim.entered('B', 'MASTER')[0]! - lastArrival).toBeCloseTo(360.937, 9);
    // back to its own interval as MASTER
    expect(sim.inst('B').masterAdvertIntervalMs).toBe(1000);
  });

  it('a partition gives two masters; healing it converges back to the higher priority', () => {
    const sim = new Sim({ latencyMs: 1 }).add(A).add(B);
    sim.at(10_000, () => sim.partition('A', 'B', true));
    sim.at(20_000, () => sim.partition('A', 'B', false));
    sim.run(15_000);
    expect(sim.masters().sort()).toEqual(['A', 'B']);
    sim.run(25_000);
    expect(sim.masters()).toEqual(['A']);
    // A re-asserted when it heard B's lower-priority advert (lower_prio behaviour)
    expect(
      sim.log.some((l) => l.router === 'A' && l.event.type === 'notify' && l.event.state === 'MASTER_RX_LOWER_PRI'),
    ).toBe(true);
  });

  it('random loss may cause flaps, but once the loss stops there is exactly one MASTER', () => {
    const sim = new Sim({ latencyMs: 1, lossRate: 0.4, seed: 7 }).add(A).add(B).add(C);
    sim.at(60_000, () => {
      sim.lossRate = 0;
    });
    sim.run(70_000);
    expect(sim.masters()).toEqual(['C']);
    expect(sim.lastStateChange()).toBeLessThan(65_000);
  });

  it('property: with random priorities, start times and latencies (no loss), exactly one MASTER with the highest (priority, ip)', () => {
    const routerArb = fc.record({
      priority: fc.integer({ min: 1, max: 255 }),
      start: fc.integer({ min: 0, max: 8000 }),
      wantMaster: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(routerArb, { minLength: 2, maxLength: 3, selector: (r) => r.priority }),
        fc.integer({ min: 0, max: 20 }),
        fc.constantFrom(
          { version: 2 as const, advertIntervalMs: 1000 },
          { version: 3 as const, advertIntervalMs: 1000 },
          { version: 3 as const, advertIntervalMs: 100 },
        ),
        (routers, latencyMs, proto) => {
          const sim = new Sim({ latencyMs });
          routers.forEach((r, i) =>
            sim.add(
              {
                name: `R${i}`,
                ip: `10.0.0.${i + 1}`,
                priority: r.priority,
                initialState: r.wantMaster ? 'MASTER' : 'BACKUP',
                ...proto,
              },
              r.start,
            ),
          );
          const maxStart = Math.max(...routers.map((r) => r.start));
          sim.run(maxStart + 20_000);
          const best = routers
            .map((r, i) => ({ name: `R${i}`, priority: r.priority, ip: `10.0.0.${i + 1}` }))
            .sort((x, y) => y.priority - x.priority || compareIp(y.ip, x.ip))[0]!;
          expect(sim.masters()).toEqual([best.name]);
          // settled: nothing changed in the last 10 s
          expect(sim.lastStateChange()).toBeLessThanOrEqual(maxStart + 10_000);
        },
      ),
      { numRuns: 60, seed: 20240601 },
    );
  });

  it('property: with equal priorities allowed, still exactly one MASTER and it has the highest priority', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ priority: fc.integer({ min: 98, max: 101 }), start: fc.integer({ min: 0, max: 4000 }) }), {
          minLength: 2,
          maxLength: 3,
        }),
        fc.integer({ min: 0, max: 5 }),
        (routers, latencyMs) => {
          const sim = new Sim({ latencyMs });
          routers.forEach((r, i) => sim.add({ name: `R${i}`, ip: `10.0.0.${i + 1}`, priority: r.priority }, r.start));
          const maxStart = Math.max(...routers.map((r) => r.start));
          sim.run(maxStart + 20_000);
          const masters = sim.masters();
          expect(masters).toHaveLength(1);
          const top = Math.max(...routers.map((r) => r.priority));
          expect(sim.inst(masters[0]!).effectivePriority).toBe(top);
        },
      ),
      { numRuns: 60, seed: 7 },
    );
  });
});

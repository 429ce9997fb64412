// 10,000 health checks at delay_loop 1 s, driven through the HealthChecker in fake time: the
// first attempts spread over the warmup and the later rounds keep that spread, so no 10 ms
// window ever sees more than a small multiple of the average start rate.
import { describe, expect, it } from 'vitest';
import { HealthChecker } from '../src/check/health.js';
import { CHECK_TIMER_SLACK_MS } from '../src/check/scheduler.js';
import { FakeClock } from '../src/sys/clock.js';
import type { Probe } from '../src/check/types.js';
import { ConfigSchema } from '../src/config/schema.js';

const SERVICES = 100;
const PER_SERVICE = 100;
const TOTAL = SERVICES * PER_SERVICE;

function bigConfig() {
  return ConfigSchema.parse({
    virtual_servers: Array.from({ length: SERVICES }, (_, i) => ({
      address: `10.255.${i}.1`,
      port: 80,
      delay_loop: 1, // warmup defaults to delay_loop: 1 s
      real_servers: Array.from({ length: PER_SERVICE }, (_, j) => ({
        address: `10.${i}.${j >> 8}.${(j & 255) + 1}`,
        port: 8080,
        checks: [{ type: 'TCP_CHECK' }],
      })),
    })),
  });
}

/** Largest number of starts in any half-open window [t, t + width). */
function maxInWindow(sorted: number[], width: number): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while ((sorted[hi] as number) - (sorted[lo] as number) >= width) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe('check scheduler at scale (fake time)', () => {
  it('spreads 10,000 checks at delay_loop 1 s: at most 1.2× the average starts in any 10 ms window', async () => {
    const clock = new FakeClock();
    const starts: number[] = [];
    const perTarget = new Map<string, number>();
    // Each target answers after 0..19 ms of fake time, derived from its address.
    const probe: Probe = (spec) => {
      starts.push(clock.now());
      const addr = 'address' in spec ? spec.address : '';
      perTarget.set(addr, (perTarget.get(addr) ?? 0) + 1);
      const latency = Number(addr.split('.').at(-1)) % 20;
      return new Promise((resolve) => clock.setTimeout(() => resolve({ ok: true }), latency));
    };
    // Default rng: an even spread from a random seed (plain random would peak near 1.3× the average).
    const hc = new HealthChecker(bigConfig(), { clock, probe, maxConcurrent: 1000, queueWaitWarnMs: 50 });
    hc.start();
    expect(hc.scheduler.keys()).toHaveLength(TOTAL);

    await clock.advanceAsync(5500);
    hc.stop();

    // Nothing before the 1 s bootstrap delay; every check ran every round (first in 1..2 s).
    starts.sort((a, b) => a - b);
    expect(starts[0]).toBeGreaterThanOrEqual(1000);
    expect(perTarget.size).toBe(TOTAL);
    const rounds = [...perTarget.values()];
    expect(Math.min(...rounds)).toBeGreaterThanOrEqual(4);
    expect(Math.max(...rounds)).toBeLessThanOrEqual(5);

    // Steady state: TOTAL starts per second = 100 per 10 ms on average.
    const average = (TOTAL / 1000) * 10;
    const peak = maxInWindow(starts, 10);
    expect(peak).toBeLessThanOrEqual(average * 1.2);

    // Nobody waited for a concurrency slot, and the slot bound held.
    const stats = hc.scheduler.stats();
    expect(stats.lateStarts).toBe(0);
    expect(stats.stuck).toBe(0);
  }, 120_000);

  it('with the daemon\'s timer slack (10 ms), 10,000 checks over 20 rounds stay spread: at most 1.2× the average starts in any 10 or 20 ms window', async () => {
    const clock = new FakeClock();
    const starts: number[] = [];
    const perTarget = new Map<string, number>();
    // Each target answers after 0..19 ms of fake time, derived from its address.
    const probe: Probe = (spec) => {
      starts.push(clock.now());
      const addr = 'address' in spec ? spec.address : '';
      perTarget.set(addr, (perTarget.get(addr) ?? 0) + 1);
      const latency = Number(addr.split('.').at(-1)) % 20;
      return new Promise((resolve) => clock.setTimeout(() => resolve({ ok: true }), latency));
    };
    // Default rng: an even spread from a random seed (plain random would peak near 1.3× the average).
    const hc = new HealthChecker(bigConfig(), { clock, probe, maxConcurrent: 1000, queueWaitWarnMs: 50, timerSlackMs: CHECK_TIMER_SLACK_MS });
    hc.start();
    expect(hc.scheduler.keys()).toHaveLength(TOTAL);

    await clock.advanceAsync(21_500);
    hc.stop();

    // Nothing before the 1 s bootstrap delay; every check ran every round (first in 1..2 s).
    starts.sort((a, b) => a - b);
    expect(starts[0]).toBeGreaterThanOrEqual(1000);
    expect(perTarget.size).toBe(TOTAL);
    const rounds = [...perTarget.values()];
    // a round is delay_loop + latency + up to the slack
    expect(Math.min(...rounds)).toBeGreaterThanOrEqual(19);
    expect(Math.max(...rounds)).toBeLessThanOrEqual(21);

    // Steady state: TOTAL starts per second = 100 per 10 ms on average.
    const average = (TOTAL / 1000) * 10;
    const late = starts.filter((t) => t >= 11_500);
    // A wakeup starts what fell due over the last 10 ms at once, so the spread holds at 10 ms
    // and longer, not within a wakeup.
    expect(maxInWindow(late, 10)).toBeLessThanOrEqual(average * 1.2);
    expect(maxInWindow(late, 20)).toBeLessThanOrEqual(2 * average * 1.2);

    // Nobody waited for a concurrency slot, and the slot bound held.
    const stats = hc.scheduler.stats();
    expect(stats.lateStarts).toBe(0);
    expect(stats.stuck).toBe(0);
  }, 120_000);

  it('with every first attempt at the same instant (warmup 0), the concurrency bound still holds and late starts are counted', async () => {
    const clock = new FakeClock();
    let inflight = 0;
    let peak = 0;
    const probe: Probe = () => {
      inflight++;
      peak = Math.max(peak, inflight);
      return new Promise((resolve) =>
        clock.setTimeout(() => {
          inflight--;
          resolve({ ok: true });
        }, 10),
      );
    };
    const config = ConfigSchema.parse({
      virtual_servers: [
        {
          address: '10.255.0.1',
          port: 80,
          delay_loop: 1,
          warmup: 0,
          real_servers: Array.from({ length: 2000 }, (_, j) => ({ address: `10.0.${Math.floor(j / 250)}.${(j % 250) + 1}`, checks: [{ type: 'TCP_CHECK' }] })),
        },
      ],
    });
    const hc = new HealthChecker(config, { clock, probe, maxConcurrent: 100, queueWaitWarnMs: 100 });
    hc.start();
    await clock.advanceAsync(1500);
    // 2000 checks, 100 at a time, 10 ms each: 20 batches over 200 ms.
    expect(peak).toBe(100);
    const stats = hc.scheduler.stats();
    expect(stats.completed).toBe(2000);
    expect(stats.maxQueueWaitMs).toBe(190);
    expect(stats.lateStarts).toBe(900); // batches 11..19 waited 110..190 ms
    hc.stop();
  });
});

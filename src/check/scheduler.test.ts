import { describe, expect, it } from 'vitest';
import { FakeClock } from '../sys/clock.js';
import { CheckScheduler, evenSpread, type CheckUpdate, type ScheduledCheck } from './scheduler.js';
import type { DirectProbe, Probe, ProbeResult, ProbeSink, ProbeSpec } from './types.js';

const OK: ProbeResult = { ok: true };
const FAIL: ProbeResult = { ok: false, reason: 'refused', detail: 'refused' };

function tcpSpec(port = 80): ProbeSpec {
  return { kind: 'TCP_CHECK', address: '10.0.0.1', port, timeoutMs: 1000 };
}

function check(key: string, timing: Partial<ScheduledCheck['timing']> = {}, extra: Partial<ScheduledCheck> = {}): ScheduledCheck {
  return {
    key,
    kind: 'TCP_CHECK',
    specs: [tcpSpec()],
    timeoutMs: 1000,
    dynamic: false,
    timing: { delayLoopMs: 1000, retry: 1, delayBeforeRetryMs: 100, warmupMs: 0, alpha: false, fastRecovery: false, ...timing },
    ...extra,
  };
}

/** A probe whose attempts are recorded and settle when the test (or a fake-time delay) says so. */
function recordingProbe(clock: FakeClock, behave: (spec: ProbeSpec, n: number, signal: AbortSignal) => { after?: number; result?: ProbeResult; never?: boolean; honourAbort?: boolean } = () => ({ result: OK })) {
  const calls: { spec: ProbeSpec; at: number; signal: AbortSignal }[] = [];
  let inflight = 0;
  let maxInflight = 0;
  const probe: Probe = (spec, signal) => {
    calls.push({ spec, at: clock.now(), signal });
    const b = behave(spec, calls.length, signal);
    inflight++;
    maxInflight = Math.max(maxInflight, inflight);
    return new Promise<ProbeResult>((resolve) => {
      const done = (r: ProbeResult) => {
        inflight--;
        resolve(r);
      };
      if (b.honourAbort) signal.addEventListener('abort', () => done({ ok: false, reason: 'timeout', detail: 'aborted' }), { once: true });
      if (b.never) return;
      if (b.after === undefined) done(b.result ?? OK);
      else clock.setTimeout(() => done(b.result ?? OK), b.after);
    });
  };
  return { probe, calls, stats: () => ({ inflight, maxInflight }) };
}

describe('CheckScheduler: timing', () => {
  it('runs the first attempt after 1 s + warmup × rng, then every delay_loop after the end of an attempt', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock, () => ({ after: 200 }));
    const s = new CheckScheduler({ clock, probe: p.probe, rng: () => 0.5 });
    s.subscribe(check('a', { warmupMs: 2000 }), () => {});
    expect(s.nextRunAt('a')).toBe(2000);
    await clock.advanceAsync(1999);
    expect(p.calls).toHaveLength(0);
    await clock.advanceAsync(1);
    expect(p.calls.map((c) => c.at)).toEqual([2000]);
    await clock.advanceAsync(5000);
    expect(p.calls.map((c) => c.at)).toEqual([2000, 3200, 4400, 5600, 6800]);
  });

  it('MISC_CHECK counts delay_loop from the start of the previous run, as keepalived (last_ran)', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock, () => ({ after: 300 }));
    const s = new CheckScheduler({ clock, probe: p.probe });
    const misc: ScheduledCheck = { ...check('m'), kind: 'MISC_CHECK', specs: [{ kind: 'MISC_CHECK', command: '/bin/true', timeoutMs: 1000, dynamic: false }] };
    s.subscribe(misc, () => {});
    await clock.advanceAsync(4000);
    expect(p.calls.map((c) => c.at)).toEqual([1000, 2000, 3000, 4000]);
  });

  it('spaces retries by delay_before_retry and goes back to delay_loop once the verdict is settled', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock, (_s, n) => ({ result: n === 1 ? OK : FAIL }));
    const s = new CheckScheduler({ clock, probe: p.probe });
    const updates: CheckUpdate[] = [];
    s.subscribe(check('a', { retry: 2, delayBeforeRetryMs: 100 }), (u) => updates.push(u));
    await clock.advanceAsync(3500);
    expect(p.calls.map((c) => c.at)).toEqual([1000, 2000, 2100, 2200, 3200]);
    expect(updates.map((u) => u.verdict.up)).toEqual([true, true, true, false, false]);
    expect(updates.map((u) => u.verdict.changed)).toEqual([false, false, false, true, false]);
  });

  it('HTTP_GET: each attempt runs the next url', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock);
    const s = new CheckScheduler({ clock, probe: p.probe });
    const url = (path: string): ProbeSpec => ({ kind: 'HTTP_GET', address: '10.0.0.1', port: 80, timeoutMs: 1000, url: { path, statusCodes: [[200, 299]] }, httpProtocol: '1.0', verifyTls: false });
    s.subscribe({ ...check('h'), kind: 'HTTP_GET', specs: [url('/a'), url('/b'), url('/c')] }, () => {});
    await clock.advanceAsync(5000);
    expect(p.calls.map((c) => (c.spec.kind === 'HTTP_GET' ? c.spec.url.path : ''))).toEqual(['/a', '/b', '/c', '/a', '/b']);
  });

  it('the default rng spreads first attempts evenly over the warmup', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock);
    const s = new CheckScheduler({ clock, probe: p.probe, rng: evenSpread(0.123) });
    for (let i = 0; i < 200; i++) s.subscribe(check(`k${i}`, { warmupMs: 1000, delayLoopMs: 60_000 }), () => {});
    await clock.advanceAsync(2000);
    expect(p.calls).toHaveLength(200);
    const buckets = new Map<number, number>();
    for (const c of p.calls) {
      expect(c.at).toBeGreaterThanOrEqual(1000);
      expect(c.at).toBeLessThan(2000);
      const b = Math.floor(c.at / 10);
      buckets.set(b, (buckets.get(b) ?? 0) + 1);
    }
    // 200 starts over 1000 ms: 2 per 10 ms window on average, never a clump.
    expect(Math.max(...buckets.values())).toBeLessThanOrEqual(4);
  });
});

describe('CheckScheduler: dedup and subscriptions', () => {
  it('runs a key shared by two virtual servers once per round and gives both the same result', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock);
    const s = new CheckScheduler({ clock, probe: p.probe });
    const a: CheckUpdate[] = [];
    const b: CheckUpdate[] = [];
    const unA = s.subscribe(check('shared'), (u) => a.push(u));
    const unB = s.subscribe(check('shared'), (u) => b.push(u));
    expect(s.keys()).toEqual(['shared']);
    await clock.advanceAsync(3000);
    expect(p.calls).toHaveLength(3);
    expect(a).toHaveLength(3);
    expect(b).toEqual(a);

    unA();
    unA(); // idempotent
    await clock.advanceAsync(1000);
    expect(p.calls).toHaveLength(4);
    expect(b).toHaveLength(4);
    unB();
    expect(s.has('shared')).toBe(false);
    await clock.advanceAsync(5000);
    expect(p.calls).toHaveLength(4);
    expect(clock.pending()).toBe(0);
  });

  it('keeps going when a listener throws', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock);
    const errors: unknown[] = [];
    const s = new CheckScheduler({ clock, probe: p.probe, onListenerError: (e) => errors.push(e) });
    const got: number[] = [];
    s.subscribe(check('a'), () => {
      throw new Error('boom');
    });
    s.subscribe(check('a'), (u) => got.push(u.attempt));
    await clock.advanceAsync(2000);
    expect(got).toEqual([1, 2]);
    expect(errors).toHaveLength(2);
  });
});

describe('CheckScheduler: concurrency, deadlines and overlap', () => {
  it('never runs more than maxConcurrent probes; queued attempts run FIFO and long waits are counted', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock, () => ({ after: 50 }));
    const s = new CheckScheduler({ clock, probe: p.probe, maxConcurrent: 3, queueWaitWarnMs: 100 });
    for (let i = 0; i < 10; i++) s.subscribe(check(`k${i}`, { delayLoopMs: 60_000 }), () => {});
    await clock.advanceAsync(1000);
    expect(s.stats()).toMatchObject({ running: 3, queued: 7 });
    await clock.advanceAsync(500);
    expect(p.calls.map((c) => c.at - 1000)).toEqual([0, 0, 0, 50, 50, 50, 100, 100, 100, 150]);
    expect(p.stats().maxInflight).toBe(3);
    expect(s.stats()).toMatchObject({ running: 0, queued: 0, started: 10, completed: 10, lateStarts: 1, maxQueueWaitMs: 150 });
  });

  it('aborts an attempt at its deadline; a probe that honours the abort gives a timeout', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock, () => ({ never: true, honourAbort: true }));
    const latencies: number[] = [];
    const s = new CheckScheduler({ clock, probe: p.probe, onLatency: (_k, ms) => latencies.push(ms) });
    const updates: CheckUpdate[] = [];
    s.subscribe(check('a', {}, { timeoutMs: 300 }), (u) => updates.push(u));
    await clock.advanceAsync(1299);
    expect(p.calls[0]?.signal.aborted).toBe(false);
    await clock.advanceAsync(1);
    expect(p.calls[0]?.signal.aborted).toBe(true);
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ result: { ok: false, reason: 'timeout' }, outcome: 'settled', latencyMs: 300 });
    expect(latencies).toEqual([300]);
  });

  it('gives up on a probe that never settles (deadline + grace) and never overlaps it', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock, () => ({ never: true }));
    const s = new CheckScheduler({ clock, probe: p.probe, graceMs: 200, maxConcurrent: 1 });
    const updates: CheckUpdate[] = [];
    s.subscribe(check('a', {}, { timeoutMs: 300 }), (u) => updates.push(u));
    await clock.advanceAsync(1300);
    expect(updates).toHaveLength(0);
    await clock.advanceAsync(200);
    expect(updates).toMatchObject([{ outcome: 'stuck', result: { ok: false, reason: 'timeout' }, latencyMs: 500, verdict: { up: false, changed: true } }]);
    // The slot is free again for other keys...
    expect(s.stats()).toMatchObject({ running: 0, stuck: 1 });
    // ...but this key's wedged probe is never overlapped: later attempts fail without a probe.
    await clock.advanceAsync(3000);
    expect(p.calls).toHaveLength(1);
    expect(updates.slice(1).map((u) => u.outcome)).toEqual(['overlap', 'overlap', 'overlap']);
    expect(s.stats().overlapSkipped).toBe(3);
  });

  it('a success that arrives after the deadline counts as a timeout', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock, () => ({ after: 400, result: OK }));
    const s = new CheckScheduler({ clock, probe: p.probe, graceMs: 1000 });
    const updates: CheckUpdate[] = [];
    s.subscribe(check('a', {}, { timeoutMs: 300 }), (u) => updates.push(u));
    await clock.advanceAsync(1400);
    expect(updates).toMatchObject([{ outcome: 'late', result: { ok: false, reason: 'timeout' }, latencyMs: 400 }]);
  });

  it('never starts two attempts of one key at once, even when a probe outlasts delay_loop', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock, () => ({ after: 700 }));
    const s = new CheckScheduler({ clock, probe: p.probe });
    s.subscribe(check('a', { delayLoopMs: 100 }, { timeoutMs: 5000 }), () => {});
    await clock.advanceAsync(5000);
    expect(p.stats().maxInflight).toBe(1);
    expect(p.calls.map((c) => c.at)).toEqual([1000, 1800, 2600, 3400, 4200, 5000]);
  });

  it('a probe that throws or rejects is a failed attempt, not a crash', async () => {
    const clock = new FakeClock();
    let n = 0;
    const probe: Probe = () => {
      n++;
      if (n === 1) throw new Error('sync boom');
      return Promise.reject(new Error('async boom'));
    };
    const s = new CheckScheduler({ clock, probe });
    const updates: CheckUpdate[] = [];
    s.subscribe(check('a'), (u) => updates.push(u));
    await clock.advanceAsync(2000);
    expect(updates.map((u) => [u.outcome, u.result.ok ? '' : u.result.detail])).toEqual([
      ['threw', 'the probe threw: sync boom'],
      ['threw', 'the probe threw: async boom'],
    ]);
    expect(s.stats().probeErrors).toBe(2);
  });

  it('stop() cancels every timer, aborts probes in flight and ignores what settles later', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock, () => ({ after: 500 }));
    const s = new CheckScheduler({ clock, probe: p.probe, maxConcurrent: 1 });
    const updates: CheckUpdate[] = [];
    s.subscribe(check('a'), (u) => updates.push(u));
    s.subscribe(check('b'), (u) => updates.push(u));
    await clock.advanceAsync(1100);
    expect(s.stats()).toMatchObject({ running: 1, queued: 1 });
    s.stop();
    expect(p.calls[0]?.signal.aborted).toBe(true);
    expect(s.stats()).toMatchObject({ jobs: 0, running: 0, queued: 0 });
    await clock.advanceAsync(10_000);
    expect(updates).toHaveLength(0);
    expect(p.calls).toHaveLength(1);
    expect(() => s.subscribe(check('c'), () => {})).toThrow(/stopped/);
  });
});

describe('CheckScheduler: the abort signal handed to probes', () => {
  it('is reused across attempts while nothing aborted it', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock, () => ({ after: 10 }));
    const s = new CheckScheduler({ clock, probe: p.probe, rng: () => 0 });
    s.subscribe(check('a'), () => {});
    await clock.advanceAsync(4000);
    expect(p.calls.length).toBeGreaterThanOrEqual(3);
    expect(new Set(p.calls.map((c) => c.signal)).size).toBe(1);
    expect(p.calls.every((c) => !c.signal.aborted)).toBe(true);
  });

  it('is fresh after an attempt ran into its deadline (the old one stays aborted)', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock, (_s, n) => (n === 1 ? { never: true, honourAbort: true } : { after: 10 }));
    const s = new CheckScheduler({ clock, probe: p.probe, rng: () => 0 });
    s.subscribe(check('a'), () => {});
    await clock.advanceAsync(5000);
    expect(p.calls.length).toBeGreaterThanOrEqual(2);
    expect(p.calls[0]!.signal.aborted).toBe(true);
    expect(p.calls[1]!.signal).not.toBe(p.calls[0]!.signal);
    expect(p.calls[1]!.signal.aborted).toBe(false);
  });

  it('comes from a pool shared by all jobs, no larger than what runs at once', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock, () => ({ after: 50 }));
    const s = new CheckScheduler({ clock, probe: p.probe, rng: () => 0.5, maxConcurrent: 4 });
    for (let i = 0; i < 100; i++) s.subscribe(check(`rs${i}`, { warmupMs: 1000 }), () => {});
    await clock.advanceAsync(10_000);
    expect(p.calls.length).toBeGreaterThan(500);
    expect(p.stats().maxInflight).toBeLessThanOrEqual(4);
    // 100 jobs, at most 4 attempts at a time: at most 4 controllers ever, not one per job
    expect(new Set(p.calls.map((c) => c.signal)).size).toBeLessThanOrEqual(4);
  });

  it('is replaced within 16 attempts when probes leave listeners on it', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock, () => ({ after: 10, honourAbort: true }));
    const s = new CheckScheduler({ clock, probe: p.probe, rng: () => 0 });
    s.subscribe(check('a'), () => {});
    await clock.advanceAsync(40_000);
    const signals = new Set(p.calls.map((c) => c.signal));
    expect(p.calls.length).toBeGreaterThan(32);
    expect(signals.size).toBeGreaterThanOrEqual(2);
    // no signal collects more than 16 leftover listeners
    for (const sig of signals) expect(p.calls.filter((c) => c.signal === sig).length).toBeLessThanOrEqual(16);
  });
});

/** A DirectProbe whose attempts settle when the test (or a fake-time delay) says so. */
function directProbe(clock: FakeClock, behave: (spec: ProbeSpec, n: number) => { after?: number; result?: ProbeResult; never?: boolean; sync?: boolean; decline?: boolean; throws?: boolean }) {
  const started: { spec: ProbeSpec; at: number; handle: number }[] = [];
  const expired: number[] = [];
  const cancelled: number[] = [];
  const live = new Map<number, { sink: ProbeSink; timer?: unknown }>();
  let next = 1;
  const direct: DirectProbe = {
    start(spec, sink) {
      const b = behave(spec, started.length + 1);
      if (b.throws) throw new Error('direct start blew up');
      if (b.decline) return -1;
      const handle = next++;
      started.push({ spec, at: clock.now(), handle });
      if (b.sync) {
        sink.settle(b.result ?? OK);
        return handle;
      }
      const entry: { sink: ProbeSink; timer?: unknown } = { sink };
      live.set(handle, entry);
      if (!b.never)
        entry.timer = clock.setTimeout(() => {
          live.delete(handle);
          sink.settle(b.result ?? OK);
        }, b.after ?? 0);
      return handle;
    },
    expire(handle, spec, timeoutMs) {
      expired.push(handle);
      const e = live.get(handle);
      if (e?.timer !== undefined) clock.clearTimeout(e.timer);
      live.delete(handle);
      return { ok: false, reason: 'timeout', detail: `direct ${spec.kind} expired after ${timeoutMs}` };
    },
    cancel(handle) {
      cancelled.push(handle);
      const e = live.get(handle);
      if (e?.timer !== undefined) clock.clearTimeout(e.timer);
      live.delete(handle);
    },
  };
  return { direct, started, expired, cancelled, live };
}

describe('CheckScheduler: direct probes (no promise per attempt)', () => {
  const never: Probe = () => {
    throw new Error('the promise path must not run');
  };

  it('runs a direct probe, and the update and timing are those of the promise path', async () => {
    const clock = new FakeClock();
    const d = directProbe(clock, () => ({ after: 200 }));
    const s = new CheckScheduler({ clock, probe: never, direct: d.direct });
    const updates: CheckUpdate[] = [];
    s.subscribe(check('a'), (u) => updates.push(u));
    await clock.advanceAsync(3500);
    expect(d.started.map((c) => c.at)).toEqual([1000, 2200, 3400]);
    expect(updates.map((u) => [u.startedAt, u.finishedAt, u.latencyMs, u.outcome, u.result.ok])).toEqual([
      [1000, 1200, 200, 'settled', true],
      [2200, 2400, 200, 'settled', true],
    ]);
    expect(s.stats()).toMatchObject({ started: 3, completed: 2, running: 1 });
  });

  it('reads the clock about twice a check, not once for every step (a read costs ~5 µs in the QEMU guest)', async () => {
    const clock = new FakeClock();
    let reads = 0;
    const counted = { now: () => (reads++, clock.now()), setTimeout: (fn: () => void, ms: number) => clock.setTimeout(fn, ms), clearTimeout: (h: unknown) => clock.clearTimeout(h) };
    const d = directProbe(clock, () => ({ after: 30 }));
    const s = new CheckScheduler({ clock: counted, probe: never, direct: d.direct, timerSlackMs: 10, rng: evenSpread(0.25) });
    let updates = 0;
    for (let i = 0; i < 200; i++) s.subscribe(check(`k${i}`, { warmupMs: 1000 }), () => updates++);
    await clock.advanceAsync(3000); // past the bootstrap and the warmup spread
    const [r0, u0] = [reads, updates];
    await clock.advanceAsync(10_000);
    const perCheck = (reads - r0) / (updates - u0);
    expect(updates - u0).toBeGreaterThan(1500);
    // one read when an attempt ends (its latency and next run), one a wakeup of the due timer
    // (shared by the attempts it starts), one when that timer is armed again; it was 5 a check
    expect(perCheck).toBeLessThanOrEqual(2.5);
  });

  it('expires at the deadline with the probe\'s own result, counted as a timeout, and a late settle is ignored', async () => {
    const clock = new FakeClock();
    const d = directProbe(clock, (_s, n) => (n === 1 ? { never: true } : { after: 10 }));
    const s = new CheckScheduler({ clock, probe: never, direct: d.direct });
    const updates: CheckUpdate[] = [];
    s.subscribe(check('a', { retry: 0 }), (u) => updates.push(u));
    await clock.advanceAsync(1999);
    expect(updates).toHaveLength(0);
    const first = d.live.get(1)!.sink;
    await clock.advanceAsync(1);
    expect(d.expired).toEqual([1]);
    first.settle(OK); // late: ignored
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ latencyMs: 1000, outcome: 'settled', result: { ok: false, reason: 'timeout', detail: 'direct TCP_CHECK expired after 1000' } });
    expect(updates[0]!.verdict.up).toBe(false);
    expect(s.stats()).toMatchObject({ timeouts: 1, running: 0, stuck: 0 });
    // the next attempt runs after delay_before_retry... retry 0: delay_loop from the end
    await clock.advanceAsync(1010);
    expect(d.started.map((c) => c.at)).toEqual([1000, 3000]);
    expect(updates[1]).toMatchObject({ result: { ok: true } });
  });

  it('a settle during start() (a synchronous error) finishes the attempt at once', async () => {
    const clock = new FakeClock();
    const d = directProbe(clock, () => ({ sync: true, result: FAIL }));
    const s = new CheckScheduler({ clock, probe: never, direct: d.direct });
    const updates: CheckUpdate[] = [];
    s.subscribe(check('a', { retry: 0 }), (u) => updates.push(u));
    await clock.advanceAsync(1000);
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ latencyMs: 0, result: FAIL });
    expect(s.stats()).toMatchObject({ running: 0, completed: 1 });
    // no deadline left behind: nothing expires later
    await clock.advanceAsync(5000);
    expect(d.expired).toEqual([]);
  });

  it('a spec the direct probe declines runs on the promise path', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock, () => ({ after: 50 }));
    const d = directProbe(clock, () => ({ decline: true }));
    const s = new CheckScheduler({ clock, probe: p.probe, direct: d.direct });
    const updates: CheckUpdate[] = [];
    s.subscribe(check('a'), (u) => updates.push(u));
    await clock.advanceAsync(1100);
    expect(d.started).toEqual([]);
    expect(p.calls.map((c) => c.at)).toEqual([1000]);
    expect(updates[0]).toMatchObject({ latencyMs: 50, result: { ok: true } });
  });

  it('a direct probe that throws gives an error result, not a crash', async () => {
    const clock = new FakeClock();
    const d = directProbe(clock, () => ({ throws: true }));
    const s = new CheckScheduler({ clock, probe: never, direct: d.direct });
    const updates: CheckUpdate[] = [];
    s.subscribe(check('a'), (u) => updates.push(u));
    await clock.advanceAsync(1000);
    expect(updates[0]).toMatchObject({ outcome: 'threw', result: { ok: false, reason: 'error', detail: 'the probe threw: direct start blew up' } });
    expect(s.stats()).toMatchObject({ probeErrors: 1, running: 0 });
  });

  it('unsubscribing cancels the running attempt; stop() cancels every one, and nothing settles after', async () => {
    const clock = new FakeClock();
    const d = directProbe(clock, () => ({ never: true }));
    const s = new CheckScheduler({ clock, probe: never, direct: d.direct });
    const updates: CheckUpdate[] = [];
    const off = s.subscribe(check('a'), (u) => updates.push(u));
    s.subscribe(check('b', {}, { specs: [tcpSpec(81)] }), (u) => updates.push(u));
    await clock.advanceAsync(1000);
    expect(d.started).toHaveLength(2);
    off();
    expect(d.cancelled).toEqual([d.started[0]!.handle]);
    s.stop();
    expect(d.cancelled).toEqual([d.started[0]!.handle, d.started[1]!.handle]);
    await clock.advanceAsync(5000);
    expect(updates).toEqual([]);
    expect(d.expired).toEqual([]);
    expect(clock.pending()).toBe(0);
  });

  it('deadlines share one clock timer, however many attempts run', async () => {
    const clock = new FakeClock();
    const d = directProbe(clock, () => ({ never: true }));
    const s = new CheckScheduler({ clock, probe: never, direct: d.direct, rng: evenSpread(0) });
    for (let i = 0; i < 50; i++) s.subscribe(check(`k${i}`, { warmupMs: 500 }, { specs: [tcpSpec(1000 + i)] }), () => {});
    await clock.advanceAsync(1500);
    expect(d.started).toHaveLength(50);
    // every job is running: no due timer, and one deadline timer for all 50
    expect(clock.pending()).toBe(1);
    await clock.advanceAsync(1000);
    expect(d.expired).toHaveLength(50);
    expect(s.stats()).toMatchObject({ timeouts: 50, running: 0 });
  });
});

describe('CheckScheduler: timer slack', () => {
  it('starts the attempts due within the slack in one wakeup, none early and none more than the slack late', async () => {
    const clock = new FakeClock();
    const p = recordingProbe(clock, () => ({ result: OK }));
    const s = new CheckScheduler({ clock, probe: p.probe, rng: evenSpread(0), timerSlackMs: 10 });
    const due = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const key = `k${i}`;
      s.subscribe(check(key, { warmupMs: 1000 }, { specs: [tcpSpec(2000 + i)] }), () => {});
      due.set(`${2000 + i}`, s.nextRunAt(key)!);
    }
    let wakeups = 0;
    const starts = new Set<number>();
    while (p.calls.length < 200) {
      const before = p.calls.length;
      await clock.advanceTo(clock.nextDue()!);
      if (p.calls.length > before) wakeups++;
      for (const c of p.calls.slice(before)) starts.add(c.at);
    }
    for (const c of p.calls) {
      const at = due.get(`${(c.spec as { port: number }).port}`)!;
      expect(c.at).toBeGreaterThanOrEqual(at);
      expect(c.at - at).toBeLessThanOrEqual(10);
    }
    // 200 starts evenly over 1 s (one per 5 ms): a wakeup per ~10 ms window, not one per check
    expect(wakeups).toBeLessThanOrEqual(200 / 2);
    expect(wakeups).toBeGreaterThanOrEqual(1000 / 20);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ScriptSpec } from '../../config/schema.js';
import { FakeClock } from '../../sys/clock.js';
import type { RunOptions, ScriptResult, ScriptRunner } from '../../sys/exec.js';
import { TrackScript, type TrackScriptOptions } from './track-script.js';

/** How one fake run ends: exit code after `ms`, or hang until killed (dying `killMs` after the abort). */
type Outcome = { code: number; ms?: number } | { hang: true; killMs?: number };

function result(p: Partial<ScriptResult>): ScriptResult {
  return { code: 0, signal: null, timedOut: false, aborted: false, durationMs: 0, mode: 'exec', argv: ['x'], stdout: '', stderr: '', ...p };
}

/** A runner driven by the fake clock: each call takes the next outcome (the last one repeats). */
function fakeRunner(clock: FakeClock, outcomes: Outcome[]) {
  const calls: { at: number; opts: RunOptions; spec: ScriptSpec }[] = [];
  let i = 0;
  const runner: ScriptRunner = (spec, opts) => {
    calls.push({ at: clock.now(), opts, spec });
    const o = outcomes[Math.min(i++, outcomes.length - 1)] ?? { code: 0 };
    return new Promise<ScriptResult>((resolve) => {
      if ('hang' in o) {
        opts.signal?.addEventListener('abort', () => {
          clock.setTimeout(() => resolve(result({ code: null, signal: 'SIGTERM', aborted: true })), o.killMs ?? 0);
        });
        return;
      }
      if (!o.ms) resolve(result({ code: o.code }));
      else clock.setTimeout(() => resolve(result({ code: o.code })), o.ms);
    });
  };
  return { runner, calls };
}

function setup(def: Partial<TrackScriptOptions['def']>, outcomes: Outcome[]) {
  const clock = new FakeClock();
  const { runner, calls } = fakeRunner(clock, outcomes);
  const ts = new TrackScript({
    name: 'chk',
    def: { script: { command: '/bin/check' }, interval: 1000, rise: 1, fall: 1, init_fail: false, ...def },
    clock,
    runner,
  });
  const changes: { at: number; up: boolean }[] = [];
  ts.on('change', (up) => changes.push({ at: clock.now(), up }));
  return { clock, ts, calls, changes };
}

const ok = (ms = 0): Outcome => ({ code: 0, ms });
const ko = (ms = 0): Outcome => ({ code: 1, ms });

describe('TrackScript: initial state', () => {
  it('starts in init and the first success makes it up, even with rise 3 ("one success is enough")', async () => {
    const { clock, ts, changes } = setup({ rise: 3, fall: 2 }, [ok()]);
    expect(ts.status).toBe('init');
    expect(ts.resultCounter).toBe(2);
    ts.start();
    await clock.advanceAsync(0);
    expect(ts.status).toBe('up');
    expect(ts.resultCounter).toBe(4);
    expect(changes).toEqual([{ at: 0, up: true }]);
    ts.stop();
  });

  it('the first failure in init makes it down', async () => {
    const { clock, ts, changes } = setup({ rise: 3, fall: 2 }, [ko()]);
    ts.start();
    await clock.advanceAsync(0);
    expect(ts.status).toBe('down');
    expect(ts.resultCounter).toBe(0);
    expect(changes).toEqual([{ at: 0, up: false }]);
    ts.stop();
  });

  it('init_fail starts down (no event) and needs rise successes', async () => {
    const { clock, ts, changes } = setup({ rise: 3, fall: 1, init_fail: true }, [ko(), ok()]);
    expect(ts.status).toBe('down');
    ts.start();
    await clock.advanceAsync(0); // run 1 fails: stays down, no event
    expect(changes).toEqual([]);
    await clock.advanceAsync(1000); // success 1
    await clock.advanceAsync(1000); // success 2
    expect(ts.status).toBe('down');
    await clock.advanceAsync(1000); // success 3
    expect(ts.status).toBe('up');
    expect(changes).toEqual([{ at: 3000, up: true }]);
    ts.stop();
  });
});

describe('TrackScript: rise/fall', () => {
  it('needs fall consecutive failures to go down; a success in between resets', async () => {
    // t=0 ok(up) 1000 ko 2000 ko 3000 ok 4000 ko 5000 ko 6000 ko(down)
    const { clock, ts, changes } = setup({ rise: 2, fall: 3 }, [ok(), ko(), ko(), ok(), ko(), ko(), ko(), ok()]);
    ts.start();
    await clock.advanceAsync(0);
    const statuses: string[] = [ts.status];
    for (let i = 0; i < 7; i++) {
      await clock.advanceAsync(1000);
      statuses.push(ts.status);
    }
    expect(statuses).toEqual(['up', 'up', 'up', 'up', 'up', 'up', 'down', 'down']);
    expect(changes).toEqual([
      { at: 0, up: true },
      { at: 6000, up: false },
    ]);
    ts.stop();
  });

  it('needs rise consecutive successes to come back up', async () => {
    const { clock, ts, changes } = setup({ rise: 2, fall: 1 }, [ko(), ok(), ko(), ok(), ok()]);
    ts.start();
    for (let i = 0; i < 5; i++) await clock.advanceAsync(i === 0 ? 0 : 1000);
    expect(changes).toEqual([
      { at: 0, up: false },
      { at: 4000, up: true },
    ]);
    ts.stop();
  });
});

describe('TrackScript: scheduling, timeout, overlap', () => {
  it('runs every interval from the previous tick, not from the end of the run', async () => {
    const { clock, ts, calls } = setup({ interval: 1000 }, [ok(300)]);
    ts.start();
    await clock.advanceAsync(3500);
    expect(calls.map((c) => c.at)).toEqual([0, 1000, 2000, 3000]);
    expect(calls[0]?.opts.timeoutMs).toBe(1000); // timeout defaults to interval
    expect(ts.stats).toMatchObject({ runs: 4, succeeded: 4, skipped: 0 });
    ts.stop();
  });

  it('never runs twice at once: a tick during a run is skipped and counted', async () => {
    const { clock, ts, calls } = setup({ interval: 1000, timeout: 5000 }, [ok(2500)]);
    ts.start();
    await clock.advanceAsync(3000);
    expect(calls.map((c) => c.at)).toEqual([0, 3000]);
    expect(ts.stats.skipped).toBe(2);
    expect(ts.isRunning).toBe(true);
    ts.stop();
  });

  it('kills a run at the timeout (via the abort signal) and counts it as a failure', async () => {
    const { clock, ts, calls, changes } = setup({ interval: 1000, timeout: 400 }, [ok(), { hang: true }, ok()]);
    ts.start();
    await clock.advanceAsync(0);
    expect(ts.status).toBe('up');
    await clock.advanceAsync(1000); // second run starts, hangs
    expect(calls[1]?.opts.signal?.aborted).toBe(false);
    await clock.advanceAsync(399);
    expect(ts.isRunning).toBe(true);
    await clock.advanceAsync(1); // t = 1400: timeout
    expect(calls[1]?.opts.signal?.aborted).toBe(true);
    expect(ts.status).toBe('down');
    expect(ts.stats).toMatchObject({ timedOut: 1, failed: 1 });
    expect(changes).toEqual([
      { at: 0, up: true },
      { at: 1400, up: false },
    ]);
    await clock.advanceAsync(600); // t = 2000: next run succeeds
    expect(ts.status).toBe('up');
    ts.stop();
  });

  it('a run being killed still blocks the next ticks until the process is gone', async () => {
    // hangs, killed at 500, but takes 2 s to die after the abort (SIGTERM ignored, then SIGKILL)
    const { clock, ts, calls } = setup({ interval: 1000, timeout: 500 }, [{ hang: true, killMs: 2000 }, ok()]);
    ts.start();
    await clock.advanceAsync(2400);
    expect(calls).toHaveLength(1);
    expect(ts.isRunning).toBe(true);
    await clock.advanceAsync(100); // 2500: the killed run ends
    expect(ts.isRunning).toBe(false);
    await clock.advanceAsync(500); // 3000: next tick runs
    expect(calls.map((c) => c.at)).toEqual([0, 3000]);
    expect(ts.stats.skipped).toBe(2);
    ts.stop();
  });

  it('a timed-out runner result (timedOut) is a failure too', async () => {
    const clock = new FakeClock();
    const ts = new TrackScript({
      name: 'chk',
      def: { script: { command: 'x' }, interval: 1000, rise: 1, fall: 1, init_fail: false },
      clock,
      runner: async () => result({ code: null, signal: 'SIGTERM', timedOut: true }),
    });
    ts.start();
    await clock.advanceAsync(0);
    expect(ts.status).toBe('down');
    expect(ts.stats.timedOut).toBe(1);
    ts.stop();
  });

  it('a runner that throws or rejects counts as a failure and does not stop the schedule', async () => {
    const clock = new FakeClock();
    let n = 0;
    const ts = new TrackScript({
      name: 'chk',
      def: { script: { command: 'x' }, interval: 1000, rise: 1, fall: 1, init_fail: false },
      clock,
      runner: (() => {
        n++;
        if (n === 1) throw new Error('boom');
        if (n === 2) return Promise.reject(new Error('nope'));
        return Promise.resolve(result({ code: 0 }));
      }) as ScriptRunner,
    });
    const results: (string | undefined)[] = [];
    ts.on('result', (r) => results.push(r.error));
    ts.start();
    await clock.advanceAsync(2000);
    expect(results).toEqual(['runner failed: boom', 'runner failed: nope', undefined]);
    expect(ts.status).toBe('up');
    ts.stop();
  });

  it('stop() aborts the running script, ignores its result and schedules nothing more', async () => {
    const { clock, ts, calls, changes } = setup({ interval: 1000, timeout: 5000 }, [ok(800)]);
    ts.start();
    await clock.advanceAsync(100);
    ts.stop();
    expect(calls[0]?.opts.signal?.aborted).toBe(true);
    await clock.advanceAsync(5000);
    expect(calls).toHaveLength(1);
    expect(changes).toEqual([]);
    expect(ts.status).toBe('init');
    expect(clock.pending()).toBe(0);
  });

  it('interval 0 falls back to 1 s; timeout 0 means the interval', () => {
    const { ts } = setup({ interval: 0, timeout: 0 }, [ok()]);
    expect(ts.intervalMs).toBe(1000);
    expect(ts.timeoutMs).toBe(1000);
  });

  it('judges by the exit status: a script that exits 0 after SIGTERM still succeeds (keepalived)', async () => {
    const clock = new FakeClock();
    const ts = new TrackScript({
      name: 'chk',
      def: { script: { command: 'x' }, interval: 1000, timeout: 100, rise: 1, fall: 1, init_fail: false },
      clock,
      runner: (_s, opts) => new Promise((resolve) => opts.signal?.addEventListener('abort', () => resolve(result({ code: 0, aborted: true })))),
    });
    ts.start();
    await clock.advanceAsync(100);
    expect(ts.status).toBe('up');
    ts.stop();
  });
});

describe('TrackScript: property', () => {
  /** Reference semantics: init decided by the first result; then rise consecutive OKs / fall consecutive KOs. */
  function reference(rise: number, fall: number, initFail: boolean, results: boolean[]): string[] {
    let st = initFail ? 'down' : 'init';
    let streak = 0;
    const out: string[] = [];
    for (const r of results) {
      if (st === 'init') {
        st = r ? 'up' : 'down';
        streak = 0;
      } else if (st === 'down') {
        streak = r ? streak + 1 : 0;
        if (streak >= rise) {
          st = 'up';
          streak = 0;
        }
      } else {
        streak = r ? 0 : streak + 1;
        if (streak >= fall) {
          st = 'down';
          streak = 0;
        }
      }
      out.push(st);
    }
    return out;
  }

  it('keepalived’s counter equals "rise consecutive successes / fall consecutive failures"', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }),
        async (rise, fall, initFail, results) => {
          const { clock, ts, changes } = setup({ rise, fall, init_fail: initFail }, results.map((r) => (r ? ok() : ko())));
          const seen: string[] = [];
          ts.start();
          await clock.advanceAsync(0);
          seen.push(ts.status);
          for (let i = 1; i < results.length; i++) {
            await clock.advanceAsync(1000);
            seen.push(ts.status);
          }
          ts.stop();
          const expected = reference(rise, fall, initFail, results);
          expect(seen).toEqual(expected);
          // one change event per transition
          const transitions = expected.filter((s, i) => s !== (i === 0 ? (initFail ? 'down' : 'init') : expected[i - 1])).length;
          expect(changes).toHaveLength(transitions);
        },
      ),
      { numRuns: 150 },
    );
  });
});

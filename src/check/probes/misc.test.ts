import { describe, expect, it } from 'vitest';

import type { RunOptions, ScriptResult } from '../../sys/exec.js';
import type { ProbeSpec } from '../types.js';
import { createMiscProbe, miscResult, miscRunsInFlight } from './misc.js';

function result(over: Partial<ScriptResult>): ScriptResult {
  return { code: 0, signal: null, timedOut: false, aborted: false, durationMs: 1, mode: 'exec', argv: ['/x'], stdout: '', stderr: '', ...over };
}

describe('miscResult (keepalived MISC_CHECK exit codes)', () => {
  it('plain: 0 passes, anything else fails with exit', () => {
    expect(miscResult(result({ code: 0 }), false)).toEqual({ ok: true, detail: 'exit 0' });
    expect(miscResult(result({ code: 1 }), false)).toMatchObject({ ok: false, reason: 'exit', detail: 'exit 1' });
    expect(miscResult(result({ code: 5, stderr: 'db down\nmore' }), false)).toMatchObject({ ok: false, reason: 'exit', detail: 'exit 5: db down' });
  });

  it('misc_dynamic: 1 fails, 2..255 pass with weight exit−2, 0 passes without weight', () => {
    expect(miscResult(result({ code: 0 }), true)).toEqual({ ok: true, detail: 'exit 0' });
    expect(miscResult(result({ code: 1 }), true)).toMatchObject({ ok: false, reason: 'exit' });
    expect(miscResult(result({ code: 2 }), true)).toMatchObject({ ok: true, weight: 0 });
    expect(miscResult(result({ code: 5 }), true)).toMatchObject({ ok: true, weight: 3 });
    expect(miscResult(result({ code: 255 }), true)).toMatchObject({ ok: true, weight: 253 });
  });

  it('signals, timeouts and scripts that cannot run', () => {
    expect(miscResult(result({ code: null, signal: 'SIGSEGV' }), false)).toMatchObject({ ok: false, reason: 'signal' });
    expect(miscResult(result({ code: null, signal: 'SIGTERM', timedOut: true }), false)).toMatchObject({ ok: false, reason: 'timeout' });
    expect(miscResult(result({ code: 127, mode: 'none', error: 'not found' }), true)).toMatchObject({ ok: false, reason: 'error' });
  });
});

const spec = (over: Partial<Extract<ProbeSpec, { kind: 'MISC_CHECK' }>> = {}): ProbeSpec => ({
  kind: 'MISC_CHECK',
  command: '/usr/local/bin/check',
  timeoutMs: 10_000,
  dynamic: false,
  ...over,
});

/** A runner that runs until aborted, then takes `dieMs` to "exit". */
function slowRunner(dieMs: number) {
  const calls: RunOptions[] = [];
  let live = 0;
  let maxLive = 0;
  const runner = (_s: unknown, opts: RunOptions): Promise<ScriptResult> => {
    calls.push(opts);
    live++;
    maxLive = Math.max(maxLive, live);
    return new Promise((resolve) => {
      opts.signal?.addEventListener('abort', () =>
        setTimeout(() => {
          live--;
          resolve(result({ code: null, signal: 'SIGKILL', aborted: true }));
        }, dieMs),
      );
    });
  };
  return { runner, calls, stats: () => ({ live, maxLive }) };
}

describe('createMiscProbe', () => {
  it('passes the deadline to the runner as an abort signal, and settles at the deadline', async () => {
    const r = slowRunner(0);
    const probe = createMiscProbe(r.runner);
    const res = await probe(spec({ timeoutMs: 50 }), new AbortController().signal);
    expect(res).toMatchObject({ ok: false, reason: 'timeout' });
    expect(r.calls[0]?.signal?.aborted).toBe(true);
    expect(r.calls[0]?.timeoutMs).toBe(0);
  });

  it('never runs two copies of the same script: the next attempt waits for the dying one', async () => {
    const r = slowRunner(300);
    const probe = createMiscProbe(r.runner);
    const first = await probe(spec({ timeoutMs: 30 }), new AbortController().signal);
    expect(first).toMatchObject({ reason: 'timeout' });
    // the first run is still "being killed" for 300 ms: this attempt must not start another
    const second = await probe(spec({ timeoutMs: 50 }), new AbortController().signal);
    expect(second).toMatchObject({ ok: false, reason: 'timeout', detail: expect.stringContaining('previous run') });
    expect(r.calls).toHaveLength(1);
    await expect.poll(() => miscRunsInFlight(), { timeout: 3000 }).toBe(0);
    expect(r.stats()).toEqual({ live: 0, maxLive: 1 });
  });

  it('different commands run side by side', async () => {
    const r = slowRunner(0);
    const probe = createMiscProbe(r.runner);
    const ctl = new AbortController();
    const a = probe(spec({ command: '/a' }), ctl.signal);
    const b = probe(spec({ command: '/b' }), ctl.signal);
    await new Promise((res) => setTimeout(res, 20));
    expect(r.stats().live).toBe(2);
    ctl.abort();
    await expect(Promise.all([a, b])).resolves.toMatchObject([{ reason: 'timeout' }, { reason: 'timeout' }]);
  });

  it('a runner that rejects gives an error result', async () => {
    const probe = createMiscProbe(() => Promise.reject(new Error('spawn exploded')));
    await expect(probe(spec(), new AbortController().signal)).resolves.toEqual({ ok: false, reason: 'error', detail: 'spawn exploded' });
  });
});

/**
 * MISC_CHECK with real scripts through src/daemon/exec.ts: exit-code mapping, misc_dynamic
 * weights, and process hygiene: a script that hangs is killed with its whole process group at
 * the deadline, forked children die too, stragglers of a finished script are reaped, and a
 * script being killed is never started a second time.
 */
import { spawnSync } from 'node:child_process';

import { afterAll, describe, expect, it } from 'vitest';

import { miscProbe, miscRunsInFlight } from '../src/check/probes/misc.js';
import type { ProbeSpec } from '../src/check/types.js';
import { runningScriptCount } from '../src/sys/exec.js';
import { waitFor } from './helpers/servers.js';

const misc = (command: string, over: Partial<Extract<ProbeSpec, { kind: 'MISC_CHECK' }>> = {}): ProbeSpec => ({
  kind: 'MISC_CHECK',
  command,
  timeoutMs: 5000,
  dynamic: false,
  ...over,
});
const sig = () => new AbortController().signal;

const MARKERS = ['731.5', '731.6', '732.1', '732.2', '733.1', '734.1'];

/** PIDs of the `sleep <marker>` processes (each test uses its own unique duration). */
function pids(marker: string): number[] {
  const r = spawnSync('pgrep', ['-f', `^sleep ${marker.replace(/\./g, '\\.')}$`], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

// Safety net if a test fails half-way: SIGKILL, by pid, the sleeps these tests started.
afterAll(() => {
  for (const m of MARKERS) {
    for (const pid of pids(m)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
});

async function settledAndClean(markers: string[], timeoutMs = 6000): Promise<void> {
  await waitFor(() => runningScriptCount() === 0 && miscRunsInFlight() === 0, timeoutMs, 'script runs to finish');
  await waitFor(() => markers.every((m) => pids(m).length === 0), timeoutMs, `no process left for ${markers.join(', ')}`);
}

describe('MISC_CHECK exit codes', () => {
  it('exit 0 passes, exit 1 fails', async () => {
    await expect(miscProbe(misc('/bin/true'), sig())).resolves.toEqual({ ok: true, detail: 'exit 0' });
    await expect(miscProbe(misc('/bin/false'), sig())).resolves.toMatchObject({ ok: false, reason: 'exit', detail: 'exit 1' });
  });

  it('misc_dynamic: exit 5 → up with weight 3; exit 1 → down; without misc_dynamic exit 5 is down', async () => {
    await expect(miscProbe(misc('/bin/sh -c "exit 5"', { dynamic: true }), sig())).resolves.toEqual({ ok: true, weight: 3, detail: 'exit 5: weight 3' });
    await expect(miscProbe(misc('/bin/sh -c "exit 1"', { dynamic: true }), sig())).resolves.toMatchObject({ ok: false, reason: 'exit' });
    await expect(miscProbe(misc('/bin/sh -c "exit 5"'), sig())).resolves.toMatchObject({ ok: false, reason: 'exit', detail: 'exit 5' });
  });

  it('stderr is quoted in the failure detail', async () => {
    await expect(miscProbe(misc('/bin/sh -c "echo backend down >&2; exit 2"'), sig())).resolves.toMatchObject({
      ok: false,
      detail: 'exit 2: backend down',
    });
  });

  it('killed by a signal → signal; a missing script → error', async () => {
    await expect(miscProbe(misc('/bin/sh -c "kill -KILL $$"'), sig())).resolves.toMatchObject({ ok: false, reason: 'signal', detail: expect.stringContaining('SIGKILL') });
    await expect(miscProbe(misc('/nonexistent/vk-check'), sig())).resolves.toMatchObject({ ok: false, reason: 'error' });
  });
});

describe('MISC_CHECK process hygiene', () => {
  it('a script that hangs is killed with its process group at the deadline', async () => {
    const r = await miscProbe(misc('/bin/sh -c "sleep 731.5"', { timeoutMs: 300 }), sig());
    expect(r).toMatchObject({ ok: false, reason: 'timeout' });
    await settledAndClean(['731.5']);
  });

  it('the caller’s abort also kills it', async () => {
    const ctl = new AbortController();
    const p = miscProbe(misc('/bin/sh -c "sleep 731.6"', { timeoutMs: 60_000 }), ctl.signal);
    try {
      await waitFor(() => pids('731.6').length === 1, 5000, 'the script to start');
    } finally {
      ctl.abort();
    }
    await expect(p).resolves.toMatchObject({ ok: false, reason: 'timeout' });
    await settledAndClean(['731.6']);
  });

  it('a script that forks children leaves none alive', async () => {
    const r = await miscProbe(misc('/bin/sh -c "sleep 732.1 & sleep 732.2 & wait"', { timeoutMs: 300 }), sig());
    expect(r).toMatchObject({ ok: false, reason: 'timeout' });
    await settledAndClean(['732.1', '732.2']);
  });

  it('stragglers of a script that exited are reaped', async () => {
    await expect(miscProbe(misc('/bin/sh -c "sleep 734.1 & exit 0"'), sig())).resolves.toMatchObject({ ok: true });
    await settledAndClean(['734.1']);
  });

  it('a script that ignores SIGTERM is SIGKILLed, and is never started twice meanwhile', async () => {
    const cmd = '/bin/sh -c "trap \'\' TERM; sleep 733.1 & wait"';
    const first = await miscProbe(misc(cmd, { timeoutMs: 300 }), sig());
    expect(first).toMatchObject({ ok: false, reason: 'timeout' });
    expect(pids('733.1')).toHaveLength(1); // still dying: SIGKILL comes after the 2 s grace
    const second = await miscProbe(misc(cmd, { timeoutMs: 300 }), sig());
    expect(second).toMatchObject({ ok: false, reason: 'timeout', detail: expect.stringContaining('previous run') });
    expect(pids('733.1').length).toBeLessThanOrEqual(1);
    await settledAndClean(['733.1'], 8000);
    // and once it is gone the script runs again
    await expect(miscProbe(misc('/bin/sh -c "exit 0"'), sig())).resolves.toMatchObject({ ok: true });
  });
});

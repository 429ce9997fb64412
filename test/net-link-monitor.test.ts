/**
 * LinkMonitor against a real kernel: `ip -n NS -o monitor link` on veth
 * pairs inside a throwaway namespace. Needs root and `ip netns`: without them
 * the suite FAILS with a clear message (it never skips).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createLinkMonitor, type LinkMonitor } from '../src/net/link-monitor.js';
import { NetnsLab, requireNetnsRoot, run } from './helpers/netns.js';
import { waitFor as labWaitFor } from '../lab/wait.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('LinkMonitor in a network namespace', () => {
  const lab = new NetnsLab();
  let ns = '';
  let mon: LinkMonitor | undefined;
  const events: string[] = [];
  const errors: string[] = [];

  /** Until every expected event was seen (the lab's bounded wait). */
  async function waitFor(expected: readonly string[], timeoutMs = 10_000): Promise<void> {
    await labWaitFor(() => `${JSON.stringify(expected)}; events: ${JSON.stringify(events)}; errors: ${JSON.stringify(errors)}`, () => expected.every((e) => events.includes(e)), timeoutMs, 20);
  }

  async function ip(...args: string[]): Promise<void> {
    await run('ip', ['-n', ns, ...args]);
  }

  beforeAll(async () => {
    requireNetnsRoot('net link monitor tests');
    ns = await lab.addNamespace();
    await lab.addVeth(ns, 'vkm0', ns, 'vkm1');
    await ip('link', 'set', 'vkm1', 'down');
  });

  afterAll(async () => {
    mon?.close();
    await lab.cleanup();
  });

  it('reports the initial state of each watched interface', async () => {
    mon = createLinkMonitor({
      interfaces: ['vkm0', 'vkm1', 'vkm2', 'lo'],
      netns: ns,
      onChange: (ifname, up) => events.push(`${ifname} ${up ? 'up' : 'down'}`),
      onError: (err) => errors.push(err.message),
    });
    await mon.ready;
    // vkm0 is admin up but its peer is down: no carrier, so down.
    expect(events).toEqual(['vkm0 down', 'vkm1 down', 'vkm2 down', 'lo up']);
    expect(mon.isUp('lo')).toBe(true);
  });

  it('sees a veth come up and go down', async () => {
    events.length = 0;
    await ip('link', 'set', 'vkm1', 'up');
    await waitFor(['vkm0 up', 'vkm1 up']);
    expect(mon!.isUp('vkm0')).toBe(true);

    events.length = 0;
    await ip('link', 'set', 'vkm0', 'down');
    await waitFor(['vkm0 down', 'vkm1 down']); // vkm1 loses its carrier
    await ip('link', 'set', 'vkm0', 'up');
    await waitFor(['vkm0 up', 'vkm1 up']);
    expect(events).toEqual(expect.arrayContaining(['vkm0 down', 'vkm1 down', 'vkm0 up', 'vkm1 up']));
    expect(events).toHaveLength(4); // no duplicates for the same state
  });

  it('treats a created interface as up and a deleted one as down', async () => {
    events.length = 0;
    await lab.addVeth(ns, 'vkm2', ns, 'vkm3');
    await waitFor(['vkm2 up']);
    await ip('link', 'del', 'vkm2');
    await waitFor(['vkm2 down']);
    expect(mon!.isUp('vkm2')).toBe(false);
    expect(errors).toEqual([]);
  });

  it('close() kills the ip monitor child it started', async () => {
    const pid = mon!.pid;
    expect(pid).toBeGreaterThan(0);
    mon!.close();
    const deadline = Date.now() + 5_000;
    for (;;) {
      let alive = true;
      try {
        process.kill(pid!, 0);
      } catch {
        alive = false;
      }
      if (!alive) break;
      if (Date.now() > deadline) throw new Error(`ip monitor (pid ${pid}) still running after close()`);
      await new Promise((r) => setTimeout(r, 20));
    }
    events.length = 0;
    await ip('link', 'set', 'vkm0', 'down');
    await new Promise((r) => setTimeout(r, 200));
    expect(events).toEqual([]);
    expect(errors).toEqual([]); // an exit after close() is not an error
  });

  it('the ip monitor child dies with a SIGKILLed owner, with no link event needed', async () => {
    const script = `
      const { createLinkMonitor } = await import(${JSON.stringify(path.join(REPO_ROOT, 'src/net/link-monitor.ts'))});
      const mon = createLinkMonitor({ interfaces: ['lo'], netns: ${JSON.stringify(ns)}, onChange: () => {} });
      await mon.ready;
      console.log('MONITOR ' + mon.pid);
      setInterval(() => {}, 1000);`;
    const owner = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    owner.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    let monitorPid = 0;
    try {
      await labWaitFor(() => `the owner's MONITOR line; stdout: ${out}`, () => /MONITOR (\d+)/.test(out), 20_000, 20);
      monitorPid = Number(/MONITOR (\d+)/.exec(out)![1]);
      expect(alive(monitorPid)).toBe(true);
      owner.kill('SIGKILL');
      await labWaitFor(() => `ip monitor (pid ${monitorPid}) to die with its SIGKILLed owner`, () => !alive(monitorPid), 10_000, 20);
    } finally {
      owner.kill('SIGKILL');
      if (monitorPid > 0 && alive(monitorPid)) process.kill(monitorPid, 'SIGKILL');
    }
  });
});

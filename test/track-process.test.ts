// vrrp_track_process end to end: vipkeeper follows a tracked process through the kernel's
// process events, and its instances lose priority (weighted) or go to FAULT (weight 0) when the
// process dies, and recover when it runs again.
//
// The connector only delivers events in the initial network namespace (keepalived has the same
// limit), so the first daemon runs in this test's own namespace, with its instances on a dummy
// veth the test creates and removes, whose peer lies in a lab namespace (what it sends ends there:
// nothing leaves the machine; this kernel may have no dummy interfaces).
// The second runs inside a lab namespace: there vipkeeper either opens the connector in the
// initial namespace (where /proc/1/ns/net is open to it) or polls /proc, and says so in status.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChildProc, run } from '../lab/process.js';
import { startVipkeeper, vipkeeperArgv } from '../lab/vipkeeper.js';
import { waitUntil } from '../lab/wait.js';
import { call } from '../src/daemon/control/client.js';
import { ProcessMonitor } from '../src/daemon/scripts/track-process.js';
import { createLogger } from '../src/sys/logger.js';
import type { DaemonStatus } from '../src/daemon/control/status.js';
import { NetnsLab, requireNativeAddon, requireNetnsRoot, setupOrFail } from './helpers/netns.js';

const lab = new NetnsLab({ prefix: 'vktp' });
const dir = mkdtempSync(path.join(tmpdir(), 'vktp-'));
const tag = (process.pid % 0xffff).toString(16).padStart(4, '0');
/** A copy of sleep with a name of its own: comm is the executable's name (15 characters at most). */
const PROC_NAME = `vktpsl${tag}`;
const SLEEP = path.join(dir, PROC_NAME);
/** The root-namespace end of the test's veth. */
const DUMMY = `vktp${tag}`;
const procs: ChildProc[] = [];
const daemons: ChildProc[] = [];

const conf = (ifname: string, vrid: number) => `
vrrp_track_process tp {
    process ${PROC_NAME}
}

vrrp_instance VI_W {
    state BACKUP
    interface ${ifname}
    virtual_router_id ${vrid}
    priority 150
    advert_int 1
    track_process {
        tp weight -50
    }
}

vrrp_instance VI_F {
    state BACKUP
    interface ${ifname}
    virtual_router_id ${vrid + 1}
    priority 150
    advert_int 1
    track_process {
        tp
    }
}
`;

function startTracked(): ChildProc {
  const p = new ChildProc(PROC_NAME, [SLEEP, '3600']);
  procs.push(p);
  return p;
}

async function kill(p: ChildProc): Promise<void> {
  if (p.child.pid !== undefined && p.running) p.child.kill('SIGKILL');
  await p.exited;
}

async function status(socket: string): Promise<DaemonStatus> {
  return (await call<DaemonStatus>(socket, 'GET', '/status', undefined, 5000)).body;
}

const inst = (s: DaemonStatus, name: string) => s.vrrp?.instances.find((i) => i.name === name);

/** The tracked process dies and comes back; the instances follow. */
async function killAndRestart(socket: string, first: ChildProc, timeoutMs: number): Promise<void> {
  await waitUntil('both instances up with the tracked process running', async () => {
    const s = await status(socket);
    return inst(s, 'VI_W')?.effectivePriority === 150 && inst(s, 'VI_F') !== undefined && inst(s, 'VI_F')!.state !== 'FAULT' && inst(s, 'VI_F')!.state !== 'INIT';
  }, { timeoutMs: 30_000, everyMs: 200 });
  let s = await status(socket);
  expect(s.vrrp?.processMonitor?.processes.tp).toEqual({ count: 1, quorum: true });

  await kill(first);
  await waitUntil('VI_W priority 100 and VI_F in FAULT after the tracked process died', async () => {
    const st = await status(socket);
    return inst(st, 'VI_W')?.effectivePriority === 100 && inst(st, 'VI_F')?.state === 'FAULT';
  }, { timeoutMs, everyMs: 100 });
  s = await status(socket);
  expect(s.vrrp?.processMonitor?.processes.tp).toEqual({ count: 0, quorum: false });
  expect(inst(s, 'VI_F')?.tracking?.reason).toMatch(/track_process tp lacks quorum/);

  startTracked();
  await waitUntil('both instances recovered after the tracked process ran again', async () => {
    const st = await status(socket);
    return inst(st, 'VI_W')?.effectivePriority === 150 && inst(st, 'VI_F')?.state !== 'FAULT';
  }, { timeoutMs, everyMs: 100 });
  for (const p of procs.splice(0)) await kill(p);
}

setupOrFail(async () => {
  requireNetnsRoot('the track_process test');
  requireNativeAddon();
  const which = await run('sh', ['-c', 'command -v sleep']);
  copyFileSync(which.stdout.trim(), SLEEP);
  await run('chmod', ['755', SLEEP]);
  await run('ip', ['link', 'del', DUMMY]).catch(() => undefined);
});

afterAll(async () => {
  for (const d of daemons) {
    if (d.running && d.child.pid !== undefined) process.kill(d.child.pid, 'SIGTERM');
    await Promise.race([d.exited, new Promise((r) => setTimeout(r, 5000))]);
    if (d.running) d.child.kill('SIGKILL');
  }
  for (const p of procs) await kill(p);
  await run('ip', ['link', 'del', DUMMY]).catch(() => undefined);
  await lab.stopAndCleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('vrrp_track_process', () => {
  it('in the initial network namespace: process events drop the priority / FAULT at once and restore them', async () => {
    const peerNs = await lab.addNamespace('peer');
    await run('ip', ['link', 'add', DUMMY, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peerNs]);
    await run('ip', ['link', 'set', DUMMY, 'up']);
    await lab.exec(peerNs, ['ip', 'link', 'set', 'eth0', 'up']);
    await run('ip', ['addr', 'add', '10.213.77.1/24', 'dev', DUMMY]);
    const file = path.join(dir, 'root.conf');
    writeFileSync(file, conf(DUMMY, 201));
    const socket = path.join(dir, 'root.sock');
    const first = startTracked();
    const d = new ChildProc('vipkeeper (root netns)', [...vipkeeperArgv(), 'run', '-f', file, '--config-id', 'test', '--log-level', 'info', '--socket', socket]);
    daemons.push(d);
    await d.waitForLine(/"msg":"vipkeeper running"/, 60_000);
    const s = await status(socket);
    expect(s.vrrp?.processMonitor).toMatchObject({ mode: 'events' });
    expect(s.vrrp?.processMonitor?.warning).toBeUndefined();
    // events, not a poll: well within the 1 s a poll would take, even on a loaded machine
    await killAndRestart(socket, first, 10_000);
    expect(d.outputLines.join('\n')).toMatch(/Quorum lost for tracked process tp/);
  }, 120_000);

  it('inside a network namespace: events through the initial namespace, or a /proc poll said in status', async () => {
    const ns = await lab.addNamespace('vk');
    await lab.exec(ns, ['ip', 'link', 'add', 'vk0', 'type', 'veth', 'peer', 'name', 'vk1']);
    await lab.exec(ns, ['ip', 'link', 'set', 'vk0', 'up']);
    await lab.exec(ns, ['ip', 'link', 'set', 'vk1', 'up']);
    await lab.addAddress(ns, 'vk0', '10.213.78.1/24');
    const file = path.join(dir, 'ns.conf');
    writeFileSync(file, conf('vk0', 203));
    const first = startTracked();
    const vk = await startVipkeeper(lab, ns, file, { waitRunning: false });
    await vk.proc.waitForLine(/"msg":"vipkeeper running"/, 60_000);
    const s = await status(vk.socket);
    const pm = s.vrrp?.processMonitor;
    expect(['events-initial-netns', 'polling']).toContain(pm?.mode);
    if (pm?.mode === 'polling') {
      expect(pm.warning).toMatch(/process events cannot be received .*ECONNREFUSED.*scanning \/proc every 1000 ms/);
      expect(vk.proc.outputLines.join('\n')).toMatch(/track_process: the kernel's process events cannot be received/);
    }
    await killAndRestart(vk.socket, first, 15_000);
    await vk.terminate();
  }, 120_000);

  it('lost events (a full receive buffer): a bigger buffer, and a /proc rescan finds what was missed', async () => {
    const logLines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (l: string) => void logLines.push(l) } });
    const m = new ProcessMonitor({
      defs: { tp: { process: PROC_NAME, param_match: 'exact', full_command: false, weight: 0, weight_reverse: false, quorum: 1 } },
      onChange: () => {},
      logger,
      rcvBufBytes: 1, // the kernel's minimum: a few events fill it
    });
    try {
      m.start();
      expect(m.status().mode).toBe('events');
      const tracked = startTracked();
      await waitUntil('the tracked process counted from its exec event', () => m.status().processes.tp?.count === 1, { timeoutMs: 10_000, everyMs: 20 });
      const before = logLines.length;
      // The event loop is blocked while this runs, so nobody reads the socket: 200 short
      // processes, then the tracked one's death, overflow it.
      execFileSync('sh', ['-c', `i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done; kill -9 ${tracked.child.pid}`]);
      await tracked.exited;
      await waitUntil('the loss reported and the count corrected by the rescan', () => m.status().processes.tp?.count === 0 && logLines.slice(before).some((l) => l.includes('process events were lost')), { timeoutMs: 10_000, everyMs: 50 });
      expect(m.status().processes.tp).toEqual({ count: 0, quorum: false });
    } finally {
      m.stop();
    }
  }, 60_000);
});

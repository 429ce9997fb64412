// The checker's notifications (issue 18, points 2, 3 and 5's omega): real scripts, real FIFOs
// (lvs_notify_fifo created here 0600, the global notify_fifo attached to as the VRRP thread owns
// it), fed the health checker's pool events in keepalived's order.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../config/schema.js';
import { noopLogger } from '../../sys/logger.js';
import { startCheckerPort } from './checker-port.js';
import { NotifyFifo } from './notify-fifo.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vk-chkev-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A script that appends its name and arguments to `log`. */
function recorder(name: string, log: string): string {
  const p = path.join(dir, `${name}.sh`);
  writeFileSync(p, `#!/bin/sh\necho "${name} $*" >> ${log}\n`);
  chmodSync(p, 0o755);
  return p;
}

/** Reads what a FIFO holds now (a reader opened non-blocking would see nothing: cat with a bound). */
function drain(file: string, lines: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('head', ['-n', String(lines), file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`timed out reading ${file}; got ${JSON.stringify(out)}`));
    }, 10_000);
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', () => {
      clearTimeout(t);
      resolve(out.split('\n').filter((l) => l !== ''));
    });
  });
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
}

describe('checker notifications', () => {
  it("run notify_up/notify_down and quorum_up/quorum_down, write RS and VS lines to lvs_notify_fifo and notify_fifo in keepalived's order, and omega's at stop", async () => {
    const log = path.join(dir, 'scripts.log');
    const lvsFifo = path.join(dir, 'lvs.fifo');
    const globalFifo = path.join(dir, 'global.fifo');
    const config = ConfigSchema.parse({
      global: { lvs_notify_fifo: { path: lvsFifo }, notify_fifo: { path: globalFifo } },
      virtual_servers: [
        {
          address: '10.9.0.1',
          port: 80,
          quorum: 2,
          omega: true,
          quorum_up: { command: `${recorder('quorum_up', log)} vs1` },
          quorum_down: { command: recorder('quorum_down', log) },
          real_servers: [
            { address: '10.9.1.1', notify_up: { command: recorder('up1', log) }, notify_down: { command: recorder('down1', log) }, checks: [{ type: 'TCP_CHECK' }] },
            { address: '10.9.1.2', notify_down: { command: recorder('down2', log) }, checks: [{ type: 'TCP_CHECK' }] },
          ],
        },
      ],
    });
    // the VRRP thread's side: it creates the global notify_fifo before the checker starts
    const owner = new NotifyFifo({ path: globalFifo });
    expect(await owner.open()).toBe(true);
    const port = await startCheckerPort(config, noopLogger);
    expect(statSync(lvsFifo).mode & 0o777).toBe(0o600);
    expect(statSync(globalFifo).mode & 0o777).toBe(0o600);

    const vs = '10.9.0.1 80 TCP';
    const rs = (n: number) => ({ vs, rs: `10.9.1.${n}:80`, address: `10.9.1.${n}`, port: 80, weight: 1 });
    // bootstrap: both alive without alpha (no RS notification), quorum gained at start
    port.onEvent({ type: 'rsUp', ...rs(1), initial: true });
    port.onEvent({ type: 'rsUp', ...rs(2), initial: true });
    port.onEvent({ type: 'quorumUp', vs, weight: 2, threshold: 2, initial: true });
    // rs2 fails: notify_down, RS line, then the quorum is lost: quorum_down, VS line
    port.onEvent({ type: 'rsDown', ...rs(2) });
    port.onEvent({ type: 'quorumDown', vs, weight: 1, threshold: 2 });
    port.onEvent({ type: 'rsUp', ...rs(2) });
    port.onEvent({ type: 'quorumUp', vs, weight: 2, threshold: 2 });
    const lines = [
      'VS [10.9.0.1]:tcp:80 UP',
      'RS [10.9.1.2]:tcp:80 [10.9.0.1]:tcp:80 DOWN',
      'VS [10.9.0.1]:tcp:80 DOWN',
      'RS [10.9.1.2]:tcp:80 [10.9.0.1]:tcp:80 UP',
      'VS [10.9.0.1]:tcp:80 UP',
    ];
    expect(await drain(lvsFifo, 5)).toEqual(lines);
    expect(await drain(globalFifo, 5)).toEqual(lines);
    await until(() => existsSync(log) && readFileSync(log, 'utf8').split('\n').length > 4);
    // keepalived appends no arguments to these scripts; the configured ones are kept
    expect(readFileSync(log, 'utf8').split('\n').filter(Boolean).sort()).toEqual(['down2 ', 'quorum_down ', 'quorum_up vs1', 'quorum_up vs1'].sort());

    // omega: notify_down of each live real server, then quorum_down, at stop
    writeFileSync(log, '');
    await port.close();
    // the lines stay in the global FIFO, which its owner keeps open
    expect(await drain(globalFifo, 3)).toEqual(['RS [10.9.1.1]:tcp:80 [10.9.0.1]:tcp:80 DOWN', 'RS [10.9.1.2]:tcp:80 [10.9.0.1]:tcp:80 DOWN', 'VS [10.9.0.1]:tcp:80 DOWN']);
    expect(readFileSync(log, 'utf8').split('\n').filter(Boolean).sort()).toEqual(['down1 ', 'down2 ', 'quorum_down '].sort());
    expect(existsSync(lvsFifo)).toBe(false); // created here, removed here
    expect(existsSync(globalFifo)).toBe(true); // the owner's
    await owner.close();
  });
});

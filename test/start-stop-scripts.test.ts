/**
 * startup_script / shutdown_script (global_defs), with keepalived 2.2.7 as the referee (each
 * daemon alone on its node, one after the other, same keepalived.conf text):
 *
 * - the startup script runs before VRRP starts (the VIP is not there yet when it runs) and the
 *   shutdown script once the VIP is gone; the stop waits for it;
 * - a startup script that outlives startup_script_timeout is killed and the start goes on.
 *
 * Needs root, `ip netns`, the native addon and keepalived; without them it FAILS.
 */
import { chmodSync, existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KeepalivedProc, requireKeepalived, startKeepalived } from './helpers/keepalived-proc.js';
import { NetnsLab, requireNativeAddon, requireNetnsRoot } from './helpers/netns.js';
import { createLan, startVipkeeper, waitFor, writeFile, type Lan, type VipkeeperProc } from './helpers/vipkeeper-proc.js';

const PREFIX = '10.72.0';
const INSTANCE = 'VI_SS';
const VIP = `${PREFIX}.100`;

describe('startup_script and shutdown_script, with keepalived as the referee', () => {
  const lab = new NetnsLab();
  let lan: Lan;
  const vks: VipkeeperProc[] = [];
  const kas: KeepalivedProc[] = [];
  const node = () => lan.nodes.d1!;

  function conf(o: { startup: string; shutdown?: string; startupTimeout?: number }): string {
    return [
      'global_defs {',
      '    router_id start_stop',
      '    vrrp_version 3',
      `    startup_script ${o.startup}`,
      ...(o.startupTimeout ? [`    startup_script_timeout ${o.startupTimeout}`] : []),
      ...(o.shutdown ? [`    shutdown_script ${o.shutdown}`] : []),
      '}',
      `vrrp_instance ${INSTANCE} {`,
      '    state MASTER',
      '    interface eth0',
      '    virtual_router_id 72',
      '    priority 150',
      '    advert_int 0.2',
      '    virtual_ipaddress {',
      `        ${VIP}/24`,
      '    }',
      '}',
      '',
    ].join('\n');
  }

  /** A script that writes eth0's addresses to `out`. */
  function addrScript(name: string, out: string): string {
    const p = writeFile(lan.dir, name, `#!/bin/sh\nip -4 -o addr show dev eth0 > ${out}.tmp\nmv ${out}.tmp ${out}\n`);
    chmodSync(p, 0o755);
    return p;
  }

  async function start(impl: 'vipkeeper' | 'keepalived', text: string): Promise<{ stop(): Promise<void>; waitMaster(): Promise<unknown> }> {
    const file = writeFile(lan.dir, `${impl}.conf`, text);
    if (impl === 'keepalived') {
      const k = startKeepalived(lab, node().ns, file, lan.dir);
      kas.push(k);
      return { stop: () => k.terminate().then(() => void kas.splice(kas.indexOf(k), 1)), waitMaster: () => k.waitState(INSTANCE, 'MASTER', 20_000) };
    }
    const p = await startVipkeeper(lab, node().ns, file, { waitRunning: false });
    vks.push(p);
    return { stop: () => p.terminate(20_000).then(() => void vks.splice(vks.indexOf(p), 1)), waitMaster: () => p.waitState(INSTANCE, 'MASTER', 20_000) };
  }

  beforeAll(async () => {
    requireNetnsRoot('startup / shutdown script tests');
    requireNativeAddon();
    requireKeepalived('startup / shutdown script tests');
    lan = await createLan(lab, PREFIX, { d1: 11 });
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') {
      for (const p of vks) console.log(p.proc.describe());
      for (const p of kas) console.log(p.proc.describe());
    }
    for (const p of vks.splice(0)) await p.terminate().catch(() => p.proc.kill());
    for (const p of kas.splice(0)) await p.terminate().catch(() => p.kill());
    await lab.exec(node().ns, ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']).catch(() => undefined);
  });

  afterAll(async () => {
    try {
      for (const p of kas.splice(0)) await p.kill().catch(() => undefined);
      for (const p of vks.splice(0)) await p.proc.kill().catch(() => undefined);
    } finally {
      await lab.cleanup();
      lan?.dispose();
    }
  });

  for (const impl of ['keepalived', 'vipkeeper'] as const) {
    it(`${impl}: the startup script runs before VRRP, the shutdown script after it, and the stop waits for it`, async () => {
      const atStart = path.join(lan.dir, `${impl}-start.addrs`);
      const atStop = path.join(lan.dir, `${impl}-stop.addrs`);
      for (const f of [atStart, atStop]) rmSync(f, { force: true });
      const d = await start(impl, conf({ startup: addrScript(`${impl}-start.sh`, atStart), shutdown: addrScript(`${impl}-stop.sh`, atStop) }));
      await d.waitMaster();
      expect(readFileSync(atStart, 'utf8')).toContain(`${PREFIX}.11/24`);
      expect(readFileSync(atStart, 'utf8')).not.toContain(VIP);
      expect(existsSync(atStop)).toBe(false);
      await d.stop();
      // the daemon has exited: the shutdown script ran, after the VIP was removed
      expect(readFileSync(atStop, 'utf8')).toContain(`${PREFIX}.11/24`);
      expect(readFileSync(atStop, 'utf8')).not.toContain(VIP);
    }, 60_000);

    it(`${impl}: a startup script past startup_script_timeout is killed and the start goes on`, async () => {
      const ran = path.join(lan.dir, `${impl}-slow.ran`);
      rmSync(ran, { force: true });
      const slow = writeFile(lan.dir, `${impl}-slow.sh`, `#!/bin/sh\ntouch ${ran}\nsleep 60\n`);
      chmodSync(slow, 0o755);
      const d = await start(impl, conf({ startup: slow, startupTimeout: 1 }));
      await d.waitMaster();
      expect(existsSync(ran)).toBe(true);
      if (impl === 'vipkeeper') expect(vks[0]!.logs().some((l) => /startup script did not finish within 1 s/.test(String(l.msg)))).toBe(true);
      await waitFor('the slow startup script to be gone', async () => !(await lab.exec(node().ns, ['pgrep', '-f', `${impl}-slow.sh`]).then((r) => r.stdout.trim() !== '', () => false)), 5000);
    }, 60_000);
  }
});

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
import { describe, expect, it } from 'vitest';
import { requireKeepalived } from './helpers/keepalived-proc.js';
import { requireNativeAddon, requireNetnsRoot } from './helpers/netns.js';
import { usePair } from './helpers/pair.js';
import { waitFor } from './helpers/vipkeeper-proc.js';

const PREFIX = '10.72.0';
const INSTANCE = 'VI_SS';
const VIP = `${PREFIX}.100`;

describe('startup_script and shutdown_script, with keepalived as the referee', () => {
  const pair = usePair({
    prefix: PREFIX,
    hosts: { d1: 11 },
    require: () => {
      requireNetnsRoot('startup / shutdown script tests');
      requireNativeAddon();
      requireKeepalived('startup / shutdown script tests');
    },
    reset: (p) => p.lab.exec(p.node('d1').ns, ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']).then(() => undefined, () => undefined),
  });
  const lab = pair.lab;
  const node = () => pair.node('d1');

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
    const p = pair.file(name, `#!/bin/sh\nip -4 -o addr show dev eth0 > ${out}.tmp\nmv ${out}.tmp ${out}\n`);
    chmodSync(p, 0o755);
    return p;
  }

  async function start(impl: 'vipkeeper' | 'keepalived', text: string): Promise<{ stop(): Promise<void>; waitMaster(): Promise<unknown> }> {
    const file = pair.file(`${impl}.conf`, text);
    if (impl === 'keepalived') {
      const k = pair.ka('d1', file);
      return { stop: () => k.terminate().then(() => pair.forget(k)), waitMaster: () => k.waitState(INSTANCE, 'MASTER', 20_000) };
    }
    const p = await pair.vk('d1', file, { waitRunning: false });
    return { stop: () => p.terminate(20_000).then(() => pair.forget(p)), waitMaster: () => p.waitState(INSTANCE, 'MASTER', 20_000) };
  }

  for (const impl of ['keepalived', 'vipkeeper'] as const) {
    it(`${impl}: the startup script runs before VRRP, the shutdown script after it, and the stop waits for it`, async () => {
      const atStart = path.join(pair.lan.dir, `${impl}-start.addrs`);
      const atStop = path.join(pair.lan.dir, `${impl}-stop.addrs`);
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
      const ran = path.join(pair.lan.dir, `${impl}-slow.ran`);
      rmSync(ran, { force: true });
      const slow = pair.file(`${impl}-slow.sh`, `#!/bin/sh\ntouch ${ran}\nsleep 60\n`);
      chmodSync(slow, 0o755);
      const d = await start(impl, conf({ startup: slow, startupTimeout: 1 }));
      await d.waitMaster();
      expect(existsSync(ran)).toBe(true);
      if (impl === 'vipkeeper') expect(pair.vks[0]!.logs().some((l) => /startup script did not finish within 1 s/.test(String(l.msg)))).toBe(true);
      await waitFor('the slow startup script to be gone', async () => !(await lab.exec(node().ns, ['pgrep', '-f', `${impl}-slow.sh`]).then((r) => r.stdout.trim() !== '', () => false)), 5000);
    }, 60_000);
  }
});

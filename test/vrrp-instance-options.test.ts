/**
 * Instance options with no peer needed, in a namespace of their own:
 *
 * - dont_track_primary: two instances on two veth interfaces, one with it; both become MASTER
 *   alone; both interfaces go down: the tracking one goes to FAULT (and gives up its VIP), the
 *   other stays MASTER, as keepalived's "Ignore VRRP interface faults";
 * - vrrp_startup_delay: nothing starts before it passes (the log says so first, and the first
 *   transition comes after that line).
 *
 * Needs root, `ip netns` and the native addon; without them it FAILS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsLab, requireNativeAddon, requireNetnsRoot } from './helpers/netns.js';
import { hasVip, startVipkeeper, writeFile, type VipkeeperProc } from './helpers/vipkeeper-proc.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function instance(name: string, dev: string, vrid: number, vip: string, extra: string[] = []): string[] {
  return [
    `vrrp_instance ${name} {`,
    '    state BACKUP',
    `    interface ${dev}`,
    `    virtual_router_id ${vrid}`,
    '    priority 100',
    '    advert_int 0.2',
    ...extra.map((l) => `    ${l}`),
    '    virtual_ipaddress {',
    `        ${vip}/24 dev ${dev}`,
    '    }',
    '}',
  ];
}

describe('instance options', () => {
  const lab = new NetnsLab();
  const procs: VipkeeperProc[] = [];
  let ns = '';
  let dir = '';

  beforeAll(async () => {
    requireNetnsRoot('instance option tests');
    requireNativeAddon();
    ns = await lab.addNamespace('opts');
    dir = mkdtempSync(path.join(tmpdir(), 'vk-opts-'));
    for (const [dev, ip] of [
      ['dmyA', '10.68.1.1/24'],
      ['dmyB', '10.68.2.1/24'],
    ] as const) {
      // a veth pair inside the namespace (this kernel has no dummy driver)
      await lab.exec(ns, ['ip', 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`]);
      await lab.addAddress(ns, dev, ip);
      await lab.exec(ns, ['ip', 'link', 'set', `${dev}p`, 'up']);
      await lab.exec(ns, ['ip', 'link', 'set', dev, 'up']);
    }
  });

  afterAll(async () => {
    try {
      for (const p of procs) await p.proc.kill().catch(() => undefined);
    } finally {
      await lab.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('dont_track_primary: the instance stays MASTER when its interface goes down; without it, FAULT', async () => {
    const conf = [
      'global_defs {',
      '    vrrp_version 3',
      '}',
      ...instance('VI_TRACK', 'dmyA', 81, '10.68.1.100'),
      ...instance('VI_DONT', 'dmyB', 82, '10.68.2.100', ['dont_track_primary']),
      '',
    ].join('\n');
    const p = await startVipkeeper(lab, ns, writeFile(dir, 'dtp.conf', conf));
    procs.push(p);
    await p.waitState('VI_TRACK', 'MASTER', 15_000);
    await p.waitState('VI_DONT', 'MASTER', 15_000);
    await lab.exec(ns, ['ip', 'link', 'set', 'dmyA', 'down']);
    await lab.exec(ns, ['ip', 'link', 'set', 'dmyB', 'down']);
    await p.waitState('VI_TRACK', 'FAULT', 5000);
    expect(await hasVip(ns, '10.68.1.100', 'dmyA')).toBe(false);
    // the other one has had as long to notice: it did not
    expect(p.transitions('VI_DONT').map((t) => t.to)).toEqual(['BACKUP', 'MASTER']);
    expect(await hasVip(ns, '10.68.2.100', 'dmyB')).toBe(true);
    await p.terminate();
    for (const dev of ['dmyA', 'dmyB']) await lab.exec(ns, ['ip', 'link', 'set', dev, 'up']);
  });

  it('vrrp_startup_delay: the instances start after it', async () => {
    const conf = ['global_defs {', '    vrrp_version 3', '    vrrp_startup_delay 1.5', '}', ...instance('VI_DELAY', 'dmyA', 83, '10.68.1.101'), ''].join('\n');
    const p = await startVipkeeper(lab, ns, writeFile(dir, 'delay.conf', conf));
    procs.push(p);
    await p.waitState('VI_DELAY', 'MASTER', 15_000);
    const msgs = p.logs().map((o) => String(o.msg));
    const delayed = msgs.findIndex((m) => m.startsWith('VRRP start delayed by vrrp_startup_delay (1.5 s)'));
    const first = msgs.findIndex((m) => m.startsWith('VI_DELAY: INIT -> BACKUP'));
    expect(delayed).toBeGreaterThanOrEqual(0);
    expect(first).toBeGreaterThan(delayed);
    expect(p.logs().find((o) => String(o.msg).startsWith('VRRP start delayed'))?.delay_ms).toBe(1500);
    await p.terminate();
  });
});

// The director sees "the ARP problem": a DR real server that answers ARP for the VIP (arp_ignore left
// at 0, the VIP on eth0) is named by the MASTER's probe (status warning, metric, log line) and by
// `vipkeeper check --live`; a real server set up by `vipkeeper realserver up` never is.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLan, primeArp, writeFile, type Lan } from '../lab/lan.js';
import { runStatus } from '../lab/process.js';
import { startVipkeeper, vipkeeperArgv, type VipkeeperProc } from '../lab/vipkeeper.js';
import { waitUntil } from '../lab/wait.js';
import { call } from '../src/daemon/control/client.js';
import type { DaemonStatus } from '../src/daemon/control/status.js';
import { NetnsLab, requireNativeAddon, requireNetnsRoot, setupOrFail } from './helpers/netns.js';

const lab = new NetnsLab();
let lan: Lan;
let director: VipkeeperProc;
let conf = '';
const VIP = '10.7.0.100';

const CONFIG = `
instances:
  VI_1:
    state: MASTER
    interface: eth0
    virtual_router_id: 71
    priority: 150
    advert_int: 1s
    virtual_ipaddress:
      - ${VIP}/32 dev eth0
virtual_servers:
  - address: ${VIP}
    port: 80
    lb_kind: DR
    real_servers:
      - address: 10.7.0.11
        port: 80
      - address: 10.7.0.12
        port: 80
`;

setupOrFail(async () => {
  requireNetnsRoot('the ARP-problem test');
  requireNativeAddon();
  lan = await createLan(lab, '10.7.0', { director: 1, good: 11, bad: 12 });
  const { good, bad } = lan.nodes;
  // the good real server: set up by vipkeeper realserver
  const up = await runStatus(['ip', 'netns', 'exec', good!.ns, ...vipkeeperArgv(), 'realserver', 'up', '--vip', VIP, '--state', join(lan.dir, 'good.state')], 60_000);
  if (up.code !== 0) throw new Error(`realserver up failed: ${up.out}${up.err}`);
  // the bad one: the VIP on eth0, ARP sysctls at their defaults (0)
  await lab.addAddress(bad!.ns, 'eth0', `${VIP}/32`);
  conf = writeFile(lan.dir, 'director.yaml', CONFIG);
  director = await startVipkeeper(lab, lan.nodes.director!.ns, conf, { waitRunning: false });
  // generous: on a loaded machine a tsx start alone can take tens of seconds
  await director.proc.waitForLine(/"msg":"vipkeeper running"/, 120_000);
  await director.waitState('VI_1', 'MASTER', 60_000);
  // what the health checks do in a real site: the director talks to its real servers
  await primeArp(lab, lan.nodes.director!.ns, good!.ip);
  await primeArp(lab, lan.nodes.director!.ns, bad!.ip);
});
afterAll(async () => {
  await lab.stopAndCleanup();
  lan?.dispose();
});

const status = async (): Promise<DaemonStatus> => (await call<DaemonStatus>(director.socket, 'GET', '/status', undefined, 5000)).body as DaemonStatus;

describe('the ARP problem, seen by the director', () => {
  it('the MASTER names the real server that answers ARP for the VIP, and not the one set up by vipkeeper realserver', async () => {
    const { good, bad } = lan.nodes;
    // one probe interval (10 s) plus the probe's own window, with room for a loaded machine
    const { value: problems } = await waitUntil('the ARP probe to report the bad real server', async () => {
      const p = (await status()).arp?.problems ?? [];
      return p.length > 0 ? p : undefined;
    }, { timeoutMs: 45_000, everyMs: 500 });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ vip: VIP, mac: bad!.mac, realServer: bad!.ip, ifname: 'eth0' });
    expect(problems.some((p) => p.mac === good!.mac)).toBe(false);

    // the log line and the metric
    const line = director.logs().find((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('ARP problem:'));
    expect(line).toMatchObject({ level: 'warn', vip: VIP, mac: bad!.mac, real_server: bad!.ip });
    const metrics = (await call<string>(director.socket, 'GET', '/metrics', undefined, 5000)).body as unknown as string;
    expect(metrics).toMatch(new RegExp(`vipkeeper_arp_problem\\{vip="${VIP.replace(/\./g, '\\.')}",mac="${bad!.mac}",real_server="${bad!.ip.replace(/\./g, '\\.')}",intf="eth0"\\} 1`));

    // `vipkeeper status` prints it as a warning
    const st = await runStatus([...vipkeeperArgv(), 'status', '--socket', director.socket]);
    expect(st.out).toMatch(new RegExp(`WARNING: ${bad!.mac} \\(real server ${bad!.ip.replace(/\./g, '\\.')}\\) answers ARP for ${VIP.replace(/\./g, '\\.')}`));
  }, 120_000);

  it('check --live runs the same probe once: exit 1 naming the bad real server; after vipkeeper realserver up there, exit 0', async () => {
    const { bad } = lan.nodes;
    const dns = lan.nodes.director!.ns;
    const live = await runStatus(['ip', 'netns', 'exec', dns, ...vipkeeperArgv(), 'check', '--live', '--no-host-checks', '-f', conf], 60_000);
    expect(live.code, live.out + live.err).toBe(1);
    expect(live.out).toMatch(new RegExp(`ARP problem: ${bad!.mac} \\(real server ${bad!.ip.replace(/\./g, '\\.')}\\)`));

    // fix the bad real server the vipkeeper way: the VIP off eth0, then realserver up
    await lab.exec(bad!.ns, ['ip', 'addr', 'del', `${VIP}/32`, 'dev', 'eth0']);
    const up = await runStatus(['ip', 'netns', 'exec', bad!.ns, ...vipkeeperArgv(), 'realserver', 'up', '--vip', VIP, '--state', join(lan.dir, 'bad.state')], 60_000);
    expect(up.code, up.out + up.err).toBe(0);
    const again = await runStatus(['ip', 'netns', 'exec', dns, ...vipkeeperArgv(), 'check', '--live', '--no-host-checks', '-f', conf], 60_000);
    expect(again.code, again.out + again.err).toBe(0);
    expect(again.out).toMatch(/no other host answers ARP for it/);
    // and the daemon's next round clears its warning
    await waitUntil('the ARP warning to clear', async () => ((await status()).arp?.problems.length === 0 ? true : undefined), { timeoutMs: 45_000, everyMs: 500 });
  }, 180_000);
});

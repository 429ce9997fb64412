// A large table never delays the election (issue 19, point 2): with 37,300 real servers in the
// keepalived.conf, `vipkeeper run` starts its VRRP instance — a MASTER address owner, which sends
// its first advert as it enters MASTER — before the health checker has its targets. An order test,
// not a timed one: both threads log with synchronous writes to the same stdout, so the order of the
// lines is the order of the events.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bigConf } from './helpers/big-config.js';
import { NetnsLab, REPO_ROOT, setupOrFail, type NsProcess } from './helpers/netns.js';

const lab = new NetnsLab({ scratch: true });
let ns = '';

const INSTANCE = ['vrrp_instance VI_1 {', '  state MASTER', '  interface eth0', '  virtual_router_id 62', '  priority 255', '  advert_int 1', '  virtual_ipaddress {', '    10.62.0.100/24', '  }', '}'].join('\n');

describe('vipkeeper run with 37,300 real servers', () => {
  setupOrFail(async () => {
    ns = await lab.addNamespace('big');
    const peer = await lab.addNamespace('bigpeer');
    await lab.addVeth(ns, 'eth0', peer, 'eth0');
    await lab.addAddress(ns, 'eth0', '10.62.0.1/24');
    writeFileSync(path.join(lab.dir, 'keepalived.conf'), bigConf(37_300, { instance: INSTANCE }));
    // (no route to the real servers in the namespace: the checks fail at once, and nothing leaves it)
  });
  afterAll(async () => {
    await lab.cleanup();
  });

  it('sends its first advert (enters MASTER) before the health checker has its targets', { timeout: 300_000 }, async () => {
    const vk: NsProcess = lab.spawn(
      ns,
      [process.execPath, path.join(REPO_ROOT, 'bin/vipkeeper.js'), 'run', '-f', path.join(lab.dir, 'keepalived.conf'), '-i', 'test', '--socket', path.join(lab.dir, 'vk.sock')],
      'vipkeeper run (37,300 real servers)',
    );
    await vk.waitForLine(/"msg":"vipkeeper running"/, 240_000);
    const lines = vk.stdoutLines;
    const master = lines.findIndex((l) => /"instance":"VI_1"/.test(l) && /"to":"MASTER"/.test(l));
    const scheduled = lines.findIndex((l) => /"msg":"health checks scheduled"/.test(l));
    const running = lines.findIndex((l) => /"msg":"vipkeeper running"/.test(l));
    expect(master, lines.slice(0, 20).join('\n')).toBeGreaterThanOrEqual(0);
    expect(scheduled).toBeGreaterThan(master);
    expect(running).toBeGreaterThan(scheduled);
    expect(JSON.parse(lines[scheduled] as string)).toMatchObject({ checks: 37_300 });
    vk.signal('SIGTERM');
    await vk.waitExit(30_000, false);
  });
});

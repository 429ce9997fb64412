// A large table never delays the election (issue 19, point 2): with 37,300 real servers in the
// keepalived.conf, `vipkeeper run` starts its VRRP instance — a MASTER address owner, which sends
// its first advert as it enters MASTER — before the health checker has its targets. An order test,
// not a timed one: both threads log with synchronous writes to the same stdout, so the order of the
// lines is the order of the events.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NetnsLab, REPO_ROOT, setupOrFail, type NsProcess } from './helpers/netns.js';

const lab = new NetnsLab({ scratch: true });
let ns = '';

/** 373 virtual servers × 100 real servers, one TCP_CHECK each (as bench/config/gen.ts), and one VRRP instance. */
function bigConf(total: number): string {
  const out: string[] = [
    'vrrp_instance VI_1 {',
    '  state MASTER',
    '  interface eth0',
    '  virtual_router_id 62',
    '  priority 255',
    '  advert_int 1',
    '  virtual_ipaddress {',
    '    10.62.0.100/24',
    '  }',
    '}',
  ];
  for (let i = 0; i * 100 < total; i++) {
    out.push(`virtual_server 10.100.${i >> 8}.${i & 255} 80 {`, '  delay_loop 5', '  lb_algo wrr', '  lb_kind DR', '  protocol TCP');
    for (let j = 0; j < Math.min(100, total - i * 100); j++) {
      // no route to these in the namespace: the checks fail at once, and nothing leaves it
      out.push(`  real_server 10.${1 + (i >> 8)}.${i & 255}.${j + 1} 80 {`, '    TCP_CHECK {', '      connect_timeout 3', '    }', '  }');
    }
    out.push('}');
  }
  return `${out.join('\n')}\n`;
}

describe('vipkeeper run with 37,300 real servers', () => {
  setupOrFail(async () => {
    ns = await lab.addNamespace('big');
    const peer = await lab.addNamespace('bigpeer');
    await lab.addVeth(ns, 'eth0', peer, 'eth0');
    await lab.addAddress(ns, 'eth0', '10.62.0.1/24');
    writeFileSync(path.join(lab.dir, 'keepalived.conf'), bigConf(37_300));
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

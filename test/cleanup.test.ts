// `vipkeeper cleanup` (systemd ExecStopPost) takes a crashed node's VIPs down.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsLab, REPO_ROOT, requireNetnsRoot } from './helpers/netns.js';

const lab = new NetnsLab();
const tmp = mkdtempSync(join(tmpdir(), 'vipkeeper-cleanup-'));
let ns = '';
let peer = '';

beforeAll(async () => {
  requireNetnsRoot('the cleanup test');
  ns = await lab.addNamespace();
  peer = await lab.addNamespace();
  await lab.addVeth(ns, 'eth0', peer, 'eth0');
  await lab.addAddress(ns, 'eth0', '10.9.0.1/24');
});
afterAll(async () => {
  await lab.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

async function addrs(): Promise<string[]> {
  const r = await lab.exec(ns, ['ip', '-j', 'addr', 'show', 'dev', 'eth0']);
  const j = JSON.parse(r.stdout) as { addr_info: { local: string; prefixlen: number }[] }[];
  return j.flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
}

describe('vipkeeper cleanup', () => {
  it('removes the VIPs a crashed daemon left behind and nothing else', async () => {
    const conf = join(tmp, 'keepalived.conf');
    writeFileSync(conf, 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 9\n  virtual_ipaddress {\n    10.9.0.100/24\n    10.9.0.101/24 label eth0:x\n  }\n  virtual_ipaddress_excluded {\n    fd00:9::100/64\n  }\n}\n');
    // What a killed daemon leaves: the VIPs still configured.
    await lab.exec(ns, ['ip', 'addr', 'add', '10.9.0.100/24', 'dev', 'eth0']);
    await lab.exec(ns, ['ip', 'addr', 'add', '10.9.0.101/24', 'dev', 'eth0', 'label', 'eth0:x']);
    await lab.exec(ns, ['ip', 'addr', 'add', 'fd00:9::100/64', 'dev', 'eth0', 'nodad']);
    expect(await addrs()).toEqual(expect.arrayContaining(['10.9.0.100/24', '10.9.0.101/24', 'fd00:9::100/64']));

    const r = await lab.exec(ns, [process.execPath, join(REPO_ROOT, 'bin/vipkeeper.js'), 'cleanup', '-f', conf]);
    expect(r.stdout).toMatch(/cleanup: removed 3 VIP\(s\)/);
    const after = await addrs();
    expect(after).toContain('10.9.0.1/24');
    expect(after.filter((a) => a.startsWith('10.9.0.10') || a.startsWith('fd00:9::100'))).toEqual([]);

    // Nothing left to remove is not an error.
    const again = await lab.exec(ns, [process.execPath, join(REPO_ROOT, 'bin/vipkeeper.js'), 'cleanup', '-f', conf]);
    expect(again.stdout).toMatch(/removed 0 VIP/);
  });
});

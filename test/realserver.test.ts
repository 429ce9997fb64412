// `vipkeeper realserver up|down|status` in a network namespace: a DR real server set up, idempotent,
// silent on ARP for the VIP yet accepting packets for it, and `down` leaving the host exactly as it was.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runStatus } from '../lab/process.js';
import { vipkeeperArgv } from '../lab/vipkeeper.js';
import { NetnsLab, requireNativeAddon, requireNetnsRoot, setupOrFail } from './helpers/netns.js';

const lab = new NetnsLab({ scratch: true });
let rs = '';
let client = '';
const VIP = '10.9.0.100';
const KEPT = '10.9.0.101'; // on lo before `up`: `down` must leave it
const stateFile = () => join(lab.dir, 'realserver.state');

setupOrFail(async () => {
  requireNetnsRoot('the real-server test');
  requireNativeAddon();
  rs = await lab.addNamespace('rs');
  client = await lab.addNamespace('cl');
  await lab.addVeth(rs, 'eth0', client, 'eth0');
  await lab.addAddress(rs, 'eth0', '10.9.0.2/24');
  await lab.addAddress(client, 'eth0', '10.9.0.9/24');
  // a host that is not at the defaults: a non-zero arp_announce on eth0, and an address on lo
  await lab.exec(rs, ['sysctl', '-qw', 'net.ipv4.conf.eth0.arp_announce=1']);
  await lab.addAddress(rs, 'lo', `${KEPT}/32`);
});
afterAll(() => lab.cleanup());

/** `vipkeeper realserver ARGS` inside the real server's namespace: exit code and output. */
const vkStatus = async (...args: string[]) => {
  const r = await runStatus(['ip', 'netns', 'exec', rs, ...vipkeeperArgv(), 'realserver', ...args], 60_000);
  return { code: r.code, stdout: r.out, stderr: r.err };
};
/** The same, expecting exit 0. */
const vk = async (...args: string[]) => {
  const r = await vkStatus(...args);
  if (r.code !== 0) throw new Error(`vipkeeper realserver ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r;
};

/** Everything `down` must restore: every IPv4 conf sysctl and every address and link. */
async function snapshot(): Promise<{ sysctl: string; addrs: string; links: string[] }> {
  const s = await lab.exec(rs, ['sysctl', '-a', '--pattern', '^net\\.ipv4\\.conf\\.']);
  const a = await lab.exec(rs, ['ip', '-o', 'addr', 'show']);
  const l = await lab.exec(rs, ['ip', '-o', 'link', 'show']);
  return {
    sysctl: s.stdout,
    addrs: a.stdout.replace(/\s+valid_lft.*$/gm, ''),
    links: l.stdout.split('\n').map((x) => x.split(':').slice(0, 2).join(':')).filter(Boolean),
  };
}

/** Does anyone answer "who has VIP" on the client's LAN? */
async function arpAnswered(): Promise<boolean> {
  const r = await runStatus(['ip', 'netns', 'exec', client, 'arping', '-c', '2', '-w', '2', '-I', 'eth0', VIP]);
  return /reply from/i.test(r.out);
}

describe('vipkeeper realserver (DR)', () => {
  it('up sets the real server up, a second up changes nothing, status says set, down restores everything', async () => {
    const before = await snapshot();
    const flags = ['--vip', VIP, '--vip', KEPT, '--vip', 'fd00:9::100', '--dev', 'eth0', '--state', stateFile()];

    const st0 = await vkStatus('status', ...flags);
    expect(st0.code).toBe(1);
    expect(st0.stdout).toMatch(/MISSING\s+VIP 10\.9\.0\.100\/32 on lo/);

    const up = await vk('up', ...flags);
    expect(up.stdout).toMatch(/sysctl net\.ipv4\.conf\.all\.arp_ignore: 0 -> 1/);
    expect(up.stdout).toMatch(/sysctl net\.ipv4\.conf\.eth0\.arp_announce: 1 -> 2/);
    expect(up.stdout).toMatch(/ip addr add 10\.9\.0\.100\/32 dev lo/);
    expect(up.stdout).not.toMatch(/ip addr add 10\.9\.0\.101/); // already there
    expect(statSync(stateFile()).mode & 0o777).toBe(0o600);

    const again = await vk('up', ...flags);
    expect(again.stdout).toMatch(/already set up, nothing to change/);

    const st = await vk('status', ...flags);
    expect(st.stdout).toMatch(/: set up\n/);
    expect(st.stdout).not.toMatch(/MISSING/);

    // the point of it all: no ARP answer for the VIP, yet packets for it are accepted
    expect(await arpAnswered()).toBe(false);
    const mac = await lab.mac(rs, 'eth0');
    await lab.exec(client, ['ip', 'neigh', 'replace', VIP, 'lladdr', mac, 'dev', 'eth0', 'nud', 'permanent']); // as a director's DR forwarding does
    const ping = await lab.exec(client, ['ping', '-c', '1', '-W', '2', VIP]);
    expect(ping.stdout).toMatch(/1 received/);
    await lab.exec(client, ['ip', 'neigh', 'del', VIP, 'dev', 'eth0']);

    const down = await vk('down', '--state', stateFile());
    expect(down.stdout).toMatch(/ip addr del 10\.9\.0\.100\/32 dev lo/);
    expect(down.stdout).toMatch(/sysctl net\.ipv4\.conf\.eth0\.arp_announce: 2 -> 1/);
    expect(await snapshot()).toEqual(before);

    const down2 = await vk('down', '--state', stateFile());
    expect(down2.stdout).toMatch(/nothing to undo/);
    expect(await snapshot()).toEqual(before);
  }, 180_000);

  it('a YAML config with an unknown key is refused with its line, and nothing changes', async () => {
    const before = await snapshot();
    const conf = join(lab.dir, 'rs.yaml');
    await lab.exec(rs, ['sh', '-c', `printf 'mode: dr\\nvips: [${VIP}]\\narp_ignore: 1\\n' > ${conf}`]);
    const r = await vkStatus('up', '-f', conf, '--state', stateFile());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/rs\.yaml:3:1: error: unknown key 'arp_ignore'/);
    expect(await snapshot()).toEqual(before);
  }, 60_000);
});

// Config shapes keepalived 2.2.7 runs, checked side by side with the real `keepalived -t` and
// `vipkeeper check` (issue 15, points 4 and 5): vipkeeper accepts what keepalived runs and says
// what keepalived does silently. Both run in a network namespace with an `eth0` of its own.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NetnsLab, REPO_ROOT, requireNetnsRoot, setupOrFail } from './helpers/netns.js';

const lab = new NetnsLab();
let ns = '';
const tmp = mkdtempSync(join(tmpdir(), 'vipkeeper-shapes-'));

setupOrFail(async () => {
  requireNetnsRoot('the keepalived shape tests');
  const which = spawnSync('sh', ['-c', 'command -v keepalived'], { encoding: 'utf8' });
  if (which.status !== 0) throw new Error('the keepalived shape tests need keepalived (scripts/setup.sh installs it)');
  ns = await lab.addNamespace();
  await lab.addBridge(ns, 'eth0');
  await lab.addAddress(ns, 'eth0', '10.0.0.2/24');
});
afterAll(async () => {
  await lab.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
function write(text: string): string {
  const f = join(tmp, `shape-${++n}.conf`);
  writeFileSync(f, text);
  return f;
}

/** keepalived's verdict on a file: its exit code and the config messages it printed. */
function keepalived(file: string, configId = 'lvs1'): { code: number | null; messages: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'keepalived', '-t', '-f', file, '-n', '-l', '-D', '-i', configId], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, messages: `${r.stdout}${r.stderr}` };
}

interface Checked {
  code: number | null;
  valid: boolean;
  diagnostics: { severity: string; loc: { line: number; col: number }; message: string }[];
  model: { virtual_servers: { lb_kind: string; real_servers: unknown[] }[]; instances: Record<string, { track_script: unknown[] }> } | undefined;
}

/** vipkeeper's verdict on the same file, on the same host, and the model it loads. */
function vipkeeper(file: string, configId = 'lvs1'): Checked {
  const bin = join(REPO_ROOT, 'bin/vipkeeper.js');
  const c = spawnSync('ip', ['netns', 'exec', ns, process.execPath, bin, 'check', file, '-i', configId, '--json'], { encoding: 'utf8', timeout: 30_000 });
  const out = JSON.parse(c.stdout) as Omit<Checked, 'code' | 'model'>;
  const m = spawnSync(process.execPath, [bin, 'migrate', file, '-i', configId, '--json'], { encoding: 'utf8', timeout: 30_000 });
  return { code: c.status, ...out, model: m.status === 0 ? (JSON.parse(m.stdout) as Checked['model']) : undefined };
}

const warnings = (c: Checked) => c.diagnostics.filter((d) => d.severity === 'warning').map((d) => `${d.loc.line}:${d.loc.col} ${d.message}`);
const errors = (c: Checked) => c.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.loc.line}:${d.loc.col} ${d.message}`);

const instance = (name: string, vrid: number, body: string, vip: string) =>
  `vrrp_instance ${name} {\n  interface eth0\n  virtual_router_id ${vrid}\n  priority 100\n${body}  virtual_ipaddress {\n    ${vip}\n  }\n}\n`;
const vs = (head: string, body: string, rs = '10.1.0.1 80') =>
  `virtual_server ${head} {\n  lb_algo rr\n  lb_kind DR\n${body}  real_server ${rs} {\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n}\n`;

describe('keepalived 2.2.7 and vipkeeper on the same configs', () => {
  it('a virtual_server_group used by a TCP and a UDP virtual_server: both run it', () => {
    const f = write(`virtual_server_group DNS {\n  10.0.0.53 53\n}\n${vs('group DNS', '  protocol TCP\n', '10.1.0.1 53')}${vs('group DNS', '  protocol UDP\n', '10.1.0.1 53')}`);
    expect(keepalived(f)).toMatchObject({ code: 0, messages: expect.not.stringMatching(/\(.*Line/) });
    const v = vipkeeper(f);
    expect([v.code, errors(v)]).toEqual([0, []]);
    expect(v.model?.virtual_servers).toHaveLength(2);
  });

  it('a vrrp_script with no script for this config-id: removed, its track_script ignored, and both run', () => {
    const f = write(`vrrp_script chk {\n  @high script "/bin/true"\n  interval 2\n}\n${instance('VI_1', 51, '  track_script {\n    chk\n  }\n', '10.9.0.1/32')}`);
    const k = keepalived(f, 'low');
    expect(k.messages).toMatch(/No script set for vrrp_script chk - removing/);
    expect(k.messages).toMatch(/\(VI_1\) track script chk not found, ignoring/);
    const v = vipkeeper(f, 'low');
    expect([v.code, errors(v)]).toEqual([0, []]);
    expect(warnings(v)).toEqual([
      '1:1 vrrp_script chk has no script, so it is removed, as keepalived does ("No script set"); track_script entries naming it are ignored',
      `10:5 track script 'chk' is not defined above this line; keepalived ignores it ("not found, ignoring"), and so does vipkeeper`,
    ]);
    expect(v.model?.instances.VI_1?.track_script).toEqual([]);
  });

  it('a track_script naming an undefined script: a warning, the entry ignored, by both', () => {
    const f = write(instance('VI_1', 51, '  track_script {\n    nosuch\n  }\n', '10.9.0.1/32'));
    expect(keepalived(f).messages).toMatch(/\(VI_1\) track script nosuch not found, ignoring/);
    const v = vipkeeper(f);
    expect([v.code, warnings(v)]).toEqual([0, [`6:5 track script 'nosuch' is not defined above this line; keepalived ignores it ("not found, ignoring"), and so does vipkeeper`]]);
  });

  it('two unicast instances with one VRID on eth0 and different peers run; a common peer is refused by both', () => {
    const uni = (name: string, peer: string, vip: string) => instance(name, 51, `  unicast_src_ip 10.0.0.2\n  unicast_peer {\n    ${peer}\n  }\n`, vip);
    const ok = write(uni('A', '10.0.0.3', '10.9.0.1/32') + uni('B', '10.0.0.4', '10.9.0.2/32'));
    expect(keepalived(ok)).toMatchObject({ code: 0 });
    expect(vipkeeper(ok).code).toBe(0);
    const clash = write(uni('A', '10.0.0.3', '10.9.0.1/32') + uni('B', '10.0.0.3', '10.9.0.2/32'));
    expect(keepalived(clash).messages).toMatch(/duplicate VRID conflict with B VRID 51/);
    const v = vipkeeper(clash);
    expect([v.code, errors(v)]).toEqual([1, [expect.stringMatching(/^15:3 virtual_router_id 51 is already used by instance 'A' on eth0 \(unicast to a common peer\)/)]]);
  });

  it('the same virtual_server twice through a $ macro: both run it, once', () => {
    const f = write(`$VS=${vs('10.0.0.1 80', '  protocol TCP\n').trimEnd().split('\n').join(' \\\n')}\n$VS\n$VS\n`);
    expect(keepalived(f)).toMatchObject({ code: 0 });
    const v = vipkeeper(f);
    expect([v.code, errors(v)]).toEqual([0, []]);
    expect(v.model?.virtual_servers).toHaveLength(1);
  });

  it('mcast_src_ip and unicast_src_ip with a /prefix: both run them', () => {
    const f = write(instance('VI_1', 51, '  mcast_src_ip 10.0.0.2/24\n', '10.9.0.1/32') + instance('VI_2', 52, '  unicast_src_ip 10.0.0.2/24\n  unicast_peer {\n    10.0.0.3\n  }\n', '10.9.0.2/32'));
    expect(keepalived(f)).toMatchObject({ code: 0 });
    const v = vipkeeper(f);
    expect([v.code, errors(v)]).toEqual([0, []]);
    expect(warnings(v)).toEqual([
      `5:16 'mcast_src_ip' takes an address; the prefix '/24' is ignored (as keepalived ignores it)`,
      `14:18 'unicast_src_ip' takes an address; the prefix '/24' is ignored (as keepalived ignores it)`,
    ]);
  });

  it('lines commented out through a parameter that expands to #: both skip them', () => {
    const f = write(`$OFF=\${_HASH}\n${instance('VI_1', 51, '  $OFF bogus_one\n  ${_HASH} bogus_two\n', '10.9.0.1/32')}`);
    const k = keepalived(f);
    expect(k).toMatchObject({ code: 0 });
    expect(k.messages).not.toMatch(/Unknown keyword/);
    const v = vipkeeper(f);
    expect([v.code, v.diagnostics]).toEqual([0, []]);
  });

  it('one keyword a line: keepalived drops "lb_kind DR" after "lb_algo rr" silently; vipkeeper drops it too, and says so', () => {
    const f = write(`virtual_server 10.0.0.1 80 {\n  lb_algo rr lb_kind DR\n  protocol TCP\n  real_server 10.1.0.1 80 {\n    TCP_CHECK {\n      nb_get_retry 3\n    }\n  }\n}\n`);
    const k = keepalived(f);
    expect(k.messages).toMatch(/no forwarding method set, setting default NAT/);
    expect(k.messages).toMatch(/Unknown keyword 'nb_get_retry'/);
    const v = vipkeeper(f);
    expect(v.code).toBe(0);
    expect(v.model?.virtual_servers[0]?.lb_kind).toBe('NAT');
    expect(warnings(v)).toEqual([
      "1:1 virtual server 10.0.0.1 80 has no lb_kind; keepalived uses NAT, written explicitly",
      "2:14 ignored after 'lb_algo rr': 'lb_kind DR' (keepalived reads one keyword a line)",
      "6:7 'nb_get_retry' is not acted on by vipkeeper: nothing: keepalived 2.x ignores nb_get_retry in TCP_CHECK (it is HTTP_GET/SSL_GET only); write 'retry N'",
    ]);
  });
});

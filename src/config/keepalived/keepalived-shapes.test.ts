// Config shapes keepalived 2.2.7 runs and vipkeeper once refused or read differently (issue 15,
// points 4 to 6). Each shape is also run through the real keepalived in test/keepalived-shapes.test.ts.
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../diagnostics.js';
import { vsKey } from '../validate.js';
import { importKeepalivedText } from './import.js';

const FILE = '/etc/keepalived/keepalived.conf';
const imp = (text: string, configId = 'lvs1') => importKeepalivedText(text, FILE, { configId });
const msgs = (text: string) => imp(text).diagnostics.map(formatDiagnostic);
const errors = (text: string) => imp(text).diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);

const instance = (name: string, vrid: number, body: string, vip: string) =>
  `vrrp_instance ${name} {\n  interface eth0\n  virtual_router_id ${vrid}\n${body}  virtual_ipaddress {\n    ${vip}\n  }\n}\n`;
const vs = (head: string, body: string, rs = '10.1.0.1 80') =>
  `virtual_server ${head} {\n  lb_algo rr\n  lb_kind DR\n${body}  real_server ${rs} {\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n}\n`;

describe('point 4: keepalived runs these, and so does vipkeeper', () => {
  it('a virtual_server_group used by a TCP and a UDP virtual_server', () => {
    const r = imp(`virtual_server_group DNS {\n  10.0.0.53 53\n}\n${vs('group DNS', '  protocol TCP\n')}${vs('group DNS', '  protocol UDP\n')}`);
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.config!.virtual_servers.map(vsKey)).toEqual(['group DNS', 'group DNS UDP']);
  });

  it('a vrrp_script whose only script line is for another config-id: removed, and its track_script entries ignored', () => {
    const text = `vrrp_script chk {\n  @high script "/bin/true"\n  interval 2\n}\n${instance('VI_1', 51, '  track_script {\n    chk\n  }\n', '10.0.0.1/32')}`;
    const r = imp(text, 'low');
    expect(r.config!.vrrp_scripts).toEqual({});
    expect(r.config!.instances.VI_1!.track_script).toEqual([]);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      `${FILE}:1:1: warning: vrrp_script chk has no script, so it is removed, as keepalived does ("No script set"); track_script entries naming it are ignored`,
      `${FILE}:9:5: warning: track script 'chk' is not defined above this line; keepalived ignores it ("not found, ignoring"), and so does vipkeeper`,
    ]);
    expect(imp(text, 'high').config!.instances.VI_1!.track_script).toEqual([{ name: 'chk' }]);
  });

  it('a track_script naming a script that is never defined: a warning, and the entry is ignored', () => {
    const r = imp(instance('VI_1', 51, '  track_script {\n    nosuch weight 10\n  }\n', '10.0.0.1/32'));
    expect(r.config!.instances.VI_1!.track_script).toEqual([]);
    expect(msgs(instance('VI_1', 51, '  track_script {\n    nosuch\n  }\n', '10.0.0.1/32'))).toEqual([
      `${FILE}:5:5: warning: track script 'nosuch' is not defined above this line; keepalived ignores it ("not found, ignoring"), and so does vipkeeper`,
    ]);
  });

  it('two unicast instances with one VRID on one interface and different peers (not: a common peer, or both multicast)', () => {
    const uni = (name: string, peers: string[], vip: string) =>
      instance(name, 51, `  unicast_src_ip 10.0.0.2\n  unicast_peer {\n${peers.map((p) => `    ${p}\n`).join('')}  }\n`, vip);
    expect(errors(uni('A', ['10.0.0.3'], '10.9.0.1/32') + uni('B', ['10.0.0.4'], '10.9.0.2/32'))).toEqual([]);
    expect(errors(uni('A', ['10.0.0.3'], '10.9.0.1/32') + instance('B', 51, '', '10.9.0.2/32'))).toEqual([]);
    expect(errors(uni('A', ['10.0.0.3', '10.0.0.4'], '10.9.0.1/32') + uni('B', ['10.0.0.4'], '10.9.0.2/32'))).toEqual([
      expect.stringMatching(/:15:3: error: virtual_router_id 51 is already used by instance 'A' on eth0 \(unicast to a common peer\)/),
    ]);
    expect(errors(instance('A', 51, '', '10.9.0.1/32') + instance('B', 51, '', '10.9.0.2/32'))).toEqual([
      expect.stringMatching(/:10:3: error: virtual_router_id 51 is already used by instance 'A' on eth0 \(both multicast\)/),
    ]);
  });

  it('the same virtual_server twice through a $ macro: programmed once', () => {
    const text = `$VS=${vs('10.0.0.1 80', '  protocol TCP\n').trimEnd().split('\n').join(' \\\n')}\n$VS\n$VS\n`;
    const r = imp(text);
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.config!.virtual_servers).toHaveLength(1);
    expect(r.diagnostics.map(formatDiagnostic)).toContainEqual(expect.stringMatching(/:12:1: warning: virtual server 10\.0\.0\.1 80 TCP is defined again with the same settings \(first at line 11\)/));
  });

  it('the same virtual_server twice with other settings: the first one\'s service, the real servers of both', () => {
    const r = imp(vs('10.0.0.1 80', '  protocol TCP\n  delay_loop 10\n') + vs('10.0.0.1 80', '  protocol TCP\n  lb_algo wrr\n', '10.1.0.2 80'));
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const [one] = r.config!.virtual_servers;
    expect(r.config!.virtual_servers).toHaveLength(1);
    expect(one).toMatchObject({ lb_algo: 'rr', delay_loop: 10_000 });
    // the second one's real server keeps what it inherited: keepalived's default delay_loop
    expect(one!.real_servers.map((rs) => [rs.address, rs.delay_loop])).toEqual([
      ['10.1.0.1', undefined],
      ['10.1.0.2', 60_000],
    ]);
  });

  it('mcast_src_ip and unicast_src_ip written with a /prefix: the address, the prefix ignored with a warning', () => {
    const r = imp(instance('VI_1', 51, '  mcast_src_ip 10.0.0.2/24\n', '10.9.0.1/32') + instance('VI_2', 52, '  unicast_src_ip 10.0.0.2/24\n  unicast_peer {\n    10.0.0.3\n  }\n', '10.9.0.2/32'));
    expect(r.config!.instances.VI_1!.mcast_src_ip).toBe('10.0.0.2');
    expect(r.config!.instances.VI_2!.unicast_src_ip).toBe('10.0.0.2');
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      `${FILE}:4:16: warning: 'mcast_src_ip' takes an address; the prefix '/24' is ignored (as keepalived ignores it)`,
      `${FILE}:12:18: warning: 'unicast_src_ip' takes an address; the prefix '/24' is ignored (as keepalived ignores it)`,
    ]);
  });

  it('lines commented out through a parameter that expands to #', () => {
    const r = imp(`$OFF=\${_HASH}\n${instance('VI_1', 51, '  $OFF nopreempt\n  ${_HASH} bogus_keyword\n', '10.9.0.1/32')}`);
    expect(r.diagnostics).toEqual([]);
    expect(r.config!.instances.VI_1!.nopreempt).toBe(false);
  });
});

describe('point 5: keepalived reads one keyword a line, and vipkeeper says what it drops', () => {
  it('url { path / digest … }: the path is kept, the digest dropped, a warning at its column', () => {
    const text = `virtual_server 10.0.0.1 80 {\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n  real_server 10.1.0.1 80 {\n    HTTP_GET {\n      url { path / digest 0123456789abcdef0123456789abcdef }\n      connect_timeout 2 retry 1\n    }\n  }\n}\n`;
    const r = imp(text);
    const check = r.config!.virtual_servers[0]!.real_servers[0]!.checks[0]!;
    expect(check).toMatchObject({ type: 'HTTP_GET', url: [{ path: '/' }], connect_timeout: 2000 });
    expect(check).not.toHaveProperty('retry');
    expect((check as { url: object[] }).url[0]).not.toHaveProperty('digest');
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      `${FILE}:7:20: warning: ignored after 'path /': 'digest 0123456789abcdef0123456789abcdef' (keepalived reads one keyword a line)`,
      `${FILE}:8:25: warning: ignored after 'connect_timeout 2': 'retry 1' (keepalived reads one keyword a line)`,
    ]);
  });

  it('a flag with a value: the value is ignored, said at its column', () => {
    expect(msgs(instance('VI_1', 51, '  nopreempt yes\n', '10.9.0.1/32'))).toEqual([
      `${FILE}:4:13: warning: ignored after 'nopreempt': 'yes' (keepalived reads one keyword a line)`,
    ]);
  });

  it('nb_get_retry in TCP_CHECK: keepalived 2.x ignores it; said, naming retry', () => {
    const r = imp(vs('10.0.0.1 80', '  protocol TCP\n').replace('connect_timeout 3', 'nb_get_retry 3'));
    expect(r.config!.virtual_servers[0]!.real_servers[0]!.checks[0]).not.toHaveProperty('retry');
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      `${FILE}:7:7: warning: 'nb_get_retry' is not acted on by vipkeeper: nothing: keepalived 2.x ignores nb_get_retry in TCP_CHECK (it is HTTP_GET/SSL_GET only); write 'retry N'`,
    ]);
  });
});

describe('point 6: no secret in a diagnostic', () => {
  const secretFree = (text: string, secret: string) => {
    const r = imp(text);
    const all = [...r.diagnostics.map(formatDiagnostic), ...r.unsupported.map((u) => u.text)].join('\n');
    expect(all).not.toContain(secret);
    return r;
  };

  it('an unmatched quote in auth_pass is located, not echoed', () => {
    const r = secretFree(instance('VI_1', 51, '  authentication {\n    auth_type PASS\n    auth_pass "s3cr3tpw\n  }\n', '10.9.0.1/32'), 's3cr3tpw');
    expect(r.diagnostics.map(formatDiagnostic)).toContainEqual(`${FILE}:6:15: error: unmatched quote: the string that starts here has no closing '"'; the rest of the line is taken as its text`);
  });

  it('words after auth_pass are reported without the password', () => {
    const r = secretFree(instance('VI_1', 51, '  authentication {\n    auth_type PASS\n    auth_pass s3cr3tpw more\n  }\n', '10.9.0.1/32'), 's3cr3tpw');
    expect(r.diagnostics.map(formatDiagnostic)).toContainEqual(`${FILE}:6:24: warning: ignored after 'auth_pass …': '…' (keepalived reads one keyword a line)`);
  });

  it('a refused auth_hmac and an SSL block keep their keys out of the report (the SSL block is acted on now: nothing of it is reported)', () => {
    const text = `SSL {\n  password s3cr3tpw\n  key /etc/k.pem\n}\n${instance('VI_1', 51, '  auth_hmac {\n    key 1 s3cr3thmac\n  }\n', '10.9.0.1/32')}`;
    secretFree(text, 's3cr3tpw');
    const r = secretFree(text, 's3cr3thmac');
    expect(r.unsupported.find((u) => u.keyword === 'SSL')).toBeUndefined(); // acted on: the password goes into the config, not into a report
    expect(r.diagnostics.map(formatDiagnostic)).toContainEqual(expect.stringMatching(/:8:3: error: 'auth_hmac' is refused: vipkeeper does not implement keepalived's HMAC advert trailer/));
  });

  it('a URL with a password is masked', () => {
    const r = secretFree(`global_defs {\n  router_id lvs-a http://u:s3cr3tpw@example.invalid/\n}\n`, 's3cr3tpw');
    expect(r.diagnostics.map(formatDiagnostic)).toContainEqual(`${FILE}:2:19: warning: ignored after 'router_id lvs-a': 'http://u:***@example.invalid/' (keepalived reads one keyword a line)`);
  });
});

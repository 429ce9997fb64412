import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../diagnostics.js';
import { importKeepalivedText } from './import.js';

function imp(text: string, files: Record<string, string> = {}) {
  return importKeepalivedText(text, '/etc/keepalived/keepalived.conf', {
    configId: 'lvs1',
    readFile: (p) => {
      const f = files[p];
      if (f === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return f;
    },
    // A tiny glob for the virtual files: a pattern with one trailing `*` part.
    glob: (pattern, cwd) => {
      const abs = pattern.startsWith('/') ? pattern : `${cwd}/${pattern}`;
      const star = abs.indexOf('*');
      return Object.keys(files).filter((f) => (star < 0 ? f === abs : f.startsWith(abs.slice(0, star)) && f.endsWith(abs.slice(star + 1))));
    },
  });
}

const msgs = (text: string) => imp(text).diagnostics.map(formatDiagnostic);

const INSTANCE = (body: string, name = 'VI_1') => `vrrp_instance ${name} {\n  interface eth0\n${body}\n  virtual_ipaddress {\n    10.0.0.1/24\n  }\n}\n`;

describe('keepalived importer: values and defaults', () => {
  it('reads an instance with every common keyword', () => {
    const r = imp(`vrrp_script chk {\n  script "/bin/check a b" nobody nogroup\n  interval 2\n  weight -20 reverse\n  fall 3\n}\n` +
      INSTANCE('  state BACKUP\n  virtual_router_id 51\n  priority 150\n  advert_int 1\n  nopreempt\n  authentication {\n    auth_type PASS\n    auth_pass secret\n  }\n  track_script {\n    chk weight 10\n  }\n  track_interface {\n    eth1 weight -5\n  }\n  unicast_src_ip 10.0.0.2\n  unicast_peer {\n    10.0.0.3\n  }\n  notify_master "/bin/notify master"'));
    expect(r.diagnostics).toEqual([]);
    const i = r.config!.instances.VI_1!;
    expect(i).toMatchObject({
      state: 'BACKUP', interface: 'eth0', virtual_router_id: 51, priority: 150, advert_int: 1000, nopreempt: true,
      authentication: { auth_type: 'PASS', auth_pass: 'secret' },
      track_script: [{ name: 'chk', weight: 10 }], track_interface: [{ interface: 'eth1', weight: -5 }],
      unicast_src_ip: '10.0.0.2', unicast_peer: [{ address: '10.0.0.3' }],
      notify_master: { command: '/bin/notify master' },
      virtual_ipaddress: [{ address: '10.0.0.1', prefix: 24 }],
    });
    expect(r.config!.vrrp_scripts.chk).toMatchObject({
      script: { command: '/bin/check a b', user: 'nobody', group: 'nogroup' }, interval: 2000, weight: -20, weight_reverse: true, fall: 3, rise: 1,
    });
  });

  it('reads vrrp_rt_priority (0 = off, a vipkeeper extension); without it the VRRP thread gets SCHED_RR 10', () => {
    const r = imp('global_defs {\n  vrrp_rt_priority 30\n}\n' + INSTANCE('  virtual_router_id 5\n  priority 100'));
    expect(r.diagnostics).toEqual([]);
    expect(r.config!.global.vrrp_rt_priority).toBe(30);
    expect(imp('global_defs {\n  vrrp_rt_priority 0\n}\n').config!.global.vrrp_rt_priority).toBe(0);
    expect(imp(INSTANCE('  virtual_router_id 5\n  priority 100')).config!.global.vrrp_rt_priority).toBe(10);
    expect(imp('global_defs {\n  vrrp_rt_priority 100\n}\n').diagnostics.some((d) => d.severity === 'error')).toBe(true);
  });

  it('makes a MASTER without priority the address owner, with a warning', () => {
    const r = imp(INSTANCE('  state MASTER\n  virtual_router_id 5'));
    expect(r.config!.instances.VI_1!.priority).toBe(255);
    expect(r.diagnostics.map((d) => d.message)).toContainEqual(expect.stringMatching(/no priority; keepalived then makes it the address owner/));
  });

  it('applies keepalived defaults to a bare virtual server and says so', () => {
    const r = imp('virtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n  }\n}\n');
    const vs = r.config!.virtual_servers[0]!;
    expect(vs).toMatchObject({ lb_algo: 'wlc', lb_kind: 'NAT', protocol: 'UDP', delay_loop: 60_000, connect_timeout: 5000 });
    const m = r.diagnostics.map((d) => d.message);
    expect(m).toContainEqual(expect.stringMatching(/no lb_algo; keepalived uses wlc/));
    expect(m).toContainEqual(expect.stringMatching(/no protocol; keepalived then uses UDP/));
  });

  it('reads real servers, checkers, inheritance fields and aliases', () => {
    const r = imp(`virtual_server fwmark 7 {
  lvs_sched wrr
  lvs_method DR
  persistence_timeout
  delay_loop 6
  sorry_server 10.0.9.9 80
  sorry_server_inhibit
  mh-port
  real_server 10.0.1.1 80 {
    weight 3
    inhibit_on_failure
    HTTP_GET {
      url {
        path /health
        digest 640205B7B0FC66C1EA91C463FAC6334D
        status_code 200 301-302
      }
      nb_get_retry 4
      connect_timeout 2.5
    }
    MISC_CHECK {
      misc_path "/bin/check -x"
      misc_dynamic
      user nobody
    }
  }
}
`);
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const vs = r.config!.virtual_servers[0]!;
    expect(vs).toMatchObject({ fwmark: 7, lb_algo: 'wrr', lb_kind: 'DR', persistence_timeout: 360_000, delay_loop: 6000, flags: ['mh-port'] });
    expect(vs.sorry_server).toEqual({ address: '10.0.9.9', port: 80, inhibit: true });
    const rs = vs.real_servers[0]!;
    expect(rs).toMatchObject({ address: '10.0.1.1', port: 80, weight: 3, inhibit_on_failure: true });
    expect(rs.checks[0]).toMatchObject({
      type: 'HTTP_GET', retry: 4, connect_timeout: 2500,
      url: [{ path: '/health', digest: '640205b7b0fc66c1ea91c463fac6334d', status_code: [200, '301-302'] }],
    });
    expect(rs.checks[1]).toMatchObject({ type: 'MISC_CHECK', misc_dynamic: true, misc_path: { command: '/bin/check -x', user: 'nobody' } });
    expect(r.diagnostics.map((d) => d.message)).toContainEqual(expect.stringMatching(/'nb_get_retry' is deprecated; write 'retry'/));
  });

  it('expands virtual_server_group entries', () => {
    const r = imp('virtual_server_group G {\n  10.0.0.1-10 80\n  10.0.1.0/24 443\n  fwmark 3\n}\nvirtual_server group G {\n  protocol TCP\n  lb_algo rr\n  lb_kind NAT\n  real_server 10.1.0.1 80 {\n  }\n}\n');
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.config!.virtual_server_groups.G).toEqual([
      { address: '10.0.0.1', last: '10.0.0.10', port: 80 },
      { address: '10.0.1.0', prefix: 24, port: 443 },
      { fwmark: 3 },
    ]);
  });
});

describe('keepalived importer: warnings', () => {
  it('suggests the nearest keyword for a typo, with file:line:col', () => {
    expect(msgs('virtual_server 10.0.0.1 80 {\n  protocol TCP\n  lb_algo rr\n  lb_kind DR\n  delay_befor_retry 3\n  real_server 10.0.1.1 80 {\n  }\n}\n')).toContainEqual(
      "/etc/keepalived/keepalived.conf:5:3: warning: unknown keyword 'delay_befor_retry' in virtual_server 10.0.0.1 80 (keepalived does not know it either and ignores it); did you mean 'delay_before_retry'?",
    );
  });

  it('skips an unknown block as a whole, unlike keepalived', () => {
    const r = imp('global_defs {\n  bogus_block {\n    router_id x\n  }\n  vrrp_garp_master_delay 2\n}\n' + INSTANCE('  virtual_router_id 5'));
    expect(r.config!.global.vrrp_garp_master_delay).toBe(2000);
    expect(r.config!.global.router_id).toBeUndefined();
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      "/etc/keepalived/keepalived.conf:2:3: warning: unknown block 'bogus_block' in global_defs is skipped (keepalived does not know it either)",
    ]);
  });

  it('is case-sensitive like keepalived', () => {
    const m = msgs('VRRP_INSTANCE VI_1 {\n}\n' + INSTANCE('  state master\n  virtual_router_id 5'));
    expect(m).toContainEqual(expect.stringMatching(/1:1: warning: unknown block 'VRRP_INSTANCE' in the top level is skipped \(keepalived does not know it either\); did you mean 'vrrp_instance'\?/));
    expect(m).toContainEqual(expect.stringMatching(/error: state 'master' is not valid; use MASTER or BACKUP/));
  });

  it('ignores a track_script entry naming a vrrp_script defined later or never, as keepalived does', () => {
    const r = imp(INSTANCE('  virtual_router_id 5\n  track_script {\n    late\n    nope\n  }') + 'vrrp_script late {\n  script /bin/true\n}\n');
    expect(r.config!.instances.VI_1!.track_script).toEqual([]);
    const m = r.diagnostics.map(formatDiagnostic);
    expect(m).toContainEqual(expect.stringMatching(/:5:5: warning: track script 'late' is not defined above this line; keepalived ignores it/));
    expect(m).toContainEqual(expect.stringMatching(/:6:5: warning: track script 'nope' is not defined above this line; keepalived ignores it/));
  });

  it('keeps keepalived built-ins for instances declared before global_defs', () => {
    const r = imp(INSTANCE('  virtual_router_id 5') + 'global_defs {\n  vrrp_garp_master_delay 1\n}\n' + INSTANCE('  virtual_router_id 6', 'VI_2'));
    const c = r.config!;
    expect(c.global.vrrp_garp_master_delay).toBe(1000);
    expect(c.instances.VI_1!.garp_master_delay).toBe(5000);
    expect(c.instances.VI_2!.garp_master_delay).toBeUndefined();
    expect(r.diagnostics.map((d) => d.message)).toContainEqual(expect.stringMatching(/global_defs comes after vrrp_instance VI_1; keepalived does not apply vrrp_garp_master_delay/));
  });

  it('keeps the first of two notify scripts and the MASTER state over a later BACKUP', () => {
    const r = imp(INSTANCE('  virtual_router_id 5\n  state MASTER\n  priority 100\n  state BACKUP\n  notify_master /bin/a\n  notify_master /bin/b'));
    expect(r.config!.instances.VI_1).toMatchObject({ state: 'MASTER', notify_master: { command: '/bin/a' } });
  });

  it('lists what it does not carry over', () => {
    const r = imp('global_defs {\n  enable_dbus\n}\nnet_namespace blue\n');
    expect(r.unsupported.map((u) => `${u.loc.line}:${u.keyword}`)).toEqual(['2:enable_dbus', '4:net_namespace']);
  });
});

describe('keepalived importer: regex parameters (check_http.c url_check)', () => {
  const vs = (url: string) => `virtual_server 10.0.0.1 80 {\n  protocol TCP\n  lb_algo rr\n  lb_kind DR\n  real_server 10.0.1.1 80 {\n    HTTP_GET {\n      url {\n        path /\n${url}      }\n    }\n  }\n}\n`;
  const url0 = (text: string) => (imp(vs(text)).config?.virtual_servers?.[0]?.real_servers?.[0]?.checks?.[0] as { url: Record<string, unknown>[] }).url[0];

  it('reads the options vipkeeper honours, reports the others at their column', () => {
    const text = '        regex "^ok"\n        regex_options caseless ucp multiline nonsense\n        regex_min_offset 4\n        regex_max_offset 40\n';
    expect(url0(text)).toMatchObject({ regex: '^ok', regex_options: ['caseless', 'multiline'], regex_min_offset: 4, regex_max_offset: 40 });
    expect(msgs(vs(text))).toEqual([
      "/etc/keepalived/keepalived.conf:10:32: warning: regex option 'ucp' has no JavaScript equivalent and is not applied: \\d, \\w and \\b match ASCII only, not by Unicode property",
      "/etc/keepalived/keepalived.conf:10:46: warning: 'nonsense' is not a regex option; keepalived ignores it, and so does vipkeeper",
    ].map((m) => m.replace(/\\\\/g, '\\')));
  });

  it('drops them without a regex, and both offsets when min is past max, as keepalived', () => {
    expect(url0('        regex_options caseless\n        regex_min_offset 4\n')).toEqual({ path: '/' });
    expect(msgs(vs('        regex_options caseless\n'))).toEqual([
      "/etc/keepalived/keepalived.conf:7:7: warning: url block has regex_options without a regex; keepalived ignores them (\"regex parameters specified without regex\"), and so does vipkeeper",
    ]);
    expect(url0('        regex ok\n        regex_min_offset 9\n        regex_max_offset 3\n')).toEqual({ path: '/', regex: 'ok' });
    expect(msgs(vs('        regex ok\n        regex_min_offset x\n'))).toEqual([
      "/etc/keepalived/keepalived.conf:10:9: warning: 'regex_min_offset' needs one offset in bytes; keepalived ignores this line, and so does vipkeeper",
    ]);
  });
});

describe('keepalived importer: semantic errors', () => {
  it.each([
    ['a VRID of 300', INSTANCE('  virtual_router_id 300'), /3:21: error: 'virtual_router_id' 300 is out of range; use 1\.\.255/],
    ['a priority of 0', INSTANCE('  virtual_router_id 3\n  priority 0'), /4:12: error: 'priority' 0 is out of range; use 1\.\.255/],
    ['a duplicate VRID on one interface', INSTANCE('  virtual_router_id 3') + INSTANCE('  virtual_router_id 3', 'VI_2'), /10:3: error: virtual_router_id 3 is already used by instance 'VI_1'/],
    ['an invalid address', 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 3\n  virtual_ipaddress {\n    10.0.0.300/24\n  }\n}\n', /5:5: error: invalid virtual address '10\.0\.0\.300\/24'/],
    ['an invalid prefix', 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 3\n  virtual_ipaddress {\n    10.0.0.3/33\n  }\n}\n', /5:5: error: invalid virtual address .*'\/33' is not a valid prefix/],
    ['mixed families', 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 3\n  virtual_ipaddress {\n    10.0.0.3\n    fd00::3\n  }\n}\n', /6:5: error: instance 'VI_1' mixes IPv4 and IPv6/],
    ['a fractional advert_int with VRRPv2', INSTANCE('  virtual_router_id 3\n  advert_int 0.5'), /4:3: error: advert_int 0\.5s does not fit VRRPv2/],
    ['an advert_int too long for VRRPv3', INSTANCE('  virtual_router_id 3\n  version 3\n  advert_int 50'), /5:3: error: advert_int 50s does not fit VRRPv3/],
    ['a missing sync-group member', 'vrrp_sync_group G {\n  group {\n    VI_9\n  }\n}\n', /3:5: error: sync group 'G' names instance 'VI_9', which does not exist/],
    ['a virtual server with no real servers', 'virtual_server 10.0.0.1 80 {\n  protocol TCP\n  lb_algo rr\n  lb_kind DR\n}\n', /1:1: error: virtual server 10\.0\.0\.1 80 TCP has no real servers/],
  ])('reports %s', (_what, text, re) => {
    const r = imp(text);
    expect(r.config).toBeUndefined();
    expect(r.diagnostics.map(formatDiagnostic)).toContainEqual(expect.stringMatching(re));
  });

  it('locates a finding inside a real server at its own line, also in an included file (the lean first pass reads it again)', () => {
    const vs = 'virtual_server 10.0.0.1 80 {\n  protocol TCP\n  lb_algo rr\n  lb_kind DR\n  real_server 10.0.1.1 80 {\n    weight 2\n  }\n  real_server 10.0.1.1 80 {\n    weight 3\n  }\n}\n';
    expect(msgs(vs)).toContainEqual(expect.stringMatching(/keepalived\.conf:8:3: error: real server 10\.0\.1\.1:80 appears twice/));
    const r = imp('include conf.d/*.conf\n', { '/etc/keepalived/conf.d/lvs.conf': vs });
    expect(r.diagnostics.map(formatDiagnostic)).toContainEqual(expect.stringMatching(/conf\.d\/lvs\.conf:8:3: error: real server 10\.0\.1\.1:80 appears twice/));
  });

  it('reports an unbalanced brace at the block it leaves open', () => {
    expect(msgs('vrrp_instance VI_1 {\n  interface eth0\n')).toContainEqual(
      "/etc/keepalived/keepalived.conf:1:1: error: block 'vrrp_instance' opened here is never closed; add the missing '}'",
    );
  });

  it('resolves includes relative to the including file', () => {
    const r = imp('include conf.d/*.conf\n', {
      '/etc/keepalived/conf.d/a.conf': INSTANCE('  virtual_router_id 8'),
    });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.config!.instances.VI_1!.virtual_router_id).toBe(8);
  });
});

describe('keepalived importer: vrrp_track_process', () => {
  const TP = (body: string, name = 'tp') => `vrrp_track_process ${name} {\n${body}\n}\n`;
  const tp = (body: string) => imp(TP(body) + INSTANCE('  virtual_router_id 9\n  track_process {\n    tp\n  }'));

  it('reads process, arguments, param_match, weight reverse, quorum, delays', () => {
    const r = tp('  process sleep 1000 x\n  param_match partial\n  weight -20 reverse\n  quorum 2\n  quorum_max 4\n  delay 1.5\n  terminate_delay 3');
    expect(r.diagnostics).toEqual([]);
    expect(r.config!.track_processes.tp).toMatchObject({
      process: 'sleep', args: ['1000', 'x'], param_match: 'partial', weight: -20, weight_reverse: true,
      quorum: 2, quorum_max: 4, fork_delay: 1500, terminate_delay: 3000,
    });
    expect(r.config!.instances.VI_1!.track_process).toEqual([{ name: 'tp' }]);
  });

  it('a bare param_match without arguments matches the command run without arguments (args: [])', () => {
    expect(tp('  param_match\n  process nginx').config!.track_processes.tp).toMatchObject({ process: 'nginx', args: [], param_match: 'exact' });
    expect(tp('  process nginx').config!.track_processes.tp!.args).toBeUndefined();
  });

  it("keeps keepalived's quorum rules: quorum_max 0 means none may run; inconsistent values are ignored", () => {
    expect(tp('  process x\n  quorum_max 0').config!.track_processes.tp).toMatchObject({ quorum: 0, quorum_max: 0 });
    const r = tp('  process x\n  quorum_max 2\n  quorum 3');
    expect(r.config!.track_processes.tp).toMatchObject({ quorum: 1, quorum_max: 2 });
    expect(r.diagnostics.map(formatDiagnostic).join('\n')).toMatch(/quorum 3 is greater than quorum_max 2/);
    expect(tp('  process x\n  quorum 3\n  quorum_max 2').diagnostics.map(formatDiagnostic).join('\n')).toMatch(/quorum_max 2 is less than quorum 3/);
    expect(tp('  process x\n  quorum 0').diagnostics.some((d) => d.severity === 'error')).toBe(true);
  });

  it('drops a definition without process, and a reference above its definition, as keepalived does', () => {
    const r = imp(TP('  quorum 2') + INSTANCE('  virtual_router_id 9\n  track_process {\n    tp\n  }'));
    expect(r.config!.track_processes.tp).toBeUndefined();
    expect(r.config!.instances.VI_1!.track_process).toEqual([]);
    const late = imp(INSTANCE('  virtual_router_id 9\n  track_process {\n    tp\n  }') + TP('  process x'));
    expect(late.config!.instances.VI_1!.track_process).toEqual([]);
    expect(late.diagnostics.map(formatDiagnostic).join('\n')).toMatch(/track process 'tp' is not defined above this line/);
  });
});

import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../config/load.js';
import { ConfigSchema, type Config, type ConfigInput } from '../config/schema.js';
import { resolveChecks, resolveServices, type CheckPlan } from './spec.js';
import { fixture } from '../../test/fixtures/keepalived/fixtures.js';

type VsIn = NonNullable<ConfigInput['virtual_servers']>[number];

function cfg(vs: VsIn[], extra: Partial<ConfigInput> = {}): Config {
  return ConfigSchema.parse({ ...extra, virtual_servers: vs });
}

function only(config: Config): CheckPlan {
  const plans = resolveChecks(config);
  expect(plans).toHaveLength(1);
  return plans[0] as CheckPlan;
}


describe('resolveChecks: inheritance checker → RS → VS → default', () => {
  it('fills keepalived defaults when nothing is set', () => {
    const p = only(cfg([{ address: '10.0.0.1', port: 80, real_servers: [{ address: '10.0.1.1', port: 8080, checks: [{ type: 'TCP_CHECK' }] }] }]));
    expect(p.timing).toEqual({
      delayLoopMs: 60_000,
      connectTimeoutMs: 5000,
      retry: 1,
      delayBeforeRetryMs: 1000,
      warmupMs: 60_000,
      alpha: false,
      inhibitOnFailure: false,
      fastRecovery: false,
    });
    expect(p.timeoutMs).toBe(5000);
    expect(p.specs).toEqual([{ kind: 'TCP_CHECK', address: '10.0.1.1', port: 8080, timeoutMs: 5000 }]);
    expect(p.vs).toBe('10.0.0.1 80 TCP');
    expect(p.rs).toBe('10.0.1.1:8080');
  });

  const timingKeys = ['delay_loop', 'connect_timeout', 'retry', 'delay_before_retry', 'warmup'] as const;
  const vsVals = { delay_loop: 10, connect_timeout: 11, retry: 12, delay_before_retry: 13, warmup: 14 };
  const rsVals = { delay_loop: 20, connect_timeout: 21, retry: 22, delay_before_retry: 23, warmup: 24 };
  const ckVals = { delay_loop: 30, connect_timeout: 31, retry: 32, delay_before_retry: 33, warmup: 34 };
  const field = { delay_loop: 'delayLoopMs', connect_timeout: 'connectTimeoutMs', retry: 'retry', delay_before_retry: 'delayBeforeRetryMs', warmup: 'warmupMs' } as const;
  const ms = (k: (typeof timingKeys)[number], v: number) => (k === 'retry' ? v : v * 1000);

  it.each([
    { level: 'checker', vs: true, rs: true, ck: true, want: ckVals },
    { level: 'real server', vs: true, rs: true, ck: false, want: rsVals },
    { level: 'virtual server', vs: true, rs: false, ck: false, want: vsVals },
  ])('the $level value wins when it is the most specific one set', ({ vs, rs, ck, want }) => {
    const p = only(
      cfg([
        {
          address: '10.0.0.1',
          port: 80,
          ...(vs ? vsVals : {}),
          real_servers: [{ address: '10.0.1.1', port: 8080, ...(rs ? rsVals : {}), checks: [{ type: 'TCP_CHECK', ...(ck ? ckVals : {}) }] }],
        },
      ]),
    );
    for (const k of timingKeys) expect(p.timing[field[k]], k).toBe(ms(k, want[k]));
  });

  it('warmup defaults to the checker’s own delay_loop; DNS delay_before_retry to delay_loop; HTTP/SSL to 3 s', () => {
    const c = cfg([
      {
        address: '10.0.0.1',
        port: 80,
        delay_loop: 6,
        real_servers: [
          {
            address: '10.0.1.1',
            port: 8080,
            checks: [
              { type: 'TCP_CHECK', delay_loop: 2 },
              { type: 'DNS_CHECK', delay_loop: 4 },
              { type: 'HTTP_GET', url: [{ path: '/' }] },
              { type: 'SSL_GET', url: [{ path: '/' }] },
              { type: 'MISC_CHECK', misc_path: '/bin/true' },
            ],
          },
        ],
      },
    ]);
    const [tcp, dns, http, ssl, misc] = resolveChecks(c);
    expect(tcp?.timing).toMatchObject({ delayLoopMs: 2000, warmupMs: 2000, retry: 1, delayBeforeRetryMs: 1000 });
    expect(dns?.timing).toMatchObject({ delayLoopMs: 4000, warmupMs: 4000, retry: 3, delayBeforeRetryMs: 4000 });
    expect(http?.timing).toMatchObject({ retry: 1, delayBeforeRetryMs: 3000 });
    expect(ssl?.timing).toMatchObject({ retry: 1, delayBeforeRetryMs: 3000 });
    expect(misc?.timing).toMatchObject({ retry: 0, delayBeforeRetryMs: 1000 });
  });

  it('misc_timeout defaults to the VIRTUAL server’s delay_loop (keepalived uses vs->delay_loop), even when the checker overrides its own', () => {
    const c = cfg([
      {
        address: '10.0.0.1',
        port: 80,
        delay_loop: 6,
        real_servers: [
          {
            address: '10.0.1.1',
            port: 8080,
            checks: [
              { type: 'MISC_CHECK', misc_path: { command: '/bin/check a', user: 'nobody' }, delay_loop: 2 },
              { type: 'MISC_CHECK', misc_path: '/bin/check b', misc_timeout: 3, misc_dynamic: true },
            ],
          },
        ],
      },
    ]);
    const [a, b] = resolveChecks(c);
    expect(a?.timeoutMs).toBe(6000);
    expect(a?.specs).toEqual([{ kind: 'MISC_CHECK', command: '/bin/check a', user: 'nobody', timeoutMs: 6000, dynamic: false }]);
    expect(b?.timeoutMs).toBe(3000);
    expect(b?.dynamic).toBe(true);
  });

  it('global_defs script_user applies to a MISC_CHECK without its own user', () => {
    const rs = (misc_path: string | { command: string; user: string }) => ({
      address: '10.0.1.1',
      port: 8080,
      checks: [{ type: 'MISC_CHECK', misc_path }],
    });
    const c = cfg(
      [
        { address: '10.0.0.1', port: 80, real_servers: [rs('/bin/check a') as never] },
        { address: '10.0.0.2', port: 80, real_servers: [rs({ command: '/bin/check b', user: 'daemon' }) as never] },
      ],
      { global: { script_user: { user: 'nobody', group: 'nogroup' } } },
    );
    const [a, b] = resolveChecks(c);
    expect(a?.specs[0]).toMatchObject({ command: '/bin/check a', user: 'nobody', group: 'nogroup' });
    // its own user wins, with that user's own group (not script_user's)
    expect(b?.specs[0]).toMatchObject({ command: '/bin/check b', user: 'daemon' });
    expect(b?.specs[0]).not.toHaveProperty('group');
  });

  it('alpha and inhibit_on_failure inherit; virtualhost goes url → checker → RS → VS', () => {
    const c = cfg([
      {
        address: '10.0.0.1',
        port: 80,
        alpha: true,
        inhibit_on_failure: true,
        virtualhost: 'vs.example',
        real_servers: [
          {
            address: '10.0.1.1',
            port: 8080,
            virtualhost: 'rs.example',
            checks: [
              { type: 'HTTP_GET', url: [{ path: '/a' }, { path: '/b', virtualhost: 'url.example', status_code: [200, '300-302'] }] },
              { type: 'HTTP_GET', virtualhost: 'ck.example', alpha: false, url: [{ path: '/' }] },
            ],
          },
          { address: '10.0.1.2', port: 8080, alpha: false, inhibit_on_failure: false, checks: [{ type: 'SSL_GET', url: [{ path: '/' }] }] },
        ],
      },
    ]);
    const [h1, h2, s] = resolveChecks(c);
    expect(h1?.timing).toMatchObject({ alpha: true, inhibitOnFailure: true });
    expect(h1?.specs).toHaveLength(2);
    expect(h1?.specs[0]).toMatchObject({ virtualhost: 'rs.example', url: { path: '/a', statusCodes: [[200, 299]] }, httpProtocol: '1.0', verifyTls: false });
    expect(h1?.specs[1]).toMatchObject({ virtualhost: 'rs.example', url: { path: '/b', virtualhost: 'url.example', statusCodes: [[200, 200], [300, 302]] } });
    expect(h2?.timing.alpha).toBe(false);
    expect(h2?.specs[0]).toMatchObject({ virtualhost: 'ck.example' });
    expect(s?.timing).toMatchObject({ alpha: false, inhibitOnFailure: false });
    expect(s?.specs[0]).toMatchObject({ virtualhost: 'vs.example' });
  });

  it('connect_ip/connect_port override the RS address and port; an RS without a port takes the VS port', () => {
    const c = cfg([
      {
        address: '10.0.0.1',
        port: 80,
        real_servers: [
          { address: '10.0.1.1', checks: [{ type: 'TCP_CHECK', connect_ip: '10.9.9.9', connect_port: 81, bindto: '10.0.0.5', fwmark: 7 }] },
          { address: '2001:db8::5', checks: [{ type: 'PING_CHECK' }] },
        ],
      },
    ]);
    const [tcp, ping] = resolveChecks(c);
    expect(tcp?.rs).toBe('10.0.1.1:80');
    expect(tcp?.specs[0]).toEqual({ kind: 'TCP_CHECK', address: '10.9.9.9', port: 81, bindto: '10.0.0.5', fwmark: 7, timeoutMs: 5000 });
    expect(ping?.rs).toBe('[2001:db8::5]:80');
    expect(ping?.specs[0]).toEqual({ kind: 'PING_CHECK', address: '2001:db8::5', timeoutMs: 5000 });
  });

  it('fwmark, bind_if, bindto and bind_port reach the probe of every checker with a socket (PING_CHECK: no port)', () => {
    const conn = { fwmark: 66, bind_if: 'eth1', bindto: '10.0.0.5', bind_port: 4000 };
    const c = cfg([
      {
        address: '10.0.0.1',
        port: 80,
        real_servers: [
          {
            address: '10.0.1.1',
            checks: [
              { type: 'TCP_CHECK', ...conn },
              { type: 'HTTP_GET', ...conn, url: [{ path: '/' }] },
              { type: 'SSL_GET', ...conn, url: [{ path: '/' }] },
              { type: 'SMTP_CHECK', ...conn },
              { type: 'DNS_CHECK', ...conn },
              { type: 'UDP_CHECK', ...conn },
              { type: 'PING_CHECK', ...conn },
            ],
          },
        ],
      },
    ]);
    const specs = resolveChecks(c).flatMap((r) => r.specs);
    expect(specs.map((s) => s.kind)).toEqual(['TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'SMTP_CHECK', 'DNS_CHECK', 'UDP_CHECK', 'PING_CHECK']);
    for (const s of specs.slice(0, 6)) expect(s, s.kind).toMatchObject({ fwmark: 66, bindIf: 'eth1', bindto: '10.0.0.5', bindPort: 4000 });
    expect(specs[6]).toEqual({ kind: 'PING_CHECK', address: '10.0.1.1', fwmark: 66, bindIf: 'eth1', bindto: '10.0.0.5', timeoutMs: 5000 });
  });

  it('SSL_GET sends SNI when enabled: sni_name, else the url or inherited virtualhost', () => {
    const c = cfg([
      {
        address: '10.0.0.1',
        port: 443,
        virtualhost: 'www.example',
        real_servers: [
          {
            address: '10.0.1.1',
            checks: [
              { type: 'SSL_GET', enable_sni: true, url: [{ path: '/' }, { path: '/x', virtualhost: 'x.example' }] },
              { type: 'SSL_GET', sni_name: 'sni.example', url: [{ path: '/' }] },
              { type: 'SSL_GET', url: [{ path: '/' }] },
            ],
          },
        ],
      },
    ]);
    const [a, b, none] = resolveChecks(c);
    expect(a?.specs.map((s) => ('sni' in s ? s.sni : undefined))).toEqual(['www.example', 'x.example']);
    expect(b?.specs[0]).toMatchObject({ sni: 'sni.example' });
    expect(none?.specs[0]).not.toHaveProperty('sni');
  });

  it('log_all_failures: the checker’s own, or global checker_log_all_failures for every checker (keepalived ORs them)', () => {
    const vs = (own?: boolean): VsIn[] => [{ address: '10.0.0.1', port: 80, real_servers: [{ address: '10.0.1.1', checks: [{ type: 'TCP_CHECK', ...(own !== undefined ? { log_all_failures: own } : {}) }] }] }];
    expect(only(cfg(vs())).logAllFailures).toBeUndefined();
    expect(only(cfg(vs(true))).logAllFailures).toBe(true);
    expect(only(cfg(vs(), { global: { checker_log_all_failures: true } })).logAllFailures).toBe(true);
    expect(only(cfg(vs(false), { global: { checker_log_all_failures: true } })).logAllFailures).toBe(true);
  });

  it('regex_options and offsets reach the spec; without a regex, or min past max, they are dropped with a warning (as keepalived)', () => {
    const vs = (url: Record<string, unknown>): VsIn[] => [{ address: '10.0.0.1', port: 80, real_servers: [{ address: '10.0.1.1', checks: [{ type: 'HTTP_GET', url: [{ path: '/', ...url }] }] }] }];
    const spec = (url: Record<string, unknown>) => (only(cfg(vs(url))).specs[0] as { url: Record<string, unknown> }).url;
    expect(spec({ regex: 'ok', regex_options: ['multiline', 'caseless'], regex_min_offset: 3, regex_max_offset: 9 })).toMatchObject({ regexOptions: ['caseless', 'multiline'], regexMinOffset: 3, regexMaxOffset: 9 });
    expect(spec({ regex_options: ['caseless'], regex_min_offset: 3 })).not.toHaveProperty('regexOptions');
    expect(spec({ regex: 'ok', regex_min_offset: 10, regex_max_offset: 5 })).not.toHaveProperty('regexMinOffset');
    const s = resolveServices(cfg(vs({ regex: 'ok', regex_min_offset: 10, regex_max_offset: 5 })));
    expect(s.warnings.join('\n')).toMatch(/regex_min_offset 10 is past regex_max_offset 5; both are ignored/);
  });

  it('DNS, SMTP, UDP and FILE_CHECK specs carry their defaults', () => {
    const c = cfg(
      [
        {
          address: '10.0.0.1',
          port: 53,
          protocol: 'UDP',
          real_servers: [
            {
              address: '10.0.1.1',
              checks: [
                { type: 'DNS_CHECK' },
                { type: 'SMTP_CHECK', connect_port: 25 },
                { type: 'UDP_CHECK', payload: 'abcd' },
                { type: 'FILE_CHECK', track_file: 'maint' },
                { type: 'FILE_CHECK', track_file: 'maint', weight: 0, dynamic: true },
                { type: 'FILE_CHECK', track_file: 'maint', dynamic: true },
              ],
            },
          ],
        },
      ],
      { track_files: { maint: { file: '/run/maint', weight: -5, weight_reverse: true } } },
    );
    const [dns, smtp, udp, file, file0, fileDyn] = resolveChecks(c);
    expect(dns?.specs[0]).toMatchObject({ kind: 'DNS_CHECK', type: 'SOA', name: '.', port: 53 });
    expect(smtp?.specs[0]).toMatchObject({ kind: 'SMTP_CHECK', heloName: 'smtpchecker.keepalived.org', port: 25 });
    expect(udp?.specs[0]).toMatchObject({ kind: 'UDP_CHECK', payload: 'abcd', minReplyLength: 0, maxReplyLength: 255 });
    expect(file?.specs[0]).toEqual({ kind: 'FILE_CHECK', trackFile: 'maint', path: '/run/maint', weight: -5, reverse: true, dynamic: false });
    expect(file?.dynamic).toBe(false);
    expect(file?.timing.retry).toBe(0);
    expect(file0?.dynamic).toBe(false); // weight 0: the file value is a plain status
    expect(fileDyn?.dynamic).toBe(true);
    expect(fileDyn?.specs[0]).toMatchObject({ weight: -5, reverse: true, dynamic: true });
  });
});

describe('resolveChecks: dedup keys', () => {
  const rs = (checks: unknown[]) => [{ address: '10.0.1.1', port: 8080, checks }] as VsIn['real_servers'];

  it('the same check used by two virtual servers has one key', () => {
    const c = cfg([
      { address: '10.0.0.1', port: 80, real_servers: rs([{ type: 'TCP_CHECK', connect_port: 8080 }]) },
      { address: '10.0.0.2', port: 80, real_servers: rs([{ type: 'TCP_CHECK', connect_port: 8080 }]) },
    ]);
    const [a, b] = resolveChecks(c);
    expect(a?.vs).not.toBe(b?.vs);
    expect(a?.key).toBe(b?.key);
    expect(a?.key).toMatch(/^TCP_CHECK 10\.0\.1\.1:8080 [0-9a-f]{16}$/);
  });

  it('differs when the target, a probe parameter, the timing or alpha differ; not for warmup', () => {
    const base = { type: 'HTTP_GET', url: [{ path: '/' }] };
    const variants = [
      base,
      { ...base, connect_port: 81 },
      { ...base, url: [{ path: '/health' }] },
      { ...base, url: [{ path: '/', status_code: [204] }] },
      { ...base, retry: 5 },
      { ...base, delay_loop: 3 },
      { ...base, connect_timeout: 2 },
      { ...base, alpha: true },
      { ...base, http_protocol: '1.1' },
    ];
    const keys = variants.map((v) => only(cfg([{ address: '10.0.0.1', port: 80, real_servers: rs([v]) }])).key);
    expect(new Set(keys).size).toBe(variants.length);
    const warm = only(cfg([{ address: '10.0.0.1', port: 80, real_servers: rs([{ ...base, warmup: 1 }]) }])).key;
    expect(warm).toBe(keys[0]);
  });
});

describe('resolveServices: identity, quorum and sorry server', () => {
  it('keeps a virtual_server_group as one service with its members listed', () => {
    const r = loadConfigFile(fixture('vs-group.conf'), { configId: 'test' });
    const { services } = resolveServices(r.config as Config);
    expect(services).toHaveLength(1);
    const s = services[0];
    expect(s?.id).toBe('group WEB_GROUP');
    expect(s?.identity).toEqual({
      kind: 'group',
      group: 'WEB_GROUP',
      protocol: 'TCP',
      members: [
        { kind: 'address', address: '10.23.0.1', port: 8080, protocol: 'TCP' },
        { kind: 'address', address: '10.23.0.2', port: 80, protocol: 'TCP' },
        { kind: 'address', address: '10.23.0.10', port: 1358, protocol: 'TCP' },
        { kind: 'address', address: '10.23.0.20', last: '10.23.0.27', port: 80, protocol: 'TCP' },
        { kind: 'fwmark', fwmark: 3 },
        { kind: 'fwmark', fwmark: 4 },
      ],
    });
    expect(s?.realServers.map((x) => x.key)).toEqual(['10.23.1.1:1358', '10.23.1.2:1358']);
    expect(s?.realServers[0]?.checks[0]?.timing).toMatchObject({ delayLoopMs: 6000, connectTimeoutMs: 3000, retry: 3, delayBeforeRetryMs: 3000 });
  });

  it('reads the quorum fixture: quorum 7, hysteresis 2, alpha, ten RS of weight 1', () => {
    const r = loadConfigFile(fixture('quorum.conf'), { configId: 'test' });
    const { services, warnings } = resolveServices(r.config as Config);
    expect(warnings).toEqual([]);
    const s = services[0];
    expect(s).toMatchObject({ id: '10.22.0.1 80 TCP', quorum: 7, hysteresis: 2, alpha: true });
    expect(s?.realServers).toHaveLength(10);
    expect(s?.realServers.every((x) => x.weight === 1 && x.checks[0]?.timing.alpha === true)).toBe(true);
    expect(s?.realServers[0]?.checks[0]?.specs[0]).toMatchObject({ address: '10.22.1.1', port: 80, timeoutMs: 3000 });
  });

  it('lowers a quorum above the total weight and clamps hysteresis to quorum − 1, with warnings', () => {
    const c = cfg([
      {
        address: '10.0.0.1',
        port: 80,
        quorum: 10,
        hysteresis: 10,
        real_servers: [
          { address: '10.0.1.1', weight: 2 },
          { address: '10.0.1.2', weight: 3 },
        ],
      },
    ]);
    const { services, warnings } = resolveServices(c);
    expect(services[0]).toMatchObject({ quorum: 5, hysteresis: 4 });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/quorum 10 exceeds the total weight .* 5/);
    expect(warnings[1]).toMatch(/hysteresis 10 .* set to 4/);
  });

  it('resolves the sorry server and RS weights from the VS weight', () => {
    const c = cfg([
      {
        address: '10.0.0.1',
        port: 80,
        weight: 3,
        sorry_server: { address: '10.0.9.9', inhibit: true },
        real_servers: [{ address: '10.0.1.1' }, { address: '10.0.1.2', weight: 0, lvs_method: 'DR' }],
      },
    ]);
    const s = resolveServices(c).services[0];
    expect(s?.sorry).toEqual({ key: '10.0.9.9:80', address: '10.0.9.9', port: 80, inhibit: true, lvsMethod: 'NAT' });
    expect(s?.realServers.map((r) => [r.key, r.weight, r.lvsMethod])).toEqual([
      ['10.0.1.1:80', 3, 'NAT'],
      ['10.0.1.2:80', 0, 'DR'],
    ]);
  });
});

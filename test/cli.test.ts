// The vipkeeper command as an operator runs it: the compiled bin, real files, exit codes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURE_DIR } from './fixtures/keepalived/fixtures.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin/vipkeeper.js');
const fixtures = FIXTURE_DIR;
const tmp = mkdtempSync(join(tmpdir(), 'vipkeeper-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function vk(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: tmp, timeout: 30_000 });
  if (r.error) throw r.error;
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function file(name: string, content: string | Buffer): string {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
}

const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);

describe('vipkeeper check', () => {
  it('accepts the shipped example YAML', () => {
    const r = vk('check', '-f', join(root, 'config/vipkeeper.example.yaml'), '--no-host-checks');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/valid vipkeeper YAML \(0 errors, 0 warnings\)/);
  });

  it('accepts a keepalived.conf and prints its warnings located', () => {
    const r = vk('check', '-f', join(fixtures, 'fwmark.conf'), '--no-host-checks');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/fwmark\.conf:4:1: warning: virtual server fwmark 7: protocol is ignored/);
    expect(r.out).toMatch(/valid keepalived\.conf \(0 errors, 1 warning; \d+ keywords carried over, 0 not acted on, 0 unknown, 0 refused\)/);
  });

  it.each([
    ['a binary file', () => file('bin.conf', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 0xff, 0xfe])), /bin\.conf:1:1: error: this is a binary file, not a config/],
    ['an unbalanced brace', () => file('open.conf', 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 5\n'), /open\.conf:1:1: error: block 'vrrp_instance' opened here is never closed/],
    ['a VRID of 300', () => file('vrid.conf', 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 300\n}\n'), /vrid\.conf:3:21: error: 'virtual_router_id' 300 is out of range; use 1\.\.255/],
    ['a bad YAML key', () => file('bad.yaml', 'instances:\n  VI_1:\n    virtual_router_id: 300\n'), /bad\.yaml:3:5: error: .*virtual_router_id/],
  ])('rejects %s with one clear located message and exit 1', (_what, make, re) => {
    const r = vk('check', '-f', make());
    expect(r.code).toBe(1);
    expect(r.err).toMatch(re);
    expect(r.out).toMatch(/invalid/);
    noStack(r.err + r.out);
  });

  it('uses --config-id for @ID lines', () => {
    const f = join(fixtures, 'conditional.conf');
    expect(vk('check', '-f', f, '--config-id', 'high').code).toBe(0);
    // no script line for 'nobody': keepalived removes the vrrp_script and runs, and so do we
    const r = vk('check', f, '--config-id', 'nobody');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/vrrp_script chk_service has no script, so it is removed/);
  });

  it('prints JSON with --json', () => {
    const r = vk('check', '-f', join(fixtures, 'director.conf'), '--json', '--no-host-checks');
    expect(JSON.parse(r.out)).toMatchObject({
      valid: true,
      format: 'keepalived',
      // its notification_email, smtp_* and smtp_alert are acted on since the mailer (issue 18)
      keywords: { notActed: 0, refused: 0 },
      notActedOn: [],
    });
  });

  it('exits 2 on wrong usage', () => {
    expect(vk('check').code).toBe(2);
    expect(vk('frobnicate').code).toBe(2);
  });
});

describe('vipkeeper migrate', () => {
  it('writes YAML that check accepts, with a true summary; routes and rules are carried over as live keys', () => {
    const out = join(tmp, 'routes.yaml');
    const r = vk('migrate', join(fixtures, 'routes.conf'), '-o', out);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/→ .*routes\.yaml: 0 errors, \d+ warnings \(\d+ keywords carried over, 0 not acted on, 0 unknown, 0 refused\)/);
    expect(r.err).toMatch(/routes\.conf:37:9: warning: '10\.31\.30\.\/24' is not a valid prefix; keepalived rejects this rule, so it is left out/);
    const yaml = readFileSync(out, 'utf8');
    expect(yaml).toMatch(/^# vipkeeper configuration, migrated from .*routes\.conf/);
    expect(yaml).toMatch(/# keepalived keywords: \d+ keywords carried over, 0 not acted on, 0 unknown, 0 refused\./);
    // acted on now (issue 17): live keys, at the top level and inside the instance
    for (const k of ['static_ipaddress', 'static_routes', 'static_rules']) expect(yaml).toMatch(new RegExp(`^${k}:`, 'm'));
    expect(yaml).toMatch(/\n  VI_ROUTES:\n(?:    .*\n)*    virtual_routes:\n/);
    expect(yaml).toMatch(/\n    virtual_rules:\n/);
    const c = vk('check', '-f', out);
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/valid vipkeeper YAML/);
  });

  it('prints the normalized model with --json', () => {
    const r = vk('migrate', join(fixtures, 'quorum.conf'), '--json');
    expect(r.code).toBe(0);
    const model = JSON.parse(r.out);
    // omega is acted on (issue 18), so the model carries it
    expect(model.virtual_servers[0]).toMatchObject({ quorum: 7, hysteresis: 2, alpha: true, omega: true, lb_algo: 'wrr' });
    expect(model.virtual_servers[0].real_servers).toHaveLength(10);
  });

  it('writes nothing and exits 1 for an invalid config', () => {
    const out = join(tmp, 'never.yaml');
    const r = vk('migrate', file('broken.conf', 'vrrp_instance X {\n  virtual_router_id 0\n}\n'), '-o', out);
    expect(r.code).toBe(1);
    expect(() => readFileSync(out)).toThrow();
    noStack(r.err);
  });
});

describe('vipkeeper migrate: the file a person edits next', () => {
  it('writes priority and advert_int even at their defaults, and names its source by an absolute path', () => {
    const conf = file('plain.conf', 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    10.0.0.100/24\n  }\n}\n');
    // run from tmp with a relative argument: the header still says where the file is
    const r = vk('migrate', 'plain.conf');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^# vipkeeper configuration, migrated from ${conf.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(config-id`));
    expect(r.out).toMatch(/\n {4}priority: 100\n {4}advert_int: 1s\n/);
    expect(r.out.endsWith('\n')).toBe(true);
  });
});

describe('vipkeeper: usage errors are short and come first', () => {
  it('an unknown command is one line and the hint to --help, not the whole page (exit 2)', () => {
    const r = vk('frobnicate');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe("vipkeeper: unknown command 'frobnicate'\n(run 'vipkeeper --help' for the commands, 'vipkeeper COMMAND --help' for one)\n");
    const typo = vk('statsu');
    expect(typo.err).toMatch(/^vipkeeper: unknown command 'statsu'\n\(Did you mean status\?\)\n\(run 'vipkeeper --help'/);
    expect(typo.err.split('\n').length).toBeLessThanOrEqual(4);
  });

  it('drain and undrain refuse a malformed real server with usage (2) before asking the daemon', () => {
    // the socket does not exist: reaching the daemon would be exit 3
    const sock = join(tmp, 'nobody-listens.sock');
    for (const bad of ['foo', '10.0.0.1:http', '10.0.0.256:80', '[10.0.0.1]:80', '10.0.0.1:0', '10.0.0.1:70000', '']) {
      const r = vk('drain', bad, '--socket', sock);
      expect(r.code, bad).toBe(2);
      expect(r.err, bad).toMatch(/^vipkeeper drain: '.*'/);
    }
    expect(vk('undrain', 'foo', '--socket', sock).code).toBe(2);
    for (const good of ['10.0.0.11:80', '[fd00::11]:80', '10.0.0.11', 'fd00::11']) expect(vk('drain', good, '--socket', sock).code, good).toBe(3);
  });
});

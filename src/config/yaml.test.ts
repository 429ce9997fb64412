import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from './diagnostics.js';
import { writeYaml } from './yaml-write.js';
import { loadYamlText } from './yaml-load.js';

const examplePath = fileURLToPath(new URL('../../config/vipkeeper.example.yaml', import.meta.url));

function load(text: string) {
  return loadYamlText(text, 'x.yaml');
}

function messages(text: string): string[] {
  return load(text).diagnostics.map(formatDiagnostic);
}

describe('YAML config', () => {
  it('loads the shipped example without a problem', () => {
    const r = loadYamlText(readFileSync(examplePath, 'utf8'), examplePath);
    expect(r.diagnostics).toEqual([]);
    const c = r.config!;
    expect(c.instances.VI_WEB?.priority).toBe(110);
    expect(c.instances.VI_WEB?.virtual_ipaddress).toEqual([{ address: '192.0.2.10', prefix: 24, dev: 'eth0', label: 'eth0:vip' }]);
    expect(c.virtual_servers[0]?.lb_algo).toBe('wrr');
    expect(c.virtual_servers[0]?.lb_kind).toBe('DR');
    expect(c.virtual_servers[0]?.persistence_timeout).toBe(300_000);
    expect(c.virtual_servers[0]?.real_servers.map((r) => r.checks[0]?.type)).toEqual(['HTTP_GET', 'TCP_CHECK']);
    expect(c.vrrp_scripts.chk_ipvs?.script).toEqual({ command: '/usr/lib/vipkeeper/check-ipvs.sh' });
  });

  it('writes YAML that loads back to a deep-equal model', () => {
    const c = loadYamlText(readFileSync(examplePath, 'utf8'), examplePath).config!;
    const again = load(writeYaml(c, ['header']));
    expect(again.diagnostics).toEqual([]);
    expect(again.config).toEqual(c);
  });

  it('fills defaults and converts durations to milliseconds', () => {
    const c = load('instances:\n  VI_1:\n    interface: eth0\n    virtual_router_id: 7\n    virtual_ipaddress: [10.0.0.1]\n    version: 3\n    advert_int: 1.5\n').config!;
    expect(c.instances.VI_1).toMatchObject({ state: 'BACKUP', priority: 100, advert_int: 1500, preempt_delay: 0, nopreempt: false });
    expect(c.global.vrrp_garp_master_delay).toBe(5000);
    expect(c.ipvs.manage).toBe('owned');
  });

  it('reports a schema error at the offending line and column', () => {
    const text = 'instances:\n  VI_1:\n    interface: eth0\n    virtual_router_id: 300\n';
    expect(messages(text)).toEqual([
      expect.stringMatching(/^x\.yaml:4:5: error: 'instances\.VI_1\.virtual_router_id': .*255/),
    ]);
  });

  it('names an unknown key where it is written', () => {
    const text = 'instances:\n  VI_1:\n    interface: eth0\n    virtual_router_id: 3\n    virtual_ipaddress: [10.0.0.1]\n    delay_befor_retry: 3\n';
    expect(messages(text)).toEqual([expect.stringMatching(/^x\.yaml:6:5: error: .*unknown key 'delay_befor_retry'/)]);
  });

  it('reports a YAML syntax error with its position', () => {
    expect(messages('instances:\n  VI_1: [\n')).toEqual([expect.stringMatching(/^x\.yaml:\d+:\d+: error: invalid YAML/)]);
  });

  it('reports semantic errors located by path', () => {
    const text = [
      'instances:',
      '  A:',
      '    interface: eth0',
      '    virtual_router_id: 5',
      '    virtual_ipaddress: [10.0.0.1, "fd00::1"]',
      '    track_script: [nope]',
      '  B:',
      '    interface: eth0',
      '    virtual_router_id: 5',
      '    advert_int: 150ms',
      '    virtual_ipaddress: [10.0.0.2]',
      'virtual_servers:',
      '  - address: 10.0.0.1',
      '    port: 80',
    ].join('\n');
    const m = messages(text);
    expect(m).toContainEqual(expect.stringMatching(/^x\.yaml:5:5: error: instance 'A' mixes IPv4 and IPv6/));
    expect(m).toContainEqual(expect.stringMatching(/^x\.yaml:6:5: error: track_script 'nope' does not exist/));
    expect(m).toContainEqual(expect.stringMatching(/^x\.yaml:9:5: error: virtual_router_id 5 is already used by instance 'A'/));
    expect(m).toContainEqual(expect.stringMatching(/^x\.yaml:10:5: error: advert_int 0\.15s does not fit VRRPv2/));
    expect(m).toContainEqual(expect.stringMatching(/^x\.yaml:13:5: error: virtual server 10\.0\.0\.1 80 TCP has no real servers/));
  });

  it('refuses an empty file or mapping: an empty config is an error, not a valid one', () => {
    for (const text of ['', '# only a comment\n', '{}\n']) {
      expect(load(text).config).toBeUndefined();
      expect(messages(text)).toEqual([expect.stringMatching(/^x\.yaml:1:1: error: the config is empty/)]);
    }
  });
});

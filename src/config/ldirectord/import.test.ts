import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { detectFormat, loadConfigText } from '../load.js';
import { migrateLdirectordToYaml } from '../migrate.js';
import { importLdirectordText } from './import.js';

const ldFixture = (name: string) => {
  const path = fileURLToPath(new URL(`../../../test/fixtures/ldirectord/${name}`, import.meta.url));
  return { path, text: readFileSync(path, 'utf8') };
};
const where = (ds: { loc: { line: number }; message: string }[]) => ds.map((d) => `${d.loc.line}: ${d.message}`);

describe('ldirectord.cf import', () => {
  it('detects the format', () => {
    for (const f of ['http-dr.cf', 'many-services.cf', 'broken.cf']) expect(detectFormat(f, ldFixture(f).text)).toBe('ldirectord');
    expect(detectFormat('keepalived.conf', 'global_defs {\n}\n')).toBe('keepalived');
  });

  it('maps a DR web service: real= gate + weights, scheduler, persistent, netmask, checkinterval, failurecount, quiescent, fallback, negotiate http with request/receive', () => {
    const { path, text } = ldFixture('http-dr.cf');
    const r = importLdirectordText(text, path);
    expect(r.config, where(r.diagnostics).join('\n')).toBeDefined();
    const vs = r.config!.virtual_servers[0]!;
    expect(vs).toMatchObject({ address: '10.20.0.100', port: 80, protocol: 'TCP', lb_algo: 'wrr', lb_kind: 'DR', persistence_granularity: '255.255.255.0', retry: 2, inhibit_on_failure: true });
    expect(vs.persistence_timeout).toBe(600_000);
    expect(vs.delay_loop).toBe(5000);
    expect(vs.sorry_server).toMatchObject({ address: '127.0.0.1', port: 80, lvs_method: 'DR' });
    expect(vs.real_servers.map((x) => [x.address, x.weight])).toEqual([['10.20.0.11', 3], ['10.20.0.12', 1]]);
    expect(vs.real_servers[0]!.checks[0]).toMatchObject({ type: 'HTTP_GET', connect_port: 80, connect_timeout: 10_000, virtualhost: 'www.example.org', url: [{ path: '/index.html', regex: 'Test Page' }] });
    // a real= line's own "request", "receive" wins
    expect(vs.real_servers[1]!.checks[0]).toMatchObject({ url: [{ path: '/alive.html', regex: 'I am alive' }] });
    // every directive not acted on is reported at its line; nothing else is
    expect(where(r.diagnostics)).toEqual([
      expect.stringMatching(/^6: ldirectord 'autoreload' is not acted on/),
      expect.stringMatching(/^7: ldirectord 'logfile' is not acted on/),
      expect.stringMatching(/^9: ldirectord 'emailalert' is not acted on by vipkeeper: vipkeeper sends no email/),
    ]);
  });

  it('maps masq/ipip/fwmark, a real= range, connect/ping/on/off, dns and smtp; services without a checker are reported, secrets never shown', () => {
    const { path, text } = ldFixture('many-services.cf');
    const r = importLdirectordText(text, path);
    expect(r.config, where(r.diagnostics).join('\n')).toBeDefined();
    const [https, dns, smtp, mysql, ssh, ping, fwm, ldap] = r.config!.virtual_servers;
    expect(https).toMatchObject({ lb_kind: 'NAT', lb_algo: 'lc', inhibit_on_failure: false });
    expect(https!.real_servers[0]!.checks[0]).toMatchObject({ type: 'SSL_GET', url: [{ path: '/health', regex: 'ok' }] });
    expect(dns).toMatchObject({ protocol: 'UDP', lb_kind: 'TUN' });
    expect(dns!.real_servers.map((x) => x.address)).toEqual(['10.20.2.11', '10.20.2.12', '10.20.2.13']);
    expect(dns!.real_servers[0]!.checks[0]).toMatchObject({ type: 'DNS_CHECK', dns_type: 'A', name: 'www.example.org' });
    expect(smtp!.real_servers[0]!.checks[0]).toMatchObject({ type: 'SMTP_CHECK' });
    expect(mysql).toMatchObject({ retry: 1 });
    expect(mysql!.real_servers[0]!.checks[0]).toMatchObject({ type: 'TCP_CHECK' });
    expect(ssh!.real_servers[0]!.checks[0]).toMatchObject({ type: 'TCP_CHECK', connect_timeout: 2000 });
    expect(ping!.real_servers[0]!.checks[0]).toMatchObject({ type: 'PING_CHECK' });
    expect(fwm).toMatchObject({ fwmark: 7, lb_algo: 'sh' });
    expect(fwm!.real_servers.every((x) => x.checks.length === 0)).toBe(true); // checktype=on: always up
    expect(ldap!.real_servers[0]).toMatchObject({ weight: 0, checks: [] }); // checktype=off
    const text2 = where(r.diagnostics).join('\n');
    expect(text2).toMatch(/^33: ldirectord 'service' is only partly acted on: vipkeeper has no mysql checker/m);
    expect(text2).toMatch(/^35: ldirectord 'passwd' is not acted on.*its value is not shown/m);
    expect(text2).not.toMatch(/s3cr3t-pw/);
    expect(text2).toMatch(/^21: ldirectord 'receive' is only partly acted on/m);
    expect(text2).toMatch(/^60: ldirectord 'checktype' is only partly acted on: checktype=off/m);
    // and the migrated YAML loads back as the same model
    const yaml = migrateLdirectordToYaml(r.config!, path, { counts: { keywords: r.counts.directives, partial: r.counts.partial }, diagnostics: r.diagnostics });
    expect(yaml).not.toMatch(/s3cr3t-pw/);
    const back = loadConfigText(yaml, 'migrated.yaml');
    expect(back.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(back.config!.virtual_servers).toEqual(r.config!.virtual_servers);
  });

  it('refuses a broken file line by line', () => {
    const { path, text } = ldFixture('broken.cf');
    const r = importLdirectordText(text, path);
    expect(r.config).toBeUndefined();
    expect(where(r.diagnostics.filter((d) => d.severity === 'error'))).toEqual([
      expect.stringMatching(/^2: 'checkinterval' needs a number of seconds/),
      expect.stringMatching(/^4: real=web1\.example\.org:80: need a literal address/),
      expect.stringMatching(/^5: scheduler "fastest" is not an IPVS scheduler/),
      expect.stringMatching(/^6: unknown ldirectord directive 'frobnicate'/),
      expect.stringMatching(/^7: checktype must be/),
      expect.stringMatching(/^8: not a 'key = value' line/),
    ]);
  });
});

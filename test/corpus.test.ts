// Every keepalived.conf fixture (test/fixtures/keepalived/, written by us; each says in its header
// what shape it covers) is read the way keepalived reads it: vipkeeper's verdict is compared with
// keepalived's recorded one (keepalived-verdicts.json, kept current by keepalived-verdicts.test.ts),
// the key facts survive the import, and the migrated YAML loads back deep-equal.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../src/config/diagnostics.js';
import { hasErrors } from '../src/config/diagnostics.js';
import { loadConfigFile } from '../src/config/load.js';
import { migrateToYaml } from '../src/config/migrate.js';
import { loadYamlText } from '../src/config/yaml-load.js';
import { FIXTURE_DIR, FIXTURES, fixture, verdictOf } from './fixtures/keepalived/fixtures.js';

interface Facts {
  instances: string[];
  vips: number;
  virtualServers: number;
  realServers: number;
  checkers: string[];
  unsupported: string[];
  syncGroups?: string[];
  /**
   * keepalived's messages (recorded) and how vipkeeper answers each: a pattern its diagnostics
   * must match (on the same line, where keepalived names one), or the reason it says nothing.
   */
  keepalived?: [RegExp, RegExp | { difference: string }][];
  /** keepalived runs it; vipkeeper refuses it (the ledger's refused keywords), with this error. */
  refused?: RegExp;
}

const NONE = { instances: [], vips: 0, virtualServers: 0, realServers: 0, checkers: [], unsupported: [] };

/** Counted by hand from the fixtures. Keyed `file@config-id`. */
const FACTS: Record<string, Facts> = {
  'checkers.conf@high': {
    ...NONE,
    virtualServers: 1,
    realServers: 10,
    checkers: ['DNS_CHECK', 'FILE_CHECK', 'HTTP_GET', 'MISC_CHECK', 'PING_CHECK', 'SMTP_CHECK', 'SSL_GET', 'TCP_CHECK', 'UDP_CHECK'],
    unsupported: [],
  },
  'conditional.conf@high': { ...NONE, instances: ['VI_COND'], vips: 1, unsupported: ['net_namespace'] },
  'conditional.conf@low': { ...NONE, instances: ['VI_COND'], vips: 1, unsupported: ['net_namespace'] },
  'deprecated.conf@high': {
    instances: ['VI_OLD_A', 'VI_OLD_B'], vips: 2, virtualServers: 1, realServers: 2, checkers: ['HTTP_GET', 'SMTP_CHECK'], unsupported: ['VI_OLD_A', 'VI_OLD_B'],
    syncGroups: [],
    keepalived: [
      [/Unknown keyword 'VI_OLD_A'/, /unknown keyword 'VI_OLD_A'/],
      [/Unknown keyword 'VI_OLD_B'/, /unknown keyword 'VI_OLD_B'/],
      [/Specifying lvs_sync_daemon_interface against a vrrp is deprecated/, /lvs_sync_daemon_interface inside vrrp_instance is deprecated/],
      [/Please use global lvs_sync_daemon/, /lvs_sync_daemon_interface inside vrrp_instance is deprecated; written as global lvs_sync_daemon/],
      [/nb_get_retry is deprecated/, /'nb_get_retry' is deprecated/],
      [/Sync group G_OLD has no virtual router\(s\)\. removing/, /vrrp_sync_group G_OLD has no 'group \{ … \}' of members; keepalived ignores it, so it is dropped/],
    ],
  },
  'director.conf@high': {
    ...NONE, instances: ['VI_WEB'], vips: 3, virtualServers: 1, realServers: 2, checkers: ['HTTP_GET', 'SSL_GET'],
    unsupported: [],
  },
  'fwmark.conf@high': {
    ...NONE, virtualServers: 1, realServers: 2, checkers: ['TCP_CHECK'],
    keepalived: [[/Virtual server FWM 7: protocol specified for fwmark - protocol will be ignored/, /virtual server fwmark 7: protocol is ignored for an fwmark service/]],
  },
  'include/main.conf@high': { ...NONE, instances: ['VI_FRONT', 'VI_BACK'], vips: 2, virtualServers: 2, realServers: 2, checkers: ['DNS_CHECK', 'HTTP_GET'] },
  'ipv6.conf@high': { ...NONE, instances: ['VI_V6'], vips: 2, virtualServers: 2, realServers: 3, checkers: ['HTTP_GET', 'SMTP_CHECK', 'TCP_CHECK'] },
  'macros.conf@high': { ...NONE, instances: ['VI_MACRO'], vips: 1, virtualServers: 1, realServers: 6, checkers: ['TCP_CHECK'] },
  'minimal.conf@high': { ...NONE, instances: ['VI_1'], vips: 1 },
  'quorum.conf@high': { ...NONE, virtualServers: 1, realServers: 10, checkers: ['TCP_CHECK'], unsupported: [] },
  'routes.conf@high': {
    ...NONE, instances: ['VI_ROUTES'], vips: 2, unsupported: [],
    keepalived: [
      [/"or" for routes is deprecated/, /"or" in routes is deprecated; written as "nexthop"/],
      [/"gw" for routes is deprecated/, /"gw" in routes is deprecated; written as "via"/],
      [/cannot track route .* with no interface specified, not tracking/, { difference: 'vipkeeper does not watch virtual routes for removal, with or without an interface, so it has nothing to say here' }],
      [/Rule has no preference specified/, /rule has no preference/],
      [/Invalid rule to address 10\.31\.30\.\/24/, /'10\.31\.30\.\/24' is not a valid prefix; keepalived rejects this rule/],
      [/VRRP parsed invalid IP 10\.31\.30\.\/24/, /'10\.31\.30\.\/24' is not a valid prefix/],
    ],
  },
  'strict.conf@high': {
    ...NONE, instances: ['VI_STRICT', 'VI_ACCEPT', 'VI_AH'], vips: 3,
    // keepalived 2.2.7 clears VI_AH's MASTER state and runs it with AH; vipkeeper's engine has no AH.
    refused: /^48:9: error: auth_type AH is refused/,
    keepalived: [
      [/\(Line 11\) number '0' outside range/, /vrrp_garp_interval '0' is invalid/],
      [/vrrp_garp_interval '0' is invalid/, /vrrp_garp_interval '0' is invalid in keepalived/],
      [/\(Line 12\) number '0' outside range/, /vrrp_gna_interval '0' is invalid/],
      [/vrrp_gna_interval '0' is invalid/, /vrrp_gna_interval '0' is invalid in keepalived/],
      [/\(VI_ACCEPT\) warning - accept mode for VRRP version 2 does not comply with RFC3768/, /\(VI_ACCEPT\) accept mode does not comply with VRRPv2/],
      [/\(VI_AH\) Initial state master is incompatible with AH authentication/, /\(VI_AH\) initial state MASTER is incompatible with AH authentication/],
      [/\(VI_STRICT\) State MASTER must match being address owner/, /\(VI_STRICT\) in strict mode state MASTER needs priority 255/],
      [/\(VI_STRICT\) Strict mode does not support authentication/, /\(VI_STRICT\) strict mode does not support authentication/],
    ],
  },
  'sync-group.conf@high': { ...NONE, instances: ['VI_EXT', 'VI_INT', 'VI_DB', 'VI_CACHE'], vips: 4, syncGroups: ['G_FRONT', 'G_BACK'], unsupported: [] },
  'trackers.conf@high': { ...NONE, instances: ['VI_TRACKED', 'VI_STRICT_TRACK'], vips: 2, unsupported: [] },
  'unicast.conf@high': { ...NONE, instances: ['VI_UNI2', 'VI_UNI3'], vips: 2 },
  'vs-group.conf@high': { ...NONE, virtualServers: 1, realServers: 2, checkers: ['HTTP_GET'] },
};

/** Fixtures keepalived would run (rc 0, or 5: errors it works around). */
const RUNNABLE = FIXTURES.filter((f) => FACTS[`${f.file}@${f.configId}`] !== undefined);

/** `(file: Line N)` / `(Line N)` in a keepalived message. */
const kaLine = (m: string): number | undefined => {
  const l = /\((?:[^()]*: )?Line (\d+)\)/.exec(m)?.[1];
  return l === undefined ? undefined : Number(l);
};

describe('keepalived.conf fixtures', () => {
  it('every fixture in the directory is read by this test, and every runnable one has its facts', () => {
    const top = readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.conf') || f.endsWith('.j2'));
    expect(top.every((f) => FIXTURES.some((x) => x.file === f))).toBe(true);
    expect(FIXTURES.some((x) => x.file === 'include/main.conf')).toBe(true);
    expect(RUNNABLE.length).toBe(Object.keys(FACTS).length);
    // What is not runnable: the config-id without a script line, and the template.
    expect(FIXTURES.filter((f) => !RUNNABLE.includes(f)).map((f) => `${f.file}@${f.configId}`)).toEqual(['conditional.conf@other', 'not-a-config.j2@high']);
  });

  describe.each(RUNNABLE.map((f) => [f.file, f.configId] as const))('%s (config-id %s)', (file, configId) => {
    const facts = FACTS[`${file}@${configId}`]!;
    const path = fixture(file);
    const loaded = loadConfigFile(path, { configId });
    const verdict = verdictOf(file, configId);
    const diags = (ds: readonly Diagnostic[]) => ds.map((d) => `${d.loc.line}: ${d.message}`).join('\n');

    it('imports with no error, as keepalived would run it', () => {
      expect([0, 5]).toContain(verdict.rc);
      expect(loaded.format).toBe('keepalived');
      if (facts.refused) {
        expect(loaded.config).toBeUndefined();
        expect(loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.loc.line}:${d.loc.col}: error: ${d.message}`)).toEqual([expect.stringMatching(facts.refused)]);
        return;
      }
      expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(loaded.config).toBeDefined();
    });

    it("agrees with keepalived's verdict", () => {
      if (facts.refused) return; // the refusal is the disagreement, asserted above
      // vipkeeper's own honesty (not carried over, or only partly acted on) is not a disagreement.
      const notCarried = new Set([
        ...loaded.unsupported.map((u) => `${u.loc.line}`),
        ...loaded.diagnostics.filter((d) => /is only partly acted on/.test(d.message)).map((d) => `${d.loc.line}`),
      ]);
      const warnings = loaded.diagnostics.filter((d) => d.severity === 'warning');
      if (verdict.rc === 0) {
        // keepalived says nothing: vipkeeper warns only about what it does not carry over.
        expect(verdict.messages).toEqual([]);
        expect(warnings.filter((w) => !notCarried.has(`${w.loc.line}`)), diags(warnings)).toEqual([]);
        return;
      }
      // Every message keepalived gives is answered (or its difference stated) ...
      for (const m of verdict.messages) {
        const rule = facts.keepalived?.find(([ka]) => ka.test(m));
        expect(rule, `no rule in this test for keepalived's message: ${m}`).toBeDefined();
        const [, answer] = rule!;
        if (answer instanceof RegExp) {
          const line = kaLine(m);
          const hits = warnings.filter((w) => answer.test(w.message) && (line === undefined || w.loc.line === line));
          expect(hits.length, `vipkeeper's answer to "${m}" (${answer}) on line ${line ?? 'any'}:\n${diags(warnings)}`).toBeGreaterThan(0);
        } else {
          expect(answer.difference).not.toBe('');
        }
      }
      // ... and every rule here still matches a message keepalived gives.
      for (const [ka] of facts.keepalived ?? []) expect(verdict.messages.some((m) => ka.test(m)), `${ka} is no longer among keepalived's messages`).toBe(true);
    });

    it('keeps the key facts', () => {
      if (facts.refused) return;
      const c = loaded.config!;
      expect(Object.keys(c.instances)).toEqual(facts.instances);
      expect(Object.values(c.instances).reduce((n, i) => n + i.virtual_ipaddress.length, 0)).toBe(facts.vips);
      expect(c.virtual_servers.length).toBe(facts.virtualServers);
      expect(c.virtual_servers.reduce((n, v) => n + v.real_servers.length, 0)).toBe(facts.realServers);
      const kinds = new Set(c.virtual_servers.flatMap((v) => v.real_servers.flatMap((r) => r.checks.map((k) => k.type))));
      expect([...kinds].sort()).toEqual(facts.checkers);
      expect(loaded.unsupported.map((u) => u.keyword)).toEqual(facts.unsupported);
      if (facts.syncGroups) expect(Object.keys(c.sync_groups)).toEqual(facts.syncGroups);
    });

    it('migrates to YAML that checks clean and loads deep-equal', () => {
      if (facts.refused) return;
      const yaml = migrateToYaml(loaded.config!, path, configId, loaded);
      for (const u of loaded.unsupported) expect(yaml).toContain(`:${u.loc.line}: ${u.keyword} (in ${u.block})`);
      const back = loadYamlText(yaml, `${file}.yaml`);
      expect(hasErrors(back.diagnostics)).toBe(false);
      expect(back.config).toEqual(loaded.config);
    });
  });
});

describe('the shapes the fixtures cover', () => {
  const load = (file: string, configId = 'high') => loadConfigFile(fixture(file), { configId });

  it('conditional.conf: @high, @low and @^high lines follow the config-id', () => {
    const high = load('conditional.conf', 'high').config!;
    const low = load('conditional.conf', 'low').config!;
    expect(high.instances.VI_COND).toMatchObject({ priority: 170, nopreempt: false });
    expect(low.instances.VI_COND).toMatchObject({ priority: 85, nopreempt: true });
    expect(high.vrrp_scripts.chk_service?.script.command).toBe('/bin/true high');
    expect(low.vrrp_scripts.chk_service?.script.command).toBe('/bin/true low');
  });

  it('conditional.conf with another config-id: keepalived drops the script and its tracker, and so does vipkeeper, saying so', () => {
    const v = verdictOf('conditional.conf', 'other');
    expect(v.messages).toEqual([expect.stringMatching(/Line 17\) No script set for vrrp_script chk_service - removing/), expect.stringMatching(/Line 29\) \(VI_COND\) track script chk_service not found/)]);
    const other = load('conditional.conf', 'other');
    expect(other.config).toBeDefined();
    expect(other.config!.vrrp_scripts.chk_service).toBeUndefined();
    expect(other.config!.instances.VI_COND?.track_script ?? []).toEqual([]);
    expect(other.diagnostics).toContainEqual(expect.objectContaining({ severity: 'warning', message: expect.stringMatching(/vrrp_script chk_service has no script, so it is removed, as keepalived does/) }));
    expect(other.diagnostics).toContainEqual(expect.objectContaining({ severity: 'warning', loc: expect.objectContaining({ line: 29 }), message: expect.stringMatching(/keepalived ignores it/) }));
  });

  it('include/main.conf: relative, wildcard and brace includes, in keepalived order; no non-.conf file', () => {
    const r = load('include/main.conf');
    expect(r.files.map((f) => f.slice(FIXTURE_DIR.length + 1))).toEqual([
      'include/main.conf',
      'include/vrrp/front.conf',
      'include/vrrp/back.conf',
      'include/conf.d/10-web.conf',
      'include/conf.d/20-dns.conf',
    ]);
    expect(r.config!.global.router_id).toBe('SPLIT_DIRECTOR');
    expect(r.config!.virtual_servers.map((v) => `${v.protocol} ${v.port}`)).toEqual(['TCP 80', 'UDP 53']);
  });

  it('macros.conf: $NAME, ${NAME}, a multi-line definition and ~SEQ expand as keepalived does', () => {
    const c = load('macros.conf').config!;
    expect(c.instances.VI_MACRO?.virtual_ipaddress).toEqual([{ address: '10.29.0.100', prefix: 24 }]);
    const vs = c.virtual_servers[0]!;
    expect(vs).toMatchObject({ address: '10.29.0.100', port: 8080 });
    expect(vs.real_servers.map((r) => [r.address, r.weight])).toEqual([
      ['10.29.1.1', 1], ['10.29.1.2', 2], ['10.29.1.3', 3], ['10.29.1.4', 4], ['10.29.1.5', 5], ['10.29.2.1', undefined],
    ]);
    expect(vs.real_servers[5]!.checks).toEqual([{ type: 'TCP_CHECK', connect_port: 8080, connect_timeout: 2000 }]);
  });

  it('trackers.conf: weights, reverse and weight-0 trackers', () => {
    const c = load('trackers.conf').config!;
    expect(c.instances.VI_TRACKED).toMatchObject({
      track_interface: [{ interface: 'eth1', weight: -30 }, { interface: 'eth2', weight: 5, reverse: true }],
      track_script: [{ name: 'chk_web' }, { name: 'chk_db', weight: 10 }],
      track_file: [{ name: 'maintenance', weight: -5 }],
    });
    expect(c.instances.VI_TRACKED?.track_process).toEqual([{ name: 'haproxy' }]);
    expect(c.track_processes.haproxy).toMatchObject({ process: 'haproxy', quorum: 1, weight: -40, fork_delay: 2000, terminate_delay: 2000 });
    expect(c.instances.VI_STRICT_TRACK).toMatchObject({ track_script: [{ name: 'chk_db', weight: 0 }], track_interface: [{ interface: 'eth0' }] });
    expect(c.vrrp_scripts.chk_web).toMatchObject({ interval: 2000, timeout: 3000, weight: -20, rise: 2, fall: 3 });
  });

  it('unicast.conf: peers, source address, TTL and the source check', () => {
    const c = load('unicast.conf').config!;
    expect(c.instances.VI_UNI2).toMatchObject({ unicast_src_ip: '10.27.0.11', unicast_peer: [{ address: '10.27.0.12' }, { address: '10.27.0.13' }] });
    expect(c.instances.VI_UNI3).toMatchObject({ version: 3, advert_int: 100, unicast_ttl: 64, check_unicast_src: true, unicast_peer: [{ address: '10.27.1.12' }] });
  });

  it('ipv6.conf: a VRRPv3 instance with a link-local first VIP and IPv6 services', () => {
    const c = load('ipv6.conf').config!;
    expect(c.instances.VI_V6?.virtual_ipaddress.map((v) => v.address)).toEqual(['fe80::66', 'fd00:66::100']);
    expect(c.virtual_servers.map((v) => ('group' in v ? `group ${v.group}` : `${v.address} ${v.port}`))).toEqual(['group V6_GROUP', 'fd00:66::25 25']);
  });

  it('not-a-config.j2: read as keepalived.conf, located errors and no exception, like keepalived (rc 2)', () => {
    expect(verdictOf('not-a-config.j2', 'high').rc).toBe(2);
    const r = loadConfigFile(fixture('not-a-config.j2'), { configId: 'high', format: 'keepalived' });
    expect(r.config).toBeUndefined();
    expect(r.diagnostics.filter((d) => d.severity === 'error').length).toBeGreaterThan(0);
    for (const d of r.diagnostics) expect(d.loc.line).toBeGreaterThan(0);
  });
});

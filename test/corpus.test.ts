// Every real keepalived.conf in shared/corpus migrates, keeps its key facts, and
// round-trips through our YAML to a deep-equal model.
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hasErrors } from '../src/config/diagnostics.js';
import { loadConfigFile } from '../src/config/load.js';
import { migrateToYaml } from '../src/config/migrate.js';
import { loadYamlText } from '../src/config/yaml-load.js';

const dir = fileURLToPath(new URL('../../shared/corpus/keepalived-samples/', import.meta.url));
const TEMPLATE = 'tools__json_tracking__template_vrrp_instance'; // Jinja2, per MANIFEST.tsv

interface Facts {
  instances: string[];
  vips: number;
  virtualServers: number;
  realServers: number;
  checkers: string[];
  unsupported: string[];
  syncGroups?: string[];
  warnings?: RegExp[];
  /** keepalived runs it; vipkeeper refuses it (the ledger's refused keywords), with this error. */
  refused?: RegExp;
}

// global_defs' email keywords, in most samples: not acted on (vipkeeper sends no email)
const MAIL = ['notification_email', 'notification_email_from', 'smtp_server', 'smtp_connect_timeout'];

// Counted by hand from the files (and cross-checked with grep).
const FACTS: Record<string, Facts> = {
  'docker__keepalived.conf': { instances: ['VI_1'], vips: 1, virtualServers: 0, realServers: 0, checkers: [], unsupported: [] },
  'keepalived.conf.HTTP_GET.port': { instances: [], vips: 0, virtualServers: 1, realServers: 1, checkers: ['SSL_GET'], unsupported: MAIL },
  'keepalived.conf.IPv6': { instances: [], vips: 0, virtualServers: 1, realServers: 1, checkers: ['SMTP_CHECK'], unsupported: [] },
  'keepalived.conf.PING_CHECK': { instances: [], vips: 0, virtualServers: 1, realServers: 1, checkers: ['PING_CHECK'], unsupported: MAIL },
  'keepalived.conf.SMTP_CHECK': {
    instances: [], vips: 0, virtualServers: 1, realServers: 3, checkers: ['SMTP_CHECK'], unsupported: MAIL,
    warnings: [/SMTP_CHECK 'host' blocks are deprecated/],
  },
  'keepalived.conf.SSL_GET': {
    instances: ['VI_1'], vips: 3, virtualServers: 2, realServers: 2, checkers: ['HTTP_GET', 'SSL_GET'], unsupported: MAIL,
    // keepalived 2.2.7 -t is not clean on it either (MASTER with AH)
    refused: /20:\d+: error: auth_type AH is refused/,
  },
  'keepalived.conf.UDP_CHECK': { instances: [], vips: 0, virtualServers: 1, realServers: 1, checkers: ['UDP_CHECK'], unsupported: MAIL },
  'keepalived.conf.fwmark': {
    instances: [], vips: 0, virtualServers: 1, realServers: 2, checkers: ['TCP_CHECK'], unsupported: [],
    warnings: [/protocol is ignored for an fwmark service/],
  },
  'keepalived.conf.inhibit': { instances: [], vips: 0, virtualServers: 1, realServers: 1, checkers: ['HTTP_GET'], unsupported: MAIL },
  'keepalived.conf.misc_check': { instances: [], vips: 0, virtualServers: 1, realServers: 1, checkers: ['MISC_CHECK'], unsupported: MAIL },
  'keepalived.conf.misc_check_arg': { instances: [], vips: 0, virtualServers: 1, realServers: 1, checkers: ['MISC_CHECK'], unsupported: MAIL },
  'keepalived.conf.quorum': {
    instances: [], vips: 0, virtualServers: 1, realServers: 10, checkers: ['TCP_CHECK'], unsupported: ['omega', 'quorum_up', 'quorum_down'],
    warnings: [/'quorum_up' is not acted on by vipkeeper: the script is not run when quorum is gained/],
  },
  'keepalived.conf.sample': { instances: ['VI_1'], vips: 3, virtualServers: 1, realServers: 1, checkers: ['HTTP_GET'], unsupported: MAIL },
  'keepalived.conf.status_code': { instances: [], vips: 0, virtualServers: 1, realServers: 1, checkers: ['SSL_GET'], unsupported: MAIL },
  'keepalived.conf.track_interface': { instances: ['VI_1'], vips: 3, virtualServers: 0, realServers: 0, checkers: [], unsupported: ['static_routes', 'virtual_routes'] },
  'keepalived.conf.virtual_server_group': { instances: [], vips: 0, virtualServers: 1, realServers: 2, checkers: ['HTTP_GET'], unsupported: MAIL },
  'keepalived.conf.virtualhost': { instances: [], vips: 0, virtualServers: 1, realServers: 1, checkers: ['SSL_GET'], unsupported: MAIL },
  'keepalived.conf.vrrp': {
    instances: ['VI_1', 'VI_2', 'VI_3', 'VI_4'], vips: 13, virtualServers: 0, realServers: 0, checkers: [], unsupported: [...MAIL, 'smtp_alert', 'smtp_alert', 'smtp_alert', 'smtp_alert'],
  },
  'keepalived.conf.vrrp.localcheck': {
    instances: ['VI_1', 'VI_2', 'VI_3', 'VI_4', 'VI_5', 'VI_6', 'VI_7', 'VI_8', 'VI_9'], vips: 9, virtualServers: 0, realServers: 0, checkers: [], unsupported: [],
  },
  'keepalived.conf.vrrp.lvs_syncd': {
    instances: ['VI_1', 'VI_2', 'VI_3'], vips: 9, virtualServers: 1, realServers: 1, checkers: ['TCP_CHECK'], unsupported: ['VI_2', 'VI_3'],
    syncGroups: [],
    warnings: [/unknown keyword 'VI_2'/, /lvs_sync_daemon_interface inside vrrp_instance is deprecated/, /has no 'group \{ … \}' of members/],
  },
  'keepalived.conf.vrrp.routes': {
    instances: ['VI_1'], vips: 3, virtualServers: 0, realServers: 0, checkers: [], unsupported: ['static_routes', 'virtual_routes'],
    warnings: [/"gw" in routes is deprecated/, /"or" in routes is deprecated/],
  },
  'keepalived.conf.vrrp.rules': {
    instances: ['VI_1'], vips: 3, virtualServers: 0, realServers: 0, checkers: [], unsupported: ['static_rules', 'virtual_rules'],
    warnings: [/'192\.168\.200\.\/24' is not a valid prefix/, /rule has no preference/],
  },
  'keepalived.conf.vrrp.scripts': { instances: ['VI_1', 'VI_2', 'VI_3'], vips: 5, virtualServers: 0, realServers: 0, checkers: [], unsupported: ['smtp_alert'], syncGroups: ['G1'] },
  'keepalived.conf.vrrp.static_ipaddress': { instances: ['VI_1'], vips: 1, virtualServers: 0, realServers: 0, checkers: [], unsupported: ['static_ipaddress', 'virtual_routes'] },
  'keepalived.conf.vrrp.sync': {
    instances: ['VI_1', 'VI_2', 'VI_3', 'VI_4', 'VI_5', 'VI_6', 'VI_7', 'VI_8', 'VI_9'], vips: 9, virtualServers: 0, realServers: 0, checkers: [], unsupported: [],
    syncGroups: ['G1', 'G2'],
  },
  'keepalived__etc__keepalived__keepalived.conf': {
    instances: ['VI_1'], vips: 3, virtualServers: 3, realServers: 5, checkers: ['HTTP_GET', 'SSL_GET'], unsupported: MAIL,
    warnings: [/vrrp_garp_interval '0' is invalid/, /strict mode does not support authentication/, /state MASTER needs priority 255/, /'vrrp_strict' is only partly acted on/],
  },
  'keepalived__etc__keepalived__keepalived.conf.sample.in': {
    instances: ['VI_1'], vips: 3, virtualServers: 3, realServers: 5, checkers: ['HTTP_GET', 'SSL_GET'], unsupported: MAIL,
    warnings: [/vrrp_gna_interval '0' is invalid/, /accept mode does not comply with VRRPv2/],
  },
};

const CONDITIONAL: Facts = { instances: ['VI_0'], vips: 1, virtualServers: 0, realServers: 0, checkers: [], unsupported: ['net_namespace', 'use_vmac'] };

function cases(): [string, string, Facts][] {
  if (!existsSync(dir)) throw new Error(`the corpus is missing: ${dir} (clone the repo with ../shared beside it)`);
  const files = readdirSync(dir).filter((f) => f !== TEMPLATE && f !== 'README.md' && f !== 'MANIFEST.tsv');
  const out: [string, string, Facts][] = [];
  for (const f of files.sort()) {
    if (f === 'keepalived.conf.conditional_conf') {
      out.push([f, 'high', CONDITIONAL], [f, 'low', CONDITIONAL]);
      continue;
    }
    const facts = FACTS[f];
    if (!facts) throw new Error(`corpus file ${f} has no expected facts in this test; add them`);
    out.push([f, 'lvs1', facts]);
  }
  return out;
}

describe('keepalived corpus', () => {
  it('covers every sample file', () => {
    expect(cases().length).toBe(Object.keys(FACTS).length + 2);
  });

  describe.each(cases())('%s (config-id %s)', (file, configId, facts) => {
    const path = dir + file;
    const loaded = loadConfigFile(path, { configId });

    it('imports with no error (or is refused with the ledger\'s reason)', () => {
      expect(loaded.format).toBe('keepalived');
      if (facts.refused) {
        expect(loaded.config).toBeUndefined();
        expect(loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.loc.line}:${d.loc.col}: error: ${d.message}`)).toEqual([expect.stringMatching(facts.refused)]);
        return;
      }
      expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(loaded.config).toBeDefined();
    });

    // a refused config has no model: its one test is the refusal above
    if (facts.refused) return;

    it('keeps the key facts', () => {
      const c = loaded.config!;
      expect(Object.keys(c.instances)).toEqual(facts.instances);
      expect(Object.values(c.instances).reduce((n, i) => n + i.virtual_ipaddress.length, 0)).toBe(facts.vips);
      expect(c.virtual_servers.length).toBe(facts.virtualServers);
      expect(c.virtual_servers.reduce((n, v) => n + v.real_servers.length, 0)).toBe(facts.realServers);
      const kinds = new Set(c.virtual_servers.flatMap((v) => v.real_servers.flatMap((r) => r.checks.map((k) => k.type))));
      expect([...kinds].sort()).toEqual(facts.checkers);
      expect(loaded.unsupported.map((u) => u.keyword)).toEqual(facts.unsupported);
      if (facts.syncGroups) expect(Object.keys(c.sync_groups)).toEqual(facts.syncGroups);
      for (const w of facts.warnings ?? []) {
        expect(loaded.diagnostics.map((d) => d.message)).toContainEqual(expect.stringMatching(w));
      }
    });

    it('migrates to YAML that checks clean and loads deep-equal', () => {
      const yaml = migrateToYaml(loaded.config!, path, configId, loaded);
      for (const u of loaded.unsupported) expect(yaml).toContain(`:${u.loc.line}: ${u.keyword} (in ${u.block})`);
      const back = loadYamlText(yaml, `${file}.yaml`);
      expect(hasErrors(back.diagnostics)).toBe(false);
      expect(back.config).toEqual(loaded.config);
    });
  });

  it('selects @high and @low lines by config-id', () => {
    const high = loadConfigFile(dir + 'keepalived.conf.conditional_conf', { configId: 'high' }).config!;
    const low = loadConfigFile(dir + 'keepalived.conf.conditional_conf', { configId: 'low' }).config!;
    expect(high.instances.VI_0?.priority).toBe(170);
    expect(low.instances.VI_0?.priority).toBe(85);
    expect(high.vrrp_scripts.check_VI_0?.script.command).toBe('/etc/keepalived/scripts/check_high_VI_0.sh');
    expect(low.vrrp_scripts.check_VI_0?.script.command).toBe('/etc/keepalived/scripts/check_low_VI_0.sh');
    // Without a matching id the script line is dropped; keepalived then removes the vrrp_script
    // ("No script set") and ignores the track_script naming it, and runs: so does vipkeeper.
    const none = loadConfigFile(dir + 'keepalived.conf.conditional_conf', { configId: 'other' });
    expect(none.config?.vrrp_scripts).toEqual({});
    expect(none.config?.instances.VI_0?.track_script).toEqual([]);
    const m = none.diagnostics.map((d) => d.message);
    expect(m).toContainEqual(expect.stringMatching(/vrrp_script check_VI_0 has no script, so it is removed, as keepalived does/));
    expect(m).toContainEqual(expect.stringMatching(/track script 'check_VI_0' is not defined above this line; keepalived ignores it/));
  });

  it('reports the Jinja template with located errors and no exception', () => {
    const r = loadConfigFile(dir + TEMPLATE, { configId: 'x' });
    expect(r.config).toBeUndefined();
    expect(r.diagnostics.length).toBeGreaterThan(0);
    for (const d of r.diagnostics) expect(d.loc.line).toBeGreaterThan(0);
  });
});

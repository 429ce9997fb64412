/**
 * keepalived ↔ vipkeeper IPVS parity on real IPVS (QEMU guest, booted once for this file).
 *
 * For every keepalived.conf fixture (test/fixtures/keepalived/) that has virtual servers in its
 * own text (include/main.conf keeps them in other files and macros.conf builds them from macros
 * that the reduction below would cut; both are read whole by test/corpus.test.ts), for
 * config/vipkeeper.example.yaml (written as keepalived.conf by renderKeepalivedConf) and for
 * test/fixtures/ipvs-parity-extra.conf (the IPVS features the fixtures do not use):
 * 1. the conf is reduced to its virtual_server(_group) blocks with every checker removed
 *    (test/fixtures/ipvs-kconf.ts): a real server without checkers is always up in keepalived, so
 *    keepalived programs "every real server up at its weight", which is desired.ts's allUp();
 * 2. in the guest, real keepalived 2.2.7 (`keepalived -n -l -C -f CONF -i high`) programs IPVS; once
 *    it logged "Startup complete" and `ipvsadm -Sn` is stable for 3 polls (bounded), the table is
 *    dumped (`-Sn`, and `-Ln --thresholds` for -x/-y, which -Sn leaves out); keepalived is stopped
 *    (SIGTERM) and must leave the table empty;
 * 3. vipkeeper's Reconciler, given the config loaded by loadConfigFile/loadConfigText from the same
 *    reduced conf and allUp(), programs the same kernel; dumped the same way; stopped, it must
 *    leave the table empty too;
 * 4. both dumps must be identical once sorted.
 * On the host, the reduced conf, the original fixture (every one loads whole) and the migrated YAML
 * must all give the same desired table, so the reduction changes nothing IPVS-wise.
 *
 * keepalived quirks met on the way (each pinned by a test below, not hidden):
 * - a DR/TUN real server whose port differs from the service's is "reset" to the service port
 *   (keepalived logs "ports don't match - resetting"); ipvsadm does the same for address services.
 *   On an fwmark service (port 0) keepalived programs DR/TUN destinations with port 0, where
 *   ipvsadm would keep the given port; desired.ts follows keepalived (the kernel never uses the
 *   port of a DR/TUN destination, but it is part of the destination's identity): parity holds.
 * - a port-0 service without persistence_timeout is made persistent for 360 s; the importer writes
 *   that explicitly: parity holds.
 * - `quorum` above the total weight is lowered ("reducing quorum to 1"); with every real server up
 *   this changes nothing in the table.
 * - a virtual_server_group mixing IPv4 and IPv6 makes keepalived drop the WHOLE virtual server
 *   ("virtual server group with IPv4 & IPv6 doesn't match virtual server ... - ignoring"), while
 *   vipkeeper programs every member and leaves out only the destinations of the other family (with a
 *   warning). That difference is asserted exactly in its own test.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { loadConfigFile, loadConfigText } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { writeYaml } from '../src/config/yaml-write.js';
import { allUp, desiredTable } from '../src/ipvs/desired.js';
import { mergeCounters, parseSave, parseThresholds, renderSave } from '../src/ipvs/ipvsadm.js';
import { tablesEqual } from '../src/ipvs/model.js';
import { renderKeepalivedConf, stripForParity } from './fixtures/ipvs-kconf.js';
import { FIXTURES, fixture } from './fixtures/keepalived/fixtures.js';
import { bootOnce, REPO_ROOT, runGuest, taskResult } from './helpers/ipvs-vm.js';

const CONFIG_ID = 'high';
/** Fixtures with virtual servers that are not compared here, and why (see the header). */
const NOT_REDUCIBLE = ['include/main.conf', 'macros.conf'];

interface Item {
  name: string;
  conf: string; // reduced keepalived.conf
  config: Config;
  original?: string; // path of the unreduced file, when it is a fixture
}

interface ParityResult {
  name: string;
  keepalived: { save: string; thresholds: string; afterStop: string; exit: number | null; ready: { value: unknown; ms: number; error?: string }; log: string };
  vipkeeper: { save: string; thresholds: string; afterStop: string; report: { ok: boolean; error?: string; script?: string }; warnings: string[]; log: string[] };
}

function load(text: string, file: string): Config {
  const r = loadConfigText(text, file, { configId: CONFIG_ID, format: 'keepalived' });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (!r.config) throw new Error(`${file}: the config loader refused the reduced conf:\n${errors.map((d) => `${d.loc.line}: ${d.message}`).join('\n')}`);
  return r.config;
}

function items(): Item[] {
  const out: Item[] = [];
  for (const { file: f, configId } of FIXTURES) {
    if (configId !== CONFIG_ID || NOT_REDUCIBLE.includes(f) || f.endsWith('.j2')) continue;
    const conf = stripForParity(readFileSync(fixture(f), 'utf8'));
    if (!/^\s*virtual_server\s/m.test(conf)) continue;
    out.push({ name: f, conf, config: load(conf, `${f} (reduced)`), original: fixture(f) });
  }
  const example = loadConfigFile(path.join(REPO_ROOT, 'config', 'vipkeeper.example.yaml'));
  if (!example.config) throw new Error(`config/vipkeeper.example.yaml does not load: ${example.diagnostics.map((d) => d.message).join('; ')}`);
  const exampleConf = renderKeepalivedConf(example.config);
  out.push({ name: 'vipkeeper.example.yaml', conf: exampleConf, config: example.config });
  const extra = readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'ipvs-parity-extra.conf'), 'utf8');
  out.push({ name: 'ipvs-parity-extra.conf', conf: extra, config: load(extra, 'ipvs-parity-extra.conf') });
  return out;
}

const QUIRK_MIXED_GROUP = `virtual_server_group MIXED {
  10.3.0.1 80
  2001:db8:3::1 80
}
virtual_server group MIXED {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.3.1.1 80 { weight 1 }
}
virtual_server 10.3.0.9 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.3.1.9 80 { weight 1 }
}
`;

const ALL = items();
const quirk: Item = { name: 'quirk: mixed-family group', conf: QUIRK_MIXED_GROUP, config: load(QUIRK_MIXED_GROUP, 'mixed-group.conf') };

const sorted = (s: string) => s.split('\n').filter(Boolean).sort();

const vm = bootOnce(async () => {
  const all = [...ALL, quirk];
  const files = Object.fromEntries(all.map((it, i) => [`confs/${i}.conf`, it.conf]));
  const run = await runGuest(
    [{ id: 'parity', kind: 'parity', items: all.map((it, i) => ({ name: it.name, conf: `confs/${i}.conf`, configId: CONFIG_ID, config: it.config })) }],
    { files, timeoutMs: 300_000 },
  );
  return { run, results: new Map(taskResult<ParityResult[]>(run, 'parity').map((r) => [r.name, r])) };
});
beforeAll(vm.boot, 20 * 60_000);
const result = (name: string): ParityResult => {
  const r = vm.get().results.get(name);
  if (!r) throw new Error(`The guest reported no parity result for ${name}`);
  return r;
};

describe('keepalived ↔ vipkeeper IPVS parity', () => {
  it('covers every fixture with virtual servers in its text, the example YAML and the extra fixture', () => {
    expect(ALL.map((i) => i.name)).toEqual([
      'checkers.conf',
      'deprecated.conf',
      'director.conf',
      'fwmark.conf',
      'ipv6.conf',
      'quorum.conf',
      'vs-group.conf',
      'vipkeeper.example.yaml',
      'ipvs-parity-extra.conf',
    ]);
    // the two left out do have virtual servers (read whole by test/corpus.test.ts)
    for (const f of NOT_REDUCIBLE) expect(loadConfigFile(fixture(f), { configId: CONFIG_ID }).config?.virtual_servers.length).toBeGreaterThan(0);
    const { run } = vm.get();
    console.info(`ipvs-parity guest: ${ALL.length + 1} configs, boot ${(run.timing.bootMs / 1000).toFixed(1)} s, agent ${(run.timing.agentMs / 1000).toFixed(1)} s`);
  });

  for (const item of ALL) {
    describe(item.name, () => {
      it('the reduced conf, the original and the migrated YAML give the same desired table', () => {
        const want = desiredTable(item.config, allUp(item.config)).table;
        const yaml = loadConfigText(writeYaml(item.config, []), `${item.name}.yaml`, { format: 'yaml' });
        expect(yaml.config, yaml.diagnostics.map((d) => d.message).join('; ')).toBeDefined();
        expect(renderSave(desiredTable(yaml.config as Config, allUp(yaml.config as Config)).table, { thresholds: true })).toBe(renderSave(want, { thresholds: true }));
        if (item.original) {
          const orig = loadConfigFile(item.original, { configId: CONFIG_ID });
          expect(orig.config, orig.diagnostics.map((d) => `${d.loc.line}: ${d.message}`).join('\n')).toBeDefined();
          expect(renderSave(desiredTable(orig.config!, allUp(orig.config!)).table, { thresholds: true })).toBe(renderSave(want, { thresholds: true }));
        }
      });

      it('keepalived and vipkeeper program the same IPVS table', () => {
        const { keepalived: k, vipkeeper: v } = result(item.name);
        expect(k.ready.error, `keepalived did not settle:\n${k.log}`).toBeUndefined();
        expect(v.report, v.log.join('\n')).toMatchObject({ ok: true });
        expect(k.save.trim(), `keepalived programmed nothing:\n${k.log}`).not.toBe('');
        expect(sorted(v.save)).toEqual(sorted(k.save));
        // -Sn leaves out -x/-y: compare thresholds (and everything else) from the merged tables
        const kt = mergeCounters(parseSave(k.save), parseThresholds(k.thresholds));
        const vt = mergeCounters(parseSave(v.save), parseThresholds(v.thresholds));
        expect(renderSave(vt, { thresholds: true })).toBe(renderSave(kt, { thresholds: true }));
        // and it is exactly what desired.ts computed on the host
        expect(tablesEqual(vt, desiredTable(item.config, allUp(item.config)).table)).toBe(true);
        expect(v.warnings).toEqual([]);
      });

      it('both remove what they programmed when stopped', () => {
        const r = result(item.name);
        expect(r.keepalived.afterStop).toBe('');
        expect(r.keepalived.exit).toBe(0);
        expect(r.vipkeeper.afterStop).toBe('');
      });
    });
  }

  it('quirk: keepalived drops a whole virtual server whose group mixes IPv4 and IPv6; vipkeeper programs the members', () => {
    const r = result(quirk.name);
    expect(r.keepalived.log).toMatch(/virtual server group with IPv4 & IPv6 doesn't match virtual server \[MIXED\]:0 - ignoring/);
    expect(sorted(r.keepalived.save)).toEqual(['-A -t 10.3.0.9:80 -s rr', '-a -t 10.3.0.9:80 -r 10.3.1.9:80 -m -w 1']);
    expect(sorted(r.vipkeeper.save)).toEqual(
      sorted(
        [
          '-A -t 10.3.0.9:80 -s rr',
          '-a -t 10.3.0.9:80 -r 10.3.1.9:80 -m -w 1',
          '-A -t 10.3.0.1:80 -s rr',
          '-a -t 10.3.0.1:80 -r 10.3.1.1:80 -m -w 1',
          '-A -t [2001:db8:3::1]:80 -s rr', // an IPv4 NAT real server cannot serve it: left out, with a warning
        ].join('\n'),
      ),
    );
    expect(r.vipkeeper.warnings).toEqual([expect.stringMatching(/TCP \[2001:db8:3::1\]:80: real server 10\.3\.1\.1:80 is inet but the service is inet6/)]);
  });
});

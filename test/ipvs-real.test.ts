/**
 * Real IPVS (Linux 6.1, ipvsadm 1.31) in a QEMU guest, booted once for this file
 * (lab/ipvs-vm.ts). Everything runs in one guest process; results are checked here:
 * - the backend contract (test/fixtures/ipvs-contract.ts) on BOTH backends (ipvsadm, netlink): services of
 *   every kind (TCP/UDP/SCTP, port 0, IPv6, fwmark v4/v6), every scheduler incl. mh with its flags,
 *   DR/NAT/TUN (ipip, gue, gre), weights, thresholds, persistence, the sip engine; edits in place;
 *   drift; foreign services;
 * - an edit of scheduler and persistence on a service carrying traffic: the script has no -D/-A and
 *   the kernel's counters and persistence templates survive;
 * - the reconciler: converge, correct manual drift on demand and by its resync timer, keep foreign
 *   services, clean up on stop;
 * - lvs_sync_daemon following the VRRP state;
 * - global_defs lvs_timeouts: set by the reconciler once per config, an unset one (or all, without
 *   lvs_timeouts, and on stop) back to the value found before the first change; read back with
 *   `ipvsadm -L --timeout`; keepalived 2.2.7 given the same confs must show the same lines;
 * - the ipvsadm behaviours the backend relies on;
 * - the netlink backend reads exactly what the ipvsadm backend reads (counters and sync daemons
 *   too), and what the kernel does with several dumps in one transaction.
 * The reconciler and sync-daemon cases run on both backends as well.
 * It FAILS (never skips) when QEMU or the guest image cannot be had.
 */
import { beforeAll, describe, expect, it } from 'vitest';

import { loadConfigText } from '../src/config/load.js';
import { ConfigSchema, type Config } from '../src/config/schema.js';
import type { RunReport, ReconcilerSnapshot } from '../src/ipvs/reconciler.js';
import type { IpvsTable } from '../src/ipvs/model.js';
import type { SyncDaemon } from '../src/ipvs/backend.js';
import { CONTRACT_CASES, EVERY_KIND, checkContractCase, type CaseResult } from './fixtures/ipvs-contract.js';
import { bootOnce, runGuest, taskResult } from './helpers/ipvs-vm.js';

const FACTS = String.raw`
echo "== dr-port"; ipvsadm -A -t 10.70.0.1:80 -s rr; ipvsadm -a -t 10.70.0.1:80 -r 10.70.1.1:8080 -g; ipvsadm -a -t 10.70.0.1:80 -r 10.70.1.2:8080 -m -x 5 -y 1; ipvsadm -Sn
echo "== thresholds"; ipvsadm -Ln --thresholds -t 10.70.0.1:80
echo "== restore-middle-error"; printf -- '-A -t 10.70.0.2:80 -s rr\n-A -t 10.70.0.2:80 -s rr\n-A -t 10.70.0.3:80 -s rr\n' | ipvsadm -R; echo "rc=$?"
echo "== restore-bad-line"; printf -- 'bogus\n-A -t 10.70.0.4:80 -s rr\n' | ipvsadm -R; echo "rc=$?"; ipvsadm -Sn | grep -c 10.70.0.4
echo "== sh-port-on-wlc"; ipvsadm -A -t 10.70.0.5:80 -s wlc -b sh-port; echo "rc=$?"
echo "== flag-2-on-sh"; ipvsadm -A -t 10.70.0.6:80 -s sh -b flag-2; echo "rc=$?"; ipvsadm -Sn | grep 10.70.0.6
echo "== twos"; ipvsadm -A -t 10.70.0.7:80 -s twos; echo "rc=$?"
echo "== edit-resets"; ipvsadm -A -u 10.70.0.8:53 -s rr -p 60 -o -b flag-1; ipvsadm -E -u 10.70.0.8:53 -s rr; ipvsadm -Sn | grep 10.70.0.8
ipvsadm -C
`;

const WEB3 = [1, 2, 3].map((i) => `-A -t 10.20.0.${i}:80 -s rr\n-a -t 10.20.0.${i}:80 -r 10.20.1.${i}:80 -m -w ${i}\n-a -t 10.20.0.${i}:80 -r 10.20.2.${i}:80 -m -w 1`).join('\n') + '\n';
const BACKENDS = [
  { name: 'ipvsadm', suffix: '' },
  { name: 'netlink', suffix: '-netlink' },
] as const;

// lvs_timeouts: a baseline set with ipvsadm --set, a keepalived.conf setting tcp and udp (tcpfin unset),
// then a reload setting only tcpfin, then one without lvs_timeouts (vipkeeper then goes back to the
// first config before it stops, so that stop has something to restore).
const TIMEOUTS_BASELINE = '111 222 333';
const TIMEOUTS_CONF = `global_defs {
  lvs_timeouts tcp 7200 udp 45
}
virtual_server 10.85.0.1 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.85.1.1 80 {
    weight 1
  }
}
`;
const TIMEOUTS_RELOAD_CONF = TIMEOUTS_CONF.replace('lvs_timeouts tcp 7200 udp 45', 'lvs_timeouts tcpfin 30');
const TIMEOUTS_NONE_CONF = TIMEOUTS_CONF.replace('  lvs_timeouts tcp 7200 udp 45\n', '');
function loadTimeoutsConf(): Config {
  const r = loadConfigText(TIMEOUTS_CONF, 'timeouts.conf', { format: 'keepalived' });
  if (!r.config) throw new Error(`timeouts.conf refused: ${JSON.stringify(r.diagnostics)}`);
  return r.config;
}

const vm = bootOnce(async () => {
  const reconcileConfig = ConfigSchema.parse({
    ipvs: { resync_interval: '1500ms' },
    virtual_servers: [
      { address: '10.80.0.1', port: 80, lb_algo: 'wrr', lb_kind: 'NAT', real_servers: [{ address: '10.80.1.1', port: 80, weight: 3 }, { address: '10.80.1.2', port: 80 }] },
      { fwmark: 5, lb_algo: 'rr', lb_kind: 'DR', persistence_timeout: 60, real_servers: [{ address: '10.80.2.1' }] },
    ],
  });
  const syncdConfig = ConfigSchema.parse({ global: { lvs_sync_daemon: { interface: 'lo', instance: 'VI_1', id: 7 } } });
  const reconcileTask = {
    kind: 'reconcile',
    config: reconcileConfig,
    foreign: '-A -t 10.80.9.9:443 -s sh\n-a -t 10.80.9.9:443 -r 10.80.9.1:443 -m -w 2\n',
    tamper: ['-e -t 10.80.0.1:80 -r 10.80.1.1:80 -m -w 9', '-d -t 10.80.0.1:80 -r 10.80.1.2:80', '-a -t 10.80.0.1:80 -r 10.80.1.99:80 -m -w 1', '-D -f 5'].join('\n'),
    tamper2: '-E -t 10.80.0.1:80 -s rr\n',
  };
  const timeoutsConfig = loadTimeoutsConf();
  const timeoutsReload = ConfigSchema.parse({ global: { lvs_timeouts: { tcpfin: '30s' } }, virtual_servers: timeoutsConfig.virtual_servers });
  const timeoutsNone = ConfigSchema.parse({ virtual_servers: timeoutsConfig.virtual_servers });
  const timeoutsTask = { kind: 'timeouts', baseline: TIMEOUTS_BASELINE, configs: [timeoutsConfig, timeoutsReload, timeoutsNone, timeoutsConfig] };
  return runGuest(
    [
      { id: 'facts', kind: 'sh', script: FACTS },
      { id: 'netlink-facts', kind: 'netlink-facts', script: WEB3, services: ['TCP 10.20.0.1:80', 'TCP 10.20.0.2:80', 'TCP 10.20.0.3:80'] },
      { id: 'read-parity', kind: 'read-parity', script: `${EVERY_KIND}\n` },
      { id: 'contract', kind: 'contract' },
      { id: 'contract-netlink', kind: 'contract', backend: 'netlink' },
      { id: 'inplace', kind: 'inplace' },
      { id: 'reconcile', ...reconcileTask },
      { id: 'reconcile-netlink', ...reconcileTask, backend: 'netlink' },
      { id: 'syncd', kind: 'syncd', config: syncdConfig },
      { id: 'syncd-netlink', kind: 'syncd', config: syncdConfig, backend: 'netlink' },
      { id: 'timeouts', ...timeoutsTask, conf: 'timeouts.conf', reloadConfs: ['timeouts-reload.conf', 'timeouts-none.conf'] },
      { id: 'timeouts-netlink', ...timeoutsTask, backend: 'netlink' },
    ],
    { timeoutMs: 480_000, files: { 'timeouts.conf': TIMEOUTS_CONF, 'timeouts-reload.conf': TIMEOUTS_RELOAD_CONF, 'timeouts-none.conf': TIMEOUTS_NONE_CONF } },
  );
});
beforeAll(vm.boot, 20 * 60_000);

describe('real IPVS in a QEMU guest', () => {
  it('booted and ran everything in one guest', () => {
    const run = vm.get();
    expect(run.results.size).toBe(12);
    // a record for the log: how long the guest took
    console.info(`ipvs-real guest: boot ${(run.timing.bootMs / 1000).toFixed(1)} s, agent ${(run.timing.agentMs / 1000).toFixed(1)} s`);
  });

  for (const b of BACKENDS) {
    describe(`backend contract on ${b.name}`, () => {
      for (const [i, c] of CONTRACT_CASES.entries()) {
        it(c.name, () => {
          const results = taskResult<CaseResult[]>(vm.get(), `contract${b.suffix}`);
          const r = results[i];
          expect(r?.name).toBe(c.name);
          expect(checkContractCase(c, r as CaseResult)).toEqual([]);
        });
      }
    });
  }

  it('the netlink backend reads exactly what the ipvsadm backend reads, and runs the sync daemons the same way', () => {
    const r = taskResult<{
      ipvsadm: IpvsTable;
      netlink: IpvsTable;
      save: string;
      netlinkSave: string;
      daemons: { ipvsadm: SyncDaemon[]; netlink: SyncDaemon[]; afterStop: SyncDaemon[]; stopError: string; error: string };
      emptyAfterFlush: string;
    }>(vm.get(), 'read-parity');
    expect(r.ipvsadm.length).toBeGreaterThan(20);
    expect(r.netlinkSave).toBe(r.save);
    expect(r.netlink).toEqual(r.ipvsadm); // counters (ActiveConn/InActConn) included
    expect(r.daemons.error).toBe('');
    expect(r.daemons.netlink).toEqual(r.daemons.ipvsadm);
    expect(r.daemons.netlink).toEqual([
      expect.objectContaining({ role: 'master', interface: 'lo', syncid: 9, port: 8850, ttl: 2 }),
      expect.objectContaining({ role: 'backup', interface: 'lo', syncid: 11, maxlen: 1400, group: '224.0.0.82' }),
    ]);
    expect(r.daemons.afterStop).toEqual([]);
    expect(r.daemons.stopError).toMatch(/No daemon is running/);
    expect(r.emptyAfterFlush.trim()).toBe('');
  });

  it('netlink facts: one dump at a time per socket (EBUSY), every operation of a batch answered', () => {
    const r = taskResult<{ family: number; services: number; batch: { errno: number; messages: number }[]; applyError?: { message: string; details: string[] }; after: string }>(vm.get(), 'netlink-facts');
    console.info(`netlink-facts: ${JSON.stringify(r)}`);
    expect(r.services).toBe(3);
    // the first dump of a batch runs; the kernel refuses the others while it is running
    expect(r.batch[0]).toMatchObject({ errno: 0, messages: 2 });
    for (const x of r.batch.slice(1)) expect([0, 16]).toContain(x.errno);
    // a refused operation does not stop the batch, and says which one failed and why
    expect(r.applyError?.details).toEqual([
      expect.stringMatching(/^-A -t 10\.90\.0\.1:80 -s rr: Service already exists \(EEXIST/),
      expect.stringMatching(/^-A -t 10\.90\.0\.2:80 -s nosuch: Scheduler or persistence engine not found \(ENOENT/),
    ]);
    expect(r.after).toContain('-A -t 10.90.0.3:80 -s wrr');
  });

  it('the ipvsadm behaviours the backend relies on', () => {
    const out = taskResult<{ code: number; stdout: string; stderr: string }>(vm.get(), 'facts');
    const sec = (name: string) => out.stdout.split(`== ${name}\n`)[1]?.split('\n== ')[0] ?? '';
    // DR destinations take the service port; -Sn never prints thresholds
    expect(sec('dr-port')).toContain('-a -t 10.70.0.1:80 -r 10.70.1.1:80 -g -w 1');
    expect(sec('dr-port')).toMatch(/-a -t 10\.70\.0\.1:80 -r 10\.70\.1\.2:8080 -m -w 1$/m);
    expect(sec('thresholds')).toMatch(/10\.70\.1\.2:8080\s+5\s+1\s+0\s+0/);
    // -R goes on after a refused line and exits with the LAST line's status; a syntax error stops it
    expect(sec('restore-middle-error')).toContain('rc=0');
    expect(out.stderr).toContain('Service already exists');
    expect(sec('restore-bad-line')).toMatch(/rc=255\n0(\n|$)/);
    // scheduler-specific flag names are refused elsewhere, the generic ones always work
    expect(sec('sh-port-on-wlc')).toContain('rc=2');
    expect(out.stderr).toContain("incompatible scheduler flag `sh-port'");
    expect(sec('flag-2-on-sh')).toContain('-A -t 10.70.0.6:80 -s sh -b sh-port');
    // Linux 6.1 has no twos scheduler (6.2+)
    expect(sec('twos')).toContain('rc=255');
    // -E sets what it is given and resets the rest
    expect(sec('edit-resets')).toContain('-A -u 10.70.0.8:53 -s rr\n');
  });

  it('edits scheduler and persistence in place: no delete, counters and persistence templates survive', () => {
    const steps = taskResult<{ desired: string; script: string; wgets: string[]; stats: { conns: number; inPkts: number }; lnc: string; save: string }[]>(vm.get(), 'inplace');
    expect(steps).toHaveLength(3);
    const [s1, s2, s3] = steps as [(typeof steps)[0], (typeof steps)[0], (typeof steps)[0]];
    expect(s1.wgets).toEqual(['rs1', 'rs1', 'rs1']);
    expect(s1.script).toBe('-A -t 10.50.0.1:80 -s rr\n-a -t 10.50.0.1:80 -r 10.51.0.2:80 -m -w 1\n');
    expect(s1.stats.conns).toBe(3);
    // rr → wrr with persistence: one -E, nothing recreated; the counter goes on from 3
    expect(s2.script).toBe('-E -t 10.50.0.1:80 -s wrr -p 300 -M 255.255.255.0\n');
    expect(s2.wgets).toEqual(['rs1']);
    expect(s2.stats.conns).toBe(4);
    expect(s2.save).toContain('-A -t 10.50.0.1:80 -s wrr -p 300 -M 255.255.255.0');
    // the persistence template (source masked to /24, port 0, ~300 s)
    const template = /TCP (\d\d):\d\d\s+\S+\s+10\.50\.0\.0:0\s+10\.50\.0\.1:80\s+10\.51\.0\.2:80/;
    expect(s2.lnc).toMatch(template);
    // wrr → sh with another timeout and a flag, and a weight edit
    expect(s3.script).toBe('-E -t 10.50.0.1:80 -s sh -p 900 -b flag-2\n-e -t 10.50.0.1:80 -r 10.51.0.2:80 -m -w 2\n');
    expect(s3.stats.conns).toBe(5);
    // the old template survived the edit; the new request made a /32 one with the new timeout
    expect(s3.lnc).toMatch(template);
    expect(Number(/TCP (\d\d):\d\d\s+\S+\s+10\.50\.0\.2:0\s+10\.50\.0\.1:80/.exec(s3.lnc)?.[1])).toBeGreaterThanOrEqual(14);
  });

  for (const b of BACKENDS) {
    it(`the reconciler (${b.name}) converges, corrects manual drift on demand and on its resync timer, and leaves foreign services`, () => {
      const r = taskResult<{
        first: RunReport;
        second: RunReport;
        converged: string;
        tampered: string;
        corrected: string;
        tampered2: string;
        snapshot: ReconcilerSnapshot;
        afterStop: string;
        log: string[];
      }>(vm.get(), `reconcile${b.suffix}`);
      const foreign = ['-A -t 10.80.9.9:443 -s sh', '-a -t 10.80.9.9:443 -r 10.80.9.1:443 -m -w 2'];
      const ours = [
        '-A -f 5 -s rr -p 60',
        '-a -f 5 -r 10.80.2.1:0 -g -w 1',
        '-A -t 10.80.0.1:80 -s wrr',
        '-a -t 10.80.0.1:80 -r 10.80.1.1:80 -m -w 3',
        '-a -t 10.80.0.1:80 -r 10.80.1.2:80 -m -w 1',
      ];
      const sorted = (s: string) => s.trim().split('\n').sort();
      expect(r.first).toMatchObject({ ok: true, drift: false });
      expect(sorted(r.converged)).toEqual([...foreign, ...ours].sort());
      expect(r.second).toMatchObject({ ok: true, drift: true });
      expect(r.second.script).toBe(
        ['-A -f 5 -s rr -p 60', '-a -f 5 -r 10.80.2.1:0 -g -w 1', '-a -t 10.80.0.1:80 -r 10.80.1.2:80 -m -w 1', '-e -t 10.80.0.1:80 -r 10.80.1.1:80 -m -w 3', '-d -t 10.80.0.1:80 -r 10.80.1.99:80', ''].join('\n'),
      );
      expect(sorted(r.corrected)).toEqual(sorted(r.converged));
      expect(r.tampered2).toContain('-A -t 10.80.0.1:80 -s rr');
      // The second drift was undone by the reconciler's own loop (nobody called syncNow after the
      // two above): a third run, counted as a drift correction, and the table back as converged.
      expect(r.snapshot).toMatchObject({ status: 'in-sync', sync: { driftCorrections: 2 } });
      expect(r.snapshot.sync.runs).toBeGreaterThanOrEqual(3);
      expect(r.snapshot.owned).toEqual(['FWM 5 inet', 'TCP 10.80.0.1:80']);
      expect(sorted(r.afterStop)).toEqual(foreign.sort());
    });
  }

  for (const b of BACKENDS) {
    it(`runs the lvs_sync_daemon matching the followed VRRP instance (${b.name})`, () => {
      const seq = taskResult<{ state: string; daemons: string }[]>(vm.get(), `syncd${b.suffix}`);
      const roles = seq.map((s) => [s.state, [...s.daemons.matchAll(/(master|backup) sync daemon \(mcast=lo, syncid=7/g)].map((m) => m[1]).join(',')]);
      expect(roles).toEqual([
        ['none', ''],
        ['MASTER', 'master'],
        ['BACKUP', 'backup'],
        ['FAULT', 'backup'],
        ['MASTER', 'master'],
        ['stopped', ''],
      ]);
    });
  }

  for (const b of BACKENDS) {
    it(`sets lvs_timeouts (${b.name}) as keepalived 2.2.7: unset ones and stop go back to the timeouts found first`, () => {
      type Timeouts = {
        before: string;
        runs: { report: RunReport; timeouts: string }[];
        afterStop: string;
        keepalived?: { before: string; timeouts: string; reloaded: string[]; afterStop: string; exit: number | null; ready: unknown; reload: unknown[]; log: string };
        log: string[];
      };
      const r = taskResult<Timeouts>(vm.get(), `timeouts${b.suffix}`);
      console.info(`lvs_timeouts (${b.name}): ${JSON.stringify({ before: r.before, runs: r.runs.map((x) => x.timeouts), afterStop: r.afterStop, keepalived: r.keepalived && { ...r.keepalived, log: undefined } })}`);
      const line = (tcp: number, tcpfin: number, udp: number) => `Timeout (tcp tcpfin udp): ${tcp} ${tcpfin} ${udp}`;
      expect(r.before).toBe(line(111, 222, 333));
      expect(r.runs.map((x) => x.report.ok)).toEqual([true, true, true, true]);
      // keepalived.conf `lvs_timeouts tcp 7200 udp 45`: tcpfin stays at the baseline
      expect(r.runs[0]?.timeouts).toBe(line(7200, 222, 45));
      // the reload sets only tcpfin; tcp and udp go back to the baseline found before the first change
      expect(r.runs[1]?.timeouts).toBe(line(111, 30, 333));
      // a reload without lvs_timeouts puts all three back
      expect(r.runs[2]?.timeouts).toBe(line(111, 222, 333));
      expect(r.runs[3]?.timeouts).toBe(line(7200, 222, 45));
      expect(r.log.filter((l) => l.includes('IPVS connection timeouts set'))).toHaveLength(3);
      // stop restores the baseline
      expect(r.afterStop).toBe(line(111, 222, 333));
      if (b.name === 'ipvsadm') {
        const k = r.keepalived;
        expect(k?.ready, k?.log).toMatchObject({ value: true });
        expect(k?.before).toBe(line(111, 222, 333));
        // keepalived 2.2.7, same confs from the same baseline: the same lines as vipkeeper's
        expect(k?.timeouts).toBe(r.runs[0]?.timeouts);
        expect(k?.reload, k?.log).toMatchObject([{ value: true }, { value: true }]);
        expect(k?.reloaded).toEqual([r.runs[1]?.timeouts, r.runs[2]?.timeouts]);
        expect(k?.afterStop).toBe(r.afterStop);
      }
    });
  }
});

// Metric names and units by Prometheus conventions, and the shipped alert rules and Grafana
// dashboard (contrib/) against the metrics the daemon really exports.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { requirePromtool } from '../lab/require.js';
import { REPO_ROOT } from '../lab/process.js';
import { createMetrics } from '../src/daemon/control/metrics.js';
import type { DaemonStatus } from '../src/daemon/control/status.js';

const TRANSITION = '2026-12-07T22:31:02.000Z';
const RELOAD = '2026-12-07T22:35:00.000Z';

const status: DaemonStatus = {
  node: { hostname: 'd1', pid: 42, version: '0.1.0', startedAt: '2026-12-07T22:00:00.000Z', uptimeS: 12 },
  config: { path: '/etc/vipkeeper/vipkeeper.yaml', format: 'yaml', hash: 'abcdef0123456789', loadedAt: RELOAD, reloads: { ok: 1, failed: 1 }, lastReload: { at: RELOAD, ok: false, error: 'bad' } },
  vrrp: {
    // monotonic ms since the VRRP thread started: 945.7 ms is no Unix time
    at: 2_000,
    time: '2026-12-07T22:31:03.054Z',
    running: true,
    transport: undefined,
    syncGroups: [],
    instances: [
      {
        name: 'VI_1', vrid: 51, version: 2, family: 4, interface: 'eth0', sourceIp: '10.77.0.1', advertIntervalMs: 1000, syncGroup: undefined, state: 'MASTER',
        basePriority: 150, effectivePriority: 150, masterSeen: undefined, vips: ['10.77.0.100/32'], vipsSet: true, maintenance: false,
        fault: { link: false, track: false, reason: '' },
        recentTransitions: [{ at: 945.7, time: TRANSITION, from: 'BACKUP', to: 'MASTER', reason: 'master down timer expired' }],
        counters: { advertsSent: 7, priorityZeroSent: 0, advertsReceived: 3, priorityZeroReceived: 1, advertsDropped: 2, lowerPriorityDiscarded: 0, sameIpConflicts: 0, becameMaster: 1, releasedMaster: 0, garpBursts: 1 },
        transport: { advertsSent: 7, sendErrors: 0, received: 5, accepted: 3, dropped: { ttl: 2 } },
      },
    ],
  },
  health: {
    at: 1,
    scheduler: {} as never,
    services: [
      {
        vs: '10.77.0.100 80 TCP', quorum: 2, hysteresis: 0, quorumUp: false, sorryActive: false, weight: 1, threshold: 2,
        realServers: [{ vs: '10.77.0.100 80 TCP', rs: '10.0.0.11:80', address: '10.0.0.11', port: 80, up: true, weight: 1, configWeight: 1, checks: [] }],
      },
    ],
  },
  ipvs: { state: 'degraded', error: 'no IP_VS', driftCorrections: 1, reconciles: 2, table: [] },
  maintenance: false,
  realServers: [],
  drained: [],
  counters: { otherMasterSeen: { VI_1: 3 }, unhandledErrors: 0, vrrpWorkerRestarts: 1, watchdogLate: 2 },
  heap: { governorRequests: 1, fullCollections: 1, floorBytes: 1, limitBytes: 2 },
};

async function scrape(): Promise<{ metrics: { name: string; type: string; help: string; values: { value: number; labels: Record<string, string | number>; metricName?: string }[] }[]; text: string }> {
  const m = createMetrics(() => status);
  m.observeCheck('HTTP_GET', true, 12);
  m.observeReconcile(3, 'ok');
  m.observeGarp('VI_1', 5);
  return { metrics: (await m.registry.getMetricsAsJSON()) as never, text: await m.registry.metrics() };
}

describe('metric names and units', () => {
  it('counters end in _total; durations are _seconds, sizes _bytes; no milliseconds; every metric has help', async () => {
    const { metrics } = await scrape();
    expect(metrics.length).toBeGreaterThan(30);
    for (const m of metrics) {
      expect(m.name, m.name).toMatch(/^[a-z_][a-z0-9_]*$/);
      expect(m.name, m.name).toMatch(/^(keepalived|vipkeeper)_/);
      expect(m.help.length, `${m.name} has help`).toBeGreaterThan(5);
      if (m.type === 'counter') expect(m.name, `${m.name} is a counter`).toMatch(/_total$/);
      // prom-client's default nodejs_active_*_total are gauges by its own naming; ours are not.
      else if (!/^vipkeeper_nodejs_active_\w+_total$/.test(m.name)) expect(m.name, `${m.name} is a ${m.type}`).not.toMatch(/_total$/);
      expect(m.name).not.toMatch(/_(ms|msec|milliseconds|millis|percent|kb|mb)(_|$)/);
      if (m.type === 'histogram') expect(m.name, `${m.name} has a unit`).toMatch(/_(seconds|bytes)$/);
    }
  });

  it('*_timestamp_seconds are Unix times: the last transition is the wall-clock time of the transition, not the thread-relative 0.9457 s', async () => {
    const { metrics } = await scrape();
    const ts = metrics.filter((m) => m.name.endsWith('_timestamp_seconds'));
    expect(ts.map((m) => m.name).sort()).toEqual(['vipkeeper_config_last_reload_timestamp_seconds', 'vipkeeper_vrrp_last_transition_timestamp_seconds']);
    const value = (name: string) => metrics.find((m) => m.name === name)!.values[0]!.value;
    expect(value('vipkeeper_vrrp_last_transition_timestamp_seconds')).toBe(Date.parse(TRANSITION) / 1000);
    expect(value('vipkeeper_config_last_reload_timestamp_seconds')).toBe(Date.parse(RELOAD) / 1000);
    // process start time (prom-client) is Unix seconds as well
    expect(value('vipkeeper_process_start_time_seconds')).toBeGreaterThan(1.5e9);
  });

  it('an older snapshot without wall times still gives Unix time, from the snapshot time and the monotonic age', async () => {
    const inst = status.vrrp!.instances[0]!;
    const saved = inst.recentTransitions;
    inst.recentTransitions = [{ at: 945.7, from: 'BACKUP', to: 'MASTER', reason: 'x' }];
    try {
      const { metrics } = await scrape();
      const v = metrics.find((m) => m.name === 'vipkeeper_vrrp_last_transition_timestamp_seconds')!.values[0]!.value;
      expect(v).toBeCloseTo((Date.parse(status.vrrp!.time!) - (2_000 - 945.7)) / 1000, 3);
    } finally {
      inst.recentTransitions = saved;
    }
  });

  it('counts VRRP thread restarts, late watchdog heartbeats, split brain and real servers up', async () => {
    const { text } = await scrape();
    expect(text).toMatch(/^vipkeeper_vrrp_worker_restarts_total 1$/m);
    expect(text).toMatch(/^vipkeeper_watchdog_late_total 2$/m);
    expect(text).toMatch(/^vipkeeper_vrrp_other_master_seen_total\{iname="VI_1"\} 3$/m);
    expect(text).toMatch(/^vipkeeper_virtualserver_realservers_up\{vs="10\.77\.0\.100 80 TCP"\} 1$/m);
    expect(text).toMatch(/^vipkeeper_virtualserver_quorum_up\{vs="10\.77\.0\.100 80 TCP"\} 0$/m);
  });
});

/** Metric names an expression uses (keepalived_* and vipkeeper_* identifiers). */
function namesIn(expr: string): string[] {
  return [...expr.matchAll(/\b((?:keepalived|vipkeeper)_[a-z0-9_]+)/g)].map((m) => m[1]!);
}

function exported(metrics: { name: string; type: string }[]): Set<string> {
  const out = new Set<string>();
  for (const m of metrics) {
    out.add(m.name);
    if (m.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(m.name + s);
  }
  return out;
}

describe('contrib: Prometheus alert rules and the Grafana dashboard', () => {
  const rules = join(REPO_ROOT, 'contrib', 'prometheus', 'vipkeeper-alerts.yml');

  it('promtool loads the rules, and their unit tests pass (each alert fires on its series, none on a healthy pair)', () => {
    const promtool = requirePromtool('the alert-rule test');
    expect(execFileSync(promtool, ['check', 'rules', rules], { encoding: 'utf8' })).toMatch(/SUCCESS: 10 rules found/);
    expect(execFileSync(promtool, ['test', 'rules', 'vipkeeper-alerts.test.yml'], { encoding: 'utf8', cwd: join(REPO_ROOT, 'contrib', 'prometheus') })).toMatch(/SUCCESS/);
  });

  it('the rules cover split brain, no master, quorum, refused reload and thread/watchdog restarts, with metrics the daemon exports', async () => {
    const text = readFileSync(rules, 'utf8');
    const alerts = [...text.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(alerts).toEqual(expect.arrayContaining(['VipkeeperSplitBrainSeen', 'VipkeeperNoMaster', 'VipkeeperRealServersBelowQuorum', 'VipkeeperReloadRefused', 'VipkeeperVrrpThreadRestarted', 'VipkeeperWatchdogLate', 'VipkeeperRestarted']));
    const have = exported((await scrape()).metrics);
    const used = [...text.matchAll(/expr: (.*)/g)].flatMap((m) => namesIn(m[1]!));
    expect(used.length).toBeGreaterThan(8);
    expect(used.filter((n) => !have.has(n))).toEqual([]);
  });

  it('every dashboard query uses metrics the daemon exports', async () => {
    const dash = JSON.parse(readFileSync(join(REPO_ROOT, 'contrib', 'grafana', 'vipkeeper-dashboard.json'), 'utf8')) as {
      panels: { type: string; targets?: { expr: string }[] }[];
      templating: { list: { query?: string }[] };
    };
    const exprs = [...dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...dash.templating.list.map((t) => t.query ?? '')];
    const have = exported((await scrape()).metrics);
    const used = exprs.flatMap(namesIn);
    expect(used.length).toBeGreaterThan(15);
    expect(used.filter((n) => !have.has(n))).toEqual([]);
  });
});

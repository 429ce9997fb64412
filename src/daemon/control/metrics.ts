// Prometheus metrics via prom-client. State and counters are read from the daemon's
// status at scrape time (so they can never disagree with /status); latencies are
// observed as they happen. Names follow the keepalived exporters where that is cheap
// (mehdy/keepalived-exporter's keepalived_* set), so existing dashboards keep working;
// vipkeeper's own additions are vipkeeper_*.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { registerBgpMetrics } from '../../bgp/metrics.js';
import type { DaemonStatus } from './status.js';

const STATE_VALUE: Record<string, number> = { INIT: 0, BACKUP: 1, MASTER: 2, FAULT: 3, STOP: 4 };

export interface Metrics {
  registry: Registry;
  observeCheck(kind: string, ok: boolean, latencyMs: number): void;
  observeReconcile(durationMs: number, result: 'ok' | 'error'): void;
  observeGarp(instance: string, count: number): void;
}

/** A counter whose value is the running total kept elsewhere (read at scrape). */
function totalCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => [Record<string, string | number>, number][],
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, v] of read()) if (v > 0) this.inc(labels, v);
    },
  });
}

export function createMetrics(getStatus: () => DaemonStatus | undefined): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vipkeeper_' });
  const st = () => getStatus();
  const instances = () => st()?.vrrp?.instances ?? [];
  const ilabels = (i: { name: string; interface: string | undefined; vrid: number }) => ({ iname: i.name, intf: i.interface ?? '', vrid: i.vrid });

  new Gauge({
    name: 'keepalived_up',
    help: 'Whether the VRRP engine is running (1) or not (0).',
    registers: [registry],
    collect() {
      this.set(st()?.vrrp?.running ? 1 : 0);
    },
  });
  new Gauge({
    name: 'keepalived_vrrp_state',
    help: 'VRRP state per instance and VIP: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, 4 STOP.',
    labelNames: ['iname', 'intf', 'vrid', 'ip_address'],
    registers: [registry],
    collect() {
      this.reset();
      for (const i of instances()) {
        for (const vip of i.vips.length ? i.vips : ['']) this.set({ ...ilabels(i), ip_address: vip }, STATE_VALUE[i.state] ?? 0);
      }
    },
  });
  new Gauge({
    name: 'vipkeeper_vrrp_vip_error',
    help: 'Whether the last VIP add of the instance failed (1): it is held in FAULT and retries.',
    labelNames: ['iname', 'intf', 'vrid'],
    registers: [registry],
    collect() {
      this.reset();
      for (const i of instances()) this.set(ilabels(i), i.vipError ? 1 : 0);
    },
  });
  const counter = (name: string, help: string, pick: (c: NonNullable<DaemonStatus['vrrp']>['instances'][number]['counters']) => number) =>
    totalCounter(registry, name, help, ['iname', 'intf', 'vrid'], () => instances().map((i) => [ilabels(i), pick(i.counters)]));
  counter('keepalived_advertisements_received_total', 'VRRP adverts received.', (c) => c.advertsReceived);
  counter('keepalived_advertisements_sent_total', 'VRRP adverts sent.', (c) => c.advertsSent);
  counter('keepalived_become_master_total', 'Transitions to MASTER.', (c) => c.becameMaster);
  counter('keepalived_release_master_total', 'Transitions out of MASTER.', (c) => c.releasedMaster);
  counter('keepalived_priority_zero_received_total', 'Priority-0 adverts received.', (c) => c.priorityZeroReceived);
  counter('keepalived_priority_zero_sent_total', 'Priority-0 adverts sent.', (c) => c.priorityZeroSent);

  // The keepalived error counters, from the receive drops counted by reason.
  const DROP_METRIC: Record<string, string> = {
    length: 'keepalived_packet_length_errors_total',
    truncated: 'keepalived_packet_length_errors_total',
    interval: 'keepalived_advertisements_interval_errors_total',
    ttl: 'keepalived_ip_ttl_errors_total',
    type: 'keepalived_invalid_type_received_total',
    addresses: 'keepalived_address_list_errors_total',
    'auth-type': 'keepalived_authentication_invalid_total',
    auth: 'keepalived_authentication_failure_total',
  };
  const drops = (): [string, { iname: string; intf: string; vrid: number }, string, number][] =>
    instances().flatMap((i) =>
      Object.entries(i.transport?.dropped ?? {}).map(
        ([reason, n]): [string, { iname: string; intf: string; vrid: number }, string, number] => [reason, ilabels(i), DROP_METRIC[reason] ?? '', n ?? 0],
      ),
    );
  for (const name of new Set(Object.values(DROP_METRIC))) {
    totalCounter(registry, name, `VRRP adverts dropped (${name.replace(/^keepalived_|_total$/g, '').replace(/_/g, ' ')}).`, ['iname', 'intf', 'vrid'], () => {
      const sums = new Map<string, [Record<string, string | number>, number]>();
      for (const [, labels, metric, n] of drops()) {
        if (metric !== name) continue;
        const k = `${labels.iname}`;
        const cur = sums.get(k);
        sums.set(k, [labels, (cur?.[1] ?? 0) + n]);
      }
      return [...sums.values()];
    });
  }
  totalCounter(registry, 'vipkeeper_vrrp_dropped_total', 'VRRP adverts dropped, by reason.', ['iname', 'intf', 'vrid', 'reason'], () =>
    drops().map(([reason, labels, , n]) => [{ ...labels, reason }, n]),
  );

  new Gauge({
    name: 'vipkeeper_vrrp_priority',
    help: 'VRRP priority per instance: base (configured) and effective (with track weights).',
    labelNames: ['iname', 'intf', 'vrid', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const i of instances()) {
        this.set({ ...ilabels(i), kind: 'base' }, i.basePriority);
        this.set({ ...ilabels(i), kind: 'effective' }, i.effectivePriority);
      }
    },
  });
  new Gauge({
    name: 'vipkeeper_vrrp_master_seen_info',
    help: 'The master this node last accepted adverts from (value 1).',
    labelNames: ['iname', 'intf', 'vrid', 'address'],
    registers: [registry],
    collect() {
      this.reset();
      for (const i of instances()) if (i.masterSeen) this.set({ ...ilabels(i), address: i.masterSeen.ip }, 1);
    },
  });
  new Gauge({
    name: 'vipkeeper_vrrp_last_transition_timestamp_seconds',
    help: 'When the instance last changed state (process monotonic clock, seconds).',
    labelNames: ['iname', 'intf', 'vrid'],
    registers: [registry],
    collect() {
      this.reset();
      for (const i of instances()) {
        const last = i.recentTransitions[i.recentTransitions.length - 1];
        if (last) this.set(ilabels(i), last.at / 1000);
      }
    },
  });
  totalCounter(registry, 'vipkeeper_vrrp_other_master_seen_total', 'Adverts from another MASTER while this node was MASTER (split-brain detector).', ['iname'], () =>
    Object.entries(st()?.counters.otherMasterSeen ?? {}).map(([iname, n]) => [{ iname }, n]),
  );
  totalCounter(registry, 'vipkeeper_vrrp_worker_restarts_total', 'Times the supervisor restarted a dead VRRP worker thread.', [], () => [
    [{}, st()?.counters.vrrpWorkerRestarts ?? 0],
  ]);
  totalCounter(registry, 'vipkeeper_unhandled_errors_total', 'Promise rejections no code handled (logged; the daemon keeps running).', [], () => [
    [{}, st()?.counters.unhandledErrors ?? 0],
  ]);
  const garp = new Counter({ name: 'vipkeeper_gratuitous_sent_total', help: 'Gratuitous ARPs and unsolicited NAs sent.', labelNames: ['iname'], registers: [registry] });

  // Health checks.
  const checkLatency = new Histogram({
    name: 'vipkeeper_check_latency_seconds',
    help: 'Latency of each health-check attempt.',
    labelNames: ['kind', 'result'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const services = () => st()?.health?.services ?? [];
  new Gauge({
    name: 'vipkeeper_realserver_up',
    help: 'Real-server verdict: 1 up (every checker passes), 0 down.',
    labelNames: ['vs', 'rs'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of services()) for (const r of s.realServers) this.set({ vs: s.vs, rs: r.rs }, r.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vipkeeper_realserver_weight',
    help: 'Effective real-server weight.',
    labelNames: ['vs', 'rs'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of services()) for (const r of s.realServers) this.set({ vs: s.vs, rs: r.rs }, r.weight);
    },
  });
  new Gauge({
    name: 'vipkeeper_realserver_consecutive_failures',
    help: 'Consecutive failed attempts of the real server’s worst checker.',
    labelNames: ['vs', 'rs'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of services()) for (const r of s.realServers) this.set({ vs: s.vs, rs: r.rs }, Math.max(0, ...r.checks.map((c) => c.consecutiveFailures)));
    },
  });
  new Gauge({
    name: 'vipkeeper_virtualserver_quorum_up',
    help: 'Virtual-server quorum: 1 reached, 0 lost (sorry server in use if configured).',
    labelNames: ['vs'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of services()) this.set({ vs: s.vs }, s.quorumUp ? 1 : 0);
    },
  });

  // IPVS reconciler.
  const reconcile = new Histogram({
    name: 'vipkeeper_ipvs_reconcile_duration_seconds',
    help: 'Duration of one IPVS reconcile (read, plan, apply).',
    labelNames: ['result'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  totalCounter(registry, 'vipkeeper_heap_governor_requests_total', 'Collections the heap governor asked of V8 (RSS over its limit).', [], () => [
    [{}, st()?.heap?.governorRequests ?? 0],
  ]);
  new Gauge({
    name: 'vipkeeper_heap_governor_limit_bytes',
    help: "The heap governor's RSS limit: the RSS after the last full collection, less the heap's free part, plus headroom.",
    registers: [registry],
    collect() {
      this.reset();
      const h = st()?.heap;
      if (h) this.set(h.limitBytes);
    },
  });
  totalCounter(registry, 'vipkeeper_ipvs_drift_corrections_total', 'Reconciles that found the kernel table differing from the desired one.', [], () => [
    [{}, st()?.ipvs?.driftCorrections ?? 0],
  ]);
  new Gauge({
    name: 'vipkeeper_ipvs_sync_state',
    help: 'IPVS table state (1 for the current one).',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      const s = st()?.ipvs?.state;
      for (const k of ['in-sync', 'degraded', 'disabled', 'pending']) this.set({ state: k }, s === k ? 1 : 0);
    },
  });

  // Configuration.
  new Gauge({
    name: 'vipkeeper_config_last_reload_successful',
    help: 'Whether the last reload was applied (1) or refused (0); 1 before any reload.',
    registers: [registry],
    collect() {
      this.set(st()?.config.lastReload?.ok === false ? 0 : 1);
    },
  });
  totalCounter(registry, 'vipkeeper_config_reloads_total', 'Reload attempts, by result.', ['result'], () => {
    const r = st()?.config.reloads;
    return [
      [{ result: 'ok' }, r?.ok ?? 0],
      [{ result: 'failed' }, r?.failed ?? 0],
    ];
  });
  new Gauge({
    name: 'vipkeeper_config_info',
    help: 'The running config (value 1): hash of its model and its format.',
    labelNames: ['hash', 'format'],
    registers: [registry],
    collect() {
      this.reset();
      const c = st()?.config;
      if (c) this.set({ hash: c.hash, format: c.format }, 1);
    },
  });
  new Gauge({
    name: 'vipkeeper_maintenance',
    help: 'Node maintenance: 1 while the node does not compete for MASTER.',
    registers: [registry],
    collect() {
      this.set(st()?.maintenance ? 1 : 0);
    },
  });

  registerBgpMetrics(registry, () => st()?.bgp);

  return {
    registry,
    observeCheck(kind, ok, latencyMs) {
      checkLatency.observe({ kind, result: ok ? 'ok' : 'fail' }, latencyMs / 1000);
    },
    observeReconcile(durationMs, result) {
      reconcile.observe({ result }, durationMs / 1000);
    },
    observeGarp(instance, count) {
      garp.inc({ iname: instance }, count);
    },
  };
}

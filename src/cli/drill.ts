/**
 * `vipkeeper drill`: a failover drill, run by an operator on the MASTER of a live pair.
 *
 * 1. Pre-checks (any failure: refuse, exit 1, nothing changed): this node is MASTER for the
 *    instance with its VIPs set; the peer daemon answers (`--peer-socket` or `--peer-status`: a
 *    MASTER cannot hear a healthy BACKUP, which is silent in VRRP, so we ask the peer itself); the
 *    peer is BACKUP for the same VRID with a usable priority, not in maintenance, and hears our
 *    adverts; both IPVS tables are identical; and for 3 advert intervals no other router
 *    advertises our VRID on the wire.
 * 2. `stepdown` on this node, then the timeline: this node BACKUP and its VIPs gone (our status),
 *    the peer's first advert as MASTER (raw IPPROTO 112 socket on the interface), the VIP's ARP
 *    answered by another MAC (arping from this node, every 25 ms), the peer's status MASTER.
 *    Failover time = the last of advert, ARP and peer status; it must be within
 *    3 × advert interval + Skew_Time(peer) + a measurement slack.
 * 3. `--hand-back` (needs `--peer-socket`): the peer steps down, and the same is measured back.
 *
 * A JSON report is written (`--report FILE`, default ./vipkeeper-drill-<time>.json) whenever the
 * step-down was sent. Exit 0: pass; 1: refused or failed/too slow; 2: usage; 3: our own daemon
 * cannot be reached.
 */
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { loadConfigFile } from '../config/load.js';
import { parseDuration } from '../config/duration.js';
import {
  AdvertListener,
  ArpProber,
  compareIpvsTables,
  findArping,
  httpEndpoint,
  localAddresses,
  localMac,
  masterDownMs,
  nowMs,
  primaryIpv4,
  skewMs,
  sleep,
  socketEndpoint,
  type PeerEndpoint,
} from '../daemon/drill-probe.js';
import type { DaemonStatus } from '../daemon/status.js';
import type { InstanceStatus } from '../daemon/vrrp-runtime.js';
import { DaemonUnreachable, resolveSocket } from './client.js';
import { EXIT } from './exit-codes.js';

export interface DrillOptions {
  socket?: string;
  instance?: string;
  peerSocket?: string;
  peerStatus?: string;
  peerTimeout?: string;
  handBack?: boolean;
  report?: string;
  json?: boolean;
}

/** What a poll of a status looks like; also the added measurement allowance. */
const POLL_MS = 25;
const SLACK_MS = 100;
const STATUS_TIMEOUT_MS = 3000;
/** After the required events, how long optional ones (VIPs in a status) are still awaited. */
const GRACE_MS = 700;

export interface PrecheckResult {
  check: string;
  ok: boolean;
  detail: string;
}

export interface TimelineEvent {
  /** Milliseconds since t0 (the command was sent). */
  t: number;
  event: string;
  detail: string;
}

export interface PhaseReport {
  t0: string;
  events: TimelineEvent[];
  completed: boolean;
  durationMs: number | undefined;
  boundMs: number;
  boundExplained: string;
  withinBound: boolean;
  /** Required events that were not seen. */
  missing: string[];
  /** The command was refused or failed. */
  error?: string;
  notes: string[];
}

export interface DrillReport {
  tool: 'vipkeeper drill';
  startedAt: string;
  finishedAt?: string;
  host: string;
  socket: string;
  peer: string;
  instance?: {
    name: string;
    vrid: number;
    version: number;
    family: number;
    interface: string | undefined;
    vips: string[];
    priority: number;
    advertIntervalMs: number;
    advertIntervalFrom: string;
  };
  peerInstance?: { name: string; priority: number; address?: string; mac?: string };
  arp: { method: string; measured: boolean; why?: string };
  prechecks: PrecheckResult[];
  failover?: PhaseReport;
  handBack?: PhaseReport;
  result: 'pass' | 'fail' | 'refused';
  message: string;
  exitCode: number;
}

class Refusal extends Error {}

function fmtMs(ms: number): string {
  return `${Math.round(ms)} ms`;
}

function isoNow(): string {
  return new Date().toISOString();
}

/** The advert interval: from the status if the daemon reports it, else from its config file. */
function advertInterval(inst: InstanceStatus, status: DaemonStatus): { ms: number; from: string } | undefined {
  const reported = (inst as InstanceStatus & { advertIntervalMs?: number }).advertIntervalMs;
  if (typeof reported === 'number' && reported > 0) return { ms: reported, from: 'daemon status' };
  try {
    const loaded = loadConfigFile(status.config.path);
    const ms = loaded.config?.instances[inst.name]?.advert_int;
    if (typeof ms === 'number' && ms > 0) return { ms, from: `config ${status.config.path}` };
  } catch {
    // unreadable: fall through
  }
  return undefined;
}

export async function runDrill(o: DrillOptions): Promise<number> {
  const out = (s: string): void => {
    if (!o.json) process.stdout.write(`${s}\n`);
  };
  const fail = (s: string): void => {
    process.stderr.write(`vipkeeper drill: ${s}\n`);
  };

  // ---- usage ------------------------------------------------------------------------------------
  const peerTimeoutMs = parseDuration(o.peerTimeout ?? '10s');
  if (peerTimeoutMs === undefined || peerTimeoutMs <= 0) {
    fail(`--peer-timeout '${o.peerTimeout ?? ''}' is not a duration (e.g. 10s, 1500ms)`);
    return EXIT.usage;
  }
  if (o.peerSocket && o.peerStatus) {
    fail('give either --peer-socket or --peer-status, not both');
    return EXIT.usage;
  }
  if (!o.peerSocket && !o.peerStatus) {
    fail(
      'say how to reach the peer: --peer-socket PATH (its control socket) or --peer-status URL (its read-only HTTP status). ' +
        'A MASTER cannot hear a healthy BACKUP (it is silent in VRRP), so the drill asks the peer itself whether it is ready.',
    );
    return EXIT.usage;
  }
  if (o.handBack && !o.peerSocket) {
    fail('--hand-back needs --peer-socket: the peer is asked to step down through its control socket (the HTTP listener is read-only)');
    return EXIT.usage;
  }
  let peer: PeerEndpoint;
  try {
    peer = o.peerSocket ? socketEndpoint(o.peerSocket) : httpEndpoint(o.peerStatus!);
  } catch (e) {
    fail(`--peer-status: ${(e as Error).message}`);
    return EXIT.usage;
  }
  const socket = resolveSocket(o.socket);
  const startedAt = isoNow();
  const report: DrillReport = {
    tool: 'vipkeeper drill',
    startedAt,
    host: hostname(),
    socket,
    peer: peer.describe,
    arp: { method: 'arping (iputils) from this node, one request every 25 ms', measured: false },
    prechecks: [],
    result: 'refused',
    message: '',
    exitCode: EXIT.invalid,
  };
  const reportPath = o.report ?? `vipkeeper-drill-${startedAt.replace(/[:.]/g, '-')}.json`;
  let stepdownSent = false;

  const finish = (code: number, result: DrillReport['result'], message: string): number => {
    report.result = result;
    report.message = message;
    report.exitCode = code;
    report.finishedAt = isoNow();
    let wrote: string | undefined;
    if (stepdownSent || o.report) {
      try {
        writeFileSync(reportPath, `${JSON.stringify(report, null, 2)}\n`);
        wrote = reportPath;
      } catch (e) {
        fail(`cannot write the report ${reportPath}: ${(e as Error).message}`);
        if (code === EXIT.ok) code = EXIT.runtime;
        report.exitCode = code;
      }
    }
    if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    if (result === 'refused') fail(`refused: ${message}`);
    else if (result === 'fail') fail(message);
    else out(message);
    if (wrote) out(`report: ${wrote}`);
    return code;
  };

  const check = (name: string, ok: boolean, detail: string): void => {
    report.prechecks.push({ check: name, ok, detail });
    out(`  ${ok ? 'ok  ' : 'FAIL'} ${detail}`);
    if (!ok) throw new Refusal(detail);
  };

  // ---- our daemon -------------------------------------------------------------------------------
  const ourStatus = async (timeoutMs = STATUS_TIMEOUT_MS): Promise<DaemonStatus> => socketEndpoint(socket).status(timeoutMs);
  let ours: DaemonStatus;
  try {
    ours = await ourStatus();
  } catch (e) {
    fail(e instanceof DaemonUnreachable ? e.message : `our daemon: ${(e as Error).message}`);
    return EXIT.runtime;
  }
  const instances = ours.vrrp?.instances ?? [];
  let inst: InstanceStatus | undefined;
  if (o.instance) {
    inst = instances.find((i) => i.name === o.instance);
    if (!inst) {
      fail(`no VRRP instance "${o.instance}" on this node (it has: ${instances.map((i) => i.name).join(', ') || 'none'})`);
      return EXIT.usage;
    }
  } else if (instances.length === 1) {
    inst = instances[0];
  } else {
    fail(instances.length === 0 ? 'this node runs no VRRP instance' : `this node runs ${instances.length} instances (${instances.map((i) => i.name).join(', ')}); say which with --instance`);
    return instances.length === 0 ? EXIT.invalid : EXIT.usage;
  }
  const me = inst!;
  const interval = advertInterval(me, ours);
  const advertMs = interval?.ms ?? 1000;
  report.instance = {
    name: me.name,
    vrid: me.vrid,
    version: me.version,
    family: me.family,
    interface: me.interface,
    vips: me.vips,
    priority: me.effectivePriority,
    advertIntervalMs: advertMs,
    advertIntervalFrom: interval?.from ?? 'unknown: assumed 1 s',
  };
  const vipAddrs = me.vips.map((v) => v.split('/')[0]!);
  const self = localAddresses();
  const myMac = me.interface ? localMac(me.interface) : undefined;

  out(`vipkeeper drill: ${me.name} (VRID ${me.vrid}, VRRPv${me.version}, IPv${me.family}) on ${me.interface ?? '(no interface)'}, advert ${advertMs} ms (${report.instance.advertIntervalFrom}); peer via ${peer.describe}`);
  out('pre-checks:');

  let listener: AdvertListener | undefined;
  let prober: ArpProber | undefined;
  const cleanup = (): void => {
    prober?.stop();
    listener?.close();
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    cleanup();
    process.stderr.write(`vipkeeper drill: interrupted by ${sig}${stepdownSent ? ' after the step-down: check both nodes with vipkeeper status' : ''}\n`);
    process.exit(EXIT.runtime);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let peerInst: InstanceStatus | undefined;
  let arpOk: { arping: string; vip: string; source: string | undefined; ifname: string } | undefined;
  try {
    // 1. We are MASTER with the VIPs.
    check('local-master', me.state === 'MASTER' && me.vipsSet, `this node is ${me.state} for ${me.name}${me.state === 'MASTER' ? (me.vipsSet ? ` (priority ${me.effectivePriority}, VIPs ${me.vips.join(' ')} set)` : ' but its VIPs are not set') : ': the drill runs on the MASTER'}`);
    if (ours.maintenance || me.maintenance) check('local-maintenance', false, 'this node is in maintenance');

    // 2. The peer answers.
    let theirs: DaemonStatus;
    const t = nowMs();
    try {
      theirs = await peer.status(Math.min(peerTimeoutMs, STATUS_TIMEOUT_MS));
    } catch (e) {
      check('peer-reachable', false, `the peer does not answer: ${(e as Error).message}`);
      throw new Error('unreachable'); // not reached
    }
    check('peer-reachable', true, `peer answers (${peer.describe}, ${fmtMs(nowMs() - t)})`);

    // 3. The peer is BACKUP for the same VRID, can take over, and hears us.
    const candidates = (theirs.vrrp?.instances ?? []).filter((i) => i.vrid === me.vrid && i.family === me.family);
    peerInst = candidates.find((i) => i.name === me.name) ?? candidates[0];
    if (!peerInst) check('peer-backup', false, `the peer runs no instance with VRID ${me.vrid} (IPv${me.family})`);
    const p = peerInst!;
    check('peer-backup', p.state === 'BACKUP', `peer ${p.name} is ${p.state} for VRID ${me.vrid}${p.state === 'BACKUP' ? '' : ': it must be BACKUP'}`);
    const prioOk = p.effectivePriority >= 1 && p.effectivePriority <= 254 && !p.maintenance && !theirs.maintenance;
    check(
      'peer-priority',
      prioOk,
      prioOk ? `peer priority ${p.effectivePriority} (ours ${me.effectivePriority})` : `the peer cannot take over: priority ${p.effectivePriority}${p.maintenance || theirs.maintenance ? ', in maintenance' : ''}`,
    );
    report.peerInstance = { name: p.name, priority: p.effectivePriority };
    const seen = p.masterSeen;
    const ageMs = seen && theirs.vrrp ? theirs.vrrp.at - seen.lastSeenAt : undefined;
    const hearsUs = seen !== undefined && self.has(seen.ip.split('%')[0]!.toLowerCase()) && (ageMs === undefined || ageMs <= 3 * advertMs + SLACK_MS);
    check(
      'peer-hears-us',
      hearsUs,
      !seen
        ? 'the peer has not heard a MASTER: it does not receive our adverts'
        : !self.has(seen.ip.split('%')[0]!.toLowerCase())
          ? `the peer follows ${seen.ip}, which is not this node`
          : `peer hears our adverts (from ${seen.ip}${ageMs !== undefined ? `, ${fmtMs(ageMs)} ago` : ''})`,
    );

    // 4. Same IPVS table on both.
    const diffs = compareIpvsTables(ours.ipvs, theirs.ipvs);
    const svc = ours.ipvs?.table.length ?? 0;
    const dests = ours.ipvs?.table.reduce((n, s) => n + s.dests.length, 0) ?? 0;
    check('ipvs-tables-match', diffs.length === 0, diffs.length === 0 ? `IPVS tables identical (${ours.ipvs ? `${svc} service(s), ${dests} destination(s)` : 'not managed on either'})` : `IPVS tables differ: ${diffs.join('; ')}`);

    // 5. Nobody else advertises our VRID (we are the only MASTER).
    try {
      listener = new AdvertListener({ family: me.family, ifname: me.interface, vrid: me.vrid, self });
    } catch (e) {
      const err = e as Error & { code?: string };
      check('wire', false, `cannot listen for VRRP adverts: ${err.message}${err.code === 'EPERM' ? ' (run the drill as root: it needs CAP_NET_RAW)' : ''}`);
    }
    const listenMs = Math.min(3 * advertMs, 3000);
    const t1 = nowMs();
    await sleep(listenMs);
    const other = listener!.find(t1, (a) => a.priority > 0);
    check('no-other-master', !other, other ? `another router advertises VRID ${me.vrid}: ${other.src} at priority ${other.priority}` : `no other router advertises VRID ${me.vrid} (listened ${fmtMs(listenMs)})`);

    // ARP: how we will see the VIP move.
    const arping = findArping();
    const vip4 = vipAddrs.find((v) => !v.includes(':'));
    if (!me.interface) report.arp.why = 'the instance has no interface';
    else if (!vip4) report.arp.why = 'no IPv4 VIP (IPv6 neighbour discovery is not probed)';
    else if (!arping) report.arp.why = 'arping is not installed (apt-get install iputils-arping)';
    else arpOk = { arping, vip: vip4, source: primaryIpv4(me.interface, new Set(vipAddrs)), ifname: me.interface };
    report.arp.measured = arpOk !== undefined;
    out(arpOk ? `  ARP: ${report.arp.method}, for ${arpOk.vip}` : `  ARP: not measured (${report.arp.why}); the peer's status stands in for the VIP`);
  } catch (e) {
    cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (e instanceof Refusal) return finish(EXIT.invalid, 'refused', e.message);
    throw e;
  }

  // ---- the failover -----------------------------------------------------------------------------
  const p = peerInst!;
  try {
    const bound = masterDownMs(p.effectivePriority, advertMs) + SLACK_MS;
    out('failover:');
    const fo = await measure({
      label: 'failover',
      boundMs: bound,
      boundExplained: `3 × ${advertMs} ms + Skew_Time ${fmtMs(skewMs(p.effectivePriority, advertMs))} (peer priority ${p.effectivePriority}) + ${SLACK_MS} ms measurement slack`,
      timeoutMs: peerTimeoutMs,
      print: out,
      command: async () => {
        stepdownSent = true;
        const r = await socketEndpoint(socket).stepDown(me.name, STATUS_TIMEOUT_MS);
        return r;
      },
      commandLabel: `stepdown sent to this node (${me.name})`,
      probes: (t0) => {
        if (arpOk) {
          prober = new ArpProber(arpOk.arping, { ifname: arpOk.ifname, vip: arpOk.vip, ...(arpOk.source ? { source: arpOk.source } : {}) });
          prober.start();
        }
        return [
          {
            key: 'local-backup',
            poll: async () => {
              const s = (await ourStatus()).vrrp?.instances.find((i) => i.name === me.name);
              return s && s.state !== 'MASTER' ? `this node ${s.state}` : undefined;
            },
          },
          {
            key: 'local-vips-removed',
            poll: async () => {
              const s = (await ourStatus()).vrrp?.instances.find((i) => i.name === me.name);
              return s && !s.vipsSet ? `this node's VIPs removed` : undefined;
            },
          },
          {
            key: 'peer-advert-master',
            required: true,
            wire: () => {
              const a = listener!.find(t0, (x) => x.priority > 0);
              if (!a) return undefined;
              report.peerInstance!.address = a.src;
              return { at: a.at, detail: `peer advert as MASTER (from ${a.src}, priority ${a.priority}, interval ${a.advertIntervalMs} ms)` };
            },
          },
          ...(arpOk
            ? [
                {
                  key: 'vip-arp-peer',
                  required: true,
                  wire: () => {
                    const r = prober!.firstFrom(t0, (mac) => mac !== myMac);
                    if (!r) return undefined;
                    report.peerInstance!.mac = r.mac;
                    return { at: r.at, detail: `VIP ${arpOk!.vip} ARP answered by peer MAC ${r.mac}` };
                  },
                },
              ]
            : []),
          // The daemon refreshes its VRRP snapshot on every transition, but VIP changes only with
          // its periodic refresh: the state is what counts, the VIPs are informational.
          {
            key: 'peer-status-master',
            required: true,
            poll: async () => {
              const s = (await peer.status(STATUS_TIMEOUT_MS)).vrrp?.instances.find((i) => i.name === p.name);
              return s && s.state === 'MASTER' ? `peer status MASTER (priority ${s.effectivePriority})` : undefined;
            },
          },
          {
            key: 'peer-status-vips',
            poll: async () => {
              const s = (await peer.status(STATUS_TIMEOUT_MS)).vrrp?.instances.find((i) => i.name === p.name);
              return s && s.state === 'MASTER' && s.vipsSet ? `peer status shows its VIPs set` : undefined;
            },
          },
        ];
      },
    });
    prober?.stop();
    if (prober && prober.errors.length) fo.notes.push(`arping: ${prober.errors.join('; ')}`);
    if (arpOk && prober) fo.notes.push(`${prober.sent.length} ARP requests sent, ${prober.replies.length} replies`);
    if (listener!.undecodable) fo.notes.push(`${listener!.undecodable} undecodable packet(s) for VRID ${me.vrid} ignored`);
    report.failover = fo;
    if (!fo.completed) {
      return finish(EXIT.invalid, 'fail', incomplete('failover', fo, peerTimeoutMs));
    }
    const verdict = `failover completed in ${fmtMs(fo.durationMs!)} (bound ${fmtMs(bound)} = ${fo.boundExplained})`;
    if (!fo.withinBound) return finish(EXIT.invalid, 'fail', `${verdict}: TOO SLOW`);
    out(`${verdict}: PASS`);

    // ---- hand-back ------------------------------------------------------------------------------
    if (!o.handBack) {
      return finish(EXIT.ok, 'pass', `drill passed; the peer stays MASTER (give --hand-back, or run 'vipkeeper stepdown' on the peer, to return mastership)`);
    }
    const hbBound = masterDownMs(me.effectivePriority, advertMs) + SLACK_MS;
    out('hand-back:');
    const hb = await measure({
      label: 'hand-back',
      boundMs: hbBound,
      boundExplained: `3 × ${advertMs} ms + Skew_Time ${fmtMs(skewMs(me.effectivePriority, advertMs))} (our priority ${me.effectivePriority}) + ${SLACK_MS} ms measurement slack`,
      timeoutMs: peerTimeoutMs,
      print: out,
      command: () => peer.stepDown(p.name, STATUS_TIMEOUT_MS),
      commandLabel: `stepdown sent to the peer (${p.name})`,
      probes: (t0) => [
        {
          key: 'peer-advert-priority-0',
          wire: () => {
            const a = listener!.find(t0, (x) => x.priority === 0);
            return a ? { at: a.at, detail: `peer advert with priority 0 (from ${a.src})` } : undefined;
          },
        },
        {
          key: 'peer-status-backup',
          required: true,
          poll: async () => {
            const s = (await peer.status(STATUS_TIMEOUT_MS)).vrrp?.instances.find((i) => i.name === p.name);
            return s && s.state !== 'MASTER' ? `peer status ${s.state}` : undefined;
          },
        },
        {
          key: 'local-master',
          required: true,
          poll: async () => {
            const s = (await ourStatus()).vrrp?.instances.find((i) => i.name === me.name);
            return s && s.state === 'MASTER' ? `this node MASTER again` : undefined;
          },
        },
        {
          key: 'local-vips-set',
          poll: async () => {
            const s = (await ourStatus()).vrrp?.instances.find((i) => i.name === me.name);
            return s && s.state === 'MASTER' && s.vipsSet ? `this node's status shows its VIPs set` : undefined;
          },
        },
      ],
    });
    hb.notes.push('ARP is not probed for the hand-back: this node then owns the VIP and does not answer its own requests');
    report.handBack = hb;
    if (!hb.completed) return finish(EXIT.invalid, 'fail', incomplete('hand-back', hb, peerTimeoutMs));
    const hbVerdict = `hand-back completed in ${fmtMs(hb.durationMs!)} (bound ${fmtMs(hbBound)} = ${hb.boundExplained})`;
    if (!hb.withinBound) return finish(EXIT.invalid, 'fail', `${hbVerdict}: TOO SLOW`);
    out(`${hbVerdict}: PASS`);
    return finish(EXIT.ok, 'pass', 'drill passed; mastership is back on this node');
  } finally {
    cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function incomplete(what: string, r: PhaseReport, timeoutMs: number): string {
  if (r.error) return `${what}: ${r.error}`;
  return `${what} did not complete within --peer-timeout ${fmtMs(timeoutMs)}: not seen: ${r.missing.join(', ')}`;
}

// ------------------------------------------------------------------------------------------------
// One measured phase: send a command at t0, then follow probes until the required ones are seen.

interface Probe {
  key: string;
  /** Needed for the phase to count as complete (and for its duration). */
  required?: boolean;
  /** Polled every POLL_MS: a detail string once the event happened. */
  poll?: () => Promise<string | undefined>;
  /** Checked every few ms against what a listener recorded, with the event's own time. */
  wire?: () => { at: number; detail: string } | undefined;
}

interface MeasureOptions {
  label: string;
  boundMs: number;
  boundExplained: string;
  timeoutMs: number;
  print: (s: string) => void;
  command: () => Promise<{ ok: boolean; message: string }>;
  commandLabel: string;
  probes: (t0: number) => Probe[];
}

async function measure(m: MeasureOptions): Promise<PhaseReport> {
  const events: TimelineEvent[] = [];
  const seen = new Set<string>();
  const t0 = nowMs();
  const t0Iso = isoNow();
  const add = (key: string, at: number, detail: string): void => {
    if (seen.has(key)) return;
    seen.add(key);
    const t = Math.max(0, Math.round((at - t0) * 10) / 10);
    events.push({ t, event: key, detail });
  };
  add('command-sent', t0, m.commandLabel);
  const notes: string[] = [];
  let failed: string | undefined;
  const cmd = m.command().then(
    (r) => {
      if (r.ok) add('command-acknowledged', nowMs(), `acknowledged: ${r.message}`);
      else failed = `the command was refused: ${r.message}`;
    },
    (e: unknown) => {
      failed = `the command failed: ${(e as Error).message}`;
    },
  );
  const probes = m.probes(t0);
  const required = probes.filter((p) => p.required).map((p) => p.key);
  const deadline = t0 + m.timeoutMs;

  // Pollers: each polls on its own so a slow status does not delay the others. Optional events
  // (VIPs in a status, which the daemon refreshes periodically) get a short grace after the
  // required ones.
  let requiredDoneAt: number | undefined;
  const graceOver = (): boolean => requiredDoneAt !== undefined && (!required.length || nowMs() > requiredDoneAt + GRACE_MS);
  const pollers = probes
    .filter((p) => p.poll)
    .map(async (p) => {
      while (!seen.has(p.key) && !failed && nowMs() < deadline && !(p.required ? requiredDoneAt !== undefined : graceOver())) {
        const before = nowMs();
        try {
          const d = await p.poll!();
          // The event happened between the request and the answer; take the answer's time.
          if (d) add(p.key, nowMs(), d);
        } catch (e) {
          if (notes.length < 20) notes.push(`${p.key}: ${(e as Error).message}`);
        }
        const left = POLL_MS - (nowMs() - before);
        if (left > 0) await sleep(left);
      }
    });
  const wires = probes.filter((p) => p.wire);
  while (!failed && nowMs() < deadline && !graceOver()) {
    for (const p of wires) {
      if (seen.has(p.key)) continue;
      const w = p.wire!();
      if (w) add(p.key, w.at, w.detail);
    }
    if (requiredDoneAt === undefined && required.every((k) => seen.has(k))) requiredDoneAt = nowMs();
    if (requiredDoneAt !== undefined && probes.every((p) => seen.has(p.key))) break;
    await sleep(5);
  }
  for (const p of wires) {
    if (seen.has(p.key)) continue;
    const w = p.wire!();
    if (w) add(p.key, w.at, w.detail);
  }
  await Promise.all(pollers);
  // The command's own answer (bounded by its timeout); never leave a timer behind.
  let raceTimer: NodeJS.Timeout | undefined;
  await Promise.race([cmd, new Promise<void>((r) => (raceTimer = setTimeout(r, Math.max(0, deadline - nowMs()))))]);
  clearTimeout(raceTimer);
  events.sort((a, b) => a.t - b.t);
  for (const e of events) m.print(`  t+${String(Math.round(e.t)).padEnd(6)} ms  ${e.detail}`);
  if (failed) notes.unshift(failed);
  for (const n of notes) m.print(`  note: ${n}`);
  const missing = required.filter((k) => !seen.has(k));
  const completed = !failed && missing.length === 0;
  const durationMs = completed ? Math.max(...events.filter((e) => required.includes(e.event)).map((e) => e.t)) : undefined;
  return {
    t0: t0Iso,
    events,
    completed,
    durationMs,
    boundMs: Math.round(m.boundMs),
    boundExplained: m.boundExplained,
    withinBound: durationMs !== undefined && durationMs <= m.boundMs,
    missing,
    ...(failed ? { error: failed } : {}),
    notes,
  };
}

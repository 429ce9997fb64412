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
import { parseDuration } from '../config/duration.js';
import {
  AdvertListener,
  ArpProber,
  compareIpvsTables,
  findArping,
  httpEndpoint,
  localAddresses,
  localMac,
  nowMs,
  primaryIpv4,
  sleep,
  socketEndpoint,
  type PeerEndpoint,
} from '../drill/probe.js';
import type { DaemonStatus } from '../daemon/control/status.js';
import type { InstanceStatus } from '../daemon/vrrp/types.js';
import { DaemonUnreachable, resolveSocket } from '../daemon/control/client.js';
import { masterDownIntervalMs, skewTimeMs } from '../vrrp/timers.js';
import { EXIT } from './exit-codes.js';
import { measure } from '../drill/measure.js';
import { ipvsCheck, localChecks, nodeIdentity, peerChecks, wireCheck, type PeerView } from '../drill/precheck.js';
import { timelineSvg } from '../drill/timeline-svg.js';
import { fmtMs, incomplete, isoNow, type DrillReport, type PrecheckResult } from '../drill/report.js';

export interface DrillOptions {
  socket?: string;
  instance?: string;
  peerSocket?: string;
  peerStatus?: string;
  peerTimeout?: string;
  handBack?: boolean;
  report?: string;
  /** Also draw the timeline as SVG into this file. */
  svg?: string;
  json?: boolean;
}

/** The measurement allowance added to a bound. */
const SLACK_MS = 100;
const STATUS_TIMEOUT_MS = 3000;

class Refusal extends Error {}

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
    if (o.svg) {
      try {
        writeFileSync(o.svg, timelineSvg(report));
      } catch (e) {
        fail(`cannot write the timeline ${o.svg}: ${(e as Error).message}`);
        if (code === EXIT.ok) code = EXIT.runtime;
        report.exitCode = code;
      }
    }
    if (o.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    if (result === 'refused') fail(`refused: ${message}`);
    else if (result === 'fail') fail(message);
    else out(message);
    if (wrote) out(`report: ${wrote}`);
    if (o.svg) out(`timeline: ${o.svg}`);
    return code;
  };

  /** Records and prints pre-checks; a failed one refuses the drill. */
  const record = (...results: PrecheckResult[]): void => {
    for (const r of results) {
      report.prechecks.push(r);
      out(`  ${!r.ok ? 'FAIL' : r.warning ? 'warn' : 'ok  '} ${r.detail}`);
      if (!r.ok) throw new Refusal(r.detail);
    }
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
  const advertMs = me.advertIntervalMs;
  report.instance = {
    name: me.name,
    vrid: me.vrid,
    version: me.version,
    family: me.family,
    interface: me.interface,
    vips: me.vips,
    priority: me.effectivePriority,
    advertIntervalMs: advertMs,
  };
  const vipAddrs = me.vips.map((v) => v.split('/')[0]!);
  // Our own adverts, whatever namespace this process runs in: the daemon's addresses and ours.
  const self = new Set([...nodeIdentity(me), ...localAddresses()]);
  const myMac = me.interface ? localMac(me.interface) : undefined;

  out(`vipkeeper drill: ${me.name} (VRID ${me.vrid}, VRRPv${me.version}, IPv${me.family}) on ${me.interface ?? '(no interface)'}, advert ${advertMs} ms; peer via ${peer.describe}`);
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
    record(...localChecks(me, ours));

    // 2, 3. The peer answers, is BACKUP for the same VRID, can take over, and hears us.
    const t = nowMs();
    const view: PeerView = await peer.status(Math.min(peerTimeoutMs, STATUS_TIMEOUT_MS)).then(
      (status) => ({ status, describe: peer.describe, latencyMs: nowMs() - t }),
      (e: unknown) => ({ error: (e as Error).message, describe: peer.describe }),
    );
    const peerSide = peerChecks(me, view, advertMs, SLACK_MS);
    peerInst = peerSide.peerInstance;
    if (peerInst) report.peerInstance = { name: peerInst.name, priority: peerInst.effectivePriority };
    record(...peerSide.checks);

    // 4. Same IPVS table on both.
    const theirs = view.status!;
    record(ipvsCheck(ours.ipvs, theirs.ipvs, compareIpvsTables(ours.ipvs, theirs.ipvs)));

    // 5. Nobody else advertises our VRID (we are the only MASTER).
    try {
      listener = new AdvertListener({ family: me.family, ifname: me.interface, vrid: me.vrid, self });
    } catch (e) {
      const err = e as Error & { code?: string };
      record({ check: 'wire', ok: false, detail: `cannot listen for VRRP adverts: ${err.message}${err.code === 'EPERM' ? ' (run the drill as root: it needs CAP_NET_RAW)' : ''}` });
    }
    const listenMs = Math.min(3 * advertMs, 3000);
    const t1 = nowMs();
    await sleep(listenMs);
    record(wireCheck(me.vrid, listener!.find(t1, (a) => a.priority > 0), listenMs));

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
    const bound = masterDownIntervalMs(me.version, p.effectivePriority, advertMs) + SLACK_MS;
    out('failover:');
    const fo = await measure({
      label: 'failover',
      boundMs: bound,
      boundExplained: `3 × ${advertMs} ms + Skew_Time ${fmtMs(skewTimeMs(me.version, p.effectivePriority, advertMs))} (peer priority ${p.effectivePriority}) + ${SLACK_MS} ms measurement slack`,
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
    const hbBound = masterDownIntervalMs(me.version, me.effectivePriority, advertMs) + SLACK_MS;
    out('hand-back:');
    const hb = await measure({
      label: 'hand-back',
      boundMs: hbBound,
      boundExplained: `3 × ${advertMs} ms + Skew_Time ${fmtMs(skewTimeMs(me.version, me.effectivePriority, advertMs))} (our priority ${me.effectivePriority}) + ${SLACK_MS} ms measurement slack`,
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

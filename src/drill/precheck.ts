/**
 * The drill's pre-checks, as pure functions of what the two daemons report: the drill refuses
 * unless this node is MASTER with its VIPs, the peer is a BACKUP for the same VRID that can take
 * over and hears this node, the IPVS tables agree, and nobody else advertises the VRID.
 *
 * Who "this node" is comes from this node's daemon (the source address its adverts carry, and its
 * VIPs), never from the interfaces of the process running the drill: run from another network
 * namespace, those are someone else's. A check over nothing (no IPVS table on either side) is a
 * warning, not an ok: it proves nothing.
 */
import type { DaemonStatus, IpvsStatus } from '../daemon/control/status.js';
import type { InstanceStatus } from '../daemon/vrrp/types.js';
import { canonicalIp, stripZone } from '../vocab/ip.js';
import type { PrecheckResult } from './report.js';

/** A received advert, as the drill's listener records it. */
export interface HeardAdvert {
  src: string;
  priority: number;
}

export interface PeerView {
  /** The peer's status, or why it could not be read. */
  status?: DaemonStatus;
  error?: string;
  describe: string;
  /** How long the status request took. */
  latencyMs?: number;
}

const ok = (check: string, detail: string): PrecheckResult => ({ check, ok: true, detail });
const fail = (check: string, detail: string): PrecheckResult => ({ check, ok: false, detail });
const warn = (check: string, detail: string): PrecheckResult => ({ check, ok: true, warning: true, detail });

/** The addresses that name this node, as its daemon reports them. */
export function nodeIdentity(me: InstanceStatus): Set<string> {
  const ids = new Set<string>();
  const add = (a: string | undefined) => {
    const c = a ? canonicalIp(stripZone(a).split('/')[0]!) : undefined;
    if (c) ids.add(c);
  };
  add(me.sourceIp);
  for (const v of me.vips) add(v);
  return ids;
}

/** This node: MASTER for the instance, its VIPs set, not in maintenance. */
export function localChecks(me: InstanceStatus, ours: DaemonStatus): PrecheckResult[] {
  const out: PrecheckResult[] = [];
  const master = me.state === 'MASTER' && me.vipsSet;
  out.push(
    (master ? ok : fail)(
      'local-master',
      `this node is ${me.state} for ${me.name}${me.state === 'MASTER' ? (me.vipsSet ? ` (priority ${me.effectivePriority}, VIPs ${me.vips.join(' ')} set)` : ' but its VIPs are not set') : ': the drill runs on the MASTER'}`,
    ),
  );
  if (master && (ours.maintenance || me.maintenance)) out.push(fail('local-maintenance', 'this node is in maintenance'));
  return out;
}

/**
 * The peer: reachable, BACKUP for our VRID and family, a priority that can take over, not in
 * maintenance, and following this node's adverts (heard within 3 advert intervals + slack).
 * Returns the checks up to the first failure, and the peer's instance when one was found.
 */
export function peerChecks(me: InstanceStatus, peer: PeerView, advertMs: number, slackMs: number): { checks: PrecheckResult[]; peerInstance?: InstanceStatus } {
  const checks: PrecheckResult[] = [];
  const theirs = peer.status;
  if (!theirs) {
    checks.push(fail('peer-reachable', `the peer does not answer: ${peer.error ?? 'no status'}`));
    return { checks };
  }
  checks.push(ok('peer-reachable', `peer answers (${peer.describe}${peer.latencyMs !== undefined ? `, ${Math.round(peer.latencyMs)} ms` : ''})`));
  const candidates = (theirs.vrrp?.instances ?? []).filter((i) => i.vrid === me.vrid && i.family === me.family);
  const p = candidates.find((i) => i.name === me.name) ?? candidates[0];
  if (!p) {
    checks.push(fail('peer-backup', `the peer runs no instance with VRID ${me.vrid} (IPv${me.family})`));
    return { checks };
  }
  checks.push((p.state === 'BACKUP' ? ok : fail)('peer-backup', `peer ${p.name} is ${p.state} for VRID ${me.vrid}${p.state === 'BACKUP' ? '' : ': it must be BACKUP'}`));
  if (p.state !== 'BACKUP') return { checks, peerInstance: p };
  const prioOk = p.effectivePriority >= 1 && p.effectivePriority <= 254 && !p.maintenance && !theirs.maintenance;
  checks.push(
    (prioOk ? ok : fail)(
      'peer-priority',
      prioOk
        ? `peer priority ${p.effectivePriority} (ours ${me.effectivePriority})`
        : `the peer cannot take over: priority ${p.effectivePriority}${p.maintenance || theirs.maintenance ? ', in maintenance' : ''}`,
    ),
  );
  if (!prioOk) return { checks, peerInstance: p };
  const self = nodeIdentity(me);
  const seen = p.masterSeen;
  const seenIp = seen ? (canonicalIp(stripZone(seen.ip)) ?? seen.ip) : undefined;
  const ageMs = seen && theirs.vrrp ? theirs.vrrp.at - seen.lastSeenAt : undefined;
  const isUs = seenIp !== undefined && self.has(seenIp);
  const fresh = ageMs === undefined || ageMs <= 3 * advertMs + slackMs;
  checks.push(
    (isUs && fresh ? ok : fail)(
      'peer-hears-us',
      !seen
        ? 'the peer has not heard a MASTER: it does not receive our adverts'
        : !isUs
          ? `the peer follows ${seen.ip}, which is not this node (this node advertises from ${me.sourceIp})`
          : !fresh
            ? `the peer last heard our adverts ${Math.round(ageMs!)} ms ago: it does not receive them now`
            : `peer hears our adverts (from ${seen.ip}${ageMs !== undefined ? `, ${Math.round(ageMs)} ms ago` : ''})`,
    ),
  );
  return { checks, peerInstance: p };
}

/** Both IPVS tables the same; a comparison of two empty or unmanaged tables is only a warning. */
export function ipvsCheck(ours: IpvsStatus | undefined, theirs: IpvsStatus | undefined, diffs: readonly string[]): PrecheckResult {
  if (diffs.length) return fail('ipvs-tables-match', `IPVS tables differ: ${diffs.join('; ')}`);
  const svc = ours?.table.length ?? 0;
  const dests = ours?.table.reduce((n, s) => n + s.dests.length, 0) ?? 0;
  if (!ours || !theirs) return warn('ipvs-tables-match', 'IPVS is managed on neither node: nothing to compare');
  if (svc === 0) {
    const why = [ours, theirs].some((t) => t.state === 'degraded') ? ` (IPVS is ${ours.state} here, ${theirs.state} on the peer)` : '';
    return warn('ipvs-tables-match', `both IPVS tables are empty${why}: the comparison proves nothing`);
  }
  return ok('ipvs-tables-match', `IPVS tables identical (${svc} service(s), ${dests} destination(s))`);
}

/** Nobody but us advertised the VRID (priority > 0) while we listened. */
export function wireCheck(vrid: number, other: HeardAdvert | undefined, listenedMs: number): PrecheckResult {
  return other
    ? fail('no-other-master', `another router advertises VRID ${vrid}: ${other.src} at priority ${other.priority}`)
    : ok('no-other-master', `no other router advertises VRID ${vrid} (listened ${Math.round(listenedMs)} ms)`);
}

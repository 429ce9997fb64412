// When a director announces a VIP: a PURE function of what it knows at one instant.
//
// A VIP is announced while (1) every virtual server behind it has its quorum (keepalived's:
// the alive real servers' weights reach `quorum`, with hysteresis; the health checker decides),
// (2) IPVS holds its services (for `served_by: ipvs`), and (3) nobody asked it to go away. It is
// withdrawn at once when (1) or (2) fails: this director cannot serve it. An operator's request
// drains first: the route stays, with the drain attributes (a worse MED, GRACEFUL_SHUTDOWN), so
// routers move new flows to the other directors, and it is withdrawn `drainGraceMs` after the
// request. Node maintenance (`vipkeeper maintenance on`) and a VIP's `drain: true` both drain.
//
// Order of the rules, first match wins: no verdict yet, quorum, IPVS, maintenance, drain, serving. Health comes
// first because draining a VIP this director cannot serve would only keep broken flows on it.

/** One virtual server behind a VIP, as the health checker sees it. */
export interface ServiceHealth {
  /** The virtual server's id (`10.0.0.1 80 TCP`, `fwmark 1`, `group NAME`). */
  vs: string;
  /** The pool's quorum verdict (keepalived: alive weight ≥ quorum, with hysteresis). */
  quorumUp: boolean;
  /** Real servers alive (every checker passes). */
  up: number;
  /** Real servers configured. */
  total: number;
  quorum: number;
  /** No verdict from the health checker yet (the daemon is starting). */
  pending?: boolean;
}

/** Everything the decision for one VIP depends on. Times are one monotonic clock, in ms. */
export interface AnnounceInput {
  now: number;
  /** The VIP's IPVS services are in the kernel (always true for a VIP served by local processes). */
  ipvsConverged: boolean;
  /** Why IPVS is not converged, for the reason text (e.g. the reconciler's last error). */
  ipvsDetail?: string;
  /** The virtual servers behind the VIP; none = nothing checks it. */
  services: readonly ServiceHealth[];
  /** Node maintenance, with the time it began. */
  maintenance?: { since: number };
  /** The VIP's own drain (config `drain: true`), with the time it began. */
  drain?: { since: number };
  drainGraceMs: number;
}

export type WithdrawCode = 'checks-pending' | 'quorum-lost' | 'ipvs-not-converged' | 'maintenance' | 'drained';

export type Decision =
  | { action: 'announce'; code: 'serving'; reason: string }
  | { action: 'announce-drain'; code: 'maintenance' | 'draining'; reason: string; withdrawAt: number }
  | { action: 'withdraw'; code: WithdrawCode; reason: string };

export function decide(input: AnnounceInput): Decision {
  const pending = input.services.filter((s) => s.pending);
  if (pending.length > 0) {
    return { action: 'withdraw', code: 'checks-pending', reason: `waiting for the first health verdicts (${pending.map((s) => s.vs).join('; ')})` };
  }
  const lost = input.services.filter((s) => !s.quorumUp);
  if (lost.length > 0) {
    const what = lost.map((s) => `${s.vs}: ${s.up} of ${s.total} real servers up, quorum ${s.quorum}`).join('; ');
    return { action: 'withdraw', code: 'quorum-lost', reason: `quorum lost (${what})` };
  }
  if (!input.ipvsConverged) {
    return { action: 'withdraw', code: 'ipvs-not-converged', reason: `IPVS does not hold the VIP's services yet${input.ipvsDetail ? ` (${input.ipvsDetail})` : ''}` };
  }
  if (input.maintenance) return drainPhase(input, input.maintenance.since, 'maintenance');
  if (input.drain) return drainPhase(input, input.drain.since, 'draining');
  const serving = input.services.length === 0 ? 'no virtual server checks it' : input.services.map((s) => `${s.vs}: ${s.up} of ${s.total} up`).join('; ');
  return { action: 'announce', code: 'serving', reason: `serving (${serving})` };
}

function drainPhase(input: AnnounceInput, since: number, why: 'maintenance' | 'draining'): Decision {
  const withdrawAt = since + input.drainGraceMs;
  const what = why === 'maintenance' ? 'node maintenance' : 'drain requested';
  if (input.now < withdrawAt) {
    const left = Math.ceil((withdrawAt - input.now) / 1000);
    return { action: 'announce-drain', code: why, reason: `${what}: announced with the drain attributes, withdrawn in ${left}s`, withdrawAt };
  }
  return { action: 'withdraw', code: why === 'maintenance' ? 'maintenance' : 'drained', reason: `${what}: drain grace over` };
}

/** The route attributes of one VIP, after its own values and the section defaults. */
export interface RouteAttributes {
  med: number;
  communities: readonly string[];
}

/** What the engine is told for one VIP: nothing (withdrawn), or a route with these attributes. */
export interface Announcement extends RouteAttributes {
  /** `192.0.2.10/32` or `2001:db8::10/128` */
  prefix: string;
  family: 4 | 6;
  draining: boolean;
}

/** The engine's view of one decision (undefined = withdrawn). */
export function announcementFor(
  route: { prefix: string; family: 4 | 6 },
  decision: Decision,
  attrs: { normal: RouteAttributes; drain: RouteAttributes },
): Announcement | undefined {
  if (decision.action === 'withdraw') return undefined;
  const draining = decision.action === 'announce-drain';
  const a = draining ? attrs.drain : attrs.normal;
  return { prefix: route.prefix, family: route.family, med: a.med, communities: [...a.communities], draining };
}

/** The earliest time a decision changes without new input (a drain grace ending), if any. */
export function nextDeadline(decisions: Iterable<Decision>): number | undefined {
  let at: number | undefined;
  for (const d of decisions) if (d.action === 'announce-drain' && (at === undefined || d.withdrawAt < at)) at = d.withdrawAt;
  return at;
}

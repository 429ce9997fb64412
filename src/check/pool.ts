/**
 * One virtual server's pool: which real servers are alive, their weights, quorum with hysteresis,
 * the sorry server, inhibit_on_failure. Pure and level-based: it takes checker verdicts in and gives
 * events (for notifiers and logs) plus `desired()`, the table the kernel should hold for this
 * service (for the IPVS reconciler).
 *
 * Rules (keepalived `ipwrapper.c`: `update_svr_checker_state`, `perform_svr_state`,
 * `update_quorum_state`, `update_svr_wgt`, `ipvs_cmd`; docs/keepalived.md §3):
 * - An RS is alive iff every one of its checkers is up. An RS without checkers is always alive.
 * - Its effective weight is the MISC dynamic weight if one is set, else the configured weight, plus
 *   any FILE_CHECK deltas, clamped to 0..65535 (`real_weight`).
 * - The pool weight is the sum of the effective weights of the alive RS.
 * - Quorum is gained when the pool weight is ≥ quorum + hysteresis (and > 0), and lost when it is
 *   < quorum − hysteresis (or 0). At start the quorum is up iff the weight is ≥ quorum + hysteresis.
 * - While the quorum is lost and a sorry server is configured, the sorry server is in the table and
 *   the real servers are out (inhibited ones stay at weight 0). When the quorum comes back, the
 *   sorry server goes (or drops to weight 0 with sorry_server_inhibit) and the alive RS return.
 * - Without a sorry server, losing the quorum changes nothing in the table; it only notifies.
 * - inhibit_on_failure: a dead RS stays in the table at weight 0 instead of being removed.
 */
import { realWeight, SORRY_WEIGHT, type LvsMethod, type RealServerPlan, type ServicePlan } from './spec.js';

/** The verdict of one checker as the pool needs it (a `VerdictOutput` fits). */
export interface CheckVerdictView {
  up: boolean;
  /** Absolute weight (MISC dynamic); undefined = configured weight. */
  weight?: number;
  /** Additive weight delta (FILE_CHECK). */
  weightDelta?: number;
}

export type PoolEvent =
  /** `check`: the checker whose change made it (keepalived's mail names that checker's kind). */
  | { type: 'rsUp' | 'rsDown'; vs: string; rs: string; address: string; port: number; weight: number; initial?: true; check?: string }
  | { type: 'rsWeight'; vs: string; rs: string; address: string; port: number; weight: number; previous: number }
  /** One checker of a real server went up or down while the real server's state stayed `alive` (keepalived mails these unless no_checker_emails). */
  | { type: 'checkUp' | 'checkDown'; vs: string; rs: string; address: string; port: number; check: string; alive: boolean }
  | { type: 'quorumUp' | 'quorumDown'; vs: string; weight: number; threshold: number; initial?: true }
  | { type: 'sorryIn' | 'sorryOut'; vs: string; sorry: string; address: string; port: number; initial?: true };

/**
 * What the kernel table of one service should hold: the input of the IPVS desired-state function.
 *
 * - `vs` is the service identity key (`ServicePlan.id`); `identity` says how to address it
 *   (address/port/protocol, fwmark, or a virtual_server_group whose every member gets this same
 *   backend set).
 * - `backends` holds exactly the destinations that must exist, sorted by `key`; anything else
 *   the reconciler owns under this service should be removed. `weight` is the weight to program:
 *   0 means "present but quiesced" (inhibit_on_failure, sorry_server_inhibit, a configured weight
 *   of 0). `port` is the RS port as configured (0 under fwmark/groups when unset); the reconciler
 *   applies the kernel's port rules for DR/TUN.
 * - `reason` explains each entry for status and dry-run output.
 * - `quorumUp`/`sorryActive` are informational: they are already reflected in `backends`.
 */
export interface DesiredBackends {
  vs: string;
  identity: ServicePlan['identity'];
  quorumUp: boolean;
  sorryActive: boolean;
  backends: DesiredBackend[];
}

export interface DesiredBackend {
  /** `ADDR:PORT` (IPv6 in brackets). */
  key: string;
  address: string;
  port: number;
  weight: number;
  role: 'real' | 'sorry';
  /**
   * alive: healthy RS at its effective weight; inhibited: failed RS kept at 0 (inhibit_on_failure);
   * displaced: healthy inhibit_on_failure RS kept at 0 while the sorry server serves;
   * sorry: the sorry server while the quorum is lost; sorryStandby: sorry_server_inhibit at 0.
   */
  reason: 'alive' | 'inhibited' | 'displaced' | 'sorry' | 'sorryStandby';
  lvsMethod: LvsMethod;
  tunnel?: RealServerPlan['tunnel'];
  uthreshold?: number;
  lthreshold?: number;
}

export interface RealServerState {
  key: string;
  address: string;
  port: number;
  alive: boolean;
  /** Effective weight (what the kernel gets while the RS is in use). */
  weight: number;
  configWeight: number;
  /** Per checker key: its current verdict. */
  checks: Record<string, CheckVerdictView>;
}

export interface PoolState {
  vs: string;
  quorum: number;
  hysteresis: number;
  quorumUp: boolean;
  sorryActive: boolean;
  /** Sum of the effective weights of the alive RS. */
  weight: number;
  /** The weight at which the quorum changes next (gain threshold when down, loss threshold when up). */
  threshold: number;
  realServers: RealServerState[];
}

/** What setCheck returns when nothing changed (every check of the steady state): shared, frozen. */
const NO_EVENTS: readonly PoolEvent[] = Object.freeze([]);

interface RsEntry {
  plan: RealServerPlan;
  /**
   * The verdict of each of `plan.checks`, by position (a Map per real server was ~150 bytes of
   * 37,300); a key that appears twice (the same checker twice) shares one verdict, the first.
   */
  checks: CheckVerdictView[];
  alive: boolean;
  weight: number;
}

/** Looks up the current verdict of a checker key (from the scheduler) for RS joining the pool. */
export type InitialVerdict = (checkKey: string) => CheckVerdictView | undefined;

export class ServicePool {
  private plan: ServicePlan;
  private readonly rs = new Map<string, RsEntry>();
  private quorumUp = false;

  constructor(plan: ServicePlan, initial: InitialVerdict = () => undefined) {
    this.plan = plan;
    for (const r of plan.realServers) this.rs.set(r.key, this.newEntry(r, initial));
    this.quorumUp = this.startQuorum();
  }

  get id(): string {
    return this.plan.id;
  }

  get servicePlan(): ServicePlan {
    return this.plan;
  }

  /** The events describing the starting state (every alive RS, the quorum, the sorry server), all `initial`. */
  bootstrap(): PoolEvent[] {
    const events: PoolEvent[] = [];
    for (const e of this.rs.values()) {
      // a literal, not a spread of rsFields: 37,300 of these at start
      if (e.alive) events.push({ type: 'rsUp', vs: this.plan.id, rs: e.plan.key, address: e.plan.address, port: e.plan.port, weight: e.weight, initial: true });
    }
    events.push({ type: this.quorumUp ? 'quorumUp' : 'quorumDown', vs: this.plan.id, weight: this.poolWeight(), threshold: this.threshold(), initial: true });
    const sorry = this.plan.sorry;
    if (sorry && !this.quorumUp) events.push({ type: 'sorryIn', vs: this.plan.id, sorry: sorry.key, address: sorry.address, port: sorry.port, initial: true });
    return events;
  }

  /** A checker of an RS reported. Returns the resulting events (possibly none). */
  setCheck(rsKey: string, checkKey: string, verdict: CheckVerdictView): readonly PoolEvent[] {
    const e = this.rs.get(rsKey);
    if (!e) return NO_EVENTS;
    const i = indexOf(e.plan, checkKey);
    const prev = e.checks[i];
    if (!prev) return NO_EVENTS;
    // The steady state (same verdict as last time): nothing can change, skip the pool walk.
    if (prev.up === verdict.up && prev.weight === verdict.weight && prev.weightDelta === verdict.weightDelta) return NO_EVENTS;
    e.checks[i] = view(verdict);
    const events: PoolEvent[] = [];
    const wasAlive = e.alive;
    this.refreshRs(e, events, checkKey);
    if (prev.up !== verdict.up && e.alive === wasAlive) events.push({ type: verdict.up ? 'checkUp' : 'checkDown', ...this.rsFields(e), check: checkKey, alive: e.alive });
    this.refreshQuorum(events);
    return events;
  }

  /**
   * Reload: adopt a new plan for the same service. RS and checkers present in both keep their state;
   * new RS start from their checkers' current verdicts (`initial`; alpha → down, else up); removed
   * RS are dropped without events (they leave `desired()`). Quorum is re-evaluated.
   */
  applyPlan(plan: ServicePlan, initial: InitialVerdict = () => undefined): PoolEvent[] {
    const events: PoolEvent[] = [];
    const old = new Map(this.rs);
    this.plan = plan;
    this.rs.clear();
    for (const r of plan.realServers) {
      const prev = old.get(r.key);
      if (!prev) {
        const e = this.newEntry(r, initial);
        this.rs.set(r.key, e);
        if (e.alive) events.push({ type: 'rsUp', vs: this.plan.id, rs: e.plan.key, address: e.plan.address, port: e.plan.port, weight: e.weight });
        continue;
      }
      // the same checkers (the usual reload): the entry's verdicts stay as they are
      let checks = prev.checks;
      if (!sameKeys(r, prev.plan)) {
        checks = r.checks.map((c) => {
          const j = prev.plan.checks.findIndex((p) => p.key === c.key);
          return (j >= 0 ? prev.checks[j] : undefined) ?? view(initial(c.key) ?? { up: !c.timing.alpha });
        });
      }
      const e: RsEntry = { plan: r, checks, alive: prev.alive, weight: prev.weight };
      this.rs.set(r.key, e);
      this.refreshRs(e, events);
    }
    this.refreshQuorum(events);
    return events;
  }

  state(): PoolState {
    return {
      vs: this.plan.id,
      quorum: this.plan.quorum,
      hysteresis: this.plan.hysteresis,
      quorumUp: this.quorumUp,
      sorryActive: this.sorryActive,
      weight: this.poolWeight(),
      threshold: this.threshold(),
      realServers: [...this.rs.values()].map((e) => ({
        key: e.plan.key,
        address: e.plan.address,
        port: e.plan.port,
        alive: e.alive,
        weight: e.weight,
        configWeight: e.plan.weight,
        checks: Object.fromEntries(e.plan.checks.map((c) => [c.key, e.checks[indexOf(e.plan, c.key)] as CheckVerdictView])),
      })),
    };
  }

  rsState(rsKey: string): RealServerState | undefined {
    return this.state().realServers.find((r) => r.key === rsKey);
  }

  get sorryActive(): boolean {
    return this.plan.sorry !== undefined && !this.quorumUp;
  }

  desired(): DesiredBackends {
    const sorryActive = this.sorryActive;
    const backends: DesiredBackend[] = [];
    for (const e of this.rs.values()) {
      const p = e.plan;
      let weight: number | undefined;
      let reason: DesiredBackend['reason'] | undefined;
      if (e.alive && !sorryActive) {
        weight = e.weight;
        reason = 'alive';
      } else if (p.inhibitOnFailure) {
        weight = 0;
        reason = e.alive ? 'displaced' : 'inhibited';
      }
      if (weight === undefined || reason === undefined) continue;
      backends.push({
        key: p.key,
        address: p.address,
        port: p.port,
        weight,
        role: 'real',
        reason,
        lvsMethod: p.lvsMethod,
        ...(p.tunnel ? { tunnel: p.tunnel } : {}),
        ...(p.uthreshold !== undefined ? { uthreshold: p.uthreshold } : {}),
        ...(p.lthreshold !== undefined ? { lthreshold: p.lthreshold } : {}),
      });
    }
    const s = this.plan.sorry;
    if (s && (sorryActive || s.inhibit)) {
      const entry: DesiredBackend = {
        key: s.key,
        address: s.address,
        port: s.port,
        weight: sorryActive ? SORRY_WEIGHT : 0,
        role: 'sorry',
        reason: sorryActive ? 'sorry' : 'sorryStandby',
        lvsMethod: s.lvsMethod,
      };
      // A sorry server that is also a real server (keepalived `s_svr_duplicates_rs`): one entry.
      const dup = backends.findIndex((b) => b.key === s.key);
      if (dup < 0) backends.push(entry);
      else if (sorryActive) backends[dup] = entry;
    }
    backends.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { vs: this.plan.id, identity: this.plan.identity, quorumUp: this.quorumUp, sorryActive, backends };
  }

  // ------------------------------------------------------------------ internals

  private newEntry(r: RealServerPlan, initial: InitialVerdict): RsEntry {
    const checks = r.checks.map((c) => view(initial(c.key) ?? { up: !c.timing.alpha }));
    const e: RsEntry = { plan: r, checks, alive: false, weight: 0 };
    e.alive = allUp(e);
    e.weight = effectiveWeight(e);
    return e;
  }

  private refreshRs(e: RsEntry, events: PoolEvent[], check?: string): void {
    const alive = allUp(e);
    const weight = effectiveWeight(e);
    const previous = e.weight;
    if (alive !== e.alive) {
      e.alive = alive;
      e.weight = weight;
      events.push({ type: alive ? 'rsUp' : 'rsDown', ...this.rsFields(e), weight, ...(check !== undefined ? { check } : {}) });
    } else if (weight !== previous) {
      e.weight = weight;
      if (alive) events.push({ type: 'rsWeight', ...this.rsFields(e), weight, previous });
    }
  }

  private rsFields(e: RsEntry): { vs: string; rs: string; address: string; port: number } {
    return { vs: this.plan.id, rs: e.plan.key, address: e.plan.address, port: e.plan.port };
  }

  private poolWeight(): number {
    let sum = 0;
    for (const e of this.rs.values()) if (e.alive) sum += e.weight;
    return sum;
  }

  private threshold(): number {
    const { quorum, hysteresis } = this.plan;
    return this.quorumUp ? quorum - hysteresis : quorum + hysteresis;
  }

  private startQuorum(): boolean {
    const w = this.poolWeight();
    return w > 0 && w >= this.plan.quorum + this.plan.hysteresis;
  }

  private refreshQuorum(events: PoolEvent[]): void {
    const w = this.poolWeight();
    const threshold = this.threshold();
    const sorry = this.plan.sorry;
    if (!this.quorumUp && w > 0 && w >= threshold) {
      this.quorumUp = true;
      events.push({ type: 'quorumUp', vs: this.plan.id, weight: w, threshold });
      if (sorry) events.push({ type: 'sorryOut', vs: this.plan.id, sorry: sorry.key, address: sorry.address, port: sorry.port });
    } else if (this.quorumUp && (w === 0 || w < threshold)) {
      this.quorumUp = false;
      events.push({ type: 'quorumDown', vs: this.plan.id, weight: w, threshold });
      if (sorry) events.push({ type: 'sorryIn', vs: this.plan.id, sorry: sorry.key, address: sorry.address, port: sorry.port });
    }
  }
}

function sameKeys(r: RealServerPlan, old: RealServerPlan): boolean {
  if (r.checks.length !== old.checks.length) return false;
  for (let i = 0; i < r.checks.length; i++) if (r.checks[i]?.key !== old.checks[i]?.key) return false;
  return true;
}

/** The first position of a checker key in a real server's checks (-1: none). */
function indexOf(plan: RealServerPlan, key: string): number {
  const cs = plan.checks;
  if (cs.length === 1) return cs[0]?.key === key ? 0 : -1;
  for (let i = 0; i < cs.length; i++) if (cs[i]?.key === key) return i;
  return -1;
}

/** A later checker with the key of an earlier one: its verdict is the earlier one's (counted once). */
function repeated(plan: RealServerPlan, i: number): boolean {
  return i > 0 && indexOf(plan, (plan.checks[i] as { key: string }).key) < i;
}

const UP: CheckVerdictView = Object.freeze({ up: true });
const DOWN: CheckVerdictView = Object.freeze({ up: false });

/** A verdict as the pool keeps it: the shared UP or DOWN when it carries no weight (most do). */
function view(v: CheckVerdictView): CheckVerdictView {
  if (v.weight === undefined && v.weightDelta === undefined) return v.up ? UP : DOWN;
  return { up: v.up, ...weightFields(v) };
}

function allUp(e: RsEntry): boolean {
  for (let i = 0; i < e.checks.length; i++) if (!(e.checks[i] as CheckVerdictView).up && !repeated(e.plan, i)) return false;
  return true;
}

function effectiveWeight(e: RsEntry): number {
  let absolute: number | undefined;
  let delta = 0;
  for (let i = 0; i < e.checks.length; i++) {
    const v = e.checks[i] as CheckVerdictView;
    if (repeated(e.plan, i)) continue;
    if (absolute === undefined && v.weight !== undefined) absolute = v.weight;
    if (v.weightDelta !== undefined) delta += v.weightDelta;
  }
  return realWeight((absolute ?? e.plan.weight) + delta);
}

function weightFields(v: CheckVerdictView): Pick<CheckVerdictView, 'weight' | 'weightDelta'> {
  return {
    ...(v.weight !== undefined ? { weight: v.weight } : {}),
    ...(v.weightDelta !== undefined ? { weightDelta: v.weightDelta } : {}),
  };
}

/**
 * A pure, sans-IO VRRP instance (one virtual router), shaped like quinn-proto's `Connection`:
 *
 * - inputs take a monotonic `now` in milliseconds: `start`, `handleAdvert`, `handleTimeout`,
 *   `setTrack`, `linkChange`, `command`, `forceSync`;
 * - outputs are polled: `pollTransmit()` (adverts to send, with the priority to put in them),
 *   `pollEvent()` (state changes, VIP and GARP work, notifies), `pollTimeout()` (next deadline);
 * - getters: `state`, `effectivePriority`, `snapshot()`.
 *
 * After every input the driver should drain `pollTransmit()` FIRST, then `pollEvent()`, then
 * re-read `pollTimeout()`. Transmit-first gives keepalived's order on takeover (docs/vrrp.md §5.3: the
 * advert goes out before our GARPs so the old master drops the VIPs first).
 *
 * There is no clock, no timer, no socket here. Every state decision comes from the table in
 * `transitions.ts`; this file classifies inputs and carries out the table's actions.
 *
 * The parameters (keepalived's defaults, validation, fix-ups) are in `instance-params.ts`, re-exported
 * here. What is left is the machine: RFC 5798's receive rules, timers and the actions of every state
 * share one instance's private fields, and splitting them would turn those fields into a public
 * surface that the driver could then change behind the state machine's back.
 */

import type { NotifyState } from '../vocab/states.js';
import {
  TRANSITIONS,
  classifyAdvert,
  type ReceivedAdvert,
  type TransitionRule,
  type VrrpAction,
  type VrrpInput,
  type VrrpState,
} from './transitions.js';
import {
  TimerTable,
  masterDownIntervalUs,
  msToUs,
  skewMinUs,
  skewTimeUs,
  usToMs,
} from './timers.js';

import { applyFixups, validateParams, VrrpUsageError, type VrrpInstanceParams } from './instance-params.js';

export type { VrrpInput, VrrpState } from './transitions.js';
export {
  VRRP_DEFAULTS,
  VrrpUsageError,
  resolveVrrpParams,
  validateParams,
  type GarpParams,
  type VrrpInstanceInput,
  type VrrpInstanceParams,
} from './instance-params.js';

/** A received advert, already validated by the codec (checksum, TTL, version, VRID, auth…). */
export type { ReceivedAdvert };

/** An advert to send now. */
export interface VrrpTransmit {
  priority: number;
  advertIntervalMs: number;
}

export interface TrackInput {
  /** Sum of the weighted trackers' contributions (docs/vrrp.md §5.7). */
  weightDelta: number;
  /** A weight-0 tracker failed (or another condition that means FAULT). */
  fault: boolean;
  reason: string;
}

export type VrrpCommand = 'stepDown' | 'maintenanceOn' | 'maintenanceOff' | 'shutdown';
export type SyncState = 'MASTER' | 'BACKUP' | 'FAULT';
export type WantState = 'MASTER' | 'BACKUP' | 'FAULT';
/** The notify states the machine itself raises (DELETED and the *_PRIORITY lines are the driver's). */
export type MachineNotifyState = Exclude<NotifyState, 'DELETED' | 'MASTER_PRIORITY' | 'BACKUP_PRIORITY'>;
export type GarpCause = 'becomeMaster' | 'masterDelay' | 'refresh' | 'lowerPrio' | 'lowerPrioDelay' | 'lowerPrioSync';

export type VrrpEvent =
  | { type: 'stateChange'; from: VrrpState; to: VrrpState; reason: string }
  | { type: 'addVips' }
  | { type: 'removeVips' }
  /** Send `repeat` rounds of GARP/NA over every VIP, `intervalMs` apart per packet (vrrp_garp_interval). */
  | { type: 'sendGarp'; repeat: number; intervalMs: number; cause: GarpCause }
  | { type: 'notify'; state: MachineNotifyState }
  /** While MASTER: an advert from another router (lower → we re-assert; higher → we yield). */
  | { type: 'otherMasterSeen'; srcIp: string; priority: number }
  /** While BACKUP: the master we accept adverts from changed (or was first seen). */
  | { type: 'masterSeen'; srcIp: string }
  /** Effective priority changed (keepalived's MASTER_PRIORITY / BACKUP_PRIORITY FIFO events). */
  | { type: 'priorityChange'; from: number; to: number }
  /** Sync-group member only: our down timer expired; the group decides (docs/vrrp.md §5.8). */
  | { type: 'wantMaster' };

export interface VrrpCounters {
  advertsSent: number;
  priorityZeroSent: number;
  advertsReceived: number;
  priorityZeroReceived: number;
  advertsDropped: number;
  lowerPriorityDiscarded: number;
  sameIpConflicts: number;
  becameMaster: number;
  releasedMaster: number;
  garpBursts: number;
}

export interface TransitionRecord {
  at: number;
  from: VrrpState;
  to: VrrpState;
  reason: string;
}

export interface VrrpSnapshot {
  name: string;
  vrid: number;
  version: 2 | 3;
  state: VrrpState;
  wantState: WantState;
  basePriority: number;
  effectivePriority: number;
  advertIntervalMs: number;
  /** Master_Adver_Interval: learned from the master in v3 BACKUP, else local. */
  masterAdvertIntervalMs: number;
  masterDownIntervalMs: number;
  master: { ip: string; priority: number; lastSeenAt: number } | undefined;
  lastDiscardedMasterIp: string | undefined;
  vipsSet: boolean;
  maintenance: boolean;
  stepDownHold: boolean;
  fault: { link: boolean; track: boolean; reason: string };
  preemptDelayUntil: number | undefined;
  nextTimeout: number | undefined;
  syncGroup: string | undefined;
  configWarnings: readonly string[];
  counters: VrrpCounters;
  transitions: readonly TransitionRecord[];
}

/** One input as the state machine saw it: which table entry was used. */
export interface VrrpTraceRecord {
  now: number;
  instance: string;
  state: VrrpState;
  input: VrrpInput;
  rule: TransitionRule['kind'];
  next: VrrpState;
  reason: string;
}

export interface VrrpInstanceOptions {
  /** Called for every table lookup (a no-op by default), e.g. for debug logging or tests. */
  trace?: (record: VrrpTraceRecord) => void;
}

type TimerKey = 'masterDown' | 'advert' | 'garpDelay' | 'garpRefresh' | 'garpLowerPrio';
const TIMER_ORDER: readonly TimerKey[] = ['masterDown', 'advert', 'garpDelay', 'garpRefresh', 'garpLowerPrio'];

interface SyncMembership {
  group: string;
  /** keepalived ignores weighted trackers of sync members unless `sync_group_tracking_weight`. */
  ignoreTrackWeights: boolean;
  /** True when every member is `state MASTER` + priority 255, so owners may start as MASTER. */
  ownersMayStartMaster: boolean;
}

interface InputContext {
  reason: string;
  adv?: ReceivedAdvert;
  oldPriority?: number;
  /** The advert timer's own deadline when the input is its expiry (a driver may call late). */
  advertDeadline?: number;
}

export class VrrpInstance {
  private p: Readonly<VrrpInstanceParams>;
  private warnings: readonly string[];

  private currentState: VrrpState = 'INIT';
  private want: WantState;
  private trackWeight = 0;
  private trackFault = false;
  private trackReason = '';
  private linkUp = true;
  private effPriority: number;
  private masterAdverIntervalUs: number;
  private master: { ip: string; priority: number; lastSeenAt: number } | undefined;
  private lastDiscardedMasterIp: string | undefined;
  private vipsSet = false;
  private maintenance = false;
  private stepDownHold = false;
  private preemptUntil: number | undefined;
  private nextMasterReason = 'no advert received within Master_Down_Interval';
  private sync: SyncMembership | undefined;
  private lastNow: number | undefined;
  private readonly timers = new TimerTable<TimerKey>();
  private readonly transmits: VrrpTransmit[] = [];
  private readonly events: VrrpEvent[] = [];
  private readonly history: TransitionRecord[] = [];
  private readonly counters: VrrpCounters = {
    advertsSent: 0,
    priorityZeroSent: 0,
    advertsReceived: 0,
    priorityZeroReceived: 0,
    advertsDropped: 0,
    lowerPriorityDiscarded: 0,
    sameIpConflicts: 0,
    becameMaster: 0,
    releasedMaster: 0,
    garpBursts: 0,
  };

  private readonly trace: ((record: VrrpTraceRecord) => void) | undefined;

  constructor(params: VrrpInstanceParams, options: VrrpInstanceOptions = {}) {
    validateParams(params);
    this.trace = options.trace;
    const fixed = applyFixups(params);
    this.p = fixed.params;
    this.warnings = fixed.warnings;
    this.want = params.initialState;
    this.effPriority = this.computeEffectivePriority();
    this.masterAdverIntervalUs = msToUs(params.advertIntervalMs);
  }

  // ---- getters ---------------------------------------------------------------------------------

  /** The parameters in effect (a reload may retune them in place). */
  get params(): Readonly<VrrpInstanceParams> {
    return this.p;
  }
  /** Config fix-ups applied as keepalived would, with the reason. */
  get configWarnings(): readonly string[] {
    return this.warnings;
  }

  get name(): string {
    return this.p.name;
  }
  get state(): VrrpState {
    return this.currentState;
  }
  /** The state this instance would be in without a sync group (keepalived `wantstate`). */
  get wantState(): WantState {
    return this.want;
  }
  get effectivePriority(): number {
    return this.effPriority;
  }
  /** The instance's own fault condition (link down or a failed weight-0 tracker). */
  get hasOwnFault(): boolean {
    return !this.linkUp || this.trackFault;
  }
  get syncGroup(): string | undefined {
    return this.sync?.group;
  }
  /** Master_Adver_Interval in ms (learned in v3 BACKUP, else local). */
  get masterAdvertIntervalMs(): number {
    return usToMs(this.masterAdverIntervalUs);
  }
  /** Current Master_Down_Interval in ms, from the effective priority and Master_Adver_Interval. */
  get masterDownIntervalMs(): number {
    return usToMs(this.masterDownUs());
  }
  /** Current Skew_Time in ms. */
  get skewTimeMs(): number {
    return usToMs(skewTimeUs(this.p.version, this.effPriority, this.masterAdverIntervalUs));
  }

  // ---- outputs ---------------------------------------------------------------------------------

  pollTransmit(): VrrpTransmit | undefined {
    return this.transmits.shift();
  }

  pollEvent(): VrrpEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): number | undefined {
    return this.timers.next();
  }

  // ---- inputs ----------------------------------------------------------------------------------

  /**
   * A reload's new parameters, applied in place: no restart, no state change of its own, no VIP
   * touched. A new priority is handled as any priority change (a BACKUP's down timer moves by the
   * change of skew; a MASTER's next advert carries it, and a peer with a higher priority then takes
   * over once, by the protocol). A new advert interval is used from the next advert or down-timer
   * arming (a v3 BACKUP keeps the interval it learned from its master); preemption, GARP and timer
   * settings from the next time they are read. The VRID and the address family identify the
   * virtual router: changing them needs a new instance.
   */
  retune(now: number, next: VrrpInstanceParams): void {
    this.checkTime(now);
    validateParams(next);
    const old = this.p;
    if (next.name !== old.name || next.vrid !== old.vrid || next.family !== old.family) {
      throw new VrrpUsageError(`Instance "${old.name}": the name, VRID and family cannot change in place`);
    }
    const fixed = applyFixups(next);
    this.p = fixed.params;
    this.warnings = fixed.warnings;
    const learned = next.version === 3 && old.version === 3 && this.currentState === 'BACKUP' && this.master !== undefined;
    if (!learned) this.masterAdverIntervalUs = msToUs(next.advertIntervalMs);
    if (!this.p.preempt || this.p.preemptDelayMs === 0) this.preemptUntil = undefined;
    this.afterConditionChange(now, this.hasOwnFault, 'reload');
  }

  /** Called by `VrrpSyncGroup` before start. */
  attachToSyncGroup(group: string, opts: { ignoreTrackWeights: boolean; ownersMayStartMaster: boolean }): void {
    if (this.currentState !== 'INIT') throw new VrrpUsageError(`Cannot add started instance "${this.name}" to sync group "${group}"`);
    if (this.sync) throw new VrrpUsageError(`Instance "${this.name}" is already in sync group "${this.sync.group}"`);
    this.sync = { group, ...opts };
    this.effPriority = this.computeEffectivePriority();
  }

  /**
   * Before start: behave as after a step-down (no preemption of a lower-priority master) until this
   * instance next becomes MASTER or accepts an advert with a priority ≥ its own. Used when the VRRP
   * engine is restarted after a crash: the peer may have taken over meanwhile, and grabbing the VIPs
   * back would make a second handover.
   */
  holdPreemption(): void {
    if (this.currentState !== 'INIT') throw new VrrpUsageError(`Instance "${this.name}": preemption can be held only before start`);
    this.stepDownHold = true;
  }

  /** keepalived `vrrp_init_state` (docs/vrrp.md §5.1). */
  start(now: number): void {
    this.checkTime(now);
    const p = this.p;
    let input: VrrpInput;
    let reason: string;
    if (this.hasOwnFault) {
      input = 'startFault';
      reason = `startup: not up (${this.faultReason()})`;
    } else if (
      p.initialState === 'MASTER' &&
      p.priority === 255 &&
      !this.maintenance &&
      (!this.sync || this.sync.ownersMayStartMaster)
    ) {
      input = 'startOwner';
      reason = 'startup: address owner (priority 255) with state MASTER';
    } else if (this.sync && p.initialState === 'MASTER' && !this.maintenance) {
      input = 'startBackupWantMaster';
      reason = `startup: state MASTER held in BACKUP by sync group "${this.sync.group}"`;
    } else {
      input = 'startBackup';
      reason =
        p.initialState === 'MASTER'
          ? 'startup: state MASTER with priority below 255 waits Master_Down_Interval in BACKUP'
          : 'startup';
    }
    this.apply(now, input, { reason });
  }

  handleAdvert(now: number, adv: ReceivedAdvert): void {
    this.checkTime(now);
    if (this.currentState === 'INIT' || this.currentState === 'STOP') return;
    this.counters.advertsReceived++;
    if (adv.priority === 0) this.counters.priorityZeroReceived++;
    const input = classifyAdvert(
      {
        version: this.p.version,
        localAdvertIntervalMs: this.p.advertIntervalMs,
        basePriority: this.p.priority,
        effectivePriority: this.effPriority,
        primaryIp: this.p.primaryIp,
        ownerIgnoreAdverts: this.p.ownerIgnoreAdverts,
        preempt: this.p.preempt,
        preemptDelayMs: this.p.preemptDelayMs,
        preemptUntil: this.preemptUntil,
        holdOff: this.maintenance || this.stepDownHold,
        now,
      },
      adv,
    );
    this.apply(now, input, { reason: this.advertReason(input, adv), adv });
  }

  /** Fire every expired timer. A call before the next deadline does nothing. */
  handleTimeout(now: number): void {
    this.checkTime(now);
    for (let guard = 0; guard < 10_000; guard++) {
      const due = this.timers.popExpired(now, TIMER_ORDER);
      if (!due) return;
      switch (due.key) {
        case 'masterDown':
          this.apply(now, this.sync ? 'downTimerExpiredSyncHeld' : 'downTimerExpired', {
            reason: this.nextMasterReason,
          });
          break;
        case 'advert':
          this.apply(now, 'advertTimerExpired', { reason: 'advert timer', advertDeadline: due.at });
          break;
        case 'garpDelay':
          this.apply(now, 'garpDelayExpired', { reason: 'garp_master_delay' });
          break;
        case 'garpRefresh':
          this.apply(now, 'garpRefreshExpired', { reason: 'garp_master_refresh' });
          break;
        case 'garpLowerPrio':
          this.apply(now, 'garpLowerPrioDelayExpired', { reason: 'garp_lower_prio_delay' });
          break;
      }
    }
    throw new VrrpUsageError(`Instance "${this.name}": timer loop did not settle`);
  }

  /** Tracker results: weighted sum and weight-0 failure (docs/vrrp.md §5.7). */
  setTrack(now: number, track: TrackInput): void {
    this.checkTime(now);
    const wasFault = this.hasOwnFault;
    this.trackWeight = track.weightDelta;
    this.trackFault = track.fault;
    this.trackReason = track.reason;
    this.afterConditionChange(now, wasFault, track.reason);
  }

  linkChange(now: number, up: boolean): void {
    this.checkTime(now);
    const wasFault = this.hasOwnFault;
    this.linkUp = up;
    this.afterConditionChange(now, wasFault, up ? 'link up' : 'link down');
  }

  /**
   * Operator commands:
   * - `shutdown`: a MASTER sends priority 0 and removes the VIPs; every state goes to STOP.
   * - `stepDown` (failover drill): a MASTER sends priority 0 and goes BACKUP, so the best backup
   *   takes over after its Skew_Time. Until this instance next becomes MASTER (or accepts an
   *   advert with a priority ≥ its own) it behaves as `nopreempt`, so it does not grab the VIPs
   *   back from a lower-priority master. Not MASTER: no-op.
   * - `maintenanceOn`: stop competing. A MASTER hands over like stepDown (priority 0); then the
   *   instance stays a silent BACKUP: it sends nothing, accepts every advert and its down timer
   *   is disarmed, so it never takes over (even if no master remains). FAULT still applies.
   * - `maintenanceOff`: compete again; a BACKUP re-arms a full Master_Down_Interval.
   */
  command(now: number, cmd: VrrpCommand): void {
    this.checkTime(now);
    switch (cmd) {
      case 'shutdown':
        this.apply(now, 'cmdShutdown', { reason: 'shutdown' });
        break;
      case 'stepDown':
        this.apply(now, 'cmdStepDown', { reason: 'step down (operator)' });
        break;
      case 'maintenanceOn':
        this.maintenance = true;
        this.apply(now, 'cmdMaintenanceOn', { reason: 'maintenance on (operator)' });
        break;
      case 'maintenanceOff':
        this.maintenance = false;
        this.apply(now, 'cmdMaintenanceOff', { reason: 'maintenance off (operator)' });
        break;
    }
  }

  /**
   * Sync-group decisions (docs/vrrp.md §5.8). `BACKUP` is ignored while the instance has its own fault.
   */
  forceSync(now: number, state: SyncState, reason?: string): void {
    this.checkTime(now);
    const why = reason ?? `sync group "${this.sync?.group ?? '-'}" → ${state}`;
    if (state === 'MASTER') this.apply(now, 'syncMaster', { reason: why });
    else if (state === 'FAULT') this.apply(now, 'syncFault', { reason: why });
    else if (!this.hasOwnFault) this.apply(now, 'syncBackup', { reason: why });
  }

  /** A sync-group sibling received a lower-priority advert: send our lower-priority GARPs too. */
  relayLowerPrioGarp(now: number): void {
    this.checkTime(now);
    this.apply(now, 'syncLowerPrioGarp', { reason: 'lower-priority advert seen by a sync-group sibling' });
  }

  snapshot(): VrrpSnapshot {
    return {
      name: this.name,
      vrid: this.p.vrid,
      version: this.p.version,
      state: this.currentState,
      wantState: this.want,
      basePriority: this.p.priority,
      effectivePriority: this.effPriority,
      advertIntervalMs: this.p.advertIntervalMs,
      masterAdvertIntervalMs: this.masterAdvertIntervalMs,
      masterDownIntervalMs: this.masterDownIntervalMs,
      master: this.master ? { ...this.master } : undefined,
      lastDiscardedMasterIp: this.lastDiscardedMasterIp,
      vipsSet: this.vipsSet,
      maintenance: this.maintenance,
      stepDownHold: this.stepDownHold,
      fault: { link: !this.linkUp, track: this.trackFault, reason: this.hasOwnFault ? this.faultReason() : '' },
      preemptDelayUntil: this.preemptUntil,
      nextTimeout: this.pollTimeout(),
      syncGroup: this.sync?.group,
      configWarnings: this.configWarnings,
      counters: { ...this.counters },
      transitions: this.history.map((r) => ({ ...r })),
    };
  }

  // ---- internals -------------------------------------------------------------------------------

  private checkTime(now: number): void {
    if (!Number.isFinite(now)) throw new VrrpUsageError(`Instance "${this.name}": time "${now}" is not a finite number`);
    if (this.lastNow !== undefined && now < this.lastNow) {
      throw new VrrpUsageError(`Instance "${this.name}": time went backwards from ${this.lastNow} to ${now}`);
    }
    this.lastNow = now;
  }

  /** docs/vrrp.md §5.7: base + weights clamped to 1..254; an owner (255) is never changed. */
  private computeEffectivePriority(): number {
    const base = this.p.priority;
    if (base === 255) return 255;
    const weight = this.sync?.ignoreTrackWeights ? 0 : this.trackWeight;
    return Math.min(254, Math.max(1, base + weight));
  }

  private faultReason(): string {
    const parts: string[] = [];
    if (!this.linkUp) parts.push('link down');
    if (this.trackFault) parts.push(this.trackReason || 'tracker failed');
    return parts.join(', ');
  }

  private afterConditionChange(now: number, wasFault: boolean, reason: string): void {
    const oldPriority = this.effPriority;
    this.effPriority = this.computeEffectivePriority();
    if (this.effPriority !== oldPriority) {
      this.events.push({ type: 'priorityChange', from: oldPriority, to: this.effPriority });
      this.apply(now, 'priorityChanged', { reason: `priority ${oldPriority} → ${this.effPriority} (${reason})`, oldPriority });
    }
    const isFault = this.hasOwnFault;
    if (!wasFault && isFault) {
      this.apply(now, 'faultRaised', { reason: `fault: ${this.faultReason()}` });
    } else if (wasFault && !isFault) {
      this.apply(now, this.sync ? 'faultClearedSyncHeld' : 'faultCleared', { reason: `fault cleared (${reason})` });
    }
  }

  private advertReason(input: VrrpInput, adv: ReceivedAdvert): string {
    const who = `${adv.srcIp} (priority ${adv.priority})`;
    switch (input) {
      case 'advertDropped':
        return `advert from ${who} dropped`;
      case 'advertHigher':
        return `higher priority advert from ${who}, ours ${this.effPriority}`;
      case 'advertEqualHigherIp':
        return `equal priority advert from higher address ${who}`;
      default:
        return `advert from ${who}`;
    }
  }

  private masterDownUs(): number {
    return masterDownIntervalUs(
      this.p.version,
      this.effPriority,
      this.masterAdverIntervalUs,
      this.p.downTimerAdverts,
    );
  }

  private apply(now: number, input: VrrpInput, ctx: InputContext): void {
    const rule = TRANSITIONS[this.currentState][input];
    this.trace?.({
      now,
      instance: this.name,
      state: this.currentState,
      input,
      rule: rule.kind,
      next: rule.kind === 'transition' ? rule.next : this.currentState,
      reason: ctx.reason,
    });
    if (rule.kind === 'error') {
      throw new VrrpUsageError(`Instance "${this.name}": ${input} in ${this.currentState}: ${rule.note}`);
    }
    if (rule.kind === 'ignore') return;
    const from = this.currentState;
    if (rule.next !== from) {
      this.currentState = rule.next;
      const record = { at: now, from, to: rule.next, reason: ctx.reason };
      this.history.push(record);
      while (this.history.length > this.p.transitionHistory) this.history.shift();
      this.events.push({ type: 'stateChange', from, to: rule.next, reason: ctx.reason });
    }
    for (const action of rule.actions) this.runAction(action, now, ctx);
  }

  private queueAdvert(priority: number): void {
    this.transmits.push({ priority, advertIntervalMs: this.p.advertIntervalMs });
    this.counters.advertsSent++;
    if (priority === 0) this.counters.priorityZeroSent++;
  }

  private garp(repeat: number, cause: GarpCause): void {
    if (repeat <= 0 || !this.vipsSet) return; // docs/vrrp.md §7: GARPs only while the VIPs are set
    this.counters.garpBursts++;
    this.events.push({ type: 'sendGarp', repeat, intervalMs: this.p.garp.intervalMs, cause });
  }

  private armDown(now: number, us: number): void {
    this.timers.stop('advert');
    if (this.maintenance) {
      this.timers.stop('masterDown'); // maintenance: a BACKUP never takes over
      return;
    }
    this.timers.set('masterDown', now + usToMs(us));
  }

  private runAction(action: VrrpAction, now: number, ctx: InputContext): void {
    const p = this.p;
    const g = p.garp;
    switch (action) {
      case 'sendAdvert':
        this.queueAdvert(this.effPriority);
        return;
      case 'sendAdvertIfHigherPrioSendAdvert':
        if (p.higherPrioSendAdvert) this.queueAdvert(this.effPriority);
        return;
      case 'sendAdvertUnlessLowerPrioNoAdvert':
        if (!p.lowerPrioNoAdvert) this.queueAdvert(this.effPriority);
        return;
      case 'sendPriorityZero':
        this.queueAdvert(0);
        return;
      case 'addVips':
        this.vipsSet = true;
        this.events.push({ type: 'addVips' });
        return;
      case 'removeVips':
        if (!this.vipsSet) return;
        this.vipsSet = false;
        this.events.push({ type: 'removeVips' });
        return;
      case 'garpBecomeMasterBurst':
        this.garp(g.masterRepeat, 'becomeMaster');
        return;
      case 'armGarpMasterTimers':
        // docs/vrrp.md §7: burst 2 after garp_master_delay (0 = none); refresh every garp_master_refresh.
        // keepalived arms the refresh at become-master time + refresh (vrrp_state_become_master).
        if (g.masterDelayMs > 0 && g.masterRepeat > 0) this.timers.set('garpDelay', now + g.masterDelayMs);
        if (g.masterRefreshMs > 0 && g.masterRefreshRepeat > 0) this.timers.set('garpRefresh', now + g.masterRefreshMs);
        return;
      case 'garpMasterDelayBurst':
        this.garp(g.masterRepeat, 'masterDelay');
        return;
      case 'garpRefreshBurst':
        this.garp(g.masterRefreshRepeat, 'refresh');
        this.timers.set('garpRefresh', now + g.masterRefreshMs);
        return;
      case 'garpLowerPrioBurst':
      case 'garpLowerPrioSyncBurst':
        // docs/vrrp.md §5.4/§7: garp_lower_prio_repeat rounds now and one more burst after
        // garp_lower_prio_delay; keepalived queues one delayed burst per lower advert.
        if (g.lowerPrioRepeat <= 0) return;
        this.garp(g.lowerPrioRepeat, action === 'garpLowerPrioBurst' ? 'lowerPrio' : 'lowerPrioSync');
        if (g.lowerPrioDelayMs > 0) this.timers.add('garpLowerPrio', now + g.lowerPrioDelayMs);
        return;
      case 'garpLowerPrioDelayedBurst':
        this.garp(g.lowerPrioRepeat, 'lowerPrioDelay');
        return;
      case 'cancelGarpTimers':
        this.timers.stop('garpDelay');
        this.timers.stop('garpRefresh');
        this.timers.stop('garpLowerPrio');
        return;
      case 'armAdvertTimer': {
        this.timers.stop('masterDown');
        // RFC 5798 §6.4.3 resets the Adver_Timer to Advertisement_Interval on each send. When the
        // send is the timer's own expiry, count the interval from the deadline rather than from a
        // late `now`, so a driver that wakes up late (timer granularity, a busy thread) neither
        // stretches every period nor pushes every later advert (keepalived: 100.0 ms, not
        // 100.7). A driver half an interval late or more restarts the schedule from now, so two
        // adverts are never less than half an interval apart (no catch-up bursts). Any other
        // send (becoming MASTER, answering a lower-priority advert) restarts it from now.
        const d = ctx.advertDeadline;
        const base = d !== undefined && d <= now && 2 * (now - d) < p.advertIntervalMs ? d : now;
        this.timers.set('advert', base + p.advertIntervalMs);
        return;
      }
      case 'armDownTimer':
        this.armDown(now, this.masterDownUs());
        return;
      case 'armDownTimerSkew':
        // docs/vrrp.md §5.2: priority 0 → down timer = Skew_Time.
        this.armDown(now, skewTimeUs(p.version, this.effPriority, this.masterAdverIntervalUs));
        return;
      case 'armDownTimerSyncStart':
        // docs/vrrp.md §5.1 (keepalived vrrp_init_state): Master_Adver_Interval + VRRP_TIMER_SKEW_MIN.
        this.armDown(now, this.masterAdverIntervalUs + skewMinUs(p.version, this.masterAdverIntervalUs));
        return;
      case 'disarmProtocolTimers':
        this.timers.stop('masterDown');
        this.timers.stop('advert');
        return;
      case 'shiftDownTimer': {
        // keepalived vrrp_set_effective_priority: the running down timer moves by the change in
        // ms_down_timer, i.e. by the change of skew. (The skew-only timer after a priority-0
        // advert moves by the same amount.)
        if (ctx.oldPriority === undefined || this.timers.get('masterDown') === undefined) return;
        const oldUs = masterDownIntervalUs(p.version, ctx.oldPriority, this.masterAdverIntervalUs, p.downTimerAdverts);
        this.timers.shift('masterDown', usToMs(this.masterDownUs() - oldUs));
        return;
      }
      case 'learnMasterInterval':
        // docs/vrrp.md §3: only v3 adopts the master's interval (v2 drops mismatches before this).
        // An interval of 0 (the codec drops it; a hostile or broken peer) would make the down timer
        // ~0 and the BACKUP flap against a live master: never adopted.
        if (p.version === 3 && ctx.adv && ctx.adv.advertIntervalMs > 0) this.masterAdverIntervalUs = msToUs(ctx.adv.advertIntervalMs);
        return;
      case 'restoreLocalInterval':
        this.masterAdverIntervalUs = msToUs(p.advertIntervalMs);
        return;
      case 'recordMaster': {
        if (!ctx.adv) return;
        const changed = this.master?.ip !== ctx.adv.srcIp;
        this.master = { ip: ctx.adv.srcIp, priority: ctx.adv.priority, lastSeenAt: now };
        if (changed) this.events.push({ type: 'masterSeen', srcIp: ctx.adv.srcIp });
        return;
      }
      case 'recordDiscardedMaster':
        if (ctx.adv) this.lastDiscardedMasterIp = ctx.adv.srcIp;
        return;
      case 'armPreemptDelayStartup':
        // keepalived sets preempt_time = load time + preempt_delay, so lower-priority adverts are
        // accepted for preempt_delay after startup (docs/vrrp.md §5.5).
        if (p.preemptDelayMs > 0) this.preemptUntil = now + p.preemptDelayMs;
        return;
      case 'startPreemptDelayIfUnset':
        if (p.preemptDelayMs > 0 && this.preemptUntil === undefined) this.preemptUntil = now + p.preemptDelayMs;
        return;
      case 'stopPreemptDelay':
        this.preemptUntil = undefined;
        return;
      case 'setStepDownHold':
        this.stepDownHold = true;
        return;
      case 'clearStepDownHold':
        this.stepDownHold = false;
        return;
      case 'wantMaster':
        this.want = 'MASTER';
        return;
      case 'wantBackup':
        this.want = 'BACKUP';
        return;
      case 'wantFault':
        this.want = 'FAULT';
        return;
      case 'emitWantMaster':
        this.events.push({ type: 'wantMaster' });
        return;
      case 'emitOtherMasterSeen':
        if (ctx.adv) this.events.push({ type: 'otherMasterSeen', srcIp: ctx.adv.srcIp, priority: ctx.adv.priority });
        return;
      case 'notifyState': {
        const s = this.currentState;
        if (s !== 'INIT') this.events.push({ type: 'notify', state: s });
        return;
      }
      case 'notifyRxLowerPri':
        this.events.push({ type: 'notify', state: 'MASTER_RX_LOWER_PRI' });
        return;
      case 'nextReasonPriorityZero':
        this.nextMasterReason = `master ${ctx.adv?.srcIp ?? '?'} sent priority 0; took over after Skew_Time`;
        return;
      case 'nextReasonPreempt':
        this.nextMasterReason = `preempted lower-priority master ${ctx.adv?.srcIp ?? '?'} (priority ${ctx.adv?.priority ?? '?'})`;
        return;
      case 'nextReasonNoResponse':
        this.nextMasterReason = 'no advert received within Master_Down_Interval';
        return;
      case 'countDropped':
        this.counters.advertsDropped++;
        return;
      case 'countLowerDiscarded':
        this.counters.lowerPriorityDiscarded++;
        return;
      case 'countSameIpConflict':
        this.counters.sameIpConflicts++;
        return;
      case 'countBecomeMaster':
        this.counters.becameMaster++;
        return;
      case 'countReleaseMaster':
        this.counters.releasedMaster++;
        return;
    }
  }
}

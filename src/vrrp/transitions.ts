/**
 * Every rule of the VRRP instance state machine, in one table (the h11 `_state.py` /
 * h2 `_transitions` idea): `TRANSITIONS[state][input]` gives the next state and the list of
 * actions, in order. `VrrpInstance` classifies raw inputs (adverts, timer expiries, track
 * changes, commands) into the `VrrpInput` vocabulary with the pure helpers at the bottom of this
 * file, looks the pair up here and runs the actions. Nothing else decides a state change.
 *
 * The table is total: TypeScript forces an entry for every (state, input) pair, so tests can
 * enumerate all of them. Pairs that cannot happen in practice (e.g. an advert timer in BACKUP,
 * which is never armed there) are listed as `ignore` with a note rather than left out.
 *
 * Section numbers (§) refer to docs/vrrp.md.
 */
import { compareIp } from '../vocab/ip.js';
import { VRRP_STATES, type VrrpState } from '../vocab/states.js';

export { VRRP_STATES, type VrrpState };

export const VRRP_INPUTS = [
  // start(now), classified by startInput()
  'startOwner',
  'startBackup',
  'startBackupWantMaster',
  'startFault',
  // handleTimeout(now), one per expired timer
  'downTimerExpired',
  'downTimerExpiredSyncHeld',
  'advertTimerExpired',
  'garpDelayExpired',
  'garpRefreshExpired',
  'garpLowerPrioDelayExpired',
  // handleAdvert(now, adv), classified by classifyAdvert()
  'advertDropped',
  'advertPriorityZero',
  'advertHigher',
  'advertEqualHigherIp',
  'advertEqualLowerIp',
  'advertEqualSameIp',
  'advertLower',
  'advertLowerNoPreempt',
  'advertLowerPreemptDelay',
  // setTrack / linkChange
  'priorityChanged',
  'faultRaised',
  'faultCleared',
  'faultClearedSyncHeld',
  // command(now, …)
  'cmdStepDown',
  'cmdMaintenanceOn',
  'cmdMaintenanceOff',
  'cmdShutdown',
  // forceSync(now, …) and sync-group relays
  'syncMaster',
  'syncBackup',
  'syncFault',
  'syncLowerPrioGarp',
] as const;
export type VrrpInput = (typeof VRRP_INPUTS)[number];

/**
 * Actions, run in the listed order by `VrrpInstance`. Their exact effect is documented in
 * `VrrpInstance.runAction`; the short form:
 */
export const VRRP_ACTIONS = [
  'sendAdvert', // queue an advert with the effective priority
  'sendAdvertIfHigherPrioSendAdvert', // same, only with higher_prio_send_advert (§5.4)
  'sendAdvertUnlessLowerPrioNoAdvert', // same, unless lower_prio_no_advert (§5.4)
  'sendPriorityZero', // queue a priority-0 advert (§5.4 shutdown / FAULT)
  'addVips', // emit addVips, mark VIPs set
  'removeVips', // emit removeVips if they were set
  'garpBecomeMasterBurst', // sendGarp(garp_master_repeat) now (§7 burst 1)
  'armGarpMasterTimers', // arm garp_master_delay (burst 2) and garp_master_refresh (§7)
  'garpMasterDelayBurst', // sendGarp(garp_master_repeat) (§7 burst 2)
  'garpRefreshBurst', // sendGarp(garp_master_refresh_repeat), re-arm refresh
  'garpLowerPrioBurst', // sendGarp(garp_lower_prio_repeat) now, queue one delayed burst (§5.4, §7)
  'garpLowerPrioSyncBurst', // the same burst, relayed from a sync-group sibling
  'garpLowerPrioDelayedBurst', // the delayed lower-priority burst
  'cancelGarpTimers',
  'armAdvertTimer', // advert timer ← now + local advert_int; stops the down timer
  'armDownTimer', // down timer ← now + Master_Down_Interval (no-op timer in maintenance)
  'armDownTimerSkew', // down timer ← now + Skew_Time (priority 0 received, §5.2)
  'armDownTimerSyncStart', // down timer ← now + Master_Adver_Interval + minimum skew (§5.1 sync case)
  'disarmProtocolTimers', // stop the down and advert timers
  'shiftDownTimer', // move the down timer by the change in Master_Down_Interval (priority change)
  'learnMasterInterval', // v3: Master_Adver_Interval ← the advert's interval (§3)
  'restoreLocalInterval', // Master_Adver_Interval ← local advert_int (§3)
  'recordMaster', // remember the master's address/priority; emit masterSeen when it changes
  'recordDiscardedMaster', // remember the address of a lower-priority master we are discarding
  'armPreemptDelayStartup', // preempt_delay runs from startup (keepalived sets preempt_time at load)
  'startPreemptDelayIfUnset', // first lower-priority advert starts preempt_delay (§5.5)
  'stopPreemptDelay', // priority ≥ ours seen: preempt_delay re-arms on the next lower advert (§5.5)
  'setStepDownHold', // after stepDown: do not preempt a lower-priority master
  'clearStepDownHold',
  'wantMaster',
  'wantBackup',
  'wantFault',
  'emitWantMaster', // sync member: tell the group we want MASTER
  'emitOtherMasterSeen',
  'notifyState', // emit notify(new state)
  'notifyRxLowerPri', // emit notify(MASTER_RX_LOWER_PRI) (§5.4 notify_master_rx_lower_pri)
  'nextReasonPriorityZero',
  'nextReasonPreempt',
  'nextReasonNoResponse',
  'countDropped',
  'countLowerDiscarded',
  'countSameIpConflict',
  'countBecomeMaster',
  'countReleaseMaster',
] as const;
export type VrrpAction = (typeof VRRP_ACTIONS)[number];

/**
 * - `transition`: go to `next` (which may equal the current state for an internal step) and run
 *   `actions`;
 * - `ignore`: nothing happens (the note says why);
 * - `error`: a local usage error (h11's LocalProtocolError): the instance throws.
 */
export type TransitionRule =
  | { readonly kind: 'transition'; readonly next: VrrpState; readonly actions: readonly VrrpAction[]; readonly note: string }
  | { readonly kind: 'ignore'; readonly note: string }
  | { readonly kind: 'error'; readonly note: string };

type Table = { readonly [S in VrrpState]: { readonly [I in VrrpInput]: TransitionRule } };

const t = (next: VrrpState, actions: readonly VrrpAction[], note: string): TransitionRule => ({
  kind: 'transition',
  next,
  actions,
  note,
});
const ignore = (note: string): TransitionRule => ({ kind: 'ignore', note });
const error = (note: string): TransitionRule => ({ kind: 'error', note });

// ---- shared action lists ---------------------------------------------------------------------

/** §5.3 order: advert first (so the old master drops the VIPs before our GARPs), VIPs, GARP burst 1,
 * then the delayed burst/refresh timers, then notify. */
const BECOME_MASTER: readonly VrrpAction[] = [
  'restoreLocalInterval',
  'clearStepDownHold',
  'wantMaster',
  'sendAdvert',
  'addVips',
  'garpBecomeMasterBurst',
  'armGarpMasterTimers',
  'armAdvertTimer',
  'countBecomeMaster',
  'notifyState',
];

/** BACKUP accepting an advert (§5.2 "accept" row). */
const BACKUP_ACCEPT: readonly VrrpAction[] = [
  'learnMasterInterval',
  'recordMaster',
  'wantBackup',
  'nextReasonNoResponse',
  'armDownTimer',
];

/** MASTER seeing a lower priority (or equal with lower IP): stay and re-assert (§5.4). */
const MASTER_REASSERT: readonly VrrpAction[] = [
  'emitOtherMasterSeen',
  'sendAdvertUnlessLowerPrioNoAdvert',
  'garpLowerPrioBurst',
  'notifyRxLowerPri',
];

/** MASTER losing to a higher priority (or equal with higher IP): no priority-0 advert (§5.4). */
const MASTER_YIELD: readonly VrrpAction[] = [
  'emitOtherMasterSeen',
  'sendAdvertIfHigherPrioSendAdvert',
  'learnMasterInterval',
  'recordMaster',
  'wantBackup',
  'removeVips',
  'cancelGarpTimers',
  'stopPreemptDelay',
  'nextReasonNoResponse',
  'armDownTimer',
  'countReleaseMaster',
  'notifyState',
];

/** MASTER going to FAULT: priority 0 then remove addresses (§5.4). */
const MASTER_TO_FAULT: readonly VrrpAction[] = [
  'sendPriorityZero',
  'wantFault',
  'removeVips',
  'cancelGarpTimers',
  'disarmProtocolTimers',
  'countReleaseMaster',
  'notifyState',
];

const BACKUP_TO_FAULT: readonly VrrpAction[] = ['wantFault', 'disarmProtocolTimers', 'notifyState'];

/** Leaving FAULT: BACKUP with the local interval and a full Master_Down_Interval
 * (keepalived `try_up_instance` + `vrrp_state_leave_fault`). A stepDown hold does not survive it. */
const LEAVE_FAULT: readonly VrrpAction[] = [
  'restoreLocalInterval',
  'stopPreemptDelay',
  'clearStepDownHold',
  'wantBackup',
  'nextReasonNoResponse',
  'armDownTimer',
  'notifyState',
];

const NOT_STARTED = 'not started yet: only recorded, start() decides';
const STOPPED = 'instance is shut down';
const FAULT_NO_ADVERTS = 'adverts are not processed in FAULT';
const ONLY_MASTER_TIMER = 'this timer is only armed in MASTER and is cancelled on leaving it';
const ONLY_BACKUP_TIMER = 'the down timer is only armed in BACKUP';
const ALREADY_STARTED = 'start() called twice';

// ---- the table -------------------------------------------------------------------------------

export const TRANSITIONS: Table = {
  INIT: {
    startOwner: t('MASTER', BECOME_MASTER, '§5.1: state MASTER + priority 255 becomes MASTER at once'),
    startBackup: t(
      'BACKUP',
      ['restoreLocalInterval', 'armPreemptDelayStartup', 'nextReasonNoResponse', 'armDownTimer', 'notifyState'],
      '§5.1: everything else starts BACKUP with the down timer (also state MASTER with priority < 255)',
    ),
    startBackupWantMaster: t(
      'BACKUP',
      ['restoreLocalInterval', 'wantMaster', 'nextReasonNoResponse', 'armDownTimerSyncStart', 'notifyState'],
      '§5.1: sync-group member with state MASTER held in BACKUP: adv + minimum skew',
    ),
    startFault: t('FAULT', ['wantFault', 'notifyState'], '§5.1: not up (link down or failed tracker) at start'),
    downTimerExpired: ignore(NOT_STARTED),
    downTimerExpiredSyncHeld: ignore(NOT_STARTED),
    advertTimerExpired: ignore(NOT_STARTED),
    garpDelayExpired: ignore(NOT_STARTED),
    garpRefreshExpired: ignore(NOT_STARTED),
    garpLowerPrioDelayExpired: ignore(NOT_STARTED),
    advertDropped: ignore(NOT_STARTED),
    advertPriorityZero: ignore(NOT_STARTED),
    advertHigher: ignore(NOT_STARTED),
    advertEqualHigherIp: ignore(NOT_STARTED),
    advertEqualLowerIp: ignore(NOT_STARTED),
    advertEqualSameIp: ignore(NOT_STARTED),
    advertLower: ignore(NOT_STARTED),
    advertLowerNoPreempt: ignore(NOT_STARTED),
    advertLowerPreemptDelay: ignore(NOT_STARTED),
    priorityChanged: ignore(NOT_STARTED),
    faultRaised: ignore(NOT_STARTED),
    faultCleared: ignore(NOT_STARTED),
    faultClearedSyncHeld: ignore(NOT_STARTED),
    cmdStepDown: ignore('not MASTER'),
    cmdMaintenanceOn: ignore(NOT_STARTED),
    cmdMaintenanceOff: ignore(NOT_STARTED),
    cmdShutdown: t('STOP', ['notifyState'], 'shut down before start'),
    syncMaster: ignore(NOT_STARTED),
    syncBackup: ignore(NOT_STARTED),
    syncFault: ignore(NOT_STARTED),
    syncLowerPrioGarp: ignore(NOT_STARTED),
  },

  BACKUP: {
    startOwner: error(ALREADY_STARTED),
    startBackup: error(ALREADY_STARTED),
    startBackupWantMaster: error(ALREADY_STARTED),
    startFault: error(ALREADY_STARTED),
    downTimerExpired: t('MASTER', BECOME_MASTER, '§5.3: Master_Down_Timer expired'),
    downTimerExpiredSyncHeld: t(
      'BACKUP',
      ['wantMaster', 'armDownTimer', 'emitWantMaster'],
      '§5.3/§5.8: sync member: MASTER only when all members want it; re-arm and ask the group',
    ),
    advertTimerExpired: ignore('the advert timer is only armed in MASTER'),
    garpDelayExpired: ignore(ONLY_MASTER_TIMER),
    garpRefreshExpired: ignore(ONLY_MASTER_TIMER),
    garpLowerPrioDelayExpired: ignore(ONLY_MASTER_TIMER),
    advertDropped: t('BACKUP', ['countDropped'], '§3/§4: v2 interval mismatch or owner_ignore_adverts'),
    advertPriorityZero: t(
      'BACKUP',
      ['nextReasonPriorityZero', 'armDownTimerSkew'],
      '§5.2: priority 0: down timer ← Skew_Time',
    ),
    advertHigher: t('BACKUP', [...BACKUP_ACCEPT, 'stopPreemptDelay', 'clearStepDownHold'], '§5.2: rx ≥ own: accept'),
    advertEqualHigherIp: t(
      'BACKUP',
      [...BACKUP_ACCEPT, 'stopPreemptDelay', 'clearStepDownHold'],
      '§5.2: equal priority is accepted in BACKUP (no IP tie-break)',
    ),
    advertEqualLowerIp: t(
      'BACKUP',
      [...BACKUP_ACCEPT, 'stopPreemptDelay', 'clearStepDownHold'],
      '§5.2: equal priority is accepted in BACKUP (no IP tie-break)',
    ),
    advertEqualSameIp: t(
      'BACKUP',
      [...BACKUP_ACCEPT, 'stopPreemptDelay', 'clearStepDownHold'],
      '§5.2: equal priority is accepted in BACKUP',
    ),
    advertLower: t(
      'BACKUP',
      ['recordDiscardedMaster', 'nextReasonPreempt', 'countLowerDiscarded'],
      '§5.2: lower priority with preempt: discard, the down timer keeps running',
    ),
    advertLowerNoPreempt: t(
      'BACKUP',
      BACKUP_ACCEPT,
      '§5.5: nopreempt (or stepDown hold / maintenance): accept lower priority',
    ),
    advertLowerPreemptDelay: t(
      'BACKUP',
      [...BACKUP_ACCEPT, 'startPreemptDelayIfUnset'],
      '§5.5: preempt_delay pending or not started: accept; the first one starts the delay',
    ),
    priorityChanged: t('BACKUP', ['shiftDownTimer'], '§5.7: the down timer moves by the change of skew'),
    faultRaised: t('FAULT', BACKUP_TO_FAULT, '§5: link down or weight-0 tracker failed'),
    faultCleared: ignore('not in FAULT'),
    faultClearedSyncHeld: ignore('not in FAULT'),
    cmdStepDown: ignore('not MASTER: nothing to step down from'),
    cmdMaintenanceOn: t('BACKUP', ['wantBackup', 'disarmProtocolTimers'], 'maintenance: stay BACKUP, never take over'),
    cmdMaintenanceOff: t('BACKUP', ['nextReasonNoResponse', 'armDownTimer'], 'maintenance over: compete again'),
    cmdShutdown: t('STOP', ['disarmProtocolTimers', 'notifyState'], '§5.4: a BACKUP sends nothing on shutdown'),
    syncMaster: t('MASTER', BECOME_MASTER, '§5.8: the sync group moves every member to MASTER'),
    syncBackup: t('BACKUP', ['wantBackup'], '§5.8: already BACKUP'),
    syncFault: t('FAULT', BACKUP_TO_FAULT, '§5.8: a FAULT member moves the whole group to FAULT'),
    syncLowerPrioGarp: ignore('VIPs are not set in BACKUP'),
  },

  MASTER: {
    startOwner: error(ALREADY_STARTED),
    startBackup: error(ALREADY_STARTED),
    startBackupWantMaster: error(ALREADY_STARTED),
    startFault: error(ALREADY_STARTED),
    downTimerExpired: ignore(ONLY_BACKUP_TIMER),
    downTimerExpiredSyncHeld: ignore(ONLY_BACKUP_TIMER),
    advertTimerExpired: t('MASTER', ['sendAdvert', 'armAdvertTimer'], '§5.4: send an advert every advert_int'),
    garpDelayExpired: t('MASTER', ['garpMasterDelayBurst'], '§7: second burst after garp_master_delay'),
    garpRefreshExpired: t('MASTER', ['garpRefreshBurst'], '§7: refresh every garp_master_refresh'),
    garpLowerPrioDelayExpired: t(
      'MASTER',
      ['garpLowerPrioDelayedBurst'],
      '§7: second lower-priority burst after garp_lower_prio_delay',
    ),
    advertDropped: t('MASTER', ['countDropped'], '§3/§4: v2 interval mismatch or owner_ignore_adverts'),
    advertPriorityZero: t('MASTER', ['sendAdvert'], '§5.4: priority 0: send an advert at once, stay MASTER'),
    advertHigher: t('BACKUP', MASTER_YIELD, '§5.4: higher priority: → BACKUP without priority 0'),
    advertEqualHigherIp: t('BACKUP', MASTER_YIELD, '§5.4: equal priority, sender IP higher: → BACKUP'),
    advertEqualLowerIp: t('MASTER', MASTER_REASSERT, '§5.4: equal priority, sender IP lower: re-assert'),
    advertEqualSameIp: t('MASTER', ['countSameIpConflict'], '§5.4: equal priority from our own IP: log, stay'),
    advertLower: t('MASTER', MASTER_REASSERT, '§5.4: lower priority: advert at once + lower-prio GARPs'),
    advertLowerNoPreempt: t('MASTER', MASTER_REASSERT, '§5.4: as advertLower (nopreempt only matters in BACKUP)'),
    advertLowerPreemptDelay: t(
      'MASTER',
      MASTER_REASSERT,
      '§5.4: as advertLower (preempt_delay only matters in BACKUP)',
    ),
    priorityChanged: t('MASTER', [], '§5.7: the next advert carries the new priority'),
    faultRaised: t('FAULT', MASTER_TO_FAULT, '§5.4: entering FAULT from MASTER sends priority 0'),
    faultCleared: ignore('not in FAULT'),
    faultClearedSyncHeld: ignore('not in FAULT'),
    cmdStepDown: t(
      'BACKUP',
      [
        'sendPriorityZero',
        'wantBackup',
        'removeVips',
        'cancelGarpTimers',
        'setStepDownHold',
        'stopPreemptDelay',
        'nextReasonNoResponse',
        'armDownTimer',
        'countReleaseMaster',
        'notifyState',
      ],
      'failover drill: priority 0 so a backup takes over after its skew; do not preempt it back',
    ),
    cmdMaintenanceOn: t(
      'BACKUP',
      [
        'sendPriorityZero',
        'wantBackup',
        'removeVips',
        'cancelGarpTimers',
        'disarmProtocolTimers',
        'countReleaseMaster',
        'notifyState',
      ],
      'maintenance: hand over with priority 0, then stay a silent BACKUP',
    ),
    cmdMaintenanceOff: ignore('maintenance is never on while MASTER'),
    cmdShutdown: t(
      'STOP',
      ['sendPriorityZero', 'removeVips', 'cancelGarpTimers', 'disarmProtocolTimers', 'countReleaseMaster', 'notifyState'],
      '§5.4: shutdown sends priority 0 then removes the VIPs',
    ),
    syncMaster: ignore('already MASTER'),
    syncBackup: t(
      'BACKUP',
      [
        'wantBackup',
        'removeVips',
        'cancelGarpTimers',
        'stopPreemptDelay',
        'nextReasonNoResponse',
        'armDownTimer',
        'countReleaseMaster',
        'notifyState',
      ],
      '§5.8: a member went BACKUP, so all do (no priority 0, as keepalived vrrp_sync_backup)',
    ),
    syncFault: t('FAULT', MASTER_TO_FAULT, '§5.8: a FAULT member moves the whole group to FAULT'),
    syncLowerPrioGarp: t(
      'MASTER',
      ['garpLowerPrioSyncBurst'],
      '§5.4: lower-priority GARPs are sent for every sync-group member',
    ),
  },

  FAULT: {
    startOwner: error(ALREADY_STARTED),
    startBackup: error(ALREADY_STARTED),
    startBackupWantMaster: error(ALREADY_STARTED),
    startFault: error(ALREADY_STARTED),
    downTimerExpired: ignore('no timer runs in FAULT'),
    downTimerExpiredSyncHeld: ignore('no timer runs in FAULT'),
    advertTimerExpired: ignore('no timer runs in FAULT'),
    garpDelayExpired: ignore(ONLY_MASTER_TIMER),
    garpRefreshExpired: ignore(ONLY_MASTER_TIMER),
    garpLowerPrioDelayExpired: ignore(ONLY_MASTER_TIMER),
    advertDropped: ignore(FAULT_NO_ADVERTS),
    advertPriorityZero: ignore(FAULT_NO_ADVERTS),
    advertHigher: ignore(FAULT_NO_ADVERTS),
    advertEqualHigherIp: ignore(FAULT_NO_ADVERTS),
    advertEqualLowerIp: ignore(FAULT_NO_ADVERTS),
    advertEqualSameIp: ignore(FAULT_NO_ADVERTS),
    advertLower: ignore(FAULT_NO_ADVERTS),
    advertLowerNoPreempt: ignore(FAULT_NO_ADVERTS),
    advertLowerPreemptDelay: ignore(FAULT_NO_ADVERTS),
    priorityChanged: ignore('no timer to adjust; used when leaving FAULT'),
    faultRaised: ignore('already FAULT (another fault reason)'),
    faultCleared: t('BACKUP', LEAVE_FAULT, '§5: recovery goes to BACKUP with a full Master_Down_Interval'),
    faultClearedSyncHeld: t('FAULT', ['wantBackup'], '§5.8: sync member: the group decides when to leave FAULT'),
    cmdStepDown: ignore('not MASTER'),
    cmdMaintenanceOn: ignore('flag recorded; applies when FAULT clears'),
    cmdMaintenanceOff: ignore('flag recorded; applies when FAULT clears'),
    cmdShutdown: t('STOP', ['notifyState'], 'shutdown'),
    syncMaster: ignore('a FAULT member cannot be forced to MASTER'),
    syncBackup: t('BACKUP', LEAVE_FAULT, '§5.8: the group left FAULT (the instance itself has no fault)'),
    syncFault: ignore('already FAULT'),
    syncLowerPrioGarp: ignore('VIPs are not set in FAULT'),
  },

  STOP: {
    startOwner: error(ALREADY_STARTED),
    startBackup: error(ALREADY_STARTED),
    startBackupWantMaster: error(ALREADY_STARTED),
    startFault: error(ALREADY_STARTED),
    downTimerExpired: ignore(STOPPED),
    downTimerExpiredSyncHeld: ignore(STOPPED),
    advertTimerExpired: ignore(STOPPED),
    garpDelayExpired: ignore(STOPPED),
    garpRefreshExpired: ignore(STOPPED),
    garpLowerPrioDelayExpired: ignore(STOPPED),
    advertDropped: ignore(STOPPED),
    advertPriorityZero: ignore(STOPPED),
    advertHigher: ignore(STOPPED),
    advertEqualHigherIp: ignore(STOPPED),
    advertEqualLowerIp: ignore(STOPPED),
    advertEqualSameIp: ignore(STOPPED),
    advertLower: ignore(STOPPED),
    advertLowerNoPreempt: ignore(STOPPED),
    advertLowerPreemptDelay: ignore(STOPPED),
    priorityChanged: ignore(STOPPED),
    faultRaised: ignore(STOPPED),
    faultCleared: ignore(STOPPED),
    faultClearedSyncHeld: ignore(STOPPED),
    cmdStepDown: ignore(STOPPED),
    cmdMaintenanceOn: ignore(STOPPED),
    cmdMaintenanceOff: ignore(STOPPED),
    cmdShutdown: ignore(STOPPED),
    syncMaster: ignore(STOPPED),
    syncBackup: ignore(STOPPED),
    syncFault: ignore(STOPPED),
    syncLowerPrioGarp: ignore(STOPPED),
  },
};

/** Look a pair up. */
export function transitionFor(state: VrrpState, input: VrrpInput): TransitionRule {
  return TRANSITIONS[state][input];
}

// ---- classification (pure) -------------------------------------------------------------------

/** What `classifyAdvert` needs to know about the local instance. */
export interface AdvertContext {
  version: 2 | 3;
  localAdvertIntervalMs: number;
  basePriority: number;
  effectivePriority: number;
  primaryIp: string;
  ownerIgnoreAdverts: boolean;
  /** false = nopreempt. */
  preempt: boolean;
  preemptDelayMs: number;
  /** Deadline of the running preempt_delay; undefined = not started (keepalived preempt_time 0). */
  preemptUntil: number | undefined;
  /** Maintenance or a stepDown hold: behave as nopreempt. */
  holdOff: boolean;
  now: number;
}

/** A received, validated advert: the machine's input (the demux adds where it came from). */
export interface ReceivedAdvert {
  srcIp: string;
  priority: number;
  /** The advert's interval: v2 seconds × 1000, v3 centiseconds × 10. */
  advertIntervalMs: number;
}

/**
 * Classify a received (already codec-validated) advert. State-independent: the table decides
 * what each class means in each state.
 */
export function classifyAdvert(ctx: AdvertContext, adv: ReceivedAdvert): VrrpInput {
  // §3/§4 step 7: v2 drops an advert whose Adver Int differs from ours (RFC 3768 MUST discard).
  if (ctx.version === 2 && adv.advertIntervalMs !== ctx.localAdvertIntervalMs) return 'advertDropped';
  // §4 step 11: owner_ignore_adverts (default off; on in strict mode).
  if (ctx.ownerIgnoreAdverts && ctx.basePriority === 255) return 'advertDropped';
  if (adv.priority === 0) return 'advertPriorityZero';
  const own = ctx.effectivePriority;
  if (adv.priority > own) return 'advertHigher';
  if (adv.priority === own) {
    const cmp = compareIp(adv.srcIp, ctx.primaryIp);
    return cmp > 0 ? 'advertEqualHigherIp' : cmp < 0 ? 'advertEqualLowerIp' : 'advertEqualSameIp';
  }
  // rx < own. §5.2/§5.5 (keepalived vrrp_state_backup): accept if nopreempt, or a preempt_delay is
  // configured and is either not started or still running.
  if (!ctx.preempt || ctx.holdOff) return 'advertLowerNoPreempt';
  if (ctx.preemptDelayMs > 0 && (ctx.preemptUntil === undefined || ctx.preemptUntil > ctx.now)) {
    return 'advertLowerPreemptDelay';
  }
  return 'advertLower';
}

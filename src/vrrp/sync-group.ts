/**
 * A pure coordinator for a keepalived `vrrp_sync_group` (docs/vrrp.md §5.8). It owns its member
 * `VrrpInstance`s: route every input for a member through the group, and poll the group's
 * outputs instead of the members'. Rules, re-checked after every input until nothing changes:
 *
 * 1. FAULT: any member with its own fault (link down / weight-0 tracker) puts the group in FAULT;
 *    every other member is forced to FAULT (a MASTER sends priority 0 on the way, as keepalived).
 * 2. Leaving FAULT: once no member has its own fault, every member goes to BACKUP together
 *    (keepalived `try_up_instance` waits for `num_member_fault` to reach 0).
 * 3. BACKUP: while the group is MASTER, any member that drops to BACKUP (higher priority seen,
 *    stepDown, maintenance) moves the other MASTERs to BACKUP (no priority-0 advert,
 *    keepalived `vrrp_sync_backup`).
 * 4. MASTER: a member whose down timer expires does not go MASTER on its own; it re-arms its
 *    down timer and reports `wantMaster`. The group goes MASTER only when every member wants
 *    MASTER ("prefer backup state to avoid thrashing", keepalived `vrrp_sync_can_goto_master`).
 *
 * Also:
 * - weighted trackers on members are ignored unless `trackingWeight`
 *   (keepalived `sync_group_tracking_weight`); weight-0 faults always count;
 * - a member with `state MASTER` starts held in BACKUP with Master_Adver_Interval + minimum skew,
 *   unless every member is an owner (priority 255) with `state MASTER`, in which case they all
 *   start as MASTER (docs/vrrp.md §5.1);
 * - a MASTER member receiving a lower-priority advert makes every other MASTER member send its
 *   lower-priority GARPs too (docs/vrrp.md §5.4).
 */

import {
  VrrpInstance,
  VrrpUsageError,
  type ReceivedAdvert,
  type TrackInput,
  type VrrpCommand,
  type VrrpInstanceParams,
  type VrrpSnapshot,
} from './instance.js';
import type { UnitEvent, UnitTransmit, VrrpUnit } from './unit.js';
import type { VrrpState } from '../vocab/states.js';

export type SyncGroupState = VrrpState;

export interface SyncGroupOptions {
  name: string;
  /** keepalived `sync_group_tracking_weight`: honour members' weighted trackers. Default false. */
  trackingWeight?: boolean;
}

export type SyncGroupEvent = UnitEvent;
export type SyncGroupTransmit = UnitTransmit;

export interface SyncGroupSnapshot {
  name: string;
  state: SyncGroupState;
  members: VrrpSnapshot[];
  transitions: { at: number; from: SyncGroupState; to: SyncGroupState; reason: string }[];
}

export class VrrpSyncGroup implements VrrpUnit {
  readonly name: string;
  readonly members: readonly VrrpInstance[];
  private readonly byName = new Map<string, VrrpInstance>();
  private groupState: SyncGroupState = 'INIT';
  private readonly events: SyncGroupEvent[] = [];
  private readonly history: SyncGroupSnapshot['transitions'] = [];
  private wantMasterTriggered = false;

  constructor(opts: SyncGroupOptions, members: readonly VrrpInstance[]) {
    if (members.length === 0) throw new VrrpUsageError(`Sync group "${opts.name}" has no members`);
    this.name = opts.name;
    this.members = [...members];
    const ownersMayStartMaster = members.every((m) => m.params.initialState === 'MASTER' && m.params.priority === 255);
    for (const m of members) {
      if (this.byName.has(m.name)) throw new VrrpUsageError(`Sync group "${opts.name}": duplicate member "${m.name}"`);
      this.byName.set(m.name, m);
      m.attachToSyncGroup(opts.name, { ignoreTrackWeights: !opts.trackingWeight, ownersMayStartMaster });
    }
  }

  get group(): string {
    return this.name;
  }

  get state(): SyncGroupState {
    return this.groupState;
  }

  member(name: string): VrrpInstance {
    const m = this.byName.get(name);
    if (!m) throw new VrrpUsageError(`Sync group "${this.name}" has no member "${name}"`);
    return m;
  }

  // ---- inputs ----------------------------------------------------------------------------------

  start(now: number): void {
    for (const m of this.members) m.start(now);
    this.settle(now);
    if (this.groupState === 'INIT') this.setState(now, 'BACKUP', 'startup');
  }

  handleAdvert(now: number, instance: string, adv: ReceivedAdvert): void {
    this.member(instance).handleAdvert(now, adv);
    this.settle(now);
  }

  /** Fire expired timers, one member at a time, re-applying the group rules after each. */
  handleTimeout(now: number): void {
    for (const m of this.members) {
      const due = m.pollTimeout();
      if (due === undefined || due > now) continue;
      m.handleTimeout(now);
      this.settle(now);
    }
  }

  setTrack(now: number, instance: string, track: TrackInput): void {
    this.member(instance).setTrack(now, track);
    this.settle(now);
  }

  linkChange(now: number, instance: string, up: boolean): void {
    this.member(instance).linkChange(now, up);
    this.settle(now);
  }

  /** A command for one member, or for every member when `instance` is omitted. */
  command(now: number, cmd: VrrpCommand, instance?: string): void {
    const targets = instance === undefined ? this.members : [this.member(instance)];
    for (const m of targets) m.command(now, cmd);
    this.settle(now);
  }

  retune(now: number, instance: string, params: VrrpInstanceParams): void {
    this.member(instance).retune(now, params);
    this.settle(now);
  }

  // ---- outputs ---------------------------------------------------------------------------------

  pollTransmit(): SyncGroupTransmit | undefined {
    for (const m of this.members) {
      const tx = m.pollTransmit();
      if (tx) return { instance: m.name, ...tx };
    }
    return undefined;
  }

  pollEvent(): SyncGroupEvent | undefined {
    return this.events.shift();
  }

  pollTimeout(): number | undefined {
    let best: number | undefined;
    for (const m of this.members) {
      const t = m.pollTimeout();
      if (t !== undefined && (best === undefined || t < best)) best = t;
    }
    return best;
  }

  snapshot(): SyncGroupSnapshot {
    return {
      name: this.name,
      state: this.groupState,
      members: this.members.map((m) => m.snapshot()),
      transitions: this.history.map((h) => ({ ...h })),
    };
  }

  // ---- internals -------------------------------------------------------------------------------

  private setState(now: number, to: SyncGroupState, reason: string): boolean {
    const from = this.groupState;
    if (from === to) return false;
    this.groupState = to;
    this.history.push({ at: now, from, to, reason });
    while (this.history.length > 20) this.history.shift();
    this.events.push({ type: 'groupStateChange', group: this.name, from, to, reason });
    if (to !== 'INIT') this.events.push({ type: 'groupNotify', group: this.name, state: to });
    return true;
  }

  /** Move member events to the group queue, reacting to the ones the group cares about. */
  private drain(now: number): boolean {
    let any = false;
    for (const m of this.members) {
      for (let ev = m.pollEvent(); ev; ev = m.pollEvent()) {
        any = true;
        this.events.push({ type: 'member', instance: m.name, event: ev });
        if (ev.type === 'wantMaster') this.wantMasterTriggered = true;
        if (ev.type === 'sendGarp' && ev.cause === 'lowerPrio') {
          for (const other of this.members) if (other !== m) other.relayLowerPrioGarp(now);
        }
      }
    }
    return any;
  }

  private settle(now: number): void {
    for (let guard = 0; guard < 1000; guard++) {
      const drained = this.drain(now);
      const changed = this.reconcile(now);
      if (!drained && !changed) {
        this.wantMasterTriggered = false;
        return;
      }
    }
    throw new VrrpUsageError(`Sync group "${this.name}" did not settle`);
  }

  private reconcile(now: number): boolean {
    const active = this.members.filter((m) => m.state !== 'INIT' && m.state !== 'STOP');
    if (active.length === 0) {
      if (this.members.every((m) => m.state === 'STOP')) return this.setState(now, 'STOP', 'all members stopped');
      return false;
    }

    // Rule 1: a member's own fault puts the whole group in FAULT.
    const faulty = active.find((m) => m.hasOwnFault);
    if (faulty) {
      const reason = `member "${faulty.name}" is in FAULT`;
      let did = false;
      for (const m of active) {
        if (m.state !== 'FAULT') {
          m.forceSync(now, 'FAULT', `sync group "${this.name}": ${reason}`);
          did = true;
        }
      }
      return this.setState(now, 'FAULT', reason) || did;
    }

    // Rule 2: no member has a fault any more: leave FAULT together, to BACKUP.
    if (this.groupState === 'FAULT' || active.some((m) => m.state === 'FAULT')) {
      for (const m of active) {
        if (m.state === 'FAULT') m.forceSync(now, 'BACKUP', `sync group "${this.name}": all members up`);
      }
      this.setState(now, 'BACKUP', 'all members up');
      return true;
    }

    // Rule 3: while MASTER, a member in BACKUP takes the whole group to BACKUP.
    if (this.groupState === 'MASTER') {
      const dropped = active.find((m) => m.state === 'BACKUP');
      if (!dropped) return false;
      const reason = `member "${dropped.name}" went BACKUP`;
      for (const m of active) {
        if (m.state === 'MASTER') m.forceSync(now, 'BACKUP', `sync group "${this.name}": ${reason}`);
      }
      this.setState(now, 'BACKUP', reason);
      return true;
    }

    // Owners that all started as MASTER.
    if (active.every((m) => m.state === 'MASTER')) {
      return this.setState(now, 'MASTER', 'all members MASTER');
    }

    // Rule 4: a member's down timer expired; go MASTER only if every member wants to.
    if (this.wantMasterTriggered && active.every((m) => m.wantState === 'MASTER')) {
      this.wantMasterTriggered = false;
      const reason = 'all members want MASTER';
      for (const m of active) {
        if (m.state !== 'MASTER') m.forceSync(now, 'MASTER', `sync group "${this.name}": ${reason}`);
      }
      this.setState(now, 'MASTER', reason);
      return true;
    }
    return false;
  }
}

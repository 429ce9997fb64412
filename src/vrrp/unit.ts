/**
 * What the driver runs: a lone VRRP instance or a sync group, behind one interface. Every input
 * names the member it is for (a lone instance has one); every output says which member it came
 * from. `VrrpSyncGroup` implements it directly; `LoneInstance` is the unit of one instance.
 */
import type { ReceivedAdvert, TrackInput, VrrpCommand, VrrpEvent, VrrpInstance, VrrpInstanceParams, VrrpTransmit } from './instance.js';
import type { VrrpState } from '../vocab/states.js';

export type UnitEvent =
  | { type: 'member'; instance: string; event: VrrpEvent }
  | { type: 'groupStateChange'; group: string; from: VrrpState; to: VrrpState; reason: string }
  /** Run the group's notify_master / notify_backup / notify_fault / notify_stop. */
  | { type: 'groupNotify'; group: string; state: Exclude<VrrpState, 'INIT'> };

export interface UnitTransmit extends VrrpTransmit {
  instance: string;
}

export interface VrrpUnit {
  /** The sync group's name; undefined for a lone instance. */
  readonly group: string | undefined;
  readonly members: readonly VrrpInstance[];
  start(now: number): void;
  handleAdvert(now: number, instance: string, adv: ReceivedAdvert): void;
  /** Fire the expired timers. */
  handleTimeout(now: number): void;
  setTrack(now: number, instance: string, track: TrackInput): void;
  linkChange(now: number, instance: string, up: boolean): void;
  /** A command for one member, or for every member when `instance` is omitted. */
  command(now: number, cmd: VrrpCommand, instance?: string): void;
  /** A reload's new parameters for a member, applied in place (see VrrpInstance.retune). */
  retune(now: number, instance: string, params: VrrpInstanceParams): void;
  pollTransmit(): UnitTransmit | undefined;
  pollEvent(): UnitEvent | undefined;
  pollTimeout(): number | undefined;
}

/** A VRRP instance outside any sync group. */
export class LoneInstance implements VrrpUnit {
  readonly group = undefined;
  readonly members: readonly VrrpInstance[];

  constructor(private readonly inst: VrrpInstance) {
    this.members = [inst];
  }

  start(now: number): void {
    this.inst.start(now);
  }
  handleAdvert(now: number, _instance: string, adv: ReceivedAdvert): void {
    this.inst.handleAdvert(now, adv);
  }
  handleTimeout(now: number): void {
    this.inst.handleTimeout(now);
  }
  setTrack(now: number, _instance: string, track: TrackInput): void {
    this.inst.setTrack(now, track);
  }
  linkChange(now: number, _instance: string, up: boolean): void {
    this.inst.linkChange(now, up);
  }
  command(now: number, cmd: VrrpCommand): void {
    this.inst.command(now, cmd);
  }
  retune(now: number, _instance: string, params: VrrpInstanceParams): void {
    this.inst.retune(now, params);
  }
  pollTransmit(): UnitTransmit | undefined {
    const tx = this.inst.pollTransmit();
    return tx ? { instance: this.inst.name, ...tx } : undefined;
  }
  pollEvent(): UnitEvent | undefined {
    const ev = this.inst.pollEvent();
    return ev ? { type: 'member', instance: this.inst.name, event: ev } : undefined;
  }
  pollTimeout(): number | undefined {
    return this.inst.pollTimeout();
  }
}

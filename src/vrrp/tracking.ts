/**
 * Pure tracker arithmetic for one VRRP instance (docs/vrrp.md §5.7, §5.8; keepalived `vrrp_track.c`,
 * `vrrp.c` `vrrp_complete_instance` / `sync_group_tracking_init`, `track_file.c`).
 *
 * Two steps:
 * 1. `resolveTrackers(config, instance)` turns the instance's and its sync group's `track_*`
 *    references into a flat list with effective weights, applying keepalived's config rules:
 *    - track_script/track_file/track_process: the reference's `weight` overrides the definition's;
 *      `reverse` likewise (`reverse: false` is keepalived's `noreverse`);
 *    - track_interface/track_script weights of ±254 become ±253 (keepalived does so with an error);
 *    - in a sync group without `sync_group_tracking_weight`, and for an address owner
 *      (priority 255), the instance's own weighted trackers are dropped, except that a weighted
 *      track_interface becomes weight 0 in a sync group (so it FAULTs), and a track_file with the
 *      default weight 1 becomes weight 0;
 *    - the sync group's trackers apply to every member; if a member is an address owner their
 *      weights become 0; when the instance tracks the same object itself, the group's weight
 *      replaces the instance's unless the instance's is 0.
 * 2. `computeTrack(resolved, config, states)` evaluates them against the current states and
 *    returns `VrrpInstance.setTrack`'s input `{ weightDelta, fault, reason }` (plus details).
 *
 * Per tracker, with weight W and m = reverse ? -1 : 1:
 * - interface (up/down), script (OK/KO), process (quorum / no quorum):
 *   W = 0 → FAULT while down (reverse: while up); W > 0 → adds W·m while up;
 *   W < 0 → adds W·m while down. So `reverse` flips the sign, not the condition.
 * - file with integer value v: W = 0 → FAULT while v ≠ 0 (reverse: while v = 0);
 *   else v·W·m clamped to −254..253, and −254 (or below) means FAULT.
 * - a script that has not reported yet ("init", keepalived `num_script_init`): a weight-0 script
 *   keeps the instance not up (`fault` and `init` are true); a weighted one adds nothing yet.
 *   With `init_fail` the script starts as KO instead.
 *
 * Missing states: an interface without a state is down (keepalived: absent = not up), a file
 * without a value is 0 (keepalived: a missing file reads as 0), a process without a count has
 * 0 instances, a script without a state is "init" (or KO with `init_fail`).
 *
 * Not handled here: the instance's own `interface` and VIP interfaces (use
 * `VrrpInstance.linkChange`), track_bfd, track_src_ip.
 */
import type { Config } from '../config/schema.js';

export type TrackerKind = 'interface' | 'script' | 'file' | 'process';

/** A script's state as reported by the scheduler: OK, KO, or no result yet. `true`/`false` = up/down. */
export type ScriptState = 'init' | 'up' | 'down' | boolean;

export interface TrackerStates {
  /** Link state per interface name (true = up). */
  interfaces?: Readonly<Record<string, boolean>>;
  /** vrrp_script state per script name. */
  scripts?: Readonly<Record<string, ScriptState>>;
  /** Current integer value per track_file name. */
  files?: Readonly<Record<string, number>>;
  /** Number of matching processes per track_process name. */
  processes?: Readonly<Record<string, number>>;
  /**
   * Quorum per track_process name as its monitor decided it (src/vrrp/track-process.ts: after
   * fork_delay / terminate_delay); without an entry, quorum is judged on the count.
   */
  processQuorum?: Readonly<Record<string, boolean>>;
}

/** The definitions `resolveTrackers`/`computeTrack` read. A full `Config` fits. */
export type TrackingConfig = Pick<Config, 'instances' | 'sync_groups' | 'vrrp_scripts' | 'track_files' | 'track_processes'>;

export interface ResolvedTracker {
  kind: TrackerKind;
  /** Interface name, or the vrrp_script / track_file / track_process name. */
  name: string;
  weight: number;
  reverse: boolean;
  /** Where the reference was written; `vip`: a VIP's interface (vip-tracking.ts). */
  from: 'instance' | 'sync_group' | 'vip';
}

export interface ResolveOptions {
  /** keepalived `sync_group_tracking_weight` on the instance's sync group. Default false. */
  syncGroupTrackingWeight?: boolean;
}

export interface ResolvedTracking {
  trackers: ResolvedTracker[];
  /** The sync group the instance belongs to, if any. */
  syncGroup?: string;
  /** What keepalived would log for these references (ignored or changed trackers). */
  warnings: string[];
}

export interface TrackerContribution {
  tracker: ResolvedTracker;
  /** Priority change from this tracker (0 for weight-0 trackers). */
  delta: number;
  /** This tracker alone puts the instance in FAULT (or holds it not-up while in init). */
  fault: boolean;
  /** A weight-0 script that has not reported yet. */
  init: boolean;
  /** Short human text, e.g. "track_script chk_nginx failed". */
  text: string;
}

export interface TrackResult {
  /** Σ of the weighted trackers' contributions (docs/vrrp.md §5.7). Not clamped; the instance clamps. */
  weightDelta: number;
  /** A weight-0 tracker failed, a track_file reached −254, or a weight-0 script is still in init. */
  fault: boolean;
  /** Short human string naming the trackers that matter, e.g. "track_script chk_nginx failed". */
  reason: string;
  /** Some weight-0 script has not reported yet (keepalived keeps the instance in INIT). */
  init: boolean;
  contributions: TrackerContribution[];
}

export const TRACK_FILE_FAULT = -254;
const TRACK_FILE_MAX = 253;

// ---------------------------------------------------------------- resolution

const KIND_KEYWORD: Record<TrackerKind, string> = {
  interface: 'track_interface',
  script: 'track_script',
  file: 'track_file',
  process: 'track_process',
};

interface RefLike {
  weight?: number | undefined;
  reverse?: boolean | undefined;
}
interface TrackLists {
  track_interface: ReadonlyArray<{ interface: string } & RefLike>;
  track_script: ReadonlyArray<{ name: string } & RefLike>;
  track_file: ReadonlyArray<{ name: string } & RefLike>;
  track_process: ReadonlyArray<{ name: string } & RefLike>;
}

/** Weight and reverse of one reference, or undefined (with a warning) when it names nothing. */
function resolveRefs(
  config: TrackingConfig,
  lists: TrackLists,
  owner: string,
  from: ResolvedTracker['from'],
  warnings: string[],
): ResolvedTracker[] {
  const out: ResolvedTracker[] = [];
  const add = (t: ResolvedTracker): void => {
    if (out.some((o) => o.kind === t.kind && o.name === t.name)) {
      warnings.push(`(${owner}) duplicate ${KIND_KEYWORD[t.kind]} ${t.name} - ignoring`);
      return;
    }
    out.push(t);
  };
  const clamp253 = (kind: TrackerKind, name: string, w: number): number => {
    if (w === 254 || w === -254) {
      warnings.push(`(${owner}) weight for ${KIND_KEYWORD[kind]} ${name} cannot be +/-254. Setting to +/-253`);
      return w > 0 ? 253 : -253;
    }
    return w;
  };

  for (const ref of lists.track_interface) {
    add({ kind: 'interface', name: ref.interface, weight: clamp253('interface', ref.interface, ref.weight ?? 0), reverse: ref.reverse ?? false, from });
  }
  for (const ref of lists.track_script) {
    const def = config.vrrp_scripts[ref.name];
    if (!def) {
      warnings.push(`(${owner}) track script ${ref.name} not found, ignoring...`);
      continue;
    }
    add({ kind: 'script', name: ref.name, weight: clamp253('script', ref.name, ref.weight ?? def.weight), reverse: ref.reverse ?? def.weight_reverse, from });
  }
  for (const ref of lists.track_file) {
    const def = config.track_files[ref.name];
    if (!def) {
      warnings.push(`(${owner}) track file ${ref.name} not found, ignoring...`);
      continue;
    }
    add({ kind: 'file', name: ref.name, weight: ref.weight ?? def.weight, reverse: ref.reverse ?? def.weight_reverse, from });
  }
  for (const ref of lists.track_process) {
    const def = config.track_processes[ref.name];
    if (!def) {
      warnings.push(`(${owner}) track process ${ref.name} not found, ignoring...`);
      continue;
    }
    add({ kind: 'process', name: ref.name, weight: ref.weight ?? def.weight, reverse: ref.reverse ?? def.weight_reverse, from });
  }
  return out;
}

/** The sync group an instance is a member of (the first one listing it). */
export function syncGroupOf(config: Pick<Config, 'sync_groups'>, instance: string): string | undefined {
  for (const [name, g] of Object.entries(config.sync_groups)) if (g.group.includes(instance)) return name;
  return undefined;
}

export function resolveTrackers(config: TrackingConfig, instance: string, opts: ResolveOptions = {}): ResolvedTracking {
  const inst = config.instances[instance];
  const warnings: string[] = [];
  if (!inst) return { trackers: [], warnings: [`instance ${instance} not found`] };
  const groupName = syncGroupOf(config, instance);
  const group = groupName === undefined ? undefined : config.sync_groups[groupName];
  const owner = inst.priority === 255;
  const syncNoWeight = group !== undefined && !opts.syncGroupTrackingWeight;

  let own = resolveRefs(config, inst, instance, 'instance', warnings);

  if (syncNoWeight || owner) {
    const why = syncNoWeight ? 'SYNC group' : 'address owner';
    const kept: ResolvedTracker[] = [];
    for (const t of own) {
      if (t.weight === 0) {
        kept.push(t);
      } else if (t.kind === 'interface' && syncNoWeight) {
        warnings.push(`(${instance}) ignoring weight of tracked interface ${t.name} due to ${why}`);
        kept.push({ ...t, weight: 0 });
      } else if (t.kind === 'file' && t.weight === 1) {
        warnings.push(`(${instance}) ignoring weight from tracked file ${t.name} due to ${why} - specify weight 0`);
        kept.push({ ...t, weight: 0 });
      } else {
        warnings.push(`(${instance}) ignoring ${KIND_KEYWORD[t.kind]} ${t.name} with weight ${t.weight} due to ${why}`);
      }
    }
    own = kept;
  }

  if (group && groupName !== undefined) {
    const members = group.group.map((m) => config.instances[m]).filter((m) => m !== undefined);
    const groupHasOwner = members.some((m) => m.priority === 255);
    for (let t of resolveRefs(config, group, groupName, 'sync_group', warnings)) {
      if (groupHasOwner && t.weight !== 0) {
        warnings.push(`(${groupName}) cannot have weighted ${KIND_KEYWORD[t.kind]} '${t.name}' with a member having priority 255 - setting weight 0`);
        t = { ...t, weight: 0 };
      }
      const i = own.findIndex((o) => o.kind === t.kind && o.name === t.name);
      const existing = i < 0 ? undefined : own[i];
      if (existing) {
        warnings.push(`(${instance}) ${KIND_KEYWORD[t.kind]} ${t.name} is configured on the instance and its sync group; remove the instance's`);
        // keepalived: the sync group's weight wins unless the instance's reference is unweighted.
        if (existing.weight !== 0) own[i] = { ...existing, weight: t.weight, reverse: t.reverse, from: 'sync_group' };
      } else {
        own.push(t);
      }
    }
  }

  return { trackers: own, ...(groupName !== undefined ? { syncGroup: groupName } : {}), warnings };
}

// ---------------------------------------------------------------- evaluation

function normaliseScript(s: ScriptState | undefined, initFail: boolean): 'init' | 'up' | 'down' {
  if (s === true || s === 'up') return 'up';
  if (s === false || s === 'down') return 'down';
  return initFail ? 'down' : 'init';
}

/** The contribution of a boolean-state tracker (interface, script, process). */
function boolContribution(weight: number, reverse: boolean, ok: boolean): { delta: number; fault: boolean } {
  const m = reverse ? -1 : 1;
  if (weight === 0) return { delta: 0, fault: ok === reverse };
  if (ok) return { delta: weight > 0 ? weight * m : 0, fault: false };
  return { delta: weight < 0 ? weight * m : 0, fault: false };
}

/** keepalived `track_file` status for one tracking instance: −254 means FAULT. */
export function trackFileStatus(value: number, weight: number, reverse: boolean): number {
  if (weight === 0) return (value !== 0) === !reverse ? TRACK_FILE_FAULT : 0;
  const status = value * weight * (reverse ? -1 : 1);
  return Math.max(TRACK_FILE_FAULT, Math.min(TRACK_FILE_MAX, status)) || 0; // no -0
}

const signed = (n: number): string => (n > 0 ? `+${n}` : String(n));

/** Evaluates one resolved tracker against the states. */
export function evaluateTracker(t: ResolvedTracker, config: Pick<TrackingConfig, 'vrrp_scripts' | 'track_processes'>, states: TrackerStates): TrackerContribution {
  const kw = t.from === 'vip' ? `VIP interface ${t.name}` : `${KIND_KEYWORD[t.kind]} ${t.name}`;
  const rev = t.reverse ? ' (reverse)' : '';
  switch (t.kind) {
    case 'interface': {
      const up = states.interfaces?.[t.name] ?? false;
      const c = boolContribution(t.weight, t.reverse, up);
      return { tracker: t, ...c, init: false, text: `${kw} ${up ? 'up' : 'down'}${rev}` };
    }
    case 'script': {
      const st = normaliseScript(states.scripts?.[t.name], config.vrrp_scripts[t.name]?.init_fail ?? false);
      if (st === 'init') {
        const init = t.weight === 0;
        return { tracker: t, delta: 0, fault: init, init, text: `${kw} has not reported yet` };
      }
      const c = boolContribution(t.weight, t.reverse, st === 'up');
      return { tracker: t, ...c, init: false, text: `${kw} ${st === 'up' ? 'succeeded' : 'failed'}${rev}` };
    }
    case 'process': {
      const def = config.track_processes[t.name];
      const n = states.processes?.[t.name] ?? 0;
      const max = def?.quorum_max ?? Infinity;
      const quorum = max === 0 ? 0 : (def?.quorum ?? 1);
      const have = states.processQuorum?.[t.name] ?? (n >= quorum && n <= max);
      const c = boolContribution(t.weight, t.reverse, have);
      const bounds = max === Infinity ? `${quorum}+` : `${quorum}..${max}`;
      return { tracker: t, ...c, init: false, text: `${kw} ${have ? 'has' : 'lacks'} quorum (${n} running, want ${bounds})${rev}` };
    }
    case 'file': {
      const v = states.files?.[t.name] ?? 0;
      const status = trackFileStatus(v, t.weight, t.reverse);
      const fault = status <= TRACK_FILE_FAULT;
      return { tracker: t, delta: fault ? 0 : status, fault, init: false, text: `${kw} value ${v}${rev}` };
    }
  }
}

/** Evaluates resolved trackers; the result feeds `VrrpInstance.setTrack`. */
export function computeTrack(
  trackers: readonly ResolvedTracker[],
  config: Pick<TrackingConfig, 'vrrp_scripts' | 'track_processes'>,
  states: TrackerStates,
): TrackResult {
  const contributions = trackers.map((t) => evaluateTracker(t, config, states));
  let weightDelta = 0;
  for (const c of contributions) weightDelta += c.delta;
  const fault = contributions.some((c) => c.fault);
  const init = contributions.some((c) => c.init);
  const parts = [
    ...contributions.filter((c) => c.fault).map((c) => c.text),
    ...contributions.filter((c) => !c.fault && c.delta !== 0).map((c) => `${c.text} (${signed(c.delta)})`),
  ];
  const reason = parts.length > 0 ? parts.join(', ') : trackers.length === 0 ? 'no trackers' : 'all trackers OK';
  return { weightDelta, fault, reason, init, contributions };
}

/** `resolveTrackers` then `computeTrack`, for callers that do not keep the resolved list. */
export function instanceTrack(config: TrackingConfig, instance: string, states: TrackerStates, opts: ResolveOptions = {}): TrackResult {
  return computeTrack(resolveTrackers(config, instance, opts).trackers, config, states);
}

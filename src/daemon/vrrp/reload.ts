/**
 * What a config reload changes for the VRRP runtime. PURE: no I/O, no clock, no logger.
 *
 * `diffVrrpConfig(prev, next)` classifies every VRRP instance and sync group:
 * - `unchanged`: everything that affects the state machine, the sockets or the VIPs is equal — the
 *   instance's own keys (except the notify keys below), the resolved machine parameters, wire data
 *   and codec expectations from `src/vrrp/params.ts` (so a change of a global `vrrp_*` default that
 *   reaches the instance counts), its VIP lists, its resolved trackers (with the definition fields
 *   that evaluation reads: `init_fail`, process quorum) and its sync group membership;
 * - `updated`: only notify keys differ (`notify*`, `smtp_alert`, `notify_priority_changes`): the
 *   runtime keeps the machine and picks the new scripts up in place;
 * - `retuned`: parameters differ (priority, advert interval, preemption, VIPs, trackers, unicast
 *   peers, authentication, GARP and timer settings...): the runtime keeps the machine and its
 *   state and applies them in place (`VrrpInstance.retune`; added VIPs added, removed ones removed,
 *   the rest untouched). Nothing fails over because of the reload itself;
 * - `changed`: what identifies the virtual router differs (VRID, interface, address family), the
 *   instance moves between sync groups, or a key the diff does not know how to apply changed: the
 *   runtime restarts the unit (stop, then start fresh);
 * - `added` / `removed`.
 *
 * A sync group is one machine (`VrrpSyncGroup`), so it restarts as a whole: a group whose own keys
 * changed restarts all its members, and a member that changes, appears or disappears restarts its
 * group (and so its siblings). This is iterated until nothing moves.
 *
 * Trackers (`vrrp_scripts`, `track_files`, `track_processes`) are diffed by definition, so the
 * daemon can restart just those watchers. A changed definition alone does not restart the
 * instances tracking it (their last known state stays until the new watcher reports).
 *
 * Reasons name keys only, never values (the auth password must not reach a log line).
 */
import type { Config } from '../../config/schema.js';
import { resolveInstance, type ResolvedInstance } from '../../vrrp/params.js';
import { resolveTrackers, syncGroupOf } from '../../vrrp/tracking.js';

export type ReloadAction = 'unchanged' | 'updated' | 'retuned' | 'changed' | 'added' | 'removed';

/** Instance and sync-group keys a reload applies in place (looked up when a notify runs). */
export const NOTIFY_ONLY_KEYS: readonly string[] = [
  'notify',
  'notify_master',
  'notify_backup',
  'notify_fault',
  'notify_stop',
  'notify_deleted',
  'notify_master_rx_lower_pri',
  'notify_priority_changes',
  'smtp_alert',
  // read at each tick by garp-extra.ts
  'garp_extra_if',
];

export interface InstanceDiff {
  name: string;
  action: ReloadAction;
  /** The sync group in the new config (else the old one), if any. */
  syncGroup: string | undefined;
  /** Why it is `changed` or `updated` (key names only). */
  reasons: string[];
}

export interface SyncGroupDiff {
  name: string;
  action: ReloadAction;
  /** Members in the new config (else the old one). */
  members: string[];
  reasons: string[];
}

export interface TrackerDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

export interface VrrpConfigDiff {
  /** New-config order, then removed instances in old-config order. */
  instances: InstanceDiff[];
  syncGroups: SyncGroupDiff[];
  trackers: { scripts: TrackerDiff; files: TrackerDiff; processes: TrackerDiff };
  /** Changes a reload of the VRRP runtime does not apply (they need a restart). */
  notes: string[];
}

// ------------------------------------------------------------------------------------------------
// Plain-data equality (config and resolved params are JSON-like; an undefined key counts as absent)

export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') {
    return typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => sameData(x, bb[i]));
  }
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)])) {
    if (!sameData(ao[k], bo[k])) return false;
  }
  return true;
}

/** Keys (of the union) whose values differ. */
function differingKeys(a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined, skip: readonly string[] = []): string[] {
  const ao = a ?? {};
  const bo = b ?? {};
  const out: string[] = [];
  for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)])) {
    if (skip.includes(k)) continue;
    if (!sameData(ao[k], bo[k])) out.push(k);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Per-instance fingerprint

type Resolution = { ok: true; r: ResolvedInstance } | { ok: false; error: string };

/** The source address is the runtime's business (the interface's address); a placeholder keeps the diff pure. */
const PLACEHOLDER_SRC = '0.0.0.0';

function resolve(config: Config, name: string): Resolution {
  try {
    return { ok: true, r: resolveInstance(config, name, PLACEHOLDER_SRC) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Resolved parts that drive the machine, the sockets and the VIPs (warnings are logging only). */
function resolvedParts(r: ResolvedInstance): Record<string, unknown> {
  return { params: r.params, wire: r.wire, expectations: r.expectations, vips: r.vips, defaultDev: r.defaultDev, configFault: r.configFault };
}

/** The instance's resolved trackers plus the definition fields `computeTrack` reads. */
function trackerFingerprint(config: Config, name: string): unknown {
  return resolveTrackers(config, name).trackers.map((t) => {
    if (t.kind === 'script') return { ...t, initFail: config.vrrp_scripts[t.name]?.init_fail ?? false };
    if (t.kind === 'process') {
      const d = config.track_processes[t.name];
      return { ...t, quorum: d?.quorum, quorumMax: d?.quorum_max };
    }
    return t;
  });
}

/**
 * Instance keys whose whole effect shows in the resolved params / wire / expectations / VIPs or in
 * the resolved trackers: a different spelling with the same effect (an explicit value equal to the
 * default) does not restart. Every other key (including ones added to the schema later) is
 * compared as written.
 */
const CAPTURED_KEYS: readonly string[] = [
  'state',
  'interface',
  'virtual_router_id',
  'priority',
  'advert_int',
  'version',
  'authentication',
  'virtual_ipaddress',
  'virtual_ipaddress_excluded',
  'nopreempt',
  'preempt_delay',
  'unicast_src_ip',
  'unicast_peer',
  'unicast_ttl',
  'unicast_fault_no_peer',
  'check_unicast_src',
  'mcast_src_ip',
  'mcast_dst_ip',
  'strict_mode',
  'skip_check_adv_addr',
  'v3_checksum_as_v2',
  'garp_master_delay',
  'garp_master_repeat',
  'garp_master_refresh',
  'garp_master_refresh_repeat',
  'garp_lower_prio_delay',
  'garp_lower_prio_repeat',
  'down_timer_adverts',
  'lower_prio_no_advert',
  'higher_prio_send_advert',
  'owner_ignore_adverts',
  'dont_track_primary',
  'track_interface',
  'track_script',
  'track_file',
  'track_process',
];

function compareInstance(prev: Config, next: Config, name: string): { action: 'unchanged' | 'updated' | 'retuned' | 'changed'; reasons: string[] } {
  const a = prev.instances[name] as Record<string, unknown> | undefined;
  const b = next.instances[name] as Record<string, unknown> | undefined;
  const rawKeys = differingKeys(a, b, NOTIFY_ONLY_KEYS);
  // A key the diff does not capture cannot be applied in place.
  let restart = rawKeys.some((k) => !CAPTURED_KEYS.includes(k));
  // dont_track_primary shows in no resolved part: it decides which link the runtime follows.
  let retune = rawKeys.includes('dont_track_primary');
  const reasons = [...rawKeys];

  // Resolved params (also catches a global vrrp_* default reaching this instance).
  const ra = resolve(prev, name);
  const rb = resolve(next, name);
  if (!rb.ok || !ra.ok) {
    restart = true;
    reasons.push(rb.ok ? 'resolved (was invalid)' : `invalid: ${rb.error}`);
  } else {
    const resolvedKeys = differingKeys(resolvedParts(ra.r), resolvedParts(rb.r));
    if (resolvedKeys.length > 0) {
      retune = true;
      if (rawKeys.length === 0) for (const k of resolvedKeys) reasons.push(`resolved ${k} (global defaults)`);
    }
    // What identifies the virtual router.
    const wa = ra.r.wire;
    const wb = rb.r.wire;
    if (wa.vrid !== wb.vrid || wa.family !== wb.family || wa.interface !== wb.interface) restart = true;
  }

  if (!sameData(trackerFingerprint(prev, name), trackerFingerprint(next, name))) {
    retune = true;
    if (!rawKeys.some((k) => k.startsWith('track_'))) reasons.push('trackers');
  }
  const ga = syncGroupOf(prev, name);
  const gb = syncGroupOf(next, name);
  if (ga !== gb) {
    restart = true;
    reasons.push(`sync group ${ga ?? '(none)'} -> ${gb ?? '(none)'}`);
  }

  if (restart) return { action: 'changed', reasons };
  if (retune) return { action: 'retuned', reasons };
  const notify = NOTIFY_ONLY_KEYS.filter((k) => !sameData(a?.[k], b?.[k]));
  return notify.length > 0 ? { action: 'updated', reasons: notify } : { action: 'unchanged', reasons: [] };
}

function compareGroup(prev: Config, next: Config, name: string): { action: 'unchanged' | 'updated' | 'changed'; reasons: string[] } {
  const a = prev.sync_groups[name] as Record<string, unknown> | undefined;
  const b = next.sync_groups[name] as Record<string, unknown> | undefined;
  const reasons = differingKeys(a, b, NOTIFY_ONLY_KEYS);
  if (reasons.length > 0) return { action: 'changed', reasons };
  const notify = NOTIFY_ONLY_KEYS.filter((k) => !sameData(a?.[k], b?.[k]));
  return notify.length > 0 ? { action: 'updated', reasons: notify } : { action: 'unchanged', reasons: [] };
}

function diffRecords(a: Record<string, unknown>, b: Record<string, unknown>): TrackerDiff {
  const out: TrackerDiff = { added: [], removed: [], changed: [] };
  for (const k of Object.keys(b)) {
    if (!(k in a)) out.added.push(k);
    else if (!sameData(a[k], b[k])) out.changed.push(k);
  }
  for (const k of Object.keys(a)) if (!(k in b)) out.removed.push(k);
  return out;
}

// ------------------------------------------------------------------------------------------------

export function diffVrrpConfig(prev: Config, next: Config): VrrpConfigDiff {
  const inst = new Map<string, InstanceDiff>();
  for (const name of Object.keys(next.instances)) {
    const syncGroup = syncGroupOf(next, name);
    if (!(name in prev.instances)) inst.set(name, { name, action: 'added', syncGroup, reasons: [] });
    else inst.set(name, { name, syncGroup, ...compareInstance(prev, next, name) });
  }
  for (const name of Object.keys(prev.instances)) {
    if (!(name in next.instances)) inst.set(name, { name, action: 'removed', syncGroup: syncGroupOf(prev, name), reasons: [] });
  }

  const groups = new Map<string, SyncGroupDiff>();
  for (const [name, g] of Object.entries(next.sync_groups)) {
    if (!(name in prev.sync_groups)) groups.set(name, { name, action: 'added', members: [...g.group], reasons: [] });
    else groups.set(name, { name, members: [...g.group], ...compareGroup(prev, next, name) });
  }
  for (const [name, g] of Object.entries(prev.sync_groups)) {
    if (!(name in next.sync_groups)) groups.set(name, { name, action: 'removed', members: [...g.group], reasons: [] });
  }

  // A sync group is one machine: restart it with every member, until nothing moves.
  const restarts = (a: ReloadAction): boolean => a === 'changed' || a === 'added' || a === 'removed';
  const membersOf = (g: string): string[] => [...new Set([...(prev.sync_groups[g]?.group ?? []), ...(next.sync_groups[g]?.group ?? [])])];
  for (let moved = true, guard = 0; moved && guard < 1000; guard++) {
    moved = false;
    for (const g of groups.values()) {
      if (restarts(g.action)) {
        for (const m of membersOf(g.name)) {
          const d = inst.get(m);
          if (d && (d.action === 'unchanged' || d.action === 'updated' || d.action === 'retuned')) {
            d.action = 'changed';
            d.reasons = [`sync group ${g.name} restarts`];
            moved = true;
          }
        }
      } else {
        const culprit = membersOf(g.name).find((m) => {
          const d = inst.get(m);
          return d !== undefined && restarts(d.action);
        });
        if (culprit !== undefined) {
          g.action = 'changed';
          g.reasons = [`member ${culprit} ${inst.get(culprit)?.action ?? 'changed'}`];
          moved = true;
        }
      }
    }
  }

  const trackers = {
    scripts: diffRecords(prev.vrrp_scripts, next.vrrp_scripts),
    files: diffRecords(prev.track_files, next.track_files),
    processes: diffRecords(prev.track_processes, next.track_processes),
  };

  const notes: string[] = [];
  for (const k of ['notify_fifo', 'vrrp_notify_fifo'] as const) {
    if (!sameData(prev.global[k], next.global[k])) notes.push(`global ${k} changed: the notify FIFOs are opened at startup; restart to apply`);
  }

  return { instances: [...inst.values()], syncGroups: [...groups.values()], trackers, notes };
}

/** Instance names per action, in diff order. */
export function instancesByAction(diff: VrrpConfigDiff): Record<ReloadAction, string[]> {
  const out: Record<ReloadAction, string[]> = { unchanged: [], updated: [], retuned: [], changed: [], added: [], removed: [] };
  for (const d of diff.instances) out[d.action].push(d.name);
  return out;
}

// Can this process run scripts as another user? Node spawns a script with another uid/gid by
// setgroups + setgid + setuid in the child, which needs CAP_SETGID (and CAP_SETUID for another
// uid). The shipped systemd unit grants neither (CAP_NET_ADMIN CAP_NET_RAW only), and as root the
// default script user is keepalived_script when it exists: then every script fails with EPERM
// (and a MISC_CHECK that fails takes its real server out). `check` (also the unit's
// ExecStartPre, with the unit's capabilities) and `run` say so, naming what the unit must grant.
import type { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

export const CAP_SETGID = 6;
export const CAP_SETUID = 7;

/** The effective capability set from /proc/self/status text (CapEff), or undefined. */
export function effectiveCaps(statusText: string): bigint | undefined {
  const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(statusText);
  return m ? BigInt(`0x${m[1]}`) : undefined;
}

export interface IdCaps {
  setuid: boolean;
  setgid: boolean;
}

/** This process's CAP_SETUID / CAP_SETGID; undefined when /proc cannot be read. */
export function processIdCaps(statusText?: string): IdCaps | undefined {
  let text = statusText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      return undefined;
    }
  }
  const caps = effectiveCaps(text);
  if (caps === undefined) return undefined;
  const has = (bit: number) => (caps & (1n << BigInt(bit))) !== 0n;
  return { setuid: has(CAP_SETUID), setgid: has(CAP_SETGID) };
}

export interface Ids {
  uid: number;
  gid: number;
}

/** The drop-in that grants what scripts under another user need. */
export const SCRIPT_CAPS_DROPIN = '/etc/systemd/system/vipkeeper.service.d/script-user.conf';

/**
 * Why scripts that run as `who` (`as`: their uid/gid) would fail from this process, or
 * undefined when they can run. `who` names them for the message.
 */
export function scriptPrivilegeProblem(who: string, as: Ids, own: Ids, caps: IdCaps | undefined): string | undefined {
  if (as.uid === own.uid && as.gid === own.gid) return undefined;
  if (!caps) return undefined; // cannot tell
  const missing = [as.uid !== own.uid && !caps.setuid ? 'CAP_SETUID' : '', !caps.setgid ? 'CAP_SETGID' : ''].filter(Boolean);
  if (missing.length === 0) return undefined;
  const list = missing.join(' ');
  return (
    `scripts run as ${who} (uid ${as.uid} gid ${as.gid}), but this process (uid ${own.uid}) lacks ${missing.join(' and ')}: every such script would fail with EPERM ` +
    `(and a failing MISC_CHECK takes its real server out). Grant ${missing.length > 1 ? 'them' : 'it'} to the unit with a drop-in ${SCRIPT_CAPS_DROPIN}: ` +
    `"[Service]" "CapabilityBoundingSet=${list}" "AmbientCapabilities=${list}", then systemctl daemon-reload; or set global_defs script_user to the daemon's own user`
  );
}

/** uid and primary gid of a user (name or number), synchronously (for `check`); undefined when unknown. */
export function lookupUserSync(name: string): Ids | undefined {
  const f = getent('passwd', name)?.split(':');
  if (f && f.length >= 4 && /^\d+$/.test(f[2] ?? '') && /^\d+$/.test(f[3] ?? '')) return { uid: Number(f[2]), gid: Number(f[3]) };
  return undefined;
}

/** gid of a group (name or number), synchronously; undefined when unknown. */
export function lookupGroupSync(name: string): number | undefined {
  const f = getent('group', name)?.split(':');
  if (f && f.length >= 3 && /^\d+$/.test(f[2] ?? '')) return Number(f[2]);
  return /^\d+$/.test(name) ? Number(name) : undefined;
}

// child_process only when a script names a user (most checks never get here).
let exec: typeof execFileSync | undefined;

function getent(db: string, key: string): string | undefined {
  exec ??= (createRequire(import.meta.url)('node:child_process') as { execFileSync: typeof execFileSync }).execFileSync;
  try {
    return exec('getent', [db, key], { timeout: 5000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0];
  } catch {
    return undefined;
  }
}

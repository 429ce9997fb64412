/**
 * keepalived's virtual_routes / virtual_rules and static_routes / static_rules, through `ip`:
 * the lines are `ip route` / `ip rule` arguments (keepalived's grammar is the same), minus the
 * keywords that are keepalived's own:
 *
 * - `no_track` (the instance does not leave MASTER when the route goes; vipkeeper does not watch
 *   routes, so it changes nothing) and `track_group GROUP` are dropped;
 * - `inet6` forces IPv6 (else the family follows the addresses in the line, IPv4 by default);
 * - `append` adds the route after any matching one (`ip route append`), else it is prepended
 *   (`ip route add`, the kernel's default, as keepalived).
 *
 * Every route and rule gets `protocol 18` ("keepalived", RTPROT_KEEPALIVED) unless the line names
 * one, as keepalived does, and is deleted with it, so a delete only ever takes ours. Adding what
 * is there and deleting what is not are not errors.
 */
import { isIP } from 'node:net';

import { ipBatch, type IpOptions } from './ip-batch.js';

/** RTPROT_KEEPALIVED: what keepalived marks its routes and rules with. */
export const RTPROT_KEEPALIVED = 18;

export interface IpLine {
  kind: 'route' | 'rule';
  family: 4 | 6;
  append: boolean;
  /** The `ip route` / `ip rule` arguments. */
  args: string[];
  /** The line as configured (for messages). */
  text: string;
}

const OWN_FLAGS = new Set(['no_track', 'inet6', 'append']);

/** A configured route or rule line as `ip` arguments. */
export function parseIpLine(kind: 'route' | 'rule', text: string): IpLine {
  const words = text.trim().split(/\s+/).filter((w) => w !== '');
  let family: 4 | 6 | undefined = words.includes('inet6') ? 6 : undefined;
  const args: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === 'track_group') {
      i++;
      continue;
    }
    if (OWN_FLAGS.has(w)) continue;
    if (family === undefined) {
      const addr = w.split('/')[0]!;
      const f = isIP(addr);
      if (f === 4 || f === 6) family = f;
    }
    args.push(w);
  }
  if (!args.some((w) => w === 'protocol' || w === 'proto')) args.push('protocol', String(RTPROT_KEEPALIVED));
  return { kind, family: family ?? 4, append: words.includes('append'), args, text };
}

function batchLine(l: IpLine, op: 'add' | 'del'): string {
  const verb = op === 'del' ? 'del' : l.kind === 'route' && l.append ? 'append' : 'add';
  return `${l.kind} ${verb} ${l.args.join(' ')}`;
}

/** ip's messages that mean "already so". */
const ALREADY: Record<'add' | 'del', RegExp> = {
  add: /File exists/,
  del: /No such process|No such file or directory|Cannot find device/,
};

/**
 * Adds or deletes `lines` in one `ip -batch` (rules before routes when deleting, routes before
 * rules when adding, as keepalived orders them). Returns one message per line that failed.
 */
export async function applyIpLines(lines: readonly IpLine[], op: 'add' | 'del', opts: IpOptions = {}): Promise<string[]> {
  if (lines.length === 0) return [];
  const order: IpLine['kind'][] = op === 'add' ? ['route', 'rule'] : ['rule', 'route'];
  const errors: string[] = [];
  // one batch per family (`ip -6` is per process); IPv4 first, as the lines usually are
  for (const family of [4, 6] as const) {
    const sorted = order.flatMap((k) => lines.filter((l) => l.kind === k && l.family === family));
    if (sorted.length === 0) continue;
    const r = await ipBatch(sorted.map((l) => batchLine(l, op)), { ...opts, family });
    for (const e of r.errors) if (!ALREADY[op].test(e.message)) errors.push(`${sorted[e.index]!.kind} ${op} '${sorted[e.index]!.text}': ${e.message.trim()}`);
  }
  return errors;
}

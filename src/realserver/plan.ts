/**
 * What a real server needs for LVS-DR / LVS-TUN / LVS-NAT, as pure functions of the config and
 * what the host has now (`Observed`); host.ts reads the host and applies the steps.
 *
 * - DR: every VIP on `lo` as a host address (/32, /128), so the kernel accepts packets for it,
 *   and (IPv4) the ARP sysctls on `all` and the LAN device, so it never answers ARP for it
 *   (arp_ignore=1: answer only for addresses of the receiving interface; arp_announce=2: never
 *   use the VIP as the ARP source). The kernel takes the larger of `all` and the device's value,
 *   so both are set. The sysctls go first, so no ARP answer escapes while the VIP appears.
 *   IPv6 needs no sysctl: Linux answers a neighbour solicitation only for addresses of the
 *   receiving interface, and a VIP on `lo` is not one of eth0's.
 * - TUN: the VIPs on the ipip device (tunl0; ip6tnl0 for IPv6) instead, that device up, the same
 *   ARP sysctls, and rp_filter off on the tunnel and on `all` (decapsulated packets come from
 *   clients whose route points out of the LAN device, which strict reverse-path filtering drops).
 * - NAT: nothing to apply; the replies must go back through the director, so the default route
 *   must point at it: checked and reported.
 *
 * `down` undoes exactly what `up` changed, from the state file: the prior sysctl values, the VIPs
 * that were not there before, the tunnel devices created or brought up.
 */
import type { RealServerConfig } from '../config/realserver.js';
import { canonicalIp, ipFamily } from '../vocab/ip.js';

export interface HostAddress {
  dev: string;
  address: string;
  prefix: number;
}

export interface Observed {
  /** Current values of the sysctl keys `wanted()` names (undefined: no such key, e.g. no such device). */
  sysctl: Record<string, string | undefined>;
  /** Every address on the host: `dev|canonical address/prefix`. */
  addresses: ReadonlySet<string>;
  /** The links the plan names: undefined when absent. */
  links: Record<string, { up: boolean } | undefined>;
  /** Gateways of the main table's default routes, per family. */
  gateways: { 4: string[]; 6: string[] };
}

export type Step =
  | { kind: 'link-create'; name: string; type: 'ipip' | 'ip6tnl' }
  | { kind: 'link-up'; name: string }
  | { kind: 'sysctl'; key: string; from: string; to: string }
  | { kind: 'addr-add'; addr: HostAddress };

export type UndoStep =
  | { kind: 'addr-del'; addr: HostAddress }
  | { kind: 'sysctl'; key: string; from: string; to: string }
  | { kind: 'link-down'; name: string }
  | { kind: 'link-delete'; name: string };

interface WantedSysctl {
  key: string;
  set: string;
  /** values that already do the job (arp_ignore 2 is stricter than 1) */
  accept: readonly string[];
  why: string;
}

export interface Wanted {
  links: { name: string; type: 'ipip' | 'ip6tnl' }[];
  sysctls: WantedSysctl[];
  addresses: HostAddress[];
}

export const addrKey = (a: HostAddress): string => `${a.dev}|${canonicalIp(a.address) ?? a.address}/${a.prefix}`;

const conf = (dev: string, key: string) => `net/ipv4/conf/${dev}/${key}`;

/** Everything the config asks of the host. */
export function wanted(c: RealServerConfig): Wanted {
  const v4 = c.vips.filter((v) => ipFamily(v) === 4);
  const v6 = c.vips.filter((v) => ipFamily(v) === 6);
  const out: Wanted = { links: [], sysctls: [], addresses: [] };
  if (c.mode === 'nat') return out;
  if (c.mode === 'tun') {
    if (v4.length) out.links.push({ name: c.tunnel_dev, type: 'ipip' });
    if (v6.length) out.links.push({ name: c.tunnel6_dev, type: 'ip6tnl' });
  }
  if (v4.length) {
    for (const dev of ['all', c.dev]) {
      out.sysctls.push({ key: conf(dev, 'arp_ignore'), set: '1', accept: ['1', '2'], why: 'answer ARP only for addresses of the receiving interface' });
      out.sysctls.push({ key: conf(dev, 'arp_announce'), set: '2', accept: ['2'], why: 'never source ARP requests from the VIP' });
    }
    if (c.mode === 'tun') {
      for (const dev of ['all', c.tunnel_dev]) out.sysctls.push({ key: conf(dev, 'rp_filter'), set: '0', accept: ['0'], why: 'accept decapsulated packets from any client' });
    }
  }
  const dev4 = c.mode === 'tun' ? c.tunnel_dev : 'lo';
  const dev6 = c.mode === 'tun' ? c.tunnel6_dev : 'lo';
  for (const a of v4) out.addresses.push({ dev: dev4, address: a, prefix: 32 });
  for (const a of v6) out.addresses.push({ dev: dev6, address: canonicalIp(a) ?? a, prefix: 128 });
  return out;
}

/** The sysctl keys to read before planning. */
export function sysctlKeys(c: RealServerConfig): string[] {
  return wanted(c).sysctls.map((s) => s.key);
}

export interface Plan {
  steps: Step[];
  /** Things `up` cannot fix (a missing LAN interface, a VIP also on the LAN device, a NAT route). */
  problems: string[];
}

/** The steps that bring the host to the config, in a safe order: links, sysctls, then addresses. */
export function plan(c: RealServerConfig, o: Observed): Plan {
  const w = wanted(c);
  const steps: Step[] = [];
  for (const l of w.links) {
    const have = o.links[l.name];
    if (!have) steps.push({ kind: 'link-create', name: l.name, type: l.type }, { kind: 'link-up', name: l.name });
    else if (!have.up) steps.push({ kind: 'link-up', name: l.name });
  }
  const creating = new Set(steps.filter((s) => s.kind === 'link-create').map((s) => s.name));
  for (const s of w.sysctls) {
    const cur = o.sysctl[s.key];
    if (cur !== undefined && s.accept.includes(cur)) continue;
    // a tunnel device created by this run has its keys only once it exists: plan from the default '0'/'1'
    if (cur === undefined && ![...creating].some((n) => s.key.includes(`/conf/${n}/`))) continue; // reported as a problem
    steps.push({ kind: 'sysctl', key: s.key, from: cur ?? '?', to: s.set });
  }
  for (const a of w.addresses) if (!o.addresses.has(addrKey(a))) steps.push({ kind: 'addr-add', addr: a });
  return { steps, problems: problems(c, o, creating) };
}

function problems(c: RealServerConfig, o: Observed, creating: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const w = wanted(c);
  for (const s of w.sysctls) {
    if (o.sysctl[s.key] === undefined && ![...creating].some((n) => s.key.includes(`/conf/${n}/`))) {
      out.push(`/proc/sys/${s.key} does not exist (is ${s.key.split('/')[3]} an interface here?)`);
    }
  }
  if (c.mode !== 'nat') {
    for (const v of c.vips) {
      const prefixes = ipFamily(v) === 4 ? 33 : 129;
      for (let p = 0; p < prefixes; p++) {
        if (o.addresses.has(addrKey({ dev: c.dev, address: v, prefix: p }))) {
          out.push(`${v} is also on ${c.dev} (/${p}): this host will answer ARP/NDP for the VIP there whatever the sysctls say; remove it from ${c.dev}`);
        }
      }
    }
  }
  if (c.mode === 'nat') out.push(...natRoute(c, o).filter((r) => !r.ok).map((r) => r.text));
  return out;
}

/** NAT: the default route must point at the director, or replies bypass it and clients drop them. */
export function natRoute(c: RealServerConfig, o: Observed): { ok: boolean; text: string }[] {
  if (c.mode !== 'nat') return [];
  const fams: (4 | 6)[] = c.director ? [ipFamily(c.director) as 4 | 6] : [4];
  return fams.map((fam) => {
    const gws = o.gateways[fam];
    const director = c.director ? canonicalIp(c.director) : undefined;
    if (gws.length === 0) return { ok: false, text: `NAT: no IPv${fam} default route; it must point at the director${director ? ` (${director})` : ''} so replies go back through it` };
    if (!director) return { ok: false, text: `NAT: the IPv${fam} default route is via ${gws.join(', ')}; it must point at the director (say which with --director to have it checked)` };
    if (gws.some((g) => canonicalIp(g) === director)) return { ok: true, text: `NAT: the IPv${fam} default route points at the director ${director}` };
    return { ok: false, text: `NAT: the IPv${fam} default route is via ${gws.join(', ')}, not the director ${director}: replies would bypass the director and clients drop them` };
  });
}

export interface StatusItem {
  ok: boolean;
  what: string;
  detail: string;
}

/** What is set and what is missing. */
export function status(c: RealServerConfig, o: Observed): StatusItem[] {
  const w = wanted(c);
  const out: StatusItem[] = [];
  for (const l of w.links) {
    const have = o.links[l.name];
    out.push({ ok: !!have?.up, what: `link ${l.name} (${l.type})`, detail: have ? (have.up ? 'up' : 'down') : 'missing' });
  }
  for (const s of w.sysctls) {
    const cur = o.sysctl[s.key];
    out.push({ ok: cur !== undefined && s.accept.includes(cur), what: s.key.replace(/\//g, '.'), detail: `${cur ?? 'absent'} (want ${s.set}: ${s.why})` });
  }
  for (const a of w.addresses) {
    const ok = o.addresses.has(addrKey(a));
    out.push({ ok, what: `VIP ${a.address}/${a.prefix} on ${a.dev}`, detail: ok ? 'present' : 'missing' });
  }
  for (const r of natRoute(c, o)) out.push({ ok: r.ok, what: 'default route', detail: r.text });
  for (const p of problems(c, o, new Set()).filter((t) => !t.startsWith('NAT:') && !t.startsWith('/proc/sys/'))) out.push({ ok: false, what: 'conflict', detail: p });
  return out;
}

// ---------------------------------------------------------------- the state file

export interface RealServerState {
  version: 1;
  mode: RealServerConfig['mode'];
  /** Sysctls changed, with the value they had before the first `up`. */
  sysctls: { key: string; before: string }[];
  /** Addresses added (not present before). */
  addresses: HostAddress[];
  /** Tunnel devices created, or brought up from down. */
  links: { name: string; created: boolean }[];
}

/**
 * The state after applying `applied` on top of `prev`: the first recorded prior value of a key
 * wins, so `up` twice (or with a changed config) still restores what the host had at the start.
 */
export function recordApplied(prev: RealServerState | undefined, mode: RealServerConfig['mode'], applied: readonly Step[]): RealServerState {
  const st: RealServerState = prev ? structuredClone(prev) : { version: 1, mode, sysctls: [], addresses: [], links: [] };
  st.mode = mode;
  for (const s of applied) {
    if (s.kind === 'sysctl' && !st.sysctls.some((x) => x.key === s.key)) st.sysctls.push({ key: s.key, before: s.from });
    if (s.kind === 'addr-add' && !st.addresses.some((x) => addrKey(x) === addrKey(s.addr))) st.addresses.push(s.addr);
    if (s.kind === 'link-create' && !st.links.some((x) => x.name === s.name)) st.links.push({ name: s.name, created: true });
    if (s.kind === 'link-up' && !st.links.some((x) => x.name === s.name)) st.links.push({ name: s.name, created: false });
  }
  return st;
}

/** The steps that put the host back as the state file says it was: addresses first, then sysctls, then links. */
export function undo(st: RealServerState, o: Observed): UndoStep[] {
  const out: UndoStep[] = [];
  for (const a of st.addresses) if (o.addresses.has(addrKey(a))) out.push({ kind: 'addr-del', addr: a });
  for (const s of [...st.sysctls].reverse()) {
    const cur = o.sysctl[s.key];
    if (cur !== undefined && cur !== s.before && s.before !== '?') out.push({ kind: 'sysctl', key: s.key, from: cur, to: s.before });
  }
  for (const l of st.links) {
    if (!o.links[l.name]) continue;
    out.push(l.created ? { kind: 'link-delete', name: l.name } : { kind: 'link-down', name: l.name });
  }
  return out;
}

/** Keys the undo needs to read. */
export function stateKeys(st: RealServerState): string[] {
  return st.sysctls.map((s) => s.key);
}

/** Parses a state file's JSON; undefined when it is not one of ours. */
export function parseState(text: string): RealServerState | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const s = v as Partial<RealServerState>;
  if (!s || s.version !== 1 || !Array.isArray(s.sysctls) || !Array.isArray(s.addresses) || !Array.isArray(s.links)) return undefined;
  const keyOk = (k: unknown) => typeof k === 'string' && /^net\/ipv[46]\/conf\/[^/\s]{1,15}\/[a-z_]+$/.test(k);
  if (!s.sysctls.every((x) => keyOk(x?.key) && typeof x.before === 'string')) return undefined;
  if (!s.addresses.every((a) => typeof a?.dev === 'string' && ipFamily(a.address ?? '') !== 0 && Number.isInteger(a.prefix))) return undefined;
  if (!s.links.every((l) => typeof l?.name === 'string' && typeof l.created === 'boolean')) return undefined;
  return s as RealServerState;
}

export function describeStep(s: Step | UndoStep): string {
  switch (s.kind) {
    case 'link-create':
      return `ip link add ${s.name} type ${s.type}`;
    case 'link-up':
      return `ip link set ${s.name} up`;
    case 'link-down':
      return `ip link set ${s.name} down`;
    case 'link-delete':
      return `ip link del ${s.name}`;
    case 'sysctl':
      return `sysctl ${s.key.replace(/\//g, '.')}: ${s.from} -> ${s.to}`;
    case 'addr-add':
      return `ip addr add ${s.addr.address}/${s.addr.prefix} dev ${s.addr.dev}`;
    case 'addr-del':
      return `ip addr del ${s.addr.address}/${s.addr.prefix} dev ${s.addr.dev}`;
  }
}

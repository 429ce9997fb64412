/**
 * Virtual IP addresses on interfaces, through iproute2.
 *
 * - Each call reads the kernel state once (`ip -j addr show`) and then writes
 *   only what differs, in ONE `ip -force -batch -` process (see ip-batch.ts).
 *   Adding a present address and removing an absent one are not errors: they
 *   are skipped after the read, and ip's "already assigned" / "not found"
 *   answers (a race with someone else) are accepted too.
 * - A VIP is identified by (device, address, prefix, peer): `dev` defaults to
 *   the call's `defaultDev`. Other options (label, scope, ...) are applied on
 *   add but not compared, so a present address is never re-created.
 * - Refcounts (acquire/release): every `addVips` acquires one reference per
 *   VIP and every `removeVips` releases one. The kernel address is added when
 *   the count goes 0 → 1 and deleted only when it drops back to 0, so two
 *   VRRP instances sharing a VIP do not remove it under each other. A caller
 *   must balance each successful add with exactly one remove (the instance
 *   adds on entering MASTER and removes on leaving it). A failed add takes no
 *   reference. Removing a VIP nobody holds deletes it from the kernel (ensure
 *   absent), which is what a BACKUP does at startup.
 * - Calls on one AddressOps are serialised, so a read is never stale with
 *   respect to this process's own writes.
 * - Options follow `ip addr add`: `brd` and `label` are IPv4-only, `home`,
 *   `nodad` and `mngtmpaddr` IPv6-only (ip ignores them with a warning for the
 *   other family, so they are left out); with `peer`, the prefix belongs to the
 *   peer (`ADDR peer PEER/PREFIX`), as in keepalived.
 */
import { isIP, isIPv4 } from 'node:net';

import type { Vip } from '../config/schema.js';
import { ipBatch, ipJson, IpCommandError, type BatchRunner, type IpOptions } from './ip-batch.js';
import { ipv6Bytes } from './packet-socket.js';

export interface AddressResult {
  ok: boolean;
  errors: { vip: Vip; message: string }[];
}

export interface AddressOps {
  /** Acquire each VIP; ONE ip -batch adds those not present. Adding a present address is not an error. */
  addVips(vips: readonly Vip[], defaultDev: string): Promise<AddressResult>;
  /** Release each VIP; ONE ip -batch deletes those no longer held and present. Removing an absent address is not an error. */
  removeVips(vips: readonly Vip[], defaultDev: string): Promise<AddressResult>;
  /** The VIPs of `vips` that are configured on their device now (`ip -j addr`). */
  presentVips(vips: readonly Vip[], defaultDev: string): Promise<Vip[]>;
  /**
   * First global IPv4 address (primary before secondary) of `dev`, or its first
   * usable (not tentative) IPv6 link-local address, as VRRPv3 sources adverts
   * from it. undefined when there is none (or no such device).
   */
  primaryAddress(dev: string, family: 4 | 6): Promise<string | undefined>;
  interfaceExists(dev: string): Promise<boolean>;
  /**
   * Startup: delete configured VIPs a crashed earlier run left behind (present,
   * and not held by this process). keepalived leaves them; we start as BACKUP.
   */
  cleanupStale(vips: readonly Vip[], defaultDev: string): Promise<AddressResult & { removed: Vip[] }>;
  /** References currently held on `vip` (for status and tests). */
  refCount(vip: Vip, defaultDev: string): number;
}

export interface AddressOpsOptions {
  netns?: string;
  run?: BatchRunner;
}

// ---------------------------------------------------------------- ip addr lines

const SCOPES = new Set(['global', 'universe', 'site', 'link', 'host', 'nowhere']);
// Tokens go through ip's batch tokenizer: no blanks, quotes, comments or escapes.
const SAFE_TOKEN = /^[^\s"'#\\]+$/;

function family(address: string): 4 | 6 | 0 {
  return isIP(address) as 4 | 6 | 0;
}

/** Why `vip` cannot be turned into an `ip addr add` line, or undefined when it can. */
export function vipProblem(vip: Vip, defaultDev: string): string | undefined {
  const id = identityProblem(vip, defaultDev);
  if (id) return id;
  const fam = family(vip.address);
  if (fam === 4 && vip.brd !== undefined && !isIPv4(vip.brd)) return `brd ${vip.brd} is not an IPv4 address`;
  if (vip.scope !== undefined && !SCOPES.has(vip.scope) && !/^(25[0-5]|2[0-4]\d|1?\d?\d)$/.test(vip.scope)) {
    return `invalid scope ${JSON.stringify(vip.scope)} (global, site, link, host, nowhere or 0..255)`;
  }
  if (fam === 4 && vip.label !== undefined && (vip.label.length > 15 || !SAFE_TOKEN.test(vip.label))) {
    return `invalid label ${JSON.stringify(vip.label)} (at most 15 characters, no blanks)`;
  }
  const lft = vip.preferred_lft;
  if (lft !== undefined && lft !== 'forever' && !(Number.isInteger(lft) && lft >= 0 && lft <= 0xffffffff)) {
    return `invalid preferred_lft ${String(lft)}`;
  }
  return undefined;
}

/** Why `vip` cannot be turned into an `ip addr del` line (address, prefix, dev, peer). */
function identityProblem(vip: Vip, defaultDev: string): string | undefined {
  const fam = family(vip.address);
  if (fam === 0) return `invalid address ${JSON.stringify(vip.address)}`;
  const max = fam === 4 ? 32 : 128;
  if (!Number.isInteger(vip.prefix) || vip.prefix < 0 || vip.prefix > max) {
    return `invalid prefix /${String(vip.prefix)} for IPv${fam}`;
  }
  const dev = vip.dev ?? defaultDev;
  if (!dev || dev.length > 15 || !SAFE_TOKEN.test(dev)) return `invalid interface name ${JSON.stringify(dev)}`;
  if (vip.peer !== undefined && family(vip.peer) !== fam) return `peer ${vip.peer} is not an IPv${fam} address`;
  return undefined;
}

/** `ADDR/PREFIX` or, with a peer, `ADDR peer PEER/PREFIX` (the prefix is the peer's). */
function localPart(vip: Vip): string {
  return vip.peer !== undefined ? `${vip.address} peer ${vip.peer}/${vip.prefix}` : `${vip.address}/${vip.prefix}`;
}

/** The `ip -batch` line that adds `vip` (without the leading `ip`). Assumes `vipProblem` passed. */
export function addLine(vip: Vip, defaultDev: string): string {
  const v4 = family(vip.address) === 4;
  const t = ['addr', 'add', localPart(vip), 'dev', vip.dev ?? defaultDev];
  if (v4 && vip.brd !== undefined) t.push('brd', vip.brd);
  if (vip.scope !== undefined) t.push('scope', vip.scope);
  if (v4 && vip.label !== undefined) t.push('label', vip.label);
  if (!v4 && vip.home) t.push('home');
  if (!v4 && vip.nodad) t.push('nodad');
  if (!v4 && vip.mngtmpaddr) t.push('mngtmpaddr');
  if (vip.noprefixroute) t.push('noprefixroute');
  if (vip.autojoin) t.push('autojoin');
  if (vip.preferred_lft !== undefined) t.push('preferred_lft', String(vip.preferred_lft));
  return t.join(' ');
}

/** The `ip -batch` line that deletes `vip`. */
export function delLine(vip: Vip, defaultDev: string): string {
  return ['addr', 'del', localPart(vip), 'dev', vip.dev ?? defaultDev].join(' ');
}

// ip / kernel answers meaning "already in the wanted state" (a race with another writer).
const ALREADY_PRESENT = /already assigned|File exists/i;
const ALREADY_ABSENT = /address not found|Cannot assign requested address|Cannot find device|does not exist/i;

// ---------------------------------------------------------------- kernel state

interface IpAddrInfo {
  family?: string;
  local?: string;
  address?: string;
  prefixlen?: number;
  scope?: string;
  secondary?: boolean;
  tentative?: boolean;
  dadfailed?: boolean;
}
interface IpLink {
  ifname?: string;
  addr_info?: IpAddrInfo[];
}

function canon(address: string): string {
  return family(address) === 6 ? ipv6Bytes(address).toString('hex') : address;
}

function keyOf(dev: string, local: string, prefix: number, peer: string | undefined): string {
  return `${dev}|${canon(local)}/${prefix}|${peer === undefined ? '' : canon(peer)}`;
}

function vipKey(vip: Vip, defaultDev: string): string {
  return keyOf(vip.dev ?? defaultDev, vip.address, vip.prefix, vip.peer);
}

function presentKeys(links: readonly IpLink[]): Set<string> {
  const keys = new Set<string>();
  for (const link of links) {
    if (!link.ifname) continue;
    for (const a of link.addr_info ?? []) {
      if (!a.local || a.prefixlen === undefined) continue;
      const peer = a.address !== undefined && a.address !== a.local ? a.address : undefined;
      keys.add(keyOf(link.ifname, a.local, a.prefixlen, peer));
    }
  }
  return keys;
}

function isNoDevice(err: unknown): boolean {
  return err instanceof IpCommandError && /does not exist|Cannot find device/i.test(err.stderr);
}

// ---------------------------------------------------------------- AddressOps

export function createAddressOps(opts: AddressOpsOptions = {}): AddressOps {
  const ipOpts: IpOptions = {};
  if (opts.netns !== undefined) ipOpts.netns = opts.netns;
  if (opts.run !== undefined) ipOpts.run = opts.run;
  const refs = new Map<string, number>();
  let queue: Promise<unknown> = Promise.resolve();

  /** Run `fn` after every earlier call has finished. */
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = queue.then(fn, fn);
    queue = p.catch(() => undefined);
    return p;
  }

  async function readPresent(): Promise<Set<string>> {
    return presentKeys(await ipJson<IpLink[]>(['addr', 'show'], ipOpts));
  }

  /** Validate, then run `lineOf` for each VIP in one batch; `benign` errors count as success. */
  async function apply(
    vips: readonly Vip[],
    defaultDev: string,
    lineOf: (vip: Vip, dev: string) => string,
    check: (vip: Vip, dev: string) => string | undefined,
    benign: RegExp,
  ): Promise<{ errors: AddressResult['errors']; failed: Set<Vip> }> {
    const errors: AddressResult['errors'] = [];
    const failed = new Set<Vip>();
    const batch: Vip[] = [];
    for (const vip of vips) {
      const problem = check(vip, defaultDev);
      if (problem) {
        errors.push({ vip, message: problem });
        failed.add(vip);
      } else {
        batch.push(vip);
      }
    }
    const res = await ipBatch(
      batch.map((v) => lineOf(v, defaultDev)),
      ipOpts,
    );
    for (const e of res.errors) {
      if (benign.test(e.message)) continue;
      const vip = batch[e.index]!;
      errors.push({ vip, message: `${e.line}: ${e.message}` });
      failed.add(vip);
    }
    return { errors, failed };
  }

  /** VIPs listed twice in one call count once. */
  function unique(vips: readonly Vip[], defaultDev: string): Vip[] {
    const seen = new Set<string>();
    return vips.filter((v) => {
      const k = vipKey(v, defaultDev);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }

  const ops: AddressOps = {
    addVips: (vips, defaultDev) =>
      serial(async () => {
        const list = unique(vips, defaultDev);
        const errors: AddressResult['errors'] = [];
        const failed = new Set<Vip>();
        const valid = list.filter((vip) => {
          const message = vipProblem(vip, defaultDev);
          if (message) {
            errors.push({ vip, message });
            failed.add(vip);
          }
          return !message;
        });
        const present = valid.length ? await readPresent() : new Set<string>();
        const toAdd = valid.filter((v) => !present.has(vipKey(v, defaultDev)));
        const res = await apply(toAdd, defaultDev, addLine, vipProblem, ALREADY_PRESENT);
        errors.push(...res.errors);
        for (const v of res.failed) failed.add(v);
        for (const v of list) {
          if (failed.has(v)) continue;
          const k = vipKey(v, defaultDev);
          refs.set(k, (refs.get(k) ?? 0) + 1);
        }
        return { ok: errors.length === 0, errors };
      }),

    removeVips: (vips, defaultDev) =>
      serial(async () => {
        const list = unique(vips, defaultDev);
        const release: Vip[] = [];
        for (const v of list) {
          const k = vipKey(v, defaultDev);
          const n = refs.get(k) ?? 0;
          if (n > 1) {
            refs.set(k, n - 1); // still held by someone else
          } else {
            refs.delete(k);
            release.push(v);
          }
        }
        if (release.length === 0) return { ok: true, errors: [] };
        const present = await readPresent();
        const toDel = release.filter((v) => present.has(vipKey(v, defaultDev)));
        const { errors } = await apply(toDel, defaultDev, delLine, identityProblem, ALREADY_ABSENT);
        return { ok: errors.length === 0, errors };
      }),

    presentVips: (vips, defaultDev) =>
      serial(async () => {
        const present = await readPresent();
        return vips.filter((v) => present.has(vipKey(v, defaultDev)));
      }),

    primaryAddress: (dev, fam) =>
      serial(async () => {
        let links: IpLink[];
        try {
          links = await ipJson<IpLink[]>([fam === 4 ? '-4' : '-6', 'addr', 'show', 'dev', dev], ipOpts);
        } catch (err) {
          if (isNoDevice(err)) return undefined;
          throw err;
        }
        const infos = links.flatMap((l) => l.addr_info ?? []).filter((a) => a.local !== undefined);
        if (fam === 4) {
          const global = infos.filter((a) => a.family === 'inet' && a.scope === 'global');
          return (global.find((a) => !a.secondary) ?? global[0])?.local;
        }
        return infos.find(
          (a) => a.family === 'inet6' && a.scope === 'link' && !a.tentative && !a.dadfailed,
        )?.local;
      }),

    interfaceExists: (dev) =>
      serial(async () => {
        try {
          const links = await ipJson<IpLink[]>(['link', 'show', 'dev', dev], ipOpts);
          return links.some((l) => l.ifname !== undefined);
        } catch (err) {
          if (isNoDevice(err)) return false;
          throw err;
        }
      }),

    cleanupStale: (vips, defaultDev) =>
      serial(async () => {
        const present = await readPresent();
        const stale = unique(vips, defaultDev).filter((v) => {
          const k = vipKey(v, defaultDev);
          return present.has(k) && !refs.has(k);
        });
        const { errors, failed } = await apply(stale, defaultDev, delLine, identityProblem, ALREADY_ABSENT);
        return { ok: errors.length === 0, errors, removed: stale.filter((v) => !failed.has(v)) };
      }),

    refCount: (vip, defaultDev) => refs.get(vipKey(vip, defaultDev)) ?? 0,
  };
  return ops;
}

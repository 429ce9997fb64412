/**
 * Virtual IP addresses on interfaces, through rtnetlink (RTM_NEWADDR / RTM_DELADDR).
 *
 * - One call = ONE netlink transaction (`NetlinkClient.requestSync`): every VIP of the
 *   call is one message of a single sendto(), the kernel ACKs each; no process is spawned
 *   and nothing is read first, so a takeover costs well under a millisecond. It runs on
 *   the calling thread (the VRRP worker's), like keepalived's netlink_talk().
 * - Adding a present address and removing an absent one are not errors: an add is sent
 *   with NLM_F_CREATE|NLM_F_REPLACE (the kernel keeps a present address and refreshes its
 *   lifetimes; EEXIST is accepted as well), and a delete's EADDRNOTAVAIL / ENOENT / ENODEV
 *   (no such address, or its interface is gone) count as done.
 * - A VIP is identified by (device, address, prefix, peer): `dev` defaults to the call's
 *   `defaultDev`. Other options (label, scope, brd, ...) are applied on add but not
 *   compared: the kernel matches an IPv4 address on (local, prefix), so a present address
 *   keeps its label and scope.
 * - Refcounts (acquire/release): every `addVips` acquires one reference per VIP and every
 *   `removeVips` releases one. The kernel address is deleted only when the count drops
 *   back to 0, so two VRRP instances sharing a VIP do not remove it under each other. A
 *   caller must balance each successful add with exactly one remove (the instance adds on
 *   entering MASTER and removes on leaving it). A failed add takes no reference. Removing
 *   a VIP nobody holds deletes it from the kernel (ensure absent), which is what a BACKUP
 *   does at startup.
 * - Calls on one AddressOps are serialised (and each is synchronous inside).
 * - Options follow `ip addr add` and keepalived (see rtnetlink-address.ts): `brd` and
 *   `label` are IPv4-only, `home` and `mngtmpaddr` IPv6-only; every IPv6 VIP gets
 *   IFA_F_NODAD as keepalived sets it; with `peer`, the prefix belongs to the peer.
 * - Reads (`presentVips`, `primaryAddress`) use an RTM_GETADDR dump; none is on the
 *   takeover path. `interfaceExists` and the name → index lookups use if_nametoindex.
 * - Needs the native addon (its NetlinkSocket). The daemon cannot run VRRP without it
 *   (raw sockets), so there is no `ip` fallback; an unloadable addon makes the calls
 *   reject with NativeAddonError's text (how to rebuild it).
 */
import { isIP, isIPv4 } from 'node:net';

import type { Vip } from '../config/schema.js';
import { ifIndex as nativeIfIndex } from '../sys/addon.js';
import { encodeMessage, errnoName, NETLINK_ROUTE, NetlinkClient, NetlinkError, NLMSG_ERROR, parseMessages, type NetlinkTransport, type Reply, type Request } from './netlink.js';
import { ipBytes, ipFamily } from '../vocab/ip.js';
import {
  AF_INET,
  AF_INET6,
  delAddrRequest,
  getAddrDumpRequest,
  IFA_F_DADFAILED,
  IFA_F_SECONDARY,
  IFA_F_TENTATIVE,
  newAddrRequest,
  parseAddrDump,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
  scopeNumber,
  type KernelAddress,
} from './rtnetlink-address.js';

export interface AddressResult {
  ok: boolean;
  errors: { vip: Vip; message: string }[];
}

export interface AddressOps {
  /** Acquire each VIP; ONE netlink transaction adds them. Adding a present address is not an error. */
  addVips(vips: readonly Vip[], defaultDev: string): Promise<AddressResult>;
  /** Release each VIP; ONE netlink transaction deletes those no longer held. Removing an absent address is not an error. */
  removeVips(vips: readonly Vip[], defaultDev: string): Promise<AddressResult>;
  /**
   * Runs the add and delete code once against a fake kernel, nothing sent: just before a
   * takeover, so the real add runs with its code and data in the CPU caches.
   */
  rehearse(vips: readonly Vip[], defaultDev: string): void;
  /** The VIPs of `vips` that are configured on their device now (RTM_GETADDR dump). */
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
  /** Closes the netlink socket (a later call opens a new one). */
  close(): void;
}

export interface AddressOpsOptions {
  /** The NETLINK_ROUTE transport (tests pass a fake kernel); default: the addon's socket, opened on first use. */
  transport?: () => NetlinkTransport;
  /** Interface name → index; throws (code ENODEV) for an unknown name. Default: the addon's if_nametoindex. */
  ifIndex?: (dev: string) => number;
  /** Netlink reply timeout (ms). */
  timeoutMs?: number;
  /**
   * Bound on a VIP add or remove, as the caller sees it (ms). Set, the transaction runs on the
   * libuv pool instead of the calling thread: rtnetlink handles a request inside sendmsg, under
   * the rtnl lock, so a lock held elsewhere (a slow driver, a huge route change) would block the
   * caller with no timeout able to help. Past the bound the call resolves as a failure; the
   * transaction itself still completes in order before the next one (so a later remove still
   * removes what a late add added).
   */
  deadlineMs?: number;
}

// ---------------------------------------------------------------- validation

const ENODEV = 19;
const EEXIST = 17;
const ENOENT = 2;
const EADDRNOTAVAIL = 99;
/** A delete's answers that mean "already gone": no such address, or no such interface. */
const DEL_BENIGN = [EADDRNOTAVAIL, ENOENT, ENODEV];

/** Kernel interface names: 1..15 bytes, no blanks, '/' or ':' (dev_valid_name). */
const DEV_NAME = /^[^\s/:]{1,15}$/;

const family = ipFamily;

/** Why `vip` cannot be added (an RTM_NEWADDR), or undefined when it can. */
export function vipProblem(vip: Vip, defaultDev: string): string | undefined {
  const id = identityProblem(vip, defaultDev);
  if (id) return id;
  const fam = family(vip.address);
  if (fam === 4 && vip.brd !== undefined && !isIPv4(vip.brd)) return `brd ${vip.brd} is not an IPv4 address`;
  if (vip.scope !== undefined && scopeNumber(vip.scope) === undefined) {
    return `invalid scope ${JSON.stringify(vip.scope)} (global, site, link, host, nowhere or 0..255)`;
  }
  // IFA_LABEL is an IFNAMSIZ string
  if (fam === 4 && vip.label !== undefined && (Buffer.byteLength(vip.label) > 15 || vip.label === '' || /[\0-\x1f\s]/.test(vip.label))) {
    return `invalid label ${JSON.stringify(vip.label)} (1 to 15 characters, no blanks)`;
  }
  const lft = vip.preferred_lft;
  if (lft !== undefined && lft !== 'forever' && !(Number.isInteger(lft) && lft >= 0 && lft < 0xffffffff)) {
    return `invalid preferred_lft ${String(lft)}`;
  }
  return undefined;
}

/** Why `vip` cannot be deleted (address, prefix, dev, peer). */
function identityProblem(vip: Vip, defaultDev: string): string | undefined {
  const fam = family(vip.address);
  if (fam === 0) return `invalid address ${JSON.stringify(vip.address)}`;
  const max = fam === 4 ? 32 : 128;
  if (!Number.isInteger(vip.prefix) || vip.prefix < 0 || vip.prefix > max) {
    return `invalid prefix /${String(vip.prefix)} for IPv${fam}`;
  }
  const dev = vip.dev ?? defaultDev;
  if (!DEV_NAME.test(dev) || dev === '.' || dev === '..') return `invalid interface name ${JSON.stringify(dev)}`;
  if (vip.peer !== undefined && family(vip.peer) !== fam) return `peer ${vip.peer} is not an IPv${fam} address`;
  return undefined;
}

/** `addr add 10.0.0.1/24 dev eth0` (or `ADDR peer PEER/PREFIX`): names the VIP and interface in errors, as ip's lines did. */
export function describeVip(op: 'add' | 'del', vip: Vip, defaultDev: string): string {
  const local = vip.peer !== undefined ? `${vip.address} peer ${vip.peer}/${vip.prefix}` : `${vip.address}/${vip.prefix}`;
  return `addr ${op} ${local} dev ${vip.dev ?? defaultDev}`;
}

// ---------------------------------------------------------------- identity keys

function canon(address: string): string {
  return family(address) === 6 ? ipBytes(address, 6).toString('hex') : address;
}

function vipKey(vip: Vip, defaultDev: string): string {
  return `${vip.dev ?? defaultDev}|${canon(vip.address)}/${vip.prefix}|${vip.peer === undefined ? '' : canon(vip.peer)}`;
}

function kernelKey(index: number, local: string, prefix: number, peer: string | undefined): string {
  return `${index}|${canon(local)}/${prefix}|${peer === undefined ? '' : canon(peer)}`;
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

// ---------------------------------------------------------------- warm-up

const ACK_PAYLOAD = Buffer.alloc(20); // error 0 + the echoed (capped) request header

/** A transport that ACKs every request without a kernel (see `warm` in createAddressOps). */
const ackAll: NetlinkTransport = {
  transact: (req) => Buffer.concat(parseMessages(Buffer.from(req)).map((m) => encodeMessage({ type: NLMSG_ERROR, flags: 0x100, seq: m.seq, header: ACK_PAYLOAD }))),
  transactAsync: (req) => Promise.resolve(ackAll.transact(req)),
  close: () => {},
};
const WARM_ROUNDS = 20;

// ---------------------------------------------------------------- AddressOps

interface Item {
  vip: Vip;
  req: Request;
  what: string;
}

export function createAddressOps(opts: AddressOpsOptions = {}): AddressOps {
  const resolveIndex = opts.ifIndex ?? nativeIfIndex;
  const refs = new Map<string, number>();
  let queue: Promise<unknown> = Promise.resolve();
  let nl: NetlinkClient | undefined;

  /** Run `fn` after every earlier call has finished. */
  function serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const p = queue.then(fn, fn);
    queue = p.catch(() => undefined);
    return p;
  }

  function client(): NetlinkClient {
    nl ??= opts.transport ? new NetlinkClient(opts.transport()) : NetlinkClient.open(NETLINK_ROUTE);
    return nl;
  }

  /** One transaction; a socket failure closes the socket (the next call opens a fresh one) and throws. */
  function transact(reqs: readonly Request[]) {
    const c = client();
    try {
      return c.requestSync(reqs, opts.timeoutMs);
    } catch (err) {
      nl = undefined;
      try {
        c.close();
      } catch {
        /* already closed */
      }
      throw new Error(`rtnetlink: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Interface indexes of this call (a name is looked up once); undefined + why when there is none. */
  function indexer(): (dev: string) => { index: number } | { missing: string } {
    const cache = new Map<string, { index: number } | { missing: string }>();
    return (dev) => {
      let r = cache.get(dev);
      if (!r) {
        try {
          r = { index: resolveIndex(dev) };
        } catch (err) {
          const code = errCode(err);
          if (code !== 'ENODEV' && code !== 'ENXIO') throw err;
          r = { missing: `Cannot find device ${JSON.stringify(dev)}` };
        }
        cache.set(dev, r);
      }
      return r;
    };
  }

  /**
   * Validates each VIP, builds its request, runs them all in ONE transaction (`send`). Returns
   * the VIPs that failed (with a message) and those the kernel changed (`changed`: errno 0).
   * `benign` errnos count as success. A missing interface fails an add and skips a delete
   * (no interface, no address).
   */
  interface Prepared {
    errors: AddressResult['errors'];
    failed: Set<Vip>;
    changed: Set<Vip>;
    items: Item[];
  }

  /** Validates each VIP and builds its request; the failures are already in `errors`. */
  function prepare(vips: readonly Vip[], defaultDev: string, op: 'add' | 'del'): Prepared {
    const errors: AddressResult['errors'] = [];
    const failed = new Set<Vip>();
    const changed = new Set<Vip>();
    const items: Item[] = [];
    const index = indexer();
    for (const vip of vips) {
      const problem = op === 'add' ? vipProblem(vip, defaultDev) : identityProblem(vip, defaultDev);
      if (problem) {
        errors.push({ vip, message: problem });
        failed.add(vip);
        continue;
      }
      const what = describeVip(op, vip, defaultDev);
      const idx = index(vip.dev ?? defaultDev);
      if ('missing' in idx) {
        // no interface: nothing to delete; nothing can be added
        if (op === 'add') {
          errors.push({ vip, message: `${what}: ${idx.missing}` });
          failed.add(vip);
        }
        continue;
      }
      items.push({ vip, what, req: op === 'add' ? newAddrRequest(vip, idx.index) : delAddrRequest(vip, idx.index) });
    }
    return { errors, failed, changed, items };
  }

  /** The kernel's answers to the prepared requests, into `p`. `benign` errnos count as success. */
  function interpret(p: Prepared, replies: Reply[], defaultDev: string, benign: readonly number[]): Prepared {
    const { errors, failed, changed, items } = p;
    for (const [i, item] of items.entries()) {
      const r = replies[i];
      const errno = r?.errno ?? 0;
      if (errno === 0) {
        changed.add(item.vip);
        continue;
      }
      if (benign.includes(errno)) continue;
      const message = errno === ENODEV ? `${item.what}: Cannot find device ${JSON.stringify(item.vip.dev ?? defaultDev)}` : new NetlinkError(errno, errnoName(errno), r?.seq ?? 0, r?.extack, item.what).message;
      errors.push({ vip: item.vip, message });
      failed.add(item.vip);
    }
    return p;
  }

  /**
   * Validates each VIP, builds its request, runs them all in ONE transaction (`send`). Returns
   * the VIPs that failed (with a message) and those the kernel changed (`changed`: errno 0).
   * `benign` errnos count as success. A missing interface fails an add and skips a delete
   * (no interface, no address).
   */
  function apply(
    vips: readonly Vip[],
    defaultDev: string,
    op: 'add' | 'del',
    benign: readonly number[],
    send: (reqs: readonly Request[]) => Reply[] = transact,
  ): Prepared {
    const p = prepare(vips, defaultDev, op);
    if (p.items.length === 0) return p;
    return interpret(p, send(p.items.map((i) => i.req)), defaultDev, benign);
  }

  /** `apply`, with the transaction on the libuv pool when a deadline is set (see deadlineMs). */
  async function applyOffThread(vips: readonly Vip[], defaultDev: string, op: 'add' | 'del', benign: readonly number[]): Promise<Prepared> {
    if (opts.deadlineMs === undefined) return apply(vips, defaultDev, op, benign);
    const p = prepare(vips, defaultDev, op);
    if (p.items.length === 0) return p;
    const c = client();
    let replies: Reply[];
    try {
      replies = await c.request(p.items.map((i) => i.req), opts.timeoutMs);
    } catch (err) {
      if (nl === c) nl = undefined;
      try {
        c.close();
      } catch {
        /* already closed */
      }
      throw new Error(`rtnetlink: ${(err as Error).message}`, { cause: err });
    }
    return interpret(p, replies, defaultDev, benign);
  }

  /** The caller's view of a VIP change: past deadlineMs, a failure for every VIP (the change itself goes on). */
  function bounded(vips: readonly Vip[], defaultDev: string, op: 'add' | 'del', work: Promise<AddressResult>): Promise<AddressResult> {
    const ms = opts.deadlineMs;
    if (ms === undefined) return work;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<AddressResult>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            ok: false,
            errors: vips.map((vip) => ({ vip, message: `${describeVip(op, vip, defaultDev)}: rtnetlink did not answer within ${ms} ms (the rtnl lock held elsewhere?)` })),
          }),
        ms,
      );
    });
    return Promise.race([work.finally(() => clearTimeout(timer)), late]);
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

  /**
   * Runs the add and delete paths (validation, requests, encoding, replies) for `vips` against
   * `ackAll`, nothing sent: V8 compiles functions lazily and runs them interpreted at first,
   * which made the first takeover's add ~0.5-1 ms slower than the next ones (~40 us).
   */
  let warmed = false;
  function warm(vips: readonly Vip[], defaultDev: string): void {
    // once per process, on a few VIPs of each family: it is the code that needs warming, and
    // this runs on the VRRP thread (bounded to a few ms, even with hundreds of VIPs)
    if (warmed) return;
    warmed = exercise(vips, defaultDev, WARM_ROUNDS);
  }

  /** The add and delete paths against `ackAll` on two VIPs per family; false when there are none. */
  function exercise(vips: readonly Vip[], defaultDev: string, rounds: number): boolean {
    const sample = [...vips.filter((v) => family(v.address) === 4).slice(0, 2), ...vips.filter((v) => family(v.address) === 6).slice(0, 2)];
    if (sample.length === 0) return false;
    const c = new NetlinkClient(ackAll);
    const send = (reqs: readonly Request[]) => c.requestSync(reqs);
    for (let i = 0; i < rounds; i++) {
      const list = unique(sample, defaultDev);
      for (const v of list) refs.get(vipKey(v, defaultDev));
      apply(list, defaultDev, 'add', [EEXIST], send);
      apply(list, defaultDev, 'del', DEL_BENIGN, send);
    }
    return true;
  }

  function dump(fam: number): KernelAddress[] {
    const [r] = transact([getAddrDumpRequest(fam)]);
    if (r && r.errno !== 0) throw new NetlinkError(r.errno, errnoName(r.errno), r.seq, r.extack, 'rtnetlink: dump addresses');
    return parseAddrDump(r?.messages ?? []);
  }

  const ops: AddressOps = {
    addVips: (vips, defaultDev) =>
      bounded(vips, defaultDev, 'add', serial(async () => {
        const list = unique(vips, defaultDev);
        const { errors, failed } = await applyOffThread(list, defaultDev, 'add', [EEXIST]);
        for (const v of list) {
          if (failed.has(v)) continue;
          const k = vipKey(v, defaultDev);
          refs.set(k, (refs.get(k) ?? 0) + 1);
        }
        return { ok: errors.length === 0, errors };
      })),

    removeVips: (vips, defaultDev) =>
      bounded(vips, defaultDev, 'del', serial(async () => {
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
        const { errors } = await applyOffThread(release, defaultDev, 'del', DEL_BENIGN);
        return { ok: errors.length === 0, errors };
      })),

    presentVips: (vips, defaultDev) =>
      serial(() => {
        if (vips.length === 0) return [];
        const present = new Set(dump(0).map((a) => kernelKey(a.index, a.local, a.prefixlen, a.peer)));
        const index = indexer();
        return vips.filter((v) => {
          if (family(v.address) === 0) return false;
          const idx = index(v.dev ?? defaultDev);
          return 'index' in idx && present.has(kernelKey(idx.index, v.address, v.prefix, v.peer));
        });
      }),

    primaryAddress: (dev, fam) =>
      serial(() => {
        const idx = indexer()(dev);
        if ('missing' in idx) return undefined;
        const mine = dump(fam === 4 ? AF_INET : AF_INET6).filter((a) => a.index === idx.index);
        if (fam === 4) {
          const global = mine.filter((a) => a.family === 4 && a.scope === RT_SCOPE_UNIVERSE);
          return (global.find((a) => !(a.flags & IFA_F_SECONDARY)) ?? global[0])?.local;
        }
        return mine.find((a) => a.family === 6 && a.scope === RT_SCOPE_LINK && !(a.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)))?.local;
      }),

    interfaceExists: (dev) => serial(() => 'index' in indexer()(dev)),

    cleanupStale: (vips, defaultDev) =>
      serial(() => {
        // delete every configured VIP nobody here holds; the kernel says which were there
        const stale = unique(vips, defaultDev).filter((v) => !refs.has(vipKey(v, defaultDev)));
        const { errors, changed } = apply(stale, defaultDev, 'del', DEL_BENIGN);
        // startup (and new instances on reload): make the first takeover run warm code
        try {
          warm(vips, defaultDev);
        } catch {
          /* best effort */
        }
        return { ok: errors.length === 0, errors, removed: stale.filter((v) => changed.has(v)) };
      }),

    rehearse: (vips, defaultDev) => {
      try {
        exercise(vips, defaultDev, 1);
      } catch {
        /* best effort */
      }
    },

    refCount: (vip, defaultDev) => refs.get(vipKey(vip, defaultDev)) ?? 0,

    close: () => {
      const c = nl;
      nl = undefined;
      c?.close();
    },
  };
  return ops;
}

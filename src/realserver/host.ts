/**
 * The real-server planner's adapter: reads what the host has (sysctls from /proc/sys, addresses,
 * links and routes over rtnetlink) and applies the planned steps, in their order. Also the state
 * file (mode 0600, written atomically) that lets `down` restore what `up` changed.
 */
import { mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RealServerConfig } from '../config/realserver.js';
import { createAddressOps, type AddressOps } from '../net/addresses.js';
import { AF_UNSPEC, getAddrDumpRequest, parseAddrDump } from '../net/rtnetlink-address.js';
import { defaultRoutes, RtnlHost } from '../net/rtnetlink-link.js';
import { NETLINK_ROUTE, NetlinkClient } from '../net/netlink.js';
import { procSysctl, type Sysctl } from '../net/sysctl.js';
import { ifName } from '../sys/addon.js';
import { writePrivately } from '../sys/private-file.js';
import { canonicalIp } from '../vocab/ip.js';
import { parseState, wanted, type Observed, type RealServerState, type Step, type UndoStep } from './plan.js';

export const DEFAULT_STATE_FILE = '/run/vipkeeper-realserver/state';

export class RealServerHost {
  readonly #sysctl: Sysctl;
  readonly #rtnl: RtnlHost;
  readonly #addrs: AddressOps;
  readonly #dump: NetlinkClient;

  constructor(sysctl: Sysctl = procSysctl()) {
    this.#sysctl = sysctl;
    this.#rtnl = new RtnlHost();
    this.#addrs = createAddressOps();
    this.#dump = NetlinkClient.open(NETLINK_ROUTE);
  }

  /** What the host has now, for the keys and links `c` (and a state file's `extraKeys`, `extraLinks`) name. */
  observe(c: RealServerConfig | undefined, extraKeys: readonly string[] = [], extraLinks: readonly string[] = []): Observed {
    const w = c ? wanted(c) : { sysctls: [], links: [] };
    const sysctl: Record<string, string | undefined> = {};
    for (const k of [...w.sysctls.map((s) => s.key), ...extraKeys]) sysctl[k] = this.#sysctl.read(k);
    const links: Observed['links'] = {};
    for (const n of [...w.links.map((l) => l.name), ...extraLinks]) {
      const l = this.#rtnl.link(n);
      links[n] = l ? { up: l.up } : undefined;
    }
    const [r] = this.#dump.requestSync([getAddrDumpRequest(AF_UNSPEC)]);
    const names = new Map<number, string>();
    const addresses = new Set<string>();
    for (const a of parseAddrDump(r?.messages ?? [])) {
      let dev = names.get(a.index);
      if (dev === undefined) {
        try {
          dev = ifName(a.index);
        } catch {
          continue; // the interface went away during the dump
        }
        names.set(a.index, dev);
      }
      addresses.add(`${dev}|${canonicalIp(a.local) ?? a.local}/${a.prefixlen}`);
    }
    const gw = (fam: 4 | 6) => defaultRoutes(this.#rtnl.routes(fam)).flatMap((x) => (x.gateway ? [x.gateway] : []));
    return { sysctl, addresses, links, gateways: { 4: gw(4), 6: c?.mode === 'nat' ? gw(6) : [] } };
  }

  /** Applies the steps in order; stops at the first failure and says which steps were done. */
  async apply(steps: readonly (Step | UndoStep)[]): Promise<{ done: (Step | UndoStep)[]; error?: string }> {
    const done: (Step | UndoStep)[] = [];
    for (const s of steps) {
      try {
        await this.#one(s);
      } catch (e) {
        return { done, error: (e as Error).message };
      }
      done.push(s);
    }
    return { done };
  }

  async #one(s: Step | UndoStep): Promise<void> {
    switch (s.kind) {
      case 'link-create':
        try {
          this.#rtnl.createLink(s.name, s.type);
        } catch (e) {
          const code = (e as { code?: string }).code;
          if (code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOENT' || code === 'EINVAL') {
            throw new Error(`${(e as Error).message} (this kernel has no ${s.type} tunnel support: CONFIG_${s.type === 'ipip' ? 'NET_IPIP' : 'IPV6_TUNNEL'})`, { cause: e });
          }
          throw e;
        }
        return;
      case 'link-up':
        return this.#rtnl.setUp(s.name, true);
      case 'link-down':
        return this.#rtnl.setUp(s.name, false);
      case 'link-delete':
        try {
          this.#rtnl.deleteLink(s.name);
        } catch {
          // a module's fallback device (tunl0, ip6tnl0) cannot be deleted: leave it down instead
          this.#rtnl.setUp(s.name, false);
        }
        return;
      case 'sysctl':
        return this.#sysctl.write(s.key, s.to);
      case 'addr-add':
      case 'addr-del': {
        const vip = { address: s.addr.address, prefix: s.addr.prefix, dev: s.addr.dev, ...(s.addr.address.includes(':') ? { nodad: true } : {}) };
        const r = s.kind === 'addr-add' ? await this.#addrs.addVips([vip], s.addr.dev) : await this.#addrs.removeVips([vip], s.addr.dev);
        if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('; '));
        return;
      }
    }
  }

  close(): void {
    this.#rtnl.close();
    this.#addrs.close();
    this.#dump.close();
  }
}

/** The state file, or undefined when there is none; throws when it is there but not ours. */
export function readState(file: string): RealServerState | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const st = parseState(text);
  if (!st) throw new Error(`${file} is not a vipkeeper real-server state file; not touching it`);
  return st;
}

/** Writes the state file: mode 0600, all or nothing (temporary file + rename). */
export function writeState(file: string, st: RealServerState): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writePrivately(file, `${JSON.stringify(st, null, 2)}\n`);
}

export function removeState(file: string): void {
  try {
    unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

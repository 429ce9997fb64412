/**
 * One daemon per VRRP instance and per IPVS table in a network namespace.
 *
 * A second `vipkeeper run` of the same config on a MASTER used to remove the VIPs in its start-up
 * cleanup before it noticed the first daemon: nobody held the VIP afterwards. Before anything
 * touches an address, a route or an IPVS entry, the daemon now takes one lock per VRRP instance,
 * named by interface, family and VRID (two daemons may run different VRIDs side by side), and one
 * for the IPVS table if it manages one. A lock is an abstract unix socket: the kernel scopes its
 * name to the network namespace and frees it when the process dies, however it dies, so a crashed
 * daemon never leaves a stale lock. The holder answers a connection with its pid, so the refusal
 * names it.
 */
import { connect, createServer, type Server } from 'node:net';
import type { Config } from '../config/schema.js';
import { resolveInstance } from '../vrrp/params.js';

export interface LockName {
  /** What is locked, for the error: "VRRP instance VI_1 (eth0, IPv4, VRID 51)". */
  what: string;
  /** The abstract socket's name (without the leading NUL). */
  key: string;
}

export class LockHeld extends Error {
  constructor(
    readonly lock: LockName,
    readonly pid: number | undefined,
  ) {
    super(`${lock.what} is already run by another vipkeeper${pid ? ` (pid ${pid})` : ''} in this network namespace; not starting`);
  }
}

export interface Locks {
  release(): void;
}

/** The locks a config needs: one per VRRP instance, one for a managed IPVS table. */
export function lockNames(instances: Iterable<{ name: string; interface: string | undefined; family: 4 | 6; vrid: number }>, ipvs: boolean): LockName[] {
  const out: LockName[] = [];
  for (const i of instances) {
    out.push({ what: `VRRP instance ${i.name} (${i.interface ?? 'no interface'}, IPv${i.family}, VRID ${i.vrid})`, key: `vipkeeper/vrrp/${i.interface ?? '-'}/${i.family}/${i.vrid}` });
  }
  if (ipvs) out.push({ what: 'the IPVS table', key: 'vipkeeper/ipvs' });
  return out;
}

/** The locks of a config's VRRP instances (an instance that does not resolve has none: it will not run). */
export function configLocks(config: Config, opts: { ipvs: boolean }): LockName[] {
  const instances = Object.keys(config.instances).flatMap((name) => {
    try {
      const w = resolveInstance(config, name, '0.0.0.0').wire;
      return [{ name, interface: w.interface, family: w.family, vrid: w.vrid }];
    } catch {
      return [];
    }
  });
  return lockNames(instances, opts.ipvs);
}

/** Takes every lock or none; throws LockHeld for the first one another process holds. */
export async function acquireLocks(names: readonly LockName[]): Promise<Locks> {
  const held: Server[] = [];
  const release = () => {
    for (const s of held) s.close();
    held.length = 0;
  };
  try {
    for (const n of names) held.push(await listenAbstract(n));
  } catch (e) {
    release();
    throw e;
  }
  return { release };
}

/** True when another process holds `name` (for commands that must not run beside a daemon). */
export async function lockHolder(name: LockName): Promise<number | undefined | false> {
  try {
    const s = await listenAbstract(name);
    s.close();
    return false;
  } catch (e) {
    if (e instanceof LockHeld) return e.pid;
    throw e;
  }
}

function listenAbstract(name: LockName): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((c) => {
      c.on('error', () => undefined);
      c.end(`${process.pid}\n`);
    });
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') return reject(err);
      holderPid(name.key).then((pid) => reject(new LockHeld(name, pid)));
    });
    server.listen(`\0${name.key}`, () => resolve(server));
  });
}

/** The holder's pid, as it answers a connection (bounded: 1 s). */
function holderPid(key: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const c = connect(`\0${key}`);
    let text = '';
    const done = (pid: number | undefined) => {
      clearTimeout(timer);
      c.destroy();
      resolve(pid);
    };
    const timer = setTimeout(() => done(undefined), 1000);
    c.on('data', (d) => (text += d.toString()));
    c.on('end', () => done(Number.parseInt(text, 10) || undefined));
    c.on('error', () => done(undefined));
  });
}

/**
 * The locks a running daemon holds, across reloads: a new config takes what it adds, keeps what
 * it shares with the running one, and the rest is released once it is in place.
 */
export class HeldLocks {
  private held = new Map<string, Locks>();

  /** Takes the locks `config` needs that are not held yet (none on failure); every lock it needs, for switchTo() or abandon(). */
  async take(config: Config): Promise<Map<string, Locks>> {
    const taken = new Map<string, Locks>();
    try {
      for (const n of configLocks(config, { ipvs: config.virtual_servers.length > 0 })) {
        taken.set(n.key, this.held.get(n.key) ?? (await acquireLocks([n])));
      }
    } catch (e) {
      this.abandon(taken);
      throw e;
    }
    return taken;
  }

  /** A refused config: releases what take() added over the held locks. */
  abandon(taken: ReadonlyMap<string, Locks>): void {
    for (const [k, l] of taken) if (!this.held.has(k)) l.release();
  }

  /** Holds `next` and releases the rest (an empty map at stop). */
  switchTo(next: Map<string, Locks>): void {
    for (const [k, l] of this.held) if (!next.has(k)) l.release();
    this.held = next;
  }
}

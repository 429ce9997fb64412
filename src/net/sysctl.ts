/**
 * Kernel parameters under /proc/sys, by path ('net/ipv4/conf/all/arp_ignore'). Paths, not
 * sysctl(8)'s dotted names: an interface named eth0.100 keeps its dot. /proc/sys/net shows the
 * reading process's network namespace, so a command run with `ip netns exec` sees that one.
 *
 * Below, the per-interface keys (net/ipv4|6/conf/IF/KEY) that the VRRP side changes for keepalived
 * features (use_vmac, promote_secondaries), with the old values kept so stop can put them back.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Sysctl {
  /** The value (trimmed), or undefined when the key does not exist (no such interface). */
  read(key: string): string | undefined;
  /** Writes `value`; throws (with the path) when the kernel refuses. */
  write(key: string, value: string): void;
}

/** A key must stay under the root: no '..', no absolute path, no empty part. */
function checkKey(key: string): void {
  if (key.split('/').some((p) => p === '' || p === '.' || p === '..')) throw new Error(`invalid sysctl key ${JSON.stringify(key)}`);
}

export function procSysctl(root = '/proc/sys'): Sysctl {
  return {
    read(key) {
      checkKey(key);
      try {
        return readFileSync(path.join(root, key), 'utf8').trim();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    write(key, value) {
      checkKey(key);
      try {
        writeFileSync(path.join(root, key), `${value}\n`);
      } catch (e) {
        throw new Error(`cannot set ${path.join(root, key)} to ${value}: ${(e as Error).message}`, { cause: e });
      }
    },
  };
}

const proc = procSysctl();
const ifKey = (family: 4 | 6, ifname: string, key: string) => `net/ipv${family}/conf/${ifname}/${key}`;

export function readIfSysctl(family: 4 | 6, ifname: string, key: string): string | undefined {
  try {
    return proc.read(ifKey(family, ifname, key));
  } catch {
    return undefined;
  }
}

export function writeIfSysctl(family: 4 | 6, ifname: string, key: string, value: string): void {
  if (ifname.includes('/') || ifname === '.' || ifname === '..') throw new Error(`not an interface name: ${ifname}`);
  proc.write(ifKey(family, ifname, key), value);
}

/**
 * A value is saved once, before the first change: the second instance on an interface does not
 * save the first one's setting as "old".
 */
export class SysctlSaver {
  private readonly saved = new Map<string, { family: 4 | 6; ifname: string; key: string; value: string }>();

  /** Sets `key` on `ifname`, remembering its value before vipkeeper first changed it. */
  set(family: 4 | 6, ifname: string, key: string, value: string): void {
    const id = `${family}/${ifname}/${key}`;
    if (!this.saved.has(id)) {
      const old = readIfSysctl(family, ifname, key);
      if (old !== undefined) this.saved.set(id, { family, ifname, key, value: old });
    }
    writeIfSysctl(family, ifname, key, value);
  }

  /** Puts every saved value back (an interface that went away is skipped); returns the failures. */
  restore(): string[] {
    const errors: string[] = [];
    for (const s of this.saved.values()) {
      if (readIfSysctl(s.family, s.ifname, s.key) === undefined) continue;
      try {
        writeIfSysctl(s.family, s.ifname, s.key, s.value);
      } catch (err) {
        errors.push(`${s.ifname} ${s.key}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.saved.clear();
    return errors;
  }
}

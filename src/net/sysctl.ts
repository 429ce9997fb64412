/**
 * Kernel parameters under /proc/sys, by path ('net/ipv4/conf/all/arp_ignore'). Paths, not
 * sysctl(8)'s dotted names: an interface named eth0.100 keeps its dot. /proc/sys/net shows the
 * reading process's network namespace, so a command run with `ip netns exec` sees that one.
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

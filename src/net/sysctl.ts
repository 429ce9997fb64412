/**
 * Per-interface sysctls (/proc/sys/net/ipv4|6/conf/IF/KEY) that vipkeeper changes for keepalived
 * features (use_vmac, promote_secondaries), with the old values kept so stop can put them back.
 * A value is saved once, before the first change: the second instance on an interface does not
 * save the first one's setting as "old".
 */
import { readFileSync, writeFileSync } from 'node:fs';

const pathOf = (family: 4 | 6, ifname: string, key: string) => `/proc/sys/net/ipv${family}/conf/${ifname}/${key}`;

export function readIfSysctl(family: 4 | 6, ifname: string, key: string): string | undefined {
  try {
    return readFileSync(pathOf(family, ifname, key), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function writeIfSysctl(family: 4 | 6, ifname: string, key: string, value: string): void {
  if (ifname.includes('/') || ifname === '.' || ifname === '..') throw new Error(`not an interface name: ${ifname}`);
  writeFileSync(pathOf(family, ifname, key), `${value}\n`);
}

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

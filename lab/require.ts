/**
 * What the lab needs from the machine, checked up front. Each check THROWS a clear error with the
 * fix (never skips): a test that cannot get what it needs fails loudly, and the demo and the
 * benchmarks refuse to start. `scripts/setup.sh` installs every package named here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

import { REPO_ROOT } from './process.js';

/** Throws a clear error unless we are root and can create a network namespace. */
export function requireNetnsRoot(what = 'these tests'): void {
  const uid = process.getuid?.();
  if (uid !== 0) {
    throw new Error(`${what} need root (CAP_NET_ADMIN + CAP_NET_RAW) and network namespaces; running as uid ${String(uid)}. Run them as root (CI does).`);
  }
  const probe = `vkt-${process.pid}-probe`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.error || add.status !== 0) {
    throw new Error(
      `${what} need network namespaces, but 'ip netns add' failed: ${add.error?.message ?? add.stderr.trim()} (is iproute2 installed, and are we allowed to create namespaces?)`,
    );
  }
  spawnSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
}

/** The path of `tool` on PATH, or undefined. */
export function which(tool: string): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v "$0"', tool], { encoding: 'utf8' });
  const p = (r.stdout ?? '').trim();
  return r.status === 0 && p ? p : undefined;
}

/** Throws a clear error unless tshark is on PATH. */
export function requireTshark(what = 'this test'): string {
  const p = which('tshark');
  if (!p) throw new Error(`${what} needs tshark to capture packets, but it is not installed (apt-get install tshark)`);
  return p;
}

/** Throws a clear error unless promtool (Debian's prometheus package) is on PATH; returns its path. */
export function requirePromtool(what = 'this test'): string {
  const p = which('promtool');
  if (!p) throw new Error(`${what} needs promtool to check the alert rules, but it is not installed (apt-get install --no-install-recommends prometheus; scripts/setup.sh does)`);
  return p;
}

/** Throws unless the addon has been built. */
export function requireNativeAddon(): void {
  const p = path.join(REPO_ROOT, 'native', 'build', 'Release', 'vipkeeper_native.node');
  if (!existsSync(p)) throw new Error(`native addon not built (${p}): run npm ci, or node native/build.mjs (needs g++, make, python3)`);
}

/** Throws a clear error unless keepalived is installed; returns its version line. */
export function requireKeepalived(what = 'these tests'): string {
  const r = spawnSync('keepalived', ['-v'], { encoding: 'utf8' });
  if (r.error) throw new Error(`${what} need keepalived (apt-get install keepalived): ${r.error.message}`);
  return `${r.stdout}${r.stderr}`.split('\n')[0]?.trim() ?? 'keepalived';
}

/** Throws unless we are root and every tool is on PATH (the Debian package is named in the error). */
export function requireRootAndTools(tools: readonly string[], what = 'this benchmark'): void {
  if (process.getuid?.() !== 0) throw new Error(`${what} needs root (network namespaces, raw sockets)`);
  for (const t of tools) {
    if (!which(t)) throw new Error(`${what} needs ${t} (apt-get install ${t === 'ip' ? 'iproute2' : t})`);
  }
}

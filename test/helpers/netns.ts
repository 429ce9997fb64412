/**
 * Network-namespace lab for root-only integration tests.
 *
 * - Namespaces are named `vkt-<pid>-<n>` and are ALWAYS deleted: call
 *   `lab.cleanup()` in afterAll / finally; 'exit' and SIGINT/SIGTERM/SIGHUP
 *   hooks delete any that are left over, and the first `addNamespace()`
 *   sweeps `vkt-*` namespaces of test processes that no longer exist
 *   (e.g. after a SIGKILL).
 * - Only 10.0.0.0/8 and fd00::/8 addresses may be configured, and only on
 *   interfaces inside namespaces this lab created. Nothing touches the host's
 *   own interfaces.
 * - A Node process cannot switch namespaces, so code under test runs in a
 *   child: `lab.spawnNode(ns, 'test/fixtures/native-x.mjs', args)`
 *   (= `ip netns exec NS node --import tsx ...`).
 *
 * `requireNetnsRoot()` / `requireTshark()` / `requireNativeAddon()` throw
 * (they never skip); call them inside `setupOrFail()` so every test of the
 * suite FAILS with the reason.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { beforeAll, beforeEach } from 'vitest';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let counter = 0;
const liveNamespaces = new Set<string>();

function deleteLiveSync(): void {
  for (const ns of liveNamespaces) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  liveNamespaces.clear();
}
process.once('exit', deleteLiveSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    deleteLiveSync();
    process.kill(process.pid, sig); // this listener is gone now: default action
  });
}

let swept = false;
/** Delete `vkt-<pid>-*` namespaces left behind by test processes that no longer exist. */
function sweepStaleNamespaces(): void {
  if (swept) return;
  swept = true;
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const line of (r.stdout ?? '').split('\n')) {
    const m = /^(vkt-(\d+)-\S+)/.exec(line);
    if (!m || Number(m[2]) === process.pid) continue;
    try {
      process.kill(Number(m[2]), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') {
        spawnSync('ip', ['netns', 'del', m[1]!], { stdio: 'ignore' });
      }
    }
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Run a command; rejects with its stderr when it exits non-zero. */
export function run(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`.trim(), { cause: err }));
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

/**
 * Run `setup` once for the suite (like beforeAll), but if it throws (not
 * root, no `ip netns`, no tshark, addon not built, ...) make EVERY test in
 * the suite fail with that error. A throwing beforeAll alone would only mark
 * the tests as skipped.
 */
export function setupOrFail(setup: () => Promise<void> | void): void {
  let error: unknown;
  beforeAll(async () => {
    try {
      await setup();
    } catch (err) {
      error = err;
    }
  });
  beforeEach(() => {
    if (error !== undefined) throw error;
  });
}

/** Throws a clear error unless we are root and can create a network namespace. */
export function requireNetnsRoot(what = 'these tests'): void {
  const uid = process.getuid?.();
  if (uid !== 0) {
    throw new Error(
      `${what} need root (CAP_NET_ADMIN + CAP_NET_RAW) and network namespaces; running as uid ${String(uid)}. ` +
        'Run them as root (CI does).',
    );
  }
  const probe = `vkt-${process.pid}-probe`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.error || add.status !== 0) {
    throw new Error(
      `${what} need network namespaces, but 'ip netns add' failed: ` +
        `${add.error?.message ?? add.stderr.trim()} (is iproute2 installed, and are we allowed to create namespaces?)`,
    );
  }
  spawnSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
}

/** Throws a clear error unless tshark is on PATH. */
export function requireTshark(what = 'this test'): string {
  const r = spawnSync('sh', ['-c', 'command -v tshark'], { encoding: 'utf8' });
  const p = (r.stdout ?? '').trim();
  if (r.status !== 0 || !p) {
    throw new Error(`${what} needs tshark to capture packets, but it is not installed (apt-get install tshark)`);
  }
  return p;
}

/** Throws unless the addon has been built. */
export function requireNativeAddon(): void {
  const p = path.join(REPO_ROOT, 'native', 'build', 'Release', 'vipkeeper_native.node');
  if (!existsSync(p)) {
    throw new Error(`native addon not built (${p}): run npm ci, or node native/build.mjs (needs g++, make, python3)`);
  }
}

function checkLabAddress(cidr: string): void {
  const addr = cidr.split('/')[0]!.toLowerCase();
  const ok4 = /^10\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(addr);
  const ok6 = /^fd[0-9a-f]{0,2}:/.test(addr);
  if (!ok4 && !ok6) throw new Error(`netns lab: refusing address ${cidr}; only 10.0.0.0/8 and fd00::/8 are allowed`);
}

/** A child process running inside a namespace, with line-oriented stdout/stderr. */
export class NsProcess {
  readonly child: ChildProcess;
  readonly stdoutLines: string[] = [];
  readonly stderrLines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: Array<() => void> = [];
  #exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(
    readonly label: string,
    argv: readonly string[],
    env?: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(argv[0]!, argv.slice(1), {
      cwd: REPO_ROOT,
      env: env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = (target: string[]) => {
      let partial = '';
      return (chunk: Buffer) => {
        partial += chunk.toString('utf8');
        const parts = partial.split('\n');
        partial = parts.pop()!;
        target.push(...parts);
        this.#notify();
      };
    };
    this.child.stdout!.on('data', lines(this.stdoutLines));
    this.child.stderr!.on('data', lines(this.stderrLines));
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.stderrLines.push(`spawn error: ${err.message}`);
        this.#exitInfo = { code: -1, signal: null };
        this.#notify();
        resolve(this.#exitInfo);
      });
      this.child.once('close', (code, signal) => {
        this.#exitInfo = { code, signal };
        this.#notify();
        resolve(this.#exitInfo);
      });
    });
  }

  get running(): boolean {
    return this.#exitInfo === undefined;
  }

  #notify(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  describe(): string {
    return (
      `[${this.label}] exit=${JSON.stringify(this.#exitInfo ?? 'running')}\n` +
      `stdout:\n${this.stdoutLines.join('\n')}\nstderr:\n${this.stderrLines.join('\n')}`
    );
  }

  /** Resolve with the first line (stdout or stderr, per `stream`) matching `pred`. */
  async waitForLine(
    pred: RegExp | ((line: string) => boolean),
    timeoutMs = 10_000,
    stream: 'stdout' | 'stderr' = 'stdout',
  ): Promise<string> {
    const test = typeof pred === 'function' ? pred : (l: string) => pred.test(l);
    const lines = stream === 'stdout' ? this.stdoutLines : this.stderrLines;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = lines.find(test);
      if (hit !== undefined) return hit;
      if (!this.running) throw new Error(`process exited before printing the expected line\n${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for a line\n${this.describe()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Wait for exit; rejects on timeout or (if `expectZero`) a non-zero exit. */
  async waitExit(timeoutMs = 15_000, expectZero = true): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms waiting for exit\n${this.describe()}`)),
        timeoutMs,
      );
    });
    try {
      const info = await Promise.race([this.exited, timeout]);
      if (expectZero && info.code !== 0) throw new Error(`process failed\n${this.describe()}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** JSON objects printed one per stdout line. */
  jsonLines<T = Record<string, unknown>>(): T[] {
    return this.stdoutLines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as T);
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

export interface Capture {
  proc: NsProcess;
  /** Resolves with one array of field values per captured packet. */
  done: Promise<string[][]>;
}

export class NetnsLab {
  readonly namespaces: string[] = [];
  readonly #procs = new Set<NsProcess>();
  #bridgePorts = 0;

  /** Create a namespace with lo up and IPv6 DAD off (so addresses are usable at once). */
  async addNamespace(): Promise<string> {
    sweepStaleNamespaces();
    const name = `vkt-${process.pid}-${++counter}`;
    await run('ip', ['netns', 'add', name]);
    liveNamespaces.add(name);
    this.namespaces.push(name);
    await this.exec(name, ['ip', 'link', 'set', 'lo', 'up']);
    await this.exec(name, [
      'sysctl',
      '-qw',
      'net.ipv6.conf.all.accept_dad=0',
      'net.ipv6.conf.default.accept_dad=0',
    ]);
    return name;
  }

  #own(ns: string): void {
    if (!this.namespaces.includes(ns)) throw new Error(`netns lab: ${ns} was not created by this lab`);
  }

  /** A veth pair: `ifA` in `nsA`, `ifB` in `nsB`, both up. */
  async addVeth(nsA: string, ifA: string, nsB: string, ifB: string): Promise<void> {
    this.#own(nsA);
    this.#own(nsB);
    await run('ip', ['-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    await run('ip', ['-n', nsA, 'link', 'set', ifA, 'up']);
    await run('ip', ['-n', nsB, 'link', 'set', ifB, 'up']);
  }

  /** A bridge `name` inside `ns`, up. */
  async addBridge(ns: string, name: string): Promise<void> {
    this.#own(ns);
    await run('ip', ['-n', ns, 'link', 'add', name, 'type', 'bridge']);
    await run('ip', ['-n', ns, 'link', 'set', name, 'up']);
  }

  /** Attach `ns` to a bridge in `bridgeNs` through a veth named `ifname` in `ns`. */
  async connectToBridge(bridgeNs: string, bridge: string, ns: string, ifname: string): Promise<void> {
    const port = `vktp${++this.#bridgePorts}`;
    await this.addVeth(ns, ifname, bridgeNs, port);
    await run('ip', ['-n', bridgeNs, 'link', 'set', port, 'master', bridge]);
  }

  /** Add 10.x.y.z/n or fd..::/n (IPv6 with nodad) to an interface inside `ns`. */
  async addAddress(ns: string, ifname: string, cidr: string): Promise<void> {
    this.#own(ns);
    checkLabAddress(cidr);
    const v6 = cidr.includes(':');
    await run('ip', ['-n', ns, ...(v6 ? ['-6'] : []), 'addr', 'add', cidr, 'dev', ifname, ...(v6 ? ['nodad'] : [])]);
  }

  /** The interface's MAC address. */
  async mac(ns: string, ifname: string): Promise<string> {
    const { stdout } = await run('ip', ['-n', ns, '-j', 'link', 'show', 'dev', ifname]);
    const [link] = JSON.parse(stdout) as Array<{ address: string }>;
    return link!.address;
  }

  /** Wait until the interface has a usable (non-tentative) IPv6 link-local address; returns it. */
  async linkLocal(ns: string, ifname: string, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { stdout } = await run('ip', ['-n', ns, '-6', '-j', 'addr', 'show', 'dev', ifname, 'scope', 'link']);
      // `ip -j` lists filtered-out addresses as {} entries.
      const infos = (JSON.parse(stdout) as Array<{ addr_info?: Array<{ local?: string; tentative?: boolean }> }>)
        .flatMap((l) => l.addr_info ?? [])
        .filter((a) => a.local?.startsWith('fe80:') && !a.tentative);
      if (infos[0]?.local) return infos[0].local;
      if (Date.now() > deadline) throw new Error(`no IPv6 link-local address on ${ns}/${ifname} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Run a command inside `ns` and wait for it. */
  exec(ns: string, argv: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
    this.#own(ns);
    return run('ip', ['netns', 'exec', ns, ...argv], timeoutMs);
  }

  /** Start a long-running command inside `ns`; killed in cleanup(). */
  spawn(ns: string, argv: readonly string[], label = argv.join(' '), env?: NodeJS.ProcessEnv): NsProcess {
    this.#own(ns);
    const p = new NsProcess(`${ns}: ${label}`, ['ip', 'netns', 'exec', ns, ...argv], env);
    this.#procs.add(p);
    void p.exited.then(() => this.#procs.delete(p));
    return p;
  }

  /** Run a fixture script (TS-capable via tsx) with one JSON argument inside `ns`. */
  spawnNode(ns: string, fixture: string, arg: unknown): NsProcess {
    return this.spawn(
      ns,
      [process.execPath, '--import', 'tsx', path.join(REPO_ROOT, fixture), JSON.stringify(arg)],
      `${path.basename(fixture)} ${JSON.stringify(arg)}`,
    );
  }

  /**
   * Start tshark on `ifname` inside `ns`; resolves once it is capturing.
   * `done` resolves with the requested fields of up to `count` packets
   * (fewer if `seconds` pass first).
   */
  async capture(
    ns: string,
    ifname: string,
    filter: string,
    fields: readonly string[],
    opts: { count?: number; seconds?: number } = {},
  ): Promise<Capture> {
    requireTshark();
    const count = opts.count ?? 1;
    const seconds = opts.seconds ?? 10;
    const argv = ['tshark', '-n', '-l', '-i', ifname, '-f', filter, '-c', String(count), '-a', `duration:${seconds}`];
    argv.push('-T', 'fields', '-E', 'separator=/t', ...fields.flatMap((f) => ['-e', f]));
    const proc = this.spawn(ns, argv, `tshark ${filter}`);
    await proc.waitForLine(/Capturing on/, 15_000, 'stderr');
    const done = proc.exited.then(() =>
      proc.stdoutLines.filter((l) => l.trim() !== '').map((l) => l.split('\t')),
    );
    return { proc, done };
  }

  /** Kill children and delete every namespace (and with them their interfaces). Never throws early. */
  async cleanup(): Promise<void> {
    const errors: string[] = [];
    await Promise.all([...this.#procs].map((p) => p.kill().catch((e: Error) => errors.push(e.message))));
    for (const ns of this.namespaces.splice(0)) {
      try {
        await run('ip', ['netns', 'del', ns]);
        liveNamespaces.delete(ns);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (errors.length) throw new Error(`netns lab cleanup problems:\n${errors.join('\n')}`);
  }
}

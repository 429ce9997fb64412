/**
 * Real IPVS for the tests and the benchmarks: a QEMU guest running Debian's kernel (this host's kernel has no IP_VS and
 * cannot load modules; KVM does not work here, so the guest runs under TCG: ~10 s per boot).
 *
 * - `ensureVmImage()` runs `lab/ipvs-vm.sh build`: on a fresh machine it installs the
 *   missing Debian packages (qemu-system-x86, busybox-static, cpio, kmod), `apt-get download`s the
 *   kernel and packs an initramfs with busybox, bash, ip, ipvsadm, node and keepalived into a cache
 *   dir (/var/cache/vipkeeper-test-vm, else /tmp/vipkeeper-test-vm) that every test file reuses.
 * - `runGuest(tasks)` boots ONCE and runs every task of a test file in one guest process:
 *   test/fixtures/ipvs-guest.ts, bundled with esbuild from the project's own sources (src/ipvs/*),
 *   is shared read-only over virtio-9p together with the task list, any files and the native addon
 *   (native/build/Release/vipkeeper_native.node, for the netlink backend: the guest runs the host's
 *   node, so the host's build loads there; run.sh copies it to where the bundle looks for it); the agent writes
 *   one JSON line per task to the guest's second serial port (a file on the host), so kernel and
 *   program output on the console never mix with results.
 *
 * The console of the last run is kept in <cache dir>/last-console.log.
 *
 * Nothing here ever skips: if QEMU or the image cannot be had, runGuest throws an error saying
 * exactly what is missing, and the test file fails.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { REPO_ROOT } from './process.js';

export { REPO_ROOT };
const SCRIPT = path.join(REPO_ROOT, 'lab', 'ipvs-vm.sh');
const AGENT = path.join(REPO_ROOT, 'test', 'fixtures', 'ipvs-guest.ts');
/** The native addon (netlink socket for the netlink IPVS backend); the guest runs the host's node, so it loads there too. */
const ADDON = path.join(REPO_ROOT, 'native', 'build', 'Release', 'vipkeeper_native.node');

export interface GuestTask {
  id: string;
  kind: string;
  [k: string]: unknown;
}

export interface TaskResult<T = unknown> {
  id: string;
  ok: boolean;
  result?: T;
  error?: string;
  ms: number;
}

export interface GuestRun {
  results: Map<string, TaskResult>;
  console: string;
  timing: { bootMs: number; agentMs: number; totalMs: number };
}

export interface GuestOptions {
  /** guest RAM, MiB (default 1024) */
  memMb?: number;
  /** whole-run limit, ms (default 240 s) */
  timeoutMs?: number;
  /** extra files for the share: relative path → content */
  files?: Record<string, string | Uint8Array>;
  /** echo the console to stderr as it comes */
  verbose?: boolean;
  /** the agent's entry file (default test/fixtures/ipvs-guest.ts) */
  agent?: string;
}

function sh(cmd: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
  });
}

let imageDir: string | undefined;

/** Builds the guest image if needed and returns the cache dir. Throws a clear error if it cannot. */
export async function ensureVmImage(): Promise<string> {
  if (imageDir) return imageDir;
  try {
    await sh('bash', [SCRIPT, 'build'], 15 * 60_000);
    const { stdout } = await sh('bash', [SCRIPT, 'dir'], 10_000);
    imageDir = stdout.trim();
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`Cannot build the QEMU guest for the real-IPVS tests (lab/ipvs-vm.sh build): ${(err.stderr || err.message).trim()}`);
  }
  for (const f of ['vmlinuz', 'base.cpio.gz']) {
    if (!existsSync(path.join(imageDir, f))) throw new Error(`The QEMU guest image is incomplete: ${path.join(imageDir, f)} is missing`);
  }
  return imageDir;
}

/** Bundles the guest agent (and the src/ipvs code it imports) into one ES module. */
export async function bundleAgent(outfile: string, entry = AGENT): Promise<void> {
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
}

function qemuBinary(): string {
  for (const dir of (process.env.PATH ?? '/usr/bin').split(':')) {
    const p = path.join(dir, 'qemu-system-x86_64');
    if (existsSync(p)) return p;
  }
  throw new Error('QEMU is not installed (qemu-system-x86_64 not on PATH): install the Debian package qemu-system-x86 (scripts/setup.sh); the real-IPVS tests cannot run without it');
}

/** Boots the guest once, runs `tasks` in order inside it, returns every task's result. */
export async function runGuest(tasks: GuestTask[], opts: GuestOptions = {}): Promise<GuestRun> {
  const qemu = qemuBinary();
  const dir = await ensureVmImage();
  mkdirSync(path.join(dir, 'jobs'), { recursive: true });
  const job = mkdtempSync(path.join(dir, 'jobs', 'job-'));
  const share = path.join(job, 'share');
  mkdirSync(share);
  const resultsFile = path.join(job, 'results.jsonl');
  writeFileSync(resultsFile, '');
  try {
    await bundleAgent(path.join(share, 'agent.mjs'), opts.agent);
    writeFileSync(path.join(share, 'job.json'), JSON.stringify({ tasks }));
    // the bundled agent resolves the addon as src/net/native.ts does, relative to itself:
    // /mnt/job/agent.mjs → /native/build/Release/vipkeeper_native.node (copied there by run.sh)
    const addon = existsSync(ADDON);
    if (addon) copyFileSync(ADDON, path.join(share, 'vipkeeper_native.node'));
    for (const [rel, content] of Object.entries(opts.files ?? {})) {
      const p = path.join(share, rel);
      mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, content);
    }
    writeFileSync(
      path.join(share, 'run.sh'),
      [
        'stty -F /dev/ttyS1 raw -echo 2>/dev/null',
        ...(addon ? ['mkdir -p /native/build/Release', 'cp /mnt/job/vipkeeper_native.node /native/build/Release/'] : []),
        'cd /tmp',
        'exec node /mnt/job/agent.mjs /mnt/job/job.json /dev/ttyS1',
        '',
      ].join('\n'),
    );
    const args = [
      '-m', String(opts.memMb ?? 1024), '-smp', '1', '-accel', 'tcg', '-display', 'none', '-monitor', 'none',
      '-no-reboot', '-nic', 'none',
      '-kernel', path.join(dir, 'vmlinuz'), '-initrd', path.join(dir, 'base.cpio.gz'),
      '-virtfs', `local,path=${share},mount_tag=job,security_model=none,readonly=on`,
      '-serial', 'stdio', '-serial', `file:${resultsFile}`,
      '-append', 'console=ttyS0 quiet loglevel=3 panic=-1',
    ];
    const timeoutMs = opts.timeoutMs ?? 240_000;
    const t0 = performance.now();
    let tBegin = 0;
    let tEnd = 0;
    let consoleText = '';
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean; spawnError?: Error }>((resolve) => {
      const child = spawn(qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        if (child.pid) process.kill(child.pid, 'SIGKILL');
      }, timeoutMs);
      const onData = (c: Buffer) => {
        const s = c.toString('utf8').replace(/\r/g, '');
        consoleText += s;
        if (opts.verbose) process.stderr.write(s);
        if (!tBegin && consoleText.includes('===VM-BEGIN')) tBegin = performance.now();
        if (!tEnd && consoleText.includes('===VM-END')) tEnd = performance.now();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', (e) => {
        clearTimeout(timer);
        resolve({ code: null, signal: null, timedOut, spawnError: e });
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, timedOut });
      });
    });
    const t1 = performance.now();
    writeFileSync(path.join(dir, 'last-console.log'), consoleText); // for a look after a failure
    const tail = consoleText.split('\n').slice(-40).join('\n');
    if (exit.spawnError) throw new Error(`Cannot start QEMU (${qemu}): ${exit.spawnError.message}`);
    if (!tBegin) {
      throw new Error(
        `The QEMU guest did not boot (${exit.timedOut ? `killed after ${timeoutMs} ms` : `qemu exited with ${exit.code ?? exit.signal}`}); console:\n${tail}`,
      );
    }
    const results = new Map<string, TaskResult>();
    let done = false;
    for (const line of readFileSync(resultsFile, 'utf8').replace(/\r/g, '').split('\n')) {
      if (!line.startsWith('{')) continue;
      let rec: TaskResult & { done?: boolean };
      try {
        rec = JSON.parse(line) as TaskResult & { done?: boolean };
      } catch {
        throw new Error(`Garbled result line from the guest agent: ${line.slice(0, 200)}`);
      }
      if (rec.done) done = true;
      else results.set(rec.id, rec);
    }
    if (!done) {
      throw new Error(
        `The guest agent did not finish (${exit.timedOut ? `VM killed after ${timeoutMs} ms` : 'it stopped early'}; ${results.size}/${tasks.length} tasks reported); console:\n${tail}`,
      );
    }
    return { results, console: consoleText, timing: { bootMs: tBegin - t0, agentMs: (tEnd || t1) - tBegin, totalMs: t1 - t0 } };
  } finally {
    rmSync(job, { recursive: true, force: true });
  }
}

/** The result of one task, or a thrown error saying why it has none. */
export function taskResult<T>(run: GuestRun, id: string): T {
  const r = run.results.get(id);
  if (!r) throw new Error(`The guest reported no result for task '${id}'`);
  if (!r.ok) throw new Error(`Guest task '${id}' failed: ${r.error ?? 'unknown error'}`);
  return r.result as T;
}

/**
 * A guest booted once in beforeAll whose failure makes EVERY test fail with the reason (vitest
 * would otherwise report the tests of a file whose beforeAll threw as skipped).
 *
 *   const vm = bootOnce(() => runGuest([...]));
 *   beforeAll(vm.boot, 20 * 60_000);
 *   it('...', () => { const run = vm.get(); ... });
 */
export function bootOnce<T>(boot: () => Promise<T>): { boot: () => Promise<void>; get: () => T } {
  let value: T | undefined;
  let error: unknown;
  let done = false;
  return {
    boot: async () => {
      try {
        value = await boot();
      } catch (e) {
        error = e;
      } finally {
        done = true;
      }
    },
    get: () => {
      if (error !== undefined) throw error instanceof Error ? error : new Error(String(error));
      if (!done) throw new Error('The QEMU guest was not booted (beforeAll did not run)');
      return value as T;
    },
  };
}

/**
 * The task loop shared by every agent that runs inside the QEMU guest (test/fixtures/ipvs-guest.ts,
 * test/fixtures/realserver-guest.ts, bench/checks/guest.ts, bench/reconcile/guest.ts). lab/ipvs-vm.ts
 * bundles an agent with esbuild, so this module travels inside the bundle: the guest needs nothing else.
 *
 * Usage in the guest: node agent.mjs JOB.json RESULTS_TTY. `runAgent` runs the job's tasks in order,
 * writes one JSON line per task to RESULTS_TTY (the guest's second serial port, a file on the host),
 * then `{"done":true}`, and exits. Progress (`say`) goes to stdout, the console, which never mixes with results.
 */
import { spawnSync } from 'node:child_process';
import { openSync, readFileSync, writeSync } from 'node:fs';

export type AgentTask = { id: string; kind: string } & Record<string, unknown>;
export type AgentHandlers = Record<string, (t: AgentTask) => Promise<unknown>>;

export interface AgentOptions {
  /** The tag of progress lines on the console (default `agent`). */
  name?: string;
  /** Runs after the last task, before `{"done":true}` (stop what the tasks left running). */
  after?: () => void;
}

let tag = 'agent';

/** A progress line on the guest console, stamped with the agent's uptime. */
export function say(msg: string): void {
  process.stdout.write(`[${tag} ${(performance.now() / 1000).toFixed(1)}s] ${msg}\n`);
}

export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A bash script, its exit code and output; `timeoutMs` bounds it (none by default). */
export function sh(cmd: string, timeoutMs?: number): ShResult {
  const r = spawnSync('/bin/bash', ['-c', cmd], { encoding: 'utf8', maxBuffer: 256 << 20, timeout: timeoutMs });
  return { code: r.status ?? 128, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** A bash script's stdout; throws with its exit code and stderr unless it exits 0. */
export function shOk(cmd: string, timeoutMs?: number): string {
  const r = sh(cmd, timeoutMs);
  if (r.code !== 0) throw new Error(`'${cmd.slice(0, 200)}' failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Runs the job named on the command line with `handlers` (by task kind), then exits the process. */
export function runAgent(handlers: AgentHandlers, opts: AgentOptions = {}): void {
  tag = opts.name ?? 'agent';
  const [jobPath = '/mnt/job/job.json', outPath = '/dev/ttyS1'] = process.argv.slice(2);
  const out = openSync(outPath, 'w');
  const emit = (o: unknown) => writeSync(out, `${JSON.stringify(o)}\n`);
  const main = async (): Promise<void> => {
    const job = JSON.parse(readFileSync(jobPath, 'utf8')) as { tasks: AgentTask[] };
    say(`${job.tasks.length} tasks`);
    for (const t of job.tasks) {
      const t0 = performance.now();
      say(`task ${t.id} (${t.kind})`);
      try {
        const h = handlers[t.kind];
        if (!h) throw new Error(`unknown task kind '${t.kind}'`);
        emit({ id: t.id, ok: true, result: await h(t), ms: performance.now() - t0 });
      } catch (e) {
        emit({ id: t.id, ok: false, error: (e as Error).stack ?? String(e), ms: performance.now() - t0 });
      }
    }
    opts.after?.();
    emit({ done: true });
  };
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      emit({ id: `(${tag})`, ok: false, error: String(e), ms: 0 });
      emit({ done: true });
      process.exit(1);
    },
  );
}

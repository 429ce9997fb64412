/**
 * MISC_CHECK: run `command` with src/daemon/exec.ts's runScript (own process group; at the
 * deadline the group gets SIGTERM, then SIGKILL after the grace time, so forked children die too).
 *
 * Exit codes as keepalived: 0 passes; otherwise it fails with 'exit', except with misc_dynamic,
 * where 1 fails and 2..255 pass with weight = exit − 2 (0 passes without a weight: "weight
 * unchanged"). Killed by a signal: 'signal'. Not runnable (not found, not executable, unknown
 * user): 'error'. Deadline (misc_timeout or `signal`): 'timeout', settled at once while the
 * process group is still being killed in the background.
 *
 * Stragglers: once the script has exited, whatever it left running in its process group
 * (`cmd &`) gets SIGKILL, so a check that forks cannot leave one process behind per run.
 * (keepalived leaves them; a health check has no business daemonizing.)
 *
 * No pile-up: a run still being killed blocks the next run of the same command (same
 * command/user/group) until it has exited; if it has not exited by the next attempt's deadline,
 * that attempt fails with 'timeout' without starting a second copy.
 */
import { runScript, type ScriptResult, type ScriptRunner } from '../../sys/exec.js';
import type { Probe, ProbeResult, ProbeSpec } from '../types.js';
import { fail, message, ok, runAttempt } from './common.js';

type MiscSpec = Extract<ProbeSpec, { kind: 'MISC_CHECK' }>;

/** Runs still in progress (or being killed), by command/user/group. */
const inFlight = new Map<string, Promise<unknown>>();

/** Number of MISC_CHECK scripts whose runs have not finished yet (for tests and status). */
export function miscRunsInFlight(): number {
  return inFlight.size;
}

/** SIGKILL to a finished script's process group (pgid = its pid); ESRCH when empty is fine. */
function killStragglers(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // no such process group: nothing was left behind
  }
}

function outputHint(r: ScriptResult): string {
  const text = (r.stderr.trim() || r.stdout.trim()).split('\n')[0] ?? '';
  return text ? `: ${text.slice(0, 200)}` : '';
}

/** Maps a finished script to a result (exported for tests). */
export function miscResult(r: ScriptResult, dynamic: boolean): ProbeResult {
  if (r.error !== undefined) return fail('error', `cannot run ${r.argv[0] ?? 'script'}: ${r.error}`);
  if (r.timedOut || r.aborted) return fail('timeout', `script killed at the deadline${r.signal ? ` (${r.signal})` : ''}`);
  if (r.signal !== null) return fail('signal', `script killed by ${r.signal}${outputHint(r)}`);
  const code = r.code ?? -1;
  if (code === 0) return ok('exit 0');
  if (dynamic && code >= 2 && code <= 255) return ok(`exit ${code}: weight ${code - 2}`, code - 2);
  return fail('exit', `exit ${code}${outputHint(r)}`);
}

/** A MISC_CHECK probe with an injectable script runner (tests); `miscProbe` uses runScript. */
export function createMiscProbe(runner: ScriptRunner): Probe {
  return (spec, signal) => {
    if (spec.kind !== 'MISC_CHECK') return Promise.resolve(fail('error', `misc probe cannot run ${spec.kind}`));
    return probeMisc(spec, signal, runner);
  };
}

export const miscProbe: Probe = createMiscProbe(runScript);

function probeMisc(spec: MiscSpec, signal: AbortSignal, runner: ScriptRunner): Promise<ProbeResult> {
  const key = JSON.stringify([spec.command, spec.user ?? null, spec.group ?? null]);
  return runAttempt({ timeoutMs: spec.timeoutMs, signal, phase: `running ${spec.command}` }, async (a) => {
    // Claim the key at once: a later attempt waits for the previous run and for this one.
    const previous = inFlight.get(key);
    let ownDone!: () => void;
    const own = new Promise<void>((resolve) => (ownDone = resolve));
    const mine = Promise.all([previous, own]);
    inFlight.set(key, mine);
    void mine.then(() => {
      if (inFlight.get(key) === mine) inFlight.delete(key);
    });
    try {
      if (previous) {
        a.phase = 'waiting for the previous run of the script to exit';
        await previous;
        if (a.settled) return;
      }
      a.phase = `running ${spec.command}`;
      const scriptSpec: { command: string; user?: string; group?: string } = { command: spec.command };
      if (spec.user !== undefined) scriptSpec.user = spec.user;
      if (spec.group !== undefined) scriptSpec.group = spec.group;
      // The attempt's signal aborts at the deadline (or when the caller aborts): runScript then
      // kills the process group. No separate runScript timeout, so there is one deadline only.
      const r = await runner(scriptSpec, { timeoutMs: 0, signal: a.signal });
      a.finish(miscResult(r, spec.dynamic));
      if (r.pid !== undefined) killStragglers(r.pid);
    } catch (e) {
      a.finish(fail('error', message(e)));
    } finally {
      ownDone();
    }
  });
}

/**
 * `startup_script` / `shutdown_script` (global_defs), as keepalived 2.2.7 runs them (main.c):
 * the startup script runs before anything else starts (no VRRP, no check, no IPVS) and the start
 * waits for it, whatever its exit status; the shutdown script runs once everything has stopped
 * (VIPs released, IPVS left or cleared), and the exit waits for it. Each is killed (process group,
 * SIGTERM then SIGKILL) after its timeout, 10 s unless `*_script_timeout` says otherwise.
 *
 * They go through the one script runner (src/sys/exec.ts): script_user, enable_script_security
 * and the environment rules apply. A reload changes the shutdown script that will run; the
 * startup script runs once (keepalived does not run it again on reload either).
 */
import type { Config } from '../config/schema.js';
import { runScript, type ScriptRunner } from '../sys/exec.js';
import type { Logger } from '../sys/logger.js';

/** Runs the startup or shutdown script of `global`, if any; never throws. */
export async function runStartStopScript(kind: 'startup' | 'shutdown', global: Config['global'], log: Logger, runner: ScriptRunner = runScript): Promise<void> {
  const spec = kind === 'startup' ? global.startup_script : global.shutdown_script;
  if (!spec) return;
  const timeoutMs = kind === 'startup' ? global.startup_script_timeout : global.shutdown_script_timeout;
  log.info({ script: spec.command, timeout_ms: timeoutMs }, `running the ${kind} script`);
  const r = await runner(spec, { timeoutMs, logger: log });
  const fields = { script: spec.command, code: r.code, signal: r.signal, ms: Math.round(r.durationMs), ...(r.error ? { error: r.error } : {}) };
  if (r.timedOut) log.warn(fields, `the ${kind} script did not finish within ${timeoutMs / 1000} s and was killed`);
  else if (r.code !== 0) log.warn(fields, `the ${kind} script failed`);
  else log.info(fields, `the ${kind} script succeeded`);
}

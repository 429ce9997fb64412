// The config parse of a reload, in its own thread (see config-thread.ts): the same loadConfigFile
// as `check` and `run`, its result sent back as plain data.
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfigFile, type LoadOptions } from '../config/load.js';
import { configHash } from './config-hash.js';

/** This thread's CPU time so far (ms; Linux), for the reload's split: a wall time alone on a loaded machine says little. */
function threadCpuMs(): number | undefined {
  try {
    const f = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, USER_HZ 100
  } catch {
    return undefined;
  }
}

const { file, opts } = workerData as { file: string; opts: LoadOptions };
try {
  const startCpu = threadCpuMs(); // the thread's start-up and its module loading
  const t0 = performance.now();
  const loaded = loadConfigFile(file, opts);
  // the status hash here too: at 37,300 real servers it is tens of ms the main thread need not spend
  const hash = loaded.config ? configHash(loaded.config) : undefined;
  const endCpu = threadCpuMs();
  const reader = { parseMs: Math.round(performance.now() - t0), ...(startCpu !== undefined && endCpu !== undefined ? { startCpuMs: startCpu, parseCpuMs: endCpu - startCpu } : {}) };
  parentPort?.postMessage({ ok: true, loaded, reader, ...(hash !== undefined ? { hash } : {}) });
} catch (e) {
  parentPort?.postMessage({ ok: false, error: (e as Error)?.message ?? String(e) });
}

// The config parse of a reload, in its own thread (see config-thread.ts): the same loadConfigFile
// as `check` and `run`, its result sent back as plain data.
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfigFile, type LoadOptions } from '../config/load.js';

const { file, opts } = workerData as { file: string; opts: LoadOptions };
try {
  parentPort?.postMessage({ ok: true, loaded: loadConfigFile(file, opts) });
} catch (e) {
  parentPort?.postMessage({ ok: false, error: (e as Error)?.message ?? String(e) });
}

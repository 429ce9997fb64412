// The config parse of a reload, in its own thread (see config-thread.ts): the same loadConfigFile
// as `check` and `run`, its result sent back as plain data.
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfigFile, type LoadOptions } from '../config/load.js';
import { configHash } from './config-hash.js';

const { file, opts } = workerData as { file: string; opts: LoadOptions };
try {
  const loaded = loadConfigFile(file, opts);
  // the status hash here too: at 37,300 real servers it is tens of ms the main thread need not spend
  parentPort?.postMessage({ ok: true, loaded, ...(loaded.config ? { hash: configHash(loaded.config) } : {}) });
} catch (e) {
  parentPort?.postMessage({ ok: false, error: (e as Error)?.message ?? String(e) });
}

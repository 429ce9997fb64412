// A reload's config parse runs in a worker thread, not on the main thread: the main thread feeds
// the systemd watchdog and answers the control API, and a large or pathological keepalived.conf
// can take many seconds to read. Past a bound the parse is abandoned (the thread terminated) and
// the reload refused, so the daemon keeps its running config instead of being killed by
// WatchdogSec. Start-up parses in-thread (nothing to keep running yet; TimeoutStartSec applies).
import { Worker } from 'node:worker_threads';
import type { Diagnostic } from '../config/diagnostics.js';
import type { LoadedConfig, LoadOptions } from '../config/load.js';

/** How long a reload may spend reading its config before it is refused. */
export const RELOAD_PARSE_TIMEOUT_MS = 60_000;

/** A module as a worker: under tsx (tests, development) the worker must register tsx itself. */
export function moduleWorker(url: URL, workerData: unknown, name: string): Worker {
  return url.pathname.endsWith('.ts')
    ? new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(url.href)}); });`, { eval: true, workerData, name })
    : new Worker(url, { workerData, name });
}

function workerUrl(): URL {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './config-worker.ts' : './config-worker.js', here);
}

function refused(file: string, format: LoadedConfig['format'] | undefined, message: string): LoadedConfig {
  const d: Diagnostic = { severity: 'error', loc: { file, line: 1, col: 1 }, message };
  return { format: format ?? 'yaml', diagnostics: [d], unsupported: [], counts: { keywords: 0, partial: 0 }, files: [file] };
}

/**
 * loadConfigFile(file, opts) in a worker thread. Never rejects: a parse past `timeoutMs`, or a
 * thread that fails, gives a LoadedConfig without a config and one error saying why.
 */
/** What the reader thread says of its own time (ms): its start-up's CPU, the parse's wall and CPU (CPU on Linux only). */
export interface ReaderStats {
  startCpuMs?: number;
  parseMs: number;
  parseCpuMs?: number;
}

export function loadConfigOffThread(file: string, opts: LoadOptions, timeoutMs = RELOAD_PARSE_TIMEOUT_MS): Promise<LoadedConfig & { hash?: string; reader?: ReaderStats }> {
  return new Promise((resolve) => {
    let done = false;
    let worker: Worker | undefined;
    const finish = (r: LoadedConfig & { hash?: string; reader?: ReaderStats }): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
      void worker?.terminate().catch(() => undefined);
    };
    const timer = setTimeout(
      () => finish(refused(file, opts.format, `reading the config took longer than ${Math.round(timeoutMs / 1000)} s and was abandoned (a pathological file?); the running config stays`)),
      timeoutMs,
    );
    try {
      worker = moduleWorker(workerUrl(), { file, opts }, 'config');
    } catch (e) {
      clearTimeout(timer);
      resolve(refused(file, opts.format, `cannot start the config reader thread: ${(e as Error).message}`));
      return;
    }
    worker.on('message', (m: { ok: true; loaded: LoadedConfig; hash?: string; reader?: ReaderStats } | { ok: false; error: string }) =>
      finish(
        m.ok
          ? { ...m.loaded, ...(m.hash !== undefined ? { hash: m.hash } : {}), ...(m.reader ? { reader: m.reader } : {}) }
          : refused(file, opts.format, `the config reader failed: ${m.error}`),
      ),
    );
    worker.on('error', (e) => finish(refused(file, opts.format, `the config reader failed: ${e.message}`)));
    worker.on('exit', (code) => finish(refused(file, opts.format, `the config reader thread exited (code ${code}) without an answer`)));
  });
}

// The VRRP engine in its own worker thread, as keepalived runs VRRP in its own
// child: health checks, scripts, reconciles, logging and the main thread's garbage
// collection never delay an advert. Plain-data messages in and out; a heartbeat
// tells the main thread (and through it systemd's watchdog) that this loop turns.
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config/schema.js';
import { setDefaultScriptUser } from './exec.js';
import { createLogger, type LogLevel } from './logger.js';
import { createUdpTransport } from './udp-transport.js';
import { addressPort, announcePort, linkPort, notifyPort, startTrackers } from './vrrp-adapters.js';
import { createRawTransport } from './vrrp-socket.js';
import { VrrpRuntime, type RuntimeRequest, type RuntimeResponse } from './vrrp-runtime.js';

export interface VrrpWorkerData {
  config: Config;
  transport: 'raw' | 'udp';
  udpPort: number;
  logLevel: LogLevel;
  heartbeatMs: number;
}

/** Main → worker: a runtime request with an id to answer. */
export interface WorkerCall {
  id: number;
  req: RuntimeRequest | { type: 'reloadConfig'; config: Config };
}

/** Worker → main. */
export type WorkerMessage =
  | { type: 'reply'; id: number; res: RuntimeResponse | { ok: true; report: unknown } | { ok: false; error: string } }
  | { type: 'event'; event: unknown }
  | { type: 'heartbeat'; at: number }
  | { type: 'started' }
  | { type: 'startFailed'; error: string; code?: string }
  | { type: 'stopped' };

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('vrrp-worker must run in a worker thread');
  const data = workerData as VrrpWorkerData;
  let config = data.config;
  const log = createLogger({ level: data.logLevel }).child({ component: 'vrrp' });
  setDefaultScriptUser(config.global.script_user);

  const transport = data.transport === 'udp' ? createUdpTransport({ port: data.udpPort }) : createRawTransport;
  const announcer = announcePort(log);
  // Notify scripts are looked up in the config the runtime is running, so a reload
  // that restarts an instance already uses the new scripts for its first notify.
  let current: VrrpRuntime | undefined;
  const notifier = await notifyPort(() => current?.config ?? config, log);
  const runtime = new VrrpRuntime({
    config,
    transport,
    addresses: addressPort(),
    announcer,
    links: linkPort(log),
    notifier,
    logger: log,
    onEvent: (event) => port.postMessage({ type: 'event', event } satisfies WorkerMessage),
  });

  current = runtime;
  const heartbeat = setInterval(() => port.postMessage({ type: 'heartbeat', at: Date.now() } satisfies WorkerMessage), data.heartbeatMs);
  let stopTrackers: () => void = () => undefined;

  const stop = async (reason: string): Promise<void> => {
    stopTrackers();
    await runtime.stop(reason);
    clearInterval(heartbeat);
    announcer.close();
    await notifier.close?.();
    port.postMessage({ type: 'stopped' } satisfies WorkerMessage);
  };

  port.on('message', (msg: WorkerCall) => {
    void (async () => {
      const reply = (res: Extract<WorkerMessage, { type: 'reply' }>['res']) =>
        port.postMessage({ type: 'reply', id: msg.id, res } satisfies WorkerMessage);
      try {
        if (msg.req.type === 'stop') {
          await stop(msg.req.reason ?? 'shutdown');
          reply({ ok: true });
          return;
        }
        if (msg.req.type === 'reloadConfig') {
          const res = await runtime.handleRequest({ type: 'reload', config: msg.req.config });
          if (res.ok) {
            config = msg.req.config;
            // The runtime keeps the trackers' last states; new watchers report from here on.
            stopTrackers();
            stopTrackers = await startTrackers(config, runtime, log);
          }
          reply(res);
          return;
        }
        reply(runtime.handleMessage(msg.req));
      } catch (e) {
        reply({ ok: false, error: (e as Error).message });
      }
    })();
  });

  try {
    stopTrackers = await startTrackers(config, runtime, log);
    await runtime.start();
  } catch (err) {
    const e = err as Error & { code?: string };
    clearInterval(heartbeat);
    stopTrackers();
    announcer.close();
    await notifier.close?.();
    port.postMessage({ type: 'startFailed', error: e.message, ...(e.code ? { code: e.code } : {}) } satisfies WorkerMessage);
    return;
  }
  port.postMessage({ type: 'started' } satisfies WorkerMessage);
}

main().catch((e: unknown) => {
  parentPort?.postMessage({ type: 'startFailed', error: (e as Error).message } satisfies WorkerMessage);
});

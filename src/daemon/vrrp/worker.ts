// The VRRP engine in its own worker thread, as keepalived runs VRRP in its own
// child: health checks, scripts, reconciles, logging and the main thread's garbage
// collection never delay an advert. Plain-data messages in and out; a heartbeat
// tells the main thread (and through it systemd's watchdog) that this loop turns.
import { stat } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../../config/schema.js';
import { native } from '../../sys/addon.js';
import { applyScriptPolicy } from '../../sys/exec.js';
import { createLogger, type Logger, type LogLevel } from '../../sys/logger.js';
import { createPreciseClock, type PreciseClock } from '../../sys/precise-clock.js';
import { createUdpTransport } from './udp-transport.js';
import { InstanceExtras } from './extras.js';
import { addressPort, announcePort, linkPort, notifyPort, startTrackers } from './adapters.js';
import { createRawTransport } from './socket.js';
import type { RuntimeRequest, RuntimeResponse, VrrpThreadScheduling } from './types.js';
import { VrrpRuntime } from './runtime.js';

export interface VrrpWorkerData {
  config: Config;
  transport: 'raw' | 'udp';
  udpPort: number;
  logLevel: LogLevel;
  /** The main thread's log format: a worker cannot tell whether stdout is a terminal or the journal. */
  logPretty?: boolean;
  heartbeatMs: number;
  /**
   * Signals the process stops on (the CLI's handlers). The worker watches them itself: Node
   * delivers signals to the main thread only, and its wake-up plus postMessage cost ~1 ms before
   * the priority-0 adverts could go out. Empty when something else owns the signals (tests).
   */
  stopSignals: NodeJS.Signals[];
  /** This worker replaces one that died: instances start with preemption held (see VrrpRuntimeDeps). */
  restarted?: boolean;
}

/**
 * Main → worker, only with VIPKEEPER_TEST_HOOKS=1 (the drills): throw on this thread's loop, so
 * the worker dies alone, as it would on a bug, and the main thread's supervisor is exercised.
 */
export interface WorkerTestCrash {
  testCrash: true;
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

/**
 * keepalived `vrrp_rt_priority`: SCHED_RR for THIS thread only (the addon sets it with
 * SCHED_RESET_ON_FORK, so notify/track scripts and any thread created from here start as
 * SCHED_OTHER). The main thread (health checks, IPVS, control API), libuv's threadpool and V8's
 * helper threads keep normal scheduling. Without CAP_SYS_NICE (or an RLIMIT_RTPRIO as high) this
 * warns and carries on unprioritised. Applied at start and again after each reload.
 */
function applyRtPriority(requested: number, log: Logger, previous: VrrpThreadScheduling | undefined): VrrpThreadScheduling | undefined {
  let n: ReturnType<typeof native>;
  try {
    n = native();
  } catch (e) {
    if (requested > 0) log.warn({ err: (e as Error).message }, 'vrrp_rt_priority: the native addon is not available; VRRP runs with normal scheduling');
    return undefined;
  }
  const tid = n.threadId();
  const cur = n.threadScheduler();
  const wanted = requested > 0 ? { policy: 'rr', priority: requested } : { policy: 'other', priority: 0 };
  if (cur.policy === wanted.policy && cur.priority === wanted.priority) {
    if (!previous) log.info({ tid, policy: cur.policy, priority: cur.priority }, requested > 0 ? `VRRP thread runs SCHED_RR priority ${requested}` : 'VRRP thread runs with normal scheduling (vrrp_rt_priority 0)');
    return { tid, ...cur, requested };
  }
  try {
    n.setThreadRealtime(requested);
  } catch (e) {
    const err = e as Error & { code?: string };
    const now = n.threadScheduler();
    const why = err.code === 'EPERM' || /EPERM|not permitted/i.test(err.message) ? 'EPERM: needs CAP_SYS_NICE or LimitRTPRIO=' : err.message;
    log.warn(
      { tid, requested, policy: now.policy, priority: now.priority, err: err.message },
      `vrrp_rt_priority ${requested}: cannot set SCHED_RR (${why}); VRRP runs with ${now.policy === 'other' ? 'normal scheduling' : `${now.policy} ${now.priority}`}`,
    );
    return { tid, ...now, requested, error: why };
  }
  const now = n.threadScheduler();
  log.info({ tid, policy: now.policy, priority: now.priority }, requested > 0 ? `VRRP thread runs SCHED_RR priority ${requested}` : 'VRRP thread back to normal scheduling (vrrp_rt_priority 0)');
  return { tid, ...now, requested };
}

/** The schema's default (10) also for a config object built without it. */
const rtPriorityOf = (c: Config): number => c.global.vrrp_rt_priority ?? 10;

/** The timerfd clock for advert and Master_Down timers; Node's timers if the addon cannot make one. */
function preciseClockOrNull(log: Logger): PreciseClock | undefined {
  try {
    return createPreciseClock();
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'no timerfd clock; VRRP timers use Node timers (millisecond resolution)');
    return undefined;
  }
}

/** The VRRP thread's log lines waiting for stdout, at most; past it they are dropped (counted). */
const LOG_BUFFER_BYTES = 1 << 20;

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('the VRRP worker must run in a worker thread');
  const data = workerData as VrrpWorkerData;
  let config = data.config;
  // Asynchronous, bounded: a stalled journal must not hold up an advert (lines are dropped, counted).
  const log = createLogger({ level: data.logLevel, nonBlocking: { maxBufferBytes: LOG_BUFFER_BYTES }, ...(data.logPretty !== undefined ? { pretty: data.logPretty } : {}) }).child({ component: 'vrrp' });
  // script_user and enable_script_security, for this thread's scripts (the main thread sets its own)
  applyScriptPolicy(config.global);
  // Start libuv's threadpool from this thread while it is still SCHED_OTHER (it is created once,
  // by whichever thread queues work first), then raise this thread alone.
  await stat('/').catch(() => undefined);
  let sched = applyRtPriority(rtPriorityOf(config), log, undefined);

  const transport = data.transport === 'udp' ? createUdpTransport({ port: data.udpPort }) : createRawTransport;
  const announcer = announcePort(log);
  // Notify scripts are looked up in the config the runtime is running, so a reload
  // that restarts an instance already uses the new scripts for its first notify.
  let current: VrrpRuntime | undefined;
  const notifier = await notifyPort(() => current?.config ?? config, log);
  const clock = preciseClockOrNull(log);
  const addresses = addressPort();
  const runtime = new VrrpRuntime({
    config,
    ...(clock ? { clock } : {}),
    transport,
    addresses,
    announcer,
    links: linkPort(log),
    extras: new InstanceExtras({ log, addresses }),
    notifier,
    logger: log,
    onEvent: (event) => port.postMessage({ type: 'event', event } satisfies WorkerMessage),
    ...(data.restarted ? { holdPreemptionAtStart: true } : {}),
  });
  if (data.restarted) log.warn({}, 'VRRP engine restarted after a crash: instances start BACKUP and do not preempt a lower-priority master');

  current = runtime;
  runtime.threadScheduling = sched;
  const heartbeat = setInterval(() => port.postMessage({ type: 'heartbeat', at: Date.now() } satisfies WorkerMessage), data.heartbeatMs);
  let stopTrackers: () => void = () => undefined;

  let signalWatches: { close(): void }[] = [];
  // One stop, whoever asks first: the signal watcher or the main thread's 'stop' call.
  let stopping: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> => (stopping ??= stopOnce(reason));
  const stopOnce = async (reason: string): Promise<void> => {
    // runtime.stop sends the priority-0 adverts synchronously, before its first await; the
    // trackers (file watchers, track scripts) are stopped right after.
    const stopped = runtime.stop(reason);
    for (const w of signalWatches) w.close();
    signalWatches = [];
    stopTrackers();
    await stopped;
    clearInterval(heartbeat);
    announcer.close();
    clock?.close();
    await notifier.close?.();
    // the last lines (the stop itself) before the main thread terminates this one; bounded
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 500);
      log.flush(() => {
        clearTimeout(t);
        resolve();
      });
    });
    port.postMessage({ type: 'stopped' } satisfies WorkerMessage);
  };

  port.on('message', (msg: WorkerCall | WorkerTestCrash) => {
    if ('testCrash' in msg) {
      setImmediate(() => {
        throw new Error('test hook: the VRRP worker crashes');
      });
      return;
    }
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
            // script_user and enable_script_security, for this thread's scripts (the main thread sets its own)
  applyScriptPolicy(config.global);
            if (rtPriorityOf(config) !== sched?.requested) {
              sched = applyRtPriority(rtPriorityOf(config), log, sched);
              runtime.threadScheduling = sched;
            }
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
  const onStopSignal = (sig: NodeJS.Signals): void => {
    void stop(sig);
    setImmediate(() => log.info({ signal: sig, thread: 'vrrp' }, 'stop signal heard on the VRRP thread'));
  };
  if (!stopping) signalWatches = watchStopSignals(data.stopSignals, onStopSignal, log);
  port.postMessage({ type: 'started' } satisfies WorkerMessage);
}

/** A native watcher per stop signal on this thread's loop; none (with a warning) without the addon. */
function watchStopSignals(signals: NodeJS.Signals[], onSignal: (sig: NodeJS.Signals) => void, log: Logger): { close(): void }[] {
  if (signals.length === 0) return [];
  let n: ReturnType<typeof native>;
  try {
    n = native();
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'the native addon is not available; the VRRP thread hears stop signals through the main thread');
    return [];
  }
  return signals.map((sig) => new n.SignalWatch(osConstants.signals[sig], () => onSignal(sig)));
}

main().catch((e: unknown) => {
  parentPort?.postMessage({ type: 'startFailed', error: (e as Error).message } satisfies WorkerMessage);
});

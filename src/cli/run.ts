/**
 * `vipkeeper run -f FILE`: the daemon in the foreground (src/daemon/daemon.ts): VRRP in
 * its own worker thread, health checks, the control API on its unix socket.
 *
 * Config errors print located messages and exit 1; bad usage exits 2; a failed start
 * exits 3. SIGHUP reloads (a bad config is refused, the old one keeps running);
 * SIGTERM/SIGINT stop gracefully: MASTERs send priority 0, VIPs are removed, exit 0.
 */
import { defaultConfigId } from '../config/load.js';
import { Daemon, DaemonStartError } from '../daemon/daemon.js';
import { createLogger, isLogLevel, LOG_LEVELS } from '../sys/logger.js';
import { VRRP_UDP_PORT } from '../daemon/vrrp/udp-transport.js';
import { EXIT } from './exit-codes.js';

export interface RunOptions {
  file: string;
  configId?: string;
  transport?: string;
  udpPort?: string | number;
  logLevel?: string;
  socket?: string;
}

export async function runRun(opts: RunOptions): Promise<number> {
  const level = opts.logLevel ?? 'info';
  if (!isLogLevel(level)) {
    process.stderr.write(`vipkeeper run: unknown log level '${level}'; use one of ${LOG_LEVELS.join(', ')}\n`);
    return EXIT.usage;
  }
  const transportKind = opts.transport ?? 'raw';
  if (transportKind !== 'raw' && transportKind !== 'udp') {
    process.stderr.write(`vipkeeper run: unknown transport '${transportKind}'; use raw (VRRP, IP protocol 112) or udp (vipkeeper-only)\n`);
    return EXIT.usage;
  }
  const udpPort = opts.udpPort === undefined ? VRRP_UDP_PORT : Number(opts.udpPort);
  if (!Number.isInteger(udpPort) || udpPort < 1 || udpPort > 65535) {
    process.stderr.write(`vipkeeper run: --udp-port '${String(opts.udpPort)}' is not a port number (1..65535)\n`);
    return EXIT.usage;
  }

  const log = createLogger({ level });
  if (transportKind === 'udp') {
    log.warn({ port: udpPort }, 'VRRP over UDP: vipkeeper-to-vipkeeper only, NOT interoperable with keepalived or routers; every node must use --transport udp');
  }
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  const daemon = new Daemon({
    file: opts.file,
    configId: opts.configId ?? defaultConfigId(),
    transport: transportKind,
    udpPort,
    logLevel: level,
    ...(opts.socket ? { socket: opts.socket } : {}),
    log,
    stopSignals: ['SIGTERM', 'SIGINT'],
    heapGovernor: process.env.VIPKEEPER_HEAP_GOVERNOR !== 'off',
    onFatal: (code, why) => {
      log.error({ code }, `stopping: ${why}`);
      void daemon.stop(why).finally(() => resolveDone(code));
    },
  });

  let stopping = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal: sig }, 'second signal while stopping; exiting now');
      process.exit(EXIT.runtime);
    }
    stopping = true;
    // Stop first, log after: the VRRP worker is told before this thread spends time on anything.
    const stopped = daemon.stop(sig);
    log.info({ signal: sig }, 'signal received, stopping');
    stopped.then(
      () => resolveDone(EXIT.ok),
      (err: unknown) => {
        log.error({ err: (err as Error).message }, 'stop failed');
        resolveDone(EXIT.runtime);
      },
    );
  };
  const onHup = (): void => {
    log.info({ signal: 'SIGHUP' }, 'reloading the config');
    daemon.reload().catch((err: unknown) => log.error({ err: (err as Error)?.message }, 'reload failed; the running config stays'));
  };
  const onRejection = (reason: unknown): void => daemon.onUnhandledRejection(reason);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onHup);
  process.on('unhandledRejection', onRejection);
  // Signal handlers do not keep Node alive; a config without instances must still wait for one.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const cleanup = () => {
    clearInterval(keepAlive);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onHup);
    process.off('unhandledRejection', onRejection);
  };

  try {
    await daemon.start();
  } catch (err) {
    cleanup();
    if (err instanceof DaemonStartError) {
      log.error({}, err.message);
      process.stderr.write(`vipkeeper run: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
  const code = await done;
  cleanup();
  log.info({ code }, 'vipkeeper stopped');
  // Nothing should be left, but never hang on a stray handle after a clean stop.
  setTimeout(() => process.exit(code), 2000).unref();
  return code;
}

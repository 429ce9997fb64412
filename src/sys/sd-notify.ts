/**
 * systemd notification protocol (sd_notify(3)) without libsystemd: one
 * AF_UNIX datagram to $NOTIFY_SOCKET (a path, or '@name' for the abstract
 * namespace), sent from this process so `NotifyAccess=main` works.
 */
import { native } from './addon.js';

/**
 * Send `state` (e.g. 'READY=1', or several 'KEY=value' lines joined by '\n').
 * Returns false when NOTIFY_SOCKET is unset (not running under systemd
 * Type=notify); throws (with `code`, e.g. 'ECONNREFUSED', 'ENOENT') when the
 * send fails. `socketPath` overrides $NOTIFY_SOCKET.
 */
export function sdNotify(state: string, socketPath: string | undefined = process.env['NOTIFY_SOCKET']): boolean {
  if (!socketPath) return false;
  return native().sdNotify(socketPath, state);
}

export const notifyReady = (status?: string): boolean =>
  sdNotify(status === undefined ? 'READY=1' : `READY=1\nSTATUS=${oneLine(status)}`);
export const notifyReloading = (): boolean =>
  sdNotify(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`);
export const notifyStopping = (): boolean => sdNotify('STOPPING=1');
export const notifyStatus = (status: string): boolean => sdNotify(`STATUS=${oneLine(status)}`);
export const notifyWatchdog = (): boolean => sdNotify('WATCHDOG=1');

/**
 * The watchdog interval systemd expects pings within (WATCHDOG_USEC), in
 * milliseconds, or undefined when the watchdog is off or meant for another
 * process (WATCHDOG_PID). Ping at about half of it.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  const pid = env['WATCHDOG_PID'];
  if (pid !== undefined && pid !== '' && Number(pid) !== process.pid) return undefined;
  return usec / 1000;
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

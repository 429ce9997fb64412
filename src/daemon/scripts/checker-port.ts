/**
 * The checker's side of notifications in the main thread: one `Notifier` for the real server and
 * virtual server scripts, the FIFOs that get checker lines, and the mail alerts.
 *
 * - `lvs_notify_fifo` (with `lvs_notify_fifo_script`) is created, run and removed here.
 * - The global `notify_fifo` is owned by the VRRP thread (created with its script before the
 *   checker starts); this thread attaches to it for the `RS`/`VS` lines, as keepalived's checker
 *   process writes the same FIFO as its VRRP process.
 *
 * The FIFOs are those of the config at start (as the VRRP side's): a reload changes the scripts
 * and the alert settings, not which FIFOs are open.
 */
import type { PoolEvent } from '../../check/pool.js';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../sys/logger.js';
import { CheckerEvents, type CheckerAlert } from './checker-events.js';
import { NotifyFifo } from './notify-fifo.js';
import { Notifier } from './notify.js';

export interface CheckerPort {
  onEvent(e: PoolEvent): void;
  setConfig(config: Config): void;
  /** omega's notifications, then waits (bounded) for the scripts and closes the FIFOs. */
  close(): Promise<void>;
}

export async function startCheckerPort(config: Config, log: Logger, alert?: (a: CheckerAlert) => void): Promise<CheckerPort> {
  const fifos: NotifyFifo[] = [];
  const g = config.global;
  if (g.lvs_notify_fifo) {
    const f = g.lvs_notify_fifo;
    const fifo = new NotifyFifo({ path: f.path, ...(f.user ? { user: f.user } : {}), ...(f.group ? { group: f.group } : {}), ...(f.script ? { script: f.script } : {}), logger: log });
    if (await fifo.open()) fifos.push(fifo);
  }
  if (g.notify_fifo && g.notify_fifo.path !== g.lvs_notify_fifo?.path) {
    const fifo = new NotifyFifo({ path: g.notify_fifo.path, attach: true, logger: log });
    if (await fifo.open()) fifos.push(fifo);
  }
  const notifier = new Notifier({ logger: log, fifos });
  const events = new CheckerEvents({ notifier, ...(alert ? { alert } : {}) });
  events.setConfig(config);
  return {
    onEvent: (e) => {
      try {
        events.onEvent(e);
      } catch (err) {
        log.error({ err: (err as Error).message }, 'checker notification failed');
      }
    },
    setConfig: (c) => events.setConfig(c),
    async close() {
      events.stop();
      // omega's scripts have the STOP timeout (1 s); anything still running after is killed.
      let t: NodeJS.Timeout | undefined;
      await Promise.race([notifier.idle(), new Promise((r) => (t = setTimeout(r, 1500)))]);
      clearTimeout(t);
      await notifier.stop();
      await Promise.all(fifos.map((f) => f.close()));
    },
  };
}

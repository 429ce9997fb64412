// The client commands: status, drain, undrain, maintenance, stepdown, reload.
import { formatStatus } from './status-format.js';
import { DaemonUnreachable, getStatus, postCommand, resolveSocket } from '../daemon/control/client.js';
import { EXIT } from './exit-codes.js';

async function guard(fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    process.stderr.write(`vipkeeper: ${e instanceof DaemonUnreachable ? e.message : `error: ${(e as Error).message}`}\n`);
    return EXIT.runtime;
  }
}

/** `--watch` redraws at most this often and at least this rarely. */
export const WATCH_MIN_S = 0.5;
export const WATCH_MAX_S = 3600;

/** The `--watch` interval in seconds, or an error message. */
export function watchInterval(v: string | boolean | undefined): number | string | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true) return 2;
  const n = Number(v.replace(/s$/, ''));
  if (!Number.isFinite(n) || n < WATCH_MIN_S || n > WATCH_MAX_S) return `--watch takes seconds from ${WATCH_MIN_S} to ${WATCH_MAX_S}, not '${v}'`;
  return n;
}

export function runStatus(o: { socket?: string; json?: boolean; watch?: number; count?: number }): Promise<number> {
  return guard(async () => {
    const socket = resolveSocket(o.socket);
    const show = async () => {
      const { body } = await getStatus(socket);
      return o.json ? `${JSON.stringify(body, null, 2)}\n` : formatStatus(body);
    };
    if (o.watch === undefined) {
      process.stdout.write(await show());
      return EXIT.ok;
    }
    // Redraw until interrupted (or --count draws); on a terminal the screen is cleared first, as watch(1) does.
    const tty = process.stdout.isTTY === true;
    let stop = false;
    let wake: (() => void) | undefined;
    const onInt = () => {
      stop = true;
      wake?.();
    };
    process.once('SIGINT', onInt);
    let failed = false;
    try {
      for (let n = 0; !stop && (o.count === undefined || n < o.count); n++) {
        failed = false;
        const text = await show().catch((e: unknown) => ((failed = true), `vipkeeper: ${(e as Error).message}\n`));
        process.stdout.write(`${tty ? '\x1b[H\x1b[2J' : n ? '\n' : ''}Every ${o.watch}s: vipkeeper status    ${new Date().toISOString()}\n\n${text}`);
        if (o.count !== undefined && n + 1 >= o.count) break;
        await new Promise<void>((r) => {
          const t = setTimeout(r, o.watch! * 1000);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
      }
    } finally {
      process.removeListener('SIGINT', onInt);
    }
    return failed ? EXIT.runtime : EXIT.ok;
  });
}

export function runCommand(path: string, body: unknown, o: { socket?: string }): Promise<number> {
  return guard(async () => {
    const { body: r } = await postCommand(resolveSocket(o.socket), path, body);
    (r.ok ? process.stdout : process.stderr).write(`${r.message}\n`);
    return r.ok ? EXIT.ok : EXIT.invalid;
  });
}

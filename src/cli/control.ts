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

export function runStatus(o: { socket?: string; json?: boolean }): Promise<number> {
  return guard(async () => {
    const { body } = await getStatus(resolveSocket(o.socket));
    process.stdout.write(o.json ? `${JSON.stringify(body, null, 2)}\n` : formatStatus(body));
    return EXIT.ok;
  });
}

export function runCommand(path: string, body: unknown, o: { socket?: string }): Promise<number> {
  return guard(async () => {
    const { body: r } = await postCommand(resolveSocket(o.socket), path, body);
    (r.ok ? process.stdout : process.stderr).write(`${r.message}\n`);
    return r.ok ? EXIT.ok : EXIT.invalid;
  });
}

// `vipkeeper cleanup`: removes every VIP of the config from this host. systemd runs it
// after any stop (ExecStopPost), a crash included, so a dead director never keeps
// answering for the VIPs while its peer takes them over.
import { defaultConfigId, loadConfigFile } from '../config/load.js';
import type { Vip } from '../config/schema.js';
import { createAddressOps } from '../net/addresses.js';
import { configLocks, lockHolder } from '../daemon/instance-lock.js';
import { EXIT } from './exit-codes.js';
import { printDiagnostics } from './output.js';

export interface CleanupOptions {
  file: string;
  configId?: string;
}

export async function runCleanup(opts: CleanupOptions): Promise<number> {
  const loaded = loadConfigFile(opts.file, { configId: opts.configId ?? defaultConfigId() });
  if (!loaded.config) {
    printDiagnostics(loaded.diagnostics);
    return EXIT.invalid;
  }
  // The unit runs cleanup after the daemon stopped; run by hand beside a live daemon it would take
  // the VIPs away from a MASTER.
  for (const lock of configLocks(loaded.config, { ipvs: false })) {
    const pid = await lockHolder(lock);
    if (pid !== false) {
      process.stderr.write(`cleanup: ${lock.what} is run by a live vipkeeper${pid ? ` (pid ${pid})` : ''} here; stop it first (its stop removes the VIPs)\n`);
      return EXIT.runtime;
    }
  }
  const ops = createAddressOps();
  let failed = 0;
  let removed = 0;
  for (const [name, inst] of Object.entries(loaded.config.instances)) {
    const vips: Vip[] = [...inst.virtual_ipaddress, ...inst.virtual_ipaddress_excluded];
    const dev = inst.interface;
    if (vips.length === 0) continue;
    if (!dev && vips.some((v) => !v.dev)) {
      process.stderr.write(`cleanup: instance ${name} has no interface; its VIPs without 'dev' are skipped\n`);
    }
    const present = await ops.presentVips(vips, dev ?? '');
    const r = await ops.removeVips(present, dev ?? '');
    removed += present.length - r.errors.length;
    for (const e of r.errors) {
      failed++;
      process.stderr.write(`cleanup: ${name}: cannot remove ${e.vip.address}/${e.vip.prefix}: ${e.message}\n`);
    }
  }
  process.stdout.write(`cleanup: removed ${removed} VIP(s)${failed ? `, ${failed} failed` : ''}\n`);
  return failed ? EXIT.runtime : EXIT.ok;
}

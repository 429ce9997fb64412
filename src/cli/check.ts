import { sortDiagnostics } from '../config/diagnostics.js';
import { loadConfigFile, defaultConfigId } from '../config/load.js';
import { formatSummary, migrationSummary } from '../config/migrate-summary.js';
import { EXIT } from './exit-codes.js';
import { printDiagnostics, summary } from './output.js';

export interface CheckOptions {
  file: string;
  configId?: string;
  json?: boolean;
  /** Check against this host's interfaces and scripts (default on). */
  hostChecks?: boolean;
  /** Also ask the LAN who answers ARP for each DR/TUN VIP (the ARP problem), once. */
  live?: boolean;
}

/**
 * `vipkeeper check`: 0 when valid (warnings allowed), 1 when the file has errors, 3 when it
 * cannot be read. The same loader as `run` and reload, so they never disagree; on top of it,
 * warnings about this host (missing interfaces, scripts that cannot run).
 */
export async function runCheck(opts: CheckOptions): Promise<number> {
  const loaded = loadConfigFile(opts.file, { configId: opts.configId ?? defaultConfigId(), ...(opts.hostChecks === false ? {} : { host: true }) });
  const valid = loaded.config !== undefined;
  const keywords = loaded.format === 'keepalived' && !loaded.unreadable ? migrationSummary(loaded) : undefined;
  if (opts.json) {
    const out = {
      file: opts.file,
      format: loaded.format,
      valid,
      ...(loaded.unreadable ? { unreadable: true } : {}),
      diagnostics: sortDiagnostics(loaded.diagnostics),
      ...(keywords ? { keywords, notActedOn: loaded.unsupported.map(({ path: _p, fields: _f, ...u }) => u) } : {}),
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    printDiagnostics(loaded.diagnostics);
    const what = loaded.format === 'yaml' ? 'vipkeeper YAML' : loaded.format === 'ldirectord' ? 'ldirectord.cf' : 'keepalived.conf';
    const facts = keywords ? `; ${formatSummary(keywords)}` : '';
    if (loaded.unreadable) process.stdout.write(`${opts.file}: not checked: it cannot be read\n`);
    else process.stdout.write(`${opts.file}: ${valid ? 'valid' : 'invalid'} ${what} (${summary(loaded.diagnostics)}${facts})\n`);
  }
  if (loaded.unreadable) return EXIT.runtime;
  if (!valid) return EXIT.invalid;
  if (opts.live && loaded.config) return (await import('./check-live.js')).runLiveArpCheck(loaded.config, opts.json === true);
  return EXIT.ok;
}

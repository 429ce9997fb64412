import { loadConfigFile, defaultConfigId } from '../config/load.js';
import { EXIT } from './exit-codes.js';
import { printDiagnostics, summary } from './output.js';

export interface CheckOptions {
  file: string;
  configId?: string;
  json?: boolean;
}

/** `vipkeeper check`: 0 when valid, 1 when the file has errors. */
export function runCheck(opts: CheckOptions): number {
  const loaded = loadConfigFile(opts.file, { configId: opts.configId ?? defaultConfigId() });
  const valid = loaded.config !== undefined;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ file: opts.file, format: loaded.format, valid, diagnostics: loaded.diagnostics }, null, 2)}\n`);
  } else {
    printDiagnostics(loaded.diagnostics);
    process.stdout.write(`${opts.file}: ${valid ? 'valid' : 'invalid'} ${loaded.format === 'yaml' ? 'vipkeeper YAML' : 'keepalived.conf'} (${summary(loaded.diagnostics)})\n`);
  }
  return valid ? EXIT.ok : EXIT.invalid;
}

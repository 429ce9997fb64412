import { writeFileSync } from 'node:fs';
import { defaultConfigId, loadConfigFile } from '../config/load.js';
import { migrateToYaml } from '../config/migrate.js';
import { EXIT } from './exit-codes.js';
import { printDiagnostics, summary } from './output.js';

export interface MigrateOptions {
  file: string;
  output?: string;
  configId?: string;
  json?: boolean;
}

/** `vipkeeper migrate`: keepalived.conf (or YAML) → our YAML, or the normalized model with --json. */
export function runMigrate(opts: MigrateOptions): number {
  const configId = opts.configId ?? defaultConfigId();
  const loaded = loadConfigFile(opts.file, { configId });
  printDiagnostics(loaded.diagnostics);
  if (!loaded.config) {
    process.stderr.write(`${opts.file}: not migrated (${summary(loaded.diagnostics)})\n`);
    return EXIT.invalid;
  }
  const text = opts.json
    ? `${JSON.stringify(loaded.config, null, 2)}\n`
    : migrateToYaml(loaded.config, opts.file, configId, loaded.unsupported);
  if (opts.output) {
    try {
      writeFileSync(opts.output, text);
    } catch (e) {
      process.stderr.write(`${opts.output}: cannot write: ${(e as Error).message}\n`);
      return EXIT.runtime;
    }
    process.stderr.write(`${opts.file} → ${opts.output} (${summary(loaded.diagnostics)}, ${loaded.unsupported.length} keyword(s) not carried over)\n`);
  } else process.stdout.write(text);
  return EXIT.ok;
}

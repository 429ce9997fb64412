import { statSync } from 'node:fs';
import { writePrivately } from '../sys/private-file.js';
import { defaultConfigId, loadConfigFile } from '../config/load.js';
import { formatSummary, migrateLdirectordToYaml, migrateToYaml, migrationSummary } from '../config/migrate.js';
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
  const facts = loaded.format === 'keepalived' ? ` (${formatSummary(migrationSummary(loaded))})` : '';
  if (!loaded.config) {
    process.stderr.write(`${opts.file}: not migrated (${summary(loaded.diagnostics)})${facts}\n`);
    return loaded.unreadable ? EXIT.runtime : EXIT.invalid;
  }
  const text = opts.json
    ? `${JSON.stringify(loaded.config, null, 2)}\n`
    : loaded.format === 'ldirectord'
      ? migrateLdirectordToYaml(loaded.config, opts.file, loaded)
      : migrateToYaml(loaded.config, opts.file, configId, loaded);
  if (opts.output) {
    try {
      writePrivately(opts.output, text, sourceMode(opts.file));
    } catch (e) {
      process.stderr.write(`${opts.output}: cannot write: ${(e as Error).message}\n`);
      return EXIT.runtime;
    }
    process.stderr.write(`${opts.file} → ${opts.output}: ${summary(loaded.diagnostics)}${facts}\n`);
  } else {
    process.stdout.write(text);
    process.stderr.write(`${opts.file}: ${summary(loaded.diagnostics)}${facts}\n`);
  }
  return EXIT.ok;
}

function sourceMode(file: string): number {
  try {
    return statSync(file).mode & 0o777;
  } catch {
    return 0o600;
  }
}


import { closeSync, fsyncSync, lstatSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
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

/**
 * Writes `text` to `target` the way a file holding auth_pass must be written: mode 0600 (never
 * wider than the source's), all or nothing (a temporary file in the same directory, then
 * rename), and never through a symlink at `target`.
 */
export function writePrivately(target: string, text: string, sourceMode = 0o600): void {
  let existing: ReturnType<typeof lstatSync> | undefined;
  try {
    existing = lstatSync(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (existing?.isSymbolicLink()) throw new Error('it is a symbolic link; give the real path (vipkeeper does not write through symlinks)');
  if (existing && !existing.isFile()) throw new Error('it exists and is not a regular file');
  const mode = 0o600 & sourceMode;
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  // 'wx': O_CREAT|O_EXCL, which also refuses to follow a symlink planted at the temporary name
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, target);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to remove
    }
    throw e;
  }
}

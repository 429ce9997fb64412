// A file that may hold secrets (auth_pass, SMTP credentials) or state that must not be half
// written: mode 0600 or narrower, all or nothing, never through a symlink. `migrate -o` and the
// real-server state file write this way.
import { closeSync, fsyncSync, lstatSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

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

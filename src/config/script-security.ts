// keepalived's script security (notify.c `check_security`), as one pure rule over the stats of a
// script's path, shared by `check` (host-checks.ts, synchronous) and the script runner
// (src/sys/exec.ts, asynchronous): a script run as root is unsafe when the file, or any directory
// from / down to it, is owned by a non-root user or is writable by group or others (a directory
// with the sticky bit, such as /tmp, may be world-writable). A symbolic link as the last component
// is followed and its target checked the same way.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** What the rule needs of one path component's stat. */
export interface ComponentStat {
  uid: number;
  mode: number;
  isDirectory: boolean;
  isFile: boolean;
  isSymbolicLink: boolean;
}

export type Security =
  | { safe: true }
  /** `at` is the component that makes it unsafe (the file or a directory above it). */
  | { safe: false; at: string; why: string }
  /** The path cannot be walked (missing, not a directory on the way, a link loop). */
  | { safe: 'unknown'; why: string };

const S_ISVTX = 0o1000;
const WRITABLE_BY_OTHERS = 0o022;

/** The components to stat for `file`: '/', '/usr', '/usr/bin', '/usr/bin/x'. */
export function components(file: string): string[] {
  const abs = path.resolve('/', file);
  const out = ['/'];
  let acc = '';
  for (const part of abs.split('/').filter(Boolean)) {
    acc += `/${part}`;
    out.push(acc);
  }
  return out;
}

/** The rule for one component (not followed through a link). */
export function componentProblem(p: string, st: ComponentStat): string | undefined {
  if (st.uid !== 0) return `${p} is owned by uid ${st.uid}, not root`;
  const stickyDir = st.isDirectory && (st.mode & S_ISVTX) !== 0;
  if (!stickyDir && (st.mode & WRITABLE_BY_OTHERS) !== 0) {
    return `${p} is writable by ${(st.mode & 0o002) !== 0 ? 'others' : 'its group'} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  }
  return undefined;
}

function fromStats(s: fs.Stats): ComponentStat {
  return { uid: s.uid, mode: s.mode, isDirectory: s.isDirectory(), isFile: s.isFile(), isSymbolicLink: s.isSymbolicLink() };
}

/** The walk, written once for both the synchronous and the asynchronous stat functions. */
function* walk(file: string, depth = 0): Generator<{ op: 'stat' | 'lstat' | 'realpath'; p: string }, Security, unknown> {
  const parts = components(file);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string;
    const last = i === parts.length - 1;
    const r = yield { op: last ? 'lstat' : 'stat', p };
    if (r instanceof Error) return { safe: 'unknown', why: `${p}: ${(r as NodeJS.ErrnoException).code ?? r.message}` };
    const st = r as ComponentStat;
    if (!last && !st.isDirectory) return { safe: 'unknown', why: `${p} is not a directory` };
    if (last && st.isSymbolicLink) {
      if (depth > 8) return { safe: 'unknown', why: `${p}: too many symbolic links` };
      const target = yield { op: 'realpath', p };
      if (target instanceof Error) return { safe: 'unknown', why: `${p}: ${(target as NodeJS.ErrnoException).code ?? target.message}` };
      return yield* walk(target as string, depth + 1);
    }
    if (last && !st.isFile) return { safe: 'unknown', why: `${p} is not a regular file` };
    const problem = componentProblem(p, st);
    if (problem) return { safe: false, at: p, why: problem };
  }
  return { safe: true };
}

/** The security of `file` (an absolute path), read synchronously (for `check`). */
export function scriptSecuritySync(file: string): Security {
  const g = walk(file);
  let step = g.next();
  while (!step.done) {
    const { op, p } = step.value;
    let r: unknown;
    try {
      r = op === 'realpath' ? fs.realpathSync(p) : fromStats(op === 'stat' ? fs.statSync(p) : fs.lstatSync(p));
    } catch (e) {
      r = e instanceof Error ? e : new Error(String(e));
    }
    step = g.next(r);
  }
  return step.value;
}

/** The security of `file` (an absolute path), read asynchronously (for the script runner). */
export async function scriptSecurity(file: string): Promise<Security> {
  const g = walk(file);
  let step = g.next();
  while (!step.done) {
    const { op, p } = step.value;
    let r: unknown;
    try {
      r = op === 'realpath' ? await fs.promises.realpath(p) : fromStats(op === 'stat' ? await fs.promises.stat(p) : await fs.promises.lstat(p));
    } catch (e) {
      r = e instanceof Error ? e : new Error(String(e));
    }
    step = g.next(r);
  }
  return step.value;
}

/** keepalived's default script user when security is on (and the fallback when it is off). */
export const DEFAULT_SCRIPT_USER = 'keepalived_script';

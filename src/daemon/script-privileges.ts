// `run` (start and reload): scripts that will run as another user while this process cannot
// switch to it are logged as an error naming what the unit must grant (see host-privileges.ts),
// instead of each run failing with EPERM. The same users as exec.ts will pick.
import { processIdCaps, scriptPrivilegeProblem, type IdCaps, type Ids } from '../config/host-privileges.js';
import { scriptOwners } from '../config/host-checks.js';
import type { Config } from '../config/schema.js';
import { resolveScriptIds } from '../sys/exec.js';

export interface PrivilegeProblem {
  /** The config path of the first script that runs as this user. */
  path: (string | number)[];
  message: string;
}

export async function scriptPrivilegeProblems(
  config: Config,
  opts: { caps?: IdCaps | undefined; own?: Ids } = { caps: processIdCaps() },
): Promise<PrivilegeProblem[]> {
  const own = opts.own ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const out: PrivilegeProblem[] = [];
  const seen = new Set<string>();
  for (const { path, owner } of scriptOwners(config)) {
    const key = JSON.stringify(owner ?? null);
    if (seen.has(key)) continue;
    seen.add(key);
    const ids = await resolveScriptIds(owner ?? {});
    if ('error' in ids) continue; // an unknown user is reported when the script runs
    const who = owner ? `user '${owner.user}'${owner.group !== undefined ? ` group '${owner.group}'` : ''}` : 'the default script user';
    const message = scriptPrivilegeProblem(who, ids, own, opts.caps);
    if (message) out.push({ path, message });
  }
  return out;
}

// What `vipkeeper check` can say about the config on the host it runs on: interfaces that do not
// exist (an instance's, a VIP's dev, a tracked one), an interface with no address to send adverts
// from, and scripts that do not exist or cannot be executed. Warnings only: the same config may be
// checked on another machine (a build host, CI) before it reaches the director.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lookupGroupSync, lookupUserSync, processIdCaps, scriptPrivilegeProblem } from './host-privileges.js';
import { shellSplit } from './keepalived/shell-split.js';
import type { Config, ScriptSpec } from './schema.js';
import { instanceFamily, type ModelIssue } from './validate.js';

/** What the host checks need to know about the machine; `realHost()` reads this one. */
export interface HostProbe {
  name: string;
  /** undefined when the interface list cannot be read (then nothing is said about interfaces). */
  interfaces(): ReadonlySet<string> | undefined;
  /** Addresses of an interface, of one family. */
  addresses(ifname: string, family: 4 | 6): string[];
  /** Why a script's first word cannot be run, or undefined when it can (or cannot be told). */
  scriptProblem(argv0: string): string | undefined;
  /**
   * Why scripts run as `who` (undefined: the default script user) would fail from this process
   * (a uid change without CAP_SETUID/CAP_SETGID), or undefined.
   */
  scriptPrivilegeProblem?(who: ScriptOwner | undefined): string | undefined;
}

/** Who a script runs as, when set: its own user, else global_defs script_user. */
export interface ScriptOwner {
  user: string;
  group?: string;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function realHost(): HostProbe {
  const nics = os.networkInterfaces();
  return {
    name: os.hostname(),
    interfaces() {
      try {
        return new Set(fs.readdirSync('/sys/class/net'));
      } catch {
        const names = Object.keys(nics);
        return names.length ? new Set(names) : undefined;
      }
    },
    addresses(ifname, family) {
      return (nics[ifname] ?? []).filter((a) => (family === 4 ? a.family === 'IPv4' : a.family === 'IPv6')).map((a) => a.address);
    },
    scriptProblem(argv0) {
      const candidates = argv0.includes('/') ? [argv0] : (process.env.PATH ?? DEFAULT_PATH).split(':').filter(Boolean).map((d) => path.join(d, argv0));
      for (const c of candidates) {
        let st: fs.Stats;
        try {
          st = fs.statSync(c);
        } catch {
          continue;
        }
        if (!st.isFile()) return `${c} is not a file`;
        try {
          fs.accessSync(c, fs.constants.X_OK);
          return undefined;
        } catch {
          return `${c} is not executable`;
        }
      }
      return argv0.includes('/') ? `${argv0} does not exist` : `${argv0} is not found in PATH`;
    },
    scriptPrivilegeProblem(who) {
      const own = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
      let as: { uid: number; gid: number } | undefined;
      let name: string;
      if (who === undefined) {
        // keepalived's default: keepalived_script when it exists, and only root switches to it
        if (own.uid !== 0) return undefined;
        as = lookupUserSync('keepalived_script');
        name = "the default script user 'keepalived_script'";
      } else {
        as = lookupUserSync(who.user);
        const gid = who.group !== undefined ? lookupGroupSync(who.group) : as?.gid;
        if (as && gid !== undefined) as = { uid: as.uid, gid };
        name = `user '${who.user}'${who.group !== undefined ? ` group '${who.group}'` : ''}`;
      }
      return as ? scriptPrivilegeProblem(name, as, own, processIdCaps()) : undefined;
    },
  };
}

/** Every script of the config with who it runs as (undefined: the default script user), first use first. */
export function scriptOwners(config: Config): { path: (string | number)[]; owner: ScriptOwner | undefined }[] {
  const out: { path: (string | number)[]; owner: ScriptOwner | undefined }[] = [];
  const global = config.global.script_user;
  const add = (spec: { user?: string; group?: string } | undefined, p: (string | number)[]) => {
    if (!spec) return;
    const own = spec.user !== undefined ? { user: spec.user, ...(spec.group !== undefined ? { group: spec.group } : {}) } : global;
    out.push({ path: p, owner: own });
  };
  for (const [name, inst] of Object.entries(config.instances)) for (const key of NOTIFY_KEYS) add(inst[key], ['instances', name, key]);
  for (const [name, g] of Object.entries(config.sync_groups)) for (const key of NOTIFY_KEYS) add(g[key], ['sync_groups', name, key]);
  for (const [name, sc] of Object.entries(config.vrrp_scripts)) add(sc.script, ['vrrp_scripts', name, 'script']);
  for (const f of ['notify_fifo', 'vrrp_notify_fifo'] as const) add(config.global[f]?.script, ['global', f, 'script']);
  config.virtual_servers.forEach((vs, i) =>
    vs.real_servers.forEach((rs, j) =>
      rs.checks.forEach((c, k) => {
        if (c.type === 'MISC_CHECK') add(c.misc_path, ['virtual_servers', i, 'real_servers', j, 'checks', k, 'misc_path']);
      }),
    ),
  );
  return out;
}

/** A first word that is shell syntax (`</dev/tcp/…`) is run by /bin/sh, not looked up as a file. */
const SHELL_SYNTAX = /[<>|&;$`(){}*?[\]~]/;

export function hostIssues(config: Config, host: HostProbe): ModelIssue[] {
  const issues: ModelIssue[] = [];
  const warn = (p: (string | number)[], message: string) => issues.push({ severity: 'warning', path: p, message: `on this host (${host.name}): ${message}` });
  const nics = host.interfaces();

  for (const [name, inst] of Object.entries(config.instances)) {
    const at = (...p: (string | number)[]) => ['instances', name, ...p];
    if (nics && inst.interface !== undefined) {
      if (!nics.has(inst.interface)) {
        warn(at('interface'), `there is no interface '${inst.interface}'; vipkeeper run would not start instance ${name} here`);
      } else {
        const family = instanceFamily(inst) ?? 4;
        const configured = inst.unicast_peer.length ? (inst.unicast_src_ip ?? inst.mcast_src_ip) : (inst.mcast_src_ip ?? inst.unicast_src_ip);
        const own = host.addresses(inst.interface, family).filter((a) => family === 4 || /^fe[89ab]/i.test(a));
        if (configured === undefined && own.length === 0) {
          warn(at('interface'), `interface '${inst.interface}' has no ${family === 4 ? 'IPv4' : 'IPv6 link-local'} address to send adverts from; vipkeeper run would not start; add one, or set ${inst.unicast_peer.length ? 'unicast_src_ip' : 'mcast_src_ip'}`);
        }
      }
    }
    if (nics) {
      for (const list of ['virtual_ipaddress', 'virtual_ipaddress_excluded'] as const) {
        inst[list].forEach((vip, i) => {
          const dev = vip.dev ?? inst.interface;
          if (dev !== undefined && !nics.has(dev) && vip.dev !== undefined) {
            warn(at(list, i), `VIP ${vip.address}/${vip.prefix} names dev '${dev}', which does not exist; the VIP cannot be added here`);
          }
        });
      }
      inst.track_interface.forEach((t, i) => {
        if (!nics.has(t.interface)) warn(at('track_interface', i), `tracked interface '${t.interface}' does not exist; it counts as down`);
      });
    }
    for (const key of NOTIFY_KEYS) scriptIssue(inst[key], at(key), key, host, warn);
  }
  for (const [name, g] of Object.entries(config.sync_groups)) {
    for (const key of NOTIFY_KEYS) scriptIssue(g[key], ['sync_groups', name, key], key, host, warn);
  }
  for (const [name, s] of Object.entries(config.vrrp_scripts)) scriptIssue(s.script, ['vrrp_scripts', name, 'script'], `vrrp_script ${name}`, host, warn);
  for (const f of ['notify_fifo', 'vrrp_notify_fifo'] as const) {
    const fifo = config.global[f];
    if (fifo?.script) scriptIssue(fifo.script, ['global', f, 'script'], `${f}_script`, host, warn);
  }
  config.virtual_servers.forEach((vs, i) =>
    vs.real_servers.forEach((rs, j) =>
      rs.checks.forEach((c, k) => {
        if (c.type === 'MISC_CHECK') scriptIssue(c.misc_path, ['virtual_servers', i, 'real_servers', j, 'checks', k, 'misc_path'], 'MISC_CHECK misc_path', host, warn);
      }),
    ),
  );
  // scripts under another user need CAP_SETUID/CAP_SETGID: once per distinct user, at its first script
  if (host.scriptPrivilegeProblem) {
    const seen = new Set<string>();
    for (const { path: p, owner } of scriptOwners(config)) {
      const key = JSON.stringify(owner ?? null);
      if (seen.has(key)) continue;
      seen.add(key);
      const problem = host.scriptPrivilegeProblem(owner);
      if (problem) warn(p, problem);
    }
  }
  return issues;
}

const NOTIFY_KEYS = ['notify_master', 'notify_backup', 'notify_fault', 'notify_stop', 'notify'] as const;

function scriptIssue(spec: ScriptSpec | undefined, at: (string | number)[], what: string, host: HostProbe, warn: (p: (string | number)[], m: string) => void): void {
  if (!spec) return;
  const argv0 = shellSplit(spec.command)[0];
  if (!argv0 || SHELL_SYNTAX.test(argv0)) return;
  const problem = host.scriptProblem(argv0);
  if (problem) warn(at, `${what}: ${problem}; it would fail every time it runs`);
}

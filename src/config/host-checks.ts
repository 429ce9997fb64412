// What `vipkeeper check` can say about the config on the host it runs on: interfaces that do not
// exist (an instance's, a VIP's dev, a tracked one), an interface with no address to send adverts
// from, scripts that do not exist or cannot be executed, scripts keepalived's script security
// refuses (or warns about), and scripts that must switch user in a process that cannot.
// Warnings only: the same config may be checked on another machine (a build host, CI) before it
// reaches the director.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lookupGroupSync, lookupUserSync, processIdCaps, scriptPrivilegeProblem, type IdCaps, type Ids } from './host-privileges.js';
import { shellSplit } from './keepalived/shell-split.js';
import type { Config, ScriptSpec } from './schema.js';
import { DEFAULT_SCRIPT_USER, scriptSecuritySync, type Security } from './script-security.js';
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
  /** The file a script's first word runs (PATH searched), when it exists. */
  scriptFile(argv0: string): string | undefined;
  /** keepalived's script security of that file (src/config/script-security.ts). */
  scriptSecurity(file: string): Security;
  /** uid and primary gid of a user name (or numeric uid), undefined when unknown here. */
  idsOf(user: string): Ids | undefined;
  /** gid of a group name (or numeric gid), undefined when unknown here. */
  gidOf(group: string): number | undefined;
  /** This process's ids, and its CAP_SETUID / CAP_SETGID (undefined when they cannot be read: say nothing). */
  self(): { ids: Ids; caps: IdCaps | undefined };
  /** Why a file cannot be read, or (`secret`) is readable by group or others; undefined when fine. */
  fileProblem?(file: string, secret: boolean): string | undefined;
  /**
   * Whether this process runs in pid 1's network namespace (where the kernel's process events
   * are); undefined when it cannot be told (pid 1's namespace not readable). Optional.
   */
  inInitialNetns?(): boolean | undefined;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function realHost(): HostProbe {
  const nics = os.networkInterfaces();
  return {
    name: os.hostname(),
    inInitialNetns() {
      try {
        return fs.statSync('/proc/self/ns/net').ino === fs.statSync('/proc/1/ns/net').ino;
      } catch {
        return undefined;
      }
    },
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
    scriptFile(argv0) {
      const candidates = argv0.includes('/') ? [path.resolve(argv0)] : (process.env.PATH ?? DEFAULT_PATH).split(':').filter(Boolean).map((d) => path.join(d, argv0));
      return candidates.find((c) => {
        try {
          return fs.statSync(c).isFile();
        } catch {
          return false;
        }
      });
    },
    scriptSecurity: scriptSecuritySync,
    idsOf(user) {
      return /^\d+$/.test(user) ? { uid: Number(user), gid: Number(user) } : lookupUserSync(user);
    },
    gidOf(group) {
      return /^\d+$/.test(group) ? Number(group) : lookupGroupSync(group);
    },
    self() {
      return { ids: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }, caps: processIdCaps() };
    },
    fileProblem(file, secret) {
      let st: fs.Stats;
      try {
        st = fs.statSync(file);
        fs.accessSync(file, fs.constants.R_OK);
      } catch (e) {
        return `${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
      }
      if (!st.isFile()) return `${file} is not a file`;
      if (secret && (st.mode & 0o077) !== 0) return `${file} is readable or writable by ${(st.mode & 0o007) !== 0 ? 'others' : 'its group'} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}); a private key should be 0600 or 0400`;
      return undefined;
    },
  };
}

/** Who a script runs as, when set: its own user, else global_defs script_user. */
export interface ScriptOwner {
  user: string;
  group?: string;
}

/** Every script of the config with who it runs as (undefined: the default script user), first use first. */
export function scriptOwners(config: Config): { path: (string | number)[]; owner: ScriptOwner | undefined }[] {
  const global = config.global.script_user;
  return allScripts(config).map(({ spec, at }) => ({
    path: at,
    owner: spec.user !== undefined ? { user: spec.user, ...(spec.group !== undefined ? { group: spec.group } : {}) } : global,
  }));
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
  }
  // the SSL block: keepalived's checker does not start when it cannot load these
  if (config.ssl !== undefined && host.fileProblem !== undefined) {
    for (const k of ['ca', 'certificate', 'key'] as const) {
      const f = config.ssl[k];
      const problem = f === undefined ? undefined : host.fileProblem(f, k === 'key');
      if (problem !== undefined) warn(['ssl', k], `SSL ${k}: ${problem}${k === 'key' && problem.includes('mode') ? '' : '; SSL_GET checks fail with this'}`);
    }
  }
  const tracked = new Set([...Object.values(config.instances), ...Object.values(config.sync_groups)].flatMap((o) => o.track_process.map((t) => t.name)));
  const firstProcess = Object.keys(config.track_processes).find((n) => tracked.has(n));
  if (firstProcess !== undefined && host.inInitialNetns?.() === false) {
    warn(
      ['track_processes', firstProcess],
      "this process runs outside the initial network namespace, where the kernel's process events are: vipkeeper run opens their socket in the initial one (as root), or else scans /proc every second (said in the log and in vipkeeper status); keepalived here would never see a tracked process die",
    );
  }
  const scripts = new ScriptReport(config, host, warn);
  for (const { spec, at, what } of allScripts(config)) scripts.check(spec, at, what);
  return issues;
}

const NOTIFY_KEYS = ['notify_master', 'notify_backup', 'notify_fault', 'notify_stop', 'notify_deleted', 'notify_master_rx_lower_pri', 'notify'] as const;

/** Every script a config runs, in both threads, with where it is written. */
export function allScripts(config: Config): { spec: ScriptSpec; at: (string | number)[]; what: string }[] {
  const out: { spec: ScriptSpec; at: (string | number)[]; what: string }[] = [];
  const add = (spec: ScriptSpec | undefined, at: (string | number)[], what: string) => {
    if (spec) out.push({ spec, at, what });
  };
  for (const [name, inst] of Object.entries(config.instances)) {
    for (const key of NOTIFY_KEYS) add((inst as unknown as Record<string, ScriptSpec | undefined>)[key], ['instances', name, key], key);
  }
  for (const [name, g] of Object.entries(config.sync_groups)) {
    for (const key of NOTIFY_KEYS) add((g as unknown as Record<string, ScriptSpec | undefined>)[key], ['sync_groups', name, key], key);
  }
  for (const [name, s] of Object.entries(config.vrrp_scripts)) add(s.script, ['vrrp_scripts', name, 'script'], `vrrp_script ${name}`);
  for (const f of ['notify_fifo', 'vrrp_notify_fifo', 'lvs_notify_fifo'] as const) add(config.global[f]?.script, ['global', f, 'script'], `${f}_script`);
  for (const k of ['startup_script', 'shutdown_script'] as const) add(config.global[k], ['global', k], k);
  config.virtual_servers.forEach((vs, i) => {
    add(vs.quorum_up, ['virtual_servers', i, 'quorum_up'], 'quorum_up');
    add(vs.quorum_down, ['virtual_servers', i, 'quorum_down'], 'quorum_down');
    vs.real_servers.forEach((rs, j) => {
      add(rs.notify_up, ['virtual_servers', i, 'real_servers', j, 'notify_up'], 'notify_up');
      add(rs.notify_down, ['virtual_servers', i, 'real_servers', j, 'notify_down'], 'notify_down');
      rs.checks.forEach((c, k) => {
        if (c.type === 'MISC_CHECK') add(c.misc_path, ['virtual_servers', i, 'real_servers', j, 'checks', k, 'misc_path'], 'MISC_CHECK misc_path');
      });
    });
  });
  return out;
}

/** The script findings of one config, each said once per script file or user. */
class ScriptReport {
  private readonly security: boolean;
  private readonly self: { ids: Ids; caps: IdCaps | undefined };
  private readonly said = new Set<string>();
  private readonly defaultUser: { user: string; group?: string | undefined } | 'missing' | undefined;

  constructor(
    private readonly config: Config,
    private readonly host: HostProbe,
    private readonly warn: (p: (string | number)[], m: string) => void,
  ) {
    this.security = config.global.enable_script_security;
    this.self = host.self();
    const su = config.global.script_user;
    if (su) this.defaultUser = { user: su.user, group: su.group };
    else if (host.idsOf(DEFAULT_SCRIPT_USER) !== undefined) this.defaultUser = { user: DEFAULT_SCRIPT_USER };
    else this.defaultUser = this.security ? 'missing' : undefined;
  }

  /** The ids a script runs as (undefined: unknown user or group), as src/sys/exec.ts decides. */
  private runAs(spec: ScriptSpec): { ids: Ids | undefined; who: string } | 'refused' {
    const own = this.self.ids;
    if (own.uid !== 0) return { ids: own, who: `uid ${own.uid}` };
    const who = spec.user !== undefined ? { user: spec.user, group: spec.group } : this.defaultUser;
    if (who === 'missing') return 'refused';
    if (who === undefined) return { ids: own, who: 'root' };
    const name = `user '${who.user}'${who.group !== undefined ? ` group '${who.group}'` : ''}`;
    const user = this.host.idsOf(who.user);
    if (!user || who.group === undefined) return { ids: user, who: name };
    const gid = this.host.gidOf(who.group);
    return { ids: gid === undefined ? undefined : { uid: user.uid, gid }, who: name };
  }

  check(spec: ScriptSpec, at: (string | number)[], what: string): void {
    const argv0 = shellSplit(spec.command)[0];
    const runAs = this.runAs(spec);
    if (runAs === 'refused') {
      this.warn(at, `${what}: would be refused: enable_script_security is on, no script_user is set and user '${DEFAULT_SCRIPT_USER}' does not exist (SECURITY VIOLATION); add 'script_user' or create the user`);
      return;
    }
    if (runAs.ids === undefined) {
      this.warn(at, `${what}: script ${runAs.who} does not exist here; it would fail every time it runs`);
    } else if (!this.said.has(runAs.who)) {
      // The same words as `run` logs (src/daemon/script-privileges.ts): one message, one fix.
      const problem = scriptPrivilegeProblem(runAs.who, runAs.ids, this.self.ids, this.self.caps);
      if (problem) {
        this.said.add(runAs.who);
        this.warn(at, `${what}: ${problem}`);
      }
    }
    if (!argv0 || SHELL_SYNTAX.test(argv0)) return;
    const problem = this.host.scriptProblem(argv0);
    if (problem) {
      this.warn(at, `${what}: ${problem}; it would fail every time it runs`);
      return;
    }
    if (runAs.ids?.uid !== 0) return; // keepalived checks only scripts run as root
    const file = this.host.scriptFile(argv0);
    if (!file) return;
    const sec = this.host.scriptSecurity(file);
    if (sec.safe !== false) return;
    if (this.security) this.warn(at, `${what}: would be refused (SECURITY VIOLATION): it runs as root but ${sec.why}; make the path root-owned and not group/other-writable, or set a non-root 'user'`);
    else this.warn(at, `${what}: SECURITY VIOLATION: it runs as root but ${sec.why}; vipkeeper runs it (enable_script_security is off), but anyone who can write there can run code as root`);
  }
}

// What `vipkeeper check` can say about the config on the host it runs on: interfaces that do not
// exist (an instance's, a VIP's dev, a tracked one), an interface with no address to send adverts
// from, scripts that do not exist or cannot be executed, scripts keepalived's script security
// refuses (or warns about), and scripts that must switch user in a process that cannot.
// Warnings only: the same config may be checked on another machine (a build host, CI) before it
// reaches the director.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { processIdCaps, SCRIPT_CAPS_DROPIN } from './host-privileges.js';
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
  /** uid of a user name (or numeric uid), undefined when unknown here. */
  uidOf(user: string): number | undefined;
  /** This process's uid, and whether it may switch a child to another user (CAP_SETUID and CAP_SETGID). */
  self(): { uid: number; canSwitchUser: boolean };
}

/** CAP_SETGID and CAP_SETUID (host-privileges.ts reads them); true when they cannot be read (say nothing). */
function canSwitchUser(): boolean {
  const caps = processIdCaps();
  return caps === undefined || (caps.setuid && caps.setgid);
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
    uidOf(user) {
      if (/^\d+$/.test(user)) return Number(user);
      try {
        for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
          const f = line.split(':');
          if (f[0] === user && /^\d+$/.test(f[2] ?? '')) return Number(f[2]);
        }
      } catch {
        // no passwd file: unknown
      }
      return undefined;
    },
    self() {
      const uid = process.getuid?.() ?? 0;
      return { uid, canSwitchUser: uid === 0 && canSwitchUser() };
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
  private readonly self: { uid: number; canSwitchUser: boolean };
  private readonly said = new Set<string>();
  private readonly defaultUser: { user: string } | 'missing' | undefined;

  constructor(
    private readonly config: Config,
    private readonly host: HostProbe,
    private readonly warn: (p: (string | number)[], m: string) => void,
  ) {
    this.security = config.global.enable_script_security;
    this.self = host.self();
    const su = config.global.script_user;
    if (su) this.defaultUser = { user: su.user };
    else if (host.uidOf(DEFAULT_SCRIPT_USER) !== undefined) this.defaultUser = { user: DEFAULT_SCRIPT_USER };
    else this.defaultUser = this.security ? 'missing' : undefined;
  }

  /** The uid a script runs as (undefined: unknown user), as src/sys/exec.ts decides. */
  private runAs(spec: ScriptSpec): { uid: number | undefined; user: string } | 'refused' {
    if (this.self.uid !== 0) return { uid: this.self.uid, user: String(this.self.uid) };
    const who = spec.user !== undefined ? { user: spec.user } : this.defaultUser;
    if (who === 'missing') return 'refused';
    if (who === undefined) return { uid: 0, user: 'root' };
    return { uid: this.host.uidOf(who.user), user: who.user };
  }

  check(spec: ScriptSpec, at: (string | number)[], what: string): void {
    const argv0 = shellSplit(spec.command)[0];
    const runAs = this.runAs(spec);
    if (runAs === 'refused') {
      this.warn(at, `${what}: would be refused: enable_script_security is on, no script_user is set and user '${DEFAULT_SCRIPT_USER}' does not exist (SECURITY VIOLATION); add 'script_user' or create the user`);
      return;
    }
    if (runAs.uid === undefined) {
      this.warn(at, `${what}: script user '${runAs.user}' does not exist here; it would fail every time it runs`);
    } else if (runAs.uid !== this.self.uid && !this.self.canSwitchUser && !this.said.has(`user ${runAs.user}`)) {
      this.said.add(`user ${runAs.user}`);
      this.warn(
        at,
        `${what}: runs as user '${runAs.user}', but this process lacks CAP_SETUID/CAP_SETGID, so every such script would fail with EPERM (and a failing MISC_CHECK takes its real server out); under systemd install the drop-in ${SCRIPT_CAPS_DROPIN} (systemd/script-user.conf in the source: CapabilityBoundingSet and AmbientCapabilities CAP_SETUID CAP_SETGID), then systemctl daemon-reload; or set global_defs script_user to the daemon's own user`,
      );
    }
    if (!argv0 || SHELL_SYNTAX.test(argv0)) return;
    const problem = this.host.scriptProblem(argv0);
    if (problem) {
      this.warn(at, `${what}: ${problem}; it would fail every time it runs`);
      return;
    }
    if (runAs.uid !== 0) return; // keepalived checks only scripts run as root
    const file = this.host.scriptFile(argv0);
    if (!file) return;
    const sec = this.host.scriptSecurity(file);
    if (sec.safe !== false) return;
    if (this.security) this.warn(at, `${what}: would be refused (SECURITY VIOLATION): it runs as root but ${sec.why}; make the path root-owned and not group/other-writable, or set a non-root 'user'`);
    else this.warn(at, `${what}: SECURITY VIOLATION: it runs as root but ${sec.why}; vipkeeper runs it (enable_script_security is off), but anyone who can write there can run code as root`);
  }
}

// Third stage of the keepalived importer: keyword tree → vipkeeper model.
// Each block has a table of keyword handlers that write our YAML *input* form; the
// result then goes through the same zod schema and validateConfig as a YAML file,
// so an imported config and its migrated YAML load to deep-equal models.
import { isIP } from 'node:net';
import type { Diagnostic } from '../diagnostics.js';
import { parseCidr, parseVipLine, ConfigSchema, type Config } from '../schema.js';
import { validateConfig } from '../validate.js';
import {
  argText,
  child,
  ImportContext,
  list,
  needArg,
  readBool,
  readInt,
  readIp,
  readPort,
  readScript,
  readSeconds,
  readWeight,
  valueLines,
  type Obj,
  type Path,
  type Unsupported,
} from './context.js';
import { lexKeepalived, lexKeepalivedText, ConfigSyntaxError, type LexOptions } from './lexer.js';
import { buildTree, type KNode } from './tree.js';

type Handler = (ctx: ImportContext, node: KNode, target: Obj, path: Path, state: State) => void;
type Table = Record<string, Handler>;

/** Parse-order facts keepalived acts on (G15). */
interface State {
  scriptsDefined: Map<string, number>; // vrrp_script name → order index of its definition
  trackFilesDefined: Map<string, number>;
  order: number; // running index of top-level blocks
  instancesBeforeGlobal: string[]; // instances declared before a global_defs block
  globalSeen: boolean;
  lateGlobalKeys: Set<string>;
}

// ---------------------------------------------------------------- generic handlers

const int =
  (key: string, min: number, max: number): Handler =>
  (ctx, node, t, path) => {
    const v = readInt(ctx, node, min, max);
    if (v !== undefined) set(ctx, t, path, key, v, node);
  };
const secs =
  (key: string, opts: { min?: number; max?: number } = {}): Handler =>
  (ctx, node, t, path) => {
    const v = readSeconds(ctx, node, opts);
    if (v !== undefined) set(ctx, t, path, key, v, node);
  };
const bool =
  (key: string): Handler =>
  (ctx, node, t, path) => {
    const v = readBool(ctx, node);
    if (v !== undefined) set(ctx, t, path, key, v, node);
  };
const flag =
  (key: string, value: unknown = true): Handler =>
  (ctx, node, t, path) => {
    if (node.args.length) ctx.warn(node.args[0]!.loc, `'${node.keyword}' takes no value; '${argText(node)}' is ignored`);
    set(ctx, t, path, key, value, node);
  };
const str =
  (key: string): Handler =>
  (ctx, node, t, path) => {
    const v = needArg(ctx, node, 'a value');
    if (v !== undefined) set(ctx, t, path, key, v, node);
  };
const ip =
  (key: string): Handler =>
  (ctx, node, t, path) => {
    const v = readIp(ctx, node);
    if (v !== undefined) set(ctx, t, path, key, v, node);
  };
const port =
  (key: string): Handler =>
  (ctx, node, t, path) => {
    const v = readPort(ctx, node);
    if (v !== undefined) set(ctx, t, path, key, v, node);
  };
/** Script keywords: the first one wins, a second is ignored (G16). */
const script =
  (key: string): Handler =>
  (ctx, node, t, path) => {
    if (t[key] !== undefined) {
      ctx.warn(node.loc, `'${node.keyword}' is already specified; keepalived keeps the first and ignores this one`);
      return;
    }
    const v = readScript(ctx, node);
    if (v) set(ctx, t, path, key, v, node);
  };
const enumOf =
  (key: string, values: readonly string[], opts: { caseInsensitive?: boolean } = {}): Handler =>
  (ctx, node, t, path) => {
    const raw = needArg(ctx, node, `one of ${values.join(', ')}`);
    if (raw === undefined) return;
    const v = opts.caseInsensitive ? values.find((x) => x.toLowerCase() === raw.toLowerCase()) : values.find((x) => x === raw);
    if (v === undefined) {
      const ci = values.find((x) => x.toLowerCase() === raw.toLowerCase());
      ctx.error(node.args[0]!.loc, `'${node.keyword}' ${raw} is not valid; use ${ci ? `'${ci}' (keepalived is case-sensitive here)` : `one of ${values.join(', ')}`}`);
      return;
    }
    set(ctx, t, path, key, v, node);
  };
/** `weight N [reverse]` of trackers and FILE_CHECK: weight and weight_reverse. */
const weighted =
  (min: number, max: number): Handler =>
  (ctx, node, t, path) => {
    const w = readWeight(ctx, node, min, max);
    if (w.weight !== undefined) set(ctx, t, path, 'weight', w.weight, node);
    if (w.reverse) t.weight_reverse = true;
  };
const unsupported =
  (block: string, note?: string): Handler =>
  (ctx, node) =>
    ctx.notCarried(node, block, note);
const deprecated =
  (inner: Handler, instead: string): Handler =>
  (ctx, node, t, path, st) => {
    ctx.warn(node.loc, `'${node.keyword}' is deprecated; write '${instead}'`);
    inner(ctx, node, t, path, st);
  };

function set(ctx: ImportContext, t: Obj, path: Path, key: string, value: unknown, node: KNode): void {
  t[key] = value;
  ctx.at([...path, key], node.loc);
}

function walk(ctx: ImportContext, nodes: readonly KNode[], table: Table, target: Obj, path: Path, st: State, block: string): void {
  for (const node of nodes) {
    if (node.anonymous) continue;
    const h = Object.hasOwn(table, node.keyword) ? table[node.keyword] : undefined;
    if (h) h(ctx, node, target, path, st);
    else ctx.unknown(node, block, Object.keys(table));
  }
}

function needBlock(ctx: ImportContext, node: KNode): node is KNode & { children: KNode[] } {
  if (node.children) return true;
  ctx.error(node.loc, `'${node.keyword}' must be followed by a '{ … }' block`);
  return false;
}

/** Adds P2 keywords that we recognise but do not carry over. */
function withUnsupported(table: Table, block: string, names: string[], notes: Record<string, string> = {}): Table {
  for (const n of names) table[n] ??= unsupported(block, notes[n]);
  return table;
}

// ---------------------------------------------------------------- global_defs

const LATE_GLOBAL_KEYS = [
  'vrrp_garp_master_delay', 'vrrp_garp_master_repeat', 'vrrp_garp_master_refresh', 'vrrp_garp_master_refresh_repeat',
  'vrrp_garp_lower_prio_delay', 'vrrp_garp_lower_prio_repeat', 'vrrp_skip_check_adv_addr', 'v3_checksum_as_v2', 'vrrp_down_timer_adverts',
];
// keepalived's built-in values for the keys above, as an instance gets them when global_defs comes later.
const INSTANCE_BUILTIN: Record<string, [string, unknown]> = {
  vrrp_garp_master_delay: ['garp_master_delay', 5],
  vrrp_garp_master_repeat: ['garp_master_repeat', 5],
  vrrp_garp_master_refresh: ['garp_master_refresh', 0],
  vrrp_garp_master_refresh_repeat: ['garp_master_refresh_repeat', 1],
  vrrp_garp_lower_prio_delay: ['garp_lower_prio_delay', 5],
  vrrp_garp_lower_prio_repeat: ['garp_lower_prio_repeat', 5],
  vrrp_skip_check_adv_addr: ['skip_check_adv_addr', false],
  v3_checksum_as_v2: ['v3_checksum_as_v2', false],
  vrrp_down_timer_adverts: ['down_timer_adverts', 3],
};

function fifo(key: string, part: 'path' | 'script'): Handler {
  return (ctx, node, t, path) => {
    const spec = readScript(ctx, node);
    if (!spec) return;
    const f = child(t, key);
    if (part === 'path') {
      f.path = spec.command;
      if (spec.user) f.user = spec.user;
      if (spec.group) f.group = spec.group;
    } else f.script = spec;
    ctx.at([...path, key], node.loc);
  };
}

function positiveGarpInterval(key: string): Handler {
  return (ctx, node, t, path) => {
    const v = readSeconds(ctx, node);
    if (v === undefined) return;
    if (v === 0) {
      // keepalived rejects 0 ("'0' is invalid") and keeps its default, which is also no gap.
      ctx.warn(node.loc, `${node.keyword} '0' is invalid in keepalived (minimum 0.000001) and is ignored; leave it out for no gap`);
      return;
    }
    set(ctx, t, path, key, v, node);
  };
}

const GLOBAL: Table = withUnsupported(
  {
    router_id: str('router_id'),
    notification_email: (ctx, node, t, path) => {
      if (!needBlock(ctx, node)) return;
      const arr = list(t, 'notification_email');
      for (const { tokens } of valueLines(node)) arr.push(...tokens);
      ctx.at([...path, 'notification_email'], node.loc);
    },
    notification_email_from: str('notification_email_from'),
    smtp_server: (ctx, node, t, path) => {
      const host = needArg(ctx, node, 'an address or host name');
      if (host === undefined) return;
      const p = argText(node, 1) !== undefined ? readPort(ctx, node, 1) : 25;
      set(ctx, t, path, 'smtp_server', { host, port: p ?? 25 }, node);
    },
    smtp_connect_timeout: secs('smtp_connect_timeout'),
    smtp_helo_name: str('smtp_helo_name'),
    smtp_alert: bool('smtp_alert'),
    smtp_alert_vrrp: bool('smtp_alert_vrrp'),
    smtp_alert_checker: bool('smtp_alert_checker'),
    vrrp_version: int('vrrp_version', 2, 3),
    vrrp_mcast_group4: ip('vrrp_mcast_group4'),
    vrrp_mcast_group6: ip('vrrp_mcast_group6'),
    vrrp_strict: flag('vrrp_strict'),
    vrrp_skip_check_adv_addr: bool('vrrp_skip_check_adv_addr'),
    vrrp_check_unicast_src: flag('vrrp_check_unicast_src'),
    vrrp_garp_master_delay: secs('vrrp_garp_master_delay'),
    vrrp_garp_master_repeat: int('vrrp_garp_master_repeat', 1, 2 ** 31 - 1),
    vrrp_garp_master_refresh: secs('vrrp_garp_master_refresh'),
    vrrp_garp_master_refresh_repeat: int('vrrp_garp_master_refresh_repeat', 1, 2 ** 31 - 1),
    vrrp_garp_lower_prio_delay: secs('vrrp_garp_lower_prio_delay'),
    vrrp_garp_lower_prio_repeat: int('vrrp_garp_lower_prio_repeat', 1, 2 ** 31 - 1),
    vrrp_garp_interval: positiveGarpInterval('vrrp_garp_interval'),
    vrrp_gna_interval: positiveGarpInterval('vrrp_gna_interval'),
    vrrp_min_garp: bool('vrrp_min_garp'),
    vrrp_down_timer_adverts: int('vrrp_down_timer_adverts', 1, 100),
    vrrp_lower_prio_no_advert: bool('vrrp_lower_prio_no_advert'),
    vrrp_higher_prio_send_advert: bool('vrrp_higher_prio_send_advert'),
    v3_checksum_as_v2: bool('v3_checksum_as_v2'),
    vrrp_startup_delay: secs('vrrp_startup_delay'),
    vrrp_delay_after_boot: secs('vrrp_startup_delay'),
    vrrp_notify_priority_changes: bool('vrrp_notify_priority_changes'),
    // vipkeeper runs the VRRP thread at SCHED_RR 10 unless told otherwise; 0 turns that off here
    // (keepalived has no off value: it is off unless set, and clamps 0 to 1).
    vrrp_rt_priority: int('vrrp_rt_priority', 0, 99),
    script_user: (ctx, node, t, path) => {
      const user = needArg(ctx, node, 'a user name');
      if (user === undefined) return;
      const group = argText(node, 1);
      set(ctx, t, path, 'script_user', { user, ...(group ? { group } : {}) }, node);
    },
    enable_script_security: flag('enable_script_security'),
    notify_fifo: fifo('notify_fifo', 'path'),
    notify_fifo_script: fifo('notify_fifo', 'script'),
    vrrp_notify_fifo: fifo('vrrp_notify_fifo', 'path'),
    vrrp_notify_fifo_script: fifo('vrrp_notify_fifo', 'script'),
    lvs_notify_fifo: fifo('lvs_notify_fifo', 'path'),
    lvs_notify_fifo_script: fifo('lvs_notify_fifo', 'script'),
    lvs_sync_daemon: (ctx, node, t, path) => {
      const iface = needArg(ctx, node, 'an interface');
      if (iface === undefined) return;
      const sd: Obj = { interface: iface };
      const args = node.args.map((a) => a.text);
      for (let i = 1; i < args.length; i++) {
        const k = args[i] as string;
        if (['id', 'maxlen', 'port', 'ttl'].includes(k)) {
          const [min, max] = k === 'id' ? [0, 255] : k === 'ttl' ? [1, 255] : k === 'port' ? [1, 65535] : [1, 65535];
          const v = readInt(ctx, node, min, max, i + 1);
          if (v !== undefined) sd[k] = v;
          i++;
        } else if (k === 'group') {
          const v = readIp(ctx, node, i + 1);
          if (v !== undefined) sd.group = v;
          i++;
        } else if (k === 'inst') {
          sd.instance = args[i + 1];
          i++;
        } else if (sd.instance === undefined) sd.instance = k;
        else ctx.warn(node.args[i]!.loc, `unexpected '${k}' in lvs_sync_daemon`);
      }
      set(ctx, t, path, 'lvs_sync_daemon', sd, node);
    },
    lvs_flush: flag('lvs_flush'),
    lvs_flush_on_stop: flag('lvs_flush_on_stop'),
    lvs_flush_onstop: deprecated(flag('lvs_flush_on_stop'), 'lvs_flush_on_stop'),
    lvs_timeouts: (ctx, node, t, path) => {
      const out: Obj = {};
      const args = node.args.map((a) => a.text);
      for (let i = 0; i < args.length; i += 2) {
        const k = args[i] as string;
        if (!['tcp', 'tcpfin', 'udp'].includes(k)) {
          ctx.error(node.args[i]!.loc, `lvs_timeouts takes tcp, tcpfin and udp, not '${k}'`);
          return;
        }
        const v = readSeconds(ctx, node, {}, i + 1);
        if (v !== undefined) out[k] = v;
      }
      set(ctx, t, path, 'lvs_timeouts', out, node);
    },
    enable_snmp_vrrp: flag('enable_snmp_vrrp'),
    enable_snmp_keepalived: deprecated(flag('enable_snmp_vrrp'), 'enable_snmp_vrrp'),
    enable_snmp_checker: flag('enable_snmp_checker'),
    enable_snmp_rfc: (ctx, node, t, path, st) => {
      flag('enable_snmp_rfcv2')(ctx, node, t, path, st);
      flag('enable_snmp_rfcv3')(ctx, node, t, path, st);
    },
    enable_snmp_rfcv2: flag('enable_snmp_rfcv2'),
    enable_snmp_rfcv3: flag('enable_snmp_rfcv3'),
    enable_traps: flag('enable_traps'),
    snmp_socket: str('snmp_socket'),
  },
  'global_defs',
  [
    'no_email_faults', 'no_checker_emails', 'checker_log_all_failures', 'rs_init_notifies', 'vrrp_garp_extra_if', 'vrrp_vmac_garp_intvl',
    'vrrp_owner_ignore_adverts', 'default_interface', 'dynamic_interfaces', 'disable_local_igmp', 'vmac_prefix', 'vmac_addr_prefix',
    'log_unknown_vrids', 'vrrp_iptables', 'vrrp_ipsets', 'nftables', 'nftables_priority', 'nftables_counters', 'nftables_ifindex',
    'nftables_ipvs', 'nftables_ipvs_priority', 'nftables_ipvs_start_fwmark', 'fifo_write_vrrp_states_on_reload', 'startup_script',
    'startup_script_timeout', 'shutdown_script', 'shutdown_script_timeout', 'snmp_vs_stats_update_interval', 'snmp_rs_stats_update_interval',
    'enable_dbus', 'dbus_service_name', 'dbus_no_interface_name', 'process_names', 'process_name', 'vrrp_process_name',
    'checker_process_name', 'lvs_process_name', 'bfd_process_name', 'vrrp_priority', 'checker_priority', 'bfd_priority',
    'checker_rt_priority', 'bfd_rt_priority', 'vrrp_no_swap', 'checker_no_swap', 'bfd_no_swap',
    'vrrp_cpu_affinity', 'checker_cpu_affinity', 'bfd_cpu_affinity', 'vrrp_rlimit_rttime', 'checker_rlimit_rttime',
    'bfd_rlimit_rttime', 'vrrp_rlimit_rtime', 'checker_rlimit_rtime', 'bfd_rlimit_rtime', 'max_auto_priority',
    'min_auto_priority_delay', 'vrrp_netlink_cmd_rcv_bufs', 'vrrp_netlink_cmd_rcv_bufs_force', 'vrrp_netlink_monitor_rcv_bufs',
    'vrrp_netlink_monitor_rcv_bufs_force', 'lvs_netlink_cmd_rcv_bufs', 'lvs_netlink_cmd_rcv_bufs_force',
    'lvs_netlink_monitor_rcv_bufs', 'lvs_netlink_monitor_rcv_bufs_force', 'process_monitor_rcv_bufs',
    'process_monitor_rcv_bufs_force', 'vrrp_rx_bufs_policy', 'vrrp_rx_bufs_multiplier', 'umask', 'random_seed',
    'reload_check_config', 'reload_time_file', 'reload_repeat', 'reload_file', 'include_check', 'config_save_dir',
    'tmp_config_directory', 'data_use_instance', 'state_dump_file', 'stats_dump_file', 'json_dump_file', 'json_version',
    'use_symlink_paths', 'set_supplementary_groups', 'iproute_usr_dir', 'iproute_etc_dir', 'linkbeat_use_polling',
  ],
  {
    reload_check_config: 'vipkeeper always checks a config before a reload',
    state_dump_file: 'use `vipkeeper status --json`',
    stats_dump_file: 'use `vipkeeper status --json` and /metrics',
    json_dump_file: 'use `vipkeeper status --json`',
    enable_dbus: 'use the status and control API',
  },
);

// ---------------------------------------------------------------- trackers

function trackList(key: string, nameKey: 'interface' | 'name', min: number, max: number): Handler {
  return (ctx, node, t, path, st) => {
    if (!needBlock(ctx, node)) return;
    const arr = list(t, key);
    for (const { tokens, node: line } of valueLines(node)) {
      const [name, ...rest] = tokens as [string, ...string[]];
      const ref: Obj = { [nameKey]: name };
      for (let i = 0; i < rest.length; i++) {
        const w = rest[i];
        if (w === 'weight') {
          const n = rest[i + 1];
          if (n === undefined || !/^-?\d+$/.test(n) || Number(n) < min || Number(n) > max) {
            ctx.error(line.loc, `track weight for '${name}' must be ${min}..${max}, got '${n ?? ''}'`);
          } else ref.weight = Number(n);
          i++;
        } else if (w === 'reverse') ref.reverse = true;
        else if (w === 'noreverse') ref.reverse = false;
        else ctx.warn(line.loc, `unexpected '${w}' after '${name}'; expected weight N [reverse]`);
      }
      if (arr.some((x) => (x as Obj)[nameKey] === name)) {
        ctx.warn(line.loc, `'${name}' is tracked twice; keepalived ignores the second`);
        continue;
      }
      if (key === 'track_script' && st.scriptsDefined.get(name) === undefined) {
        ctx.warn(line.loc, `track_script '${name}' is used before its vrrp_script is defined; keepalived ignores it ("not found"), vipkeeper resolves it`);
      }
      if (key === 'track_file' && st.trackFilesDefined.get(name) === undefined) {
        ctx.warn(line.loc, `track_file '${name}' is used before it is defined; keepalived ignores it, vipkeeper resolves it`);
      }
      ctx.at([...path, key, arr.length], line.loc);
      arr.push(ref);
    }
    ctx.at([...path, key], node.loc);
  };
}

const VRRP_SCRIPT: Table = {
  script: script('script'),
  interval: secs('interval'),
  timeout: secs('timeout'),
  weight: weighted(-253, 253),
  rise: int('rise', 1, 2 ** 31 - 1),
  fall: int('fall', 1, 2 ** 31 - 1),
  user: (ctx, node, t) => {
    const user = needArg(ctx, node, 'a user name');
    if (!user) return;
    t.__user = { user, group: argText(node, 1) };
  },
  init_fail: flag('init_fail'),
};

const TRACK_FILE: Table = {
  file: str('file'),
  weight: weighted(-254, 254),
  init_file: (ctx, node, t, path) => {
    const init: Obj = {};
    for (const a of node.args) {
      if (a.text === 'overwrite') init.overwrite = true;
      else if (/^-?\d+$/.test(a.text)) init.value = Number(a.text);
      else ctx.warn(a.loc, `init_file takes [VALUE] [overwrite], not '${a.text}'`);
    }
    set(ctx, t, path, 'init_file', init, node);
  },
};

const TRACK_PROCESS: Table = {
  process: (ctx, node, t, path) => {
    const name = needArg(ctx, node, 'a process name');
    if (name === undefined) return;
    set(ctx, t, path, 'process', name, node);
    if (node.args.length > 1) t.args = node.args.slice(1).map((a) => a.text);
  },
  param_match: enumOf('param_match', ['initial', 'partial']),
  weight: weighted(-254, 254),
  quorum: int('quorum', 0, 65535),
  quorum_max: int('quorum_max', 0, 65535),
  fork_delay: secs('fork_delay'),
  terminate_delay: secs('terminate_delay'),
  delay: (ctx, node, t, path, st) => {
    secs('fork_delay')(ctx, node, t, path, st);
    secs('terminate_delay')(ctx, node, t, path, st);
  },
  full_command: flag('full_command'),
};

// ---------------------------------------------------------------- sync groups and instances

const NOTIFY: Table = {
  notify_master: script('notify_master'),
  notify_backup: script('notify_backup'),
  notify_fault: script('notify_fault'),
  notify_stop: script('notify_stop'),
  notify: script('notify'),
  smtp_alert: bool('smtp_alert'),
  notify_priority_changes: bool('notify_priority_changes'),
};

const TRACKING: Table = {
  track_interface: trackList('track_interface', 'interface', -253, 253),
  track_script: trackList('track_script', 'name', -253, 253),
  track_file: trackList('track_file', 'name', -254, 254),
  vrrp_track_file: trackList('track_file', 'name', -254, 254),
  track_process: trackList('track_process', 'name', -254, 254),
};

const SYNC_GROUP: Table = withUnsupported(
  {
    group: (ctx, node, t, path) => {
      if (!needBlock(ctx, node)) return;
      const arr = list(t, 'group');
      for (const { tokens, node: line } of valueLines(node)) {
        for (const name of tokens) {
          ctx.at([...path, 'group', arr.length], line.loc);
          arr.push(name);
        }
      }
      ctx.at([...path, 'group'], node.loc);
    },
    ...TRACKING,
    ...NOTIFY,
  },
  'vrrp_sync_group',
  ['track_bfd', 'global_tracking', 'sync_group_tracking_weight'],
);

function vipBlock(key: string): Handler {
  return (ctx, node, t, path) => {
    if (!needBlock(ctx, node)) return;
    const arr = list(t, key);
    for (const { tokens, node: line } of valueLines(node)) {
      const parsed = parseVipLine(tokens);
      if ('error' in parsed) {
        ctx.error(line.loc, `invalid virtual address '${tokens.join(' ')}': ${parsed.error}`);
        continue;
      }
      for (const u of parsed.unknown) ctx.warn(line.loc, `virtual address option '${u}' is not understood and is dropped`);
      if (parsed.vip.scope !== undefined && !['global', 'site', 'link', 'host', 'nowhere'].includes(parsed.vip.scope) && !/^\d+$/.test(parsed.vip.scope)) {
        ctx.error(line.loc, `scope '${parsed.vip.scope}' is not valid; use global, site, link, host or nowhere`);
        continue;
      }
      ctx.at([...path, key, arr.length], line.loc);
      arr.push(parsed.vip);
    }
    ctx.at([...path, key], node.loc);
  };
}

function rawLines(key: string): Handler {
  return (ctx, node, t, path) => {
    if (!needBlock(ctx, node)) return;
    const arr = list(t, key);
    for (const { tokens, node: line } of valueLines(node)) {
      const out = tokens.map((w) => {
        if (key === 'virtual_routes' && w === 'gw') {
          ctx.warn(line.loc, `"gw" in routes is deprecated; written as "via"`);
          return 'via';
        }
        if (key === 'virtual_routes' && w === 'or') {
          ctx.warn(line.loc, `"or" in routes is deprecated; written as "nexthop"`);
          return 'nexthop';
        }
        return w;
      });
      const bad = out.find((w, i) => (out[i - 1] === 'from' || out[i - 1] === 'to' || i === 0) && /^[\d.]+\/\d+$/.test(w) && 'error' in parseCidr(w));
      if (bad) ctx.warn(line.loc, `'${bad}' is not a valid prefix; keepalived rejects this ${key === 'virtual_rules' ? 'rule' : 'route'}`);
      if (key === 'virtual_rules' && !out.some((w) => ['preference', 'pref', 'priority', 'order'].includes(w))) {
        ctx.warn(line.loc, `rule has no preference; keepalived then picks one for it, which is probably not what you want`);
      }
      ctx.at([...path, key, arr.length], line.loc);
      arr.push(out.join(' '));
    }
  };
}

function unicastPeers(): Handler {
  return (ctx, node, t, path) => {
    if (!needBlock(ctx, node)) return;
    const arr = list(t, 'unicast_peer');
    for (const { tokens, node: line } of valueLines(node)) {
      const [addr, ...rest] = tokens as [string, ...string[]];
      if (isIP(addr) === 0) {
        ctx.error(line.loc, `unicast peer '${addr}' is not a valid IP address`);
        continue;
      }
      const peer: Obj = { address: addr };
      for (let i = 0; i < rest.length; i += 2) {
        const k = rest[i] as string;
        const v = rest[i + 1];
        if ((k === 'min_ttl' || k === 'max_ttl') && v !== undefined && /^\d+$/.test(v) && Number(v) <= 255) peer[k] = Number(v);
        else ctx.warn(line.loc, `unexpected '${k}' after unicast peer ${addr}; expected min_ttl N or max_ttl N`);
      }
      ctx.at([...path, 'unicast_peer', arr.length], line.loc);
      arr.push(peer);
    }
  };
}

const AUTH: Table = {
  auth_type: enumOf('auth_type', ['PASS', 'AH']),
  auth_pass: (ctx, node, t, path) => {
    const v = needArg(ctx, node, 'a password');
    if (v === undefined) return;
    if (Buffer.byteLength(v) > 8) ctx.warn(node.loc, `auth_pass is longer than 8 bytes; VRRP uses only the first 8`);
    set(ctx, t, path, 'auth_pass', v, node);
  },
};

const INSTANCE: Table = withUnsupported(
  {
    state: (ctx, node, t, path) => {
      const v = needArg(ctx, node, 'MASTER or BACKUP');
      if (v === undefined) return;
      if (v !== 'MASTER' && v !== 'BACKUP') {
        ctx.error(node.args[0]!.loc, `state '${v}' is not valid; use MASTER or BACKUP (upper case)`);
        return;
      }
      if (t.state === 'MASTER' && v === 'BACKUP') {
        ctx.warn(node.loc, `state BACKUP after state MASTER is ignored by keepalived; the instance stays MASTER`);
        return;
      }
      set(ctx, t, path, 'state', v, node);
    },
    interface: str('interface'),
    virtual_router_id: int('virtual_router_id', 1, 255),
    priority: int('priority', 1, 255),
    advert_int: secs('advert_int'),
    authentication: (ctx, node, t, path, st) => {
      if (!needBlock(ctx, node)) return;
      const a: Obj = {};
      walk(ctx, node.children, AUTH, a, [...path, 'authentication'], st, 'authentication');
      if (a.auth_type === undefined || a.auth_pass === undefined) {
        ctx.warn(node.loc, `authentication needs both auth_type and auth_pass; it is ignored`);
        return;
      }
      set(ctx, t, path, 'authentication', a, node);
    },
    virtual_ipaddress: vipBlock('virtual_ipaddress'),
    virtual_ipaddress_excluded: vipBlock('virtual_ipaddress_excluded'),
    no_virtual_ipaddress: flag('no_virtual_ipaddress'),
    virtual_routes: rawLines('virtual_routes'),
    virtual_rules: rawLines('virtual_rules'),
    nopreempt: flag('nopreempt'),
    preempt: (ctx, node) => ctx.warn(node.loc, `'preempt' is the default and does nothing`),
    preempt_delay: secs('preempt_delay', { max: 1000 }),
    ...TRACKING,
    dont_track_primary: flag('dont_track_primary'),
    unicast_src_ip: ip('unicast_src_ip'),
    unicast_peer: unicastPeers(),
    unicast_ttl: int('unicast_ttl', 0, 255),
    unicast_fault_no_peer: flag('unicast_fault_no_peer'),
    check_unicast_src: flag('check_unicast_src'),
    mcast_src_ip: ip('mcast_src_ip'),
    mcast_dst_ip: ip('mcast_dst_ip'),
    track_src_ip: flag('track_src_ip'),
    version: int('version', 2, 3),
    native_ipv6: (ctx, node) => ctx.warn(node.loc, `'native_ipv6' is deprecated; the family follows the virtual addresses`),
    v3_checksum_as_v2: bool('v3_checksum_as_v2'),
    use_vmac: (ctx, node, t, path) => {
      const v: Obj = {};
      for (const a of node.args) {
        if (/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(a.text)) v.mac = a.text;
        else if (a.text === 'name') continue;
        else if (a.text === 'netlink_notify_msg' || a.text === 'group') ctx.warn(a.loc, `use_vmac option '${a.text}' is not carried over`);
        else v.name ??= a.text;
      }
      set(ctx, t, path, 'use_vmac', v, node);
    },
    vmac_xmit_base: flag('vmac_xmit_base'),
    accept: flag('accept', true),
    no_accept: flag('accept', false),
    strict_mode: bool('strict_mode'),
    skip_check_adv_addr: bool('skip_check_adv_addr'),
    garp_master_delay: secs('garp_master_delay'),
    garp_master_repeat: int('garp_master_repeat', 1, 2 ** 31 - 1),
    garp_master_refresh: secs('garp_master_refresh'),
    garp_master_refresh_repeat: int('garp_master_refresh_repeat', 1, 2 ** 31 - 1),
    garp_lower_prio_delay: secs('garp_lower_prio_delay'),
    garp_lower_prio_repeat: int('garp_lower_prio_repeat', 1, 2 ** 31 - 1),
    down_timer_adverts: int('down_timer_adverts', 1, 100),
    lower_prio_no_advert: bool('lower_prio_no_advert'),
    higher_prio_send_advert: bool('higher_prio_send_advert'),
    promote_secondaries: flag('promote_secondaries'),
    ...NOTIFY,
    notify_deleted: script('notify_deleted'),
    notify_master_rx_lower_pri: script('notify_master_rx_lower_pri'),
    lvs_sync_daemon_interface: (ctx, node, t, _path, st) => {
      const iface = needArg(ctx, node, 'an interface');
      if (iface === undefined) return;
      ctx.warn(node.loc, `lvs_sync_daemon_interface inside vrrp_instance is deprecated; written as global lvs_sync_daemon following this instance`);
      t.__lvs_sync_daemon = { interface: iface, loc: node.loc };
      void st;
    },
  },
  'vrrp_instance',
  [
    'use_vmac_addr', 'use_ipvlan', 'vrf', 'garp_extra_if', 'vmac_garp_intvl', 'owner_ignore_adverts', 'timer_expired_backup',
    'thread_timer_expired', 'auth_hmac', 'kernel_rx_buf_size', 'linkbeat_use_polling', 'debug', 'old_unicast_checksum', 'track_bfd',
  ],
);

// ---------------------------------------------------------------- virtual servers

const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'sh', 'mh', 'dh', 'fo', 'ovf', 'lblcr', 'sed', 'nq', 'twos'];

function lvsMethod(key: string): Handler {
  return (ctx, node, t, path) => {
    const v = needArg(ctx, node, 'NAT, DR or TUN');
    if (v === undefined) return;
    if (v !== 'NAT' && v !== 'DR' && v !== 'TUN') {
      const up = v.toUpperCase();
      ctx.error(node.args[0]!.loc, `'${node.keyword}' ${v} is not valid; use ${['NAT', 'DR', 'TUN'].includes(up) ? `'${up}' (keepalived is case-sensitive here)` : 'NAT, DR or TUN'}`);
      return;
    }
    set(ctx, t, path, key, v, node);
    if (v === 'TUN' && node.args.length > 1) {
      const tun: Obj = {};
      const args = node.args.slice(1).map((a) => a.text);
      for (let i = 0; i < args.length; i++) {
        const a = args[i] as string;
        if (a === 'type') tun.type = args[++i];
        else if (a === 'port') tun.port = Number(args[++i]);
        else if (['nocsum', 'csum', 'remcsum'].includes(a)) tun.csum = a;
        else ctx.warn(node.loc, `unexpected tunnel option '${a}'`);
      }
      t.tunnel = tun;
    }
  };
}

const CHECK_COMMON: Table = {
  connect_ip: ip('connect_ip'),
  connect_port: port('connect_port'),
  bindto: ip('bindto'),
  bind_port: port('bind_port'),
  bind_if: str('bind_if'),
  fwmark: int('fwmark', 0, 2 ** 32 - 1),
  connect_timeout: secs('connect_timeout'),
  retry: int('retry', 0, 2 ** 31 - 1),
  delay_before_retry: secs('delay_before_retry'),
  delay_loop: secs('delay_loop'),
  warmup: secs('warmup'),
  alpha: bool('alpha'),
  log_all_failures: bool('log_all_failures'),
};

const URL: Table = withUnsupported(
  {
    path: str('path'),
    digest: (ctx, node, t, path) => {
      const v = needArg(ctx, node, 'an MD5 digest');
      if (v === undefined) return;
      if (!/^[0-9a-fA-F]{32}$/.test(v)) {
        ctx.error(node.args[0]!.loc, `digest '${v}' is not an MD5 digest of 32 hex digits; compute one with \`genhash\``);
        return;
      }
      set(ctx, t, path, 'digest', v.toLowerCase(), node);
    },
    status_code: (ctx, node, t, path) => {
      const arr = list(t, 'status_code');
      for (const a of node.args) {
        const m = /^(\d{3})(?:-(\d{3}))?$/.exec(a.text);
        if (!m || Number(m[1]) < 100 || Number(m[2] ?? m[1]) > 599) {
          ctx.error(a.loc, `status_code '${a.text}' is not a status code or range like 200-299`);
          continue;
        }
        arr.push(m[2] ? a.text : Number(m[1]));
      }
      ctx.at([...path, 'status_code'], node.loc);
    },
    virtualhost: str('virtualhost'),
    regex: (ctx, node, t, path) => {
      const v = readScript(ctx, node);
      if (v) set(ctx, t, path, 'regex', v.command, node);
    },
    regex_no_match: flag('regex_no_match'),
  },
  'url',
  ['regex_options', 'regex_stack', 'regex_min_offset', 'regex_max_offset'],
);

function urlBlock(): Handler {
  return (ctx, node, t, path, st) => {
    if (!needBlock(ctx, node)) return;
    const arr = list(t, 'url');
    const u: Obj = {};
    const p = [...path, 'url', arr.length];
    ctx.at(p, node.loc);
    walk(ctx, node.children, URL, u, p, st, 'url');
    if (u.path === undefined) {
      ctx.error(node.loc, `url block has no path; add 'path /…'`);
      return;
    }
    arr.push(u);
  };
}

const HTTP: Table = {
  ...CHECK_COMMON,
  nb_get_retry: deprecated(int('retry', 0, 2 ** 31 - 1), 'retry'),
  url: urlBlock(),
  http_protocol: enumOf('http_protocol', ['1.0', '1.0C', '1.1'], { caseInsensitive: true }),
  virtualhost: str('virtualhost'),
  fast_recovery: bool('fast_recovery'),
  enable_sni: bool('enable_sni'),
  sni_name: str('sni_name'),
  tls_compliant: bool('tls_compliant'),
};

const SMTP_HOST: Table = { ...CHECK_COMMON };

const CHECKERS: Record<string, Table> = {
  TCP_CHECK: { ...CHECK_COMMON },
  HTTP_GET: HTTP,
  SSL_GET: HTTP,
  SMTP_CHECK: {
    ...CHECK_COMMON,
    helo_name: str('helo_name'),
    host: (ctx, node, t, path, st) => {
      if (!needBlock(ctx, node)) return;
      ctx.warn(node.loc, `SMTP_CHECK 'host' blocks are deprecated; each becomes its own SMTP_CHECK`);
      const h: Obj = {};
      walk(ctx, node.children, SMTP_HOST, h, path, st, 'host');
      list(t, '__hosts').push({ fields: h, loc: node.loc });
    },
  },
  DNS_CHECK: {
    ...CHECK_COMMON,
    type: enumOf('dns_type', ['A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA', 'RRSIG', 'DNSKEY'], { caseInsensitive: true }),
    name: str('name'),
  },
  MISC_CHECK: {
    ...CHECK_COMMON,
    misc_path: script('misc_path'),
    misc_timeout: secs('misc_timeout'),
    misc_dynamic: flag('misc_dynamic'),
    user: (ctx, node, t) => {
      const user = needArg(ctx, node, 'a user name');
      if (user) t.__user = { user, group: argText(node, 1) };
    },
  },
  UDP_CHECK: {
    ...CHECK_COMMON,
    payload: str('payload'),
    require_reply: (ctx, node, t, path) => set(ctx, t, path, 'require_reply', argText(node) ?? '', node),
    min_reply_length: int('min_reply_length', 0, 65535),
    max_reply_length: int('max_reply_length', 0, 65535),
  },
  PING_CHECK: { ...CHECK_COMMON },
  FILE_CHECK: {
    track_file: str('track_file'),
    weight: weighted(-254, 254),
    dynamic: flag('dynamic'),
  },
};

function checker(kind: string): Handler {
  return (ctx, node, t, path, st) => {
    if (!needBlock(ctx, node)) return;
    const checks = list(t, 'checks');
    const c: Obj = { type: kind };
    const p = [...path, 'checks', checks.length];
    ctx.at(p, node.loc);
    walk(ctx, node.children, CHECKERS[kind] as Table, c, p, st, kind);
    const user = c.__user as { user: string; group?: string } | undefined;
    delete c.__user;
    if (kind === 'MISC_CHECK') {
      if (!c.misc_path) {
        ctx.error(node.loc, `MISC_CHECK has no misc_path; add the script to run`);
        return;
      }
      if (user) c.misc_path = { ...(c.misc_path as Obj), user: user.user, ...(user.group ? { group: user.group } : {}) };
    }
    if ((kind === 'HTTP_GET' || kind === 'SSL_GET') && !Array.isArray(c.url)) {
      ctx.error(node.loc, `${kind} has no url block; keepalived rejects the real server. Add url { path / }`);
      return;
    }
    if (kind === 'FILE_CHECK' && c.track_file === undefined) {
      ctx.error(node.loc, `FILE_CHECK has no track_file`);
      return;
    }
    const hosts = c.__hosts as { fields: Obj; loc: typeof node.loc }[] | undefined;
    delete c.__hosts;
    if (hosts?.length) {
      const [first, ...others] = hosts;
      Object.assign(c, first!.fields);
      checks.push(c);
      for (const h of others) {
        ctx.at([...path, 'checks', checks.length], h.loc);
        const copy: Obj = { ...c, ...h.fields };
        checks.push(copy);
      }
      return;
    }
    checks.push(c);
  };
}

const SERVER_TIMING: Table = {
  connect_timeout: secs('connect_timeout'),
  retry: int('retry', 0, 2 ** 31 - 1),
  delay_before_retry: secs('delay_before_retry'),
  delay_loop: secs('delay_loop'),
  warmup: secs('warmup'),
  alpha: bool('alpha'),
  inhibit_on_failure: bool('inhibit_on_failure'),
  virtualhost: str('virtualhost'),
  smtp_alert: bool('smtp_alert'),
};

const REAL_SERVER: Table = withUnsupported(
  {
    weight: int('weight', 0, 2147483647),
    lvs_method: lvsMethod('lvs_method'),
    uthreshold: int('uthreshold', 0, 2 ** 31 - 1),
    lthreshold: int('lthreshold', 0, 2 ** 31 - 1),
    notify_up: script('notify_up'),
    notify_down: script('notify_down'),
    ...SERVER_TIMING,
    ...Object.fromEntries(Object.keys(CHECKERS).map((k) => [k, checker(k)])),
  },
  'real_server',
  ['snmp_name', 'BFD_CHECK'],
  { BFD_CHECK: 'BFD is not implemented; the real server is checked by its other checkers only' },
);

function serverAddr(ctx: ImportContext, node: KNode, what: string): { address: string; port?: number } | undefined {
  const addr = readIp(ctx, node);
  if (addr === undefined) return undefined;
  if (argText(node, 1) === undefined) return { address: addr };
  const p = readPort(ctx, node, 1);
  if (p === undefined) return undefined;
  if (argText(node, 2) !== undefined) ctx.warn(node.args[2]!.loc, `unexpected '${argText(node, 2)}' after the ${what} port`);
  return { address: addr, port: p };
}

const VIRTUAL_SERVER: Table = withUnsupported(
  {
    lb_algo: enumOf('lb_algo', SCHEDULERS),
    lvs_sched: enumOf('lb_algo', SCHEDULERS),
    lb_kind: lvsMethod('lb_kind'),
    lvs_method: lvsMethod('lb_kind'),
    protocol: enumOf('protocol', ['TCP', 'UDP', 'SCTP'], { caseInsensitive: true }),
    persistence_timeout: (ctx, node, t, path) => {
      if (argText(node) === undefined) set(ctx, t, path, 'persistence_timeout', 360, node);
      else {
        const v = readInt(ctx, node, 0, 2 ** 31 - 1);
        if (v !== undefined) set(ctx, t, path, 'persistence_timeout', v, node);
      }
    },
    persistence_granularity: str('persistence_granularity'),
    persistence_engine: str('persistence_engine'),
    ...SERVER_TIMING,
    omega: flag('omega'),
    alpha: flag('alpha'),
    inhibit_on_failure: flag('inhibit_on_failure'),
    ha_suspend: flag('ha_suspend'),
    ops: flag('ops'),
    ip_family: enumOf('ip_family', ['inet', 'inet6']),
    weight: int('weight', 0, 2147483647),
    quorum: int('quorum', 0, 2 ** 31 - 1),
    hysteresis: int('hysteresis', 0, 2 ** 31 - 1),
    quorum_up: script('quorum_up'),
    quorum_down: script('quorum_down'),
    sorry_server: (ctx, node, t, path) => {
      const s = serverAddr(ctx, node, 'sorry server');
      if (s) set(ctx, t, path, 'sorry_server', { ...((t.sorry_server as Obj) ?? {}), ...s }, node);
    },
    sorry_server_inhibit: (ctx, node, t) => {
      (t.__sorry ??= {}) as Obj;
      (t.__sorry as Obj).inhibit = true;
      void ctx;
      void node;
    },
    sorry_server_lvs_method: (ctx, node, t, path) => {
      const tmp: Obj = {};
      lvsMethod('lvs_method')(ctx, node, tmp, path, undefined as unknown as State);
      if (tmp.lvs_method) ((t.__sorry ??= {}) as Obj).lvs_method = tmp.lvs_method;
    },
    ...Object.fromEntries(['flag-1', 'flag-2', 'flag-3', 'sh-port', 'sh-fallback', 'mh-port', 'mh-fallback'].map((f) => [f, ((ctx, node, t) => {
      const flags = list(t, 'flags');
      if (!flags.includes(f)) flags.push(f);
      void ctx;
      void node;
    }) as Handler])),
    real_server: (ctx, node, t, path, st) => {
      if (!needBlock(ctx, node)) return;
      const rsAddr = serverAddr(ctx, node, 'real server');
      if (!rsAddr) return;
      const arr = list(t, 'real_servers');
      const rs: Obj = { ...rsAddr };
      const p = [...path, 'real_servers', arr.length];
      ctx.at(p, node.loc);
      walk(ctx, node.children, REAL_SERVER, rs, p, st, `real_server ${rsAddr.address}`);
      arr.push(rs);
    },
  },
  'virtual_server',
  ['snmp_name', 'hashed'],
  { hashed: 'legacy ipvsadm flag' },
);

function parseVsgLine(ctx: ImportContext, tokens: string[], line: KNode): Obj | undefined {
  const [first, second, third] = tokens as [string, string?, string?];
  if (first === 'fwmark') {
    const n = second !== undefined && /^\d+$/.test(second) ? Number(second) : undefined;
    if (!n) {
      ctx.error(line.loc, `fwmark in a virtual_server_group needs a number, got '${second ?? ''}'`);
      return undefined;
    }
    const e: Obj = { fwmark: n };
    if (third === 'inet' || third === 'inet6') e.family = third;
    return e;
  }
  const e: Obj = {};
  const range = /^(.+?)-([0-9a-fA-F.:]+)$/.exec(first);
  if (first.includes('/')) {
    const c = parseCidr(first);
    if ('error' in c) {
      ctx.error(line.loc, `invalid address range '${first}': ${c.error}`);
      return undefined;
    }
    e.address = c.address;
    e.prefix = c.prefix;
  } else if (range && isIP(range[1] as string)) {
    const start = range[1] as string;
    const end = range[2] as string;
    let last: string;
    if (isIP(start) === 4) last = end.includes('.') ? end : start.split('.').slice(0, 3).concat(end).join('.');
    else last = end.includes(':') ? end : start.replace(/[0-9a-fA-F]*$/, end);
    if (isIP(last) !== isIP(start)) {
      ctx.error(line.loc, `invalid address range '${first}'; write a.b.c.d-e`);
      return undefined;
    }
    e.address = start;
    e.last = last;
  } else if (isIP(first)) e.address = first;
  else {
    ctx.error(line.loc, `'${first}' is not an address, a range or 'fwmark N'`);
    return undefined;
  }
  if (second !== undefined) {
    if (!/^\d+$/.test(second) || Number(second) > 65535) {
      ctx.error(line.loc, `'${second}' is not a valid port`);
      return undefined;
    }
    e.port = Number(second);
  }
  return e;
}

// ---------------------------------------------------------------- root

const RESERVED_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

function named(ctx: ImportContext, node: KNode, what: string): string | undefined {
  const name = needArg(ctx, node, `a name for the ${what}`);
  if (name !== undefined && RESERVED_NAMES.has(name)) {
    ctx.error(node.args[0]!.loc, `'${name}' cannot be used as a ${what} name; choose another`);
    return undefined;
  }
  return name;
}

function namedBlock(
  section: string,
  what: string,
  table: Table,
  after?: (ctx: ImportContext, name: string, obj: Obj, node: KNode, st: State) => void,
): Handler {
  return (ctx, node, t, _path, st) => {
    const name = named(ctx, node, what);
    if (name === undefined || !needBlock(ctx, node)) return;
    const sec = child(t, section);
    if (Object.hasOwn(sec, name)) ctx.warn(node.loc, `${what} '${name}' is defined twice; the later one replaces the earlier`);
    const obj: Obj = {};
    const p = [section, name];
    ctx.at(p, node.loc);
    walk(ctx, node.children, table, obj, p, st, `${what} ${name}`);
    after?.(ctx, name, obj, node, st);
    sec[name] = obj;
  };
}

const ROOT: Table = withUnsupported(
  {
    global_defs: (ctx, node, t, _path, st) => {
      if (!needBlock(ctx, node)) return;
      const g = child(t, 'global');
      ctx.at(['global'], node.loc);
      walk(ctx, node.children, GLOBAL, g, ['global'], st, 'global_defs');
      for (const k of LATE_GLOBAL_KEYS) {
        if (g[k] !== undefined && st.instancesBeforeGlobal.length) st.lateGlobalKeys.add(k);
      }
      if (st.instancesBeforeGlobal.length && st.lateGlobalKeys.size) {
        ctx.warn(node.loc, `global_defs comes after vrrp_instance ${st.instancesBeforeGlobal.join(', ')}; keepalived does not apply ${[...st.lateGlobalKeys].join(', ')} to them, and neither does the migrated config`);
      }
      st.globalSeen = true;
    },
    vrrp_script: namedBlock('vrrp_scripts', 'vrrp_script', VRRP_SCRIPT, (ctx, name, obj, node, st) => {
      st.scriptsDefined.set(name, st.order++);
      const user = obj.__user as { user: string; group?: string } | undefined;
      delete obj.__user;
      if (obj.script === undefined) {
        ctx.error(node.loc, `vrrp_script ${name} has no script; add 'script "/path/to/check"'`);
        return;
      }
      if (user) obj.script = { ...(obj.script as Obj), user: user.user, ...(user.group ? { group: user.group } : {}) };
    }),
    track_file: namedBlock('track_files', 'track_file', TRACK_FILE, (ctx, name, obj, node, st) => {
      st.trackFilesDefined.set(name, st.order++);
      if (obj.file === undefined) ctx.error(node.loc, `track_file ${name} has no file; add 'file "/path"'`);
    }),
    vrrp_track_file: (ctx, node, t, path, st) => {
      ctx.warn(node.loc, `'vrrp_track_file' is deprecated; write 'track_file'`);
      (ROOT.track_file as Handler)(ctx, node, t, path, st);
    },
    vrrp_track_process: namedBlock('track_processes', 'vrrp_track_process', TRACK_PROCESS, (ctx, name, obj, node) => {
      if (obj.process === undefined) ctx.error(node.loc, `vrrp_track_process ${name} has no process`);
    }),
    vrrp_sync_group: namedBlock('sync_groups', 'vrrp_sync_group', SYNC_GROUP),
    vrrp_instance: namedBlock('instances', 'vrrp_instance', INSTANCE, (ctx, name, obj, node, st) => {
      if (!st.globalSeen) st.instancesBeforeGlobal.push(name);
      if (obj.virtual_router_id === undefined) ctx.error(node.loc, `vrrp_instance ${name} has no virtual_router_id; add one (1..255)`);
      if (obj.state === 'MASTER' && obj.priority === undefined) {
        ctx.warn(node.loc, `vrrp_instance ${name} is state MASTER with no priority; keepalived then makes it the address owner (priority 255), written explicitly`);
        obj.priority = 255;
      }
    }),
    virtual_server_group: (ctx, node, t) => {
      const name = named(ctx, node, 'virtual_server_group');
      if (name === undefined || !needBlock(ctx, node)) return;
      const groups = child(t, 'virtual_server_groups');
      const entries: Obj[] = [];
      ctx.at(['virtual_server_groups', name], node.loc);
      for (const { tokens, node: line } of valueLines(node)) {
        const e = parseVsgLine(ctx, tokens, line);
        if (e) {
          ctx.at(['virtual_server_groups', name, entries.length], line.loc);
          entries.push(e);
        }
      }
      groups[name] = entries;
    },
    virtual_server: (ctx, node, t, _path, st) => {
      if (!needBlock(ctx, node)) return;
      const arr = list(t, 'virtual_servers');
      const vs: Obj = {};
      const p: Path = ['virtual_servers', arr.length];
      ctx.at(p, node.loc);
      const head = argText(node);
      if (head === 'fwmark') {
        const n = readInt(ctx, node, 1, 2 ** 32 - 1, 1);
        if (n === undefined) return;
        vs.fwmark = n;
      } else if (head === 'group') {
        const g = needArg(ctx, node, 'a group name', 1);
        if (g === undefined) return;
        vs.group = g;
      } else {
        const s = serverAddr(ctx, node, 'virtual server');
        if (!s) return;
        Object.assign(vs, s);
      }
      walk(ctx, node.children, VIRTUAL_SERVER, vs, p, st, `virtual_server ${node.args.map((a) => a.text).join(' ')}`);
      finishVirtualServer(ctx, vs, node);
      arr.push(vs);
    },
  },
  'the top level',
  [
    'net_namespace', 'net_namespace_ipvs', 'namespace_with_ipsets', 'instance', 'use_pid_dir', 'child_wait_time', 'linkbeat_use_polling',
    'linkbeat_interfaces', 'interface_up_down_delays', 'track_group', 'static_ipaddress', 'static_routes', 'static_rules',
    'bfd_instance', 'garp_group', 'SSL',
  ],
  {
    net_namespace: 'run vipkeeper inside the namespace instead (ip netns exec, or systemd NetworkNamespacePath=)',
    static_ipaddress: 'configure static addresses in the OS network configuration',
    static_routes: 'configure static routes in the OS network configuration',
    static_rules: 'configure static rules in the OS network configuration',
  },
);

function finishVirtualServer(ctx: ImportContext, vs: Obj, node: KNode): void {
  const sorry = vs.__sorry as Obj | undefined;
  delete vs.__sorry;
  if (sorry && vs.sorry_server) Object.assign(vs.sorry_server as Obj, sorry);
  const what = `virtual server ${node.args.map((a) => a.text).join(' ')}`;
  // keepalived's defaults when these are missing, each logged by keepalived as a config error.
  if (vs.lb_algo === undefined) {
    ctx.warn(node.loc, `${what} has no lb_algo; keepalived uses wlc, written explicitly`);
    vs.lb_algo = 'wlc';
  }
  if (vs.lb_kind === undefined) {
    ctx.warn(node.loc, `${what} has no lb_kind; keepalived uses NAT, written explicitly`);
    vs.lb_kind = 'NAT';
  }
  if (vs.fwmark !== undefined) {
    if (vs.protocol !== undefined) {
      ctx.warn(node.loc, `${what}: protocol is ignored for an fwmark service (keepalived ignores it too)`);
      delete vs.protocol;
    }
  } else if (vs.protocol === undefined) {
    ctx.warn(node.loc, `${what} has no protocol; keepalived then uses UDP, written explicitly. Add 'protocol TCP' if that is what you meant`);
    vs.protocol = 'UDP';
  }
  if ((vs.port === undefined || vs.port === 0) && vs.fwmark === undefined && vs.group === undefined && vs.persistence_timeout === undefined) {
    ctx.warn(node.loc, `${what} has port 0; keepalived forces persistence_timeout 360 for it`);
    vs.persistence_timeout = 360;
  }
}

// ---------------------------------------------------------------- entry points

export interface ImportResult {
  config?: Config; // present when the import has no error
  input: Obj; // the YAML input form before schema defaults
  diagnostics: Diagnostic[];
  unsupported: Unsupported[];
  files: string[];
}

export interface ImportOptions extends LexOptions {}

export function importKeepalivedText(text: string, file: string, opts: ImportOptions): ImportResult {
  return importLexed(() => lexKeepalivedText(text, file, opts), file);
}

export function importKeepalived(path: string, opts: ImportOptions): ImportResult {
  return importLexed(() => lexKeepalived(path, opts), path);
}

function importLexed(lex: () => ReturnType<typeof lexKeepalived>, file: string): ImportResult {
  const ctx = new ImportContext();
  let lexed: ReturnType<typeof lexKeepalived> | undefined;
  try {
    lexed = lex();
  } catch (e) {
    if (e instanceof ConfigSyntaxError) {
      return { input: {}, diagnostics: [{ severity: 'error', loc: e.loc, message: e.message }], unsupported: [], files: [file] };
    }
    throw e;
  }
  ctx.diagnostics.push(...lexed.diagnostics);
  const files = lexed.files;
  // Lines and tree are the bulk of the import's memory (~30 MB at 10,000 real servers): they
  // are let go once walked, so they are not still held while the schema parses a copy.
  let tree: KNode[] | undefined = buildTree(lexed.lines, ctx.diagnostics);
  lexed = undefined;
  const input: Obj = {};
  const st: State = {
    scriptsDefined: new Map(),
    trackFilesDefined: new Map(),
    order: 0,
    instancesBeforeGlobal: [],
    globalSeen: false,
    lateGlobalKeys: new Set(),
  };
  walk(ctx, tree, ROOT, input, [], st, 'the top level');
  tree = undefined;
  finish(ctx, input, st);

  const base = { input, unsupported: ctx.unsupported, files };
  const parsed = ConfigSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const loc = ctx.locOf(issue.path as Path) ?? { file, line: 1, col: 1 };
      ctx.error(loc, `${issue.path.join('.')}: ${issue.message}`);
    }
    return { ...base, diagnostics: ctx.diagnostics };
  }
  for (const i of validateConfig(parsed.data)) {
    const loc = ctx.locOf(i.path) ?? { file, line: 1, col: 1 };
    ctx.diagnostics.push({ severity: i.severity, loc, message: i.message });
  }
  const ok = !ctx.diagnostics.some((d) => d.severity === 'error');
  return { ...base, diagnostics: ctx.diagnostics, ...(ok ? { config: parsed.data } : {}) };
}

/** Whole-config fix-ups that need everything parsed first. */
function finish(ctx: ImportContext, input: Obj, st: State): void {
  const instances = (input.instances ?? {}) as Record<string, Obj>;
  const global = (input.global ?? {}) as Obj;
  for (const [name, inst] of Object.entries(instances)) {
    const lsd = inst.__lvs_sync_daemon as { interface: string; loc: import('../diagnostics.js').SourceLoc } | undefined;
    delete inst.__lvs_sync_daemon;
    if (lsd && global.lvs_sync_daemon === undefined) {
      global.lvs_sync_daemon = { interface: lsd.interface, instance: name };
      input.global = global;
      ctx.at(['global', 'lvs_sync_daemon'], lsd.loc);
    }
    strictFixups(ctx, name, inst, global);
    // G15: an instance declared before global_defs keeps keepalived's built-in values.
    if (st.instancesBeforeGlobal.includes(name)) {
      for (const k of st.lateGlobalKeys) {
        const [ik, builtin] = INSTANCE_BUILTIN[k] as [string, unknown];
        if (inst[ik] === undefined) inst[ik] = builtin;
      }
    }
  }
  // A sync group with no members (e.g. names written without `group { }`) does nothing in keepalived.
  const groups = (input.sync_groups ?? {}) as Record<string, Obj>;
  for (const [name, g] of Object.entries(groups)) {
    if (!Array.isArray(g.group) || g.group.length === 0) {
      const loc = ctx.locOf(['sync_groups', name]);
      if (loc) ctx.warn(loc, `vrrp_sync_group ${name} has no 'group { … }' of members; keepalived ignores it, so it is dropped`);
      delete groups[name];
    }
  }
}

/** keepalived's own corrections, which it logs and applies; we apply them and say so. */
function strictFixups(ctx: ImportContext, name: string, inst: Obj, global: Obj): void {
  const loc = ctx.locOf(['instances', name]);
  if (!loc) return;
  const auth = inst.authentication as Obj | undefined;
  if (auth?.auth_type === 'AH' && inst.state === 'MASTER') {
    ctx.warn(loc, `(${name}) initial state MASTER is incompatible with AH authentication; keepalived clears it, so it starts as BACKUP`);
    inst.state = 'BACKUP';
  }
  const strict = (inst.strict_mode as boolean | undefined) ?? (global.vrrp_strict as boolean | undefined) ?? false;
  if (!strict) return;
  if (inst.authentication) {
    ctx.warn(loc, `(${name}) strict mode does not support authentication; keepalived ignores it, so it is dropped`);
    delete inst.authentication;
  }
  if (inst.state === 'MASTER' && inst.priority !== 255) {
    ctx.warn(loc, `(${name}) in strict mode state MASTER needs priority 255 (address owner); keepalived starts it as BACKUP`);
    inst.state = 'BACKUP';
  }
  const vips = (inst.virtual_ipaddress as Obj[] | undefined) ?? [];
  const v6 = vips.some((v) => isIP(String(v.address)) === 6);
  const version = (inst.version as number | undefined) ?? (v6 ? 3 : ((global.vrrp_version as number | undefined) ?? 2));
  if (inst.accept === true && version === 2) {
    ctx.warn(loc, `(${name}) accept mode does not comply with VRRPv2 (RFC 3768) in strict mode; keepalived resets it to no_accept`);
    inst.accept = false;
  }
}


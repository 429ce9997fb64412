// global_defs: the keepalived importer's table for the global block.
import { argText, child, list, needArg, readInt, readIp, readPort, readScript, readSeconds, useArgs, valueLines, type Obj } from './context.js';
import { bool, flag, garpExtraIf, int, ip, needBlock, script, secs, set, str, table, type Handler, type Table } from './import-handlers.js';

export const LATE_GLOBAL_KEYS = [
  'vrrp_garp_master_delay', 'vrrp_garp_master_repeat', 'vrrp_garp_master_refresh', 'vrrp_garp_master_refresh_repeat',
  'vrrp_garp_lower_prio_delay', 'vrrp_garp_lower_prio_repeat', 'vrrp_skip_check_adv_addr', 'v3_checksum_as_v2', 'vrrp_down_timer_adverts',
];
// keepalived's built-in values for the keys above, as an instance gets them when global_defs comes later.
export const INSTANCE_BUILTIN: Record<string, [string, unknown]> = {
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
    ctx.field(t, key, node.loc);
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

export const GLOBAL: Table = table('global_defs', {
  router_id: str('router_id'),
  notification_email: (ctx, node, t, path) => {
    if (!needBlock(ctx, node)) return;
    const arr = list(t, 'notification_email');
    for (const { tokens } of valueLines(node)) arr.push(...tokens);
    ctx.field(t, 'notification_email', node.loc);
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
  no_email_faults: flag('no_email_faults'),
  no_checker_emails: bool('no_checker_emails'),
  checker_log_all_failures: bool('checker_log_all_failures'),
  vrrp_version: int('vrrp_version', 2, 3),
  vrrp_mcast_group4: ip('vrrp_mcast_group4'),
  vrrp_mcast_group6: ip('vrrp_mcast_group6'),
  vrrp_strict: flag('vrrp_strict'),
  // keepalived's default table is "keepalived"; a bare `nftables` gets vipkeeper's own
  nftables: (ctx, node, t, path) => set(ctx, t, path, 'nftables', argText(node) ?? 'vipkeeper', node),
  nftables_priority: int('nftables_priority', -400, 400),
  nftables_counters: flag('nftables_counters'),
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
  vrrp_garp_extra_if: garpExtraIf('vrrp_garp_extra_if', 1),
  vrrp_owner_ignore_adverts: bool('vrrp_owner_ignore_adverts'),
  default_interface: str('default_interface'),
  startup_script: script('startup_script'),
  startup_script_timeout: int('startup_script_timeout', 1, 1000),
  shutdown_script: script('shutdown_script'),
  shutdown_script_timeout: int('shutdown_script_timeout', 1, 1000),
  vrrp_startup_delay: secs('vrrp_startup_delay'),
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
    useArgs(node);
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
  lvs_timeouts: (ctx, node, t, path) => {
    useArgs(node);
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
  enable_snmp_checker: flag('enable_snmp_checker'),
  enable_snmp_rfc: (ctx, node, t, path, st) => {
    flag('enable_snmp_rfcv2')(ctx, node, t, path, st);
    flag('enable_snmp_rfcv3')(ctx, node, t, path, st);
  },
  enable_snmp_rfcv2: flag('enable_snmp_rfcv2'),
  enable_snmp_rfcv3: flag('enable_snmp_rfcv3'),
  enable_traps: flag('enable_traps'),
  snmp_socket: str('snmp_socket'),
  // always on in vipkeeper: a reload that fails check is refused
  reload_check_config: (_ctx, node) => useArgs(node),
  // applied by the lexer as it reads the includes that follow
  include_check: (_ctx, node) => useArgs(node),
});

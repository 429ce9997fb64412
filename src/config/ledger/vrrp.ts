// The VRRP blocks: vrrp_script, track_file, vrrp_track_process, vrrp_sync_group, vrrp_instance
// and what lies inside an instance (authentication, auth_hmac, a virtual address line).
import { M } from './modules.js';
import { acted, alias, notActed, refused, structural, type Block, type Entry } from './types.js';

const NO_BFD = 'BFD is not implemented: no session is tracked';
/** A runtime gap, not a keyword's: said in the docs table, not warned on every instance. */
const VIP_NOT_TRACKED =
  "a VIP's interface is tracked as keepalived does (down: FAULT, unless no_track); one difference: a VIP deleted by hand is not noticed, the instance stays MASTER without it (keepalived goes to BACKUP unless the VIP has no_track)";
const track = (key: string): string[] => [key, `${key}[].name`, `${key}[].weight`, `${key}[].reverse`];

export const VRRP_SCRIPT: Block = {
  title: 'vrrp_script NAME',
  base: 'vrrp_scripts.*',
  entries: {
    script: acted([M.trackScript, M.exec], ['script', 'script.command', 'script.user', 'script.group']),
    interval: acted(M.trackScript, 'interval'),
    timeout: acted(M.trackScript, 'timeout'),
    weight: acted(M.tracking, ['weight', 'weight_reverse']),
    rise: acted(M.trackScript, 'rise'),
    fall: acted(M.trackScript, 'fall'),
    user: acted([M.trackScript, M.exec], ['script.user', 'script.group'], { note: 'written as the script\'s user and group' }),
    init_fail: acted(M.tracking, 'init_fail'),
  },
};

export const TRACK_FILE: Block = {
  title: 'track_file NAME (also vrrp_track_file)',
  base: 'track_files.*',
  entries: {
    file: acted(M.trackFile, 'file'),
    weight: acted(M.tracking, ['weight', 'weight_reverse']),
    init_file: acted(M.trackFile, ['init_file', 'init_file.value', 'init_file.overwrite']),
  },
};

export const VRRP_TRACK_PROCESS: Block = {
  title: 'vrrp_track_process NAME',
  base: 'track_processes.*',
  entries: {
    process: acted([M.trackProcess, M.processMonitor], ['process', 'args'], {
      note: 'followed through the kernel\'s process events (from the initial network namespace when vipkeeper runs in another; else a /proc poll, warned and shown in status)',
    }),
    param_match: acted(M.trackProcess, 'param_match'),
    weight: acted(M.tracking, ['weight', 'weight_reverse']),
    quorum: acted(M.trackProcess, 'quorum'),
    quorum_max: acted(M.trackProcess, 'quorum_max'),
    fork_delay: acted(M.trackProcess, 'fork_delay'),
    terminate_delay: acted(M.trackProcess, 'terminate_delay'),
    delay: acted(M.trackProcess, ['fork_delay', 'terminate_delay']),
    full_command: acted(M.trackProcess, 'full_command'),
  },
};

/** Notify scripts and tracking, shared by vrrp_sync_group and vrrp_instance. */
const NOTIFY: Record<string, Entry> = {
  notify_master: acted([M.notify, M.exec], ['notify_master', 'notify_master.command', 'notify_master.user', 'notify_master.group']),
  notify_backup: acted([M.notify, M.exec], ['notify_backup', 'notify_backup.command', 'notify_backup.user', 'notify_backup.group']),
  notify_fault: acted([M.notify, M.exec], ['notify_fault', 'notify_fault.command', 'notify_fault.user', 'notify_fault.group']),
  notify_stop: acted([M.notify, M.exec], ['notify_stop', 'notify_stop.command', 'notify_stop.user', 'notify_stop.group']),
  notify: acted([M.notify, M.exec], ['notify', 'notify.command', 'notify.user', 'notify.group']),
  smtp_alert: acted([M.daemon, M.mailer], 'smtp_alert', { note: 'MASTER, BACKUP and FAULT, mailed from the main thread' }),
};

const TRACKING: Record<string, Entry> = {
  track_interface: acted(M.tracking, ['track_interface', 'track_interface[].interface', 'track_interface[].weight', 'track_interface[].reverse']),
  track_script: acted(M.tracking, track('track_script')),
  track_file: acted(M.tracking, track('track_file')),
  track_process: acted(M.tracking, track('track_process')),
  track_bfd: notActed(NO_BFD),
};

export const VRRP_SYNC_GROUP: Block = {
  title: 'vrrp_sync_group NAME',
  base: 'sync_groups.*',
  entries: {
    group: acted(M.vrrpRuntime, ['group', 'group[]']),
    ...TRACKING,
    ...NOTIFY,
    notify_priority_changes: notActed('no MASTER_PRIORITY / BACKUP_PRIORITY line is written for the group (the instances\' own setting still applies)', {
      fields: 'notify_priority_changes',
    }),
    global_tracking: notActed("nothing: keepalived's own deprecated switch, the group's trackers already apply to every member", { deprecated: 'the group\'s own track_* blocks' }),
    sync_group_tracking_weight: notActed('weighted trackers on member instances are still ignored, as without this keyword'),
  },
};

export const AUTHENTICATION: Block = {
  title: 'authentication (in vrrp_instance)',
  base: 'instances.*.authentication',
  entries: {
    auth_type: acted(M.params, 'auth_type', { note: 'PASS only: AH is refused (vipkeeper does not implement IPsec AH)' }),
    auth_pass: acted(M.params, 'auth_pass', { secret: true }),
  },
};

/** keepalived 2.4's HMAC advert trailer. Refused as a block: its keywords are listed for the docs. */
export const AUTH_HMAC: Block = {
  title: 'auth_hmac (in vrrp_instance, keepalived 2.4+)',
  base: 'instances.*',
  entries: {
    key: refused('part of auth_hmac', { secret: true, since: '2.4' }),
    active_key: refused('part of auth_hmac', { since: '2.4' }),
    anti_replay: refused('part of auth_hmac', { since: '2.4' }),
    time_window: refused('part of auth_hmac', { since: '2.4' }),
    mode: refused('part of auth_hmac', { since: '2.4' }),
  },
};

/** The options of one virtual_ipaddress / virtual_ipaddress_excluded line (`10.0.0.1/24 dev eth0 …`). */
export const VIRTUAL_ADDRESS: Block = {
  title: 'a virtual_ipaddress line (ADDRESS[/PREFIX] options)',
  base: 'instances.*.virtual_ipaddress[]',
  entries: {
    dev: acted([M.address, M.addresses], 'dev'),
    brd: acted(M.address, 'brd'),
    broadcast: alias('brd'),
    scope: acted(M.address, 'scope'),
    label: acted(M.address, 'label'),
    peer: acted(M.address, 'peer'),
    home: acted(M.address, 'home'),
    '-nodad': notActed('duplicate address detection is not turned off for the VIP', { fields: 'nodad' }),
    nodad: alias('-nodad'),
    mngtmpaddr: acted(M.address, 'mngtmpaddr'),
    noprefixroute: acted(M.address, 'noprefixroute'),
    autojoin: acted(M.address, 'autojoin'),
    preferred_lft: acted(M.address, 'preferred_lft'),
    no_track: acted(M.vipTracking, 'no_track', {
      note: "the VIP's interface is not tracked (else its going down sends the instance to FAULT, as keepalived); a VIP deleted by hand is not noticed either way",
    }),
    use_vmac: notActed("this VIP gets no VMAC of its own (the instance's use_vmac is acted on)"),
  },
};

export const VRRP_INSTANCE: Block = {
  title: 'vrrp_instance NAME',
  base: 'instances.*',
  entries: {
    state: acted(M.params, 'state'),
    interface: acted(M.params, 'interface'),
    virtual_router_id: acted(M.params, 'virtual_router_id'),
    priority: acted(M.params, 'priority'),
    advert_int: acted(M.params, 'advert_int'),
    version: acted(M.params, 'version'),
    authentication: acted(M.params, 'authentication'),
    auth_hmac: refused(
      "vipkeeper does not implement keepalived's HMAC advert trailer: a keepalived peer in enforce mode would drop this node's adverts and both nodes would be MASTER",
      { since: '2.4' },
    ),
    virtual_ipaddress: acted([M.params, M.address, M.addresses], ['virtual_ipaddress', 'virtual_ipaddress[].address', 'virtual_ipaddress[].prefix'], { note: VIP_NOT_TRACKED }),
    virtual_ipaddress_excluded: acted([M.params, M.address, M.addresses], ['virtual_ipaddress_excluded', 'virtual_ipaddress_excluded[].address', 'virtual_ipaddress_excluded[].prefix'], {
      note: VIP_NOT_TRACKED,
    }),
    no_virtual_ipaddress: acted(M.validate, 'no_virtual_ipaddress', { since: '2.3', note: 'an instance may have no VIP' }),
    virtual_routes: acted([M.extras, M.routes], 'virtual_routes', {
      note: "added after the VIPs on entering MASTER, removed before them on leaving it (protocol 18, as keepalived); a deleted route is not noticed (as if no_track)",
    }),
    virtual_rules: acted([M.extras, M.routes], 'virtual_rules', { note: 'added after the virtual routes on entering MASTER, removed first on leaving it' }),
    nopreempt: acted(M.params, 'nopreempt'),
    preempt: structural(M.importer, undefined, { note: 'the default; it does nothing' }),
    preempt_delay: acted(M.params, 'preempt_delay'),
    ...TRACKING,
    dont_track_primary: acted(M.vrrpRuntime, 'dont_track_primary'),
    track_src_ip: notActed('the instance does not go to FAULT when its source address disappears', { fields: 'track_src_ip' }),
    unicast_src_ip: acted(M.params, 'unicast_src_ip'),
    unicast_peer: acted(M.params, ['unicast_peer', 'unicast_peer[].address', 'unicast_peer[].min_ttl', 'unicast_peer[].max_ttl']),
    unicast_ttl: acted(M.params, 'unicast_ttl'),
    unicast_fault_no_peer: acted(M.params, 'unicast_fault_no_peer'),
    check_unicast_src: acted(M.params, 'check_unicast_src'),
    old_unicast_checksum: notActed('vipkeeper always detects the pre-1.3.6 unicast checksum from the peer; it cannot be forced or turned off'),
    mcast_src_ip: acted(M.params, 'mcast_src_ip'),
    mcast_dst_ip: acted(M.params, 'mcast_dst_ip'),
    native_ipv6: notActed('nothing when the VIPs are IPv6: the family follows the virtual addresses', { deprecated: 'IPv6 virtual addresses' }),
    v3_checksum_as_v2: acted(M.params, 'v3_checksum_as_v2', { since: '2.3' }),
    use_vmac: acted([M.vmac, M.params, M.vmacNet], ['use_vmac', 'use_vmac.name', 'use_vmac.mac'], {
      note: "a private-mode macvlan (default name vrrp.VRID, MAC 00:00:5e:00:01:VRID, IPv6 00:00:5e:00:02:VRID) made at start, removed at stop or when a reload drops or renames it; keepalived's sysctls on it and its parent (the parent's arp_ignore / arp_filter are put back at stop)",
    }),
    use_vmac_addr: notActed("VIPs on other interfaces (or of the other family) get no VMAC of their own; they stay on their interface's MAC"),
    vmac_xmit_base: acted([M.vmac, M.params], 'vmac_xmit_base'),
    use_ipvlan: notActed('no ipvlan interface is created; the VIPs go on the interface itself'),
    vrf: notActed('adverts and VIPs are not put in the VRF'),
    accept: acted(M.extras, 'accept', {
      note: 'no_accept (and strict mode without accept): a MASTER that is not the address owner drops traffic to and from its VIPs with nftables, added right after the VIPs, removed right before them',
    }),
    no_accept: alias('accept'),
    strict_mode: acted([M.params, M.extras], 'strict_mode'),
    skip_check_adv_addr: acted(M.params, 'skip_check_adv_addr'),
    garp_master_delay: acted(M.params, 'garp_master_delay'),
    garp_master_repeat: acted(M.params, 'garp_master_repeat'),
    garp_master_refresh: acted(M.params, 'garp_master_refresh'),
    garp_master_refresh_repeat: acted(M.params, 'garp_master_refresh_repeat'),
    garp_lower_prio_delay: acted(M.params, 'garp_lower_prio_delay'),
    garp_lower_prio_repeat: acted(M.params, 'garp_lower_prio_repeat'),
    garp_extra_if: acted(M.garpExtra, ['garp_extra_if', 'garp_extra_if.interval', 'garp_extra_if.all'], { note: 'one GARP / NA per extra VMAC (with all: per extra interface) every interval while MASTER, as keepalived' }),
    vmac_garp_intvl: alias('garp_extra_if', { deprecated: 'garp_extra_if' }),
    down_timer_adverts: acted(M.params, 'down_timer_adverts'),
    lower_prio_no_advert: acted(M.params, 'lower_prio_no_advert'),
    higher_prio_send_advert: acted(M.params, 'higher_prio_send_advert'),
    owner_ignore_adverts: acted(M.params, 'owner_ignore_adverts', { since: '2.3', note: 'an address owner (priority 255) drops the adverts it receives; on in strict mode' }),
    timer_expired_backup: notActed('a late timer never sends a nopreempt MASTER back to BACKUP', { since: '2.3' }),
    thread_timer_expired: alias('timer_expired_backup', { since: '2.3' }),
    promote_secondaries: acted(M.extras, 'promote_secondaries', { note: "set on the instance's interface at start, put back at stop" }),
    ...NOTIFY,
    notify_deleted: acted([M.notify, M.exec], ['notify_deleted', 'notify_deleted.command', 'notify_deleted.user', 'notify_deleted.group']),
    notify_master_rx_lower_pri: acted([M.notify, M.exec], [
      'notify_master_rx_lower_pri',
      'notify_master_rx_lower_pri.command',
      'notify_master_rx_lower_pri.user',
      'notify_master_rx_lower_pri.group',
    ]),
    notify_priority_changes: acted(M.vrrpRuntime, 'notify_priority_changes'),
    lvs_sync_daemon_interface: structural(M.importer, undefined, {
      deprecated: 'global_defs lvs_sync_daemon',
      note: 'written as the global lvs_sync_daemon following this instance',
    }),
    kernel_rx_buf_size: notActed('the VRRP socket keeps the system default receive buffer'),
    linkbeat_use_polling: notActed('link state comes from netlink, never from polling', { deprecated: 'the top-level linkbeat_use_polling' }),
    debug: notActed('nothing: keepalived does not implement it either'),
  },
};

// The vipkeeper configuration model. One zod schema is the single source of truth:
// it validates YAML input, fills defaults, turns durations into milliseconds, gives the
// TypeScript types (z.output) and emits config/vipkeeper.schema.json (z.toJSONSchema).
// Key names follow keepalived.conf so an operator can map one onto the other by eye.
import { isIP } from 'node:net';
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration.js';

// ---------------------------------------------------------------- primitives

export const Duration = z
  .union([z.number().nonnegative(), z.string().regex(new RegExp(DURATION_PATTERN), 'a duration like 1s, 100ms or 1.5s')])
  .transform((v) => parseDuration(v) as number)
  .meta({ description: 'A duration: "1s", "100ms", "1.5s", "2m"; a bare number means seconds.' });

const Ip = z.string().refine((s) => isIP(s) !== 0, { message: 'an IPv4 or IPv6 address' });
const Port = z.number().int().min(0).max(65535);
const Name = z.string().min(1);
const Bool = z.boolean();

/** A command with an optional user and group to run it as (keepalived: `script "cmd args" [user [group]]`). */
export const Script = z
  .union([
    z.string().min(1),
    z.strictObject({ command: z.string().min(1), user: Name.optional(), group: Name.optional() }),
  ])
  .transform((v) => (typeof v === 'string' ? { command: v } : v))
  .meta({ description: 'A command line, or {command, user, group}. Run with execve when the first word is an executable, else by /bin/sh.' });

const TrackWeight = { weight: z.number().int().min(-254).max(254).optional(), reverse: Bool.optional() };

/** `eth0`, or `{interface: eth0, weight: -20}` (keepalived track_interface lines). */
const TrackInterfaceRef = z
  .union([Name, z.strictObject({ interface: Name, ...TrackWeight })])
  .transform((v) => (typeof v === 'string' ? { interface: v } : v));

/** `chk_nginx`, or `{name: chk_nginx, weight: 10, reverse: true}` (track_script/track_file/track_process lines). */
const TrackNameRef = z
  .union([Name, z.strictObject({ name: Name, ...TrackWeight })])
  .transform((v) => (typeof v === 'string' ? { name: v } : v));

/** keepalived `garp_extra_if [all] SECONDS`: a periodic GARP / NA on the VIPs' other interfaces while MASTER. */
const GarpExtraIf = z
  .strictObject({ interval: Duration, all: Bool.default(false) })
  .meta({ description: 'Every `interval` while MASTER, one gratuitous ARP / NA per VMAC interface (other than the one adverts go on) holding a VIP; with `all`, per interface of any kind. 0 = off.' });

// ---------------------------------------------------------------- VIPs and peers

export const VipSchema = z.strictObject({
  address: Ip,
  prefix: z.number().int().min(0).max(128),
  brd: Ip.optional(),
  dev: Name.optional(),
  scope: z.string().optional(),
  label: z.string().optional(),
  peer: Ip.optional(),
  home: Bool.optional(),
  nodad: Bool.optional(),
  noprefixroute: Bool.optional(),
  mngtmpaddr: Bool.optional(),
  autojoin: Bool.optional(),
  no_track: Bool.optional(),
  preferred_lft: z.union([z.number().int().nonnegative(), z.literal('forever')]).optional(),
});
export type Vip = z.output<typeof VipSchema>;

/** A VIP in the keepalived line syntax: `10.0.0.1/24 dev eth0 label eth0:1`, or the object form. */
export const Vip = z
  .union([z.string().min(1), VipSchema])
  .transform((v, ctx): Vip => {
    if (typeof v !== 'string') return v;
    const parsed = parseVipLine(v.trim().split(/\s+/));
    if ('error' in parsed) {
      ctx.addIssue({ code: 'custom', message: parsed.error });
      return z.NEVER;
    }
    return parsed.vip;
  })
  .meta({ description: 'ADDR[/PREFIX] [dev IF] [brd IP] [scope S] [label L] [peer IP] [no_track] ..., or the object form.' });

const VIP_FLAGS = ['home', 'nodad', 'noprefixroute', 'mngtmpaddr', 'autojoin', 'no_track'] as const;

/** Parses one virtual_ipaddress line (tokens) into a Vip. Shared with the keepalived importer. */
export function parseVipLine(tokens: string[]): { vip: Vip; unknown: string[] } | { error: string } {
  const [first, ...rest] = tokens;
  if (!first) return { error: 'empty address' };
  const addr = parseCidr(first);
  if ('error' in addr) return addr;
  const vip: Vip = { address: addr.address, prefix: addr.prefix };
  const unknown: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const tok = rest[i] as string;
    const next = rest[i + 1];
    const takeValue = (): string | undefined => {
      i++;
      return next;
    };
    switch (tok) {
      case 'dev':
      case 'scope':
      case 'label': {
        const v = takeValue();
        if (v === undefined) return { error: `'${tok}' needs a value` };
        vip[tok] = v;
        break;
      }
      case 'brd':
      case 'broadcast':
      case 'peer': {
        const v = takeValue();
        if (v === undefined || isIP(v) === 0) return { error: `'${tok}' needs an IP address, got '${v ?? ''}'` };
        vip[tok === 'peer' ? 'peer' : 'brd'] = v;
        break;
      }
      case 'preferred_lft': {
        const v = takeValue();
        if (v === 'forever') vip.preferred_lft = 'forever';
        else if (v !== undefined && /^\d+$/.test(v)) vip.preferred_lft = Number(v);
        else return { error: `'preferred_lft' needs a number or 'forever', got '${v ?? ''}'` };
        break;
      }
      case '-nodad':
        vip.nodad = true;
        break;
      default:
        if ((VIP_FLAGS as readonly string[]).includes(tok)) vip[tok as (typeof VIP_FLAGS)[number]] = true;
        else unknown.push(tok);
    }
  }
  return { vip, unknown };
}

/** `10.0.0.1/24` → address and prefix; the default prefix is the full length, as keepalived's. */
export function parseCidr(text: string): { address: string; prefix: number; family: 4 | 6 } | { error: string } {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const fam = isIP(address);
  if (fam === 0) return { error: `'${address}' is not a valid IPv4 or IPv6 address` };
  const family = fam as 4 | 6;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { address, prefix: max, family };
  const p = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > max) return { error: `'/${p}' is not a valid prefix for ${address} (0..${max})` };
  return { address, prefix: Number(p), family };
}

const UnicastPeer = z
  .union([
    Ip,
    z.strictObject({ address: Ip, min_ttl: z.number().int().min(0).max(255).optional(), max_ttl: z.number().int().min(0).max(255).optional() }),
  ])
  .transform((v) => (typeof v === 'string' ? { address: v } : v));

// ---------------------------------------------------------------- global

const Fifo = z.strictObject({ path: z.string().min(1), user: Name.optional(), group: Name.optional(), script: Script.optional() });

export const GlobalSchema = z.strictObject({
  router_id: z.string().optional(),
  notification_email: z.array(z.string()).default([]),
  notification_email_from: z.string().optional(),
  smtp_server: z.strictObject({ host: z.string().min(1), port: Port.default(25) }).optional(),
  smtp_connect_timeout: Duration.prefault('30s'),
  smtp_helo_name: z.string().optional(),
  smtp_alert: Bool.default(false),
  smtp_alert_vrrp: Bool.optional(),
  smtp_alert_checker: Bool.optional(),
  no_email_faults: Bool.default(false).meta({ description: 'No mail for a VRRP instance or group entering FAULT.' }),
  no_checker_emails: Bool.default(false).meta({ description: "Mail a real server's changes only, not each checker's change while the real server's state stays." }),
  checker_log_all_failures: Bool.default(false).meta({ description: 'Log every failed check attempt of every checker (as log_all_failures on each).' }),

  vrrp_version: z.union([z.literal(2), z.literal(3)]).default(2),
  vrrp_mcast_group4: Ip.default('224.0.0.18'),
  vrrp_mcast_group6: Ip.default('ff02::12'),
  vrrp_strict: Bool.default(false),
  nftables: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]{0,31}$/, 'a letter, then up to 31 letters, digits or _')
    .default('vipkeeper')
    .meta({ description: "The nftables table (ip and ip6) of the no_accept drop rules; vipkeeper's own, not keepalived's." }),
  nftables_priority: z.number().int().min(-400).max(400).default(-1),
  nftables_counters: Bool.default(false),
  vrrp_skip_check_adv_addr: Bool.default(false),
  vrrp_check_unicast_src: Bool.default(false),
  vrrp_garp_master_delay: Duration.prefault('5s'),
  vrrp_garp_master_repeat: z.number().int().min(1).default(5),
  vrrp_garp_master_refresh: Duration.prefault('0s'),
  vrrp_garp_master_refresh_repeat: z.number().int().min(1).default(1),
  vrrp_garp_lower_prio_delay: Duration.optional(),
  vrrp_garp_lower_prio_repeat: z.number().int().min(1).optional(),
  vrrp_garp_interval: Duration.prefault('0s'),
  vrrp_gna_interval: Duration.prefault('0s'),
  vrrp_min_garp: Bool.default(false),
  vrrp_down_timer_adverts: z.number().int().min(1).max(100).default(3),
  vrrp_lower_prio_no_advert: Bool.optional(),
  // Default on, unlike keepalived (off): when a partition heals, the MASTER that yields sends one
  // advert on the way out, so the winner sees it and re-announces its VIPs (GARP/NA); otherwise a
  // client that followed the loser's GARP keeps its stale ARP entry (keepalived #166).
  vrrp_higher_prio_send_advert: Bool.default(true),
  v3_checksum_as_v2: Bool.default(false),
  vrrp_garp_extra_if: GarpExtraIf.optional(),
  vrrp_owner_ignore_adverts: Bool.default(false),
  default_interface: Name.default('eth0').meta({ description: "The interface of a static_ipaddress line without dev (keepalived's default eth0)." }),
  startup_script: Script.optional().meta({ description: 'Run before anything starts; the start waits for it (or its timeout).' }),
  startup_script_timeout: Duration.prefault('10s'),
  shutdown_script: Script.optional().meta({ description: 'Run once everything has stopped; the exit waits for it (or its timeout).' }),
  shutdown_script_timeout: Duration.prefault('10s'),
  vrrp_startup_delay: Duration.prefault('0s'),
  vrrp_notify_priority_changes: Bool.default(false),
  vrrp_rt_priority: z
    .number()
    .int()
    .min(0)
    .max(99)
    .default(10)
    .meta({
      description:
        'SCHED_RR priority of the VRRP thread (keepalived vrrp_rt_priority), so adverts keep time on a busy machine; 0 = normal scheduling. Needs CAP_SYS_NICE or RLIMIT_RTPRIO; without it vipkeeper warns and runs unprioritised.',
    }),

  script_user: z.strictObject({ user: Name, group: Name.optional() }).optional(),
  enable_script_security: Bool.default(false),
  notify_fifo: Fifo.optional(),
  vrrp_notify_fifo: Fifo.optional(),
  lvs_notify_fifo: Fifo.optional(),

  lvs_sync_daemon: z
    .strictObject({
      interface: Name,
      instance: Name.optional(),
      id: z.number().int().min(0).max(255).optional(),
      maxlen: z.number().int().positive().optional(),
      port: Port.optional(),
      ttl: z.number().int().min(1).max(255).optional(),
      group: Ip.optional(),
    })
    .optional(),
  lvs_flush: Bool.default(false),
  lvs_flush_on_stop: Bool.default(false),
  lvs_timeouts: z.strictObject({ tcp: Duration.optional(), tcpfin: Duration.optional(), udp: Duration.optional() }).optional(),

  enable_snmp_vrrp: Bool.default(false),
  enable_snmp_checker: Bool.default(false),
  enable_snmp_rfcv2: Bool.default(false),
  enable_snmp_rfcv3: Bool.default(false),
  enable_traps: Bool.default(false),
  snmp_socket: z.string().optional(),
});

// ---------------------------------------------------------------- VRRP

const Weight253 = z.number().int().min(-253).max(253);

export const VrrpScriptSchema = z.strictObject({
  script: Script,
  interval: Duration.prefault('1s'),
  timeout: Duration.optional().meta({ description: 'Kill the script after this long; defaults to interval.' }),
  weight: Weight253.default(0),
  weight_reverse: Bool.default(false),
  rise: z.number().int().min(1).default(1),
  fall: z.number().int().min(1).default(1),
  init_fail: Bool.default(false),
});

export const TrackFileSchema = z.strictObject({
  file: z.string().min(1),
  weight: z.number().int().min(-254).max(254).default(1),
  weight_reverse: Bool.default(false),
  init_file: z.strictObject({ value: z.number().int().default(0), overwrite: Bool.default(false) }).optional(),
});

export const TrackProcessSchema = z
  .strictObject({
    process: z.string().min(1).meta({ description: "The process name as the kernel's comm (15 characters at most), or argv[0] with full_command, args or a param_match other than exact." }),
    args: z.array(z.string()).optional().meta({ description: 'Arguments to match (after argv[0]); [] with param_match exact: only when run without arguments.' }),
    param_match: z.enum(['exact', 'initial', 'partial']).default('exact').meta({ description: 'With args: exact (these arguments only), partial (these first), initial (these first, the last a prefix).' }),
    full_command: Bool.default(false),
    weight: z.number().int().min(-254).max(254).default(0),
    weight_reverse: Bool.default(false),
    quorum: z.number().int().min(0).default(1).meta({ description: 'Fewest matching processes for the tracker to be up.' }),
    quorum_max: z.number().int().min(0).optional().meta({ description: 'Most matching processes for the tracker to be up; 0: up only while none runs.' }),
    fork_delay: Duration.optional().meta({ description: 'Delay before quorum gained through a fork counts.' }),
    terminate_delay: Duration.optional().meta({ description: 'Delay before quorum lost through a process exit counts.' }),
  })
  .meta({ description: 'keepalived vrrp_track_process: followed through the kernel\'s process events.' });

const Notify = {
  notify_master: Script.optional(),
  notify_backup: Script.optional(),
  notify_fault: Script.optional(),
  notify_stop: Script.optional(),
  notify: Script.optional(),
  smtp_alert: Bool.optional(),
  notify_priority_changes: Bool.optional(),
};

const Tracking = {
  track_interface: z.array(TrackInterfaceRef).default([]),
  track_script: z.array(TrackNameRef).default([]),
  track_file: z.array(TrackNameRef).default([]),
  track_process: z.array(TrackNameRef).default([]),
};

export const SyncGroupSchema = z.strictObject({
  group: z.array(Name).min(1),
  ...Tracking,
  ...Notify,
});

export const InstanceSchema = z.strictObject({
  state: z.enum(['MASTER', 'BACKUP']).default('BACKUP'),
  interface: Name.optional(),
  virtual_router_id: z.number().int().min(1).max(255),
  priority: z.number().int().min(1).max(255).default(100),
  advert_int: Duration.prefault('1s'),
  version: z.union([z.literal(2), z.literal(3)]).optional().meta({ description: 'Defaults to global vrrp_version; IPv6 is always 3.' }),
  authentication: z.strictObject({ auth_type: z.enum(['PASS', 'AH']), auth_pass: z.string().min(1) }).optional(),
  virtual_ipaddress: z.array(Vip).default([]),
  virtual_ipaddress_excluded: z.array(Vip).default([]),
  no_virtual_ipaddress: Bool.default(false),
  virtual_routes: z.array(z.string()).default([]).meta({ description: 'Routes added while MASTER, in `ip route` syntax.' }),
  virtual_rules: z.array(z.string()).default([]).meta({ description: 'Policy rules added while MASTER, in `ip rule` syntax.' }),
  nopreempt: Bool.default(false),
  preempt_delay: Duration.prefault('0s'),
  ...Tracking,
  dont_track_primary: Bool.default(false),
  unicast_src_ip: Ip.optional(),
  unicast_peer: z.array(UnicastPeer).default([]),
  unicast_ttl: z.number().int().min(0).max(255).optional(),
  unicast_fault_no_peer: Bool.default(false),
  check_unicast_src: Bool.optional(),
  mcast_src_ip: Ip.optional(),
  mcast_dst_ip: Ip.optional(),
  track_src_ip: Bool.default(false),
  use_vmac: z.strictObject({ name: Name.optional(), mac: z.string().optional() }).optional(),
  vmac_xmit_base: Bool.default(false),
  accept: Bool.optional().meta({ description: 'Accept traffic to the VIPs when MASTER but not owner (default true, strict mode false).' }),
  strict_mode: Bool.optional(),
  skip_check_adv_addr: Bool.optional(),
  v3_checksum_as_v2: Bool.optional(),
  garp_master_delay: Duration.optional(),
  garp_master_repeat: z.number().int().min(1).optional(),
  garp_master_refresh: Duration.optional(),
  garp_master_refresh_repeat: z.number().int().min(1).optional(),
  garp_lower_prio_delay: Duration.optional(),
  garp_lower_prio_repeat: z.number().int().min(1).optional(),
  garp_extra_if: GarpExtraIf.optional(),
  owner_ignore_adverts: Bool.optional(),
  down_timer_adverts: z.number().int().min(1).max(100).optional(),
  lower_prio_no_advert: Bool.optional(),
  higher_prio_send_advert: Bool.optional(),
  promote_secondaries: Bool.default(false),
  ...Notify,
  notify_deleted: Script.optional(),
  notify_master_rx_lower_pri: Script.optional(),
});

// ---------------------------------------------------------------- checkers

const CheckCommon = {
  connect_ip: Ip.optional(),
  connect_port: Port.optional(),
  bindto: Ip.optional(),
  bind_port: Port.optional(),
  bind_if: Name.optional(),
  fwmark: z.number().int().nonnegative().optional(),
  connect_timeout: Duration.optional(),
  retry: z.number().int().nonnegative().optional(),
  delay_before_retry: Duration.optional(),
  delay_loop: Duration.optional(),
  warmup: Duration.optional(),
  alpha: Bool.optional(),
  log_all_failures: Bool.optional(),
};

/**
 * keepalived's regex_options that vipkeeper honours: the ones with a JavaScript equivalent
 * (caseless i, multiline m, dotall s; extended and firstline done by hand) and the ones that
 * change nothing for a JavaScript regex (optimisations, or already its behaviour). ucp, utf and
 * ungreedy have none: the importer reports them.
 */
export const REGEX_OPTIONS = [
  'allow_empty_class',
  'alt_bsux',
  'alt_circumflex',
  'alt_verbnames',
  'auto_callout',
  'caseless',
  'dollar_endonly',
  'dotall',
  'dupnames',
  'extended',
  'firstline',
  'match_unset_backref',
  'multiline',
  'never_backslash_c',
  'never_ucp',
  'never_utf',
  'no_auto_capture',
  'no_auto_possess',
  'no_dotstar_anchor',
  'no_start_optimize',
  'use_offset_limit',
] as const;

/** keepalived's PCRE2 options that have no JavaScript equivalent: what is lost without each. */
export const UNHONOURED_REGEX_OPTIONS: Readonly<Record<string, string>> = {
  ucp: '\\d, \\w and \\b match ASCII only, not by Unicode property',
  utf: 'the body is matched byte by byte (latin1), not as UTF-8 characters',
  ungreedy: 'quantifiers stay greedy (write them lazy with ? instead)',
};

const StatusCode = z.union([z.number().int().min(100).max(599), z.string().regex(/^\d{3}(-\d{3})?$/, 'a status code or a range like 200-299')]);

export const UrlSchema = z.strictObject({
  path: z.string().min(1),
  digest: z.string().regex(/^[0-9a-fA-F]{32}$/, 'an MD5 digest of 32 hex digits').optional(),
  status_code: z.array(StatusCode).optional().meta({ description: 'Accepted status codes; default 200-299.' }),
  virtualhost: z.string().optional(),
  regex: z.string().optional(),
  regex_no_match: Bool.optional(),
  regex_options: z
    .array(z.enum(REGEX_OPTIONS))
    .optional()
    .meta({ description: "keepalived's PCRE2 options that a JavaScript regex can honour (caseless, multiline, dotall, extended, firstline and those that change nothing here)." }),
  regex_min_offset: z.number().int().nonnegative().optional().meta({ description: 'The match must start at this body offset or later.' }),
  regex_max_offset: z.number().int().nonnegative().optional().meta({ description: 'The match must start at this body offset or earlier.' }),
  tls_compliant: Bool.optional(),
});

const HttpFields = {
  url: z.array(UrlSchema).min(1),
  http_protocol: z.enum(['1.0', '1.0C', '1.1']).optional(),
  virtualhost: z.string().optional(),
  fast_recovery: Bool.optional(),
  enable_sni: Bool.optional(),
  sni_name: z.string().optional(),
  tls_compliant: Bool.optional(),
  verify_tls: Bool.optional().meta({ description: 'Verify the server certificate (off by default, as in keepalived).' }),
};

export const CheckSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('TCP_CHECK'), ...CheckCommon }),
  z.strictObject({ type: z.literal('HTTP_GET'), ...CheckCommon, ...HttpFields }),
  z.strictObject({ type: z.literal('SSL_GET'), ...CheckCommon, ...HttpFields }),
  z.strictObject({ type: z.literal('SMTP_CHECK'), ...CheckCommon, helo_name: z.string().optional() }),
  z.strictObject({
    type: z.literal('DNS_CHECK'),
    ...CheckCommon,
    dns_type: z.enum(['A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA', 'RRSIG', 'DNSKEY']).default('SOA'),
    name: z.string().default('.'),
  }),
  z.strictObject({
    type: z.literal('MISC_CHECK'),
    ...CheckCommon,
    misc_path: Script,
    misc_timeout: Duration.optional(),
    misc_dynamic: Bool.default(false),
  }),
  z.strictObject({
    type: z.literal('UDP_CHECK'),
    ...CheckCommon,
    payload: z.string().regex(/^[0-9a-fA-F]*$/, 'hex bytes').optional(),
    require_reply: z.string().regex(/^[0-9a-fA-FxX]*$/, 'hex bytes, X nibbles are wildcards').optional(),
    min_reply_length: z.number().int().nonnegative().optional(),
    max_reply_length: z.number().int().nonnegative().optional(),
  }),
  z.strictObject({ type: z.literal('PING_CHECK'), ...CheckCommon }),
  z.strictObject({
    type: z.literal('FILE_CHECK'),
    track_file: Name,
    weight: z.number().int().optional(),
    weight_reverse: Bool.optional(),
    dynamic: Bool.optional(),
  }),
]);
export type Check = z.output<typeof CheckSchema>;
export type Url = z.output<typeof UrlSchema>;
export type CheckType = Check['type'];

// ---------------------------------------------------------------- IPVS

export const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'sh', 'mh', 'dh', 'fo', 'ovf', 'lblcr', 'sed', 'nq', 'twos'] as const;
export const SCHED_FLAGS = ['flag-1', 'flag-2', 'flag-3', 'sh-port', 'sh-fallback', 'mh-port', 'mh-fallback'] as const;

const LvsMethod = z.enum(['NAT', 'DR', 'TUN']);
const Tunnel = z.strictObject({
  type: z.enum(['ipip', 'gue', 'gre']).default('ipip'),
  port: Port.optional(),
  csum: z.enum(['nocsum', 'csum', 'remcsum']).optional(),
});

const ServerTiming = {
  connect_timeout: Duration.optional(),
  retry: z.number().int().nonnegative().optional(),
  delay_before_retry: Duration.optional(),
  delay_loop: Duration.optional(),
  warmup: Duration.optional(),
  alpha: Bool.optional(),
  inhibit_on_failure: Bool.optional(),
  virtualhost: z.string().optional(),
  smtp_alert: Bool.optional(),
};

export const RealServerSchema = z.strictObject({
  address: Ip,
  port: Port.optional(),
  weight: z.number().int().min(0).max(2147483647).optional().meta({ description: 'Defaults to the virtual server weight (1).' }),
  lvs_method: LvsMethod.optional(),
  tunnel: Tunnel.optional(),
  uthreshold: z.number().int().nonnegative().optional(),
  lthreshold: z.number().int().nonnegative().optional(),
  notify_up: Script.optional(),
  notify_down: Script.optional(),
  ...ServerTiming,
  checks: z.array(CheckSchema).default([]),
});
export type RealServer = z.output<typeof RealServerSchema>;

export const VsgEntrySchema = z.union([
  z.strictObject({
    address: Ip,
    last: Ip.optional().meta({ description: 'Last address of a range (10.0.0.1-10 is address 10.0.0.1, last 10.0.0.10).' }),
    prefix: z.number().int().min(0).max(128).optional(),
    port: Port.optional(),
  }),
  z.strictObject({ fwmark: z.number().int().min(1), family: z.enum(['inet', 'inet6']).optional() }),
]);

export const VirtualServerSchema = z.strictObject({
  address: Ip.optional(),
  fwmark: z.number().int().min(1).optional(),
  group: Name.optional(),
  port: Port.optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).default('TCP'),
  lb_algo: z.enum(SCHEDULERS).default('wlc'),
  lb_kind: LvsMethod.default('NAT'),
  tunnel: Tunnel.optional(),
  flags: z.array(z.enum(SCHED_FLAGS)).default([]),
  ops: Bool.default(false),
  persistence_timeout: Duration.optional(),
  persistence_granularity: z.string().optional(),
  persistence_engine: z.string().optional(),
  ip_family: z.enum(['inet', 'inet6']).optional(),
  delay_loop: Duration.prefault('60s'),
  connect_timeout: Duration.prefault('5s'),
  retry: z.number().int().nonnegative().optional(),
  delay_before_retry: Duration.optional(),
  warmup: Duration.optional(),
  alpha: Bool.default(false),
  omega: Bool.default(false),
  inhibit_on_failure: Bool.default(false),
  ha_suspend: Bool.default(false),
  virtualhost: z.string().optional(),
  weight: z.number().int().min(0).default(1),
  smtp_alert: Bool.optional(),
  quorum: z.number().int().min(0).default(1),
  hysteresis: z.number().int().min(0).default(0),
  quorum_up: Script.optional(),
  quorum_down: Script.optional(),
  sorry_server: z
    .strictObject({
      address: Ip,
      port: Port.optional(),
      inhibit: Bool.default(false),
      lvs_method: LvsMethod.optional(),
    })
    .optional(),
  real_servers: z.array(RealServerSchema).default([]),
});
export type VirtualServer = z.output<typeof VirtualServerSchema>;

// ---------------------------------------------------------------- vipkeeper's own sections

export const ControlSchema = z.strictObject({
  socket: z.string().default('/run/vipkeeper/vipkeeper.sock'),
  http: z.strictObject({ host: z.string().default('127.0.0.1'), port: Port }).optional(),
});

export const IpvsSchema = z.strictObject({
  manage: z.enum(['owned', 'exclusive']).default('owned').meta({
    description: 'owned: touch only the services this config defines; exclusive: remove every other service too.',
  }),
  on_stop: z.enum(['remove', 'keep']).default('remove'),
  resync_interval: Duration.prefault('30s'),
  drain_timeout: Duration.prefault('5m'),
  backend: z.enum(['netlink', 'ipvsadm']).default('netlink').meta({
    description: 'How vipkeeper talks to IPVS: netlink (generic netlink through the native addon; falls back to ipvsadm when the addon does not load) or ipvsadm (the ipvsadm binary).',
  }),
});

// ---------------------------------------------------------------- BGP (active-active directors)
// No keepalived equivalent: `migrate` never writes it. Every director announces the VIPs to the
// routers while it can serve them (src/bgp/policy.ts); the routers spread flows by ECMP.

const Asn = z.number().int().min(1).max(4294967295);
const U32 = z.number().int().min(0).max(4294967295);
const BGP_NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;

/** `65000:100` (standard, 16-bit halves) or `65000:1:2` (large, RFC 8092). */
export const BgpCommunity = z
  .string()
  .refine((s) => {
    const m = /^(\d+):(\d+)(?::(\d+))?$/.exec(s);
    if (!m) return false;
    const max = m[3] === undefined ? 65535 : 4294967295;
    return [m[1], m[2], m[3]].every((x) => x === undefined || Number(x) <= max);
  }, 'a community like 65000:100 (two numbers 0..65535) or a large community like 65000:1:2 (three numbers 0..4294967295)')
  .meta({ description: 'A BGP community: ASN:VALUE (standard) or ASN:VALUE:VALUE (large).' });

const BgpAnnounceAttrs = {
  med: U32.optional().meta({ description: 'MED of the route (default bgp.med).' }),
  communities: z.array(BgpCommunity).optional().meta({ description: 'Communities on the route (default bgp.communities).' }),
  drain_med: U32.optional().meta({ description: 'MED while draining (default bgp.drain_med).' }),
  drain_communities: z.array(BgpCommunity).optional().meta({ description: 'Communities while draining (default bgp.drain_communities).' }),
  drain_grace: Duration.optional().meta({ description: 'How long to announce with the drain attributes before the withdraw (default bgp.drain_grace).' }),
};

export const BgpVipSchema = z.strictObject({
  prefix: z.string().meta({ description: 'The VIP: an address, or ADDRESS/32 (IPv4) or ADDRESS/128 (IPv6).' }),
  served_by: z.enum(['ipvs', 'local']).default('ipvs').meta({
    description:
      'ipvs: announced once the IPVS services at this address are in the kernel; local: served by processes on this director (no IPVS): its virtual servers give the health checks and the quorum, and IPVS is not programmed for them.',
  }),
  fwmarks: z.array(z.number().int().min(1)).default([]).meta({ description: 'fwmark virtual servers that serve this VIP (their quorum counts too).' }),
  drain: Bool.default(false).meta({ description: 'Drain this VIP: announce with the drain attributes for drain_grace (from the load or reload that set it), then withdraw.' }),
  ...BgpAnnounceAttrs,
});

/** A VIP as an address string, or the object form. */
export const BgpVip = z
  .union([z.string().min(1), BgpVipSchema])
  .transform((v) => (typeof v === 'string' ? BgpVipSchema.parse({ prefix: v }) : v))
  .meta({ description: 'An address (or ADDRESS/32, ADDRESS/128), or {prefix, served_by, med, communities, drain_*}.' });

export const BgpPeerSchema = z.strictObject({
  name: z.string().regex(BGP_NAME, 'a name of letters, digits and _ (starting with a letter, at most 32)').optional().meta({
    description: 'Shown in status and metrics; default peer1, peer2, ... in order.',
  }),
  address: Ip,
  as: Asn,
  password: z
    .string()
    .min(1)
    .max(80)
    .regex(/^[^"\n\r]*$/, 'a TCP MD5 password without double quotes or line breaks')
    .optional()
    .meta({ description: 'TCP MD5 (RFC 2385) password; never logged or shown in status; the rendered engine file is 0600.' }),
  bfd: Bool.default(false).meta({ description: 'BFD for the session, so the router drops this director within BFD time when the host dies.' }),
  source_address: Ip.optional(),
  multihop: z.number().int().min(1).max(255).optional().meta({ description: 'eBGP multihop TTL, for a peer that is not on a directly connected network.' }),
});

export const BgpSchema = z.strictObject({
  engine: z.enum(['bird']).default('bird').meta({ description: 'The BGP daemon vipkeeper drives: bird (BIRD 2, started and owned by vipkeeper).' }),
  local_as: Asn,
  router_id: z.string().refine((s) => isIP(s) === 4, { message: 'an IPv4 address (the BGP identifier)' }),
  peers: z.array(BgpPeerSchema).min(1),
  vips: z.array(BgpVip).min(1),
  hold_time: Duration.prefault('9s').meta({ description: 'BGP hold time offered to the peers (3s..65535s): how long a router keeps the routes of a director that went silent.' }),
  keepalive_time: Duration.optional().meta({ description: 'Default: hold_time / 3.' }),
  med: U32.default(0),
  communities: z.array(BgpCommunity).default([]),
  drain_med: U32.default(4294967295).meta({ description: 'MED while draining: the worst, so routers that compare MED move new flows to the other directors.' }),
  drain_communities: z.array(BgpCommunity).default(['65535:0']).meta({ description: 'Communities while draining; default GRACEFUL_SHUTDOWN (65535:0, RFC 8326).' }),
  drain_grace: Duration.prefault('30s'),
  hang_timeout: Duration.prefault('3s').meta({
    description: "If vipkeeper's main loop stops for this long, a watchdog thread kills the engine, so the routers drop this director's routes.",
  }),
  bird: z
    .strictObject({
      binary: z.string().min(1).default('bird'),
      runtime_dir: z.string().min(1).default('/run/vipkeeper/bird').meta({ description: "The engine's config, include and control socket (mode 0700)." }),
    })
    .prefault({}),
});
export type Bgp = z.output<typeof BgpSchema>;
export type BgpPeer = z.output<typeof BgpPeerSchema>;
export type BgpVipConfig = z.output<typeof BgpVipSchema>;

// ---------------------------------------------------------------- the whole file

export const ConfigSchema = z
  .strictObject({
    global: GlobalSchema.prefault({}),
    vrrp_scripts: z.record(Name, VrrpScriptSchema).default({}),
    track_files: z.record(Name, TrackFileSchema).default({}),
    track_processes: z.record(Name, TrackProcessSchema).default({}),
    sync_groups: z.record(Name, SyncGroupSchema).default({}),
    instances: z.record(Name, InstanceSchema).default({}),
    virtual_server_groups: z.record(Name, z.array(VsgEntrySchema)).default({}),
    virtual_servers: z.array(VirtualServerSchema).default([]),
    static_ipaddress: z.array(Vip).default([]).meta({ description: 'Addresses added at start and removed at stop, whatever the VRRP state (without dev: on global default_interface).' }),
    static_routes: z.array(z.string()).default([]).meta({ description: 'Routes added at start and removed at stop, in `ip route` syntax.' }),
    static_rules: z.array(z.string()).default([]).meta({ description: 'Policy rules added at start and removed at stop, in `ip rule` syntax.' }),
    ssl: z
      .strictObject({
        ca: z.string().min(1).optional(),
        certificate: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        password: z.string().optional().meta({ description: "The private key's passphrase (a secret: keep this file 0600)." }),
      })
      .optional()
      .meta({ description: "keepalived's SSL block: the client certificate and key SSL_GET presents, and the CA verify_tls checks the server against." }),
    control: ControlSchema.prefault({}),
    ipvs: IpvsSchema.prefault({}),
    bgp: BgpSchema.optional().meta({ description: 'Active-active directors: announce the VIPs to routers by BGP (no keepalived equivalent).' }),
  })
  .meta({ title: 'vipkeeper configuration', description: 'VRRP instances, health checks and IPVS services for an LVS director.' });

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type Instance = z.output<typeof InstanceSchema>;
export type VrrpScript = z.output<typeof VrrpScriptSchema>;
export type SyncGroup = z.output<typeof SyncGroupSchema>;
export type ScriptSpec = z.output<typeof Script>;

// The LVS blocks: virtual_server, real_server, the checkers and their url blocks.
import { M } from './modules.js';
import { acted, alias, notActed, structural, type Block, type Entry } from './types.js';

const NO_SNMP = 'there is no SNMP sub-agent; the same states and counters are on the metrics endpoint (GET /metrics on the control API, Prometheus format)';
const script = (key: string): string[] => [key, `${key}.command`, `${key}.user`, `${key}.group`];

/** The timing keywords a virtual server, a real server and a checker all accept (inherited downwards). */
const TIMING: Record<string, Entry> = {
  connect_timeout: acted(M.spec, 'connect_timeout'),
  retry: acted(M.spec, 'retry'),
  delay_before_retry: acted(M.spec, 'delay_before_retry'),
  delay_loop: acted(M.spec, 'delay_loop'),
  warmup: acted(M.spec, 'warmup'),
};

export const VIRTUAL_SERVER: Block = {
  title: 'virtual_server IP PORT | fwmark N | group NAME',
  base: 'virtual_servers[]',
  entries: {
    lb_algo: acted(M.desired, 'lb_algo'),
    lvs_sched: alias('lb_algo'),
    lb_kind: acted([M.desired, M.spec], ['lb_kind', 'tunnel', 'tunnel.type', 'tunnel.port', 'tunnel.csum']),
    lvs_method: alias('lb_kind'),
    protocol: acted(M.desired, 'protocol'),
    persistence_timeout: acted(M.desired, 'persistence_timeout'),
    persistence_granularity: acted(M.desired, 'persistence_granularity'),
    persistence_engine: acted(M.desired, 'persistence_engine'),
    ...TIMING,
    alpha: acted(M.spec, 'alpha'),
    omega: acted(M.checkerEvents, 'omega', { note: "at stop: notify_down of each live real server, then quorum_down, with their FIFO lines" }),
    inhibit_on_failure: acted(M.spec, 'inhibit_on_failure'),
    ha_suspend: acted([M.haSuspend, M.health], 'ha_suspend', { note: 'checks run while a VRRP instance owning the address is MASTER (an address no instance owns counts as held)' }),
    ops: acted(M.desired, 'ops'),
    ip_family: acted(M.desired, 'ip_family'),
    weight: acted(M.spec, 'weight'),
    quorum: acted(M.spec, 'quorum'),
    hysteresis: acted(M.spec, 'hysteresis'),
    quorum_up: acted([M.checkerEvents, M.exec], script('quorum_up'), { note: 'also when quorum is gained at start, as keepalived' }),
    quorum_down: acted([M.checkerEvents, M.exec], script('quorum_down')),
    sorry_server: acted([M.desired, M.spec], ['sorry_server', 'sorry_server.address', 'sorry_server.port']),
    sorry_server_inhibit: acted(M.spec, 'sorry_server.inhibit'),
    sorry_server_lvs_method: acted(M.spec, 'sorry_server.lvs_method'),
    virtualhost: acted(M.spec, 'virtualhost'),
    smtp_alert: acted([M.checkerEvents, M.mailer], 'smtp_alert', { note: 'quorum and real server changes of this virtual server' }),
    snmp_name: notActed(NO_SNMP),
    'flag-1': acted(M.desired, 'flags'),
    'flag-2': acted(M.desired, 'flags'),
    'flag-3': acted(M.desired, 'flags'),
    'sh-port': acted(M.desired, 'flags'),
    'sh-fallback': acted(M.desired, 'flags'),
    'mh-port': acted(M.desired, 'flags'),
    'mh-fallback': acted(M.desired, 'flags'),
    hashed: notActed('nothing on current kernels: IPVS ignores the legacy hashed flag'),
    real_server: acted([M.desired, M.spec], ['real_servers', 'real_servers[].address', 'real_servers[].port']),
  },
};

export const REAL_SERVER: Block = {
  title: 'real_server IP [PORT] (in virtual_server)',
  base: 'virtual_servers[].real_servers[]',
  entries: {
    weight: acted(M.spec, 'weight'),
    lvs_method: acted([M.spec, M.desired], ['lvs_method', 'tunnel', 'tunnel.type', 'tunnel.port', 'tunnel.csum']),
    uthreshold: acted(M.spec, 'uthreshold'),
    lthreshold: acted(M.spec, 'lthreshold'),
    inhibit_on_failure: acted(M.spec, 'inhibit_on_failure'),
    notify_up: acted([M.checkerEvents, M.exec], script('notify_up'), { note: 'not for the initial state (no rs_init_notifies), as keepalived' }),
    notify_down: acted([M.checkerEvents, M.exec], script('notify_down')),
    ...TIMING,
    alpha: acted(M.spec, 'alpha'),
    virtualhost: acted(M.spec, 'virtualhost'),
    smtp_alert: acted([M.checkerEvents, M.mailer], 'smtp_alert'),
    snmp_name: notActed(NO_SNMP),
    TCP_CHECK: acted(M.spec, ['checks', 'checks[].type']),
    HTTP_GET: acted(M.spec, ['checks', 'checks[].type']),
    SSL_GET: acted(M.spec, ['checks', 'checks[].type']),
    SMTP_CHECK: acted(M.spec, ['checks', 'checks[].type']),
    DNS_CHECK: acted(M.spec, ['checks', 'checks[].type']),
    MISC_CHECK: acted(M.spec, ['checks', 'checks[].type']),
    UDP_CHECK: acted(M.spec, ['checks', 'checks[].type']),
    PING_CHECK: acted(M.spec, ['checks', 'checks[].type']),
    FILE_CHECK: acted(M.spec, ['checks', 'checks[].type']),
    BFD_CHECK: notActed('BFD is not implemented: the real server is judged by its other checkers only (with none, it is always up)'),
  },
};

/** The connection keywords of every checker but MISC_CHECK, FILE_CHECK and BFD_CHECK. */
const CONNECTION: Record<string, Entry> = {
  connect_ip: acted(M.spec, 'connect_ip'),
  connect_port: acted(M.spec, 'connect_port'),
  bindto: acted(M.spec, 'bindto'),
  bind_port: acted(M.spec, 'bind_port'),
  bind_if: acted(M.spec, 'bind_if', { note: 'SO_BINDTODEVICE on the probe socket before bind and connect, PING_CHECK\'s too; also the zone of a link-local connect_ip' }),
  connect_timeout: acted(M.spec, 'connect_timeout'),
  fwmark: acted(M.spec, 'fwmark', { note: 'SO_MARK on the probe socket before bind and connect; PING_CHECK\'s echo requests are marked too (keepalived marks none)' }),
};

/** The retry keywords every checker but FILE_CHECK and BFD_CHECK accepts. */
const RETRY: Record<string, Entry> = {
  retry: acted(M.spec, 'retry'),
  delay_before_retry: acted(M.spec, 'delay_before_retry'),
  warmup: acted(M.spec, 'warmup'),
  delay_loop: acted(M.spec, 'delay_loop'),
  alpha: acted(M.spec, 'alpha'),
  log_all_failures: acted([M.spec, M.health, M.daemon], 'log_all_failures', { note: 'each failed attempt is logged at warning level' }),
};

const CHECKER_BASE = 'virtual_servers[].real_servers[].checks[]';

const checker = (title: string, entries: Record<string, Entry>): Block => ({ title: `${title} (in real_server)`, base: CHECKER_BASE, entries });

const HTTP: Record<string, Entry> = {
  ...CONNECTION,
  ...RETRY,
  nb_get_retry: alias('retry', { deprecated: 'retry' }),
  url: acted(M.spec, 'url'),
  http_protocol: acted(M.spec, 'http_protocol'),
  virtualhost: acted(M.spec, 'virtualhost'),
  fast_recovery: acted(M.spec, 'fast_recovery'),
  enable_sni: acted(M.spec, 'enable_sni'),
  sni_name: acted(M.spec, 'sni_name', { since: '2.3' }),
  tls_compliant: acted([M.spec, M.httpProbe], 'tls_compliant', { since: '2.3', note: 'SSL_GET sends close_notify before closing; without it the TCP connection just closes, as keepalived 2.2.7' }),
};

export const CHECKERS = {
  TCP_CHECK: checker('TCP_CHECK', {
    ...CONNECTION,
    ...RETRY,
    nb_get_retry: notActed("nothing: keepalived 2.x ignores nb_get_retry in TCP_CHECK (it is HTTP_GET/SSL_GET only); write 'retry N'"),
  }),
  HTTP_GET: checker('HTTP_GET', HTTP),
  SSL_GET: checker('SSL_GET', HTTP),
  SMTP_CHECK: checker('SMTP_CHECK', {
    ...CONNECTION,
    ...RETRY,
    helo_name: acted(M.spec, 'helo_name'),
    host: structural(M.importer, undefined, { deprecated: 'one SMTP_CHECK per host', note: 'each host block becomes its own SMTP_CHECK' }),
  }),
  DNS_CHECK: checker('DNS_CHECK', {
    ...CONNECTION,
    ...RETRY,
    type: acted(M.spec, 'dns_type'),
    name: acted(M.spec, 'name'),
  }),
  MISC_CHECK: checker('MISC_CHECK', {
    ...RETRY,
    misc_path: acted(M.spec, ['misc_path', 'misc_path.command', 'misc_path.user', 'misc_path.group']),
    misc_timeout: acted(M.spec, 'misc_timeout'),
    misc_dynamic: acted(M.spec, 'misc_dynamic'),
    user: acted(M.spec, ['misc_path.user', 'misc_path.group'], { note: "written as misc_path's user and group" }),
  }),
  UDP_CHECK: checker('UDP_CHECK', {
    ...CONNECTION,
    ...RETRY,
    payload: acted(M.spec, 'payload'),
    require_reply: acted(M.spec, 'require_reply'),
    min_reply_length: acted(M.spec, 'min_reply_length'),
    max_reply_length: acted(M.spec, 'max_reply_length'),
  }),
  PING_CHECK: checker('PING_CHECK', { ...CONNECTION, ...RETRY }),
  FILE_CHECK: checker('FILE_CHECK', {
    track_file: acted(M.spec, 'track_file'),
    weight: acted(M.spec, ['weight', 'weight_reverse']),
    dynamic: acted(M.spec, 'dynamic', { note: "in keepalived's manual, but keepalived 2.2.7 to 2.4 do not parse it" }),
  }),
  BFD_CHECK: checker('BFD_CHECK', {
    name: notActed('BFD is not implemented'),
    alpha: notActed('BFD is not implemented'),
  }),
} satisfies Record<string, Block>;

/** The deprecated `host { … }` of SMTP_CHECK: its keywords become a further SMTP_CHECK. */
export const SMTP_HOST: Block = {
  title: 'host (in SMTP_CHECK, deprecated)',
  base: CHECKER_BASE,
  entries: { ...CONNECTION, ...RETRY },
};

export const URL: Block = {
  title: 'url (in HTTP_GET / SSL_GET)',
  base: `${CHECKER_BASE}.url[]`,
  entries: {
    path: acted(M.spec, 'path'),
    digest: acted(M.spec, 'digest'),
    status_code: acted(M.spec, ['status_code', 'status_code[]']),
    virtualhost: acted(M.spec, 'virtualhost'),
    regex: acted(M.spec, 'regex'),
    regex_no_match: acted(M.spec, 'regex_no_match'),
    regex_options: acted([M.spec, M.httpRegex], 'regex_options', {
      note: 'caseless, multiline, dotall, extended and firstline as keepalived; the options that change nothing for a JavaScript regex are accepted; ucp, utf and ungreedy are reported and not applied',
    }),
    regex_stack: notActed('nothing: the JavaScript regex engine needs no match stack size'),
    regex_min_offset: acted([M.spec, M.httpRegex], 'regex_min_offset', { note: 'the match starts at this body offset or later (lookbehind sees before it)' }),
    regex_max_offset: acted([M.spec, M.httpRegex], 'regex_max_offset', { note: 'the match must start at this body offset or before' }),
    tls_compliant: acted([M.spec, M.httpProbe], 'tls_compliant', { since: '2.3' }),
  },
};

/** The entries of a virtual_server_group are value lines, read with the block (root.ts). */
export const VIRTUAL_SERVER_GROUP: Block = {
  title: 'virtual_server_group NAME (one entry a line)',
  base: 'virtual_server_groups.*',
  entries: {},
};

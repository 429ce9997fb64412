// The top level of a keepalived.conf, and the top-level blocks vipkeeper does not act on.
import { M } from './modules.js';
import { acted, alias, notActed, structural, type Block } from './types.js';

const NO_BFD = 'BFD is not implemented: no session is run, so nothing tracks it';
const RUN_INSIDE = 'start vipkeeper inside the namespace instead (ip netns exec, or systemd NetworkNamespacePath=)';

export const ROOT: Block = {
  title: 'the top level',
  base: '',
  entries: {
    global_defs: structural(M.importer, 'global'),
    include: structural(M.lexer),
    includer: structural(M.lexer),
    includem: structural(M.lexer),
    includew: structural(M.lexer),
    includeb: structural(M.lexer),
    includea: structural(M.lexer),
    vrrp_script: structural(M.importer, 'vrrp_scripts'),
    track_file: structural(M.importer, 'track_files'),
    vrrp_track_file: alias('track_file', { deprecated: 'track_file' }),
    vrrp_track_process: structural(M.importer, 'track_processes'),
    vrrp_sync_group: structural(M.importer, 'sync_groups'),
    vrrp_instance: structural(M.importer, 'instances'),
    virtual_server_group: acted([M.desired, M.spec], [
      'virtual_server_groups',
      ...['address', 'last', 'prefix', 'port', 'fwmark', 'family'].map((f) => `virtual_server_groups.*[].${f}`),
    ]),
    virtual_server: structural(M.importer, ['virtual_servers', 'virtual_servers[].address', 'virtual_servers[].port', 'virtual_servers[].fwmark', 'virtual_servers[].group']),
    net_namespace: notActed(`addresses, routes and IPVS are set in the namespace vipkeeper runs in, not this one; ${RUN_INSIDE}`),
    net_namespace_ipvs: notActed(`IPVS is programmed in the namespace vipkeeper runs in, not this one; ${RUN_INSIDE}`),
    namespace_with_ipsets: notActed('nothing: vipkeeper uses no ipsets'),
    instance: notActed("nothing vipkeeper does: it names keepalived's pid and data files"),
    use_pid_dir: notActed('no pid file is written (systemd tracks the process)'),
    child_wait_time: notActed('nothing: vipkeeper has no child processes to wait for'),
    linkbeat_use_polling: notActed('link state comes from netlink, never from polling'),
    linkbeat_interfaces: notActed('link state comes from netlink, never from polling'),
    interface_up_down_delays: notActed('interface state changes act at once, without these delays'),
    track_group: notActed('instances do not go to FAULT when a static address, route or rule is lost'),
    static_ipaddress: acted([M.extras, M.addresses], ['static_ipaddress', 'static_ipaddress[].address', 'static_ipaddress[].prefix'], {
      note: 'added at start, removed at stop, whatever the VRRP state; a reload adds the new ones and removes those gone, as keepalived; a line without dev goes on default_interface',
    }),
    static_routes: acted([M.extras, M.routes], 'static_routes', { note: 'added at start, removed at stop (protocol 18, as keepalived); a reload adds the new ones and removes those gone' }),
    static_rules: acted([M.extras, M.routes], 'static_rules', { note: 'added at start, removed at stop (protocol 18, as keepalived); a reload adds the new ones and removes those gone' }),
    bfd_instance: notActed(NO_BFD),
    garp_group: notActed('no per-interface gratuitous ARP rate limit applies; each instance uses its own garp settings'),
    SSL: structural(M.importer, 'ssl', { note: 'one block; a second replaces the first' }),
  },
};

/** The keywords inside blocks vipkeeper does not act on as a whole, for the docs. */
export const BFD_INSTANCE: Block = {
  title: 'bfd_instance NAME (not acted on as a whole)',
  base: '',
  entries: Object.fromEntries(
    ['source_ip', 'neighbor_ip', 'min_rx', 'min_tx', 'idle_tx', 'multiplier', 'passive', 'ttl', 'max_hops', 'multihop', 'weight', 'vrrp', 'checker'].map((k) => [
      k,
      notActed(NO_BFD, k === 'multihop' ? { since: '2.3' } : {}),
    ]),
  ),
};
BFD_INSTANCE.entries.neighbour_ip = alias('neighbor_ip');
BFD_INSTANCE.entries.hoplimit = alias('ttl');

export const GARP_GROUP: Block = {
  title: 'garp_group (not acted on as a whole)',
  base: '',
  entries: Object.fromEntries(['garp_interval', 'gna_interval', 'interface', 'interfaces'].map((k) => [k, notActed('no per-interface gratuitous ARP rate limit applies')])),
};

export const SSL: Block = {
  title: 'SSL',
  base: 'ssl',
  entries: {
    password: acted([M.spec, M.httpProbe], 'password', { secret: true, note: "the key's passphrase; never logged" }),
    ca: acted([M.spec, M.httpProbe, M.hostChecks], 'ca', {
      note: "keepalived loads it but verifies nothing; vipkeeper verifies the server against it only with its own verify_tls",
    }),
    certificate: acted([M.spec, M.httpProbe, M.hostChecks], 'certificate', { note: 'presented by every SSL_GET' }),
    key: acted([M.spec, M.httpProbe, M.hostChecks], 'key', { note: 'a key readable by group or others is warned about by check' }),
  },
};

export const TRACK_GROUP: Block = {
  title: 'track_group NAME (not acted on as a whole)',
  base: '',
  entries: { group: notActed('static addresses, routes and rules are not acted on, so nothing is tracked') },
};

// The runtime modules the ledger names as acting on a keyword. A test reads each one and
// checks that it really reads the fields the ledger says it acts on.
export const M = {
  params: 'src/vrrp/params.ts',
  validate: 'src/config/validate.ts',
  tracking: 'src/vrrp/tracking.ts',
  vipTracking: 'src/vrrp/vip-tracking.ts',
  vrrpRuntime: 'src/daemon/vrrp/runtime.ts',
  notify: 'src/daemon/scripts/notify.ts',
  trackScript: 'src/daemon/scripts/track-script.ts',
  trackFile: 'src/daemon/scripts/track-file.ts',
  /** track_process: matching, quorum and delays (pure core). */
  trackProcess: 'src/vrrp/track-process.ts',
  /** track_process: the /proc scan and the kernel's process events. */
  processMonitor: 'src/daemon/scripts/track-process.ts',
  fifo: 'src/daemon/vrrp/adapters.ts',
  address: 'src/net/rtnetlink-address.ts',
  worker: 'src/daemon/vrrp/worker.ts',
  spec: 'src/check/spec.ts',
  health: 'src/check/health.ts',
  /** HTTP_GET / SSL_GET over sockets, and their body regex. */
  httpProbe: 'src/check/probes/http.ts',
  httpRegex: 'src/check/probes/http-regex.ts',
  desired: 'src/ipvs/desired.ts',
  reconciler: 'src/ipvs/reconciler.ts',
  daemon: 'src/daemon/daemon.ts',
  startStop: 'src/daemon/start-stop-scripts.ts',
  /** Runs every script (vrrp_script, notify*, MISC_CHECK): reads a script's command, user and group. */
  exec: 'src/sys/exec.ts',
  addresses: 'src/net/addresses.ts',
  vmac: 'src/vrrp/vmac.ts',
  vmacNet: 'src/net/vmac.ts',
  extras: 'src/daemon/vrrp/extras.ts',
  garpExtra: 'src/daemon/vrrp/garp-extra.ts',
  routes: 'src/net/routes.ts',
  firewall: 'src/net/firewall.ts',
  fifoWriter: 'src/daemon/scripts/notify-fifo.ts',
  /** Real server and virtual server notifies, checker FIFO lines, omega (main thread). */
  checkerEvents: 'src/daemon/scripts/checker-events.ts',
  checkerPort: 'src/daemon/scripts/checker-port.ts',
  haSuspend: 'src/daemon/ha-suspend.ts',
  /** smtp_alert mails, VRRP and checker (main thread). */
  mailer: 'src/daemon/mail/mailer.ts',
  /** `check`'s findings on this host (script security, the script user). */
  hostChecks: 'src/config/host-checks.ts',
  /** Config-layer modules, for structural entries. */
  lexer: 'src/config/keepalived/source.ts',
  importer: 'src/config/keepalived/import-root.ts',
} as const;

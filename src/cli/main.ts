// The `vipkeeper` command line. Thin: parse arguments, call into src/config and
// friends, map the outcome to an exit code (see exit-codes.ts).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Command, CommanderError } from 'commander';
import type { DrillOptions } from './drill.js';
import { EXIT } from './exit-codes.js';

// Each command's module is loaded when the command runs: `check` and `migrate` then start
// without loading the daemon, the native addon or the logger (startup CPU and memory).
const runCheck = async (...a: Parameters<typeof import('./check.js').runCheck>) => (await import('./check.js')).runCheck(...a);
const runMigrate = async (...a: Parameters<typeof import('./migrate.js').runMigrate>) => (await import('./migrate.js')).runMigrate(...a);
const runRun = async (...a: Parameters<typeof import('./run.js').runRun>) => (await import('./run.js')).runRun(...a);
const runCleanup = async (...a: Parameters<typeof import('./cleanup.js').runCleanup>) => (await import('./cleanup.js')).runCleanup(...a);
const runDrill = async (...a: Parameters<typeof import('./drill.js').runDrill>) => (await import('./drill.js')).runDrill(...a);
const runStatus = async (...a: Parameters<typeof import('./control.js').runStatus>) => (await import('./control.js')).runStatus(...a);
const realserver = async () => import('./realserver.js');
const runCommand = async (...a: Parameters<typeof import('./control.js').runCommand>) => (await import('./control.js')).runCommand(...a);

/** The version in package.json (two levels up from src/cli and from dist/cli alike). */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** FILE as an argument or as -f FILE (one of them). */
function oneFile(command: string, positional: string | undefined, flag: string | undefined): string | undefined {
  if (positional !== undefined && flag !== undefined && positional !== flag) {
    process.stderr.write(`vipkeeper ${command}: give the config once, as FILE or as -f FILE\n`);
    return undefined;
  }
  const f = positional ?? flag;
  if (f === undefined) process.stderr.write(`vipkeeper ${command}: which config? give FILE or -f FILE\n`);
  return f;
}

/** Why `rs` is not ADDRESS, ADDRESS:PORT or [IPv6]:PORT, or undefined when it is. */
export function realServerArgError(rs: string): string | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(rs) ?? /^([^:]+):(\d+)$/.exec(rs);
  const [addr, port] = m ? [m[1]!, Number(m[2])] : [rs, undefined];
  const fam = isIP(addr);
  if (fam === 0 || (m && rs.startsWith('[') && fam !== 6)) return `'${rs}' is not a real server: give ADDRESS:PORT, [IPv6]:PORT or ADDRESS (e.g. 10.0.0.11:80, [fd00::11]:80)`;
  if (port !== undefined && (port < 1 || port > 65535)) return `'${rs}': port ${port} is not between 1 and 65535`;
  return undefined;
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('vipkeeper')
    .description('VRRP, health checks and IPVS for an LVS director pair; a keepalived replacement')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`vipkeeper: ${str.replace(/^error: /, '')}`) })
    .showHelpAfterError("(run 'vipkeeper --help' for the commands, 'vipkeeper COMMAND --help' for one)");

  program
    .command('check')
    .description('validate a config (vipkeeper YAML or keepalived.conf) as run and reload do, and warn about every keyword vipkeeper does not act on; exit 0 valid, 1 invalid, 3 unreadable')
    .argument('[FILE]', 'config file (or -f FILE)')
    .option('-f, --file <FILE>', 'config file')
    .option('-i, --config-id <ID>', 'config-id for @ID lines in keepalived.conf (default: host name up to the first dot)')
    .option('--no-host-checks', "do not check this host's interfaces and scripts (when checking for another machine)")
    .option('--json', 'print the result as JSON')
    .option('--live', 'also ask the LAN once who answers ARP for each DR/TUN VIP (a real server answering is the "ARP problem"); exit 1 if one does')
    .action(async (file: string | undefined, o: { file?: string; configId?: string; json?: boolean; hostChecks?: boolean; live?: boolean }) => {
      const f = oneFile('check', file, o.file);
      if (f === undefined) return setExit(EXIT.usage);
      setExit(await runCheck({ ...o, file: f }));
    });

  program
    .command('migrate')
    .description('convert a keepalived.conf or an ldirectord.cf (format detected) to vipkeeper YAML; keywords vipkeeper does not act on become comments (keepalived) or header lines (ldirectord), each with its line')
    .argument('[FILE]', 'keepalived.conf to read (or -f FILE)')
    .option('-f, --file <FILE>', 'keepalived.conf to read')
    .option('-o, --output <OUT>', 'write the YAML here (mode 0600, atomically) instead of standard output')
    .option('-i, --config-id <ID>', 'config-id for @ID lines (default: host name up to the first dot)')
    .option('--json', 'print the normalized model as JSON instead of YAML')
    .action(async (file: string | undefined, o: { file?: string; output?: string; configId?: string; json?: boolean }) => {
      const f = oneFile('migrate', file, o.file);
      if (f === undefined) return setExit(EXIT.usage);
      setExit(await runMigrate({ ...o, file: f }));
    });

  program
    .command('run')
    .description('run the daemon in the foreground (YAML or keepalived.conf); SIGHUP reloads, SIGTERM/SIGINT stop gracefully')
    .requiredOption('-f, --file <FILE>', 'config file')
    .option('-i, --config-id <ID>', 'config-id for @ID lines in keepalived.conf (default: host name up to the first dot)')
    .option('--transport <KIND>', 'raw: VRRP over IP protocol 112 (default, needs CAP_NET_RAW); udp: vipkeeper-to-vipkeeper only, not interoperable', 'raw')
    .option('--udp-port <PORT>', 'UDP port for --transport udp (default 12112)')
    .option('--log-level <LEVEL>', 'fatal, error, warn, info, debug, trace or silent', 'info')
    .option('--socket <PATH>', 'control socket (default: control.socket in the config, /run/vipkeeper/vipkeeper.sock)')
    .action(async (o: { file: string; configId?: string; transport?: string; udpPort?: string; logLevel?: string; socket?: string }) =>
      setExit(await runRun({ ...o, ...(o.socket ?? process.env.VIPKEEPER_SOCKET ? { socket: o.socket ?? process.env.VIPKEEPER_SOCKET } : {}) })),
    );

  program
    .command('cleanup')
    .description('remove every VIP of the config from this host (systemd ExecStopPost)')
    .requiredOption('-f, --file <FILE>', 'config file')
    .option('-i, --config-id <ID>', 'config-id for @ID lines in keepalived.conf')
    .action(async (o: { file: string; configId?: string }) => setExit(await runCleanup(o)));

  const socketOpt = ['--socket <PATH>', 'control socket (default $VIPKEEPER_SOCKET or /run/vipkeeper/vipkeeper.sock)'] as const;
  program
    .command('status')
    .description('show VRRP states and the IPVS table with check verdicts')
    .option(...socketOpt)
    .option('--json', 'print the full status as JSON')
    .option('-w, --watch [SECONDS]', 'redraw every SECONDS (default 2, from 0.5 to 3600) until interrupted')
    .option('--count <N>', 'with --watch: stop after N draws')
    .action(async (o: { socket?: string; json?: boolean; watch?: string | boolean; count?: string }) => {
      const { watchInterval } = await import('./control.js');
      const watch = watchInterval(o.watch);
      const count = o.count === undefined ? undefined : Number(o.count);
      if (typeof watch === 'string' || (count !== undefined && !(Number.isInteger(count) && count > 0))) {
        process.stderr.write(`vipkeeper status: ${typeof watch === 'string' ? watch : `--count takes a positive whole number, not '${o.count}'`}\n`);
        return setExit(EXIT.usage);
      }
      setExit(await runStatus({ ...(o.socket ? { socket: o.socket } : {}), ...(o.json ? { json: true } : {}), ...(watch !== undefined ? { watch } : {}), ...(count !== undefined ? { count } : {}) }));
    });
  for (const [name, path, desc] of [
    ['drain', '/drain', 'set a real server to weight 0, then remove it once its connections end'],
    ['undrain', '/undrain', 'put a drained real server back'],
  ] as const) {
    program
      .command(name)
      .description(desc)
      .argument('<RS>', 'real server as ADDRESS:PORT ([v6]:PORT)')
      .option('--vs <VS>', 'only in this virtual server (e.g. "TCP 10.0.0.1:80")')
      .option(...socketOpt)
      .action(async (rs: string, o: { vs?: string; socket?: string }) => {
        // A malformed address is a usage error, said before the daemon is asked anything.
        const bad = realServerArgError(rs);
        if (bad) {
          process.stderr.write(`vipkeeper ${name}: ${bad}\n`);
          return setExit(EXIT.usage);
        }
        setExit(await runCommand(path, { rs, ...(o.vs ? { vs: o.vs } : {}) }, o));
      });
  }
  program
    .command('maintenance')
    .description('on: this node stops competing for MASTER (hands over first) and, with bgp, drains then withdraws its VIPs; off: competes and announces again')
    .argument('<on|off>')
    .option(...socketOpt)
    .action(async (v: string, o: { socket?: string }) => {
      if (v !== 'on' && v !== 'off') {
        process.stderr.write('vipkeeper maintenance: say on or off\n');
        return setExit(EXIT.usage);
      }
      setExit(await runCommand('/maintenance', { on: v === 'on' }, o));
    });
  program
    .command('stepdown')
    .description('a MASTER hands over to its peer (priority 0) and stays BACKUP until the peer yields')
    .option('--instance <NAME>', 'only this VRRP instance (default: all)')
    .option(...socketOpt)
    .action(async (o: { instance?: string; socket?: string }) => setExit(await runCommand('/stepdown', o.instance ? { instance: o.instance } : {}, o)));
  program
    .command('drill')
    .description('failover drill on the MASTER: pre-checks, stepdown, timeline of the takeover by the peer, JSON report; exit 0 pass, 1 refused/failed')
    .option('--instance <NAME>', 'the VRRP instance (default: the only one)')
    .option('--peer-socket <PATH>', "the peer daemon's control socket (needed for --hand-back)")
    .option('--peer-status <URL>', "the peer's read-only HTTP status listener, e.g. http://10.0.0.2:9100")
    .option('--peer-timeout <DURATION>', 'give up waiting for the takeover after this long', '10s')
    .option('--hand-back', 'after a pass, ask the peer to step down and measure mastership coming back')
    .option('--report <FILE>', 'JSON report (default ./vipkeeper-drill-<time>.json)')
    .option('--svg <FILE>', 'also draw the timeline as an SVG picture into FILE')
    .option('--json', 'print the report as JSON instead of the timeline')
    .option(...socketOpt)
    .action(async (o: DrillOptions) => setExit(await runDrill(o)));
  const rs = program
    .command('realserver')
    .description('the LVS real-server side: up applies what DR/TUN need (VIPs on lo or a tunnel, ARP sysctls), down restores what was there, status shows set/missing');
  const collect = (v: string, prev: string[] = []) => [...prev, v];
  const rsConfig = (c: Command) =>
    c
      .option('-f, --file <FILE>', 'real-server YAML config (mode, dev, vips, tunnel_dev, tunnel6_dev, director)')
      .option('--vip <ADDR>', 'a VIP (repeat for more)', collect)
      .option('--mode <MODE>', 'dr (default), tun or nat')
      .option('--dev <IF>', 'the LAN interface (default eth0)')
      .option('--tunnel-dev <IF>', 'tun: the ipip device for IPv4 VIPs (default tunl0)')
      .option('--tunnel6-dev <IF>', 'tun: the ip6tnl device for IPv6 VIPs (default ip6tnl0)')
      .option('--director <ADDR>', "nat: the director's address the default route must point at")
      .option('--state <PATH>', `where up records what it changed (default /run/vipkeeper-realserver/state, mode 0600)`);
  rsConfig(rs.command('up').description('apply the real-server set-up (idempotent); exit 0 done, 1 a problem remains, 3 a change failed'))
    .option('--dry-run', 'print the changes without making them')
    .action(async (o: import('./realserver.js').RealServerOptions) => setExit(await (await realserver()).runRealServerUp(o)));
  rs.command('down')
    .description("undo exactly what 'up' changed (from the state file); idempotent")
    .option('--state <PATH>', 'the state file up wrote (default /run/vipkeeper-realserver/state)')
    .action(async (o: import('./realserver.js').RealServerOptions) => setExit(await (await realserver()).runRealServerDown(o)));
  rsConfig(rs.command('status').description('what is set and what is missing; exit 0 all set, 1 something missing'))
    .option('--json', 'print the status as JSON')
    .action(async (o: import('./realserver.js').RealServerOptions) => setExit((await realserver()).runRealServerStatus(o)));

  program
    .command('reload')
    .description('ask the daemon to reload its config (like SIGHUP); a bad config is refused')
    .option(...socketOpt)
    .action(async (o: { socket?: string }) => setExit(await runCommand('/reload', {}, o)));

  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    process.stderr.write(`vipkeeper: internal error: ${(e as Error).message}\n`);
    return EXIT.runtime;
  }
  return code;
}


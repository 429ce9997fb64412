// The `vipkeeper` command line. Thin: parse arguments, call into src/config and
// friends, map the outcome to an exit code (see exit-codes.ts).
import { Command, CommanderError } from 'commander';
import { runCheck } from './check.js';
import { runCleanup } from './cleanup.js';
import { EXIT } from './exit-codes.js';
import { runMigrate } from './migrate.js';
import { runRun } from './run.js';

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('vipkeeper')
    .description('VRRP, health checks and IPVS for an LVS director pair; a keepalived replacement')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('check')
    .description('validate a config (vipkeeper YAML or keepalived.conf); exit 0 valid, 1 invalid')
    .requiredOption('-f, --file <FILE>', 'config file')
    .option('-i, --config-id <ID>', 'config-id for @ID lines in keepalived.conf (default: host name up to the first dot)')
    .option('--json', 'print the result as JSON')
    .action((o: { file: string; configId?: string; json?: boolean }) => setExit(runCheck(o)));

  program
    .command('migrate')
    .description('convert a keepalived.conf to vipkeeper YAML')
    .argument('<FILE>', 'keepalived.conf to read')
    .option('-o, --output <OUT>', 'write the YAML here instead of standard output')
    .option('-i, --config-id <ID>', 'config-id for @ID lines (default: host name up to the first dot)')
    .option('--json', 'print the normalized model as JSON instead of YAML')
    .action((file: string, o: { output?: string; configId?: string; json?: boolean }) => setExit(runMigrate({ file, ...o })));

  program
    .command('run')
    .description('run VRRP in the foreground (YAML or keepalived.conf); SIGTERM/SIGINT stops it gracefully')
    .requiredOption('-f, --file <FILE>', 'config file')
    .option('-i, --config-id <ID>', 'config-id for @ID lines in keepalived.conf (default: host name up to the first dot)')
    .option('--transport <KIND>', 'raw: VRRP over IP protocol 112 (default, needs CAP_NET_RAW); udp: vipkeeper-to-vipkeeper only, not interoperable', 'raw')
    .option('--udp-port <PORT>', 'UDP port for --transport udp (default 12112)')
    .option('--log-level <LEVEL>', 'fatal, error, warn, info, debug, trace or silent', 'info')
    .action(async (o: { file: string; configId?: string; transport?: string; udpPort?: string; logLevel?: string }) => setExit(await runRun(o)));

  program
    .command('cleanup')
    .description('remove every VIP of the config from this host (systemd ExecStopPost)')
    .requiredOption('-f, --file <FILE>', 'config file')
    .option('-i, --config-id <ID>', 'config-id for @ID lines in keepalived.conf')
    .action(async (o: { file: string; configId?: string }) => setExit(await runCleanup(o)));

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


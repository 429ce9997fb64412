/**
 * `vipkeeper run` as a child process inside a lab namespace (via tsx from the source tree), with
 * its JSON log read back as state transitions.
 */
import path from 'node:path';

import type { NetnsLab } from './netns.js';
import { REPO_ROOT, type ChildProc } from './process.js';
import { waitFor } from './wait.js';

export interface VkTransition {
  instance: string;
  vrid: number;
  from: string;
  to: string;
  reason: string;
  time: string;
}

/** `node --import tsx src/cli/bin.ts`: append the subcommand and its arguments. */
export const vipkeeperArgv = (): string[] => [process.execPath, '--import', 'tsx', path.join(REPO_ROOT, 'src', 'cli', 'bin.ts')];

export class VipkeeperProc {
  constructor(
    readonly proc: ChildProc,
    readonly ns: string,
    /** The daemon's control socket. */
    readonly socket: string = '',
  ) {}

  get pid(): number {
    const p = this.proc.child.pid;
    if (p === undefined) throw new Error(`vipkeeper in ${this.ns} has no PID (spawn failed)\n${this.proc.describe()}`);
    return p;
  }

  /** JSON log lines printed so far. */
  logs(): Record<string, unknown>[] {
    return this.proc.jsonLines();
  }

  /** State transitions logged so far (of one instance, or all), in order. */
  transitions(instance?: string): VkTransition[] {
    return this.logs()
      .filter((o) => typeof o.to === 'string' && typeof o.from === 'string' && typeof o.instance === 'string' && (instance === undefined || o.instance === instance))
      .map((o) => o as unknown as VkTransition);
  }

  state(instance: string): string | undefined {
    return this.transitions(instance).at(-1)?.to;
  }

  /** Wait until the instance's latest transition is to `state`; fails early if the daemon exits. */
  async waitState(instance: string, state: string, timeoutMs = 10_000): Promise<number> {
    return waitFor(
      () => `vipkeeper ${this.ns} ${instance} to be ${state} (is ${this.state(instance) ?? 'nothing'})\n${this.proc.describe()}`,
      () => {
        if (!this.proc.running) throw new Error(`vipkeeper in ${this.ns} exited\n${this.proc.describe()}`);
        return this.state(instance) === state;
      },
      timeoutMs,
    );
  }

  /** Graceful stop: SIGTERM to our PID, then wait for exit (it must exit 0). */
  async terminate(timeoutMs = 10_000): Promise<void> {
    if (!this.proc.running) return;
    process.kill(this.pid, 'SIGTERM');
    await this.proc.waitExit(timeoutMs, true);
  }

  /** A crash: SIGSTOP (nothing more is sent), then SIGKILL. */
  async crash(): Promise<void> {
    if (!this.proc.running) return;
    process.kill(this.pid, 'SIGSTOP');
    process.kill(this.pid, 'SIGKILL');
    await this.proc.exited;
  }
}

export interface StartVipkeeperOptions {
  transport?: 'raw' | 'udp';
  logLevel?: string;
  /** Wait for "vipkeeper running" (default true). */
  waitRunning?: boolean;
  /** Control socket; default: one per namespace beside the config, so daemons never collide. */
  socket?: string;
  /** `--config-id` (default `test`). */
  configId?: string;
  /** Extra environment (e.g. VIPKEEPER_TEST_HOOKS=1), on top of ours. */
  env?: NodeJS.ProcessEnv;
}

/** `vipkeeper run -f CONF` in `ns`. */
export async function startVipkeeper(lab: NetnsLab, ns: string, conf: string, opts: StartVipkeeperOptions = {}): Promise<VipkeeperProc> {
  const socket = opts.socket ?? path.join(path.dirname(conf), `vipkeeper-${ns}.sock`);
  const argv = [
    ...vipkeeperArgv(),
    'run',
    '-f',
    conf,
    '--config-id',
    opts.configId ?? 'test',
    '--log-level',
    opts.logLevel ?? 'info',
    ...(opts.transport ? ['--transport', opts.transport] : []),
    '--socket',
    socket,
  ];
  const proc = lab.spawn(ns, argv, `vipkeeper run ${path.basename(conf)}`, opts.env ? { env: { ...process.env, ...opts.env } } : {});
  const vk = new VipkeeperProc(proc, ns, socket);
  if (opts.waitRunning ?? true) await proc.waitForLine(/"msg":"vipkeeper running"/, 20_000);
  return vk;
}

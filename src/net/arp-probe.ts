/**
 * Asking the LAN "who has VIP?" with iputils arping (the one ARP prober; `vipkeeper drill` and the
 * director's ARP-problem watch both use it). iputils takes only whole-second intervals, so
 * `ArpProber` runs one-shot `arping -c 1 -w 1` processes on its own timer; `arpOnce` runs one
 * arping for a short window and returns every MAC that answered. Every arping is our own child,
 * killed by its PID; it needs CAP_NET_RAW (arping has it as a file capability on Debian).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { networkInterfaces } from 'node:os';

/** Milliseconds on a monotonic clock (performance.now), rounded to 0.1 ms. */
function nowMs(): number {
  return Math.round(performance.now() * 10) / 10;
}

/** Every MAC of this host's interfaces (VMACs included), lower case: answers from these are ours. */
export function localMacs(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.mac && a.mac !== '00:00:00:00:00:00') out.add(a.mac.toLowerCase());
  return out;
}

/** The interface holding `address` now, if any (it is ours: we are its MASTER). */
export function interfaceOf(address: string): string | undefined {
  for (const [name, list] of Object.entries(networkInterfaces())) if (list?.some((a) => a.address === address)) return name;
  return undefined;
}

/** The interface's MAC ('aa:bb:..'), from os.networkInterfaces(). */
export function localMac(ifname: string): string | undefined {
  const mac = networkInterfaces()[ifname]?.find((a) => a.mac && a.mac !== '00:00:00:00:00:00')?.mac;
  return mac?.toLowerCase();
}

/** The interface's first IPv4 address that is not one of `exclude` (the VIPs): arping's source. */
export function primaryIpv4(ifname: string, exclude: ReadonlySet<string>): string | undefined {
  return networkInterfaces()[ifname]?.find((a) => a.family === 'IPv4' && !exclude.has(a.address))?.address;
}


export interface ArpReply {
  at: number;
  mac: string;
}

/** iputils arping on PATH? */
export function findArping(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v arping'], { encoding: 'utf8' });
  const p = (r.stdout ?? '').trim();
  return r.status === 0 && p ? p : undefined;
}

const REPLY_RE = /reply from (\S+) \[([0-9a-fA-F:]{17})\]/;

/** An arping output line's reply: the address asked for and the MAC that answered. */
export function parseArpingReply(line: string): { ip: string; mac: string } | undefined {
  const m = REPLY_RE.exec(line);
  return m ? { ip: m[1]!, mac: m[2]!.toLowerCase() } : undefined;
}

export interface ArpOnceResult {
  /** Distinct MACs that answered for the VIP, in order of first answer. */
  macs: string[];
  /** arping's complaint when it could not ask (no such interface, no permission). */
  error?: string;
}

/**
 * One look: broadcasts "who has VIP" from `ifname` for `waitS` seconds (one request a second,
 * `-b` so every owner keeps being asked) and returns every MAC that answered. Bounded: arping's
 * own deadline, and a kill 2 s after it.
 */
export function arpOnce(arping: string, opts: { ifname: string; vip: string; source?: string; waitS?: number }): Promise<ArpOnceResult> {
  const waitS = Math.max(1, Math.round(opts.waitS ?? 1));
  const args = ['-b', '-c', '1000', '-w', String(waitS), '-I', opts.ifname, ...(opts.source ? ['-s', opts.source] : []), opts.vip];
  return new Promise((resolve) => {
    const macs: string[] = [];
    let out = '';
    let err = '';
    const child = spawn(arping, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), (waitS + 2) * 1000);
    child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.once('error', (e) => {
      clearTimeout(killer);
      resolve({ macs, error: e.message });
    });
    child.once('close', (code) => {
      clearTimeout(killer);
      for (const l of out.split('\n')) {
        const r = parseArpingReply(l);
        if (r && r.ip === opts.vip && !macs.includes(r.mac)) macs.push(r.mac);
      }
      // exit 1 = nobody answered: fine. Anything else is arping failing to ask.
      if (code !== 0 && code !== 1) resolve({ macs, error: err.trim() || `arping exited ${String(code)}` });
      else resolve({ macs });
    });
  });
}

/**
 * Sends "who has VIP" from this node every `everyMs` (one-shot arping processes, at most
 * `maxInFlight` alive) until stopped; records every reply. `arping -b` keeps broadcasting, so the
 * new owner answers even after another MAC did.
 */
export class ArpProber {
  readonly replies: ArpReply[] = [];
  readonly sent: number[] = [];
  errors: string[] = [];
  readonly #children = new Set<ChildProcess>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    readonly arping: string,
    readonly opts: { ifname: string; vip: string; source?: string; everyMs?: number; maxInFlight?: number },
  ) {}

  start(): void {
    const every = this.opts.everyMs ?? 25;
    const tick = (): void => {
      if (this.#stopped) return;
      if (this.#children.size < (this.opts.maxInFlight ?? 40)) this.#one();
      this.#timer = setTimeout(tick, every);
    };
    tick();
  }

  #one(): void {
    const args = ['-b', '-c', '1', '-w', '1', '-I', this.opts.ifname, ...(this.opts.source ? ['-s', this.opts.source] : []), this.opts.vip];
    const child = spawn(this.arping, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.sent.push(nowMs());
    this.#children.add(child);
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      const at = nowMs();
      buf += c.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        const r = parseArpingReply(l);
        if (r && r.ip === this.opts.vip) this.replies.push({ at, mac: r.mac });
      }
    });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
    child.once('error', (e) => {
      this.#children.delete(child);
      if (this.errors.length < 5) this.errors.push(e.message);
    });
    child.once('close', (code) => {
      this.#children.delete(child);
      // exit 1 = no reply: normal while nobody owns the VIP. Anything else (or text on stderr) is a problem.
      if (code !== 0 && code !== 1 && this.errors.length < 5) this.errors.push(err.trim() || `arping exited ${code}`);
      else if (err.trim() && this.errors.length < 5 && !this.errors.includes(err.trim())) this.errors.push(err.trim());
    });
  }

  firstFrom(since: number, pred: (mac: string) => boolean): ArpReply | undefined {
    return this.replies.find((r) => r.at >= since && pred(r.mac));
  }

  /** Stops sending and kills the arpings still waiting (our own children, by PID). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    for (const c of this.#children) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    this.#children.clear();
  }
}

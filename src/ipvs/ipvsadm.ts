// The IPVS backend over the `ipvsadm` binary (ipvsadm 1.31, Debian 12).
//
// Reading: `ipvsadm -Sn` gives every service and destination with all settable fields except the
// connection thresholds, which only `ipvsadm -Ln --thresholds` shows (with ActiveConn/InActConn, used
// for draining); both are read and merged. Writing: a plan is rendered as an `ipvsadm -R` script and
// applied in ONE process. `ipvsadm -R` runs every line even after a failed one and exits with the
// status of the LAST line only, so any output on stderr counts as a failure.
//
// Facts checked on Linux 6.1 with ipvsadm 1.31 (test/ipvs-real.test.ts):
// - `-Sn` prints `-M` only when it differs from the default (/32, or 128 for IPv6), `--pe`, `-o`,
//   and `-b` with scheduler-specific flag names (sh-port, mh-fallback, ...). It never prints -x/-y.
// - `-b sh-port` is refused for a scheduler other than sh ("incompatible scheduler flag"), while the
//   generic `flag-1`/`flag-2`/`flag-3` are accepted for every scheduler, so those are rendered.
// - For a DR or TUN destination of a non-fwmark service ipvsadm replaces the port with the service's.
// - `-E` and `-e` set every field given and reset the others to their defaults, so an edit always
//   carries the full spec.
import { spawn } from 'node:child_process';
import { IpvsError, type ApplyResult, type IpvsBackend, type IpvsTimeouts, type SyncDaemon, type SyncDaemonRole } from './backend.js';
import { TableIndex, type Operation } from './diff.js';
import {
  canonicalAddress,
  defaultNetmask,
  destKey,
  hostPort,
  normalizeTable,
  serviceFamily,
  serviceKey,
  type Dest,
  type DestSpec,
  type Family,
  type Forwarding,
  type IpvsTable,
  type Protocol,
  type SchedFlag,
  type Service,
  type ServiceId,
  type ServiceSpec,
  type Tunnel,
} from './model.js';

// ---------------------------------------------------------------- rendering

export function serviceArgs(id: ServiceId): string {
  if (id.kind === 'fwmark') return `-f ${id.fwmark}${id.family === 'inet6' ? ' -6' : ''}`;
  const flag = id.protocol === 'TCP' ? '-t' : id.protocol === 'UDP' ? '-u' : '--sctp-service';
  return `${flag} ${hostPort(id.address, id.port)}`;
}

export function specArgs(id: ServiceId, s: ServiceSpec): string {
  let out = `-s ${s.scheduler}`;
  if (s.persistence) {
    out += ` -p ${s.persistence.timeout}`;
    if (s.persistence.netmask !== defaultNetmask(serviceFamily(id))) out += ` -M ${s.persistence.netmask}`;
  }
  if (s.pe) out += ` --pe ${s.pe}`;
  if (s.ops) out += ' -o';
  if (s.flags.length) out += ` -b ${s.flags.join(',')}`;
  return out;
}

const FWD_FLAG: Record<Forwarding, string> = { DR: '-g', NAT: '-m', TUN: '-i' };

export function destArgs(d: DestSpec & { address: string; port: number }): string {
  let out = `-r ${hostPort(d.address, d.port)} ${FWD_FLAG[d.forwarding]} -w ${d.weight}`;
  if (d.uthreshold) out += ` -x ${d.uthreshold}`;
  if (d.lthreshold) out += ` -y ${d.lthreshold}`;
  if (d.forwarding === 'TUN' && d.tunnel) {
    out += ` --tun-type ${d.tunnel.type}`;
    if (d.tunnel.port !== undefined) out += ` --tun-port ${d.tunnel.port}`;
    if (d.tunnel.csum) out += ` --tun-${d.tunnel.csum}`;
  }
  return out;
}

/** One `ipvsadm -R` line for an operation. */
export function renderOperation(o: Operation): string {
  const svc = serviceArgs(o.service);
  switch (o.op) {
    case 'add-service':
      return `-A ${svc} ${specArgs(o.service, o.spec)}`;
    case 'edit-service':
      return `-E ${svc} ${specArgs(o.service, o.spec)}`;
    case 'delete-service':
      return `-D ${svc}`;
    case 'add-dest':
      return `-a ${svc} ${destArgs(o.dest)}`;
    case 'edit-dest':
      return `-e ${svc} ${destArgs(o.dest)}`;
    case 'delete-dest':
      return `-d ${svc} -r ${hostPort(o.dest.address, o.dest.port)}`;
  }
}

/** The `ipvsadm -R` script for a plan ('' for an empty plan). */
export function renderScript(ops: readonly Operation[]): string {
  return ops.map((o) => `${renderOperation(o)}\n`).join('');
}

/**
 * A table in `ipvsadm -Sn` form (plus -x/-y, which -Sn leaves out), one line per service and dest.
 * With `sorted`, lines are sorted, which is how two dumps are compared.
 */
export function renderSave(table: readonly Service[], opts: { thresholds?: boolean } = {}): string {
  const lines: string[] = [];
  for (const s of table) {
    lines.push(`-A ${serviceArgs(s.id)} ${specArgs(s.id, s)}`);
    for (const d of s.dests) {
      const dd = opts.thresholds ? d : { ...d, uthreshold: 0, lthreshold: 0 };
      lines.push(`-a ${serviceArgs(s.id)} ${destArgs(dd)}`);
    }
  }
  return lines.map((l) => `${l}\n`).join('');
}

// ---------------------------------------------------------------- parsing ipvsadm command lines

export type ParsedCommand = { op: 'flush' } | Operation;

const IPV4_PORT = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}):(\d{1,5})$/;

/** `10.0.0.1:80`, `[2001:db8::1]:80`, `10.0.0.1` (port 0). */
export function parseHostPort(text: string): { address: string; port: number } {
  const v4 = IPV4_PORT.exec(text);
  if (v4 && Number(v4[2]) <= 65535) return { address: canonicalAddress(v4[1] as string), port: Number(v4[2]) };
  let host = text;
  let port = 0;
  const b = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (b) {
    host = b[1] as string;
    port = b[2] !== undefined ? Number(b[2]) : 0;
  } else if ((text.match(/:/g) ?? []).length === 1) {
    const i = text.indexOf(':');
    host = text.slice(0, i);
    port = Number(text.slice(i + 1));
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SyntaxError(`Invalid port in '${text}'`);
  return { address: canonicalAddress(host), port };
}

const LONG: Record<string, string> = {
  '--add-service': '-A',
  '--edit-service': '-E',
  '--delete-service': '-D',
  '--clear': '-C',
  '--add-server': '-a',
  '--edit-server': '-e',
  '--delete-server': '-d',
  '--tcp-service': '-t',
  '--udp-service': '-u',
  '--fwmark-service': '-f',
  '--scheduler': '-s',
  '--persistent': '-p',
  '--netmask': '-M',
  '--real-server': '-r',
  '--gatewaying': '-g',
  '--masquerading': '-m',
  '--ipip': '-i',
  '--weight': '-w',
  '--u-threshold': '-x',
  '--l-threshold': '-y',
  '--ipv6': '-6',
  '--ops': '-o',
  '--sched-flags': '-b',
};

/**
 * Parses one `ipvsadm` command line (as in an `-R` script or `-Sn` output) into an operation.
 * With `forceDestPort` (the default) a DR/TUN destination of an address service gets the service's
 * port, as ipvsadm itself does on -a/-e; a `-Sn` dump is parsed without it (it shows the kernel).
 */
export function parseCommand(line: string, opts: { forceDestPort?: boolean } = {}): ParsedCommand {
  const toks = line.trim().split(/\s+/);
  if (toks[0] === 'ipvsadm') toks.shift();
  let cmd: string | undefined;
  let svcProto: Protocol | 'FWM' | undefined;
  let svcText: string | undefined;
  let v6 = false;
  let sched = 'wlc';
  let persistent: number | undefined;
  let netmask: string | undefined;
  let pe: string | undefined;
  let ops = false;
  let flags: SchedFlag[] = [];
  let real: string | undefined;
  let forwarding: Forwarding = 'DR';
  let weight = 1;
  let ux = 0;
  let ly = 0;
  let tunType: Tunnel['type'] | undefined;
  let tunPort: number | undefined;
  let tunCsum: Tunnel['csum'] | undefined;
  const need = (i: number, what: string): string => {
    const v = toks[i];
    if (v === undefined) throw new SyntaxError(`Missing value for ${what} in '${line}'`);
    return v;
  };
  const int = (v: string, what: string): number => {
    if (!/^\d+$/.test(v)) throw new SyntaxError(`Invalid ${what} '${v}' in '${line}'`);
    return Number(v);
  };
  for (let i = 0; i < toks.length; i++) {
    const raw = toks[i] as string;
    if (raw === '') continue;
    const t = LONG[raw] ?? raw;
    switch (t) {
      case '-A':
      case '-E':
      case '-D':
      case '-C':
      case '-a':
      case '-e':
      case '-d':
        if (cmd) throw new SyntaxError(`Two commands in '${line}'`);
        cmd = t;
        break;
      case '-t':
      case '-u':
      case '--sctp-service':
        svcProto = t === '-t' ? 'TCP' : t === '-u' ? 'UDP' : 'SCTP';
        svcText = need(++i, t);
        break;
      case '-f':
        svcProto = 'FWM';
        svcText = need(++i, t);
        break;
      case '-6':
        v6 = true;
        break;
      case '-s':
        sched = need(++i, t);
        break;
      case '-p': {
        const next = toks[i + 1];
        if (next !== undefined && /^\d+$/.test(next)) {
          persistent = Number(next);
          i++;
        } else persistent = 300;
        break;
      }
      case '-M':
        netmask = need(++i, t);
        break;
      case '--pe':
        pe = need(++i, t);
        break;
      case '-o':
        ops = true;
        break;
      case '-b':
        flags = need(++i, t)
          .split(',')
          .filter(Boolean)
          .map((f) => {
            if (f === 'flag-1' || f === 'sh-fallback' || f === 'mh-fallback') return 'flag-1';
            if (f === 'flag-2' || f === 'sh-port' || f === 'mh-port') return 'flag-2';
            if (f === 'flag-3') return 'flag-3';
            throw new SyntaxError(`Unknown scheduler flag '${f}' in '${line}'`);
          });
        break;
      case '-r':
        real = need(++i, t);
        break;
      case '-g':
        forwarding = 'DR';
        break;
      case '-m':
        forwarding = 'NAT';
        break;
      case '-i':
        forwarding = 'TUN';
        break;
      case '-w':
        weight = int(need(++i, t), 'weight');
        break;
      case '-x':
        ux = int(need(++i, t), 'upper threshold');
        break;
      case '-y':
        ly = int(need(++i, t), 'lower threshold');
        break;
      case '--tun-type': {
        const v = need(++i, t);
        if (v !== 'ipip' && v !== 'gue' && v !== 'gre') throw new SyntaxError(`Unknown tunnel type '${v}' in '${line}'`);
        tunType = v;
        break;
      }
      case '--tun-port':
        tunPort = int(need(++i, t), 'tunnel port');
        break;
      case '--tun-nocsum':
        tunCsum = undefined;
        break;
      case '--tun-csum':
        tunCsum = 'csum';
        break;
      case '--tun-remcsum':
        tunCsum = 'remcsum';
        break;
      case '-n':
        break;
      default:
        throw new SyntaxError(`Unknown ipvsadm option '${raw}' in '${line}'`);
    }
  }
  if (!cmd) throw new SyntaxError(`No command in '${line}'`);
  if (cmd === '-C') return { op: 'flush' };
  if (!svcProto || svcText === undefined) throw new SyntaxError(`No service in '${line}'`);
  let service: ServiceId;
  if (svcProto === 'FWM') service = { kind: 'fwmark', fwmark: int(svcText, 'fwmark'), family: v6 ? 'inet6' : 'inet' };
  else service = { kind: 'addr', protocol: svcProto, ...parseHostPort(svcText) };
  const family: Family = serviceFamily(service);

  if (cmd === '-A' || cmd === '-E') {
    const spec: ServiceSpec = { scheduler: sched, flags, ops };
    if (persistent !== undefined) spec.persistence = { timeout: persistent, netmask: netmask === undefined ? defaultNetmask(family) : family === 'inet6' ? String(Number(netmask)) : canonicalAddress(netmask) };
    if (pe) spec.pe = pe;
    return { op: cmd === '-A' ? 'add-service' : 'edit-service', service, spec };
  }
  if (cmd === '-D') return { op: 'delete-service', service };
  if (real === undefined) throw new SyntaxError(`No real server in '${line}'`);
  const hp = parseHostPort(real);
  if (cmd === '-d') return { op: 'delete-dest', service, dest: hp };
  // as ipvsadm does: DR/TUN destinations of an address service take the service's port
  if ((opts.forceDestPort ?? true) && service.kind === 'addr' && forwarding !== 'NAT') hp.port = service.port;
  const dest: Dest = { ...hp, forwarding, weight, uthreshold: ux, lthreshold: ly };
  if (forwarding === 'TUN') {
    const tun: Tunnel = { type: tunType ?? 'ipip' };
    if (tun.type === 'gue' && tunPort !== undefined) tun.port = tunPort;
    if (tun.type !== 'ipip' && tunCsum) tun.csum = tunCsum;
    dest.tunnel = tun;
  }
  return { op: cmd === '-a' ? 'add-dest' : 'edit-dest', service, dest };
}

/** Parses an `ipvsadm -R` script (blank lines and `#` comments allowed). */
export function parseScript(text: string, opts: { forceDestPort?: boolean } = {}): ParsedCommand[] {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean)
    .map((l) => parseCommand(l, opts));
}

/** Parses `ipvsadm -Sn` output into a normalised table. */
export function parseSave(text: string): IpvsTable {
  const idx = new TableIndex();
  for (const c of parseScript(text, { forceDestPort: false })) {
    if (c.op !== 'add-service' && c.op !== 'add-dest') throw new SyntaxError(`Unexpected '${c.op}' in ipvsadm -S output`);
    idx.apply(c);
  }
  return normalizeTable(idx.toTable());
}

// ---------------------------------------------------------------- parsing `ipvsadm -L` listings

export interface DestCounters {
  uthreshold: number;
  lthreshold: number;
  activeConns: number;
  inactiveConns: number;
}

interface ListEntry {
  service: ServiceId;
  values: number[];
  dests: Map<string, { dest: { address: string; port: number }; values: number[] }>;
}

function parseListing(text: string): Map<string, ListEntry> {
  const out = new Map<string, ListEntry>();
  let cur: ListEntry | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('IP Virtual Server') || line.startsWith('Prot ') || /^\s+-> RemoteAddress/.test(line)) continue;
    const d = /^\s+->\s+(\S+)\s*(.*)$/.exec(line);
    if (d) {
      if (!cur) throw new SyntaxError(`Destination before any service: '${line}'`);
      const dest = parseHostPort(d[1] as string);
      cur.dests.set(destKey(dest), { dest, values: numbers(d[2] as string) });
      continue;
    }
    const f = /^FWM\s+(\d+)(\s+IPv6)?\s*(.*)$/.exec(line);
    const a = f ? undefined : /^(TCP|UDP|SCTP)\s+(\S+)\s*(.*)$/.exec(line);
    let service: ServiceId;
    let rest: string;
    if (f) {
      service = { kind: 'fwmark', fwmark: Number(f[1]), family: f[2] ? 'inet6' : 'inet' };
      rest = f[3] as string;
    } else if (a) {
      service = { kind: 'addr', protocol: a[1] as Protocol, ...parseHostPort(a[2] as string) };
      rest = a[3] as string;
    } else throw new SyntaxError(`Unrecognised ipvsadm -L line: '${line}'`);
    cur = { service, values: numbers(rest), dests: new Map() };
    out.set(serviceKey(service), cur);
  }
  return out;
}

function numbers(text: string): number[] {
  const t = text.trim();
  if (!/^[\d\sKMGT]*$/.test(t)) return [];
  return t.split(/\s+/).filter(Boolean).map(expandNumber);
}

function expandNumber(v: string): number {
  const m = /^(\d+)([KMGT]?)$/.exec(v);
  if (!m) return NaN;
  const mult = { '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] as '' | 'K' | 'M' | 'G' | 'T'];
  return Number(m[1]) * mult;
}

/** `ipvsadm -Ln --thresholds`: per service key, per dest key, thresholds and connection counts. */
export function parseThresholds(text: string): Map<string, Map<string, DestCounters>> {
  const out = new Map<string, Map<string, DestCounters>>();
  for (const [k, e] of parseListing(text)) {
    const m = new Map<string, DestCounters>();
    for (const [dk, d] of e.dests) {
      const [u = 0, l = 0, act = 0, inact = 0] = d.values;
      m.set(dk, { uthreshold: u, lthreshold: l, activeConns: act, inactiveConns: inact });
    }
    out.set(k, m);
  }
  return out;
}

export interface Counters {
  conns: number;
  inPkts: number;
  outPkts: number;
  inBytes: number;
  outBytes: number;
}

export interface ServiceStats extends Counters {
  dests: Map<string, Counters>;
}

const toCounters = (v: number[]): Counters => ({ conns: v[0] ?? 0, inPkts: v[1] ?? 0, outPkts: v[2] ?? 0, inBytes: v[3] ?? 0, outBytes: v[4] ?? 0 });

/** `ipvsadm -Ln --stats --exact` (or `--rate`, whose five columns map the same way: CPS, InPPS, ...). */
export function parseStats(text: string): Map<string, ServiceStats> {
  const out = new Map<string, ServiceStats>();
  for (const [k, e] of parseListing(text)) {
    const dests = new Map<string, Counters>();
    for (const [dk, d] of e.dests) dests.set(dk, toCounters(d.values));
    out.set(k, { ...toCounters(e.values), dests });
  }
  return out;
}

/** `ipvsadm -Ln --daemon`: `master sync daemon (mcast=eth0, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)`. */
export function parseDaemons(text: string): SyncDaemon[] {
  const out: SyncDaemon[] = [];
  for (const line of text.split('\n')) {
    const m = /^(master|backup) sync daemon \((.*)\)\s*$/.exec(line.trim());
    if (!m) continue;
    const kv = new Map<string, string>();
    for (const part of (m[2] as string).split(',')) {
      const [k, v] = part.split('=').map((x) => x.trim());
      if (k && v !== undefined) kv.set(k, v);
    }
    const d: SyncDaemon = { role: m[1] as SyncDaemonRole, interface: kv.get('mcast') ?? '', syncid: Number(kv.get('syncid') ?? 0) };
    if (kv.has('maxlen')) d.maxlen = Number(kv.get('maxlen'));
    if (kv.has('group')) d.group = kv.get('group') as string;
    if (kv.has('port')) d.port = Number(kv.get('port'));
    if (kv.has('ttl')) d.ttl = Number(kv.get('ttl'));
    out.push(d);
  }
  return out;
}

/** Merges thresholds and connection counts from `-Ln --thresholds` into a table read with `-Sn`. */
export function mergeCounters(table: IpvsTable, counters: Map<string, Map<string, DestCounters>>): IpvsTable {
  for (const s of table) {
    const m = counters.get(serviceKey(s.id));
    for (const d of s.dests) {
      const c = m?.get(destKey(d));
      if (!c) continue;
      d.uthreshold = c.uthreshold;
      d.lthreshold = c.lthreshold;
      d.activeConns = c.activeConns;
      d.inactiveConns = c.inactiveConns;
    }
  }
  return table;
}

// ---------------------------------------------------------------- the backend

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the ipvsadm binary with `args`, feeding `input` on stdin. Rejects only when it cannot start. */
export type Exec = (args: readonly string[], input?: string) => Promise<ExecResult>;

/** `ipvsadm -L --timeout`: "Timeout (tcp tcpfin udp): 900 120 300". */
export function parseTimeouts(out: string): IpvsTimeouts {
  const m = /Timeout \(tcp tcpfin udp\):\s*(\d+)\s+(\d+)\s+(\d+)/.exec(out);
  if (!m) throw new IpvsError('command-failed', `cannot read the IPVS timeouts from 'ipvsadm -L --timeout' (expected "Timeout (tcp tcpfin udp): N N N", got ${JSON.stringify(out.trim().slice(0, 120))})`);
  return { tcp: Number(m[1]), tcpfin: Number(m[2]), udp: Number(m[3]) };
}

export function spawnExec(bin: string, timeoutMs = 60_000): Exec {
  return (args, input) =>
    new Promise((resolve, reject) => {
      const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr: signal ? `${stderr}killed by ${signal}` : stderr }));
      child.stdin.on('error', () => undefined);
      child.stdin.end(input ?? '');
    });
}

export interface IpvsadmBackendOptions {
  /** path or name of the binary (default `ipvsadm`, found on PATH) */
  bin?: string;
  /** replaces the process runner (tests) */
  exec?: Exec;
  timeoutMs?: number;
}

export class IpvsadmBackend implements IpvsBackend {
  readonly name = 'ipvsadm';
  private readonly bin: string;
  private readonly exec: Exec;

  constructor(opts: IpvsadmBackendOptions = {}) {
    this.bin = opts.bin ?? 'ipvsadm';
    this.exec = opts.exec ?? spawnExec(this.bin, opts.timeoutMs);
  }

  private async run(args: readonly string[], input?: string, strictStderr = false): Promise<ExecResult> {
    let r: ExecResult;
    try {
      r = await this.exec(args, input);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') {
        throw new IpvsError('missing-binary', `Cannot run '${this.bin}': not found; install the ipvsadm package (Debian: apt-get install ipvsadm)`);
      }
      throw new IpvsError('command-failed', `Cannot run '${this.bin} ${args.join(' ')}': ${err.message}`);
    }
    const stderr = r.stderr.trim();
    if (/Can't initialize ipvs|Protocol not available|Module ip_vs not found/i.test(stderr)) {
      const reason = stderr.split('\n').find((l) => l.includes("Can't initialize")) ?? stderr.split('\n')[0] ?? '';
      throw new IpvsError('no-ipvs', `IPVS is not available in this kernel (${this.bin} says: ${reason.trim()}); load the ip_vs module or use a kernel with CONFIG_IP_VS`, stderr.split('\n'));
    }
    if (r.code !== 0 || (strictStderr && stderr)) {
      const kind = args[0] === '-R' ? 'apply-failed' : 'command-failed';
      const lines = stderr ? stderr.split('\n') : [`exit status ${r.code}`];
      throw new IpvsError(kind, `'${this.bin} ${args.join(' ')}' failed: ${lines.join('; ')}`, lines);
    }
    return r;
  }

  async read(): Promise<IpvsTable> {
    const [save, thr] = await Promise.all([this.run(['-Sn']), this.run(['-Ln', '--thresholds'])]);
    return mergeCounters(parseSave(save.stdout), parseThresholds(thr.stdout));
  }

  /** Packet/byte counters per service and destination (`-Ln --stats --exact`). */
  async readStats(): Promise<Map<string, ServiceStats>> {
    return parseStats((await this.run(['-Ln', '--stats', '--exact'])).stdout);
  }

  /** Rates per service and destination (`-Ln --rate --exact`: CPS, InPPS, OutPPS, InBPS, OutBPS). */
  async readRates(): Promise<Map<string, ServiceStats>> {
    return parseStats((await this.run(['-Ln', '--rate', '--exact'])).stdout);
  }

  async apply(ops: readonly Operation[]): Promise<ApplyResult> {
    return this.applyScript(renderScript(ops));
  }

  /** Applies a raw `ipvsadm -R` script (also used by tests to set up foreign services or drift). */
  async applyScript(script: string): Promise<ApplyResult> {
    if (!script) return { script, durationMs: 0 };
    const t0 = performance.now();
    await this.run(['-R'], script, true);
    return { script, durationMs: performance.now() - t0 };
  }

  async flush(): Promise<void> {
    await this.run(['-C']);
  }

  async readDaemons(): Promise<SyncDaemon[]> {
    return parseDaemons((await this.run(['-Ln', '--daemon'])).stdout);
  }

  async startDaemon(d: SyncDaemon): Promise<void> {
    const args = ['--start-daemon', d.role, '--mcast-interface', d.interface, '--syncid', String(d.syncid)];
    if (d.maxlen !== undefined) args.push('--sync-maxlen', String(d.maxlen));
    if (d.group !== undefined) args.push('--mcast-group', d.group);
    if (d.port !== undefined) args.push('--mcast-port', String(d.port));
    if (d.ttl !== undefined) args.push('--mcast-ttl', String(d.ttl));
    await this.run(args);
  }

  async stopDaemon(role: SyncDaemonRole): Promise<void> {
    await this.run(['--stop-daemon', role]);
  }

  async readTimeouts(): Promise<IpvsTimeouts> {
    return parseTimeouts((await this.run(['-L', '--timeout'])).stdout);
  }

  async setTimeouts(t: IpvsTimeouts): Promise<void> {
    await this.run(['--set', String(t.tcp), String(t.tcpfin), String(t.udp)]);
  }
}

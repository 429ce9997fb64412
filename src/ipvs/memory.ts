// An in-memory IPVS backend for unit tests (kube-proxy's FakeIPVS): a table plus the checks the
// kernel and ipvsadm make, with ipvsadm -R's batch semantics (every line runs; any refusal makes
// the batch fail). Connection counts are set by the test; `fault` makes every call fail, to model a
// missing ipvsadm or a kernel without IP_VS.
import { IpvsError, type ApplyResult, type IpvsBackend, type IpvsTimeouts, type SyncDaemon, type SyncDaemonRole } from './backend.js';
import { ApplyError, TableIndex, type Operation } from './diff.js';
import { parseScript, renderScript, type ParsedCommand } from './ipvsadm.js';
import { cloneTable, destKey, KNOWN_SCHEDULERS, normalizeTable, serviceKey, type IpvsTable, type Service } from './model.js';

export class MemoryBackend implements IpvsBackend {
  readonly name = 'memory';
  private table: Service[];
  private daemons: SyncDaemon[] = [];
  private conns = new Map<string, { active: number; inactive: number }>();
  /** When set, every call rejects with this error. */
  fault: IpvsError | undefined;
  /** Every script applied, in order. */
  readonly scripts: string[] = [];
  readonly calls = { read: 0, apply: 0, flush: 0, startDaemon: 0, stopDaemon: 0, setTimeouts: 0 };
  /** The kernel's defaults (ipvsadm -L --timeout: 900 120 300). */
  timeouts: IpvsTimeouts = { tcp: 900, tcpfin: 120, udp: 300 };
  /** Schedulers the simulated kernel has (Linux 6.1 lacks twos). */
  schedulers: Set<string> = new Set(KNOWN_SCHEDULERS.filter((s) => s !== 'twos'));

  constructor(initial: IpvsTable = []) {
    this.table = cloneTable(normalizeTable(initial));
  }

  private check(): void {
    if (this.fault) throw this.fault;
  }

  async read(): Promise<IpvsTable> {
    this.calls.read++;
    this.check();
    const t = cloneTable(this.table);
    for (const s of t) {
      for (const d of s.dests) {
        const c = this.conns.get(`${serviceKey(s.id)}|${destKey(d)}`);
        d.activeConns = c?.active ?? 0;
        d.inactiveConns = c?.inactive ?? 0;
      }
    }
    return t;
  }

  async apply(ops: readonly Operation[]): Promise<ApplyResult> {
    return this.run(ops, renderScript(ops));
  }

  /** Applies an `ipvsadm -R` script, with ipvsadm's own argument handling. */
  async applyScript(script: string): Promise<ApplyResult> {
    return this.run(parseScript(script), script);
  }

  private async run(cmds: readonly ParsedCommand[], script: string): Promise<ApplyResult> {
    this.calls.apply++;
    this.check();
    if (!cmds.length) return { script, durationMs: 0 };
    this.scripts.push(script);
    const errors: string[] = [];
    let idx = new TableIndex(this.table);
    for (const c of cmds) {
      if (c.op === 'flush') {
        idx = new TableIndex();
        continue;
      }
      try {
        this.validate(c);
        idx.apply(c);
      } catch (e) {
        if (e instanceof ApplyError) errors.push(e.message);
        else throw e;
      }
    }
    this.table = idx.toTable();
    if (errors.length) throw new IpvsError('apply-failed', `'ipvsadm -R' failed: ${errors.join('; ')}`, errors);
    return { script, durationMs: 0 };
  }

  private validate(o: Operation): void {
    if (o.op === 'add-service' || o.op === 'edit-service') {
      if (!this.schedulers.has(o.spec.scheduler)) throw new ApplyError('Scheduler or persistence engine not found', o);
      if (o.spec.pe && o.spec.pe !== 'sip') throw new ApplyError('Scheduler or persistence engine not found', o);
      if (o.service.kind === 'addr' && o.service.port === 0 && !o.spec.persistence) throw new ApplyError('Zero port specified for non-persistent service', o);
      if (o.spec.ops && o.service.kind === 'addr' && o.service.protocol !== 'UDP') throw new ApplyError('One-Packet Scheduling is only for UDP virtual services', o);
    }
  }

  async flush(): Promise<void> {
    this.calls.flush++;
    this.check();
    this.table = [];
  }

  async readDaemons(): Promise<SyncDaemon[]> {
    this.check();
    return this.daemons.map((d) => ({ ...d }));
  }

  async startDaemon(d: SyncDaemon): Promise<void> {
    this.calls.startDaemon++;
    this.check();
    if (this.daemons.some((x) => x.role === d.role)) throw new IpvsError('command-failed', `'ipvsadm --start-daemon ${d.role}' failed: File exists`);
    this.daemons.push({ ...d });
  }

  async readTimeouts(): Promise<IpvsTimeouts> {
    this.check();
    return { ...this.timeouts };
  }

  async setTimeouts(t: IpvsTimeouts): Promise<void> {
    this.calls.setTimeouts++;
    this.check();
    // as the kernel (ip_vs_set_timeout): a 0 leaves that timeout as it is
    this.timeouts = { tcp: t.tcp || this.timeouts.tcp, tcpfin: t.tcpfin || this.timeouts.tcpfin, udp: t.udp || this.timeouts.udp };
  }

  async stopDaemon(role: SyncDaemonRole): Promise<void> {
    this.calls.stopDaemon++;
    this.check();
    if (!this.daemons.some((x) => x.role === role)) throw new IpvsError('command-failed', `'ipvsadm --stop-daemon ${role}' failed: No such process`);
    this.daemons = this.daemons.filter((x) => x.role !== role);
  }

  // ---------------------------------------------------------------- test helpers

  /** Sets a destination's ActiveConn/InActConn as the kernel would report them. */
  setConnections(service: string, dest: string, active: number, inactive = 0): void {
    this.conns.set(`${service}|${dest}`, { active, inactive });
  }

  /** The table as it stands (a copy, without counters). */
  snapshot(): IpvsTable {
    return cloneTable(this.table);
  }
}

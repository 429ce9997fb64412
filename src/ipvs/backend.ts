// The seam between the reconciler and the kernel (kube-proxy's ipvs `Interface`): two real backends,
// generic netlink through the native addon (netlink.ts, the default) and the ipvsadm binary
// (ipvsadm.ts), and one in memory for unit tests (memory.ts). All pass the same contract suite
// (test/fixtures/ipvs-contract.ts).
import type { Operation } from './diff.js';
import type { IpvsTable } from './model.js';

export type SyncDaemonRole = 'master' | 'backup';

/** A connection-synchronisation daemon (`ipvsadm --start-daemon`). */
export interface SyncDaemon {
  role: SyncDaemonRole;
  interface: string;
  syncid: number;
  maxlen?: number;
  group?: string;
  port?: number;
  ttl?: number;
}

/** The connection timeouts, in seconds (`ipvsadm --set tcp tcpfin udp`); 0 leaves one as it is. */
export interface IpvsTimeouts {
  tcp: number;
  tcpfin: number;
  udp: number;
}

export interface ApplyResult {
  /** the `ipvsadm -R` script that was applied ('' when there was nothing to do) */
  script: string;
  durationMs: number;
}

export interface IpvsBackend {
  readonly name: string;
  /** The whole table, normalised and sorted, with each destination's ActiveConn/InActConn. */
  read(): Promise<IpvsTable>;
  /** Applies the operations as one batch. Throws IpvsError (kind 'apply-failed') if any was refused. */
  apply(ops: readonly Operation[]): Promise<ApplyResult>;
  /** Removes every service (`ipvsadm -C`). */
  flush(): Promise<void>;
  readDaemons(): Promise<SyncDaemon[]>;
  startDaemon(d: SyncDaemon): Promise<void>;
  stopDaemon(role: SyncDaemonRole): Promise<void>;
  /** The connection timeouts in force (IPVS_CMD_GET_CONFIG, `ipvsadm -L --timeout`). */
  readTimeouts(): Promise<IpvsTimeouts>;
  /** global_defs lvs_timeouts (IPVS_CMD_SET_CONFIG). */
  setTimeouts(t: IpvsTimeouts): Promise<void>;
}

export type IpvsErrorKind = 'missing-binary' | 'no-ipvs' | 'apply-failed' | 'command-failed';

/** An IPVS backend failure, with a message an operator can act on. */
export class IpvsError extends Error {
  constructor(
    readonly kind: IpvsErrorKind,
    message: string,
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'IpvsError';
  }
}

// The contract between the health-check core (timing, verdicts, scheduling) and the
// probes (the I/O of one check attempt). Plain data, so a ProbeSpec can also be a
// dedup key and cross a worker boundary.

/** What one attempt of a check needs: where to connect and what to ask. Durations in ms. */
export type ProbeSpec =
  | ({ kind: 'TCP_CHECK' } & Target)
  | ({ kind: 'HTTP_GET' | 'SSL_GET' } & Target & HttpSpec)
  | ({ kind: 'SMTP_CHECK' } & Target & { heloName: string })
  | ({ kind: 'DNS_CHECK' } & Target & { type: DnsType; name: string })
  | ({ kind: 'UDP_CHECK' } & Target & UdpSpec)
  | ({ kind: 'PING_CHECK' } & Pick<Target, 'address' | 'bindto' | 'bindIf' | 'fwmark' | 'timeoutMs'>)
  | { kind: 'MISC_CHECK'; command: string; user?: string; group?: string; timeoutMs: number; dynamic: boolean }
  | { kind: 'FILE_CHECK'; trackFile: string; path: string; weight: number; reverse: boolean; dynamic: boolean };

export type ProbeKind = ProbeSpec['kind'];

export interface Target {
  address: string; // connect_ip, else the real server's address
  port: number; // connect_port, else the real server's port
  bindto?: string;
  bindPort?: number;
  bindIf?: string;
  fwmark?: number;
  timeoutMs: number; // connect_timeout: a hard deadline on the whole attempt, body included
}

export interface HttpSpec {
  url: {
    path: string;
    digest?: string;
    statusCodes: [number, number][];
    virtualhost?: string;
    regex?: string;
    regexNoMatch?: boolean;
    /** keepalived regex_options (the ones vipkeeper honours), regex_min_offset, regex_max_offset. */
    regexOptions?: string[];
    regexMinOffset?: number;
    regexMaxOffset?: number;
  };
  httpProtocol: '1.0' | '1.0C' | '1.1';
  virtualhost?: string;
  sni?: string; // SSL_GET: server name sent, when enabled
  verifyTls: boolean;
  /** SSL_GET: close with a close_notify alert first (tls_compliant); else the TCP connection just closes, as keepalived 2.2.7. */
  tlsCompliant?: boolean;
  /** SSL_GET: the top-level SSL block (file paths; the key's passphrase). */
  tlsClient?: TlsClient;
}

export interface TlsClient {
  ca?: string;
  certificate?: string;
  key?: string;
  password?: string;
}

export type DnsType = 'A' | 'NS' | 'CNAME' | 'SOA' | 'MX' | 'TXT' | 'AAAA' | 'RRSIG' | 'DNSKEY';

export interface UdpSpec {
  payload?: string; // hex
  requireReply?: string; // hex, X nibbles are wildcards
  minReplyLength: number;
  maxReplyLength: number;
}

/** The outcome of one attempt. `weight` is set by MISC_CHECK misc_dynamic and FILE_CHECK. */
export type ProbeResult =
  | { ok: true; weight?: number; detail?: string }
  | { ok: false; reason: ProbeFailure; detail: string; weight?: number };

export type ProbeFailure =
  | 'refused'
  | 'timeout'
  | 'reset'
  | 'unreachable'
  | 'status'
  | 'digest'
  | 'regex'
  | 'protocol'
  | 'exit'
  | 'signal'
  | 'file'
  | 'error';

/** Runs one attempt. Must settle by `signal` (aborted at the deadline) and never throw. */
export type Probe = (spec: ProbeSpec, signal: AbortSignal) => Promise<ProbeResult>;

/** Where a direct probe reports: the scheduler's attempt. */
export interface ProbeSink {
  readonly spec: ProbeSpec;
  /** The attempt's result; the first call counts. */
  settle(result: ProbeResult): void;
}

/**
 * A probe the scheduler can run without a promise, an AbortSignal or a timer per attempt (at
 * 10,000 checks a second those were most of the checker's JS work). The scheduler keeps the
 * deadline and calls `expire` when it passes.
 */
export interface DirectProbe {
  /**
   * Starts an attempt of `spec` that reports to `sink.settle` once (possibly before returning),
   * unless expired or cancelled first. Returns its handle, or -1 if this spec must run on the
   * promise path (`Probe`).
   */
  start(spec: ProbeSpec, sink: ProbeSink): number;
  /** The deadline passed: stop the attempt (no settle follows) and say what it was doing. */
  expire(handle: number, spec: ProbeSpec, timeoutMs: number): ProbeResult;
  /** Stop the attempt without a result (its check was cancelled). */
  cancel(handle: number): void;
}

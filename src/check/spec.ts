/**
 * From the config model to what the health-check core runs: one `ServicePlan` per virtual
 * server, one `RealServerPlan` per real server and one `CheckPlan` per checker block, with every
 * inherited value resolved and every default filled in. Pure: no I/O, no clock.
 *
 * Inheritance (keepalived `check_data.c::validate_check_config`, docs/keepalived.md §3), per field:
 *
 * | field                | order                                                         |
 * |----------------------|---------------------------------------------------------------|
 * | delay_loop           | checker → RS → VS (schema default 60 s)                       |
 * | connect_timeout      | checker → RS → VS (schema default 5 s); 0 becomes 1 s         |
 * | retry                | checker → RS → VS → kind default (1; DNS 3; MISC and FILE 0)  |
 * | delay_before_retry   | checker → RS → VS → kind default (1 s; HTTP/SSL 3 s; DNS = the checker's delay_loop) |
 * | warmup               | checker → RS → VS → the checker's delay_loop                  |
 * | alpha                | checker → RS → VS (default off)                               |
 * | inhibit_on_failure   | RS → VS (default off)                                         |
 * | virtualhost          | url → checker → RS → VS                                       |
 * | weight               | RS → VS `weight` (default 1)                                  |
 * | misc_timeout         | checker → the VIRTUAL SERVER's delay_loop (keepalived uses `vs->delay_loop` here) |
 *
 * Service identity. A virtual server is identified by the same key the validator uses
 * (`vsKey`: `ADDR PORT PROTO`, `fwmark N` or `group NAME`). A `virtual_server group NAME` stays
 * ONE service identity: its entries (addresses, ranges, fwmarks) are listed as `members`, with the
 * VS protocol and the entry's port, but ranges are not expanded into single addresses (a /16 would
 * be 65 536 members). The IPVS layer programs each member with the same backend set, as keepalived
 * does with `ipvs_group_cmd`; health state is shared by the whole group.
 *
 * Dedup. `CheckPlan.key` is built from the kind, the target and a hash of everything that changes
 * what an attempt does or how its verdict evolves (every ProbeSpec, the attempt deadline, delay_loop,
 * retry, delay_before_retry, alpha, fast_recovery, misc_dynamic). Two plans with the same key are the
 * same check: the scheduler runs it once and fans the result out to every virtual server using it.
 * warmup is not part of the key (it only moves the first attempt); inhibit_on_failure and weights
 * belong to the pool, not to the check.
 */
import { isIP } from 'node:net';
import type { Check, Config, RealServer, Url, VirtualServer } from '../config/schema.js';
import { vsKey } from '../config/validate.js';
import type { HttpSpec, ProbeKind, ProbeSpec, Target } from './types.js';

/** keepalived `IPVS_WEIGHT_MAX`: effective weights are clamped to 0..this. */
export const IPVS_WEIGHT_MAX = 65535;
/** The sorry server's weight while it is in the table (keepalived gives it weight 1). */
export const SORRY_WEIGHT = 1;

const DEFAULT_RETRY: Record<ProbeKind, number> = {
  TCP_CHECK: 1,
  HTTP_GET: 1,
  SSL_GET: 1,
  SMTP_CHECK: 1,
  DNS_CHECK: 3,
  UDP_CHECK: 1,
  PING_CHECK: 1,
  MISC_CHECK: 0,
  FILE_CHECK: 0,
};

/** Kind default for delay_before_retry in ms; `undefined` means "the checker's delay_loop" (DNS). */
const DEFAULT_DELAY_BEFORE_RETRY: Record<ProbeKind, number | undefined> = {
  TCP_CHECK: 1000,
  HTTP_GET: 3000,
  SSL_GET: 3000,
  SMTP_CHECK: 1000,
  DNS_CHECK: undefined,
  UDP_CHECK: 1000,
  PING_CHECK: 1000,
  MISC_CHECK: 1000,
  FILE_CHECK: 1000,
};

export const DEFAULT_HTTP_STATUS: [number, number][] = [[200, 299]];
export const DEFAULT_SMTP_HELO = 'smtpchecker.keepalived.org';

/** The resolved timing of one checker. All durations in ms. */
export interface CheckTiming {
  delayLoopMs: number;
  connectTimeoutMs: number;
  retry: number;
  delayBeforeRetryMs: number;
  warmupMs: number;
  alpha: boolean;
  inhibitOnFailure: boolean;
  /** HTTP/SSL `fast_recovery`: while down and no URL is known to fail, check again at once. */
  fastRecovery: boolean;
}

/** One checker block of one real server of one virtual server, ready to run. */
export interface CheckPlan {
  /** Dedup key: equal keys are the same check (run once, result shared). */
  key: string;
  /** Service identity (`ServicePlan.id`). */
  vs: string;
  /** Real server key (`RealServerPlan.key`). */
  rs: string;
  /** Position of the checker within its real server. */
  index: number;
  kind: ProbeKind;
  timing: CheckTiming;
  /** Hard deadline of one attempt: connect_timeout, or misc_timeout for MISC_CHECK. */
  timeoutMs: number;
  /** What to run. HTTP_GET/SSL_GET: one spec per `url`, tried in turn; every other kind: one. */
  specs: ProbeSpec[];
  /** MISC_CHECK misc_dynamic, or FILE_CHECK with a weight and `dynamic`: results carry weights. */
  dynamic: boolean;
  /** Human-readable target for logs and status: `10.0.0.1:80`, a command, a track_file name. */
  target: string;
  /** log_all_failures: every failed attempt is logged, not only the state changes. */
  logAllFailures?: boolean;
}

export type LvsMethod = 'NAT' | 'DR' | 'TUN';

export interface RealServerPlan {
  /** `ADDR:PORT` (IPv6 in brackets); unique within its service. */
  key: string;
  address: string;
  port: number;
  /** Configured weight (RS `weight`, else the VS `weight`). */
  weight: number;
  inhibitOnFailure: boolean;
  /** Whether the RS starts down (any checker with alpha); informational, the checks decide. */
  alpha: boolean;
  lvsMethod: LvsMethod;
  tunnel?: RealServer['tunnel'];
  uthreshold?: number;
  lthreshold?: number;
  checks: CheckPlan[];
}

export type GroupMember =
  | { kind: 'address'; address: string; last?: string; prefix?: number; port: number; protocol: VirtualServer['protocol'] }
  | { kind: 'fwmark'; fwmark: number; family?: 'inet' | 'inet6' };

export type ServiceIdentity =
  | { kind: 'address'; address: string; port: number; protocol: VirtualServer['protocol'] }
  | { kind: 'fwmark'; fwmark: number; family?: 'inet' | 'inet6' }
  | { kind: 'group'; group: string; protocol: VirtualServer['protocol']; members: GroupMember[] };

export interface SorryServerPlan {
  key: string;
  address: string;
  port: number;
  /** `sorry_server_inhibit`: stays in the table at weight 0 while not in use. */
  inhibit: boolean;
  lvsMethod: LvsMethod;
}

export interface ServicePlan {
  /** Service identity key, as `vsKey` in the validator: `10.0.1.1 80 TCP`, `fwmark 1`, `group VSG_1`. */
  id: string;
  /** Position in `config.virtual_servers`. */
  index: number;
  identity: ServiceIdentity;
  /** Effective quorum (lowered to the total configured weight when above it, as keepalived). */
  quorum: number;
  /** Effective hysteresis (clamped to quorum − 1 when ≥ quorum, as keepalived; 0 when quorum is 0). */
  hysteresis: number;
  sorry?: SorryServerPlan;
  alpha: boolean;
  realServers: RealServerPlan[];
}

export interface ResolvedServices {
  services: ServicePlan[];
  /** Corrections keepalived also makes (with a warning) and things that cannot run. */
  warnings: string[];
}

/** Every checker of every real server of every virtual server, resolved. */
/** The user/group a MISC_CHECK runs as: its own, else global_defs script_user, else the default (exec.ts). */
function miscUser(own: { user?: string; group?: string }, global: { user: string; group?: string } | undefined): { user?: string; group?: string } {
  const who = own.user !== undefined ? own : global;
  if (who?.user === undefined) return {};
  return { user: who.user, ...(who.group !== undefined ? { group: who.group } : {}) };
}

export function resolveChecks(config: Config): CheckPlan[] {
  return resolveServices(config).services.flatMap((s) => s.realServers.flatMap((r) => r.checks));
}

/** The full resolved service tree (for the pools) plus the corrections made on the way. */
export function resolveServices(config: Config): ResolvedServices {
  const warnings: string[] = [];
  timings = new Map();
  try {
    const services = config.virtual_servers.map((vs, i) => resolveService(config, vs, i, warnings));
    return { services, warnings };
  } finally {
    timings = undefined;
  }
}

/** The timings of one resolveServices call: checks with equal timing share one frozen object (~3 MB at 37,300). */
let timings: Map<string, CheckTiming> | undefined;

function sharedTiming(t: CheckTiming): CheckTiming {
  if (!timings) return t;
  const k = `${t.delayLoopMs} ${t.connectTimeoutMs} ${t.retry} ${t.delayBeforeRetryMs} ${t.warmupMs} ${t.alpha} ${t.inhibitOnFailure} ${t.fastRecovery}`;
  let shared = timings.get(k);
  if (!shared) timings.set(k, (shared = Object.freeze(t)));
  return shared;
}

/** `10.0.0.1:80`, `[2001:db8::1]:80`. */
export function hostPort(address: string, port: number): string {
  return flat(isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`);
}

function resolveService(config: Config, vs: VirtualServer, index: number, warnings: string[]): ServicePlan {
  const id = vsKey(vs);
  const identity = serviceIdentity(config, vs);
  const realServers: RealServerPlan[] = [];
  const seen = new Set<string>();
  for (const rs of vs.real_servers) {
    const plan = resolveRealServer(config, vs, id, rs, warnings);
    if (seen.has(plan.key)) {
      // keepalived: "real server … is duplicated - removing second rs".
      warnings.push(`${id}: real server ${plan.key} is duplicated; the second one is ignored`);
      continue;
    }
    seen.add(plan.key);
    realServers.push(plan);
  }

  const totalWeight = realServers.reduce((sum, r) => sum + realWeight(r.weight), 0);
  let quorum = vs.quorum;
  if (quorum > totalWeight) {
    warnings.push(`${id}: quorum ${quorum} exceeds the total weight of the real servers ${totalWeight}; quorum lowered to ${totalWeight}`);
    quorum = totalWeight;
  }
  let hysteresis = vs.hysteresis;
  if (quorum === 0) {
    hysteresis = 0;
  } else if (hysteresis >= quorum) {
    warnings.push(`${id}: hysteresis ${hysteresis} is not below quorum ${quorum}; hysteresis set to ${quorum - 1}`);
    hysteresis = quorum - 1;
  }

  const plan: ServicePlan = { id, index, identity, quorum, hysteresis, alpha: vs.alpha, realServers };
  if (vs.sorry_server) {
    const port = vs.sorry_server.port ?? (vs.fwmark !== undefined || vs.group !== undefined ? 0 : vs.port ?? 0);
    plan.sorry = {
      key: hostPort(vs.sorry_server.address, port),
      address: vs.sorry_server.address,
      port,
      inhibit: vs.sorry_server.inhibit,
      lvsMethod: vs.sorry_server.lvs_method ?? vs.lb_kind,
    };
  }
  return plan;
}

function serviceIdentity(config: Config, vs: VirtualServer): ServiceIdentity {
  if (vs.group !== undefined) {
    const entries = config.virtual_server_groups[vs.group] ?? [];
    const members: GroupMember[] = entries.map((e) =>
      'fwmark' in e
        ? { kind: 'fwmark', fwmark: e.fwmark, ...(e.family ? { family: e.family } : {}) }
        : {
            kind: 'address',
            address: e.address,
            ...(e.last !== undefined ? { last: e.last } : {}),
            ...(e.prefix !== undefined ? { prefix: e.prefix } : {}),
            port: e.port ?? vs.port ?? 0,
            protocol: vs.protocol,
          },
    );
    return { kind: 'group', group: vs.group, protocol: vs.protocol, members };
  }
  if (vs.fwmark !== undefined) return { kind: 'fwmark', fwmark: vs.fwmark, ...(vs.ip_family ? { family: vs.ip_family } : {}) };
  return { kind: 'address', address: vs.address ?? '', port: vs.port ?? 0, protocol: vs.protocol };
}

/** A real server's port as the kernel gets it: keepalived's rule (see resolveRealServer). */
export function realServerPort(vs: VirtualServer, rs: RealServer): number {
  // keepalived: an RS without a port takes the VS port, except under fwmark (and groups, whose
  // entries carry the ports) where the RS port stays 0.
  return rs.port ?? (vs.fwmark !== undefined || vs.group !== undefined ? 0 : vs.port ?? 0);
}

function resolveRealServer(config: Config, vs: VirtualServer, vsId: string, rs: RealServer, warnings: string[]): RealServerPlan {
  const port = realServerPort(vs, rs);
  const key = hostPort(rs.address, port);
  const weight = rs.weight ?? vs.weight;
  if (weight > IPVS_WEIGHT_MAX) warnings.push(`${vsId}: real server ${key} weight ${weight} is above ${IPVS_WEIGHT_MAX}; the kernel gets ${IPVS_WEIGHT_MAX}`);
  const plan: RealServerPlan = {
    key,
    address: rs.address,
    port,
    weight,
    inhibitOnFailure: rs.inhibit_on_failure ?? vs.inhibit_on_failure,
    alpha: false,
    lvsMethod: rs.lvs_method ?? vs.lb_kind,
    ...(rs.tunnel ?? vs.tunnel ? { tunnel: rs.tunnel ?? vs.tunnel } : {}),
    ...(rs.uthreshold !== undefined ? { uthreshold: rs.uthreshold } : {}),
    ...(rs.lthreshold !== undefined ? { lthreshold: rs.lthreshold } : {}),
    checks: [],
  };
  rs.checks.forEach((check, i) => {
    const c = resolveCheck(config, vs, vsId, rs, key, port, check, i, warnings);
    if (c) plan.checks.push(c);
  });
  // kept for the daemon's life: a pushed-to array holds room for 17 (~140 bytes a real server)
  plan.checks = plan.checks.slice();
  plan.alpha = plan.checks.some((c) => c.timing.alpha);
  return plan;
}

function resolveCheck(
  config: Config,
  vs: VirtualServer,
  vsId: string,
  rs: RealServer,
  rsKey: string,
  rsPort: number,
  check: Check,
  index: number,
  warnings: string[],
): CheckPlan | undefined {
  const kind = check.type;
  const where = `${vsId}: real server ${rsKey} ${kind}`;
  const c: Partial<Record<'delay_loop' | 'connect_timeout' | 'retry' | 'delay_before_retry' | 'warmup', number>> & { alpha?: boolean } =
    check.type === 'FILE_CHECK' ? {} : check;

  const delayLoopMs = c.delay_loop ?? rs.delay_loop ?? vs.delay_loop;
  let connectTimeoutMs = c.connect_timeout ?? rs.connect_timeout ?? vs.connect_timeout;
  if (connectTimeoutMs <= 0) {
    warnings.push(`${where}: connect_timeout 0 is not allowed; using 1s`);
    connectTimeoutMs = 1000;
  }
  const retry = kind === 'FILE_CHECK' ? 0 : c.retry ?? rs.retry ?? vs.retry ?? DEFAULT_RETRY[kind];
  const delayBeforeRetryMs = c.delay_before_retry ?? rs.delay_before_retry ?? vs.delay_before_retry ?? DEFAULT_DELAY_BEFORE_RETRY[kind] ?? delayLoopMs;
  const warmupMs = c.warmup ?? rs.warmup ?? vs.warmup ?? delayLoopMs;
  const alpha = c.alpha ?? rs.alpha ?? vs.alpha;
  const inhibitOnFailure = rs.inhibit_on_failure ?? vs.inhibit_on_failure;
  const fastRecovery = (check.type === 'HTTP_GET' || check.type === 'SSL_GET') && check.fast_recovery === true;
  const timing = sharedTiming({ delayLoopMs, connectTimeoutMs, retry, delayBeforeRetryMs, warmupMs, alpha, inhibitOnFailure, fastRecovery });

  let specs: ProbeSpec[];
  let timeoutMs = connectTimeoutMs;
  let dynamic = false;
  let target: string;

  if (check.type === 'MISC_CHECK') {
    timeoutMs = check.misc_timeout !== undefined && check.misc_timeout > 0 ? check.misc_timeout : vs.delay_loop;
    dynamic = check.misc_dynamic;
    specs = [
      {
        kind: 'MISC_CHECK',
        command: check.misc_path.command,
        // global_defs script_user applies to MISC_CHECK as to every other script (the checks run
        // in the main thread, whose default script user nobody else sets)
        ...miscUser(check.misc_path, config.global.script_user),
        timeoutMs,
        dynamic,
      },
    ];
    target = check.misc_path.command;
  } else if (check.type === 'FILE_CHECK') {
    const tf = config.track_files[check.track_file];
    if (!tf) {
      warnings.push(`${where}: track_file '${check.track_file}' does not exist; the checker is ignored`);
      return undefined;
    }
    // keepalived file_end_handler: without its own weight the checker takes the track_file's.
    const weight = check.weight ?? tf.weight;
    const reverse = check.weight !== undefined ? check.weight_reverse ?? false : tf.weight_reverse;
    // The probe reports the weight delta (value × weight) only with `dynamic`.
    dynamic = check.dynamic === true && weight !== 0;
    specs = [{ kind: 'FILE_CHECK', trackFile: check.track_file, path: tf.file, weight, reverse, dynamic: check.dynamic ?? false }];
    target = `track_file ${check.track_file}`;
  } else {
    const t = targetOf(check, rs, rsPort, connectTimeoutMs);
    if (check.type !== 'PING_CHECK' && t.port === 0) {
      warnings.push(`${where}: no port to connect to (the real server has none and connect_port is not set)`);
    }
    // the real server's own key when the check connects to it (most do): one string, not two
    target = check.type === 'PING_CHECK' ? t.address : t.address === rs.address && t.port === rsPort ? rsKey : hostPort(t.address, t.port);
    switch (check.type) {
      case 'TCP_CHECK':
        specs = [{ kind: 'TCP_CHECK', ...t }];
        break;
      case 'HTTP_GET':
      case 'SSL_GET': {
        const virtualhost = check.virtualhost ?? rs.virtualhost ?? vs.virtualhost;
        specs = check.url.map((u) => {
          const sni =
            check.type === 'SSL_GET' && (check.enable_sni === true || check.sni_name !== undefined)
              ? check.sni_name ?? u.virtualhost ?? virtualhost
              : undefined;
          return {
            kind: check.type,
            ...t,
            url: {
              path: u.path,
              statusCodes: u.status_code ? u.status_code.map(parseStatusCode) : DEFAULT_HTTP_STATUS.map((r) => [...r] as [number, number]),
              ...(u.digest !== undefined ? { digest: u.digest.toLowerCase() } : {}),
              ...(u.virtualhost !== undefined ? { virtualhost: u.virtualhost } : {}),
              ...(u.regex !== undefined ? { regex: u.regex } : {}),
              ...(u.regex_no_match !== undefined ? { regexNoMatch: u.regex_no_match } : {}),
              ...regexWindow(u, where, warnings),
            },
            httpProtocol: check.http_protocol ?? '1.0',
            ...(virtualhost !== undefined ? { virtualhost } : {}),
            ...(sni !== undefined ? { sni } : {}),
            verifyTls: check.verify_tls ?? false,
            ...(check.type === 'SSL_GET' && (u.tls_compliant ?? check.tls_compliant) === true ? { tlsCompliant: true } : {}),
            ...(check.type === 'SSL_GET' && config.ssl !== undefined ? { tlsClient: { ...config.ssl } } : {}),
          };
        });
        break;
      }
      case 'SMTP_CHECK':
        specs = [{ kind: 'SMTP_CHECK', ...t, heloName: check.helo_name ?? DEFAULT_SMTP_HELO }];
        break;
      case 'DNS_CHECK':
        specs = [{ kind: 'DNS_CHECK', ...t, type: check.dns_type, name: check.name }];
        break;
      case 'UDP_CHECK':
        specs = [
          {
            kind: 'UDP_CHECK',
            ...t,
            ...(check.payload !== undefined ? { payload: check.payload } : {}),
            ...(check.require_reply !== undefined ? { requireReply: check.require_reply } : {}),
            minReplyLength: check.min_reply_length ?? 0,
            maxReplyLength: check.max_reply_length ?? 255,
          },
        ];
        break;
      case 'PING_CHECK':
        specs = [
          {
            kind: 'PING_CHECK',
            address: t.address,
            ...(t.bindto !== undefined ? { bindto: t.bindto } : {}),
            ...(t.bindIf !== undefined ? { bindIf: t.bindIf } : {}),
            ...(t.fwmark !== undefined ? { fwmark: t.fwmark } : {}),
            timeoutMs: t.timeoutMs,
          },
        ];
        break;
    }
  }

  const key = dedupKey(kind, target, { specs, timeoutMs, delayLoopMs, retry, delayBeforeRetryMs, alpha, fastRecovery, dynamic });
  // keepalived: the global checker_log_all_failures or the checker's own
  const logAllFailures = check.type !== 'FILE_CHECK' && (check.log_all_failures === true || config.global.checker_log_all_failures);
  return { key, vs: vsId, rs: rsKey, index, kind, timing, timeoutMs, specs, dynamic, target, ...(logAllFailures ? { logAllFailures } : {}) };
}

type ConnectCheck = Exclude<Check, { type: 'MISC_CHECK' } | { type: 'FILE_CHECK' }>;

/**
 * regex_options, regex_min_offset and regex_max_offset of a url, as keepalived keeps them: all
 * dropped when there is no regex, the offsets dropped when min is past max (each with a warning).
 */
function regexWindow(u: Url, where: string, warnings: string[]): Pick<HttpSpec['url'], 'regexOptions' | 'regexMinOffset' | 'regexMaxOffset'> {
  const set = u.regex_options !== undefined || u.regex_min_offset !== undefined || u.regex_max_offset !== undefined;
  if (u.regex === undefined) {
    if (set) warnings.push(`${where}: url ${u.path}: regex_options / regex_min_offset / regex_max_offset without a regex are ignored (as keepalived)`);
    return {};
  }
  const out: Pick<HttpSpec['url'], 'regexOptions' | 'regexMinOffset' | 'regexMaxOffset'> = {};
  if (u.regex_options !== undefined && u.regex_options.length > 0) out.regexOptions = [...new Set(u.regex_options)].sort();
  const min = u.regex_min_offset;
  const max = u.regex_max_offset;
  if (min !== undefined && max !== undefined && min > max) {
    warnings.push(`${where}: url ${u.path}: regex_min_offset ${min} is past regex_max_offset ${max}; both are ignored (as keepalived)`);
  } else {
    if (min !== undefined && min > 0) out.regexMinOffset = min;
    if (max !== undefined) out.regexMaxOffset = max;
  }
  return out;
}

function targetOf(check: ConnectCheck, rs: RealServer, rsPort: number, timeoutMs: number): Target {
  return {
    address: check.connect_ip ?? rs.address,
    port: check.connect_port ?? rsPort,
    ...(check.bindto !== undefined ? { bindto: check.bindto } : {}),
    ...(check.bind_port !== undefined ? { bindPort: check.bind_port } : {}),
    ...(check.bind_if !== undefined ? { bindIf: check.bind_if } : {}),
    ...(check.fwmark !== undefined ? { fwmark: check.fwmark } : {}),
    timeoutMs,
  };
}

/** `200` → [200, 200]; `"200-299"` → [200, 299]; `"204"` → [204, 204]. */
export function parseStatusCode(code: number | string): [number, number] {
  if (typeof code === 'number') return [code, code];
  const [lo, hi] = code.split('-');
  const a = Number(lo);
  const b = hi === undefined ? a : Number(hi);
  return a <= b ? [a, b] : [b, a];
}

/** keepalived `real_weight`: a weight as the kernel gets it (0..IPVS_WEIGHT_MAX). */
export function realWeight(w: number): number {
  if (!(w > 0)) return 0;
  return w >= IPVS_WEIGHT_MAX ? IPVS_WEIGHT_MAX : Math.floor(w);
}

/**
 * What is probed, without how often or how patiently (timing, retry, alpha, timeouts): a reload
 * that changes only those keeps the check's verdict (a dead real server stays down). Computed when
 * a reload needs it (for the checks that come and go), not kept for every check.
 */
export function checkIdentity(c: Pick<CheckPlan, 'kind' | 'target' | 'specs' | 'dynamic'>): string {
  return dedupKey(c.kind, c.target, { specs: c.specs.map((sp) => ({ ...sp, timeoutMs: undefined })), dynamic: c.dynamic });
}

/**
 * Every ProbeSpec is built above, field by field in a fixed order, so equal values give equal
 * JSON: the native JSON.stringify, not the sorting stableStringify, at 37,300 checks a build.
 */
function dedupKey(kind: ProbeKind, target: string, params: unknown): string {
  return flat(`${kind} ${target} ${hash64(JSON.stringify(params))}`);
}

/**
 * 64 bits of two multiplicative hashes (FNV-1a and a murmur-style mix) as 16 hex digits. The keys
 * live only in this process and already start with the kind and target, so a cryptographic hash
 * bought nothing; sha256 was a good part of building 37,300 checks.
 */
export function hash64(s: string): string {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 13;
  }
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  b ^= b >>> 15;
  b = Math.imul(b, 0xc2b2ae35);
  b ^= b >>> 16;
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/**
 * The same text as one flat string. A template literal builds a tree of concatenation nodes
 * (32 bytes each) that V8 keeps as long as the string lives: these keys live for the daemon's life,
 * two per check (~7 MB at 37,300 checks).
 */
function flat(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

/** JSON with object keys sorted, so equal values give equal strings. */
export function stableStringify(v: unknown): string {
  // plain loops and one string: this runs twice per check when a table of 37,300 is built
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return String(v);
    return JSON.stringify(v) ?? 'null';
  }
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) out += (i ? ',' : '') + stableStringify(v[i]);
    return `${out}]`;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const x = o[k];
    if (x === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${stableStringify(x)}`;
    first = false;
  }
  return `${out}}`;
}

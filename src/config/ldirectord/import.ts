/**
 * ldirectord.cf (heartbeat-era ldirectord, man ldirectord) → vipkeeper's model. The format:
 * `key = value` lines; a `virtual=` line opens a virtual service and the INDENTED lines after it
 * belong to it; unindented lines are global defaults (checktimeout, checkinterval, quiescent, ...)
 * that a virtual section may override. `#` starts a comment.
 *
 * Honest like the keepalived importer: every directive is acted on (mapped onto the model) or
 * reported as a warning at file:line:col with what the user loses; an unknown directive, a
 * malformed value or a service with no virtual address is an error. Values of secret directives
 * (passwd, secret) are never echoed.
 */
import { isIP } from 'node:net';
import { sortDiagnostics, type Diagnostic } from '../diagnostics.js';
import { parseConfigModel } from '../parse-model.js';
import { SCHEDULERS, type Config } from '../schema.js';
import { validateConfig } from '../validate.js';

export interface LdirectordResult {
  config?: Config;
  diagnostics: Diagnostic[];
  /** Directive lines read, and how many were not (or only partly) acted on. */
  counts: { directives: number; notActed: number; partial: number };
}

interface Line {
  key: string;
  value: string;
  line: number;
  col: number;
  valueCol: number;
}

const GLOBAL_ONLY = new Set(['autoreload', 'callback', 'logfile', 'execute', 'fork', 'supervised', 'maintenancedir', 'readdquiescent', 'cleanstop', 'smtp', 'emailalertfrom']);
/** Directives a virtual section may set, globally as defaults too (where ldirectord allows). */
const SHARED = new Set(['checktimeout', 'negotiatetimeout', 'connecttimeout', 'checkinterval', 'checkcount', 'failurecount', 'quiescent', 'fallback', 'fallbackcommand', 'emailalert', 'emailalertfreq', 'emailalertstatus', 'cleanstop']);
const VIRTUAL_ONLY = new Set([
  'real', 'scheduler', 'persistent', 'netmask', 'protocol', 'checktype', 'service', 'request', 'receive', 'checkport', 'virtualhost', 'httpmethod', 'login',
  'passwd', 'database', 'secret', 'checkcommand', 'monitorfile', 'sslcert', 'sslkey',
]);
const SECRET = new Set(['passwd', 'secret']);

/** Services ldirectord negotiates that vipkeeper has no checker for: a TCP connect stands in. */
const NO_CHECKER: Record<string, string> = {
  ftp: 'an FTP login and RETR of the request file',
  imap: 'an IMAP login',
  imaps: 'an IMAP-over-TLS login',
  pop: 'a POP3 login',
  pops: 'a POP3-over-TLS login',
  nntp: 'an NNTP greeting',
  ldap: 'an LDAP search for the request and a match of receive',
  mysql: 'a MySQL login and the request query',
  pgsql: 'a PostgreSQL login and the request query',
  oracle: 'an Oracle login and the request query',
  radius: 'a RADIUS Access-Request',
  sip: 'a SIP OPTIONS request',
  simpletcp: 'sending the request and matching receive in the answer',
  http_proxy: 'fetching the request URL through the proxy',
  submission: 'an SMTP submission greeting',
};

/** Well-known ports, for a virtual service without `service=` (ldirectord guesses from the port). */
const SERVICE_BY_PORT: Record<number, string> = { 80: 'http', 443: 'https', 53: 'dns', 25: 'smtp', 21: 'ftp', 110: 'pop', 143: 'imap', 389: 'ldap', 3306: 'mysql', 5432: 'pgsql', 119: 'nntp', 995: 'pops', 993: 'imaps', 1812: 'radius', 5060: 'sip' };

/** Does this text look like an ldirectord.cf (its first directive is `key=value`)? */
/** The first line that is not blank or a comment, in an ldirectord.cf (`key=value`). */
export const LDIRECTORD_LINE = /^[a-z]+\s*=/;

export function looksLikeLdirectord(text: string): boolean {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    return LDIRECTORD_LINE.test(line);
  }
  return false;
}

function stripComment(s: string): string {
  let q = false;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '"') q = !q;
    if (!q && s[i] === '#' && (i === 0 || /\s/.test(s[i - 1]!))) return s.slice(0, i);
  }
  return s;
}

const unquote = (s: string) => s.trim().replace(/^"(.*)"$/s, '$1');

interface Section {
  head: Line;
  lines: Line[];
}

export function importLdirectordText(text: string, file: string): LdirectordResult {
  const r = importUnsorted(text, file);
  return { ...r, diagnostics: sortDiagnostics(r.diagnostics) };
}

function importUnsorted(text: string, file: string): LdirectordResult {
  const diagnostics: Diagnostic[] = [];
  const counts = { directives: 0, notActed: 0, partial: 0 };
  const at = (l: Pick<Line, 'line' | 'col'>) => ({ file, line: l.line, col: l.col });
  const err = (l: Pick<Line, 'line' | 'col'>, message: string) => diagnostics.push({ severity: 'error', loc: at(l), message });
  const notActed = (l: Line, loses: string) => {
    counts.notActed++;
    diagnostics.push({ severity: 'warning', loc: at(l), message: `ldirectord '${l.key}' is not acted on by vipkeeper: ${loses}` });
  };
  const partial = (l: Line, loses: string) => {
    counts.partial++;
    diagnostics.push({ severity: 'warning', loc: at(l), message: `ldirectord '${l.key}' is only partly acted on: ${loses}` });
  };

  // ---- lines → globals and sections
  const globals: Line[] = [];
  const sections: Section[] = [];
  let current: Section | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const body = stripComment(raw);
    if (!body.trim()) return;
    const indented = /^\s/.test(body);
    const m = /^(\s*)([A-Za-z_]+)\s*=\s*(.*?)\s*$/.exec(body);
    if (!m) {
      err({ line: i + 1, col: body.search(/\S/) + 1 }, `not a 'key = value' line: ${JSON.stringify(body.trim().slice(0, 60))}`);
      return;
    }
    counts.directives++;
    const l: Line = { key: m[2]!.toLowerCase(), value: m[3]!, line: i + 1, col: m[1]!.length + 1, valueCol: body.indexOf(m[3]!, m[1]!.length + m[2]!.length) + 1 };
    if (l.key === 'virtual') {
      if (indented) err(l, "'virtual=' must start at the beginning of the line (it opens a virtual service)");
      current = { head: l, lines: [] };
      sections.push(current);
      return;
    }
    if (indented && current) current.lines.push(l);
    else {
      if (indented) err(l, `'${l.key}' is indented but no 'virtual=' line comes before it`);
      current = undefined;
      globals.push(l);
    }
  });

  // ---- globals
  const g = new Map<string, Line>();
  for (const l of globals) {
    if (VIRTUAL_ONLY.has(l.key)) {
      err(l, `'${l.key}' belongs inside a virtual service (indent it under a 'virtual=' line)`);
      continue;
    }
    if (!GLOBAL_ONLY.has(l.key) && !SHARED.has(l.key)) {
      err(l, `unknown ldirectord directive '${l.key}'`);
      continue;
    }
    g.set(l.key, l);
    globalDirective(l, notActed);
  }

  // ---- virtual services
  const virtualServers: Record<string, unknown>[] = [];
  for (const s of sections) {
    const vs = virtualService(s, g, { err, notActed, partial });
    if (vs) virtualServers.push(vs);
  }
  if (sections.length === 0) err({ line: 1, col: 1 }, "no 'virtual=' section: there is nothing to migrate");
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics, counts };

  const parsed = parseConfigModel({ virtual_servers: virtualServers });
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      const idx = typeof i.path[1] === 'number' ? i.path[1] : 0;
      err(sections[idx]?.head ?? { line: 1, col: 1 }, `${i.path.slice(2).join('.')}: ${i.message}`);
    }
    return { diagnostics, counts };
  }
  for (const i of validateConfig(parsed.data)) {
    const idx = typeof i.path[1] === 'number' ? i.path[1] : 0;
    diagnostics.push({ severity: i.severity, loc: at(sections[idx]?.head ?? { line: 1, col: 1 }), message: i.message });
  }
  return diagnostics.some((d) => d.severity === 'error') ? { diagnostics, counts } : { config: parsed.data, diagnostics, counts };
}

function globalDirective(l: Line, notActed: (l: Line, loses: string) => void): void {
  switch (l.key) {
    case 'autoreload':
      if (/^yes$/i.test(l.value)) notActed(l, 'the file is not watched; reload with SIGHUP or `vipkeeper reload`');
      return;
    case 'callback':
      return notActed(l, 'no command is run when the config changes');
    case 'logfile':
      return notActed(l, 'vipkeeper logs JSON to standard output (the journal under systemd), not to this file or syslog facility');
    case 'execute':
      return notActed(l, 'no other ldirectord configuration is started; migrate that file too');
    case 'fork':
      if (/^yes$/i.test(l.value)) notActed(l, 'vipkeeper runs its checks concurrently in one process; nothing to fork');
      return;
    case 'supervised':
      return notActed(l, 'vipkeeper runs in the foreground under systemd (Type=notify) either way');
    case 'maintenancedir':
      return notActed(l, 'no maintenance files are read; use `vipkeeper drain ADDRESS:PORT` to take a real server out');
    case 'readdquiescent':
      return notActed(l, 'a quiescent real server stays in the IPVS table with weight 0 (inhibit_on_failure); there is no re-adding option');
    case 'cleanstop':
      return notActed(l, 'on stop, ipvs.on_stop decides (remove by default)');
    case 'smtp':
    case 'emailalertfrom':
    case 'emailalert':
    case 'emailalertfreq':
    case 'emailalertstatus':
      return notActed(l, 'vipkeeper sends no email; watch the vipkeeper_* metrics or use notify scripts instead');
    case 'fallbackcommand':
      return notActed(l, 'no command runs when every real server is down; use quorum_down / quorum_up');
    case 'checkcount':
      return notActed(l, 'ping checks are sent once per round; use failurecount for the number of failures before down');
    default:
      return; // SHARED defaults: applied per virtual service below
  }
}

interface Report {
  err: (l: Pick<Line, 'line' | 'col'>, m: string) => void;
  notActed: (l: Line, loses: string) => void;
  partial: (l: Line, loses: string) => void;
}

const FORWARD: Record<string, 'DR' | 'NAT' | 'TUN'> = { gate: 'DR', masq: 'NAT', ipip: 'TUN', g: 'DR', m: 'NAT', i: 'TUN' };

function hostPort(s: string): { address: string; port?: number } | undefined {
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(s);
  const v4 = /^([^:]+)(?::(\d+))?$/.exec(s);
  const m = v6 ?? v4;
  if (!m || isIP(m[1]!) === 0) return undefined;
  return { address: m[1]!, ...(m[2] ? { port: Number(m[2]) } : {}) };
}

function seconds(l: Line, r: Report): number | undefined {
  if (!/^\d+(\.\d+)?$/.test(l.value)) {
    r.err({ line: l.line, col: l.valueCol }, `'${l.key}' needs a number of seconds, got ${JSON.stringify(l.value)}`);
    return undefined;
  }
  return Number(l.value);
}

function virtualService(s: Section, globals: ReadonlyMap<string, Line>, r: Report): Record<string, unknown> | undefined {
  const head = s.head;
  const vs: Record<string, unknown> = {};
  const v = head.value.trim();
  let vport: number | undefined;
  if (/^\d+$/.test(v)) vs.fwmark = Number(v);
  else {
    const hp = hostPort(v);
    if (!hp || hp.port === undefined) {
      r.err({ line: head.line, col: head.valueCol }, `virtual=${v}: need ADDRESS:PORT (a literal address; host and service names are not resolved) or a firewall mark number`);
      return undefined;
    }
    vs.address = hp.address;
    vs.port = hp.port;
    vport = hp.port;
  }
  // section values override the globals
  const own = new Map<string, Line>();
  const reals: Line[] = [];
  for (const l of s.lines) {
    if (l.key === 'real') reals.push(l);
    else if (!VIRTUAL_ONLY.has(l.key) && !SHARED.has(l.key)) {
      if (GLOBAL_ONLY.has(l.key)) r.err(l, `'${l.key}' is a global directive; ldirectord refuses it inside a virtual service`);
      else r.err(l, `unknown ldirectord directive '${l.key}'`);
    } else own.set(l.key, l);
  }
  const get = (k: string): Line | undefined => own.get(k) ?? globals.get(k);

  // protocol, scheduler, persistence
  const proto = own.get('protocol');
  if (proto) {
    const p = proto.value.toLowerCase();
    if (p === 'tcp' || p === 'udp') vs.protocol = p.toUpperCase();
    else if (p === 'fwm') {
      if (vs.fwmark === undefined) r.err({ line: proto.line, col: proto.valueCol }, 'protocol=fwm needs virtual=<firewall mark>');
    } else r.err({ line: proto.line, col: proto.valueCol }, `protocol must be tcp, udp or fwm, got ${JSON.stringify(proto.value)}`);
  }
  const sched = own.get('scheduler');
  vs.lb_algo = sched?.value ?? 'wrr'; // ldirectord's default
  if (sched && !(SCHEDULERS as readonly string[]).includes(sched.value)) r.err({ line: sched.line, col: sched.valueCol }, `scheduler ${JSON.stringify(sched.value)} is not an IPVS scheduler vipkeeper knows (${SCHEDULERS.join(', ')})`);
  const pers = own.get('persistent');
  if (pers) {
    const n = seconds(pers, r);
    if (n !== undefined) vs.persistence_timeout = `${n}s`;
  }
  const mask = own.get('netmask');
  if (mask) {
    if (!pers) r.notActed(mask, 'it only matters with persistent=, which this virtual service does not set');
    else vs.persistence_granularity = mask.value;
  }

  // timing: checkinterval → delay_loop; failurecount → retry; the timeout of the check type
  const interval = get('checkinterval');
  vs.delay_loop = interval ? `${seconds(interval, r) ?? 10}s` : '10s';
  const fc = get('failurecount');
  if (fc) {
    const n = Number(fc.value);
    if (!Number.isInteger(n) || n < 1) r.err({ line: fc.line, col: fc.valueCol }, `failurecount must be a whole number >= 1, got ${JSON.stringify(fc.value)}`);
    else vs.retry = n - 1; // ldirectord: down after N failures; vipkeeper: after retry + 1
  }
  const cc = own.get('checkcount');
  if (cc) r.notActed(cc, 'ping checks are sent once per round; use failurecount for the number of failures before down');
  const quiescent = get('quiescent');
  // ldirectord's default is quiescent=yes: a failed real server stays with weight 0
  vs.inhibit_on_failure = quiescent ? /^yes$/i.test(quiescent.value) : true;

  // fallback → sorry_server
  const fb = get('fallback');
  if (fb) {
    const [addr = '', fwd] = fb.value.split(/\s+/);
    const hp = hostPort(addr);
    if (!hp) r.err({ line: fb.line, col: fb.valueCol }, `fallback=${fb.value}: need ADDRESS[:PORT] [gate|masq|ipip]`);
    else vs.sorry_server = { address: hp.address, ...(hp.port ?? vport ? { port: hp.port ?? vport } : {}), ...(fwd && FORWARD[fwd] ? { lvs_method: FORWARD[fwd] } : {}) };
  }
  const fbc = own.get('fallbackcommand');
  if (fbc) r.notActed(fbc, 'no command runs when every real server is down; use quorum_down / quorum_up');
  for (const k of ['emailalert', 'emailalertfreq', 'emailalertstatus']) {
    const l = own.get(k);
    if (l) r.notActed(l, 'vipkeeper sends no email; watch the vipkeeper_* metrics or use notify scripts instead');
  }

  // the check
  const check = buildCheck(own, get, vport, r);
  const realServers: Record<string, unknown>[] = [];
  const methods = new Set<string>();
  for (const l of reals) {
    const rs = realServer(l, vport, vs.fwmark !== undefined, check, r);
    for (const x of rs) {
      methods.add(String(x.lvs_method));
      realServers.push(x);
    }
  }
  if (reals.length === 0) r.err(head, `virtual=${v} has no real= line`);
  // one method for the service: the real servers' common one (per real server when they differ)
  if (methods.size === 1) {
    vs.lb_kind = [...methods][0];
    for (const x of realServers) delete x.lvs_method;
  } else vs.lb_kind = 'DR';
  if (check.off) for (const x of realServers) x.weight = 0;
  vs.real_servers = realServers;
  // secrets and per-service extras that were consumed by buildCheck are acted on; mention the rest
  for (const k of ['login', 'passwd', 'database', 'secret', 'httpmethod', 'monitorfile', 'sslcert', 'sslkey', 'checkcommand']) {
    const l = own.get(k);
    if (!l || check.used.has(k)) continue;
    r.notActed(l, SECRET.has(k) ? 'the credential is not used (vipkeeper has no checker that logs in); its value is not shown' : `vipkeeper has no use for it with this check type`);
  }
  return vs;
}

interface BuiltCheck {
  /** The check for each real server (undefined: none, the real server is always up). */
  make?: (rsPort: number | undefined, request?: string, receive?: string) => Record<string, unknown>;
  off: boolean;
  used: Set<string>;
}

function buildCheck(own: ReadonlyMap<string, Line>, get: (k: string) => Line | undefined, vport: number | undefined, r: Report): BuiltCheck {
  const used = new Set<string>();
  const ct = own.get('checktype');
  let type = (ct?.value ?? 'negotiate').toLowerCase();
  if (/^\d+$/.test(type)) {
    r.partial(ct!, `${type} connect checks then one negotiate check per cycle: vipkeeper runs the negotiate check every time`);
    type = 'negotiate';
  }
  const portLine = own.get('checkport');
  const checkPort = portLine ? Number(portLine.value) : undefined;
  if (portLine && !(Number.isInteger(checkPort) && checkPort! > 0 && checkPort! < 65536)) r.err({ line: portLine.line, col: portLine.valueCol }, `checkport must be a port number, got ${JSON.stringify(portLine.value)}`);
  const timeout = (kind: 'connect' | 'negotiate'): string | undefined => {
    const l = (kind === 'connect' ? get('connecttimeout') : get('negotiatetimeout')) ?? get('checktimeout');
    return l ? `${Number(l.value) || 5}s` : kind === 'negotiate' ? '30s' : '5s';
  };
  const common = (_rsPort: number | undefined, kind: 'connect' | 'negotiate') => ({ ...(checkPort ? { connect_port: checkPort } : {}), connect_timeout: timeout(kind) });
  const svcLine = own.get('service');
  const service = (svcLine?.value ?? (checkPort ?? vport ? SERVICE_BY_PORT[(checkPort ?? vport)!] : undefined) ?? 'none').toLowerCase();
  const request = own.get('request');
  const receive = own.get('receive');
  const vhost = own.get('virtualhost');
  if (vhost) {
    if (type === 'negotiate' && (service === 'http' || service === 'https')) used.add('virtualhost');
    else r.notActed(vhost, `only HTTP negotiate checks send a Host header; this one does not`);
  }
  switch (type) {
    case 'on':
      for (const l of [request, receive, svcLine]) if (l) r.notActed(l, 'checktype=on: no check runs, the real servers are always up');
      return { off: false, used };
    case 'off':
      for (const l of [request, receive, svcLine]) if (l) r.notActed(l, 'checktype=off: no check runs');
      if (ct) r.partial(ct, 'checktype=off: the real servers get weight 0 (no traffic); vipkeeper has no "always down" check');
      return { off: true, used };
    case 'ping':
      for (const l of [request, receive]) if (l) r.notActed(l, 'a ping check sends no request');
      return { make: (p) => ({ type: 'PING_CHECK', ...common(p, 'connect') }), off: false, used };
    case 'connect':
      for (const l of [request, receive]) if (l) r.notActed(l, 'checktype=connect only opens a TCP connection');
      return { make: (p) => ({ type: 'TCP_CHECK', ...common(p, 'connect') }), off: false, used };
    case 'external':
    case 'external-perl': {
      const cmd = own.get('checkcommand');
      if (!cmd) {
        r.err(ct!, `checktype=${type} needs checkcommand=`);
        return { off: false, used };
      }
      used.add('checkcommand');
      r.partial(
        ct!,
        `ldirectord passes the virtual and real address and port as arguments; vipkeeper runs the command as written${type === 'external-perl' ? ', as a program (it needs a #! line), not inside the daemon' : ''}`,
      );
      return {
        make: () => ({ type: 'MISC_CHECK', misc_path: unquote(cmd.value), misc_timeout: timeout('negotiate') }),
        off: false,
        used,
      };
    }
    case 'negotiate':
      break;
    default:
      r.err({ line: ct!.line, col: ct!.valueCol }, `checktype must be connect, negotiate, ping, external, external-perl, on, off or a number, got ${JSON.stringify(ct!.value)}`);
      return { off: false, used };
  }
  const path = (req: string | undefined) => {
    const q = unquote(req ?? '/');
    return q.startsWith('/') ? q : `/${q}`;
  };
  switch (service) {
    case 'http':
    case 'https':
      return {
        make: (p, req, rec) => ({
          type: service === 'http' ? 'HTTP_GET' : 'SSL_GET',
          ...common(p, 'negotiate'),
          url: [{ path: path(req ?? request?.value), ...((rec ?? receive?.value) ? { regex: unquote((rec ?? receive?.value)!) } : {}) }],
          ...(vhost ? { virtualhost: unquote(vhost.value) } : {}),
        }),
        off: false,
        used,
      };
    case 'dns':
      if (receive) r.partial(receive, 'the DNS check asks for the name and wants an answer; it does not match the answer against receive');
      return { make: (p, req) => ({ type: 'DNS_CHECK', ...common(p, 'negotiate'), dns_type: 'A', name: unquote(req ?? request?.value ?? '.') }), off: false, used };
    case 'smtp':
      for (const l of [request, receive]) if (l) r.notActed(l, 'the SMTP check reads the greeting and says HELO; it sends no request');
      return { make: (p) => ({ type: 'SMTP_CHECK', ...common(p, 'negotiate') }), off: false, used };
    case 'none':
      for (const l of [request, receive]) if (l) r.notActed(l, 'no service is negotiated: a TCP connect check is used');
      return { make: (p) => ({ type: 'TCP_CHECK', ...common(p, 'connect') }), off: false, used };
    default: {
      const what = NO_CHECKER[service];
      if (!what) {
        r.err({ line: svcLine?.line ?? 1, col: svcLine?.valueCol ?? 1 }, `unknown service ${JSON.stringify(service)}`);
        return { off: false, used };
      }
      r.partial(svcLine ?? ct!, `vipkeeper has no ${service} checker (${what}): a TCP connect check stands in, which only proves the port is open`);
      for (const l of [request, receive]) if (l) r.notActed(l, `no ${service} negotiation is done`);
      return { make: (p) => ({ type: 'TCP_CHECK', ...common(p, 'connect') }), off: false, used };
    }
  }
}

/** `real=ADDR[:PORT] [gate|masq|ipip] [WEIGHT] ["request", "receive"]`; `ADDR->ADDR` expands a range of the last octet. */
function realServer(l: Line, vport: number | undefined, fwmark: boolean, check: BuiltCheck, r: Report): Record<string, unknown>[] {
  const m = /^(\S+)(?:\s+(gate|masq|ipip))?(?:\s+(\d+))?(?:\s+"([^"]*)"\s*,\s*"([^"]*)")?\s*$/.exec(l.value);
  if (!m) {
    r.err({ line: l.line, col: l.valueCol }, `real=${l.value}: need ADDRESS[:PORT] [gate|masq|ipip] [WEIGHT] ["request", "receive"]`);
    return [];
  }
  const [, target, fwd = 'gate', weight, req, rec] = m;
  let addresses: string[] = [];
  let port: number | undefined;
  const range = /^(\d+\.\d+\.\d+\.)(\d+)->(?:\d+\.\d+\.\d+\.)?(\d+)(?::(\d+))?$/.exec(target!);
  if (range) {
    const [lo, hi] = [Number(range[2]), Number(range[3])];
    if (hi < lo || hi > 255 || hi - lo > 255) {
      r.err({ line: l.line, col: l.valueCol }, `real=${target}: the range must go up within one /24`);
      return [];
    }
    for (let i = lo; i <= hi; i++) addresses.push(`${range[1]}${i}`);
    if (range[4]) port = Number(range[4]);
  } else {
    const hp = hostPort(target!);
    if (!hp) {
      r.err({ line: l.line, col: l.valueCol }, `real=${target}: need a literal address (host names are not resolved)`);
      return [];
    }
    addresses = [hp.address];
    port = hp.port;
  }
  if (port === undefined && !fwmark) port = vport;
  return addresses.map((address) => ({
    address,
    ...(port !== undefined ? { port } : {}),
    lvs_method: FORWARD[fwd]!,
    ...(weight !== undefined ? { weight: Number(weight) } : {}),
    checks: check.make ? [check.make(port, req, rec)] : [],
  }));
}

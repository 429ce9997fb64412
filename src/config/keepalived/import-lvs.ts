// virtual_server_group, virtual_server, real_server and the checkers: the keepalived
// importer's LVS tables.
import { isIP } from 'node:net';
import { parseCidr, REGEX_OPTIONS, UNHONOURED_REGEX_OPTIONS } from '../schema.js';
import { argText, type ImportContext, list, needArg, readInt, readIp, readPort, readScript, useArgs, type Obj } from './context.js';
import { bool, enumOf, flag, int, ip, needBlock, port, script, secs, set, str, table, walk, weighted, type Handler, type State, type Table } from './import-handlers.js';
import type { KNode } from './tree.js';

// ---------------------------------------------------------------- virtual servers

const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'sh', 'mh', 'dh', 'fo', 'ovf', 'lblcr', 'sed', 'nq', 'twos'];

function lvsMethod(key: string): Handler {
  return (ctx, node, t, path) => {
    const v = needArg(ctx, node, 'NAT, DR or TUN');
    if (v === undefined) return;
    if (v !== 'NAT' && v !== 'DR' && v !== 'TUN') {
      const up = v.toUpperCase();
      ctx.error(node.args[0]!.loc, `'${node.keyword}' ${v} is not valid; use ${['NAT', 'DR', 'TUN'].includes(up) ? `'${up}' (keepalived is case-sensitive here)` : 'NAT, DR or TUN'}`);
      return;
    }
    set(ctx, t, path, key, v, node);
    if (v === 'TUN' && node.args.length > 1) {
      useArgs(node);
      const tun: Obj = {};
      const args = node.args.slice(1).map((a) => a.text);
      for (let i = 0; i < args.length; i++) {
        const a = args[i] as string;
        if (a === 'type') tun.type = args[++i];
        else if (a === 'port') tun.port = Number(args[++i]);
        else if (['nocsum', 'csum', 'remcsum'].includes(a)) tun.csum = a;
        else ctx.warn(node.loc, `unexpected tunnel option '${a}'`);
      }
      t.tunnel = tun;
    }
  };
}

/** The connection keywords of every checker but MISC_CHECK, FILE_CHECK and BFD_CHECK. */
const CONNECTION: Record<string, Handler> = {
  connect_ip: ip('connect_ip'),
  connect_port: port('connect_port'),
  bindto: ip('bindto'),
  bind_port: port('bind_port'),
  bind_if: str('bind_if'),
  fwmark: int('fwmark', 0, 2 ** 32 - 1),
  connect_timeout: secs('connect_timeout'),
};

/** The retry keywords of every checker but FILE_CHECK and BFD_CHECK. */
const RETRY: Record<string, Handler> = {
  retry: int('retry', 0, 2 ** 31 - 1),
  delay_before_retry: secs('delay_before_retry'),
  delay_loop: secs('delay_loop'),
  warmup: secs('warmup'),
  alpha: bool('alpha'),
  log_all_failures: bool('log_all_failures'),
};

export const URL: Table = table('url', {
  path: str('path'),
  digest: (ctx, node, t, path) => {
    const v = needArg(ctx, node, 'an MD5 digest');
    if (v === undefined) return;
    if (!/^[0-9a-fA-F]{32}$/.test(v)) {
      ctx.error(node.args[0]!.loc, `digest '${v}' is not an MD5 digest of 32 hex digits; compute one with \`genhash\``);
      return;
    }
    set(ctx, t, path, 'digest', v.toLowerCase(), node);
  },
  status_code: (ctx, node, t, path) => {
    useArgs(node);
    const arr = list(t, 'status_code');
    for (const a of node.args) {
      const m = /^(\d{3})(?:-(\d{3}))?$/.exec(a.text);
      if (!m || Number(m[1]) < 100 || Number(m[2] ?? m[1]) > 599) {
        ctx.error(a.loc, `status_code '${a.text}' is not a status code or range like 200-299`);
        continue;
      }
      arr.push(m[2] ? a.text : Number(m[1]));
    }
    ctx.field(t, 'status_code', node.loc);
  },
  virtualhost: str('virtualhost'),
  regex: (ctx, node, t, path) => {
    const v = readScript(ctx, node);
    if (v) set(ctx, t, path, 'regex', v.command, node);
  },
  regex_no_match: flag('regex_no_match'),
  regex_options: (ctx, node, t, path) => {
    useArgs(node);
    const known = new Set<string>(REGEX_OPTIONS);
    const opts = (t.regex_options as string[] | undefined) ?? [];
    for (const a of node.args) {
      const lost = UNHONOURED_REGEX_OPTIONS[a.text];
      if (known.has(a.text)) {
        if (!opts.includes(a.text)) opts.push(a.text);
      } else if (lost !== undefined) {
        ctx.warn(a.loc, `regex option '${a.text}' has no JavaScript equivalent and is not applied: ${lost}`);
      } else {
        ctx.warn(a.loc, `'${a.text}' is not a regex option; keepalived ignores it, and so does vipkeeper`);
      }
    }
    if (opts.length > 0) set(ctx, t, path, 'regex_options', opts, node);
  },
  regex_min_offset: regexOffset('regex_min_offset'),
  regex_max_offset: regexOffset('regex_max_offset'),
  tls_compliant: bool('tls_compliant'),
});

/** keepalived's url_check: regex parameters without a regex, or a min offset past the max, are dropped with a log line. */
function regexParameters(ctx: ImportContext, node: KNode, u: Obj): void {
  const params = ['regex_options', 'regex_min_offset', 'regex_max_offset', 'regex_no_match'].filter((k) => u[k] !== undefined);
  if (u.regex === undefined && params.length > 0) {
    ctx.warn(node.loc, `url block has ${params.join(', ')} without a regex; keepalived ignores them ("regex parameters specified without regex"), and so does vipkeeper`);
    for (const k of params) delete u[k];
    return;
  }
  const min = u.regex_min_offset as number | undefined;
  const max = u.regex_max_offset as number | undefined;
  if (min !== undefined && max !== undefined && min > max) {
    ctx.warn(node.loc, `regex_min_offset ${min} is past regex_max_offset ${max}; keepalived ignores both, and so does vipkeeper`);
    delete u.regex_min_offset;
    delete u.regex_max_offset;
  }
}

/** keepalived reads the offset with strtoul; anything else is logged and taken as 0 (no bound). */
function regexOffset(key: string): Handler {
  return (ctx, node, t, path) => {
    const v = needArg(ctx, node, 'an offset in bytes');
    if (v === undefined) return;
    if (node.args.length !== 1 || !/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
      useArgs(node);
      ctx.warn(node.loc, `'${key}' needs one offset in bytes; keepalived ignores this line, and so does vipkeeper`);
      return;
    }
    set(ctx, t, path, key, Number(v), node);
  };
}

function urlBlock(): Handler {
  return (ctx, node, t, path, st) => {
    if (!needBlock(ctx, node)) return;
    const arr = list(t, 'url');
    const u: Obj = {};
    const p = [...path, 'url', arr.length];
    ctx.here(u, node.loc);
    walk(ctx, node.children, URL, u, p, st, 'url');
    if (u.path === undefined) {
      ctx.error(node.loc, `url block has no path; add 'path /…'`);
      return;
    }
    regexParameters(ctx, node, u);
    arr.push(u);
  };
}

const HTTP: Record<string, Handler> = {
  ...CONNECTION,
  ...RETRY,
  url: urlBlock(),
  http_protocol: enumOf('http_protocol', ['1.0', '1.0C', '1.1'], { caseInsensitive: true }),
  virtualhost: str('virtualhost'),
  fast_recovery: bool('fast_recovery'),
  enable_sni: bool('enable_sni'),
  sni_name: str('sni_name'),
  tls_compliant: bool('tls_compliant'),
};

export const SMTP_HOST: Table = table('smtp_host', { ...CONNECTION, ...RETRY });

/** The checker kinds vipkeeper runs (BFD_CHECK is not acted on: the ledger reports it). */
type CheckerKind = 'TCP_CHECK' | 'HTTP_GET' | 'SSL_GET' | 'SMTP_CHECK' | 'DNS_CHECK' | 'MISC_CHECK' | 'UDP_CHECK' | 'PING_CHECK' | 'FILE_CHECK';

export const CHECKERS: Record<CheckerKind, Table> = {
  TCP_CHECK: table('TCP_CHECK', { ...CONNECTION, ...RETRY }),
  HTTP_GET: table('HTTP_GET', HTTP),
  SSL_GET: table('SSL_GET', HTTP),
  SMTP_CHECK: table('SMTP_CHECK', {
    ...CONNECTION,
    ...RETRY,
    helo_name: str('helo_name'),
    host: (ctx, node, t, path, st) => {
      if (!needBlock(ctx, node)) return;
      ctx.warn(node.loc, `SMTP_CHECK 'host' blocks are deprecated; each becomes its own SMTP_CHECK`);
      const h: Obj = {};
      walk(ctx, node.children, SMTP_HOST, h, path, st, 'host');
      list(t, '__hosts').push({ fields: h, loc: node.loc });
    },
  }),
  DNS_CHECK: table('DNS_CHECK', {
    ...CONNECTION,
    ...RETRY,
    type: enumOf('dns_type', ['A', 'NS', 'CNAME', 'SOA', 'MX', 'TXT', 'AAAA', 'RRSIG', 'DNSKEY'], { caseInsensitive: true }),
    name: str('name'),
  }),
  MISC_CHECK: table('MISC_CHECK', {
    ...RETRY,
    misc_path: script('misc_path'),
    misc_timeout: secs('misc_timeout'),
    misc_dynamic: flag('misc_dynamic'),
    user: (ctx, node, t) => {
      const user = needArg(ctx, node, 'a user name');
      if (user) t.__user = { user, group: argText(node, 1) };
    },
  }),
  UDP_CHECK: table('UDP_CHECK', {
    ...CONNECTION,
    ...RETRY,
    payload: str('payload'),
    require_reply: (ctx, node, t, path) => set(ctx, t, path, 'require_reply', argText(node) ?? '', node),
    min_reply_length: int('min_reply_length', 0, 65535),
    max_reply_length: int('max_reply_length', 0, 65535),
  }),
  PING_CHECK: table('PING_CHECK', { ...CONNECTION, ...RETRY }),
  FILE_CHECK: table('FILE_CHECK', {
    track_file: str('track_file'),
    weight: weighted(-254, 254),
    dynamic: flag('dynamic'),
  }),
};

function checker(kind: CheckerKind): Handler {
  return (ctx, node, t, path, st) => {
    if (!needBlock(ctx, node)) return;
    const checks = list(t, 'checks');
    const c: Obj = { type: kind };
    const p = [...path, 'checks', checks.length];
    ctx.here(c, node.loc);
    walk(ctx, node.children, CHECKERS[kind], c, p, st, kind);
    const user = c.__user as { user: string; group?: string } | undefined;
    delete c.__user;
    if (kind === 'MISC_CHECK') {
      if (!c.misc_path) {
        ctx.error(node.loc, `MISC_CHECK has no misc_path; add the script to run`);
        return;
      }
      if (user) c.misc_path = { ...(c.misc_path as Obj), user: user.user, ...(user.group ? { group: user.group } : {}) };
    }
    if ((kind === 'HTTP_GET' || kind === 'SSL_GET') && !Array.isArray(c.url)) {
      ctx.error(node.loc, `${kind} has no url block; keepalived rejects the real server. Add url { path / }`);
      return;
    }
    if (kind === 'FILE_CHECK' && c.track_file === undefined) {
      ctx.error(node.loc, `FILE_CHECK has no track_file`);
      return;
    }
    if (kind === 'FILE_CHECK' && !st.trackFilesDefined.has(c.track_file as string)) {
      // keepalived resolves it while parsing: "track_file X not found", and the checker is dropped
      ctx.warn(node.loc, `FILE_CHECK: track_file '${String(c.track_file)}' is not defined above this line; keepalived drops this checker ("not found"), and so does vipkeeper`);
      return;
    }
    const hosts = c.__hosts as { fields: Obj; loc: typeof node.loc }[] | undefined;
    delete c.__hosts;
    if (hosts?.length) {
      const [first, ...others] = hosts;
      Object.assign(c, first!.fields);
      checks.push(c);
      for (const h of others) {
        const copy: Obj = { ...c, ...h.fields };
        ctx.here(copy, h.loc);
        checks.push(copy);
      }
      return;
    }
    checks.push(c);
  };
}

const SERVER_TIMING: Record<string, Handler> = {
  connect_timeout: secs('connect_timeout'),
  retry: int('retry', 0, 2 ** 31 - 1),
  delay_before_retry: secs('delay_before_retry'),
  delay_loop: secs('delay_loop'),
  warmup: secs('warmup'),
  alpha: bool('alpha'),
  inhibit_on_failure: bool('inhibit_on_failure'),
  virtualhost: str('virtualhost'),
  smtp_alert: bool('smtp_alert'),
};

export const REAL_SERVER: Table = table('real_server', {
  weight: int('weight', 0, 2147483647),
  lvs_method: lvsMethod('lvs_method'),
  uthreshold: int('uthreshold', 0, 2 ** 31 - 1),
  lthreshold: int('lthreshold', 0, 2 ** 31 - 1),
  notify_up: script('notify_up'),
  notify_down: script('notify_down'),
  ...SERVER_TIMING,
  ...Object.fromEntries((Object.keys(CHECKERS) as CheckerKind[]).map((k) => [k, checker(k)])),
});

export function serverAddr(ctx: ImportContext, node: KNode, what: string): { address: string; port?: number } | undefined {
  const addr = readIp(ctx, node);
  if (addr === undefined) return undefined;
  if (argText(node, 1) === undefined) return { address: addr };
  const p = readPort(ctx, node, 1);
  if (p === undefined) return undefined;
  if (argText(node, 2) !== undefined) ctx.warn(node.args[2]!.loc, `unexpected '${argText(node, 2)}' after the ${what} port`);
  return { address: addr, port: p };
}

export const VIRTUAL_SERVER: Table = table('virtual_server', {
  lb_algo: enumOf('lb_algo', SCHEDULERS),
  lb_kind: lvsMethod('lb_kind'),
  protocol: enumOf('protocol', ['TCP', 'UDP', 'SCTP'], { caseInsensitive: true }),
  persistence_timeout: (ctx, node, t, path) => {
    if (argText(node) === undefined) set(ctx, t, path, 'persistence_timeout', 360, node);
    else {
      const v = readInt(ctx, node, 0, 2 ** 31 - 1);
      if (v !== undefined) set(ctx, t, path, 'persistence_timeout', v, node);
    }
  },
  persistence_granularity: str('persistence_granularity'),
  persistence_engine: str('persistence_engine'),
  ...SERVER_TIMING,
  omega: flag('omega'),
  alpha: flag('alpha'),
  inhibit_on_failure: flag('inhibit_on_failure'),
  ha_suspend: flag('ha_suspend'),
  ops: flag('ops'),
  ip_family: enumOf('ip_family', ['inet', 'inet6']),
  weight: int('weight', 0, 2147483647),
  quorum: int('quorum', 0, 2 ** 31 - 1),
  hysteresis: int('hysteresis', 0, 2 ** 31 - 1),
  quorum_up: script('quorum_up'),
  quorum_down: script('quorum_down'),
  sorry_server: (ctx, node, t, path) => {
    const s = serverAddr(ctx, node, 'sorry server');
    if (s) set(ctx, t, path, 'sorry_server', { ...((t.sorry_server as Obj) ?? {}), ...s }, node);
  },
  sorry_server_inhibit: (ctx, node, t) => {
    (t.__sorry ??= {}) as Obj;
    (t.__sorry as Obj).inhibit = true;
    void ctx;
    void node;
  },
  sorry_server_lvs_method: (ctx, node, t, path) => {
    const tmp: Obj = {};
    lvsMethod('lvs_method')(ctx, node, tmp, path, undefined as unknown as State);
    if (tmp.lvs_method) ((t.__sorry ??= {}) as Obj).lvs_method = tmp.lvs_method;
  },
  ...Object.fromEntries(['flag-1', 'flag-2', 'flag-3', 'sh-port', 'sh-fallback', 'mh-port', 'mh-fallback'].map((f) => [f, ((ctx, node, t) => {
    const flags = list(t, 'flags');
    if (!flags.includes(f)) flags.push(f);
    void ctx;
    void node;
  }) as Handler])),
  real_server: (ctx, node, t, path, st) => {
    if (!needBlock(ctx, node)) return;
    const rsAddr = serverAddr(ctx, node, 'real server');
    if (!rsAddr) return;
    const arr = list(t, 'real_servers');
    // not `{ ...rsAddr }`: V8's spread, once its call site has seen many objects, gives each copy a
    // map of its own (at 37,300 real servers, 12 MB of maps and descriptors); fields added one by
    // one share one map
    const rs: Obj = { address: rsAddr.address };
    if (rsAddr.port !== undefined) rs.port = rsAddr.port;
    const p = [...path, 'real_servers', arr.length];
    ctx.leanDepth++;
    try {
      ctx.here(rs, node.loc);
      walk(ctx, node.children, REAL_SERVER, rs, p, st, `real_server ${rsAddr.address}`);
    } finally {
      ctx.leanDepth--;
    }
    // a list grown by push keeps room for 17 entries: 5 MB at 37,300 real servers of one check each
    if (Array.isArray(rs.checks)) rs.checks = rs.checks.slice();
    arr.push(rs);
  },
});

export function parseVsgLine(ctx: ImportContext, tokens: string[], line: KNode): Obj | undefined {
  const [first, second, third] = tokens as [string, string?, string?];
  if (first === 'fwmark') {
    const n = second !== undefined && /^\d+$/.test(second) ? Number(second) : undefined;
    if (!n) {
      ctx.error(line.loc, `fwmark in a virtual_server_group needs a number, got '${second ?? ''}'`);
      return undefined;
    }
    const e: Obj = { fwmark: n };
    if (third === 'inet' || third === 'inet6') e.family = third;
    return e;
  }
  const e: Obj = {};
  const range = /^(.+?)-([0-9a-fA-F.:]+)$/.exec(first);
  if (first.includes('/')) {
    const c = parseCidr(first);
    if ('error' in c) {
      ctx.error(line.loc, `invalid address range '${first}': ${c.error}`);
      return undefined;
    }
    e.address = c.address;
    e.prefix = c.prefix;
  } else if (range && isIP(range[1] as string)) {
    const start = range[1] as string;
    const end = range[2] as string;
    let last: string;
    if (isIP(start) === 4) last = end.includes('.') ? end : start.split('.').slice(0, 3).concat(end).join('.');
    else last = end.includes(':') ? end : start.replace(/[0-9a-fA-F]*$/, end);
    if (isIP(last) !== isIP(start)) {
      ctx.error(line.loc, `invalid address range '${first}'; write a.b.c.d-e`);
      return undefined;
    }
    e.address = start;
    e.last = last;
  } else if (isIP(first)) e.address = first;
  else {
    ctx.error(line.loc, `'${first}' is not an address, a range or 'fwmark N'`);
    return undefined;
  }
  if (second !== undefined) {
    if (!/^\d+$/.test(second) || Number(second) > 65535) {
      ctx.error(line.loc, `'${second}' is not a valid port`);
      return undefined;
    }
    e.port = Number(second);
  }
  return e;
}

export function finishVirtualServer(ctx: ImportContext, vs: Obj, node: KNode): void {
  const sorry = vs.__sorry as Obj | undefined;
  delete vs.__sorry;
  if (sorry && vs.sorry_server) Object.assign(vs.sorry_server as Obj, sorry);
  const what = `virtual server ${node.args.map((a) => a.text).join(' ')}`;
  // keepalived's defaults when these are missing, each logged by keepalived as a config error.
  if (vs.lb_algo === undefined) {
    ctx.warn(node.loc, `${what} has no lb_algo; keepalived uses wlc, written explicitly`);
    vs.lb_algo = 'wlc';
  }
  if (vs.lb_kind === undefined) {
    ctx.warn(node.loc, `${what} has no lb_kind; keepalived uses NAT, written explicitly`);
    vs.lb_kind = 'NAT';
  }
  if (vs.fwmark !== undefined) {
    if (vs.protocol !== undefined) {
      ctx.warn(node.loc, `${what}: protocol is ignored for an fwmark service (keepalived ignores it too)`);
      delete vs.protocol;
    }
  } else if (vs.protocol === undefined) {
    ctx.warn(node.loc, `${what} has no protocol; keepalived then uses UDP, written explicitly. Add 'protocol TCP' if that is what you meant`);
    vs.protocol = 'UDP';
  }
  if ((vs.port === undefined || vs.port === 0) && vs.fwmark === undefined && vs.group === undefined && vs.persistence_timeout === undefined) {
    ctx.warn(node.loc, `${what} has port 0; keepalived forces persistence_timeout 360 for it`);
    vs.persistence_timeout = 360;
  }
}

/** A virtual server's IPVS identity, as vsKey computes it from the model (src/config/validate.ts). */
function identity(vs: Obj): string {
  if (vs.fwmark !== undefined) return `fwmark ${String(vs.fwmark)}`;
  if (vs.group !== undefined) return `group ${String(vs.group)}${vs.protocol !== undefined && vs.protocol !== 'TCP' ? ` ${String(vs.protocol)}` : ''}`;
  return `${String(vs.address)} ${String(vs.port ?? 0)} ${String(vs.protocol)}`;
}

/** Inherited by real servers from their virtual server, with the value a real server gets when neither sets it. */
const INHERITED: Record<string, unknown> = {
  delay_loop: 60,
  connect_timeout: 5,
  alpha: false,
  inhibit_on_failure: false,
  weight: 1,
  retry: undefined,
  delay_before_retry: undefined,
  warmup: undefined,
  virtualhost: undefined,
};

/**
 * The same virtual server defined twice (e.g. by a `$` macro used twice). keepalived adds the
 * IPVS service once (the second add fails with EEXIST, which it ignores) and adds the real
 * servers of both to it: the first one's service settings win, each real server keeps its own
 * virtual server's checker settings (but retry, delay_before_retry, warmup and virtualhost set
 * only on the first are inherited from it). An identical second definition is simply dropped.
 */
export function finishVirtualServers(ctx: ImportContext, input: Obj): void {
  const list = input.virtual_servers as Obj[] | undefined;
  if (!list) return;
  const first = new Map<string, Obj>();
  const kept: Obj[] = [];
  for (const vs of list) {
    const key = identity(vs);
    const prev = first.get(key);
    if (!prev) {
      first.set(key, vs);
      kept.push(vs);
      continue;
    }
    const loc = ctx.locOf(['virtual_servers', list.indexOf(vs)]) ?? { file: '', line: 1, col: 1 };
    const at = ctx.locOf(['virtual_servers', list.indexOf(prev)]);
    const firstAt = at ? `line ${at.line}` : 'above';
    // JSON: the fields as written (the objects' locations, kept under a symbol, do not count)
    if (JSON.stringify(vs) === JSON.stringify(prev)) {
      ctx.warn(loc, `virtual server ${key} is defined again with the same settings (first at ${firstAt}); keepalived programs it once, and so does vipkeeper`);
      continue;
    }
    ctx.warn(
      loc,
      `virtual server ${key} is defined again (first at ${firstAt}); keepalived keeps the first one's service settings and adds this one's real servers to it, and so does vipkeeper`,
    );
    const into = (prev.real_servers ??= []) as Obj[];
    const have = new Set(into.map((rs) => `${String(rs.address)} ${String(rs.port ?? '')}`));
    for (const rs of (vs.real_servers ?? []) as Obj[]) {
      const rsKey = `${String(rs.address)} ${String(rs.port ?? '')}`;
      if (have.has(rsKey)) {
        ctx.warn(ctx.locOf(['virtual_servers', list.indexOf(vs), 'real_servers', (vs.real_servers as Obj[]).indexOf(rs)]) ?? loc, `real server ${rsKey.trim()} is already in the first definition of ${key}; this one is dropped`);
        continue;
      }
      // what this real server inherited from its own virtual server, it now carries itself
      for (const [f, builtin] of Object.entries(INHERITED)) {
        if (rs[f] !== undefined) continue;
        const own = vs[f] ?? (prev[f] !== undefined ? builtin : undefined);
        if (own !== undefined) rs[f] = own;
      }
      have.add(rsKey);
      into.push(rs);
    }
  }
  if (kept.length !== list.length) input.virtual_servers = kept;
}

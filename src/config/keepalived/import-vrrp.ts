// vrrp_script, track_file, vrrp_track_process, vrrp_sync_group and vrrp_instance: the keepalived
// importer's VRRP tables, and the whole-config fix-ups keepalived applies to instances.
import { isIP } from 'node:net';
import type { SourceLoc } from '../diagnostics.js';
import { consequence, isInert, lookup } from '../ledger/ledger.js';
import { parseCidr, parseVipLine } from '../schema.js';
import { showLine } from '../secrets.js';
import { argText, type ImportContext, list, needArg, readIp, useArgs, valueLines, type Obj, type Path } from './context.js';
import { INSTANCE_BUILTIN } from './import-global.js';
import { bool, enumOf, flag, garpExtraIf, int, ip, needBlock, script, secs, set, str, table, walk, weighted, type Handler, type State, type Table } from './import-handlers.js';
import type { KNode } from './tree.js';

// ---------------------------------------------------------------- trackers

function trackList(key: string, nameKey: 'interface' | 'name', min: number, max: number): Handler {
  return (ctx, node, t, path, st) => {
    if (!needBlock(ctx, node)) return;
    const arr = list(t, key);
    for (const { tokens, node: line } of valueLines(node)) {
      const [name, ...rest] = tokens as [string, ...string[]];
      const ref: Obj = { [nameKey]: name };
      for (let i = 0; i < rest.length; i++) {
        const w = rest[i];
        if (w === 'weight') {
          const n = rest[i + 1];
          if (n === undefined || !/^-?\d+$/.test(n) || Number(n) < min || Number(n) > max) {
            ctx.error(line.loc, `track weight for '${name}' must be ${min}..${max}, got '${n ?? ''}'`);
          } else ref.weight = Number(n);
          i++;
        } else if (w === 'reverse') ref.reverse = true;
        else if (w === 'noreverse') ref.reverse = false;
        else ctx.warn(line.loc, `unexpected '${w}' after '${name}'; expected weight N [reverse]`);
      }
      if (arr.some((x) => (x as Obj)[nameKey] === name)) {
        ctx.warn(line.loc, `'${name}' is tracked twice; keepalived ignores the second`);
        continue;
      }
      // keepalived resolves a reference while parsing (G15): a script or file not defined above
      // this line (defined later, removed for having no script, or never) is ignored with a warning.
      if (key === 'track_script' && !st.scriptsDefined.has(name)) {
        ctx.warn(line.loc, `track script '${name}' is not defined above this line; keepalived ignores it ("not found, ignoring"), and so does vipkeeper`);
        continue;
      }
      if (key === 'track_file' && !st.trackFilesDefined.has(name)) {
        ctx.warn(line.loc, `track file '${name}' is not defined above this line; keepalived ignores it ("not found, ignoring"), and so does vipkeeper`);
        continue;
      }
      if (key === 'track_process' && !st.trackProcessesDefined.has(name)) {
        ctx.warn(line.loc, `track process '${name}' is not defined above this line; keepalived ignores it ("not found, ignoring"), and so does vipkeeper`);
        continue;
      }
      ctx.field(arr, arr.length, line.loc);
      arr.push(ref);
    }
    ctx.field(t, key, node.loc);
  };
}

export const VRRP_SCRIPT: Table = table('vrrp_script', {
  script: script('script'),
  interval: secs('interval'),
  timeout: secs('timeout'),
  weight: weighted(-253, 253),
  rise: int('rise', 1, 2 ** 31 - 1),
  fall: int('fall', 1, 2 ** 31 - 1),
  user: (ctx, node, t) => {
    const user = needArg(ctx, node, 'a user name');
    if (!user) return;
    t.__user = { user, group: argText(node, 1) };
  },
  init_fail: flag('init_fail'),
});

export const TRACK_FILE: Table = table('track_file', {
  file: str('file'),
  weight: weighted(-254, 254),
  init_file: (ctx, node, t, path) => {
    useArgs(node);
    const init: Obj = {};
    for (const a of node.args) {
      if (a.text === 'overwrite') init.overwrite = true;
      else if (/^-?\d+$/.test(a.text)) init.value = Number(a.text);
      else ctx.warn(a.loc, `init_file takes [VALUE] [overwrite], not '${a.text}'`);
    }
    set(ctx, t, path, 'init_file', init, node);
  },
});

export const TRACK_PROCESS: Table = table('vrrp_track_process', {
  process: (ctx, node, t, path) => {
    useArgs(node);
    const name = needArg(ctx, node, 'a process name');
    if (name === undefined) return;
    if (t.process !== undefined) {
      ctx.warn(node.loc, `process is already set for this vrrp_track_process; keepalived ignores this one, and so does vipkeeper`);
      return;
    }
    set(ctx, t, path, 'process', name, node);
    if (node.args.length > 1) t.args = node.args.slice(1).map((a) => a.text);
  },
  param_match: (ctx, node, t, path, st) => {
    // keepalived: a bare `param_match` is exact matching, so a process without arguments then
    // matches only when run without any (written as `args: []`)
    if (node.args.length === 0) {
      set(ctx, t, path, 'param_match', 'exact', node);
      t.__bareExact = true;
      return;
    }
    enumOf('param_match', ['initial', 'partial'])(ctx, node, t, path, st);
  },
  weight: weighted(-254, 254),
  quorum: (ctx, node, t, path, st) => {
    const before = t.quorum;
    int('quorum', 1, 65535)(ctx, node, t, path, st);
    if (t.quorum !== before && typeof t.quorum_max === 'number' && (t.quorum as number) > t.quorum_max) {
      ctx.warn(node.loc, `quorum ${String(t.quorum)} is greater than quorum_max ${t.quorum_max}; keepalived ignores it ("Quorum is greater than quorum_max - ignoring"), and so does vipkeeper`);
      if (before === undefined) delete t.quorum;
      else t.quorum = before;
    }
  },
  quorum_max: (ctx, node, t, path, st) => {
    const before = t.quorum_max;
    int('quorum_max', 0, 65535)(ctx, node, t, path, st);
    const max = t.quorum_max;
    if (max === before || typeof max !== 'number') return;
    const quorum = typeof t.quorum === 'number' ? t.quorum : 1;
    if ((max !== 0 || quorum > 1) && max < quorum) {
      ctx.warn(node.loc, `quorum_max ${max} is less than quorum ${quorum}; keepalived ignores it ("quorum_max is less than quorum - ignoring"), and so does vipkeeper`);
      if (before === undefined) delete t.quorum_max;
      else t.quorum_max = before;
      return;
    }
    // keepalived: quorum_max 0 means "tracked while none runs" (quorum 0)
    if (max === 0) t.quorum = 0;
    else if (t.quorum === 0) t.quorum = 1;
  },
  fork_delay: secs('fork_delay', { min: 0.000001, max: 3600 }),
  terminate_delay: secs('terminate_delay', { min: 0.000001, max: 3600 }),
  delay: (ctx, node, t, path, st) => {
    secs('fork_delay', { min: 0.000001, max: 3600 })(ctx, node, t, path, st);
    secs('terminate_delay', { min: 0.000001, max: 3600 })(ctx, node, t, path, st);
  },
  full_command: flag('full_command'),
});

// ---------------------------------------------------------------- sync groups and instances

const NOTIFY: Record<string, Handler> = {
  notify_master: script('notify_master'),
  notify_backup: script('notify_backup'),
  notify_fault: script('notify_fault'),
  notify_stop: script('notify_stop'),
  notify: script('notify'),
  smtp_alert: bool('smtp_alert'),
  notify_priority_changes: bool('notify_priority_changes'),
};

const TRACKING: Record<string, Handler> = {
  track_interface: trackList('track_interface', 'interface', -253, 253),
  track_script: trackList('track_script', 'name', -253, 253),
  track_file: trackList('track_file', 'name', -254, 254),
  track_process: trackList('track_process', 'name', -254, 254),
};

export const SYNC_GROUP: Table = table('vrrp_sync_group', {
    group: (ctx, node, t, path) => {
      if (!needBlock(ctx, node)) return;
      const arr = list(t, 'group');
      for (const { tokens, node: line } of valueLines(node)) {
        for (const name of tokens) {
          ctx.field(arr, arr.length, line.loc);
          arr.push(name);
        }
      }
      ctx.field(t, 'group', node.loc);
    },
    ...TRACKING,
    ...NOTIFY,
});

export function vipBlock(key: string): Handler {
  return (ctx, node, t, path) => {
    if (!needBlock(ctx, node)) return;
    const arr = list(t, key);
    for (const { tokens, node: line } of valueLines(node)) {
      const parsed = parseVipLine(tokens);
      if ('error' in parsed) {
        ctx.error(line.loc, `invalid virtual address '${tokens.join(' ')}': ${parsed.error}`);
        continue;
      }
      if (parsed.vip.scope !== undefined && !['global', 'site', 'link', 'host', 'nowhere'].includes(parsed.vip.scope) && !/^\d+$/.test(parsed.vip.scope)) {
        ctx.error(line.loc, `scope '${parsed.vip.scope}' is not valid; use global, site, link, host or nowhere`);
        continue;
      }
      const at = [...path, key, arr.length];
      vipOptions(ctx, line, parsed.vip as Obj, parsed.unknown, at, node.keyword);
      ctx.field(arr, arr.length, line.loc);
      arr.push(parsed.vip);
    }
    ctx.field(t, key, node.loc);
  };
}

/** A VIP line's options through the ledger: unknown ones and not-acted ones are reported and dropped. */
function vipOptions(ctx: ImportContext, line: KNode, vip: Obj, unknown: string[], at: Path, list: string): void {
  const tokenLoc = (word: string) => line.args.find((a) => a.text === word)?.loc ?? line.loc;
  const where = `a ${list} line`;
  const report = (option: string, fields?: string[]) => {
    const e = lookup('virtual_address', option);
    if (!e) return;
    ctx.record(
      { keyword: option, block: where, loc: tokenLoc(option), status: 'not-acted', note: e.loses ?? '', path: at, ...(fields ? { fields } : {}), text: showLine(option, option), option: true },
      consequence(option, e),
      `virtual_address\0${e.canonical}`,
    );
  };
  for (const u of unknown) {
    if (lookup('virtual_address', u)?.status === 'not-acted') report(u);
    else ctx.warn(tokenLoc(u), `virtual address option '${u}' is not understood and is dropped (keepalived rejects it too)`);
  }
  for (const k of Object.keys(vip)) {
    if (k === 'address' || k === 'prefix') continue;
    const option = k === 'nodad' ? '-nodad' : k;
    const e = lookup('virtual_address', option);
    if (e?.status !== 'not-acted' || isInert(e, vip[k])) continue;
    delete vip[k];
    report(option, [k]);
  }
}

export function rawLines(key: string): Handler {
  return (ctx, node, t, path) => {
    if (!needBlock(ctx, node)) return;
    const arr = list(t, key);
    for (const { tokens, node: line } of valueLines(node)) {
      const out = tokens.map((w) => {
        if (key.endsWith('_routes') && w === 'gw') {
          ctx.warn(line.loc, `"gw" in routes is deprecated; written as "via"`);
          return 'via';
        }
        if (key.endsWith('_routes') && w === 'or') {
          ctx.warn(line.loc, `"or" in routes is deprecated; written as "nexthop"`);
          return 'nexthop';
        }
        return w;
      });
      const bad = out.find((w, i) => (out[i - 1] === 'from' || out[i - 1] === 'to' || i === 0) && /^[\d.]+\/\d+$/.test(w) && 'error' in parseCidr(w));
      if (bad) {
        ctx.warn(line.loc, `'${bad}' is not a valid prefix; keepalived rejects this ${key.endsWith('_rules') ? 'rule' : 'route'}, so it is left out`);
        continue;
      }
      if (key.endsWith('_rules') && !out.some((w) => ['preference', 'pref', 'priority', 'order'].includes(w))) {
        ctx.warn(line.loc, `rule has no preference; keepalived then picks one for it, which is probably not what you want`);
      }
      ctx.field(arr, arr.length, line.loc);
      arr.push(out.join(' '));
    }
  };
}

function unicastPeers(): Handler {
  return (ctx, node, t, path) => {
    if (!needBlock(ctx, node)) return;
    const arr = list(t, 'unicast_peer');
    for (const { tokens, node: line } of valueLines(node)) {
      const [addr, ...rest] = tokens as [string, ...string[]];
      if (isIP(addr) === 0) {
        ctx.error(line.loc, `unicast peer '${addr}' is not a valid IP address`);
        continue;
      }
      const peer: Obj = { address: addr };
      for (let i = 0; i < rest.length; i += 2) {
        const k = rest[i] as string;
        const v = rest[i + 1];
        if ((k === 'min_ttl' || k === 'max_ttl') && v !== undefined && /^\d+$/.test(v) && Number(v) <= 255) peer[k] = Number(v);
        else ctx.warn(line.loc, `unexpected '${k}' after unicast peer ${addr}; expected min_ttl N or max_ttl N`);
      }
      ctx.field(arr, arr.length, line.loc);
      arr.push(peer);
    }
  };
}

export const AUTH: Table = table('authentication', {
  auth_type: enumOf('auth_type', ['PASS', 'AH']),
  auth_pass: (ctx, node, t, path) => {
    const v = needArg(ctx, node, 'a password');
    if (v === undefined) return;
    if (Buffer.byteLength(v) > 8) ctx.warn(node.loc, `auth_pass is longer than 8 bytes; VRRP uses only the first 8`);
    set(ctx, t, path, 'auth_pass', v, node);
  },
});

export const INSTANCE: Table = table('vrrp_instance', {
    state: (ctx, node, t, path) => {
      const v = needArg(ctx, node, 'MASTER or BACKUP');
      if (v === undefined) return;
      if (v !== 'MASTER' && v !== 'BACKUP') {
        ctx.error(node.args[0]!.loc, `state '${v}' is not valid; use MASTER or BACKUP (upper case)`);
        return;
      }
      if (t.state === 'MASTER' && v === 'BACKUP') {
        ctx.warn(node.loc, `state BACKUP after state MASTER is ignored by keepalived; the instance stays MASTER`);
        return;
      }
      set(ctx, t, path, 'state', v, node);
    },
    interface: str('interface'),
    virtual_router_id: int('virtual_router_id', 1, 255),
    priority: int('priority', 1, 255),
    advert_int: secs('advert_int'),
    authentication: (ctx, node, t, path, st) => {
      if (!needBlock(ctx, node)) return;
      const a: Obj = {};
      walk(ctx, node.children, AUTH, a, [...path, 'authentication'], st, 'authentication');
      if (a.auth_type === undefined || a.auth_pass === undefined) {
        ctx.warn(node.loc, `authentication needs both auth_type and auth_pass; it is ignored`);
        return;
      }
      set(ctx, t, path, 'authentication', a, node);
    },
    virtual_ipaddress: vipBlock('virtual_ipaddress'),
    virtual_ipaddress_excluded: vipBlock('virtual_ipaddress_excluded'),
    no_virtual_ipaddress: flag('no_virtual_ipaddress'),
    virtual_routes: rawLines('virtual_routes'),
    virtual_rules: rawLines('virtual_rules'),
    nopreempt: flag('nopreempt'),
    preempt: (ctx, node) => ctx.warn(node.loc, `'preempt' is the default and does nothing`),
    preempt_delay: secs('preempt_delay', { max: 1000 }),
    ...TRACKING,
    dont_track_primary: flag('dont_track_primary'),
    unicast_src_ip: srcIp('unicast_src_ip'),
    unicast_peer: unicastPeers(),
    unicast_ttl: int('unicast_ttl', 0, 255),
    unicast_fault_no_peer: flag('unicast_fault_no_peer'),
    check_unicast_src: flag('check_unicast_src'),
    mcast_src_ip: srcIp('mcast_src_ip'),
    mcast_dst_ip: ip('mcast_dst_ip'),
    track_src_ip: flag('track_src_ip'),
    version: int('version', 2, 3),
    v3_checksum_as_v2: bool('v3_checksum_as_v2'),
    use_vmac: (ctx, node, t, path) => {
      useArgs(node);
      const v: Obj = {};
      for (const a of node.args) {
        if (/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(a.text)) v.mac = a.text;
        else if (a.text === 'name') continue;
        else if (a.text === 'netlink_notify_msg' || a.text === 'group') continue;
        else v.name ??= a.text;
      }
      set(ctx, t, path, 'use_vmac', v, node);
    },
    vmac_xmit_base: flag('vmac_xmit_base'),
    accept: flag('accept', true),
    no_accept: flag('accept', false),
    strict_mode: bool('strict_mode'),
    skip_check_adv_addr: bool('skip_check_adv_addr'),
    garp_master_delay: secs('garp_master_delay'),
    garp_master_repeat: int('garp_master_repeat', 1, 2 ** 31 - 1),
    garp_master_refresh: secs('garp_master_refresh'),
    garp_master_refresh_repeat: int('garp_master_refresh_repeat', 1, 2 ** 31 - 1),
    garp_lower_prio_delay: secs('garp_lower_prio_delay'),
    garp_extra_if: garpExtraIf('garp_extra_if', 0),
    owner_ignore_adverts: bool('owner_ignore_adverts'),
    garp_lower_prio_repeat: int('garp_lower_prio_repeat', 1, 2 ** 31 - 1),
    down_timer_adverts: int('down_timer_adverts', 1, 100),
    lower_prio_no_advert: bool('lower_prio_no_advert'),
    higher_prio_send_advert: bool('higher_prio_send_advert'),
    promote_secondaries: flag('promote_secondaries'),
    ...NOTIFY,
    notify_deleted: script('notify_deleted'),
    notify_master_rx_lower_pri: script('notify_master_rx_lower_pri'),
    lvs_sync_daemon_interface: (ctx, node, t) => {
      const iface = needArg(ctx, node, 'an interface');
      if (iface === undefined) return;
      ctx.warn(node.loc, `lvs_sync_daemon_interface inside vrrp_instance is deprecated; written as global lvs_sync_daemon following this instance`);
      t.__lvs_sync_daemon = { interface: iface, loc: node.loc };
    },
});

/** mcast_src_ip / unicast_src_ip: an address; keepalived ignores a `/prefix` after it. */
function srcIp(key: string): Handler {
  return (ctx, node, t, path) => {
    const v = readIp(ctx, node, 0, { prefixIgnored: true });
    if (v !== undefined) set(ctx, t, path, key, v, node);
  };
}

/** Whole-config fix-ups of the VRRP part that need everything parsed first. */
export function finishInstances(ctx: ImportContext, input: Obj, st: State): void {
  const instances = (input.instances ?? {}) as Record<string, Obj>;
  const global = (input.global ?? {}) as Obj;
  for (const [name, inst] of Object.entries(instances)) {
    const lsd = inst.__lvs_sync_daemon as { interface: string; loc: SourceLoc } | undefined;
    delete inst.__lvs_sync_daemon;
    if (lsd && global.lvs_sync_daemon === undefined) {
      global.lvs_sync_daemon = { interface: lsd.interface, instance: name };
      input.global = global;
      ctx.field(global, 'lvs_sync_daemon', lsd.loc);
    }
    strictFixups(ctx, name, inst, global);
    // G15: an instance declared before global_defs keeps keepalived's built-in values.
    if (st.instancesBeforeGlobal.includes(name)) {
      for (const k of st.lateGlobalKeys) {
        const [ik, builtin] = INSTANCE_BUILTIN[k] as [string, unknown];
        if (inst[ik] === undefined) inst[ik] = builtin;
      }
    }
  }
  // A sync group with no members (e.g. names written without `group { }`) does nothing in keepalived.
  const groups = (input.sync_groups ?? {}) as Record<string, Obj>;
  for (const [name, g] of Object.entries(groups)) {
    if (!Array.isArray(g.group) || g.group.length === 0) {
      const loc = ctx.locOf(['sync_groups', name]);
      if (loc) ctx.warn(loc, `vrrp_sync_group ${name} has no 'group { … }' of members; keepalived ignores it, so it is dropped`);
      delete groups[name];
    }
  }
}

/** keepalived's own corrections, which it logs and applies; we apply them and say so. */
function strictFixups(ctx: ImportContext, name: string, inst: Obj, global: Obj): void {
  const loc = ctx.locOf(['instances', name]);
  if (!loc) return;
  const strict = (inst.strict_mode as boolean | undefined) ?? (global.vrrp_strict as boolean | undefined) ?? false;
  if (!strict) return;
  if (inst.authentication) {
    ctx.warn(loc, `(${name}) strict mode does not support authentication; keepalived ignores it, so it is dropped`);
    delete inst.authentication;
  }
  if (inst.state === 'MASTER' && inst.priority !== 255) {
    ctx.warn(loc, `(${name}) in strict mode state MASTER needs priority 255 (address owner); keepalived starts it as BACKUP`);
    inst.state = 'BACKUP';
  }
  const vips = (inst.virtual_ipaddress as Obj[] | undefined) ?? [];
  const v6 = vips.some((v) => isIP(String(v.address)) === 6);
  const version = (inst.version as number | undefined) ?? (v6 ? 3 : ((global.vrrp_version as number | undefined) ?? 2));
  if (inst.accept === true && version === 2) {
    // strict mode without accept is no_accept (src/daemon/vrrp/extras.ts)
    ctx.warn(loc, `(${name}) accept mode does not comply with VRRPv2 (RFC 3768) in strict mode; keepalived resets it to no_accept, and so does vipkeeper`);
    delete inst.accept;
  }
}

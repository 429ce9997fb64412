// The top level of a keepalived.conf: the keepalived importer's root table.
import { argText, child, type ImportContext, list, needArg, readInt, valueLines, type Obj, type Path } from './context.js';
import { GLOBAL, LATE_GLOBAL_KEYS } from './import-global.js';
import { needBlock, str, table, walk, type Handler, type State, type Table } from './import-handlers.js';
import { CHECKERS, finishVirtualServer, parseVsgLine, REAL_SERVER, serverAddr, SMTP_HOST, URL, VIRTUAL_SERVER } from './import-lvs.js';
import { AUTH, INSTANCE, rawLines, SYNC_GROUP, TRACK_FILE, TRACK_PROCESS, vipBlock, VRRP_SCRIPT } from './import-vrrp.js';
import type { KNode } from './tree.js';

// ---------------------------------------------------------------- root

const RESERVED_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

function named(ctx: ImportContext, node: KNode, what: string): string | undefined {
  const name = needArg(ctx, node, `a name for the ${what}`);
  if (name !== undefined && RESERVED_NAMES.has(name)) {
    ctx.error(node.args[0]!.loc, `'${name}' cannot be used as a ${what} name; choose another`);
    return undefined;
  }
  return name;
}

function namedBlock(
  section: string,
  what: string,
  table: Table,
  /** Checks the block once read; false drops it, as keepalived drops an unusable block. */
  after?: (ctx: ImportContext, name: string, obj: Obj, node: KNode, st: State) => boolean | void,
): Handler {
  return (ctx, node, t, _path, st) => {
    const name = named(ctx, node, what);
    if (name === undefined || !needBlock(ctx, node)) return;
    const sec = child(t, section);
    if (Object.hasOwn(sec, name)) ctx.warn(node.loc, `${what} '${name}' is defined twice; the later one replaces the earlier`);
    const obj: Obj = {};
    const p = [section, name];
    ctx.here(obj, node.loc);
    walk(ctx, node.children, table, obj, p, st, `${what} ${name}`);
    if (after?.(ctx, name, obj, node, st) === false) return;
    sec[name] = obj;
  };
}

const SSL_BLOCK: Table = table('SSL', { password: str('password'), ca: str('ca'), certificate: str('certificate'), key: str('key') });

export const ROOT: Table = table('root', {
  global_defs: (ctx, node, t, _path, st) => {
    if (!needBlock(ctx, node)) return;
    const g = child(t, 'global');
    ctx.here(g, node.loc);
    walk(ctx, node.children, GLOBAL, g, ['global'], st, 'global_defs');
    for (const k of LATE_GLOBAL_KEYS) {
      if (g[k] !== undefined && st.instancesBeforeGlobal.length) st.lateGlobalKeys.add(k);
    }
    if (st.instancesBeforeGlobal.length && st.lateGlobalKeys.size) {
      ctx.warn(node.loc, `global_defs comes after vrrp_instance ${st.instancesBeforeGlobal.join(', ')}; keepalived does not apply ${[...st.lateGlobalKeys].join(', ')} to them, and neither does the migrated config`);
    }
    st.globalSeen = true;
  },
  vrrp_script: namedBlock('vrrp_scripts', 'vrrp_script', VRRP_SCRIPT, (ctx, name, obj, node, st) => {
    const user = obj.__user as { user: string; group?: string } | undefined;
    delete obj.__user;
    if (obj.script === undefined) {
      // e.g. its only script line is an @ID line for another config-id: keepalived removes
      // the script (and then ignores the track_script entries naming it) and runs
      ctx.warn(node.loc, `vrrp_script ${name} has no script, so it is removed, as keepalived does ("No script set"); track_script entries naming it are ignored`);
      return false;
    }
    st.scriptsDefined.set(name, st.order++);
    if (user) obj.script = { ...(obj.script as Obj), user: user.user, ...(user.group ? { group: user.group } : {}) };
  }),
  track_file: namedBlock('track_files', 'track_file', TRACK_FILE, (ctx, name, obj, node, st) => {
    if (obj.file === undefined) {
      ctx.warn(node.loc, `track_file ${name} has no file, so it is removed, as keepalived does; references to it are ignored`);
      return false;
    }
    st.trackFilesDefined.set(name, st.order++);
  }),
  vrrp_track_process: namedBlock('track_processes', 'vrrp_track_process', TRACK_PROCESS, (ctx, name, obj, node, st) => {
    const bareExact = obj.__bareExact === true;
    delete obj.__bareExact;
    if (obj.process === undefined) {
      ctx.warn(node.loc, `vrrp_track_process ${name} has no process, so it is removed, as keepalived does ("process name not specified"); references to it are ignored`);
      return false;
    }
    if (bareExact && obj.args === undefined) obj.args = [];
    st.trackProcessesDefined.add(name);
  }),
  vrrp_sync_group: namedBlock('sync_groups', 'vrrp_sync_group', SYNC_GROUP),
  vrrp_instance: namedBlock('instances', 'vrrp_instance', INSTANCE, (ctx, name, obj, node, st) => {
    if (!st.globalSeen) st.instancesBeforeGlobal.push(name);
    if (obj.virtual_router_id === undefined) ctx.error(node.loc, `vrrp_instance ${name} has no virtual_router_id; add one (1..255)`);
    if (obj.state === 'MASTER' && obj.priority === undefined) {
      ctx.warn(node.loc, `vrrp_instance ${name} is state MASTER with no priority; keepalived then makes it the address owner (priority 255), written explicitly`);
      obj.priority = 255;
    }
  }),
  SSL: (ctx, node, t, _path, st) => {
    if (!needBlock(ctx, node)) return;
    // keepalived: a second SSL block replaces the first
    if (t.ssl !== undefined) ctx.warn(node.loc, 'SSL is specified twice; the later block replaces the earlier (as keepalived)');
    const ssl: Obj = {};
    ctx.here(ssl, node.loc);
    walk(ctx, node.children, SSL_BLOCK, ssl, ['ssl'], st, 'SSL');
    t.ssl = ssl;
    ctx.field(t, 'ssl', node.loc);
  },
  static_ipaddress: vipBlock('static_ipaddress'),
  static_routes: rawLines('static_routes'),
  static_rules: rawLines('static_rules'),
  virtual_server_group: (ctx, node, t) => {
    const name = named(ctx, node, 'virtual_server_group');
    if (name === undefined || !needBlock(ctx, node)) return;
    const groups = child(t, 'virtual_server_groups');
    const entries: Obj[] = [];
    ctx.here(entries, node.loc);
    for (const { tokens, node: line } of valueLines(node)) {
      const e = parseVsgLine(ctx, tokens, line);
      if (e) {
        ctx.field(entries, entries.length, line.loc);
        entries.push(e);
      }
    }
    groups[name] = entries;
  },
  virtual_server: (ctx, node, t, _path, st) => {
    if (!needBlock(ctx, node)) return;
    const arr = list(t, 'virtual_servers');
    const vs: Obj = {};
    const p: Path = ['virtual_servers', arr.length];
    ctx.here(vs, node.loc);
    const head = argText(node);
    if (head === 'fwmark') {
      const n = readInt(ctx, node, 1, 2 ** 32 - 1, 1);
      if (n === undefined) return;
      vs.fwmark = n;
    } else if (head === 'group') {
      const g = needArg(ctx, node, 'a group name', 1);
      if (g === undefined) return;
      vs.group = g;
    } else {
      const s = serverAddr(ctx, node, 'virtual server');
      if (!s) return;
      Object.assign(vs, s);
    }
    walk(ctx, node.children, VIRTUAL_SERVER, vs, p, st, `virtual_server ${node.args.map((a) => a.text).join(' ')}`);
    finishVirtualServer(ctx, vs, node);
    arr.push(vs);
  },
});

/** Every table of the importer, for the test that holds them and the ledger together. */
export const TABLES: readonly Table[] = [
  ROOT, GLOBAL, SSL_BLOCK, VRRP_SCRIPT, TRACK_FILE, TRACK_PROCESS, SYNC_GROUP, INSTANCE, AUTH, VIRTUAL_SERVER, REAL_SERVER, URL, SMTP_HOST, ...Object.values(CHECKERS),
];

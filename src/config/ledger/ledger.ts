// The ledger of keepalived's grammar: every keyword keepalived 2.2.7 accepts (and the later ones
// users bring), by block, with what vipkeeper does with it. The keepalived importer, the YAML
// loader, `check`, `migrate`, the JSON schema and docs/keepalived-ledger.md all read it, so a
// keyword's status is written once: moving a keyword to "acted on" is a one-line change here
// (plus the runtime code and its test).
import { GLOBAL_DEFS } from './global.js';
import { CHECKERS, REAL_SERVER, SMTP_HOST, URL, VIRTUAL_SERVER, VIRTUAL_SERVER_GROUP } from './lvs.js';
import { M } from './modules.js';
import { BFD_INSTANCE, GARP_GROUP, ROOT, SSL, TRACK_GROUP } from './root.js';
import { acted, type Block, type Entry, type Status } from './types.js';
import { AUTH_HMAC, AUTHENTICATION, TRACK_FILE, VIRTUAL_ADDRESS, VRRP_INSTANCE, VRRP_SCRIPT, VRRP_SYNC_GROUP, VRRP_TRACK_PROCESS } from './vrrp.js';

export type { Block, Entry, Status } from './types.js';

export const BLOCKS = {
  root: ROOT,
  global_defs: GLOBAL_DEFS,
  vrrp_script: VRRP_SCRIPT,
  track_file: TRACK_FILE,
  vrrp_track_process: VRRP_TRACK_PROCESS,
  vrrp_sync_group: VRRP_SYNC_GROUP,
  vrrp_instance: VRRP_INSTANCE,
  authentication: AUTHENTICATION,
  auth_hmac: AUTH_HMAC,
  virtual_address: VIRTUAL_ADDRESS,
  virtual_server_group: VIRTUAL_SERVER_GROUP,
  virtual_server: VIRTUAL_SERVER,
  real_server: REAL_SERVER,
  ...CHECKERS,
  smtp_host: SMTP_HOST,
  url: URL,
  bfd_instance: BFD_INSTANCE,
  garp_group: GARP_GROUP,
  SSL,
  track_group: TRACK_GROUP,
} satisfies Record<string, Block>;

export type BlockId = keyof typeof BLOCKS;

/** A virtual address line's options apply to both VIP lists. */
const ALSO_AT: Partial<Record<BlockId, string[]>> = {
  virtual_address: ['instances.*.virtual_ipaddress_excluded[]', 'static_ipaddress[]'],
};

/** An entry with its alias resolved: the status and consequence are the target's. */
export interface Resolved extends Entry {
  keyword: string;
  /** The keyword whose entry holds the status (itself unless an alias). */
  canonical: string;
}

// resolved once per block and keyword: the importer asks for every line of a large config
const resolved = new Map<BlockId, Map<string, Resolved | null>>();

/** A keyword's entry in a block (aliases resolved), or undefined when keepalived does not know it. */
export function lookup(block: BlockId, keyword: string): Resolved | undefined {
  let m = resolved.get(block);
  if (!m) resolved.set(block, (m = new Map()));
  let r = m.get(keyword);
  if (r === undefined) m.set(keyword, (r = resolve(block, keyword) ?? null));
  return r ?? undefined;
}

function resolve(block: BlockId, keyword: string): Resolved | undefined {
  const entries = BLOCKS[block].entries;
  const own = Object.hasOwn(entries, keyword) ? entries[keyword] : undefined;
  if (!own) return undefined;
  if (own.aliasOf === undefined) return { ...own, keyword, canonical: keyword };
  const target = entries[own.aliasOf];
  if (!target) throw new Error(`ledger: ${block}.${keyword} is an alias of ${own.aliasOf}, which has no entry`);
  const { aliasOf: _a, status: _s, ...mine } = own;
  return { ...target, ...mine, keyword, canonical: own.aliasOf };
}

/** The keywords of a block (for "did you mean" hints). */
export function keywordsOf(block: BlockId): string[] {
  return Object.keys(BLOCKS[block].entries);
}

// ---------------------------------------------------------------- model fields

/** Fields of our model that no keepalived keyword writes: vipkeeper's own settings. */
export const OWN_FIELDS: Record<string, Entry> = {
  control: acted(M.daemon, 'control'),
  'control.socket': acted(M.daemon, 'socket'),
  'control.http': acted(M.daemon, 'http'),
  'control.http.host': acted('src/daemon/control/server.ts', 'host'),
  'control.http.port': acted('src/daemon/control/server.ts', 'port'),
  ipvs: acted(M.daemon, 'ipvs'),
  'ipvs.manage': acted(M.reconciler, 'manage'),
  'ipvs.on_stop': acted(M.reconciler, 'on_stop'),
  'ipvs.resync_interval': acted(M.reconciler, 'resync_interval'),
  'ipvs.drain_timeout': acted(M.reconciler, 'drain_timeout'),
  'ipvs.backend': acted('src/ipvs/factory.ts', 'backend'),
  'virtual_servers[].real_servers[].checks[].verify_tls': acted(M.spec, 'verify_tls'),
  // Active-active directors announced by BGP (no keepalived equivalent).
  'bgp': acted('src/bgp/director.ts', 'bgp'),
  'bgp.bird': acted('src/bgp/director.ts', 'bird'),
  'bgp.bird.binary': acted('src/bgp/director.ts', 'binary'),
  'bgp.bird.runtime_dir': acted('src/bgp/director.ts', 'runtime_dir'),
  'bgp.communities': acted('src/bgp/director.ts', 'communities'),
  'bgp.drain_communities': acted('src/bgp/vips.ts', 'drain_communities'),
  'bgp.drain_grace': acted('src/bgp/director.ts', 'drain_grace'),
  'bgp.drain_med': acted('src/bgp/vips.ts', 'drain_med'),
  'bgp.engine': acted('src/bgp/director.ts', 'engine'),
  'bgp.hang_timeout': acted('src/bgp/director.ts', 'hang_timeout'),
  'bgp.hold_time': acted('src/bgp/bird/render.ts', 'hold_time'),
  'bgp.keepalive_time': acted('src/bgp/bird/render.ts', 'keepalive_time'),
  'bgp.local_as': acted('src/bgp/director.ts', 'local_as'),
  'bgp.med': acted('src/bgp/director.ts', 'med'),
  'bgp.peers': acted('src/bgp/director.ts', 'peers'),
  'bgp.peers[].address': acted('src/bgp/director.ts', 'address'),
  'bgp.peers[].as': acted('src/bgp/director.ts', 'as'),
  'bgp.peers[].bfd': acted('src/bgp/bird/render.ts', 'bfd'),
  'bgp.peers[].multihop': acted('src/bgp/bird/render.ts', 'multihop'),
  'bgp.peers[].name': acted('src/bgp/director.ts', 'name'),
  'bgp.peers[].password': acted('src/bgp/bird/render.ts', 'password'),
  'bgp.peers[].source_address': acted('src/bgp/bird/render.ts', 'source_address'),
  'bgp.router_id': acted('src/bgp/director.ts', 'router_id'),
  'bgp.vips': acted('src/bgp/director.ts', 'vips'),
  'bgp.vips[].communities': acted('src/bgp/director.ts', 'communities'),
  'bgp.vips[].drain': acted('src/bgp/director.ts', 'drain'),
  'bgp.vips[].drain_communities': acted('src/bgp/vips.ts', 'drain_communities'),
  'bgp.vips[].drain_grace': acted('src/bgp/director.ts', 'drain_grace'),
  'bgp.vips[].drain_med': acted('src/bgp/vips.ts', 'drain_med'),
  'bgp.vips[].fwmarks': acted('src/config/bgp.ts', 'fwmarks'),
  'bgp.vips[].med': acted('src/bgp/director.ts', 'med'),
  'bgp.vips[].prefix': acted('src/bgp/director.ts', 'prefix'),
  'bgp.vips[].served_by': acted('src/bgp/policy.ts', 'served_by'),
};

export interface FieldUse {
  /** The absolute field pattern, e.g. `instances.*.use_vmac`. */
  pattern: string;
  block: BlockId | 'vipkeeper';
  keyword: string;
  entry: Resolved;
}

/** Joins a block's base pattern and a relative field. */
function join(base: string, field: string): string {
  return base === '' ? field : `${base}.${field}`;
}

let fieldIndex: Map<string, FieldUse[]> | undefined;

/** Every model field pattern, with the ledger entries that write it. */
export function fieldUses(): Map<string, FieldUse[]> {
  if (fieldIndex) return fieldIndex;
  const index = new Map<string, FieldUse[]>();
  const add = (u: FieldUse) => {
    const l = index.get(u.pattern);
    if (l) l.push(u);
    else index.set(u.pattern, [u]);
  };
  for (const [id, block] of Object.entries(BLOCKS) as [BlockId, Block][]) {
    const bases = [block.base, ...(ALSO_AT[id] ?? [])];
    for (const keyword of Object.keys(block.entries)) {
      const entry = lookup(id, keyword) as Resolved;
      for (const f of entry.fields ?? []) for (const base of bases) add({ pattern: join(base, f), block: id, keyword, entry });
    }
  }
  for (const [pattern, e] of Object.entries(OWN_FIELDS)) {
    add({ pattern, block: 'vipkeeper', keyword: pattern.split('.').pop() as string, entry: { ...e, keyword: pattern, canonical: pattern } });
  }
  fieldIndex = index;
  return index;
}

/** Model keys whose children are named by the user (records), so their key is `*` in a pattern. */
const RECORD_FIELDS = new Set(['instances', 'sync_groups', 'vrrp_scripts', 'track_files', 'track_processes', 'virtual_server_groups']);

/** A model path (['instances', 'VI_1', 'use_vmac']) as its field pattern (`instances.*.use_vmac`). */
export function patternOf(path: readonly (string | number)[]): string {
  let out = '';
  let recordKeyNext = false;
  for (const seg of path) {
    if (typeof seg === 'number') out += '[]';
    else if (recordKeyNext) out += '.*';
    else out += out === '' ? seg : `.${seg}`;
    recordKeyNext = out === seg && RECORD_FIELDS.has(seg);
  }
  return out;
}

/** Values of a not-acted field that lose nothing: absent, off or empty. */
export function isInert(entry: Entry, value: unknown): boolean {
  if (entry.inert) return entry.inert(value);
  return value === undefined || value === null || value === false || (Array.isArray(value) && value.length === 0);
}

/** The line `check` prints for a keyword that is not (fully) acted on. */
export function consequence(keyword: string, entry: Entry): string {
  if (entry.status === 'refused') return `'${keyword}' is refused: ${entry.reason ?? 'vipkeeper cannot run it'}`;
  if (entry.status === 'partial') return `'${keyword}' is only partly acted on: ${entry.loses ?? ''}`;
  return `'${keyword}' is not acted on by vipkeeper: ${entry.loses ?? ''}`;
}

/**
 * The fields whose presence `check` reports (not-acted and partial entries), one per entry and
 * field, without the sub-fields of a reported field (`quorum_up`, not `quorum_up.command`).
 */
export function reportedFields(): FieldUse[] {
  const out: FieldUse[] = [];
  for (const uses of fieldUses().values()) {
    // several keywords can write a field (aliases, enable_snmp_rfc); the canonical one names it
    const u = uses.find((x) => x.keyword === x.entry.canonical) ?? (uses[0] as FieldUse);
    if (u.entry.status !== 'not-acted' && u.entry.status !== 'partial') continue;
    out.push(u);
  }
  const patterns = new Set(out.map((u) => u.pattern));
  return out.filter((u) => ![...patterns].some((p) => p !== u.pattern && (u.pattern.startsWith(`${p}.`) || u.pattern.startsWith(`${p}[]`))));
}

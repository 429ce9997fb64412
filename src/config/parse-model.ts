// The one way a config's input form becomes the model: ConfigSchema (zod) with a fast path for the
// real servers, used by the YAML loader and both importers, so check, run and reload agree.
//
// Why: at 37,300 real servers zod's parse of the whole model was ~30 % of `vipkeeper check`'s CPU
// (issue 19). Real servers are the bulk and nearly always the same few plain fields, so they are
// read by the hand-written readers below; the rest of the model (small) still goes through zod.
// A fast reader never decides that something is wrong: on anything it does not know (another key,
// another check type, a value out of range or of another type) it gives up, and then zod parses
// the whole input as before, so every diagnostic comes from zod exactly as without the fast path.
// parse-model.test.ts holds the readers to zod's output (values and key order) on random input.
import { isIP } from 'node:net';
import { parseDuration } from './duration.js';
import { CheckSchema, ConfigSchema, RealServerSchema, type Config, type RealServer } from './schema.js';

/** ConfigSchema.safeParse's answer (zod's own type, so callers read issues as before). */
export type ModelParse = ReturnType<typeof ConfigSchema.safeParse>;

const GIVE_UP = Symbol('give up');
type Reader = (v: unknown) => unknown;

// the schema's Duration: a number >= 0, or a string matching DURATION_PATTERN (parseDuration
// matches the same pattern, and says undefined when it does not)
const duration: Reader = (v) => {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? parseDuration(v) : GIVE_UP;
  return typeof v === 'string' ? (parseDuration(v) ?? GIVE_UP) : GIVE_UP;
};
const intIn = (min: number, max: number): Reader => (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max ? v : GIVE_UP);
const uint = intIn(0, Number.MAX_SAFE_INTEGER);
const port = intIn(0, 65535);
const bool: Reader = (v) => (typeof v === 'boolean' ? v : GIVE_UP);
const string: Reader = (v) => (typeof v === 'string' ? v : GIVE_UP);
const ip: Reader = (v) => (typeof v === 'string' && isIP(v) !== 0 ? v : GIVE_UP);
const lvsMethod: Reader = (v) => (v === 'NAT' || v === 'DR' || v === 'TUN' ? v : GIVE_UP);

/** The check fields read fast (CheckSchema's CheckCommon); `type` is matched by the caller. */
const CHECK_FIELDS: Record<string, Reader> = {
  connect_ip: ip,
  connect_port: port,
  bindto: ip,
  bind_port: port,
  bind_if: (v) => (typeof v === 'string' && v.length >= 1 ? v : GIVE_UP),
  fwmark: uint,
  connect_timeout: duration,
  retry: uint,
  delay_before_retry: duration,
  delay_loop: duration,
  warmup: duration,
  alpha: bool,
  log_all_failures: bool,
};

/** The real-server fields read fast; the rest (tunnel, notify_up/down) make the reader give up. */
const RS_FIELDS: Record<string, Reader> = {
  address: ip,
  port,
  weight: intIn(0, 2147483647),
  lvs_method: lvsMethod,
  uthreshold: uint,
  lthreshold: uint,
  connect_timeout: duration,
  retry: uint,
  delay_before_retry: duration,
  delay_loop: duration,
  warmup: duration,
  alpha: bool,
  inhibit_on_failure: bool,
  virtualhost: string,
  smtp_alert: bool,
};

// The output's key order is the schema's (zod builds the output in shape order).
const RS_KEYS = Object.keys(RealServerSchema.shape);
const checkKeys = (type: string): string[] => {
  const option = CheckSchema.options.find((o) => o.shape.type.value === type);
  return option ? Object.keys(option.shape) : [];
};
/** The check types whose every field but `type` is in CHECK_FIELDS (the others go to zod). */
const CHECK_KEYS: Record<string, string[]> = { TCP_CHECK: checkKeys('TCP_CHECK'), PING_CHECK: checkKeys('PING_CHECK') };

/** A plain object (what js-yaml and the importers build); anything else is left to zod. */
const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;

/**
 * Reads `o`'s keys in `order` with `fields`; gives up on a key not in `fields` or a value they refuse.
 * A key of `defaults` that `o` lacks gets its default, in its place in the order (as zod's output).
 */
function readObject(o: Record<string, unknown>, order: string[], fields: Record<string, Reader>, out: Record<string, unknown>, defaults?: Record<string, () => unknown>): boolean {
  let seen = 0;
  for (const k of order) {
    if (!(k in o)) {
      const d = defaults?.[k];
      if (d !== undefined) out[k] = d();
      continue;
    }
    seen++;
    const read = fields[k];
    if (read === undefined) return false;
    const v = read(o[k]);
    if (v === GIVE_UP) return false;
    out[k] = v;
  }
  // a key outside the schema: zod reports it (strict objects)
  return seen === Object.keys(o).length;
}

const CHECK_TYPE_FIELDS: Record<string, Reader> = { ...CHECK_FIELDS, type: string };

/** A real server's checks: each of a known type, read in its schema's key order. */
function readChecks(checks: unknown): unknown[] | typeof GIVE_UP {
  if (!Array.isArray(checks)) return GIVE_UP;
  const cs: unknown[] = new Array(checks.length);
  for (let i = 0; i < checks.length; i++) {
    const c = checks[i] as unknown;
    if (!isPlain(c) || typeof c.type !== 'string' || !Object.hasOwn(CHECK_KEYS, c.type)) return GIVE_UP;
    const co: Record<string, unknown> = {};
    if (!readObject(c, CHECK_KEYS[c.type]!, CHECK_TYPE_FIELDS, co)) return GIVE_UP;
    cs[i] = co;
  }
  return cs;
}

const RS_READERS: Record<string, Reader> = { ...RS_FIELDS, checks: readChecks };
const RS_DEFAULTS = { checks: (): unknown[] => [] };

/** RealServerSchema's output for `r`, or GIVE_UP when zod has to decide. Exported for the test. */
export function readRealServer(r: unknown): RealServer | typeof GIVE_UP {
  if (!isPlain(r)) return GIVE_UP;
  const out: Record<string, unknown> = {};
  return readObject(r, RS_KEYS, RS_READERS, out, RS_DEFAULTS) ? (out as RealServer) : GIVE_UP;
}
export { GIVE_UP };

/**
 * ConfigSchema.safeParse(input), with the real servers read by the fast readers when every one of
 * them can be; otherwise (or when the rest has a problem) zod parses the whole input, as before.
 */
export function parseConfigModel(input: unknown): ModelParse {
  const fast = fastParse(input);
  return fast ?? ConfigSchema.safeParse(input);
}

function fastParse(input: unknown): ModelParse | undefined {
  if (!isPlain(input) || !Array.isArray(input.virtual_servers)) return undefined;
  const vss = input.virtual_servers as unknown[];
  const servers: RealServer[][] = new Array(vss.length);
  const skeleton: unknown[] = new Array(vss.length);
  let any = false;
  for (let i = 0; i < vss.length; i++) {
    const vs = vss[i];
    if (!isPlain(vs) || !Array.isArray(vs.real_servers)) return undefined;
    const rss = vs.real_servers as unknown[];
    const out: RealServer[] = new Array(rss.length);
    for (let j = 0; j < rss.length; j++) {
      const r = readRealServer(rss[j]);
      if (r === GIVE_UP) return undefined;
      out[j] = r;
    }
    if (rss.length > 0) any = true;
    servers[i] = out;
    skeleton[i] = { ...vs, real_servers: [] };
  }
  if (!any) return undefined;
  const parsed = ConfigSchema.safeParse({ ...input, virtual_servers: skeleton });
  if (!parsed.success) return undefined;
  const model: Config = parsed.data;
  model.virtual_servers.forEach((vs, i) => {
    vs.real_servers = servers[i]!;
  });
  return parsed;
}

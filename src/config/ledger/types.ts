// The vocabulary of the keyword ledger: for every keyword keepalived accepts, what vipkeeper
// does with it. One entry is one line of a table; the builders below keep the tables short.

/**
 * - `acted`: vipkeeper does what keepalived does with it; `by` names the runtime module(s).
 * - `partial`: acted on, except for a part that is not; `loses` says which (check warns).
 * - `not-acted`: read and checked, but nothing at run time uses it; `loses` says what the user
 *   loses (check warns, migrate writes it as a comment, the loaded model does not carry it).
 * - `refused`: a config using it is refused (an error), because running without it would be
 *   worse than not running: `reason` says why.
 */
export type Status = 'acted' | 'partial' | 'not-acted' | 'refused';

export interface Entry {
  status: Status;
  /** acted/partial: the runtime modules that act on it, as repository paths. */
  by?: readonly string[];
  /**
   * The model fields it writes, relative to its block's model object (`use_vmac`,
   * `track_script[].weight`). For an acted entry each field's last name must be read by one of
   * `by` (src/config/ledger/ledger.test.ts holds this).
   */
  fields?: readonly string[];
  /** not-acted/partial: what the user loses, as one clause ("no email is sent"). */
  loses?: string;
  /** not-acted/refused: why, when it is not simply "not implemented". */
  reason?: string;
  /** Another spelling of this block's keyword `aliasOf`; it shares that entry's status. */
  aliasOf?: string;
  /** The keepalived version that added it, when later than 2.2.7 (Debian 12's). */
  since?: string;
  /** keepalived calls it deprecated; the replacement. */
  deprecated?: string;
  /** Its value is a secret: never echoed in a diagnostic, a log or a comment. */
  secret?: true;
  /** not-acted values that change nothing (e.g. `accept`, which is what vipkeeper does anyway). */
  inert?: (value: unknown) => boolean;
  /** Handled by the config layer itself (a block, include, a syntax rule), not by a runtime field. */
  structural?: true;
  /** Anything else worth a line in the docs table. */
  note?: string;
}

type More = Omit<Partial<Entry>, 'status' | 'fields'> & { fields?: string | readonly string[] };

const list = (x: string | readonly string[] | undefined): readonly string[] | undefined =>
  x === undefined ? undefined : typeof x === 'string' ? [x] : x;

/** Acted on by `by`, writing `fields`. */
export function acted(by: string | readonly string[], fields?: string | readonly string[], more: Omit<More, 'fields'> = {}): Entry {
  const f = list(fields);
  return { status: 'acted', by: list(by) ?? [], ...(f ? { fields: f } : {}), ...more };
}

/** A block opener or a syntax rule the config layer handles (no runtime field of its own). */
export function structural(by: string, fields?: string | readonly string[], more: Omit<More, 'fields'> = {}): Entry {
  const f = list(fields);
  return { status: 'acted', by: [by], structural: true, ...(f ? { fields: f } : {}), ...more };
}

/** Acted on by `by`, except that the user `loses` something. */
export function partial(by: string | readonly string[], fields: string | readonly string[] | undefined, loses: string, more: Omit<More, 'fields'> = {}): Entry {
  const f = list(fields);
  return { status: 'partial', by: list(by) ?? [], ...(f ? { fields: f } : {}), loses, ...more };
}

/** Not acted on: the user `loses` this. */
export function notActed(loses: string, more: More = {}): Entry {
  const { fields, ...rest } = more;
  const f = list(fields);
  return { status: 'not-acted', loses, ...rest, ...(f ? { fields: f } : {}) };
}

/** Refused: a config using it is an error. */
export function refused(reason: string, more: More = {}): Entry {
  const { fields, ...rest } = more;
  const f = list(fields);
  return { status: 'refused', reason, ...rest, ...(f ? { fields: f } : {}) };
}

/** Another spelling of `of` in the same block. */
export function alias(of: string, more: More = {}): Entry {
  // the status is the target's; resolved by the ledger's lookup
  const { fields, ...rest } = more;
  const f = list(fields);
  return { status: 'acted', aliasOf: of, ...rest, ...(f ? { fields: f } : {}) };
}

/** One block of keepalived's grammar and where its keywords land in our model. */
export interface Block {
  /** How keepalived spells it, for the docs ("vrrp_instance NAME"). */
  title: string;
  /** The model object its keywords write into, as a pattern (`instances.*`); '' for the top. */
  base: string;
  entries: Record<string, Entry>;
}

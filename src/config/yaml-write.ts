// Writes a Config as our YAML: values equal to the schema default are left out,
// durations are written as `1s`/`100ms`, and scripts, VIPs and track references
// take their short string form when nothing else is set. Loading the result gives
// back a model deep-equal to the one written (tested in yaml.test.ts).
import yaml from 'js-yaml';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { formatDuration } from './duration.js';
import { ConfigSchema, Duration, Script, Vip, type Config } from './schema.js';

type AnySchema = z.core.$ZodType;

function def(s: AnySchema): z.core.$ZodTypeDef & Record<string, unknown> {
  return (s as unknown as { _zod: { def: z.core.$ZodTypeDef & Record<string, unknown> } })._zod.def;
}

/** Strips optional/default wrappers; reports the default output value if one exists. */
function unwrap(s: AnySchema): { inner: AnySchema; hasDefault: boolean; defaultValue?: unknown } {
  let cur = s;
  let hasDefault = false;
  let defaultValue: unknown;
  for (;;) {
    const d = def(cur);
    if (d.type === 'optional' || d.type === 'nullable') cur = d.innerType as AnySchema;
    else if (d.type === 'default' || d.type === 'prefault') {
      hasDefault = true;
      defaultValue = (cur as z.ZodType).parse(undefined);
      cur = d.innerType as AnySchema;
    } else break;
  }
  return { inner: cur, hasDefault, defaultValue };
}

function vipToLine(v: Record<string, unknown>): string {
  const parts = [`${v.address}/${v.prefix}`];
  for (const [k, val] of Object.entries(v)) {
    if (k === 'address' || k === 'prefix' || val === undefined) continue;
    if (val === true) parts.push(k);
    else parts.push(k, String(val));
  }
  return parts.join(' ');
}

function isShortRef(v: Record<string, unknown>, key: string): boolean {
  return Object.keys(v).every((k) => k === key || v[k] === undefined);
}

/** Converts a model value back to its most compact YAML input form, guided by the schema. */
function toInput(schema: AnySchema, value: unknown): unknown {
  if (value === undefined) return undefined;
  const { inner } = unwrap(schema);
  if (inner === (Duration as AnySchema)) return formatDuration(value as number);
  if (inner === (Script as AnySchema)) {
    const v = value as Record<string, unknown>;
    return isShortRef(v, 'command') ? v.command : dropUndefined(v);
  }
  if (inner === (Vip as AnySchema)) return vipToLine(value as Record<string, unknown>);
  const d = def(inner);
  switch (d.type) {
    case 'object':
      return objectToInput(inner, value as Record<string, unknown>);
    case 'array':
      return (value as unknown[]).map((el) => toInput(d.element as AnySchema, el));
    case 'record': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = toInput(d.valueType as AnySchema, v);
      return out;
    }
    case 'pipe': {
      // Short-form unions (`eth0` or {interface: eth0, ...}) are union → transform pipes.
      const v = value as Record<string, unknown>;
      const options = (def(d.in as AnySchema).options ?? []) as AnySchema[];
      const obj = options.find((o) => def(unwrap(o).inner).type === 'object');
      if (obj && v && typeof v === 'object') {
        const shapeKeys = Object.keys((def(unwrap(obj).inner).shape ?? {}) as object);
        const key = shapeKeys[0];
        if (key && options.some((o) => def(unwrap(o).inner).type === 'string') && isShortRef(v, key)) return v[key];
        return objectToInput(unwrap(obj).inner, v);
      }
      return value;
    }
    case 'union': {
      const options = d.options as AnySchema[];
      const v = value as Record<string, unknown>;
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        // Pick the object option whose discriminator or keys match.
        const match =
          options.find((o) => {
            const shape = def(unwrap(o).inner).shape as Record<string, AnySchema> | undefined;
            if (!shape) return false;
            const lit = shape.type && def(shape.type).type === 'literal' ? (def(shape.type).values as unknown[]) : undefined;
            if (lit) return lit.includes(v.type);
            return Object.keys(v).every((k) => k in shape);
          }) ?? options[0];
        return match ? toInput(match, value) : value;
      }
      return value;
    }
    default:
      return value;
  }
}

function objectToInput(schema: AnySchema, value: Record<string, unknown>): Record<string, unknown> {
  const shape = def(schema).shape as Record<string, AnySchema>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const field = shape[k];
    if (!field) {
      out[k] = v;
      continue;
    }
    const { hasDefault, defaultValue } = unwrap(field);
    // `type` discriminators always stay, and the keys asked for; everything else equal to its default goes.
    if (k !== 'type' && !keepDefaults.has(k) && hasDefault && isDeepStrictEqual(v, defaultValue)) continue;
    const converted = toInput(field, v);
    if (converted !== undefined) out[k] = converted;
  }
  return out;
}

function dropUndefined(v: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined));
}

/** Keys written even at their default value, for the current (synchronous) write. */
let keepDefaults: ReadonlySet<string> = new Set();

/**
 * The compact YAML input object for a config (no comments). `keep`: keys written even when they
 * equal their default (a migrated file shows the values a person will want to tune).
 */
export function configToInput(config: Config, keep: readonly string[] = []): Record<string, unknown> {
  keepDefaults = new Set(keep);
  try {
    return toInput(ConfigSchema, config) as Record<string, unknown>;
  } finally {
    keepDefaults = new Set();
  }
}

/** YAML text for a config, with an optional comment header (each line gets `# `). */
export function writeYaml(config: Config, header: string[] = [], keep: readonly string[] = []): string {
  const body = yaml.dump(configToInput(config, keep), { lineWidth: 120, noRefs: true, quotingType: '"' });
  const head = header.map((l) => (l ? `# ${l}` : '#')).join('\n');
  return (head ? `${head}\n` : '') + body;
}

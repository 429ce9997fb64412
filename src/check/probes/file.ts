/**
 * FILE_CHECK: read the track file's integer like keepalived's process_track_file (first 127
 * bytes, strtol base 0: leading blanks, sign, 0x hex, 0 octal; no digits = 0; a missing file = 0)
 * and apply the checker's weight as keepalived's track_file.c does for real servers:
 * - weight 0: the value is a status: non-zero fails ('file'), 0 passes; `reverse` swaps the two.
 * - weight ≠ 0: delta = value × weight × (reverse ? −1 : 1), clamped to int32; a delta at or
 *   below −(2^31 − 1) (IPVS_WEIGHT_FAULT) fails, anything else passes. With `dynamic` the
 *   delta is returned as `weight` (keepalived.conf(5): "If dynamic is set, the value from the
 *   file is used to dynamically adjust the weight"); without it no weight is reported.
 * A value outside int32 (keepalived logs "Invalid number" and keeps the previous value) fails
 * with 'file', as does a read error other than ENOENT: a probe has no previous value to keep.
 */
import { constants as fsc, promises as fsp } from 'node:fs';

import type { Probe, ProbeResult, ProbeSpec } from '../types.js';
import { describeError, fail, ok, runAttempt } from './common.js';

type FileSpec = Extract<ProbeSpec, { kind: 'FILE_CHECK' }>;

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
/** keepalived reserves ±INT32_MAX as the fault weight. */
export const IPVS_WEIGHT_FAULT = -INT32_MAX;

/** C strtol(text, NULL, 0) on the text; returns a bigint so overflow can be detected. */
export function strtol0(text: string): bigint {
  let i = 0;
  while (i < text.length && /[ \t\n\v\f\r]/.test(text[i] as string)) i++;
  let neg = false;
  if (text[i] === '+' || text[i] === '-') {
    neg = text[i] === '-';
    i++;
  }
  let base = 10;
  if (text[i] === '0' && (text[i + 1] === 'x' || text[i + 1] === 'X') && /[0-9a-fA-F]/.test(text[i + 2] ?? '')) {
    base = 16;
    i += 2;
  } else if (text[i] === '0') {
    base = 8;
  }
  const digit = base === 16 ? /[0-9a-fA-F]/ : base === 8 ? /[0-7]/ : /[0-9]/;
  let v = 0n;
  const b = BigInt(base);
  while (i < text.length && digit.test(text[i] as string)) {
    v = v * b + BigInt(parseInt(text[i] as string, 16));
    i++;
    if (v > 1n << 70n) break; // far beyond any accepted value already
  }
  return neg ? -v : v;
}

/** The value read from the file, or undefined if out of keepalived's accepted range. */
export function trackFileValue(text: string): number | undefined {
  const v = strtol0(text.slice(0, 127));
  if (v < BigInt(INT32_MIN) || v > BigInt(INT32_MAX) + 1n) return undefined;
  return Number(v);
}

/** Applies FILE_CHECK semantics to a value (exported for tests). */
export function fileCheckResult(value: number, spec: Pick<FileSpec, 'weight' | 'reverse' | 'dynamic' | 'trackFile'>): ProbeResult {
  const what = `track_file ${spec.trackFile} = ${value}`;
  if (spec.weight === 0) {
    const failing = (value !== 0) !== spec.reverse;
    return failing ? fail('file', `${what}${spec.reverse ? ' (reverse)' : ''}`) : ok(what);
  }
  let delta = value * spec.weight * (spec.reverse ? -1 : 1);
  if (delta < INT32_MIN) delta = INT32_MIN;
  if (delta > INT32_MAX) delta = INT32_MAX;
  if (delta <= IPVS_WEIGHT_FAULT) return fail('file', `${what}: weight ${delta} is the fault weight`);
  return spec.dynamic ? ok(`${what}: weight ${delta}`, delta) : ok(what);
}

export const fileProbe: Probe = (spec, signal) => {
  if (spec.kind !== 'FILE_CHECK') return Promise.resolve(fail('error', `file probe cannot run ${spec.kind}`));
  return probeFile(spec, signal);
};

function probeFile(spec: FileSpec, signal: AbortSignal): Promise<ProbeResult> {
  return runAttempt({ signal, phase: `reading ${spec.path}` }, async (a) => {
    let text = '';
    try {
      const fh = await fsp.open(spec.path, fsc.O_RDONLY | fsc.O_NONBLOCK);
      try {
        const buf = Buffer.alloc(127);
        const { bytesRead } = await fh.read(buf, 0, buf.length, null); // null: read(), not pread() (FIFOs)
        text = buf.subarray(0, bytesRead).toString('latin1');
      } finally {
        await fh.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        a.finish(fail('file', `cannot read ${spec.path}: ${describeError(e)}`));
        return;
      }
    }
    const value = trackFileValue(text);
    if (value === undefined) {
      a.finish(fail('file', `invalid number ${JSON.stringify(text.trim().slice(0, 40))} in ${spec.path}`));
      return;
    }
    a.finish(fileCheckResult(value, spec));
  });
}

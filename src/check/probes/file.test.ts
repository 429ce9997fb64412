import { describe, expect, it } from 'vitest';

import { fileCheckResult, IPVS_WEIGHT_FAULT, strtol0, trackFileValue } from './file.js';

describe('strtol0 (strtol base 0)', () => {
  it.each([
    ['42', 42n],
    ['  -7\n', -7n],
    ['+3', 3n],
    ['0x1F', 31n],
    ['0X1f junk', 31n],
    ['010', 8n],
    ['08', 0n],
    ['0x', 0n],
    ['0xg', 0n],
    ['', 0n],
    ['abc', 0n],
    ['12abc', 12n],
    ['\t\v\f 5', 5n],
  ])('%j → %s', (text, want) => {
    expect(strtol0(text)).toBe(want);
  });
});

describe('trackFileValue', () => {
  it('accepts int32 (and INT32_MAX + 1), rejects beyond', () => {
    expect(trackFileValue('2147483648')).toBe(2147483648);
    expect(trackFileValue('-2147483648')).toBe(-2147483648);
    expect(trackFileValue('2147483649')).toBeUndefined();
    expect(trackFileValue('-2147483649')).toBeUndefined();
    expect(trackFileValue('99999999999999999999999999')).toBeUndefined();
  });
});

describe('fileCheckResult (keepalived track_file for real servers)', () => {
  const base = { trackFile: 'tf', weight: 0, reverse: false, dynamic: false };

  it('weight 0: non-zero fails, reverse swaps', () => {
    expect(fileCheckResult(0, base)).toMatchObject({ ok: true });
    expect(fileCheckResult(3, base)).toMatchObject({ ok: false, reason: 'file' });
    expect(fileCheckResult(-1, base)).toMatchObject({ ok: false, reason: 'file' });
    expect(fileCheckResult(0, { ...base, reverse: true })).toMatchObject({ ok: false, reason: 'file' });
    expect(fileCheckResult(5, { ...base, reverse: true })).toMatchObject({ ok: true });
  });

  it('weight × value, negated by reverse, reported with dynamic', () => {
    expect(fileCheckResult(5, { ...base, weight: 3, dynamic: true })).toEqual({ ok: true, weight: 15, detail: 'track_file tf = 5: weight 15' });
    expect(fileCheckResult(5, { ...base, weight: 3, reverse: true, dynamic: true })).toMatchObject({ ok: true, weight: -15 });
    expect(fileCheckResult(0, { ...base, weight: 3, dynamic: true })).toMatchObject({ ok: true, weight: 0 });
    expect(fileCheckResult(5, { ...base, weight: 3 })).toEqual({ ok: true, detail: 'track_file tf = 5' });
  });

  it('a delta at the fault weight fails', () => {
    expect(fileCheckResult(-2147483647, { ...base, weight: 1, dynamic: true })).toMatchObject({ ok: false, reason: 'file' });
    expect(fileCheckResult(-1000, { ...base, weight: 100000000, dynamic: true })).toMatchObject({ ok: false, reason: 'file' });
    expect(fileCheckResult(-2147483646, { ...base, weight: 1, dynamic: true })).toMatchObject({ ok: true, weight: -2147483646 });
    expect(IPVS_WEIGHT_FAULT).toBe(-2147483647);
  });
});

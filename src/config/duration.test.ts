import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatDuration, parseDuration } from './duration.js';

describe('duration', () => {
  it.each([
    ['1s', 1000], ['100ms', 100], ['1.5s', 1500], ['2m', 120_000], ['6', 6000], [' 3 s ', 3000], ['250us', 0.25],
  ])('parses %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', 's', '1x', '-1s', '1.s', 'abc'])('rejects %j', (text) => expect(parseDuration(text)).toBeUndefined());

  it('treats a bare number as seconds', () => expect(parseDuration(2.5)).toBe(2500));

  it.each([[1000, '1s'], [100, '100ms'], [1500, '1.5s'], [0, '0s'], [10, '10ms'], [0.5, '500us']])(
    'formats %d as %s', (ms, text) => expect(formatDuration(ms)).toBe(text));

  it('round-trips every microsecond-resolution duration', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 4_294_967_295 }), (us) => {
      const ms = us / 1000;
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }));
  });
});

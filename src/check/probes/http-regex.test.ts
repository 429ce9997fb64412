import { describe, expect, it } from 'vitest';
import { BodyRegex, stripExtended } from './http-regex.js';

const search = (pattern: string, body: string, more: Omit<ConstructorParameters<typeof BodyRegex>[0], 'pattern'> = {}) => new BodyRegex({ pattern, ...more }).search(body);

describe("keepalived's regex options on a JavaScript regex", () => {
  it('caseless, multiline and dotall are i, m and s', () => {
    expect(search('ok', 'OK')).toBe(-1);
    expect(search('ok', 'OK', { options: ['caseless'] })).toBe(0);
    expect(search('^ready$', 'status\nready\n')).toBe(-1);
    expect(search('^ready$', 'status\nready\n', { options: ['multiline'] })).toBe(7);
    expect(search('a.b', 'a\nb')).toBe(-1);
    expect(search('a.b', 'a\nb', { options: ['dotall'] })).toBe(0);
  });

  it('extended drops white space and # comments outside a class, keeps escaped and class spaces', () => {
    expect(stripExtended('a b # the rest\n c')).toBe('abc');
    expect(stripExtended('[ #]x\\ y')).toBe('[ #]x\\ y');
    expect(search('st a tus \\ ok  # comment', 'status ok', { options: ['extended'] })).toBe(0);
    expect(search('status ok', 'status ok', { options: ['extended'] })).toBe(-1); // 'statusok'
  });

  it('firstline: the match starts at or before the first newline after the start offset', () => {
    expect(search('b', 'a\nb', { options: ['firstline'] })).toBe(-1);
    expect(search('a', 'xa\nb', { options: ['firstline'] })).toBe(1);
    expect(search('b', 'a\nb\nc', { options: ['firstline'], minOffset: 2 })).toBe(2);
  });

  it('options that change nothing for a JavaScript regex are accepted and change nothing', () => {
    const opts = ['no_auto_possess', 'no_start_optimize', 'no_dotstar_anchor', 'auto_callout', 'never_utf', 'never_ucp', 'use_offset_limit', 'no_auto_capture'];
    expect(search('b+c', 'abbc', { options: opts })).toBe(1);
  });
});

describe("regex_min_offset and regex_max_offset as keepalived's check_regex", () => {
  const body = 'OK at 0, OK at 9, OK at 18';

  it('min: the match starts at the offset or later', () => {
    expect(search('OK', body, { minOffset: 1 })).toBe(9);
    expect(search('OK', body, { minOffset: 9 })).toBe(9);
    expect(search('OK', body, { minOffset: 19 })).toBe(-1);
    expect(search('OK', body, { minOffset: 1000 })).toBe(-1);
  });

  it('min: lookbehind still sees the bytes before it (keepalived keeps max_lookbehind bytes)', () => {
    expect(search('(?<=, )OK', body, { minOffset: 9 })).toBe(9);
  });

  it('max: the match must start at the offset or before (keepalived stores one beyond it)', () => {
    expect(search('OK', body, { minOffset: 1, maxOffset: 9 })).toBe(9);
    expect(search('OK', body, { minOffset: 1, maxOffset: 8 })).toBe(-1);
    // the match may run past max: only its start is bounded
    expect(search('OK at 9', body, { maxOffset: 9 })).toBe(9);
    expect(search('OK at 18', body, { maxOffset: 17 })).toBe(-1);
  });

  it('min past max: both are ignored, as keepalived does', () => {
    expect(search('OK at 18', body, { minOffset: 10, maxOffset: 5 })).toBe(18);
  });

  it('is the same on every call (the g flag keeps no state between bodies)', () => {
    const r = new BodyRegex({ pattern: 'OK', minOffset: 9 });
    expect(r.search(body)).toBe(9);
    expect(r.search(body)).toBe(9);
    expect(r.test('short')).toBe(false);
    expect(String(r)).toBe('/OK/ from offset 9');
  });
});

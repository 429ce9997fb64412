import * as fs from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigSyntaxError, lexKeepalivedText, shellSplit, type LexOptions, type LexResult } from './lexer.js';
import { FIXTURES, fixture } from '../../../test/fixtures/keepalived/fixtures.js';

const FILE = '/etc/keepalived/keepalived.conf';
/** The keepalived.conf fixtures (test/fixtures/keepalived/), the template included. */
const corpus = [...new Set(FIXTURES.map((f) => f.file))].map((f) => fs.readFileSync(fixture(f), 'utf8'));

/** Virtual files, including a self-include, so mutated include lines never touch the disk. */
const VFS: Record<string, string> = {
  '/etc/keepalived/a.conf': 'a_line {\n include a.conf\n}\n$X=from_a\n',
  '/etc/keepalived/b.conf': 'include a.conf\n@high b_high\n',
};

function opts(): LexOptions {
  let seed = 1;
  return {
    configId: 'high',
    env: { HOME: '/root' },
    // A tiny LCG so runs are repeatable.
    random: () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    },
    readFile: (p) => {
      const v = VFS[p];
      if (v === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
      return v;
    },
    glob: () => Object.keys(VFS).sort(),
  };
}

/** Lex, allowing only ConfigSyntaxError to escape (returned as undefined). */
function safeLex(text: string): LexResult | undefined {
  try {
    return lexKeepalivedText(text, FILE, opts());
  } catch (e) {
    if (e instanceof ConfigSyntaxError) return undefined;
    throw e;
  }
}

const FRAGMENTS = [
  '{', '}', '"', "'", '$', '@', '#', '!', '\\', '\n', ' ', '\t', '\r', '~', '(', ')', ',',
  '~SEQ(', '~SEQx(', '~LST(', '~SEQ(i,1,3) ', '~LST({a,b},{1,2},{3}) ', '~SEQ(i, $X) ',
  '$X=', '$X=\\\n', '$X', '${X}', '$X ', '${_RANDOM 1 9}', '${_PWD}', '${_ENV HOME}', '${_HASH}', '${_BANG}',
  '@high ', '@^high ', '@low ', '\\#', '\\!', '\\"', '\\\n',
  'include a.conf\n', 'includea *.conf\n', 'includeb {a,b,c}.conf\n', 'include missing.conf\n',
  'x'.repeat(1100), '\0',
];

type Mutation = { at: number; op: 'insert' | 'delete' | 'replace'; piece: string };

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('insert', 'delete', 'replace') as fc.Arbitrary<Mutation['op']>,
  piece: fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 4 })),
});

function mutate(text: string, muts: Mutation[]): string {
  let t = text;
  for (const m of muts) {
    const at = m.at % (t.length + 1);
    if (m.op === 'insert') t = t.slice(0, at) + m.piece + t.slice(at);
    else if (m.op === 'delete') t = t.slice(0, at) + t.slice(at + 1 + (m.piece.length % 5));
    else t = t.slice(0, at) + m.piece + t.slice(at + m.piece.length);
  }
  return t;
}

/** Structural characters and words, for generating config-like text. */
const configish = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('a', 'b', 'vrrp_instance', '10.0.0.1', 'x_y') },
      { weight: 3, arbitrary: fc.constantFrom(' ', '\t', '\n', '{', '}', '"', '#', '!', '\\', '\r') },
    ),
    { maxLength: 80 },
  )
  .map((a) => a.join(''));

/** Reference count of the braces keepalived splits out: outside "…" and before a comment. */
function expectedBraces(text: string): number {
  let count = 0;
  for (const physical of text.split('\n')) {
    const line = physical.replace(/\r+$/, '');
    if (line.length > 1023 || line.includes('\0')) continue;
    const trailing = /\\+$/.exec(line)?.[0].length ?? 0;
    const body = trailing % 2 === 1 ? line.slice(0, -1) : line;
    let quote = false;
    for (let i = 0; i < body.length; i++) {
      const c = body[i];
      if (c === '\\' && i + 1 < body.length) {
        const nx = body[i + 1];
        // A backslash does not stop a brace from being split out (as in keepalived).
        if (!quote && (nx === '{' || nx === '}')) count++;
        i++;
        continue;
      }
      if (c === '"') quote = !quote;
      else if (!quote && (c === '#' || c === '!')) break;
      else if (!quote && (c === '{' || c === '}')) count++;
    }
  }
  return count;
}

function braceTokens(r: LexResult): number {
  let n = 0;
  for (const l of r.lines) for (const t of l.tokens) if (!t.quoted && (t.text === '{' || t.text === '}')) n++;
  return n;
}

describe('lexer properties', () => {
  it('never throws anything but ConfigSyntaxError on random strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }), configish), (s) => {
        const r = safeLex(s);
        if (r) {
          expect(r.diagnostics.filter((d) => d.message.startsWith('internal'))).toEqual([]);
          for (const l of r.lines) {
            expect(l.tokens.length).toBeGreaterThan(0);
            expect(l.loc).toEqual(l.tokens[0]?.loc);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws anything but ConfigSyntaxError on mutated fixtures, and terminates', () => {
    fc.assert(
      fc.property(fc.constantFrom(...corpus), fc.array(mutationArb, { minLength: 1, maxLength: 12 }), (text, muts) => {
        const r = safeLex(mutate(text, muts));
        if (r) {
          // expansion stays within the lexer's logical-line cap (1,000,000): no runaway output
          expect(r.lines.length).toBeLessThanOrEqual(1_000_000);
          expect(r.diagnostics.filter((d) => d.message.startsWith('internal'))).toEqual([]);
          for (const d of r.diagnostics) {
            expect(d.loc.line).toBeGreaterThanOrEqual(1);
            expect(d.loc.col).toBeGreaterThanOrEqual(1);
          }
        }
      }),
      { numRuns: 400 },
    );
  }, 60_000);

  it('is deterministic', () => {
    fc.assert(
      fc.property(fc.constantFrom(...corpus), fc.array(mutationArb, { maxLength: 8 }), (text, muts) => {
        const m = mutate(text, muts);
        const a = safeLex(m);
        const b = safeLex(m);
        expect(b).toEqual(a);
      }),
      { numRuns: 300 },
    );
  }, 60_000);

  it('splits out exactly the unquoted braces outside comments', () => {
    fc.assert(
      fc.property(configish, (s) => {
        const r = safeLex(s);
        if (!r) return;
        expect(braceTokens(r)).toBe(expectedBraces(s));
      }),
      { numRuns: 1000 },
    );
  });

  it('locates every token at its real column when no preprocessing applies', () => {
    const plain = fc
      .array(fc.constantFrom('a', 'bc', ' ', '\t', '\n', '{', '}', '"', '#', '!', '1.2'), { maxLength: 60 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(plain, (s) => {
        const r = safeLex(s);
        if (!r) return;
        const src = s.split('\n');
        for (const l of r.lines) {
          for (const t of l.tokens) {
            const line = src[t.loc.line - 1] ?? '';
            if (t.quoted) {
              expect(line[t.loc.col - 1]).toBe('"');
              expect(line.substr(t.loc.col, t.text.length)).toBe(t.text);
            } else {
              expect(line.substr(t.loc.col - 1, t.text.length)).toBe(t.text);
            }
          }
          expect(src[l.loc.line - 1]?.substr(l.rawCol - 1, l.raw.length)).toBe(l.raw);
        }
      }),
      { numRuns: 1000 },
    );
  });

  // A comment ending in a backslash still marks a continuation (keepalived keeps that), so the
  // generated comments never end in a backslash.
  it('is unaffected by trailing comments on lines without quotes', () => {
    const line = fc
      .array(fc.constantFrom('a', 'bc', ' ', '\t', '{', '}', '10.0.0.1'), { maxLength: 12 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 10 }), fc.string({ maxLength: 20 }).filter((c) => !/[\n\0\uFFFD]/.test(c) && !c.endsWith('\\')), fc.constantFrom('#', '!'), (lines, comment, mark) => {
        const plain = safeLex(lines.join('\n'));
        const commented = safeLex(lines.map((l) => `${l} ${mark}${comment}`).join('\n'));
        const texts = (r: LexResult | undefined) => r?.lines.map((l) => l.tokens.map((t) => t.text));
        expect(texts(commented)).toEqual(texts(plain));
      }),
      { numRuns: 500 },
    );
  });

  it('~SEQ produces one line per value in order', () => {
    fc.assert(
      fc.property(fc.integer({ min: -50, max: 50 }), fc.integer({ min: -50, max: 50 }), fc.integer({ min: 1, max: 7 }), (a, b, stepAbs) => {
        const step = a <= b ? stepAbs : -stepAbs;
        const r = safeLex(`~SEQ(v, ${a}, ${step}, ${b}) n$v`);
        const expected: string[] = [];
        for (let v = a; step > 0 ? v <= b : v >= b; v += step) expected.push(`n${v}`);
        expect(r?.lines.map((l) => l.tokens[0]?.text)).toEqual(expected);
        expect(r?.diagnostics).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('~LST produces one line per value in order', () => {
    const value = fc.stringMatching(/^[a-z0-9.]{0,6}$/);
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 8 }), (values) => {
        const r = safeLex(`~LST(v, ${values.join(', ')}) [\${v}]`);
        expect(r?.lines.map((l) => l.tokens[0]?.text)).toEqual(values.map((v) => `[${v}]`));
      }),
      { numRuns: 300 },
    );
  });

  it('substitutes a defined parameter by its value', () => {
    const word = fc.stringMatching(/^[A-Za-z0-9_./:-]{1,10}$/);
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,8}$/), fc.array(word, { minLength: 1, maxLength: 5 }), (name, value) => {
        const r = safeLex(`$${name}=${value.join(' ')}\nkw \${${name}} $${name}`);
        expect(r?.lines.map((l) => l.tokens.map((t) => t.text))).toEqual([['kw', ...value, ...value]]);
      }),
      { numRuns: 300 },
    );
  });

  it('shellSplit keeps plain words and single-quoted words intact', () => {
    const plainWord = fc.stringMatching(/^[A-Za-z0-9_./:=-]{1,12}$/);
    const spacedWord = fc.stringMatching(/^[A-Za-z0-9 _./:=-]{0,12}$/);
    fc.assert(
      fc.property(fc.array(plainWord, { maxLength: 8 }), fc.array(spacedWord, { maxLength: 8 }), (plain, spaced) => {
        expect(shellSplit(plain.join(' \t '))).toEqual(plain);
        expect(shellSplit(spaced.map((w) => `'${w}'`).join(' '))).toEqual(spaced);
        expect(shellSplit(spaced.map((w) => `"${w}"`).join('  '))).toEqual(spaced);
      }),
      { numRuns: 500 },
    );
  });

  it('shellSplit never throws', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        for (const w of shellSplit(s)) expect(typeof w).toBe('string');
      }),
      { numRuns: 1000 },
    );
  });
});

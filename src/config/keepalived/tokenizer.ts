// The tokenizer of the keepalived lexer: comment removal on a physical line (G2), the brace
// split (G3) and keepalived's general tokeniser (G7). Pure functions over located strings.
import type { LexReport, Token } from './lex-types.js';
import { Consecutive, endsWithContinuation, isBlank, isWhite, LStr } from './located-string.js';

/** Characters that make decomment do more than trim: comments, quotes, escapes, continuations. */
const PLAIN_LINE_SPECIALS = /[#!"\\]/;

/**
 * Comment removal (G2) on a physical line: '#' or '!' outside double quotes ends the line,
 * '\#' and '\!' outside quotes are literal, '\"' never opens or closes a quote. Leading and
 * trailing blanks go; a trailing unpaired '\' (continuation) is kept at the end, as keepalived
 * keeps it, even when a comment came before it.
 */
export function decomment(line: string): LStr {
  // the usual line: trimmed into one located string (not a whole-line one, then its trimmed copy)
  if (!PLAIN_LINE_SPECIALS.test(line)) {
    let a = 0;
    let b = line.length;
    while (a < b && isBlank(line.charCodeAt(a))) a++;
    while (b > a && isBlank(line.charCodeAt(b - 1))) b--;
    return new LStr(a === 0 && b === line.length ? line : line.slice(a, b), new Consecutive(1 + a));
  }
  return decommentLocated(new LStr(line, new Consecutive(1)));
}

/**
 * The same on located text. keepalived also applies it again after each parameter substitution,
 * so a parameter that expands to '#' (e.g. `${_HASH}`) comments out the rest of the line.
 */
export function decommentLocated(l: LStr): LStr {
  const line = l.s;
  // Most lines have no comment, quote or backslash: only the blanks at the ends go.
  if (!PLAIN_LINE_SPECIALS.test(line)) return l.trim();
  const cont = endsWithContinuation(line);
  const n = cont ? line.length - 1 : line.length;
  let text = '';
  const cols: number[] = [];
  let quote = false;
  let i = 0;
  while (i < n) {
    const c = line[i] ?? '';
    if (c === '\\' && i + 1 < n) {
      const nx = line[i + 1] ?? '';
      if (!quote && (nx === '#' || nx === '!')) {
        text += nx;
        cols.push(l.colAt(i + 1));
      } else {
        text += c + nx;
        cols.push(l.colAt(i), l.colAt(i + 1));
      }
      i += 2;
      continue;
    }
    if (c === '"') quote = !quote;
    else if (!quote && (c === '#' || c === '!')) break;
    text += c;
    cols.push(l.colAt(i));
    i++;
  }
  if (cont) {
    // Drop blanks before the continuation mark, as keepalived does.
    let e = text.length;
    while (e > 0 && isBlank(text.charCodeAt(e - 1))) e--;
    text = text.slice(0, e) + '\\';
    cols.length = e;
    cols.push(l.colAt(line.length - 1));
  }
  return new LStr(text, Int32Array.from(cols)).trim();
}

/** Index of the first '{' or '}' outside double quotes, or -1 (an unmatched quote hides the rest). */
export function findBrace(s: string): number {
  let quote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\')) {
      i++;
      continue;
    }
    if (c === '"') quote = !quote;
    else if (!quote && (c === '{' || c === '}')) return i;
  }
  return -1;
}

/**
 * Split out the first unquoted brace (G3): the piece to tokenize now and the remainder to
 * re-read as a new line (undefined when nothing follows). `text` is already trimmed.
 */
export function splitBrace(text: LStr): { piece: LStr; residue: LStr | undefined } {
  const b = findBrace(text.s);
  if (b === 0) {
    const r = text.slice(1).trim();
    return { piece: text.slice(0, 1), residue: r.length > 0 ? r : undefined };
  }
  if (b > 0) return { piece: text.slice(0, b).trim(), residue: text.slice(b).trim() };
  return { piece: text, residue: undefined };
}

/**
 * General tokeniser (G7): whitespace separates, "..." is one token with the quotes removed.
 * A backslash protects a following '"' (it becomes a literal '"') or '\'; nothing else is
 * an escape here (script keywords re-tokenise `raw` with shellSplit).
 */
export function tokenize(l: LStr, file: string, line: number, report: LexReport): Token[] {
  const s = l.s;
  const n = s.length;
  const tokens: Token[] = [];
  let i = 0;
  for (;;) {
    while (i < n && isWhite(s[i])) i++;
    if (i >= n) break;
    const start = i;
    const loc = { file, line, col: l.colAt(start) };
    let text = '';
    if (s[i] === '"') {
      i++;
      // no escape before the closing quote: the token is a slice
      const close = s.indexOf('"', i);
      const esc = s.indexOf('\\', i);
      if (close >= 0 && (esc < 0 || esc > close)) {
        tokens.push({ text: s.slice(i, close), loc, quoted: true });
        i = close + 1;
        continue;
      }
      let closed = false;
      while (i < n) {
        const c = s[i];
        if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\')) {
          text += s[i + 1] === '"' ? '"' : '\\\\';
          i += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        text += c;
        i++;
      }
      // the text is not echoed: it may be a secret (auth_pass "…)
      if (!closed) report.diag('error', loc, `unmatched quote: the string that starts here has no closing '"'; the rest of the line is taken as its text`);
      tokens.push({ text, loc, quoted: true });
    } else {
      let plain = true;
      while (i < n) {
        const c = s[i];
        if (isWhite(c) || c === '"') break;
        if (c === '\\') plain = false;
        i++;
      }
      if (plain) {
        tokens.push({ text: s.slice(start, i), loc, quoted: false });
        continue;
      }
      i = start;
      while (i < n) {
        const c = s[i];
        if (isWhite(c) || c === '"') break;
        if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\')) {
          text += s[i + 1] === '"' ? '"' : '\\\\';
          i += 2;
          continue;
        }
        text += c;
        i++;
      }
      tokens.push({ text, loc, quoted: false });
    }
  }
  return tokens;
}

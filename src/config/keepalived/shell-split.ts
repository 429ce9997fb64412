// G8: shell-like re-tokenisation for script keywords.
import { isWhite } from './located-string.js';

const ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  E: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/**
 * Split a raw line the way keepalived splits script keyword values: ' and " both quote,
 * adjacent quoted and unquoted pieces join into one word, and backslash escapes
 * \a \b \E \f \n \r \t \v \nnn (octal) \xXX (hex) \cC (control) and \C (literal C) apply
 * everywhere. An unterminated quote runs to the end; a trailing lone backslash is kept.
 */
export function shellSplit(raw: string): string[] {
  const out: string[] = [];
  const n = raw.length;
  let i = 0;
  for (;;) {
    while (i < n && isWhite(raw[i])) i++;
    if (i >= n) break;
    let word = '';
    let quote: string | undefined;
    while (i < n) {
      const c = raw[i] ?? '';
      if (c === '\\') {
        const nx = raw[i + 1];
        if (nx === undefined) {
          word += '\\';
          i++;
          continue;
        }
        if (nx === 'x' && /[0-9a-fA-F]/.test(raw[i + 2] ?? '')) {
          let k = i + 2;
          let hex = '';
          while (k < n && hex.length < 2 && /[0-9a-fA-F]/.test(raw[k] ?? '')) hex += raw[k++];
          word += String.fromCharCode(parseInt(hex, 16));
          i = k;
        } else if (nx === 'c' && i + 2 < n) {
          word += String.fromCharCode((raw.charCodeAt(i + 2) & 0x1f) >>> 0);
          i += 3;
        } else if (nx >= '0' && nx <= '7') {
          let k = i + 1;
          let oct = '';
          while (k < n && oct.length < 3 && (raw[k] ?? '') >= '0' && (raw[k] ?? '') <= '7') oct += raw[k++];
          word += String.fromCharCode(parseInt(oct, 8) & 0xff);
          i = k;
        } else {
          word += ESCAPES[nx] ?? nx;
          i += 2;
        }
        continue;
      }
      if (quote) {
        if (c === quote) quote = undefined;
        else word += c;
        i++;
        continue;
      }
      if (c === '"' || c === "'") {
        quote = c;
        i++;
        continue;
      }
      if (isWhite(c)) break;
      word += c;
      i++;
    }
    out.push(word);
  }
  return out;
}

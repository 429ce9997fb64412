// Located strings: text plus the source column of every character, so that tokens keep their
// real columns through comment removal, `@` stripping, substitution and brace splitting.

export class LStr {
  /**
   * `cols` is one column shared by every character (expanded text), a Consecutive run (the
   * usual case: a line as written, character i at column first + i) or one column per character.
   */
  constructor(
    readonly s: string,
    private readonly cols: Int32Array | Consecutive | number,
  ) {}

  static uniform(s: string, col: number): LStr {
    return new LStr(s, col);
  }

  get length(): number {
    return this.s.length;
  }

  colAt(i: number): number {
    const c = this.cols;
    if (typeof c === 'number') return c;
    if (c instanceof Consecutive) return this.s.length === 0 ? 1 : c.first + Math.max(0, Math.min(i, this.s.length - 1));
    if (c.length === 0) return 1;
    const v = c[Math.max(0, Math.min(i, c.length - 1))];
    return v ?? 1;
  }

  slice(a: number, b: number = this.s.length): LStr {
    const c = this.cols;
    if (typeof c === 'number') return new LStr(this.s.slice(a, b), c);
    if (c instanceof Consecutive) return new LStr(this.s.slice(a, b), new Consecutive(c.first + Math.max(0, Math.min(a, this.s.length))));
    return new LStr(this.s.slice(a, b), c.subarray(a, Math.max(a, b)));
  }

  /** Trim spaces and tabs at both ends (keepalived only treats these as blanks here). */
  trim(): LStr {
    let a = 0;
    let b = this.s.length;
    while (a < b && isBlank(this.s.charCodeAt(a))) a++;
    while (b > a && isBlank(this.s.charCodeAt(b - 1))) b--;
    return a === 0 && b === this.s.length ? this : this.slice(a, b);
  }

  static concat(parts: LStr[]): LStr {
    const first = parts[0];
    if (parts.length === 1 && first) return first;
    let text = '';
    let uniformCol: number | undefined;
    let isUniform = true;
    for (const p of parts) {
      text += p.s;
      if (p.length === 0) continue;
      if (typeof p.cols !== 'number') isUniform = false;
      else if (uniformCol === undefined) uniformCol = p.cols;
      else if (uniformCol !== p.cols) isUniform = false;
    }
    if (isUniform) return new LStr(text, uniformCol ?? 1);
    const cols = new Int32Array(text.length);
    let o = 0;
    for (const p of parts) {
      for (let i = 0; i < p.length; i++) cols[o++] = p.colAt(i);
    }
    return new LStr(text, cols);
  }
}

/** Columns first, first + 1, …: a line's text kept as written needs no per-character table. */
export class Consecutive {
  constructor(readonly first: number) {}
}

export function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Token separators of keepalived's general tokeniser (space, tab, \f, \n, \r, \v). */
export function isWhite(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\f' || ch === '\n' || ch === '\r' || ch === '\v';
}

export function skipBlanks(s: string, p: number): number {
  while (p < s.length && isBlank(s.charCodeAt(p))) p++;
  return p;
}

export function skipWhite(s: string, p: number): number {
  while (p < s.length && isWhite(s[p])) p++;
  return p;
}

/** True if the string ends with an unpaired backslash (an odd run of trailing backslashes). */
export function endsWithContinuation(s: string): boolean {
  let k = 0;
  while (k < s.length && s.charCodeAt(s.length - 1 - k) === 0x5c) k++;
  return k % 2 === 1;
}

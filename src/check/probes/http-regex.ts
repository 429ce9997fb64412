/**
 * HTTP_GET / SSL_GET `regex` with keepalived's regex_options, regex_min_offset and
 * regex_max_offset (check_http.c, check_regex), on a JavaScript RegExp. Pure.
 *
 * keepalived compiles the pattern with PCRE2 and the options named in regex_options; the match is
 * run from regex_min_offset (lookbehind may still see the bytes before it) and succeeds only if
 * it starts at regex_max_offset or before (keepalived keeps "one beyond" internally). A JavaScript
 * regex is the leftmost match as PCRE2's is, so "the first match starts too late" is "no match".
 *
 * Options: caseless, multiline and dotall are the flags i, m and s; extended (white space and
 * # comments outside a class are not part of the pattern) is done by stripping them here;
 * firstline (the match starts at or before the first newline after the start offset) is a bound
 * on the match's start. The others accepted by the schema change nothing for a JavaScript regex:
 * optimisation switches (no_auto_possess, no_start_optimize, no_dotstar_anchor, auto_callout),
 * restrictions on what the pattern may use (never_ucp, never_utf, never_backslash_c, dupnames,
 * alt_verbnames, no_auto_capture), what JavaScript does already (allow_empty_class, alt_bsux,
 * alt_circumflex, dollar_endonly, match_unset_backref), or an offset limit keepalived never sets
 * (use_offset_limit).
 */

export interface BodyRegexSpec {
  pattern: string;
  options?: readonly string[];
  minOffset?: number;
  maxOffset?: number;
}

export class BodyRegex {
  readonly regex: RegExp;
  private readonly firstline: boolean;
  private readonly min: number;
  private readonly max: number | undefined;

  /** Throws a SyntaxError for a pattern JavaScript cannot compile. */
  constructor(spec: BodyRegexSpec) {
    const opts = new Set(spec.options ?? []);
    let flags = 'g'; // for lastIndex: the match starts at the min offset, lookbehind sees before it
    if (opts.has('caseless')) flags += 'i';
    if (opts.has('multiline')) flags += 'm';
    if (opts.has('dotall')) flags += 's';
    this.regex = new RegExp(opts.has('extended') ? stripExtended(spec.pattern) : spec.pattern, flags);
    this.firstline = opts.has('firstline');
    // keepalived ignores both offsets when min is past max
    const bad = spec.minOffset !== undefined && spec.maxOffset !== undefined && spec.minOffset > spec.maxOffset;
    this.min = bad ? 0 : spec.minOffset ?? 0;
    this.max = bad ? undefined : spec.maxOffset;
  }

  /** Where the first acceptable match starts, or -1. */
  search(body: string): number {
    const re = this.regex;
    re.lastIndex = this.min;
    const m = re.exec(body);
    if (m === null) return -1;
    if (this.max !== undefined && m.index > this.max) return -1;
    if (this.firstline) {
      const nl = body.indexOf('\n', this.min);
      if (nl >= 0 && m.index > nl) return -1;
    }
    return m.index;
  }

  test(body: string): boolean {
    return this.search(body) >= 0;
  }

  toString(): string {
    const parts = [String(this.regex).replace(/g([a-z]*)$/, '$1')];
    if (this.min > 0) parts.push(`from offset ${this.min}`);
    if (this.max !== undefined) parts.push(`starting by offset ${this.max}`);
    return parts.join(' ');
  }
}

/** PCRE2_EXTENDED: white space and #-to-newline comments outside a character class are dropped. */
export function stripExtended(p: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      out += c + (p[i + 1] ?? '');
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
    } else if (c === '#') {
      while (i + 1 < p.length && p[i + 1] !== '\n') i++;
      i++; // the newline ends the comment and is dropped with it
    } else if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\v' && c !== '\f' && c !== '\r') {
      out += c;
    }
  }
  return out;
}

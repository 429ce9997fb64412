// The vocabulary shared by the parts of the keepalived lexer (source reading, the macro
// expander, the tokenizer): located tokens and lines, the options, the limits, and the
// per-line unit that travels through the preprocessor.
import type { Diagnostic, SourceLoc } from '../diagnostics.js';
import type { LStr } from './located-string.js';

export type { Diagnostic, SourceLoc } from '../diagnostics.js';

export interface Token {
  text: string;
  loc: SourceLoc;
  quoted: boolean;
}

export interface LogicalLine {
  tokens: Token[];
  raw: string;
  rawCol: number;
  loc: SourceLoc;
}

export class ConfigSyntaxError extends Error {
  constructor(
    message: string,
    public readonly loc: SourceLoc,
  ) {
    super(message);
    this.name = 'ConfigSyntaxError';
  }
}

export interface LexOptions {
  configId: string;
  readFile?: (path: string) => string;
  glob?: (pattern: string, cwd: string) => string[];
  env?: Record<string, string | undefined>;
  random?: () => number;
}

export interface LexResult {
  lines: LogicalLine[];
  diagnostics: Diagnostic[];
  files: string[];
}

// ---------------------------------------------------------------------------------------------
// Limits

/** keepalived reads lines into a 1024-byte buffer (MAXBUF), so 1023 characters is the maximum. */
export const MAX_LINE = 1023;
export const MAX_INCLUDE_DEPTH = 32;
/** Files opened through include in one config (each time counted) and the text read from them. */
export const MAX_INCLUDE_OPENS = 10_000;
export const MAX_INCLUDE_BYTES = 200 * 1024 * 1024;
/**
 * Safety caps so recursive parameters or huge ~SEQ ranges cannot hang or exhaust memory. They
 * count what expansions make; a large file read as it is (100,000 real servers: 1.1 million
 * logical lines) is not limited by them.
 */
export const MAX_LINES = 1_000_000;
export const MAX_BYTES = 50 * 1024 * 1024;
export const MAX_STEPS = 3_000_000;
export const MAX_NESTED_EXPANSIONS = 10_000;
export const MAX_SUBST_PASSES = 64;
export const MAX_DIAGNOSTICS = 10_000;
export const MAX_BRACE_ALTERNATIVES = 1024;
export const BINARY_SNIFF = 8192;

// ---------------------------------------------------------------------------------------------
// Per-line state

export interface IncludeChecks {
  readable: boolean;
  match: boolean;
  wildcard: boolean;
  brace: boolean;
}

/** Per-file context: what relative includes and ${_PWD} resolve against. */
export interface FileCtx {
  file: string;
  dir: string;
  /** Files from the top down to this one, for the include-cycle guard. */
  chain: string[];
  /** include_check setting, saved per file (an included file cannot change its includer's). */
  checks: IncludeChecks;
}

/** One line of text on its way through the preprocessor. */
export interface Unit {
  text: LStr;
  line: number;
  ctx: FileCtx;
  /** Set once `@` stripping or substitution changed the text (used for the include warning). */
  transformed: boolean;
  /**
   * Set when substitution on this line hit a limit; the re-read remainders of the line then
   * skip substitution, or the leftover references would expand again without end.
   */
  substStop?: boolean;
  /**
   * Made by an expansion (a multi-line parameter, ~SEQ/~LST): only these count against the
   * expansion limits. Lines read from files are bounded by the files themselves.
   */
  expanded?: boolean;
  /**
   * How many expansions made this line (0 or absent: read from a file). A multi-line parameter
   * whose last line uses it again is popped before it is expanded again, so the stack alone
   * never grows; the generation does, and is what the nesting limit counts.
   */
  gen?: number;
}

/** Thrown to end lexing after a fatal diagnostic (a limit was hit). */
export class StopLexing extends Error {}

/** Collects the lexer's diagnostics, with a cap so a pathological file cannot flood memory. */
export class LexReport {
  readonly diagnostics: Diagnostic[] = [];

  diag(severity: 'error' | 'warning', loc: SourceLoc, message: string): void {
    if (this.diagnostics.length < MAX_DIAGNOSTICS) this.diagnostics.push({ severity, loc, message });
    else if (this.diagnostics.length === MAX_DIAGNOSTICS) {
      this.diagnostics.push({ severity: 'error', loc, message: `too many diagnostics; further ones suppressed` });
    }
  }

  locOf(u: Unit, i = 0): SourceLoc {
    return { file: u.ctx.file, line: u.line, col: u.text.colAt(i) };
  }

  /** A located error that ends lexing. */
  fatal(u: Unit, message: string): never {
    this.diag('error', this.locOf(u), message);
    throw new StopLexing();
  }
}

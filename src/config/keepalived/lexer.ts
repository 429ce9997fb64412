/**
 * keepalived.conf lexer / preprocessor.
 *
 * Turns a keepalived configuration (plus everything it includes) into a flat list of
 * logical lines, applying the same preprocessing keepalived does before keyword parsing:
 * comments (G2), brace splitting (G3), quoting (G7), includes (G10), `@` conditionals (G11),
 * `$` parameters (G12) and `~SEQ`/`~LST` expansion (G13). The rules, by these ids, are in
 * docs/keepalived.md §1.
 *
 * This file is the driver, a loop over three parts: source reading (source.ts: files,
 * includes, globs), the macro expander (macros.ts) and the tokenizer (tokenizer.ts).
 *
 * Nothing in here throws except ConfigSyntaxError for an unusable top-level file; every other
 * problem becomes a located Diagnostic and lexing carries on, as keepalived does.
 */
import {
  ConfigSyntaxError,
  LexReport,
  MAX_BYTES,
  MAX_LINES,
  MAX_STEPS,
  StopLexing,
  type LexOptions,
  type LexResult,
  type LogicalLine,
  type Unit,
} from './lex-types.js';
import { MacroExpander } from './macros.js';
import { binaryProblem, SourceStack } from './source.js';
import { splitBrace, tokenize } from './tokenizer.js';

export { ConfigSyntaxError, type Diagnostic, type LexOptions, type LexResult, type LogicalLine, type SourceLoc, type Token } from './lex-types.js';
export { shellSplit } from './shell-split.js';

/** Receives each logical line as it is made: the importer builds its tree from them on the fly. */
export type LineSink = (line: LogicalLine) => void;

export function lexKeepalived(file: string, opts: LexOptions, sink?: LineSink): LexResult {
  const lexer = new Lexer(opts);
  const text = lexer.readTop(file);
  return lexer.run(text, file, sink);
}

/** Lexes a config given as text. With `sink`, lines go to it and `lines` in the result stays empty. */
export function lexKeepalivedText(text: string, file: string, opts: LexOptions, sink?: LineSink): LexResult {
  const lexer = new Lexer(opts);
  const problem = binaryProblem(text);
  if (problem) throw new ConfigSyntaxError(`${file} is a binary file, not a keepalived.conf`, { file, ...problem });
  return lexer.run(text, file, sink);
}

class Lexer {
  private readonly report = new LexReport();
  private readonly lines: LogicalLine[] = [];
  private readonly sources: SourceStack;
  private readonly macros: MacroExpander;
  private steps = 0;
  private bytes = 0;
  private count = 0;
  private sink: LineSink | undefined;

  constructor(opts: LexOptions) {
    this.sources = new SourceStack(this.report, {
      readFile: opts.readFile,
      glob: opts.glob,
      // keepalived ends a multi-line definition at the end of the file it started in.
      onFileEnd: () => {
        if (this.macros.collecting) this.macros.finishPending();
      },
    });
    this.macros = new MacroExpander(
      { configId: opts.configId, env: opts.env ?? process.env, random: opts.random ?? Math.random },
      this.report,
      this.sources,
    );
  }

  readTop(file: string): string {
    const r = this.sources.read(file);
    if (r.ok) return r.text;
    const loc = { file, line: 1, col: 1 };
    if (r.binary) throw new ConfigSyntaxError(`${file} is a binary file, not a keepalived.conf`, loc);
    throw new ConfigSyntaxError(`cannot read ${file}: ${r.message}`, loc);
  }

  run(text: string, file: string, sink?: LineSink): LexResult {
    this.sink = sink;
    this.sources.openTop(text, file);
    try {
      for (;;) {
        const u = this.sources.next();
        if (!u) break;
        if (u.expanded && ++this.steps > MAX_STEPS) {
          this.report.fatal(u, `expansion limit exceeded (${MAX_STEPS} preprocessing steps); stopping`);
        }
        if (this.macros.collecting) this.macros.accumulate(u);
        else if (this.macros.expand(u) && !this.sources.include(u)) this.splitAndEmit(u);
      }
    } catch (e) {
      if (!(e instanceof StopLexing)) {
        // Defensive: a bug here must not escape as anything but a diagnostic.
        this.report.diag('error', { file, line: 1, col: 1 }, `internal lexer error: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return { lines: this.lines, diagnostics: this.report.diagnostics, files: this.sources.files };
  }

  /** Split out the first unquoted brace (G3), emit the text before it, re-read the remainder. */
  private splitAndEmit(u: Unit): void {
    const text = u.text.trim();
    if (text.length === 0) return;
    const { piece, residue } = splitBrace(text);
    if (residue) {
      this.sources.push({ kind: 'unit', unit: { text: residue, line: u.line, ctx: u.ctx, transformed: u.transformed, substStop: u.substStop, expanded: u.expanded, gen: u.gen } }, u);
    }
    const tokens = tokenize(piece, u.ctx.file, u.line, this.report);
    const first = tokens[0];
    if (!first) return;
    if (u.expanded) {
      if (++this.count > MAX_LINES) this.report.fatal(u, `expansion limit exceeded (${MAX_LINES} logical lines); stopping`);
      this.bytes += piece.length;
      if (this.bytes > MAX_BYTES) this.report.fatal(u, `expansion limit exceeded (${MAX_BYTES} bytes); stopping`);
    }
    const line: LogicalLine = { tokens, raw: piece.s, rawCol: piece.colAt(0), loc: first.loc };
    if (this.sink) this.sink(line);
    else this.lines.push(line);
    if (first.text === 'include_check' && !first.quoted) this.sources.includeCheck(tokens, u);
  }
}

// Second stage of the keepalived importer: logical lines → a tree of keyword nodes.
// A line followed by a `{` line opens a block. Unlike keepalived (G5), a block is
// always closed by its own `}`, so an unknown block can be skipped as a whole.
// The builder is fed one line at a time and hands over each top-level node as soon as it is
// complete, so the importer reads a large config block by block, never holding all of it.
import type { Diagnostic, SourceLoc } from '../diagnostics.js';
import type { LogicalLine, Token } from './lexer.js';

export interface KNode {
  keyword: string;
  args: Token[];
  line: LogicalLine;
  loc: SourceLoc;
  children?: KNode[]; // present when the keyword opened a `{ … }` block
  anonymous?: boolean; // a `{` with no keyword before it
  used?: number; // how many of args the importer read (the rest are ignored, as keepalived does)
}

interface Level {
  nodes: KNode[];
  opener?: KNode;
}

export class TreeBuilder {
  private readonly stack: Level[] = [{ nodes: [] }];
  private prev: KNode | undefined; // the node made from the line just before, if any
  /** A top-level node without a block yet: the next line may still open one. */
  private pendingRoot: KNode | undefined;

  constructor(
    private readonly diagnostics: Diagnostic[],
    /** Receives each top-level node once it is complete, in order. */
    private readonly onRoot: (node: KNode) => void,
  ) {}

  push(line: LogicalLine): void {
    const first = line.tokens[0];
    if (!first) return;
    const level = this.stack[this.stack.length - 1] as Level;
    const brace = !first.quoted && line.tokens.length === 1 ? first.text : undefined;
    if (brace === '{') {
      const prev = this.prev;
      const last = this.stack.length === 1 ? this.pendingRoot : level.nodes[level.nodes.length - 1];
      if (prev && !prev.children && last === prev) {
        prev.children = [];
        this.stack.push({ nodes: prev.children, opener: prev });
        if (this.pendingRoot === prev) this.pendingRoot = undefined;
      } else {
        this.flushRoot();
        // keepalived: "Unexpected '{' - ignoring"; we keep the braces balanced instead.
        this.diagnostics.push({ severity: 'warning', loc: first.loc, message: `unexpected '{' with no keyword before it; its block is skipped` });
        const anon: KNode = { keyword: '{', args: [], line, loc: first.loc, children: [], anonymous: true };
        this.add(level, anon);
        this.stack.push({ nodes: anon.children as KNode[], opener: anon });
      }
      this.prev = undefined;
      return;
    }
    this.flushRoot();
    if (brace === '}') {
      if (this.stack.length === 1) {
        this.diagnostics.push({ severity: 'error', loc: first.loc, message: `extra '}' with no block to close; remove it or add the missing '{'` });
      } else {
        // trim the block's list to its size (a pushed-to array keeps room for 17 nodes)
        const closed = this.stack.pop() as Level;
        if (closed.opener) closed.opener.children = closed.nodes.slice();
        if (this.stack.length === 1 && closed.opener) this.emitRoot(closed.opener);
      }
      this.prev = undefined;
      return;
    }
    const node: KNode = { keyword: first.text, args: line.tokens.slice(1), line, loc: first.loc };
    this.add(level, node);
    if (this.stack.length === 1) this.pendingRoot = node;
    this.prev = node;
  }

  /** End of input: the last pending node, and a diagnostic for each block left open. */
  finish(): void {
    this.flushRoot();
    for (let i = this.stack.length - 1; i >= 1; i--) {
      const opener = (this.stack[i] as Level).opener as KNode;
      this.diagnostics.push({
        severity: 'error',
        loc: opener.loc,
        message: `block '${opener.keyword}' opened here is never closed; add the missing '}'`,
      });
    }
    // what is open is handed over as it is, so nothing read is lost
    if (this.stack.length > 1) {
      const open = (this.stack[1] as Level).opener as KNode;
      for (let i = this.stack.length - 1; i >= 1; i--) {
        const l = this.stack[i] as Level;
        if (l.opener) l.opener.children = l.nodes.slice();
      }
      this.stack.length = 1;
      this.emitRoot(open);
    }
  }

  private add(level: Level, node: KNode): void {
    // top-level nodes are handed over, not kept
    if (this.stack.length > 1 || level !== this.stack[0]) level.nodes.push(node);
  }

  private flushRoot(): void {
    const p = this.pendingRoot;
    if (!p) return;
    this.pendingRoot = undefined;
    this.emitRoot(p);
  }

  private emitRoot(node: KNode): void {
    this.onRoot(node);
  }
}

/** The whole tree of a list of lines (tests and small inputs). */
export function buildTree(lines: readonly LogicalLine[], diagnostics: Diagnostic[]): KNode[] {
  const root: KNode[] = [];
  const b = new TreeBuilder(diagnostics, (n) => root.push(n));
  for (const line of lines) b.push(line);
  b.finish();
  return root;
}

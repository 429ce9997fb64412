// Second stage of the keepalived importer: logical lines → a tree of keyword nodes.
// A line followed by a `{` line opens a block. Unlike keepalived (G5), a block is
// always closed by its own `}`, so an unknown block can be skipped as a whole.
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

export function buildTree(lines: readonly LogicalLine[], diagnostics: Diagnostic[]): KNode[] {
  const root: KNode[] = [];
  const stack: { nodes: KNode[]; opener?: KNode }[] = [{ nodes: root }];
  let prev: KNode | undefined; // the node made from the line just before, if any

  for (const line of lines) {
    const first = line.tokens[0];
    if (!first) continue;
    const level = stack[stack.length - 1] as { nodes: KNode[]; opener?: KNode };
    if (first.text === '{' && !first.quoted && line.tokens.length === 1) {
      if (prev && !prev.children && level.nodes[level.nodes.length - 1] === prev) {
        prev.children = [];
        stack.push({ nodes: prev.children, opener: prev });
      } else {
        // keepalived: "Unexpected '{' - ignoring"; we keep the braces balanced instead.
        diagnostics.push({ severity: 'warning', loc: first.loc, message: `unexpected '{' with no keyword before it; its block is skipped` });
        const anon: KNode = { keyword: '{', args: [], line, loc: first.loc, children: [], anonymous: true };
        level.nodes.push(anon);
        stack.push({ nodes: anon.children as KNode[], opener: anon });
      }
      prev = undefined;
      continue;
    }
    if (first.text === '}' && !first.quoted && line.tokens.length === 1) {
      if (stack.length === 1) {
        diagnostics.push({ severity: 'error', loc: first.loc, message: `extra '}' with no block to close; remove it or add the missing '{'` });
      } else {
        // trim the block's list to its size (a pushed-to array keeps room for 17 nodes)
        const closed = stack.pop() as { nodes: KNode[]; opener?: KNode };
        if (closed.opener) closed.opener.children = closed.nodes.slice();
      }
      prev = undefined;
      continue;
    }
    const node: KNode = { keyword: first.text, args: line.tokens.slice(1), line, loc: first.loc };
    level.nodes.push(node);
    prev = node;
  }

  for (let i = stack.length - 1; i >= 1; i--) {
    const opener = (stack[i] as { opener?: KNode }).opener as KNode;
    diagnostics.push({
      severity: 'error',
      loc: opener.loc,
      message: `block '${opener.keyword}' opened here is never closed; add the missing '}'`,
    });
  }
  return root;
}

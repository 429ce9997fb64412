// Maps a path in a YAML document (['instances', 'VI_1', 'priority']) to the line and
// column where it is written, so schema errors read `file:line:col`. js-yaml gives no
// node positions, so this walks the block-style text by indentation. Flow-style
// collections resolve to their parent's position, which is still the right line.

export interface Position {
  line: number; // 1-based
  col: number; // 1-based
}

interface Scope {
  head?: { line: number; col: number }; // a list item's content that starts on the dash line
  from: number; // first following line index (0-based) that may hold children
  parentCol: number; // following child lines start at a column greater than this (-1 for the root)
  pos: Position;
}

interface LineInfo {
  text: string;
  dashCols: number[]; // columns of leading "- " markers
  contentCol: number; // column of the first content character after dashes (-1 if blank/comment)
}

function analyse(line: string): LineInfo {
  const dashCols: number[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === ' ') i++;
    if (line[i] === '-' && (line[i + 1] === ' ' || line[i + 1] === undefined)) {
      dashCols.push(i);
      i += 1;
      continue;
    }
    break;
  }
  const blank = i >= line.length || line[i] === '#';
  return { text: line, dashCols, contentCol: blank && dashCols.length === 0 ? -1 : i };
}

function startCol(info: LineInfo): number {
  return info.dashCols[0] ?? info.contentCol;
}

function keyAt(text: string, col: number, key: string): boolean {
  const rest = text.slice(col);
  for (const candidate of [key, `"${key}"`, `'${key}'`]) {
    if (rest.startsWith(candidate)) {
      const after = rest.slice(candidate.length).trimStart();
      if (after.startsWith(':')) return true;
    }
  }
  return false;
}

export function locateYamlPath(text: string, path: readonly PropertyKey[]): Position {
  return yamlLocator(text)(path);
}

/** A locator for many paths of one document: the text is analysed once. */
export function yamlLocator(text: string): (path: readonly PropertyKey[]) => Position {
  const find = yamlFinder(text);
  return (path) => find(path).pos;
}

/** Like yamlLocator, also saying how many leading segments of the path were found. */
export function yamlFinder(text: string): (path: readonly PropertyKey[]) => { pos: Position; depth: number } {
  let lines: LineInfo[] | undefined;
  return (path) => {
    lines ??= text.split(/\r?\n/).map(analyse);
    return locate(lines, path);
  };
}

function locate(lines: LineInfo[], path: readonly PropertyKey[]): { pos: Position; depth: number } {
  let scope: Scope = { from: 0, parentCol: -1, pos: { line: 1, col: 1 } };
  let depth = 0;
  for (const seg of path) {
    const next = typeof seg === 'number' ? findItem(lines, scope, seg) : findKey(lines, scope, String(seg));
    if (!next) return { pos: scope.pos, depth };
    scope = next;
    depth++;
  }
  return { pos: scope.pos, depth };
}

/** The lines of a node's children, each with the column its content starts at. */
function* children(lines: LineInfo[], scope: Scope): Generator<{ i: number; info: LineInfo; col: number; dashes: number[] }> {
  if (scope.head) {
    const info = lines[scope.head.line] as LineInfo;
    const dashes = info.dashCols.filter((c) => c >= (scope.head as { col: number }).col);
    yield { i: scope.head.line, info, col: dashes.length ? info.contentCol : scope.head.col, dashes };
  }
  for (let i = scope.from; i < lines.length; i++) {
    const info = lines[i] as LineInfo;
    if (info.contentCol < 0) continue;
    if (startCol(info) <= scope.parentCol) return;
    yield { i, info, col: info.contentCol, dashes: info.dashCols };
  }
}

function findKey(lines: LineInfo[], scope: Scope, key: string): Scope | undefined {
  for (const { i, info, col, dashes } of children(lines, scope)) {
    const keyCol = dashes.length ? info.contentCol : col;
    if (keyAt(info.text, keyCol, key)) return { from: i + 1, parentCol: keyCol, pos: { line: i + 1, col: keyCol + 1 } };
  }
  return undefined;
}

function findItem(lines: LineInfo[], scope: Scope, index: number): Scope | undefined {
  let dashCol: number | undefined;
  let n = 0;
  for (const { i, dashes } of children(lines, scope)) {
    const c = dashes[0];
    if (c === undefined) continue;
    dashCol ??= c;
    if (c !== dashCol) continue;
    if (n === index) {
      const content = dashes[1] ?? c + 2;
      return { head: { line: i, col: content }, from: i + 1, parentCol: c, pos: { line: i + 1, col: content + 1 } };
    }
    n++;
  }
  return undefined;
}

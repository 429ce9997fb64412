import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigSyntaxError,
  lexKeepalived,
  lexKeepalivedText,
  shellSplit,
  type LexOptions,
  type LexResult,
} from './lexer.js';
import { FIXTURES, fixture } from '../../../test/fixtures/keepalived/fixtures.js';

const FILE = '/etc/keepalived/keepalived.conf';

function lex(text: string, extra: Partial<LexOptions> = {}): LexResult {
  return lexKeepalivedText(text, FILE, { configId: 'high', random: () => 0, env: {}, ...extra });
}

/** Each logical line as its tokens joined by '|'. */
function words(r: LexResult): string[] {
  return r.lines.map((l) => l.tokens.map((t) => t.text).join('|'));
}

function errors(r: LexResult): string[] {
  return r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);
}

function warnings(r: LexResult): string[] {
  return r.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.message);
}

/** A virtual file system for include tests. */
function vfs(files: Record<string, string>): (p: string) => string {
  return (p: string) => {
    const v = files[p];
    if (v === undefined) {
      const e = new Error(`ENOENT: no such file or directory, open '${p}'`) as NodeJS.ErrnoException;
      e.code = 'ENOENT';
      throw e;
    }
    return v;
  };
}

/** A glob over the virtual file system: '*' within one path segment, '?' one character. */
function vglob(files: Record<string, string>): (pattern: string, cwd: string) => string[] {
  return (pattern, cwd) => {
    const abs = path.resolve(cwd, pattern);
    const re = new RegExp(
      '^' +
        abs
          .split('')
          .map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
          .join('') +
      '$',
    );
    return Object.keys(files)
      .filter((f) => re.test(f))
      .sort();
  };
}

describe('G1: lines', () => {
  it('produces no logical line for empty or blank lines', () => {
    const r = lex('\n\n   \n\t\na\n\n');
    expect(words(r)).toEqual(['a']);
    expect(r.diagnostics).toEqual([]);
  });

  it('splits tokens on spaces and tabs', () => {
    expect(words(lex('  priority\t100   extra  '))).toEqual(['priority|100|extra']);
  });

  it('handles CRLF line endings', () => {
    const r = lex('global_defs {\r\n  router_id LVS\r\n}\r\n');
    expect(words(r)).toEqual(['global_defs', '{', 'router_id|LVS', '}']);
    expect(r.lines[2]?.loc).toEqual({ file: FILE, line: 2, col: 3 });
  });

  it('ignores a line longer than 1023 characters with a warning', () => {
    const ok = 'a ' + 'x'.repeat(1021);
    const long = 'b ' + 'x'.repeat(1022);
    const r = lex(`${ok}\n${long}\nc\n`);
    expect(words(r).map((w) => w.slice(0, 3))).toEqual(['a|x', 'c']);
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ severity: 'warning', loc: { line: 2, col: 1 } });
    expect(r.diagnostics[0]?.message).toMatch(/too long/);
  });

  it('ignores a line with a NUL character (after the first 8 KiB) with a warning', () => {
    const pad = '# padding\n'.repeat(900);
    const r = lex(`${pad}a\nb\0c\nd\n`);
    expect(words(r)).toEqual(['a', 'd']);
    expect(r.diagnostics).toEqual([
      { severity: 'warning', loc: { file: FILE, line: 902, col: 2 }, message: expect.stringMatching(/NUL/) },
    ]);
  });

  it('strips a UTF-8 byte order mark', () => {
    expect(words(lex('\uFEFFglobal_defs'))).toEqual(['global_defs']);
  });

  it('gives 1-based line and column locations', () => {
    const r = lex('a\n\n   b c\n');
    expect(r.lines[1]?.tokens.map((t) => t.loc)).toEqual([
      { file: FILE, line: 3, col: 4 },
      { file: FILE, line: 3, col: 6 },
    ]);
    expect(r.lines[1]?.loc).toEqual({ file: FILE, line: 3, col: 4 });
  });
});

describe('G2: comments', () => {
  it('strips # and ! comments anywhere on a line', () => {
    const r = lex('# full line\n! also a comment\ninhibit_on_failure ! set weight to 0\nweight 1 # one\n');
    expect(words(r)).toEqual(['inhibit_on_failure', 'weight|1']);
    expect(r.lines[0]?.raw).toBe('inhibit_on_failure');
  });

  it('keeps # and ! inside double quotes', () => {
    const r = lex('router_id "a#b!c" # real comment');
    expect(words(r)).toEqual(['router_id|a#b!c']);
    expect(r.lines[0]?.tokens[1]?.quoted).toBe(true);
  });

  it('does not protect # inside single quotes', () => {
    const r = lex("notify_master '/bin/echo a#b'");
    expect(words(r)).toEqual(["notify_master|'/bin/echo|a"]);
    expect(r.lines[0]?.raw).toBe("notify_master '/bin/echo a");
  });

  it('turns \\# and \\! into literal characters outside quotes', () => {
    const r = lex('a \\#b \\!c "\\#d"');
    expect(words(r)).toEqual(['a|#b|!c|\\#d']);
  });

  it('provides ${_HASH} and ${_BANG}, which comment out the rest of the line as in keepalived 2.2.7', () => {
    // keepalived removes comments again after substituting, so the '#' starts a comment
    // (`keepalived -t`: "Unknown keyword 'x'"); a quoted one stays
    expect(words(lex('x${_HASH}y ${_BANG}'))).toEqual(['x']);
    expect(words(lex('x "${_HASH}y ${_BANG}"'))).toEqual(['x|#y !']);
  });
});

describe('G3: braces', () => {
  it('splits `vrrp_instance X {` into two lines with real brace columns', () => {
    const r = lex('vrrp_instance X {');
    expect(words(r)).toEqual(['vrrp_instance|X', '{']);
    expect(r.lines[1]?.tokens[0]).toEqual({ text: '{', quoted: false, loc: { file: FILE, line: 1, col: 17 } });
    expect(r.lines[1]?.rawCol).toBe(17);
  });

  it('accepts the brace on the next line', () => {
    expect(words(lex('vrrp_instance X\n{\n}'))).toEqual(['vrrp_instance|X', '{', '}']);
  });

  it('splits a brace glued to a keyword', () => {
    expect(words(lex('virtual_ipaddress{'))).toEqual(['virtual_ipaddress', '{']);
    expect(words(lex('}virtual_ipaddress'))).toEqual(['}', 'virtual_ipaddress']);
  });

  it('splits `virtual_ipaddress { 10.0.0.1 }` into four lines', () => {
    const r = lex('virtual_ipaddress { 10.0.0.1 }');
    expect(words(r)).toEqual(['virtual_ipaddress', '{', '10.0.0.1', '}']);
    expect(r.lines.map((l) => l.loc.col)).toEqual([1, 19, 21, 30]);
  });

  it('splits a trailing brace after a value', () => {
    const r = lex('   10.0.0.1/32 }');
    expect(words(r)).toEqual(['10.0.0.1/32', '}']);
    expect(r.lines[1]?.loc.col).toBe(16);
  });

  it('handles several braces on a line', () => {
    expect(words(lex('a { b { c } } d'))).toEqual(['a', '{', 'b', '{', 'c', '}', '}', 'd']);
    expect(words(lex('}}{{'))).toEqual(['}', '}', '{', '{']);
  });

  it('does not split braces inside double quotes', () => {
    const r = lex('script "/bin/x {a}" {');
    expect(words(r)).toEqual(['script|/bin/x {a}', '{']);
    expect(words(lex('x "{"'))).toEqual(['x|{']);
    expect(lex('x "{"').lines[0]?.tokens[1]?.quoted).toBe(true);
  });
});

describe('G7: quoted strings', () => {
  it('makes "a b" one token without the quotes', () => {
    const r = lex('smtp_server "a b" c');
    expect(r.lines[0]?.tokens).toEqual([
      { text: 'smtp_server', quoted: false, loc: { file: FILE, line: 1, col: 1 } },
      { text: 'a b', quoted: true, loc: { file: FILE, line: 1, col: 13 } },
      { text: 'c', quoted: false, loc: { file: FILE, line: 1, col: 19 } },
    ]);
  });

  it("treats ' as an ordinary character", () => {
    expect(words(lex("a 'b c'"))).toEqual(["a|'b|c'"]);
  });

  it('starts a new token at a quote, as keepalived does', () => {
    expect(words(lex('a"b c"d'))).toEqual(['a|b c|d']);
  });

  it('reports an unmatched quote and takes the rest of the line as the token', () => {
    const r = lex('router_id "abc def');
    expect(words(r)).toEqual(['router_id|abc def']);
    expect(r.diagnostics).toEqual([
      { severity: 'error', loc: { file: FILE, line: 1, col: 11 }, message: expect.stringMatching(/unmatched quote/) },
    ]);
  });

  it('lets \\" stand for a literal quote', () => {
    expect(words(lex('a "b\\"c" d\\"e'))).toEqual(['a|b"c|d"e']);
  });

  it('accepts an empty quoted string', () => {
    const r = lex('x ""');
    expect(r.lines[0]?.tokens[1]).toMatchObject({ text: '', quoted: true });
  });
});

describe('G8: shellSplit', () => {
  it('joins adjacent quoted and unquoted pieces', () => {
    expect(shellSplit(`abcd" efg h jkl "mnop`)).toEqual(['abcd efg h jkl mnop']);
    expect(shellSplit(`'abcd" efg h jkl "mnop'`)).toEqual(['abcd" efg h jkl "mnop']);
    expect(shellSplit(`abcd "efg h jkl" mnop`)).toEqual(['abcd', 'efg h jkl', 'mnop']);
  });

  it("groups a script argument with single quotes inside double quotes", () => {
    expect(shellSplit(`"/usr/bin/notify 'two words' x" root wheel`)).toEqual([
      "/usr/bin/notify 'two words' x",
      'root',
      'wheel',
    ]);
  });

  it('applies backslash escapes', () => {
    expect(shellSplit('\\a\\b\\E\\f\\n\\r\\t\\v')).toEqual(['\x07\b\x1b\f\n\r\t\v']);
    expect(shellSplit('\\101\\x41\\x4a\\cA\\\\\\"\\q')).toEqual(['AAJ\x01\\"q']);
    expect(shellSplit('"a\\"b" \'c\\\'d\'')).toEqual(['a"b', "c'd"]);
    expect(shellSplit('a\\ b')).toEqual(['a b']);
  });

  it('tolerates an unterminated quote and a trailing backslash', () => {
    expect(shellSplit(`a "b c`)).toEqual(['a', 'b c']);
    expect(shellSplit('a\\')).toEqual(['a\\']);
    expect(shellSplit('   ')).toEqual([]);
  });

  it('works on the raw line of a script keyword', () => {
    const r = lex(`notify_master "/bin/echo 'a b'" root   # comment`);
    const line = r.lines[0];
    expect(line?.raw).toBe(`notify_master "/bin/echo 'a b'" root`);
    expect(shellSplit(line?.raw ?? '')).toEqual(['notify_master', "/bin/echo 'a b'", 'root']);
  });
});

describe('G10: include', () => {
  const base = '/etc/keepalived';

  it('includes a file relative to the including file and reports its absolute path', () => {
    const files = {
      [`${base}/conf.d/a.conf`]: 'a_line 1\ninclude ../b.conf\n',
      [`${base}/b.conf`]: 'b_line {\n}\n',
    };
    const r = lex('first\ninclude conf.d/a.conf\nlast\n', { readFile: vfs(files) });
    expect(words(r)).toEqual(['first', 'a_line|1', 'b_line', '{', '}', 'last']);
    expect(r.lines[1]?.loc).toEqual({ file: `${base}/conf.d/a.conf`, line: 1, col: 1 });
    expect(r.lines[3]?.loc).toEqual({ file: `${base}/b.conf`, line: 1, col: 8 });
    expect(r.files).toEqual([FILE, `${base}/conf.d/a.conf`, `${base}/b.conf`]);
    expect(r.diagnostics).toEqual([]);
  });

  it('globs with csh braces, in sorted order', () => {
    const files = {
      [`${base}/conf.d/2.conf`]: 'two',
      [`${base}/conf.d/1.conf`]: 'one',
      [`${base}/conf.d/x.txt`]: 'txt',
      [`${base}/other/z.conf`]: 'zed',
    };
    const r = lex('include {conf.d/*.conf,other/z.conf}\n', { readFile: vfs(files), glob: vglob(files) });
    expect(words(r)).toEqual(['one', 'two', 'zed']);
    expect(r.diagnostics).toEqual([]);
  });

  it('accepts a quoted pattern', () => {
    const files = { [`${base}/q.conf`]: 'q' };
    expect(words(lex('include "q.conf"', { readFile: vfs(files) }))).toEqual(['q']);
  });

  it('warns when a plain include matches nothing (keepalived is silent)', () => {
    const r = lex('include missing.conf\nafter', { readFile: vfs({}), glob: vglob({}) });
    expect(words(r)).toEqual(['after']);
    expect(r.diagnostics).toEqual([
      { severity: 'warning', loc: { file: FILE, line: 1, col: 1 }, message: expect.stringMatching(/no file matches/) },
    ]);
  });

  it('makes includem an error for a missing plain file but not for an empty wildcard', () => {
    const opts = { readFile: vfs({}), glob: vglob({}) };
    expect(errors(lex('includem missing.conf', opts))).toHaveLength(1);
    expect(errors(lex('includem conf.d/*.conf', opts))).toHaveLength(0);
    expect(warnings(lex('includem conf.d/*.conf', opts))).toHaveLength(1);
  });

  it('makes includew an error even for a wildcard that matches nothing', () => {
    const opts = { readFile: vfs({}), glob: vglob({}) };
    expect(errors(lex('includew conf.d/*.conf', opts))).toHaveLength(1);
    expect(errors(lex('includea conf.d/*.conf', opts))).toHaveLength(1);
  });

  it('makes includeb an error when one brace alternative matches nothing', () => {
    const files = { [`${base}/a.conf`]: 'a' };
    const opts = { readFile: vfs(files), glob: vglob(files) };
    expect(errors(lex('include {a,b}.conf', opts))).toEqual([]);
    const r = lex('includeb {a,b}.conf', opts);
    expect(words(r)).toEqual(['a']);
    expect(errors(r)).toEqual([expect.stringMatching(/'b\.conf'/)]);
  });

  it('makes includer an error for an unreadable file, plain include a warning', () => {
    const readFile = (p: string): string => {
      if (p === `${base}/locked.conf`) {
        const e = new Error('EACCES: permission denied') as NodeJS.ErrnoException;
        e.code = 'EACCES';
        throw e;
      }
      return vfs({})(p);
    };
    expect(errors(lex('includer locked.conf', { readFile }))).toEqual([expect.stringMatching(/EACCES/)]);
    expect(warnings(lex('include locked.conf', { readFile }))).toEqual([expect.stringMatching(/EACCES/)]);
  });

  it('refuses a binary included file without throwing', () => {
    const r = lex('include bin.conf\nx', { readFile: vfs({ [`${base}/bin.conf`]: 'a\0b' }) });
    expect(words(r)).toEqual(['x']);
    expect(r.diagnostics[0]?.message).toMatch(/binary/);
  });

  it('reports an include cycle instead of hanging', () => {
    const files = {
      [FILE]: 'top\ninclude a.conf\n',
      [`${base}/a.conf`]: 'a\ninclude b.conf\n',
      [`${base}/b.conf`]: 'b\ninclude a.conf\ninclude keepalived.conf\n',
    };
    const r = lexKeepalived(FILE, { configId: 'x', readFile: vfs(files) });
    expect(words(r)).toEqual(['top', 'a', 'b']);
    expect(errors(r)).toEqual([expect.stringMatching(/include cycle/), expect.stringMatching(/include cycle/)]);
    expect(r.diagnostics[0]?.loc).toEqual({ file: `${base}/b.conf`, line: 2, col: 1 });
  });

  it('caps include depth', () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`${base}/f${i}.conf`] = `l${i}\ninclude f${i + 1}.conf\n`;
    const r = lex('include f0.conf', { readFile: vfs(files) });
    expect(r.lines.length).toBeLessThan(40);
    expect(errors(r)).toEqual([expect.stringMatching(/nested more than 32/)]);
  });

  it('includes a file more than once when asked (not a cycle)', () => {
    const files = { [`${base}/a.conf`]: 'a' };
    const r = lex('include a.conf\ninclude a.conf', { readFile: vfs(files) });
    expect(words(r)).toEqual(['a', 'a']);
    expect(r.files).toEqual([FILE, `${base}/a.conf`]);
  });

  it('honours include_check for later includes in the same file', () => {
    const opts = { readFile: vfs({}), glob: vglob({}) };
    const r = lex('global_defs {\n include_check match\n}\ninclude missing.conf\n', opts);
    expect(errors(r)).toEqual([expect.stringMatching(/no file matches/)]);
    const r2 = lex('include_check\ninclude_check -match -readable -wildcard_match -brace_match\ninclude missing.conf\n', opts);
    expect(errors(r2)).toEqual([]);
  });

  it('errors on include with no pattern', () => {
    expect(errors(lex('include'))).toEqual([expect.stringMatching(/needs a file/)]);
  });

  it('honours an include on an @ or $ line (as keepalived 2.2.7 does), with a warning', () => {
    const files = { [`${base}/x.conf`]: 'xline' };
    const r = lex('@high include x.conf\n@low include x.conf\n$F=x.conf\ninclude $F\n', { readFile: vfs(files) });
    expect(words(r)).toEqual(['xline', 'xline']);
    expect(warnings(r)).toHaveLength(2);
  });

  describe('on a real file system', () => {
    let dir = '';
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vipkeeper-lexer-'));
      fs.mkdirSync(path.join(dir, 'conf.d'));
      fs.writeFileSync(path.join(dir, 'keepalived.conf'), 'global_defs {\n  router_id top\n}\ninclude conf.d/{*.conf,extra.inc}\n');
      fs.writeFileSync(path.join(dir, 'conf.d', 'b.conf'), 'vrrp_instance B {\n  priority ${_RANDOM 7 7}\n  notify "${_PWD}/n.sh"\n}\n');
      fs.writeFileSync(path.join(dir, 'conf.d', 'a.conf'), 'vrrp_instance A {\n}\n');
      fs.writeFileSync(path.join(dir, 'conf.d', 'extra.inc'), '$V=1\n');
      fs.writeFileSync(path.join(dir, 'conf.d', 'skip.txt'), 'not included\n');
      fs.writeFileSync(path.join(dir, 'bin.conf'), Buffer.from([0x61, 0x00, 0x62]));
      fs.writeFileSync(path.join(dir, 'latin1.conf'), Buffer.from([0x61, 0xe9, 0x0a]));
    });
    afterAll(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('reads, globs with braces and resolves relative paths', () => {
      const top = path.join(dir, 'keepalived.conf');
      const r = lexKeepalived(top, { configId: 'high' });
      expect(r.diagnostics).toEqual([]);
      expect(words(r)).toEqual([
        'global_defs',
        '{',
        'router_id|top',
        '}',
        'vrrp_instance|A',
        '{',
        '}',
        'vrrp_instance|B',
        '{',
        'priority|7',
        `notify|${path.join(dir, 'conf.d')}/n.sh`,
        '}',
      ]);
      expect(r.files).toEqual([
        top,
        path.join(dir, 'conf.d', 'a.conf'),
        path.join(dir, 'conf.d', 'b.conf'),
        path.join(dir, 'conf.d', 'extra.inc'),
      ]);
      expect(r.lines[4]?.loc.file).toBe(path.join(dir, 'conf.d', 'a.conf'));
    });

    it('throws ConfigSyntaxError for a missing, binary or non-UTF-8 top file', () => {
      expect(() => lexKeepalived(path.join(dir, 'nope.conf'), { configId: 'x' })).toThrow(ConfigSyntaxError);
      expect(() => lexKeepalived(path.join(dir, 'nope.conf'), { configId: 'x' })).toThrow(/cannot read .*nope\.conf: ENOENT/);
      expect(() => lexKeepalived(path.join(dir, 'bin.conf'), { configId: 'x' })).toThrow(/binary file/);
      expect(() => lexKeepalived(path.join(dir, 'latin1.conf'), { configId: 'x' })).toThrow(/binary file/);
      expect(() => lexKeepalived(dir, { configId: 'x' })).toThrow(/cannot read/);
    });
  });
});

describe('ConfigSyntaxError', () => {
  it('is thrown by lexKeepalivedText for binary text, with a location', () => {
    let err: unknown;
    try {
      lex('abc\nd\0e');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigSyntaxError);
    expect((err as ConfigSyntaxError).loc).toEqual({ file: FILE, line: 2, col: 2 });
    expect((err as ConfigSyntaxError).message).toBe(`${FILE} is a binary file, not a keepalived.conf`);
  });

  it('is thrown when the injected reader fails for the top file', () => {
    expect(() => lexKeepalived('/nope', { configId: 'x', readFile: vfs({}) })).toThrow(
      'cannot read /nope: ENOENT: no such file or directory',
    );
  });

  it('wraps a failing glob in a diagnostic', () => {
    const r = lex('include *.conf', {
      glob: () => {
        throw new Error('boom');
      },
    });
    expect(errors(r)).toEqual([expect.stringMatching(/boom/), expect.stringMatching(/no file matches/)].slice(0, errors(r).length));
    expect(errors(r)[0]).toMatch(/boom/);
  });
});

describe('G11: @ conditionals', () => {
  it('keeps @ID lines for the matching id and drops the others', () => {
    const text = '@high priority 170\n@low priority 85\n@^high weight 1\n@^low weight 2\n';
    expect(words(lex(text, { configId: 'high' }))).toEqual(['priority|170', 'weight|2']);
    expect(words(lex(text, { configId: 'low' }))).toEqual(['priority|85', 'weight|1']);
    expect(words(lex(text, { configId: 'other' }))).toEqual(['weight|1', 'weight|2']);
  });

  it('works after leading whitespace and with tabs, and keeps columns', () => {
    const r = lex('  @high\tscript /x.sh');
    expect(words(r)).toEqual(['script|/x.sh']);
    expect(r.lines[0]?.loc.col).toBe(9);
    expect(r.lines[0]?.rawCol).toBe(9);
  });

  it('drops @ID with nothing after it', () => {
    expect(words(lex('@high\n@high   \n@^low\nx'))).toEqual(['x']);
  });

  it('handles the manual example', () => {
    const text = [
      'global_defs {',
      '    @main   router_id main_router',
      '    @backup router_id backup_router',
      '}',
      'unicast_peer {',
      '    @^main    1.2.3.4',
      '    @^backup  1.2.3.5',
      '    @^backup2 1.2.3.6',
      '}',
    ].join('\n');
    expect(words(lex(text, { configId: 'main' }))).toEqual([
      'global_defs',
      '{',
      'router_id|main_router',
      '}',
      'unicast_peer',
      '{',
      '1.2.3.5',
      '1.2.3.6',
      '}',
    ]);
  });

  it('applies to the remainder of a brace-split line', () => {
    expect(words(lex('a { @low b }'))).toEqual(['a', '{']);
    expect(words(lex('a { @high b }'))).toEqual(['a', '{', 'b', '}']);
  });
});

describe('G12: $ parameters', () => {
  it('defines and substitutes $NAME (before whitespace or end) and ${NAME} anywhere', () => {
    const r = lex('$X=xv\n$X, ${X}z $Xq\nx1 $X\n$X');
    expect(words(r)).toEqual(['xv,|xvz|$Xq', 'x1|xv', 'xv']);
    expect(r.diagnostics).toEqual([]);
  });

  it('substitutes recursively at use time (manual example)', () => {
    const text = [
      '$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}',
      '$ADDRESS_BASE_SUB=0',
      '${ADDRESS_BASE}.100/32',
      '$ADDRESS_BASE_SUB=10',
      '${ADDRESS_BASE}.100/32',
    ].join('\n');
    expect(words(lex(text))).toEqual(['10.2.0.100/32', '10.2.10.100/32']);
  });

  it('leaves undefined names verbatim', () => {
    expect(words(lex('$A=1\nscript "echo $HOME ${PATH} ${A} $A"'))).toEqual(['script|echo $HOME ${PATH} 1 $A']);
    // '$A' needs a blank, ',', ')' or the end after it: '$A"' is left alone, as in keepalived.
    expect(words(lex('$A=1\nscript "echo ${A} $A "'))).toEqual(['script|echo 1 1 ']);
  });

  it('does not substitute user names before their definition', () => {
    expect(words(lex('a $X\n$X=1\nb $X'))).toEqual(['a|$X', 'b|1']);
  });

  it('requires no space before = and allows an empty value', () => {
    const r = lex('$A =1\n$E=\nx${E}y\n$V=   padded value  \n[${V}]');
    expect(words(r)).toEqual(['$A|=1', 'xy', '[padded|value]']);
  });

  it('works with @ conditionals (manual examples)', () => {
    const text = '@main $PRIORITY=240\n@backup $PRIORITY=200\npriority $PRIORITY\n$IF_MAIN=@main\n$IF_MAIN weight 240\n';
    expect(words(lex(text, { configId: 'main' }))).toEqual(['priority|240', 'weight|240']);
    expect(words(lex(text, { configId: 'backup' }))).toEqual(['priority|200']);
  });

  it('warns about names starting with _', () => {
    const r = lex('$_MINE=1\n${_MINE}');
    expect(words(r)).toEqual(['1']);
    expect(warnings(r)).toEqual([expect.stringMatching(/reserved/)]);
  });

  it('lets a user definition override a pre-defined name', () => {
    expect(words(lex('$_INSTANCE=mine\n${_INSTANCE}'))).toEqual(['mine']);
  });

  it('expands a multi-line definition containing blocks and @ lines (manual example)', () => {
    const text = [
      '$INSTANCE= \\',
      'vrrp_instance VI_${NUM} { \\',
      '    interface eth0.${NUM} \\',
      '    @high priority 130 \\',
      '    @low priority 120 \\',
      '    virtual_ipaddress { \\',
      '        10.0.${NUM}.254/24 \\',
      '    } \\',
      '}',
      '',
      '$NUM=0',
      '$INSTANCE',
      '',
      '$NUM=1',
      '  $INSTANCE',
    ].join('\n');
    const r = lex(text, { configId: 'low' });
    const one = ['{', 'priority|120', 'virtual_ipaddress', '{'];
    expect(words(r)).toEqual([
      'vrrp_instance|VI_0',
      '{',
      'interface|eth0.0',
      ...one.slice(1),
      '10.0.0.254/24',
      '}',
      '}',
      'vrrp_instance|VI_1',
      '{',
      'interface|eth0.1',
      ...one.slice(1),
      '10.0.1.254/24',
      '}',
      '}',
    ]);
    expect(r.diagnostics).toEqual([]);
    // Every expanded line is located at the use of the parameter.
    expect(new Set(r.lines.slice(0, 9).map((l) => `${l.loc.line}:${l.loc.col}`))).toEqual(new Set(['12:1']));
    expect(new Set(r.lines.slice(9).map((l) => `${l.loc.line}:${l.loc.col}`))).toEqual(new Set(['15:3']));
  });

  it('nests multi-line definitions (manual example, shortened)', () => {
    const text = [
      '$RS= \\',
      'real_server 192.168.${VS_NUM}.${RS_NUM} 80 { \\',
      '    weight 1 \\',
      '}',
      '$VS= \\',
      'virtual_server 10.0.${VS_NUM}.4 80 { \\',
      '    $RS_NUM=1 \\',
      '    $RS \\',
      '    $RS_NUM=2 \\',
      '    $RS \\',
      '}',
      '$VS_NUM=0',
      '$VS',
    ].join('\n');
    expect(words(lex(text))).toEqual([
      'virtual_server|10.0.0.4|80',
      '{',
      'real_server|192.168.0.1|80',
      '{',
      'weight|1',
      '}',
      'real_server|192.168.0.2|80',
      '{',
      'weight|1',
      '}',
      '}',
    ]);
  });

  it('ends a multi-line definition at an empty or comment-only line, as keepalived does', () => {
    const r = lex('$M=\\\n ma1\\\n\n ma2 \\\n ma3\nafter\n$M\n# c\n$N=a\\\n# stop\nb\n$N');
    expect(words(r)).toEqual(['ma2\\', 'ma3', 'after', 'ma1', 'b', 'a']);
  });

  it('allows text before a multi-line parameter but not after it', () => {
    const r = lex('$M=\\\nl1\\\nl2\npre $M\n$M post');
    expect(words(r)).toEqual(['pre|l1', 'l2', '$M|post']);
    expect(warnings(r)).toEqual([expect.stringMatching(/must be the last thing/)]);
  });

  it('keeps a trailing backslash on an ordinary line', () => {
    expect(words(lex('foo bar \\'))).toEqual(['foo|bar\\']);
  });

  describe('pre-defined parameters', () => {
    it('${_PWD} is the directory of the current file', () => {
      expect(words(lex('x ${_PWD}'))).toEqual(['x|/etc/keepalived']);
    });

    it('${_INSTANCE} is the config id', () => {
      expect(words(lex('router_id ${_INSTANCE}', { configId: 'lb1' }))).toEqual(['router_id|lb1']);
    });

    it('${_RANDOM [MIN [MAX]]} uses the injected random source', () => {
      const r = lex('${_RANDOM} ${_RANDOM 10} ${_RANDOM 5 7} $_RANDOM', { random: () => 0.99999999 });
      expect(words(r)).toEqual(['32767|32767|7|32767']);
      const r0 = lex('${_RANDOM} ${_RANDOM 10} ${_RANDOM 5 7}', { random: () => 0 });
      expect(words(r0)).toEqual(['0|10|5']);
    });

    it('${_RANDOM} with bad parameters stays verbatim or warns', () => {
      expect(words(lex('"${_RANDOM x} ${_RANDOM 1 } ${_PWD 1}"'))).toEqual(['${_RANDOM x} ${_RANDOM 1 } ${_PWD 1}']);
      // Outside quotes the braces of an unexpanded ${…} are split out, exactly as keepalived does.
      expect(words(lex('a${UNDEF}b'))).toEqual(['a$', '{', 'UNDEF', '}', 'b']);
      const r = lex('${_RANDOM 9 3}');
      expect(words(r)).toEqual(['9']);
      expect(warnings(r)).toHaveLength(1);
    });

    it('${_ENV VAR} reads the injected environment', () => {
      const r = lex('${_ENV HOST_ROLE} [${_ENV UNSET}]', { env: { HOST_ROLE: 'master' } });
      expect(words(r)).toEqual(['master|[]']);
      expect(warnings(r)).toEqual([expect.stringMatching(/UNSET/)]);
    });

    it('are available before any user definition (as in keepalived 2.2.7)', () => {
      expect(words(lex('a${_INSTANCE}'))).toEqual(['ahigh']);
    });
  });

  it('stops a self-recursive parameter with an error instead of hanging', () => {
    const r = lex('$R=$R x\n$R\n$S=${S}${S}\n$S\nafter');
    expect(errors(r).length).toBeGreaterThanOrEqual(2);
    expect(words(r).at(-1)).toBe('after');
  });

  it('stops a self-recursive multi-line parameter with an error', () => {
    const r = lex('$A=\\\nx\\\n$A\n$A\n');
    expect(errors(r)).toEqual([expect.stringMatching(/limit|nested/)]);
    const r2 = lex('$A=\\\n$A\\\nx\n$A\n');
    expect(errors(r2).length).toBeGreaterThan(0);
  }, 20_000);

  it('gives substituted text the column of the $', () => {
    const r = lex('$V=10.0.0.1\nvirtual_ipaddress { $V }');
    expect(words(r)).toEqual(['virtual_ipaddress', '{', '10.0.0.1', '}']);
    expect(r.lines.map((l) => l.loc.col)).toEqual([1, 19, 21, 24]);
  });

  it('splits braces produced by substitution', () => {
    expect(words(lex('$OPEN=vrrp_instance V {\n$OPEN\n}'))).toEqual(['vrrp_instance|V', '{', '}']);
  });

  it('refuses to grow a line past 1023 characters', () => {
    const r = lex(`$L=${'x'.repeat(600)}\n$L $L`);
    expect(errors(r)).toEqual([expect.stringMatching(/1023/)]);
  });
});

describe('G13: ~SEQ and ~LST', () => {
  it('~SEQ(var, start, end) (manual example)', () => {
    const r = lex('~SEQ(SUBNET, 0, 3) ip_address 10.0.${SUBNET}.1');
    expect(words(r)).toEqual(['ip_address|10.0.0.1', 'ip_address|10.0.1.1', 'ip_address|10.0.2.1', 'ip_address|10.0.3.1']);
    expect(r.lines.map((l) => l.loc.col)).toEqual([20, 20, 20, 20]);
  });

  it('~SEQ with only an end, and counting down', () => {
    expect(words(lex('~SEQ(i, 3) s$i'))).toEqual(['s1', 's2', 's3']);
    expect(words(lex('~SEQ(i, -2) s$i'))).toEqual(['s-1', 's-2']);
    expect(words(lex('~SEQ(i, 0) s$i'))).toEqual(['s1', 's0']);
    expect(words(lex('~SEQ(j, 2, 1) t$j'))).toEqual(['t2', 't1']);
    expect(words(lex('~SEQ(k, 10, -4, 1) v$k'))).toEqual(['v10', 'v6', 'v2']);
  });

  it('~SEQx formats in hex and accepts 0x numbers (manual example)', () => {
    const expected = ['ip_address|fe80::20:90:1', 'ip_address|fe80::20:a0:1', 'ip_address|fe80::20:b0:1', 'ip_address|fe80::20:c0:1'];
    expect(words(lex('~SEQx(SUBNET, 144, 16, 192) ip_address fe80::20:${SUBNET}:1'))).toEqual(expected);
    expect(words(lex('~SEQx(SUBNET, 0x90, 0x10, 0xc0) ip_address fe80::20:${SUBNET}:1'))).toEqual(expected);
  });

  it('nests several sequences left to right', () => {
    const r = lex('virtual_ipaddress {\n  ~SEQx(AD2, 0x90, 0x10, 0xa0) ~SEQx(AD1, 0x12, -1, 0x11) fe81::10:${AD2}:${AD1}\n}');
    expect(words(r)).toEqual(['virtual_ipaddress', '{', 'fe81::10:90:12', 'fe81::10:90:11', 'fe81::10:a0:12', 'fe81::10:a0:11', '}']);
  });

  it('leaves the variable defined afterwards', () => {
    expect(words(lex('~SEQ(i, 2) x\n$i'))).toEqual(['x', 'x', '2']);
  });

  it('substitutes parameters in the arguments', () => {
    expect(words(lex('$N=3\n~SEQ(i, $N) s$i\n~SEQ(i, ${N},4) t$i'))).toEqual(['s1', 's2', 's3', 't3', 't4']);
  });

  it('reports invalid specifications and drops the line', () => {
    for (const bad of ['~SEQ(i,1,0,3) x', '~SEQ x', '~SEQ(i) x', '~SEQx(i,-1,2) x', '~SEQ(i,1,-1,3) x', '~SEQ(i,1,2 x', '~SEQ(1i,2) x', '~SEQ(i,abc) x']) {
      const r = lex(bad);
      expect(words(r), bad).toEqual([]);
      expect(errors(r), bad).toHaveLength(1);
      expect(r.diagnostics[0]?.loc, bad).toEqual({ file: FILE, line: 1, col: 1 });
    }
  });

  it('leaves other ~ lines alone', () => {
    expect(words(lex('$X=1\n~other $X'))).toEqual(['~other|$X']);
  });

  it('~LST(var, values...)', () => {
    expect(words(lex('~LST(v, a, b,c) l_$v'))).toEqual(['l_a', 'l_b', 'l_c']);
  });

  it('~LST with {…} groups (manual example)', () => {
    expect(words(lex('~LST({IP, IP1}, {10,1},{20,4},{5,6},{12,8}) 192.168.${IP}.${IP1}'))).toEqual([
      '192.168.10.1',
      '192.168.20.4',
      '192.168.5.6',
      '192.168.12.8',
    ]);
  });

  it('nests ~LST blocks (manual example)', () => {
    const r = lex('~LST(IP, 1, 2, 3, 4) ~LST(IP1, 5,6,7) 192.169.${IP}.${IP1}');
    expect(words(r)).toEqual(
      [1, 2, 3, 4].flatMap((a) => [5, 6, 7].map((b) => `192.169.${a}.${b}`)),
    );
  });

  it('combines ~LST and ~SEQ (manual example)', () => {
    const r = lex('~LST({IP, IP1}, {10,1},{20,4},{5,6},{12,8}) ~SEQ(IP2,168,2,172) 192.${IP2}.${IP}.${IP1}');
    expect(words(r)).toEqual(
      ['10.1', '20.4', '5.6', '12.8'].flatMap((ab) => [168, 170, 172].map((c) => `192.${c}.${ab}`)),
    );
  });

  it('expands a multi-line parameter in every iteration', () => {
    const text = '$RS=\\\nreal_server 10.0.0.${N} 80 {\\\n}\n~SEQ(N, 1, 2) $RS';
    expect(words(lex(text))).toEqual(['real_server|10.0.0.1|80', '{', '}', 'real_server|10.0.0.2|80', '{', '}']);
  });

  it('~LST errors and warnings', () => {
    expect(errors(lex('~LST(v) x'))).toHaveLength(1);
    expect(errors(lex('~LST(v, a b, c) x'))).toHaveLength(1);
    expect(errors(lex('~LST({a,b}, {1,2,3}) x'))).toHaveLength(1);
    const r = lex('~LST({p,q},{1,2},{3}) l_${p}_${q}');
    expect(words(r)).toEqual(['l_1_2', 'l_3_']);
    expect(warnings(r)).toHaveLength(1);
  });

  it('refuses a huge ~SEQ up front, from its count, without expanding it', () => {
    const r = lex('~SEQ(i, 1, 100000000000) x$i\nafter');
    expect(errors(r)).toEqual([expect.stringMatching(/would produce 100000000000 iterations \(limit \d+\)/)]);
    expect(words(r)).toEqual(['after']);
  });

  it('stops at the logical line cap instead of exhausting memory', () => {
    const r = lex('~SEQ(a, 1, 2000) ~SEQ(b, 1, 1000) x');
    expect(r.lines.length).toBe(1_000_000);
    expect(errors(r)).toEqual([expect.stringMatching(/limit/)]);
  }, 30_000);
});

describe('keepalived.conf fixtures (test/fixtures/keepalived)', () => {
  const samples = [...new Set(FIXTURES.map((f) => f.file))].filter((f) => !f.endsWith('.j2'));

  it('has the expected fixtures', () => {
    expect(samples.length).toBe(16);
  });

  it.each(samples)('%s lexes with no errors and balanced braces', (f) => {
    const r = lexKeepalived(fixture(f), { configId: 'high' });
    expect(r.lines.length).toBeGreaterThan(5);
    expect(r.diagnostics).toEqual([]);
    if (f !== 'include/main.conf') expect(r.files).toEqual([fixture(f)]);
    let depth = 0;
    for (const l of r.lines) {
      const t = l.tokens[0];
      if (l.tokens.length === 1 && t && !t.quoted && t.text === '{') depth++;
      if (l.tokens.length === 1 && t && !t.quoted && t.text === '}') depth--;
      expect(depth).toBeGreaterThanOrEqual(0);
    }
    expect(depth).toBe(0);
  });

  it('include/main.conf reads the included files in keepalived order', () => {
    const r = lexKeepalived(fixture('include/main.conf'), { configId: 'high' });
    expect(r.files.map((p) => path.relative(path.dirname(fixture('include/main.conf')), p))).toEqual([
      'main.conf',
      path.join('vrrp', 'front.conf'),
      path.join('vrrp', 'back.conf'),
      path.join('conf.d', '10-web.conf'),
      path.join('conf.d', '20-dns.conf'),
    ]);
  });

  it('conditional.conf follows the config id', () => {
    const f = fixture('conditional.conf');
    const hi = words(lexKeepalived(f, { configId: 'high' }));
    const lo = words(lexKeepalived(f, { configId: 'low' }));
    expect(hi).toContain('priority|170');
    expect(hi).toContain('script|/bin/true high');
    expect(hi).not.toContain('priority|85');
    expect(hi).not.toContain('nopreempt');
    expect(lo).toContain('priority|85');
    expect(lo).toContain('net_namespace|low');
    expect(lo).toContain('nopreempt');
  });

  it('the Jinja template never throws', () => {
    const r = lexKeepalived(fixture('not-a-config.j2'), { configId: 'high' });
    expect(r.lines.length).toBeGreaterThan(0);
  });
});

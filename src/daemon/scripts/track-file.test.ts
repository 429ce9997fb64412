import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TrackFileWatcher, initTrackFile, parseTrackFileValue, readTrackFile } from './track-file.js';

const root = mkdtempSync(path.join(tmpdir(), 'vk-trackfile-'));
let n = 0;
const fresh = (): string => {
  const d = path.join(root, `t${n++}`);
  mkdirSync(d);
  return d;
};
const watchers: TrackFileWatcher[] = [];
afterEach(() => {
  for (const w of watchers.splice(0)) w.stop();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('parseTrackFileValue (strtol base 0, int range)', () => {
  it.each([
    ['5', 5],
    ['5\n', 5],
    [' \t\n\v\f\r-12\n', -12],
    ['+7', 7],
    ['0x1f', 31],
    ['0X1F', 31],
    ['-0x10', -16],
    ['010', 8],
    ['08', 0],
    ['0', 0],
    ['0x', 0],
    ['0xg', 0],
    ['12abc', 12],
    ['abc', 0],
    ['', 0],
    ['- 5', 0],
    ['2147483647', 2147483647],
    ['-2147483648', -2147483648],
    ['2147483648', undefined],
    ['-2147483649', undefined],
    ['99999999999999999999999999', undefined],
  ])('%j → %s', (text, want) => {
    expect(parseTrackFileValue(text)).toBe(want);
  });
});

describe('readTrackFile / initTrackFile', () => {
  it('reads a value; a missing file is 0; only the first 127 bytes count', async () => {
    const d = fresh();
    expect(await readTrackFile(path.join(d, 'nope'))).toBe(0);
    writeFileSync(path.join(d, 'v'), '42\n');
    expect(await readTrackFile(path.join(d, 'v'))).toBe(42);
    writeFileSync(path.join(d, 'long'), `${' '.repeat(127)}9`);
    expect(await readTrackFile(path.join(d, 'long'))).toBe(0);
    writeFileSync(path.join(d, 'big'), '4294967296');
    expect(await readTrackFile(path.join(d, 'big'))).toBeUndefined();
  });

  it('init_file creates a missing file, leaves an existing one unless overwrite (not on reload)', async () => {
    const d = fresh();
    const f = path.join(d, 'f');
    expect(await initTrackFile(f, { value: 7, overwrite: false })).toEqual({ wrote: true });
    expect(readFileSync(f, 'utf8')).toBe('7\n');
    expect(await initTrackFile(f, { value: 8, overwrite: false })).toEqual({ wrote: false });
    expect(readFileSync(f, 'utf8')).toBe('7\n');
    expect(await initTrackFile(f, { value: 9, overwrite: true }, { reload: true })).toEqual({ wrote: false });
    expect(await initTrackFile(f, { value: 9, overwrite: true })).toEqual({ wrote: true });
    expect(readFileSync(f, 'utf8')).toBe('9\n');
    expect((await initTrackFile(d, { value: 1, overwrite: true })).error).toMatch(/not a regular file/);
    expect((await initTrackFile(path.join(d, 'no', 'dir'), { value: 1, overwrite: false })).error).toMatch(/unable to initialise/);
  });

  it('init_file never writes through a symbolic link (dangling or not)', async () => {
    const d = fresh();
    const victim = path.join(d, 'victim');
    writeFileSync(victim, 'precious\n');
    const link = path.join(d, 'link');
    symlinkSync(victim, link);
    expect(await initTrackFile(link, { value: 5, overwrite: true })).toEqual({ wrote: false, error: expect.stringMatching(/symbolic link/) });
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    // without overwrite, a link to an existing file needs nothing written
    expect(await initTrackFile(link, { value: 5, overwrite: false })).toEqual({ wrote: false });
    // a dangling link: the old code created its target (anywhere the link pointed)
    const target = path.join(d, 'created-through-link');
    const dangling = path.join(d, 'dangling');
    symlinkSync(target, dangling);
    expect(await initTrackFile(dangling, { value: 5, overwrite: false })).toEqual({ wrote: false, error: expect.stringMatching(/symbolic link/) });
    expect(existsSync(target)).toBe(false);
  });
});

function nextChange(w: TrackFileWatcher, ms = 3000): Promise<number | 'timeout'> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      w.off('change', on);
      resolve('timeout');
    }, ms);
    const on = (v: number): void => {
      clearTimeout(t);
      w.off('change', on);
      resolve(v);
    };
    w.on('change', on);
  });
}

describe('TrackFileWatcher (real files)', () => {
  it('follows writes, deletion and rename-into-place; tolerates a missing file', async () => {
    const d = fresh();
    const f = path.join(d, 'weight');
    const w = new TrackFileWatcher({ name: 'tf', def: { file: f }, debounceMs: 10 });
    watchers.push(w);
    expect(await w.start()).toBe(0);

    let p = nextChange(w);
    writeFileSync(f, '5\n');
    expect(await p).toBe(5);
    expect(w.value).toBe(5);

    p = nextChange(w, 400);
    writeFileSync(f, '5\n'); // same value: no event
    writeFileSync(path.join(d, 'other'), '99'); // another file: no event
    expect(await p).toBe('timeout');

    p = nextChange(w);
    unlinkSync(f);
    expect(await p).toBe(0);

    p = nextChange(w);
    writeFileSync(path.join(d, '.tmp'), '-3');
    renameSync(path.join(d, '.tmp'), f);
    expect(await p).toBe(-3);

    p = nextChange(w);
    renameSync(f, path.join(d, 'moved'));
    expect(await p).toBe(0);

    p = nextChange(w, 400);
    writeFileSync(f, 'junk'); // text reads as 0: unchanged
    expect(await p).toBe('timeout');
  });

  it('ignores an out-of-range number (keeps the previous value)', async () => {
    const d = fresh();
    const f = path.join(d, 'v');
    writeFileSync(f, '3');
    const w = new TrackFileWatcher({ name: 'tf', def: { file: f }, debounceMs: 10 });
    watchers.push(w);
    expect(await w.start()).toBe(3);
    const p = nextChange(w, 400);
    writeFileSync(f, '99999999999');
    expect(await p).toBe('timeout');
    expect(w.value).toBe(3);
  });

  it('init_file creates the file before the first read', async () => {
    const d = fresh();
    const f = path.join(d, 'init');
    const w = new TrackFileWatcher({ name: 'tf', def: { file: f, init_file: { value: 12, overwrite: false } } });
    watchers.push(w);
    expect(await w.start()).toBe(12);
    expect(readFileSync(f, 'utf8')).toBe('12\n');
  });

  it('a missing directory: value 0, watch retried until it appears', async () => {
    const d = path.join(fresh(), 'later');
    const f = path.join(d, 'v');
    const w = new TrackFileWatcher({ name: 'tf', def: { file: f }, debounceMs: 10, retryMs: 50 });
    watchers.push(w);
    expect(await w.start()).toBe(0);
    mkdirSync(d);
    await new Promise((r) => setTimeout(r, 200)); // let the retry set up the watch
    const p = nextChange(w);
    writeFileSync(f, '4');
    expect(await p).toBe(4);
  });

  it('pollMs re-reads periodically; stop() ends everything', async () => {
    const d = fresh();
    const f = path.join(d, 'v');
    const w = new TrackFileWatcher({ name: 'tf', def: { file: f }, pollMs: 30, debounceMs: 10 });
    watchers.push(w);
    await w.start();
    const p = nextChange(w);
    writeFileSync(f, '6');
    expect(await p).toBe(6);
    w.stop();
    const q = nextChange(w, 200);
    writeFileSync(f, '7');
    expect(await q).toBe('timeout');
    expect(w.value).toBe(6);
  });
});

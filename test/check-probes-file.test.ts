/** FILE_CHECK reading real files. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { fileProbe } from '../src/check/probes/file.js';
import type { ProbeSpec } from '../src/check/types.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vk-file-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type FileSpec = Extract<ProbeSpec, { kind: 'FILE_CHECK' }>;
const file = (name: string, over: Partial<FileSpec> = {}): FileSpec => ({
  kind: 'FILE_CHECK',
  trackFile: name,
  path: path.join(dir, name),
  weight: 0,
  reverse: false,
  dynamic: false,
  ...over,
});
const sig = () => new AbortController().signal;

describe('FILE_CHECK', () => {
  it('weight 0: 0 is up, non-zero is down; reverse swaps', async () => {
    writeFileSync(path.join(dir, 'zero'), '0\n');
    writeFileSync(path.join(dir, 'seven'), '7\n');
    await expect(fileProbe(file('zero'), sig())).resolves.toEqual({ ok: true, detail: 'track_file zero = 0' });
    await expect(fileProbe(file('seven'), sig())).resolves.toMatchObject({ ok: false, reason: 'file' });
    await expect(fileProbe(file('zero', { reverse: true }), sig())).resolves.toMatchObject({ ok: false, reason: 'file' });
    await expect(fileProbe(file('seven', { reverse: true }), sig())).resolves.toMatchObject({ ok: true });
  });

  it('dynamic: weight × value (reverse negates), hex and octal as strtol', async () => {
    writeFileSync(path.join(dir, 'hex'), '  0x10 trailing text');
    writeFileSync(path.join(dir, 'oct'), '010');
    await expect(fileProbe(file('hex', { weight: 2, dynamic: true }), sig())).resolves.toEqual({ ok: true, weight: 32, detail: 'track_file hex = 16: weight 32' });
    await expect(fileProbe(file('oct', { weight: 3, reverse: true, dynamic: true }), sig())).resolves.toMatchObject({ ok: true, weight: -24 });
  });

  it('a missing file reads as 0', async () => {
    await expect(fileProbe(file('absent'), sig())).resolves.toMatchObject({ ok: true, detail: 'track_file absent = 0' });
    await expect(fileProbe(file('absent', { weight: 5, dynamic: true }), sig())).resolves.toMatchObject({ ok: true, weight: 0 });
  });

  it('unreadable or out-of-range content fails with file', async () => {
    await expect(fileProbe({ ...file('x'), path: dir }, sig())).resolves.toMatchObject({ ok: false, reason: 'file', detail: expect.stringContaining('EISDIR') });
    writeFileSync(path.join(dir, 'huge'), '99999999999');
    await expect(fileProbe(file('huge'), sig())).resolves.toMatchObject({ ok: false, reason: 'file', detail: expect.stringContaining('invalid number') });
  });

  it('a FIFO with no writer does not block (read as 0)', async () => {
    const fifo = path.join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    await expect(fileProbe(file('fifo'), sig())).resolves.toMatchObject({ ok: true });
  });
});

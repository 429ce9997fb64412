// The VRRP thread's logger on a stdout nobody reads (a stalled journal): logging must return at
// once, drop what does not fit (counted), and say so when writes go through again.
import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsc, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, droppedLogLines } from './logger.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vk-logstall-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('non-blocking logger', () => {
  it('does not block on a pipe nobody reads; drops past the buffer and reports the count later', async () => {
    const fifo = path.join(dir, 'stdout');
    execFileSync('mkfifo', ['-m', '0600', fifo]);
    // a blocking descriptor, as systemd's journal stream is; the pipe holds 64 KiB
    const w = openSync(fifo, fsc.O_RDWR);
    const log = createLogger({ level: 'info', nonBlocking: { maxBufferBytes: 256 * 1024, fd: w } });
    const before = droppedLogLines();
    const pad = 'x'.repeat(1000);
    // 4 MB of lines: a synchronous logger would block in write(2) after the first 64 KiB, forever
    for (let i = 0; i < 4000; i++) log.info({ i, pad }, 'advert sent');
    const dropped = droppedLogLines() - before;
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThan(4000);

    // the journal reads again: the lines that fitted arrive, then the count of the dropped ones
    const r = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
    const buf = Buffer.alloc(1 << 16);
    let text = '';
    let tail = '';
    for (let round = 0; round < 2000 && !/log line\(s\) dropped/.test(tail); round++) {
      let n = 0;
      try {
        n = readSync(r, buf);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
      if (n > 0) {
        text += buf.toString('utf8', 0, n);
        tail = text.slice(-4096);
        text = text.length > 1 << 20 ? tail : text;
      } else await new Promise((res) => setTimeout(res, 10));
    }
    const note = tail.split('\n').find((l) => l.includes('log line(s) dropped'));
    expect(note).toBeDefined();
    expect(JSON.parse(note as string)).toMatchObject({ level: 'warn', dropped });
    closeSync(r);
    closeSync(w);
  }, 60_000);
});

import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  NotifyFifo,
  formatFifoService,
  formatRsFifoLine,
  formatVrrpFifoLine,
  formatVsFifoLine,
} from './notify-fifo.js';

const root = mkdtempSync(path.join(tmpdir(), 'vk-fifo-'));
let n = 0;
const fifoPath = (): string => path.join(root, `fifo${n++}`);
const open: NotifyFifo[] = [];
afterEach(async () => {
  for (const f of open.splice(0)) await f.close();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Reads `lines` lines from a FIFO with a separate process (`head -n`). */
function readLines(file: string, lines: number, timeoutMs = 5000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('head', ['-n', String(lines), file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`timed out reading ${file}; got ${JSON.stringify(out)}`));
    }, timeoutMs);
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', () => {
      clearTimeout(t);
      resolve(out.split('\n').filter((l) => l !== ''));
    });
  });
}

describe('FIFO line formats (keepalived)', () => {
  it('VRRP lines', () => {
    expect(formatVrrpFifoLine('INSTANCE', 'VI_1', 'MASTER', 100)).toBe('INSTANCE "VI_1" MASTER 100\n');
    expect(formatVrrpFifoLine('GROUP', 'VG1', 'BACKUP', 77)).toBe('GROUP "VG1" BACKUP 0\n');
    expect(formatVrrpFifoLine('INSTANCE', 'VI_1', 'MASTER_PRIORITY', 90)).toBe('INSTANCE "VI_1" MASTER_PRIORITY 90\n');
  });

  it('checker lines', () => {
    const vs = { address: '192.168.201.15', port: 80, protocol: 'TCP' as const };
    expect(formatVsFifoLine(vs, true)).toBe('VS [192.168.201.15]:tcp:80 UP\n');
    expect(formatRsFifoLine({ address: '1.2.3.4', port: 80 }, vs, false)).toBe('RS [1.2.3.4]:tcp:80 [192.168.201.15]:tcp:80 DOWN\n');
    expect(formatFifoService({ address: '2001:db8::1', port: 53, protocol: 'udp' })).toBe('[2001:db8::1]:udp:53');
    expect(formatFifoService({ group: 'web', port: 443 })).toBe('[web]:443');
    expect(formatFifoService({ fwmark: 5 })).toBe('FWM 5');
    expect(formatRsFifoLine({ address: '10.0.0.2', port: 8080 }, { fwmark: 5 }, true)).toBe('RS [10.0.0.2]:tcp:8080 FWM 5 UP\n');
  });
});

describe('NotifyFifo (real FIFO)', () => {
  it('creates the FIFO, never blocks without a reader, delivers lines in order, removes it on close', async () => {
    const p = fifoPath();
    const fifo = new NotifyFifo({ path: p });
    open.push(fifo);
    fifo.write('early line'); // before open: kept
    expect(await fifo.open()).toBe(true);
    expect(lstatSync(p).isFIFO()).toBe(true);
    // only its owner reads the daemon's state changes (keepalived makes it 0644)
    expect(lstatSync(p).mode & 0o777).toBe(0o600);
    const t0 = Date.now();
    for (let i = 0; i < 200; i++) fifo.write(formatVrrpFifoLine('INSTANCE', `VI_${i}`, i % 2 ? 'MASTER' : 'BACKUP', i));
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(fifo.stats).toMatchObject({ written: 201, queued: 0, dropped: 0 });
    const lines = await readLines(p, 201);
    expect(lines[0]).toBe('early line');
    expect(lines.slice(1)).toEqual(Array.from({ length: 200 }, (_, i) => `INSTANCE "VI_${i}" ${i % 2 ? 'MASTER' : 'BACKUP'} ${i}`));
    await fifo.close();
    expect(existsSync(p)).toBe(false);
  });

  it('a reader attached later gets the lines written meanwhile, then new ones', async () => {
    const p = fifoPath();
    const fifo = new NotifyFifo({ path: p });
    open.push(fifo);
    await fifo.open();
    fifo.write('one');
    const reading = readLines(p, 3);
    await new Promise((r) => setTimeout(r, 50));
    fifo.write('two');
    fifo.write('three');
    expect(await reading).toEqual(['one', 'two', 'three']);
  });

  it('uses an existing FIFO and leaves it in place; refuses a regular file', async () => {
    const p = fifoPath();
    const first = new NotifyFifo({ path: p });
    await first.open();
    const second = new NotifyFifo({ path: p });
    expect(await second.open()).toBe(true);
    await second.close();
    expect(lstatSync(p).isFIFO()).toBe(true);
    await first.close();
    expect(existsSync(p)).toBe(false);

    const reg = fifoPath();
    writeFileSync(reg, 'x');
    const bad = new NotifyFifo({ path: reg });
    expect(await bad.open()).toBe(false);
    expect(readFileSync(reg, 'utf8')).toBe('x');
  });

  it('when the pipe is full, queues a bounded number of lines, dropping the oldest', async () => {
    const p = fifoPath();
    const fifo = new NotifyFifo({ path: p, maxQueuedLines: 10, retryMs: 10_000 });
    open.push(fifo);
    await fifo.open();
    const big = 'x'.repeat(1000);
    const t0 = Date.now();
    for (let i = 0; i < 200; i++) fifo.write(`${i} ${big}`); // 200 kB > 64 KiB pipe buffer
    expect(Date.now() - t0).toBeLessThan(1000);
    const s = fifo.stats;
    expect(s.queued).toBe(10);
    expect(s.dropped).toBeGreaterThan(0);
    expect(s.written + s.queued + s.dropped).toBe(200);
  });

  it('starts the FIFO script with the path as its last argument and SIGTERMs it on close', async () => {
    const p = fifoPath();
    const out = `${p}.out`;
    const fifo = new NotifyFifo({
      path: p,
      script: { command: `/bin/sh -c 'while read -r l; do echo "got $l" >> ${out}; done < "$1"' fifo-script` },
    });
    open.push(fifo);
    expect(await fifo.open()).toBe(true);
    fifo.write(formatVrrpFifoLine('GROUP', 'VG1', 'MASTER'));
    fifo.write(formatVrrpFifoLine('INSTANCE', 'VI_1', 'MASTER', 150));
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !(existsSync(out) && readFileSync(out, 'utf8').split('\n').length >= 3)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(readFileSync(out, 'utf8')).toBe('got GROUP "VG1" MASTER 0\ngot INSTANCE "VI_1" MASTER 150\n');
    const pid = fifo.scriptProcessId;
    expect(pid).toBeGreaterThan(0);
    await fifo.close();
    expect(() => process.kill(pid as number, 0)).toThrow();
  });
});

/**
 * sdNotify over AF_UNIX datagrams to a path and to an abstract '@name',
 * received by a small python3 listener (which also checks the kernel-attached
 * sender PID, as systemd does for NotifyAccess=main). Needs the built addon.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { notifyReady, notifyStatus, sdNotify, watchdogIntervalMs } from '../src/sys/sd-notify.js';
import { NsProcess, requireNativeAddon, setupOrFail } from './helpers/netns.js';

const LISTENER = `
import json, socket, struct, sys
addr, count = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind('\\0' + addr[1:] if addr.startswith('@') else addr)
s.settimeout(10)
print('READY', flush=True)
for _ in range(count):
    data, anc, _flags, _addr = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', payload[:12])[0]
    print(json.dumps({'data': data.decode(), 'pid': pid}), flush=True)
`;

let seq = 0;
const procs: NsProcess[] = [];
let dir = '';

async function listen(addr: string, count = 1): Promise<NsProcess> {
  const p = new NsProcess(`listener ${addr}`, ['python3', '-c', LISTENER, addr, String(count)]);
  procs.push(p);
  await p.waitForLine(/^READY$/);
  return p;
}

describe('sdNotify', () => {
  setupOrFail(() => {
    requireNativeAddon();
    dir = mkdtempSync(path.join(tmpdir(), 'vkt-sdnotify-'));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill()));
  });

  it('returns false when NOTIFY_SOCKET is unset', () => {
    const saved = process.env['NOTIFY_SOCKET'];
    delete process.env['NOTIFY_SOCKET'];
    try {
      expect(sdNotify('READY=1')).toBe(false);
      expect(notifyReady()).toBe(false);
    } finally {
      if (saved !== undefined) process.env['NOTIFY_SOCKET'] = saved;
    }
  });

  it('sends to a filesystem socket named by $NOTIFY_SOCKET, from our own PID', async () => {
    const sock = path.join(dir, `notify-${++seq}.sock`);
    const l = await listen(sock, 2);
    const saved = process.env['NOTIFY_SOCKET'];
    process.env['NOTIFY_SOCKET'] = sock;
    try {
      expect(sdNotify('READY=1')).toBe(true);
      expect(notifyStatus('2 VRRP instances\nall MASTER')).toBe(true);
    } finally {
      if (saved === undefined) delete process.env['NOTIFY_SOCKET'];
      else process.env['NOTIFY_SOCKET'] = saved;
    }
    await l.waitExit();
    expect(l.jsonLines()).toEqual([
      { data: 'READY=1', pid: process.pid },
      { data: 'STATUS=2 VRRP instances all MASTER', pid: process.pid },
    ]);
  });

  it('sends to an abstract @name socket', async () => {
    const name = `@vkt-${process.pid}-sdnotify-${++seq}`;
    const l = await listen(name);
    expect(sdNotify('READY=1\nSTATUS=up', name)).toBe(true);
    await l.waitExit();
    expect(l.jsonLines()).toEqual([{ data: 'READY=1\nSTATUS=up', pid: process.pid }]);
  });

  it('throws errno errors for unreachable sockets and rejects relative paths', () => {
    expect(() => sdNotify('READY=1', path.join(dir, 'missing.sock'))).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
    expect(() => sdNotify('READY=1', `@vkt-${process.pid}-nobody-listens`)).toThrow(
      expect.objectContaining({ code: 'ECONNREFUSED' }),
    );
    expect(() => sdNotify('READY=1', 'relative.sock')).toThrow(TypeError);
    expect(() => sdNotify('READY=1', '/' + 'x'.repeat(200))).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }));
  });

  it('reads the watchdog interval for this process only', () => {
    expect(watchdogIntervalMs({})).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '3000000' })).toBe(3000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '3000000', WATCHDOG_PID: String(process.pid) })).toBe(3000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '3000000', WATCHDOG_PID: '1' })).toBeUndefined();
  });
});

import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';

import { describe, expect, it } from 'vitest';

import type { BatchRunner } from './ip-batch.js';
import { createLinkMonitor, linkIsUp, parseLinkLine, type MonitorChild } from './link-monitor.js';

describe('parseLinkLine', () => {
  it('parses up, down, no-carrier and deleted lines', () => {
    expect(
      parseLinkLine(
        '3: v0@v1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default \\    link/ether f2:34:21:03:d7:f1 brd ff:ff:ff:ff:ff:ff',
      ),
    ).toEqual({ index: 3, ifname: 'v0', deleted: false, up: true });
    expect(parseLinkLine('3: v0@v1: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default')).toEqual({
      index: 3,
      ifname: 'v0',
      deleted: false,
      up: false,
    });
    expect(
      parseLinkLine('2: v1@v0: <NO-CARRIER,BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state LOWERLAYERDOWN'),
    ).toMatchObject({ ifname: 'v1', up: false });
    expect(
      parseLinkLine('Deleted 3: v0@NONE: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noop state UP group default'),
    ).toEqual({ index: 3, ifname: 'v0', deleted: true, up: false });
  });

  it('treats LOWER_UP with state UNKNOWN (lo, dummy, tun) as up', () => {
    expect(parseLinkLine('1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT')).toMatchObject({
      ifname: 'lo',
      up: true,
    });
    expect(linkIsUp(['UP', 'LOWER_UP'], 'UNKNOWN')).toBe(true);
    expect(linkIsUp(['UP'], 'UNKNOWN')).toBe(false);
    expect(linkIsUp(['LOWER_UP'], 'UP')).toBe(false); // admin down
  });

  it('ignores bridge-port messages and noise', () => {
    expect(
      parseLinkLine('7: vktp1@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master br0 state forwarding priority 32 cost 2'),
    ).toBeUndefined();
    expect(parseLinkLine('Deleted 7: vktp1@if6: <BROADCAST,MULTICAST> mtu 1500 master br0 state disabled priority 32')).toBeUndefined();
    expect(parseLinkLine('')).toBeUndefined();
    expect(parseLinkLine('    link/ether 00:11:22:33:44:55 brd ff:ff:ff:ff:ff:ff')).toBeUndefined();
  });

  it('accepts a [LINK] prefix', () => {
    expect(parseLinkLine('[LINK]3: eth0: <UP,LOWER_UP> mtu 1500 qdisc mq state UP')).toMatchObject({ ifname: 'eth0', up: true });
  });
});

function fakeChild() {
  const ee = new EventEmitter();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const killed: string[] = [];
  const child = {
    stdout,
    stderr,
    pid: 4242,
    once: ee.once.bind(ee),
    kill: (sig?: string) => {
      killed.push(sig ?? 'SIGTERM');
      return true;
    },
  } as unknown as MonitorChild;
  const write = (line: string) => new Promise<void>((r) => stdout.write(`${line}\n`, () => setImmediate(r)));
  return { child, ee, write, killed, stderr };
}

const linksJson = JSON.stringify([
  { ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP', 'LOWER_UP'], operstate: 'UNKNOWN' },
  { ifindex: 3, ifname: 'v0', flags: ['BROADCAST', 'UP', 'LOWER_UP'], operstate: 'UP' },
  { ifindex: 4, ifname: 'v1', flags: ['BROADCAST'], operstate: 'DOWN' },
]);

describe('createLinkMonitor (fake ip)', () => {
  it('spawns ip -n NS -o monitor link, emits initial states then changes, close() kills its child', async () => {
    const f = fakeChild();
    const spawned: (readonly string[])[] = [];
    const reads: (readonly string[])[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const run: BatchRunner = async (args) => {
      reads.push(args);
      await gate;
      return { code: 0, stdout: linksJson, stderr: '' };
    };
    const events: string[] = [];
    const mon = createLinkMonitor({
      interfaces: ['v0', 'v1', 'gone'],
      netns: 'ns1',
      run,
      spawnIp: (args) => {
        spawned.push(args);
        return f.child;
      },
      onChange: (ifname, up) => events.push(`${ifname} ${up ? 'up' : 'down'}`),
    });
    expect(spawned).toEqual([['-n', 'ns1', '-o', 'monitor', 'link']]);
    // An event during the initial read is applied after it.
    await f.write('3: v0@v1: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN group default');
    expect(events).toEqual([]);
    release();
    await mon.ready;
    expect(reads).toEqual([['-n', 'ns1', '-j', 'link', 'show']]);
    expect(events).toEqual(['v0 up', 'v1 down', 'gone down', 'v0 down']);
    expect(mon.isUp('v0')).toBe(false);

    await f.write('3: v0@v1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default');
    await f.write('3: v0@v1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default'); // no change
    await f.write('1: lo: <LOOPBACK> mtu 65536 qdisc noqueue state DOWN'); // not watched
    await f.write('9: gone: <BROADCAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP'); // created
    await f.write('Deleted 4: v1@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN'); // already down
    await f.write('3: renamed: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP'); // v0 renamed
    expect(events.slice(4)).toEqual(['v0 up', 'gone up', 'v0 down']);
    expect(mon.isUp('gone')).toBe(true);

    mon.close();
    expect(f.killed).toEqual(['SIGTERM']);
    await f.write('9: gone: <BROADCAST> mtu 1500 qdisc noqueue state DOWN');
    expect(mon.isUp('gone')).toBe(true); // nothing after close
  });

  it('reports an unexpected exit of ip monitor', async () => {
    const f = fakeChild();
    const errors: string[] = [];
    const mon = createLinkMonitor({
      interfaces: ['v0'],
      run: () => Promise.resolve({ code: 0, stdout: linksJson, stderr: '' }),
      spawnIp: () => f.child,
      onChange: () => {},
      onError: (e) => errors.push(e.message),
    });
    await mon.ready;
    f.stderr.write('Cannot open netlink socket\n');
    await new Promise((r) => setImmediate(r));
    f.ee.emit('exit', 1, null);
    expect(errors).toEqual(['ip monitor link exited (code 1, signal null): Cannot open netlink socket']);
    mon.close();
  });

  it('reports a failing initial read and treats watched links as down', async () => {
    const f = fakeChild();
    const errors: string[] = [];
    const events: string[] = [];
    const mon = createLinkMonitor({
      interfaces: ['v0'],
      run: () => Promise.resolve({ code: 1, stdout: '', stderr: 'boom' }),
      spawnIp: () => f.child,
      onChange: (i, up) => events.push(`${i} ${String(up)}`),
      onError: (e) => errors.push(e.message),
    });
    await mon.ready;
    expect(events).toEqual(['v0 false']);
    expect(errors[0]).toMatch(/boom/);
    mon.close();
  });
});

/**
 * The addon's TcpConnector against loopback listeners this test starts: events come in batches
 * through the shared Int32Array, each connection's final event exactly once; handles from the
 * JS wrapper never reach a slot's next owner; closing from inside a batch is safe.
 */
import { readdirSync } from 'node:fs';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';

import { afterAll, describe, expect, it } from 'vitest';

import { CONNECTED, DATA, END, ERROR, nativeConnections, nativeTarget, type ConnectionListener } from '../src/check/probes/native-connector.js';
import { native } from '../src/sys/addon.js';
import { requireNativeAddon } from './helpers/netns.js';
import { closedPort, Servers, startTcpRecorder, waitFor } from './helpers/servers.js';

requireNativeAddon();

const servers = new Servers();
afterAll(() => servers.closeAll());

// DATA events carry their bytes (as latin1) and value 0
type Ev = [tag: number, event: number, value: number, data?: string];

/** A raw connector with room for `room` events per batch, recording every batch. */
function rawConnector(room: number, dataBytes = 16384) {
  const events = new Int32Array(4 * room);
  const data = Buffer.alloc(dataBytes);
  const batches: Ev[][] = [];
  let onBatch: ((c: ReturnType<typeof make>) => void) | undefined;
  const make = () =>
    new (native().TcpConnector)((count) => {
      const b: Ev[] = [];
      for (let i = 0; i < count; i++) {
        const ev: Ev = [events[4 * i]! >>> 0, events[4 * i + 1]!, events[4 * i + 2]!];
        if (ev[1] === DATA) {
          ev.push(data.toString('latin1', ev[2], ev[2] + events[4 * i + 3]!));
          ev[2] = 0;
        }
        b.push(ev);
      }
      batches.push(b);
      onBatch?.(c);
    }, events, data);
  const c = make();
  return { c, events, data, batches, all: () => batches.flat(), setOnBatch: (f: typeof onBatch) => (onBatch = f) };
}

/** Detaches an ArrayBuffer, as a transfer to a worker would; returns its new owner. */
function detach(b: ArrayBuffer): ArrayBuffer {
  return structuredClone(b, { transfer: [b] });
}

/** The gc() of --expose-gc, in this process (vitest's workers run without the flag). */
function gcFunction(): () => void {
  v8.setFlagsFromString('--expose-gc');
  try {
    return vm.runInNewContext('gc') as () => void;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

describe('native TcpConnector', () => {
  it('reports 40 connects in batches no larger than the shared array, each exactly once', async () => {
    const rec = servers.add(await startTcpRecorder());
    const r = rawConnector(4);
    const target = r.c.target(4, '127.0.0.1', rec.port, '', 0);
    for (let tag = 1; tag <= 40; tag++) r.c.connect(target, tag);
    await waitFor(() => r.all().length === 40, 5000, '40 events');
    expect(r.batches.every((b) => b.length >= 1 && b.length <= 4)).toBe(true);
    expect(r.all().map((e) => e[0]).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(r.all().every((e) => e[1] === CONNECTED)).toBe(true);
    // every connection then closes politely: the server sees 40 FINs, and nothing stays open
    await waitFor(() => rec.ends.length === 40 && rec.ends.every((e) => e === 'fin'), 5000, '40 FINs');
    await waitFor(() => r.c.pending === 0, 2000, 'the drains to end');
    r.c.close();
  });

  it('refuses a tag in use, reports a refused connect as ERROR ECONNREFUSED, and a bad target as a TypeError', async () => {
    const r = rawConnector(8);
    const port = await closedPort('tcp');
    const target = r.c.target(4, '127.0.0.1', port, '', 0);
    r.c.connect(target, 7);
    expect(() => r.c.connect(target, 7)).toThrow(/tag in use/);
    await waitFor(() => r.all().length === 1, 2000, 'the refusal');
    expect(r.all()).toEqual([[7, ERROR, 111]]);
    expect(() => r.c.target(4, 'not-an-address', 80, '', 0)).toThrow(TypeError);
    expect(() => r.c.connect(12345, 1)).toThrow(/target must come from target\(\)/);
    r.c.dropTarget(target);
    expect(() => r.c.connect(target, 2)).toThrow(/not be dropped/);
    r.c.close();
  });

  it('sets the target mark and device on its sockets; an unknown device fails the connect, no fd left', async () => {
    const rec = servers.add(await startTcpRecorder());
    const r = rawConnector(8);
    // root (the suite's other tests need it too): SO_MARK needs CAP_NET_ADMIN
    const marked = r.c.target(4, '127.0.0.1', rec.port, '', 0, undefined, undefined, 0x42, 'lo');
    r.c.connect(marked, 1);
    await waitFor(() => r.all().length === 1, 2000, 'the connect');
    expect(r.all()).toEqual([[1, CONNECTED, 0]]);
    const fds = () => readdirSync('/proc/self/fd').length;
    const fds0 = fds();
    const nowhere = r.c.target(4, '127.0.0.1', rec.port, '', 0, undefined, undefined, 0, 'vkt-nosuch0');
    expect(() => r.c.connect(nowhere, 2)).toThrow(expect.objectContaining({ code: 'ENODEV', message: expect.stringMatching(/SO_BINDTODEVICE vkt-nosuch0/) }));
    expect(fds()).toBe(fds0);
    expect(() => r.c.target(4, '127.0.0.1', rec.port, '', 0, undefined, undefined, 0, 'a-name-far-too-long-for-linux')).toThrow(/ENODEV/);
    expect(() => r.c.target(4, '127.0.0.1', rec.port, '', 0, undefined, undefined, -1)).toThrow(TypeError);
    await waitFor(() => r.c.pending === 0, 2000, 'the drain to end');
    r.c.close();
  });

  it('runs an exchange: the response as DATA chunks, END when the server closes; state() says where it is', async () => {
    const srv = net.createServer((s) => {
      s.once('data', (d) => {
        s.write(`got ${d.length} bytes;`);
        s.end('bye');
      });
    });
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    servers.add({ close: () => new Promise<void>((res) => srv.close(() => res())) });
    const r = rawConnector(16);
    const target = r.c.target(4, '127.0.0.1', (srv.address() as net.AddressInfo).port, '', 0, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
    r.c.connect(target, 3);
    expect(r.c.state(3)).toBe(0); // connecting: nothing has run the loop yet
    expect(r.c.state(4)).toBe(-1);
    await waitFor(() => r.all().some((e) => e[1] === END), 3000, 'END');
    expect(r.c.state(3)).toBe(-1);
    const evs = r.all();
    expect(evs.filter((e) => e[1] === DATA).map((e) => e[3]).join('')).toBe('got 18 bytes;bye');
    expect(evs.at(-1)).toEqual([3, END, 0]);
    r.c.close();
  });

  it('sends a request larger than the socket buffer in parts (edge-triggered: writable again once the buffer has room), even with its target dropped meanwhile', async () => {
    const size = 8 << 20;
    const srv = net.createServer((s) => {
      let got = 0;
      s.on('data', (d) => {
        got += d.length;
        if (got === size) s.end(`all ${got}`);
      });
    });
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    servers.add({ close: () => new Promise<void>((res) => srv.close(() => res())) });
    const r = rawConnector(16);
    const target = r.c.target(4, '127.0.0.1', (srv.address() as net.AddressInfo).port, '', 0, Buffer.alloc(size, 0x61));
    r.c.connect(target, 9);
    r.c.dropTarget(target); // the exchange in flight keeps its request
    await waitFor(() => r.all().some((e) => e[1] === END || e[1] === ERROR), 10_000, 'the exchange to end');
    const evs = r.all();
    expect(evs.filter((e) => e[1] === DATA).map((e) => e[3]).join('')).toBe(`all ${size}`);
    expect(evs.at(-1)).toEqual([9, END, 0]);
    r.c.close();
  });

  it('passes a response larger than the shared data array intact, over several batches', async () => {
    const body = Buffer.alloc(300_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 8)) & 0xff;
    const srv = net.createServer((s) => s.once('data', () => s.end(body)));
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    servers.add({ close: () => new Promise<void>((res) => srv.close(() => res())) });
    const r = rawConnector(4, 16384);
    const target = r.c.target(4, '127.0.0.1', (srv.address() as net.AddressInfo).port, '', 0, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
    r.c.connect(target, 5);
    await waitFor(() => r.all().some((e) => e[1] === END || e[1] === ERROR), 5000, 'the response');
    const got = Buffer.from(r.all().filter((e) => e[1] === DATA).map((e) => e[3]).join(''), 'latin1');
    expect(got.equals(body)).toBe(true);
    expect(r.batches.length).toBeGreaterThan(300_000 / 16384);
    r.c.close();
  });

  it('reads a response that outlasts one wakeup (16 reads) whole: the edge-triggered registration is re-armed', async () => {
    const body = Buffer.alloc(2 << 20);
    for (let i = 0; i < body.length; i++) body[i] = (i * 13 + (i >> 10)) & 0xff;
    const srv = net.createServer((s) => s.once('data', () => s.end(body)));
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    servers.add({ close: () => new Promise<void>((res) => srv.close(() => res())) });
    const r = rawConnector(1024, 256 * 1024);
    const target = r.c.target(4, '127.0.0.1', (srv.address() as net.AddressInfo).port, '', 0, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
    r.c.connect(target, 6);
    await waitFor(() => r.all().some((e) => e[1] === END || e[1] === ERROR), 10_000, 'the response');
    const got = Buffer.from(r.all().filter((e) => e[1] === DATA).map((e) => e[3]).join(''), 'latin1');
    expect(got.length).toBe(body.length);
    expect(got.equals(body)).toBe(true);
    expect(r.all().at(-1)).toEqual([6, END, 0]);
    r.c.close();
  });

  it('a server that writes before the request (a banner) has it read with the response', async () => {
    const srv = net.createServer((s) => {
      s.write('220 banner\r\n');
      s.once('data', () => s.end('reply'));
    });
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    servers.add({ close: () => new Promise<void>((res) => srv.close(() => res())) });
    const r = rawConnector(16);
    const target = r.c.target(4, '127.0.0.1', (srv.address() as net.AddressInfo).port, '', 0, Buffer.from('HELO\r\n'));
    for (let tag = 1; tag <= 20; tag++) r.c.connect(target, tag);
    await waitFor(() => r.all().filter((e) => e[1] === END || e[1] === ERROR).length === 20, 5000, '20 exchanges');
    for (let tag = 1; tag <= 20; tag++) {
      const evs = r.all().filter((e) => e[0] === tag);
      expect(evs.filter((e) => e[1] === DATA).map((e) => e[3]).join('')).toBe('220 banner\r\nreply');
      expect(evs.at(-1)).toEqual([tag, END, 0]);
    }
    r.c.close();
  });

  it('finishing an exchange in the middle of a long response closes it politely: the server sees a FIN, never an RST', async () => {
    const seen: string[] = [];
    const srv = net.createServer((s) => {
      s.on('error', (e: NodeJS.ErrnoException) => seen.push(e.code ?? 'error'));
      s.on('end', () => seen.push('fin'));
      s.once('data', () => s.write(Buffer.alloc(1 << 20, 0x62)));
    });
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    servers.add({ close: () => new Promise<void>((res) => srv.close(() => res())) });
    const r = rawConnector(16, 256 * 1024);
    const target = r.c.target(4, '127.0.0.1', (srv.address() as net.AddressInfo).port, '', 0, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
    let finished = false;
    r.setOnBatch((c) => {
      if (!finished && r.all().some((e) => e[1] === DATA)) {
        finished = true;
        c.finish(8);
      }
    });
    r.c.connect(target, 8);
    await waitFor(() => seen.length > 0, 5000, 'the server to see the close');
    expect(seen).toEqual(['fin']);
    expect(r.all().every((e) => e[1] === DATA)).toBe(true); // nothing after finish
    r.c.close();
  });

  it('closing from inside a batch drops the rest of it and reports nothing more', async () => {
    const rec = servers.add(await startTcpRecorder());
    const r = rawConnector(2);
    const target = r.c.target(4, '127.0.0.1', rec.port, '', 0);
    r.setOnBatch((c) => c.close());
    for (let tag = 1; tag <= 10; tag++) r.c.connect(target, tag);
    await waitFor(() => r.batches.length > 0, 2000, 'the first batch');
    await new Promise((res) => setTimeout(res, 200));
    expect(r.batches).toHaveLength(1);
    expect(r.c.pending).toBe(0);
    expect(() => r.c.connect(target, 11)).toThrow(/closed/);
  });
});

describe('native TcpConnector: its shared arrays detached or collected', () => {
  it('an events array detached between batches closes the connector; nothing is written into the memory it gave up', async () => {
    const rec = servers.add(await startTcpRecorder());
    const r = rawConnector(4);
    const target = r.c.target(4, '127.0.0.1', rec.port, '', 0);
    r.c.connect(target, 1);
    await waitFor(() => r.all().length === 1, 2000, 'the first connect');
    for (let tag = 2; tag <= 9; tag++) r.c.connect(target, tag);
    // detached before those connects report: the new owner's bytes must stay as they were
    const moved = new Int32Array(detach(r.events.buffer as ArrayBuffer));
    const before = Array.from(moved);
    expect(r.events.length).toBe(0);
    await waitFor(() => r.c.pending === 0, 3000, 'the connector to close');
    await new Promise((res) => setTimeout(res, 100));
    expect(r.batches).toHaveLength(1);
    expect(Array.from(moved)).toEqual(before);
    expect(() => r.c.connect(target, 10)).toThrow(/closed: its events or data array was detached/);
    r.c.close();
  });

  it('a data array detached inside a batch, with more of a response to come: closed, no crash, no later batch', async () => {
    const big = Buffer.alloc(200_000, 0x61);
    const srv = net.createServer((s) => {
      s.on('error', () => undefined); // the closed connector resets it
      s.once('data', () => s.end(Buffer.concat([Buffer.from('HTTP/1.0 200 OK\r\n\r\n'), big])));
    });
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    servers.add({ close: () => new Promise<void>((res) => srv.close(() => res())) });
    const r = rawConnector(2);
    let moved: Uint8Array | undefined;
    let copy: number[] = [];
    r.setOnBatch(() => {
      if (moved) return;
      moved = new Uint8Array(detach(r.data.buffer as ArrayBuffer));
      copy = Array.from(moved);
    });
    const target = r.c.target(4, '127.0.0.1', (srv.address() as net.AddressInfo).port, '', 0, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
    r.c.connect(target, 1);
    await waitFor(() => moved !== undefined, 3000, 'the first batch');
    await waitFor(() => r.c.pending === 0, 3000, 'the connector to close');
    await new Promise((res) => setTimeout(res, 100));
    expect(r.batches).toHaveLength(1);
    expect(Array.from(moved!)).toEqual(copy);
    expect(() => r.c.connect(target, 2)).toThrow(/detached/);
  });

  it('keeps its arrays alive when JS drops them, through collections, and lets them go once closed', async () => {
    const gc = gcFunction();
    const rec = servers.add(await startTcpRecorder());
    const seen: number[] = [];
    let refs: { events: WeakRef<Int32Array>; data: WeakRef<Uint8Array> };
    let c: InstanceType<ReturnType<typeof native>['TcpConnector']> | undefined;
    (() => {
      // a 4-event array: small enough that V8 could keep it inside its heap, where objects move
      const events = new Int32Array(4);
      const data = new Uint8Array(16384);
      refs = { events: new WeakRef(events), data: new WeakRef(data) };
      c = new (native().TcpConnector)((count) => {
        const ev = refs.events.deref()!;
        for (let i = 0; i < count; i++) seen.push(ev[4 * i]!, ev[4 * i + 1]!);
      }, events, data);
    })();
    const target = c!.target(4, '127.0.0.1', rec.port, '', 0);
    for (let round = 0; round < 5; round++) {
      // garbage and full collections between connects
      let junk: object[] = [];
      for (let i = 0; i < 50_000; i++) junk.push({ i, s: `x${i}` });
      junk = [];
      gc();
      expect(refs!.events.deref()).toBeDefined();
      for (let tag = 1; tag <= 3; tag++) c!.connect(target, round * 10 + tag);
      await waitFor(() => seen.length === (round + 1) * 6, 3000, `round ${round}`);
      gc();
    }
    const tags = seen.filter((_, i) => i % 2 === 0).sort((a, b) => a - b);
    expect(tags).toEqual([1, 2, 3, 11, 12, 13, 21, 22, 23, 31, 32, 33, 41, 42, 43]);
    expect(seen.filter((_, i) => i % 2 === 1).every((e) => e === CONNECTED)).toBe(true);
    await waitFor(() => c!.pending === 0, 2000, 'the drains to end');
    c!.close();
    c = undefined;
    // once the connector is gone, nothing holds the arrays
    for (let i = 0; i < 20 && refs!.data.deref() !== undefined; i++) {
      await new Promise((res) => setTimeout(res, 20));
      gc();
    }
    expect(refs!.data.deref()).toBeUndefined();
  });
});

describe('nativeConnections (the JS wrapper)', () => {
  it('a handle that has ended never reaches the next owner of its slot', async () => {
    const rec = servers.add(await startTcpRecorder());
    const conn = nativeConnections()!;
    const target = nativeTarget({ address: '127.0.0.1', port: rec.port, timeoutMs: 1000 })!;
    const seen: string[] = [];
    const listener: ConnectionListener<string> = { onConnection: (name, event) => seen.push(`${name}:${event}`) };
    const first = conn.open(target, listener, 'first');
    await waitFor(() => seen.length === 1, 2000, 'the first connect');
    const second = conn.open(target, listener, 'second');
    expect(second & 0xfffff).toBe(first & 0xfffff); // the same slot, reused
    expect(second).not.toBe(first);
    conn.cancel(first); // stale: ignored
    conn.finish(first);
    await waitFor(() => seen.length === 2, 2000, 'the second connect');
    expect(seen).toEqual([`first:${CONNECTED}`, `second:${CONNECTED}`]);
  });

  it('a listener that throws does not cost the rest of its batch their events', async () => {
    const rec = servers.add(await startTcpRecorder());
    const conn = nativeConnections()!;
    const target = nativeTarget({ address: '127.0.0.1', port: rec.port, timeoutMs: 1000 })!;
    const seen: number[] = [];
    const errors: unknown[] = [];
    const onUncaught = (e: unknown) => errors.push(e);
    process.prependListener('uncaughtException', onUncaught);
    try {
      const listener: ConnectionListener<number> = {
        onConnection: (n) => {
          seen.push(n);
          if (n === 0) throw new Error('listener 0 failed');
        },
      };
      for (let i = 0; i < 5; i++) conn.open(target, listener, i);
      await waitFor(() => seen.length === 5, 3000, 'five connects');
      await waitFor(() => errors.length === 1, 1000, 'the uncaught exception');
      expect(String(errors[0])).toMatch(/listener 0 failed/);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
    }
  });
});

/**
 * RawIpSocket (native addon) between two network namespaces joined by a veth
 * pair. Needs root, `ip netns`, the built addon and tshark: without them the
 * suite FAILS (it does not skip).
 */
import { spawnSync } from 'node:child_process';

import { afterAll, describe, expect, it } from 'vitest';

import { RawIpSocket } from '../src/net/raw-socket.js';
import { ifIndex, ifName } from '../src/sys/addon.js';
import {
  NetnsLab,
  requireNativeAddon,
  requireNetnsRoot,
  requireTshark,
  setupOrFail,
} from './helpers/netns.js';

const RECV = 'test/fixtures/native-raw-recv.mjs';

/** The interface index of `ifname` in namespace `ns`. */
function ifIndexIn(ns: string, ifname: string): number {
  const r = spawnSync('ip', ['-n', ns, '-o', 'link', 'show', ifname], { encoding: 'utf8' });
  return Number(/^(\d+):/.exec(r.stdout)?.[1]);
}
const SEND = 'test/fixtures/native-raw-send.mjs';
// A VRRPv3 advert body (vrid 51, prio 100, 1 s, one address); contents do not matter here.
const PAYLOAD4 = '3133640100640000' + '0a1f00c8';
const PAYLOAD6 = '3133640100640000' + 'fd00023100000000000000000000c8c8';

interface Msg {
  data: string;
  family: number;
  src: string;
  dst: string;
  ttl: number;
  hopLimit?: number;
  tos: number;
  ifindex: number;
  ifname: string;
  truncated: boolean;
  ageMs: number;
}

describe('native RawIpSocket (in-process, no traffic)', () => {
  setupOrFail(() => {
    requireNetnsRoot('native RawIpSocket tests');
    requireNativeAddon();
  });

  it('maps interface names and indexes', () => {
    expect(ifIndex('lo')).toBe(1);
    expect(ifName(1)).toBe('lo');
    expect(() => ifIndex('vkt-no-such0')).toThrow(expect.objectContaining({ code: 'ENODEV' }));
  });

  it('throws errno errors and type errors', () => {
    const s = new RawIpSocket(4, 112);
    try {
      expect(() => s.bindToDevice('vkt-no-such0')).toThrow(/SO_BINDTODEVICE.*ENODEV/);
      expect(() => s.joinMulticast('10.1.2.3', 'lo')).toThrow(TypeError);
      expect(() => s.joinMulticast('224.0.0.18', 'vkt-no-such0')).toThrow(
        expect.objectContaining({ code: 'ENODEV', syscall: 'if_nametoindex(vkt-no-such0)' }),
      );
      expect(() => s.setTtl(256)).toThrow(TypeError);
      expect(() => s.send(Buffer.alloc(4), 'not-an-address')).toThrow(/invalid IPv4 address/);
      expect(() => s.setChecksumOffset(6)).toThrow(/EINVAL/);
      s.setTtl(255).setTos(0xc0).setMulticastLoop(false).setMulticastAll(false);
    } finally {
      s.close();
    }
    expect(s.closed).toBe(true);
    expect(() => s.send(Buffer.alloc(4), '10.0.0.1')).toThrow(expect.objectContaining({ code: 'EBADF' }));
    s.close(); // idempotent
    expect(() => new RawIpSocket(5 as 4, 112)).toThrow(TypeError);
  });

  it('reports EPERM without CAP_NET_RAW', () => {
    const script =
      'import("./src/net/raw-socket.ts").then(({ RawIpSocket }) => {' +
      '  try { new RawIpSocket(4, 112); console.log("no error"); }' +
      '  catch (e) { console.log(e.code + " | " + e.message); } })';
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all',
        process.execPath, '--import', 'tsx', '-e', script],
      { encoding: 'utf8', cwd: process.cwd() },
    );
    expect(r.error, 'setpriv (util-linux) must be installed').toBeUndefined();
    expect(r.stdout.trim(), r.stderr).toBe('EPERM | socket(AF_INET, SOCK_RAW, 112): EPERM (Operation not permitted)');
  });
});

describe('native RawIpSocket between two namespaces', () => {
  const lab = new NetnsLab();
  let nsA = '';
  let nsB = '';
  let linkLocalA = '';

  setupOrFail(async () => {
    requireNetnsRoot('native RawIpSocket tests');
    requireNativeAddon();
    requireTshark('native RawIpSocket tests');
    nsA = await lab.addNamespace();
    nsB = await lab.addNamespace();
    await lab.addVeth(nsA, 'vka0', nsB, 'vkb0');
    await lab.addAddress(nsA, 'vka0', '10.231.0.1/24');
    await lab.addAddress(nsB, 'vkb0', '10.231.0.2/24');
    await lab.addAddress(nsA, 'vka0', 'fd00:231::1/64');
    await lab.addAddress(nsB, 'vkb0', 'fd00:231::2/64');
    linkLocalA = await lab.linkLocal(nsA, 'vka0');
    await lab.linkLocal(nsB, 'vkb0');
  });

  afterAll(async () => {
    await lab.cleanup();
  });

  async function exchange(opts: {
    family: 4 | 6;
    join?: [string, string][];
    dst: string;
    payload: string;
    capture: { filter: string; fields: string[] };
  }): Promise<{ msg: Msg; captured: string[][] }> {
    const recv = lab.spawnNode(nsB, RECV, {
      family: opts.family,
      protocol: 112,
      device: 'vkb0',
      join: opts.join ?? [],
      count: 1,
      timeoutMs: 10_000,
    });
    await recv.waitForLine(/"ready":true/);
    const cap = await lab.capture(nsB, 'vkb0', opts.capture.filter, opts.capture.fields, { count: 1, seconds: 10 });
    const send = lab.spawnNode(nsA, SEND, {
      family: opts.family,
      protocol: 112,
      ttl: 255,
      tos: 0xc0,
      sends: [{ dst: opts.dst, ifname: 'vka0', hex: opts.payload }],
      repeat: 3,
      intervalMs: 100,
    });
    await send.waitExit();
    await recv.waitExit();
    const captured = await cap.done;
    const msgs = recv.jsonLines<Msg>().filter((m) => 'src' in m);
    expect(msgs, recv.describe()).toHaveLength(1);
    expect(captured.length, cap.proc.describe()).toBeGreaterThanOrEqual(1);
    return { msg: msgs[0]!, captured };
  }

  it('IPv4 multicast 224.0.0.18, proto 112: TTL 255 and TOS 0xc0 on the wire and in recvmsg', async () => {
    const { msg, captured } = await exchange({
      family: 4,
      join: [['224.0.0.18', 'vkb0']],
      dst: '224.0.0.18',
      payload: PAYLOAD4,
      capture: { filter: 'ip proto 112', fields: ['ip.dsfield', 'ip.ttl', 'ip.src', 'ip.dst', 'eth.dst'] },
    });
    expect(msg).toMatchObject({
      family: 4,
      src: '10.231.0.1',
      dst: '224.0.0.18',
      ttl: 255,
      tos: 0xc0,
      ifname: 'vkb0',
      data: PAYLOAD4,
      truncated: false,
    });
    expect(msg.ifindex).toBeGreaterThan(0);
    // the kernel's receive time (SO_TIMESTAMPNS), as an age at delivery: known, positive, small
    expect(msg.ageMs).toBeGreaterThan(0);
    expect(msg.ageMs).toBeLessThan(1000);
    expect(captured[0]).toEqual(['0xc0', '255', '10.231.0.1', '224.0.0.18', '01:00:5e:00:00:12']);
  });

  it('IPv6 multicast ff02::12: hop limit 255, traffic class 0xc0, link-local source', async () => {
    const { msg, captured } = await exchange({
      family: 6,
      join: [['ff02::12', 'vkb0']],
      dst: 'ff02::12',
      payload: PAYLOAD6,
      capture: { filter: 'ip6 proto 112', fields: ['ipv6.tclass', 'ipv6.hlim', 'ipv6.src', 'ipv6.dst', 'eth.dst'] },
    });
    expect(msg).toMatchObject({
      family: 6,
      src: linkLocalA,
      dst: 'ff02::12',
      ttl: 255,
      hopLimit: 255,
      tos: 0xc0,
      ifname: 'vkb0',
      data: PAYLOAD6,
    });
    expect(captured[0]).toEqual(['0x000000c0', '255', linkLocalA, 'ff02::12', '33:33:00:00:00:12']);
  });

  it('IPv4 unicast, proto 112', async () => {
    const { msg, captured } = await exchange({
      family: 4,
      dst: '10.231.0.2',
      payload: PAYLOAD4,
      capture: { filter: 'ip proto 112', fields: ['ip.dsfield', 'ip.ttl', 'ip.src', 'ip.dst'] },
    });
    expect(msg).toMatchObject({ src: '10.231.0.1', dst: '10.231.0.2', ttl: 255, tos: 0xc0, ifname: 'vkb0' });
    expect(captured[0]).toEqual(['0xc0', '255', '10.231.0.1', '10.231.0.2']);
  });

  it('IPv6 unicast, proto 112', async () => {
    const { msg } = await exchange({
      family: 6,
      dst: 'fd00:231::2',
      payload: PAYLOAD6,
      capture: { filter: 'ip6 proto 112', fields: ['ipv6.hlim'] },
    });
    expect(msg).toMatchObject({ src: 'fd00:231::1', dst: 'fd00:231::2', hopLimit: 255, ifname: 'vkb0' });
  });

  it('only delivers multicast for groups joined on the socket itself (IP_MULTICAST_ALL off)', async () => {
    const joined = lab.spawnNode(nsB, RECV, {
      family: 4, protocol: 112, device: 'vkb0', join: [['224.0.0.18', 'vkb0']], count: 1, timeoutMs: 10_000,
    });
    const notJoined = lab.spawnNode(nsB, RECV, { family: 4, protocol: 112, device: 'vkb0', count: 1, timeoutMs: 1_500 });
    await joined.waitForLine(/"ready":true/);
    await notJoined.waitForLine(/"ready":true/);
    const send = lab.spawnNode(nsA, SEND, {
      family: 4, protocol: 112, ttl: 255, sends: [{ dst: '224.0.0.18', ifname: 'vka0', hex: PAYLOAD4 }],
    });
    await send.waitExit();
    await joined.waitExit();
    await notJoined.waitExit(10_000, false);
    expect(notJoined.jsonLines().at(-1), notJoined.describe()).toEqual({ timeout: true, seen: 0 });
  });

  it('a device recreated under the same name (new index) is found again: the send after it goes out', async () => {
    const send = lab.spawnNode(nsA, SEND, {
      family: 4,
      protocol: 112,
      ttl: 255,
      sends: [{ dst: '10.231.0.2', ifname: 'vka0', hex: PAYLOAD4 }],
      repeat: 2,
      intervalMs: 4000,
    });
    await send.waitForLine(/"i":0/);
    const before = ifIndexIn(nsA, 'vka0');
    // deleting one end of the pair deletes both; make it again with the same names and addresses
    await lab.exec(nsA, ['ip', 'link', 'del', 'vka0']);
    await lab.addVeth(nsA, 'vka0', nsB, 'vkb0');
    await lab.addAddress(nsA, 'vka0', '10.231.0.1/24');
    await lab.addAddress(nsB, 'vkb0', '10.231.0.2/24');
    expect(ifIndexIn(nsA, 'vka0')).not.toBe(before);
    const recv = lab.spawnNode(nsB, RECV, { family: 4, protocol: 112, device: 'vkb0', count: 1, timeoutMs: 10_000 });
    await recv.waitForLine(/"ready":true/);
    await send.waitExit();
    await recv.waitExit();
    expect(send.jsonLines().map((l) => (l as { sent?: boolean }).sent), send.describe()).toEqual([true, true]);
    expect(recv.jsonLines<Msg>().filter((m) => 'src' in m).map((m) => m.data), recv.describe()).toEqual([PAYLOAD4]);
  });
});

import { describe, expect, it } from 'vitest';

import type { Vip } from '../config/schema.js';
import { announceBurst, createAnnouncer, type AnnounceSockets, type Announcer } from './announce.js';
import { buildUnsolicitedNaFrame, macBytes } from './packet-socket.js';

const MAC = '02:00:00:00:00:0a';

function fakeSockets(opts: { failOn?: string; forwarding?: boolean } = {}) {
  const log: string[] = [];
  let opened = 0;
  const sockets: AnnounceSockets = {
    openPacket(ifname) {
      opened++;
      log.push(`open ${ifname}`);
      return {
        macBytes: () => macBytes(MAC),
        send(frame) {
          log.push(`frame ${ifname} ${Buffer.from(frame).toString('hex')}`);
          return true;
        },
        sendGratuitousArp(vip) {
          if (opts.failOn === vip) throw Object.assign(new Error('No such device'), { code: 'ENXIO' });
          log.push(`garp ${ifname} ${vip}`);
          return true;
        },
        close: () => log.push(`close ${ifname}`),
      };
    },
    openNa() {
      log.push('open na');
      return {
        send(ifname, vip, o) {
          log.push(`na ${ifname} ${vip} ${Buffer.from(o?.mac as Uint8Array).toString('hex')} router=${String(o?.router)}`);
          return false; // EAGAIN
        },
        close: () => log.push('close na'),
      };
    },
    forwarding: () => opts.forwarding ?? false,
  };
  return { sockets, log, opened: () => opened };
}

const vips: Vip[] = [
  { address: '10.1.0.10', prefix: 32 },
  { address: 'fd00:1::10', prefix: 128 },
  { address: '10.1.0.11', prefix: 32, dev: 'eth1' },
];

describe('createAnnouncer', () => {
  it('sends one GARP per IPv4 VIP and one NA frame per IPv6 VIP, each on its dev, reusing sockets', async () => {
    const f = fakeSockets({ forwarding: true });
    const a = createAnnouncer({ sockets: f.sockets });
    expect(await a.announce(vips, 'eth0')).toEqual({ sent: 3, errors: [] });
    expect(await a.announce(vips, 'eth0')).toEqual({ sent: 3, errors: [] });
    const na = buildUnsolicitedNaFrame('fd00:1::10', MAC, { router: true }).toString('hex');
    expect(f.log).toEqual([
      'open eth0',
      'garp eth0 10.1.0.10',
      `frame eth0 ${na}`,
      'open eth1',
      'garp eth1 10.1.0.11',
      'garp eth0 10.1.0.10',
      `frame eth0 ${na}`,
      'garp eth1 10.1.0.11',
    ]);
    a.close();
    expect(f.log.slice(-2)).toEqual(['close eth0', 'close eth1']);
    await expect(a.announce(vips, 'eth0')).rejects.toThrow(/closed/);
  });

  it("na: 'icmp6' uses the raw ICMPv6 sender with the device MAC; EAGAIN is an error", async () => {
    const f = fakeSockets();
    const a = createAnnouncer({ sockets: f.sockets, na: 'icmp6' });
    const r = await a.announce([vips[1]!], 'eth0');
    expect(r).toEqual({ sent: 0, errors: ['unsolicited NA for fd00:1::10 on eth0: socket buffer full (EAGAIN)'] });
    expect(f.log).toEqual(['open eth0', 'open na', 'na eth0 fd00:1::10 02000000000a router=false']);
    a.close();
    expect(f.log).toContain('close na');
  });

  it('reports a failing send, drops that socket and reopens it next time', async () => {
    const f = fakeSockets({ failOn: '10.1.0.10' });
    const a = createAnnouncer({ sockets: f.sockets });
    const r = await a.announce([vips[0]!, vips[2]!], 'eth0');
    expect(r).toEqual({ sent: 1, errors: ['gratuitous ARP for 10.1.0.10 on eth0: No such device'] });
    await a.announce([vips[0]!], 'eth0');
    expect(f.opened()).toBe(3); // eth0, eth1, eth0 again
  });

  it('reports a bad address without throwing', async () => {
    const a = createAnnouncer({ sockets: fakeSockets().sockets });
    expect(await a.announce([{ address: 'nope', prefix: 32 }], 'eth0')).toEqual({
      sent: 0,
      errors: ['gratuitous ARP for nope on eth0: not an IP address'],
    });
  });
});

describe('Announcer.warm', () => {
  it('opens each device once and sends nothing; the next announce reuses the sockets', async () => {
    const f = fakeSockets();
    const a = createAnnouncer({ sockets: f.sockets });
    a.warm(vips, 'eth0');
    expect(f.log).toEqual(['open eth0', 'open eth1']);
    await a.announce(vips, 'eth0');
    expect(f.opened()).toBe(2);
    expect(f.log.filter((l) => l.startsWith('garp') || l.startsWith('frame'))).toHaveLength(3);
  });

  it('never throws: a missing device is dropped and opened again by the first announce', async () => {
    const f = fakeSockets();
    let missing = true;
    const sockets: AnnounceSockets = {
      ...f.sockets,
      openPacket: (ifname) => {
        if (missing && ifname === 'eth1') throw Object.assign(new Error('No such device'), { code: 'ENODEV' });
        return f.sockets.openPacket(ifname);
      },
    };
    const a = createAnnouncer({ sockets });
    expect(() => a.warm(vips, 'eth0')).not.toThrow();
    missing = false;
    const r = await a.announce(vips, 'eth0');
    expect(r).toEqual({ sent: 3, errors: [] });
    expect(f.log).toContain('open eth1');
  });

  it('warms each family and device once, however many instances start', () => {
    const f = fakeSockets();
    let macReads = 0;
    const sockets: AnnounceSockets = {
      ...f.sockets,
      openPacket: (ifname) => {
        const s = f.sockets.openPacket(ifname);
        return { ...s, macBytes: () => (macReads++, s.macBytes()) };
      },
    };
    const a = createAnnouncer({ sockets });
    a.warm(vips, 'eth0');
    const first = macReads;
    expect(first).toBeGreaterThan(0);
    a.warm(vips, 'eth0');
    a.warm([{ address: '10.1.0.12', prefix: 32 }], 'eth0');
    expect(macReads).toBe(first);
    a.warm([{ address: '10.1.0.13', prefix: 32, dev: 'eth2' }], 'eth0');
    expect(macReads).toBeGreaterThan(first);
  });

  it('does nothing once closed', () => {
    const f = fakeSockets();
    const a = createAnnouncer({ sockets: f.sockets });
    a.close();
    a.warm(vips, 'eth0');
    expect(f.opened()).toBe(0);
  });
});

describe('Announcer.rehearse', () => {
  it('builds one frame per family every time it is asked (reading the MACs), sends nothing, never throws', () => {
    const f = fakeSockets();
    let macReads = 0;
    let missing = true;
    const sockets: AnnounceSockets = {
      ...f.sockets,
      openPacket: (ifname) => {
        if (missing && ifname === 'eth1') throw Object.assign(new Error('No such device'), { code: 'ENODEV' });
        const s = f.sockets.openPacket(ifname);
        return { ...s, macBytes: () => (macReads++, s.macBytes()) };
      },
    };
    const a = createAnnouncer({ sockets });
    a.rehearse(vips, 'eth0');
    expect(macReads).toBe(2); // 10.1.0.10 and fd00:1::10 on eth0, not the second IPv4 VIP
    a.rehearse(vips, 'eth0');
    expect(macReads).toBe(4);
    expect(() => a.rehearse([{ address: '10.1.0.11', prefix: 32, dev: 'eth1' }], 'eth0')).not.toThrow();
    missing = false;
    expect(f.log.filter((l) => l.startsWith('garp') || l.startsWith('frame') || l.startsWith('na'))).toEqual([]);
    a.close();
    a.rehearse(vips, 'eth0');
    expect(macReads).toBe(4);
  });
});

describe('announceBurst', () => {
  function countingAnnouncer(): { announcer: Announcer; calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      announcer: {
        announce: (v, dev) => {
          calls.push(`announce ${v.length} ${dev}`);
          return Promise.resolve({ sent: v.length, errors: v.length > 2 ? ['x'] : [] });
        },
        warm: () => {},
        rehearse: () => {},
        close: () => {},
      },
    };
  }

  it('sends `repeat` rounds intervalMs apart, no sleep after the last', async () => {
    const { announcer, calls } = countingAnnouncer();
    const sleep = (ms: number) => {
      calls.push(`sleep ${ms}`);
      return Promise.resolve();
    };
    const r = await announceBurst(announcer, vips, 'eth0', 3, 200, sleep);
    expect(r).toEqual({ sent: 9, errors: ['x', 'x', 'x'], rounds: 3 });
    expect(calls).toEqual(['announce 3 eth0', 'sleep 200', 'announce 3 eth0', 'sleep 200', 'announce 3 eth0']);
  });

  it('does not sleep with interval 0, sends nothing with repeat 0', async () => {
    const { announcer, calls } = countingAnnouncer();
    const sleep = () => Promise.reject(new Error('no sleep expected'));
    expect((await announceBurst(announcer, vips.slice(0, 1), 'eth0', 2, 0, sleep)).rounds).toBe(2);
    expect((await announceBurst(announcer, vips, 'eth0', 0, 100, sleep)).rounds).toBe(0);
    expect(calls).toHaveLength(2);
  });

  it('stops when the signal aborts (left MASTER)', async () => {
    const { announcer, calls } = countingAnnouncer();
    const ac = new AbortController();
    const sleep = () => {
      ac.abort();
      return Promise.resolve();
    };
    const r = await announceBurst(announcer, vips.slice(0, 1), 'eth0', 5, 1000, sleep, ac.signal);
    expect(r.rounds).toBe(1);
    expect(calls).toEqual(['announce 1 eth0']);
  });
});

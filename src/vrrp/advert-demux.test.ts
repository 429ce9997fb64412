/**
 * AdvertDemux.encode: an advert is encoded once per (priority, destination, checksum mode) and
 * the same bytes are sent again, as keepalived reuses its packet; the bytes are those of a
 * fresh encode. The unicast old-checksum mode, once detected, gives other bytes.
 */
import { describe, expect, it } from 'vitest';

import { encodeAdvert } from './codec.js';
import type { InstanceWire } from './params.js';
import { AdvertDemux, buildAdvert, StatsTable, type DemuxedAdvert, type TransportInstance } from './advert-demux.js';

function instance(over: Partial<InstanceWire> = {}): TransportInstance {
  const wire: InstanceWire = {
    name: 'VI_1',
    vrid: 51,
    version: 3,
    family: 4,
    interface: 'eth0',
    mcastGroup: '224.0.0.18',
    srcIp: undefined,
    unicastPeers: [],
    unicastTtl: 255,
    v3ChecksumAsV2: false,
    authType: 0,
    authPassword: undefined,
    addresses: ['10.0.0.100'],
    ...over,
  };
  return {
    wire,
    srcIp: '10.0.0.11',
    expectations: { vrid: wire.vrid, version: wire.version, family: wire.family, advertIntervalCs: 10, addresses: wire.addresses, unicastPeers: wire.unicastPeers },
  };
}

describe('AdvertDemux.encode', () => {
  it('encodes each (priority, destination) once and returns the same bytes a fresh encode gives', () => {
    const t = instance();
    const demux = new AdvertDemux([t], { onAdvert: () => undefined }, new StatsTable().of);
    const a = demux.encode('VI_1', 100, '224.0.0.18');
    expect(demux.encode('VI_1', 100, '224.0.0.18')).toBe(a);
    const fresh = encodeAdvert(buildAdvert(t.wire, 100, 100), { src: '10.0.0.11', dst: '224.0.0.18', v3ChecksumAsV2: false });
    expect(a.equals(fresh)).toBe(true);
    const zero = demux.encode('VI_1', 0, '224.0.0.18');
    expect(zero).not.toBe(a);
    expect(zero[2]).toBe(0);
    expect(() => demux.encode('VI_9', 100, '224.0.0.18')).toThrow(/unknown VRRP instance/);
  });

  it('a unicast peer that uses the old checksum switches the cached bytes to that checksum', () => {
    const peer = '10.0.0.12';
    const t = instance({ unicastPeers: [{ address: peer }] });
    const got: DemuxedAdvert[] = [];
    const demux = new AdvertDemux([t], { onAdvert: (rx) => got.push(rx) }, new StatsTable().of);
    const normal = demux.encode('VI_1', 100, peer);
    // the peer's advert, checksummed over the multicast group as old keepalived did
    const theirs = encodeAdvert(buildAdvert({ ...t.wire }, 90, 100), { src: peer, dst: '10.0.0.11', v3ChecksumAsV2: false, checksumDst: '224.0.0.18' });
    demux.dispatch({ data: theirs, src: peer, dst: '10.0.0.11', family: 4, ttl: 255, ifname: 'eth0' });
    expect(got).toHaveLength(1);
    const old = demux.encode('VI_1', 100, peer);
    expect(old.equals(normal)).toBe(false);
    expect(old.equals(encodeAdvert(buildAdvert(t.wire, 100, 100), { src: '10.0.0.11', dst: peer, v3ChecksumAsV2: false, checksumDst: '224.0.0.18' }))).toBe(true);
  });
});

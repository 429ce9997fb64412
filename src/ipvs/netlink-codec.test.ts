import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { encodeAttrs, encodeMessage, NLM_F_ACK, NLM_F_DUMP, parseAttrList, parseAttrs } from '../net/netlink.js';
import type { Operation } from './diff.js';
import { parseCommand } from './ipvsadm.js';
import { normalizeDest, normalizeSpec, normalizeServiceId, type Dest, type ServiceId, type ServiceSpec } from './model.js';
import {
  addressBytes,
  bytesToAddress,
  decodeDaemonMessage,
  decodeDest,
  decodeService,
  decodeTimeoutsMessage,
  DEST_ATTR,
  destAttrs,
  effectiveDestPort,
  getTimeoutsRequest,
  operationRequest,
  operationRequests,
  refusalText,
  serviceAttrs,
  setTimeoutsRequest,
  startDaemonRequest,
  SVC_ATTR,
} from './netlink-codec.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const attrsOf = (a: Parameters<typeof encodeAttrs>[0]) => parseAttrs(encodeAttrs(a));

describe('IPVS netlink codec: the kernel wire format', () => {
  it('addresses: 4 or 16 bytes in network order, and back to the canonical text', () => {
    expect(hex(addressBytes('10.1.2.3'))).toBe('0a010203');
    expect(hex(addressBytes('2001:db8::1'))).toBe('20010db8000000000000000000000001');
    expect(bytesToAddress(Buffer.from('0a0102030000000000000000000000', 'hex'), 'inet')).toBe('10.1.2.3');
    expect(bytesToAddress(Buffer.from('20010db8000000000000000000000001', 'hex'), 'inet6')).toBe('2001:db8::1');
    expect(bytesToAddress(Buffer.from('00000000000000000000ffff0a000001', 'hex'), 'inet6')).toBe('::ffff:10.0.0.1');
  });

  it('a TCP service: AF, protocol, address, port (be16), scheduler, flags+mask, timeout, netmask bytes', () => {
    const a = attrsOf(serviceAttrs({ kind: 'addr', protocol: 'TCP', address: '10.0.0.1', port: 80 }, { scheduler: 'sh', flags: ['flag-1', 'flag-2'], ops: false, persistence: { timeout: 300, netmask: '255.255.255.0' } }));
    expect(hex(a.get(SVC_ATTR.AF)!)).toBe('0200');
    expect(hex(a.get(SVC_ATTR.PROTOCOL)!)).toBe('0600');
    expect(hex(a.get(SVC_ATTR.ADDR)!)).toBe('0a000001');
    expect(hex(a.get(SVC_ATTR.PORT)!)).toBe('0050');
    expect(a.get(SVC_ATTR.SCHED_NAME)!.toString()).toBe('sh\0');
    // PERSISTENT 0x1 | SCHED1 0x8 | SCHED2 0x10, mask all ones
    expect(hex(a.get(SVC_ATTR.FLAGS)!)).toBe('19000000ffffffff');
    expect(a.get(SVC_ATTR.TIMEOUT)!.readUInt32LE(0)).toBe(300);
    expect(hex(a.get(SVC_ATTR.NETMASK)!)).toBe('ffffff00');
    expect(a.has(SVC_ATTR.PE_NAME)).toBe(false);
  });

  it('IPv6 and fwmark services: the netmask is a host-order prefix length; one-packet and pe', () => {
    const v6 = attrsOf(serviceAttrs({ kind: 'fwmark', fwmark: 7, family: 'inet6' }, { scheduler: 'rr', flags: [], ops: true, persistence: { timeout: 60, netmask: '64' }, pe: 'sip' }));
    expect(hex(v6.get(SVC_ATTR.AF)!)).toBe('0a00');
    expect(v6.get(SVC_ATTR.FWMARK)!.readUInt32LE(0)).toBe(7);
    expect(v6.has(SVC_ATTR.ADDR)).toBe(false);
    expect(hex(v6.get(SVC_ATTR.NETMASK)!)).toBe('40000000');
    expect(hex(v6.get(SVC_ATTR.FLAGS)!)).toBe('05000000ffffffff');
    expect(v6.get(SVC_ATTR.PE_NAME)!.toString()).toBe('sip\0');
    // not persistent: timeout 0 and the default netmask (the kernel checks an IPv6 one is 1..128)
    const np = attrsOf(serviceAttrs({ kind: 'addr', protocol: 'UDP', address: '2001:db8::1', port: 53 }, { scheduler: 'wlc', flags: [], ops: false }));
    expect(hex(np.get(SVC_ATTR.NETMASK)!)).toBe('80000000');
    expect(np.get(SVC_ATTR.TIMEOUT)!.readUInt32LE(0)).toBe(0);
    expect(hex(np.get(SVC_ATTR.FLAGS)!)).toBe('00000000ffffffff');
  });

  it('destinations: forwarding method, weight, thresholds, tunnel attributes; DR/TUN take the service port', () => {
    const svc: ServiceId = { kind: 'addr', protocol: 'TCP', address: '10.0.0.1', port: 80 };
    const dr = attrsOf(destAttrs(svc, { address: '10.0.1.1', port: 8080, forwarding: 'DR', weight: 3, uthreshold: 100, lthreshold: 10 }));
    expect(hex(dr.get(DEST_ATTR.ADDR)!)).toBe('0a000101');
    expect(hex(dr.get(DEST_ATTR.PORT)!)).toBe('0050'); // 80, not 8080 (ipvsadm does the same)
    expect(dr.get(DEST_ATTR.FWD_METHOD)!.readUInt32LE(0)).toBe(3);
    expect(dr.get(DEST_ATTR.WEIGHT)!.readUInt32LE(0)).toBe(3);
    expect(dr.get(DEST_ATTR.U_THRESH)!.readUInt32LE(0)).toBe(100);
    expect(dr.get(DEST_ATTR.L_THRESH)!.readUInt32LE(0)).toBe(10);
    expect(hex(dr.get(DEST_ATTR.ADDR_FAMILY)!)).toBe('0200');
    expect(dr.has(DEST_ATTR.TUN_TYPE)).toBe(false);
    const nat = attrsOf(destAttrs(svc, { address: '10.0.1.1', port: 8080, forwarding: 'NAT', weight: 1, uthreshold: 0, lthreshold: 0 }));
    expect(hex(nat.get(DEST_ATTR.PORT)!)).toBe('1f90');
    expect(nat.get(DEST_ATTR.FWD_METHOD)!.readUInt32LE(0)).toBe(0);
    const gue = attrsOf(destAttrs(svc, { address: '10.0.1.1', port: 80, forwarding: 'TUN', weight: 1, uthreshold: 0, lthreshold: 0, tunnel: { type: 'gue', port: 6080, csum: 'remcsum' } }));
    expect(gue.get(DEST_ATTR.FWD_METHOD)!.readUInt32LE(0)).toBe(2);
    expect(hex(gue.get(DEST_ATTR.TUN_TYPE)!)).toBe('01');
    expect(hex(gue.get(DEST_ATTR.TUN_PORT)!)).toBe('17c0');
    expect(hex(gue.get(DEST_ATTR.TUN_FLAGS)!)).toBe('0200');
    // fwmark services keep the destination port
    expect(effectiveDestPort({ kind: 'fwmark', fwmark: 1, family: 'inet' }, { port: 8080, forwarding: 'DR' })).toBe(8080);
  });

  it('one request per operation: generic netlink command, NLM_F_ACK, nested service and dest', () => {
    const svc: ServiceId = { kind: 'addr', protocol: 'UDP', address: '10.0.0.1', port: 53 };
    const cases: [Operation, number, number[]][] = [
      [{ op: 'add-service', service: svc, spec: { scheduler: 'rr', flags: [], ops: false } }, 1, [1]],
      [{ op: 'edit-service', service: svc, spec: { scheduler: 'rr', flags: [], ops: false } }, 2, [1]],
      [{ op: 'delete-service', service: svc }, 3, [1]],
      [{ op: 'add-dest', service: svc, dest: { address: '10.0.1.1', port: 53, forwarding: 'NAT', weight: 1, uthreshold: 0, lthreshold: 0 } }, 5, [1, 2]],
      [{ op: 'edit-dest', service: svc, dest: { address: '10.0.1.1', port: 53, forwarding: 'NAT', weight: 1, uthreshold: 0, lthreshold: 0 } }, 6, [1, 2]],
      [{ op: 'delete-dest', service: svc, dest: { address: '10.0.1.1', port: 53 } }, 7, [1, 2]],
    ];
    for (const [o, cmd, nested] of cases) {
      const r = operationRequest(0x22, o);
      expect(r).toMatchObject({ type: 0x22, flags: NLM_F_ACK });
      expect([...(r.header ?? [])]).toEqual([cmd, 1, 0, 0]);
      const msg = encodeMessage({ ...r, seq: 1 });
      const top = parseAttrList(msg.subarray(20));
      expect(top.map((a) => a.type)).toEqual(nested);
    }
    const del = attrsOf(
      (operationRequest(0x22, { op: 'delete-dest', service: svc, dest: { address: '10.0.1.1', port: 53 } }).attrs as { type: number; value: never }[])[1]!.value,
    );
    expect([...del.keys()].sort()).toEqual([DEST_ATTR.ADDR, DEST_ATTR.PORT, DEST_ATTR.ADDR_FAMILY].sort());
    expect(NLM_F_DUMP).toBe(0x300);
  });

  it('sync daemons: state, interface, syncid and the optional fields, and back', () => {
    const r = startDaemonRequest(0x22, { role: 'backup', interface: 'eth1', syncid: 7, maxlen: 1400, group: '224.0.0.82', port: 8850, ttl: 2 });
    const msg = encodeMessage({ ...r, seq: 1 });
    const d = decodeDaemonMessage({ type: 0x22, flags: 0, seq: 1, pid: 0, payload: msg.subarray(16) });
    expect(d).toEqual({ role: 'backup', interface: 'eth1', syncid: 7, maxlen: 1400, group: '224.0.0.82', port: 8850, ttl: 2 });
  });

  it('lvs_timeouts read: IPVS_CMD_GET_CONFIG (13) without attributes; the reply holds TIMEOUT_TCP/TCP_FIN/UDP (4, 5, 6)', () => {
    const req = encodeMessage({ ...getTimeoutsRequest(0x22), seq: 3 });
    expect(req.readUInt16LE(4)).toBe(0x22);
    expect(req.readUInt16LE(6) & NLM_F_DUMP).toBe(0); // one answer, not a dump
    expect([req[16], req[17], req.length]).toEqual([13, 1, 20]);
    // the kernel's reply (ip_vs_genl_get_cmd): genl header (cmd 13, version 1), then three u32
    const attrs = Buffer.alloc(24);
    [7200, 30, 60].forEach((v, i) => {
      attrs.writeUInt16LE(8, i * 8);
      attrs.writeUInt16LE(4 + i, i * 8 + 2);
      attrs.writeUInt32LE(v, i * 8 + 4);
    });
    const payload = Buffer.concat([Buffer.from([13, 1, 0, 0]), attrs]);
    expect(decodeTimeoutsMessage({ type: 0x22, flags: 0, seq: 3, pid: 0, payload })).toEqual({ tcp: 7200, tcpfin: 30, udp: 60 });
    // an attribute too short for a u32 is refused, not read as garbage
    const short = Buffer.concat([Buffer.from([13, 1, 0, 0]), Buffer.from([6, 0, 4, 0, 1, 0, 0, 0])]);
    expect(() => decodeTimeoutsMessage({ type: 0x22, flags: 0, seq: 3, pid: 0, payload: short })).toThrow();
  });

  it('lvs_timeouts: IPVS_CMD_SET_CONFIG (12) with TIMEOUT_TCP/TCP_FIN/UDP (4, 5, 6) as u32 seconds, as ipvsadm --set sends it', () => {
    const msg = encodeMessage({ ...setTimeoutsRequest(0x22, { tcp: 7200, tcpfin: 120, udp: 300 }), seq: 9 });
    // nlmsghdr (16): length, type = the IPVS family, flags with ack
    expect(msg.readUInt32LE(0)).toBe(msg.length);
    expect(msg.readUInt16LE(4)).toBe(0x22);
    expect(msg.readUInt16LE(6) & 0x4).toBe(0x4); // NLM_F_ACK
    // genlmsghdr: cmd 12, version 1
    expect(msg[16]).toBe(12);
    expect(msg[17]).toBe(1);
    // three attributes of 8 bytes: len 8, type, u32 value (host order)
    const attrs = msg.subarray(20);
    expect(attrs.length).toBe(24);
    expect([0, 8, 16].map((o) => [attrs.readUInt16LE(o), attrs.readUInt16LE(o + 2), attrs.readUInt32LE(o + 4)])).toEqual([
      [8, 4, 7200],
      [8, 5, 120],
      [8, 6, 300],
    ]);
  });

  it('refusals in ipvsadm words', () => {
    expect(refusalText('add-service', 17)).toBe('Service already exists');
    expect(refusalText('add-service', 2)).toBe('Scheduler or persistence engine not found');
    expect(refusalText('edit-dest', 2)).toBe('No such destination');
    expect(refusalText('add-dest', 3)).toBe('Service not defined');
    expect(refusalText('stop-daemon', 3)).toBe('No daemon is running');
    expect(refusalText('delete-dest', 22)).toMatch(/^Invalid operation/);
    expect(refusalText('delete-dest', 200)).toBe('error 200');
  });
});

// ---------------------------------------------------------------- round trips (property)

const arbV4 = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map((p) => p.join('.'));
const arbV6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((w) => [0x2001, ...w.slice(1)].map((x) => x.toString(16)).join(':'));

const arbId: fc.Arbitrary<ServiceId> = fc.oneof(
  fc.record({ kind: fc.constant('addr' as const), protocol: fc.constantFrom('TCP' as const, 'UDP' as const, 'SCTP' as const), address: fc.oneof(arbV4, arbV6), port: fc.nat(65535) }),
  fc.record({ kind: fc.constant('fwmark' as const), fwmark: fc.integer({ min: 1, max: 0xffffffff }), family: fc.constantFrom('inet' as const, 'inet6' as const) }),
);

const famOf = (id: ServiceId) => (id.kind === 'fwmark' ? id.family : id.address.includes(':') ? 'inet6' : 'inet');

const arbSpec = (id: ServiceId): fc.Arbitrary<ServiceSpec> =>
  fc
    .record({
      scheduler: fc.constantFrom('rr', 'wrr', 'lc', 'wlc', 'sh', 'mh', 'fo', 'ovf', 'twos'),
      flags: fc.subarray(['flag-1', 'flag-2', 'flag-3'] as const),
      ops: fc.boolean(),
      timeout: fc.option(fc.integer({ min: 1, max: 0xffffff })),
      prefix: famOf(id) === 'inet6' ? fc.integer({ min: 1, max: 128 }) : fc.integer({ min: 0, max: 32 }),
      pe: fc.boolean(),
    })
    .map(({ scheduler, flags, ops, timeout, prefix, pe }) => ({
      scheduler,
      flags: [...flags],
      ops,
      ...(timeout !== null ? { persistence: { timeout, netmask: String(prefix) } } : {}),
      ...(pe ? { pe: 'sip' } : {}),
    }));

const arbDest: fc.Arbitrary<Dest> = fc
  .record({
    address: fc.oneof(arbV4, arbV6),
    port: fc.nat(65535),
    forwarding: fc.constantFrom('DR' as const, 'NAT' as const, 'TUN' as const),
    weight: fc.nat(65535),
    uthreshold: fc.nat(),
    lthreshold: fc.nat(),
    tunnel: fc.record({ type: fc.constantFrom('ipip' as const, 'gue' as const, 'gre' as const), port: fc.integer({ min: 1, max: 65535 }), csum: fc.constantFrom(undefined, 'csum' as const, 'remcsum' as const) }),
  })
  .map(({ tunnel, ...d }) => ({
    ...d,
    ...(d.forwarding === 'TUN' ? { tunnel: { type: tunnel.type, ...(tunnel.type === 'gue' ? { port: tunnel.port } : {}), ...(tunnel.csum && tunnel.type !== 'ipip' ? { csum: tunnel.type === 'gre' ? 'csum' : tunnel.csum } : {}) } } : {}),
  }));

describe('IPVS netlink codec: round trips (property)', () => {
  it('a service encoded for NEW/SET_SERVICE decodes to the same normalised id and spec', () => {
    fc.assert(
      fc.property(
        arbId.chain((id) => fc.tuple(fc.constant(id), arbSpec(id))),
        ([id, spec0]) => {
          const spec = normalizeSpec(id, spec0);
          const back = decodeService(encodeAttrs(serviceAttrs(normalizeServiceId(id), spec)));
          expect(back.id).toEqual(normalizeServiceId(id));
          expect(normalizeSpec(back.id, back.spec)).toEqual(spec);
        },
      ),
    );
  });

  it('a destination encoded for NEW/SET_DEST decodes to the same normalised dest (DR/TUN port as ipvsadm sets it)', () => {
    fc.assert(
      fc.property(arbId, arbDest, (id, d0) => {
        const d = normalizeDest(d0);
        const back = decodeDest(encodeAttrs(destAttrs(id, d)), famOf(id));
        const { activeConns, inactiveConns, ...rest } = back;
        expect(activeConns).toBe(0);
        expect(inactiveConns).toBe(0);
        expect(normalizeDest(rest)).toEqual({ ...d, port: effectiveDestPort(id, d) });
      }),
    );
  });

  it('the batch encoder writes exactly the bytes of the attribute-by-attribute one', () => {
    const arbOp: fc.Arbitrary<Operation> = arbId.chain((id) =>
      fc.oneof(
        arbSpec(id).map((spec): Operation => ({ op: 'add-service', service: id, spec: normalizeSpec(id, spec) })),
        arbSpec(id).map((spec): Operation => ({ op: 'edit-service', service: id, spec: normalizeSpec(id, spec) })),
        fc.constant<Operation>({ op: 'delete-service', service: id }),
        arbDest.map((d): Operation => ({ op: 'add-dest', service: id, dest: normalizeDest(d) })),
        arbDest.map((d): Operation => ({ op: 'edit-dest', service: id, dest: normalizeDest(d) })),
        arbDest.map((d): Operation => ({ op: 'delete-dest', service: id, dest: { address: normalizeDest(d).address, port: d.port } })),
      ),
    );
    fc.assert(
      fc.property(fc.array(arbOp, { maxLength: 8 }), (ops) => {
        const batch = operationRequests(0x22, ops).map((r, i) => hex(encodeMessage({ ...r, seq: i })));
        const one = ops.map((o, i) => hex(encodeMessage({ ...operationRequest(0x22, o), seq: i })));
        expect(batch).toEqual(one);
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with the ipvsadm command-line parser on what a line means', () => {
    const lines = [
      '-a -t 10.0.0.1:80 -r 10.0.1.1:8080 -g -w 3',
      '-a -u [2001:db8::1]:53 -r [2001:db8::2]:5353 -m -w 0 -x 10 -y 2',
      '-a -f 5 -6 -r [2001:db8::3]:0 -i -w 1 --tun-type gre --tun-csum',
      '-a -t 10.0.0.1:80 -r 10.0.1.2:80 -i -w 1 --tun-type gue --tun-port 6081 --tun-remcsum',
    ];
    for (const l of lines) {
      const o = parseCommand(l) as Extract<Operation, { op: 'add-dest' }>;
      const back = decodeDest(encodeAttrs(destAttrs(o.service, o.dest)), famOf(o.service));
      expect(normalizeDest({ ...back, activeConns: undefined, inactiveConns: undefined } as Dest)).toMatchObject(normalizeDest(o.dest));
    }
  });
});

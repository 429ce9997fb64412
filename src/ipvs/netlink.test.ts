// The netlink backend against a simulated kernel: a NetlinkTransport that answers generic netlink
// requests from a TableIndex, with the kernel's errnos and its one-dump-at-a-time rule (EBUSY).
// The real kernel is in test/ipvs-real.test.ts (QEMU guest).
import { describe, expect, it } from 'vitest';

import { encodeMessage, GENL_ID_CTRL, NetlinkClient, NLM_F_DUMP, NLMSG_DONE, NLMSG_ERROR, parseAttrs, parseMessages, attr, type NetlinkTransport } from '../net/netlink.js';
import { IpvsError } from './backend.js';
import { ApplyError, TableIndex, plan, type Operation } from './diff.js';
import { parseSave, renderSave } from './ipvsadm.js';
import { destKey, serviceKey, type Service } from './model.js';
import { decodeDest, decodeService, destAttrs, IPVS_CMD, serviceAttrs, serviceKeyAttrs } from './netlink-codec.js';
import { NetlinkIpvsBackend } from './netlink.js';

const FAMILY = 0x23;

class FakeKernel implements NetlinkTransport {
  table = new TableIndex();
  hasIpvs = true;
  transactions = 0;
  conns = new Map<string, number>();
  daemons: { state: number; ifn: string; syncid: number }[] = [];

  transact(request: Uint8Array): Buffer {
    this.transactions++;
    return this.process(request);
  }

  /** One sendmsg's worth of messages: a second dump inside it is refused, as the kernel does. */
  private process(request: Uint8Array): Buffer {
    const out: Buffer[] = [];
    let dumped = false;
    for (const m of parseMessages(Buffer.from(request))) {
      const ack = (errno: number) => {
        const p = Buffer.alloc(20);
        p.writeInt32LE(-errno, 0);
        out.push(encodeMessage({ type: NLMSG_ERROR, flags: 0x100, seq: m.seq, header: p }));
      };
      const data = (attrs: Parameters<typeof encodeMessage>[0]['attrs']) => out.push(encodeMessage({ type: m.type, flags: 2, seq: m.seq, header: Uint8Array.of(0, 1, 0, 0), attrs }));
      const done = () => out.push(encodeMessage({ type: NLMSG_DONE, flags: 2, seq: m.seq, header: Buffer.alloc(4) }));
      if (m.type === GENL_ID_CTRL) {
        if (!this.hasIpvs) ack(2);
        else {
          data([attr.u16(1, FAMILY)]);
          ack(0);
        }
        continue;
      }
      const cmd = m.payload[0];
      const top = parseAttrs(m.payload.subarray(4));
      const svcAttrs = top.get(1);
      const destAttrsBuf = top.get(2);
      const isDump = (m.flags & NLM_F_DUMP) === NLM_F_DUMP;
      if (isDump && dumped) {
        ack(16); // EBUSY: a dump is running on this socket
        continue;
      }
      if (isDump) dumped = true;
      const tbl = this.table.toTable();
      try {
        switch (cmd) {
          case IPVS_CMD.GET_SERVICE:
            for (const s of tbl) data([attr.nested(1, serviceAttrs(s.id, s))]);
            done();
            break;
          case IPVS_CMD.GET_DEST: {
            const id = decodeService(svcAttrs!).id;
            const s = tbl.find((x) => serviceKey(x.id) === serviceKey(id));
            for (const d of s?.dests ?? [])
              data([attr.nested(2, [...destAttrs({ kind: 'fwmark', fwmark: 1, family: 'inet' }, d), attr.u32(7, this.conns.get(`${serviceKey(id)}|${destKey(d)}`) ?? 0), attr.u32(8, 0)])]);
            done();
            break;
          }
          case IPVS_CMD.FLUSH:
            this.table = new TableIndex();
            ack(0);
            break;
          case IPVS_CMD.GET_DAEMON:
            for (const d of this.daemons) data([attr.nested(3, [attr.u32(1, d.state), attr.str(2, d.ifn), attr.u32(3, d.syncid), attr.u16(4, 1472), attr.u16(7, 8848), attr.u8(8, 1), attr.bytes(5, Buffer.from([224, 0, 0, 81]))])]);
            done();
            break;
          case IPVS_CMD.NEW_DAEMON: {
            const a = parseAttrs(top.get(3)!);
            const state = a.get(1)!.readUInt32LE(0);
            if (this.daemons.some((d) => d.state === state)) ack(17);
            else {
              this.daemons.push({ state, ifn: a.get(2)!.toString().replace(/\0.*/, ''), syncid: a.get(3)!.readUInt32LE(0) });
              ack(0);
            }
            break;
          }
          case IPVS_CMD.DEL_DAEMON: {
            const state = parseAttrs(top.get(3)!).get(1)!.readUInt32LE(0);
            if (!this.daemons.some((d) => d.state === state)) ack(3);
            else {
              this.daemons = this.daemons.filter((d) => d.state !== state);
              ack(0);
            }
            break;
          }
          default: {
            const { id, spec } = decodeService(svcAttrs!);
            if ((cmd === IPVS_CMD.NEW_SERVICE || cmd === IPVS_CMD.SET_SERVICE) && spec.scheduler === 'nosuch') {
              ack(2);
              break;
            }
            const fam = id.kind === 'fwmark' ? id.family : id.address.includes(':') ? 'inet6' : 'inet';
            const dest = destAttrsBuf ? decodeDest(destAttrsBuf, fam) : undefined;
            const bare = dest && { address: dest.address, port: dest.port, forwarding: dest.forwarding, weight: dest.weight, uthreshold: dest.uthreshold, lthreshold: dest.lthreshold, ...(dest.tunnel ? { tunnel: dest.tunnel } : {}) };
            const ops: Record<number, () => Operation> = {
              [IPVS_CMD.NEW_SERVICE]: () => ({ op: 'add-service', service: id, spec }),
              [IPVS_CMD.SET_SERVICE]: () => ({ op: 'edit-service', service: id, spec }),
              [IPVS_CMD.DEL_SERVICE]: () => ({ op: 'delete-service', service: id }),
              [IPVS_CMD.NEW_DEST]: () => ({ op: 'add-dest', service: id, dest: bare! }),
              [IPVS_CMD.SET_DEST]: () => ({ op: 'edit-dest', service: id, dest: bare! }),
              [IPVS_CMD.DEL_DEST]: () => ({ op: 'delete-dest', service: id, dest: { address: bare!.address, port: bare!.port } }),
            };
            this.table.apply(ops[cmd as number]!());
            ack(0);
          }
        }
      } catch (e) {
        if (!(e instanceof ApplyError)) throw e;
        const errno = { 'Service already exists': 17, 'No such service': 3, 'Service not defined': 3, 'Destination already exists': 17, 'No such destination': 2 }[e.message] ?? 22;
        ack(errno);
      }
    }
    return Buffer.concat(out);
  }
  /** chunkBytes 1: the addon sends one message at a time and waits for its answer (see netlink.cc). */
  async transactAsync(request: Uint8Array, _timeoutMs?: number, chunkBytes?: number): Promise<Buffer> {
    if (chunkBytes !== 1) return this.transact(request);
    this.transactions++;
    return Buffer.concat(parseMessages(Buffer.from(request)).map((m) => this.process(encodeMessage({ ...m, header: m.payload }))));
  }
  close(): void {}
}

function setup() {
  const kernel = new FakeKernel();
  const backend = new NetlinkIpvsBackend({ client: new NetlinkClient(kernel), modprobe: null });
  return { kernel, backend };
}

const TABLE = [
  '-A -t 10.0.0.1:80 -s wrr -p 300 -M 255.255.255.0',
  '-a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 3',
  '-a -t 10.0.0.1:80 -r 10.0.1.2:8080 -m -w 0 -x 100 -y 10',
  '-a -t 10.0.0.1:80 -r 10.0.1.4:80 -i -w 2 --tun-type gue --tun-port 6080 --tun-csum',
  '-A -u [2001:db8::1]:53 -s mh -o -b flag-1,flag-2',
  '-a -u [2001:db8::1]:53 -r [2001:db8::2]:53 -m -w 1',
  '-A -f 7 -6 -s rr -p 60 -M 64',
  '-a -f 7 -6 -r [2001:db8::9]:0 -g -w 1',
  '-A --sctp-service 10.0.0.3:3868 -s sh -b flag-2',
  '-A -t 10.0.0.9:0 -s lc -p 360',
].join('\n');

describe('NetlinkIpvsBackend (simulated kernel)', () => {
  it('applies a plan as one transaction and reads back the same table, counters included', async () => {
    const { kernel, backend } = setup();
    const desired = parseSave(TABLE);
    const ops = plan(desired, await backend.read(), { manage: 'owned', owned: new Set() });
    const before = kernel.transactions;
    const res = await backend.apply(ops);
    expect(kernel.transactions - before).toBe(1);
    expect(res.script).toContain('-A -t 10.0.0.1:80 -s wrr -p 300 -M 255.255.255.0\n');
    kernel.conns.set('TCP 10.0.0.1:80|10.0.1.1:80', 5);
    const t = await backend.read();
    expect(renderSave(t, { thresholds: true })).toBe(renderSave(desired, { thresholds: true }));
    expect(t.find((s) => serviceKey(s.id) === 'TCP 10.0.0.1:80')?.dests[0]).toMatchObject({ address: '10.0.1.1', activeConns: 5, inactiveConns: 0 });
    expect(plan(desired, t, { manage: 'owned', owned: new Set() })).toEqual([]);
  });

  it("reads every service's destinations in one transaction sent one dump at a time (the kernel runs one dump at a time)", async () => {
    const { kernel, backend } = setup();
    const desired = parseSave(Array.from({ length: 6 }, (_, i) => `-A -t 10.0.0.${i + 1}:80 -s rr\n-a -t 10.0.0.${i + 1}:80 -r 10.0.1.${i + 1}:80 -m -w 1`).join('\n'));
    await backend.apply(plan(desired, [], { manage: 'owned', owned: new Set() }));
    const before = kernel.transactions;
    const t = await backend.read();
    expect(t.map((s: Service) => s.dests.length)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(kernel.transactions - before).toBe(2); // the services, then every service's destinations
  });

  it('a refused operation fails the batch with the operation and ipvsadm words; the rest still runs', async () => {
    const { kernel, backend } = setup();
    await backend.apply(plan(parseSave('-A -t 10.0.0.1:80 -s rr'), [], { manage: 'owned', owned: new Set() }));
    const ops: Operation[] = [
      { op: 'add-service', service: { kind: 'addr', protocol: 'TCP', address: '10.0.0.1', port: 80 }, spec: { scheduler: 'rr', flags: [], ops: false } },
      { op: 'add-service', service: { kind: 'addr', protocol: 'TCP', address: '10.0.0.2', port: 80 }, spec: { scheduler: 'nosuch', flags: [], ops: false } },
      { op: 'edit-dest', service: { kind: 'addr', protocol: 'TCP', address: '10.0.0.1', port: 80 }, dest: { address: '10.0.1.1', port: 80, forwarding: 'NAT', weight: 1, uthreshold: 0, lthreshold: 0 } },
      { op: 'add-service', service: { kind: 'addr', protocol: 'TCP', address: '10.0.0.3', port: 80 }, spec: { scheduler: 'wrr', flags: [], ops: false } },
    ];
    const err = await backend.apply(ops).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpvsError);
    expect(err).toMatchObject({ kind: 'apply-failed' });
    expect((err as IpvsError).details).toEqual([
      '-A -t 10.0.0.1:80 -s rr: Service already exists (EEXIST)',
      '-A -t 10.0.0.2:80 -s nosuch: Scheduler or persistence engine not found (ENOENT)',
      '-e -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1: No such destination (ENOENT)',
    ]);
    expect((err as Error).message).toMatch(/^IPVS refused 3 of 4 operation\(s\): -A -t 10\.0\.0\.1:80 -s rr: Service already exists/);
    expect(renderSave(kernel.table.toTable())).toContain('-A -t 10.0.0.3:80 -s wrr');
  });

  it('flush and sync daemons', async () => {
    const { kernel, backend } = setup();
    await backend.apply(plan(parseSave(TABLE), [], { manage: 'owned', owned: new Set() }));
    await backend.flush();
    expect(await backend.read()).toEqual([]);
    await backend.startDaemon({ role: 'master', interface: 'eth1', syncid: 7 });
    expect(await backend.readDaemons()).toEqual([{ role: 'master', interface: 'eth1', syncid: 7, maxlen: 1472, group: '224.0.0.81', port: 8848, ttl: 1 }]);
    await expect(backend.startDaemon({ role: 'master', interface: 'eth1', syncid: 7 })).rejects.toThrow(/start-daemon master failed: Daemon has already run \(EEXIST\)/);
    await backend.stopDaemon('master');
    await expect(backend.stopDaemon('master')).rejects.toThrow(/No daemon is running/);
    expect(kernel.daemons).toEqual([]);
  });

  it('without the IPVS family: IpvsError no-ipvs with the operator message, after trying modprobe once per call', async () => {
    const kernel = new FakeKernel();
    kernel.hasIpvs = false;
    let modprobes = 0;
    const backend = new NetlinkIpvsBackend({
      client: new NetlinkClient(kernel),
      modprobe: async () => {
        modprobes++;
      },
    });
    const err = await backend.read().catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'no-ipvs' });
    expect((err as Error).message).toMatch(/^IPVS is not available in this kernel \(.*\); load the ip_vs module or use a kernel with CONFIG_IP_VS$/);
    expect(modprobes).toBe(1);
    kernel.hasIpvs = true; // the module got loaded: the next call works
    await expect(backend.read()).resolves.toEqual([]);
  });

  it('service key attributes are all a delete needs', () => {
    expect(serviceKeyAttrs({ kind: 'fwmark', fwmark: 3, family: 'inet' }).map((a) => a.type)).toEqual([1, 5]);
  });
});

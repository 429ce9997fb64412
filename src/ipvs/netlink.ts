// The IPVS backend over generic netlink (family "IPVS"), through the native addon's netlink
// socket (src/net/netlink.ts): no process per call, no family lookup per line.
//
// - read(): one dump of the services, then one dump of destinations per service, all in one
//   transaction whose messages the addon sends one at a time: the kernel runs one dump at a time
//   per socket and answers a dump that arrives while another runs with EBUSY, even inside one
//   sendmsg.
//   The result is the same normalised table as the ipvsadm backend's (`ipvsadm -Sn` merged with
//   `-Ln --thresholds`), ActiveConn/InActConn included.
// - apply(ops): every operation is one message with NLM_F_ACK, all in ONE transaction; the kernel
//   runs every message (as `ipvsadm -R` runs every line) and answers each, so a refusal names its
//   operation. ApplyResult.script is the equivalent `ipvsadm -R` script, for logs and tests.
// - Without the IPVS family (no ip_vs module, or a kernel without CONFIG_IP_VS) it first tries
//   `modprobe ip_vs`, as ipvsadm does, then fails with IpvsError 'no-ipvs'.
import { execFile } from 'node:child_process';

import { NETLINK_GENERIC, NetlinkClient, replyErrorText, resolveGenlFamilySync, type Reply, type Request } from '../net/netlink.js';
import { IpvsError, type ApplyResult, type IpvsBackend, type IpvsTimeouts, type SyncDaemon, type SyncDaemonRole } from './backend.js';
import type { Operation } from './diff.js';
import { renderOperation, renderScript } from './ipvsadm.js';
import { normalizeTable, serviceFamily, type IpvsTable, type Service } from './model.js';
import {
  decodeDaemonMessage,
  decodeDestMessage,
  decodeServiceMessage,
  decodeTimeoutsMessage,
  dumpDaemonsRequest,
  dumpDestsRequest,
  dumpServicesRequest,
  flushRequest,
  getTimeoutsRequest,
  IPVS_GENL_NAME,
  operationRequests,
  refusalText,
  setTimeoutsRequest,
  startDaemonRequest,
  stopDaemonRequest,
} from './netlink-codec.js';


export interface NetlinkIpvsBackendOptions {
  /** the netlink client (tests pass one over a fake transport); default: a NETLINK_GENERIC socket */
  client?: NetlinkClient;
  /** ms to wait for the kernel's answers to one transaction (default 60 s) */
  timeoutMs?: number;
  /** runs `modprobe ip_vs` when the family is missing; default execFile('modprobe'); null: never */
  modprobe?: (() => Promise<void>) | null;
}

const defaultModprobe = () =>
  new Promise<void>((resolve) => {
    execFile('modprobe', ['-q', 'ip_vs'], { timeout: 10_000 }, () => resolve());
  });

export class NetlinkIpvsBackend implements IpvsBackend {
  readonly name = 'netlink';
  private client: NetlinkClient | undefined;
  private family: number | undefined;
  private readonly timeoutMs: number;
  private readonly modprobe: (() => Promise<void>) | null;

  constructor(private readonly opts: NetlinkIpvsBackendOptions = {}) {
    this.client = opts.client;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.modprobe = opts.modprobe === undefined ? defaultModprobe : opts.modprobe;
  }

  private socket(): NetlinkClient {
    if (!this.client) {
      try {
        this.client = NetlinkClient.open(NETLINK_GENERIC);
      } catch (e) {
        throw new IpvsError('command-failed', `Cannot open a generic netlink socket for IPVS: ${(e as Error).message}`);
      }
    }
    return this.client;
  }

  /** The IPVS family id; resolved once (after a modprobe if needed), again after a failure. */
  private async familyId(): Promise<number> {
    if (this.family !== undefined) return this.family;
    const client = this.socket();
    const resolve = () => {
      try {
        return resolveGenlFamilySync(client, IPVS_GENL_NAME);
      } catch (e) {
        throw new IpvsError('command-failed', `Cannot look up the generic netlink family ${IPVS_GENL_NAME}: ${(e as Error).message}`);
      }
    };
    let id = resolve();
    if (id === undefined && this.modprobe) {
      await this.modprobe();
      id = resolve();
    }
    if (id === undefined) {
      throw new IpvsError(
        'no-ipvs',
        `IPVS is not available in this kernel (generic netlink has no ${IPVS_GENL_NAME} family, and modprobe ip_vs did not add it); load the ip_vs module or use a kernel with CONFIG_IP_VS`,
      );
    }
    this.family = id;
    return id;
  }

  private async transact(reqs: readonly Request[], what: string, opts: { oneAtATime?: boolean } = {}): Promise<Reply[]> {
    try {
      return await this.socket().request(reqs, this.timeoutMs, opts);
    } catch (e) {
      throw new IpvsError('command-failed', `IPVS ${what} over netlink failed: ${(e as Error).message}`);
    }
  }

  private transactOneAtATime(reqs: readonly Request[], what: string): Promise<Reply[]> {
    return reqs.length ? this.transact(reqs, what, { oneAtATime: true }) : Promise.resolve([]);
  }

  private static fail(kind: 'command-failed', what: string, r: Reply): IpvsError {
    const text = replyErrorText(r);
    return new IpvsError(kind, `IPVS ${what} failed: ${text}`, [text]);
  }

  async read(): Promise<IpvsTable> {
    const fam = await this.familyId();
    const [svcReply] = await this.transact([dumpServicesRequest(fam)], 'service dump');
    if (!svcReply) throw new IpvsError('command-failed', 'IPVS service dump: no answer');
    if (svcReply.errno) throw NetlinkIpvsBackend.fail('command-failed', 'service dump', svcReply);
    const services: Service[] = svcReply.messages.map((m) => {
      const { id, spec } = decodeServiceMessage(m);
      return { id, ...spec, dests: [] };
    });
    // All destination dumps in one transaction, sent one at a time: the kernel runs one dump at
    // a time per socket and refuses a dump that arrives while another runs (EBUSY), even within
    // one sendmsg (checked on Linux 6.1, test/ipvs-real.test.ts 'netlink facts').
    const replies = await this.transactOneAtATime(services.map((s) => dumpDestsRequest(fam, s.id)), 'destination dump');
    for (const [i, s] of services.entries()) {
      const r = replies[i];
      if (!r) throw new IpvsError('command-failed', 'IPVS destination dump: no answer');
      if (r.errno) throw NetlinkIpvsBackend.fail('command-failed', 'destination dump', r);
      const fam6 = serviceFamily(s.id);
      s.dests = r.messages.map((m) => decodeDestMessage(m, fam6));
    }
    return normalizeTable(services);
  }

  async apply(ops: readonly Operation[]): Promise<ApplyResult> {
    const script = renderScript(ops);
    if (!ops.length) return { script, durationMs: 0 };
    const fam = await this.familyId();
    const t0 = performance.now();
    const replies = await this.transact(
      operationRequests(fam, ops),
      'apply',
    );
    const refused: string[] = [];
    for (const [i, r] of replies.entries()) {
      if (!r.errno) continue;
      const o = ops[i] as Operation;
      refused.push(`${renderOperation(o)}: ${refusalText(o.op, r.errno)} (${replyErrorText(r)})`);
    }
    if (refused.length) {
      throw new IpvsError('apply-failed', `IPVS refused ${refused.length} of ${ops.length} operation(s): ${refused.slice(0, 5).join('; ')}${refused.length > 5 ? `; ... (${refused.length - 5} more)` : ''}`, refused);
    }
    return { script, durationMs: performance.now() - t0 };
  }

  async flush(): Promise<void> {
    const fam = await this.familyId();
    const [r] = await this.transact([flushRequest(fam)], 'flush');
    if (r?.errno) throw NetlinkIpvsBackend.fail('command-failed', 'flush', r);
  }

  async readDaemons(): Promise<SyncDaemon[]> {
    const fam = await this.familyId();
    const [r] = await this.transact([dumpDaemonsRequest(fam)], 'sync daemon dump');
    if (!r) return [];
    if (r.errno) throw NetlinkIpvsBackend.fail('command-failed', 'sync daemon dump', r);
    return r.messages.map(decodeDaemonMessage).filter((d): d is SyncDaemon => d !== undefined);
  }

  async startDaemon(d: SyncDaemon): Promise<void> {
    const fam = await this.familyId();
    const [r] = await this.transact([startDaemonRequest(fam, d)], `start-daemon ${d.role}`);
    if (r?.errno) throw new IpvsError('command-failed', `IPVS start-daemon ${d.role} failed: ${refusalText('start-daemon', r.errno)} (${replyErrorText(r)})`);
  }

  async stopDaemon(role: SyncDaemonRole): Promise<void> {
    const fam = await this.familyId();
    const [r] = await this.transact([stopDaemonRequest(fam, role)], `stop-daemon ${role}`);
    if (r?.errno) throw new IpvsError('command-failed', `IPVS stop-daemon ${role} failed: ${refusalText('stop-daemon', r.errno)} (${replyErrorText(r)})`);
  }

  async readTimeouts(): Promise<IpvsTimeouts> {
    const fam = await this.familyId();
    const [r] = await this.transact([getTimeoutsRequest(fam)], 'get timeouts');
    if (!r) throw new IpvsError('command-failed', 'IPVS get timeouts: no answer');
    if (r.errno) throw NetlinkIpvsBackend.fail('command-failed', 'get timeouts', r);
    const m = r.messages[0];
    if (!m) throw new IpvsError('command-failed', 'IPVS get timeouts: the kernel answered without the timeouts');
    return decodeTimeoutsMessage(m);
  }

  async setTimeouts(t: IpvsTimeouts): Promise<void> {
    const fam = await this.familyId();
    const [r] = await this.transact([setTimeoutsRequest(fam, t)], 'set timeouts');
    if (r?.errno) throw new IpvsError('command-failed', `IPVS set timeouts failed: ${replyErrorText(r)}`);
  }

  /** Closes the socket (a later call opens a new one). */
  close(): void {
    this.client?.close();
    if (!this.opts.client) this.client = undefined;
    this.family = undefined;
  }
}

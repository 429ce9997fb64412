/**
 * The VRRP driver's side effects, per instance and in the machine's order: VIPs added or removed
 * (one batch per transition), gratuitous ARP / NA bursts once the VIPs are in place (and only while
 * they still are), notifies after the VIP change they announce. Each instance's effects run on its
 * own promise chain, so one instance's slow script never delays another's VIPs.
 *
 * The result of a VIP change goes back to the driver (`onVips`): a MASTER whose VIPs could not be
 * added must not hold mastership (the driver faults it and retries). The password (`auth_pass`) is
 * never logged: lines carry names, states and addresses only.
 */
import type { Clock } from '../../sys/clock.js';
import type { Logger } from '../../sys/logger.js';
import type { Vip } from '../../config/schema.js';
import type { GarpExtraIf } from './garp-extra.js';
import type { AddressPort, AnnouncePort, ExtrasPort, InstanceRec, NotifyPort, NotifyRequest, RuntimeEvent } from './types.js';

export interface EffectsDeps {
  addresses: AddressPort;
  announcer: AnnouncePort;
  notifier?: NotifyPort | undefined;
  extras?: ExtrasPort | undefined;
  clock: Clock;
  log: Logger;
  /** Runs log lines and events after the current burst of work (see VrrpRuntimeDeps.defer). */
  later: (fn: () => void) => void;
  emit: (ev: RuntimeEvent) => void;
  /** Whether the driver has stopped (a GARP burst queued before then is not sent). */
  stopped: () => boolean;
  /** The outcome of a VIP change, on the instance's chain (the driver decides what it means). */
  onVips: (rec: InstanceRec, action: 'added' | 'removed', error: string | undefined) => void;
  /** garp_extra_if: the periodic GARPs on the VIPs' other interfaces while MASTER. */
  garpExtra?: GarpExtraIf | undefined;
}

export class InstanceEffects {
  constructor(private readonly d: EffectsDeps) {}

  /** Runs `op` after everything queued for `rec` so far, whatever became of it. */
  enqueue(rec: InstanceRec, op: () => Promise<void>): void {
    rec.chain = rec.chain.then(op, op);
  }

  /** Adds (or removes) the instance's VIPs as one batch, after its earlier effects. */
  vips(rec: InstanceRec, action: 'added' | 'removed'): void {
    if (action === 'added') rec.garpAbort = new AbortController();
    else rec.garpAbort.abort();
    this.enqueue(rec, () => this.vipOp(rec, action));
  }

  /**
   * A reload changed the VIP list of an instance that holds its VIPs: remove the ones that went,
   * add (and announce) the new ones, leave the rest untouched. A failed add is reported like a
   * failed takeover (`onVips`).
   */
  vipDelta(rec: InstanceRec, added: readonly Vip[], removed: readonly Vip[], garpRepeat: number): void {
    const { log, later, emit, clock } = this.d;
    const dev = rec.resolved.defaultDev;
    const vrid = rec.resolved.wire.vrid;
    const names = (vs: readonly Vip[]) => vs.map((v) => `${v.address}/${v.prefix}`);
    this.enqueue(rec, async () => {
      let error: string | undefined;
      try {
        if (removed.length) await this.d.addresses.removeVips(removed, dev);
        if (added.length) await this.d.addresses.addVips(added, dev);
      } catch (err) {
        error = errMsg(err);
      }
      const at = clock.now();
      later(() => {
        if (error === undefined) log.info({ instance: rec.name, vrid, added: names(added), removed: names(removed) }, `${rec.name}: VIP list changed by reload`);
        else log.error({ instance: rec.name, vrid, err: error }, `${rec.name}: VIP list change failed`);
        emit({ type: 'vips', at, instance: rec.name, action: 'added', ok: error === undefined, ...(error ? { error } : {}) });
      });
      if (added.length && error === undefined && !rec.garpAbort.signal.aborted && garpRepeat > 0) {
        const signal = rec.garpAbort.signal;
        Promise.resolve()
          .then(() => this.d.announcer.announce(added, dev, { repeat: garpRepeat, intervalMs: 0, signal }))
          .catch((err: unknown) => log.warn({ instance: rec.name, vrid, err: errMsg(err) }, 'gratuitous ARP / NA burst failed'));
      }
      if (added.length) this.d.onVips(rec, 'added', error);
    });
  }

  /** A GARP / NA burst after the VIPs are in place; not on the chain itself, so a long burst never delays a removal. */
  announce(rec: InstanceRec, burst: { repeat: number; intervalMs: number; cause: string }): void {
    const { repeat, intervalMs, cause } = burst;
    const signal = rec.garpAbort.signal;
    const vrid = rec.resolved.wire.vrid;
    void rec.chain.then(async () => {
      if (signal.aborted || this.d.stopped()) return;
      try {
        await this.d.announcer.announce(rec.resolved.vips, rec.resolved.defaultDev, { repeat, intervalMs, signal });
        this.d.log.debug({ instance: rec.name, vrid, repeat, cause }, 'gratuitous ARP / NA burst sent');
      } catch (err) {
        this.d.log.warn({ instance: rec.name, vrid, err: errMsg(err) }, 'gratuitous ARP / NA burst failed');
      }
    });
  }

  /** A notify (scripts, FIFO lines) after the instance's earlier effects. */
  notifyInstance(rec: InstanceRec, req: NotifyRequest): void {
    this.enqueue(rec, () => this.notify(req));
  }

  /** A notify now (a sync group's, after its members' chains: the caller waits for those). */
  async notify(req: NotifyRequest): Promise<void> {
    if (!this.d.notifier) return;
    try {
      await this.d.notifier.notify(req);
    } catch (err) {
      this.d.log.warn({ [req.kind]: req.name, state: req.state, err: errMsg(err) }, 'notify failed');
    }
  }

  private async vipOp(rec: InstanceRec, action: 'added' | 'removed'): Promise<void> {
    const { vips, defaultDev } = rec.resolved;
    const { clock, log, later, emit } = this.d;
    const t0 = clock.now();
    let error: string | undefined;
    try {
      if (action === 'added') await this.d.addresses.addVips(vips, defaultDev);
      else {
        // routes and rules through the VIPs go first (keepalived's order: rules, routes, VIPs)
        await this.d.extras?.leave(rec.resolved, rec.config);
        try {
          await this.d.addresses.removeVips(vips, defaultDev);
        } finally {
          await this.d.extras?.left(rec.resolved, rec.config);
        }
      }
    } catch (err) {
      error = errMsg(err);
    }
    const at = clock.now();
    later(() => {
      if (error === undefined) {
        log.info({ instance: rec.name, vrid: rec.resolved.wire.vrid, vips: vips.map((v) => `${v.address}/${v.prefix}`), ms: Math.round(at - t0) }, `${rec.name}: VIPs ${action}`);
        emit({ type: 'vips', at, instance: rec.name, action, ok: true });
      } else {
        log.error({ instance: rec.name, vrid: rec.resolved.wire.vrid, err: error }, `${rec.name}: VIPs could not be ${action}`);
        emit({ type: 'vips', at, instance: rec.name, action, ok: false, error });
      }
    });
    this.d.onVips(rec, action, error);
    // not awaited: the GARP burst waits for this chain and must not wait for `ip` (the extras
    // serialise an instance's leave after its master themselves)
    if (action === 'added' && error === undefined) {
      void this.d.extras?.master(rec.resolved, rec.config);
      this.d.garpExtra?.start(rec);
    }
  }
}

export function errMsg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

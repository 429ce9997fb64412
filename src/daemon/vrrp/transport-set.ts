/**
 * The VRRP sockets of the running instances: one transport per socket (per interface, family and
 * unicast TTL for raw sockets; per family for UDP), and which transport each instance sends
 * through and accepts adverts from. A reload opens the sockets whose instance set changed, swaps
 * them in, and retires the old ones after their last adverts (a stopped MASTER's priority 0) went
 * out; counters of retired sockets are kept, so totals never go backwards.
 */
import { DROP_REASONS } from '../../vrrp/packet.js';
import type { InstanceTransportStats, TransportInstance } from '../../vrrp/advert-demux.js';
import type { TransportFactory, TransportHandlers, TransportStats, VrrpTransport } from './socket.js';

/** One socket's transport and the instances it serves. */
export interface TransportSlot {
  key: string;
  transport: VrrpTransport;
  instances: TransportInstance[];
}

/** Counters of transports closed by reloads, so the totals never go backwards. */
interface RetiredStats {
  unknownVrid: number;
  dropped: TransportStats['dropped'];
  instances: Record<string, InstanceTransportStats>;
}

function emptyRetired(): RetiredStats {
  return { unknownVrid: 0, dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as TransportStats['dropped'], instances: {} };
}

function addInstanceStats(into: Record<string, InstanceTransportStats>, name: string, s: InstanceTransportStats): void {
  const t = (into[name] ??= { advertsSent: 0, sendErrors: 0, received: 0, accepted: 0, dropped: {} });
  t.advertsSent += s.advertsSent;
  t.sendErrors += s.sendErrors;
  t.received += s.received;
  t.accepted += s.accepted;
  for (const [r, n] of Object.entries(s.dropped) as [keyof InstanceTransportStats['dropped'], number][]) t.dropped[r] = (t.dropped[r] ?? 0) + n;
}

/**
 * The socket an instance needs: the raw transport opens one per (interface, family, unicast TTL),
 * the UDP transport one per family (both bind the same port, so never two per family).
 */
function socketKey(t: TransportInstance, kind: VrrpTransport['kind']): string {
  const w = t.wire;
  if (kind === 'udp') return `udp/ipv${w.family}`;
  const ttl = w.unicastPeers.length > 0 ? w.unicastTtl : 255;
  return `${w.interface ?? '*'}/ipv${w.family}${ttl === 255 ? '' : `/ttl${ttl}`}`;
}

export class TransportSet {
  /** One transport per socket, by `socketKey`. */
  private readonly slots = new Map<string, TransportSlot>();
  /** The transport each instance sends through and accepts adverts from. */
  private readonly routes = new Map<string, VrrpTransport>();
  /** Transports a reload retired, until flushed and closed. */
  private readonly closing = new Set<VrrpTransport>();
  private readonly retired: RetiredStats = emptyRetired();
  private kind: VrrpTransport['kind'] | undefined;

  /** Adverts and drops reach `handlers` only for instances routed to the transport that got them. */
  constructor(
    private readonly factory: TransportFactory,
    private readonly handlers: TransportHandlers,
  ) {}

  /** Instances grouped by the socket they need (config order kept within a socket). */
  partition(list: readonly TransportInstance[]): Map<string, TransportInstance[]> {
    const out = new Map<string, TransportInstance[]>();
    if (list.length === 0) return out;
    if (this.kind === undefined) {
      // Constructing a transport opens nothing (`open()` does): ask one which kind it is.
      const probe = this.factory(list, { onAdvert: () => undefined });
      this.kind = probe.kind;
      probe.close();
    }
    for (const t of list) {
      const key = socketKey(t, this.kind);
      const l = out.get(key);
      if (l) l.push(t);
      else out.set(key, [t]);
    }
    return out;
  }

  /** The parts whose socket is new or serves a different set of instances. */
  changed(parts: Map<string, TransportInstance[]>, same: (a: readonly TransportInstance[], b: readonly TransportInstance[]) => boolean): [string, TransportInstance[]][] {
    return [...parts].filter(([key, list]) => {
      const cur = this.slots.get(key);
      return !cur || !same(cur.instances, list);
    });
  }

  /** Opens one transport per entry; on failure closes those it opened and throws. Nothing is routed yet. */
  async open(parts: readonly (readonly [string, TransportInstance[]])[]): Promise<TransportSlot[]> {
    const opened: TransportSlot[] = [];
    try {
      for (const [key, instances] of parts) {
        const transport = this.create(instances);
        opened.push({ key, transport, instances });
        await transport.open();
      }
    } catch (err) {
      for (const s of opened) s.transport.close();
      throw err;
    }
    return opened;
  }

  /**
   * Routes the instances of `parts` through `opened` (new) and the kept slots; slots that are no
   * longer needed or were replaced move to `closing` and are returned (flush, then `retire`).
   */
  install(opened: readonly TransportSlot[], parts: ReadonlyMap<string, unknown>): VrrpTransport[] {
    const retiring: VrrpTransport[] = [];
    for (const [key, slot] of this.slots) {
      if (!parts.has(key) || opened.some((o) => o.key === key)) {
        retiring.push(slot.transport);
        this.closing.add(slot.transport);
        this.slots.delete(key);
      }
    }
    for (const s of opened) this.slots.set(s.key, s);
    this.routes.clear();
    for (const s of this.slots.values()) for (const t of s.instances) this.routes.set(t.wire.name, s.transport);
    return retiring;
  }

  /** The transport `instance` is routed to. */
  route(instance: string): VrrpTransport | undefined {
    return this.routes.get(instance);
  }

  get size(): number {
    return this.slots.size;
  }

  /** Every transport, retiring ones included. */
  all(): VrrpTransport[] {
    return [...[...this.slots.values()].map((s) => s.transport), ...this.closing];
  }

  /** Closes a transport a reload retired, keeping its counters for instances that still run. */
  retire(t: VrrpTransport, running: (instance: string) => boolean): void {
    const s = t.stats();
    this.retired.unknownVrid += s.unknownVrid;
    for (const r of DROP_REASONS) this.retired.dropped[r] += s.dropped[r] ?? 0;
    for (const [name, st] of Object.entries(s.instances)) if (running(name)) addInstanceStats(this.retired.instances, name, st);
    for (const name of Object.keys(this.retired.instances)) if (!running(name)) delete this.retired.instances[name];
    t.close();
    this.closing.delete(t);
  }

  /** Closes everything. */
  closeAll(): void {
    for (const t of this.all()) t.close();
    this.slots.clear();
    this.routes.clear();
    this.closing.clear();
  }

  stats(): TransportStats | undefined {
    if (this.kind === undefined) return undefined;
    const out: TransportStats = {
      kind: this.kind,
      sockets: [],
      unknownVrid: this.retired.unknownVrid,
      dropped: { ...this.retired.dropped },
      instances: {},
    };
    for (const [name, st] of Object.entries(this.retired.instances)) addInstanceStats(out.instances, name, st);
    for (const t of this.all()) {
      const s = t.stats();
      out.sockets.push(...s.sockets);
      out.unknownVrid += s.unknownVrid;
      for (const r of DROP_REASONS) out.dropped[r] += s.dropped[r] ?? 0;
      for (const [name, st] of Object.entries(s.instances)) addInstanceStats(out.instances, name, st);
    }
    return out;
  }

  /** A transport whose adverts count only while the instance is routed to it (a reload swaps them). */
  private create(list: readonly TransportInstance[]): VrrpTransport {
    let self: VrrpTransport | undefined;
    const routed = (instance: string): boolean => self !== undefined && this.routes.get(instance) === self;
    const h = this.handlers;
    self = this.factory(list, {
      onAdvert: (rx) => {
        if (routed(rx.instance)) h.onAdvert(rx);
      },
      onDrop: (d) => {
        if (d.instance === undefined || routed(d.instance)) h.onDrop?.(d);
      },
      ...(h.onError ? { onError: h.onError } : {}),
      ...(h.onOldUnicastChecksum ? { onOldUnicastChecksum: h.onOldUnicastChecksum } : {}),
    });
    return self;
  }
}

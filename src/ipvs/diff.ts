// plan(desired, actual) → the minimal ordered list of IPVS operations. PURE.
//
// - Services and destinations are matched by identity key (model.ts); a difference in a settable
//   field is an edit in place (`ipvsadm -E` / `-e`). A service whose scheduler, flags, persistence,
//   persistence engine or ops changed is EDITED, never deleted and re-added, so its connections,
//   persistence templates and counters survive.
// - `manage: 'owned'`: a service in `actual` that is not desired is deleted only if its key is in
//   `owned` (services this vipkeeper programmed earlier); every other service is foreign and left
//   untouched. `manage: 'exclusive'`: every service that is not desired is deleted.
// - Within a desired service vipkeeper owns every destination: unknown destinations are deleted.
// - Order: per service (by key): add or edit the service, then add destinations, edit them, delete
//   them (adds first, so a pool being replaced never passes through empty); finally delete the
//   services that go. Applied as one `ipvsadm -R` batch.
import {
  byServiceKey,
  cloneTable,
  destKey,
  destSpecEqual,
  destSpecOf,
  serviceKey,
  serviceSpecEqual,
  specOf,
  type Dest,
  type IpvsTable,
  type Service,
  type ServiceId,
  type ServiceSpec,
} from './model.js';

export type Operation =
  | { op: 'add-service'; service: ServiceId; spec: ServiceSpec }
  | { op: 'edit-service'; service: ServiceId; spec: ServiceSpec }
  | { op: 'delete-service'; service: ServiceId }
  | { op: 'add-dest'; service: ServiceId; dest: Dest }
  | { op: 'edit-dest'; service: ServiceId; dest: Dest }
  | { op: 'delete-dest'; service: ServiceId; dest: { address: string; port: number } };

export type ManageMode = 'owned' | 'exclusive';

export interface PlanOptions {
  manage: ManageMode;
  /** keys (`serviceKey`) of services vipkeeper programmed before; desired keys are owned implicitly */
  owned: ReadonlySet<string>;
}

/** Both tables must be normalised (model.ts `normalizeTable`); `ipvsadm` reads and `desiredTable` are. */
export function plan(desired: readonly Service[], actual: readonly Service[], opts: PlanOptions): Operation[] {
  const ops: Operation[] = [];
  const have = new Map(actual.map((s) => [serviceKey(s.id), s]));
  const want = new Map(desired.map((s) => [serviceKey(s.id), s]));

  for (const d of [...desired].sort(byServiceKey)) {
    const a = have.get(serviceKey(d.id));
    if (!a) {
      ops.push({ op: 'add-service', service: d.id, spec: specOf(d) });
      for (const dest of d.dests) ops.push({ op: 'add-dest', service: d.id, dest: bare(dest) });
      continue;
    }
    if (!serviceSpecEqual(d, a)) ops.push({ op: 'edit-service', service: d.id, spec: specOf(d) });
    const cur = new Map(a.dests.map((x) => [destKey(x), x]));
    const next = new Set(d.dests.map(destKey));
    const adds: Operation[] = [];
    const edits: Operation[] = [];
    for (const dest of d.dests) {
      const c = cur.get(destKey(dest));
      if (!c) adds.push({ op: 'add-dest', service: d.id, dest: bare(dest) });
      else if (!destSpecEqual(dest, c)) edits.push({ op: 'edit-dest', service: d.id, dest: bare(dest) });
    }
    const dels: Operation[] = a.dests
      .filter((x) => !next.has(destKey(x)))
      .map((x) => ({ op: 'delete-dest', service: d.id, dest: { address: x.address, port: x.port } }));
    ops.push(...adds, ...edits, ...dels);
  }

  for (const a of [...actual].sort(byServiceKey)) {
    const key = serviceKey(a.id);
    if (want.has(key)) continue;
    if (opts.manage === 'exclusive' || opts.owned.has(key)) ops.push({ op: 'delete-service', service: a.id });
  }
  return ops;
}

function bare(d: Dest): Dest {
  return { address: d.address, port: d.port, ...destSpecOf(d) };
}

/** Why an operation cannot apply to a table (the kernel's errors, in ipvsadm's words). */
export class ApplyError extends Error {
  constructor(
    message: string,
    readonly operation: Operation,
  ) {
    super(message);
    this.name = 'ApplyError';
  }
}

/**
 * A table indexed by service and destination key, to apply operations as the kernel would, in
 * O(1) each (a 10 000-destination table is applied and read back in one pass).
 */
export class TableIndex {
  private readonly services = new Map<string, { svc: Service; dests: Map<string, Dest> }>();

  constructor(table: readonly Service[] = []) {
    for (const s of cloneTable(table)) this.services.set(serviceKey(s.id), { svc: s, dests: new Map(s.dests.map((d) => [destKey(d), d])) });
  }

  /** Applies one operation; throws ApplyError with ipvsadm's message when the kernel would refuse it. */
  apply(o: Operation): void {
    const key = serviceKey(o.service);
    const cur = this.services.get(key);
    switch (o.op) {
      case 'add-service':
        if (cur) throw new ApplyError('Service already exists', o);
        this.services.set(key, { svc: { id: { ...o.service }, ...cloneSpec(o.spec), dests: [] }, dests: new Map() });
        return;
      case 'edit-service':
        if (!cur) throw new ApplyError('No such service', o);
        cur.svc = { id: cur.svc.id, ...cloneSpec(o.spec), dests: [] };
        return;
      case 'delete-service':
        if (!cur) throw new ApplyError('No such service', o);
        this.services.delete(key);
        return;
    }
    if (!cur) throw new ApplyError('Service not defined', o);
    const dk = destKey(o.dest);
    const d = cur.dests.get(dk);
    switch (o.op) {
      case 'add-dest':
        if (d) throw new ApplyError('Destination already exists', o);
        cur.dests.set(dk, { ...o.dest, ...(o.dest.tunnel ? { tunnel: { ...o.dest.tunnel } } : {}) });
        return;
      case 'edit-dest':
        if (!d) throw new ApplyError('No such destination', o);
        cur.dests.set(dk, {
          ...o.dest,
          ...(o.dest.tunnel ? { tunnel: { ...o.dest.tunnel } } : {}),
          ...(d.activeConns !== undefined ? { activeConns: d.activeConns } : {}),
          ...(d.inactiveConns !== undefined ? { inactiveConns: d.inactiveConns } : {}),
        });
        return;
      case 'delete-dest':
        if (!d) throw new ApplyError('No such destination', o);
        cur.dests.delete(dk);
        return;
    }
  }

  /** The table, sorted by service key and each service's destinations by dest key. */
  toTable(): IpvsTable {
    return [...this.services.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([, { svc, dests }]) => ({ ...svc, dests: [...dests.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, d]) => d) }));
  }
}

function cloneSpec(s: ServiceSpec): ServiceSpec {
  return { ...s, flags: [...s.flags], ...(s.persistence ? { persistence: { ...s.persistence } } : {}) };
}

/** Applies one operation to a table in place (small tables; use TableIndex for many operations). */
export function applyOperation(table: Service[], o: Operation): void {
  const idx = new TableIndex(table);
  idx.apply(o);
  table.splice(0, table.length, ...idx.toTable());
}

/** The table after a plan, as the kernel would leave it (pure; throws on the first refused operation). */
export function applyPlan(table: readonly Service[], ops: readonly Operation[]): IpvsTable {
  const idx = new TableIndex(table);
  for (const o of ops) idx.apply(o);
  return idx.toTable();
}

/** A one-line description of an operation, for logs and dry runs. */
export function describeOperation(o: Operation): string {
  const s = serviceKey(o.service);
  switch (o.op) {
    case 'add-service':
    case 'edit-service':
      return `${o.op} ${s} ${o.spec.scheduler}${o.spec.persistence ? ` persistent ${o.spec.persistence.timeout}` : ''}`;
    case 'delete-service':
      return `delete-service ${s}`;
    case 'add-dest':
    case 'edit-dest':
      return `${o.op} ${s} -> ${destKey(o.dest)} ${o.dest.forwarding} weight ${o.dest.weight}`;
    case 'delete-dest':
      return `delete-dest ${s} -> ${destKey(o.dest)}`;
  }
}

/** Counts per kind, e.g. for `vipkeeper diff` and status. */
export function summarizePlan(ops: readonly Operation[]): Record<Operation['op'], number> {
  const out: Record<Operation['op'], number> = { 'add-service': 0, 'edit-service': 0, 'delete-service': 0, 'add-dest': 0, 'edit-dest': 0, 'delete-dest': 0 };
  for (const o of ops) out[o.op]++;
  return out;
}

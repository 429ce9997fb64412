/**
 * VRRP timer formulas and a tiny timer table (sans-IO: deadlines are plain numbers).
 *
 * keepalived keeps every timer in integer microseconds (`TIMER_HZ = 1 000 000`) and truncates
 * with integer division (docs/vrrp.md §3). We do the same arithmetic in µs and only convert to
 * milliseconds at the edge, so our deadlines are keepalived's values exactly: for example the
 * v2 Master_Down_Interval at priority 100 is 3 609 375 µs = 3609.375 ms. Deadlines are
 * therefore not always whole milliseconds; a driver that can only sleep in whole ms just wakes
 * up a little late (an early `handleTimeout` is a harmless no-op).
 */

/** Microseconds per second, as keepalived's `TIMER_HZ`. */
export const TIMER_HZ = 1_000_000;
/** Microseconds per centisecond, as keepalived's `TIMER_CENTI_HZ` (the v3 wire unit). */
export const TIMER_CENTI_HZ = 10_000;

export type VrrpVersion = 2 | 3;

/** Milliseconds (possibly fractional) to integer microseconds. */
export function msToUs(ms: number): number {
  return Math.round(ms * 1000);
}

/** Integer microseconds to (possibly fractional) milliseconds. */
export function usToMs(us: number): number {
  return us / 1000;
}

function checkPriority(priority: number): void {
  if (!Number.isInteger(priority) || priority < 1 || priority > 255) {
    throw new RangeError(`Invalid VRRP priority "${priority}": expected an integer 1..255`);
  }
}

/**
 * Skew_Time in µs (docs/vrrp.md §3; keepalived `VRRP_TIMER_SKEW_CALC`).
 * - v2 (RFC 3768): (256 − Priority) / 256 s, independent of the advert interval.
 * - v3 (RFC 5798): ((256 − Priority) × Master_Adver_Interval) / 256, where Master_Adver_Interval
 *   is the interval LEARNED from the master (a Backup adopts it). keepalived computes
 *   `(256−p) · (MAI / 10000) · 625 / 16`, i.e. it first truncates MAI to whole centiseconds.
 * `priority` is the EFFECTIVE priority (after track weights; 255 for an owner).
 */
export function skewTimeUs(version: VrrpVersion, priority: number, masterAdvertIntervalUs: number): number {
  checkPriority(priority);
  return skewCalcUs(version, 256 - priority, masterAdvertIntervalUs);
}

/** keepalived `VRRP_TIMER_SKEW_MIN`: the skew for one priority step, used by the sync-group start. */
export function skewMinUs(version: VrrpVersion, masterAdvertIntervalUs: number): number {
  return skewCalcUs(version, 1, masterAdvertIntervalUs);
}

function skewCalcUs(version: VrrpVersion, prioSteps: number, masterAdvertIntervalUs: number): number {
  if (version === 3) {
    const centis = Math.floor(masterAdvertIntervalUs / TIMER_CENTI_HZ);
    return Math.floor((prioSteps * centis * 625) / 16);
  }
  return Math.floor((prioSteps * TIMER_HZ) / 256);
}

/**
 * Master_Down_Interval in µs (docs/vrrp.md §3): `down_timer_adverts × Master_Adver_Interval + Skew_Time`.
 * `downTimerAdverts` is keepalived's `down_timer_adverts` (RFC value and default 3).
 * In v2 Master_Adver_Interval is simply the local advert interval (mismatching adverts are dropped).
 */
export function masterDownIntervalUs(
  version: VrrpVersion,
  priority: number,
  masterAdvertIntervalUs: number,
  downTimerAdverts = 3,
): number {
  return downTimerAdverts * masterAdvertIntervalUs + skewTimeUs(version, priority, masterAdvertIntervalUs);
}

/** Skew_Time in ms (see {@link skewTimeUs}). */
export function skewTimeMs(version: VrrpVersion, priority: number, masterAdvertIntervalMs: number): number {
  return usToMs(skewTimeUs(version, priority, msToUs(masterAdvertIntervalMs)));
}

/** Minimum skew in ms (see {@link skewMinUs}). */
export function skewMinMs(version: VrrpVersion, masterAdvertIntervalMs: number): number {
  return usToMs(skewMinUs(version, msToUs(masterAdvertIntervalMs)));
}

/** Master_Down_Interval in ms (see {@link masterDownIntervalUs}). */
export function masterDownIntervalMs(
  version: VrrpVersion,
  priority: number,
  masterAdvertIntervalMs: number,
  downTimerAdverts = 3,
): number {
  return usToMs(masterDownIntervalUs(version, priority, msToUs(masterAdvertIntervalMs), downTimerAdverts));
}

/**
 * Timers as data (the quinn-proto `TimerTable` idea). Each named timer holds zero or more
 * deadlines; most hold at most one (`set` replaces), a few queue several (`add`), e.g. keepalived
 * starts one delayed lower-priority GARP burst per lower-priority advert received.
 */
export class TimerTable<K extends string> {
  private readonly slots = new Map<K, number[]>();

  /** Replace every deadline of `key` by `at`. */
  set(key: K, at: number): void {
    this.slots.set(key, [at]);
  }

  /** Queue one more deadline for `key`. */
  add(key: K, at: number): void {
    const list = this.slots.get(key) ?? [];
    list.push(at);
    list.sort((a, b) => a - b);
    this.slots.set(key, list);
  }

  stop(key: K): void {
    this.slots.delete(key);
  }

  /** The earliest deadline of `key`, if armed. */
  get(key: K): number | undefined {
    return this.slots.get(key)?.[0];
  }

  /** Every deadline of `key`, earliest first. */
  all(key: K): readonly number[] {
    return this.slots.get(key) ?? [];
  }

  /** Move every deadline of `key` by `deltaMs`. */
  shift(key: K, deltaMs: number): void {
    const list = this.slots.get(key);
    if (!list) return;
    this.slots.set(
      key,
      list.map((at) => at + deltaMs),
    );
  }

  /** The earliest deadline over all timers. */
  next(): number | undefined {
    let best: number | undefined;
    for (const list of this.slots.values()) {
      const first = list[0];
      if (first !== undefined && (best === undefined || first < best)) best = first;
    }
    return best;
  }

  /**
   * Remove and return the earliest deadline that is ≤ now. Ties are broken by `order`
   * (the position of the key in it), so expiry handling is deterministic.
   */
  popExpired(now: number, order: readonly K[]): { key: K; at: number } | undefined {
    let best: { key: K; at: number; rank: number } | undefined;
    for (const [key, list] of this.slots) {
      const first = list[0];
      if (first === undefined || first > now) continue;
      const rank = order.indexOf(key);
      if (!best || first < best.at || (first === best.at && rank < best.rank)) best = { key, at: first, rank };
    }
    if (!best) return undefined;
    const list = this.slots.get(best.key);
    list?.shift();
    if (list && list.length === 0) this.slots.delete(best.key);
    return { key: best.key, at: best.at };
  }
}

/**
 * The parameters of one VRRP instance (src/vrrp/instance.ts): keepalived's defaults, their
 * validation and keepalived's fix-ups. Apart from the state machine, so that the machine's file holds
 * only the machine; instance.ts re-exports all of it, importers need not know.
 */

/** Gratuitous ARP / unsolicited NA schedule (docs/vrrp.md §6, §7). */
export interface GarpParams {
  /** `garp_master_delay`: second burst this long after becoming MASTER; 0 = none. Default 5000. */
  masterDelayMs: number;
  /** `garp_master_repeat`: rounds per burst on becoming MASTER. Default 5. */
  masterRepeat: number;
  /** `garp_master_refresh`: periodic refresh while MASTER; 0 = off (default). */
  masterRefreshMs: number;
  /** `garp_master_refresh_repeat`: rounds per refresh. Default 1. */
  masterRefreshRepeat: number;
  /** `garp_lower_prio_delay`: second lower-priority burst; default = masterDelayMs (5000). */
  lowerPrioDelayMs: number;
  /** `garp_lower_prio_repeat`: rounds per lower-priority burst; default = masterRepeat (5). */
  lowerPrioRepeat: number;
  /** `vrrp_garp_interval` / `vrrp_gna_interval`: spacing of single packets, passed to the driver. Default 0. */
  intervalMs: number;
}

export interface VrrpInstanceParams {
  name: string;
  /** 1..255. */
  vrid: number;
  /** keepalived default 2; IPv6 instances are always 3. */
  version: 2 | 3;
  family: 4 | 6;
  /** Base priority 1..255 (255 = address owner). keepalived default 100 (255 with `state MASTER` and no priority). */
  priority: number;
  /** Configured advert interval. v2: whole seconds 1..255 s; v3: 10 ms steps, 10..40950 ms. Default 1000. */
  advertIntervalMs: number;
  /** keepalived `state`. Default MASTER if priority is 255, else BACKUP. */
  initialState: 'MASTER' | 'BACKUP';
  /** false = `nopreempt`. Default true. Forced true with `state MASTER` or priority 255 (docs/vrrp.md §5.1/§5.5). */
  preempt: boolean;
  /** `preempt_delay`, 0..1 000 000 ms. Default 0. Forced 0 with `state MASTER` (docs/vrrp.md §5.1). */
  preemptDelayMs: number;
  /** Our source address, for the equal-priority tie break (docs/vrrp.md §5.4). */
  primaryIp: string;
  /** `down_timer_adverts` / `vrrp_down_timer_adverts`, 1..100. Default 3. */
  downTimerAdverts: number;
  /** `lower_prio_no_advert`. Default false (strict mode: true). */
  lowerPrioNoAdvert: boolean;
  /** `higher_prio_send_advert`. Default false. */
  higherPrioSendAdvert: boolean;
  /** `owner_ignore_adverts`. Default false (strict mode: true). */
  ownerIgnoreAdverts: boolean;
  garp: GarpParams;
  /** How many transitions `snapshot()` keeps. Default 20. */
  transitionHistory: number;
}

/** The keepalived 2.4 defaults (docs/vrrp.md §6) for every optional parameter. */
export const VRRP_DEFAULTS = {
  version: 2,
  family: 4,
  priority: 100,
  advertIntervalMs: 1000,
  preempt: true,
  preemptDelayMs: 0,
  downTimerAdverts: 3,
  lowerPrioNoAdvert: false,
  higherPrioSendAdvert: false,
  ownerIgnoreAdverts: false,
  transitionHistory: 20,
  garp: {
    masterDelayMs: 5000,
    masterRepeat: 5,
    masterRefreshMs: 0,
    masterRefreshRepeat: 1,
    intervalMs: 0,
  },
} as const;

export type VrrpInstanceInput = Pick<VrrpInstanceParams, 'name' | 'vrid' | 'primaryIp'> &
  Partial<Omit<VrrpInstanceParams, 'name' | 'vrid' | 'primaryIp' | 'garp'>> & { garp?: Partial<GarpParams> };

/**
 * Fill in keepalived's defaults (docs/vrrp.md §5.1, §6):
 * - no priority: 100, or 255 with `state MASTER`;
 * - no state: MASTER if priority 255, else BACKUP;
 * - IPv6: version 3;
 * - lower-priority GARP repeat/delay default to the master repeat/delay.
 */
export function resolveVrrpParams(input: VrrpInstanceInput): VrrpInstanceParams {
  const family = input.family ?? VRRP_DEFAULTS.family;
  const priority =
    input.priority ?? (input.initialState === 'MASTER' ? 255 : VRRP_DEFAULTS.priority);
  const masterDelayMs = input.garp?.masterDelayMs ?? VRRP_DEFAULTS.garp.masterDelayMs;
  const masterRepeat = input.garp?.masterRepeat ?? VRRP_DEFAULTS.garp.masterRepeat;
  return {
    name: input.name,
    vrid: input.vrid,
    primaryIp: input.primaryIp,
    family,
    version: input.version ?? (family === 6 ? 3 : VRRP_DEFAULTS.version),
    priority,
    advertIntervalMs: input.advertIntervalMs ?? VRRP_DEFAULTS.advertIntervalMs,
    initialState: input.initialState ?? (priority === 255 ? 'MASTER' : 'BACKUP'),
    preempt: input.preempt ?? VRRP_DEFAULTS.preempt,
    preemptDelayMs: input.preemptDelayMs ?? VRRP_DEFAULTS.preemptDelayMs,
    downTimerAdverts: input.downTimerAdverts ?? VRRP_DEFAULTS.downTimerAdverts,
    lowerPrioNoAdvert: input.lowerPrioNoAdvert ?? VRRP_DEFAULTS.lowerPrioNoAdvert,
    higherPrioSendAdvert: input.higherPrioSendAdvert ?? VRRP_DEFAULTS.higherPrioSendAdvert,
    ownerIgnoreAdverts: input.ownerIgnoreAdverts ?? VRRP_DEFAULTS.ownerIgnoreAdverts,
    transitionHistory: input.transitionHistory ?? VRRP_DEFAULTS.transitionHistory,
    garp: {
      masterDelayMs,
      masterRepeat,
      masterRefreshMs: input.garp?.masterRefreshMs ?? VRRP_DEFAULTS.garp.masterRefreshMs,
      masterRefreshRepeat: input.garp?.masterRefreshRepeat ?? VRRP_DEFAULTS.garp.masterRefreshRepeat,
      lowerPrioDelayMs: input.garp?.lowerPrioDelayMs ?? masterDelayMs,
      lowerPrioRepeat: input.garp?.lowerPrioRepeat ?? masterRepeat,
      intervalMs: input.garp?.intervalMs ?? VRRP_DEFAULTS.garp.intervalMs,
    },
  };
}

/** Thrown for a local usage error (bad parameters, calling start twice, time going backwards). */
export class VrrpUsageError extends Error {
  override name = 'VrrpUsageError';
}

/** Throws a VrrpUsageError naming what is wrong when `p` cannot run. */
export function validateParams(p: VrrpInstanceParams): void {
  const bad = (what: string): never => {
    throw new VrrpUsageError(`Invalid VRRP instance "${p.name}": ${what}`);
  };
  if (!Number.isInteger(p.vrid) || p.vrid < 1 || p.vrid > 255) bad(`vrid "${p.vrid}" must be 1..255`);
  if (!Number.isInteger(p.priority) || p.priority < 1 || p.priority > 255) bad(`priority "${p.priority}" must be 1..255`);
  if (p.family === 6 && p.version === 2) bad('IPv6 instances must use VRRP version 3');
  if (p.version === 2) {
    if (p.advertIntervalMs < 1000 || p.advertIntervalMs > 255_000 || p.advertIntervalMs % 1000 !== 0) {
      bad(`v2 advert interval "${p.advertIntervalMs}" ms must be whole seconds 1..255`);
    }
  } else if (p.advertIntervalMs < 10 || p.advertIntervalMs > 40_950 || p.advertIntervalMs % 10 !== 0) {
    bad(`v3 advert interval "${p.advertIntervalMs}" ms must be 10..40950 in 10 ms steps`);
  }
  if (!Number.isInteger(p.downTimerAdverts) || p.downTimerAdverts < 1 || p.downTimerAdverts > 100) {
    bad(`down_timer_adverts "${p.downTimerAdverts}" must be 1..100`);
  }
  if (p.preemptDelayMs < 0 || p.preemptDelayMs > 1_000_000) bad(`preempt_delay "${p.preemptDelayMs}" ms must be 0..1000000`);
  const g = p.garp;
  for (const [k, v] of Object.entries(g)) {
    if (!(v >= 0)) bad(`garp.${k} "${v}" must be ≥ 0`);
  }
}

/**
 * keepalived's fix-ups (docs/vrrp.md §5.1/§5.5): nopreempt and preempt_delay only work with state BACKUP;
 * nopreempt is incompatible with priority 255. keepalived clears them with a config error.
 */
export function applyFixups(params: VrrpInstanceParams): { params: Readonly<VrrpInstanceParams>; warnings: readonly string[] } {
  const warnings: string[] = [];
  let { preempt, preemptDelayMs } = params;
  if (!preempt && (params.initialState === 'MASTER' || params.priority === 255)) {
    warnings.push('nopreempt ignored: it needs state BACKUP and a priority below 255');
    preempt = true;
  }
  if (preemptDelayMs > 0 && params.initialState === 'MASTER') {
    warnings.push('preempt_delay ignored: it needs state BACKUP');
    preemptDelayMs = 0;
  }
  if (preemptDelayMs > 0 && !preempt) {
    warnings.push('preempt_delay ignored: nopreempt is set');
    preemptDelayMs = 0;
  }
  return {
    params: Object.freeze({ ...params, preempt, preemptDelayMs, garp: Object.freeze({ ...params.garp }) }),
    warnings: Object.freeze(warnings),
  };
}

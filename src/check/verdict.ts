/**
 * The per-checker state machine, as keepalived runs it. Pure: feed it one attempt result at a time,
 * it says whether the checker is up, whether that changed, and when (and on which URL) to try next.
 *
 * Two machines, both from keepalived 2.4:
 *
 * Layer-4 style (TCP_CHECK, UDP_CHECK, SMTP_CHECK, DNS_CHECK, PING_CHECK, MISC_CHECK, FILE_CHECK;
 * `tcp_epilog`, `udp_epilog`, `dns_final`, `misc_check_child_thread`):
 * - success: retry counter reset; a down (or never-run) checker goes UP. Next attempt after delay_loop.
 * - failure while UP (or before the first run): while the retry counter is below `retry`, count it
 *   and try again after delay_before_retry; otherwise reset the counter and go DOWN. Next attempt
 *   after delay_loop. So an UP checker goes DOWN on the (retry+1)th consecutive failure.
 * - failure while DOWN: nothing changes; next attempt after delay_loop (no retries while down).
 * - startup: the retry counter starts AT `retry` (`validate_check_config`: "one failure is enough
 *   initially"), so the first failure after startup is conclusive. Without alpha the checker starts
 *   UP; with alpha it starts DOWN and one success brings it UP.
 * - MISC_CHECK measures its delays from the START of the previous run (`last_ran`), the others from
 *   the end; `delayFrom` says which.
 *
 * HTTP_GET / SSL_GET (`check_http.c::epilog` and `timeout_epilog`): one URL per run, in turn.
 * - success on a URL (NEW): move to the next URL, retry counter reset. When the last URL has
 *   passed and no URL is marked failed, the checker goes UP (if it was not) and starts over at the
 *   first URL. If a URL was marked failed, that first success only clears the mark and restarts the
 *   pass from the first URL, so a DOWN checker comes back UP after one clean pass over all URLs
 *   (with one URL: two successes in a row).
 * - failure while UP or before the first full pass (RETRY): retry counter + 1, same URL again after
 *   delay_before_retry; once the counter exceeds `retry` the checker goes DOWN, the URL is marked
 *   failed and further attempts come every max(delay_before_retry, delay_loop).
 * - failure while DOWN (FAILED): no state change; next attempt after max(delay_before_retry,
 *   delay_loop) if a URL is marked failed, else after delay_before_retry.
 * - a success is followed by delay_loop; during the first pass the retry counter is held at `retry`.
 * - fast_recovery: before the first full pass, or while DOWN with no URL marked failed, the next
 *   attempt runs at once.
 *
 * Weights. MISC_CHECK with misc_dynamic: a successful result's `weight` (exit status − 2) becomes
 * the real server's weight; a success without a weight (exit 0) restores the configured weight.
 * FILE_CHECK: `weight` on a result is a DELTA added to the configured weight (track_file value ×
 * weight, keepalived `update_track_file_status`). Other kinds ignore result weights.
 */
import type { ProbeKind, ProbeResult } from './types.js';

export interface VerdictParams {
  kind: ProbeKind;
  retry: number;
  delayLoopMs: number;
  delayBeforeRetryMs: number;
  alpha: boolean;
  /** HTTP_GET/SSL_GET: number of URLs (≥ 1). Ignored for other kinds. */
  urlCount?: number;
  fastRecovery?: boolean;
  /** MISC_CHECK misc_dynamic (take weights from results). FILE_CHECK always takes them. */
  dynamic?: boolean;
}

export interface VerdictOutput {
  /** The checker's verdict after this result. */
  up: boolean;
  /** True when `up` flipped with this result. */
  changed: boolean;
  /** Absolute weight override (MISC dynamic); undefined = the configured weight. */
  weight?: number;
  /** Weight delta (FILE_CHECK); undefined = none. */
  weightDelta?: number;
  /** True when `weight` or `weightDelta` changed with this result. */
  weightChanged: boolean;
  /** When to run the next attempt, counted from `delayFrom`. */
  nextDelayMs: number;
  delayFrom: 'start' | 'end';
  /** Which spec (HTTP/SSL URL) the next attempt runs. */
  nextIndex: number;
  /** The next attempt is a retry: the failures so far are not conclusive yet. */
  retrying: boolean;
}

/** A read-only view of the machine, for status and tests. */
export interface VerdictState {
  up: boolean;
  hasRun: boolean;
  retryIt: number;
  nextIndex: number;
  failedUrl: number | null;
  consecutiveFailures: number;
  weight?: number;
  weightDelta?: number;
}

export class CheckVerdict {
  readonly params: Readonly<VerdictParams>;
  private isUp: boolean;
  private hasRun = false;
  private retryIt: number;
  private urlIt = 0;
  private failedUrl: number | null = null;
  private failures = 0;
  private weight: number | undefined;
  private weightDelta: number | undefined;
  /** The last step's outcome: the delay before the next attempt, and whether it is a retry. */
  private stepDelayMs = 0;
  private stepRetrying = false;

  /**
   * `inherit`: the state of the check this one replaces (same target, other timing): it starts
   * where that one was (up or down, weights), not from `alpha`.
   */
  constructor(params: VerdictParams, inherit?: VerdictState) {
    if (!Number.isInteger(params.retry) || params.retry < 0) throw new RangeError(`Invalid retry "${params.retry}": expected an integer ≥ 0`);
    // kept as given when already whole: the scheduler shares one params object among the checks with the same timing
    this.params = params.urlCount !== undefined && params.urlCount >= 1 ? params : { ...params, urlCount: Math.max(1, params.urlCount ?? 1) };
    this.isUp = !params.alpha;
    this.retryIt = params.retry;
    if (inherit?.hasRun) {
      this.isUp = inherit.up;
      this.hasRun = true;
      this.failures = inherit.consecutiveFailures;
      this.retryIt = inherit.up ? 0 : params.retry;
      this.weight = inherit.weight;
      this.weightDelta = inherit.weightDelta;
    }
  }

  get up(): boolean {
    return this.isUp;
  }

  /** The spec index the next attempt should run (HTTP/SSL URL in turn; else 0). */
  get nextIndex(): number {
    return this.isHttp ? this.urlIt : 0;
  }

  /** A snapshot of the machine. (The delay before the very first attempt is the scheduler's: 1 s + warmup.) */
  state(): VerdictState {
    return {
      up: this.isUp,
      hasRun: this.hasRun,
      retryIt: this.retryIt,
      nextIndex: this.nextIndex,
      failedUrl: this.failedUrl,
      consecutiveFailures: this.failures,
      ...(this.weight !== undefined ? { weight: this.weight } : {}),
      ...(this.weightDelta !== undefined ? { weightDelta: this.weightDelta } : {}),
    };
  }

  observe(result: ProbeResult): VerdictOutput {
    const wasUp = this.isUp;
    const weightChanged = this.applyWeight(result);
    this.failures = result.ok ? 0 : this.failures + 1;
    // the steps leave their outcome in fields: one object per result, the output (no spreads)
    if (this.isHttp) this.stepHttp(result.ok);
    else this.stepL4(result.ok);
    const out: VerdictOutput = {
      up: this.isUp,
      changed: this.isUp !== wasUp,
      weightChanged,
      nextDelayMs: this.stepDelayMs,
      delayFrom: this.params.kind === 'MISC_CHECK' ? 'start' : 'end',
      nextIndex: this.nextIndex,
      retrying: this.stepRetrying,
    };
    if (this.weight !== undefined) out.weight = this.weight;
    if (this.weightDelta !== undefined) out.weightDelta = this.weightDelta;
    return out;
  }

  private get isHttp(): boolean {
    return this.params.kind === 'HTTP_GET' || this.params.kind === 'SSL_GET';
  }

  private applyWeight(result: ProbeResult): boolean {
    const { kind, dynamic } = this.params;
    if (kind === 'MISC_CHECK' && dynamic && result.ok) {
      const w = result.weight;
      const changed = w !== this.weight;
      this.weight = w;
      return changed;
    }
    if (kind === 'FILE_CHECK' && result.weight !== undefined) {
      const changed = result.weight !== this.weightDelta;
      this.weightDelta = result.weight;
      return changed;
    }
    return false;
  }

  private stepL4(ok: boolean): void {
    const { retry, delayLoopMs, delayBeforeRetryMs } = this.params;
    let delay = delayLoopMs;
    let retrying = false;
    if (ok) {
      this.retryIt = 0;
      this.isUp = true;
    } else if (this.isUp || !this.hasRun) {
      if (this.retryIt < retry) {
        this.retryIt++;
        delay = delayBeforeRetryMs;
        retrying = true;
      } else {
        this.retryIt = 0;
        this.isUp = false;
      }
    }
    this.hasRun = true;
    this.stepDelayMs = delay;
    this.stepRetrying = retrying;
  }

  private stepHttp(ok: boolean): void {
    const { retry, delayLoopMs, delayBeforeRetryMs, fastRecovery } = this.params;
    const n = this.params.urlCount ?? 1;
    type Method = 'new' | 'retry' | 'failed';
    let method: Method;
    if (ok) method = 'new';
    else if (this.isUp || !this.hasRun) {
      this.hasRun = true; // timeout_epilog marks the run before RETRY
      method = 'retry';
    } else method = 'failed';

    let urlIt: number | null = this.urlIt;
    if (method === 'new') {
      urlIt = this.urlIt >= n - 1 ? null : this.urlIt + 1;
      this.retryIt = 0;
    } else if (method === 'retry') {
      this.retryIt++;
    }

    if (method === 'new' && urlIt === null && this.failedUrl === null) {
      // A full pass with every URL good.
      this.isUp = true;
      this.hasRun = true;
      urlIt = 0;
      this.retryIt = 0;
    } else if (method === 'retry' && this.retryIt > retry) {
      if (this.isUp) this.isUp = false;
      this.failedUrl = this.urlIt;
    } else if (method === 'new' && this.failedUrl !== null) {
      // The failed URL answers again: check every URL from the first.
      this.failedUrl = null;
      urlIt = 0;
      this.retryIt = 0;
    }
    this.urlIt = urlIt ?? 0;

    let delay: number;
    if (method === 'new') {
      delay = delayLoopMs;
      if (!this.hasRun) this.retryIt = retry;
    } else if (this.failedUrl !== null) {
      delay = Math.max(delayBeforeRetryMs, delayLoopMs);
    } else {
      delay = delayBeforeRetryMs;
    }
    if (fastRecovery && (!this.hasRun || (!this.isUp && this.failedUrl === null))) delay = 0;
    this.stepDelayMs = delay;
    this.stepRetrying = method === 'retry' && this.failedUrl === null;
  }
}

/** Convenience: the params of a `CheckPlan`-like object. */
export function verdictParams(plan: {
  kind: ProbeKind;
  specs: readonly unknown[];
  dynamic: boolean;
  timing: { retry: number; delayLoopMs: number; delayBeforeRetryMs: number; alpha: boolean; fastRecovery: boolean };
}): VerdictParams {
  return {
    kind: plan.kind,
    retry: plan.timing.retry,
    delayLoopMs: plan.timing.delayLoopMs,
    delayBeforeRetryMs: plan.timing.delayBeforeRetryMs,
    alpha: plan.timing.alpha,
    urlCount: plan.specs.length,
    fastRecovery: plan.timing.fastRecovery,
    dynamic: plan.dynamic,
  };
}

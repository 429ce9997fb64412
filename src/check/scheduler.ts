/**
 * Runs checks over time: an injected Clock and an injected Probe, nothing else. One job per dedup
 * key; every subscriber of a key gets every result (seesaw `dedup`). Each job owns its
 * `CheckVerdict`, which decides when the next attempt runs and on which URL.
 *
 * - First attempt: `bootstrapDelayMs` (1 s, keepalived `BOOTSTRAP_DELAY`) + warmup × rng(). The
 *   default rng is an even spread (golden-ratio sequence from a random seed), so N checks sharing a
 *   warmup start evenly over it instead of in random clumps; inject `rng` for keepalived's plain
 *   `rand()` behaviour or for tests.
 * - Next attempts: after the verdict's `nextDelayMs`, counted from the end of the attempt (from its
 *   start for MISC_CHECK, as keepalived's `last_ran`).
 * - Concurrency: at most `maxConcurrent` probes run at once; due attempts queue FIFO. An attempt that
 *   waited longer than `queueWaitWarnMs` is counted in `stats().lateStarts`.
 * - Deadline: each attempt gets an AbortSignal aborted at its `timeoutMs`. A result that arrives after
 *   the abort counts as a timeout. A probe that has not settled `graceMs` after the abort is given up
 *   on: the attempt is a timeout (`stats().stuck`), its concurrency slot is released.
 * - No overlap: a key never has two probes in flight. If an attempt comes due while a given-up probe
 *   of the same key still has not settled, no probe is started and the attempt counts as a timeout
 *   (`stats().overlapSkipped`), so a wedged probe shows up as a failing check.
 * - Latency of every attempt goes to `onLatency(kind, ms, ok)` and into the update.
 * - `stop()` cancels every timer, aborts every probe in flight and ignores what settles later.
 */
import { getEventListeners } from 'node:events';

import { CheckVerdict, verdictParams, type VerdictOutput, type VerdictParams, type VerdictState } from './verdict.js';
import type { DirectProbe, Probe, ProbeKind, ProbeResult, ProbeSink, ProbeSpec } from './types.js';
import type { Clock } from '../sys/clock.js';
import { DueHeap, type DueItem } from '../sys/due-heap.js';

// The health checker runs on the daemon's injectable clock (real or fake).
export type { Clock } from '../sys/clock.js';
export { realClock as systemClock } from '../sys/clock.js';

/** What the scheduler needs to know about a check (a `CheckPlan` fits). */
export interface ScheduledCheck {
  key: string;
  kind: ProbeKind;
  specs: ProbeSpec[];
  timeoutMs: number;
  dynamic: boolean;
  timing: { delayLoopMs: number; retry: number; delayBeforeRetryMs: number; warmupMs: number; alpha: boolean; fastRecovery: boolean };
}

/** One finished attempt, as every subscriber of the key sees it. */
export interface CheckUpdate {
  key: string;
  kind: ProbeKind;
  /** Which spec ran (HTTP/SSL: the URL index). */
  index: number;
  spec: ProbeSpec;
  result: ProbeResult;
  verdict: VerdictOutput;
  /** Clock time the probe started (or the attempt was skipped). */
  startedAt: number;
  finishedAt: number;
  latencyMs: number;
  /** Time spent waiting for a concurrency slot. */
  queuedMs: number;
  /** 1 for the first attempt of this key. */
  attempt: number;
  /** How the attempt ended besides the probe's own result. */
  outcome: 'settled' | 'late' | 'stuck' | 'overlap' | 'threw';
}

export type CheckListener = (update: CheckUpdate) => void;

export interface SchedulerOptions {
  clock: Clock;
  probe: Probe;
  /**
   * Runs the specs it can without a promise per attempt (TCP_CHECK on the addon); the others,
   * and all of them without it, run on `probe`.
   */
  direct?: DirectProbe;
  /** Uniform [0, 1). Default: an even spread from a random seed (`evenSpread()`). */
  rng?: () => number;
  /**
   * Probes in flight at most. Default 1024: 10,000 checks/s at delay_loop 1 s as long as an
   * attempt takes ≤ ~100 ms (Little's law: in flight = rate × latency); keepalived has no cap.
   * Higher buys nothing when the process is CPU-bound (the attempts only wait longer in the event
   * loop, and hold sockets and memory meanwhile).
   */
  maxConcurrent?: number;
  /**
   * How late an attempt may start, so that one wakeup starts every attempt due within it.
   * Default 0 (each at its time). The daemon uses CHECK_TIMER_SLACK_MS: at a few hundred checks
   * a second a wakeup per check was a good part of what a check cost, and a start a few ms late
   * is nothing against a delay_loop of a second or more.
   */
  timerSlackMs?: number;
  /** Delay before any first attempt. Default 1000 (keepalived BOOTSTRAP_DELAY). */
  bootstrapDelayMs?: number;
  /** How long after the abort a probe may take to settle before it is given up on. Default 1000. */
  graceMs?: number;
  /** Queue waits longer than this are counted as late starts. Default 1000. */
  queueWaitWarnMs?: number;
  onLatency?: (kind: ProbeKind, ms: number, ok: boolean) => void;
  /** A listener threw. Default: ignored (the other listeners still run). */
  onListenerError?: (err: unknown, key: string) => void;
}

export interface SchedulerStats {
  jobs: number;
  running: number;
  queued: number;
  started: number;
  completed: number;
  timeouts: number;
  stuck: number;
  lateSettles: number;
  overlapSkipped: number;
  probeErrors: number;
  lateStarts: number;
  maxQueueWaitMs: number;
}

/**
 * One started attempt. A class with a `settle` method, so a direct probe reports to it without
 * a closure, and a DueItem, so deadlines wait in one heap under one timer instead of a timer each.
 */
class Attempt implements ProbeSink, DueItem {
  /** Promise path: the attempt's signal (from the scheduler's pool). */
  controller: AbortController | undefined;
  /** Direct path: the probe's handle (-1: promise path). */
  handle = -1;
  aborted = false;
  done = false;
  probeSettled = false;
  graceTimer: unknown;
  // DueItem: the deadline. Initialised as numbers: a field only declared starts as undefined
  // (ES2022 class fields), is then tagged where the job's is double, and DueHeap.less, shared by
  // both heaps, boxed every double it read (~950 B a check).
  nextAt = 0;
  seq = 0;
  heapIndex = -1;

  constructor(
    private readonly scheduler: CheckScheduler,
    readonly job: Job,
    readonly index: number,
    readonly spec: ProbeSpec,
    readonly startedAt: number,
    readonly queuedMs: number,
    deadlineAt: number,
    seq: number,
  ) {
    this.nextAt = deadlineAt;
    this.seq = seq;
  }

  settle(result: ProbeResult): void {
    this.scheduler.settled(this, result);
  }
}

/** What finish() needs of an attempt; an overlap-skipped one is only this. */
type AttemptInfo = Pick<Attempt, 'index' | 'spec' | 'startedAt' | 'queuedMs'>;

interface Job {
  check: ScheduledCheck;
  verdict: CheckVerdict;
  /**
   * The subscribers: one listener (the common case, every real server's own check) as a plain
   * field, more in a Map; a Map per job was ~2.4 MB of the daemon's heap at 37,300 checks.
   */
  listener: CheckListener | undefined;
  listenerId: number;
  more: Map<number, CheckListener> | undefined;
  phase: 'waiting' | 'queued' | 'running';
  nextAt: number;
  /** Position in the scheduler's due heap (-1: not waiting). */
  heapIndex: number;
  /** Tie-break of equal `nextAt`: scheduling order. */
  seq: number;
  enqueuedAt: number;
  attempt?: Attempt;
  /** The last probe started has not settled yet (possibly given up on). */
  probePending: boolean;
  attempts: number;
  /** The last finished attempt, as plain fields: a CheckUpdate kept a second per job was promoted to the old generation. */
  lastResult?: ProbeResult;
  lastFinishedAt: number;
  lastLatencyMs: number;
  cancelled: boolean;
}

/** The last finished attempt of a key (for status). */
export interface LastAttempt {
  result: ProbeResult;
  finishedAt: number;
  latencyMs: number;
}

/** The daemon's timerSlackMs (SchedulerOptions). */
export const CHECK_TIMER_SLACK_MS = 10;

const GOLDEN = 0.6180339887498949;

/** An rng whose successive values are evenly spread over [0, 1) (additive golden-ratio sequence). */
export function evenSpread(seed: number = Math.random()): () => number {
  let x = seed - Math.floor(seed);
  return () => {
    const v = x;
    x += GOLDEN;
    if (x >= 1) x -= 1;
    return v;
  };
}

export class CheckScheduler {
  private readonly clock: Clock;
  private readonly probe: Probe;
  private readonly direct: DirectProbe | undefined;
  private readonly rng: () => number;
  private readonly maxConcurrent: number;
  private readonly bootstrapDelayMs: number;
  private readonly timerSlackMs: number;
  private readonly graceMs: number;
  private readonly queueWaitWarnMs: number;
  private readonly opts: SchedulerOptions;
  private readonly jobs = new Map<string, Job>();
  private queue: Job[] = [];
  private queueHead = 0;
  private running = 0;
  private nextListenerId = 1;
  private stopped = false;
  /**
   * Waiting jobs by (nextAt, seq): one clock timer for the earliest instead of a timer (and a
   * closure) per job and attempt, so the steady state allocates nothing to wait for the next run.
   */
  private readonly dueHeap = new DueHeap<Job>();
  /**
   * AbortControllers for the next attempts, reused while no attempt aborted them and no probe
   * left a listener on them. One per attempt cost ~2.5 KB and, through the EventTarget machinery,
   * a good part of it outlived young collections (at 10,000 checks a second that alone filled the
   * old generation); one kept per job was 10,000 × 2.5 KB of live heap. A shared pool holds only
   * as many as run at once.
   */
  private readonly spareControllers: AbortController[] = [];
  private controllerReleases = 0;
  private dueSeq = 0;
  private dueTimer: unknown;
  private dueTimerAt = Infinity;
  private readonly onDueTimer = (): void => this.runDue();
  /** Running attempts by deadline, under one timer (armed for the earliest, or earlier). */
  private readonly deadlines = new DueHeap<Attempt>();
  private deadlineSeq = 0;
  private deadlineTimer: unknown;
  private deadlineTimerAt = Infinity;
  private readonly onDeadlineTimer = (): void => this.runDeadlines();
  private readonly counters = {
    started: 0,
    completed: 0,
    timeouts: 0,
    stuck: 0,
    lateSettles: 0,
    overlapSkipped: 0,
    probeErrors: 0,
    lateStarts: 0,
    maxQueueWaitMs: 0,
  };

  constructor(opts: SchedulerOptions) {
    this.opts = opts;
    this.clock = opts.clock;
    this.probe = opts.probe;
    this.direct = opts.direct;
    this.rng = opts.rng ?? evenSpread();
    this.maxConcurrent = Math.max(1, opts.maxConcurrent ?? 1024);
    this.bootstrapDelayMs = opts.bootstrapDelayMs ?? 1000;
    this.timerSlackMs = Math.max(0, opts.timerSlackMs ?? 0);
    this.graceMs = opts.graceMs ?? 1000;
    this.queueWaitWarnMs = opts.queueWaitWarnMs ?? 1000;
  }

  /**
   * Adds a listener for a check. The first subscriber of a key creates its job (a fresh verdict, or
   * `inherit`: the verdict of the check it replaces; first attempt after bootstrap + warmup);
   * later ones share it. Returns an idempotent unsubscribe;
   * the last unsubscribe cancels the job.
   */
  subscribe(check: ScheduledCheck, listener: CheckListener, inherit?: VerdictState): () => void {
    if (this.stopped) throw new Error(`Cannot subscribe "${check.key}": the scheduler is stopped`);
    if (check.specs.length === 0) throw new RangeError(`Cannot subscribe "${check.key}": the check has no probe spec`);
    let job = this.jobs.get(check.key);
    if (!job) {
      job = {
        check,
        verdict: new CheckVerdict(this.sharedParams(check), inherit),
        listener: undefined,
        listenerId: 0,
        more: undefined,
        phase: 'waiting',
        nextAt: 0,
        heapIndex: -1,
        seq: 0,
        enqueuedAt: 0,
        probePending: false,
        attempts: 0,
        lastFinishedAt: Number.NaN,
        lastLatencyMs: Number.NaN,
        cancelled: false,
      };
      this.jobs.set(check.key, job);
      const warmup = Math.max(0, check.timing.warmupMs) * clamp01(this.rng());
      this.schedule(job, this.bootstrapDelayMs + warmup);
    }
    const id = this.nextListenerId++;
    addListener(job, id, listener);
    const j = job;
    return () => {
      if (!removeListener(j, id)) return;
      if (j.listener === undefined && j.more === undefined && this.jobs.get(j.check.key) === j) this.cancel(j);
    };
  }

  /**
   * One frozen VerdictParams per distinct timing (a table of 37,300 checks has a handful): an
   * object of eight fields per job was ~3 MB of the daemon's heap.
   */
  private sharedParams(check: ScheduledCheck): VerdictParams {
    const p = verdictParams(check);
    const k = `${p.kind} ${p.retry} ${p.delayLoopMs} ${p.delayBeforeRetryMs} ${p.alpha} ${p.urlCount} ${p.fastRecovery} ${p.dynamic}`;
    let shared = this.params.get(k);
    if (shared === undefined) {
      if (this.params.size >= 4096) this.params.clear(); // bounded: only sharing is lost
      shared = Object.freeze({ ...p, urlCount: Math.max(1, p.urlCount ?? 1) });
      this.params.set(k, shared);
    }
    return shared;
  }

  private readonly params = new Map<string, VerdictParams>();

  has(key: string): boolean {
    return this.jobs.has(key);
  }

  keys(): string[] {
    return [...this.jobs.keys()];
  }

  /** The current verdict of a key (undefined if nobody subscribes to it). */
  verdict(key: string): VerdictState | undefined {
    return this.jobs.get(key)?.verdict.state();
  }

  /** The last finished attempt of a key. */
  lastAttempt(key: string): LastAttempt | undefined {
    const j = this.jobs.get(key);
    return j?.lastResult ? { result: j.lastResult, finishedAt: j.lastFinishedAt, latencyMs: j.lastLatencyMs } : undefined;
  }

  /** When the next attempt of a key is due (clock time), if it is waiting. */
  nextRunAt(key: string): number | undefined {
    const j = this.jobs.get(key);
    return j && j.phase === 'waiting' ? j.nextAt : undefined;
  }

  stats(): SchedulerStats {
    return { jobs: this.jobs.size, running: this.running, queued: this.queuedCount(), ...this.counters };
  }

  /** Cancels everything. Final: the scheduler cannot be used again. */
  stop(): void {
    this.stopped = true;
    for (const j of [...this.jobs.values()]) this.cancel(j);
    this.queue = [];
    this.queueHead = 0;
    this.dueHeap.clear();
    this.disarmDue();
    this.deadlines.clear();
    if (this.deadlineTimer !== undefined) this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.deadlineTimerAt = Infinity;
  }

  // ------------------------------------------------------------------ internals

  // Clock reads: `now` is passed down a synchronous call chain instead of read again in each
  // step, because a clock read is not free where the TSC is emulated (BENCHMARKS.md).

  private schedule(job: Job, delayMs: number, now: number = this.clock.now()): void {
    const d = Math.max(0, delayMs);
    job.phase = 'waiting';
    job.nextAt = now + d;
    job.seq = this.dueSeq++;
    this.dueHeap.remove(job);
    this.dueHeap.push(job);
    this.armDue(now);
  }

  /**
   * Arms the clock timer for the earliest waiting job (keeps one already armed as early or
   * earlier). `now`, if given, is the current time (read only if a timer is armed otherwise).
   */
  private armDue(now?: number): void {
    const head = this.dueHeap.peek();
    if (!head) {
      this.disarmDue();
      return;
    }
    const at = head.nextAt + this.timerSlackMs;
    if (this.dueTimer !== undefined && this.dueTimerAt <= at) return;
    this.disarmDue();
    this.dueTimerAt = at;
    this.dueTimer = this.clock.setTimeout(this.onDueTimer, Math.max(0, at - (now ?? this.clock.now())));
  }

  private disarmDue(): void {
    if (this.dueTimer !== undefined) this.clock.clearTimeout(this.dueTimer);
    this.dueTimer = undefined;
    this.dueTimerAt = Infinity;
  }

  /** Runs every job due now, in (nextAt, scheduling) order; jobs scheduled meanwhile wait for the next turn. */
  private runDue(): void {
    this.dueTimer = undefined;
    this.dueTimerAt = Infinity;
    const now = this.clock.now();
    const limit = this.dueSeq;
    for (;;) {
      const head = this.dueHeap.peek();
      if (!head || head.nextAt > now || head.seq >= limit) break;
      this.dueHeap.remove(head);
      this.due(head, now);
    }
    if (!this.stopped) this.armDue();
  }

  private due(job: Job, now: number): void {
    if (job.cancelled) return;
    if (job.probePending) {
      // The last probe of this key was given up on and still has not settled: never overlap it.
      this.counters.overlapSkipped++;
      const index = job.verdict.nextIndex;
      const result: ProbeResult = { ok: false, reason: 'timeout', detail: 'the previous attempt of this check has not settled yet' };
      this.finish(job, { index, spec: specAt(job.check, index), startedAt: now, queuedMs: 0 }, result, 'overlap');
      return;
    }
    job.phase = 'queued';
    job.enqueuedAt = now;
    this.queue.push(job);
    this.pump(now);
  }

  /** Starts queued jobs while there is room. `now`: the current time if the caller has it. */
  private pump(now?: number): void {
    while (this.running < this.maxConcurrent && this.queueHead < this.queue.length) {
      const job = this.queue[this.queueHead++] as Job;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
      if (job.cancelled || job.phase !== 'queued') continue;
      now ??= this.clock.now();
      this.start(job, now);
    }
  }

  private queuedCount(): number {
    let n = 0;
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const j = this.queue[i] as Job;
      if (!j.cancelled && j.phase === 'queued') n++;
    }
    return n;
  }

  private start(job: Job, now: number): void {
    const queuedMs = now - job.enqueuedAt;
    if (queuedMs > this.queueWaitWarnMs) this.counters.lateStarts++;
    if (queuedMs > this.counters.maxQueueWaitMs) this.counters.maxQueueWaitMs = queuedMs;
    const index = job.verdict.nextIndex;
    const attempt = new Attempt(this, job, index, specAt(job.check, index), now, queuedMs, now + job.check.timeoutMs, this.deadlineSeq++);
    job.phase = 'running';
    job.attempt = attempt;
    job.probePending = true;
    this.running++;
    this.counters.started++;
    this.deadlines.push(attempt);
    this.armDeadline();

    if (this.direct !== undefined) {
      let handle: number;
      try {
        handle = this.direct.start(attempt.spec, attempt);
      } catch (err) {
        this.onProbeSettled(job, attempt, { ok: false, reason: 'error', detail: `the probe threw: ${describeError(err)}` }, true);
        return;
      }
      if (handle >= 0 || attempt.probeSettled) {
        attempt.handle = handle;
        return;
      }
    }

    attempt.controller = this.spareControllers.pop() ?? new AbortController();
    let pending: Promise<ProbeResult>;
    try {
      pending = Promise.resolve(this.probe(attempt.spec, attempt.controller.signal));
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (r) => this.onProbeSettled(job, attempt, r, false),
      (err: unknown) => this.onProbeSettled(job, attempt, { ok: false, reason: 'error', detail: `the probe threw: ${describeError(err)}` }, true),
    );
  }

  /** A direct probe's result (ProbeSink.settle). */
  settled(attempt: Attempt, result: ProbeResult): void {
    if (attempt.probeSettled) return;
    this.onProbeSettled(attempt.job, attempt, result, false);
  }

  /** Arms the deadline timer for the earliest running attempt (keeps one armed as early or earlier). */
  private armDeadline(): void {
    const head = this.deadlines.peek();
    if (head === undefined || (this.deadlineTimer !== undefined && this.deadlineTimerAt <= head.nextAt)) return;
    if (this.deadlineTimer !== undefined) this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimerAt = head.nextAt;
    this.deadlineTimer = this.clock.setTimeout(this.onDeadlineTimer, Math.max(0, head.nextAt - this.clock.now()));
  }

  /** Expires every attempt whose deadline has come, in (deadline, start) order. */
  private runDeadlines(): void {
    this.deadlineTimer = undefined;
    this.deadlineTimerAt = Infinity;
    const now = this.clock.now();
    for (let head = this.deadlines.peek(); head !== undefined && head.nextAt <= now; head = this.deadlines.peek()) {
      this.deadlines.remove(head);
      this.expire(head);
    }
    if (!this.stopped) this.armDeadline();
  }

  private expire(attempt: Attempt): void {
    if (attempt.done) return;
    const job = attempt.job;
    if (attempt.controller === undefined) {
      // direct: the probe stops at once and says what it was doing
      let result: ProbeResult;
      try {
        result = this.direct!.expire(attempt.handle, attempt.spec, job.check.timeoutMs);
      } catch (err) {
        result = { ok: false, reason: 'timeout', detail: `check deadline of ${job.check.timeoutMs}ms reached (${describeError(err)})` };
      }
      attempt.probeSettled = true;
      if (job.attempt === attempt) job.probePending = false;
      this.finish(job, attempt, result, 'settled');
      return;
    }
    attempt.aborted = true;
    attempt.controller.abort(new DOMException(`check deadline of ${job.check.timeoutMs}ms reached`, 'TimeoutError'));
    attempt.graceTimer = this.clock.setTimeout(() => {
      attempt.graceTimer = undefined;
      if (attempt.done) return;
      this.counters.stuck++;
      const result: ProbeResult = {
        ok: false,
        reason: 'timeout',
        detail: `the probe did not settle within ${this.graceMs}ms after its ${job.check.timeoutMs}ms deadline`,
      };
      this.finish(job, attempt, result, 'stuck');
    }, this.graceMs);
  }

  private onProbeSettled(job: Job, attempt: Attempt, r: ProbeResult, threw: boolean): void {
    attempt.probeSettled = true;
    if (job.attempt === attempt) job.probePending = false;
    if (attempt.done) {
      this.counters.lateSettles++;
      if (job.attempt === attempt) job.attempt = undefined;
      return;
    }
    if (threw) this.counters.probeErrors++;
    let result = normalize(r);
    let outcome: CheckUpdate['outcome'] = threw ? 'threw' : 'settled';
    if (attempt.aborted && result.ok) {
      result = { ok: false, reason: 'timeout', detail: `succeeded after the ${job.check.timeoutMs}ms deadline` };
      outcome = 'late';
    }
    this.finish(job, attempt, result, outcome);
  }

  private finish(job: Job, attempt: AttemptInfo, result: ProbeResult, outcome: CheckUpdate['outcome']): void {
    const ranProbe = attempt instanceof Attempt;
    if (ranProbe) {
      attempt.done = true;
      if (attempt.heapIndex >= 0) this.deadlines.remove(attempt);
      if (attempt.graceTimer !== undefined) this.clock.clearTimeout(attempt.graceTimer);
      attempt.graceTimer = undefined;
      this.running--;
      // Let the attempt (its timers) die young: kept until the next attempt a second later,
      // thousands of them a second were promoted and grew the old generation.
      if (attempt.probeSettled && job.attempt === attempt) job.attempt = undefined;
      this.releaseController(attempt);
    }
    if (job.cancelled) {
      this.pump();
      return;
    }
    const now = this.clock.now();
    const latencyMs = now - attempt.startedAt;
    this.counters.completed++;
    if (!result.ok && result.reason === 'timeout') this.counters.timeouts++;
    if (ranProbe) this.opts.onLatency?.(job.check.kind, latencyMs, result.ok);

    const verdict = job.verdict.observe(result);
    job.attempts++;
    const update: CheckUpdate = {
      key: job.check.key,
      kind: job.check.kind,
      index: attempt.index,
      spec: attempt.spec,
      result,
      verdict,
      startedAt: attempt.startedAt,
      finishedAt: now,
      latencyMs,
      queuedMs: attempt.queuedMs,
      attempt: job.attempts,
      outcome,
    };
    job.lastResult = result;
    job.lastFinishedAt = now;
    job.lastLatencyMs = latencyMs;

    const base = verdict.delayFrom === 'start' ? attempt.startedAt : now;
    this.schedule(job, base + verdict.nextDelayMs - now, now);

    if (job.more === undefined) {
      if (job.listener !== undefined) this.notify(job, job.listener, update);
    } else for (const l of listenersOf(job)) this.notify(job, l, update);
    this.pump();
  }

  private notify(job: Job, l: CheckListener, update: CheckUpdate): void {
    try {
      l(update);
    } catch (err) {
      this.opts.onListenerError?.(err, job.check.key);
    }
  }

  /**
   * Back to the pool unless aborted, still in a probe's hands (given up on, not settled), or —
   * checked every 16th release, as the check allocates — a probe left listeners on it besides
   * runAttempt's one per signal.
   */
  private releaseController(attempt: Attempt): void {
    const c = attempt.controller;
    if (c === undefined || !attempt.probeSettled || c.signal.aborted) return;
    if (this.spareControllers.length >= this.maxConcurrent) return;
    if (++this.controllerReleases % 16 === 0 && getEventListeners(c.signal, 'abort').length > 1) return;
    this.spareControllers.push(c);
  }

  private cancel(job: Job): void {
    job.cancelled = true;
    job.listener = undefined;
    job.more = undefined;
    if (job.heapIndex >= 0) {
      this.dueHeap.remove(job);
      if (!this.stopped) this.armDue();
    }
    const a = job.attempt;
    if (a && !a.done) {
      a.done = true;
      if (a.heapIndex >= 0) this.deadlines.remove(a);
      if (a.graceTimer !== undefined) this.clock.clearTimeout(a.graceTimer);
      if (a.controller !== undefined) a.controller.abort(new DOMException('check cancelled', 'AbortError'));
      else if (!a.probeSettled) {
        a.probeSettled = true;
        try {
          this.direct!.cancel(a.handle);
        } catch {
          // the check is gone either way
        }
      }
      this.running--;
    }
    if (this.jobs.get(job.check.key) === job) this.jobs.delete(job.check.key);
    if (!this.stopped) this.pump();
  }
}

function addListener(job: Job, id: number, l: CheckListener): void {
  if (job.listener === undefined && job.more === undefined) {
    job.listener = l;
    job.listenerId = id;
    return;
  }
  job.more ??= new Map(job.listener !== undefined ? [[job.listenerId, job.listener]] : []);
  job.listener = undefined;
  job.more.set(id, l);
}

function removeListener(job: Job, id: number): boolean {
  if (job.more === undefined) {
    if (job.listener === undefined || job.listenerId !== id) return false;
    job.listener = undefined;
    return true;
  }
  if (!job.more.delete(id)) return false;
  if (job.more.size === 0) job.more = undefined;
  return true;
}

/** A copy: a listener subscribed by another listener's callback waits for the next update. */
function listenersOf(job: Job): CheckListener[] {
  return job.more ? [...job.more.values()] : job.listener ? [job.listener] : [];
}

function specAt(check: ScheduledCheck, index: number): ProbeSpec {
  return (check.specs[index] ?? check.specs[0]) as ProbeSpec;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(Math.max(x, 0), 1) : 0;
}

/** A probe that breaks its contract (not an object, no `ok`) gives an 'error' failure. */
function normalize(r: unknown): ProbeResult {
  if (r && typeof r === 'object' && typeof (r as { ok?: unknown }).ok === 'boolean') return r as ProbeResult;
  return { ok: false, reason: 'error', detail: 'the probe returned no result' };
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

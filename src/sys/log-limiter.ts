/**
 * Rate limits for warn lines that a peer (or an attacker) can trigger at will: drops, socket errors,
 * split-brain notices. Each key logs at most once per `intervalMs`, with the count suppressed in
 * between; all keys together log at most `burst` lines per `intervalMs`; and at most `maxKeys`
 * keys are remembered (the oldest go first), so 50,000 spoofed sources cost neither memory nor
 * 100,000 lines of log.
 */
export interface LogLimiterOptions {
  intervalMs?: number;
  maxKeys?: number;
  burst?: number;
}

export class LogLimiter {
  private readonly keys = new Map<string, { last: number; suppressed: number }>();
  private readonly intervalMs: number;
  private readonly maxKeys: number;
  private readonly burst: number;
  private windowStart = -Infinity;
  private windowLines = 0;
  /** Lines the global budget suppressed since the last line that went out. */
  private overBudget = 0;

  constructor(opts: LogLimiterOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 60_000;
    this.maxKeys = opts.maxKeys ?? 1024;
    this.burst = opts.burst ?? 50;
  }

  /** Keys remembered (for tests and status). */
  get size(): number {
    return this.keys.size;
  }

  /**
   * Whether a line for `key` may go out at `now`; if so, the fields to add to it (how many were
   * suppressed for this key, and by the global budget).
   */
  admit(key: string, now: number): { suppressed?: number; suppressed_other?: number } | undefined {
    const e = this.keys.get(key);
    if (e && now - e.last < this.intervalMs) {
      e.suppressed++;
      return undefined;
    }
    if (now - this.windowStart >= this.intervalMs) {
      this.windowStart = now;
      this.windowLines = 0;
    }
    if (this.windowLines >= this.burst) {
      this.overBudget++;
      return undefined;
    }
    this.windowLines++;
    const out = { ...(e?.suppressed ? { suppressed: e.suppressed } : {}), ...(this.overBudget ? { suppressed_other: this.overBudget } : {}) };
    this.overBudget = 0;
    this.keys.delete(key); // re-inserted last: Map order is age order
    this.keys.set(key, { last: now, suppressed: 0 });
    this.evict();
    return out;
  }

  /** Forgets the oldest keys (Map order is age order) beyond `maxKeys`. */
  private evict(): void {
    for (const k of this.keys.keys()) {
      if (this.keys.size <= this.maxKeys) return;
      this.keys.delete(k);
    }
  }
}

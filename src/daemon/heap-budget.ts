// How much the main thread's memory may grow before V8 is asked to collect: the RSS right after
// V8's latest full collection, less the heap's free part, with the young generation at full size
// (the floor: code, native memory, live objects, the nursery), plus a headroom. V8 alone lets a
// heap whose live part is 20-35 MB grow to 150-300 MB before it collects (its limits scale with
// the machine's RAM); keepalived's checker stays under 10 MB.
// Pure: the adapter (heap-governor.ts) feeds it readings and applies its limit.

export interface HeapBudgetOptions {
  /** Smallest headroom above the floor (bytes). */
  minHeadroomBytes: number;
  /** Headroom as a fraction of the floor, when that is larger. */
  headroomRatio: number;
}

export const DEFAULT_HEAP_BUDGET: HeapBudgetOptions = {
  minHeadroomBytes: 32 * 2 ** 20,
  headroomRatio: 0.25,
};

export class HeapBudget {
  private floorBytes: number;
  private collections = 0;
  private youngMax = 0;

  /** `startRss`: the RSS before anything big is loaded, the floor until V8 first collects. */
  constructor(
    startRss: number,
    private readonly opts: HeapBudgetOptions = DEFAULT_HEAP_BUDGET,
  ) {
    this.floorBytes = startRss;
  }

  /** V8's young generation is `bytes` now (it grows and shrinks; the floor counts its largest). */
  youngGeneration(bytes: number): void {
    if (bytes > this.youngMax) this.youngMax = bytes;
  }

  /**
   * A full (mark-compact) collection just ended. The new floor is the RSS without the heap's
   * free part (V8 keeps some of it mapped after a collection and gives it back over the next
   * ones), with the young generation counted at the largest size seen: a collection may shrink
   * it, and it grows straight back under load; a floor without it would ask for a collection
   * again as soon as it has.
   */
  afterFullCollection(s: { rss: number; heapTotal: number; heapUsed: number; youngBytes: number }): void {
    this.youngGeneration(s.youngBytes);
    this.floorBytes = Math.max(0, s.rss - Math.max(0, s.heapTotal - s.heapUsed)) + Math.max(0, this.youngMax - s.youngBytes);
    this.collections++;
  }

  get floor(): number {
    return this.floorBytes;
  }

  /** Full collections seen. */
  get fullCollections(): number {
    return this.collections;
  }

  /** The RSS above which a collection is asked for. */
  get limit(): number {
    return this.floorBytes + Math.max(this.opts.minHeadroomBytes, Math.round(this.floorBytes * this.opts.headroomRatio));
  }
}

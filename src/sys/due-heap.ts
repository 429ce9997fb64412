/**
 * Timed items ordered by (nextAt, seq): a binary min-heap whose items carry their own
 * position, so a cancelled or rescheduled item leaves it in O(log n) without a search. The
 * check scheduler arms one clock timer for the head instead of a timer per check; the fake
 * clock keeps its timers in one.
 */
export interface DueItem {
  nextAt: number;
  /** Tie-break of equal `nextAt`: scheduling order. */
  seq: number;
  /** Position in the heap; -1 when not in it. */
  heapIndex: number;
}

export class DueHeap<T extends DueItem> {
  private h: T[] = [];

  get size(): number {
    return this.h.length;
  }

  peek(): T | undefined {
    return this.h[0];
  }

  push(item: T): void {
    item.heapIndex = this.h.length;
    this.h.push(item);
    this.siftUp(item.heapIndex);
  }

  /** Removes `item` if it is in this heap. */
  remove(item: T): void {
    const h = this.h;
    const i = item.heapIndex;
    if (i < 0 || h[i] !== item) return;
    item.heapIndex = -1;
    const last = h.pop() as T;
    if (i === h.length) return;
    h[i] = last;
    last.heapIndex = i;
    this.siftUp(i);
    this.siftDown(last.heapIndex);
  }

  clear(): void {
    for (const item of this.h) item.heapIndex = -1;
    this.h = [];
  }

  private static less(a: DueItem, b: DueItem): boolean {
    return a.nextAt < b.nextAt || (a.nextAt === b.nextAt && a.seq < b.seq);
  }

  private siftUp(i: number): void {
    const h = this.h;
    const x = h[i] as T;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const y = h[p] as T;
      if (!DueHeap.less(x, y)) break;
      h[i] = y;
      y.heapIndex = i;
      i = p;
    }
    h[i] = x;
    x.heapIndex = i;
  }

  private siftDown(i: number): void {
    const h = this.h;
    const n = h.length;
    const x = h[i] as T;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && DueHeap.less(h[r] as T, h[l] as T)) c = r;
      const y = h[c] as T;
      if (!DueHeap.less(y, x)) break;
      h[i] = y;
      y.heapIndex = i;
      i = c;
    }
    h[i] = x;
    x.heapIndex = i;
  }
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { DueHeap, type DueItem } from './due-heap.js';

describe('DueHeap', () => {
  it('pops in (nextAt, seq) order after any mix of pushes and removals (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ nextAt: fc.integer({ min: 0, max: 20 }), drop: fc.boolean() }), { maxLength: 60 }), (specs) => {
        const heap = new DueHeap<DueItem>();
        const items = specs.map((s, seq) => ({ nextAt: s.nextAt, seq, heapIndex: -1 }));
        for (const it of items) heap.push(it);
        const kept = items.filter((_, i) => !specs[i]!.drop);
        for (const [i, it] of items.entries()) if (specs[i]!.drop) heap.remove(it);
        heap.remove(items[0] ?? { nextAt: 0, seq: -1, heapIndex: -1 }); // removing twice (or a stranger) is a no-op
        const expected = kept.filter((it) => it !== items[0]).sort((a, b) => a.nextAt - b.nextAt || a.seq - b.seq);
        const out: DueItem[] = [];
        for (let top = heap.peek(); top; top = heap.peek()) {
          heap.remove(top);
          expect(top.heapIndex).toBe(-1);
          out.push(top);
        }
        expect(out).toEqual(expected);
        expect(heap.size).toBe(0);
      }),
    );
  });

  it('clear() empties the heap and marks every item as out of it', () => {
    const heap = new DueHeap<DueItem>();
    const a = { nextAt: 1, seq: 0, heapIndex: -1 };
    heap.push(a);
    heap.clear();
    expect(heap.size).toBe(0);
    expect(a.heapIndex).toBe(-1);
  });
});

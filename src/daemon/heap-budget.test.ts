import { describe, expect, it } from 'vitest';

import { HeapBudget } from './heap-budget.js';

const MB = 2 ** 20;

describe('HeapBudget', () => {
  const opts = { minHeadroomBytes: 32 * MB, headroomRatio: 0.25 };

  it('starts from the RSS it is given, with the minimum headroom on a small floor', () => {
    const b = new HeapBudget(60 * MB, opts);
    expect(b.floor).toBe(60 * MB);
    expect(b.limit).toBe(92 * MB);
    expect(b.fullCollections).toBe(0);
  });

  it('uses the ratio once a quarter of the floor is more than the minimum', () => {
    const b = new HeapBudget(200 * MB, opts);
    expect(b.limit).toBe(250 * MB);
  });

  it('takes the heap free part out of the floor after a full collection', () => {
    const b = new HeapBudget(60 * MB, opts);
    // RSS 180 MB, of which V8 keeps 100 MB of heap with 40 MB in use: 60 MB free
    b.afterFullCollection({ rss: 180 * MB, heapTotal: 100 * MB, heapUsed: 40 * MB, youngBytes: 0 });
    expect(b.floor).toBe(120 * MB);
    expect(b.limit).toBe(152 * MB);
    expect(b.fullCollections).toBe(1);
  });

  it('follows the floor down as well as up', () => {
    const b = new HeapBudget(60 * MB, opts);
    b.afterFullCollection({ rss: 300 * MB, heapTotal: 50 * MB, heapUsed: 50 * MB, youngBytes: 0 });
    expect(b.limit).toBe(375 * MB);
    b.afterFullCollection({ rss: 90 * MB, heapTotal: 30 * MB, heapUsed: 29 * MB, youngBytes: 0 });
    expect(b.floor).toBe(89 * MB);
    expect(b.limit).toBe(121 * MB);
  });

  it('counts the young generation at the largest size seen, since it grows straight back', () => {
    const b = new HeapBudget(60 * MB, opts);
    b.youngGeneration(2 * MB);
    b.youngGeneration(32 * MB);
    b.youngGeneration(8 * MB);
    // a memory-reducing collection left the nursery at 1 MB: the floor counts the 31 MB it regrows
    b.afterFullCollection({ rss: 100 * MB, heapTotal: 50 * MB, heapUsed: 45 * MB, youngBytes: 1 * MB });
    expect(b.floor).toBe(126 * MB);
    expect(b.limit).toBe(158 * MB);
    // the largest size seen also comes from the collection's own reading
    b.afterFullCollection({ rss: 100 * MB, heapTotal: 80 * MB, heapUsed: 80 * MB, youngBytes: 40 * MB });
    expect(b.floor).toBe(100 * MB);
  });

  it('never goes below zero on odd readings', () => {
    const b = new HeapBudget(10 * MB, opts);
    b.afterFullCollection({ rss: 20 * MB, heapTotal: 100 * MB, heapUsed: 1 * MB, youngBytes: 0 });
    expect(b.floor).toBe(0);
    expect(b.limit).toBe(32 * MB);
  });
});

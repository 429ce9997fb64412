/**
 * Vitest glue for the pair fixture of lab/pair.ts: `usePair()` in a describe block sets the LAN up once
 * (a failed requirement or setup makes EVERY test of the suite fail with the reason), stops every
 * tracked process after each test (printing what they did when the test failed), then runs `reset`,
 * and deletes the lab in afterAll, also after a failure.
 */
import { afterAll, afterEach } from 'vitest';

import { LabPair, type PairOptions } from '../../lab/pair.js';
import { setupOrFail } from './netns.js';

export { LabPair, type PairOptions } from '../../lab/pair.js';

export interface UsePairOptions extends PairOptions {
  /** The machine checks (requireNetnsRoot, requireKeepalived, ...): they throw with what is missing. */
  require: () => unknown;
  /** After the LAN exists: extra addresses, sysctls. */
  setup?: (pair: LabPair) => Promise<void>;
  /** After each test, once its processes are stopped: undo what a test may leave (VIPs, links, firewall rules). */
  reset?: (pair: LabPair) => Promise<void>;
  /** After the lab is gone (a summary line). */
  finally?: () => void;
}

export function usePair(opts: UsePairOptions): LabPair {
  const pair = new LabPair(opts);
  let ready = false;
  setupOrFail(async () => {
    opts.require();
    await pair.setup();
    await opts.setup?.(pair);
    ready = true;
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') for (const d of pair.describe()) console.log(d);
    await pair.stopAll();
    if (ready) await opts.reset?.(pair);
  });
  afterAll(async () => {
    try {
      await pair.dispose();
    } finally {
      opts.finally?.();
    }
  });
  return pair;
}

/**
 * Vitest glue for the network-namespace lab. The lab itself (namespaces, processes, waits, the
 * machine checks) lives in `lab/` and is shared with the demo and the benchmarks; it is
 * re-exported here under the names the tests use.
 *
 * `requireNetnsRoot()` / `requireTshark()` / `requireNativeAddon()` throw (they never skip); call
 * them inside `setupOrFail()` so every test of the suite FAILS with the reason. Call
 * `lab.cleanup()` in afterAll / finally: namespaces are deleted even when a test fails.
 */
import { beforeAll, beforeEach } from 'vitest';

export { NetnsLab, type Capture } from '../../lab/netns.js';
export { ChildProc as NsProcess, REPO_ROOT, run, type RunResult } from '../../lab/process.js';
export { requireNativeAddon, requireNetnsRoot, requireTshark } from '../../lab/require.js';

/**
 * Run `setup` once for the suite (like beforeAll), but if it throws (not root, no `ip netns`, no
 * tshark, addon not built, ...) make EVERY test in the suite fail with that error. A throwing
 * beforeAll alone would only mark the tests as skipped.
 */
export function setupOrFail(setup: () => Promise<void> | void): void {
  let error: unknown;
  beforeAll(async () => {
    try {
      await setup();
    } catch (err) {
      error = err;
    }
  });
  beforeEach(() => {
    if (error !== undefined) throw error;
  });
}

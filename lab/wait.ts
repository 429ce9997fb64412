/**
 * Bounded waiting, shared by the tests, the demo, the benchmarks and the QEMU guest agents.
 *
 * Every wait has a time limit and says what it waited for when it gives up. The elapsed time is
 * returned for reports and benchmarks; tests assert on states and order, never on it.
 */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A wait that ran out of time. `what` says what was awaited (and, if asked, the last error). */
export class WaitTimeout extends Error {
  override name = 'WaitTimeout';
}

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Poll period (default 10 ms). */
  everyMs?: number;
  /**
   * A condition that throws: `false` (default) passes the error on at once; `true` treats it as
   * "not yet" and names the last error in the timeout message.
   */
  retryErrors?: boolean;
}

type Cond<T> = () => T | undefined | null | false | Promise<T | undefined | null | false>;

/**
 * Poll `cond` until it returns a value (anything but undefined, null or false). Resolves with the
 * value and the elapsed milliseconds; rejects with a WaitTimeout naming `what` after `timeoutMs`.
 */
export async function waitUntil<T>(what: string | (() => string), cond: Cond<T>, opts: WaitOptions = {}): Promise<{ value: T; ms: number }> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const everyMs = opts.everyMs ?? 10;
  const t0 = performance.now();
  let lastError = '';
  for (;;) {
    try {
      const v = await cond();
      if (v !== undefined && v !== null && v !== false) return { value: v, ms: performance.now() - t0 };
    } catch (e) {
      if (!opts.retryErrors) throw e;
      lastError = (e as Error).message;
    }
    if (performance.now() - t0 > timeoutMs) {
      const text = typeof what === 'string' ? what : what();
      throw new WaitTimeout(`timed out after ${timeoutMs} ms waiting for ${text}${lastError ? ` (last error: ${lastError})` : ''}`);
    }
    await sleep(everyMs);
  }
}

/** `waitUntil` for a yes/no condition; resolves with the elapsed milliseconds. */
export async function waitFor(what: string | (() => string), cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 10): Promise<number> {
  return (await waitUntil(what, cond, { timeoutMs, everyMs })).ms;
}

/** Poll `cond` for at most `timeoutMs`; the elapsed milliseconds when it held, undefined if it never did. */
export async function pollFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 10): Promise<number | undefined> {
  try {
    return await waitFor('a condition', cond, timeoutMs, everyMs);
  } catch (e) {
    if (e instanceof WaitTimeout) return undefined;
    throw e;
  }
}

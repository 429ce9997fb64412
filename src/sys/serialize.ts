// One run at a time, and a call during a run queues exactly one more: for work whose latest
// outcome is all that matters (a reload reads the file as it is when it starts), so a burst of
// requests never runs in parallel nor piles up.

/** `run`, serialized: calls while it runs share one follow-up run (they all get its result). */
export function serializeCoalescing<T>(run: () => Promise<T>, onQueued?: () => void): () => Promise<T> {
  let current: Promise<T> | undefined;
  let queued: Promise<T> | undefined;
  const call = (): Promise<T> => {
    if (!current) {
      const p = (async () => run())();
      current = p.finally(() => (current = undefined));
      return current;
    }
    if (!queued) {
      onQueued?.();
      // runs after `current` settled (its finally cleared it), whatever its outcome
      queued = current.then(
        () => undefined,
        () => undefined,
      ).then(() => {
        queued = undefined;
        return call();
      });
    }
    return queued;
  };
  return call;
}

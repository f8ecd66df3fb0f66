/**
 * An in-process lock per key: work for one key runs one at a time, in arrival order; work for
 * different keys runs freely. The worker locks on the resolved contact id, because two FIFO
 * message groups (contactId `7` and externalKey `shopify:…:42`) can name the same contact.
 * Across invocations the contact lease on the state table (lib/aws/state-store.ts) does the same.
 */
export interface KeyedLock {
  /** Runs `work` once every earlier `run` with the same key has settled. */
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
}

export function createKeyedLock(): KeyedLock {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run(key, work) {
      const previous = tails.get(key);
      // A free key starts at once (no hop through a settled promise); a busy one after the last.
      const result = previous === undefined ? startNow(work) : previous.then(work, work);
      const tail = result.then(
        () => undefined,
        () => undefined,
      );
      tails.set(key, tail);
      // Forget the key when nothing else queued behind this work, so the map does not grow.
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
  };
}

function startNow<T>(work: () => Promise<T>): Promise<T> {
  try {
    return work();
  } catch (error) {
    return Promise.reject(error);
  }
}
